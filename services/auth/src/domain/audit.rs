//! The security log's vocabulary (its kinds) and its read side's cursor and detail rendering.

use std::collections::HashMap;

pub const ACCOUNT_CREATED: &str = "account.created";
pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
pub const LOGIN_FAILED: &str = "login.failed";
pub const REAUTHENTICATION_FAILED: &str = "reauthentication.failed";
pub const SESSION_REVOKED: &str = "session.revoked";
pub const SESSION_LOGOUT_ALL: &str = "session.logout_all";
pub const SESSION_REUSE_DETECTED: &str = "session.reuse_detected";
pub const PASSWORD_CHANGED: &str = "password.changed";
pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
pub const PASSWORD_RESET: &str = "password.reset";
pub const EMAIL_VERIFIED: &str = "email.verified";
pub const EMAIL_CHANGED: &str = "email.changed";
pub const IDENTITY_LINKED: &str = "identity.linked";
pub const IDENTITY_UNLINKED: &str = "identity.unlinked";
pub const GUEST_CLAIMED: &str = "guest.claimed";
pub const GUEST_MERGED: &str = "guest.merged";
pub const ROLES_CHANGED: &str = "roles.changed";
/// An address was proved for the first time: what had been attached to it before was removed.
pub const UNPROVED_CREDENTIALS_REMOVED: &str = "account.unproved_credentials_removed";
/// A guest asked to claim its account with an email (not attached until proved).
pub const GUEST_CLAIM_REQUESTED: &str = "guest.claim_requested";
/// A rotated refresh token was presented again within the grace and answered with the same pair.
pub const SESSION_REPLAYED: &str = "session.replayed";
/// Too many wrong one-time codes for an address: code sign-in is locked.
pub const CODES_LOCKED: &str = "codes.locked";

pub const DEFAULT_PAGE_SIZE: usize = 50;

/// What a sign-in that may create or link an account is logged as.
pub fn sign_in_kind(created: bool, linked: bool) -> &'static str {
    if created {
        ACCOUNT_CREATED
    } else if linked {
        IDENTITY_LINKED
    } else {
        LOGIN_SUCCEEDED
    }
}

/// Stored details (a JSON object) as the string map clients read: strings as they are, other
/// values as JSON text.
pub fn flatten_details(details: &serde_json::Value) -> HashMap<String, String> {
    details
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_are_logged_by_what_they_did() {
        assert_eq!(sign_in_kind(true, false), ACCOUNT_CREATED);
        assert_eq!(sign_in_kind(true, true), ACCOUNT_CREATED);
        assert_eq!(sign_in_kind(false, true), IDENTITY_LINKED);
        assert_eq!(sign_in_kind(false, false), LOGIN_SUCCEEDED);
    }

    #[test]
    fn details_render_as_strings() {
        let d = flatten_details(&serde_json::json!({
            "method": "password", "sessions_ended": 3, "ok": true
        }));
        assert_eq!(d["method"], "password");
        assert_eq!(d["sessions_ended"], "3");
        assert_eq!(d["ok"], "true");
        assert!(flatten_details(&serde_json::json!([1, 2])).is_empty());
        assert!(flatten_details(&serde_json::Value::Null).is_empty());
    }
}
