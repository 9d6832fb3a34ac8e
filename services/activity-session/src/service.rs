//! The gRPC surface: catalog listing and the session lifecycle.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::PgPool;
use stride_bus::outbox::OutboxHandle;
use stride_kit::{
    AppError, AppResult, Caller, Violations,
    clock::SharedClock,
    convert::{self, require_id},
    error::page_size,
};
use stride_proto::{
    activity_session::{
        Activity, ActivityKind, CompleteSessionRequest, CompleteSessionResponse,
        GetCurrentSessionRequest, GetCurrentSessionResponse, ListActivitiesRequest,
        ListActivitiesResponse, Session, SessionState, StartSessionRequest, StartSessionResponse,
        activity_session_service_server::ActivitySessionService,
    },
    events,
};
use time::{Date, OffsetDateTime};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::events::DEFAULT_TIMEZONE;

const MIN_PLANNED: time::Duration = time::Duration::minutes(1);
const MAX_PLANNED: time::Duration = time::Duration::hours(4);
/// Name of the partial unique index that allows one active session per user.
const ONE_ACTIVE_INDEX: &str = "sessions_one_active";
const TOKEN_PREFIX: &str = "s:";
const MAX_SLUG: usize = 64;

pub struct Svc {
    pool: PgPool,
    outbox: OutboxHandle,
    clock: SharedClock,
}

impl Svc {
    pub fn new(pool: PgPool, outbox: OutboxHandle, clock: SharedClock) -> Self {
        Self {
            pool,
            outbox,
            clock,
        }
    }

    /// Now, at the microsecond precision PostgreSQL stores, so what we return equals what we read back.
    fn now(&self) -> OffsetDateTime {
        let t = self.clock.now();
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
            .unwrap_or(t)
    }
}

fn kind_to_db(k: ActivityKind) -> Option<&'static str> {
    match k {
        ActivityKind::Focus => Some("focus"),
        ActivityKind::Break => Some("break"),
        ActivityKind::Workout => Some("workout"),
        ActivityKind::Study => Some("study"),
        ActivityKind::Unspecified => None,
    }
}

fn kind_from_db(s: &str) -> ActivityKind {
    match s {
        "focus" => ActivityKind::Focus,
        "break" => ActivityKind::Break,
        "workout" => ActivityKind::Workout,
        "study" => ActivityKind::Study,
        _ => ActivityKind::Unspecified,
    }
}

/// Opaque cursor: the last slug returned, so pages stay stable while the catalog grows.
pub(crate) fn encode_page_token(last_slug: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{last_slug}"))
}

pub(crate) fn decode_page_token(token: &str) -> Option<String> {
    if token.len() > 2 * MAX_SLUG {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let slug = text.strip_prefix(TOKEN_PREFIX)?;
    let valid = !slug.is_empty()
        && slug.len() <= MAX_SLUG
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| slug.to_owned())
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: Uuid,
    slug: String,
    name: String,
    kind: String,
    default_seconds: i32,
    description: String,
}

impl From<ActivityRow> for Activity {
    fn from(r: ActivityRow) -> Self {
        Activity {
            id: r.id.to_string(),
            slug: r.slug,
            name: r.name,
            kind: kind_from_db(&r.kind) as i32,
            default_duration: Some(convert::duration(time::Duration::seconds(i64::from(
                r.default_seconds,
            )))),
            description: r.description,
        }
    }
}

const SESSION_COLUMNS: &str = "id, activity_id, kind, state, started_at, ended_at, planned_seconds, duration_seconds, local_date, timezone";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    activity_id: Uuid,
    kind: String,
    state: String,
    started_at: OffsetDateTime,
    ended_at: Option<OffsetDateTime>,
    planned_seconds: i32,
    duration_seconds: Option<i32>,
    local_date: Option<Date>,
    timezone: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        let state = if r.state == "active" {
            SessionState::Active
        } else {
            SessionState::Completed
        };
        Session {
            id: r.id.to_string(),
            activity_id: r.activity_id.to_string(),
            kind: kind_from_db(&r.kind) as i32,
            state: state as i32,
            start_time: Some(convert::timestamp(r.started_at)),
            end_time: r.ended_at.map(convert::timestamp),
            planned_duration: Some(convert::duration(time::Duration::seconds(i64::from(
                r.planned_seconds,
            )))),
            duration: r
                .duration_seconds
                .map(|s| convert::duration(time::Duration::seconds(i64::from(s)))),
            local_date: r.local_date.map(convert::date),
            timezone: r.timezone.unwrap_or_default(),
        }
    }
}

fn is_unique_violation_of(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some(constraint))
}

impl Svc {
    async fn list_activities(
        &self,
        req: ListActivitiesRequest,
    ) -> AppResult<ListActivitiesResponse> {
        let mut v = Violations::new();
        let limit = page_size(&mut v, req.page_size, 50);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let slug = decode_page_token(&req.page_token);
            v.when(
                slug.is_none(),
                "page_token",
                "is not a token returned by a previous call",
            );
            slug
        };
        let kind = match ActivityKind::try_from(req.kind) {
            Ok(k) => kind_to_db(k),
            Err(_) => {
                v.add("kind", "is not a known activity kind");
                None
            }
        };
        v.check()?;

