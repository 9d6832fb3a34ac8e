//! `stride.analytics.v1.AnalyticsService`: the caller's progress summary (any period), recent
//! activity, daily and weekly focus summaries, shutdown summary and streak settings.

use sqlx::{PgConnection, PgPool};
use stride_bus::directory;
use stride_kit::{AppResult, Call, Violations, clock::SharedClock, convert};
use stride_proto::analytics::{
    self as pb, SummaryRange, analytics_service_server::AnalyticsService,
};
use time::{Date, Duration};
use uuid::Uuid;

use super::{feed, focus};
use crate::{
    domain::{
        period::{self, Kind, Period},
        rollup::{Figures, StreakKind},
        streak::{self, MAX_FREEZES_PER_MONTH, MAX_GRACE_DAYS, Policy, Streaks},
        summary, timezone,
    },
    store,
};

pub struct Summaries {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl AnalyticsService for Summaries {
        fn get_progress_summary(pb::GetProgressSummaryRequest) -> pb::GetProgressSummaryResponse => get_progress_summary;
        fn list_recent_activity(pb::ListRecentActivityRequest) -> pb::ListRecentActivityResponse => feed::list_recent_activity;
        fn get_daily_focus_summary(pb::GetDailyFocusSummaryRequest) -> pb::GetDailyFocusSummaryResponse => focus::get_daily_focus_summary;
        fn get_weekly_focus_summary(pb::GetWeeklyFocusSummaryRequest) -> pb::GetWeeklyFocusSummaryResponse => focus::get_weekly_focus_summary;
        fn get_shutdown_summary(pb::GetShutdownSummaryRequest) -> pb::GetShutdownSummaryResponse => focus::get_shutdown_summary;
        fn get_streak_settings(pb::GetStreakSettingsRequest) -> pb::GetStreakSettingsResponse => get_streak_settings;
        fn update_streak_settings(pb::UpdateStreakSettingsRequest) -> pb::UpdateStreakSettingsResponse => update_streak_settings;
    }
}

/// The caller's zone (profile, else the latest session's, else UTC) and today in it.
pub(super) async fn zone_today(
    s: &Summaries,
    conn: &mut PgConnection,
    user: Uuid,
) -> AppResult<(String, Date)> {
    let profile = directory::get(conn, user).await?.map(|d| d.timezone);
    let hint = match profile {
        Some(_) => None,
        None => store::hint(conn, user).await?.map(|h| h.timezone),
    };
    let tz = timezone::effective(profile.as_deref(), hint.as_deref()).to_owned();
    let today = timezone::today(s.clock.now(), &tz);
    Ok((tz, today))
}

/// A request's optional date: `Some(None)` when given but not a usable calendar date.
pub(super) fn requested_date(d: Option<&stride_proto::Date>) -> Option<Option<Date>> {
    d.map(|d| convert::from_date(d).filter(summary::valid_anchor))
}

