//! `cargo xtask up [--release] [--port N]`: every service and the gateway on this machine,
//! against fresh PostgreSQL and RabbitMQ under `.stride/up`, until Ctrl-C or SIGTERM.
//!
//! Env contract of the service binaries: `STRIDE_GRPC_ADDR`, `STRIDE_HTTP_ADDR` (healthz,
//! readyz, metrics), `DATABASE_URL`, `AMQP_URL`, `STRIDE_AUTH_URL`, `RUST_LOG`,
//! `STRIDE_LOG_FORMAT`; ai-coach also `STRIDE_ANALYTICS_URL`, `STRIDE_ACTIVITY_SESSION_URL`, `STRIDE_PROFILE_URL` and
//! `STRIDE_CHALLENGE_URL`;
//! profile `PROFILE_AVATAR_DIR`.
//! The gateway gets `STRIDE_GATEWAY_ADDR`, `STRIDE_HTTP_ADDR` and a `STRIDE_<SVC>_URL` per
//! service. Every `*_URL` of a service is `http://127.0.0.1:<its gRPC port>` (auth's JWKS is
//! its `GetJwks` RPC). Everything else in our environment is inherited (`COACH_LLM_*`,
//! `OTEL_*`).
//!
//! `stride-devsink` (crates/notify) starts first and catches auth's outgoing mail and SMS:
//! it gets `DEVSINK_SMTP_ADDR`/`DEVSINK_HTTP_ADDR`, auth gets `AUTH_SMTP_URL`, `AUTH_MAIL_FROM`
//! and `AUTH_SMS_URL` pointing at it. Its one line per message goes to our terminal.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use stride_infra::{Infra, sys};

use crate::signals;

/// In start order: auth first (the others fetch its JWKS), the gateway last.
pub(crate) const SERVICES: [&str; 6] = [
    "auth",
    "profile",
    "activity-session",
    "challenge",
    "analytics",
    "ai-coach",
];
const GATEWAY: &str = "gateway";
/// Browser origins of the usual web dev servers (Vite 5173, Next/CRA 3000), as docker-compose.yml.
const DEV_ORIGINS: &str =
    "http://localhost:5173,http://127.0.0.1:5173,http://localhost:3000,http://127.0.0.1:3000";
/// Built from the stride-notify package; not a service (no database, no broker).
const DEVSINK: &str = "devsink";
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(10);

pub(crate) struct Options {
    pub(crate) release: bool,
    pub(crate) port: u16,
    /// Benchmark mode: no per-client gateway limits (the load comes from one address) and
    /// sign-ups without email confirmation (the load generator has no mailbox).
    pub(crate) bench: bool,
    /// An OpenAI-compatible endpoint for ai-coach (`COACH_LLM_BASE_URL`; the bench's stand-in).
    pub(crate) llm_url: Option<String>,
}

/// A started binary.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    http_port: u16,
    log: PathBuf,
    /// Kept so that fault injection (`cargo xtask chaos`) can start it again the same way.
    cmd: Command,
}

impl Proc {
    /// Starts the binary again with the same command line and environment (same ports),
    /// appending to its log, and waits until it is ready.
    pub(crate) fn respawn(&mut self) -> Result<()> {
        self.respawn_with("", "")
    }

    /// [`Proc::respawn`] with one more environment variable (not kept for later starts).
    pub(crate) fn respawn_with(&mut self, key: &str, value: &str) -> Result<()> {
        if !key.is_empty() {
            self.cmd.env(key, value);
        }
        let started = self.spawn_again();
        if !key.is_empty() {
            self.cmd.env_remove(key);
        }
        started?;
        wait_healthy(self)
    }

    /// Whether it exited by its fault hook (`STRIDE_FAULT_ABORT_AFTER_COMMITS`, the bus's
    /// consumer), as its log's last lines say.
    pub(crate) fn aborted_by_fault_hook(&self) -> bool {
        sys::has_exited(&self.child)
            && sys::tail(&self.log, 5).contains("aborting after a commit, before its ack")
    }

    fn spawn_again(&mut self) -> Result<()> {
        let file = File::options().append(true).open(&self.log)?;
        self.child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting stride-{} again", self.name))?;
        Ok(())
    }

