//! The coach against a fast OpenAI-compatible stand-in (`stride-bench openai-server`: stride-
//! testkit's, 1 ms between streamed chunks, in a process of its own): what the mesh adds to the
//! first streamed token, and practice evaluations per second. The model's own time is the
//! baseline, measured in the same run with the coach's production client (`Llm`) calling the
//! stand-in directly, so the figures are the mesh's share, not the model's.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_openai::types::chat::{ChatCompletionRequestMessage, ChatCompletionRequestUserMessage};
use serde::Serialize;
use stride_ai_coach::{
    LlmConfig,
    llm::{Llm, StreamEvent},
};
use stride_proto::{
    ai_coach::{
        CompletePracticeSessionRequest, SendMessageRequest, SendPracticeMessageRequest,
        StartConversationRequest, StartPracticeSessionRequest,
        conversation_service_client::ConversationServiceClient,
        practice_service_client::PracticeServiceClient, send_message_response::Event,
    },
    profile::PreparationType,
};
use stride_testkit::authed;
use tokio_stream::StreamExt as _;
use tonic::transport::Channel;

use crate::{User, load};

/// First tokens timed per path (alternating direct and through the mesh, one at a time).
const SAMPLES: usize = 150;
/// Callers in flight in the evaluation phase: a full practice cycle is five calls, four of them
/// model-backed, so fewer callers than the read phases keep the stand-in from being the limit.
pub const EVAL_CALLERS: usize = 16;

#[derive(Debug, Serialize)]
pub struct Ttft {
    pub samples: usize,
    pub direct_p50_ms: f64,
    pub direct_p99_ms: f64,
    pub mesh_p50_ms: f64,
    pub mesh_p99_ms: f64,
    /// Mesh minus direct at the same percentile: what the gateway, the coach (auth, quota,
    /// conversation memory, context) and their database add before the first token.
    pub added_p50_ms: f64,
    pub added_p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Evals {
    pub evaluations: u64,
    pub per_s: f64,
    pub cycle_p50_ms: f64,
    pub cycle_p99_ms: f64,
    pub failed: u64,
    /// The stand-in's own rate for model calls from the coach's client at the same concurrency.
    pub model_calls_per_s: f64,
}

fn llm(url: &str) -> Llm {
    Llm::new(&LlmConfig::new(url, "stand-in-bench"))
}

fn user_message(text: &str) -> Vec<ChatCompletionRequestMessage> {
    vec![ChatCompletionRequestMessage::User(
        ChatCompletionRequestUserMessage::from(text),
    )]
}

/// Time to the first streamed token: the coach's client straight to the stand-in against
/// ConversationService.SendMessage through the gateway.
pub async fn ttft(gateway: Channel, openai_url: &str, users: &[User]) -> anyhow::Result<Ttft> {
    let llm = llm(openai_url);
    let mut conv = ConversationServiceClient::new(gateway);
    let mut conversations = Vec::new();
    for u in users {
        let c = conv
            .start_conversation(authed(
                StartConversationRequest {
                    title: "bench".into(),
                },
                &u.token,
            ))
            .await?
            .into_inner()
            .conversation
            .ok_or_else(|| anyhow::anyhow!("no conversation"))?;
        conversations.push((u.token.clone(), c.id));
    }
    let (mut direct, mut mesh) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        let t = Instant::now();
        let mut s = llm
            .stream(
                "chat",
                user_message("How am I doing this week?"),
                Vec::new(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("direct stream: {e:?}"))?;
        let mut first = None;
        while let Some(ev) = s.next().await {
            match ev.map_err(|e| anyhow::anyhow!("direct stream: {e:?}"))? {
                StreamEvent::Token(_) if first.is_none() => first = Some(t.elapsed()),
                _ => {}
            }
        }
        direct.push(first.ok_or_else(|| anyhow::anyhow!("no direct token"))?);

        let (token, id) = &conversations[i % conversations.len()];
        let t = Instant::now();
        let mut s = conv
            .send_message(authed(
                SendMessageRequest {
                    conversation_id: id.clone(),
                    text: "How am I doing this week?".into(),
                },
                token,
            ))
            .await?
            .into_inner();
        let mut first = None;
        // Read to the end: the next message on this conversation starts after this one is stored.
        while let Some(m) = s.next().await {
            if let Some(Event::Token(_)) = m?.event
                && first.is_none()
            {
                first = Some(t.elapsed());
            }
        }
        mesh.push(first.ok_or_else(|| anyhow::anyhow!("no token through the mesh"))?);
    }
    let ms = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        let us: Vec<u64> = v.iter().map(|d| d.as_micros() as u64).collect();
        load::pct(&us, p) as f64 / 1000.0
    };
    let (d50, d99) = (ms(&mut direct, 0.5), ms(&mut direct, 0.99));
    let (m50, m99) = (ms(&mut mesh, 0.5), ms(&mut mesh, 0.99));
    Ok(Ttft {
        samples: SAMPLES,
        direct_p50_ms: d50,
        direct_p99_ms: d99,
        mesh_p50_ms: m50,
        mesh_p99_ms: m99,
        added_p50_ms: m50 - d50,
        added_p99_ms: m99 - d99,
    })
}

/// Full practice cycles (start, three turns, complete with its evaluation) through the gateway,
/// closed loop; then the stand-in's own rate for the coach's client at the same concurrency.
pub async fn evaluations(
    gateway: Vec<Channel>,
    openai_url: &str,
    users: Arc<Vec<User>>,
    phase: Duration,
) -> anyhow::Result<Evals> {
    let clients: Arc<Vec<_>> = Arc::new(
        gateway
            .into_iter()
            .map(PracticeServiceClient::new)
            .collect(),
    );
    let s = load::closed(EVAL_CALLERS, phase, move |i| {
        let mut p = clients[i % clients.len()].clone();
        let token = users[i % users.len()].token.clone();
        async move { cycle(&mut p, &token).await.is_ok() }
    })
    .await;
    let llm = Arc::new(llm(openai_url));
    let model = load::closed(EVAL_CALLERS, phase, move |_| {
        let llm = llm.clone();
        async move {
            llm.chat(
                "practice.reply",
                user_message("Tell me about yourself."),
                64,
            )
            .await
            .is_ok()
        }
    })
    .await;
    Ok(Evals {
        evaluations: s.ok,
        per_s: s.rate(),
        cycle_p50_ms: s.p_ms(0.5),
        cycle_p99_ms: s.p_ms(0.99),
        failed: s.failed,
        model_calls_per_s: model.rate(),
    })
}

async fn cycle(p: &mut PracticeServiceClient<Channel>, token: &str) -> anyhow::Result<()> {
    let session = p
        .start_practice_session(authed(
            StartPracticeSessionRequest {
                preparation_type: PreparationType::Interview as i32,
                agenda: "Backend engineer interview".into(),
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner()
        .practice_session
        .ok_or_else(|| anyhow::anyhow!("no session"))?;
    for text in [
        "I led the move of our billing system to event sourcing.",
        "We measured p99 latency before and after, and it halved.",
        "Next I would add replay tests for every consumer.",
    ] {
        p.send_practice_message(authed(
            SendPracticeMessageRequest {
                practice_session_id: session.practice_session_id.clone(),
                text: text.into(),
            },
            token,
        ))
        .await?;
    }
    let done = p
        .complete_practice_session(authed(
            CompletePracticeSessionRequest {
                practice_session_id: session.practice_session_id,
            },
            token,
        ))
        .await?
        .into_inner();
    anyhow::ensure!(done.evaluation.is_some(), "completed without an evaluation");
    Ok(())
}
