//! TaskService: buckets on the user's local date across timezones and a DST change, field-mask
//! updates and the events they announce, bad values named, other users' tasks NOT_FOUND, and
//! the lifecycle contract with tasks, reflections and lesson progress seeded.

use prost_types::FieldMask;
use stride_kit::convert::{self, timestamp};
use stride_proto::{
    Event as _,
    activity_session::{
        self as pb, TaskBucket, TaskOrder, TaskPriority, task_service_client::TaskServiceClient,
    },
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, Publisher, assert_invalid},
    conformance, fixtures,
};
use time::{
    Duration, OffsetDateTime,
    macros::{date, datetime},
};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, start};

pub fn tasks(h: &Harness) -> TaskServiceClient<Channel> {
    TaskServiceClient::new(h.channel.clone())
}

/// Gives `user` the IANA zone `tz` through a real `profile.updated.v1`.
pub async fn set_timezone(h: &Harness, profile: &Publisher, user: Uuid, tz: &str, revision: i64) {
    let id = profile
        .publish(&fixtures::profile_updated(
            user,
            "Ada",
            tz,
            revision,
            stride_kit::Clock::now(&h.clock),
        ))
        .await;
    h.consumed(id).await;
}

fn draft(title: &str, due: Option<OffsetDateTime>) -> pb::Task {
    pb::Task {
        title: title.into(),
        due_time: due.map(timestamp),
        ..Default::default()
    }
}

pub async fn create(h: &Harness, user: Uuid, task: pb::Task) -> pb::Task {
    tasks(h)
        .create_task(authed(
            pb::CreateTaskRequest { task: Some(task) },
            &h.token(user),
        ))
        .await
        .expect("create task")
        .into_inner()
        .task
        .expect("task")
}

async fn list(h: &Harness, user: Uuid, req: pb::ListTasksRequest) -> Vec<String> {
    tasks(h)
        .list_tasks(authed(req, &h.token(user)))
        .await
        .expect("list tasks")
        .into_inner()
        .tasks
        .into_iter()
        .map(|t| t.title)
        .collect()
}

