//! `practice_session.evaluated.v1` → `evaluations` (trends). Newest evaluation of a session
//! wins, so delivery order does not matter and a replay of the log gives the same rows.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_kit::convert::{from_date, from_timestamp};
use stride_proto::events;
use uuid::Uuid;

use crate::{
    domain::trends::{self, MAX_DIMENSIONS},
    store::evaluations::{self, NewEvaluation},
};

fn permanent(what: &str) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!("practice_session.evaluated.v1: {what}"))
}

/// Stores the evaluation for `user` (the log's owner of the event: after a merge, the target).
pub async fn on_practice_session_evaluated(
    conn: &mut PgConnection,
    user: Uuid,
    e: events::PracticeSessionEvaluated,
) -> Result<(), HandlerError> {
    let evaluate_time = e
        .evaluate_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| permanent("evaluate_time is missing or invalid"))?;
    let local_date = e
        .local_date
        .as_ref()
        .and_then(from_date)
        .ok_or_else(|| permanent("local_date is missing or invalid"))?;
    if e.practice_session_id.trim().is_empty() {
        return Err(permanent("practice_session_id is empty"));
    }
    let scores = e
        .dimension_scores
        .iter()
        .filter_map(|d| {
            trends::dimension_name(&d.dimension).map(|name| {
                (
                    name,
                    trends::clamp_score(d.score),
                    d.label.chars().take(trends::MAX_NAME_CHARS).collect(),
                )
            })
        })
        .take(MAX_DIMENSIONS)
        .collect();
    let new = NewEvaluation {
        practice_session_id: e.practice_session_id.chars().take(128).collect(),
        evaluate_time: stride_kit::clock::db_precision(evaluate_time),
        local_date,
        overall: trends::clamp_score(e.overall_score),
        preparation_type: e.preparation_type.chars().take(64).collect(),
        areas: trends::areas(&e.improvement_areas),
        scores,
    };
    let written = evaluations::put(conn, user, &new).await?;
    if !written {
        tracing::info!(%user, session = %new.practice_session_id, "older evaluation: kept the stored one");
    }
    Ok(())
}
