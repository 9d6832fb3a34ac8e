//! The Stride service kit: what every process shares.
//!
//! - [`config`]: environment configuration with one clear message per missing or bad value.
//! - [`telemetry`]: `tracing` logs, OpenTelemetry export over OTLP, W3C trace context on gRPC.
//! - [`metrics`]: Prometheus registry and the per-method gRPC metrics layer.
//! - [`authn`]: EdDSA access-token verification against auth's JWKS, and the tower layer that
//!   enforces each method's policy (read from proto options) before a handler runs.
//! - [`error`]: [`AppError`] → `tonic::Status` with `google.rpc` details.
//! - [`service`]: the one start-up path of every service (database and migrations, gRPC
//!   services, background tasks, readiness, shutdown) and the `migrate`/`serve` split.
//! - [`serve`]: the gRPC server with health, reflection, an HTTP probe/metrics port and graceful
//!   shutdown, under [`service`].
//! - [`grpc`]: [`Call`], the one-line handler table [`grpc_handlers!`], clients between services.
//! - [`discovery`]: every replica behind an upstream's DNS name, calls balanced across them.
//! - [`pagination`]: typed, versioned, bounded page tokens and the `limit + 1` page.
//! - [`db`], [`clock`], [`convert`]: database start-up, injectable time (`now_db`), proto
//!   conversions and the local-date rules.

pub mod authn;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod discovery;
pub mod error;
pub mod export;
pub mod grpc;
pub mod jwt;
pub mod metrics;
pub mod pagination;
pub mod panic;
pub mod policy;
pub mod serve;
pub mod service;
pub mod shed;
pub mod telemetry;

/// Crates the kit's macros expand to, so a service needs no direct dependency for them.
#[doc(hidden)]
pub mod reexport {
    pub use tonic;
}

pub use authn::{Caller, ClientInfo, Verifier};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, AppResult, ResultExt, Violations};
pub use grpc::Call;

/// Installs the process-wide rustls crypto provider (aws-lc-rs). Call first thing in `main`;
/// calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
