//! `user.registered.v1` creates the profile and announces it, exactly once.

use prost::Message as _;
use stride_proto::{Event as _, events};
use stride_testkit::{
    bus::{Publisher, publish_raw},
    fixtures,
};
use uuid::Uuid;

use crate::support::{NOW, next_update, profile_exists, start};

#[tokio::test]
async fn user_registered_creates_the_profile_and_announces_it() {
    let (h, mut probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    auth.publish(&fixtures::user_registered(
        user,
        "Ann_Lee",
        "Europe/Paris",
        NOW,
    ))
    .await;

    let ev = next_update(&mut probe).await;
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
    h.stop().await;
}

#[tokio::test]
async fn a_sign_up_zone_that_is_not_iana_starts_the_profile_in_utc() {
    let (h, mut probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    auth.publish(&fixtures::user_registered(user, "zed", "Mars/Olympus", NOW))
        .await;
    assert_eq!(next_update(&mut probe).await.timezone, "UTC");
    assert_eq!(profile_exists(&h, user).await.timezone, "UTC");
    h.stop().await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_creates_one_profile_and_one_event() {
    let (h, mut probe) = start().await;
    let user = Uuid::now_v7();
    let event = fixtures::user_registered(user, "dup", "UTC", NOW);
    let event_id = Uuid::now_v7();
    // Two deliveries of one event (a relay that crashed between the confirm and marking the row
    // sent does exactly this): same message_id, the relay's properties.
    for _ in 0..2 {
        publish_raw(
            &h.amqp,
            event_id,
            events::UserRegistered::TYPE,
            "auth",
            &event.encode_to_vec(),
        )
        .await;
    }
    assert_eq!(next_update(&mut probe).await.revision, 1);
    // Wait until the second delivery was absorbed by the inbox, then nothing more may exist.
    h.deliveries("duplicate", 1).await;
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profiles")
        .fetch_one(&h.db)
        .await
        .unwrap();
    let emitted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'profile.updated.v1'")
            .fetch_one(&h.db)
            .await
            .unwrap();
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&h.db)
        .await
        .unwrap();
    assert_eq!((profiles, emitted, inbox), (1, 1, 1));
    assert_eq!(profile_exists(&h, user).await.display_name, "dup");
    h.stop().await;
}
