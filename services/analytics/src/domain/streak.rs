//! Streaks: runs of consecutive active local dates per kind (the store keeps them as each day
//! turns active or inactive), read with the user's [`Policy`]. Rules (docs/analytics.md):
//!
//! - A day is active for a kind by `rollup::StreakKind::active`, on the producer's local date.
//! - Days after `today` never count; a run holding `today` counts up to `today`.
//! - [`Anchor::TodayOrYesterday`] (activity, focus, study, workout): the current streak may end
//!   yesterday (today is not over). [`Anchor::Today`] (shutdown, seed 001): it counts back from
//!   today and is 0 when today has none.
//! - A streak's length is its active days. Between two active days, up to `grace_days` missed
//!   days are forgiven; a longer gap is bridged by freezes when that month (of the first missed
//!   day) still has `freezes_per_month` for every missed day, else the streak breaks. The same
//!   holds for the days missed between the last active day and yesterday (Today anchor: none).
//! - The longest streak is the longest chain under the same rules, whenever it was.

use std::collections::HashMap;

use time::{Date, Month};

use super::rollup::StreakKind;

/// A run of consecutive active dates (`days` = `last - first + 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub first: Date,
    pub last: Date,
    pub days: i64,
}

/// Current and longest streak, in days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streaks {
    pub current: i32,
    pub longest: i32,
}

/// A user's streak settings (ADR 0020): the default forgives nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Missed days between two active days that do not break a streak (0..=3).
    pub grace_days: u32,
    /// Missed days per calendar month a freeze bridges when grace is not enough (0..=5).
    pub freezes_per_month: u32,
}

/// Bounds of the settings, checked by the RPC that sets them.
pub const MAX_GRACE_DAYS: u32 = 3;
pub const MAX_FREEZES_PER_MONTH: u32 = 5;

/// Where a current streak must reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Today, or yesterday while today has nothing yet.
    TodayOrYesterday,
    /// Today itself (0 when today has nothing).
    Today,
}

/// Each kind's anchor.
pub fn anchor(kind: StreakKind) -> Anchor {
    match kind {
        StreakKind::Shutdown => Anchor::Today,
        _ => Anchor::TodayOrYesterday,
    }
}

/// Freezes left per month while walking a history.
#[derive(Default)]
struct Freezes(HashMap<(i32, Month), u32>);

impl Freezes {
    /// Whether `missed` days starting on `from` can be bridged (and if `spend`, spends them).
    fn bridge(&mut self, policy: Policy, from: Date, missed: i64, spend: bool) -> bool {
        if missed <= i64::from(policy.grace_days) {
            return true;
        }
        let used = self.0.entry((from.year(), from.month())).or_default();
        let left = i64::from(policy.freezes_per_month.saturating_sub(*used));
        if missed > left {
            return false;
        }
        if spend {
            *used = used.saturating_add(u32::try_from(missed).unwrap_or(u32::MAX));
        }
        true
    }
}

/// Walks `runs` (oldest first, each clipped to `until` when given) chaining them under
/// `policy`: (the last chain's active days, its last date, the longest chain, the freezes).
fn chain(runs: &[Run], until: Option<Date>, policy: Policy) -> (i64, Option<Date>, i64, Freezes) {
    let (mut chain, mut longest) = (0i64, 0i64);
    let mut last: Option<Date> = None;
    let mut freezes = Freezes::default();
    for r in runs.iter().filter(|r| until.is_none_or(|u| r.first <= u)) {
        let end = until.map_or(r.last, |u| r.last.min(u));
        let days = (end - r.first).whole_days() + 1;
        let days = if end == r.last { r.days } else { days };
        chain = match (last, last.and_then(Date::next_day)) {
            (Some(prev), Some(from)) => {
                let missed = (r.first - prev).whole_days() - 1;
                if freezes.bridge(policy, from, missed, true) {
                    chain.saturating_add(days)
                } else {
                    days
                }
            }
            _ => days,
        };
        longest = longest.max(chain);
        last = Some(end);
    }
    (chain, last, longest, freezes)
}

