//! The model layer every coach capability uses: an OpenAI-compatible endpoint asked through
//! `async-openai`, with a timeout per attempt, retries with backoff on 429/5xx/unreachable, and a
//! circuit breaker shared by all calls of the process. Every failure becomes an [`LlmError`]
//! whose `reason` is secret-free and may be shown to the caller (the endpoint, key and the
//! provider's message go to the log only); the caller then answers with its rules.
//!
//! Each request names its `purpose` in OpenAI's `metadata` (the stand-in scripts replies per
//! purpose; dashboards split usage by it) and, through [`Llm::for_user`], a hash of the user id
//! in `user` (abuse tracking without handing the provider our ids).

pub mod resilience;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    types::{
        chat::{
            ChatCompletionRequestMessage, ChatCompletionStreamOptions, ChatCompletionTools,
            CreateChatCompletionRequest, CreateChatCompletionResponse,
            CreateChatCompletionStreamResponse, ResponseFormat, ResponseFormatJsonSchema,
        },
        embeddings::{CreateEmbeddingRequest, EmbeddingInput},
    },
};
use futures::{Stream, StreamExt as _, stream::BoxStream};
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::LlmConfig;
use resilience::Breaker;

/// Tokens a model call used (zero for rules answers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
        }
    }
}

/// A model's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Trimmed; never empty (an empty answer is an error).
    pub text: String,
    /// The model that answered, as the endpoint named it.
    pub model: String,
    pub usage: Usage,
}

/// A tool the model asked to call, with its JSON arguments as sent (untrusted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What a streamed answer delivers, in order: tokens, or the tool calls asked for, then `Done`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    Token(String),
    ToolCalls(Vec<ToolCall>),
    Done(Usage),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlmErrorKind {
    /// No answer within the timeout (per attempt, or between streamed chunks).
    Timeout,
    /// The endpoint could not be reached.
    Unreachable,
    /// HTTP 429 after the retries.
    RateLimited,
    /// Another HTTP error (5xx after the retries; 4xx at once).
    Status,
    /// The answer came but is unusable: empty, not JSON, not valid against the schema.
    Invalid,
    /// The breaker is open after repeated failures: the endpoint is not asked for a while.
    CircuitOpen,
    /// Anything else (the log has the detail).
    Failed,
}

impl LlmErrorKind {
    /// Worth another attempt (and a mark against the endpoint's health).
    fn transient(self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Unreachable | Self::RateLimited | Self::Status
        )
    }
}

/// A failed model call. `reason` is caller-facing: short and secret-free.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub reason: String,
    /// The HTTP status, for `Status`/`RateLimited`; 4xx other than 429 is not retried.
    status: Option<u16>,
}

impl LlmError {
    pub fn new(kind: LlmErrorKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            status: None,
        }
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::new(LlmErrorKind::Invalid, reason)
    }

    fn retryable(&self) -> bool {
        match self.kind {
            LlmErrorKind::Status => self.status.is_none_or(|s| s >= 500),
            k => k.transient(),
        }
    }
}

/// The shared client and breaker; [`Llm`] values are cheap views of it.
struct Inner {
    client: Client<OpenAIConfig>,
    model: String,
    embedding_model: String,
    timeout: Duration,
    max_retries: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    breaker: Mutex<Breaker>,
}

/// The model client. Handlers hold `Option<Arc<Llm>>` (None: no model configured, the rules
/// answer with reason [`NOT_CONFIGURED`]).
#[derive(Clone)]
pub struct Llm {
    inner: Arc<Inner>,
    /// Hash of the user the calls are made for (OpenAI's `user`).
    user: Option<String>,
}

/// The reason a rules answer gives when no model is configured.
pub const NOT_CONFIGURED: &str = "no model is configured";

impl Llm {
    pub fn new(cfg: &LlmConfig) -> Self {
        let mut config = OpenAIConfig::new().with_api_base(cfg.base_url.trim_end_matches('/'));
        if let Some(key) = &cfg.api_key {
            config = config.with_api_key(key.expose());
        }
        Self {
            inner: Arc::new(Inner {
                // The plain transport: the default one retries on its own (up to 8 s per wait),
                // which would hide failures from the breaker and blow the caller's deadline.
                client: Client::with_config(config)
                    .with_http_service(async_openai::middleware::ReqwestService::default()),
                model: cfg.model.clone(),
                embedding_model: cfg.embedding_model.clone(),
                timeout: cfg.timeout,
                max_retries: cfg.max_retries,
                backoff_base: cfg.backoff_base,
                backoff_cap: cfg.backoff_cap,
                breaker: Mutex::new(Breaker::new(cfg.breaker_threshold, cfg.breaker_cooldown)),
            }),
            user: None,
        }
    }

