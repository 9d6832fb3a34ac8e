//! `stride.challenge.v1.ChallengeService`: challenges, joining, the caller's progress
//! ([`challenges`]) and the points leaderboard ([`leaderboard`]).

mod challenges;
mod leaderboard;

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
        fn get_leaderboard(pb::GetLeaderboardRequest) -> pb::GetLeaderboardResponse => leaderboard::get;
    }
}
