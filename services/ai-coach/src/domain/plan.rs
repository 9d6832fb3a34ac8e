//! Generated training plans, pure: the shape, the validator every model step's output goes
//! through, and the rules planner (the answer with no model, and the fallback).
//!
//! A plan is weeks of days (1 = Monday … 7 = Sunday); a day not listed is a rest day. The
//! validator never trusts the model: every exercise id must exist in the catalog, sets 1–10,
//! reps 1–50 or a duration 5–3600 s, rest 0–600 s, at least one rest day a week, weekly sets
//! within the level's ceiling, and no exercise contraindicated by a limitation
//! ([`super::safety`]). Its findings are fed back to the model on a retry.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::safety::{self, ExerciseTraits, LimitationRule};

pub const MAX_WEEKS: u32 = 12;
pub const SETS: std::ops::RangeInclusive<u32> = 1..=10;
pub const REPS: std::ops::RangeInclusive<u32> = 1..=50;
pub const DURATION_SECONDS: std::ops::RangeInclusive<u32> = 5..=3600;
pub const REST_SECONDS: std::ops::RangeInclusive<u32> = 0..=600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Beginner,
    Intermediate,
    Advanced,
}

impl Level {
    /// Most working sets a week (all exercises) that is plausible for the level.
    pub fn max_weekly_sets(self) -> u32 {
        match self {
            Level::Beginner => 60,
            Level::Intermediate => 110,
            Level::Advanced => 160,
        }
    }

    /// Sets per exercise the rules planner prescribes.
    fn sets(self) -> u32 {
        match self {
            Level::Beginner => 2,
            Level::Intermediate => 3,
            Level::Advanced => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub title: String,
    pub weeks: Vec<Week>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Week {
    pub days: Vec<Day>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// 1 = Monday … 7 = Sunday.
    pub day: u32,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub exercise_id: String,
    pub sets: u32,
    /// Reps per set, or None when the exercise is timed.
    pub reps: Option<u32>,
    pub duration_seconds: Option<u32>,
    pub rest_seconds: u32,
}

/// A catalog exercise as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogExercise {
    pub id: String,
    pub traits: ExerciseTraits,
    /// Lowercase equipment terms; empty or "body weight" means none needed.
    pub equipment: Vec<String>,
    /// The catalog's difficulty, when it gives one.
    pub difficulty: Option<Level>,
    /// Lowercase muscles worked secondarily.
    pub secondary_muscles: Vec<String>,
    /// Lowercase goal keys ("strength", "fat_loss", ...).
    pub goals: Vec<String>,
}

impl CatalogExercise {
    /// Whether the equipment at hand (lowercase) is all this exercise needs.
    pub fn needs_only(&self, available: &BTreeSet<String>) -> bool {
        self.equipment
            .iter()
            .all(|e| is_bodyweight(e) || available.contains(&e.to_lowercase()))
    }
}

fn is_bodyweight(term: &str) -> bool {
    matches!(
        term.to_lowercase().as_str(),
        "body weight" | "bodyweight" | "none" | ""
    )
}

/// One thing wrong with a plan, phrased for the user and for the model's retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanIssue {
    NoWeeks,
    TooManyWeeks(usize),
    BadDay {
        week: usize,
        day: u32,
    },
    UnknownExercise {
        week: usize,
        day: u32,
        exercise_id: String,
    },
    Sets {
        week: usize,
        day: u32,
        exercise_id: String,
        sets: u32,
    },
    Reps {
        week: usize,
        day: u32,
        exercise_id: String,
    },
    Rest {
        week: usize,
        day: u32,
        exercise_id: String,
        rest_seconds: u32,
    },
    NoRestDay {
        week: usize,
    },
    Volume {
        week: usize,
        sets: u32,
        max: u32,
    },
    Contraindicated {
        week: usize,
        day: u32,
        exercise_id: String,
        area: &'static str,
        term: &'static str,
    },
}

impl std::fmt::Display for PlanIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanIssue::NoWeeks => write!(f, "the plan has no weeks"),
            PlanIssue::TooManyWeeks(n) => write!(f, "the plan has {n} weeks; at most {MAX_WEEKS}"),
            PlanIssue::BadDay { week, day } => {
                write!(f, "week {week}: day {day} is not 1–7 or repeats")
            }
            PlanIssue::UnknownExercise {
                week,
                day,
                exercise_id,
            } => {
                write!(
                    f,
                    "week {week} day {day}: exercise id {exercise_id:?} is not in the catalog"
                )
            }
            PlanIssue::Sets {
                week,
                day,
                exercise_id,
                sets,
            } => {
                write!(
                    f,
                    "week {week} day {day}: {exercise_id}: {sets} sets; sets must be 1–10"
                )
            }
            PlanIssue::Reps {
                week,
                day,
                exercise_id,
            } => write!(
                f,
                "week {week} day {day}: {exercise_id}: reps must be 1–50, or a duration of 5–3600 s"
            ),
            PlanIssue::Rest {
                week,
                day,
                exercise_id,
                rest_seconds,
            } => write!(
                f,
                "week {week} day {day}: {exercise_id}: rest of {rest_seconds} s; rest must be 0–600 s"
            ),
            PlanIssue::NoRestDay { week } => {
                write!(f, "week {week} has no rest day; at least one is required")
            }
            PlanIssue::Volume { week, sets, max } => {
                write!(
                    f,
                    "week {week} has {sets} sets; at most {max} for this fitness level"
                )
            }
            PlanIssue::Contraindicated {
                week,
                day,
                exercise_id,
                area,
                term,
            } => write!(
                f,
                "week {week} day {day}: {exercise_id} ({term}) is contraindicated by the {area} limitation"
            ),
        }
    }
}

