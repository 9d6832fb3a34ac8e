//! Hostile-input sweep: every method of every `stride.*` service in the descriptor set, called
//! through the gateway as a signed-in user with malformed, oversized and out-of-range inputs built
//! from the method's own input descriptor. A method added later is covered without editing this
//! file. Fails on INTERNAL, UNKNOWN, transport errors, answers slower than the bound, and
//! INVALID_ARGUMENT that names no field. Each id field is also set to another user's real
//! resource (an active session, a login session, an identity, the user id): an answer must not
//! carry that resource, and afterwards the other user's resources must be as they were.

use std::{
    collections::{BTreeMap, HashMap},
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use stride_e2e::{Mesh, raw};
use stride_proto::{
    activity_session::{
        GetCurrentSessionRequest, ListActivitiesRequest, StartSessionRequest,
        catalog_service_client::CatalogServiceClient, session_service_client::SessionServiceClient,
    },
    auth::{
        GetMeRequest, ListIdentitiesRequest, ListSessionsRequest, SignupRequest,
        auth_service_client::AuthServiceClient,
    },
    challenge::{ListChallengesRequest, challenge_service_client::ChallengeServiceClient},
};
use stride_testkit::authed;
use tokio::sync::Semaphore;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt as _;

/// The slowest acceptable answer.
const BOUND: Duration = Duration::from_secs(10);
/// Calls in flight at once.
const CONCURRENCY: usize = 8;
/// Distinct client addresses (127.0.1.x): the gateway's per-client rate limits would otherwise
/// answer most credential-class calls with RESOURCE_EXHAUSTED before they reach the service.
const CLIENTS: u8 = 200;
const PASSWORD: &str = "correct horse battery staple";
/// Same length as the bytes it is swapped for after encoding (invalid UTF-8).
const UTF8_MARK: &str = "zzINVALIDzz";
const UTF8_BAD: &[u8; 11] = b"\xc3\x28\xff\xfe\xa0\xa1\xe2\x28\xa1\xf0\x28";

struct Clients {
    channels: Vec<Channel>,
    next: AtomicUsize,
}

impl Clients {
    async fn connect(mesh: &Mesh) -> Clients {
        let mut channels = Vec::new();
        for i in 1..=CLIENTS {
            channels.push(
                raw::channel_from(Ipv4Addr::new(127, 0, 1, i), mesh.gateway)
                    .await
                    .expect("channel"),
            );
        }
        Clients {
            channels,
            next: AtomicUsize::new(0),
        }
    }

    fn pick(&self) -> Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        self.channels[i].clone()
    }
}

/// A signed-up user's access token.
#[derive(Clone)]
struct User {
    id: String,
    token: String,
}

static USERS: AtomicUsize = AtomicUsize::new(0);

async fn sign_up(clients: &Clients) -> User {
    let n = USERS.fetch_add(1, Ordering::Relaxed);
    let name = format!(
        "sweep{n}{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let resp = AuthServiceClient::new(clients.pick())
        .signup(SignupRequest {
            email: format!("{name}@example.com"),
            username: name,
            password: PASSWORD.into(),
            timezone: "Europe/Berlin".into(),
        })
        .await
        .expect("sweep user signs up")
        .into_inner();
    User {
        id: resp.user.map(|u| u.id).unwrap_or_default(),
        token: resp
            .tokens
            .expect("tokens (no confirmation in the mesh)")
            .access_token,
    }
}

async fn alive(clients: &Clients, user: &User) -> bool {
    AuthServiceClient::new(clients.pick())
        .get_me(authed(GetMeRequest {}, &user.token))
        .await
        .is_ok()
}

/// One input for one method.
struct Case {
    label: String,
    body: Bytes,
    /// Names another user's resource: an OK answer must not carry it.
    foreign: bool,
}

/// What a call came back with.
struct Outcome {
    method: String,
    label: String,
    code: Code,
    message: String,
    failure: Option<String>,
    elapsed: Duration,
}

fn judge(
    result: &Result<tonic::Response<Bytes>, tonic::Status>,
    elapsed: Duration,
) -> Option<String> {
    if elapsed > BOUND {
        return Some(format!("slower than {BOUND:?}"));
    }
    let Err(status) = result else { return None };
    match status.code() {
        Code::NotFound
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::ResourceExhausted
        | Code::Unauthenticated
        | Code::Aborted => None,
        Code::InvalidArgument | Code::OutOfRange => match status.get_details_bad_request() {
            Some(br) if br.field_violations.iter().any(|v| !v.field.is_empty()) => None,
            _ => Some("refusal names no field (no google.rpc.BadRequest)".into()),
        },
        other => Some(format!("{other:?} is never an acceptable answer")),
    }
}

/// Hostile values for one string field.
fn hostile_strings() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("spaces", "   ".into()),
        ("100KB", "a".repeat(100 * 1024)),
        ("60KB", "b".repeat(60 * 1024)),
        ("NUL", "a\u{0}b".into()),
        (
            "controls",
            "a\u{1}\u{7}\u{8}\u{1b}[31m\r\n\u{7f}\u{85}b".into(),
        ),
        ("bidi", "a\u{202e}b\u{200b}".into()),
        ("sql", "' OR 1=1 --".into()),
        ("path", "../../etc/passwd".into()),
        ("pct00", "%00".into()),
        ("invalid-utf8", UTF8_MARK.into()),
    ]
}

