//! Just enough MIME to show a developer what was sent: the subject (RFC 2047 encoded-words) and
//! the first text/plain part (7bit/8bit, quoted-printable or base64), as UTF-8.

use base64::Engine;

use crate::url::hex_val;

const MAX_MULTIPART_DEPTH: usize = 4;

pub(crate) struct Parsed {
    pub subject: String,
    pub text: String,
}

/// `raw` is the message as received in DATA (CRLF line ends, dot-unstuffed).
pub(crate) fn parse_message(raw: &[u8]) -> Parsed {
    let (head, body) = split_head_body(raw);
    let headers = parse_headers(head);
    let subject = header(&headers, "subject")
        .map(decode_encoded_words)
        .unwrap_or_default();
    // The CRLF before the final "." belongs to the transport framing, not to the text.
    let body = body.strip_suffix(b"\r\n").unwrap_or(body);
    let text = text_part(&headers, body, 0).unwrap_or_default();
    Parsed { subject, text }
}

fn split_head_body(raw: &[u8]) -> (&[u8], &[u8]) {
    if let Some(i) = find(raw, b"\r\n\r\n") {
        return (&raw[..i], &raw[i + 4..]);
    }
    if let Some(i) = find(raw, b"\n\n") {
        return (&raw[..i], &raw[i + 2..]);
    }
    (raw, &[])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Unfolded `(lowercase name, value)` pairs.
fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    let head = String::from_utf8_lossy(head);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `type/subtype` lowercased and the parameters (names lowercased, quotes removed).
fn content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect();
    (mime, params)
}

fn text_part(headers: &[(String, String)], body: &[u8], depth: usize) -> Option<String> {
    let (mime, params) = content_type(header(headers, "content-type").unwrap_or("text/plain"));
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if mime.starts_with("multipart/") {
        if depth >= MAX_MULTIPART_DEPTH {
            return None;
        }
        let boundary = param("boundary")?;
        return split_multipart(body, boundary)
            .into_iter()
            .find_map(|part| {
                let (head, body) = split_head_body(part);
                text_part(&parse_headers(head), body, depth + 1)
            });
    }
    if mime != "text/plain" {
        return None;
    }
    let cte = header(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let bytes = match cte.as_str() {
        "quoted-printable" => decode_qp(body),
        "base64" => decode_base64(body).unwrap_or_else(|| body.to_vec()),
        _ => body.to_vec(),
    };
    let text = decode_charset(&bytes, param("charset").unwrap_or("utf-8"));
    Some(text.replace("\r\n", "\n"))
}

/// The parts between `--boundary` lines (without the CRLF that precedes each delimiter).
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| pos + i + 1);
        let line = &body[pos..end];
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if let Some(rest) = trimmed.strip_prefix(delimiter.as_bytes()) {
            if let Some(s) = start {
                let part = &body[s..pos];
                let part = part.strip_suffix(b"\n").unwrap_or(part);
                parts.push(part.strip_suffix(b"\r").unwrap_or(part));
            }
            if rest.starts_with(b"--") {
                return parts;
            }
            start = Some(end);
        }
        pos = end;
    }
    parts
}

fn decode_charset(bytes: &[u8], charset: &str) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        // Latin-1 bytes are the first 256 code points.
        "iso-8859-1" | "latin1" | "latin-1" => bytes.iter().map(|&b| char::from(b)).collect(),
        // UTF-8, US-ASCII and anything we do not know: show what we can.
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line breaks. Malformed escapes are
/// kept as they are, which is what a lenient reader shows.
pub(crate) fn decode_qp(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (input.get(i + 1), input.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) if hex_val(h).is_some() && hex_val(l).is_some() => {
                out.push(hex_val(h).unwrap_or(0) << 4 | hex_val(l).unwrap_or(0));
                i += 3;
            }
            (None, _) => i += 1,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// Base64 across lines (whitespace ignored); `None` if it is not base64 after all.
pub(crate) fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()
}

