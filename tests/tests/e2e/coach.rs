//! The coach through the gateway: a streamed reply reaches grpc-web, Connect and JSON/HTTP clients token by
//! token (the model is stride-testkit's OpenAI stand-in, pacing its chunks), and a practice
//! session completed on the rules path activates the user in profile through the event.

use std::time::{Duration, Instant};

use prost::Message as _;
use stride_e2e::{Mesh, Options};
use stride_proto::{
    ai_coach::{
        AnswerPath, CompletePracticeSessionRequest, SendMessageRequest, SendMessageResponse,
        SendPracticeMessageRequest, StartConversationRequest, StartPracticeSessionRequest,
        conversation_service_client::ConversationServiceClient,
        practice_service_client::PracticeServiceClient, send_message_response::Event,
    },
    profile::{
        ActivationState, GetMyProfileRequest, PreparationType,
        profile_service_client::ProfileServiceClient,
    },
};
use stride_testkit::{EVENT_DEADLINE, authed, eventually, grpc_web, openai::OpenAi};

/// Between two streamed chunks of the stand-in: long enough that a reply buffered anywhere on
/// the way arrives visibly at once, short enough to keep the test quick.
const GAP: Duration = Duration::from_millis(80);

async fn signup(mesh: &Mesh, name: &str) -> String {
    let mut c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("clients");
    crate::signup(&mut c.auth, name).await
}

/// What a client saw of one streamed reply: each token with its arrival, and the final message.
struct Seen {
    tokens: Vec<(Instant, String)>,
    done: Option<stride_proto::ai_coach::FinalMessage>,
}

impl Seen {
    fn new() -> Self {
        Self {
            tokens: Vec::new(),
            done: None,
        }
    }

    fn take(&mut self, m: SendMessageResponse) {
        match m.event {
            Some(Event::Token(t)) => self.tokens.push((Instant::now(), t.text)),
            Some(Event::Done(d)) => self.done = Some(d),
            _ => {}
        }
    }

    /// The reply arrived as the model produced it: many tokens, spread over (nearly) the time
    /// the model took, adding up to the stored message, answered by the model.
    fn assert_streamed(&self, via: &str) {
        let n = self.tokens.len();
        assert!(n >= 5, "{via}: only {n} tokens");
        let spread = self.tokens[n - 1].0 - self.tokens[0].0;
        // The stand-in sends the n chunks GAP apart; a buffered reply arrives in one burst.
        assert!(
            spread >= GAP * (n as u32 - 1) / 2,
            "{via}: {n} tokens arrived within {spread:?}: buffered, not streamed"
        );
        let text: String = self.tokens.iter().map(|(_, t)| t.as_str()).collect();
        let done = self.done.as_ref().expect("a final message");
        let message = done.message.as_ref().expect("the stored message");
        assert_eq!(message.text, text, "{via}: tokens add up to the message");
        let p = message.provenance.as_ref().expect("provenance");
        assert_eq!(p.path, AnswerPath::Model as i32, "{via}: {p:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reply_streams_token_by_token_to_grpc_web_connect_and_json_clients() {
    stride_kit::telemetry::init_for_tests();
    let openai = OpenAi::start().await;
    openai.set_token_gap(GAP);
    let mesh = Mesh::start_with(
        &crate::shared_stores().await,
        Options {
            llm_url: Some(openai.url()),
            ..Default::default()
        },
    )
    .await
    .expect("mesh");
    let token = signup(&mesh, "stella").await;

    // grpc-web, as a browser calls (HTTP/1.1, tonic-web's framing).
    let mut web = ConversationServiceClient::new(grpc_web::transport(mesh.gateway));
    let conversation = web
        .start_conversation(authed(
            StartConversationRequest {
                title: "streaming".into(),
            },
            &token,
        ))
        .await
        .expect("start over grpc-web")
        .into_inner()
        .conversation
        .expect("conversation");
    let mut stream = web
        .send_message(authed(
            SendMessageRequest {
                conversation_id: conversation.id.clone(),
                text: "How should I train this week?".into(),
            },
            &token,
        ))
        .await
        .expect("send over grpc-web")
        .into_inner();
    let mut seen = Seen::new();
    while let Some(m) = stream.message().await.expect("a streamed message") {
        seen.take(m);
    }
    seen.assert_streamed("grpc-web");

    // Connect server streaming with the JSON codec: enveloped messages, then the end-of-stream
    // envelope (flag 0x02) carrying no error.
    let body = serde_json::to_vec(&serde_json::json!({
        "conversationId": conversation.id,
        "text": "And the week after?",
    }))
    .expect("json");
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    let mut res = reqwest::Client::new()
        .post(format!(
            "http://{}/stride.ai_coach.v1.ConversationService/SendMessage",
            mesh.gateway
        ))
        .header("content-type", "application/connect+json")
        .header("connect-protocol-version", "1")
        .header("authorization", format!("Bearer {token}"))
        .body(framed)
        .send()
        .await
        .expect("connect call");
    assert_eq!(res.status(), 200);
    let mut buf = Vec::<u8>::new();
    let mut seen = Seen::new();
    let mut end = None;
    while let Some(chunk) = res.chunk().await.expect("a chunk") {
        buf.extend_from_slice(&chunk);
        while buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() < 5 + len {
                break;
            }
            let flags = buf[0];
            let payload: Vec<u8> = buf.drain(..5 + len).skip(5).collect();
            let json: serde_json::Value = serde_json::from_slice(&payload).expect("json envelope");
            if flags & 0x02 != 0 {
                end = Some(json);
            } else {
                seen.take(from_json(json));
            }
        }
    }
    let end = end.expect("an end-of-stream envelope");
    assert!(end.get("error").is_none(), "{end}");
    seen.assert_streamed("Connect");

    // JSON/HTTP: newline-delimited JSON, one `{"result": …}` per line.
    let mut res = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/ai/conversations/{}/messages",
            mesh.gateway, conversation.id
        ))
        .header("authorization", format!("Bearer {token}"))
        .json(&serde_json::json!({"text": "And after that?"}))
        .send()
        .await
        .expect("JSON/HTTP call");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let (mut buf, mut seen) = (Vec::<u8>::new(), Seen::new());
    while let Some(chunk) = res.chunk().await.expect("a chunk") {
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let json: serde_json::Value = serde_json::from_slice(&line).expect("a JSON line");
            assert!(json.get("error").is_none(), "{json}");
            seen.take(from_json(json["result"].clone()));
        }
    }
    seen.assert_streamed("JSON/HTTP");

    // The model saw the conversation so far: the first exchange is in the second prompt.
    let chats = openai.requests("chat");
    let last = chats.last().expect("the model was asked").to_string();
    assert!(last.contains("How should I train this week?"), "{last}");
    mesh.stop().await.expect("stop");
}