/// Every issue with `plan` (empty = valid). Weeks and days are numbered from 1 in findings.
pub fn validate(
    plan: &Plan,
    catalog: &HashMap<String, CatalogExercise>,
    level: Level,
    limitations: &[&'static LimitationRule],
) -> Vec<PlanIssue> {
    let mut issues = Vec::new();
    if plan.weeks.is_empty() {
        issues.push(PlanIssue::NoWeeks);
    }
    if plan.weeks.len() > MAX_WEEKS as usize {
        issues.push(PlanIssue::TooManyWeeks(plan.weeks.len()));
    }
    for (w, week) in plan.weeks.iter().enumerate() {
        let week_no = w + 1;
        let mut seen = BTreeSet::new();
        let mut weekly_sets = 0u32;
        for day in &week.days {
            if !(1..=7).contains(&day.day) || !seen.insert(day.day) {
                issues.push(PlanIssue::BadDay {
                    week: week_no,
                    day: day.day,
                });
            }
            for item in &day.items {
                let id = item.exercise_id.clone();
                weekly_sets = weekly_sets.saturating_add(item.sets);
                match catalog.get(&item.exercise_id) {
                    None => issues.push(PlanIssue::UnknownExercise {
                        week: week_no,
                        day: day.day,
                        exercise_id: id.clone(),
                    }),
                    Some(exercise) => {
                        if let Some((area, term)) =
                            safety::contraindication(limitations, &exercise.traits)
                        {
                            issues.push(PlanIssue::Contraindicated {
                                week: week_no,
                                day: day.day,
                                exercise_id: id.clone(),
                                area,
                                term,
                            });
                        }
                    }
                }
                if !SETS.contains(&item.sets) {
                    issues.push(PlanIssue::Sets {
                        week: week_no,
                        day: day.day,
                        exercise_id: id.clone(),
                        sets: item.sets,
                    });
                }
                let reps_ok = match (item.reps, item.duration_seconds) {
                    (Some(r), None) => REPS.contains(&r),
                    (None, Some(d)) => DURATION_SECONDS.contains(&d),
                    _ => false,
                };
                if !reps_ok {
                    issues.push(PlanIssue::Reps {
                        week: week_no,
                        day: day.day,
                        exercise_id: id.clone(),
                    });
                }
                if !REST_SECONDS.contains(&item.rest_seconds) {
                    issues.push(PlanIssue::Rest {
                        week: week_no,
                        day: day.day,
                        exercise_id: id,
                        rest_seconds: item.rest_seconds,
                    });
                }
            }
        }
        let training_days = week.days.iter().filter(|d| !d.items.is_empty()).count();
        if training_days >= 7 {
            issues.push(PlanIssue::NoRestDay { week: week_no });
        }
        if weekly_sets > level.max_weekly_sets() {
            issues.push(PlanIssue::Volume {
                week: week_no,
                sets: weekly_sets,
                max: level.max_weekly_sets(),
            });
        }
    }
    issues
}

/// What the rules planner is asked for.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub weeks: u32,
    pub days_per_week: u32,
    pub minutes_per_session: u32,
    pub level: Level,
    /// Lowercase equipment the user has.
    pub equipment: BTreeSet<String>,
    /// Lowercase target muscles; empty = whole body.
    pub target_muscles: Vec<String>,
}

/// Why the rules planner could not build a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesPlanError {
    /// No catalog exercise fits the equipment and limitations.
    NoExercises,
}

