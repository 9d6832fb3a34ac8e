//! The `sessions` table (every session of every user, with its timer) and `session_events`
//! (each session's event log, keyed by the event id so offline replays are no-ops).

use sqlx::PgConnection;
use stride_bus::outbox::Staged;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{
    routine::Step,
    session::{Kind, State, Timer},
};

/// The partial unique index that allows one live (running or paused) session per user: it
/// decides, so two concurrent starts cannot both win.
pub const ONE_ACTIVE: &str = "sessions_one_active";

const COLUMNS: &str = "id, user_id, activity_id, kind, state, started_at, ended_at, \
                       planned_seconds, local_date, timezone, routine_id, \
                       lesson_id, topic_id, plan_day_id, step, step_count, active_ms, since, \
                       counts, count_reason, start_local_date";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    /// None for a routine session.
    pub activity_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    #[sqlx(try_from = "String")]
    pub state: State,
    pub started_at: OffsetDateTime,
    pub planned_seconds: i32,
    /// Set when the session ended, with the zone the local date was computed in.
    pub ended_at: Option<OffsetDateTime>,
    pub local_date: Option<Date>,
    pub timezone: Option<String>,
    pub routine_id: Option<Uuid>,
    pub lesson_id: Option<Uuid>,
    pub topic_id: Option<Uuid>,
    pub plan_day_id: Option<Uuid>,
    pub step: i32,
    pub step_count: i32,
    pub active_ms: i64,
    pub since: OffsetDateTime,
    /// Set on completion.
    pub counts: Option<bool>,
    pub count_reason: Option<String>,
    pub start_local_date: Date,
}

impl SessionRow {
    pub fn timer(&self) -> Timer {
        Timer {
            state: self.state,
            started_at: self.started_at,
            step: self.step,
            steps: self.step_count,
            active_ms: self.active_ms,
            since: self.since,
            ended_at: self.ended_at,
        }
    }
}

/// A session to insert.
pub struct NewSession {
    pub id: Uuid,
    pub user: Uuid,
    pub activity_id: Option<Uuid>,
    pub kind: Kind,
    pub started_at: OffsetDateTime,
    pub planned_seconds: i32,
    pub routine_id: Option<Uuid>,
    pub steps: Option<Vec<Step>>,
    pub lesson_id: Option<Uuid>,
    pub topic_id: Option<Uuid>,
    pub plan_day_id: Option<Uuid>,
    pub start_local_date: Date,
}

impl NewSession {
    fn step_count(&self) -> i32 {
        self.steps
            .as_ref()
            .map_or(1, |st| i32::try_from(st.len()).unwrap_or(i32::MAX).max(1))
    }

    /// The row [`insert`] stores, as the database will return it: what its announcement is
    /// built from before the statement that writes both.
    pub fn row(&self) -> SessionRow {
        SessionRow {
            id: self.id,
            user_id: self.user,
            activity_id: self.activity_id,
            kind: self.kind,
            state: State::Running,
            started_at: self.started_at,
            planned_seconds: self.planned_seconds,
            ended_at: None,
            local_date: None,
            timezone: None,
            routine_id: self.routine_id,
            lesson_id: self.lesson_id,
            topic_id: self.topic_id,
            plan_day_id: self.plan_day_id,
            step: 0,
            step_count: self.step_count(),
            active_ms: 0,
            since: self.started_at,
            counts: None,
            count_reason: None,
            start_local_date: self.start_local_date,
        }
    }
}

/// Inserts a running session, logs its start event `e` (a replayed event id is a no-op) and
/// writes its announcement to the outbox, in one statement: atomic on its own, so a live start
/// needs no transaction around it. With `zone`, only if the user's zone is still that one (the
/// start was dated in it); None, writing nothing, when it changed. Fails on [`ONE_ACTIVE`] when
/// the user already has a live session, writing nothing.
pub async fn insert(
    conn: &mut PgConnection,
    s: &NewSession,
    e: &EventRecord<'_>,
    announce: &Staged,
    zone: Option<&str>,
) -> sqlx::Result<Option<SessionRow>> {
    let q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH s AS (
             INSERT INTO sessions (id, user_id, activity_id, kind, state, started_at, planned_seconds,
                 routine_id, steps, step_count, lesson_id, topic_id, plan_day_id, since, start_local_date)
             SELECT $1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12, $5, $13
             WHERE $25::text IS NULL OR {} = $25::text
             RETURNING {COLUMNS}
         ), e AS ({}), o AS ({})
         SELECT * FROM s",
        stride_bus::directory::timezone_sql("$2"),
        log_event(14),
        Staged::insert_sql(21, Some("s")),
    )))
    .bind(s.id)
    .bind(s.user)
    .bind(s.activity_id)
    .bind(s.kind.as_str())
    .bind(s.started_at)
    .bind(s.planned_seconds)
    .bind(s.routine_id)
    .bind(s.steps.as_deref().map(sqlx::types::Json))
    .bind(s.step_count())
    .bind(s.lesson_id)
    .bind(s.topic_id)
    .bind(s.plan_day_id)
    .bind(s.start_local_date);
    let q = announce.bind(e.bind(q)).bind(zone);
    q.fetch_optional(conn).await
}

