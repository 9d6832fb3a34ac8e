//! The receiving side of SMTP (RFC 5321), enough for lettre and other well-behaved clients:
//! EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, HELP, QUIT. No TLS, no AUTH.
//!
//! Hand-written on purpose: there is no mature tokio SMTP-server crate, and tests need the sink
//! in their own process (`wait_for_mail`, `subscribe`), which rules out running Mailpit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Store;

/// Largest message accepted in DATA (what EHLO advertises as SIZE).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100).
pub const MAX_RECIPIENTS: usize = 100;
/// Command lines; RFC 5321 says 512, extensions add parameters.
const MAX_COMMAND_LINE: usize = 2048;
const MAX_ADDRESS: usize = 320;
/// Idle time allowed between two lines from the client.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_SESSIONS: usize = 64;
const MAX_ERRORS: usize = 20;
const HOSTNAME: &str = "stride-devsink";

pub(crate) async fn serve(listener: TcpListener, store: Arc<Store>, token: CancellationToken) {
    let sessions = Arc::new(Semaphore::new(MAX_SESSIONS));
    loop {
        let (stream, peer) = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "dev sink: SMTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let store = store.clone();
        let token = token.clone();
        let permit = sessions.clone().try_acquire_owned();
        tokio::spawn(async move {
            let Ok(_permit) = permit else {
                let mut stream = stream;
                let _ = stream
                    .write_all(b"421 4.3.2 too many connections, try later\r\n")
                    .await;
                return;
            };
            tokio::select! {
                _ = token.cancelled() => {}
                result = session(stream, &store) => {
                    if let Err(err) = result {
                        tracing::debug!(%peer, error = %err, "dev sink: SMTP session ended with an error");
                    }
                }
            }
        });
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Helo(String),
    Ehlo(String),
    Mail {
        from: String,
        size: Option<u64>,
    },
    Rcpt(String),
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    /// A real SMTP verb this server does not do (STARTTLS, AUTH, EXPN, ...).
    NotImplemented,
    Unknown,
    Syntax(&'static str),
}

pub(crate) fn parse_command(line: &str) -> Command {
    let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    match verb.to_ascii_uppercase().as_str() {
        "HELO" | "EHLO" if arg.is_empty() => Command::Syntax("HELO/EHLO needs a domain"),
        "HELO" => Command::Helo(arg.to_owned()),
        "EHLO" => Command::Ehlo(arg.to_owned()),
        "MAIL" => match parse_path(arg, "FROM:") {
            None => Command::Syntax("expected MAIL FROM:<address>"),
            Some((from, _)) if !valid_address(from) => Command::Syntax("bad sender address"),
            Some((from, params)) => {
                let mut size = None;
                for param in params.split_ascii_whitespace() {
                    if let Some((k, v)) = param.split_once('=')
                        && k.eq_ignore_ascii_case("SIZE")
                    {
                        match v.parse() {
                            Ok(n) => size = Some(n),
                            Err(_) => return Command::Syntax("bad SIZE parameter"),
                        }
                    }
                }
                Command::Mail {
                    from: from.to_owned(),
                    size,
                }
            }
        },
        "RCPT" => match parse_path(arg, "TO:") {
            None => Command::Syntax("expected RCPT TO:<address>"),
            Some((to, _)) if to.is_empty() || !valid_address(to) => {
                Command::Syntax("bad recipient address")
            }
            Some((to, _)) => Command::Rcpt(to.to_owned()),
        },
        "DATA" => Command::Data,
        "RSET" => Command::Rset,
        "NOOP" => Command::Noop,
        "QUIT" => Command::Quit,
        "VRFY" => Command::Vrfy,
        "HELP" => Command::Help,
        "EXPN" | "TURN" | "ETRN" | "STARTTLS" | "AUTH" | "BDAT" | "SEND" | "SOML" | "SAML" => {
            Command::NotImplemented
        }
        _ => Command::Unknown,
    }
}

/// `FROM:<addr> PARAMS` → (addr without a source route, params).
fn parse_path<'a>(arg: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start().strip_prefix('<')?;
    let end = rest.find('>')?;
    let path = &rest[..end];
    // Obsolete source routes: `<@a,@b:user@host>`.
    let addr = match path.starts_with('@') {
        true => path.split_once(':').map_or(path, |(_, a)| a),
        false => path,
    };
    Some((addr, rest[end + 1..].trim()))
}

fn valid_address(addr: &str) -> bool {
    addr.len() <= MAX_ADDRESS && !addr.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub(crate) enum LineRead {
    Line,
    /// Longer than the limit: consumed up to its end and discarded.
    TooLong,
    Eof,
}

/// Reads one line (LF-terminated; the CRLF or LF is stripped) into `buf`, keeping at most
/// `limit` bytes of it, so memory stays bounded and the reader stays in sync with the client.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            // A partial line at EOF is a client that went away mid-command: nothing to answer.
            return Ok(LineRead::Eof);
        }
        let (n, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if buf.len() + n > limit {
                too_long = true;
                *buf = Vec::new();
            } else {
                buf.extend_from_slice(&available[..n]);
            }
        }
        reader.consume(n);
        if done {
            if too_long {
                return Ok(LineRead::TooLong);
            }
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(LineRead::Line);
        }
    }
}

