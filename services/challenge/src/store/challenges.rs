//! The `challenges` table and its `participants`.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{
    challenge::{GoalKind, Recurrence, Schedule, Visibility},
    goal::Goal,
    spec::Spec,
};

/// A challenge as one caller sees it, with the caller's progress in the window shown to them.
#[derive(Debug, sqlx::FromRow)]
pub struct ChallengeRow {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    #[sqlx(try_from = "String")]
    pub goal_kind: GoalKind,
    pub activity_kind: String,
    pub routine_id: Option<Uuid>,
    pub target: i32,
    pub points: i32,
    #[sqlx(try_from = "String")]
    pub recurrence: Recurrence,
    pub is_system: bool,
    pub owner_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub max_participants: Option<i32>,
    pub participant_count: i32,
    pub ended_at: Option<OffsetDateTime>,
    /// When the caller joined; none if they have not.
    pub joined_at: Option<OffsetDateTime>,
    /// The caller's progress row in the shown window, if any.
    pub my_current: Option<i32>,
    pub my_completed_at: Option<OffsetDateTime>,
    pub my_final_rank: Option<i32>,
}

impl ChallengeRow {
    pub fn schedule(&self) -> Schedule {
        Schedule::of(self.recurrence, self.starts_on, self.ends_on)
    }

    pub fn goal(&self) -> Goal {
        Goal {
            kind: self.goal_kind,
            activity_kind: self.activity_kind.clone(),
            routine_id: self.routine_id,
        }
    }

    /// The spec of a user challenge (its dates are set); none for a weekly one.
    pub fn spec(&self) -> Option<Spec> {
        Some(Spec {
            title: self.title.clone(),
            description: self.description.clone(),
            goal: self.goal(),
            target: self.target,
            points: self.points,
            visibility: self.visibility,
            start: self.starts_on?,
            end: self.ends_on?,
            max_participants: self.max_participants,
        })
    }
}

/// Who may see a challenge, `$1` being the caller: system and public challenges, one's own,
/// friends-visibility ones of a friend, and those one takes part in.
const VISIBLE: &str = "(c.owner_id IS NULL OR c.visibility = 'public' OR c.owner_id = $1
     OR (c.visibility = 'friends' AND EXISTS (SELECT 1 FROM friendships f
         WHERE f.user_id = c.owner_id AND f.friend_id = $1))
     OR EXISTS (SELECT 1 FROM participants v WHERE v.challenge_id = c.id AND v.user_id = $1))";

/// Columns of [`ChallengeRow`]; `$1` is the caller, `$2` the Monday of the caller's week (the
/// window shown of a weekly challenge).
fn select() -> String {
    "SELECT c.id, c.title, c.description, c.goal_kind, c.activity_kind, c.routine_id, c.target,
        c.points, c.recurrence, c.is_system, c.owner_id, c.visibility, c.starts_on, c.ends_on,
        c.max_participants, c.participant_count, c.ended_at,
        m.joined_at, pr.current AS my_current, pr.completed_at AS my_completed_at,
        pr.final_rank AS my_final_rank
    FROM challenges c
    LEFT JOIN participants m ON m.challenge_id = c.id AND m.user_id = $1
    LEFT JOIN progress pr ON pr.challenge_id = c.id AND pr.user_id = $1
        AND pr.window_start = COALESCE(c.starts_on,
            CASE WHEN c.recurrence = 'weekly' THEN $2::date ELSE DATE '1970-01-01' END)"
        .to_owned()
}

/// Which challenges a list returns (always among those the caller may see).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    All,
    /// Counting on local date `$3`.
    Current,
    Joined,
    Owned,
    Public,
    Friends,
}

impl View {
    fn filter(self) -> &'static str {
        match self {
            Self::All => "TRUE",
            Self::Current => {
                "c.ended_at IS NULL AND (c.recurrence = 'weekly'
                 OR (c.starts_on <= $3 AND c.ends_on >= $3))"
            }
            Self::Joined => "m.user_id IS NOT NULL",
            Self::Owned => "c.owner_id = $1",
            Self::Public => "c.owner_id IS NOT NULL AND c.visibility = 'public'",
            Self::Friends => "c.visibility = 'friends' AND c.owner_id <> $1",
        }
    }
}

