//! The errors challenge answers with, beyond field violations (which name their fields).

use stride_kit::AppError;

/// No challenge has the requested id.
pub fn no_challenge() -> AppError {
    AppError::not_found("challenge")
}
