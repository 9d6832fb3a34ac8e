//! Tasks (seed 001): what a valid task is, how a field-mask update applies, and which bucket
//! (Today, Upcoming, Overdue, Done) a task falls in on the user's local date.

use stride_kit::{Violations, convert};
use time::{Date, OffsetDateTime};

use super::Unknown;

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

impl TryFrom<String> for Priority {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| Unknown::new("task priority", name))
    }
}

/// Where a task falls on the user's local date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Not completed, due on today's local date.
    Today,
    /// Not completed, due after today, or without a due time.
    Upcoming,
    /// Not completed, due before today.
    Overdue,
    /// Completed, whenever it was due.
    Done,
}

/// A task's editable fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    pub title: String,
    pub description: String,
    pub start_at: Option<OffsetDateTime>,
    pub due_at: Option<OffsetDateTime>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub reminder_enabled: bool,
    pub reminder_at: Option<OffsetDateTime>,
    pub completed: bool,
}

/// The paths an update mask may name: the API's field names.
pub const MASK_PATHS: [&str; 9] = [
    "title",
    "description",
    "start_time",
    "due_time",
    "completed",
    "priority",
    "tags",
    "reminder_enabled",
    "reminder_time",
];

/// Tags as stored: trimmed, lower-cased, without repeats, in the order given. Bad ones are
/// named `field[i]`.
pub fn normalize_tags(v: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    if raw.len() > MAX_TAGS {
        v.add(field, "at most 20 tags");
        return Vec::new();
    }
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let tag = t.trim().to_lowercase();
        let n = tag.chars().count();
        if n == 0 || n > MAX_TAG || tag.chars().any(char::is_control) {
            v.add(
                &format!("{field}[{i}]"),
                "must be 1 to 32 printable characters",
            );
        } else if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The rules every stored task keeps, violations named `task.<field>`. Tags are checked by
/// [`normalize_tags`] when they come in.
pub fn check(v: &mut Violations, f: &Fields) {
    let title = f.title.trim();
    v.when(title.is_empty(), "task.title", "is required");
    // PostgreSQL text cannot hold NUL.
    v.when(f.title.contains('\0'), "task.title", "must not contain NUL");
    v.when(
        f.description.contains('\0'),
        "task.description",
        "must not contain NUL",
    );
    v.when(
        f.title.chars().count() > MAX_TITLE,
        "task.title",
        "at most 200 characters",
    );
    v.when(
        f.description.chars().count() > MAX_DESCRIPTION,
        "task.description",
        "at most 5000 characters",
    );
    if let (Some(start), Some(due)) = (f.start_at, f.due_at) {
        v.when(
            due < start,
            "task.due_time",
            "must not be before start_time",
        );
    }
    v.when(
        f.reminder_enabled && f.reminder_at.is_none(),
        "task.reminder_time",
        "is required when reminder_enabled is true",
    );
}

/// `current` with the fields `paths` name taken from `wanted`; unknown or missing paths are
/// violations on `update_mask`. The result still has to pass [`check`].
pub fn apply(v: &mut Violations, paths: &[String], wanted: &Fields, current: &Fields) -> Fields {
    if paths.is_empty() {
        v.add(
            "update_mask",
            "name at least one field to update, e.g. title or completed",
        );
        return current.clone();
    }
    if paths.len() > MASK_PATHS.len() * 2 {
        v.add("update_mask.paths", "too many paths");
        return current.clone();
    }
    let mut next = current.clone();
    for p in paths {
        match p.as_str() {
            "title" => next.title.clone_from(&wanted.title),
            "description" => next.description.clone_from(&wanted.description),
            "start_time" => next.start_at = wanted.start_at,
            "due_time" => next.due_at = wanted.due_at,
            "completed" => next.completed = wanted.completed,
            "priority" => next.priority = wanted.priority,
            "tags" => next.tags.clone_from(&wanted.tags),
            "reminder_enabled" => next.reminder_enabled = wanted.reminder_enabled,
            "reminder_time" => next.reminder_at = wanted.reminder_at,
            other => {
                let shown: String = other.chars().take(64).collect();
                v.add(
                    "update_mask.paths",
                    &format!(
                        "unknown field {shown:?}; allowed: {}",
                        MASK_PATHS.join(", ")
                    ),
                );
            }
        }
    }
    next
}

/// The API names of the fields that differ, `completed` excluded (a completion is announced on
/// its own).
pub fn changed(before: &Fields, after: &Fields) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut diff = |name, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    diff("title", before.title != after.title);
    diff("description", before.description != after.description);
    diff("start_time", before.start_at != after.start_at);
    diff("due_time", before.due_at != after.due_at);
    diff("priority", before.priority != after.priority);
    diff("tags", before.tags != after.tags);
    diff(
        "reminder_enabled",
        before.reminder_enabled != after.reminder_enabled,
    );
    diff("reminder_time", before.reminder_at != after.reminder_at);
    out
}

