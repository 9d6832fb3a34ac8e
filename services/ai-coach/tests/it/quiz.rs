//! QuizService: rules quizzes from the topic's lessons, the model's quiz (validated, repaired,
//! else rules), submission (idempotent on the request id, retake = new attempt), the
//! quiz.completed.v1 event reaching analytics mastery, another user's quiz NOT_FOUND.

use serde_json::json;
use stride_proto::{
    Event as _,
    ai_coach::{
        AnswerPath, GenerateQuizRequest, GetQuizRequest, ListQuizAttemptsRequest, Quiz,
        SubmitQuizRequest, quiz_service_client::QuizServiceClient,
    },
    analytics::{GetTopicMasteryRequest, mastery_service_client::MasteryServiceClient},
    events,
};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Probe, assert_invalid},
    eventually,
    openai::Reply,
};
use time::macros::datetime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, MODEL, stand_in, start};

type Client = QuizServiceClient<Channel>;

/// Seeded by activity-session: Biology → The cell (two lessons).
const THE_CELL: &str = "52000000-0000-4000-8000-000000000031";
const BIOLOGY: &str = "51000000-0000-4000-8000-000000000003";

fn client(h: &Harness) -> Client {
    QuizServiceClient::new(h.channel.clone())
}

async fn generate(c: &mut Client, token: &str, n: i32) -> Quiz {
    c.generate_quiz(authed(
        GenerateQuizRequest {
            topic_id: THE_CELL.into(),
            question_count: n,
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .quiz
    .unwrap()
}

#[tokio::test]
async fn a_rules_quiz_is_scored_and_its_event_reaches_mastery() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let ada = Uuid::now_v7();
    let token = h.token(ada);
    let mut probe = Probe::bind(&h.amqp, events::QuizCompleted::TYPE).await;

    let quiz = generate(&mut c, &token, 3).await;
    assert_eq!(quiz.questions.len(), 3);
    assert_eq!(quiz.topic_id, THE_CELL);
    assert_eq!(quiz.subject_id, BIOLOGY);
    assert_eq!(quiz.topic_title, "The cell");
    let p = quiz.provenance.clone().unwrap();
    assert_eq!(p.path(), AnswerPath::Rules);
    assert_eq!(p.reason, "no model is configured");
    assert!(!p.answer_id.is_empty());
    for q in &quiz.questions {
        assert!(q.prompt.contains("_____"), "{}", q.prompt);
        assert!((2..=6).contains(&q.options.len()));
    }
    // Deterministic: the same topic gives the same questions.
    let again = generate(&mut c, &token, 3).await;
    assert_eq!(
        again
            .questions
            .iter()
            .map(|q| &q.prompt)
            .collect::<Vec<_>>(),
        quiz.questions.iter().map(|q| &q.prompt).collect::<Vec<_>>()
    );

    // All wrong first (the option after each correct one), to learn the right ones.
    let request = Uuid::now_v7().to_string();
    let submit = |answers: Vec<i32>, request: String| {
        let mut c = c.clone();
        let token = token.clone();
        let quiz_id = quiz.id.clone();
        async move {
            c.submit_quiz(authed(
                SubmitQuizRequest {
                    quiz_id,
                    answers,
                    request_id: request,
                },
                &token,
            ))
            .await
        }
    };
    let first = submit(vec![-1, -1, -1], request.clone())
        .await
        .unwrap()
        .into_inner()
        .attempt
        .unwrap();
    assert_eq!((first.correct_count, first.question_count), (0, 3));
    let right: Vec<i32> = first.results.iter().map(|r| r.correct_option).collect();
    // A retry with the same request id is the same attempt, even with other answers.
    let retry = submit(right.clone(), request)
        .await
        .unwrap()
        .into_inner()
        .attempt
        .unwrap();
    assert_eq!(retry.id, first.id);
    assert_eq!(retry.correct_count, 0);
    // A retake is a new attempt.
    let retake = submit(right, Uuid::now_v7().to_string())
        .await
        .unwrap()
        .into_inner()
        .attempt
        .unwrap();
    assert_ne!(retake.id, first.id);
    assert_eq!((retake.correct_count, retake.score_percent), (3, 100));

    // One event per attempt, with the topic and the counts.
    let (_, e1) = probe.delivery::<events::QuizCompleted>().await;
    let (_, e2) = probe.delivery::<events::QuizCompleted>().await;
    assert_eq!(e1.quiz_attempt_id, first.id);
    assert_eq!(e2.quiz_attempt_id, retake.id);
    assert_eq!(
        (
            e1.topic_id.as_str(),
            e1.subject_id.as_str(),
            e1.topic_title.as_str()
        ),
        (THE_CELL, BIOLOGY, "The cell")
    );
    assert_eq!((e2.correct_count, e2.question_count), (3, 3));
    assert_eq!(e2.user_id, ada.to_string());
    assert_eq!(e2.timezone, "UTC");

    // analytics mastery saw both attempts.
    let mastery = MasteryServiceClient::new(
        Channel::from_shared(format!("http://{}", mesh.analytics.grpc_addr))
            .unwrap()
            .connect_lazy(),
    );
    let topic = eventually(EVENT_DEADLINE, "mastery of the quizzed topic", || {
        let mut mastery = mastery.clone();
        let token = token.clone();
        async move {
            let r = mastery
                .get_topic_mastery(authed(GetTopicMasteryRequest::default(), &token))
                .await
                .ok()?
                .into_inner();
            r.topics
                .into_iter()
                .find(|t| t.topic_id == THE_CELL && t.quiz_attempts == 2)
        }
    })
    .await;
    assert_eq!(topic.latest_quiz_score, 100);
    assert_eq!(topic.topic_title, "The cell");

    // History, newest first, with paging.
    let page = c
        .list_quiz_attempts(authed(
            ListQuizAttemptsRequest {
                page_size: 1,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.attempts.len(), 1);
    assert_eq!(page.attempts[0].id, retake.id);
    let rest = c
        .list_quiz_attempts(authed(
            ListQuizAttemptsRequest {
                page_size: 5,
                page_token: page.next_page_token,
                topic_id: THE_CELL.into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.attempts.len(), 1);
    assert_eq!(rest.attempts[0].id, first.id);
    assert!(rest.next_page_token.is_empty());

    // Another user's quiz is NOT_FOUND, to read and to submit.
    let eve = h.token(Uuid::now_v7());
    let err = c
        .get_quiz(authed(
            GetQuizRequest {
                quiz_id: quiz.id.clone(),
            },
            &eve,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .submit_quiz(authed(
            SubmitQuizRequest {
                quiz_id: quiz.id.clone(),
                answers: vec![0, 0, 0],
                request_id: Uuid::now_v7().to_string(),
            },
            &eve,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let none = c
        .list_quiz_attempts(authed(ListQuizAttemptsRequest::default(), &eve))
        .await
        .unwrap()
        .into_inner();
    assert!(none.attempts.is_empty());
    mesh.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    let err = c
        .generate_quiz(authed(
            GenerateQuizRequest {
                topic_id: "nope\0".into(),
                question_count: 21,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["topic_id", "question_count"]);
    // An unknown topic is NOT_FOUND; too many questions for the lessons FAILED_PRECONDITION.
    let err = c
        .generate_quiz(authed(
            GenerateQuizRequest {
                topic_id: Uuid::now_v7().to_string(),
                question_count: 2,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .generate_quiz(authed(
            GenerateQuizRequest {
                topic_id: THE_CELL.into(),
                question_count: 20,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let quiz = generate(&mut c, &token, 2).await;
    for answers in [vec![0], vec![0, 9], vec![0, -2]] {
        let err = c
            .submit_quiz(authed(
                SubmitQuizRequest {
                    quiz_id: quiz.id.clone(),
                    answers,
                    request_id: Uuid::now_v7().to_string(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_invalid(&err, &["answers"]);
    }
    let err = c
        .submit_quiz(authed(
            SubmitQuizRequest {
                quiz_id: quiz.id.clone(),
                answers: vec![0, 0],
                request_id: "x".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["request_id"]);
    mesh.stop().await;
}

fn model_question(prompt: &str, options: &[&str], correct: usize) -> serde_json::Value {
    json!({"prompt": prompt, "options": options, "correct": correct, "explanation": "Because the lesson says so."})
}

#[tokio::test]
async fn the_models_quiz_is_validated_repaired_or_replaced_by_the_rules() {
    let (openai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), Some(cfg)).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    // A valid quiz: the model's.
    openai.script(
        "quiz.generate",
        Reply::Json(json!({"questions": [
            model_question("What produces energy in the cell?", &["Mitochondria", "Ribosomes", "Nucleus"], 0),
            model_question("What builds proteins?", &["Mitochondria", "Ribosomes"], 1),
        ]})),
    );
    let quiz = generate(&mut c, &token, 2).await;
    let p = quiz.provenance.clone().unwrap();
    assert_eq!(p.path(), AnswerPath::Model);
    assert_eq!(p.model, MODEL);
    assert_eq!(
        quiz.questions[0].prompt,
        "What produces energy in the cell?"
    );
    let asked = openai.requests("quiz.generate");
    let user = asked[0]["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        user.contains("The cell") && user.contains("Cell theory"),
        "{user}"
    );

    // Duplicate options, then a repaired valid one: the repair is used.
    openai.script(
        "quiz.generate",
        Reply::Json(json!({"questions": [
            model_question("Q1?", &["A", "a"], 0),
            model_question("Q2?", &["A", "B"], 1),
        ]})),
    );
    openai.script(
        "quiz.generate",
        Reply::Json(json!({"questions": [
            model_question("Q1?", &["A", "C"], 0),
            model_question("Q2?", &["A", "B"], 1),
        ]})),
    );
    let repaired = generate(&mut c, &token, 2).await;
    assert_eq!(repaired.provenance.unwrap().path(), AnswerPath::Model);
    assert_eq!(repaired.questions[0].options, vec!["A", "C"]);

    // Bad JSON, then a correct index out of range: the rules answer, saying why.
    openai.script("quiz.generate", Reply::Raw("{not json".into()));
    openai.script(
        "quiz.generate",
        Reply::Json(json!({"questions": [
            model_question("Q1?", &["A", "B"], 5),
            model_question("Q2?", &["A", "B"], 1),
        ]})),
    );
    let fallback = generate(&mut c, &token, 2).await;
    let p = fallback.provenance.unwrap();
    assert_eq!(p.path(), AnswerPath::RulesFallback);
    assert!(p.reason.contains("out of range"), "{}", p.reason);
    assert!(fallback.questions[0].prompt.contains("_____"));

    // The endpoint failing: rules.
    openai.script("quiz.generate", Reply::Status(500));
    openai.script("quiz.generate", Reply::Status(500));
    openai.script("quiz.generate", Reply::Status(500));
    openai.script("quiz.generate", Reply::Status(500));
    let down = generate(&mut c, &token, 2).await;
    assert_eq!(down.provenance.unwrap().path(), AnswerPath::RulesFallback);
    mesh.stop().await;
}
