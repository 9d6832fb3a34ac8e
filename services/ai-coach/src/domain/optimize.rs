//! Suggested changes to the user's current plan (OptimizeCurrentPlan), pure:
//!
//! - fewer days a week when under half of the days due so far are done (after two are due);
//! - more load on a plan exercise that has plateaued ([`super::progress::plateaus`]);
//! - a replacement for an exercise a limitation rules out: a catalog exercise working the same
//!   primary muscle, not ruled out, needing no equipment beyond the original's;
//! - otherwise, keep the plan.

use std::collections::{BTreeSet, HashMap};

use super::{
    plan::CatalogExercise,
    progress::{Log, plateaus},
    safety::{self, LimitationRule},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ReduceFrequency,
    ProgressLoad,
    ReplaceExercise,
    Keep,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ReduceFrequency => "reduce_frequency",
            Kind::ProgressLoad => "progress_load",
            Kind::ReplaceExercise => "replace_exercise",
            Kind::Keep => "keep",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    pub kind: Kind,
    pub exercise_id: Option<String>,
    pub replacement_id: Option<String>,
    pub reasoning: String,
}

/// The plan as the rules see it.
#[derive(Debug, Clone)]
pub struct CurrentPlan<'a> {
    pub days_per_week: u32,
    pub days_done: u32,
    pub days_due: u32,
    /// Library exercise ids the plan uses, in plan order, once each.
    pub exercise_ids: &'a [String],
}

/// A replacement for `original`: same primary muscle, not ruled out by `rules`, needing only
/// equipment the original needs (or none); the one sharing most primary muscles, then by id.
pub fn replacement<'a>(
    original: &CatalogExercise,
    catalog: &'a HashMap<String, CatalogExercise>,
    rules: &[&'static LimitationRule],
) -> Option<&'a CatalogExercise> {
    let muscles: BTreeSet<String> = original
        .traits
        .primary_muscles
        .iter()
        .map(|m| m.to_lowercase())
        .collect();
    let equipment: BTreeSet<String> = original
        .equipment
        .iter()
        .map(|e| e.to_lowercase())
        .collect();
    let shared = |e: &CatalogExercise| {
        e.traits
            .primary_muscles
            .iter()
            .filter(|m| muscles.contains(&m.to_lowercase()))
            .count()
    };
    let mut fits: Vec<&CatalogExercise> = catalog
        .values()
        .filter(|e| e.id != original.id)
        .filter(|e| shared(e) > 0)
        .filter(|e| e.needs_only(&equipment))
        .filter(|e| safety::contraindication(rules, &e.traits).is_none())
        .collect();
    fits.sort_by(|a, b| shared(b).cmp(&shared(a)).then_with(|| a.id.cmp(&b.id)));
    fits.first().copied()
}

