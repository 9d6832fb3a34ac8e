//! Profile rules: what an update may change (field masks over nested groups, every value
//! bounded), what a new profile starts with, onboarding, activation, and how a guest's profile
//! fills the account it is merged into. Pure: no database, no transport.

pub mod background;
mod fields;

pub use fields::*;

pub const DISPLAY_NAME_MAX: usize = 64;

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
        assert_eq!((c, username), (Changes::default(), None));
    }
}
