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
        // seed 002's universal dimensions, all at the overall score.
        dimension_scores: [
            "clarity_structure",
            "relevance_focus",
            "confidence_delivery",
            "language_quality",
            "tone_alignment",
        ]
        .into_iter()
        .map(|d| events::EvaluationDimensionScore {
            dimension: d.to_owned(),
            score,
            label: "solid".to_owned(),
        })
        .collect(),
        improvement_areas: vec!["Use more specific metrics when describing achievements".into()],
        preparation_type: "Interview".into(),
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
        counts: Some(true),
        count_reason: "ACTIVE_TIME_REACHED_MINIMUM".into(),
        planned_duration: Some(duration(length)),
        routine_id: String::new(),
        step: 0,
        step_count: 1,
    }
}

/// `session.completed.v1` of a session that does not count (active time below the minimum).
pub fn session_completed_uncounted(
    user: Uuid,
    kind: &str,
    end: OffsetDateTime,
    length: time::Duration,
    tz: &str,
) -> events::SessionCompleted {
    events::SessionCompleted {
        counts: Some(false),
        count_reason: "ACTIVE_TIME_BELOW_MINIMUM".into(),
        planned_duration: Some(duration(length * 4)),
        ..session_completed(user, kind, end, length, tz)
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

/// `challenge.settled.v1` from challenge: the week of `at` (UTC) of a system challenge settled,
/// `winner` alone at the top having completed it.
pub fn challenge_settled(
    challenge: Uuid,
    winner: Uuid,
    at: OffsetDateTime,
) -> events::ChallengeSettled {
    let start = stride_kit::convert::week_start(at.date());
    events::ChallengeSettled {
        challenge_id: challenge.to_string(),
        title: "Focus Three".into(),
        owner_id: String::new(),
        window_start: Some(date(start)),
        window_end: Some(date(start + time::Duration::days(6))),
        settle_time: Some(timestamp(at)),
        ended_early: false,
        participant_count: 1,
        completed_count: 1,
        top: vec![events::ChallengePlacing {
            user_id: winner.to_string(),
            rank: 1,
            current: 3,
            completed: true,
        }],
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

// ---- activity-session: tasks, shutdown reflections, learning (issue 13, part C) ----

/// A task as activity-session's events carry it: `title`, medium priority, completed at `done`
/// (counted on its local date in `tz`) when given.
pub fn task_snapshot(title: &str, done: Option<OffsetDateTime>, tz: &str) -> events::TaskSnapshot {
    events::TaskSnapshot {
        title: title.to_owned(),
        priority: "medium".into(),
        tags: Vec::new(),
        start_time: None,
        due_time: None,
        completed: done.is_some(),
        complete_time: done.map(timestamp),
        complete_date: done.map(|at| date(local_date(at, tz))),
        complete_timezone: if done.is_some() {
            tz.to_owned()
        } else {
            String::new()
        },
        reminder_enabled: false,
        reminder_time: None,
    }
}

/// `task.created.v1` from activity-session: open task `task` of `user` titled `title`, created
/// at `at`, with its reminder set for `reminder` when given.
pub fn task_created(
    user: Uuid,
    task: Uuid,
    title: &str,
    reminder: Option<OffsetDateTime>,
    at: OffsetDateTime,
    tz: &str,
) -> events::TaskCreated {
    events::TaskCreated {
        user_id: user.to_string(),
        task_id: task.to_string(),
        task: Some(events::TaskSnapshot {
            reminder_enabled: reminder.is_some(),
            reminder_time: reminder.map(timestamp),
            ..task_snapshot(title, None, tz)
        }),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `task.completed.v1` from activity-session: task `task` of `user` completed at `at`.
pub fn task_completed(
    user: Uuid,
    task: Uuid,
    at: OffsetDateTime,
    tz: &str,
) -> events::TaskCompleted {
    events::TaskCompleted {
        user_id: user.to_string(),
        task_id: task.to_string(),
        task: Some(task_snapshot("Task", Some(at), tz)),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `task.reopened.v1` from activity-session: a task completed at `completed` reopened at `at`.
pub fn task_reopened(
    user: Uuid,
    task: Uuid,
    completed: OffsetDateTime,
    at: OffsetDateTime,
    tz: &str,
) -> events::TaskReopened {
    events::TaskReopened {
        user_id: user.to_string(),
        task_id: task.to_string(),
        previous: Some(task_snapshot("Task", Some(completed), tz)),
        task: Some(task_snapshot("Task", None, tz)),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `reflection.submitted.v1` from activity-session, rated `rating`, submitted at `at`.
pub fn reflection_submitted(
    user: Uuid,
    rating: &str,
    at: OffsetDateTime,
    tz: &str,
) -> events::ReflectionSubmitted {
    events::ReflectionSubmitted {
        user_id: user.to_string(),
        reflection_id: Uuid::now_v7().to_string(),
        productivity_rating: rating.to_owned(),
        has_note: false,
        mindful_disconnect_completed: vec![true, true, false],
        focus_session_id: String::new(),
        submit_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `lesson.completed.v1` from activity-session: seeded lesson "What is an equation?"
/// (mathematics, linear equations; migration 2202) completed at `at`.
pub fn lesson_completed(user: Uuid, at: OffsetDateTime, tz: &str) -> events::LessonCompleted {
    events::LessonCompleted {
        user_id: user.to_string(),
        lesson_id: "53000000-0000-4000-8000-000000000111".into(),
        topic_id: "52000000-0000-4000-8000-000000000011".into(),
        subject_id: "51000000-0000-4000-8000-000000000001".into(),
        lesson_title: "What is an equation?".into(),
        estimated_minutes: 5,
        complete_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

// ---- activity-session: workout logs and user plans (issue 13, part D) ----

/// The figures of a free-exercise log: `sets` × `reps` at `weight_kg`, performed on the local
/// date of `at` in `tz`.
pub fn workout_figures(
    sets: i32,
    reps: i32,
    weight_kg: f64,
    at: OffsetDateTime,
    tz: &str,
) -> events::WorkoutFigures {
    events::WorkoutFigures {
        exercise_id: Uuid::now_v7().to_string(),
        user_plan_id: String::new(),
        plan_exercise_id: String::new(),
        date_performed: Some(date(local_date(at, tz))),
        sets,
        reps,
        weight_kg,
        duration: Some(duration(time::Duration::ZERO)),
        volume_kg: f64::from(sets) * f64::from(reps) * weight_kg,
    }
}

/// `workout.logged.v1` from activity-session.
pub fn workout_logged(
    user: Uuid,
    figures: events::WorkoutFigures,
    at: OffsetDateTime,
    tz: &str,
) -> events::WorkoutLogged {
    events::WorkoutLogged {
        user_id: user.to_string(),
        log_id: Uuid::now_v7().to_string(),
        figures: Some(figures),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `workout.updated.v1` from activity-session: log `log_id` changed from `before` to `after`.
pub fn workout_updated(
    user: Uuid,
    log_id: &str,
    before: events::WorkoutFigures,
    after: events::WorkoutFigures,
    at: OffsetDateTime,
    tz: &str,
) -> events::WorkoutUpdated {
    events::WorkoutUpdated {
        user_id: user.to_string(),
        log_id: log_id.to_owned(),
        before: Some(before),
        after: Some(after),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `workout.deleted.v1` from activity-session.
pub fn workout_deleted(
    user: Uuid,
    log_id: &str,
    figures: events::WorkoutFigures,
    at: OffsetDateTime,
    tz: &str,
) -> events::WorkoutDeleted {
    events::WorkoutDeleted {
        user_id: user.to_string(),
        log_id: log_id.to_owned(),
        figures: Some(figures),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `plan.assigned.v1` from activity-session: a template of `days_total` training days,
/// starting on the local date of `at`.
pub fn plan_assigned(
    user: Uuid,
    days_total: i32,
    at: OffsetDateTime,
    tz: &str,
) -> events::PlanAssigned {
    events::PlanAssigned {
        user_id: user.to_string(),
        user_plan_id: Uuid::now_v7().to_string(),
        plan_id: Uuid::now_v7().to_string(),
        start_date: Some(date(local_date(at, tz))),
        days_total,
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
        training_dates: Vec::new(),
    }
}

/// `plan.completed.v1` from activity-session.
pub fn plan_completed(
    user: Uuid,
    days_done: i32,
    days_total: i32,
    at: OffsetDateTime,
    tz: &str,
) -> events::PlanCompleted {
    events::PlanCompleted {
        user_id: user.to_string(),
        user_plan_id: Uuid::now_v7().to_string(),
        plan_id: Uuid::now_v7().to_string(),
        days_total,
        days_done,
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
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

// ---- analytics (issue 15): quiz ----

/// `quiz.completed.v1`: an attempt on the fixture lesson's topic with `correct` of `questions`
/// right, submitted at `at`.
pub fn quiz_completed(
    user: Uuid,
    correct: i32,
    questions: i32,
    at: OffsetDateTime,
    tz: &str,
) -> events::QuizCompleted {
    events::QuizCompleted {
        user_id: user.to_string(),
        quiz_attempt_id: Uuid::now_v7().to_string(),
        topic_id: "52000000-0000-4000-8000-000000000011".into(),
        subject_id: "51000000-0000-4000-8000-000000000001".into(),
        topic_title: "Linear equations".into(),
        correct_count: correct,
        question_count: questions,
        submit_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `material.uploaded.v1` from ai-coach: `user` uploaded study material `material` (a text
/// file of `size_bytes`) at `at`.
pub fn material_uploaded(
    user: Uuid,
    material: Uuid,
    size_bytes: i64,
    at: OffsetDateTime,
) -> events::MaterialUploaded {
    events::MaterialUploaded {
        user_id: user.to_string(),
        material_id: material.to_string(),
        content_type: "text/plain".into(),
        size_bytes,
        upload_time: Some(timestamp(at)),
        local_date: Some(date(at.date())),
        timezone: "UTC".into(),
    }
}

/// `challenge.joined.v1` from challenge: `user` joined `challenge` whose current window runs
/// from `start` to `end` (local dates).
pub fn challenge_joined(
    user: Uuid,
    challenge: Uuid,
    start: time::Date,
    end: Option<time::Date>,
    weekly: bool,
    at: OffsetDateTime,
    tz: &str,
) -> events::ChallengeJoined {
    events::ChallengeJoined {
        user_id: user.to_string(),
        challenge_id: challenge.to_string(),
        title: "Focus Three".into(),
        window_start: Some(date(start)),
        window_end: end.map(date),
        weekly,
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `challenge.left.v1` from challenge.
pub fn challenge_left(
    user: Uuid,
    challenge: Uuid,
    at: OffsetDateTime,
    tz: &str,
) -> events::ChallengeLeft {
    events::ChallengeLeft {
        user_id: user.to_string(),
        challenge_id: challenge.to_string(),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}

/// `plan.rescheduled.v1` from activity-session: user plan `user_plan` now has `status` and
/// the remaining training days `dates`.
pub fn plan_rescheduled(
    user: Uuid,
    user_plan: &str,
    status: &str,
    dates: &[time::Date],
    at: OffsetDateTime,
    tz: &str,
) -> events::PlanRescheduled {
    events::PlanRescheduled {
        user_id: user.to_string(),
        user_plan_id: user_plan.to_owned(),
        status: status.to_owned(),
        training_dates: dates.iter().copied().map(date).collect(),
        occur_time: Some(timestamp(at)),
        local_date: Some(date(local_date(at, tz))),
        timezone: tz.to_owned(),
    }
}
