//! Abuse limits (the numbers); `crate::settings` carries them in the configuration.

/// Abuse limits. Defaults follow what Supabase/Keycloak ship, tightened where they leave holes.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Failed logins per account (by normalised email, known or not) within `login_window`.
    pub login_failures_per_account: i64,
    /// Failed logins per client address within `login_window`.
    pub login_failures_per_ip: i64,
    pub login_window: time::Duration,
    /// Guest accounts per client address per hour.
    pub guests_per_ip_per_hour: i64,
    /// One-time codes sent per address per hour.
    pub code_sends_per_hour: i64,
    /// Wrong guesses before a code dies.
    pub code_attempts: i32,
    pub code_ttl: time::Duration,
    pub reset_ttl: time::Duration,
    /// A new reset mail is not sent within this long of the previous one.
    pub reset_cooldown: time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_failures_per_account: 5,
            login_failures_per_ip: 50,
            login_window: time::Duration::minutes(15),
            guests_per_ip_per_hour: 10,
            code_sends_per_hour: 3,
            code_attempts: 5,
            code_ttl: time::Duration::minutes(10),
            reset_ttl: time::Duration::hours(1),
            reset_cooldown: time::Duration::seconds(60),
        }
    }
}
