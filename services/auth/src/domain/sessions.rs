//! Sessions: one session is one refresh-token family, named by the access token's `sid`.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use time::OffsetDateTime;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
const TOKEN_PREFIX: &str = "s1:";

/// Opaque cursor: the sort key (creation instant in microseconds, family id) of the last
/// session returned.
pub fn encode_page_token(created: OffsetDateTime, family: Uuid) -> String {
    let micros = created.unix_timestamp_nanos() / 1_000;
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{micros}:{family}"))
}

pub fn decode_page_token(token: &str) -> Option<(OffsetDateTime, Uuid)> {
    if token.len() > 128 {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (micros, family) = text.strip_prefix(TOKEN_PREFIX)?.split_once(':')?;
    let micros: i128 = micros.parse().ok()?;
    let created = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?).ok()?;
    Some((created, Uuid::parse_str(family).ok()?))
}

/// The session a token's `sid` names, if it is a family id at all.
pub fn family(sid: &str) -> Option<Uuid> {
    Uuid::parse_str(sid).ok()
}

/// The session a re-issued pair continues: the caller's own, or a new one when `sid` is not a
/// family id.
pub fn continued(sid: &str) -> Uuid {
    family(sid).unwrap_or_else(Uuid::now_v7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let created = time::macros::datetime!(2026-11-03 10:20:30.123_456 UTC);
        let id = Uuid::now_v7();
        assert_eq!(
            decode_page_token(&encode_page_token(created, id)),
            Some((created, id))
        );
        assert_eq!(decode_page_token("%%%"), None);
        assert_eq!(decode_page_token(""), None);
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(format!("s1:12:{}", "x"))),
            None
        );
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(format!("s1:abc:{id}"))),
            None
        );
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(format!("zz:12:{id}"))),
            None
        );
        assert_eq!(decode_page_token(&"A".repeat(200)), None);
    }

    #[test]
    fn sessions_continue_or_start() {
        let id = Uuid::now_v7();
        assert_eq!(family(&id.to_string()), Some(id));
        assert_eq!(family("not-a-uuid"), None);
        assert_eq!(continued(&id.to_string()), id);
        let fresh = continued("");
        assert_ne!(fresh, id);
        assert_eq!(fresh.get_version_num(), 7);
    }
}
