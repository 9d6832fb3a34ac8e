//! Errors at the edge: every handler returns [`AppError`], which becomes a `tonic::Status` with
//! `google.rpc` details. Internal causes are logged with the trace id and never returned.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every Stride error.
pub const ERROR_DOMAIN: &str = "stride.dev";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed fields: `google.rpc.BadRequest` with one violation per field.
    #[error("invalid argument: {0:?}")]
    InvalidArgument(Vec<(String, String)>),
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    Unauthenticated {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    PermissionDenied {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
    },
    /// A concurrent change won (a compare-and-set found the row moved, more than the
    /// handler retries): the caller may retry the whole call.
    #[error("{message}")]
    Aborted {
        reason: &'static str,
        message: String,
    },
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected; the cause is logged, the caller sees a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn not_found(resource: &'static str) -> Self {
        Self::NotFound { resource }
    }
    pub fn invalid(field: &str, description: &str) -> Self {
        Self::InvalidArgument(vec![(field.to_owned(), description.to_owned())])
    }
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }
    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthenticated {
            reason,
            message: message.into(),
        }
    }
    pub fn already_exists(reason: &'static str, message: impl Into<String>) -> Self {
        Self::AlreadyExists {
            reason,
            message: message.into(),
        }
    }
    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self::PermissionDenied {
            reason,
            message: message.into(),
        }
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The database is down, restarting or out of connections: the caller may retry.
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable("the database is unavailable; retry shortly".into())
            }
            sqlx::Error::Database(ref db) if db.code().is_some_and(|c| transient_sqlstate(&c)) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable("the database is unavailable; retry shortly".into())
            }
            e => Self::Internal(anyhow::Error::new(e).context("database")),
        }
    }
}

/// SQLSTATEs that mean "the server went away or is not taking work right now", not "this
/// query is wrong": connection exceptions (08), insufficient resources (53: too many
/// connections, out of memory or disk) and operator intervention (57: shutdown, restart,
/// cancelled by an administrator, still starting up). A restart of PostgreSQL under load
/// answers in-flight queries with 57P01 `admin_shutdown`.
fn transient_sqlstate(code: &str) -> bool {
    matches!(code.get(..2), Some("08" | "53" | "57"))
}

fn info(code: Code, reason: &str, message: String) -> Status {
    let mut d = ErrorDetails::new();
    d.set_error_info(reason, ERROR_DOMAIN, []);
    Status::with_error_details(code, message, d)
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        match e {
            AppError::InvalidArgument(v) => {
                let summary = v
                    .iter()
                    .map(|(f, d)| format!("{f}: {d}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut d = ErrorDetails::new();
                for (field, desc) in v {
                    d.add_bad_request_violation(field, desc);
                }
                d.set_error_info("INVALID_ARGUMENT", ERROR_DOMAIN, []);
                Status::with_error_details(Code::InvalidArgument, summary, d)
            }
            AppError::NotFound { resource } => {
                info(Code::NotFound, "NOT_FOUND", format!("{resource} not found"))
            }
            AppError::AlreadyExists { reason, message } => {
                info(Code::AlreadyExists, reason, message)
            }
            AppError::FailedPrecondition { reason, message } => {
                info(Code::FailedPrecondition, reason, message)
            }
            AppError::Unauthenticated { reason, message } => {
                info(Code::Unauthenticated, reason, message)
            }
            AppError::PermissionDenied { reason, message } => {
                info(Code::PermissionDenied, reason, message)
            }
            AppError::ResourceExhausted { reason, message } => {
                info(Code::ResourceExhausted, reason, message)
            }
            AppError::Aborted { reason, message } => info(Code::Aborted, reason, message),
            AppError::Unavailable(message) => Status::unavailable(message),
            AppError::Internal(cause) => {
                let trace_id = crate::telemetry::current_trace_id();
                tracing::error!(error = format!("{cause:#}"), %trace_id, "internal error");
                Status::internal(format!("internal error (trace {trace_id})"))
            }
        }
    }
}

/// Turns the violation of a named unique (or exclusion, foreign-key, check) constraint into the
/// error the caller should see, instead of an INTERNAL: realworld-axum-sqlx's `on_constraint`.
///
/// ```ignore
/// store::insert(&mut tx, &row).await.on_constraint("tasks_title_key", |_| {
///     AppError::already_exists("TASK_EXISTS", "a task with this title exists")
/// })?;
/// ```
pub trait ResultExt<T> {
    fn on_constraint(
        self,
        name: &str,
        f: impl FnOnce(Box<dyn sqlx::error::DatabaseError>) -> AppError,
    ) -> Result<T, AppError>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(
        self,
        name: &str,
        f: impl FnOnce(Box<dyn sqlx::error::DatabaseError>) -> AppError,
    ) -> Result<T, AppError> {
        self.map_err(|e| match e {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => f(db),
            other => other.into(),
        })
    }
}

/// True when `e` is a unique violation (SQLSTATE 23505) of `constraint`.
pub fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}

/// Collects field violations; `check` turns them into one INVALID_ARGUMENT.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, description: &str) {
        self.0.push((field.to_owned(), description.to_owned()));
    }
    /// Adds a violation when `bad` holds.
    pub fn when(&mut self, bad: bool, field: &str, description: &str) -> &mut Self {
        if bad {
            self.add(field, description);
        }
        self
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn check(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidArgument(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let mut v = Violations::new();
        v.add("email", "must be an email address");
        v.when(true, "password", "too short").when(false, "x", "y");
        let status: Status = v.check().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let br = details.bad_request().expect("bad request");
        let fields: Vec<_> = br
            .field_violations
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["email", "password"]);
    }

    #[test]
    fn a_database_going_away_is_unavailable_not_internal() {
        for code in [
            "57P01", "57P02", "57P03", "08006", "08003", "53300", "53100",
        ] {
            assert!(transient_sqlstate(code), "{code}");
        }
        // Wrong queries and conflicts stay what they are.
        for code in ["23505", "42P01", "22P02", "40001", ""] {
            assert!(!transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let status: Status =
            AppError::internal(anyhow::anyhow!("relation \"users\" does not exist")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("relation"));
    }
}
