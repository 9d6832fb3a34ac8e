//! `stride.profile.v1.NotificationService` (settings, devices, inbox) and
//! `stride.profile.v1.ReminderService` (reminders other services schedule; service-only).

use sqlx::PgPool;
use stride_kit::{
    AppError, AppResult, Call, ResultExt as _, Violations,
    clock::SharedClock,
    convert::{require_id, timestamp},
    pagination::Page,
};
use stride_proto::profile::{
    self as pb, notification_service_server::NotificationService,
    reminder_service_server::ReminderService,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    domain::{self, Channels, Kind, LocalTime, QuietHours},
    store,
};
use crate::errors;

const MAX_MASK_PATHS: usize = 16;

pub struct Notifications {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl NotificationService for Notifications {
        fn get_notification_settings(pb::GetNotificationSettingsRequest) -> pb::GetNotificationSettingsResponse => get_settings;
        fn update_notification_settings(pb::UpdateNotificationSettingsRequest) -> pb::UpdateNotificationSettingsResponse => update_settings;
        fn register_device(pb::RegisterDeviceRequest) -> pb::RegisterDeviceResponse => register_device;
        fn unregister_device(pb::UnregisterDeviceRequest) -> pb::UnregisterDeviceResponse => unregister_device;
        fn list_devices(pb::ListDevicesRequest) -> pb::ListDevicesResponse => list_devices;
        fn list_inbox_messages(pb::ListInboxMessagesRequest) -> pb::ListInboxMessagesResponse => list_inbox;
        fn mark_inbox_message_read(pb::MarkInboxMessageReadRequest) -> pb::MarkInboxMessageReadResponse => mark_read;
        fn mark_all_inbox_messages_read(pb::MarkAllInboxMessagesReadRequest) -> pb::MarkAllInboxMessagesReadResponse => mark_all_read;
        fn get_inbox_unread_count(pb::GetInboxUnreadCountRequest) -> pb::GetInboxUnreadCountResponse => unread_count;
    }
}

pub fn kind_from_proto(k: i32) -> Option<Kind> {
    match pb::NotificationKind::try_from(k).ok()? {
        pb::NotificationKind::Unspecified => None,
        pb::NotificationKind::TaskReminder => Some(Kind::TaskReminder),
        pb::NotificationKind::StreakAtRisk => Some(Kind::StreakAtRisk),
        pb::NotificationKind::ChallengeEnding => Some(Kind::ChallengeEnding),
        pb::NotificationKind::PlanDayDue => Some(Kind::PlanDayDue),
        pb::NotificationKind::Other => Some(Kind::Other),
    }
}

pub fn kind_to_proto(k: Kind) -> pb::NotificationKind {
    match k {
        Kind::TaskReminder => pb::NotificationKind::TaskReminder,
        Kind::StreakAtRisk => pb::NotificationKind::StreakAtRisk,
        Kind::ChallengeEnding => pb::NotificationKind::ChallengeEnding,
        Kind::PlanDayDue => pb::NotificationKind::PlanDayDue,
        Kind::Other => pb::NotificationKind::Other,
    }
}

fn platform_name(p: i32) -> Option<&'static str> {
    match pb::DevicePlatform::try_from(p).ok()? {
        pb::DevicePlatform::Unspecified => None,
        pb::DevicePlatform::Android => Some("android"),
        pb::DevicePlatform::Ios => Some("ios"),
        pb::DevicePlatform::Web => Some("web"),
    }
}

fn platform_to_proto(name: &str) -> pb::DevicePlatform {
    match name {
        "android" => pb::DevicePlatform::Android,
        "ios" => pb::DevicePlatform::Ios,
        "web" => pb::DevicePlatform::Web,
        _ => pb::DevicePlatform::Unspecified,
    }
}

