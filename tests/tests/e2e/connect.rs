//! The user journey over the Connect protocol through the real gateway, with the JSON and the
//! binary codec: typed messages in, typed messages out, Connect errors by code name.

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, StatusCode};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use serde_json::Value;
use stride_e2e::{Mesh, Options};
use stride_proto::{
    activity_session::{
        ActivityKind, CompleteSessionRequest, CompleteSessionResponse, GetCurrentSessionRequest,
        GetCurrentSessionResponse, ListActivitiesRequest, ListActivitiesResponse,
        StartSessionRequest, StartSessionResponse,
    },
    analytics::{GetProgressSummaryRequest, GetProgressSummaryResponse},
    auth::{ConfirmSignupRequest, ConfirmSignupResponse, SignupRequest, SignupResponse},
    profile::{
        GetMyProfileRequest, GetMyProfileResponse, Profile, UpdateMyProfileRequest,
        UpdateMyProfileResponse,
    },
};
use stride_testkit::{EVENT_DEADLINE, eventually};

use crate::edge::{Answer, Http, MAIL, code_in};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Codec {
    Json,
    Proto,
}

#[derive(Debug)]
struct ConnectError {
    status: StatusCode,
    code: String,
    message: String,
    /// `(type, bytes)` of each detail.
    details: Vec<(String, Vec<u8>)>,
}

impl ConnectError {
    fn bad_fields(&self) -> Vec<String> {
        self.details
            .iter()
            .filter(|(t, _)| t == "google.rpc.BadRequest")
            .flat_map(|(_, b)| {
                tonic_types::pb::BadRequest::decode(b.as_slice())
                    .expect("BadRequest")
                    .field_violations
            })
            .map(|f| f.field)
            .collect()
    }
}

#[derive(Clone)]
struct Connect {
    http: Http,
    codec: Codec,
    pool: DescriptorPool,
}

impl Connect {
    fn method(&self, path: &str) -> MethodDescriptor {
        let (svc, name) = path.trim_start_matches('/').split_once('/').expect("path");
        self.pool
            .get_service_by_name(svc)
            .and_then(|s| s.methods().find(|m| m.name() == name))
            .expect("method")
    }

    async fn raw(&self, path: &str, token: Option<&str>, body: Bytes) -> Answer {
        let ct = match self.codec {
            Codec::Json => "application/json",
            Codec::Proto => "application/proto",
        };
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("content-type", ct),
            ("connect-protocol-version", "1"),
            ("connect-timeout-ms", "15000"),
        ];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        self.http.send(Method::POST, path, &headers, body).await
    }

    async fn call<Req: Message, Res: Message + Default>(
        &self,
        path: &str,
        token: Option<&str>,
        req: &Req,
    ) -> Result<Res, ConnectError> {
        let m = self.method(path);
        let body = match self.codec {
            Codec::Proto => Bytes::from(req.encode_to_vec()),
            Codec::Json => {
                let dm = DynamicMessage::decode(m.input(), req.encode_to_vec().as_slice())
                    .expect("request");
                Bytes::from(serde_json::to_vec(&dm).expect("json"))
            }
        };
        let res = self.raw(path, token, body).await;
        self.decode(&m, res)
    }

    fn decode<Res: Message + Default>(
        &self,
        m: &MethodDescriptor,
        res: Answer,
    ) -> Result<Res, ConnectError> {
        let ct = res.headers["content-type"].to_str().unwrap().to_owned();
        if res.status != StatusCode::OK {
            assert_eq!(ct, "application/json", "Connect errors are JSON");
            let v = res.json();
            let details = v["details"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    let value = base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(d["value"].as_str().expect("value").trim_end_matches('='))
                        .expect("base64");
                    (d["type"].as_str().expect("type").to_owned(), value)
                })
                .collect();
            return Err(ConnectError {
                status: res.status,
                code: v["code"].as_str().expect("code name").to_owned(),
                message: v["message"].as_str().unwrap_or("").to_owned(),
                details,
            });
        }
        match self.codec {
            Codec::Proto => {
                assert_eq!(ct, "application/proto");
                Ok(Res::decode(res.body).expect("a message"))
            }
            Codec::Json => {
                assert_eq!(ct, "application/json");
                let mut de = serde_json::Deserializer::from_slice(&res.body);
                let dm = DynamicMessage::deserialize(m.output(), &mut de).expect("JSON message");
                Ok(Res::decode(dm.encode_to_vec().as_slice()).expect("a message"))
            }
        }
    }
}

