//! Sign-in identities: an email address, a phone number, or an external provider's subject.

use uuid::Uuid;

use super::codes::Channel;

pub const EMAIL: &str = "email";
pub const PHONE: &str = "phone";
pub const GOOGLE: &str = "google";
pub const FACEBOOK: &str = "facebook";
pub const TELEGRAM: &str = "telegram";

/// What an external provider vouched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub provider: &'static str,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// An identity about to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIdentity {
    pub provider: &'static str,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

impl NewIdentity {
    pub fn email(address: &str, verified: bool) -> Self {
        Self {
            provider: EMAIL,
            subject: address.to_owned(),
            email: Some(address.to_owned()),
            email_verified: verified,
        }
    }

    pub fn phone(number: &str) -> Self {
        Self {
            provider: PHONE,
            subject: number.to_owned(),
            email: None,
            email_verified: false,
        }
    }

    /// The identity of an address a code just reached (an email is thereby verified).
    pub fn proved(channel: Channel, address: &str) -> Self {
        match channel {
            Channel::Email => Self::email(address, true),
            Channel::Sms => Self::phone(address),
        }
    }

    /// The account address this identity is (an email or a phone), if any.
    pub fn address(&self) -> Option<Channel> {
        address_channel(self.provider)
    }
}

impl From<ExternalIdentity> for NewIdentity {
    fn from(e: ExternalIdentity) -> Self {
        Self {
            provider: e.provider,
            subject: e.subject,
            email: e.email,
            email_verified: e.email_verified,
        }
    }
}

/// The provider name an address of `channel` is stored under.
pub fn provider_of_channel(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => EMAIL,
        Channel::Sms => PHONE,
    }
}

/// Providers whose subject is also an account address (users.email / users.phone).
pub fn address_channel(provider: &str) -> Option<Channel> {
    match provider {
        EMAIL => Some(Channel::Email),
        PHONE => Some(Channel::Sms),
        _ => None,
    }
}

/// A provider's verified email links to an existing account only when exactly one account has
/// that email verified.
pub fn sole_match(accounts: &[Uuid]) -> Option<Uuid> {
    match accounts {
        [only] => Some(*only),
        _ => None,
    }
}

/// Why an identity cannot be unlinked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlinkRefusal {
    /// Not one of the caller's identities.
    NotFound,
    /// The last way to sign in.
    LastIdentity,
}

/// Checks unlinking `id` from an account whose identities are `(id, is_primary)`, oldest first.
/// On success, returns the identity that becomes primary in its place (when it was primary).
pub fn plan_unlink(identities: &[(Uuid, bool)], id: Uuid) -> Result<Option<Uuid>, UnlinkRefusal> {
    let Some(&(_, primary)) = identities.iter().find(|(i, _)| *i == id) else {
        return Err(UnlinkRefusal::NotFound);
    };
    if identities.len() <= 1 {
        return Err(UnlinkRefusal::LastIdentity);
    }
    Ok(primary
        .then(|| identities.iter().map(|(i, _)| *i).find(|i| *i != id))
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proved_addresses_become_identities() {
        let e = NewIdentity::proved(Channel::Email, "a@b.co");
        assert_eq!(e, NewIdentity::email("a@b.co", true));
        assert_eq!(e.address(), Some(Channel::Email));
        let p = NewIdentity::proved(Channel::Sms, "+4915112345678");
        assert_eq!(p.provider, PHONE);
        assert_eq!(p.email, None);
        assert!(!p.email_verified);
        assert_eq!(p.address(), Some(Channel::Sms));
        assert_eq!(provider_of_channel(Channel::Sms), PHONE);
    }

    #[test]
    fn external_identities_keep_what_the_provider_said() {
        let ext = ExternalIdentity {
            provider: GOOGLE,
            subject: "1234".into(),
            email: Some("a@b.co".into()),
            email_verified: false,
        };
        let n = NewIdentity::from(ext);
        assert_eq!(n.provider, GOOGLE);
        assert_eq!(n.subject, "1234");
        assert_eq!(n.email.as_deref(), Some("a@b.co"));
        assert!(!n.email_verified);
        // An external subject is never an account address.
        assert_eq!(n.address(), None);
        assert_eq!(address_channel(TELEGRAM), None);
    }

    #[test]
    fn only_a_single_verified_match_links() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(sole_match(&[]), None);
        assert_eq!(sole_match(&[a]), Some(a));
        assert_eq!(sole_match(&[a, b]), None);
    }

    #[test]
    fn the_last_identity_stays_and_a_primary_is_replaced() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            plan_unlink(&[(a, true)], a),
            Err(UnlinkRefusal::LastIdentity)
        );
        assert_eq!(plan_unlink(&[(a, true)], b), Err(UnlinkRefusal::NotFound));
        assert_eq!(plan_unlink(&[], a), Err(UnlinkRefusal::NotFound));
        // The oldest other identity takes over as primary.
        assert_eq!(
            plan_unlink(&[(a, true), (b, false), (c, false)], a),
            Ok(Some(b))
        );
        assert_eq!(
            plan_unlink(&[(a, false), (b, true), (c, false)], b),
            Ok(Some(a))
        );
        // Removing a secondary one changes nothing else.
        assert_eq!(plan_unlink(&[(a, true), (b, false)], b), Ok(None));
    }
}
