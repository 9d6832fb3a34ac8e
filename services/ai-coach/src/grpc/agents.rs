//! `stride.ai_coach.v1.AgentService` (seed 004, ADR 0024): generated plans with a safety review,
//! nutrition guidance, injury-risk checks, and the executions that record every run.
//!
//! Plan generation runs in steps — analyse (profile + request, rules), select (catalog
//! exercises that fit the equipment and limitations, rules), structure (the model, when
//! configured) and safety review (the pure validator on every model plan). A rejected plan is
//! retried with the findings fed back (at most [`PLAN_RETRIES`] times), then the rules planner
//! answers with Provenance RULES_FALLBACK and the reason. Numbers (plans, macros, risks) always
//! come from pure code; the model may only structure a plan the validator accepts, or phrase.
//! Peers (profile, the catalog) are called with the caller's token and a deadline.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage,
};
use sqlx::{PgPool, types::Json};
use stride_kit::{
    AppError, AppResult, Call, Caller, Violations, clock::SharedClock, convert, grpc::on_behalf,
    pagination::Page,
};
use stride_proto::{
    activity_session::{ListExercisesRequest, catalog_service_client::CatalogServiceClient},
    ai_coach::{self as pb, agent_service_server::AgentService},
    profile::{
        Body, FitnessLevel, GetMyProfileRequest, LengthUnit, WeightUnit,
        profile_service_client::ProfileServiceClient,
    },
};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    answers::{self, Path, Provenance},
    domain::{
        injury::{self, Checked, Risk},
        nutrition::{self, Goal, NutritionError, Sex},
        plan::{self, CatalogExercise, Level, Plan, PlanRequest},
        safety::{self, ExerciseTraits, LimitationRule},
    },
    llm::{Llm, LlmErrorKind, NOT_CONFIGURED, Usage},
    prompts, quota,
    store::agents::{self as store, ExecutionRow, PlanRow, Step},
};

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
        fn generate_plan(pb::GeneratePlanRequest) -> pb::GeneratePlanResponse => generate_plan;
        fn get_generated_plan(pb::GetGeneratedPlanRequest) -> pb::GetGeneratedPlanResponse => get_plan;
        fn list_generated_plans(pb::ListGeneratedPlansRequest) -> pb::ListGeneratedPlansResponse => list_plans;
        fn nutrition_guidance(pb::NutritionGuidanceRequest) -> pb::NutritionGuidanceResponse => nutrition_guidance;
        fn check_injury_risk(pb::CheckInjuryRiskRequest) -> pb::CheckInjuryRiskResponse => check_injury_risk;
        fn list_executions(pb::ListExecutionsRequest) -> pb::ListExecutionsResponse => list_executions;
        fn get_execution(pb::GetExecutionRequest) -> pb::GetExecutionResponse => get_execution;
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

// ---- GeneratePlan ----

