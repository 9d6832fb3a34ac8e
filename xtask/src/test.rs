//! `cargo xtask test [ARGS...]`: the whole test suite as README and CI run it.

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use stride_infra::{Infra, sys};

use crate::{Phases, signals, tools, ts_client};

pub fn run(args: &[String]) -> Result<i32> {
    signals::install();
    let root = crate::root();
    let mut phases = Phases::default();
    let result = run_phases(&root, args, &mut phases);
    phases.print();
    result
}

fn run_phases(root: &Path, args: &[String], phases: &mut Phases) -> Result<i32> {
    phases.time("install", stride_infra::ensure_installed)?;
    let tools = phases.time("tools", || tools::ensure(root))?;
    phases.time("buf lint", || tools::buf_lint(&tools, root))?;
    let compose_checked = phases.time("compose check", || tools::check_compose(&tools, root))?;
    if !compose_checked {
        eprintln!("WARNING: docker-compose.yml does not exist yet; compose check skipped");
    }
    let deploy = phases.time("deploy check", || crate::deploy_check::check(root))?;
    eprintln!("{deploy}");
    phases.time("ts client", || ts_client::check(root))?;
    let deny = phases.time("cargo deny", || tools::cargo_deny(root))?;
    if !deny.advisories {
        eprintln!(
            "WARNING: cargo deny: security advisories NOT checked: no RustSec advisory database \
             on this machine (it is fetched from GitHub, which is not reachable here); checked \
             licenses, bans and sources only"
        );
    }
    interrupted()?;

    let dir = root
        .join("target/stride-test")
        .join(std::process::id().to_string());
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let infra = phases.time("infra start", || Infra::start(&dir));
    let outcome = match infra {
        Ok(infra) => {
            let outcome = interrupted().and_then(|()| {
                let mut env = infra.test_env();
                env.push(("STRIDE_TEST_PYTHON", tools.python.display().to_string()));
                phases.time("tests", || run_tests(root, args, &env))
            });
            phases.time("cleanup", || {
                // Servers of tests that were killed before they could stop them.
                let dir = dir.display().to_string();
                for (pid, name) in sys::kill_tagged(stride_infra::ENV_INFRA_DIR, &dir) {
                    eprintln!("warning: killed {name} ({pid}), left running by a test");
                }
                drop(infra)
            });
            outcome
        }
        Err(err) => Err(err),
    };
    // Also after a failed start: whatever was written there is of no use.
    if let Err(err) = std::fs::remove_dir_all(&dir) {
        eprintln!("warning: could not remove {}: {err}", dir.display());
    }
    let status = outcome?;
    Ok(status.code().unwrap_or(1))
}

/// Stops early when the user pressed Ctrl-C during a phase that ignores it.
fn interrupted() -> Result<()> {
    match signals::received() {
        Some(sig) => bail!("interrupted by {}", signals::name(sig)),
        None => Ok(()),
    }
}

/// cargo-nextest if installed, cargo test otherwise. The runner stays in our process group,
/// so Ctrl-C at a terminal reaches it directly; SIGTERM sent to us is passed on.
fn run_tests(root: &Path, args: &[String], env: &[(&str, String)]) -> Result<ExitStatus> {
    let mut cmd = crate::cargo();
    if has_nextest() {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
        // .config/nextest.toml: the `ci` profile retries a test once and reports it as flaky.
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
            cmd.args(["--profile", "ci"]);
        }
    } else {
        eprintln!("cargo-nextest not found; falling back to cargo test");
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.args(args).current_dir(root);
    for (key, value) in env {
        eprintln!("    {key}={value}");
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().context("starting the test runner")?;
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if signals::received() == Some(libc::SIGTERM) && !forwarded {
            sys::signal(&child, libc::SIGTERM);
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn has_nextest() -> bool {
    crate::cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
