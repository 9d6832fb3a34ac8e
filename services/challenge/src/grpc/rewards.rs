//! `stride.challenge.v1.RewardService`: the caller's points, XP, level, streaks, points history
//! and achievements.

use sqlx::PgPool;
use stride_bus::directory;
use stride_kit::{
    AppResult, Call, Violations,
    clock::SharedClock,
    convert::{date, local_date, timestamp, week_start},
    pagination::Page,
};
use stride_proto::challenge::{self as pb, reward_service_server::RewardService};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{
        achievements::CATALOGUE,
        rewards::{best_streak, progress, streak},
    },
    store,
};

pub struct Rewards {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl RewardService for Rewards {
        fn get_my_rewards(pb::GetMyRewardsRequest) -> pb::GetMyRewardsResponse => get_mine;
        fn list_points_history(pb::ListPointsHistoryRequest) -> pb::ListPointsHistoryResponse => history;
        fn list_achievements(pb::ListAchievementsRequest) -> pb::ListAchievementsResponse => achievements;
    }
}

/// Entries per page when the request does not say.
const DEFAULT_PAGE_SIZE: usize = 50;
/// Days read back for the current streak (a longer streak shows as this many; the best streak
/// reads them all).
const STREAK_LOOKBACK: i64 = 3_660;

pub async fn get_mine(
    s: &Rewards,
    call: Call<pb::GetMyRewardsRequest>,
) -> AppResult<pb::GetMyRewardsResponse> {
    let me = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    let timezone = directory::timezone(&mut conn, me).await?;
    let today = local_date(s.clock.now(), &timezone);
    let (points, points_this_week) =
        store::ledger::totals(&mut conn, me, week_start(today)).await?;
    let xp = store::rewards::xp_total(&mut conn, me).await?;
    let level = progress(xp);
    let days = store::rewards::streak_days(&mut conn, me, Some(STREAK_LOOKBACK)).await?;
    let all_days = store::rewards::streak_days(&mut conn, me, None).await?;
    let unlocked = store::rewards::unlocked(&mut conn, me).await?;
    Ok(pb::GetMyRewardsResponse {
        points,
        xp,
        level: i32::try_from(level.level).unwrap_or(i32::MAX),
        xp_into_level: level.xp_into_level,
        xp_for_next_level: level.xp_for_next,
        achievements_unlocked: i32::try_from(unlocked.len()).unwrap_or(i32::MAX),
        current_streak: i32::try_from(streak(&days, today)).unwrap_or(i32::MAX),
        best_streak: i32::try_from(best_streak(&all_days)).unwrap_or(i32::MAX),
        points_this_week,
    })
}

pub async fn history(
    s: &Rewards,
    call: Call<pb::ListPointsHistoryRequest>,
) -> AppResult<pb::ListPointsHistoryResponse> {
    let me = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    // The cursor is the (time, id) of the last entry served.
    let page = Page::<(OffsetDateTime, Uuid)>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        DEFAULT_PAGE_SIZE,
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::ledger::history(&mut conn, me, page.after().copied(), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.created_at, r.id));
    Ok(pb::ListPointsHistoryResponse {
        entries: rows
            .into_iter()
            .map(|r| pb::PointsEntry {
                id: r.id.to_string(),
                points: r.points,
                source_id: source_of(&r.cause).to_owned(),
                reason: r.reason,
                local_date: Some(date(r.local_date)),
                create_time: Some(timestamp(r.created_at)),
            })
            .collect(),
        next_page_token,
    })
}

/// What a cause names: `challenge:<id>:<window>` → the challenge id, `achievement:<id>` → the
/// achievement id.
fn source_of(cause: &str) -> &str {
    cause.split(':').nth(1).unwrap_or_default()
}

pub async fn achievements(
    s: &Rewards,
    call: Call<pb::ListAchievementsRequest>,
) -> AppResult<pb::ListAchievementsResponse> {
    let me = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    let counters = store::rewards::counters(&mut conn, me).await?;
    let unlocked = store::rewards::unlocked(&mut conn, me).await?;
    Ok(pb::ListAchievementsResponse {
        achievements: CATALOGUE
            .iter()
            .map(|a| {
                let (current, target) = counters.measure(a.rule);
                let at = unlocked.get(a.id).copied();
                pb::Achievement {
                    id: a.id.to_owned(),
                    title: a.title.to_owned(),
                    description: a.description.to_owned(),
                    points: a.points,
                    xp: a.xp,
                    earned: at.is_some(),
                    unlock_time: at.map(timestamp),
                    current: if at.is_some() {
                        current.max(target)
                    } else {
                        current.min(target)
                    },
                    target,
                }
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_names_its_source() {
        assert_eq!(super::source_of("achievement:streak_7"), "streak_7");
        assert_eq!(
            super::source_of("challenge:c0000000-0000-4000-8000-000000000001:2026-11-23"),
            "c0000000-0000-4000-8000-000000000001"
        );
        assert_eq!(super::source_of("odd"), "");
    }
}