async fn generate_plan(
    s: &Agents,
    call: Call<pb::GeneratePlanRequest>,
) -> AppResult<pb::GeneratePlanResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    v.when(
        !(0..=12).contains(&m.weeks),
        "weeks",
        "between 1 and 12 (0 means 4)",
    );
    v.when(
        !(0..=6).contains(&m.days_per_week),
        "days_per_week",
        "between 1 and 6 (0 means 3)",
    );
    v.when(
        m.minutes_per_session != 0 && !(10..=180).contains(&m.minutes_per_session),
        "minutes_per_session",
        "between 10 and 180 (0 means 45)",
    );
    let level = check_level(&mut v, m.level);
    check_list(&mut v, "equipment", &m.equipment, 30, 64);
    check_list(&mut v, "limitations", &m.limitations, 20, 200);
    check_list(&mut v, "target_muscles", &m.target_muscles, 10, 64);
    check_text(&mut v, "goal", &m.goal, 500);
    v.check()?;
    charge(s, caller).await?;

    let mut steps = Steps::new();
    // analyse: the request completed from the profile.
    let profile = body(s, caller).await;
    let profile_body = profile.as_ref().ok().cloned().flatten();
    let limitations: Vec<String> = if m.limitations.is_empty() {
        profile_body
            .as_ref()
            .map(|b| b.limitations.clone())
            .unwrap_or_default()
    } else {
        m.limitations.clone()
    };
    let equipment_list: Vec<String> = if m.equipment.is_empty() {
        profile_body
            .as_ref()
            .map(|b| b.equipment.clone())
            .unwrap_or_default()
    } else {
        m.equipment.clone()
    };
    let level = level
        .or_else(|| profile_level(profile_body.as_ref()))
        .unwrap_or(Level::Beginner);
    let request = PlanRequest {
        weeks: if m.weeks == 0 {
            4
        } else {
            m.weeks.unsigned_abs()
        },
        days_per_week: if m.days_per_week == 0 {
            3
        } else {
            m.days_per_week.unsigned_abs()
        },
        minutes_per_session: if m.minutes_per_session == 0 {
            45
        } else {
            m.minutes_per_session.unsigned_abs()
        },
        level,
        equipment: lowercase_set(&equipment_list),
        target_muscles: m.target_muscles.clone(),
    };
    let rules = safety::rules_for(&limitations);
    let areas: Vec<&str> = rules.iter().map(|r| r.area).collect();
    steps.done(
        "analyse",
        "rules",
        1,
        format!(
            "{}level {}, {} weeks × {} days, {} min; equipment: {}; limitations map to: {}",
            match &profile {
                Err(why) => format!("{why}: the request's values only; "),
                Ok(_) => String::new(),
            },
            level.as_str(),
            request.weeks,
            request.days_per_week,
            request.minutes_per_session,
            if request.equipment.is_empty() {
                "body weight only".to_owned()
            } else {
                request
                    .equipment
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if areas.is_empty() {
                "none".to_owned()
            } else {
                areas.join(", ")
            }
        ),
    );

    // select: catalog exercises that fit.
    let (catalog, names) = catalog(s, caller).await?;
    let pool: Vec<CatalogExercise> = plan::eligible(
        &catalog,
        &request.equipment,
        &rules,
        &request.target_muscles,
    )
    .into_iter()
    .cloned()
    .collect();
    steps.done(
        "select",
        "rules",
        1,
        format!(
            "{} of {} catalog exercises fit the equipment and limitations",
            pool.len(),
            catalog.len()
        ),
    );
    if pool.is_empty() {
        return Err(AppError::precondition(
            "NO_ELIGIBLE_EXERCISES",
            "no catalog exercise fits this equipment and these limitations; add equipment or check the limitations",
        ));
    }

    // structure + safety review: the model (retried with findings), else the rules planner.
    let (plan, provenance, usage) = match &s.llm {
        None => (None, Provenance::not_configured(), Usage::default()),
        Some(llm) => {
            let llm = llm.for_user(caller.user_id);
            let (plan, provenance, usage) = model_plan(
                &llm,
                &mut steps,
                ModelPlanInput {
                    catalog: &catalog,
                    pool: &pool,
                    request: &request,
                    rules: &rules,
                    limitations: &limitations,
                    goal: &m.goal,
                },
            )
            .await;
            (plan, provenance, usage)
        }
    };
    let plan = match plan {
        Some(p) => p,
        None => {
            let p = plan::rules_plan(&catalog, &request, &rules).map_err(|_| {
                AppError::precondition(
                    "NO_ELIGIBLE_EXERCISES",
                    "no catalog exercise fits this equipment and these limitations",
                )
            })?;
            let issues = plan::validate(&p, &catalog, level, &rules);
            steps.done(
                "rules_plan",
                "rules",
                1,
                format!(
                    "the rules planner built the plan ({}); safety review: {}",
                    provenance.reason,
                    if issues.is_empty() {
                        "no findings".to_owned()
                    } else {
                        join_issues(&issues)
                    }
                ),
            );
            p
        }
    };

    let plan_id = Uuid::now_v7();
    let used: BTreeMap<String, String> = plan
        .weeks
        .iter()
        .flat_map(|w| &w.days)
        .flat_map(|d| &d.items)
        .filter_map(|i| {
            names
                .get(&i.exercise_id)
                .map(|n| (i.exercise_id.clone(), n.clone()))
        })
        .collect();
    let row = PlanRow {
        id: plan_id,
        user_id: caller.user_id,
        execution_id: Uuid::now_v7(),
        title: plan.title.chars().take(200).collect(),
        plan: Json(plan),
        names: Json(used),
        level: level.as_str().to_owned(),
        equipment: request.equipment.iter().cloned().collect(),
        limitations,
        path: provenance.path.as_str().to_owned(),
        model: provenance.model.clone(),
        reason: provenance.reason.clone(),
        answer_id: Uuid::nil(),
        created_at: s.clock.now_db(),
    };
    let (answer_id, _) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_PLAN,
            provenance: &provenance,
            usage,
            steps,
            result_id: Some(plan_id),
        },
        Some(row.clone()),
    )
    .await?;
    let row = PlanRow { answer_id, ..row };
    let provenance = provenance.with_answer_id(answer_id);
    Ok(pb::GeneratePlanResponse {
        plan: Some(plan_to_proto(&row)),
        provenance: Some(provenance.into_proto()),
    })
}

