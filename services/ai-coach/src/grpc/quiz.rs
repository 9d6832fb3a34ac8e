//! `stride.ai_coach.v1.QuizService`: quizzes on an activity-session learning topic (seed 003).
//! The topic's lessons come from activity-session's LearningService with the caller's token;
//! the model writes the questions when configured (validated, one repair attempt), the rules
//! build cloze questions from the lessons otherwise. Submitting scores the attempt and
//! publishes quiz.completed.v1 in the same transaction (analytics mastery consumes it).

use std::{sync::Arc, time::Duration};

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage,
};
use sqlx::{PgPool, types::Json};
use stride_bus::Outbox;
use stride_kit::{
    AppError, AppResult, Call, Caller, Violations, clock::SharedClock, convert, grpc::on_behalf,
    pagination::Page,
};
use stride_proto::{
    activity_session::{
        GetLessonRequest, Lesson, ListLessonsRequest, ListTopicsRequest,
        learning_service_client::LearningServiceClient,
    },
    ai_coach::{self as pb, quiz_service_server::QuizService},
    events,
    profile::{GetMyProfileRequest, profile_service_client::ProfileServiceClient},
};
use time::OffsetDateTime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::{
    answers::{self, Path, Provenance},
    domain::quiz::{self, LessonText, ModelQuiz, Question, RulesError},
    llm::{Llm, LlmErrorKind, NOT_CONFIGURED, Usage},
    prompts, quota,
    store::quiz::{self as store, AttemptRow, QuizRow},
};

pub struct Quizzes {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
    pub activity_session: Channel,
    pub profile: Channel,
    /// None: rules only.
    pub llm: Option<Arc<Llm>>,
}

stride_kit::grpc_handlers! {
    impl QuizService for Quizzes {
        fn generate_quiz(pb::GenerateQuizRequest) -> pb::GenerateQuizResponse => generate;
        fn get_quiz(pb::GetQuizRequest) -> pb::GetQuizResponse => get;
        fn submit_quiz(pb::SubmitQuizRequest) -> pb::SubmitQuizResponse => submit;
        fn list_quiz_attempts(pb::ListQuizAttemptsRequest) -> pb::ListQuizAttemptsResponse => list;
    }
}

const QUIZ: &str = "quiz";
const TOPIC: &str = "topic";
const PEER_DEADLINE: Duration = Duration::from_secs(5);
const QUIZ_TOKENS: u32 = 3000;
/// Lesson text sent to the model, at most (characters).
const MAX_LESSON_CHARS: usize = 12_000;
/// Lessons of a topic read for a quiz, at most.
const MAX_LESSONS: usize = 20;

fn peer_error(status: &tonic::Status, what: &'static str) -> AppError {
    match status.code() {
        Code::NotFound | Code::InvalidArgument => AppError::not_found(what),
        _ => {
            tracing::warn!(code = ?status.code(), message = status.message(), "learning service call failed");
            AppError::Unavailable(
                "the learning catalog cannot be reached right now; try again shortly".into(),
            )
        }
    }
}

/// The topic: its lessons (in order), subject id and title.
struct TopicLessons {
    subject_id: Uuid,
    title: String,
    lessons: Vec<Lesson>,
}

