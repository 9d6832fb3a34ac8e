//! The Telegram Login Widget.
//!
//! The widget hands the browser the user's fields plus `hash`, which Telegram computed as
//! `hex(HMAC-SHA256(key = SHA-256(bot token), data-check-string))`, where the data-check-string
//! is every received field except `hash`, as `key=value`, sorted by key, joined by `\n`
//! (<https://core.telegram.org/widgets/login#checking-authorization>). Only someone holding our
//! bot token (Telegram and us) can produce it, so a matching hash proves Telegram vouched for
//! exactly these fields. [`TelegramVerifier::verify`] checks, in this order:
//!
//! - Shape: `hash` is 64 hex digits (either case), `id` and `auth_date` are positive, fields are
//!   bounded and contain no newline (a newline inside a value could make two different field
//!   sets produce the same data-check-string).
//! - The hash, compared in constant time. Absent optional fields (empty strings) are left out
//!   of the data-check-string, as Telegram does.
//! - Freshness: `auth_date` no older than `max_age` and at most [`MAX_FUTURE_SKEW`] seconds in
//!   the future, so an old login payload (from a log, history, a shared link) cannot be replayed.

use std::time::Duration;

use hex::FromHex as _;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{IdpError, reason};

/// How far in the future `auth_date` may be (clock skew between Telegram and us).
pub const MAX_FUTURE_SKEW: i64 = 60;
const MAX_NAME_LEN: usize = 256;
const MAX_URL_LEN: usize = 2048;

/// The fields the widget returns. Optional fields are empty strings when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TelegramAuth {
    pub id: i64,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub photo_url: String,
    pub auth_date: i64,
    pub hash: String,
}

/// A verified Telegram user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramUser {
    /// Telegram's stable user id; key accounts by it (usernames change).
    pub id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub photo_url: Option<String>,
    pub auth_date: i64,
}

/// Verifies widget payloads signed for one bot.
#[derive(Clone)]
pub struct TelegramVerifier {
    /// SHA-256(bot token): the HMAC key. The token itself is not kept.
    secret: [u8; 32],
    configured: bool,
    max_age: Duration,
}

impl std::fmt::Debug for TelegramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramVerifier")
            .field("configured", &self.configured)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl TelegramVerifier {
    /// `max_age` bounds how old `auth_date` may be (a day is common; shorter is safer). An empty
    /// bot token gives a verifier that answers [`IdpError::NotConfigured`].
    pub fn new(bot_token: &str, max_age: Duration) -> Self {
        Self {
            secret: Sha256::digest(bot_token.as_bytes()).into(),
            configured: !bot_token.trim().is_empty(),
            max_age,
        }
    }

    pub fn verify(&self, data: &TelegramAuth, now_unix: i64) -> Result<TelegramUser, IdpError> {
        if !self.configured {
            return Err(IdpError::NotConfigured("telegram: no bot token".into()));
        }
        let malformed = |detail: &str| IdpError::invalid(reason::TELEGRAM_MALFORMED, detail);
        // Exactly 64 digits of either case; any other length is an error.
        let Ok(given) = <[u8; 32]>::from_hex(&data.hash) else {
            return Err(malformed("hash is not 64 hex digits"));
        };
        if data.id <= 0 || data.auth_date <= 0 {
            return Err(malformed("id and auth_date must be positive"));
        }
        let texts = [
            (&data.first_name, MAX_NAME_LEN),
            (&data.last_name, MAX_NAME_LEN),
            (&data.username, MAX_NAME_LEN),
            (&data.photo_url, MAX_URL_LEN),
        ];
        for (text, max) in texts {
            if text.len() > max || text.contains('\n') {
                return Err(malformed("field too long or multi-line"));
            }
        }

        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(data_check_string(data).as_bytes());
        let expected = mac.finalize().into_bytes();
        if !bool::from(expected[..].ct_eq(&given[..])) {
            return Err(IdpError::invalid(
                reason::TELEGRAM_SIGNATURE,
                "hash does not match",
            ));
        }

        let max_age = i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX);
        if now_unix.saturating_sub(data.auth_date) > max_age {
            return Err(IdpError::invalid(
                reason::TELEGRAM_EXPIRED,
                format!("auth_date {} too old", data.auth_date),
            ));
        }
        if data.auth_date.saturating_sub(now_unix) > MAX_FUTURE_SKEW {
            return Err(IdpError::invalid(
                reason::TELEGRAM_EXPIRED,
                format!("auth_date {} in the future", data.auth_date),
            ));
        }

        let present = |s: &String| (!s.is_empty()).then(|| s.clone());
        Ok(TelegramUser {
            id: data.id,
            first_name: present(&data.first_name),
            last_name: present(&data.last_name),
            username: present(&data.username),
            photo_url: present(&data.photo_url),
            auth_date: data.auth_date,
        })
    }
}

/// The present fields as `key=value`, sorted by key (the array is already in that order).
fn data_check_string(data: &TelegramAuth) -> String {
    let id = data.id.to_string();
    let auth_date = data.auth_date.to_string();
    let fields: [(&str, &str); 6] = [
        ("auth_date", &auth_date),
        ("first_name", &data.first_name),
        ("id", &id),
        ("last_name", &data.last_name),
        ("photo_url", &data.photo_url),
        ("username", &data.username),
    ];
    debug_assert!(fields.windows(2).all(|w| w[0].0 < w[1].0));
    fields
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_check_string_sorts_and_skips_absent_fields() {
        let data = TelegramAuth {
            id: 7,
            first_name: "Ann".into(),
            username: "ann".into(),
            auth_date: 1_700_000_000,
            hash: String::new(),
            ..TelegramAuth::default()
        };
        assert_eq!(
            data_check_string(&data),
            "auth_date=1700000000\nfirst_name=Ann\nid=7\nusername=ann"
        );
    }

    #[test]
    fn empty_bot_token_is_not_configured() {
        let v = TelegramVerifier::new(" ", Duration::from_secs(60));
        let data = TelegramAuth {
            id: 1,
            auth_date: 1,
            hash: "0".repeat(64),
            ..Default::default()
        };
        assert_eq!(
            v.verify(&data, 1).unwrap_err().reason(),
            reason::IDP_NOT_CONFIGURED
        );
        assert!(!format!("{v:?}").contains("secret"));
    }

    #[test]
    fn newline_in_a_field_is_malformed() {
        let v = TelegramVerifier::new("123:abc", Duration::from_secs(60));
        let data = TelegramAuth {
            id: 1,
            first_name: "a\nusername=b".into(),
            auth_date: 1,
            hash: "0".repeat(64),
            ..Default::default()
        };
        assert_eq!(
            v.verify(&data, 1).unwrap_err().reason(),
            reason::TELEGRAM_MALFORMED
        );
    }
}