/// Up to `limit` challenges of `view` in id order, after `after` when given; `today` is the
/// caller's local date.
pub async fn list(
    conn: &mut PgConnection,
    caller: Uuid,
    today: Date,
    view: View,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ChallengeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE {VISIBLE} AND {} AND ($4::uuid IS NULL OR c.id > $4) ORDER BY c.id LIMIT $5",
        select(),
        view.filter()
    )))
    .bind(caller)
    .bind(crate::domain::challenge::Window::containing(Recurrence::Weekly, today).start)
    .bind(today)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Challenge `id` if the caller may see it; `lock` takes its row lock (join, leave and the
/// owner's changes serialise on it). `NO KEY UPDATE`: rows that refer to the challenge (an
/// event's contribution, a window) take only a key-share lock on it and do not wait.
pub async fn get(
    conn: &mut PgConnection,
    caller: Uuid,
    today: Date,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<ChallengeRow>> {
    let lock = if lock { "FOR NO KEY UPDATE OF c" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE c.id = $3 AND {VISIBLE} {lock}",
        select()
    )))
    .bind(caller)
    .bind(crate::domain::challenge::Window::containing(Recurrence::Weekly, today).start)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A participant as others see them.
#[derive(Debug, sqlx::FromRow)]
pub struct Card {
    pub challenge_id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub avatar_url: String,
}

/// Up to `per` participants of each of `ids`, first joined first, whose profile card is public
/// (profile's rule: private and friends-only cards stay hidden, as do users whose visibility is
/// not known yet). Reads about `per` rows per challenge by index.
pub async fn cards(conn: &mut PgConnection, ids: &[Uuid], per: i64) -> sqlx::Result<Vec<Card>> {
    sqlx::query_as(
        "SELECT x.challenge_id, x.user_id, x.display_name, x.avatar_url
         FROM unnest($1::uuid[]) AS ids (id)
         CROSS JOIN LATERAL (
             SELECT p.challenge_id, p.user_id, d.display_name, d.avatar_url
             FROM participants p JOIN user_directory d ON d.user_id = p.user_id
             WHERE p.challenge_id = ids.id AND d.profile_visibility = 'public'
             ORDER BY p.joined_at, p.user_id LIMIT $2) x",
    )
    .bind(ids)
    .bind(per)
    .fetch_all(conn)
    .await
}

/// Makes `user` a participant of challenge `id` as of `at` and counts them; false when they
/// already were. The caller holds the challenge's row lock (the cap is checked under it).
pub async fn add_participant(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO participants (challenge_id, user_id, joined_at) VALUES ($1, $2, $3)
         ON CONFLICT (challenge_id, user_id) DO NOTHING",
    )
    .bind(id)
    .bind(user)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query(
            "UPDATE challenges SET participant_count = participant_count + 1 WHERE id = $1",
        )
        .bind(id)
        .execute(conn)
        .await?;
    }
    Ok(inserted)
}

/// Removes `user` from challenge `id` with their progress in windows neither completed nor
/// settled (completed windows and their points stay). False when they were not in it.
pub async fn remove_participant(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
) -> sqlx::Result<bool> {
    let removed = sqlx::query("DELETE FROM participants WHERE challenge_id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1;
    if !removed {
        return Ok(false);
    }
    sqlx::query("UPDATE challenges SET participant_count = participant_count - 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let open = "SELECT pr.window_start FROM progress pr
         WHERE pr.challenge_id = $1 AND pr.user_id = $2 AND pr.completed_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM challenge_periods cp WHERE cp.challenge_id = $1
                           AND cp.window_start = pr.window_start AND cp.settled_at IS NOT NULL)";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM contributions WHERE challenge_id = $1 AND user_id = $2
           AND window_start IN ({open})"
    )))
    .bind(id)
    .bind(user)
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM progress WHERE challenge_id = $1 AND user_id = $2
           AND window_start IN ({open})"
    )))
    .bind(id)
    .bind(user)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Inserts a user challenge owned by `owner`.
