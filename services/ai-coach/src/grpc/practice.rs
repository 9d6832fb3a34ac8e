//! `stride.ai_coach.v1.PracticeService`: practice sessions (seed 002), their evaluation and the
//! caller's improvement plan. Model calls happen outside transactions; the write that follows
//! re-checks the session under its row lock.

use std::{sync::Arc, time::Duration};

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
};
use serde_json::json;
use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::{
    AppError, AppResult, Call, Caller, Violations, clock::SharedClock, convert, grpc::on_behalf,
    pagination::Page,
};
use stride_proto::{
    ai_coach::{self as pb, practice_service_server::PracticeService},
    events,
    profile::{GetMyProfileRequest, Profile, profile_service_client::ProfileServiceClient},
};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    answers::{self, Provenance},
    domain::{
        evaluation::{self, Evaluation, ModelEvaluation, RUBRIC, Rubric},
        practice::{self, Message, PrepType, ProfileDefaults, Role, Status},
    },
    llm::{Llm, LlmErrorKind, NOT_CONFIGURED, Usage},
    prompts, quota,
    store::practice::{self as store, EvaluationRow, Filter, Order, SessionRow},
};

pub struct Practice {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
    pub profile: Channel,
    /// None: rules only.
    pub llm: Option<Arc<Llm>>,
}

stride_kit::grpc_handlers! {
    impl PracticeService for Practice {
        fn start_practice_session(pb::StartPracticeSessionRequest) -> pb::StartPracticeSessionResponse => start;
        fn get_practice_session(pb::GetPracticeSessionRequest) -> pb::GetPracticeSessionResponse => get;
        fn list_practice_sessions(pb::ListPracticeSessionsRequest) -> pb::ListPracticeSessionsResponse => list;
        fn send_practice_message(pb::SendPracticeMessageRequest) -> pb::SendPracticeMessageResponse => send;
        fn complete_practice_session(pb::CompletePracticeSessionRequest) -> pb::CompletePracticeSessionResponse => complete;
        fn archive_practice_session(pb::ArchivePracticeSessionRequest) -> pb::ArchivePracticeSessionResponse => archive;
        fn get_evaluation(pb::GetEvaluationRequest) -> pb::GetEvaluationResponse => get_evaluation;
        fn get_practice_session_evaluation(pb::GetPracticeSessionEvaluationRequest) -> pb::GetPracticeSessionEvaluationResponse => get_session_evaluation;
        fn get_improvements(pb::GetImprovementsRequest) -> pb::GetImprovementsResponse => get_improvements;
    }
}

const SESSION: &str = "practice session";
const EVALUATION: &str = "evaluation";
/// How long a profile read may take before the coach does without it.
const PROFILE_DEADLINE: Duration = Duration::from_secs(3);
const REPLY_TOKENS: u32 = 300;
const EVALUATION_TOKENS: u32 = 1500;
/// The longest model reply kept in the transcript.
const MAX_REPLY_CHARS: usize = 1200;

fn rubric() -> AppResult<&'static Rubric> {
    RUBRIC
        .as_ref()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the practice rubric does not parse")))
}

/// The caller's profile, or None when profile cannot answer in time (logged): a session then
/// starts from the request's own values and the seed's defaults (ADR 0023).
async fn profile(s: &Practice, caller: &Caller) -> Option<Profile> {
    let mut client = ProfileServiceClient::new(on_behalf(&s.profile, &caller.token));
    match tokio::time::timeout(
        PROFILE_DEADLINE,
        client.get_my_profile(GetMyProfileRequest::default()),
    )
    .await
    {
        Ok(Ok(r)) => r.into_inner().profile,
        Ok(Err(status)) => {
            tracing::warn!(code = ?status.code(), message = status.message(), "profile read failed; practice goes on without it");
            None
        }
        Err(_) => {
            tracing::warn!("profile read timed out; practice goes on without it");
            None
        }
    }
}

