//! What a challenge counts and over which window of local dates.

use stride_kit::convert::week_start;
use time::{Date, Duration, OffsetDateTime};

/// How progress toward a challenge is measured (`challenges.goal_kind`); what each kind counts
/// is [`super::goal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoalKind {
    /// Completed sessions of the challenge's activity kind within the window.
    SessionsCompleted,
    /// Minutes of completed sessions of the challenge's activity kind.
    Minutes,
    TasksCompleted,
    ShutdownReflections,
    WorkoutsLogged,
    /// The longest run of consecutive local days with any counting activity.
    DaysInARow,
    /// Runs of the challenge's routine (any routine when it names none).
    RoutinesCompleted,
    LessonsCompleted,
}

impl GoalKind {
    pub const ALL: [Self; 8] = [
        Self::SessionsCompleted,
        Self::Minutes,
        Self::TasksCompleted,
        Self::ShutdownReflections,
        Self::WorkoutsLogged,
        Self::DaysInARow,
        Self::RoutinesCompleted,
        Self::LessonsCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionsCompleted => "sessions_completed",
            Self::Minutes => "minutes",
            Self::TasksCompleted => "tasks_completed",
            Self::ShutdownReflections => "shutdown_reflections",
            Self::WorkoutsLogged => "workouts_logged",
            Self::DaysInARow => "days_in_a_row",
            Self::RoutinesCompleted => "routines_completed",
            Self::LessonsCompleted => "lessons_completed",
        }
    }

    /// Whether the goal counts sessions of one activity kind (which must then be named).
    pub fn needs_activity_kind(self) -> bool {
        matches!(self, Self::SessionsCompleted | Self::Minutes)
    }
}

impl TryFrom<String> for GoalKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown goal kind {s:?}"))
    }
}

/// Who sees a challenge (`challenges.visibility`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Private,
    Friends,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Friends => "friends",
            Self::Public => "public",
        }
    }
}

impl TryFrom<String> for Visibility {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "private" => Ok(Self::Private),
            "friends" => Ok(Self::Friends),
            "public" => Ok(Self::Public),
            _ => Err(format!("unknown visibility {s:?}")),
        }
    }
}

/// Whether a challenge starts over (`challenges.recurrence`). User challenges are one-off
/// ([`Recurrence::None`]) with a fixed window.
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

    /// Whether local date `day` falls in the window.
    pub fn contains(&self, day: Date) -> bool {
        day >= self.start && self.end.is_none_or(|end| day <= end)
    }
}

/// The Mondays of the weeks some place on Earth is in at `now` (from UTC−12 to UTC+14): one, or
/// two around a week's turn. The scheduler creates the windows of these weeks.
pub fn current_weeks(now: OffsetDateTime) -> Vec<Date> {
    let utc = now.to_offset(time::UtcOffset::UTC);
    let west = week_start((utc - Duration::hours(12)).date());
    let east = week_start((utc + Duration::hours(14)).date());
    if west == east {
        vec![west]
    } else {
        vec![west, east]
    }
}

/// When a challenge counts: every ISO week, or one fixed window of local dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Weekly,
    Fixed {
        start: Date,
        end: Date,
    },
    /// A system challenge of old without dates: one window for all time.
    Forever,
}

impl Schedule {
    /// From the stored columns (`recurrence`, `starts_on`, `ends_on`).
    pub fn of(recurrence: Recurrence, starts_on: Option<Date>, ends_on: Option<Date>) -> Self {
        match (recurrence, starts_on, ends_on) {
            (Recurrence::Weekly, _, _) => Self::Weekly,
            (Recurrence::None, Some(start), Some(end)) => Self::Fixed { start, end },
            (Recurrence::None, _, _) => Self::Forever,
        }
    }

    /// The window an activity on local date `day` counts in; none outside a fixed window. The
    /// check is on the participant's own local date, so a window runs from its first day to its
    /// last day in each participant's timezone (DST changes nothing: dates, not hours).
    pub fn window_of(self, day: Date) -> Option<Window> {
        match self {
            Self::Weekly => Some(Window::containing(Recurrence::Weekly, day)),
            Self::Forever => Some(Window::containing(Recurrence::None, day)),
            Self::Fixed { start, end } => {
                let w = Window {
                    start,
                    end: Some(end),
                };
                w.contains(day).then_some(w)
            }
        }
    }

    /// The window shown to a participant whose local date is `today`: the week of today, or the
    /// fixed window whether it has begun or not.
    pub fn shown(self, today: Date) -> Window {
        match self {
            Self::Weekly => Window::containing(Recurrence::Weekly, today),
            Self::Forever => Window::containing(Recurrence::None, today),
            Self::Fixed { start, end } => Window {
                start,
                end: Some(end),
            },
        }
    }

    /// Where the challenge is on local date `today`; `ended` when its owner ended it early.
    pub fn state(self, today: Date, ended: bool) -> State {
        match self {
            _ if ended => State::Ended,
            Self::Fixed { start, .. } if today < start => State::Upcoming,
            Self::Fixed { end, .. } if today > end => State::Ended,
            _ => State::Active,
        }
    }
}

