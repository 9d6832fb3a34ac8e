//! `stride.challenge.v1.LeaderboardService`: GetLeaderboard — top N, the caller's own line and
//! the lines around it, on a period board, a challenge's board or among friends. Ranks come
//! from the standings counts (never a scan); the tie rule is `domain::leaderboard`'s.

use std::collections::HashSet;

use sqlx::{PgConnection, PgPool};
use stride_bus::directory;
use stride_kit::{
    AppResult, Call, Violations,
    clock::SharedClock,
    convert::{date, local_date, parse_id},
    db::pair,
};
use stride_proto::challenge::{self as pb, leaderboard_service_server::LeaderboardService};
use uuid::Uuid;

use crate::{
    domain::leaderboard::{self, Metric, Period, board, challenge_board, rank},
    errors,
    store::{self, leaderboard::Standing},
};

pub struct Leaderboards {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl LeaderboardService for Leaderboards {
        fn get_leaderboard(pb::GetLeaderboardRequest) -> pb::GetLeaderboardResponse => get;
    }
}

pub async fn get(
    s: &Leaderboards,
    call: Call<pb::GetLeaderboardRequest>,
) -> AppResult<pb::GetLeaderboardResponse> {
    let me = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let top_n = leaderboard::top_n(&mut v, req.top_n);
    let around = leaderboard::around(&mut v, req.around);
    let period = match pb::LeaderboardPeriod::try_from(req.period) {
        Ok(pb::LeaderboardPeriod::Unspecified | pb::LeaderboardPeriod::Week) => Period::Week,
        Ok(pb::LeaderboardPeriod::Month) => Period::Month,
        Ok(pb::LeaderboardPeriod::AllTime) => Period::AllTime,
        Err(_) => {
            v.add("period", "unknown period");
            Period::Week
        }
    };
    let metric = match pb::LeaderboardMetric::try_from(req.metric) {
        Ok(pb::LeaderboardMetric::Unspecified | pb::LeaderboardMetric::Points) => Metric::Points,
        Ok(pb::LeaderboardMetric::Xp) => Metric::Xp,
        Err(_) => {
            v.add("metric", "unknown metric");
            Metric::Points
        }
    };
    let friends = match pb::LeaderboardScope::try_from(req.scope) {
        Ok(pb::LeaderboardScope::Unspecified | pb::LeaderboardScope::Global) => false,
        Ok(pb::LeaderboardScope::Friends) => true,
        Err(_) => {
            v.add("scope", "unknown scope");
            false
        }
    };
    let challenge =
        (!req.challenge_id.is_empty()).then(|| parse_id(&mut v, "challenge_id", &req.challenge_id));
    v.check()?;

    let mut conn = s.pool.acquire().await?;
    let now = s.clock.now();
    let timezone = directory::timezone(&mut conn, me).await?;
    let (key, start, end) = match challenge {
        Some(id) => {
            let today = local_date(now, &timezone);
            let c = store::challenges::get(&mut conn, me, today, id, false)
                .await?
                .ok_or_else(errors::no_challenge)?;
            let w = c.schedule().shown(today);
            (challenge_board(id, w.start), Some(w.start), w.end)
        }
        None => {
            let today = local_date(now, &timezone);
            (
                board(metric, period, today),
                period.start(today),
                period.end(today),
            )
        }
    };
    let mut answer = if friends {
        among_friends(&mut conn, &key, me, top_n, around).await?
    } else {
        let mut spare = s.pool.try_acquire();
        global(&mut conn, spare.as_deref_mut(), &key, me, top_n, around).await?
    };
    answer.period_start = start.map(date);
    answer.period_end = end.map(date);
    if answer.me.as_ref().is_some_and(|m| m.rank == 0) {
        // No line yet: rank 0, under the name the directory knows.
        let name = directory::get(&mut conn, me)
            .await?
            .map(|e| e.display_name)
            .unwrap_or_default();
        if let Some(m) = answer.me.as_mut() {
            m.display_name = name;
        }
    }
    Ok(answer)
}

