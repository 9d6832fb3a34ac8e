//! One-time codes: 6 uniform digits, stored as SHA-256 over (row id, code); what they are for
//! and where they go.

use stride_kit::{AppError, AppResult};
use uuid::Uuid;

use super::{crypto, validate};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    /// Checks and normalises `raw` as an address of this channel (INVALID_ARGUMENT on `address`).
    pub fn address(self, raw: &str) -> AppResult<String> {
        match self {
            Channel::Email => {
                let a = validate::normalize_email(raw);
                if !validate::valid_email(&a) {
                    return Err(AppError::invalid("address", validate::EMAIL_RULE));
                }
                Ok(a)
            }
            Channel::Sms => {
                let a = validate::normalize_phone(raw);
                if !validate::valid_phone(&a) {
                    return Err(AppError::invalid("address", validate::PHONE_RULE));
                }
                Ok(a)
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Link,
    Reauthenticate,
    VerifyEmail,
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Link => "link",
            Purpose::Reauthenticate => "reauthenticate",
            Purpose::VerifyEmail => "verify_email",
            Purpose::ChangeEmail => "change_email",
        }
    }

    /// How the message names the code.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign-in",
            Purpose::Link => "confirmation",
            Purpose::Reauthenticate => "re-authentication",
            Purpose::VerifyEmail => "email verification",
            Purpose::ChangeEmail => "email change",
        }
    }
}

/// A uniformly random 6-digit code (rejection sampling: no modulo bias).
pub fn new_code() -> AppResult<String> {
    loop {
        if let Some(code) = code_from(u32::from_le_bytes(crypto::random_bytes::<4>()?)) {
            return Ok(code);
        }
    }
}

/// The code for one random draw, or None when the draw must be rejected.
fn code_from(n: u32) -> Option<String> {
    // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
    (n < 4_294_000_000).then(|| format!("{:06}", n % 1_000_000))
}

pub fn code_hash(id: Uuid, code: &str) -> Vec<u8> {
    let mut input = id.as_bytes().to_vec();
    input.extend_from_slice(code.as_bytes());
    crypto::sha256(&input)
}

/// Whether `code` can be a code at all (anything else is refused without a lookup).
pub fn well_formed(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a wrong guess, after `attempts` earlier wrong ones, kills the code.
pub fn dies_on_wrong_guess(attempts: i32, max_attempts: i32) -> bool {
    attempts + 1 >= max_attempts
}

/// Sends to one address are serialised under this advisory lock.
pub fn send_lock(channel: Channel, address: &str) -> String {
    format!("code:{}:{address}", channel.as_str())
}

/// Where a re-authentication code goes: the primary identity's channel when it is a phone, the
/// account's email otherwise, its phone when it has no email.
pub fn reauthentication_target(
    primary_provider: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
) -> Option<(Channel, String)> {
    match (primary_provider, email, phone) {
        (Some("phone"), _, Some(p)) => Some((Channel::Sms, p.to_owned())),
        (_, Some(e), _) => Some((Channel::Email, e.to_owned())),
        (_, None, Some(p)) => Some((Channel::Sms, p.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..200).map(|_| new_code().unwrap()).collect();
        assert!(codes.iter().all(|c| well_formed(c)));
        assert!(codes.len() > 190);
    }

    #[test]
    fn draws_past_the_last_full_million_are_rejected() {
        assert_eq!(code_from(0).as_deref(), Some("000000"));
        assert_eq!(code_from(1_000_042).as_deref(), Some("000042"));
        assert_eq!(code_from(4_293_999_999).as_deref(), Some("999999"));
        assert_eq!(code_from(4_294_000_000), None);
        assert_eq!(code_from(u32::MAX), None);
    }

    #[test]
    fn code_hashes_bind_the_row() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(code_hash(a, "123456"), code_hash(a, "123456"));
        assert_ne!(code_hash(a, "123456"), code_hash(b, "123456"));
        assert_ne!(code_hash(a, "123456"), code_hash(a, "123457"));
    }

    #[test]
    fn only_six_ascii_digits_are_codes() {
        assert!(well_formed("012345"));
        assert!(!well_formed("12345"));
        assert!(!well_formed("1234567"));
        assert!(!well_formed("12345a"));
        assert!(!well_formed("١٢٣٤٥٦"));
        assert!(!well_formed(""));
    }

    #[test]
    fn the_fifth_wrong_guess_kills_the_code() {
        assert!(!dies_on_wrong_guess(0, 5));
        assert!(!dies_on_wrong_guess(3, 5));
        assert!(dies_on_wrong_guess(4, 5));
        assert!(dies_on_wrong_guess(9, 5));
    }

    #[test]
    fn addresses_are_normalised_per_channel() {
        assert_eq!(
            Channel::Sms.address("+49 151 1234-5678").unwrap(),
            "+4915112345678"
        );
        assert!(Channel::Sms.address("0151 1234 5678").is_err());
        assert_eq!(Channel::Email.address(" Ann@X.io ").unwrap(), "ann@x.io");
        assert!(Channel::Email.address("ann").is_err());
        assert_ne!(
            send_lock(Channel::Email, "a@b.co"),
            send_lock(Channel::Sms, "a@b.co")
        );
    }

    #[test]
    fn reauthentication_codes_go_to_the_primary_channel() {
        let t = reauthentication_target;
        assert_eq!(
            t(Some("phone"), Some("a@b.co"), Some("+4915112345678")),
            Some((Channel::Sms, "+4915112345678".into()))
        );
        assert_eq!(
            t(Some("email"), Some("a@b.co"), Some("+4915112345678")),
            Some((Channel::Email, "a@b.co".into()))
        );
        // A phone primary without a stored phone falls back to the email.
        assert_eq!(
            t(Some("phone"), Some("a@b.co"), None),
            Some((Channel::Email, "a@b.co".into()))
        );
        assert_eq!(
            t(Some("google"), None, Some("+4915112345678")),
            Some((Channel::Sms, "+4915112345678".into()))
        );
        assert_eq!(t(Some("telegram"), None, None), None);
        assert_eq!(t(None, None, None), None);
    }
}
