//! `cargo xtask bench`: release builds of the mesh and of the load generator, fresh
//! infrastructure under `.stride/bench`, the seven binaries as separate processes (so each one's
//! memory and CPU can be read), a bare tonic server as the ceiling, then `stride-bench run`,
//! which prints figures and ratios measured in this one run (and writes them to
//! `.stride/bench/result.json`).
//!
//! `cargo xtask bench compare` first runs the FastAPI baseline (`../shared/peers/fastapi`, or
//! `STRIDE_PEER_DIR`) with its own scripts and wrk, stops it, then measures Stride the same way
//! and prints the ratios.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use stride_infra::Infra;

use crate::{signals, up};

/// `cargo xtask bench` (the mesh) or `cargo xtask bench login` (the password path).
pub fn run(args: &[String]) -> Result<i32> {
    let (mode, compare) = match args.first().map(String::as_str) {
        None | Some("mesh") => ("run", false),
        Some("compare") => ("run", true),
        Some("login") => ("login", false),
        Some(other) => bail!("unknown bench {other:?}: use `mesh` (default), `compare` or `login`"),
    };
    signals::install();
    let root = crate::root();
    let peer_summary = if compare {
        Some(run_peer(&root)?)
    } else {
        None
    };
    let (bins, dir, logs) = prepare(&root, "bench")?;
    // Per-statement figures for the report: what PostgreSQL spends its time on.
    let infra = Infra::start_with(&dir, &["shared_preload_libraries=pg_stat_statements"])?;
    for svc in up::SERVICES {
        infra.pg.create_database(&up::db_name(svc))?;
    }
    // A fast OpenAI-compatible stand-in for the coach (stride-testkit's, in a process of its
    // own): the coach phases measure what the mesh adds to a model, not a model.
    let mut openai = Command::new(bins.join("stride-bench"))
        .arg("openai-server")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the OpenAI stand-in")?;
    let mut openai_url = String::new();
    BufReader::new(openai.stdout.take().context("stand-in stdout")?).read_line(&mut openai_url)?;
    let openai_url = openai_url.trim().to_owned();
    let opts = up::Options {
        release: true,
        port: stride_infra::free_port()?,
        // One address, no mailbox: measure the services, not the limiter or the confirmation.
        bench: true,
        llm_url: Some(openai_url.clone()),
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
        let mut pids: Vec<String> = procs
            .iter()
            .map(|p| format!("{}={}", p.name, p.child.id()))
            .collect();
        // Process groups: every backend of PostgreSQL, the Erlang VM of RabbitMQ.
        if let Some(pid) = infra.pg.pid() {
            pids.push(format!("postgres=g{pid}"));
        }
        if let Some(pid) = infra.rabbit.pid() {
            pids.push(format!("rabbitmq=g{pid}"));
        }
        // `compare` measures the mesh, then logins, on the same mesh.
        let modes: &[&str] = if compare { &["run", "login"] } else { &[mode] };
        let mut code = 0;
        for mode in modes {
            let mut bench = Command::new(bins.join("stride-bench"));
            if let Some(summary) = &peer_summary {
                bench.env("BENCH_PEER_SUMMARY", summary);
            }
            let status = bench
                .arg(mode)
                .envs(driver_env(&dir, opts.port, &infra))
                .env("BENCH_PROFILE_ADDR", addr("profile"))
                .env("BENCH_ACTIVITY_ADDR", addr("activity-session"))
                .env("BENCH_ECHO_ADDR", format!("127.0.0.1:{echo_port}"))
                .env("BENCH_OPENAI_URL", &openai_url)
                .env("BENCH_PIDS", pids.join(","))
                .status()
                .context("running stride-bench")?;
            code = code.max(status.code().unwrap_or(1));
        }
        let _ = echo.kill();
        let _ = echo.wait();
        Ok(code)
    })();
    up::stop_all(procs);
    let _ = openai.kill();
    let _ = openai.wait();
    drop(infra);
    result
}

/// What a measured run needs: release builds of the mesh and of `stride-bench` (its directory
/// is returned), and an empty `.stride/<name>` with a `logs` folder.
pub(crate) fn prepare(
    root: &std::path::Path,
    name: &str,
) -> Result<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    stride_infra::ensure_installed()?;
    let bins = up::build(root, true)?;
    let status = crate::cargo()
        .args([
            "build",
            "--release",
            "-p",
            "stride-e2e",
            "--bin",
            "stride-bench",
        ])
        .current_dir(root)
        .status()
        .context("building stride-bench")?;
    if !status.success() {
        bail!("building stride-bench failed: {status}");
    }
    let dir = root.join(".stride").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    Ok((bins, dir, logs))
}

/// What `stride-bench` needs in every mode: where to write its figures, the gateway, and the
/// databases it reads effects from.
pub(crate) fn driver_env(
    dir: &std::path::Path,
    gateway_port: u16,
    infra: &Infra,
) -> Vec<(&'static str, String)> {
    let db = |svc| infra.pg.url(&up::db_name(svc));
    vec![
        ("BENCH_OUT", dir.join("result.json").display().to_string()),
        ("BENCH_GATEWAY_ADDR", format!("127.0.0.1:{gateway_port}")),
        ("BENCH_ACTIVITY_DB", db("activity-session")),
        ("BENCH_ANALYTICS_DB", db("analytics")),
        ("BENCH_CHALLENGE_DB", db("challenge")),
    ]
}

/// Runs the FastAPI baseline's own scripts (start, wrk scenarios, stop); returns the path of
/// the summary JSON its `bench.sh` wrote.
fn run_peer(root: &std::path::Path) -> Result<std::path::PathBuf> {
    let peer = std::env::var_os("STRIDE_PEER_DIR")
        .map_or_else(|| root.join("../shared/peers/fastapi"), Into::into);
    if !peer.join("run.sh").exists() {
        bail!(
            "no FastAPI baseline at {} (set STRIDE_PEER_DIR to its folder)",
            peer.display()
        );
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("the baseline is loaded with wrk: apt-get install -y wrk");
    }
    // Its state stays in its default place under /tmp (PostgreSQL runs as `postgres` there).
    let results = root.join(".stride/peer-results");
    let sh = |script: &str| {
        let mut c = Command::new("bash");
        c.arg(peer.join(script))
            .current_dir(&peer)
            .env("PEER_RESULTS", &results);
        c
    };
    println!("== the FastAPI baseline: starting it ({})", peer.display());
    if !sh("run.sh").status()?.success() {
        bail!("the baseline did not start");
    }
    let bench = sh("bench/bench.sh")
        .env("SCENARIOS", "me summary cycle login")
        .env("RUNS", "1")
        .env("DURATION", "10s")
        .status();
    let _ = sh("stop.sh").status();
    if !bench?.success() {
        bail!("the baseline's bench.sh failed");
    }
    let newest = std::fs::read_dir(&results)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("summary-") && n.ends_with(".json"))
        })
        .max()
        .context("the baseline wrote no summary")?;
    println!("== baseline figures: {}", newest.display());
    Ok(newest)
}
