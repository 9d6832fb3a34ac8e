//! Profile rules: what an update may change, what a new profile starts with, and how a guest's
//! profile fills the account it is merged into. Pure: no database, no transport.

use stride_kit::{AppResult, Violations, convert::is_valid_timezone};

pub const DISPLAY_NAME_MAX: usize = 64;
pub const LOCALES: [&str; 2] = ["en", "fr"];
/// Paths `update_mask` may name.
pub const MASK_PATHS: [&str; 3] = ["display_name", "timezone", "locale"];
/// More paths than this is not a real request.
const MAX_MASK_PATHS: usize = 16;

/// The editable fields of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub display_name: String,
    pub timezone: String,
    pub locale: String,
}

/// Fields to change; `None` keeps the stored value.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.timezone.is_none() && self.locale.is_none()
    }
}

/// Checks the mask and the values it names (field names as the API spells them). The user is
/// always the caller: a `user_id` in the request is not a field one can change.
pub fn changes(paths: &[String], wanted: &Fields) -> AppResult<Changes> {
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add(
            "update_mask",
            "name at least one field to update: display_name, timezone or locale",
        );
        return v.check().map(|()| Changes::default());
    }
    if paths.len() > MAX_MASK_PATHS {
        v.add("update_mask.paths", "too many paths");
        return v.check().map(|()| Changes::default());
    }
    for p in paths.iter().filter(|p| !MASK_PATHS.contains(&p.as_str())) {
        let shown: String = p.chars().take(64).collect();
        v.add(
            "update_mask.paths",
            &format!("unknown field {shown:?}; allowed: display_name, timezone, locale"),
        );
    }
    let named = |f: &str| paths.iter().any(|p| p == f);
    let mut c = Changes::default();
    if named("display_name") {
        let name = wanted.display_name.trim();
        let n = name.chars().count();
        let bad = n == 0 || n > DISPLAY_NAME_MAX || name.chars().any(char::is_control);
        v.when(
            bad,
            "profile.display_name",
            "must be 1 to 64 characters, without control characters",
        );
        c.display_name = Some(name.to_owned());
    }
    if named("timezone") {
        v.when(
            !is_valid_timezone(&wanted.timezone),
            "profile.timezone",
            "must be an IANA time zone, e.g. Europe/Paris",
        );
        c.timezone = Some(wanted.timezone.clone());
    }
    if named("locale") {
        v.when(
            !LOCALES.contains(&wanted.locale.as_str()),
            "profile.locale",
            "must be \"en\" or \"fr\"",
        );
        c.locale = Some(wanted.locale.clone());
    }
    v.check()?;
    Ok(c)
}

/// A display name starts as the username, bounded like one set by hand.
pub fn initial_display_name(username: &str) -> String {
    username.chars().take(DISPLAY_NAME_MAX).collect()
}

/// Only an empty field of the target is filled from the source.
fn fill(target: &str, source: &str) -> Option<String> {
    (target.trim().is_empty() && !source.trim().is_empty()).then(|| source.to_owned())
}

/// What merging guest `from` into account `into` changes: the target's fields win, empty ones
/// are filled from the source's. Returns the field changes and a username to fill, if any.
pub fn merge(
    into: &Fields,
    into_username: &str,
    from: &Fields,
    from_username: &str,
) -> (Changes, Option<String>) {
    let changes = Changes {
        display_name: fill(&into.display_name, &from.display_name),
        timezone: fill(&into.timezone, &from.timezone),
        locale: fill(&into.locale, &from.locale),
    };
    (changes, fill(into_username, from_username))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stride_kit::AppError;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::InvalidArgument(v) => v.into_iter().map(|(f, _)| f).collect(),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn mask_and_values_are_checked() {
        let p = Fields {
            display_name: "  Ann  ".into(),
            timezone: "Europe/Paris".into(),
            locale: "fr".into(),
        };
        let c = changes(&paths(&["display_name", "timezone", "locale"]), &p).unwrap();
        assert_eq!(c.display_name.as_deref(), Some("Ann"));
        assert_eq!(c.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(c.locale.as_deref(), Some("fr"));
        // Only named fields change.
        let c = changes(&paths(&["locale"]), &p).unwrap();
        assert!(c.display_name.is_none() && c.timezone.is_none());

        assert_eq!(fields(changes(&[], &p).unwrap_err()), ["update_mask"]);
        assert_eq!(
            fields(changes(&paths(&["user_id"]), &p).unwrap_err()),
            ["update_mask.paths"]
        );
        assert_eq!(
            fields(changes(&paths(&["locale"; 17]), &p).unwrap_err()),
            ["update_mask.paths"]
        );

        let bad = Fields {
            display_name: "   ".into(),
            timezone: "Mars/Olympus".into(),
            locale: "de".into(),
        };
        assert_eq!(
            fields(changes(&paths(&["display_name", "timezone", "locale"]), &bad).unwrap_err()),
            ["profile.display_name", "profile.timezone", "profile.locale"]
        );
        let control = Fields {
            display_name: "A\u{0}nn".into(),
            ..Fields::default()
        };
        assert_eq!(
            fields(changes(&paths(&["display_name"]), &control).unwrap_err()),
            ["profile.display_name"]
        );
        let long = Fields {
            display_name: "é".repeat(65),
            ..Fields::default()
        };
        assert_eq!(
            fields(changes(&paths(&["display_name"]), &long).unwrap_err()),
            ["profile.display_name"]
        );
        let max = Fields {
            display_name: "é".repeat(64),
            ..Fields::default()
        };
        assert!(changes(&paths(&["display_name"]), &max).is_ok());
    }

    #[test]
    fn a_new_profile_is_named_after_its_username_within_bounds() {
        assert_eq!(initial_display_name("ann"), "ann");
        assert_eq!(initial_display_name(&"é".repeat(70)).chars().count(), 64);
    }

    #[test]
    fn a_merge_only_fills_what_the_target_left_empty() {
        let into = Fields {
            display_name: "Ann".into(),
            timezone: " ".into(),
            locale: String::new(),
        };
        let from = Fields {
            display_name: "Guest".into(),
            timezone: "Asia/Tokyo".into(),
            locale: String::new(),
        };
        let (c, username) = merge(&into, "", &from, "guest1");
        assert_eq!(
            c,
            Changes {
                display_name: None,
                timezone: Some("Asia/Tokyo".into()),
                locale: None,
            }
        );
        assert_eq!(username.as_deref(), Some("guest1"));
        let (c, username) = merge(&from, "g", &into, "ann");
        assert!(c.is_empty() && username.is_none());
    }
}
