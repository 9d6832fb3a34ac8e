//! The start-up builder against a real PostgreSQL (`STRIDE_TEST_PG_URL`, set by `cargo xtask
//! test`): several gRPC services in one process, each answering through the one-line handler
//! table with the caller from the token; readiness waits for every component; stop waits for
//! background tasks; a builder dropped before start stops what it spawned.

use std::{sync::Arc, time::Duration};

use stride_kit::{
    AppError, AppResult, Call,
    config::CommonConfig,
    jwt::{SigningKey, StaticJwks, access_claims},
    service::Builder,
};
use stride_proto::{
    ai_coach::{
        GetRecommendationRequest, GetRecommendationResponse,
        ai_coach_service_client::AiCoachServiceClient,
        ai_coach_service_server::{AiCoachService, AiCoachServiceServer},
    },
    analytics::{
        GetEvaluationTrendsRequest, GetEvaluationTrendsResponse,
        trends_service_client::TrendsServiceClient,
        trends_service_server::{TrendsService, TrendsServiceServer},
    },
};
use tokio::sync::watch;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

struct Echo;

stride_kit::grpc_handlers! {
    impl TrendsService for Echo {
        fn get_evaluation_trends(GetEvaluationTrendsRequest) -> GetEvaluationTrendsResponse => summary;
    }
}

stride_kit::grpc_handlers! {
    impl AiCoachService for Echo {
        fn get_recommendation(GetRecommendationRequest) -> GetRecommendationResponse => Echo::recommend;
    }
}

/// Answers with the caller's id as the timezone: proves the caller reached the handler.
async fn summary(
    _: &Echo,
    call: Call<GetEvaluationTrendsRequest>,
) -> AppResult<GetEvaluationTrendsResponse> {
    Ok(GetEvaluationTrendsResponse {
        timezone: call.caller()?.user_id.to_string(),
        ..Default::default()
    })
}

impl Echo {
    /// A number N as the goal answers with N bytes of text, anything else with an error.
    async fn recommend(
        &self,
        call: Call<GetRecommendationRequest>,
    ) -> AppResult<GetRecommendationResponse> {
        if call.message.goal == "panic" {
            panic!("a bug in a handler");
        }
        if let Ok(size) = call.message.goal.parse::<usize>() {
            return Ok(GetRecommendationResponse {
                text: "x".repeat(size),
                ..Default::default()
            });
        }
        Err(AppError::precondition("NOTHING_YET", "no recommendation"))
    }
}

