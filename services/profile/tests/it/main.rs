//! profile against a real PostgreSQL database and RabbitMQ vhost per test. Input events come
//! through a real outbox and relay in a scratch database, as auth publishes them.

mod events;
mod export;
mod lifecycle;
mod notifications;
mod profile;
mod reminders;
mod support;
