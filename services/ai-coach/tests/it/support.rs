//! The mesh around the coach: analytics + activity-session on a shared vhost, an LLM stand-in.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Json, Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use serde_json::{Value, json};
use sqlx::PgPool;
use stride_ai_coach::{Config, LlmConfig, Secret};
use stride_kit::{ManualClock, config::CommonConfig, serve::Running};
use stride_proto::{
    activity_session::{
        CompleteSessionRequest, ListActivitiesRequest, StartSessionRequest,
        activity_session_service_client::ActivitySessionServiceClient,
    },
    ai_coach::ai_coach_service_client::AiCoachServiceClient,
    analytics::{GetProgressSummaryRequest, analytics_service_client::AnalyticsServiceClient},
};
use stride_testkit::{EVENT_DEADLINE, TestIssuer, authed, eventually};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

pub const MODEL: &str = "stand-in-coach-1";
pub const ANSWER: &str =
    "Two focus blocks today already: nice start. Do one more Focus session after lunch.";
pub const API_KEY: &str = "sk-test-never-logged";

fn common(service: &'static str, database_url: String, amqp_url: &str) -> CommonConfig {
    CommonConfig {
        service,
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        database_url,
        amqp_url: amqp_url.to_owned(),
        auth_url: "http://127.0.0.1:1".into(),
        db_max_connections: 5,
    }
}

async fn wait_ready(running: &Running, what: &str) {
    let health = running.health.clone();
    eventually(EVENT_DEADLINE, what, || {
        let ready = health.is_ready();
        async move { ready.then_some(()) }
    })
    .await;
}

pub struct Mesh {
    pub issuer: TestIssuer,
    pub clock: ManualClock,
    pub amqp: String,
    pub analytics: Running,
    pub activity_session: Running,
    pub sessions: ActivitySessionServiceClient<Channel>,
    pub progress: AnalyticsServiceClient<Channel>,
    pub focus_id: String,
}

impl Mesh {
    pub async fn start(now: OffsetDateTime) -> Self {
        stride_kit::telemetry::init_for_tests();
        let issuer = TestIssuer::new();
        let clock = ManualClock::new(now);
        let (amqp, _vhost) = stride_testkit::vhost().await;

        let analytics = stride_analytics::start(
            stride_analytics::Config {
                common: common("analytics", stride_testkit::database().await, &amqp),
            },
            issuer.verifier(),
            Arc::new(clock.clone()),
        )
        .await
        .expect("start analytics");
        // activity-session's relay publishes with `mandatory`: analytics' queue must be bound first.
        wait_ready(&analytics, "analytics ready").await;
        let activity_session = stride_activity_session::start(
            stride_activity_session::Config {
                common: common("activity-session", stride_testkit::database().await, &amqp),
            },
            issuer.verifier(),
            Arc::new(clock.clone()),
        )
        .await
        .expect("start activity-session");
        wait_ready(&activity_session, "activity-session ready").await;

        let mut sessions =
            ActivitySessionServiceClient::connect(format!("http://{}", activity_session.grpc_addr))
                .await
                .unwrap();
        let progress = AnalyticsServiceClient::connect(format!("http://{}", analytics.grpc_addr))
            .await
            .unwrap();
        let catalog = sessions
            .list_activities(authed(
                ListActivitiesRequest {
                    page_size: 100,
                    ..Default::default()
                },
                &issuer.token(Uuid::now_v7()),
            ))
            .await
            .unwrap()
            .into_inner()
            .activities;
        let focus_id = catalog
            .iter()
            .find(|a| a.slug == "focus-25")
            .expect("focus-25 in the catalog")
            .id
            .clone();
        Self {
            issuer,
            clock,
            amqp,
            analytics,
            activity_session,
            sessions,
            progress,
            focus_id,
        }
    }

    /// Starts a coach against this mesh.
    pub async fn coach(&self, llm: Option<LlmConfig>) -> Coach {
        self.coach_with(llm, format!("http://{}", self.analytics.grpc_addr))
            .await
    }

    pub async fn coach_with(&self, llm: Option<LlmConfig>, analytics_url: String) -> Coach {
        let db_url = stride_testkit::database().await;
        let cfg = Config {
            common: common("ai-coach", db_url.clone(), &self.amqp),
            analytics_url,
            activity_session_url: format!("http://{}", self.activity_session.grpc_addr),
            llm,
        };
        let running =
            stride_ai_coach::start(cfg, self.issuer.verifier(), Arc::new(self.clock.clone()))
                .await
                .expect("start ai-coach");
        // Ready once its queue is bound (so user.deleted.v1 reaches it).
        wait_ready(&running, "ai-coach ready").await;
        let client = AiCoachServiceClient::connect(format!("http://{}", running.grpc_addr))
            .await
            .unwrap();
        let db = stride_kit::db::connect(&db_url, 2).await.unwrap();
        Coach {
            running,
            client,
            db,
        }
    }