/// Appends an event to `session_events` from seven parameters starting at `$first` (user,
/// event id, session, action, occurrence, application, source), as a CTE beside the statement
/// that changes the session (`s`, whose row it needs: nothing is logged when the change did
/// not happen): one round trip for both. A replayed event id is a no-op.
fn log_event(first: usize) -> String {
    let types = [
        "uuid",
        "uuid",
        "uuid",
        "text",
        "timestamptz",
        "timestamptz",
        "text",
    ];
    let p: Vec<String> = (first..)
        .zip(types)
        .map(|(i, t)| format!("${i}::{t}"))
        .collect();
    format!(
        "INSERT INTO session_events
             (user_id, event_id, session_id, action, occur_time, applied_at, source)
         SELECT {} FROM s ON CONFLICT (user_id, event_id) DO NOTHING",
        p.join(", ")
    )
}

/// The user's live (running or paused) session, if any.
pub async fn active(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND state IN ('active', 'paused')"
    )))
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Session `id` of `user`; None when missing or someone else's.
pub async fn get(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sessions WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Whether a session with this id exists at all (any user's): an offline start must not reuse it.
pub async fn exists(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// A session locked for a transition, with its user's timezone now.
#[derive(Debug, sqlx::FromRow)]
pub struct Locked {
    #[sqlx(flatten)]
    pub row: SessionRow,
    #[sqlx(rename = "user_timezone")]
    pub timezone: String,
}

/// Session `id` of `user`, locked until the transaction ends, with the user's timezone read in
/// the same statement; None when the session does not exist or is someone else's.
pub async fn lock(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<Locked>> {
    read(conn, user, id, " FOR UPDATE OF sessions").await
}

/// [`lock`] without the lock, for a transition stored by compare-and-set ([`save`]).
pub async fn current(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Locked>> {
    read(conn, user, id, "").await
}

async fn read(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    lock: &str,
) -> sqlx::Result<Option<Locked>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, {} AS user_timezone FROM sessions WHERE id = $1 AND user_id = $2{lock}",
        stride_bus::directory::timezone_sql("$2")
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// What ending a session records beside its timer.
pub struct Ending<'a> {
    pub local_date: Date,
    pub timezone: &'a str,
    pub active_secs: i32,
    /// Completions only: whether it counts, and why.
    pub counts: Option<(bool, &'a str)>,
}

/// One transition to store: the session as read, its new timer, its ending when it ended, the
/// event to log, and the announcement when the transition has one.
pub struct Change<'a> {
    pub before: &'a SessionRow,
    pub after: &'a Timer,
    pub ending: Option<&'a Ending<'a>>,
    pub event: EventRecord<'a>,
    pub announce: Option<&'a Staged>,
    /// The zone the transition was computed in, when `before` was not read with it but kept
    /// from an earlier call: the statement then also checks that it is still the user's zone
    /// (and that the session is still `event.user`'s), and writes nothing otherwise.
    pub kept_zone: Option<&'a str>,
}

impl SessionRow {
    /// This row after `t` and `ending` are stored, as [`save`] returns it: what the
    /// announcement is built from before the statement that writes both.
    pub fn after(&self, t: &Timer, ending: Option<&Ending<'_>>) -> SessionRow {
        SessionRow {
            state: t.state,
            step: t.step,
            active_ms: t.active_ms,
            since: t.since,
            ended_at: t.ended_at,
            local_date: ending.map(|e| e.local_date).or(self.local_date),
            timezone: ending
                .map(|e| e.timezone.to_owned())
                .or_else(|| self.timezone.clone()),
            counts: ending.and_then(|e| e.counts.map(|c| c.0)).or(self.counts),
            count_reason: ending
                .and_then(|e| e.counts.map(|c| c.1.to_owned()))
                .or_else(|| self.count_reason.clone()),
            ..self.clone()
        }
    }
}

/// Stores a transition, logs its event (a replayed event id is a no-op) and writes its
/// announcement, in one statement — if the session's timer is still the one the transition was
/// computed from (compare-and-set: a live call needs no lock and no transaction). None when the
/// session moved meanwhile: nothing was written, the caller reads it again.
pub async fn save(conn: &mut PgConnection, c: &Change<'_>) -> sqlx::Result<Option<SessionRow>> {
    let (t, ending, e, was) = (c.after, c.ending, &c.event, c.before);
    let announce = c
        .announce
        .map(|_| format!(", o AS ({})", Staged::insert_sql(24, Some("s"))))
        .unwrap_or_default();
    // $12 is the event's user: the session's as read.
    let q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH s AS (
             UPDATE sessions SET state = $2, step = $3, active_ms = $4, since = $5, ended_at = $6,
                 local_date = coalesce($7, local_date), timezone = coalesce($8, timezone),
                 duration_seconds = coalesce($9, duration_seconds),
                 counts = coalesce($10, counts), count_reason = coalesce($11, count_reason)
             WHERE id = $1
               AND state = $19 AND step = $20 AND active_ms = $21 AND since = $22
               AND ($23::text IS NULL OR (user_id = $12 AND {} = $23::text))
             RETURNING {COLUMNS}
         ), e AS ({}){announce}
         SELECT * FROM s",
        stride_bus::directory::timezone_sql("sessions.user_id"),
        log_event(12),
    )))
    .bind(was.id)
    .bind(t.state.as_str())
    .bind(t.step)
    .bind(t.active_ms)
    .bind(t.since)
    .bind(t.ended_at)
    .bind(ending.map(|e| e.local_date))
    .bind(ending.map(|e| e.timezone))
    .bind(ending.map(|e| e.active_secs))
    .bind(ending.and_then(|e| e.counts.map(|c| c.0)))
    .bind(ending.and_then(|e| e.counts.map(|c| c.1)));
    let q = e
        .bind(q)
        .bind(was.state.as_str())
        .bind(was.step)
        .bind(was.active_ms)
        .bind(was.since)
        .bind(c.kept_zone);
    let q = match c.announce {
        Some(a) => a.bind(q),
        None => q,
    };
    q.fetch_optional(conn).await
}

/// History filters.
pub struct Filter {
    pub kind: Option<Kind>,
    pub from: Option<Date>,
    pub to: Option<Date>,
}

/// Up to `limit` sessions of `user`, newest start first, after the `(started_at, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    f: &Filter,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sessions
         WHERE user_id = $1
           AND ($2::text IS NULL OR kind = $2)
           AND ($3::date IS NULL OR start_local_date >= $3)
           AND ($4::date IS NULL OR start_local_date <= $4)
           AND ($5::timestamptz IS NULL OR (started_at, id) < ($5, $6))
         ORDER BY started_at DESC, id DESC LIMIT $7"
    )))
    .bind(user)
    .bind(f.kind.map(Kind::as_str))
    .bind(f.from)
    .bind(f.to)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A session of `user` other than `except` whose span holds instant `at` (an ended session's
/// span is `[start, end)`; a live one runs until now), if any.
pub async fn overlapping(
    conn: &mut PgConnection,
    user: Uuid,
    at: OffsetDateTime,
    except: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM sessions
         WHERE user_id = $1 AND id <> $3 AND started_at <= $2
           AND (ended_at IS NULL OR ended_at > $2)
         LIMIT 1",
    )
    .bind(user)
    .bind(at)
    .bind(except)
    .fetch_optional(conn)
    .await
}

