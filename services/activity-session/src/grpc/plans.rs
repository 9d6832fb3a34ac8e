//! `UserPlanService`: workout plan templates assigned to the caller, their status changes
//! (rules in [`crate::domain::plans`]) and their progress from the caller's workout logs.

use std::collections::HashSet;

use sqlx::PgConnection;
use stride_bus::directory;
use stride_kit::{
    AppError, AppResult, Call, ResultExt as _, Violations,
    convert::{date, from_date, local_date, parse_id, require_id, timestamp},
    pagination::Page,
};
use stride_proto::activity_session::{self as pb, user_plan_service_server::UserPlanService};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::ActivitySessions;
use crate::{
    domain::plans::{self, Action, DayProgress, Progress, Status},
    errors,
    events::publish::{self, At},
    store::{
        self,
        plans::{PlanRow, Template},
    },
};

stride_kit::grpc_handlers! {
    impl UserPlanService for ActivitySessions {
        fn assign_plan(pb::AssignPlanRequest) -> pb::AssignPlanResponse => assign_plan;
        fn list_user_plans(pb::ListUserPlansRequest) -> pb::ListUserPlansResponse => list_user_plans;
        fn get_user_plan(pb::GetUserPlanRequest) -> pb::GetUserPlanResponse => get_user_plan;
        fn pause_user_plan(pb::PauseUserPlanRequest) -> pb::PauseUserPlanResponse => pause_user_plan;
        fn resume_user_plan(pb::ResumeUserPlanRequest) -> pb::ResumeUserPlanResponse => resume_user_plan;
        fn complete_user_plan(pb::CompleteUserPlanRequest) -> pb::CompleteUserPlanResponse => complete_user_plan;
        fn remove_user_plan(pb::RemoveUserPlanRequest) -> pb::RemoveUserPlanResponse => remove_user_plan;
    }
}

const DEFAULT_PAGE_SIZE: usize = 20;
/// How far from today a start date may be, either way.
const START_WINDOW: Duration = Duration::days(366);

/// The caller's zone and local date now.
async fn today(
    conn: &mut PgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<(String, Date)> {
    let tz = directory::timezone(conn, user).await?;
    let today = local_date(now, &tz);
    Ok((tz, today))
}

/// Progress of each of `rows` as of `today`, in order.
async fn progress_of(
    conn: &mut PgConnection,
    rows: &[PlanRow],
    today: Date,
) -> sqlx::Result<Vec<Progress>> {
    let templates: Vec<Uuid> = rows.iter().map(|r| r.plan_id).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let templates = store::plans::templates(conn, &templates).await?;
    let logged = store::plans::logged(conn, &ids).await?;
    let none = HashSet::new();
    let empty = Template::default();
    Ok(rows
        .iter()
        .map(|r| {
            let t = templates.get(&r.plan_id).unwrap_or(&empty);
            plans::progress(
                &r.state(),
                t.days_per_week,
                &t.days,
                logged.get(&r.id).unwrap_or(&none),
                today,
            )
        })
        .collect())
}

async fn assign_plan(
    s: &ActivitySessions,
    call: Call<pb::AssignPlanRequest>,
) -> AppResult<pb::AssignPlanResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let plan_id = parse_id(&mut v, "plan_id", &req.plan_id);
    let start = req.start_date.as_ref().and_then(from_date);
    v.when(
        start.is_none(),
        "start_date",
        "is required: a valid calendar date",
    );
    v.check()?;
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let (tz, today) = today(&mut tx, user, now).await?;
    let start = start.unwrap_or(today);
    if start < today - START_WINDOW || start > today + START_WINDOW {
        return Err(AppError::invalid(
            "start_date",
            "must be within a year of today",
        ));
    }
    let templates = store::plans::templates(&mut tx, &[plan_id]).await?;
    let template = templates
        .get(&plan_id)
        .ok_or_else(errors::no_workout_plan)?;
    let row = store::plans::insert(&mut tx, user, plan_id, start, now)
        .await
        .on_constraint(store::plans::ONE_RUNNING, |_| {
            errors::plan_already_running()
        })?;
    let p = plans::progress(
        &row.state(),
        template.days_per_week,
        &template.days,
        &HashSet::new(),
        today,
    );
    let at = At {
        now,
        local_date: today,
        timezone: &tz,
    };
    let dates = plans::training_dates(&row.state(), template.days_per_week, &template.days, today);
    tx.publish(&publish::plan_assigned(&row, p.days_total, &dates, &at))
        .await?;
    tx.commit().await?;
    Ok(pb::AssignPlanResponse {
        user_plan: Some(to_proto(&row, p)),
    })
}

async fn list_user_plans(
    s: &ActivitySessions,
    call: Call<pb::ListUserPlansRequest>,
) -> AppResult<pb::ListUserPlansResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let status = match pb::UserPlanStatus::try_from(req.status) {
        Ok(pb::UserPlanStatus::Unspecified) => None,
        Ok(pb::UserPlanStatus::Active) => Some(Status::Active),
        Ok(pb::UserPlanStatus::Paused) => Some(Status::Paused),
        Ok(pb::UserPlanStatus::Completed) => Some(Status::Completed),
        Ok(pb::UserPlanStatus::Removed) => Some(Status::Removed),
        Err(_) => {
            v.add("status", "must be ACTIVE, PAUSED, COMPLETED or REMOVED");
            None
        }
    };
    let page = Page::<Uuid>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::plans::list(
        &mut conn,
        user,
        status,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id);
    let (_, today) = today(&mut conn, user, s.clock.now_db()).await?;
    let progress = progress_of(&mut conn, &rows, today).await?;
    Ok(pb::ListUserPlansResponse {
        user_plans: rows
            .iter()
            .zip(progress)
            .map(|(r, p)| to_proto(r, p))
            .collect(),
        next_page_token,
    })
}