fn int_values(kind: &Kind) -> Vec<(&'static str, Value)> {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => vec![
            ("min", Value::I32(i32::MIN)),
            ("max", Value::I32(i32::MAX)),
            ("-1", Value::I32(-1)),
        ],
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => vec![
            ("min", Value::I64(i64::MIN)),
            ("max", Value::I64(i64::MAX)),
            ("-1", Value::I64(-1)),
        ],
        Kind::Uint32 | Kind::Fixed32 => vec![("max", Value::U32(u32::MAX))],
        Kind::Uint64 | Kind::Fixed64 => vec![("max", Value::U64(u64::MAX))],
        Kind::Double => vec![
            ("nan", Value::F64(f64::NAN)),
            ("inf", Value::F64(f64::INFINITY)),
            ("-max", Value::F64(f64::MIN)),
        ],
        Kind::Float => vec![
            ("nan", Value::F32(f32::NAN)),
            ("inf", Value::F32(f32::INFINITY)),
            ("-max", Value::F32(f32::MIN)),
        ],
        _ => vec![],
    }
}

/// `google.protobuf.Duration` / `Timestamp` values out of range.
fn time_values(desc: &MessageDescriptor) -> Vec<(&'static str, DynamicMessage)> {
    let make = |seconds: i64, nanos: i32| {
        let mut m = DynamicMessage::new(desc.clone());
        m.set_field_by_name("seconds", Value::I64(seconds));
        m.set_field_by_name("nanos", Value::I32(nanos));
        m
    };
    vec![
        ("secs-max", make(i64::MAX, 0)),
        ("secs-min", make(i64::MIN, 0)),
        ("secs-max-nanos", make(i64::MAX, 999_999_999)),
        ("secs--1", make(-1, 0)),
        ("nanos-over", make(0, 2_000_000_000)),
        ("nanos-neg", make(1, -1)),
        ("nanos-min", make(0, i32::MIN)),
    ]
}

fn is_time(desc: &MessageDescriptor) -> bool {
    matches!(
        desc.full_name(),
        "google.protobuf.Duration" | "google.protobuf.Timestamp"
    )
}

