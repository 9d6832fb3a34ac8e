//! The caller's timed sessions: start one (of an activity or a routine), move it through the
//! state machine (`domain::session`), see the live one, any one, the history, and apply an
//! offline client's batch of events.

use std::sync::Arc;

use sqlx::PgConnection;
use stride_bus::{directory, outbox::Staged};
use stride_kit::{
    AppError, AppResult, Call, ResultExt as _, Violations,
    convert::{
        date, from_date, from_duration, from_timestamp, local_date, parse_id, require_id, timestamp,
    },
    pagination::Page,
};
use stride_proto::activity_session as pb;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{ActivitySessions, convert};

mod offline;
use crate::{
    domain::{
        activity,
        routine::{self, Step},
        session::{self, Action, Kind, State},
    },
    errors,
    events::publish,
    store::{
        self,
        sessions::{Change, Ending, EventRecord, Filter, Locked, NewSession, SessionRow},
    },
};
pub(super) use offline::sync_session_events;

/// Page size when the request says 0.
const DEFAULT_PAGE_SIZE: usize = 20;

/// What a start asks for, shape-checked.
struct StartSpec {
    activity_id: Option<Uuid>,
    routine_id: Option<Uuid>,
    planned: Option<Duration>,
    lesson_id: Option<Uuid>,
    topic_id: Option<Uuid>,
    plan_day_id: Option<Uuid>,
}

fn optional_id(v: &mut Violations, field: &str, raw: &str) -> Option<Uuid> {
    (!raw.is_empty()).then(|| parse_id(v, field, raw))
}

/// Checks a start request's shape; fields are named under `prefix` (e.g. `events[3].start.`).
fn check_start(v: &mut Violations, prefix: &str, req: &pb::StartSessionRequest) -> StartSpec {
    let f = |name: &str| format!("{prefix}{name}");
    let (activity_id, routine_id) = match (req.activity_id.is_empty(), req.routine_id.is_empty()) {
        (true, true) => {
            v.add(&f("activity_id"), "is required (or routine_id)");
            (None, None)
        }
        (false, false) => {
            v.add(&f("routine_id"), "must be empty when activity_id is given");
            (None, None)
        }
        _ => (
            optional_id(v, &f("activity_id"), &req.activity_id),
            optional_id(v, &f("routine_id"), &req.routine_id),
        ),
    };
    let planned = req.planned_duration.as_ref().map(from_duration);
    v.when(
        planned.is_some_and(|p| !session::PLANNED.contains(&p)),
        &f("planned_duration"),
        "must be between 1 minute and 4 hours",
    );
    v.when(
        planned.is_some() && !req.routine_id.is_empty(),
        &f("planned_duration"),
        "must be unset for a routine: its steps plan it",
    );
    StartSpec {
        activity_id,
        routine_id,
        planned,
        lesson_id: optional_id(v, &f("lesson_id"), &req.lesson_id),
        topic_id: optional_id(v, &f("topic_id"), &req.topic_id),
        plan_day_id: optional_id(v, &f("plan_day_id"), &req.plan_day_id),
    }
}

/// Which session a start creates, from which event, when, and from where.
struct Origin {
    session_id: Uuid,
    event_id: Uuid,
    at: OffsetDateTime,
    offline: bool,
}

/// A start, checked and looked up: the session to insert, and its zone.
struct Start {
    new: NewSession,
    tz: String,
}

