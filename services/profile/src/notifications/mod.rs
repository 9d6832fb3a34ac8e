//! Notifications (issue 12, part 2): per-kind channel preferences and quiet hours, push device
//! registrations, the in-app inbox, and reminders — scheduled from events or by other services,
//! delivered at most once per channel, never inside quiet hours, on the user's local time.

pub mod deliver;
pub mod domain;
pub mod events;
pub mod fcm;
pub mod grpc;
pub mod store;

use std::{sync::Arc, time::Duration};

use stride_kit::{
    clock::SharedClock,
    config::{Env, Secret},
    service::Builder,
};
use stride_proto::profile::{
    notification_service_server::NotificationServiceServer,
    reminder_service_server::ReminderServiceServer,
};

/// Reminder delivery settings.
#[derive(Clone)]
pub struct NotifyConfig {
    /// The push provider port ([`deliver::LogPush`], the dev sink, unless one is plugged in).
    pub push: Arc<dyn deliver::PushSender>,
    /// `smtp://…`, `smtp+starttls://…`, `smtps://…` or `log:` (crates/notify).
    pub mail_url: Secret,
    pub mail_from: String,
    /// How often the scheduler looks for due reminders.
    pub reminder_tick: Duration,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("mail_url", &self.mail_url)
            .field("mail_from", &self.mail_from)
            .field("reminder_tick", &self.reminder_tick)
            .finish_non_exhaustive()
    }
}

impl Default for NotifyConfig {
    /// Development: push and mail logged, not sent; a scheduler pass every second.
    fn default() -> Self {
        Self {
            push: Arc::new(deliver::LogPush),
            mail_url: Secret::new("log:"),
            mail_from: "Stride <no-reply@stride.local>".into(),
            reminder_tick: Duration::from_secs(1),
        }
    }
}

impl NotifyConfig {
    pub fn read(env: &mut Env) -> Self {
        let d = Self::default();
        let mail_url = env
            .optional("PROFILE_SMTP_URL")
            .map(Secret::new)
            .unwrap_or(d.mail_url);
        let mail_from = env.optional("PROFILE_MAIL_FROM").unwrap_or(d.mail_from);
        let tick_ms = env.parse_or("PROFILE_REMINDER_TICK_MS", 1000u64);
        if !(10..=60_000).contains(&tick_ms) {
            env.error("PROFILE_REMINDER_TICK_MS must be between 10 and 60000");
        }
        // FCM when a service-account key is mounted; the dev log sink otherwise.
        let push = match env.optional("PROFILE_FCM_CREDENTIALS_FILE") {
            None => d.push,
            Some(path) => {
                let endpoint = env
                    .optional("PROFILE_FCM_URL")
                    .unwrap_or_else(|| fcm::DEFAULT_ENDPOINT.into());
                let fcm = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {path}: {e}"))
                    .and_then(|json| fcm::ServiceAccount::parse(&json))
                    .and_then(|account| fcm::Fcm::new(account, &endpoint));
                match fcm {
                    Ok(fcm) => Arc::new(fcm) as Arc<dyn deliver::PushSender>,
                    Err(e) => {
                        env.error(format!("PROFILE_FCM_CREDENTIALS_FILE: {e}"));
                        d.push
                    }
                }
            }
        };
        Self {
            push,
            mail_url,
            mail_from,
            reminder_tick: Duration::from_millis(tick_ms),
        }
    }
}

/// Adds the notification and reminder services and the reminder scheduler to profile's
/// process.
pub fn add(
    service: &mut Builder,
    clock: &SharedClock,
    config: &NotifyConfig,
) -> anyhow::Result<()> {
    let wake = Arc::new(tokio::sync::Notify::new());
    let scheduler = deliver::Scheduler {
        pool: service.pool().clone(),
        clock: clock.clone(),
        push: config.push.clone(),
        mailer: stride_notify::mailer_from_url(config.mail_url.expose(), &config.mail_from)?,
        wake: wake.clone(),
        tick: config.reminder_tick,
    };
    service.background("reminders", move |stop| scheduler.run(stop));
    service.grpc(NotificationServiceServer::new(grpc::Notifications {
        pool: service.pool().clone(),
        clock: clock.clone(),
    }));
    service.grpc(ReminderServiceServer::new(grpc::Reminders {
        pool: service.pool().clone(),
        clock: clock.clone(),
        wake,
    }));
    Ok(())
}