/// The public board, without anyone blocked either way (counts corrected by their lines).
/// Independent reads go side by side on `spare` when there is one (stride_kit::db::pair):
/// three round trips deep instead of seven.
async fn global(
    conn: &mut PgConnection,
    mut spare: Option<&mut PgConnection>,
    key: &str,
    me: Uuid,
    top_n: i64,
    around: i64,
) -> AppResult<pb::GetLeaderboardResponse> {
    let (hidden, mine) = pair(
        conn,
        spare.as_deref_mut(),
        async |c| store::friends::hidden_from(c, me).await,
        async |c| store::leaderboard::of_users(c, key, &[me]).await,
    )
    .await?;
    let hidden: HashSet<Uuid> = hidden.into_iter().collect();
    let mine = mine.into_iter().next();
    let extra = i64::try_from(hidden.len()).unwrap_or(0);
    let shown = |l: &Standing| !hidden.contains(&l.user_id);
    let hidden_ids: Vec<Uuid> = hidden.iter().copied().collect();

    // The top (a prefix of the board without the hidden users; with them, their visible lines
    // too, subtracted from the counts above a score) beside the lines around mine.
    let ((top, hidden_lines), (before, after)) = pair(
        conn,
        spare.as_deref_mut(),
        async |c| {
            let top = store::leaderboard::top(c, key, top_n + extra).await?;
            let hidden_lines = if hidden_ids.is_empty() {
                Vec::new() // the usual case: no round trip
            } else {
                store::leaderboard::of_users(c, key, &hidden_ids).await?
            };
            sqlx::Result::Ok((top, hidden_lines))
        },
        async |c| match &mine {
            Some(mine) if around > 0 => {
                store::leaderboard::around(c, key, mine, around + extra).await
            }
            _ => Ok((Vec::new(), Vec::new())),
        },
    )
    .await?;
    let top: Vec<Standing> = top
        .into_iter()
        .filter(shown)
        .take(usize::try_from(top_n).unwrap_or(0))
        .collect();
    let entries = rank_prefix(&top, me);
    let hidden_scores: Vec<i64> = hidden_lines
        .into_iter()
        .filter(|l| l.visible)
        .map(|l| l.score)
        .collect();

    let window: Vec<Standing> = match &mine {
        None => Vec::new(),
        Some(mine) => {
            let k = usize::try_from(around).unwrap_or(0);
            let before: Vec<Standing> = before.into_iter().filter(shown).collect();
            let skip = before.len().saturating_sub(k);
            let mut window: Vec<Standing> = before.into_iter().skip(skip).collect();
            window.push(mine.clone());
            window.extend(after.into_iter().filter(shown).take(k));
            window
        }
    };
    let mut scores: Vec<i64> = window.iter().map(|l| l.score).collect();
    scores.dedup();
    let (above, participants) = pair(
        conn,
        spare,
        async |c| {
            if scores.is_empty() {
                Ok(Vec::new())
            } else {
                store::leaderboard::above(c, key, &scores).await
            }
        },
        async |c| store::leaderboard::participants(c, key).await,
    )
    .await?;
    let rank_of = |score: i64| {
        let higher = above
            .iter()
            .find(|(s, _)| *s == score)
            .map_or(0, |(_, n)| *n);
        let hidden_higher = hidden_scores.iter().filter(|s| **s > score).count();
        rank(higher - i64::try_from(hidden_higher).unwrap_or(0))
    };
    let (me_entry, around_me) = match &mine {
        None => (empty_me(me), Vec::new()),
        Some(mine) => (
            entry(mine, rank_of(mine.score), me),
            window
                .iter()
                .map(|l| entry(l, rank_of(l.score), me))
                .collect(),
        ),
    };
    let participants = participants - i64::try_from(hidden_scores.len()).unwrap_or(0);
    Ok(pb::GetLeaderboardResponse {
        entries,
        me: Some(me_entry),
        around_me: if around > 0 { around_me } else { Vec::new() },
        period_start: None,
        period_end: None,
        participant_count: participants.max(0),
    })
}

/// The caller and their friends (whatever their public-board setting), ranked among themselves.
async fn among_friends(
    conn: &mut PgConnection,
    key: &str,
    me: Uuid,
    top_n: i64,
    around: i64,
) -> AppResult<pb::GetLeaderboardResponse> {
    let mut users = store::friends::ids(conn, me).await?;
    users.push(me);
    let lines = store::leaderboard::of_users(conn, key, &users).await?;
    let ranked = rank_prefix(&lines, me);
    let mine = ranked.iter().position(|e| e.is_me);
    let k = usize::try_from(around).unwrap_or(0);
    let around_me = match mine {
        Some(i) if k > 0 => ranked
            .get(i.saturating_sub(k)..=(i + k).min(ranked.len().saturating_sub(1)))
            .map(<[_]>::to_vec)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(pb::GetLeaderboardResponse {
        me: Some(
            mine.and_then(|i| ranked.get(i).cloned())
                .unwrap_or_else(|| empty_me(me)),
        ),
        entries: ranked
            .iter()
            .take(usize::try_from(top_n).unwrap_or(0))
            .cloned()
            .collect(),
        around_me,
        period_start: None,
        period_end: None,
        participant_count: i64::try_from(lines.len()).unwrap_or(0),
    })
}

/// Ranks lines that are a prefix of a board (in board order): equal scores share a rank, the
/// next score's rank is 1 + the lines before it.
fn rank_prefix(lines: &[Standing], me: Uuid) -> Vec<pb::LeaderboardEntry> {
    let mut out: Vec<pb::LeaderboardEntry> = Vec::with_capacity(lines.len());
    let mut prev: Option<(i64, i64)> = None;
    for (i, l) in lines.iter().enumerate() {
        let r = match prev {
            Some((score, r)) if score == l.score => r,
            _ => rank(i64::try_from(i).unwrap_or(i64::MAX)),
        };
        prev = Some((l.score, r));
        out.push(entry(l, r, me));
    }
    out
}

fn entry(l: &Standing, rank: i64, me: Uuid) -> pb::LeaderboardEntry {
    pb::LeaderboardEntry {
        rank: i32::try_from(rank).unwrap_or(i32::MAX),
        user_id: l.user_id.to_string(),
        display_name: l.display_name.clone(),
        points: l.score,
        is_me: l.user_id == me,
    }
}

fn empty_me(me: Uuid) -> pb::LeaderboardEntry {
    pb::LeaderboardEntry {
        rank: 0,
        user_id: me.to_string(),
        display_name: String::new(),
        points: 0,
        is_me: true,
    }
}
