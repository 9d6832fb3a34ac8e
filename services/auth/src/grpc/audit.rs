//! The caller's read of the security log, newest first.

use stride_kit::{AppResult, Call, Violations, error::page_size};
use stride_proto::auth as pb;

use super::{AuthSvc, convert};
use crate::{domain::audit, store};

pub(super) async fn list_audit_events(
    svc: &AuthSvc,
    call: Call<pb::ListAuditEventsRequest>,
) -> AppResult<pb::ListAuditEventsResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let limit = page_size(&mut v, req.page_size, audit::DEFAULT_PAGE_SIZE);
    let after = if req.page_token.is_empty() {
        None
    } else {
        let id = audit::decode_page_token(&req.page_token);
        v.when(
            id.is_none(),
            "page_token",
            "is not a token returned by a previous call",
        );
        id
    };
    v.check()?;
    let mut rows = store::audit::page(&svc.pool, caller.user_id, after, limit + 1).await?;
    let next_page_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| audit::encode_page_token(r.id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(pb::ListAuditEventsResponse {
        events: rows.into_iter().map(convert::audit_event).collect(),
        next_page_token,
    })
}
