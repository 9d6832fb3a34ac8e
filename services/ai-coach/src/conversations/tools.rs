//! The tools the coach consults on the caller's behalf, through the generated stubs with the
//! caller's own token and a deadline. Each returns a few compact lines of figures (what the
//! model reads and the rules quote), or a short, secret-free reason.

use std::time::Duration;

use async_openai::types::chat::{ChatCompletionTool, ChatCompletionTools, FunctionObject};
use serde_json::{Value, json};
use stride_kit::grpc::on_behalf;
use stride_proto::{
    activity_session::{
        ListExercisesRequest, ListSessionsRequest, ListTasksRequest, ListUserPlansRequest,
        catalog_service_client::CatalogServiceClient, session_service_client::SessionServiceClient,
        task_service_client::TaskServiceClient, user_plan_service_client::UserPlanServiceClient,
    },
    analytics::{GetProgressSummaryRequest, analytics_service_client::AnalyticsServiceClient},
};
use tonic::transport::Channel;

use super::domain::Tool;

/// Per tool call.
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Peers {
    pub analytics: Channel,
    pub activity_session: Channel,
}

/// The tools' definitions for the model.
pub fn definitions() -> Vec<ChatCompletionTools> {
    let f = |name: &str, description: &str, parameters: Value| {
        ChatCompletionTools::Function(ChatCompletionTool {
            function: FunctionObject {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
                strict: None,
            },
        })
    };
    let none = json!({"type": "object", "properties": {}, "additionalProperties": false});
    vec![
        f(
            "progress",
            "The user's figures this week: sessions, focus sessions, minutes, streak.",
            none.clone(),
        ),
        f(
            "sessions",
            "The user's most recent activity sessions.",
            none.clone(),
        ),
        f(
            "exercises",
            "Search the exercise catalog.",
            json!({"type": "object", "properties": {"query": {"type": "string", "description": "words to search for"}}, "required": ["query"], "additionalProperties": false}),
        ),
        f(
            "plans",
            "The user's plans and how far along they are.",
            none.clone(),
        ),
        f("tasks", "The user's open tasks.", none),
    ]
}

fn request<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(DEADLINE);
    r
}

fn unavailable(tool: Tool, s: &tonic::Status) -> String {
    tracing::warn!(tool = tool.name(), code = ?s.code(), message = s.message(), "tool call failed");
    match s.code() {
        tonic::Code::DeadlineExceeded => "the lookup took too long".into(),
        _ => "that service is unavailable".into(),
    }
}

/// Runs `tool` for the caller (`token`); `query` is the exercise search.
pub async fn run(peers: &Peers, token: &str, tool: Tool, query: &str) -> Result<String, String> {
    let ch = |c: &Channel| on_behalf(c, token);
    let mut lines = Vec::new();
    match tool {
        Tool::Progress => {
            let s = AnalyticsServiceClient::new(ch(&peers.analytics))
                .get_progress_summary(request(GetProgressSummaryRequest::default()))
                .await
                .map_err(|e| unavailable(tool, &e))?
                .into_inner();
            let minutes = s.total_duration.map_or(0, |d| d.seconds / 60);
            lines.push(format!(
                "sessions completed this week: {}",
                s.sessions_completed
            ));
            lines.push(format!("focus sessions this week: {}", s.focus_sessions));
            lines.push(format!("total minutes this week: {minutes}"));
            lines.push(format!(
                "current streak: {} days (longest {})",
                s.current_streak, s.longest_streak
            ));
        }
        Tool::Sessions => {
            let r = SessionServiceClient::new(ch(&peers.activity_session))
                .list_sessions(request(ListSessionsRequest {
                    page_size: 5,
                    ..Default::default()
                }))
                .await
                .map_err(|e| unavailable(tool, &e))?
                .into_inner();
            for s in r.sessions {
                let minutes = s.duration.map_or(0, |d| d.seconds / 60);
                let day = s
                    .local_date
                    .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                    .unwrap_or_default();
                lines.push(format!("{day} {:?} session, {minutes} min", s.kind()));
            }
        }
        Tool::Exercises => {
            let r = CatalogServiceClient::new(ch(&peers.activity_session))
                .list_exercises(request(ListExercisesRequest {
                    page_size: 5,
                    query: query.chars().take(100).collect(),
                    ..Default::default()
                }))
                .await
                .map_err(|e| unavailable(tool, &e))?
                .into_inner();
            for e in r.exercises {
                lines.push(format!("{} ({:?})", e.name, e.difficulty()));
            }
        }
        Tool::Plans => {
            let r = UserPlanServiceClient::new(ch(&peers.activity_session))
                .list_user_plans(request(ListUserPlansRequest {
                    page_size: 5,
                    ..Default::default()
                }))
                .await
                .map_err(|e| unavailable(tool, &e))?
                .into_inner();
            for p in r.user_plans {
                let status = p.status();
                let (done, total) = p.progress.map_or((0, 0), |g| (g.days_done, g.days_total));
                lines.push(format!("plan {status:?}: day {done} of {total}"));
            }
        }
        Tool::Tasks => {
            let r = TaskServiceClient::new(ch(&peers.activity_session))
                .list_tasks(request(ListTasksRequest {
                    page_size: 10,
                    completed: Some(false),
                    ..Default::default()
                }))
                .await
                .map_err(|e| unavailable(tool, &e))?
                .into_inner();
            for t in r.tasks {
                lines.push(format!("- {}", t.title));
            }
        }
    }
    Ok(lines.join("\n"))
}

/// The exercise query from the model's JSON arguments (untrusted: anything else is empty).
pub fn query_argument(arguments: &str) -> String {
    serde_json::from_str::<Value>(arguments)
        .ok()
        .and_then(|v| {
            v.get("query")?
                .as_str()
                .map(|q| q.chars().take(100).collect())
        })
        .unwrap_or_default()
}
