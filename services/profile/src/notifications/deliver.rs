//! The reminder scheduler: one pass claims due reminders with `FOR UPDATE SKIP LOCKED` (so any
//! number of replicas share the work and each reminder is handled by one of them), recomputes
//! the due instant in the user's current zone, postpones what falls in quiet hours to their
//! end, and delivers on each enabled channel at most once (`reminder_deliveries`).
//!
//! Inbox rows are written in the pass's transaction. Push and email leave the process: each is
//! recorded in its own committed row right after it was handed over, so a crash between the
//! hand-over and the record can repeat one message (at-least-once toward the provider), but a
//! recorded channel is never sent again.

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use futures::future::BoxFuture;
use sqlx::PgPool;
use stride_kit::clock::SharedClock;
use stride_notify::{Mail, Mailer};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    domain::{self, Channel, Kind, LocalTime},
    store,
};

/// One push notification to one device.
#[derive(Clone, Debug)]
pub struct Push {
    pub token: String,
    pub title: String,
    pub body: String,
    pub kind: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The provider says the token is gone (FCM `UNREGISTERED`): forget the device.
    #[error("the device token is no longer registered")]
    Unregistered,
    #[error("push failed: {0}")]
    Failed(String),
}

/// Where push notifications go: FCM HTTP v1 in production, the log sink in development.
pub trait PushSender: Send + Sync + 'static {
    fn send(&self, push: Push) -> BoxFuture<'static, Result<(), PushError>>;
}

/// The development sink: logs kind and title (never the token) and drops the message.
pub struct LogPush;

impl PushSender for LogPush {
    fn send(&self, push: Push) -> BoxFuture<'static, Result<(), PushError>> {
        tracing::info!(kind = push.kind, title = %push.title, "push (dev sink)");
        Box::pin(async { Ok(()) })
    }
}

/// What the scheduler needs.
#[derive(Clone)]
pub struct Scheduler {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub push: Arc<dyn PushSender>,
    pub mailer: Arc<dyn Mailer>,
    pub wake: Arc<Notify>,
    /// How often due reminders are looked for when nothing wakes the scheduler.
    pub tick: Duration,
}

const BATCH: i64 = 50;

// Registered once: a second `counter()` of the same name would not be in the registry.
static PASSES: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_reminder_passes_total",
        "Completed passes of the reminder scheduler",
        &["service"],
    )
});

static DELIVERED: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_reminders_delivered_total",
        "Reminder deliveries by channel",
        &["channel"],
    )
});

