//! `evaluations` and `evaluation_scores`: the caller's evaluated practice sessions, for trends.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::trends::Evaluation;

/// An evaluation as the event brings it (already cleaned by the domain's rules).
pub struct NewEvaluation {
    pub practice_session_id: String,
    pub evaluate_time: OffsetDateTime,
    pub local_date: Date,
    pub overall: i32,
    pub preparation_type: String,
    pub areas: Vec<String>,
    /// (dimension, score, label)
    pub scores: Vec<(String, i32, String)>,
}

/// Stores `e` unless a newer evaluation of the same session is stored (events come in any
/// order; a replay of the same one changes nothing). Returns whether it was written.
pub async fn put(conn: &mut PgConnection, user: Uuid, e: &NewEvaluation) -> sqlx::Result<bool> {
    let written: Option<i32> = sqlx::query_scalar(
        "INSERT INTO evaluations (user_id, practice_session_id, overall_score, evaluate_time, local_date,
                                  preparation_type, improvement_areas)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, practice_session_id) DO UPDATE SET
           overall_score = EXCLUDED.overall_score, evaluate_time = EXCLUDED.evaluate_time,
           local_date = EXCLUDED.local_date, preparation_type = EXCLUDED.preparation_type,
           improvement_areas = EXCLUDED.improvement_areas
         WHERE evaluations.evaluate_time < EXCLUDED.evaluate_time
         RETURNING 1",
    )
    .bind(user)
    .bind(&e.practice_session_id)
    .bind(e.overall)
    .bind(e.evaluate_time)
    .bind(e.local_date)
    .bind(&e.preparation_type)
    .bind(&e.areas)
    .fetch_optional(&mut *conn)
    .await?;
    if written.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM evaluation_scores WHERE user_id = $1 AND practice_session_id = $2")
        .bind(user)
        .bind(&e.practice_session_id)
        .execute(&mut *conn)
        .await?;
    let (dims, rest): (Vec<String>, Vec<(i32, String)>) = e
        .scores
        .iter()
        .map(|(d, s, l)| (d.clone(), (*s, l.clone())))
        .unzip();
    let (scores, labels): (Vec<i32>, Vec<String>) = rest.into_iter().unzip();
    // A dimension named twice keeps its first score.
    sqlx::query(
        "INSERT INTO evaluation_scores (user_id, practice_session_id, dimension, score, label)
         SELECT $1, $2, d, s, l FROM unnest($3::text[], $4::int[], $5::text[]) AS x(d, s, l)
         ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .bind(&e.practice_session_id)
    .bind(&dims)
    .bind(&scores)
    .bind(&labels)
    .execute(conn)
    .await?;
    Ok(true)
}

/// The evaluations of `user` dated `from..=to`, with their scores.
pub async fn window(
    conn: &mut PgConnection,
    user: Uuid,
    from: Date,
    to: Date,
) -> sqlx::Result<Vec<Evaluation>> {
    let rows: Vec<(String, OffsetDateTime, Date, i32, Vec<String>)> = sqlx::query_as(
        "SELECT practice_session_id, evaluate_time, local_date, overall_score, improvement_areas
         FROM evaluations WHERE user_id = $1 AND local_date BETWEEN $2 AND $3
         ORDER BY evaluate_time, practice_session_id",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let scores: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT s.practice_session_id, s.dimension, s.score
         FROM evaluation_scores s JOIN evaluations e USING (user_id, practice_session_id)
         WHERE e.user_id = $1 AND e.local_date BETWEEN $2 AND $3
         ORDER BY s.practice_session_id, s.dimension",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, evaluate_time, local_date, overall, areas)| Evaluation {
                scores: scores
                    .iter()
                    .filter(|(sid, _, _)| *sid == id)
                    .map(|(_, d, s)| (d.clone(), *s))
                    .collect(),
                practice_session_id: id,
                evaluate_time,
                local_date,
                overall,
                areas,
            },
        )
        .collect())
}

/// Moves `source`'s evaluations to `target` (a session evaluated under both keeps the
/// target's); their scores follow by the foreign key.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    sqlx::query(
        "DELETE FROM evaluations s USING evaluations t
         WHERE s.user_id = $1 AND t.user_id = $2 AND s.practice_session_id = t.practice_session_id",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query("UPDATE evaluations SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
