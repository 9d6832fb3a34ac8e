//! ConversationService: streamed replies by the model (with a tool round and the cap on
//! rounds) and by the rules, memory with a running summary, ownership, expiry and ending.

use futures::StreamExt as _;
use serde_json::json;
use stride_ai_coach::{ChatConfig, LlmConfig};
use stride_proto::ai_coach::{
    AnswerPath, ConversationState, EndConversationRequest, GetConversationRequest,
    ListConversationsRequest, SendMessageRequest, SendMessageResponse, StartConversationRequest,
    conversation_service_client::ConversationServiceClient, send_message_response::Event,
};
use stride_testkit::{authed, bus::assert_invalid, openai::Reply};
use time::macros::datetime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, Mesh, stand_in, start_with_chat};

async fn client(h: &Harness) -> ConversationServiceClient<Channel> {
    ConversationServiceClient::connect(format!("http://{}", h.running.grpc_addr))
        .await
        .unwrap()
}

async fn open(h: &Harness, user: Uuid) -> String {
    client(h)
        .await
        .start_conversation(authed(
            StartConversationRequest {
                title: "Week".into(),
            },
            &h.token(user),
        ))
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap()
        .id
}

async fn say(
    h: &Harness,
    user: Uuid,
    id: &str,
    text: &str,
) -> Result<Vec<SendMessageResponse>, tonic::Status> {
    let mut s = client(h)
        .await
        .send_message(authed(
            SendMessageRequest {
                conversation_id: id.into(),
                text: text.into(),
            },
            &h.token(user),
        ))
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = s.next().await {
        out.push(e?);
    }
    Ok(out)
}

fn tokens(events: &[SendMessageResponse]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Token(t)) => Some(t.text.clone()),
            _ => None,
        })
        .collect()
}

fn done(events: &[SendMessageResponse]) -> stride_proto::ai_coach::FinalMessage {
    match events.last().and_then(|e| e.event.clone()) {
        Some(Event::Done(d)) => d,
        other => panic!("the last event is the final message: {other:?}"),
    }
}

fn tools(events: &[SendMessageResponse]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Tool(t)) => Some((t.tool.clone(), t.done)),
            _ => None,
        })
        .collect()
}

async fn begin(llm: Option<LlmConfig>, chat: ChatConfig) -> (Harness, Mesh) {
    start_with_chat(datetime!(2026-06-10 08:00 UTC), llm, chat).await
}

