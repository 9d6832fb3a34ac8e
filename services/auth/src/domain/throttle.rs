//! Sliding-window throttles: which counter a request touches and when a count is too many.
//!
//! Keys are SHA-256 of `<kind>:<value>`; the table holds no email or address in clear.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use super::{crypto::sha256, limits::Limits};

/// Hits are kept this long: past the longest window (a day).
pub const RETENTION: Duration = Duration::hours(25);
/// Window of the per-day limits.
pub const DAY: Duration = Duration::hours(24);
/// Windows of the per-hour limits (guests, code sends, sign-up notices).
pub const HOUR: Duration = Duration::hours(1);
/// Notices to an existing account's owner per hour (someone keeps signing up with their address).
pub const NOTICES_PER_HOUR: i64 = 3;

pub fn key(kind: &str, value: &str) -> Vec<u8> {
    sha256(format!("{kind}:{value}").as_bytes())
}

/// Failed logins against an account (by normalised email, known or not).
pub fn login_account_key(account: &str) -> Vec<u8> {
    key("login.account", account)
}

/// The two counters a failed login (or a failed password re-check) adds to.
pub struct LoginKeys {
    pub account: Vec<u8>,
    pub ip: Option<Vec<u8>>,
}

pub fn login_keys(account: &str, ip: Option<IpAddr>) -> LoginKeys {
    LoginKeys {
        account: login_account_key(account),
        ip: ip.map(|ip| key("login.ip", &ip.to_string())),
    }
}

/// Password checks against one account are serialised under this advisory lock, so the count,
/// the reservation of a failure and the check cannot be raced past (M1).
pub fn login_lock(keys: &LoginKeys) -> String {
    let hex: String = keys.account.iter().map(|b| format!("{b:02x}")).collect();
    format!("login:{hex}")
}

/// Wrong codes for one address, across every code sent to it.
pub fn code_failure_address_key(channel: &str, address: &str) -> Vec<u8> {
    key("code.fail.address", &format!("{channel}:{address}"))
}

/// Wrong codes from one client address.
pub fn code_failure_ip_key(ip: IpAddr) -> Vec<u8> {
    key("code.fail.ip", &ip.to_string())
}

/// Wrong codes from everyone.
pub fn code_failure_global_key() -> Vec<u8> {
    key("code.fail.global", "")
}

/// Whether the address has used up its budget of wrong codes.
pub fn code_address_locked(failures: i64, limits: &Limits) -> bool {
    failures >= limits.code_failures_per_address
}

pub fn code_ip_locked(failures: i64, limits: &Limits) -> bool {
    failures >= limits.code_failures_per_ip_per_hour
}

pub fn code_global_locked(failures: i64, limits: &Limits) -> bool {
    failures >= limits.code_failures_global_per_hour
}

/// Sign-in codes sent at one client address's request.
pub fn sign_in_send_ip_key(ip: IpAddr) -> Vec<u8> {
    key("code.send.ip", &ip.to_string())
}

/// Sign-in codes sent over one channel, by anyone.
pub fn sign_in_send_global_key(channel: &str) -> Vec<u8> {
    key("code.send.global", channel)
}

pub fn sign_in_sends_exhausted(per_address_day: i64, per_ip_hour: i64, limits: &Limits) -> bool {
    per_address_day >= limits.sign_in_sends_per_address_per_day
        || per_ip_hour >= limits.sign_in_sends_per_ip_per_hour
}

pub fn sign_in_sends_globally_exhausted(sent: i64, limits: &Limits) -> bool {
    sent >= limits.sign_in_sends_global_per_hour
}

/// Start of the window failed logins are counted in.
pub fn login_window_start(now: OffsetDateTime, limits: &Limits) -> OffsetDateTime {
    now - limits.login_window
}

/// Whether the account's recent failures lock it (the same answer for known and unknown ones).
pub fn account_locked(failures: i64, limits: &Limits) -> bool {
    failures >= limits.login_failures_per_account
}

pub fn ip_locked(failures: i64, limits: &Limits) -> bool {
    failures >= limits.login_failures_per_ip
}

/// Guest sign-ups from one client address.
pub fn guest_key(ip: IpAddr) -> Vec<u8> {
    key("guest.ip", &ip.to_string())
}

/// Guest sign-ups from one address are serialised under this advisory lock.
pub fn guest_lock(ip: IpAddr) -> String {
    format!("guest:{ip}")
}

pub fn guests_exhausted(created: i64, limits: &Limits) -> bool {
    created >= limits.guests_per_ip_per_hour
}

pub fn code_sends_exhausted(sent: i64, limits: &Limits) -> bool {
    sent >= limits.code_sends_per_hour
}

/// "Someone signed up with your address" notices to one address.
pub fn signup_notice_key(email: &str) -> Vec<u8> {
    key("signup.notice", email)
}

pub fn notice_due(sent: i64) -> bool {
    sent < NOTICES_PER_HOUR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_per_kind() {
        assert_eq!(key("login.account", "a@b.co").len(), 32);
        assert_eq!(key("a", "b"), key("a", "b"));
        assert_ne!(
            key("login.account", "a@b.co"),
            key("signup.notice", "a@b.co")
        );
        assert_ne!(signup_notice_key("a@b.co"), login_account_key("a@b.co"));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_ne!(guest_key(ip), login_keys("x", Some(ip)).ip.unwrap());
        assert_eq!(guest_lock(ip), "guest:192.0.2.7");
    }

    #[test]
    fn a_reset_clears_the_counter_login_adds_to() {
        // Recovery clears `login_account_key(email)`: it must be the key a failed login hits.
        let keys = login_keys("ann@example.com", None);
        assert_eq!(keys.account, login_account_key("ann@example.com"));
        assert!(keys.ip.is_none());
    }

    #[test]
    fn lockout_starts_at_the_limit() {
        let limits = Limits::default();
        assert!(!account_locked(4, &limits));
        assert!(account_locked(5, &limits));
        assert!(!ip_locked(49, &limits));
        assert!(ip_locked(50, &limits));
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        assert_eq!(
            login_window_start(now, &limits),
            now - Duration::minutes(15)
        );
        assert!(RETENTION >= limits.login_window && RETENTION >= DAY);
    }

    #[test]
    fn code_budgets() {
        let limits = Limits::default();
        assert!(!code_address_locked(9, &limits));
        assert!(code_address_locked(10, &limits));
        assert!(limits.code_failure_window <= RETENTION);
        assert!(code_ip_locked(30, &limits) && !code_ip_locked(29, &limits));
        assert!(code_global_locked(5_000, &limits) && !code_global_locked(4_999, &limits));
        assert_ne!(
            code_failure_address_key("email", "a@b.co"),
            code_failure_address_key("sms", "a@b.co")
        );
        assert!(sign_in_sends_exhausted(10, 0, &limits));
        assert!(sign_in_sends_exhausted(0, 20, &limits));
        assert!(!sign_in_sends_exhausted(9, 19, &limits));
        assert!(sign_in_sends_globally_exhausted(5_000, &limits));
        // Ten guesses a day at one in a million each: under 0.4 % a year for one address.
        let per_year = limits.code_failures_per_address as f64 * 365.0 / 1e6;
        assert!(per_year < 0.004, "{per_year}");
    }

    #[test]
    fn hourly_limits() {
        let limits = Limits::default();
        assert!(!guests_exhausted(9, &limits));
        assert!(guests_exhausted(10, &limits));
        assert!(!code_sends_exhausted(2, &limits));
        assert!(code_sends_exhausted(3, &limits));
        assert!(notice_due(2));
        assert!(!notice_due(3));
    }
}
