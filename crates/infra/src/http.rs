//! A minimal HTTP/1.1 client (one request per connection) and the RabbitMQ management API
//! calls tests need; enough for loopback servers without pulling an HTTP stack into xtask.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

// Kept hand-written on purpose: plain HTTP on loopback with `Connection: close`; ureq or
// reqwest would put an HTTP stack (reqwest: tokio) into xtask's build.
/// Sends one request to `host:port` and returns the status code and body.
/// `auth` is `(user, password)` for basic auth; `body` is sent as JSON.
pub fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&str>,
) -> Result<(u16, String)> {
    let mut stream =
        TcpStream::connect((host, port)).with_context(|| format!("connecting to {host}:{port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;

    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
    if let Some((user, pass)) = auth {
        let token = STANDARD.encode(format!("{user}:{pass}"));
        req.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        req.push_str("Content-Type: application/json\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes())?;

    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the answer to {method} {path}"))?;
    parse_response(&raw).with_context(|| format!("answer to {method} {path}"))
}

fn parse_response(raw: &[u8]) -> Result<(u16, String)> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("bad status line")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk")?;
        let size_field = String::from_utf8_lossy(&data[..eol]);
        let size_hex = size_field.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).context("bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// RFC 3986 unreserved characters stay as they are; everything else is `%XX`.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/` becomes `%2F`), as
/// AMQP URLs and management API paths need for vhost and queue names.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// A RabbitMQ management API client.
#[derive(Clone, Debug)]
pub struct Mgmt {
    host: String,
    port: u16,
    user: String,
    pass: String,
}

impl Mgmt {
    pub fn new(host: &str, port: u16, user: &str, pass: &str) -> Mgmt {
        Mgmt {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            pass: pass.to_owned(),
        }
    }

    /// Parses `http://user:pass@host:port` (the form of `STRIDE_TEST_RABBIT_MGMT_URL`).
    pub fn from_url(url: &str) -> Result<Mgmt> {
        let parse = || {
            let rest = url.strip_prefix("http://")?.trim_end_matches('/');
            let (userinfo, hostport) = rest.split_once('@')?;
            let (user, pass) = userinfo.split_once(':')?;
            let (host, port) = hostport.rsplit_once(':')?;
            Some(Mgmt::new(host, port.parse().ok()?, user, pass))
        };
        parse().with_context(|| format!("expected http://user:pass@host:port, got {url:?}"))
    }

    /// `http://user:pass@host:port`, the inverse of [`Mgmt::from_url`].
    pub fn url(&self) -> String {
        format!(
            "http://{}:{}@{}:{}",
            self.user, self.pass, self.host, self.port
        )
    }

    /// One API call; `path` starts with `/api/`. Fails unless the status is 2xx.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<String> {
        let body = body.map(serde_json::Value::to_string);
        let (status, text) = request(
            &self.host,
            self.port,
            method,
            path,
            Some((&self.user, &self.pass)),
            body.as_deref(),
        )?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: HTTP {status}: {text}");
        }
        Ok(text)
    }

    /// Status of `GET /api/overview`, which answers 200 once the node is fully booted.
    pub fn overview_ok(&self) -> bool {
        let auth = Some((self.user.as_str(), self.pass.as_str()));
        matches!(
            request(&self.host, self.port, "GET", "/api/overview", auth, None),
            Ok((200, _))
        )
    }

    /// Creates `name` (idempotent) and gives this user full permissions on it.
    pub fn create_vhost(&self, name: &str) -> Result<()> {
        let vhost = percent_encode(name);
        self.call("PUT", &format!("/api/vhosts/{vhost}"), None)?;
        let perms = serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"});
        let user = percent_encode(&self.user);
        self.call(
            "PUT",
            &format!("/api/permissions/{vhost}/{user}"),
            Some(&perms),
        )?;
        Ok(())
    }

    /// Deletes `name` and everything in it; a missing vhost is not an error.
    pub fn delete_vhost(&self, name: &str) -> Result<()> {
        let path = format!("/api/vhosts/{}", percent_encode(name));
        let auth = Some((self.user.as_str(), self.pass.as_str()));
        match request(&self.host, self.port, "DELETE", &path, auth, None)? {
            (200..300 | 404, _) => Ok(()),
            (status, text) => bail!("DELETE {path}: HTTP {status}: {text}"),
        }
    }

    /// Ready plus unacknowledged messages in a queue. The management statistics lag the broker
    /// by up to a few seconds (the stats interval), so poll with a deadline rather than reading
    /// once; a queue whose statistics have not been emitted yet reads as 0.
    pub fn queue_messages(&self, vhost: &str, queue: &str) -> Result<u64> {
        let path = format!(
            "/api/queues/{}/{}",
            percent_encode(vhost),
            percent_encode(queue)
        );
        let text = self.call("GET", &path, None)?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("GET {path}: {text}"))?;
        Ok(json.get("messages").and_then(|m| m.as_u64()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(STANDARD.encode(b"guest:guest"), "Z3Vlc3Q6Z3Vlc3Q=");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("t-1 x"), "t-1%20x");
        assert_eq!(percent_encode("a.b_c~d"), "a.b_c~d");
        assert_eq!(percent_encode("ü@%"), "%C3%BC%40%25");
    }

    #[test]
    fn parses_chunked_response() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, "abcde".to_owned()));
        let mgmt = Mgmt::from_url("http://guest:guest@127.0.0.1:15672").unwrap();
        assert_eq!(mgmt.url(), "http://guest:guest@127.0.0.1:15672");
    }
}
