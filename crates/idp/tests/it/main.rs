//! Integration tests for stride-idp: OIDC against a stand-in provider over real HTTP, and the
//! Telegram widget against hashes computed here from the documented algorithm.

mod facebook;
mod oidc;
mod provider;
mod telegram;
mod telegram_webapp;
