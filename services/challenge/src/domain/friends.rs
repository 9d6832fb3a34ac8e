//! Friends: what a friend request does given how the two users already stand.

/// How the caller and another user stand, as far as a new request is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    pub is_self: bool,
    /// The other user is known (a profile was seen).
    pub known: bool,
    pub friends: bool,
    /// The caller already asked them.
    pub requested: bool,
    /// They already asked the caller.
    pub requested_by_them: bool,
    /// The caller blocked them.
    pub blocked_by_me: bool,
    /// They blocked the caller.
    pub blocked_by_them: bool,
}

/// What sending a friend request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Send {
    /// A new pending request.
    Request,
    /// They had asked already: the two become friends.
    AcceptTheirs,
    /// Asking yourself: INVALID_ARGUMENT on `user_id`.
    ToSelf,
    /// An unknown user — or one who blocked the caller, who must not learn it: NOT_FOUND.
    NotFound,
    /// The caller blocked them: unblock first (FAILED_PRECONDITION).
    BlockedByMe,
    /// Already friends, or already asked (ALREADY_EXISTS).
    AlreadyFriends,
    AlreadyRequested,
}

pub fn send(r: Relation) -> Send {
    if r.is_self {
        Send::ToSelf
    } else if !r.known || r.blocked_by_them {
        Send::NotFound
    } else if r.blocked_by_me {
        Send::BlockedByMe
    } else if r.friends {
        Send::AlreadyFriends
    } else if r.requested {
        Send::AlreadyRequested
    } else if r.requested_by_them {
        Send::AcceptTheirs
    } else {
        Send::Request
    }
}

/// Which side of requests a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Relation {
        Relation {
            known: true,
            ..Relation::default()
        }
    }

    #[test]
    fn a_first_request_is_pending() {
        assert_eq!(send(known()), Send::Request);
    }

    #[test]
    fn asking_back_makes_friends() {
        let r = Relation {
            requested_by_them: true,
            ..known()
        };
        assert_eq!(send(r), Send::AcceptTheirs);
    }

    #[test]
    fn self_unknown_and_duplicates_are_refused() {
        assert_eq!(
            send(Relation {
                is_self: true,
                ..known()
            }),
            Send::ToSelf
        );
        assert_eq!(send(Relation::default()), Send::NotFound);
        assert_eq!(
            send(Relation {
                friends: true,
                ..known()
            }),
            Send::AlreadyFriends
        );
        assert_eq!(
            send(Relation {
                requested: true,
                ..known()
            }),
            Send::AlreadyRequested
        );
    }

    #[test]
    fn blocks_hide_the_blocker_and_stop_the_blocked() {
        // Blocked by them: indistinguishable from an unknown user.
        let r = Relation {
            blocked_by_them: true,
            requested_by_them: true,
            ..known()
        };
        assert_eq!(send(r), Send::NotFound);
        let r = Relation {
            blocked_by_me: true,
            ..known()
        };
        assert_eq!(send(r), Send::BlockedByMe);
        // Both: the caller still must not learn they are blocked.
        let r = Relation {
            blocked_by_me: true,
            blocked_by_them: true,
            ..known()
        };
        assert_eq!(send(r), Send::NotFound);
    }
}
