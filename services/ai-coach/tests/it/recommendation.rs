//! GetRecommendation: the LLM's answer from the caller's real progress, the rules without an
//! LLM or when it fails, the bounds and the upstream failures.

use stride_proto::ai_coach::{GetRecommendationRequest, RecommendationSource};
use stride_testkit::bus::assert_invalid;
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

use stride_testkit::openai::Reply;

use crate::support::{
    ANSWER, API_KEY, MODEL, closed_port_url, llm_config, recommend, stand_in, start, start_with,
    usage,
};

#[tokio::test]
async fn the_llm_answers_from_the_users_progress() {
    let (llm, config) = stand_in().await;
    llm.script("recommendation", Reply::text(ANSWER));
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), Some(config)).await;
    let ada = Uuid::now_v7();
    mesh.complete_sessions(&h, ada, &mesh.focus_id, 2).await;

    let r = recommend(&h, ada, "Finish my thesis chapter")
        .await
        .unwrap();
    assert_eq!(r.source, RecommendationSource::Llm as i32);
    assert_eq!(r.model, MODEL);
    assert_eq!(r.text, ANSWER);
    assert_eq!(r.suggested_activity_id, mesh.focus_id);
    assert!(r.fallback_reason.is_empty());

    let requests = llm.requests("recommendation");
    assert_eq!(requests.len(), 1);
    let body = &requests[0];
    assert_eq!(llm.authorizations(), [Some(format!("Bearer {API_KEY}"))]);
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["metadata"]["purpose"], "recommendation");
    let hashed = body["user"].as_str().unwrap();
    assert_eq!(hashed, stride_ai_coach::llm::user_hash(ada));
    assert!(!hashed.contains(&ada.simple().to_string()));
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

    let used = usage(&h).await;
    assert_eq!(used.len(), 1);
    let (source, model, prompt_tokens, completion_tokens) = &used[0];
    assert_eq!((source.as_str(), model.as_deref()), ("llm", Some(MODEL)));
    assert!(
        *prompt_tokens > 100,
        "the stand-in counts the prompt: {prompt_tokens}"
    );
    assert_eq!(*completion_tokens, ANSWER.split_whitespace().count() as i32);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn without_an_llm_the_rules_answer() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let r = recommend(&h, Uuid::now_v7(), "").await.unwrap();
    assert_eq!(r.source, RecommendationSource::Rules as i32);
    assert_eq!(r.suggested_activity_id, mesh.focus_id);
    assert!(r.model.is_empty() && r.fallback_reason.is_empty());
    assert!(r.text.contains("0 sessions this week"), "{}", r.text);

    // Four focus blocks today: the rules suggest a break from the catalog.
    let bob = Uuid::now_v7();
    mesh.complete_sessions(&h, bob, &mesh.focus_id, 4).await;
    let r = recommend(&h, bob, "").await.unwrap();
    assert_eq!(r.source, RecommendationSource::Rules as i32);
    assert!(
        r.text.contains("4 focus sessions today") && r.text.contains("4 sessions this week"),
        "{}",
        r.text
    );
    assert_ne!(r.suggested_activity_id, mesh.focus_id);
    assert!(!r.suggested_activity_id.is_empty());

    let usage = usage(&h).await;
    assert_eq!(usage.len(), 2);
    assert!(usage.iter().all(|u| u.0 == "rules" && u.1.is_none()));
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn a_failing_llm_falls_back_to_the_rules() {
    let (failing, config) = stand_in().await;
    // The first attempt and both retries fail.
    for _ in 0..3 {
        failing.script("recommendation", Reply::Status(500));
    }
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), Some(config)).await;
    let r = recommend(&h, Uuid::now_v7(), "").await.unwrap();
    assert_eq!(r.source, RecommendationSource::RulesFallback as i32);
    assert!(r.fallback_reason.contains("500"), "{}", r.fallback_reason);
    assert!(!r.fallback_reason.contains(API_KEY));
    assert!(r.text.contains("0 sessions this week"), "{}", r.text);
    assert_eq!(r.suggested_activity_id, mesh.focus_id);
    assert_eq!(
        failing.requests("recommendation").len(),
        3,
        "one call and two retries"
    );
    assert_eq!(
        usage(&h).await,
        [("rules_fallback".to_owned(), Some(MODEL.to_owned()), 0, 0)]
    );
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn an_unreachable_llm_falls_back_to_the_rules() {
    let unreachable = llm_config(format!("{}/v1", closed_port_url()));
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), Some(unreachable)).await;
    let r = recommend(&h, Uuid::now_v7(), "").await.unwrap();
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
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn calls_need_a_token_and_a_bounded_goal() {
    let (llm, config) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), Some(config)).await;

    let err = h
        .client
        .clone()
        .get_recommendation(GetRecommendationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let user = Uuid::now_v7();
    let err = recommend(&h, user, &"x".repeat(501)).await.unwrap_err();
    assert_invalid(&err, &["goal"]);
    // 500 characters (multi-byte ones too) are fine.
    let r = recommend(&h, user, &"é".repeat(500)).await.unwrap();
    assert_eq!(r.source, RecommendationSource::Llm as i32);
    assert!(
        llm.requests("recommendation").len() == 1,
        "rejected calls never reach the LLM"
    );
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable_without_details() {
    let (h, mesh) = start_with(
        datetime!(2026-06-10 08:00 UTC),
        None,
        Some(closed_port_url()),
    )
    .await;
    let err = recommend(&h, Uuid::now_v7(), "").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(!err.message().contains("127.0.0.1"), "{}", err.message());
    assert!(usage(&h).await.is_empty());
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn a_retry_after_429_and_500_still_lets_the_model_answer() {
    let (llm, config) = stand_in().await;
    llm.script("recommendation", Reply::Status(429));
    llm.script("recommendation", Reply::Status(500));
    llm.script("recommendation", Reply::text(ANSWER));
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), Some(config)).await;
    let r = recommend(&h, Uuid::now_v7(), "").await.unwrap();
    assert_eq!(r.source, RecommendationSource::Llm as i32);
    assert_eq!(r.text, ANSWER);
    assert_eq!(llm.requests("recommendation").len(), 3);
    h.stop().await;
    mesh.stop().await;
}
