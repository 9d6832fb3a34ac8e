//! `stride.analytics.v1.UserDataService` (service-only): everything analytics holds about the caller,
//! for profile's data export (issue 12). Secrets are left out in the queries themselves.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, export::Source};
use stride_proto::stride::analytics::v1::{
    ExportUserDataRequest, ExportUserDataResponse, user_data_service_server::UserDataService,
};

pub struct Export {
    pub pool: PgPool,
}

stride_kit::grpc_handlers! {
    impl UserDataService for Export {
        fn export_user_data(ExportUserDataRequest) -> ExportUserDataResponse => export;
    }
}

const SOURCES: &[Source] = &[
    Source {
        name: "daily_rollups",
        sql: "SELECT to_jsonb(r)::text FROM daily_rollups r WHERE user_id = $1 ORDER BY local_date",
    },
    Source {
        name: "active_runs",
        sql: "SELECT to_jsonb(r)::text FROM active_runs r WHERE user_id = $1 ORDER BY first_date",
    },
    Source {
        name: "timezone_hints",
        sql: "SELECT to_jsonb(h)::text FROM timezone_hints h WHERE user_id = $1",
    },
    // H (issue 15): trends, topic mastery, share cards (the token's hash is left out).
    Source {
        name: "evaluations",
        sql: "SELECT to_jsonb(e)::text FROM evaluations e WHERE user_id = $1 ORDER BY evaluate_time",
    },
    Source {
        name: "evaluation_scores",
        sql: "SELECT to_jsonb(s)::text FROM evaluation_scores s WHERE user_id = $1 ORDER BY practice_session_id, dimension",
    },
    Source {
        name: "lessons_completed",
        sql: "SELECT to_jsonb(l)::text FROM lessons_completed l WHERE user_id = $1 ORDER BY completed_at, lesson_id",
    },
    Source {
        name: "quiz_attempts",
        sql: "SELECT to_jsonb(q)::text FROM quiz_attempts q WHERE user_id = $1 ORDER BY submit_time",
    },
    Source {
        name: "topic_mastery",
        sql: "SELECT to_jsonb(t)::text FROM topic_mastery t WHERE user_id = $1 ORDER BY topic_id",
    },
    Source {
        name: "share_cards",
        sql: "SELECT (to_jsonb(c) - 'token_sha256')::text FROM share_cards c WHERE user_id = $1 ORDER BY created_at",
    },
    Source {
        name: "event_log",
        sql: "SELECT to_jsonb(l)::text FROM event_log l WHERE user_id = $1 ORDER BY seq",
    },
    Source {
        name: "rollup_baseline",
        sql: "SELECT to_jsonb(b)::text FROM rollup_baseline b WHERE user_id = $1 ORDER BY local_date",
    },
    Source {
        name: "tasks",
        sql: "SELECT to_jsonb(t)::text FROM tasks t WHERE user_id = $1 ORDER BY task_id",
    },
    Source {
        name: "streak_settings",
        sql: "SELECT to_jsonb(s)::text FROM streak_settings s WHERE user_id = $1",
    },
    Source {
        name: "focus_goals",
        sql: "SELECT to_jsonb(g)::text FROM focus_goals g WHERE user_id = $1",
    },
    Source {
        name: "directory",
        sql: "SELECT to_jsonb(d)::text FROM user_directory d WHERE user_id = $1",
    },
];

async fn export(
    s: &Export,
    call: Call<ExportUserDataRequest>,
) -> AppResult<ExportUserDataResponse> {
    let user = call.caller()?.user_id;
    Ok(ExportUserDataResponse {
        collections: stride_kit::export::collect(&s.pool, user, SOURCES).await?,
    })
}
