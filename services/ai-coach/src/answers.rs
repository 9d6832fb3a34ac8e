//! Answers: one row per answer any capability gives, with its provenance (which path produced
//! it and why) and the tokens it used. The row's id is the `answer_id` feedback refers to.
//! Store functions run on the caller's connection or transaction and never begin or commit.

use sqlx::PgConnection;
use stride_kit::clock::SharedClock;
use stride_proto::ai_coach as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::llm::{self, Usage};

/// Which path produced an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// No model is configured.
    Rules,
    Model,
    /// A model is configured but failed or was not trusted; the rules answered.
    RulesFallback,
}

impl Path {
    /// The name stored in `answers.path`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Model => "model",
            Self::RulesFallback => "rules_fallback",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "rules" => Some(Self::Rules),
            "model" => Some(Self::Model),
            "rules_fallback" => Some(Self::RulesFallback),
            _ => None,
        }
    }

    pub fn into_proto(self) -> pb::AnswerPath {
        match self {
            Self::Rules => pb::AnswerPath::Rules,
            Self::Model => pb::AnswerPath::Model,
            Self::RulesFallback => pb::AnswerPath::RulesFallback,
        }
    }
}

/// Which path produced an answer and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    pub path: Path,
    /// The model that answered (Model) or failed (RulesFallback, when known); empty otherwise.
    pub model: String,
    /// Why the rules answered; empty for model answers. Secret-free.
    pub reason: String,
    /// Set once recorded ([`record`]).
    pub answer_id: Option<Uuid>,
}

impl Provenance {
    /// The rules answered because `reason` (usually [`llm::NOT_CONFIGURED`]).
    pub fn rules(reason: impl Into<String>) -> Self {
        Self {
            path: Path::Rules,
            model: String::new(),
            reason: reason.into(),
            answer_id: None,
        }
    }

    /// No model is configured.
    pub fn not_configured() -> Self {
        Self::rules(llm::NOT_CONFIGURED)
    }

    pub fn model(model: impl Into<String>) -> Self {
        Self {
            path: Path::Model,
            model: model.into(),
            reason: String::new(),
            answer_id: None,
        }
    }

    /// The model failed (or its output was rejected) for `reason`; the rules answered.
    pub fn fallback(reason: impl Into<String>) -> Self {
        Self {
            path: Path::RulesFallback,
            model: String::new(),
            reason: reason.into(),
            answer_id: None,
        }
    }

    /// Names the model that failed (fallbacks).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    pub fn with_answer_id(mut self, id: Uuid) -> Self {
        self.answer_id = Some(id);
        self
    }

    pub fn into_proto(&self) -> pb::Provenance {
        pb::Provenance {
            path: self.path.into_proto() as i32,
            model: self.model.clone(),
            reason: self.reason.clone(),
            answer_id: self.answer_id.map(|id| id.to_string()).unwrap_or_default(),
        }
    }
}

fn tokens(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The service clock answers are stamped with (set once at start, like the quota's limit; the
/// process runs one coach). Unset: the database's now().
static CLOCK: std::sync::RwLock<Option<SharedClock>> = std::sync::RwLock::new(None);

pub fn set_clock(clock: SharedClock) {
    *CLOCK
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(clock);
}

fn now() -> Option<OffsetDateTime> {
    CLOCK
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .map(|c| c.now_db())
}

/// Records an answer of `kind` (e.g. "chat", "practice.evaluation", "agent.nutrition") given
/// to `user_id` now (the service clock); returns its id (the `answer_id` for feedback).
pub async fn record(
    tx: &mut PgConnection,
    user_id: Uuid,
    kind: &str,
    provenance: &Provenance,
    usage: Usage,
) -> sqlx::Result<Uuid> {
    record_at(tx, user_id, kind, provenance, usage, now()).await
}

/// [`record`] at a given time (the service clock); None: the database's now().
pub async fn record_at(
    tx: &mut PgConnection,
    user_id: Uuid,
    kind: &str,
    provenance: &Provenance,
    usage: Usage,
    at: Option<OffsetDateTime>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO answers (id, user_id, kind, path, model, reason, prompt_tokens, completion_tokens, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, now()))",
    )
    .bind(id)
    .bind(user_id)
    .bind(kind)
    .bind(provenance.path.as_str())
    .bind(&provenance.model)
    .bind(&provenance.reason)
    .bind(tokens(usage.prompt_tokens))
    .bind(tokens(usage.completion_tokens))
    .bind(at)
    .execute(tx)
    .await?;
    Ok(id)
}

/// The user that owns answer `id`, if any.
pub async fn owner(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM answers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Deletes every answer and quota row of `user` (account deletion); returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let a = sqlx::query("DELETE FROM answers WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let q = sqlx::query("DELETE FROM quota_days WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(a + q)
}

/// Gives `source`'s answers and today's quota use to `target` (account merge): the calls of a
/// day add up, so a merge cannot reset a quota.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    let a = sqlx::query("UPDATE answers SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let q = sqlx::query(
        "WITH gone AS (DELETE FROM quota_days WHERE user_id = $1 RETURNING day, calls)
         INSERT INTO quota_days (user_id, day, calls) SELECT $2, day, calls FROM gone
         ON CONFLICT (user_id, day) DO UPDATE SET calls = quota_days.calls + EXCLUDED.calls",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(a + q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_constructors_and_proto() {
        let id = Uuid::now_v7();
        let p = Provenance::fallback("the model answered with HTTP 500")
            .with_model("m")
            .with_answer_id(id)
            .into_proto();
        assert_eq!(p.path, pb::AnswerPath::RulesFallback as i32);
        assert_eq!(
            (p.model.as_str(), p.reason.as_str()),
            ("m", "the model answered with HTTP 500")
        );
        assert_eq!(p.answer_id, id.to_string());
        let m = Provenance::model("m-1").into_proto();
        assert_eq!(
            (m.path, m.reason.as_str(), m.answer_id.as_str()),
            (pb::AnswerPath::Model as i32, "", "")
        );
        assert_eq!(
            Provenance::not_configured().reason,
            "no model is configured"
        );
    }

    #[test]
    fn paths_round_trip_their_stored_names() {
        for p in [Path::Rules, Path::Model, Path::RulesFallback] {
            assert_eq!(Path::from_db(p.as_str()), Some(p));
        }
        assert_eq!(Path::from_db("llm"), None);
    }
}
