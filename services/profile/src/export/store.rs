//! The `data_exports` and `data_export_parts` tables. Functions run on the caller's connection
//! or transaction and never begin or commit.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExportRow {
    pub export_id: Uuid,
    pub user_id: Uuid,
    pub state: String,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
}

const COLUMNS: &str =
    "export_id, user_id, state, file_name, size_bytes, created_at, completed_at, expires_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PartRow {
    pub service: String,
    pub state: String,
    pub item_count: i64,
}

pub async fn create(
    tx: &mut PgConnection,
    export_id: Uuid,
    user: Uuid,
    token_hash: &[u8],
    services: &[&str],
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> sqlx::Result<ExportRow> {
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO data_exports (export_id, user_id, state, token_hash, created_at, expires_at)
         VALUES ($1, $2, 'running', $3, $4, $5)
         RETURNING {COLUMNS}"
    )))
    .bind(export_id)
    .bind(user)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO data_export_parts (export_id, service, state)
         SELECT $1, s, 'pending' FROM unnest($2::text[]) AS s",
    )
    .bind(export_id)
    .bind(services)
    .execute(&mut *tx)
    .await?;
    Ok(row)
}

pub async fn get(
    conn: &mut PgConnection,
    user: Uuid,
    export_id: Uuid,
) -> sqlx::Result<Option<ExportRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports WHERE user_id = $1 AND export_id = $2"
    )))
    .bind(user)
    .bind(export_id)
    .fetch_optional(conn)
    .await
}

pub async fn by_token(conn: &mut PgConnection, hash: &[u8]) -> sqlx::Result<Option<ExportRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports WHERE token_hash = $1"
    )))
    .bind(hash)
    .fetch_optional(conn)
    .await
}

pub async fn by_id(conn: &mut PgConnection, export_id: Uuid) -> sqlx::Result<Option<ExportRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports WHERE export_id = $1"
    )))
    .bind(export_id)
    .fetch_optional(conn)
    .await
}

pub async fn parts(conn: &mut PgConnection, export_id: Uuid) -> sqlx::Result<Vec<PartRow>> {
    sqlx::query_as(
        "SELECT service, state, item_count FROM data_export_parts WHERE export_id = $1
         ORDER BY array_position(ARRAY['auth','profile','activity-session','challenge',
                                       'analytics','ai-coach'], service), service",
    )
    .bind(export_id)
    .fetch_all(conn)
    .await
}

pub async fn part_done(
    conn: &mut PgConnection,
    export_id: Uuid,
    service: &str,
    result: Result<i64, &str>,
) -> sqlx::Result<()> {
    let (state, count, error) = match result {
        Ok(n) => ("succeeded", n, None),
        Err(e) => ("failed", 0, Some(e)),
    };
    sqlx::query(
        "UPDATE data_export_parts SET state = $3, item_count = $4, error = $5
         WHERE export_id = $1 AND service = $2",
    )
    .bind(export_id)
    .bind(service)
    .bind(state)
    .bind(count)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Finishes a running export; false when it is no longer running (expired or swept meanwhile).
pub async fn finish(
    conn: &mut PgConnection,
    export_id: Uuid,
    outcome: Result<(&str, i64), &str>,
    now: OffsetDateTime,
) -> sqlx::Result<bool> {
    let (state, file, size, error) = match outcome {
        Ok((file, size)) => ("succeeded", Some(file), Some(size), None),
        Err(e) => ("failed", None, None, Some(e)),
    };
    Ok(sqlx::query(
        "UPDATE data_exports SET state = $2, file_name = $3, size_bytes = $4, error = $5,
             completed_at = $6
         WHERE export_id = $1 AND state = 'running'",
    )
    .bind(export_id)
    .bind(state)
    .bind(file)
    .bind(size)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Exports past their time to live (or running since before `stale`, their job lost with its
/// process), locked for the sweeper; another replica's sweeper skips them.
pub async fn due_for_sweep(
    tx: &mut PgConnection,
    now: OffsetDateTime,
    stale: OffsetDateTime,
    limit: i64,
) -> sqlx::Result<Vec<ExportRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM data_exports
         WHERE (state <> 'expired' AND expires_at <= $1)
            OR (state = 'running' AND created_at < $2)
         ORDER BY expires_at LIMIT $3
         FOR UPDATE SKIP LOCKED"
    )))
    .bind(now)
    .bind(stale)
    .bind(limit)
    .fetch_all(tx)
    .await
}

pub async fn set_state(tx: &mut PgConnection, export_id: Uuid, state: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE data_exports SET state = $2, file_name = NULL WHERE export_id = $1")
        .bind(export_id)
        .bind(state)
        .execute(tx)
        .await?;
    Ok(())
}

/// Deletes every export of `user` and returns the archive files to remove.
pub async fn purge_user(tx: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("DELETE FROM data_exports WHERE user_id = $1 RETURNING file_name")
        .bind(user)
        .fetch_all(tx)
        .await
        .map(|v: Vec<Option<String>>| v.into_iter().flatten().collect())
}
