//! A real SMS provider behind [`SmsSender`]: Twilio's Programmable Messaging API.
//!
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth
//! (AccountSid : AuthToken), form-encoded `To`, `From` (or `MessagingServiceSid` when the
//! sender is a Messaging Service `MG…` id) and `Body`. Twilio answers `201 Created` with the
//! message resource (`sid`, `status`: `queued`/`accepted`…) or an error object
//! `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`, which comes back as
//! a [`TwilioError`] inside the `anyhow::Error` (downcast it to read Twilio's code).
//! (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>)
//!
//! The base URL is configurable (tests point it at a stand-in): https, or http only to a
//! loopback address. The auth token and the text never reach `Debug` or the logs.

use std::fmt;

use anyhow::{Context, Result, bail};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::sms::{SMS_HTTP_TIMEOUT, Sms, SmsSender};

/// Twilio's production API.
pub const TWILIO_BASE_URL: &str = "https://api.twilio.com";
/// Longest SMS body we hand Twilio (its own limit is 1,600 characters).
const MAX_BODY_CHARS: usize = 1600;

/// Where and as whom to send.
#[derive(Clone)]
pub struct TwilioConfig {
    /// `AC…`
    pub account_sid: String,
    pub auth_token: String,
    /// An E.164 sender number, or a Messaging Service id (`MG…`).
    pub from: String,
    /// `https://api.twilio.com` in production.
    pub base_url: String,
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Twilio refused the message (or answered something that is not a message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Twilio answered HTTP {status}: error {code:?}: {message}")]
pub struct TwilioError {
    /// The HTTP status.
    pub status: u16,
    /// Twilio's error code (21211 invalid `To`, 21408 region not enabled, 21610 unsubscribed,
    /// 20003 bad credentials, 20429 too many requests...), when the body carried one.
    pub code: Option<i64>,
    pub message: String,
}

/// Sends through Twilio's Messages API with reqwest.
#[derive(Clone)]
pub struct TwilioSms {
    http: reqwest::Client,
    messages_url: reqwest::Url,
    config: TwilioConfig,
}

impl fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSms")
            .field("messages_url", &self.messages_url.as_str())
            .field("from", &self.config.from)
            .finish_non_exhaustive()
    }
}

fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl TwilioSms {
    pub fn new(config: TwilioConfig) -> Result<Self> {
        let sid = config.account_sid.trim();
        if !(sid.len() == 34
            && sid.starts_with("AC")
            && sid.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            bail!("Twilio account SID must be AC followed by 32 letters or digits");
        }
        if config.auth_token.trim().is_empty() {
            bail!("Twilio auth token is empty");
        }
        if config.from.trim().is_empty() {
            bail!("Twilio sender (From number or MG… Messaging Service id) is empty");
        }
        let base = reqwest::Url::parse(config.base_url.trim())
            .map_err(|e| anyhow::anyhow!("bad Twilio base URL: {e}"))?;
        match base.scheme() {
            "https" => {}
            "http" if loopback(base.host_str().unwrap_or_default()) => {}
            _ => bail!("Twilio base URL must be https (http only to a loopback address)"),
        }
        if !base.username().is_empty() || base.password().is_some() {
            bail!("Twilio base URL must not carry credentials");
        }
        let messages_url = base
            .join(&format!("/2010-04-01/Accounts/{sid}/Messages.json"))
            .context("bad Twilio base URL")?;
        let http = reqwest::Client::builder()
            .timeout(SMS_HTTP_TIMEOUT)
            .connect_timeout(SMS_HTTP_TIMEOUT)
            .build()
            .context("building the Twilio HTTP client")?;
        Ok(Self {
            http,
            messages_url,
            config: TwilioConfig {
                account_sid: sid.to_owned(),
                ..config
            },
        })
    }

    /// The form Twilio expects for `sms`.
    fn form(&self, sms: &Sms) -> String {
        let from = self.config.from.trim();
        let from_key = if from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let body: String = sms.text.chars().take(MAX_BODY_CHARS).collect();
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &sms.to)
            .append_pair(from_key, from)
            .append_pair("Body", &body)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct MessageReply {
    sid: Option<String>,
    status: Option<String>,
}

#[derive(serde::Deserialize)]
struct ErrorReply {
    code: Option<i64>,
    message: Option<String>,
}

impl SmsSender for TwilioSms {
    fn send(&self, sms: Sms) -> BoxFuture<'static, Result<()>> {
        let request = self
            .http
            .post(self.messages_url.clone())
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(self.form(&sms));
        async move {
            let response = request
                .send()
                .await
                .map_err(reqwest::Error::without_url)
                .context("sending SMS via Twilio")?;
            let status = response.status();
            // Message resources and errors are small; anything bigger is not Twilio.
            let bytes = response
                .bytes()
                .await
                .map_err(reqwest::Error::without_url)
                .context("reading Twilio's answer")?;
            if status.is_success() {
                let reply: MessageReply = serde_json::from_slice(&bytes).map_err(|_| TwilioError {
                    status: status.as_u16(),
                    code: None,
                    message: "the answer is not a message resource".into(),
                })?;
                let Some(sid) = reply.sid.filter(|s| !s.is_empty()) else {
                    return Err(TwilioError {
                        status: status.as_u16(),
                        code: None,
                        message: "the answer has no message sid".into(),
                    }
                    .into());
                };
                tracing::debug!(to = %sms.to, %sid, status = reply.status.as_deref().unwrap_or(""), "sms accepted by Twilio");
                return Ok(());
            }
            let reply: Option<ErrorReply> = serde_json::from_slice(&bytes).ok();
            let (code, message) = match reply {
                Some(r) => (r.code, r.message.unwrap_or_default()),
                None => (None, String::new()),
            };
            let message = if message.is_empty() {
                String::from_utf8_lossy(bytes.get(..200).unwrap_or(&bytes)).trim().to_owned()
            } else {
                message
            };
            Err(TwilioError {
                status: status.as_u16(),
                code,
                message,
            }
            .into())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TwilioConfig {
        TwilioConfig {
            account_sid: format!("AC{}", "a1".repeat(16)),
            auth_token: "secret-token".into(),
            from: "+15005550006".into(),
            base_url: TWILIO_BASE_URL.into(),
        }
    }

    #[test]
    fn builds_the_messages_url_and_form() {
        let t = TwilioSms::new(config()).unwrap();
        assert_eq!(
            t.messages_url.as_str(),
            format!(
                "https://api.twilio.com/2010-04-01/Accounts/AC{}/Messages.json",
                "a1".repeat(16)
            )
        );
        let form = t.form(&Sms {
            to: "+4915112345678".into(),
            text: "Your code: 123456 & more".into(),
        });
        assert_eq!(
            form,
            "To=%2B4915112345678&From=%2B15005550006&Body=Your+code%3A+123456+%26+more"
        );
        let service = TwilioSms::new(TwilioConfig {
            from: "MG0123".into(),
            ..config()
        })
        .unwrap();
        assert!(
            service
                .form(&Sms {
                    to: "+1".into(),
                    text: "x".into()
                })
                .contains("MessagingServiceSid=MG0123")
        );
        let shown = format!("{t:?} {:?}", config());
        assert!(!shown.contains("secret-token"), "{shown}");
    }

    #[test]
    fn refuses_bad_configuration() {
        let bad = [
            TwilioConfig {
                account_sid: "AC123".into(),
                ..config()
            },
            TwilioConfig {
                auth_token: " ".into(),
                ..config()
            },
            TwilioConfig {
                from: String::new(),
                ..config()
            },
            TwilioConfig {
                base_url: "http://api.twilio.com".into(),
                ..config()
            },
            TwilioConfig {
                base_url: "https://user:pw@api.twilio.com".into(),
                ..config()
            },
        ];
        for c in bad {
            assert!(TwilioSms::new(c.clone()).is_err(), "{c:?}");
        }
        assert!(
            TwilioSms::new(TwilioConfig {
                base_url: "http://127.0.0.1:9".into(),
                ..config()
            })
            .is_ok()
        );
    }
}