    pub(crate) fn http_port(&self) -> u16 {
        self.http_port
    }
}

pub fn run(args: &[String]) -> Result<i32> {
    let opts = parse(args)?;
    signals::install();
    let root = crate::root();
    if std::net::TcpListener::bind(("127.0.0.1", opts.port)).is_err() {
        bail!(
            "port {} is taken; pick another with --port N or STRIDE_UP_PORT",
            opts.port
        );
    }
    stride_infra::ensure_installed()?;
    let bins = build(&root, opts.release)?;
    interrupted()?;

    let dir = root.join(".stride/up");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let infra = Infra::start(&dir)?;
    for svc in SERVICES {
        infra.pg.create_database(&db_name(svc))?;
    }

    let mut procs = Vec::new();
    let code = match start_all(&opts, &bins, &logs, &infra, &mut procs) {
        Ok(_) => {
            println!(
                "gateway: gRPC, grpc-web, Connect and JSON/HTTP on http://127.0.0.1:{}",
                opts.port
            );
            println!("API docs: http://127.0.0.1:{}/docs", opts.port);
            println!("OpenAPI: http://127.0.0.1:{}/openapi.json", opts.port);
            if let Some(sink) = procs.iter().find(|p| p.name == DEVSINK) {
                println!(
                    "dev mail/SMS sink: http://127.0.0.1:{0}/messages (SMS: http://127.0.0.1:{0}/sms)",
                    sink.http_port
                );
            }
            println!(
                "logs:    {} (servers: {}/pg, {}/rabbit)",
                logs.display(),
                dir.display(),
                dir.display()
            );
            println!("try:     grpcurl -plaintext 127.0.0.1:{} list", opts.port);
            println!(
                "         curl -s http://127.0.0.1:{}/api/v1/activities -H 'authorization: Bearer <token>'",
                opts.port
            );
            println!("Ctrl-C stops everything.");
            supervise(&mut procs)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    };
    stop_all(procs);
    drop(infra);
    Ok(code)
}

fn parse(args: &[String]) -> Result<Options> {
    let port_arg = |value: &str| {
        value
            .parse::<u16>()
            .with_context(|| format!("bad port {value:?}"))
    };
    let mut opts = Options {
        bench: false,
        release: false,
        llm_url: None,
        port: match std::env::var("STRIDE_UP_PORT") {
            Ok(value) => port_arg(&value).context("STRIDE_UP_PORT")?,
            Err(_) => 8080,
        },
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--release" => opts.release = true,
            "--port" => opts.port = port_arg(args.next().context("--port needs a value")?)?,
            other => match other.strip_prefix("--port=") {
                Some(value) => opts.port = port_arg(value)?,
                None => bail!("unexpected argument {other:?} (usage: up [--release] [--port N])"),
            },
        }
    }
    Ok(opts)
}

fn interrupted() -> Result<()> {
    match signals::received() {
        Some(sig) => bail!("interrupted by {}", signals::name(sig)),
        None => Ok(()),
    }
}

