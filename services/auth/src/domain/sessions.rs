//! Sessions: one session is one refresh-token family, named by the access token's `sid`.

use time::OffsetDateTime;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: usize = 50;

/// Where a page of sessions continues: the sort key (creation instant in microseconds, family
/// id) of the last session served.
pub type Cursor = (i64, Uuid);

pub fn cursor(created: OffsetDateTime, family: Uuid) -> Cursor {
    ((created.unix_timestamp_nanos() / 1_000) as i64, family)
}

/// The sort key of a cursor, or None when the instant is out of range (a forged cursor).
pub fn resume_after(&(micros, family): &Cursor) -> Option<(OffsetDateTime, Uuid)> {
    let nanos = i128::from(micros).checked_mul(1_000)?;
    Some((
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?,
        family,
    ))
}

/// The session a token's `sid` names, if it is a family id at all.
pub fn family(sid: &str) -> Option<Uuid> {
    Uuid::parse_str(sid).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_keep_the_sort_key_to_the_microsecond() {
        let created = time::macros::datetime!(2026-11-22 10:00:00.123456 UTC);
        let id = Uuid::now_v7();
        assert_eq!(resume_after(&cursor(created, id)), Some((created, id)));
        assert_eq!(resume_after(&(i64::MAX, id)), None);
    }

    #[test]
    fn sessions_continue_or_start() {
        let id = Uuid::now_v7();
        assert_eq!(family(&id.to_string()), Some(id));
        assert_eq!(family("not-a-uuid"), None);
    }
}
