//! Lowercase hex encoding and strict decoding (no dependency needed for 64-digit digests).

pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes exactly `N` bytes from `2 * N` hex digits of either case; anything else is `None`.
pub(crate) fn decode_exact<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(encode(&[0x00, 0xab, 0xff, 0x10]), "00abff10");
        assert_eq!(decode_exact::<2>("abFF"), Some([0xab, 0xff]));
        assert_eq!(decode_exact::<2>("abf"), None);
        assert_eq!(decode_exact::<2>("abfff"), None);
        assert_eq!(decode_exact::<2>("abgf"), None);
        assert_eq!(decode_exact::<2>("+bff"), None);
        assert_eq!(decode_exact::<1>("é"), None);
    }
}
