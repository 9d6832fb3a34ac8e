//! PracticeService: sessions, the question bank and the model as partner, completion with the
//! rules or the model's evaluation (repair, fallback), the event, the improvement plan, history.

use serde_json::json;
use stride_proto::{
    Event as _,
    ai_coach::{
        AnswerPath, ArchivePracticeSessionRequest, CompletePracticeSessionRequest,
        CompletePracticeSessionResponse, Evaluation, GetEvaluationRequest, GetImprovementsRequest,
        GetPracticeSessionEvaluationRequest, GetPracticeSessionRequest,
        ListPracticeSessionsRequest, ListPracticeSessionsResponse, PracticeSession,
        SendPracticeMessageRequest, StartPracticeSessionRequest,
        practice_service_client::PracticeServiceClient,
    },
    analytics::{GetEvaluationTrendsRequest, trends_service_client::TrendsServiceClient},
    events,
};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Probe, assert_invalid, reason},
    eventually,
    openai::Reply,
};
use time::macros::datetime;
use tonic::{Code, Status, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, MODEL, stand_in, start};

type Client = PracticeServiceClient<Channel>;

pub fn client(h: &Harness) -> Client {
    PracticeServiceClient::new(h.channel.clone())
}

const ANSWERS: [&str; 3] = [
    "I am a backend engineer with six years of experience. First, I built payment systems; then I led a team of four. As a result, this role fits my skills.",
    "The situation was a migration due in three weeks. My task was to move 40 services. The action: I split the work into waves because manual checks were too slow. The result: we delivered two days early.",
    "A colleague and I disagreed on an API. First, I listened; then we compared both options on data, and the outcome was a 30 percent smaller change.",
];

