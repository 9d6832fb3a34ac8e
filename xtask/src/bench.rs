//! `cargo xtask bench`: release builds of the mesh and of the load generator, fresh
//! infrastructure under `.stride/bench`, the seven binaries as separate processes (so each one's
//! memory can be read), a bare tonic server as the ceiling, then `stride-bench run`, which
//! prints figures and ratios measured in this one run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use stride_infra::Infra;

use crate::{signals, up};

/// `cargo xtask bench` (the mesh) or `cargo xtask bench login` (the password path).
pub fn run(args: &[String]) -> Result<i32> {
    let mode = match args.first().map(String::as_str) {
        None | Some("mesh") => "run",
        Some("login") => "login",
        Some(other) => bail!("unknown bench {other:?}: use `mesh` (default) or `login`"),
    };
    signals::install();
    let root = crate::root();
    stride_infra::ensure_installed()?;
    let bins = up::build(&root, true)?;
    let status = crate::cargo()
        .args([
            "build",
            "--release",
            "-p",
            "stride-e2e",
            "--bin",
            "stride-bench",
        ])
        .current_dir(&root)
        .status()
        .context("building stride-bench")?;
    if !status.success() {
        bail!("building stride-bench failed: {status}");
    }

    let dir = root.join(".stride/bench");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let infra = Infra::start(&dir)?;
    for svc in up::SERVICES {
        infra.pg.create_database(&up::db_name(svc))?;
    }
    let opts = up::Options {
        release: true,
        port: stride_infra::free_port()?,
        // One address, no mailbox: measure the services, not the limiter or the confirmation.
        bench: true,
    };
    let mut procs = Vec::new();
    let result = (|| -> Result<i32> {
        let urls = up::start_all(&opts, &bins, &logs, &infra, &mut procs)?;
        // The ceiling: a bare tonic server in a process of its own.
        let mut echo = Command::new(bins.join("stride-bench"))
            .arg("echo-server")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the echo server")?;
        let mut line = String::new();
        BufReader::new(echo.stdout.take().context("echo stdout")?).read_line(&mut line)?;
        let echo_port: u16 = line.trim().parse().context("echo server port")?;
        let addr = |svc: &str| {
            urls.iter()
                .find(|(s, _)| *s == svc)
                .map(|(_, u)| u.trim_start_matches("http://").to_owned())
                .unwrap_or_default()
        };
        let pids: Vec<String> = procs
            .iter()
            .map(|p| format!("{}={}", p.name, p.child.id()))
            .collect();
        let status = Command::new(bins.join("stride-bench"))
            .arg(mode)
            .env("BENCH_GATEWAY_ADDR", format!("127.0.0.1:{}", opts.port))
            .env("BENCH_PROFILE_ADDR", addr("profile"))
            .env("BENCH_ECHO_ADDR", format!("127.0.0.1:{echo_port}"))
            .env(
                "BENCH_ACTIVITY_DB",
                infra.pg.url(&up::db_name("activity-session")),
            )
            .env(
                "BENCH_ANALYTICS_DB",
                infra.pg.url(&up::db_name("analytics")),
            )
            .env(
                "BENCH_CHALLENGE_DB",
                infra.pg.url(&up::db_name("challenge")),
            )
            .env("BENCH_PIDS", pids.join(","))
            .status()
            .context("running stride-bench")?;
        let _ = echo.kill();
        let _ = echo.wait();
        Ok(status.code().unwrap_or(1))
    })();
    up::stop_all(procs);
    drop(infra);
    result
}
