//! `stride.ai_coach.v1.AgentService` (seed 004, ADRs 0024 and 0029): generated plans with a
//! safety review, nutrition guidance, injury-risk checks, workouts and exercise suggestions,
//! progress analysis, motivation, plan optimisation, and the executions that record every run.
//!
//! - `plan`: GeneratePlan in steps — analyse (profile + request, rules), select (catalog
//!   exercises that fit the equipment and limitations, rules), structure (the model, when
//!   configured) and safety review (the pure validator on every model plan). A rejected plan is
//!   retried with the findings fed back (at most [`PLAN_RETRIES`] times), then the rules planner
//!   answers with Provenance RULES_FALLBACK and the reason. Get/ListGeneratedPlans.
//! - `nutrition`, `injury`: NutritionGuidance, CheckInjuryRisk (rules' figures, model phrasing).
//! - `workouts`: RecommendWorkout, AdaptiveWorkout, SuggestExercises.
//! - `coaching`: AnalyzeProgress, MotivationBoost, OptimizeCurrentPlan.
//! - `history`: the caller's workout logs and current plan (activity-session).
//! - `executions`: ListExecutions, GetExecution.
//!
//! Numbers (plans, macros, risks, figures) always come from pure code; the model may only
//! compose from what the rules allow (checked), or phrase. Peers (profile, activity-session)
//! are called with the caller's token and a deadline.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
};
use sqlx::{PgPool, types::Json};
use stride_kit::{
    AppError, AppResult, Caller, Violations, clock::SharedClock, grpc::on_behalf, pagination::Page,
};
use stride_proto::{
    activity_session::{
        Difficulty, ListExercisesRequest, catalog_service_client::CatalogServiceClient,
    },
    ai_coach::{self as pb, agent_service_server::AgentService},
    profile::{
        Body, FitnessLevel, GetMyProfileRequest, profile_service_client::ProfileServiceClient,
    },
};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    answers::{self, Path, Provenance},
    domain::{
        plan::{CatalogExercise, Level},
        safety::ExerciseTraits,
    },
    llm::{Llm, NOT_CONFIGURED, Usage},
    prompts, quota,
    store::agents::{self as store, ExecutionRow, PlanRow, Step},
};

mod coaching;
mod executions;
mod history;
mod injury;
mod nutrition;
mod plan;
mod workouts;

pub struct Agents {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub activity_session: Channel,
    pub profile: Channel,
    /// None: rules only.
    pub llm: Option<Arc<Llm>>,
}

stride_kit::grpc_handlers! {
    impl AgentService for Agents {
        fn generate_plan(pb::GeneratePlanRequest) -> pb::GeneratePlanResponse => plan::generate_plan;
        fn get_generated_plan(pb::GetGeneratedPlanRequest) -> pb::GetGeneratedPlanResponse => plan::get_plan;
        fn list_generated_plans(pb::ListGeneratedPlansRequest) -> pb::ListGeneratedPlansResponse => plan::list_plans;
        fn nutrition_guidance(pb::NutritionGuidanceRequest) -> pb::NutritionGuidanceResponse => nutrition::nutrition_guidance;
        fn check_injury_risk(pb::CheckInjuryRiskRequest) -> pb::CheckInjuryRiskResponse => injury::check_injury_risk;
        fn recommend_workout(pb::RecommendWorkoutRequest) -> pb::RecommendWorkoutResponse => workouts::recommend_workout;
        fn suggest_exercises(pb::SuggestExercisesRequest) -> pb::SuggestExercisesResponse => workouts::suggest_exercises;
        fn analyze_progress(pb::AnalyzeProgressRequest) -> pb::AnalyzeProgressResponse => coaching::analyze_progress;
        fn motivation_boost(pb::MotivationBoostRequest) -> pb::MotivationBoostResponse => coaching::motivation_boost;
        fn adaptive_workout(pb::AdaptiveWorkoutRequest) -> pb::AdaptiveWorkoutResponse => workouts::adaptive_workout;
        fn optimize_current_plan(pb::OptimizeCurrentPlanRequest) -> pb::OptimizeCurrentPlanResponse => coaching::optimize_current_plan;
        fn list_executions(pb::ListExecutionsRequest) -> pb::ListExecutionsResponse => executions::list_executions;
        fn get_execution(pb::GetExecutionRequest) -> pb::GetExecutionResponse => executions::get_execution;
    }
}

pub const KIND_PLAN: &str = "agent.plan";
pub const KIND_NUTRITION: &str = "agent.nutrition";
pub const KIND_INJURY: &str = "agent.injury";
/// Retries of the structure step after a rejected model plan (findings fed back).
pub const PLAN_RETRIES: usize = 2;
const PEER_DEADLINE: Duration = Duration::from_secs(5);
const PLAN_TOKENS: u32 = 4000;
const PHRASE_TOKENS: u32 = 400;
/// Catalog pages read (100 exercises each), at most.
const MAX_CATALOG_PAGES: usize = 10;
/// Eligible exercises shown to the model, at most.
const MAX_MODEL_EXERCISES: usize = 80;
const MAX_TEXT_CHARS: usize = 2000;

