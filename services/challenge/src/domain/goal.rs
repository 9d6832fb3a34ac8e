//! What each goal type counts. Every input (a completed session, a task, a reflection, a
//! workout, a routine run, a lesson) becomes an [`Activity`]: a kind, the user's local date, an
//! amount, the id of the fact that caused it and whether it reverses that fact. A goal turns an
//! activity into a contribution (or ignores it), and the participant's progress is computed
//! from the contributions that stand (see [`progress`]).
//!
//! Idempotence and corrections are by cause: the same cause counted twice is one contribution, a
//! correction replaces its amount, a reversal cancels it for good (docs/challenges.md).

use time::{Date, Duration};

use super::challenge::GoalKind;

/// What happened, as far as goals care: built by the event consumers (`events.rs`) from
/// sessions, tasks, reflections, workout logs, routine sessions and lessons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityKind {
    /// A completed timed session that counts (activity-session says whether it met its
    /// minimum); `kind` is "focus", "break", "workout" or "study".
    Session {
        kind: String,
        minutes: i32,
    },
    TaskCompleted,
    /// A shutdown reflection, submitted at `minute_of_day` local time (for the stats).
    ShutdownReflection {
        minute_of_day: i32,
    },
    WorkoutLogged,
    RoutineCompleted {
        routine_id: uuid::Uuid,
    },
    LessonCompleted,
}

/// One fact about a user, ready to be counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub kind: ActivityKind,
    /// The user's local date of the fact: the window is checked on it.
    pub local_date: Date,
    /// Names the fact across deliveries and corrections, e.g. `session:<id>`, `task:<id>`.
    pub cause: String,
    /// The fact was undone (a task reopened or deleted, a log deleted): take its count back.
    pub reversal: bool,
}

/// The goal of a challenge: its kind and what narrows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goal {
    pub kind: GoalKind,
    /// For session and minute goals.
    pub activity_kind: String,
    /// For routine goals: the routine counted; any when none.
    pub routine_id: Option<uuid::Uuid>,
}

/// What an activity does to a participation of a goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Set the cause's contribution to this amount (≥ 0; a correction replaces it).
    Count(i32),
    /// Cancel the cause's contribution for good.
    Reverse,
}

impl Goal {
    /// The contribution of `a` to this goal, or none when the goal does not count it. A
    /// reversal of a fact the goal counts cancels it.
    pub fn effect(&self, a: &Activity) -> Option<Effect> {
        let amount = match (&self.kind, &a.kind) {
            (GoalKind::SessionsCompleted, ActivityKind::Session { kind, .. })
                if *kind == self.activity_kind =>
            {
                1
            }
            (GoalKind::Minutes, ActivityKind::Session { kind, minutes })
                if *kind == self.activity_kind =>
            {
                (*minutes).max(0)
            }
            (GoalKind::TasksCompleted, ActivityKind::TaskCompleted)
            | (GoalKind::ShutdownReflections, ActivityKind::ShutdownReflection { .. })
            | (GoalKind::WorkoutsLogged, ActivityKind::WorkoutLogged)
            | (GoalKind::LessonsCompleted, ActivityKind::LessonCompleted) => 1,
            (GoalKind::RoutinesCompleted, ActivityKind::RoutineCompleted { routine_id })
                if self.routine_id.is_none_or(|r| r == *routine_id) =>
            {
                1
            }
            // Any counting activity marks its day.
            (GoalKind::DaysInARow, _) => 1,
            _ => return None,
        };
        Some(if a.reversal {
            Effect::Reverse
        } else {
            Effect::Count(amount)
        })
    }
}

/// A contribution that stands: its local date and amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub local_date: Date,
    pub amount: i32,
}

/// A participant's progress in a window from the contributions that stand: their sum, or for
/// days in a row the longest run of consecutive local days with a positive amount.
pub fn progress(kind: GoalKind, contributions: &[Standing]) -> i32 {
    if kind != GoalKind::DaysInARow {
        let sum: i64 = contributions.iter().map(|c| i64::from(c.amount)).sum();
        return i32::try_from(sum).unwrap_or(i32::MAX);
    }
    let mut days: Vec<Date> = contributions
        .iter()
        .filter(|c| c.amount > 0)
        .map(|c| c.local_date)
        .collect();
    days.sort_unstable();
    days.dedup();
    longest_run(&days)
}

/// The longest run of consecutive dates in sorted, distinct `days`.
fn longest_run(days: &[Date]) -> i32 {
    let (mut best, mut run) = (0, 0);
    let mut prev: Option<Date> = None;
    for &d in days {
        run = if prev.is_some_and(|p| p + Duration::days(1) == d) {
            run + 1
        } else {
            1
        };
        best = best.max(run);
        prev = Some(d);
    }
    best
}

/// A participant's standing in one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    NotStarted,
    InProgress,
    Completed,
}