impl Scheduler {
    /// Runs passes until `stop`; a failed pass is logged and retried on the next tick.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            match self.pass().await {
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "reminder pass failed"),
            }
            PASSES.with_label_values(&["profile"]).inc();
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.tick) => {}
            }
        }
    }

    /// One pass: handles up to [`BATCH`] due reminders; returns how many it claimed.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let now = self.clock.now_db();
        let mut tx = self.pool.begin().await?;
        let due = store::claim_due(&mut tx, now, BATCH).await?;
        let n = due.len();
        for r in due {
            self.handle(&mut tx, r, now).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn handle(
        &self,
        tx: &mut sqlx::PgConnection,
        r: store::ReminderRow,
        now: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let Some(tz) = store::timezone(tx, r.user_id).await? else {
            // No profile (deleted meanwhile): nobody to remind.
            store::mark_delivered(tx, r.reminder_id, now).await?;
            return Ok(());
        };
        // The user may have moved since it was scheduled: the wall time is what they meant.
        let due = LocalTime::from_primitive(r.local_due).instant(&tz);
        if due > now {
            store::postpone(tx, r.reminder_id, due, r.attempts).await?;
            return Ok(());
        }
        let quiet = store::quiet_hours(tx, r.user_id)
            .await?
            .map(|(q, _)| q)
            .unwrap_or_default();
        let allowed = domain::outside_quiet_hours(now, &tz, &quiet);
        if allowed > now {
            store::postpone(tx, r.reminder_id, allowed, r.attempts).await?;
            return Ok(());
        }
        let kind = Kind::parse(&r.kind).unwrap_or(Kind::Other);
        let channels = domain::complete(&store::preferences(tx, r.user_id).await?)
            .into_iter()
            .find(|p| p.kind == kind)
            .map(|p| p.channels)
            .unwrap_or(kind.default_channels());
        let done = store::delivered_channels(tx, r.reminder_id).await?;
        let mut failed = false;
        for channel in channels.enabled() {
            if done.iter().any(|c| c == channel.as_str()) {
                continue;
            }
            let ok = match channel {
                Channel::Inbox => {
                    store::add_inbox(
                        tx,
                        r.user_id,
                        kind,
                        &r.title,
                        &r.body,
                        Some(r.reminder_id),
                        now,
                    )
                    .await?;
                    true
                }
                Channel::Push => self.push(tx, &r, kind).await?,
                Channel::Email => self.mail(tx, &r).await?,
            };
            if ok {
                store::record_delivery(tx, r.reminder_id, channel.as_str(), now).await?;
                DELIVERED.with_label_values(&[channel.as_str()]).inc();
            } else {
                failed = true;
            }
        }
        if failed && r.attempts < MAX_ATTEMPTS {
            let attempts = r.attempts + 1;
            store::postpone(
                tx,
                r.reminder_id,
                now + domain::retry_delay(attempts),
                attempts,
            )
            .await?;
        } else {
            store::mark_delivered(tx, r.reminder_id, now).await?;
            store::follow_weekly(tx, &r, &tz, now).await?;
        }
        Ok(())
    }

    /// Pushes to every device of the user; true when every device took it (or there is none).
    async fn push(
        &self,
        tx: &mut sqlx::PgConnection,
        r: &store::ReminderRow,
        kind: Kind,
    ) -> anyhow::Result<bool> {
        let mut all = true;
        for d in store::devices(tx, r.user_id).await? {
            let push = Push {
                token: d.token.clone(),
                title: r.title.clone(),
                body: r.body.clone(),
                kind: kind.as_str(),
            };
            match self.push.send(push).await {
                Ok(()) => {}
                Err(PushError::Unregistered) => store::delete_token(tx, &d.token).await?,
                Err(e) => {
                    tracing::warn!(reminder = %r.reminder_id, error = %e, "push failed");
                    all = false;
                }
            }
        }
        Ok(all)
    }

    /// Mails the user's address (from sign-up); true when sent or when there is no address.
    async fn mail(
        &self,
        tx: &mut sqlx::PgConnection,
        r: &store::ReminderRow,
    ) -> anyhow::Result<bool> {
        let Some(to) = store::email(tx, r.user_id).await? else {
            return Ok(true);
        };
        let mail = Mail {
            to,
            subject: r.title.clone(),
            text: if r.body.is_empty() {
                r.title.clone()
            } else {
                r.body.clone()
            },
        };
        match self.mailer.send(mail).await {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::warn!(reminder = %r.reminder_id, error = format!("{e:#}"), "reminder mail failed");
                Ok(false)
            }
        }
    }
}

/// Failed channels are retried this many times before the reminder is closed.
const MAX_ATTEMPTS: i32 = 5;

/// Schedules the streak-at-risk reminder that follows activity on local date `active_on`, and
/// cancels the one for `active_on` itself (the user was active that day after all).
pub async fn on_activity(
    tx: &mut sqlx::PgConnection,
    user: Uuid,
    active_on: time::Date,
    tz: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    store::cancel(tx, user, Kind::StreakAtRisk, &domain::streak_key(active_on)).await?;
    let Some(at) = domain::streak_check(active_on) else {
        return Ok(());
    };
    let Some(next) = active_on.next_day() else {
        return Ok(());
    };
    store::schedule_if_absent(
        tx,
        &store::NewReminder {
            user,
            kind: Kind::StreakAtRisk,
            key: &domain::streak_key(next),
            local_due: at.to_primitive(),
            due_at: at.instant(tz),
            title: "Your streak is at risk",
            body: "You were active yesterday: a session today keeps your streak going.",
            repeat_weekly: false,
        },
        now,
    )
    .await
}
