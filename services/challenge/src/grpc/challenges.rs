//! The challenges themselves: list, get, join and leave; an owner's create, update, delete and
//! end; a challenge's windows (periods). Rules: docs/challenges.md.

use std::collections::HashMap;

use sqlx::PgConnection;
use stride_bus::directory;
use stride_kit::{
    AppResult, Call,
    convert::{date, from_date, local_date, require_id, timestamp},
    pagination::Page,
};
use stride_proto::challenge as pb;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::Challenges;
use crate::{
    domain::{
        challenge::{GoalKind, Recurrence, State, Visibility},
        goal::{self, Status},
        spec::{self, Draft, Violations},
    },
    errors,
    events::publish,
    store::{
        self,
        challenges::{Card, ChallengeRow, View},
    },
};

/// Challenges per page when the request does not say.
const DEFAULT_PAGE_SIZE: usize = 50;
/// Participants shown on a challenge.
const CARDS: i64 = 5;

/// The caller's local date now (their zone from the user directory, UTC when unknown).
async fn today(conn: &mut PgConnection, user: Uuid, now: OffsetDateTime) -> AppResult<Date> {
    let tz = directory::timezone(conn, user).await?;
    Ok(local_date(now, &tz))
}

pub async fn list(
    s: &Challenges,
    call: Call<pb::ListChallengesRequest>,
) -> AppResult<pb::ListChallengesResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = stride_kit::Violations::new();
    let view = match pb::ChallengeView::try_from(req.view) {
        Ok(pb::ChallengeView::Unspecified) => View::All,
        Ok(pb::ChallengeView::Current) => View::Current,
        Ok(pb::ChallengeView::Joined) => View::Joined,
        Ok(pb::ChallengeView::Owned) => View::Owned,
        Ok(pb::ChallengeView::Public) => View::Public,
        Ok(pb::ChallengeView::Friends) => View::Friends,
        Err(_) => {
            v.add("view", "must be one of the ChallengeView values");
            View::All
        }
    };
    // The cursor is the id of the last challenge served.
    let page = Page::<Uuid>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let today = today(&mut conn, caller.user_id, s.clock.now()).await?;
    let rows = store::challenges::list(
        &mut conn,
        caller.user_id,
        today,
        view,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id);
    let cards = cards(&mut conn, &rows).await?;
    Ok(pb::ListChallengesResponse {
        challenges: rows.iter().map(|c| to_proto(c, today, &cards)).collect(),
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
    let today = today(&mut conn, caller.user_id, s.clock.now()).await?;
    let c = store::challenges::get(&mut conn, caller.user_id, today, id, false)
        .await?
        .ok_or_else(errors::no_challenge)?;
    let cards = cards(&mut conn, std::slice::from_ref(&c)).await?;
    let challenge = to_proto(&c, today, &cards);
    Ok(pb::GetChallengeResponse {
        my_progress: challenge.my_progress.clone(),
        challenge: Some(challenge),
    })
}

/// Joining twice is a no-op that answers the same participation (even once full or ended).
pub async fn join(
    s: &Challenges,
    call: Call<pb::JoinChallengeRequest>,
) -> AppResult<pb::JoinChallengeResponse> {
    let caller = call.caller()?;
    let id = require_id("challenge_id", &call.message.challenge_id)?;
    let mut tx = s.outbox.begin().await?;
    let tz = directory::timezone(&mut tx, caller.user_id).await?;
    let today = local_date(s.clock.now(), &tz);
    let c = store::challenges::get(&mut tx, caller.user_id, today, id, true)
        .await?
        .ok_or_else(errors::no_challenge)?;
    if c.joined_at.is_none() {
        if c.schedule().state(today, c.ended_at.is_some()) == State::Ended {
            return Err(errors::challenge_ended());
        }
        if c.max_participants
            .is_some_and(|max| c.participant_count >= max)
        {
            return Err(errors::challenge_full());
        }
        store::challenges::add_participant(&mut tx, id, caller.user_id, s.clock.now_db()).await?;
        tx.publish(&publish::challenge_joined(
            caller.user_id,
            &c,
            s.clock.now(),
            today,
            &tz,
        ))
        .await?;
        tracing::info!(challenge_id = %id, "joined");
    }
    let (challenge, my_progress) = reread(&mut tx, caller.user_id, today, id).await?;
    tx.commit().await?;
    Ok(pb::JoinChallengeResponse {
        challenge,
        my_progress,
    })
}

/// Leaving a challenge one is not in changes nothing.
pub async fn leave(
    s: &Challenges,
    call: Call<pb::LeaveChallengeRequest>,
) -> AppResult<pb::LeaveChallengeResponse> {
    let caller = call.caller()?;
    let id = require_id("challenge_id", &call.message.challenge_id)?;
    let mut tx = s.outbox.begin().await?;
    let tz = directory::timezone(&mut tx, caller.user_id).await?;
    let today = local_date(s.clock.now(), &tz);
    let mut c = store::challenges::get(&mut tx, caller.user_id, today, id, true)
        .await?
        .ok_or_else(errors::no_challenge)?;
    if store::challenges::remove_participant(&mut tx, id, caller.user_id).await? {
        tx.publish(&publish::challenge_left(
            caller.user_id,
            id,
            s.clock.now(),
            today,
            &tz,
        ))
        .await?;
        tracing::info!(challenge_id = %id, "left");
    }
    // A private challenge one left is out of sight: answer it as it is now, from what we hold.
    match store::challenges::get(&mut tx, caller.user_id, today, id, false).await? {
        Some(now) => c = now,
        None => {
            c.participant_count -= 1;
            (
                c.joined_at,
                c.my_current,
                c.my_completed_at,
                c.my_final_rank,
            ) = (None, None, None, None);
        }
    }
    tx.commit().await?;
    Ok(pb::LeaveChallengeResponse {
        challenge: Some(to_proto(&c, today, &HashMap::new())),
    })
}

pub async fn create(
    s: &Challenges,
    call: Call<pb::CreateChallengeRequest>,
) -> AppResult<pb::CreateChallengeResponse> {
    let caller = call.caller()?;
    let mut v = Violations::new();
    let d = draft(&mut v, call.message.challenge.as_ref());
    let mut tx = s.outbox.begin().await?;
    let tz = directory::timezone(&mut tx, caller.user_id).await?;
    let today = local_date(s.clock.now(), &tz);
    let spec = spec::check(&mut v, &d, today);
    v.check()?;
    let spec = spec.ok_or_else(|| stride_kit::AppError::invalid("challenge", "is invalid"))?;
    let id = Uuid::now_v7();
    let now = s.clock.now_db();
    store::challenges::create(&mut tx, id, caller.user_id, &spec, now).await?;
    store::periods::set_window(&mut tx, id, spec.start, spec.end).await?;
    // The owner takes part in their challenge.
    store::challenges::add_participant(&mut tx, id, caller.user_id, now).await?;
    if let Some(c) = store::challenges::get(&mut tx, caller.user_id, today, id, true).await? {
        tx.publish(&publish::challenge_joined(
            caller.user_id,
            &c,
            s.clock.now(),
            today,
            &tz,
        ))
        .await?;
    }
    let (challenge, _) = reread(&mut tx, caller.user_id, today, id).await?;
    tx.commit().await?;
    tracing::info!(challenge_id = %id, goal = spec.goal.kind.as_str(), "challenge created");
    Ok(pb::CreateChallengeResponse { challenge })
}

/// The caller's own challenge `id`, locked; another user's (visible or not) and a system
/// challenge are NOT_FOUND.
async fn owned(
    conn: &mut PgConnection,
    caller: Uuid,
    today: Date,
    id: Uuid,
) -> AppResult<ChallengeRow> {
    store::challenges::get(conn, caller, today, id, true)
        .await?
        .filter(|c| c.owner_id == Some(caller))
        .ok_or_else(errors::no_challenge)
}

pub async fn update(
    s: &Challenges,
    call: Call<pb::UpdateChallengeRequest>,
) -> AppResult<pb::UpdateChallengeResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let id = require_id("challenge_id", &req.challenge_id)?;
    let mut v = Violations::new();
    let wanted = draft(&mut v, req.challenge.as_ref());
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    let mut tx = s.pool.begin().await?;
    let today = today(&mut tx, caller.user_id, s.clock.now()).await?;
    let c = owned(&mut tx, caller.user_id, today, id).await?;
    let current = c.spec().ok_or_else(errors::no_challenge)?;
    if today >= current.start || c.ended_at.is_some() {
        return Err(errors::challenge_started());
    }
    let d = spec::overlay(&mut v, &current.to_draft(), &wanted, paths);
    let spec = spec::check(&mut v, &d, today);
    if let Some(sp) = &spec
        && sp
            .max_participants
            .is_some_and(|max| max < c.participant_count)
    {
        v.add(
            "challenge.max_participants",
            &format!(
                "must not be below the {} participants already in",
                c.participant_count
            ),
        );
    }
    v.check()?;
    let spec = spec.ok_or_else(|| stride_kit::AppError::invalid("challenge", "is invalid"))?;
    store::challenges::update(&mut tx, id, &spec).await?;
    store::periods::set_window(&mut tx, id, spec.start, spec.end).await?;
    let (challenge, _) = reread(&mut tx, caller.user_id, today, id).await?;
    tx.commit().await?;
    Ok(pb::UpdateChallengeResponse { challenge })
}

