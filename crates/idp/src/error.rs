//! The one error type of this crate, with stable reason codes the caller maps to gRPC statuses.

/// Stable reason codes carried by [`IdpError::InvalidToken`] (and returned by [`IdpError::reason`]).
///
/// They are part of the API: the auth service puts them into `google.rpc.ErrorInfo.reason`.
pub mod reason {
    /// Not a well-formed compact JWS, too large, undecodable JSON, or a required claim is
    /// missing or has the wrong type (`kid`, `exp`, `iat`, `sub`).
    pub const ID_TOKEN_MALFORMED: &str = "ID_TOKEN_MALFORMED";
    /// The header asks for a verification method we do not allow: `alg` outside the allow-list
    /// (`none`, HMAC, ...), embedded or remote key material (`jwk`, `jku`, `x5u`, `x5c`),
    /// `crit` extensions, or an `alg` that does not fit the key the `kid` names.
    pub const ID_TOKEN_ALGORITHM: &str = "ID_TOKEN_ALGORITHM";
    /// The `kid` is not in the provider's current key set (after the rate-limited refetch).
    pub const ID_TOKEN_UNKNOWN_KEY: &str = "ID_TOKEN_UNKNOWN_KEY";
    /// The signature does not verify with the provider's key.
    pub const ID_TOKEN_SIGNATURE: &str = "ID_TOKEN_SIGNATURE";
    /// `iss` is not one of the provider's issuers.
    pub const ID_TOKEN_ISSUER: &str = "ID_TOKEN_ISSUER";
    /// `aud` names none of our client ids, or `azp` is not ours on a multi-audience token.
    pub const ID_TOKEN_AUDIENCE: &str = "ID_TOKEN_AUDIENCE";
    /// `exp` is in the past (beyond the leeway).
    pub const ID_TOKEN_EXPIRED: &str = "ID_TOKEN_EXPIRED";
    /// `iat` (or `nbf`) is in the future beyond the leeway: a clock problem on one side.
    pub const ID_TOKEN_NOT_YET_VALID: &str = "ID_TOKEN_NOT_YET_VALID";
    /// The nonce is missing (on either side) or the token's `nonce` is not SHA-256(raw nonce).
    pub const ID_TOKEN_NONCE: &str = "ID_TOKEN_NONCE";
    /// The Telegram hash does not match the data.
    pub const TELEGRAM_SIGNATURE: &str = "TELEGRAM_SIGNATURE";
    /// The Telegram `auth_date` is older than the allowed age or too far in the future.
    pub const TELEGRAM_EXPIRED: &str = "TELEGRAM_EXPIRED";
    /// The Telegram payload is not well formed (hash not 64 hex digits, bad id, oversized or
    /// multi-line fields).
    pub const TELEGRAM_MALFORMED: &str = "TELEGRAM_MALFORMED";
    /// A Facebook access token that the Graph API says is not valid (revoked, malformed, not a
    /// user token), or whose `/me` is another user.
    pub const FACEBOOK_TOKEN_INVALID: &str = "FACEBOOK_TOKEN_INVALID";
    /// A Facebook access token minted for another app than ours.
    pub const FACEBOOK_TOKEN_AUDIENCE: &str = "FACEBOOK_TOKEN_AUDIENCE";
    /// A Facebook access token past its `expires_at`.
    pub const FACEBOOK_TOKEN_EXPIRED: &str = "FACEBOOK_TOKEN_EXPIRED";
    /// The token endpoint refused the authorization code (`invalid_grant`: wrong, used or
    /// expired code, or a PKCE verifier that does not match).
    pub const OAUTH_CODE_INVALID: &str = "OAUTH_CODE_INVALID";
    /// [`super::IdpError::KeysUnavailable`]: the provider's keys could not be fetched.
    pub const IDP_UNAVAILABLE: &str = "IDP_UNAVAILABLE";
    /// [`super::IdpError::NotConfigured`].
    pub const IDP_NOT_CONFIGURED: &str = "IDP_NOT_CONFIGURED";
}

/// Why an external identity could not be verified.
///
/// Suggested gRPC mapping: `InvalidToken` → UNAUTHENTICATED (or INVALID_ARGUMENT for the
/// `*_MALFORMED` reasons), `KeysUnavailable` → UNAVAILABLE, `NotConfigured` → FAILED_PRECONDITION.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The credential was checked and rejected; `reason` is one of [`reason`]'s constants.
    /// `detail` is for logs, not for end users.
    #[error("{reason}: {detail}")]
    InvalidToken {
        reason: &'static str,
        detail: String,
    },
    /// The provider's key set could not be fetched and no usable cached copy exists.
    #[error("identity provider keys unavailable: {0:#}")]
    KeysUnavailable(anyhow::Error),
    /// The provider is not set up (no client ids, no issuers, no bot token, bad keys URL).
    #[error("identity provider not configured: {0}")]
    NotConfigured(String),
}

impl IdpError {
    pub(crate) fn invalid(reason: &'static str, detail: impl Into<String>) -> Self {
        IdpError::InvalidToken {
            reason,
            detail: detail.into(),
        }
    }

    /// The stable reason code of this error (see [`reason`]).
    pub fn reason(&self) -> &'static str {
        match self {
            IdpError::InvalidToken { reason, .. } => reason,
            IdpError::KeysUnavailable(_) => reason::IDP_UNAVAILABLE,
            IdpError::NotConfigured(_) => reason::IDP_NOT_CONFIGURED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_stable() {
        assert_eq!(
            IdpError::invalid(reason::ID_TOKEN_NONCE, "x").reason(),
            "ID_TOKEN_NONCE"
        );
        assert_eq!(
            IdpError::KeysUnavailable(anyhow::anyhow!("down")).reason(),
            "IDP_UNAVAILABLE"
        );
        assert_eq!(
            IdpError::NotConfigured("no ids".into()).reason(),
            "IDP_NOT_CONFIGURED"
        );
        let shown = IdpError::invalid(reason::ID_TOKEN_ISSUER, "iss evil").to_string();
        assert_eq!(shown, "ID_TOKEN_ISSUER: iss evil");
    }
}
