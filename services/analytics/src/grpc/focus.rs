//! Seed 001's daily and weekly focus summaries and the shutdown summary.

use prost::Message as _;
use stride_kit::{AppResult, Call, Violations, convert};
use stride_proto::{Event, analytics as pb, events};
use time::Date;

use super::{
    Summaries,
    progress::{requested_date, zone_today},
};
use crate::{
    domain::{
        rollup::{Figures, StreakKind},
        shutdown, streak, summary,
    },
    store,
};

/// The focus and break sessions that counted from `from` to `to`, by end time, per date.
async fn sessions(
    conn: &mut sqlx::PgConnection,
    user: uuid::Uuid,
    from: Date,
    to: Date,
) -> AppResult<Vec<(Date, pb::FocusSession)>> {
    let rows = store::log::of_days(conn, user, events::SessionCompleted::TYPE, from, to).await?;
    Ok(rows
        .iter()
        .filter_map(|e| {
            let x = events::SessionCompleted::decode(e.payload.as_slice()).ok()?;
            let keep = x.counts != Some(false)
                && (x.activity_kind == "focus" || x.activity_kind == "break");
            if !keep {
                return None;
            }
            Some((
                e.local_date?,
                pb::FocusSession {
                    session_id: x.session_id,
                    kind: x.activity_kind,
                    start_time: x.start_time,
                    end_time: x.end_time,
                    duration: x.duration,
                    planned_duration: x.planned_duration,
                },
            ))
        })
        .collect())
}

fn daily(date: Date, f: &Figures, sessions: &[(Date, pb::FocusSession)]) -> pb::DailyFocusSummary {
    pb::DailyFocusSummary {
        date: Some(convert::date(date)),
        focus_sessions: i32::try_from(f.focus_sessions).unwrap_or(i32::MAX),
        break_sessions: i32::try_from(f.break_sessions).unwrap_or(i32::MAX),
        focus_seconds: f.focus_seconds,
        break_seconds: f.break_seconds,
        sessions: sessions
            .iter()
            .filter(|(d, _)| *d == date)
            .map(|(_, s)| s.clone())
            .collect(),
    }
}

fn figures_on(stored: &[(Date, Figures)], date: Date) -> Figures {
    stored
        .iter()
        .find(|(d, _)| *d == date)
        .map(|(_, f)| *f)
        .unwrap_or_default()
}

pub(super) async fn get_daily_focus_summary(
    s: &Summaries,
    call: Call<pb::GetDailyFocusSummaryRequest>,
) -> AppResult<pb::GetDailyFocusSummaryResponse> {
    let user = call.caller()?.user_id;
    let requested = requested_date(call.message.date.as_ref());
    let mut v = Violations::new();
    v.when(
        matches!(requested, Some(None)),
        "date",
        "must be a valid calendar date",
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let (tz, today) = zone_today(s, &mut conn, user).await?;
    let date = requested.flatten().unwrap_or(today);
    let stored = store::days(&mut conn, user, date, date).await?;
    let list = sessions(&mut conn, user, date, date).await?;
    Ok(pb::GetDailyFocusSummaryResponse {
        summary: Some(daily(date, &figures_on(&stored, date), &list)),
        timezone: tz,
    })
}

pub(super) async fn get_weekly_focus_summary(
    s: &Summaries,
    call: Call<pb::GetWeeklyFocusSummaryRequest>,
) -> AppResult<pb::GetWeeklyFocusSummaryResponse> {
    let user = call.caller()?.user_id;
    let requested = requested_date(call.message.date.as_ref());
    let mut v = Violations::new();
    v.when(
        matches!(requested, Some(None)),
        "date",
        "must be a valid calendar date",
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let (tz, today) = zone_today(s, &mut conn, user).await?;
    let (start, end) = summary::week_of(requested.flatten().unwrap_or(today));
    let stored = store::days(&mut conn, user, start, end).await?;
    let list = sessions(&mut conn, user, start, end).await?;
    let mut days = Vec::with_capacity(7);
    let mut d = Some(start);
    while let Some(date) = d.filter(|x| *x <= end) {
        days.push(daily(date, &figures_on(&stored, date), &list));
        d = date.next_day();
    }
    Ok(pb::GetWeeklyFocusSummaryResponse {
        week_start: Some(convert::date(start)),
        week_end: Some(convert::date(end)),
        focus_sessions: days
            .iter()
            .map(|d| d.focus_sessions)
            .fold(0, i32::saturating_add),
        focus_seconds: days
            .iter()
            .map(|d| d.focus_seconds)
            .fold(0, i64::saturating_add),
        break_seconds: days
            .iter()
            .map(|d| d.break_seconds)
            .fold(0, i64::saturating_add),
        daily_summaries: days,
        timezone: tz,
    })
}

/// Today's shutdown summary: the open tasks and those completed today, focus time against the
/// goal, the shutdown streak, seed 001's daily points and the clocked-out time.
pub(super) async fn get_shutdown_summary(
    s: &Summaries,
    call: Call<pb::GetShutdownSummaryRequest>,
) -> AppResult<pb::GetShutdownSummaryResponse> {
    let user = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    let (tz, today) = zone_today(s, &mut conn, user).await?;
    let day = figures_on(&store::days(&mut conn, user, today, today).await?, today);
    let (completed, pending, list) =
        shutdown::today(store::tasks::of_day(&mut conn, user, today).await?);
    let goal = store::settings::focus_goal(&mut conn, user)
        .await?
        .unwrap_or(shutdown::DEFAULT_FOCUS_GOAL_MINUTES);
    let met = shutdown::goal_met(day.focus_seconds, goal);
    let policy = store::settings::policy(&mut conn, user).await?;
    let runs = store::active_runs(&mut conn, user, StreakKind::Shutdown).await?;
    let streak =
        streak::streaks(&runs, today, streak::anchor(StreakKind::Shutdown), policy).current;
    let clocked = store::clocked_out(&mut conn, user, today).await?;
    Ok(pb::GetShutdownSummaryResponse {
        date: Some(convert::date(today)),
        tasks_completed: i32::try_from(completed).unwrap_or(i32::MAX),
        tasks_pending: i32::try_from(pending).unwrap_or(i32::MAX),
        tasks_total: i32::try_from(completed.saturating_add(pending)).unwrap_or(i32::MAX),
        today_tasks: list
            .into_iter()
            .map(|t| pb::ShutdownTask {
                task_id: t.task_id,
                title: t.title,
                priority: t.priority,
                due_time: t.due_time.map(convert::timestamp),
                completed: t.completed,
            })
            .collect(),
        focus_seconds: day.focus_seconds,
        focus_goal_minutes: goal,
        focus_goal_met: met,
        shutdown_streak: streak,
        points: i32::try_from(shutdown::daily_points(completed, met, streak)).unwrap_or(i32::MAX),
        clocked_out_time: clocked
            .map(|t| shutdown::clocked_out(t, &tz))
            .unwrap_or_default(),
        clocked_out_at: clocked.map(convert::timestamp),
        timezone: tz,
    })
}