/// A session of `user` other than `except` that started within `(from, to]`: ending a session
/// at `to` that began at `from` would overlap it.
pub async fn started_within(
    conn: &mut PgConnection,
    user: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
    except: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM sessions
         WHERE user_id = $1 AND id <> $4 AND started_at > $2 AND started_at < $3 LIMIT 1",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .bind(except)
    .fetch_optional(conn)
    .await
}

/// One event of a session's log.
pub struct EventRecord<'a> {
    pub user: Uuid,
    pub event_id: Uuid,
    pub session_id: Uuid,
    pub action: &'a str,
    pub occur_time: OffsetDateTime,
    pub applied_at: OffsetDateTime,
    pub offline: bool,
}

impl<'a> EventRecord<'a> {
    fn source(&self) -> &'static str {
        if self.offline { "offline" } else { "live" }
    }

    /// Binds this entry's seven parameters, in [`log_event`]'s order.
    fn bind<'q, O>(
        &self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>
    where
        'a: 'q,
    {
        q.bind(self.user)
            .bind(self.event_id)
            .bind(self.session_id)
            .bind(self.action)
            .bind(self.occur_time)
            .bind(self.applied_at)
            .bind(self.source())
    }
}

/// Whether `user` already sent event `event_id`.
pub async fn event_seen(conn: &mut PgConnection, user: Uuid, event_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM session_events WHERE user_id = $1 AND event_id = $2)",
    )
    .bind(user)
    .bind(event_id)
    .fetch_one(conn)
    .await
}

