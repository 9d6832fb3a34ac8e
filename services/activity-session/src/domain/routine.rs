//! Routines: a named, ordered list of activities with durations, and the presets everyone can
//! start. A routine session steps through a copy of the steps taken at its start.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use time::Duration;
use uuid::{Uuid, uuid};

/// One step: an activity of the catalog for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub activity_id: Uuid,
    pub seconds: i32,
}

/// A routine's name length, in characters.
pub const NAME_CHARS: RangeInclusive<usize> = 1..=100;
/// How many steps a routine has.
pub const STEPS: RangeInclusive<usize> = 1..=50;
/// How long one step lasts.
pub const STEP_DURATION: RangeInclusive<Duration> = Duration::seconds(10)..=Duration::hours(4);

/// Why a name is refused, as a field description.
pub fn bad_name(name: &str) -> Option<&'static str> {
    let trimmed = name.trim();
    if !NAME_CHARS.contains(&trimmed.chars().count()) {
        return Some("must be 1 to 100 characters");
    }
    if trimmed.chars().any(char::is_control) {
        return Some("must not contain control characters");
    }
    None
}

/// Why a step count is refused.
pub fn bad_step_count(n: usize) -> Option<&'static str> {
    (!STEPS.contains(&n)).then_some("must have 1 to 50 steps")
}

/// Why a step's duration is refused.
pub fn bad_step_duration(d: Duration) -> Option<&'static str> {
    (!STEP_DURATION.contains(&d)).then_some("must be between 10 seconds and 4 hours")
}

/// The planned length of a session stepping through `steps`: their sum.
pub fn total_seconds(steps: &[Step]) -> i32 {
    let total: i64 = steps.iter().map(|s| i64::from(s.seconds.max(0))).sum();
    i32::try_from(total).unwrap_or(i32::MAX)
}

/// A preset: shared, read-only, with a fixed id (so clients and databases agree).
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    pub id: Uuid,
    pub name: &'static str,
    pub steps: &'static [Step],
}

const FOCUS_25: Uuid = uuid!("a0000000-0000-4000-8000-000000000001");
const BREAK_5: Uuid = uuid!("a0000000-0000-4000-8000-000000000002");
const BREAK_15: Uuid = uuid!("a0000000-0000-4000-8000-000000000003");
const PUSHUPS: Uuid = uuid!("a0000000-0000-4000-8000-000000000005");
const SQUATS: Uuid = uuid!("a0000000-0000-4000-8000-000000000006");
const PLANK: Uuid = uuid!("a0000000-0000-4000-8000-000000000007");
const JACKS: Uuid = uuid!("a0000000-0000-4000-8000-000000000008");

const fn step(activity_id: Uuid, seconds: i32) -> Step {
    Step {
        activity_id,
        seconds,
    }
}

/// The presets, over the catalog's fixed activities (1000_init.sql).
pub const PRESETS: &[Preset] = &[
    Preset {
        id: uuid!("b0000000-0000-4000-8000-000000000001"),
        name: "Pomodoro cycle",
        steps: &[
            step(FOCUS_25, 25 * 60),
            step(BREAK_5, 5 * 60),
            step(FOCUS_25, 25 * 60),
            step(BREAK_5, 5 * 60),
            step(FOCUS_25, 25 * 60),
            step(BREAK_5, 5 * 60),
            step(FOCUS_25, 25 * 60),
            step(BREAK_15, 15 * 60),
        ],
    },
    Preset {
        id: uuid!("b0000000-0000-4000-8000-000000000002"),
        name: "Quick bodyweight circuit",
        steps: &[
            step(JACKS, 60),
            step(PUSHUPS, 60),
            step(SQUATS, 60),
            step(PLANK, 45),
            step(BREAK_5, 60),
            step(JACKS, 60),
            step(PUSHUPS, 60),
            step(SQUATS, 60),
            step(PLANK, 45),
        ],
    },
    Preset {
        id: uuid!("b0000000-0000-4000-8000-000000000003"),
        name: "Deep work block",
        steps: &[
            step(FOCUS_25, 50 * 60),
            step(BREAK_5, 10 * 60),
            step(FOCUS_25, 50 * 60),
        ],
    },
];

/// The preset with id `id`, if it is one.
pub fn preset(id: Uuid) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_steps_are_bounded() {
        assert_eq!(bad_name("Morning"), None);
        assert!(bad_name("   ").is_some());
        assert!(bad_name(&"x".repeat(101)).is_some());
        assert_eq!(bad_name(&"é".repeat(100)), None, "characters, not bytes");
        assert!(bad_name("a\u{0}b").is_some());
        assert!(bad_step_count(0).is_some());
        assert_eq!(bad_step_count(50), None);
        assert!(bad_step_count(51).is_some());
        assert!(bad_step_duration(Duration::seconds(9)).is_some());
        assert_eq!(bad_step_duration(Duration::hours(4)), None);
    }

    #[test]
    fn presets_are_valid_routines_with_distinct_ids() {
        for p in PRESETS {
            assert_eq!(bad_name(p.name), None);
            assert_eq!(bad_step_count(p.steps.len()), None);
            for s in p.steps {
                assert_eq!(bad_step_duration(Duration::seconds(s.seconds.into())), None);
            }
            assert_eq!(preset(p.id).map(|q| q.name), Some(p.name));
        }
        assert_eq!(
            total_seconds(PRESETS[0].steps),
            4 * 25 * 60 + 3 * 5 * 60 + 15 * 60
        );
    }
}
