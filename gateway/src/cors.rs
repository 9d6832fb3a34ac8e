//! Which browser pages may call the gateway cross-origin (`STRIDE_CORS_ORIGINS`).
//!
//! None by default: a page served from another origin gets no CORS answer and the browser blocks
//! the call (native gRPC clients and same-origin pages are unaffected). Operators list each
//! origin exactly as browsers send it (`https://app.example.com`, `http://localhost:5173`); an
//! `Origin` header matches only byte for byte. `*`, paths and wildcards are refused at start: an
//! allow-list that is wider than intended is a configuration error, not a default.

use std::time::Duration;

use http::{HeaderValue, header::HeaderName};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The allowed origins, checked at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<HeaderValue>);

impl CorsOrigins {
    /// No cross-origin access.
    pub fn none() -> Self {
        Self::default()
    }

    /// A comma list of origins (`scheme://host[:port]`, lower case, no path); empty: none.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(origin)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_allowed(&self, origin: &HeaderValue) -> bool {
        self.0.iter().any(|o| o == origin)
    }

    pub(crate) fn layer(&self) -> CorsLayer {
        let allow = [
            http::header::CONTENT_TYPE,
            http::header::AUTHORIZATION,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
            HeaderName::from_static("traceparent"),
            // Connect (what connect-es sends) and the JSON/HTTP deadline.
            HeaderName::from_static("connect-protocol-version"),
            HeaderName::from_static("connect-timeout-ms"),
            HeaderName::from_static("x-server-timeout"),
        ];
        let expose = [
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ];
        CorsLayer::new()
            // An empty list matches no origin: no `Access-Control-Allow-Origin` is ever sent.
            .allow_origin(AllowOrigin::list(self.0.iter().cloned()))
            // POST for gRPC-web and Connect, GET for Connect's side-effect-free calls, and the
            // verbs of the JSON/HTTP routes.
            .allow_methods([
                http::Method::GET,
                http::Method::POST,
                http::Method::PUT,
                http::Method::PATCH,
                http::Method::DELETE,
                http::Method::OPTIONS,
            ])
            .allow_headers(allow)
            .expose_headers(expose)
            .max_age(Duration::from_secs(600))
    }
}

fn origin(s: &str) -> Result<HeaderValue, String> {
    if s == "*" {
        return Err(
            "`*` (any origin) is not accepted: list each origin, e.g. https://app.example.com"
                .into(),
        );
    }
    let bad = |why: &str| format!("{s:?} is not an origin such as https://app.example.com: {why}");
    let (scheme, authority) = s.split_once("://").ok_or_else(|| bad("no scheme"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@' | '*' | '\\') || c.is_whitespace())
    {
        return Err(bad("only scheme://host[:port], without a path or wildcard"));
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(bad("write it in lower case, as browsers send it"));
    }
    let parsed: http::uri::Authority = authority.parse().map_err(|_| bad("bad host or port"))?;
    if parsed.host().is_empty() {
        return Err(bad("no host"));
    }
    let port = match authority.strip_prefix('[') {
        Some(v6) => v6
            .split_once(']')
            .and_then(|(_, rest)| rest.strip_prefix(':')),
        None => authority.rsplit_once(':').map(|(_, p)| p),
    };
    if port.is_some_and(|p| {
        p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<u16>().is_err()
    }) {
        return Err(bad("bad port"));
    }
    HeaderValue::from_str(s).map_err(|_| bad("not a header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_checked() {
        let o = CorsOrigins::parse(" http://localhost:5173, https://app.example.com ,").unwrap();
        let yes = |v: &str| o.is_allowed(&HeaderValue::from_str(v).unwrap());
        assert!(yes("http://localhost:5173"));
        assert!(yes("https://app.example.com"));
        for no in [
            "http://localhost:5174",
            "http://localhost",
            "https://localhost:5173",
            "http://app.example.com",
            "https://app.example.com.evil.test",
            "https://evil-app.example.com",
            "https://app.example.com/",
            "null",
            "",
        ] {
            assert!(!yes(no), "{no}");
        }
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::none());
        assert_eq!(CorsOrigins::parse(" , ").unwrap(), CorsOrigins::none());
        assert!(CorsOrigins::parse("http://[::1]:3000").is_ok());
        for bad in [
            "*",
            "localhost:5173",
            "ftp://example.com",
            "https://",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.Example.com",
            "https://user@app.example.com",
            "https://app.example.com:",
            "https://app.example.com:999999",
            "https://app example.com",
            "null",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad}");
        }
        assert!(CorsOrigins::parse("http://localhost:5173,*").is_err());
    }
}