    /// Completes `n` sessions of `activity_id` (25 minutes each, instantly) and waits until
    /// analytics has counted them.
    pub async fn complete_sessions(&mut self, user: Uuid, activity_id: &str, n: i32) {
        let token = self.issuer.token(user);
        let before = self.summary_sessions(user).await;
        for _ in 0..n {
            let started = self
                .sessions
                .start_session(authed(
                    StartSessionRequest {
                        activity_id: activity_id.into(),
                        planned_duration: None,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .session
                .unwrap();
            self.clock.advance(time::Duration::minutes(25));
            self.sessions
                .complete_session(authed(
                    CompleteSessionRequest {
                        session_id: started.id,
                    },
                    &token,
                ))
                .await
                .unwrap();
        }
        let want = before + n;
        eventually(
            EVENT_DEADLINE,
            "analytics counts the completed sessions",
            || {
                let mut progress = self.progress.clone();
                let token = token.clone();
                async move {
                    let s = progress
                        .get_progress_summary(authed(GetProgressSummaryRequest::default(), &token))
                        .await
                        .ok()?;
                    (s.into_inner().sessions_completed == want).then_some(())
                }
            },
        )
        .await;
    }

    async fn summary_sessions(&mut self, user: Uuid) -> i32 {
        let req = authed(
            GetProgressSummaryRequest::default(),
            &self.issuer.token(user),
        );
        self.progress
            .get_progress_summary(req)
            .await
            .unwrap()
            .into_inner()
            .sessions_completed
    }

    pub async fn stop(self) {
        self.activity_session.stop().await.unwrap();
        self.analytics.stop().await.unwrap();
    }
}

pub struct Coach {
    pub running: Running,
    pub client: AiCoachServiceClient<Channel>,
    /// The coach's own database (usage accounting).
    pub db: PgPool,
}

impl Coach {
    pub async fn stop(self) {
        self.running.stop().await.unwrap();
    }

    /// Publishes `event` the way auth does: an outbox row in a scratch database, sent by the real
    /// relay with confirms; returns once the broker confirmed it.
    pub async fn publish_as_auth<E: stride_bus::Event>(&self, amqp: &str, event: &E) {
        let pool = PgPool::connect(&stride_testkit::database().await)
            .await
            .unwrap();
        stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR])
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        let id = stride_bus::outbox::enqueue(&mut tx, event).await.unwrap();
        tx.commit().await.unwrap();
        // A child of the coach's token: the test producer never outlives the coach.
        let stop = self.running.shutdown.child_token();
        let relay = stride_bus::outbox::Relay::spawn(pool.clone(), amqp, "auth", stop.clone());
        relay.outbox.kick();
        eventually(
            EVENT_DEADLINE,
            &format!("the relay confirms {}", E::TYPE),
            || {
                let pool = pool.clone();
                async move {
                    let published: bool = sqlx::query_scalar(
                        "SELECT published_at IS NOT NULL FROM outbox WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                    published.then_some(())
                }
            },
        )
        .await;
        stop.cancel();
        relay.task.await.unwrap().unwrap();
        pool.close().await;
    }

    /// (source, model, prompt_tokens, completion_tokens) of the recorded answers, oldest first.
    pub async fn usage(&self) -> Vec<(String, Option<String>, i32, i32)> {
        sqlx::query_as("SELECT source, model, prompt_tokens, completion_tokens FROM recommendations ORDER BY id")
            .fetch_all(&self.db)
            .await
            .unwrap()
    }
}

/// (authorization header, JSON body) of each request the stand-in received.
type Recorded = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// What the LLM stand-in does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Answer,
    Fail500,
}

/// A local server speaking the OpenAI chat-completions protocol; records what it was sent.
#[derive(Clone)]
pub struct FakeLlm {
    pub addr: SocketAddr,
    requests: Recorded,
}

#[derive(Clone)]
struct FakeState {
    behaviour: Behaviour,
    requests: Recorded,
}

async fn chat_completions(
    State(st): State<FakeState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    st.requests.lock().unwrap().push((auth, body.clone()));
    if st.behaviour == Behaviour::Fail500 {
        let err = json!({"error": {"message": "upstream overloaded", "type": "server_error", "param": null, "code": null}});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(err));
    }
    let answer = json!({
        "id": "chatcmpl-test-1",
        "object": "chat.completion",
        "created": 1_780_000_000u32,
        "model": body["model"],
        "system_fingerprint": "fp_test",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 321,
            "completion_tokens": 27,
            "total_tokens": 348,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default"
    });
    (StatusCode::OK, Json(answer))
}

impl FakeLlm {
    pub async fn start(behaviour: Behaviour) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(FakeState {
                behaviour,
                requests: requests.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, requests }
    }

    pub fn config(&self) -> LlmConfig {
        llm_config(format!("http://{}/v1", self.addr))
    }

    /// (authorization header, JSON body) of each request received.
    pub fn requests(&self) -> Vec<(Option<String>, Value)> {
        self.requests.lock().unwrap().clone()
    }
}

pub fn llm_config(base_url: String) -> LlmConfig {
    LlmConfig {
        base_url,
        model: MODEL.into(),
        api_key: Some(Secret(API_KEY.into())),
        timeout: Duration::from_secs(10),
    }
}

/// A loopback URL nothing listens on.
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// `user`'s row count in every table of the service's own schema that has a `user_id` column
/// (bus tables aside), by table. Generic on purpose: a table added later is covered too.
pub async fn user_rows(db: &PgPool, user: Uuid) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'user_id'
           AND table_name NOT IN ('_sqlx_migrations', 'inbox', 'outbox')
         ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .expect("tables with a user_id column");
    assert!(!tables.is_empty(), "no table has a user_id column");
    let mut rows = Vec::with_capacity(tables.len());
    for table in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            r#"SELECT count(*) FROM "{table}" WHERE user_id = $1"#
        )))
        .bind(user)
        .fetch_one(db)
        .await
        .expect("count a user's rows");
        rows.push((table, n));
    }
    rows
}

/// `user.deleted.v1` as auth publishes it.
pub fn user_deleted(user: Uuid, at: OffsetDateTime) -> stride_proto::events::UserDeleted {
    stride_proto::events::UserDeleted {
        user_id: user.to_string(),
        occur_time: Some(stride_kit::convert::timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(stride_kit::convert::date(at.date())),
    }
}
