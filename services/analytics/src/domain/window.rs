//! Ranges of local dates a caller asks for (trends, CSV export, share cards): checked once,
//! the same way everywhere.

use stride_kit::Violations;
use time::{Date, Duration};

/// The longest range any of these queries serves: a leap year and a day of slack, so "this
/// year" and "the last 365 days" both fit.
pub const MAX_DAYS: i64 = 366;

/// Checks `start..=end`: `end` not before `start`, at most [`MAX_DAYS`] dates. Violations are
/// named on `end_field`.
pub fn check(v: &mut Violations, start: Date, end: Date, end_field: &str) {
    if end < start {
        v.add(end_field, "must not be before start_date");
    } else if days(start, end) > MAX_DAYS {
        v.add(end_field, "the range must span at most 366 days");
    }
}

/// How many dates `start..=end` holds.
pub fn days(start: Date, end: Date) -> i64 {
    (end - start).whole_days() + 1
}

/// `start..=end`, one date at a time (empty when `end < start`).
pub fn dates(start: Date, end: Date) -> impl Iterator<Item = Date> {
    let n = if end < start { 0 } else { days(start, end) };
    (0..n).filter_map(move |i| start.checked_add(Duration::days(i)))
}

/// `days` dates ending on `end`, inclusive (clamped at the calendar's start).
pub fn ending(end: Date, days: i64) -> Date {
    end.checked_sub(Duration::days(days - 1))
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_range_is_ordered_and_at_most_366_days() {
        let mut v = Violations::new();
        check(
            &mut v,
            date!(2024 - 01 - 01),
            date!(2024 - 12 - 31),
            "end_date",
        );
        assert!(v.is_empty(), "a leap year is 366 days");
        let mut v = Violations::new();
        check(
            &mut v,
            date!(2024 - 01 - 01),
            date!(2025 - 01 - 01),
            "end_date",
        );
        assert!(!v.is_empty(), "367 days");
        let mut v = Violations::new();
        check(
            &mut v,
            date!(2024 - 01 - 02),
            date!(2024 - 01 - 01),
            "end_date",
        );
        assert!(!v.is_empty(), "end before start");
        let mut v = Violations::new();
        check(
            &mut v,
            date!(2024 - 01 - 02),
            date!(2024 - 01 - 02),
            "end_date",
        );
        assert!(v.is_empty(), "one day");
    }

    #[test]
    fn dates_cover_the_range_inclusive() {
        let d: Vec<_> = dates(date!(2024 - 02 - 28), date!(2024 - 03 - 01)).collect();
        assert_eq!(
            d,
            [
                date!(2024 - 02 - 28),
                date!(2024 - 02 - 29),
                date!(2024 - 03 - 01)
            ]
        );
        assert_eq!(
            dates(date!(2024 - 03 - 01), date!(2024 - 02 - 28)).count(),
            0
        );
        assert_eq!(ending(date!(2024 - 03 - 31), 90), date!(2024 - 01 - 02));
    }
}
