//! The coach and the mesh around it: analytics + activity-session on the coach's vhost (so the
//! events the tests publish reach all three), and an LLM stand-in.

use std::{sync::Arc, time::Duration};

use stride_ai_coach::{Config, LlmConfig, SERVICE};
use stride_kit::{
    Verifier,
    clock::SharedClock,
    config::{CommonConfig, Secret},
    serve::Running,
};
use stride_proto::{
    activity_session::{
        CompleteSessionRequest, ListActivitiesRequest, StartSessionRequest,
        catalog_service_client::CatalogServiceClient, session_service_client::SessionServiceClient,
    },
    ai_coach::{
        GetRecommendationRequest, GetRecommendationResponse,
        ai_coach_service_client::AiCoachServiceClient,
    },
    analytics::{GetProgressSummaryRequest, analytics_service_client::AnalyticsServiceClient},
};
use stride_testkit::{EVENT_DEADLINE, ServiceHarness, authed, eventually, openai::OpenAi};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

pub type Harness = ServiceHarness<AiCoachServiceClient<Channel>>;

pub const MODEL: &str = "stand-in-coach-1";
pub const ANSWER: &str =
    "Two focus blocks today already: nice start. Do one more Focus session after lunch.";
pub const API_KEY: &str = "sk-test-never-logged";

/// The coach with `llm` (None: rules only), started at `now` with its upstreams.
pub async fn start(now: OffsetDateTime, llm: Option<LlmConfig>) -> (Harness, Mesh) {
    start_with(now, llm, None).await
}

/// Like [`start`], with analytics' URL replaced (an unreachable upstream).
pub async fn start_with(
    now: OffsetDateTime,
    llm: Option<LlmConfig>,
    analytics_url: Option<String>,
) -> (Harness, Mesh) {
    start_full(
        now,
        llm,
        analytics_url,
        stride_ai_coach::DEFAULT_DAILY_QUOTA,
    )
    .await
}

/// Like [`start`], with a daily quota of `daily_quota` model-backed answers.
pub async fn start_with_quota(
    now: OffsetDateTime,
    llm: Option<LlmConfig>,
    daily_quota: u32,
) -> (Harness, Mesh) {
    start_full(now, llm, None, daily_quota).await
}

/// Like [`start`], with conversation settings.
pub async fn start_with_chat(
    now: OffsetDateTime,
    llm: Option<LlmConfig>,
    chat: stride_ai_coach::ChatConfig,
) -> (Harness, Mesh) {
    start_full_with(now, llm, None, stride_ai_coach::DEFAULT_DAILY_QUOTA, chat).await
}

async fn start_full(
    now: OffsetDateTime,
    llm: Option<LlmConfig>,
    analytics_url: Option<String>,
    daily_quota: u32,
) -> (Harness, Mesh) {
    start_full_with(now, llm, analytics_url, daily_quota, Default::default()).await
}

async fn start_full_with(
    now: OffsetDateTime,
    llm: Option<LlmConfig>,
    analytics_url: Option<String>,
    daily_quota: u32,
    chat: stride_ai_coach::ChatConfig,
) -> (Harness, Mesh) {
    let mut mesh = None;
    let h = Harness::start(
        SERVICE,
        now,
        |common, verifier, clock| {
            let mesh = &mut mesh;
            async move {
                let m =
                    Mesh::start(common.amqp_url.expose(), verifier.clone(), clock.clone()).await;
                let config = Config {
                    analytics_url: analytics_url
                        .unwrap_or_else(|| format!("http://{}", m.analytics.grpc_addr)),
                    activity_session_url: format!("http://{}", m.activity_session.grpc_addr),
                    // Not part of these tests yet: closed ports.
                    profile_url: "http://127.0.0.1:9".into(),
                    challenge_url: "http://127.0.0.1:9".into(),
                    daily_quota,
                    chat,
                    common,
                    llm,
                };
                *mesh = Some(m);
                stride_ai_coach::start(config, verifier, clock).await
            }
        },
        AiCoachServiceClient::new,
    )
    .await;
    let mut mesh = mesh.expect("the mesh started with the coach");
    mesh.focus_id = mesh.catalog_focus_id(&h).await;
    mesh.broker = Some(h.broker());
    (h, mesh)
}

async fn wait_ready(running: &Running, what: &str) {
    let health = running.health.clone();
    eventually(EVENT_DEADLINE, what, || {
        let ready = health.is_ready();
        async move { ready.then_some(()) }
    })
    .await;
}

/// analytics and activity-session, real, each with its own database.
pub struct Mesh {
    pub analytics: Running,
    pub activity_session: Running,
    pub sessions: SessionServiceClient<Channel>,
    pub catalog: CatalogServiceClient<Channel>,
    pub progress: AnalyticsServiceClient<Channel>,
    /// The catalog's 25-minute focus activity.
    pub focus_id: String,
    /// The harness's vhost, which these peers share: kept until they stop too.
    broker: Option<Arc<stride_testkit::TestVhost>>,
}

