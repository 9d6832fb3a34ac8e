//! AnalyzeProgress, MotivationBoost and OptimizeCurrentPlan: the caller's workout logs (and
//! current plan) read from activity-session, every figure and change computed by the rules
//! ([`progress`], [`optimize`]); the model, when configured, only phrases them (the rules' text
//! otherwise, and whenever it fails: RULES_FALLBACK with the reason).

use std::collections::BTreeSet;

use stride_kit::{AppError, AppResult, Call, Violations, convert};
use stride_proto::ai_coach as pb;
use time::Duration;

use super::{Agents, Run, Steps, catalog, charge, check_list, history, phrase, record};
use crate::domain::{
    optimize::{self, CurrentPlan},
    progress::{self, MAX_WINDOW_DAYS, Tone},
    safety,
};

pub const KIND_PROGRESS: &str = "agent.progress";
pub const KIND_MOTIVATION: &str = "agent.motivation";
pub const KIND_OPTIMIZE: &str = "agent.optimize";
/// The default window of AnalyzeProgress, in days.
const DEFAULT_WINDOW_DAYS: i64 = 28;
/// The earliest year AnalyzeProgress accepts (date arithmetic stays far from the calendar's
/// bounds).
const EARLIEST_YEAR: i32 = 1970;
/// Days of logs MotivationBoost reads (days since the last workout beyond it are not known).
const MOTIVATION_LOOKBACK_DAYS: i64 = 89;

fn step_reason(p: &crate::answers::Provenance, model_did: &str) -> String {
    if p.reason.is_empty() {
        model_did.to_owned()
    } else {
        p.reason.clone()
    }
}

// ---- AnalyzeProgress ----

