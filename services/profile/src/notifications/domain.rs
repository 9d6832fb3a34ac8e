//! Notification rules: kinds and channels with their defaults, quiet hours in local time (a
//! window that may cross midnight), local wall times to instants across DST, and when a
//! reminder may go out. Pure: no database, no transport.

use jiff::{
    Timestamp,
    civil::{Date as CivilDate, DateTime, Time},
    tz::TimeZone,
};
use stride_kit::Violations;
use time::OffsetDateTime;

/// Push devices one user may hold; registering one more refuses.
pub const MAX_DEVICES: i64 = 10;
pub const TOKEN_MAX: usize = 4096;
pub const DEVICE_NAME_MAX: usize = 64;
pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 2000;
pub const KEY_MAX: usize = 128;
const MINUTES_PER_DAY: i32 = 1440;
/// The local hour by which a user who was active yesterday and not yet today is told their
/// streak is at risk.
pub const STREAK_CHECK_HOUR: i8 = 19;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    TaskReminder,
    StreakAtRisk,
    ChallengeEnding,
    PlanDayDue,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::TaskReminder,
        Kind::StreakAtRisk,
        Kind::ChallengeEnding,
        Kind::PlanDayDue,
        Kind::Other,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TaskReminder => "task_reminder",
            Kind::StreakAtRisk => "streak_at_risk",
            Kind::ChallengeEnding => "challenge_ending",
            Kind::PlanDayDue => "plan_day_due",
            Kind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Channels a user has before choosing: inbox and push for everything, email for what
    /// is worth a mail on its own (a streak about to break, a challenge about to end).
    pub fn default_channels(self) -> Channels {
        Channels {
            email: matches!(self, Kind::StreakAtRisk | Kind::ChallengeEnding),
            push: true,
            inbox: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channels {
    pub email: bool,
    pub push: bool,
    pub inbox: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Push,
    Inbox,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Push => "push",
            Channel::Inbox => "inbox",
        }
    }
}

impl Channels {
    pub fn enabled(self) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.inbox {
            out.push(Channel::Inbox);
        }
        if self.push {
            out.push(Channel::Push);
        }
        if self.email {
            out.push(Channel::Email);
        }
        out
    }
}

/// One kind's channels as the user set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preference {
    pub kind: Kind,
    pub channels: Channels,
}

/// Every kind, each with its stored preference or its default, in [`Kind::ALL`] order.
pub fn complete(stored: &[Preference]) -> Vec<Preference> {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            stored
                .iter()
                .find(|p| p.kind == kind)
                .copied()
                .unwrap_or(Preference {
                    kind,
                    channels: kind.default_channels(),
                })
        })
        .collect()
}

/// A daily local window (minutes after midnight) in which nothing is pushed or mailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub enabled: bool,
    pub start_minute: i32,
    pub end_minute: i32,
}

impl Default for QuietHours {
    /// 22:00–07:00, on: nobody wants a reminder at 3 a.m.
    fn default() -> Self {
        QuietHours {
            enabled: true,
            start_minute: 22 * 60,
            end_minute: 7 * 60,
        }
    }
}

impl QuietHours {
    /// Whether local minute-of-day `m` is inside the window (start inclusive, end exclusive).
    pub fn contains(&self, m: i32) -> bool {
        if !self.enabled || self.start_minute == self.end_minute {
            return false;
        }
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&m)
        } else {
            // Crosses midnight: 22:00–07:00 is 22:00..24:00 and 00:00..07:00.
            m >= self.start_minute || m < self.end_minute
        }
    }

    /// Checks the values (`field` is where the window sits in the request).
    pub fn check(&self, v: &mut Violations, field: &str) {
        for (name, m) in [
            ("start_minute", self.start_minute),
            ("end_minute", self.end_minute),
        ] {
            v.when(
                !(0..MINUTES_PER_DAY).contains(&m),
                &format!("{field}.{name}"),
                "must be a minute of the day, 0 to 1439",
            );
        }
        v.when(
            self.enabled && self.start_minute == self.end_minute,
            &format!("{field}.end_minute"),
            "must differ from start_minute (an empty window: turn quiet hours off instead)",
        );
    }
}