        let mut rows: Vec<ActivityRow> = sqlx::query_as(
            "SELECT id, slug, name, kind, default_seconds, description FROM activities
             WHERE ($1::text IS NULL OR slug > $1) AND ($2::text IS NULL OR kind = $2)
             ORDER BY slug LIMIT $3",
        )
        .bind(after)
        .bind(kind)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| encode_page_token(&r.slug))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListActivitiesResponse {
            activities: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    async fn start_session(
        &self,
        caller: &Caller,
        req: StartSessionRequest,
    ) -> AppResult<StartSessionResponse> {
        let mut v = Violations::new();
        let activity_id = convert::parse_id(&mut v, "activity_id", &req.activity_id);
        let planned = req.planned_duration.as_ref().map(convert::from_duration);
        if let Some(p) = planned {
            v.when(
                !(MIN_PLANNED..=MAX_PLANNED).contains(&p),
                "planned_duration",
                "must be between 1 minute and 4 hours",
            );
        }
        v.check()?;

        let activity: Option<(String, i32)> =
            sqlx::query_as("SELECT kind, default_seconds FROM activities WHERE id = $1")
                .bind(activity_id)
                .fetch_optional(&self.pool)
                .await?;
        let (kind, default_seconds) = activity.ok_or(AppError::not_found("activity"))?;
        let planned_seconds = planned.map_or(default_seconds, |p| p.whole_seconds() as i32);

        let inserted = sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sessions (id, user_id, activity_id, kind, state, started_at, planned_seconds)
             VALUES ($1, $2, $3, $4, 'active', $5, $6) RETURNING {SESSION_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(caller.user_id)
        .bind(activity_id)
        .bind(&kind)
        .bind(self.now())
        .bind(planned_seconds)
        .fetch_one(&self.pool)
        .await;
        match inserted {
            Ok(row) => Ok(StartSessionResponse {
                session: Some(row.into()),
            }),
            // The partial unique index decides, so two concurrent starts cannot both win.
            Err(e) if is_unique_violation_of(&e, ONE_ACTIVE_INDEX) => Err(AppError::precondition(
                "SESSION_ALREADY_ACTIVE",
                "complete the active session before starting another",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn complete_session(
        &self,
        caller: &Caller,
        req: CompleteSessionRequest,
    ) -> AppResult<CompleteSessionResponse> {
        let session_id = require_id("session_id", &req.session_id)?;
        let mut tx = self.pool.begin().await?;
        // Scoped by user: someone else's session is indistinguishable from a missing one.
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE"
        )))
        .bind(session_id)
        .bind(caller.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.ok_or(AppError::not_found("session"))?;
        if row.state != "active" {
            return Err(AppError::precondition(
                "SESSION_NOT_ACTIVE",
                "the session is already completed",
            ));
        }

        let timezone: String =
            sqlx::query_scalar("SELECT timezone FROM user_timezones WHERE user_id = $1")
                .bind(caller.user_id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned());
        // A clock that went backwards must not produce a negative duration.
        let ended_at = self.now().max(row.started_at);
        let duration = ended_at - row.started_at;
        let duration_seconds = i32::try_from(duration.whole_seconds()).unwrap_or(i32::MAX);
        let local_date = convert::local_date(ended_at, &timezone);

        let updated: SessionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET state = 'completed', ended_at = $2, duration_seconds = $3, local_date = $4, timezone = $5
             WHERE id = $1 RETURNING {SESSION_COLUMNS}"
        )))
        .bind(session_id)
        .bind(ended_at)
        .bind(duration_seconds)
        .bind(local_date)
        .bind(&timezone)
        .fetch_one(&mut *tx)
        .await?;

        let event = events::SessionCompleted {
            user_id: caller.user_id.to_string(),
            session_id: session_id.to_string(),
            activity_id: updated.activity_id.to_string(),
            activity_kind: updated.kind.clone(),
            start_time: Some(convert::timestamp(updated.started_at)),
            end_time: Some(convert::timestamp(ended_at)),
            duration: Some(convert::duration(time::Duration::seconds(i64::from(
                duration_seconds,
            )))),
            local_date: Some(convert::date(local_date)),
            timezone: timezone.clone(),
        };
        stride_bus::outbox::enqueue(&mut tx, &event).await?;
        tx.commit().await?;
        self.outbox.kick();
        Ok(CompleteSessionResponse {
            session: Some(updated.into()),
        })
    }

    async fn current_session(&self, caller: &Caller) -> AppResult<GetCurrentSessionResponse> {
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND state = 'active'"
        )))
        .bind(caller.user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(GetCurrentSessionResponse {
            session: row.map(Into::into),
        })
    }
}

#[tonic::async_trait]
impl ActivitySessionService for Svc {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_activities(
        &self,
        request: Request<ListActivitiesRequest>,
    ) -> Result<Response<ListActivitiesResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.list_activities(request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn start_session(
        &self,
        request: Request<StartSessionRequest>,
    ) -> Result<Response<StartSessionResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.start_session(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn complete_session(
        &self,
        request: Request<CompleteSessionRequest>,
    ) -> Result<Response<CompleteSessionResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.complete_session(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_current_session(
        &self,
        request: Request<GetCurrentSessionRequest>,
    ) -> Result<Response<GetCurrentSessionResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.current_session(&caller)
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
        let t = encode_page_token("jumping-jacks");
        assert_eq!(decode_page_token(&t).as_deref(), Some("jumping-jacks"));
        assert_eq!(decode_page_token("not base64!!"), None);
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode("x:focus-25")),
            None
        );
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode("s:DROP TABLE")),
            None
        );
        assert_eq!(decode_page_token(&URL_SAFE_NO_PAD.encode("s:")), None);
        assert_eq!(decode_page_token(&"A".repeat(500)), None);
    }

    #[test]
    fn kinds_map_both_ways() {
        for k in [
            ActivityKind::Focus,
            ActivityKind::Break,
            ActivityKind::Workout,
            ActivityKind::Study,
        ] {
            assert_eq!(kind_from_db(kind_to_db(k).expect("specified")), k);
        }
        assert_eq!(kind_to_db(ActivityKind::Unspecified), None);
    }
}