/// Collects DATA lines: dot-unstuffing, the lone `.` terminator, the size limit.
pub(crate) struct DataCollector {
    raw: Vec<u8>,
    oversized: bool,
    limit: usize,
}

impl DataCollector {
    pub(crate) fn new(limit: usize) -> DataCollector {
        DataCollector {
            raw: Vec::new(),
            oversized: false,
            limit,
        }
    }

    /// Feeds one line (without its CRLF); true when it was the terminator.
    pub(crate) fn push(&mut self, line: &[u8], too_long: bool) -> bool {
        if !too_long && line == b"." {
            return true;
        }
        if self.oversized {
            return false;
        }
        // RFC 5321 §4.5.2: a leading dot was doubled by the sender.
        let line = line.strip_prefix(b".").unwrap_or(line);
        if too_long || self.raw.len() + line.len() + 2 > self.limit {
            self.oversized = true;
            self.raw = Vec::new();
            return false;
        }
        self.raw.extend_from_slice(line);
        self.raw.extend_from_slice(b"\r\n");
        false
    }

    /// The message, or `None` if it went over the limit.
    pub(crate) fn finish(self) -> Option<Vec<u8>> {
        (!self.oversized).then_some(self.raw)
    }
}

struct Transaction {
    from: String,
    to: Vec<String>,
}

async fn session(stream: TcpStream, store: &Store) -> std::io::Result<()> {
    let peer: Option<SocketAddr> = stream.peer_addr().ok();
    // Replies are small and each one waits for the client: send them at once.
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut greeted = false;
    let mut tx: Option<Transaction> = None;
    let mut errors = 0;
    writer
        .write_all(format!("220 {HOSTNAME} ESMTP Stride dev sink\r\n").as_bytes())
        .await?;
    loop {
        let read = tokio::time::timeout(
            READ_TIMEOUT,
            read_line(&mut reader, &mut line, MAX_COMMAND_LINE),
        )
        .await;
        let mut reply: String = match read {
            Err(_) => {
                writer
                    .write_all(b"421 4.4.2 idle for too long, closing\r\n")
                    .await?;
                return Ok(());
            }
            Ok(read) => match read? {
                LineRead::Eof => return Ok(()),
                LineRead::TooLong => {
                    errors += 1;
                    "500 5.5.2 line too long".into()
                }
                LineRead::Line => match parse_command(&String::from_utf8_lossy(&line)) {
                    Command::Helo(_) => {
                        greeted = true;
                        tx = None;
                        format!("250 {HOSTNAME}")
                    }
                    Command::Ehlo(domain) => {
                        greeted = true;
                        tx = None;
                        format!(
                            "250-{HOSTNAME} greets {domain}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250 HELP"
                        )
                    }
                    Command::Mail { .. } if !greeted => "503 5.5.1 send EHLO or HELO first".into(),
                    Command::Mail { .. } if tx.is_some() => {
                        "503 5.5.1 MAIL already given; RSET first".into()
                    }
                    Command::Mail { size: Some(n), .. } if n > MAX_MESSAGE_BYTES as u64 => {
                        format!(
                            "552 5.3.4 message size exceeds the limit of {MAX_MESSAGE_BYTES} bytes"
                        )
                    }
                    Command::Mail { from, .. } => {
                        tx = Some(Transaction {
                            from,
                            to: Vec::new(),
                        });
                        "250 2.1.0 Ok".into()
                    }
                    Command::Rcpt(to) => match &mut tx {
                        None => "503 5.5.1 need MAIL before RCPT".into(),
                        Some(t) if t.to.len() >= MAX_RECIPIENTS => {
                            "452 4.5.3 too many recipients".into()
                        }
                        Some(t) => {
                            t.to.push(to);
                            "250 2.1.5 Ok".into()
                        }
                    },
                    Command::Data => match tx.take() {
                        Some(t) if !t.to.is_empty() => {
                            writer
                                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                                .await?;
                            let Some(raw) = read_data(&mut reader, &mut line).await? else {
                                return Ok(());
                            };
                            match raw {
                                Some(raw) => {
                                    let mail = store.add_mail(t.from, t.to, raw);
                                    tracing::info!(id = mail.id, to = ?mail.to, subject = %mail.subject, ?peer, "dev sink: mail received");
                                    format!("250 2.0.0 Ok: queued as {}", mail.id)
                                }
                                None => format!(
                                    "552 5.3.4 message size exceeds the limit of {MAX_MESSAGE_BYTES} bytes"
                                ),
                            }
                        }
                        other => {
                            tx = other;
                            "503 5.5.1 need RCPT before DATA".into()
                        }
                    },
                    Command::Rset => {
                        tx = None;
                        "250 2.0.0 Ok".into()
                    }
                    Command::Noop => "250 2.0.0 Ok".into(),
                    Command::Vrfy => "252 2.1.5 cannot VRFY; send and see".into(),
                    Command::Help => {
                        "214 2.0.0 HELO EHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT".into()
                    }
                    Command::Quit => {
                        writer.write_all(b"221 2.0.0 Bye\r\n").await?;
                        return Ok(());
                    }
                    Command::NotImplemented => {
                        errors += 1;
                        "502 5.5.1 command not implemented".into()
                    }
                    Command::Unknown => {
                        errors += 1;
                        "500 5.5.2 command unrecognized".into()
                    }
                    Command::Syntax(why) => {
                        errors += 1;
                        format!("501 5.5.4 {why}")
                    }
                },
            },
        };
        // One write per reply: two small segments would wait on delayed ACKs (Nagle).
        reply.push_str("\r\n");
        writer.write_all(reply.as_bytes()).await?;
        if errors >= MAX_ERRORS {
            writer
                .write_all(b"421 4.7.0 too many errors, closing\r\n")
                .await?;
            return Ok(());
        }
    }
}