/// The streaks on `today` (the user's local date) from `runs` (oldest first). The longest
/// streak is over every run, whenever it was.
pub fn streaks(runs: &[Run], today: Date, anchor: Anchor, policy: Policy) -> Streaks {
    let (_, _, longest, _) = chain(runs, None, policy);
    let (chain, last, _, mut freezes) = chain(runs, Some(today), policy);
    let current = match (last, anchor) {
        (Some(l), _) if l == today => chain,
        (Some(l), Anchor::TodayOrYesterday) => {
            // Days missed before yesterday (yesterday itself may still be the last active day).
            let missed = (today - l).whole_days() - 1;
            match l.next_day() {
                Some(from) if missed == 0 || freezes.bridge(policy, from, missed, false) => chain,
                _ => 0,
            }
        }
        _ => 0,
    };
    Streaks {
        current: i32::try_from(current).unwrap_or(i32::MAX),
        longest: i32::try_from(longest).unwrap_or(i32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timezone::today;
    use stride_kit::convert::local_date;
    use time::{
        OffsetDateTime,
        macros::{date, datetime},
    };

    fn run(first: Date, last: Date) -> Run {
        Run {
            first,
            last,
            days: (last - first).whole_days() + 1,
        }
    }

    /// The default rules (activity anchor, no grace).
    fn st(runs: &[Run], today: Date) -> Streaks {
        streaks(runs, today, Anchor::TodayOrYesterday, Policy::default())
    }

    fn s(current: i32, longest: i32) -> Streaks {
        Streaks { current, longest }
    }

    /// The runs of a set of active dates, as the store computes them (gaps and islands).
    fn runs_of(mut dates: Vec<Date>) -> Vec<Run> {
        dates.sort();
        dates.dedup();
        let mut runs: Vec<Run> = Vec::new();
        for d in dates {
            match runs.last_mut() {
                Some(r) if r.last.next_day() == Some(d) => *r = run(r.first, d),
                _ => runs.push(run(d, d)),
            }
        }
        runs
    }

    /// The local date activity-session stamps on a session ending at `end` in `tz`.
    fn produced(end: OffsetDateTime, tz: &str) -> Date {
        local_date(end, tz)
    }

    #[test]
    fn streak_rules() {
        let runs = [
            run(date!(2026 - 01 - 01), date!(2026 - 01 - 05)),
            run(date!(2026 - 01 - 08), date!(2026 - 01 - 09)),
        ];
        // Today active: counts through today.
        assert_eq!(st(&runs, date!(2026 - 01 - 09)), s(2, 5));
        // Today not yet active: the run ending yesterday still counts.
        assert_eq!(st(&runs, date!(2026 - 01 - 10)), s(2, 5));
        // Two days without: broken.
        assert_eq!(st(&runs, date!(2026 - 01 - 11)), s(0, 5));
        // Looking back from inside a run ignores its future days.
        assert_eq!(st(&runs, date!(2026 - 01 - 03)), s(3, 5));
        assert_eq!(st(&[], date!(2026 - 01 - 03)), s(0, 0));
    }

    #[test]
    fn a_streak_ends_yesterday_then_breaks() {
        let june = |d: u8| Date::from_calendar_date(2026, time::Month::June, d).expect("date");
        // Sessions on the 5th..7th and the 9th; today (the 10th) has none yet.
        let runs = runs_of([5, 6, 7, 9].map(june).to_vec());
        assert_eq!(st(&runs, june(10)), s(1, 3));
        // A session today extends it.
        let runs = runs_of([5, 6, 7, 9, 10].map(june).to_vec());
        assert_eq!(st(&runs, june(10)), s(2, 3));
        // Two days later without sessions the streak is gone, the record stays.
        assert_eq!(st(&runs, june(12)), s(0, 3));
    }

    #[test]
    fn a_streak_survives_the_dst_change() {
        // Europe/Paris springs forward on 2026-03-29 at 01:00 UTC (UTC+1 → UTC+2).
        let tz = "Europe/Paris";
        let days = vec![
            produced(datetime!(2026-03-28 12:00 UTC), tz),
            produced(datetime!(2026-03-29 10:00 UTC), tz),
            // 22:30 UTC on the 29th is 00:30 on Monday the 30th in Paris (the 29th in UTC).
            produced(datetime!(2026-03-29 22:30 UTC), tz),
        ];
        assert_eq!(
            days,
            [
                date!(2026 - 03 - 28),
                date!(2026 - 03 - 29),
                date!(2026 - 03 - 30)
            ]
        );
        let now = datetime!(2026-03-30 08:00 UTC);
        assert_eq!(today(now, tz), date!(2026 - 03 - 30));
        assert_eq!(st(&runs_of(days), today(now, tz)), s(3, 3));
        // The 23-hour day is one day like any other: no gap, no double count.
        let one_each = runs_of(vec![date!(2026 - 03 - 29), date!(2026 - 03 - 30)]);
        assert_eq!(st(&one_each, today(now, tz)), s(2, 2));
    }

    #[test]
    fn a_streak_survives_a_timezone_change_without_double_counting() {
        // Two evenings in New York (already the next day in UTC), then a flight to Tokyo.
        let days = vec![
            produced(datetime!(2026-06-02 03:00 UTC), "America/New_York"),
            produced(datetime!(2026-06-03 00:00 UTC), "America/New_York"),
            // Still June 2nd in New York, June 3rd in Tokyo: the producer used Tokyo.
            produced(datetime!(2026-06-03 01:00 UTC), "Asia/Tokyo"),
        ];
        assert_eq!(
            days,
            [
                date!(2026 - 06 - 01),
                date!(2026 - 06 - 02),
                date!(2026 - 06 - 03)
            ]
        );
        let runs = runs_of(days);
        let now = datetime!(2026-06-03 02:00 UTC);
        // In Tokyo it is the 3rd: three days, each counted once.
        assert_eq!(st(&runs, today(now, "Asia/Tokyo")), s(3, 3));
        // Asked in New York (the 2nd), the day after today does not count yet.
        assert_eq!(st(&runs, today(now, "America/New_York")), s(2, 3));
    }

    #[test]
    fn absurd_runs_are_clamped() {
        let runs = [Run {
            first: date!(2026 - 01 - 01),
            last: date!(2026 - 01 - 01),
            days: i64::MAX,
        }];
        assert_eq!(st(&runs, date!(2026 - 01 - 02)).longest, i32::MAX);
    }

    #[test]
    fn the_shutdown_streak_counts_back_from_today_and_is_zero_without_today() {
        let june = |d: u8| Date::from_calendar_date(2026, time::Month::June, d).expect("date");
        let runs = runs_of([7, 8, 9].map(june).to_vec());
        let shut = |today| {
            streaks(
                &runs,
                today,
                anchor(StreakKind::Shutdown),
                Policy::default(),
            )
        };
        assert_eq!(shut(june(9)), s(3, 3));
        // Yesterday's reflection does not carry a shutdown streak into today.
        assert_eq!(shut(june(10)), s(0, 3));
        // The activity rule on the same days still counts yesterday.
        assert_eq!(st(&runs, june(10)), s(3, 3));
        assert_eq!(anchor(StreakKind::Activity), Anchor::TodayOrYesterday);
        assert_eq!(anchor(StreakKind::Focus), Anchor::TodayOrYesterday);
        assert_eq!(anchor(StreakKind::Study), Anchor::TodayOrYesterday);
        assert_eq!(anchor(StreakKind::Workout), Anchor::TodayOrYesterday);
    }

    #[test]
    fn grace_days_forgive_short_gaps_and_count_active_days_only() {
        let june = |d: u8| Date::from_calendar_date(2026, time::Month::June, d).expect("date");
        // Active 1-3, missed 4, active 5-6, missed 7-8, active 9.
        let runs = runs_of([1, 2, 3, 5, 6, 9].map(june).to_vec());
        let with = |grace, today| {
            streaks(
                &runs,
                today,
                Anchor::TodayOrYesterday,
                Policy {
                    grace_days: grace,
                    freezes_per_month: 0,
                },
            )
        };
        assert_eq!(with(0, june(9)), s(1, 3));
        assert_eq!(with(1, june(9)), s(1, 5));
        assert_eq!(with(2, june(9)), s(6, 6));
        // Grace also covers the days missed before today: last active the 9th, today the
        // 11th (missed the 10th) keeps it with one grace day; today the 12th (missed the 10th
        // and 11th) needs two.
        assert_eq!(with(0, june(11)), s(0, 3));
        assert_eq!(with(1, june(11)), s(1, 5));
        assert_eq!(with(1, june(12)), s(0, 5));
        assert_eq!(with(2, june(12)), s(6, 6));
        assert_eq!(with(2, june(13)), s(0, 6));
        // The shutdown anchor ignores grace for today itself.
        let shut = streaks(
            &runs,
            june(10),
            Anchor::Today,
            Policy {
                grace_days: 3,
                freezes_per_month: 0,
            },
        );
        assert_eq!(shut, s(0, 6));
    }

    #[test]
    fn freezes_bridge_gaps_until_the_months_allowance_is_spent() {
        let d = |m: u8, day: u8| {
            Date::from_calendar_date(2026, time::Month::try_from(m).expect("month"), day)
                .expect("date")
        };
        // June: gaps of 1 (the 3rd) and 2 (the 6th-7th) days; July: a gap of 1 (2nd).
        let runs = runs_of(vec![
            d(6, 1),
            d(6, 2),
            d(6, 4),
            d(6, 5),
            d(6, 8),
            d(7, 1),
            d(7, 3),
        ]);
        let with = |freezes, today| {
            streaks(
                &runs,
                today,
                Anchor::TodayOrYesterday,
                Policy {
                    grace_days: 0,
                    freezes_per_month: freezes,
                },
            )
        };
        // 2 freezes a month: June's first gap (1) is bridged, the second (2) is not (1 left).
        assert_eq!(with(2, d(6, 8)), s(1, 4));
        // 3 a month: both June gaps (1 + 2) are bridged; the June 9-30 gap is far too long.
        assert_eq!(with(3, d(6, 8)), s(5, 5));
        assert_eq!(with(3, d(7, 3)), s(2, 5));
        // July has its own allowance: its one-day gap is bridged (June's 1 bridged the 3rd).
        assert_eq!(with(1, d(7, 3)), s(2, 4));
        // A freeze covers the day missed before yesterday only if one is left that month.
        assert_eq!(with(1, d(7, 5)), s(0, 4));
        assert_eq!(with(2, d(7, 5)), s(2, 4));
        assert_eq!(with(0, d(7, 5)), s(0, 2));
    }

    #[test]
    fn a_streak_survives_the_fall_back_day() {
        // Europe/Paris falls back on 2026-10-25 at 01:00 UTC (UTC+2 → UTC+1): 02:30 local
        // happens twice, both on the 25th; the 25-hour day is one day.
        let tz = "Europe/Paris";
        let days = vec![
            produced(datetime!(2026-10-24 20:00 UTC), tz),
            produced(datetime!(2026-10-25 00:30 UTC), tz),
            produced(datetime!(2026-10-25 01:30 UTC), tz),
            // 23:30 UTC on the 25th is 00:30 on the 26th in Paris.
            produced(datetime!(2026-10-25 23:30 UTC), tz),
        ];
        assert_eq!(
            days,
            [
                date!(2026 - 10 - 24),
                date!(2026 - 10 - 25),
                date!(2026 - 10 - 25),
                date!(2026 - 10 - 26)
            ]
        );
        let now = datetime!(2026-10-26 08:00 UTC);
        assert_eq!(st(&runs_of(days), today(now, tz)), s(3, 3));
        // The shutdown rule on the same days: today (the 26th) is active, three in a row.
        let runs = runs_of(vec![
            date!(2026 - 10 - 24),
            date!(2026 - 10 - 25),
            date!(2026 - 10 - 26),
        ]);
        assert_eq!(
            streaks(&runs, today(now, tz), Anchor::Today, Policy::default()),
            s(3, 3)
        );
    }
}
