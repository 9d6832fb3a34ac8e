//! A timed session: its state machine, the time it was active, whether it counts, and the
//! plausibility of events an offline client recorded. Pure: the callers store and publish.
//!
//! ```text
//!            pause            complete
//!  start ─▶ Running ◀──────▶ Paused ──────────▶ Completed
//!             │     resume     │   stop        ▶ Stopped
//!             │ next/previous  │   abort       ▶ Aborted
//!             └──(stays)───────┘   (from Running or Paused)
//! ```
//!
//! Completed, Stopped and Aborted are terminal: every later action is refused. Active time is
//! the sum of the Running stretches (never the pauses); `next`/`previous` move through a
//! routine's steps within `0..steps`.

use std::ops::RangeInclusive;

use time::{Duration, OffsetDateTime};

use super::Unknown;

/// Where a session is. A user has at most one live (Running or Paused) session; the
/// `sessions_one_active` index decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Running,
    Paused,
    Completed,
    Stopped,
    Aborted,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Running,
        State::Paused,
        State::Completed,
        State::Stopped,
        State::Aborted,
    ];

    /// The stored name (`sessions.state`). Running keeps the name `active` that sessions had
    /// before pauses existed, so older rows need no rewrite.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "active",
            State::Paused => "paused",
            State::Completed => "completed",
            State::Stopped => "stopped",
            State::Aborted => "aborted",
        }
    }

    /// What people call it, in error messages.
    pub fn label(self) -> &'static str {
        match self {
            State::Running => "running",
            other => other.as_str(),
        }
    }

    /// Running or Paused: the session still holds the user's one live slot.
    pub fn is_live(self) -> bool {
        matches!(self, State::Running | State::Paused)
    }
}

impl TryFrom<String> for State {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        State::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| Unknown::new("session state", name))
    }
}

/// What a session is of: an activity of the catalog (its kind) or a routine's steps. Stored by
/// name (`sessions.kind`) and published as `activity_kind`, which challenge and analytics count by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Activity(super::activity::Kind),
    Routine,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Activity(k) => k.as_str(),
            Kind::Routine => "routine",
        }
    }
}

impl TryFrom<String> for Kind {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        if name == "routine" {
            return Ok(Kind::Routine);
        }
        super::activity::Kind::parse(&name)
            .map(Kind::Activity)
            .ok_or_else(|| Unknown::new("session kind", name))
    }
}

/// What a client may do to a live session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Pause,
    Resume,
    Next,
    Previous,
    Complete,
    Stop,
    Abort,
}

impl Action {
    #[cfg(test)]
    pub const ALL: [Action; 7] = [
        Action::Pause,
        Action::Resume,
        Action::Next,
        Action::Previous,
        Action::Complete,
        Action::Stop,
        Action::Abort,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Next => "next",
            Action::Previous => "previous",
            Action::Complete => "complete",
            Action::Stop => "stop",
            Action::Abort => "abort",
        }
    }
}

/// Why an action was refused; the message names the current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The action is impossible in this state.
    Transition { state: State, action: Action },
    /// `next` at the last step or `previous` at the first.
    Bounds {
        action: Action,
        step: i32,
        steps: i32,
    },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Refused::Transition { state, action } => write!(
                f,
                "cannot {} a session that is {}",
                action.as_str(),
                state.label()
            ),
            Refused::Bounds {
                action: Action::Previous,
                ..
            } => write!(f, "the session is already at its first step"),
            Refused::Bounds { step, steps, .. } => write!(
                f,
                "the session is already at its last step ({} of {steps})",
                step + 1
            ),
        }
    }
}

/// A session's timer: everything the state machine needs, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    pub state: State,
    pub started_at: OffsetDateTime,
    /// Zero-based step reached; always within `0..steps`.
    pub step: i32,
    /// 1 for a single activity, the routine's step count for a routine.
    pub steps: i32,
    /// Active milliseconds of the Running stretches already closed by a pause or an end.
    pub active_ms: i64,
    /// When the current Running stretch began, or the last event's time otherwise. Time in a
    /// session never runs backwards: an action dated earlier counts as happening at `since`.
    pub since: OffsetDateTime,
    /// Set when the session reached a terminal state.
    pub ended_at: Option<OffsetDateTime>,
}

