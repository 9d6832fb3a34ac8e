//! `TaskService`: the caller's to-do tasks. Buckets and completion dates use the caller's
//! timezone from the user directory (UTC until a profile update arrives).

use stride_bus::directory;
use stride_kit::{
    AppResult, Call, Violations,
    convert::{date, from_timestamp, local_date, require_id, timestamp},
    pagination::Page,
};
use stride_proto::activity_session as pb;
use time::OffsetDateTime;

use super::ActivitySessions;
use crate::{
    domain::task::{self, Bucket, Fields, Priority},
    errors,
    events::publish,
    store::{
        self,
        tasks::{Completion, Cursor, Filter, Order, TaskRow},
    },
};

const DEFAULT_PAGE_SIZE: usize = 50;

/// The earliest and latest instants a task may name (what every store and client can hold).
const EARLIEST_YEAR: i32 = 1900;

pub(super) async fn create_task(
    s: &ActivitySessions,
    call: Call<pb::CreateTaskRequest>,
) -> AppResult<pb::CreateTaskResponse> {
    let user = call.caller()?.user_id;
    let mut v = Violations::new();
    let wanted = call.message.task.clone().unwrap_or_default();
    v.when(call.message.task.is_none(), "task", "is required");
    let (mut fields, priority) = from_proto(&mut v, &wanted, |_| true);
    // On create: medium unless said; completion is set by UpdateTask only.
    fields.priority = priority.unwrap_or(Priority::Medium);
    fields.completed = false;
    task::check(&mut v, &fields);
    v.check()?;
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let tz = directory::timezone(&mut tx, user).await?;
    let row = store::tasks::insert(&mut tx, user, &fields, None, now).await?;
    tx.publish(&publish::task_created(&row, now, &tz)).await?;
    tx.commit().await?;
    Ok(pb::CreateTaskResponse {
        task: Some(to_proto(&row, now, &tz)),
    })
}

pub(super) async fn get_task(
    s: &ActivitySessions,
    call: Call<pb::GetTaskRequest>,
) -> AppResult<pb::GetTaskResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("task_id", &call.message.task_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::tasks::get(&mut conn, user, id)
        .await?
        .ok_or_else(errors::no_task)?;
    let tz = directory::timezone(&mut conn, user).await?;
    Ok(pb::GetTaskResponse {
        task: Some(to_proto(&row, s.clock.now_db(), &tz)),
    })
}

pub(super) async fn list_tasks(
    s: &ActivitySessions,
    call: Call<pb::ListTasksRequest>,
) -> AppResult<pb::ListTasksResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<Cursor>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    let priority = priority(&mut v, "priority", req.priority);
    let bucket = match pb::TaskBucket::try_from(req.bucket) {
        Ok(pb::TaskBucket::Unspecified) => None,
        Ok(pb::TaskBucket::Today) => Some(Bucket::Today),
        Ok(pb::TaskBucket::Upcoming) => Some(Bucket::Upcoming),
        Ok(pb::TaskBucket::Overdue) => Some(Bucket::Overdue),
        Ok(pb::TaskBucket::Done) => Some(Bucket::Done),
        Err(_) => {
            v.add("bucket", "must be today, upcoming, overdue or done");
            None
        }
    };
    let order = match pb::TaskOrder::try_from(req.order_by) {
        Ok(pb::TaskOrder::Unspecified | pb::TaskOrder::Due) => Order::Due,
        Ok(pb::TaskOrder::Priority) => Order::Priority,
        Ok(pb::TaskOrder::Created) => Order::Created,
        Err(_) => {
            v.add("order_by", "must be due, priority or created");
            Order::Due
        }
    };
    let tags = task::normalize_tags(&mut v, "tags", &req.tags);
    v.check()?;
    let now = s.clock.now_db();
    let mut conn = s.pool.acquire().await?;
    let tz = directory::timezone(&mut conn, user).await?;
    let filter = Filter {
        completed: req.completed,
        priority,
        tags: &tags,
        bucket,
        window: task::window(now, &tz),
    };
    let rows = store::tasks::list(
        &mut conn,
        user,
        &filter,
        order,
        page.after(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| store::tasks::cursor_of(order, r));
    Ok(pb::ListTasksResponse {
        tasks: rows.iter().map(|r| to_proto(r, now, &tz)).collect(),
        next_page_token,
    })
}

