//! What one event adds to (or, for a correction, takes from) the user's day: [`Figures`], a
//! vector of sums, so events apply in any order and a correction is the negated delta.

use std::ops::{Add, Neg, Sub};

use time::{Duration, OffsetDateTime};

/// The activity kind whose sessions count as focus sessions.
pub const FOCUS_KIND: &str = "focus";

macro_rules! figures {
    ($($(#[$doc:meta])* $f:ident),* $(,)?) => {
        /// One local date's figures (or a delta to them): every field is a column of
        /// `daily_rollups` of the same name.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Figures {
            $($(#[$doc])* pub $f: i64,)*
        }

        impl Figures {
            /// The columns, in field order.
            pub const COLUMNS: &[&str] = &[$(stringify!($f)),*];

            /// The fields, in [`Self::COLUMNS`] order.
            pub fn values(&self) -> Vec<i64> {
                vec![$(self.$f),*]
            }

            /// From values in [`Self::COLUMNS`] order (missing ones are zero).
            pub fn from_values(v: &[i64]) -> Self {
                let mut it = v.iter().copied();
                Self { $($f: it.next().unwrap_or(0),)* }
            }
        }

        impl Add for Figures {
            type Output = Self;
            fn add(self, o: Self) -> Self {
                Self { $($f: self.$f.saturating_add(o.$f),)* }
            }
        }

        impl Neg for Figures {
            type Output = Self;
            fn neg(self) -> Self {
                Self { $($f: self.$f.saturating_neg(),)* }
            }
        }
    };
}

figures! {
    /// Completed sessions that count, any kind.
    sessions_completed,
    focus_sessions,
    break_sessions,
    study_sessions,
    workout_sessions,
    routine_sessions,
    /// Active seconds of those sessions (pauses excluded), any kind: the "actual".
    total_seconds,
    focus_seconds,
    break_seconds,
    study_seconds,
    workout_seconds,
    routine_seconds,
    /// Planned seconds of the sessions that said their plan (planned versus actual).
    planned_seconds,
    points,
    tasks_created,
    tasks_completed,
    /// Shutdown reflections and how they were rated.
    reflections,
    rated_great,
    rated_good,
    rated_okay,
    rated_tough,
    /// Workout logs, on the date performed, and their volume in grams.
    workouts,
    workout_volume_g,
    lessons,
    lesson_minutes,
    xp,
    /// Coach evaluations and the sum of their overall scores (average = sum / count).
    evaluations,
    evaluation_score_sum,
}

impl Sub for Figures {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        self + -o
    }
}

/// The streak kinds, each with its rule for an active day (docs/analytics.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreakKind {
    /// Any counted session, logged workout or completed lesson.
    Activity,
    /// A counted focus session.
    Focus,
    /// A counted study session or a completed lesson.
    Study,
    /// A counted workout session or a logged workout.
    Workout,
    /// A shutdown reflection.
    Shutdown,
}

impl StreakKind {
    pub const ALL: [StreakKind; 5] = [
        Self::Activity,
        Self::Focus,
        Self::Study,
        Self::Workout,
        Self::Shutdown,
    ];

    /// The `active_runs.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Focus => "focus",
            Self::Study => "study",
            Self::Workout => "workout",
            Self::Shutdown => "shutdown",
        }
    }

    /// Whether a day with figures `f` is active for this kind. Sums, so a correction that
    /// takes a day's last workout away makes it inactive again.
    pub fn active(self, f: &Figures) -> bool {
        let n = match self {
            Self::Activity => f.sessions_completed + f.workouts + f.lessons,
            Self::Focus => f.focus_sessions,
            Self::Study => f.study_sessions + f.lessons,
            Self::Workout => f.workout_sessions + f.workouts,
            Self::Shutdown => f.reflections,
        };
        n > 0
    }
}

/// The kinds whose activity on a day changed from `before` to `after`: (kind, now active).
pub fn streak_changes(before: &Figures, after: &Figures) -> Vec<(StreakKind, bool)> {
    StreakKind::ALL
        .into_iter()
        .filter(|k| k.active(before) != k.active(after))
        .map(|k| (k, k.active(after)))
        .collect()
}

/// What a completed session adds to its day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub focus: bool,
    /// Never negative.
    pub seconds: i64,
}

/// A completed session of `kind`: its length is the producer's `duration` when given, else the
/// span from `start` to `end` when both are known, else zero; a negative length (a clock that
/// went backwards) counts as zero.
pub fn session(
    kind: &str,
    duration: Option<Duration>,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
) -> Session {
    let seconds = match (duration, start, end) {
        (Some(d), _, _) => d.whole_seconds(),
        (None, Some(s), Some(e)) => (e - s).whole_seconds(),
        _ => 0,
    };
    Session {
        focus: kind == FOCUS_KIND,
        seconds: seconds.max(0),
    }
}

/// The figures a counted session of `kind` adds: one session, its seconds under its kind
/// (an unknown kind counts only in the totals), its plan when given.
pub fn session_figures(kind: &str, s: Session, planned: Option<Duration>) -> Figures {
    let mut f = Figures {
        sessions_completed: 1,
        total_seconds: s.seconds,
        planned_seconds: planned.map_or(0, |p| p.whole_seconds().max(0)),
        ..Figures::default()
    };
    match kind {
        "focus" => (f.focus_sessions, f.focus_seconds) = (1, s.seconds),
        "break" => (f.break_sessions, f.break_seconds) = (1, s.seconds),
        "study" => (f.study_sessions, f.study_seconds) = (1, s.seconds),
        "workout" => (f.workout_sessions, f.workout_seconds) = (1, s.seconds),
        "routine" => (f.routine_sessions, f.routine_seconds) = (1, s.seconds),
        _ => {}
    }
    f
}

