//! profile against a real PostgreSQL database and RabbitMQ vhost per test. Input events come
//! through a real outbox and relay in a scratch database, as auth would publish them.

mod user_merged;

use std::sync::Arc;

use futures::StreamExt as _;
use lapin::{
    BasicProperties, Connection, ConnectionProperties, Consumer,
    options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use prost::Message as _;
use sqlx::PgPool;
use stride_bus::Event as _;
use stride_kit::{SystemClock, config::CommonConfig, convert::timestamp, serve::Running};
use stride_profile::{Config, start};
use stride_proto::{events, profile as pb, profile::profile_service_client::ProfileServiceClient};
use stride_testkit::{EVENT_DEADLINE, TestIssuer, authed, eventually};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt as _;
use uuid::Uuid;

struct Harness {
    running: Running,
    client: ProfileServiceClient<Channel>,
    issuer: TestIssuer,
    amqp: String,
    /// The service's own database, for asserting what was stored.
    pool: PgPool,
    probe: Probe,
}

async fn harness() -> Harness {
    stride_kit::telemetry::init_for_tests();
    let db = stride_testkit::database().await;
    let (amqp, _vhost) = stride_testkit::vhost().await;
    let cfg = Config {
        common: CommonConfig {
            service: "profile",
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: db.clone(),
            amqp_url: amqp.clone(),
            auth_url: "http://127.0.0.1:1".into(),
            db_max_connections: 5,
        },
    };
    let issuer = TestIssuer::new();
    let running = start(cfg, issuer.verifier(), Arc::new(SystemClock))
        .await
        .expect("profile starts");
    let client = ProfileServiceClient::connect(format!("http://{}", running.grpc_addr))
        .await
        .expect("connect");
    let health = running.health.clone();
    eventually(
        EVENT_DEADLINE,
        "profile ready (queue bound, relay connected)",
        || {
            let ready = health.is_ready();
            async move { ready.then_some(()) }
        },
    )
    .await;
    let pool = PgPool::connect(&db).await.unwrap();
    let probe = Probe::bind(&amqp).await;
    Harness {
        running,
        client,
        issuer,
        amqp,
        pool,
        probe,
    }
}

/// A queue bound to `profile.updated.v1`, standing in for profile's consumers.
struct Probe {
    conn: Connection,
    consumer: Consumer,
}

impl Probe {
    async fn bind(amqp: &str) -> Self {
        let conn = Connection::connect(amqp, ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let queue =
            stride_bus::amqp::declare_service_queue(&ch, "probe", &[events::ProfileUpdated::TYPE])
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
        Self { conn, consumer }
    }

    async fn next(&mut self) -> events::ProfileUpdated {
        let d = tokio::time::timeout(EVENT_DEADLINE, self.consumer.next())
            .await
            .expect("profile.updated.v1 in time")
            .expect("consumer open")
            .expect("delivery");
        d.ack(BasicAckOptions::default()).await.unwrap();
        assert_eq!(
            d.properties.app_id().as_ref().map(|s| s.as_str()),
            Some("profile")
        );
        assert_eq!(
            d.properties.kind().as_ref().map(|s| s.as_str()),
            Some(events::ProfileUpdated::TYPE)
        );
        events::ProfileUpdated::decode(d.data.as_slice()).unwrap()
    }
}

fn registered(user: Uuid, username: &str) -> events::UserRegistered {
    events::UserRegistered {
        user_id: user.to_string(),
        email: format!("{}@example.com", username.to_lowercase()),
        username: username.into(),
        is_anonymous: false,
        occur_time: Some(timestamp(time::OffsetDateTime::now_utc())),
        timezone: "Europe/Paris".into(),
        local_date: None,
    }
}

/// Publishes `event` the way auth does: outbox row in a scratch database, relay with confirms.
async fn publish_as_auth<E: stride_bus::Event>(amqp: &str, event: &E) {
    let db = stride_testkit::database().await;
    let pool = PgPool::connect(&db).await.unwrap();
    stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR])
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let id = stride_bus::outbox::enqueue(&mut tx, event).await.unwrap();
    tx.commit().await.unwrap();
    let stop = CancellationToken::new();
    let relay = stride_bus::outbox::Relay::spawn(pool.clone(), amqp, "auth", stop.clone());
    relay.outbox.kick();
    eventually(
        EVENT_DEADLINE,
        &format!("the relay confirms {}", E::TYPE),
        || {
            let pool = pool.clone();
            async move {
                let published: Option<bool> =
                    sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1")
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .ok();
                published.filter(|p| *p)
            }
        },
    )
    .await;
    stop.cancel();
    relay.task.await.unwrap().unwrap();
    pool.close().await;
}

