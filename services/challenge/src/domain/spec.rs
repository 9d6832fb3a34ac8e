//! What a user may create or change in a challenge, checked field by field; violations name the
//! request's fields (`challenge.<field>`).

use stride_kit::{AppError, AppResult};
use time::{Date, Duration};
use uuid::Uuid;

use super::{
    challenge::{GoalKind, Visibility},
    goal::Goal,
};

pub const MAX_TITLE: usize = 80;
pub const MAX_DESCRIPTION: usize = 500;
pub const MAX_TARGET: i32 = 100_000;
/// A user challenge pays at most this; system challenges pay more (seed 001: 75).
pub const MAX_POINTS: i32 = 100;
pub const MAX_DAYS: i32 = 366;
pub const DEFAULT_DAYS: i32 = 7;
pub const MAX_PARTICIPANTS: i32 = 100_000;
/// Activity kinds a session goal may name (activity-session's kinds).
pub const ACTIVITY_KINDS: [&str; 4] = ["focus", "break", "workout", "study"];

/// A date field as the request carried it: unset, or set to a real date (or not).
pub type DateInput = Option<Option<Date>>;

/// The fields of a challenge as asked for, before checking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub description: String,
    /// None when unspecified or unknown.
    pub goal_kind: Option<GoalKind>,
    pub activity_kind: String,
    pub routine_id: String,
    pub target: i32,
    pub points: i32,
    /// None: private.
    pub visibility: Option<Visibility>,
    pub start_date: DateInput,
    pub end_date: DateInput,
    /// 0 when unset.
    pub duration_days: i32,
    /// 0: no cap.
    pub max_participants: i32,
}

/// A checked challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub title: String,
    pub description: String,
    pub goal: Goal,
    pub target: i32,
    pub points: i32,
    pub visibility: Visibility,
    pub start: Date,
    pub end: Date,
    pub max_participants: Option<i32>,
}

impl Spec {
    /// The spec as a draft, for an update to overlay the masked fields on. The window is kept
    /// as a length, so moving the start alone moves the end with it.
    pub fn to_draft(&self) -> Draft {
        Draft {
            title: self.title.clone(),
            description: self.description.clone(),
            goal_kind: Some(self.goal.kind),
            activity_kind: self.goal.activity_kind.clone(),
            routine_id: self
                .goal
                .routine_id
                .map(|r| r.to_string())
                .unwrap_or_default(),
            target: self.target,
            points: self.points,
            visibility: Some(self.visibility),
            start_date: Some(Some(self.start)),
            end_date: None,
            duration_days: i32::try_from((self.end - self.start).whole_days() + 1).unwrap_or(1),
            max_participants: self.max_participants.unwrap_or(0),
        }
    }
}

/// Field violations in request order (the kit's `Violations` cannot be counted or read back).
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, description: &str) {
        self.0.push((field.to_owned(), description.to_owned()));
    }
    pub fn when(&mut self, bad: bool, field: &str, description: &str) {
        if bad {
            self.add(field, description);
        }
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// The fields named, in order.
    #[cfg(test)]
    pub fn fields(&self) -> Vec<String> {
        self.0.iter().map(|(f, _)| f.clone()).collect()
    }
    /// INVALID_ARGUMENT naming every field, or Ok when there is none.
    pub fn check(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidArgument(self.0))
        }
    }
}

/// Fields of [`Draft`] an update mask may name.
pub const UPDATABLE: [&str; 12] = [
    "title",
    "description",
    "goal_kind",
    "activity_kind",
    "routine_id",
    "target",
    "points",
    "visibility",
    "start_date",
    "end_date",
    "duration_days",
    "max_participants",
];

