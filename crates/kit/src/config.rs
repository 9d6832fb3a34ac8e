//! Configuration from environment variables, validated at start.
//!
//! Every problem is collected and reported together, one line per variable, so an operator fixes
//! a deployment in one pass. Secret values are never echoed.
//!
//! Every variable `NAME` may instead be given as `NAME_FILE`: the path of a file holding the
//! value (one trailing newline dropped), as Kubernetes and Docker mount secrets. Setting both is
//! an error, so a stale value cannot silently win. And when neither is set and
//! `STRIDE_SECRETS_DIR` names a directory, the file `<dir>/NAME` gives the value if it exists:
//! one Secret mounted as a volume supplies every key it holds, optional ones included.

use std::{fmt, net::SocketAddr, str::FromStr};

/// `NAME_FILE` gives `NAME` from a file (mounted secrets).
pub const FILE_SUFFIX: &str = "_FILE";
/// A directory of files named after variables (a mounted Secret), read for unset variables.
pub const SECRETS_DIR: &str = "STRIDE_SECRETS_DIR";

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Reads variables and remembers every problem.
#[derive(Default)]
pub struct Env {
    errors: Vec<String>,
    lookup: Option<Lookup>,
}

/// All configuration problems found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl Env {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads from a map instead of the process environment (tests).
    pub fn from_fn(f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            errors: Vec::new(),
            lookup: Some(Box::new(f)),
        }
    }

    fn raw(&self, name: &str) -> Option<String> {
        let v = match &self.lookup {
            Some(f) => f(name),
            None => std::env::var(name).ok(),
        };
        v.filter(|s| !s.trim().is_empty())
    }

    /// `name`, or the contents of the file `name_FILE` names.
    fn get(&mut self, name: &str) -> Option<String> {
        let file_var = format!("{name}{FILE_SUFFIX}");
        let direct = self.raw(name);
        let path = match self.raw(&file_var) {
            Some(path) => path,
            None if direct.is_some() => return direct,
            None => {
                // Only names that can be file names; a missing file is an unset variable.
                let dir = self.raw(SECRETS_DIR)?;
                let candidate = std::path::Path::new(dir.trim()).join(name);
                if name.contains(['/', '.']) || !candidate.is_file() {
                    return None;
                }
                candidate.display().to_string()
            }
        };
        if direct.is_some() {
            self.errors
                .push(format!("{name} and {file_var} are both set: keep one"));
            return direct;
        }
        match std::fs::read_to_string(path.trim()) {
            Ok(text) => {
                let text = text.strip_suffix('\n').unwrap_or(&text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                Some(text.to_owned()).filter(|s| !s.trim().is_empty())
            }
            Err(e) => {
                self.errors
                    .push(format!("{file_var}={path:?} cannot be read: {e}"));
                None
            }
        }
    }

    /// A required string.
    pub fn required(&mut self, name: &str, what: &str) -> String {
        match self.get(name) {
            Some(v) => v,
            None => {
                self.errors.push(format!("{name} is not set: {what}"));
                String::new()
            }
        }
    }

    /// An optional string.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.get(name)
    }

    /// A value parsed with `FromStr`, or `default` when unset. Secrets must not use this with
    /// a type whose parse error echoes the input.
    pub fn parse_or<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => default,
            Some(raw) => match raw.trim().parse() {
                Ok(v) => v,
                Err(e) => {
                    self.errors.push(format!("{name}={raw:?} is invalid: {e}"));
                    default
                }
            },
        }
    }

    /// A socket address, or `default` when unset.
    pub fn addr(&mut self, name: &str, default: &str) -> SocketAddr {
        let fallback: SocketAddr = default.parse().expect("default address is valid");
        self.parse_or(name, fallback)
    }

    /// A URL that must start with one of `schemes` (checked loosely: scheme and a host part).
    pub fn url(&mut self, name: &str, schemes: &[&str], what: &str) -> String {
        let v = self.required(name, what);
        if !v.is_empty() && !schemes.iter().any(|s| v.starts_with(&format!("{s}://"))) {
            self.errors.push(format!(
                "{name} must be a {} URL ({what})",
                schemes.join("/")
            ));
        }
        v
    }

    /// The URL `url_name` (required), with its password taken from `password_name` when that
    /// is set: operators keep passwords in their own Secrets, apart from URLs that hold none
    /// (ADR 0031). A URL that already has a password, or names no user, is an error then.
    pub fn url_with_password(
        &mut self,
        url_name: &str,
        password_name: &str,
        schemes: &[&str],
        what: &str,
    ) -> String {
        let url = self.url(url_name, schemes, what);
        let Some(password) = self.optional(password_name) else {
            return url;
        };
        if url.is_empty() {
            return url;
        }
        match url::Url::parse(&url) {
            Ok(parsed) if parsed.password().is_some() => {
                self.errors.push(format!(
                    "{url_name} holds a password and {password_name} is set: keep one"
                ));
                url
            }
            Ok(parsed) if parsed.username().is_empty() => {
                self.errors.push(format!(
                    "{password_name} is set but {url_name} names no user to use it with"
                ));
                url
            }
            Ok(mut parsed) => {
                // `set_password` percent-encodes; it fails only for URLs without a host.
                if parsed.set_password(Some(&password)).is_err() {
                    self.errors
                        .push(format!("{url_name} has no host for {password_name}"));
                    return url;
                }
                parsed.to_string()
            }
            Err(e) => {
                // Never echo the value: it may hold credentials.
                self.errors
                    .push(format!("{url_name} is not a valid URL: {e}"));
                url
            }
        }
    }

    /// Records a custom problem.
    pub fn error(&mut self, msg: impl Into<String>) {
        self.errors.push(msg.into());
    }

    /// Ok when no problem was found.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.errors))
        }
    }
}

