//! Notifications (issue 12, part 2): per-kind channel preferences and quiet hours, push device
//! registrations, the in-app inbox, and reminders — scheduled from events or by other services,
//! delivered at most once per channel, never inside quiet hours, on the user's local time.

pub mod domain;
pub mod grpc;
pub mod store;

use std::sync::Arc;

use stride_kit::{clock::SharedClock, service::Builder};
use stride_proto::profile::{
    notification_service_server::NotificationServiceServer,
    reminder_service_server::ReminderServiceServer,
};

/// Adds the notification and reminder services to profile's process.
pub fn add(service: &mut Builder, clock: &SharedClock) {
    let wake = Arc::new(tokio::sync::Notify::new());
    service.grpc(NotificationServiceServer::new(grpc::Notifications {
        pool: service.pool().clone(),
        clock: clock.clone(),
    }));
    service.grpc(ReminderServiceServer::new(grpc::Reminders {
        pool: service.pool().clone(),
        clock: clock.clone(),
        wake,
    }));
}
