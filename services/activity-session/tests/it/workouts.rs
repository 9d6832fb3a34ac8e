//! WorkoutLogService: logging in either unit (stored in kilograms), history by date range,
//! exercise and plan with a cursor, edits with a field mask and deletions, each published with
//! the figures consumers need; other users' logs NOT_FOUND; malformed input named.

use prost_types::FieldMask;
use stride_kit::convert::{date, from_date};
use stride_proto::{
    Event as _,
    activity_session::{
        self as pb, WeightUnit, user_plan_service_client::UserPlanServiceClient,
        workout_log_service_client::WorkoutLogServiceClient,
    },
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, assert_invalid},
};
use time::{
    Date,
    macros::{date, datetime},
};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, start};

pub fn logs(h: &Harness) -> WorkoutLogServiceClient<Channel> {
    WorkoutLogServiceClient::new(h.channel.clone())
}

pub fn plans(h: &Harness) -> UserPlanServiceClient<Channel> {
    UserPlanServiceClient::new(h.channel.clone())
}

/// Catalog rows the tests log against: two library exercises and a 2-week template of 3
/// training days a week (day 1: squat and plank; day 2: squat; day 3: plank).
pub struct Catalog {
    pub squat: Uuid,
    pub plank: Uuid,
    pub template: Uuid,
    /// (week, day, plan exercise id, exercise id), in plan order.
    pub plan_exercises: Vec<(i32, i32, Uuid, Uuid)>,
}

impl Catalog {
    /// The plan exercises of (week, day).
    pub fn day(&self, week: i32, day: i32) -> Vec<(Uuid, Uuid)> {
        self.plan_exercises
            .iter()
            .filter(|(w, d, _, _)| *w == week && *d == day)
            .map(|(_, _, pe, e)| (*pe, *e))
            .collect()
    }
}

/// Writes the catalog rows (catalog data has no write API: it ships in migrations).
pub async fn catalog(h: &Harness) -> Catalog {
    let (squat, plank, template) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (id, slug) in [(squat, "test-squat"), (plank, "test-plank")] {
        sqlx::query(
            "INSERT INTO exercises (id, slug, difficulty, primary_muscles, equipment)
             VALUES ($1, $2, 'beginner', '{quadriceps}', '{bodyweight}')",
        )
        .bind(id)
        .bind(slug)
        .execute(&h.db)
        .await
        .expect("exercise");
    }
    sqlx::query(
        "INSERT INTO workout_plans (id, slug, difficulty, weeks, days_per_week)
         VALUES ($1, 'test-plan', 'beginner', 2, 3)",
    )
    .bind(template)
    .execute(&h.db)
    .await
    .expect("template");
    let mut plan_exercises = Vec::new();
    for week in 1..=2 {
        for (day, exercises) in [(1, vec![squat, plank]), (2, vec![squat]), (3, vec![plank])] {
            for (i, e) in exercises.into_iter().enumerate() {
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO plan_exercises (id, plan_id, week, day, position, exercise_id,
                         sets, reps, duration_seconds, rest_seconds)
                     VALUES ($1, $2, $3, $4, $5, $6, 3, $7, $8, 60)",
                )
                .bind(id)
                .bind(template)
                .bind(week as i16)
                .bind(day as i16)
                .bind(i as i16 + 1)
                .bind(e)
                .bind((e == squat).then_some(10_i16))
                .bind((e == plank).then_some(60_i32))
                .execute(&h.db)
                .await
                .expect("plan exercise");
                plan_exercises.push((week, day, id, e));
            }
        }
    }
    Catalog {
        squat,
        plank,
        template,
        plan_exercises,
    }
}

pub fn kg(value: f64) -> Option<pb::Weight> {
    Some(pb::Weight {
        value,
        unit: WeightUnit::Kg as i32,
    })
}

/// A free-exercise log of `sets` × `reps` at `weight`, performed on `on`.
pub fn free(
    exercise: Uuid,
    on: Date,
    sets: i32,
    reps: i32,
    weight: Option<pb::Weight>,
) -> pb::WorkoutLog {
    pb::WorkoutLog {
        exercise_id: exercise.to_string(),
        date_performed: Some(date(on)),
        sets,
        reps,
        weight,
        ..Default::default()
    }
}