/// Every (label, value) to try for one field (singular values; repeated fields get lists).
fn field_values(field: &FieldDescriptor) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let kind = field.kind();
    if field.is_list() {
        let item = match &kind {
            Kind::String => Value::String("x".into()),
            Kind::Message(m) => Value::Message(DynamicMessage::new(m.clone())),
            Kind::Enum(_) => Value::EnumNumber(0),
            k => Value::default_value(k),
        };
        out.push(("10000-items".into(), Value::List(vec![item; 10_000])));
        if kind == Kind::String {
            for (label, s) in hostile_strings() {
                out.push((format!("item-{label}"), Value::List(vec![Value::String(s)])));
            }
        }
        return out;
    }
    if field.is_map() {
        return out;
    }
    match &kind {
        Kind::String => {
            for (label, s) in hostile_strings() {
                out.push((label.into(), Value::String(s)));
            }
        }
        Kind::Bytes => {
            out.push((
                "100KB".into(),
                Value::Bytes(Bytes::from(vec![0u8; 100 * 1024])),
            ));
            out.push((
                "1KB-ff".into(),
                Value::Bytes(Bytes::from(vec![0xffu8; 1024])),
            ));
        }
        Kind::Bool => out.push(("true".into(), Value::Bool(true))),
        Kind::Enum(_) => {
            out.push(("undefined-999".into(), Value::EnumNumber(999)));
            out.push(("undefined--1".into(), Value::EnumNumber(-1)));
        }
        Kind::Message(m) if is_time(m) => {
            for (label, v) in time_values(m) {
                out.push((label.into(), Value::Message(v)));
            }
        }
        Kind::Message(_) => {}
        k => {
            for (label, v) in int_values(k) {
                out.push((label.into(), v));
            }
        }
    }
    out
}

/// Values a real client would send for some field names, so validation of the other fields is
/// reached (a request refused for its missing id never looks at its duration).
type Seeds = HashMap<&'static str, String>;

