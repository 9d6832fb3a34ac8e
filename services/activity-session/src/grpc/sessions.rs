//! The caller's timed sessions: start one, complete it, see the active one.

use stride_kit::{
    AppResult, Call, ResultExt as _, Violations,
    convert::{date, from_duration, parse_id, require_id, timestamp},
};
use stride_proto::activity_session as pb;

use super::{ActivitySessions, convert};
use crate::{
    domain::session::{self, State},
    errors,
    events::publish,
    store::{self, sessions::SessionRow},
};

/// Starts a session of an activity, planned for the activity's default length unless the
/// request asks for another within bounds. One active session per user.
pub(super) async fn start_session(
    s: &ActivitySessions,
    call: Call<pb::StartSessionRequest>,
) -> AppResult<pb::StartSessionResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let activity_id = parse_id(&mut v, "activity_id", &req.activity_id);
    let planned = req.planned_duration.as_ref().map(from_duration);
    v.when(
        planned.is_some_and(|p| !session::PLANNED.contains(&p)),
        "planned_duration",
        "must be between 1 minute and 4 hours",
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let activity = store::activities::get(&mut conn, activity_id)
        .await?
        .ok_or_else(errors::no_activity)?;
    let planned_seconds = session::planned_seconds(planned, activity.default_seconds);
    let row = store::sessions::start(
        &mut conn,
        caller.user_id,
        &activity,
        s.clock.now_db(),
        planned_seconds,
    )
    .await
    .on_constraint(store::sessions::ONE_ACTIVE, |_| {
        errors::session_already_active()
    })?;
    Ok(pb::StartSessionResponse {
        session: Some(to_proto(row)),
    })
}

/// Completes the caller's active session now (rules in [`session::complete`]) and announces
/// it with `session.completed.v1`, in one transaction.
pub(super) async fn complete_session(
    s: &ActivitySessions,
    call: Call<pb::CompleteSessionRequest>,
) -> AppResult<pb::CompleteSessionResponse> {
    let caller = call.caller()?;
    let id = require_id("session_id", &call.message.session_id)?;
    let mut tx = s.outbox.begin().await?;
    let (started, timezone) = store::sessions::lock(&mut tx, caller.user_id, id)
        .await?
        .ok_or_else(errors::no_session)?;
    if started.state != State::Active {
        return Err(errors::session_not_active());
    }
    let done = session::complete(started.started_at, s.clock.now_db(), &timezone);
    let row = store::sessions::complete(&mut tx, id, &done, &timezone).await?;
    tx.publish(&publish::session_completed(&started, &done, &timezone))
        .await?;
    tx.commit().await?;
    Ok(pb::CompleteSessionResponse {
        session: Some(to_proto(row)),
    })
}

/// The caller's active session, if any.
pub(super) async fn get_current_session(
    s: &ActivitySessions,
    call: Call<pb::GetCurrentSessionRequest>,
) -> AppResult<pb::GetCurrentSessionResponse> {
    let caller = call.caller()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::sessions::active(&mut conn, caller.user_id).await?;
    Ok(pb::GetCurrentSessionResponse {
        session: row.map(to_proto),
    })
}

fn to_proto(r: SessionRow) -> pb::Session {
    let state = match r.state {
        State::Active => pb::SessionState::Active,
        State::Completed => pb::SessionState::Completed,
    };
    pb::Session {
        id: r.id.to_string(),
        activity_id: r.activity_id.to_string(),
        kind: convert::kind(r.kind) as i32,
        state: state as i32,
        start_time: Some(timestamp(r.started_at)),
        end_time: r.ended_at.map(timestamp),
        planned_duration: Some(convert::seconds(r.planned_seconds)),
        duration: r.duration_seconds.map(convert::seconds),
        local_date: r.local_date.map(date),
        timezone: r.timezone.unwrap_or_default(),
    }
}
