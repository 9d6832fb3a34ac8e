//! auth against a real PostgreSQL database and RabbitMQ vhost per test.

use std::sync::{Arc, RwLock};

use futures::StreamExt as _;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicAckOptions, BasicConsumeOptions},
    types::FieldTable,
};
use prost::Message as _;
use stride_auth::{Config, start};
use stride_kit::{
    ManualClock, SystemClock, Verifier, clock::SharedClock, config::CommonConfig, jwt::StaticJwks,
    serve::Running,
};
use stride_proto::{auth as pb, auth::auth_service_client::AuthServiceClient, events};
use stride_testkit::{EVENT_DEADLINE, eventually};
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt as _;

struct Harness {
    running: Running,
    client: AuthServiceClient<Channel>,
    amqp: String,
    db: String,
}

async fn harness(clock: SharedClock) -> Harness {
    stride_kit::telemetry::init_for_tests();
    let db = stride_testkit::database().await;
    let (amqp, _vhost) = stride_testkit::vhost().await;
    let cfg = Config {
        common: CommonConfig {
            service: "auth",
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: db.clone(),
            amqp_url: amqp.clone(),
            auth_url: String::new(),
            db_max_connections: 5,
        },
    };
    // No auth method needs a token; the layer is wired with a test verifier.
    let issuer = stride_testkit::TestIssuer::new();
    let running = start(cfg, issuer.verifier(), clock)
        .await
        .expect("auth starts");
    let client = AuthServiceClient::connect(format!("http://{}", running.grpc_addr))
        .await
        .expect("connect");
    let health = running.health.clone();
    eventually(EVENT_DEADLINE, "auth ready (broker link up)", || {
        let ready = health.is_ready();
        async move { ready.then_some(()) }
    })
    .await;
    Harness {
        running,
        client,
        amqp,
        db,
    }
}

async fn system() -> Harness {
    harness(Arc::new(SystemClock)).await
}

fn signup_req(email: &str, username: &str, password: &str) -> pb::SignupRequest {
    pb::SignupRequest {
        email: email.into(),
        username: username.into(),
        password: password.into(),
        timezone: String::new(),
    }
}

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn bad_fields(s: &Status) -> Vec<String> {
    let details = s.get_error_details();
    let br = details.bad_request().expect("BadRequest details");
    let mut f: Vec<_> = br
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    f.sort();
    f
}

async fn refresh(
    client: &mut AuthServiceClient<Channel>,
    token: &str,
) -> Result<pb::TokenPair, Status> {
    client
        .refresh(pb::RefreshRequest {
            refresh_token: token.into(),
        })
        .await
        .map(|r| r.into_inner().tokens.expect("tokens"))
}