async fn database() -> String {
    stride_kit::install_crypto_provider();
    let admin = std::env::var("STRIDE_TEST_PG_URL").expect("run through `cargo xtask test`");
    let name = format!("k_{}", uuid::Uuid::now_v7().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

#[tokio::test]
async fn one_process_serves_several_grpc_services_and_is_ready_when_every_part_is() {
    stride_kit::telemetry::init_for_tests();
    let db = database().await;
    let common = CommonConfig::for_test("kit-test", &db, "amqp://unused");
    let key = SigningKey::generate().unwrap();
    let verifier = stride_kit::Verifier::new(Arc::new(StaticJwks(Arc::new(
        std::sync::RwLock::new(vec![key.jwk()]),
    ))));

    let mut service = Builder::connect("kit-test", &common, &[])
        .await
        .expect("connect");
    // A component (like the relay) that is ready once its "broker link" is up.
    let (link, ready) = watch::channel(false);
    let (up_tx, up) = tokio::sync::oneshot::channel::<()>();
    let stop = service.shutdown_token();
    service.component(
        Some(ready),
        tokio::spawn(async move {
            let _ = up.await;
            let _ = link.send(true);
            stop.cancelled().await;
            Ok(())
        }),
    );
    let (finished_tx, finished) = tokio::sync::oneshot::channel();
    service.background("waits-for-stop", move |stop| async move {
        stop.cancelled().await;
        let _ = finished_tx.send(());
        Ok(())
    });
    service.grpc(TrendsServiceServer::new(Echo));
    service.grpc(AiCoachServiceServer::new(Echo));
    let running = service.start(verifier).await.expect("start");

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert!(
        !running.health.is_ready(),
        "not ready before the component is"
    );
    let mut health = HealthClient::new(channel.clone());
    for name in [
        "stride.analytics.v1.TrendsService",
        "stride.ai_coach.v1.AiCoachService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .expect("each gRPC service is known to health")
            .into_inner()
            .status;
        assert_eq!(status, 2, "{name} is NOT_SERVING before readiness");
    }
    up_tx.send(()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !running.health.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ready once the component is"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = health
        .check(HealthCheckRequest {
            service: "stride.ai_coach.v1.AiCoachService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1, "SERVING");

    let user = uuid::Uuid::now_v7();
    let token = key
        .sign(&access_claims(
            user,
            "s",
            vec!["user".into()],
            false,
            time_now(),
            900,
        ))
        .unwrap();
    let mut req = tonic::Request::new(GetEvaluationTrendsRequest::default());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let got = TrendsServiceClient::new(channel.clone())
        .get_evaluation_trends(req)
        .await
        .expect("the first service answers")
        .into_inner();
    assert_eq!(got.timezone, user.to_string());
    let mut req = tonic::Request::new(GetRecommendationRequest::default());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut coach = AiCoachServiceClient::new(channel);
    let err = coach
        .get_recommendation(req)
        .await
        .expect_err("the second service answers with its error");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);

    // An answer written in several frames is not held back waiting for the client's delayed
    // ACK (Nagle's algorithm without TCP_NODELAY costs ~40 ms on every such call). The median
    // of 15 calls is far from 40 ms on any machine that can run the suite; a regression lands
    // on it. Sizes: a small list (~750 B, headers + data + trailers) and a large one.
    for size in [750, 3000, 200 * 1024] {
        let mut took = Vec::new();
        for _ in 0..15 {
            let mut req = tonic::Request::new(GetRecommendationRequest {
                goal: size.to_string(),
            });
            req.metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let t = std::time::Instant::now();
            let got = coach
                .get_recommendation(req)
                .await
                .expect("answer")
                .into_inner();
            took.push(t.elapsed());
            assert_eq!(got.text.len(), size);
        }
        took.sort();
        assert!(
            took[7] < Duration::from_millis(25),
            "median call answering {size} bytes took {:?}",
            took[7]
        );
    }

    // A panicking handler answers INTERNAL with a trace id (no exporter is configured here), and
    // the connection survives it.
    let mut req = tonic::Request::new(GetRecommendationRequest {
        goal: "panic".into(),
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let err = coach.get_recommendation(req).await.expect_err("a panic");
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    let trace = err
        .message()
        .strip_prefix("internal error (trace ")
        .and_then(|m| m.strip_suffix(')'))
        .expect("the message names a trace id");
    assert_eq!(trace.len(), 32, "{trace}");
    assert_ne!(trace, "0".repeat(32), "a real trace id");
    let mut req = tonic::Request::new(GetRecommendationRequest { goal: "3".into() });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    coach
        .get_recommendation(req)
        .await
        .expect("the next call on the same connection");

    running.stop().await.expect("clean stop");
    tokio::time::timeout(Duration::from_secs(5), finished)
        .await
        .expect("stop waited for the background task")
        .expect("it saw the cancellation");
}

#[tokio::test]
async fn a_builder_dropped_before_start_stops_what_it_spawned() {
    let db = database().await;
    let common = CommonConfig::for_test("kit-test", &db, "amqp://unused");
    let mut service = Builder::connect("kit-test", &common, &[])
        .await
        .expect("connect");
    let (tx, rx) = tokio::sync::oneshot::channel();
    service.background("task", move |stop| async move {
        stop.cancelled().await;
        let _ = tx.send(());
        Ok(())
    });
    drop(service);
    tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("the task was cancelled")
        .expect("and said so");
}

#[allow(clippy::disallowed_methods)]
fn time_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
