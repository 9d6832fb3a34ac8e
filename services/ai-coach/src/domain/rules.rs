//! The coach's rules: always computed, so there is an answer (and a suggested activity) even
//! without an LLM, and the LLM answer reuses the rules' suggestion.

use stride_proto::{
    activity_session::{Activity, ActivityKind},
    analytics::GetProgressSummaryResponse,
};

/// Focus sessions in one day after which the coach suggests a break instead.
pub const BREAK_AFTER_FOCUS_SESSIONS: i32 = 4;
/// Streak length that earns praise.
pub const PRAISE_STREAK: i32 = 3;

/// The figures the rules (and the LLM prompt) use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub sessions_this_week: i32,
    pub focus_this_week: i32,
    pub minutes_this_week: i64,
    pub focus_today: i32,
    pub sessions_today: i32,
    pub current_streak: i32,
    pub longest_streak: i32,
}

impl Progress {
    /// Figures from a week summary; `today` is the caller's local date.
    pub fn from_summary(s: &GetProgressSummaryResponse, today: time::Date) -> Self {
        let day = s
            .days
            .iter()
            .find(|d| d.date.as_ref().and_then(stride_kit::convert::from_date) == Some(today));
        Self {
            sessions_this_week: s.sessions_completed,
            focus_this_week: s.focus_sessions,
            minutes_this_week: s.total_duration.as_ref().map_or(0, |d| d.seconds / 60),
            focus_today: day.map_or(0, |d| d.focus_sessions),
            sessions_today: day.map_or(0, |d| d.sessions_completed),
            current_streak: s.current_streak,
            longest_streak: s.longest_streak,
        }
    }
}

/// What the rules say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advice {
    pub text: String,
    /// Empty when the catalog has nothing that fits.
    pub activity_id: String,
    pub activity_name: String,
}

/// The 25-minute focus activity (by slug, else by kind and length, else any focus activity).
pub fn focus_activity(catalog: &[Activity]) -> Option<&Activity> {
    let focus = |a: &&Activity| a.kind == ActivityKind::Focus as i32;
    catalog
        .iter()
        .find(|a| a.slug == "focus-25")
        .or_else(|| {
            catalog.iter().filter(focus).find(|a| {
                a.default_duration
                    .as_ref()
                    .is_some_and(|d| d.seconds == 25 * 60)
            })
        })
        .or_else(|| catalog.iter().find(focus))
}

/// The shortest break activity.
pub fn break_activity(catalog: &[Activity]) -> Option<&Activity> {
    catalog
        .iter()
        .filter(|a| a.kind == ActivityKind::Break as i32)
        .min_by_key(|a| a.default_duration.as_ref().map_or(i64::MAX, |d| d.seconds))
}

fn days(n: i32) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

fn sessions(n: i32) -> String {
    if n == 1 {
        "1 session".into()
    } else {
        format!("{n} sessions")
    }
}

pub fn advise(p: &Progress, catalog: &[Activity]) -> Advice {
    let focus = focus_activity(catalog);
    let focus_name = focus.map_or_else(|| "a 25-minute focus".to_owned(), |a| a.name.clone());
    let week = format!(
        "{} this week, current streak {}",
        sessions(p.sessions_this_week),
        days(p.current_streak)
    );

    let (text, pick) = if p.focus_today >= BREAK_AFTER_FOCUS_SESSIONS {
        let brk = break_activity(catalog);
        let name = brk.map_or_else(|| "a short break".to_owned(), |a| a.name.clone());
        (
            format!(
                "You've done {} focus sessions today ({week}). Your brain needs rest to keep that pace: take a {name} before the next block.",
                p.focus_today
            ),
            brk.or(focus),
        )
    } else if p.sessions_this_week == 0 {
        (
            format!(
                "No sessions yet this week ({week}). Start a streak today with one {focus_name} session of 25 minutes."
            ),
            focus,
        )
    } else if p.current_streak >= PRAISE_STREAK {
        (
            format!(
                "Great consistency: {week} and {} minutes in total. Keep the streak going with a {focus_name} session today.",
                p.minutes_this_week
            ),
            focus,
        )
    } else if p.sessions_today == 0 && p.current_streak > 0 {
        (
            format!("Good momentum: {week}. A {focus_name} session today keeps your streak alive."),
            focus,
        )
    } else {
        (
            format!(
                "Nice work: {week}. Another {focus_name} session builds the habit toward a 3-day streak."
            ),
            focus,
        )
    };
    Advice {
        text,
        activity_id: pick.map(|a| a.id.clone()).unwrap_or_default(),
        activity_name: pick.map(|a| a.name.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(id: &str, slug: &str, name: &str, kind: ActivityKind, minutes: i64) -> Activity {
        Activity {
            id: id.into(),
            slug: slug.into(),
            name: name.into(),
            kind: kind as i32,
            default_duration: Some(prost_types::Duration {
                seconds: minutes * 60,
                nanos: 0,
            }),
            description: String::new(),
        }
    }

    fn catalog() -> Vec<Activity> {
        vec![
            activity("w", "pushups", "Push-ups", ActivityKind::Workout, 10),
            activity("b15", "break-15", "Long break", ActivityKind::Break, 15),
            activity("f", "focus-25", "Focus", ActivityKind::Focus, 25),
            activity("b5", "break-5", "Short break", ActivityKind::Break, 5),
        ]
    }

    #[test]
    fn empty_week_suggests_the_focus_activity() {
        let a = advise(&Progress::default(), &catalog());
        assert_eq!(a.activity_id, "f");
        assert!(a.text.contains("0 sessions this week"), "{}", a.text);
        assert!(a.text.contains("streak"), "{}", a.text);
    }

    #[test]
    fn a_streak_is_praised_with_figures() {
        let p = Progress {
            sessions_this_week: 5,
            current_streak: 4,
            minutes_this_week: 125,
            sessions_today: 1,
            ..Default::default()
        };
        let a = advise(&p, &catalog());
        assert_eq!(a.activity_id, "f");
        assert!(
            a.text.contains("5 sessions this week") && a.text.contains("4 days"),
            "{}",
            a.text
        );
        assert!(a.text.contains("Great"), "{}", a.text);
    }

    #[test]
    fn many_focus_sessions_today_suggest_the_shortest_break() {
        let p = Progress {
            sessions_this_week: 6,
            focus_today: 4,
            sessions_today: 4,
            current_streak: 2,
            ..Default::default()
        };
        let a = advise(&p, &catalog());
        assert_eq!(a.activity_id, "b5");
        assert!(a.text.contains("4 focus sessions today"), "{}", a.text);
    }

    #[test]
    fn an_empty_catalog_still_answers() {
        let a = advise(&Progress::default(), &[]);
        assert!(a.activity_id.is_empty());
        assert!(!a.text.is_empty());
    }
}