/// Builds the seven binaries and the dev sink; returns the directory they are in.
pub(crate) fn build(root: &Path, release: bool) -> Result<PathBuf> {
    let mut cmd = crate::cargo();
    cmd.args(["build", "--bins"]).current_dir(root);
    for name in SERVICES.iter().chain([&GATEWAY]) {
        cmd.args(["-p", &format!("stride-{name}")]);
    }
    cmd.args(["-p", "stride-notify"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed: {status}");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    let bins = target.join(if release { "release" } else { "debug" });
    for name in SERVICES.iter().chain([&GATEWAY, &DEVSINK]) {
        let bin = bins.join(format!("stride-{name}"));
        if !bin.exists() {
            bail!(
                "{} was not built (does stride-{name} have a binary yet?)",
                bin.display()
            );
        }
    }
    Ok(bins)
}

pub(crate) fn db_name(svc: &str) -> String {
    format!("stride_{}", svc.replace('-', "_"))
}

/// Starts the dev sink, the six services and the gateway; returns each service's gRPC address.
pub(crate) fn start_all(
    opts: &Options,
    bins: &Path,
    logs: &Path,
    infra: &Infra,
    procs: &mut Vec<Proc>,
) -> Result<Vec<(&'static str, String)>> {
    // gRPC and HTTP port per service, HTTP port for the gateway, SMTP and HTTP port for the dev
    // sink; all free right now.
    let ports = stride_infra::free_ports(SERVICES.len() * 2 + 3)?;
    let (sink_smtp, sink_http) = (ports[SERVICES.len() * 2 + 1], ports[SERVICES.len() * 2 + 2]);
    let grpc_url = |svc: &str| {
        let i = SERVICES
            .iter()
            .position(|s| *s == svc)
            .expect("known service");
        format!("http://127.0.0.1:{}", ports[i * 2])
    };

    let mut commands = Vec::new();
    for (i, svc) in SERVICES.into_iter().enumerate() {
        let (grpc_port, http_port) = (ports[i * 2], ports[i * 2 + 1]);
        let mut cmd = Command::new(bins.join(format!("stride-{svc}")));
        cmd.env("STRIDE_GRPC_ADDR", format!("127.0.0.1:{grpc_port}"))
            .env("STRIDE_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("DATABASE_URL", infra.pg.url(&db_name(svc)))
            .env("AMQP_URL", infra.rabbit.amqp_url("/"))
            .env("STRIDE_AUTH_URL", grpc_url("auth"));
        if svc == "auth" {
            cmd.env("AUTH_SMTP_URL", format!("smtp://127.0.0.1:{sink_smtp}"))
                .env("AUTH_MAIL_FROM", "Stride <no-reply@stride.local>")
                .env("AUTH_SMS_URL", format!("http://127.0.0.1:{sink_http}/sms"));
            if opts.bench {
                cmd.env("AUTH_SIGNUP_CONFIRMATION", "false");
            }
        }
        if svc == "analytics" {
            // The dashboard's peers (issue 15).
            cmd.env("STRIDE_AI_COACH_URL", grpc_url("ai-coach"))
                .env("STRIDE_CHALLENGE_URL", grpc_url("challenge"));
        }
        if svc == "ai-coach" {
            cmd.env("STRIDE_ANALYTICS_URL", grpc_url("analytics"))
                .env("STRIDE_ACTIVITY_SESSION_URL", grpc_url("activity-session"))
                .env("STRIDE_PROFILE_URL", grpc_url("profile"))
                .env("STRIDE_CHALLENGE_URL", grpc_url("challenge"));
            if let Some(url) = &opts.llm_url {
                cmd.env("COACH_LLM_BASE_URL", url)
                    .env("COACH_LLM_MODEL", "stand-in-bench")
                    // The load comes from a few users: no daily cap in the way.
                    .env("COACH_DAILY_QUOTA", "1000000");
            }
        }
        if svc == "profile" {
            // Avatar files beside the logs of this run (URLs point at profile's HTTP port).
            cmd.env("PROFILE_AVATAR_DIR", logs.with_file_name("avatars"))
                // The data export asks every service; archives beside the avatars.
                .env("STRIDE_ACTIVITY_SESSION_URL", grpc_url("activity-session"))
                .env("STRIDE_CHALLENGE_URL", grpc_url("challenge"))
                .env("STRIDE_ANALYTICS_URL", grpc_url("analytics"))
                .env("STRIDE_AI_COACH_URL", grpc_url("ai-coach"))
                .env("PROFILE_EXPORT_DIR", logs.with_file_name("exports"));
        }
        commands.push((svc, cmd, http_port));
    }
    let gateway_http = ports[SERVICES.len() * 2];
    let mut gateway = Command::new(bins.join(format!("stride-{GATEWAY}")));
    gateway
        .env("STRIDE_GATEWAY_ADDR", format!("127.0.0.1:{}", opts.port))
        .env("STRIDE_HTTP_ADDR", format!("127.0.0.1:{gateway_http}"))
        .env_remove("DATABASE_URL")
        .env_remove("AMQP_URL");
    if opts.bench {
        gateway.env("STRIDE_GATEWAY_RATE_LIMITS", "off");
    }
    // A web dev server on this machine may call the mesh from the browser (the gateway allows no
    // cross-origin page by default); a value in the environment wins.
    if std::env::var_os("STRIDE_CORS_ORIGINS").is_none() {
        gateway.env("STRIDE_CORS_ORIGINS", DEV_ORIGINS);
    }
    for svc in SERVICES {
        let key = format!("STRIDE_{}_URL", svc.to_uppercase().replace('-', "_"));
        gateway.env(key, grpc_url(svc));
    }
    commands.push((GATEWAY, gateway, gateway_http));
    for (_, cmd, _) in &mut commands {
        // RUST_LOG is inherited when the developer set it; otherwise the default filter applies.
        cmd.env("STRIDE_LOG_FORMAT", "text");
    }

    // The dev sink before auth, which sends to it.
    let mut sink = Command::new(bins.join(format!("stride-{DEVSINK}")));
    sink.env("DEVSINK_SMTP_ADDR", format!("127.0.0.1:{sink_smtp}"))
        .env("DEVSINK_HTTP_ADDR", format!("127.0.0.1:{sink_http}"));
    procs.push(spawn(DEVSINK, sink, sink_http, logs)?);
    wait_healthy(&procs[procs.len() - 1])?;

    // Three waves: auth, then the other services together, then the gateway.
    let mut commands = commands.into_iter();
    for wave in [1, SERVICES.len() - 1, 1] {
        let first = procs.len();
        for (name, cmd, http_port) in commands.by_ref().take(wave) {
            procs.push(spawn(name, cmd, http_port, logs)?);
        }
        for proc in &procs[first..] {
            wait_healthy(proc)?;
        }
    }
    Ok(SERVICES.iter().map(|s| (*s, grpc_url(s))).collect())
}

fn spawn(name: &'static str, mut cmd: Command, http_port: u16, logs: &Path) -> Result<Proc> {
    let log = logs.join(format!("{name}.log"));
    let file = File::create(&log)?;
    // The dev sink prints one line per caught message (codes!) for the developer's terminal.
    let stdout = match name {
        DEVSINK => Stdio::inherit(),
        _ => file.try_clone()?.into(),
    };
    // Own process group: a terminal's Ctrl-C reaches only us, and we stop them in order.
    let child = cmd
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting stride-{name}"))?;
    Ok(Proc {
        name,
        child,
        http_port,
        log,
        cmd,
    })
}

fn wait_healthy(proc: &Proc) -> Result<()> {
    let started = Instant::now();
    let alive = || {
        interrupted()?;
        if sys::has_exited(&proc.child) {
            bail!(
                "stride-{} exited during start; last lines of {}:\n{}",
                proc.name,
                proc.log.display(),
                sys::tail(&proc.log, 30)
            );
        }
        Ok(())
    };
    let healthy = || {
        matches!(
            stride_infra::http::request("127.0.0.1", proc.http_port, "GET", "/readyz", None, None),
            Ok((200, _))
        )
    };
    let what = format!("stride-{} (GET /readyz on {})", proc.name, proc.http_port);
    sys::wait_until(&what, HEALTH_TIMEOUT, alive, healthy)?;
    eprintln!(
        "stride-{}: ready in {:.1}s",
        proc.name,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits for a signal or for a process to die; returns the exit code for xtask.
fn supervise(procs: &mut [Proc]) -> i32 {
    loop {
        if let Some(sig) = signals::received() {
            eprintln!("{}: stopping", signals::name(sig));
            return 0;
        }
        for proc in procs.iter_mut() {
            if sys::has_exited(&proc.child) {
                eprintln!(
                    "stride-{} exited unexpectedly; stopping everything. Last lines of {}:\n{}",
                    proc.name,
                    proc.log.display(),
                    sys::tail(&proc.log, 30)
                );
                return 1;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SIGTERM to all (they drain and stop), SIGKILL to whatever is left after the grace period.
pub(crate) fn stop_all(mut procs: Vec<Proc>) {
    for proc in &procs {
        sys::signal_group(&proc.child, sys::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    for proc in &mut procs {
        let left = deadline.saturating_duration_since(Instant::now());
        if !sys::wait_exit(&proc.child, left) {
            eprintln!(
                "stride-{}: still running after {STOP_GRACE:?}; killing",
                proc.name
            );
        }
        sys::terminate_group(&mut proc.child, sys::SIGKILL, Duration::ZERO);
    }
}
