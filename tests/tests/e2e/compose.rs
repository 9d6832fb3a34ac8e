//! `docker compose up` starts: no Docker engine runs here, so this test reads docker-compose.yml
//! as Compose would (merge keys, `${VAR:-default}` interpolation with an empty shell, `$$`
//! escapes, `depends_on` conditions) and runs every service's own command with exactly the
//! environment the file gives it. Only addresses are mapped to this machine:
//!
//! - `0.0.0.0:N` in a service's own settings and `http://<service>:N` naming another service
//!   become `127.0.0.1:<a free port>` (one per service and port);
//! - `postgres` is a private PostgreSQL cluster initialised by the file's own init script
//!   (deploy/postgres/init, as the image's entrypoint runs it), so the six roles and databases
//!   and the `migrate` job's URLs are the compose ones;
//! - `rabbitmq` is a fresh vhost on the test broker (the AMQP URL's credentials and vhost are
//!   the test broker's);
//! - `devsink` (Mailpit in the file) is `stride-devsink`, which speaks the same SMTP.
//!
//! The binaries are the workspace's own (`target/<profile>/stride-*`, built by `cargo xtask
//! test`'s `nextest run --workspace`). Every compose service must become ready (`/readyz`) in
//! the order `depends_on` gives, and the gateway must answer calls that cross the mesh.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_norway::Value;
use stride_proto::{
    auth::{ConfirmSignupRequest, SignupRequest},
    profile::GetMyProfileRequest,
};
use stride_testkit::authed;