pub async fn delete(
    s: &Challenges,
    call: Call<pb::DeleteChallengeRequest>,
) -> AppResult<pb::DeleteChallengeResponse> {
    let caller = call.caller()?;
    let id = require_id("challenge_id", &call.message.challenge_id)?;
    let mut tx = s.pool.begin().await?;
    let today = today(&mut tx, caller.user_id, s.clock.now()).await?;
    owned(&mut tx, caller.user_id, today, id).await?;
    if store::challenges::has_awards(&mut tx, id).await? {
        return Err(errors::challenge_has_awards());
    }
    store::challenges::delete(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(challenge_id = %id, "challenge deleted");
    Ok(pb::DeleteChallengeResponse {})
}

/// Ends the caller's challenge now and settles its window in the same transaction (its final
/// ranks, `challenge.settled.v1`); later activity counts no more.
pub async fn end(
    s: &Challenges,
    call: Call<pb::EndChallengeRequest>,
) -> AppResult<pb::EndChallengeResponse> {
    let caller = call.caller()?;
    let id = require_id("challenge_id", &call.message.challenge_id)?;
    let mut tx = s.outbox.begin().await?;
    let today = today(&mut tx, caller.user_id, s.clock.now()).await?;
    let c = owned(&mut tx, caller.user_id, today, id).await?;
    if c.schedule().state(today, c.ended_at.is_some()) == State::Ended {
        return Err(errors::challenge_ended());
    }
    let now = s.clock.now_db();
    store::challenges::end(&mut tx, id, now).await?;
    // Waits for a settler holding the window; one it settled is not settled again.
    for w in store::periods::claim_open(&mut tx, id).await? {
        let settled = store::periods::settle(&mut tx, id, w.window_start, now).await?;
        tx.publish(&publish::challenge_settled(&settled, now))
            .await?;
    }
    let (challenge, _) = reread(&mut tx, caller.user_id, today, id).await?;
    tx.commit().await?;
    tracing::info!(challenge_id = %id, "challenge ended early");
    Ok(pb::EndChallengeResponse { challenge })
}

pub async fn periods(
    s: &Challenges,
    call: Call<pb::ListChallengePeriodsRequest>,
) -> AppResult<pb::ListChallengePeriodsResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = stride_kit::Violations::new();
    let id = stride_kit::convert::parse_id(&mut v, "challenge_id", &req.challenge_id);
    // The cursor is the Julian day of the last window served (newest first).
    let page = Page::<i32>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let before = match page.after() {
        Some(&day) => Some(
            Date::from_julian_day(day)
                .map_err(|_| stride_kit::AppError::invalid("page_token", "is not a valid token"))?,
        ),
        None => None,
    };
    let mut conn = s.pool.acquire().await?;
    let today = today(&mut conn, caller.user_id, s.clock.now()).await?;
    let c = store::challenges::get(&mut conn, caller.user_id, today, id, false)
        .await?
        .ok_or_else(errors::no_challenge)?;
    let rows = store::periods::list(
        &mut conn,
        id,
        caller.user_id,
        today,
        before,
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.window_start.to_julian_day());
    Ok(pb::ListChallengePeriodsResponse {
        periods: rows
            .iter()
            .map(|p| pb::ChallengePeriod {
                start_date: Some(date(p.window_start)),
                end_date: Some(date(p.window_end)),
                settle_time: p.settled_at.map(timestamp),
                participant_count: p.participant_count,
                completed_count: p.completed_count,
                my_progress: p.my_current.map(|current| {
                    progress(
                        &c,
                        p.window_start,
                        Some(p.window_end),
                        current,
                        p.my_completed_at,
                        p.my_final_rank,
                    )
                }),
            })
            .collect(),
        next_page_token,
    })
}

