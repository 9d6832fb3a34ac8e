//! Installs the Debian packages for PostgreSQL 15 and RabbitMQ when they are missing, so a
//! fresh CI machine needs nothing but this code path.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{postgres, rabbit};

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Installs `postgresql-15` and `rabbitmq-server` with apt-get if their binaries are missing.
/// Package scripts are told not to start the system daemons (policy-rc.d exit 101, plus
/// RUNLEVEL=1); even if one did start, ours always use their own ports and epmd.
pub fn ensure_installed() -> Result<()> {
    let mut missing = Vec::new();
    if !Path::new(postgres::BIN).join("initdb").exists() {
        missing.push("postgresql-15");
    }
    if !Path::new(rabbit::SERVER).exists() {
        missing.push("rabbitmq-server");
    }
    install_packages(&missing)
}

/// Installs Debian `package` when `binary` (an absolute path) is missing, the same way as the
/// servers above: for tools the checks need, e.g. `promtool` from `prometheus`.
pub fn ensure_package(binary: &str, package: &str) -> Result<()> {
    if Path::new(binary).exists() {
        return Ok(());
    }
    install_packages(&[package])
}

fn install_packages(missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    if !crate::sys::is_root() {
        bail!(
            "{} missing and not root: run `apt-get install -y {}` as root",
            missing.join(", "),
            missing.join(" ")
        );
    }
    let started = Instant::now();
    eprintln!("install: apt-get install {}", missing.join(" "));
    let _policy = PolicyGuard::install()?;
    apt(&["update"])?;
    for package in missing {
        apt(&["install", "-y", "--no-install-recommends", package])?;
    }
    eprintln!(
        "install: {} installed in {:.1}s",
        missing.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn apt(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("RUNLEVEL", "1")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed: {status}", args.join(" "));
    }
    Ok(())
}

/// A policy-rc.d that forbids starting services while packages install; removed on drop
/// unless one was already there (Docker-style images ship their own).
struct PolicyGuard {
    created: bool,
}

impl PolicyGuard {
    fn install() -> Result<PolicyGuard> {
        if Path::new(POLICY_RC_D).exists() {
            return Ok(PolicyGuard { created: false });
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(POLICY_RC_D, "#!/bin/sh\nexit 101\n")
            .with_context(|| format!("writing {POLICY_RC_D}"))?;
        std::fs::set_permissions(POLICY_RC_D, std::fs::Permissions::from_mode(0o755))?;
        Ok(PolicyGuard { created: true })
    }
}

impl Drop for PolicyGuard {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(POLICY_RC_D);
        }
    }
}
