//! Who the client is (review H3, M9): the TCP peer unless it is a trusted proxy, then the
//! address that proxy reports; a client-sent `x-stride-client-ip` never reaches a service; the
//! rate limiter counts the named client, IPv6 by /64.

use stride_kit::jwt::{SigningKey, forge};
use tonic::{Code, Request};
use uuid::Uuid;

use crate::{Edge, authed, now};
use stride_gateway::{ForwardedHeader, TrustedProxies};
use stride_proto::ai_coach::GetRecommendationRequest;

/// A call carrying `headers`, as a client (or a proxy in front of the gateway) would send it.
fn with_headers(
    token: &str,
    headers: &[(&'static str, &str)],
) -> Request<GetRecommendationRequest> {
    let mut req = authed(token);
    for (name, value) in headers {
        req.metadata_mut().append(*name, value.parse().unwrap());
    }
    req
}

/// The client address the upstream was told, for a call with `headers`.
async fn seen_as(edge: &Edge, token: &str, headers: &[(&'static str, &str)]) -> String {
    edge.client()
        .await
        .get_recommendation(with_headers(token, headers))
        .await
        .unwrap()
        .into_inner()
        .model
}

const SPOOFS: &[(&str, &str)] = &[
    ("x-stride-client-ip", "198.51.100.9"),
    ("x-forwarded-for", "198.51.100.7"),
    ("forwarded", "for=198.51.100.8"),
    ("x-real-ip", "198.51.100.6"),
];

#[tokio::test]
async fn without_trusted_proxies_the_upstream_is_told_the_tcp_peer_whatever_the_client_claims() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    assert_eq!(seen_as(&edge, &token, &[]).await, "127.0.0.1");
    assert_eq!(seen_as(&edge, &token, SPOOFS).await, "127.0.0.1");
    // Over grpc-web too (HTTP/1.1, as browsers call).
    let mut web = stride_proto::ai_coach::ai_coach_service_client::AiCoachServiceClient::new(
        crate::grpc_web(edge.gateway.grpc_addr),
    );
    let res = web
        .get_recommendation(with_headers(&token, SPOOFS))
        .await
        .unwrap();
    assert_eq!(res.into_inner().model, "127.0.0.1");
    edge.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_forwarded_address() {
    let key = SigningKey::generate().unwrap();
    // The test's loopback connection plays the load balancer.
    let edge = Edge::configured(&key, |cfg| {
        cfg.trusted_proxies =
            TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8", ForwardedHeader::XForwardedFor)
                .unwrap();
    })
    .await;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    // The proxy appended the client it saw; the client's own prefix and its own
    // x-stride-client-ip are ignored.
    let got = seen_as(
        &edge,
        &token,
        &[
            ("x-stride-client-ip", "6.6.6.6"),
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3"),
        ],
    )
    .await;
    assert_eq!(got, "198.51.100.7");
    // IPv6 clients are forwarded whole (auth's audit log keeps the address).
    let got = seen_as(
        &edge,
        &token,
        &[("x-forwarded-for", "[2001:db8:1:2::1]:4711")],
    )
    .await;
    assert_eq!(got, "2001:db8:1:2::1");
    // Garbage where the client should be: the nearest trusted hop, never a value the client
    // chose.
    let got = seen_as(
        &edge,
        &token,
        &[("x-forwarded-for", "198.51.100.7, _hidden, 10.1.2.3")],
    )
    .await;
    assert_eq!(got, "10.1.2.3");
    // The header the proxies do not write is not believed.
    let got = seen_as(&edge, &token, &[("forwarded", "for=198.51.100.8")]).await;
    assert_eq!(got, "127.0.0.1");
    edge.stop().await;

    // RFC 7239 when the operator names it.
    let edge = Edge::configured(&key, |cfg| {
        cfg.trusted_proxies =
            TrustedProxies::parse("127.0.0.1", ForwardedHeader::Forwarded).unwrap();
    })
    .await;
    let got = seen_as(
        &edge,
        &token,
        &[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "198.51.100.7"),
        ],
    )
    .await;
    assert_eq!(got, "2001:db8:cafe::17");
    edge.stop().await;
}

#[tokio::test]
async fn the_limiter_counts_each_forwarded_client_and_each_ipv6_64_once() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| {
        cfg.trusted_proxies =
            TrustedProxies::parse("127.0.0.1", ForwardedHeader::XForwardedFor).unwrap();
        cfg.rate_limits = stride_gateway::RateLimits::parse("expensive=1/h:1").unwrap();
    })
    .await;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    let mut client = edge.client().await;
    let mut call = async |xff: &str| {
        client
            .get_recommendation(with_headers(&token, &[("x-forwarded-for", xff)]))
            .await
            .map(|_| ())
            .map_err(|s| s.code())
    };
    // Behind one proxy, clients no longer share one allowance.
    assert_eq!(call("198.51.100.7").await, Ok(()));
    assert_eq!(call("198.51.100.7").await, Err(Code::ResourceExhausted));
    assert_eq!(call("198.51.100.8").await, Ok(()));
    // A spoofed prefix does not buy a fresh allowance.
    assert_eq!(
        call("1.2.3.4, 198.51.100.8").await,
        Err(Code::ResourceExhausted)
    );
    // One /64 is one client; the next /64 is another.
    assert_eq!(call("2001:db8:1:2::1").await, Ok(()));
    assert_eq!(
        call("2001:db8:1:2:ffff:ffff:ffff:fffe").await,
        Err(Code::ResourceExhausted)
    );
    assert_eq!(call("2001:db8:1:3::1").await, Ok(()));
    assert_eq!(
        edge.calls(),
        4,
        "only the calls within an allowance reached the service"
    );
    edge.stop().await;
}

/// A gRPC channel to `addr` whose connections open with `header` (as a load balancer speaking
/// PROXY protocol would).
async fn channel_with_header(
    addr: std::net::SocketAddr,
    header: Vec<u8>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    use tokio::io::AsyncWriteExt as _;
    tonic::transport::Endpoint::from_static("http://gateway")
        .connect_with_connector(tower::service_fn(move |_: http::Uri| {
            let header = header.clone();
            async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await?;
                stream.write_all(&header).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
}

#[tokio::test]
async fn a_trusted_balancer_names_the_client_by_proxy_protocol_and_no_one_else_can() {
    use stride_proto::ai_coach::ai_coach_service_client::AiCoachServiceClient;
    let key = SigningKey::generate().unwrap();
    let edge = Edge::configured(&key, |cfg| {
        cfg.trusted_proxies = TrustedProxies::parse("127.0.0.1", ForwardedHeader::XForwardedFor)
            .unwrap()
            .with_proxy_protocol(true);
    })
    .await;
    let addr = edge.gateway.grpc_addr;
    let token = forge::valid(&key, Uuid::now_v7(), now());
    let call = async |channel: tonic::transport::Channel| {
        AiCoachServiceClient::new(channel)
            .get_recommendation(with_headers(&token, &[("x-stride-client-ip", "6.6.6.6")]))
            .await
            .map(|r| r.into_inner().model)
    };

    // v1 and v2 headers from the trusted balancer name the client.
    let v1 = b"PROXY TCP4 198.51.100.7 127.0.0.1 4711 8080\r\n".to_vec();
    let got = call(channel_with_header(addr, v1).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got, "198.51.100.7");
    let v2 = ppp::v2::Builder::with_addresses(
        0x21,
        ppp::v2::Protocol::Stream,
        (
            "[2001:db8:1:2::7]:4711"
                .parse::<std::net::SocketAddr>()
                .unwrap(),
            "[::1]:8080".parse::<std::net::SocketAddr>().unwrap(),
        ),
    )
    .build()
    .unwrap();
    let got = call(channel_with_header(addr, v2).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got, "2001:db8:1:2::7");
    // A LOCAL connection (the balancer's health check) is the balancer itself.
    let local = ppp::v2::Builder::new(0x20, 0x00).build().unwrap();
    let got = call(channel_with_header(addr, local).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got, "127.0.0.1");

    // From a trusted peer, a connection without a valid header is closed, never served.
    for header in [Vec::new(), b"PROXY TCP4 nonsense\r\n".to_vec()] {
        let served = match channel_with_header(addr, header.clone()).await {
            Ok(channel) => call(channel).await.is_ok(),
            Err(_) => false,
        };
        assert!(!served, "{header:?}");
    }
    assert_eq!(edge.calls(), 3);
    edge.stop().await;
}