fn seeded(desc: &MessageDescriptor, seeds: &Seeds, depth: usize) -> DynamicMessage {
    let mut m = DynamicMessage::new(desc.clone());
    for f in desc.fields() {
        if f.is_list() || f.is_map() {
            continue;
        }
        match f.kind() {
            Kind::String => {
                if let Some(v) = seeds.get(f.name()) {
                    m.set_field(&f, Value::String(v.clone()));
                }
            }
            Kind::Message(sub)
                if depth == 0 && !is_time(&sub) && sub.package_name().starts_with("stride.") =>
            {
                let s = seeded(&sub, seeds, depth + 1);
                if s.fields().next().is_some() {
                    m.set_field(&f, Value::Message(s));
                }
            }
            _ => {}
        }
    }
    m
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn encode(m: &DynamicMessage) -> Bytes {
    let mut bytes = m.encode_to_vec();
    // Swap the marker for invalid UTF-8 of the same length: the length prefix stays right.
    let mark = UTF8_MARK.as_bytes();
    let mut i = 0;
    while i + mark.len() <= bytes.len() {
        if bytes[i..i + mark.len()] == *mark {
            bytes[i..i + mark.len()].copy_from_slice(UTF8_BAD);
            i += mark.len();
        } else {
            i += 1;
        }
    }
    Bytes::from(bytes)
}

/// Every input for one method: the empty message, then each field (and each field of a nested
/// message, one level down) set to each hostile value, on an empty base and on a seeded one.
fn cases(method: &MethodDescriptor, seeds: &Seeds, victim: &Victim) -> Vec<Case> {
    let input = method.input();
    let empty = DynamicMessage::new(input.clone());
    let seed = seeded(&input, seeds, 0);
    let mut bases = vec![("", empty.clone())];
    if seed != empty {
        bases.push(("seeded ", seed));
    }
    let mut out = Vec::new();
    for (base_label, base) in &bases {
        out.push(Case {
            label: format!("{base_label}base"),
            body: encode(base),
            foreign: false,
        });
        for f in input.fields() {
            for (label, v) in field_values(&f) {
                let mut m = base.clone();
                m.set_field(&f, v);
                out.push(Case {
                    label: format!("{base_label}{}={label}", f.name()),
                    body: encode(&m),
                    foreign: false,
                });
            }
            let Kind::Message(sub) = f.kind() else {
                continue;
            };
            if f.is_list() || f.is_map() || is_time(&sub) {
                continue;
            }
            for g in sub.fields() {
                for (label, v) in field_values(&g) {
                    let mut m = base.clone();
                    let mut inner = match m.get_field(&f).as_message() {
                        Some(existing) => existing.clone(),
                        None => DynamicMessage::new(sub.clone()),
                    };
                    inner.set_field(&g, v);
                    m.set_field(&f, Value::Message(inner));
                    out.push(Case {
                        label: format!("{base_label}{}.{}={label}", f.name(), g.name()),
                        body: encode(&m),
                        foreign: false,
                    });
                }
            }
        }
    }
    // Each id field set to another user's real resource, on the seeded request (so the id is
    // what the call turns on).
    let base = bases.last().map_or(empty, |(_, m)| m.clone());
    for f in input.fields() {
        if f.kind() != Kind::String || f.is_list() {
            continue;
        }
        for (what, id) in victim.ids_for(f.name()) {
            let mut m = base.clone();
            m.set_field(&f, Value::String(id.clone()));
            out.push(Case {
                label: format!("{}=another user's {what}", f.name()),
                body: encode(&m),
                foreign: true,
            });
        }
    }
    out
}

/// Another user with resources of every kind a request can name by id, left alone by the
/// sweep: none of its calls may read or change them.
struct Victim {
    user: User,
    /// Their active activity session.
    activity_session: String,
    /// Their login session (auth).
    login_session: String,
    /// Their email identity.
    identity: String,
}

impl Victim {
    async fn create(clients: &Clients, seeds: &Seeds) -> Victim {
        let user = sign_up(clients).await;
        let activity_session = SessionServiceClient::new(clients.pick())
            .start_session(authed(
                StartSessionRequest {
                    activity_id: seeds.get("activity_id").cloned().unwrap_or_default(),
                    planned_duration: None,
                    ..Default::default()
                },
                &user.token,
            ))
            .await
            .expect("the victim starts a session")
            .into_inner()
            .session
            .expect("session")
            .id;
        let mut auth = AuthServiceClient::new(clients.pick());
        let login_session = auth
            .list_sessions(authed(ListSessionsRequest::default(), &user.token))
            .await
            .expect("the victim's sessions")
            .into_inner()
            .sessions
            .first()
            .expect("one login session")
            .id
            .clone();
        let identity = auth
            .list_identities(authed(ListIdentitiesRequest {}, &user.token))
            .await
            .expect("the victim's identities")
            .into_inner()
            .identities
            .first()
            .expect("an email identity")
            .id
            .clone();
        Victim {
            user,
            activity_session,
            login_session,
            identity,
        }
    }

    /// The victim's ids a field of this name could carry.
    fn ids_for(&self, field: &str) -> Vec<(&'static str, &String)> {
        match field {
            "session_id" | "id" => vec![
                ("activity session", &self.activity_session),
                ("login session", &self.login_session),
            ],
            "identity_id" => vec![("identity", &self.identity)],
            f if f.ends_with("user_id") => vec![("user id", &self.user.id)],
            _ => vec![],
        }
    }

    /// Resource ids that no answer to another user may contain (user ids may: leaderboards).
    fn private_ids(&self) -> [&String; 3] {
        [&self.activity_session, &self.login_session, &self.identity]
    }

    /// What is wrong with the victim's resources now, if anything.
    async fn damage(&self, clients: &Clients) -> Vec<String> {
        let mut wrong = Vec::new();
        if !alive(clients, &self.user).await {
            wrong.push("the victim's token no longer works".to_owned());
            return wrong;
        }
        let current = SessionServiceClient::new(clients.pick())
            .get_current_session(authed(GetCurrentSessionRequest {}, &self.user.token))
            .await
            .map(|r| r.into_inner().session.map(|s| s.id));
        if current.as_ref().ok().and_then(|s| s.as_ref()) != Some(&self.activity_session) {
            wrong.push(format!("the victim's active session changed: {current:?}"));
        }
        let mut auth = AuthServiceClient::new(clients.pick());
        let sessions = auth
            .list_sessions(authed(ListSessionsRequest::default(), &self.user.token))
            .await
            .map(|r| {
                r.into_inner()
                    .sessions
                    .into_iter()
                    .map(|s| s.id)
                    .collect::<Vec<_>>()
            });
        if !sessions
            .as_ref()
            .is_ok_and(|s| s.contains(&self.login_session))
        {
            wrong.push(format!("the victim's login session is gone: {sessions:?}"));
        }
        let identities = auth
            .list_identities(authed(ListIdentitiesRequest {}, &self.user.token))
            .await
            .map(|r| {
                r.into_inner()
                    .identities
                    .into_iter()
                    .map(|i| i.id)
                    .collect::<Vec<_>>()
            });
        if !identities
            .as_ref()
            .is_ok_and(|i| i.contains(&self.identity))
        {
            wrong.push(format!("the victim's identity is gone: {identities:?}"));
        }
        wrong
    }
}

async fn call(
    clients: &Clients,
    path: &str,
    body: Bytes,
    token: &str,
) -> (Result<tonic::Response<Bytes>, tonic::Status>, Duration) {
    let mut req = tonic::Request::new(body);
    req.set_timeout(BOUND);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    let started = Instant::now();
    // A little over the bound on the client side too: a hung stream still ends.
    let result = match tokio::time::timeout(
        BOUND + Duration::from_secs(2),
        raw::unary_raw(clients.pick(), path, req),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(tonic::Status::deadline_exceeded("client-side timeout")),
    };
    (result, started.elapsed())
}

async fn seeds(clients: &Clients, user: &User) -> Seeds {
    let mut s = Seeds::new();
    s.insert("timezone", "Europe/Berlin".into());
    s.insert("password", PASSWORD.into());
    s.insert("current_password", PASSWORD.into());
    s.insert("email", "sweep-seed@example.com".into());
    s.insert("new_email", "sweep-new@example.com".into());
    s.insert("address", "sweep-seed@example.com".into());
    s.insert("username", "sweepseed".into());
    s.insert("code", "123456".into());
    s.insert("new_password", "another horse battery staple".into());
    if let Ok(r) = CatalogServiceClient::new(clients.pick())
        .list_activities(authed(ListActivitiesRequest::default(), &user.token))
        .await
        && let Some(a) = r.into_inner().activities.first()
    {
        s.insert("activity_id", a.id.clone());
    }
    if let Ok(r) = ChallengeServiceClient::new(clients.pick())
        .list_challenges(authed(ListChallengesRequest::default(), &user.token))
        .await
        && let Some(c) = r.into_inner().challenges.first()
    {
        s.insert("challenge_id", c.id.clone());
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_method_refuses_hostile_input_cleanly() {
    stride_kit::telemetry::init_for_tests();
    let started = Instant::now();
    let mesh = Mesh::start(&super::shared_stores().await)
        .await
        .expect("mesh starts");
    let clients = Arc::new(Clients::connect(&mesh).await);
    let seeds = seeds(&clients, &sign_up(&clients).await).await;
    let victim = Victim::create(&clients, &seeds).await;

    let pool = DescriptorPool::decode(stride_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let methods: Vec<MethodDescriptor> = pool
        .services()
        .filter(|s| s.package_name().starts_with("stride."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    assert!(
        !methods.is_empty(),
        "no stride.* methods in the descriptor set"
    );

    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut outcomes: Vec<Outcome> = Vec::new();
    // Each method runs as a fresh user, its inputs concurrently. Some inputs end the caller's
    // session or account (Logout, LogoutAll, DeleteAccount, MergeGuest, ChangePassword, …), which
    // would turn the other inputs' answers into UNAUTHENTICATED or NOT_FOUND; rather than keep a
    // list of such methods (a method added later needs no edit here), the token is checked after
    // the batch, and if it died the method's inputs are run again one at a time, as a new user
    // after each one that ended the previous.
    for method in &methods {
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let cases = cases(method, &seeds, &victim);
        let user = sign_up(&clients).await;
        let mut set = tokio::task::JoinSet::new();
        for (i, case) in cases.iter().enumerate() {
            let (clients, sem, path, token, body) = (
                clients.clone(),
                sem.clone(),
                path.clone(),
                user.token.clone(),
                case.body.clone(),
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore");
                let (result, elapsed) = call(&clients, &path, body, &token).await;
                (i, result, elapsed)
            });
        }
        let mut done = Vec::new();
        while let Some(r) = set.join_next().await {
            done.push(r.expect("call task"));
        }
        done.sort_by_key(|d| d.0);
        if !alive(&clients, &user).await {
            done.clear();
            let mut user = sign_up(&clients).await;
            for (i, case) in cases.iter().enumerate() {
                let (result, elapsed) = call(&clients, &path, case.body.clone(), &user.token).await;
                done.push((i, result, elapsed));
                if !alive(&clients, &user).await {
                    user = sign_up(&clients).await;
                }
            }
        }
        for ((_, result, elapsed), case) in done.into_iter().zip(cases) {
            let mut failure = judge(&result, elapsed);
            if case.foreign
                && let Ok(r) = &result
                && victim
                    .private_ids()
                    .iter()
                    .any(|id| contains(r.get_ref(), id.as_bytes()))
            {
                failure = Some("answered with another user's resource".into());
            }
            let (code, message) = match &result {
                Ok(_) => (Code::Ok, String::new()),
                Err(s) => (s.code(), s.message().to_owned()),
            };
            outcomes.push(Outcome {
                method: path.clone(),
                label: case.label,
                code,
                message,
                failure,
                elapsed,
            });
        }
    }

    // The summary: per method, how many calls and which codes.
    let mut per_method: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for o in &outcomes {
        *per_method
            .entry(&o.method)
            .or_default()
            .entry(format!("{:?}", o.code))
            .or_default() += 1;
        *totals.entry(format!("{:?}", o.code)).or_default() += 1;
    }
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
    let mut table = String::new();
    table.push_str(&format!(
        "\nhostile-input sweep: {} methods, {} calls, {:.1?} in all, slowest answer {:.1?}\n",
        per_method.len(),
        outcomes.len(),
        started.elapsed(),
        slowest
    ));
    table.push_str(&format!("{:<66} {:>5}  codes\n", "method", "calls"));
    for (m, codes) in &per_method {
        let calls: usize = codes.values().sum();
        let codes = codes
            .iter()
            .map(|(c, n)| format!("{c}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        table.push_str(&format!("{m:<66} {calls:>5}  {codes}\n"));
    }
    let totals = totals
        .iter()
        .map(|(c, n)| format!("{c}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    table.push_str(&format!(
        "{:<66} {:>5}  {totals}\n",
        "total",
        outcomes.len()
    ));
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    if !failures.is_empty() {
        table.push_str(&format!("\n{} failures:\n", failures.len()));
        for f in &failures {
            let mut msg = f.message.clone();
            msg.truncate(120);
            table.push_str(&format!(
                "  {} [{}] -> {:?} ({}): {}\n",
                f.method,
                f.label,
                f.code,
                f.failure.as_deref().unwrap_or_default(),
                msg
            ));
        }
    }
    eprintln!("{table}");
    // Every call, for a closer look: STRIDE_SWEEP_LOG=/tmp/sweep.tsv.
    if let Ok(path) = std::env::var("STRIDE_SWEEP_LOG") {
        let lines: String = outcomes
            .iter()
            .map(|o| {
                let mut msg = o.message.clone();
                msg.truncate(200);
                format!(
                    "{}\t{}\t{:?}\t{:?}\t{}\n",
                    o.method, o.label, o.code, o.elapsed, msg
                )
            })
            .collect();
        std::fs::write(path, lines).expect("sweep log");
    }
    assert_eq!(
        per_method.len(),
        methods.len(),
        "every method called at least once"
    );
    let foreign = outcomes
        .iter()
        .filter(|o| o.label.contains("another user's"))
        .count();
    assert!(foreign > 0, "no call named another user's resource");
    let damage = victim.damage(&clients).await;
    eprintln!(
        "{foreign} calls named another user's resources; their resources afterwards: {}",
        if damage.is_empty() {
            "untouched".to_owned()
        } else {
            damage.join("; ")
        }
    );
    assert!(
        damage.is_empty(),
        "another user's resources changed: {damage:?}"
    );
    mesh.stop().await.expect("graceful stop");
    assert!(failures.is_empty(), "hostile-input sweep failed:{table}");
}
