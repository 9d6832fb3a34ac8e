//! CheckInjuryRisk.

use stride_kit::{AppError, AppResult, Call, Violations, convert};
use stride_proto::ai_coach as pb;

use super::{
    Agents, KIND_INJURY, Run, Steps, body, catalog, charge, check_level, check_list, check_text,
    phrase, profile_level, record,
};
use crate::{
    domain::{
        injury::{self, Checked, Risk},
        plan::Level,
        safety,
    },
    store::agents as store,
};

// ---- CheckInjuryRisk ----

fn risk_to_proto(r: Risk) -> pb::InjuryRisk {
    match r {
        Risk::Low => pb::InjuryRisk::Low,
        Risk::Moderate => pb::InjuryRisk::Moderate,
        Risk::High => pb::InjuryRisk::High,
    }
}

pub(super) async fn check_injury_risk(
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