#[tokio::test]
async fn the_model_streams_a_reply_after_a_tool_round() {
    let (ai, config) = stand_in().await;
    ai.script("chat", Reply::tool_call("progress", json!({})));
    ai.script(
        "chat",
        Reply::text("You completed 2 sessions this week: one more Focus block today?"),
    );
    let (h, mesh) = begin(Some(config), ChatConfig::default()).await;
    let ada = Uuid::now_v7();
    mesh.complete_sessions(&h, ada, &mesh.focus_id, 2).await;
    let id = open(&h, ada).await;

    let events = say(&h, ada, &id, "How is my week going?").await.unwrap();
    assert_eq!(
        tools(&events),
        [
            ("progress".to_owned(), false),
            ("progress".to_owned(), true)
        ]
    );
    let toks = tokens(&events);
    assert!(toks.len() >= 5, "token by token: {toks:?}");
    let d = done(&events);
    let m = d.message.unwrap();
    assert_eq!(m.text, toks.concat());
    assert_eq!(m.tools_used, ["progress"]);
    let p = m.provenance.unwrap();
    assert_eq!(p.path, AnswerPath::Model as i32);
    assert!(!p.answer_id.is_empty());
    assert!(d.prompt_tokens > 0 && d.completion_tokens > 0);

    // The second request carried the tool's figures from analytics, for this user.
    let sent = ai.requests("chat");
    assert_eq!(sent.len(), 2);
    let msgs = sent[1]["messages"].as_array().unwrap();
    let tool_msg = msgs.iter().find(|m| m["role"] == "tool").unwrap();
    assert!(
        tool_msg["content"]
            .as_str()
            .unwrap()
            .contains("sessions completed this week: 2"),
        "{tool_msg}"
    );
    assert_eq!(sent[0]["tools"].as_array().unwrap().len(), 5);

    let conv = client(&h)
        .await
        .get_conversation(authed(
            GetConversationRequest {
                conversation_id: id.clone(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(conv.messages.len(), 2);
    assert_eq!(conv.messages[0].text, "How is my week going?");
    assert_eq!(
        conv.messages[1].provenance.as_ref().unwrap().answer_id,
        p.answer_id
    );
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn after_the_cap_on_tool_rounds_the_model_answers_without_tools() {
    let (ai, config) = stand_in().await;
    for _ in 0..3 {
        ai.script("chat", Reply::tool_call("tasks", json!({})));
    }
    ai.script("chat", Reply::text("Your task list is clear."));
    let chat = ChatConfig {
        max_tool_rounds: 2,
        ..Default::default()
    };
    let (h, mesh) = begin(Some(config), chat).await;
    let ada = Uuid::now_v7();
    let id = open(&h, ada).await;
    let events = say(&h, ada, &id, "What should I do?").await.unwrap();
    let sent = ai.requests("chat");
    assert_eq!(sent.len(), 3, "two tool rounds, then the answer");
    assert!(sent[0].get("tools").is_some() && sent[1].get("tools").is_some());
    assert!(
        sent[2].get("tools").is_none(),
        "the last call offers no tools: {}",
        sent[2]
    );
    // The stand-in still asked for a tool on the third call: no text, so the rules answer.
    let m = done(&events).message.unwrap();
    assert_eq!(m.provenance.unwrap().path, AnswerPath::RulesFallback as i32);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn without_a_model_the_rules_answer_from_the_matching_tool() {
    let (h, mesh) = begin(None, ChatConfig::default()).await;
    let ada = Uuid::now_v7();
    mesh.complete_sessions(&h, ada, &mesh.focus_id, 3).await;
    let id = open(&h, ada).await;
    let events = say(&h, ada, &id, "how's my progress this week?")
        .await
        .unwrap();
    assert_eq!(tools(&events).len(), 2);
    assert!(tokens(&events).len() > 3);
    let m = done(&events).message.unwrap();
    assert!(
        m.text.contains("sessions completed this week: 3"),
        "{}",
        m.text
    );
    let p = m.provenance.unwrap();
    assert_eq!(
        (p.path, p.reason.as_str()),
        (AnswerPath::Rules as i32, "no model is configured")
    );

    let events = say(&h, ada, &id, "any open tasks?").await.unwrap();
    let m = done(&events).message.unwrap();
    assert_eq!(m.tools_used, ["tasks"]);
    assert!(m.text.contains("no open tasks"), "{}", m.text);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn older_turns_go_into_a_running_summary() {
    let chat = ChatConfig {
        memory_turns: 2,
        ..Default::default()
    };
    let (ai, config) = stand_in().await;
    ai.script(
        "chat.summary",
        Reply::text("The user asked about focus and sleep."),
    );
    let (h, mesh) = begin(Some(config), chat).await;
    let ada = Uuid::now_v7();
    let id = open(&h, ada).await;
    for i in 0..3 {
        say(&h, ada, &id, &format!("Question number {i}. Details."))
            .await
            .unwrap();
    }
    // Three turns, two kept: the first went into the summary (by the model).
    let conv = client(&h)
        .await
        .get_conversation(authed(
            GetConversationRequest {
                conversation_id: id.clone(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        conv.conversation.as_ref().unwrap().summary,
        "The user asked about focus and sleep."
    );
    let fourth = say(&h, ada, &id, "And now?").await.unwrap();
    done(&fourth);
    let last = ai.requests("chat").pop().unwrap();
    let msgs = last["messages"].as_array().unwrap();
    let texts: Vec<&str> = msgs.iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("The user asked about focus and sleep.")),
        "{texts:?}"
    );
    assert!(
        !texts.iter().any(|t| t.contains("Question number 0")),
        "folded turns are not verbatim"
    );
    assert!(texts.iter().any(|t| t.contains("Question number 2")));
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn another_users_conversation_is_not_found_and_input_is_checked() {
    let (h, mesh) = begin(None, ChatConfig::default()).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let id = open(&h, ada).await;
    let err = say(&h, bob, &id, "hi").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut c = client(&h).await;
    let err = c
        .get_conversation(authed(
            GetConversationRequest {
                conversation_id: id.clone(),
            },
            &h.token(bob),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .end_conversation(authed(
            EndConversationRequest {
                conversation_id: id.clone(),
            },
            &h.token(bob),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = c
        .list_conversations(authed(ListConversationsRequest::default(), &h.token(bob)))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.conversations.is_empty());

    let err = say(&h, ada, "not-a-uuid\0", "").await.unwrap_err();
    assert_invalid(&err, &["conversation_id", "text"]);
    let err = say(&h, ada, &id, &"x".repeat(4001)).await.unwrap_err();
    assert_invalid(&err, &["text"]);
    let err = c
        .list_conversations(authed(
            ListConversationsRequest {
                page_size: 101,
                page_token: String::new(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["page_size"]);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn conversations_end_with_a_summary_and_expire_after_inactivity() {
    let (h, mesh) = begin(None, ChatConfig::default()).await;
    let ada = Uuid::now_v7();
    let mut c = client(&h).await;
    let first = open(&h, ada).await;
    say(&h, ada, &first, "How is my week? I want more focus.")
        .await
        .unwrap();
    let ended = c
        .end_conversation(authed(
            EndConversationRequest {
                conversation_id: first.clone(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap();
    assert_eq!(ended.state, ConversationState::Ended as i32);
    assert!(
        ended.summary.contains("User: How is my week?"),
        "{}",
        ended.summary
    );
    let err = say(&h, ada, &first, "again").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let second = open(&h, ada).await;
    h.clock.advance(time::Duration::hours(24));
    let err = say(&h, ada, &second, "hello?").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("expired"), "{}", err.message());
    let listed = c
        .list_conversations(authed(
            ListConversationsRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.conversations.len(), 1);
    assert_eq!(
        listed.conversations[0].state,
        ConversationState::Expired as i32
    );
    let rest = c
        .list_conversations(authed(
            ListConversationsRequest {
                page_size: 1,
                page_token: listed.next_page_token,
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rest.conversations[0].id, first,
        "most recently active first"
    );
    h.stop().await;
    mesh.stop().await;
}
