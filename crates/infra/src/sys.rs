//! Small process and socket helpers shared with xtask.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

pub use libc::{SIGINT, SIGKILL, SIGTERM};

/// Sends `sig` to the process group led by `child` (children are spawned with
/// `process_group(0)`, so the group id is the child's pid). Errors (already gone) are ignored.
pub fn signal_group(child: &Child, sig: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        kill(-pid, sig);
    }
}

/// Sends `sig` to a single process.
pub fn signal(child: &Child, sig: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        kill(pid, sig);
    }
}

#[allow(unsafe_code)]
fn kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

#[allow(unsafe_code)]
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `child` has exited, without reaping it: while the leader is an unreaped zombie its
/// process group id cannot be reused, so signalling the group stays safe.
#[allow(unsafe_code)]
pub fn has_exited(child: &Child) -> bool {
    let pid: libc::id_t = child.id();
    // SAFETY: waitid only writes into `info`, a properly sized, zeroed siginfo_t.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // -1 means it was reaped already (ECHILD); si_pid stays 0 while it runs.
        libc::waitid(libc::P_PID, pid, &mut info, flags) == -1 || info.si_pid() != 0
    }
}

/// Waits at most `timeout` for `child` to exit, without reaping it.
pub fn wait_exit(child: &Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !has_exited(child) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Sends `sig` to the group, SIGKILLs whatever is left of it after `grace` (or at once when
/// the leader has exited: stragglers such as erl_child_setup go too), waits until no member
/// is left running (so its ports are closed), then reaps the leader. Call once per child.
pub fn terminate_group(child: &mut Child, sig: i32, grace: Duration) {
    signal_group(child, sig);
    wait_exit(child, grace);
    signal_group(child, SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_running(child.id()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
}

/// Whether any process in group `pgid` is still running (zombies hold no sockets or files).
fn group_running(pgid: u32) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ..."; comm may contain spaces, so split after ')'.
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<u32>().ok());
        pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
    })
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Polls `ready` until it returns true, failing after `timeout` or as soon as `alive` says the
/// server died (so a crash is reported at once rather than at the deadline).
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<()>,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        alive()?;
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{what} not ready after {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return format!("({} is missing)", path.display());
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