/// The exercises usable with the equipment and limitations, target muscles first, in a stable
/// order (by id).
pub fn eligible<'a>(
    catalog: &'a HashMap<String, CatalogExercise>,
    equipment: &BTreeSet<String>,
    limitations: &[&'static LimitationRule],
    target_muscles: &[String],
) -> Vec<&'a CatalogExercise> {
    let mut out: Vec<&CatalogExercise> = catalog
        .values()
        .filter(|e| e.needs_only(equipment))
        .filter(|e| safety::contraindication(limitations, &e.traits).is_none())
        .collect();
    let targets = |e: &CatalogExercise| {
        e.traits.primary_muscles.iter().any(|m| {
            target_muscles
                .iter()
                .any(|t| m.to_lowercase().contains(&t.to_lowercase()))
        })
    };
    out.sort_by(|a, b| targets(b).cmp(&targets(a)).then_with(|| a.id.cmp(&b.id)));
    out
}

/// The rules plan: training days spread across the week (always at least one rest day), each
/// day a rotation through the eligible exercises sized to the minutes available (~8 min per
/// exercise for strength work), sets by level, 10–12 reps, rest 60–90 s; volume rises by one
/// rep a week (progressive overload) and stays within the validator's bounds.
pub fn rules_plan(
    catalog: &HashMap<String, CatalogExercise>,
    request: &PlanRequest,
    limitations: &[&'static LimitationRule],
) -> Result<Plan, RulesPlanError> {
    let pool = eligible(
        catalog,
        &request.equipment,
        limitations,
        &request.target_muscles,
    );
    if pool.is_empty() {
        return Err(RulesPlanError::NoExercises);
    }
    let weeks = request.weeks.clamp(1, MAX_WEEKS);
    let days_per_week = request.days_per_week.clamp(1, 6);
    let per_day = (request.minutes_per_session / 8).clamp(2, 8) as usize;
    let sets = request.level.sets();
    // Cap so the weekly volume stays plausible for the level.
    let per_day =
        per_day.min((request.level.max_weekly_sets() / (sets * days_per_week)).max(1) as usize);
    let days = spread_days(days_per_week);
    let rest_seconds = if request.level == Level::Beginner {
        90
    } else {
        60
    };
    let mut cursor = 0usize;
    let weeks = (0..weeks)
        .map(|w| Week {
            days: days
                .iter()
                .map(|&day| {
                    let items = (0..per_day.min(pool.len()))
                        .filter_map(|_| {
                            let exercise = pool.get(cursor % pool.len())?;
                            cursor += 1;
                            Some(Item {
                                exercise_id: exercise.id.clone(),
                                sets,
                                reps: Some((10 + w).min(15)),
                                duration_seconds: None,
                                rest_seconds,
                            })
                        })
                        .collect();
                    Day { day, items }
                })
                .collect(),
        })
        .collect();
    let title = format!(
        "{}-week plan, {} days a week",
        request.weeks.clamp(1, MAX_WEEKS),
        days_per_week
    );
    Ok(Plan { title, weeks })
}

/// The JSON schema (strict structured output) a model's plan must match; the validator then
/// checks what a schema cannot (catalog ids, ranges, rest days, volume, limitations).
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["title", "weeks"],
        "properties": {
            "title": {"type": "string"},
            "weeks": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["days"],
                "properties": {"days": {"type": "array", "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["day", "items"],
                    "properties": {
                        "day": {"type": "integer"},
                        "items": {"type": "array", "items": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["exercise_id", "sets", "reps", "duration_seconds", "rest_seconds"],
                            "properties": {
                                "exercise_id": {"type": "string"},
                                "sets": {"type": "integer", "minimum": 0},
                                "reps": {"type": ["integer", "null"], "minimum": 0},
                                "duration_seconds": {"type": ["integer", "null"], "minimum": 0},
                                "rest_seconds": {"type": "integer", "minimum": 0}
                            }
                        }}
                    }
                }}}
            }}
        }
    })
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Beginner => "beginner",
            Level::Intermediate => "intermediate",
            Level::Advanced => "advanced",
        }
    }

    pub fn from_db(s: &str) -> Self {
        match s {
            "advanced" => Level::Advanced,
            "intermediate" => Level::Intermediate,
            _ => Level::Beginner,
        }
    }
}

