//! A stand-in for the OpenAI API (axum on 127.0.0.1:0), speaking its wire protocol so the coach's
//! production client (async-openai) talks to it unchanged:
//! - `POST /v1/chat/completions`, plain or streamed (`stream: true` → server-sent events, one
//!   token per chunk with a small gap, then a usage chunk when `stream_options.include_usage`,
//!   then `[DONE]`), with tool calls and `response_format: json_schema`;
//! - `POST /v1/embeddings`: deterministic hashed bag-of-words vectors, L2-normalised, so texts
//!   sharing words are near (cosine) and unrelated ones far.
//!
//! Replies are scripted per purpose (the `metadata.purpose` the coach sends with every request):
//! [`OpenAi::script`] queues them, first in first out; an unscripted request gets a default —
//! a short text, or for `json_schema` a value built from the schema (valid against it).
//! [`OpenAi::requests`] returns what each purpose was asked, to assert prompts and tools.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

/// Embedding dimensions of the stand-in.
pub const EMBEDDING_DIMS: usize = 256;
/// The purpose recorded for requests that name none (and for embeddings).
pub const NO_PURPOSE: &str = "";
pub const EMBEDDINGS: &str = "embeddings";

/// One scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// An assistant message (streamed token by token when asked to stream).
    Text(String),
    /// An assistant message holding this JSON (structured output).
    Json(Value),
    /// An assistant message with exactly this content (e.g. broken JSON).
    Raw(String),
    /// The model asks to call tool `name` with `arguments` (JSON; sent as its string form).
    ToolCall { name: String, arguments: Value },
    /// An HTTP error with OpenAI's error body.
    Status(u16),
    /// Never answers (the client's timeout must fire).
    Hang,
}

impl Reply {
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }

    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::ToolCall {
            name: name.into(),
            arguments,
        }
    }
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// (purpose, body, authorization header) in arrival order.
    requests: Mutex<Vec<(String, Value, Option<String>)>>,
    gap: Mutex<Duration>,
}

/// The stand-in. Dropping it stops the server.
pub struct OpenAi {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OpenAi {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            gap: Mutex::new(Duration::from_millis(15)),
            ..Default::default()
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OpenAI stand-in");
        let addr = listener.local_addr().expect("the stand-in's address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, shared, task }
    }

    /// The base URL to configure, including `/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues `reply` for the next request of `purpose`.
    pub fn script(&self, purpose: &str, reply: Reply) -> &Self {
        lock(&self.shared.scripts)
            .entry(purpose.to_owned())
            .or_default()
            .push_back(reply);
        self
    }

    /// The gap between streamed chunks (default 15 ms).
    pub fn set_token_gap(&self, gap: Duration) {
        *lock(&self.shared.gap) = gap;
    }

    /// The JSON bodies of the requests made for `purpose`, oldest first.
    pub fn requests(&self, purpose: &str) -> Vec<Value> {
        lock(&self.shared.requests)
            .iter()
            .filter(|(p, ..)| p == purpose)
            .map(|(_, body, _)| body.clone())
            .collect()
    }

    /// Every request: (purpose, body), oldest first.
    pub fn all_requests(&self) -> Vec<(String, Value)> {
        lock(&self.shared.requests)
            .iter()
            .map(|(p, b, _)| (p.clone(), b.clone()))
            .collect()
    }

    /// The `Authorization` header of each request, oldest first.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        lock(&self.shared.requests)
            .iter()
            .map(|(.., a)| a.clone())
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn record(shared: &Shared, purpose: &str, headers: &HeaderMap, body: &Value) -> Option<Reply> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    lock(&shared.requests).push((purpose.to_owned(), body.clone(), auth));
    lock(&shared.scripts)
        .get_mut(purpose)
        .and_then(VecDeque::pop_front)
}

fn error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if status == StatusCode::TOO_MANY_REQUESTS {
        "rate_limit_exceeded"
    } else if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    let body = json!({"error": {"message": format!("stand-in error {}", status.as_u16()), "type": kind, "param": null, "code": null}});
    (status, Json(body)).into_response()
}