/// `user`'s row count in every table of the service's own schema that has a `user_id` column
/// (bus tables aside), by table. Generic on purpose: a table added later is covered too.
async fn user_rows(db: &PgPool, user: Uuid) -> Vec<(String, i64)> {
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
fn user_deleted(user: Uuid, at: time::OffsetDateTime) -> events::UserDeleted {
    events::UserDeleted {
        user_id: user.to_string(),
        occur_time: Some(timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(stride_kit::convert::date(at.date())),
    }
}

async fn profile_exists(h: &Harness, user: Uuid) -> pb::Profile {
    let mut client = h.client.clone();
    let token = h.issuer.token(user);
    eventually(EVENT_DEADLINE, "the profile appears", || {
        let mut client = client.clone();
        let token = token.clone();
        async move {
            client
                .get_my_profile(authed(pb::GetMyProfileRequest {}, &token))
                .await
                .ok()
        }
    })
    .await;
    client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap()
}

fn update(paths: &[&str], profile: pb::Profile) -> pb::UpdateMyProfileRequest {
    pb::UpdateMyProfileRequest {
        profile: Some(profile),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    }
}

fn bad_fields(s: &Status) -> Vec<String> {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let details = s.get_error_details();
    let mut f: Vec<_> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    f.sort();
    f
}

async fn stop(h: Harness) {
    let _ = h.probe.conn.close(200, "done".into()).await;
    h.pool.close().await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn user_registered_creates_the_profile_and_announces_it() {
    let mut h = harness().await;
    let user = Uuid::now_v7();
    publish_as_auth(&h.amqp, &registered(user, "Ann_Lee")).await;

    let ev = h.probe.next().await;
    assert_eq!(ev.user_id, user.to_string());
    assert_eq!(ev.display_name, "Ann_Lee");
    // The sign-up timezone seeds the profile.
    assert_eq!(
        (ev.timezone.as_str(), ev.locale.as_str()),
        ("Europe/Paris", "en")
    );
    assert_eq!(ev.revision, 1);

    let p = profile_exists(&h, user).await;
    assert_eq!(p.user_id, user.to_string());
    assert_eq!(p.username, "Ann_Lee");
    assert_eq!(p.display_name, "Ann_Lee");
    assert_eq!(
        (p.timezone.as_str(), p.locale.as_str()),
        ("Europe/Paris", "en")
    );
    assert_eq!(ev.occur_time, p.update_time);
    stop(h).await;
}

#[tokio::test]
async fn no_profile_yet_is_not_found() {
    let mut h = harness().await;
    let token = h.issuer.token(Uuid::now_v7());
    let err = h
        .client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        err.get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .as_deref(),
        Some("NOT_FOUND")
    );
    let named = pb::Profile {
        display_name: "x".into(),
        ..Default::default()
    };
    let err = h
        .client
        .update_my_profile(authed(update(&["display_name"], named), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    stop(h).await;
}

#[tokio::test]
async fn update_with_a_mask_changes_named_fields_and_emits_revision_2() {
    let mut h = harness().await;
    let user = Uuid::now_v7();
    let other = Uuid::now_v7();
    publish_as_auth(&h.amqp, &registered(user, "bob")).await;
    assert_eq!(h.probe.next().await.revision, 1);
    let before = profile_exists(&h, user).await;

    // user_id in the body is ignored: the caller is the one in the token.
    let changed = pb::Profile {
        user_id: other.to_string(),
        display_name: "  Bob Builder ".into(),
        timezone: "Europe/Paris".into(),
        locale: "de".into(), // not in the mask: neither checked nor applied
        ..Default::default()
    };
    let token = h.issuer.token(user);
    let p = h
        .client
        .update_my_profile(authed(
            update(&["display_name", "timezone"], changed.clone()),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(p.user_id, user.to_string());
    assert_eq!(p.display_name, "Bob Builder");
    assert_eq!(p.timezone, "Europe/Paris");
    assert_eq!(p.locale, "en");
    assert_eq!(p.create_time, before.create_time);

    let ev = h.probe.next().await;
    assert_eq!(ev.user_id, user.to_string());
    assert_eq!(ev.revision, 2);
    assert_eq!(
        (
            ev.display_name.as_str(),
            ev.timezone.as_str(),
            ev.locale.as_str()
        ),
        ("Bob Builder", "Europe/Paris", "en")
    );
    assert_eq!(ev.occur_time, p.update_time);

    let locale = pb::Profile {
        locale: "fr".into(),
        ..Default::default()
    };
    let p = h
        .client
        .update_my_profile(authed(update(&["locale"], locale), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.profile.unwrap().locale, "fr");
    assert_eq!(h.probe.next().await.revision, 3);

    let got = h
        .client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let got = got.profile.unwrap();
    assert_eq!(
        (
            got.display_name.as_str(),
            got.timezone.as_str(),
            got.locale.as_str()
        ),
        ("Bob Builder", "Europe/Paris", "fr")
    );

    // Someone else naming this user's id in the body reaches only their own (missing) profile.
    let err = h
        .client
        .update_my_profile(authed(
            update(&["display_name"], changed),
            &h.issuer.token(other),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    stop(h).await;
}

#[tokio::test]
async fn invalid_updates_name_the_bad_fields() {
    let mut h = harness().await;
    let token = h.issuer.token(Uuid::now_v7());
    let bad = pb::Profile {
        display_name: " ".into(),
        timezone: "Mars/Olympus".into(),
        locale: "de".into(),
        ..Default::default()
    };
    let cases: Vec<(pb::UpdateMyProfileRequest, Vec<&str>)> = vec![
        (update(&["timezone"], bad.clone()), vec!["profile.timezone"]),
        (update(&["locale"], bad.clone()), vec!["profile.locale"]),
        (
            update(&["display_name", "timezone", "locale"], bad.clone()),
            vec!["profile.display_name", "profile.locale", "profile.timezone"],
        ),
        (
            update(&["avatar_url"], bad.clone()),
            vec!["update_mask.paths"],
        ),
        (update(&[], bad.clone()), vec!["update_mask"]),
        (
            pb::UpdateMyProfileRequest {
                profile: Some(bad),
                update_mask: None,
            },
            vec!["update_mask"],
        ),
    ];
    for (req, want) in cases {
        let err = h
            .client
            .update_my_profile(authed(req, &token))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), want);
    }
    let err = h
        .client
        .update_my_profile(authed(update(&["nickname"], Default::default()), &token))
        .await
        .unwrap_err();
    assert!(err.message().contains("nickname"), "{}", err.message());
    stop(h).await;
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let mut h = harness().await;
    let err = h
        .client
        .get_my_profile(pb::GetMyProfileRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = h
        .client
        .update_my_profile(update(&["locale"], Default::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // Signed by a key profile does not trust.
    let stranger = TestIssuer::new().token(Uuid::now_v7());
    let err = h
        .client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &stranger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    stop(h).await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_creates_one_profile_and_one_event() {
    let mut h = harness().await;
    let user = Uuid::now_v7();
    let event = registered(user, "dup");
    let event_id = Uuid::now_v7();

    // Two deliveries of one event (a relay that crashed between the confirm and marking the row
    // sent does exactly this): same message_id, the relay's properties.
    let conn = Connection::connect(&h.amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for _ in 0..2 {
        let props = BasicProperties::default()
            .with_message_id(event_id.to_string().into())
            .with_type(events::UserRegistered::TYPE.into())
            .with_app_id("auth".into())
            .with_timestamp(time::OffsetDateTime::now_utc().unix_timestamp() as u64)
            .with_content_type(stride_bus::CONTENT_TYPE.into())
            .with_delivery_mode(2);
        let confirm = ch
            .basic_publish(
                stride_bus::EXCHANGE.into(),
                events::UserRegistered::TYPE.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &event.encode_to_vec(),
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            confirm.is_ack() && confirm.take_message().is_none(),
            "routed to profile.events"
        );
    }
    let _ = conn.close(200, "done".into()).await;

    assert_eq!(h.probe.next().await.revision, 1);
    // Wait until the second delivery was absorbed by the inbox, then nothing more may exist.
    eventually(EVENT_DEADLINE, "the duplicate is absorbed", || async {
        stride_kit::metrics::render()
            .lines()
            .any(|l| {
                l.starts_with("stride_events_consumed_total")
                    && l.contains(r#"outcome="duplicate""#)
                    && l.ends_with(" 1")
            })
            .then_some(())
    })
    .await;
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profiles")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    let emitted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'profile.updated.v1'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!((profiles, emitted, inbox), (1, 1, 1));
    assert_eq!(profile_exists(&h, user).await.display_name, "dup");
    stop(h).await;
}

#[tokio::test]
async fn user_deleted_purges_all_of_that_users_rows_and_only_theirs() {
    let mut h = harness().await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    publish_as_auth(&h.amqp, &registered(user, "gone")).await;
    publish_as_auth(&h.amqp, &registered(other, "stays")).await;
    profile_exists(&h, user).await;
    profile_exists(&h, other).await;
    let before = user_rows(&h.pool, user).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let others = user_rows(&h.pool, other).await;
    assert_eq!(others, before, "both users have the same rows");

    let at = time::OffsetDateTime::now_utc();
    publish_as_auth(&h.amqp, &user_deleted(user, at)).await;
    let pool = h.pool.clone();
    eventually(EVENT_DEADLINE, "every row of the user is gone", || {
        let pool = pool.clone();
        async move {
            let left = user_rows(&pool, user).await;
            left.iter().all(|(_, n)| *n == 0).then_some(())
        }
    })
    .await;
    assert_eq!(user_rows(&h.pool, other).await, others);
    let err = h
        .client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &h.issuer.token(user)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(profile_exists(&h, other).await.username, "stays");

    // A second deletion (a retry under a new event id) deletes nothing and fails nothing.
    publish_as_auth(&h.amqp, &user_deleted(user, at)).await;
    let pool = h.pool.clone();
    eventually(EVENT_DEADLINE, "the second deletion is consumed", || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
                .fetch_one(&pool)
                .await
                .ok()?;
            (n == 4).then_some(())
        }
    })
    .await;
    assert_eq!(user_rows(&h.pool, other).await, others);
    stop(h).await;
}