/// The period (default: the week holding today), its totals and series, the period before,
/// the streaks as of today, in the caller's zone. Reads the period's and the previous period's
/// day rows (at most 732) and the caller's streak runs: never the history.
async fn get_progress_summary(
    s: &Summaries,
    call: Call<pb::GetProgressSummaryRequest>,
) -> AppResult<pb::GetProgressSummaryResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let range = SummaryRange::try_from(req.range).ok();
    v.when(range.is_none(), "range", "is not a SummaryRange");
    let anchor = requested_date(req.date.as_ref());
    v.when(
        matches!(anchor, Some(None)),
        "date",
        "must be a valid calendar date",
    );
    let (start, end) = (
        requested_date(req.start_date.as_ref()),
        requested_date(req.end_date.as_ref()),
    );
    let custom = range == Some(SummaryRange::Custom);
    let mut custom_period = None;
    if custom {
        v.when(
            anchor.is_some(),
            "date",
            "is not used with SUMMARY_RANGE_CUSTOM",
        );
        match (start, end) {
            (Some(Some(a)), Some(Some(b))) => {
                custom_period = period::custom(a, b);
                v.when(b < a, "end_date", "must not be before start_date");
                v.when(
                    b >= a && custom_period.is_none(),
                    "end_date",
                    "must be at most 366 days after start_date",
                );
            }
            _ => {
                v.when(
                    !matches!(start, Some(Some(_))),
                    "start_date",
                    "must be a valid calendar date with SUMMARY_RANGE_CUSTOM",
                );
                v.when(
                    !matches!(end, Some(Some(_))),
                    "end_date",
                    "must be a valid calendar date with SUMMARY_RANGE_CUSTOM",
                );
            }
        }
    } else {
        v.when(
            start.is_some(),
            "start_date",
            "is only used with SUMMARY_RANGE_CUSTOM",
        );
        v.when(
            end.is_some(),
            "end_date",
            "is only used with SUMMARY_RANGE_CUSTOM",
        );
    }
    v.check()?;

    let user = caller.user_id;
    // Validated above: a defined range, and a custom period exactly when the range is custom.
    let range = match range {
        None | Some(SummaryRange::Unspecified) => SummaryRange::Week,
        Some(r) => r,
    };
    let now = s.clock.now();
    // The summary's latency is its round trips: one statement reads everything (zone sources,
    // policy, streak runs and days). The days are read before the user's zone is known: every
    // zone's local date is within a day of UTC's, so the read covers the periods of all three
    // candidate todays, and the rows outside the right one are dropped after.
    let explicit = match custom_period {
        Some(p) => Some(p),
        None => anchor.flatten().map(|a| period_of(range, a)),
    };
    let window = match explicit {
        Some(p) => (p.previous().start, p.end),
        None => {
            let utc = timezone::today(now, "UTC");
            let candidates = [utc.previous_day(), Some(utc), utc.next_day()];
            let periods: Vec<Period> = candidates
                .into_iter()
                .flatten()
                .map(|d| period_of(range, d))
                .collect();
            let from = periods.iter().map(|p| p.previous().start).min();
            let to = periods.iter().map(|p| p.end).max();
            (from.unwrap_or(utc), to.unwrap_or(utc))
        }
    };
    let mut conn = s.pool.acquire().await?;
    let (context, mut stored) = store::summary_read(&mut conn, user, window.0, window.1).await?;
    let tz = timezone::effective(
        context.profile_timezone.as_deref(),
        context.hint_timezone.as_deref(),
    )
    .to_owned();
    let today = timezone::today(now, &tz);
    let period = explicit.unwrap_or_else(|| period_of(range, today));
    let previous = period.previous();
    stored.retain(|(d, _)| previous.start <= *d && *d <= period.end);
    let policy = context.policy;
    // A non-default policy (grace days, freezes) may bridge older runs: it reads them all.
    let runs = if policy == Policy::default() {
        context.runs
    } else {
        store::all_runs(&mut conn, user).await?
    };
    let streaks = all_streaks(&runs, today, policy);
    Ok(to_proto(&period, &previous, &stored, &streaks, range, &tz))
}

/// The period of `range` holding `anchor`. Custom ranges come from the request, never from here.
fn period_of(range: SummaryRange, anchor: Date) -> Period {
    match range {
        SummaryRange::Day => period::of(Kind::Day, anchor),
        SummaryRange::Month => period::of(Kind::Month, anchor),
        SummaryRange::Year => period::of(Kind::Year, anchor),
        _ => period::of(Kind::Week, anchor),
    }
}

/// Each kind's streaks on `today` under `policy`.
pub(super) fn all_streaks(
    runs: &[(StreakKind, Vec<streak::Run>)],
    today: Date,
    policy: Policy,
) -> Vec<(StreakKind, Streaks)> {
    runs.iter()
        .map(|(k, r)| (*k, streak::streaks(r, today, streak::anchor(*k), policy)))
        .collect()
}

fn sum_between(stored: &[(Date, Figures)], p: &Period) -> Figures {
    stored
        .iter()
        .filter(|(d, _)| p.start <= *d && *d <= p.end)
        .fold(Figures::default(), |a, (_, f)| a + *f)
}

fn clamp32(n: i64) -> i32 {
    i32::try_from(n.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0)
}

fn seconds(s: i64) -> Option<prost_types::Duration> {
    Some(convert::duration(Duration::seconds(s.max(0))))
}

pub(super) fn figures(f: &Figures) -> pb::Figures {
    pb::Figures {
        sessions_completed: clamp32(f.sessions_completed),
        focus_sessions: clamp32(f.focus_sessions),
        break_sessions: clamp32(f.break_sessions),
        study_sessions: clamp32(f.study_sessions),
        workout_sessions: clamp32(f.workout_sessions),
        routine_sessions: clamp32(f.routine_sessions),
        active_duration: seconds(f.total_seconds),
        focus_duration: seconds(f.focus_seconds),
        break_duration: seconds(f.break_seconds),
        study_duration: seconds(f.study_seconds),
        workout_duration: seconds(f.workout_seconds),
        routine_duration: seconds(f.routine_seconds),
        planned_duration: seconds(f.planned_seconds),
        tasks_created: clamp32(f.tasks_created),
        tasks_completed: clamp32(f.tasks_completed),
        reflections: clamp32(f.reflections),
        rated_great: clamp32(f.rated_great),
        rated_good: clamp32(f.rated_good),
        rated_okay: clamp32(f.rated_okay),
        rated_tough: clamp32(f.rated_tough),
        workouts: clamp32(f.workouts),
        workout_volume_kg: f.workout_volume_g as f64 / 1000.0,
        lessons: clamp32(f.lessons),
        lesson_minutes: clamp32(f.lesson_minutes),
        points: clamp32(f.points),
        xp: clamp32(f.xp),
        evaluations: clamp32(f.evaluations),
        average_evaluation_score: if f.evaluations > 0 {
            f.evaluation_score_sum as f64 / f.evaluations as f64
        } else {
            0.0
        },
    }
}