    /// The configured chat model (a fallback's provenance names it).
    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// The configured embedding model (stored with each embedding it made).
    pub fn embedding_model(&self) -> &str {
        &self.inner.embedding_model
    }

    /// The same client, sending a hash of `user` as OpenAI's `user` on every call.
    pub fn for_user(&self, user: Uuid) -> Llm {
        Llm {
            inner: self.inner.clone(),
            user: Some(user_hash(user)),
        }
    }

    /// One chat completion of at most `max_tokens`.
    pub async fn chat(
        &self,
        purpose: &'static str,
        messages: Vec<ChatCompletionRequestMessage>,
        max_tokens: u32,
    ) -> Result<Completion, LlmError> {
        let request = self.request(purpose, messages, max_tokens);
        let response = self.create(purpose, request).await?;
        completion(response, &self.inner.model)
    }

    /// A chat completion constrained to `schema` (strict structured output), parsed as `T`. The
    /// reply is never trusted: not JSON, invalid against the schema, or not a `T` is an
    /// `Invalid` error (the caller repairs, retries or falls back to its rules).
    pub async fn structured<T: DeserializeOwned>(
        &self,
        purpose: &'static str,
        messages: Vec<ChatCompletionRequestMessage>,
        schema_name: &str,
        schema: &serde_json::Value,
        max_tokens: u32,
    ) -> Result<(T, Completion), LlmError> {
        let mut request = self.request(purpose, messages, max_tokens);
        request.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: None,
                name: schema_name.to_owned(),
                schema: schema.clone(),
                strict: Some(true),
            },
        });
        let response = self.create(purpose, request).await?;
        let c = completion(response, &self.inner.model)?;
        let value = parse_structured(&c.text, schema)?;
        Ok((value, c))
    }

    /// A streamed chat completion that may ask for `tools` (none: a plain answer). Retries
    /// happen only before the first chunk; after it, a failure ends the stream with an error.
    /// Chunks are forwarded as they come (no buffering beyond the tool calls' fragments).
    pub async fn stream(
        &self,
        purpose: &'static str,
        messages: Vec<ChatCompletionRequestMessage>,
        tools: Vec<ChatCompletionTools>,
    ) -> Result<impl Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static, LlmError> {
        let mut request = self.request(purpose, messages, 0);
        request.max_completion_tokens = None;
        request.stream = Some(true);
        request.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
        if !tools.is_empty() {
            request.tools = Some(tools);
        }
        let inner = self.inner.clone();
        let (first, rest) = self
            .attempts(purpose, move || {
                let inner = inner.clone();
                let request = request.clone();
                async move {
                    let mut s = inner
                        .client
                        .chat()
                        .create_stream(request)
                        .await
                        .map_err(|e| from_openai(&e))?;
                    // An HTTP error arrives as the first item: pull it within the attempt.
                    match tokio::time::timeout(inner.timeout, s.next()).await {
                        Err(_) => Err(timed_out(inner.timeout)),
                        Ok(None) => Err(LlmError::invalid("the model returned an empty answer")),
                        Ok(Some(Err(e))) => Err(from_openai(&e)),
                        Ok(Some(Ok(chunk))) => Ok((chunk, s)),
                    }
                }
            })
            .await?;
        let timeout = self.inner.timeout;
        let chunks = futures::stream::once(async move { Ok(first) }).chain(rest.map(|r| r));
        Ok(Assembler::run(chunks, timeout))
    }

    /// Embeddings of `inputs` with the configured embedding model, in input order.
    pub async fn embed(
        &self,
        purpose: &'static str,
        inputs: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, LlmError> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let n = inputs.len();
        let request = CreateEmbeddingRequest {
            model: self.inner.embedding_model.clone(),
            input: EmbeddingInput::StringArray(inputs),
            encoding_format: None,
            user: self.user.clone(),
            dimensions: None,
        };
        let inner = self.inner.clone();
        let response = self
            .attempts(purpose, move || {
                let inner = inner.clone();
                let request = request.clone();
                async move {
                    match tokio::time::timeout(
                        inner.timeout,
                        inner.client.embeddings().create(request),
                    )
                    .await
                    {
                        Err(_) => Err(timed_out(inner.timeout)),
                        Ok(r) => r.map_err(|e| from_openai(&e)),
                    }
                }
            })
            .await?;
        let mut data = response.data;
        data.sort_by_key(|e| e.index);
        if data.len() != n || data.iter().any(|e| e.embedding.is_empty()) {
            return Err(LlmError::invalid(
                "the model returned the wrong number of embeddings",
            ));
        }
        Ok(data.into_iter().map(|e| e.embedding).collect())
    }

    // `user` is deprecated in favour of `safety_identifier`; both carry the hash (compatible
    // endpoints may know only the older field).
    #[allow(deprecated)]
    fn request(
        &self,
        purpose: &'static str,
        messages: Vec<ChatCompletionRequestMessage>,
        max_tokens: u32,
    ) -> CreateChatCompletionRequest {
        CreateChatCompletionRequest {
            model: self.inner.model.clone(),
            messages,
            max_completion_tokens: Some(max_tokens),
            metadata: Some(serde_json::json!({ "purpose": purpose }).into()),
            user: self.user.clone(),
            safety_identifier: self.user.clone(),
            ..Default::default()
        }
    }

    async fn create(
        &self,
        purpose: &'static str,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, LlmError> {
        let inner = self.inner.clone();
        self.attempts(purpose, move || {
            let inner = inner.clone();
            let request = request.clone();
            async move {
                match tokio::time::timeout(inner.timeout, inner.client.chat().create(request)).await
                {
                    Err(_) => Err(timed_out(inner.timeout)),
                    Ok(r) => r.map_err(|e| from_openai(&e)),
                }
            }
        })
        .await
    }

    /// Runs `attempt` through the breaker, retrying transient failures with backoff.
    async fn attempts<T, F, Fut>(&self, purpose: &'static str, attempt: F) -> Result<T, LlmError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let inner = &self.inner;
        let mut n = 0u32;
        loop {
            if !lock(&inner.breaker).allow(Instant::now()) {
                return Err(LlmError::new(
                    LlmErrorKind::CircuitOpen,
                    "the model is paused after repeated failures",
                ));
            }
            // A dropped future (the caller went away) must not keep a half-open probe forever.
            let guard = ProbeGuard(&inner.breaker, true);
            let outcome = attempt().await;
            let mut guard = guard;
            guard.1 = false;
            match outcome {
                Ok(v) => {
                    lock(&inner.breaker).success();
                    return Ok(v);
                }
                Err(e) => {
                    if e.kind.transient() {
                        lock(&inner.breaker).failure(Instant::now());
                    } else {
                        // The endpoint answered: it is up even if the answer is unusable.
                        lock(&inner.breaker).success();
                    }
                    tracing::warn!(purpose, attempt = n + 1, kind = ?e.kind, reason = %e.reason, model = %inner.model, "model call failed");
                    if !e.retryable() || n >= inner.max_retries {
                        return Err(e);
                    }
                    n += 1;
                    let delay =
                        resilience::backoff(n, inner.backoff_base, inner.backoff_cap, jitter());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

struct ProbeGuard<'a>(&'a Mutex<Breaker>, bool);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.1 {
            lock(self.0).abandoned();
        }
    }
}

fn lock(m: &Mutex<Breaker>) -> std::sync::MutexGuard<'_, Breaker> {
    // A panic while holding this lock cannot leave the breaker inconsistent (plain fields).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 0.0..1.0, different per call (the std hasher is randomly keyed).
fn jitter() -> f64 {
    use std::hash::{BuildHasher as _, RandomState};
    let h = RandomState::new().hash_one(Instant::now());
    (h % 10_000) as f64 / 10_000.0
}

/// What the provider sees as `user`: not our id, but stable per user.
pub fn user_hash(user: Uuid) -> String {
    let digest = Sha256::digest(user.as_bytes());
    hex::encode(digest.get(..16).unwrap_or_default())
}

fn timed_out(t: Duration) -> LlmError {
    LlmError::new(
        LlmErrorKind::Timeout,
        format!("the model did not answer within {}s", t.as_secs_f32()),
    )
}

fn status_error(status: u16) -> LlmError {
    let kind = if status == 429 {
        LlmErrorKind::RateLimited
    } else {
        LlmErrorKind::Status
    };
    LlmError {
        kind,
        reason: format!("the model answered with HTTP {status}"),
        status: Some(status),
    }
}

/// The caller-facing error for a client error; the error itself may name the endpoint and goes
/// to the log only.
fn from_openai(e: &OpenAIError) -> LlmError {
    tracing::debug!(error = %e, "model client error");
    match e {
        OpenAIError::ApiError(api) => status_error(api.status_code.as_u16()),
        OpenAIError::Reqwest(r) if r.is_connect() => LlmError::new(
            LlmErrorKind::Unreachable,
            "the model endpoint is unreachable",
        ),
        OpenAIError::Reqwest(r) if r.is_timeout() => {
            LlmError::new(LlmErrorKind::Timeout, "the model did not answer in time")
        }
        OpenAIError::Reqwest(r) => match r.status() {
            Some(s) => status_error(s.as_u16()),
            None => LlmError::new(LlmErrorKind::Unreachable, "the model request failed"),
        },
        OpenAIError::StreamError(_) => {
            LlmError::new(LlmErrorKind::Failed, "the model stream failed")
        }
        OpenAIError::JSONDeserialize(..) => {
            LlmError::invalid("the model's answer could not be read")
        }
        _ => LlmError::new(LlmErrorKind::Failed, "the model request failed"),
    }
}

fn completion(r: CreateChatCompletionResponse, configured: &str) -> Result<Completion, LlmError> {
    let text = r
        .choices
        .first()
        .and_then(|c| c.message.content.as_deref())
        .map(str::trim)
        .unwrap_or_default();
    if text.is_empty() {
        return Err(LlmError::invalid("the model returned an empty answer"));
    }
    let usage = r.usage.map(|u| Usage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
    });
    Ok(Completion {
        text: text.to_owned(),
        model: if r.model.is_empty() {
            configured.to_owned()
        } else {
            r.model
        },
        usage: usage.unwrap_or_default(),
    })
}

