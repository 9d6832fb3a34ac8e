//! What a challenge counts and over which window of local dates.

use stride_kit::convert::{local_date, week_start};
use time::{Date, Duration, OffsetDateTime};

/// How progress toward a challenge is measured (`challenges.goal_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoalKind {
    /// Completed sessions of the challenge's activity kind within the window.
    SessionsCompleted,
}

impl GoalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionsCompleted => "sessions_completed",
        }
    }
}

impl TryFrom<String> for GoalKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "sessions_completed" => Ok(Self::SessionsCompleted),
            _ => Err(format!("unknown goal kind {s:?}")),
        }
    }
}

/// Whether a challenge starts over (`challenges.recurrence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// One window for all time.
    None,
    /// A new window every ISO week, Monday to Sunday in the participant's local dates.
    Weekly,
}

impl TryFrom<String> for Recurrence {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "none" => Ok(Self::None),
            "weekly" => Ok(Self::Weekly),
            _ => Err(format!("unknown recurrence {s:?}")),
        }
    }
}

/// The `window_start` of the single window of a non-recurring challenge.
pub const FOREVER_WINDOW: Date = time::macros::date!(1970 - 01 - 01);

/// A window of local dates in which progress counts and a challenge pays out once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Its first day: the key of its progress row and its ledger entry.
    pub start: Date,
    /// Its last day; none for a window without end.
    pub end: Option<Date>,
}

impl Window {
    /// The window of a challenge with `recurrence` that contains local date `day`.
    pub fn containing(recurrence: Recurrence, day: Date) -> Self {
        match recurrence {
            Recurrence::Weekly => {
                let start = week_start(day);
                Self {
                    start,
                    end: Some(start + Duration::days(6)),
                }
            }
            Recurrence::None => Self {
                start: FOREVER_WINDOW,
                end: None,
            },
        }
    }

    /// The window a participant in `timezone` is in at `now`: "today" is their local date.
    pub fn current(recurrence: Recurrence, now: OffsetDateTime, timezone: &str) -> Self {
        Self::containing(recurrence, local_date(now, timezone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn weekly_windows_start_on_monday() {
        let start = |d| Window::containing(Recurrence::Weekly, d).start;
        // Sunday belongs to the week that began the Monday before; Monday starts a new one.
        assert_eq!(start(date!(2026 - 11 - 22)), date!(2026 - 11 - 16));
        assert_eq!(start(date!(2026 - 11 - 23)), date!(2026 - 11 - 23));
        assert_eq!(
            Window::containing(Recurrence::None, date!(2026 - 11 - 23)).start,
            FOREVER_WINDOW
        );
    }

    #[test]
    fn weekly_windows_end_on_sunday_and_the_forever_window_never_ends() {
        assert_eq!(
            Window::containing(Recurrence::Weekly, date!(2026 - 11 - 12)),
            Window {
                start: date!(2026 - 11 - 09),
                end: Some(date!(2026 - 11 - 15)),
            }
        );
        // Across a month and a year boundary.
        assert_eq!(
            Window::containing(Recurrence::Weekly, date!(2027 - 01 - 01)),
            Window {
                start: date!(2026 - 12 - 28),
                end: Some(date!(2027 - 01 - 03)),
            }
        );
        assert_eq!(
            Window::containing(Recurrence::None, date!(2026 - 11 - 12)).end,
            None
        );
    }

    #[test]
    fn the_current_window_follows_the_participants_zone() {
        // Sunday 20:00 UTC is already Monday in Tokyo: the next week.
        let now = datetime!(2026-11-08 20:00 UTC);
        let start = |tz| Window::current(Recurrence::Weekly, now, tz).start;
        assert_eq!(start("UTC"), date!(2026 - 11 - 02));
        assert_eq!(start("Asia/Tokyo"), date!(2026 - 11 - 09));
        // Monday 03:00 UTC is still Sunday in New York.
        let now = datetime!(2026-11-09 03:00 UTC);
        assert_eq!(
            Window::current(Recurrence::Weekly, now, "America/New_York").start,
            date!(2026 - 11 - 02)
        );
    }

    #[test]
    fn stored_names_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            Recurrence::try_from("weekly".to_owned()),
            Ok(Recurrence::Weekly)
        );
        assert_eq!(
            Recurrence::try_from("none".to_owned()),
            Ok(Recurrence::None)
        );
        assert!(Recurrence::try_from("monthly".to_owned()).is_err());
        let kind = GoalKind::try_from("sessions_completed".to_owned());
        assert_eq!(kind, Ok(GoalKind::SessionsCompleted));
        assert_eq!(GoalKind::SessionsCompleted.as_str(), "sessions_completed");
        assert!(GoalKind::try_from("minutes".to_owned()).is_err());
    }
}
