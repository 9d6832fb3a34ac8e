//! The gateway's own resources are bounded (review M8, issue 9 Overload): a trickled body is cut
//! off at its deadline and its memory given back, buffered bodies share a budget, connections are
//! limited in number and closed when idle, and a slow upstream gets a bounded number of calls.

use std::{net::SocketAddr, time::Duration};

use stride_kit::jwt::{SigningKey, forge};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::{Edge, HOLD, authed, now};
use stride_proto::ai_coach::GetRecommendationRequest;

const COACH: &str = "/stride.ai_coach.v1.AiCoachService/GetRecommendation";

/// Waits for `cond` until `limit`; false if it never held.
async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn reason(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
}

/// A grpc-web request head for the coach declaring a body of `len` bytes.
fn grpc_web_head(token: &str, len: usize) -> String {
    format!(
        "POST {COACH} HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/grpc-web+proto\r\n\
         x-grpc-web: 1\r\nauthorization: Bearer {token}\r\ncontent-length: {len}\r\n\r\n"
    )
}

/// Reads an HTTP/1.1 answer's head (up to the blank line), within `limit`.
async fn read_head(conn: &mut TcpStream, limit: Duration) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(limit, async {
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
    })
    .await
    .expect("an answer in time");
    String::from_utf8_lossy(&head).to_ascii_lowercase()
}

/// True once the gateway has closed `conn` (end of stream or reset), within `limit`.
async fn closed_by_gateway(conn: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(limit, async {
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await,
        Ok(())
    )
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_at_its_deadline_and_the_buffer_budget_is_shared() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| {
        cfg.limits.max_message_bytes = 64 * 1024;
        cfg.limits.max_buffered_bytes = 64 * 1024;
        cfg.limits.body_timeout = Duration::from_secs(4);
    })
    .await;
    let token = forge::valid(&key, Uuid::now_v7(), now());

    // A slow-body client: a 50 kB request of which 40 kB arrive, then nothing.
    let mut slow = TcpStream::connect(edge.gateway.grpc_addr).await.unwrap();
    slow.write_all(grpc_web_head(&token, 50_000).as_bytes())
        .await
        .unwrap();
    slow.write_all(&[0u8; 40_000]).await.unwrap();
    let started = tokio::time::Instant::now();

    // While the gateway holds those 40 kB, another 40 kB call does not fit in its 64 kB budget:
    // refused at once, without reaching the service.
    let mut client = edge.client().await;
    let big = || GetRecommendationRequest {
        goal: "x".repeat(40_000),
    };
    let mut refused = None;
    let busy = eventually(Duration::from_secs(3), async || {
        let mut req = authed(&token);
        *req.get_mut() = big();
        match client.get_recommendation(req).await {
            Err(s) if s.code() == Code::ResourceExhausted => {
                refused = Some(s);
                true
            }
            _ => false,
        }
    })
    .await;
    assert!(busy, "the budget was never found spent");
    let refused = refused.unwrap();
    assert_eq!(
        reason(&refused).as_deref(),
        Some("GATEWAY_BUSY"),
        "{refused:?}"
    );
    let before = edge.calls();

    // The trickled call is answered DEADLINE_EXCEEDED once its body deadline passes …
    let head = read_head(&mut slow, Duration::from_secs(10)).await;
    assert!(head.contains("grpc-status: 4\r\n"), "{head}");
    assert!(head.contains("request%20body%20not%20received"), "{head}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "cut off too early"
    );
    assert_eq!(
        edge.calls(),
        before,
        "the partial call never reached the service"
    );

    // … and its 40 kB are given back: the same large call now goes through.
    let mut req = authed(&token);
    *req.get_mut() = big();
    client
        .get_recommendation(req)
        .await
        .expect("the budget is free again");
    edge.stop().await;
}

#[tokio::test]
async fn a_body_larger_than_the_limit_is_refused_while_streaming() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    let mut client = edge.client().await;
    let mut req = authed(&token);
    req.get_mut().goal = "x".repeat(70 * 1024);
    let err = client.get_recommendation(req).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(edge.calls(), 0);
    edge.stop().await;
}

