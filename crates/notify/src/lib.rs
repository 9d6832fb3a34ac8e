//! Outgoing messages for Stride: the mail port ([`Mailer`], SMTP through lettre) and the SMS port
//! ([`SmsSender`], with Twilio as the real provider: [`TwilioSms`]), which the auth service uses for one-time codes, password-reset links and
//! security notices, plus the [`DevSink`] that catches both in tests and in `cargo xtask up`.
//!
//! Configuration is by URL ([`mailer_from_url`], [`sms_from_url`]). There is no implicit
//! default: an empty URL is an error, and the log-only senders must be asked for with `log:`,
//! so a misconfigured deployment fails at start instead of silently dropping codes. Nothing here
//! logs a message body or SMS text (they carry codes), except the dev sink, whose purpose is
//! to show them.

mod mail;
pub mod sink;
mod sms;
mod twilio;
mod url;

pub use mail::{
    LogMailer, Mail, Mailer, SMTP_COMMAND_TIMEOUT, SMTP_SEND_TIMEOUT, SmtpMailer, mailer_from_url,
    valid_address,
};
pub use sink::{DevSink, SinkEvent, StoredMail, StoredSms};
pub use sms::{DevSinkSms, LogSms, SMS_HTTP_TIMEOUT, Sms, SmsSender, sms_from_url};
pub use twilio::{TWILIO_BASE_URL, TwilioConfig, TwilioError, TwilioSms};
