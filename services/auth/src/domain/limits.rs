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
    /// One-time codes sent per address per hour, for each purpose.
    pub code_sends_per_hour: i64,
    /// Sign-in codes (anyone may ask for them) sent per address per day.
    pub sign_in_sends_per_address_per_day: i64,
    /// Sign-in codes sent per client address per hour (SMS pumping, mail bombing).
    pub sign_in_sends_per_ip_per_hour: i64,
    /// Sign-in codes sent per hour in total, per channel (a botnet of client addresses).
    pub sign_in_sends_global_per_hour: i64,
    /// Wrong codes per address across every code sent to it within `code_failure_window`; past
    /// it, codes for the address are refused until the window passes or a password reset.
    pub code_failures_per_address: i64,
    pub code_failure_window: time::Duration,
    /// Wrong codes per client address per hour.
    pub code_failures_per_ip_per_hour: i64,
    /// Wrong codes per hour across all addresses; past it, every code is refused for a while.
    pub code_failures_global_per_hour: i64,
    /// Wrong guesses before a code dies.
    pub code_attempts: i32,
    /// How long an emailed code lives.
    pub code_ttl: time::Duration,
    /// How long a code sent by SMS lives (seed 004: 5 minutes).
    pub sms_code_ttl: time::Duration,
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
            sign_in_sends_per_address_per_day: 10,
            sign_in_sends_per_ip_per_hour: 20,
            sign_in_sends_global_per_hour: 5_000,
            code_failures_per_address: 10,
            code_failure_window: time::Duration::hours(24),
            code_failures_per_ip_per_hour: 30,
            code_failures_global_per_hour: 5_000,
            code_attempts: 5,
            code_ttl: time::Duration::minutes(10),
            sms_code_ttl: time::Duration::minutes(5),
            reset_ttl: time::Duration::hours(1),
            reset_cooldown: time::Duration::seconds(60),
        }
    }
}

impl Limits {
    /// How long a one-time code sent on `channel` lives.
    pub fn code_ttl_for(&self, channel: super::codes::Channel) -> time::Duration {
        match channel {
            super::codes::Channel::Email => self.code_ttl,
            super::codes::Channel::Sms => self.sms_code_ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::Channel;

    #[test]
    fn sms_codes_live_five_minutes_and_mail_codes_ten() {
        let limits = Limits::default();
        assert_eq!(
            limits.code_ttl_for(Channel::Sms),
            time::Duration::minutes(5)
        );
        assert_eq!(
            limits.code_ttl_for(Channel::Email),
            time::Duration::minutes(10)
        );
    }
}
