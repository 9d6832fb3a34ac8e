//! The ids carried by events, checked once. An id that is not a UUID can never become valid, so
//! it fails permanently (dead-lettered with the reason) instead of being retried.

use stride_proto::{Event, events};
use uuid::Uuid;

use crate::consumer::HandlerError;

fn parse(raw: &str, event: &str, field: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(raw)
        .ok()
        .filter(|id| !id.is_nil())
        .ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("{event} without a valid {field}")))
}

/// An event about one user.
pub trait Subject: Event {
    /// The raw `user_id` field.
    fn raw_user_id(&self) -> &str;

    /// The user the event is about; `Permanent` when the id is not a UUID.
    fn user(&self) -> Result<Uuid, HandlerError> {
        parse(self.raw_user_id(), Self::TYPE, "user_id")
    }
}

macro_rules! subject {
    ($($t:ident),*) => {$(
        impl Subject for events::$t {
            fn raw_user_id(&self) -> &str {
                &self.user_id
            }
        }
    )*};
}
subject!(
    UserRegistered,
    ProfileUpdated,
    SessionCompleted,
    ChallengeCompleted,
    UserDeleted,
    PracticeSessionEvaluated,
    // activity-session: tasks, shutdown reflections, learning (issue 13, part C)
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskReopened,
    TaskDeleted,
    ReflectionSubmitted,
    LessonCompleted,
    // activity-session: workout logs and user plans (issue 13, part D)
    WorkoutLogged,
    WorkoutUpdated,
    WorkoutDeleted,
    PlanAssigned,
    PlanCompleted,
    // activity-session: the session state machine (issue 13, sessions)
    SessionStarted,
    SessionPaused,
    SessionResumed,
    SessionStopped,
    SessionAborted,
    AchievementUnlocked,
    LevelReached,
    // analytics (issue 15): quiz
    QuizCompleted,
    // reminders (issue 12): challenge membership, plan schedule
    ChallengeJoined,
    ChallengeLeft,
    PlanRescheduled
);

/// The two accounts of a `user.merged.v1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    /// The guest account that no longer exists.
    pub source: Uuid,
    /// The account that now owns the data.
    pub target: Uuid,
}

/// The checked ids of a `user.merged.v1`.
pub trait Merged {
    /// Both ids, valid and distinct; `Permanent` otherwise (a merge into itself would delete
    /// the data it claims to move).
    fn merge(&self) -> Result<Merge, HandlerError>;
}

impl Merged for events::UserMerged {
    fn merge(&self) -> Result<Merge, HandlerError> {
        let source = parse(&self.source_user_id, Self::TYPE, "source_user_id")?;
        let target = parse(&self.target_user_id, Self::TYPE, "target_user_id")?;
        if source == target {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "{} merges a user into itself",
                Self::TYPE
            )));
        }
        Ok(Merge { source, target })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_once_and_fail_permanently() {
        let id = Uuid::now_v7();
        let ok = events::UserDeleted {
            user_id: id.to_string(),
            ..Default::default()
        };
        assert_eq!(ok.user().unwrap(), id);
        for bad in ["", "nope", "00000000-0000-0000-0000-000000000000"] {
            let e = events::UserDeleted {
                user_id: bad.into(),
                ..Default::default()
            };
            let err = e.user().unwrap_err();
            assert!(matches!(err, HandlerError::Permanent(_)), "{bad}");
            assert!(
                err.to_string()
                    .contains("user.deleted.v1 without a valid user_id")
            );
        }
    }

    #[test]
    fn merges_need_two_distinct_valid_ids() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let m = |s: &str, t: &str| events::UserMerged {
            source_user_id: s.into(),
            target_user_id: t.into(),
            ..Default::default()
        };
        assert_eq!(
            m(&a.to_string(), &b.to_string()).merge().unwrap(),
            Merge {
                source: a,
                target: b
            }
        );
        assert!(m(&a.to_string(), &a.to_string()).merge().is_err());
        assert!(m("x", &b.to_string()).merge().is_err());
        let err = m(&a.to_string(), "").merge().unwrap_err().to_string();
        assert!(err.contains("target_user_id"), "{err}");
    }
}
