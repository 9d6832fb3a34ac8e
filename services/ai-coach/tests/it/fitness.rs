//! AgentService's fitness agents (ADR 0029) against the real activity-session (catalog,
//! workout logs, user plans): RecommendWorkout, SuggestExercises, AnalyzeProgress,
//! MotivationBoost, AdaptiveWorkout and OptimizeCurrentPlan — the rules with no model, the
//! stand-in model's valid answer used, malformed or unsafe model output retried once then
//! replaced by the rules with the reason, executions recorded and owner-only, bad inputs named.

use std::collections::HashMap;

use serde_json::{Value, json};
use stride_kit::convert::date;
use stride_proto::{
    activity_session::{
        AssignPlanRequest, Exercise, ListWorkoutPlansRequest, LogWorkoutRequest, Weight,
        WeightUnit, WorkoutLog, catalog_service_client::CatalogServiceClient,
        user_plan_service_client::UserPlanServiceClient,
        workout_log_service_client::WorkoutLogServiceClient,
    },
    ai_coach::{
        AdaptiveWorkoutRequest, AnalyzeProgressRequest, AnswerPath, GetExecutionRequest,
        ListExecutionsRequest, MotivationBoostRequest, MotivationTone, OptimizeCurrentPlanRequest,
        PlanLevel, RecommendWorkoutRequest, RecommendWorkoutResponse, SuggestExercisesRequest,
        agent_service_client::AgentServiceClient,
    },
};
use stride_testkit::{
    authed,
    bus::{assert_invalid, reason},
    openai::Reply,
};
use time::{Date, macros::datetime};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::{
    agents::exercises,
    support::{Harness, MODEL, Mesh, stand_in, start},
};

type Client = AgentServiceClient<Channel>;

fn client(h: &Harness) -> Client {
    AgentServiceClient::new(h.channel.clone())
}

/// The catalog by id.
async fn by_id(h: &Harness, mesh: &Mesh) -> (HashMap<String, Exercise>, HashMap<String, Exercise>) {
    let by_slug = exercises(h, mesh).await;
    let by_id = by_slug
        .values()
        .map(|e| (e.id.clone(), e.clone()))
        .collect();
    (by_slug, by_id)
}

async fn activity_channel(mesh: &Mesh) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", mesh.activity_session.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Logs `exercise_id` for the token's user on `on`: 3 sets of `reps` at `kg` (0: body weight).
async fn log(mesh: &Mesh, token: &str, exercise_id: &str, on: Date, reps: i32, kg: f64) {
    WorkoutLogServiceClient::new(activity_channel(mesh).await)
        .log_workout(authed(
            LogWorkoutRequest {
                workout_log: Some(WorkoutLog {
                    exercise_id: exercise_id.into(),
                    date_performed: Some(date(on)),
                    sets: 3,
                    reps,
                    weight: (kg > 0.0).then_some(Weight {
                        value: kg,
                        unit: WeightUnit::Kg as i32,
                    }),
                    ..Default::default()
                }),
                weight_unit: WeightUnit::Kg as i32,
            },
            token,
        ))
        .await
        .expect("log a workout");
}

fn workout_request() -> RecommendWorkoutRequest {
    RecommendWorkoutRequest {
        goals: vec!["build muscle".into()],
        equipment: vec!["Dumbbell".into()],
        minutes: 20,
        limitations: vec!["bad left knee".into()],
        difficulty: PlanLevel::Beginner as i32,
        ..Default::default()
    }
}

async fn recommend(
    c: &mut Client,
    token: &str,
    req: RecommendWorkoutRequest,
) -> Result<RecommendWorkoutResponse, tonic::Status> {
    c.recommend_workout(authed(req, token))
        .await
        .map(tonic::Response::into_inner)
}

const KNEE_BANNED: [&str; 7] = [
    "squat",
    "lunge",
    "jump",
    "burpee",
    "step-up",
    "pistol",
    "leg-press",
];