/// Checks and looks up what starting session `o.session_id` for `user` (whose zone is `tz`) as
/// `spec` asks needs (the activity or routine). Writes nothing.
async fn prepare_start(
    s: &ActivitySessions,
    conn: &mut PgConnection,
    (user, tz): (Uuid, String),
    o: &Origin,
    spec: &StartSpec,
    prefix: &str,
) -> AppResult<Start> {
    let (kind, activity_id, planned_seconds, steps): (Kind, Option<Uuid>, i32, Option<Vec<Step>>) =
        match (spec.activity_id, spec.routine_id) {
            (Some(a), _) => {
                let activity = s
                    .presets
                    .get(conn, a)
                    .await?
                    .ok_or_else(errors::no_activity)?;
                let planned = session::planned_seconds(spec.planned, activity.default_seconds);
                (Kind::Activity(activity.kind), Some(a), planned, None)
            }
            (None, Some(r)) => {
                let steps = match routine::preset(r) {
                    Some(p) => p.steps.to_vec(),
                    None => {
                        store::routines::get(conn, user, r)
                            .await?
                            .ok_or_else(errors::no_routine)?
                            .steps
                            .0
                    }
                };
                (
                    Kind::Routine,
                    None,
                    routine::total_seconds(&steps),
                    Some(steps),
                )
            }
            (None, None) => {
                return Err(AppError::invalid(
                    &format!("{prefix}activity_id"),
                    "is required",
                ));
            }
        };
    let study = kind == Kind::Activity(activity::Kind::Study);
    let workout = kind == Kind::Activity(activity::Kind::Workout);
    let mut v = Violations::new();
    for (field, given) in [("lesson_id", spec.lesson_id), ("topic_id", spec.topic_id)] {
        v.when(
            given.is_some() && !study,
            &format!("{prefix}{field}"),
            "only a study session refers to a lesson or topic",
        );
    }
    v.when(
        spec.plan_day_id.is_some() && !workout,
        &format!("{prefix}plan_day_id"),
        "only a workout session refers to a plan day",
    );
    v.check()?;
    let new = NewSession {
        id: o.session_id,
        user,
        activity_id,
        kind,
        started_at: o.at,
        planned_seconds,
        routine_id: spec.routine_id,
        steps,
        lesson_id: spec.lesson_id,
        topic_id: spec.topic_id,
        plan_day_id: spec.plan_day_id,
        start_local_date: local_date(o.at, &tz),
    };
    Ok(Start { new, tz })
}

/// Stores a prepared start, its log entry and its announcement in one statement; with
/// `zone_checked`, only if the user's zone is still the one the start was dated in (None,
/// nothing written, when it changed). A live session of the user refuses it (the
/// one-live-session index decides a race).
async fn insert_start(
    conn: &mut PgConnection,
    start: &Start,
    o: &Origin,
    zone_checked: bool,
) -> AppResult<Option<SessionRow>> {
    let announce = Staged::new(&publish::started(&start.new.row(), &start.tz));
    let event = EventRecord {
        user: start.new.user,
        event_id: o.event_id,
        session_id: o.session_id,
        action: "start",
        occur_time: o.at,
        applied_at: o.at,
        offline: o.offline,
    };
    let zone = zone_checked.then_some(start.tz.as_str());
    store::sessions::insert(conn, &start.new, &event, &announce, zone)
        .await
        .on_constraint(store::sessions::ONE_ACTIVE, |_| {
            errors::session_already_active(None)
        })
}

/// Guesses kept in process by id, at most `N` (least recently used go first). Nothing kept
/// is relied on: the statement that uses an entry checks it and writes nothing when it is
/// stale, and the handler reads again.
#[derive(Clone)]
pub struct Kept<V, const N: usize>(Arc<quick_cache::sync::Cache<Uuid, V>>);

impl<V: Clone, const N: usize> Default for Kept<V, N> {
    fn default() -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(N)))
    }
}

/// The users' zones as last read (~100 bytes each): a live start is dated in the kept zone and
/// its statement writes only if the zone is still that one, so a start needs no round trip of
/// its own for the zone, and a zone changed by another replica's event is noticed by the
/// statement, never used.
pub type Zones = Kept<String, 16_384>;

