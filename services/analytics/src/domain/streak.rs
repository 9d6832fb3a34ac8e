//! Streaks: consecutive local dates with at least one completed session.

use time::Date;

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

/// The streaks on `today` (the user's local date). The current streak is the run containing
/// `today`, or the one ending yesterday while today has no session yet; days after `today`
/// don't count. The longest is the longest run, whenever it was.
pub fn streaks(runs: &[Run], today: Date) -> Streaks {
    let longest = runs.iter().map(|r| r.days).max().unwrap_or(0);
    let yesterday = today.previous_day();
    let current = runs
        .iter()
        .find_map(|r| {
            if r.first <= today && today <= r.last {
                Some((today - r.first).whole_days() + 1)
            } else if Some(r.last) == yesterday {
                Some(r.days)
            } else {
                None
            }
        })
        .unwrap_or(0);
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
        assert_eq!(streaks(&runs, date!(2026 - 01 - 09)), s(2, 5));
        // Today not yet active: the run ending yesterday still counts.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 10)), s(2, 5));
        // Two days without: broken.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 11)), s(0, 5));
        // Looking back from inside a run ignores its future days.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 03)), s(3, 5));
        assert_eq!(streaks(&[], date!(2026 - 01 - 03)), s(0, 0));
    }

    #[test]
    fn a_streak_ends_yesterday_then_breaks() {
        let june = |d: u8| Date::from_calendar_date(2026, time::Month::June, d).expect("date");
        // Sessions on the 5th..7th and the 9th; today (the 10th) has none yet.
        let runs = runs_of([5, 6, 7, 9].map(june).to_vec());
        assert_eq!(streaks(&runs, june(10)), s(1, 3));
        // A session today extends it.
        let runs = runs_of([5, 6, 7, 9, 10].map(june).to_vec());
        assert_eq!(streaks(&runs, june(10)), s(2, 3));
        // Two days later without sessions the streak is gone, the record stays.
        assert_eq!(streaks(&runs, june(12)), s(0, 3));
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
        assert_eq!(streaks(&runs_of(days), today(now, tz)), s(3, 3));
        // The 23-hour day is one day like any other: no gap, no double count.
        let one_each = runs_of(vec![date!(2026 - 03 - 29), date!(2026 - 03 - 30)]);
        assert_eq!(streaks(&one_each, today(now, tz)), s(2, 2));
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
        assert_eq!(streaks(&runs, today(now, "Asia/Tokyo")), s(3, 3));
        // Asked in New York (the 2nd), the day after today does not count yet.
        assert_eq!(streaks(&runs, today(now, "America/New_York")), s(2, 3));
    }

    #[test]
    fn absurd_runs_are_clamped() {
        let runs = [Run {
            first: date!(2026 - 01 - 01),
            last: date!(2026 - 01 - 01),
            days: i64::MAX,
        }];
        assert_eq!(streaks(&runs, date!(2026 - 01 - 02)).longest, i32::MAX);
    }
}
