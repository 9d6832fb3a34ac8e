//! `user.merged.v1`: the guest's profile is merged into the target's (target wins field by
//! field, empty fields filled from the guest's) and no row of the guest remains.

use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use sqlx::PgPool;
use stride_bus::Event as _;
use stride_kit::convert::timestamp;
use stride_proto::{events, profile as pb};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Publisher, consumed_count, publish_raw, user_rows},
    eventually,
};
use tonic::Code;
use uuid::Uuid;

use crate::{Harness, harness, profile_exists, stop, update};

/// `user.merged.v1` as auth publishes it.
fn merged(source: &str, target: &str) -> events::UserMerged {
    let at = time::OffsetDateTime::now_utc();
    events::UserMerged {
        source_user_id: source.into(),
        target_user_id: target.into(),
        occur_time: Some(timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(stride_kit::convert::date(at.date())),
    }
}

fn registered(user: Uuid, username: &str, timezone: &str) -> events::UserRegistered {
    events::UserRegistered {
        user_id: user.to_string(),
        email: String::new(),
        username: username.into(),
        is_anonymous: username.starts_with("guest"),
        occur_time: Some(timestamp(time::OffsetDateTime::now_utc())),
        timezone: timezone.into(),
        local_date: None,
    }
}

async fn get(h: &Harness, user: Uuid) -> Result<pb::Profile, tonic::Status> {
    h.client
        .clone()
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &h.issuer.token(user)))
        .await
        .map(|r| r.into_inner().profile.expect("profile"))
}

/// Waits until the service recorded `event_id` in its inbox (its effect committed with it).
async fn consumed(pool: &PgPool, event_id: Uuid) {
    eventually(EVENT_DEADLINE, "event consumed", || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
                .bind(event_id)
                .fetch_one(&pool)
                .await
                .ok()?;
            (n == 1).then_some(())
        }
    })
    .await;
}

/// True when no profile.updated.v1 arrives within `wait`.
async fn probe_quiet(h: &mut Harness, wait: Duration) -> bool {
    tokio::time::timeout(wait, h.probe.consumer.next())
        .await
        .is_err()
}

#[tokio::test]
async fn user_merged_fills_the_targets_empty_fields_and_forgets_the_source() {
    let mut h = harness().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    auth.publish(&registered(source, "guest_7f3", "Europe/Paris"))
        .await;
    // An account whose sign-up gave no username: its names are empty.
    auth.publish(&registered(target, "", "America/New_York"))
        .await;
    auth.publish(&registered(bystander, "bystander", "Asia/Tokyo"))
        .await;
    for _ in 0..3 {
        assert_eq!(h.probe.next().await.revision, 1);
    }
    profile_exists(&h, source).await;
    profile_exists(&h, target).await;
    let untouched = profile_exists(&h, bystander).await;
    let bystander_rows = user_rows(&h.pool, bystander).await;

    // The guest named themselves and chose French; the target keeps its own (non-empty) locale.
    let guest = pb::Profile {
        display_name: "Guest Ann".into(),
        locale: "fr".into(),
        ..Default::default()
    };
    h.client
        .update_my_profile(authed(
            update(&["display_name", "locale"], guest),
            &h.issuer.token(source),
        ))
        .await
        .expect("guest update");
    assert_eq!(h.probe.next().await.revision, 2);

    let merge = merged(&source.to_string(), &target.to_string());
    let event_id = auth.publish(&merge).await;

    // The target's consumers learn its new state under the next revision.
    let ev = h.probe.next().await;
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.revision, 2);
    assert_eq!(
        (
            ev.display_name.as_str(),
            ev.timezone.as_str(),
            ev.locale.as_str()
        ),
        ("Guest Ann", "America/New_York", "en")
    );
    consumed(&h.pool, event_id).await;

    let p = get(&h, target).await.expect("target profile");
    assert_eq!(p.user_id, target.to_string());
    assert_eq!(p.username, "guest_7f3", "empty username filled");
    assert_eq!(p.display_name, "Guest Ann", "empty display name filled");
    assert_eq!(p.timezone, "America/New_York", "the target's zone wins");
    assert_eq!(p.locale, "en", "the target's locale wins");
    assert_eq!(ev.occur_time, p.update_time);
    assert!(
        user_rows(&h.pool, source)
            .await
            .iter()
            .all(|(_, n)| *n == 0),
        "no row of the source remains"
    );
    assert_eq!(get(&h, source).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(get(&h, bystander).await.expect("bystander"), untouched);
    assert_eq!(user_rows(&h.pool, bystander).await, bystander_rows);

    // A redelivery of the same message is absorbed by the inbox ...
    publish_raw(
        &h.amqp,
        event_id,
        events::UserMerged::TYPE,
        "auth",
        &merge.encode_to_vec(),
    )
    .await;
    eventually(EVENT_DEADLINE, "the redelivery is absorbed", || async {
        (consumed_count("profile", "duplicate") == 1).then_some(())
    })
    .await;
    // ... and a re-publication under a new id finds no source and changes nothing.
    let again = auth.publish(&merge).await;
    consumed(&h.pool, again).await;
    assert_eq!(get(&h, target).await.expect("target profile"), p);
    assert!(
        user_rows(&h.pool, source)
            .await
            .iter()
            .all(|(_, n)| *n == 0)
    );
    assert!(
        probe_quiet(&mut h, Duration::from_millis(700)).await,
        "nothing more announced"
    );
    let emitted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'profile.updated.v1'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(emitted, 5, "3 registrations, 1 guest update, 1 merge");
    stop(h).await;
}

