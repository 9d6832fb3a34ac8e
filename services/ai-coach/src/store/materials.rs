//! The `materials` and `material_chunks` tables (ADR 0030). Functions run on the caller's
//! connection or transaction and never begin or commit; every read for a caller filters on the
//! owner, so another user's material is simply absent.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{
    chunk::Chunk,
    material::{Hit, MAX_SCANNED_CHUNKS, Passage, Status},
};

/// A material without its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MaterialRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub status: String,
    pub error: String,
    pub text_chars: i64,
    pub chunks_done: i32,
    pub chunks_total: i32,
    pub embedding_model: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl MaterialRow {
    pub fn status(&self) -> Status {
        Status::from_db(&self.status).unwrap_or(Status::Pending)
    }
}

const COLUMNS: &str = "id, user_id, title, filename, content_type, size_bytes, status, error, \
     text_chars, chunks_done, chunks_total, embedding_model, created_at, updated_at";

pub async fn insert(conn: &mut PgConnection, m: &MaterialRow, content: &[u8]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO materials (id, user_id, title, filename, content_type, size_bytes, content,
                                status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(m.id)
    .bind(m.user_id)
    .bind(&m.title)
    .bind(&m.filename)
    .bind(&m.content_type)
    .bind(m.size_bytes)
    .bind(content)
    .bind(&m.status)
    .bind(m.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's material; another user's is None.
pub async fn get(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<MaterialRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM materials WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// The user's materials, newest first, after the (created_at, id) cursor.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<MaterialRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM materials
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4"
    )))
    .bind(user)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Deletes the user's material and (cascade) its chunks; false when the user has no such
/// material.
pub async fn delete(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM materials WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(conn)
            .await?
            .rows_affected()
            > 0,
    )
}