#[tokio::test]
async fn signup_returns_tokens_that_verify_against_the_jwks() {
    let mut h = system().await;
    let res = h
        .client
        .signup(signup_req("  Ann@Example.COM ", "Ann_Lee", "correct horse"))
        .await
        .unwrap()
        .into_inner();
    let user = res.user.unwrap();
    let tokens = res.tokens.unwrap();
    assert_eq!(user.email, "ann@example.com");
    assert_eq!(user.username, "Ann_Lee");
    assert_eq!(user.roles, ["user"]);
    assert!(!user.is_anonymous);
    assert_eq!(tokens.token_type, "Bearer");
    assert!(!tokens.refresh_token.is_empty());
    let access_exp = tokens.access_token_expire_time.unwrap().seconds;
    let refresh_exp = tokens.refresh_token_expire_time.unwrap().seconds;
    let created = user.create_time.unwrap().seconds;
    assert_eq!(access_exp - created, 900);
    assert_eq!(refresh_exp - created, 30 * 86_400);

    let jwks = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(
        (jwks.keys[0].kty.as_str(), jwks.keys[0].alg.as_str()),
        ("OKP", "EdDSA")
    );
    let verifier = Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(jwks.keys)))));
    let claims = verifier
        .verify(&tokens.access_token)
        .await
        .expect("token verifies against GetJwks");
    assert_eq!(claims.sub, user.id);
    assert_eq!(claims.roles, ["user"]);
    assert_eq!(claims.exp, access_exp);
    assert!(
        uuid::Uuid::parse_str(&claims.sid).is_ok(),
        "sid is the refresh family id"
    );
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn signup_lists_every_bad_field_at_once() {
    let mut h = system().await;
    let err = h
        .client
        .signup(signup_req("not-an-email", "a b", "short"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["email", "password", "username"]);

    // Password length counts characters: 8 two-byte characters pass, the domain needs a dot.
    let err = h
        .client
        .signup(signup_req("a@localhost", "ann", &"é".repeat(8)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["email"]);
    let err = h
        .client
        .signup(signup_req("a@b.co", &"x".repeat(33), &"p".repeat(129)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["password", "username"]);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn duplicate_email_or_username_is_already_exists() {
    let mut h = system().await;
    h.client
        .signup(signup_req("ann@example.com", "ann", "password-1"))
        .await
        .unwrap();
    // Email compared after trimming and lowercasing; username case-insensitively.
    for (email, username) in [
        ("ANN@example.com ", "someone"),
        ("other@example.com", "ANN"),
    ] {
        let err = h
            .client
            .signup(signup_req(email, username, "password-1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::AlreadyExists, "{email} {username}");
        assert_eq!(reason(&err), "ACCOUNT_EXISTS");
    }
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn login_wrong_password_and_unknown_email_answer_the_same() {
    let mut h = system().await;
    let signed = h
        .client
        .signup(signup_req("bob@example.com", "bob", "password-1"))
        .await
        .unwrap()
        .into_inner();

    let ok = h
        .client
        .login(pb::LoginRequest {
            email: " BOB@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.user.unwrap().id, signed.user.unwrap().id);
    let tokens = ok.tokens.unwrap();
    assert_ne!(tokens.refresh_token, signed.tokens.unwrap().refresh_token);

    let wrong = h
        .client
        .login(pb::LoginRequest {
            email: "bob@example.com".into(),
            password: "password-2".into(),
        })
        .await
        .unwrap_err();
    let unknown = h
        .client
        .login(pb::LoginRequest {
            email: "nobody@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message())
    );
    assert_eq!(reason(&wrong), "INVALID_CREDENTIALS");
    assert_eq!(reason(&unknown), "INVALID_CREDENTIALS");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn refresh_rotates_and_a_spent_token_stops_working() {
    let mut h = system().await;
    let first = h
        .client
        .signup(signup_req("cyd@example.com", "cyd", "password-1"))
        .await
        .unwrap()
        .into_inner();
    let t1 = first.tokens.unwrap();
    let t2 = refresh(&mut h.client, &t1.refresh_token).await.unwrap();
    assert_ne!(t2.refresh_token, t1.refresh_token);
    assert_ne!(t2.access_token, t1.access_token);

    // Same session: the new access token carries the same family id.
    let jwks = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let verifier = Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(jwks)))));
    let c1 = verifier.verify(&t1.access_token).await.unwrap();
    let c2 = verifier.verify(&t2.access_token).await.unwrap();
    assert_eq!(c1.sid, c2.sid);

    let err = refresh(&mut h.client, &t1.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let unknown = refresh(&mut h.client, "bm90LWEtdG9rZW4").await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(reason(&unknown), "REFRESH_TOKEN_INVALID");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_whole_family() {
    let mut h = system().await;
    let signed = h
        .client
        .signup(signup_req("dee@example.com", "dee", "password-1"))
        .await
        .unwrap()
        .into_inner();
    let other_session = h
        .client
        .login(pb::LoginRequest {
            email: "dee@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let t1 = signed.tokens.unwrap();
    let t2 = refresh(&mut h.client, &t1.refresh_token).await.unwrap();
    let t3 = refresh(&mut h.client, &t2.refresh_token).await.unwrap();

    // t1 comes back: theft. The answer says so, and the newest token of the family is dead too.
    let err = refresh(&mut h.client, &t1.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_REUSED");
    let err = refresh(&mut h.client, &t3.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_REUSED");

    // Another login is another family and keeps working.
    refresh(&mut h.client, &other_session.refresh_token)
        .await
        .expect("other family unaffected");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn refresh_tokens_expire_after_thirty_days() {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let mut h = harness(Arc::new(clock.clone())).await;
    let signed = h
        .client
        .signup(signup_req("eve@example.com", "eve", "password-1"))
        .await
        .unwrap()
        .into_inner();
    let t1 = signed.tokens.unwrap();
    clock.advance(time::Duration::days(29));
    let t2 = refresh(&mut h.client, &t1.refresh_token)
        .await
        .expect("valid on day 29");
    clock.advance(time::Duration::days(30) + time::Duration::seconds(1));
    let err = refresh(&mut h.client, &t2.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_EXPIRED");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn user_registered_reaches_a_bound_queue() {
    let mut h = system().await;
    let conn = Connection::connect(&h.amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = stride_bus::amqp::declare_service_queue(&ch, "probe", &["user.registered.v1"])
        .await
        .unwrap();
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "probe".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let user = h
        .client
        .signup(signup_req("fay@example.com", "Fay", "password-1"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();

    let d = tokio::time::timeout(EVENT_DEADLINE, consumer.next())
        .await
        .expect("event in time")
        .unwrap()
        .unwrap();
    d.ack(BasicAckOptions::default()).await.unwrap();
    let p = &d.properties;
    assert_eq!(
        p.kind().as_ref().map(|s| s.as_str()),
        Some("user.registered.v1")
    );
    assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("auth"));
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some(stride_bus::CONTENT_TYPE)
    );
    let id = uuid::Uuid::parse_str(p.message_id().as_ref().unwrap().as_str()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    let ev = events::UserRegistered::decode(d.data.as_slice()).unwrap();
    assert_eq!(ev.user_id, user.id);
    assert_eq!(ev.email, "fay@example.com");
    assert_eq!(ev.username, "Fay");
    assert!(!ev.is_anonymous);
    assert_eq!(ev.occur_time, user.create_time);
    let _ = conn.close(200, "done".into()).await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn jwks_keeps_retired_keys_for_a_day() {
    let mut h = system().await;
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    for (kid, retired) in [
        ("recent", time::Duration::hours(2)),
        ("old", time::Duration::days(2)),
    ] {
        let k = stride_kit::jwt::SigningKey::generate().unwrap();
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retired_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kid)
        .bind(&k.pkcs8)
        .bind(&k.public)
        .bind(now - time::Duration::days(30))
        .bind(now - retired)
        .execute(&pool)
        .await
        .unwrap();
    }
    let keys = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let mut kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    kids.sort();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&"recent") && !kids.contains(&"old"));
    pool.close().await;
    h.running.stop().await.unwrap();
}