pub async fn create(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Uuid,
    s: &Spec,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO challenges (id, title, description, goal_kind, activity_kind, routine_id,
             target, points, recurrence, is_system, owner_id, visibility, starts_on, ends_on,
             max_participants, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'none', false, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.goal.kind.as_str())
    .bind(&s.goal.activity_kind)
    .bind(s.goal.routine_id)
    .bind(s.target)
    .bind(s.points)
    .bind(owner)
    .bind(s.visibility.as_str())
    .bind(s.start)
    .bind(s.end)
    .bind(s.max_participants)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the settable fields of challenge `id`.
pub async fn update(conn: &mut PgConnection, id: Uuid, s: &Spec) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE challenges SET title = $2, description = $3, goal_kind = $4, activity_kind = $5,
             routine_id = $6, target = $7, points = $8, visibility = $9, starts_on = $10,
             ends_on = $11, max_participants = $12
         WHERE id = $1",
    )
    .bind(id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.goal.kind.as_str())
    .bind(&s.goal.activity_kind)
    .bind(s.goal.routine_id)
    .bind(s.target)
    .bind(s.points)
    .bind(s.visibility.as_str())
    .bind(s.start)
    .bind(s.end)
    .bind(s.max_participants)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether challenge `id` paid points to anyone (then it cannot be deleted).
pub async fn has_awards(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM points_ledger WHERE challenge_id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Deletes challenge `id` with its participants, progress, contributions and windows.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    for sql in [
        "DELETE FROM contributions WHERE challenge_id = $1",
        "DELETE FROM progress WHERE challenge_id = $1",
        "DELETE FROM participants WHERE challenge_id = $1",
        "DELETE FROM challenge_periods WHERE challenge_id = $1",
        "DELETE FROM challenges WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks challenge `id` ended by its owner at `at`.
pub async fn end(conn: &mut PgConnection, id: Uuid, at: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("UPDATE challenges SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// A participation an activity may count toward: the challenge's goal and schedule.
#[derive(Debug, sqlx::FromRow)]
pub struct Counting {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub goal_kind: GoalKind,
    pub activity_kind: String,
    pub routine_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub recurrence: Recurrence,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
}

impl Counting {
    pub fn goal(&self) -> Goal {
        Goal {
            kind: self.goal_kind,
            activity_kind: self.activity_kind.clone(),
            routine_id: self.routine_id,
        }
    }
    pub fn schedule(&self) -> Schedule {
        Schedule::of(self.recurrence, self.starts_on, self.ends_on)
    }
}

/// The participations of `user` joined by `at` in challenges not ended early, locked: changes
/// to one participation's contributions serialise on its row, so a recount sees them all. An
/// activity from before the user joined does not count.
pub async fn counting(
    conn: &mut PgConnection,
    user: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<Vec<Counting>> {
    sqlx::query_as(
        "SELECT c.id, c.goal_kind, c.activity_kind, c.routine_id, c.recurrence, c.starts_on,
                c.ends_on
         FROM participants p JOIN challenges c ON c.id = p.challenge_id
         WHERE p.user_id = $1 AND p.joined_at <= $2 AND c.ended_at IS NULL
         ORDER BY c.id
         FOR UPDATE OF p",
    )
    .bind(user)
    .bind(at)
    .fetch_all(conn)
    .await
}

/// Gives `target` the memberships of `source`, one per challenge, joined at the earlier of the
/// two joins; a challenge both were in counts one participant less. The source's rows stay (see
/// [`super::purge_user`], which counts them out).
pub async fn merge_memberships(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<u64> {
    // The purge of the source takes one off every challenge it was in; a challenge only the
    // source was in keeps its count through the target's new membership.
    sqlx::query(
        "UPDATE challenges SET participant_count = participant_count + 1
         WHERE id IN (SELECT challenge_id FROM participants WHERE user_id = $1)
           AND id NOT IN (SELECT challenge_id FROM participants WHERE user_id = $2)",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE challenges SET owner_id = $2 WHERE owner_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query(
        "INSERT INTO participants (challenge_id, user_id, joined_at)
         SELECT challenge_id, $2, joined_at FROM participants WHERE user_id = $1
         ON CONFLICT (challenge_id, user_id) DO UPDATE
         SET joined_at = LEAST(participants.joined_at, EXCLUDED.joined_at)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}