const AUTH: &str = "/stride.auth.v1.AuthService";
const PROFILE: &str = "/stride.profile.v1.ProfileService";
const CATALOG: &str = "/stride.activity_session.v1.CatalogService";
const SESSIONS: &str = "/stride.activity_session.v1.SessionService";

async fn signup(c: &Connect, mesh: &Mesh, name: &str) -> (String, String) {
    let email = format!("{name}@example.com");
    let res: SignupResponse = c
        .call(
            &format!("{AUTH}/Signup"),
            None,
            &SignupRequest {
                email: email.clone(),
                username: name.to_owned(),
                password: "correct horse battery".into(),
                timezone: "America/New_York".into(),
            },
        )
        .await
        .expect("signup");
    assert!(res.confirmation_required);
    let mail = mesh.sink.wait_for_mail(&email, MAIL).await.expect("mail");
    let res: ConfirmSignupResponse = c
        .call(
            &format!("{AUTH}/ConfirmSignup"),
            None,
            &ConfirmSignupRequest {
                email,
                code: code_in(&mail.text),
                password: "correct horse battery".into(),
            },
        )
        .await
        .expect("confirm");
    (
        res.user.expect("user").id,
        res.tokens.expect("tokens").access_token,
    )
}

async fn journey(mesh: &Mesh, codec: Codec) {
    let c = Connect {
        http: Http::new(mesh.gateway),
        codec,
        pool: DescriptorPool::decode(stride_proto::FILE_DESCRIPTOR_SET).expect("pool"),
    };
    let suffix = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let tag = if codec == Codec::Json { "cj" } else { "cp" };
    let (alice, tok) = signup(&c, mesh, &format!("{tag}a{suffix}")).await;
    let (_, bob) = signup(&c, mesh, &format!("{tag}b{suffix}")).await;

    // No token: unauthenticated, 401, with the reason in an ErrorInfo.
    let err = c
        .call::<_, GetMyProfileResponse>(
            &format!("{PROFILE}/GetMyProfile"),
            None,
            &GetMyProfileRequest {},
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status, err.code.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    assert!(!err.message.is_empty());
    let info = err
        .details
        .iter()
        .find(|(t, _)| t == "google.rpc.ErrorInfo")
        .expect("ErrorInfo");
    assert_eq!(
        tonic_types::pb::ErrorInfo::decode(info.1.as_slice())
            .unwrap()
            .reason,
        "TOKEN_MISSING"
    );

    let profile = eventually(EVENT_DEADLINE, "the profile exists", || {
        let c = c.clone();
        let tok = tok.clone();
        async move {
            c.call::<_, GetMyProfileResponse>(
                &format!("{PROFILE}/GetMyProfile"),
                Some(&tok),
                &GetMyProfileRequest {},
            )
            .await
            .ok()
            .and_then(|r| r.profile)
        }
    })
    .await;
    assert_eq!(profile.user_id, alice);
    let updated: UpdateMyProfileResponse = c
        .call(
            &format!("{PROFILE}/UpdateMyProfile"),
            Some(&tok),
            &UpdateMyProfileRequest {
                profile: Some(Profile {
                    display_name: "Alice".into(),
                    timezone: "Europe/Paris".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into(), "timezone".into()],
                }),
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.profile.expect("profile").display_name, "Alice");
    let err = c
        .call::<_, UpdateMyProfileResponse>(
            &format!("{PROFILE}/UpdateMyProfile"),
            Some(&tok),
            &UpdateMyProfileRequest {
                profile: Some(Profile {
                    locale: "xx".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["locale".into()],
                }),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status, err.code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(
        err.bad_fields().iter().any(|f| f.contains("locale")),
        "{err:?}"
    );

    // Malformed fields are refused before any upstream call, naming the field.
    let m = c.method(&format!("{PROFILE}/UpdateMyProfile"));
    let malformed = match codec {
        Codec::Json => Bytes::from_static(br#"{"profile": {"displayName": 42}}"#),
        // Field 1 (profile) as a varint: the wrong wire type.
        Codec::Proto => Bytes::from_static(&[0x08, 0x01]),
    };
    let res = c
        .raw(&format!("{PROFILE}/UpdateMyProfile"), Some(&tok), malformed)
        .await;
    let err = c.decode::<UpdateMyProfileResponse>(&m, res).unwrap_err();
    assert_eq!(err.code, "invalid_argument");
    if codec == Codec::Json {
        assert_eq!(err.bad_fields(), ["profile.displayName"]);
    } else {
        assert!(!err.bad_fields().is_empty(), "{err:?}");
    }

    // A session: catalog, start, another user's id, complete.
    let activities: ListActivitiesResponse = c
        .call(
            &format!("{CATALOG}/ListActivities"),
            Some(&tok),
            &ListActivitiesRequest {
                page_size: 100,
                ..Default::default()
            },
        )
        .await
        .expect("activities");
    let focus = activities
        .activities
        .iter()
        .find(|a| a.kind() == ActivityKind::Focus)
        .expect("focus")
        .clone();
    assert_eq!(focus.default_duration.map(|d| d.seconds), Some(25 * 60));
    let started: StartSessionResponse = c
        .call(
            &format!("{SESSIONS}/StartSession"),
            Some(&tok),
            &StartSessionRequest {
                activity_id: focus.id.clone(),
                planned_duration: None,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    let id = started.session.expect("session").id;
    let current: GetCurrentSessionResponse = c
        .call(
            &format!("{SESSIONS}/GetCurrentSession"),
            Some(&tok),
            &GetCurrentSessionRequest {},
        )
        .await
        .expect("current");
    assert_eq!(current.session.map(|s| s.id), Some(id.clone()));
    let theft = c
        .call::<_, CompleteSessionResponse>(
            &format!("{SESSIONS}/CompleteSession"),
            Some(&bob),
            &CompleteSessionRequest {
                session_id: id.clone(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (theft.status, theft.code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    mesh.clock.advance(time::Duration::minutes(25));
    let done: CompleteSessionResponse = c
        .call(
            &format!("{SESSIONS}/CompleteSession"),
            Some(&tok),
            &CompleteSessionRequest { session_id: id },
        )
        .await
        .expect("complete");
    assert_eq!(
        done.session.and_then(|s| s.duration).map(|d| d.seconds),
        Some(25 * 60)
    );
    mesh.clock.advance(time::Duration::minutes(5));

    let summary = eventually(EVENT_DEADLINE, "the session reaches the summary", || {
        let c = c.clone();
        let tok = tok.clone();
        async move {
            c.call::<_, GetProgressSummaryResponse>(
                "/stride.analytics.v1.AnalyticsService/GetProgressSummary",
                Some(&tok),
                &GetProgressSummaryRequest::default(),
            )
            .await
            .ok()
            .filter(|s| s.sessions_completed == 1)
        }
    })
    .await;
    assert_eq!(summary.focus_sessions, 1);
    assert_eq!(summary.days.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_journey_over_connect_json_and_binary() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start_with(
        &crate::shared_stores().await,
        Options {
            signup_confirmation: true,
            ..Options::default()
        },
    )
    .await
    .expect("mesh starts");
    journey(&mesh, Codec::Json).await;
    journey(&mesh, Codec::Proto).await;

    // The protocol's own refusals.
    let http = Http::new(mesh.gateway);
    let path = format!("{PROFILE}/GetMyProfile");
    let res = http
        .send(Method::POST, &path, &[("content-type", "text/plain")], "{}")
        .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = http
        .send(
            Method::GET,
            &format!("{path}?encoding=json&message=%7B%7D"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "not marked side-effect free"
    );
    let res = http
        .send(
            Method::POST,
            &path,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            "{}",
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(res.json()["code"], "unimplemented");
    let res = http
        .send(
            Method::POST,
            &path,
            &[
                ("content-type", "application/json"),
                ("connect-timeout-ms", "soon"),
            ],
            "{}",
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let v: Value = res.json();
    assert_eq!(v["code"], "invalid_argument");

    mesh.stop().await.expect("graceful stop");
}
