//! UserPlanService: assigning a template, progress from the caller's workout logs, the status
//! machine through the API (impossible changes name the current status), list by status,
//! events; other users' plans NOT_FOUND; malformed input named.

use stride_kit::convert::{date, from_date};
use stride_proto::{
    Event as _,
    activity_session::{self as pb, UserPlanStatus},
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, assert_invalid, reason},
};
use time::macros::{date, datetime};
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, start};
use crate::workouts::{Catalog, catalog, log, logs, plans};

async fn probes(h: &Harness) -> (Probe, Probe, Probe) {
    (
        Probe::bind(&h.amqp, events::PlanAssigned::TYPE).await,
        Probe::bind(&h.amqp, events::PlanCompleted::TYPE).await,
        Probe::bind(&h.amqp, events::WorkoutLogged::TYPE).await,
    )
}

/// Assigns `c`'s template to `user` from `start`.
pub async fn assign(h: &Harness, user: Uuid, c: &Catalog, start: time::Date) -> pb::UserPlan {
    plans(h)
        .assign_plan(authed(
            pb::AssignPlanRequest {
                plan_id: c.template.to_string(),
                start_date: Some(date(start)),
            },
            &h.token(user),
        ))
        .await
        .expect("assign")
        .into_inner()
        .user_plan
        .expect("user plan")
}

/// Logs plan exercise `pe` of user plan `up` on `on`.
pub async fn log_plan(
    h: &Harness,
    user: Uuid,
    up: &str,
    pe: Uuid,
    on: time::Date,
) -> pb::WorkoutLog {
    log(
        h,
        user,
        pb::WorkoutLog {
            user_plan_id: up.into(),
            plan_exercise_id: pe.to_string(),
            date_performed: Some(date(on)),
            sets: 3,
            reps: 10,
            ..Default::default()
        },
    )
    .await
}

