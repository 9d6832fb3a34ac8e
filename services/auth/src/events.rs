//! The events auth publishes (`user.registered.v1`, `user.merged.v1`, `user.deleted.v1`): the
//! only place that builds them. Flows enqueue them in their own transaction.

use stride_kit::convert::{date, local_date, timestamp};
use stride_proto::events;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::users::UserRow;

/// An account exists for everyone now (created active, or a pending sign-up confirmed).
pub fn registered(user: &UserRow, now: OffsetDateTime) -> events::UserRegistered {
    events::UserRegistered {
        user_id: user.id.to_string(),
        email: user.email.clone().unwrap_or_default(),
        username: user.username.clone().unwrap_or_default(),
        is_anonymous: user.is_anonymous,
        occur_time: Some(timestamp(now)),
        local_date: Some(date(local_date(now, &user.timezone))),
        timezone: user.timezone.clone(),
    }
}

/// Guest `source` was merged into `target`: every service moves the guest's data.
pub fn merged(source: Uuid, target: &UserRow, now: OffsetDateTime) -> events::UserMerged {
    events::UserMerged {
        source_user_id: source.to_string(),
        target_user_id: target.id.to_string(),
        occur_time: Some(timestamp(now)),
        local_date: Some(date(local_date(now, &target.timezone))),
        timezone: target.timezone.clone(),
    }
}

/// The account is gone: every service purges the user's data.
pub fn deleted(user: Uuid, now: OffsetDateTime, timezone: String) -> events::UserDeleted {
    events::UserDeleted {
        user_id: user.to_string(),
        occur_time: Some(timestamp(now)),
        local_date: Some(date(local_date(now, &timezone))),
        timezone,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn events_carry_the_local_date_of_the_users_zone() {
        // 23:30 UTC is already the next day in Tokyo.
        let now = datetime!(2026-11-03 23:30 UTC);
        let mut user = UserRow::new(now, "Asia/Tokyo".into());
        user.email = Some("a@b.co".into());
        let r = registered(&user, now);
        assert_eq!(r.user_id, user.id.to_string());
        assert_eq!(r.email, "a@b.co");
        assert_eq!(r.username, "");
        assert_eq!(r.timezone, "Asia/Tokyo");
        assert_eq!(r.local_date.map(|d| d.day), Some(4));
        let source = Uuid::now_v7();
        let m = merged(source, &user, now);
        assert_eq!(m.source_user_id, source.to_string());
        assert_eq!(m.target_user_id, user.id.to_string());
        assert_eq!(m.local_date.map(|d| d.day), Some(4));
        let d = deleted(user.id, now, "UTC".into());
        assert_eq!(d.local_date.map(|d| d.day), Some(3));
        assert_eq!(d.timezone, "UTC");
    }
}