/// The latest event time of session `id` (its start when none was logged).
pub async fn last_event_time(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<OffsetDateTime>> {
    sqlx::query_scalar("SELECT max(occur_time) FROM session_events WHERE session_id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Deletes every session and session event of `user`; returns how many rows went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let events = sqlx::query("DELETE FROM session_events WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(events + sessions)
}

/// What a merge did: sessions moved to the target, and the source's live session dropped
/// because the target had one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeCounts {
    pub moved: u64,
    pub dropped: u64,
}

/// Moves every session (and its event log) of `source` to `target`; when both have a live
/// session, the source's is deleted first (the target's wins: one live session per user). A
/// replay finds no row of the source and changes nothing.
pub async fn merge(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<MergeCounts> {
    // A start by the target racing this makes the move violate ONE_ACTIVE: the transaction
    // fails, the event is retried and finds the target's live session then.
    let dropped_ids: Vec<Uuid> = sqlx::query_scalar(
        "DELETE FROM sessions WHERE user_id = $1 AND state IN ('active', 'paused')
           AND EXISTS (SELECT 1 FROM sessions WHERE user_id = $2 AND state IN ('active', 'paused'))
         RETURNING id",
    )
    .bind(source)
    .bind(target)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM session_events WHERE session_id = ANY($1)")
        .bind(&dropped_ids)
        .execute(&mut *conn)
        .await?;
    // An event id both users sent (a client reusing ids across accounts) stays the target's.
    sqlx::query(
        "UPDATE session_events e SET user_id = $2 WHERE user_id = $1
           AND NOT EXISTS (SELECT 1 FROM session_events t WHERE t.user_id = $2 AND t.event_id = e.event_id)",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM session_events WHERE user_id = $1")
        .bind(source)
        .execute(&mut *conn)
        .await?;
    let moved = sqlx::query("UPDATE sessions SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(MergeCounts {
        moved,
        dropped: dropped_ids.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;
    use crate::domain::{activity, session::Action};

    fn started() -> NewSession {
        NewSession {
            id: Uuid::now_v7(),
            user: Uuid::now_v7(),
            activity_id: Some(Uuid::now_v7()),
            kind: Kind::Activity(activity::Kind::Focus),
            started_at: datetime!(2026-11-27 23:30:00.123456 UTC),
            planned_seconds: 1500,
            routine_id: None,
            steps: None,
            lesson_id: None,
            topic_id: None,
            plan_day_id: None,
            start_local_date: date!(2026 - 11 - 28),
        }
    }

    #[test]
    fn a_new_session_row_is_running_from_its_start_with_nothing_ended() {
        let new = started();
        let row = new.row();
        assert_eq!(row.state, State::Running);
        assert_eq!(row.since, new.started_at);
        assert_eq!((row.step, row.step_count, row.active_ms), (0, 1, 0));
        assert_eq!(row.ended_at, None);
        assert_eq!(row.start_local_date, new.start_local_date);
        let routine = NewSession {
            steps: Some(vec![
                Step {
                    activity_id: Uuid::now_v7(),
                    seconds: 60,
                };
                3
            ]),
            ..started()
        };
        assert_eq!(routine.row().step_count, 3);
    }

    #[test]
    fn after_a_transition_the_row_keeps_what_the_update_keeps_and_takes_the_ending() {
        let before = started().row();
        // A pause changes the timer only: nothing about an ending.
        let paused = before
            .timer()
            .apply(Action::Pause, datetime!(2026-11-27 23:40:00 UTC))
            .unwrap();
        let row = before.after(&paused, None);
        assert_eq!(row.state, State::Paused);
        assert_eq!(row.active_ms, paused.active_ms);
        assert_eq!(row.since, paused.since);
        assert_eq!((row.local_date, row.timezone.as_deref()), (None, None));
        assert_eq!(row.counts, None);

        let done = row
            .timer()
            .apply(Action::Complete, datetime!(2026-11-27 23:50:00 UTC))
            .unwrap();
        let ending = Ending {
            local_date: date!(2026 - 11 - 28),
            timezone: "Europe/Paris",
            active_secs: done.active_secs_at(done.since),
            counts: Some((false, "ACTIVE_TIME_BELOW_MINIMUM")),
        };
        let ended = row.after(&done, Some(&ending));
        assert_eq!(ended.state, State::Completed);
        assert_eq!(ended.ended_at, done.ended_at);
        assert_eq!(ended.local_date, Some(date!(2026 - 11 - 28)));
        assert_eq!(ended.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(ended.counts, Some(false));
        assert_eq!(
            ended.count_reason.as_deref(),
            Some("ACTIVE_TIME_BELOW_MINIMUM")
        );
        // Who, what and when it started never change.
        assert_eq!(
            (ended.id, ended.user_id, ended.started_at, ended.step_count),
            (
                before.id,
                before.user_id,
                before.started_at,
                before.step_count
            )
        );
    }
}
