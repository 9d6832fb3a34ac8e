//! One workout (RecommendWorkout, AdaptiveWorkout) and ranked exercise suggestions
//! (SuggestExercises), pure: which catalog exercises are left out and why (missing equipment, a
//! limitation, muscles still recovering), how the rest rank, the rules workout that fits a time
//! budget, and the checker every model workout goes through.
//!
//! Time budget: an exercise takes `sets × (reps × 3 s + rest) + 60 s` to set up and perform; a
//! workout's estimate is the sum, rounded up to whole minutes, and must not exceed the minutes
//! asked for.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{
    plan::{CatalogExercise, Level, REPS, REST_SECONDS, SETS},
    safety::{self, LimitationRule},
};

/// The minutes a workout may be asked for.
pub const MINUTES: std::ops::RangeInclusive<u32> = 10..=180;
/// Most exercises in one workout.
pub const MAX_ITEMS: usize = 10;
const SETUP_SECONDS: u32 = 60;
const SECONDS_PER_REP: u32 = 3;

/// A workout: the model's shape too (strict structured output, [`schema`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workout {
    pub title: String,
    pub items: Vec<WorkoutItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkoutItem {
    pub exercise_id: String,
    pub sets: u32,
    pub reps: u32,
    pub rest_seconds: u32,
}

impl WorkoutItem {
    /// Seconds to set up and perform it.
    pub fn seconds(&self) -> u32 {
        self.sets
            .saturating_mul(
                self.reps
                    .saturating_mul(SECONDS_PER_REP)
                    .saturating_add(self.rest_seconds),
            )
            .saturating_add(SETUP_SECONDS)
    }
}

impl Workout {
    /// The estimated minutes, rounded up.
    pub fn estimated_minutes(&self) -> u32 {
        let seconds = self
            .items
            .iter()
            .fold(0u32, |acc, i| acc.saturating_add(i.seconds()));
        seconds.div_ceil(60)
    }
}

/// What a workout or a suggestion is asked for.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub minutes: u32,
    pub level: Level,
    /// Suggestions with no difficulty asked for: none is left out or favoured for it.
    pub any_difficulty: bool,
    /// Lowercase equipment keys at hand.
    pub equipment: &'a BTreeSet<String>,
    pub rules: &'a [&'static LimitationRule],
    /// Lowercase muscle keys to favour.
    pub target_muscles: &'a [String],
    /// Catalog goal keys ([`goal_keys`]).
    pub goals: &'a BTreeSet<&'static str>,
    /// Lowercase muscles to rest (trained in the recovery window).
    pub resting: &'a BTreeSet<String>,
}

/// Why an exercise is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excluded {
    /// It needs equipment not at hand (the missing terms).
    Equipment(Vec<String>),
    /// A limitation rules it out.
    Limitation {
        area: &'static str,
        term: &'static str,
    },
    /// It works a muscle that is still recovering.
    Recovering(String),
    /// It is more than one step above the level asked for.
    TooHard(Level),
}

impl std::fmt::Display for Excluded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Excluded::Equipment(missing) => write!(f, "needs {}", missing.join(", ")),
            Excluded::Limitation { area, term } => {
                write!(f, "{term} is ruled out by the {area} limitation")
            }
            Excluded::Recovering(m) => write!(f, "works {m}, which is still recovering"),
            Excluded::TooHard(l) => write!(f, "is an {} exercise", l.as_str()),
        }
    }
}

fn rank_of(l: Level) -> u8 {
    match l {
        Level::Beginner => 0,
        Level::Intermediate => 1,
        Level::Advanced => 2,
    }
}

fn is_bodyweight(term: &str) -> bool {
    matches!(term, "body weight" | "bodyweight" | "none" | "")
}

