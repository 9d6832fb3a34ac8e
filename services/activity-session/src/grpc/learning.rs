//! `LearningService`: subjects → topics → lessons (public) and the caller's lesson progress.

use stride_bus::directory;
use stride_kit::{
    AppResult, Call, Violations,
    convert::{date, local_date, parse_id, require_id, timestamp},
    pagination::Page,
};
use stride_proto::activity_session as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::ActivitySessions;
use crate::{
    errors,
    events::publish,
    store::{
        self,
        learning::{LessonRow, ProgressRow},
    },
};

const DEFAULT_PAGE_SIZE: usize = 50;

pub(super) async fn list_subjects(
    s: &ActivitySessions,
    call: Call<pb::ListSubjectsRequest>,
) -> AppResult<pb::ListSubjectsResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<i32>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::learning::subjects(&mut conn, page.after().copied(), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.position);
    Ok(pb::ListSubjectsResponse {
        subjects: rows
            .into_iter()
            .map(|r| pb::Subject {
                id: r.id.to_string(),
                slug: r.slug,
                name: r.name,
                description: r.description,
                topic_count: count(r.topic_count),
            })
            .collect(),
        next_page_token,
    })
}

pub(super) async fn list_topics(
    s: &ActivitySessions,
    call: Call<pb::ListTopicsRequest>,
) -> AppResult<pb::ListTopicsResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let subject = parse_id(&mut v, "subject_id", &req.subject_id);
    let page = Page::<i32>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    if !store::learning::subject_exists(&mut conn, subject).await? {
        return Err(errors::no_subject());
    }
    let rows = store::learning::topics(
        &mut conn,
        subject,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.position);
    Ok(pb::ListTopicsResponse {
        topics: rows
            .into_iter()
            .map(|r| pb::Topic {
                id: r.id.to_string(),
                subject_id: r.subject_id.to_string(),
                slug: r.slug,
                name: r.name,
                description: r.description,
                order: r.position,
                lesson_count: count(r.lesson_count),
            })
            .collect(),
        next_page_token,
    })
}

pub(super) async fn list_lessons(
    s: &ActivitySessions,
    call: Call<pb::ListLessonsRequest>,
) -> AppResult<pb::ListLessonsResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let topic = parse_id(&mut v, "topic_id", &req.topic_id);
    let page = Page::<i32>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    if !store::learning::topic_exists(&mut conn, topic).await? {
        return Err(errors::no_topic());
    }
    let rows =
        store::learning::lessons(&mut conn, topic, page.after().copied(), page.fetch_limit())
            .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.position);
    Ok(pb::ListLessonsResponse {
        lessons: rows.into_iter().map(lesson).collect(),
        next_page_token,
    })
}

pub(super) async fn get_lesson(
    s: &ActivitySessions,
    call: Call<pb::GetLessonRequest>,
) -> AppResult<pb::GetLessonResponse> {
    let id = require_id("lesson_id", &call.message.lesson_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::learning::lesson(&mut conn, id)
        .await?
        .ok_or_else(errors::no_lesson)?;
    Ok(pb::GetLessonResponse {
        lesson: Some(lesson(row)),
    })
}

/// Records the first completion, on the caller's local date, and announces it with
/// `lesson.completed.v1`; later calls answer that first completion and announce nothing.
pub(super) async fn complete_lesson(
    s: &ActivitySessions,
    call: Call<pb::CompleteLessonRequest>,
) -> AppResult<pb::CompleteLessonResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("lesson_id", &call.message.lesson_id)?;
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let row = store::learning::lesson(&mut tx, id)
        .await?
        .ok_or_else(errors::no_lesson)?;
    let tz = directory::timezone(&mut tx, user).await?;
    let newly =
        store::learning::complete(&mut tx, user, id, now, local_date(now, &tz), &tz).await?;
    let progress = store::learning::progress(&mut tx, user, id)
        .await?
        .ok_or_else(|| {
            stride_kit::AppError::internal(anyhow::anyhow!("lesson progress vanished"))
        })?;
    if newly {
        tx.publish(&publish::lesson_completed(user, &row, &progress))
            .await?;
    }
    tx.commit().await?;
    Ok(pb::CompleteLessonResponse {
        progress: Some(progress_proto(progress)),
        newly_completed: newly,
    })
}

pub(super) async fn list_lesson_progress(
    s: &ActivitySessions,
    call: Call<pb::ListLessonProgressRequest>,
) -> AppResult<pb::ListLessonProgressResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<(OffsetDateTime, Uuid)>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        DEFAULT_PAGE_SIZE,
    );
    let subject =
        (!req.subject_id.is_empty()).then(|| parse_id(&mut v, "subject_id", &req.subject_id));
    let topic = (!req.topic_id.is_empty()).then(|| parse_id(&mut v, "topic_id", &req.topic_id));
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::learning::progress_list(
        &mut conn,
        user,
        subject,
        topic,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.completed_at, r.lesson_id));
    Ok(pb::ListLessonProgressResponse {
        progress: rows.into_iter().map(progress_proto).collect(),
        next_page_token,
    })
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn lesson(r: LessonRow) -> pb::Lesson {
    pb::Lesson {
        id: r.id.to_string(),
        topic_id: r.topic_id.to_string(),
        subject_id: r.subject_id.to_string(),
        slug: r.slug,
        title: r.title,
        body_markdown: r.body_markdown,
        estimated_minutes: r.estimated_minutes,
        order: r.position,
    }
}

fn progress_proto(p: ProgressRow) -> pb::LessonProgress {
    pb::LessonProgress {
        lesson_id: p.lesson_id.to_string(),
        topic_id: p.topic_id.to_string(),
        subject_id: p.subject_id.to_string(),
        complete_time: Some(timestamp(p.completed_at)),
        local_date: Some(date(p.local_date)),
        timezone: p.timezone,
    }
}