pub(super) async fn analyze_progress(
    s: &Agents,
    call: Call<pb::AnalyzeProgressRequest>,
) -> AppResult<pb::AnalyzeProgressResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let mut day = |field: &str, d: &stride_proto::Date| {
        let parsed = convert::from_date(d).filter(|d| d.year() >= EARLIEST_YEAR);
        v.when(
            parsed.is_none(),
            field,
            "a valid calendar date, not before 1970",
        );
        parsed
    };
    let from = m.from.as_ref().map(|d| day("from", d));
    let to = m.to.as_ref().map(|d| day("to", d));
    v.check()?;
    let today = history::today(s, caller).await;
    let to = to.flatten().unwrap_or(today);
    let from = from
        .flatten()
        .unwrap_or_else(|| to - Duration::days(DEFAULT_WINDOW_DAYS - 1));
    let mut v = Violations::new();
    v.when(to > today, "to", "must not be after today");
    v.when(from > to, "from", "must be on or before to");
    v.when(
        from <= to && progress::window_days(from, to) > MAX_WINDOW_DAYS,
        "from",
        "at most 366 days before to",
    );
    v.check()?;
    charge(s, caller).await?;

    let mut steps = Steps::new();
    let read = history::logs(s, caller, from, to).await?;
    let logs = read.logs;
    steps.done(
        "logs",
        "rules",
        1,
        if read.truncated {
            format!(
                "the newest {} workout logs up to {to} (more were logged since {from}: the figures cover these)",
                logs.len()
            )
        } else {
            format!("{} workout logs from {from} to {to}", logs.len())
        },
    );
    let (catalog, names) = catalog(s, caller).await?;
    let name = |id: &str| {
        names
            .get(id)
            .cloned()
            .or_else(|| catalog.get(id).map(|e| e.traits.name.clone()))
            .unwrap_or_else(|| id.to_owned())
    };
    let a = progress::analyze(&logs, from, to, &name);
    steps.done(
        "figures",
        "rules",
        1,
        format!(
            "{} training days ({} a week), consistency {:.0}%, volume change {}, {} plateaus",
            a.training_days,
            a.days_per_week,
            a.consistency * 100.0,
            a.volume_change_percent
                .map_or_else(|| "n/a".to_owned(), |p| format!("{p}%")),
            a.plateaus.len()
        ),
    );
    let rules_text = format!("{} {}", a.insights.join(" "), a.suggestions.join(" "));
    let facts = format!(
        "Window: {from} to {to}\nInsights:\n- {}\nSuggestions:\n- {}",
        a.insights.join("\n- "),
        a.suggestions.join("\n- ")
    );
    let (text, provenance, usage) = phrase(s, caller, "agent.progress", facts, rules_text).await;
    steps.done(
        "phrase",
        provenance.path.as_str(),
        1,
        step_reason(&provenance, "the model phrased the figures"),
    );
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_PROGRESS,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    Ok(pb::AnalyzeProgressResponse {
        from: Some(convert::date(from)),
        to: Some(convert::date(to)),
        workouts: count(a.workouts),
        training_days: count(a.training_days),
        training_days_per_week: a.days_per_week,
        consistency: a.consistency,
        volume_change_percent: a.volume_change_percent.unwrap_or(0.0),
        plateaus: a
            .plateaus
            .iter()
            .map(|p| pb::Plateau {
                exercise_id: p.exercise_id.clone(),
                exercise_name: name(&p.exercise_id),
                sessions: count(p.sessions),
                weight_kg: p.weight_kg,
                reps: i32::try_from(p.reps).unwrap_or(0),
            })
            .collect(),
        insights: a.insights,
        suggestions: a.suggestions,
        text,
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}

// ---- MotivationBoost ----

fn tone_to_proto(t: Tone) -> pb::MotivationTone {
    match t {
        Tone::WelcomeBack => pb::MotivationTone::WelcomeBack,
        Tone::Encouraging => pb::MotivationTone::Encouraging,
        Tone::Celebratory => pb::MotivationTone::Celebratory,
    }
}

pub(super) async fn motivation_boost(
    s: &Agents,
    call: Call<pb::MotivationBoostRequest>,
) -> AppResult<pb::MotivationBoostResponse> {
    let caller = call.caller()?;
    charge(s, caller).await?;
    let mut steps = Steps::new();
    let today = history::today(s, caller).await;
    let logs = history::logs(
        s,
        caller,
        today - Duration::days(MOTIVATION_LOOKBACK_DAYS),
        today,
    )
    .await?
    .logs;
    let plan = history::current_plan(s, caller).await?;
    let planned = plan
        .as_ref()
        .map_or(0, |(_, t)| t.days_per_week.max(0).unsigned_abs());
    let dates: BTreeSet<time::Date> = logs.iter().map(|l| l.date).collect();
    let a = progress::adherence(&dates, today, planned);
    let tone = progress::tone(&a);
    steps.done(
        "adherence",
        "rules",
        1,
        format!(
            "{} training days in the last 7 (plan: {}), streak {}, last workout {}; tone {tone:?}",
            a.training_days_last_7,
            if planned == 0 {
                "none".to_owned()
            } else {
                format!("{planned} a week")
            },
            a.streak_days,
            a.days_since_last
                .map_or_else(|| "none in 90 days".to_owned(), |d| format!("{d} days ago")),
        ),
    );
    let (rules_message, tips) = progress::motivation(&a, tone);
    let facts = format!(
        "Tone: {tone:?}\nTraining days in the last 7 days: {}\nPlan days a week: {}\nDays since the last workout: {}\nStreak: {} days\nThe coach's message: {rules_message}",
        a.training_days_last_7,
        if planned == 0 {
            "no plan".to_owned()
        } else {
            planned.to_string()
        },
        a.days_since_last
            .map_or_else(|| "none logged in 90 days".to_owned(), |d| d.to_string()),
        a.streak_days
    );
    let (message, provenance, usage) =
        phrase(s, caller, "agent.motivation", facts, rules_message).await;
    steps.done(
        "message",
        provenance.path.as_str(),
        1,
        step_reason(
            &provenance,
            "the model wrote the message in the rules' tone",
        ),
    );
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_MOTIVATION,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    Ok(pb::MotivationBoostResponse {
        message,
        tips,
        tone: tone_to_proto(tone) as i32,
        training_days_last_7: n(a.training_days_last_7),
        planned_days_per_week: n(planned),
        days_since_last_workout: a.days_since_last.map_or(-1, n),
        streak_days: n(a.streak_days),
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}

// ---- OptimizeCurrentPlan ----

pub(super) async fn optimize_current_plan(
    s: &Agents,
    call: Call<pb::OptimizeCurrentPlanRequest>,
) -> AppResult<pb::OptimizeCurrentPlanResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    check_list(&mut v, "limitations", &m.limitations, 20, 200);
    v.check()?;
    let Some((user_plan, template)) = history::current_plan(s, caller).await? else {
        return Err(AppError::precondition(
            "NO_CURRENT_PLAN",
            "you have no active plan to optimise; assign one first (UserPlanService.AssignPlan)",
        ));
    };
    charge(s, caller).await?;
    let mut steps = Steps::new();
    let today = history::today(s, caller).await;
    let start = user_plan
        .start_date
        .as_ref()
        .and_then(convert::from_date)
        .unwrap_or(today)
        .min(today);
    let start = start.max(today - Duration::days(MAX_WINDOW_DAYS - 1));
    let logs = history::logs(s, caller, start, today).await?.logs;
    let plan_progress = user_plan.progress.clone().unwrap_or_default();
    let mut exercise_ids: Vec<String> = Vec::new();
    for e in template
        .schedule
        .iter()
        .flat_map(|w| &w.days)
        .flat_map(|d| &d.exercises)
    {
        if !exercise_ids.contains(&e.exercise_id) {
            exercise_ids.push(e.exercise_id.clone());
        }
    }
    let days_done = plan_progress.days_done.max(0).unsigned_abs();
    let days_due = plan_progress.days_due.max(0).unsigned_abs();
    steps.done(
        "plan",
        "rules",
        1,
        format!(
            "\"{}\": {} exercises, {} days a week; {days_done} of {days_due} due days done; {} logs since {start}",
            template.name,
            exercise_ids.len(),
            template.days_per_week,
            logs.len()
        ),
    );
    let (catalog, names) = catalog(s, caller).await?;
    let rules = safety::rules_for(&m.limitations);
    let mods = optimize::optimize(
        &CurrentPlan {
            days_per_week: template.days_per_week.max(0).unsigned_abs(),
            days_done,
            days_due,
            exercise_ids: &exercise_ids,
        },
        &logs,
        &catalog,
        &rules,
    );
    steps.done(
        "modifications",
        "rules",
        1,
        mods.iter()
            .map(|m| m.kind.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let rules_text = mods
        .iter()
        .map(|m| m.reasoning.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let facts = format!(
        "Plan: {} ({} days a week)\nDone: {days_done} of {days_due} training days due\nProposed modifications:\n- {}",
        template.name,
        template.days_per_week,
        mods.iter()
            .map(|m| format!("{}: {}", m.kind.as_str(), m.reasoning))
            .collect::<Vec<_>>()
            .join("\n- ")
    );
    let (text, provenance, usage) = phrase(s, caller, "agent.optimize", facts, rules_text).await;
    steps.done(
        "phrase",
        provenance.path.as_str(),
        1,
        step_reason(&provenance, "the model explained the modifications"),
    );
    let (answer_id, execution_id) = record(
        s,
        Run {
            user: caller.user_id,
            kind: KIND_OPTIMIZE,
            provenance: &provenance,
            usage,
            steps,
            result_id: None,
        },
        None,
    )
    .await?;
    let name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| names.get(id).cloned())
            .unwrap_or_default()
    };
    Ok(pb::OptimizeCurrentPlanResponse {
        user_plan_id: user_plan.id,
        plan_name: template.name,
        days_done: plan_progress.days_done,
        days_due: plan_progress.days_due,
        modifications: mods
            .iter()
            .map(|m| pb::PlanModification {
                kind: m.kind.as_str().to_owned(),
                exercise_id: m.exercise_id.clone().unwrap_or_default(),
                exercise_name: name(&m.exercise_id),
                replacement_exercise_id: m.replacement_id.clone().unwrap_or_default(),
                replacement_exercise_name: name(&m.replacement_id),
                reasoning: m.reasoning.clone(),
            })
            .collect(),
        text,
        execution_id: execution_id.to_string(),
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}
