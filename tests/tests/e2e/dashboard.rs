//! The dashboard with every peer up (issue 15): GetDashboard over JSON/HTTP through the real
//! gateway gathers analytics' own parts, XP from challenge, a recommendation from ai-coach (its
//! rules: no model in the mesh) and the leaderboard preview, and says nothing is missing; a
//! completed lesson shows up in the caller's study progress and XP, never in another user's.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use stride_e2e::{Mesh, Options};
use stride_testkit::{EVENT_DEADLINE, eventually};

use crate::edge::{Http, signup_confirmed};

const WHAT_IS_AN_EQUATION: &str = "53000000-0000-4000-8000-000000000111";

/// An int64 as proto3 JSON writes it (a string), or a plain number.
fn int(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_i64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_gathers_every_peer_and_shows_the_callers_own_progress() {
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
    let http = Http::new(mesh.gateway);
    let ann = signup_confirmed(&http, &mesh, "dashann").await;
    let bob = signup_confirmed(&http, &mesh, "dashbob").await;

    let path = format!("/api/v1/lessons/{WHAT_IS_AN_EQUATION}/complete");
    let res = http
        .call(Method::POST, &path, Some(&ann.access), Some(json!({})))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    let dash = eventually(EVENT_DEADLINE, "the lesson on ann's dashboard", || {
        let http = &http;
        let tok = ann.access.clone();
        async move {
            let res = http
                .call(Method::GET, "/api/v1/dashboard", Some(&tok), None)
                .await;
            assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
            let v = res.json();
            (v["study"]["lessonsCompleted"] == 1 && int(&v["xp"]["totalXp"]) > 0).then_some(v)
        }
    })
    .await;
    assert_eq!(
        dash["missing"].as_array().map_or(0, Vec::len),
        0,
        "every peer is up: {dash}"
    );
    assert_eq!(dash["timezone"], "America/New_York", "{dash}");
    assert!(dash["xp"]["level"].as_i64().unwrap_or(0) >= 1, "{dash}");
    assert!(
        dash["recommendation"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "ai-coach's rules answered: {dash}"
    );
    assert!(dash["leaderboard"].is_object(), "{dash}");

    // Bob sees his own (empty) figures, whole.
    let res = http
        .call(Method::GET, "/api/v1/dashboard", Some(&bob.access), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    assert_eq!(
        v["study"]["lessonsCompleted"].as_i64().unwrap_or(0),
        0,
        "{v}"
    );
    assert_eq!(int(&v["xp"]["totalXp"]), 0, "{v}");
    assert_eq!(v["missing"].as_array().map_or(0, Vec::len), 0, "{v}");
    mesh.stop().await.expect("mesh stops");
}
