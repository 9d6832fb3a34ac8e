//! Shutdown reflections (seed 001): the rating scale and what a valid reflection holds.

use stride_kit::Violations;

use super::Unknown;

pub const MAX_NOTE: usize = 2_000;
/// Items of the mindful-disconnect checklist a client may report.
pub const MAX_CHECKLIST: usize = 20;
/// History page size when the request says 0 (seed 001's `limit=30`).
pub const DEFAULT_HISTORY: usize = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rating {
    Great,
    Good,
    Okay,
    Tough,
}

impl Rating {
    pub const ALL: [Rating; 4] = [Rating::Great, Rating::Good, Rating::Okay, Rating::Tough];

    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Great => "great",
            Rating::Good => "good",
            Rating::Okay => "okay",
            Rating::Tough => "tough",
        }
    }
}

impl TryFrom<String> for Rating {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| Unknown::new("productivity rating", name))
    }
}

/// Checks a reflection's free fields, violations named `reflection.<field>`.
pub fn check(v: &mut Violations, note: &str, checklist: &[bool]) {
    v.when(
        note.chars().count() > MAX_NOTE,
        "reflection.note",
        "at most 2000 characters",
    );
    v.when(
        note.contains('\0'),
        "reflection.note",
        "must not contain NUL",
    );
    v.when(
        checklist.len() > MAX_CHECKLIST,
        "reflection.mindful_disconnect_completed",
        "at most 20 items",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_stored_by_their_name() {
        for r in Rating::ALL {
            assert_eq!(Rating::try_from(r.as_str().to_owned()).unwrap(), r);
        }
        assert!(Rating::try_from("meh".to_owned()).is_err());
    }

    #[test]
    fn long_notes_and_checklists_are_named() {
        let mut v = Violations::new();
        check(&mut v, &"é".repeat(MAX_NOTE), &[true; MAX_CHECKLIST]);
        assert!(v.is_empty());
        let mut v = Violations::new();
        check(
            &mut v,
            &"é".repeat(MAX_NOTE + 1),
            &[true; MAX_CHECKLIST + 1],
        );
        let err = format!("{:?}", v.check().unwrap_err());
        assert!(err.contains("reflection.note"), "{err}");
        assert!(
            err.contains("reflection.mindful_disconnect_completed"),
            "{err}"
        );
    }
}
