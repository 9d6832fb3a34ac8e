//! `stride.analytics.v1.AnalyticsService`: the caller's weekly progress summary.

// H (issue 15): one module per gRPC service, wired by `serve_views`.
mod caller;
mod dashboard;
mod figures;
mod mastery;
mod share;
mod trends;

use sqlx::PgPool;
use stride_bus::directory;
use stride_kit::{AppResult, Call, Violations, clock::SharedClock, convert};
use stride_proto::analytics::{
    self as pb, SummaryRange, analytics_service_server::AnalyticsService,
};

use crate::{
    domain::{
        streak::{self, Streaks},
        summary::{self, Day, Week},
        timezone,
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
    }
}

/// The week holding `date` (default: the caller's today) with its days, totals and the streaks
/// as of today, in the caller's zone.
async fn get_progress_summary(
    s: &Summaries,
    call: Call<pb::GetProgressSummaryRequest>,
) -> AppResult<pb::GetProgressSummaryResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let range = SummaryRange::try_from(req.range).ok();
    v.when(
        !matches!(range, Some(SummaryRange::Unspecified | SummaryRange::Week)),
        "range",
        "must be SUMMARY_RANGE_WEEK or unspecified",
    );
    let requested = req
        .date
        .as_ref()
        .map(|d| convert::from_date(d).filter(summary::valid_anchor));
    v.when(
        matches!(requested, Some(None)),
        "date",
        "must be a valid calendar date",
    );
    v.check()?;

    let user = caller.user_id;
    let mut conn = s.pool.acquire().await?;
    let profile = directory::get(&mut conn, user).await?.map(|d| d.timezone);
    let hint = match profile {
        Some(_) => None,
        None => store::hint(&mut conn, user).await?.map(|h| h.timezone),
    };
    let tz = timezone::effective(profile.as_deref(), hint.as_deref());
    let today = timezone::today(s.clock.now(), tz);
    let (start, end) = summary::week_of(requested.flatten().unwrap_or(today));
    let week = summary::assemble(start, &store::rollups(&mut conn, user, start, end).await?);
    let streaks = streak::streaks(&store::active_runs(&mut conn, user).await?, today);
    Ok(to_proto(&week, streaks, tz))
}

fn to_proto(week: &Week, streaks: Streaks, tz: &str) -> pb::GetProgressSummaryResponse {
    let seconds = |s: i64| Some(convert::duration(time::Duration::seconds(s)));
    pb::GetProgressSummaryResponse {
        start_date: Some(convert::date(week.start)),
        end_date: Some(convert::date(week.end)),
        sessions_completed: week.sessions_completed,
        focus_sessions: week.focus_sessions,
        total_duration: seconds(week.seconds),
        days: week
            .days
            .iter()
            .map(|d: &Day| pb::DailyTotal {
                date: Some(convert::date(d.date)),
                sessions_completed: d.sessions_completed,
                focus_sessions: d.focus_sessions,
                total_duration: seconds(d.seconds),
            })
            .collect(),
        current_streak: streaks.current,
        longest_streak: streaks.longest,
        timezone: tz.to_owned(),
    }
}

/// Adds H's gRPC services (trends, mastery, dashboard, figures, share cards) to `service`.
pub fn serve_views(
    service: &mut stride_kit::service::Builder,
    config: &crate::Config,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    use stride_kit::grpc::lazy_channel;
    use stride_proto::analytics::{
        dashboard_service_server::DashboardServiceServer,
        figures_service_server::FiguresServiceServer, mastery_service_server::MasteryServiceServer,
        share_service_server::ShareServiceServer, trends_service_server::TrendsServiceServer,
    };
    let pool = service.pool().clone();
    service.grpc(TrendsServiceServer::new(trends::Trends {
        pool: pool.clone(),
        clock: clock.clone(),
    }));
    service.grpc(MasteryServiceServer::new(mastery::Masteries {
        pool: pool.clone(),
    }));
    service.grpc(DashboardServiceServer::new(dashboard::Dashboard {
        pool: pool.clone(),
        clock: clock.clone(),
        ai_coach: lazy_channel(&config.ai_coach_url)?,
        challenge: lazy_channel(&config.challenge_url)?,
        deadline: config.dashboard_peer_timeout,
    }));
    service.grpc(FiguresServiceServer::new(figures::Figures {
        pool: pool.clone(),
    }));
    service.grpc(ShareServiceServer::new(share::Shares {
        pool,
        clock: clock.clone(),
    }));
    Ok(())
}
