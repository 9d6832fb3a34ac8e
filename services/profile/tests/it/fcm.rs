//! Push through the production FCM HTTP v1 client against a stand-in that speaks Google's
//! wire protocol: the service-account JWT grant at the token endpoint (signature, audience,
//! scope and key id checked with the account's public key) and `messages:send` behind the
//! bearer token, answering `UNREGISTERED` for a device that is gone and 401 for a revoked token.

use std::sync::{Arc, Mutex};

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use stride_profile::fcm::{Fcm, SCOPE, ServiceAccount};
use stride_proto::profile as pb;
use stride_testkit::authed;
use time::macros::datetime;

use crate::{
    reminders::{at, fast, inbox, task},
    support::{notifications, start_notify, user_in},
};

const EMAIL: &str = "stride-push@stride-test.iam.gserviceaccount.com";
const KEY_ID: &str = "5f1c0ffee";

#[derive(Default)]
struct Seen {
    /// Access tokens issued, in order; the last one is the valid one.
    issued: Vec<String>,
    /// (project, message) of every accepted send.
    sent: Vec<(String, Value)>,
    /// Sends refused because of the token.
    unauthorized: usize,
}

#[derive(Clone)]
struct Google {
    public_der: Arc<Vec<u8>>,
    token_uri: String,
    seen: Arc<Mutex<Seen>>,
}

impl Google {
    fn issue(&self, form: &str) -> Response {
        let fields: Vec<(&str, &str)> = form.split('&').filter_map(|p| p.split_once('=')).collect();
        let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        if get("grant_type") != Some("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "unsupported_grant_type"})),
            )
                .into_response();
        }
        let Some(assertion) = get("assertion") else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_request"})),
            )
                .into_response();
        };
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[&self.token_uri]);
        v.set_issuer(&[EMAIL]);
        v.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let key = DecodingKey::from_rsa_der(&self.public_der);
        let ok = jsonwebtoken::decode_header(assertion)
            .ok()
            .filter(|h| h.kid.as_deref() == Some(KEY_ID))
            .and_then(|_| jsonwebtoken::decode::<Value>(assertion, &key, &v).ok())
            .filter(|d| d.claims["scope"] == SCOPE);
        if ok.is_none() {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant"})),
            )
                .into_response();
        }
        let mut seen = self.seen.lock().unwrap();
        let token = format!("ya29.test-{}", seen.issued.len());
        seen.issued.push(token.clone());
        Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
            .into_response()
    }

    fn send(&self, project: &str, headers: &HeaderMap, body: Value) -> Response {
        let mut seen = self.seen.lock().unwrap();
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_none() || bearer != seen.issued.last().map(String::as_str) {
            seen.unauthorized += 1;
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
                    "message": "Request had invalid authentication credentials."}})),
            )
                .into_response();
        }
        let message = &body["message"];
        if message["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("gone-"))
        {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"code": 404, "status": "NOT_FOUND",
                    "message": "Requested entity was not found.",
                    "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                 "errorCode": "UNREGISTERED"}]}})),
            )
                .into_response();
        }
        let name = format!("projects/{project}/messages/{}", seen.sent.len());
        seen.sent.push((project.to_owned(), message.clone()));
        Json(json!({ "name": name })).into_response()
    }

    /// Google rotated its keys: every access token issued so far stops working.
    fn revoke_all(&self) {
        self.seen.lock().unwrap().issued.push("revoked".into());
    }
}

