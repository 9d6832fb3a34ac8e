//! The mail port and its implementations.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::FutureExt;
use futures::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::url;

/// Bound on each SMTP command round trip (connect, EHLO, MAIL, ..., end of DATA).
pub const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one whole `send`, so a slow-dripping server cannot hold a caller for minutes.
pub const SMTP_SEND_TIMEOUT: Duration = Duration::from_secs(30);

const MAX_SUBJECT_CHARS: usize = 998;

/// One plain-text message to one recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// `addr@example.com` or `Name <addr@example.com>`.
    pub to: String,
    pub subject: String,
    /// text/plain, UTF-8.
    pub text: String,
}

// Bodies carry one-time codes and reset links: keep them out of `{:?}` in logs and panics.
impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// Where outgoing mail goes. Implementations must not log message bodies.
pub trait Mailer: Send + Sync + 'static {
    fn send(&self, mail: Mail) -> BoxFuture<'static, Result<()>>;
}

/// Builds the mailer named by `url`:
/// - `smtp://host[:port]` plain SMTP (default port 25), for local sinks only;
/// - `smtp+starttls://host[:port]` STARTTLS required (default 587);
/// - `smtps://host[:port]` implicit TLS (default 465);
/// - `log:` logs recipient and subject and drops the message.
///
/// SMTP URLs may carry `user:pass@` (percent-encoded). `from` is the sender mailbox, e.g.
/// `Stride <no-reply@stride.local>`. There is deliberately no default: an empty URL is an error,
/// so a service that forgot its configuration fails at start instead of silently dropping codes;
/// `log:` is the explicit opt-out.
pub fn mailer_from_url(url: &str, from: &str) -> Result<Arc<dyn Mailer>> {
    let url = url.trim();
    if url.is_empty() {
        bail!("mail URL is empty: set smtp://, smtp+starttls://, smtps:// or log:");
    }
    if url.eq_ignore_ascii_case("log:") {
        // Checked anyway, so a bad From fails in development too, not first in production.
        parse_from(from)?;
        return Ok(Arc::new(LogMailer));
    }
    Ok(Arc::new(SmtpMailer::from_url(url, from)?))
}

/// Whether `s` is a bare mail address (`user@domain`, no display name, no surrounding whitespace)
/// that lettre accepts, both as an [`Address`] and as the recipient [`SmtpMailer`] builds a message
/// for. lettre's `Address` alone also takes quoted local parts (`"a b"@x.y`) and IP literals
/// (`a@[127.0.0.1]`), which its message builder then refuses; those are refused here too, so an
/// address that passes can be mailed. Non-ASCII addresses pass; sending to them needs a server
/// with SMTPUTF8.
pub fn valid_address(s: &str) -> bool {
    s.parse::<Address>().is_ok()
        && s.parse::<Mailbox>()
            .is_ok_and(|m| m.name.is_none() && AsRef::<str>::as_ref(&m.email) == s)
}

fn parse_from(from: &str) -> Result<Mailbox> {
    from.trim()
        .parse()
        .with_context(|| format!("bad mail From address {from:?}"))
}

/// Sends through an SMTP server with lettre (connection pool, rustls on aws-lc-rs).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `scheme://host:port`, no credentials: for errors and logs.
    endpoint: Arc<str>,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl SmtpMailer {
    /// See [`mailer_from_url`] for the accepted URLs.
    pub fn from_url(url: &str, from: &str) -> Result<SmtpMailer> {
        // Never echo the URL itself: it may hold a password.
        let ep = url::parse(url).context("bad mail URL")?;
        let from = parse_from(from)?;
        if !ep.rest.is_empty() && ep.rest != "/" {
            bail!("bad mail URL: unexpected path or query after the host");
        }
        let (default_port, tls) = match ep.scheme.as_str() {
            "smtp" => (25, None),
            "smtp+starttls" => (587, Some(true)),
            "smtps" => (465, Some(false)),
            other => bail!(
                "bad mail URL: unsupported scheme {other:?} (use smtp://, smtp+starttls://, smtps:// or log:)"
            ),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ep.host.as_str())
            .port(ep.port.unwrap_or(default_port))
            .timeout(Some(SMTP_COMMAND_TIMEOUT));
        if let Some(starttls) = tls {
            let params = TlsParameters::new(ep.host.clone())
                .context("setting up TLS for the mail server")?;
            builder = builder.tls(if starttls {
                Tls::Required(params)
            } else {
                Tls::Wrapper(params)
            });
        }
        if let Some(user) = &ep.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                ep.pass.clone().unwrap_or_default(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            endpoint: ep.redacted(default_port).into(),
        })
    }

    fn message(&self, mail: &Mail) -> Result<Message> {
        let to: Mailbox = mail
            .to
            .trim()
            .parse()
            .with_context(|| format!("bad recipient address {:?}", mail.to))?;
        if mail.subject.contains(['\r', '\n']) {
            bail!("mail subject contains a line break");
        }
        if mail.subject.chars().count() > MAX_SUBJECT_CHARS {
            bail!("mail subject is longer than {MAX_SUBJECT_CHARS} characters");
        }
        // lettre picks 7bit, quoted-printable or base64 for the body and RFC 2047 for the subject.
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .context("building the mail message")
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'static, Result<()>> {
        let built = self.message(&mail);
        let transport = self.transport.clone();
        let endpoint = self.endpoint.clone();
        async move {
            let message = built?;
            let sent = tokio::time::timeout(SMTP_SEND_TIMEOUT, transport.send(message))
                .await
                .with_context(|| {
                    format!("sending mail via {endpoint}: no answer within {SMTP_SEND_TIMEOUT:?}")
                })?;
            sent.with_context(|| format!("sending mail via {endpoint}"))?;
            tracing::debug!(to = %mail.to, subject = %mail.subject, via = %endpoint, "mail sent");
            Ok(())
        }
        .boxed()
    }
}

