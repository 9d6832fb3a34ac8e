//! GetChallengeStats: seed 001's figures for the caller.

use stride_bus::directory;
use stride_kit::{AppResult, Call, convert::local_date};
use stride_proto::challenge as pb;
use time::Duration;

use super::Challenges;
use crate::{domain::settlement, store};

/// The average shutdown time looks this far back (days, today included).
const AVERAGE_DAYS: i64 = 30;
/// The streak looks at most this far back.
const STREAK_DAYS: i64 = 366;

/// Total points and windows completed come from the ledger and progress; the shutdown streak
/// and average time from the shutdown reflections recorded (docs/challenges.md).
pub async fn get(
    s: &Challenges,
    call: Call<pb::GetChallengeStatsRequest>,
) -> AppResult<pb::GetChallengeStatsResponse> {
    let caller = call.caller()?;
    let mut conn = s.pool.acquire().await?;
    let tz = directory::timezone(&mut conn, caller.user_id).await?;
    let today = local_date(s.clock.now(), &tz);
    let (total_points, completed) = store::stats::totals(&mut conn, caller.user_id).await?;
    let shutdowns = store::stats::shutdowns_since(
        &mut conn,
        caller.user_id,
        today - Duration::days(STREAK_DAYS - 1),
    )
    .await?;
    let days: Vec<_> = shutdowns.iter().map(|(d, _)| *d).collect();
    let recent: Vec<i32> = shutdowns
        .iter()
        .filter(|(d, _)| *d > today - Duration::days(AVERAGE_DAYS) && *d <= today)
        .map(|(_, m)| *m)
        .collect();
    Ok(pb::GetChallengeStatsResponse {
        total_points,
        challenges_completed: i32::try_from(completed).unwrap_or(i32::MAX),
        shutdown_streak_days: settlement::shutdown_streak(&days, today),
        average_shutdown_minute: settlement::average_minute(&recent).unwrap_or(-1),
        shutdown_count: i32::try_from(recent.len()).unwrap_or(i32::MAX),
    })
}