fn defaults(p: Option<&Profile>) -> ProfileDefaults {
    let Some(practice) = p.and_then(|p| p.practice.as_ref()) else {
        return ProfileDefaults::default();
    };
    ProfileDefaults {
        prep: PrepType::from_proto(practice.preparation_type)
            .ok()
            .flatten(),
        meeting_subtype: practice.meeting_subtype.clone(),
        agenda: practice.agenda.clone(),
        tone: practice.tone.clone(),
        focus: practice
            .training_focus
            .as_ref()
            .map(|f| f.title.clone())
            .unwrap_or_default(),
    }
}

async fn start(
    s: &Practice,
    call: Call<pb::StartPracticeSessionRequest>,
) -> AppResult<pb::StartPracticeSessionResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let asked = practice::check_start(
        m.preparation_type,
        &m.meeting_subtype,
        &m.agenda,
        &m.tone,
        &m.focus,
    )?;
    let profile = profile(s, caller).await;
    let ctx = practice::context(asked, &defaults(profile.as_ref()));
    let timezone = profile
        .as_ref()
        .map(|p| convert::timezone_or_utc(&p.timezone).to_owned())
        .unwrap_or_else(|| "UTC".to_owned());
    let id = Uuid::now_v7();
    let at = s.clock.now_db();
    let opening = practice::opening(&ctx);
    let mut tx = s.pool.begin().await?;
    store::insert_session(
        &mut tx,
        &store::NewSession {
            id,
            user: caller.user_id,
            preparation_type: ctx.prep.as_str(),
            meeting_subtype: &ctx.meeting_subtype,
            agenda: &ctx.agenda,
            tone: &ctx.tone,
            focus: &ctx.focus,
            timezone: &timezone,
            at,
        },
    )
    .await?;
    store::append_message(&mut tx, id, Role::Coach.as_str(), &opening, 0, at).await?;
    tx.commit().await?;
    let mut conn = s.pool.acquire().await?;
    Ok(pb::StartPracticeSessionResponse {
        practice_session: Some(full_session(&mut conn, caller.user_id, id).await?),
    })
}

fn parse_session_id(raw: &str) -> AppResult<Uuid> {
    convert::require_id("practice_session_id", raw)
}

/// The caller's session with its transcript; another user's is NOT_FOUND.
async fn full_session(
    conn: &mut sqlx::PgConnection,
    user: Uuid,
    id: Uuid,
) -> AppResult<pb::PracticeSession> {
    let row = store::session(conn, user, id, false)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    let transcript = store::transcript(conn, id).await?;
    let mut out = session_to_proto(&row);
    out.transcript = transcript
        .into_iter()
        .map(|m| pb::PracticeMessage {
            role: Role::from_db(&m.role)
                .map(Role::to_proto)
                .unwrap_or_default(),
            text: m.text,
            turn_number: m.turn,
            create_time: Some(convert::timestamp(m.created_at)),
        })
        .collect();
    Ok(out)
}

async fn get(
    s: &Practice,
    call: Call<pb::GetPracticeSessionRequest>,
) -> AppResult<pb::GetPracticeSessionResponse> {
    let caller = call.caller()?;
    let id = parse_session_id(&call.message.practice_session_id)?;
    let mut conn = s.pool.acquire().await?;
    Ok(pb::GetPracticeSessionResponse {
        practice_session: Some(full_session(&mut conn, caller.user_id, id).await?),
    })
}

