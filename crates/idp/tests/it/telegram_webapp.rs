//! Telegram Mini App `initData`: a known-answer vector computed outside Rust (Python's hmac,
//! straight from Telegram's documentation: secret = HMAC-SHA256("WebAppData", bot token),
//! hash = hex(HMAC-SHA256(secret, data-check-string)), `signature` kept, `hash` left out), and
//! hostile variants built with the same algorithm here.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use stride_idp::{TelegramWebAppVerifier, reason};

const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const AUTH_DATE: i64 = 1_799_999_970;
const NOW: i64 = 1_800_000_000;

/// Produced by Python 3's `hmac`/`urllib.parse.urlencode` for the fields below.
const KNOWN: &str = "query_id=AAHdF6IQAAAAAN0XohDhrOrc&user=%7B%22id%22%3A987654321%2C%22first_name%22%3A%22Ann%22%2C%22last_name%22%3A%22Lee%22%2C%22username%22%3A%22ann_lee%22%2C%22language_code%22%3A%22en%22%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2Fann.svg%22%7D&auth_date=1799999970&signature=6fbdaece1e2b2c2b7b4e2a5b7d1f3c8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2&hash=d2c7220d0ad765f57c2049e2eb6721209c171f2325449a301fddf21d8762b5b6";

fn verifier() -> TelegramWebAppVerifier {
    TelegramWebAppVerifier::new(BOT_TOKEN, Duration::from_secs(300))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `fields` (decoded) signed with `secret`, URL-encoded as a Mini App receives them.
fn init_data(secret: &[u8], fields: &[(&str, &str)]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort_unstable_by_key(|(k, _)| *k);
    let check = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let hash = hex::encode(hmac(secret, check.as_bytes()));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        out.append_pair(k, v);
    }
    out.append_pair("hash", &hash);
    out.finish()
}

fn webapp_secret(bot_token: &str) -> Vec<u8> {
    hmac(b"WebAppData", bot_token.as_bytes())
}

const USER: &str = r#"{"id":987654321,"first_name":"Ann","username":"ann_lee"}"#;

fn fields(auth_date: &str) -> Vec<(&'static str, String)> {
    vec![
        ("query_id", "AAHdF6IQAAAAAN0XohDhrOrc".into()),
        ("user", USER.into()),
        ("auth_date", auth_date.into()),
    ]
}

fn signed(secret: &[u8], auth_date: i64) -> String {
    let f = fields(&auth_date.to_string());
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    init_data(secret, &refs)
}

#[test]
fn known_answer_from_telegrams_algorithm_verifies() {
    let user = verifier().verify(KNOWN, NOW).unwrap();
    assert_eq!(user.id, 987_654_321);
    assert_eq!(user.first_name.as_deref(), Some("Ann"));
    assert_eq!(user.last_name.as_deref(), Some("Lee"));
    assert_eq!(user.username.as_deref(), Some("ann_lee"));
    assert_eq!(
        user.photo_url.as_deref(),
        Some("https://t.me/i/userpic/320/ann.svg")
    );
    assert_eq!(user.auth_date, AUTH_DATE);
}

#[test]
fn the_login_widget_key_does_not_verify_mini_app_data() {
    // Same fields, hashed with the widget's key SHA-256(bot token): refused.
    let widget_secret = Sha256::digest(BOT_TOKEN.as_bytes());
    let data = signed(&widget_secret, AUTH_DATE);
    assert_eq!(
        verifier().verify(&data, NOW).unwrap_err().reason(),
        reason::TELEGRAM_SIGNATURE
    );
    // And the right key over the same fields verifies (the test's builder is sound).
    assert!(
        verifier()
            .verify(&signed(&webapp_secret(BOT_TOKEN), AUTH_DATE), NOW)
            .is_ok()
    );
}

#[test]
fn tampering_with_any_field_breaks_the_hash() {
    let cases = [
        ("user id", KNOWN.replace("987654321", "987654322")),
        ("signature dropped", {
            let (head, tail) = KNOWN.split_once("&signature=").unwrap();
            let hash = tail.split_once("&hash=").unwrap().1;
            format!("{head}&hash={hash}")
        }),
        ("field added", format!("start_param=x&{KNOWN}")),
        ("hash flipped", {
            let mut s = KNOWN.to_owned();
            s.pop();
            s.push('7');
            s
        }),
        (
            "another bot",
            signed(&webapp_secret("987:other-bot"), AUTH_DATE),
        ),
    ];
    for (case, data) in cases {
        assert_eq!(
            verifier().verify(&data, NOW).unwrap_err().reason(),
            reason::TELEGRAM_SIGNATURE,
            "{case}"
        );
    }
}

#[test]
fn stale_or_future_auth_date_is_expired() {
    let v = verifier();
    let secret = webapp_secret(BOT_TOKEN);
    assert!(v.verify(&signed(&secret, NOW - 300), NOW).is_ok());
    assert_eq!(
        v.verify(&signed(&secret, NOW - 301), NOW)
            .unwrap_err()
            .reason(),
        reason::TELEGRAM_EXPIRED
    );
    assert!(v.verify(&signed(&secret, NOW + 60), NOW).is_ok());
    assert_eq!(
        v.verify(&signed(&secret, NOW + 61), NOW)
            .unwrap_err()
            .reason(),
        reason::TELEGRAM_EXPIRED
    );
}

#[test]
fn malformed_data_is_refused_before_the_hash() {
    let secret = webapp_secret(BOT_TOKEN);
    let sign = |f: &[(&str, &str)]| init_data(&secret, f);
    let cases = [
        ("no hash", "auth_date=1799999970&user=%7B%7D".to_owned()),
        ("short hash", "auth_date=1799999970&hash=abcd".to_owned()),
        ("no auth_date", sign(&[("user", USER)])),
        (
            "auth_date text",
            sign(&[("user", USER), ("auth_date", "soon")]),
        ),
        ("no user", sign(&[("auth_date", "1799999970")])),
        (
            "user not json",
            sign(&[("user", "ann"), ("auth_date", "1799999970")]),
        ),
        (
            "user without id",
            sign(&[
                ("user", r#"{"first_name":"Ann"}"#),
                ("auth_date", "1799999970"),
            ]),
        ),
        (
            "repeated user",
            format!(
                "user=%7B%22id%22%3A1%7D&{}",
                sign(&[("user", USER), ("auth_date", "1799999970")])
            ),
        ),
    ];
    for (case, data) in cases {
        assert_eq!(
            verifier().verify(&data, NOW).unwrap_err().reason(),
            reason::TELEGRAM_MALFORMED,
            "{case}"
        );
    }
}
