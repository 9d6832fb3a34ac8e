//! Auth's own configuration (beyond `CommonConfig`): providers, notifier, key rotation, limits.

use std::time::Duration;

use stride_kit::config::{Env, Secret};

pub use crate::domain::limits::Limits;

#[derive(Clone, Debug)]
pub struct Settings {
    /// `smtp://`, `smtps://`, `smtp+starttls://` or `log:` (see stride-notify); may carry the
    /// SMTP password.
    pub mail_url: Secret,
    pub mail_from: String,
    /// Dev sink `http://…/sms` or `log:` (a provider URL may carry a key).
    pub sms_url: Secret,
    /// Link put in reset mails; the token is appended.
    pub reset_url: String,
    pub google_client_ids: Vec<String>,
    pub google_jwks_url: Option<String>,
    pub facebook_client_ids: Vec<String>,
    pub facebook_jwks_url: Option<String>,
    pub telegram_bot_token: Option<Secret>,
    pub telegram_max_age: Duration,
    /// The signing key is replaced when it is this old.
    pub key_rotation: time::Duration,
    /// Password sign-ups confirm the email (by code) before the account exists for anyone, so
    /// Signup answers the same for taken and free addresses. Off: tokens at once, and a taken
    /// email is ALREADY_EXISTS (for closed betas, tests and benchmarks).
    pub signup_confirmation: bool,
    pub limits: Limits,
    /// Telegram Mini Apps, Facebook access tokens, Google's web flow.
    pub signins: crate::signins::SignInSettings,
    /// Twilio's Messages API for SMS (`AUTH_TWILIO_*`); None = `sms_url`.
    pub twilio: Option<stride_notify::TwilioConfig>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mail_url: "log:".into(),
            mail_from: "Stride <no-reply@stride.local>".into(),
            sms_url: "log:".into(),
            reset_url: "http://localhost:3000/reset-password?token=".into(),
            google_client_ids: Vec::new(),
            google_jwks_url: None,
            facebook_client_ids: Vec::new(),
            facebook_jwks_url: None,
            telegram_bot_token: None,
            telegram_max_age: Duration::from_secs(300),
            key_rotation: time::Duration::days(30),
            signup_confirmation: true,
            limits: Limits::default(),
            signins: Default::default(),
            twilio: None,
        }
    }
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        let d = Settings::default();
        let rotation_days: i64 = env.parse_or("AUTH_KEY_ROTATION_DAYS", 30);
        if rotation_days < 1 {
            env.error("AUTH_KEY_ROTATION_DAYS must be at least 1");
        }
        let telegram_max_age: u64 = env.parse_or("AUTH_TELEGRAM_MAX_AGE_SECONDS", 300);
        // An address that codes can reach must not make an admin (H2): admins are made by the
        // operator command `stride-auth admin grant`. A leftover setting is refused, not ignored.
        if env.optional("AUTH_ADMIN_EMAILS").is_some() {
            env.error(
                "AUTH_ADMIN_EMAILS was removed: make admins with `stride-auth admin grant <user-id|email>`",
            );
        }
        Self {
            mail_url: env
                .optional("AUTH_SMTP_URL")
                .map(Secret::from)
                .unwrap_or(d.mail_url),
            mail_from: env.optional("AUTH_MAIL_FROM").unwrap_or(d.mail_from),
            sms_url: env
                .optional("AUTH_SMS_URL")
                .map(Secret::from)
                .unwrap_or(d.sms_url),
            reset_url: env.optional("AUTH_RESET_URL").unwrap_or(d.reset_url),
            google_client_ids: list(env.optional("AUTH_GOOGLE_CLIENT_IDS")),
            google_jwks_url: env.optional("AUTH_GOOGLE_JWKS_URL"),
            facebook_client_ids: list(env.optional("AUTH_FACEBOOK_CLIENT_IDS")),
            facebook_jwks_url: env.optional("AUTH_FACEBOOK_JWKS_URL"),
            telegram_bot_token: env.optional("AUTH_TELEGRAM_BOT_TOKEN").map(Secret::from),
            telegram_max_age: Duration::from_secs(telegram_max_age),
            key_rotation: time::Duration::days(rotation_days.max(1)),
            signup_confirmation: env.parse_or("AUTH_SIGNUP_CONFIRMATION", true),
            limits: Limits::default(),
            signins: crate::signins::SignInSettings::read(env),
            twilio: crate::sms_provider::read_twilio(env),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn telegram_payloads_are_accepted_for_five_minutes_by_default() {
        // L3: a Login Widget payload is replayable for as long as it is accepted.
        assert_eq!(
            super::Settings::default().telegram_max_age,
            std::time::Duration::from_secs(300)
        );
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        assert_eq!(list(None), Vec::<String>::new());
        assert_eq!(list(Some(String::new())), Vec::<String>::new());
        assert_eq!(list(Some(" a , b,,c ".into())), ["a", "b", "c"]);
    }
}
