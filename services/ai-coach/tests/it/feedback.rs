//! FeedbackService: ratings on the caller's own answers, admin stats per kind and path, usage
//! against the daily quota (and the quota refusing once reached).

use stride_ai_coach::{
    answers::{self, Provenance},
    llm::Usage,
};
use stride_proto::ai_coach::{
    GetFeedbackStatsRequest, GetMyUsageRequest, Rating, SubmitFeedbackRequest,
    feedback_service_client::FeedbackServiceClient,
};
use stride_testkit::{authed, bus::assert_invalid};
use time::macros::datetime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, recommend, stand_in, start, start_with_quota};

async fn client(h: &Harness) -> FeedbackServiceClient<Channel> {
    FeedbackServiceClient::connect(format!("http://{}", h.running.grpc_addr))
        .await
        .unwrap()
}

async fn answer(h: &Harness, user: Uuid, kind: &str, p: Provenance, usage: Usage) -> Uuid {
    let mut conn = h.db.acquire().await.unwrap();
    answers::record(&mut conn, user, kind, &p, usage)
        .await
        .unwrap()
}

fn rate(answer: Uuid, rating: Rating, comment: &str) -> SubmitFeedbackRequest {
    SubmitFeedbackRequest {
        answer_id: answer.to_string(),
        rating: rating as i32,
        comment: comment.into(),
    }
}

#[tokio::test]
async fn feedback_is_one_per_own_answer_and_admins_see_the_stats() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let mut c = client(&h).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let a1 = answer(
        &h,
        ada,
        "chat",
        Provenance::model("m"),
        Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
        },
    )
    .await;
    let a2 = answer(
        &h,
        ada,
        "chat",
        Provenance::fallback("the model answered with HTTP 500"),
        Usage::default(),
    )
    .await;
    let b1 = answer(
        &h,
        bob,
        "plan",
        Provenance::not_configured(),
        Usage::default(),
    )
    .await;

    let f = c
        .submit_feedback(authed(
            rate(a1, Rating::Negative, "too vague"),
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    assert_eq!(
        (f.rating, f.comment.as_str()),
        (Rating::Negative as i32, "too vague")
    );
    // Re-submitting replaces.
    c.submit_feedback(authed(rate(a1, Rating::Positive, ""), &h.token(ada)))
        .await
        .unwrap();
    c.submit_feedback(authed(rate(b1, Rating::Negative, ""), &h.token(bob)))
        .await
        .unwrap();
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT answer_id, rating FROM answer_feedback ORDER BY answer_id")
            .fetch_all(&h.db)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [(a1, "positive".to_owned()), (b1, "negative".to_owned())]
    );

    // Another user's answer, and one that does not exist, are NOT_FOUND.
    let err = c
        .submit_feedback(authed(rate(b1, Rating::Positive, ""), &h.token(ada)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .submit_feedback(authed(
            rate(Uuid::now_v7(), Rating::Positive, ""),
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Bad input names the field.
    let err = c
        .submit_feedback(authed(
            rate(a2, Rating::Unspecified, &"x".repeat(1001)),
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["rating", "comment"]);
    let err = c
        .submit_feedback(authed(
            SubmitFeedbackRequest {
                answer_id: "nope\0".into(),
                rating: 1,
                comment: String::new(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["answer_id"]);

    // Stats are for admins only.
    let err = c
        .get_feedback_stats(authed(GetFeedbackStatsRequest::default(), &h.token(ada)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let admin = h.token_with_roles(Uuid::now_v7(), &["user", "admin"]);
    let stats = c
        .get_feedback_stats(authed(GetFeedbackStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .stats;
    let got: Vec<_> = stats
        .iter()
        .map(|s| {
            (
                s.kind.as_str(),
                s.path.as_str(),
                s.answers,
                s.positive,
                s.negative,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("chat", "model", 1, 1, 0),
            ("chat", "rules_fallback", 1, 0, 0),
            ("plan", "rules", 1, 0, 1),
        ]
    );
    assert_eq!(stats[0].positive_ratio, 1.0);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn the_daily_quota_refuses_model_answers_beyond_the_limit() {
    let (_ai, config) = stand_in().await;
    let (h, mesh) = start_with_quota(datetime!(2026-06-10 08:00 UTC), Some(config), 2).await;
    let ada = Uuid::now_v7();
    for _ in 0..2 {
        recommend(&h, ada, "").await.unwrap();
    }
    let err = recommend(&h, ada, "").await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("limit of 2"), "{}", err.message());
    // Another user has their own quota; the next UTC day resets it.
    recommend(&h, Uuid::now_v7(), "").await.unwrap();
    let usage = client(&h)
        .await
        .get_my_usage(authed(GetMyUsageRequest {}, &h.token(ada)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((usage.calls_today, usage.daily_quota), (2, 2));
    assert_eq!(
        usage.resets_at.unwrap().seconds,
        datetime!(2026-06-11 00:00 UTC).unix_timestamp()
    );
    h.clock.advance(time::Duration::hours(16));
    recommend(&h, ada, "").await.unwrap();
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn usage_counts_todays_tokens() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let ada = Uuid::now_v7();
    answer(
        &h,
        ada,
        "chat",
        Provenance::model("m"),
        Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
        },
    )
    .await;
    answer(
        &h,
        ada,
        "doubt",
        Provenance::model("m"),
        Usage {
            prompt_tokens: 50,
            completion_tokens: 10,
        },
    )
    .await;
    let u = client(&h)
        .await
        .get_my_usage(authed(GetMyUsageRequest {}, &h.token(ada)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (u.prompt_tokens_today, u.completion_tokens_today),
        (150, 30)
    );
    assert_eq!(u.daily_quota, 200);
    h.stop().await;
    mesh.stop().await;
}
