//! activity-session against a real PostgreSQL database and RabbitMQ vhost per test. Input events
//! come through a real outbox and relay in a scratch database, as their producers publish them.

mod catalog;
mod directory;
mod exercises;
mod lifecycle;
mod migrations;
mod plan_templates;
mod sessions;
mod support;
// Tasks, shutdown reflections, learning (issue 13, part C).
mod learning;
mod plans;
mod reflections;
mod routines;
mod sync;
mod tasks;
mod transitions;
mod workouts;