/// Reads DATA up to the terminator. Outer `None`: the client went away; inner `None`: too big.
async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut data = DataCollector::new(MAX_MESSAGE_BYTES);
    loop {
        // One line may be as long as the whole message; longer ones mark it oversized.
        let read =
            tokio::time::timeout(READ_TIMEOUT, read_line(reader, line, MAX_MESSAGE_BYTES + 2))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DATA stalled"))??;
        let done = match read {
            LineRead::Eof => return Ok(None),
            LineRead::TooLong => data.push(&[], true),
            LineRead::Line => data.push(line, false),
        };
        if done {
            return Ok(Some(data.finish()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse_command("EHLO client.example"),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(parse_command("helo x"), Command::Helo("x".into()));
        assert!(matches!(parse_command("EHLO"), Command::Syntax(_)));
        assert_eq!(
            parse_command("MAIL FROM:<a@b.c> BODY=8BITMIME SIZE=1234"),
            Command::Mail {
                from: "a@b.c".into(),
                size: Some(1234)
            }
        );
        assert_eq!(
            parse_command("mail from: <>"),
            Command::Mail {
                from: String::new(),
                size: None
            }
        );
        assert!(matches!(
            parse_command("MAIL FROM:<a@b.c> SIZE=x"),
            Command::Syntax(_)
        ));
        assert!(matches!(
            parse_command("MAIL TO:<a@b.c>"),
            Command::Syntax(_)
        ));
        assert!(matches!(
            parse_command("MAIL FROM:a@b.c"),
            Command::Syntax(_)
        ));
        assert_eq!(
            parse_command("RCPT TO:<x@y.z>"),
            Command::Rcpt("x@y.z".into())
        );
        assert_eq!(
            parse_command("RCPT TO:<@relay.example:x@y.z>"),
            Command::Rcpt("x@y.z".into())
        );
        assert!(matches!(parse_command("RCPT TO:<>"), Command::Syntax(_)));
        assert!(matches!(
            parse_command("RCPT TO:<a b@c>"),
            Command::Syntax(_)
        ));
        assert_eq!(parse_command("DATA"), Command::Data);
        assert_eq!(parse_command("rset"), Command::Rset);
        assert_eq!(parse_command("NOOP"), Command::Noop);
        assert_eq!(parse_command("QUIT"), Command::Quit);
        assert_eq!(parse_command("STARTTLS"), Command::NotImplemented);
        assert_eq!(parse_command("AUTH PLAIN abc"), Command::NotImplemented);
        assert_eq!(parse_command("FROB"), Command::Unknown);
        assert_eq!(parse_command(""), Command::Unknown);
        // Multi-byte text must not panic on the prefix slice.
        assert!(matches!(parse_command("MAIL ü"), Command::Syntax(_)));
    }

    #[test]
    fn dot_unstuffing_and_terminator() {
        let mut data = DataCollector::new(1024);
        for line in [&b"Subject: x"[..], b"", b"..leading dot", b"...", b"plain"] {
            assert!(!data.push(line, false));
        }
        assert!(data.push(b".", false));
        assert_eq!(
            data.finish().unwrap(),
            b"Subject: x\r\n\r\n.leading dot\r\n..\r\nplain\r\n"
        );
    }

    #[test]
    fn size_limit_marks_oversized_but_keeps_reading() {
        let mut data = DataCollector::new(10);
        assert!(!data.push(b"12345678", false));
        assert!(!data.push(b"overflow", false));
        assert!(!data.push(b"more", false));
        assert!(data.push(b".", false));
        assert!(data.finish().is_none());

        let mut data = DataCollector::new(100);
        assert!(!data.push(b"", true));
        assert!(data.push(b".", false));
        assert!(data.finish().is_none());
    }

    #[tokio::test]
    async fn line_reader_bounds_and_resyncs() {
        let input: &[u8] = b"short\r\nway too long a line\r\nbare lf\nnext\r\npartial";
        let mut reader = BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            LineRead::Line
        ));
        assert_eq!(buf, b"short");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            LineRead::TooLong
        ));
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            LineRead::Line
        ));
        assert_eq!(buf, b"bare lf");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            LineRead::Line
        ));
        assert_eq!(buf, b"next");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            LineRead::Eof
        ));
    }
}
