//! What a user did, as rewards see it, and the XP and level rules (docs/rewards.md).
//!
//! Every event that can earn something becomes an [`Activity`]: a kind, the local date it
//! happened on, an amount (minutes for a session), the id of its cause (a session, a task, …)
//! and whether it reverses an earlier one (a task reopened, a log deleted). Adding an event is a
//! `From`-like mapping to an `Activity`; the rules below never see events.

use time::Date;

/// The kinds of activity rewards count. The string form is what `reward_activity.kind` stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A completed session that counts, by its activity kind.
    FocusSession,
    BreakSession,
    WorkoutSession,
    StudySession,
    /// A session of any other kind (still a session: first-session, streaks).
    OtherSession,
    TaskCompleted,
    ReflectionSubmitted,
    WorkoutLogged,
    LessonCompleted,
    RoutineCompleted,
    ChallengeCompleted,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::FocusSession,
        Kind::BreakSession,
        Kind::WorkoutSession,
        Kind::StudySession,
        Kind::OtherSession,
        Kind::TaskCompleted,
        Kind::ReflectionSubmitted,
        Kind::WorkoutLogged,
        Kind::LessonCompleted,
        Kind::RoutineCompleted,
        Kind::ChallengeCompleted,
    ];

    /// A completed session's kind from its `activity_kind`.
    pub fn session(activity_kind: &str) -> Self {
        match activity_kind {
            "focus" => Self::FocusSession,
            "break" => Self::BreakSession,
            "workout" => Self::WorkoutSession,
            "study" => Self::StudySession,
            _ => Self::OtherSession,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FocusSession => "session:focus",
            Self::BreakSession => "session:break",
            Self::WorkoutSession => "session:workout",
            Self::StudySession => "session:study",
            Self::OtherSession => "session:other",
            Self::TaskCompleted => "task",
            Self::ReflectionSubmitted => "reflection",
            Self::WorkoutLogged => "workout_log",
            Self::LessonCompleted => "lesson",
            Self::RoutineCompleted => "routine",
            Self::ChallengeCompleted => "challenge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_session(self) -> bool {
        matches!(
            self,
            Self::FocusSession
                | Self::BreakSession
                | Self::WorkoutSession
                | Self::StudySession
                | Self::OtherSession
        )
    }

    /// Whether it keeps a streak alive: anything the user did themselves (a break alone does
    /// not, and a challenge completion is the result of other activity, already counted).
    pub fn keeps_streak(self) -> bool {
        !matches!(self, Self::BreakSession | Self::ChallengeCompleted)
    }
}

/// One thing a user did (or took back), the input of every reward rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub kind: Kind,
    /// The local date it happened on, in the user's zone at the time.
    pub local_date: Date,
    /// Minutes for a session; 0 when the kind has no amount.
    pub amount: i64,
    /// The stable id of what caused it ("session:<id>", "task:<id>", …): counted once.
    pub cause: String,
    /// True when it takes back the activity of the same cause (corrections).
    pub reversal: bool,
}

/// Most XP one session earns (two hours' worth), so a timer left running is not a jackpot.
pub const MAX_SESSION_XP: i64 = 120;

/// The XP an activity earns. Sessions: one per full minute, at most [`MAX_SESSION_XP`]; breaks
/// earn none (rest is welcome, not farmed). Fixed amounts for the rest (docs/rewards.md).
pub fn xp_for(kind: Kind, amount: i64) -> i64 {
    match kind {
        Kind::BreakSession => 0,
        k if k.is_session() => amount.clamp(0, MAX_SESSION_XP),
        Kind::TaskCompleted => 5,
        Kind::ReflectionSubmitted => 10,
        Kind::WorkoutLogged => 15,
        Kind::LessonCompleted => 20,
        Kind::RoutineCompleted => 15,
        Kind::ChallengeCompleted => 25,
        _ => 0,
    }
}

/// Highest level: far beyond any real total, it only bounds the arithmetic.
pub const MAX_LEVEL: i64 = 10_000;

/// The XP total at which `level` is reached: 50·L·(L−1). Level 1 at 0, 2 at 100, 3 at 300,
/// 4 at 600: each level costs 100 XP more than the one before (100·L to go from L to L+1).
pub fn xp_for_level(level: i64) -> i64 {
    let l = level.clamp(1, MAX_LEVEL);
    50 * l * (l - 1)
}

/// The level of an XP total: the highest L with `xp_for_level(L) <= xp` (1 for 0 or less).
pub fn level_of(xp: i64) -> i64 {
    if xp <= 0 {
        return 1;
    }
    // Solve 50·L·(L−1) <= xp from the float estimate, then correct it exactly.
    let mut l = ((1.0 + (1.0 + 8.0 * xp as f64 / 100.0).sqrt()) / 2.0) as i64;
    l = l.clamp(1, MAX_LEVEL);
    while l > 1 && xp_for_level(l) > xp {
        l -= 1;
    }
    while l < MAX_LEVEL && xp_for_level(l + 1) <= xp {
        l += 1;
    }
    l
}

/// Where an XP total stands: its level, the XP into it and the XP the level takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelProgress {
    pub level: i64,
    pub xp_into_level: i64,
    pub xp_for_next: i64,
}

pub fn progress(xp: i64) -> LevelProgress {
    let level = level_of(xp);
    let floor = xp_for_level(level);
    LevelProgress {
        level,
        xp_into_level: xp.max(0) - floor,
        xp_for_next: xp_for_level(level + 1) - floor,
    }
}

/// The levels reached by going from `before` to `after` XP, lowest first (each publishes
/// `level.reached.v1`).
pub fn levels_reached(before: i64, after: i64) -> std::ops::RangeInclusive<i64> {
    (level_of(before) + 1)..=level_of(after)
}