/// Checks a full replacement of the preferences: known kinds, each at most once.
pub fn check_preferences(
    v: &mut Violations,
    prefs: &[(Option<Kind>, Channels)],
) -> Vec<Preference> {
    let mut out: Vec<Preference> = Vec::new();
    if prefs.len() > Kind::ALL.len() {
        v.add("settings.preferences", "at most one entry per kind");
        return out;
    }
    for (i, (kind, channels)) in prefs.iter().enumerate() {
        let field = format!("settings.preferences[{i}].kind");
        match kind {
            None => v.add(&field, "must be a notification kind"),
            Some(k) if out.iter().any(|p| p.kind == *k) => v.add(&field, "is listed twice"),
            Some(k) => out.push(Preference {
                kind: *k,
                channels: *channels,
            }),
        }
    }
    out
}

/// A device's label: trimmed, bounded, without control characters.
pub fn check_device(v: &mut Violations, token: &str, display_name: &str) -> String {
    v.when(
        token.trim().is_empty() || token.len() > TOKEN_MAX || token.chars().any(char::is_control),
        "token",
        "must be a push registration token (1 to 4096 characters)",
    );
    let name = display_name.trim();
    v.when(
        name.chars().count() > DEVICE_NAME_MAX || name.chars().any(char::is_control),
        "display_name",
        "must be at most 64 characters, without control characters",
    );
    name.to_owned()
}

/// A title and body shown to the user.
pub fn check_text(v: &mut Violations, title: &str, body: &str) {
    v.when(
        title.trim().is_empty() || title.chars().count() > TITLE_MAX,
        "title",
        "must be 1 to 200 characters",
    );
    v.when(
        body.chars().count() > BODY_MAX,
        "body",
        "must be at most 2000 characters",
    );
}

pub fn zone(tz: &str) -> TimeZone {
    TimeZone::get(tz).unwrap_or(TimeZone::UTC)
}

