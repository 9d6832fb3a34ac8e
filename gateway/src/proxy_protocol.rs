//! PROXY protocol (HAProxy, v1 text and v2 binary) from a trusted load balancer: the header it
//! sends first on each connection names the client's address. Parsing is `ppp`'s; this module
//! only reads exactly the header's bytes off the connection (never a byte of the HTTP that
//! follows) and decides what it means for Stride.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The v2 signature (12 bytes).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 header is at most 107 bytes, CRLF included.
const V1_MAX: usize = 107;
/// Largest v2 address block (and TLVs) accepted.
const V2_MAX_PAYLOAD: usize = 1024;

/// Reads one PROXY header from the start of `io`.
///
/// `Ok(Some(source))`: the load balancer relayed a client at `source`. `Ok(None)`: a `LOCAL` (v2)
/// or `UNKNOWN` (v1) connection, the load balancer's own (a health check): the TCP peer stands.
/// `Err`: no valid header; the connection must be closed.
pub async fn read_header<R: AsyncRead + Unpin>(io: &mut R) -> Result<Option<SocketAddr>, String> {
    let mut head = [0u8; 12];
    io.read_exact(&mut head)
        .await
        .map_err(|e| format!("no PROXY header: {e}"))?;
    if &head == V2_SIGNATURE {
        let mut fixed = [0u8; 4];
        io.read_exact(&mut fixed)
            .await
            .map_err(|e| format!("short PROXY v2 header: {e}"))?;
        let [_, _, hi, lo] = fixed;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > V2_MAX_PAYLOAD {
            return Err(format!("PROXY v2 payload of {len} bytes"));
        }
        let mut header = Vec::with_capacity(16 + len);
        header.extend_from_slice(&head);
        header.extend_from_slice(&fixed);
        header.resize(16 + len, 0);
        if let Some(rest) = header.get_mut(16..) {
            io.read_exact(rest)
                .await
                .map_err(|e| format!("short PROXY v2 header: {e}"))?;
        }
        let parsed = ppp::v2::Header::try_from(header.as_slice())
            .map_err(|e| format!("bad PROXY v2 header: {e}"))?;
        return Ok(match (parsed.command, parsed.addresses) {
            (ppp::v2::Command::Local, _) => None,
            (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(a)) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(a)) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            // UNSPEC or a UNIX socket: nothing Stride can count a client by.
            (ppp::v2::Command::Proxy, _) => None,
        });
    }
    if !head.starts_with(b"PROXY ") {
        return Err("no PROXY header".into());
    }
    // v1: up to CRLF, one byte at a time so that nothing after the header is consumed.
    let mut line = head.to_vec();
    while !line.ends_with(b"\r\n") {
        if line.len() >= V1_MAX {
            return Err("PROXY v1 header longer than 107 bytes".into());
        }
        let byte = io
            .read_u8()
            .await
            .map_err(|e| format!("short PROXY v1 header: {e}"))?;
        line.push(byte);
    }
    let parsed = ppp::v1::Header::try_from(line.as_slice())
        .map_err(|e| format!("bad PROXY v1 header: {e}"))?;
    Ok(match parsed.addresses {
        ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Unknown => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `bytes`; also returns what is left unread (the HTTP that follows).
    async fn parse(bytes: &[u8]) -> (Result<Option<SocketAddr>, String>, Vec<u8>) {
        let mut rest = bytes;
        let result = read_header(&mut rest).await;
        (result, rest.to_vec())
    }

    const HTTP: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn v2(addresses: ppp::v2::Addresses, command: u8) -> Vec<u8> {
        ppp::v2::Builder::with_addresses(0x20 | command, ppp::v2::Protocol::Stream, addresses)
            .write_tlv(ppp::v2::Type::NoOp, &[42])
            .unwrap()
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn v1_headers_name_the_client_and_nothing_after_them_is_read() {
        for (header, want) in [
            (
                "PROXY TCP4 198.51.100.7 10.0.0.5 4711 8080\r\n",
                Some("198.51.100.7:4711"),
            ),
            (
                "PROXY TCP6 2001:db8::7 fd00::5 4711 8080\r\n",
                Some("[2001:db8::7]:4711"),
            ),
            ("PROXY UNKNOWN\r\n", None),
            ("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None),
        ] {
            let input = [header.as_bytes(), HTTP].concat();
            let (got, rest) = parse(&input).await;
            assert_eq!(got.unwrap(), want.map(|w| w.parse().unwrap()), "{header:?}");
            assert_eq!(rest, HTTP, "{header:?}");
        }
    }

    #[tokio::test]
    async fn v2_headers_name_the_client_and_nothing_after_them_is_read() {
        let v4: ppp::v2::Addresses =
            ppp::v2::IPv4::new([198, 51, 100, 7], [10, 0, 0, 5], 4711, 8080).into();
        let input = [v2(v4, 1).as_slice(), HTTP].concat();
        let (got, rest) = parse(&input).await;
        assert_eq!(got.unwrap(), Some("198.51.100.7:4711".parse().unwrap()));
        assert_eq!(rest, HTTP);

        let v6: ppp::v2::Addresses = (
            "[2001:db8::7]:4711".parse::<SocketAddr>().unwrap(),
            "[fd00::5]:8080".parse::<SocketAddr>().unwrap(),
        )
            .into();
        let input = [v2(v6, 1).as_slice(), HTTP].concat();
        let (got, rest) = parse(&input).await;
        assert_eq!(got.unwrap(), Some("[2001:db8::7]:4711".parse().unwrap()));
        assert_eq!(rest, HTTP);

        // LOCAL: the balancer's own connection (a health check).
        let input = [v2(v4, 0).as_slice(), HTTP].concat();
        let (got, rest) = parse(&input).await;
        assert_eq!(got.unwrap(), None);
        assert_eq!(rest, HTTP);
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        let v4: ppp::v2::Addresses =
            ppp::v2::IPv4::new([198, 51, 100, 7], [10, 0, 0, 5], 4711, 8080).into();
        let mut bad_version = v2(v4, 1);
        bad_version[12] = 0x31;
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend([0x21, 0x11, 0xff, 0xff]);
        let mut short = v2(v4, 1);
        short.truncate(20);
        let long_v1 = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
        for input in [
            HTTP.to_vec(),
            b"POST / HTTP/1.1\r\n".to_vec(),
            b"PROXY TCP4 198.51.100.7\r\n".to_vec(),
            b"PROXY TCP4 198.51.100.x 10.0.0.5 4711 8080\r\n".to_vec(),
            b"PROXY TCP4 198.51.100.7 10.0.0.5 4711 8080".to_vec(),
            long_v1.into_bytes(),
            bad_version,
            huge,
            short,
            Vec::new(),
        ] {
            let (got, _) = parse(&input).await;
            assert!(got.is_err(), "{input:?}: {got:?}");
        }
    }
}