async fn list(
    s: &Practice,
    call: Call<pb::ListPracticeSessionsRequest>,
) -> AppResult<pb::ListPracticeSessionsResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let status = Status::from_proto(m.status).unwrap_or_else(|()| {
        v.add("status", "is not a known status");
        None
    });
    let prep = PrepType::from_proto(m.preparation_type).unwrap_or_else(|()| {
        v.add("preparation_type", "is not a known preparation type");
        None
    });
    let mut date = |field: &str, d: &Option<stride_proto::Date>| {
        d.as_ref().and_then(|d| {
            let parsed = convert::from_date(d);
            if parsed.is_none() {
                v.add(field, "is not a valid date");
            }
            parsed
        })
    };
    let start = date("start_date", &m.start_date);
    let end = date("end_date", &m.end_date);
    if let (Some(a), Some(b)) = (start, end) {
        v.when(a > b, "end_date", "must not be before start_date");
    }
    for (field, score) in [("min_score", m.min_score), ("max_score", m.max_score)] {
        v.when(
            score.is_some_and(|s| !(0..=100).contains(&s)),
            field,
            "must be between 0 and 100",
        );
    }
    if let (Some(a), Some(b)) = (m.min_score, m.max_score) {
        v.when(a > b, "max_score", "must not be below min_score");
    }
    let order = match m.order_by {
        0 | 1 => Order::Date,
        2 => Order::Score,
        3 => Order::Type,
        _ => {
            v.add("order_by", "is not a known order");
            Order::Date
        }
    };
    // The cursor is the offset of the next page: sorts by score or type have no stable key
    // the caller could continue from otherwise.
    let page: Page<i64> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let offset = page.after().copied().unwrap_or(0).max(0);
    let filter = Filter {
        status: status.map(Status::as_str),
        preparation_type: prep.map(PrepType::as_str),
        start,
        end,
        min_score: m.min_score,
        max_score: m.max_score,
    };
    let mut conn = s.pool.acquire().await?;
    let (rows, total, average) = store::list(
        &mut conn,
        caller.user_id,
        &filter,
        order,
        m.ascending,
        offset,
        page.fetch_limit(),
    )
    .await?;
    let size = i64::try_from(page.size()).unwrap_or(20);
    let (rows, next) = page.finish(rows, |_| offset + size);
    Ok(pb::ListPracticeSessionsResponse {
        practice_sessions: rows.iter().map(session_to_proto).collect(),
        next_page_token: next,
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
        average_score: average.unwrap_or(0.0),
    })
}

fn transcript_of(rows: Vec<store::MessageRow>) -> Vec<Message> {
    rows.into_iter()
        .filter_map(|m| {
            Some(Message {
                role: Role::from_db(&m.role)?,
                text: m.text,
                turn: m.turn,
            })
        })
        .collect()
}

fn fill(template: &str, row: &SessionRow, prep: PrepType) -> String {
    let or_none = |s: &str| {
        if s.is_empty() {
            "(none)".to_owned()
        } else {
            s.to_owned()
        }
    };
    template
        .replace("{preparation_type}", prep.title())
        .replace("{meeting_subtype}", &or_none(&row.meeting_subtype))
        .replace("{agenda}", &or_none(&row.agenda))
        .replace("{tone}", &row.tone)
        .replace("{focus}", &or_none(&row.focus))
}

/// The model's messages for the next reply: the prompt, the summary of older turns, the last
/// ten turns verbatim (seed 002).
fn reply_messages(
    row: &SessionRow,
    prep: PrepType,
    transcript: &[Message],
) -> Vec<ChatCompletionRequestMessage> {
    let (summary, recent) = practice::context_window(transcript);
    let mut messages: Vec<ChatCompletionRequestMessage> = vec![
        ChatCompletionRequestSystemMessage::from(fill(
            prompts::get("practice.reply").text,
            row,
            prep,
        ))
        .into(),
    ];
    if !summary.is_empty() {
        messages.push(ChatCompletionRequestSystemMessage::from(summary).into());
    }
    for m in recent {
        messages.push(match m.role {
            Role::Coach => ChatCompletionRequestAssistantMessage::from(m.text.as_str()).into(),
            Role::User => ChatCompletionRequestUserMessage::from(m.text.as_str()).into(),
        });
    }
    messages
}

