//! A user plan: a workout plan template assigned from a start date. Its status changes by a
//! small state machine ([`apply`]) and its progress ([`progress`]) is computed from which plan
//! exercises the user logged.
//!
//! Schedule: a template has `days_per_week` training days a week, numbered 1..days_per_week, spread
//! evenly over the plan's 7-day week: training day `d` of week `w` falls on
//! `start + 7(w-1) + ⌊7(d-1)/days_per_week⌋` (3 days a week: days 0, 2 and 4 of the week — Monday,
//! Wednesday and Friday for a plan started on a Monday). A pause holds
//! every day not yet reached: days on or after the pause date move later by the days paused
//! (while paused, to tomorrow at the earliest), days before it stay where they were.

use std::collections::HashSet;

use time::{Date, Duration};
use uuid::Uuid;

use super::Unknown;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Active,
    Paused,
    Completed,
    Removed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Paused,
        Status::Completed,
        Status::Removed,
    ];

    /// The stored name (`user_plans.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Paused => "paused",
            Status::Completed => "completed",
            Status::Removed => "removed",
        }
    }
}

impl TryFrom<String> for Status {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| Unknown::new("user plan status", name))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Complete,
    Remove,
}

impl Action {
    #[cfg(test)]
    pub const ALL: [Action; 4] = [
        Action::Pause,
        Action::Resume,
        Action::Complete,
        Action::Remove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Complete => "complete",
            Action::Remove => "remove",
        }
    }
}

/// A finished pause: from `on`, for `days`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    pub on: Date,
    pub days: i32,
}

/// What a status change depends on and changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanState {
    pub status: Status,
    pub start_date: Date,
    /// Finished pauses, oldest first.
    pub pauses: Vec<Pause>,
    /// Set while paused.
    pub paused_on: Option<Date>,
    /// Set when completed or removed.
    pub ended_on: Option<Date>,
}

impl PlanState {
    #[cfg(test)]
    pub fn assigned(start_date: Date) -> Self {
        Self {
            status: Status::Active,
            start_date,
            pauses: Vec::new(),
            paused_on: None,
            ended_on: None,
        }
    }

    /// Total days spent in finished pauses.
    pub fn paused_days(&self) -> i32 {
        self.pauses.iter().map(|p| p.days).sum()
    }

    /// The date progress is computed for: today while active or paused, the end date once
    /// ended.
    pub fn as_of(&self, today: Date) -> Date {
        match self.status {
            Status::Active | Status::Paused => today,
            Status::Completed | Status::Removed => self.ended_on.unwrap_or(today),
        }
    }
}

/// A change the current status does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: Status,
    pub action: Action,
}

/// The status `action` leads to from `from`, if allowed: ACTIVE ⇄ PAUSED, ACTIVE or PAUSED →
/// COMPLETED, anything but REMOVED → REMOVED.
pub fn next(from: Status, action: Action) -> Option<Status> {
    use {Action as A, Status as S};
    match (from, action) {
        (S::Active, A::Pause) => Some(S::Paused),
        (S::Paused, A::Resume) => Some(S::Active),
        (S::Active | S::Paused, A::Complete) => Some(S::Completed),
        (S::Active | S::Paused | S::Completed, A::Remove) => Some(S::Removed),
        _ => None,
    }
}

/// Applies `action` on the user's local date `today`. Leaving a pause (by resuming, completing
/// or removing) records it, with its length in days (0 when resumed the day it was paused).
pub fn apply(state: &PlanState, action: Action, today: Date) -> Result<PlanState, Refused> {
    let to = next(state.status, action).ok_or(Refused {
        status: state.status,
        action,
    })?;
    let mut s = state.clone();
    if let Some(on) = s.paused_on.take() {
        let days = i32::try_from((today - on).whole_days()).unwrap_or(0).max(0);
        s.pauses.push(Pause { on, days });
    }
    match to {
        Status::Paused => s.paused_on = Some(today),
        Status::Completed | Status::Removed => {
            s.ended_on = Some(s.ended_on.unwrap_or(today));
        }
        Status::Active => {}
    }
    s.status = to;
    Ok(s)
}

