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

/// Stops `child` and everything it started: `sig` to its process group, SIGKILL after `grace`
/// (or at once when the leader has exited) to the group and to every descendant seen at the
/// start (erl_child_setup calls setsid, so the group alone misses it), then waits until none
/// of them is running, so their ports are closed, and reaps the leader. Call once per child.
pub fn terminate_group(child: &mut Child, sig: i32, grace: Duration) {
    let tree = process_tree(child.id());
    signal_group(child, sig);
    wait_exit(child, grace);
    signal_group(child, SIGKILL);
    for proc in &tree {
        if proc.is_same() {
            kill(proc.pid as i32, SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while tree.iter().any(Proc::is_running) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
}

/// SIGKILLs every process (but us) whose environment has `key=value`, and returns their pids
/// and names: a sweep for servers that tests started and left behind when they were killed.
pub fn kill_tagged(key: &str, value: &str) -> Vec<(u32, String)> {
    let tag = format!("{key}={value}").into_bytes();
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut killed = Vec::new();
    for pid in procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if pid != me && environ.split(|b| *b == 0).any(|var| var == tag) {
            let Some(proc) = Proc::read(pid) else {
                continue;
            };
            kill(pid as i32, SIGKILL);
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            killed.push((proc, comm.trim().to_owned()));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while killed.iter().any(|(p, _)| p.is_running()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.into_iter().map(|(p, name)| (p.pid, name)).collect()
}

/// A process seen in /proc, identified by pid and start time (pids get reused).
struct Proc {
    pid: u32,
    ppid: u32,
    pgrp: u32,
    start: u64,
}

impl Proc {
    fn read(pid: u32) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ... starttime(22nd)"; comm may hold spaces and parens.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(Proc {
            pid,
            ppid: fields.get(1)?.parse().ok()?,
            pgrp: fields.get(2)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }

    fn is_same(&self) -> bool {
        Proc::read(self.pid).is_some_and(|p| p.start == self.start)
    }

    /// Alive unless a zombie whose threads are all gone too: the sockets of a multithreaded
    /// process (beam.smp) close only when its last thread exits, after the leader is a zombie.
    fn is_running(&self) -> bool {
        if !self.is_same() {
            return false;
        }
        let task_dir = format!("/proc/{}/task", self.pid);
        std::fs::read_dir(task_dir).is_ok_and(|tasks| {
            tasks.flatten().any(|task| {
                std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                    let state = stat
                        .rsplit_once(')')
                        .map_or("", |(_, rest)| rest.trim_start());
                    !state.starts_with(['Z', 'X'])
                })
            })
        })
    }
}

/// `root`, its descendants and the members of its process group.
fn process_tree(root: u32) -> Vec<Proc> {
    let all: Vec<Proc> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter_map(Proc::read)
                .collect()
        })
        .unwrap_or_default();
    let mut tree: Vec<u32> = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    all.into_iter()
        .filter(|p| p.pgrp == root || tree.contains(&p.pid))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_tagged_finds_only_tagged_processes() {
        let tag = format!("kill-tagged-{}", std::process::id());
        let spawn = |value: &str| {
            std::process::Command::new("sleep")
                .arg("60")
                .env("STRIDE_SYS_TEST", value)
                .spawn()
                .unwrap()
        };
        let mut tagged = spawn(&tag);
        let mut other = spawn("something else");
        // Right after fork the child still shows our own environment; wait for the exec. The
        // kernel renames the process before it lays out the new environment, so wait for both.
        for child in [&tagged, &other] {
            let comm = format!("/proc/{}/comm", child.id());
            let environ = format!("/proc/{}/environ", child.id());
            let exec_done = || {
                std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
                    && std::fs::read(&environ).is_ok_and(|e| {
                        e.split(|b| *b == 0)
                            .any(|kv| kv.starts_with(b"STRIDE_SYS_TEST="))
                    })
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !exec_done() {
                assert!(std::time::Instant::now() < deadline, "sleep did not start");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let killed = kill_tagged("STRIDE_SYS_TEST", &tag);
        assert_eq!(killed, vec![(tagged.id(), "sleep".to_owned())]);
        assert!(!tagged.wait().unwrap().success());
        assert!(!has_exited(&other));
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
