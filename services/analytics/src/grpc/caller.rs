//! What H's handlers share: the caller's zone (as the progress summary decides it) and dates
//! in requests.

use sqlx::PgConnection;
use stride_bus::directory;
use stride_kit::{AppResult, Violations, convert};
use time::Date;
use uuid::Uuid;

use crate::{
    domain::{summary, timezone},
    store,
};

/// The zone "today" is computed in for `user`: the profile's, else the latest session's, else
/// UTC.
pub async fn zone(conn: &mut PgConnection, user: Uuid) -> AppResult<String> {
    let profile = directory::get(conn, user).await?.map(|d| d.timezone);
    let hint = match profile {
        Some(_) => None,
        None => store::hint(conn, user).await?.map(|h| h.timezone),
    };
    Ok(timezone::effective(profile.as_deref(), hint.as_deref()).to_owned())
}

/// A date field: None when unset; a violation on `field` when it is not a calendar date.
pub fn date(v: &mut Violations, field: &str, d: Option<&stride_proto::Date>) -> Option<Date> {
    let d = d?;
    let parsed = convert::from_date(d).filter(summary::valid_anchor);
    if parsed.is_none() {
        v.add(field, "must be a valid calendar date");
    }
    parsed
}
