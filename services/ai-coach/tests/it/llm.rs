//! The model layer against the OpenAI stand-in, through the production client: answers,
//! structured output checked against the schema, streaming with tool calls, embeddings,
//! timeouts and the circuit breaker.

use std::time::Duration;

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestUserMessage, ChatCompletionTool,
    ChatCompletionTools, FunctionObject,
};
use futures::StreamExt as _;
use serde_json::json;
use stride_ai_coach::llm::{Llm, LlmErrorKind, StreamEvent, ToolCall};
use stride_testkit::openai::{OpenAi, Reply};
use uuid::Uuid;

use crate::support::llm_config;

fn ask(text: &str) -> Vec<ChatCompletionRequestMessage> {
    vec![ChatCompletionRequestUserMessage::from(text).into()]
}

#[tokio::test]
async fn chat_sends_purpose_and_user_hash_and_returns_usage() {
    let ai = OpenAi::start().await;
    ai.script("smoke", Reply::text("Take a short walk."));
    let user = Uuid::now_v7();
    let llm = Llm::new(&llm_config(ai.url())).for_user(user);
    let c = llm.chat("smoke", ask("What next?"), 50).await.unwrap();
    assert_eq!(c.text, "Take a short walk.");
    assert_eq!(c.usage.completion_tokens, 4);
    let sent = ai.requests("smoke");
    assert_eq!(sent[0]["metadata"]["purpose"], "smoke");
    assert_eq!(sent[0]["user"], stride_ai_coach::llm::user_hash(user));
    assert_eq!(sent[0]["max_completion_tokens"], 50);
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Score {
    score: u32,
}

#[tokio::test]
async fn structured_output_is_checked_against_the_schema() {
    let ai = OpenAi::start().await;
    let schema = json!({"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}}, "required": ["score"], "additionalProperties": false});
    ai.script("score", Reply::Json(json!({"score": 8})));
    ai.script("score", Reply::Raw("{\"score\": ".into()));
    ai.script("score", Reply::Json(json!({"score": 42})));
    let llm = Llm::new(&llm_config(ai.url()));
    let (s, _) = llm
        .structured::<Score>("score", ask("rate"), "score", &schema, 50)
        .await
        .unwrap();
    assert_eq!(s, Score { score: 8 });
    let sent = &ai.requests("score")[0];
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["strict"], true);
    for _ in 0..2 {
        let e = llm
            .structured::<Score>("score", ask("rate"), "score", &schema, 50)
            .await
            .unwrap_err();
        assert_eq!(e.kind, LlmErrorKind::Invalid, "{}", e.reason);
    }
    // Unscripted: the stand-in's default is valid against the schema.
    let (s, _) = llm
        .structured::<Score>("score", ask("rate"), "score", &schema, 50)
        .await
        .unwrap();
    assert_eq!(s, Score { score: 1 });
    assert_eq!(
        ai.requests("score").len(),
        4,
        "invalid answers are not retried here"
    );
}

#[tokio::test]
async fn a_stream_delivers_tokens_then_tool_calls_and_usage() {
    let ai = OpenAi::start().await;
    ai.set_token_gap(Duration::from_millis(1));
    ai.script("chat", Reply::tool_call("get_progress", json!({"days": 7})));
    ai.script("chat", Reply::text("You did three sessions this week."));
    let llm = Llm::new(&llm_config(ai.url()));
    let tool = ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: "get_progress".into(),
            description: Some("the user's progress".into()),
            parameters: Some(
                json!({"type": "object", "properties": {"days": {"type": "integer"}}}),
            ),
            strict: None,
        },
    });
    let events: Vec<_> = llm
        .stream("chat", ask("How am I doing?"), vec![tool.clone()])
        .await
        .unwrap()
        .collect()
        .await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[0],
        StreamEvent::ToolCalls(vec![ToolCall {
            id: "call_stand_in_1".into(),
            name: "get_progress".into(),
            arguments: r#"{"days":7}"#.into(),
        }])
    );
    assert!(matches!(events[1], StreamEvent::Done(u) if u.prompt_tokens > 0));
    assert_eq!(
        ai.requests("chat")[0]["tools"][0]["function"]["name"],
        "get_progress"
    );

    let events: Vec<StreamEvent> = llm
        .stream("chat", ask("And?"), vec![])
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let tokens: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Token(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(tokens.len() >= 5, "token by token: {tokens:?}");
    assert_eq!(tokens.concat(), "You did three sessions this week.");
    assert!(matches!(events.last(), Some(StreamEvent::Done(u)) if u.completion_tokens == 6));
}

