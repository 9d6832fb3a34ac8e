//! NotificationService: settings (defaults, masked updates, fields named), push devices (cap,
//! token moving between accounts, others' ids), inbox (pages, unread filter, mark read).

use stride_proto::profile as pb;
use stride_testkit::{
    authed,
    bus::{assert_invalid, reason},
};
use time::OffsetDateTime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{NOW, notifications, start, user_in};

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn settings_start_with_defaults_and_change_by_mask() {
    let (h, _probe) = start().await;
    let user = user_in(&h, "ann", "Europe/Paris").await;
    let token = h.token(user);
    let mut c = notifications(&h);
    let s = c
        .get_notification_settings(authed(pb::GetNotificationSettingsRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(s.timezone, "Europe/Paris");
    assert_eq!(s.preferences.len(), 5);
    let q = s.quiet_hours.unwrap();
    assert_eq!((q.enabled, q.start_minute, q.end_minute), (true, 1320, 420));
    assert!(s.update_time.is_none());

    let wanted = pb::NotificationSettings {
        preferences: vec![pb::NotificationPreference {
            kind: pb::NotificationKind::TaskReminder.into(),
            email: true,
            push: false,
            inbox: true,
        }],
        quiet_hours: Some(pb::QuietHours {
            enabled: true,
            start_minute: 23 * 60,
            end_minute: 6 * 60,
        }),
        ..Default::default()
    };
    // Only the named part changes.
    let s = c
        .update_notification_settings(authed(
            pb::UpdateNotificationSettingsRequest {
                settings: Some(wanted.clone()),
                update_mask: mask(&["quiet_hours"]),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(s.quiet_hours.unwrap().start_minute, 23 * 60);
    let task = s
        .preferences
        .iter()
        .find(|p| p.kind == pb::NotificationKind::TaskReminder as i32)
        .unwrap();
    assert!(task.push && !task.email);
    assert!(s.update_time.is_some());
    let s = c
        .update_notification_settings(authed(
            pb::UpdateNotificationSettingsRequest {
                settings: Some(wanted),
                update_mask: mask(&["preferences"]),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    let task = s
        .preferences
        .iter()
        .find(|p| p.kind == pb::NotificationKind::TaskReminder as i32)
        .unwrap();
    assert!(!task.push && task.email && task.inbox);
    assert_eq!(s.quiet_hours.unwrap().end_minute, 6 * 60);

    // Bad values name their fields.
    let bad = pb::NotificationSettings {
        preferences: vec![
            pb::NotificationPreference::default(),
            pb::NotificationPreference {
                kind: 99,
                ..Default::default()
            },
        ],
        quiet_hours: Some(pb::QuietHours {
            enabled: true,
            start_minute: 1440,
            end_minute: -5,
        }),
        ..Default::default()
    };
    let err = c
        .update_notification_settings(authed(
            pb::UpdateNotificationSettingsRequest {
                settings: Some(bad),
                update_mask: mask(&["preferences", "quiet_hours", "timezone"]),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(
        &err,
        &[
            "update_mask.paths",
            "settings.preferences[0].kind",
            "settings.preferences[1].kind",
            "settings.quiet_hours.start_minute",
            "settings.quiet_hours.end_minute",
        ],
    );
    let err = c
        .update_notification_settings(authed(
            pb::UpdateNotificationSettingsRequest::default(),
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["update_mask"]);
    let many: Vec<&str> = vec!["preferences"; 10_000];
    let err = c
        .update_notification_settings(authed(
            pb::UpdateNotificationSettingsRequest {
                settings: None,
                update_mask: mask(&many),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["update_mask.paths"]);

    // No token; no profile.
    let err = c
        .get_notification_settings(pb::GetNotificationSettingsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = c
        .get_notification_settings(authed(
            pb::GetNotificationSettingsRequest {},
            &h.token(Uuid::now_v7()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

fn device(token: &str) -> pb::RegisterDeviceRequest {
    pb::RegisterDeviceRequest {
        token: token.into(),
        platform: pb::DevicePlatform::Android.into(),
        display_name: " Pixel ".into(),
    }
}

#[tokio::test]
async fn devices_register_refresh_move_and_are_capped() {
    let (h, _probe) = start().await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (ta, tb) = (h.token(ann), h.token(bob));
    let mut c = notifications(&h);
    let d = c
        .register_device(authed(device("tok-1"), &ta))
        .await
        .unwrap()
        .into_inner()
        .device
        .unwrap();
    assert_eq!(d.display_name, "Pixel");
    assert_eq!(d.platform, pb::DevicePlatform::Android as i32);
    // The same token again refreshes the same device.
    h.clock.advance(time::Duration::hours(1));
    let again = c
        .register_device(authed(device("tok-1"), &ta))
        .await
        .unwrap()
        .into_inner()
        .device
        .unwrap();
    assert_eq!(again.device_id, d.device_id);
    assert_eq!(again.create_time, d.create_time);
    assert_ne!(again.last_seen_time, d.last_seen_time);

    for i in 2..=10 {
        c.register_device(authed(device(&format!("tok-{i}")), &ta))
            .await
            .unwrap();
    }
    let err = c
        .register_device(authed(device("tok-11"), &ta))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(reason(&err), "TOO_MANY_DEVICES");
    // Refreshing a known one is still fine at the cap.
    c.register_device(authed(device("tok-3"), &ta))
        .await
        .unwrap();

    // Another account signing in on the same phone takes the token over.
    c.register_device(authed(device("tok-1"), &tb))
        .await
        .unwrap();
    let base = c.clone();
    let list = move |t: String| {
        let mut c = base.clone();
        async move {
            c.list_devices(authed(pb::ListDevicesRequest {}, &t))
                .await
                .unwrap()
                .into_inner()
                .devices
        }
    };
    assert_eq!(list(ta.clone()).await.len(), 9);
    let bobs = list(tb.clone()).await;
    assert_eq!(bobs.len(), 1);

    // Someone else's device is not found; a bad id is named.
    let err = c
        .unregister_device(authed(
            pb::UnregisterDeviceRequest {
                device_id: bobs[0].device_id.clone(),
            },
            &ta,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    c.unregister_device(authed(
        pb::UnregisterDeviceRequest {
            device_id: bobs[0].device_id.clone(),
        },
        &tb,
    ))
    .await
    .unwrap();
    assert!(list(tb.clone()).await.is_empty());
    let err = c
        .unregister_device(authed(
            pb::UnregisterDeviceRequest {
                device_id: "nope".into(),
            },
            &ta,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["device_id"]);
    let err = c
        .register_device(authed(
            pb::RegisterDeviceRequest {
                token: " ".into(),
                platform: 0,
                display_name: "x".repeat(65),
            },
            &ta,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["token", "display_name", "platform"]);
    h.stop().await;
}

async fn add_inbox(h: &crate::support::Harness, user: Uuid, title: &str, at: OffsetDateTime) {
    sqlx::query(
        "INSERT INTO inbox_messages (message_id, user_id, kind, title, body, created_at)
         VALUES ($1, $2, 'other', $3, 'body', $4)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(title)
    .bind(at)
    .execute(&h.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn inbox_pages_newest_first_filters_unread_and_marks_read() {
    let (h, _probe) = start().await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (ta, tb) = (h.token(ann), h.token(bob));
    for i in 0..5 {
        add_inbox(&h, ann, &format!("m{i}"), NOW + time::Duration::minutes(i)).await;
    }
    add_inbox(&h, bob, "bob's", NOW).await;
    let mut c = notifications(&h);
    let (base, owner) = (c.clone(), ta.clone());
    let page = move |size: i32, token: String, unread_only: bool| {
        let mut c = base.clone();
        let ta = owner.clone();
        async move {
            c.list_inbox_messages(authed(
                pb::ListInboxMessagesRequest {
                    page_size: size,
                    page_token: token,
                    unread_only,
                },
                &ta,
            ))
            .await
            .unwrap()
            .into_inner()
        }
    };
    let p1 = page(2, String::new(), false).await;
    let titles: Vec<_> = p1.messages.iter().map(|m| m.title.as_str()).collect();
    assert_eq!(titles, ["m4", "m3"]);
    let p2 = page(2, p1.next_page_token.clone(), false).await;
    let p3 = page(2, p2.next_page_token.clone(), false).await;
    assert_eq!(p3.messages.len(), 1);
    assert_eq!(p3.messages[0].title, "m0");
    assert!(p3.next_page_token.is_empty());

    let base = c.clone();
    let unread = move |t: String| {
        let mut c = base.clone();
        async move {
            c.get_inbox_unread_count(authed(pb::GetInboxUnreadCountRequest {}, &t))
                .await
                .unwrap()
                .into_inner()
                .unread_count
        }
    };
    assert_eq!(unread(ta.clone()).await, 5);
    let id = p1.messages[0].message_id.clone();
    // Bob cannot read Ann's message.
    let err = c
        .mark_inbox_message_read(authed(
            pb::MarkInboxMessageReadRequest {
                message_id: id.clone(),
            },
            &tb,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let m = c
        .mark_inbox_message_read(authed(
            pb::MarkInboxMessageReadRequest { message_id: id },
            &ta,
        ))
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert!(m.read_time.is_some());
    assert_eq!(unread(ta.clone()).await, 4);
    let p = page(0, String::new(), true).await;
    assert_eq!(p.messages.len(), 4);
    assert!(p.messages.iter().all(|m| m.title != "m4"));
    let n = c
        .mark_all_inbox_messages_read(authed(pb::MarkAllInboxMessagesReadRequest {}, &ta))
        .await
        .unwrap()
        .into_inner()
        .marked_count;
    assert_eq!(n, 4);
    assert_eq!(unread(ta.clone()).await, 0);
    assert_eq!(unread(tb.clone()).await, 1);
    let err = c
        .list_inbox_messages(authed(
            pb::ListInboxMessagesRequest {
                page_size: 101,
                page_token: "junk".into(),
                unread_only: false,
            },
            &ta,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["page_size", "page_token"]);
    h.stop().await;
}

/// A profile, settings, a device, an inbox message and a pending reminder.
async fn seed_everything(h: &crate::support::Harness, user: Uuid) {
    let auth = stride_testkit::bus::Publisher::start(&h.amqp, "auth").await;
    let id = auth
        .publish(&stride_testkit::fixtures::user_registered(
            user,
            &format!("u{}", user.simple()),
            "Europe/Paris",
            NOW,
        ))
        .await;
    h.consumed(id).await;
    let token = h.token(user);
    let mut c = notifications(h);
    c.update_notification_settings(authed(
        pb::UpdateNotificationSettingsRequest {
            settings: Some(pb::NotificationSettings {
                preferences: vec![pb::NotificationPreference {
                    kind: pb::NotificationKind::Other.into(),
                    email: true,
                    push: true,
                    inbox: true,
                }],
                ..Default::default()
            }),
            update_mask: mask(&["preferences", "quiet_hours"]),
        },
        &token,
    ))
    .await
    .unwrap();
    c.register_device(authed(device(&format!("tok-{user}")), &token))
        .await
        .unwrap();
    add_inbox(h, user, "hello", NOW).await;
    crate::support::reminders(h)
        .schedule_reminder(authed(
            pb::ScheduleReminderRequest {
                kind: pb::NotificationKind::TaskReminder.into(),
                key: "task-1".into(),
                local_time: Some(pb::LocalDateTime {
                    year: 2026,
                    month: 12,
                    day: 1,
                    hours: 9,
                    minutes: 0,
                }),
                title: "Do it".into(),
                body: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn notification_rows_keep_the_user_deleted_contract() {
    let (h, _probe) = start().await;
    stride_testkit::conformance::user_deleted(&h, |u| seed_everything(&h, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn notification_rows_keep_the_user_merged_contract() {
    let (h, _probe) = start().await;
    stride_testkit::conformance::user_merged(&h, |u| seed_everything(&h, u)).await;
    h.stop().await;
}