/// Why `e` cannot be part of the answer, or None when it can.
pub fn exclusion(e: &CatalogExercise, ask: &Ask<'_>) -> Option<Excluded> {
    if !e.needs_only(ask.equipment) {
        let missing = e
            .equipment
            .iter()
            .map(|t| t.to_lowercase())
            .filter(|t| !is_bodyweight(t) && !ask.equipment.contains(t))
            .collect();
        return Some(Excluded::Equipment(missing));
    }
    if let Some((area, term)) = safety::contraindication(ask.rules, &e.traits) {
        return Some(Excluded::Limitation { area, term });
    }
    if let Some(m) = e
        .traits
        .primary_muscles
        .iter()
        .find(|m| ask.resting.contains(&m.to_lowercase()))
    {
        return Some(Excluded::Recovering(m.clone()));
    }
    match e.difficulty {
        Some(d) if !ask.any_difficulty && rank_of(d) > rank_of(ask.level) + 1 => {
            Some(Excluded::TooHard(d))
        }
        _ => None,
    }
}

/// The catalog goal keys free-text goals name ("build muscle" → muscle_gain); general_fitness
/// when none matches.
pub fn goal_keys(goals: &[String]) -> BTreeSet<&'static str> {
    const TABLE: &[(&str, &[&str])] = &[
        ("strength", &["strength", "strong", "power"]),
        (
            "muscle_gain",
            &["muscle", "mass", "hypertroph", "bulk", "tone", "size"],
        ),
        (
            "fat_loss",
            &["fat", "weight loss", "lose", "lean", "cut", "slim"],
        ),
        (
            "endurance",
            &["endurance", "stamina", "cardio", "run", "conditioning"],
        ),
        ("mobility", &["mobility", "flexib", "stretch", "posture"]),
    ];
    let mut out: BTreeSet<&'static str> = goals
        .iter()
        .flat_map(|g| {
            let g = g.to_lowercase();
            TABLE
                .iter()
                .filter(move |(_, words)| words.iter().any(|w| g.contains(w)))
                .map(|(key, _)| *key)
        })
        .collect();
    if out.is_empty() {
        out.insert("general_fitness");
    }
    out
}

/// An eligible exercise with its score and the reasons for it.
#[derive(Debug, Clone)]
pub struct Scored<'a> {
    pub exercise: &'a CatalogExercise,
    pub score: u32,
    pub reasons: Vec<String>,
}

/// The eligible exercises, best first (score, then id for a stable order): a target muscle
/// worked as a primary muscle 6, as a secondary one 2; the difficulty asked for 3, one step
/// easier 1; each goal served 2.
pub fn rank<'a>(catalog: &'a HashMap<String, CatalogExercise>, ask: &Ask<'_>) -> Vec<Scored<'a>> {
    let targets: Vec<String> = ask
        .target_muscles
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    let mut out: Vec<Scored<'a>> = catalog
        .values()
        .filter(|e| exclusion(e, ask).is_none())
        .map(|e| {
            let mut score = 0;
            let mut reasons = Vec::new();
            let primary: Vec<&String> = e
                .traits
                .primary_muscles
                .iter()
                .filter(|m| targets.contains(&m.to_lowercase()))
                .collect();
            let secondary: Vec<&String> = e
                .secondary_muscles
                .iter()
                .filter(|m| targets.contains(&m.to_lowercase()))
                .collect();
            if !primary.is_empty() {
                score += 6;
                reasons.push(format!(
                    "works {} as a primary muscle",
                    join(primary.iter().map(|s| s.as_str()))
                ));
            } else if !secondary.is_empty() {
                score += 2;
                reasons.push(format!(
                    "also works {}",
                    join(secondary.iter().map(|s| s.as_str()))
                ));
            }
            match e.difficulty.filter(|_| !ask.any_difficulty) {
                Some(d) if d == ask.level => {
                    score += 3;
                    reasons.push(format!("{} level", d.as_str()));
                }
                Some(d) if rank_of(d) + 1 == rank_of(ask.level) => {
                    score += 1;
                    reasons.push(format!("{} level, easier than asked", d.as_str()));
                }
                Some(d) if rank_of(d) > rank_of(ask.level) => {
                    reasons.push(format!("{} level, a step up", d.as_str()));
                }
                _ => {}
            }
            let served: Vec<&str> = ask
                .goals
                .iter()
                .copied()
                .filter(|g| e.goals.iter().any(|eg| eg == g))
                .collect();
            if !served.is_empty() {
                score += 2 * u32::try_from(served.len()).unwrap_or(1);
                reasons.push(format!("serves {}", join(served.iter().copied())));
            }
            if e.equipment.iter().all(|t| is_bodyweight(&t.to_lowercase())) {
                reasons.push("no equipment needed".to_owned());
            } else {
                reasons.push(format!("uses {}", e.equipment.join(", ")));
            }
            Scored {
                exercise: e,
                score,
                reasons,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.exercise.id.cmp(&b.exercise.id))
    });
    out
}