// ---- input bounds ----

fn check_text(v: &mut Violations, field: &str, s: &str, max: usize) {
    if s.contains('\0') {
        v.add(field, "must not contain NUL characters");
    } else if s.chars().count() > max {
        v.add(field, &format!("at most {max} characters"));
    }
}

fn check_list(v: &mut Violations, field: &str, list: &[String], max_items: usize, max: usize) {
    if list.len() > max_items {
        v.add(field, &format!("at most {max_items} entries"));
        return;
    }
    for (i, s) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if s.trim().is_empty() {
            v.add(&f, "must not be empty");
        } else {
            check_text(v, &f, s, max);
        }
    }
}

fn level_from_proto(v: i32) -> Option<Level> {
    match pb::PlanLevel::try_from(v).ok()? {
        pb::PlanLevel::Beginner => Some(Level::Beginner),
        pb::PlanLevel::Intermediate => Some(Level::Intermediate),
        pb::PlanLevel::Advanced => Some(Level::Advanced),
        pb::PlanLevel::Unspecified => None,
    }
}

fn level_to_proto(l: Level) -> pb::PlanLevel {
    match l {
        Level::Beginner => pb::PlanLevel::Beginner,
        Level::Intermediate => pb::PlanLevel::Intermediate,
        Level::Advanced => pb::PlanLevel::Advanced,
    }
}

fn check_level(v: &mut Violations, raw: i32) -> Option<Level> {
    if pb::PlanLevel::try_from(raw).is_err() {
        v.add("level", "unknown level");
    }
    level_from_proto(raw)
}

fn profile_level(body: Option<&Body>) -> Option<Level> {
    match FitnessLevel::try_from(body?.fitness_level).ok()? {
        FitnessLevel::Beginner => Some(Level::Beginner),
        FitnessLevel::Intermediate => Some(Level::Intermediate),
        FitnessLevel::Advanced => Some(Level::Advanced),
        FitnessLevel::Unspecified => None,
    }
}

fn lowercase_set(list: &[String]) -> BTreeSet<String> {
    list.iter().map(|s| s.trim().to_lowercase()).collect()
}

// ---- peers ----

/// A step timer: each finished step becomes a row of the execution.
struct Steps {
    started: Instant,
    step: Instant,
    steps: Vec<Step>,
}