/// Asserts every item fits: known, dumbbells or body weight only, knee-safe, plausible.
fn assert_fits(r: &RecommendWorkoutResponse, by_id: &HashMap<String, Exercise>, minutes: i32) {
    let w = r.workout.as_ref().unwrap();
    assert!(!w.items.is_empty());
    assert!(w.estimated_minutes <= minutes, "{w:?}");
    for i in &w.items {
        let e = &by_id[&i.exercise_id];
        assert_eq!(i.exercise_name, e.name);
        for t in &e.equipment {
            assert!(
                ["bodyweight", "dumbbell"].contains(&t.key.as_str()),
                "{} needs {}",
                e.slug,
                t.key
            );
        }
        for banned in KNEE_BANNED {
            assert!(!e.slug.contains(banned), "{} ignores the knee", e.slug);
        }
        assert!((1..=10).contains(&i.sets));
        assert!((1..=50).contains(&i.reps));
        assert!((0..=600).contains(&i.rest_seconds));
    }
}

#[tokio::test]
async fn the_rules_workout_fits_the_time_equipment_and_a_knee_and_is_recorded() {
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), None).await;
    let (_, by_id) = by_id(&h, &mesh).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    let r = recommend(&mut c, &token, workout_request()).await.unwrap();
    let p = r.provenance.clone().unwrap();
    assert_eq!(p.path, AnswerPath::Rules as i32);
    assert_eq!(p.reason, "no model is configured");
    assert_fits(&r, &by_id, 20);
    let w = r.workout.as_ref().unwrap();
    assert!(w.items.len() >= 2, "a useful workout: {w:?}");
    assert_eq!(w.level, PlanLevel::Beginner as i32);
    let reasoning = r.reasoning.join(" ");
    assert!(
        reasoning.contains("knee limitation rules out"),
        "{reasoning}"
    );
    assert!(
        reasoning.contains("Left out for equipment you do not have"),
        "{reasoning}"
    );

    let e = c
        .get_execution(authed(
            GetExecutionRequest {
                execution_id: r.execution_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(e.kind, "agent.workout");
    let names: Vec<&str> = e.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["analyse", "select", "rules_workout"]);
    assert_eq!(e.provenance.unwrap().answer_id, p.answer_id);

    // A longer budget, more exercises; never over it.
    let long = recommend(
        &mut c,
        &token,
        RecommendWorkoutRequest {
            minutes: 60,
            ..workout_request()
        },
    )
    .await
    .unwrap();
    assert_fits(&long, &by_id, 60);
    assert!(long.workout.unwrap().items.len() > w.items.len());
    mesh.stop().await;
    h.stop().await;
}

/// A model workout of `id` × 3 sets of 10, 60 s rest.
fn model_workout(ids: &[&str], sets: u32) -> Value {
    json!({
        "title": "Dumbbell pump",
        "items": ids.iter().map(|id| json!({"exercise_id": id, "sets": sets, "reps": 10, "rest_seconds": 60})).collect::<Vec<_>>()
    })
}

#[tokio::test]
async fn model_workouts_are_checked_retried_once_then_the_rules_answer() {
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), Some(cfg)).await;
    let (by_slug, by_id) = by_id(&h, &mesh).await;
    let push_up = by_slug["push-up"].id.clone();
    let squat = by_slug["bodyweight-squat"].id.clone();
    let barbell = by_slug["barbell-curl"].id.clone();
    let tap = by_slug["plank-shoulder-tap"].id.clone();
    let unknown = Uuid::now_v7().to_string();
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let cases: [(Reply, &str); 5] = [
        (Reply::Raw("{\"title\": \"oops".into()), "not valid JSON"),
        (
            Reply::Json(model_workout(&[&unknown], 3)),
            "is not an exercise of the catalog",
        ),
        (
            Reply::Json(model_workout(&[&squat], 3)),
            "ruled out by the knee limitation",
        ),
        (Reply::Json(model_workout(&[&barbell], 3)), "needs barbell"),
        (
            // 2 × (10 × (30 + 60) + 60) s = 32 minutes.
            Reply::Json(model_workout(&[&push_up, &tap], 10)),
            "the budget is 20",
        ),
    ];
    let mut asked = 0;
    for (reply, why) in cases {
        ai.script("agent.workout", reply.clone());
        ai.script("agent.workout", reply);
        let r = recommend(&mut c, &token, workout_request()).await.unwrap();
        let p = r.provenance.clone().unwrap();
        assert_eq!(p.path, AnswerPath::RulesFallback as i32, "{why}");
        assert!(p.reason.contains(why), "{why}: {}", p.reason);
        assert_eq!(p.model, MODEL);
        let requests = ai.requests("agent.workout");
        assert_eq!(requests.len(), asked + 2, "{why}: one try and one retry");
        assert!(requests.last().unwrap().to_string().contains("rejected"));
        asked += 2;
        // The fallback is the rules' workout: it fits.
        assert_fits(&r, &by_id, 20);
        let e = c
            .get_execution(authed(
                GetExecutionRequest {
                    execution_id: r.execution_id.clone(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .execution
            .unwrap();
        let failed: Vec<i32> = e
            .steps
            .iter()
            .filter(|s| s.path == "failed")
            .map(|s| s.attempt)
            .collect();
        assert_eq!(failed, [1, 2], "{why}: {:?}", e.steps);
        assert_eq!(e.steps.last().unwrap().name, "rules_workout");
    }

    // Rejected once, then repaired: the model's second answer is used.
    ai.script("agent.workout", Reply::Json(model_workout(&[&squat], 3)));
    ai.script("agent.workout", Reply::Json(model_workout(&[&push_up], 3)));
    let r = recommend(&mut c, &token, workout_request()).await.unwrap();
    let p = r.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::Model as i32, "{}", p.reason);
    assert_eq!(p.model, MODEL);
    let w = r.workout.unwrap();
    assert_eq!(w.title, "Dumbbell pump");
    assert_eq!(w.items.len(), 1);
    assert_eq!(w.items[0].exercise_id, push_up);
    assert_eq!(w.items[0].exercise_name, by_slug["push-up"].name);
    // 3 × (30 + 60) + 60 s = 5.5 min, rounded up.
    assert_eq!(w.estimated_minutes, 6);
    // The first prompt listed only eligible exercises; the retry named the rejected one.
    let requests = ai.requests("agent.workout");
    let first = requests[requests.len() - 2].to_string();
    assert!(first.contains(&push_up));
    assert!(!first.contains(&squat));
    let retry = requests.last().unwrap().to_string();
    assert!(retry.contains(&squat) && retry.contains("knee"));
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn suggestions_come_from_the_catalog_and_the_model_only_orders_them() {
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), Some(cfg)).await;
    let (_, by_id) = by_id(&h, &mesh).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    let ask = SuggestExercisesRequest {
        target_muscles: vec!["chest".into()],
        difficulty: PlanLevel::Beginner as i32,
        max_results: 5,
        context: "home, no equipment".into(),
        ..Default::default()
    };
    // The model's answer is invalid twice (an id not among the candidates): the rules' ranking.
    let outsider = by_id
        .values()
        .find(|e| e.equipment.iter().any(|t| t.key == "barbell"))
        .unwrap()
        .id
        .clone();
    let bad = json!({"suggestions": [{"exercise_id": outsider, "reason": "heavy"}]});
    ai.script("agent.exercises", Reply::Json(bad.clone()));
    ai.script("agent.exercises", Reply::Json(bad));
    let r = c
        .suggest_exercises(authed(ask.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    let p = r.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::RulesFallback as i32);
    assert!(
        p.reason.contains("not one of the candidate"),
        "{}",
        p.reason
    );
    assert_eq!(r.exercises.len(), 5);
    for (i, s) in r.exercises.iter().enumerate() {
        assert_eq!(s.rank, i as i32 + 1);
        let e = &by_id[&s.exercise_id];
        assert!(
            e.primary_muscles
                .iter()
                .chain(&e.secondary_muscles)
                .any(|m| m.key == "chest"),
            "{} does not work the chest",
            e.slug
        );
        assert!(
            e.equipment.iter().all(|t| t.key == "bodyweight"),
            "{}",
            e.slug
        );
        assert!(!s.reason.is_empty());
    }
    // The best match works the chest as a primary muscle at the level asked.
    let first = &by_id[&r.exercises[0].exercise_id];
    assert!(first.primary_muscles.iter().any(|m| m.key == "chest"));
    assert!(
        r.exercises[0].reason.contains("primary muscle"),
        "{}",
        r.exercises[0].reason
    );

    // A valid model answer: its order and reasons, candidates only.
    let (a, b) = (&r.exercises[2].exercise_id, &r.exercises[0].exercise_id);
    ai.script(
        "agent.exercises",
        Reply::Json(json!({"suggestions": [
            {"exercise_id": a, "reason": "Gentle on the wrists."},
            {"exercise_id": b, "reason": "The classic."}
        ]})),
    );
    let m = c
        .suggest_exercises(authed(ask, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.provenance.unwrap().path, AnswerPath::Model as i32);
    let got: Vec<(&str, &str)> = m
        .exercises
        .iter()
        .map(|s| (s.exercise_id.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (a.as_str(), "Gentle on the wrists."),
            (b.as_str(), "The classic.")
        ]
    );
    let prompt = ai.requests("agent.exercises").last().unwrap().to_string();
    assert!(prompt.contains("home, no equipment"));
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn progress_and_motivation_come_from_the_workout_logs() {
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), Some(cfg)).await;
    let (by_slug, _) = by_id(&h, &mesh).await;
    let push_up = by_slug["push-up"].id.clone();
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    // Three sessions of push-ups at the same reps (a plateau), the last two days running.
    for d in [
        time::macros::date!(2026 - 03 - 05),
        time::macros::date!(2026 - 03 - 09),
        time::macros::date!(2026 - 03 - 10),
    ] {
        log(&mesh, &token, &push_up, d, 12, 0.0).await;
    }
    // The model phrases the figures.
    ai.script(
        "agent.progress",
        Reply::text("Three sessions: steady work."),
    );
    let r = c
        .analyze_progress(authed(AnalyzeProgressRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.from, Some(date(time::macros::date!(2026 - 02 - 11))));
    assert_eq!(r.to, Some(date(time::macros::date!(2026 - 03 - 10))));
    assert_eq!(r.workouts, 3);
    assert_eq!(r.training_days, 3);
    assert_eq!(r.training_days_per_week, 0.8);
    // Only the last of the four weeks has a workout.
    assert_eq!(r.consistency, 0.25);
    assert_eq!(r.plateaus.len(), 1);
    assert_eq!(r.plateaus[0].exercise_id, push_up);
    assert_eq!(r.plateaus[0].exercise_name, by_slug["push-up"].name);
    assert_eq!(r.plateaus[0].sessions, 3);
    assert!(r.suggestions.iter().any(|s| s.contains("harder variation")));
    assert_eq!(r.text, "Three sessions: steady work.");
    assert_eq!(r.provenance.unwrap().path, AnswerPath::Model as i32);

    // The model failing (a 400 is not retried): the rules' text, and why.
    ai.script("agent.motivation", Reply::Status(400));
    let m = c
        .motivation_boost(authed(MotivationBoostRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.training_days_last_7, 3);
    assert_eq!(m.days_since_last_workout, 0);
    assert_eq!(m.streak_days, 2);
    assert_eq!(m.planned_days_per_week, 0);
    // Three days without a plan is on track.
    assert_eq!(m.tone, MotivationTone::Celebratory as i32);
    assert!(
        m.message
            .starts_with("3 training days this week and a 2-day streak"),
        "{}",
        m.message
    );
    assert_eq!(m.tips.len(), 3);
    let p = m.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::RulesFallback as i32);
    assert!(!p.reason.is_empty());

    // Someone who never trained: welcome back, and an empty window is an answer.
    let new = h.token(Uuid::now_v7());
    let m = c
        .motivation_boost(authed(MotivationBoostRequest {}, &new))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.tone, MotivationTone::WelcomeBack as i32);
    assert_eq!(m.days_since_last_workout, -1);
    let r = c
        .analyze_progress(authed(AnalyzeProgressRequest::default(), &new))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.workouts, 0);
    assert!(
        r.insights[0].starts_with("No workout logged"),
        "{:?}",
        r.insights
    );
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn the_adaptive_workout_rests_what_was_trained_in_the_last_48_hours() {
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), None).await;
    let (by_slug, by_id) = by_id(&h, &mesh).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    log(
        &mesh,
        &token,
        &by_slug["push-up"].id,
        time::macros::date!(2026 - 03 - 09),
        10,
        0.0,
    )
    .await;
    // Three days ago: recovered.
    log(
        &mesh,
        &token,
        &by_slug["glute-bridge"].id,
        time::macros::date!(2026 - 03 - 07),
        10,
        0.0,
    )
    .await;
    let r = c
        .adaptive_workout(authed(
            AdaptiveWorkoutRequest {
                minutes: 30,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let chest: Vec<String> = by_slug["push-up"]
        .primary_muscles
        .iter()
        .map(|m| m.key.clone())
        .collect();
    assert_eq!(r.rested_muscles, chest);
    let w = r.workout.unwrap();
    assert!(!w.items.is_empty());
    assert!(w.estimated_minutes <= 30);
    for i in &w.items {
        let e = &by_id[&i.exercise_id];
        assert!(
            e.primary_muscles.iter().all(|m| !chest.contains(&m.key)),
            "{} works a resting muscle",
            e.slug
        );
    }
    assert!(!r.motivation.is_empty());
    assert_eq!(r.provenance.unwrap().path, AnswerPath::Rules as i32);
    // Muscles trained this week (chest, glutes) are not among those favoured.
    let favoured = r
        .reasoning
        .iter()
        .find(|x| x.starts_with("Favouring muscles not trained in the last 7 days"))
        .expect("the favoured muscles are named");
    assert!(favoured.contains("abs"), "{favoured}");
    assert!(
        !favoured.contains("chest") && !favoured.contains("glutes"),
        "{favoured}"
    );
    let e = c
        .get_execution(authed(
            GetExecutionRequest {
                execution_id: r.execution_id,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(e.kind, "agent.adaptive");
    let names: Vec<&str> = e.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "recent",
            "recovery",
            "select",
            "rules_workout",
            "motivation"
        ]
    );
    assert!(e.steps[1].reasoning.contains("chest"), "{:?}", e.steps[1]);
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn plan_optimisation_needs_a_current_plan_and_names_its_changes() {
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), None).await;
    let mut c = client(&h);
    let user = Uuid::now_v7();
    let token = h.token(user);
    let err = c
        .optimize_current_plan(authed(OptimizeCurrentPlanRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "NO_CURRENT_PLAN");

    let channel = activity_channel(&mesh).await;
    let template = CatalogServiceClient::new(channel.clone())
        .list_workout_plans(authed(
            ListWorkoutPlansRequest {
                page_size: 100,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plans
        .into_iter()
        .find(|p| p.slug == "home-bodyweight-starter")
        .unwrap();
    UserPlanServiceClient::new(channel)
        .assign_plan(authed(
            AssignPlanRequest {
                plan_id: template.id.clone(),
                start_date: Some(date(time::macros::date!(2026 - 02 - 23))),
            },
            &token,
        ))
        .await
        .unwrap();
    // Two weeks in, nothing done; a knee limitation.
    let r = c
        .optimize_current_plan(authed(
            OptimizeCurrentPlanRequest {
                limitations: vec!["knee pain".into()],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.plan_name, template.name);
    assert_eq!(r.days_done, 0);
    assert!(r.days_due >= 2, "{}", r.days_due);
    assert_eq!(r.modifications[0].kind, "reduce_frequency");
    assert!(r.modifications[0].reasoning.contains("2 days a week"));
    let replaced: Vec<_> = r
        .modifications
        .iter()
        .filter(|m| m.kind == "replace_exercise")
        .collect();
    assert!(!replaced.is_empty(), "{:?}", r.modifications);
    for m in replaced {
        assert!(m.reasoning.contains("knee"));
        assert!(!m.exercise_name.is_empty());
        for banned in ["squat", "lunge", "jump", "burpee"] {
            assert!(
                !m.replacement_exercise_name.to_lowercase().contains(banned),
                "{m:?}"
            );
        }
    }
    assert_eq!(r.provenance.unwrap().path, AnswerPath::Rules as i32);
    assert!(!r.text.is_empty());
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn bad_inputs_are_named_and_executions_are_their_owners_only() {
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), None).await;
    let mut c = client(&h);
    let (alice, bob) = (h.token(Uuid::now_v7()), h.token(Uuid::now_v7()));
    let too_many: Vec<String> = (0..31).map(|i| format!("thing-{i}")).collect();
    let err = recommend(
        &mut c,
        &alice,
        RecommendWorkoutRequest {
            minutes: -5,
            difficulty: 9,
            equipment: too_many,
            goals: vec!["".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["goals[0]", "equipment", "minutes", "difficulty"]);
    let err = recommend(
        &mut c,
        &alice,
        RecommendWorkoutRequest {
            minutes: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["minutes"]);
    let err = c
        .suggest_exercises(authed(
            SuggestExercisesRequest {
                max_results: 50,
                context: "x".repeat(501),
                ..Default::default()
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["target_muscles", "context", "max_results"]);
    let err = c
        .analyze_progress(authed(
            AnalyzeProgressRequest {
                from: Some(date(time::macros::date!(2026 - 03 - 09))),
                to: Some(date(time::macros::date!(2026 - 03 - 01))),
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["from"]);
    let err = c
        .analyze_progress(authed(
            AnalyzeProgressRequest {
                from: Some(date(time::macros::date!(2024 - 01 - 01))),
                to: Some(date(time::macros::date!(2026 - 03 - 11))),
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["to", "from"]);
    for (from, to) in [
        (
            Some(stride_proto::Date {
                year: 2026,
                month: 2,
                day: 30,
            }),
            None,
        ),
        (
            None,
            Some(stride_proto::Date {
                year: -9999,
                month: 1,
                day: 1,
            }),
        ),
    ] {
        let field = if from.is_some() { "from" } else { "to" };
        let err = c
            .analyze_progress(authed(AnalyzeProgressRequest { from, to }, &alice))
            .await
            .unwrap_err();
        assert_invalid(&err, &[field]);
    }
    let err = c
        .adaptive_workout(authed(
            AdaptiveWorkoutRequest {
                limitations: vec!["x".repeat(201)],
                ..Default::default()
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["limitations[0]"]);
    let err = c
        .motivation_boost(MotivationBoostRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Each run is an execution of its owner's.
    let r = recommend(&mut c, &alice, workout_request()).await.unwrap();
    c.motivation_boost(authed(MotivationBoostRequest {}, &alice))
        .await
        .unwrap();
    let kinds: Vec<String> = c
        .list_executions(authed(ListExecutionsRequest::default(), &alice))
        .await
        .unwrap()
        .into_inner()
        .executions
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["agent.motivation", "agent.workout"]);
    let theirs = c
        .list_executions(authed(ListExecutionsRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner()
        .executions;
    assert!(theirs.is_empty());
    let err = c
        .get_execution(authed(
            GetExecutionRequest {
                execution_id: r.execution_id,
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn with_a_model_the_adaptive_workout_is_checked_and_motivation_and_plan_changes_are_phrased()
{
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-03-10 09:00 UTC), Some(cfg)).await;
    let (by_slug, _) = by_id(&h, &mesh).await;
    let push_up = by_slug["push-up"].id.clone();
    let tap = by_slug["plank-shoulder-tap"].id.clone();
    let mut c = client(&h);
    let user = Uuid::now_v7();
    let token = h.token(user);
    log(
        &mesh,
        &token,
        &push_up,
        time::macros::date!(2026 - 03 - 10),
        10,
        0.0,
    )
    .await;

    // The model picks push-ups while the chest recovers: rejected, then a valid answer is used.
    ai.script("agent.workout", Reply::Json(model_workout(&[&push_up], 3)));
    ai.script("agent.workout", Reply::Json(model_workout(&[&tap], 3)));
    let r = c
        .adaptive_workout(authed(AdaptiveWorkoutRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let p = r.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::Model as i32, "{}", p.reason);
    let ids: Vec<&str> = r
        .workout
        .as_ref()
        .unwrap()
        .items
        .iter()
        .map(|i| i.exercise_id.as_str())
        .collect();
    assert_eq!(ids, [tap.as_str()]);
    let retry = ai.requests("agent.workout").last().unwrap().to_string();
    assert!(retry.contains("still recovering"), "{retry}");
    let e = c
        .get_execution(authed(
            GetExecutionRequest {
                execution_id: r.execution_id,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    let steps: Vec<(&str, &str, i32)> = e
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.path.as_str(), s.attempt))
        .collect();
    assert_eq!(
        steps,
        [
            ("recent", "rules", 1),
            ("recovery", "rules", 1),
            ("select", "rules", 1),
            ("compose", "failed", 1),
            ("compose", "model", 2),
            ("motivation", "rules", 1)
        ]
    );

    // The model writes the motivation line; the tone and figures stay the rules'.
    ai.script(
        "agent.motivation",
        Reply::text("One session today: keep it rolling."),
    );
    let m = c
        .motivation_boost(authed(MotivationBoostRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.message, "One session today: keep it rolling.");
    assert_eq!(m.tone, MotivationTone::Encouraging as i32);
    assert_eq!(m.training_days_last_7, 1);
    assert_eq!(m.provenance.unwrap().path, AnswerPath::Model as i32);
    let asked = ai.requests("agent.motivation").last().unwrap().to_string();
    assert!(asked.contains("Encouraging"), "{asked}");

    // Plan changes: computed by the rules, explained by the model.
    let channel = activity_channel(&mesh).await;
    let template = CatalogServiceClient::new(channel.clone())
        .list_workout_plans(authed(
            ListWorkoutPlansRequest {
                page_size: 100,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plans
        .into_iter()
        .find(|p| p.slug == "home-bodyweight-starter")
        .unwrap();
    UserPlanServiceClient::new(channel)
        .assign_plan(authed(
            AssignPlanRequest {
                plan_id: template.id,
                start_date: Some(date(time::macros::date!(2026 - 03 - 09))),
            },
            &token,
        ))
        .await
        .unwrap();
    ai.script("agent.optimize", Reply::text("Your plan fits: keep going."));
    let o = c
        .optimize_current_plan(authed(OptimizeCurrentPlanRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(o.text, "Your plan fits: keep going.");
    assert_eq!(o.provenance.unwrap().path, AnswerPath::Model as i32);
    assert!(!o.modifications.is_empty());
    // With a plan of 3 days a week, the motivation counts against it.
    let m = c
        .motivation_boost(authed(MotivationBoostRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.planned_days_per_week, 3);
    mesh.stop().await;
    h.stop().await;
}
