//! Friend requests, friendships (two rows, one per side) and blocks.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::friends::{Direction, Relation};

/// How `me` and `other` stand.
pub async fn relation(conn: &mut PgConnection, me: Uuid, other: Uuid) -> sqlx::Result<Relation> {
    let (known, friends, requested, requested_by_them, blocked_by_me, blocked_by_them): (
        bool,
        bool,
        bool,
        bool,
        bool,
        bool,
    ) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM user_directory WHERE user_id = $2),
                EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2),
                EXISTS (SELECT 1 FROM friend_requests WHERE from_user = $1 AND to_user = $2),
                EXISTS (SELECT 1 FROM friend_requests WHERE from_user = $2 AND to_user = $1),
                EXISTS (SELECT 1 FROM blocks WHERE blocker = $1 AND blocked = $2),
                EXISTS (SELECT 1 FROM blocks WHERE blocker = $2 AND blocked = $1)",
    )
    .bind(me)
    .bind(other)
    .fetch_one(conn)
    .await?;
    Ok(Relation {
        is_self: me == other,
        known,
        friends,
        requested,
        requested_by_them,
        blocked_by_me,
        blocked_by_them,
    })
}

/// A request with both names.
#[derive(Debug, sqlx::FromRow)]
pub struct RequestRow {
    pub id: Uuid,
    pub from_user: Uuid,
    pub from_name: String,
    pub to_user: Uuid,
    pub to_name: String,
    pub created_at: OffsetDateTime,
}

const REQUEST: &str = "SELECT r.id, r.from_user, coalesce(f.display_name, '') AS from_name,
        r.to_user, coalesce(t.display_name, '') AS to_name, r.created_at
    FROM friend_requests r
    LEFT JOIN user_directory f ON f.user_id = r.from_user
    LEFT JOIN user_directory t ON t.user_id = r.to_user";

pub async fn create_request(
    conn: &mut PgConnection,
    from: Uuid,
    to: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<RequestRow> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO friend_requests (id, from_user, to_user, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    request(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn request(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{REQUEST} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Deletes request `id` if `user` is its sender or (`to_only`: only) its recipient; the request
/// as it was.
pub async fn take_request(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
    to_only: bool,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as(
        "DELETE FROM friend_requests
         WHERE id = $1 AND (to_user = $2 OR (NOT $3 AND from_user = $2))
         RETURNING from_user, to_user",
    )
    .bind(id)
    .bind(user)
    .bind(to_only)
    .fetch_optional(conn)
    .await
}

/// Makes `a` and `b` friends as of `at` (both rows) and drops any request between them.
pub async fn befriend(
    conn: &mut PgConnection,
    a: Uuid,
    b: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO friendships (user_id, friend_id, since) VALUES ($1, $2, $3), ($2, $1, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(a)
    .bind(b)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM friend_requests WHERE (from_user = $1 AND to_user = $2)
                                       OR (from_user = $2 AND to_user = $1)",
    )
    .bind(a)
    .bind(b)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the friendship of `a` and `b`; false when there was none.
pub async fn unfriend(conn: &mut PgConnection, a: Uuid, b: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2)
                                    OR (user_id = $2 AND friend_id = $1)",
    )
    .bind(a)
    .bind(b)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

/// A friend with their name.
#[derive(Debug, sqlx::FromRow)]
pub struct FriendRow {
    pub friend_id: Uuid,
    pub display_name: String,
    pub since: OffsetDateTime,
}

pub async fn friend(
    conn: &mut PgConnection,
    user: Uuid,
    friend: Uuid,
) -> sqlx::Result<Option<FriendRow>> {
    sqlx::query_as(
        "SELECT f.friend_id, coalesce(d.display_name, '') AS display_name, f.since
         FROM friendships f LEFT JOIN user_directory d ON d.user_id = f.friend_id
         WHERE f.user_id = $1 AND f.friend_id = $2",
    )
    .bind(user)
    .bind(friend)
    .fetch_optional(conn)
    .await
}

/// `user`'s friends in id order, after `after`.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<FriendRow>> {
    sqlx::query_as(
        "SELECT f.friend_id, coalesce(d.display_name, '') AS display_name, f.since
         FROM friendships f LEFT JOIN user_directory d ON d.user_id = f.friend_id
         WHERE f.user_id = $1 AND ($2::uuid IS NULL OR f.friend_id > $2)
         ORDER BY f.friend_id LIMIT $3",
    )
    .bind(user)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// All of `user`'s friend ids (the friends board; bounded by how many friends one has).
pub async fn ids(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT friend_id FROM friendships WHERE user_id = $1")
        .bind(user)
        .fetch_all(conn)
        .await
}

/// Pending requests to or from `user`, oldest first, after the cursor `(created_at, id)`.
pub async fn requests(
    conn: &mut PgConnection,
    user: Uuid,
    direction: Direction,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<RequestRow>> {
    let side = match direction {
        Direction::Incoming => "r.to_user",
        Direction::Outgoing => "r.from_user",
    };
    let (at, id) = after.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST} WHERE {side} = $1 AND ($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3))
         ORDER BY r.created_at, r.id LIMIT $4"
    )))
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// `blocker` blocks `blocked` as of `at` (a second block keeps the first time); any friendship
/// and request between them ends.
pub async fn block(
    conn: &mut PgConnection,
    blocker: Uuid,
    blocked: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<OffsetDateTime> {
    unfriend(conn, blocker, blocked).await?;
    sqlx::query(
        "DELETE FROM friend_requests WHERE (from_user = $1 AND to_user = $2)
                                       OR (from_user = $2 AND to_user = $1)",
    )
    .bind(blocker)
    .bind(blocked)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "INSERT INTO blocks (blocker, blocked, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (blocker, blocked) DO UPDATE SET created_at = blocks.created_at
         RETURNING created_at",
    )
    .bind(blocker)
    .bind(blocked)
    .bind(at)
    .fetch_one(conn)
    .await
}

pub async fn unblock(conn: &mut PgConnection, blocker: Uuid, blocked: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM blocks WHERE blocker = $1 AND blocked = $2")
            .bind(blocker)
            .bind(blocked)
            .execute(conn)
            .await?
            .rows_affected()
            > 0,
    )
}

