//! The gRPC surface: challenges, joining, the caller's progress and the points leaderboard.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::PgPool;
use stride_kit::{
    AppError, AppResult, Caller, Violations,
    clock::SharedClock,
    convert::{self, require_id},
    error::page_size,
};
use stride_proto::challenge::{
    Challenge, GetChallengeRequest, GetChallengeResponse, GetLeaderboardRequest,
    GetLeaderboardResponse, GoalKind, JoinChallengeRequest, JoinChallengeResponse,
    LeaderboardEntry, ListChallengesRequest, ListChallengesResponse, Progress, Recurrence,
    challenge_service_server::ChallengeService,
};
use time::{Date, OffsetDateTime};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::events::{DEFAULT_TIMEZONE, window_start};

const TOKEN_PREFIX: &str = "c:";

pub struct Svc {
    pool: PgPool,
    clock: SharedClock,
}

impl Svc {
    pub fn new(pool: PgPool, clock: SharedClock) -> Self {
        Self { pool, clock }
    }

    /// Now, at the microsecond precision PostgreSQL stores.
    fn now(&self) -> OffsetDateTime {
        let t = self.clock.now();
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
            .unwrap_or(t)
    }
}

/// Opaque cursor: the id of the last challenge returned.
pub(crate) fn encode_page_token(last: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{last}"))
}