/// Logs recipient and subject at info and drops the message (never the body: it carries codes).
/// Only when configured explicitly with `log:`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'static, Result<()>> {
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail not sent (log: mailer)");
        futures::future::ready(Ok(())).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_body() {
        let mail = Mail {
            to: "a@b.c".into(),
            subject: "Code".into(),
            text: "123456".into(),
        };
        let shown = format!("{mail:?}");
        assert!(!shown.contains("123456"), "{shown}");
        assert!(shown.contains("a@b.c"));
    }

    #[test]
    fn valid_addresses() {
        for good in [
            "a@b.c",
            "first.last+tag@example.com",
            "a@localhost",
            "grüße@bücher.de",
        ] {
            assert!(valid_address(good), "{good:?} should pass");
        }
        for bad in [
            "a<b@x.y",
            "a\u{1}b@x.y",
            "a\u{7f}b@x.y",
            "a@b.c\0",
            "a\tb@x.y",
            "a@b.c\r\n",
            "a b@c.d",
            "\"a b\"@x.y",
            "a@[127.0.0.1]",
            "Name <a@b.c>",
            "<a@b.c>",
            " a@b.c",
            "a@b.c,d@e.f",
            "a..b@c.d",
            "a@-b.c",
            "@b.c",
            "a@",
            "a",
            "",
        ] {
            assert!(!valid_address(bad), "{bad:?} should be refused");
        }
    }

    // The lettre pool needs a runtime even when nothing is sent.
    #[tokio::test]
    async fn a_valid_address_can_be_mailed() {
        let mailer = SmtpMailer::from_url("smtp://127.0.0.1:2525", "a@b.c").unwrap();
        for to in ["a@b.c", "first.last+tag@example.com", "grüße@bücher.de"] {
            assert!(valid_address(to));
            let mail = Mail {
                to: to.into(),
                subject: "s".into(),
                text: "t".into(),
            };
            mailer.message(&mail).unwrap();
        }
    }

    #[tokio::test]
    async fn bracketed_ipv6_mail_url() {
        let mailer = SmtpMailer::from_url("smtp://[::1]:25", "a@b.c").unwrap();
        assert_eq!(&*mailer.endpoint, "smtp://[::1]:25");
        let mailer = SmtpMailer::from_url("smtps://u:p@[::1]", "a@b.c").unwrap();
        assert_eq!(&*mailer.endpoint, "smtps://[::1]:465");
    }

    #[test]
    fn error_does_not_echo_the_password() {
        let err = SmtpMailer::from_url("ftp://u:hunter2@host", "a@b.c").unwrap_err();
        let shown = format!("{err:#}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("unsupported scheme"), "{shown}");
        for bad in [
            "smtp://u:hunter2@host:25:26",
            "smtp://u:hunter2@::1:25",
            "smtp://u:hunter2@host:0",
            "smtp://u:hunter2@ho st",
            "smtp://u:hunter2@host/path",
        ] {
            let shown = format!("{:#}", SmtpMailer::from_url(bad, "a@b.c").unwrap_err());
            assert!(!shown.contains("hunter2"), "{bad}: {shown}");
            assert!(shown.contains("bad mail URL"), "{bad}: {shown}");
        }
    }
}