/// The modifications for `plan`, given the logs of the plan's exercises since it started.
pub fn optimize(
    plan: &CurrentPlan<'_>,
    logs: &[Log],
    catalog: &HashMap<String, CatalogExercise>,
    rules: &[&'static LimitationRule],
) -> Vec<Modification> {
    let name = |id: &str| {
        catalog
            .get(id)
            .map_or_else(|| id.to_owned(), |e| e.traits.name.clone())
    };
    let mut out = Vec::new();
    if plan.days_due >= 2 && plan.days_done.saturating_mul(2) < plan.days_due {
        out.push(Modification {
            kind: Kind::ReduceFrequency,
            exercise_id: None,
            replacement_id: None,
            reasoning: if plan.days_per_week > 1 {
                format!(
                    "{} of {} training days due so far are done: {} days a week you can keep beat {} you cannot.",
                    plan.days_done,
                    plan.days_due,
                    plan.days_per_week - 1,
                    plan.days_per_week
                )
            } else {
                format!(
                    "{} of {} training days due so far are done: pick a fixed day and a shorter session.",
                    plan.days_done, plan.days_due
                )
            },
        });
    }
    for id in plan.exercise_ids {
        let Some(e) = catalog.get(id) else {
            continue;
        };
        if let Some((area, term)) = safety::contraindication(rules, &e.traits) {
            let r = replacement(e, catalog, rules);
            out.push(Modification {
                kind: Kind::ReplaceExercise,
                exercise_id: Some(id.clone()),
                replacement_id: r.map(|r| r.id.clone()),
                reasoning: match r {
                    Some(r) => format!(
                        "{} ({term}) is ruled out by the {area} limitation; {} works the same muscles without it.",
                        e.traits.name, r.traits.name
                    ),
                    None => format!(
                        "{} ({term}) is ruled out by the {area} limitation; no catalog exercise with the same equipment replaces it: drop it.",
                        e.traits.name
                    ),
                },
            });
        }
    }
    let ids: BTreeSet<&str> = plan.exercise_ids.iter().map(String::as_str).collect();
    let own: Vec<Log> = logs
        .iter()
        .filter(|l| ids.contains(l.exercise_id.as_str()))
        .cloned()
        .collect();
    for p in plateaus(&own) {
        let replaced = out
            .iter()
            .any(|m| m.exercise_id.as_deref() == Some(p.exercise_id.as_str()));
        if replaced {
            continue;
        }
        out.push(Modification {
            kind: Kind::ProgressLoad,
            exercise_id: Some(p.exercise_id.clone()),
            replacement_id: None,
            reasoning: if p.weight_kg > 0.0 {
                format!(
                    "{}: {} sessions at {} kg × {}; add 2.5 kg or one or two reps a set.",
                    name(&p.exercise_id),
                    p.sessions,
                    p.weight_kg,
                    p.reps
                )
            } else {
                format!(
                    "{}: {} sessions at {} reps; add reps or a harder variation.",
                    name(&p.exercise_id),
                    p.sessions,
                    p.reps
                )
            },
        });
    }
    if out.is_empty() {
        out.push(Modification {
            kind: Kind::Keep,
            exercise_id: None,
            replacement_id: None,
            reasoning: format!(
                "{} of {} training days due are done and nothing in the plan conflicts with your limitations: keep it.",
                plan.days_done, plan.days_due
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::domain::safety::{ExerciseTraits, rules_for};

    fn ex(id: &str, muscles: &[&str], equipment: &[&str]) -> CatalogExercise {
        CatalogExercise {
            id: id.into(),
            traits: ExerciseTraits {
                slug: id.into(),
                name: id.replace('-', " "),
                primary_muscles: muscles.iter().map(|s| s.to_string()).collect(),
                categories: vec![],
            },
            equipment: equipment.iter().map(|s| s.to_string()).collect(),
            difficulty: None,
            secondary_muscles: vec![],
            goals: vec![],
        }
    }

    fn catalog() -> HashMap<String, CatalogExercise> {
        [
            ex("back-squat", &["quadriceps"], &["barbell"]),
            ex("leg-extension", &["quadriceps"], &["machine"]),
            ex("wall-sit", &["quadriceps"], &["bodyweight"]),
            ex("bench-press", &["chest"], &["barbell", "bench"]),
        ]
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect()
    }

    fn log(d: time::Date, id: &str) -> Log {
        Log {
            date: d,
            exercise_id: id.into(),
            sets: 3,
            reps: 8,
            weight_kg: 60.0,
        }
    }

    #[test]
    fn a_ruled_out_exercise_gets_a_replacement_with_no_new_equipment() {
        let c = catalog();
        let knee = rules_for(&["knee pain".into()]);
        // back-squat is ruled out; the machine is not at hand (the original needs a barbell):
        // wall-sit (body weight) replaces it.
        let r = replacement(&c["back-squat"], &c, &[]).unwrap();
        assert_eq!(r.id, "wall-sit");
        let ids = vec!["back-squat".to_owned(), "bench-press".to_owned()];
        let plan = CurrentPlan {
            days_per_week: 3,
            days_done: 4,
            days_due: 4,
            exercise_ids: &ids,
        };
        let m = optimize(&plan, &[], &c, &knee);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].kind, Kind::ReplaceExercise);
        assert_eq!(m[0].exercise_id.as_deref(), Some("back-squat"));
        assert_eq!(m[0].replacement_id.as_deref(), Some("wall-sit"));
        assert!(m[0].reasoning.contains("knee"), "{}", m[0].reasoning);
    }

    #[test]
    fn low_adherence_and_plateaus_are_named_else_keep() {
        let c = catalog();
        let ids = vec!["bench-press".to_owned()];
        let behind = CurrentPlan {
            days_per_week: 3,
            days_done: 1,
            days_due: 5,
            exercise_ids: &ids,
        };
        let logs = vec![
            log(date!(2026 - 03 - 02), "bench-press"),
            log(date!(2026 - 03 - 04), "bench-press"),
            log(date!(2026 - 03 - 06), "bench-press"),
            // Not a plan exercise: ignored.
            log(date!(2026 - 03 - 02), "wall-sit"),
            log(date!(2026 - 03 - 04), "wall-sit"),
            log(date!(2026 - 03 - 06), "wall-sit"),
        ];
        let m = optimize(&behind, &logs, &c, &[]);
        let kinds: Vec<Kind> = m.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, vec![Kind::ReduceFrequency, Kind::ProgressLoad]);
        assert!(m[0].reasoning.contains("1 of 5"), "{}", m[0].reasoning);
        assert!(
            m[0].reasoning.contains("2 days a week"),
            "{}",
            m[0].reasoning
        );
        assert!(m[1].reasoning.contains("60 kg"), "{}", m[1].reasoning);

        let fine = CurrentPlan {
            days_per_week: 3,
            days_done: 3,
            days_due: 3,
            exercise_ids: &ids,
        };
        let m = optimize(&fine, &logs[..2], &c, &[]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].kind, Kind::Keep);
    }
}
