//! Every `ErrorInfo.reason` auth returns (see docs/auth.md, "Errors clients should handle"), and
//! the errors that carry them. `ID_TOKEN_*` / `TELEGRAM_*` reasons come from `stride-idp` as they
//! are; TOKEN_MISSING for a method without a token comes from the kit.

use stride_kit::AppError;

pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
pub const REFRESH_TOKEN_INVALID: &str = "REFRESH_TOKEN_INVALID";
pub const REFRESH_TOKEN_EXPIRED: &str = "REFRESH_TOKEN_EXPIRED";
pub const REFRESH_TOKEN_REVOKED: &str = "REFRESH_TOKEN_REVOKED";
pub const REFRESH_TOKEN_REUSED: &str = "REFRESH_TOKEN_REUSED";
pub const CODE_INVALID: &str = "CODE_INVALID";
pub const RESET_TOKEN_INVALID: &str = "RESET_TOKEN_INVALID";
pub const TOKEN_MISSING: &str = "TOKEN_MISSING";
pub const TOO_MANY_ATTEMPTS: &str = "TOO_MANY_ATTEMPTS";
pub const TOO_MANY_REQUESTS: &str = "TOO_MANY_REQUESTS";
pub const LAST_IDENTITY: &str = "LAST_IDENTITY";
pub const NOT_A_GUEST: &str = "NOT_A_GUEST";
pub const NO_PASSWORD: &str = "NO_PASSWORD";
pub const NO_EMAIL: &str = "NO_EMAIL";
pub const NO_ADDRESS: &str = "NO_ADDRESS";
pub const EMAIL_ALREADY_VERIFIED: &str = "EMAIL_ALREADY_VERIFIED";
pub const SIGN_IN_REQUIRED: &str = "SIGN_IN_REQUIRED";
pub const PROVIDER_NOT_CONFIGURED: &str = "PROVIDER_NOT_CONFIGURED";
pub const USERNAME_TAKEN: &str = "USERNAME_TAKEN";
pub const ACCOUNT_EXISTS: &str = "ACCOUNT_EXISTS";
pub const IDENTITY_IN_USE: &str = "IDENTITY_IN_USE";
pub const EMAIL_IN_USE: &str = "EMAIL_IN_USE";
pub const SESSION_ENDED: &str = "SESSION_ENDED";

/// One message for unknown accounts, pending ones and wrong passwords alike.
pub const INVALID_CREDENTIALS_MESSAGE: &str = "the email or password is incorrect";

/// The access token's session (`sid`) was revoked (logout, reuse, reset) or never existed:
/// auth's sensitive methods refuse it although the token has not expired (M3).
pub fn session_ended() -> AppError {
    AppError::unauthenticated(SESSION_ENDED, "this session has ended; sign in again")
}

pub fn invalid_credentials() -> AppError {
    AppError::unauthenticated(INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)
}

pub fn refresh_token_invalid() -> AppError {
    AppError::unauthenticated(REFRESH_TOKEN_INVALID, "the refresh token is invalid")
}

pub fn refresh_token_expired() -> AppError {
    AppError::unauthenticated(REFRESH_TOKEN_EXPIRED, "the refresh token has expired")
}

pub fn refresh_token_revoked() -> AppError {
    AppError::unauthenticated(
        REFRESH_TOKEN_REVOKED,
        "the session has ended; sign in again",
    )
}

pub fn refresh_token_reused() -> AppError {
    AppError::unauthenticated(
        REFRESH_TOKEN_REUSED,
        "the refresh token was already used; sign in again",
    )
}

pub fn code_invalid() -> AppError {
    AppError::unauthenticated(CODE_INVALID, "the code is wrong or has expired")
}

pub fn reset_token_invalid() -> AppError {
    AppError::unauthenticated(
        RESET_TOKEN_INVALID,
        "the reset link is invalid, used or expired; ask for a new one",
    )
}

/// A code purpose that is about an account, asked for without an access token.
pub fn token_missing_for_purpose() -> AppError {
    AppError::unauthenticated(TOKEN_MISSING, "this purpose needs an access token")
}

/// A throttle said no; the message says which.
pub fn too_many_attempts(message: &str) -> AppError {
    AppError::ResourceExhausted {
        reason: TOO_MANY_ATTEMPTS,
        message: message.into(),
    }
}

