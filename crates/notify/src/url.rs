//! Endpoint URLs (`scheme://[user[:pass]@]host[:port]`) through the `url` crate, plus the narrow
//! checks we add on top. Errors never echo the URL: it may hold a password (`url::ParseError`
//! messages are static, and ours name only the part that is wrong).

use ::url::{Host, ParseError, Position, Url};
use anyhow::{Context, Result, anyhow, bail};
use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub scheme: String,
    pub user: Option<String>,
    pub pass: Option<String>,
    /// A name or an IP address, IPv6 without brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Everything after the authority (path, query, fragment), as `url` normalised it.
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
    let url = Url::parse(url.trim()).map_err(|e| match e {
        ParseError::EmptyHost => anyhow!("missing host"),
        ParseError::InvalidPort => anyhow!("bad port"),
        ParseError::InvalidIpv6Address => anyhow!("bad IPv6 address (or an unbracketed one)"),
        ParseError::InvalidDomainCharacter | ParseError::IdnaError => {
            anyhow!("the host has characters a host name cannot have")
        }
        // `ParseError` messages are static text, never a piece of the input.
        other => anyhow!("expected scheme://host[:port]: {other}"),
    })?;
    if url.cannot_be_a_base() {
        bail!("expected scheme://host[:port]");
    }
    let host = match url.host() {
        None => bail!("missing host"),
        Some(Host::Domain("")) => bail!("missing host"),
        Some(Host::Domain(name)) => {
            // `url` keeps opaque hosts of non-special schemes (smtp) nearly as written.
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                bail!("host {name:?} has characters a host name cannot have");
            }
            name.to_owned()
        }
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
    };
    let port = match url.port() {
        Some(0) => bail!("bad port 0"),
        port => port,
    };
    // `url` hands the user info back percent-encoded.
    let user = decode(url.username()).context("bad percent-encoding in the user name")?;
    let pass = url
        .password()
        .map(|p| decode(p).context("bad percent-encoding in the password"))
        .transpose()?;
    let user = match (user.is_empty(), &pass) {
        (true, None) => None,
        (true, Some(_)) => bail!("empty user name before '@'"),
        (false, _) => Some(user),
    };
    Ok(Endpoint {
        scheme: url.scheme().to_owned(),
        user,
        pass,
        host,
        port,
        rest: url[Position::BeforePath..].to_owned(),
    })
}

/// `%XX` decoding to UTF-8. Unlike `percent_decode_str` alone, a malformed escape (`%zz`, a
/// trailing `%`) is an error rather than passed through.
fn decode(s: &str) -> Option<String> {
    let well_formed = s.split('%').skip(1).all(|escape| {
        escape
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// The first value of `key` in a query string (`a=b&c=d`), `%XX` decoded. A `+` stays a `+`:
/// the values here are mail addresses and phone numbers, where it is common and spaces are not.
/// (Hand-written on purpose: `form_urlencoded`, and axum's `Query` on top of it, turn `+` into a
/// space.)
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != key {
            return None;
        }
        decode(v)
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

        let e = parse("smtp://[::1]:25").unwrap();
        assert_eq!(e.host, "::1");
        assert_eq!(e.port, Some(25));
        assert_eq!(e.rest, "");
        assert_eq!(e.redacted(25), "smtp://[::1]:25");
    }

    #[test]
    fn user_without_password_and_raw_at_in_password() {
        let e = parse("SMTP://user@host").unwrap();
        assert_eq!(e.scheme, "smtp");
        assert_eq!(e.user.as_deref(), Some("user"));
        assert_eq!(e.pass, None);
        assert_eq!(e.port, None);
        assert_eq!(e.redacted(25), "smtp://host:25");
        // The last '@' ends the user info, as before.
        let e = parse("smtp://u:p@ss@host").unwrap();
        assert_eq!(e.pass.as_deref(), Some("p@ss"));
        assert_eq!(e.host, "host");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "localhost:25",
            "smtp:host",
            "smtp://",
            "smtp:///path",
            "smtp://:25",
            "smtp://host:0",
            "smtp://host:99999",
            "smtp://host:x",
            "smtp://ho st:25",
            "smtp://h!st:25",
            "smtp://[::1:25",
            "smtp://u:%zz@host",
            "smtp://u:p%@host",
            "smtp://:pass@host",
            // An unbracketed host cannot hold a ':' (the old parser read this as host "host:25").
            "smtp://host:25:26",
            "smtp://::1:25",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn errors_never_echo_the_password() {
        for bad in [
            "smtp://u:hunter2@host:99999",
            "smtp://u:hunter2@host:0",
            "smtp://u:hunter2@ho st",
            "smtp://u:hunter2@h!st",
            "smtp://u:hunter2@host:25:26",
            "smtp://u:hunter2@",
            "smtp://u:hunter2%zz@host",
            "smtp://:hunter2@host",
        ] {
            let shown = format!("{:#}", parse(bad).unwrap_err());
            assert!(!shown.contains("hunter2"), "{bad}: {shown}");
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
        assert_eq!(query_param(Some("to=%zz"), "to"), None);
        assert_eq!(query_param(Some("to=%FF"), "to"), None, "not UTF-8");
    }
}
