//! `stride.ai_coach.v1.DoubtService`: the doubt solver (seed 003). A question, optionally on an
//! activity-session learning topic (its lessons read with the caller's token), answered in a
//! structured shape by the model (validated; RULES_FALLBACK with the reason otherwise) or by the
//! rules (the lessons' matching sentences, or keyword guidance without a topic).

use std::{sync::Arc, time::Duration};

use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
};
use sqlx::{PgPool, types::Json};
use stride_kit::{
    AppError, AppResult, Call, Caller, Violations, clock::SharedClock, convert, grpc::on_behalf,
    pagination::Page,
};
use stride_proto::{
    activity_session::{
        GetLessonRequest, ListLessonsRequest, learning_service_client::LearningServiceClient,
    },
    ai_coach::{self as pb, doubt_service_server::DoubtService},
};
use time::OffsetDateTime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::{
    answers::{self, Path, Provenance},
    domain::doubt::{self, Answer, LessonText, ModelAnswer},
    llm::{Llm, NOT_CONFIGURED, Usage},
    prompts, quota,
    store::doubt::{self as store, DoubtRow},
};

pub struct Doubts {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub activity_session: Channel,
    /// None: rules only.
    pub llm: Option<Arc<Llm>>,
}

stride_kit::grpc_handlers! {
    impl DoubtService for Doubts {
        fn ask_doubt(pb::AskDoubtRequest) -> pb::AskDoubtResponse => ask;
        fn list_doubts(pb::ListDoubtsRequest) -> pb::ListDoubtsResponse => list;
        fn get_doubt(pb::GetDoubtRequest) -> pb::GetDoubtResponse => get;
    }
}

const DOUBT: &str = "doubt";
const TOPIC: &str = "topic";
const PEER_DEADLINE: Duration = Duration::from_secs(5);
const DOUBT_TOKENS: u32 = 2000;
const MAX_LESSONS: usize = 10;
const MAX_LESSON_CHARS: usize = 12_000;

fn peer_error(status: &tonic::Status) -> AppError {
    match status.code() {
        Code::NotFound | Code::InvalidArgument => AppError::not_found(TOPIC),
        _ => {
            tracing::warn!(code = ?status.code(), message = status.message(), "learning service call failed");
            AppError::Unavailable(
                "the learning catalog cannot be reached right now; try again shortly".into(),
            )
        }
    }
}

/// The topic's lessons (first MAX_LESSONS, with bodies) and its subject id.
async fn topic_lessons(
    s: &Doubts,
    caller: &Caller,
    topic: Uuid,
) -> AppResult<(Vec<LessonText>, Option<Uuid>)> {
    let mut client = LearningServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let timeout = || AppError::Unavailable("the learning catalog did not answer in time".into());
    let list = tokio::time::timeout(
        PEER_DEADLINE,
        client.list_lessons(ListLessonsRequest {
            topic_id: topic.to_string(),
            page_size: 100,
            page_token: String::new(),
        }),
    )
    .await
    .map_err(|_| timeout())?
    .map_err(|e| peer_error(&e))?
    .into_inner();
    let mut out = Vec::new();
    let mut subject = None;
    for l in list.lessons.into_iter().take(MAX_LESSONS) {
        let full = tokio::time::timeout(
            PEER_DEADLINE,
            client.get_lesson(GetLessonRequest {
                lesson_id: l.id.clone(),
            }),
        )
        .await
        .map_err(|_| timeout())?
        .map_err(|e| peer_error(&e))?
        .into_inner()
        .lesson
        .unwrap_or(l);
        if subject.is_none() {
            subject = Uuid::parse_str(&full.subject_id).ok();
        }
        out.push(LessonText {
            id: full.id,
            title: full.title,
            body: full.body_markdown,
        });
    }
    if out.is_empty() {
        return Err(AppError::not_found(TOPIC));
    }
    Ok((out, subject))
}

/// The model's answer, validated; Err is the fallback reason.
async fn model_answer(
    llm: &Llm,
    question: &str,
    lessons: &[LessonText],
) -> (Result<(Answer, String), String>, Usage) {
    let mut material = String::new();
    for l in lessons {
        material.push_str(&format!("## {}\n{}\n\n", l.title, l.body));
    }
    let material: String = material.chars().take(MAX_LESSON_CHARS).collect();
    let user = if material.is_empty() {
        format!("Question: {question}")
    } else {
        format!("Question: {question}\n\nLessons:\n{material}")
    };
    let messages = vec![
        ChatCompletionRequestSystemMessage::from(prompts::get("doubt.answer").text).into(),
        ChatCompletionRequestUserMessage::from(user).into(),
    ];
    match llm
        .structured::<ModelAnswer>(
            "doubt.answer",
            messages,
            "doubt_answer",
            &doubt::schema(),
            DOUBT_TOKENS,
        )
        .await
    {
        Ok((m, c)) => (
            doubt::accept(m, lessons)
                .map(|a| (a, c.model))
                .map_err(|why| format!("the model's answer was unusable: {why}")),
            c.usage,
        ),
        Err(e) => (Err(e.reason), Usage::default()),
    }
}

