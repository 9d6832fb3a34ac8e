//! Who the client is when the gateway sits behind proxies (ingress, load balancer).
//!
//! The TCP peer is the client unless it is a **trusted proxy** (`STRIDE_TRUSTED_PROXIES`, a list of
//! CIDRs; none by default). Only then is the forwarding header the operator named
//! (`STRIDE_FORWARDED_HEADER`: `x-forwarded-for` by default, or `forwarded`, RFC 7239) read, from
//! right to left: each trusted hop is skipped and the first untrusted address is the client.
//! Whatever lies left of it was written by that client and is ignored, so a client can prepend
//! anything it likes without effect. An entry that is not an address (garbage, `unknown`, an
//! obfuscated RFC 7239 node such as `_hidden`) ends the walk: the client is then the nearest trusted
//! hop that reported it, never a value the client could have chosen.
//!
//! Only one header kind is believed: proxies typically append to the header they know and pass the
//! other through untouched, so reading both would let a client supply the one the proxy ignores.

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr},
    str::FromStr,
};

use http::HeaderMap;

/// At most this many entries are read from the right of the forwarding header; a longer chain is
/// treated like an unreadable entry (the nearest trusted hop is the client).
pub const MAX_HOPS: usize = 32;

/// An IPv4 or IPv6 network, `10.0.0.0/8` or `2001:db8::/32`; a bare address is its own /32 or
/// /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an address or CIDR such as 10.0.0.0/8 or fd00::/8");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = canonical(addr.trim().parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Which forwarding header the trusted proxies write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!(
                "{other:?} is neither x-forwarded-for nor forwarded"
            )),
        }
    }
}

/// The proxies whose forwarding header is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    cidrs: Vec<Cidr>,
    header: ForwardedHeader,
    /// Trusted peers open each connection with a PROXY protocol header (v1 or v2) naming the
    /// client (`STRIDE_PROXY_PROTOCOL`); other peers never may.
    proxy_protocol: bool,
}

