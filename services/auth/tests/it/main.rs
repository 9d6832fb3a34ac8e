//! auth against a real PostgreSQL database and RabbitMQ vhost per test.

mod accounts;
mod codes;
mod confirm;
mod external;
mod forged;
mod identities;
mod recovery;
mod rotation;

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
    Clock as _, ManualClock, SystemClock, Verifier, clock::SharedClock, config::CommonConfig,
    jwt::StaticJwks, serve::Running,
};
use stride_proto::{auth as pb, auth::auth_service_client::AuthServiceClient, events};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt as _;

struct Harness {
    running: Running,
    client: AuthServiceClient<Channel>,
    amqp: String,
    db: String,
    /// Catches auth's mail (over real SMTP) and SMS.
    sink: Arc<stride_notify::DevSink>,
}

async fn harness(clock: SharedClock) -> Harness {
    harness_with(clock, |_| {}).await
}

/// A harness whose settings `tune` may change (providers, limits, rotation).
async fn harness_with(
    clock: SharedClock,
    tune: impl FnOnce(&mut stride_auth::settings::Settings),
) -> Harness {
    let sink = Arc::new(
        stride_notify::DevSink::start(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("dev sink"),
    );
    // Most tests sign up and go; tests of the confirmation flow turn it on.
    let mut settings = stride_auth::settings::Settings {
        mail_url: sink.smtp_url().into(),
        sms_url: sink.sms_url().into(),
        signup_confirmation: false,
        ..Default::default()
    };
    tune(&mut settings);
    harness_on(clock, stride_testkit::database().await, settings, sink).await
}

/// Starts auth on an existing database (restarts keep their state).
async fn harness_on(
    clock: SharedClock,
    db: String,
    settings: stride_auth::settings::Settings,
    sink: Arc<stride_notify::DevSink>,
) -> Harness {
    stride_kit::telemetry::init_for_tests();
    let (amqp, _vhost) = stride_testkit::vhost().await;
    let cfg = Config {
        common: CommonConfig {
            service: "auth",
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: db.clone().into(),
            amqp_url: amqp.clone().into(),
            auth_url: String::new(),
            db_max_connections: 5,
        },
        settings,
    };
    // Session methods need auth's own tokens: verify them against the keys auth publishes in
    // its database, as `main` does. The pool is lazy, so the keys exist by the first call.
    let keys = sqlx::PgPool::connect_lazy(&db).expect("pool");
    let verifier = Verifier::new(Arc::new(stride_auth::keys::DbJwks {
        pool: keys,
        clock: clock.clone(),
    }));
    let running = start(cfg, verifier, clock).await.expect("auth starts");
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
        sink,
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

    // A client that lost the answer re-sends t1: it gets the very same pair, nothing new minted.
    let again = refresh(&mut h.client, &t1.refresh_token).await.unwrap();
    assert_eq!(again.refresh_token, t2.refresh_token);
    assert_eq!(again.access_token, t2.access_token);
    let (tokens,): (i64,) = sqlx::query_as("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&sqlx::PgPool::connect(&h.db).await.unwrap())
        .await
        .unwrap();
    assert_eq!(tokens, 2, "the replay minted nothing");

    // Once t2 is used, t1 is just a spent token: reuse.
    let t3 = refresh(&mut h.client, &t2.refresh_token).await.unwrap();
    let err = refresh(&mut h.client, &t1.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_REUSED");
    assert_eq!(
        refresh(&mut h.client, &t3.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

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
    assert_eq!(reason(&err), "REFRESH_TOKEN_REVOKED");

    // Reuse right after the revocation still fails, for every token of the family.
    for t in [&t1, &t2, &t3] {
        let err = refresh(&mut h.client, &t.refresh_token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    // Another login is another family and keeps working.
    let other = refresh(&mut h.client, &other_session.refresh_token)
        .await
        .expect("other family unaffected");

    // The revocation is stored, not remembered: it survives a restart.
    let db = h.db.clone();
    let sink = h.sink.clone();
    h.running.stop().await.unwrap();
    let mut h = harness_on(
        Arc::new(SystemClock),
        db,
        stride_auth::settings::Settings {
            mail_url: sink.smtp_url().into(),
            sms_url: sink.sms_url().into(),
            signup_confirmation: false,
            ..Default::default()
        },
        sink,
    )
    .await;
    let err = refresh(&mut h.client, &t3.refresh_token).await.unwrap_err();
    assert_eq!(reason(&err), "REFRESH_TOKEN_REVOKED");
    refresh(&mut h.client, &other.refresh_token)
        .await
        .expect("the other session survives the restart");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn refresh_tokens_expire_after_thirty_days() {
    let clock = ManualClock::new(SystemClock.now());
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
    let (conn, mut consumer) = probe(&h.amqp, &["user.registered.v1"]).await;

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
    let now = SystemClock.now();
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

// ---- sessions and account deletion ----

async fn login(client: &mut AuthServiceClient<Channel>, email: &str) -> pb::TokenPair {
    client
        .login(pb::LoginRequest {
            email: email.into(),
            password: "password-1".into(),
        })
        .await
        .expect("login")
        .into_inner()
        .tokens
        .expect("tokens")
}

async fn signup(
    client: &mut AuthServiceClient<Channel>,
    email: &str,
    username: &str,
) -> (pb::User, pb::TokenPair) {
    let res = client
        .signup(signup_req(email, username, "password-1"))
        .await
        .expect("signup")
        .into_inner();
    (res.user.unwrap(), res.tokens.unwrap())
}

async fn sessions(
    client: &mut AuthServiceClient<Channel>,
    access: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListSessionsResponse, Status> {
    client
        .list_sessions(authed(
            pb::ListSessionsRequest {
                page_size,
                page_token: page_token.into(),
            },
            access,
        ))
        .await
        .map(|r| r.into_inner())
}

/// The id of the session `access` belongs to, as ListSessions reports it.
async fn current_session(client: &mut AuthServiceClient<Channel>, access: &str) -> String {
    let list = sessions(client, access, 0, "").await.unwrap();
    let current: Vec<_> = list.sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    current[0].id.clone()
}

async fn revoke(
    client: &mut AuthServiceClient<Channel>,
    access: &str,
    session_id: &str,
) -> Result<(), Status> {
    client
        .revoke_session(authed(
            pb::RevokeSessionRequest {
                session_id: session_id.into(),
            },
            access,
        ))
        .await
        .map(drop)
}

/// A queue bound to `keys` on the vhost, consumed like a real service's queue.
async fn probe(amqp: &str, keys: &[&str]) -> (Connection, lapin::Consumer) {
    let conn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = stride_bus::amqp::declare_service_queue(&ch, "probe", keys)
        .await
        .unwrap();
    let consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "probe".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    (conn, consumer)
}

async fn user_rows(db: &str, user_id: &str) -> (i64, i64) {
    let pool = sqlx::PgPool::connect(db).await.unwrap();
    let id = uuid::Uuid::parse_str(user_id).unwrap();
    let users: (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let tokens: (i64,) = sqlx::query_as("SELECT count(*) FROM refresh_tokens WHERE user_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (users.0, tokens.0)
}

#[tokio::test]
async fn list_sessions_shows_each_sign_in_newest_first_with_one_current() {
    // Behind real time, so tokens signed at the manual instant are already valid (nbf).
    let start = SystemClock.now().replace_nanosecond(0).unwrap() - time::Duration::minutes(5);
    let clock = ManualClock::new(start);
    let mut h = harness(Arc::new(clock.clone())).await;
    let (_, first) = signup(&mut h.client, "gil@example.com", "gil").await;
    clock.advance(time::Duration::seconds(10));
    let second = login(&mut h.client, "gil@example.com").await;
    clock.advance(time::Duration::seconds(10));
    // Using the first session moves its last use, not its creation or its place in the list.
    let first = refresh(&mut h.client, &first.refresh_token).await.unwrap();

    let list = sessions(&mut h.client, &second.access_token, 0, "")
        .await
        .unwrap();
    assert_eq!(list.sessions.len(), 2, "{list:?}");
    assert!(list.next_page_token.is_empty());
    let (newest, oldest) = (&list.sessions[0], &list.sessions[1]);
    assert!(newest.current && !oldest.current);
    let secs = |t: &Option<prost_types::Timestamp>| t.as_ref().unwrap().seconds;
    let at = |d: i64| (start + time::Duration::seconds(d)).unix_timestamp();
    assert_eq!(secs(&newest.create_time), at(10));
    assert_eq!(secs(&newest.last_use_time), at(10));
    assert_eq!(secs(&newest.expire_time), at(10) + 30 * 86_400);
    assert_eq!(secs(&oldest.create_time), at(0));
    assert_eq!(secs(&oldest.last_use_time), at(20));
    assert_eq!(secs(&oldest.expire_time), at(20) + 30 * 86_400);

    // From the other session's token, the other one is current.
    assert_eq!(
        current_session(&mut h.client, &first.access_token).await,
        oldest.id
    );

    // Pages of one, in the same order.
    let page1 = sessions(&mut h.client, &second.access_token, 1, "")
        .await
        .unwrap();
    assert_eq!(page1.sessions.len(), 1);
    assert_eq!(page1.sessions[0].id, newest.id);
    assert!(!page1.next_page_token.is_empty());
    let page2 = sessions(
        &mut h.client,
        &second.access_token,
        1,
        &page1.next_page_token,
    )
    .await
    .unwrap();
    assert_eq!(page2.sessions.len(), 1);
    assert_eq!(page2.sessions[0].id, oldest.id);
    assert!(page2.next_page_token.is_empty());

    let err = sessions(&mut h.client, &second.access_token, 101, "@@")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["page_size", "page_token"]);
    let err = sessions(&mut h.client, &second.access_token, -1, "")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size"]);

    // Expired sessions are gone from the list (the second one's newest token is 20 s younger).
    clock.advance(time::Duration::days(30) - time::Duration::seconds(5));
    let left = sessions(&mut h.client, &second.access_token, 0, "")
        .await
        .unwrap();
    let ids: Vec<_> = left.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [oldest.id.as_str()]);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn revoke_session_ends_only_that_session_of_the_caller() {
    let mut h = system().await;
    let (_, mine) = signup(&mut h.client, "hal@example.com", "hal").await;
    let other = login(&mut h.client, "hal@example.com").await;
    let (_, stranger) = signup(&mut h.client, "ivy@example.com", "ivy").await;
    let my_id = current_session(&mut h.client, &mine.access_token).await;
    let other_id = current_session(&mut h.client, &other.access_token).await;
    let stranger_id = current_session(&mut h.client, &stranger.access_token).await;

    // Someone else's session looks exactly like one that does not exist.
    for id in [stranger_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let err = revoke(&mut h.client, &mine.access_token, &id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{id}");
    }
    refresh(&mut h.client, &stranger.refresh_token)
        .await
        .expect("the stranger's session is untouched");
    for bad in ["", "not-a-uuid"] {
        let err = revoke(&mut h.client, &mine.access_token, bad)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&err), ["session_id"]);
    }

    revoke(&mut h.client, &mine.access_token, &other_id)
        .await
        .unwrap();
    let err = refresh(&mut h.client, &other.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mine = refresh(&mut h.client, &mine.refresh_token)
        .await
        .expect("my session still works");
    let list = sessions(&mut h.client, &mine.access_token, 0, "")
        .await
        .unwrap();
    let ids: Vec<_> = list.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [my_id.as_str()]);
    // Again: already ended, still the caller's, so nothing to do and no error.
    revoke(&mut h.client, &mine.access_token, &other_id)
        .await
        .unwrap();
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn logout_ends_the_callers_own_session() {
    let mut h = system().await;
    let (_, kept) = signup(&mut h.client, "jay@example.com", "jay").await;
    let ended = login(&mut h.client, "jay@example.com").await;
    let kept_id = current_session(&mut h.client, &kept.access_token).await;

    h.client
        .logout(authed(pb::LogoutRequest {}, &ended.access_token))
        .await
        .unwrap();
    let err = refresh(&mut h.client, &ended.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    refresh(&mut h.client, &kept.refresh_token)
        .await
        .expect("the other session goes on");

    // By design the ended session's access token works until it expires (no revocation list);
    // it just no longer sees its session.
    let list = sessions(&mut h.client, &ended.access_token, 0, "")
        .await
        .unwrap();
    assert_eq!(list.sessions.len(), 1);
    assert_eq!(list.sessions[0].id, kept_id);
    assert!(!list.sessions[0].current);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn logout_all_ends_every_session_and_counts_them() {
    let mut h = system().await;
    let (_, a) = signup(&mut h.client, "kim@example.com", "kim").await;
    let b = login(&mut h.client, "kim@example.com").await;
    let c = login(&mut h.client, "kim@example.com").await;
    let d = login(&mut h.client, "kim@example.com").await;
    let (_, stranger) = signup(&mut h.client, "lou@example.com", "lou").await;
    // One already ended: not counted again.
    h.client
        .logout(authed(pb::LogoutRequest {}, &d.access_token))
        .await
        .unwrap();

    let res = h
        .client
        .logout_all(authed(pb::LogoutAllRequest {}, &a.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.revoked_sessions, 3);
    for t in [&a, &b, &c, &d] {
        let err = refresh(&mut h.client, &t.refresh_token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let list = sessions(&mut h.client, &a.access_token, 0, "")
        .await
        .unwrap();
    assert!(list.sessions.is_empty(), "{list:?}");
    let again = h
        .client
        .logout_all(authed(pb::LogoutAllRequest {}, &a.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.revoked_sessions, 0);
    refresh(&mut h.client, &stranger.refresh_token)
        .await
        .expect("other users are untouched");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn delete_account_with_a_wrong_password_deletes_nothing() {
    let mut h = system().await;
    let (user, tokens) = signup(&mut h.client, "max@example.com", "max").await;
    for wrong in ["password-2", "short", &"p".repeat(200)] {
        let err = h
            .client
            .delete_account(authed(
                pb::DeleteAccountRequest {
                    proof: None,
                    password: wrong.to_owned(),
                },
                &tokens.access_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    }
    let err = h
        .client
        .delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: String::new(),
            },
            &tokens.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["password"]);

    assert_eq!(user_rows(&h.db, &user.id).await, (1, 1));
    refresh(&mut h.client, &tokens.refresh_token)
        .await
        .expect("session intact");
    login(&mut h.client, "max@example.com").await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn delete_account_removes_the_user_and_announces_user_deleted() {
    let mut h = system().await;
    let (conn, mut consumer) = probe(&h.amqp, &["user.deleted.v1"]).await;
    let user = h
        .client
        .signup(pb::SignupRequest {
            email: "ned@example.com".into(),
            username: "Ned".into(),
            password: "password-1".into(),
            timezone: "Pacific/Kiritimati".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let (user, tokens) = (user.user.unwrap(), user.tokens.unwrap());
    let other = login(&mut h.client, "ned@example.com").await;

    h.client
        .delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: "password-1".into(),
            },
            &tokens.access_token,
        ))
        .await
        .unwrap();

    let d = tokio::time::timeout(EVENT_DEADLINE, consumer.next())
        .await
        .expect("event in time")
        .unwrap()
        .unwrap();
    d.ack(BasicAckOptions::default()).await.unwrap();
    assert_eq!(
        d.properties.kind().as_ref().map(|s| s.as_str()),
        Some("user.deleted.v1")
    );
    assert_eq!(
        d.properties.app_id().as_ref().map(|s| s.as_str()),
        Some("auth")
    );
    let ev = events::UserDeleted::decode(d.data.as_slice()).unwrap();
    assert_eq!(ev.user_id, user.id);
    assert_eq!(ev.timezone, "Pacific/Kiritimati");
    // The local date is taken in the sign-up zone (UTC+14, so often a day ahead of UTC).
    let occurred = stride_kit::convert::from_timestamp(ev.occur_time.as_ref().unwrap()).unwrap();
    let expected = stride_kit::convert::local_date(occurred, "Pacific/Kiritimati");
    assert_eq!(ev.local_date, Some(stride_kit::convert::date(expected)));

    assert_eq!(user_rows(&h.db, &user.id).await, (0, 0));
    let err = h
        .client
        .login(pb::LoginRequest {
            email: "ned@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    for t in [&tokens, &other] {
        let err = refresh(&mut h.client, &t.refresh_token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    // The still-unexpired access token cannot delete (or announce) the account twice.
    let err = h
        .client
        .delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: "password-1".into(),
            },
            &other.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Email and username are free again, for a new account.
    let (again, _) = signup(&mut h.client, "ned@example.com", "ned").await;
    assert_ne!(again.id, user.id);
    let _ = conn.close(200, "done".into()).await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn session_and_account_calls_need_a_token() {
    let mut h = system().await;
    let c = &mut h.client;
    let errs = [
        c.list_sessions(pb::ListSessionsRequest::default())
            .await
            .unwrap_err(),
        c.revoke_session(pb::RevokeSessionRequest {
            session_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err(),
        c.logout(pb::LogoutRequest {}).await.unwrap_err(),
        c.logout_all(pb::LogoutAllRequest {}).await.unwrap_err(),
        c.delete_account(pb::DeleteAccountRequest {
            proof: None,
            password: "password-1".into(),
        })
        .await
        .unwrap_err(),
    ];
    for err in errs {
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }
    h.running.stop().await.unwrap();
}
