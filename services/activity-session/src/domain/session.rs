//! A timed session: its states, how long it may be planned for, and what completing it records.

use std::ops::RangeInclusive;

use stride_kit::convert;
use time::{Date, Duration, OffsetDateTime};

use super::Unknown;

/// Where a session is. A user has at most one active session (the `sessions_one_active` index
/// decides). There is no cancelled state: a session ends by being completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Completed,
}

impl State {
    /// The stored name (`sessions.state`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Completed => "completed",
        }
    }
}

impl TryFrom<String> for State {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        [State::Active, State::Completed]
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| Unknown::new("session state", name))
    }
}

/// What a start may ask to plan instead of the activity's default, both ends included.
pub const PLANNED: RangeInclusive<Duration> = Duration::minutes(1)..=Duration::hours(4);

/// The planned length to record, in whole seconds: the requested one (already checked against
/// [`PLANNED`]) or else the activity's default.
pub fn planned_seconds(requested: Option<Duration>, default_seconds: i32) -> i32 {
    requested.map_or(default_seconds, |d| clamp_seconds(d.whole_seconds()))
}

fn clamp_seconds(s: i64) -> i32 {
    i32::try_from(s).unwrap_or(if s < 0 { i32::MIN } else { i32::MAX })
}

/// What completing a session records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub ended_at: OffsetDateTime,
    /// Whole seconds from start to end, never negative.
    pub duration_secs: i32,
    /// The user's calendar date when the session ended.
    pub local_date: Date,
}

/// Completes a session that started at `started`, now, for a user in zone `tz`:
///
/// - It ends now, or at its start if the clock went backwards: a duration is never negative.
/// - Its duration is the elapsed time in whole seconds (not the wall-clock difference: an hour
///   across a DST change is an hour), clamped to `i32::MAX`, which the stored column and the
///   events' consumers hold.
/// - Its local date is the date in `tz` at the end (DESIGN §6: a per-day figure uses the user's
///   zone at the event's instant), so a session past midnight counts for the new day. A zone
///   that is not a known IANA name counts as UTC.
pub fn complete(started: OffsetDateTime, now: OffsetDateTime, tz: &str) -> Completion {
    let ended_at = now.max(started);
    Completion {
        ended_at,
        duration_secs: clamp_seconds((ended_at - started).whole_seconds()),
        local_date: convert::local_date(ended_at, tz),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_session_lasts_from_start_to_now_in_whole_seconds() {
        let started = datetime!(2026-11-22 10:00 UTC);
        let c = complete(started, datetime!(2026-11-22 10:25:00.9 UTC), "UTC");
        assert_eq!(
            c,
            Completion {
                ended_at: datetime!(2026-11-22 10:25:00.9 UTC),
                duration_secs: 25 * 60,
                local_date: date!(2026 - 11 - 22),
            }
        );
    }

    #[test]
    fn a_clock_that_went_backwards_ends_the_session_at_its_start() {
        let started = datetime!(2026-11-22 10:00 UTC);
        let c = complete(started, datetime!(2026-11-22 09:58 UTC), "Asia/Tokyo");
        assert_eq!(c.ended_at, started);
        assert_eq!(c.duration_secs, 0);
        assert_eq!(c.local_date, date!(2026 - 11 - 22));
    }

    #[test]
    fn a_duration_past_i32_is_clamped() {
        let started = datetime!(2000-01-01 00:00 UTC);
        let max = started + Duration::seconds(i64::from(i32::MAX));
        assert_eq!(complete(started, max, "UTC").duration_secs, i32::MAX);
        let over = complete(started, max + Duration::seconds(1), "UTC");
        assert_eq!(over.duration_secs, i32::MAX);
        assert_eq!(
            over.ended_at,
            max + Duration::seconds(1),
            "the end is not clamped"
        );
        let century = complete(started, datetime!(2100-01-01 00:00 UTC), "UTC");
        assert_eq!(century.duration_secs, i32::MAX);
    }

    #[test]
    fn the_local_date_is_the_users_date_at_the_end() {
        // Started on the 22nd in Tokyo (23:50 JST), ended on the 23rd (00:15 JST).
        let c = complete(
            datetime!(2026-11-22 14:50 UTC),
            datetime!(2026-11-22 15:15 UTC),
            "Asia/Tokyo",
        );
        assert_eq!(c.local_date, date!(2026 - 11 - 23));
        // The same instants are one UTC day; an unknown zone counts as UTC.
        let c = complete(
            datetime!(2026-11-22 14:50 UTC),
            datetime!(2026-11-22 15:15 UTC),
            "Mars/Olympus",
        );
        assert_eq!(c.local_date, date!(2026 - 11 - 22));
    }

    #[test]
    fn across_a_dst_change_the_duration_is_elapsed_time_and_the_date_follows_the_new_offset() {
        // Paris springs forward at 01:00 UTC on 2026-03-29: 01:30 CET to 03:30 CEST is one hour.
        let c = complete(
            datetime!(2026-03-29 00:30 UTC),
            datetime!(2026-03-29 01:30 UTC),
            "Europe/Paris",
        );
        assert_eq!(c.duration_secs, 3600);
        assert_eq!(c.local_date, date!(2026 - 03 - 29));
        // 22:30 UTC is 23:30 (CET, +1) on the 28th, but 00:30 (CEST, +2) on the 30th.
        let at = |end| complete(end - Duration::minutes(25), end, "Europe/Paris").local_date;
        assert_eq!(at(datetime!(2026-03-28 22:30 UTC)), date!(2026 - 03 - 28));
        assert_eq!(at(datetime!(2026-03-29 22:30 UTC)), date!(2026 - 03 - 30));
        // Falling back at 01:00 UTC on 2026-10-25 undoes it.
        assert_eq!(at(datetime!(2026-10-24 22:30 UTC)), date!(2026 - 10 - 25));
        assert_eq!(at(datetime!(2026-10-25 22:30 UTC)), date!(2026 - 10 - 25));
    }

    #[test]
    fn a_start_plans_the_requested_length_or_the_activitys_default() {
        assert!(PLANNED.contains(&Duration::minutes(1)));
        assert!(PLANNED.contains(&Duration::hours(4)));
        assert!(!PLANNED.contains(&Duration::seconds(59)));
        assert!(!PLANNED.contains(&(Duration::hours(4) + Duration::seconds(1))));
        assert!(!PLANNED.contains(&Duration::minutes(-5)));
        assert_eq!(planned_seconds(None, 1500), 1500);
        assert_eq!(planned_seconds(Some(Duration::minutes(50)), 1500), 3000);
        assert_eq!(
            planned_seconds(
                Some(Duration::seconds(90) + Duration::milliseconds(700)),
                1500
            ),
            90
        );
    }

    #[test]
    fn states_are_stored_by_their_name() {
        for s in [State::Active, State::Completed] {
            assert_eq!(State::try_from(s.as_str().to_owned()).unwrap(), s);
        }
        assert!(State::try_from("cancelled".to_owned()).is_err());
    }
}
