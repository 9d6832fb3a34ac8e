//! `ListRecentActivity`: the caller's logged events of the kinds a feed shows, newest first,
//! read from `event_log` (corrections such as deletions are not items).

use stride_kit::{AppResult, Call, Violations, convert, pagination::Page};
use stride_proto::{Event, analytics as pb, events};
use time::OffsetDateTime;

use super::Summaries;
use crate::store::{self, log::Entry};

const DEFAULT_PAGE: usize = 20;

/// The event types the feed shows.
const FEED: &[&str] = &[
    events::SessionCompleted::TYPE,
    events::TaskCreated::TYPE,
    events::TaskCompleted::TYPE,
    events::ReflectionSubmitted::TYPE,
    events::LessonCompleted::TYPE,
    events::WorkoutLogged::TYPE,
    events::ChallengeCompleted::TYPE,
    events::AchievementUnlocked::TYPE,
    events::PracticeSessionEvaluated::TYPE,
];

/// Cursor: the last item's (occurred_at in unix microseconds, log seq).
type Cursor = (i64, i64);

pub(super) async fn list_recent_activity(
    s: &Summaries,
    call: Call<pb::ListRecentActivityRequest>,
) -> AppResult<pb::ListRecentActivityResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page: Page<Cursor> = Page::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE);
    let after = page.after().map(|(micros, seq)| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(*micros) * 1000).map(|t| (t, *seq))
    });
    v.when(
        matches!(after, Some(Err(_))),
        "page_token",
        "is not a token from a previous page",
    );
    v.check()?;
    let after = after.and_then(Result::ok);
    let mut conn = s.pool.acquire().await?;
    let rows = store::log::recent(&mut conn, user, FEED, after, page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |(seq, e)| {
        (
            i64::try_from(e.occurred_at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX),
            *seq,
        )
    });
    Ok(pb::ListRecentActivityResponse {
        items: rows.iter().filter_map(|(_, e)| item(e)).collect(),
        next_page_token,
    })
}

fn decode<E: Event>(e: &Entry) -> Option<E> {
    E::decode(e.payload.as_slice()).ok()
}

/// The feed item of a logged event (None for a payload that no longer decodes: it was applied,
/// so this cannot happen, but the feed never fails on one row).
fn item(e: &Entry) -> Option<pb::ActivityItem> {
    let mut it = pb::ActivityItem {
        event_id: e.event_id.to_string(),
        occur_time: Some(convert::timestamp(e.occurred_at)),
        local_date: e.local_date.map(convert::date),
        ..Default::default()
    };
    let t = e.event_type.as_str();
    if t == events::SessionCompleted::TYPE {
        let x: events::SessionCompleted = decode(e)?;
        it.kind = "session".into();
        it.title = x.activity_kind;
        it.duration = x.duration;
        it.subject_id = x.session_id;
    } else if t == events::TaskCreated::TYPE {
        let x: events::TaskCreated = decode(e)?;
        it.kind = "task_created".into();
        it.title = x.task.map(|t| t.title).unwrap_or_default();
        it.subject_id = x.task_id;
    } else if t == events::TaskCompleted::TYPE {
        let x: events::TaskCompleted = decode(e)?;
        it.kind = "task_completed".into();
        it.title = x.task.map(|t| t.title).unwrap_or_default();
        it.subject_id = x.task_id;
    } else if t == events::ReflectionSubmitted::TYPE {
        let x: events::ReflectionSubmitted = decode(e)?;
        it.kind = "reflection".into();
        it.title = x.productivity_rating;
        it.subject_id = x.reflection_id;
    } else if t == events::LessonCompleted::TYPE {
        let x: events::LessonCompleted = decode(e)?;
        it.kind = "lesson".into();
        it.title = x.lesson_title;
        it.subject_id = x.lesson_id;
    } else if t == events::WorkoutLogged::TYPE {
        let x: events::WorkoutLogged = decode(e)?;
        it.kind = "workout".into();
        it.title = x
            .figures
            .as_ref()
            .map(|f| f.exercise_id.clone())
            .unwrap_or_default();
        it.duration = x.figures.and_then(|f| f.duration);
        it.subject_id = x.log_id;
    } else if t == events::ChallengeCompleted::TYPE {
        let x: events::ChallengeCompleted = decode(e)?;
        it.kind = "challenge".into();
        it.title = x.title;
        it.value = x.points_awarded;
        it.subject_id = x.challenge_id;
    } else if t == events::AchievementUnlocked::TYPE {
        let x: events::AchievementUnlocked = decode(e)?;
        it.kind = "achievement".into();
        it.title = x.title;
        it.value = x.points_awarded;
        it.subject_id = x.achievement_id;
    } else if t == events::PracticeSessionEvaluated::TYPE {
        let x: events::PracticeSessionEvaluated = decode(e)?;
        it.kind = "evaluation".into();
        it.value = x.overall_score;
        it.subject_id = x.practice_session_id;
    } else {
        return None;
    }
    Some(it)
}
