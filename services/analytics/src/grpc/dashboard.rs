//! `stride.analytics.v1.DashboardService`: the learning app's home screen (seed 003).
//!
//! The local parts (study progress, streaks, weak topics) come from analytics' own tables; the
//! recommendation from ai-coach, the leaderboard and XP/level from challenge, asked at the same time, on
//! the caller's behalf (their token), each with the dashboard's deadline. A peer that fails or
//! is late leaves its part unset and named in `missing`: the dashboard never fails for a peer.

use std::{future::Future, time::Duration};

use sqlx::PgPool;
use stride_kit::{AppResult, Call, clock::SharedClock, convert, grpc::on_behalf};
use stride_proto::{
    ai_coach::{GetRecommendationRequest, ai_coach_service_client::AiCoachServiceClient},
    analytics::{self as pb, dashboard_service_server::DashboardService},
    challenge::{
        GetLeaderboardRequest, GetMyRewardsRequest,
        leaderboard_service_client::LeaderboardServiceClient,
        reward_service_client::RewardServiceClient,
    },
};
use tonic::{Code, Status, transport::Channel};
use uuid::Uuid;

use super::{caller, mastery::to_proto as topic_to_proto};
use crate::{
    domain::{
        dashboard::{self, Failure, LEADERBOARD_TOP},
        mastery, summary, timezone,
    },
    store,
};

pub struct Dashboard {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub ai_coach: Channel,
    pub challenge: Channel,
    /// How long each peer may take.
    pub deadline: Duration,
}

stride_kit::grpc_handlers! {
    impl DashboardService for Dashboard {
        fn get_dashboard(pb::GetDashboardRequest) -> pb::GetDashboardResponse => get_dashboard;
    }
}

/// A peer's answer within `deadline`, or why not.
async fn ask<T>(
    deadline: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(deadline, call).await {
        Err(_) => Err(Failure::Late),
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => {
            tracing::warn!(code = ?s.code(), message = s.message(), "dashboard peer failed");
            Err(match s.code() {
                // Cancelled: the client side's own grpc-timeout fired first.
                Code::DeadlineExceeded | Code::Cancelled => Failure::Late,
                Code::Unavailable => Failure::Unavailable,
                c => Failure::Failed(format!("{c:?}")),
            })
        }
    }
}

/// A request that tells the peer the deadline too (grpc-timeout).
fn request<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.set_timeout(deadline);
    r
}

async fn get_dashboard(
    s: &Dashboard,
    call: Call<pb::GetDashboardRequest>,
) -> AppResult<pb::GetDashboardResponse> {
    let caller = call.caller()?;
    let user = caller.user_id;
    let deadline = s.deadline;

    let mut coach = AiCoachServiceClient::new(on_behalf(&s.ai_coach, &caller.token));
    let recommendation = ask(
        deadline,
        coach.get_recommendation(request(GetRecommendationRequest::default(), deadline)),
    );
    let mut board = LeaderboardServiceClient::new(on_behalf(&s.challenge, &caller.token));
    let leaderboard = ask(
        deadline,
        board.get_leaderboard(request(
            GetLeaderboardRequest {
                top_n: LEADERBOARD_TOP as i32,
                ..Default::default()
            },
            deadline,
        )),
    );
    let mut rewards = RewardServiceClient::new(on_behalf(&s.challenge, &caller.token));
    let xp = ask(
        deadline,
        rewards.get_my_rewards(request(GetMyRewardsRequest::default(), deadline)),
    );
    let (recommendation, leaderboard, xp, local) =
        tokio::join!(recommendation, leaderboard, xp, local_parts(s, user));
    let mut answer = local?;

    // XP and levels are challenge's (DESIGN §2): asked, like the leaderboard.
    match xp {
        Ok(r) => {
            answer.xp = Some(pb::XpStatus {
                total_xp: r.xp,
                level: r.level,
                total_points: r.points,
            })
        }
        Err(f) => answer.missing.push(pb::MissingPart {
            part: "xp".into(),
            reason: dashboard::reason("challenge", &f, deadline),
        }),
    }

    match recommendation {
        Ok(r) => {
            answer.recommendation = Some(pb::RecommendationPreview {
                text: r.text,
                suggested_activity_id: r.suggested_activity_id,
            })
        }
        Err(f) => answer.missing.push(pb::MissingPart {
            part: "recommendation".into(),
            reason: dashboard::reason("ai-coach", &f, deadline),
        }),
    }
    match leaderboard {
        Ok(l) => {
            let me = user.to_string();
            let entry =
                |e: &stride_proto::challenge::LeaderboardEntry| pb::LeaderboardPreviewEntry {
                    rank: e.rank,
                    display_name: e.display_name.clone(),
                    points: e.points,
                    is_current_user: e.user_id == me,
                };
            answer.leaderboard = Some(pb::LeaderboardPreview {
                top: l.entries.iter().take(LEADERBOARD_TOP).map(entry).collect(),
                me: l.me.as_ref().map(|e| pb::LeaderboardPreviewEntry {
                    is_current_user: true,
                    ..entry(e)
                }),
            });
        }
        Err(f) => answer.missing.push(pb::MissingPart {
            part: "leaderboard".into(),
            reason: dashboard::reason("challenge", &f, deadline),
        }),
    }
    Ok(answer)
}

/// Everything analytics answers itself.
async fn local_parts(s: &Dashboard, user: Uuid) -> AppResult<pb::GetDashboardResponse> {
    let mut conn = s.pool.acquire().await?;
    let tz = caller::zone(&mut conn, user).await?;
    let today = timezone::today(s.clock.now(), &tz);
    let (week_start, _) = summary::week_of(today);
    let rows = store::figures::rows(&mut conn, user, week_start, today).await?;
    let week = store::figures::totals(&rows);
    let streaks = store::figures::activity_streak(&mut conn, user, today).await?;
    let (lessons, topics_started) = store::figures::study(&mut conn, user).await?;
    let (all, weak) = mastery::rank(store::mastery::topics(&mut conn, user, None).await?);
    let assessed: Vec<i32> = all
        .iter()
        .filter(|(_, m)| m.level != mastery::Level::NotAssessed)
        .map(|(_, m)| m.score)
        .collect();
    let average_mastery = if assessed.is_empty() {
        0.0
    } else {
        let mean = assessed.iter().map(|&x| f64::from(x)).sum::<f64>() / assessed.len() as f64;
        (mean * 10.0).round() / 10.0
    };
    Ok(pb::GetDashboardResponse {
        timezone: tz,
        today: Some(convert::date(today)),
        study: Some(pb::StudyProgress {
            week_start: Some(convert::date(week_start)),
            sessions_completed: week.sessions_completed,
            active_duration: Some(convert::duration(time::Duration::seconds(week.seconds))),
            active_days: week.active_days,
            lessons_completed: lessons,
            topics_started,
            average_mastery,
        }),
        streaks: Some(pb::DashboardStreaks {
            current: streaks.current,
            longest: streaks.longest,
        }),
        xp: None,
        weak_topics: weak.iter().map(topic_to_proto).collect(),
        recommendation: None,
        leaderboard: None,
        missing: Vec::new(),
    })
}
