//! activity-session against a real PostgreSQL database and RabbitMQ vhost per test. Input events
//! come through a real outbox and relay in a scratch database, as their producers publish them.

mod catalog;
mod directory;
mod lifecycle;
mod migrations;
mod routines;
mod sessions;
mod support;
mod sync;
mod transitions;
