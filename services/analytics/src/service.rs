//! `AnalyticsService` handlers.

use sqlx::PgPool;
use stride_kit::{AppResult, Caller, Violations, clock::SharedClock, convert};
use stride_proto::analytics::{
    DailyTotal, GetProgressSummaryRequest, GetProgressSummaryResponse, SummaryRange,
    analytics_service_server::AnalyticsService,
};
use tonic::{Request, Response, Status};

use crate::store;

#[derive(Clone)]
pub struct Analytics {
    pool: PgPool,
    clock: SharedClock,
}

impl Analytics {
    pub fn new(pool: PgPool, clock: SharedClock) -> Self {
        Self { pool, clock }
    }

    async fn progress_summary(
        &self,
        caller: &Caller,
        req: GetProgressSummaryRequest,
    ) -> AppResult<GetProgressSummaryResponse> {
        let mut v = Violations::new();
        let range = SummaryRange::try_from(req.range).ok();
        v.when(
            !matches!(range, Some(SummaryRange::Unspecified | SummaryRange::Week)),
            "range",
            "must be SUMMARY_RANGE_WEEK or unspecified",
        );
        // Years are bounded so week arithmetic can never overflow.
        let requested = req
            .date
            .as_ref()
            .map(|d| convert::from_date(d).filter(|d| (1..=9998).contains(&d.year())));
        v.when(
            matches!(requested, Some(None)),
            "date",
            "must be a valid calendar date",
        );
        v.check()?;

        let user = caller.user_id;
        let timezone = store::timezone(&self.pool, user)
            .await?
            .filter(|tz| convert::is_valid_timezone(tz))
            .unwrap_or_else(|| "UTC".to_owned());
        let today = convert::local_date(self.clock.now(), &timezone);
        let anchor = requested.flatten().unwrap_or(today);
        let start = convert::week_start(anchor);
        let end = start + time::Duration::days(6);

        let rows = store::rollups(&self.pool, user, start, end).await?;
        let mut days = Vec::with_capacity(7);
        let (mut sessions, mut focus, mut seconds) = (0i32, 0i32, 0i64);
        let mut date = start;
        while date <= end {
            let row = rows.iter().find(|r| r.local_date == date);
            let (s, f, secs) = row.map_or((0, 0, 0), |r| {
                (r.sessions_completed, r.focus_sessions, r.total_seconds)
            });
            sessions += s;
            focus += f;
            seconds += secs;
            days.push(DailyTotal {
                date: Some(convert::date(date)),
                sessions_completed: s,
                focus_sessions: f,
                total_duration: Some(convert::duration(time::Duration::seconds(secs))),
            });
            date = date.next_day().unwrap_or(date + time::Duration::days(1));
        }

        let runs = store::active_runs(&self.pool, user).await?;
        let (current, longest) = store::streaks(&runs, today);
        Ok(GetProgressSummaryResponse {
            start_date: Some(convert::date(start)),
            end_date: Some(convert::date(end)),
            sessions_completed: sessions,
            focus_sessions: focus,
            total_duration: Some(convert::duration(time::Duration::seconds(seconds))),
            days,
            current_streak: i32::try_from(current).unwrap_or(i32::MAX),
            longest_streak: i32::try_from(longest).unwrap_or(i32::MAX),
            timezone,
        })
    }
}

#[tonic::async_trait]
impl AnalyticsService for Analytics {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_progress_summary(
        &self,
        request: Request<GetProgressSummaryRequest>,
    ) -> Result<Response<GetProgressSummaryResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.progress_summary(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }
}
