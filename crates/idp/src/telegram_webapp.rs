//! Telegram Mini Apps (WebApp): sign-in by `Telegram.WebApp.initData`.
//!
//! A Mini App receives `initData`, a URL-encoded query string (`query_id=…&user=%7B…%7D&
//! auth_date=…&signature=…&hash=…`). Telegram computed `hash` as
//! `hex(HMAC-SHA256(key = secret, data-check-string))` where
//!
//! - `secret = HMAC-SHA256(key = "WebAppData", message = bot token)` — unlike the Login Widget,
//!   whose key is SHA-256(bot token), so a widget hash never verifies here and vice versa;
//! - the data-check-string is every received field except `hash` (decoded values, `signature`
//!   included), as `key=value`, sorted by key, joined by `\n`
//!   (<https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app>).
//!
//! [`TelegramWebAppVerifier::verify`] checks, in this order: shape (size, no duplicate keys, no
//! newline in a value, `hash` 64 hex digits, `auth_date` a positive integer), the hash in
//! constant time, freshness (`auth_date` no older than `max_age`, at most
//! [`crate::telegram::MAX_FUTURE_SKEW`] ahead), then the `user` field: a JSON object with a
//! positive integer `id`.

use std::collections::BTreeMap;
use std::time::Duration;

use hex::FromHex as _;
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::error::{IdpError, reason};
use crate::telegram::{MAX_FUTURE_SKEW, TelegramUser};

/// Largest `initData` looked at; real ones are well under 2 KiB.
pub const MAX_INIT_DATA_LEN: usize = 8 * 1024;
const MAX_NAME_LEN: usize = 256;
const MAX_URL_LEN: usize = 2048;

/// Verifies Mini App `initData` signed for one bot.
#[derive(Clone)]
pub struct TelegramWebAppVerifier {
    /// HMAC-SHA256("WebAppData", bot token): the HMAC key. The token itself is not kept.
    secret: [u8; 32],
    configured: bool,
    max_age: Duration,
}

impl std::fmt::Debug for TelegramWebAppVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramWebAppVerifier")
            .field("configured", &self.configured)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// The Mini App secret key for `bot_token`.
pub fn webapp_secret(bot_token: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"WebAppData").expect("HMAC takes any key length");
    mac.update(bot_token.as_bytes());
    mac.finalize().into_bytes().into()
}

fn malformed(detail: impl Into<String>) -> IdpError {
    IdpError::invalid(reason::TELEGRAM_MALFORMED, detail)
}

impl TelegramWebAppVerifier {
    /// An empty bot token gives a verifier that answers [`IdpError::NotConfigured`].
    pub fn new(bot_token: &str, max_age: Duration) -> Self {
        Self {
            secret: webapp_secret(bot_token),
            configured: !bot_token.trim().is_empty(),
            max_age,
        }
    }

    /// Checks `init_data` (the raw query string) at `now_unix`.
    pub fn verify(&self, init_data: &str, now_unix: i64) -> Result<TelegramUser, IdpError> {
        if !self.configured {
            return Err(IdpError::NotConfigured("telegram: no bot token".into()));
        }
        let fields = parse(init_data)?;
        let hash = fields
            .get("hash")
            .ok_or_else(|| malformed("hash is missing"))?;
        let Ok(given) = <[u8; 32]>::from_hex(hash) else {
            return Err(malformed("hash is not 64 hex digits"));
        };
        let auth_date: i64 = fields
            .get("auth_date")
            .and_then(|d| d.parse().ok())
            .filter(|d| *d > 0)
            .ok_or_else(|| malformed("auth_date missing or not a positive integer"))?;

        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(data_check_string(&fields).as_bytes());
        let expected = mac.finalize().into_bytes();
        if !bool::from(expected[..].ct_eq(&given[..])) {
            return Err(IdpError::invalid(
                reason::TELEGRAM_SIGNATURE,
                "hash does not match",
            ));
        }

        let max_age = i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX);
        if now_unix.saturating_sub(auth_date) > max_age {
            return Err(IdpError::invalid(
                reason::TELEGRAM_EXPIRED,
                format!("auth_date {auth_date} too old"),
            ));
        }
        if auth_date.saturating_sub(now_unix) > MAX_FUTURE_SKEW {
            return Err(IdpError::invalid(
                reason::TELEGRAM_EXPIRED,
                format!("auth_date {auth_date} in the future"),
            ));
        }

        let user = fields
            .get("user")
            .ok_or_else(|| malformed("user is missing"))?;
        parse_user(user, auth_date)
    }
}

