//! Running a service process: gRPC with health, reflection, auth and metrics layers; an HTTP
//! port for probes and metrics; graceful shutdown.

use std::{
    future::Future,
    net::SocketAddr,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context as _;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    authn::{AuthnLayer, Verifier},
    metrics::MetricsLayer,
    policy::Policies,
};

/// What the binary was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
}

/// Runs a service binary: runtime, crypto provider, telemetry, then `f`. Config errors print as
/// a list and exit 2; other failures exit 1.
pub fn main<F, Fut>(service: &'static str, f: F) -> ExitCode
where
    F: FnOnce(Command) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    crate::install_crypto_provider();
    tune_allocator();
    let cmd = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => Command::Serve,
        Some("migrate") => Command::Migrate,
        Some(other) => {
            eprintln!("usage: stride-{service} [serve|migrate]  (unknown command {other:?})");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let _guard = match crate::telemetry::init(service) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("cannot initialise telemetry: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        match f(cmd).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                if let Some(c) = e.downcast_ref::<crate::config::ConfigError>() {
                    eprintln!("stride-{service}: {c}");
                    return ExitCode::from(2);
                }
                tracing::error!(error = format!("{e:#}"), "stride-{service} failed");
                eprintln!("stride-{service}: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// glibc's malloc raises its mmap threshold after large frees and keeps one arena per thread, so
/// a burst of argon2 hashes (19 MiB each) or many runtime threads leave memory resident long after
/// use. A fixed threshold hands big blocks back to the OS on free; two arenas bound the rest.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Readiness shared by the gRPC health service and `/readyz`.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    ready: Arc<AtomicBool>,
    services: Arc<Vec<String>>,
}

impl Health {
    /// A health handle starting NOT_SERVING, and the gRPC health service reporting it.
    pub async fn new(
        services: Vec<String>,
    ) -> (
        Self,
        tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    ) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Health {
            reporter,
            ready: Arc::new(AtomicBool::new(true)),
            services: Arc::new(services),
        };
        health.set_ready(false).await;
        (health, service)
    }

    /// Marks the process (and each named service) SERVING or NOT_SERVING.
    pub async fn set_ready(&self, ready: bool) {
        if self.ready.swap(ready, Ordering::SeqCst) == ready {
            return;
        }
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for s in self.services.iter() {
            self.reporter.set_service_status(s, status).await;
        }
        tracing::info!(ready, "readiness changed");
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// A running server.
pub struct Running {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub health: Health,
    /// Cancelled to stop; background tasks of the service watch it too.
    pub shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// A running set of tasks (for processes that build their own server, like the gateway).
    pub fn new(
        grpc_addr: SocketAddr,
        http_addr: SocketAddr,
        health: Health,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            grpc_addr,
            http_addr,
            health,
            shutdown,
            tasks: Vec::new(),
        }
    }

    /// Adds a background task that must finish before the process stops.
    pub fn track(&mut self, task: JoinHandle<anyhow::Result<()>>) {
        self.tasks.push(task);
    }

    /// Stops accepting, drains in-flight calls and background tasks.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for t in self.tasks {
            t.await.context("task panicked")??;
        }
        Ok(())
    }

    /// Serves until SIGTERM/Ctrl-C, then stops gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let token = self.shutdown.clone();
        tokio::select! {
            _ = shutdown_signal() => tracing::info!("shutdown requested"),
            _ = token.cancelled() => {},
        }
        self.stop().await
    }
}

/// Where and what to serve.
pub struct ServeConfig {
    pub service: &'static str,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// Fully-qualified gRPC service names, for per-service health status.
    pub service_names: Vec<String>,
    pub verifier: Arc<Verifier>,
    /// Calls worked on at once, waiting and refused ([`crate::shed`]).
    pub admission: crate::shed::Config,
    /// Extra routes of the HTTP port, beside the probes and metrics (profile's avatar files).
    pub http_routes: axum::Router,
}

/// Binds both ports and starts serving `routes` behind the metrics, panic and authn layers, until
/// `shutdown` (which the caller may have handed to other components first). Health starts
/// NOT_SERVING; `ready_when` turns it SERVING.
pub async fn spawn(
    cfg: ServeConfig,
    routes: Routes,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let grpc = TcpListener::bind(cfg.grpc_addr)
        .await
        .with_context(|| format!("binding gRPC {}", cfg.grpc_addr))?;
    let http = TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("binding HTTP {}", cfg.http_addr))?;
    let grpc_addr = grpc.local_addr()?;
    let http_addr = http.local_addr()?;

    let (health, health_service) = Health::new(cfg.service_names).await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(stride_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("reflection")?;
    let policies = Arc::new(Policies::load()?);
    let routes = routes.add_service(health_service).add_service(reflection);

    let mut tasks = Vec::new();

    let token = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        tonic::transport::Server::builder()
            .trace_fn(crate::telemetry::server_span)
            .layer(MetricsLayer::new(policies.clone()))
            .layer(crate::panic::CatchPanicLayer)
            .layer(crate::shed::ShedLayer::new(cfg.admission))
            .layer(AuthnLayer::new(cfg.verifier, policies))
            .add_routes(routes)
            // TCP_NODELAY: without it a response written in several frames waits for the
            // client's delayed ACK (Nagle), ~40 ms per call.
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true)),
                token.cancelled_owned(),
            )
            .await
            .context("gRPC server")
    }));

    let token = shutdown.clone();
    let probe = health.clone();
    let extra = cfg.http_routes;
    tasks.push(tokio::spawn(async move {
        serve_http(http, probe, token, extra)
            .await
            .context("HTTP server")
    }));

    tracing::info!(service = cfg.service, %grpc_addr, %http_addr, "listening");
    Ok(Running {
        grpc_addr,
        http_addr,
        health,
        shutdown,
        tasks,
    })
}

/// `/healthz` (alive), `/readyz` (database and broker ready), `/metrics` (Prometheus).
pub async fn serve_http(
    listener: TcpListener,
    health: Health,
    token: CancellationToken,
    extra: axum::Router,
) -> std::io::Result<()> {
    use axum::{http::StatusCode, routing::get};
    let router = extra
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = health.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            }),
        )
        .route("/metrics", get(|| async { crate::metrics::render() }));
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}

/// Marks the process ready once every signal (the broker links of the relay and the subscriber)
/// has been true; the database is checked before serving starts. A later broker outage does not
/// flip readiness back: the outbox holds events meanwhile, and taking every pod out of its
/// Service would turn a broker blip into a full outage.
pub fn ready_when(
    health: Health,
    mut signals: Vec<tokio::sync::watch::Receiver<bool>>,
    token: CancellationToken,
) {
    tokio::spawn(async move {
        for s in &mut signals {
            tokio::select! {
                _ = token.cancelled() => return,
                res = s.wait_for(|v| *v) => if res.is_err() { return; }
            }
        }
        health.set_ready(true).await;
    });
}
