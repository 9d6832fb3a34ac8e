//! auth with Google, Facebook and Telegram pointed at stand-ins: a real JWKS server with
//! generated keys (`stride_testkit::oidc`) and widget hashes computed from Telegram's documented
//! algorithm (`stride_testkit::telegram`). auth's clock is what judges token and payload ages.

use std::time::Duration;

use stride_auth::settings::Settings;
use stride_kit::Clock as _;
use stride_proto::auth as pb;
use stride_testkit::{
    oidc::{self, Provider, TestKey},
    telegram,
};
use tonic::{Code, Status};

use super::{Auth, before_now, start_at};

pub const GOOGLE_CLIENT: &str = oidc::CLIENT_ID;
pub const FACEBOOK_APP: &str = "1234567890";
pub const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
pub const TELEGRAM_ID: i64 = 987_654_321;

/// auth with every provider configured, on a clock five minutes behind real time
/// ([`before_now`]).
pub struct World {
    pub h: Auth,
    pub google_key: TestKey,
    pub google: Provider,
    pub facebook_key: TestKey,
    pub facebook: Provider,
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// A [`World`] whose settings `tune` may change further.
pub async fn world_with(tune: impl FnOnce(&mut Settings)) -> World {
    let google_key = TestKey::rsa("g-2026-1");
    let google = Provider::start(&[&google_key], Some(3600)).await;
    let facebook_key = TestKey::rsa("fb-1");
    let facebook = Provider::start(&[&facebook_key], None).await;
    let (google_url, facebook_url) = (google.url.clone(), facebook.url.clone());
    let h = start_at(before_now(), |s| {
        s.google_client_ids = vec!["stride-ios.apps.example".into(), GOOGLE_CLIENT.into()];
        s.google_jwks_url = Some(google_url);
        s.facebook_client_ids = vec![FACEBOOK_APP.into()];
        s.facebook_jwks_url = Some(facebook_url);
        s.telegram_bot_token = Some(BOT_TOKEN.into());
        s.telegram_max_age = Duration::from_secs(86_400);
        tune(s);
    })
    .await;
    World {
        h,
        google_key,
        google,
        facebook_key,
        facebook,
    }
}

impl World {
    /// auth's clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.h.clock.now().unix_timestamp()
    }

    /// A Google ID token for `subject` issued now, bound to `nonce`.
    pub fn google_token(&self, subject: &str, email: Option<(&str, bool)>, nonce: &str) -> String {
        self.google_key.mint(&oidc::google_claims(
            GOOGLE_CLIENT,
            subject,
            email,
            nonce,
            self.now(),
        ))
    }
}

pub async fn sign_in_google(
    h: &Auth,
    id_token: &str,
    nonce: &str,
) -> Result<pb::SignInWithIdTokenResponse, Status> {
    id_token_sign_in(h, pb::Provider::Google, id_token, nonce).await
}

pub async fn id_token_sign_in(
    h: &Auth,
    provider: pb::Provider,
    id_token: &str,
    nonce: &str,
) -> Result<pb::SignInWithIdTokenResponse, Status> {
    h.client
        .clone()
        .sign_in_with_id_token(pb::SignInWithIdTokenRequest {
            provider: provider.into(),
            id_token: id_token.into(),
            nonce: nonce.into(),
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// A Telegram widget payload for [`TELEGRAM_ID`] authenticated at `auth_date`, signed with
/// `bot_token`.
pub fn telegram_payload(bot_token: &str, auth_date: i64) -> pb::TelegramAuthData {
    let mut data = pb::TelegramAuthData {
        id: TELEGRAM_ID,
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        username: "ann_lee".into(),
        photo_url: "https://t.me/i/userpic/320/ann.jpg".into(),
        auth_date,
        hash: String::new(),
    };
    data.hash = telegram_hash(bot_token, &data);
    data
}

pub fn telegram_hash(bot_token: &str, d: &pb::TelegramAuthData) -> String {
    let (id, auth_date) = (d.id.to_string(), d.auth_date.to_string());
    telegram::sign(
        bot_token,
        &[
            ("id", &id),
            ("first_name", &d.first_name),
            ("last_name", &d.last_name),
            ("username", &d.username),
            ("photo_url", &d.photo_url),
            ("auth_date", &auth_date),
        ],
    )
}

pub async fn sign_in_telegram(
    h: &Auth,
    data: pb::TelegramAuthData,
) -> Result<pb::SignInWithTelegramResponse, Status> {
    h.client
        .clone()
        .sign_in_with_telegram(pb::SignInWithTelegramRequest {
            data: Some(data),
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Asserts `result` was refused with `code` and reason `why`; `case` names it in the message.
#[track_caller]
pub fn assert_refused(
    result: Result<impl std::fmt::Debug, Status>,
    code: Code,
    why: &str,
    case: &str,
) {
    match result {
        Err(s) => {
            assert_eq!(s.code(), code, "{case}: {s:?}");
            assert_eq!(stride_testkit::bus::reason(&s), why, "{case}: {s:?}");
        }
        Ok(r) => panic!("{case}: accepted: {r:?}"),
    }
}