fn to_jiff(t: OffsetDateTime) -> Timestamp {
    Timestamp::from_nanosecond(t.unix_timestamp_nanos()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn from_jiff(t: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A local wall time, as the user means it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime(pub DateTime);

impl LocalTime {
    /// From the API's fields; None when they name no real date and time.
    pub fn new(year: i32, month: i32, day: i32, hours: i32, minutes: i32) -> Option<Self> {
        let date = CivilDate::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        )
        .ok()?;
        let time = Time::new(i8::try_from(hours).ok()?, i8::try_from(minutes).ok()?, 0, 0).ok()?;
        Some(LocalTime(date.to_datetime(time)))
    }

    /// The instant this wall time happens in `tz`. A time skipped by a spring-forward happens
    /// as soon as the clock shows a later time (02:30 on a 02:00→03:00 day is 03:30); a time
    /// that happens twice (fall-back) is its first occurrence.
    pub fn instant(self, tz: &str) -> OffsetDateTime {
        match zone(tz).to_ambiguous_zoned(self.0).compatible() {
            Ok(z) => from_jiff(z.timestamp()),
            Err(_) => from_jiff(Timestamp::UNIX_EPOCH),
        }
    }

    /// The wall time instant `t` shows in `tz`, to the minute.
    pub fn at(t: OffsetDateTime, tz: &str) -> Self {
        let dt = to_jiff(t).to_zoned(zone(tz)).datetime();
        LocalTime(
            dt.date()
                .to_datetime(Time::new(dt.hour(), dt.minute(), 0, 0).unwrap_or(Time::midnight())),
        )
    }

    /// As stored (`timestamp without time zone`).
    pub fn to_primitive(self) -> time::PrimitiveDateTime {
        let d = self.0;
        let date = time::Month::try_from(d.month() as u8)
            .ok()
            .and_then(|m| {
                time::Date::from_calendar_date(i32::from(d.year()), m, d.day() as u8).ok()
            })
            .unwrap_or(time::Date::MIN);
        let t = time::Time::from_hms(d.hour() as u8, d.minute() as u8, 0)
            .unwrap_or(time::Time::MIDNIGHT);
        time::PrimitiveDateTime::new(date, t)
    }

    pub fn from_primitive(p: time::PrimitiveDateTime) -> Self {
        LocalTime::new(
            p.year(),
            i32::from(u8::from(p.month())),
            i32::from(p.day()),
            i32::from(p.hour()),
            i32::from(p.minute()),
        )
        .unwrap_or(LocalTime(DateTime::default()))
    }
}

/// The local wall time of instant `t` in `tz`.
pub fn local_at(t: OffsetDateTime, tz: &str) -> DateTime {
    to_jiff(t).to_zoned(zone(tz)).datetime()
}

/// When something due at `due` may be pushed or mailed: `due` itself, or — when `due` falls in
/// quiet hours in `tz` — the end of that quiet window (its local end time on the right day,
/// across DST).
pub fn outside_quiet_hours(due: OffsetDateTime, tz: &str, quiet: &QuietHours) -> OffsetDateTime {
    let local = local_at(due, tz);
    let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
    if !quiet.contains(minute) {
        return due;
    }
    // The window ends today if its end is still ahead, otherwise tomorrow (a window crossing
    // midnight entered before midnight).
    let end_h = i8::try_from(quiet.end_minute / 60).unwrap_or(0);
    let end_m = i8::try_from(quiet.end_minute % 60).unwrap_or(0);
    let end_time = Time::new(end_h, end_m, 0, 0).unwrap_or(Time::midnight());
    let day = if minute < quiet.end_minute {
        local.date()
    } else {
        local.date().tomorrow().unwrap_or(local.date())
    };
    let end = LocalTime(day.to_datetime(end_time)).instant(tz);
    // A DST change can never move the end before `due`; keep it monotone all the same.
    end.max(due)
}

/// The local time at which a user active on local date `active_on` is warned that their
/// streak is at risk, if nothing happened by then: the next day at [`STREAK_CHECK_HOUR`].
pub fn streak_check(active_on: time::Date) -> Option<LocalTime> {
    let next = active_on.next_day()?;
    LocalTime::new(
        next.year(),
        i32::from(u8::from(next.month())),
        i32::from(next.day()),
        i32::from(STREAK_CHECK_HOUR),
        0,
    )
}

/// What a streak-at-risk reminder for local date `day` is keyed by (one per user per day).
pub fn streak_key(day: time::Date) -> String {
    format!("streak:{day}")
}

/// Retry delay after `attempts` failed deliveries: 1, 2, 4 … minutes, capped at an hour.
pub fn retry_delay(attempts: i32) -> time::Duration {
    let exp = attempts.clamp(0, 6) as u32;
    time::Duration::minutes(i64::from(2_i32.pow(exp)).min(60))
}

/// What a task's state asks of its reminder (task events carry the task as it now is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskReminder {
    /// Remind at this instant, under this key (one key per task and reminder time: moving the
    /// time re-arms a reminder that already fired, an unchanged time never fires twice).
    Schedule { key: String, at: OffsetDateTime },
    /// No reminder for this task any more: cancel whatever is pending.
    Cancel,
}

/// The rule: an open task with its reminder on and set for a time still ahead gets one; a
/// completed or deleted task, a reminder switched off, or a time already past gets none (a
/// reminder for a moment that has gone by would only be noise).
pub fn task_reminder(
    task_id: &str,
    enabled: bool,
    completed: bool,
    at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> TaskReminder {
    match at {
        Some(at) if enabled && !completed && at > now => TaskReminder::Schedule {
            key: format!("{task_id}@{}", at.unix_timestamp()),
            at,
        },
        _ => TaskReminder::Cancel,
    }
}

/// The key prefix every reminder of one task shares.
pub fn task_key_prefix(task_id: &str) -> String {
    format!("{task_id}@")
}

/// The local hour at which a participant is told a challenge window ends tomorrow.
pub const CHALLENGE_ENDING_HOUR: i8 = 18;
/// The local hour at which a user is told a plan training day is today.
pub const PLAN_DAY_HOUR: i8 = 8;

fn civil(d: time::Date) -> Option<CivilDate> {
    CivilDate::new(
        i16::try_from(d.year()).ok()?,
        i8::try_from(u8::from(d.month())).ok()?,
        i8::try_from(d.day()).ok()?,
    )
    .ok()
}

fn local_on(d: time::Date, hour: i8) -> Option<LocalTime> {
    Some(LocalTime(
        civil(d)?.to_datetime(Time::new(hour, 0, 0, 0).ok()?),
    ))
}

/// One participant's current challenge window (local dates, inclusive; no end for a
/// challenge that never ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeWindow {
    pub start: time::Date,
    pub end: Option<time::Date>,
    /// The window recurs every week.
    pub weekly: bool,
}

impl ChallengeWindow {
    /// The following week's window (the same window for a one-off challenge: None).
    pub fn next(self) -> Option<ChallengeWindow> {
        if !self.weekly {
            return None;
        }
        Some(ChallengeWindow {
            start: self.start.checked_add(time::Duration::days(7))?,
            end: Some(self.end?.checked_add(time::Duration::days(7))?),
            weekly: true,
        })
    }
}

/// A reminder to arm: its key (unique per user) and its local wall time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub key: String,
    pub at: LocalTime,
}

