//! Nutrition guidance, pure: calories and macros from body data, goal and training load.
//!
//! Formulas (named so the answer can cite them):
//! - BMR: Mifflin–St Jeor (1990): 10·kg + 6.25·cm − 5·age + s, s = +5 (male), −161 (female).
//!   Sex unknown: the mean of both constants (−78) — a documented assumption, stated in the
//!   answer's assumptions.
//! - TDEE: BMR × activity factor from weekly training sessions (1.2 sedentary, 1.375 for 1–2,
//!   1.55 for 3–4, 1.725 for 5–6, 1.9 for 7+).
//! - Goal adjustment: lose weight −500 kcal/day (floored at BMR×1.0, never below BMR),
//!   gain muscle +300 kcal/day, otherwise maintain.
//! - Protein g/kg: 1.6 (lose), 1.8 (gain muscle), 1.2 (maintain/endurance: 1.4).
//!   Fat 25 % of calories; carbohydrates the rest (4 kcal/g protein and carbs, 9 kcal/g fat).
//!
//! The model may only phrase these numbers, never change them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    LoseWeight,
    GainMuscle,
    Endurance,
    Maintain,
}

impl Goal {
    /// Reads a goal from free text ("lose weight", "build muscle", …); Maintain otherwise.
    pub fn from_text(goal: &str) -> Self {
        let g = goal.to_lowercase();
        if ["lose", "fat", "weight loss", "cut", "slim"]
            .iter()
            .any(|k| g.contains(k))
        {
            Goal::LoseWeight
        } else if ["muscle", "gain", "bulk", "strength", "mass"]
            .iter()
            .any(|k| g.contains(k))
        {
            Goal::GainMuscle
        } else if ["endurance", "run", "marathon", "cardio", "stamina"]
            .iter()
            .any(|k| g.contains(k))
        {
            Goal::Endurance
        } else {
            Goal::Maintain
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Body {
    pub weight_kg: f64,
    pub height_cm: f64,
    pub age_years: u32,
    pub sex: Sex,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Guidance {
    pub bmr_kcal: u32,
    pub activity_factor: f64,
    pub tdee_kcal: u32,
    pub target_kcal: u32,
    pub protein_g: u32,
    pub fat_g: u32,
    pub carbs_g: u32,
    /// The formulas used, cited in the answer.
    pub formulas: Vec<&'static str>,
    /// Assumptions made for missing data.
    pub assumptions: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NutritionError {
    /// The field named is missing or outside plausible human bounds.
    Implausible(&'static str),
}

pub fn mifflin_st_jeor(body: &Body) -> f64 {
    let s = match body.sex {
        Sex::Male => 5.0,
        Sex::Female => -161.0,
        Sex::Unknown => -78.0,
    };
    10.0 * body.weight_kg + 6.25 * body.height_cm - 5.0 * f64::from(body.age_years) + s
}

pub fn activity_factor(sessions_per_week: u32) -> f64 {
    match sessions_per_week {
        0 => 1.2,
        1..=2 => 1.375,
        3..=4 => 1.55,
        5..=6 => 1.725,
        _ => 1.9,
    }
}

pub fn guidance(
    body: &Body,
    goal: Goal,
    sessions_per_week: u32,
) -> Result<Guidance, NutritionError> {
    if !(25.0..=350.0).contains(&body.weight_kg) {
        return Err(NutritionError::Implausible("weight_kg"));
    }
    if !(100.0..=250.0).contains(&body.height_cm) {
        return Err(NutritionError::Implausible("height_cm"));
    }
    if !(13..=110).contains(&body.age_years) {
        return Err(NutritionError::Implausible("age"));
    }
    let bmr = mifflin_st_jeor(body);
    let factor = activity_factor(sessions_per_week);
    let tdee = bmr * factor;
    let target = match goal {
        Goal::LoseWeight => (tdee - 500.0).max(bmr),
        Goal::GainMuscle => tdee + 300.0,
        Goal::Endurance | Goal::Maintain => tdee,
    };
    let protein_per_kg = match goal {
        Goal::LoseWeight => 1.6,
        Goal::GainMuscle => 1.8,
        Goal::Endurance => 1.4,
        Goal::Maintain => 1.2,
    };
    let protein_g = body.weight_kg * protein_per_kg;
    let fat_g = target * 0.25 / 9.0;
    let carbs_g = ((target - protein_g * 4.0 - fat_g * 9.0) / 4.0).max(0.0);
    let mut assumptions = Vec::new();
    if body.sex == Sex::Unknown {
        assumptions.push("sex not given: the Mifflin–St Jeor constant is the mean of the male and female ones (−78)");
    }
    Ok(Guidance {
        bmr_kcal: bmr.round() as u32,
        activity_factor: factor,
        tdee_kcal: tdee.round() as u32,
        target_kcal: target.round() as u32,
        protein_g: protein_g.round() as u32,
        fat_g: fat_g.round() as u32,
        carbs_g: carbs_g.round() as u32,
        formulas: vec![
            "Mifflin–St Jeor BMR",
            "TDEE = BMR × activity factor (training sessions per week)",
            "protein g/kg of body weight by goal; fat 25 % of calories; carbohydrates the rest",
        ],
        assumptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(sex: Sex) -> Body {
        Body {
            weight_kg: 80.0,
            height_cm: 180.0,
            age_years: 30,
            sex,
        }
    }

    #[test]
    fn mifflin_st_jeor_matches_the_published_formula() {
        // 10·80 + 6.25·180 − 5·30 + 5 = 800 + 1125 − 150 + 5 = 1780
        assert!((mifflin_st_jeor(&body(Sex::Male)) - 1780.0).abs() < 1e-9);
        // … − 161 = 1614
        assert!((mifflin_st_jeor(&body(Sex::Female)) - 1614.0).abs() < 1e-9);
        assert!((mifflin_st_jeor(&body(Sex::Unknown)) - 1697.0).abs() < 1e-9);
    }

    #[test]
    fn activity_factors_by_sessions() {
        assert_eq!(activity_factor(0), 1.2);
        assert_eq!(activity_factor(2), 1.375);
        assert_eq!(activity_factor(4), 1.55);
        assert_eq!(activity_factor(6), 1.725);
        assert_eq!(activity_factor(9), 1.9);
    }

    #[test]
    fn weight_loss_is_a_500_kcal_deficit_with_more_protein() {
        let g = guidance(&body(Sex::Male), Goal::LoseWeight, 3).unwrap();
        assert_eq!(g.bmr_kcal, 1780);
        assert_eq!(g.tdee_kcal, 2759); // 1780 × 1.55
        assert_eq!(g.target_kcal, 2259);
        assert_eq!(g.protein_g, 128); // 1.6 × 80
        assert_eq!(g.fat_g, 63); // 2259 × 0.25 / 9
        // the macros add up to the target within rounding
        let kcal = g.protein_g * 4 + g.fat_g * 9 + g.carbs_g * 4;
        assert!(
            (i64::from(kcal) - i64::from(g.target_kcal)).abs() <= 10,
            "{kcal}"
        );
        assert!(g.assumptions.is_empty());
    }

    #[test]
    fn a_deficit_never_goes_below_bmr() {
        let small = Body {
            weight_kg: 45.0,
            height_cm: 150.0,
            age_years: 70,
            sex: Sex::Female,
        };
        let g = guidance(&small, Goal::LoseWeight, 0).unwrap();
        assert_eq!(g.target_kcal, g.bmr_kcal);
    }

    #[test]
    fn muscle_gain_is_a_surplus_and_unknown_sex_is_stated() {
        let g = guidance(&body(Sex::Unknown), Goal::GainMuscle, 5).unwrap();
        assert_eq!(g.target_kcal, (1697.0_f64 * 1.725 + 300.0).round() as u32);
        assert_eq!(g.protein_g, 144);
        assert_eq!(g.assumptions.len(), 1);
    }

    #[test]
    fn implausible_body_data_names_the_field() {
        let mut b = body(Sex::Male);
        b.weight_kg = 0.0;
        assert_eq!(
            guidance(&b, Goal::Maintain, 1),
            Err(NutritionError::Implausible("weight_kg"))
        );
        let mut b = body(Sex::Male);
        b.height_cm = 20.0;
        assert_eq!(
            guidance(&b, Goal::Maintain, 1),
            Err(NutritionError::Implausible("height_cm"))
        );
        let mut b = body(Sex::Male);
        b.age_years = 5;
        assert_eq!(
            guidance(&b, Goal::Maintain, 1),
            Err(NutritionError::Implausible("age"))
        );
    }

    #[test]
    fn goals_read_from_text() {
        assert_eq!(Goal::from_text("Lose some fat"), Goal::LoseWeight);
        assert_eq!(Goal::from_text("build muscle"), Goal::GainMuscle);
        assert_eq!(Goal::from_text("run a marathon"), Goal::Endurance);
        assert_eq!(Goal::from_text("feel good"), Goal::Maintain);
    }
}
