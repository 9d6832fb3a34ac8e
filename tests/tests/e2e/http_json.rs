//! The user journey over JSON/HTTP through the real gateway: the routes of the protos'
//! `google.api.http` rules, the proto3 JSON mapping, `google.rpc.Status` errors under their HTTP
//! statuses, and the same policy and token checks as gRPC.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use stride_e2e::{Mesh, Options};
use stride_testkit::{EVENT_DEADLINE, eventually};

use crate::edge::{Http, signup_confirmed};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_journey_over_json_http() {
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
    let suffix = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let alice = signup_confirmed(&http, &mesh, &format!("ja{suffix}")).await;
    let bob = signup_confirmed(&http, &mesh, &format!("jb{suffix}")).await;
    let tok = Some(alice.access.as_str());

    // --- no token: 401, the Status JSON with the reason ---
    let res = http.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let v = res.json();
    assert_eq!(v["code"], 16, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        v["details"][0]["@type"],
        "type.googleapis.com/google.rpc.ErrorInfo"
    );
    assert_eq!(v["details"][0]["reason"], "TOKEN_MISSING");
    let res = http
        .call(Method::GET, "/api/v1/me", Some("not-a-jwt"), None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // --- profile: created from user.registered.v1; both bindings of GetMyProfile ---
    let profile = eventually(EVENT_DEADLINE, "alice's profile exists", || {
        let http = http.clone();
        let tok = alice.access.clone();
        async move {
            let res = http.call(Method::GET, "/api/v1/me", Some(&tok), None).await;
            (res.status == StatusCode::OK).then(|| res.json())
        }
    })
    .await;
    assert_eq!(profile["profile"]["userId"], alice.id.as_str());
    assert_eq!(profile["profile"]["timezone"], "America/New_York");
    // lowerCamelCase out, fields at their default written out, Timestamps as RFC 3339.
    assert!(
        profile["profile"]["createTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let same = http.call(Method::GET, "/api/v1/profile", tok, None).await;
    assert_eq!(same.json()["profile"]["userId"], alice.id.as_str());

    // --- update: PATCH /api/v1/me and its PUT /api/v1/profile binding ---
    let res = http
        .call(
            Method::PATCH,
            "/api/v1/me",
            tok,
            Some(json!({
                "profile": {"displayName": "Alice", "timezone": "Europe/Paris", "locale": "fr"},
                "updateMask": "displayName,timezone,locale"
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let p = &res.json()["profile"];
    assert_eq!(
        (&p["displayName"], &p["timezone"], &p["locale"]),
        (&json!("Alice"), &json!("Europe/Paris"), &json!("fr"))
    );
    let res = http
        .call(
            Method::PUT,
            "/api/v1/profile",
            tok,
            // Proto field names are accepted too.
            Some(json!({"profile": {"display_name": "Alice B"}, "update_mask": "displayName"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.json()["profile"]["displayName"], "Alice B");

    // --- malformed fields: 400 naming them ---
    let res = http
        .call(
            Method::PATCH,
            "/api/v1/me",
            tok,
            Some(json!({
                "profile": {"timezone": "Mars/Olympus_Mons", "locale": "xx"},
                "updateMask": "timezone,locale"
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["code"], 3);
    let f = res.bad_fields();
    assert!(
        f.iter().any(|x| x.contains("timezone")) && f.iter().any(|x| x.contains("locale")),
        "{f:?}"
    );
    let res = http
        .call(
            Method::PATCH,
            "/api/v1/me",
            tok,
            Some(json!({"profile": {"displayName": 42}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.bad_fields(), ["profile.displayName"]);
    let res = http
        .call(
            Method::PATCH,
            "/api/v1/me",
            tok,
            Some(json!({"profile": {"shoeSize": 9}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.bad_fields(), ["profile.shoeSize"]);
    let res = http
        .send(
            Method::PATCH,
            "/api/v1/me",
            &[
                ("authorization", &format!("Bearer {}", alice.access)),
                ("content-type", "application/json"),
            ],
            "{\"profile\": {",
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.bad_fields(), ["body"]);

    // --- unknown routes 404, wrong verbs 405 with Allow, both as Status JSON ---
    let res = http.call(Method::GET, "/api/v1/nope", tok, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.json()["code"], 5);
    let res = http.call(Method::DELETE, "/api/v1/me", tok, None).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    let allow = res.headers["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    assert!(res.json()["message"].is_string());

    // --- a session: catalog (query parameters), start, another user's id, complete ---
    let res = http
        .call(
            Method::GET,
            "/api/v1/activities?pageSize=100&kind=ACTIVITY_KIND_FOCUS",
            tok,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let activities = res.json()["activities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let focus = activities
        .iter()
        .find(|a| a["kind"] == "ACTIVITY_KIND_FOCUS")
        .expect("a focus activity")
        .clone();
    assert!(
        activities
            .iter()
            .all(|a| a["kind"] == "ACTIVITY_KIND_FOCUS")
    );
    // Durations in their JSON form.
    assert_eq!(focus["defaultDuration"], "1500s");
    let res = http
        .call(Method::GET, "/api/v1/activities?pageSize=many", tok, None)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.bad_fields(), ["pageSize"]);

    let res = http
        .call(
            Method::POST,
            "/api/v1/sessions",
            tok,
            Some(json!({"activityId": focus["id"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let session = res.json()["session"].clone();
    let id = session["id"].as_str().expect("session id").to_owned();
    assert_eq!(session["state"], "SESSION_STATE_ACTIVE");
    let again = http
        .call(
            Method::POST,
            "/api/v1/sessions",
            tok,
            Some(json!({"activityId": focus["id"]})),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "FAILED_PRECONDITION → 400"
    );
    assert_eq!(again.json()["code"], 9);
    let current = http
        .call(Method::GET, "/api/v1/sessions/current", tok, None)
        .await;
    assert_eq!(current.json()["session"]["id"], id.as_str());
    // Bob cannot complete Alice's session: it does not exist for him.
    let theft = http
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/complete"),
            Some(&bob.access),
            Some(json!({})),
        )
        .await;
    assert_eq!(theft.status, StatusCode::NOT_FOUND);
    assert_eq!(theft.json()["code"], 5);
    mesh.clock.advance(time::Duration::minutes(25));
    // The path variable fills session_id; an empty body is an empty message.
    let done = http
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/complete"),
            tok,
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let done = done.json();
    assert_eq!(done["session"]["duration"], "1500s");
    assert_eq!(done["session"]["state"], "SESSION_STATE_COMPLETED");

    // --- progress: nested query parameters (date.year=...) and the summary ---
    let summary = eventually(EVENT_DEADLINE, "the session reaches the summary", || {
        let http = http.clone();
        let tok = alice.access.clone();
        async move {
            let res = http
                .call(
                    Method::GET,
                    "/api/v1/progress/summary?range=SUMMARY_RANGE_WEEK",
                    Some(&tok),
                    None,
                )
                .await;
            let v = res.json();
            (res.status == StatusCode::OK && v["sessionsCompleted"] == 1).then_some(v)
        }
    })
    .await;
    assert_eq!(summary["focusSessions"], 1);
    assert_eq!(summary["days"].as_array().map(Vec::len), Some(7));
    assert_eq!(summary["timezone"], "Europe/Paris");
    let past = http
        .call(
            Method::GET,
            "/api/v1/progress/summary?date.year=2001&date.month=1&date.day=3",
            tok,
            None,
        )
        .await;
    assert_eq!(past.status, StatusCode::OK, "{:?}", past.body);
    let past = past.json();
    assert_eq!(past["sessionsCompleted"], 0);
    assert_eq!(past["startDate"]["year"], 2001);

    // --- public routes need no token; the docs are on the same port ---
    let jwks = http
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert!(
        jwks.json()["keys"]
            .as_array()
            .is_some_and(|k| !k.is_empty())
    );
    let doc = http.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc: Value = doc.json();
    assert!(doc["paths"]["/api/v1/sessions/{session_id}/complete"]["post"].is_object());
    let page = http.call(Method::GET, "/docs", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains("/openapi.json"));

    mesh.stop().await.expect("graceful stop");
}
