//! AgentService: the rules planner (equipment, a knee limitation), the model planner's retries
//! and fallback (bad JSON, an unknown id, an impossible plan, a plan ignoring a knee injury), a
//! valid model plan accepted, nutrition formulas, injury findings, executions owner-only.

use std::collections::HashMap;

use serde_json::{Value, json};
use stride_proto::{
    activity_session::{Exercise, ListExercisesRequest},
    ai_coach::{
        AnswerPath, BiologicalSex, CheckInjuryRiskRequest, CheckedExercise, GeneratePlanRequest,
        GeneratePlanResponse, GetExecutionRequest, GetGeneratedPlanRequest, InjuryRisk,
        ListExecutionsRequest, ListGeneratedPlansRequest, NutritionGuidanceRequest,
        agent_service_client::AgentServiceClient,
    },
};
use stride_testkit::{authed, openai::Reply};
use time::macros::datetime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, MODEL, Mesh, stand_in, start};

type Client = AgentServiceClient<Channel>;

fn client(h: &Harness) -> Client {
    AgentServiceClient::new(h.channel.clone())
}

/// The whole catalog, by slug.
pub async fn exercises(h: &Harness, mesh: &Mesh) -> HashMap<String, Exercise> {
    let token = h.token(Uuid::now_v7());
    let mut out = HashMap::new();
    let mut page_token = String::new();
    loop {
        let r = mesh
            .catalog
            .clone()
            .list_exercises(authed(
                ListExercisesRequest {
                    page_size: 100,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        out.extend(r.exercises.into_iter().map(|e| (e.slug.clone(), e)));
        page_token = r.next_page_token;
        if page_token.is_empty() {
            return out;
        }
    }
}

async fn generate(
    c: &mut Client,
    token: &str,
    req: GeneratePlanRequest,
) -> Result<GeneratePlanResponse, tonic::Status> {
    c.generate_plan(authed(req, token))
        .await
        .map(tonic::Response::into_inner)
}

fn knee_request() -> GeneratePlanRequest {
    GeneratePlanRequest {
        weeks: 2,
        days_per_week: 3,
        limitations: vec!["left knee pain after ACL surgery".into()],
        ..Default::default()
    }
}

/// A one-week model plan of `id` (3 days, 3×10), with `sets` overriding the first item's sets.
fn model_plan(id: &str, sets: u32) -> Value {
    let item = |sets: u32| json!({"exercise_id": id, "sets": sets, "reps": 10, "duration_seconds": null, "rest_seconds": 60});
    json!({
        "title": "Push week",
        "weeks": [{"days": [
            {"day": 1, "items": [item(sets)]},
            {"day": 3, "items": [item(3)]},
            {"day": 5, "items": [item(3)]}
        ]}]
    })
}

#[tokio::test]
async fn the_rules_plan_respects_equipment_and_a_knee_limitation() {
    let (h, mesh) = start(datetime!(2026-03-02 09:00 UTC), None).await;
    let catalog = exercises(&h, &mesh).await;
    let by_id: HashMap<&str, &Exercise> = catalog.values().map(|e| (e.id.as_str(), e)).collect();
    let mut c = client(&h);
    let user = Uuid::now_v7();
    let token = h.token(user);
    let r = generate(&mut c, &token, knee_request()).await.unwrap();

    let p = r.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::Rules as i32);
    assert_eq!(p.reason, "no model is configured");
    assert!(!p.answer_id.is_empty());
    let plan = r.plan.unwrap();
    assert_eq!(plan.weeks.len(), 2);
    let mut items = 0;
    for w in &plan.weeks {
        assert_eq!(w.days.len(), 3, "three training days, four rest days");
        for d in &w.days {
            for i in &d.items {
                items += 1;
                let e = by_id[i.exercise_id.as_str()];
                // No equipment given (and the profile is unreachable): body weight only.
                assert!(
                    e.equipment.iter().all(|t| t.key == "bodyweight"),
                    "{} needs {:?}",
                    e.slug,
                    e.equipment
                );
                for banned in ["squat", "lunge", "jump", "burpee", "step-up", "pistol"] {
                    assert!(!e.slug.contains(banned), "{} ignores the knee", e.slug);
                }
                assert!((1..=10).contains(&i.sets));
                assert!((1..=50).contains(&i.reps));
                assert_eq!(i.exercise_name, e.name);
            }
        }
    }
    assert!(items >= 6, "a useful plan: {items} items");

    // Dumbbells given: the plan may use them, never a barbell.
    let r = generate(
        &mut c,
        &token,
        GeneratePlanRequest {
            equipment: vec!["Dumbbell".into()],
            target_muscles: vec!["biceps".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let plan2 = r.plan.unwrap();
    for i in plan2
        .weeks
        .iter()
        .flat_map(|w| &w.days)
        .flat_map(|d| &d.items)
    {
        let e = by_id[i.exercise_id.as_str()];
        assert!(
            e.equipment
                .iter()
                .all(|t| t.key == "bodyweight" || t.key == "dumbbell"),
            "{} needs {:?}",
            e.slug,
            e.equipment
        );
    }

    // Read back: the plan, the list, the execution with its steps.
    let got = c
        .get_generated_plan(authed(
            GetGeneratedPlanRequest {
                plan_id: plan.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(got.weeks, plan.weeks);
    assert_eq!(got.provenance.unwrap().answer_id, p.answer_id);
    let list = c
        .list_generated_plans(authed(ListGeneratedPlansRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .plans;
    assert_eq!(list.len(), 2);
    let e = c
        .get_execution(authed(
            GetExecutionRequest {
                execution_id: plan.execution_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(e.kind, "agent.plan");
    assert_eq!(e.result_id, plan.id);
    let names: Vec<&str> = e.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["analyse", "select", "rules_plan"]);
    assert!(e.steps[0].reasoning.contains("knee"), "{:?}", e.steps[0]);

    // Bad input names the field.
    for (req, field) in [
        (
            GeneratePlanRequest {
                weeks: 13,
                ..Default::default()
            },
            "weeks",
        ),
        (
            GeneratePlanRequest {
                equipment: vec!["a\0b".into()],
                ..Default::default()
            },
            "equipment[0]",
        ),
        (
            GeneratePlanRequest {
                level: 9,
                ..Default::default()
            },
            "level",
        ),
    ] {
        let err = generate(&mut c, &token, req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(field), "{}", err.message());
    }
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn rejected_model_plans_are_retried_then_the_rules_answer_and_a_valid_one_is_accepted() {
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-03-02 09:00 UTC), Some(cfg)).await;
    let catalog = exercises(&h, &mesh).await;
    let push_up = catalog["push-up"].id.clone();
    let squat = catalog["bodyweight-squat"].id.clone();
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let unknown = Uuid::now_v7().to_string();
    let cases: [(Reply, &str); 4] = [
        (Reply::Raw("{\"title\": \"oops".into()), "not valid JSON"),
        (
            Reply::Json(model_plan(&unknown, 3)),
            "is not in the catalog",
        ),
        (Reply::Json(model_plan(&push_up, 40)), "sets must be 1–10"),
        (
            Reply::Json(model_plan(&squat, 3)),
            "contraindicated by the knee limitation",
        ),
    ];
    let mut asked = 0;
    for (reply, why) in cases {
        for _ in 0..3 {
            ai.script("agent.plan", reply.clone());
        }
        let r = generate(&mut c, &token, knee_request()).await.unwrap();
        let p = r.provenance.unwrap();
        assert_eq!(p.path, AnswerPath::RulesFallback as i32, "{why}");
        assert!(p.reason.contains(why), "{why}: {}", p.reason);
        assert_eq!(p.model, MODEL);
        // First try + two retries, each retry told what was wrong.
        let requests = ai.requests("agent.plan");
        assert_eq!(requests.len(), asked + 3, "{why}");
        let last = requests.last().unwrap().to_string();
        assert!(
            last.contains("rejected"),
            "{why}: the findings are fed back"
        );
        asked += 3;
        // The fallback is the rules plan: knee-safe.
        for i in r
            .plan
            .unwrap()
            .weeks
            .iter()
            .flat_map(|w| &w.days)
            .flat_map(|d| &d.items)
        {
            assert_ne!(i.exercise_id, squat);
        }
        let e = c
            .list_executions(authed(
                ListExecutionsRequest {
                    page_size: 1,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .executions
            .remove(0);
        let failed = e.steps.iter().filter(|s| s.path == "failed").count();
        assert_eq!(failed, 3, "{why}: {:?}", e.steps);
        assert_eq!(e.steps.last().unwrap().name, "rules_plan");
    }

    // A valid plan is accepted as the model's.
    ai.script("agent.plan", Reply::Json(model_plan(&push_up, 3)));
    let r = generate(&mut c, &token, knee_request()).await.unwrap();
    let p = r.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::Model as i32, "{}", p.reason);
    assert_eq!(p.model, MODEL);
    let plan = r.plan.unwrap();
    assert_eq!(plan.title, "Push week");
    assert_eq!(plan.weeks[0].days[0].items[0].exercise_id, push_up);
    assert_eq!(
        plan.weeks[0].days[0].items[0].exercise_name,
        catalog["push-up"].name
    );
    // Recorded per agent for feedback statistics.
    let kinds: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, path FROM answers ORDER BY created_at, id")
            .fetch_all(&h.db)
            .await
            .unwrap();
    assert_eq!(kinds.len(), 5);
    assert!(kinds.iter().all(|(k, _)| k == "agent.plan"));
    assert_eq!(kinds.last().unwrap().1, "model");
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn nutrition_names_its_formulas_and_injury_checks_flag_the_contraindicated_exercise() {
    let (h, mesh) = start(datetime!(2026-03-02 09:00 UTC), None).await;
    let catalog = exercises(&h, &mesh).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let n = c
        .nutrition_guidance(authed(
            NutritionGuidanceRequest {
                goal: "build muscle".into(),
                sessions_per_week: 4,
                sex: BiologicalSex::Male as i32,
                weight_kg: 80.0,
                height_cm: 180.0,
                age: 30,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    // Mifflin–St Jeor: 10·80 + 6.25·180 − 5·30 + 5 = 1780; × 1.55 (3–4 sessions).
    assert_eq!(n.bmr_kcal, 1780);
    assert_eq!(n.activity_factor, 1.55);
    assert_eq!(n.tdee_kcal, 2759);
    assert_eq!(n.target_kcal, 2759 + 300);
    assert_eq!(n.protein_g, 144, "1.8 g/kg for muscle gain");
    assert!(
        n.formulas.iter().any(|f| f.contains("Mifflin")),
        "{:?}",
        n.formulas
    );
    assert!(n.text.contains("3059"), "{}", n.text);
    assert_eq!(n.provenance.unwrap().path, AnswerPath::Rules as i32);

    // Without body data and with profile unreachable: UNAVAILABLE, never INTERNAL.
    let err = c
        .nutrition_guidance(authed(NutritionGuidanceRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let err = c
        .nutrition_guidance(authed(
            NutritionGuidanceRequest {
                weight_kg: 9.0,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("weight_kg"));

    let squat = &catalog["bodyweight-squat"];
    let push_up = &catalog["push-up"];
    let r = c
        .check_injury_risk(authed(
            CheckInjuryRiskRequest {
                exercises: vec![
                    CheckedExercise {
                        exercise_id: squat.id.clone(),
                        sets: 3,
                        reps: 12,
                    },
                    CheckedExercise {
                        exercise_id: push_up.id.clone(),
                        sets: 3,
                        reps: 10,
                    },
                ],
                limitations: vec!["knee pain".into()],
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.overall, InjuryRisk::High as i32);
    assert_eq!(r.findings[0].exercise_id, squat.id);
    assert_eq!(r.findings[0].risk, InjuryRisk::High as i32);
    assert!(
        r.findings[0].reasons[0].contains("knee"),
        "{:?}",
        r.findings[0]
    );
    assert_eq!(r.findings[1].risk, InjuryRisk::Low as i32);
    assert!(r.text.contains(&squat.name), "{}", r.text);

    let err = c
        .check_injury_risk(authed(
            CheckInjuryRiskRequest {
                exercises: vec![CheckedExercise {
                    exercise_id: "no-such-exercise".into(),
                    sets: 3,
                    reps: 10,
                }],
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("exercises[0].exercise_id"),
        "{}",
        err.message()
    );
    mesh.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn executions_and_plans_are_their_owners_only() {
    let (h, mesh) = start(datetime!(2026-03-02 09:00 UTC), None).await;
    let mut c = client(&h);
    let (alice, bob) = (h.token(Uuid::now_v7()), h.token(Uuid::now_v7()));
    let plan = generate(&mut c, &alice, GeneratePlanRequest::default())
        .await
        .unwrap()
        .plan
        .unwrap();

    let mine = c
        .list_executions(authed(ListExecutionsRequest::default(), &alice))
        .await
        .unwrap()
        .into_inner()
        .executions;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, plan.execution_id);
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
                execution_id: plan.execution_id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_generated_plan(authed(
            GetGeneratedPlanRequest {
                plan_id: plan.id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .check_injury_risk(authed(
            CheckInjuryRiskRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_execution(authed(
            GetExecutionRequest {
                execution_id: "not-a-uuid".into(),
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    mesh.stop().await;
    h.stop().await;
}
