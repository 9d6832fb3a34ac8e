//! The limitation rule table: which exercises a stated limitation rules out.
//!
//! A limitation is free text from the user ("bad left knee", "lower back pain"). Each rule
//! matches keywords in it (lowercase substring) and excludes catalog exercises whose primary
//! muscles, categories or slug/name hit one of the rule's excluded terms. The table is
//! deliberately conservative: a false exclusion costs an exercise, a missed one may cost an
//! injury. Documented in docs/ai-coach.md ("Recommendations, plans and agents").

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct LimitationRule {
    /// The body area, named in findings ("knee").
    pub area: &'static str,
    /// Keywords that select the rule from the limitation text.
    pub keywords: &'static [&'static str],
    /// Muscle groups, categories or movement patterns (matched against the exercise's slug,
    /// name, primary muscles and categories) the rule excludes.
    pub excluded: &'static [&'static str],
}

/// The table. Keep the keywords lowercase.
pub const RULES: &[LimitationRule] = &[
    LimitationRule {
        area: "knee",
        keywords: &["knee", "acl", "menisc", "patell"],
        excluded: &[
            "squat",
            "lunge",
            "jump",
            "plyometric",
            "step-up",
            "pistol",
            "burpee",
            "leg press",
        ],
    },
    LimitationRule {
        area: "back",
        keywords: &["back", "spine", "lumbar", "disc", "sciatica"],
        excluded: &[
            "deadlift",
            "good morning",
            "good-morning",
            "row",
            "sit-up",
            "crunch",
            "lower back",
            "back squat",
        ],
    },
    LimitationRule {
        area: "shoulder",
        keywords: &["shoulder", "rotator", "labrum"],
        excluded: &[
            "overhead",
            "shoulder press",
            "military press",
            "handstand",
            "dip",
            "pull-up",
            "upright row",
            "shoulders",
        ],
    },
    LimitationRule {
        area: "wrist",
        keywords: &["wrist", "carpal"],
        excluded: &["push-up", "push up", "plank", "handstand", "front squat"],
    },
    LimitationRule {
        area: "ankle",
        keywords: &["ankle", "achilles"],
        excluded: &[
            "jump",
            "plyometric",
            "running",
            "calf raise",
            "skipping",
            "burpee",
        ],
    },
    LimitationRule {
        area: "heart",
        keywords: &["heart", "cardiac", "hypertension", "blood pressure"],
        excluded: &["hiit", "sprint", "max effort", "valsalva"],
    },
];

/// What an exercise looks like to the safety rules: lowercase text fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExerciseTraits {
    pub slug: String,
    pub name: String,
    pub primary_muscles: Vec<String>,
    pub categories: Vec<String>,
}

/// The rules a set of limitations selects.
pub fn rules_for(limitations: &[String]) -> Vec<&'static LimitationRule> {
    RULES
        .iter()
        .filter(|rule| {
            limitations.iter().any(|l| {
                let l = l.to_lowercase();
                rule.keywords.iter().any(|k| l.contains(k))
            })
        })
        .collect()
}

/// Why an exercise is contraindicated: the first matching rule's area and term, or None.
pub fn contraindication(
    rules: &[&'static LimitationRule],
    exercise: &ExerciseTraits,
) -> Option<(&'static str, &'static str)> {
    let haystack: Vec<String> = [
        exercise.slug.replace('-', " "),
        exercise.slug.clone(),
        exercise.name.clone(),
    ]
    .into_iter()
    .chain(exercise.primary_muscles.iter().cloned())
    .chain(exercise.categories.iter().cloned())
    .map(|s| s.to_lowercase())
    .collect();
    rules.iter().find_map(|rule| {
        rule.excluded
            .iter()
            .find(|term| haystack.iter().any(|h| h.contains(*term)))
            .map(|term| (rule.area, *term))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(slug: &str, muscles: &[&str]) -> ExerciseTraits {
        ExerciseTraits {
            slug: slug.into(),
            name: slug.replace('-', " "),
            primary_muscles: muscles.iter().map(|m| m.to_string()).collect(),
            categories: vec![],
        }
    }

    #[test]
    fn a_knee_injury_rules_out_squats_and_lunges_but_not_curls() {
        let rules = rules_for(&["Bad left KNEE".into()]);
        assert_eq!(rules.len(), 1);
        assert_eq!(
            contraindication(&rules, &ex("goblet-squat", &["quadriceps"])),
            Some(("knee", "squat"))
        );
        assert_eq!(
            contraindication(&rules, &ex("walking-lunge", &["glutes"])),
            Some(("knee", "lunge"))
        );
        assert_eq!(
            contraindication(&rules, &ex("biceps-curl", &["biceps"])),
            None
        );
    }

    #[test]
    fn shoulder_rules_match_muscle_groups_too() {
        let rules = rules_for(&["rotator cuff tear".into()]);
        assert!(contraindication(&rules, &ex("lateral-raise", &["shoulders"])).is_some());
        assert!(contraindication(&rules, &ex("bodyweight-squat", &["quadriceps"])).is_none());
    }

    #[test]
    fn no_limitation_selects_no_rule() {
        assert!(rules_for(&[]).is_empty());
        assert!(rules_for(&["none".into()]).is_empty());
        assert!(contraindication(&rules_for(&[]), &ex("back-squat", &[])).is_none());
    }

    #[test]
    fn several_limitations_combine() {
        let rules = rules_for(&["lower back pain".into(), "wrist".into()]);
        assert_eq!(rules.len(), 2);
        assert!(contraindication(&rules, &ex("push-up", &["chest"])).is_some());
        assert!(contraindication(&rules, &ex("romanian-deadlift", &["hamstrings"])).is_some());
    }
}
