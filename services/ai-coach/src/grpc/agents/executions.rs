//! ListExecutions, GetExecution.

use stride_kit::{AppError, AppResult, Call, Violations, convert, pagination::Page};
use stride_proto::ai_coach as pb;
use uuid::Uuid;

use super::{Agents, cursor, key, provenance_of};
use crate::store::agents::{self as store, ExecutionRow};

// ---- executions ----

fn execution_to_proto(r: &ExecutionRow) -> pb::Execution {
    pb::Execution {
        id: r.id.to_string(),
        kind: r.kind.clone(),
        steps: r
            .steps
            .0
            .iter()
            .map(|s| pb::ExecutionStep {
                name: s.name.clone(),
                path: s.path.clone(),
                reasoning: s.reasoning.clone(),
                duration_ms: s.duration_ms,
                attempt: s.attempt,
            })
            .collect(),
        provenance: Some(provenance_of(&r.path, &r.model, &r.reason, r.answer_id).into_proto()),
        result_id: r.result_id.map(|id| id.to_string()).unwrap_or_default(),
        duration_ms: r.duration_ms,
        create_time: Some(convert::timestamp(r.created_at)),
    }
}

pub(super) async fn list_executions(
    s: &Agents,
    call: Call<pb::ListExecutionsRequest>,
) -> AppResult<pb::ListExecutionsResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let page: Page<(i64, Uuid)> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::executions(&mut conn, caller.user_id, cursor(&page), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| key(r.created_at, r.id));
    Ok(pb::ListExecutionsResponse {
        executions: rows.iter().map(execution_to_proto).collect(),
        next_page_token,
    })
}

pub(super) async fn get_execution(
    s: &Agents,
    call: Call<pb::GetExecutionRequest>,
) -> AppResult<pb::GetExecutionResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("execution_id", &call.message.execution_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::execution(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found("execution"))?;
    Ok(pb::GetExecutionResponse {
        execution: Some(execution_to_proto(&row)),
    })
}
