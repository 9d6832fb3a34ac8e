//! The errors activity-session answers with, beyond field violations (which name their fields).

use stride_kit::AppError;
use uuid::Uuid;

use crate::domain::session::Refused;

/// `ErrorInfo.reason` of a start while the caller already has a live session.
pub const SESSION_ALREADY_ACTIVE: &str = "SESSION_ALREADY_ACTIVE";
/// `ErrorInfo.reason` of an action on a session that already ended (completed, stopped, aborted).
pub const SESSION_NOT_ACTIVE: &str = "SESSION_NOT_ACTIVE";
/// `ErrorInfo.reason` of an action the live session's state forbids (pausing a paused one,
/// resuming a running one).
pub const SESSION_INVALID_TRANSITION: &str = "SESSION_INVALID_TRANSITION";
/// `ErrorInfo.reason` of `next` at the last step or `previous` at the first.
pub const SESSION_STEP_OUT_OF_RANGE: &str = "SESSION_STEP_OUT_OF_RANGE";

/// The `activity_id` names no activity of the catalog.
pub fn no_activity() -> AppError {
    AppError::not_found("activity")
}

/// No session of the caller has that id: someone else's session is indistinguishable from a
/// missing one.
pub fn no_session() -> AppError {
    AppError::not_found("session")
}

/// No routine of the caller (nor preset) has that id.
pub fn no_routine() -> AppError {
    AppError::not_found("routine")
}

/// A user has one live session at a time; says which one when known.
pub fn session_already_active(live: Option<Uuid>) -> AppError {
    let message = match live {
        Some(id) => {
            format!("session {id} is active: complete, stop or abort it before starting another")
        }
        None => "a session is active: complete, stop or abort it before starting another".into(),
    };
    AppError::precondition(SESSION_ALREADY_ACTIVE, message)
}

/// The state machine refused an action; the message names the current state.
pub fn refused(r: Refused) -> AppError {
    let reason = match r {
        Refused::Transition { state, .. } if !state.is_live() => SESSION_NOT_ACTIVE,
        Refused::Transition { .. } => SESSION_INVALID_TRANSITION,
        Refused::Bounds { .. } => SESSION_STEP_OUT_OF_RANGE,
    };
    AppError::precondition(reason, r.to_string())
}
