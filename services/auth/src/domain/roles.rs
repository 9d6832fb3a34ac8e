//! Roles carried in access tokens.

use stride_kit::Violations;

pub const USER: &str = "user";
pub const ADMIN: &str = "admin";
pub const ROLES: [&str; 2] = [USER, ADMIN];

/// What a new account starts with.
pub fn initial() -> Vec<String> {
    vec![USER.into()]
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