fn in_bucket(b: TaskBucket) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        bucket: b as i32,
        ..Default::default()
    }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn update(
    h: &Harness,
    user: Uuid,
    id: &str,
    task: pb::Task,
    paths: &[&str],
) -> Result<pb::Task, tonic::Status> {
    tasks(h)
        .update_task(authed(
            pb::UpdateTaskRequest {
                task_id: id.into(),
                task: Some(task),
                update_mask: mask(paths),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().task.expect("task"))
}

#[tokio::test]
async fn buckets_follow_each_users_local_date_and_a_dst_change() {
    // 23:30 UTC on 2026-03-28: already the 29th in Paris (CET, +1), still the 28th in New York.
    let (h, _probe) = start(datetime!(2026-03-28 23:30 UTC)).await;
    let mut created = Probe::bind(&h.amqp, events::TaskCreated::TYPE).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    let (paris, new_york) = (Uuid::now_v7(), Uuid::now_v7());
    set_timezone(&h, &profile, paris, "Europe/Paris", 1).await;
    set_timezone(&h, &profile, new_york, "America/New_York", 1).await;
    for user in [paris, new_york] {
        // 12:00 UTC on the 28th, 10:00 UTC on the 29th, 22:30 UTC on the 29th, none.
        create(
            &h,
            user,
            draft("sat-noon", Some(datetime!(2026-03-28 12:00 UTC))),
        )
        .await;
        create(
            &h,
            user,
            draft("sun-10", Some(datetime!(2026-03-29 10:00 UTC))),
        )
        .await;
        create(
            &h,
            user,
            draft("sun-2230", Some(datetime!(2026-03-29 22:30 UTC))),
        )
        .await;
        create(&h, user, draft("undated", None)).await;
    }
    let (_, _, app, e) = created.next::<events::TaskCreated>().await;
    assert_eq!(app, "activity-session");
    assert_eq!(e.timezone, "Europe/Paris");
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 03 - 29))
    );

    // Paris, on the 29th: the 28th is overdue; 10:00 UTC is today.
    assert_eq!(
        list(&h, paris, in_bucket(TaskBucket::Overdue)).await,
        ["sat-noon"]
    );
    assert_eq!(
        list(&h, paris, in_bucket(TaskBucket::Today)).await,
        ["sun-10"]
    );
    // 22:30 UTC on the 29th is 00:30 on the 30th in Paris after the spring-forward (CEST, +2).
    assert_eq!(
        list(&h, paris, in_bucket(TaskBucket::Upcoming)).await,
        ["sun-2230", "undated"]
    );
    // New York, still the 28th: noon UTC is today, the 29th's are upcoming.
    assert_eq!(
        list(&h, new_york, in_bucket(TaskBucket::Overdue)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(&h, new_york, in_bucket(TaskBucket::Today)).await,
        ["sat-noon"]
    );
    assert_eq!(
        list(&h, new_york, in_bucket(TaskBucket::Upcoming)).await,
        ["sun-10", "sun-2230", "undated"]
    );

    // A day later in Paris (the 30th, CEST): 22:30 UTC on the 29th is now today.
    h.clock.set(datetime!(2026-03-30 09:00 UTC));
    assert_eq!(
        list(&h, paris, in_bucket(TaskBucket::Today)).await,
        ["sun-2230"]
    );
    assert_eq!(
        list(&h, paris, in_bucket(TaskBucket::Overdue)).await,
        ["sat-noon", "sun-10"]
    );
    // Each task says its bucket too.
    let all = tasks(&h)
        .list_tasks(authed(pb::ListTasksRequest::default(), &h.token(paris)))
        .await
        .expect("list")
        .into_inner()
        .tasks;
    let buckets: Vec<_> = all.iter().map(|t| (t.title.as_str(), t.bucket)).collect();
    assert_eq!(
        buckets,
        [
            ("sat-noon", TaskBucket::Overdue as i32),
            ("sun-10", TaskBucket::Overdue as i32),
            ("sun-2230", TaskBucket::Today as i32),
            ("undated", TaskBucket::Upcoming as i32),
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn filters_sorting_and_pages() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let day = |d: i64| Some(datetime!(2026-11-22 12:00 UTC) + Duration::days(d));
    let mk = |title: &str, due: Option<OffsetDateTime>, priority: TaskPriority, tags: &[&str]| {
        pb::Task {
            title: title.into(),
            due_time: due.map(timestamp),
            priority: priority as i32,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        }
    };
    create(&h, user, mk("a", day(2), TaskPriority::Low, &["work"])).await;
    h.clock.advance(Duration::seconds(1));
    create(
        &h,
        user,
        mk("b", day(1), TaskPriority::High, &["Work", "urgent"]),
    )
    .await;
    h.clock.advance(Duration::seconds(1));
    let c = create(&h, user, mk("c", None, TaskPriority::High, &[])).await;
    h.clock.advance(Duration::seconds(1));
    let d = create(
        &h,
        user,
        mk("d", day(0), TaskPriority::Unspecified, &["home"]),
    )
    .await;
    assert_eq!(d.priority, TaskPriority::Medium as i32, "medium by default");
    assert_eq!(
        create(
            &h,
            Uuid::now_v7(),
            mk("other's", day(0), TaskPriority::High, &["work"])
        )
        .await
        .bucket,
        TaskBucket::Today as i32
    );

    let order = |o: TaskOrder| pb::ListTasksRequest {
        order_by: o as i32,
        ..Default::default()
    };
    assert_eq!(
        list(&h, user, order(TaskOrder::Due)).await,
        ["d", "b", "a", "c"]
    );
    assert_eq!(
        list(&h, user, order(TaskOrder::Priority)).await,
        ["b", "c", "d", "a"]
    );
    assert_eq!(
        list(&h, user, order(TaskOrder::Created)).await,
        ["d", "c", "b", "a"]
    );
    let filtered = |f: pb::ListTasksRequest| list(&h, user, f);
    assert_eq!(
        filtered(pb::ListTasksRequest {
            tags: vec!["work".into()],
            ..Default::default()
        })
        .await,
        ["b", "a"],
        "tags are matched lower-cased"
    );
    assert_eq!(
        filtered(pb::ListTasksRequest {
            tags: vec!["work".into(), "URGENT".into()],
            ..Default::default()
        })
        .await,
        ["b"],
        "every tag listed"
    );
    assert_eq!(
        filtered(pb::ListTasksRequest {
            priority: TaskPriority::High as i32,
            ..Default::default()
        })
        .await,
        ["b", "c"]
    );

    // Completing one moves it to Done and out of completed=false.
    update(
        &h,
        user,
        &c.id,
        pb::Task {
            completed: true,
            ..Default::default()
        },
        &["completed"],
    )
    .await
    .expect("complete");
    assert_eq!(list(&h, user, in_bucket(TaskBucket::Done)).await, ["c"]);
    assert_eq!(
        filtered(pb::ListTasksRequest {
            completed: Some(false),
            ..Default::default()
        })
        .await,
        ["d", "b", "a"]
    );

    // Pages of each order concatenate to the whole list.
    for o in [TaskOrder::Due, TaskOrder::Priority, TaskOrder::Created] {
        let whole = list(&h, user, order(o)).await;
        let mut paged = Vec::new();
        let mut token = String::new();
        loop {
            let page = tasks(&h)
                .list_tasks(authed(
                    pb::ListTasksRequest {
                        page_size: 1,
                        page_token: token,
                        order_by: o as i32,
                        ..Default::default()
                    },
                    &h.token(user),
                ))
                .await
                .expect("page")
                .into_inner();
            paged.extend(page.tasks.into_iter().map(|t| t.title));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(paged, whole, "{o:?}");
    }

    let bad = tasks(&h)
        .list_tasks(authed(
            pb::ListTasksRequest {
                page_size: 101,
                page_token: "nope".into(),
                priority: 9,
                tags: vec![" ".into()],
                bucket: 9,
                order_by: 9,
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect_err("bad list");
    assert_invalid(
        &bad,
        &[
            "page_size",
            "page_token",
            "priority",
            "bucket",
            "order_by",
            "tags[0]",
        ],
    );
    h.stop().await;
}

#[tokio::test]
async fn field_mask_updates_complete_reopen_and_announce_before_and_after() {
    let (h, _probe) = start(datetime!(2026-11-22 22:30 UTC)).await;
    let mut updated = Probe::bind(&h.amqp, events::TaskUpdated::TYPE).await;
    let mut completed = Probe::bind(&h.amqp, events::TaskCompleted::TYPE).await;
    let mut reopened = Probe::bind(&h.amqp, events::TaskReopened::TYPE).await;
    let mut deleted = Probe::bind(&h.amqp, events::TaskDeleted::TYPE).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    let user = Uuid::now_v7();
    set_timezone(&h, &profile, user, "Asia/Tokyo", 1).await;
    let t = create(
        &h,
        user,
        pb::Task {
            title: "Report".into(),
            description: "Q4".into(),
            tags: vec!["work".into()],
            due_time: Some(timestamp(datetime!(2026-11-23 08:00 UTC))),
            ..Default::default()
        },
    )
    .await;

    // Only the named fields change; a named time left unset clears it.
    let u = update(
        &h,
        user,
        &t.id,
        pb::Task {
            title: "ignored".into(),
            priority: TaskPriority::High as i32,
            ..Default::default()
        },
        &["priority", "due_time"],
    )
    .await
    .expect("update");
    assert_eq!((u.title.as_str(), u.description.as_str()), ("Report", "Q4"));
    assert_eq!(u.priority, TaskPriority::High as i32);
    assert_eq!(u.due_time, None);
    assert_eq!(u.tags, ["work"]);
    let (_, _, _, e) = updated.next::<events::TaskUpdated>().await;
    assert_eq!(e.changed_fields, ["due_time", "priority"]);
    assert_eq!(
        e.before.as_ref().map(|b| b.priority.as_str()),
        Some("medium")
    );
    assert!(e.before.as_ref().is_some_and(|b| b.due_time.is_some()));
    assert_eq!(e.after.as_ref().map(|a| a.priority.as_str()), Some("high"));
    assert_eq!(e.timezone, "Asia/Tokyo");

    // Completing at 22:30 UTC counts on the 23rd in Tokyo; only task.completed.v1 goes out.
    let c = update(
        &h,
        user,
        &t.id,
        pb::Task {
            completed: true,
            ..Default::default()
        },
        &["completed"],
    )
    .await
    .expect("complete");
    assert!(c.completed);
    assert_eq!(c.bucket, TaskBucket::Done as i32);
    assert_eq!(
        c.complete_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    let (_, _, _, e) = completed.next::<events::TaskCompleted>().await;
    let snap = e.task.expect("snapshot");
    assert!(snap.completed);
    assert_eq!(
        snap.complete_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    assert_eq!(snap.complete_timezone, "Asia/Tokyo");
    assert_eq!(snap.priority, "high");

    // The same value again changes and announces nothing.
    let again = update(
        &h,
        user,
        &t.id,
        pb::Task {
            completed: true,
            ..Default::default()
        },
        &["completed"],
    )
    .await
    .expect("no-op");
    assert_eq!(again.update_time, c.update_time);

    // Reopening a day later takes back the completion counted on the 23rd.
    h.clock.advance(Duration::days(1));
    let r = update(&h, user, &t.id, pb::Task::default(), &["completed"])
        .await
        .expect("reopen");
    assert!(!r.completed);
    assert_eq!(r.complete_time, None);
    let (_, _, _, e) = reopened.next::<events::TaskReopened>().await;
    let prev = e.previous.expect("previous");
    assert_eq!(
        prev.complete_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    assert!(!e.task.expect("task").completed);
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 24))
    );

    // Deleting announces its last state.
    tasks(&h)
        .delete_task(authed(
            pb::DeleteTaskRequest {
                task_id: t.id.clone(),
            },
            &h.token(user),
        ))
        .await
        .expect("delete");
    let (_, _, _, e) = deleted.next::<events::TaskDeleted>().await;
    assert_eq!(e.task_id, t.id);
    assert_eq!(e.task.map(|s| s.title), Some("Report".into()));
    let gone = tasks(&h)
        .get_task(authed(
            pb::GetTaskRequest {
                task_id: t.id.clone(),
            },
            &h.token(user),
        ))
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    assert!(
        completed
            .quiet_for(std::time::Duration::from_millis(300))
            .await,
        "one completion only"
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_values_are_named_and_other_users_tasks_are_not_found() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let (owner, other) = (Uuid::now_v7(), Uuid::now_v7());
    let t = create(
        &h,
        owner,
        pb::Task {
            title: "Mine".into(),
            start_time: Some(timestamp(datetime!(2026-11-22 09:00 UTC))),
            ..Default::default()
        },
    )
    .await;
    let create_err = |task: pb::Task| {
        let mut c = tasks(&h);
        let token = h.token(owner);
        async move {
            c.create_task(authed(pb::CreateTaskRequest { task: Some(task) }, &token))
                .await
                .expect_err("refused")
        }
    };
    let e = create_err(pb::Task {
        title: " ".into(),
        priority: 7,
        tags: vec!["ok".into(), "x".repeat(40)],
        start_time: Some(timestamp(datetime!(2026-11-23 10:00 UTC))),
        due_time: Some(timestamp(datetime!(2026-11-22 10:00 UTC))),
        reminder_enabled: true,
        ..Default::default()
    })
    .await;
    assert_invalid(
        &e,
        &[
            "task.priority",
            "task.tags[1]",
            "task.title",
            "task.due_time",
            "task.reminder_time",
        ],
    );
    let e = create_err(pb::Task {
        title: "t".into(),
        due_time: Some(prost_types::Timestamp {
            seconds: i64::MIN,
            nanos: 0,
        }),
        ..Default::default()
    })
    .await;
    assert_invalid(&e, &["task.due_time"]);
    let e = tasks(&h)
        .create_task(authed(
            pb::CreateTaskRequest { task: None },
            &h.token(owner),
        ))
        .await
        .expect_err("no task");
    assert_invalid(&e, &["task", "task.title"]);

    // Updates: the mask and the values it names; a rule broken against the stored fields.
    let e = update(&h, owner, &t.id, pb::Task::default(), &[])
        .await
        .expect_err("no mask");
    assert_invalid(&e, &["update_mask"]);
    let e = update(
        &h,
        owner,
        &t.id,
        pb::Task::default(),
        &["bucket", "priority"],
    )
    .await
    .expect_err("bad paths");
    assert_invalid(&e, &["task.priority", "update_mask.paths"]);
    let e = update(
        &h,
        owner,
        &t.id,
        pb::Task {
            due_time: Some(timestamp(datetime!(2026-11-22 08:00 UTC))),
            ..Default::default()
        },
        &["due_time"],
    )
    .await
    .expect_err("due before start");
    assert_invalid(&e, &["task.due_time"]);
    let e = update(&h, owner, "not-a-uuid", pb::Task::default(), &["title"])
        .await
        .expect_err("bad id");
    assert_invalid(&e, &["task_id"]);

    // Someone else's task is not found, whatever the call; nothing of it changes.
    let not_found = |s: tonic::Status| assert_eq!(s.code(), Code::NotFound, "{s:?}");
    not_found(
        tasks(&h)
            .get_task(authed(
                pb::GetTaskRequest {
                    task_id: t.id.clone(),
                },
                &h.token(other),
            ))
            .await
            .expect_err("get"),
    );
    not_found(
        update(
            &h,
            other,
            &t.id,
            pb::Task {
                title: "Theirs".into(),
                ..Default::default()
            },
            &["title"],
        )
        .await
        .expect_err("update"),
    );
    not_found(
        tasks(&h)
            .delete_task(authed(
                pb::DeleteTaskRequest {
                    task_id: t.id.clone(),
                },
                &h.token(other),
            ))
            .await
            .expect_err("delete"),
    );
    assert!(
        list(&h, other, pb::ListTasksRequest::default())
            .await
            .is_empty()
    );
    let still = tasks(&h)
        .get_task(authed(
            pb::GetTaskRequest {
                task_id: t.id.clone(),
            },
            &h.token(owner),
        ))
        .await
        .expect("get")
        .into_inner()
        .task
        .expect("task");
    assert_eq!(still.title, "Mine");

    let e = tasks(&h)
        .list_tasks(pb::ListTasksRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
    h.stop().await;
}

/// Gives `user` a task (completed), a shutdown reflection and a completed lesson.
async fn seed(h: &Harness, user: Uuid) {
    let t = create(
        h,
        user,
        draft("Seeded", Some(datetime!(2026-11-22 12:00 UTC))),
    )
    .await;
    update(
        h,
        user,
        &t.id,
        pb::Task {
            completed: true,
            ..Default::default()
        },
        &["completed"],
    )
    .await
    .expect("complete");
    crate::reflections::submit(h, user, pb::ProductivityRating::Good, "").await;
    crate::learning::complete(h, user, crate::learning::WHAT_IS_AN_EQUATION).await;
}

#[tokio::test]
async fn user_deleted_keeps_the_lifecycle_contract_with_tasks_reflections_and_progress() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    conformance::user_deleted(&h, |u| seed(&h, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_moves_tasks_reflections_and_progress() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    conformance::user_merged(&h, |u| seed(&h, u)).await;

    // Both completed the same lesson: the target keeps one row, the earlier completion.
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    crate::learning::complete(&h, source, crate::learning::WHAT_IS_AN_EQUATION).await;
    h.clock.advance(Duration::hours(1));
    crate::learning::complete(&h, target, crate::learning::WHAT_IS_AN_EQUATION).await;
    let t = create(&h, source, draft("Guest's", None)).await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let id = auth
        .publish(&fixtures::user_merged(
            &source.to_string(),
            &target.to_string(),
            stride_kit::Clock::now(&h.clock),
        ))
        .await;
    h.consumed(id).await;
    let rows: Vec<(Uuid, OffsetDateTime)> = sqlx::query_as(
        "SELECT user_id, completed_at FROM lesson_progress WHERE user_id IN ($1, $2)",
    )
    .bind(source)
    .bind(target)
    .fetch_all(&h.db)
    .await
    .expect("progress");
    assert_eq!(rows, [(target, datetime!(2026-11-22 10:00 UTC))]);
    let moved = tasks(&h)
        .get_task(authed(
            pb::GetTaskRequest {
                task_id: t.id.clone(),
            },
            &h.token(target),
        ))
        .await
        .expect("the guest's task is the target's")
        .into_inner();
    assert_eq!(moved.task.map(|t| t.title), Some("Guest's".into()));
    h.stop().await;
}