#[tokio::test]
async fn a_stream_retries_before_its_first_chunk() {
    let ai = OpenAi::start().await;
    ai.script("chat", Reply::Status(503));
    ai.script("chat", Reply::text("Back again."));
    let llm = Llm::new(&llm_config(ai.url()));
    let text: String = llm
        .stream("chat", ask("hi"), vec![])
        .await
        .unwrap()
        .filter_map(|e| async move {
            match e.unwrap() {
                StreamEvent::Token(t) => Some(t),
                _ => None,
            }
        })
        .collect()
        .await;
    assert_eq!(text, "Back again.");
}

#[tokio::test]
async fn embeddings_keep_input_order_and_similar_texts_are_near() {
    let ai = OpenAi::start().await;
    let llm = Llm::new(&llm_config(ai.url()));
    let v = llm
        .embed(
            "material.embed",
            vec![
                "focus session plan".into(),
                "plan a focus session".into(),
                "banana bread".into(),
            ],
        )
        .await
        .unwrap();
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert_eq!(v.len(), 3);
    assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]));
    assert_eq!(
        ai.requests("embeddings")[0]["model"],
        "text-embedding-3-small"
    );
}

#[tokio::test]
async fn a_hanging_model_times_out_and_a_4xx_is_not_retried() {
    let ai = OpenAi::start().await;
    ai.script("slow", Reply::Hang);
    ai.script("slow", Reply::Hang);
    ai.script("bad", Reply::Status(400));
    let mut cfg = llm_config(ai.url());
    cfg.timeout = Duration::from_millis(300);
    cfg.max_retries = 1;
    let llm = Llm::new(&cfg);
    let e = llm.chat("slow", ask("hi"), 10).await.unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Timeout);
    assert!(e.reason.contains("did not answer within"), "{}", e.reason);
    assert_eq!(ai.requests("slow").len(), 2, "one retry");
    let e = llm.chat("bad", ask("hi"), 10).await.unwrap_err();
    assert_eq!(
        (e.kind, e.reason.as_str()),
        (LlmErrorKind::Status, "the model answered with HTTP 400")
    );
    assert_eq!(ai.requests("bad").len(), 1);
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_probes_after_the_cooldown() {
    let ai = OpenAi::start().await;
    for _ in 0..3 {
        ai.script("x", Reply::Status(500));
    }
    let mut cfg = llm_config(ai.url());
    cfg.max_retries = 0;
    cfg.breaker_threshold = 3;
    cfg.breaker_cooldown = Duration::from_millis(200);
    let llm = Llm::new(&cfg);
    for _ in 0..3 {
        assert_eq!(
            llm.chat("x", ask("hi"), 10).await.unwrap_err().kind,
            LlmErrorKind::Status
        );
    }
    let e = llm.chat("x", ask("hi"), 10).await.unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::CircuitOpen);
    assert_eq!(ai.requests("x").len(), 3, "an open breaker sends nothing");
    // After the cooldown one probe goes out; it succeeds and closes the breaker.
    let c = stride_testkit::eventually(Duration::from_secs(5), "the breaker half-opens", || {
        let llm = llm.clone();
        async move { llm.chat("x", ask("hi"), 10).await.ok() }
    })
    .await;
    assert!(c.text.contains("stand-in"));
    assert!(llm.chat("x", ask("hi"), 10).await.is_ok());
}