const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Compose interpolation against `shell` (empty here: an operator with no `.env`).
fn interpolate(s: &str, shell: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {s:?}"));
            let expr = &r[..end];
            let value = if let Some((name, default)) = expr.split_once(":-") {
                shell
                    .get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else if let Some((name, default)) = expr.split_once('-') {
                shell
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else {
                shell.get(expr).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            rest = &r[end + 1..];
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(shell.get(&after[..n]).map(String::as_str).unwrap_or(""));
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => panic!("unexpected value {other:?}"),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => panic!("unexpected command {other:?}"),
    }
}

#[derive(Debug)]
struct Service {
    name: String,
    env: BTreeMap<String, String>,
    argv: Vec<String>,
    /// (dependency, condition)
    depends_on: Vec<(String, String)>,
    ours: bool,
}

fn load(root: &Path) -> Vec<Service> {
    let text = std::fs::read_to_string(root.join("docker-compose.yml")).expect("read compose");
    let mut doc: Value = serde_norway::from_str(&text).expect("parse docker-compose.yml");
    doc.apply_merge().expect("merge keys");
    let shell = HashMap::new();
    let services = doc
        .get("services")
        .and_then(Value::as_mapping)
        .expect("services");
    let mut out = Vec::new();
    for (name, svc) in services {
        let name = name.as_str().expect("service name").to_owned();
        if svc.get("profiles").is_some() {
            continue; // not started by a plain `docker compose up`
        }
        let mut env = BTreeMap::new();
        match svc.get("environment") {
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let k = k.as_str().expect("variable name").to_owned();
                    // `NAME:` with no value: passed from the shell when set there (it is not).
                    if let Some(v) = scalar(v) {
                        env.insert(k, interpolate(&v, &shell));
                    }
                }
            }
            None => {}
            Some(other) => panic!("{name}: environment as a list is not used here: {other:?}"),
        }
        let mut argv = strings(svc.get("entrypoint"));
        argv.extend(strings(svc.get("command")));
        let argv = argv.iter().map(|a| interpolate(a, &shell)).collect();
        let depends_on = match svc.get("depends_on") {
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    let cond = v
                        .get("condition")
                        .and_then(Value::as_str)
                        .unwrap_or("service_started");
                    (k.as_str().expect("name").to_owned(), cond.to_owned())
                })
                .collect(),
            Some(Value::Sequence(s)) => s
                .iter()
                .map(|k| {
                    (
                        k.as_str().expect("name").to_owned(),
                        "service_started".to_owned(),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(Service {
            ours: svc.get("build").is_some(),
            name,
            env,
            argv,
            depends_on,
        });
    }
    out
}

/// Rewrites `0.0.0.0:N` (own listeners) and `//host:N` / `@host:N` (other services) to loopback
/// ports from `ports`, allocating as needed.
fn map_addresses(
    own: &str,
    value: &str,
    names: &[String],
    ports: &mut HashMap<(String, u16), u16>,
) -> String {
    let mut port_of = |svc: &str, p: u16| -> u16 {
        *ports
            .entry((svc.to_owned(), p))
            .or_insert_with(|| stride_infra::free_port().expect("free port"))
    };
    let mut out = value.to_owned();
    let mut hosts: Vec<(String, String)> = vec![("0.0.0.0".into(), own.into())];
    hosts.extend(names.iter().map(|n| (n.clone(), n.clone())));
    for (host, svc) in hosts {
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&format!("{host}:")) {
            let before_ok = i == 0 || matches!(rest.as_bytes()[i - 1], b'/' | b'@' | b',');
            let tail = &rest[i + host.len() + 1..];
            let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            if !before_ok || digits == 0 {
                result.push_str(&rest[..i + host.len() + 1]);
                rest = tail;
                continue;
            }
            let p: u16 = tail[..digits].parse().expect("port");
            result.push_str(&rest[..i]);
            result.push_str(&format!("127.0.0.1:{}", port_of(&svc, p)));
            rest = &tail[digits..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

struct Running {
    children: Vec<(String, tokio::process::Child)>,
    logs: PathBuf,
}

impl Running {
    fn tail(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn spawn(
    name: &str,
    argv: &[String],
    env: &BTreeMap<String, String>,
    bin: &Path,
    logs: &Path,
) -> tokio::process::Child {
    let program = if argv[0].starts_with("stride-") {
        bin.join(&argv[0])
    } else {
        PathBuf::from(&argv[0])
    };
    assert!(
        program.exists(),
        "{} is missing: build the workspace's binaries first (`cargo xtask test` does)",
        program.display()
    );
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).expect("log file");
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(env)
        // The image's PATH: the binaries (the migrate script calls them by name) and a shell.
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true);
    // The test runner's cleanup finds what a killed test left running by this tag.
    if let Ok(tag) = std::env::var(stride_infra::ENV_INFRA_DIR) {
        cmd.env(stride_infra::ENV_INFRA_DIR, tag);
    }
    cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"))
}

async fn ready(http: &reqwest::Client, url: &str) -> bool {
    http.get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_compose_up_starts_every_service_and_the_gateway_answers() {
    stride_kit::install_crypto_provider();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    // target/<profile>/deps/<this test> -> target/<profile>
    let exe = std::env::current_exe().expect("test binary");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    let services = load(&root);
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    for expected in [
        "postgres", "rabbitmq", "devsink", "migrate", "auth", "gateway",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} in compose");
    }

    let work = std::env::temp_dir().join(format!("stride-compose-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&work).expect("work dir");
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");

    // postgres: a private cluster, initialised by the compose file's own init script.
    let pg_dir = work.join("pg");
    let pg = tokio::task::spawn_blocking(move || stride_infra::Postgres::start(&pg_dir))
        .await
        .expect("pg task")
        .expect("private PostgreSQL starts");
    let pg_service = services.iter().find(|s| s.name == "postgres").expect("pg");
    for script in std::fs::read_dir(root.join("deploy/postgres/init")).expect("init dir") {
        let script = script.expect("entry").path();
        let out = std::process::Command::new("/bin/sh")
            .arg(&script)
            .env_clear()
            .envs(&pg_service.env)
            .env("PATH", "/usr/bin:/bin")
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", pg.port().to_string())
            .output()
            .expect("run init script");
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vhost = stride_testkit::vhost().await;
    let amqp_url = vhost.url.clone();

    let mut ports: HashMap<(String, u16), u16> = HashMap::new();
    ports.insert(("postgres".into(), 5432), pg.port());
    let mut running = Running {
        children: Vec::new(),
        logs: logs.clone(),
    };
    let http = reqwest::Client::new();
    let mut started = 0usize;
    let mut done: Vec<String> = vec!["postgres".into(), "rabbitmq".into()];
    let mut pending: Vec<&Service> = services
        .iter()
        .filter(|s| !["postgres", "rabbitmq"].contains(&s.name.as_str()))
        .collect();
    while !pending.is_empty() {
        let pos = pending
            .iter()
            .position(|s| s.depends_on.iter().all(|(d, _)| done.contains(d)))
            .unwrap_or_else(|| panic!("depends_on has a cycle among {pending:?}"));
        let svc = pending.remove(pos);
        let mut env = BTreeMap::new();
        for (k, v) in &svc.env {
            let v = if v.starts_with("amqp") && v.contains("@rabbitmq:") {
                amqp_url.clone()
            } else {
                map_addresses(&svc.name, v, &names, &mut ports)
            };
            env.insert(k.clone(), v);
        }
        if svc.name == "devsink" {
            // Mailpit's ports (SMTP 1025, web 8025), served by our sink.
            let smtp = map_addresses("devsink", "0.0.0.0:1025", &names, &mut ports);
            let web = map_addresses("devsink", "0.0.0.0:8025", &names, &mut ports);
            let env = BTreeMap::from([
                ("DEVSINK_SMTP_ADDR".to_owned(), smtp),
                ("DEVSINK_HTTP_ADDR".to_owned(), web),
            ]);
            let child = spawn("devsink", &["stride-devsink".into()], &env, &bin, &logs);
            running.children.push(("devsink".into(), child));
            done.push(svc.name.clone());
            continue;
        }
        assert!(svc.ours, "{}: an unknown third-party service", svc.name);
        // The migrate job's script builds its URLs from `postgres:5432` itself.
        let argv: Vec<String> = svc
            .argv
            .iter()
            .map(|a| map_addresses(&svc.name, a, &names, &mut ports))
            .collect();
        let child = spawn(&svc.name, &argv, &env, &bin, &logs);
        started += 1;
        let conditions: Vec<&str> = services
            .iter()
            .flat_map(|s| &s.depends_on)
            .filter(|(d, _)| d == &svc.name)
            .map(|(_, c)| c.as_str())
            .collect();
        if conditions.contains(&"service_completed_successfully") {
            let mut child = child;
            let status = tokio::time::timeout(READY_DEADLINE, child.wait())
                .await
                .unwrap_or_else(|_| panic!("{} did not finish", svc.name))
                .expect("wait");
            assert!(
                status.success(),
                "{} failed ({status}):\n{}",
                svc.name,
                running.tail(&svc.name)
            );
        } else {
            running.children.push((svc.name.clone(), child));
            let http_addr = env
                .get("STRIDE_HTTP_ADDR")
                .unwrap_or_else(|| panic!("{}: STRIDE_HTTP_ADDR (its probe port)", svc.name));
            let url = format!("http://{http_addr}/readyz");
            let deadline = tokio::time::Instant::now() + READY_DEADLINE;
            loop {
                if ready(&http, &url).await {
                    break;
                }
                let exited = running
                    .children
                    .last_mut()
                    .and_then(|(_, c)| c.try_wait().ok().flatten());
                if exited.is_some() || tokio::time::Instant::now() > deadline {
                    panic!(
                        "{} never became ready ({exited:?}):\n{}",
                        svc.name,
                        running.tail(&svc.name)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        done.push(svc.name.clone());
    }
    // Six services, the gateway and the migration job.
    assert_eq!(started, 8, "compose services started: {done:?}");

    // The gateway answers: a signup crosses gateway -> auth, and its event reaches profile.
    let gateway_addr = map_addresses("gateway", "0.0.0.0:8080", &names, &mut ports);
    let c = stride_e2e::grpc_clients(gateway_addr.parse().expect("gateway address"))
        .await
        .expect("connect to the gateway");
    let name = format!("cmp{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let email = format!("{name}@example.com");
    let password = "correct horse battery";
    let signup = c
        .auth
        .clone()
        .signup(SignupRequest {
            email: email.clone(),
            username: name.clone(),
            password: password.into(),
            timezone: "Europe/Paris".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("signup through the gateway: {e}\n{}", running.tail("auth")))
        .into_inner();
    assert!(signup.confirmation_required, "compose auth mails a code");
    // auth -> SMTP (`devsink:1025` in the file) -> the sink's HTTP API.
    let sink = map_addresses("devsink", "0.0.0.0:8025", &names, &mut ports);
    let mail_url = format!("http://{sink}/messages/latest?to={email}");
    let mail: serde_json::Value = stride_testkit::eventually(
        stride_testkit::EVENT_DEADLINE,
        "the sign-up code in the sink",
        || {
            let (http, url) = (http.clone(), mail_url.clone());
            async move {
                let r = http.get(&url).send().await.ok()?;
                if !r.status().is_success() {
                    return None;
                }
                r.json().await.ok()
            }
        },
    )
    .await;
    let text = mail["text"].as_str().expect("mail text");
    let at = text.find("code is ").expect("code in the mail") + "code is ".len();
    let token = c
        .auth
        .clone()
        .confirm_signup(ConfirmSignupRequest {
            email,
            code: text[at..at + 6].to_owned(),
            password: password.into(),
        })
        .await
        .expect("confirm the sign-up")
        .into_inner()
        .tokens
        .expect("tokens")
        .access_token;
    let profile = stride_testkit::eventually(
        stride_testkit::EVENT_DEADLINE,
        "the profile made from auth's event",
        || {
            let (mut p, t) = (c.profile.clone(), token.clone());
            async move {
                p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                    .await
                    .ok()
            }
        },
    )
    .await
    .into_inner();
    assert_eq!(
        profile.profile.expect("profile").username,
        name,
        "profile answers through the gateway"
    );

    for (_, child) in &mut running.children {
        let _ = child.start_kill();
    }
    drop(running);
    drop(pg);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn interpolation_follows_compose() {
    let shell = HashMap::from([
        ("SET".to_owned(), "x".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]);
    assert_eq!(interpolate("a${SET:-d}b", &shell), "axb");
    assert_eq!(interpolate("${EMPTY:-d}", &shell), "d");
    assert_eq!(interpolate("${EMPTY-d}", &shell), "");
    assert_eq!(interpolate("${UNSET-d}", &shell), "d");
    assert_eq!(interpolate("$$svc $SET", &shell), "$svc x");
    assert_eq!(interpolate("${UNSET:-}", &shell), "");
}
