//! `event_log`: the append-only log every projection is rebuilt from.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// One logged event, as `apply` reads it (live or during a rebuild).
#[derive(Clone, Debug)]
pub struct Entry {
    pub event_id: Uuid,
    pub event_type: String,
    /// The owner now (after merges), not necessarily the id inside the payload.
    pub user: Uuid,
    /// The event's instant for its fact, else the receive time.
    pub occurred_at: OffsetDateTime,
    /// The producer's local date, when the event has one.
    pub local_date: Option<Date>,
    pub received_at: OffsetDateTime,
    pub payload: Vec<u8>,
}

/// Appends `e`; false when its id is logged already (a duplicate: apply nothing).
pub async fn append(conn: &mut PgConnection, e: &Entry) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO event_log (event_id, event_type, user_id, occurred_at, local_date, received_at, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(e.event_id)
    .bind(&e.event_type)
    .bind(e.user)
    .bind(e.occurred_at)
    .bind(e.local_date)
    .bind(e.received_at)
    .bind(&e.payload)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Appends `entries` in one statement, in their order; returns the ids written (an id logged
/// already is not: a duplicate, apply nothing for it).
pub async fn append_all(
    conn: &mut PgConnection,
    entries: &[Entry],
) -> sqlx::Result<std::collections::HashSet<Uuid>> {
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO event_log (event_id, event_type, user_id, occurred_at, local_date, received_at, payload)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::date[],
                              $6::timestamptz[], $7::bytea[])
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(entries.iter().map(|e| e.event_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.user).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.local_date).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.received_at).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.payload.as_slice()).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// Up to `limit` entries after `seq` (0: from the start), in log order, with their seq.
pub async fn page(
    conn: &mut PgConnection,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, Entry)>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_log WHERE seq > $1 ORDER BY seq LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(entry).collect())
}

type Row = (
    i64,
    Uuid,
    String,
    Uuid,
    OffsetDateTime,
    Option<Date>,
    OffsetDateTime,
    Vec<u8>,
);
const COLUMNS: &str =
    "seq, event_id, event_type, user_id, occurred_at, local_date, received_at, payload";

fn entry(
    (seq, event_id, event_type, user, occurred_at, local_date, received_at, payload): Row,
) -> (i64, Entry) {
    (
        seq,
        Entry {
            event_id,
            event_type,
            user,
            occurred_at,
            local_date,
            received_at,
            payload,
        },
    )
}

/// `user`'s entries of `types`, newest first (by occurred_at, then seq), after the cursor
/// `(occurred_at, seq)` when given; at most `limit`.
pub async fn recent(
    conn: &mut PgConnection,
    user: Uuid,
    types: &[&str],
    after: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, Entry)>> {
    let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_log
         WHERE user_id = $1 AND event_type = ANY($2)
           AND ($3::timestamptz IS NULL OR (occurred_at, seq) < ($3, $4))
         ORDER BY occurred_at DESC, seq DESC LIMIT $5"
    )))
    .bind(user)
    .bind(&types)
    .bind(after.map(|a| a.0))
    .bind(after.map_or(0, |a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// `user`'s entries of `event_type` dated `from` to `to` (local dates), by occurred_at.
pub async fn of_days(
    conn: &mut PgConnection,
    user: Uuid,
    event_type: &str,
    from: Date,
    to: Date,
) -> sqlx::Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_log
         WHERE user_id = $1 AND event_type = $2 AND local_date BETWEEN $3 AND $4
         ORDER BY occurred_at, seq"
    )))
    .bind(user)
    .bind(event_type)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| entry(r).1).collect())
}

/// Gives `source`'s log rows to `target` (a merge): a rebuild then counts them for the target.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE event_log SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