/// Decodes the query string into its fields; a repeated key or a newline in a value is refused
/// (either could make two different field sets share one data-check-string).
fn parse(init_data: &str) -> Result<BTreeMap<String, String>, IdpError> {
    if init_data.is_empty() {
        return Err(malformed("initData is empty"));
    }
    if init_data.len() > MAX_INIT_DATA_LEN {
        return Err(malformed("initData too large"));
    }
    let mut fields = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(init_data.as_bytes()) {
        if key.is_empty() || key.contains(['\n', '=']) || value.contains('\n') {
            return Err(malformed("empty key or multi-line field"));
        }
        if fields
            .insert(key.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(malformed("repeated field"));
        }
    }
    Ok(fields)
}

/// Every field except `hash`, `key=value`, sorted by key (the map's order), joined by `\n`.
fn data_check_string(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .filter(|(key, _)| key.as_str() != "hash")
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_user(json: &str, auth_date: i64) -> Result<TelegramUser, IdpError> {
    let Ok(Value::Object(user)) = serde_json::from_str::<Value>(json) else {
        return Err(malformed("user is not a JSON object"));
    };
    let id = user
        .get("id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
        .ok_or_else(|| malformed("user.id missing or not a positive integer"))?;
    let text = |name: &str, max: usize| -> Result<Option<String>, IdpError> {
        match user.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok((!s.is_empty()).then(|| s.clone())),
            Some(_) => Err(malformed(format!("user.{name} is not a short string"))),
        }
    };
    Ok(TelegramUser {
        id,
        first_name: text("first_name", MAX_NAME_LEN)?,
        last_name: text("last_name", MAX_NAME_LEN)?,
        username: text("username", MAX_NAME_LEN)?,
        photo_url: text("photo_url", MAX_URL_LEN)?,
        auth_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_hmac_of_the_token_keyed_by_webappdata() {
        // Known answer, computed independently:
        // printf '%s' '123:abc' | openssl dgst -sha256 -hmac WebAppData
        assert_eq!(hex::encode(webapp_secret("123:abc")), KNOWN_SECRET_123_ABC);
    }

    const KNOWN_SECRET_123_ABC: &str =
        "ddcbd0aef77333aee0bb81580557c54821520b65f2ad67a2c00371bb981b6995";

    #[test]
    fn check_string_keeps_signature_drops_hash_and_sorts() {
        let fields =
            parse("user=%7B%22id%22%3A1%7D&hash=ab&auth_date=5&signature=sig&query_id=q").unwrap();
        assert_eq!(
            data_check_string(&fields),
            "auth_date=5\nquery_id=q\nsignature=sig\nuser={\"id\":1}"
        );
    }

    #[test]
    fn repeated_keys_and_newlines_are_malformed() {
        for bad in ["", "a=1&a=2", "a=1%0Ab%3D2", "=x", "a%3Db=1"] {
            assert_eq!(
                parse(bad).unwrap_err().reason(),
                reason::TELEGRAM_MALFORMED,
                "{bad:?}"
            );
        }
        let huge = format!("a={}", "x".repeat(MAX_INIT_DATA_LEN));
        assert_eq!(
            parse(&huge).unwrap_err().reason(),
            reason::TELEGRAM_MALFORMED
        );
    }

    #[test]
    fn user_json_is_checked() {
        let u = parse_user(
            r#"{"id":42,"first_name":"Ann","last_name":"","username":"ann","language_code":"en","is_premium":true,"allows_write_to_pm":true,"photo_url":"https://t.me/i/userpic/320/a.svg"}"#,
            7,
        )
        .unwrap();
        assert_eq!(u.id, 42);
        assert_eq!(u.first_name.as_deref(), Some("Ann"));
        assert_eq!(u.last_name, None);
        assert_eq!(u.username.as_deref(), Some("ann"));
        assert_eq!(u.auth_date, 7);
        for bad in [
            "not json",
            "[1]",
            r#"{"first_name":"Ann"}"#,
            r#"{"id":"42"}"#,
            r#"{"id":0}"#,
            r#"{"id":-5}"#,
            r#"{"id":1.5}"#,
            r#"{"id":1,"first_name":7}"#,
        ] {
            assert_eq!(
                parse_user(bad, 1).unwrap_err().reason(),
                reason::TELEGRAM_MALFORMED,
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_bot_token_is_not_configured() {
        let v = TelegramWebAppVerifier::new("", Duration::from_secs(60));
        assert_eq!(
            v.verify("auth_date=1&hash=00", 1).unwrap_err().reason(),
            reason::IDP_NOT_CONFIGURED
        );
        assert!(!format!("{v:?}").contains("secret"));
    }
}
