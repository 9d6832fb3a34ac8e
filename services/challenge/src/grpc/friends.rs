//! `stride.challenge.v1.FriendService`: requests, friendships and blocks. A user who blocked
//! the caller answers like an unknown one (NOT_FOUND).

use sqlx::PgPool;
use stride_kit::{
    AppResult, Call, Violations,
    clock::SharedClock,
    convert::{require_id, timestamp},
    pagination::Page,
};
use stride_proto::challenge::{self as pb, friend_service_server::FriendService};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::friends::{Direction, Send, send},
    errors,
    store::{
        self,
        friends::{BlockRow, FriendRow, RequestRow},
    },
};

pub struct Friends {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl FriendService for Friends {
        fn send_friend_request(pb::SendFriendRequestRequest) -> pb::SendFriendRequestResponse => send_request;
        fn accept_friend_request(pb::AcceptFriendRequestRequest) -> pb::AcceptFriendRequestResponse => accept;
        fn decline_friend_request(pb::DeclineFriendRequestRequest) -> pb::DeclineFriendRequestResponse => decline;
        fn list_friend_requests(pb::ListFriendRequestsRequest) -> pb::ListFriendRequestsResponse => list_requests;
        fn list_friends(pb::ListFriendsRequest) -> pb::ListFriendsResponse => list;
        fn remove_friend(pb::RemoveFriendRequest) -> pb::RemoveFriendResponse => remove;
        fn block_user(pb::BlockUserRequest) -> pb::BlockUserResponse => block;
        fn unblock_user(pb::UnblockUserRequest) -> pb::UnblockUserResponse => unblock;
        fn list_blocked_users(pb::ListBlockedUsersRequest) -> pb::ListBlockedUsersResponse => list_blocked;
    }
}

/// Entries per page when the request does not say.
const DEFAULT_PAGE_SIZE: usize = 50;

pub async fn send_request(
    s: &Friends,
    call: Call<pb::SendFriendRequestRequest>,
) -> AppResult<pb::SendFriendRequestResponse> {
    let me = call.caller()?.user_id;
    let other = require_id("user_id", &call.message.user_id)?;
    let mut tx = s.pool.begin().await?;
    // Serialise the two users' concurrent requests: both asking at once must make friends, not
    // two crossing requests.
    lock_pair(&mut tx, me, other).await?;
    let relation = store::friends::relation(&mut tx, me, other).await?;
    let now = s.clock.now_db();
    let answer = match send(relation) {
        Send::ToSelf => {
            return Err(stride_kit::AppError::invalid(
                "user_id",
                "you cannot befriend yourself",
            ));
        }
        Send::NotFound => return Err(errors::no_user()),
        Send::BlockedByMe => return Err(errors::user_blocked()),
        Send::AlreadyFriends => return Err(errors::already_friends()),
        Send::AlreadyRequested => return Err(errors::already_requested()),
        Send::Request => {
            let r = store::friends::create_request(&mut tx, me, other, now).await?;
            pb::SendFriendRequestResponse {
                request: Some(request(&r)),
                friend: None,
            }
        }
        Send::AcceptTheirs => {
            store::friends::befriend(&mut tx, me, other, now).await?;
            let f = store::friends::friend(&mut tx, me, other)
                .await?
                .ok_or_else(errors::no_friend)?;
            pb::SendFriendRequestResponse {
                request: None,
                friend: Some(friend(&f)),
            }
        }
    };
    tx.commit().await?;
    Ok(answer)
}

/// Takes a transaction-scoped advisory lock on the unordered pair.
async fn lock_pair(conn: &mut sqlx::PgConnection, a: Uuid, b: Uuid) -> sqlx::Result<()> {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || $2, 0))")
        .bind(lo.to_string())
        .bind(hi.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn accept(
    s: &Friends,
    call: Call<pb::AcceptFriendRequestRequest>,
) -> AppResult<pb::AcceptFriendRequestResponse> {
    let me = call.caller()?.user_id;
    let id = require_id("request_id", &call.message.request_id)?;
    let mut tx = s.pool.begin().await?;
    // Only the recipient accepts; anyone else's request is not found.
    let (from, _) = store::friends::take_request(&mut tx, id, me, true)
        .await?
        .ok_or_else(errors::no_friend_request)?;
    store::friends::befriend(&mut tx, me, from, s.clock.now_db()).await?;
    let f = store::friends::friend(&mut tx, me, from)
        .await?
        .ok_or_else(errors::no_friend)?;
    tx.commit().await?;
    Ok(pb::AcceptFriendRequestResponse {
        friend: Some(friend(&f)),
    })
}

pub async fn decline(
    s: &Friends,
    call: Call<pb::DeclineFriendRequestRequest>,
) -> AppResult<pb::DeclineFriendRequestResponse> {
    let me = call.caller()?.user_id;
    let id = require_id("request_id", &call.message.request_id)?;
    let mut conn = s.pool.acquire().await?;
    store::friends::take_request(&mut conn, id, me, false)
        .await?
        .ok_or_else(errors::no_friend_request)?;
    Ok(pb::DeclineFriendRequestResponse {})
}

pub async fn list_requests(
    s: &Friends,
    call: Call<pb::ListFriendRequestsRequest>,
) -> AppResult<pb::ListFriendRequestsResponse> {
    let me = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let direction = match pb::FriendRequestDirection::try_from(req.direction) {
        Ok(pb::FriendRequestDirection::Unspecified | pb::FriendRequestDirection::Incoming) => {
            Direction::Incoming
        }
        Ok(pb::FriendRequestDirection::Outgoing) => Direction::Outgoing,
        Err(_) => {
            v.add("direction", "unknown direction");
            Direction::Incoming
        }
    };
    let page = Page::<(OffsetDateTime, Uuid)>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        DEFAULT_PAGE_SIZE,
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::friends::requests(
        &mut conn,
        me,
        direction,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.created_at, r.id));
    Ok(pb::ListFriendRequestsResponse {
        requests: rows.iter().map(request).collect(),
        next_page_token,
    })
}

