//! The dev sink: a real SMTP listener and an HTTP API that keep what they receive in memory,
//! for tests (in process) and for `cargo xtask up` (the `stride-devsink` binary).
//!
//! HTTP API (JSON, newest last):
//! - `GET /messages[?to=addr]`, `GET /messages/latest?to=addr` (404 when none), `DELETE /messages`
//! - `POST /sms` with `{"to": .., "text": ..}`, `GET /sms[?to=addr]`, `GET /sms/latest?to=addr`,
//!   `DELETE /sms`
//! - `GET /healthz`, `GET /readyz`

mod http;
pub(crate) mod mime;
pub(crate) mod smtp;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use smtp::{MAX_MESSAGE_BYTES, MAX_RECIPIENTS};

/// Mails kept; older ones are dropped first.
pub const MAX_STORED_MAILS: usize = 1000;
/// Bytes of mail kept (raw + decoded text), so 1000 large messages cannot exhaust memory.
pub const MAX_STORED_MAIL_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_STORED_SMS: usize = 1000;
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A mail as the sink received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMail {
    /// Increasing across mail and SMS, starting at 1.
    pub id: u64,
    /// The envelope sender (`MAIL FROM`), empty for the null sender.
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// Decoded `Subject` header.
    pub subject: String,
    /// The first text/plain part, transfer-decoded, line ends as `\n`.
    pub text: String,
    /// The message as received (dot-unstuffed, CRLF), lossily UTF-8.
    pub raw: String,
    /// RFC 3339, UTC.
    pub received_at: String,
}

/// An SMS as the sink received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredSms {
    pub id: u64,
    pub to: String,
    pub text: String,
    pub received_at: String,
}

/// What [`DevSink::subscribe`] delivers, one per stored message.
#[derive(Debug, Clone)]
pub enum SinkEvent {
    Mail(StoredMail),
    Sms(StoredSms),
}

pub(crate) struct Store {
    inner: Mutex<Inner>,
    changed: Notify,
    events: broadcast::Sender<SinkEvent>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    mails: VecDeque<StoredMail>,
    mail_bytes: usize,
    sms: VecDeque<StoredSms>,
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `Name <a@b>` → `a@b`; matching is case-insensitive, as mail systems treat addresses in practice.
fn bare_address(addr: &str) -> &str {
    let addr = addr.trim();
    match (addr.rfind('<'), addr.rfind('>')) {
        (Some(start), Some(end)) if start < end => &addr[start + 1..end],
        _ => addr,
    }
}

fn same_address(a: &str, b: &str) -> bool {
    bare_address(a).eq_ignore_ascii_case(bare_address(b))
}

impl Store {
    fn new() -> Store {
        Store {
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            events: broadcast::channel(256).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add_mail(&self, from: String, to: Vec<String>, raw: Vec<u8>) -> StoredMail {
        let parsed = mime::parse_message(&raw);
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let mail = {
            let mut inner = self.lock();
            inner.next_id += 1;
            let mail = StoredMail {
                id: inner.next_id,
                from,
                to,
                subject: parsed.subject,
                text: parsed.text,
                raw,
                received_at: now_rfc3339(),
            };
            inner.mail_bytes += mail_size(&mail);
            inner.mails.push_back(mail.clone());
            while inner.mails.len() > MAX_STORED_MAILS
                || (inner.mail_bytes > MAX_STORED_MAIL_BYTES && inner.mails.len() > 1)
            {
                if let Some(old) = inner.mails.pop_front() {
                    inner.mail_bytes -= mail_size(&old);
                }
            }
            mail
        };
        self.changed.notify_waiters();
        let _ = self.events.send(SinkEvent::Mail(mail.clone()));
        mail
    }

    pub(crate) fn add_sms(&self, to: String, text: String) -> StoredSms {
        let sms = {
            let mut inner = self.lock();
            inner.next_id += 1;
            let sms = StoredSms {
                id: inner.next_id,
                to,
                text,
                received_at: now_rfc3339(),
            };
            inner.sms.push_back(sms.clone());
            if inner.sms.len() > MAX_STORED_SMS {
                inner.sms.pop_front();
            }
            sms
        };
        self.changed.notify_waiters();
        let _ = self.events.send(SinkEvent::Sms(sms.clone()));
        sms
    }

    pub(crate) fn mails(&self, to: Option<&str>) -> Vec<StoredMail> {
        self.lock()
            .mails
            .iter()
            .filter(|m| to.is_none_or(|to| m.to.iter().any(|r| same_address(r, to))))
            .cloned()
            .collect()
    }

    pub(crate) fn sms(&self, to: Option<&str>) -> Vec<StoredSms> {
        self.lock()
            .sms
            .iter()
            .filter(|s| to.is_none_or(|to| s.to.trim() == to.trim()))
            .cloned()
            .collect()
    }

    pub(crate) fn clear_mail(&self) {
        let mut inner = self.lock();
        inner.mails.clear();
        inner.mail_bytes = 0;
    }

    pub(crate) fn clear_sms(&self) {
        self.lock().sms.clear();
    }

    /// Polls `check` each time something is stored, until it answers or `deadline` passes.
    async fn wait<T>(&self, deadline: Duration, check: impl Fn() -> Option<T>) -> Option<T> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            // Register before checking, so a message stored in between still wakes us.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check() {
                return Some(found);
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return check();
            }
        }
    }
}

fn mail_size(mail: &StoredMail) -> usize {
    mail.raw.len() + mail.text.len() + mail.subject.len()
}