/// Decodes RFC 2047 encoded-words (`=?charset?B|Q?text?=`) in a header value. Whitespace between
/// two adjacent encoded-words is dropped, as the RFC says; anything undecodable stays verbatim.
pub(crate) fn decode_encoded_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_space = String::new();
    let mut after_word = false;
    while !rest.is_empty() {
        if rest.starts_with("=?")
            && let Some((decoded, len)) = encoded_word(rest)
        {
            if !after_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[len..];
            after_word = true;
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        rest = &rest[ch.len_utf8()..];
        if ch == ' ' || ch == '\t' {
            pending_space.push(ch);
            continue;
        }
        out.push_str(&pending_space);
        pending_space.clear();
        out.push(ch);
        after_word = false;
    }
    out.push_str(&pending_space);
    out
}

/// One encoded-word at the start of `s`: the decoded text and how many bytes it took.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains([' ', '\t']) || charset.is_empty() {
        return None;
    }
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    // RFC 2231 allows `charset*language`.
    let charset = charset.split('*').next().unwrap_or(charset);
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?,
        "Q" | "q" => decode_qp(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some((decode_charset(&bytes, charset), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_escapes_and_soft_breaks() {
        assert_eq!(
            decode_qp(b"Gr=C3=BC=C3=9Fe =E2=80=94 123456"),
            "Grüße — 123456".as_bytes()
        );
        assert_eq!(decode_qp(b"long=\r\nline"), b"longline");
        assert_eq!(decode_qp(b"bare=\nlf"), b"barelf");
        assert_eq!(decode_qp(b"a=3D=3db"), b"a==b");
        // Malformed escapes pass through.
        assert_eq!(decode_qp(b"50=%"), b"50=%");
        assert_eq!(decode_qp(b"end="), b"end");
    }

    #[test]
    fn base64_across_lines() {
        assert_eq!(
            decode_base64(b"R3LDvMOfZSDi\r\ngJQgMTIzNDU2\r\n").unwrap(),
            "Grüße — 123456".as_bytes()
        );
        assert!(decode_base64(b"not base64!").is_none());
    }

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_encoded_words("=?utf-8?b?R3LDvMOfZQ==?= und =?UTF-8?Q?S=C3=BC=C3=9F_es?="),
            "Grüße und Süß es"
        );
        // Whitespace between adjacent encoded words disappears; folded whitespace too.
        assert_eq!(
            decode_encoded_words("=?utf-8?q?Ihr_Code:?=  =?utf-8?q?_123?="),
            "Ihr Code: 123"
        );
        assert_eq!(decode_encoded_words("plain subject"), "plain subject");
        assert_eq!(
            decode_encoded_words("=?utf-8?x?abc?= x"),
            "=?utf-8?x?abc?= x"
        );
        assert_eq!(decode_encoded_words("=?iso-8859-1?q?caf=E9?="), "café");
    }

    #[test]
    fn parses_a_qp_message() {
        let raw = b"From: a@b.c\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\nzwei=\r\nte Zeile\r\n";
        let parsed = parse_message(raw);
        assert_eq!(parsed.subject, "Grüße");
        assert_eq!(parsed.text, "Grüße\nzweite Zeile");
    }

    #[test]
    fn parses_folded_headers_and_7bit() {
        let raw = b"Subject: =?utf-8?q?a?=\r\n =?utf-8?q?b?=\r\n\r\nhello\r\nworld\r\n";
        let parsed = parse_message(raw);
        assert_eq!(parsed.subject, "ab");
        assert_eq!(parsed.text, "hello\nworld");
    }

    #[test]
    fn finds_text_plain_in_multipart() {
        let raw = b"Subject: m\r\nContent-Type: multipart/alternative; boundary=\"XyZ\"\r\n\r\npreamble\r\n--XyZ\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\naGkgdGhlcmU=\r\n--XyZ--\r\n";
        assert_eq!(parse_message(raw).text, "hi there");
    }
}
