//! `stride.ai_coach.v1.AiCoachService`: a next-step recommendation for the caller.

pub mod agents;
pub mod doubt;
pub mod materials;
pub mod practice;
pub mod quiz;

use std::sync::Arc;

use sqlx::PgPool;
use stride_kit::{AppResult, Call, Caller, clock::SharedClock, convert, grpc::on_behalf};
use stride_proto::{
    activity_session::{
        Activity, ListActivitiesRequest, catalog_service_client::CatalogServiceClient,
    },
    ai_coach::{self as pb, RecommendationSource, ai_coach_service_server::AiCoachService},
    analytics::{
        GetProgressSummaryRequest, GetProgressSummaryResponse,
        analytics_service_client::AnalyticsServiceClient,
    },
};
use tonic::{Status, transport::Channel};

use crate::{
    domain::{
        prompt,
        recommendation::{self, Asked, Completion, Recommendation, Source},
        rules::{self, Progress},
    },
    errors,
    llm::Llm,
    prompts, quota, store,
};

pub struct Recommendations {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub analytics: Channel,
    pub activity_session: Channel,
    /// None: rules only.
    pub llm: Option<Arc<Llm>>,
}

stride_kit::grpc_handlers! {
    impl AiCoachService for Recommendations {
        fn get_recommendation(pb::GetRecommendationRequest) -> pb::GetRecommendationResponse => get_recommendation;
    }
}

/// The rules' advice on the caller's week, written by the LLM when one is configured and
/// answers; every answer is recorded for usage accounting.
async fn get_recommendation(
    s: &Recommendations,
    call: Call<pb::GetRecommendationRequest>,
) -> AppResult<pb::GetRecommendationResponse> {
    let caller = call.caller()?;
    let goal = prompt::goal(&call.message.goal)?;
    if s.llm.is_some() {
        let mut conn = s.pool.acquire().await?;
        quota::charge(&mut conn, caller.user_id, &s.clock).await?;
    }
    let (summary, catalog) = upstream(s, caller).await?;
    let today = convert::local_date(s.clock.now(), &summary.timezone);
    let progress = Progress::from_summary(&summary, today);
    let advice = rules::advise(&progress, &catalog);
    let asked = match &s.llm {
        None => None,
        Some(llm) => {
            let user = prompt::user_prompt(&summary, &progress, today, goal, &catalog, &advice);
            Some(Asked {
                model: llm.model(),
                outcome: complete(&llm.for_user(caller.user_id), user).await,
            })
        }
    };
    let answer = recommendation::recommend(advice, asked);
    let mut conn = s.pool.acquire().await?;
    store::record(&mut conn, caller.user_id, &answer, s.clock.now_db()).await?;
    Ok(to_proto(answer))
}

/// Upper bound on generated tokens (≤3 sentences need far fewer).
const MAX_COMPLETION_TOKENS: u32 = 300;
/// Longest answer passed on to the caller.
const MAX_ANSWER_CHARS: usize = 2000;

/// The model's recommendation; Err is the fallback reason shown to the caller.
async fn complete(llm: &Llm, user_prompt: String) -> Result<Completion, String> {
    use async_openai::types::chat::{
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    };
    let messages = vec![
        ChatCompletionRequestSystemMessage::from(prompts::get("recommendation").text).into(),
        ChatCompletionRequestUserMessage::from(user_prompt).into(),
    ];
    let c = llm
        .chat("recommendation", messages, MAX_COMPLETION_TOKENS)
        .await
        .map_err(|e| e.reason)?;
    Ok(Completion {
        text: c.text.chars().take(MAX_ANSWER_CHARS).collect(),
        model: c.model,
        prompt_tokens: i32::try_from(c.usage.prompt_tokens).unwrap_or(i32::MAX),
        completion_tokens: i32::try_from(c.usage.completion_tokens).unwrap_or(i32::MAX),
    })
}

/// The caller's week and the catalog, fetched with the caller's own token.
async fn upstream(
    s: &Recommendations,
    caller: &Caller,
) -> AppResult<(GetProgressSummaryResponse, Vec<Activity>)> {
    let mut analytics = AnalyticsServiceClient::new(on_behalf(&s.analytics, &caller.token));
    let mut catalog = CatalogServiceClient::new(on_behalf(&s.activity_session, &caller.token));
    let summary = analytics.get_progress_summary(GetProgressSummaryRequest::default());
    let activities = catalog.list_activities(ListActivitiesRequest {
        page_size: 100,
        ..Default::default()
    });
    let (summary, activities) = tokio::join!(summary, activities);
    let unavailable = |what: &str, s: Status| {
        tracing::warn!(upstream = what, code = ?s.code(), message = s.message(), "upstream call failed");
        errors::upstream_unavailable()
    };
    let summary = summary
        .map_err(|s| unavailable("analytics", s))?
        .into_inner();
    let activities = activities
        .map_err(|s| unavailable("activity-session", s))?
        .into_inner()
        .activities;
    Ok((summary, activities))
}

fn to_proto(r: Recommendation) -> pb::GetRecommendationResponse {
    let source = match r.source {
        Source::Rules => RecommendationSource::Rules,
        Source::Llm => RecommendationSource::Llm,
        Source::RulesFallback => RecommendationSource::RulesFallback,
    };
    pb::GetRecommendationResponse {
        text: r.text,
        suggested_activity_id: r.activity_id,
        source: source as i32,
        model: r.model,
        fallback_reason: r.fallback_reason,
    }
}
