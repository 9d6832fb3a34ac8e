//! `stride.ai_coach.v1.FeedbackService`: ratings on answers (any capability's
//! `Provenance.answer_id`), the admins' stats per answer kind and path, and the caller's usage
//! against the daily quota. Rules and SQL are small enough to live together here.

use sqlx::{PgConnection, PgPool};
use stride_kit::{AppError, AppResult, Call, Violations, clock::SharedClock, convert};
use stride_proto::ai_coach::{self as pb, feedback_service_server::FeedbackService};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::quota;

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;
/// The stats' default range, back from now.
const DEFAULT_RANGE: Duration = Duration::days(30);
/// The longest range the stats cover.
const MAX_RANGE: Duration = Duration::days(366);

pub struct Feedback {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl FeedbackService for Feedback {
        fn submit_feedback(pb::SubmitFeedbackRequest) -> pb::SubmitFeedbackResponse => submit;
        fn get_feedback_stats(pb::GetFeedbackStatsRequest) -> pb::GetFeedbackStatsResponse => stats;
        fn get_my_usage(pb::GetMyUsageRequest) -> pb::GetMyUsageResponse => usage;
    }
}

/// The stored name of a rating; None for UNSPECIFIED or unknown values.
pub fn rating_name(rating: i32) -> Option<&'static str> {
    match pb::Rating::try_from(rating).ok()? {
        pb::Rating::Positive => Some("positive"),
        pb::Rating::Negative => Some("negative"),
        pb::Rating::Unspecified => None,
    }
}

fn rating_from_db(s: &str) -> pb::Rating {
    match s {
        "positive" => pb::Rating::Positive,
        "negative" => pb::Rating::Negative,
        _ => pb::Rating::Unspecified,
    }
}

/// A comment is free text up to [`MAX_COMMENT_CHARS`]; no NUL or other control characters
/// except line breaks and tabs.
pub fn check_comment(v: &mut Violations, comment: &str) {
    if comment.chars().count() > MAX_COMMENT_CHARS {
        v.add("comment", "at most 1000 characters");
    } else if comment
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        v.add("comment", "must not contain control characters");
    }
}

/// positive / (positive + negative), 0 when nothing was rated.
pub fn positive_ratio(positive: i64, negative: i64) -> f64 {
    let rated = positive + negative;
    if rated == 0 {
        0.0
    } else {
        positive as f64 / rated as f64
    }
}

async fn submit(
    s: &Feedback,
    call: Call<pb::SubmitFeedbackRequest>,
) -> AppResult<pb::SubmitFeedbackResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let answer_id = convert::parse_id(&mut v, "answer_id", &req.answer_id);
    let rating = rating_name(req.rating);
    if rating.is_none() {
        v.add("rating", "must be RATING_POSITIVE or RATING_NEGATIVE");
    }
    check_comment(&mut v, &req.comment);
    v.check()?;
    let rating = rating.unwrap_or("positive");
    let comment = req.comment.trim();
    let now = s.clock.now_db();
    let mut conn = s.pool.acquire().await?;
    // Another user's answer and a missing one look the same.
    if crate::answers::owner(&mut conn, answer_id).await? != Some(caller.user_id) {
        return Err(AppError::not_found("answer"));
    }
    upsert(&mut conn, answer_id, caller.user_id, rating, comment, now).await?;
    Ok(pb::SubmitFeedbackResponse {
        feedback: Some(pb::Feedback {
            answer_id: answer_id.to_string(),
            rating: rating_from_db(rating) as i32,
            comment: comment.to_owned(),
            updated_at: Some(convert::timestamp(now)),
        }),
    })
}