/// A credential-bearing setting (a URL with a password, an API key, a bot token): its `Debug` and
/// `Display` print `***`, so it cannot reach a log by accident; [`Secret::expose`] is the one
/// way to the value, at the place that uses it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// What every service process needs.
#[derive(Clone, Debug)]
pub struct CommonConfig {
    /// Short service name, e.g. `activity-session`: used for queues, metrics and traces.
    pub service: &'static str,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// Carries the database password.
    pub database_url: Secret,
    /// Carries the broker password.
    pub amqp_url: Secret,
    /// Base URL of the auth service (JWKS). The auth service itself leaves it empty.
    pub auth_url: String,
    pub db_max_connections: u32,
    /// How many calls are worked on at once, and who waits or is refused ([`crate::shed`]).
    pub admission: crate::shed::Config,
    /// The service's statements run on generic plans (`plan_cache_mode = force_generic_plan`):
    /// set in code by a service whose statements are planned at a cost above their execution
    /// ([`crate::db::connect_with`]).
    pub db_generic_plans: bool,
    /// Time between two DNS resolutions of an upstream's name (`STRIDE_DNS_REFRESH_SECS`,
    /// default 5; [`crate::discovery`]).
    pub dns_refresh: std::time::Duration,
}

impl CommonConfig {
    /// Reads the shared variables; `needs_auth_url` is false only for the auth service.
    pub fn read(env: &mut Env, service: &'static str, needs_auth_url: bool) -> Self {
        Self::read_with(env, service, needs_auth_url, crate::shed::Config::default())
    }

    /// As [`Self::read`], with the service's own admission defaults (ai-coach waits on a
    /// model and auth on its hashing line, not on CPU: both keep more calls in flight).
    pub fn read_with(
        env: &mut Env,
        service: &'static str,
        needs_auth_url: bool,
        admission: crate::shed::Config,
    ) -> Self {
        let grpc_addr = env.addr("STRIDE_GRPC_ADDR", "127.0.0.1:0");
        let http_addr = env.addr("STRIDE_HTTP_ADDR", "127.0.0.1:0");
        let database_url = database_url(env);
        let amqp_url = env.url_with_password(
            "AMQP_URL",
            "AMQP_PASSWORD",
            &["amqp", "amqps"],
            "the RabbitMQ broker, including the vhost",
        );
        let auth_url = if needs_auth_url {
            env.url(
                "STRIDE_AUTH_URL",
                &["http", "https"],
                "the auth service, for its JWKS",
            )
        } else {
            String::new()
        };
        let db_max_connections = env.parse_or("STRIDE_DB_MAX_CONNECTIONS", 10u32);
        let admission = crate::shed::Config::read(env, admission);
        let dns_refresh = dns_refresh(env);
        Self {
            service,
            grpc_addr,
            http_addr,
            database_url: database_url.into(),
            amqp_url: amqp_url.into(),
            auth_url,
            db_max_connections,
            admission,
            db_generic_plans: false,
            dns_refresh,
        }
    }
}

