//! `cargo xtask chaos`: the event path under faults. Release builds of the mesh, fresh
//! infrastructure under `.stride/chaos`, every binary as its own process, then
//! `stride-bench chaos` drives sessions through the gateway and asks us, one line at a time on
//! its stdout (`@kill analytics`, `@broker-kill`, …), to break things; we answer `ok` on its
//! stdin once done. It prints, per fault, the events lost and counted twice by each consumer,
//! and exits non-zero if any were.
//!
//! Env: `CHAOS_FAULTS` (comma-separated subset; default all), `CHAOS_EVENTS` (completions per
//! fault, default 10,000), `CHAOS_STALL_SECS` (how long a stalled consumer sleeps, default 25).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use stride_infra::{Infra, sys};

use crate::{signals, up};

/// The broker gives up on an unacknowledged delivery after this long (3.10's default is 30
/// minutes), checked every second, so that the stalled-consumer fault fits in a run.
const CONSUMER_TIMEOUT_MS: u64 = 10_000;

pub fn run(args: &[String]) -> Result<i32> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument {arg:?} (choose faults with CHAOS_FAULTS)");
    }
    signals::install();
    let root = crate::root();
    let (bins, dir, logs) = crate::bench::prepare(&root, "chaos")?;
    let mut infra = Infra::start(&dir)?;
    for svc in up::SERVICES {
        infra.pg.create_database(&up::db_name(svc))?;
    }
    broker_timeouts(&infra)?;
    let opts = up::Options {
        release: true,
        port: stride_infra::free_port()?,
        bench: true,
        llm_url: None,
    };
    let mut procs = Vec::new();
    let result = (|| -> Result<i32> {
        up::start_all(&opts, &bins, &logs, &infra, &mut procs)?;
        let mut driver = Command::new(bins.join("stride-bench"))
            .arg("chaos")
            .envs(crate::bench::driver_env(&dir, opts.port, &infra))
            .env("BENCH_AMQP_URL", infra.rabbit.amqp_url("/"))
            .env("BENCH_RABBIT_MGMT_URL", infra.rabbit.mgmt_url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting stride-bench chaos")?;
        let mut to_driver = driver.stdin.take().context("driver stdin")?;
        let from_driver = BufReader::new(driver.stdout.take().context("driver stdout")?);
        for line in from_driver.lines() {
            let line = line?;
            let Some(cmd) = line.strip_prefix('@') else {
                println!("{line}");
                continue;
            };
            if signals::received().is_some() {
                let _ = driver.kill();
                break;
            }
            let answer = match fault(cmd, &mut infra, &mut procs) {
                Ok(text) => format!("ok {text}").trim().to_owned(),
                Err(e) => {
                    eprintln!("chaos: `{cmd}` failed: {e:#}");
                    format!("err {e:#}").replace('\n', " ")
                }
            };
            eprintln!("chaos: {cmd} → {answer}");
            writeln!(to_driver, "{answer}")?;
            to_driver.flush()?;
        }
        let status = driver.wait()?;
        Ok(status.code().unwrap_or(1))
    })();
    up::stop_all(procs);
    drop(infra);
    eprintln!("logs: {}", logs.display());
    result
}

/// Sets the broker's consumer timeout low and its check frequent, before anyone connects
/// (channels read both when they open).
fn broker_timeouts(infra: &Infra) -> Result<()> {
    let expr = format!(
        "application:set_env(rabbit, consumer_timeout, {CONSUMER_TIMEOUT_MS}), \
         application:set_env(rabbit, channel_tick_interval, 1000)."
    );
    let out = infra
        .rabbit
        .ctl()
        .args(["eval", &expr])
        .output()
        .context("rabbitmqctl eval")?;
    if !out.status.success() {
        bail!(
            "setting the consumer timeout failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn fault(cmd: &str, infra: &mut Infra, procs: &mut [up::Proc]) -> Result<String> {
    let (verb, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
    fn find<'a>(procs: &'a mut [up::Proc], name: &str) -> Result<&'a mut up::Proc> {
        procs
            .iter_mut()
            .find(|p| p.name == name)
            .with_context(|| format!("no process {name:?}"))
    }
    match verb {
        "kill" => {
            let p = find(procs, arg)?;
            sys::terminate_group(&mut p.child, sys::SIGKILL, Duration::ZERO);
        }
        "term" => {
            let p = find(procs, arg)?;
            sys::signal_group(&p.child, sys::SIGTERM);
            if !sys::wait_exit(&p.child, Duration::from_secs(30)) {
                bail!("stride-{arg} did not stop within 30 s of SIGTERM");
            }
            sys::terminate_group(&mut p.child, sys::SIGKILL, Duration::ZERO);
        }
        "start" => find(procs, arg)?.respawn()?,
        "start-with" => {
            // `start-with <svc> KEY=VALUE`: once, with one more variable (a fault hook).
            let (svc, kv) = arg.split_once(' ').context("start-with <svc> KEY=VALUE")?;
            let (k, v) = kv.split_once('=').context("KEY=VALUE")?;
            let p = find(procs, svc)?;
            if let Err(e) = p.respawn_with(k, v) {
                // The hook can fire before readiness is seen (a backlog to consume at once):
                // then the process did what it was started for.
                if !p.aborted_by_fault_hook() {
                    return Err(e);
                }
            }
        }
        "wait-exit" => {
            let p = find(procs, arg)?;
            if !sys::wait_exit(&p.child, Duration::from_secs(120)) {
                bail!("stride-{arg} is still running");
            }
            sys::terminate_group(&mut p.child, sys::SIGKILL, Duration::ZERO);
        }
        "stop" => sys::signal_group(&find(procs, arg)?.child, libc::SIGSTOP),
        "cont" => sys::signal_group(&find(procs, arg)?.child, libc::SIGCONT),
        "broker-kill" => infra.rabbit.kill(),
        "broker-start" => {
            infra.rabbit.restart()?;
            broker_timeouts(infra)?;
        }
        "pg-stop" => infra.pg.stop(),
        "pg-start" => infra.pg.start_again()?,
        "ready" => {
            // What ADR 0005 promises while a dependency is away: readiness stays latched.
            let mut report = Vec::new();
            for p in procs.iter() {
                let code = stride_infra::http::request(
                    "127.0.0.1",
                    p.http_port(),
                    "GET",
                    "/readyz",
                    None,
                    None,
                )
                .map_or(0, |(code, _)| code);
                report.push(format!("{} {code}", p.name));
            }
            println!(
                "   readiness with the dependency away: {}",
                report.join(", ")
            );
        }
        "metric" => {
            // `metric <svc> <name> <label filter>`: the sum of the matching series.
            let mut words = arg.splitn(3, ' ');
            let (svc, name, filter) = (
                words.next().unwrap_or(""),
                words.next().unwrap_or(""),
                words.next().unwrap_or(""),
            );
            let port = find(procs, svc)?.http_port();
            let (_, body) =
                stride_infra::http::request("127.0.0.1", port, "GET", "/metrics", None, None)?;
            let sum: f64 = body
                .lines()
                .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(filter))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            return Ok(format!("{sum}"));
        }
        other => bail!("unknown command {other:?}"),
    }
    Ok(String::new())
}
