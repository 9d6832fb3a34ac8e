//! The SMS port: [`SmsSender`]. This module ships the dev-sink client and a log-only sender;
//! the real provider is Twilio (`crate::TwilioSms`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::url;

/// Bound on one whole HTTP exchange with the SMS endpoint.
pub const SMS_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One text message.
#[derive(Clone, PartialEq, Eq)]
pub struct Sms {
    /// E.164 number, e.g. `+4915112345678` (not validated here; that is the caller's rule).
    pub to: String,
    pub text: String,
}

// Texts carry one-time codes: keep them out of `{:?}`.
impl fmt::Debug for Sms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sms")
            .field("to", &self.to)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// Where outgoing SMS go. Implementations must not log the text.
pub trait SmsSender: Send + Sync + 'static {
    fn send(&self, sms: Sms) -> BoxFuture<'static, Result<()>>;
}

/// Builds the sender named by `url`: `http://host:port/path` posts JSON `{to, text}` there (the
/// dev sink's `/sms`); `log:` logs the recipient and drops the text. An empty URL is an error
/// (no silent default), like [`crate::mailer_from_url`].
pub fn sms_from_url(url: &str) -> Result<Arc<dyn SmsSender>> {
    let url = url.trim();
    if url.is_empty() {
        bail!("SMS URL is empty: set http://<dev sink>/sms or log:");
    }
    if url.eq_ignore_ascii_case("log:") {
        return Ok(Arc::new(LogSms));
    }
    Ok(Arc::new(DevSinkSms::new(url)?))
}

/// Posts `{"to": .., "text": ..}` as JSON to a dev-sink URL over plain HTTP/1.1.
#[derive(Clone)]
pub struct DevSinkSms {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    /// `http://host:port`, for errors.
    endpoint: Arc<str>,
}

impl fmt::Debug for DevSinkSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevSinkSms")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl DevSinkSms {
    pub fn new(url: &str) -> Result<DevSinkSms> {
        let ep = url::parse(url).context("bad SMS URL")?;
        match ep.scheme.as_str() {
            "http" => {}
            "https" => bail!(
                "bad SMS URL: https is for real providers, which need their own SmsSender; the dev sink speaks http://"
            ),
            other => bail!("bad SMS URL: unsupported scheme {other:?} (use http:// or log:)"),
        }
        if ep.user.is_some() {
            bail!("bad SMS URL: credentials in the URL are not supported");
        }
        let uri: Uri = url
            .trim()
            .parse()
            .context("bad SMS URL: not a valid HTTP URI")?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(SMS_HTTP_TIMEOUT));
        Ok(DevSinkSms {
            client: Client::builder(TokioExecutor::new()).build(connector),
            uri,
            endpoint: ep.redacted(80).into(),
        })
    }
}

impl SmsSender for DevSinkSms {
    fn send(&self, sms: Sms) -> BoxFuture<'static, Result<()>> {
        let client = self.client.clone();
        let uri = self.uri.clone();
        let endpoint = self.endpoint.clone();
        async move {
            let body = serde_json::to_vec(&serde_json::json!({ "to": sms.to, "text": sms.text }))?;
            let request = Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body)))?;
            let exchange = async {
                let response = client.request(request).await?;
                let status = response.status();
                // Only for the error message; a sink answer is tiny.
                let body = Limited::new(response.into_body(), 4096)
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                anyhow::Ok((status, body))
            };
            let (status, body) = tokio::time::timeout(SMS_HTTP_TIMEOUT, exchange)
                .await
                .with_context(|| {
                    format!("sending SMS via {endpoint}: no answer within {SMS_HTTP_TIMEOUT:?}")
                })?
                .with_context(|| format!("sending SMS via {endpoint}"))?;
            if !status.is_success() {
                bail!(
                    "sending SMS via {endpoint}: HTTP {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                );
            }
            tracing::debug!(to = %sms.to, via = %endpoint, "sms sent");
            Ok(())
        }
        .boxed()
    }
}

/// Logs the recipient at info and drops the text. Only when configured explicitly with `log:`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSms;

impl SmsSender for LogSms {
    fn send(&self, sms: Sms) -> BoxFuture<'static, Result<()>> {
        tracing::info!(to = %sms.to, "sms not sent (log: sender)");
        futures::future::ready(Ok(())).boxed()
    }
}