pub async fn log(h: &Harness, user: Uuid, l: pb::WorkoutLog) -> pb::WorkoutLog {
    logs(h)
        .log_workout(authed(
            pb::LogWorkoutRequest {
                workout_log: Some(l),
                weight_unit: 0,
            },
            &h.token(user),
        ))
        .await
        .expect("log workout")
        .into_inner()
        .workout_log
        .expect("workout log")
}

async fn probes(h: &Harness) -> (Probe, Probe, Probe) {
    (
        Probe::bind(&h.amqp, events::WorkoutLogged::TYPE).await,
        Probe::bind(&h.amqp, events::WorkoutUpdated::TYPE).await,
        Probe::bind(&h.amqp, events::WorkoutDeleted::TYPE).await,
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[tokio::test]
async fn a_log_in_pounds_is_stored_in_kilograms_and_answered_in_the_unit_asked() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let (mut logged, _, _) = probes(&h).await;
    let c = catalog(&h).await;
    let user = Uuid::now_v7();
    let token = h.token(user);

    let l = logs(&h)
        .log_workout(authed(
            pb::LogWorkoutRequest {
                workout_log: Some(free(
                    c.squat,
                    date!(2026 - 11 - 22),
                    3,
                    10,
                    Some(pb::Weight {
                        value: 135.0,
                        unit: WeightUnit::Lb as i32,
                    }),
                )),
                weight_unit: WeightUnit::Lb as i32,
            },
            &token,
        ))
        .await
        .expect("log")
        .into_inner()
        .workout_log
        .expect("log");
    let w = l.weight.expect("weight");
    assert_eq!((w.value, w.unit), (135.0, WeightUnit::Lb as i32));
    assert_eq!(l.volume.expect("volume").value, 4050.0);
    assert_eq!(
        l.date_performed.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 22))
    );

    let stored: f64 = sqlx::query_scalar("SELECT weight_kg FROM workout_logs WHERE id = $1::uuid")
        .bind(&l.id)
        .fetch_one(&h.db)
        .await
        .expect("stored");
    assert!(close(stored, 61.234_969_95), "{stored}");

    // Read back in kilograms (the default).
    let got = logs(&h)
        .get_workout_log(authed(
            pb::GetWorkoutLogRequest {
                log_id: l.id.clone(),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect("get")
        .into_inner()
        .workout_log
        .expect("log");
    let w = got.weight.expect("weight");
    assert_eq!((w.value, w.unit), (61.23, WeightUnit::Kg as i32));

    let (_, kind, app, e) = logged.next::<events::WorkoutLogged>().await;
    assert_eq!(
        (kind.as_str(), app.as_str()),
        ("workout.logged.v1", "activity-session")
    );
    assert_eq!(e.user_id, user.to_string());
    assert_eq!(e.log_id, l.id);
    assert_eq!(e.timezone, "UTC");
    assert_eq!(
        e.local_date.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 23))
    );
    let f = e.figures.expect("figures");
    assert_eq!(f.exercise_id, c.squat.to_string());
    assert_eq!((f.sets, f.reps), (3, 10));
    assert!(close(f.volume_kg, 30.0 * 61.234_969_95), "{}", f.volume_kg);
    assert_eq!(
        f.date_performed.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 22))
    );
    h.stop().await;
}

