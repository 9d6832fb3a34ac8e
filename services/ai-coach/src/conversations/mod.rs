//! `stride.ai_coach.v1.ConversationService`: conversations with the coach. A reply streams as
//! it is written; the model may consult tools (the caller's progress, sessions, exercises,
//! plans, tasks) for up to `max_tool_rounds` rounds, then must answer. Without a model (or when
//! it fails) the rules answer from the tool the message's keywords point at.
//!
//! Memory: the last `memory_turns` turns verbatim + a running summary of older ones (written
//! by the model when configured, extractive otherwise). Time to first token: after the model's
//! first token nothing touches the database before forwarding it; the reply, the answer row and
//! the summary are stored once the reply is complete.

pub mod domain;
pub mod tools;

use std::{pin::Pin, sync::Arc};

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestToolMessage,
    ChatCompletionRequestUserMessage, FunctionCall,
};
use futures::{Stream, StreamExt as _};
use sqlx::{PgConnection, PgPool};
use stride_kit::{
    AppError, AppResult, Call, Violations, clock::SharedClock, convert, pagination::Page,
};
use stride_proto::ai_coach::{self as pb, conversation_service_server::ConversationService};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    answers::{self, Provenance},
    config::ChatConfig,
    llm::{Llm, StreamEvent, Usage},
    prompts, quota,
};
use domain::{State, Tool, Turn};

pub struct Conversations {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub llm: Option<Arc<Llm>>,
    pub peers: tools::Peers,
    pub config: ChatConfig,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SendMessageResponse, Status>> + Send>>;

/// The gRPC face (the reply task keeps its own handle on the state).
pub struct ConversationApi(pub Arc<Conversations>);

#[tonic::async_trait]
impl ConversationService for ConversationApi {
    type SendMessageStream = EventStream;

    async fn start_conversation(
        &self,
        request: Request<pb::StartConversationRequest>,
    ) -> Result<Response<pb::StartConversationResponse>, Status> {
        stride_kit::grpc::reply(start(&self.0, Call::new(request)).await)
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<EventStream>, Status> {
        match send(self.0.clone(), Call::new(request)).await {
            Ok(s) => Ok(Response::new(s)),
            Err(e) => Err(Status::from(e)),
        }
    }

    async fn get_conversation(
        &self,
        request: Request<pb::GetConversationRequest>,
    ) -> Result<Response<pb::GetConversationResponse>, Status> {
        stride_kit::grpc::reply(get(&self.0, Call::new(request)).await)
    }

    async fn list_conversations(
        &self,
        request: Request<pb::ListConversationsRequest>,
    ) -> Result<Response<pb::ListConversationsResponse>, Status> {
        stride_kit::grpc::reply(list(&self.0, Call::new(request)).await)
    }

    async fn end_conversation(
        &self,
        request: Request<pb::EndConversationRequest>,
    ) -> Result<Response<pb::EndConversationResponse>, Status> {
        stride_kit::grpc::reply(end(&self.0, Call::new(request)).await)
    }
}

#[derive(sqlx::FromRow, Clone)]
struct Row {
    id: Uuid,
    title: String,
    state: String,
    summary: String,
    summarized: i32,
    message_count: i32,
    created_at: OffsetDateTime,
    last_activity_at: OffsetDateTime,
    ended_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    role: String,
    text: String,
    answer_id: Option<Uuid>,
    tools_used: Vec<String>,
    created_at: OffsetDateTime,
    path: Option<String>,
    model: Option<String>,
    reason: Option<String>,
}

macro_rules! columns {
    () => {
        "id, title, state, summary, summarized, message_count, created_at, last_activity_at, ended_at"
    };
}

impl Conversations {
    fn to_proto(&self, r: &Row) -> pb::Conversation {
        let state = match domain::state(
            &r.state,
            r.last_activity_at,
            self.clock.now(),
            self.config.expiry,
        ) {
            State::Active => pb::ConversationState::Active,
            State::Ended => pb::ConversationState::Ended,
            State::Expired => pb::ConversationState::Expired,
        };
        pb::Conversation {
            id: r.id.to_string(),
            title: r.title.clone(),
            state: state as i32,
            summary: r.summary.clone(),
            message_count: r.message_count,
            created_at: Some(convert::timestamp(r.created_at)),
            last_activity_at: Some(convert::timestamp(r.last_activity_at)),
            ended_at: r.ended_at.map(convert::timestamp),
        }
    }
}

/// The caller's conversation `id`; another user's is NOT_FOUND.
async fn load(conn: &mut PgConnection, user: Uuid, id: Uuid, lock: bool) -> AppResult<Row> {
    let sql = if lock {
        concat!(
            "SELECT ",
            columns!(),
            " FROM conversations WHERE id = $1 AND user_id = $2 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            columns!(),
            " FROM conversations WHERE id = $1 AND user_id = $2"
        )
    };
    sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))
}