/// (id, status) of the user's materials among `ids`.
pub async fn statuses(
    conn: &mut PgConnection,
    user: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, String)>> {
    sqlx::query_as("SELECT id, status FROM materials WHERE user_id = $1 AND id = ANY($2)")
        .bind(user)
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// How many of the user's materials are ready.
pub async fn ready_count(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM materials WHERE user_id = $1 AND status = 'ready'")
        .bind(user)
        .fetch_one(conn)
        .await
}

// ---- the job ----

/// The material's row (any owner: the job works for whoever uploaded it).
pub async fn for_job(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<MaterialRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM materials WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn content(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT content FROM materials WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// pending → processing (visible to the owner at once).
pub async fn start(conn: &mut PgConnection, id: Uuid, at: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE materials SET status = 'processing', updated_at = $2
         WHERE id = $1 AND status IN ('pending', 'processing')",
    )
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the chunks and the totals (one transaction: a resumed job finds both or neither).
/// `done` is how many count as processed already (all of them when nothing is to be embedded).
pub async fn store_chunks(
    conn: &mut PgConnection,
    id: Uuid,
    chunks: &[Chunk],
    text_chars: i64,
    done: bool,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    let idx: Vec<i32> = chunks
        .iter()
        .map(|c| i32::try_from(c.index).unwrap_or(i32::MAX))
        .collect();
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    sqlx::query(
        "INSERT INTO material_chunks (material_id, idx, text)
         SELECT $1, * FROM unnest($2::int[], $3::text[])
         ON CONFLICT (material_id, idx) DO NOTHING",
    )
    .bind(id)
    .bind(&idx)
    .bind(&texts)
    .execute(&mut *conn)
    .await?;
    let total = i32::try_from(chunks.len()).unwrap_or(i32::MAX);
    sqlx::query(
        "UPDATE materials SET chunks_total = $2, chunks_done = $3, text_chars = $4, updated_at = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(total)
    .bind(if done { total } else { 0 })
    .bind(text_chars)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The next `limit` chunks not yet embedded with `model`: (idx, text).
pub async fn unembedded(
    conn: &mut PgConnection,
    id: Uuid,
    model: &str,
    limit: i64,
) -> sqlx::Result<Vec<(i32, String)>> {
    sqlx::query_as(
        "SELECT idx, text FROM material_chunks
         WHERE material_id = $1 AND (embedding IS NULL OR embedding_model <> $2)
         ORDER BY idx LIMIT $3",
    )
    .bind(id)
    .bind(model)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Stores a batch of embeddings and the progress (chunks embedded with `model`).
pub async fn store_embeddings(
    conn: &mut PgConnection,
    id: Uuid,
    model: &str,
    batch: &[(i32, Vec<f32>)],
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    for (idx, v) in batch {
        sqlx::query(
            "UPDATE material_chunks SET embedding = $3, embedding_model = $4
             WHERE material_id = $1 AND idx = $2",
        )
        .bind(id)
        .bind(idx)
        .bind(v)
        .bind(model)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE materials SET updated_at = $3, chunks_done = (
             SELECT count(*) FROM material_chunks
             WHERE material_id = $1 AND embedding IS NOT NULL AND embedding_model = $2)
         WHERE id = $1",
    )
    .bind(id)
    .bind(model)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// → ready. `model`: the embedding model when some chunks carry embeddings, else ''; `note`
/// says why there are none (or fewer than all).
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    model: &str,
    note: &str,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE materials SET status = 'ready', embedding_model = $2, error = $3, updated_at = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(model)
    .bind(note)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// → failed with `error`; drops whatever chunks were stored.
pub async fn fail(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM material_chunks WHERE material_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE materials SET status = 'failed', error = $2, chunks_done = 0, chunks_total = 0,
                              updated_at = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- search ----

/// The materials a search covers: the named ones (already checked to be the user's and ready),
/// or None for all the user's ready materials.
pub type Scope<'a> = Option<&'a [Uuid]>;

/// The user's ready chunks ranked by full text (`websearch_to_tsquery` of `query`, English),
/// best first; scores are ts_rank scaled to 0–1. `embedded` says which carry an embedding of
/// `model` ('' for none).
pub async fn full_text(
    conn: &mut PgConnection,
    user: Uuid,
    scope: Scope<'_>,
    query: &str,
    model: &str,
    limit: i64,
) -> sqlx::Result<Vec<Hit>> {
    let rows: Vec<(Uuid, i32, f32, bool)> = sqlx::query_as(
        "SELECT c.material_id, c.idx, ts_rank(c.tsv, q, 32)::real AS score,
                (c.embedding IS NOT NULL AND c.embedding_model = $5 AND $5 <> '') AS embedded
         FROM material_chunks c
         JOIN materials m ON m.id = c.material_id,
              websearch_to_tsquery('english', $2) q
         WHERE m.user_id = $1 AND m.status = 'ready'
           AND ($3::uuid[] IS NULL OR m.id = ANY($3))
           AND c.tsv @@ q
         ORDER BY score DESC, c.material_id, c.idx
         LIMIT $4",
    )
    .bind(user)
    .bind(query)
    .bind(scope)
    .bind(limit)
    .bind(model)
    .fetch_all(conn)
    .await?;
    Ok(hits(rows))
}

/// The user's ready chunks embedded with `model` ranked by cosine similarity to `question`
/// (unit vectors: the dot product), best first, over at most MAX_SCANNED_CHUNKS chunks of the
/// newest materials. Scores are the similarity clamped to 0–1.
pub async fn nearest(
    conn: &mut PgConnection,
    user: Uuid,
    scope: Scope<'_>,
    model: &str,
    question: &[f32],
    limit: i64,
) -> sqlx::Result<Vec<Hit>> {
    let rows: Vec<(Uuid, i32, f32, bool)> = sqlx::query_as(
        "WITH scanned AS (
             SELECT c.material_id, c.idx, c.embedding
             FROM material_chunks c JOIN materials m ON m.id = c.material_id
             WHERE m.user_id = $1 AND m.status = 'ready'
               AND ($2::uuid[] IS NULL OR m.id = ANY($2))
               AND c.embedding_model = $3
               AND cardinality(c.embedding) = cardinality($4::real[])
             ORDER BY m.created_at DESC, c.material_id, c.idx
             LIMIT $6)
         SELECT material_id, idx,
                (SELECT sum(a * b) FROM unnest(embedding, $4::real[]) AS t(a, b))::real AS score,
                true
         FROM scanned
         ORDER BY score DESC, material_id, idx
         LIMIT $5",
    )
    .bind(user)
    .bind(scope)
    .bind(model)
    .bind(question)
    .bind(limit)
    .bind(MAX_SCANNED_CHUNKS)
    .fetch_all(conn)
    .await?;
    Ok(hits(rows))
}

fn hits(rows: Vec<(Uuid, i32, f32, bool)>) -> Vec<Hit> {
    rows.into_iter()
        .map(|(material_id, idx, score, embedded)| Hit {
            material_id,
            idx,
            embedded,
            score: if score.is_finite() {
                score.clamp(0.0, 1.0)
            } else {
                0.0
            },
        })
        .collect()
}

/// The text and material title of each hit (the user's own only), in the hits' order.
pub async fn passages(
    conn: &mut PgConnection,
    user: Uuid,
    hits: &[Hit],
) -> sqlx::Result<Vec<Passage>> {
    let ids: Vec<Uuid> = hits.iter().map(|h| h.material_id).collect();
    let idx: Vec<i32> = hits.iter().map(|h| h.idx).collect();
    let rows: Vec<(Uuid, i32, String, String)> = sqlx::query_as(
        "SELECT c.material_id, c.idx, c.text, m.title
         FROM unnest($2::uuid[], $3::int[]) AS h(material_id, idx)
         JOIN material_chunks c ON c.material_id = h.material_id AND c.idx = h.idx
         JOIN materials m ON m.id = c.material_id
         WHERE m.user_id = $1",
    )
    .bind(user)
    .bind(&ids)
    .bind(&idx)
    .fetch_all(conn)
    .await?;
    Ok(hits
        .iter()
        .filter_map(|h| {
            rows.iter()
                .find(|r| r.0 == h.material_id && r.1 == h.idx)
                .map(|r| Passage {
                    material_id: r.0,
                    material_title: r.3.clone(),
                    idx: r.1,
                    text: r.2.clone(),
                    score: h.score,
                })
        })
        .collect())
}

// ---- the user's lifecycle ----

/// user.deleted.v1: every material of the user, with its chunks.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM materials WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// user.merged.v1: the guest's materials (and so their chunks) become the target's.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE materials SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