/// `STRIDE_DNS_REFRESH_SECS`: seconds between two resolutions of an upstream's DNS name (at
/// least 1; default 5).
pub fn dns_refresh(env: &mut Env) -> std::time::Duration {
    let secs = env.parse_or(
        "STRIDE_DNS_REFRESH_SECS",
        crate::discovery::DEFAULT_REFRESH.as_secs(),
    );
    if secs == 0 {
        env.error("STRIDE_DNS_REFRESH_SECS must be at least 1");
    }
    std::time::Duration::from_secs(secs.max(1))
}

/// What `stride-<service> migrate` needs: the database and nothing else, so a migration job
/// runs before (and without) the broker, auth or any upstream the service calls.
pub fn migrate_database_url(env: &mut Env) -> Secret {
    database_url(env).into()
}

/// `DATABASE_URL`, with `DATABASE_PASSWORD` as its password when set.
fn database_url(env: &mut Env) -> String {
    env.url_with_password(
        "DATABASE_URL",
        "DATABASE_PASSWORD",
        &["postgres", "postgresql"],
        "the service's own PostgreSQL database",
    )
}

impl CommonConfig {
    /// A config for tests: both ports on 127.0.0.1:0, the given database and broker, and an auth
    /// URL nobody listens on (tests verify tokens with their own issuer).
    pub fn for_test(service: &'static str, database_url: &str, amqp_url: &str) -> Self {
        Self {
            service,
            grpc_addr: ([127, 0, 0, 1], 0).into(),
            http_addr: ([127, 0, 0, 1], 0).into(),
            database_url: database_url.into(),
            amqp_url: amqp_url.into(),
            auth_url: "http://127.0.0.1:1".into(),
            db_max_connections: 5,
            admission: crate::shed::Config::default(),
            db_generic_plans: false,
            dns_refresh: crate::discovery::DEFAULT_REFRESH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> Env {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |k| vars.get(k).cloned())
    }

    #[test]
    fn a_separate_password_completes_the_url() {
        let mut env = env_of(&[
            (
                "DATABASE_URL",
                "postgres://stride_auth@pg-rw:5432/stride_auth?sslmode=require",
            ),
            ("DATABASE_PASSWORD", "p@ss/w:rd"),
        ]);
        let url = database_url(&mut env);
        assert!(env.finish().is_ok());
        assert_eq!(
            url,
            "postgres://stride_auth:p%40ss%2Fw%3Ard@pg-rw:5432/stride_auth?sslmode=require"
        );
        let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        assert_eq!(opts.get_username(), "stride_auth");
        assert_eq!(opts.get_database(), Some("stride_auth"));
    }

    #[test]
    fn a_password_set_twice_or_without_a_user_is_refused() {
        let mut env = env_of(&[
            ("AMQP_URL", "amqp://u:Xy7-first@mq:5672/%2f"),
            ("AMQP_PASSWORD", "Zq9-second"),
        ]);
        env.url_with_password("AMQP_URL", "AMQP_PASSWORD", &["amqp"], "broker");
        let errors = env.finish().unwrap_err().0;
        assert!(errors[0].contains("keep one"), "{errors:?}");
        assert!(!errors[0].contains("Xy7") && !errors[0].contains("Zq9"));

        let mut env = env_of(&[("AMQP_URL", "amqp://mq:5672/%2f"), ("AMQP_PASSWORD", "x")]);
        env.url_with_password("AMQP_URL", "AMQP_PASSWORD", &["amqp"], "broker");
        assert!(env.finish().unwrap_err().0[0].contains("names no user"));
    }

    #[test]
    fn without_a_separate_password_the_url_is_unchanged() {
        let mut env = env_of(&[("DATABASE_URL", "postgres://u:pw@h/db")]);
        assert_eq!(database_url(&mut env), "postgres://u:pw@h/db");
        assert!(env.finish().is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let c = CommonConfig::for_test("t", "postgres://u:hunter2@h/db", "amqp://u:hunter2@h/%2F");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.database_url.to_string(), "***");
        assert_eq!(c.amqp_url.expose(), "amqp://u:hunter2@h/%2F");
    }

    #[test]
    fn a_variable_may_come_from_a_file() {
        let dir = std::env::temp_dir().join(format!("stride-kit-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("DATABASE_URL");
        std::fs::write(&secret, "postgres://u:hunter2@h/db\n").unwrap();
        let path = secret.display().to_string();
        let vars: HashMap<String, String> = [("DATABASE_URL_FILE".to_owned(), path.clone())].into();
        let mut env = Env::from_fn(move |k| vars.get(k).cloned());
        let url = migrate_database_url(&mut env);
        env.finish().expect("read from the file");
        assert_eq!(
            url.expose(),
            "postgres://u:hunter2@h/db",
            "trailing newline dropped"
        );

        // Both set: an error naming both, never the value.
        let vars: HashMap<String, String> = [
            ("DATABASE_URL_FILE".to_owned(), path),
            (
                "DATABASE_URL".to_owned(),
                "postgres://u:other@h/db".to_owned(),
            ),
        ]
        .into();
        let mut env = Env::from_fn(move |k| vars.get(k).cloned());
        let _ = migrate_database_url(&mut env);
        let text = env.finish().unwrap_err().to_string();
        assert!(
            text.contains("DATABASE_URL and DATABASE_URL_FILE are both set"),
            "{text}"
        );
        assert!(!text.contains("other"), "{text}");

        // A missing file: named, with the reason.
        let mut env = Env::from_fn(|k| (k == "AMQP_URL_FILE").then(|| "/nonexistent/x".into()));
        let _ = env.optional("AMQP_URL");
        let text = env.finish().unwrap_err().to_string();
        assert!(
            text.contains("AMQP_URL_FILE=\"/nonexistent/x\" cannot be read"),
            "{text}"
        );
        // A secrets directory: present files give values, absent ones leave variables unset.
        let dir_path = dir.display().to_string();
        let mut env = Env::from_fn(move |k| (k == SECRETS_DIR).then(|| dir_path.clone()));
        assert_eq!(
            env.optional("DATABASE_URL").as_deref(),
            Some("postgres://u:hunter2@h/db")
        );
        assert_eq!(env.optional("AUTH_SMTP_URL"), None);
        env.finish().expect("an absent optional file is no error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn migrate_needs_only_the_database() {
        let mut env = Env::from_fn(|k| (k == "DATABASE_URL").then(|| "postgres://h/db".into()));
        let url = migrate_database_url(&mut env);
        env.finish().expect("nothing else is required");
        assert_eq!(url.expose(), "postgres://h/db");
        let mut env = Env::from_fn(|_| None);
        let _ = migrate_database_url(&mut env);
        assert!(
            env.finish()
                .unwrap_err()
                .to_string()
                .contains("DATABASE_URL is not set")
        );
    }

    #[test]
    fn reports_every_problem_at_once_without_echoing_secrets() {
        let vars: HashMap<&str, &str> =
            [("STRIDE_GRPC_ADDR", "nope"), ("AMQP_URL", "http://x")].into();
        let mut env = Env::from_fn(move |k| vars.get(k).map(|s| s.to_string()));
        let _ = CommonConfig::read(&mut env, "t", true);
        let err = env.finish().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("STRIDE_GRPC_ADDR=\"nope\" is invalid"),
            "{text}"
        );
        assert!(text.contains("DATABASE_URL is not set"), "{text}");
        assert!(text.contains("AMQP_URL must be a amqp/amqps URL"), "{text}");
        assert!(text.contains("STRIDE_AUTH_URL is not set"), "{text}");
        assert_eq!(err.0.len(), 4);
    }

    #[test]
    fn the_dns_refresh_is_whole_seconds_and_never_zero() {
        let mut env = Env::from_fn(|_| None);
        assert_eq!(dns_refresh(&mut env), crate::discovery::DEFAULT_REFRESH);
        env.finish().expect("the default");
        let mut env = Env::from_fn(|k| (k == "STRIDE_DNS_REFRESH_SECS").then(|| "30".into()));
        assert_eq!(dns_refresh(&mut env), std::time::Duration::from_secs(30));
        let mut env = Env::from_fn(|k| (k == "STRIDE_DNS_REFRESH_SECS").then(|| "0".into()));
        let _ = dns_refresh(&mut env);
        let text = env.finish().unwrap_err().to_string();
        assert!(
            text.contains("STRIDE_DNS_REFRESH_SECS must be at least 1"),
            "{text}"
        );
        let mut env = Env::from_fn(|k| (k == "STRIDE_DNS_REFRESH_SECS").then(|| "soon".into()));
        let _ = dns_refresh(&mut env);
        assert!(
            env.finish()
                .unwrap_err()
                .to_string()
                .contains("STRIDE_DNS_REFRESH_SECS")
        );
    }
}