async fn start(
    s: &Conversations,
    call: Call<pb::StartConversationRequest>,
) -> AppResult<pb::StartConversationResponse> {
    let user = call.caller()?.user_id;
    let mut v = Violations::new();
    domain::check_title(&mut v, &call.message.title);
    v.check()?;
    let now = s.clock.now_db();
    let row: Row = sqlx::query_as(concat!(
        "INSERT INTO conversations (id, user_id, title, state, created_at, last_activity_at)
         VALUES ($1, $2, $3, 'active', $4, $4) RETURNING ",
        columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(call.message.title.trim())
    .bind(now)
    .fetch_one(&s.pool)
    .await?;
    Ok(pb::StartConversationResponse {
        conversation: Some(s.to_proto(&row)),
    })
}

async fn messages(conn: &mut PgConnection, conversation: Uuid) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(
        "SELECT m.id, m.role, m.text, m.answer_id, m.tools_used, m.created_at, a.path, a.model, a.reason
           FROM conversation_messages m LEFT JOIN answers a ON a.id = m.answer_id
          WHERE m.conversation_id = $1 ORDER BY m.id",
    )
    .bind(conversation)
    .fetch_all(conn)
    .await
}

fn message_to_proto(m: MessageRow) -> pb::Message {
    let provenance = m
        .path
        .as_deref()
        .and_then(answers::Path::from_db)
        .map(|path| pb::Provenance {
            path: path.into_proto() as i32,
            model: m.model.clone().unwrap_or_default(),
            reason: m.reason.clone().unwrap_or_default(),
            answer_id: m.answer_id.map(|a| a.to_string()).unwrap_or_default(),
        });
    pb::Message {
        id: m.id.to_string(),
        role: if m.role == "user" {
            pb::MessageRole::User
        } else {
            pb::MessageRole::Coach
        } as i32,
        text: m.text,
        provenance,
        tools_used: m.tools_used,
        created_at: Some(convert::timestamp(m.created_at)),
    }
}

async fn get(
    s: &Conversations,
    call: Call<pb::GetConversationRequest>,
) -> AppResult<pb::GetConversationResponse> {
    let user = call.caller()?.user_id;
    let id = convert::require_id("conversation_id", &call.message.conversation_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = load(&mut conn, user, id, false).await?;
    let msgs = messages(&mut conn, id).await?;
    Ok(pb::GetConversationResponse {
        conversation: Some(s.to_proto(&row)),
        messages: msgs.into_iter().map(message_to_proto).collect(),
    })
}

async fn list(
    s: &Conversations,
    call: Call<pb::ListConversationsRequest>,
) -> AppResult<pb::ListConversationsResponse> {
    let user = call.caller()?.user_id;
    let mut v = Violations::new();
    let page = Page::<(OffsetDateTime, Uuid)>::request(
        &mut v,
        call.message.page_size,
        &call.message.page_token,
        20,
    );
    v.check()?;
    let (after_t, after_id) = match page.after() {
        Some((t, id)) => (Some(*t), Some(*id)),
        None => (None, None),
    };
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM conversations WHERE user_id = $1
           AND ($2::timestamptz IS NULL OR (last_activity_at, id) < ($2, $3))
         ORDER BY last_activity_at DESC, id DESC LIMIT $4"
    ))
    .bind(user)
    .bind(after_t)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(&s.pool)
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.last_activity_at, r.id));
    Ok(pb::ListConversationsResponse {
        conversations: rows.iter().map(|r| s.to_proto(r)).collect(),
        next_page_token,
    })
}

