//! A throwaway RabbitMQ node (with the management plugin) on free loopback ports, started as
//! DESIGN §8 describes: the broker script run directly as root with every path and port
//! pointed into a private directory, and an epmd of its own.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{Mgmt, percent_encode, sys};

/// The `/usr/sbin` wrapper would switch to the rabbitmq user; this one runs as we are.
pub(crate) const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL: &str = "/usr/lib/rabbitmq/bin/rabbitmqctl";
const START_TIMEOUT: Duration = Duration::from_secs(90);

pub struct Rabbit {
    dir: PathBuf,
    node: String,
    amqp_port: u16,
    mgmt_port: u16,
    dist_port: u16,
    epmd_port: u16,
    mgmt: Mgmt,
    server: Option<Child>,
    epmd: Option<Child>,
}

impl Rabbit {
    /// Lays out `base_dir` (mnesia, log, home, config) and starts the node; returns once the
    /// AMQP port accepts connections and the management API answers.
    pub fn start(base_dir: &Path) -> Result<Rabbit> {
        let ports = crate::free_ports(4)?;
        let (amqp_port, mgmt_port, dist_port, epmd_port) = (ports[0], ports[1], ports[2], ports[3]);
        let mut rabbit = Rabbit {
            dir: base_dir.to_path_buf(),
            node: format!("stride-{amqp_port}@localhost"),
            amqp_port,
            mgmt_port,
            dist_port,
            epmd_port,
            mgmt: Mgmt::new("127.0.0.1", mgmt_port, "guest", "guest"),
            server: None,
            epmd: None,
        };
        for sub in ["mnesia", "log", "home"] {
            let path = base_dir.join(sub);
            fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        }
        fs::write(base_dir.join("rabbitmq.conf"), rabbit.config())?;
        fs::write(base_dir.join("enabled_plugins"), "[rabbitmq_management].\n")?;
        // Quorum queues report their message counts once per tick (default 5 s), on top of the
        // statistics settings in rabbitmq.conf; this one is not settable there on 3.10.
        fs::write(
            base_dir.join("advanced.config"),
            "[{rabbit, [{quorum_tick_interval, 1000}]}].\n",
        )?;
        // Keeps /etc/rabbitmq/rabbitmq-env.conf out of the picture.
        fs::write(base_dir.join("rabbitmq-env.conf"), "")?;
        rabbit.boot()?;
        Ok(rabbit)
    }

    /// `amqp://guest:guest@127.0.0.1:PORT/<vhost, percent-encoded>`.
    pub fn amqp_url(&self, vhost: &str) -> String {
        format!(
            "amqp://guest:guest@127.0.0.1:{}/{}",
            self.amqp_port,
            percent_encode(vhost)
        )
    }

    /// `http://guest:guest@127.0.0.1:PORT`, the management API base.
    pub fn mgmt_url(&self) -> String {
        self.mgmt.url()
    }

    pub fn mgmt(&self) -> &Mgmt {
        &self.mgmt
    }

