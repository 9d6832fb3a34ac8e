//! ai-coach: next-step recommendations built from the caller's progress (analytics) and the
//! activity catalog (activity-session), written by an OpenAI-compatible LLM when one is
//! configured, by rules otherwise (and whenever the LLM fails).
//!
//! Consumes `user.deleted.v1` (purges the user's rows) and `user.merged.v1` (moves a guest's rows
//! to the target account); publishes `practice_session.evaluated.v1`, `quiz.completed.v1` and
//! `material.uploaded.v1`, the last consumed by its own materials work queue. Layout:
//! docs/service-layout.md.

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod answers;
mod config;
pub mod conversations;
mod domain;
mod errors;
mod events;
mod export;
mod feedback;
mod grpc;
pub mod llm;
pub mod prompts;
pub mod quota;
mod store;

use std::sync::Arc;

use stride_bus::ServiceExt as _;
use stride_kit::{
    Verifier, clock::SharedClock, grpc::lazy_channel, serve::Running, service::Builder,
};
use stride_proto::ai_coach::ai_coach_service_server::AiCoachServiceServer;

pub use config::{ChatConfig, Config, DEFAULT_DAILY_QUOTA, DEFAULT_EMBEDDING_MODEL, LlmConfig};

pub const SERVICE: &str = "ai-coach";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, then ai-coach's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[&stride_bus::MIGRATOR, &MIGRATOR];

/// Starts the gRPC server and the event consumer; returns once listening. Ready once the queue
/// is declared and bound. The upstream channels connect on first use.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    match &config.llm {
        Some(l) => tracing::info!(model = %l.model, "LLM configured"),
        None => tracing::info!("no LLM configured; answering with rules"),
    }
    quota::set_daily_limit(config.daily_quota);
    answers::set_clock(clock.clone());
    // One client (and circuit breaker) for every capability.
    let llm = config.llm.as_ref().map(|c| Arc::new(llm::Llm::new(c)));
    // Before subscribe (the kit's order): practice publishes practice_session.evaluated.v1.
    let outbox = service.relay();
    service.subscribe(events::subscriptions());
    service.grpc(
        stride_proto::ai_coach::practice_service_server::PracticeServiceServer::new(
            grpc::practice::Practice {
                pool: service.pool().clone(),
                clock: clock.clone(),
                outbox: outbox.clone(),
                profile: lazy_channel(&config.profile_url)?,
                llm: llm.clone(),
            },
        ),
    );
    service.grpc(
        stride_proto::ai_coach::quiz_service_server::QuizServiceServer::new(grpc::quiz::Quizzes {
            pool: service.pool().clone(),
            clock: clock.clone(),
            outbox: outbox.clone(),
            activity_session: lazy_channel(&config.activity_session_url)?,
            profile: lazy_channel(&config.profile_url)?,
            llm: llm.clone(),
        }),
    );
    service.grpc(
        stride_proto::ai_coach::doubt_service_server::DoubtServiceServer::new(
            grpc::doubt::Doubts {
                pool: service.pool().clone(),
                clock: clock.clone(),
                activity_session: lazy_channel(&config.activity_session_url)?,
                llm: llm.clone(),
            },
        ),
    );
    // Study materials: the upload publishes material.uploaded.v1; the jobs run from a work
    // queue of their own (one at a time per replica, the replicas competing), so a long job never
    // holds up ai-coach.events (ADR 0030).
    let mut jobs = stride_bus::consumer::Subscriber::new(
        events::MATERIALS_QUEUE,
        config.common.amqp_url.expose(),
        service.pool().clone(),
        events::material_jobs(events::on_material_uploaded::MaterialJobs {
            pool: service.pool().clone(),
            clock: clock.clone(),
            llm: llm.clone(),
        }),
        Some(outbox.clone()),
    );
    jobs.prefetch = 1;
    jobs.batch = 1;
    jobs.concurrency = 1;
    let jobs = jobs.spawn(service.shutdown_token());
    service.component(Some(jobs.ready), jobs.task);
    service.grpc(
        stride_proto::ai_coach::material_service_server::MaterialServiceServer::new(
            grpc::materials::Materials {
                pool: service.pool().clone(),
                clock: clock.clone(),
                outbox: outbox.clone(),
                llm: llm.clone(),
            },
        ),
    );
    service.grpc(AiCoachServiceServer::new(grpc::Recommendations {
        pool: service.pool().clone(),
        clock: clock.clone(),
        analytics: lazy_channel(&config.analytics_url)?,
        activity_session: lazy_channel(&config.activity_session_url)?,
        llm: llm.clone(),
    }));
    service.grpc(
        stride_proto::ai_coach::conversation_service_server::ConversationServiceServer::new(
            conversations::ConversationApi(Arc::new(conversations::Conversations {
                pool: service.pool().clone(),
                clock: clock.clone(),
                llm: llm.clone(),
                peers: conversations::tools::Peers {
                    analytics: lazy_channel(&config.analytics_url)?,
                    activity_session: lazy_channel(&config.activity_session_url)?,
                },
                config: config.chat.clone(),
            })),
        ),
    );
    service.grpc(
        stride_proto::ai_coach::agent_service_server::AgentServiceServer::new(
            grpc::agents::Agents {
                pool: service.pool().clone(),
                clock: clock.clone(),
                activity_session: lazy_channel(&config.activity_session_url)?,
                profile: lazy_channel(&config.profile_url)?,
                llm: llm.clone(),
            },
        ),
    );
    service.grpc(
        stride_proto::ai_coach::feedback_service_server::FeedbackServiceServer::new(
            feedback::Feedback {
                pool: service.pool().clone(),
                clock: clock.clone(),
            },
        ),
    );
    service.grpc(
        stride_proto::stride::ai_coach::v1::user_data_service_server::UserDataServiceServer::new(
            export::Export {
                pool: service.pool().clone(),
            },
        ),
    );
    service.start(verifier).await
}

/// `stride-ai-coach serve`: runs until SIGTERM. (`migrate` reads only DATABASE_URL: the upstream
/// and LLM settings are read here.)
pub async fn serve() -> anyhow::Result<()> {
    stride_kit::service::run(Config::from_env()?, start).await
}
