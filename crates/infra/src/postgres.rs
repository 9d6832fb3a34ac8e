//! A throwaway PostgreSQL 15 cluster with trust auth on a free loopback port.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sys;

pub(crate) const BIN: &str = "/usr/lib/postgresql/15/bin";
/// Run as this system user when we are root (postgres refuses to run as root); Debian's
/// package creates it, otherwise we create it.
const USERS: [&str; 2] = ["postgres", "stride"];

pub struct Postgres {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// The server's command line, kept so [`Postgres::restart`] starts the same cluster again.
    server: Command,
    log_path: PathBuf,
}

impl Postgres {
    /// initdb in `base_dir/pgdata`, then starts the server with its socket in
    /// `base_dir/pgsock` and waits until it accepts connections.
    pub fn start(base_dir: &Path) -> Result<Postgres> {
        Self::start_with(base_dir, &[])
    }

    /// [`Postgres::start`] with extra `name=value` server settings (benchmarks load
    /// `pg_stat_statements` this way).
    pub fn start_with(base_dir: &Path, settings: &[&str]) -> Result<Postgres> {
        let started = Instant::now();
        let data = base_dir.join("pgdata");
        let sock = base_dir.join("pgsock");
        fs::create_dir_all(base_dir).with_context(|| format!("creating {}", base_dir.display()))?;
        fs::create_dir_all(&data)?;
        fs::create_dir_all(&sock)?;
        fs::set_permissions(&data, fs::Permissions::from_mode(0o700))?;
        let user = if sys::is_root() {
            Some(run_as_user(base_dir, &[&data, &sock])?)
        } else {
            None
        };
        let as_user = |cmd: &mut Command| {
            if let Some((uid, gid)) = user {
                cmd.uid(uid).gid(gid);
            }
        };

        let log_path = base_dir.join("postgres.log");
        let log = File::create(&log_path)?;
        let mut initdb = Command::new(Path::new(BIN).join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            // A throwaway cluster: skipping initdb's fsync saves a second or two.
            .arg("--no-sync")
            .current_dir(base_dir)
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?);
        as_user(&mut initdb);
        let status = initdb.status().context("running initdb")?;
        if !status.success() {
            bail!("initdb failed ({status}):\n{}", sys::tail(&log_path, 20));
        }

        let port = crate::free_port()?;
        let mut server = Command::new(Path::new(BIN).join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", sock.display()))
            .args(["-c", "max_connections=500", "-c", "shared_buffers=128MB"]);
        for kv in settings {
            server.args(["-c", kv]);
        }
        server
            .current_dir(base_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        as_user(&mut server);
        let mut pg = Postgres {
            port,
            dir: base_dir.to_path_buf(),
            child: None,
            server,
            log_path,
        };
        pg.boot()?;
        eprintln!(
            "postgres: 127.0.0.1:{port} ready in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(pg)
    }

    /// Starts the server process and waits until it accepts connections.
    fn boot(&mut self) -> Result<()> {
        let child = self.server.spawn().context("starting postgres")?;
        self.child = Some(child);
        let alive = || match &self.child {
            Some(child) if !sys::has_exited(child) => Ok(()),
            _ => bail!("postgres exited:\n{}", sys::tail(&self.log_path, 20)),
        };
        let ready = || sys::port_open(self.port) && self.isready();
        if let Err(err) = sys::wait_until("postgres", Duration::from_secs(60), alive, ready) {
            self.stop();
            return Err(err);
        }
        Ok(())
    }

    /// Starts the stopped cluster again on the same port and data directory.
    pub fn start_again(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.boot()
    }

    /// Fast shutdown, then the same cluster started again on the same port (fault injection:
    /// every client connection breaks, committed data stays).
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.boot()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's pid, which is also the process group of every backend (for reading
    /// their CPU time in benchmarks).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Directory holding `pgdata`, `pgsock` and `postgres.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `postgres://postgres@127.0.0.1:PORT/db` (superuser, trust auth).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn create_database(&self, name: &str) -> Result<()> {
        let output = Command::new(client_bin("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(name)
            .output()
            .context("running createdb")?;
        if !output.status.success() {
            bail!(
                "createdb {name} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Whether the server process is up.
    pub fn is_running(&self) -> bool {
        self.child.as_ref().is_some_and(|c| !sys::has_exited(c))
    }

    fn isready(&self) -> bool {
        Command::new(client_bin("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-t", "2"])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Fast shutdown (SIGINT to the postmaster, what `pg_ctl stop -m fast` sends: roll back
    /// open transactions, disconnect, checkpoint), SIGKILL after 30 s. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sys::terminate_group(&mut child, sys::SIGINT, Duration::from_secs(30));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Server's bin dir first; Debian's client wrappers in /usr/bin otherwise.
fn client_bin(name: &str) -> PathBuf {
    let path = Path::new(BIN).join(name);
    if path.exists() {
        path
    } else {
        Path::new("/usr/bin").join(name)
    }
}

/// Picks (or creates) the unprivileged user the server runs as, gives it `owned`, and checks it
/// can reach `base_dir` (a root-only tempdir would make initdb fail with a vaguer message).
fn run_as_user(base_dir: &Path, owned: &[&Path]) -> Result<(u32, u32)> {
    let (uid, gid) = match USERS.iter().find_map(|u| lookup_user(u)) {
        Some(ids) => ids,
        None => {
            let status = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(USERS[1])
                .status()
                .context("running useradd")?;
            if !status.success() {
                bail!("useradd {} failed: {status}", USERS[1]);
            }
            lookup_user(USERS[1]).context("user created by useradd not found")?
        }
    };
    for path in owned {
        chown(path, Some(uid), Some(gid)).with_context(|| format!("chown {}", path.display()))?;
    }
    // The base dir is ours: open it up for traversal (it may be a 0700 tempdir).
    let meta = fs::metadata(base_dir)?;
    fs::set_permissions(
        base_dir,
        fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o711),
    )?;
    for dir in base_dir.canonicalize()?.ancestors().skip(1) {
        if fs::metadata(dir)?.mode() & 0o001 == 0 {
            bail!(
                "{} is not searchable by others, so the postgres server (uid {uid}) cannot reach \
                 {}; use a directory elsewhere",
                dir.display(),
                base_dir.display()
            );
        }
    }
    Ok((uid, gid))
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 4 && fields[0] == name {
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        } else {
            None
        }
    })
}
