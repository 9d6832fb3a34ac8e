//! The whole Stride mesh started in one process — every service from its own crate, each on its
//! own database, all on one real RabbitMQ vhost, behind the real gateway — plus clients for both
//! transports the gateway serves. Used by the end-to-end tests and the benchmarks.

pub mod raw;

use std::{net::SocketAddr, sync::Arc};

use stride_kit::{
    Verifier,
    clock::{ManualClock, SharedClock, SystemClock},
    config::CommonConfig,
    serve::Running,
};
use stride_proto::{
    activity_session::{
        catalog_service_client::CatalogServiceClient, routine_service_client::RoutineServiceClient,
        session_service_client::SessionServiceClient,
    },
    ai_coach::ai_coach_service_client::AiCoachServiceClient,
    analytics::analytics_service_client::AnalyticsServiceClient,
    auth::auth_service_client::AuthServiceClient,
    challenge::challenge_service_client::ChallengeServiceClient,
    profile::profile_service_client::ProfileServiceClient,
};

/// Where the mesh keeps its state.
#[derive(Clone, Debug)]
pub struct Stores {
    /// Admin URL of the PostgreSQL server (databases are created on it).
    pub pg_admin_url: String,
    /// AMQP URL including the vhost every service shares.
    pub amqp_url: String,
    /// The test vhost behind `amqp_url`, if it is one: the mesh holds it, so it is deleted when
    /// the mesh goes, not when these settings do.
    pub vhost: Option<Arc<stride_testkit::TestVhost>>,
}

/// Database URL per service, kept for assertions that look at a service's own tables.
#[derive(Clone, Debug, Default)]
pub struct Databases {
    pub auth: String,
    pub profile: String,
    pub activity_session: String,
    pub challenge: String,
    pub analytics: String,
    pub ai_coach: String,
}

pub struct Mesh {
    pub gateway: SocketAddr,
    /// Direct addresses, by service short name (for benchmarks that bypass the gateway).
    pub direct: Vec<(&'static str, SocketAddr)>,
    pub databases: Databases,
    /// The clock of the services that measure sessions and days.
    pub clock: ManualClock,
    /// Auth's mail and SMS arrive here (over real SMTP / HTTP).
    pub sink: Arc<stride_notify::DevSink>,
    /// Where profile writes data export archives.
    pub export_dir: std::path::PathBuf,
    running: Vec<Running>,
    /// The second replicas of auth, activity-session, challenge, analytics and ai-coach
    /// ([`Options::replicas`]), sharing the first one's database and queue.
    extra: Vec<Running>,
    /// The gateway's probe and metrics port.
    pub gateway_http: SocketAddr,
    /// What the name [`PROFILE_NAME`] resolves to at the gateway ([`Options::profile_by_name`]):
    /// the profile replicas "in DNS", as a headless Service lists its ready pods.
    profile_dns: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
    /// Profile's replicas (one unless [`Options::profile_replicas`] says more), all behind the
    /// gateway's one upstream setting, sharing profile's database.
    profiles: Vec<Running>,
    profile_start: ProfileStart,
    _vhost: Option<Arc<stride_testkit::TestVhost>>,
}

/// How the mesh is started.
#[derive(Clone, Debug)]
pub struct Options {
    /// Profile processes sharing its database, listed together in the gateway's upstream.
    pub profile_replicas: usize,
    /// Replicas of every service (at least `profile_replicas` of profile): each shares its
    /// service's database and consumer queue, and the gateway lists them all.
    pub replicas: usize,
    /// The gateway reaches profile through one name, [`PROFILE_NAME`], that resolves to every
    /// live profile replica ([`Mesh::profile_dns_remove`] / [`Mesh::profile_dns_add`] play the
    /// part of the endpoints controller), re-resolved every 100 ms. The resolver is injected:
    /// this machine's /etc/hosts maps `localhost` to 127.0.0.1 only, so no real name resolves
    /// to two local replicas.
    pub profile_by_name: bool,
    /// Whether a sign-up must be confirmed with the mailed code (off: the flows sign up and go;
    /// the JSON/HTTP, Connect and browser journeys turn it on and read the code from the sink).
    pub signup_confirmation: bool,
    /// Browser origins the gateway answers CORS for (pages served from another origin).
    pub cors_origins: stride_gateway::CorsOrigins,
    /// An OpenAI-compatible endpoint for the coach (stride-testkit's stand-in); none: the
    /// coach answers on its rules path, as on a fresh machine.
    pub llm_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            profile_replicas: 1,
            replicas: 1,
            profile_by_name: false,
            signup_confirmation: false,
            cors_origins: stride_gateway::CorsOrigins::none(),
            llm_url: None,
        }
    }
}