impl Timer {
    /// A session started at `at` with `steps` steps (at least 1): what `store::sessions::insert`
    /// stores.
    #[cfg(test)]
    pub fn start(at: OffsetDateTime, steps: i32) -> Self {
        Self {
            state: State::Running,
            started_at: at,
            step: 0,
            steps: steps.max(1),
            active_ms: 0,
            since: at,
            ended_at: None,
        }
    }

    /// The timer after `action` at `at`, or why it is refused. Refusals change nothing.
    pub fn apply(&self, action: Action, at: OffsetDateTime) -> Result<Timer, Refused> {
        let at = at.max(self.since);
        let refused = Refused::Transition {
            state: self.state,
            action,
        };
        let mut next = *self;
        match (self.state, action) {
            (State::Running, Action::Pause) => {
                next.active_ms = self.active_at(at);
                next.state = State::Paused;
                next.since = at;
            }
            (State::Paused, Action::Resume) => {
                next.state = State::Running;
                next.since = at;
            }
            (State::Running | State::Paused, Action::Next) => {
                if self.step + 1 >= self.steps {
                    return Err(Refused::Bounds {
                        action,
                        step: self.step,
                        steps: self.steps,
                    });
                }
                next.step += 1;
            }
            (State::Running | State::Paused, Action::Previous) => {
                if self.step <= 0 {
                    return Err(Refused::Bounds {
                        action,
                        step: self.step,
                        steps: self.steps,
                    });
                }
                next.step -= 1;
            }
            (State::Running | State::Paused, Action::Complete | Action::Stop | Action::Abort) => {
                next.active_ms = self.active_at(at);
                next.state = match action {
                    Action::Complete => State::Completed,
                    Action::Stop => State::Stopped,
                    _ => State::Aborted,
                };
                next.since = at;
                next.ended_at = Some(at);
                if action == Action::Complete && self.steps > 1 {
                    // Completing a routine means its last step was reached.
                    next.step = self.steps - 1;
                }
            }
            _ => return Err(refused),
        }
        Ok(next)
    }

    /// Active milliseconds as of `now` (the current Running stretch included; pauses never).
    pub fn active_at(&self, now: OffsetDateTime) -> i64 {
        let running = if self.state == State::Running {
            ms(now.max(self.since) - self.since)
        } else {
            0
        };
        self.active_ms.saturating_add(running)
    }

    /// Active time in whole seconds as of `now`, clamped to what an `i32` column holds.
    pub fn active_secs_at(&self, now: OffsetDateTime) -> i32 {
        clamp_seconds(self.active_at(now) / 1000)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.whole_milliseconds())
        .unwrap_or(i64::MAX)
        .max(0)
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

/// Integrity: the share of the planned duration a session must have been active for to count
/// toward challenges, points and streaks (docs/adr/0015).
pub const MIN_SHARE_PERCENT: i64 = 50;
/// ... and the absolute floor, whatever was planned.
pub const MIN_ACTIVE_FLOOR_SECS: i64 = 60;

/// Whether a completed session counts, and why (`session.completed.v1`'s `count_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counting {
    /// Active time reached the minimum.
    Counts,
    /// Active time fell short of `minimum_secs`.
    TooShort { minimum_secs: i64 },
}

impl Counting {
    pub fn counts(self) -> bool {
        self == Counting::Counts
    }

    /// The published reason code.
    pub fn reason(self) -> &'static str {
        match self {
            Counting::Counts => "ACTIVE_TIME_REACHED_MINIMUM",
            Counting::TooShort { .. } => "ACTIVE_TIME_BELOW_MINIMUM",
        }
    }
}

/// The active seconds a session planned for `planned_secs` needs to count:
/// `max(ceil(planned × 50 %), 60 s)`.
pub fn minimum_active_secs(planned_secs: i32) -> i64 {
    let share = (i64::from(planned_secs.max(0)) * MIN_SHARE_PERCENT + 99) / 100;
    share.max(MIN_ACTIVE_FLOOR_SECS)
}

