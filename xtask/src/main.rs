//! Developer commands, run as `cargo xtask <command>` (alias in .cargo/config.toml).
//! Each command lives in its own module with a `run(args) -> Result<i32>` (the exit code).

mod bench;
mod chaos;
mod deploy_check;
mod infra;
mod monitoring;
mod signals;
mod test;
mod tools;
mod ts_client;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test [ARGS...]         install what is missing, lint protos and compose, check the TypeScript
                         client (npm ci, generated code not stale, tsc, bundle the browser test
                         page, chromium), start PostgreSQL and RabbitMQ, run
                         `cargo nextest run --workspace --no-fail-fast ARGS...`
  deploy-check           render every deploy/k8s overlay (kubectl kustomize), validate strictly
                         (kubernetes-validate; vendored CRD schemas), scan with checkov (network
                         look-ups off), check the Prometheus rules (promtool); tools pinned in
                         .stride/venv
  ts-client [--check]    regenerate clients/ts/src/gen from proto/ (buf and protoc-gen-es from
                         npm), typecheck, bundle the browser test page; --check: only fail if
                         the committed generated code is stale
  infra                  start PostgreSQL and RabbitMQ under .stride/infra, print the test
                         environment, wait for Ctrl-C
  up [--release] [--port N]
                         build and run every service and the gateway (port 8080 or N or
                         $STRIDE_UP_PORT) against fresh infrastructure, until Ctrl-C
  bench [mesh|login]     release build, the mesh as separate processes, then — as ratios
                         measured in one run — mesh: calls/s (gateway, direct, bare tonic),
                         sessions/s through the events with p50/p99 latency, memory per
                         process; login: logins/s against the argon2 ceiling, p99 of cheap
                         calls while logins flood the machine, auth's peak memory
  chaos                  release build, the mesh as separate processes, sessions flowing while
                         the broker, consumers, producer and PostgreSQL are killed, stalled
                         and restarted, duplicates and poison published; prints events lost
                         and counted twice per fault (CHAOS_FAULTS, CHAOS_EVENTS)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "test" => test::run(rest),
        "infra" => infra::run(rest),
        "up" => up::run(rest),
        "bench" => bench::run(rest),
        "chaos" => chaos::run(rest),
        "deploy-check" => deploy_check::run(rest),
        "ts-client" => ts_client::run(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(0)
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            Ok(2)
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("xtask {command}: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask sits one level below it).
fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

/// The cargo that runs us, so nested builds use the same toolchain.
fn cargo() -> std::process::Command {
    std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Elapsed time per phase, printed as a summary at the end of a command.
#[derive(Default)]
struct Phases {
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        eprintln!("==> {name}");
        let started = Instant::now();
        let out = f();
        self.done.push((name, started.elapsed()));
        out
    }

    fn print(&self) {
        eprintln!("==> timings");
        for (name, elapsed) in &self.done {
            eprintln!("    {name:<16} {:>7.1}s", elapsed.as_secs_f64());
        }
        let total: Duration = self.done.iter().map(|(_, d)| *d).sum();
        eprintln!("    {:<16} {:>7.1}s", "total", total.as_secs_f64());
    }
}
