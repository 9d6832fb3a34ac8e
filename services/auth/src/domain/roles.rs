//! Roles carried in access tokens.

use stride_kit::Violations;

pub const USER: &str = "user";
pub const ADMIN: &str = "admin";
pub const ROLES: [&str; 2] = [USER, ADMIN];

/// What a new account starts with.
pub fn initial() -> Vec<String> {
    vec![USER.into()]
}

/// Roles as the token carries them: stored roles, plus admin for a verified email that the
/// operator listed in AUTH_ADMIN_EMAILS.
pub fn effective(
    stored: &[String],
    email: Option<&str>,
    email_verified: bool,
    admin_emails: &[String],
) -> Vec<String> {
    let mut roles = stored.to_vec();
    let listed = email_verified && email.is_some_and(|e| admin_emails.iter().any(|a| a == e));
    if listed && !roles.iter().any(|r| r == ADMIN) {
        roles.push(ADMIN.into());
    }
    roles
}

/// A role assignment as stored: sorted, without duplicates; only known roles, and always "user".
pub fn assignment(v: &mut Violations, requested: &[String]) -> Vec<String> {
    let mut roles = requested.to_vec();
    roles.sort();
    roles.dedup();
    v.when(
        roles.iter().any(|r| !ROLES.contains(&r.as_str())),
        "roles",
        "may only contain \"user\" and \"admin\"",
    );
    v.when(
        !roles.iter().any(|r| r == USER),
        "roles",
        "must include \"user\"",
    );
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn listed_verified_emails_get_admin() {
        let admins = s(&["boss@x.io"]);
        let user = s(&["user"]);
        assert_eq!(
            effective(&user, Some("boss@x.io"), true, &admins),
            s(&["user", "admin"])
        );
        // Unverified, unlisted or absent emails get nothing extra.
        assert_eq!(effective(&user, Some("boss@x.io"), false, &admins), user);
        assert_eq!(effective(&user, Some("other@x.io"), true, &admins), user);
        assert_eq!(effective(&user, None, true, &admins), user);
        // An admin already stored is not doubled.
        let both = s(&["user", "admin"]);
        assert_eq!(effective(&both, Some("boss@x.io"), true, &admins), both);
    }

    #[test]
    fn assignments_are_normalised_and_checked() {
        let mut v = Violations::new();
        assert_eq!(
            assignment(&mut v, &s(&["user", "admin", "user"])),
            s(&["admin", "user"])
        );
        assert!(v.is_empty());
        let mut v = Violations::new();
        assignment(&mut v, &s(&["admin"]));
        assert!(!v.is_empty());
        let mut v = Violations::new();
        assignment(&mut v, &s(&["user", "root"]));
        assert!(!v.is_empty());
        assert_eq!(initial(), s(&["user"]));
    }
}