/// Today's local date in zone `tz` as instants: `[today_start, tomorrow_start)`. A list filter
/// by bucket is a range on the due instant; [`bucket`] is the same rule for one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub today: Date,
    pub today_start: OffsetDateTime,
    pub tomorrow_start: OffsetDateTime,
}

/// The window of the user's local date at `now` in `tz` (unknown zones count as UTC). A day is
/// not always 24 hours: across a DST change it is 23 or 25, and both ends are the first instant
/// of their local date.
pub fn window(now: OffsetDateTime, tz: &str) -> Window {
    let today = convert::local_date(now, tz);
    let tomorrow = today.next_day().unwrap_or(today);
    Window {
        today,
        today_start: start_of_day(today, tz),
        tomorrow_start: start_of_day(tomorrow, tz),
    }
}

/// The first instant of local date `d` in `tz`. Where midnight does not exist (a DST gap at
/// midnight), the first instant after the gap.
pub fn start_of_day(d: Date, tz: &str) -> OffsetDateTime {
    let fallback = d.midnight().assume_utc();
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let (Ok(year), Ok(month), Ok(day)) = (
        i16::try_from(d.year()),
        i8::try_from(u8::from(d.month())),
        i8::try_from(d.day()),
    ) else {
        return fallback;
    };
    jiff::civil::Date::new(year, month, day)
        .and_then(|c| c.to_zoned(zone))
        .ok()
        .and_then(|z| OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or(fallback)
}

/// The bucket of a task on the user's local date at `now` in `tz`.
pub fn bucket(
    completed: bool,
    due: Option<OffsetDateTime>,
    now: OffsetDateTime,
    tz: &str,
) -> Bucket {
    if completed {
        return Bucket::Done;
    }
    let Some(due) = due else {
        return Bucket::Upcoming;
    };
    let today = convert::local_date(now, tz);
    let due_date = convert::local_date(due, tz);
    match due_date.cmp(&today) {
        std::cmp::Ordering::Less => Bucket::Overdue,
        std::cmp::Ordering::Equal => Bucket::Today,
        std::cmp::Ordering::Greater => Bucket::Upcoming,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{
        Duration,
        macros::{date, datetime},
    };

    fn fields() -> Fields {
        Fields {
            title: "Write report".into(),
            description: String::new(),
            start_at: None,
            due_at: None,
            priority: Priority::Medium,
            tags: Vec::new(),
            reminder_enabled: false,
            reminder_at: None,
            completed: false,
        }
    }

    fn violations(f: impl FnOnce(&mut Violations)) -> Vec<String> {
        let mut v = Violations::new();
        f(&mut v);
        match v.check() {
            Ok(()) => Vec::new(),
            Err(stride_kit::AppError::InvalidArgument(list)) => {
                list.into_iter().map(|(f, _)| f).collect()
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn buckets_follow_the_local_date_not_utc() {
        let now = datetime!(2026-11-22 23:30 UTC);
        // Due at 01:00 UTC on the 23rd: tomorrow in UTC and in New York (20:00 on the 22nd is
        // today there), already today in Tokyo (it is the 23rd there at `now`).
        let due = Some(datetime!(2026-11-23 01:00 UTC));
        assert_eq!(bucket(false, due, now, "UTC"), Bucket::Upcoming);
        assert_eq!(bucket(false, due, now, "America/New_York"), Bucket::Today);
        assert_eq!(bucket(false, due, now, "Asia/Tokyo"), Bucket::Today);
        // Due at 10:00 UTC on the 22nd: overdue in Tokyo (the 22nd is yesterday there), today
        // in UTC and in New York.
        let due = Some(datetime!(2026-11-22 10:00 UTC));
        assert_eq!(bucket(false, due, now, "Asia/Tokyo"), Bucket::Overdue);
        assert_eq!(bucket(false, due, now, "UTC"), Bucket::Today);
        assert_eq!(bucket(false, due, now, "America/New_York"), Bucket::Today);
        // Done wins over every date; no due time is upcoming.
        assert_eq!(bucket(true, due, now, "Asia/Tokyo"), Bucket::Done);
        assert_eq!(bucket(false, None, now, "UTC"), Bucket::Upcoming);
        // Earlier today is today, not overdue.
        let due = Some(datetime!(2026-11-22 00:00 UTC));
        assert_eq!(bucket(false, due, now, "UTC"), Bucket::Today);
        assert_eq!(
            bucket(false, Some(datetime!(2026-11-21 23:59:59 UTC)), now, "UTC"),
            Bucket::Overdue
        );
    }

    #[test]
    fn across_a_dst_change_the_day_is_23_or_25_hours_and_buckets_follow() {
        // Paris springs forward on 2026-03-29 (02:00 CET → 03:00 CEST at 01:00 UTC).
        let w = window(datetime!(2026-03-29 12:00 UTC), "Europe/Paris");
        assert_eq!(w.today, date!(2026 - 03 - 29));
        assert_eq!(w.today_start, datetime!(2026-03-28 23:00 UTC));
        assert_eq!(w.tomorrow_start, datetime!(2026-03-29 22:00 UTC));
        assert_eq!(w.tomorrow_start - w.today_start, Duration::hours(23));
        // 22:30 UTC on the 29th is already the 30th in Paris (CEST): upcoming, where the
        // same clock time the day before (CET) was still the same day.
        let now = datetime!(2026-03-29 12:00 UTC);
        assert_eq!(
            bucket(
                false,
                Some(datetime!(2026-03-29 22:30 UTC)),
                now,
                "Europe/Paris"
            ),
            Bucket::Upcoming
        );
        assert_eq!(
            bucket(
                false,
                Some(datetime!(2026-03-29 21:30 UTC)),
                now,
                "Europe/Paris"
            ),
            Bucket::Today
        );
        assert_eq!(
            bucket(
                false,
                Some(datetime!(2026-03-28 22:30 UTC)),
                now,
                "Europe/Paris"
            ),
            Bucket::Overdue
        );
        // Falling back on 2026-10-25 makes a 25-hour day.
        let w = window(datetime!(2026-10-25 12:00 UTC), "Europe/Paris");
        assert_eq!(w.today_start, datetime!(2026-10-24 22:00 UTC));
        assert_eq!(w.tomorrow_start, datetime!(2026-10-25 23:00 UTC));
        assert_eq!(w.tomorrow_start - w.today_start, Duration::hours(25));
        // New York springs forward on 2026-03-08: the day starts at 05:00 UTC (EST), ends at
        // 04:00 UTC (EDT).
        let w = window(datetime!(2026-03-08 15:00 UTC), "America/New_York");
        assert_eq!(w.today_start, datetime!(2026-03-08 05:00 UTC));
        assert_eq!(w.tomorrow_start, datetime!(2026-03-09 04:00 UTC));
    }

    #[test]
    fn a_midnight_that_does_not_exist_starts_the_day_after_the_gap() {
        // Santiago springs forward at midnight: 2026-09-06 00:00 -04 does not exist, the day
        // starts at 01:00 -03 (04:00 UTC).
        let start = start_of_day(date!(2026 - 09 - 06), "America/Santiago");
        assert_eq!(
            convert::local_date(start, "America/Santiago"),
            date!(2026 - 09 - 06)
        );
        assert_eq!(
            convert::local_date(start - Duration::seconds(1), "America/Santiago"),
            date!(2026 - 09 - 05)
        );
        // Unknown zones are UTC.
        assert_eq!(
            start_of_day(date!(2026 - 01 - 01), "Mars/Olympus"),
            datetime!(2026-01-01 00:00 UTC)
        );
    }

    #[test]
    fn the_window_and_the_bucket_agree_on_every_instant() {
        // What the list filter (a range on the due instant) selects is what `bucket` says,
        // every 20 minutes over two days around each change, in zones either side of UTC.
        for (now, tz) in [
            (datetime!(2026-03-29 09:00 UTC), "Europe/Paris"),
            (datetime!(2026-10-25 09:00 UTC), "Europe/Paris"),
            (datetime!(2026-03-08 16:00 UTC), "America/New_York"),
            (datetime!(2026-04-05 02:00 UTC), "Australia/Sydney"),
            (datetime!(2026-11-22 23:30 UTC), "Asia/Kolkata"),
            (datetime!(2026-11-22 23:30 UTC), "UTC"),
        ] {
            let w = window(now, tz);
            let mut due = now - Duration::days(2);
            while due < now + Duration::days(2) {
                let by_range = if due < w.today_start {
                    Bucket::Overdue
                } else if due < w.tomorrow_start {
                    Bucket::Today
                } else {
                    Bucket::Upcoming
                };
                assert_eq!(bucket(false, Some(due), now, tz), by_range, "{tz} {due}");
                due += Duration::minutes(20);
            }
        }
    }

    #[test]
    fn a_valid_task_passes_and_each_bad_field_is_named() {
        assert!(violations(|v| check(v, &fields())).is_empty());
        let bad = Fields {
            title: "   ".into(),
            description: "x".repeat(MAX_DESCRIPTION + 1),
            start_at: Some(datetime!(2026-11-22 10:00 UTC)),
            due_at: Some(datetime!(2026-11-22 09:00 UTC)),
            reminder_enabled: true,
            reminder_at: None,
            ..fields()
        };
        assert_eq!(
            violations(|v| check(v, &bad)),
            [
                "task.title",
                "task.description",
                "task.due_time",
                "task.reminder_time"
            ]
        );
        let long = Fields {
            title: "é".repeat(MAX_TITLE + 1),
            ..fields()
        };
        assert_eq!(violations(|v| check(v, &long)), ["task.title"]);
        let ok = Fields {
            title: "é".repeat(MAX_TITLE),
            start_at: Some(datetime!(2026-11-22 10:00 UTC)),
            due_at: Some(datetime!(2026-11-22 10:00 UTC)),
            ..fields()
        };
        assert!(violations(|v| check(v, &ok)).is_empty());
    }

    #[test]
    fn tags_are_trimmed_lowercased_and_deduplicated() {
        let mut v = Violations::new();
        let raw: Vec<String> = [" Urgent", "urgent", "Dev "].map(String::from).to_vec();
        assert_eq!(normalize_tags(&mut v, "task.tags", &raw), ["urgent", "dev"]);
        assert!(v.is_empty());
        let raw: Vec<String> = ["ok", " ", &"x".repeat(33), "a\u{0}b"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            violations(|v| {
                normalize_tags(v, "task.tags", &raw);
            }),
            ["task.tags[1]", "task.tags[2]", "task.tags[3]"]
        );
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(
            violations(|v| {
                normalize_tags(v, "task.tags", &many);
            }),
            ["task.tags"]
        );
    }

    #[test]
    fn a_mask_applies_only_the_fields_it_names() {
        let current = Fields {
            due_at: Some(datetime!(2026-11-23 17:00 UTC)),
            tags: vec!["work".into()],
            ..fields()
        };
        let wanted = Fields {
            title: "ignored".into(),
            priority: Priority::High,
            completed: true,
            ..fields()
        };
        let mut v = Violations::new();
        let paths = ["priority".to_owned(), "completed".into(), "due_time".into()];
        let next = apply(&mut v, &paths, &wanted, &current);
        assert!(v.is_empty());
        assert_eq!(next.title, "Write report");
        assert_eq!(next.priority, Priority::High);
        assert!(next.completed);
        assert_eq!(next.due_at, None, "a named time left unset clears it");
        assert_eq!(next.tags, ["work"]);
        assert_eq!(changed(&current, &next), ["due_time", "priority"]);

        assert_eq!(
            violations(|v| {
                apply(v, &[], &wanted, &current);
            }),
            ["update_mask"]
        );
        assert_eq!(
            violations(|v| {
                apply(
                    v,
                    &["id".into(), "title".into(), "bucket".into()],
                    &wanted,
                    &current,
                );
            }),
            ["update_mask.paths", "update_mask.paths"]
        );
        let many: Vec<String> = (0..19).map(|_| "title".to_owned()).collect();
        assert_eq!(
            violations(|v| {
                apply(v, &many, &wanted, &current);
            }),
            ["update_mask.paths"]
        );
    }

    #[test]
    fn priorities_are_stored_by_their_name() {
        for p in Priority::ALL {
            assert_eq!(Priority::try_from(p.as_str().to_owned()).unwrap(), p);
        }
        assert!(Priority::try_from("urgent".to_owned()).is_err());
    }
}
