//! When a window is completed and paid, and how the award is dated. One rule for both ways a
//! count changes: a session that counts, and a merge that adds a guest's count to the target's.
//! "Completed" and "paid" go together: a window is completed exactly when its points are
//! awarded, so the progress shown always agrees with the points.

use stride_kit::convert::{local_date, timezone_or_utc};
use time::{Date, OffsetDateTime};

/// A participant's window of a challenge, as a change to its count left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// The count after the change.
    pub current: i32,
    /// The challenge's target.
    pub target: i32,
    /// Completed (and paid) before this change.
    pub completed: bool,
}

/// What a change to a window's count decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Below the target: keep counting.
    Counting,
    /// Completed and paid before: the count goes on, nothing is paid again.
    AlreadyCompleted,
    /// The target is reached by this change: complete the window at the change's instant and
    /// pay the challenge's points (the ledger's unique key is the last guard against paying a
    /// window twice).
    Award,
}

/// The award rule, for the session path and the merge path alike.
pub fn decide(s: Standing) -> Decision {
    if s.completed {
        Decision::AlreadyCompleted
    } else if s.current >= s.target {
        Decision::Award
    } else {
        Decision::Counting
    }
}

/// When an award happens and the local date it belongs to, as `challenge.completed.v1` states
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occasion {
    pub at: OffsetDateTime,
    pub local_date: Date,
    pub timezone: String,
}

impl Occasion {
    /// A session that ended at `end`: the producer states the local date (and the zone it used);
    /// it is derived only for a producer that left it out. A zone that is not a known IANA name
    /// is passed on as UTC, which is what any local date derived from it used.
    pub fn session(end: OffsetDateTime, stated: Option<Date>, timezone: &str) -> Self {
        let timezone = timezone_or_utc(timezone);
        Self {
            at: end,
            local_date: stated.unwrap_or_else(|| local_date(end, timezone)),
            timezone: timezone.to_owned(),
        }
    }

    /// A merge: dated at the event's time (`now` when it carries none), in its zone (UTC when
    /// that is not a known zone) and on its local date (derived when missing).
    pub fn merge(
        occur: Option<OffsetDateTime>,
        now: OffsetDateTime,
        stated: Option<Date>,
        timezone: &str,
    ) -> Self {
        let at = occur.unwrap_or(now);
        let timezone = timezone_or_utc(timezone);
        Self {
            at,
            local_date: stated.unwrap_or_else(|| local_date(at, timezone)),
            timezone: timezone.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn standing(current: i32, target: i32, completed: bool) -> Standing {
        Standing {
            current,
            target,
            completed,
        }
    }

    #[test]
    fn a_window_pays_when_its_count_first_reaches_the_target() {
        assert_eq!(decide(standing(2, 3, false)), Decision::Counting);
        assert_eq!(decide(standing(3, 3, false)), Decision::Award);
        // A fourth session keeps counting but never pays again.
        assert_eq!(decide(standing(4, 3, true)), Decision::AlreadyCompleted);
        assert_eq!(decide(standing(3, 3, true)), Decision::AlreadyCompleted);
    }

    #[test]
    fn a_merge_that_adds_up_past_the_target_pays_once() {
        // Guest 2 of 3 + target 1 of 3: reached only by adding up.
        assert_eq!(decide(standing(2 + 1, 3, false)), Decision::Award);
        // Beyond the target at once (guest 2 + target 2).
        assert_eq!(decide(standing(4, 3, false)), Decision::Award);
        // Either side had completed it: completed at the earlier completion, not paid again.
        assert_eq!(decide(standing(3 + 3, 3, true)), Decision::AlreadyCompleted);
        assert_eq!(decide(standing(1 + 1, 3, false)), Decision::Counting);
    }

    #[test]
    fn a_session_award_is_dated_at_its_end_on_the_stated_local_date() {
        let end = datetime!(2026-11-08 23:30 UTC);
        let o = Occasion::session(end, Some(date!(2026 - 11 - 09)), "Asia/Tokyo");
        assert_eq!(
            (o.at, o.local_date, o.timezone.as_str()),
            (end, date!(2026 - 11 - 09), "Asia/Tokyo")
        );
        // Without a stated date: derived in the session's zone (already Monday in Tokyo).
        let o = Occasion::session(end, None, "Asia/Tokyo");
        assert_eq!(o.local_date, date!(2026 - 11 - 09));
        assert_eq!(
            Occasion::session(end, None, "UTC").local_date,
            date!(2026 - 11 - 08)
        );
    }

    #[test]
    fn a_merge_award_is_dated_by_the_event_or_now_in_utc() {
        let at = datetime!(2026-11-18 12:00 UTC);
        let now = datetime!(2026-11-19 23:30 UTC);
        let o = Occasion::merge(Some(at), now, Some(date!(2026 - 11 - 18)), "Europe/Paris");
        assert_eq!(
            (o.at, o.local_date, o.timezone.as_str()),
            (at, date!(2026 - 11 - 18), "Europe/Paris")
        );
        // No time: now. No date: derived in the event's zone.
        let o = Occasion::merge(None, now, None, "Europe/Paris");
        assert_eq!((o.at, o.local_date), (now, date!(2026 - 11 - 20)));
        // A zone that is not one: UTC, and the date follows it.
        let o = Occasion::merge(None, now, None, "Mars/Olympus");
        assert_eq!(
            (o.local_date, o.timezone.as_str()),
            (date!(2026 - 11 - 19), "UTC")
        );
    }
}