/// The key of the challenge-ending reminder of one window: the prefix is the challenge, so an
/// early end cancels every participant's reminder by prefix.
pub fn challenge_key(challenge_id: &str, window_start: time::Date) -> String {
    format!("{}{window_start}", challenge_key_prefix(challenge_id))
}

pub fn challenge_key_prefix(challenge_id: &str) -> String {
    format!("challenge:{challenge_id}@")
}

/// The rule: remind on the day before the window's last local day at
/// [`CHALLENGE_ENDING_HOUR`], unless the participant already completed this window; never for
/// a window without end, already past, ending today, or whose reminder time has gone by. A
/// weekly challenge whose current window gets no reminder for time reasons gets next week's.
pub fn challenge_ending(
    challenge_id: &str,
    window: ChallengeWindow,
    completed: bool,
    now: OffsetDateTime,
    tz: &str,
) -> Option<Planned> {
    let mut w = window;
    let mut done = completed;
    // At most a couple of hops: a weekly window is 7 days long at most.
    for _ in 0..3 {
        let end = w.end?;
        let at = end
            .previous_day()
            .and_then(|d| local_on(d, CHALLENGE_ENDING_HOUR));
        if let Some(at) = at.filter(|at| !done && at.instant(tz) > now) {
            return Some(Planned {
                key: challenge_key(challenge_id, w.start),
                at,
            });
        }
        w = w.next()?;
        done = false;
    }
    None
}