/// `text` as JSON valid against `schema`, then as a `T`.
pub fn parse_structured<T: DeserializeOwned>(
    text: &str,
    schema: &serde_json::Value,
) -> Result<T, LlmError> {
    let value: serde_json::Value = serde_json::from_str(strip_fences(text))
        .map_err(|_| LlmError::invalid("the model's answer is not JSON"))?;
    let validator = compiled(schema)
        .ok_or_else(|| LlmError::new(LlmErrorKind::Failed, "the answer schema is invalid"))?;
    if let Some(err) = validator.iter_errors(&value).next() {
        return Err(LlmError::invalid(format!(
            "the model's answer does not match the schema at '{}'",
            err.instance_path()
        )));
    }
    serde_json::from_value(value)
        .map_err(|_| LlmError::invalid("the model's answer does not match the expected shape"))
}

/// Compiled schemas kept, at most (the coach has a handful; practice's vary by interview type).
const MAX_COMPILED_SCHEMAS: usize = 64;

/// Compiled validators by the schema's JSON text. Compiling a schema costs tens of
/// milliseconds (a bench measured ~78 ms per practice evaluation); the schemas are a few fixed
/// shapes, so each is compiled once. Keyed by the exact text, so a schema built per call (one
/// per interview type) gets its own entry; the map is cleared if it ever outgrows
/// [`MAX_COMPILED_SCHEMAS`]. A std map under a mutex: one lookup per model answer does not
/// justify a cache crate.
static VALIDATORS: std::sync::LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

