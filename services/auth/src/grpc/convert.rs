//! Proto ⇄ domain and store mapping.

use stride_kit::{AppError, AppResult, convert::timestamp};
use stride_proto::auth as pb;
use uuid::Uuid;

use crate::{
    domain::{
        audit,
        codes::{Channel, Purpose},
        identity,
    },
    store::{audit::AuditRow, identities::IdentityRow, sessions::SessionRow, users::UserRow},
};

pub(super) fn user(u: &UserRow) -> pb::User {
    pb::User {
        id: u.id.to_string(),
        email: u.email.clone().unwrap_or_default(),
        username: u.username.clone().unwrap_or_default(),
        roles: u.roles.clone(),
        is_anonymous: u.is_anonymous,
        create_time: Some(timestamp(u.created_at)),
        email_verified: u.email_verified_at.is_some(),
        phone: u.phone.clone().unwrap_or_default(),
    }
}

pub(super) fn provider(name: &str) -> pb::Provider {
    match name {
        identity::EMAIL => pb::Provider::Email,
        identity::PHONE => pb::Provider::Phone,
        identity::GOOGLE => pb::Provider::Google,
        identity::FACEBOOK => pb::Provider::Facebook,
        identity::TELEGRAM => pb::Provider::Telegram,
        _ => pb::Provider::Unspecified,
    }
}

pub(super) fn identity(r: &IdentityRow) -> pb::Identity {
    pb::Identity {
        id: r.id.to_string(),
        provider: provider(&r.provider).into(),
        subject: r.subject.clone(),
        email: r.email.clone().unwrap_or_default(),
        email_verified: r.email_verified,
        primary: r.is_primary,
        create_time: Some(timestamp(r.created_at)),
        last_sign_in_time: r.last_used_at.map(timestamp),
    }
}

pub(super) fn session(r: &SessionRow, current: Option<Uuid>) -> pb::Session {
    pb::Session {
        id: r.family_id.to_string(),
        create_time: Some(timestamp(r.created)),
        last_use_time: Some(timestamp(r.last_used)),
        expire_time: Some(timestamp(r.expires)),
        current: current == Some(r.family_id),
    }
}

pub(super) fn audit_event(r: AuditRow) -> pb::AuditEvent {
    pb::AuditEvent {
        id: r.id.to_string(),
        details: audit::flatten_details(&r.details),
        kind: r.kind,
        client_ip: r.client_ip.unwrap_or_default(),
        user_agent: r.user_agent.unwrap_or_default(),
        create_time: Some(timestamp(r.created_at)),
    }
}

/// Validates and normalises an address for the requested channel.
pub(super) fn address(channel: i32, raw: &str) -> AppResult<(Channel, String)> {
    let channel = match pb::CodeChannel::try_from(channel) {
        Ok(pb::CodeChannel::Email) => Channel::Email,
        Ok(pb::CodeChannel::Sms) => Channel::Sms,
        _ => {
            return Err(AppError::invalid(
                "channel",
                "must be CODE_CHANNEL_EMAIL or CODE_CHANNEL_SMS",
            ));
        }
    };
    Ok((channel, channel.address(raw)?))
}

/// The purposes a client may ask a code for (None: unspecified).
pub(super) fn purpose(raw: i32) -> Option<Purpose> {
    match pb::CodePurpose::try_from(raw).unwrap_or(pb::CodePurpose::Unspecified) {
        pb::CodePurpose::SignIn => Some(Purpose::SignIn),
        pb::CodePurpose::Link => Some(Purpose::Link),
        pb::CodePurpose::Reauthenticate => Some(Purpose::Reauthenticate),
        pb::CodePurpose::VerifyEmail => Some(Purpose::VerifyEmail),
        pb::CodePurpose::Unspecified => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_known_channel() {
        assert_eq!(
            address(pb::CodeChannel::Sms as i32, "+49 151 1234-5678")
                .unwrap()
                .1,
            "+4915112345678"
        );
        assert_eq!(
            address(pb::CodeChannel::Email as i32, "A@B.co").unwrap(),
            (Channel::Email, "a@b.co".into())
        );
        assert!(address(0, "a@b.co").is_err());
        assert!(address(99, "a@b.co").is_err());
    }

    #[test]
    fn every_stored_provider_has_a_proto_name() {
        for name in [
            identity::EMAIL,
            identity::PHONE,
            identity::GOOGLE,
            identity::FACEBOOK,
            identity::TELEGRAM,
        ] {
            assert_ne!(provider(name), pb::Provider::Unspecified, "{name}");
        }
        assert_eq!(provider("myspace"), pb::Provider::Unspecified);
        assert_eq!(purpose(0), None);
        assert_eq!(
            purpose(pb::CodePurpose::SignIn as i32),
            Some(Purpose::SignIn)
        );
    }
}
