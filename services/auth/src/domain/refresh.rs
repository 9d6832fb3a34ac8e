//! Token lifetimes and the refresh-token rotation rules: what a presented refresh token gets.

use time::{Duration, OffsetDateTime};

/// Access tokens live 15 minutes.
pub const ACCESS_TTL_SECONDS: i64 = 900;
/// Refresh tokens live 30 days from their issue (each rotation issues a fresh one).
pub const REFRESH_TTL: Duration = Duration::days(30);
/// How long after a rotation the replaced token may be re-sent to get the same pair back: long
/// enough for a client to retry a lost answer, short enough that a thief cannot stay in step
/// with the owner's refresh schedule (M2).
pub const REPLAY_GRACE: Duration = Duration::seconds(30);
/// The stored state of a presented refresh token.
#[derive(Clone, Copy, Debug)]
pub struct Presented {
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    /// When the rotation's answer was already given again (a replay is allowed once).
    pub replayed_at: Option<OffsetDateTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Never used, but its session was ended (logout, revocation, password change).
    Revoked,
    /// A spent token came back: someone holds a copy; the whole session ends.
    Reused,
    Expired,
    /// Rotate: spend it and issue the next pair of its session.
    Rotate,
}

impl Presented {
    /// Whether this may be the re-send of a token just replaced (a client that lost the
    /// rotation's response): spent, not revoked, within the grace, not replayed before, and by
    /// the client that rotated it (`same_client`). It is answered with the sealed pair only if
    /// that pair is still the session's newest and unused. Anything else that presents a spent
    /// token is reuse: the session ends.
    pub fn may_replay(&self, now: OffsetDateTime, same_client: bool) -> bool {
        same_client
            && self.replayed_at.is_none()
            && matches!((self.used_at, self.revoked_at), (Some(used_at), None) if used_at + REPLAY_GRACE > now)
    }

    /// What the token gets when it is not answered as a replay.
    pub fn verdict(&self, now: OffsetDateTime) -> Verdict {
        if self.used_at.is_none() && self.revoked_at.is_some() {
            Verdict::Revoked
        } else if self.used_at.is_some() {
            Verdict::Reused
        } else if self.expires_at <= now {
            Verdict::Expired
        } else {
            Verdict::Rotate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(secs)
    }

    fn presented(used: Option<i64>, revoked: Option<i64>, expires: i64) -> Presented {
        Presented {
            used_at: used.map(t),
            revoked_at: revoked.map(t),
            expires_at: t(expires),
            replayed_at: None,
        }
    }

    #[test]
    fn live_tokens_rotate_until_they_expire() {
        assert_eq!(presented(None, None, 100).verdict(t(99)), Verdict::Rotate);
        assert_eq!(presented(None, None, 100).verdict(t(100)), Verdict::Expired);
        assert!(!presented(None, None, 100).may_replay(t(0), true));
    }

    #[test]
    fn ended_sessions_say_revoked() {
        let p = presented(None, Some(10), 100);
        assert_eq!(p.verdict(t(20)), Verdict::Revoked);
        // Revocation wins over expiry.
        assert_eq!(p.verdict(t(200)), Verdict::Revoked);
        assert!(!p.may_replay(t(20), true));
    }

    #[test]
    fn spent_tokens_are_reuse_outside_the_grace() {
        let p = presented(Some(0), None, 1_000);
        assert!(p.may_replay(t(29), true));
        assert!(!p.may_replay(t(30), true));
        assert_eq!(p.verdict(t(29)), Verdict::Reused);
        assert_eq!(p.verdict(t(5_000)), Verdict::Reused);
        // Spent and then revoked with its family: reuse, never a replay.
        let q = presented(Some(0), Some(5), 1_000);
        assert!(!q.may_replay(t(10), true));
        assert_eq!(q.verdict(t(10)), Verdict::Reused);
    }

    #[test]
    fn a_replay_is_allowed_once_and_only_to_the_rotating_client() {
        let p = presented(Some(0), None, 1_000);
        assert!(!p.may_replay(t(1), false), "another client: reuse");
        let replayed = Presented {
            replayed_at: Some(t(1)),
            ..p
        };
        assert!(!replayed.may_replay(t(2), true), "a second replay: reuse");
        assert_eq!(replayed.verdict(t(2)), Verdict::Reused);
    }
}
