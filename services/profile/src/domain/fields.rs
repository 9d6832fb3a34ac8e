//! The editable profile, its bounds, and field-mask updates.
//!
//! A mask path is the API's field name, nested ones dotted (`body.weight`); a group (`body`,
//! `practice.training_focus`) names every field under it. Each leaf knows how to copy its value
//! from the request and check it; a bad value is reported as `profile.<path>`. Only the named
//! fields are read: a value outside the mask is neither checked nor applied.
//!
//! Enumerations are kept as the API's numbers (`stride.profile.v1`: the numbers are part of the
//! wire contract and never change), checked against the known range here. UNSPECIFIED (0) means
//! "not set" for optional choices and "the default" for `units` and `privacy.visibility`.

use stride_kit::{AppResult, Violations, convert::is_valid_timezone};
use time::Date;

use super::DISPLAY_NAME_MAX;

pub const LOCALES: [&str; 2] = ["en", "fr"];
pub const BIO_MAX: usize = 500;
pub const DEFAULT_TONE: &str = "Professional & Confident";
pub const DEFAULT_FOCUS_GOAL_MINUTES: i32 = 480;
/// More paths than this is not a real request.
const MAX_MASK_PATHS: usize = 40;

// `stride.profile.v1` enum numbers with a rule attached to them.
pub const UNITS_METRIC: i32 = 1;
pub const UNITS_MAX: i32 = 2;
pub const VISIBILITY_PRIVATE: i32 = 1;
pub const VISIBILITY_FRIENDS: i32 = 2;
pub const VISIBILITY_PUBLIC: i32 = 3;
pub const ACTIVATION_NEW: i32 = 1;
pub const ACTIVATION_ACTIVATED: i32 = 2;
const FITNESS_LEVEL_MAX: i32 = 3;
const WORKOUT_STYLE_MAX: i32 = 5;
const DAILY_ACTIVITY_MAX: i32 = 5;
const PREPARATION_TYPE_MAX: i32 = 6;
pub const WEIGHT_KG: i32 = 1;
pub const WEIGHT_LB: i32 = 2;
pub const LENGTH_CM: i32 = 1;
pub const LENGTH_IN: i32 = 2;
const KG_PER_LB: f64 = 0.453_592_37;
const CM_PER_INCH: f64 = 2.54;

/// A value with its unit (the API's `WeightUnit` / `LengthUnit` number).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measure {
    pub value: f64,
    pub unit: i32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    /// 0: not given.
    pub birth_year: i32,
    pub height: Option<Measure>,
    pub weight: Option<Measure>,
    pub fitness_level: i32,
    pub goals: Vec<String>,
    pub workout_style: i32,
    pub daily_activity: i32,
    pub equipment: Vec<String>,
    pub limitations: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Practice {
    pub preparation_type: i32,
    pub meeting_subtype: String,
    pub agenda: String,
    pub tone: String,
    pub focus_title: String,
    pub focus_tags: Vec<String>,
    pub focus_agenda_template: String,
}

