//! The activity catalog's vocabulary.

use super::Unknown;

/// What an activity is. Stored by its name (`activities.kind`, copied to `sessions.kind`) and
/// published by it as `session.completed.v1`'s `activity_kind`, which challenge and analytics
/// count by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Focus,
    Break,
    Workout,
    Study,
    Meditation,
    /// A timed block of anything else the user wants to track.
    Custom,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Focus,
        Kind::Break,
        Kind::Workout,
        Kind::Study,
        Kind::Meditation,
        Kind::Custom,
    ];

    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Focus => "focus",
            Kind::Break => "break",
            Kind::Workout => "workout",
            Kind::Study => "study",
            Kind::Meditation => "meditation",
            Kind::Custom => "custom",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl TryFrom<String> for Kind {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        Self::parse(&name).ok_or_else(|| Unknown::new("activity kind", name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stored_and_published_by_their_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(Kind::try_from(k.as_str().to_owned()).unwrap(), k);
        }
        // The names consumers count by.
        assert_eq!(
            Kind::ALL.map(Kind::as_str),
            ["focus", "break", "workout", "study", "meditation", "custom"]
        );
        assert_eq!(Kind::parse("Focus"), None);
        assert!(Kind::try_from("yoga".to_owned()).is_err());
    }
}
