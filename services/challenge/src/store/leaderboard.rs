//! Leaderboard standings: one row per board and user, with per-score and per-band counts kept
//! by the SQL functions of migration 3100, so a rank is a sum over at most 1024 count rows plus
//! one row per band of 1024 scores above — never over users. Top N and the entries around a
//! user are index range scans of `standings_order` (LIMIT k). See docs/rewards.md.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Adds `delta` to `user`'s score on each of `boards` as of `at`. A user who opted out of public
/// boards is added hidden.
pub async fn add(
    conn: &mut PgConnection,
    boards: &[String],
    user: Uuid,
    delta: i64,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    // Boards in a fixed order so that two transactions lock count rows in the same order.
    sqlx::query(
        "SELECT standings_add(b, $2, $3, $4,
                NOT EXISTS (SELECT 1 FROM board_opt_outs WHERE user_id = $2))
         FROM unnest($1::text[]) WITH ORDINALITY AS t(b, i) ORDER BY i",
    )
    .bind(boards)
    .bind(user)
    .bind(delta)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes `user` off every board; returns the rows removed.
pub async fn remove_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT standings_remove_user($1)")
        .bind(user)
        .fetch_one(conn)
        .await
}

/// Rebuilds `user`'s standings from what they own: the points and XP ledgers (week, month and
/// all-time boards of each entry's local date) and their challenge progress (after a merge).
pub async fn rebuild_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    remove_user(conn, user).await?;
    sqlx::query(
        "WITH entries AS (
             SELECT 'points' AS metric, points::bigint AS score, local_date, created_at
             FROM points_ledger WHERE user_id = $1
             UNION ALL
             SELECT 'xp', xp::bigint, local_date, created_at FROM xp_ledger WHERE user_id = $1
         ), boards AS (
             SELECT metric || ':all' AS board, sum(score)::bigint AS score, max(created_at) AS at
             FROM entries GROUP BY metric
             UNION ALL
             SELECT metric || ':week:' || date_trunc('week', local_date)::date, sum(score)::bigint, max(created_at)
             FROM entries GROUP BY 1
             UNION ALL
             SELECT metric || ':month:' || date_trunc('month', local_date)::date, sum(score)::bigint,
                    max(created_at)
             FROM entries GROUP BY 1
             UNION ALL
             SELECT 'challenge:' || challenge_id || ':' || window_start, current::bigint,
                    coalesce(completed_at, now())
             FROM progress WHERE user_id = $1 AND current > 0
         )
         SELECT standings_add(board, $1, score, at,
                NOT EXISTS (SELECT 1 FROM board_opt_outs WHERE user_id = $1))
         FROM boards ORDER BY board",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records whether `user` shows on public boards, and shows or hides their standings.
pub async fn set_public(conn: &mut PgConnection, user: Uuid, public: bool) -> sqlx::Result<()> {
    if public {
        sqlx::query("DELETE FROM board_opt_outs WHERE user_id = $1")
    } else {
        sqlx::query("INSERT INTO board_opt_outs (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
    }
    .bind(user)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT standings_set_visible($1, $2)")
        .bind(user)
        .bind(public)
        .execute(conn)
        .await?;
    Ok(())
}

/// A user's line on a board, with the name the directory knows.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Standing {
    pub user_id: Uuid,
    pub display_name: String,
    pub score: i64,
    pub reached_at: OffsetDateTime,
    pub visible: bool,
}

const COLUMNS: &str = "s.user_id, coalesce(d.display_name, '') AS display_name, s.score,
    s.reached_at, s.visible";
const FROM: &str = "standings s LEFT JOIN user_directory d ON d.user_id = s.user_id";

/// The first `n` visible lines of `board` in board order.
pub async fn top(conn: &mut PgConnection, board: &str, n: i64) -> sqlx::Result<Vec<Standing>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE s.board = $1 AND s.visible
         ORDER BY s.score DESC, s.reached_at, s.user_id LIMIT $2"
    )))
    .bind(board)
    .bind(n)
    .fetch_all(conn)
    .await
}

