//! analytics against a real PostgreSQL and RabbitMQ: input events are published the way
//! producers publish them (outbox + relay in a scratch database), effects awaited with deadlines.

mod lifecycle;
mod migrations;
mod projections;
mod rebuild;
mod summary;
mod support;
mod views;