/// Where a challenge is in its life, on someone's local date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Upcoming,
    Active,
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;
    use stride_kit::convert::local_date;
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
        let current = |r, now, tz| Window::containing(r, local_date(now, tz));
        // Sunday 20:00 UTC is already Monday in Tokyo: the next week.
        let now = datetime!(2026-11-08 20:00 UTC);
        let start = |tz| current(Recurrence::Weekly, now, tz).start;
        assert_eq!(start("UTC"), date!(2026 - 11 - 02));
        assert_eq!(start("Asia/Tokyo"), date!(2026 - 11 - 09));
        // Monday 03:00 UTC is still Sunday in New York.
        let now = datetime!(2026-11-09 03:00 UTC);
        assert_eq!(
            current(Recurrence::Weekly, now, "America/New_York").start,
            date!(2026 - 11 - 02)
        );
    }

    #[test]
    fn the_scheduler_covers_every_zones_week() {
        // Wednesday: one week everywhere.
        assert_eq!(
            current_weeks(datetime!(2026-11-18 12:00 UTC)),
            [date!(2026 - 11 - 16)]
        );
        // Sunday 11:00 UTC is already Monday in Kiritimati (UTC+14): both weeks.
        assert_eq!(
            current_weeks(datetime!(2026-11-22 11:00 UTC)),
            [date!(2026 - 11 - 16), date!(2026 - 11 - 23)]
        );
        // Monday 11:00 UTC is still Sunday in UTC−12.
        assert_eq!(
            current_weeks(datetime!(2026-11-23 11:00 UTC)),
            [date!(2026 - 11 - 16), date!(2026 - 11 - 23)]
        );
        assert_eq!(
            current_weeks(datetime!(2026-11-23 12:00 UTC)),
            [date!(2026 - 11 - 23)]
        );
    }

    #[test]
    fn a_fixed_window_counts_only_its_own_local_days() {
        let s = Schedule::of(
            Recurrence::None,
            Some(date!(2026 - 11 - 20)),
            Some(date!(2026 - 11 - 26)),
        );
        assert_eq!(s.window_of(date!(2026 - 11 - 19)), None);
        let w = s.window_of(date!(2026 - 11 - 20)).expect("first day");
        assert_eq!(
            (w.start, w.end),
            (date!(2026 - 11 - 20), Some(date!(2026 - 11 - 26)))
        );
        assert!(s.window_of(date!(2026 - 11 - 26)).is_some());
        assert_eq!(s.window_of(date!(2026 - 11 - 27)), None);
        assert_eq!(s.shown(date!(2026 - 12 - 25)).start, date!(2026 - 11 - 20));
        // Weekly: any day has its week.
        let weekly = Schedule::of(Recurrence::Weekly, None, None);
        assert_eq!(
            weekly.window_of(date!(2026 - 11 - 29)).map(|w| w.start),
            Some(date!(2026 - 11 - 23))
        );
    }

    #[test]
    fn a_dst_change_inside_a_window_moves_no_boundary() {
        // Europe/Paris leaves summer time on Sunday 2026-10-25 (03:00 → 02:00): the week of
        // 19–25 October is 169 hours long there, and still ends on its Sunday.
        let weekly = Schedule::of(Recurrence::Weekly, None, None);
        // Sunday 23:30 in Paris after the change is 22:30 UTC: still that Sunday.
        let day = local_date(datetime!(2026-10-25 22:30 UTC), "Europe/Paris");
        assert_eq!(day, date!(2026 - 10 - 25));
        assert_eq!(
            weekly.window_of(day).map(|w| w.start),
            Some(date!(2026 - 10 - 19))
        );
        // 23:30 UTC is already Monday in Paris: the next week.
        let day = local_date(datetime!(2026-10-25 23:30 UTC), "Europe/Paris");
        assert_eq!(
            weekly.window_of(day).map(|w| w.start),
            Some(date!(2026 - 10 - 26))
        );
        // Before the change (UTC+2), 22:30 UTC on Saturday is Sunday 00:30 in Paris.
        let day = local_date(datetime!(2026-10-24 22:30 UTC), "Europe/Paris");
        assert_eq!(day, date!(2026 - 10 - 25));
    }

    #[test]
    fn state_follows_the_local_date_and_an_early_end() {
        let s = Schedule::Fixed {
            start: date!(2026 - 11 - 20),
            end: date!(2026 - 11 - 26),
        };
        assert_eq!(s.state(date!(2026 - 11 - 19), false), State::Upcoming);
        assert_eq!(s.state(date!(2026 - 11 - 20), false), State::Active);
        assert_eq!(s.state(date!(2026 - 11 - 26), false), State::Active);
        assert_eq!(s.state(date!(2026 - 11 - 27), false), State::Ended);
        assert_eq!(s.state(date!(2026 - 11 - 21), true), State::Ended);
        assert_eq!(
            Schedule::Weekly.state(date!(2030 - 01 - 01), false),
            State::Active
        );
    }

    #[test]
    fn stored_names_parse_and_unknown_ones_are_refused() {
        for k in GoalKind::ALL {
            assert_eq!(GoalKind::try_from(k.as_str().to_owned()), Ok(k));
        }
        for v in [Visibility::Private, Visibility::Friends, Visibility::Public] {
            assert_eq!(Visibility::try_from(v.as_str().to_owned()), Ok(v));
        }
        assert!(Visibility::try_from("secret".to_owned()).is_err());
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
        assert!(GoalKind::try_from("steps".to_owned()).is_err());
    }
}
