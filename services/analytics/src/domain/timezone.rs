//! Which zone "today" is computed in. The profile's zone (the user directory, from
//! `profile.updated.v1`) always wins; until one arrives, the zone of the user's latest session
//! stands in as a hint; without either, UTC.

use stride_kit::convert::{local_date, timezone_or_utc};
use time::{Date, OffsetDateTime};

/// A zone seen on a session event, and when (the session's end): a later one replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub timezone: String,
    pub observed_at: OffsetDateTime,
}

/// The zone to use: the profile's, else the hint's, else UTC (an unknown name counts as none).
pub fn effective<'a>(profile: Option<&'a str>, hint: Option<&'a str>) -> &'a str {
    timezone_or_utc(profile.or(hint).unwrap_or_default())
}

/// The user's local date at `now`.
pub fn today(now: OffsetDateTime, tz: &str) -> Date {
    local_date(now, tz)
}

/// What a merge's target ends up with as its hint, if it needs one. A target with a profile zone
/// or a hint of its own keeps it; a target with neither takes the guest's zone: the guest's
/// profile zone (as observed `now`) or else its hint, until the target's first profile revision
/// replaces it.
pub fn hint_after_merge(
    target_has_zone: bool,
    source_profile: Option<&str>,
    source_hint: Option<Hint>,
    now: OffsetDateTime,
) -> Option<Hint> {
    if target_has_zone {
        return None;
    }
    match source_profile {
        Some(tz) => Some(Hint {
            timezone: tz.to_owned(),
            observed_at: now,
        }),
        None => source_hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_profile_wins_then_the_hint_then_utc() {
        assert_eq!(
            effective(Some("Europe/Paris"), Some("Asia/Tokyo")),
            "Europe/Paris"
        );
        assert_eq!(effective(None, Some("Asia/Tokyo")), "Asia/Tokyo");
        assert_eq!(effective(None, None), "UTC");
        // A profile without a usable zone means UTC, not the hint.
        assert_eq!(effective(Some("UTC"), Some("Asia/Tokyo")), "UTC");
        assert_eq!(effective(Some("Mars/Olympus"), None), "UTC");
    }

    #[test]
    fn today_is_the_local_date() {
        // 23:30 UTC on Monday the 2nd is already Tuesday the 3rd in Kolkata (UTC+5:30).
        let now = datetime!(2026-03-02 23:30 UTC);
        assert_eq!(today(now, "Asia/Kolkata"), date!(2026 - 03 - 03));
        assert_eq!(today(now, "UTC"), date!(2026 - 03 - 02));
        // Across the DST change: 00:30 Monday in Paris (UTC+2 since Sunday 01:00 UTC).
        assert_eq!(
            today(datetime!(2026-03-29 22:30 UTC), "Europe/Paris"),
            date!(2026 - 03 - 30)
        );
    }

    #[test]
    fn a_merge_target_without_a_zone_takes_the_guests() {
        let now = datetime!(2026-03-06 12:00 UTC);
        let hint = Hint {
            timezone: "Asia/Kolkata".into(),
            observed_at: datetime!(2026-03-05 09:00 UTC),
        };
        // The target's own zone (profile or hint) wins.
        assert_eq!(
            hint_after_merge(true, Some("Asia/Tokyo"), Some(hint.clone()), now),
            None
        );
        // The guest's profile zone, as of the merge.
        assert_eq!(
            hint_after_merge(false, Some("Asia/Tokyo"), Some(hint.clone()), now),
            Some(Hint {
                timezone: "Asia/Tokyo".into(),
                observed_at: now
            })
        );
        // Else the guest's own hint, as old as it was.
        assert_eq!(
            hint_after_merge(false, None, Some(hint.clone()), now),
            Some(hint)
        );
        assert_eq!(hint_after_merge(false, None, None, now), None);
    }
}