/// `current` with the fields named in `paths` taken from `wanted`. Unknown paths are violations
/// of `update_mask`; an empty mask is one too (nothing to change is a mistake, not a no-op).
pub fn overlay(v: &mut Violations, current: &Draft, wanted: &Draft, paths: &[String]) -> Draft {
    if paths.is_empty() {
        v.add("update_mask", "is required: name the fields to change");
    }
    let mut d = current.clone();
    let window_named = paths
        .iter()
        .any(|p| p == "end_date" || p == "duration_days");
    if window_named {
        d.end_date = None;
        d.duration_days = 0;
    }
    for p in paths {
        match p.as_str() {
            "title" => d.title.clone_from(&wanted.title),
            "description" => d.description.clone_from(&wanted.description),
            "goal_kind" => d.goal_kind = wanted.goal_kind,
            "activity_kind" => d.activity_kind.clone_from(&wanted.activity_kind),
            "routine_id" => d.routine_id.clone_from(&wanted.routine_id),
            "target" => d.target = wanted.target,
            "points" => d.points = wanted.points,
            "visibility" => d.visibility = wanted.visibility,
            "start_date" => d.start_date = wanted.start_date,
            "end_date" => d.end_date = wanted.end_date,
            "duration_days" => d.duration_days = wanted.duration_days,
            "max_participants" => d.max_participants = wanted.max_participants,
            _ => v.add(
                "update_mask",
                &format!("unknown path {p:?}; updatable: {}", UPDATABLE.join(", ")),
            ),
        }
    }
    d
}

/// Checks `d` for an owner whose local date is `today`; violations name `challenge.<field>`.
/// None when anything is wrong (then `v` says what).
pub fn check(v: &mut Violations, d: &Draft, today: Date) -> Option<Spec> {
    let before = v.len();
    let title = d.title.trim();
    v.when(title.is_empty(), "challenge.title", "is required");
    v.when(
        title.chars().count() > MAX_TITLE,
        "challenge.title",
        &format!("must be at most {MAX_TITLE} characters"),
    );
    // PostgreSQL refuses NUL in text; a title is one line, a description may have lines.
    v.when(
        title.chars().any(char::is_control),
        "challenge.title",
        "must be one line, without control characters",
    );
    v.when(
        d.description.chars().count() > MAX_DESCRIPTION
            || d
                .description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "challenge.description",
        &format!(
            "must be at most {MAX_DESCRIPTION} characters, without control characters but newlines and tabs"
        ),
    );
    let kind = d.goal_kind;
    if kind.is_none() {
        v.add(
            "challenge.goal_kind",
            "is required: one of the GoalKind values",
        );
    }
    let needs_kind = kind.is_some_and(GoalKind::needs_activity_kind);
    if needs_kind && !ACTIVITY_KINDS.contains(&d.activity_kind.as_str()) {
        v.add(
            "challenge.activity_kind",
            &format!("must be one of {}", ACTIVITY_KINDS.join(", ")),
        );
    }
    if !needs_kind && !d.activity_kind.is_empty() {
        v.add(
            "challenge.activity_kind",
            "is only for sessions and minutes goals",
        );
    }
    let routine_id = if d.routine_id.is_empty() {
        None
    } else if kind != Some(GoalKind::RoutinesCompleted) {
        v.add("challenge.routine_id", "is only for routines goals");
        None
    } else {
        match Uuid::parse_str(&d.routine_id) {
            Ok(id) => Some(id),
            Err(_) => {
                v.add("challenge.routine_id", "must be a UUID");
                None
            }
        }
    };
    v.when(
        !(1..=MAX_TARGET).contains(&d.target),
        "challenge.target",
        &format!("must be between 1 and {MAX_TARGET}"),
    );
    v.when(
        !(0..=MAX_POINTS).contains(&d.points),
        "challenge.points",
        &format!("must be between 0 and {MAX_POINTS}"),
    );
    v.when(
        !(0..=MAX_PARTICIPANTS).contains(&d.max_participants),
        "challenge.max_participants",
        &format!("must be between 0 (no cap) and {MAX_PARTICIPANTS}"),
    );
    let (start, end) = window(v, d, today);
    if v.len() > before {
        return None;
    }
    Some(Spec {
        title: title.to_owned(),
        description: d.description.clone(),
        goal: Goal {
            kind: kind?,
            activity_kind: d.activity_kind.clone(),
            routine_id,
        },
        target: d.target,
        points: d.points,
        visibility: d.visibility.unwrap_or(Visibility::Private),
        start: start?,
        end: end?,
        max_participants: (d.max_participants > 0).then_some(d.max_participants),
    })
}

