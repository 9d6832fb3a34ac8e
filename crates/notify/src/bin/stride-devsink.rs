//! `stride-devsink`: catches the mesh's outgoing mail (SMTP) and SMS (HTTP) on loopback and
//! prints one line per message, so a developer running `cargo xtask up` sees codes arrive.
//!
//! Env: `DEVSINK_SMTP_ADDR` (default 127.0.0.1:1025), `DEVSINK_HTTP_ADDR` (default
//! 127.0.0.1:8025). HTTP API: see `stride_notify::sink`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use stride_notify::{DevSink, SinkEvent};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast::error::RecvError;

fn addr(var: &str, default: &str) -> Result<SocketAddr> {
    let value = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    value
        .parse()
        .with_context(|| format!("{var}={value:?} is not an ip:port address"))
}

/// Enough escaping for the printed query strings (`+` and `%` matter, `@` does not).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'@' | b'.' | b'-' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn run() -> Result<()> {
    let smtp = addr("DEVSINK_SMTP_ADDR", "127.0.0.1:1025")?;
    let http = addr("DEVSINK_HTTP_ADDR", "127.0.0.1:8025")?;
    let mut term = signal(SignalKind::terminate())?;
    let sink = DevSink::start(smtp, http).await?;
    let base = sink.http_url();
    let mut events = sink.subscribe();
    println!(
        "stride-devsink: SMTP on {}, mail at {base}/messages, SMS at {base}/sms",
        sink.smtp_addr()
    );
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            event = events.recv() => match event {
                Ok(SinkEvent::Mail(mail)) => {
                    let to = mail.to.join(", ");
                    let first = mail.to.first().map(String::as_str).unwrap_or_default();
                    println!(
                        "mail #{} to {to}: {:?}  ({base}/messages/latest?to={})",
                        mail.id,
                        mail.subject,
                        query_escape(first)
                    );
                }
                // A dev sink exists to show codes: print SMS text (mail bodies are one GET away).
                Ok(SinkEvent::Sms(sms)) => println!("sms #{} to {}: {:?}", sms.id, sms.to, sms.text),
                Err(RecvError::Lagged(n)) => println!("({n} messages not shown; see {base}/messages)"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    sink.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stride-devsink: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
