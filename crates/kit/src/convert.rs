//! Conversions between proto well-known types and the types stored in PostgreSQL, and the
//! local-date rules (DESIGN §6): a per-day figure uses the user's IANA zone at the event's instant.

use prost_types::{Duration as PbDuration, Timestamp};
use stride_proto::Date as PbDate;
use time::{Date, Month, OffsetDateTime};

use crate::error::{AppError, Violations};

pub fn timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

pub fn from_timestamp(t: &Timestamp) -> Option<OffsetDateTime> {
    let ns = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(ns).ok()
}

pub fn duration(d: time::Duration) -> PbDuration {
    PbDuration {
        seconds: d.whole_seconds(),
        nanos: d.subsec_nanoseconds(),
    }
}

pub fn from_duration(d: &PbDuration) -> time::Duration {
    time::Duration::new(d.seconds, d.nanos)
}

pub fn date(d: Date) -> PbDate {
    PbDate {
        year: d.year(),
        month: i32::from(u8::from(d.month())),
        day: i32::from(d.day()),
    }
}

/// A full calendar date, or None when any part is missing or impossible.
pub fn from_date(d: &PbDate) -> Option<Date> {
    let month = Month::try_from(u8::try_from(d.month).ok()?).ok()?;
    Date::from_calendar_date(d.year, month, u8::try_from(d.day).ok()?).ok()
}

/// True when `name` is an IANA time zone known to the bundled database.
pub fn is_valid_timezone(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && jiff::tz::TimeZone::get(name).is_ok()
}

/// `tz` when it is a known IANA zone, "UTC" otherwise: what a user without a usable zone gets,
/// stored explicitly so every local date says which zone it used.
pub fn timezone_or_utc(tz: &str) -> &str {
    if is_valid_timezone(tz) { tz } else { "UTC" }
}

/// The calendar date at instant `t` in zone `tz`; unknown zones fall back to UTC, which is what
/// a profile without a zone uses.
pub fn local_date(t: OffsetDateTime, tz: &str) -> Date {
    let Some(z) = zoned(t, tz) else {
        return t.date();
    };
    let d = z.date();
    Month::try_from(d.month() as u8)
        .ok()
        .and_then(|m| Date::from_calendar_date(i32::from(d.year()), m, d.day() as u8).ok())
        .unwrap_or_else(|| t.date())
}

/// The minutes since local midnight at instant `t` in zone `tz` (0–1439; unknown zones are
/// UTC): when in the user's day something happened, e.g. a shutdown's clock-out time.
pub fn local_minute_of_day(t: OffsetDateTime, tz: &str) -> i32 {
    let Some(z) = zoned(t, tz) else {
        return i32::from(t.hour()) * 60 + i32::from(t.minute());
    };
    i32::from(z.hour()) * 60 + i32::from(z.minute())
}

/// Instant `t` in zone `tz` (unknown zones are UTC); none outside jiff's range.
fn zoned(t: OffsetDateTime, tz: &str) -> Option<jiff::Zoned> {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_second(t.unix_timestamp())
        .ok()
        .map(|ts| ts.to_zoned(zone))
}

/// Monday of the ISO week containing `d`.
pub fn week_start(d: Date) -> Date {
    d - time::Duration::days(i64::from(d.weekday().number_days_from_monday()))
}

/// Parses a resource id, recording a field violation when it is not a UUID.
pub fn parse_id(v: &mut Violations, field: &str, raw: &str) -> uuid::Uuid {
    match uuid::Uuid::parse_str(raw) {
        Ok(id) => id,
        Err(_) => {
            v.add(
                field,
                if raw.is_empty() {
                    "is required"
                } else {
                    "must be a UUID"
                },
            );
            uuid::Uuid::nil()
        }
    }
}

/// Parses a single required id field into a result.
pub fn require_id(field: &str, raw: &str) -> Result<uuid::Uuid, AppError> {
    let mut v = Violations::new();
    let id = parse_id(&mut v, field, raw);
    v.check()?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn local_minute_of_day_is_wall_clock_time_in_the_zone() {
        // 17:30 UTC is 18:30 in Paris in winter, 19:30 in summer (CEST).
        assert_eq!(
            local_minute_of_day(datetime!(2026-01-15 17:30 UTC), "Europe/Paris"),
            18 * 60 + 30
        );
        assert_eq!(
            local_minute_of_day(datetime!(2026-07-15 17:30 UTC), "Europe/Paris"),
            19 * 60 + 30
        );
        assert_eq!(
            local_minute_of_day(datetime!(2026-07-15 17:30 UTC), "Nowhere/Else"),
            17 * 60 + 30
        );
    }

    #[test]
    fn local_date_follows_the_zone_and_dst() {
        // 23:30 UTC on 2026-03-28 is already the 29th in Paris (UTC+1 before the switch).
        assert_eq!(
            local_date(datetime!(2026-03-28 23:30 UTC), "Europe/Paris"),
            time::macros::date!(2026 - 03 - 29)
        );
        // Same instant is still the 28th in New York.
        assert_eq!(
            local_date(datetime!(2026-03-28 23:30 UTC), "America/New_York"),
            time::macros::date!(2026 - 03 - 28)
        );
        // After the spring-forward (2026-03-29 01:00 UTC), Paris is UTC+2: 22:30 UTC is 00:30 next day.
        assert_eq!(
            local_date(datetime!(2026-03-29 22:30 UTC), "Europe/Paris"),
            time::macros::date!(2026 - 03 - 30)
        );
        assert_eq!(
            local_date(datetime!(2026-03-29 21:30 UTC), "Europe/Paris"),
            time::macros::date!(2026 - 03 - 29)
        );
        assert_eq!(
            local_date(datetime!(2026-03-29 21:30 UTC), "Not/AZone"),
            time::macros::date!(2026 - 03 - 29)
        );
    }

    #[test]
    fn timezones_and_dates_validate() {
        assert_eq!(timezone_or_utc("Asia/Kolkata"), "Asia/Kolkata");
        assert_eq!(timezone_or_utc("Mars/Olympus"), "UTC");
        assert_eq!(timezone_or_utc(""), "UTC");
        assert!(is_valid_timezone("Asia/Kolkata"));
        assert!(!is_valid_timezone("Mars/Olympus"));
        assert!(!is_valid_timezone(""));
        assert!(
            from_date(&PbDate {
                year: 2026,
                month: 2,
                day: 30
            })
            .is_none()
        );
        let d = time::macros::date!(2026 - 11 - 22);
        assert_eq!(from_date(&date(d)), Some(d));
        assert_eq!(week_start(d), time::macros::date!(2026 - 11 - 16));
    }

    #[test]
    fn timestamps_round_trip() {
        let t = datetime!(2026-11-22 10:11:12.5 UTC);
        assert_eq!(from_timestamp(&timestamp(t)), Some(t));
    }
}
