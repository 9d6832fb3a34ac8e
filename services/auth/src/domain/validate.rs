//! Rules for what people type: email addresses, usernames, passwords, phone numbers, time zones.

use stride_kit::Violations;

use super::breached;

/// An address longer than this is refused anywhere (and not even looked up at login).
pub const MAX_EMAIL_CHARS: usize = 254;

pub const EMAIL_RULE: &str = "must be an email address of 3 to 254 characters";
pub const USERNAME_RULE: &str = "must be 3 to 32 characters of letters, digits, '_', '.' or '-'";
pub const PHONE_RULE: &str = "must be a phone number in international form, e.g. +4915112345678";

/// Emails are compared trimmed and lowercased everywhere.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// An address auth accepts: one that can be mailed (`stride_notify::valid_address`, the same
/// check the mailer makes), of 3 to 254 characters, without whitespace, one `@`, and a dotted
/// domain (so `a@localhost` and IP literals are refused).
pub fn valid_email(email: &str) -> bool {
    let n = email.chars().count();
    if !(3..=MAX_EMAIL_CHARS).contains(&n) || email.chars().any(char::is_whitespace) {
        return false;
    }
    let mut parts = email.split('@');
    let shape = match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        _ => false,
    };
    shape && stride_notify::valid_address(email)
}

