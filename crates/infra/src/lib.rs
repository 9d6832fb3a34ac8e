//! Throwaway PostgreSQL 15 and RabbitMQ servers on loopback, each in a private directory
//! (DESIGN §8). Used by `cargo xtask test|infra|up` and by tests that need to crash a broker.
//!
//! Everything here is blocking. Servers run as children in their own process groups, so a
//! terminal's Ctrl-C does not reach them and `stop`/`kill` take the whole tree.
//!
//! # Test environment
//! `cargo xtask test` (and `cargo xtask infra`, for running tests by hand) sets:
//! - `STRIDE_TEST_PG_URL`: `postgres://postgres@127.0.0.1:PORT/postgres`, a superuser URL with
//!   trust auth; tests create their own databases from it.
//! - `STRIDE_TEST_AMQP_URL`: `amqp://guest:guest@127.0.0.1:PORT/%2F` (vhost `/`); tests that
//!   want isolation create their own vhost through the management API.
//! - `STRIDE_TEST_RABBIT_MGMT_URL`: `http://guest:guest@127.0.0.1:PORT`, the management API base
//!   with its credentials in the userinfo ([`Mgmt::from_url`] parses it).
//! - `STRIDE_TEST_INFRA_DIR`: the private directory holding both servers' data and logs.

pub mod http;
mod install;
mod postgres;
mod rabbit;
pub mod sys;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

pub use http::{Mgmt, percent_encode};
pub use install::{ensure_installed, ensure_package};
pub use postgres::Postgres;
pub use rabbit::Rabbit;

pub const ENV_PG_URL: &str = "STRIDE_TEST_PG_URL";
pub const ENV_AMQP_URL: &str = "STRIDE_TEST_AMQP_URL";
pub const ENV_RABBIT_MGMT_URL: &str = "STRIDE_TEST_RABBIT_MGMT_URL";
pub const ENV_INFRA_DIR: &str = "STRIDE_TEST_INFRA_DIR";

/// A loopback port that was free a moment ago (the usual bind-to-0 race applies).
pub fn free_port() -> Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct loopback ports that were free a moment ago (all held open at once, so no two
/// are the same).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("binding 127.0.0.1:0 for a port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// PostgreSQL and RabbitMQ started side by side under one directory.
pub struct Infra {
    pub pg: Postgres,
    pub rabbit: Rabbit,
    dir: PathBuf,
}

impl Infra {
    /// Starts both servers in parallel (RabbitMQ dominates, ~10 s) under `dir/pg` and
    /// `dir/rabbit`. If one fails, the other is stopped when its handle drops.
    pub fn start(dir: &Path) -> Result<Infra> {
        Self::start_with(dir, &[])
    }

    /// [`Infra::start`] with extra PostgreSQL settings (`name=value`).
    pub fn start_with(dir: &Path, pg_settings: &[&str]) -> Result<Infra> {
        let started = Instant::now();
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        if sys::is_root() {
            // Postgres runs as an unprivileged user that must be able to traverse `dir`.
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let mode = std::fs::metadata(dir)?.mode() & 0o7777;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o711))?;
        }
        let pg_dir = dir.join("pg");
        let rabbit_dir = dir.join("rabbit");
        let (pg, rabbit) = std::thread::scope(|s| {
            let pg = s.spawn(|| Postgres::start_with(&pg_dir, pg_settings));
            let rabbit = s.spawn(|| Rabbit::start(&rabbit_dir));
            (join(pg), join(rabbit))
        });
        let infra = Infra {
            pg: pg?,
            rabbit: rabbit?,
            dir: dir.to_path_buf(),
        };
        eprintln!(
            "infra: ready in {:.1}s ({})",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
        Ok(infra)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `STRIDE_TEST_*` variables described in the crate docs.
    pub fn test_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (ENV_PG_URL, self.pg.url("postgres")),
            (ENV_AMQP_URL, self.rabbit.amqp_url("/")),
            (ENV_RABBIT_MGMT_URL, self.rabbit.mgmt_url()),
            (ENV_INFRA_DIR, self.dir.display().to_string()),
        ]
    }

    /// Stops both servers; idempotent (dropping does the same).
    pub fn stop(&mut self) {
        self.rabbit.stop();
        self.pg.stop();
    }
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("server start thread panicked")))
}