/// The password hasher's waiting line is full.
pub fn too_many_requests() -> AppError {
    AppError::ResourceExhausted {
        reason: TOO_MANY_REQUESTS,
        message: "the service is busy; retry shortly".into(),
    }
}

pub fn last_identity() -> AppError {
    AppError::precondition(LAST_IDENTITY, "the last way to sign in cannot be removed")
}

pub fn not_a_guest() -> AppError {
    AppError::precondition(NOT_A_GUEST, "only a guest account can be claimed")
}

pub fn no_password() -> AppError {
    AppError::precondition(
        NO_PASSWORD,
        "this account has no password; set one through password reset",
    )
}

pub fn no_email() -> AppError {
    AppError::precondition(NO_EMAIL, "the account has no email")
}

pub fn no_address() -> AppError {
    AppError::precondition(
        NO_ADDRESS,
        "the account has no email or phone to send a code to",
    )
}

pub fn email_already_verified() -> AppError {
    AppError::precondition(EMAIL_ALREADY_VERIFIED, "the email is already verified")
}

pub fn sign_in_required() -> AppError {
    AppError::precondition(
        SIGN_IN_REQUIRED,
        "merge into a signed-in account, not another guest",
    )
}

/// A sign-in method this deployment has not configured.
pub fn provider_not_configured() -> AppError {
    AppError::precondition(
        PROVIDER_NOT_CONFIGURED,
        "this sign-in method is not enabled",
    )
}

pub fn username_taken() -> AppError {
    AppError::AlreadyExists {
        reason: USERNAME_TAKEN,
        message: "this username is taken".into(),
    }
}

pub fn account_exists() -> AppError {
    AppError::AlreadyExists {
        reason: ACCOUNT_EXISTS,
        message: "an account with this email or username already exists".into(),
    }
}

pub fn identity_in_use() -> AppError {
    AppError::AlreadyExists {
        reason: IDENTITY_IN_USE,
        message: "this identity already belongs to an account".into(),
    }
}

pub fn email_in_use() -> AppError {
    AppError::AlreadyExists {
        reason: EMAIL_IN_USE,
        message: "another account took this email meanwhile".into(),
    }
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// `taken()` for a unique-index violation (the email, username or identity is someone else's),
/// an internal error for anything else.
pub fn unique_or(e: sqlx::Error, taken: fn() -> AppError) -> AppError {
    if is_unique_violation(&e) {
        taken()
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt as _;

    use super::*;

    fn reason_of(e: AppError) -> (Code, String) {
        let status = tonic::Status::from(e);
        let reason = status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default();
        (status.code(), reason)
    }

    #[test]
    fn constructors_carry_their_code_and_reason() {
        let cases: [(AppError, Code, &str); 14] = [
            (
                invalid_credentials(),
                Code::Unauthenticated,
                INVALID_CREDENTIALS,
            ),
            (
                refresh_token_reused(),
                Code::Unauthenticated,
                REFRESH_TOKEN_REUSED,
            ),
            (code_invalid(), Code::Unauthenticated, CODE_INVALID),
            (
                reset_token_invalid(),
                Code::Unauthenticated,
                RESET_TOKEN_INVALID,
            ),
            (
                token_missing_for_purpose(),
                Code::Unauthenticated,
                TOKEN_MISSING,
            ),
            (
                too_many_attempts("x"),
                Code::ResourceExhausted,
                TOO_MANY_ATTEMPTS,
            ),
            (
                too_many_requests(),
                Code::ResourceExhausted,
                TOO_MANY_REQUESTS,
            ),
            (last_identity(), Code::FailedPrecondition, LAST_IDENTITY),
            (not_a_guest(), Code::FailedPrecondition, NOT_A_GUEST),
            (
                provider_not_configured(),
                Code::FailedPrecondition,
                PROVIDER_NOT_CONFIGURED,
            ),
            (username_taken(), Code::AlreadyExists, USERNAME_TAKEN),
            (account_exists(), Code::AlreadyExists, ACCOUNT_EXISTS),
            (identity_in_use(), Code::AlreadyExists, IDENTITY_IN_USE),
            (email_in_use(), Code::AlreadyExists, EMAIL_IN_USE),
        ];
        for (e, code, reason) in cases {
            assert_eq!(reason_of(e), (code, reason.to_owned()));
        }
    }

    #[test]
    fn only_unique_violations_become_conflicts() {
        let e = unique_or(sqlx::Error::RowNotFound, account_exists);
        assert!(matches!(e, AppError::Internal(_)), "{e:?}");
    }
}
