//! Randomness, hashing and the sealed replay pair (aws-lc-rs).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use stride_kit::{AppError, AppResult};

const NONCE_LEN: usize = 12;

pub fn random_bytes<const N: usize>() -> AppResult<[u8; N]> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut raw = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| AppError::internal(anyhow::anyhow!("random generator failed")))?;
    Ok(raw)
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// What is stored for an opaque token (refresh, reset): its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

/// An opaque token (32 random bytes, base64url) and the SHA-256 that is stored. Refresh tokens
/// and reset tokens are made this way.
pub fn new_token() -> AppResult<(String, Vec<u8>)> {
    let raw: [u8; 32] = random_bytes()?;
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// Longer presented tokens (refresh, reset) are not even looked up.
pub const MAX_TOKEN_LEN: usize = 128;

/// Whether a presented opaque token is worth a lookup: present and not too long.
pub fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN
}

/// Equal contents, compared in constant time.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

fn replay_key(token: &str) -> Vec<u8> {
    // Distinct from the stored lookup hash (plain SHA-256 of the token).
    let mut input = b"stride.refresh.replay.v1\0".to_vec();
    input.extend_from_slice(token.as_bytes());
    sha256(&input)
}

/// Seals `plain` (the pair that replaced `replaced`) under a key derived from the replaced
/// refresh token, so the database alone cannot reveal it. Nonce first, then ciphertext and tag.
pub fn seal(replaced: &str, plain: &[u8]) -> AppResult<Vec<u8>> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &replay_key(replaced))
            .map_err(|_| AppError::internal(anyhow::anyhow!("aead key")))?,
    );
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    let mut data = plain.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .map_err(|_| AppError::internal(anyhow::anyhow!("aead seal")))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(out)
}

/// Opens what [`seal`] made with the same token; None for any other token or damaged input.
pub fn open(replaced: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &replay_key(replaced)).ok()?);
    let (nonce, data) = sealed.split_at_checked(NONCE_LEN)?;
    let mut data = data.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).ok()?,
            Aad::empty(),
            &mut data,
        )
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(ha, token_hash(&a));
        assert_eq!(ha.len(), 32);
    }

    #[test]
    fn presented_token_length_is_bounded() {
        assert!(!plausible_token(""));
        assert!(plausible_token(&"a".repeat(128)));
        assert!(!plausible_token(&"a".repeat(129)));
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sealed_pairs_open_only_with_the_replaced_token() {
        let (token, _) = new_token().unwrap();
        let sealed = seal(&token, b"the pair").unwrap();
        assert_eq!(open(&token, &sealed).as_deref(), Some(&b"the pair"[..]));
        // Fresh nonce each time.
        assert_ne!(seal(&token, b"the pair").unwrap(), sealed);
        let (other, _) = new_token().unwrap();
        assert_eq!(open(&other, &sealed), None);
        // Damaged or truncated input never opens.
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(open(&token, &flipped), None);
        assert_eq!(open(&token, &sealed[..NONCE_LEN]), None);
        assert_eq!(open(&token, &sealed[..5]), None);
    }

    #[test]
    fn the_replay_key_is_not_the_lookup_hash() {
        let (token, hash) = new_token().unwrap();
        assert_ne!(replay_key(&token), hash);
        assert_eq!(replay_key(&token).len(), 32);
    }

    #[test]
    fn same_compares_contents() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
