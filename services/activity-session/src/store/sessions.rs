//! The `sessions` table: every session of every user, active or completed.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{
    activity::Kind,
    session::{Completion, State},
};
use crate::store::activities::ActivityRow;

/// The partial unique index that allows one active session per user: it decides, so two
/// concurrent starts cannot both win.
pub const ONE_ACTIVE: &str = "sessions_one_active";

const COLUMNS: &str = "id, user_id, activity_id, kind, state, started_at, ended_at, \
                       planned_seconds, duration_seconds, local_date, timezone";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub activity_id: Uuid,
    /// The activity's kind when the session started.
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    #[sqlx(try_from = "String")]
    pub state: State,
    pub started_at: OffsetDateTime,
    pub planned_seconds: i32,
    /// Set on completion, with the zone the local date was computed in.
    pub ended_at: Option<OffsetDateTime>,
    pub duration_seconds: Option<i32>,
    pub local_date: Option<Date>,
    pub timezone: Option<String>,
}

/// Inserts an active session of `activity` for `user`. Fails on [`ONE_ACTIVE`] when the user
/// already has one.
pub async fn start(
    conn: &mut PgConnection,
    user: Uuid,
    activity: &ActivityRow,
    started_at: OffsetDateTime,
    planned_seconds: i32,
) -> sqlx::Result<SessionRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO sessions (id, user_id, activity_id, kind, state, started_at, planned_seconds)
         VALUES ($1, $2, $3, $4, 'active', $5, $6) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(activity.id)
    .bind(activity.kind.as_str())
    .bind(started_at)
    .bind(planned_seconds)
    .fetch_one(conn)
    .await
}

/// The user's active session, if any.
pub async fn active(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND state = 'active'"
    )))
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Session `id` of `user`, locked until the transaction ends, with the user's IANA zone from
/// the user directory (UTC when no profile update was seen yet), in one round trip; None when
/// the session does not exist or is someone else's.
pub async fn lock(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<(SessionRow, String)>> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        session: SessionRow,
        user_timezone: Option<String>,
    }
    let row: Option<Locked> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS},
                (SELECT d.timezone FROM user_directory d WHERE d.user_id = $2) AS user_timezone
         FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|l| {
        let tz = l
            .user_timezone
            .unwrap_or_else(|| stride_bus::directory::DEFAULT_TIMEZONE.to_owned());
        (l.session, tz)
    }))
}

/// Records the completion of session `id`, computed in zone `timezone`.
pub async fn complete(
    conn: &mut PgConnection,
    id: Uuid,
    done: &Completion,
    timezone: &str,
) -> sqlx::Result<SessionRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE sessions SET state = 'completed', ended_at = $2, duration_seconds = $3,
             local_date = $4, timezone = $5
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(done.ended_at)
    .bind(done.duration_secs)
    .bind(done.local_date)
    .bind(timezone)
    .fetch_one(conn)
    .await
}

/// Deletes every session of `user`, the active one included; returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// What a merge did: sessions moved to the target, and the source's active session dropped
/// because the target had one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeCounts {
    pub moved: u64,
    pub dropped: u64,
}

/// Moves every session of `source` to `target`; when both have an active session, the
/// source's is deleted first (the target's wins: one active session per user). A replay finds
/// no row of the source and changes nothing.
pub async fn merge(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<MergeCounts> {
    // A start by the target racing this makes the move violate ONE_ACTIVE: the transaction
    // fails, the event is retried and finds the target's active session then.
    let dropped = sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND state = 'active'
           AND EXISTS (SELECT 1 FROM sessions WHERE user_id = $2 AND state = 'active')",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let moved = sqlx::query("UPDATE sessions SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(MergeCounts { moved, dropped })
}