fn to_proto(
    period: &Period,
    previous: &Period,
    stored: &[(Date, Figures)],
    streaks: &[(StreakKind, Streaks)],
    range: SummaryRange,
    tz: &str,
) -> pb::GetProgressSummaryResponse {
    let totals = sum_between(stored, period);
    let streak_of = |k: StreakKind| {
        let s = streaks
            .iter()
            .find(|(kind, _)| *kind == k)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        Some(pb::Streak {
            current: s.current,
            longest: s.longest,
        })
    };
    let activity = streaks
        .iter()
        .find(|(k, _)| *k == StreakKind::Activity)
        .map(|(_, s)| *s)
        .unwrap_or_default();
    pb::GetProgressSummaryResponse {
        start_date: Some(convert::date(period.start)),
        end_date: Some(convert::date(period.end)),
        sessions_completed: clamp32(totals.sessions_completed),
        focus_sessions: clamp32(totals.focus_sessions),
        total_duration: seconds(totals.total_seconds),
        days: period
            .dates()
            .into_iter()
            .map(|date| {
                // `stored` is in date order (store::days): a year is 365 lookups, not 365 scans.
                let f = stored
                    .binary_search_by_key(&date, |(d, _)| *d)
                    .ok()
                    .and_then(|i| stored.get(i))
                    .map(|(_, f)| *f)
                    .unwrap_or_default();
                pb::DailyTotal {
                    date: Some(convert::date(date)),
                    sessions_completed: clamp32(f.sessions_completed),
                    focus_sessions: clamp32(f.focus_sessions),
                    total_duration: seconds(f.total_seconds),
                    figures: Some(figures(&f)),
                }
            })
            .collect(),
        current_streak: activity.current,
        longest_streak: activity.longest,
        timezone: tz.to_owned(),
        range: range.into(),
        totals: Some(figures(&totals)),
        previous_start_date: Some(convert::date(previous.start)),
        previous_end_date: Some(convert::date(previous.end)),
        previous_totals: Some(figures(&sum_between(stored, previous))),
        streaks: Some(pb::Streaks {
            activity: streak_of(StreakKind::Activity),
            focus: streak_of(StreakKind::Focus),
            study: streak_of(StreakKind::Study),
            workout: streak_of(StreakKind::Workout),
            shutdown: streak_of(StreakKind::Shutdown),
        }),
        points: clamp32(totals.points),
    }
}

fn settings(p: Policy) -> Option<pb::StreakSettings> {
    Some(pb::StreakSettings {
        grace_days: i32::try_from(p.grace_days).unwrap_or(0),
        freezes_per_month: i32::try_from(p.freezes_per_month).unwrap_or(0),
    })
}

async fn get_streak_settings(
    s: &Summaries,
    call: Call<pb::GetStreakSettingsRequest>,
) -> AppResult<pb::GetStreakSettingsResponse> {
    let user = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    let p = store::settings::policy(&mut conn, user).await?;
    Ok(pb::GetStreakSettingsResponse {
        settings: settings(p),
    })
}

async fn update_streak_settings(
    s: &Summaries,
    call: Call<pb::UpdateStreakSettingsRequest>,
) -> AppResult<pb::UpdateStreakSettingsResponse> {
    let user = call.caller()?.user_id;
    let mut v = Violations::new();
    let Some(req) = call.message.settings.as_ref() else {
        v.add("settings", "is required");
        v.check()?;
        return Ok(pb::UpdateStreakSettingsResponse::default());
    };
    let grace = u32::try_from(req.grace_days)
        .ok()
        .filter(|g| *g <= MAX_GRACE_DAYS);
    v.when(
        grace.is_none(),
        "settings.grace_days",
        "must be between 0 and 3",
    );
    let freezes = u32::try_from(req.freezes_per_month)
        .ok()
        .filter(|f| *f <= MAX_FREEZES_PER_MONTH);
    v.when(
        freezes.is_none(),
        "settings.freezes_per_month",
        "must be between 0 and 5",
    );
    v.check()?;
    let p = Policy {
        grace_days: grace.unwrap_or(0),
        freezes_per_month: freezes.unwrap_or(0),
    };
    let mut conn = s.pool.acquire().await?;
    store::settings::put_policy(&mut conn, user, p).await?;
    Ok(pb::UpdateStreakSettingsResponse {
        settings: settings(p),
    })
}
