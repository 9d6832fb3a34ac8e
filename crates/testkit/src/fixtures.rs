//! Canonical events, as their producers publish them, for tests that feed a consumer.

use stride_kit::convert::{date, duration, local_date, timestamp};
use stride_proto::events;
use time::OffsetDateTime;
use uuid::Uuid;

/// `user.registered.v1` from auth.
pub fn user_registered(
    user: Uuid,
    username: &str,
    tz: &str,
    at: OffsetDateTime,
) -> events::UserRegistered {
    events::UserRegistered {
        user_id: user.to_string(),
        email: format!("{username}@example.com"),
        username: username.to_owned(),
        is_anonymous: false,
        occur_time: Some(timestamp(at)),
        timezone: tz.to_owned(),
        local_date: Some(date(local_date(at, tz))),
    }
}

/// `profile.updated.v1` from profile, revision `revision`.
pub fn profile_updated(
    user: Uuid,
    display_name: &str,
    tz: &str,
    revision: i64,
    at: OffsetDateTime,
) -> events::ProfileUpdated {
    events::ProfileUpdated {
        user_id: user.to_string(),
        display_name: display_name.to_owned(),
        timezone: tz.to_owned(),
        locale: "en".into(),
        occur_time: Some(timestamp(at)),
        revision,
        local_date: Some(date(local_date(at, tz))),
        avatar_url: String::new(),
        profile_visibility: "private".into(),
        show_on_leaderboards: true,
        daily_focus_goal_minutes: 480,
    }
}

/// `practice_session.evaluated.v1` from ai-coach: `user`'s practice session scored `score`.
pub fn practice_session_evaluated(
    user: Uuid,
    session: Uuid,
    score: i32,
    at: OffsetDateTime,
    tz: &str,
) -> events::PracticeSessionEvaluated {
    events::PracticeSessionEvaluated {
        user_id: user.to_string(),
        practice_session_id: session.to_string(),
        overall_score: score,
        evaluate_time: Some(timestamp(at)),
        timezone: tz.to_owned(),
        local_date: Some(date(local_date(at, tz))),
    }
}

/// `session.completed.v1` from activity-session: a session of `kind` ending at `end`.
pub fn session_completed(
    user: Uuid,
    kind: &str,
    end: OffsetDateTime,
    length: time::Duration,
    tz: &str,
) -> events::SessionCompleted {
    events::SessionCompleted {
        user_id: user.to_string(),
        session_id: Uuid::now_v7().to_string(),
        activity_id: Uuid::now_v7().to_string(),
        activity_kind: kind.to_owned(),
        start_time: Some(timestamp(end - length)),
        end_time: Some(timestamp(end)),
        duration: Some(duration(length)),
        local_date: Some(date(local_date(end, tz))),
        timezone: tz.to_owned(),
    }
}

/// `challenge.completed.v1` from challenge.
pub fn challenge_completed(
    user: Uuid,
    challenge: Uuid,
    points: i32,
    at: OffsetDateTime,
    tz: &str,
) -> events::ChallengeCompleted {
    let day = local_date(at, tz);
    events::ChallengeCompleted {
        user_id: user.to_string(),
        challenge_id: challenge.to_string(),
        title: "Focus Three".into(),
        points_awarded: points,
        window_start: Some(date(stride_kit::convert::week_start(day))),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(day)),
        timezone: tz.to_owned(),
    }
}

/// `user.deleted.v1` from auth.
pub fn user_deleted(user: Uuid, at: OffsetDateTime) -> events::UserDeleted {
    events::UserDeleted {
        user_id: user.to_string(),
        occur_time: Some(timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(date(at.date())),
    }
}

/// `user.merged.v1` from auth, with raw ids so tests can send bad ones.
pub fn user_merged(source: &str, target: &str, at: OffsetDateTime) -> events::UserMerged {
    events::UserMerged {
        source_user_id: source.to_owned(),
        target_user_id: target.to_owned(),
        occur_time: Some(timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(date(at.date())),
    }
}

// --- rewards (issue 14) ---

/// `achievement.unlocked.v1` from challenge: `user` unlocked `first_session` at `at` (UTC).
pub fn achievement_unlocked(user: Uuid, at: OffsetDateTime) -> events::AchievementUnlocked {
    events::AchievementUnlocked {
        user_id: user.to_string(),
        achievement_id: "first_session".into(),
        title: "First step".into(),
        points_awarded: 10,
        xp_awarded: 20,
        occur_time: Some(timestamp(at)),
        local_date: Some(date(at.date())),
        timezone: "UTC".into(),
    }
}

/// `level.reached.v1` from challenge: `user` reached `level` at `at` (UTC).
pub fn level_reached(
    user: Uuid,
    level: i32,
    xp_total: i64,
    at: OffsetDateTime,
) -> events::LevelReached {
    events::LevelReached {
        user_id: user.to_string(),
        level,
        xp_total,
        occur_time: Some(timestamp(at)),
        local_date: Some(date(at.date())),
        timezone: "UTC".into(),
    }
}
