//! Which SMS sender auth uses: Twilio when `AUTH_TWILIO_ACCOUNT_SID` is set, otherwise the one
//! `AUTH_SMS_URL` names (the dev sink or `log:`). Setting both is a configuration error.

use std::sync::Arc;

use stride_kit::config::Env;
use stride_notify::{SmsSender, TWILIO_BASE_URL, TwilioConfig, TwilioSms};

use crate::settings::Settings;

/// Reads `AUTH_TWILIO_*`: None when the account SID is unset; all of SID, token and sender are
/// required once it is set.
pub fn read_twilio(env: &mut Env) -> Option<TwilioConfig> {
    let account_sid = env.optional("AUTH_TWILIO_ACCOUNT_SID")?;
    let auth_token = env.required(
        "AUTH_TWILIO_AUTH_TOKEN",
        "Twilio's auth token (or API key secret)",
    );
    let from = env.required(
        "AUTH_TWILIO_FROM",
        "the sender: an E.164 number or a Messaging Service id (MG…)",
    );
    let base_url = env
        .optional("AUTH_TWILIO_BASE_URL")
        .unwrap_or_else(|| TWILIO_BASE_URL.to_owned());
    if env.optional("AUTH_SMS_URL").is_some() {
        env.error("set either AUTH_TWILIO_ACCOUNT_SID (Twilio) or AUTH_SMS_URL, not both");
    }
    let config = TwilioConfig {
        account_sid,
        auth_token,
        from,
        base_url,
    };
    // Shape errors (SID, URL) at start, not at the first code.
    if let Err(e) = TwilioSms::new(config.clone()) {
        env.error(format!("AUTH_TWILIO_*: {e:#}"));
    }
    Some(config)
}

/// The SMS sender the settings ask for.
pub fn sender(settings: &Settings) -> anyhow::Result<Arc<dyn SmsSender>> {
    match &settings.twilio {
        Some(config) => Ok(Arc::new(TwilioSms::new(config.clone())?)),
        None => stride_notify::sms_from_url(settings.sms_url.expose()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |name| map.get(name).cloned())
    }

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn twilio_is_off_without_a_sid_and_complete_with_one() {
        let mut e = env(&[]);
        assert!(read_twilio(&mut e).is_none());
        assert!(e.finish().is_ok());

        let mut e = env(&[
            ("AUTH_TWILIO_ACCOUNT_SID", SID),
            ("AUTH_TWILIO_AUTH_TOKEN", "t"),
            ("AUTH_TWILIO_FROM", "+15005550006"),
        ]);
        let c = read_twilio(&mut e).unwrap();
        assert_eq!(c.base_url, "https://api.twilio.com");
        assert!(e.finish().is_ok());
    }

    #[test]
    fn incomplete_or_conflicting_twilio_settings_fail_at_start() {
        let cases: [&[(&str, &str)]; 3] = [
            &[("AUTH_TWILIO_ACCOUNT_SID", SID), ("AUTH_TWILIO_FROM", "+1")],
            &[
                ("AUTH_TWILIO_ACCOUNT_SID", "not-a-sid"),
                ("AUTH_TWILIO_AUTH_TOKEN", "t"),
                ("AUTH_TWILIO_FROM", "+1"),
            ],
            &[
                ("AUTH_TWILIO_ACCOUNT_SID", SID),
                ("AUTH_TWILIO_AUTH_TOKEN", "t"),
                ("AUTH_TWILIO_FROM", "+1"),
                ("AUTH_SMS_URL", "log:"),
            ],
        ];
        for vars in cases {
            let mut e = env(vars);
            read_twilio(&mut e);
            assert!(e.finish().is_err(), "{vars:?}");
        }
    }
}