pub fn valid_username(username: &str) -> bool {
    (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// 8 to 128 characters (not bytes).
pub fn valid_password(password: &str) -> bool {
    (8..=128).contains(&password.chars().count())
}

/// Whether a login attempt is worth a database lookup: it bounds the work an unauthenticated
/// caller can ask for before anything is hashed (the answer is the same either way). An address
/// with a NUL or another control character was never accepted at sign-up, and PostgreSQL refuses
/// a NUL in text: it is not looked up.
pub fn plausible_login(email: &str, password: &str) -> bool {
    email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(char::is_control)
        && valid_password(password)
}

/// Adds a violation on `field` unless `email` (already normalised) is acceptable.
pub fn check_email(v: &mut Violations, field: &str, email: &str) {
    v.when(!valid_email(email), field, EMAIL_RULE);
}

/// For an address that names an existing account (it was checked when stored): "is required" when
/// empty, else the same rule as [`check_email`], so nothing that cannot match (a NUL, control
/// characters, an oversized string) reaches the database.
pub fn check_lookup_email(v: &mut Violations, field: &str, email: &str) {
    if email.is_empty() {
        v.add(field, "is required");
    } else {
        check_email(v, field, email);
    }
}

pub fn check_username(v: &mut Violations, field: &str, username: &str) {
    v.when(!valid_username(username), field, USERNAME_RULE);
}

/// Length, then the bundled breached list: the rules every new password meets.
pub fn check_new_password(v: &mut Violations, field: &str, password: &str) {
    if !valid_password(password) {
        v.add(field, "must be 8 to 128 characters");
    } else if breached::is_common(password) {
        v.add(
            field,
            "is one of the most common passwords found in breaches; choose another",
        );
    }
}

/// The request's IANA zone, UTC when empty; a violation when unknown.
pub fn timezone_or_utc(v: &mut Violations, raw: &str) -> String {
    let tz = if raw.is_empty() { "UTC" } else { raw };
    v.when(
        !stride_kit::convert::is_valid_timezone(tz),
        "timezone",
        "must be an IANA time zone such as Europe/Paris",
    );
    tz.to_owned()
}

/// Drops the separators people type inside phone numbers (spaces, dashes, parentheses).
pub fn normalize_phone(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect()
}

/// E.164: a plus, a non-zero digit, 7 to 15 digits in all.
pub fn valid_phone(p: &str) -> bool {
    let Some(digits) = p.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rules() {
        assert!(valid_email("a@b.co"));
        assert!(valid_email(&normalize_email("  Ann@Example.COM ")));
        assert!(!valid_email("a@bco"));
        assert!(!valid_email("a@@b.co"));
        assert!(!valid_email("@b.co"));
        assert!(!valid_email("a b@c.de"));
        assert!(!valid_email(&format!("{}@b.co", "a".repeat(250))));
        assert!(valid_username("ann.lee-2_x"));
        assert!(!valid_username("an"));
        assert!(!valid_username("ann lee"));
        assert!(!valid_username(&"a".repeat(33)));
        assert!(valid_password("12345678"));
        // Characters, not bytes: 8 two-byte characters are enough, 7 are not.
        assert!(valid_password(&"é".repeat(8)));
        assert!(!valid_password(&"é".repeat(7)));
        assert!(!valid_password(&"x".repeat(129)));
    }

    #[test]
    fn emails_must_be_mailable() {
        // Passed the old hand-written check, but no mail could ever be sent to them.
        assert!(!valid_email("a<b@x.y"));
        assert!(!valid_email("a>b@x.y"));
        assert!(!valid_email("a,b@x.y"));
        assert!(!valid_email("\"ab\"@x.y"));
        assert!(!valid_email("a\u{7f}b@x.y"));
        assert!(!valid_email("a@[127.0.0.1]"));
        // L5: a NUL (PostgreSQL refuses it in text) never reaches the database.
        assert!(!valid_email("a\0@b.co"));
        assert!(valid_email("ann.lee+stride@example.com"));
        assert!(valid_email("o'brien@example.ie"));
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("  Ann@Example.COM \t"), "ann@example.com");
        assert_eq!(normalize_email("ÅSA@x.se"), "åsa@x.se");
    }

    #[test]
    fn email_domain_needs_an_inner_dot() {
        assert!(!valid_email("a@.bc"));
        assert!(!valid_email("a@bc."));
        assert!(valid_email("a@b.c.d"));
    }

    #[test]
    fn emails_are_bounded() {
        // 254 characters in all is fine, 255 is not (labels of at most 63, a local part of at
        // most 64: what mail servers take).
        let local = "a".repeat(64);
        let domain = |last: usize| {
            format!(
                "{}.{}.{}.co",
                "b".repeat(61),
                "c".repeat(61),
                "d".repeat(last)
            )
        };
        let longest = format!("{local}@{}", domain(62));
        assert_eq!(longest.chars().count(), 254);
        assert!(valid_email(&longest));
        assert!(!valid_email(&format!("{local}@{}", domain(63))));
        // A local part over 64 characters cannot be mailed.
        assert!(!valid_email(&format!("{}@b.co", "a".repeat(65))));
    }

    #[test]
    fn looked_up_emails_are_required_and_well_formed() {
        let names = |email: &str| {
            let mut v = Violations::new();
            check_lookup_email(&mut v, "email", email);
            v.check().err().map(|e| format!("{e:?}"))
        };
        assert_eq!(names("a@b.co"), None);
        for bad in [
            "",
            "a\u{0}@b.co",
            "a\u{1}@b.co",
            "a@b.co\n",
            &"a".repeat(100 * 1024),
        ] {
            let err = names(bad).expect(bad);
            assert!(err.contains("email"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn login_lookups_are_bounded() {
        assert!(plausible_login("a@b.co", "12345678"));
        assert!(!plausible_login("a@b.co", "1234567"));
        assert!(!plausible_login(&"a".repeat(255), "12345678"));
        // Not validated as an address: an odd but short email is still looked up.
        assert!(plausible_login("no-at-sign", "12345678"));
        // Never an account's address, and a NUL would reach PostgreSQL as an error.
        assert!(!plausible_login("a\u{0}@b.co", "12345678"));
        assert!(!plausible_login("a\n@b.co", "12345678"));
    }

    #[test]
    fn new_passwords_are_checked_for_length_then_the_breached_list() {
        let mut v = Violations::new();
        check_new_password(&mut v, "password", "short");
        check_new_password(&mut v, "new_password", "password1");
        check_new_password(&mut v, "other", "correct horse battery staple");
        let err = v.check().unwrap_err();
        let stride_kit::AppError::InvalidArgument(fields) = err else {
            panic!("{err:?}");
        };
        assert_eq!(fields.len(), 2, "{fields:?}");
        assert_eq!(fields[0].0, "password");
        assert!(fields[0].1.contains("8 to 128"));
        assert_eq!(fields[1].0, "new_password");
        assert!(fields[1].1.contains("breaches"));
    }

    #[test]
    fn timezones_default_to_utc_and_unknown_ones_are_named() {
        let mut v = Violations::new();
        assert_eq!(timezone_or_utc(&mut v, ""), "UTC");
        assert_eq!(timezone_or_utc(&mut v, "Europe/Paris"), "Europe/Paris");
        assert!(v.is_empty());
        timezone_or_utc(&mut v, "Mars/Olympus");
        assert!(!v.is_empty());
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert!(valid_phone("+4915112345678"));
        assert!(valid_phone("+12025550123"));
        assert!(!valid_phone("4915112345678"));
        assert!(!valid_phone("+0123456789"));
        assert!(!valid_phone("+12"));
        assert!(!valid_phone("+1202555012a"));
        assert!(!valid_phone("+1234567890123456"));
        assert_eq!(normalize_phone("+49 (151) 1234-5678"), "+4915112345678");
    }
}