fn join_issues(issues: &[plan::PlanIssue]) -> String {
    let mut out: Vec<String> = issues.iter().take(5).map(ToString::to_string).collect();
    if issues.len() > 5 {
        out.push(format!("and {} more", issues.len() - 5));
    }
    out.join("; ")
}

struct ModelPlanInput<'a> {
    catalog: &'a HashMap<String, CatalogExercise>,
    pool: &'a [CatalogExercise],
    request: &'a PlanRequest,
    rules: &'a [&'static LimitationRule],
    limitations: &'a [String],
    goal: &'a str,
}

/// The model's plan if one passes the safety review within the retries; else None with the
/// fallback provenance naming the last reason.
async fn model_plan(
    llm: &Llm,
    steps: &mut Steps,
    input: ModelPlanInput<'_>,
) -> (Option<Plan>, Provenance, Usage) {
    let r = input.request;
    let exercises: Vec<String> = input
        .pool
        .iter()
        .take(MAX_MODEL_EXERCISES)
        .map(|e| {
            format!(
                "- {} | {} | muscles: {} | equipment: {}",
                e.id,
                e.traits.name,
                e.traits.primary_muscles.join(", "),
                e.equipment.join(", ")
            )
        })
        .collect();
    let user = format!(
        "Weeks: {}\nTraining days a week: {}\nMinutes a session: {}\nLevel: {} (at most {} sets a week)\nGoal: {}\nLimitations: {}\nTarget muscles: {}\n\nCatalog (id | name | muscles | equipment):\n{}",
        r.weeks.clamp(1, plan::MAX_WEEKS),
        r.days_per_week.clamp(1, 6),
        r.minutes_per_session,
        r.level.as_str(),
        r.level.max_weekly_sets(),
        if input.goal.is_empty() {
            "general fitness"
        } else {
            input.goal
        },
        if input.limitations.is_empty() {
            "none".to_owned()
        } else {
            input.limitations.join("; ")
        },
        if r.target_muscles.is_empty() {
            "any".to_owned()
        } else {
            r.target_muscles.join(", ")
        },
        exercises.join("\n"),
    );
    let mut messages: Vec<ChatCompletionRequestMessage> = vec![
        ChatCompletionRequestSystemMessage::from(prompts::get("agent.plan").text).into(),
        ChatCompletionRequestUserMessage::from(user).into(),
    ];
    let schema = plan::schema();
    let eligible: BTreeSet<&str> = input.pool.iter().map(|e| e.id.as_str()).collect();
    let mut usage = Usage::default();
    let mut reason = String::new();
    for attempt in 1..=(PLAN_RETRIES + 1) {
        let attempt_no = i32::try_from(attempt).unwrap_or(i32::MAX);
        match llm
            .structured::<Plan>("agent.plan", messages.clone(), "plan", &schema, PLAN_TOKENS)
            .await
        {
            Ok((p, c)) => {
                usage = usage + c.usage;
                steps.done(
                    "structure",
                    "model",
                    attempt_no,
                    format!("the model proposed \"{}\"", p.title),
                );
                let mut findings: Vec<String> =
                    plan::validate(&p, input.catalog, r.level, input.rules)
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                // Known, not contraindicated, but needing equipment the user lacks.
                for item in p.weeks.iter().flat_map(|w| &w.days).flat_map(|d| &d.items) {
                    let known = input.catalog.get(&item.exercise_id);
                    let contraindicated = known.is_some_and(|e| {
                        safety::contraindication(input.rules, &e.traits).is_some()
                    });
                    if known.is_some()
                        && !contraindicated
                        && !eligible.contains(item.exercise_id.as_str())
                    {
                        findings.push(format!(
                            "{} needs equipment the user does not have",
                            item.exercise_id
                        ));
                    }
                }
                findings.dedup();
                if findings.is_empty() {
                    steps.done("safety_review", "rules", attempt_no, "no findings");
                    return (Some(p), Provenance::model(c.model), usage);
                }
                let listed: Vec<String> = findings.iter().take(10).cloned().collect();
                reason = format!(
                    "the model's plan failed the safety review: {}",
                    listed.join("; ")
                );
                steps.done("safety_review", "failed", attempt_no, reason.clone());
                messages.push(
                    ChatCompletionRequestUserMessage::from(format!(
                        "Your plan was rejected by the safety review: {}. Write the whole plan again, fixing every finding.",
                        listed.join("; ")
                    ))
                    .into(),
                );
            }
            Err(e) if e.kind == LlmErrorKind::Invalid => {
                reason = format!(
                    "the model's plan was not valid JSON for the schema: {}",
                    e.reason
                );
                steps.done("structure", "failed", attempt_no, reason.clone());
                messages.push(
                    ChatCompletionRequestUserMessage::from(format!(
                        "Your reply was rejected: {}. Answer with JSON matching the schema.",
                        e.reason
                    ))
                    .into(),
                );
            }
            Err(e) => {
                reason = e.reason;
                steps.done("structure", "failed", attempt_no, reason.clone());
                break;
            }
        }
    }
    (
        None,
        Provenance::fallback(reason).with_model(llm.model()),
        usage,
    )
}

