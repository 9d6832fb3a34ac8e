//! The wired inputs (completed sessions) advance each goal type only from what it counts, once
//! per session however often it is delivered, in the window of the session's LOCAL date —
//! across timezones and a DST change.

use stride_kit::convert::{date, from_date};
use stride_proto::{
    challenge::{self as pb, ChallengeView, GoalKind, ParticipantStatus},
    events,
};
use stride_testkit::bus::Publisher;
use time::{
    Duration, OffsetDateTime,
    macros::{date, datetime},
};
use uuid::Uuid;

use crate::{
    support::{deliver, next_completion, profile, session, start},
    user_challenges::{create, get, join, list, spec},
};

/// Wednesday 18 November 2026, 09:00 UTC.
const NOW: OffsetDateTime = datetime!(2026-11-18 09:00 UTC);

async fn current(h: &crate::support::Harness, user: Uuid, id: &str) -> pb::Progress {
    get(h, user, id)
        .await
        .expect("get")
        .my_progress
        .expect("joined")
}

fn at(hours: i64) -> OffsetDateTime {
    NOW + Duration::hours(hours)
}

#[tokio::test]
async fn each_goal_type_advances_only_from_its_own_sessions_and_a_redelivery_counts_once() {
    let (h, mut probe) = start(NOW).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let ann = Uuid::now_v7();
    let minutes = create(&h, ann, spec("Focus minutes", GoalKind::Minutes, 60)).await;
    let breaks = create(
        &h,
        ann,
        pb::ChallengeSpec {
            activity_kind: "break".into(),
            ..spec("Breaks", GoalKind::SessionsCompleted, 2)
        },
    )
    .await;
    let days = create(&h, ann, spec("Every day", GoalKind::DaysInARow, 3)).await;
    let tasks = create(&h, ann, spec("Tasks", GoalKind::TasksCompleted, 1)).await;
    let lessons = create(&h, ann, spec("Lessons", GoalKind::LessonsCompleted, 1)).await;

    // Day 1: a 25-minute focus session, delivered twice (a producer retry: another message,
    // the same session).
    let focus = session(ann, "focus", at(1), "UTC");
    deliver(&h, &activity, &focus).await;
    deliver(&h, &activity, &focus).await;
    assert_eq!(current(&h, ann, &minutes.id).await.current, 25);
    assert_eq!(current(&h, ann, &breaks.id).await.current, 0);
    let d = current(&h, ann, &days.id).await;
    assert_eq!(
        (d.current, d.status),
        (1, ParticipantStatus::InProgress as i32)
    );
    // Day 1 again, a break: one more day? No, the same day.
    deliver(&h, &activity, &session(ann, "break", at(2), "UTC")).await;
    assert_eq!(current(&h, ann, &breaks.id).await.current, 1);
    assert_eq!(current(&h, ann, &days.id).await.current, 1);
    assert_eq!(current(&h, ann, &minutes.id).await.current, 25);
    // Day 2 and day 3: two more focus sessions; the days run to 3 and the minutes to 75.
    deliver(&h, &activity, &session(ann, "focus", at(24), "UTC")).await;
    deliver(&h, &activity, &session(ann, "focus", at(48), "UTC")).await;
    let m = current(&h, ann, &minutes.id).await;
    assert_eq!((m.current, m.completed), (75, true));
    assert_eq!(m.status, ParticipantStatus::Completed as i32);
    let d = current(&h, ann, &days.id).await;
    assert_eq!((d.current, d.completed), (3, true));
    // Sessions never count toward task or lesson goals.
    for id in [&tasks.id, &lessons.id] {
        let p = current(&h, ann, id).await;
        assert_eq!(
            (p.current, p.status),
            (0, ParticipantStatus::NotStarted as i32)
        );
    }

    // Completed: paid once each, announced in the order reached (the minutes, then the days).
    let (_, first) = next_completion(&mut probe).await;
    assert_eq!(
        (first.challenge_id.as_str(), first.points_awarded),
        (minutes.id.as_str(), 20)
    );
    let (_, second) = next_completion(&mut probe).await;
    assert_eq!(second.challenge_id, days.id);
    assert!(probe.quiet_for(std::time::Duration::from_millis(300)).await);
    h.stop().await;
}

