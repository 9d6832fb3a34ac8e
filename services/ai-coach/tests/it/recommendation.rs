use stride_proto::ai_coach::{GetRecommendationRequest, RecommendationSource};
use stride_testkit::authed;
use time::macros::datetime;
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::support::{
    ANSWER, API_KEY, Behaviour, FakeLlm, MODEL, Mesh, closed_port_url, llm_config,
};

fn ask(goal: &str, token: &str) -> tonic::Request<GetRecommendationRequest> {
    authed(GetRecommendationRequest { goal: goal.into() }, token)
}

#[tokio::test]
async fn the_llm_answers_from_the_users_progress() {
    let mut mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let llm = FakeLlm::start(Behaviour::Answer).await;
    let mut coach = mesh.coach(Some(llm.config())).await;
    let ada = Uuid::now_v7();
    let focus = mesh.focus_id.clone();
    mesh.complete_sessions(ada, &focus, 2).await;

    let token = mesh.issuer.token(ada);
    let r = coach
        .client
        .get_recommendation(ask("Finish my thesis chapter", &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.source, RecommendationSource::Llm as i32);
    assert_eq!(r.model, MODEL);
    assert_eq!(r.text, ANSWER);
    assert_eq!(r.suggested_activity_id, focus);
    assert!(r.fallback_reason.is_empty());

    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    let (auth, body) = &requests[0];
    assert_eq!(auth.as_deref(), Some(format!("Bearer {API_KEY}").as_str()));
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("at most 3 sentences")
    );
    assert_eq!(body["messages"][1]["role"], "user");
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    for needle in [
        "sessions completed this week: 2",
        "focus sessions this week: 2",
        "total minutes this week: 50",
        "focus sessions today: 2",
        "current streak: 1 days",
        "2026-06-10 2",
        "2026-06-08 0",
        "Finish my thesis chapter",
        "Short break",
        "Focus",
    ] {
        assert!(
            prompt.contains(needle),
            "prompt lacks {needle:?}:\n{prompt}"
        );
    }

    assert_eq!(
        coach.usage().await,
        [("llm".to_owned(), Some(MODEL.to_owned()), 321, 27)]
    );
    coach.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn without_an_llm_the_rules_answer() {
    let mut mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let mut coach = mesh.coach(None).await;
    let token = mesh.issuer.token(Uuid::now_v7());
    let r = coach
        .client
        .get_recommendation(ask("", &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.source, RecommendationSource::Rules as i32);
    assert_eq!(r.suggested_activity_id, mesh.focus_id);
    assert!(r.model.is_empty() && r.fallback_reason.is_empty());
    assert!(r.text.contains("0 sessions this week"), "{}", r.text);

    // Four focus blocks today: the rules suggest a break from the catalog.
    let bob = Uuid::now_v7();
    let focus = mesh.focus_id.clone();
    mesh.complete_sessions(bob, &focus, 4).await;
    let r = coach
        .client
        .get_recommendation(ask("", &mesh.issuer.token(bob)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.source, RecommendationSource::Rules as i32);
    assert!(
        r.text.contains("4 focus sessions today") && r.text.contains("4 sessions this week"),
        "{}",
        r.text
    );
    assert_ne!(r.suggested_activity_id, focus);
    assert!(!r.suggested_activity_id.is_empty());

    assert_eq!(coach.usage().await.len(), 2);
    assert!(
        coach
            .usage()
            .await
            .iter()
            .all(|u| u.0 == "rules" && u.1.is_none())
    );
    coach.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn a_failing_or_unreachable_llm_falls_back_to_the_rules() {
    let mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let token = mesh.issuer.token(Uuid::now_v7());

    let failing = FakeLlm::start(Behaviour::Fail500).await;
    let mut coach = mesh.coach(Some(failing.config())).await;
    let r = coach
        .client
        .get_recommendation(ask("", &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.source, RecommendationSource::RulesFallback as i32);
    assert!(r.fallback_reason.contains("500"), "{}", r.fallback_reason);
    assert!(!r.fallback_reason.contains(API_KEY));
    assert!(r.text.contains("0 sessions this week"), "{}", r.text);
    assert_eq!(r.suggested_activity_id, mesh.focus_id);
    assert!(!failing.requests().is_empty());
    assert_eq!(
        coach.usage().await,
        [("rules_fallback".to_owned(), Some(MODEL.to_owned()), 0, 0)]
    );
    coach.stop().await;

    let mut coach = mesh
        .coach(Some(llm_config(format!("{}/v1", closed_port_url()))))
        .await;
    let r = coach
        .client
        .get_recommendation(ask("", &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.source, RecommendationSource::RulesFallback as i32);
    assert!(
        r.fallback_reason.contains("unreachable"),
        "{}",
        r.fallback_reason
    );
    assert!(
        !r.fallback_reason.contains("127.0.0.1"),
        "no endpoint details: {}",
        r.fallback_reason
    );
    assert_eq!(r.suggested_activity_id, mesh.focus_id);
    coach.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn calls_need_a_token_and_a_bounded_goal() {
    let mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let llm = FakeLlm::start(Behaviour::Answer).await;
    let mut coach = mesh.coach(Some(llm.config())).await;

    let err = coach
        .client
        .get_recommendation(GetRecommendationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let token = mesh.issuer.token(Uuid::now_v7());
    let err = coach
        .client
        .get_recommendation(ask(&"x".repeat(501), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["goal"]);
    // 500 characters (multi-byte ones too) are fine.
    let r = coach
        .client
        .get_recommendation(ask(&"é".repeat(500), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.source, RecommendationSource::Llm as i32);
    assert!(
        llm.requests().len() == 1,
        "rejected calls never reach the LLM"
    );
    coach.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable_without_details() {
    let mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let mut coach = mesh.coach_with(None, closed_port_url()).await;
    let token = mesh.issuer.token(Uuid::now_v7());
    let err = coach
        .client
        .get_recommendation(ask("", &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(!err.message().contains("127.0.0.1"), "{}", err.message());
    assert!(coach.usage().await.is_empty());
    coach.stop().await;
    mesh.stop().await;
}