/// Live sessions as this process last wrote them, with the zone they were computed in (~500
/// bytes each): a transition is computed from the kept copy and stored by compare-and-set on
/// its timer, its user and the user's zone, so pausing or completing a session this process
/// started needs no read first. A copy that another replica, an offline upload, a merge or a
/// zone change made stale writes nothing, and the session is read again.
pub type Live = Kept<Arc<Locked>, 8_192>;

impl Live {
    /// The kept copy of session `id`, if it is `user`'s.
    fn copy(&self, user: Uuid, id: Uuid) -> Option<Arc<Locked>> {
        self.0.get(&id).filter(|l| l.row.user_id == user)
    }

    /// Keeps `row` (computed in zone `tz`) while it is live; an ended session is forgotten.
    fn keep(&self, row: &SessionRow, tz: &str) {
        if row.state.is_live() {
            let kept = Locked {
                row: row.clone(),
                timezone: tz.to_owned(),
            };
            self.0.insert(row.id, Arc::new(kept));
        } else {
            self.forget(row.id);
        }
    }

    fn forget(&self, id: Uuid) {
        self.0.remove(&id);
    }
}

/// A transition computed from the session as read: its new timer, what its ending records,
/// and its announcement. Stores nothing; [`store_transition`] does.
struct Computed {
    after: session::Timer,
    at: OffsetDateTime,
    local_date: time::Date,
    counts: Option<(bool, &'static str)>,
    announce: Option<Staged>,
}

impl Computed {
    /// What the session's end records (in zone `tz`), when the transition ends it.
    fn ending<'a>(&self, tz: &'a str) -> Option<Ending<'a>> {
        (!self.after.state.is_live()).then(|| Ending {
            local_date: self.local_date,
            timezone: tz,
            active_secs: self.after.active_secs_at(self.at),
            counts: self.counts,
        })
    }
}

/// Applies `action` at `at` to the session as read (with its user's zone); the announcement is
/// built from the row as it will be stored.
fn compute(read: &Locked, action: Action, at: OffsetDateTime) -> AppResult<Computed> {
    let (row, tz) = (&read.row, read.timezone.as_str());
    let t = row.timer().apply(action, at).map_err(errors::refused)?;
    let at = t.since;
    let counts = (t.state == State::Completed)
        .then(|| session::counting(row.planned_seconds, t.active_secs_at(at)))
        .map(|c| (c.counts(), c.reason()));
    let mut c = Computed {
        after: t,
        at,
        local_date: local_date(at, tz),
        counts,
        announce: None,
    };
    let new = row.after(&c.after, c.ending(tz).as_ref());
    c.announce = match publish::transition(&new, action, at, tz) {
        Some(publish::Event::Paused(e)) => Some(Staged::new(&e)),
        Some(publish::Event::Resumed(e)) => Some(Staged::new(&e)),
        Some(publish::Event::Completed(e)) => Some(Staged::new(&e)),
        Some(publish::Event::Stopped(e)) => Some(Staged::new(&e)),
        Some(publish::Event::Aborted(e)) => Some(Staged::new(&e)),
        None => None,
    };
    Ok(c)
}

/// Where the session a transition was computed from came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// A live call's read.
    Read,
    /// A live call's kept copy ([`Live`]): its zone is checked by the statement too.
    Kept,
    /// An offline upload's locked read.
    Offline,
}

/// Stores `c`, computed from `read`, with its log entry and announcement, in one statement;
/// None when the session's timer moved since it was read (nothing written).
async fn store_transition(
    conn: &mut PgConnection,
    read: &Locked,
    c: &Computed,
    action: Action,
    event_id: Uuid,
    applied_at: OffsetDateTime,
    via: Via,
) -> AppResult<Option<SessionRow>> {
    let row = &read.row;
    let ending = c.ending(&read.timezone);
    let saved = store::sessions::save(
        conn,
        &Change {
            before: row,
            after: &c.after,
            ending: ending.as_ref(),
            event: EventRecord {
                user: row.user_id,
                event_id,
                session_id: row.id,
                action: action.as_str(),
                occur_time: c.at,
                applied_at,
                offline: via == Via::Offline,
            },
            announce: c.announce.as_ref(),
            kept_zone: (via == Via::Kept).then_some(read.timezone.as_str()),
        },
    )
    .await?;
    Ok(saved)
}

