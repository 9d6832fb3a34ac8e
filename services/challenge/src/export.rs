//! `stride.challenge.v1.UserDataService` (service-only): everything challenge holds about the caller,
//! for profile's data export (issue 12). Secrets are left out in the queries themselves.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, export::Source};
use stride_proto::stride::challenge::v1::{
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
        name: "participations",
        sql: "SELECT to_jsonb(p)::text FROM participants p WHERE user_id = $1 ORDER BY joined_at",
    },
    Source {
        name: "progress",
        sql: "SELECT to_jsonb(p)::text FROM progress p WHERE user_id = $1
              ORDER BY window_start, challenge_id",
    },
    Source {
        name: "points",
        sql: "SELECT to_jsonb(p)::text FROM points_ledger p WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "contributions",
        sql: "SELECT to_jsonb(c)::text FROM contributions c WHERE user_id = $1
              ORDER BY window_start, challenge_id, cause_id",
    },
    Source {
        name: "shutdowns",
        sql: "SELECT to_jsonb(s)::text FROM shutdowns s WHERE user_id = $1 ORDER BY local_date, cause_id",
    },
    Source {
        name: "owned_challenges",
        sql: "SELECT to_jsonb(c)::text FROM challenges c WHERE owner_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "xp",
        sql: "SELECT to_jsonb(x)::text FROM xp_ledger x WHERE user_id = $1 ORDER BY created_at, id",
    },
    Source {
        name: "activity",
        sql: "SELECT to_jsonb(a)::text FROM reward_activity a WHERE user_id = $1
              ORDER BY local_date, cause",
    },
    Source {
        name: "achievements",
        sql: "SELECT to_jsonb(a)::text FROM user_achievements a WHERE user_id = $1
              ORDER BY unlocked_at, achievement",
    },
    Source {
        name: "standings",
        sql: "SELECT to_jsonb(s)::text FROM standings s WHERE user_id = $1 ORDER BY board",
    },
    Source {
        name: "leaderboard_opt_out",
        sql: "SELECT to_jsonb(o)::text FROM board_opt_outs o WHERE user_id = $1",
    },
    Source {
        name: "friends",
        sql: "SELECT to_jsonb(f)::text FROM friendships f WHERE user_id = $1 ORDER BY since, friend_id",
    },
    Source {
        name: "friend_requests",
        sql: "SELECT to_jsonb(r)::text FROM friend_requests r WHERE from_user = $1 OR to_user = $1
              ORDER BY created_at, id",
    },
    Source {
        name: "blocks",
        sql: "SELECT to_jsonb(b)::text FROM blocks b WHERE blocker = $1 ORDER BY created_at, blocked",
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