fn join<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// (sets, reps, rest seconds) the rules prescribe for a level.
pub fn prescription(level: Level) -> (u32, u32, u32) {
    match level {
        Level::Beginner => (2, 12, 60),
        Level::Intermediate => (3, 10, 75),
        Level::Advanced => (4, 8, 90),
    }
}

/// The rules workout: the ranked exercises taken in order, one per primary muscle first (a
/// balanced session), then the rest, as long as the estimate stays within the minutes (and at
/// most [`MAX_ITEMS`]). At least one exercise when any is eligible.
pub fn rules_workout(ranked: &[Scored<'_>], ask: &Ask<'_>) -> Workout {
    let (sets, reps, rest_seconds) = prescription(ask.level);
    let budget = ask.minutes.saturating_mul(60);
    let mut items: Vec<WorkoutItem> = Vec::new();
    let mut used_seconds = 0u32;
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    for pass in 0..2 {
        for s in ranked {
            if items.len() >= MAX_ITEMS {
                break;
            }
            let e = s.exercise;
            if taken.contains(e.id.as_str()) {
                continue;
            }
            let muscle = e
                .traits
                .primary_muscles
                .first()
                .cloned()
                .unwrap_or_default();
            if pass == 0 && covered.contains(&muscle) {
                continue;
            }
            let item = WorkoutItem {
                exercise_id: e.id.clone(),
                sets,
                reps,
                rest_seconds,
            };
            let seconds = item.seconds();
            if !items.is_empty() && used_seconds.saturating_add(seconds) > budget {
                continue;
            }
            used_seconds = used_seconds.saturating_add(seconds);
            covered.insert(muscle);
            taken.insert(e.id.as_str());
            items.push(item);
        }
    }
    let focus = if ask.target_muscles.is_empty() {
        "full-body".to_owned()
    } else {
        ask.target_muscles.join(" and ")
    };
    Workout {
        title: format!(
            "{}-minute {} {focus} workout",
            ask.minutes,
            ask.level.as_str()
        ),
        items,
    }
}

/// Every finding on a workout (empty: acceptable): unknown or excluded exercises, repeats,
/// sets/reps/rest out of range, more than [`MAX_ITEMS`], over the time budget. Phrased for the
/// model's retry and the fallback reason.
pub fn check(
    workout: &Workout,
    catalog: &HashMap<String, CatalogExercise>,
    ask: &Ask<'_>,
) -> Vec<String> {
    let mut findings = Vec::new();
    if workout.items.is_empty() {
        findings.push("the workout has no exercises".to_owned());
    }
    if workout.items.len() > MAX_ITEMS {
        findings.push(format!(
            "{} exercises; at most {MAX_ITEMS}",
            workout.items.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for item in &workout.items {
        let id = &item.exercise_id;
        if !seen.insert(id.as_str()) {
            findings.push(format!("{id} appears twice"));
        }
        match catalog.get(id) {
            None => findings.push(format!("{id} is not an exercise of the catalog")),
            Some(e) => {
                if let Some(why) = exclusion(e, ask) {
                    findings.push(format!("{id} ({}) {why}", e.traits.name));
                }
            }
        }
        if !SETS.contains(&item.sets) {
            findings.push(format!("{id}: {} sets; 1–10", item.sets));
        }
        if !REPS.contains(&item.reps) {
            findings.push(format!("{id}: {} reps; 1–50", item.reps));
        }
        if !REST_SECONDS.contains(&item.rest_seconds) {
            findings.push(format!("{id}: {} s rest; 0–600", item.rest_seconds));
        }
    }
    let minutes = workout.estimated_minutes();
    if minutes > ask.minutes {
        findings.push(format!(
            "the workout takes about {minutes} minutes; the budget is {}",
            ask.minutes
        ));
    }
    findings
}

/// The JSON schema (strict structured output) of a model's workout; [`check`] then checks what
/// a schema cannot.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["title", "items"],
        "properties": {
            "title": {"type": "string"},
            "items": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["exercise_id", "sets", "reps", "rest_seconds"],
                "properties": {
                    "exercise_id": {"type": "string"},
                    "sets": {"type": "integer", "minimum": 0},
                    "reps": {"type": "integer", "minimum": 0},
                    "rest_seconds": {"type": "integer", "minimum": 0}
                }
            }}
        }
    })
}

