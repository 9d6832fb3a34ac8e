//! Leaderboards: which board a score lands on, how big an answer is, and the tie rule.
//!
//! A board is a text key: `<metric>:all`, `<metric>:week:<monday>`, `<metric>:month:<first day>`
//! (metric `points` or `xp`; the period is the one containing the *local* date the score was
//! earned on, so a user in Tokyo and one in New York each fill "this week" with their own week),
//! or `challenge:<id>:<window_start>` (progress count in one window of a challenge).
//!
//! Tie rule: rank = 1 + the number of visible users with a strictly higher score (competition
//! ranking: 1, 2, 2, 4). Users with equal scores share the rank and are listed by who reached
//! the score first (`reached_at` ascending), then by user id — a total order, so pages and
//! "around me" never shift between two reads of the same data.

use stride_kit::Violations;
use time::Date;
use uuid::Uuid;

/// Entries shown when the request asks for none in particular (`top_n` 0).
pub const DEFAULT_TOP_N: i64 = 10;
/// Most entries one request may ask for.
pub const MAX_TOP_N: i32 = 100;
/// Most entries above and below the caller one request may ask for.
pub const MAX_AROUND: i32 = 10;

/// How many top entries to show for `top_n`: 0 means the default, 1..=100 as asked, anything
/// else is a violation on `top_n`.
pub fn top_n(v: &mut Violations, top_n: i32) -> i64 {
    match top_n {
        0 => DEFAULT_TOP_N,
        1..=MAX_TOP_N => i64::from(top_n),
        _ => {
            v.add("top_n", "must be between 0 and 100");
            DEFAULT_TOP_N
        }
    }
}

/// Entries on each side of the caller for `around`: 0..=10.
pub fn around(v: &mut Violations, around: i32) -> i64 {
    if (0..=MAX_AROUND).contains(&around) {
        i64::from(around)
    } else {
        v.add("around", "must be between 0 and 10");
        0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Points,
    Xp,
}

impl Metric {
    fn as_str(self) -> &'static str {
        match self {
            Self::Points => "points",
            Self::Xp => "xp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Week,
    Month,
    AllTime,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Week, Period::Month, Period::AllTime];

    /// The first day of the period containing `day` (none for all time).
    pub fn start(self, day: Date) -> Option<Date> {
        match self {
            Self::Week => Some(stride_kit::convert::week_start(day)),
            Self::Month => Date::from_calendar_date(day.year(), day.month(), 1).ok(),
            Self::AllTime => None,
        }
    }

    /// The last day of the period containing `day` (none for all time).
    pub fn end(self, day: Date) -> Option<Date> {
        match self {
            Self::Week => self.start(day).map(|s| s + time::Duration::days(6)),
            Self::Month => {
                let last = day.month().length(day.year());
                Date::from_calendar_date(day.year(), day.month(), last).ok()
            }
            Self::AllTime => None,
        }
    }
}

/// The board of `metric` over the `period` that contains local date `day`.
pub fn board(metric: Metric, period: Period, day: Date) -> String {
    let m = metric.as_str();
    match (period, period.start(day)) {
        (Period::Week, Some(s)) => format!("{m}:week:{s}"),
        (Period::Month, Some(s)) => format!("{m}:month:{s}"),
        _ => format!("{m}:all"),
    }
}

/// Every board a score of `metric` earned on local date `day` adds to.
pub fn boards(metric: Metric, day: Date) -> [String; 3] {
    Period::ALL.map(|p| board(metric, p, day))
}

/// The board of a challenge's window.
pub fn challenge_board(challenge: Uuid, window_start: Date) -> String {
    format!("challenge:{challenge}:{window_start}")
}

/// The rank of a score that `higher` visible users beat: the tie rule in one place.
pub fn rank(higher: i64) -> i64 {
    higher + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn top_n_defaults_to_ten_and_is_bounded() {
        let mut v = Violations::new();
        assert_eq!(top_n(&mut v, 0), 10);
        assert_eq!(top_n(&mut v, 1), 1);
        assert_eq!(top_n(&mut v, 100), 100);
        assert!(v.is_empty());
        for bad in [101, -1, i32::MIN, i32::MAX] {
            let mut v = Violations::new();
            top_n(&mut v, bad);
            let err = format!("{:?}", v.check().expect_err("out of range"));
            assert!(err.contains("top_n"), "{bad}: {err}");
        }
    }

    #[test]
    fn around_is_bounded() {
        let mut v = Violations::new();
        assert_eq!(around(&mut v, 0), 0);
        assert_eq!(around(&mut v, 10), 10);
        assert!(v.is_empty());
        for bad in [11, -1] {
            let mut v = Violations::new();
            around(&mut v, bad);
            let err = format!("{:?}", v.check().expect_err("out of range"));
            assert!(err.contains("around"), "{bad}: {err}");
        }
    }

    #[test]
    fn boards_are_keyed_by_the_local_period() {
        // Sunday 2026-11-29 is in the week of Monday 2026-11-23 and in November.
        assert_eq!(
            boards(Metric::Points, date!(2026 - 11 - 29)),
            [
                "points:week:2026-11-23".to_owned(),
                "points:month:2026-11-01".to_owned(),
                "points:all".to_owned()
            ]
        );
        // Monday 2026-11-30 starts a new week, still November; 2026-12-31 is in the ISO week
        // of Monday 2026-12-28.
        assert_eq!(
            board(Metric::Xp, Period::Week, date!(2026 - 11 - 30)),
            "xp:week:2026-11-30"
        );
        assert_eq!(
            board(Metric::Xp, Period::Week, date!(2027 - 01 - 01)),
            "xp:week:2026-12-28"
        );
        assert_eq!(
            board(Metric::Xp, Period::Month, date!(2027 - 01 - 01)),
            "xp:month:2027-01-01"
        );
    }

    #[test]
    fn periods_have_their_bounds() {
        let d = date!(2028 - 02 - 10);
        assert_eq!(Period::Month.start(d), Some(date!(2028 - 02 - 01)));
        assert_eq!(Period::Month.end(d), Some(date!(2028 - 02 - 29)));
        assert_eq!(Period::Week.start(d), Some(date!(2028 - 02 - 07)));
        assert_eq!(Period::Week.end(d), Some(date!(2028 - 02 - 13)));
        assert_eq!(Period::AllTime.start(d), None);
    }

    #[test]
    fn equal_scores_share_a_rank() {
        assert_eq!(rank(0), 1);
        assert_eq!(rank(3), 4);
    }
}