impl Steps {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            step: Instant::now(),
            steps: Vec::new(),
        }
    }

    fn done(&mut self, name: &str, path: &str, attempt: i32, reasoning: impl Into<String>) {
        let ms = i64::try_from(self.step.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.steps.push(Step {
            name: name.to_owned(),
            path: path.to_owned(),
            reasoning: reasoning.into(),
            duration_ms: ms,
            attempt,
        });
        self.step = Instant::now();
    }

    fn total_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

/// The caller's body data, or None when profile cannot answer (the reason is returned).
async fn body(s: &Agents, caller: &Caller) -> Result<Option<Body>, String> {
    let mut client = ProfileServiceClient::new(on_behalf(&s.profile, &caller.token));
    match tokio::time::timeout(
        PEER_DEADLINE,
        client.get_my_profile(GetMyProfileRequest::default()),
    )
    .await
    {
        Ok(Ok(r)) => Ok(r.into_inner().profile.and_then(|p| p.body)),
        // No profile yet: no body data (not an outage).
        Ok(Err(status)) if status.code() == tonic::Code::NotFound => Ok(None),
        Ok(Err(status)) => {
            tracing::warn!(code = ?status.code(), message = status.message(), "profile read failed");
            Err("the profile service could not be reached".into())
        }
        Err(_) => Err("the profile service did not answer in time".into()),
    }
}

fn difficulty(raw: i32) -> Option<Level> {
    match Difficulty::try_from(raw).ok()? {
        Difficulty::Beginner => Some(Level::Beginner),
        Difficulty::Intermediate => Some(Level::Intermediate),
        Difficulty::Advanced => Some(Level::Advanced),
        Difficulty::Unspecified => None,
    }
}

fn catalog_unavailable() -> AppError {
    AppError::Unavailable(
        "the exercise catalog cannot be reached right now; try again shortly".into(),
    )
}

/// The exercise catalog as the planner sees it, keyed by id, read with the caller's token.
async fn catalog(
    s: &Agents,
    caller: &Caller,
) -> AppResult<(HashMap<String, CatalogExercise>, BTreeMap<String, String>)> {
    let mut client = CatalogServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let mut out = HashMap::new();
    let mut names = BTreeMap::new();
    let mut token = String::new();
    for _ in 0..MAX_CATALOG_PAGES {
        let r = tokio::time::timeout(
            PEER_DEADLINE,
            client.list_exercises(ListExercisesRequest {
                page_size: 100,
                page_token: token.clone(),
                ..Default::default()
            }),
        )
        .await
        .map_err(|_| catalog_unavailable())?
        .map_err(|status| {
            tracing::warn!(code = ?status.code(), message = status.message(), "catalog read failed");
            catalog_unavailable()
        })?
        .into_inner();
        for e in r.exercises {
            names.insert(e.id.clone(), e.name.clone());
            let keys = |terms: &[stride_proto::activity_session::ExerciseTerm]| -> Vec<String> {
                terms.iter().map(|t| t.key.to_lowercase()).collect()
            };
            out.insert(
                e.id.clone(),
                CatalogExercise {
                    id: e.id.clone(),
                    traits: ExerciseTraits {
                        slug: e.slug.clone(),
                        name: e.name.clone(),
                        primary_muscles: keys(&e.primary_muscles),
                        categories: keys(&e.categories),
                    },
                    equipment: keys(&e.equipment),
                    difficulty: difficulty(e.difficulty),
                    secondary_muscles: keys(&e.secondary_muscles),
                    goals: keys(&e.goals),
                },
            );
        }
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    Ok((out, names))
}

// ---- executions ----

struct Run<'a> {
    user: Uuid,
    kind: &'static str,
    provenance: &'a Provenance,
    usage: Usage,
    steps: Steps,
    result_id: Option<Uuid>,
}

/// Records the answer and its execution (and, through `plan`, the generated plan) in one
/// transaction; returns (answer id, execution id).
async fn record(s: &Agents, run: Run<'_>, plan: Option<PlanRow>) -> AppResult<(Uuid, Uuid)> {
    let now = s.clock.now_db();
    let mut tx = s.pool.begin().await?;
    let answer_id = answers::record(&mut tx, run.user, run.kind, run.provenance, run.usage).await?;
    let execution_id = plan.as_ref().map_or_else(Uuid::now_v7, |p| p.execution_id);
    store::insert_execution(
        &mut tx,
        &ExecutionRow {
            id: execution_id,
            user_id: run.user,
            kind: run.kind.to_owned(),
            steps: Json(run.steps.steps.clone()),
            path: run.provenance.path.as_str().to_owned(),
            model: run.provenance.model.clone(),
            reason: run.provenance.reason.clone(),
            answer_id,
            result_id: run.result_id,
            duration_ms: run.steps.total_ms(),
            created_at: now,
        },
    )
    .await?;
    if let Some(mut p) = plan {
        p.answer_id = answer_id;
        store::insert_plan(&mut tx, &p).await?;
    }
    tx.commit().await?;
    Ok((answer_id, execution_id))
}

fn provenance_of(path: &str, model: &str, reason: &str, answer_id: Uuid) -> Provenance {
    Provenance {
        path: Path::from_db(path).unwrap_or(Path::Rules),
        model: model.to_owned(),
        reason: reason.to_owned(),
        answer_id: Some(answer_id),
    }
}

async fn charge(s: &Agents, caller: &Caller) -> AppResult<()> {
    if s.llm.is_some() {
        let mut conn = s.pool.acquire().await?;
        quota::charge(&mut conn, caller.user_id, &s.clock).await?;
    }
    Ok(())
}

fn cursor(page: &Page<(i64, Uuid)>) -> Option<(OffsetDateTime, Uuid)> {
    page.after().and_then(|(nanos, id)| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(*nanos))
            .ok()
            .map(|t| (t, *id))
    })
}

fn key(at: OffsetDateTime, id: Uuid) -> (i64, Uuid) {
    (
        i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        id,
    )
}

/// Phrases `facts` with the model when one is configured; the rules' text otherwise.
async fn phrase(
    s: &Agents,
    caller: &Caller,
    purpose: &'static str,
    facts: String,
    rules_text: String,
) -> (String, Provenance, Usage) {
    let Some(llm) = &s.llm else {
        return (
            rules_text,
            Provenance::rules(NOT_CONFIGURED),
            Usage::default(),
        );
    };
    let llm = llm.for_user(caller.user_id);
    let messages = vec![
        ChatCompletionRequestSystemMessage::from(prompts::get(purpose).text).into(),
        ChatCompletionRequestUserMessage::from(facts).into(),
    ];
    match llm.chat(purpose, messages, PHRASE_TOKENS).await {
        Ok(c) => (
            c.text.chars().take(MAX_TEXT_CHARS).collect(),
            Provenance::model(c.model),
            c.usage,
        ),
        Err(e) => (
            rules_text,
            Provenance::fallback(e.reason).with_model(llm.model()),
            Usage::default(),
        ),
    }
}
