//! The activity-session harness and what its tests share.

use stride_proto::{
    Event as _,
    activity_session::{
        self as pb, catalog_service_client::CatalogServiceClient,
        routine_service_client::RoutineServiceClient, session_service_client::SessionServiceClient,
    },
    events,
};
use stride_testkit::{ServiceHarness, authed, bus::Probe};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

/// The harness's client is the sessions service; [`catalog`] gives the catalog's.
pub type Harness = ServiceHarness<SessionServiceClient<Channel>>;

/// A client of the catalog service on the harness's channel.
pub fn catalog(h: &Harness) -> CatalogServiceClient<Channel> {
    CatalogServiceClient::new(h.channel.clone())
}

/// A client of the routine service on the harness's channel.
pub fn routines(h: &Harness) -> RoutineServiceClient<Channel> {
    RoutineServiceClient::new(h.channel.clone())
}

/// A routine step of `activity` for `secs` seconds.
pub fn step(activity: &str, secs: i64) -> pb::RoutineStep {
    pb::RoutineStep {
        activity_id: activity.into(),
        duration: Some(stride_kit::convert::duration(time::Duration::seconds(secs))),
    }
}

/// Creates a routine of `user` with `steps`.
pub async fn routine(
    h: &Harness,
    user: Uuid,
    name: &str,
    steps: Vec<pb::RoutineStep>,
) -> pb::Routine {
    routines(h)
        .create_routine(authed(
            pb::CreateRoutineRequest {
                name: name.into(),
                steps,
            },
            &h.token(user),
        ))
        .await
        .expect("create routine")
        .into_inner()
        .routine
        .expect("routine")
}

/// Records `action` on `user`'s session `id`.
pub async fn act(
    h: &Harness,
    user: Uuid,
    id: &str,
    action: pb::SessionAction,
) -> Result<pb::Session, tonic::Status> {
    h.client
        .clone()
        .record_session_event(authed(
            pb::RecordSessionEventRequest {
                session_id: id.into(),
                action: action as i32,
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().session.expect("session"))
}

/// Preset activities (fixed ids, 1000_init.sql).
pub const FOCUS_25: &str = "a0000000-0000-4000-8000-000000000001";
pub const PUSHUPS: &str = "a0000000-0000-4000-8000-000000000005";
pub const BREAK_5: &str = "a0000000-0000-4000-8000-000000000002";
pub const STUDY_45: &str = "a0000000-0000-4000-8000-000000000004";

/// activity-session, started at `now` and ready, with a probe standing in for the consumers of
/// `session.completed.v1` (without one the relay keeps retrying the unroutable event).
pub async fn start(now: OffsetDateTime) -> (Harness, Probe) {
    let h = Harness::start(
        stride_activity_session::SERVICE,
        now,
        |common, verifier, clock| {
            stride_activity_session::start(
                stride_activity_session::Config { common },
                verifier,
                clock,
            )
        },
        SessionServiceClient::new,
    )
    .await;
    let probe = Probe::bind(&h.amqp, events::SessionCompleted::TYPE).await;
    (h, probe)
}

pub fn start_req(activity_id: &str) -> pb::StartSessionRequest {
    pb::StartSessionRequest {
        activity_id: activity_id.into(),
        ..Default::default()
    }
}

pub fn complete_req(session_id: &str) -> pb::CompleteSessionRequest {
    pb::CompleteSessionRequest {
        session_id: session_id.into(),
    }
}

/// Starts a session of `activity` for `user`; completes it after 25 minutes when `complete`.
pub async fn session(h: &Harness, user: Uuid, activity: &str, complete: bool) -> pb::Session {
    let token = h.token(user);
    let mut client = h.client.clone();
    let s = client
        .start_session(authed(start_req(activity), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("session");
    if !complete {
        return s;
    }
    h.clock.advance(time::Duration::minutes(25));
    client
        .complete_session(authed(complete_req(&s.id), &token))
        .await
        .expect("complete")
        .into_inner()
        .session
        .expect("session")
}

/// `user`'s active session, through the API.
pub async fn current(h: &Harness, user: Uuid) -> Option<pb::Session> {
    h.client
        .clone()
        .get_current_session(authed(pb::GetCurrentSessionRequest {}, &h.token(user)))
        .await
        .expect("current session")
        .into_inner()
        .session
}

/// `(id, state)` of every session of `user`, by id.
pub async fn sessions(h: &Harness, user: Uuid) -> Vec<(String, String)> {
    sqlx::query_as("SELECT id::text, state FROM sessions WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&h.db)
        .await
        .expect("sessions")
}

/// `user`'s timezone in the user directory, if a profile update was kept.
pub async fn directory_timezone(h: &Harness, user: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT timezone FROM user_directory WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&h.db)
        .await
        .expect("user directory")
}