impl Mesh {
    async fn start(amqp: &str, verifier: Arc<Verifier>, clock: SharedClock) -> Self {
        let common = |service| async move {
            CommonConfig::for_test(service, &stride_testkit::database().await, amqp)
        };
        let analytics = stride_analytics::start(
            // The dashboard's peers are not part of the coach's tests: closed ports.
            stride_analytics::Config::with_peers(
                common("analytics").await,
                "http://127.0.0.1:9",
                "http://127.0.0.1:9",
            ),
            verifier.clone(),
            clock.clone(),
        )
        .await
        .expect("start analytics");
        // activity-session's relay publishes with `mandatory`: analytics' queue must be bound first.
        wait_ready(&analytics, "analytics ready").await;
        let activity_session = stride_activity_session::start(
            stride_activity_session::Config {
                common: common("activity-session").await,
            },
            verifier,
            clock,
        )
        .await
        .expect("start activity-session");
        wait_ready(&activity_session, "activity-session ready").await;
        let channel = tonic::transport::Endpoint::from_shared(format!(
            "http://{}",
            activity_session.grpc_addr
        ))
        .expect("activity-session address")
        .connect()
        .await
        .expect("connect to activity-session");
        let sessions = SessionServiceClient::new(channel.clone());
        let catalog = CatalogServiceClient::new(channel);
        let progress = AnalyticsServiceClient::connect(format!("http://{}", analytics.grpc_addr))
            .await
            .expect("connect to analytics");
        Self {
            analytics,
            activity_session,
            sessions,
            catalog,
            progress,
            focus_id: String::new(),
            broker: None,
        }
    }

    async fn catalog_focus_id(&self, h: &Harness) -> String {
        let catalog = self
            .catalog
            .clone()
            .list_activities(authed(
                ListActivitiesRequest {
                    page_size: 100,
                    ..Default::default()
                },
                &h.token(Uuid::now_v7()),
            ))
            .await
            .expect("the catalog")
            .into_inner()
            .activities;
        catalog
            .iter()
            .find(|a| a.slug == "focus-25")
            .expect("focus-25 in the catalog")
            .id
            .clone()
    }

    /// Completes `n` sessions of `activity_id` (25 minutes each, moving the clock) and waits
    /// until analytics has counted them.
    pub async fn complete_sessions(&self, h: &Harness, user: Uuid, activity_id: &str, n: i32) {
        let token = h.token(user);
        let before = self.sessions_this_week(h, user).await;
        let mut sessions = self.sessions.clone();
        for _ in 0..n {
            let started = sessions
                .start_session(authed(
                    StartSessionRequest {
                        activity_id: activity_id.into(),
                        planned_duration: None,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .expect("start a session")
                .into_inner()
                .session
                .expect("the session");
            h.clock.advance(time::Duration::minutes(25));
            sessions
                .complete_session(authed(
                    CompleteSessionRequest {
                        session_id: started.id,
                    },
                    &token,
                ))
                .await
                .expect("complete the session");
        }
        let want = before + n;
        eventually(
            EVENT_DEADLINE,
            "analytics counts the completed sessions",
            || async move { (self.sessions_this_week(h, user).await == want).then_some(()) },
        )
        .await;
    }

    /// What analytics shows the user for this week.
    pub async fn sessions_this_week(&self, h: &Harness, user: Uuid) -> i32 {
        let req = authed(GetProgressSummaryRequest::default(), &h.token(user));
        self.progress
            .clone()
            .get_progress_summary(req)
            .await
            .expect("summary")
            .into_inner()
            .sessions_completed
    }

    pub async fn stop(self) {
        self.activity_session
            .stop()
            .await
            .expect("activity-session stops");
        self.analytics.stop().await.expect("analytics stops");
        drop(self.broker);
    }
}

/// Asks the coach for `user`.
pub async fn recommend(
    h: &Harness,
    user: Uuid,
    goal: &str,
) -> Result<GetRecommendationResponse, tonic::Status> {
    h.client
        .clone()
        .get_recommendation(authed(
            GetRecommendationRequest { goal: goal.into() },
            &h.token(user),
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// (source, model, prompt_tokens, completion_tokens) of the recorded answers, oldest first.
pub async fn usage(h: &Harness) -> Vec<(String, Option<String>, i32, i32)> {
    sqlx::query_as(
        "SELECT source, model, prompt_tokens, completion_tokens FROM recommendations ORDER BY id",
    )
    .fetch_all(&h.db)
    .await
    .expect("usage rows")
}

/// The coach's model settings for an endpoint at `base_url`: retries with short backoff.
pub fn llm_config(base_url: String) -> LlmConfig {
    LlmConfig {
        api_key: Some(Secret::new(API_KEY)),
        timeout: Duration::from_secs(10),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        ..LlmConfig::new(base_url, MODEL)
    }
}

/// The OpenAI stand-in and the coach's settings for it.
pub async fn stand_in() -> (OpenAi, LlmConfig) {
    let ai = OpenAi::start().await;
    let cfg = llm_config(ai.url());
    (ai, cfg)
}

/// A loopback URL nothing listens on.
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}
