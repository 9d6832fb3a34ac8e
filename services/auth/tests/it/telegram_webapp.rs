//! SignInWithTelegramWebApp: Mini App `initData` signed the way Telegram documents it (secret =
//! HMAC-SHA256 keyed by "WebAppData" over the bot token), its age, and its identity shared with
//! the Login Widget.

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use stride_kit::Clock as _;
use stride_proto::auth as pb;
use stride_testkit::bus::assert_invalid;
use tonic::{Code, Status};

use crate::support::{
    Auth, PASSWORD, counts, identities, link, password,
    providers::{
        BOT_TOKEN, TELEGRAM_ID, assert_refused, sign_in_telegram, telegram_payload, world,
    },
    signup, start,
};

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Mini App initData for [`TELEGRAM_ID`] at `auth_date`, its hash keyed with `secret`.
fn init_data_with(secret: &[u8], user_id: i64, auth_date: i64) -> String {
    let user = format!(
        r#"{{"id":{user_id},"first_name":"Ann","username":"ann_lee","language_code":"en"}}"#
    );
    let auth_date = auth_date.to_string();
    let mut fields = vec![
        ("query_id", "AAHdF6IQAAAAAN0XohDhrOrc"),
        ("user", user.as_str()),
        ("auth_date", auth_date.as_str()),
        ("signature", "c2lnbmF0dXJlLW9mLXRlbGVncmFt"),
    ];
    fields.sort_unstable_by_key(|(k, _)| *k);
    let check = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let hash = hex::encode(hmac(secret, check.as_bytes()));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields {
        out.append_pair(k, v);
    }
    out.append_pair("hash", &hash);
    out.finish()
}

fn webapp_secret(bot_token: &str) -> Vec<u8> {
    hmac(b"WebAppData", bot_token.as_bytes())
}

fn init_data(auth_date: i64) -> String {
    init_data_with(&webapp_secret(BOT_TOKEN), TELEGRAM_ID, auth_date)
}

async fn sign_in(
    h: &Auth,
    init_data: String,
) -> Result<pb::SignInWithTelegramWebAppResponse, Status> {
    h.client
        .clone()
        .sign_in_with_telegram_web_app(pb::SignInWithTelegramWebAppRequest {
            init_data,
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn mini_app_sign_in_creates_the_account_the_widget_then_finds() {
    let w = world().await;
    let first = sign_in(&w.h, init_data(w.now() - 10)).await.unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    let ids = identities(&w.h, &first.tokens.unwrap().access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].provider(), pb::Provider::Telegram);
    assert_eq!(ids[0].subject, TELEGRAM_ID.to_string());

    // Again from the Mini App, then from the Login Widget: the same account each time.
    let again = sign_in(&w.h, init_data(w.now() - 5)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user.unwrap().id, user.id);
    let widget = sign_in_telegram(&w.h, telegram_payload(BOT_TOKEN, w.now() - 5))
        .await
        .unwrap();
    assert!(!widget.created);
    assert_eq!(widget.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn hostile_init_data_is_refused_and_creates_nothing() {
    let w = world().await;
    let now = w.now();
    let widget_key = Sha256::digest(BOT_TOKEN.as_bytes()).to_vec();
    let cases = [
        (
            "hashed with the Login Widget's key",
            init_data_with(&widget_key, TELEGRAM_ID, now - 10),
            "TELEGRAM_SIGNATURE",
        ),
        (
            "another bot",
            init_data_with(&webapp_secret("42:other-bot"), TELEGRAM_ID, now - 10),
            "TELEGRAM_SIGNATURE",
        ),
        (
            "user id swapped after signing",
            init_data(now - 10).replace(&TELEGRAM_ID.to_string(), "111"),
            "TELEGRAM_SIGNATURE",
        ),
        ("stale auth_date", init_data(now - 301), "TELEGRAM_EXPIRED"),
        ("auth_date ahead", init_data(now + 120), "TELEGRAM_EXPIRED"),
        (
            "no hash",
            init_data(now - 10)
                .split("&hash=")
                .next()
                .unwrap()
                .to_owned(),
            "TELEGRAM_MALFORMED",
        ),
    ];
    for (case, data, why) in cases {
        assert_refused(sign_in(&w.h, data).await, Code::Unauthenticated, why, case);
    }
    // The freshness bound is inclusive: exactly max_age old is still accepted.
    assert!(sign_in(&w.h, init_data(now - 300)).await.is_ok());
    assert_eq!(counts(&w.h).await, (1, 1));

    let empty = sign_in(&w.h, String::new()).await.unwrap_err();
    assert_invalid(&empty, &["init_data"]);
    let huge = sign_in(&w.h, "a".repeat(9000)).await.unwrap_err();
    assert_invalid(&huge, &["init_data"]);
    w.h.stop().await;
}

#[tokio::test]
async fn without_a_bot_token_the_mini_app_sign_in_is_off() {
    let h = start().await;
    let result = sign_in(&h, init_data(h.clock.now().unix_timestamp())).await;
    assert_refused(
        result,
        Code::FailedPrecondition,
        "PROVIDER_NOT_CONFIGURED",
        "no bot token",
    );
    h.stop().await;
}

#[tokio::test]
async fn mini_app_init_data_links_to_a_signed_in_account_with_proof() {
    let w = world().await;
    let (user, tokens) = signup(&w.h, "tia@example.com", "tia").await;
    let access = tokens.access_token.as_str();
    let credential =
        |data: String| Some(pb::link_identity_request::Credential::TelegramWebAppInitData(data));
    // A Login Widget hash is not a Mini App hash: refused, nothing linked.
    let widget_key = Sha256::digest(BOT_TOKEN.as_bytes()).to_vec();
    let forged = init_data_with(&widget_key, TELEGRAM_ID, w.now() - 5);
    let e = link(&w.h, access, password(PASSWORD), credential(forged))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = link(&w.h, access, password(PASSWORD), credential(String::new()))
        .await
        .unwrap_err();
    assert_invalid(&e, &["telegram_web_app_init_data"]);

    let linked = link(
        &w.h,
        access,
        password(PASSWORD),
        credential(init_data(w.now() - 5)),
    )
    .await
    .unwrap()
    .identity
    .unwrap();
    assert_eq!(linked.provider(), pb::Provider::Telegram);
    assert_eq!(linked.subject, TELEGRAM_ID.to_string());
    // The Mini App now signs in to the account it was linked to.
    let again = sign_in(&w.h, init_data(w.now() - 2)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user.unwrap().id, user.id);
    w.h.stop().await;
}