async fn get(h: &Harness, user: Uuid, id: &str) -> Result<pb::UserPlan, tonic::Status> {
    plans(h)
        .get_user_plan(authed(
            pb::GetUserPlanRequest {
                user_plan_id: id.into(),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().user_plan.expect("user plan"))
}

async fn act(
    h: &Harness,
    user: Uuid,
    id: &str,
    action: &str,
) -> Result<pb::UserPlan, tonic::Status> {
    let mut c = plans(h);
    let token = h.token(user);
    let user_plan_id = id.to_owned();
    let r = match action {
        "pause" => c
            .pause_user_plan(authed(pb::PauseUserPlanRequest { user_plan_id }, &token))
            .await
            .map(|r| r.into_inner().user_plan),
        "resume" => c
            .resume_user_plan(authed(pb::ResumeUserPlanRequest { user_plan_id }, &token))
            .await
            .map(|r| r.into_inner().user_plan),
        "complete" => c
            .complete_user_plan(authed(pb::CompleteUserPlanRequest { user_plan_id }, &token))
            .await
            .map(|r| r.into_inner().user_plan),
        _ => c
            .remove_user_plan(authed(pb::RemoveUserPlanRequest { user_plan_id }, &token))
            .await
            .map(|r| r.into_inner().user_plan),
    };
    r.map(|p| p.expect("user plan"))
}

#[tokio::test]
async fn progress_follows_the_workout_logs_of_the_plan() {
    // Wednesday 2026-11-25; the plan starts on Monday the 23rd.
    let (h, _p) = start(datetime!(2026-11-25 10:00 UTC)).await;
    let (mut assigned, _, _logged) = probes(&h).await;
    let c = catalog(&h).await;
    let user = Uuid::now_v7();
    let monday = date!(2026 - 11 - 23);
    let up = assign(&h, user, &c, monday).await;
    assert_eq!(up.status, UserPlanStatus::Active as i32);
    assert_eq!(up.plan_id, c.template.to_string());
    let p = up.progress.expect("progress");
    assert_eq!((p.days_total, p.days_done, p.days_due), (6, 0, 2));
    assert_eq!((p.current_week, p.current_week_day), (1, 3));

    let (_, kind, _, e) = assigned.next::<events::PlanAssigned>().await;
    assert_eq!(kind, "plan.assigned.v1");
    assert_eq!((e.user_plan_id.as_str(), e.days_total), (up.id.as_str(), 6));
    assert_eq!(e.start_date.as_ref().and_then(from_date), Some(monday));
    assert_eq!(
        e.local_date.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 25))
    );
    // The schedule ahead (plan-day reminders): Monday has passed, Wednesday on; six days in all.
    let dates: Vec<_> = e.training_dates.iter().filter_map(from_date).collect();
    assert_eq!(dates.len(), 5, "{dates:?}");
    assert_eq!(dates[0], date!(2026 - 11 - 25));
    assert!(dates.windows(2).all(|w| w[0] < w[1]));

    // Day 1 has two exercises: one logged is not the day done.
    let day1 = c.day(1, 1);
    let l = log_plan(&h, user, &up.id, day1[0].0, monday).await;
    assert_eq!(
        l.exercise_id,
        day1[0].1.to_string(),
        "the exercise comes from the plan"
    );
    let p = get(&h, user, &up.id)
        .await
        .expect("get")
        .progress
        .expect("progress");
    assert_eq!(p.days_done, 0);
    let next = p.next_day.expect("next day");
    assert_eq!(
        (next.week, next.day, next.exercises, next.exercises_logged),
        (1, 1, 2, 1)
    );

    log_plan(&h, user, &up.id, day1[1].0, monday).await;
    let p = get(&h, user, &up.id)
        .await
        .expect("get")
        .progress
        .expect("progress");
    assert_eq!(p.days_done, 1);
    let next = p.next_day.expect("next day");
    assert_eq!((next.week, next.day), (1, 2));
    // 3 days a week: Monday, Wednesday, Friday of the plan's week.
    assert_eq!(
        p.this_week
            .iter()
            .map(|d| (d.day, d.due_date.as_ref().and_then(from_date), d.done))
            .collect::<Vec<_>>(),
        [
            (1, Some(monday), true),
            (2, Some(date!(2026 - 11 - 25)), false),
            (3, Some(date!(2026 - 11 - 27)), false)
        ]
    );

    // A plan exercise of another template is not this plan's.
    let s = logs(&h)
        .log_workout(authed(
            pb::LogWorkoutRequest {
                workout_log: Some(pb::WorkoutLog {
                    user_plan_id: up.id.clone(),
                    plan_exercise_id: Uuid::now_v7().to_string(),
                    date_performed: Some(date(monday)),
                    sets: 1,
                    reps: 1,
                    ..Default::default()
                }),
                weight_unit: 0,
            },
            &h.token(user),
        ))
        .await
        .expect_err("foreign plan exercise");
    assert_eq!(s.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn the_status_machine_pauses_resumes_completes_and_removes() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let (_, mut completed, _logged) = probes(&h).await;
    let mut rescheduled = Probe::bind(&h.amqp, events::PlanRescheduled::TYPE).await;
    let c = catalog(&h).await;
    let user = Uuid::now_v7();
    let up = assign(&h, user, &c, date!(2026 - 11 - 23)).await;
    log_plan(&h, user, &up.id, c.day(1, 1)[0].0, date!(2026 - 11 - 23)).await;
    log_plan(&h, user, &up.id, c.day(1, 1)[1].0, date!(2026 - 11 - 23)).await;

    h.clock.advance(time::Duration::days(1));
    let paused = act(&h, user, &up.id, "pause").await.expect("pause");
    assert_eq!(paused.status, UserPlanStatus::Paused as i32);
    assert_eq!(
        paused.paused_on.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 24))
    );
    let again = act(&h, user, &up.id, "pause")
        .await
        .expect_err("paused already");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "PLAN_STATUS");
    assert!(again.message().contains("paused"), "{}", again.message());
    // Paused: no training day is due while it lasts.
    let (_, _, _, e) = rescheduled.next::<events::PlanRescheduled>().await;
    assert_eq!(
        (e.user_plan_id.as_str(), e.status.as_str()),
        (up.id.as_str(), "paused")
    );
    assert!(e.training_dates.is_empty());

    // Paused 3 days: the days not reached move 3 days later.
    h.clock.advance(time::Duration::days(3));
    let resumed = act(&h, user, &up.id, "resume").await.expect("resume");
    assert_eq!(resumed.status, UserPlanStatus::Active as i32);
    assert_eq!(resumed.paused_days, 3);
    let p = resumed.progress.expect("progress");
    let day2 = p.this_week.iter().find(|d| d.day == 2).expect("day 2");
    assert_eq!(
        day2.due_date.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 28))
    );
    // Resumed: the schedule again, from the moved day 2 on.
    let (_, _, _, e) = rescheduled.next::<events::PlanRescheduled>().await;
    assert_eq!(e.status, "active");
    assert_eq!(
        e.training_dates.first().and_then(from_date),
        Some(date!(2026 - 11 - 28))
    );

    let done = act(&h, user, &up.id, "complete").await.expect("complete");
    assert_eq!(done.status, UserPlanStatus::Completed as i32);
    assert_eq!(
        done.ended_on.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 27))
    );
    let (_, kind, _, e) = completed.next::<events::PlanCompleted>().await;
    assert_eq!(kind, "plan.completed.v1");
    assert_eq!((e.days_done, e.days_total), (1, 6));
    assert_eq!(e.user_plan_id, up.id);

    let resume = act(&h, user, &up.id, "resume")
        .await
        .expect_err("completed");
    assert_eq!(resume.code(), Code::FailedPrecondition);
    assert!(
        resume.message().contains("completed"),
        "{}",
        resume.message()
    );

    // A second run of the template while none runs.
    let second = assign(&h, user, &c, date!(2026 - 11 - 30)).await;
    let dup = plans(&h)
        .assign_plan(authed(
            pb::AssignPlanRequest {
                plan_id: c.template.to_string(),
                start_date: Some(date(date!(2026 - 12 - 01))),
            },
            &h.token(user),
        ))
        .await
        .expect_err("runs already");
    assert_eq!(dup.code(), Code::AlreadyExists);

    let removed = act(&h, user, &up.id, "remove").await.expect("remove");
    assert_eq!(removed.status, UserPlanStatus::Removed as i32);
    let remove = act(&h, user, &up.id, "remove").await.expect_err("removed");
    assert_eq!(remove.code(), Code::FailedPrecondition);

    let list = |status: UserPlanStatus| {
        let mut client = plans(&h);
        let token = h.token(user);
        async move {
            client
                .list_user_plans(authed(
                    pb::ListUserPlansRequest {
                        status: status as i32,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .expect("list")
                .into_inner()
                .user_plans
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(UserPlanStatus::Unspecified).await,
        [second.id.as_str()]
    );
    assert_eq!(list(UserPlanStatus::Active).await, [second.id.as_str()]);
    assert_eq!(list(UserPlanStatus::Removed).await, [up.id.as_str()]);
    assert!(list(UserPlanStatus::Paused).await.is_empty());

    // Logging to a removed plan is refused with its status.
    let s = logs(&h)
        .log_workout(authed(
            pb::LogWorkoutRequest {
                workout_log: Some(pb::WorkoutLog {
                    user_plan_id: up.id.clone(),
                    plan_exercise_id: c.day(1, 2)[0].0.to_string(),
                    date_performed: Some(date(date!(2026 - 11 - 27))),
                    sets: 1,
                    reps: 1,
                    ..Default::default()
                }),
                weight_unit: 0,
            },
            &h.token(user),
        ))
        .await
        .expect_err("removed");
    assert_eq!(s.code(), Code::FailedPrecondition);
    h.stop().await;
}

#[tokio::test]
async fn another_users_plan_is_not_found() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    let (owner, intruder) = (Uuid::now_v7(), Uuid::now_v7());
    let up = assign(&h, owner, &c, date!(2026 - 11 - 23)).await;
    assert_eq!(
        get(&h, intruder, &up.id).await.expect_err("theirs").code(),
        Code::NotFound
    );
    for action in ["pause", "complete", "remove"] {
        let s = act(&h, intruder, &up.id, action).await.expect_err("theirs");
        assert_eq!(s.code(), Code::NotFound, "{action}");
    }
    let s = logs(&h)
        .log_workout(authed(
            pb::LogWorkoutRequest {
                workout_log: Some(pb::WorkoutLog {
                    user_plan_id: up.id.clone(),
                    plan_exercise_id: c.day(1, 1)[0].0.to_string(),
                    date_performed: Some(date(date!(2026 - 11 - 23))),
                    sets: 1,
                    reps: 1,
                    ..Default::default()
                }),
                weight_unit: 0,
            },
            &h.token(intruder),
        ))
        .await
        .expect_err("theirs");
    assert_eq!(s.code(), Code::NotFound);
    // The owner's plan is untouched.
    assert_eq!(
        get(&h, owner, &up.id).await.expect("own").status,
        UserPlanStatus::Active as i32
    );
    let none = plans(&h)
        .get_user_plan(pb::GetUserPlanRequest {
            user_plan_id: up.id.clone(),
        })
        .await
        .expect_err("no token");
    assert_eq!(none.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn malformed_requests_name_their_fields() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let s = plans(&h)
        .assign_plan(authed(
            pb::AssignPlanRequest {
                plan_id: "beginner".into(),
                start_date: Some(stride_proto::Date {
                    year: 2026,
                    month: 2,
                    day: 30,
                }),
            },
            &token,
        ))
        .await
        .expect_err("bad");
    assert_invalid(&s, &["plan_id", "start_date"]);
    let s = plans(&h)
        .assign_plan(authed(
            pb::AssignPlanRequest {
                plan_id: c.template.to_string(),
                start_date: Some(date(date!(2028 - 01 - 01))),
            },
            &token,
        ))
        .await
        .expect_err("too far");
    assert_invalid(&s, &["start_date"]);
    let s = plans(&h)
        .assign_plan(authed(
            pb::AssignPlanRequest {
                plan_id: Uuid::now_v7().to_string(),
                start_date: Some(date(date!(2026 - 11 - 23))),
            },
            &token,
        ))
        .await
        .expect_err("no such template");
    assert_eq!(s.code(), Code::NotFound);
    let s = plans(&h)
        .list_user_plans(authed(
            pb::ListUserPlansRequest {
                status: 42,
                page_size: -1,
                page_token: String::new(),
            },
            &token,
        ))
        .await
        .expect_err("bad");
    assert_invalid(&s, &["status", "page_size"]);
    let s = act(&h, user, "", "pause").await.expect_err("bad");
    assert_invalid(&s, &["user_plan_id"]);
    h.stop().await;
}

/// Gives `user` a running plan with a logged plan exercise, and a free-exercise log.
async fn seed(h: &Harness, c: &Catalog, user: Uuid) {
    let up = assign(h, user, c, date!(2026 - 11 - 23)).await;
    log_plan(h, user, &up.id, c.day(1, 1)[0].0, date!(2026 - 11 - 23)).await;
    log(
        h,
        user,
        crate::workouts::free(c.squat, date!(2026 - 11 - 22), 3, 5, None),
    )
    .await;
}

#[tokio::test]
async fn user_deleted_purges_plans_and_logs() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let _more = (
        Probe::bind(&h.amqp, events::WorkoutUpdated::TYPE).await,
        Probe::bind(&h.amqp, events::WorkoutDeleted::TYPE).await,
    );
    let c = catalog(&h).await;
    stride_testkit::conformance::user_deleted(&h, |u| seed(&h, &c, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_moves_plans_and_logs() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    stride_testkit::conformance::user_merged(&h, |u| seed(&h, &c, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn a_merge_keeps_the_targets_run_of_a_template_both_run() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    let (guest, target) = (Uuid::now_v7(), Uuid::now_v7());
    let guest_plan = assign(&h, guest, &c, date!(2026 - 11 - 16)).await;
    let guest_log = log_plan(
        &h,
        guest,
        &guest_plan.id,
        c.day(1, 1)[0].0,
        date!(2026 - 11 - 16),
    )
    .await;
    let target_plan = assign(&h, target, &c, date!(2026 - 11 - 23)).await;

    let auth = stride_testkit::bus::Publisher::start(&h.amqp, "auth").await;
    let id = auth
        .publish(&stride_testkit::fixtures::user_merged(
            &guest.to_string(),
            &target.to_string(),
            datetime!(2026-11-23 10:00 UTC),
        ))
        .await;
    h.consumed(id).await;

    let moved = get(&h, target, &guest_plan.id)
        .await
        .expect("moved to the target");
    assert_eq!(moved.status, UserPlanStatus::Removed as i32);
    assert_eq!(
        get(&h, target, &target_plan.id).await.expect("kept").status,
        UserPlanStatus::Active as i32
    );
    let l = logs(&h)
        .get_workout_log(authed(
            pb::GetWorkoutLogRequest {
                log_id: guest_log.id.clone(),
                weight_unit: 0,
            },
            &h.token(target),
        ))
        .await
        .expect("the guest's log moved")
        .into_inner()
        .workout_log
        .expect("log");
    assert_eq!(l.user_plan_id, guest_plan.id);
    assert_eq!(
        get(&h, guest, &guest_plan.id)
            .await
            .expect_err("gone")
            .code(),
        Code::NotFound
    );
    h.stop().await;
}