/// Starts a session of an activity or a routine. One live session per user.
pub(super) async fn start_session(
    s: &ActivitySessions,
    call: Call<pb::StartSessionRequest>,
) -> AppResult<pb::StartSessionResponse> {
    let caller = call.caller()?;
    let mut v = Violations::new();
    let spec = check_start(&mut v, "", &call.message);
    v.check()?;
    let now = s.clock.now_db();
    let origin = Origin {
        session_id: Uuid::now_v7(),
        event_id: Uuid::now_v7(),
        at: now,
        offline: false,
    };
    // No transaction: the look-ups only read, and one statement stores the session, its log
    // entry and its announcement. The zone is the one kept from an earlier start when there is
    // one (checked by the statement; read again if it changed). The one-live-session index
    // decides (no look-up first); the refusal then names the live session.
    let user = caller.user_id;
    let mut conn = s.pool.acquire().await?;
    let mut kept = s.zones.0.get(&user);
    let inserted = loop {
        let checked = kept.is_some();
        let tz = match kept.take() {
            Some(tz) => tz,
            None => {
                let tz = directory::timezone(&mut conn, user).await?;
                s.zones.0.insert(user, tz.clone());
                tz
            }
        };
        let start = prepare_start(s, &mut conn, (user, tz), &origin, &spec, "").await?;
        match insert_start(&mut conn, &start, &origin, checked).await {
            Ok(None) => continue,
            other => break other.map(|row| row.map(|row| (row, start.tz))),
        }
    };
    let row = match inserted {
        Ok(Some((row, tz))) => {
            s.live.keep(&row, &tz);
            row
        }
        Err(AppError::FailedPrecondition {
            reason: errors::SESSION_ALREADY_ACTIVE,
            ..
        }) => {
            let live = store::sessions::active(&mut conn, user).await?;
            return Err(errors::session_already_active(live.map(|l| l.id)));
        }
        // (An unchecked insert writes or fails: not reached.)
        Ok(None) => return Err(errors::session_contended()),
        Err(e) => return Err(e),
    };
    s.outbox.kick();
    Ok(pb::StartSessionResponse {
        session: Some(to_proto(row, now)),
    })
}

/// How many times a live transition reads the session again when another call changed it
/// between the read and the write.
const TRANSITION_ATTEMPTS: usize = 5;

/// Applies `action` now to the caller's session `raw_id`: read, compute, store by
/// compare-and-set (no lock held across round trips, no transaction: the store is one
/// statement); a concurrent change is read again.
async fn act(
    s: &ActivitySessions,
    user: Uuid,
    raw_id: &str,
    action: Action,
) -> AppResult<pb::Session> {
    let id = require_id("session_id", raw_id)?;
    let mut conn = s.pool.acquire().await?;
    // The kept copy first (see `Live`): stale, it writes nothing or its refusal is not
    // trusted, and the session is read; it does not use up a read.
    let mut kept = s.live.copy(user, id);
    for _ in 0..TRANSITION_ATTEMPTS + usize::from(kept.is_some()) {
        let now = s.clock.now_db();
        let from_kept = kept.is_some();
        let read = match kept.take() {
            Some(k) => k,
            None => Arc::new(
                store::sessions::current(&mut conn, user, id)
                    .await?
                    .ok_or_else(errors::no_session)?,
            ),
        };
        let c = match compute(&read, action, now) {
            Ok(c) => c,
            Err(_) if from_kept => {
                s.live.forget(id);
                continue;
            }
            Err(e) => return Err(e),
        };
        let saved = store_transition(
            &mut conn,
            &read,
            &c,
            action,
            Uuid::now_v7(),
            now,
            if from_kept { Via::Kept } else { Via::Read },
        )
        .await?;
        match saved {
            Some(row) => {
                if c.announce.is_some() {
                    s.outbox.kick();
                }
                s.live.keep(&row, &read.timezone);
                return Ok(to_proto(row, now));
            }
            None => {
                s.live.forget(id);
            }
        }
    }
    Err(errors::session_contended())
}