async fn ask(s: &Doubts, call: Call<pb::AskDoubtRequest>) -> AppResult<pb::AskDoubtResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let question = doubt::question(&m.question).unwrap_or_else(|e| {
        v.add("question", e);
        String::new()
    });
    let subject =
        (!m.subject_id.is_empty()).then(|| convert::parse_id(&mut v, "subject_id", &m.subject_id));
    let topic =
        (!m.topic_id.is_empty()).then(|| convert::parse_id(&mut v, "topic_id", &m.topic_id));
    v.check()?;
    if s.llm.is_some() {
        let mut conn = s.pool.acquire().await?;
        quota::charge(&mut conn, caller.user_id, &s.clock).await?;
    }
    let (lessons, topic_subject) = match topic {
        Some(t) => topic_lessons(s, caller, t).await?,
        None => (Vec::new(), None),
    };
    let (answer, provenance, usage) = match &s.llm {
        None => (
            doubt::rules_answer(&question, &lessons, NOT_CONFIGURED),
            Provenance::rules(NOT_CONFIGURED),
            Usage::default(),
        ),
        Some(llm) => match model_answer(&llm.for_user(caller.user_id), &question, &lessons).await {
            (Ok((a, model)), usage) => (a, Provenance::model(model), usage),
            (Err(reason), usage) => (
                doubt::rules_answer(&question, &lessons, &reason),
                Provenance::fallback(reason).with_model(llm.model()),
                usage,
            ),
        },
    };
    let at = s.clock.now_db();
    let mut tx = s.pool.begin().await?;
    let answer_id =
        answers::record_at(&mut tx, caller.user_id, DOUBT, &provenance, usage, Some(at)).await?;
    let row = DoubtRow {
        id: Uuid::now_v7(),
        user_id: caller.user_id,
        question,
        subject_id: subject.or(topic_subject),
        topic_id: topic,
        answer: Json(answer),
        path: provenance.path.as_str().to_owned(),
        model: provenance.model.clone(),
        reason: provenance.reason.clone(),
        answer_id,
        created_at: at,
    };
    store::insert(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(pb::AskDoubtResponse {
        doubt: Some(to_proto(&row)),
    })
}

fn to_proto(r: &DoubtRow) -> pb::Doubt {
    let provenance = Provenance {
        path: Path::from_db(&r.path).unwrap_or(Path::Rules),
        model: r.model.clone(),
        reason: r.reason.clone(),
        answer_id: Some(r.answer_id),
    };
    let a = &r.answer.0;
    pb::Doubt {
        id: r.id.to_string(),
        question: r.question.clone(),
        subject_id: r.subject_id.map(|u| u.to_string()).unwrap_or_default(),
        topic_id: r.topic_id.map(|u| u.to_string()).unwrap_or_default(),
        answer: Some(pb::DoubtAnswer {
            explanation: a.explanation.clone(),
            steps: a.steps.clone(),
            key_points: a.key_points.clone(),
            follow_up_questions: a.follow_up_questions.clone(),
            citations: Vec::new(),
            lessons: a
                .lessons
                .iter()
                .map(|(id, title)| pb::LessonReference {
                    lesson_id: id.clone(),
                    title: title.clone(),
                })
                .collect(),
        }),
        provenance: Some(provenance.into_proto()),
        create_time: Some(convert::timestamp(r.created_at)),
    }
}

async fn get(s: &Doubts, call: Call<pb::GetDoubtRequest>) -> AppResult<pb::GetDoubtResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("doubt_id", &call.message.doubt_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::get(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found(DOUBT))?;
    Ok(pb::GetDoubtResponse {
        doubt: Some(to_proto(&row)),
    })
}

async fn list(s: &Doubts, call: Call<pb::ListDoubtsRequest>) -> AppResult<pb::ListDoubtsResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let page: Page<(i64, Uuid)> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let after = page.after().and_then(|(nanos, id)| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(*nanos))
            .ok()
            .map(|t| (t, *id))
    });
    let mut conn = s.pool.acquire().await?;
    let rows = store::list(&mut conn, caller.user_id, after, page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| {
        (
            i64::try_from(r.created_at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            r.id,
        )
    });
    Ok(pb::ListDoubtsResponse {
        doubts: rows.iter().map(to_proto).collect(),
        next_page_token,
    })
}