async fn get_user_plan(
    s: &ActivitySessions,
    call: Call<pb::GetUserPlanRequest>,
) -> AppResult<pb::GetUserPlanResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("user_plan_id", &call.message.user_plan_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::plans::get(&mut conn, user, id)
        .await?
        .ok_or_else(errors::no_user_plan)?;
    let (_, today) = today(&mut conn, user, s.clock.now_db()).await?;
    let p = progress_of(&mut conn, std::slice::from_ref(&row), today)
        .await?
        .pop()
        .unwrap_or_else(|| plans::progress(&row.state(), 1, &[], &HashSet::new(), today));
    Ok(pb::GetUserPlanResponse {
        user_plan: Some(to_proto(&row, p)),
    })
}

/// Applies `action` to the caller's plan `raw_id`; completing publishes plan.completed.v1, any
/// other change plan.rescheduled.v1 with the training dates still ahead.
async fn change(
    s: &ActivitySessions,
    user: Uuid,
    raw_id: &str,
    action: Action,
) -> AppResult<pb::UserPlan> {
    let id = require_id("user_plan_id", raw_id)?;
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let row = store::plans::lock(&mut tx, user, id)
        .await?
        .ok_or_else(errors::no_user_plan)?;
    let (tz, today) = today(&mut tx, user, now).await?;
    let next = plans::apply(&row.state(), action, today)
        .map_err(|r| errors::plan_status(r.action.as_str(), r.status.as_str()))?;
    let row = store::plans::save(&mut tx, id, &next, now).await?;
    let p = progress_of(&mut tx, std::slice::from_ref(&row), today)
        .await?
        .pop()
        .unwrap_or_else(|| plans::progress(&next, 1, &[], &HashSet::new(), today));
    let at = At {
        now,
        local_date: today,
        timezone: &tz,
    };
    if action == Action::Complete {
        tx.publish(&publish::plan_completed(&row, &p, &at)).await?;
    } else {
        // Paused, resumed or removed: the schedule the plan-day reminders follow.
        let templates = store::plans::templates(&mut tx, &[row.plan_id]).await?;
        let dates = templates.get(&row.plan_id).map_or_else(Vec::new, |t| {
            plans::training_dates(&next, t.days_per_week, &t.days, today)
        });
        tx.publish(&publish::plan_rescheduled(&row, &dates, &at))
            .await?;
    }
    tx.commit().await?;
    Ok(to_proto(&row, p))
}

async fn pause_user_plan(
    s: &ActivitySessions,
    call: Call<pb::PauseUserPlanRequest>,
) -> AppResult<pb::PauseUserPlanResponse> {
    let user = call.caller()?.user_id;
    let plan = change(s, user, &call.message.user_plan_id, Action::Pause).await?;
    Ok(pb::PauseUserPlanResponse {
        user_plan: Some(plan),
    })
}

async fn resume_user_plan(
    s: &ActivitySessions,
    call: Call<pb::ResumeUserPlanRequest>,
) -> AppResult<pb::ResumeUserPlanResponse> {
    let user = call.caller()?.user_id;
    let plan = change(s, user, &call.message.user_plan_id, Action::Resume).await?;
    Ok(pb::ResumeUserPlanResponse {
        user_plan: Some(plan),
    })
}

async fn complete_user_plan(
    s: &ActivitySessions,
    call: Call<pb::CompleteUserPlanRequest>,
) -> AppResult<pb::CompleteUserPlanResponse> {
    let user = call.caller()?.user_id;
    let plan = change(s, user, &call.message.user_plan_id, Action::Complete).await?;
    Ok(pb::CompleteUserPlanResponse {
        user_plan: Some(plan),
    })
}

async fn remove_user_plan(
    s: &ActivitySessions,
    call: Call<pb::RemoveUserPlanRequest>,
) -> AppResult<pb::RemoveUserPlanResponse> {
    let user = call.caller()?.user_id;
    let plan = change(s, user, &call.message.user_plan_id, Action::Remove).await?;
    Ok(pb::RemoveUserPlanResponse {
        user_plan: Some(plan),
    })
}

fn status(s: Status) -> pb::UserPlanStatus {
    match s {
        Status::Active => pb::UserPlanStatus::Active,
        Status::Paused => pb::UserPlanStatus::Paused,
        Status::Completed => pb::UserPlanStatus::Completed,
        Status::Removed => pb::UserPlanStatus::Removed,
    }
}

fn day(d: DayProgress) -> pb::UserPlanDay {
    pb::UserPlanDay {
        week: d.week,
        day: d.day,
        due_date: Some(date(d.due_date)),
        exercises: d.exercises,
        exercises_logged: d.exercises_logged,
        done: d.done,
    }
}

fn to_proto(r: &PlanRow, p: Progress) -> pb::UserPlan {
    pb::UserPlan {
        id: r.id.to_string(),
        plan_id: r.plan_id.to_string(),
        status: status(r.status) as i32,
        start_date: Some(date(r.start_date)),
        paused_days: r.state().paused_days(),
        paused_on: r.paused_on.map(date),
        ended_on: r.ended_on.map(date),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        progress: Some(pb::PlanProgress {
            days_total: p.days_total,
            days_done: p.days_done,
            days_due: p.days_due,
            current_week: p.current_week,
            current_week_day: p.current_week_day,
            this_week: p.this_week.into_iter().map(day).collect(),
            next_day: p.next_day.map(day),
            as_of: Some(date(p.as_of)),
        }),
    }
}