/// Points a completed challenge adds to its day (a negative award counts as none).
pub fn points(awarded: i32) -> i32 {
    awarded.max(0)
}

/// A shutdown reflection with its rating ("great", "good", "okay", "tough"; another rating
/// counts the reflection only).
pub fn reflection(rating: &str) -> Figures {
    let mut f = Figures {
        reflections: 1,
        ..Figures::default()
    };
    match rating {
        "great" => f.rated_great = 1,
        "good" => f.rated_good = 1,
        "okay" => f.rated_okay = 1,
        "tough" => f.rated_tough = 1,
        _ => {}
    }
    f
}

/// One workout log of `volume_kg` (sets × reps × weight), in whole grams; a negative or
/// non-finite volume counts as zero.
pub fn workout(volume_kg: f64) -> Figures {
    let grams = if volume_kg.is_finite() && volume_kg > 0.0 {
        // Bounded first, so the cast cannot saturate surprisingly.
        (volume_kg.min(1e12) * 1000.0).round() as i64
    } else {
        0
    };
    Figures {
        workouts: 1,
        workout_volume_g: grams,
        ..Figures::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_session_counts_the_producers_duration_first() {
        let (s, e) = (
            datetime!(2026-03-02 09:00 UTC),
            datetime!(2026-03-02 09:40 UTC),
        );
        assert_eq!(
            session("focus", Some(Duration::minutes(25)), Some(s), Some(e)),
            Session {
                focus: true,
                seconds: 25 * 60
            }
        );
        // Without a duration, the span between start and end.
        assert_eq!(session("workout", None, Some(s), Some(e)).seconds, 40 * 60);
        // Without either, nothing but the session itself.
        assert_eq!(session("break", None, Some(s), None).seconds, 0);
        assert_eq!(session("break", None, None, None).seconds, 0);
    }

    #[test]
    fn a_backwards_session_counts_zero_seconds_and_only_focus_is_focus() {
        let (s, e) = (
            datetime!(2026-03-02 09:40 UTC),
            datetime!(2026-03-02 09:00 UTC),
        );
        assert_eq!(session("focus", None, Some(s), Some(e)).seconds, 0);
        assert_eq!(
            session("focus", Some(Duration::minutes(-5)), None, None).seconds,
            0
        );
        assert!(!session("Focus", None, None, None).focus);
        assert!(!session("workout", None, None, None).focus);
    }

    #[test]
    fn negative_points_count_as_none() {
        assert_eq!(points(50), 50);
        assert_eq!(points(0), 0);
        assert_eq!(points(-10), 0);
    }

    #[test]
    fn session_figures_split_by_kind_and_keep_the_plan() {
        let s = Session {
            focus: false,
            seconds: 300,
        };
        let f = session_figures("break", s, Some(Duration::minutes(10)));
        assert_eq!(
            (f.sessions_completed, f.break_sessions, f.break_seconds),
            (1, 1, 300)
        );
        assert_eq!(
            (f.total_seconds, f.planned_seconds, f.focus_seconds),
            (300, 600, 0)
        );
        // An unknown kind counts in the totals only.
        let f = session_figures("yoga", s, None);
        assert_eq!(
            (f.sessions_completed, f.total_seconds, f.planned_seconds),
            (1, 300, 0)
        );
        assert_eq!(f.focus_sessions + f.break_sessions + f.study_sessions, 0);
    }

    #[test]
    fn a_correction_is_the_negated_delta() {
        let logged = workout(62.5 * 8.0 * 3.0);
        assert_eq!(logged.workout_volume_g, 1_500_000);
        let day = Figures::default() + logged + workout(10.0);
        assert_eq!(day - logged, workout(10.0));
        assert_eq!(workout(f64::NAN).workout_volume_g, 0);
        assert_eq!(workout(-3.0).workout_volume_g, 0);
        // Values round-trip through the column order.
        assert_eq!(Figures::from_values(&day.values()), day);
        assert_eq!(Figures::COLUMNS.len(), day.values().len());
    }

    #[test]
    fn streak_kind_rules() {
        let focus = session_figures("focus", session("focus", None, None, None), None);
        let kinds = |f: &Figures| -> Vec<StreakKind> {
            StreakKind::ALL
                .into_iter()
                .filter(|k| k.active(f))
                .collect()
        };
        assert_eq!(kinds(&focus), [StreakKind::Activity, StreakKind::Focus]);
        let lesson = Figures {
            lessons: 1,
            ..Figures::default()
        };
        assert_eq!(kinds(&lesson), [StreakKind::Activity, StreakKind::Study]);
        assert_eq!(
            kinds(&workout(1.0)),
            [StreakKind::Activity, StreakKind::Workout]
        );
        // A reflection alone is a shutdown day, not an activity day.
        assert_eq!(kinds(&reflection("good")), [StreakKind::Shutdown]);
        // A deleted workout takes the day's workout streak away again.
        let w = workout(1.0);
        assert_eq!(
            streak_changes(&w, &(w - w)),
            [(StreakKind::Activity, false), (StreakKind::Workout, false)]
        );
        assert!(streak_changes(&w, &(w + w)).is_empty());
    }
}
