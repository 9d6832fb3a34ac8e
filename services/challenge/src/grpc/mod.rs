//! The gRPC services of `stride.challenge.v1`, one struct and handler table each:
//! `ChallengeService` (challenges, joining, the caller's progress: [`challenges`]),
//! `LeaderboardService` ([`leaderboard`]), `RewardService` ([`rewards`]) and `FriendService`
//! ([`friends`]).

mod challenges;
pub mod friends;
pub mod leaderboard;
pub mod rewards;
mod stats;

pub use friends::Friends;
pub use leaderboard::Leaderboards;
pub use rewards::Rewards;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::clock::SharedClock;
use stride_proto::challenge::{self as pb, challenge_service_server::ChallengeService};

pub struct Challenges {
    pub pool: PgPool,
    pub clock: SharedClock,
    /// challenge.settled.v1 when an owner ends a challenge.
    pub outbox: Outbox,
}

stride_kit::grpc_handlers! {
    impl ChallengeService for Challenges {
        fn list_challenges(pb::ListChallengesRequest) -> pb::ListChallengesResponse => challenges::list;
        fn get_challenge(pb::GetChallengeRequest) -> pb::GetChallengeResponse => challenges::get;
        fn join_challenge(pb::JoinChallengeRequest) -> pb::JoinChallengeResponse => challenges::join;
        fn create_challenge(pb::CreateChallengeRequest) -> pb::CreateChallengeResponse => challenges::create;
        fn update_challenge(pb::UpdateChallengeRequest) -> pb::UpdateChallengeResponse => challenges::update;
        fn delete_challenge(pb::DeleteChallengeRequest) -> pb::DeleteChallengeResponse => challenges::delete;
        fn end_challenge(pb::EndChallengeRequest) -> pb::EndChallengeResponse => challenges::end;
        fn leave_challenge(pb::LeaveChallengeRequest) -> pb::LeaveChallengeResponse => challenges::leave;
        fn list_challenge_periods(pb::ListChallengePeriodsRequest) -> pb::ListChallengePeriodsResponse => challenges::periods;
        fn get_challenge_stats(pb::GetChallengeStatsRequest) -> pb::GetChallengeStatsResponse => stats::get;
    }
}
