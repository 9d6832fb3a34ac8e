//! External identity checks for the auth service.
//!
//! - [`OidcProvider`]: OpenID Connect ID tokens from Google and Facebook Limited Login, verified
//!   against the provider's published keys (fetched over HTTPS, cached, rate-limited).
//! - [`TelegramVerifier`]: Telegram Login Widget payloads, verified with the bot token.
//! - [`FacebookGraph`]: Facebook user access tokens, checked with the Graph API.
//! - [`oauth`]: the authorization code flow with PKCE (Google's server-side web sign-in).
//! - [`TelegramWebAppVerifier`]: Telegram Mini App `initData`, verified with the bot token.
//!
//! Both return [`IdpError`], whose [`IdpError::reason`] is a stable code (see [`reason`]) for the
//! caller to put into its gRPC error details. This crate knows nothing of accounts: it only says
//! who the provider vouches for.
//!
//! Key sets are fetched with reqwest on rustls: it uses the process-wide rustls provider the
//! service installs at start (aws-lc-rs), or aws-lc-rs if none is installed, and the platform's
//! root certificates (the image needs a CA bundle).

mod error;
pub mod facebook;
mod jwks;
pub mod oauth;
pub mod oidc;
pub mod telegram;
pub mod telegram_webapp;

pub use error::{IdpError, reason};
pub use facebook::{FacebookConfig, FacebookGraph, FacebookUser};
pub use oidc::{OidcConfig, OidcIdentity, OidcProvider};
pub use telegram::{TelegramAuth, TelegramUser, TelegramVerifier};
pub use telegram_webapp::TelegramWebAppVerifier;
