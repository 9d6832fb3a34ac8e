//! The caller's training as activity-session knows it, read with the caller's token: workout
//! logs over a window, the current (active) plan with its template, and the caller's today.

use stride_kit::{AppError, AppResult, Caller, convert, grpc::on_behalf};
use stride_proto::{
    activity_session::{
        GetWorkoutPlanRequest, ListUserPlansRequest, ListWorkoutLogsRequest, UserPlan,
        UserPlanStatus, WeightUnit, WorkoutPlan, catalog_service_client::CatalogServiceClient,
        user_plan_service_client::UserPlanServiceClient,
        workout_log_service_client::WorkoutLogServiceClient,
    },
    profile::{GetMyProfileRequest, profile_service_client::ProfileServiceClient},
};
use time::Date;

use super::{Agents, PEER_DEADLINE};
use crate::domain::progress::Log;

/// Workout log pages read (100 logs each), at most.
const MAX_LOG_PAGES: usize = 10;

fn unavailable(what: &str, status: Option<&tonic::Status>) -> AppError {
    match status {
        Some(s) => {
            tracing::warn!(peer = what, code = ?s.code(), message = s.message(), "peer read failed")
        }
        None => tracing::warn!(peer = what, "peer read timed out"),
    }
    AppError::Unavailable(format!(
        "the {what} cannot be reached right now; try again shortly"
    ))
}

/// The caller's local date: their profile's timezone, UTC when profile cannot say.
pub(super) async fn today(s: &Agents, caller: &Caller) -> Date {
    let mut client = ProfileServiceClient::new(on_behalf(&s.profile, &caller.token));
    let tz = match tokio::time::timeout(
        PEER_DEADLINE,
        client.get_my_profile(GetMyProfileRequest::default()),
    )
    .await
    {
        Ok(Ok(r)) => r
            .into_inner()
            .profile
            .map(|p| convert::timezone_or_utc(&p.timezone).to_owned())
            .unwrap_or_else(|| "UTC".to_owned()),
        _ => {
            tracing::debug!("profile unavailable; today is the UTC date");
            "UTC".to_owned()
        }
    };
    convert::local_date(s.clock.now(), &tz)
}

/// The caller's workout logs of `from..=to` (kilograms), oldest first: the newest
/// `MAX_LOG_PAGES` × 100 (activity-session lists newest first); `truncated` when there were more.
pub(super) struct Logs {
    pub logs: Vec<Log>,
    pub truncated: bool,
}

pub(super) async fn logs(s: &Agents, caller: &Caller, from: Date, to: Date) -> AppResult<Logs> {
    let mut client = WorkoutLogServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let mut out = Vec::new();
    let mut token = String::new();
    let mut truncated = false;
    for page in 1..=MAX_LOG_PAGES {
        let r = tokio::time::timeout(
            PEER_DEADLINE,
            client.list_workout_logs(ListWorkoutLogsRequest {
                from: Some(convert::date(from)),
                to: Some(convert::date(to)),
                page_size: 100,
                page_token: token.clone(),
                weight_unit: WeightUnit::Kg as i32,
                ..Default::default()
            }),
        )
        .await
        .map_err(|_| unavailable("workout log", None))?
        .map_err(|e| unavailable("workout log", Some(&e)))?
        .into_inner();
        for l in r.workout_logs {
            let Some(date) = l.date_performed.as_ref().and_then(convert::from_date) else {
                continue;
            };
            out.push(Log {
                date,
                exercise_id: l.exercise_id,
                sets: l.sets.max(0).unsigned_abs(),
                reps: l.reps.max(0).unsigned_abs(),
                weight_kg: l.weight.map_or(0.0, |w| w.value),
            });
        }
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
        truncated = page == MAX_LOG_PAGES;
    }
    out.sort_by_key(|l| l.date);
    Ok(Logs {
        logs: out,
        truncated,
    })
}

/// The caller's active plan and its template, or None without one.
pub(super) async fn current_plan(
    s: &Agents,
    caller: &Caller,
) -> AppResult<Option<(UserPlan, WorkoutPlan)>> {
    let mut plans = UserPlanServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let r = tokio::time::timeout(
        PEER_DEADLINE,
        plans.list_user_plans(ListUserPlansRequest {
            status: UserPlanStatus::Active as i32,
            page_size: 1,
            ..Default::default()
        }),
    )
    .await
    .map_err(|_| unavailable("plan service", None))?
    .map_err(|e| unavailable("plan service", Some(&e)))?
    .into_inner();
    let Some(user_plan) = r.user_plans.into_iter().next() else {
        return Ok(None);
    };
    let mut catalog = CatalogServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let template = tokio::time::timeout(
        PEER_DEADLINE,
        catalog.get_workout_plan(GetWorkoutPlanRequest {
            plan_id: user_plan.plan_id.clone(),
            ..Default::default()
        }),
    )
    .await
    .map_err(|_| unavailable("workout plan catalog", None))?
    .map_err(|e| unavailable("workout plan catalog", Some(&e)))?
    .into_inner()
    .plan
    .ok_or_else(|| unavailable("workout plan catalog", None))?;
    Ok(Some((user_plan, template)))
}
