//! The weekly progress summary: which week, and its seven days with their figures and totals.

use std::ops::RangeInclusive;

use stride_kit::convert::week_start;
use time::{Date, Duration};

/// Years a requested date may have, so week arithmetic on it can never overflow.
pub const YEARS: RangeInclusive<i32> = 1..=9998;

/// The figures of one local date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub sessions_completed: i32,
    pub focus_sessions: i32,
    pub seconds: i64,
}

impl Day {
    pub fn empty(date: Date) -> Self {
        Self {
            date,
            sessions_completed: 0,
            focus_sessions: 0,
            seconds: 0,
        }
    }
}

/// One ISO week, Monday to Sunday, every day present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Week {
    pub start: Date,
    pub end: Date,
    pub days: Vec<Day>,
    pub sessions_completed: i32,
    pub focus_sessions: i32,
    pub seconds: i64,
}

/// True when `date` may anchor a summary (see [`YEARS`]).
pub fn valid_anchor(date: &Date) -> bool {
    YEARS.contains(&date.year())
}

/// The ISO week (Monday to Sunday) holding `anchor`: (first, last) day.
pub fn week_of(anchor: Date) -> (Date, Date) {
    let start = week_start(anchor);
    (start, start.saturating_add(Duration::days(6)))
}

/// The week starting on `start` from the days that have figures (`stored`, any order; days
/// outside the week are ignored): days without figures are zeros, totals add up the seven.
pub fn assemble(start: Date, stored: &[Day]) -> Week {
    let (start, end) = week_of(start);
    let mut days = Vec::with_capacity(7);
    let mut date = Some(start);
    while let Some(d) = date.filter(|d| *d <= end) {
        days.push(
            stored
                .iter()
                .find(|s| s.date == d)
                .copied()
                .unwrap_or(Day::empty(d)),
        );
        date = d.next_day();
    }
    let sum = |f: fn(&Day) -> i32| days.iter().fold(0i32, |a, d| a.saturating_add(f(d)));
    Week {
        start,
        end,
        sessions_completed: sum(|d| d.sessions_completed),
        focus_sessions: sum(|d| d.focus_sessions),
        seconds: days.iter().fold(0i64, |a, d| a.saturating_add(d.seconds)),
        days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timezone::today;
    use time::macros::{date, datetime};

    fn day(date: Date, sessions: i32, focus: i32, minutes: i64) -> Day {
        Day {
            date,
            sessions_completed: sessions,
            focus_sessions: focus,
            seconds: minutes * 60,
        }
    }

    #[test]
    fn a_week_runs_monday_to_sunday() {
        // 2026-11-22 is a Sunday: its ISO week starts on Monday the 16th.
        assert_eq!(
            week_of(date!(2026 - 11 - 22)),
            (date!(2026 - 11 - 16), date!(2026 - 11 - 22))
        );
        assert_eq!(
            week_of(date!(2026 - 11 - 16)),
            (date!(2026 - 11 - 16), date!(2026 - 11 - 22))
        );
        assert_eq!(
            week_of(date!(2026 - 03 - 04)),
            (date!(2026 - 03 - 02), date!(2026 - 03 - 08))
        );
    }

    #[test]
    fn an_empty_week_has_seven_zero_days() {
        let w = assemble(date!(2026 - 11 - 16), &[]);
        assert_eq!(w.days.len(), 7);
        assert_eq!(w.days[0], Day::empty(date!(2026 - 11 - 16)));
        assert_eq!(w.days[6], Day::empty(date!(2026 - 11 - 22)));
        assert_eq!(
            (w.sessions_completed, w.focus_sessions, w.seconds),
            (0, 0, 0)
        );
    }

    #[test]
    fn stored_days_fill_their_slots_and_add_up() {
        let stored = [
            day(date!(2026 - 03 - 03), 2, 1, 65),
            day(date!(2026 - 03 - 02), 1, 1, 25),
            // Outside the week: ignored.
            day(date!(2026 - 03 - 09), 9, 9, 999),
        ];
        let w = assemble(date!(2026 - 03 - 02), &stored);
        assert_eq!(
            (w.start, w.end),
            (date!(2026 - 03 - 02), date!(2026 - 03 - 08))
        );
        assert_eq!(w.days[0], stored[1]);
        assert_eq!(w.days[1], stored[0]);
        assert!(w.days[2..].iter().all(|d| d.sessions_completed == 0));
        assert_eq!((w.sessions_completed, w.focus_sessions), (3, 2));
        assert_eq!(w.seconds, 90 * 60);
    }

    #[test]
    fn the_dst_week_has_seven_days() {
        // Europe/Paris springs forward on Sunday 2026-03-29: the week still has seven dates,
        // and Monday 00:30 local (22:30 UTC on Sunday) is already the next week.
        let now = datetime!(2026-03-29 22:30 UTC);
        let (start, end) = week_of(today(now, "Europe/Paris"));
        assert_eq!((start, end), (date!(2026 - 03 - 30), date!(2026 - 04 - 05)));
        let (start, end) = week_of(today(now, "UTC"));
        assert_eq!((start, end), (date!(2026 - 03 - 23), date!(2026 - 03 - 29)));
        let w = assemble(start, &[day(date!(2026 - 03 - 29), 1, 1, 25)]);
        assert_eq!(w.days.len(), 7);
        assert_eq!(w.days[6].sessions_completed, 1);
    }

    #[test]
    fn anchors_are_bounded_and_the_edges_do_not_overflow() {
        assert!(valid_anchor(&date!(2026 - 02 - 28)));
        assert!(!valid_anchor(&date!(9999 - 12 - 31)));
        assert!(!valid_anchor(&date!(0000 - 01 - 01)));
        let (start, end) = week_of(date!(9998 - 12 - 31));
        assert!(start <= end);
        assert_eq!(assemble(start, &[]).days.len(), 7);
    }

    #[test]
    fn totals_saturate_instead_of_overflowing() {
        let stored = [
            day(date!(2026 - 03 - 02), i32::MAX, i32::MAX, 0),
            day(date!(2026 - 03 - 03), 1, 1, 0),
        ];
        let w = assemble(date!(2026 - 03 - 02), &stored);
        assert_eq!(
            (w.sessions_completed, w.focus_sessions),
            (i32::MAX, i32::MAX)
        );
    }
}
