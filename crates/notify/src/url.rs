//! Just enough URL parsing for `scheme://[user[:pass]@]host[:port]`: the endpoints we accept are
//! narrow, and a dedicated parser lets errors say exactly what is wrong without echoing secrets.

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub scheme: String,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Everything after the authority (path, query, fragment), verbatim.
    pub rest: String,
}

impl Endpoint {
    /// `scheme://host:port` without credentials, safe for logs and error messages.
    pub fn redacted(&self, default_port: u16) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{host}:{}",
            self.scheme,
            self.port.unwrap_or(default_port)
        )
    }
}

pub(crate) fn parse(url: &str) -> Result<Endpoint> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("expected scheme://host[:port]");
    };
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let (user, pass) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, pass) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            let user = percent_decode(user).context("bad percent-encoding in the user name")?;
            if user.is_empty() {
                bail!("empty user name before '@'");
            }
            let pass = pass
                .map(percent_decode)
                .transpose()
                .context("bad percent-encoding in the password")?;
            (Some(user), pass)
        }
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').context("unclosed '[' in host")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => bail!("unexpected text after ']' in host"),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        bail!("missing host");
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        bail!("host {host:?} has characters a host name cannot have");
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => bail!("bad port {p:?}"),
            Ok(n) => Some(n),
        },
    };
    Ok(Endpoint {
        scheme,
        user,
        pass,
        host: host.to_owned(),
        port,
        rest: tail.to_owned(),
    })
}

/// `%XX` decoding (also used for query strings, where `+` is handled by the caller).
pub(crate) fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).context("truncated %-escape")?;
            let hi = hex_val(hex[0]).context("bad %-escape")?;
            let lo = hex_val(hex[1]).context("bad %-escape")?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("%-escapes are not UTF-8")
}

pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The first value of `key` in a query string (`a=b&c=d`), `%XX` decoded. A `+` stays a `+`:
/// the values here are mail addresses and phone numbers, where it is common and spaces are not.
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != key {
            return None;
        }
        percent_decode(v).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_host_port() {
        let e = parse("smtps://us%40er:p%3Ass@mail.example.com:465").unwrap();
        assert_eq!(e.scheme, "smtps");
        assert_eq!(e.user.as_deref(), Some("us@er"));
        assert_eq!(e.pass.as_deref(), Some("p:ss"));
        assert_eq!(e.host, "mail.example.com");
        assert_eq!(e.port, Some(465));
        assert_eq!(e.rest, "");
        assert_eq!(e.redacted(25), "smtps://mail.example.com:465");
    }

    #[test]
    fn parses_ipv6_and_path() {
        let e = parse("http://[::1]:8025/sms").unwrap();
        assert_eq!(e.host, "::1");
        assert_eq!(e.port, Some(8025));
        assert_eq!(e.rest, "/sms");
        assert_eq!(e.redacted(80), "http://[::1]:8025");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "localhost:25",
            "smtp://",
            "smtp://:25",
            "smtp://host:0",
            "smtp://host:99999",
            "smtp://host:x",
            "smtp://ho st:25",
            "smtp://[::1:25",
            "smtp://u:%zz@host",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn query_params() {
        let q = Some("to=a%2Bb%40x.org&x=1&to=second");
        assert_eq!(query_param(q, "to").as_deref(), Some("a+b@x.org"));
        assert_eq!(
            query_param(Some("to=+491511"), "to").as_deref(),
            Some("+491511")
        );
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param(None, "to"), None);
    }
}
