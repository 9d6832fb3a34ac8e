//! The errors challenge answers with, beyond field violations (which name their fields).

use stride_kit::AppError;

/// No challenge has the requested id.
pub fn no_challenge() -> AppError {
    AppError::not_found("challenge")
}

/// No user with that id (or one who blocked the caller, who must not learn it).
pub fn no_user() -> AppError {
    AppError::not_found("user")
}

/// No pending friend request with that id addressed to (or sent by) the caller.
pub fn no_friend_request() -> AppError {
    AppError::not_found("friend request")
}

/// The caller and that user are not friends.
pub fn no_friend() -> AppError {
    AppError::not_found("friend")
}

/// Already friends.
pub fn already_friends() -> AppError {
    AppError::already_exists("ALREADY_FRIENDS", "you are already friends")
}

/// A request to that user is already pending.
pub fn already_requested() -> AppError {
    AppError::already_exists(
        "FRIEND_REQUEST_PENDING",
        "a friend request to this user is already pending",
    )
}

/// The caller blocked that user: unblock first.
pub fn user_blocked() -> AppError {
    AppError::precondition("USER_BLOCKED", "you blocked this user; unblock them first")
}
