//! The caller's read of the security log, newest first.

use stride_kit::{AppResult, Call, Violations, pagination::Page};
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
    // The cursor is the id of the last event served (UUIDv7: time-ordered).
    let page = Page::<uuid::Uuid>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        audit::DEFAULT_PAGE_SIZE,
    );
    v.check()?;
    let rows = store::audit::page(
        &svc.pool,
        caller.user_id,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id);
    Ok(pb::ListAuditEventsResponse {
        events: rows.into_iter().map(convert::audit_event).collect(),
        next_page_token,
    })
}
