//! Topic mastery (seed 003: "calculates mastery & performance", recommendations from "weak
//! topics, quiz results"). The seed names weak topics but gives no rule; this is Stride's:
//!
//! - A topic's figures: lessons completed (from `lesson.completed.v1`) and quiz attempts (from
//!   `quiz.completed.v1`: each attempt's percentage, their mean, and the latest one).
//! - **Mastery score** (0–100): `0.4 × mean + 0.6 × latest`, rounded — the latest attempt
//!   weighs more because it is what the user knows now, the mean keeps one lucky attempt from
//!   hiding a history of misses. Without a quiz the topic is *not assessed* (lessons alone do
//!   not show what was retained).
//! - **Levels**: under 40 beginner, 40–59 learning, 60–84 proficient, 85+ mastered.
//! - **Weak**: assessed and a mastery score under [`WEAK_BELOW`] (beginner or learning).
//!   Weakest first; the dashboard shows the first [`WEAK_SHOWN`].

use std::cmp::Ordering;

use time::OffsetDateTime;

pub const WEAK_BELOW: i32 = 60;
pub const WEAK_SHOWN: usize = 5;

/// What analytics keeps per user and topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub topic_id: String,
    pub subject_id: String,
    pub topic_title: String,
    pub lessons_completed: i32,
    pub quiz_attempts: i32,
    /// Sum of the attempts' percentages.
    pub quiz_percent_sum: i64,
    pub latest_percent: i32,
    pub latest_time: Option<OffsetDateTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    NotAssessed,
    Beginner,
    Learning,
    Proficient,
    Mastered,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mastery {
    pub average: f64,
    pub score: i32,
    pub level: Level,
    pub weak: bool,
}

/// A quiz attempt's percentage, rounded; None for an impossible result (no questions, more
/// right answers than questions, negative counts).
pub fn percent(correct: i32, questions: i32) -> Option<i32> {
    if questions <= 0 || correct < 0 || correct > questions {
        return None;
    }
    let p = (f64::from(correct) * 100.0 / f64::from(questions)).round();
    Some(p as i32)
}

pub fn level(score: i32) -> Level {
    match score {
        i32::MIN..=39 => Level::Beginner,
        40..=59 => Level::Learning,
        60..=84 => Level::Proficient,
        _ => Level::Mastered,
    }
}

pub fn assess(t: &Topic) -> Mastery {
    if t.quiz_attempts <= 0 {
        return Mastery {
            average: 0.0,
            score: 0,
            level: Level::NotAssessed,
            weak: false,
        };
    }
    let average = t.quiz_percent_sum as f64 / f64::from(t.quiz_attempts);
    let score = (0.4 * average + 0.6 * f64::from(t.latest_percent))
        .round()
        .clamp(0.0, 100.0) as i32;
    Mastery {
        average: (average * 10.0).round() / 10.0,
        score,
        level: level(score),
        weak: score < WEAK_BELOW,
    }
}

/// A topic with its mastery.
pub type Assessed = (Topic, Mastery);

/// Weakest first: assessed topics by score ascending, then the unassessed; ties by title, id.
pub fn order(a: &(Topic, Mastery), b: &(Topic, Mastery)) -> Ordering {
    let assessed = |m: &Mastery| m.level == Level::NotAssessed;
    assessed(&a.1)
        .cmp(&assessed(&b.1))
        .then(a.1.score.cmp(&b.1.score))
        .then(a.0.topic_title.cmp(&b.0.topic_title))
        .then(a.0.topic_id.cmp(&b.0.topic_id))
}

/// Every topic assessed and ordered weakest first, and the weak ones shown (at most
/// [`WEAK_SHOWN`]).
pub fn rank(topics: Vec<Topic>) -> (Vec<Assessed>, Vec<Assessed>) {
    let mut all: Vec<(Topic, Mastery)> = topics
        .into_iter()
        .map(|t| {
            let m = assess(&t);
            (t, m)
        })
        .collect();
    all.sort_by(order);
    let weak = all
        .iter()
        .filter(|(_, m)| m.weak)
        .take(WEAK_SHOWN)
        .cloned()
        .collect();
    (all, weak)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(id: &str, attempts: i32, sum: i64, latest: i32) -> Topic {
        Topic {
            topic_id: id.into(),
            subject_id: "s".into(),
            topic_title: id.to_uppercase(),
            lessons_completed: 1,
            quiz_attempts: attempts,
            quiz_percent_sum: sum,
            latest_percent: latest,
            latest_time: None,
        }
    }

    #[test]
    fn percentages_round_and_refuse_impossible_results() {
        assert_eq!(percent(2, 3), Some(67));
        assert_eq!(percent(0, 5), Some(0));
        assert_eq!(percent(5, 5), Some(100));
        assert_eq!(percent(1, 0), None);
        assert_eq!(percent(6, 5), None);
        assert_eq!(percent(-1, 5), None);
    }

    #[test]
    fn the_latest_attempt_weighs_more_than_the_mean() {
        // Attempts 40 then 90: mean 65, latest 90 → 0.4·65 + 0.6·90 = 80.
        let m = assess(&topic("t", 2, 130, 90));
        assert_eq!(
            (m.average, m.score, m.level, m.weak),
            (65.0, 80, Level::Proficient, false)
        );
        // Attempts 100 then 30: mean 65, latest 30 → 44: weak although the mean is not.
        let m = assess(&topic("t", 2, 130, 30));
        assert_eq!((m.score, m.level, m.weak), (44, Level::Learning, true));
    }

    #[test]
    fn levels_have_their_bounds() {
        assert_eq!(level(0), Level::Beginner);
        assert_eq!(level(39), Level::Beginner);
        assert_eq!(level(40), Level::Learning);
        assert_eq!(level(59), Level::Learning);
        assert_eq!(level(60), Level::Proficient);
        assert_eq!(level(84), Level::Proficient);
        assert_eq!(level(85), Level::Mastered);
        assert_eq!(level(100), Level::Mastered);
    }

    #[test]
    fn lessons_alone_are_not_assessed_and_never_weak() {
        let m = assess(&topic("t", 0, 0, 0));
        assert_eq!((m.score, m.level, m.weak), (0, Level::NotAssessed, false));
    }

    #[test]
    fn weak_topics_come_weakest_first_and_at_most_five() {
        let mut topics = vec![topic("unassessed", 0, 0, 0), topic("strong", 1, 95, 95)];
        for (i, s) in [50, 20, 59, 10, 45, 30].into_iter().enumerate() {
            topics.push(topic(&format!("w{i}"), 1, i64::from(s), s));
        }
        topics.push(topic("edge", 1, 60, 60));
        let (all, weak) = rank(topics);
        let ids: Vec<_> = weak.iter().map(|(t, _)| t.topic_id.as_str()).collect();
        assert_eq!(ids, ["w3", "w1", "w5", "w4", "w0"]);
        assert_eq!(all.first().map(|(t, _)| t.topic_id.as_str()), Some("w3"));
        assert_eq!(
            all.last().map(|(t, _)| t.topic_id.as_str()),
            Some("unassessed")
        );
        assert!(
            !all.iter().any(|(t, m)| t.topic_id == "edge" && m.weak),
            "60 is not weak"
        );
    }
}
