//! Share cards (seed 000's shareable progress links; ADR 0021): what a card may show, how long
//! its link lives, and when it answers.
//!
//! A card is a snapshot: its figures are computed once, at creation, and the public read
//! returns exactly them (never a live query on the user, never anything else about them). A
//! link answers while `now < expires_at` and the card is not revoked; otherwise — and for a
//! token nobody issued — the answer is the same NOT_FOUND, so a holder cannot tell which.

use time::{Duration, OffsetDateTime};

pub const DEFAULT_TTL: Duration = Duration::days(30);
pub const MIN_TTL: Duration = Duration::hours(1);
pub const MAX_TTL: Duration = Duration::days(365);

/// The link's lifetime: the asked one (None: [`DEFAULT_TTL`]) if within bounds.
pub fn ttl(asked: Option<Duration>) -> Option<Duration> {
    match asked {
        None => Some(DEFAULT_TTL),
        Some(d) if (MIN_TTL..=MAX_TTL).contains(&d) => Some(d),
        Some(_) => None,
    }
}

/// Whether a card's link answers at `now`.
pub fn active(
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
) -> bool {
    revoked_at.is_none() && now < expires_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ttl_defaults_to_30_days_and_is_bounded() {
        assert_eq!(ttl(None), Some(Duration::days(30)));
        assert_eq!(ttl(Some(Duration::hours(1))), Some(Duration::hours(1)));
        assert_eq!(ttl(Some(Duration::days(365))), Some(Duration::days(365)));
        assert_eq!(ttl(Some(Duration::minutes(59))), None);
        assert_eq!(ttl(Some(Duration::days(366))), None);
        assert_eq!(ttl(Some(Duration::seconds(-5))), None);
    }

    #[test]
    fn a_link_answers_until_it_expires_or_is_revoked() {
        let exp = datetime!(2026-05-01 12:00 UTC);
        assert!(active(exp - Duration::seconds(1), exp, None));
        assert!(!active(exp, exp, None), "expiry is exclusive");
        assert!(!active(
            exp - Duration::days(1),
            exp,
            Some(exp - Duration::days(2))
        ));
    }
}
