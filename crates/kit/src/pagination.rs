//! Cursor pagination (AIP-158): `page_size` bounded, `page_token` an opaque, versioned, bounded
//! base64url string around a typed cursor (the keyset of the last row served).
//!
//! Tokens are not signed: every list is scoped to the caller by the query itself, so a forged
//! cursor can only skip ahead in the caller's own data. They are versioned (`v1:` prefix inside
//! the encoding) so a later cursor shape can refuse old tokens with a clear error.
//!
//! ```ignore
//! let page = Page::<(OffsetDateTime, Uuid)>::request(&mut v, req.page_size, &req.page_token, 20);
//! v.check()?;
//! let rows = store::list(&mut conn, user, page.after(), page.fetch_limit()).await?;
//! let (rows, next_page_token) = page.finish(rows, |r| (r.created_at, r.id));
//! ```

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::Violations;

/// Longest `page_token` accepted, before decoding.
pub const MAX_TOKEN_LEN: usize = 512;
/// Largest `page_size` (AIP-158: larger values are an error).
pub const MAX_PAGE_SIZE: i32 = 100;
const VERSION: &str = "v1:";

/// Encodes a cursor as a page token.
pub fn encode<C: Serialize>(cursor: &C) -> String {
    let json = serde_json::to_string(cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{VERSION}{json}"))
}

/// Decodes a page token; None when it is not one of ours (wrong encoding, version, shape, or
/// too long).
pub fn decode<C: DeserializeOwned>(token: &str) -> Option<C> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    serde_json::from_str(text.strip_prefix(VERSION)?).ok()
}

/// A validated page request.
#[derive(Clone, Debug)]
pub struct Page<C> {
    size: usize,
    after: Option<C>,
}

impl<C: Serialize + DeserializeOwned> Page<C> {
    /// Checks `page_size` (0 → `default`, 1..=100, otherwise a violation on `page_size`) and
    /// `page_token` (empty → first page, not ours → a violation on `page_token`).
    pub fn request(v: &mut Violations, page_size: i32, page_token: &str, default: usize) -> Self {
        let size = match page_size {
            0 => default,
            1..=MAX_PAGE_SIZE => page_size as usize,
            _ => {
                v.add("page_size", "must be between 0 and 100");
                default
            }
        };
        let after = if page_token.is_empty() {
            None
        } else {
            let cursor = decode(page_token);
            if cursor.is_none() {
                v.add("page_token", "is not a token from a previous page");
            }
            cursor
        };
        Self { size, after }
    }

    /// The cursor to continue after; None on the first page.
    pub fn after(&self) -> Option<&C> {
        self.after.as_ref()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size as i64 + 1
    }

    /// Cuts the extra row and returns the page with the token of the next one ("" when this is
    /// the last page).
    pub fn finish<T>(&self, mut rows: Vec<T>, cursor_of: impl Fn(&T) -> C) -> (Vec<T>, String) {
        if rows.len() <= self.size {
            return (rows, String::new());
        }
        rows.truncate(self.size);
        let token = rows
            .last()
            .map(|r| encode(&cursor_of(r)))
            .unwrap_or_default();
        (rows, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_what_is_not_ours() {
        let t = encode(&("jumping-jacks".to_owned(), 7_i64));
        assert_eq!(
            decode::<(String, i64)>(&t),
            Some(("jumping-jacks".into(), 7))
        );
        assert_eq!(decode::<(String, i64)>("not base64!!"), None);
        assert_eq!(
            decode::<(String, i64)>(&URL_SAFE_NO_PAD.encode("v2:[\"a\",1]")),
            None
        );
        assert_eq!(
            decode::<(String, i64)>(&URL_SAFE_NO_PAD.encode("v1:DROP TABLE")),
            None
        );
        assert_eq!(
            decode::<(String, i64)>(&"A".repeat(MAX_TOKEN_LEN + 1)),
            None
        );
        // Another cursor shape is refused, not misread.
        assert_eq!(decode::<uuid::Uuid>(&t), None);
    }

    #[test]
    fn requests_are_bounded_and_name_their_fields() {
        let mut v = Violations::new();
        let p = Page::<i64>::request(&mut v, 0, "", 20);
        assert!(v.is_empty());
        assert_eq!((p.size(), p.fetch_limit(), p.after()), (20, 21, None));

        for bad in [-1, 101, i32::MAX, i32::MIN] {
            let mut v = Violations::new();
            Page::<i64>::request(&mut v, bad, "", 20);
            let err = format!("{:?}", v.check().unwrap_err());
            assert!(err.contains("page_size"), "{bad}: {err}");
        }
        let mut v = Violations::new();
        Page::<i64>::request(&mut v, 10, "garbage", 20);
        assert!(format!("{:?}", v.check().unwrap_err()).contains("page_token"));
    }

    #[test]
    fn finish_cuts_the_probe_row_and_points_past_the_last_served() {
        let mut v = Violations::new();
        let p = Page::<i64>::request(&mut v, 2, "", 20);
        let (rows, next) = p.finish(vec![1, 2, 3], |r| *r);
        assert_eq!(rows, [1, 2]);
        let mut v = Violations::new();
        let p2 = Page::<i64>::request(&mut v, 2, &next, 20);
        assert!(v.is_empty());
        assert_eq!(p2.after(), Some(&2));
        let (rows, next) = p2.finish(vec![3], |r| *r);
        assert_eq!((rows, next.as_str()), (vec![3], ""));
    }
}
