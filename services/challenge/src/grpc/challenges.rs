//! ListChallenges, GetChallenge and JoinChallenge.

use sqlx::PgConnection;
use stride_bus::directory;
use stride_kit::{
    AppResult, Call, Violations,
    convert::{date, require_id, timestamp},
    pagination::Page,
};
use stride_proto::challenge as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Challenges;
use crate::{
    domain::challenge::{GoalKind, Recurrence, Window},
    errors,
    store::{self, challenges::ChallengeRow},
};

/// Challenges per page when the request does not say.
const DEFAULT_PAGE_SIZE: usize = 50;

pub async fn list(
    s: &Challenges,
    call: Call<pb::ListChallengesRequest>,
) -> AppResult<pb::ListChallengesResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    // The cursor is the id of the last challenge served.
    let page = Page::<Uuid>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::challenges::list(
        &mut conn,
        caller.user_id,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id);
    Ok(pb::ListChallengesResponse {
        challenges: rows.iter().map(to_proto).collect(),
        next_page_token,
    })
}

pub async fn get(
    s: &Challenges,
    call: Call<pb::GetChallengeRequest>,
) -> AppResult<pb::GetChallengeResponse> {
    let caller = call.caller()?;
    let id = require_id("challenge_id", &call.message.challenge_id)?;
    let mut conn = s.pool.acquire().await?;
    let c = store::challenges::get(&mut conn, caller.user_id, id)
        .await?
        .ok_or_else(errors::no_challenge)?;
    let my_progress = my_progress(&mut conn, caller.user_id, &c, s.clock.now()).await?;
    Ok(pb::GetChallengeResponse {
        challenge: Some(to_proto(&c)),
        my_progress,
    })
}

/// Joining twice is a no-op that answers the same participation.
pub async fn join(
    s: &Challenges,
    call: Call<pb::JoinChallengeRequest>,
) -> AppResult<pb::JoinChallengeResponse> {
    let caller = call.caller()?;
    let id = require_id("challenge_id", &call.message.challenge_id)?;
    let mut tx = s.pool.begin().await?;
    let joined = store::challenges::join(&mut tx, id, caller.user_id, s.clock.now_db()).await?;
    let c = store::challenges::get(&mut tx, caller.user_id, id)
        .await?
        .ok_or_else(errors::no_challenge)?;
    let my_progress = my_progress(&mut tx, caller.user_id, &c, s.clock.now()).await?;
    tx.commit().await?;
    if joined {
        tracing::info!(challenge_id = %id, "joined");
    }
    Ok(pb::JoinChallengeResponse {
        challenge: Some(to_proto(&c)),
        my_progress,
    })
}

/// The caller's progress in the window that contains "today" in their stored timezone; none
/// when they have not joined.
async fn my_progress(
    conn: &mut PgConnection,
    user: Uuid,
    c: &ChallengeRow,
    now: OffsetDateTime,
) -> AppResult<Option<pb::Progress>> {
    let Some(joined_at) = c.joined_at else {
        return Ok(None);
    };
    let timezone = directory::timezone(conn, user).await?;
    let window = Window::current(c.recurrence, now, &timezone);
    let row = store::progress::get(conn, c.id, user, window.start).await?;
    let (current, completed_at) = row.map_or((0, None), |r| (r.current, r.completed_at));
    Ok(Some(pb::Progress {
        challenge_id: c.id.to_string(),
        window_start: Some(date(window.start)),
        window_end: window.end.map(date),
        current,
        target: c.target,
        completed: completed_at.is_some(),
        complete_time: completed_at.map(timestamp),
        join_time: Some(timestamp(joined_at)),
    }))
}

fn to_proto(c: &ChallengeRow) -> pb::Challenge {
    pb::Challenge {
        id: c.id.to_string(),
        title: c.title.clone(),
        description: c.description.clone(),
        goal_kind: match c.goal_kind {
            GoalKind::SessionsCompleted => pb::GoalKind::SessionsCompleted,
        } as i32,
        activity_kind: c.activity_kind.clone(),
        target: c.target,
        points: c.points,
        recurrence: match c.recurrence {
            Recurrence::None => pb::Recurrence::None,
            Recurrence::Weekly => pb::Recurrence::Weekly,
        } as i32,
        is_system: c.is_system,
        participant_count: i32::try_from(c.participant_count).unwrap_or(i32::MAX),
        joined: c.joined_at.is_some(),
    }
}
