//! challenge against a real PostgreSQL database and RabbitMQ vhost per test. Input events come
//! through a real outbox and relay in a scratch database, as their producers publish them.

mod challenges;
mod goals;
mod leaderboard;
mod lifecycle;
mod migrations;
mod progress;
mod settlement;
mod support;
mod user_challenges;