async fn topic_lessons(s: &Quizzes, caller: &Caller, topic: Uuid) -> AppResult<TopicLessons> {
    let mut client = LearningServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let mut lessons = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let r = tokio::time::timeout(
            PEER_DEADLINE,
            client.list_lessons(ListLessonsRequest {
                topic_id: topic.to_string(),
                page_size: 100,
                page_token: token.clone(),
            }),
        )
        .await
        .map_err(|_| AppError::Unavailable("the learning catalog did not answer in time".into()))?
        .map_err(|e| peer_error(&e, TOPIC))?
        .into_inner();
        lessons.extend(r.lessons);
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    // The list leaves the bodies out: each lesson is read (the first MAX_LESSONS).
    lessons.truncate(MAX_LESSONS);
    for l in &mut lessons {
        let r = tokio::time::timeout(
            PEER_DEADLINE,
            client.get_lesson(GetLessonRequest {
                lesson_id: l.id.clone(),
            }),
        )
        .await
        .map_err(|_| AppError::Unavailable("the learning catalog did not answer in time".into()))?
        .map_err(|e| peer_error(&e, TOPIC))?
        .into_inner();
        if let Some(full) = r.lesson {
            *l = full;
        }
    }
    let first = lessons.first().ok_or(AppError::not_found(TOPIC))?;
    let subject_id = convert::require_id("topic_id", &first.subject_id)?;
    // The title from the subject's topics (best effort: the lessons' topic is known to exist).
    let mut title = String::new();
    let mut token = String::new();
    for _ in 0..10 {
        let Ok(Ok(r)) = tokio::time::timeout(
            PEER_DEADLINE,
            client.list_topics(ListTopicsRequest {
                subject_id: subject_id.to_string(),
                page_size: 100,
                page_token: token.clone(),
            }),
        )
        .await
        else {
            break;
        };
        let r = r.into_inner();
        if let Some(t) = r.topics.iter().find(|t| t.id == topic.to_string()) {
            title.clone_from(&t.name);
            break;
        }
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    if title.is_empty() {
        title = lessons.first().map(|l| l.title.clone()).unwrap_or_default();
    }
    Ok(TopicLessons {
        subject_id,
        title,
        lessons,
    })
}

/// The caller's timezone from profile; UTC when profile cannot say (logged).
async fn timezone(s: &Quizzes, caller: &Caller) -> String {
    let mut client = ProfileServiceClient::new(on_behalf(&s.profile, &caller.token));
    match tokio::time::timeout(
        PEER_DEADLINE,
        client.get_my_profile(GetMyProfileRequest::default()),
    )
    .await
    {
        Ok(Ok(r)) => r
            .into_inner()
            .profile
            .map(|p| convert::timezone_or_utc(&p.timezone).to_owned())
            .unwrap_or_else(|| "UTC".to_owned()),
        Ok(Err(status)) => {
            tracing::warn!(code = ?status.code(), "profile read failed; the quiz uses UTC");
            "UTC".to_owned()
        }
        Err(_) => {
            tracing::warn!("profile read timed out; the quiz uses UTC");
            "UTC".to_owned()
        }
    }
}

fn lesson_texts(lessons: &[Lesson]) -> Vec<LessonText> {
    lessons
        .iter()
        .map(|l| LessonText {
            title: l.title.clone(),
            body: l.body_markdown.clone(),
        })
        .collect()
}

fn rules_questions(t: &TopicLessons, count: usize) -> AppResult<Vec<Question>> {
    quiz::from_lessons(&lesson_texts(&t.lessons), count).map_err(
        |RulesError::TooLittleText { available }| {
            AppError::precondition(
                "QUIZ_TOPIC_TOO_SHORT",
                format!(
                    "the topic's lessons have material for {available} questions; ask for fewer"
                ),
            )
        },
    )
}

/// The model's questions (one repair attempt after an invalid reply), else the rules'.
async fn model_questions(
    llm: &Llm,
    t: &TopicLessons,
    count: usize,
) -> AppResult<(Vec<Question>, Provenance, Usage)> {
    let prompt = prompts::get("quiz.generate");
    let mut material = String::new();
    for l in &t.lessons {
        material.push_str(&format!("## {}\n{}\n\n", l.title, l.body_markdown));
    }
    let material: String = material.chars().take(MAX_LESSON_CHARS).collect();
    let mut messages: Vec<ChatCompletionRequestMessage> = vec![
        ChatCompletionRequestSystemMessage::from(prompt.text).into(),
        ChatCompletionRequestUserMessage::from(format!(
            "Topic: {}\nQuestions: {count}\n\nLessons:\n{material}",
            t.title
        ))
        .into(),
    ];
    let schema = quiz::schema();
    let mut usage = Usage::default();
    let mut reason = String::new();
    for _ in 0..2 {
        match llm
            .structured::<ModelQuiz>(
                "quiz.generate",
                messages.clone(),
                "quiz",
                &schema,
                QUIZ_TOKENS,
            )
            .await
        {
            Ok((q, c)) => {
                usage = usage + c.usage;
                match quiz::accept(q, count) {
                    Ok(questions) => return Ok((questions, Provenance::model(c.model), usage)),
                    Err(why) => {
                        reason = format!("the model's quiz was unusable: {why}");
                        messages.push(
                            ChatCompletionRequestUserMessage::from(format!(
                                "Your quiz was rejected: {why}. Write it again, following the rules exactly."
                            ))
                            .into(),
                        );
                    }
                }
            }
            Err(e) if e.kind == LlmErrorKind::Invalid => {
                reason.clone_from(&e.reason);
                messages.push(
                    ChatCompletionRequestUserMessage::from(format!(
                        "Your reply was rejected: {}. Answer with JSON matching the schema.",
                        e.reason
                    ))
                    .into(),
                );
            }
            Err(e) => {
                reason = e.reason;
                break;
            }
        }
    }
    let questions = rules_questions(t, count)?;
    Ok((
        questions,
        Provenance::fallback(reason).with_model(llm.model()),
        usage,
    ))
}

async fn generate(
    s: &Quizzes,
    call: Call<pb::GenerateQuizRequest>,
) -> AppResult<pb::GenerateQuizResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let topic = convert::parse_id(&mut v, "topic_id", &m.topic_id);
    let count = quiz::question_count(m.question_count).unwrap_or_else(|e| {
        v.add("question_count", e);
        0
    });
    v.check()?;
    if s.llm.is_some() {
        let mut conn = s.pool.acquire().await?;
        quota::charge(&mut conn, caller.user_id, &s.clock).await?;
    }
    let t = topic_lessons(s, caller, topic).await?;
    let (questions, provenance, usage) = match &s.llm {
        None => (
            rules_questions(&t, count)?,
            Provenance::rules(NOT_CONFIGURED),
            Usage::default(),
        ),
        Some(llm) => model_questions(&llm.for_user(caller.user_id), &t, count).await?,
    };
    let tz = timezone(s, caller).await;
    let at = s.clock.now_db();
    let mut tx = s.pool.begin().await?;
    let answer = answers::record_at(
        &mut tx,
        caller.user_id,
        "quiz",
        &provenance,
        usage,
        Some(at),
    )
    .await?;
    let row = QuizRow {
        id: Uuid::now_v7(),
        user_id: caller.user_id,
        topic_id: topic,
        subject_id: t.subject_id,
        topic_title: t.title,
        questions: Json(questions),
        path: provenance.path.as_str().to_owned(),
        model: provenance.model.clone(),
        reason: provenance.reason.clone(),
        answer_id: answer,
        timezone: tz,
        created_at: at,
    };
    store::insert_quiz(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(pb::GenerateQuizResponse {
        quiz: Some(quiz_to_proto(&row)),
    })
}

fn quiz_to_proto(r: &QuizRow) -> pb::Quiz {
    let path = Path::from_db(&r.path).unwrap_or(Path::Rules);
    let provenance = Provenance {
        path,
        model: r.model.clone(),
        reason: r.reason.clone(),
        answer_id: Some(r.answer_id),
    };
    pb::Quiz {
        id: r.id.to_string(),
        topic_id: r.topic_id.to_string(),
        subject_id: r.subject_id.to_string(),
        topic_title: r.topic_title.clone(),
        questions: r
            .questions
            .0
            .iter()
            .enumerate()
            .map(|(i, q)| pb::QuizQuestion {
                index: i32::try_from(i).unwrap_or(i32::MAX),
                prompt: q.prompt.clone(),
                options: q.options.clone(),
            })
            .collect(),
        provenance: Some(provenance.into_proto()),
        create_time: Some(convert::timestamp(r.created_at)),
    }
}

async fn get(s: &Quizzes, call: Call<pb::GetQuizRequest>) -> AppResult<pb::GetQuizResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("quiz_id", &call.message.quiz_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::quiz(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found(QUIZ))?;
    Ok(pb::GetQuizResponse {
        quiz: Some(quiz_to_proto(&row)),
    })
}

async fn submit(
    s: &Quizzes,
    call: Call<pb::SubmitQuizRequest>,
) -> AppResult<pb::SubmitQuizResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let id = convert::parse_id(&mut v, "quiz_id", &m.quiz_id);
    let request = convert::parse_id(&mut v, "request_id", &m.request_id);
    v.when(
        m.answers.len() > quiz::MAX_QUESTIONS,
        "answers",
        "has more answers than a quiz has questions",
    );
    v.check()?;
    let mut tx = s.outbox.begin().await?;
    // A retry of a submission already made answers with the same attempt.
    if let Some(done) = store::attempt_by_request(&mut tx, caller.user_id, request).await? {
        if done.quiz_id != id {
            return Err(AppError::invalid(
                "request_id",
                "was already used for another quiz",
            ));
        }
        return Ok(pb::SubmitQuizResponse {
            attempt: Some(attempt_to_proto(&done)),
        });
    }
    let q = store::quiz(&mut tx, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found(QUIZ))?;
    let score =
        quiz::score(&q.questions.0, &m.answers).map_err(|e| AppError::invalid("answers", &e))?;
    let at = s.clock.now_db();
    let row = AttemptRow {
        id: Uuid::now_v7(),
        user_id: caller.user_id,
        quiz_id: q.id,
        request_id: request,
        topic_id: q.topic_id,
        topic_title: q.topic_title.clone(),
        answers: m.answers.clone(),
        results: Json(score.results),
        correct_count: score.correct,
        question_count: score.total,
        created_at: at,
    };
    if !store::insert_attempt(&mut tx, &row).await? {
        // A concurrent retry won the race: answer with its attempt.
        drop(tx);
        let mut conn = s.pool.acquire().await?;
        let done = store::attempt_by_request(&mut conn, caller.user_id, request)
            .await?
            .ok_or(AppError::not_found(QUIZ))?;
        return Ok(pb::SubmitQuizResponse {
            attempt: Some(attempt_to_proto(&done)),
        });
    }
    tx.publish(&completed(&q, &row, at)).await?;
    tx.commit().await?;
    Ok(pb::SubmitQuizResponse {
        attempt: Some(attempt_to_proto(&row)),
    })
}

