//! The dashboard's partial answers: each peer part is gathered with a deadline and, when it
//! fails, named in `missing` with a reason people can read (never the peer's raw error). Both
//! peers are asked at once with the same deadline (`ANALYTICS_DASHBOARD_PEER_TIMEOUT_MS`), so
//! the dashboard answers within about that long even with a peer hanging.

use std::time::Duration;

/// Why a peer's part is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the deadline.
    Late,
    /// The peer could not be reached or is shutting down.
    Unavailable,
    /// The peer answered with an error (its gRPC code name).
    Failed(String),
}

/// The `missing` reason for `peer`'s part.
pub fn reason(peer: &str, f: &Failure, deadline: Duration) -> String {
    match f {
        Failure::Late => format!("{peer} did not answer within {}ms", deadline.as_millis()),
        Failure::Unavailable => format!("{peer} is unavailable"),
        Failure::Failed(code) => format!("{peer} answered with an error ({code})"),
    }
}

/// The leaderboard preview's size.
pub const LEADERBOARD_TOP: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_peer_and_what_went_wrong() {
        let d = Duration::from_millis(800);
        assert_eq!(
            reason("ai-coach", &Failure::Late, d),
            "ai-coach did not answer within 800ms"
        );
        assert_eq!(
            reason("challenge", &Failure::Unavailable, d),
            "challenge is unavailable"
        );
        assert_eq!(
            reason("challenge", &Failure::Failed("Internal".into()), d),
            "challenge answered with an error (Internal)"
        );
    }
}
