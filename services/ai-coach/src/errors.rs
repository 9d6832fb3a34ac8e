//! The errors ai-coach answers with, beyond field violations (`goal`) and the kit's.

use stride_kit::AppError;

/// analytics or activity-session could not be reached: the coach has nothing to advise from.
/// Says nothing about where or why (that goes to the log).
pub fn upstream_unavailable() -> AppError {
    AppError::Unavailable(
        "the coach cannot reach your progress right now; try again shortly".into(),
    )
}
