//! A running analytics service, a stand-in producer (a real outbox and relay) and the helpers
//! its tests share.

use stride_analytics::{Config, SERVICE};
use stride_kit::convert;
use stride_proto::analytics::{
    GetProgressSummaryRequest, GetProgressSummaryResponse,
    analytics_service_client::AnalyticsServiceClient,
};
use stride_testkit::{ServiceHarness, authed, bus::Publisher};
use time::{Date, OffsetDateTime};
use tonic::transport::Channel;
use uuid::Uuid;

pub type Harness = ServiceHarness<AnalyticsServiceClient<Channel>>;

/// A port nothing listens on: the dashboard's peers in tests that are not about them.
pub const CLOSED: &str = "http://127.0.0.1:9";

/// analytics started at `now`, ready, and a producer publishing the events it consumes.
pub async fn start(now: OffsetDateTime) -> (Harness, Publisher) {
    start_with_peers(now, CLOSED, CLOSED).await
}

/// Like [`start`], with the dashboard's peers (ai-coach, challenge) at these URLs.
pub async fn start_with_peers(
    now: OffsetDateTime,
    ai_coach_url: &str,
    challenge_url: &str,
) -> (Harness, Publisher) {
    let h = Harness::start(
        SERVICE,
        now,
        |common, verifier, clock| {
            let config = Config::with_peers(common, ai_coach_url, challenge_url);
            stride_analytics::start(config, verifier, clock)
        },
        AnalyticsServiceClient::new,
    )
    .await;
    let producer = Publisher::start(&h.amqp, "test-producer").await;
    (h, producer)
}

/// Waits until analytics counted exactly `n` deliveries with `outcome` (each test is its own
/// process, so the counters are this test's).
pub async fn delivered(h: &Harness, outcome: &str, n: u64) {
    h.deliveries(outcome, n).await;
    assert_eq!(
        stride_testkit::bus::consumed_count(SERVICE, outcome),
        n,
        "more deliveries {outcome} than expected"
    );
}

/// The caller's summary of the week holding `date` (default: today).
pub async fn summary(h: &Harness, user: Uuid, date: Option<Date>) -> GetProgressSummaryResponse {
    let req = GetProgressSummaryRequest {
        range: 0,
        date: date.map(convert::date),
        ..Default::default()
    };
    h.client
        .clone()
        .get_progress_summary(authed(req, &h.token(user)))
        .await
        .expect("summary")
        .into_inner()
}

/// (date, sessions) of each day in a summary.
pub fn per_day(s: &GetProgressSummaryResponse) -> Vec<(Date, i32)> {
    s.days
        .iter()
        .map(|d| {
            (
                convert::from_date(d.date.as_ref().expect("date")).expect("valid date"),
                d.sessions_completed,
            )
        })
        .collect()
}

/// A session of `minutes` ending at `end`, dated by activity-session in `tz`.
pub fn session(
    user: Uuid,
    kind: &str,
    end: OffsetDateTime,
    minutes: i64,
    tz: &str,
) -> stride_proto::events::SessionCompleted {
    stride_testkit::fixtures::session_completed(
        user,
        kind,
        end,
        time::Duration::minutes(minutes),
        tz,
    )
}

/// Revision `revision` of `user`'s profile, in zone `tz`.
pub fn profile(
    user: Uuid,
    tz: &str,
    revision: i64,
    at: OffsetDateTime,
) -> stride_proto::events::ProfileUpdated {
    stride_testkit::fixtures::profile_updated(user, "Ada", tz, revision, at)
}

/// An award of `points` dated `day` (the producer's local date).
pub fn award(user: Uuid, day: Date, points: i32) -> stride_proto::events::ChallengeCompleted {
    let at = day.with_time(time::macros::time!(12:00)).assume_utc();
    stride_testkit::fixtures::challenge_completed(user, Uuid::now_v7(), points, at, "UTC")
}