/// The name the gateway reaches profile by when [`Options::profile_by_name`] is set.
pub const PROFILE_NAME: &str = "profile.mesh.test";

/// What starting one more profile replica takes.
#[derive(Clone)]
struct ProfileStart {
    db: String,
    amqp: String,
    auth_url: String,
    clock: SharedClock,
    /// Every replica exports into the same directory, from the same upstreams.
    export: stride_profile::ExportSettings,
}

impl ProfileStart {
    async fn start(&self, grpc_addr: SocketAddr) -> anyhow::Result<Running> {
        let mut common = common("profile", &self.db, &self.amqp, &self.auth_url);
        common.grpc_addr = grpc_addr;
        // Replicas share their avatar files as they share their database.
        let db_name = self.db.rsplit('/').next().unwrap_or("profile");
        let avatars = std::env::temp_dir().join(format!("stride-e2e-avatars-{db_name}"));
        let r = stride_profile::start(
            stride_profile::Config {
                export: self.export.clone(),
                ..stride_profile::Config::new(common, avatars)
            },
            Verifier::from_auth_url(&self.auth_url)?,
            self.clock.clone(),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while !r.health.is_ready() {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "profile did not become ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(r)
    }
}

fn common(
    service: &'static str,
    database_url: &str,
    amqp_url: &str,
    auth_url: &str,
) -> CommonConfig {
    CommonConfig {
        auth_url: auth_url.to_owned(),
        db_max_connections: 10,
        ..CommonConfig::for_test(service, database_url, amqp_url)
    }
}

async fn create_db(admin: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await?;
    let db = format!("{name}_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    Ok(format!("{base}/{db}"))
}

impl Mesh {
    /// Starts auth, then the other five services, then the gateway; returns once all are ready.
    pub async fn start(stores: &Stores) -> anyhow::Result<Mesh> {
        Self::start_with(stores, Options::default()).await
    }

    /// [`Mesh::start`] with [`Options`].
    pub async fn start_with(stores: &Stores, options: Options) -> anyhow::Result<Mesh> {
        stride_kit::install_crypto_provider();
        // A fixed mid-week morning: the flows add hours of sessions, and starting from the wall
        // clock would let them cross midnight or a week boundary depending on when tests run.
        let clock = ManualClock::new(time::macros::datetime!(2026-11-18 08:00 UTC));
        let shared: SharedClock = Arc::new(clock.clone());
        let a = &stores.pg_admin_url;
        let dbs = Databases {
            auth: create_db(a, "auth").await?,
            profile: create_db(a, "profile").await?,
            activity_session: create_db(a, "activity").await?,
            challenge: create_db(a, "challenge").await?,
            analytics: create_db(a, "analytics").await?,
            ai_coach: create_db(a, "coach").await?,
        };
        let amqp = &stores.amqp_url;
        let mut running = Vec::new();

        // Auth signs with real time: token expiry is checked against the wall clock.
        let auth_pool = sqlx::PgPool::connect(&dbs.auth).await?;
        let auth_verifier = Verifier::new(Arc::new(stride_auth::keys::DbJwks {
            pool: auth_pool,
            clock: Arc::new(SystemClock),
        }));
        let sink = Arc::new(
            stride_notify::DevSink::start(
                "127.0.0.1:0".parse().expect("addr"),
                "127.0.0.1:0".parse().expect("addr"),
            )
            .await?,
        );
        let auth_config = || stride_auth::Config {
            common: common("auth", &dbs.auth, amqp, ""),
            settings: stride_auth::settings::Settings {
                mail_url: sink.smtp_url().into(),
                sms_url: sink.sms_url().into(),
                signup_confirmation: options.signup_confirmation,
                ..Default::default()
            },
        };
        let auth =
            stride_auth::start(auth_config(), auth_verifier.clone(), Arc::new(SystemClock)).await?;
        let replicas = options.replicas.max(1);
        let mut extra = Vec::new();
        let mut extra_urls: Vec<(&'static str, String)> = Vec::new();
        for _ in 1..replicas {
            let r = stride_auth::start(auth_config(), auth_verifier.clone(), Arc::new(SystemClock))
                .await?;
            extra_urls.push(("auth", format!("http://{}", r.grpc_addr)));
            extra.push(r);
        }
        let auth_url = format!("http://{}", auth.grpc_addr);
        let verifier = || Verifier::from_auth_url(&auth_url);
        let mut direct = vec![("auth", auth.grpc_addr)];
        running.push(auth);

        let activity_config = stride_activity_session::Config {
            common: common("activity-session", &dbs.activity_session, amqp, &auth_url),
        };
        let activity =
            stride_activity_session::start(activity_config.clone(), verifier()?, shared.clone())
                .await?;
        let challenge_config = stride_challenge::Config {
            common: common("challenge", &dbs.challenge, amqp, &auth_url),
        };
        let challenge =
            stride_challenge::start(challenge_config.clone(), verifier()?, shared.clone()).await?;
        for _ in 1..replicas {
            let r = stride_activity_session::start(
                activity_config.clone(),
                verifier()?,
                shared.clone(),
            )
            .await?;
            extra_urls.push(("activity-session", format!("http://{}", r.grpc_addr)));
            extra.push(r);
            let r = stride_challenge::start(challenge_config.clone(), verifier()?, shared.clone())
                .await?;
            extra_urls.push(("challenge", format!("http://{}", r.grpc_addr)));
            extra.push(r);
        }
        // analytics' dashboard asks ai-coach and ai-coach asks analytics: ai-coach's address is
        // chosen before either starts.
        let coach_addr = unclaimed_addr()?;
        // Profile starts last but the coach asks it (lazily): its first replica's port is chosen now.
        let profile_addr = unclaimed_addr()?;
        let analytics_config = stride_analytics::Config::with_peers(
            common("analytics", &dbs.analytics, amqp, &auth_url),
            &format!("http://{coach_addr}"),
            &format!("http://{}", challenge.grpc_addr),
        );
        let analytics =
            stride_analytics::start(analytics_config.clone(), verifier()?, shared.clone()).await?;
        let coach_config = stride_ai_coach::Config {
            common: CommonConfig {
                grpc_addr: coach_addr,
                ..common("ai-coach", &dbs.ai_coach, amqp, &auth_url)
            },
            analytics_url: format!("http://{}", analytics.grpc_addr),
            activity_session_url: format!("http://{}", activity.grpc_addr),
            profile_url: format!("http://{profile_addr}"),
            challenge_url: format!("http://{}", challenge.grpc_addr),
            daily_quota: stride_ai_coach::DEFAULT_DAILY_QUOTA,
            chat: Default::default(),
            llm: options
                .llm_url
                .as_ref()
                .map(|url| stride_ai_coach::LlmConfig::new(url.clone(), "stand-in")),
        };
        let coach =
            stride_ai_coach::start(coach_config.clone(), verifier()?, shared.clone()).await?;
        for _ in 1..replicas {
            let r = stride_analytics::start(analytics_config.clone(), verifier()?, shared.clone())
                .await?;
            extra_urls.push(("analytics", format!("http://{}", r.grpc_addr)));
            extra.push(r);
            let r = stride_ai_coach::start(
                stride_ai_coach::Config {
                    common: CommonConfig {
                        grpc_addr: "127.0.0.1:0".parse()?,
                        ..coach_config.common.clone()
                    },
                    ..coach_config.clone()
                },
                verifier()?,
                shared.clone(),
            )
            .await?;
            extra_urls.push(("ai-coach", format!("http://{}", r.grpc_addr)));
            extra.push(r);
        }
        // Profile starts last: its data export asks every other service.
        let mut export = stride_profile::ExportSettings::local();
        export.sweep_every = std::time::Duration::from_millis(200);
        let export_dir = export.dir.clone();
        export.upstreams = vec![
            ("auth", auth_url.clone()),
            ("activity-session", format!("http://{}", activity.grpc_addr)),
            ("challenge", format!("http://{}", challenge.grpc_addr)),
            ("analytics", format!("http://{}", analytics.grpc_addr)),
            ("ai-coach", format!("http://{}", coach.grpc_addr)),
        ];
        let profile_start = ProfileStart {
            db: dbs.profile.clone(),
            amqp: amqp.clone(),
            auth_url: auth_url.clone(),
            clock: shared.clone(),
            export,
        };
        let mut profiles = Vec::new();
        for i in 0..options.profile_replicas.max(replicas) {
            let addr = if i == 0 {
                profile_addr
            } else {
                "127.0.0.1:0".parse()?
            };
            profiles.push(profile_start.start(addr).await?);
        }
        direct.push(("profile", profiles[0].grpc_addr));
        for (name, r) in [
            ("activity-session", activity),
            ("challenge", challenge),
            ("analytics", analytics),
            ("ai-coach", coach),
        ] {
            direct.push((name, r.grpc_addr));
            running.push(r);
        }

        // Every replica of a service, comma-separated (the gateway goes round them).
        let url = |name: &str| {
            std::iter::once(format!(
                "http://{}",
                direct.iter().find(|(n, _)| *n == name).expect("service").1
            ))
            .chain(
                extra_urls
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, u)| u.clone()),
            )
            .collect::<Vec<_>>()
            .join(",")
        };
        // Keyed by proto package, as `stride_gateway::UPSTREAMS`.
        let upstreams = [
            ("stride.auth.v1", "auth"),
            ("stride.profile.v1", "profile"),
            ("stride.activity_session.v1", "activity-session"),
            ("stride.challenge.v1", "challenge"),
            ("stride.analytics.v1", "analytics"),
            ("stride.ai_coach.v1", "ai-coach"),
        ]
        .into_iter()
        .map(|(package, name)| (package.to_owned(), url(name)))
        .collect::<std::collections::HashMap<_, _>>();
        let mut upstreams = upstreams;
        let profile_dns = Arc::new(std::sync::Mutex::new(
            profiles.iter().map(|p| p.grpc_addr).collect::<Vec<_>>(),
        ));
        let mut discovery = stride_kit::discovery::Discovery::default();
        if options.profile_by_name {
            // One name for every replica (the port is the resolver's to give, as with SRV-less
            // headless Services every pod listens on the same one).
            upstreams.insert(
                "stride.profile.v1".into(),
                format!("http://{PROFILE_NAME}:50052"),
            );
            let dns = profile_dns.clone();
            discovery = stride_kit::discovery::Discovery {
                resolver: stride_kit::discovery::Resolver::from_fn(move |host, _port| {
                    let addrs = if host == PROFILE_NAME {
                        dns.lock().map(|d| d.clone()).unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    Box::pin(async move { addrs })
                }),
                refresh: Some(std::time::Duration::from_millis(100)),
            };
        } else {
            upstreams.insert(
                "stride.profile.v1".into(),
                profiles
                    .iter()
                    .map(|p| format!("http://{}", p.grpc_addr))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        let gateway = stride_gateway::start(
            stride_gateway::Config {
                addr: "127.0.0.1:0".parse()?,
                http_addr: "127.0.0.1:0".parse()?,
                upstreams,
                // The production message limit (4 MiB): profile's avatar uploads (up to 2 MiB)
                // must pass it.
                limits: stride_gateway::Limits {
                    max_timeout: std::time::Duration::from_secs(30),
                    ..stride_gateway::Limits::default()
                },
                upstream_connections: 2,
                cors_origins: options.cors_origins.clone(),
                rate_limits: stride_gateway::RateLimits::parse(stride_gateway::DEFAULT_RATE_LIMITS)
                    .expect("default limits"),
                trusted_proxies: stride_gateway::TrustedProxies::none(),
                connections: stride_gateway::ConnLimits::default(),
                discovery,
            },
            verifier()?,
        )
        .await?;
        let (gateway_addr, gateway_http) = (gateway.grpc_addr, gateway.http_addr);
        running.push(gateway);

        // Ready = every service reports SERVING (database and broker links up).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        for r in running.iter().chain(&extra) {
            while !r.health.is_ready() {
                anyhow::ensure!(
                    tokio::time::Instant::now() < deadline,
                    "a service did not become ready"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        Ok(Mesh {
            gateway: gateway_addr,
            direct,
            databases: dbs,
            clock,
            sink,
            export_dir,
            running,
            extra,
            gateway_http,
            profile_dns,
            profiles,
            profile_start,
            _vhost: stores.vhost.clone(),
        })
    }

    /// Stops profile replica `i` gracefully (in-flight calls finish, its current event
    /// commits), then starts it again on the same port and waits until it is ready: one step
    /// of a rolling restart.
    pub async fn restart_profile_replica(&mut self, i: usize) -> anyhow::Result<()> {
        anyhow::ensure!(i < self.profiles.len(), "no profile replica {i}");
        let old = self.profiles.remove(i);
        let addr = old.grpc_addr;
        old.stop().await?;
        let new = self.profile_start.start(addr).await?;
        self.profiles.insert(i, new);
        Ok(())
    }

    /// Stops profile replica `i` gracefully (in-flight calls finish, new ones are refused with
    /// GOAWAY) and leaves it stopped; returns its gRPC address.
    pub async fn stop_profile_replica(&mut self, i: usize) -> anyhow::Result<SocketAddr> {
        anyhow::ensure!(i < self.profiles.len(), "no profile replica {i}");
        let old = self.profiles.remove(i);
        let addr = old.grpc_addr;
        old.stop().await?;
        Ok(addr)
    }

    /// Starts a profile replica on `addr` (one stopped before) and waits until it is ready.
    pub async fn start_profile_replica(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let new = self.profile_start.start(addr).await?;
        self.profiles.push(new);
        Ok(())
    }

    /// The profile replicas' gRPC addresses.
    pub fn profile_addrs(&self) -> Vec<SocketAddr> {
        self.profiles.iter().map(|p| p.grpc_addr).collect()
    }

    /// Takes `addr` out of what [`PROFILE_NAME`] resolves to (a pod no longer ready).
    pub fn profile_dns_remove(&self, addr: SocketAddr) {
        if let Ok(mut dns) = self.profile_dns.lock() {
            dns.retain(|a| *a != addr);
        }
    }

    /// Puts `addr` back into what [`PROFILE_NAME`] resolves to (a pod ready again).
    pub fn profile_dns_add(&self, addr: SocketAddr) {
        if let Ok(mut dns) = self.profile_dns.lock()
            && !dns.contains(&addr)
        {
            dns.push(addr);
        }
    }

    /// The HTTP port (downloads, probes) of profile replica `i`.
    pub fn profile_http(&self, i: usize) -> Option<SocketAddr> {
        self.profiles.get(i).map(|p| p.http_addr)
    }

    /// Graceful stop of every process-equivalent, gateway first.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // The gateway (last started) first, then the services.
        if let Some(gateway) = self.running.pop() {
            gateway.stop().await?;
        }
        while let Some(r) = self.profiles.pop() {
            r.stop().await?;
        }
        while let Some(r) = self.extra.pop() {
            r.stop().await?;
        }
        while let Some(r) = self.running.pop() {
            r.stop().await?;
        }
        Ok(())
    }
}

/// Clients of every service, over one transport.
#[derive(Clone)]
pub struct Clients<T> {
    pub auth: AuthServiceClient<T>,
    pub profile: ProfileServiceClient<T>,
    pub catalog: CatalogServiceClient<T>,
    pub sessions: SessionServiceClient<T>,
    pub routines: RoutineServiceClient<T>,
    pub challenge: ChallengeServiceClient<T>,
    pub leaderboards:
        stride_proto::challenge::leaderboard_service_client::LeaderboardServiceClient<T>,
    pub rewards: stride_proto::challenge::reward_service_client::RewardServiceClient<T>,
    pub analytics: AnalyticsServiceClient<T>,
    pub coach: AiCoachServiceClient<T>,
}

type StdError = Box<dyn std::error::Error + Send + Sync>;

impl<T> Clients<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone,
    T::Error: Into<StdError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<StdError> + Send,
{
    /// Every client over one transport.
    pub fn over(t: T) -> Self {
        Self {
            auth: AuthServiceClient::new(t.clone()),
            profile: ProfileServiceClient::new(t.clone()),
            catalog: CatalogServiceClient::new(t.clone()),
            sessions: SessionServiceClient::new(t.clone()),
            routines: RoutineServiceClient::new(t.clone()),
            challenge: ChallengeServiceClient::new(t.clone()),
            leaderboards:
                stride_proto::challenge::leaderboard_service_client::LeaderboardServiceClient::new(
                    t.clone(),
                ),
            rewards: stride_proto::challenge::reward_service_client::RewardServiceClient::new(
                t.clone(),
            ),
            analytics: AnalyticsServiceClient::new(t.clone()),
            coach: AiCoachServiceClient::new(t),
        }
    }
}

/// Native gRPC over HTTP/2, as mobile apps call.
pub async fn grpc_clients(addr: SocketAddr) -> anyhow::Result<Clients<tonic::transport::Channel>> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(Clients::over(ch))
}

pub use stride_testkit::grpc_web::{WebTransport, WithOrigin};

/// grpc-web clients over HTTP/1.1, as browsers call.
pub fn grpc_web_clients(addr: SocketAddr) -> anyhow::Result<Clients<WithOrigin>> {
    Ok(Clients::over(stride_testkit::grpc_web::transport(addr)))
}

/// A local address free now, for a server that must be named before it starts (two services
/// that call each other). Chosen below the kernel's ephemeral range (32768–60999 by default):
/// a port from `bind(:0)`, released and bound again later, was sometimes taken in between by
/// another test's outgoing connection ("Address already in use"); ports below the range are
/// only ever taken by an explicit bind, such as another test's pick here, which the random
/// start makes unlikely and the bind test excludes.
fn unclaimed_addr() -> anyhow::Result<std::net::SocketAddr> {
    use std::hash::{BuildHasher as _, RandomState};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    let start = (RandomState::new().hash_one(std::process::id()) % u64::from(SPAN)) as u16;
    for k in 0..SPAN {
        let port = FIRST + (start + k) % SPAN;
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return Ok(l.local_addr()?);
        }
    }
    anyhow::bail!("no free port in {FIRST}..{}", FIRST + SPAN)
}