/// A running dev sink. Stops when dropped or on [`DevSink::shutdown`].
pub struct DevSink {
    smtp_addr: SocketAddr,
    http_addr: SocketAddr,
    store: Arc<Store>,
    token: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for DevSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSink")
            .field("smtp_addr", &self.smtp_addr)
            .field("http_addr", &self.http_addr)
            .finish()
    }
}

/// A connectable address: a wildcard bind is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

impl DevSink {
    /// Binds both listeners (port 0 picks a free port) and starts serving; returns once both
    /// accept connections.
    pub async fn start(smtp_addr: SocketAddr, http_addr: SocketAddr) -> Result<DevSink> {
        let smtp = TcpListener::bind(smtp_addr)
            .await
            .with_context(|| format!("dev sink: binding SMTP on {smtp_addr}"))?;
        let http = TcpListener::bind(http_addr)
            .await
            .with_context(|| format!("dev sink: binding HTTP on {http_addr}"))?;
        let smtp_addr = smtp.local_addr()?;
        let http_addr = http.local_addr()?;
        let store = Arc::new(Store::new());
        let token = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(smtp::serve(smtp, store.clone(), token.clone())),
            tokio::spawn(http::serve(http, store.clone(), token.clone())),
        ];
        Ok(DevSink {
            smtp_addr,
            http_addr,
            store,
            token,
            tasks,
        })
    }

    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `smtp://host:port`, for [`crate::mailer_from_url`].
    pub fn smtp_url(&self) -> String {
        format!("smtp://{}", reachable(self.smtp_addr))
    }

    /// `http://host:port` (no trailing slash).
    pub fn http_url(&self) -> String {
        format!("http://{}", reachable(self.http_addr))
    }

    /// `http://host:port/sms`, for [`crate::sms_from_url`].
    pub fn sms_url(&self) -> String {
        format!("{}/sms", self.http_url())
    }

    /// Mail whose envelope recipients include `addr` (case-insensitive), oldest first.
    pub fn mail_to(&self, addr: &str) -> Vec<StoredMail> {
        self.store.mails(Some(addr))
    }

    pub fn all_mail(&self) -> Vec<StoredMail> {
        self.store.mails(None)
    }

    /// SMS to `number`, oldest first.
    pub fn sms_to(&self, number: &str) -> Vec<StoredSms> {
        self.store.sms(Some(number))
    }

    pub fn all_sms(&self) -> Vec<StoredSms> {
        self.store.sms(None)
    }

    /// Forgets all mail and SMS (ids keep increasing).
    pub fn clear(&self) {
        self.store.clear_mail();
        self.store.clear_sms();
    }

    /// Every message stored from now on (a slow receiver skips, with `Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<SinkEvent> {
        self.store.events.subscribe()
    }

    /// The newest mail to `to`, waiting up to `deadline` if there is none yet.
    pub async fn wait_for_mail(&self, to: &str, deadline: Duration) -> Result<StoredMail> {
        self.wait_for_mail_after(to, 0, deadline).await
    }

    /// The first mail to `to` with an id above `after_id` (e.g. the id of the last one seen),
    /// waiting up to `deadline`. Use it when an earlier mail to the same address exists.
    pub async fn wait_for_mail_after(
        &self,
        to: &str,
        after_id: u64,
        deadline: Duration,
    ) -> Result<StoredMail> {
        let found = self
            .store
            .wait(deadline, || {
                let mails = self.store.mails(Some(to));
                match after_id {
                    0 => mails.into_iter().last(),
                    _ => mails.into_iter().find(|m| m.id > after_id),
                }
            })
            .await;
        found.ok_or_else(|| anyhow!("no mail to {to} within {deadline:?} (after id {after_id})"))
    }

    /// The newest SMS to `to`, waiting up to `deadline` if there is none yet.
    pub async fn wait_for_sms(&self, to: &str, deadline: Duration) -> Result<StoredSms> {
        self.wait_for_sms_after(to, 0, deadline).await
    }

    /// The first SMS to `to` with an id above `after_id`, waiting up to `deadline`.
    pub async fn wait_for_sms_after(
        &self,
        to: &str,
        after_id: u64,
        deadline: Duration,
    ) -> Result<StoredSms> {
        let found = self
            .store
            .wait(deadline, || {
                let sms = self.store.sms(Some(to));
                match after_id {
                    0 => sms.into_iter().last(),
                    _ => sms.into_iter().find(|s| s.id > after_id),
                }
            })
            .await;
        found.ok_or_else(|| anyhow!("no SMS to {to} within {deadline:?} (after id {after_id})"))
    }

    /// Stops accepting, lets the HTTP server finish in-flight requests (bounded), and returns
    /// when both listeners are closed.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for DevSink {
    fn drop(&mut self) {
        self.token.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_matching() {
        assert!(same_address(
            "Alice <ALICE@example.com>",
            "alice@example.com"
        ));
        assert!(same_address(" bob@x.org ", "Bob@X.org"));
        assert!(!same_address("bob@x.org", "rob@x.org"));
    }

    #[test]
    fn store_is_bounded() {
        let store = Store::new();
        for i in 0..MAX_STORED_MAILS + 5 {
            store.add_mail(
                "f@x".into(),
                vec![format!("u{i}@x")],
                b"Subject: s\r\n\r\nb\r\n".to_vec(),
            );
        }
        let all = store.mails(None);
        assert_eq!(all.len(), MAX_STORED_MAILS);
        assert_eq!(all[0].to, vec!["u5@x".to_string()]);
        assert_eq!(all.last().map(|m| m.id), Some(MAX_STORED_MAILS as u64 + 5));
    }
}
