//! The errors activity-session answers with, beyond field violations (which name their fields).

use stride_kit::AppError;

/// `ErrorInfo.reason` of a start while the caller already has an active session.
pub const SESSION_ALREADY_ACTIVE: &str = "SESSION_ALREADY_ACTIVE";
/// `ErrorInfo.reason` of completing a session that is already completed.
pub const SESSION_NOT_ACTIVE: &str = "SESSION_NOT_ACTIVE";

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

/// A user has one active session at a time.
pub fn session_already_active() -> AppError {
    AppError::precondition(
        SESSION_ALREADY_ACTIVE,
        "complete the active session before starting another",
    )
}

/// Completing a session twice: the first completion was announced, a second would count it again.
pub fn session_not_active() -> AppError {
    AppError::precondition(SESSION_NOT_ACTIVE, "the session is already completed")
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

/// No workout plan template has that id.
pub fn no_workout_plan() -> AppError {
    AppError::not_found("workout plan")
}

/// No user plan of the caller has that id.
pub fn no_user_plan() -> AppError {
    AppError::not_found("user plan")
}

/// The user plan's template has no plan exercise with that id.
pub fn no_plan_exercise() -> AppError {
    AppError::not_found("plan exercise")
}

/// The exercise library has no exercise with that id.
pub fn no_exercise() -> AppError {
    AppError::not_found("exercise")
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
