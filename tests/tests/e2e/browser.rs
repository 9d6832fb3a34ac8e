//! The TypeScript client (clients/ts) in a real browser: Debian's Chromium, driven by
//! playwright-core from clients/ts/test/browser/run.mjs, opens a page served from another origin
//! than the gateway's, and the page walks the user journey through `@stride/client` — over
//! grpc-web and over Connect. This test serves the page, answers what only it can (the mailed
//! confirmation code, the mesh's clock) and asserts on what the page reports.
//!
//! Needs what `cargo xtask test` prepares (`cargo xtask ts-client` alone does the npm part):
//! clients/ts/node_modules, the bundled page in target/ts-client/browser/, node, and
//! /usr/bin/chromium. A missing one fails the test with the command that fixes it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use stride_e2e::{Mesh, Options};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The whole browser run, Chromium start included, on a loaded 2-core machine.
const RUN_DEADLINE: Duration = Duration::from_secs(300);
const MAIL_DEADLINE: Duration = Duration::from_secs(20);

struct Paths {
    node_script: PathBuf,
    index_html: PathBuf,
    page_js: PathBuf,
    chromium: PathBuf,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Everything the browser run needs, or a panic naming the command that provides it.
fn prerequisites() -> Paths {
    let root = root();
    let chromium = std::env::var_os("STRIDE_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "{} not found: Debian's Chromium is needed for the browser tests. Fix: `apt-get install -y \
         chromium` as root (`cargo xtask test` installs it when it runs as root)",
        chromium.display()
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "`node` not found or not working ({node:?}): the browser tests run playwright-core on \
         Node.js 20+. Fix: `apt-get install -y nodejs npm`, then `cargo xtask ts-client`"
    );
    let ts = root.join("clients/ts");
    let fix = "Fix: `cargo xtask ts-client` (npm ci, generate, typecheck, bundle the test page)";
    assert!(
        ts.join("node_modules/playwright-core").exists(),
        "clients/ts/node_modules/playwright-core is missing. {fix}"
    );
    let page_js = root.join("target/ts-client/browser/page.js");
    assert!(
        page_js.exists(),
        "the bundled test page {} is missing. {fix}",
        page_js.display()
    );
    Paths {
        node_script: ts.join("test/browser/run.mjs"),
        index_html: ts.join("test/browser/index.html"),
        page_js,
        chromium,
    }
}

/// Serves the test page on its own port: another origin than the gateway's.
async fn serve_page(paths: &Paths) -> SocketAddr {
    use axum::{Router, http::header::CONTENT_TYPE, routing::get};
    let html = std::fs::read_to_string(&paths.index_html).expect("index.html");
    let js = std::fs::read_to_string(&paths.page_js).expect("page.js");
    let app = Router::new()
        .route(
            "/index.html",
            get(move || async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], html) }),
        )
        // Browsers ask for it; a 404 would be logged as a page error.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/page.js",
            get(move || async move { ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], js) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The six digits after "code is " in a mail from auth.
fn code_in(text: &str) -> Option<String> {
    let at = text.find("code is ")? + "code is ".len();
    let code = text.get(at..at + 6)?;
    code.chars()
        .all(|c| c.is_ascii_digit())
        .then(|| code.to_owned())
}

/// Runs run.mjs with `config`, answering its host requests; returns its reports.
async fn drive(mesh: &Mesh, paths: &Paths, config: Value) -> Vec<Value> {
    let mut child = tokio::process::Command::new("node")
        .arg(&paths.node_script)
        .arg(config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut reports = Vec::new();
    let talk = async {
        while let Some(line) = lines.next_line().await.expect("read run.mjs") {
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("run.mjs printed {line:?}, not JSON: {e}"));
            match msg["type"].as_str() {
                Some("host") => {
                    let req = &msg["req"];
                    let res = match req["need"].as_str() {
                        Some("code") => {
                            let email = req["email"].as_str().expect("email");
                            let mail = mesh
                                .sink
                                .wait_for_mail(email, MAIL_DEADLINE)
                                .await
                                .expect("the confirmation mail");
                            let code = code_in(&mail.text)
                                .unwrap_or_else(|| panic!("no code in {:?}", mail.text));
                            json!({ "code": code })
                        }
                        Some("advance") => {
                            let minutes = req["minutes"].as_i64().expect("minutes");
                            mesh.clock.advance(time::Duration::minutes(minutes));
                            json!({})
                        }
                        other => panic!("run.mjs asked for {other:?}"),
                    };
                    let answer = json!({ "id": msg["id"], "res": res });
                    stdin
                        .write_all(format!("{answer}\n").as_bytes())
                        .await
                        .expect("answer run.mjs");
                }
                Some("report") => reports.push(msg["report"].clone()),
                Some("done") => return,
                Some("error") => panic!("run.mjs failed: {}", msg["error"]),
                _ => panic!("unexpected message from run.mjs: {msg}"),
            }
        }
        panic!("run.mjs ended without saying done (see its stderr above)");
    };
    tokio::time::timeout(RUN_DEADLINE, talk)
        .await
        .unwrap_or_else(|_| panic!("the browser run did not finish within {RUN_DEADLINE:?}"));
    let status = child.wait().await.expect("node exits");
    assert!(status.success(), "run.mjs exited with {status}");
    reports
}

