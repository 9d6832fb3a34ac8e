//! DoubtService: rules answers grounded in the topic's lessons (or keyword guidance without a
//! topic), the model's structured answer (validated, else rules with the reason), paging,
//! another user's doubt NOT_FOUND, hostile input named.

use serde_json::json;
use stride_proto::ai_coach::{
    AnswerPath, AskDoubtRequest, Doubt, GetDoubtRequest, ListDoubtsRequest,
    doubt_service_client::DoubtServiceClient,
};
use stride_testkit::{authed, bus::assert_invalid, openai::Reply};
use time::macros::datetime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, MODEL, stand_in, start};

type Client = DoubtServiceClient<Channel>;

/// Seeded by activity-session: Biology → The cell (two lessons).
const THE_CELL: &str = "52000000-0000-4000-8000-000000000031";
const BIOLOGY: &str = "51000000-0000-4000-8000-000000000003";

fn client(h: &Harness) -> Client {
    DoubtServiceClient::new(h.channel.clone())
}

async fn ask(c: &mut Client, token: &str, question: &str, topic: &str) -> Doubt {
    c.ask_doubt(authed(
        AskDoubtRequest {
            question: question.into(),
            topic_id: topic.into(),
            ..Default::default()
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .doubt
    .unwrap()
}

#[tokio::test]
async fn rules_answer_from_the_topics_lessons_or_with_guidance() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let d = ask(&mut c, &token, "What do mitochondria do?", THE_CELL).await;
    let p = d.provenance.clone().unwrap();
    assert_eq!(p.path(), AnswerPath::Rules);
    assert_eq!(p.reason, "no model is configured");
    assert!(!p.answer_id.is_empty());
    assert_eq!(
        (d.topic_id.as_str(), d.subject_id.as_str()),
        (THE_CELL, BIOLOGY)
    );
    let a = d.answer.clone().unwrap();
    assert!(
        a.explanation.contains("release energy"),
        "{}",
        a.explanation
    );
    assert!(
        a.lessons
            .iter()
            .any(|l| l.title == "Inside the cell: organelles"),
        "{:?}",
        a.lessons
    );
    assert!(!a.steps.is_empty());

    // No topic: keyword guidance, saying no model is configured.
    let g = ask(&mut c, &token, "Why is the sky blue at noon?", "").await;
    let a = g.answer.clone().unwrap();
    assert!(
        a.explanation.contains("no model is configured"),
        "{}",
        a.explanation
    );
    assert!(!a.steps.is_empty() && a.lessons.is_empty());

    // Get and list (newest first, paged).
    let got = c
        .get_doubt(authed(
            GetDoubtRequest {
                doubt_id: d.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .doubt
        .unwrap();
    assert_eq!(got, d);
    let page = c
        .list_doubts(authed(
            ListDoubtsRequest {
                page_size: 1,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.doubts.len(), 1);
    assert_eq!(page.doubts[0].id, g.id);
    assert!(!page.next_page_token.is_empty());
    let rest = c
        .list_doubts(authed(
            ListDoubtsRequest {
                page_size: 1,
                page_token: page.next_page_token,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.doubts[0].id, d.id);

    // Another user's doubt is NOT_FOUND; so is an unknown topic.
    let other = h.token(Uuid::now_v7());
    let err = c
        .get_doubt(authed(
            GetDoubtRequest {
                doubt_id: d.id.clone(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .ask_doubt(authed(
            AskDoubtRequest {
                question: "What?".into(),
                topic_id: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    mesh.stop().await;
}

#[tokio::test]
async fn hostile_input_names_the_field() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    for (question, subject, topic, fields) in [
        ("", "", "", vec!["question"]),
        ("a\0b", "", "", vec!["question"]),
        (&*"x".repeat(2001), "", "", vec!["question"]),
        ("ok?", "nope", "also-bad", vec!["subject_id", "topic_id"]),
    ] {
        let err = c
            .ask_doubt(authed(
                AskDoubtRequest {
                    question: question.into(),
                    subject_id: subject.into(),
                    topic_id: topic.into(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_invalid(&err, &fields);
    }
    let err = c
        .get_doubt(authed(
            GetDoubtRequest {
                doubt_id: "x".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["doubt_id"]);
    let err = c
        .list_doubts(authed(
            ListDoubtsRequest {
                page_size: 0,
                page_token: "garbage".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["page_token"]);
    mesh.stop().await;
}

#[tokio::test]
async fn the_models_answer_is_validated_or_replaced_by_the_rules() {
    let (openai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), Some(cfg)).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    openai.script(
        "doubt.answer",
        Reply::Json(json!({
            "explanation": "Mitochondria release energy from food.",
            "steps": ["Find the organelle", "Read its job"],
            "key_points": ["Cellular respiration"],
            "follow_up_questions": ["What do ribosomes do?"]
        })),
    );
    let d = ask(&mut c, &token, "What do mitochondria do?", THE_CELL).await;
    let p = d.provenance.clone().unwrap();
    assert_eq!(p.path(), AnswerPath::Model);
    assert_eq!(p.model, MODEL);
    let a = d.answer.unwrap();
    assert_eq!(a.explanation, "Mitochondria release energy from food.");
    assert_eq!(a.steps.len(), 2);
    assert_eq!(a.lessons.len(), 2);
    let asked = openai.requests("doubt.answer");
    let user = asked[0]["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        user.contains("mitochondria") && user.contains("Cell theory"),
        "{user}"
    );

    // Bad JSON: the rules answer, saying why.
    openai.script("doubt.answer", Reply::Raw("{not json".into()));
    let f = ask(&mut c, &token, "What do mitochondria do?", THE_CELL).await;
    let p = f.provenance.unwrap();
    assert_eq!(p.path(), AnswerPath::RulesFallback);
    assert!(!p.reason.is_empty());
    assert!(f.answer.unwrap().explanation.contains("release energy"));

    // A usable shape with an empty explanation: rejected, rules.
    openai.script(
        "doubt.answer",
        Reply::Json(json!({
            "explanation": " ",
            "steps": [],
            "key_points": [],
            "follow_up_questions": []
        })),
    );
    let e = ask(&mut c, &token, "Why is the sky blue?", "").await;
    let p = e.provenance.unwrap();
    assert_eq!(p.path(), AnswerPath::RulesFallback);
    assert!(p.reason.contains("explanation is empty"), "{}", p.reason);
    mesh.stop().await;
}
