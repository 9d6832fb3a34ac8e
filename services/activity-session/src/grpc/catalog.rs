//! The catalog's activities: the presets a session can be of. Public: no token needed.

use stride_kit::{AppResult, Call, Violations, convert::require_id, pagination::Page};
use stride_proto::activity_session as pb;

use super::{ActivitySessions, convert};
use crate::{errors, store::activities::ActivityRow};

/// Page size when the request says 0.
const DEFAULT_PAGE_SIZE: usize = 50;

/// Pages by slug (the cursor is the last slug served), optionally one kind only.
pub(super) async fn list_activities(
    s: &ActivitySessions,
    call: Call<pb::ListActivitiesRequest>,
) -> AppResult<pb::ListActivitiesResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<String>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    let kind = convert::from_kind(req.kind).unwrap_or_else(|()| {
        v.add("kind", "is not a known activity kind");
        None
    });
    v.check()?;
    let rows = s.presets.list(
        page.after().map(String::as_str),
        kind,
        page.size().saturating_add(1),
    );
    let (rows, next_page_token) = page.finish(rows, |r| r.slug.clone());
    Ok(pb::ListActivitiesResponse {
        activities: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

/// One activity by id; NOT_FOUND when the catalog has none.
pub(super) async fn get_activity(
    s: &ActivitySessions,
    call: Call<pb::GetActivityRequest>,
) -> AppResult<pb::GetActivityResponse> {
    let id = require_id("activity_id", &call.message.activity_id)?;
    let row = match s.presets.kept(id) {
        Some(row) => row,
        None => s
            .presets
            .get(&mut *s.pool.acquire().await?, id)
            .await?
            .ok_or_else(errors::no_activity)?,
    };
    Ok(pb::GetActivityResponse {
        activity: Some(to_proto(row)),
    })
}

fn to_proto(r: ActivityRow) -> pb::Activity {
    pb::Activity {
        id: r.id.to_string(),
        slug: r.slug,
        name: r.name,
        kind: convert::kind(r.kind) as i32,
        default_duration: Some(convert::seconds(r.default_seconds)),
        description: r.description,
    }
}