/// Completes the caller's live session now and announces `session.completed.v1` (whether it
/// counts: `session::counting`), in one transaction.
pub(super) async fn complete_session(
    s: &ActivitySessions,
    call: Call<pb::CompleteSessionRequest>,
) -> AppResult<pb::CompleteSessionResponse> {
    let caller = call.caller()?;
    let session = act(
        s,
        caller.user_id,
        &call.message.session_id,
        Action::Complete,
    )
    .await?;
    Ok(pb::CompleteSessionResponse {
        session: Some(session),
    })
}

fn action_of(raw: i32) -> Option<Action> {
    match pb::SessionAction::try_from(raw).ok()? {
        pb::SessionAction::Pause => Some(Action::Pause),
        pb::SessionAction::Resume => Some(Action::Resume),
        pb::SessionAction::Next => Some(Action::Next),
        pb::SessionAction::Previous => Some(Action::Previous),
        pb::SessionAction::Complete => Some(Action::Complete),
        pb::SessionAction::Stop => Some(Action::Stop),
        pb::SessionAction::Abort => Some(Action::Abort),
        pb::SessionAction::Start | pb::SessionAction::Unspecified => None,
    }
}

/// Pause, resume, next, previous, complete, stop or abort, now.
pub(super) async fn record_session_event(
    s: &ActivitySessions,
    call: Call<pb::RecordSessionEventRequest>,
) -> AppResult<pb::RecordSessionEventResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    parse_id(&mut v, "session_id", &req.session_id);
    let action = action_of(req.action);
    v.when(
        action.is_none(),
        "action",
        "must be PAUSE, RESUME, NEXT, PREVIOUS, COMPLETE, STOP or ABORT",
    );
    v.check()?;
    let Some(action) = action else {
        return Err(AppError::invalid("action", "is required"));
    };
    let session = act(s, caller.user_id, &req.session_id, action).await?;
    Ok(pb::RecordSessionEventResponse {
        session: Some(session),
    })
}

/// The caller's live session, if any, with its active time as of now.
pub(super) async fn get_current_session(
    s: &ActivitySessions,
    call: Call<pb::GetCurrentSessionRequest>,
) -> AppResult<pb::GetCurrentSessionResponse> {
    let caller = call.caller()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::sessions::active(&mut conn, caller.user_id).await?;
    let now = s.clock.now_db();
    Ok(pb::GetCurrentSessionResponse {
        session: row.map(|r| to_proto(r, now)),
    })
}