fn completed(q: &QuizRow, a: &AttemptRow, at: OffsetDateTime) -> events::QuizCompleted {
    events::QuizCompleted {
        user_id: a.user_id.to_string(),
        quiz_attempt_id: a.id.to_string(),
        topic_id: q.topic_id.to_string(),
        subject_id: q.subject_id.to_string(),
        topic_title: q.topic_title.clone(),
        correct_count: a.correct_count,
        question_count: a.question_count,
        submit_time: Some(convert::timestamp(at)),
        local_date: Some(convert::date(convert::local_date(at, &q.timezone))),
        timezone: q.timezone.clone(),
    }
}

fn attempt_to_proto(a: &AttemptRow) -> pb::QuizAttempt {
    pb::QuizAttempt {
        id: a.id.to_string(),
        quiz_id: a.quiz_id.to_string(),
        topic_id: a.topic_id.to_string(),
        topic_title: a.topic_title.clone(),
        correct_count: a.correct_count,
        question_count: a.question_count,
        score_percent: quiz::percent(a.correct_count, a.question_count),
        results: a
            .results
            .0
            .iter()
            .map(|r| pb::QuestionResult {
                index: i32::try_from(r.index).unwrap_or(i32::MAX),
                chosen_option: r.chosen,
                correct_option: i32::try_from(r.correct_option).unwrap_or(i32::MAX),
                correct: r.correct,
                explanation: r.explanation.clone(),
            })
            .collect(),
        submit_time: Some(convert::timestamp(a.created_at)),
    }
}

async fn list(
    s: &Quizzes,
    call: Call<pb::ListQuizAttemptsRequest>,
) -> AppResult<pb::ListQuizAttemptsResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let topic =
        (!m.topic_id.is_empty()).then(|| convert::parse_id(&mut v, "topic_id", &m.topic_id));
    let page: Page<(i64, Uuid)> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let after = page.after().and_then(|(nanos, id)| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(*nanos))
            .ok()
            .map(|t| (t, *id))
    });
    let mut conn = s.pool.acquire().await?;
    let rows = store::attempts(&mut conn, caller.user_id, topic, after, page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| {
        (
            i64::try_from(r.created_at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            r.id,
        )
    });
    Ok(pb::ListQuizAttemptsResponse {
        attempts: rows.iter().map(attempt_to_proto).collect(),
        next_page_token,
    })
}