async fn end(
    s: &Conversations,
    call: Call<pb::EndConversationRequest>,
) -> AppResult<pb::EndConversationResponse> {
    let user = call.caller()?.user_id;
    let id = convert::require_id("conversation_id", &call.message.conversation_id)?;
    let mut tx = s.pool.begin().await?;
    let row = load(&mut tx, user, id, true).await?;
    if row.state == "ended" {
        return Ok(pb::EndConversationResponse {
            conversation: Some(s.to_proto(&row)),
        });
    }
    // The final summary covers everything not folded yet (rules: model calls are not charged
    // for an ending; the running summary already carries the model's earlier work).
    let history: Vec<Turn> = messages(&mut tx, id)
        .await?
        .into_iter()
        .map(|m| Turn {
            from_user: m.role == "user",
            text: m.text,
        })
        .collect();
    let folded = usize::try_from(row.summarized)
        .unwrap_or(0)
        .min(history.len());
    let summary =
        domain::extractive_summary(&row.summary, history.get(folded..).unwrap_or_default());
    let row: Row = sqlx::query_as(concat!(
        "UPDATE conversations SET state = 'ended', summary = $2, summarized = message_count, ended_at = $3
          WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(summary)
    .bind(s.clock.now_db())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(pb::EndConversationResponse {
        conversation: Some(s.to_proto(&row)),
    })
}

fn event(e: pb::send_message_response::Event) -> pb::SendMessageResponse {
    pb::SendMessageResponse { event: Some(e) }
}

/// Validates, stores the user's message, then streams the reply from a task.
async fn send(s: Arc<Conversations>, call: Call<pb::SendMessageRequest>) -> AppResult<EventStream> {
    let caller = call.caller()?.clone();
    let mut v = Violations::new();
    let id = convert::parse_id(&mut v, "conversation_id", &call.message.conversation_id);
    domain::check_text(&mut v, &call.message.text);
    v.check()?;
    let text = call.message.text.trim().to_owned();
    let mut tx = s.pool.begin().await?;
    let row = load(&mut tx, caller.user_id, id, true).await?;
    match domain::state(
        &row.state,
        row.last_activity_at,
        s.clock.now(),
        s.config.expiry,
    ) {
        State::Active => {}
        State::Ended => {
            return Err(AppError::precondition(
                "CONVERSATION_ENDED",
                "this conversation has ended; start a new one",
            ));
        }
        State::Expired => {
            return Err(AppError::precondition(
                "CONVERSATION_EXPIRED",
                "this conversation expired after a day without messages; start a new one",
            ));
        }
    }
    if s.llm.is_some() {
        quota::charge(&mut tx, caller.user_id, &s.clock).await?;
    }
    let history: Vec<Turn> = messages(&mut tx, id)
        .await?
        .into_iter()
        .map(|m| Turn {
            from_user: m.role == "user",
            text: m.text,
        })
        .collect();
    let now = s.clock.now_db();
    insert_message(&mut tx, id, caller.user_id, "user", &text, None, &[], now).await?;
    sqlx::query("UPDATE conversations SET message_count = message_count + 1, last_activity_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let (out, rx) = mpsc::channel(64);
    let job = Reply {
        s: s.clone(),
        user: caller.user_id,
        token: caller.token.clone(),
        row,
        history,
        text,
        out,
    };
    tokio::spawn(job.run());
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    Ok(stream.boxed())
}

#[allow(clippy::too_many_arguments)]
async fn insert_message(
    conn: &mut PgConnection,
    conversation: Uuid,
    user: Uuid,
    role: &str,
    text: &str,
    answer: Option<Uuid>,
    tools_used: &[String],
    at: OffsetDateTime,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO conversation_messages (id, conversation_id, user_id, role, text, answer_id, tools_used, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(conversation)
    .bind(user)
    .bind(role)
    .bind(text)
    .bind(answer)
    .bind(tools_used)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(id)
}

/// One reply being written.
struct Reply {
    s: Arc<Conversations>,
    user: Uuid,
    token: String,
    row: Row,
    history: Vec<Turn>,
    text: String,
    out: mpsc::Sender<Result<pb::SendMessageResponse, Status>>,
}

/// What the reply came to.
struct Written {
    text: String,
    provenance: Provenance,
    usage: Usage,
    tools_used: Vec<String>,
}

impl Reply {
    async fn send(&self, e: pb::send_message_response::Event) {
        // The caller may have gone away: the reply is still stored.
        let _ = self.out.send(Ok(event(e))).await;
    }

    async fn tool_activity(&self, tool: Tool, done: bool, ok: bool) {
        self.send(pb::send_message_response::Event::Tool(pb::ToolActivity {
            tool: tool.name().into(),
            status: tool.status().into(),
            done,
            ok,
        }))
        .await;
    }

    async fn run(self) {
        let written = match self.s.llm.clone() {
            Some(llm) => {
                let llm = llm.for_user(self.user);
                match self.model(&llm).await {
                    Ok(w) => w,
                    Err((reason, tools_used, streamed)) => {
                        let mut w = self
                            .rules(
                                Provenance::fallback(reason).with_model(llm.model()),
                                tools_used,
                                !streamed,
                            )
                            .await;
                        w.usage = Usage::default();
                        w
                    }
                }
            }
            None => {
                self.rules(Provenance::not_configured(), Vec::new(), true)
                    .await
            }
        };
        match self.store(written).await {
            Ok(final_message) => {
                self.send(pb::send_message_response::Event::Done(final_message))
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "storing a coach reply failed");
                let _ = self
                    .out
                    .send(Err(Status::unavailable(
                        "the reply could not be saved; try again",
                    )))
                    .await;
            }
        }
    }

    fn context(&self) -> Vec<ChatCompletionRequestMessage> {
        let (_, keep) = domain::memory(
            &self.history,
            usize::try_from(self.row.summarized).unwrap_or(0),
            self.s.config.memory_turns,
        );
        let mut m: Vec<ChatCompletionRequestMessage> =
            vec![ChatCompletionRequestSystemMessage::from(prompts::get("chat").text).into()];
        if !self.row.summary.is_empty() {
            m.push(
                ChatCompletionRequestSystemMessage::from(format!(
                    "Summary of the earlier conversation:\n{}",
                    self.row.summary
                ))
                .into(),
            );
        }
        for t in keep {
            if t.from_user {
                m.push(ChatCompletionRequestUserMessage::from(t.text.as_str()).into());
            } else {
                m.push(
                    ChatCompletionRequestAssistantMessage {
                        content: Some(t.text.clone().into()),
                        ..Default::default()
                    }
                    .into(),
                );
            }
        }
        m.push(ChatCompletionRequestUserMessage::from(self.text.as_str()).into());
        m
    }

    /// The model path. Err: (reason, tools used, whether tokens were already streamed).
    async fn model(&self, llm: &Llm) -> Result<Written, (String, Vec<String>, bool)> {
        let mut messages = self.context();
        let mut usage = Usage::default();
        let mut tools_used: Vec<String> = Vec::new();
        let mut round = 0u32;
        loop {
            // After the cap the model must answer without tools.
            let tools = if round < self.s.config.max_tool_rounds {
                tools::definitions()
            } else {
                Vec::new()
            };
            let mut stream = llm
                .stream("chat", messages.clone(), tools)
                .await
                .map_err(|e| (e.reason, tools_used.clone(), false))?;
            let mut text = String::new();
            let mut calls = None;
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(StreamEvent::Token(t)) => {
                        text.push_str(&t);
                        self.send(pb::send_message_response::Event::Token(pb::TokenDelta {
                            text: t,
                        }))
                        .await;
                    }
                    Ok(StreamEvent::ToolCalls(c)) => calls = Some(c),
                    Ok(StreamEvent::Done(u)) => usage = usage + u,
                    Err(e) => return Err((e.reason, tools_used, !text.is_empty())),
                }
            }
            match calls {
                Some(calls) if round < self.s.config.max_tool_rounds => {
                    round += 1;
                    messages.push(
                        ChatCompletionRequestAssistantMessage {
                            content: (!text.is_empty()).then(|| text.clone().into()),
                            tool_calls: Some(
                                calls
                                    .iter()
                                    .map(|c| {
                                        ChatCompletionMessageToolCalls::Function(
                                            ChatCompletionMessageToolCall {
                                                id: c.id.clone(),
                                                function: FunctionCall {
                                                    name: c.name.clone(),
                                                    arguments: c.arguments.clone(),
                                                },
                                            },
                                        )
                                    })
                                    .collect(),
                            ),
                            ..Default::default()
                        }
                        .into(),
                    );
                    for c in calls {
                        let result = match Tool::from_name(&c.name) {
                            None => "unknown tool".to_owned(),
                            Some(tool) => {
                                self.tool_activity(tool, false, false).await;
                                let r = tools::run(
                                    &self.s.peers,
                                    &self.token,
                                    tool,
                                    &tools::query_argument(&c.arguments),
                                )
                                .await;
                                self.tool_activity(tool, true, r.is_ok()).await;
                                if !tools_used.iter().any(|t| t == tool.name()) {
                                    tools_used.push(tool.name().into());
                                }
                                r.unwrap_or_else(|why| format!("unavailable: {why}"))
                            }
                        };
                        messages.push(
                            ChatCompletionRequestToolMessage {
                                content: result.into(),
                                tool_call_id: c.id,
                            }
                            .into(),
                        );
                    }
                }
                _ => {
                    let text = text.trim().to_owned();
                    if text.is_empty() {
                        return Err((
                            "the model returned an empty answer".into(),
                            tools_used,
                            false,
                        ));
                    }
                    return Ok(Written {
                        text,
                        provenance: Provenance::model(llm.model()),
                        usage,
                        tools_used,
                    });
                }
            }
        }
    }

    /// The rules path: the figures of the tool the message points at. `stream_tokens`: send
    /// the reply as token events too (false when the model already streamed a partial reply:
    /// the final message then replaces it).
    async fn rules(
        &self,
        provenance: Provenance,
        mut tools_used: Vec<String>,
        stream_tokens: bool,
    ) -> Written {
        let tool = domain::intent(&self.text);
        self.tool_activity(tool, false, false).await;
        let r = tools::run(
            &self.s.peers,
            &self.token,
            tool,
            &domain::search_terms(&self.text),
        )
        .await;
        self.tool_activity(tool, true, r.is_ok()).await;
        if !tools_used.iter().any(|t| t == tool.name()) {
            tools_used.push(tool.name().into());
        }
        let text = domain::rules_reply(tool, r.as_deref().map_err(String::as_str));
        if stream_tokens {
            for t in stride_text_tokens(&text) {
                self.send(pb::send_message_response::Event::Token(pb::TokenDelta {
                    text: t,
                }))
                .await;
            }
        }
        Written {
            text,
            provenance,
            usage: Usage::default(),
            tools_used,
        }
    }

    /// Stores the reply, its answer row and the running summary; the final event.
    async fn store(&self, w: Written) -> Result<pb::FinalMessage, AppError> {
        let id = self.row.id;
        // The summary is written before the transaction (a model call must not hold it open).
        let mut history = self.history.clone();
        history.push(Turn {
            from_user: true,
            text: self.text.clone(),
        });
        history.push(Turn {
            from_user: false,
            text: w.text.clone(),
        });
        let summarized = usize::try_from(self.row.summarized).unwrap_or(0);
        let (fold, _) = domain::memory(&history, summarized, self.s.config.memory_turns);
        let folded = fold.len();
        let summary = if folded == 0 {
            None
        } else {
            Some(self.summarize(fold).await)
        };
        let now = self.s.clock.now_db();
        let mut tx = self.s.pool.begin().await?;
        let answer = answers::record(&mut tx, self.user, "chat", &w.provenance, w.usage).await?;
        let msg_id = insert_message(
            &mut tx,
            id,
            self.user,
            "coach",
            &w.text,
            Some(answer),
            &w.tools_used,
            now,
        )
        .await?;
        sqlx::query(
            "UPDATE conversations SET message_count = message_count + 1, last_activity_at = $2,
                    summary = COALESCE($3, summary), summarized = summarized + $4
              WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(summary)
        .bind(i32::try_from(folded).unwrap_or(0))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let provenance = w.provenance.with_answer_id(answer);
        Ok(pb::FinalMessage {
            message: Some(pb::Message {
                id: msg_id.to_string(),
                role: pb::MessageRole::Coach as i32,
                text: w.text,
                provenance: Some(provenance.into_proto()),
                tools_used: w.tools_used,
                created_at: Some(convert::timestamp(now)),
            }),
            prompt_tokens: i32::try_from(w.usage.prompt_tokens).unwrap_or(i32::MAX),
            completion_tokens: i32::try_from(w.usage.completion_tokens).unwrap_or(i32::MAX),
        })
    }

    /// The new running summary: by the model when configured, by rules otherwise or on failure.
    async fn summarize(&self, fold: &[Turn]) -> String {
        let rules = domain::extractive_summary(&self.row.summary, fold);
        let Some(llm) = self.s.llm.as_ref() else {
            return rules;
        };
        let mut transcript = format!("Summary so far:\n{}\n\nNew turns:\n", self.row.summary);
        for t in fold {
            transcript.push_str(if t.from_user { "User: " } else { "Coach: " });
            transcript.push_str(&t.text);
            transcript.push('\n');
        }
        let messages = vec![
            ChatCompletionRequestSystemMessage::from(prompts::get("chat.summary").text).into(),
            ChatCompletionRequestUserMessage::from(transcript).into(),
        ];
        match llm
            .for_user(self.user)
            .chat("chat.summary", messages, 400)
            .await
        {
            Ok(c) => c.text.chars().take(domain::MAX_SUMMARY_CHARS).collect(),
            Err(e) => {
                tracing::info!(reason = %e.reason, "summary by rules");
                rules
            }
        }
    }
}

/// Word tokens keeping their leading space (the rules reply streams like a model's).
fn stride_text_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Deletes every conversation and message of `user` (account deletion); returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let m = sqlx::query("DELETE FROM conversation_messages WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let c = sqlx::query("DELETE FROM conversations WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(m + c)
}

/// Gives `source`'s conversations and messages to `target` (account merge).
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    let c = sqlx::query("UPDATE conversations SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let m = sqlx::query("UPDATE conversation_messages SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(c + m)
}