/// Completed once the window was completed (and paid), even if a later correction lowered the
/// count: an award is never taken back (docs/challenges.md).
pub fn status(current: i32, completed: bool) -> Status {
    if completed {
        Status::Completed
    } else if current > 0 {
        Status::InProgress
    } else {
        Status::NotStarted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    use uuid::Uuid;

    const DAY: Date = date!(2026 - 11 - 18);

    fn goal(kind: GoalKind) -> Goal {
        Goal {
            kind,
            activity_kind: if kind.needs_activity_kind() {
                "focus".into()
            } else {
                String::new()
            },
            routine_id: None,
        }
    }

    fn act(kind: ActivityKind) -> Activity {
        Activity {
            kind,
            local_date: DAY,
            cause: "x:1".into(),
            reversal: false,
        }
    }

    fn session(kind: &str, minutes: i32) -> ActivityKind {
        ActivityKind::Session {
            kind: kind.into(),
            minutes,
        }
    }

    const ROUTINE: Uuid = Uuid::from_u128(7);

    /// One of each kind of activity, and what each goal (with a focus kind, any routine) makes of it.
    fn every_activity() -> Vec<ActivityKind> {
        vec![
            session("focus", 25),
            session("break", 5),
            ActivityKind::TaskCompleted,
            ActivityKind::ShutdownReflection {
                minute_of_day: 1050,
            },
            ActivityKind::WorkoutLogged,
            ActivityKind::RoutineCompleted {
                routine_id: ROUTINE,
            },
            ActivityKind::LessonCompleted,
        ]
    }

    fn amounts(kind: GoalKind) -> Vec<Option<Effect>> {
        let g = goal(kind);
        every_activity()
            .into_iter()
            .map(|k| g.effect(&act(k)))
            .collect()
    }

    const C1: Option<Effect> = Some(Effect::Count(1));

    #[test]
    fn each_goal_advances_only_from_its_own_inputs() {
        use GoalKind::*;
        assert_eq!(
            amounts(SessionsCompleted),
            [C1, None, None, None, None, None, None]
        );
        assert_eq!(
            amounts(Minutes),
            [Some(Effect::Count(25)), None, None, None, None, None, None]
        );
        assert_eq!(
            amounts(TasksCompleted),
            [None, None, C1, None, None, None, None]
        );
        assert_eq!(
            amounts(ShutdownReflections),
            [None, None, None, C1, None, None, None]
        );
        assert_eq!(
            amounts(WorkoutsLogged),
            [None, None, None, None, C1, None, None]
        );
        assert_eq!(
            amounts(RoutinesCompleted),
            [None, None, None, None, None, C1, None]
        );
        assert_eq!(
            amounts(LessonsCompleted),
            [None, None, None, None, None, None, C1]
        );
        // Every counting activity marks a day.
        assert_eq!(amounts(DaysInARow), [C1; 7]);
    }

    #[test]
    fn a_routine_goal_with_a_routine_counts_only_that_one() {
        let g = Goal {
            routine_id: Some(ROUTINE),
            ..goal(GoalKind::RoutinesCompleted)
        };
        let run = |routine_id| g.effect(&act(ActivityKind::RoutineCompleted { routine_id }));
        assert_eq!(run(ROUTINE), C1);
        assert_eq!(run(Uuid::from_u128(8)), None);
    }

    #[test]
    fn a_session_goal_counts_only_its_activity_kind() {
        let g = Goal {
            activity_kind: "break".into(),
            ..goal(GoalKind::SessionsCompleted)
        };
        assert_eq!(g.effect(&act(session("break", 5))), C1);
        assert_eq!(g.effect(&act(session("focus", 25))), None);
        // Minutes never go negative, whatever a producer sends.
        let m = goal(GoalKind::Minutes);
        assert_eq!(m.effect(&act(session("focus", -3))), Some(Effect::Count(0)));
    }

    #[test]
    fn a_reversal_cancels_what_the_goal_counted_and_nothing_else() {
        let mut a = act(ActivityKind::TaskCompleted);
        a.reversal = true;
        assert_eq!(
            goal(GoalKind::TasksCompleted).effect(&a),
            Some(Effect::Reverse)
        );
        assert_eq!(goal(GoalKind::DaysInARow).effect(&a), Some(Effect::Reverse));
        assert_eq!(goal(GoalKind::WorkoutsLogged).effect(&a), None);
    }

    fn s(local_date: Date, amount: i32) -> Standing {
        Standing { local_date, amount }
    }

    #[test]
    fn progress_sums_contributions_and_a_negative_correction_lowers_it() {
        let c = [s(DAY, 25), s(DAY, 50), s(DAY, 0)];
        assert_eq!(progress(GoalKind::Minutes, &c), 75);
        assert_eq!(progress(GoalKind::Minutes, &[]), 0);
        // Nothing overflows.
        let big = [s(DAY, i32::MAX), s(DAY, i32::MAX)];
        assert_eq!(progress(GoalKind::Minutes, &big), i32::MAX);
    }

    #[test]
    fn days_in_a_row_is_the_longest_run_of_consecutive_local_days() {
        let d = |n| date!(2026 - 11 - 01) + Duration::days(n);
        // Days 0, 1, 2 (twice), gap, 4, 5, 6, 7.
        let c = [
            s(d(2), 1),
            s(d(0), 1),
            s(d(1), 1),
            s(d(2), 1),
            s(d(4), 1),
            s(d(5), 1),
            s(d(6), 1),
            s(d(7), 1),
        ];
        assert_eq!(progress(GoalKind::DaysInARow, &c), 4);
        // A day whose only contribution was corrected to nothing breaks the run.
        let c = [s(d(0), 1), s(d(1), 0), s(d(2), 1)];
        assert_eq!(progress(GoalKind::DaysInARow, &c), 1);
        assert_eq!(progress(GoalKind::DaysInARow, &[]), 0);
        // Across a month end.
        let c = [s(date!(2026 - 11 - 30), 1), s(date!(2026 - 12 - 01), 1)];
        assert_eq!(progress(GoalKind::DaysInARow, &c), 2);
    }

    #[test]
    fn status_is_not_started_in_progress_or_completed_for_good() {
        assert_eq!(status(0, false), Status::NotStarted);
        assert_eq!(status(2, false), Status::InProgress);
        assert_eq!(status(3, true), Status::Completed);
        // A correction after completion keeps the completion (and its points).
        assert_eq!(status(1, true), Status::Completed);
    }
}