/// The challenge as the caller now sees it, and their progress.
async fn reread(
    conn: &mut PgConnection,
    caller: Uuid,
    today: Date,
    id: Uuid,
) -> AppResult<(Option<pb::Challenge>, Option<pb::Progress>)> {
    let c = store::challenges::get(conn, caller, today, id, false)
        .await?
        .ok_or_else(errors::no_challenge)?;
    let cards = cards(conn, std::slice::from_ref(&c)).await?;
    let challenge = to_proto(&c, today, &cards);
    Ok((Some(challenge.clone()), challenge.my_progress))
}

/// A few participants of each of `rows`.
async fn cards(
    conn: &mut PgConnection,
    rows: &[ChallengeRow],
) -> AppResult<HashMap<Uuid, Vec<Card>>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut by_challenge: HashMap<Uuid, Vec<Card>> = HashMap::new();
    for card in store::challenges::cards(conn, &ids, CARDS).await? {
        by_challenge
            .entry(card.challenge_id)
            .or_default()
            .push(card);
    }
    Ok(by_challenge)
}

/// The request's spec as a draft; enum values the API does not define are named.
fn draft(v: &mut Violations, spec: Option<&pb::ChallengeSpec>) -> Draft {
    let Some(s) = spec else {
        return Draft::default();
    };
    let goal_kind = match pb::GoalKind::try_from(s.goal_kind) {
        Ok(pb::GoalKind::SessionsCompleted) => Some(GoalKind::SessionsCompleted),
        Ok(pb::GoalKind::Minutes) => Some(GoalKind::Minutes),
        Ok(pb::GoalKind::TasksCompleted) => Some(GoalKind::TasksCompleted),
        Ok(pb::GoalKind::ShutdownReflections) => Some(GoalKind::ShutdownReflections),
        Ok(pb::GoalKind::WorkoutsLogged) => Some(GoalKind::WorkoutsLogged),
        Ok(pb::GoalKind::DaysInARow) => Some(GoalKind::DaysInARow),
        Ok(pb::GoalKind::RoutinesCompleted) => Some(GoalKind::RoutinesCompleted),
        Ok(pb::GoalKind::LessonsCompleted) => Some(GoalKind::LessonsCompleted),
        // Named by spec::check as required.
        Ok(pb::GoalKind::Unspecified) | Err(_) => None,
    };
    let visibility = match pb::Visibility::try_from(s.visibility) {
        Ok(pb::Visibility::Unspecified) => None,
        Ok(pb::Visibility::Private) => Some(Visibility::Private),
        Ok(pb::Visibility::Friends) => Some(Visibility::Friends),
        Ok(pb::Visibility::Public) => Some(Visibility::Public),
        Err(_) => {
            v.add(
                "challenge.visibility",
                "must be one of the Visibility values",
            );
            None
        }
    };
    Draft {
        title: s.title.clone(),
        description: s.description.clone(),
        goal_kind,
        activity_kind: s.activity_kind.clone(),
        routine_id: s.routine_id.clone(),
        target: s.target,
        points: s.points,
        visibility,
        start_date: s.start_date.as_ref().map(from_date),
        end_date: s.end_date.as_ref().map(from_date),
        duration_days: s.duration_days,
        max_participants: s.max_participants,
    }
}

