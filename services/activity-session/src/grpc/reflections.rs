//! `ReflectionService`: the caller's end-of-day shutdown reflections.

use stride_bus::directory;
use stride_kit::{
    AppResult, Call, Violations,
    convert::{date, local_date, parse_id, require_id, timestamp},
    pagination::Page,
};
use stride_proto::activity_session as pb;
use uuid::Uuid;

use super::ActivitySessions;
use crate::{
    domain::reflection::{self, DEFAULT_HISTORY, Rating},
    errors,
    events::publish,
    store::{
        self,
        reflections::{NewReflection, ReflectionRow},
    },
};

/// Saves a reflection dated on the caller's local date now, and announces
/// `reflection.submitted.v1`. A linked focus session must be one of the caller's.
pub(super) async fn submit_shutdown_reflection(
    s: &ActivitySessions,
    call: Call<pb::SubmitShutdownReflectionRequest>,
) -> AppResult<pb::SubmitShutdownReflectionResponse> {
    let user = call.caller()?.user_id;
    let mut v = Violations::new();
    v.when(
        call.message.reflection.is_none(),
        "reflection",
        "is required",
    );
    let r = call.message.reflection.clone().unwrap_or_default();
    let rating = match pb::ProductivityRating::try_from(r.productivity_rating) {
        Ok(pb::ProductivityRating::Great) => Some(Rating::Great),
        Ok(pb::ProductivityRating::Good) => Some(Rating::Good),
        Ok(pb::ProductivityRating::Okay) => Some(Rating::Okay),
        Ok(pb::ProductivityRating::Tough) => Some(Rating::Tough),
        Ok(pb::ProductivityRating::Unspecified) | Err(_) => {
            v.add(
                "reflection.productivity_rating",
                "must be great, good, okay or tough",
            );
            None
        }
    };
    reflection::check(&mut v, &r.note, &r.mindful_disconnect_completed);
    let session = (!r.focus_session_id.is_empty())
        .then(|| parse_id(&mut v, "reflection.focus_session_id", &r.focus_session_id));
    v.check()?;
    let rating = rating.unwrap_or(Rating::Okay);

    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    if let Some(id) = session {
        // A loose reference: checked now, not kept in step (docs/api.md).
        let kind = store::reflections::session_kind(&mut tx, user, id)
            .await?
            .ok_or_else(errors::no_session)?;
        if kind != "focus" {
            return Err(stride_kit::AppError::invalid(
                "reflection.focus_session_id",
                "must be a focus session",
            ));
        }
    }
    let tz = directory::timezone(&mut tx, user).await?;
    let row = store::reflections::insert(
        &mut tx,
        user,
        &NewReflection {
            rating,
            note: &r.note,
            checklist: &r.mindful_disconnect_completed,
            focus_session_id: session,
            submitted_at: now,
            local_date: local_date(now, &tz),
            timezone: &tz,
        },
    )
    .await?;
    tx.publish(&publish::reflection_submitted(&row)).await?;
    tx.commit().await?;
    Ok(pb::SubmitShutdownReflectionResponse {
        reflection: Some(to_proto(row)),
    })
}

pub(super) async fn get_shutdown_reflection(
    s: &ActivitySessions,
    call: Call<pb::GetShutdownReflectionRequest>,
) -> AppResult<pb::GetShutdownReflectionResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("reflection_id", &call.message.reflection_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::reflections::get(&mut conn, user, id)
        .await?
        .ok_or_else(errors::no_reflection)?;
    Ok(pb::GetShutdownReflectionResponse {
        reflection: Some(to_proto(row)),
    })
}

/// Newest first, 30 a page unless asked otherwise (seed 001's `limit=30`).
pub(super) async fn list_shutdown_reflections(
    s: &ActivitySessions,
    call: Call<pb::ListShutdownReflectionsRequest>,
) -> AppResult<pb::ListShutdownReflectionsResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<Uuid>::request(&mut v, req.page_size, &req.page_token, DEFAULT_HISTORY);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::reflections::list(&mut conn, user, page.after().copied(), page.fetch_limit())
        .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id);
    Ok(pb::ListShutdownReflectionsResponse {
        reflections: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

fn to_proto(r: ReflectionRow) -> pb::ShutdownReflection {
    let rating = match r.productivity_rating {
        Rating::Great => pb::ProductivityRating::Great,
        Rating::Good => pb::ProductivityRating::Good,
        Rating::Okay => pb::ProductivityRating::Okay,
        Rating::Tough => pb::ProductivityRating::Tough,
    };
    pb::ShutdownReflection {
        id: r.id.to_string(),
        productivity_rating: rating as i32,
        note: r.note,
        mindful_disconnect_completed: r.mindful_disconnect_completed,
        focus_session_id: r
            .focus_session_id
            .map(|s| s.to_string())
            .unwrap_or_default(),
        submit_time: Some(timestamp(r.submitted_at)),
        local_date: Some(date(r.local_date)),
        timezone: r.timezone,
    }
}