/// One training day of a template: its plan exercises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateDay {
    pub week: i32,
    pub day: i32,
    pub exercises: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayProgress {
    pub week: i32,
    pub day: i32,
    pub due_date: Date,
    pub exercises: i32,
    pub exercises_logged: i32,
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub days_total: i32,
    pub days_done: i32,
    pub days_due: i32,
    pub current_week: i32,
    pub current_week_day: i32,
    pub this_week: Vec<DayProgress>,
    pub next_day: Option<DayProgress>,
    pub as_of: Date,
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// The day of the plan week (0–6) training day `day` of `days_per_week` falls on.
pub fn week_offset(day: i32, days_per_week: i32) -> i64 {
    let per_week = i64::from(days_per_week.clamp(1, 7));
    let day = i64::from(day.max(1)) - 1;
    (day * 7 / per_week).clamp(0, 6)
}

/// Where template training day (`week`, `day`) falls for `state`, `today` being the user's
/// date.
pub fn due_date(state: &PlanState, week: i32, day: i32, days_per_week: i32, today: Date) -> Date {
    let offset = i64::from(week.max(1) - 1) * 7 + week_offset(day, days_per_week);
    let mut date = state.start_date + days(offset.max(0));
    for p in &state.pauses {
        if date >= p.on {
            date += days(i64::from(p.days));
        }
    }
    if let (Status::Paused, Some(on)) = (state.status, state.paused_on)
        && date >= on
    {
        // Held: at the earliest tomorrow, if resumed today.
        date += days((today - on).whole_days().max(0) + 1);
    }
    date
}

/// Most training dates an event carries: a year of daily training.
pub const MAX_TRAINING_DATES: usize = 366;

/// The dates of the training days (template days with exercises) still ahead of `today`,
/// today included, in order: what the plan-day reminders are scheduled from. None unless the
/// plan is active (a paused plan's days are held until it resumes).
pub fn training_dates(
    state: &PlanState,
    days_per_week: i32,
    days: &[TemplateDay],
    today: Date,
) -> Vec<Date> {
    if state.status != Status::Active {
        return Vec::new();
    }
    let mut dates: Vec<Date> = days
        .iter()
        .filter(|d| !d.exercises.is_empty())
        .map(|d| due_date(state, d.week, d.day, days_per_week, today))
        .filter(|d| *d >= today)
        .collect();
    dates.sort_unstable();
    dates.dedup();
    dates.truncate(MAX_TRAINING_DATES);
    dates
}

/// The plan week and the day of that week (1–7) of date `at`: days since the start less the days paused before it;
/// (0, 0) before the start.
pub fn plan_day_of(state: &PlanState, at: Date) -> (i32, i32) {
    if at < state.start_date {
        return (0, 0);
    }
    let mut index = (at - state.start_date).whole_days();
    let open = state.paused_on.map(|on| Pause {
        on,
        days: i32::try_from((at - on).whole_days()).unwrap_or(0).max(0),
    });
    for p in state.pauses.iter().chain(open.iter()) {
        if p.on <= at {
            index -= i64::from(p.days).min((at - p.on).whole_days());
        }
    }
    let index = index.max(0);
    (
        i32::try_from(index / 7 + 1).unwrap_or(i32::MAX),
        i32::try_from(index % 7 + 1).unwrap_or(1),
    )
}

/// Progress of `state` over its template `days` (days without exercises are rest days and do
/// not count), `logged` being the plan exercises with at least one log of this user plan.
pub fn progress(
    state: &PlanState,
    days_per_week: i32,
    template: &[TemplateDay],
    logged: &HashSet<Uuid>,
    today: Date,
) -> Progress {
    let as_of = state.as_of(today);
    let mut training: Vec<&TemplateDay> = template
        .iter()
        .filter(|d| !d.exercises.is_empty())
        .collect();
    training.sort_by_key(|d| (d.week, d.day));
    let all: Vec<DayProgress> = training
        .iter()
        .map(|d| {
            let n = i32::try_from(d.exercises.len()).unwrap_or(i32::MAX);
            let done_n = d.exercises.iter().filter(|e| logged.contains(e)).count();
            let done_n = i32::try_from(done_n).unwrap_or(i32::MAX);
            DayProgress {
                week: d.week,
                day: d.day,
                due_date: due_date(state, d.week, d.day, days_per_week, today),
                exercises: n,
                exercises_logged: done_n,
                done: done_n == n,
            }
        })
        .collect();
    let (current_week, current_week_day) = plan_day_of(state, as_of);
    let count = |f: &dyn Fn(&DayProgress) -> bool| {
        i32::try_from(all.iter().filter(|d| f(d)).count()).unwrap_or(i32::MAX)
    };
    Progress {
        days_total: i32::try_from(all.len()).unwrap_or(i32::MAX),
        days_done: count(&|d| d.done),
        days_due: count(&|d| d.due_date <= as_of),
        current_week,
        current_week_day,
        this_week: all
            .iter()
            .filter(|d| d.week == current_week)
            .cloned()
            .collect(),
        next_day: all.iter().find(|d| !d.done).cloned(),
        as_of,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const MON: Date = date!(2026 - 11 - 02);

    #[test]
    fn statuses_round_trip_their_stored_names() {
        for s in Status::ALL {
            assert_eq!(Status::try_from(s.as_str().to_owned()).unwrap(), s);
        }
        assert!(Status::try_from("archived".to_owned()).is_err());
    }

    #[test]
    fn the_state_machine_allows_exactly_its_transitions() {
        use {Action as A, Status as S};
        let allowed = [
            (S::Active, A::Pause, S::Paused),
            (S::Active, A::Complete, S::Completed),
            (S::Active, A::Remove, S::Removed),
            (S::Paused, A::Resume, S::Active),
            (S::Paused, A::Complete, S::Completed),
            (S::Paused, A::Remove, S::Removed),
            (S::Completed, A::Remove, S::Removed),
        ];
        for from in S::ALL {
            for action in A::ALL {
                let expected = allowed
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(next(from, action), expected, "{from:?} {action:?}");
            }
        }
        // Removed is terminal.
        assert!(A::ALL.iter().all(|a| next(S::Removed, *a).is_none()));
    }

    #[test]
    fn apply_records_pauses_and_end_dates() {
        let s = PlanState::assigned(MON);
        let paused = apply(&s, Action::Pause, date!(2026 - 11 - 05)).unwrap();
        assert_eq!(paused.status, Status::Paused);
        assert_eq!(paused.paused_on, Some(date!(2026 - 11 - 05)));
        assert_eq!(
            apply(&paused, Action::Pause, date!(2026 - 11 - 06)),
            Err(Refused {
                status: Status::Paused,
                action: Action::Pause
            })
        );
        let resumed = apply(&paused, Action::Resume, date!(2026 - 11 - 08)).unwrap();
        assert_eq!(resumed.status, Status::Active);
        assert_eq!(resumed.paused_on, None);
        assert_eq!(
            resumed.pauses,
            [Pause {
                on: date!(2026 - 11 - 05),
                days: 3
            }]
        );
        assert_eq!(resumed.paused_days(), 3);
        let done = apply(&resumed, Action::Complete, date!(2026 - 11 - 20)).unwrap();
        assert_eq!(done.ended_on, Some(date!(2026 - 11 - 20)));
        let removed = apply(&done, Action::Remove, date!(2026 - 11 - 25)).unwrap();
        assert_eq!(removed.status, Status::Removed);
        // Removing keeps the completion date: progress stays as it ended.
        assert_eq!(removed.ended_on, Some(date!(2026 - 11 - 20)));
        assert!(apply(&removed, Action::Resume, date!(2026 - 11 - 26)).is_err());
        // A pause ended by completing is recorded too.
        let p = apply(&s, Action::Pause, date!(2026 - 11 - 03)).unwrap();
        let c = apply(&p, Action::Complete, date!(2026 - 11 - 04)).unwrap();
        assert_eq!(c.paused_days(), 1);
        // Resumed the day it was paused: a pause of 0 days.
        let p = apply(&s, Action::Pause, MON).unwrap();
        assert_eq!(apply(&p, Action::Resume, MON).unwrap().paused_days(), 0);
    }

    #[test]
    fn training_dates_are_the_days_ahead_with_exercises_shifted_by_pauses_and_none_while_paused() {
        let d = |n: i64| MON + Duration::days(n);
        let s = PlanState::assigned(MON);
        // Seven days a week: day N falls on day N − 1 of the plan week; the rest day is left out,
        // and a day already past is not ahead.
        assert_eq!(training_dates(&s, 7, &template(), d(1)), [d(2), d(4), d(7)]);
        let paused = apply(&s, Action::Pause, d(1)).unwrap();
        assert!(training_dates(&paused, 7, &template(), d(2)).is_empty());
        // Resumed two days later: every day from the pause on moves two days.
        let resumed = apply(&paused, Action::Resume, d(3)).unwrap();
        assert_eq!(
            training_dates(&resumed, 7, &template(), d(3)),
            [d(4), d(6), d(9)]
        );
        let removed = apply(&resumed, Action::Remove, d(3)).unwrap();
        assert!(training_dates(&removed, 7, &template(), d(3)).is_empty());
    }

    fn template() -> Vec<TemplateDay> {
        let id = |n: u128| Uuid::from_u128(n);
        vec![
            TemplateDay {
                week: 1,
                day: 1,
                exercises: vec![id(1), id(2)],
            },
            TemplateDay {
                week: 1,
                day: 3,
                exercises: vec![id(3)],
            },
            // A rest day: not a training day.
            TemplateDay {
                week: 1,
                day: 4,
                exercises: vec![],
            },
            TemplateDay {
                week: 2,
                day: 1,
                exercises: vec![id(4)],
            },
            TemplateDay {
                week: 1,
                day: 5,
                exercises: vec![id(5)],
            },
        ]
    }

    #[test]
    fn progress_counts_days_done_due_and_the_next_one() {
        let s = PlanState::assigned(MON);
        let logged: HashSet<Uuid> = [1, 2, 5].map(Uuid::from_u128).into();
        // Wednesday of week 1.
        let p = progress(&s, 7, &template(), &logged, date!(2026 - 11 - 04));
        assert_eq!(p.days_total, 4);
        assert_eq!(p.days_done, 2, "day 1 (both exercises) and day 5");
        assert_eq!(p.days_due, 2, "days 1 and 3 are due by Wednesday");
        assert_eq!((p.current_week, p.current_week_day), (1, 3));
        assert_eq!(
            p.this_week
                .iter()
                .map(|d| (d.day, d.due_date, d.done))
                .collect::<Vec<_>>(),
            [
                (1, MON, true),
                (3, date!(2026 - 11 - 04), false),
                (5, date!(2026 - 11 - 06), true)
            ]
        );
        let next = p.next_day.unwrap();
        assert_eq!((next.week, next.day, next.exercises_logged), (1, 3, 0));

        // A half-logged day is not done.
        let half: HashSet<Uuid> = [1].map(Uuid::from_u128).into();
        let p = progress(&s, 7, &template(), &half, date!(2026 - 11 - 04));
        assert_eq!(p.days_done, 0);
        assert_eq!(p.next_day.unwrap().exercises_logged, 1);

        // Before the start: week 0, nothing due.
        let p = progress(&s, 7, &template(), &logged, date!(2026 - 11 - 01));
        assert_eq!((p.current_week, p.current_week_day, p.days_due), (0, 0, 0));
        assert!(p.this_week.is_empty());

        // Everything logged: no next day.
        let all: HashSet<Uuid> = (1..=5).map(Uuid::from_u128).collect();
        let p = progress(&s, 7, &template(), &all, date!(2026 - 11 - 30));
        assert_eq!((p.days_done, p.days_due), (4, 4));
        assert!(p.next_day.is_none());
    }

    #[test]
    fn a_pause_holds_the_days_not_reached_and_keeps_the_past() {
        let s = PlanState::assigned(MON);
        let none = HashSet::new();
        // Paused on Wednesday (day 3): day 1 stays due; days 3 and later are held.
        let paused = apply(&s, Action::Pause, date!(2026 - 11 - 04)).unwrap();
        let p = progress(&paused, 7, &template(), &none, date!(2026 - 11 - 10));
        assert_eq!(p.days_due, 1);
        assert_eq!(
            (p.current_week, p.current_week_day),
            (1, 3),
            "the plan's day stops moving"
        );
        assert_eq!(
            due_date(&paused, 1, 3, 7, date!(2026 - 11 - 10)),
            date!(2026 - 11 - 11),
            "held: tomorrow at the earliest"
        );
        // Resumed a week later: day 3 is due on the resume date, week 2 a week later.
        let resumed = apply(&paused, Action::Resume, date!(2026 - 11 - 11)).unwrap();
        let today = date!(2026 - 11 - 11);
        assert_eq!(due_date(&resumed, 1, 1, 7, today), MON);
        assert_eq!(due_date(&resumed, 1, 3, 7, today), date!(2026 - 11 - 11));
        assert_eq!(due_date(&resumed, 2, 1, 7, today), date!(2026 - 11 - 16));
        let p = progress(&resumed, 7, &template(), &none, today);
        assert_eq!(p.days_due, 2);
        assert_eq!((p.current_week, p.current_week_day), (1, 3));
    }

    #[test]
    fn training_days_spread_over_the_week() {
        assert_eq!(
            (1..=3).map(|d| week_offset(d, 3)).collect::<Vec<_>>(),
            [0, 2, 4]
        );
        assert_eq!(
            (1..=4).map(|d| week_offset(d, 4)).collect::<Vec<_>>(),
            [0, 1, 3, 5]
        );
        assert_eq!(
            (1..=7).map(|d| week_offset(d, 7)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(week_offset(1, 1), 0);
        // Out-of-range numbers stay within the week.
        assert_eq!(week_offset(9, 3), 6);
        assert_eq!(week_offset(0, 0), 0);
        let s = PlanState::assigned(MON);
        assert_eq!(
            due_date(&s, 2, 3, 3, MON),
            date!(2026 - 11 - 13),
            "week 2's Friday"
        );
    }

    #[test]
    fn an_ended_plan_is_frozen_at_its_end_date() {
        let s = PlanState::assigned(MON);
        let done = apply(&s, Action::Complete, date!(2026 - 11 - 04)).unwrap();
        let p = progress(
            &done,
            7,
            &template(),
            &HashSet::new(),
            date!(2027 - 01 - 01),
        );
        assert_eq!(p.as_of, date!(2026 - 11 - 04));
        assert_eq!(p.days_due, 2);
        assert_eq!((p.current_week, p.current_week_day), (1, 3));
    }
}