/// Roughly OpenAI's count: a token per four characters.
fn count_tokens(v: &Value) -> u64 {
    (v.to_string().len() as u64 / 4).max(1)
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

/// The default answer for `purpose`: a schema-shaped value or a short text.
fn default_reply(purpose: &str, body: &Value) -> Reply {
    if body["response_format"]["type"] == "json_schema" {
        return Reply::Json(sample(&body["response_format"]["json_schema"]["schema"]));
    }
    Reply::Text(format!(
        "This is the stand-in model answering {purpose}: keep going, one small step at a time."
    ))
}

/// A value valid against the common subset of JSON Schema that strict structured outputs use.
pub fn sample(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = schema[key].as_array().and_then(|a| a.first()) {
            return sample(first);
        }
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .and_then(Value::as_str)
            .unwrap_or("null")
            .to_owned(),
        Value::String(t) => t.clone(),
        _ => "object".into(),
    };
    match ty.as_str() {
        "object" => {
            let mut out = serde_json::Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in props {
                    out.insert(k.clone(), sample(v));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(1).max(1);
            Value::Array((0..n).map(|_| sample(&schema["items"])).collect())
        }
        "string" => {
            let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
            let mut s = String::from("stand-in");
            while s.len() < min {
                s.push('x');
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                s.truncate(max as usize);
            }
            Value::String(s)
        }
        "integer" => json!(bounded(schema, 1.0) as i64),
        "number" => json!(bounded(schema, 1.0)),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

fn bounded(schema: &Value, want: f64) -> f64 {
    let mut v = want;
    if let Some(min) = schema["minimum"].as_f64() {
        v = v.max(min);
    }
    if let Some(max) = schema["maximum"].as_f64() {
        v = v.min(max);
    }
    v
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let purpose = body["metadata"]["purpose"]
        .as_str()
        .unwrap_or(NO_PURPOSE)
        .to_owned();
    let reply = record(&shared, &purpose, &headers, &body)
        .unwrap_or_else(|| default_reply(&purpose, &body));
    let model = body["model"].as_str().unwrap_or("stand-in").to_owned();
    let prompt_tokens = count_tokens(&body["messages"]);
    let content = match reply {
        Reply::Status(s) => return error(s),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return error(504);
        }
        Reply::Text(t) | Reply::Raw(t) => Ok(t),
        Reply::Json(v) => Ok(v.to_string()),
        Reply::ToolCall { name, arguments } => Err((name, arguments.to_string())),
    };
    if body["stream"] == true {
        let gap = *lock(&shared.gap);
        let include_usage = body["stream_options"]["include_usage"] == true;
        return stream(model, content, prompt_tokens, include_usage, gap);
    }
    let (message, finish, completion_tokens) = match content {
        Ok(text) => {
            let n = text.split_whitespace().count() as u64;
            (
                json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
                "stop",
                n,
            )
        }
        Err((name, arguments)) => (
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"id": "call_stand_in_1", "type": "function", "function": {"name": name, "arguments": arguments}}
            ]}),
            "tool_calls",
            10,
        ),
    };
    Json(json!({
        "id": "chatcmpl-stand-in",
        "object": "chat.completion",
        "created": 1_780_000_000u32,
        "model": model,
        "system_fingerprint": "fp_stand_in",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(prompt_tokens, completion_tokens),
        "service_tier": "default"
    }))
    .into_response()
}

/// Splits `text` into word tokens that keep their leading space ("Keep", " going,", …).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
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

fn stream(
    model: String,
    content: Result<String, (String, String)>,
    prompt_tokens: u64,
    include_usage: bool,
    gap: Duration,
) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-stand-in",
            "object": "chat.completion.chunk",
            "created": 1_780_000_000u32,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        })
    };
    let mut events: Vec<Value> = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let completion_tokens;
    match content {
        Ok(text) => {
            let toks = tokens(&text);
            completion_tokens = toks.len() as u64;
            for t in toks {
                events.push(chunk(json!({"content": t}), Value::Null));
            }
            events.push(chunk(json!({}), json!("stop")));
        }
        Err((name, arguments)) => {
            completion_tokens = 10;
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_stand_in_1", "type": "function", "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            // Arguments arrive in fragments, as OpenAI sends them.
            let chars: Vec<char> = arguments.chars().collect();
            for part in chars.chunks(8) {
                let part: String = part.iter().collect();
                events.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
                    Value::Null,
                ));
            }
            events.push(chunk(json!({}), json!("tool_calls")));
        }
    }
    if include_usage {
        events.push(json!({
            "id": "chatcmpl-stand-in",
            "object": "chat.completion.chunk",
            "created": 1_780_000_000u32,
            "model": model,
            "choices": [],
            "usage": usage(prompt_tokens, completion_tokens)
        }));
    }
    let frames: Vec<String> = events
        .into_iter()
        .map(|e| format!("data: {e}\n\n"))
        .chain(std::iter::once("data: [DONE]\n\n".to_owned()))
        .collect();
    let body = futures::stream::unfold(
        (frames.into_iter(), true),
        move |(mut it, first)| async move {
            let next = it.next()?;
            if !first {
                tokio::time::sleep(gap).await;
            }
            Some((Ok::<_, Infallible>(next), (it, false)))
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| error(500))
}

/// The stand-in's embedding of `text`: hashed bag of lower-cased words, L2-normalised.
pub fn embedding(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; EMBEDDING_DIMS];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        // FNV-1a: stable across runs and platforms.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        if let Some(x) = v.get_mut((h % EMBEDDING_DIMS as u64) as usize) {
            *x += 1.0;
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

async fn embeddings(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(reply) = record(&shared, EMBEDDINGS, &headers, &body) {
        match reply {
            Reply::Status(s) => return error(s),
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return error(504);
            }
            // Text/Json/Raw/ToolCall make no sense here: answer as usual.
            _ => {}
        }
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => return error(400),
    };
    let tokens: u64 = inputs
        .iter()
        .map(|s| s.split_whitespace().count() as u64)
        .sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"object": "embedding", "index": i, "embedding": embedding(s)}))
        .collect();
    Json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn similar_texts_embed_near() {
        let a = embedding("How do I plan a focus session for studying?");
        let b = embedding("plan a focus session for study");
        let c = embedding("Banana bread recipe with walnuts");
        assert!(cosine(&a, &b) > 0.6, "{}", cosine(&a, &b));
        assert!(cosine(&a, &c) < 0.3, "{}", cosine(&a, &c));
        assert_eq!(
            embedding("x y"),
            embedding("X, y!"),
            "deterministic, case-blind"
        );
    }

    #[test]
    fn samples_follow_the_schema() {
        let schema = json!({"type": "object", "properties": {
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "tips": {"type": "array", "items": {"type": "string"}},
            "note": {"type": ["string", "null"]}
        }});
        assert_eq!(
            sample(&schema),
            json!({"score": 1, "kind": "a", "tips": ["stand-in"], "note": "stand-in"})
        );
    }

    #[test]
    fn tokens_keep_their_spaces() {
        assert_eq!(tokens("Keep going, now"), vec!["Keep", " going,", " now"]);
        assert_eq!(tokens("Keep going, now").concat(), "Keep going, now");
    }
}