impl Default for Practice {
    fn default() -> Self {
        Self {
            preparation_type: 0,
            meeting_subtype: String::new(),
            agenda: String::new(),
            tone: DEFAULT_TONE.into(),
            focus_title: String::new(),
            focus_tags: Vec::new(),
            focus_agenda_template: String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learning {
    pub subjects: Vec<String>,
    pub goals: Vec<String>,
    pub study_preferences: Vec<String>,
    /// Minutes after local midnight: (start, end), start < end.
    pub work_hours: Option<(i32, i32)>,
    pub daily_focus_goal_minutes: i32,
}

impl Default for Learning {
    fn default() -> Self {
        Self {
            subjects: Vec::new(),
            goals: Vec::new(),
            study_preferences: Vec::new(),
            work_hours: None,
            daily_focus_goal_minutes: DEFAULT_FOCUS_GOAL_MINUTES,
        }
    }
}

/// Everything a caller may change through a mask (or an onboarding step).
#[derive(Clone, Debug, PartialEq)]
pub struct Editable {
    pub display_name: String,
    pub bio: String,
    pub timezone: String,
    pub locale: String,
    pub units: i32,
    pub visibility: i32,
    pub show_on_leaderboards: bool,
    pub body: Body,
    pub practice: Practice,
    pub learning: Learning,
}

impl Default for Editable {
    /// A new profile: private, on leaderboards, metric, English, UTC.
    fn default() -> Self {
        Self {
            display_name: String::new(),
            bio: String::new(),
            timezone: "UTC".into(),
            locale: "en".into(),
            units: UNITS_METRIC,
            visibility: VISIBILITY_PRIVATE,
            show_on_leaderboards: true,
            body: Body::default(),
            practice: Practice::default(),
            learning: Learning::default(),
        }
    }
}

/// What the rules need to know about "now": the caller's local date (birth years).
#[derive(Clone, Copy, Debug)]
pub struct Today(pub Date);

type Apply = fn(&mut Editable, &Editable, Today, &mut Check);

/// Every leaf path of the mask and how it is applied.
const LEAVES: &[(&str, Apply)] = &[
    ("display_name", |to, from, _, c| {
        let name = from.display_name.trim();
        c.text("display_name", name, 1, DISPLAY_NAME_MAX);
        to.display_name = name.to_owned();
    }),
    ("bio", |to, from, _, c| {
        let bio = from.bio.trim();
        c.multiline("bio", bio, 0, BIO_MAX);
        to.bio = bio.to_owned();
    }),
    ("timezone", |to, from, _, c| {
        c.when(
            !is_valid_timezone(&from.timezone),
            "timezone",
            "must be an IANA time zone, e.g. Europe/Paris",
        );
        to.timezone = from.timezone.clone();
    }),
    ("locale", |to, from, _, c| {
        c.when(
            !LOCALES.contains(&from.locale.as_str()),
            "locale",
            "must be \"en\" or \"fr\"",
        );
        to.locale = from.locale.clone();
    }),
    ("units", |to, from, _, c| {
        to.units = c.choice_or_default("units", from.units, UNITS_MAX, UNITS_METRIC);
    }),
    ("privacy.visibility", |to, from, _, c| {
        to.visibility = c.choice_or_default(
            "privacy.visibility",
            from.visibility,
            VISIBILITY_PUBLIC,
            VISIBILITY_PRIVATE,
        );
    }),
    ("privacy.show_on_leaderboards", |to, from, _, _| {
        to.show_on_leaderboards = from.show_on_leaderboards;
    }),
    ("body.birth_year", |to, from, today, c| {
        let y = from.body.birth_year;
        let now = today.0.year();
        c.when(
            y != 0 && !(now - 120..=now - 5).contains(&y),
            "body.birth_year",
            "must be 0 (not given) or a year between 120 and 5 years ago",
        );
        to.body.birth_year = y;
    }),
    ("body.height", |to, from, _, c| {
        c.measure(
            "body.height",
            from.body.height,
            (LENGTH_CM, LENGTH_IN, CM_PER_INCH),
            50.0..=250.0,
        );
        to.body.height = from.body.height;
    }),
    ("body.weight", |to, from, _, c| {
        c.measure(
            "body.weight",
            from.body.weight,
            (WEIGHT_KG, WEIGHT_LB, KG_PER_LB),
            20.0..=400.0,
        );
        to.body.weight = from.body.weight;
    }),
    ("body.fitness_level", |to, from, _, c| {
        c.choice(
            "body.fitness_level",
            from.body.fitness_level,
            FITNESS_LEVEL_MAX,
        );
        to.body.fitness_level = from.body.fitness_level;
    }),
    ("body.goals", |to, from, _, c| {
        to.body.goals = c.list("body.goals", &from.body.goals, 10, 64);
    }),
    ("body.workout_style", |to, from, _, c| {
        c.choice(
            "body.workout_style",
            from.body.workout_style,
            WORKOUT_STYLE_MAX,
        );
        to.body.workout_style = from.body.workout_style;
    }),
    ("body.daily_activity", |to, from, _, c| {
        c.choice(
            "body.daily_activity",
            from.body.daily_activity,
            DAILY_ACTIVITY_MAX,
        );
        to.body.daily_activity = from.body.daily_activity;
    }),
    ("body.equipment", |to, from, _, c| {
        to.body.equipment = c.list("body.equipment", &from.body.equipment, 30, 64);
    }),
    ("body.limitations", |to, from, _, c| {
        to.body.limitations = c.list("body.limitations", &from.body.limitations, 20, 200);
    }),
    ("practice.preparation_type", |to, from, _, c| {
        let p = from.practice.preparation_type;
        c.choice("practice.preparation_type", p, PREPARATION_TYPE_MAX);
        to.practice.preparation_type = p;
    }),
    ("practice.meeting_subtype", |to, from, _, c| {
        let s = from.practice.meeting_subtype.trim();
        c.text("practice.meeting_subtype", s, 0, 100);
        to.practice.meeting_subtype = s.to_owned();
    }),
    ("practice.agenda", |to, from, _, c| {
        let s = from.practice.agenda.trim();
        c.multiline("practice.agenda", s, 0, 2000);
        to.practice.agenda = s.to_owned();
    }),
    ("practice.tone", |to, from, _, c| {
        // Empty resets to the default tone.
        let s = from.practice.tone.trim();
        c.text("practice.tone", s, 0, 100);
        to.practice.tone = if s.is_empty() { DEFAULT_TONE } else { s }.to_owned();
    }),
    ("practice.training_focus.title", |to, from, _, c| {
        let s = from.practice.focus_title.trim();
        c.text("practice.training_focus.title", s, 0, 100);
        to.practice.focus_title = s.to_owned();
    }),
    ("practice.training_focus.tags", |to, from, _, c| {
        to.practice.focus_tags = c.list(
            "practice.training_focus.tags",
            &from.practice.focus_tags,
            10,
            32,
        );
    }),
    (
        "practice.training_focus.agenda_template",
        |to, from, _, c| {
            let s = from.practice.focus_agenda_template.trim();
            c.multiline("practice.training_focus.agenda_template", s, 0, 2000);
            to.practice.focus_agenda_template = s.to_owned();
        },
    ),
    ("learning.subjects", |to, from, _, c| {
        to.learning.subjects = c.list("learning.subjects", &from.learning.subjects, 20, 64);
    }),
    ("learning.goals", |to, from, _, c| {
        to.learning.goals = c.list("learning.goals", &from.learning.goals, 10, 200);
    }),
    ("learning.study_preferences", |to, from, _, c| {
        to.learning.study_preferences = c.list(
            "learning.study_preferences",
            &from.learning.study_preferences,
            10,
            64,
        );
    }),
    ("learning.work_hours", |to, from, _, c| {
        if let Some((start, end)) = from.learning.work_hours {
            c.when(
                !(0..1440).contains(&start) || !(0..1440).contains(&end) || start >= end,
                "learning.work_hours",
                "start_minute and end_minute must be minutes of the day (0–1439), start before end",
            );
        }
        to.learning.work_hours = from.learning.work_hours;
    }),
    ("learning.daily_focus_goal_minutes", |to, from, _, c| {
        // 0 (unset) resets to the default.
        let m = from.learning.daily_focus_goal_minutes;
        c.when(
            !(0..=1440).contains(&m),
            "learning.daily_focus_goal_minutes",
            "must be between 1 and 1440 minutes (0 for the default, 480)",
        );
        to.learning.daily_focus_goal_minutes = if m == 0 {
            DEFAULT_FOCUS_GOAL_MINUTES
        } else {
            m
        };
    }),
];

/// Paths that exist but are set through their own methods.
const READ_ONLY: &[(&str, &str)] = &[
    ("user_id", "the user is the caller"),
    ("username", "set at sign-up"),
    ("create_time", "output only"),
    ("update_time", "output only"),
    (
        "avatar_url",
        "use UploadMyAvatar, SetMyAvatarPreset or DeleteMyAvatar",
    ),
    ("avatar_preset", "use SetMyAvatarPreset"),
    (
        "activation_state",
        "set by the first evaluated practice session",
    ),
    (
        "activate_time",
        "set by the first evaluated practice session",
    ),
    ("onboarding_completed", "use CompleteOnboarding"),
    ("onboarding_complete_time", "use CompleteOnboarding"),
    ("onboarding_steps", "use SaveOnboardingStep"),
    ("background", "use SetMyBackground"),
    ("body.age", "derived from body.birth_year"),
];

/// The leaf paths `path` names: itself, or every leaf under a group.
fn leaves_of(path: &str) -> Vec<usize> {
    LEAVES
        .iter()
        .enumerate()
        .filter(|(_, (leaf, _))| {
            *leaf == path
                || leaf
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Every updatable path.
#[cfg(test)]
pub fn leaf_paths() -> impl Iterator<Item = &'static str> {
    LEAVES.iter().map(|(p, _)| *p)
}

/// Applies the fields `paths` name from `wanted` onto `current`, checking each; all violations
/// come back at once, each naming `profile.<path>` (or `update_mask.paths`).
pub fn apply(
    paths: &[String],
    wanted: &Editable,
    current: &Editable,
    today: Today,
) -> AppResult<Editable> {
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add(
            "update_mask",
            "name at least one field to update, e.g. display_name or body.weight",
        );
        return v.check().map(|()| current.clone());
    }
    if paths.len() > MAX_MASK_PATHS {
        v.add("update_mask.paths", "too many paths");
        return v.check().map(|()| current.clone());
    }
    let mut chosen: Vec<usize> = Vec::new();
    for p in paths {
        let leaves = leaves_of(p);
        if leaves.is_empty() {
            let shown: String = p.chars().take(64).collect();
            let why = match READ_ONLY
                .iter()
                .find(|(ro, _)| *ro == p || p.starts_with(&format!("{ro}.")))
            {
                Some((_, how)) => format!("{shown:?} cannot be updated here: {how}"),
                None => format!(
                    "unknown field {shown:?}; fields are the API's names, nested ones dotted (e.g. body.weight)"
                ),
            };
            v.add("update_mask.paths", &why);
        }
        for l in leaves {
            if !chosen.contains(&l) {
                chosen.push(l);
            }
        }
    }
    chosen.sort_unstable();
    let mut next = current.clone();
    let mut check = Check(v);
    for i in chosen {
        if let Some((_, f)) = LEAVES.get(i) {
            f(&mut next, wanted, today, &mut check);
        }
    }
    check.0.check()?;
    Ok(next)
}

/// The mask an onboarding step stands for (the API's `OnboardingStep` number); `None` for an
/// unknown step.
pub fn onboarding_step_paths(step: i32) -> Option<&'static [&'static str]> {
    Some(match step {
        1 => &["display_name", "bio", "timezone", "locale", "units"],
        2 => &["body"],
        3 => &["practice"],
        4 => &["learning"],
        5 => &["privacy"],
        _ => return None,
    })
}

/// The saved steps after saving `step`: sorted, each once.
pub fn with_step(steps: &[i32], step: i32) -> Vec<i32> {
    let mut s = steps.to_vec();
    if !s.contains(&step) {
        s.push(step);
    }
    s.sort_unstable();
    s
}

/// Age this year, from the birth year (0 when not given).
pub fn age(birth_year: i32, today: Today) -> i32 {
    if birth_year == 0 {
        0
    } else {
        (today.0.year() - birth_year).max(0)
    }
}

/// Who may see another user's public card: only PUBLIC profiles. FRIENDS stays hidden until
/// profile has a source of friendships (challenge owns friends; no event carries them yet).
pub fn card_visible(visibility: i32) -> bool {
    visibility == VISIBILITY_PUBLIC
}

/// The activation state after a practice session was evaluated: NEW becomes ACTIVATED once;
/// `None` when nothing changes.
pub fn activate(state: i32) -> Option<i32> {
    (state != ACTIVATION_ACTIVATED).then_some(ACTIVATION_ACTIVATED)
}

/// The answers of a merged guest (`from`) combined into the target's (`into`): the target's
/// wins, and what it left unset (empty, 0, or the new-profile default) is taken from the
/// guest's. Privacy stays the target's (a guest's choice must not loosen it); display name,
/// timezone and locale follow [`super::merge`].
pub fn merge_answers(into: &Editable, from: &Editable) -> Editable {
    fn pick<T: PartialEq + Clone>(target: &mut T, source: &T, unset: &T) {
        if target == unset && source != unset {
            *target = source.clone();
        }
    }
    let d = Editable::default();
    let mut m = into.clone();
    pick(&mut m.bio, &from.bio, &d.bio);
    pick(&mut m.units, &from.units, &d.units);
    let (b, f, db) = (&mut m.body, &from.body, &d.body);
    pick(&mut b.birth_year, &f.birth_year, &db.birth_year);
    pick(&mut b.height, &f.height, &db.height);
    pick(&mut b.weight, &f.weight, &db.weight);
    pick(&mut b.fitness_level, &f.fitness_level, &db.fitness_level);
    pick(&mut b.goals, &f.goals, &db.goals);
    pick(&mut b.workout_style, &f.workout_style, &db.workout_style);
    pick(&mut b.daily_activity, &f.daily_activity, &db.daily_activity);
    pick(&mut b.equipment, &f.equipment, &db.equipment);
    pick(&mut b.limitations, &f.limitations, &db.limitations);
    let (p, f, dp) = (&mut m.practice, &from.practice, &d.practice);
    pick(
        &mut p.preparation_type,
        &f.preparation_type,
        &dp.preparation_type,
    );
    pick(
        &mut p.meeting_subtype,
        &f.meeting_subtype,
        &dp.meeting_subtype,
    );
    pick(&mut p.agenda, &f.agenda, &dp.agenda);
    pick(&mut p.tone, &f.tone, &dp.tone);
    pick(&mut p.focus_title, &f.focus_title, &dp.focus_title);
    pick(&mut p.focus_tags, &f.focus_tags, &dp.focus_tags);
    pick(
        &mut p.focus_agenda_template,
        &f.focus_agenda_template,
        &dp.focus_agenda_template,
    );
    let (l, f, dl) = (&mut m.learning, &from.learning, &d.learning);
    pick(&mut l.subjects, &f.subjects, &dl.subjects);
    pick(&mut l.goals, &f.goals, &dl.goals);
    pick(
        &mut l.study_preferences,
        &f.study_preferences,
        &dl.study_preferences,
    );
    pick(&mut l.work_hours, &f.work_hours, &dl.work_hours);
    pick(
        &mut l.daily_focus_goal_minutes,
        &f.daily_focus_goal_minutes,
        &dl.daily_focus_goal_minutes,
    );
    m
}

/// Both accounts' saved onboarding steps, sorted, each once.
pub fn merge_steps(into: &[i32], from: &[i32]) -> Vec<i32> {
    from.iter()
        .fold(into.to_vec(), |acc, s| with_step(&acc, *s))
}

/// Violations under `profile.<path>`.
struct Check(Violations);

impl Check {
    fn when(&mut self, bad: bool, path: &str, why: &str) {
        if bad {
            self.0.add(&format!("profile.{path}"), why);
        }
    }

    /// A single-line string of `min..=max` characters.
    fn text(&mut self, path: &str, s: &str, min: usize, max: usize) {
        let n = s.chars().count();
        self.when(
            n < min || n > max || s.chars().any(char::is_control),
            path,
            &format!("must be {min} to {max} characters on one line, without control characters"),
        );
    }

    /// A text that may span lines (newlines and tabs allowed, other control characters not).
    fn multiline(&mut self, path: &str, s: &str, min: usize, max: usize) {
        let n = s.chars().count();
        let bad_char = s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        self.when(
            n < min || n > max || bad_char,
            path,
            &format!("must be {min} to {max} characters, without control characters"),
        );
    }

    /// An optional choice: 0 (not set) or a known value.
    fn choice(&mut self, path: &str, v: i32, max: i32) {
        self.when(
            !(0..=max).contains(&v),
            path,
            "unknown value; use one of the enum's values (or UNSPECIFIED to unset)",
        );
    }

    /// A choice whose UNSPECIFIED means the default.
    fn choice_or_default(&mut self, path: &str, v: i32, max: i32, default: i32) -> i32 {
        self.choice(path, v, max);
        if v == 0 { default } else { v }
    }

    /// A list of at most `max_items` distinct single-line items of 1..=`max_len` characters;
    /// returns it trimmed.
    fn list(
        &mut self,
        path: &str,
        items: &[String],
        max_items: usize,
        max_len: usize,
    ) -> Vec<String> {
        let trimmed: Vec<String> = items.iter().map(|s| s.trim().to_owned()).collect();
        let bad_item = trimmed.iter().any(|s| {
            let n = s.chars().count();
            n == 0 || n > max_len || s.chars().any(char::is_control)
        });
        let dup = trimmed.iter().enumerate().any(|(i, s)| {
            trimmed
                .iter()
                .skip(i + 1)
                .any(|t| t.eq_ignore_ascii_case(s))
        });
        self.when(
            trimmed.len() > max_items || bad_item || dup,
            path,
            &format!(
                "at most {max_items} distinct items of 1 to {max_len} characters, without control characters"
            ),
        );
        trimmed
    }

    /// A value in the metric unit or the imperial one (`units`: metric, imperial, metric per
    /// imperial) within `metric` bounds once converted.
    fn measure(
        &mut self,
        path: &str,
        m: Option<Measure>,
        (unit_a, unit_b, factor): (i32, i32, f64),
        metric: std::ops::RangeInclusive<f64>,
    ) {
        let Some(m) = m else { return };
        let in_metric = match m.unit {
            u if u == unit_a => Some(m.value),
            u if u == unit_b => Some(m.value * factor),
            _ => None,
        };
        match in_metric {
            None => self.when(true, &format!("{path}.unit"), "must be set to a known unit"),
            Some(v) => self.when(
                !v.is_finite() || !metric.contains(&v),
                &format!("{path}.value"),
                &format!(
                    "out of range: {}–{} in metric units",
                    metric.start(),
                    metric.end()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stride_kit::AppError;

    const TODAY: Today = Today(time::macros::date!(2026 - 11 - 22));

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::InvalidArgument(v) => v.into_iter().map(|(f, _)| f).collect(),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    fn bad(p: &[&str], wanted: &Editable) -> Vec<String> {
        fields(apply(&paths(p), wanted, &Editable::default(), TODAY).unwrap_err())
    }

    #[test]
    fn only_named_fields_change_and_are_checked() {
        let wanted = Editable {
            display_name: "  Ann  ".into(),
            timezone: "Europe/Paris".into(),
            locale: "de".into(),
            ..Editable::default()
        };
        let got = apply(
            &paths(&["display_name", "timezone"]),
            &wanted,
            &Editable::default(),
            TODAY,
        )
        .unwrap();
        assert_eq!(got.display_name, "Ann");
        assert_eq!(got.timezone, "Europe/Paris");
        assert_eq!(got.locale, "en", "locale was not named: kept, not checked");
    }

    #[test]
    fn masks_must_name_known_updatable_paths() {
        let e = Editable::default();
        assert_eq!(
            fields(apply(&[], &e, &e, TODAY).unwrap_err()),
            ["update_mask"]
        );
        for p in [
            "user_id",
            "nickname",
            "avatar_url",
            "body.age",
            "body.height.value",
            "background.cv_text",
            "",
        ] {
            assert_eq!(bad(&[p], &e), ["update_mask.paths"], "{p}");
        }
        assert_eq!(bad(&["locale"; 41], &e), ["update_mask.paths"]);
        let Err(AppError::InvalidArgument(v)) = apply(&paths(&["avatar_url"]), &e, &e, TODAY)
        else {
            panic!()
        };
        assert!(v[0].1.contains("UploadMyAvatar"), "{v:?}");
    }

    #[test]
    fn a_group_names_every_field_under_it() {
        let mut wanted = Editable::default();
        wanted.body.birth_year = 1990;
        wanted.body.goals = vec![" strength ".into()];
        wanted.practice.focus_title = "STAR answers".into();
        wanted.practice.focus_tags = vec!["behavioral".into()];
        let mut current = Editable::default();
        current.body.equipment = vec!["dumbbells".into()];
        current.practice.agenda = "kept".into();
        let got = apply(
            &paths(&["body", "practice.training_focus"]),
            &wanted,
            &current,
            TODAY,
        )
        .unwrap();
        assert_eq!(got.body.birth_year, 1990);
        assert_eq!(got.body.goals, ["strength"]);
        assert!(got.body.equipment.is_empty(), "the whole group is replaced");
        assert_eq!(got.practice.focus_title, "STAR answers");
        assert_eq!(got.practice.agenda, "kept", "outside the named sub-group");
        // A prefix that is not a whole segment names nothing.
        assert_eq!(bad(&["bod"], &wanted), ["update_mask.paths"]);
    }

    #[test]
    fn every_bad_value_is_named() {
        let mut w = Editable {
            display_name: " ".into(),
            bio: "x".repeat(501),
            timezone: "Mars/Olympus".into(),
            locale: "de".into(),
            units: 3,
            visibility: 9,
            ..Editable::default()
        };
        w.body = Body {
            birth_year: 2025,
            height: Some(Measure {
                value: 300.0,
                unit: LENGTH_CM,
            }),
            weight: Some(Measure {
                value: 80.0,
                unit: 0,
            }),
            fitness_level: 4,
            goals: vec!["a".into(), "A".into()],
            workout_style: -1,
            daily_activity: 6,
            equipment: vec![String::new()],
            limitations: vec!["x".repeat(201)],
        };
        w.practice = Practice {
            preparation_type: 7,
            meeting_subtype: "a\nb".into(),
            agenda: "x".repeat(2001),
            tone: "t".repeat(101),
            focus_title: "t".repeat(101),
            focus_tags: vec!["t".into(); 11],
            focus_agenda_template: "\u{0}".into(),
        };
        w.learning = Learning {
            subjects: vec!["s".repeat(65)],
            goals: vec![String::new()],
            study_preferences: vec!["p".into(); 11],
            work_hours: Some((600, 540)),
            daily_focus_goal_minutes: 1441,
        };
        let all: Vec<String> = leaf_paths().map(String::from).collect();
        let got = fields(apply(&all, &w, &Editable::default(), TODAY).unwrap_err());
        let want: Vec<String> = leaf_paths()
            .filter(|p| *p != "privacy.show_on_leaderboards")
            .map(|p| match p {
                "body.height" => "profile.body.height.value".to_owned(),
                "body.weight" => "profile.body.weight.unit".to_owned(),
                p => format!("profile.{p}"),
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn good_values_at_the_bounds_pass_and_defaults_fill_unspecified() {
        let mut w = Editable {
            display_name: "é".repeat(64),
            bio: "line one\nline two".into(),
            units: 0,
            visibility: 0,
            ..Editable::default()
        };
        w.body.birth_year = 2021;
        w.body.height = Some(Measure {
            value: 70.0,
            unit: LENGTH_IN,
        });
        w.body.weight = Some(Measure {
            value: 180.0,
            unit: WEIGHT_LB,
        });
        w.practice.tone = "  ".into();
        w.learning.daily_focus_goal_minutes = 0;
        w.learning.work_hours = Some((540, 1020));
        let all: Vec<String> = leaf_paths().map(String::from).collect();
        let current = Editable {
            units: 2,
            visibility: VISIBILITY_PUBLIC,
            ..Editable::default()
        };
        let got = apply(&all, &w, &current, TODAY).unwrap();
        assert_eq!(got.units, UNITS_METRIC);
        assert_eq!(got.visibility, VISIBILITY_PRIVATE);
        assert_eq!(got.practice.tone, DEFAULT_TONE);
        assert_eq!(got.learning.daily_focus_goal_minutes, 480);
        assert_eq!(
            got.body.weight,
            Some(Measure {
                value: 180.0,
                unit: WEIGHT_LB
            })
        );
        // 1905 is 121 years back: too old; 1906 is fine.
        let mut old = Editable::default();
        old.body.birth_year = 1905;
        assert_eq!(bad(&["body.birth_year"], &old), ["profile.body.birth_year"]);
        old.body.birth_year = 1906;
        assert!(apply(&paths(&["body.birth_year"]), &old, &old, TODAY).is_ok());
        // Imperial bounds follow the metric ones: 900 lb is over 400 kg.
        let mut heavy = Editable::default();
        heavy.body.weight = Some(Measure {
            value: 900.0,
            unit: WEIGHT_LB,
        });
        assert_eq!(bad(&["body.weight"], &heavy), ["profile.body.weight.value"]);
        heavy.body.weight = Some(Measure {
            value: f64::NAN,
            unit: WEIGHT_KG,
        });
        assert_eq!(bad(&["body.weight"], &heavy), ["profile.body.weight.value"]);
    }

    #[test]
    fn onboarding_steps_stand_for_groups_and_are_recorded_once() {
        assert_eq!(onboarding_step_paths(2), Some(&["body"][..]));
        assert!(onboarding_step_paths(0).is_none() && onboarding_step_paths(6).is_none());
        for step in 1..=5 {
            let p: Vec<String> = onboarding_step_paths(step)
                .unwrap()
                .iter()
                .map(|s| s.to_string())
                .collect();
            let ok = apply(
                &p,
                &Editable {
                    display_name: "A".into(),
                    ..Editable::default()
                },
                &Editable::default(),
                TODAY,
            );
            assert!(ok.is_ok(), "step {step}: {ok:?}");
        }
        assert_eq!(with_step(&[3, 1], 2), [1, 2, 3]);
        assert_eq!(with_step(&[1, 2], 2), [1, 2]);
    }

    #[test]
    fn a_merge_keeps_the_targets_answers_and_fills_the_rest_from_the_guests() {
        let mut into = Editable {
            visibility: VISIBILITY_PRIVATE,
            ..Editable::default()
        };
        into.body.goals = vec!["strength".into()];
        into.learning.daily_focus_goal_minutes = 300;
        let mut from = Editable {
            bio: "guest bio".into(),
            units: 2,
            visibility: VISIBILITY_PUBLIC,
            show_on_leaderboards: false,
            ..Editable::default()
        };
        from.body.goals = vec!["cardio".into()];
        from.body.weight = Some(Measure {
            value: 70.0,
            unit: WEIGHT_KG,
        });
        from.practice.tone = "Warm".into();
        from.learning.daily_focus_goal_minutes = 120;
        from.learning.subjects = vec!["chemistry".into()];
        let m = merge_answers(&into, &from);
        assert_eq!(m.body.goals, ["strength"], "the target's answer wins");
        assert_eq!(m.learning.daily_focus_goal_minutes, 300);
        assert_eq!(m.bio, "guest bio");
        assert_eq!(m.units, 2);
        assert_eq!(m.body.weight, from.body.weight);
        assert_eq!(m.practice.tone, "Warm", "a default counts as unset");
        assert_eq!(m.learning.subjects, ["chemistry"]);
        assert_eq!(
            (m.visibility, m.show_on_leaderboards),
            (VISIBILITY_PRIVATE, true),
            "privacy is never taken from the guest"
        );
        assert_eq!(merge_answers(&into, &Editable::default()), into);
        assert_eq!(merge_steps(&[1, 3], &[2, 3]), [1, 2, 3]);
    }

    #[test]
    fn visibility_activation_and_age() {
        assert!(card_visible(VISIBILITY_PUBLIC));
        assert!(!card_visible(VISIBILITY_FRIENDS));
        assert!(!card_visible(VISIBILITY_PRIVATE));
        assert!(!card_visible(0));
        assert_eq!(activate(ACTIVATION_NEW), Some(ACTIVATION_ACTIVATED));
        assert_eq!(activate(ACTIVATION_ACTIVATED), None);
        assert_eq!(age(1990, TODAY), 36);
        assert_eq!(age(0, TODAY), 0);
    }
}
