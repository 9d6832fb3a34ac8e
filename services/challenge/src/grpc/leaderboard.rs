//! GetLeaderboard: the top N by points, and the caller's own line even outside it.

use stride_bus::directory;
use stride_kit::{AppResult, Call, Violations};
use stride_proto::challenge as pb;

use super::Challenges;
use crate::{
    domain::leaderboard,
    store::{self, leaderboard::Ranked},
};

pub async fn get(
    s: &Challenges,
    call: Call<pb::GetLeaderboardRequest>,
) -> AppResult<pb::GetLeaderboardResponse> {
    let caller = call.caller()?;
    let mut v = Violations::new();
    let top_n = leaderboard::top_n(&mut v, call.message.top_n);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let entries = store::leaderboard::top(&mut conn, top_n).await?;
    let me = match store::leaderboard::of(&mut conn, caller.user_id).await? {
        Some(r) => entry(r),
        // No points yet: rank 0, under the name the directory knows.
        None => pb::LeaderboardEntry {
            rank: 0,
            user_id: caller.user_id.to_string(),
            display_name: directory::get(&mut conn, caller.user_id)
                .await?
                .map(|e| e.display_name)
                .unwrap_or_default(),
            points: 0,
        },
    };
    Ok(pb::GetLeaderboardResponse {
        entries: entries.into_iter().map(entry).collect(),
        me: Some(me),
    })
}

fn entry(r: Ranked) -> pb::LeaderboardEntry {
    pb::LeaderboardEntry {
        rank: i32::try_from(r.rank).unwrap_or(i32::MAX),
        user_id: r.user_id.to_string(),
        display_name: r.display_name,
        points: r.points,
    }
}
