//! Which week a date belongs to, and which dates may anchor a summary.

use std::ops::RangeInclusive;

use stride_kit::convert::week_start;
use time::{Date, Duration};

/// Years a requested date may have, so period arithmetic on it can never overflow.
pub const YEARS: RangeInclusive<i32> = 1..=9998;

/// True when `date` may anchor a summary (see [`YEARS`]).
pub fn valid_anchor(date: &Date) -> bool {
    YEARS.contains(&date.year())
}

/// The ISO week (Monday to Sunday) holding `anchor`: (first, last) day.
pub fn week_of(anchor: Date) -> (Date, Date) {
    let start = week_start(anchor);
    (start, start.saturating_add(Duration::days(6)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timezone::today;
    use time::macros::{date, datetime};

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
    fn the_dst_week_has_seven_days() {
        // Europe/Paris springs forward on Sunday 2026-03-29: the week still has seven dates,
        // and Monday 00:30 local (22:30 UTC on Sunday) is already the next week.
        let now = datetime!(2026-03-29 22:30 UTC);
        let (start, end) = week_of(today(now, "Europe/Paris"));
        assert_eq!((start, end), (date!(2026 - 03 - 30), date!(2026 - 04 - 05)));
        let (start, end) = week_of(today(now, "UTC"));
        assert_eq!((start, end), (date!(2026 - 03 - 23), date!(2026 - 03 - 29)));
    }

    #[test]
    fn anchors_are_bounded_and_the_edges_do_not_overflow() {
        assert!(valid_anchor(&date!(2026 - 02 - 28)));
        assert!(!valid_anchor(&date!(9999 - 12 - 31)));
        assert!(!valid_anchor(&date!(0000 - 01 - 01)));
        let (start, end) = week_of(date!(9998 - 12 - 31));
        assert!(start <= end);
    }
}
