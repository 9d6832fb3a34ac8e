//! The Stride service kit: what every process shares.
//!
//! - [`config`]: environment configuration with one clear message per missing or bad value.
//! - [`telemetry`]: `tracing` logs, OpenTelemetry export over OTLP, W3C trace context on gRPC.
//! - [`metrics`]: Prometheus registry and the per-method gRPC metrics layer.
//! - [`authn`]: EdDSA access-token verification against auth's JWKS, and the tower layer that
//!   enforces each method's policy (read from proto options) before a handler runs.
//! - [`error`]: [`AppError`] → `tonic::Status` with `google.rpc` details.
//! - [`serve`]: runs a gRPC server with health, reflection, an HTTP probe/metrics port and
//!   graceful shutdown.
//! - [`db`], [`clock`], [`convert`]: database start-up, injectable time, proto conversions.

pub mod authn;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod error;
pub mod grpc;
pub mod jwt;
pub mod metrics;
pub mod policy;
pub mod serve;
pub mod telemetry;

pub use authn::{Caller, ClientInfo, Verifier};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, AppResult, Violations};

/// Installs the process-wide rustls crypto provider (aws-lc-rs). Call first thing in `main`;
/// calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
