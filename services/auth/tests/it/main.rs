//! auth against a real PostgreSQL database and RabbitMQ vhost per test, its mail and SMS caught
//! by a dev sink, external providers played by stand-ins.

mod account;
mod codes;
mod confirm;
mod facebook_token;
mod google_web;
mod guests;
mod hardening;
mod id_token;
mod id_token_checks;
mod identities;
mod keys;
mod link_identity;
mod login;
mod password;
mod refresh;
mod sessions;
mod signup;
mod sms_twilio;
mod support;
mod telegram;
mod telegram_webapp;
