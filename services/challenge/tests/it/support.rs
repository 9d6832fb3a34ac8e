//! The challenge harness and what challenge's tests share.

use stride_proto::{
    Event,
    challenge::{
        self as pb, challenge_service_client::ChallengeServiceClient,
        friend_service_client::FriendServiceClient,
        leaderboard_service_client::LeaderboardServiceClient,
        reward_service_client::RewardServiceClient,
    },
    events,
};
use stride_testkit::{
    ServiceHarness, authed,
    bus::{Probe, Publisher},
    fixtures,
};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

pub type Harness = ServiceHarness<ChallengeServiceClient<Channel>>;

/// The system challenge: 3 focus sessions a week pay 50 points.
pub const FOCUS_THREE: &str = "c0000000-0000-4000-8000-000000000001";

/// challenge, started and ready at `now`, with a probe standing in for the consumers of
/// `challenge.completed.v1` (without one the relay could not deliver what it publishes).
pub async fn start(now: OffsetDateTime) -> (Harness, Probe) {
    let h = Harness::start(
        stride_challenge::SERVICE,
        now,
        |common, verifier, clock| {
            stride_challenge::start(stride_challenge::Config { common }, verifier, clock)
        },
        ChallengeServiceClient::new,
    )
    .await;
    let probe = Probe::bind(&h.amqp, events::ChallengeCompleted::TYPE).await;
    (h, probe)
}

/// The next `challenge.completed.v1`, checked to come from challenge.
pub async fn next_completion(probe: &mut Probe) -> (Uuid, events::ChallengeCompleted) {
    let (id, kind, producer, ev) = probe.next::<events::ChallengeCompleted>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        (events::ChallengeCompleted::TYPE, "challenge")
    );
    (id, ev)
}

/// Publishes `event` as its producer does and waits until challenge has consumed it.
pub async fn deliver<E: Event>(h: &Harness, from: &Publisher, event: &E) -> Uuid {
    let id = from.publish(event).await;
    h.consumed(id).await;
    id
}

/// A 25-minute session of `kind` ending at `end` in `timezone`, as activity-session emits it.
pub fn session(
    user: Uuid,
    kind: &str,
    end: OffsetDateTime,
    timezone: &str,
) -> events::SessionCompleted {
    fixtures::session_completed(user, kind, end, time::Duration::minutes(25), timezone)
}

/// The first profile revision of `user`, as profile emits it.
pub fn profile(user: Uuid, name: &str, timezone: &str) -> events::ProfileUpdated {
    fixtures::profile_updated(
        user,
        name,
        timezone,
        1,
        time::macros::datetime!(2026-10-01 00:00 UTC),
    )
}

pub async fn join(h: &Harness, user: Uuid) -> pb::JoinChallengeResponse {
    h.client
        .clone()
        .join_challenge(authed(
            pb::JoinChallengeRequest {
                challenge_id: FOCUS_THREE.into(),
            },
            &h.token(user),
        ))
        .await
        .expect("join")
        .into_inner()
}

pub async fn get(h: &Harness, user: Uuid) -> pb::GetChallengeResponse {
    h.client
        .clone()
        .get_challenge(authed(
            pb::GetChallengeRequest {
                challenge_id: FOCUS_THREE.into(),
            },
            &h.token(user),
        ))
        .await
        .expect("get")
        .into_inner()
}

/// `user`'s progress in Focus Three's current window.
pub async fn progress(h: &Harness, user: Uuid) -> pb::Progress {
    get(h, user).await.my_progress.expect("joined: progress")
}

/// The all-time points board as `user` sees it.
pub async fn leaderboard(h: &Harness, user: Uuid, top_n: i32) -> pb::GetLeaderboardResponse {
    board(
        h,
        user,
        pb::GetLeaderboardRequest {
            top_n,
            period: pb::LeaderboardPeriod::AllTime as i32,
            ..Default::default()
        },
    )
    .await
    .expect("leaderboard")
}

pub fn boards(h: &Harness) -> LeaderboardServiceClient<Channel> {
    LeaderboardServiceClient::new(h.channel.clone())
}

pub fn rewards(h: &Harness) -> RewardServiceClient<Channel> {
    RewardServiceClient::new(h.channel.clone())
}

pub fn friends(h: &Harness) -> FriendServiceClient<Channel> {
    FriendServiceClient::new(h.channel.clone())
}

pub async fn board(
    h: &Harness,
    user: Uuid,
    req: pb::GetLeaderboardRequest,
) -> Result<pb::GetLeaderboardResponse, tonic::Status> {
    boards(h)
        .get_leaderboard(authed(req, &h.token(user)))
        .await
        .map(tonic::Response::into_inner)
}