impl TrustedProxies {
    /// No proxy is trusted: the TCP peer is always the client.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn new(cidrs: Vec<Cidr>, header: ForwardedHeader) -> Self {
        Self {
            cidrs,
            header,
            proxy_protocol: false,
        }
    }

    /// The same, with connections from trusted peers opening with a PROXY protocol header.
    pub fn with_proxy_protocol(mut self, on: bool) -> Self {
        self.proxy_protocol = on;
        self
    }

    /// Whether a connection from `peer` must open with a PROXY protocol header.
    pub fn expects_proxy_header(&self, peer: IpAddr) -> bool {
        self.proxy_protocol && self.is_trusted(peer)
    }

    /// A comma list of CIDRs (empty: none).
    pub fn parse(cidrs: &str, header: ForwardedHeader) -> Result<Self, String> {
        let cidrs = cidrs
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<_, _>>()?;
        Ok(Self::new(cidrs, header))
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.cidrs.iter().any(|c| c.contains(ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let (name, parse): (_, fn(&str) -> Option<IpAddr>) = match self.header {
            ForwardedHeader::XForwardedFor => ("x-forwarded-for", xff_node),
            ForwardedHeader::Forwarded => ("forwarded", forwarded_node),
        };
        // Several header lines are one list, in order (RFC 9110 §5.3).
        let mut lines = Vec::new();
        for value in headers.get_all(name) {
            match value.to_str() {
                Ok(v) => lines.push(v),
                // Not text: nothing in it can be read, so nothing beyond the peer is known.
                Err(_) => return peer,
            }
        }
        let joined = lines.join(",");
        let mut nearest = peer;
        for (i, element) in split_outside_quotes(&joined, ',').rev().enumerate() {
            if i >= MAX_HOPS {
                return nearest;
            }
            let element = element.trim();
            if element.is_empty() && lines.is_empty() {
                break;
            }
            let Some(ip) = parse(element).map(canonical) else {
                return nearest;
            };
            if !self.is_trusted(ip) {
                return ip;
            }
            nearest = ip;
        }
        // Every hop is trusted: the left-most is where the request started.
        nearest
    }
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, from dual-stack sockets) is that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.1:443`,
/// `[2001:db8::1]:443`).
fn xff_node(s: &str) -> Option<IpAddr> {
    node(s.trim())
}

/// One RFC 7239 element (`for=…;proto=…;by=…`): its `for` node.
fn forwarded_node(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_outside_quotes(element, ';') {
        let (key, value) = pair.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("for") {
            if found.is_some() {
                // Two `for` in one element: ambiguous, believe neither.
                return None;
            }
            let value = value.trim();
            let value = match value.strip_prefix('"') {
                Some(rest) => rest.strip_suffix('"')?,
                None => value,
            };
            // `unknown`, obfuscated `_node` names and anything else that is not an address
            // tell nothing about the client.
            found = Some(node(value)?);
        }
    }
    found
}

/// An address with an optional port; IPv6 with a port must be bracketed. Zone ids are refused.
fn node(s: &str) -> Option<IpAddr> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    // IPv4 with a port (an unbracketed IPv6 address with a port is ambiguous and refused).
    let (v4, port) = s.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())
}

/// Splits on `sep` outside double-quoted strings (where RFC 7239 allows `,` and `;`).
fn split_outside_quotes(s: &str, sep: char) -> impl DoubleEndedIterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(s.get(start..i).unwrap_or_default());
            start = i + c.len_utf8();
        }
    }
    parts.push(s.get(start..).unwrap_or_default());
    parts.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn xff(trusted: &str) -> TrustedProxies {
        TrustedProxies::parse(trusted, ForwardedHeader::XForwardedFor).unwrap()
    }

    fn fwd(trusted: &str) -> TrustedProxies {
        TrustedProxies::parse(trusted, ForwardedHeader::Forwarded).unwrap()
    }

    const LB: &str = "10.0.0.5";

    #[test]
    fn cidrs_parse_and_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.255.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped is IPv4");
        assert!(!c.contains(ip("fd00::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let one: Cidr = "192.0.2.1".parse().unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
        assert_eq!(c.to_string(), "10.0.0.0/8");
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0/8",
            "*",
            "",
            "localhost",
            "10.0.0.0/8/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("10.0.0.0/8, fd00::/8,", ForwardedHeader::default()).is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/8,nope", ForwardedHeader::default()).is_err());
        assert_eq!(
            "Forwarded".parse::<ForwardedHeader>().unwrap(),
            ForwardedHeader::Forwarded
        );
        assert!("x-real-ip".parse::<ForwardedHeader>().is_err());
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let none = TrustedProxies::none();
        let mut h = headers("x-forwarded-for", &["198.51.100.7"]);
        h.insert("forwarded", "for=198.51.100.8".parse().unwrap());
        h.insert("x-stride-client-ip", "198.51.100.9".parse().unwrap());
        assert_eq!(none.client_ip(ip("203.0.113.1"), &h), ip("203.0.113.1"));
        // A configured list does not help a peer outside it.
        let t = xff("10.0.0.0/8");
        assert_eq!(t.client_ip(ip("203.0.113.1"), &h), ip("203.0.113.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() {
        let t = xff("10.0.0.0/8");
        // The load balancer appended the address it saw.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("198.51.100.7"));
        // Spoofing: the client sent its own X-Forwarded-For; the proxy appended the real one.
        let h = headers("x-forwarded-for", &["1.2.3.4, 9.9.9.9, 198.51.100.7"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("198.51.100.7"));
        // Spoofing with a trusted-looking address on the left changes nothing either.
        let h = headers("x-forwarded-for", &["10.0.0.1, 198.51.100.7"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("198.51.100.7"));
        // Several proxies, each trusted, each appending: skip them all.
        let h = headers(
            "x-forwarded-for",
            &["6.6.6.6, 198.51.100.7, 10.1.1.1, 10.2.2.2"],
        );
        assert_eq!(t.client_ip(ip(LB), &h), ip("198.51.100.7"));
        // Several header lines are one list.
        let h = headers("x-forwarded-for", &["6.6.6.6", "198.51.100.7, 10.1.1.1"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("198.51.100.7"));
        // No header: the proxy itself is the client (a health checker, say).
        assert_eq!(t.client_ip(ip(LB), &HeaderMap::new()), ip(LB));
        // Every hop trusted: the left-most.
        let h = headers("x-forwarded-for", &["10.9.9.9, 10.1.1.1"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("10.9.9.9"));
        // The other header kind is not read: the proxy would have passed it through untouched.
        let h = headers("forwarded", &["for=198.51.100.7"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip(LB));
    }

    #[test]
    fn ports_ipv6_and_mapped_addresses() {
        let t = xff("10.0.0.0/8, fd00::/8");
        for (value, want) in [
            ("198.51.100.7:4711", "198.51.100.7"),
            ("2001:db8::17", "2001:db8::17"),
            ("[2001:db8::17]:4711", "2001:db8::17"),
            ("[2001:db8::17]", "2001:db8::17"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
            (" 198.51.100.7 ", "198.51.100.7"),
        ] {
            let h = headers("x-forwarded-for", &[value]);
            assert_eq!(t.client_ip(ip(LB), &h), ip(want), "{value}");
        }
        // An IPv6 proxy chain.
        let h = headers("x-forwarded-for", &["2001:db8:1:2::9, fd00::2"]);
        assert_eq!(t.client_ip(ip("fd00::1"), &h), ip("2001:db8:1:2::9"));
        // A trusted IPv4 proxy seen over a dual-stack socket.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(t.client_ip(ip("::ffff:10.0.0.5"), &h), ip("198.51.100.7"));
        // Untrusted peers come back canonical too.
        assert_eq!(t.client_ip(ip("::ffff:203.0.113.1"), &h), ip("203.0.113.1"));
    }

    #[test]
    fn malformed_entries_end_the_walk_at_the_nearest_trusted_hop() {
        let t = xff("10.0.0.0/8");
        for value in [
            "garbage",
            "198.51.100.7, garbage",
            "198.51.100.7,,",
            "198.51.100.7, unknown",
            "198.51.100.7, 2001:db8::1:443x",
            "198.51.100.7, fe80::1%eth0",
            "198.51.100.7, 1.2.3.4:99999999",
            "198.51.100.7, [2001:db8::1]x",
            "198.51.100.7, 2001:db8::1:443:",
            "",
        ] {
            let h = headers("x-forwarded-for", &[value]);
            assert_eq!(t.client_ip(ip(LB), &h), ip(LB), "{value:?}");
        }
        // Behind a trusted hop the garbage stops at that hop, not at the peer.
        let h = headers("x-forwarded-for", &["198.51.100.7, nonsense, 10.1.1.1"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("10.1.1.1"));
        // A value that is not text at all.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"198.51.100.7\xff").unwrap(),
        );
        assert_eq!(t.client_ip(ip(LB), &h), ip(LB));
    }

    #[test]
    fn many_hops_are_bounded() {
        let t = xff("10.0.0.0/8");
        // A chain of trusted hops longer than the bound: the walk stops at the bound.
        let mut chain = vec!["198.51.100.7".to_owned()];
        chain.extend((0..MAX_HOPS + 5).map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 1)));
        let h = headers("x-forwarded-for", &[&chain.join(", ")]);
        let got = t.client_ip(ip(LB), &h);
        assert!(t.is_trusted(got), "{got}");
        // A client that prepends thousands of entries still gets its own address.
        let mut spoof: Vec<String> = (0..5000)
            .map(|i| format!("1.1.{}.{}", i / 250, i % 250))
            .collect();
        spoof.push("198.51.100.7".into());
        let h = headers("x-forwarded-for", &[&spoof.join(",")]);
        assert_eq!(t.client_ip(ip(LB), &h), ip("198.51.100.7"));
    }

    #[test]
    fn rfc_7239_forwarded() {
        let t = fwd("10.0.0.0/8, fd00::/8");
        for (value, want) in [
            ("for=198.51.100.7", "198.51.100.7"),
            ("For=198.51.100.7;proto=https;by=10.0.0.5", "198.51.100.7"),
            ("for=\"198.51.100.7:4711\"", "198.51.100.7"),
            ("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17"),
            // The client's own element on the left is ignored.
            ("for=1.2.3.4, for=198.51.100.7;proto=http", "198.51.100.7"),
            ("for=198.51.100.7, for=10.1.1.1", "198.51.100.7"),
            // A quoted `,` or `;` does not split.
            ("for=198.51.100.7;host=\"a,b;c\"", "198.51.100.7"),
        ] {
            let h = headers("forwarded", &[value]);
            assert_eq!(t.client_ip(ip(LB), &h), ip(want), "{value}");
        }
        // Obfuscated nodes, `unknown`, no `for`, two `for`, unbalanced quotes, unbracketed
        // IPv6 with a port: nothing believable left of the nearest trusted hop.
        for value in [
            "for=_hidden",
            "for=unknown",
            "for=\"_gazonk\"",
            "proto=https",
            "for=198.51.100.7;for=198.51.100.8",
            "for=\"198.51.100.7",
            "for=2001:db8::1:4711x",
            "for=198.51.100.7, for=_hidden",
            "garbage",
        ] {
            let h = headers("forwarded", &[value]);
            assert_eq!(t.client_ip(ip(LB), &h), ip(LB), "{value}");
        }
        let h = headers(
            "forwarded",
            &["for=198.51.100.7, for=_proxy1, for=10.1.1.1"],
        );
        assert_eq!(t.client_ip(ip(LB), &h), ip("10.1.1.1"));
        // X-Forwarded-For is not read when Forwarded is the configured header.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(t.client_ip(ip(LB), &h), ip(LB));
    }
}