#[tokio::test]
async fn history_filters_by_dates_and_exercise_and_pages_newest_first() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let mut ids = Vec::new();
    for (i, day) in [18, 19, 19, 20, 21].into_iter().enumerate() {
        let e = if i % 2 == 0 { c.squat } else { c.plank };
        let on = Date::from_calendar_date(2026, time::Month::November, day).expect("date");
        ids.push((on, e, log(&h, user, free(e, on, 3, 10, kg(20.0))).await.id));
    }
    log(&h, other, free(c.squat, date!(2026 - 11 - 20), 1, 1, None)).await;
    let token = h.token(user);
    let list = |req: pb::ListWorkoutLogsRequest| {
        let mut client = logs(&h);
        let token = token.clone();
        async move {
            client
                .list_workout_logs(authed(req, &token))
                .await
                .expect("list")
                .into_inner()
        }
    };

    // Every page of 2, newest date first (then newest logged).
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = list(pb::ListWorkoutLogsRequest {
            page_size: 2,
            page_token: page_token.clone(),
            ..Default::default()
        })
        .await;
        assert!(page.workout_logs.len() <= 2);
        seen.extend(page.workout_logs.into_iter().map(|l| l.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut expected: Vec<(Date, String)> = ids.iter().map(|(d, _, id)| (*d, id.clone())).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        seen,
        expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    );

    // A date range (inclusive) and an exercise.
    let page = list(pb::ListWorkoutLogsRequest {
        from: Some(date(date!(2026 - 11 - 19))),
        to: Some(date(date!(2026 - 11 - 20))),
        ..Default::default()
    })
    .await;
    assert_eq!(page.workout_logs.len(), 3);
    let page = list(pb::ListWorkoutLogsRequest {
        exercise_id: c.plank.to_string(),
        ..Default::default()
    })
    .await;
    let mut want: Vec<&String> = ids
        .iter()
        .filter(|(_, e, _)| *e == c.plank)
        .map(|(_, _, id)| id)
        .collect();
    want.reverse();
    assert_eq!(
        page.workout_logs.iter().map(|l| &l.id).collect::<Vec<_>>(),
        want
    );
    h.stop().await;
}