/// Starts the stand-in; returns it, its base URL and a service-account key file for it.
async fn google() -> (Google, String, ServiceAccount) {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = pair.as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let google = Google {
        public_der: Arc::new(pair.public_key().as_ref().to_vec()),
        token_uri: format!("{base}/token"),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route(
            "/token",
            post(|State(g): State<Google>, form: String| async move { g.issue(&form) }),
        )
        .route(
            "/v1/projects/{project}/messages:send",
            post(
                |State(g): State<Google>,
                 Path(project): Path<String>,
                 headers: HeaderMap,
                 Json(body): Json<Value>| async move {
                    g.send(&project, &headers, body)
                },
            ),
        )
        .with_state(google.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // The key file exactly as the Firebase console hands it out (extra fields included).
    let key_file = json!({
        "type": "service_account",
        "project_id": "stride-test",
        "private_key_id": KEY_ID,
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": google.token_uri,
    });
    let account = ServiceAccount::parse(&key_file.to_string()).unwrap();
    (google, base, account)
}

#[tokio::test]
async fn reminders_reach_devices_through_fcm_and_gone_devices_are_forgotten() {
    let (g, base, account) = google().await;
    let fcm = Fcm::new(account, &base).unwrap();
    let (h, _probe) = start_notify(stride_profile::NotifyConfig {
        push: Arc::new(fcm),
        ..fast()
    })
    .await;
    h.clock.set(datetime!(2026-10-30 12:00 UTC));
    let ann = user_in(&h, "ann", "Europe/Paris").await;
    let token = h.token(ann);
    for (device, platform) in [
        ("ann-phone", pb::DevicePlatform::Android),
        ("gone-tablet", pb::DevicePlatform::Ios),
    ] {
        notifications(&h)
            .register_device(authed(
                pb::RegisterDeviceRequest {
                    token: device.into(),
                    platform: platform.into(),
                    display_name: device.into(),
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let mut r = crate::support::reminders(&h);
    r.schedule_reminder(authed(task("t1", 2026, 11, 2, 9, 0), &token))
        .await
        .unwrap();
    // 09:00 in Paris on 2 November is 08:00 UTC.
    at(&h, datetime!(2026-11-02 08:00 UTC)).await;
    assert_eq!(inbox(&h, ann).await.len(), 1);
    {
        let seen = g.seen.lock().unwrap();
        assert_eq!(seen.issued.len(), 1, "one access token for every send");
        assert_eq!(seen.sent.len(), 1, "{:?}", seen.sent);
        let (project, message) = &seen.sent[0];
        assert_eq!(project, "stride-test");
        assert_eq!(message["token"], "ann-phone");
        assert_eq!(message["notification"]["title"], "Task t1");
        assert_eq!(message["data"]["kind"], "task_reminder");
    }
    // FCM said the tablet is unregistered: it is no longer listed.
    let devices = notifications(&h)
        .list_devices(authed(pb::ListDevicesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .devices;
    let names: Vec<&str> = devices.iter().map(|d| d.display_name.as_str()).collect();
    assert_eq!(names, ["ann-phone"]);

    // Google rotates the token early: the next send gets a 401, takes a fresh token, and the
    // reminder still arrives exactly once.
    g.revoke_all();
    r.schedule_reminder(authed(task("t2", 2026, 11, 3, 9, 0), &token))
        .await
        .unwrap();
    at(&h, datetime!(2026-11-03 08:00 UTC)).await;
    {
        let seen = g.seen.lock().unwrap();
        assert_eq!(seen.unauthorized, 1);
        assert_eq!(seen.sent.len(), 2, "{:?}", seen.sent);
        assert_eq!(seen.sent[1].1["notification"]["title"], "Task t2");
    }
    at(&h, datetime!(2026-11-04 08:00 UTC)).await;
    assert_eq!(g.seen.lock().unwrap().sent.len(), 2, "nothing sent twice");
    h.stop().await;
}

#[tokio::test]
async fn a_key_the_token_endpoint_refuses_fails_the_push_without_forgetting_the_device() {
    let (g, base, mut account) = google().await;
    // Signed by the right key but claiming another account: Google answers invalid_grant.
    account.client_email = "someone-else@stride-test.iam.gserviceaccount.com".into();
    let fcm = Fcm::new(account, &base).unwrap();
    let push = stride_profile::Push {
        token: "ann-phone".into(),
        title: "t".into(),
        body: String::new(),
        kind: "task_reminder",
    };
    let err = stride_profile::PushSender::send(&fcm, push)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, stride_profile::PushError::Failed(m) if m.contains("invalid_grant")),
        "{err:?}"
    );
    assert!(g.seen.lock().unwrap().sent.is_empty());
}
