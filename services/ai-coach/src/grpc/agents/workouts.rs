//! RecommendWorkout, AdaptiveWorkout and SuggestExercises: one workout (or ranked exercises)
//! from the catalog. The rules filter (equipment, limitations, difficulty, recovery) and rank;
//! the model may compose the workout from the eligible exercises, or order and explain the
//! rules' candidates. Model output is checked ([`workout::check`],
//! [`workout::check_suggestions`]) and retried once with the findings, then the rules answer
//! with the reason (RULES_FALLBACK).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage,
};
use serde::de::DeserializeOwned;
use stride_kit::{AppError, AppResult, Call, Violations};
use stride_proto::ai_coach as pb;
use time::Duration;

use super::{
    Agents, MAX_MODEL_EXERCISES, Run, Steps, catalog, charge, check_list, check_text, history,
    level_to_proto, record,
};
use crate::{
    answers::Provenance,
    domain::{
        plan::{CatalogExercise, Level},
        progress,
        safety::{self, LimitationRule},
        workout::{self, Ask, Excluded, Scored, Workout},
    },
    llm::{Llm, LlmErrorKind, Usage},
    prompts,
};

pub const KIND_WORKOUT: &str = "agent.workout";
pub const KIND_EXERCISES: &str = "agent.exercises";
pub const KIND_ADAPTIVE: &str = "agent.adaptive";
/// Tries of a model workout or suggestion list: the first, and one retry with the findings.
pub const MODEL_TRIES: usize = 2;
const WORKOUT_TOKENS: u32 = 1500;
const SUGGESTION_TOKENS: u32 = 1500;
const DEFAULT_MINUTES: u32 = 30;
const DEFAULT_SUGGESTIONS: usize = 8;
const MAX_SUGGESTIONS: i32 = 20;

// ---- inputs ----

/// The difficulty asked for (None: unspecified); an unknown value is a violation on `field`.
pub(super) fn check_difficulty(v: &mut Violations, field: &str, raw: i32) -> Option<Level> {
    match pb::PlanLevel::try_from(raw) {
        Ok(pb::PlanLevel::Beginner) => Some(Level::Beginner),
        Ok(pb::PlanLevel::Intermediate) => Some(Level::Intermediate),
        Ok(pb::PlanLevel::Advanced) => Some(Level::Advanced),
        Ok(pb::PlanLevel::Unspecified) => None,
        Err(_) => {
            v.add(field, "unknown difficulty");
            None
        }
    }
}

/// The time budget (0 means 30); outside 10–180 is a violation on `field`.
pub(super) fn check_minutes(v: &mut Violations, field: &str, raw: i32) -> u32 {
    if raw == 0 {
        return DEFAULT_MINUTES;
    }
    match u32::try_from(raw) {
        Ok(m) if workout::MINUTES.contains(&m) => m,
        _ => {
            v.add(field, "between 10 and 180 minutes (0 means 30)");
            DEFAULT_MINUTES
        }
    }
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_lowercase()).collect()
}

