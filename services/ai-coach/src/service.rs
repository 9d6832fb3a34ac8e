//! `AiCoachService` handlers.

use std::sync::Arc;

use sqlx::PgPool;
use stride_kit::{
    AppError, AppResult, Caller, Violations, clock::SharedClock, convert, grpc::on_behalf,
};
use stride_proto::{
    activity_session::{
        Activity, ListActivitiesRequest,
        activity_session_service_client::ActivitySessionServiceClient,
    },
    ai_coach::{
        GetRecommendationRequest, GetRecommendationResponse, RecommendationSource,
        ai_coach_service_server::AiCoachService,
    },
    analytics::{
        GetProgressSummaryRequest, GetProgressSummaryResponse,
        analytics_service_client::AnalyticsServiceClient,
    },
};
use tonic::{Request, Response, Status, transport::Channel};

use crate::{
    llm::Llm,
    rules::{self, Advice, Progress},
    store,
};

/// Longest goal accepted, in characters.
pub const MAX_GOAL_CHARS: usize = 500;
/// Catalog entries named in the prompt.
const MAX_CATALOG_IN_PROMPT: usize = 30;

#[derive(Clone)]
pub struct Coach {
    pool: PgPool,
    analytics: Channel,
    activity_session: Channel,
    llm: Option<Arc<Llm>>,
    clock: SharedClock,
}

impl Coach {
    pub fn new(
        pool: PgPool,
        analytics: Channel,
        activity_session: Channel,
        llm: Option<Llm>,
        clock: SharedClock,
    ) -> Self {
        Self {
            pool,
            analytics,
            activity_session,
            llm: llm.map(Arc::new),
            clock,
        }
    }

    /// The caller's week and the catalog, fetched with the caller's own token.
    async fn context(
        &self,
        caller: &Caller,
    ) -> AppResult<(GetProgressSummaryResponse, Vec<Activity>)> {
        let mut analytics = AnalyticsServiceClient::new(on_behalf(&self.analytics, &caller.token));
        let mut catalog =
            ActivitySessionServiceClient::new(on_behalf(&self.activity_session, &caller.token));
        let summary = analytics.get_progress_summary(GetProgressSummaryRequest::default());
        let activities = catalog.list_activities(ListActivitiesRequest {
            page_size: 100,
            ..Default::default()
        });
        let (summary, activities) = tokio::join!(summary, activities);
        let unavailable = |what: &str, s: Status| {
            tracing::warn!(upstream = what, code = ?s.code(), message = s.message(), "upstream call failed");
            AppError::Unavailable(
                "the coach cannot reach your progress right now; try again shortly".into(),
            )
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

    async fn recommendation(
        &self,
        caller: &Caller,
        req: GetRecommendationRequest,
    ) -> AppResult<GetRecommendationResponse> {
        let goal = req.goal.trim();
        let mut v = Violations::new();
        v.when(
            req.goal.chars().count() > MAX_GOAL_CHARS,
            "goal",
            "must be at most 500 characters",
        );
        v.check()?;

        let (summary, catalog) = self.context(caller).await?;
        let today = convert::local_date(self.clock.now(), &summary.timezone);
        let progress = Progress::from_summary(&summary, today);
        let advice = rules::advise(&progress, &catalog);

        let (response, usage_model, tokens) = match &self.llm {
            None => (
                rules_answer(advice, RecommendationSource::Rules, String::new()),
                None,
                (0, 0),
            ),
            Some(llm) => {
                let prompt = user_prompt(&summary, &progress, today, goal, &catalog, &advice);
                match llm.complete(prompt).await {
                    Ok(c) => (
                        GetRecommendationResponse {
                            text: c.text,
                            suggested_activity_id: advice.activity_id,
                            source: RecommendationSource::Llm as i32,
                            model: c.model.clone(),
                            fallback_reason: String::new(),
                        },
                        Some(c.model),
                        (c.prompt_tokens, c.completion_tokens),
                    ),
                    Err(reason) => (
                        rules_answer(advice, RecommendationSource::RulesFallback, reason),
                        Some(llm.model().to_owned()),
                        (0, 0),
                    ),
                }
            }
        };
        let source = match RecommendationSource::try_from(response.source) {
            Ok(RecommendationSource::Llm) => "llm",
            Ok(RecommendationSource::RulesFallback) => "rules_fallback",
            _ => "rules",
        };
        store::record(
            &self.pool,
            &store::Usage {
                user_id: caller.user_id,
                source,
                model: usage_model.as_deref(),
                prompt_tokens: tokens.0,
                completion_tokens: tokens.1,
                at: self.clock.now(),
            },
        )
        .await?;
        Ok(response)
    }
}

fn rules_answer(
    advice: Advice,
    source: RecommendationSource,
    fallback_reason: String,
) -> GetRecommendationResponse {
    GetRecommendationResponse {
        text: advice.text,
        suggested_activity_id: advice.activity_id,
        source: source as i32,
        model: String::new(),
        fallback_reason,
    }
}

/// The user message: figures first, then the goal (quoted, as data), then the catalog.
pub fn user_prompt(
    s: &GetProgressSummaryResponse,
    p: &Progress,
    today: time::Date,
    goal: &str,
    catalog: &[Activity],
    advice: &Advice,
) -> String {
    use std::fmt::Write as _;
    let fmt_date = |d: Option<&stride_proto::Date>| {
        d.and_then(convert::from_date)
            .map_or_else(|| "?".to_owned(), |d| d.to_string())
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "My progress this week ({} to {}, timezone {}, today is {today}):",
        fmt_date(s.start_date.as_ref()),
        fmt_date(s.end_date.as_ref()),
        s.timezone
    );
    let _ = writeln!(
        out,
        "- sessions completed this week: {}",
        p.sessions_this_week
    );
    let _ = writeln!(out, "- focus sessions this week: {}", p.focus_this_week);
    let _ = writeln!(out, "- total minutes this week: {}", p.minutes_this_week);
    let _ = writeln!(out, "- focus sessions today: {}", p.focus_today);
    let _ = writeln!(
        out,
        "- current streak: {} days (longest: {} days)",
        p.current_streak, p.longest_streak
    );
    let per_day: Vec<String> = s
        .days
        .iter()
        .map(|d| format!("{} {}", fmt_date(d.date.as_ref()), d.sessions_completed))
        .collect();
    let _ = writeln!(out, "- sessions per day: {}", per_day.join(", "));
    if goal.is_empty() {
        let _ = writeln!(out, "My goal: (none given)");
    } else {
        let _ = writeln!(
            out,
            "My goal (my own words): \"{}\"",
            goal.replace('"', "'")
        );
    }
    let names: Vec<&str> = catalog
        .iter()
        .take(MAX_CATALOG_IN_PROMPT)
        .map(|a| a.name.as_str())
        .collect();
    let _ = writeln!(out, "Activity catalog: {}", names.join(", "));
    if !advice.activity_name.is_empty() {
        let _ = writeln!(out, "Suggested next activity: {}", advice.activity_name);
    }
    out
}

#[tonic::async_trait]
impl AiCoachService for Coach {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_recommendation(
        &self,
        request: Request<GetRecommendationRequest>,
    ) -> Result<Response<GetRecommendationResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.recommendation(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }
}