/// Applies the mask; a change of `completed` completes (counted on today's local date) or
/// reopens the task and announces it; other changes announce `task.updated.v1` with before and
/// after. A request that changes nothing writes and announces nothing.
pub(super) async fn update_task(
    s: &ActivitySessions,
    call: Call<pb::UpdateTaskRequest>,
) -> AppResult<pb::UpdateTaskResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let id = stride_kit::convert::parse_id(&mut v, "task_id", &req.task_id);
    let paths: &[String] = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    let wanted = req.task.clone().unwrap_or_default();
    let named = |f: &str| paths.iter().any(|p| p == f);
    let (mut wanted, priority) = from_proto(&mut v, &wanted, named);
    match priority {
        Some(p) => wanted.priority = p,
        None if named("priority") => v.add("task.priority", "must be low, medium or high"),
        None => {}
    }
    // Malformed input is refused before anything is read.
    let mut probe = Violations::new();
    task::apply(&mut probe, paths, &wanted, &wanted);
    if let Err(stride_kit::AppError::InvalidArgument(list)) = probe.check() {
        for (f, d) in list {
            v.add(&f, &d);
        }
    }
    v.check()?;

    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let before = store::tasks::lock(&mut tx, user, id)
        .await?
        .ok_or_else(errors::no_task)?;
    let tz = directory::timezone(&mut tx, user).await?;
    let current = before.fields();
    let mut v = Violations::new();
    let next = task::apply(&mut v, paths, &wanted, &current);
    task::check(&mut v, &next);
    v.check()?;
    let changed = task::changed(&current, &next);
    if changed.is_empty() && next.completed == current.completed {
        return Ok(pb::UpdateTaskResponse {
            task: Some(to_proto(&before, now, &tz)),
        });
    }
    let completion = match (current.completed, next.completed) {
        (_, false) => None,
        (false, true) => Some(Completion {
            at: now,
            date: local_date(now, &tz),
            timezone: tz.clone(),
        }),
        // Still completed: it keeps counting on the day it was completed.
        (true, true) => kept_completion(&before),
    };
    let after = store::tasks::update(&mut tx, id, &next, completion.as_ref(), now).await?;
    if !changed.is_empty() {
        tx.publish(&publish::task_updated(&before, &after, &changed, now, &tz))
            .await?;
    }
    match (current.completed, next.completed) {
        (false, true) => {
            tx.publish(&publish::task_completed(&after, now, &tz))
                .await?;
        }
        (true, false) => {
            tx.publish(&publish::task_reopened(&before, &after, now, &tz))
                .await?;
        }
        _ => {}
    }
    tx.commit().await?;
    Ok(pb::UpdateTaskResponse {
        task: Some(to_proto(&after, now, &tz)),
    })
}

pub(super) async fn delete_task(
    s: &ActivitySessions,
    call: Call<pb::DeleteTaskRequest>,
) -> AppResult<pb::DeleteTaskResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("task_id", &call.message.task_id)?;
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let row = store::tasks::delete(&mut tx, user, id)
        .await?
        .ok_or_else(errors::no_task)?;
    let tz = directory::timezone(&mut tx, user).await?;
    tx.publish(&publish::task_deleted(&row, now, &tz)).await?;
    tx.commit().await?;
    Ok(pb::DeleteTaskResponse {})
}

fn kept_completion(row: &TaskRow) -> Option<Completion> {
    Some(Completion {
        at: row.completed_at?,
        date: row.completed_date?,
        timezone: row.completed_timezone.clone()?,
    })
}

/// The request's fields as domain values; malformed values of the fields `named` selects are
/// violations named `task.<field>`. The priority comes back apart: None when unspecified.
fn from_proto(
    v: &mut Violations,
    t: &pb::Task,
    named: impl Fn(&str) -> bool,
) -> (Fields, Option<Priority>) {
    let mut time = |field: &str, ts: &Option<prost_types::Timestamp>| {
        let at = ts
            .as_ref()
            .map(|ts| from_timestamp(ts).filter(|at| (EARLIEST_YEAR..=9999).contains(&at.year())));
        match at {
            Some(None) => {
                if named(field) {
                    v.add(
                        &format!("task.{field}"),
                        "must be a time between the years 1900 and 9999",
                    );
                }
                None
            }
            Some(at) => at,
            None => None,
        }
    };
    let start_at = time("start_time", &t.start_time);
    let due_at = time("due_time", &t.due_time);
    let reminder_at = time("reminder_time", &t.reminder_time);
    let priority = if named("priority") {
        priority(v, "task.priority", t.priority)
    } else {
        None
    };
    let tags = if named("tags") {
        task::normalize_tags(v, "task.tags", &t.tags)
    } else {
        Vec::new()
    };
    (
        Fields {
            title: t.title.trim().to_owned(),
            description: t.description.clone(),
            start_at,
            due_at,
            priority: priority.unwrap_or(Priority::Medium),
            tags,
            reminder_enabled: t.reminder_enabled,
            reminder_at,
            completed: t.completed,
        },
        priority,
    )
}

/// A priority the request names: None for unspecified; a violation on `field` for a value the
/// enum does not have.
fn priority(v: &mut Violations, field: &str, raw: i32) -> Option<Priority> {
    match pb::TaskPriority::try_from(raw) {
        Ok(pb::TaskPriority::Unspecified) => None,
        Ok(pb::TaskPriority::Low) => Some(Priority::Low),
        Ok(pb::TaskPriority::Medium) => Some(Priority::Medium),
        Ok(pb::TaskPriority::High) => Some(Priority::High),
        Err(_) => {
            v.add(field, "must be low, medium or high");
            None
        }
    }
}

fn to_proto(r: &TaskRow, now: OffsetDateTime, tz: &str) -> pb::Task {
    let priority = match r.priority {
        Priority::Low => pb::TaskPriority::Low,
        Priority::Medium => pb::TaskPriority::Medium,
        Priority::High => pb::TaskPriority::High,
    };
    let bucket = match task::bucket(r.completed, r.due_at, now, tz) {
        Bucket::Today => pb::TaskBucket::Today,
        Bucket::Upcoming => pb::TaskBucket::Upcoming,
        Bucket::Overdue => pb::TaskBucket::Overdue,
        Bucket::Done => pb::TaskBucket::Done,
    };
    pb::Task {
        id: r.id.to_string(),
        title: r.title.clone(),
        description: r.description.clone(),
        start_time: r.start_at.map(timestamp),
        due_time: r.due_at.map(timestamp),
        completed: r.completed,
        priority: priority as i32,
        tags: r.tags.clone(),
        reminder_enabled: r.reminder_enabled,
        reminder_time: r.reminder_at.map(timestamp),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        complete_time: r.completed_at.map(timestamp),
        complete_date: r.completed_date.map(date),
        bucket: bucket as i32,
    }
}
