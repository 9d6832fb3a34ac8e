//! The errors challenge answers with, beyond field violations (which name their fields).

use stride_kit::AppError;

/// No challenge has the requested id, or the caller may not see it, or (for an owner's
/// change) it is not the caller's: another user's challenge is NOT_FOUND.
pub fn no_challenge() -> AppError {
    AppError::not_found("challenge")
}

/// The challenge has as many participants as its cap allows.
pub fn challenge_full() -> AppError {
    AppError::precondition(
        "CHALLENGE_FULL",
        "the challenge has reached its participant cap",
    )
}

/// The challenge's window is over (or its owner ended it): it can no longer be joined or ended.
pub fn challenge_ended() -> AppError {
    AppError::precondition("CHALLENGE_ENDED", "the challenge has ended")
}

/// An owner changes a challenge only before its first day.
pub fn challenge_started() -> AppError {
    AppError::precondition(
        "CHALLENGE_STARTED",
        "a challenge can be changed only before its first day",
    )
}

/// A challenge that paid points is kept for the points' sake: end it instead.
pub fn challenge_has_awards() -> AppError {
    AppError::precondition(
        "CHALLENGE_HAS_AWARDS",
        "the challenge paid points and cannot be deleted; end it instead",
    )
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
