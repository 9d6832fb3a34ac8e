//! The errors activity-session answers with, beyond field violations (which name their fields).

use stride_kit::AppError;
use uuid::Uuid;

use crate::domain::session::Refused;

/// `ErrorInfo.reason` of a start while the caller already has a live session.
pub const SESSION_ALREADY_ACTIVE: &str = "SESSION_ALREADY_ACTIVE";
pub const SESSION_CONTENDED: &str = "SESSION_CONTENDED";
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

/// The `exercise_id` names no exercise of the library.
pub fn no_exercise() -> AppError {
    AppError::not_found("exercise")
}

/// The `plan_id` names no workout plan template.
pub fn no_workout_plan() -> AppError {
    AppError::not_found("workout plan")
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

/// A live transition lost the race to concurrent ones on the same session, every time it read
/// the session again: nothing was changed; the caller may retry.
pub fn session_contended() -> AppError {
    AppError::Aborted {
        reason: SESSION_CONTENDED,
        message: "the session changed while this action was applied; retry it".into(),
    }
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

// ---- tasks, shutdown reflections, learning (issue 13, part C) ----

/// No task of the caller has that id (someone else's is indistinguishable from a missing one).
pub fn no_task() -> AppError {
    AppError::not_found("task")
}

/// No shutdown reflection of the caller has that id.
pub fn no_reflection() -> AppError {
    AppError::not_found("shutdown reflection")
}

pub fn no_subject() -> AppError {
    AppError::not_found("subject")
}

pub fn no_topic() -> AppError {
    AppError::not_found("topic")
}

pub fn no_lesson() -> AppError {
    AppError::not_found("lesson")
}

/// `ErrorInfo.reason` of a user-plan status change the current status does not allow.
pub const PLAN_STATUS: &str = "PLAN_STATUS";
/// `ErrorInfo.reason` of assigning a template the caller already runs (active or paused).
pub const PLAN_ALREADY_RUNNING: &str = "PLAN_ALREADY_RUNNING";

/// No user plan of the caller has that id.
pub fn no_user_plan() -> AppError {
    AppError::not_found("user plan")
}

/// The user plan's template has no plan exercise with that id.
pub fn no_plan_exercise() -> AppError {
    AppError::not_found("plan exercise")
}

/// No workout log of the caller has that id.
pub fn no_workout_log() -> AppError {
    AppError::not_found("workout log")
}

/// `action` is not possible from `status`; the message says the current status.
pub fn plan_status(action: &str, status: &str) -> AppError {
    AppError::precondition(
        PLAN_STATUS,
        format!("cannot {action} a user plan that is {status}"),
    )
}

/// The caller runs that template already.
pub fn plan_already_running() -> AppError {
    AppError::already_exists(
        PLAN_ALREADY_RUNNING,
        "this plan is already assigned and active or paused: complete or remove it first",
    )
}
