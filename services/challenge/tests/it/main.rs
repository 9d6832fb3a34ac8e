//! challenge against a real PostgreSQL database and RabbitMQ vhost per test. Input events come
//! through a real outbox and relay in a scratch database, as their producers publish them.

mod challenges;
mod friends;
mod friends_lifecycle;
mod goals;
mod leaderboard;
mod lifecycle;
mod migrations;
mod progress;
mod reminder_events;
mod rewards;
mod settlement;
mod standings;
mod support;
mod user_challenges;