#[tokio::test]
async fn beyond_the_connection_limit_new_connections_are_closed_at_once() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| cfg.connections.max_connections = 2).await;
    let addr = edge.gateway.grpc_addr;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    // Two connections: one client making calls, one socket that sits there.
    let mut first = edge.client().await;
    first.get_recommendation(authed(&token)).await.unwrap();
    let second = TcpStream::connect(addr).await.unwrap();
    // The third is closed by the gateway before it says anything.
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_by_gateway(&mut third, Duration::from_secs(5)).await,
        "the connection over the limit was kept open"
    );
    // The open ones still work.
    first.get_recommendation(authed(&token)).await.unwrap();
    // Closing one frees its slot for a newcomer.
    drop(second);
    let joined =
        eventually(
            Duration::from_secs(5),
            async || match tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
            {
                Ok(ch) => {
                    stride_proto::ai_coach::ai_coach_service_client::AiCoachServiceClient::new(ch)
                        .get_recommendation(authed(&token))
                        .await
                        .is_ok()
                }
                Err(_) => false,
            },
        )
        .await;
    assert!(joined, "a slot freed by a closed connection was not reused");
    edge.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_but_not_one_with_a_call_in_flight() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| {
        cfg.connections.idle_timeout = Duration::from_millis(300);
    })
    .await;
    let addr = edge.gateway.grpc_addr;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    // A call the upstream holds until released.
    let mut busy = edge.client().await;
    let mut req = authed(&token);
    req.get_mut().goal = HOLD.into();
    let held = tokio::spawn(async move { busy.get_recommendation(req).await });
    assert!(eventually(Duration::from_secs(5), async || edge.calls() == 1).await);

    // A connection that says nothing, and one that trickles an HTTP/1 request head.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    assert!(closed_by_gateway(&mut silent, Duration::from_secs(5)).await);
    assert!(closed_by_gateway(&mut trickle, Duration::from_secs(5)).await);

    // The held call's connection was quiet for longer than the idle timeout, yet it is served.
    edge.release.add_permits(1);
    let res = held.await.unwrap().expect("the call in flight completes");
    assert_eq!(res.into_inner().text, format!("Bearer {token}"));
    edge.stop().await;
}

#[tokio::test]
async fn a_slow_upstream_gets_a_bounded_number_of_calls_and_others_are_unaffected() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| cfg.limits.upstream_max_in_flight = 2).await;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = edge.client().await;
        let mut req = authed(&token);
        req.get_mut().goal = HOLD.into();
        held.push(tokio::spawn(
            async move { client.get_recommendation(req).await },
        ));
    }
    assert!(eventually(Duration::from_secs(5), async || edge.calls() == 2).await);

    // The coach's upstream is full: refused at once, never queued.
    let mut client = edge.client().await;
    let err = client.get_recommendation(authed(&token)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(reason(&err).as_deref(), Some("UPSTREAM_BUSY"));
    assert_eq!(edge.calls(), 2);
    // Another package's upstream is not held up (the stub does not serve it: its own answer).
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", edge.gateway.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let other = crate::call_path(
        channel,
        "/stride.profile.v1.ProfileService/GetMyProfile",
        &token,
    )
    .await
    .unwrap_err();
    assert_eq!(other.code(), Code::Unimplemented, "{other:?}");

    // Once the slow calls finish, their slots are free again.
    edge.release.add_permits(2);
    for h in held {
        h.await.unwrap().expect("held call completes");
    }
    client
        .get_recommendation(authed(&token))
        .await
        .expect("slots were given back");
    edge.stop().await;
}

/// The gateway's limits for `addr`, over HTTP/1.1 with `Connection: close`: the answer's head.
pub(crate) async fn http1(addr: SocketAddr, request: &str) -> String {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    read_head(&mut conn, Duration::from_secs(5)).await
}

#[tokio::test]
async fn one_connection_gets_at_most_its_streams_at_once() {
    use stride_proto::ai_coach::ai_coach_service_client::AiCoachServiceClient;
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| cfg.connections.max_concurrent_streams = 1).await;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    // One HTTP/2 connection: a held call fills its only stream.
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", edge.gateway.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut first = AiCoachServiceClient::new(channel.clone());
    let mut req = authed(&token);
    req.get_mut().goal = HOLD.into();
    let held = tokio::spawn(async move { first.get_recommendation(req).await });
    assert!(eventually(Duration::from_secs(5), async || edge.calls() == 1).await);
    let mut second = AiCoachServiceClient::new(channel);
    let req = authed(&token);
    let queued = tokio::spawn(async move { second.get_recommendation(req).await });
    // Meanwhile a call on another connection is served …
    edge.client()
        .await
        .get_recommendation(authed(&token))
        .await
        .unwrap();
    // … but the second call on the full connection has not reached the service.
    assert_eq!(edge.calls(), 2);
    assert!(!queued.is_finished());
    edge.release.add_permits(1);
    held.await.unwrap().expect("held call completes");
    queued
        .await
        .unwrap()
        .expect("the queued call gets the stream");
    assert_eq!(edge.calls(), 3);
    edge.stop().await;
}