/// The compiled validator of `schema` (cached), or None if the schema itself is invalid.
fn compiled(schema: &serde_json::Value) -> Option<Arc<jsonschema::Validator>> {
    let key = schema.to_string();
    if let Some(v) = VALIDATORS
        .lock()
        .ok()
        .and_then(|cache| cache.get(&key).cloned())
    {
        return Some(v);
    }
    let validator = Arc::new(jsonschema::validator_for(schema).ok()?);
    if let Ok(mut cache) = VALIDATORS.lock() {
        if cache.len() >= MAX_COMPILED_SCHEMAS {
            cache.clear();
        }
        cache.insert(key, validator.clone());
    }
    Some(validator)
}

/// Some models wrap JSON in a Markdown fence even when asked not to.
fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .map_or(t, str::trim)
}

/// Turns stream chunks into [`StreamEvent`]s: tokens at once, tool-call fragments assembled by
/// index and delivered together when the model finishes, then `Done` with the usage.
struct Assembler {
    tools: BTreeMap<u32, ToolCall>,
    usage: Usage,
}

type Chunk = Result<CreateChatCompletionStreamResponse, OpenAIError>;

impl Assembler {
    fn run(
        chunks: impl Stream<Item = Chunk> + Send + 'static,
        idle: Duration,
    ) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
        let state = (
            chunks.boxed(),
            Assembler {
                tools: BTreeMap::new(),
                usage: Usage::default(),
            },
            false,
        );
        futures::stream::unfold(state, move |(mut chunks, mut asm, finished)| async move {
            if finished {
                return None;
            }
            loop {
                let next = match tokio::time::timeout(idle, chunks.next()).await {
                    Err(_) => return Some((Err(timed_out(idle)), (chunks, asm, true))),
                    Ok(n) => n,
                };
                match next {
                    None => {
                        let events = asm.finish();
                        return Some((Ok(events), (chunks, asm, true)));
                    }
                    Some(Err(e)) => return Some((Err(from_openai(&e)), (chunks, asm, true))),
                    Some(Ok(chunk)) => {
                        if let Some(token) = asm.take(chunk) {
                            return Some((
                                Ok(vec![StreamEvent::Token(token)]),
                                (chunks, asm, false),
                            ));
                        }
                    }
                }
            }
        })
        .flat_map(|r| match r {
            Ok(events) => futures::stream::iter(events.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(e) => futures::stream::iter(vec![Err(e)]),
        })
        .boxed()
    }

