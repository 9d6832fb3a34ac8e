//! SignInWithTelegram: the Login Widget payload, its hash over every field, its age.

use std::time::Duration;

use stride_proto::auth as pb;
use stride_testkit::bus::assert_invalid;
use tonic::Code;

use crate::support::{
    counts, identities,
    providers::{
        BOT_TOKEN, TELEGRAM_ID, assert_refused, sign_in_telegram, telegram_hash, telegram_payload,
        world, world_with,
    },
};

#[tokio::test]
async fn telegram_sign_in_creates_an_account_then_signs_it_in() {
    let w = world().await;
    let payload = telegram_payload(BOT_TOKEN, w.now() - 30);
    let first = sign_in_telegram(&w.h, payload).await.unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    assert_eq!((user.email.as_str(), user.is_anonymous), ("", false));
    let ids = identities(&w.h, &first.tokens.unwrap().access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].provider(), pb::Provider::Telegram);
    assert_eq!(ids[0].subject, TELEGRAM_ID.to_string());
    assert!(ids[0].primary);

    // Next day, a new widget payload (the name changed meanwhile): the id is what counts.
    w.h.clock.advance(time::Duration::days(1));
    let mut data = telegram_payload(BOT_TOKEN, w.now() - 5);
    data.first_name = "Annie".into();
    data.hash = telegram_hash(BOT_TOKEN, &data);
    let second = sign_in_telegram(&w.h, data).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn telegram_payload_with_any_field_changed_is_refused() {
    let mut w = world().await;
    let valid = telegram_payload(BOT_TOKEN, w.now() - 30);
    let flip = |hash: &str| {
        let mut h = hash.to_owned();
        let last = if h.ends_with('0') { "1" } else { "0" };
        h.replace_range(63.., last);
        h
    };
    type Tamper = fn(&mut pb::TelegramAuthData);
    let tampers: [(&str, Tamper); 11] = [
        ("id", |d| d.id += 1),
        ("first_name", |d| d.first_name = "Eve".into()),
        ("first_name removed", |d| d.first_name.clear()),
        ("last_name", |d| d.last_name = "Mallory".into()),
        ("last_name removed", |d| d.last_name.clear()),
        ("username", |d| d.username = "eve".into()),
        ("username removed", |d| d.username.clear()),
        ("photo_url", |d| {
            d.photo_url = "https://evil.example/p.jpg".into();
        }),
        ("photo_url removed", |d| d.photo_url.clear()),
        ("auth_date", |d| d.auth_date += 1),
        ("auth_date earlier", |d| d.auth_date -= 60),
    ];
    for (field, tamper) in tampers {
        let mut data = valid.clone();
        tamper(&mut data);
        assert_ne!(data, valid);
        let result = sign_in_telegram(&w.h, data).await;
        assert_refused(result, Code::Unauthenticated, "TELEGRAM_SIGNATURE", field);
    }
    let hashes = [
        ("hash", flip(&valid.hash), "TELEGRAM_SIGNATURE"),
        (
            "hash of another bot",
            telegram_payload("987:other-bot", valid.auth_date).hash,
            "TELEGRAM_SIGNATURE",
        ),
        ("hash missing", String::new(), "TELEGRAM_MALFORMED"),
        (
            "hash truncated",
            valid.hash[..62].to_owned(),
            "TELEGRAM_MALFORMED",
        ),
        ("hash not hex", "z".repeat(64), "TELEGRAM_MALFORMED"),
    ];
    for (case, hash, why) in hashes {
        let data = pb::TelegramAuthData {
            hash,
            ..valid.clone()
        };
        let result = sign_in_telegram(&w.h, data).await;
        assert_refused(result, Code::Unauthenticated, why, case);
    }
    let err =
        w.h.client
            .sign_in_with_telegram(pb::SignInWithTelegramRequest {
                data: None,
                timezone: String::new(),
            })
            .await
            .unwrap_err();
    assert_invalid(&err, &["data"]);
    assert_eq!(counts(&w.h).await, (0, 0));

    // The control: the payload as Telegram signed it.
    assert!(sign_in_telegram(&w.h, valid).await.unwrap().created);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn telegram_payload_older_than_the_max_age_is_refused() {
    let w = world_with(|s| s.telegram_max_age = Duration::from_secs(600)).await;
    let now = w.now();
    assert_refused(
        sign_in_telegram(&w.h, telegram_payload(BOT_TOKEN, now - 601)).await,
        Code::Unauthenticated,
        "TELEGRAM_EXPIRED",
        "601 s old",
    );
    assert_refused(
        sign_in_telegram(&w.h, telegram_payload(BOT_TOKEN, now + 120)).await,
        Code::Unauthenticated,
        "TELEGRAM_EXPIRED",
        "from the future",
    );
    // A fresh payload goes stale as auth's clock moves on.
    let payload = telegram_payload(BOT_TOKEN, now - 10);
    w.h.clock.advance(time::Duration::seconds(591));
    assert_refused(
        sign_in_telegram(&w.h, payload.clone()).await,
        Code::Unauthenticated,
        "TELEGRAM_EXPIRED",
        "aged past the limit",
    );
    assert_eq!(counts(&w.h).await, (0, 0));
    // Exactly the max age is still accepted.
    let payload = telegram_payload(BOT_TOKEN, w.now() - 600);
    assert!(sign_in_telegram(&w.h, payload).await.unwrap().created);
    w.h.stop().await;
}
