//! Injury risk, pure: findings per exercise from the limitation rule table and the load.
//! These are the rules findings of CheckInjuryRisk; a model may add notes but never remove one.

use super::plan::Level;
use super::safety::{self, ExerciseTraits, LimitationRule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    Low,
    Moderate,
    High,
}

/// One exercise of the list checked, with its prescribed load.
#[derive(Debug, Clone)]
pub struct Checked {
    pub id: String,
    pub traits: ExerciseTraits,
    pub sets: u32,
    pub reps: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub exercise_id: String,
    pub risk: Risk,
    pub reasons: Vec<String>,
}

/// Sets per exercise in one session above which the load itself is a risk for the level.
fn max_sets(level: Level) -> u32 {
    match level {
        Level::Beginner => 4,
        Level::Intermediate => 6,
        Level::Advanced => 8,
    }
}

/// A finding for every exercise: High when a limitation contraindicates it, Moderate when the
/// load (sets per session, or more than 30 reps a set) is above the level's plausible range,
/// Low otherwise.
pub fn assess(
    exercises: &[Checked],
    level: Level,
    limitations: &[&'static LimitationRule],
) -> Vec<Finding> {
    exercises
        .iter()
        .map(|e| {
            let mut reasons = Vec::new();
            let mut risk = Risk::Low;
            if let Some((area, term)) = safety::contraindication(limitations, &e.traits) {
                risk = Risk::High;
                reasons.push(format!(
                    "{term} movements are contraindicated by the {area} limitation"
                ));
            }
            if e.sets > max_sets(level) {
                risk = risk.max(Risk::Moderate);
                reasons.push(format!(
                    "{} sets in one session is more than {} for this level",
                    e.sets,
                    max_sets(level)
                ));
            }
            if e.reps > 30 {
                risk = risk.max(Risk::Moderate);
                reasons.push(format!("{} reps a set invites form breakdown", e.reps));
            }
            Finding {
                exercise_id: e.id.clone(),
                risk,
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(id: &str, sets: u32, reps: u32) -> Checked {
        Checked {
            id: id.into(),
            traits: ExerciseTraits {
                slug: id.into(),
                name: id.replace('-', " "),
                primary_muscles: vec![],
                categories: vec![],
            },
            sets,
            reps,
        }
    }

    #[test]
    fn a_contraindicated_exercise_is_high_risk_with_the_reason() {
        let knee = safety::rules_for(&["knee surgery last year".into()]);
        let f = assess(
            &[checked("jump-squat", 3, 10), checked("biceps-curl", 3, 10)],
            Level::Beginner,
            &knee,
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f.first().map(|f| f.risk), Some(Risk::High));
        assert!(
            f.first()
                .is_some_and(|f| f.reasons.iter().any(|r| r.contains("knee")))
        );
        assert_eq!(f.get(1).map(|f| f.risk), Some(Risk::Low));
    }

    #[test]
    fn excessive_load_is_moderate_and_depends_on_the_level() {
        let f = assess(&[checked("biceps-curl", 6, 40)], Level::Beginner, &[]);
        assert_eq!(
            f.first().map(|f| (f.risk, f.reasons.len())),
            Some((Risk::Moderate, 2))
        );
        let f = assess(&[checked("biceps-curl", 6, 12)], Level::Advanced, &[]);
        assert_eq!(f.first().map(|f| f.risk), Some(Risk::Low));
    }
}
