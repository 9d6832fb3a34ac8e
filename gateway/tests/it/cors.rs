//! CORS (review I5): no cross-origin access unless the origin is listed, matched exactly.

use stride_kit::jwt::SigningKey;

use crate::{Edge, limits::http1};

fn preflight(origin: &str) -> String {
    format!(
        "OPTIONS /stride.ai_coach.v1.AiCoachService/GetRecommendation HTTP/1.1\r\n\
         host: gateway\r\norigin: {origin}\r\naccess-control-request-method: POST\r\n\
         access-control-request-headers: content-type,x-grpc-web,authorization\r\n\
         connection: close\r\n\r\n"
    )
}

fn allowed_origin(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|l| l.strip_prefix("access-control-allow-origin: "))
}

#[tokio::test]
async fn by_default_no_origin_is_allowed() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    for origin in ["http://localhost:5173", "https://evil.test", "null"] {
        let head = http1(edge.gateway.grpc_addr, &preflight(origin)).await;
        assert_eq!(allowed_origin(&head), None, "{origin}: {head}");
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_listed_origin_is_allowed_and_nothing_else() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| {
        cfg.cors_origins =
            stride_gateway::CorsOrigins::parse("http://localhost:5173,https://app.example.com")
                .unwrap();
    })
    .await;
    let addr = edge.gateway.grpc_addr;
    let head = http1(addr, &preflight("http://localhost:5173")).await;
    assert_eq!(
        allowed_origin(&head),
        Some("http://localhost:5173"),
        "{head}"
    );
    assert!(head.contains("access-control-allow-headers"), "{head}");
    for origin in [
        "http://localhost:5174",
        "https://app.example.com.evil.test",
        "https://evil.test",
        "http://app.example.com",
        "null",
    ] {
        let head = http1(addr, &preflight(origin)).await;
        assert_eq!(allowed_origin(&head), None, "{origin}: {head}");
    }
    edge.stop().await;
}
