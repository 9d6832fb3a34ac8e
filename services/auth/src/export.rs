//! `stride.auth.v1.UserDataService` (service-only): everything auth holds about the caller,
//! for profile's data export (issue 12). Secrets are left out in the queries themselves.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, export::Source};
use stride_proto::stride::auth::v1::{
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
        name: "account",
        sql: "SELECT (to_jsonb(u) - 'password_hash')::text FROM users u WHERE id = $1",
    },
    Source {
        name: "identities",
        sql: "SELECT to_jsonb(i)::text FROM identities i WHERE user_id = $1 ORDER BY created_at, id",
    },
    // Session metadata only: no token hashes, no sealed successors.
    Source {
        name: "sessions",
        sql: "SELECT jsonb_build_object('id', id, 'family_id', family_id, 'created_at', created_at,
                  'expires_at', expires_at, 'used_at', used_at, 'revoked_at', revoked_at)::text
              FROM refresh_tokens WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "audit_events",
        sql: "SELECT to_jsonb(a)::text FROM audit_events a WHERE user_id = $1 ORDER BY created_at, id",
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
