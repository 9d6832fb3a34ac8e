//! What one event adds to the user's day.

use time::{Duration, OffsetDateTime};

/// The activity kind whose sessions count as focus sessions.
pub const FOCUS_KIND: &str = "focus";

/// What a completed session adds to its day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub focus: bool,
    /// Never negative.
    pub seconds: i64,
}

/// A completed session of `kind`: its length is the producer's `duration` when given, else the
/// span from `start` to `end` when both are known, else zero; a negative length (a clock that
/// went backwards) counts as zero.
pub fn session(
    kind: &str,
    duration: Option<Duration>,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
) -> Session {
    let seconds = match (duration, start, end) {
        (Some(d), _, _) => d.whole_seconds(),
        (None, Some(s), Some(e)) => (e - s).whole_seconds(),
        _ => 0,
    };
    Session {
        focus: kind == FOCUS_KIND,
        seconds: seconds.max(0),
    }
}

/// Points a completed challenge adds to its day (a negative award counts as none).
pub fn points(awarded: i32) -> i32 {
    awarded.max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_session_counts_the_producers_duration_first() {
        let (s, e) = (
            datetime!(2026-03-02 09:00 UTC),
            datetime!(2026-03-02 09:40 UTC),
        );
        assert_eq!(
            session("focus", Some(Duration::minutes(25)), Some(s), Some(e)),
            Session {
                focus: true,
                seconds: 25 * 60
            }
        );
        // Without a duration, the span between start and end.
        assert_eq!(session("workout", None, Some(s), Some(e)).seconds, 40 * 60);
        // Without either, nothing but the session itself.
        assert_eq!(session("break", None, Some(s), None).seconds, 0);
        assert_eq!(session("break", None, None, None).seconds, 0);
    }

    #[test]
    fn a_backwards_session_counts_zero_seconds_and_only_focus_is_focus() {
        let (s, e) = (
            datetime!(2026-03-02 09:40 UTC),
            datetime!(2026-03-02 09:00 UTC),
        );
        assert_eq!(session("focus", None, Some(s), Some(e)).seconds, 0);
        assert_eq!(
            session("focus", Some(Duration::minutes(-5)), None, None).seconds,
            0
        );
        assert!(!session("Focus", None, None, None).focus);
        assert!(!session("workout", None, None, None).focus);
    }

    #[test]
    fn negative_points_count_as_none() {
        assert_eq!(points(50), 50);
        assert_eq!(points(0), 0);
        assert_eq!(points(-10), 0);
    }
}