/// The caller's progress in window `start..=end` of `c`.
fn progress(
    c: &ChallengeRow,
    start: Date,
    end: Option<Date>,
    current: i32,
    completed_at: Option<OffsetDateTime>,
    final_rank: Option<i32>,
) -> pb::Progress {
    let status = match goal::status(current, completed_at.is_some()) {
        Status::NotStarted => pb::ParticipantStatus::NotStarted,
        Status::InProgress => pb::ParticipantStatus::InProgress,
        Status::Completed => pb::ParticipantStatus::Completed,
    };
    pb::Progress {
        challenge_id: c.id.to_string(),
        window_start: Some(date(start)),
        window_end: end.map(date),
        current,
        target: c.target,
        completed: completed_at.is_some(),
        complete_time: completed_at.map(timestamp),
        join_time: c.joined_at.map(timestamp),
        status: status as i32,
        final_rank: final_rank.unwrap_or(0),
    }
}

fn to_proto(c: &ChallengeRow, today: Date, cards: &HashMap<Uuid, Vec<Card>>) -> pb::Challenge {
    let schedule = c.schedule();
    let my_progress = c.joined_at.map(|_| {
        let w = schedule.shown(today);
        progress(
            c,
            w.start,
            w.end,
            c.my_current.unwrap_or(0),
            c.my_completed_at,
            c.my_final_rank,
        )
    });
    pb::Challenge {
        id: c.id.to_string(),
        title: c.title.clone(),
        description: c.description.clone(),
        goal_kind: match c.goal_kind {
            GoalKind::SessionsCompleted => pb::GoalKind::SessionsCompleted,
            GoalKind::Minutes => pb::GoalKind::Minutes,
            GoalKind::TasksCompleted => pb::GoalKind::TasksCompleted,
            GoalKind::ShutdownReflections => pb::GoalKind::ShutdownReflections,
            GoalKind::WorkoutsLogged => pb::GoalKind::WorkoutsLogged,
            GoalKind::DaysInARow => pb::GoalKind::DaysInARow,
            GoalKind::RoutinesCompleted => pb::GoalKind::RoutinesCompleted,
            GoalKind::LessonsCompleted => pb::GoalKind::LessonsCompleted,
        } as i32,
        activity_kind: c.activity_kind.clone(),
        target: c.target,
        points: c.points,
        recurrence: match c.recurrence {
            Recurrence::None => pb::Recurrence::None,
            Recurrence::Weekly => pb::Recurrence::Weekly,
        } as i32,
        is_system: c.is_system,
        participant_count: c.participant_count,
        joined: c.joined_at.is_some(),
        routine_id: c.routine_id.map(|r| r.to_string()).unwrap_or_default(),
        visibility: match c.visibility {
            Visibility::Private => pb::Visibility::Private,
            Visibility::Friends => pb::Visibility::Friends,
            Visibility::Public => pb::Visibility::Public,
        } as i32,
        owner_id: c.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        start_date: c.starts_on.map(date),
        end_date: c.ends_on.map(date),
        max_participants: c.max_participants.unwrap_or(0),
        state: match schedule.state(today, c.ended_at.is_some()) {
            State::Upcoming => pb::ChallengeState::Upcoming,
            State::Active => pb::ChallengeState::Active,
            State::Ended => pb::ChallengeState::Ended,
        } as i32,
        my_progress,
        participants: cards
            .get(&c.id)
            .map(|cs| {
                cs.iter()
                    .map(|p| pb::ParticipantCard {
                        user_id: p.user_id.to_string(),
                        display_name: p.display_name.clone(),
                        avatar_url: p.avatar_url.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        end_time: c.ended_at.map(timestamp),
    }
}
