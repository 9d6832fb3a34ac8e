//! The public catalog through the real gateway: exercises, search in French, filters and plan
//! templates answer without any token over JSON/HTTP and native gRPC, while a user's own data
//! still needs one.

use http::{Method, StatusCode};
use serde_json::Value;
use stride_e2e::Mesh;
use stride_proto::activity_session::{
    GetCurrentSessionRequest, ListExercisesRequest, catalog_service_client::CatalogServiceClient,
    session_service_client::SessionServiceClient,
};
use tonic::Code;

use crate::{edge::Http, shared_stores};

fn names(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalog_is_browsed_without_a_token() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&shared_stores().await)
        .await
        .expect("mesh starts");
    let http = Http::new(mesh.gateway);

    // JSON/HTTP, no token: a French search typed without accents finds the accented names.
    let res = http
        .call(
            Method::GET,
            "/api/v1/exercises?language=fr&query=developpe+couche",
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    let found = names(&v, "exercises");
    assert!(
        found.iter().any(|n| n == "Développé couché à la barre"),
        "{found:?}"
    );
    assert_eq!(v["exercises"][0]["language"], "fr");

    // Several muscles and several pieces of equipment as repeated query parameters.
    let res = http
        .call(
            Method::GET,
            "/api/v1/exercises?muscles=biceps&muscles=triceps&equipment=dumbbell&equipment=barbell&pageSize=100",
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    let list = v["exercises"].as_array().expect("exercises");
    assert!(!list.is_empty());
    for e in list {
        let has = |field: &str, keys: &[&str]| {
            e[field]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| keys.iter().any(|k| t["key"] == *k)))
        };
        assert!(
            has("primaryMuscles", &["biceps", "triceps"])
                || has("secondaryMuscles", &["biceps", "triceps"])
        );
        assert!(has("equipment", &["dumbbell", "barbell"]), "{e}");
    }

    // A bad filter: 400 naming the field.
    let res = http
        .call(Method::GET, "/api/v1/exercises?muscles=wings", None, None)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let v = res.json();
    let bad_request = v["details"]
        .as_array()
        .and_then(|d| {
            d.iter()
                .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        })
        .expect("BadRequest details");
    assert_eq!(
        bad_request["fieldViolations"][0]["field"], "muscles[0]",
        "{v}"
    );

    // Featured plans, then one plan grouped by week and day.
    let res = http
        .call(
            Method::GET,
            "/api/v1/workout-plans?featured=true",
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    let plans = v["plans"].as_array().expect("plans");
    assert_eq!(plans.len(), 3, "{v}");
    let id = plans[0]["id"].as_str().expect("id").to_owned();
    let res = http
        .call(
            Method::GET,
            &format!("/api/v1/workout-plans/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    assert_eq!(v["plan"]["schedule"].as_array().map(Vec::len), Some(4));
    assert!(v["plan"]["schedule"][0]["days"][0]["exercises"][0]["sets"].is_number());
    let res = http
        .call(Method::GET, "/api/v1/activities", None, None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    // Native gRPC, no token: the catalog answers; a user's session does not.
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", mesh.gateway))
        .expect("endpoint")
        .connect()
        .await
        .expect("gateway");
    let page = CatalogServiceClient::new(ch.clone())
        .list_exercises(ListExercisesRequest {
            query: "kettlebell swing".into(),
            ..Default::default()
        })
        .await
        .expect("public over gRPC")
        .into_inner();
    assert_eq!(
        page.exercises.first().map(|e| e.slug.as_str()),
        Some("kettlebell-swing")
    );
    let err = SessionServiceClient::new(ch)
        .get_current_session(GetCurrentSessionRequest {})
        .await
        .expect_err("sessions need a token");
    assert_eq!(err.code(), Code::Unauthenticated);
    mesh.stop().await.expect("graceful stop");
}
