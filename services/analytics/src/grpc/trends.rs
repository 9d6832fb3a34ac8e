//! `stride.analytics.v1.TrendsService`: trends of the caller's practice evaluations.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, Violations, clock::SharedClock, convert};
use stride_proto::analytics::{self as pb, trends_service_server::TrendsService};

use super::caller;
use crate::{
    domain::{timezone, trends, window},
    store,
};

/// The window when the request names no start: 90 days ending on the end date.
const DEFAULT_DAYS: i64 = 90;

pub struct Trends {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl TrendsService for Trends {
        fn get_evaluation_trends(pb::GetEvaluationTrendsRequest) -> pb::GetEvaluationTrendsResponse => get_evaluation_trends;
    }
}

async fn get_evaluation_trends(
    s: &Trends,
    call: Call<pb::GetEvaluationTrendsRequest>,
) -> AppResult<pb::GetEvaluationTrendsResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let start = caller::date(&mut v, "start_date", req.start_date.as_ref());
    let end = caller::date(&mut v, "end_date", req.end_date.as_ref());
    v.check()?;

    let mut conn = s.pool.acquire().await?;
    let tz = caller::zone(&mut conn, user).await?;
    let end = end.unwrap_or_else(|| timezone::today(s.clock.now(), &tz));
    let start = start.unwrap_or_else(|| window::ending(end, DEFAULT_DAYS));
    let mut v = Violations::new();
    window::check(&mut v, start, end, "end_date");
    v.check()?;

    let evals = store::evaluations::window(&mut conn, user, start, end).await?;
    let t = trends::trends(&evals);
    Ok(pb::GetEvaluationTrendsResponse {
        start_date: Some(convert::date(start)),
        end_date: Some(convert::date(end)),
        timezone: tz,
        evaluation_count: i32::try_from(evals.len()).unwrap_or(i32::MAX),
        dimensions: t
            .series
            .into_iter()
            .map(|s| pb::DimensionTrend {
                dimension: s.dimension,
                points: s
                    .points
                    .into_iter()
                    .map(|p| pb::TrendPoint {
                        practice_session_id: p.practice_session_id,
                        evaluate_time: Some(convert::timestamp(p.evaluate_time)),
                        local_date: Some(convert::date(p.local_date)),
                        score: p.score,
                    })
                    .collect(),
                average: s.average,
                velocity_per_week: s.velocity_per_week,
            })
            .collect(),
        improvement_velocity: t.improvement_velocity,
        recurring_improvement_areas: t
            .recurring
            .into_iter()
            .map(|a| pb::ImprovementArea {
                text: a.text,
                count: a.count,
                last_seen_time: Some(convert::timestamp(a.last_seen)),
            })
            .collect(),
    })
}
