//! `event_log`: the append-only log every projection is rebuilt from.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// One logged event, as `apply` reads it (live or during a rebuild).
#[derive(Clone, Debug)]
pub struct Entry {
    pub event_id: Uuid,
    pub event_type: String,
    /// The owner now (after merges), not necessarily the id inside the payload.
    pub user: Uuid,
    pub occurred_at: Option<OffsetDateTime>,
    pub received_at: OffsetDateTime,
    pub payload: Vec<u8>,
}

/// Appends `e`; false when its id is logged already (a duplicate: apply nothing).
pub async fn append(conn: &mut PgConnection, e: &Entry) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO event_log (event_id, event_type, user_id, occurred_at, received_at, payload)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(e.event_id)
    .bind(&e.event_type)
    .bind(e.user)
    .bind(e.occurred_at)
    .bind(e.received_at)
    .bind(&e.payload)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Up to `limit` entries after `seq` (0: from the start), in log order, with their seq.
pub async fn page(
    conn: &mut PgConnection,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, Entry)>> {
    type Row = (
        i64,
        Uuid,
        String,
        Uuid,
        Option<OffsetDateTime>,
        OffsetDateTime,
        Vec<u8>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, event_id, event_type, user_id, occurred_at, received_at, payload
         FROM event_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, event_id, event_type, user, occurred_at, received_at, payload)| {
                (
                    seq,
                    Entry {
                        event_id,
                        event_type,
                        user,
                        occurred_at,
                        received_at,
                        payload,
                    },
                )
            },
        )
        .collect())
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