async fn send(
    s: &Practice,
    call: Call<pb::SendPracticeMessageRequest>,
) -> AppResult<pb::SendPracticeMessageResponse> {
    let caller = call.caller()?;
    let id = parse_session_id(&call.message.practice_session_id)?;
    let text = practice::check_message(&call.message.text)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::session(&mut conn, caller.user_id, id, false)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    practice::can_send(
        Status::from_db(&row.status).unwrap_or(Status::Archived),
        row.turns,
    )?;
    let prep = PrepType::from_db(&row.preparation_type).unwrap_or(PrepType::Other);
    let mut transcript = transcript_of(store::transcript(&mut conn, id).await?);
    transcript.push(Message {
        role: Role::User,
        text: text.clone(),
        turn: row.turns + 1,
    });
    let (reply, provenance, usage) = match &s.llm {
        None => (
            practice::rules_reply(prep, &transcript),
            Provenance::not_configured(),
            Usage::default(),
        ),
        Some(llm) => {
            quota::charge(&mut conn, caller.user_id, &s.clock).await?;
            let llm = llm.for_user(caller.user_id);
            match llm
                .chat(
                    "practice.reply",
                    reply_messages(&row, prep, &transcript),
                    REPLY_TOKENS,
                )
                .await
            {
                Ok(c) if !c.text.trim().is_empty() => (
                    c.text.trim().chars().take(MAX_REPLY_CHARS).collect(),
                    Provenance::model(c.model),
                    c.usage,
                ),
                Ok(_) => (
                    practice::rules_reply(prep, &transcript),
                    Provenance::fallback("the model returned an empty reply")
                        .with_model(llm.model()),
                    Usage::default(),
                ),
                Err(e) => (
                    practice::rules_reply(prep, &transcript),
                    Provenance::fallback(e.reason).with_model(llm.model()),
                    Usage::default(),
                ),
            }
        }
    };
    drop(conn);
    let at = s.clock.now_db();
    let mut tx = s.pool.begin().await?;
    // Re-checked under the lock: a concurrent complete or message may have moved it on.
    let row = store::session(&mut tx, caller.user_id, id, true)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    practice::can_send(
        Status::from_db(&row.status).unwrap_or(Status::Archived),
        row.turns,
    )?;
    let turn = row.turns + 1;
    store::append_message(&mut tx, id, Role::User.as_str(), &text, turn, at).await?;
    store::append_message(&mut tx, id, Role::Coach.as_str(), &reply, turn, at).await?;
    store::set_turns(&mut tx, id, turn).await?;
    let answer = answers::record_at(
        &mut tx,
        caller.user_id,
        "practice.reply",
        &provenance,
        usage,
        Some(at),
    )
    .await?;
    tx.commit().await?;
    Ok(pb::SendPracticeMessageResponse {
        reply: Some(pb::PracticeMessage {
            role: Role::Coach.to_proto(),
            text: reply,
            turn_number: turn,
            create_time: Some(convert::timestamp(at)),
        }),
        turn_number: turn,
        provenance: Some(provenance.with_answer_id(answer).into_proto()),
    })
}

