//! The errors profile answers with, beyond field violations (which name their fields).

use stride_kit::AppError;

/// The caller has no profile (yet): it is created from `user.registered.v1`, moments after
/// sign-up.
pub fn no_profile() -> AppError {
    AppError::not_found("profile")
}
