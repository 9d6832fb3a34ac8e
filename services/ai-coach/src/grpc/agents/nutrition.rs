//! NutritionGuidance.

use stride_kit::{AppError, AppResult, Call, Violations};
use stride_proto::{
    ai_coach as pb,
    profile::{Body, LengthUnit, WeightUnit},
};

use super::{Agents, KIND_NUTRITION, Run, Steps, body, charge, check_text, phrase, record};
use crate::domain::nutrition::{self, Goal, NutritionError, Sex};

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
pub(super) async fn nutrition_guidance(
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