async fn start_session(c: &mut Client, token: &str, prep: i32) -> PracticeSession {
    c.start_practice_session(authed(
        StartPracticeSessionRequest {
            preparation_type: prep,
            ..Default::default()
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .practice_session
    .unwrap()
}

async fn say(c: &mut Client, token: &str, id: &str, text: &str) -> Result<i32, Status> {
    c.send_practice_message(authed(
        SendPracticeMessageRequest {
            practice_session_id: id.into(),
            text: text.into(),
        },
        token,
    ))
    .await
    .map(|r| r.into_inner().turn_number)
}

async fn complete(
    c: &mut Client,
    token: &str,
    id: &str,
) -> Result<CompletePracticeSessionResponse, Status> {
    c.complete_practice_session(authed(
        CompletePracticeSessionRequest {
            practice_session_id: id.into(),
        },
        token,
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// A session of `prep` with the three answers, completed.
pub async fn practised(c: &mut Client, token: &str, prep: i32) -> (PracticeSession, Evaluation) {
    let s = start_session(c, token, prep).await;
    for a in ANSWERS {
        say(c, token, &s.practice_session_id, a).await.unwrap();
    }
    let done = complete(c, token, &s.practice_session_id).await.unwrap();
    (done.practice_session.unwrap(), done.evaluation.unwrap())
}

#[tokio::test]
async fn a_session_without_a_model_runs_on_the_question_bank_and_the_rules_evaluator() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let mut c = client(&h);
    let ada = Uuid::now_v7();
    let token = h.token(ada);
    let mut probe = Probe::bind(&h.amqp, events::PracticeSessionEvaluated::TYPE).await;

    // Profile is unreachable in these tests: the request's values and the seed's defaults.
    let s = start_session(&mut c, &token, 1).await;
    assert_eq!(s.preparation_type, 1);
    assert_eq!(s.tone, "Professional & Confident");
    assert_eq!(s.status, 1);
    assert_eq!(s.transcript.len(), 1);
    let opening = &s.transcript[0].text;
    assert!(opening.starts_with("Tell me about yourself"), "{opening}");
    let id = s.practice_session_id.clone();

    let reply = c
        .send_practice_message(authed(
            SendPracticeMessageRequest {
                practice_session_id: id.clone(),
                text: ANSWERS[0].into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.turn_number, 1);
    let p = reply.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::Rules as i32);
    assert_eq!(p.reason, "no model is configured");
    assert!(
        reply
            .reply
            .unwrap()
            .text
            .contains("Tell me about a time you led a project")
    );
    assert_eq!(say(&mut c, &token, &id, ANSWERS[1]).await.unwrap(), 2);

    // Two answers: too few.
    let e = complete(&mut c, &token, &id).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert_eq!(reason(&e), "PRACTICE_TOO_FEW_TURNS");
    assert!(e.message().contains("at least 3 answers"), "{e:?}");

    assert_eq!(say(&mut c, &token, &id, ANSWERS[2]).await.unwrap(), 3);
    let done = complete(&mut c, &token, &id).await.unwrap();
    let session = done.practice_session.unwrap();
    let ev = done.evaluation.unwrap();
    assert_eq!(session.status, 2);
    assert_eq!(session.evaluation_id, ev.evaluation_id);
    assert_eq!(session.overall_score, ev.overall_score);
    assert_eq!(session.transcript.len(), 7);
    assert_eq!(ev.rubric_version, "practice.v1");
    assert_eq!(ev.dimension_scores.len(), 7, "5 universal + 2 interview");
    assert!(
        ev.dimension_scores
            .iter()
            .any(|d| d.dimension == "star_structure" && d.kind == 2)
    );
    assert!((2..=3).contains(&ev.improvement_areas.len()));
    assert!(!ev.practice_suggestions.is_empty());
    assert!((0..=100).contains(&ev.overall_score));
    let p = ev.provenance.clone().unwrap();
    assert_eq!(p.path, AnswerPath::Rules as i32);
    assert!(!p.answer_id.is_empty());

    // The event, with every field, from the outbox.
    let (_, e) = probe.delivery::<events::PracticeSessionEvaluated>().await;
    assert_eq!(e.user_id, ada.to_string());
    assert_eq!(e.practice_session_id, id);
    assert_eq!(e.overall_score, ev.overall_score);
    assert_eq!(e.timezone, "UTC");
    assert_eq!(e.local_date.unwrap().day, 10);
    assert_eq!(e.preparation_type, "Interview");
    assert_eq!(e.dimension_scores.len(), 7);
    assert!(e.dimension_scores.iter().all(|d| !d.label.is_empty()));
    assert_eq!(e.improvement_areas.len(), ev.improvement_areas.len());

    // Completed: no more messages, no second completion.
    let e = say(&mut c, &token, &id, "one more").await.unwrap_err();
    assert_eq!(reason(&e), "PRACTICE_SESSION_NOT_IN_PROGRESS");
    assert_eq!(
        complete(&mut c, &token, &id).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    // The evaluation by id and by session.
    let by_id = c
        .get_evaluation(authed(
            GetEvaluationRequest {
                evaluation_id: ev.evaluation_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation
        .unwrap();
    assert_eq!(by_id, ev);
    let by_session = c
        .get_practice_session_evaluation(authed(
            GetPracticeSessionEvaluationRequest {
                practice_session_id: id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation
        .unwrap();
    assert_eq!(by_session, ev);

    // The improvement plan.
    let plan = c
        .get_improvements(authed(GetImprovementsRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.evaluated_sessions, 1);
    assert_eq!(plan.focus_areas.len(), ev.improvement_areas.len());
    assert!(
        plan.focus_areas
            .iter()
            .all(|f| f.occurrences == 1 && !f.title.is_empty())
    );
    assert_eq!(plan.recommendations, ev.practice_suggestions);
    let overall = plan
        .rollups
        .iter()
        .find(|r| r.dimension == "overall")
        .unwrap();
    assert_eq!(
        (overall.sessions, overall.best, overall.latest),
        (1, ev.overall_score, ev.overall_score)
    );
    assert_eq!(plan.rollups.len(), 8);

    // analytics consumed the event: the trends show it.
    let trends = TrendsServiceClient::connect(format!("http://{}", mesh.analytics.grpc_addr))
        .await
        .unwrap();
    let t = eventually(
        EVENT_DEADLINE,
        "analytics trends show the evaluation",
        || {
            let mut trends = trends.clone();
            let token = token.clone();
            async move {
                let r = trends
                    .get_evaluation_trends(authed(GetEvaluationTrendsRequest::default(), &token))
                    .await
                    .ok()?
                    .into_inner();
                (r.evaluation_count == 1).then_some(r)
            }
        },
    )
    .await;
    assert_eq!(t.dimensions[0].dimension, "overall");
    assert_eq!(t.dimensions[0].points[0].score, ev.overall_score);

    // Someone else sees none of it.
    let eve = h.token(Uuid::now_v7());
    let nf = |r: Result<(), Status>| assert_eq!(r.unwrap_err().code(), Code::NotFound);
    nf(c.get_practice_session(authed(
        GetPracticeSessionRequest {
            practice_session_id: id.clone(),
        },
        &eve,
    ))
    .await
    .map(drop));
    nf(say(&mut c, &eve, &id, "hi").await.map(drop));
    nf(complete(&mut c, &eve, &id).await.map(drop));
    nf(c.archive_practice_session(authed(
        ArchivePracticeSessionRequest {
            practice_session_id: id.clone(),
        },
        &eve,
    ))
    .await
    .map(drop));
    nf(c.get_evaluation(authed(
        GetEvaluationRequest {
            evaluation_id: ev.evaluation_id.clone(),
        },
        &eve,
    ))
    .await
    .map(drop));
    nf(c.get_practice_session_evaluation(authed(
        GetPracticeSessionEvaluationRequest {
            practice_session_id: id.clone(),
        },
        &eve,
    ))
    .await
    .map(drop));
    let theirs = c
        .get_improvements(authed(GetImprovementsRequest {}, &eve))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.evaluated_sessions, 0);
    assert!(theirs.focus_areas.is_empty());

    // Bad input names the field; no token is refused.
    let e = c
        .start_practice_session(authed(
            StartPracticeSessionRequest {
                preparation_type: 42,
                tone: "a\0b".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, &["preparation_type", "tone"]);
    assert_invalid(
        &say(&mut c, &token, "not-a-uuid", "hi").await.unwrap_err(),
        &["practice_session_id"],
    );
    assert_invalid(&say(&mut c, &token, &id, " ").await.unwrap_err(), &["text"]);
    let e = c
        .get_improvements(GetImprovementsRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    mesh.stop().await;
    h.stop().await;
}

fn valid_evaluation(context: &[&str]) -> serde_json::Value {
    let mut scores = serde_json::Map::new();
    for d in [
        "clarity_structure",
        "relevance_focus",
        "confidence_delivery",
        "language_quality",
        "tone_alignment",
    ] {
        scores.insert(d.into(), json!(80));
    }
    for d in context {
        scores.insert((*d).into(), json!(50));
    }
    json!({
        "dimension_scores": scores,
        "improvement_areas": [{"dimension": "value_proposition", "area": "Name the problem first", "suggestion": "Open with the customer's pain"}],
        "practice_suggestions": ["Rehearse the first 30 seconds"],
        "summary": "Clear delivery; sharpen the value proposition."
    })
}

#[tokio::test]
async fn the_model_plays_the_partner_and_its_evaluation_is_repaired_or_replaced_by_the_rules() {
    let (llm, config) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), Some(config)).await;
    let mut c = client(&h);
    let ada = Uuid::now_v7();
    let token = h.token(ada);

    // Bad JSON, then a valid evaluation: the repair worked, the model's scores stand.
    llm.script(
        "practice.reply",
        Reply::text("Interesting. What traction do you have?"),
    );
    llm.script("practice.evaluate", Reply::Raw("{not json".into()));
    llm.script(
        "practice.evaluate",
        Reply::Json(valid_evaluation(&["value_proposition", "persuasiveness"])),
    );
    let s = start_session(&mut c, &token, 3).await;
    let id = s.practice_session_id.clone();
    let first = c
        .send_practice_message(authed(
            SendPracticeMessageRequest {
                practice_session_id: id.clone(),
                text: ANSWERS[0].into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.reply.unwrap().text,
        "Interesting. What traction do you have?"
    );
    let p = first.provenance.unwrap();
    assert_eq!(
        (p.path, p.model.as_str()),
        (AnswerPath::Model as i32, MODEL)
    );
    say(&mut c, &token, &id, ANSWERS[1]).await.unwrap();
    say(&mut c, &token, &id, ANSWERS[2]).await.unwrap();
    // The model saw the transcript: opening question, the answers, its replies.
    let asked = llm.requests("practice.reply");
    let last = asked.last().unwrap();
    let messages = last["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains("Pitch"));
    assert_eq!(messages.last().unwrap()["content"], ANSWERS[2]);

    let ev = complete(&mut c, &token, &id)
        .await
        .unwrap()
        .evaluation
        .unwrap();
    let p = ev.provenance.clone().unwrap();
    assert_eq!(p.path, AnswerPath::Model as i32, "{p:?}");
    // 0.7 × 80 + 0.3 × 50
    assert_eq!(ev.overall_score, 71);
    assert_eq!(ev.overall_label, "solid");
    assert_eq!(ev.improvement_areas[0].area, "Name the problem first");
    let evals = llm.requests("practice.evaluate");
    assert_eq!(evals.len(), 2);
    assert_eq!(evals[0]["response_format"]["type"], "json_schema");
    let repair = evals[1]["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(repair.contains("rejected"), "{repair}");

    // Schema-invalid twice (a score above 100, then an unknown dimension): the rules, with why.
    llm.script(
        "practice.evaluate",
        Reply::Json(json!({"dimension_scores": {"clarity_structure": 140}})),
    );
    let mut unknown = valid_evaluation(&["value_proposition", "persuasiveness"]);
    unknown["improvement_areas"][0]["dimension"] = json!("charisma");
    llm.script("practice.evaluate", Reply::Json(unknown));
    let (_, ev) = practised(&mut c, &token, 3).await;
    let p = ev.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::RulesFallback as i32);
    assert!(p.reason.contains("invalid twice"), "{p:?}");
    assert_eq!(ev.dimension_scores.len(), 7);

    // A model that is down: the rules at once, with the reason.
    llm.script("practice.evaluate", Reply::Status(400));
    let (_, ev) = practised(&mut c, &token, 4).await;
    assert_eq!(
        ev.provenance.unwrap().path,
        AnswerPath::RulesFallback as i32
    );

    mesh.stop().await;
    h.stop().await;
}

fn ids(r: &ListPracticeSessionsResponse) -> Vec<&str> {
    r.practice_sessions
        .iter()
        .map(|s| s.practice_session_id.as_str())
        .collect()
}

async fn history(
    c: &mut Client,
    token: &str,
    req: ListPracticeSessionsRequest,
) -> ListPracticeSessionsResponse {
    c.list_practice_sessions(authed(req, token))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn history_filters_sorts_pages_and_hides_archived_sessions() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    let (interview, _) = practised(&mut c, &token, 1).await;
    h.clock.advance(time::Duration::days(2));
    let (sales, _) = practised(&mut c, &token, 4).await;
    h.clock.advance(time::Duration::days(2));
    let open = start_session(&mut c, &token, 3).await;
    h.clock.advance(time::Duration::days(1));
    let archived = start_session(&mut c, &token, 6).await;
    c.archive_practice_session(authed(
        ArchivePracticeSessionRequest {
            practice_session_id: archived.practice_session_id.clone(),
        },
        &token,
    ))
    .await
    .unwrap();
    // Archiving twice is a no-op.
    let again = c
        .archive_practice_session(authed(
            ArchivePracticeSessionRequest {
                practice_session_id: archived.practice_session_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.practice_session.unwrap().status, 3);

    // Default: newest first, archived hidden.
    let all = history(&mut c, &token, ListPracticeSessionsRequest::default()).await;
    assert_eq!(
        ids(&all),
        [
            &open.practice_session_id,
            &sales.practice_session_id,
            &interview.practice_session_id
        ]
    );
    assert_eq!(all.total_size, 3);
    assert!(
        all.practice_sessions
            .iter()
            .all(|s| s.transcript.is_empty())
    );
    let only_archived = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            status: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&only_archived), [&archived.practice_session_id]);

    // Completed, by type, by date range, by score.
    let completed = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            status: 2,
            ascending: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(&completed),
        [&interview.practice_session_id, &sales.practice_session_id]
    );
    let mean = f64::from(interview.overall_score + sales.overall_score) / 2.0;
    assert!((completed.average_score - mean).abs() < 1e-9);
    let by_type = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            preparation_type: 4,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&by_type), [&sales.practice_session_id]);
    let d = |day| {
        Some(stride_proto::Date {
            year: 2026,
            month: 6,
            day,
        })
    };
    let window = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            start_date: d(11),
            end_date: d(12),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&window), [&sales.practice_session_id]);
    let top = interview.overall_score.max(sales.overall_score);
    let scored = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            min_score: Some(top),
            ..Default::default()
        },
    )
    .await;
    assert!(
        scored
            .practice_sessions
            .iter()
            .all(|s| s.overall_score >= top && s.status == 2)
    );
    // By type ascending: interview, pitch, sales.
    let typed = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            order_by: 3,
            ascending: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(&typed),
        [
            &interview.practice_session_id,
            &open.practice_session_id,
            &sales.practice_session_id
        ]
    );
    // By score: the unevaluated last.
    let by_score = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            order_by: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_score
            .practice_sessions
            .last()
            .unwrap()
            .practice_session_id,
        open.practice_session_id
    );

    // Pages of two.
    let p1 = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(p1.practice_sessions.len(), 2);
    assert!(!p1.next_page_token.is_empty());
    let p2 = history(
        &mut c,
        &token,
        ListPracticeSessionsRequest {
            page_size: 2,
            page_token: p1.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&p2), [&interview.practice_session_id]);
    assert!(p2.next_page_token.is_empty());

    let bad = c
        .list_practice_sessions(authed(
            ListPracticeSessionsRequest {
                status: 9,
                min_score: Some(101),
                order_by: 7,
                page_size: 101,
                page_token: "nope".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(
        &bad,
        &["status", "min_score", "order_by", "page_size", "page_token"],
    );

    mesh.stop().await;
    h.stop().await;
}