/// A model's ordering of suggestion candidates (strict structured output, [`suggestion_schema`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelSuggestions {
    pub suggestions: Vec<ModelSuggestion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelSuggestion {
    pub exercise_id: String,
    pub reason: String,
}

pub fn suggestion_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["suggestions"],
        "properties": {
            "suggestions": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["exercise_id", "reason"],
                "properties": {
                    "exercise_id": {"type": "string"},
                    "reason": {"type": "string"}
                }
            }}
        }
    })
}

/// Findings on a model's suggestions: each id must be one of the rules' `candidates`, once,
/// with a non-empty reason of at most 500 characters; at least one suggestion.
pub fn check_suggestions(s: &ModelSuggestions, candidates: &BTreeSet<&str>) -> Vec<String> {
    let mut findings = Vec::new();
    if s.suggestions.is_empty() {
        findings.push("no suggestion given".to_owned());
    }
    let mut seen = BTreeSet::new();
    for item in &s.suggestions {
        let id = item.exercise_id.as_str();
        if !candidates.contains(id) {
            findings.push(format!(
                "{id} is not one of the candidate exercises (unknown, or excluded by equipment, limitations or difficulty)"
            ));
        } else if !seen.insert(id) {
            findings.push(format!("{id} appears twice"));
        }
        if item.reason.trim().is_empty() || item.reason.chars().count() > 500 {
            findings.push(format!("{id}: the reason must be 1–500 characters"));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::safety::{ExerciseTraits, rules_for};

    fn ex(
        id: &str,
        muscles: &[&str],
        equipment: &[&str],
        difficulty: Level,
        goals: &[&str],
    ) -> CatalogExercise {
        CatalogExercise {
            id: id.into(),
            traits: ExerciseTraits {
                slug: id.into(),
                name: id.replace('-', " "),
                primary_muscles: muscles.iter().map(|s| s.to_string()).collect(),
                categories: vec![],
            },
            equipment: equipment.iter().map(|s| s.to_string()).collect(),
            difficulty: Some(difficulty),
            secondary_muscles: vec!["triceps".into()],
            goals: goals.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn catalog() -> HashMap<String, CatalogExercise> {
        use Level::*;
        [
            ex(
                "push-up",
                &["chest"],
                &["bodyweight"],
                Beginner,
                &["strength"],
            ),
            ex(
                "bench-press",
                &["chest"],
                &["barbell", "bench"],
                Intermediate,
                &["strength"],
            ),
            ex(
                "goblet-squat",
                &["quadriceps"],
                &["dumbbell"],
                Beginner,
                &["muscle_gain"],
            ),
            ex(
                "bodyweight-squat",
                &["quadriceps"],
                &["bodyweight"],
                Beginner,
                &[],
            ),
            ex("glute-bridge", &["glutes"], &["bodyweight"], Beginner, &[]),
            ex("dead-bug", &["abs"], &[], Beginner, &[]),
            ex("plank", &["abs"], &["bodyweight"], Beginner, &[]),
            ex("superman", &["lower_back"], &["bodyweight"], Beginner, &[]),
            ex(
                "pistol-squat",
                &["quadriceps"],
                &["bodyweight"],
                Advanced,
                &["strength"],
            ),
            ex("dumbbell-row", &["lats"], &["dumbbell"], Beginner, &[]),
        ]
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect()
    }

    struct Fixture {
        equipment: BTreeSet<String>,
        rules: Vec<&'static LimitationRule>,
        targets: Vec<String>,
        goals: BTreeSet<&'static str>,
        resting: BTreeSet<String>,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                equipment: BTreeSet::new(),
                rules: vec![],
                targets: vec![],
                goals: goal_keys(&[]),
                resting: BTreeSet::new(),
            }
        }

        fn ask(&self, minutes: u32, level: Level) -> Ask<'_> {
            Ask {
                minutes,
                level,
                any_difficulty: false,
                equipment: &self.equipment,
                rules: &self.rules,
                target_muscles: &self.targets,
                goals: &self.goals,
                resting: &self.resting,
            }
        }
    }

    fn ids(w: &Workout) -> Vec<&str> {
        w.items.iter().map(|i| i.exercise_id.as_str()).collect()
    }

    #[test]
    fn the_time_budget_bounds_the_workout() {
        let c = catalog();
        let f = Fixture::new();
        for minutes in [10, 20, 45, 180] {
            let ask = f.ask(minutes, Level::Intermediate);
            let w = rules_workout(&rank(&c, &ask), &ask);
            assert!(!w.items.is_empty());
            assert!(w.estimated_minutes() <= minutes, "{minutes}: {w:?}");
            assert!(check(&w, &c, &ask).is_empty(), "{:?}", check(&w, &c, &ask));
        }
        // 3 × (10 × 3 + 75) + 60 = 375 s per intermediate exercise: 10 minutes fit one.
        let ask = f.ask(10, Level::Intermediate);
        assert_eq!(rules_workout(&rank(&c, &ask), &ask).items.len(), 1);
        let ask = f.ask(20, Level::Intermediate);
        assert_eq!(rules_workout(&rank(&c, &ask), &ask).items.len(), 3);
        // A longer budget is capped at MAX_ITEMS and by what is eligible.
        let ask = f.ask(180, Level::Beginner);
        assert!(rules_workout(&rank(&c, &ask), &ask).items.len() <= MAX_ITEMS);
    }

    #[test]
    fn missing_equipment_excludes_and_is_named() {
        let c = catalog();
        let mut f = Fixture::new();
        let ask = f.ask(60, Level::Intermediate);
        let w = rules_workout(&rank(&c, &ask), &ask);
        assert!(!ids(&w).contains(&"goblet-squat"));
        assert!(!ids(&w).contains(&"bench-press"));
        assert_eq!(
            exclusion(&c["bench-press"], &ask),
            Some(Excluded::Equipment(vec!["barbell".into(), "bench".into()]))
        );
        // An exercise with no equipment listed needs none.
        assert_eq!(exclusion(&c["dead-bug"], &ask), None);
        f.equipment = ["dumbbell".to_owned()].into();
        let ask = f.ask(60, Level::Intermediate);
        assert_eq!(exclusion(&c["goblet-squat"], &ask), None);
        assert_eq!(
            exclusion(&c["bench-press"], &ask),
            Some(Excluded::Equipment(vec!["barbell".into(), "bench".into()]))
        );
    }

    #[test]
    fn a_limitation_excludes_what_it_rules_out() {
        let c = catalog();
        let mut f = Fixture::new();
        f.rules = rules_for(&["bad left knee".into()]);
        f.targets = vec!["quadriceps".into()];
        let ask = f.ask(60, Level::Beginner);
        let ranked = rank(&c, &ask);
        assert!(ranked.iter().all(|s| !s.exercise.id.contains("squat")));
        assert!(matches!(
            exclusion(&c["bodyweight-squat"], &ask),
            Some(Excluded::Limitation { area: "knee", .. })
        ));
        let w = rules_workout(&ranked, &ask);
        assert!(check(&w, &c, &ask).is_empty());
        // The checker catches a workout that ignores the knee.
        let bad = Workout {
            title: "legs".into(),
            items: vec![WorkoutItem {
                exercise_id: "bodyweight-squat".into(),
                sets: 3,
                reps: 10,
                rest_seconds: 60,
            }],
        };
        let findings = check(&bad, &c, &ask);
        assert!(findings.iter().any(|f| f.contains("knee")), "{findings:?}");
    }

    #[test]
    fn ranking_favours_target_muscles_difficulty_and_goals() {
        let c = catalog();
        let mut f = Fixture::new();
        f.targets = vec!["chest".into()];
        f.goals = goal_keys(&["get stronger".into()]);
        let ask = f.ask(30, Level::Beginner);
        let ranked = rank(&c, &ask);
        let first = &ranked[0];
        assert_eq!(first.exercise.id, "push-up");
        // chest 6 + beginner 3 + strength 2.
        assert_eq!(first.score, 11);
        assert!(first.reasons.iter().any(|r| r.contains("chest")));
        // Advanced is two steps above beginner: left out.
        assert!(matches!(
            exclusion(&c["pistol-squat"], &ask),
            Some(Excluded::TooHard(Level::Advanced))
        ));
        assert_eq!(goal_keys(&["Build muscle".into()]), ["muscle_gain"].into());
        assert_eq!(goal_keys(&["feel good".into()]), ["general_fitness"].into());
    }

    #[test]
    fn the_recovery_window_rests_trained_muscles() {
        let c = catalog();
        let mut f = Fixture::new();
        f.resting = ["chest".to_owned(), "quadriceps".to_owned()].into();
        let ask = f.ask(60, Level::Beginner);
        let w = rules_workout(&rank(&c, &ask), &ask);
        for id in ids(&w) {
            let m = &c[id].traits.primary_muscles[0];
            assert!(m != "chest" && m != "quadriceps", "{id} works {m}");
        }
        assert_eq!(
            exclusion(&c["push-up"], &ask),
            Some(Excluded::Recovering("chest".into()))
        );
    }

    #[test]
    fn the_checker_rejects_implausible_model_workouts() {
        let c = catalog();
        let f = Fixture::new();
        let ask = f.ask(20, Level::Beginner);
        let item = |id: &str, sets, reps, rest| WorkoutItem {
            exercise_id: id.into(),
            sets,
            reps,
            rest_seconds: rest,
        };
        let w = Workout {
            title: "x".into(),
            items: vec![
                item("no-such-move", 3, 10, 60),
                item("push-up", 0, 80, 900),
                item("push-up", 3, 10, 60),
            ],
        };
        let findings = check(&w, &c, &ask).join(" | ");
        for want in [
            "not an exercise of the catalog",
            "0 sets",
            "80 reps",
            "900 s rest",
            "twice",
        ] {
            assert!(findings.contains(want), "{want} in {findings}");
        }
        let long = Workout {
            title: "long".into(),
            items: ["push-up", "plank", "glute-bridge", "dead-bug", "superman"]
                .iter()
                .map(|id| item(id, 5, 20, 120))
                .collect(),
        };
        assert!(
            check(&long, &c, &ask)
                .iter()
                .any(|f| f.contains("budget is 20"))
        );
        assert!(
            check(
                &Workout {
                    title: "e".into(),
                    items: vec![]
                },
                &c,
                &ask
            )
            .iter()
            .any(|f| f.contains("no exercises"))
        );
    }

    #[test]
    fn model_suggestions_must_come_from_the_candidates() {
        let candidates: BTreeSet<&str> = ["push-up", "plank"].into();
        let ok = ModelSuggestions {
            suggestions: vec![ModelSuggestion {
                exercise_id: "plank".into(),
                reason: "core first".into(),
            }],
        };
        assert!(check_suggestions(&ok, &candidates).is_empty());
        let bad = ModelSuggestions {
            suggestions: vec![
                ModelSuggestion {
                    exercise_id: "bench-press".into(),
                    reason: "heavy".into(),
                },
                ModelSuggestion {
                    exercise_id: "plank".into(),
                    reason: " ".into(),
                },
            ],
        };
        let f = check_suggestions(&bad, &candidates).join(" | ");
        assert!(f.contains("bench-press is not one of the candidate"), "{f}");
        assert!(f.contains("plank: the reason"), "{f}");
        assert!(
            !check_suggestions(
                &ModelSuggestions {
                    suggestions: vec![]
                },
                &candidates
            )
            .is_empty()
        );
    }
}