async fn settings(
    conn: &mut sqlx::PgConnection,
    user: Uuid,
) -> AppResult<pb::NotificationSettings> {
    let tz = store::timezone(conn, user)
        .await?
        .ok_or_else(errors::no_profile)?;
    let prefs = domain::complete(&store::preferences(conn, user).await?);
    let (quiet, at) = match store::quiet_hours(conn, user).await? {
        Some((q, at)) => (q, Some(at)),
        None => (QuietHours::default(), None),
    };
    Ok(pb::NotificationSettings {
        preferences: prefs
            .into_iter()
            .map(|p| pb::NotificationPreference {
                kind: kind_to_proto(p.kind).into(),
                email: p.channels.email,
                push: p.channels.push,
                inbox: p.channels.inbox,
            })
            .collect(),
        quiet_hours: Some(pb::QuietHours {
            enabled: quiet.enabled,
            start_minute: quiet.start_minute,
            end_minute: quiet.end_minute,
        }),
        timezone: tz,
        update_time: at.map(timestamp),
    })
}

async fn get_settings(
    s: &Notifications,
    call: Call<pb::GetNotificationSettingsRequest>,
) -> AppResult<pb::GetNotificationSettingsResponse> {
    let user = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    Ok(pb::GetNotificationSettingsResponse {
        settings: Some(settings(&mut conn, user).await?),
    })
}

async fn update_settings(
    s: &Notifications,
    call: Call<pb::UpdateNotificationSettingsRequest>,
) -> AppResult<pb::UpdateNotificationSettingsResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    let wanted = req.settings.clone().unwrap_or_default();
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add(
            "update_mask",
            "name at least one field to update: preferences or quiet_hours",
        );
    }
    // More paths than fields is not a real request: one violation, not one per path.
    let many = paths.len() > MAX_MASK_PATHS;
    v.when(many, "update_mask.paths", "too many paths");
    for p in paths
        .iter()
        .filter(|_| !many)
        .filter(|p| !["preferences", "quiet_hours"].contains(&p.as_str()))
    {
        let shown: String = p.chars().take(64).collect();
        v.add(
            "update_mask.paths",
            &format!("unknown field {shown:?}; allowed: preferences, quiet_hours"),
        );
    }
    let named = |f: &str| paths.iter().any(|p| p == f);
    let prefs = named("preferences").then(|| {
        let raw: Vec<_> = wanted
            .preferences
            .iter()
            .map(|p| {
                (
                    kind_from_proto(p.kind),
                    Channels {
                        email: p.email,
                        push: p.push,
                        inbox: p.inbox,
                    },
                )
            })
            .collect();
        domain::check_preferences(&mut v, &raw)
    });
    let quiet = named("quiet_hours").then(|| {
        let q = wanted.quiet_hours.unwrap_or_default();
        let q = QuietHours {
            enabled: q.enabled,
            start_minute: q.start_minute,
            end_minute: q.end_minute,
        };
        q.check(&mut v, "settings.quiet_hours");
        q
    });
    v.check()?;

    let mut tx = s.pool.begin().await?;
    store::timezone(&mut tx, user)
        .await?
        .ok_or_else(errors::no_profile)?;
    if let Some(prefs) = &prefs {
        store::replace_preferences(&mut tx, user, prefs).await?;
    }
    let quiet = match quiet {
        Some(q) => q,
        None => store::quiet_hours(&mut tx, user)
            .await?
            .map(|(q, _)| q)
            .unwrap_or_default(),
    };
    store::save_settings(&mut tx, user, quiet, s.clock.now_db()).await?;
    let out = settings(&mut tx, user).await?;
    tx.commit().await?;
    Ok(pb::UpdateNotificationSettingsResponse {
        settings: Some(out),
    })
}

fn device_to_proto(d: &store::DeviceRow) -> pb::Device {
    pb::Device {
        device_id: d.device_id.to_string(),
        platform: platform_to_proto(&d.platform).into(),
        display_name: d.display_name.clone(),
        create_time: Some(timestamp(d.created_at)),
        last_seen_time: Some(timestamp(d.last_seen_at)),
    }
}