#[tokio::test]
async fn user_merged_gives_the_guests_profile_to_a_target_without_one() {
    let mut h = harness().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    auth.publish(&registered(source, "guest_a1", "Europe/Paris"))
        .await;
    assert_eq!(h.probe.next().await.revision, 1);
    let before = profile_exists(&h, source).await;

    let event_id = auth
        .publish(&merged(&source.to_string(), &target.to_string()))
        .await;
    let ev = h.probe.next().await;
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.revision, 2);
    consumed(&h.pool, event_id).await;

    let p = get(&h, target).await.expect("target profile");
    assert_eq!(
        (
            p.username.as_str(),
            p.display_name.as_str(),
            p.timezone.as_str(),
            p.locale.as_str()
        ),
        ("guest_a1", "guest_a1", "Europe/Paris", "en")
    );
    assert_eq!(p.create_time, before.create_time);
    assert!(
        user_rows(&h.pool, source)
            .await
            .iter()
            .all(|(_, n)| *n == 0)
    );
    assert_eq!(get(&h, source).await.unwrap_err().code(), Code::NotFound);
    stop(h).await;
}

#[tokio::test]
async fn user_merged_with_an_invalid_payload_is_dead_lettered() {
    let mut h = harness().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    auth.publish(&registered(source, "guest_b2", "UTC")).await;
    auth.publish(&registered(target, "bob", "UTC")).await;
    for _ in 0..2 {
        h.probe.next().await;
    }
    let before = (
        profile_exists(&h, source).await,
        profile_exists(&h, target).await,
    );

    let (s, t) = (source.to_string(), target.to_string());
    for bad in [
        merged("not-a-uuid", &t),
        merged(&s, ""),
        merged(&s, &s),
        merged(&t, &t),
    ] {
        auth.publish(&bad).await;
    }
    // Not even a UserMerged message.
    publish_raw(
        &h.amqp,
        Uuid::now_v7(),
        events::UserMerged::TYPE,
        "auth",
        b"\xff\xff\xff",
    )
    .await;
    eventually(
        EVENT_DEADLINE,
        "every bad event is dead-lettered",
        || async { (consumed_count("profile", "dead_lettered") == 5).then_some(()) },
    )
    .await;
    assert_eq!(consumed_count("profile", "handled"), 2);
    assert_eq!(
        (
            get(&h, source).await.expect("source"),
            get(&h, target).await.expect("target")
        ),
        before
    );
    assert!(probe_quiet(&mut h, Duration::from_millis(500)).await);
    stop(h).await;
}
