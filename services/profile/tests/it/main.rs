//! profile against a real PostgreSQL database and RabbitMQ vhost per test. Input events come
//! through a real outbox and relay in a scratch database, as auth publishes them.

mod avatar;
mod events;
mod fields;
mod lifecycle;
mod profile;
mod s3;
mod support;
mod visibility;