fn render_transcript(transcript: &[Message]) -> String {
    transcript
        .iter()
        .map(|m| match m.role {
            Role::Coach => format!("Partner: {}", m.text),
            Role::User => format!("User: {}", m.text),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The model's evaluation, checked; one repair request with the validation error; then the rules
/// (the provenance says why).
async fn evaluate(
    llm: &Llm,
    rubric: &Rubric,
    row: &SessionRow,
    prep: PrepType,
    transcript: &[Message],
) -> (Evaluation, Provenance, Usage) {
    let schema = rubric.schema(prep);
    let system = fill(prompts::get("practice.evaluate").text, row, prep)
        .replace("{dimensions}", &rubric.describe(prep));
    let mut messages: Vec<ChatCompletionRequestMessage> = vec![
        ChatCompletionRequestSystemMessage::from(system).into(),
        ChatCompletionRequestUserMessage::from(render_transcript(transcript)).into(),
    ];
    let mut usage = Usage::default();
    let rules = |reason: String| {
        (
            evaluation::rules(rubric, prep, &row.tone, transcript),
            Provenance::fallback(reason).with_model(llm.model()),
        )
    };
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt == 1 {
            messages.push(
                ChatCompletionRequestUserMessage::from(format!(
                    "Your evaluation was rejected: {last}. Reply again with JSON that follows the schema exactly."
                ))
                .into(),
            );
        }
        match llm
            .structured::<ModelEvaluation>(
                "practice.evaluate",
                messages.clone(),
                "practice_evaluation",
                &schema,
                EVALUATION_TOKENS,
            )
            .await
        {
            Ok((m, c)) => {
                usage = usage + c.usage;
                match evaluation::from_model(rubric, prep, m) {
                    Ok(e) => return (e, Provenance::model(c.model), usage),
                    Err(reason) => last = reason,
                }
            }
            Err(e) if e.kind == LlmErrorKind::Invalid => last = e.reason,
            Err(e) => {
                let (ev, p) = rules(e.reason);
                return (ev, p, usage);
            }
        }
    }
    let (ev, p) = rules(format!("the model's evaluation was invalid twice: {last}"));
    (ev, p, usage)
}

async fn complete(
    s: &Practice,
    call: Call<pb::CompletePracticeSessionRequest>,
) -> AppResult<pb::CompletePracticeSessionResponse> {
    let caller = call.caller()?;
    let id = parse_session_id(&call.message.practice_session_id)?;
    let rubric = rubric()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::session(&mut conn, caller.user_id, id, false)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    practice::complete(
        Status::from_db(&row.status).unwrap_or(Status::Archived),
        row.turns,
    )?;
    let prep = PrepType::from_db(&row.preparation_type).unwrap_or(PrepType::Other);
    let transcript = transcript_of(store::transcript(&mut conn, id).await?);
    let (evaluation, provenance, usage) = match &s.llm {
        None => (
            evaluation::rules(rubric, prep, &row.tone, &transcript),
            Provenance::rules(NOT_CONFIGURED),
            Usage::default(),
        ),
        Some(llm) => {
            quota::charge(&mut conn, caller.user_id, &s.clock).await?;
            evaluate(
                &llm.for_user(caller.user_id),
                rubric,
                &row,
                prep,
                &transcript,
            )
            .await
        }
    };
    drop(conn);
    // The event carries the user's timezone now; the session's when profile cannot say.
    let timezone = profile(s, caller)
        .await
        .map(|p| convert::timezone_or_utc(&p.timezone).to_owned())
        .unwrap_or_else(|| row.timezone.clone());
    let at = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let row = store::session(&mut tx, caller.user_id, id, true)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    practice::complete(
        Status::from_db(&row.status).unwrap_or(Status::Archived),
        row.turns,
    )?;
    let answer = answers::record_at(
        &mut tx,
        caller.user_id,
        "practice.evaluation",
        &provenance,
        usage,
        Some(at),
    )
    .await?;
    let stored = EvaluationRow {
        id: Uuid::now_v7(),
        session_id: id,
        user_id: caller.user_id,
        preparation_type: prep.as_str().to_owned(),
        rubric_version: evaluation.rubric_version.clone(),
        overall_score: evaluation.overall,
        overall_label: evaluation.overall_label.clone(),
        dimension_scores: json!(evaluation
            .scores
            .iter()
            .map(|d| json!({"dimension": d.dimension, "title": d.title, "kind": d.kind.as_str(), "score": d.score, "label": d.label}))
            .collect::<Vec<_>>()),
        improvement_areas: json!(evaluation
            .areas
            .iter()
            .map(|a| json!({"dimension": a.dimension, "area": a.area, "suggestion": a.suggestion}))
            .collect::<Vec<_>>()),
        practice_suggestions: json!(evaluation.suggestions),
        summary: evaluation.summary.clone(),
        path: provenance.path.as_str().to_owned(),
        model: provenance.model.clone(),
        reason: provenance.reason.clone(),
        answer_id: answer,
        created_at: at,
    };
    store::insert_evaluation(&mut tx, &stored).await?;
    store::set_completed(&mut tx, id, at, evaluation.overall).await?;
    store::rebuild_plan(&mut tx, caller.user_id).await?;
    tx.publish(&evaluated(&stored, &evaluation, prep, &timezone, at))
        .await?;
    tx.commit().await?;
    let mut conn = s.pool.acquire().await?;
    Ok(pb::CompletePracticeSessionResponse {
        practice_session: Some(full_session(&mut conn, caller.user_id, id).await?),
        evaluation: Some(evaluation_to_proto(&stored)),
    })
}

/// practice_session.evaluated.v1 with every field (analytics trends, profile activation).
fn evaluated(
    e: &EvaluationRow,
    ev: &Evaluation,
    prep: PrepType,
    timezone: &str,
    at: OffsetDateTime,
) -> events::PracticeSessionEvaluated {
    events::PracticeSessionEvaluated {
        user_id: e.user_id.to_string(),
        practice_session_id: e.session_id.to_string(),
        overall_score: ev.overall,
        evaluate_time: Some(convert::timestamp(at)),
        timezone: timezone.to_owned(),
        local_date: Some(convert::date(convert::local_date(at, timezone))),
        dimension_scores: ev
            .scores
            .iter()
            .map(|d| events::EvaluationDimensionScore {
                dimension: d.dimension.clone(),
                score: d.score,
                label: d.label.clone(),
            })
            .collect(),
        improvement_areas: ev.areas.iter().map(|a| a.area.clone()).collect(),
        preparation_type: prep.title().to_owned(),
    }
}

async fn archive(
    s: &Practice,
    call: Call<pb::ArchivePracticeSessionRequest>,
) -> AppResult<pb::ArchivePracticeSessionResponse> {
    let caller = call.caller()?;
    let id = parse_session_id(&call.message.practice_session_id)?;
    let mut tx = s.pool.begin().await?;
    let row = store::session(&mut tx, caller.user_id, id, true)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    if practice::archive(Status::from_db(&row.status).unwrap_or(Status::Archived)).is_some() {
        store::set_archived(&mut tx, id, s.clock.now_db()).await?;
    }
    tx.commit().await?;
    let mut conn = s.pool.acquire().await?;
    let row = store::session(&mut conn, caller.user_id, id, false)
        .await?
        .ok_or(AppError::not_found(SESSION))?;
    Ok(pb::ArchivePracticeSessionResponse {
        practice_session: Some(session_to_proto(&row)),
    })
}

async fn get_evaluation(
    s: &Practice,
    call: Call<pb::GetEvaluationRequest>,
) -> AppResult<pb::GetEvaluationResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("evaluation_id", &call.message.evaluation_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::evaluation(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found(EVALUATION))?;
    Ok(pb::GetEvaluationResponse {
        evaluation: Some(evaluation_to_proto(&row)),
    })
}

async fn get_session_evaluation(
    s: &Practice,
    call: Call<pb::GetPracticeSessionEvaluationRequest>,
) -> AppResult<pb::GetPracticeSessionEvaluationResponse> {
    let caller = call.caller()?;
    let id = parse_session_id(&call.message.practice_session_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::session_evaluation(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found(EVALUATION))?;
    Ok(pb::GetPracticeSessionEvaluationResponse {
        evaluation: Some(evaluation_to_proto(&row)),
    })
}

async fn get_improvements(
    s: &Practice,
    call: Call<pb::GetImprovementsRequest>,
) -> AppResult<pb::GetImprovementsResponse> {
    let caller = call.caller()?;
    let rubric = rubric()?;
    let mut conn = s.pool.acquire().await?;
    let focus = store::focus_areas(&mut conn, caller.user_id, 5).await?;
    let rollups = store::rollups(&mut conn, caller.user_id).await?;
    let latest = store::latest_suggestions(&mut conn, caller.user_id).await?;
    let title = |key: &str| {
        rubric
            .universal
            .iter()
            .chain(rubric.context.values().flatten())
            .find(|d| d.key == key)
            .map(|d| d.title.clone())
            .unwrap_or_else(|| key.to_owned())
    };
    Ok(pb::GetImprovementsResponse {
        focus_areas: focus
            .into_iter()
            .map(|f| pb::FocusArea {
                title: title(&f.dimension),
                dimension: f.dimension,
                occurrences: f.occurrences,
                area: f.area,
                suggestion: f.suggestion,
                last_seen_time: Some(convert::timestamp(f.last_seen)),
            })
            .collect(),
        recommendations: latest
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        evaluated_sessions: rollups
            .iter()
            .find(|r| r.dimension == "overall")
            .map(|r| r.sessions)
            .unwrap_or(0),
        rollups: rollups
            .into_iter()
            .map(|r| pb::DimensionRollup {
                dimension: r.dimension,
                sessions: r.sessions,
                average: r.average,
                best: r.best,
                latest: r.latest,
            })
            .collect(),
    })
}

fn session_to_proto(r: &SessionRow) -> pb::PracticeSession {
    pb::PracticeSession {
        practice_session_id: r.id.to_string(),
        preparation_type: PrepType::from_db(&r.preparation_type)
            .map(PrepType::to_proto)
            .unwrap_or_default(),
        meeting_subtype: r.meeting_subtype.clone(),
        agenda: r.agenda.clone(),
        tone: r.tone.clone(),
        focus: r.focus.clone(),
        status: Status::from_db(&r.status)
            .map(Status::to_proto)
            .unwrap_or_default(),
        turns: r.turns,
        create_time: Some(convert::timestamp(r.created_at)),
        complete_time: r.completed_at.map(convert::timestamp),
        evaluation_id: r.evaluation_id.map(|e| e.to_string()).unwrap_or_default(),
        overall_score: r.overall_score.unwrap_or(0),
        transcript: Vec::new(),
    }
}

#[derive(serde::Deserialize)]
struct StoredScore {
    dimension: String,
    title: String,
    kind: String,
    score: i32,
    label: String,
}

fn evaluation_to_proto(e: &EvaluationRow) -> pb::Evaluation {
    let scores: Vec<StoredScore> =
        serde_json::from_value(e.dimension_scores.clone()).unwrap_or_default();
    let areas: Vec<evaluation::Area> =
        serde_json::from_value(e.improvement_areas.clone()).unwrap_or_default();
    let provenance = Provenance {
        path: answers::Path::from_db(&e.path).unwrap_or(answers::Path::Rules),
        model: e.model.clone(),
        reason: e.reason.clone(),
        answer_id: Some(e.answer_id),
    };
    pb::Evaluation {
        evaluation_id: e.id.to_string(),
        practice_session_id: e.session_id.to_string(),
        preparation_type: PrepType::from_db(&e.preparation_type)
            .map(PrepType::to_proto)
            .unwrap_or_default(),
        overall_score: e.overall_score,
        overall_label: e.overall_label.clone(),
        dimension_scores: scores
            .into_iter()
            .map(|d| pb::DimensionScore {
                dimension: d.dimension,
                title: d.title,
                kind: evaluation::Kind::from_db(&d.kind)
                    .map(evaluation::Kind::to_proto)
                    .unwrap_or_default(),
                score: d.score,
                label: d.label,
            })
            .collect(),
        improvement_areas: areas
            .into_iter()
            .map(|a| pb::ImprovementArea {
                dimension: a.dimension,
                area: a.area,
                suggestion: a.suggestion,
            })
            .collect(),
        practice_suggestions: serde_json::from_value(e.practice_suggestions.clone())
            .unwrap_or_default(),
        summary: e.summary.clone(),
        rubric_version: e.rubric_version.clone(),
        create_time: Some(convert::timestamp(e.created_at)),
        provenance: Some(provenance.into_proto()),
    }
}