/// The lines of `users` on `board` (visible or not), in board order.
pub async fn of_users(
    conn: &mut PgConnection,
    board: &str,
    users: &[Uuid],
) -> sqlx::Result<Vec<Standing>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE s.board = $1 AND s.user_id = ANY($2)
         ORDER BY s.score DESC, s.reached_at, s.user_id"
    )))
    .bind(board)
    .bind(users)
    .fetch_all(conn)
    .await
}

/// Up to `k` visible lines just before and just after the position (`score`, `reached_at`,
/// `user`) in board order (that user excluded): (before, in board order; after, in board
/// order). Four index range scans, each LIMIT k.
pub async fn around(
    conn: &mut PgConnection,
    board: &str,
    at: &Standing,
    k: i64,
) -> sqlx::Result<(Vec<Standing>, Vec<Standing>)> {
    #[derive(sqlx::FromRow)]
    struct Side {
        before: bool,
        #[sqlx(flatten)]
        line: Standing,
    }
    let rows: Vec<Side> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "(SELECT true AS before, {COLUMNS} FROM {FROM}
          WHERE s.board = $1 AND s.visible AND s.score = $2 AND (s.reached_at, s.user_id) < ($3, $4)
          ORDER BY s.reached_at DESC, s.user_id DESC LIMIT $5)
         UNION ALL
         (SELECT true, {COLUMNS} FROM {FROM}
          WHERE s.board = $1 AND s.visible AND s.score > $2
          ORDER BY s.score, s.reached_at DESC, s.user_id DESC LIMIT $5)
         UNION ALL
         (SELECT false, {COLUMNS} FROM {FROM}
          WHERE s.board = $1 AND s.visible AND s.score = $2 AND (s.reached_at, s.user_id) > ($3, $4)
          ORDER BY s.reached_at, s.user_id LIMIT $5)
         UNION ALL
         (SELECT false, {COLUMNS} FROM {FROM}
          WHERE s.board = $1 AND s.visible AND s.score < $2
          ORDER BY s.score DESC, s.reached_at, s.user_id LIMIT $5)"
    )))
    .bind(board)
    .bind(at.score)
    .bind(at.reached_at)
    .bind(at.user_id)
    .bind(k)
    .fetch_all(conn)
    .await?;
    let key = |s: &Standing| (std::cmp::Reverse(s.score), s.reached_at, s.user_id);
    let (mut before, mut after): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.before);
    before.sort_by_key(|r| key(&r.line));
    after.sort_by_key(|r| key(&r.line));
    let skip = before.len().saturating_sub(usize::try_from(k).unwrap_or(0));
    let before = before.into_iter().skip(skip).map(|r| r.line).collect();
    let after = after
        .into_iter()
        .take(usize::try_from(k).unwrap_or(0))
        .map(|r| r.line)
        .collect();
    Ok((before, after))
}

/// Visible users on `board` with a score above each of `scores`, in the same order.
pub async fn above(
    conn: &mut PgConnection,
    board: &str,
    scores: &[i64],
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as("SELECT s, standings_above($1, s) FROM unnest($2::bigint[]) AS t(s)")
        .bind(board)
        .bind(scores)
        .fetch_all(conn)
        .await
}

/// Visible users on `board`: a sum over its bands.
pub async fn participants(conn: &mut PgConnection, board: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(sum(n), 0)::bigint FROM standing_bands WHERE board = $1")
        .bind(board)
        .fetch_one(conn)
        .await
}

/// Sets `user`'s score on `board` (a challenge window's progress count) to `score` as of `at`:
/// whoever recounts progress calls this with the new count, whatever changed it.
pub async fn set_score(
    conn: &mut PgConnection,
    board: &str,
    user: Uuid,
    score: i64,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    let old: Option<i64> =
        sqlx::query_scalar("SELECT score FROM standings WHERE board = $1 AND user_id = $2")
            .bind(board)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    let delta = score - old.unwrap_or(0);
    if old.is_some() && delta == 0 {
        return Ok(());
    }
    add(conn, &[board.to_owned()], user, delta, at).await
}

/// The profile revision the user directory holds for `user` (a visibility change is applied
/// only from a newer update).
pub async fn directory_revision(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT revision FROM user_directory WHERE user_id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await
}
