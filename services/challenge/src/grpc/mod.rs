//! The gRPC services of `stride.challenge.v1`, one struct and handler table each:
//! `ChallengeService` (challenges, joining, the caller's progress: [`challenges`]),
//! `LeaderboardService` ([`leaderboard`]), `RewardService` ([`rewards`]) and `FriendService`
//! ([`friends`]).

mod challenges;
pub mod friends;
pub mod leaderboard;
pub mod rewards;

pub use friends::Friends;
pub use leaderboard::Leaderboards;
pub use rewards::Rewards;

use sqlx::PgPool;
use stride_kit::clock::SharedClock;
use stride_proto::challenge::{self as pb, challenge_service_server::ChallengeService};

pub struct Challenges {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl ChallengeService for Challenges {
        fn list_challenges(pb::ListChallengesRequest) -> pb::ListChallengesResponse => challenges::list;
        fn get_challenge(pb::GetChallengeRequest) -> pb::GetChallengeResponse => challenges::get;
        fn join_challenge(pb::JoinChallengeRequest) -> pb::JoinChallengeResponse => challenges::join;
    }
}
