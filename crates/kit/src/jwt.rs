//! Ed25519 signing keys and access-token minting (used by auth, and by test issuers).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::authn::{ACCESS_TOKEN_TYPE, Claims};

pub mod forge;

/// An Ed25519 key pair as stored: PKCS#8 private document and raw public key.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub pkcs8: Vec<u8>,
    pub public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key with a random `kid`.
    pub fn generate() -> anyhow::Result<Self> {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("Ed25519 key generation failed"))?;
        let pair =
            Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| anyhow::anyhow!("bad PKCS#8"))?;
        Ok(Self {
            kid: uuid::Uuid::now_v7().simple().to_string(),
            pkcs8: doc.as_ref().to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        })
    }

    /// Signs `claims` as an access token (`alg` EdDSA, `typ` at+jwt, `kid`).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ed_der(&self.pkcs8),
        )?)
    }

    /// The public half as a JWK (RFC 8037).
    pub fn jwk(&self) -> stride_proto::auth::Jwk {
        stride_proto::auth::Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(&self.public),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            r#use: "sig".into(),
        }
    }
}

/// Claims for a user's access token valid for `ttl` from `now` (unix seconds).
pub fn access_claims(
    user_id: uuid::Uuid,
    sid: &str,
    roles: Vec<String>,
    is_anonymous: bool,
    now: i64,
    ttl: i64,
) -> Claims {
    Claims {
        iss: crate::authn::ISSUER.into(),
        sub: user_id.to_string(),
        aud: crate::authn::AUDIENCE.into(),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::now_v7().to_string(),
        sid: sid.to_owned(),
        roles,
        is_anonymous,
    }
}

/// A key source over a fixed set of keys (tests, and auth verifying its own tokens).
pub struct StaticJwks(pub std::sync::Arc<std::sync::RwLock<Vec<stride_proto::auth::Jwk>>>);

impl crate::authn::JwksSource for StaticJwks {
    fn fetch(
        &self,
    ) -> futures::future::BoxFuture<'static, anyhow::Result<Vec<stride_proto::auth::Jwk>>> {
        let keys = self.0.read().map(|k| k.clone()).unwrap_or_default();
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::{TokenError, Verifier};
    use std::sync::{Arc, RwLock};

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[tokio::test]
    async fn verifies_own_tokens_and_rejects_forgeries() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let verifier = Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(vec![key.jwk()])))));
        let user = uuid::Uuid::now_v7();
        let good = key
            .sign(&access_claims(
                user,
                "s",
                vec!["user".into()],
                false,
                now(),
                900,
            ))
            .unwrap();
        let caller = verifier
            .caller(Some(&format!("Bearer {good}")))
            .await
            .unwrap();
        assert_eq!(caller.user_id, user);

        // Expired.
        let old = key
            .sign(&access_claims(user, "s", vec![], false, now() - 3600, 900))
            .unwrap();
        assert!(matches!(
            verifier.verify(&old).await,
            Err(TokenError::Expired)
        ));
        // Signed by a key the set does not hold.
        let forged = other
            .sign(&access_claims(user, "s", vec![], false, now(), 900))
            .unwrap();
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(TokenError::UnknownKey)
        ));
        // alg none: header {"alg":"none"} with the real payload and no signature.
        let parts: Vec<_> = good.split('.').collect();
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"x"}"#),
            parts[1]
        );
        assert!(matches!(
            verifier.verify(&none).await,
            Err(TokenError::Invalid)
        ));
        // HMAC with the public key as secret (algorithm confusion).
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some(ACCESS_TOKEN_TYPE.into());
        h.kid = Some(key.kid.clone());
        let claims = access_claims(user, "s", vec![], false, now(), 900);
        let hs = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&key.public)).unwrap();
        assert!(matches!(
            verifier.verify(&hs).await,
            Err(TokenError::Invalid)
        ));
        // Tampered payload.
        let mut c2 = claims.clone();
        c2.sub = uuid::Uuid::now_v7().to_string();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c2).unwrap()),
            parts[2]
        );
        assert!(matches!(
            verifier.verify(&tampered).await,
            Err(TokenError::Invalid)
        ));
        // Wrong audience.
        let mut c3 = claims.clone();
        c3.aud = "someone-else".into();
        assert!(matches!(
            verifier.verify(&key.sign(&c3).unwrap()).await,
            Err(TokenError::Invalid)
        ));
        // Missing and malformed headers.
        assert!(matches!(
            verifier.caller(None).await,
            Err(TokenError::Missing)
        ));
        assert!(matches!(
            verifier.caller(Some("Basic abc")).await,
            Err(TokenError::Malformed)
        ));
    }

    #[tokio::test]
    async fn a_remembered_token_still_needs_its_key_and_its_time() {
        let key = SigningKey::generate().unwrap();
        let set = Arc::new(RwLock::new(vec![key.jwk()]));
        let verifier = Verifier::new(Arc::new(StaticJwks(set.clone())));
        let user = uuid::Uuid::now_v7();
        let token = key
            .sign(&access_claims(user, "s", vec![], false, now(), 900))
            .unwrap();
        // Twice: the second answer comes from the cache and is the same.
        for _ in 0..2 {
            assert_eq!(verifier.verify(&token).await.unwrap().sub, user.to_string());
        }
        // A different token (one byte changed in the signature) is not a hit.
        let mut other = token.clone().into_bytes();
        let last = other.len() - 2;
        other[last] = if other[last] == b'A' { b'B' } else { b'A' };
        let other = String::from_utf8(other).unwrap();
        assert!(verifier.verify(&other).await.is_err());
        // Auth drops the key: the remembered token stops verifying with it.
        *set.write().unwrap() = vec![];
        verifier.refresh().await.unwrap();
        assert!(verifier.verify(&token).await.is_err());
        // Back in the set, it verifies again; then its time runs out while it is remembered.
        *set.write().unwrap() = vec![key.jwk()];
        verifier.refresh().await.unwrap();
        let short = key
            .sign(&access_claims(user, "s", vec![], false, now() - 60, 33))
            .unwrap();
        assert!(
            verifier.verify(&short).await.is_ok(),
            "27 s past exp is within the 30 s leeway"
        );
        // Three seconds later it is past the leeway, and the cache must say so.
        tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
        assert!(matches!(
            verifier.verify(&short).await,
            Err(TokenError::Expired)
        ));
    }
}
