//! GeneratePlan, GetGeneratedPlan, ListGeneratedPlans.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage,
};
use sqlx::types::Json;
use stride_kit::{AppError, AppResult, Call, Violations, convert, pagination::Page};
use stride_proto::ai_coach as pb;
use uuid::Uuid;

use super::{
    Agents, KIND_PLAN, MAX_MODEL_EXERCISES, PLAN_RETRIES, PLAN_TOKENS, Run, Steps, body, catalog,
    charge, check_level, check_list, check_text, cursor, key, level_to_proto, lowercase_set,
    profile_level, provenance_of, record,
};
use crate::{
    answers::Provenance,
    domain::{
        plan::{self, CatalogExercise, Level, Plan, PlanRequest},
        safety::{self, LimitationRule},
    },
    llm::{Llm, LlmErrorKind, Usage},
    prompts,
    store::agents::{self as store, PlanRow},
};

// ---- GeneratePlan ----

pub(super) async fn generate_plan(
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

pub(super) async fn get_plan(
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

pub(super) async fn list_plans(
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