/// The first and last local day: start today by default, not in the past nor more than a year
/// ahead; the end from `end_date` or `duration_days` (7 when neither), at most 366 days long.
fn window(v: &mut Violations, d: &Draft, today: Date) -> (Option<Date>, Option<Date>) {
    let start = match d.start_date {
        None => Some(today),
        Some(None) => {
            v.add("challenge.start_date", "must be a real calendar date");
            None
        }
        Some(Some(s)) if s < today => {
            v.add("challenge.start_date", "must not be in the past");
            None
        }
        Some(Some(s)) if s > today + Duration::days(365) => {
            v.add("challenge.start_date", "must be within a year from today");
            None
        }
        Some(Some(s)) => Some(s),
    };
    let days = |n: i32| Duration::days(i64::from(n) - 1);
    let end = match (d.end_date, d.duration_days) {
        (Some(_), n) if n != 0 => {
            v.add(
                "challenge.duration_days",
                "set end_date or duration_days, not both",
            );
            None
        }
        (Some(None), _) => {
            v.add("challenge.end_date", "must be a real calendar date");
            None
        }
        (Some(Some(e)), _) => match start {
            Some(s) if e < s => {
                v.add("challenge.end_date", "must not be before start_date");
                None
            }
            Some(s) if e > s + days(MAX_DAYS) => {
                v.add(
                    "challenge.end_date",
                    &format!("must be at most {MAX_DAYS} days after start_date"),
                );
                None
            }
            _ => Some(e),
        },
        (None, n) if !(0..=MAX_DAYS).contains(&n) => {
            v.add(
                "challenge.duration_days",
                &format!("must be between 1 and {MAX_DAYS}"),
            );
            None
        }
        (None, 0) => start.map(|s| s + days(DEFAULT_DAYS)),
        (None, n) => start.map(|s| s + days(n)),
    };
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 18);

    fn draft() -> Draft {
        Draft {
            title: "Deep work".into(),
            goal_kind: Some(GoalKind::Minutes),
            activity_kind: "focus".into(),
            target: 300,
            points: 20,
            ..Draft::default()
        }
    }

    fn fields(d: &Draft) -> Vec<String> {
        let mut v = Violations::new();
        assert!(check(&mut v, d, TODAY).is_none(), "{d:?} passed");
        v.fields()
    }

    #[test]
    fn a_minimal_draft_runs_seven_days_from_today_and_is_private() {
        let mut v = Violations::new();
        let s = check(&mut v, &draft(), TODAY).expect("valid");
        assert_eq!((s.start, s.end), (TODAY, date!(2026 - 11 - 24)));
        assert_eq!(s.visibility, Visibility::Private);
        assert_eq!(s.max_participants, None);
        assert_eq!(s.goal.kind, GoalKind::Minutes);
        // A window by end date, or by length.
        let d = Draft {
            start_date: Some(Some(date!(2026 - 12 - 01))),
            end_date: Some(Some(date!(2026 - 12 - 01))),
            ..draft()
        };
        let s = check(&mut v, &d, TODAY).expect("one day");
        assert_eq!(
            (s.start, s.end),
            (date!(2026 - 12 - 01), date!(2026 - 12 - 01))
        );
        let d = Draft {
            duration_days: 30,
            ..draft()
        };
        assert_eq!(
            check(&mut v, &d, TODAY).map(|s| s.end),
            Some(date!(2026 - 12 - 17))
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let d = Draft {
            title: "  ".into(),
            description: "x".repeat(501),
            goal_kind: None,
            activity_kind: "nap".into(),
            routine_id: "r".into(),
            target: 0,
            points: 101,
            start_date: Some(Some(date!(2026 - 11 - 17))),
            duration_days: 400,
            max_participants: -1,
            ..Draft::default()
        };
        assert_eq!(
            fields(&d),
            [
                "challenge.title",
                "challenge.description",
                "challenge.goal_kind",
                "challenge.activity_kind",
                "challenge.routine_id",
                "challenge.target",
                "challenge.points",
                "challenge.max_participants",
                "challenge.start_date",
                "challenge.duration_days",
            ]
        );
    }

    #[test]
    fn control_characters_are_refused() {
        let d = Draft {
            title: "a\0b".into(),
            description: "line\nline\tx\u{7}".into(),
            ..draft()
        };
        assert_eq!(fields(&d), ["challenge.title", "challenge.description"]);
        let d = Draft {
            description: "line\nline\tx".into(),
            ..draft()
        };
        let mut v = Violations::new();
        assert!(check(&mut v, &d, TODAY).is_some());
    }

    #[test]
    fn goal_fields_must_fit_the_goal_kind() {
        let d = Draft {
            activity_kind: String::new(),
            ..draft()
        };
        assert_eq!(fields(&d), ["challenge.activity_kind"]);
        let d = Draft {
            goal_kind: Some(GoalKind::TasksCompleted),
            ..draft()
        };
        assert_eq!(fields(&d), ["challenge.activity_kind"]);
        let d = Draft {
            goal_kind: Some(GoalKind::RoutinesCompleted),
            activity_kind: String::new(),
            routine_id: "not-a-uuid".into(),
            ..draft()
        };
        assert_eq!(fields(&d), ["challenge.routine_id"]);
        let d = Draft {
            goal_kind: Some(GoalKind::RoutinesCompleted),
            activity_kind: String::new(),
            routine_id: Uuid::from_u128(1).to_string(),
            ..draft()
        };
        let mut v = Violations::new();
        let s = check(&mut v, &d, TODAY).expect("valid");
        assert_eq!(s.goal.routine_id, Some(Uuid::from_u128(1)));
    }

    #[test]
    fn window_rules_name_their_field() {
        let at = |start, end, n| Draft {
            start_date: start,
            end_date: end,
            duration_days: n,
            ..draft()
        };
        let d = |y, m, dd| Some(Some(Date::from_calendar_date(y, m, dd).unwrap()));
        use time::Month::*;
        assert_eq!(fields(&at(Some(None), None, 0)), ["challenge.start_date"]);
        assert_eq!(
            fields(&at(d(2027, December, 1), None, 0)),
            ["challenge.start_date"]
        );
        assert_eq!(
            fields(&at(None, d(2026, November, 17), 0)),
            ["challenge.end_date"]
        );
        assert_eq!(fields(&at(None, Some(None), 0)), ["challenge.end_date"]);
        assert_eq!(
            fields(&at(None, d(2026, November, 20), 3)),
            ["challenge.duration_days"]
        );
        assert_eq!(
            fields(&at(None, d(2027, November, 19), 0)),
            ["challenge.end_date"]
        );
    }

    #[test]
    fn an_update_overlays_only_the_masked_fields_and_keeps_the_length() {
        let mut v = Violations::new();
        let current = check(&mut v, &draft(), TODAY).expect("valid").to_draft();
        let wanted = Draft {
            title: "New".into(),
            target: 1,
            start_date: Some(Some(date!(2026 - 11 - 20))),
            ..Draft::default()
        };
        let paths = ["title".to_owned(), "start_date".to_owned()];
        let d = overlay(&mut v, &current, &wanted, &paths);
        let s = check(&mut v, &d, TODAY).expect("valid");
        assert!(v.fields().is_empty());
        assert_eq!(s.title, "New");
        assert_eq!(s.target, 300, "not in the mask");
        // Moved with its start, still seven days.
        assert_eq!(
            (s.start, s.end),
            (date!(2026 - 11 - 20), date!(2026 - 11 - 26))
        );
        // A new length.
        let wanted = Draft {
            duration_days: 2,
            ..Draft::default()
        };
        let d = overlay(&mut v, &current, &wanted, &["duration_days".to_owned()]);
        assert_eq!(
            check(&mut v, &d, TODAY).map(|s| s.end),
            Some(date!(2026 - 11 - 19))
        );
    }

    #[test]
    fn an_empty_or_unknown_mask_is_named() {
        let mut v = Violations::new();
        overlay(&mut v, &draft(), &draft(), &[]);
        assert_eq!(v.fields(), ["update_mask"]);
        let mut v = Violations::new();
        overlay(&mut v, &draft(), &draft(), &["owner_id".to_owned()]);
        assert_eq!(v.fields(), ["update_mask"]);
    }
}
