//! Friends across `user.merged.v1` and `user.deleted.v1`: the tables that relate two users
//! (friendships, requests, blocks) are not covered by the generic `user_id` row count, so they
//! are checked here — on both sides of each relation.

use stride_kit::Clock as _;
use stride_proto::challenge as pb;
use stride_testkit::{authed, bus::Publisher, fixtures};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Harness, deliver, friends, profile, start};

/// Rows in friendships, friend_requests and blocks that mention `user` on either side.
async fn mentions(h: &Harness, user: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM friendships WHERE user_id = $1 OR friend_id = $1)
              + (SELECT count(*) FROM friend_requests WHERE from_user = $1 OR to_user = $1)
              + (SELECT count(*) FROM blocks WHERE blocker = $1 OR blocked = $1)",
    )
    .bind(user)
    .fetch_one(&h.db)
    .await
    .expect("mentions")
}

pub async fn befriend(h: &Harness, a: Uuid, b: Uuid) {
    let req = friends(h)
        .send_friend_request(authed(
            pb::SendFriendRequestRequest {
                user_id: b.to_string(),
            },
            &h.token(a),
        ))
        .await
        .expect("ask")
        .into_inner()
        .request
        .expect("request");
    friends(h)
        .accept_friend_request(authed(
            pb::AcceptFriendRequestRequest { request_id: req.id },
            &h.token(b),
        ))
        .await
        .expect("accept");
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

#[tokio::test]
async fn a_merge_moves_relations_without_self_ones_and_a_deletion_clears_both_sides() {
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (guest, target, bob, cyd, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    for (u, name) in [
        (guest, "Guest"),
        (target, "Ann"),
        (bob, "Bob"),
        (cyd, "Cyd"),
        (dan, "Dan"),
    ] {
        deliver(&h, &profiles, &profile(u, name, "UTC")).await;
    }
    // The guest: friends with Bob and with the target itself, blocks Cyd, has Dan's request.
    befriend(&h, guest, bob).await;
    befriend(&h, guest, target).await;
    friends(&h)
        .block_user(authed(
            pb::BlockUserRequest {
                user_id: cyd.to_string(),
            },
            &h.token(guest),
        ))
        .await
        .expect("block");
    friends(&h)
        .send_friend_request(authed(
            pb::SendFriendRequestRequest {
                user_id: guest.to_string(),
            },
            &h.token(dan),
        ))
        .await
        .expect("dan asks");

    let merge = fixtures::user_merged(&guest.to_string(), &target.to_string(), h.clock.now());
    deliver(&h, &auth, &merge).await;
    assert_eq!(
        mentions(&h, guest).await,
        0,
        "no relation of the guest remains"
    );
    assert_eq!(friend_ids(&h, target).await, [bob.to_string()]);
    assert_eq!(friend_ids(&h, bob).await, [target.to_string()]);
    let blocked = friends(&h)
        .list_blocked_users(authed(
            pb::ListBlockedUsersRequest::default(),
            &h.token(target),
        ))
        .await
        .expect("blocked")
        .into_inner()
        .blocked;
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].user_id, cyd.to_string());
    let incoming = friends(&h)
        .list_friend_requests(authed(
            pb::ListFriendRequestsRequest::default(),
            &h.token(target),
        ))
        .await
        .expect("requests")
        .into_inner()
        .requests;
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].from_user_id, dan.to_string());

    // Deleting the target clears every relation on both sides.
    deliver(&h, &auth, &fixtures::user_deleted(target, h.clock.now())).await;
    assert_eq!(mentions(&h, target).await, 0);
    assert!(friend_ids(&h, bob).await.is_empty());
    h.stop().await;
}