fn plan_to_proto(r: &PlanRow) -> pb::GeneratedPlan {
    let name = |id: &str| r.names.0.get(id).cloned().unwrap_or_default();
    pb::GeneratedPlan {
        id: r.id.to_string(),
        title: r.title.clone(),
        weeks: r
            .plan
            .0
            .weeks
            .iter()
            .enumerate()
            .map(|(i, w)| pb::PlanWeek {
                week: i32::try_from(i + 1).unwrap_or(i32::MAX),
                days: w
                    .days
                    .iter()
                    .map(|d| pb::PlanDay {
                        day: i32::try_from(d.day).unwrap_or(0),
                        items: d
                            .items
                            .iter()
                            .map(|it| pb::PlanItem {
                                exercise_id: it.exercise_id.clone(),
                                exercise_name: name(&it.exercise_id),
                                sets: i32::try_from(it.sets).unwrap_or(0),
                                reps: it.reps.and_then(|x| i32::try_from(x).ok()).unwrap_or(0),
                                duration_seconds: it
                                    .duration_seconds
                                    .and_then(|x| i32::try_from(x).ok())
                                    .unwrap_or(0),
                                rest_seconds: i32::try_from(it.rest_seconds).unwrap_or(0),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        limitations: r.limitations.clone(),
        equipment: r.equipment.clone(),
        level: level_to_proto(Level::from_db(&r.level)) as i32,
        execution_id: r.execution_id.to_string(),
        create_time: Some(convert::timestamp(r.created_at)),
        provenance: Some(provenance_of(&r.path, &r.model, &r.reason, r.answer_id).into_proto()),
    }
}

async fn get_plan(
    s: &Agents,
    call: Call<pb::GetGeneratedPlanRequest>,
) -> AppResult<pb::GetGeneratedPlanResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("plan_id", &call.message.plan_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::plan(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found("plan"))?;
    Ok(pb::GetGeneratedPlanResponse {
        plan: Some(plan_to_proto(&row)),
    })
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

async fn list_plans(
    s: &Agents,
    call: Call<pb::ListGeneratedPlansRequest>,
) -> AppResult<pb::ListGeneratedPlansResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let page: Page<(i64, Uuid)> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::plans(&mut conn, caller.user_id, cursor(&page), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| key(r.created_at, r.id));
    Ok(pb::ListGeneratedPlansResponse {
        plans: rows.iter().map(plan_to_proto).collect(),
        next_page_token,
    })
}

// ---- NutritionGuidance ----

/// Body data for the formulas (the request's values over the profile's), or the fields that
/// are missing.
fn nutrition_body(
    b: Option<&Body>,
    m: &pb::NutritionGuidanceRequest,
    sex: Sex,
) -> Result<nutrition::Body, Vec<&'static str>> {
    let weight = if m.weight_kg > 0.0 {
        Some(m.weight_kg)
    } else {
        b.and_then(|b| b.weight.as_ref())
            .filter(|w| w.value > 0.0)
            .map(|w| {
                if w.unit == WeightUnit::Lb as i32 {
                    w.value * 0.453_592_37
                } else {
                    w.value
                }
            })
    };
    let height = if m.height_cm > 0.0 {
        Some(m.height_cm)
    } else {
        b.and_then(|b| b.height.as_ref())
            .filter(|h| h.value > 0.0)
            .map(|h| {
                if h.unit == LengthUnit::In as i32 {
                    h.value * 2.54
                } else {
                    h.value
                }
            })
    };
    let age = if m.age > 0 {
        Some(m.age)
    } else {
        b.map(|b| b.age).filter(|a| *a > 0)
    };
    match (weight, height, age) {
        (Some(weight_kg), Some(height_cm), Some(a)) => Ok(nutrition::Body {
            weight_kg,
            height_cm,
            age_years: a.unsigned_abs(),
            sex,
        }),
        _ => {
            let mut missing = Vec::new();
            if weight.is_none() {
                missing.push("weight_kg");
            }
            if height.is_none() {
                missing.push("height_cm");
            }
            if age.is_none() {
                missing.push("age");
            }
            Err(missing)
        }
    }
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

async fn nutrition_guidance(
    s: &Agents,
    call: Call<pb::NutritionGuidanceRequest>,
) -> AppResult<pb::NutritionGuidanceResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    check_text(&mut v, "goal", &m.goal, 500);
    v.when(
        !(0..=14).contains(&m.sessions_per_week),
        "sessions_per_week",
        "between 1 and 14 (0 means 3)",
    );
    let sex = match pb::BiologicalSex::try_from(m.sex) {
        Ok(pb::BiologicalSex::Male) => Sex::Male,
        Ok(pb::BiologicalSex::Female) => Sex::Female,
        Ok(pb::BiologicalSex::Unspecified) => Sex::Unknown,
        Err(_) => {
            v.add("sex", "unknown value");
            Sex::Unknown
        }
    };
    v.when(
        !(m.weight_kg == 0.0 || (25.0..=350.0).contains(&m.weight_kg)),
        "weight_kg",
        "between 25 and 350 (0: the profile's)",
    );
    v.when(
        !(m.height_cm == 0.0 || (100.0..=250.0).contains(&m.height_cm)),
        "height_cm",
        "between 100 and 250 (0: the profile's)",
    );
    v.when(
        !(m.age == 0 || (13..=110).contains(&m.age)),
        "age",
        "between 13 and 110 (0: the profile's)",
    );
    v.check()?;
    charge(s, caller).await?;
    let mut steps = Steps::new();
    let complete = m.weight_kg > 0.0 && m.height_cm > 0.0 && m.age > 0;
    let b = match body(s, caller).await {
        Ok(b) => b,
        // The request carries everything: the profile is not needed.
        Err(_) if complete => None,
        Err(why) => return Err(AppError::Unavailable(format!("{why}; try again shortly"))),
    };
    let body = nutrition_body(b.as_ref(), m, sex).map_err(|missing| {
        AppError::precondition(
            "BODY_DATA_MISSING",
            format!(
                "nutrition guidance needs {} (in the request or the profile's body data)",
                missing.join(", ")
            ),
        )
    })?;
    let goal_text = if m.goal.trim().is_empty() {
        b.as_ref()
            .and_then(|b| b.goals.first().cloned())
            .unwrap_or_default()
    } else {
        m.goal.clone()
    };
    let goal = Goal::from_text(&goal_text);
    let sessions = if m.sessions_per_week == 0 {
        3
    } else {
        m.sessions_per_week.unsigned_abs()
    };
    steps.done(
        "profile",
        "rules",
        1,
        format!(
            "weight {:.1} kg, height {:.0} cm, age {}; goal {:?}; {} sessions a week",
            body.weight_kg, body.height_cm, body.age_years, goal, sessions
        ),
    );
    let g =
        nutrition::guidance(&body, goal, sessions).map_err(|NutritionError::Implausible(f)| {
            AppError::precondition(
                "BODY_DATA_IMPLAUSIBLE",
                format!("the profile's {f} is outside the range the formulas are valid for"),
            )
        })?;
    steps.done(
        "formulas",
        "rules",
        1,
        format!(
            "BMR {} kcal × {} = TDEE {} kcal; target {} kcal; protein {} g, fat {} g, carbs {} g ({})",
            g.bmr_kcal,
            g.activity_factor,
            g.tdee_kcal,
            g.target_kcal,
            g.protein_g,
            g.fat_g,
            g.carbs_g,
            g.formulas.join("; ")
        ),
    );
    let rules_text = format!(
        "Aim for about {} kcal a day: {} g protein, {} g fat and {} g carbohydrate. Your estimated maintenance is {} kcal ({}).",
        g.target_kcal,
        g.protein_g,
        g.fat_g,
        g.carbs_g,
        g.tdee_kcal,
        g.formulas.join("; ")
    );
    let facts = format!(
        "Goal: {:?}\nTargets: {} kcal, protein {} g, fat {} g, carbs {} g\nMaintenance (TDEE): {} kcal, BMR {} kcal, activity factor {}\nFormulas: {}\nAssumptions: {}",
        goal,
        g.target_kcal,
        g.protein_g,
        g.fat_g,
        g.carbs_g,
        g.tdee_kcal,
        g.bmr_kcal,
        g.activity_factor,
        g.formulas.join("; "),
        g.assumptions.join("; ")
    );
    let (text, provenance, usage) = phrase(s, caller, "agent.nutrition", facts, rules_text).await;
    steps.done(
        "phrase",
        provenance.path.as_str(),
        1,
        if provenance.reason.is_empty() {
            "the model phrased the figures".to_owned()
        } else {
            provenance.reason.clone()
        },
    );
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_NUTRITION,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    let to_i32 = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    Ok(pb::NutritionGuidanceResponse {
        bmr_kcal: to_i32(g.bmr_kcal),
        activity_factor: g.activity_factor,
        tdee_kcal: to_i32(g.tdee_kcal),
        target_kcal: to_i32(g.target_kcal),
        protein_g: to_i32(g.protein_g),
        fat_g: to_i32(g.fat_g),
        carbs_g: to_i32(g.carbs_g),
        formulas: g.formulas.iter().map(|f| (*f).to_owned()).collect(),
        assumptions: g.assumptions.iter().map(|a| (*a).to_owned()).collect(),
        text,
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}

// ---- CheckInjuryRisk ----

fn risk_to_proto(r: Risk) -> pb::InjuryRisk {
    match r {
        Risk::Low => pb::InjuryRisk::Low,
        Risk::Moderate => pb::InjuryRisk::Moderate,
        Risk::High => pb::InjuryRisk::High,
    }
}

async fn check_injury_risk(
    s: &Agents,
    call: Call<pb::CheckInjuryRiskRequest>,
) -> AppResult<pb::CheckInjuryRiskResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let plan_id = (!m.plan_id.is_empty()).then(|| convert::parse_id(&mut v, "plan_id", &m.plan_id));
    match (m.exercises.is_empty(), plan_id.is_some()) {
        (true, false) => v.add("exercises", "give 1–50 exercises or a plan_id"),
        (false, true) => v.add("plan_id", "give either exercises or a plan_id, not both"),
        _ => {}
    }
    v.when(m.exercises.len() > 50, "exercises", "at most 50 exercises");
    for (i, e) in m.exercises.iter().enumerate().take(50) {
        let f = format!("exercises[{i}].exercise_id");
        if e.exercise_id.trim().is_empty() {
            v.add(&f, "required");
        } else {
            check_text(&mut v, &f, &e.exercise_id, 64);
        }
        v.when(
            !(0..=10).contains(&e.sets),
            &format!("exercises[{i}].sets"),
            "between 1 and 10 (0 means 3)",
        );
        v.when(
            !(0..=100).contains(&e.reps),
            &format!("exercises[{i}].reps"),
            "between 1 and 100 (0 means 10)",
        );
    }
    check_list(&mut v, "limitations", &m.limitations, 20, 200);
    let level = check_level(&mut v, m.level);
    v.check()?;
    charge(s, caller).await?;
    let mut steps = Steps::new();

    let profile = body(s, caller).await;
    let profile_body = profile.as_ref().ok().cloned().flatten();
    let limitations = if m.limitations.is_empty() {
        profile_body
            .as_ref()
            .map(|b| b.limitations.clone())
            .unwrap_or_default()
    } else {
        m.limitations.clone()
    };
    let level = level
        .or_else(|| profile_level(profile_body.as_ref()))
        .unwrap_or(Level::Beginner);
    steps.done(
        "profile",
        "rules",
        1,
        match &profile {
            Err(why) => format!("{why}: the request's limitations only"),
            Ok(_) => format!(
                "level {}; limitations: {}",
                level.as_str(),
                if limitations.is_empty() {
                    "none".to_owned()
                } else {
                    limitations.join("; ")
                }
            ),
        },
    );

    // (id, sets, reps) checked: the request's, or the plan's first week.
    let wanted: Vec<(String, u32, u32)> = match plan_id {
        Some(id) => {
            let mut conn = s.pool.acquire().await?;
            let row = store::plan(&mut conn, caller.user_id, id)
                .await?
                .ok_or(AppError::not_found("plan"))?;
            row.plan
                .0
                .weeks
                .first()
                .map(|w| {
                    w.days
                        .iter()
                        .flat_map(|d| &d.items)
                        .map(|i| (i.exercise_id.clone(), i.sets, i.reps.unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default()
        }
        None => m
            .exercises
            .iter()
            .map(|e| {
                (
                    e.exercise_id.clone(),
                    if e.sets == 0 {
                        3
                    } else {
                        e.sets.unsigned_abs()
                    },
                    if e.reps == 0 {
                        10
                    } else {
                        e.reps.unsigned_abs()
                    },
                )
            })
            .collect(),
    };
    let (catalog, names) = catalog(s, caller).await?;
    let mut checked = Vec::new();
    let mut unknown = Violations::new();
    for (i, (id, sets, reps)) in wanted.iter().enumerate() {
        match catalog.get(id) {
            Some(e) => checked.push(Checked {
                id: id.clone(),
                traits: e.traits.clone(),
                sets: *sets,
                reps: *reps,
            }),
            None => unknown.add(
                &format!("exercises[{i}].exercise_id"),
                "not an exercise of the catalog",
            ),
        }
    }
    unknown.check()?;
    let rules = safety::rules_for(&limitations);
    let findings = injury::assess(&checked, level, &rules);
    let overall = findings.iter().map(|f| f.risk).max().unwrap_or(Risk::Low);
    let flagged: Vec<String> = findings
        .iter()
        .filter(|f| f.risk != Risk::Low)
        .map(|f| {
            format!(
                "{} ({:?}): {}",
                names
                    .get(&f.exercise_id)
                    .cloned()
                    .unwrap_or_else(|| f.exercise_id.clone()),
                f.risk,
                f.reasons.join("; ")
            )
        })
        .collect();
    steps.done(
        "assess",
        "rules",
        1,
        format!(
            "{} exercises checked, {} flagged; overall {:?}",
            findings.len(),
            flagged.len(),
            overall
        ),
    );
    let rules_text = if flagged.is_empty() {
        "No exercise conflicts with your limitations or looks overloaded for your level.".to_owned()
    } else {
        format!("Take care with: {}.", flagged.join(" | "))
    };
    let facts = format!(
        "Level: {}\nLimitations: {}\nFindings:\n{}",
        level.as_str(),
        limitations.join("; "),
        findings
            .iter()
            .map(|f| format!(
                "- {} {:?}: {}",
                names.get(&f.exercise_id).cloned().unwrap_or_default(),
                f.risk,
                if f.reasons.is_empty() {
                    "no finding".to_owned()
                } else {
                    f.reasons.join("; ")
                }
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (text, provenance, usage) = phrase(s, caller, "agent.injury", facts, rules_text).await;
    steps.done(
        "phrase",
        provenance.path.as_str(),
        1,
        if provenance.reason.is_empty() {
            "the model summarised the findings".to_owned()
        } else {
            provenance.reason.clone()
        },
    );
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_INJURY,
            provenance: &provenance,
            usage,
            steps,
            result_id: plan_id,
        },
        None,
    )
    .await?;
    Ok(pb::CheckInjuryRiskResponse {
        findings: findings
            .iter()
            .map(|f| pb::InjuryFinding {
                exercise_id: f.exercise_id.clone(),
                exercise_name: names.get(&f.exercise_id).cloned().unwrap_or_default(),
                risk: risk_to_proto(f.risk) as i32,
                reasons: f.reasons.clone(),
            })
            .collect(),
        overall: risk_to_proto(overall) as i32,
        limitations,
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
        text,
    })
}

// ---- executions ----

fn execution_to_proto(r: &ExecutionRow) -> pb::Execution {
    pb::Execution {
        id: r.id.to_string(),
        kind: r.kind.clone(),
        steps: r
            .steps
            .0
            .iter()
            .map(|s| pb::ExecutionStep {
                name: s.name.clone(),
                path: s.path.clone(),
                reasoning: s.reasoning.clone(),
                duration_ms: s.duration_ms,
                attempt: s.attempt,
            })
            .collect(),
        provenance: Some(provenance_of(&r.path, &r.model, &r.reason, r.answer_id).into_proto()),
        result_id: r.result_id.map(|id| id.to_string()).unwrap_or_default(),
        duration_ms: r.duration_ms,
        create_time: Some(convert::timestamp(r.created_at)),
    }
}

async fn list_executions(
    s: &Agents,
    call: Call<pb::ListExecutionsRequest>,
) -> AppResult<pb::ListExecutionsResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let page: Page<(i64, Uuid)> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::executions(&mut conn, caller.user_id, cursor(&page), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| key(r.created_at, r.id));
    Ok(pb::ListExecutionsResponse {
        executions: rows.iter().map(execution_to_proto).collect(),
        next_page_token,
    })
}

async fn get_execution(
    s: &Agents,
    call: Call<pb::GetExecutionRequest>,
) -> AppResult<pb::GetExecutionResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("execution_id", &call.message.execution_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::execution(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found("execution"))?;
    Ok(pb::GetExecutionResponse {
        execution: Some(execution_to_proto(&row)),
    })
}
