//! The Telegram Login Widget's hash, computed from the documented algorithm
//! (<https://core.telegram.org/widgets/login#checking-authorization>), so tests can produce the
//! payloads Telegram would hand a browser:
//!
//! - data-check-string: every received field except `hash` as `key=value`, sorted by key, joined
//!   by `\n`; the widget leaves absent optional fields out, so empty values are skipped here;
//! - secret key: SHA-256(bot token);
//! - hash: lowercase hex HMAC-SHA-256(secret key, data-check-string).

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

/// The data-check-string of `fields` (name, value); `hash` and empty values are left out.
pub fn data_check_string(fields: &[(&str, &str)]) -> String {
    let mut present: Vec<(&str, &str)> = fields
        .iter()
        .copied()
        .filter(|(key, value)| *key != "hash" && !value.is_empty())
        .collect();
    present.sort_unstable_by_key(|(key, _)| *key);
    present
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `hash` Telegram puts next to `fields` for the bot with `bot_token`.
pub fn sign(bot_token: &str, fields: &[(&str, &str)]) -> String {
    let secret = Sha256::digest(bot_token.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC takes any key length");
    mac.update(data_check_string(fields).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_string_sorts_and_skips_hash_and_absent_fields() {
        let fields = [
            ("username", "ann"),
            ("id", "7"),
            ("hash", "ignored"),
            ("last_name", ""),
            ("auth_date", "1700000000"),
            ("first_name", "Ann"),
        ];
        assert_eq!(
            data_check_string(&fields),
            "auth_date=1700000000\nfirst_name=Ann\nid=7\nusername=ann"
        );
        let hash = sign("123:abc", &fields);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(hash, sign("123:abd", &fields));
    }
}