    /// Takes one chunk; returns its text, if any.
    fn take(&mut self, chunk: CreateChatCompletionStreamResponse) -> Option<String> {
        if let Some(u) = chunk.usage {
            self.usage = Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            };
        }
        let mut text = String::new();
        for choice in chunk.choices {
            if let Some(t) = choice.delta.content {
                text.push_str(&t);
            }
            for call in choice.delta.tool_calls.unwrap_or_default() {
                let entry = self.tools.entry(call.index).or_insert_with(|| ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                if let Some(id) = call.id {
                    entry.id = id;
                }
                if let Some(f) = call.function {
                    if let Some(n) = f.name {
                        entry.name.push_str(&n);
                    }
                    if let Some(a) = f.arguments {
                        entry.arguments.push_str(&a);
                    }
                }
            }
        }
        (!text.is_empty()).then_some(text)
    }

    fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        let tools: Vec<ToolCall> = std::mem::take(&mut self.tools).into_values().collect();
        if !tools.is_empty() {
            events.push(StreamEvent::ToolCalls(tools));
        }
        events.push(StreamEvent::Done(self.usage));
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_answers_are_validated() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct A {
            score: u32,
        }
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}},
            "required": ["score"],
            "additionalProperties": false
        });
        assert_eq!(
            parse_structured::<A>(r#"{"score": 7}"#, &schema),
            Ok(A { score: 7 })
        );
        assert_eq!(
            parse_structured::<A>("```json\n{\"score\": 3}\n```", &schema),
            Ok(A { score: 3 })
        );
        let bad = parse_structured::<A>("{score: 7", &schema).unwrap_err();
        assert_eq!(
            (bad.kind, bad.reason.as_str()),
            (LlmErrorKind::Invalid, "the model's answer is not JSON")
        );
        let invalid = parse_structured::<A>(r#"{"score": 11}"#, &schema).unwrap_err();
        assert_eq!(invalid.kind, LlmErrorKind::Invalid);
        assert!(invalid.reason.contains("/score"), "{}", invalid.reason);
    }

    #[test]
    fn the_cached_validator_still_rejects_bad_output() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct B {
            reps: u32,
        }
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"reps": {"type": "integer", "minimum": 1, "maximum": 50}},
            "required": ["reps"],
            "additionalProperties": false,
            "title": "cached-validator-test"
        });
        // The first call compiles and caches; the later ones reuse the same validator.
        assert_eq!(
            parse_structured::<B>(r#"{"reps": 5}"#, &schema),
            Ok(B { reps: 5 })
        );
        let first = compiled(&schema).unwrap();
        let again = compiled(&schema).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "compiled once");
        for bad in [
            r#"{"reps": 51}"#,
            r#"{"reps": "5"}"#,
            r#"{"reps": 5, "x": 1}"#,
            "{}",
        ] {
            let e = parse_structured::<B>(bad, &schema).unwrap_err();
            assert_eq!(e.kind, LlmErrorKind::Invalid, "{bad} rejected");
        }
        // A different schema is not served the cached one.
        let other = serde_json::json!({"type": "object", "required": ["sets"], "title": "other"});
        assert!(parse_structured::<serde_json::Value>(r#"{"reps": 5}"#, &other).is_err());
        assert_eq!(
            parse_structured::<B>(r#"{"reps": 50}"#, &schema),
            Ok(B { reps: 50 })
        );
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(status_error(429).retryable());
        assert!(status_error(503).retryable());
        assert!(!status_error(400).retryable());
        assert!(!LlmError::invalid("x").retryable());
        assert!(timed_out(Duration::from_secs(1)).retryable());
    }

    #[test]
    fn the_user_hash_is_stable_and_hides_the_id() {
        let u = Uuid::now_v7();
        assert_eq!(user_hash(u), user_hash(u));
        assert_eq!(user_hash(u).len(), 32);
        assert!(!user_hash(u).contains(&u.simple().to_string()));
    }
}