/// The current streak: days in a row with activity, ending on `today` or the day before
/// (today's activity may still come), over distinct active `days` in any order.
pub fn streak(days: &[Date], today: Date) -> u32 {
    let mut sorted: Vec<Date> = days.iter().copied().filter(|d| *d <= today).collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    let mut it = sorted.into_iter();
    let Some(first) = it.next() else { return 0 };
    if today.previous_day() != Some(first) && first != today {
        return 0;
    }
    let mut n = 1;
    let mut last = first;
    for d in it {
        if last.previous_day() == Some(d) {
            n += 1;
            last = d;
        } else {
            break;
        }
    }
    n
}

/// The longest run of consecutive days among `days`.
pub fn best_streak(days: &[Date]) -> u32 {
    let mut sorted: Vec<Date> = days.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (mut best, mut run) = (0, 0);
    let mut prev: Option<Date> = None;
    for d in sorted {
        run = match prev {
            Some(p) if p.next_day() == Some(d) => run + 1,
            _ => 1,
        };
        best = best.max(run);
        prev = Some(d);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_level_curve_costs_100_more_xp_per_level() {
        assert_eq!(xp_for_level(1), 0);
        assert_eq!(xp_for_level(2), 100);
        assert_eq!(xp_for_level(3), 300);
        assert_eq!(xp_for_level(4), 600);
        assert_eq!(xp_for_level(10), 4_500);
        for l in 1..200 {
            assert_eq!(xp_for_level(l + 1) - xp_for_level(l), 100 * l);
        }
    }

    #[test]
    fn level_of_is_exact_at_every_boundary() {
        assert_eq!(level_of(-5), 1);
        assert_eq!(level_of(0), 1);
        assert_eq!(level_of(99), 1);
        assert_eq!(level_of(100), 2);
        assert_eq!(level_of(299), 2);
        assert_eq!(level_of(300), 3);
        for l in 1..2_000 {
            assert_eq!(level_of(xp_for_level(l)), l);
            assert_eq!(level_of(xp_for_level(l) - 1), (l - 1).max(1));
        }
        assert_eq!(level_of(i64::MAX), MAX_LEVEL);
    }

    #[test]
    fn progress_tells_the_xp_into_the_level_and_what_it_takes() {
        assert_eq!(
            progress(350),
            LevelProgress {
                level: 3,
                xp_into_level: 50,
                xp_for_next: 300
            }
        );
        assert_eq!(
            progress(0),
            LevelProgress {
                level: 1,
                xp_into_level: 0,
                xp_for_next: 100
            }
        );
    }

    #[test]
    fn levels_reached_lists_every_level_crossed() {
        assert_eq!(levels_reached(90, 310).collect::<Vec<_>>(), vec![2, 3]);
        assert!(levels_reached(100, 150).next().is_none());
        assert!(levels_reached(300, 200).next().is_none());
    }

    #[test]
    fn xp_per_activity() {
        assert_eq!(xp_for(Kind::FocusSession, 25), 25);
        assert_eq!(xp_for(Kind::StudySession, 600), MAX_SESSION_XP);
        assert_eq!(xp_for(Kind::WorkoutSession, -3), 0);
        assert_eq!(xp_for(Kind::BreakSession, 15), 0);
        assert_eq!(xp_for(Kind::TaskCompleted, 0), 5);
        assert_eq!(xp_for(Kind::ReflectionSubmitted, 0), 10);
        assert_eq!(xp_for(Kind::WorkoutLogged, 0), 15);
        assert_eq!(xp_for(Kind::LessonCompleted, 0), 20);
        assert_eq!(xp_for(Kind::RoutineCompleted, 0), 15);
        assert_eq!(xp_for(Kind::ChallengeCompleted, 0), 25);
    }

    #[test]
    fn kinds_round_trip_and_sessions_map_by_activity_kind() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
        assert_eq!(Kind::session("focus"), Kind::FocusSession);
        assert_eq!(Kind::session("yoga"), Kind::OtherSession);
        assert!(Kind::OtherSession.is_session() && !Kind::TaskCompleted.is_session());
        assert!(!Kind::BreakSession.keeps_streak() && Kind::LessonCompleted.keeps_streak());
    }

    #[test]
    fn a_streak_ends_today_or_yesterday() {
        let today = date!(2026 - 11 - 26);
        let days = [
            date!(2026 - 11 - 24),
            date!(2026 - 11 - 25),
            date!(2026 - 11 - 26),
            date!(2026 - 11 - 20),
        ];
        assert_eq!(streak(&days, today), 3);
        // Nothing yet today: yesterday's run still stands.
        assert_eq!(streak(&days[..2], today), 2);
        // Last active two days ago: broken.
        assert_eq!(streak(&[date!(2026 - 11 - 24)], today), 0);
        assert_eq!(streak(&[], today), 0);
        // Duplicates and order do not matter; future days are ignored.
        let messy = [
            date!(2026 - 11 - 26),
            date!(2026 - 11 - 27),
            date!(2026 - 11 - 25),
            date!(2026 - 11 - 26),
        ];
        assert_eq!(streak(&messy, today), 2);
    }

    #[test]
    fn best_streak_is_the_longest_run_across_months() {
        let days = [
            date!(2026 - 10 - 30),
            date!(2026 - 10 - 31),
            date!(2026 - 11 - 01),
            date!(2026 - 11 - 03),
            date!(2026 - 11 - 01),
        ];
        assert_eq!(best_streak(&days), 3);
        assert_eq!(best_streak(&[]), 0);
    }
}