    /// The server's pid, which is also the process group of the Erlang VM and its helpers.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    pub fn amqp_port(&self) -> u16 {
        self.amqp_port
    }

    pub fn mgmt_port(&self) -> u16 {
        self.mgmt_port
    }

    /// The Erlang node name, for `rabbitmqctl -n`.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// A `rabbitmqctl -n NODE` command with this node's environment (HOME for the Erlang
    /// cookie, epmd port); add the subcommand, e.g. `close_all_connections`.
    pub fn ctl(&self) -> Command {
        let mut cmd = Command::new(CTL);
        self.env(&mut cmd);
        cmd.args(["-n", &self.node]);
        cmd
    }

    /// Directory holding the node's data, logs (`log/`, `stdout.log`) and config.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn create_vhost(&self, name: &str) -> Result<()> {
        self.mgmt.create_vhost(name)
    }

    pub fn delete_vhost(&self, name: &str) -> Result<()> {
        self.mgmt.delete_vhost(name)
    }

    /// See [`Mgmt::queue_messages`]: statistics lag, poll with a deadline.
    pub fn queue_messages(&self, vhost: &str, queue: &str) -> Result<u64> {
        self.mgmt.queue_messages(vhost, queue)
    }

    /// Whether the broker process is up (it may still be booting).
    pub fn is_running(&self) -> bool {
        self.server.as_ref().is_some_and(|c| !sys::has_exited(c))
    }

    /// Graceful stop (`rabbitmqctl shutdown`, signals as a fallback), then stops our epmd.
    /// Idempotent.
    pub fn stop(&mut self) {
        self.stop_server();
        if let Some(mut epmd) = self.epmd.take() {
            sys::terminate_group(&mut epmd, sys::SIGTERM, Duration::from_secs(5));
        }
    }

    /// Simulates a crashed broker: SIGKILL to the whole server process tree, no shutdown.
    /// epmd stays up, as it would on a real host; [`Rabbit::restart`] brings the node back.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            sys::terminate_group(&mut server, sys::SIGKILL, Duration::ZERO);
        }
    }

    /// Starts the node again on the same ports and data directory, so durable queues and
    /// persistent messages survive and clients can reconnect to the same URL. Stops it
    /// gracefully first if it is still running.
    pub fn restart(&mut self) -> Result<()> {
        self.stop_server();
        self.boot()
    }

    fn config(&self) -> String {
        format!(
            "loopback_users = none\n\
             management.tcp.ip = 127.0.0.1\n\
             management.tcp.port = {}\n\
             vm_memory_high_watermark.relative = 0.4\n\
             disk_free_limit.absolute = 50MB\n\
             # Queue statistics in the management API lag by up to ~1-2 s instead of ~5 s:\n\
             # stats emitted every second and sampled at 1 s (the defaults are 5 s).\n\
             collect_statistics_interval = 1000\n\
             management.sample_retention_policies.global.minute = 1\n\
             management.sample_retention_policies.basic.minute = 1\n\
             management.sample_retention_policies.detailed.10 = 1\n",
            self.mgmt_port
        )
    }

    /// Environment shared by the server and rabbitmqctl: same HOME (the Erlang cookie lives
    /// there) and same epmd.
    fn env(&self, cmd: &mut Command) {
        let dir = &self.dir;
        cmd.env("HOME", dir.join("home"))
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.amqp_port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            // Distribution on loopback only, like everything else.
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .current_dir(dir);
    }

    fn boot(&mut self) -> Result<()> {
        let started = Instant::now();
        let stdout_path = self.dir.join("stdout.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&stdout_path)?;
        if self.epmd.is_none() {
            self.epmd = Some(self.start_epmd(&log)?);
        }
        let mut cmd = Command::new(SERVER);
        self.env(&mut cmd);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        self.server = Some(cmd.spawn().context("starting rabbitmq-server")?);

        let server = self.server.as_ref();
        let alive = || match server {
            Some(child) if !sys::has_exited(child) => Ok(()),
            _ => bail!("rabbitmq-server exited:\n{}", sys::tail(&stdout_path, 30)),
        };
        let ready = || sys::port_open(self.amqp_port) && self.mgmt.overview_ok();
        if let Err(err) = sys::wait_until("rabbitmq", START_TIMEOUT, alive, ready) {
            self.stop();
            return Err(err);
        }
        eprintln!(
            "rabbitmq: 127.0.0.1:{} (management {}) ready in {:.1}s",
            self.amqp_port,
            self.mgmt_port,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Our own epmd as a child, so it is ours to stop and separate instances never share one.
    fn start_epmd(&self, log: &File) -> Result<Child> {
        let mut cmd = Command::new("epmd");
        cmd.args(["-port", &self.epmd_port.to_string()])
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .process_group(0);
        let epmd = cmd.spawn().context("starting epmd")?;
        let port = self.epmd_port;
        let alive = || match sys::has_exited(&epmd) {
            false => Ok(()),
            true => bail!("epmd exited at start (port {port} taken?)"),
        };
        sys::wait_until("epmd", Duration::from_secs(10), alive, || {
            sys::port_open(port)
        })?;
        Ok(epmd)
    }

    fn stop_server(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        if !sys::has_exited(&server) {
            let mut ctl = self.ctl();
            ctl.arg("shutdown")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0);
            if let Ok(mut ctl) = ctl.spawn() {
                if !sys::wait_exit(&ctl, Duration::from_secs(30)) {
                    eprintln!("rabbitmq: rabbitmqctl shutdown hung; signalling the node");
                }
                sys::terminate_group(&mut ctl, sys::SIGKILL, Duration::ZERO);
            }
        }
        // The script exits once the VM has; SIGTERM (a graceful stop too) covers a failed ctl.
        sys::terminate_group(&mut server, sys::SIGTERM, Duration::from_secs(30));
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop();
    }
}
