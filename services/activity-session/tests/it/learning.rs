//! LearningService: the seeded content browsed without a token, lessons in order with their
//! bodies, CompleteLesson idempotent (one row, one event), progress per user and filtered.

use stride_kit::convert;
use stride_proto::{
    Event as _,
    activity_session::{self as pb, learning_service_client::LearningServiceClient},
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, assert_invalid},
};
use time::{
    Duration,
    macros::{date, datetime},
};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, start};

/// Fixed ids of the seeded content (2202_learning.sql).
pub const MATHEMATICS: &str = "51000000-0000-4000-8000-000000000001";
pub const LINEAR_EQUATIONS: &str = "52000000-0000-4000-8000-000000000011";
pub const WHAT_IS_AN_EQUATION: &str = "53000000-0000-4000-8000-000000000111";
const BINARY_SEARCH: &str = "53000000-0000-4000-8000-000000000222";

fn client(h: &Harness) -> LearningServiceClient<Channel> {
    LearningServiceClient::new(h.channel.clone())
}

pub async fn complete(h: &Harness, user: Uuid, lesson: &str) -> pb::CompleteLessonResponse {
    client(h)
        .complete_lesson(authed(
            pb::CompleteLessonRequest {
                lesson_id: lesson.into(),
            },
            &h.token(user),
        ))
        .await
        .expect("complete lesson")
        .into_inner()
}

#[tokio::test]
async fn the_catalog_is_public_ordered_and_real() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let mut c = client(&h);
    // No token anywhere below.
    let subjects = c
        .list_subjects(pb::ListSubjectsRequest::default())
        .await
        .expect("subjects")
        .into_inner()
        .subjects;
    let names: Vec<_> = subjects.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(names, ["mathematics", "computer-science", "biology"]);
    assert!(subjects.iter().all(|s| s.topic_count >= 2));

    let topics = c
        .list_topics(pb::ListTopicsRequest {
            subject_id: MATHEMATICS.into(),
            ..Default::default()
        })
        .await
        .expect("topics")
        .into_inner()
        .topics;
    let t: Vec<_> = topics.iter().map(|t| (t.slug.as_str(), t.order)).collect();
    assert_eq!(t, [("linear-equations", 1), ("pythagorean-theorem", 2)]);

    let page = c
        .list_lessons(pb::ListLessonsRequest {
            topic_id: LINEAR_EQUATIONS.into(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("lessons")
        .into_inner();
    let l: Vec<_> = page
        .lessons
        .iter()
        .map(|l| (l.order, l.body_markdown.is_empty()))
        .collect();
    assert_eq!(l, [(1, true), (2, true)], "lists leave the bodies out");
    let rest = c
        .list_lessons(pb::ListLessonsRequest {
            topic_id: LINEAR_EQUATIONS.into(),
            page_size: 2,
            page_token: page.next_page_token,
        })
        .await
        .expect("next page")
        .into_inner();
    assert_eq!(
        rest.lessons.iter().map(|l| l.order).collect::<Vec<_>>(),
        [3]
    );

    let lesson = c
        .get_lesson(pb::GetLessonRequest {
            lesson_id: BINARY_SEARCH.into(),
        })
        .await
        .expect("lesson")
        .into_inner()
        .lesson
        .expect("lesson");
    assert_eq!(lesson.title, "Binary search");
    assert!(
        lesson.body_markdown.starts_with("\n# Binary search")
            || lesson.body_markdown.starts_with("# Binary search")
    );
    assert!(lesson.body_markdown.contains("O(log n)"));
    assert!(lesson.estimated_minutes > 0);

    let unknown = Uuid::now_v7().to_string();
    let e = c
        .list_topics(pb::ListTopicsRequest {
            subject_id: unknown.clone(),
            ..Default::default()
        })
        .await
        .expect_err("unknown subject");
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .list_lessons(pb::ListLessonsRequest {
            topic_id: unknown.clone(),
            ..Default::default()
        })
        .await
        .expect_err("unknown topic");
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .get_lesson(pb::GetLessonRequest { lesson_id: unknown })
        .await
        .expect_err("unknown lesson");
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .list_topics(pb::ListTopicsRequest {
            subject_id: "maths".into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect_err("bad");
    assert_invalid(&e, &["subject_id", "page_size"]);

    // Progress needs a token.
    let e = c
        .complete_lesson(pb::CompleteLessonRequest {
            lesson_id: WHAT_IS_AN_EQUATION.into(),
        })
        .await
        .expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = c
        .list_lesson_progress(pb::ListLessonProgressRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn completing_a_lesson_is_idempotent_and_announced_once() {
    let (h, _probe) = start(datetime!(2026-11-22 23:30 UTC)).await;
    let mut completed = Probe::bind(&h.amqp, events::LessonCompleted::TYPE).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());

    let first = complete(&h, user, WHAT_IS_AN_EQUATION).await;
    assert!(first.newly_completed);
    let p = first.progress.expect("progress");
    assert_eq!(p.topic_id, LINEAR_EQUATIONS);
    assert_eq!(p.subject_id, MATHEMATICS);
    assert_eq!(
        p.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 22))
    );
    let (_, _, app, e) = completed.next::<events::LessonCompleted>().await;
    assert_eq!(app, "activity-session");
    assert_eq!(e.lesson_id, WHAT_IS_AN_EQUATION);
    assert_eq!(e.subject_id, MATHEMATICS);
    assert_eq!(e.lesson_title, "What is an equation?");
    assert_eq!(e.timezone, "UTC");

    // Again, a day later: the first completion stands, nothing is announced.
    h.clock.advance(Duration::days(1));
    let again = complete(&h, user, WHAT_IS_AN_EQUATION).await;
    assert!(!again.newly_completed);
    assert_eq!(again.progress, Some(p.clone()));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM lesson_progress WHERE user_id = $1")
        .bind(user)
        .fetch_one(&h.db)
        .await
        .expect("rows");
    assert_eq!(rows, 1);

    complete(&h, user, BINARY_SEARCH).await;
    let (_, _, _, e) = completed.next::<events::LessonCompleted>().await;
    assert_eq!(e.lesson_id, BINARY_SEARCH);
    assert!(
        completed
            .quiet_for(std::time::Duration::from_millis(300))
            .await
    );

    let progress = |subject: &str| {
        let mut c = client(&h);
        let token = h.token(user);
        let subject = subject.to_owned();
        async move {
            c.list_lesson_progress(authed(
                pb::ListLessonProgressRequest {
                    subject_id: subject,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .expect("progress")
            .into_inner()
            .progress
            .into_iter()
            .map(|p| p.lesson_id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        progress("").await,
        [BINARY_SEARCH, WHAT_IS_AN_EQUATION],
        "newest first"
    );
    assert_eq!(progress(MATHEMATICS).await, [WHAT_IS_AN_EQUATION]);
    let theirs = client(&h)
        .list_lesson_progress(authed(
            pb::ListLessonProgressRequest::default(),
            &h.token(other),
        ))
        .await
        .expect("theirs")
        .into_inner();
    assert!(theirs.progress.is_empty());
    let e = client(&h)
        .list_lesson_progress(authed(
            pb::ListLessonProgressRequest {
                topic_id: "x".into(),
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect_err("bad topic");
    assert_invalid(&e, &["topic_id"]);
    let e = client(&h)
        .complete_lesson(authed(
            pb::CompleteLessonRequest {
                lesson_id: Uuid::now_v7().to_string(),
            },
            &h.token(user),
        ))
        .await
        .expect_err("unknown lesson");
    assert_eq!(e.code(), Code::NotFound);
    h.stop().await;
}