pub async fn list(
    s: &Friends,
    call: Call<pb::ListFriendsRequest>,
) -> AppResult<pb::ListFriendsResponse> {
    let me = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<Uuid>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::friends::list(&mut conn, me, page.after().copied(), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.friend_id);
    Ok(pb::ListFriendsResponse {
        friends: rows.iter().map(friend).collect(),
        next_page_token,
    })
}

pub async fn remove(
    s: &Friends,
    call: Call<pb::RemoveFriendRequest>,
) -> AppResult<pb::RemoveFriendResponse> {
    let me = call.caller()?.user_id;
    let other = require_id("user_id", &call.message.user_id)?;
    let mut conn = s.pool.acquire().await?;
    if !store::friends::unfriend(&mut conn, me, other).await? {
        return Err(errors::no_friend());
    }
    Ok(pb::RemoveFriendResponse {})
}

pub async fn block(
    s: &Friends,
    call: Call<pb::BlockUserRequest>,
) -> AppResult<pb::BlockUserResponse> {
    let me = call.caller()?.user_id;
    let other = require_id("user_id", &call.message.user_id)?;
    if other == me {
        return Err(stride_kit::AppError::invalid(
            "user_id",
            "you cannot block yourself",
        ));
    }
    let mut tx = s.pool.begin().await?;
    lock_pair(&mut tx, me, other).await?;
    let relation = store::friends::relation(&mut tx, me, other).await?;
    // Blocking someone who blocked you stays possible (it must not reveal their block), but an
    // id nobody has is not found.
    if !relation.known && !relation.blocked_by_me {
        return Err(errors::no_user());
    }
    let at = store::friends::block(&mut tx, me, other, s.clock.now_db()).await?;
    let name = stride_bus::directory::get(&mut tx, other)
        .await?
        .map(|e| e.display_name)
        .unwrap_or_default();
    tx.commit().await?;
    Ok(pb::BlockUserResponse {
        blocked: Some(blocked(&BlockRow {
            blocked: other,
            display_name: name,
            created_at: at,
        })),
    })
}

pub async fn unblock(
    s: &Friends,
    call: Call<pb::UnblockUserRequest>,
) -> AppResult<pb::UnblockUserResponse> {
    let me = call.caller()?.user_id;
    let other = require_id("user_id", &call.message.user_id)?;
    let mut conn = s.pool.acquire().await?;
    if !store::friends::unblock(&mut conn, me, other).await? {
        return Err(errors::no_user());
    }
    Ok(pb::UnblockUserResponse {})
}

pub async fn list_blocked(
    s: &Friends,
    call: Call<pb::ListBlockedUsersRequest>,
) -> AppResult<pb::ListBlockedUsersResponse> {
    let me = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<Uuid>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::friends::blocked(&mut conn, me, page.after().copied(), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.blocked);
    Ok(pb::ListBlockedUsersResponse {
        blocked: rows.iter().map(blocked).collect(),
        next_page_token,
    })
}

fn request(r: &RequestRow) -> pb::FriendRequest {
    pb::FriendRequest {
        id: r.id.to_string(),
        from_user_id: r.from_user.to_string(),
        from_display_name: r.from_name.clone(),
        to_user_id: r.to_user.to_string(),
        to_display_name: r.to_name.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}

fn friend(f: &FriendRow) -> pb::Friend {
    pb::Friend {
        user_id: f.friend_id.to_string(),
        display_name: f.display_name.clone(),
        since_time: Some(timestamp(f.since)),
    }
}

fn blocked(b: &BlockRow) -> pb::BlockedUser {
    pb::BlockedUser {
        user_id: b.blocked.to_string(),
        display_name: b.display_name.clone(),
        block_time: Some(timestamp(b.created_at)),
    }
}