pub(super) async fn get_session(
    s: &ActivitySessions,
    call: Call<pb::GetSessionRequest>,
) -> AppResult<pb::GetSessionResponse> {
    let caller = call.caller()?;
    let id = require_id("session_id", &call.message.session_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::sessions::get(&mut conn, caller.user_id, id)
        .await?
        .ok_or_else(errors::no_session)?;
    Ok(pb::GetSessionResponse {
        session: Some(to_proto(row, s.clock.now_db())),
    })
}

fn session_kind(raw: i32) -> Result<Option<Kind>, ()> {
    use activity::Kind as A;
    Ok(match pb::SessionKind::try_from(raw).map_err(|_| ())? {
        pb::SessionKind::Unspecified => None,
        pb::SessionKind::Focus => Some(Kind::Activity(A::Focus)),
        pb::SessionKind::Break => Some(Kind::Activity(A::Break)),
        pb::SessionKind::Workout => Some(Kind::Activity(A::Workout)),
        pb::SessionKind::Study => Some(Kind::Activity(A::Study)),
        pb::SessionKind::Routine => Some(Kind::Routine),
        pb::SessionKind::Meditation => Some(Kind::Activity(A::Meditation)),
        pb::SessionKind::Custom => Some(Kind::Activity(A::Custom)),
    })
}

fn to_session_kind(k: Kind) -> pb::SessionKind {
    use activity::Kind as A;
    match k {
        Kind::Activity(A::Focus) => pb::SessionKind::Focus,
        Kind::Activity(A::Break) => pb::SessionKind::Break,
        Kind::Activity(A::Workout) => pb::SessionKind::Workout,
        Kind::Activity(A::Study) => pb::SessionKind::Study,
        Kind::Routine => pb::SessionKind::Routine,
        Kind::Activity(A::Meditation) => pb::SessionKind::Meditation,
        Kind::Activity(A::Custom) => pb::SessionKind::Custom,
    }
}

/// The caller's sessions, newest first, by kind and local start dates.
pub(super) async fn list_sessions(
    s: &ActivitySessions,
    call: Call<pb::ListSessionsRequest>,
) -> AppResult<pb::ListSessionsResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<(OffsetDateTime, Uuid)>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        DEFAULT_PAGE_SIZE,
    );
    let kind = session_kind(req.kind).unwrap_or_else(|()| {
        v.add("kind", "is not a known session kind");
        None
    });
    let mut day = |field: &str, d: Option<&stride_proto::Date>| {
        d.and_then(|d| {
            let parsed = from_date(d);
            v.when(parsed.is_none(), field, "is not a valid date");
            parsed
        })
    };
    let from = day("start_date", req.start_date.as_ref());
    let to = day("end_date", req.end_date.as_ref());
    v.when(
        matches!((from, to), (Some(a), Some(b)) if a > b),
        "end_date",
        "must not be before start_date",
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::sessions::list(
        &mut conn,
        caller.user_id,
        &Filter { kind, from, to },
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.started_at, r.id));
    let now = s.clock.now_db();
    Ok(pb::ListSessionsResponse {
        sessions: rows.into_iter().map(|r| to_proto(r, now)).collect(),
        next_page_token,
    })
}

pub(super) fn to_proto(r: SessionRow, now: OffsetDateTime) -> pb::Session {
    let state = match r.state {
        State::Running => pb::SessionState::Active,
        State::Paused => pb::SessionState::Paused,
        State::Completed => pb::SessionState::Completed,
        State::Stopped => pb::SessionState::Stopped,
        State::Aborted => pb::SessionState::Aborted,
    };
    let timer = r.timer();
    let as_of = r.ended_at.unwrap_or(now);
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    pb::Session {
        id: r.id.to_string(),
        activity_id: id(r.activity_id),
        kind: match r.kind {
            Kind::Activity(k) => convert::kind(k) as i32,
            Kind::Routine => pb::ActivityKind::Unspecified as i32,
        },
        session_kind: to_session_kind(r.kind) as i32,
        state: state as i32,
        start_time: Some(timestamp(r.started_at)),
        end_time: r.ended_at.map(timestamp),
        planned_duration: Some(convert::seconds(r.planned_seconds)),
        duration: Some(convert::seconds(timer.active_secs_at(as_of))),
        local_date: r.local_date.map(date),
        timezone: r.timezone.unwrap_or_default(),
        routine_id: id(r.routine_id),
        step: r.step,
        step_count: r.step_count,
        lesson_id: id(r.lesson_id),
        topic_id: id(r.topic_id),
        plan_day_id: id(r.plan_day_id),
        paused_time: (r.state == State::Paused).then(|| timestamp(r.since)),
        counts: r.counts.unwrap_or(false),
        count_reason: r.count_reason.unwrap_or_default(),
        start_local_date: Some(date(r.start_local_date)),
    }
}
