//! The optional LLM client: one chat completion per recommendation, bounded by a timeout.
//! Failures become a short, secret-free reason; the caller then answers with the rules.

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    types::chat::{
        ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
        ChatCompletionRequestUserMessage, CreateChatCompletionRequest,
    },
};

use crate::{
    LlmConfig,
    domain::{prompt, recommendation::Completion},
};

/// Longest answer passed on to the caller.
const MAX_ANSWER_CHARS: usize = 2000;
/// Upper bound on generated tokens (≤3 sentences need far fewer).
const MAX_COMPLETION_TOKENS: u32 = 300;

pub struct Llm {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: std::time::Duration,
}

impl Llm {
    pub fn new(cfg: &LlmConfig) -> Self {
        let mut config = OpenAIConfig::new().with_api_base(cfg.base_url.trim_end_matches('/'));
        if let Some(key) = &cfg.api_key {
            config = config.with_api_key(key.expose());
        }
        Self {
            client: Client::with_config(config),
            model: cfg.model.clone(),
            timeout: cfg.timeout,
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Asks the model; Err is the fallback reason shown to the caller.
    pub async fn complete(&self, user_prompt: String) -> Result<Completion, String> {
        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages: vec![
                ChatCompletionRequestMessage::from(ChatCompletionRequestSystemMessage::from(
                    prompt::SYSTEM,
                )),
                ChatCompletionRequestMessage::from(ChatCompletionRequestUserMessage::from(
                    user_prompt.as_str(),
                )),
            ],
            max_completion_tokens: Some(MAX_COMPLETION_TOKENS),
            ..Default::default()
        };
        let response =
            match tokio::time::timeout(self.timeout, self.client.chat().create(request)).await {
                Err(_) => {
                    return Err(format!(
                        "the LLM did not answer within {}s",
                        self.timeout.as_secs()
                    ));
                }
                Ok(Err(e)) => {
                    // The error may name the endpoint; it goes to the log, never to the caller.
                    tracing::warn!(error = %e, model = %self.model, "LLM call failed");
                    return Err(reason(&e));
                }
                Ok(Ok(r)) => r,
            };
        let text = response
            .choices
            .first()
            .and_then(|c| c.message.content.as_deref())
            .map(str::trim)
            .unwrap_or_default();
        if text.is_empty() {
            return Err("the LLM returned an empty answer".into());
        }
        let usage = response.usage.unwrap_or_default();
        Ok(Completion {
            text: text.chars().take(MAX_ANSWER_CHARS).collect(),
            model: if response.model.is_empty() {
                self.model.clone()
            } else {
                response.model
            },
            prompt_tokens: i32::try_from(usage.prompt_tokens).unwrap_or(i32::MAX),
            completion_tokens: i32::try_from(usage.completion_tokens).unwrap_or(i32::MAX),
        })
    }
}

fn reason(e: &OpenAIError) -> String {
    match e {
        OpenAIError::ApiError(api) => {
            format!("the LLM answered with HTTP {}", api.status_code.as_u16())
        }
        OpenAIError::Reqwest(r) if r.is_connect() => "the LLM endpoint is unreachable".into(),
        OpenAIError::Reqwest(r) if r.is_timeout() => "the LLM did not answer in time".into(),
        OpenAIError::Reqwest(r) => match r.status() {
            Some(s) => format!("the LLM answered with HTTP {}", s.as_u16()),
            None => "the LLM request failed".into(),
        },
        OpenAIError::JSONDeserialize(..) => "the LLM answer could not be read".into(),
        _ => "the LLM request failed".into(),
    }
}
