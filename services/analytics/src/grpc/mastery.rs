//! `stride.analytics.v1.MasteryService`: the caller's topic mastery and weak topics.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, Violations, convert};
use stride_proto::analytics::{self as pb, mastery_service_server::MasteryService};

use crate::{
    domain::mastery::{self, Level, Mastery, Topic},
    store,
};

pub struct Masteries {
    pub pool: PgPool,
}

stride_kit::grpc_handlers! {
    impl MasteryService for Masteries {
        fn get_topic_mastery(pb::GetTopicMasteryRequest) -> pb::GetTopicMasteryResponse => get_topic_mastery;
    }
}

async fn get_topic_mastery(
    s: &Masteries,
    call: Call<pb::GetTopicMasteryRequest>,
) -> AppResult<pb::GetTopicMasteryResponse> {
    let user = call.caller()?.user_id;
    // A subject id is activity-session's UUID: anything else (control characters included,
    // which PostgreSQL refuses in text) is named here rather than reaching the database.
    let raw = call.message.subject_id.trim();
    let mut v = Violations::new();
    let subject =
        (!raw.is_empty()).then(|| convert::parse_id(&mut v, "subject_id", raw).to_string());
    v.check()?;
    let subject = subject.as_deref();
    let mut conn = s.pool.acquire().await?;
    let topics = store::mastery::topics(&mut conn, user, subject).await?;
    let (all, weak) = mastery::rank(topics);
    Ok(pb::GetTopicMasteryResponse {
        topics: all.iter().map(to_proto).collect(),
        weak_topics: weak.iter().map(to_proto).collect(),
    })
}

pub fn to_proto((t, m): &(Topic, Mastery)) -> pb::TopicMastery {
    let level = match m.level {
        Level::NotAssessed => pb::MasteryLevel::NotAssessed,
        Level::Beginner => pb::MasteryLevel::Beginner,
        Level::Learning => pb::MasteryLevel::Learning,
        Level::Proficient => pb::MasteryLevel::Proficient,
        Level::Mastered => pb::MasteryLevel::Mastered,
    };
    pb::TopicMastery {
        topic_id: t.topic_id.clone(),
        subject_id: t.subject_id.clone(),
        topic_title: t.topic_title.clone(),
        lessons_completed: t.lessons_completed,
        quiz_attempts: t.quiz_attempts,
        average_quiz_score: m.average,
        latest_quiz_score: t.latest_percent,
        latest_quiz_time: t.latest_time.map(convert::timestamp),
        mastery_score: m.score,
        level: level as i32,
        weak: m.weak,
    }
}