/// A Connect JSON message of the stream, decoded through the proto's own JSON mapping (the
/// gateway's), for the few fields the test reads.
fn from_json(v: serde_json::Value) -> SendMessageResponse {
    let event = if let Some(t) = v.get("token") {
        Event::Token(stride_proto::ai_coach::TokenDelta {
            text: t["text"].as_str().unwrap_or_default().to_owned(),
        })
    } else if let Some(d) = v.get("done") {
        let m = &d["message"];
        let path = match m["provenance"]["path"].as_str() {
            Some("ANSWER_PATH_MODEL") => AnswerPath::Model,
            Some("ANSWER_PATH_RULES") => AnswerPath::Rules,
            Some("ANSWER_PATH_RULES_FALLBACK") => AnswerPath::RulesFallback,
            _ => AnswerPath::Unspecified,
        };
        Event::Done(stride_proto::ai_coach::FinalMessage {
            message: Some(stride_proto::ai_coach::Message {
                text: m["text"].as_str().unwrap_or_default().to_owned(),
                provenance: Some(stride_proto::ai_coach::Provenance {
                    path: path as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    } else {
        return SendMessageResponse::default();
    };
    // Round-trip through the wire form, as a client library would hold it.
    SendMessageResponse::decode(
        SendMessageResponse { event: Some(event) }
            .encode_to_vec()
            .as_slice(),
    )
    .expect("decode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_practice_session_evaluated_without_a_model_activates_the_user() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&crate::shared_stores().await)
        .await
        .expect("mesh");
    let token = signup(&mesh, "petra").await;
    // Five model-capable calls (start, three turns, complete): the gateway's `expensive` class
    // allows a burst of five per client, so this journey stays within it (the coach's own tests
    // cover completing too early).
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", mesh.gateway))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let profile = ProfileServiceClient::new(channel.clone());
    let me = || {
        let mut p = profile.clone();
        let t = token.clone();
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                .await
                .ok()?
                .into_inner()
                .profile
        }
    };
    let before = eventually(EVENT_DEADLINE, "the profile", me).await;
    assert_eq!(before.activation_state, ActivationState::New as i32);

    let practice = PracticeServiceClient::new(channel);
    let session = practice
        .clone()
        .start_practice_session(authed(
            StartPracticeSessionRequest {
                preparation_type: PreparationType::Interview as i32,
                agenda: "Staff engineer interview".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("start")
        .into_inner()
        .practice_session
        .expect("session");
    let id = session.practice_session_id;
    let send = |text: &'static str| {
        let mut p = practice.clone();
        let (t, id) = (token.clone(), id.clone());
        async move {
            p.send_practice_message(authed(
                SendPracticeMessageRequest {
                    practice_session_id: id,
                    text: text.into(),
                },
                &t,
            ))
            .await
        }
    };
    send("I rebuilt our deploy pipeline so releases take ten minutes, not two hours.")
        .await
        .expect("turn 1");
    send("I measured lead time and failure rate before and after the change.")
        .await
        .expect("turn 2");
    send("Next time I would involve the on-call team earlier.")
        .await
        .expect("turn 3");
    let done = practice
        .clone()
        .complete_practice_session(authed(
            CompletePracticeSessionRequest {
                practice_session_id: id.clone(),
            },
            &token,
        ))
        .await
        .expect("complete")
        .into_inner();
    let evaluation = done.evaluation.expect("an evaluation");
    let p = evaluation.provenance.as_ref().expect("provenance");
    assert_eq!(p.path, AnswerPath::Rules as i32, "{p:?}");
    assert!((0..=100).contains(&evaluation.overall_score));

    // practice_session.evaluated.v1 → profile activates the user, once.
    let after = eventually(EVENT_DEADLINE, "the user activated", || {
        let f = me();
        async move {
            f.await
                .filter(|p| p.activation_state == ActivationState::Activated as i32)
        }
    })
    .await;
    assert!(after.activate_time.is_some());
    mesh.stop().await.expect("stop");
}
