//! The `tasks` table: every user's to-do tasks.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::task::{Bucket, Fields, Priority, Window};

const COLUMNS: &str = "id, user_id, title, description, start_at, due_at, priority, tags, \
                       reminder_enabled, reminder_at, completed, completed_at, completed_date, \
                       completed_timezone, created_at, updated_at, priority_rank";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub description: String,
    pub start_at: Option<OffsetDateTime>,
    pub due_at: Option<OffsetDateTime>,
    #[sqlx(try_from = "String")]
    pub priority: Priority,
    pub tags: Vec<String>,
    pub reminder_enabled: bool,
    pub reminder_at: Option<OffsetDateTime>,
    pub completed: bool,
    /// Set while completed, with the local date and zone the completion counted in.
    pub completed_at: Option<OffsetDateTime>,
    pub completed_date: Option<Date>,
    pub completed_timezone: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// 0 high, 1 medium, 2 low: the "by priority" order.
    pub priority_rank: i16,
}

impl TaskRow {
    pub fn fields(&self) -> Fields {
        Fields {
            title: self.title.clone(),
            description: self.description.clone(),
            start_at: self.start_at,
            due_at: self.due_at,
            priority: self.priority,
            tags: self.tags.clone(),
            reminder_enabled: self.reminder_enabled,
            reminder_at: self.reminder_at,
            completed: self.completed,
        }
    }
}

/// When a task was completed: the instant, and the local date in the zone it counted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub at: OffsetDateTime,
    pub date: Date,
    pub timezone: String,
}

pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    f: &Fields,
    completion: Option<&Completion>,
    now: OffsetDateTime,
) -> sqlx::Result<TaskRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tasks (id, user_id, title, description, start_at, due_at, priority, tags,
             reminder_enabled, reminder_at, completed, completed_at, completed_date,
             completed_timezone, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(&f.title)
    .bind(&f.description)
    .bind(f.start_at)
    .bind(f.due_at)
    .bind(f.priority.as_str())
    .bind(&f.tags)
    .bind(f.reminder_enabled)
    .bind(f.reminder_at)
    .bind(completion.is_some())
    .bind(completion.map(|c| c.at))
    .bind(completion.map(|c| c.date))
    .bind(completion.map(|c| c.timezone.as_str()))
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Task `id` of `user`; None when it does not exist or is someone else's.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// [`get`], locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 FOR UPDATE"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Stores `f` as task `id`'s fields, completed as `completion` says.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    f: &Fields,
    completion: Option<&Completion>,
    now: OffsetDateTime,
) -> sqlx::Result<TaskRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE tasks SET title = $2, description = $3, start_at = $4, due_at = $5, priority = $6,
             tags = $7, reminder_enabled = $8, reminder_at = $9, completed = $10,
             completed_at = $11, completed_date = $12, completed_timezone = $13, updated_at = $14
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&f.title)
    .bind(&f.description)
    .bind(f.start_at)
    .bind(f.due_at)
    .bind(f.priority.as_str())
    .bind(&f.tags)
    .bind(f.reminder_enabled)
    .bind(f.reminder_at)
    .bind(completion.is_some())
    .bind(completion.map(|c| c.at))
    .bind(completion.map(|c| c.date))
    .bind(completion.map(|c| c.timezone.as_str()))
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Deletes task `id` of `user`; returns it as it was, None when there was none.
pub async fn delete(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "DELETE FROM tasks WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// What a list keeps.
#[derive(Clone, Debug)]
pub struct Filter<'a> {
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    /// Every one of these tags (none: no filter).
    pub tags: &'a [String],
    pub bucket: Option<Bucket>,
    /// The user's local date, for the bucket.
    pub window: Window,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Due time, soonest first, undated last.
    Due,
    /// High first, then by due time.
    Priority,
    /// Newest first.
    Created,
}

/// The keyset of the last row served: (priority rank, due time or creation time, id); each
/// order uses the parts it sorts by.
pub type Cursor = (i16, Option<OffsetDateTime>, Uuid);

pub fn cursor_of(order: Order, r: &TaskRow) -> Cursor {
    match order {
        Order::Due | Order::Priority => (r.priority_rank, r.due_at, r.id),
        Order::Created => (0, Some(r.created_at), r.id),
    }
}

/// Up to `limit` tasks of `user` kept by `filter`, in `order`, after `after`.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    filter: &Filter<'_>,
    order: Order,
    after: Option<&Cursor>,
    limit: i64,
) -> sqlx::Result<Vec<TaskRow>> {
    // The bucket is a range on the due instant of the user's local "today" ($6, $7): the same
    // rule as `domain::task::bucket`, so the index on due_at serves it.
    const WHERE: &str = "user_id = $1
         AND ($2::boolean IS NULL OR completed = $2)
         AND ($3::text IS NULL OR priority = $3)
         AND (cardinality($4::text[]) = 0 OR tags @> $4)
         AND CASE $5::text
               WHEN 'today' THEN NOT completed AND due_at >= $6 AND due_at < $7
               WHEN 'overdue' THEN NOT completed AND due_at < $6
               WHEN 'upcoming' THEN NOT completed AND (due_at IS NULL OR due_at >= $7)
               WHEN 'done' THEN completed
               ELSE TRUE
             END";
    let (keyset, order_by) = match order {
        Order::Due => (
            "(COALESCE(due_at, 'infinity'), id) > (COALESCE($10, 'infinity'), $11)",
            "COALESCE(due_at, 'infinity'), id",
        ),
        Order::Priority => (
            "(priority_rank, COALESCE(due_at, 'infinity'), id) > ($9, COALESCE($10, 'infinity'), $11)",
            "priority_rank, COALESCE(due_at, 'infinity'), id",
        ),
        Order::Created => ("(created_at, id) < ($10, $11)", "created_at DESC, id DESC"),
    };
    let bucket = filter.bucket.map(|b| match b {
        Bucket::Today => "today",
        Bucket::Overdue => "overdue",
        Bucket::Upcoming => "upcoming",
        Bucket::Done => "done",
    });
    let (rank, at, id) = after
        .copied()
        .map_or((None, None, None), |(r, a, i)| (Some(r), a, Some(i)));
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tasks WHERE {WHERE}
           AND ($11::uuid IS NULL OR {keyset})
         ORDER BY {order_by} LIMIT $8"
    )))
    .bind(user)
    .bind(filter.completed)
    .bind(filter.priority.map(Priority::as_str))
    .bind(filter.tags)
    .bind(bucket)
    .bind(filter.window.today_start)
    .bind(filter.window.tomorrow_start)
    .bind(limit)
    .bind(rank.unwrap_or(0))
    .bind(at)
    .bind(id)
    .fetch_all(conn)
    .await
}

/// Deletes every task of `user`; returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM tasks WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Moves every task of `source` to `target`; a replay moves nothing.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE tasks SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