#[tokio::test]
async fn an_edit_and_a_deletion_publish_what_totals_need() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let (_, mut updated, mut deleted) = probes(&h).await;
    let c = catalog(&h).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let l = log(
        &h,
        user,
        free(c.squat, date!(2026 - 11 - 22), 3, 10, kg(50.0)),
    )
    .await;

    let edited = logs(&h)
        .update_workout_log(authed(
            pb::UpdateWorkoutLogRequest {
                log_id: l.id.clone(),
                workout_log: Some(pb::WorkoutLog {
                    reps: 8,
                    weight: kg(60.0),
                    date_performed: Some(date(date!(2026 - 11 - 23))),
                    sets: 99, // not in the mask: ignored
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["reps".into(), "weight".into(), "datePerformed".into()],
                }),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect("update")
        .into_inner()
        .workout_log
        .expect("log");
    assert_eq!((edited.sets, edited.reps), (3, 8));
    assert_eq!(edited.volume.expect("volume").value, 1440.0);
    let (_, _, _, e) = updated.next::<events::WorkoutUpdated>().await;
    let (before, after) = (e.before.expect("before"), e.after.expect("after"));
    assert_eq!((before.volume_kg, after.volume_kg), (1500.0, 1440.0));
    assert_eq!(
        before.date_performed.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 22))
    );
    assert_eq!(
        after.date_performed.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 23))
    );

    logs(&h)
        .delete_workout_log(authed(
            pb::DeleteWorkoutLogRequest {
                log_id: l.id.clone(),
            },
            &token,
        ))
        .await
        .expect("delete");
    let (_, _, _, e) = deleted.next::<events::WorkoutDeleted>().await;
    assert_eq!(e.log_id, l.id);
    assert_eq!(e.figures.expect("figures").volume_kg, 1440.0);
    let gone = logs(&h)
        .get_workout_log(authed(
            pb::GetWorkoutLogRequest {
                log_id: l.id.clone(),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn another_users_log_is_not_found_and_no_token_is_unauthenticated() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    let (owner, intruder) = (Uuid::now_v7(), Uuid::now_v7());
    let l = log(&h, owner, free(c.squat, date!(2026 - 11 - 22), 3, 10, None)).await;
    let token = h.token(intruder);
    let get = logs(&h)
        .get_workout_log(authed(
            pb::GetWorkoutLogRequest {
                log_id: l.id.clone(),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(get.code(), Code::NotFound);
    let update = logs(&h)
        .update_workout_log(authed(
            pb::UpdateWorkoutLogRequest {
                log_id: l.id.clone(),
                workout_log: Some(pb::WorkoutLog {
                    sets: 1,
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["sets".into()],
                }),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(update.code(), Code::NotFound);
    let delete = logs(&h)
        .delete_workout_log(authed(
            pb::DeleteWorkoutLogRequest {
                log_id: l.id.clone(),
            },
            &token,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(delete.code(), Code::NotFound);
    let listed = logs(&h)
        .list_workout_logs(authed(pb::ListWorkoutLogsRequest::default(), &token))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.workout_logs.is_empty());

    let anonymous = logs(&h)
        .list_workout_logs(pb::ListWorkoutLogsRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // An exercise the library does not have.
    let unknown = logs(&h)
        .log_workout(authed(
            pb::LogWorkoutRequest {
                workout_log: Some(free(Uuid::now_v7(), date!(2026 - 11 - 22), 3, 10, None)),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("unknown exercise");
    assert_eq!(unknown.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn malformed_logs_are_refused_with_the_fields_named() {
    let (h, _p) = start(datetime!(2026-11-23 10:00 UTC)).await;
    let _probes = probes(&h).await;
    let c = catalog(&h).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let refuse = |req: pb::LogWorkoutRequest| {
        let mut client = logs(&h);
        let token = token.clone();
        async move {
            client
                .log_workout(authed(req, &token))
                .await
                .expect_err("refused")
        }
    };

    let s = refuse(pb::LogWorkoutRequest {
        workout_log: Some(pb::WorkoutLog {
            exercise_id: c.squat.to_string(),
            date_performed: Some(date(date!(2026 - 11 - 24))),
            sets: 0,
            reps: -1,
            weight: Some(pb::Weight {
                value: 20.0,
                unit: 0,
            }),
            notes: "x".repeat(1001),
            ..Default::default()
        }),
        weight_unit: 9,
    })
    .await;
    assert_invalid(
        &s,
        &[
            "weight_unit",
            "workout_log.weight.unit",
            "workout_log.sets",
            "workout_log.reps",
            "workout_log.date_performed",
            "workout_log.notes",
        ],
    );

    let s = refuse(pb::LogWorkoutRequest {
        workout_log: Some(pb::WorkoutLog {
            exercise_id: "squat".into(),
            plan_exercise_id: Uuid::now_v7().to_string(),
            sets: 3,
            reps: 10,
            weight: Some(pb::Weight {
                value: -5.0,
                unit: WeightUnit::Kg as i32,
            }),
            duration: Some(prost_types::Duration {
                seconds: 1,
                nanos: 5,
            }),
            ..Default::default()
        }),
        weight_unit: 0,
    })
    .await;
    assert_invalid(
        &s,
        &[
            "workout_log.exercise_id",
            "workout_log.user_plan_id",
            "workout_log.date_performed",
            "workout_log.weight.value",
            "workout_log.duration",
        ],
    );

    let s = refuse(pb::LogWorkoutRequest::default()).await;
    assert_invalid(&s, &["workout_log"]);

    let l = log(&h, user, free(c.squat, date!(2026 - 11 - 22), 3, 10, None)).await;
    let s = logs(&h)
        .update_workout_log(authed(
            pb::UpdateWorkoutLogRequest {
                log_id: l.id.clone(),
                workout_log: Some(pb::WorkoutLog::default()),
                update_mask: Some(FieldMask {
                    paths: vec!["exercise_id".into()],
                }),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("refused");
    assert_invalid(&s, &["update_mask.paths"]);
    // Thousands of paths: one violation, not one each.
    let s = logs(&h)
        .update_workout_log(authed(
            pb::UpdateWorkoutLogRequest {
                log_id: l.id.clone(),
                workout_log: Some(pb::WorkoutLog::default()),
                update_mask: Some(FieldMask {
                    paths: vec!["x".into(); 5000],
                }),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("refused");
    assert_invalid(&s, &["update_mask.paths"]);
    let s = logs(&h)
        .update_workout_log(authed(
            pb::UpdateWorkoutLogRequest {
                log_id: l.id.clone(),
                workout_log: Some(pb::WorkoutLog {
                    sets: 101,
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["sets".into()],
                }),
                weight_unit: 0,
            },
            &token,
        ))
        .await
        .expect_err("refused");
    assert_invalid(&s, &["workout_log.sets"]);
    let s = logs(&h)
        .list_workout_logs(authed(
            pb::ListWorkoutLogsRequest {
                from: Some(date(date!(2026 - 11 - 20))),
                to: Some(stride_proto::Date {
                    year: 2026,
                    month: 11,
                    day: 19,
                }),
                exercise_id: "nope".into(),
                page_size: 101,
                page_token: "garbage".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect_err("refused");
    assert_invalid(&s, &["to", "exercise_id", "page_size", "page_token"]);
    h.stop().await;
}