#[tokio::test]
async fn a_window_counts_its_own_local_days_in_each_participants_zone() {
    let (h, _probe) = start(NOW).await;
    let (profiles, activity) = (
        Publisher::start(&h.amqp, "profile").await,
        Publisher::start(&h.amqp, "activity-session").await,
    );
    let (tokyo, la) = (Uuid::now_v7(), Uuid::now_v7());
    deliver(&h, &profiles, &profile(tokyo, "Aki", "Asia/Tokyo")).await;
    deliver(&h, &profiles, &profile(la, "Lee", "America/Los_Angeles")).await;
    // Friday 20 to Sunday 22 November, in each participant's own dates.
    let c = create(
        &h,
        tokyo,
        pb::ChallengeSpec {
            visibility: stride_proto::challenge::Visibility::Public as i32,
            start_date: Some(date(date!(2026 - 11 - 20))),
            end_date: Some(date(date!(2026 - 11 - 22))),
            ..spec("Weekend", GoalKind::SessionsCompleted, 10)
        },
    )
    .await;
    join(&h, la, &c.id).await.expect("join");
    let (hr, ar) = (&h, &activity);
    let both = move |end: OffsetDateTime| async move {
        deliver(hr, ar, &session(tokyo, "focus", end, "Asia/Tokyo")).await;
        deliver(hr, ar, &session(la, "focus", end, "America/Los_Angeles")).await;
    };
    // Thursday 16:00 UTC: already Friday 01:00 in Tokyo, still Thursday 08:00 in LA.
    both(datetime!(2026-11-19 16:00 UTC)).await;
    // Monday 05:00 UTC: Monday 14:00 in Tokyo, still Sunday 21:00 in LA.
    both(datetime!(2026-11-23 05:00 UTC)).await;
    // Monday 09:00 UTC: Monday in LA too.
    both(datetime!(2026-11-23 09:00 UTC)).await;
    let p = current(&h, tokyo, &c.id).await;
    assert_eq!(p.current, 1, "Tokyo: only Friday 01:00 was inside");
    assert_eq!(
        (
            p.window_start.as_ref().and_then(from_date),
            p.window_end.as_ref().and_then(from_date)
        ),
        (Some(date!(2026 - 11 - 20)), Some(date!(2026 - 11 - 22)))
    );
    assert_eq!(
        current(&h, la, &c.id).await.current,
        1,
        "LA: only Sunday 21:00"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_dst_change_moves_no_window_boundary() {
    // Monday 19 October 2026 in Paris (UTC+2 until Sunday 25 October, 03:00 → 02:00).
    let (h, _probe) = start(datetime!(2026-10-19 06:00 UTC)).await;
    let (profiles, activity) = (
        Publisher::start(&h.amqp, "profile").await,
        Publisher::start(&h.amqp, "activity-session").await,
    );
    let user = Uuid::now_v7();
    deliver(&h, &profiles, &profile(user, "Paz", "Europe/Paris")).await;
    let c = create(
        &h,
        user,
        pb::ChallengeSpec {
            start_date: Some(date(date!(2026 - 10 - 19))),
            end_date: Some(date(date!(2026 - 10 - 25))),
            ..spec("Week of the change", GoalKind::SessionsCompleted, 10)
        },
    )
    .await;
    let paris = |end| session(user, "focus", end, "Europe/Paris");
    // Sunday 23:30 in Paris after the change is 22:30 UTC: inside.
    deliver(&h, &activity, &paris(datetime!(2026-10-25 22:30 UTC))).await;
    // 23:30 UTC is Monday 00:30 in Paris: outside.
    deliver(&h, &activity, &paris(datetime!(2026-10-25 23:30 UTC))).await;
    // Monday 19 October 00:30 in Paris (summer time) is Sunday 22:30 UTC: the first day, and
    // before joining, so it does not count either way — the window is about dates, the join
    // about instants.
    deliver(&h, &activity, &paris(datetime!(2026-10-18 22:30 UTC))).await;
    assert_eq!(current(&h, user, &c.id).await.current, 1);
    h.stop().await;
}

#[tokio::test]
async fn the_weekly_system_challenges_count_their_own_kinds_and_show_in_this_weeks_list() {
    let (h, _probe) = start(NOW).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let user = Uuid::now_v7();
    const BREAK_CHAMPION: &str = "c0000000-0000-4000-8000-000000000004";
    const SPRINT_MASTER: &str = "c0000000-0000-4000-8000-000000000003";
    for id in [BREAK_CHAMPION, SPRINT_MASTER] {
        join(&h, user, id).await.expect("join");
    }
    assert!(
        list(&h, user, ChallengeView::Current)
            .await
            .contains(&BREAK_CHAMPION.to_owned())
    );
    deliver(&h, &activity, &session(user, "break", at(1), "UTC")).await;
    deliver(&h, &activity, &session(user, "focus", at(2), "UTC")).await;
    deliver(&h, &activity, &session(user, "focus", at(3), "UTC")).await;
    let b = current(&h, user, BREAK_CHAMPION).await;
    assert_eq!((b.current, b.target), (1, 5));
    assert_eq!(
        b.window_start.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 16))
    );
    assert_eq!(current(&h, user, SPRINT_MASTER).await.current, 2);
    // Next week starts from zero.
    h.clock.set(datetime!(2026-11-23 09:00 UTC));
    assert_eq!(current(&h, user, SPRINT_MASTER).await.current, 0);
    h.stop().await;
}

