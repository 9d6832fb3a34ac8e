//! Telegram Login Widget payloads, hashed here straight from Telegram's documentation:
//! secret = SHA-256(bot token); hash = hex(HMAC-SHA-256(secret, data-check-string)).

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use stride_idp::{IdpError, TelegramAuth, TelegramVerifier, reason};

const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const NOW: i64 = 1_800_000_000;

fn telegram_hash(bot_token: &str, data_check_string: &str) -> String {
    let secret = Sha256::digest(bot_token.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(data_check_string.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A complete payload, hashed over the data-check-string written out by hand.
fn full() -> TelegramAuth {
    let auth_date = NOW - 30;
    let check = format!(
        "auth_date={auth_date}\nfirst_name=Ann\nid=987654321\nlast_name=Lee\nphoto_url=https://t.me/i/userpic/320/ann.jpg\nusername=ann_lee"
    );
    TelegramAuth {
        id: 987_654_321,
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        username: "ann_lee".into(),
        photo_url: "https://t.me/i/userpic/320/ann.jpg".into(),
        auth_date,
        hash: telegram_hash(BOT_TOKEN, &check),
    }
}

fn verifier() -> TelegramVerifier {
    TelegramVerifier::new(BOT_TOKEN, Duration::from_secs(86_400))
}

#[track_caller]
fn assert_reason<T: std::fmt::Debug>(result: Result<T, IdpError>, want: &str) {
    match result {
        Err(IdpError::InvalidToken { reason, detail }) => assert_eq!(reason, want, "{detail}"),
        other => panic!("expected {want}, got {other:?}"),
    }
}

#[test]
fn valid_payload_passes() {
    let user = verifier().verify(&full(), NOW).unwrap();
    assert_eq!(user.id, 987_654_321);
    assert_eq!(user.first_name.as_deref(), Some("Ann"));
    assert_eq!(user.last_name.as_deref(), Some("Lee"));
    assert_eq!(user.username.as_deref(), Some("ann_lee"));
    assert_eq!(
        user.photo_url.as_deref(),
        Some("https://t.me/i/userpic/320/ann.jpg")
    );
    assert_eq!(user.auth_date, NOW - 30);
}

#[test]
fn changing_any_field_fails() {
    let v = verifier();
    type Change = fn(&mut TelegramAuth);
    let changes: [(&str, Change); 12] = [
        ("id", |d| d.id += 1),
        ("first_name", |d| d.first_name.push('x')),
        ("last_name", |d| d.last_name = "Lie".into()),
        ("username", |d| d.username = "ann_lea".into()),
        ("photo_url", |d| {
            d.photo_url = "https://evil.example/a.jpg".into()
        }),
        ("auth_date", |d| d.auth_date += 1),
        ("hash", |d| {
            let last = if d.hash.ends_with('0') { "1" } else { "0" };
            d.hash.replace_range(63.., last);
        }),
        ("drop first_name", |d| d.first_name.clear()),
        ("drop last_name", |d| d.last_name.clear()),
        ("drop username", |d| d.username.clear()),
        ("drop photo_url", |d| d.photo_url.clear()),
        ("fields swapped", |d| {
            std::mem::swap(&mut d.first_name, &mut d.last_name)
        }),
    ];
    for (name, change) in changes {
        let mut data = full();
        change(&mut data);
        match v.verify(&data, NOW) {
            Err(IdpError::InvalidToken { reason, .. }) => {
                assert_eq!(reason, reason::TELEGRAM_SIGNATURE, "{name}")
            }
            other => panic!("{name}: expected TELEGRAM_SIGNATURE, got {other:?}"),
        }
    }
}

#[test]
fn missing_optional_fields_are_left_out_of_the_check() {
    let auth_date = NOW - 5;
    let data = TelegramAuth {
        id: 42,
        first_name: "Bo".into(),
        auth_date,
        hash: telegram_hash(
            BOT_TOKEN,
            &format!("auth_date={auth_date}\nfirst_name=Bo\nid=42"),
        ),
        ..TelegramAuth::default()
    };
    let user = verifier().verify(&data, NOW).unwrap();
    assert_eq!(user.first_name.as_deref(), Some("Bo"));
    assert_eq!(
        (user.last_name, user.username, user.photo_url),
        (None, None, None)
    );

    // The same shape as the widget's JSON, with the optional fields absent.
    let json = serde_json::json!({ "id": 42, "first_name": "Bo", "auth_date": auth_date, "hash": data.hash });
    let parsed: TelegramAuth = serde_json::from_value(json).unwrap();
    assert!(verifier().verify(&parsed, NOW).is_ok());
}

#[test]
fn auth_date_window() {
    let v = TelegramVerifier::new(BOT_TOKEN, Duration::from_secs(3600));
    let data = full(); // auth_date = NOW - 30
    assert!(v.verify(&data, data.auth_date + 3600).is_ok());
    assert_reason(
        v.verify(&data, data.auth_date + 3601),
        reason::TELEGRAM_EXPIRED,
    );
    assert!(v.verify(&data, data.auth_date - 60).is_ok());
    assert_reason(
        v.verify(&data, data.auth_date - 61),
        reason::TELEGRAM_EXPIRED,
    );
}

#[test]
fn hash_format() {
    let v = verifier();
    let mut upper = full();
    upper.hash = upper.hash.to_uppercase();
    assert!(
        v.verify(&upper, NOW).is_ok(),
        "uppercase hex is the same hash"
    );

    let cases = [
        ("short", full().hash[..63].to_owned()),
        ("long", format!("{}0", full().hash)),
        ("empty", String::new()),
        ("non-hex", format!("{}zz", &full().hash[..62])),
        ("base64-ish", "q".repeat(64)),
    ];
    for (name, hash) in cases {
        let data = TelegramAuth { hash, ..full() };
        match v.verify(&data, NOW) {
            Err(IdpError::InvalidToken { reason, .. }) => {
                assert_eq!(reason, reason::TELEGRAM_MALFORMED, "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn other_bots_token_does_not_verify() {
    let other = TelegramVerifier::new(
        "987654321:ZZZdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        Duration::from_secs(86_400),
    );
    assert_reason(other.verify(&full(), NOW), reason::TELEGRAM_SIGNATURE);
}

#[test]
fn nonsense_ids_are_malformed() {
    let data = TelegramAuth { id: 0, ..full() };
    assert_reason(verifier().verify(&data, NOW), reason::TELEGRAM_MALFORMED);
}
