//! When a window settles, and the shutdown figures of the stats (seed 001). Final ranks are
//! SQL's (`store::periods::settle`): the higher count first; on equal counts who completed
//! first, then those who did not complete; equal results share a rank and the next one skips
//! (1, 1, 3).

use time::{Date, Duration, OffsetDateTime, Time};

/// Late events (a broker outage, a phone that synced late) still count for this long after the
/// window's last local day has ended everywhere.
pub const GRACE: Duration = Duration::hours(1);

/// When a window whose last local day is `end` settles: once that day is over in the last
/// timezone on Earth (UTC−12, where `end + 1` begins at 12:00 UTC), plus [`GRACE`]. Until then
/// some participant may still be on `end`.
pub fn settle_after(end: Date) -> OffsetDateTime {
    (end + Duration::days(1))
        .with_time(Time::MIDNIGHT)
        .assume_utc()
        + Duration::hours(12)
        + GRACE
}

/// Seed 001's shutdown streak: consecutive local days with a reflection counting back from
/// `today`; 0 when there is none today. `days` in any order, repeats allowed.
pub fn shutdown_streak(days: &[Date], today: Date) -> i32 {
    let mut streak = 0;
    let mut day = today;
    while days.contains(&day) {
        streak += 1;
        day -= Duration::days(1);
    }
    streak
}

/// The mean local time of day of `minutes` (minutes after midnight), rounded; none when empty.
/// Shutdowns just after midnight count as late evening (up to 04:00 is taken as the day before's
/// 24:00–28:00), so 23:30 and 00:30 average to 00:00, not noon.
pub fn average_minute(minutes: &[i32]) -> Option<i32> {
    const DAY: i64 = 24 * 60;
    const EARLY: i64 = 4 * 60;
    if minutes.is_empty() {
        return None;
    }
    let n = i64::try_from(minutes.len()).ok()?;
    let sum: i64 = minutes
        .iter()
        .map(|&m| {
            let m = i64::from(m);
            if m < EARLY { m + DAY } else { m }
        })
        .sum();
    let mean = (sum + n / 2) / n;
    i32::try_from(mean.rem_euclid(DAY)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_window_settles_when_its_last_day_is_over_everywhere() {
        // The last day, Sunday the 22nd, ends in UTC−12 at Monday 12:00 UTC; plus the grace.
        assert_eq!(
            settle_after(date!(2026 - 11 - 22)),
            datetime!(2026-11-23 13:00 UTC)
        );
        // Kiritimati (UTC+14) left Sunday long before; Baker Island (UTC−12) just now.
        let last = datetime!(2026-11-23 12:00 UTC) - Duration::seconds(1);
        assert_eq!(
            stride_kit::convert::local_date(last, "Etc/GMT+12"),
            date!(2026 - 11 - 22)
        );
        assert!(last < settle_after(date!(2026 - 11 - 22)));
    }

    #[test]
    fn the_shutdown_streak_counts_back_from_today_only() {
        let t = date!(2026 - 11 - 18);
        let d = |n| t - Duration::days(n);
        assert_eq!(shutdown_streak(&[d(0), d(1), d(2), d(4)], t), 3);
        assert_eq!(shutdown_streak(&[d(2), d(0), d(1), d(1)], t), 3);
        // None today: 0, whatever came before (seed 001).
        assert_eq!(shutdown_streak(&[d(1), d(2)], t), 0);
        assert_eq!(shutdown_streak(&[], t), 0);
    }

    #[test]
    fn the_average_shutdown_time_wraps_around_midnight() {
        assert_eq!(average_minute(&[]), None);
        assert_eq!(average_minute(&[17 * 60, 18 * 60]), Some(17 * 60 + 30));
        assert_eq!(average_minute(&[23 * 60 + 30, 30]), Some(0));
        assert_eq!(average_minute(&[23 * 60, 60]), Some(0));
        assert_eq!(average_minute(&[1, 2]), Some(2));
    }
}
