//! FriendService: requests (to self, unknown, duplicate, crossing), accept and decline by the
//! right party only, remove, block and unblock; the friends board; a blocked user never sees or
//! appears to the blocker.

use stride_proto::challenge::{self as pb, LeaderboardPeriod, LeaderboardScope};
use stride_testkit::{
    authed,
    bus::{Publisher, assert_invalid},
};
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, board, deliver, friends, profile, start};

async fn ask(
    h: &Harness,
    from: Uuid,
    to: &str,
) -> Result<pb::SendFriendRequestResponse, tonic::Status> {
    friends(h)
        .send_friend_request(authed(
            pb::SendFriendRequestRequest { user_id: to.into() },
            &h.token(from),
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn friend_ids(h: &Harness, user: Uuid) -> Vec<String> {
    friends(h)
        .list_friends(authed(pb::ListFriendsRequest::default(), &h.token(user)))
        .await
        .expect("friends")
        .into_inner()
        .friends
        .into_iter()
        .map(|f| f.user_id)
        .collect()
}

async fn requests(
    h: &Harness,
    user: Uuid,
    direction: pb::FriendRequestDirection,
) -> Vec<pb::FriendRequest> {
    friends(h)
        .list_friend_requests(authed(
            pb::ListFriendRequestsRequest {
                direction: direction as i32,
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect("requests")
        .into_inner()
        .requests
}

/// The user ids on `user`'s all-time XP board of `scope`.
async fn on_board(h: &Harness, user: Uuid, scope: LeaderboardScope) -> Vec<String> {
    board(
        h,
        user,
        pb::GetLeaderboardRequest {
            period: LeaderboardPeriod::AllTime as i32,
            metric: pb::LeaderboardMetric::Xp as i32,
            scope: scope as i32,
            around: 5,
            ..Default::default()
        },
    )
    .await
    .expect("board")
    .entries
    .into_iter()
    .map(|e| e.user_id)
    .collect()
}

#[tokio::test]
async fn requests_friendships_blocks_and_the_friends_board() {
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let (ann, bob, cyd, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    // Everyone has XP (more for later users), so everyone is on the all-time XP board.
    for (i, (u, name)) in [(ann, "Ann"), (bob, "Bob"), (cyd, "Cyd"), (dan, "Dan")]
        .into_iter()
        .enumerate()
    {
        deliver(&h, &profiles, &profile(u, name, "UTC")).await;
        let minutes = time::Duration::minutes(10 + 10 * i64::try_from(i).unwrap());
        let e = stride_testkit::fixtures::session_completed(
            u,
            "study",
            datetime!(2026-11-18 08:00 UTC),
            minutes,
            "UTC",
        );
        deliver(&h, &activity, &e).await;
    }

    // Bad requests, each named or refused clearly.
    assert_invalid(
        &ask(&h, ann, "nope").await.expect_err("bad id"),
        &["user_id"],
    );
    assert_invalid(
        &ask(&h, ann, &ann.to_string()).await.expect_err("self"),
        &["user_id"],
    );
    let unknown = ask(&h, ann, &Uuid::now_v7().to_string())
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);

    // Ann asks Bob; asking twice is ALREADY_EXISTS; each side sees the request.
    let req = ask(&h, ann, &bob.to_string())
        .await
        .expect("ask")
        .request
        .expect("request");
    assert_eq!(
        (req.from_display_name.as_str(), req.to_display_name.as_str()),
        ("Ann", "Bob")
    );
    assert_eq!(
        ask(&h, ann, &bob.to_string())
            .await
            .expect_err("twice")
            .code(),
        Code::AlreadyExists
    );
    assert_eq!(
        requests(&h, bob, pb::FriendRequestDirection::Incoming)
            .await
            .len(),
        1
    );
    assert_eq!(
        requests(&h, ann, pb::FriendRequestDirection::Outgoing)
            .await
            .len(),
        1
    );
    assert!(
        requests(&h, ann, pb::FriendRequestDirection::Incoming)
            .await
            .is_empty()
    );

    // Only Bob may accept it; Cyd's attempt is NOT_FOUND.
    let accept = |user: Uuid, id: String| {
        let mut c = friends(&h);
        let tok = h.token(user);
        async move {
            c.accept_friend_request(authed(
                pb::AcceptFriendRequestRequest { request_id: id },
                &tok,
            ))
            .await
            .map(tonic::Response::into_inner)
        }
    };
    assert_eq!(
        accept(cyd, req.id.clone())
            .await
            .expect_err("not cyd's")
            .code(),
        Code::NotFound
    );
    assert_eq!(
        accept(ann, req.id.clone())
            .await
            .expect_err("not the sender")
            .code(),
        Code::NotFound
    );
    let f = accept(bob, req.id.clone())
        .await
        .expect("accept")
        .friend
        .expect("friend");
    assert_eq!(
        (f.user_id.clone(), f.display_name.as_str()),
        (ann.to_string(), "Ann")
    );
    assert_eq!(friend_ids(&h, ann).await, [bob.to_string()]);
    assert_eq!(friend_ids(&h, bob).await, [ann.to_string()]);
    assert_eq!(
        ask(&h, bob, &ann.to_string())
            .await
            .expect_err("friends")
            .code(),
        Code::AlreadyExists
    );

    // Ann asks Cyd, who declines.
    let req = ask(&h, ann, &cyd.to_string())
        .await
        .expect("ask")
        .request
        .expect("request");
    friends(&h)
        .decline_friend_request(authed(
            pb::DeclineFriendRequestRequest {
                request_id: req.id.clone(),
            },
            &h.token(cyd),
        ))
        .await
        .expect("decline");
    assert!(
        requests(&h, cyd, pb::FriendRequestDirection::Incoming)
            .await
            .is_empty()
    );
    let again = friends(&h)
        .decline_friend_request(authed(
            pb::DeclineFriendRequestRequest { request_id: req.id },
            &h.token(cyd),
        ))
        .await
        .expect_err("gone");
    assert_eq!(again.code(), Code::NotFound);

    // Dan and Ann ask each other: the second request makes them friends.
    assert!(
        ask(&h, dan, &ann.to_string())
            .await
            .expect("ask")
            .request
            .is_some()
    );
    let crossed = ask(&h, ann, &dan.to_string()).await.expect("ask back");
    assert!(crossed.request.is_none());
    assert_eq!(crossed.friend.expect("friend").user_id, dan.to_string());

    // The friends board: Ann, Bob and Dan — not Cyd.
    let mut fb = on_board(&h, ann, LeaderboardScope::Friends).await;
    fb.sort();
    let mut expected = vec![ann.to_string(), bob.to_string(), dan.to_string()];
    expected.sort();
    assert_eq!(fb, expected);
    assert_eq!(on_board(&h, cyd, LeaderboardScope::Global).await.len(), 4);

    // Ann blocks Dan: no friendship; neither appears to the other on any board; Dan cannot
    // reach Ann (as if she did not exist), Ann must unblock first.
    let blocked = friends(&h)
        .block_user(authed(
            pb::BlockUserRequest {
                user_id: dan.to_string(),
            },
            &h.token(ann),
        ))
        .await
        .expect("block")
        .into_inner()
        .blocked
        .expect("blocked");
    assert_eq!(blocked.display_name, "Dan");
    assert!(!friend_ids(&h, ann).await.contains(&dan.to_string()));
    assert!(friend_ids(&h, dan).await.is_empty());
    for scope in [LeaderboardScope::Global, LeaderboardScope::Friends] {
        assert!(
            !on_board(&h, ann, scope).await.contains(&dan.to_string()),
            "{scope:?}"
        );
        assert!(
            !on_board(&h, dan, scope).await.contains(&ann.to_string()),
            "{scope:?}"
        );
    }
    assert!(
        on_board(&h, bob, LeaderboardScope::Global)
            .await
            .contains(&dan.to_string())
    );
    assert_eq!(
        ask(&h, dan, &ann.to_string())
            .await
            .expect_err("blocked")
            .code(),
        Code::NotFound
    );
    let err = ask(&h, ann, &dan.to_string()).await.expect_err("blocker");
    assert_eq!(
        (err.code(), stride_testkit::bus::reason(&err).as_str()),
        (Code::FailedPrecondition, "USER_BLOCKED")
    );
    let list = friends(&h)
        .list_blocked_users(authed(
            pb::ListBlockedUsersRequest::default(),
            &h.token(ann),
        ))
        .await
        .expect("blocked")
        .into_inner()
        .blocked;
    assert_eq!(list.len(), 1);
    assert!(
        friends(&h)
            .list_blocked_users(authed(
                pb::ListBlockedUsersRequest::default(),
                &h.token(dan)
            ))
            .await
            .expect("dan's")
            .into_inner()
            .blocked
            .is_empty()
    );

    // Unblock: once; a second time is NOT_FOUND. Remove a friend: once.
    let unblock = |user: Uuid, other: Uuid| {
        let mut c = friends(&h);
        let tok = h.token(user);
        async move {
            c.unblock_user(authed(
                pb::UnblockUserRequest {
                    user_id: other.to_string(),
                },
                &tok,
            ))
            .await
        }
    };
    unblock(ann, dan).await.expect("unblock");
    assert_eq!(
        unblock(ann, dan).await.expect_err("again").code(),
        Code::NotFound
    );
    assert!(
        on_board(&h, ann, LeaderboardScope::Global)
            .await
            .contains(&dan.to_string())
    );
    let remove = |user: Uuid, other: Uuid| {
        let mut c = friends(&h);
        let tok = h.token(user);
        async move {
            c.remove_friend(authed(
                pb::RemoveFriendRequest {
                    user_id: other.to_string(),
                },
                &tok,
            ))
            .await
        }
    };
    remove(bob, ann).await.expect("remove");
    assert!(friend_ids(&h, ann).await.is_empty());
    assert_eq!(
        remove(bob, ann).await.expect_err("again").code(),
        Code::NotFound
    );

    // No token.
    let err = friends(&h)
        .list_friends(tonic::Request::new(pb::ListFriendsRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = friends(&h)
        .list_friend_requests(authed(
            pb::ListFriendRequestsRequest {
                direction: 9,
                page_size: -1,
                ..Default::default()
            },
            &h.token(ann),
        ))
        .await
        .expect_err("bad");
    assert_invalid(&err, &["direction", "page_size"]);
    h.stop().await;
}