/// A session event as activity-session would send it, ending at `end` (used by settlement).
pub fn focus(user: Uuid, end: OffsetDateTime) -> events::SessionCompleted {
    session(user, "focus", end, "UTC")
}

async fn xp(h: &crate::support::Harness, user: Uuid) -> i64 {
    crate::support::rewards(h)
        .get_my_rewards(stride_testkit::authed(
            pb::GetMyRewardsRequest {},
            &h.token(user),
        ))
        .await
        .expect("rewards")
        .into_inner()
        .xp
}

#[tokio::test]
async fn tasks_reflections_workouts_and_lessons_count_and_their_corrections_take_back() {
    use stride_testkit::fixtures;
    let (h, _probe) = start(NOW).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let ann = Uuid::now_v7();
    let tasks = create(&h, ann, spec("Tasks", GoalKind::TasksCompleted, 5)).await;
    let shutdowns = create(&h, ann, spec("Shutdowns", GoalKind::ShutdownReflections, 5)).await;
    let workouts = create(&h, ann, spec("Workouts", GoalKind::WorkoutsLogged, 5)).await;
    let lessons = create(&h, ann, spec("Lessons", GoalKind::LessonsCompleted, 5)).await;
    // The seven-day window opens today (Wednesday 18 November).
    let count = |id: String| {
        let h = &h;
        async move { current(h, ann, &id).await.current }
    };

    // Two tasks completed; one delivered twice. Then one reopened, the other deleted.
    let (t1, t2) = (Uuid::now_v7(), Uuid::now_v7());
    let done1 = fixtures::task_completed(ann, t1, at(1), "UTC");
    deliver(&h, &activity, &done1).await;
    deliver(&h, &activity, &done1).await;
    deliver(
        &h,
        &activity,
        &fixtures::task_completed(ann, t2, at(2), "UTC"),
    )
    .await;
    assert_eq!(count(tasks.id.clone()).await, 2);
    let xp_two_tasks = xp(&h, ann).await;
    assert!(xp_two_tasks >= 10, "5 XP a task: {xp_two_tasks}");
    deliver(
        &h,
        &activity,
        &fixtures::task_reopened(ann, t1, at(1), at(3), "UTC"),
    )
    .await;
    assert_eq!(
        count(tasks.id.clone()).await,
        1,
        "a reopened task is taken back"
    );
    assert_eq!(xp(&h, ann).await, xp_two_tasks - 5, "and its XP");
    let deleted = events::TaskDeleted {
        user_id: ann.to_string(),
        task_id: t2.to_string(),
        task: Some(fixtures::task_snapshot("Task", Some(at(2)), "UTC")),
        occur_time: Some(stride_kit::convert::timestamp(at(4))),
        local_date: Some(date(at(4).date())),
        timezone: "UTC".into(),
    };
    deliver(&h, &activity, &deleted).await;
    assert_eq!(
        count(tasks.id.clone()).await,
        0,
        "a completed task deleted is taken back"
    );

    // A shutdown reflection and a lesson count once each.
    let reflection = fixtures::reflection_submitted(ann, "good", at(9), "UTC");
    deliver(&h, &activity, &reflection).await;
    deliver(&h, &activity, &reflection).await;
    assert_eq!(count(shutdowns.id.clone()).await, 1);
    deliver(
        &h,
        &activity,
        &fixtures::lesson_completed(ann, at(5), "UTC"),
    )
    .await;
    assert_eq!(count(lessons.id.clone()).await, 1);

    // A workout counts on the date it was performed; moved out of the window it leaves it;
    // deleted it is taken back.
    let figures = fixtures::workout_figures(3, 10, 40.0, at(6), "UTC");
    let logged = fixtures::workout_logged(ann, figures.clone(), at(6), "UTC");
    deliver(&h, &activity, &logged).await;
    let other = fixtures::workout_logged(ann, figures.clone(), at(7), "UTC");
    deliver(&h, &activity, &other).await;
    assert_eq!(count(workouts.id.clone()).await, 2);
    let moved = events::WorkoutFigures {
        date_performed: Some(date(date!(2026 - 11 - 10))),
        ..figures.clone()
    };
    deliver(
        &h,
        &activity,
        &fixtures::workout_updated(ann, &logged.log_id, figures.clone(), moved, at(8), "UTC"),
    )
    .await;
    assert_eq!(
        count(workouts.id.clone()).await,
        1,
        "moved before the window"
    );
    deliver(
        &h,
        &activity,
        &fixtures::workout_deleted(ann, &other.log_id, figures, at(9), "UTC"),
    )
    .await;
    assert_eq!(count(workouts.id.clone()).await, 0);
    h.stop().await;
}
