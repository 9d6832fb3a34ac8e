//! JSON/HTTP and Connect go down the same stack as gRPC: every forged token, the rate limit, the
//! size limit and the deadline are applied before any upstream call; the caller's token and
//! address reach the service as they would over gRPC.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{Value, json};
use stride_kit::jwt::{SigningKey, forge};
use uuid::Uuid;

use crate::{Edge, HOLD, limits::http1, now};

const ROUTE: &str = "/api/v1/ai/recommendations";
const CONNECT: &str = "/stride.ai_coach.v1.AiCoachService/GetRecommendation";

async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    (status, v)
}

/// One call of the coach over JSON/HTTP (`connect` false) or Connect JSON.
async fn coach(
    addr: SocketAddr,
    connect: bool,
    token: Option<&str>,
    goal: &str,
    extra: &[(&str, String)],
) -> (StatusCode, Value) {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(t) = token {
        headers.push(("authorization", format!("Bearer {t}")));
    }
    headers.extend(extra.iter().cloned());
    let path = if connect { CONNECT } else { ROUTE };
    post(
        addr,
        path,
        &headers,
        serde_json::to_vec(&json!({"goal": goal})).unwrap(),
    )
    .await
}

#[tokio::test]
async fn every_forgery_is_refused_over_json_http_and_connect() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let addr = edge.gateway.grpc_addr;
    let user = Uuid::now_v7();
    for connect in [false, true] {
        let (status, v) = coach(addr, connect, None, "x", &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
        let mut wrong = Vec::new();
        for (name, token) in forge::forgeries(&key, user, now()) {
            let (status, v) = coach(addr, connect, Some(&token), "x", &[]).await;
            if status != StatusCode::UNAUTHORIZED {
                wrong.push(format!("{name}: {status} {v}"));
            }
            // The error shape of each protocol.
            if connect {
                assert_eq!(v["code"], "unauthenticated", "{name}");
            } else {
                assert_eq!(v["code"], 16, "{name}");
            }
        }
        assert!(wrong.is_empty(), "forgeries not refused: {wrong:#?}");
        assert_eq!(edge.calls(), 0, "a forgery reached the upstream");
    }
    let control = forge::valid(&key, user, now());
    for (connect, n) in [(false, 1), (true, 2)] {
        let (status, v) = coach(addr, connect, Some(&control), "x", &[]).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        // The upstream saw the bearer token and the client's address, as over gRPC.
        assert_eq!(v["text"], format!("Bearer {control}"));
        assert_eq!(v["model"], "127.0.0.1");
        assert_eq!(edge.calls(), n);
    }
    // The upstream was asked by gRPC path, never by the JSON route.
    assert!(
        edge.paths().iter().all(|p| p == CONNECT),
        "{:?}",
        edge.paths()
    );
    edge.stop().await;
}

#[tokio::test]
async fn the_rate_limit_size_limit_and_deadline_apply_before_the_upstream() {
    let key = SigningKey::generate().unwrap();
    let limits = stride_gateway::RateLimits::parse("expensive=3/m:3").unwrap();
    let edge = Edge::start_with(&key, limits).await;
    let addr = edge.gateway.grpc_addr;
    let token = forge::valid(&key, Uuid::now_v7(), now());

    // Size: a body beyond the gateway's 64 KiB limit never goes upstream (nor is it counted).
    let big = "x".repeat(70 * 1024);
    let (status, v) = coach(addr, false, Some(&token), &big, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["code"], 8);
    let (status, v) = coach(addr, true, Some(&token), &big, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["code"], "resource_exhausted");
    assert_eq!(edge.calls(), 0);

    // Deadline: the caller's, in each protocol's header, ends a held call at the gateway.
    let (status, v) = coach(
        addr,
        false,
        Some(&token),
        HOLD,
        &[("x-server-timeout", "0.3".into())],
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
    assert_eq!(v["code"], 4);
    let (status, v) = coach(
        addr,
        true,
        Some(&token),
        HOLD,
        &[("connect-timeout-ms", "300".into())],
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
    assert_eq!(v["code"], "deadline_exceeded");
    let (status, v) = coach(
        addr,
        false,
        Some(&token),
        "x",
        &[("x-server-timeout", "soon".into())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    // Rate: the class allowance (3, two spent by the held calls) is shared by every protocol.
    let (status, _) = coach(addr, false, Some(&token), "x", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let before = edge.calls();
    let (status, v) = coach(addr, false, Some(&token), "x", &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["details"][0]["reason"], "RATE_LIMITED", "{v}");
    let (status, v) = coach(addr, true, Some(&token), "x", &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["code"], "resource_exhausted");
    assert_eq!(
        edge.calls(),
        before,
        "refused calls never reach the service"
    );
    edge.stop().await;
}

#[tokio::test]
async fn a_listed_origin_may_call_json_routes_and_connect() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| {
        cfg.cors_origins = stride_gateway::CorsOrigins::parse("http://localhost:5173").unwrap();
    })
    .await;
    let addr = edge.gateway.grpc_addr;
    // What connect-es sends before a unary call.
    let head = http1(
        addr,
        &format!(
            "OPTIONS {CONNECT} HTTP/1.1\r\nhost: gateway\r\norigin: http://localhost:5173\r\n\
             access-control-request-method: POST\r\n\
             access-control-request-headers: authorization,connect-protocol-version,connect-timeout-ms,content-type\r\n\
             connection: close\r\n\r\n"
        ),
    )
    .await
    .to_ascii_lowercase();
    assert!(
        head.contains("access-control-allow-origin: http://localhost:5173"),
        "{head}"
    );
    for h in [
        "connect-protocol-version",
        "connect-timeout-ms",
        "authorization",
        "content-type",
    ] {
        assert!(head.contains(h), "{h} not allowed: {head}");
    }
    // A JSON route's verb.
    let head = http1(
        addr,
        "OPTIONS /api/v1/me HTTP/1.1\r\nhost: gateway\r\norigin: http://localhost:5173\r\n\
         access-control-request-method: PATCH\r\naccess-control-request-headers: content-type\r\n\
         connection: close\r\n\r\n",
    )
    .await
    .to_ascii_lowercase();
    assert!(head.contains("patch"), "{head}");
    // The answer exposes the gRPC status headers to the page.
    let (status, _) = post(
        addr,
        CONNECT,
        &[
            ("content-type", "application/json".into()),
            ("origin", "http://localhost:5173".into()),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    edge.stop().await;
}