async fn upsert(
    conn: &mut PgConnection,
    answer: Uuid,
    user: Uuid,
    rating: &str,
    comment: &str,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO answer_feedback (answer_id, user_id, rating, comment, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (answer_id) DO UPDATE
           SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at",
    )
    .bind(answer)
    .bind(user)
    .bind(rating)
    .bind(comment)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn stats(
    s: &Feedback,
    call: Call<pb::GetFeedbackStatsRequest>,
) -> AppResult<pb::GetFeedbackStatsResponse> {
    call.caller()?;
    let req = &call.message;
    let now = s.clock.now();
    let mut v = Violations::new();
    let mut bound = |field: &str, t: &Option<prost_types::Timestamp>| match t {
        None => None,
        Some(t) => {
            let parsed = convert::from_timestamp(t);
            if parsed.is_none() {
                v.add(field, "not a valid timestamp");
            }
            parsed
        }
    };
    // The default end includes answers given this very second.
    let to = bound("to", &req.to).unwrap_or(now + Duration::seconds(1));
    let from = bound("from", &req.from).unwrap_or(to - DEFAULT_RANGE);
    if from >= to {
        v.add("from", "must be before `to`");
    } else if to - from > MAX_RANGE {
        v.add("from", "the range is at most 366 days");
    }
    v.check()?;
    let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT a.kind, a.path, count(*),
                count(*) FILTER (WHERE f.rating = 'positive'),
                count(*) FILTER (WHERE f.rating = 'negative')
           FROM answers a LEFT JOIN answer_feedback f ON f.answer_id = a.id
          WHERE a.created_at >= $1 AND a.created_at < $2
          GROUP BY a.kind, a.path ORDER BY a.kind, a.path",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&s.pool)
    .await?;
    Ok(pb::GetFeedbackStatsResponse {
        stats: rows
            .into_iter()
            .map(
                |(kind, path, answers, positive, negative)| pb::FeedbackStats {
                    kind,
                    path,
                    answers,
                    positive,
                    negative,
                    positive_ratio: positive_ratio(positive, negative),
                },
            )
            .collect(),
        from: Some(convert::timestamp(from)),
        to: Some(convert::timestamp(to)),
    })
}

async fn usage(
    s: &Feedback,
    call: Call<pb::GetMyUsageRequest>,
) -> AppResult<pb::GetMyUsageResponse> {
    let user = call.caller()?.user_id;
    let now = s.clock.now();
    let day_start = now.date().midnight().assume_utc();
    let mut conn = s.pool.acquire().await?;
    let calls = quota::used_today(&mut conn, user, &s.clock).await?;
    let (prompt, completion): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(prompt_tokens), 0)::bigint, COALESCE(sum(completion_tokens), 0)::bigint
           FROM answers WHERE user_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(user)
    .bind(day_start)
    .bind(day_start + Duration::days(1))
    .fetch_one(&mut *conn)
    .await?;
    Ok(pb::GetMyUsageResponse {
        calls_today: i32::try_from(calls).unwrap_or(i32::MAX),
        daily_quota: i32::try_from(quota::daily_limit()).unwrap_or(i32::MAX),
        prompt_tokens_today: prompt,
        completion_tokens_today: completion,
        resets_at: Some(convert::timestamp(day_start + Duration::days(1))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_and_comments_are_checked() {
        assert_eq!(rating_name(pb::Rating::Positive as i32), Some("positive"));
        assert_eq!(rating_name(pb::Rating::Negative as i32), Some("negative"));
        assert_eq!(rating_name(0), None);
        assert_eq!(rating_name(99), None);
        let mut v = Violations::new();
        check_comment(&mut v, &"é".repeat(1000));
        check_comment(&mut v, "line one\nline two");
        assert!(v.is_empty());
        let mut v = Violations::new();
        check_comment(&mut v, &"x".repeat(1001));
        assert!(!v.is_empty());
        let mut v = Violations::new();
        check_comment(&mut v, "a\0b");
        assert!(!v.is_empty());
    }

    #[test]
    fn the_ratio_is_over_rated_answers() {
        assert_eq!(positive_ratio(0, 0), 0.0);
        assert_eq!(positive_ratio(3, 1), 0.75);
    }
}
