//! Reminders: streak at risk scheduled from `session.completed.v1`, delivered once at the
//! user's local evening across a DST change, postponed out of quiet hours, on every enabled
//! channel (inbox, push, email through the dev mail sink); reminders other services schedule.

use std::time::Duration;

use stride_proto::profile as pb;
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Publisher, assert_invalid},
    eventually, fixtures,
};
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

use crate::support::{Harness, notifications, reminders, start, start_notify, user_in};

fn passes() -> u64 {
    stride_kit::metrics::render()
        .lines()
        .filter(|l| l.starts_with("stride_reminder_passes_total{"))
        .find_map(|l| l.rsplit(' ').next().and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// Sets the clock and waits for two whole scheduler passes after it: whatever was due by then
/// has been handled.
pub(crate) async fn at(h: &Harness, t: OffsetDateTime) {
    h.clock.set(t);
    let start = passes();
    eventually(EVENT_DEADLINE, "two reminder passes", || async move {
        (passes() >= start + 2).then_some(())
    })
    .await;
}

pub(crate) async fn inbox(h: &Harness, user: Uuid) -> Vec<pb::InboxMessage> {
    notifications(h)
        .list_inbox_messages(authed(
            pb::ListInboxMessagesRequest::default(),
            &h.token(user),
        ))
        .await
        .unwrap()
        .into_inner()
        .messages
}

async fn quiet(h: &Harness, user: Uuid, start_minute: i32, end_minute: i32) {
    notifications(h)
        .update_notification_settings(authed(
            pb::UpdateNotificationSettingsRequest {
                settings: Some(pb::NotificationSettings {
                    quiet_hours: Some(pb::QuietHours {
                        enabled: true,
                        start_minute,
                        end_minute,
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["quiet_hours".into()],
                }),
            },
            &h.token(user),
        ))
        .await
        .unwrap();
}

/// A push provider that records what it was handed.
#[derive(Clone, Default)]
struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<stride_profile::Push>>>);

impl stride_profile::PushSender for Recorded {
    fn send(
        &self,
        push: stride_profile::Push,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<(), stride_profile::PushError>> + Send + 'static>,
    > {
        self.0.lock().unwrap().push(push);
        Box::pin(async { Ok(()) })
    }
}

pub(crate) fn fast() -> stride_profile::NotifyConfig {
    stride_profile::NotifyConfig {
        reminder_tick: Duration::from_millis(50),
        ..Default::default()
    }
}

#[tokio::test]
async fn streak_at_risk_fires_once_at_local_evening_across_dst_and_never_in_quiet_hours() {
    let sink = stride_notify::DevSink::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let pushed = Recorded::default();
    let (h, _probe) = start_notify(stride_profile::NotifyConfig {
        mail_url: stride_kit::config::Secret::new(sink.smtp_url()),
        push: std::sync::Arc::new(pushed.clone()),
        ..fast()
    })
    .await;
    // The days before the change (the harness starts in November).
    h.clock.set(datetime!(2026-03-27 12:00 UTC));
    // Paris springs forward on 2026-03-29 (UTC+1 → UTC+2): 19:00 local is 17:00 UTC that day.
    let ann = user_in(&h, "ann", "Europe/Paris").await;
    // Bob is in the same zone with quiet hours 18:30–21:00.
    let bob = user_in(&h, "bob", "Europe/Paris").await;
    quiet(&h, bob, 18 * 60 + 30, 21 * 60).await;
    // Cid was active on both days: no reminder.
    let cid = user_in(&h, "cid", "Europe/Paris").await;
    notifications(&h)
        .register_device(authed(
            pb::RegisterDeviceRequest {
                token: "ann-phone".into(),
                platform: pb::DevicePlatform::Ios.into(),
                display_name: String::new(),
            },
            &h.token(ann),
        ))
        .await
        .unwrap();

    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let saturday = datetime!(2026-03-28 09:00 UTC);
    for u in [ann, bob, cid] {
        let e = fixtures::session_completed(
            u,
            "focus",
            saturday,
            time::Duration::minutes(25),
            "Europe/Paris",
        );
        h.consumed(activity.publish(&e).await).await;
    }
    // A replay under a new id schedules nothing more.
    let again = fixtures::session_completed(
        ann,
        "focus",
        saturday,
        time::Duration::minutes(5),
        "Europe/Paris",
    );
    h.consumed(activity.publish(&again).await).await;
    let sunday = fixtures::session_completed(
        cid,
        "focus",
        datetime!(2026-03-29 08:00 UTC),
        time::Duration::minutes(25),
        "Europe/Paris",
    );
    h.consumed(activity.publish(&sunday).await).await;

    // 18:59 local on Sunday (16:59 UTC; still 17:59 under the winter offset): nothing yet.
    at(&h, datetime!(2026-03-29 16:59 UTC)).await;
    assert!(inbox(&h, ann).await.is_empty());
    // 19:00 local: Ann is reminded, on each channel.
    at(&h, datetime!(2026-03-29 17:00 UTC)).await;
    let got = inbox(&h, ann).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind, pb::NotificationKind::StreakAtRisk as i32);
    let mail = sink
        .wait_for_mail("ann@example.com", EVENT_DEADLINE)
        .await
        .expect("the reminder mail");
    assert!(mail.subject.contains("streak"), "{}", mail.subject);
    // Bob's 19:00 is in his quiet hours: it waits until 21:00 local (19:00 UTC).
    assert!(inbox(&h, bob).await.is_empty());
    at(&h, datetime!(2026-03-29 18:59 UTC)).await;
    assert!(inbox(&h, bob).await.is_empty());
    at(&h, datetime!(2026-03-29 19:00 UTC)).await;
    assert_eq!(inbox(&h, bob).await.len(), 1);
    // Cid was active on Sunday: nothing for Sunday evening.
    assert!(inbox(&h, cid).await.is_empty());

    // Once: days later nothing more arrives for Ann and Bob; Cid, active on Sunday and not on
    // Monday, got Monday's.
    at(&h, datetime!(2026-04-02 12:00 UTC)).await;
    assert_eq!(inbox(&h, ann).await.len(), 1);
    assert_eq!(inbox(&h, bob).await.len(), 1);
    let cids = inbox(&h, cid).await;
    assert_eq!(cids.len(), 1);
    assert_eq!(
        cids[0].create_time.as_ref().map(|t| t.seconds),
        Some(datetime!(2026-04-02 12:00 UTC).unix_timestamp())
    );
    assert_eq!(sink.mail_to("ann@example.com").len(), 1);
    let channels: Vec<String> = sqlx::query_scalar(
        "SELECT d.channel FROM reminder_deliveries d JOIN reminders r USING (reminder_id)
         WHERE r.user_id = $1 ORDER BY 1",
    )
    .bind(ann)
    .fetch_all(&h.db)
    .await
    .unwrap();
    assert_eq!(channels, ["email", "inbox", "push"]);
    let pushes = pushed.0.lock().unwrap().clone();
    assert_eq!(pushes.len(), 1, "one push, to Ann's one device");
    assert_eq!(pushes[0].token, "ann-phone");
    assert_eq!(pushes[0].kind, "streak_at_risk");
    h.stop().await;
    sink.shutdown().await;
}

pub(crate) fn task(
    key: &str,
    y: i32,
    mo: i32,
    d: i32,
    hh: i32,
    mm: i32,
) -> pb::ScheduleReminderRequest {
    pb::ScheduleReminderRequest {
        kind: pb::NotificationKind::TaskReminder.into(),
        key: key.into(),
        local_time: Some(pb::LocalDateTime {
            year: y,
            month: mo,
            day: d,
            hours: hh,
            minutes: mm,
        }),
        title: format!("Task {key}"),
        body: String::new(),
    }
}

#[tokio::test]
async fn scheduled_reminders_follow_local_time_are_idempotent_and_cancellable() {
    let (h, _probe) = start_notify(fast()).await;
    h.clock.set(datetime!(2026-10-30 12:00 UTC));
    // New York falls back on 2026-11-01: 01:30 happens twice; the first (EDT) is meant.
    let ann = user_in(&h, "ann", "America/New_York").await;
    let token = h.token(ann);
    let mut r = reminders(&h);
    let first = r
        .schedule_reminder(authed(task("t1", 2026, 11, 1, 1, 30), &token))
        .await
        .unwrap()
        .into_inner();
    let due = first.due_time.unwrap();
    assert_eq!(
        due.seconds,
        datetime!(2026-11-01 05:30 UTC).unix_timestamp()
    );
    // Scheduling the same key again moves it while pending (same reminder).
    let moved = r
        .schedule_reminder(authed(task("t1", 2026, 11, 1, 8, 0), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.reminder_id, first.reminder_id);
    assert_eq!(
        moved.due_time.unwrap().seconds,
        datetime!(2026-11-01 13:00 UTC).unix_timestamp()
    );
    r.schedule_reminder(authed(task("t2", 2026, 11, 1, 9, 0), &token))
        .await
        .unwrap();
    assert!(
        r.cancel_reminder(authed(
            pb::CancelReminderRequest {
                kind: pb::NotificationKind::TaskReminder.into(),
                key: "t2".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cancelled
    );
    at(&h, datetime!(2026-11-01 12:59 UTC)).await;
    assert!(inbox(&h, ann).await.is_empty());
    at(&h, datetime!(2026-11-01 13:00 UTC)).await;
    let got = inbox(&h, ann).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].title, "Task t1");
    // Delivered: scheduling the key again changes nothing and nothing is sent twice.
    r.schedule_reminder(authed(task("t1", 2026, 11, 2, 8, 0), &token))
        .await
        .unwrap();
    at(&h, datetime!(2026-11-03 13:00 UTC)).await;
    assert_eq!(inbox(&h, ann).await.len(), 1);

    let err = r
        .schedule_reminder(authed(
            pb::ScheduleReminderRequest {
                kind: pb::NotificationKind::StreakAtRisk.into(),
                key: String::new(),
                local_time: Some(pb::LocalDateTime {
                    year: 2026,
                    month: 2,
                    day: 30,
                    hours: 9,
                    minutes: 0,
                }),
                title: String::new(),
                body: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["kind", "key", "title", "local_time"]);
    h.stop().await;
}

#[tokio::test]
async fn reminders_need_a_token() {
    let (h, _probe) = start().await;
    let err = reminders(&h)
        .schedule_reminder(task("t", 2026, 12, 1, 9, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn task_reminders_follow_the_task_events() {
    use stride_testkit::fixtures::{task_completed, task_created};
    let (h, _probe) = start_notify(fast()).await;
    h.clock.set(datetime!(2026-03-27 12:00 UTC));
    let ann = user_in(&h, "ann", "Europe/Paris").await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let (t1, t2, t3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let now = datetime!(2026-03-27 12:00 UTC);
    // t1 at 09:00 Paris on Sunday, after the spring-forward (07:00 UTC).
    let sunday_nine = datetime!(2026-03-29 07:00 UTC);
    let e = task_created(ann, t1, "Pay rent", Some(sunday_nine), now, "Europe/Paris");
    h.consumed(activity.publish(&e).await).await;
    // t2 is completed before its reminder; t3's reminder is already past: neither fires.
    let e = task_created(ann, t2, "Call Bob", Some(sunday_nine), now, "Europe/Paris");
    h.consumed(activity.publish(&e).await).await;
    let done = task_completed(ann, t2, now, "Europe/Paris");
    h.consumed(activity.publish(&done).await).await;
    let past = now - time::Duration::hours(1);
    let e = task_created(ann, t3, "Old", Some(past), now, "Europe/Paris");
    h.consumed(activity.publish(&e).await).await;
    // A replay of t1's creation (a new event id) changes nothing.
    let e = task_created(ann, t1, "Pay rent", Some(sunday_nine), now, "Europe/Paris");
    h.consumed(activity.publish(&e).await).await;

    at(&h, datetime!(2026-03-29 06:59 UTC)).await;
    assert!(inbox(&h, ann).await.is_empty());
    at(&h, sunday_nine).await;
    let got = inbox(&h, ann).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].title, "Pay rent");
    assert_eq!(got[0].kind, pb::NotificationKind::TaskReminder as i32);
    at(&h, datetime!(2026-03-31 12:00 UTC)).await;
    assert_eq!(
        inbox(&h, ann).await.len(),
        1,
        "t2 and t3 never fire, t1 once"
    );

    // Moving t1's reminder to a later time re-arms it once more.
    let tuesday = datetime!(2026-04-01 07:00 UTC);
    let e = task_created(ann, t1, "Pay rent", Some(tuesday), now, "Europe/Paris");
    h.consumed(activity.publish(&e).await).await;
    at(&h, tuesday).await;
    assert_eq!(inbox(&h, ann).await.len(), 2);
    h.stop().await;
}