pub(crate) fn decode_page_token(token: &str) -> Option<Uuid> {
    if token.len() > 128 {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    Uuid::parse_str(text.strip_prefix(TOKEN_PREFIX)?).ok()
}

#[derive(sqlx::FromRow)]
struct ChallengeRow {
    id: Uuid,
    title: String,
    description: String,
    goal_kind: String,
    activity_kind: String,
    target: i32,
    points: i32,
    recurrence: String,
    is_system: bool,
    participant_count: i64,
    joined_at: Option<OffsetDateTime>,
}

/// Columns of [`ChallengeRow`]; `$1` is the caller.
const CHALLENGE_SELECT: &str = "SELECT c.id, c.title, c.description, c.goal_kind, c.activity_kind, c.target,
        c.points, c.recurrence, c.is_system,
        (SELECT count(*) FROM participants n WHERE n.challenge_id = c.id) AS participant_count,
        (SELECT m.joined_at FROM participants m WHERE m.challenge_id = c.id AND m.user_id = $1) AS joined_at
    FROM challenges c";

impl From<&ChallengeRow> for Challenge {
    fn from(r: &ChallengeRow) -> Self {
        Challenge {
            id: r.id.to_string(),
            title: r.title.clone(),
            description: r.description.clone(),
            goal_kind: match r.goal_kind.as_str() {
                "sessions_completed" => GoalKind::SessionsCompleted,
                _ => GoalKind::Unspecified,
            } as i32,
            activity_kind: r.activity_kind.clone(),
            target: r.target,
            points: r.points,
            recurrence: match r.recurrence.as_str() {
                "weekly" => Recurrence::Weekly,
                "none" => Recurrence::None,
                _ => Recurrence::Unspecified,
            } as i32,
            is_system: r.is_system,
            participant_count: i32::try_from(r.participant_count).unwrap_or(i32::MAX),
            joined: r.joined_at.is_some(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Ranked {
    user_id: Uuid,
    display_name: String,
    points: i64,
    rank: i64,
}

/// Totals per user, ranked by points and then by who reached their total first. Equal points
/// reached at the same instant share a rank; ranks have no gaps.
const RANKED: &str = "WITH totals AS (
        SELECT user_id, sum(points)::bigint AS points, max(created_at) AS reached
        FROM points_ledger GROUP BY user_id
    ), ranked AS (
        SELECT t.user_id, coalesce(u.display_name, '') AS display_name, t.points, t.reached,
               dense_rank() OVER (ORDER BY t.points DESC, t.reached ASC) AS rank
        FROM totals t LEFT JOIN users u ON u.user_id = t.user_id
    )";

impl From<Ranked> for LeaderboardEntry {
    fn from(r: Ranked) -> Self {
        LeaderboardEntry {
            rank: i32::try_from(r.rank).unwrap_or(i32::MAX),
            user_id: r.user_id.to_string(),
            display_name: r.display_name,
            points: r.points,
        }
    }
}

impl Svc {
    async fn list(
        &self,
        caller: &Caller,
        req: ListChallengesRequest,
    ) -> AppResult<ListChallengesResponse> {
        let mut v = Violations::new();
        let limit = page_size(&mut v, req.page_size, 50);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let id = decode_page_token(&req.page_token);
            v.when(
                id.is_none(),
                "page_token",
                "is not a token returned by a previous call",
            );
            id
        };
        v.check()?;
        let mut rows: Vec<ChallengeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CHALLENGE_SELECT} WHERE ($2::uuid IS NULL OR c.id > $2) ORDER BY c.id LIMIT $3"
        )))
        .bind(caller.user_id)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| encode_page_token(r.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListChallengesResponse {
            challenges: rows.iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    async fn load(&self, caller: &Caller, id: Uuid) -> AppResult<ChallengeRow> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CHALLENGE_SELECT} WHERE c.id = $2"
        )))
        .bind(caller.user_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(AppError::not_found("challenge"))
    }

    /// The caller's progress in the window containing "today" in their stored timezone.
    async fn progress(&self, caller: &Caller, c: &ChallengeRow) -> AppResult<Option<Progress>> {
        let Some(joined_at) = c.joined_at else {
            return Ok(None);
        };
        let timezone: String = sqlx::query_scalar("SELECT timezone FROM users WHERE user_id = $1")
            .bind(caller.user_id)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned());
        let today = convert::local_date(self.clock.now(), &timezone);
        let start = window_start(&c.recurrence, today);
        let row: Option<(i32, Option<OffsetDateTime>)> = sqlx::query_as(
            "SELECT current, completed_at FROM progress WHERE challenge_id = $1 AND user_id = $2 AND window_start = $3",
        )
        .bind(c.id)
        .bind(caller.user_id)
        .bind(start)
        .fetch_optional(&self.pool)
        .await?;
        let (current, completed_at) = row.unwrap_or((0, None));
        let end: Option<Date> = (c.recurrence == "weekly").then(|| start + time::Duration::days(6));
        Ok(Some(Progress {
            challenge_id: c.id.to_string(),
            window_start: Some(convert::date(start)),
            window_end: end.map(convert::date),
            current,
            target: c.target,
            completed: completed_at.is_some(),
            complete_time: completed_at.map(convert::timestamp),
            join_time: Some(convert::timestamp(joined_at)),
        }))
    }

    async fn get(
        &self,
        caller: &Caller,
        req: GetChallengeRequest,
    ) -> AppResult<GetChallengeResponse> {
        let id = require_id("challenge_id", &req.challenge_id)?;
        let c = self.load(caller, id).await?;
        let my_progress = self.progress(caller, &c).await?;
        Ok(GetChallengeResponse {
            challenge: Some((&c).into()),
            my_progress,
        })
    }

    async fn join(
        &self,
        caller: &Caller,
        req: JoinChallengeRequest,
    ) -> AppResult<JoinChallengeResponse> {
        let id = require_id("challenge_id", &req.challenge_id)?;
        // Joining twice keeps the first join time: sessions count from when the user joined.
        let inserted = sqlx::query(
            "INSERT INTO participants (challenge_id, user_id, joined_at)
             SELECT id, $2, $3 FROM challenges WHERE id = $1
             ON CONFLICT (challenge_id, user_id) DO NOTHING",
        )
        .bind(id)
        .bind(caller.user_id)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        let c = self.load(caller, id).await?;
        if inserted.rows_affected() == 1 {
            tracing::info!(challenge_id = %id, "joined");
        }
        let my_progress = self.progress(caller, &c).await?;
        Ok(JoinChallengeResponse {
            challenge: Some((&c).into()),
            my_progress,
        })
    }

    async fn leaderboard(
        &self,
        caller: &Caller,
        req: GetLeaderboardRequest,
    ) -> AppResult<GetLeaderboardResponse> {
        let mut v = Violations::new();
        let top_n = match req.top_n {
            0 => 10,
            1..=100 => i64::from(req.top_n),
            _ => {
                v.add("top_n", "must be between 0 and 100");
                10
            }
        };
        v.check()?;
        let entries: Vec<Ranked> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{RANKED} SELECT user_id, display_name, points, rank FROM ranked ORDER BY rank, user_id LIMIT $1"
        )))
        .bind(top_n)
        .fetch_all(&self.pool)
        .await?;
        let me: Option<Ranked> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{RANKED} SELECT user_id, display_name, points, rank FROM ranked WHERE user_id = $1"
        )))
        .bind(caller.user_id)
        .fetch_optional(&self.pool)
        .await?;
        let me = match me {
            Some(r) => r.into(),
            None => {
                let display_name: Option<String> =
                    sqlx::query_scalar("SELECT display_name FROM users WHERE user_id = $1")
                        .bind(caller.user_id)
                        .fetch_optional(&self.pool)
                        .await?;
                LeaderboardEntry {
                    rank: 0,
                    user_id: caller.user_id.to_string(),
                    display_name: display_name.unwrap_or_default(),
                    points: 0,
                }
            }
        };
        Ok(GetLeaderboardResponse {
            entries: entries.into_iter().map(Into::into).collect(),
            me: Some(me),
        })
    }
}

#[tonic::async_trait]
impl ChallengeService for Svc {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_challenges(
        &self,
        request: Request<ListChallengesRequest>,
    ) -> Result<Response<ListChallengesResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.list(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_challenge(
        &self,
        request: Request<GetChallengeRequest>,
    ) -> Result<Response<GetChallengeResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.get(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn join_challenge(
        &self,
        request: Request<JoinChallengeRequest>,
    ) -> Result<Response<JoinChallengeResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.join(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_leaderboard(
        &self,
        request: Request<GetLeaderboardRequest>,
    ) -> Result<Response<GetLeaderboardResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.leaderboard(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_page_token(&encode_page_token(id)), Some(id));
        assert_eq!(decode_page_token("%%%"), None);
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode("c:not-a-uuid")),
            None
        );
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(id.to_string())),
            None
        );
    }
}