async fn register_device(
    s: &Notifications,
    call: Call<pb::RegisterDeviceRequest>,
) -> AppResult<pb::RegisterDeviceResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let name = domain::check_device(&mut v, &req.token, &req.display_name);
    let platform = platform_name(req.platform);
    v.when(
        platform.is_none(),
        "platform",
        "must be ANDROID, IOS or WEB",
    );
    v.check()?;
    let platform = platform.unwrap_or_default();
    let mut tx = s.pool.begin().await?;
    store::lock_user(&mut tx, user).await?;
    let known = store::device_by_token(&mut tx, &req.token).await?;
    // Refreshing one's own token never counts against the cap.
    if known.is_none_or(|d| d.user_id != user)
        && store::count_devices(&mut tx, user).await? >= domain::MAX_DEVICES
    {
        return Err(AppError::ResourceExhausted {
            reason: "TOO_MANY_DEVICES",
            message: format!(
                "at most {} devices may be registered; unregister one first",
                domain::MAX_DEVICES
            ),
        });
    }
    let row =
        store::upsert_device(&mut tx, user, &req.token, platform, &name, s.clock.now_db()).await?;
    tx.commit().await?;
    Ok(pb::RegisterDeviceResponse {
        device: Some(device_to_proto(&row)),
    })
}

async fn unregister_device(
    s: &Notifications,
    call: Call<pb::UnregisterDeviceRequest>,
) -> AppResult<pb::UnregisterDeviceResponse> {
    let user = call.caller()?.user_id;
    let device = require_id("device_id", &call.message.device_id)?;
    let mut tx = s.pool.begin().await?;
    if !store::delete_device(&mut tx, user, device).await? {
        return Err(AppError::not_found("device"));
    }
    tx.commit().await?;
    Ok(pb::UnregisterDeviceResponse {})
}

async fn list_devices(
    s: &Notifications,
    call: Call<pb::ListDevicesRequest>,
) -> AppResult<pb::ListDevicesResponse> {
    let user = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    let rows = store::devices(&mut conn, user).await?;
    Ok(pb::ListDevicesResponse {
        devices: rows.iter().map(device_to_proto).collect(),
    })
}

pub fn inbox_to_proto(m: &store::InboxRow) -> pb::InboxMessage {
    pb::InboxMessage {
        message_id: m.message_id.to_string(),
        kind: Kind::parse(&m.kind)
            .map(kind_to_proto)
            .unwrap_or(pb::NotificationKind::Other)
            .into(),
        title: m.title.clone(),
        body: m.body.clone(),
        create_time: Some(timestamp(m.created_at)),
        read_time: m.read_at.map(timestamp),
    }
}

async fn list_inbox(
    s: &Notifications,
    call: Call<pb::ListInboxMessagesRequest>,
) -> AppResult<pb::ListInboxMessagesResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<(OffsetDateTime, Uuid)>::request(&mut v, req.page_size, &req.page_token, 20);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::list_inbox(
        &mut conn,
        user,
        req.unread_only,
        page.after(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.created_at, r.message_id));
    Ok(pb::ListInboxMessagesResponse {
        messages: rows.iter().map(inbox_to_proto).collect(),
        next_page_token,
    })
}

async fn mark_read(
    s: &Notifications,
    call: Call<pb::MarkInboxMessageReadRequest>,
) -> AppResult<pb::MarkInboxMessageReadResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("message_id", &call.message.message_id)?;
    let mut tx = s.pool.begin().await?;
    let row = store::mark_read(&mut tx, user, id, s.clock.now_db())
        .await?
        .ok_or_else(|| AppError::not_found("inbox message"))?;
    tx.commit().await?;
    Ok(pb::MarkInboxMessageReadResponse {
        message: Some(inbox_to_proto(&row)),
    })
}

async fn mark_all_read(
    s: &Notifications,
    call: Call<pb::MarkAllInboxMessagesReadRequest>,
) -> AppResult<pb::MarkAllInboxMessagesReadResponse> {
    let user = call.caller()?.user_id;
    let mut tx = s.pool.begin().await?;
    let n = store::mark_all_read(&mut tx, user, s.clock.now_db()).await?;
    tx.commit().await?;
    Ok(pb::MarkAllInboxMessagesReadResponse {
        marked_count: i64::try_from(n).unwrap_or(i64::MAX),
    })
}

