//! `stride.ai_coach.v1.UserDataService` (service-only): everything ai-coach holds about the caller,
//! for profile's data export (issue 12). Secrets are left out in the queries themselves.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, export::Source};
use stride_proto::stride::ai_coach::v1::{
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
        name: "recommendations",
        sql: "SELECT to_jsonb(r)::text FROM recommendations r WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "practice_sessions",
        sql: "SELECT to_jsonb(s)::text FROM practice_sessions s WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "practice_messages",
        sql: "SELECT to_jsonb(m)::text FROM practice_messages m JOIN practice_sessions s ON s.id = m.session_id
              WHERE s.user_id = $1 ORDER BY s.created_at, m.session_id, m.seq",
    },
    Source {
        name: "practice_evaluations",
        sql: "SELECT to_jsonb(e)::text FROM practice_evaluations e WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "practice_focus_areas",
        sql: "SELECT to_jsonb(f)::text FROM practice_focus_areas f WHERE user_id = $1 ORDER BY dimension",
    },
    Source {
        name: "practice_rollups",
        sql: "SELECT to_jsonb(r)::text FROM practice_rollups r WHERE user_id = $1 ORDER BY dimension",
    },
    Source {
        name: "answers",
        sql: "SELECT to_jsonb(a)::text FROM answers a WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "answer_feedback",
        sql: "SELECT to_jsonb(f)::text FROM answer_feedback f WHERE user_id = $1 ORDER BY updated_at, answer_id",
    },
    Source {
        name: "quota_days",
        sql: "SELECT to_jsonb(q)::text FROM quota_days q WHERE user_id = $1 ORDER BY day",
    },
    Source {
        name: "conversations",
        sql: "SELECT to_jsonb(c)::text FROM conversations c WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "conversation_messages",
        sql: "SELECT to_jsonb(m)::text FROM conversation_messages m WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "quizzes",
        sql: "SELECT to_jsonb(q)::text FROM quizzes q WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "quiz_attempts",
        sql: "SELECT to_jsonb(a)::text FROM quiz_attempts a WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "agent_executions",
        sql: "SELECT to_jsonb(e)::text FROM agent_executions e WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "generated_plans",
        sql: "SELECT to_jsonb(p)::text FROM generated_plans p WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "materials",
        // The file itself as base64 (at most 2 MiB): the export gives back what was uploaded.
        sql: "SELECT ((to_jsonb(m) - 'content') || jsonb_build_object('content_base64', encode(m.content, 'base64')))::text
              FROM materials m WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "material_chunks",
        // Embeddings are derived numbers, not the user's data: the text and its position are.
        sql: "SELECT jsonb_build_object('material_id', c.material_id, 'idx', c.idx, 'text', c.text,
                                        'embedding_model', c.embedding_model)::text
              FROM material_chunks c JOIN materials m ON m.id = c.material_id
              WHERE m.user_id = $1 ORDER BY m.created_at, c.material_id, c.idx",
    },
    Source {
        name: "doubts",
        sql: "SELECT to_jsonb(d)::text FROM doubts d WHERE user_id = $1 ORDER BY created_at, id",
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