/// Starts a mesh whose gateway lets the page's origin in and whose sign-up mails a code.
async fn mesh_for(page: SocketAddr) -> Mesh {
    let origin = format!("http://{page}");
    Mesh::start_with(
        &super::shared_stores().await,
        Options {
            signup_confirmation: true,
            cors_origins: stride_gateway::CorsOrigins::parse(&origin).expect("origin"),
            ..Options::default()
        },
    )
    .await
    .expect("mesh starts")
}

/// One journey's report, checked step by step.
async fn check_journey(mesh: &Mesh, report: &Value, name: &str, content_type: &str) {
    let protocol = &report["protocol"];
    eprintln!(
        "{protocol} (binary: {}) report: {report:#}",
        report["binary"]
    );
    assert_eq!(
        report["ok"],
        json!(true),
        "{protocol}: the journey failed at {}: {} — report: {report:#}",
        report["failedStep"],
        report["error"]
    );
    let code = |v: &Value| v["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(code(&report["noToken"]), "Unauthenticated", "{report:#}");
    assert_eq!(
        report["signup"],
        json!({ "confirmationRequired": true, "hasTokens": false }),
        "sign-up waits for the mailed code"
    );
    assert_eq!(code(&report["wrongCode"]), "Unauthenticated", "{report:#}");
    let user_id = report["confirmed"]["userId"].as_str().unwrap_or_default();
    assert!(!user_id.is_empty(), "{report:#}");
    assert_eq!(report["confirmed"]["passwordSet"], json!(true));
    assert_eq!(report["confirmed"]["stored"], json!(true));
    assert_eq!(
        report["profile"],
        json!({ "userId": user_id, "displayName": name, "timezone": "America/New_York" })
    );
    let updated =
        json!({ "displayName": "Browser Alice", "timezone": "Europe/Paris", "locale": "fr" });
    assert_eq!(report["updated"], updated);
    assert_eq!(report["reread"], updated);
    assert_eq!(code(&report["badUpdate"]), "InvalidArgument", "{report:#}");
    // The details arrive over every protocol and the client reads them: both bad fields named.
    assert_eq!(
        (
            &report["badUpdate"]["reason"],
            &report["badUpdate"]["fields"]
        ),
        (
            &json!("INVALID_ARGUMENT"),
            &json!(["profile.timezone", "profile.locale"])
        ),
        "{report:#}"
    );
    assert_eq!(report["noToken"]["reason"], json!("TOKEN_MISSING"));
    assert_eq!(
        report["secondStart"]["reason"],
        json!("SESSION_ALREADY_ACTIVE")
    );
    assert_eq!(
        report["refreshOnRefusal"],
        json!({ "calls": 3, "refreshes": 1, "rotated": true }),
        "three refused calls share one refresh, then succeed"
    );
    assert_eq!(report["refreshBeforeExpiry"], json!({ "refreshes": 1 }));
    assert_eq!(code(&report["secondStart"]), "FailedPrecondition");
    assert_eq!(report["session"]["durationSeconds"], json!(25 * 60));
    assert_eq!(
        report["summary"],
        json!({ "sessionsCompleted": 1, "focusSessions": 1, "totalSeconds": 25 * 60, "currentStreak": 1 })
    );
    assert_eq!(
        code(&report["refreshRefused"]["call"]),
        "Unauthenticated",
        "{report:#}"
    );
    assert_eq!(
        (
            &report["refreshRefused"]["stored"],
            &report["refreshRefused"]["signedOut"]
        ),
        (&json!(false), &json!(1)),
        "a refused refresh clears the store and signs out once"
    );
    assert_eq!(
        report["login"],
        json!({ "userId": user_id, "stored": true })
    );
    assert_eq!(report["afterLogin"], json!("Browser Alice"));
    assert_eq!(report["afterSignOut"]["stored"], json!(false));
    assert_eq!(code(&report["afterSignOut"]["call"]), "Unauthenticated");
    // What went over the wire is the protocol asked for (preflights are not listed).
    let requests = report["requests"].as_array().expect("requests");
    assert!(
        !requests.is_empty()
            && requests
                .iter()
                .all(|r| r == &json!(format!("POST {content_type}"))),
        "{protocol}: expected only `POST {content_type}` to the gateway, saw {requests:?}"
    );
    // The server kept what the page changed.
    let pool = sqlx::PgPool::connect(&mesh.databases.profile)
        .await
        .expect("profile db");
    let (display_name,): (String,) =
        sqlx::query_as("SELECT display_name FROM profiles WHERE user_id::text = $1")
            .bind(user_id)
            .fetch_one(&pool)
            .await
            .expect("the profile row");
    assert_eq!(display_name, "Browser Alice");
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

async fn journeys(runs: &[(&str, bool, &str)]) {
    stride_kit::telemetry::init_for_tests();
    let paths = prerequisites();
    let page = serve_page(&paths).await;
    let mesh = mesh_for(page).await;
    let named: Vec<(String, &str)> = runs
        .iter()
        .map(|(protocol, _, ct)| (unique(&format!("br{}", &protocol[..2])), *ct))
        .collect();
    let config = json!({
        "task": "journey",
        "chromium": paths.chromium,
        "page": format!("http://{page}/index.html"),
        "gateway": format!("http://{}", mesh.gateway),
        "runs": runs.iter().zip(&named).map(|((protocol, binary, _), (name, _))| {
            json!({ "protocol": protocol, "binary": binary, "name": name })
        }).collect::<Vec<_>>(),
    });
    let reports = drive(&mesh, &paths, config).await;
    assert_eq!(
        reports.len(),
        runs.len(),
        "one report per run: {reports:#?}"
    );
    for (report, (name, content_type)) in reports.iter().zip(&named) {
        assert_eq!(report["origin"], json!(format!("http://{page}")));
        check_journey(&mesh, report, name, content_type).await;
    }
    mesh.stop().await.expect("graceful stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ts_client_in_chromium_over_grpc_web() {
    journeys(&[("grpc-web", false, "application/grpc-web+proto")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ts_client_in_chromium_over_connect_json_and_binary() {
    journeys(&[
        ("connect", false, "application/json"),
        ("connect", true, "application/proto"),
    ])
    .await;
}

/// Every annotated method of the protos with its primary route (`POST /api/v1/auth/signup`).
fn annotated_methods() -> Vec<(String, String)> {
    use prost_reflect::{DescriptorPool, Value};
    let pool = DescriptorPool::decode(stride_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let http = pool
        .get_extension_by_name("google.api.http")
        .expect("google.api.http is in the descriptor set");
    // Service-only methods have no public route (the gateway refuses them), so no doc row.
    let policies = stride_kit::policy::Policies::load().expect("method policies");
    let mut out = Vec::new();
    for service in pool.services() {
        if !service.full_name().starts_with("stride.") {
            continue;
        }
        for method in service.methods() {
            let options = method.options();
            let path = format!("/{}/{}", service.full_name(), method.name());
            if !options.has_extension(&http) || policies.service_only(&path) {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                continue;
            };
            let route = ["get", "post", "put", "patch", "delete"]
                .into_iter()
                .find_map(|verb| {
                    let v = rule.get_field_by_name(verb)?;
                    let path = v.as_str()?;
                    (!path.is_empty()).then(|| format!("{} {path}", verb.to_uppercase()))
                })
                .expect("a verb and path");
            out.push((method.name().to_owned(), route));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_docs_page_renders_every_method_in_chromium() {
    stride_kit::telemetry::init_for_tests();
    let paths = prerequisites();
    let mesh = Mesh::start(&super::shared_stores().await)
        .await
        .expect("mesh starts");
    let methods = annotated_methods();
    assert!(
        methods.len() > 40,
        "the protos annotate every method: {methods:?}"
    );
    assert!(methods.contains(&("GetMyProfile".into(), "GET /api/v1/me".into())));
    // The page shows each route as its verb and its path, and the method's name.
    let mut expect: Vec<String> = Vec::new();
    for (name, route) in &methods {
        let (_, path) = route.split_once(' ').expect("verb and path");
        expect.push(name.clone());
        expect.push(path.to_owned());
    }
    expect.sort();
    expect.dedup();
    let dir = root().join("target/ts-client/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let screenshot = dir.join("gateway-docs.png");
    let _ = std::fs::remove_file(&screenshot);
    let url = format!("http://{}/docs", mesh.gateway);
    let reports = drive(
        &mesh,
        &paths,
        json!({
            "task": "docs",
            "chromium": paths.chromium,
            "url": url,
            "screenshot": screenshot,
            "expect": expect,
            "together": methods.iter().map(|(name, route)| {
                let (verb, path) = route.split_once(' ').expect("verb and path");
                [name.as_str(), verb, path]
            }).collect::<Vec<_>>(),
        }),
    )
    .await;
    let report = reports.first().expect("a report");
    eprintln!(
        "docs page: status {}, title {}, {} of {} expected texts found; screenshot {}",
        report["status"],
        report["title"],
        report["found"].as_array().map_or(0, Vec::len),
        expect.len(),
        screenshot.display()
    );
    assert_eq!(report["status"], json!(200), "{report:#}");
    assert_eq!(
        report["missing"],
        json!([]),
        "the docs page does not list these methods or routes"
    );
    assert_eq!(
        report["apart"],
        json!([]),
        "the docs page does not show these methods beside their verb and route"
    );
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot, {} bytes",
        png.len()
    );
    mesh.stop().await.expect("graceful stop");
}