async fn unread_count(
    s: &Notifications,
    call: Call<pb::GetInboxUnreadCountRequest>,
) -> AppResult<pb::GetInboxUnreadCountResponse> {
    let user = call.caller()?.user_id;
    let mut conn = s.pool.acquire().await?;
    Ok(pb::GetInboxUnreadCountResponse {
        unread_count: store::unread_count(&mut conn, user).await?,
    })
}

pub struct Reminders {
    pub pool: PgPool,
    pub clock: SharedClock,
    /// Wakes the scheduler when a reminder may be due sooner than it planned.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

stride_kit::grpc_handlers! {
    impl ReminderService for Reminders {
        fn schedule_reminder(pb::ScheduleReminderRequest) -> pb::ScheduleReminderResponse => schedule_reminder;
        fn cancel_reminder(pb::CancelReminderRequest) -> pb::CancelReminderResponse => cancel_reminder;
    }
}

/// Kinds other services may schedule by key; streak and challenge reminders come from events.
fn schedulable(v: &mut Violations, kind: i32) -> Kind {
    match kind_from_proto(kind) {
        Some(k @ (Kind::TaskReminder | Kind::PlanDayDue | Kind::Other)) => k,
        _ => {
            v.add("kind", "must be TASK_REMINDER, PLAN_DAY_DUE or OTHER");
            Kind::Other
        }
    }
}

fn check_key(v: &mut Violations, key: &str) {
    v.when(
        key.trim().is_empty()
            || key.chars().count() > domain::KEY_MAX
            || key.chars().any(char::is_control),
        "key",
        "must be 1 to 128 characters, without control characters",
    );
}

async fn schedule_reminder(
    s: &Reminders,
    call: Call<pb::ScheduleReminderRequest>,
) -> AppResult<pb::ScheduleReminderResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let kind = schedulable(&mut v, req.kind);
    check_key(&mut v, &req.key);
    domain::check_text(&mut v, &req.title, &req.body);
    let local = req
        .local_time
        .as_ref()
        .and_then(|t| LocalTime::new(t.year, t.month, t.day, t.hours, t.minutes));
    v.when(
        local.is_none(),
        "local_time",
        "must be a real local date and time (year, month, day, hours 0-23, minutes 0-59)",
    );
    v.check()?;
    let Some(local) = local else {
        return Err(AppError::invalid("local_time", "is required"));
    };
    let mut tx = s.pool.begin().await?;
    let tz = store::timezone(&mut tx, user)
        .await?
        .ok_or_else(errors::no_profile)?;
    let row = store::schedule(
        &mut tx,
        &store::NewReminder {
            user,
            kind,
            key: &req.key,
            local_due: local.to_primitive(),
            due_at: local.instant(&tz),
            title: req.title.trim(),
            body: &req.body,
            repeat_weekly: false,
        },
        s.clock.now_db(),
    )
    .await
    .on_constraint("reminders_user_kind_key", |_| {
        AppError::already_exists("REMINDER_EXISTS", "a reminder with this key exists")
    })?;
    tx.commit().await?;
    s.wake.notify_one();
    Ok(pb::ScheduleReminderResponse {
        reminder_id: row.reminder_id.to_string(),
        due_time: Some(timestamp(row.due_at)),
    })
}

async fn cancel_reminder(
    s: &Reminders,
    call: Call<pb::CancelReminderRequest>,
) -> AppResult<pb::CancelReminderResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let kind = schedulable(&mut v, req.kind);
    check_key(&mut v, &req.key);
    v.check()?;
    let mut tx = s.pool.begin().await?;
    let cancelled = store::cancel(&mut tx, user, kind, &req.key)
        .await?
        .is_some();
    tx.commit().await?;
    Ok(pb::CancelReminderResponse { cancelled })
}
