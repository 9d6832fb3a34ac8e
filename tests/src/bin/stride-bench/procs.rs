//! What each process of the mesh costs, read from `/proc`: CPU time (user + system, all
//! threads) and resident memory. PostgreSQL and RabbitMQ are process trees (a backend per
//! connection; the Erlang VM and its helpers), summed: PostgreSQL leaves the process group it
//! was started in, so the tree is followed by parent pid.

use std::collections::HashMap;

/// A process, or a process and all its descendants.
#[derive(Clone, Debug)]
pub struct Proc {
    pub name: String,
    pid: u32,
    group: bool,
}

impl Proc {
    /// `BENCH_PIDS`: `name=pid`, or `name=g<pid>` for the process and its descendants, comma-separated; the
    /// load generator itself is added as `bench`.
    pub fn from_env() -> anyhow::Result<Vec<Proc>> {
        let mut procs: Vec<Proc> = crate::var("BENCH_PIDS")?
            .split(',')
            .filter_map(|kv| {
                let (name, v) = kv.split_once('=')?;
                let (group, v) = match v.strip_prefix('g') {
                    Some(g) => (true, g),
                    None => (false, v),
                };
                Some(Proc {
                    name: name.to_owned(),
                    pid: v.parse().ok()?,
                    group,
                })
            })
            .collect();
        procs.push(Proc {
            name: "bench (client)".into(),
            pid: std::process::id(),
            group: false,
        });
        Ok(procs)
    }

    /// A process tree (PostgreSQL, RabbitMQ) rather than one of ours.
    pub fn is_tree(&self) -> bool {
        self.group
    }

    /// CPU time used so far, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        if !self.group {
            return stat(self.pid).map_or(0, |s| s.ticks);
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let all: Vec<(u32, Stat)> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| Some((pid, stat(pid)?)))
            .collect();
        let mut tree = vec![self.pid];
        let mut i = 0;
        while let Some(&parent) = tree.get(i) {
            tree.extend(
                all.iter()
                    .filter(|(_, s)| s.ppid == parent)
                    .map(|(p, _)| *p),
            );
            i += 1;
        }
        all.iter()
            .filter(|(p, _)| tree.contains(p))
            .map(|(_, s)| s.ticks)
            .sum()
    }

    /// Resident set size in KiB (of the root alone for a tree).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

struct Stat {
    ppid: u32,
    ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        ticks: f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    })
}

fn ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU used by every process between `start` and `finish`.
pub struct CpuMeter {
    procs: Vec<Proc>,
    before: Vec<u64>,
    at: std::time::Instant,
}

/// One process's share of a phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Share {
    pub name: String,
    /// Cores busy on average during the phase.
    pub cores: f64,
    /// CPU milliseconds per call (or per unit of work the phase counts).
    pub ms_per_call: f64,
}

impl CpuMeter {
    pub fn start(procs: &[Proc]) -> Self {
        Self {
            procs: procs.to_vec(),
            before: procs.iter().map(Proc::cpu_ticks).collect(),
            at: std::time::Instant::now(),
        }
    }

    /// Each process's CPU over the phase, per `calls` units of work; busiest first.
    pub fn finish(self, calls: u64) -> Vec<Share> {
        let mut sum = CpuSum::new(&self.procs);
        self.add_to(&mut sum);
        sum.shares(calls)
    }

    /// Adds the CPU since [`CpuMeter::start`] to `sum` (one stretch of an interleaved phase).
    pub fn add_to(self, sum: &mut CpuSum) {
        sum.secs += self.at.elapsed().as_secs_f64();
        for ((t, p), b) in sum.ticks.iter_mut().zip(&self.procs).zip(&self.before) {
            *t += p.cpu_ticks().saturating_sub(*b);
        }
    }
}

/// CPU of each process summed over several stretches of one phase.
pub struct CpuSum {
    procs: Vec<Proc>,
    ticks: Vec<u64>,
    secs: f64,
    hz: f64,
}

impl CpuSum {
    pub fn new(procs: &[Proc]) -> Self {
        Self {
            procs: procs.to_vec(),
            ticks: vec![0; procs.len()],
            secs: 0.0,
            hz: ticks_per_sec(),
        }
    }

    /// Each process's CPU over the stretches, per `calls` units of work; busiest first.
    pub fn shares(&self, calls: u64) -> Vec<Share> {
        let mut shares: Vec<Share> = self
            .procs
            .iter()
            .zip(&self.ticks)
            .map(|(p, t)| {
                let cpu = *t as f64 / self.hz;
                Share {
                    name: p.name.clone(),
                    cores: cpu / self.secs.max(1e-9),
                    ms_per_call: cpu * 1000.0 / calls.max(1) as f64,
                }
            })
            .filter(|s| s.cores >= 0.005)
            .collect();
        shares.sort_by(|a, b| b.cores.total_cmp(&a.cores));
        shares
    }
}

/// One line: `gateway 0.62 cores 0.21 ms/call · profile …`.
pub fn line(shares: &[Share]) -> String {
    shares
        .iter()
        .map(|s| format!("{} {:.2}c {:.3}ms", s.name, s.cores, s.ms_per_call))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Peak RSS of every process, sampled every 100 ms until `stop`.
pub fn sample_peaks(
    procs: Vec<Proc>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<HashMap<String, u64>> {
    tokio::spawn(async move {
        let mut peak: HashMap<String, u64> = HashMap::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for p in &procs {
                let e = peak.entry(p.name.clone()).or_default();
                *e = (*e).max(p.rss_kib());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        peak
    })
}
