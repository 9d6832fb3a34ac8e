//! What a developer needs to see of a caught mail: the decoded subject and the first text body,
//! through `mail-parser` (RFC 2047 subjects, quoted-printable and base64 bodies, single-byte
//! charsets such as ISO-8859-x and windows-125x, nested multiparts, and text from HTML when
//! there is no text/plain part).

use mail_parser::MessageParser;

pub(crate) struct Parsed {
    pub subject: String,
    pub text: String,
}

/// `raw` is the message as received in DATA (CRLF line ends, dot-unstuffed). Both fields are
/// empty when there is nothing to show; line ends in the text are `\n`.
pub(crate) fn parse_message(raw: &[u8]) -> Parsed {
    // The CRLF before the final "." belongs to the transport framing, not to the text.
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    let Some(message) = MessageParser::default().parse(raw) else {
        return Parsed {
            subject: String::new(),
            text: String::new(),
        };
    };
    Parsed {
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|text| text.replace("\r\n", "\n"))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(header: &str) -> String {
        parse_message(format!("Subject: {header}\r\n\r\nbody\r\n").as_bytes()).subject
    }

    fn qp_text(body: &str) -> String {
        let raw = format!(
            "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n"
        );
        parse_message(raw.as_bytes()).text
    }

    #[test]
    fn parses_a_qp_message() {
        let raw = b"From: a@b.c\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\nzwei=\r\nte Zeile\r\n";
        let parsed = parse_message(raw);
        assert_eq!(parsed.subject, "Grüße");
        assert_eq!(parsed.text, "Grüße\nzweite Zeile");
    }

    #[test]
    fn quoted_printable_body() {
        assert_eq!(
            qp_text("Gr=C3=BC=C3=9Fe =E2=80=94 123456"),
            "Grüße — 123456"
        );
        assert_eq!(qp_text("long=\r\nline"), "longline");
        assert_eq!(qp_text("a=3D=3db"), "a==b");
    }

    #[test]
    fn base64_body_across_lines() {
        let raw = b"Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSDi\r\ngJQgMTIzNDU2\r\n";
        assert_eq!(parse_message(raw).text, "Grüße — 123456");
    }

    #[test]
    fn rfc2047_subjects() {
        assert_eq!(
            subject("=?utf-8?b?R3LDvMOfZQ==?= und =?UTF-8?Q?S=C3=BC=C3=9F_es?="),
            "Grüße und Süß es"
        );
        // Whitespace between adjacent encoded words disappears.
        assert_eq!(
            subject("=?utf-8?q?Ihr_Code:?=  =?utf-8?q?_123?="),
            "Ihr Code: 123"
        );
        assert_eq!(subject("plain subject"), "plain subject");
        assert_eq!(subject("=?iso-8859-1?q?caf=E9?="), "café");
        assert_eq!(
            subject("=?UTF-8?B?0JrQvtC0INC/0L7QtNGC0LLQtdGA0LbQtNC10L3QuNGP?="),
            "Код подтверждения"
        );
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

    #[test]
    fn html_only_falls_back_to_text() {
        let raw = b"Subject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Your code is <b>123456</b></p></body></html>\r\n";
        let text = parse_message(raw).text;
        assert!(text.contains("Your code is 123456"), "{text:?}");
        assert!(!text.contains('<'), "{text:?}");
    }

    #[test]
    fn latin1_body_and_subject() {
        let mut raw =
            b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                .to_vec();
        raw.extend_from_slice(b"Gr\xfc\xdfe, caf\xe9\r\n");
        let parsed = parse_message(&raw);
        assert_eq!(parsed.subject, "Grüße");
        assert_eq!(parsed.text, "Grüße, café");
    }

    #[test]
    fn quoted_boundary_with_a_semicolon_and_nested_multipart() {
        let raw = b"Subject: n\r\nContent-Type: multipart/mixed; boundary=\"a;b\"\r\n\r\n--a;b\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nnested text\r\n--inner--\r\n--a;b--\r\n";
        assert_eq!(parse_message(raw).text, "nested text");
    }

    #[test]
    fn nothing_to_show() {
        let parsed = parse_message(b"");
        assert_eq!((parsed.subject.as_str(), parsed.text.as_str()), ("", ""));
    }
}
