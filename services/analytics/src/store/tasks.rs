//! `tasks`: each task as its latest event told it (newest `revision` wins; a deletion is a
//! tombstone that stays), for the shutdown summary's list and counts.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::shutdown::Task;

/// A task snapshot as of `revision` (the event's instant).
pub struct Snapshot<'a> {
    pub task_id: &'a str,
    pub title: &'a str,
    pub priority: &'a str,
    pub due_time: Option<OffsetDateTime>,
    pub completed: bool,
    pub complete_date: Option<Date>,
    /// Set by task.created.v1 only.
    pub created_date: Option<Date>,
    pub deleted: bool,
    pub revision: OffsetDateTime,
}

/// Stores `s` unless a newer snapshot is stored; a deletion sticks whatever its order.
pub async fn put(conn: &mut PgConnection, user: Uuid, s: &Snapshot<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tasks (user_id, task_id, title, priority, due_time, completed, complete_date,
                            created_date, deleted, revision)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (user_id, task_id) DO UPDATE SET
           title = CASE WHEN tasks.revision <= EXCLUDED.revision THEN EXCLUDED.title ELSE tasks.title END,
           priority = CASE WHEN tasks.revision <= EXCLUDED.revision THEN EXCLUDED.priority ELSE tasks.priority END,
           due_time = CASE WHEN tasks.revision <= EXCLUDED.revision THEN EXCLUDED.due_time ELSE tasks.due_time END,
           completed = CASE WHEN tasks.revision <= EXCLUDED.revision THEN EXCLUDED.completed ELSE tasks.completed END,
           complete_date = CASE WHEN tasks.revision <= EXCLUDED.revision THEN EXCLUDED.complete_date ELSE tasks.complete_date END,
           created_date = LEAST(tasks.created_date, EXCLUDED.created_date),
           deleted = tasks.deleted OR EXCLUDED.deleted,
           revision = GREATEST(tasks.revision, EXCLUDED.revision)",
    )
    .bind(user)
    .bind(s.task_id)
    .bind(s.title)
    .bind(s.priority)
    .bind(s.due_time)
    .bind(s.completed)
    .bind(s.complete_date)
    .bind(s.created_date)
    .bind(s.deleted)
    .bind(s.revision)
    .execute(conn)
    .await?;
    Ok(())
}

/// The open tasks and the ones completed on `today`, not deleted: what the shutdown summary
/// lists and counts. Bounded by the open tasks, never by history.
pub async fn of_day(conn: &mut PgConnection, user: Uuid, today: Date) -> sqlx::Result<Vec<Task>> {
    let rows: Vec<(String, String, String, Option<OffsetDateTime>, bool)> = sqlx::query_as(
        "SELECT task_id, title, priority, due_time, completed FROM tasks
         WHERE user_id = $1 AND NOT deleted AND NOT completed
         UNION ALL
         SELECT task_id, title, priority, due_time, completed FROM tasks
         WHERE user_id = $1 AND NOT deleted AND completed AND complete_date = $2",
    )
    .bind(user)
    .bind(today)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(task_id, title, priority, due_time, completed)| Task {
            task_id,
            title,
            priority,
            due_time,
            completed,
        })
        .collect())
}

/// Gives `source`'s tasks to `target` (task ids are unique across users).
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE tasks SET user_id = $2 WHERE user_id = $1
         AND task_id NOT IN (SELECT task_id FROM tasks WHERE user_id = $2)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}