/// How many exercises each exclusion left out, for the reasoning.
fn exclusions(catalog: &HashMap<String, CatalogExercise>, ask: &Ask<'_>) -> Vec<String> {
    let mut equipment: BTreeMap<String, usize> = BTreeMap::new();
    let mut limitation: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut recovering, mut too_hard) = (0usize, 0usize);
    for e in catalog.values() {
        match workout::exclusion(e, ask) {
            Some(Excluded::Equipment(missing)) => {
                for m in missing {
                    *equipment.entry(m).or_default() += 1;
                }
            }
            Some(Excluded::Limitation { area, .. }) => *limitation.entry(area).or_default() += 1,
            Some(Excluded::Recovering(_)) => recovering += 1,
            Some(Excluded::TooHard(_)) => too_hard += 1,
            None => {}
        }
    }
    let mut out = Vec::new();
    if !equipment.is_empty() {
        let mut by_count: Vec<(String, usize)> = equipment.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.push(format!(
            "Left out for equipment you do not have: {}.",
            by_count
                .iter()
                .take(6)
                .map(|(k, n)| format!("{k} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (area, n) in limitation {
        out.push(format!("Your {area} limitation rules out {n} exercises."));
    }
    if recovering > 0 {
        out.push(format!(
            "{recovering} exercises work muscles trained in the last 48 hours and wait."
        ));
    }
    if too_hard > 0 {
        out.push(format!(
            "{too_hard} exercises are too advanced for the level asked."
        ));
    }
    out
}

fn item_to_proto(
    i: &workout::WorkoutItem,
    catalog: &HashMap<String, CatalogExercise>,
) -> pb::WorkoutItem {
    let e = catalog.get(&i.exercise_id);
    pb::WorkoutItem {
        exercise_id: i.exercise_id.clone(),
        exercise_name: e.map(|e| e.traits.name.clone()).unwrap_or_default(),
        sets: i32::try_from(i.sets).unwrap_or(0),
        reps: i32::try_from(i.reps).unwrap_or(0),
        rest_seconds: i32::try_from(i.rest_seconds).unwrap_or(0),
        muscles: e
            .map(|e| e.traits.primary_muscles.clone())
            .unwrap_or_default(),
    }
}

fn workout_to_proto(
    w: &Workout,
    catalog: &HashMap<String, CatalogExercise>,
    level: Level,
) -> pb::Workout {
    pb::Workout {
        title: w.title.chars().take(200).collect(),
        items: w.items.iter().map(|i| item_to_proto(i, catalog)).collect(),
        estimated_minutes: i32::try_from(w.estimated_minutes()).unwrap_or(i32::MAX),
        level: level_to_proto(level) as i32,
    }
}

// ---- the model ----

/// One structured model question: the execution step it is, the prompt (its purpose), the
/// conversation so far, the schema and the token bound.
struct ModelAsk {
    step: &'static str,
    prompt: &'static str,
    messages: Vec<ChatCompletionRequestMessage>,
    schema: serde_json::Value,
    max_tokens: u32,
}

/// A structured model answer accepted by `check` within [`MODEL_TRIES`], else None with the
/// fallback provenance naming the last reason. Each try is a step of the execution.
async fn checked<T: DeserializeOwned + Send>(
    llm: &Llm,
    steps: &mut Steps,
    ask: ModelAsk,
    check: &(dyn Fn(&T) -> Vec<String> + Sync),
) -> (Option<T>, Provenance, Usage) {
    let ModelAsk {
        step,
        prompt,
        mut messages,
        schema,
        max_tokens,
    } = ask;
    let mut usage = Usage::default();
    let mut reason = String::new();
    for attempt in 1..=MODEL_TRIES {
        let attempt_no = i32::try_from(attempt).unwrap_or(i32::MAX);
        match llm
            .structured::<T>(prompt, messages.clone(), step, &schema, max_tokens)
            .await
        {
            Ok((answer, c)) => {
                usage = usage + c.usage;
                let findings = check(&answer);
                if findings.is_empty() {
                    steps.done(
                        step,
                        "model",
                        attempt_no,
                        "the model's answer passed the checks",
                    );
                    return (Some(answer), Provenance::model(c.model), usage);
                }
                let listed: Vec<String> = findings.into_iter().take(10).collect();
                reason = format!(
                    "the model's answer failed the checks: {}",
                    listed.join("; ")
                );
                steps.done(step, "failed", attempt_no, reason.clone());
                messages.push(
                    ChatCompletionRequestUserMessage::from(format!(
                        "Your answer was rejected: {}. Answer again with JSON matching the schema, fixing every finding.",
                        listed.join("; ")
                    ))
                    .into(),
                );
            }
            Err(e) if e.kind == LlmErrorKind::Invalid => {
                reason = format!(
                    "the model's answer was not valid JSON for the schema: {}",
                    e.reason
                );
                steps.done(step, "failed", attempt_no, reason.clone());
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
                steps.done(step, "failed", attempt_no, reason.clone());
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

fn exercise_lines(ranked: &[Scored<'_>]) -> String {
    ranked
        .iter()
        .take(MAX_MODEL_EXERCISES)
        .map(|s| {
            let e = s.exercise;
            format!(
                "- {} | {} | muscles: {} | difficulty: {} | equipment: {}",
                e.id,
                e.traits.name,
                e.traits.primary_muscles.join(", "),
                e.difficulty.map_or("any", Level::as_str),
                if e.equipment.is_empty() {
                    "none".to_owned()
                } else {
                    e.equipment.join(", ")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The workout: the model's when configured and accepted, else the rules'.
async fn compose(
    s: &Agents,
    user: uuid::Uuid,
    steps: &mut Steps,
    catalog: &HashMap<String, CatalogExercise>,
    ranked: &[Scored<'_>],
    ask: &Ask<'_>,
    goals: &[String],
) -> (Workout, Provenance, Usage) {
    let (model, provenance, usage) = match &s.llm {
        None => (None, Provenance::not_configured(), Usage::default()),
        Some(llm) => {
            let llm = llm.for_user(user);
            let facts = format!(
                "Goals: {}\nLevel: {}\nTime budget: {} minutes\nTarget muscles: {}\nMuscles to rest: {}\n\nExercises you may use (id | name | muscles | difficulty | equipment):\n{}",
                if goals.is_empty() {
                    "general fitness".to_owned()
                } else {
                    goals.join("; ")
                },
                ask.level.as_str(),
                ask.minutes,
                if ask.target_muscles.is_empty() {
                    "any".to_owned()
                } else {
                    ask.target_muscles.join(", ")
                },
                if ask.resting.is_empty() {
                    "none".to_owned()
                } else {
                    ask.resting.iter().cloned().collect::<Vec<_>>().join(", ")
                },
                exercise_lines(ranked)
            );
            let messages = vec![
                ChatCompletionRequestSystemMessage::from(prompts::get("agent.workout").text).into(),
                ChatCompletionRequestUserMessage::from(facts).into(),
            ];
            checked::<Workout>(
                &llm,
                steps,
                ModelAsk {
                    step: "compose",
                    prompt: "agent.workout",
                    messages,
                    schema: workout::schema(),
                    max_tokens: WORKOUT_TOKENS,
                },
                &|w: &Workout| workout::check(w, catalog, ask),
            )
            .await
        }
    };
    match model {
        Some(w) => (w, provenance, usage),
        None => {
            let w = workout::rules_workout(ranked, ask);
            steps.done(
                "rules_workout",
                "rules",
                1,
                format!(
                    "the rules built {} exercises, about {} minutes ({})",
                    w.items.len(),
                    w.estimated_minutes(),
                    provenance.reason
                ),
            );
            (w, provenance, usage)
        }
    }
}

fn no_eligible(resting: bool) -> AppError {
    AppError::precondition(
        "NO_ELIGIBLE_EXERCISES",
        if resting {
            "every catalog exercise that fits your equipment and limitations works a muscle trained in the last 48 hours: take a rest day"
        } else {
            "no catalog exercise fits this equipment, these limitations and this difficulty; add equipment or check the limitations"
        },
    )
}

fn chosen(w: &Workout, catalog: &HashMap<String, CatalogExercise>) -> String {
    let muscles: BTreeSet<String> = w
        .items
        .iter()
        .filter_map(|i| catalog.get(&i.exercise_id))
        .flat_map(|e| e.traits.primary_muscles.iter().cloned())
        .collect();
    format!(
        "{} exercises for {}, about {} minutes.",
        w.items.len(),
        muscles.into_iter().collect::<Vec<_>>().join(", "),
        w.estimated_minutes()
    )
}

// ---- RecommendWorkout ----

pub(super) async fn recommend_workout(
    s: &Agents,
    call: Call<pb::RecommendWorkoutRequest>,
) -> AppResult<pb::RecommendWorkoutResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    check_list(&mut v, "goals", &m.goals, 10, 200);
    check_list(&mut v, "equipment", &m.equipment, 30, 64);
    check_list(&mut v, "limitations", &m.limitations, 20, 200);
    check_list(&mut v, "target_muscles", &m.target_muscles, 10, 64);
    let minutes = check_minutes(&mut v, "minutes", m.minutes);
    let level = check_difficulty(&mut v, "difficulty", m.difficulty).unwrap_or(Level::Beginner);
    v.check()?;
    charge(s, caller).await?;

    let mut steps = Steps::new();
    let equipment: BTreeSet<String> = lower(&m.equipment).into_iter().collect();
    let rules: Vec<&'static LimitationRule> = safety::rules_for(&m.limitations);
    let targets = lower(&m.target_muscles);
    let goals = workout::goal_keys(&m.goals);
    let resting = BTreeSet::new();
    let ask = Ask {
        minutes,
        level,
        any_difficulty: false,
        equipment: &equipment,
        rules: &rules,
        target_muscles: &targets,
        goals: &goals,
        resting: &resting,
    };
    steps.done(
        "analyse",
        "rules",
        1,
        format!(
            "level {}, {minutes} min; goals map to {}; equipment: {}; limitations map to: {}",
            level.as_str(),
            goals.iter().copied().collect::<Vec<_>>().join(", "),
            if equipment.is_empty() {
                "body weight only".to_owned()
            } else {
                equipment.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            areas(&rules)
        ),
    );
    let (catalog, _) = catalog(s, caller).await?;
    let ranked = workout::rank(&catalog, &ask);
    let mut reasoning = exclusions(&catalog, &ask);
    steps.done(
        "select",
        "rules",
        1,
        format!(
            "{} of {} catalog exercises are eligible. {}",
            ranked.len(),
            catalog.len(),
            reasoning.join(" ")
        ),
    );
    if ranked.is_empty() {
        return Err(no_eligible(false));
    }
    let (w, provenance, usage) = compose(
        s,
        caller.user_id,
        &mut steps,
        &catalog,
        &ranked,
        &ask,
        &m.goals,
    )
    .await;
    reasoning.push(chosen(&w, &catalog));
    if !provenance.reason.is_empty() && provenance.path != crate::answers::Path::Model {
        reasoning.push(format!("Built by the rules: {}.", provenance.reason));
    }
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_WORKOUT,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    Ok(pb::RecommendWorkoutResponse {
        workout: Some(workout_to_proto(&w, &catalog, level)),
        reasoning,
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}

fn areas(rules: &[&'static LimitationRule]) -> String {
    if rules.is_empty() {
        "none".to_owned()
    } else {
        rules.iter().map(|r| r.area).collect::<Vec<_>>().join(", ")
    }
}

// ---- AdaptiveWorkout ----

/// Days of logs read for the recovery window and adherence.
const ADAPTIVE_LOOKBACK_DAYS: i64 = 13;

pub(super) async fn adaptive_workout(
    s: &Agents,
    call: Call<pb::AdaptiveWorkoutRequest>,
) -> AppResult<pb::AdaptiveWorkoutResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    check_list(&mut v, "equipment", &m.equipment, 30, 64);
    check_list(&mut v, "limitations", &m.limitations, 20, 200);
    let minutes = check_minutes(&mut v, "minutes", m.minutes);
    let level = check_difficulty(&mut v, "difficulty", m.difficulty).unwrap_or(Level::Beginner);
    v.check()?;
    charge(s, caller).await?;

    let mut steps = Steps::new();
    let today = history::today(s, caller).await;
    let logs = history::logs(
        s,
        caller,
        today - Duration::days(ADAPTIVE_LOOKBACK_DAYS),
        today,
    )
    .await?
    .logs;
    let dates: BTreeSet<time::Date> = logs.iter().map(|l| l.date).collect();
    let adherence = progress::adherence(&dates, today, 0);
    steps.done(
        "recent",
        "rules",
        1,
        format!(
            "{} workouts logged on {} days in the last two weeks; {} training days in the last 7; last workout {}",
            logs.len(),
            dates.len(),
            adherence.training_days_last_7,
            match adherence.days_since_last {
                None => "none in two weeks".to_owned(),
                Some(0) => "today".to_owned(),
                Some(1) => "yesterday".to_owned(),
                Some(d) => format!("{d} days ago"),
            }
        ),
    );
    let (catalog, _) = catalog(s, caller).await?;
    let muscles = |id: &str| {
        catalog
            .get(id)
            .map(|e| e.traits.primary_muscles.clone())
            .unwrap_or_default()
    };
    let resting = progress::recovering(&logs, today, &muscles);
    steps.done(
        "recovery",
        "rules",
        1,
        if resting.is_empty() {
            "no muscle trained today or yesterday: everything is available".to_owned()
        } else {
            format!(
                "resting {} (trained today or yesterday)",
                resting.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        },
    );
    let all_muscles: BTreeSet<String> = catalog
        .values()
        .flat_map(|e| e.traits.primary_muscles.iter().map(|m| m.to_lowercase()))
        .collect();
    let favour = progress::undertrained(&logs, today, &all_muscles, &muscles);
    let equipment: BTreeSet<String> = lower(&m.equipment).into_iter().collect();
    let rules = safety::rules_for(&m.limitations);
    let goals = workout::goal_keys(&[]);
    let ask = Ask {
        minutes,
        level,
        any_difficulty: false,
        equipment: &equipment,
        rules: &rules,
        target_muscles: &favour,
        goals: &goals,
        resting: &resting,
    };
    let ranked = workout::rank(&catalog, &ask);
    let mut reasoning = exclusions(&catalog, &ask);
    if !favour.is_empty() {
        reasoning.push(format!(
            "Favouring muscles not trained in the last 7 days: {}.",
            favour.join(", ")
        ));
    }
    steps.done(
        "select",
        "rules",
        1,
        format!(
            "{} of {} catalog exercises are eligible{}",
            ranked.len(),
            catalog.len(),
            if favour.is_empty() {
                String::new()
            } else {
                format!("; favouring {}", favour.join(", "))
            }
        ),
    );
    if ranked.is_empty() {
        return Err(no_eligible(!resting.is_empty()));
    }
    let (w, provenance, usage) =
        compose(s, caller.user_id, &mut steps, &catalog, &ranked, &ask, &[]).await;
    reasoning.push(chosen(&w, &catalog));
    let tone = progress::tone(&adherence);
    let (motivation, _) = progress::motivation(&adherence, tone);
    steps.done(
        "motivation",
        "rules",
        1,
        format!("tone {tone:?} from the last 7 days"),
    );
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_ADAPTIVE,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    Ok(pb::AdaptiveWorkoutResponse {
        workout: Some(workout_to_proto(&w, &catalog, level)),
        rested_muscles: resting.into_iter().collect(),
        reasoning,
        motivation,
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}

// ---- SuggestExercises ----

pub(super) async fn suggest_exercises(
    s: &Agents,
    call: Call<pb::SuggestExercisesRequest>,
) -> AppResult<pb::SuggestExercisesResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    if m.target_muscles.is_empty() {
        v.add("target_muscles", "give 1–10 muscles");
    }
    check_list(&mut v, "target_muscles", &m.target_muscles, 10, 64);
    check_list(&mut v, "equipment", &m.equipment, 30, 64);
    check_list(&mut v, "limitations", &m.limitations, 20, 200);
    check_text(&mut v, "context", &m.context, 500);
    let difficulty = check_difficulty(&mut v, "difficulty", m.difficulty);
    v.when(
        !(0..=MAX_SUGGESTIONS).contains(&m.max_results),
        "max_results",
        "between 1 and 20 (0 means 8)",
    );
    v.check()?;
    charge(s, caller).await?;
    let wanted = if m.max_results == 0 {
        DEFAULT_SUGGESTIONS
    } else {
        usize::try_from(m.max_results).unwrap_or(DEFAULT_SUGGESTIONS)
    };

    let mut steps = Steps::new();
    let equipment: BTreeSet<String> = lower(&m.equipment).into_iter().collect();
    let rules = safety::rules_for(&m.limitations);
    let targets = lower(&m.target_muscles);
    let goals = BTreeSet::new();
    let resting = BTreeSet::new();
    // Suggestions have no time budget (only a workout does), and no difficulty asked means none
    // is favoured or left out (the level is then unused).
    let ask = Ask {
        minutes: *workout::MINUTES.end(),
        level: difficulty.unwrap_or(Level::Intermediate),
        any_difficulty: difficulty.is_none(),
        equipment: &equipment,
        rules: &rules,
        target_muscles: &targets,
        goals: &goals,
        resting: &resting,
    };
    let (catalog, _) = catalog(s, caller).await?;
    // Candidates work a target muscle (primary or secondary).
    let candidates: Vec<Scored<'_>> = workout::rank(&catalog, &ask)
        .into_iter()
        .filter(|sc| {
            let e = sc.exercise;
            e.traits
                .primary_muscles
                .iter()
                .chain(&e.secondary_muscles)
                .any(|mu| targets.contains(&mu.to_lowercase()))
        })
        .collect();
    steps.done(
        "rank",
        "rules",
        1,
        format!(
            "{} catalog exercises work {} and fit the equipment, limitations ({}) and difficulty ({})",
            candidates.len(),
            targets.join(", "),
            areas(&rules),
            difficulty.map_or("any", Level::as_str)
        ),
    );
    if candidates.is_empty() {
        return Err(AppError::precondition(
            "NO_ELIGIBLE_EXERCISES",
            "no catalog exercise works these muscles with this equipment, these limitations and this difficulty",
        ));
    }
    let shown: Vec<Scored<'_>> = candidates
        .iter()
        .take(wanted.saturating_mul(3).min(MAX_MODEL_EXERCISES))
        .cloned()
        .collect();
    let ids: BTreeSet<&str> = shown.iter().map(|sc| sc.exercise.id.as_str()).collect();
    let (model, provenance, usage) = match &s.llm {
        None => (None, Provenance::not_configured(), Usage::default()),
        Some(llm) => {
            let llm = llm.for_user(caller.user_id);
            let facts = format!(
                "Target muscles: {}\nLevel: {}\nContext: {}\nAt most {wanted} suggestions.\n\nCandidates (id | name | muscles | difficulty | equipment):\n{}",
                targets.join(", "),
                difficulty.map_or("any", Level::as_str),
                if m.context.trim().is_empty() {
                    "none"
                } else {
                    m.context.as_str()
                },
                exercise_lines(&shown)
            );
            let messages = vec![
                ChatCompletionRequestSystemMessage::from(prompts::get("agent.exercises").text)
                    .into(),
                ChatCompletionRequestUserMessage::from(facts).into(),
            ];
            checked::<workout::ModelSuggestions>(
                &llm,
                &mut steps,
                ModelAsk {
                    step: "explain",
                    prompt: "agent.exercises",
                    messages,
                    schema: workout::suggestion_schema(),
                    max_tokens: SUGGESTION_TOKENS,
                },
                &|sg: &workout::ModelSuggestions| workout::check_suggestions(sg, &ids),
            )
            .await
        }
    };
    let by_id: HashMap<&str, &Scored<'_>> = shown
        .iter()
        .map(|sc| (sc.exercise.id.as_str(), sc))
        .collect();
    let picked: Vec<(&CatalogExercise, String)> = match model {
        Some(sg) => sg
            .suggestions
            .into_iter()
            .filter_map(|x| {
                by_id
                    .get(x.exercise_id.as_str())
                    .map(|sc| (sc.exercise, x.reason))
            })
            .take(wanted)
            .collect(),
        None => {
            steps.done(
                "rules_rank",
                "rules",
                1,
                format!("the rules' order and reasons ({})", provenance.reason),
            );
            candidates
                .iter()
                .take(wanted)
                .map(|sc| {
                    let mut r = sc.reasons.join("; ");
                    if let Some(first) = r.get(..1) {
                        r = first.to_uppercase() + r.get(1..).unwrap_or_default();
                    }
                    (sc.exercise, format!("{r}."))
                })
                .collect()
        }
    };
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_EXERCISES,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    Ok(pb::SuggestExercisesResponse {
        exercises: picked
            .into_iter()
            .enumerate()
            .map(|(i, (e, reason))| pb::SuggestedExercise {
                exercise_id: e.id.clone(),
                exercise_name: e.traits.name.clone(),
                rank: i32::try_from(i + 1).unwrap_or(i32::MAX),
                reason: reason.chars().take(500).collect(),
                muscles: e.traits.primary_muscles.clone(),
                difficulty: e
                    .difficulty
                    .map_or(pb::PlanLevel::Unspecified, level_to_proto)
                    as i32,
            })
            .collect(),
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}