/// The reminder of a weekly challenge's next window, after this window's one was delivered or
/// cancelled because the participant already completed the window: the same wall time one week
/// later, keyed by the next window's start. The first one still ahead of `now` (weeks that went
/// by unseen, e.g. while the service was down, are skipped). None for a key that is no
/// challenge window's.
pub fn next_weekly_challenge(
    key: &str,
    local_due: LocalTime,
    now: OffsetDateTime,
    tz: &str,
) -> Option<Planned> {
    let (prefix, start) = key.rsplit_once('@')?;
    let challenge = prefix.strip_prefix("challenge:")?;
    let mut start = time::Date::parse(
        start,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    let mut at = local_due;
    // A few years of missed weeks at most; a longer gap re-arms nothing (the next join does).
    for _ in 0..200 {
        start = start.checked_add(time::Duration::days(7))?;
        at = LocalTime(at.0.checked_add(jiff::Span::new().days(7)).ok()?);
        if at.instant(tz) > now {
            return Some(Planned {
                key: challenge_key(challenge, start),
                at,
            });
        }
    }
    None
}

/// The key of one plan training day's reminder.
pub fn plan_key(user_plan_id: &str, day: time::Date) -> String {
    format!("{}{day}", plan_key_prefix(user_plan_id))
}

pub fn plan_key_prefix(user_plan_id: &str) -> String {
    format!("plan:{user_plan_id}@")
}

/// The rule: one reminder per scheduled training day at [`PLAN_DAY_HOUR`] local time, none
/// for a day whose reminder time has gone by; duplicate dates count once.
pub fn plan_day_reminders(
    user_plan_id: &str,
    training_dates: &[time::Date],
    now: OffsetDateTime,
    tz: &str,
) -> Vec<Planned> {
    let mut dates = training_dates.to_vec();
    dates.sort_unstable();
    dates.dedup();
    dates
        .into_iter()
        .filter_map(|d| {
            let at = local_on(d, PLAN_DAY_HOUR)?;
            (at.instant(tz) > now).then(|| Planned {
                key: plan_key(user_plan_id, d),
                at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn q(start: i32, end: i32) -> QuietHours {
        QuietHours {
            enabled: true,
            start_minute: start,
            end_minute: end,
        }
    }

    #[test]
    fn quiet_hours_may_cross_midnight() {
        let night = q(22 * 60, 7 * 60);
        assert!(night.contains(22 * 60));
        assert!(night.contains(23 * 60 + 59));
        assert!(night.contains(0));
        assert!(night.contains(6 * 60 + 59));
        assert!(!night.contains(7 * 60));
        assert!(!night.contains(21 * 60 + 59));
        let lunch = q(12 * 60, 13 * 60);
        assert!(lunch.contains(12 * 60 + 30));
        assert!(!lunch.contains(13 * 60));
        assert!(!lunch.contains(11 * 60));
        let off = QuietHours {
            enabled: false,
            ..night
        };
        assert!(!off.contains(23 * 60));
    }

    #[test]
    fn quiet_hours_values_are_checked_with_fields_named() {
        let mut v = Violations::new();
        q(-1, 1440).check(&mut v, "settings.quiet_hours");
        let e = format!("{:?}", v.check().unwrap_err());
        assert!(e.contains("settings.quiet_hours.start_minute"), "{e}");
        assert!(e.contains("settings.quiet_hours.end_minute"), "{e}");
        let mut v = Violations::new();
        q(600, 600).check(&mut v, "settings.quiet_hours");
        assert!(format!("{:?}", v.check().unwrap_err()).contains("end_minute"));
        let mut v = Violations::new();
        QuietHours::default().check(&mut v, "settings.quiet_hours");
        assert!(v.is_empty());
    }

    #[test]
    fn a_time_in_quiet_hours_waits_for_their_end_on_the_right_day() {
        let night = q(22 * 60, 7 * 60);
        // 23:30 in Paris (UTC+1 in November) waits for 07:00 the next morning.
        assert_eq!(
            outside_quiet_hours(datetime!(2026-11-22 22:30 UTC), "Europe/Paris", &night),
            datetime!(2026-11-23 06:00 UTC)
        );
        // 05:00 local waits for 07:00 the same day.
        assert_eq!(
            outside_quiet_hours(datetime!(2026-11-23 04:00 UTC), "Europe/Paris", &night),
            datetime!(2026-11-23 06:00 UTC)
        );
        // Outside the window nothing moves.
        let t = datetime!(2026-11-23 17:00 UTC);
        assert_eq!(outside_quiet_hours(t, "Europe/Paris", &night), t);
        let off = QuietHours {
            enabled: false,
            ..night
        };
        assert_eq!(
            outside_quiet_hours(datetime!(2026-11-22 22:30 UTC), "Europe/Paris", &off),
            datetime!(2026-11-22 22:30 UTC)
        );
    }

    #[test]
    fn quiet_hours_end_at_local_time_across_dst() {
        let night = q(22 * 60, 7 * 60);
        // Spring forward in Paris: 2026-03-29 02:00 → 03:00. 23:00 local on the 28th (UTC+1)
        // waits for 07:00 on the 29th, which is UTC+2: 05:00 UTC.
        assert_eq!(
            outside_quiet_hours(datetime!(2026-03-28 22:00 UTC), "Europe/Paris", &night),
            datetime!(2026-03-29 05:00 UTC)
        );
        // Fall back in New York: 2026-11-01 02:00 → 01:00. 23:00 EDT on Oct 31 waits for
        // 07:00 EST on Nov 1: 12:00 UTC.
        assert_eq!(
            outside_quiet_hours(datetime!(2026-11-01 03:00 UTC), "America/New_York", &night),
            datetime!(2026-11-01 12:00 UTC)
        );
        // A window ending inside the skipped hour (02:30) ends at 03:30 local.
        let early = q(60, 150);
        assert_eq!(
            outside_quiet_hours(datetime!(2026-03-29 00:30 UTC), "Europe/Paris", &early),
            datetime!(2026-03-29 01:30 UTC)
        );
    }

    #[test]
    fn local_times_become_instants_in_the_zone_across_dst() {
        let at = |y, mo, d, h, mi, tz| LocalTime::new(y, mo, d, h, mi).unwrap().instant(tz);
        // 19:00 in Paris the day before and the day of spring forward.
        assert_eq!(
            at(2026, 3, 28, 19, 0, "Europe/Paris"),
            datetime!(2026-03-28 18:00 UTC)
        );
        assert_eq!(
            at(2026, 3, 29, 19, 0, "Europe/Paris"),
            datetime!(2026-03-29 17:00 UTC)
        );
        // A skipped wall time happens after the gap; a repeated one at its first occurrence.
        assert_eq!(
            at(2026, 3, 29, 2, 30, "Europe/Paris"),
            datetime!(2026-03-29 01:30 UTC)
        );
        assert_eq!(
            at(2026, 11, 1, 1, 30, "America/New_York"),
            datetime!(2026-11-01 05:30 UTC)
        );
        assert!(LocalTime::new(2026, 2, 30, 9, 0).is_none());
        assert!(LocalTime::new(2026, 2, 3, 24, 0).is_none());
        let l = LocalTime::new(2026, 3, 29, 19, 5).unwrap();
        assert_eq!(LocalTime::from_primitive(l.to_primitive()), l);
    }

    #[test]
    fn streak_checks_are_the_next_evening() {
        let l = streak_check(date!(2026 - 03 - 28)).unwrap();
        assert_eq!(l, LocalTime::new(2026, 3, 29, 19, 0).unwrap());
        assert_eq!(streak_key(date!(2026 - 03 - 29)), "streak:2026-03-29");
    }

    #[test]
    fn preferences_are_complete_and_checked() {
        let all = complete(&[Preference {
            kind: Kind::TaskReminder,
            channels: Channels {
                email: true,
                push: false,
                inbox: false,
            },
        }]);
        assert_eq!(all.len(), 5);
        assert!(all[0].channels.email && !all[0].channels.push);
        assert_eq!(all[1].channels, Kind::StreakAtRisk.default_channels());
        let c = Kind::Other.default_channels();
        let mut v = Violations::new();
        let ok = check_preferences(
            &mut v,
            &[(Some(Kind::Other), c), (Some(Kind::PlanDayDue), c)],
        );
        assert!(v.is_empty());
        assert_eq!(ok.len(), 2);
        let mut v = Violations::new();
        check_preferences(
            &mut v,
            &[(Some(Kind::Other), c), (None, c), (Some(Kind::Other), c)],
        );
        let e = format!("{:?}", v.check().unwrap_err());
        assert!(e.contains("settings.preferences[1].kind"), "{e}");
        assert!(e.contains("settings.preferences[2].kind"), "{e}");
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_delay(0), time::Duration::minutes(1));
        assert_eq!(retry_delay(3), time::Duration::minutes(8));
        assert_eq!(retry_delay(40), time::Duration::minutes(60));
    }

    #[test]
    fn a_task_reminder_is_armed_only_for_an_open_task_ahead_of_now() {
        use time::macros::datetime;
        let now = datetime!(2026-03-28 12:00 UTC);
        let at = datetime!(2026-03-29 07:30 UTC);
        assert_eq!(
            task_reminder("t1", true, false, Some(at), now),
            TaskReminder::Schedule {
                key: format!("t1@{}", at.unix_timestamp()),
                at
            }
        );
        // Moving the time gives another key: a reminder that fired can be re-armed.
        let later = at + time::Duration::hours(1);
        assert_ne!(
            task_reminder("t1", true, false, Some(at), now),
            task_reminder("t1", true, false, Some(later), now)
        );
        assert_eq!(
            task_reminder("t1", false, false, Some(at), now),
            TaskReminder::Cancel
        );
        assert_eq!(
            task_reminder("t1", true, true, Some(at), now),
            TaskReminder::Cancel
        );
        assert_eq!(
            task_reminder("t1", true, false, None, now),
            TaskReminder::Cancel
        );
        assert_eq!(
            task_reminder("t1", true, false, Some(now), now),
            TaskReminder::Cancel
        );
        assert!(
            matches!(task_reminder("t1", true, false, Some(at), now), TaskReminder::Schedule { key, .. } if key.starts_with(&task_key_prefix("t1")))
        );
    }

    #[test]
    fn an_instant_reads_as_the_wall_time_of_the_zone_across_dst() {
        use time::macros::datetime;
        // Paris is UTC+1 before 2026-03-29 02:00 and UTC+2 after.
        let before = LocalTime::at(datetime!(2026-03-28 08:00:42 UTC), "Europe/Paris");
        assert_eq!(before, LocalTime::new(2026, 3, 28, 9, 0).unwrap());
        let after = LocalTime::at(datetime!(2026-03-29 08:00 UTC), "Europe/Paris");
        assert_eq!(after, LocalTime::new(2026, 3, 29, 10, 0).unwrap());
        assert_eq!(
            after.instant("Europe/Paris"),
            datetime!(2026-03-29 08:00 UTC)
        );
    }

    #[test]
    fn a_challenge_ending_reminder_is_the_evening_before_the_last_day_across_dst() {
        // Paris falls back on 2026-10-25. A window ending Sunday 2026-11-01 is reminded on
        // Saturday 2026-10-31 at 18:00 local, which is UTC+1 by then: 17:00 UTC.
        let w = ChallengeWindow {
            start: date!(2026 - 10 - 19),
            end: Some(date!(2026 - 11 - 01)),
            weekly: false,
        };
        let now = datetime!(2026-10-20 12:00 UTC);
        let p = challenge_ending("c1", w, false, now, "Europe/Paris").unwrap();
        assert_eq!(p.key, "challenge:c1@2026-10-19");
        assert!(p.key.starts_with(&challenge_key_prefix("c1")));
        assert_eq!(p.at, LocalTime::new(2026, 10, 31, 18, 0).unwrap());
        assert_eq!(
            p.at.instant("Europe/Paris"),
            datetime!(2026-10-31 17:00 UTC)
        );
        // The same wall time before the change is UTC+2: 16:00 UTC.
        let summer = ChallengeWindow {
            end: Some(date!(2026 - 10 - 18)),
            ..w
        };
        let p = challenge_ending(
            "c1",
            summer,
            false,
            datetime!(2026-10-01 00:00 UTC),
            "Europe/Paris",
        )
        .unwrap();
        assert_eq!(
            p.at.instant("Europe/Paris"),
            datetime!(2026-10-17 16:00 UTC)
        );
    }

    #[test]
    fn a_weekly_challenge_reminder_is_followed_by_next_weeks() {
        let tz = "Europe/Paris";
        // Window 2026-10-19..25: reminded Saturday 24th 18:00; next window starts the 26th.
        let due = LocalTime::new(2026, 10, 24, 18, 0).unwrap();
        let key = challenge_key("c1", date!(2026 - 10 - 19));
        let p = next_weekly_challenge(&key, due, datetime!(2026-10-24 16:00 UTC), tz).unwrap();
        assert_eq!(p.key, "challenge:c1@2026-10-26");
        // 18:00 on the 31st in Paris, after the clocks went back (UTC+1): 17:00 UTC.
        assert_eq!(p.at, LocalTime::new(2026, 10, 31, 18, 0).unwrap());
        assert_eq!(p.at.instant(tz), datetime!(2026-10-31 17:00 UTC));
        // Weeks gone by unseen are skipped.
        let p = next_weekly_challenge(&key, due, datetime!(2026-11-10 12:00 UTC), tz).unwrap();
        assert_eq!(p.key, "challenge:c1@2026-11-09");
        // Other reminders' keys have no next week.
        assert!(
            next_weekly_challenge(
                "plan:p1@2026-10-19",
                due,
                datetime!(2026-10-24 16:00 UTC),
                tz
            )
            .is_none()
        );
        assert!(
            next_weekly_challenge(
                "challenge:c1@soon",
                due,
                datetime!(2026-10-24 16:00 UTC),
                tz
            )
            .is_none()
        );
    }

    #[test]
    fn no_challenge_ending_reminder_when_done_past_ending_today_or_endless() {
        let w = ChallengeWindow {
            start: date!(2026 - 10 - 19),
            end: Some(date!(2026 - 11 - 01)),
            weekly: false,
        };
        let tz = "Europe/Paris";
        // Completed already.
        assert!(challenge_ending("c1", w, true, datetime!(2026-10-20 12:00 UTC), tz).is_none());
        // Ending today (Nov 1 local) or already past.
        assert!(challenge_ending("c1", w, false, datetime!(2026-11-01 08:00 UTC), tz).is_none());
        assert!(challenge_ending("c1", w, false, datetime!(2026-11-05 08:00 UTC), tz).is_none());
        // The reminder time itself has gone by (18:30 local on Oct 31).
        assert!(challenge_ending("c1", w, false, datetime!(2026-10-31 17:30 UTC), tz).is_none());
        // Still just ahead (17:59 local).
        assert!(challenge_ending("c1", w, false, datetime!(2026-10-31 16:59 UTC), tz).is_some());
        // A challenge without end has no ending to announce.
        let endless = ChallengeWindow { end: None, ..w };
        assert!(
            challenge_ending("c1", endless, false, datetime!(2026-10-20 12:00 UTC), tz).is_none()
        );
    }

    #[test]
    fn a_weekly_challenge_moves_on_to_next_weeks_window() {
        let tz = "America/New_York";
        // Week Mon 2026-10-26 .. Sun 2026-11-01 (New York falls back on Nov 1).
        let w = ChallengeWindow {
            start: date!(2026 - 10 - 26),
            end: Some(date!(2026 - 11 - 01)),
            weekly: true,
        };
        let p = challenge_ending("c2", w, false, datetime!(2026-10-27 12:00 UTC), tz).unwrap();
        assert_eq!(p.key, "challenge:c2@2026-10-26");
        // 18:00 EDT on Oct 31 = 22:00 UTC.
        assert_eq!(p.at.instant(tz), datetime!(2026-10-31 22:00 UTC));
        // Completed this week, or its reminder already passed: next week's, 18:00 EST on Nov 7.
        for (done, now) in [
            (true, datetime!(2026-10-27 12:00 UTC)),
            (false, datetime!(2026-10-31 23:00 UTC)),
        ] {
            let p = challenge_ending("c2", w, done, now, tz).unwrap();
            assert_eq!(p.key, "challenge:c2@2026-11-02");
            assert_eq!(p.at.instant(tz), datetime!(2026-11-07 23:00 UTC));
        }
        assert_eq!(
            w.next().unwrap(),
            ChallengeWindow {
                start: date!(2026 - 11 - 02),
                end: Some(date!(2026 - 11 - 08)),
                weekly: true
            }
        );
    }

    #[test]
    fn plan_days_are_reminded_each_morning_still_ahead_across_dst() {
        let tz = "Europe/Paris";
        let days = [
            date!(2026 - 03 - 27),
            date!(2026 - 03 - 29),
            date!(2026 - 03 - 31),
            date!(2026 - 03 - 29),
        ];
        // Now is 09:00 local on the 27th: that day's 08:00 is past.
        let got = plan_day_reminders("p1", &days, datetime!(2026-03-27 08:00 UTC), tz);
        let keys: Vec<_> = got.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["plan:p1@2026-03-29", "plan:p1@2026-03-31"]);
        assert!(
            got.iter()
                .all(|p| p.key.starts_with(&plan_key_prefix("p1")))
        );
        // 08:00 on the spring-forward day is UTC+2.
        assert_eq!(got[0].at.instant(tz), datetime!(2026-03-29 06:00 UTC));
        assert!(plan_day_reminders("p1", &[], datetime!(2026-03-27 08:00 UTC), tz).is_empty());
    }

    #[test]
    fn quiet_hours_covering_the_reminder_time_move_it_to_their_end() {
        // 18:00 inside a 17:00–19:00 quiet window goes out at 19:00 local (UTC+1 after the
        // Paris fall-back), as for every other kind.
        let w = ChallengeWindow {
            start: date!(2026 - 10 - 19),
            end: Some(date!(2026 - 11 - 01)),
            weekly: false,
        };
        let p = challenge_ending(
            "c1",
            w,
            false,
            datetime!(2026-10-20 12:00 UTC),
            "Europe/Paris",
        )
        .unwrap();
        let due = p.at.instant("Europe/Paris");
        assert_eq!(
            outside_quiet_hours(due, "Europe/Paris", &q(17 * 60, 19 * 60)),
            datetime!(2026-10-31 18:00 UTC)
        );
    }
}