/// A block with the blocked user's name.
#[derive(Debug, sqlx::FromRow)]
pub struct BlockRow {
    pub blocked: Uuid,
    pub display_name: String,
    pub created_at: OffsetDateTime,
}

pub async fn blocked(
    conn: &mut PgConnection,
    blocker: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<BlockRow>> {
    sqlx::query_as(
        "SELECT b.blocked, coalesce(d.display_name, '') AS display_name, b.created_at
         FROM blocks b LEFT JOIN user_directory d ON d.user_id = b.blocked
         WHERE b.blocker = $1 AND ($2::uuid IS NULL OR b.blocked > $2)
         ORDER BY b.blocked LIMIT $3",
    )
    .bind(blocker)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Everyone `user` must not see: those they blocked and those who blocked them.
pub async fn hidden_from(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT blocked FROM blocks WHERE blocker = $1
         UNION SELECT blocker FROM blocks WHERE blocked = $1",
    )
    .bind(user)
    .fetch_all(conn)
    .await
}

/// Moves `source`'s friendships, requests and blocks to `target`. A pair that would relate the
/// target to itself is dropped; a friendship or request the target already has stays as it is;
/// a block on either side wins over a friendship or request. The source's rows stay (see
/// [`super::purge_user`]).
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<()> {
    for sql in [
        "INSERT INTO blocks (blocker, blocked, created_at)
         SELECT $2, blocked, created_at FROM blocks WHERE blocker = $1 AND blocked <> $2
         ON CONFLICT DO NOTHING",
        "INSERT INTO blocks (blocker, blocked, created_at)
         SELECT blocker, $2, created_at FROM blocks WHERE blocked = $1 AND blocker <> $2
         ON CONFLICT DO NOTHING",
        "INSERT INTO friendships (user_id, friend_id, since)
         SELECT $2, friend_id, since FROM friendships WHERE user_id = $1 AND friend_id <> $2
         UNION ALL
         SELECT user_id, $2, since FROM friendships WHERE friend_id = $1 AND user_id <> $2
         ON CONFLICT DO NOTHING",
        "INSERT INTO friend_requests (id, from_user, to_user, created_at)
         SELECT gen_random_uuid(), $2, to_user, created_at FROM friend_requests
         WHERE from_user = $1 AND to_user <> $2
         UNION ALL
         SELECT gen_random_uuid(), from_user, $2, created_at FROM friend_requests
         WHERE to_user = $1 AND from_user <> $2
         ON CONFLICT DO NOTHING",
        // Blocks win; friends need no request.
        "DELETE FROM friendships f USING blocks b
         WHERE (f.user_id = $2 OR f.friend_id = $2)
           AND ((b.blocker = f.user_id AND b.blocked = f.friend_id)
             OR (b.blocker = f.friend_id AND b.blocked = f.user_id))",
        "DELETE FROM friend_requests r
         WHERE (r.from_user = $2 OR r.to_user = $2) AND (
             EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker = r.from_user AND b.blocked = r.to_user)
                                              OR (b.blocker = r.to_user AND b.blocked = r.from_user))
          OR EXISTS (SELECT 1 FROM friendships f WHERE f.user_id = r.from_user AND f.friend_id = r.to_user))",
    ] {
        sqlx::query(sql)
            .bind(source)
            .bind(target)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
