//! `stride.activity_session.v1.UserDataService` (service-only): everything activity-session holds about the caller,
//! for profile's data export (issue 12). Secrets are left out in the queries themselves.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, export::Source};
use stride_proto::stride::activity_session::v1::{
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
        name: "sessions",
        sql: "SELECT to_jsonb(s)::text FROM sessions s WHERE user_id = $1 ORDER BY started_at, id",
    },
    // Tasks, shutdown reflections, lesson progress (issue 13, part C).
    Source {
        name: "tasks",
        sql: "SELECT to_jsonb(t)::text FROM tasks t WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "shutdown_reflections",
        sql: "SELECT to_jsonb(r)::text FROM shutdown_reflections r WHERE user_id = $1 ORDER BY id",
    },
    Source {
        name: "lesson_progress",
        sql: "SELECT to_jsonb(p)::text FROM lesson_progress p WHERE user_id = $1 ORDER BY completed_at, lesson_id",
    },
    Source {
        name: "user_plans",
        sql: "SELECT to_jsonb(p)::text FROM user_plans p WHERE user_id = $1 ORDER BY id",
    },
    Source {
        name: "workout_logs",
        sql: "SELECT to_jsonb(l)::text FROM workout_logs l WHERE user_id = $1 \
              ORDER BY date_performed, id",
    },
    Source {
        name: "session_events",
        sql: "SELECT to_jsonb(e)::text FROM session_events e WHERE user_id = $1 ORDER BY occur_time, event_id",
    },
    Source {
        name: "routines",
        sql: "SELECT to_jsonb(r)::text FROM routines r WHERE user_id = $1 ORDER BY created_at, id",
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
