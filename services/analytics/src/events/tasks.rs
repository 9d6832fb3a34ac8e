//! Tasks: created and completed counts per day (a reopened or deleted completed task takes its
//! completion back from the day it counted on), and each task's latest snapshot for the
//! shutdown summary. A deletion does not take back the creation: tasks_created counts tasks
//! created that day.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_kit::convert::{from_date, from_timestamp};
use stride_proto::events::{self, TaskSnapshot};
use time::Date;

use super::{Entry, local_date};
use crate::{
    domain::rollup::Figures,
    store::{self, tasks::Snapshot},
};

fn completed(n: i64) -> Figures {
    Figures {
        tasks_completed: n,
        ..Figures::default()
    }
}

/// The day a completed snapshot counted on (its complete_date, else the event's date).
fn complete_date(t: &TaskSnapshot, fallback: Date) -> Date {
    t.complete_date
        .as_ref()
        .and_then(from_date)
        .unwrap_or(fallback)
}

async fn keep(
    conn: &mut PgConnection,
    entry: &Entry,
    task_id: &str,
    t: Option<&TaskSnapshot>,
    created: Option<Date>,
    deleted: bool,
    fallback: Date,
) -> Result<(), HandlerError> {
    let default = TaskSnapshot::default();
    let t = t.unwrap_or(&default);
    let snap = Snapshot {
        task_id,
        title: &t.title,
        priority: &t.priority,
        due_time: t.due_time.as_ref().and_then(from_timestamp),
        completed: t.completed,
        complete_date: t.completed.then(|| complete_date(t, fallback)),
        created_date: created,
        deleted,
        revision: entry.occurred_at,
    };
    store::tasks::put(conn, entry.user, &snap).await?;
    Ok(())
}

pub async fn on_task_created(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::TaskCreated,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let delta = Figures {
        tasks_created: 1,
        ..Figures::default()
    };
    store::add(conn, entry.user, date, &delta).await?;
    keep(
        conn,
        entry,
        &e.task_id,
        e.task.as_ref(),
        Some(date),
        false,
        date,
    )
    .await
}

pub async fn on_task_updated(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::TaskUpdated,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    keep(conn, entry, &e.task_id, e.after.as_ref(), None, false, date).await
}

pub async fn on_task_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::TaskCompleted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let default = TaskSnapshot::default();
    let on = complete_date(e.task.as_ref().unwrap_or(&default), date);
    store::add(conn, entry.user, on, &completed(1)).await?;
    keep(conn, entry, &e.task_id, e.task.as_ref(), None, false, date).await
}

pub async fn on_task_reopened(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::TaskReopened,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let default = TaskSnapshot::default();
    let on = complete_date(e.previous.as_ref().unwrap_or(&default), date);
    store::add(conn, entry.user, on, &completed(-1)).await?;
    keep(conn, entry, &e.task_id, e.task.as_ref(), None, false, date).await
}

pub async fn on_task_deleted(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::TaskDeleted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    if let Some(t) = e.task.as_ref().filter(|t| t.completed) {
        store::add(conn, entry.user, complete_date(t, date), &completed(-1)).await?;
    }
    keep(conn, entry, &e.task_id, e.task.as_ref(), None, true, date).await
}