/// Whether a session planned for `planned_secs` and active for `active_secs` counts.
pub fn counting(planned_secs: i32, active_secs: i32) -> Counting {
    let minimum_secs = minimum_active_secs(planned_secs);
    if i64::from(active_secs) >= minimum_secs {
        Counting::Counts
    } else {
        Counting::TooShort { minimum_secs }
    }
}

/// Offline events may be dated this far past the server's clock (client clocks drift).
pub const CLOCK_SKEW: Duration = Duration::minutes(2);
/// No session lasts longer than this from start to end: a later event is implausible.
pub const MAX_SESSION: Duration = Duration::hours(24);

/// Why an offline event's time is implausible, as a field description; None when plausible.
/// `previous` is the session's last event time, `started` its start (None for a start).
pub fn implausible_time(
    at: OffsetDateTime,
    now: OffsetDateTime,
    started: Option<OffsetDateTime>,
    previous: Option<OffsetDateTime>,
) -> Option<&'static str> {
    if at > now + CLOCK_SKEW {
        return Some("is in the future beyond the 2-minute clock-skew allowance");
    }
    if previous.is_some_and(|p| at < p) {
        return Some("is before the session's previous event: events must be in order");
    }
    if started.is_some_and(|s| at - s > MAX_SESSION) {
        return Some("is more than 24 hours after the session started: impossible duration");
    }
    if started.is_none() && now - at > MAX_SESSION {
        return Some("starts a session more than 24 hours ago: impossible duration");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

    fn at(secs: i64) -> OffsetDateTime {
        T0 + Duration::seconds(secs)
    }

    #[test]
    fn pauses_do_not_count_as_active_time() {
        let t = Timer::start(T0, 1);
        let t = t.apply(Action::Pause, at(600)).unwrap();
        assert_eq!(t.active_secs_at(at(900)), 600, "paused: the clock stands");
        let t = t.apply(Action::Resume, at(900)).unwrap();
        assert_eq!(t.active_secs_at(at(1000)), 700);
        let t = t.apply(Action::Complete, at(1500)).unwrap();
        assert_eq!(t.state, State::Completed);
        assert_eq!(t.ended_at, Some(at(1500)));
        assert_eq!(
            t.active_secs_at(at(99_999)),
            1200,
            "ended: the clock stands"
        );
    }

    #[test]
    fn impossible_transitions_name_the_current_state() {
        let t = Timer::start(T0, 1);
        let e = t.apply(Action::Resume, at(1)).unwrap_err();
        assert_eq!(e.to_string(), "cannot resume a session that is running");
        let p = t.apply(Action::Pause, at(1)).unwrap();
        assert_eq!(
            p.apply(Action::Pause, at(2)).unwrap_err().to_string(),
            "cannot pause a session that is paused"
        );
        let done = p.apply(Action::Abort, at(3)).unwrap();
        for a in Action::ALL {
            assert_eq!(
                done.apply(a, at(4)),
                Err(Refused::Transition {
                    state: State::Aborted,
                    action: a
                })
            );
        }
        assert_eq!(
            t.apply(Action::Next, at(1)).unwrap_err().to_string(),
            "the session is already at its last step (1 of 1)"
        );
        assert_eq!(
            t.apply(Action::Previous, at(1)).unwrap_err().to_string(),
            "the session is already at its first step"
        );
    }

    #[test]
    fn a_routine_steps_through_its_steps_and_completing_reaches_the_last() {
        let t = Timer::start(T0, 3);
        let t = t.apply(Action::Next, at(60)).unwrap();
        let t = t.apply(Action::Next, at(120)).unwrap();
        assert_eq!(t.step, 2);
        assert!(matches!(
            t.apply(Action::Next, at(130)),
            Err(Refused::Bounds { .. })
        ));
        let t = t.apply(Action::Previous, at(140)).unwrap();
        assert_eq!(t.step, 1);
        let stopped = t.apply(Action::Stop, at(150)).unwrap();
        assert_eq!((stopped.state, stopped.step), (State::Stopped, 1));
        let done = t.apply(Action::Complete, at(150)).unwrap();
        assert_eq!((done.state, done.step), (State::Completed, 2));
    }

    #[test]
    fn an_action_dated_before_the_last_counts_at_the_last() {
        let t = Timer::start(T0, 1).apply(Action::Pause, at(100)).unwrap();
        let t = t.apply(Action::Resume, at(50)).unwrap();
        assert_eq!(t.since, at(100));
        assert_eq!(t.active_secs_at(at(160)), 160);
    }

    #[test]
    fn a_session_counts_from_half_its_plan_with_a_one_minute_floor() {
        assert_eq!(minimum_active_secs(25 * 60), 750);
        assert_eq!(minimum_active_secs(61), 60, "the floor");
        assert_eq!(minimum_active_secs(121), 61, "rounded up");
        assert_eq!(counting(1500, 750), Counting::Counts);
        assert_eq!(
            counting(1500, 749),
            Counting::TooShort { minimum_secs: 750 }
        );
        assert_eq!(counting(60, 59).reason(), "ACTIVE_TIME_BELOW_MINIMUM");
        assert_eq!(counting(60, 60).reason(), "ACTIVE_TIME_REACHED_MINIMUM");
        // The seed's exploit: started and completed in the same second.
        assert!(!counting(1500, 0).counts());
    }

    #[test]
    fn offline_times_are_checked_for_skew_order_and_duration() {
        let now = at(0);
        assert_eq!(implausible_time(at(120), now, None, None), None);
        assert!(implausible_time(at(121), now, None, None).is_some());
        assert!(implausible_time(at(-10), now, Some(at(-100)), Some(at(-5))).is_some());
        assert!(implausible_time(at(-10), now, Some(at(-90_000)), None).is_some());
        assert!(implausible_time(at(-90_000), now, None, None).is_some());
        assert_eq!(
            implausible_time(at(-10), now, Some(at(-100)), Some(at(-10))),
            None
        );
    }

    #[test]
    fn a_start_plans_the_requested_length_or_the_activitys_default() {
        assert!(PLANNED.contains(&Duration::minutes(1)));
        assert!(!PLANNED.contains(&Duration::seconds(59)));
        assert!(!PLANNED.contains(&(Duration::hours(4) + Duration::seconds(1))));
        assert_eq!(planned_seconds(None, 1500), 1500);
        assert_eq!(planned_seconds(Some(Duration::minutes(50)), 1500), 3000);
    }

    #[test]
    fn states_and_actions_are_stored_by_their_name() {
        for s in State::ALL {
            assert_eq!(State::try_from(s.as_str().to_owned()).unwrap(), s);
        }
        assert!(State::try_from("cancelled".to_owned()).is_err());
    }

    fn action() -> impl Strategy<Value = Action> {
        proptest::sample::select(Action::ALL.to_vec())
    }

    proptest! {
        /// Random event sequences, at random (even backwards) times: the invariants hold after
        /// every step, refusals change nothing, terminal states absorb.
        #[test]
        fn invariants_hold_over_random_event_sequences(
            steps in 1..6i32,
            events in proptest::collection::vec((action(), -600..3600i64), 0..40),
        ) {
            let mut t = Timer::start(T0, steps);
            let mut clock = T0;
            for (a, dt) in events {
                let when = clock + Duration::seconds(dt);
                clock = clock.max(when);
                let before = t;
                match t.apply(a, when) {
                    Ok(next) => {
                        prop_assert!(before.ended_at.is_none(), "a terminal state absorbs");
                        t = next;
                    }
                    Err(_) => prop_assert_eq!(t, before),
                }
                let now = clock.max(t.since);
                let wall = ms(t.ended_at.unwrap_or(now) - t.started_at);
                let active = t.active_at(now);
                prop_assert!(active >= 0);
                prop_assert!(active <= wall, "active {} > wall {}", active, wall);
                prop_assert!((0..t.steps).contains(&t.step));
                prop_assert_eq!(t.ended_at.is_some(), !t.state.is_live());
                prop_assert!(t.since >= t.started_at);
                if !t.state.is_live() {
                    for a in Action::ALL {
                        prop_assert!(t.apply(a, now).is_err());
                    }
                }
            }
        }
    }
}
