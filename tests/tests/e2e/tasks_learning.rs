//! Tasks, shutdown reflections and learning over JSON/HTTP through the real gateway (issue 13,
//! part C): the catalog without a token, a task's life with its query filters, an idempotent
//! lesson completion, a reflection, and another user's task NOT_FOUND.

use http::{Method, StatusCode};
use serde_json::json;
use stride_e2e::{Mesh, Options};

use crate::edge::{Http, signup_confirmed};

const MATHEMATICS: &str = "51000000-0000-4000-8000-000000000001";
const LINEAR_EQUATIONS: &str = "52000000-0000-4000-8000-000000000011";
const WHAT_IS_AN_EQUATION: &str = "53000000-0000-4000-8000-000000000111";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_reflections_and_lessons_over_json_http() {
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

    // --- the learning catalog is public ---
    let res = http.call(Method::GET, "/api/v1/subjects", None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let subjects = res.json();
    assert_eq!(subjects["subjects"][0]["id"], MATHEMATICS);
    assert_eq!(subjects["subjects"].as_array().map(Vec::len), Some(3));
    let res = http
        .call(
            Method::GET,
            &format!("/api/v1/subjects/{MATHEMATICS}/topics"),
            None,
            None,
        )
        .await;
    assert_eq!(res.json()["topics"][0]["id"], LINEAR_EQUATIONS);
    let res = http
        .call(
            Method::GET,
            &format!("/api/v1/topics/{LINEAR_EQUATIONS}/lessons"),
            None,
            None,
        )
        .await;
    assert_eq!(res.json()["lessons"][0]["id"], WHAT_IS_AN_EQUATION);
    let res = http
        .call(
            Method::GET,
            &format!("/api/v1/lessons/{WHAT_IS_AN_EQUATION}"),
            None,
            None,
        )
        .await;
    assert!(
        res.json()["lesson"]["bodyMarkdown"]
            .as_str()
            .is_some_and(|b| b.contains("# What is an equation?"))
    );
    // Everything else needs a token.
    let res = http
        .call(
            Method::POST,
            "/api/v1/tasks",
            None,
            Some(json!({"task": {"title": "x"}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    let suffix = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let alice = signup_confirmed(&http, &mesh, &format!("ta{suffix}")).await;
    let bob = signup_confirmed(&http, &mesh, &format!("tb{suffix}")).await;
    let tok = Some(alice.access.as_str());

    // --- a task: created, filtered by query parameters, completed by a mask ---
    let res = http
        .call(
            Method::POST,
            "/api/v1/tasks",
            tok,
            Some(json!({"task": {
                "title": "Complete project",
                "dueTime": "2020-09-29T17:00:00Z",
                "priority": "TASK_PRIORITY_HIGH",
                "tags": ["Urgent", "development"]
            }})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let task = res.json()["task"].clone();
    let id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(task["bucket"], "TASK_BUCKET_OVERDUE");
    assert_eq!(task["tags"], json!(["urgent", "development"]));
    let res = http
        .call(
            Method::POST,
            "/api/v1/tasks",
            tok,
            Some(json!({"task": {"title": "Someday"}})),
        )
        .await;
    assert_eq!(res.json()["task"]["priority"], "TASK_PRIORITY_MEDIUM");
    let titles = |path: &'static str| {
        let http = http.clone();
        let tok = alice.access.clone();
        async move {
            let res = http.call(Method::GET, path, Some(&tok), None).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {:?}", res.body);
            res.json()["tasks"]
                .as_array()
                .map(|a| a.iter().map(|t| t["title"].to_string()).collect::<Vec<_>>())
                .unwrap_or_default()
        }
    };
    assert_eq!(
        titles("/api/v1/tasks?bucket=TASK_BUCKET_OVERDUE&tags=urgent&tags=development").await,
        ["\"Complete project\""]
    );
    assert_eq!(
        titles("/api/v1/tasks?bucket=TASK_BUCKET_UPCOMING").await,
        ["\"Someday\""]
    );
    assert_eq!(
        titles("/api/v1/tasks?priority=TASK_PRIORITY_HIGH&completed=false").await,
        ["\"Complete project\""]
    );
    let res = http
        .call(
            Method::PATCH,
            &format!("/api/v1/tasks/{id}"),
            tok,
            Some(json!({"task": {"completed": true}, "updateMask": "completed"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.json()["task"]["bucket"], "TASK_BUCKET_DONE");
    assert_eq!(
        titles("/api/v1/tasks?completed=true").await,
        ["\"Complete project\""]
    );
    let res = http
        .call(
            Method::PATCH,
            &format!("/api/v1/tasks/{id}"),
            tok,
            Some(json!({"task": {"priority": "TASK_PRIORITY_UNSPECIFIED"}, "updateMask": "priority,bucket"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.bad_fields(), ["task.priority", "update_mask.paths"]);

    // Bob cannot see, change or delete it.
    for (method, body) in [
        (Method::GET, None),
        (
            Method::PATCH,
            Some(json!({"task": {"title": "mine"}, "updateMask": "title"})),
        ),
        (Method::DELETE, None),
    ] {
        let res = http
            .call(
                method.clone(),
                &format!("/api/v1/tasks/{id}"),
                Some(&bob.access),
                body,
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "{method}: {:?}",
            res.body
        );
    }

    // --- a lesson completed twice counts once ---
    let path = format!("/api/v1/lessons/{WHAT_IS_AN_EQUATION}/complete");
    let first = http.call(Method::POST, &path, tok, Some(json!({}))).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.json()["newlyCompleted"], true);
    let again = http.call(Method::POST, &path, tok, Some(json!({}))).await;
    assert_eq!(again.json()["newlyCompleted"], false);
    assert_eq!(again.json()["progress"], first.json()["progress"]);
    let res = http
        .call(Method::GET, "/api/v1/lesson-progress", tok, None)
        .await;
    assert_eq!(res.json()["progress"][0]["lessonId"], WHAT_IS_AN_EQUATION);

    // --- a shutdown reflection and its history ---
    let res = http
        .call(
            Method::POST,
            "/api/v1/shutdown-reflections",
            tok,
            Some(json!({"reflection": {
                "productivityRating": "PRODUCTIVITY_RATING_GOOD",
                "note": "Wrapped up",
                "mindfulDisconnectCompleted": [true, true, false]
            }})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let res = http
        .call(
            Method::GET,
            "/api/v1/shutdown-reflections?page_size=30",
            tok,
            None,
        )
        .await;
    assert_eq!(res.json()["reflections"][0]["note"], "Wrapped up");
    let res = http
        .call(
            Method::GET,
            "/api/v1/shutdown-reflections",
            Some(&bob.access),
            None,
        )
        .await;
    assert_eq!(res.json()["reflections"], json!([]));

    let res = http
        .call(Method::DELETE, &format!("/api/v1/tasks/{id}"), tok, None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    mesh.stop().await.expect("mesh stops");
}