/// Training days for n sessions a week, spread out (Mon/Wed/Fri for 3).
fn spread_days(n: u32) -> Vec<u32> {
    match n {
        1 => vec![2],
        2 => vec![2, 5],
        3 => vec![1, 3, 5],
        4 => vec![1, 2, 4, 5],
        5 => vec![1, 2, 3, 5, 6],
        _ => vec![1, 2, 3, 4, 5, 6],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ex("push-up", &["chest"], &["body weight"]),
            ex("goblet-squat", &["quadriceps"], &["dumbbell"]),
            ex("bodyweight-squat", &["quadriceps"], &[]),
            ex("walking-lunge", &["glutes"], &["body weight"]),
            ex("glute-bridge", &["glutes"], &["body weight"]),
            ex("barbell-bench-press", &["chest"], &["barbell"]),
            ex("biceps-curl", &["biceps"], &["dumbbell"]),
            ex("dead-bug", &["abdominals"], &["body weight"]),
        ]
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect()
    }

    fn item(id: &str) -> Item {
        Item {
            exercise_id: id.into(),
            sets: 3,
            reps: Some(10),
            duration_seconds: None,
            rest_seconds: 60,
        }
    }

    fn plan(days: Vec<Day>) -> Plan {
        Plan {
            title: "t".into(),
            weeks: vec![Week { days }],
        }
    }

    fn day(day: u32, items: Vec<Item>) -> Day {
        Day { day, items }
    }

    #[test]
    fn a_sound_plan_passes() {
        let p = plan(vec![
            day(1, vec![item("push-up"), item("goblet-squat")]),
            day(3, vec![item("dead-bug")]),
        ]);
        assert_eq!(validate(&p, &catalog(), Level::Beginner, &[]), vec![]);
    }

    #[test]
    fn an_unknown_exercise_id_is_caught() {
        let p = plan(vec![day(1, vec![item("made-up-move")])]);
        let issues = validate(&p, &catalog(), Level::Beginner, &[]);
        assert_eq!(
            issues,
            vec![PlanIssue::UnknownExercise {
                week: 1,
                day: 1,
                exercise_id: "made-up-move".into()
            }]
        );
        assert!(issues[0].to_string().contains("not in the catalog"));
    }

    #[test]
    fn impossible_sets_reps_and_rest_are_caught() {
        let mut bad = item("push-up");
        bad.sets = 40;
        bad.reps = Some(500);
        bad.rest_seconds = 5000;
        let mut none = item("dead-bug");
        none.reps = None;
        let issues = validate(
            &plan(vec![day(1, vec![bad, none])]),
            &catalog(),
            Level::Advanced,
            &[],
        );
        assert!(
            issues
                .iter()
                .any(|i| matches!(i, PlanIssue::Sets { sets: 40, .. }))
        );
        assert_eq!(
            issues
                .iter()
                .filter(|i| matches!(i, PlanIssue::Reps { .. }))
                .count(),
            2
        );
        assert!(issues.iter().any(|i| matches!(
            i,
            PlanIssue::Rest {
                rest_seconds: 5000,
                ..
            }
        )));
        let mut timed = item("dead-bug");
        timed.reps = None;
        timed.duration_seconds = Some(45);
        assert_eq!(
            validate(
                &plan(vec![day(2, vec![timed])]),
                &catalog(),
                Level::Beginner,
                &[]
            ),
            vec![]
        );
    }

    #[test]
    fn a_week_without_a_rest_day_is_caught() {
        let p = plan((1..=7).map(|d| day(d, vec![item("dead-bug")])).collect());
        assert!(
            validate(&p, &catalog(), Level::Advanced, &[])
                .contains(&PlanIssue::NoRestDay { week: 1 })
        );
    }

    #[test]
    fn repeated_or_out_of_range_days_are_caught() {
        let p = plan(vec![
            day(8, vec![item("push-up")]),
            day(1, vec![]),
            day(1, vec![]),
        ]);
        let issues = validate(&p, &catalog(), Level::Beginner, &[]);
        assert!(issues.contains(&PlanIssue::BadDay { week: 1, day: 8 }));
        assert!(issues.contains(&PlanIssue::BadDay { week: 1, day: 1 }));
    }

    #[test]
    fn implausible_volume_for_the_level_is_caught() {
        let heavy = |id: &str| Item {
            sets: 10,
            ..item(id)
        };
        let p = plan(
            (1..=3)
                .map(|d| {
                    day(
                        d,
                        vec![heavy("push-up"), heavy("dead-bug"), heavy("glute-bridge")],
                    )
                })
                .collect(),
        );
        // 90 sets: too much for a beginner, fine for an advanced lifter
        assert!(
            validate(&p, &catalog(), Level::Beginner, &[]).contains(&PlanIssue::Volume {
                week: 1,
                sets: 90,
                max: 60
            })
        );
        assert_eq!(validate(&p, &catalog(), Level::Advanced, &[]), vec![]);
    }

    #[test]
    fn an_exercise_that_ignores_a_knee_injury_is_caught() {
        let knee = safety::rules_for(&["knee pain".into()]);
        let p = plan(vec![day(1, vec![item("push-up"), item("goblet-squat")])]);
        let issues = validate(&p, &catalog(), Level::Beginner, &knee);
        assert_eq!(
            issues,
            vec![PlanIssue::Contraindicated {
                week: 1,
                day: 1,
                exercise_id: "goblet-squat".into(),
                area: "knee",
                term: "squat"
            }]
        );
        assert!(issues[0].to_string().contains("knee"));
    }

    #[test]
    fn an_empty_or_overlong_plan_is_caught() {
        assert_eq!(
            validate(
                &Plan {
                    title: "t".into(),
                    weeks: vec![]
                },
                &catalog(),
                Level::Beginner,
                &[]
            ),
            vec![PlanIssue::NoWeeks]
        );
        let long = Plan {
            title: "t".into(),
            weeks: vec![Week { days: vec![] }; 13],
        };
        assert_eq!(
            validate(&long, &catalog(), Level::Beginner, &[]),
            vec![PlanIssue::TooManyWeeks(13)]
        );
    }

    fn request(equipment: &[&str]) -> PlanRequest {
        PlanRequest {
            weeks: 4,
            days_per_week: 3,
            minutes_per_session: 30,
            level: Level::Beginner,
            equipment: equipment.iter().map(|s| s.to_string()).collect(),
            target_muscles: vec![],
        }
    }

    #[test]
    fn the_rules_plan_respects_equipment_and_passes_the_validator() {
        let cat = catalog();
        let p = rules_plan(&cat, &request(&[]), &[]).unwrap();
        assert_eq!(p.weeks.len(), 4);
        let ids: BTreeSet<&str> = p
            .weeks
            .iter()
            .flat_map(|w| &w.days)
            .flat_map(|d| &d.items)
            .map(|i| i.exercise_id.as_str())
            .collect();
        assert!(!ids.is_empty());
        for id in &ids {
            assert!(
                !["goblet-squat", "barbell-bench-press", "biceps-curl"].contains(id),
                "{id} needs equipment"
            );
        }
        assert_eq!(validate(&p, &cat, Level::Beginner, &[]), vec![]);
        for w in &p.weeks {
            assert_eq!(w.days.len(), 3);
        }
        // with dumbbells, the dumbbell exercises become eligible
        let with = rules_plan(&cat, &request(&["dumbbell"]), &[]).unwrap();
        assert!(
            with.weeks
                .iter()
                .flat_map(|w| &w.days)
                .flat_map(|d| &d.items)
                .any(|i| i.exercise_id == "biceps-curl" || i.exercise_id == "goblet-squat")
        );
    }

    #[test]
    fn the_rules_plan_respects_limitations() {
        let cat = catalog();
        let knee = safety::rules_for(&["torn ACL".into()]);
        let p = rules_plan(&cat, &request(&["dumbbell"]), &knee).unwrap();
        for i in p.weeks.iter().flat_map(|w| &w.days).flat_map(|d| &d.items) {
            assert!(
                !i.exercise_id.contains("squat") && !i.exercise_id.contains("lunge"),
                "{}",
                i.exercise_id
            );
        }
        assert_eq!(validate(&p, &cat, Level::Beginner, &knee), vec![]);
    }

    #[test]
    fn the_rules_plan_prefers_target_muscles_and_keeps_a_rest_day() {
        let cat = catalog();
        let mut r = request(&[]);
        r.target_muscles = vec!["glutes".into()];
        r.days_per_week = 9;
        r.level = Level::Advanced;
        let p = rules_plan(&cat, &r, &[]).unwrap();
        let first = p
            .weeks
            .first()
            .and_then(|w| w.days.first())
            .and_then(|d| d.items.first())
            .unwrap();
        assert!(first.exercise_id == "glute-bridge" || first.exercise_id == "walking-lunge");
        assert_eq!(validate(&p, &cat, Level::Advanced, &[]), vec![]);
    }

    #[test]
    fn no_eligible_exercise_is_an_error_not_an_empty_plan() {
        let cat: HashMap<String, CatalogExercise> =
            [ex("barbell-bench-press", &["chest"], &["barbell"])]
                .into_iter()
                .map(|e| (e.id.clone(), e))
                .collect();
        assert_eq!(
            rules_plan(&cat, &request(&[]), &[]),
            Err(RulesPlanError::NoExercises)
        );
    }

    #[test]
    fn plans_round_trip_through_json() {
        let p = plan(vec![day(1, vec![item("push-up")])]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Plan>("{\"weeks\": 3}").is_err());
    }
}
