//! The shutdown summary (seed 001): today's tasks, focus time against the goal, the daily
//! points formula and the clocked-out time.

use std::cmp::Ordering;

use time::OffsetDateTime;

/// The focus goal when the profile never told one (seed 001).
pub const DEFAULT_FOCUS_GOAL_MINUTES: i32 = 480;
/// How many of today's tasks the summary lists (seed 001: at most 10).
pub const LISTED_TASKS: usize = 10;

/// A task as the summary shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub task_id: String,
    pub title: String,
    pub priority: String,
    pub due_time: Option<OffsetDateTime>,
    pub completed: bool,
}

/// Seed 001's daily points: 10 + 5 × tasks completed + 15 when the focus goal is met +
/// min(2 × shutdown streak, 20). Negative inputs count as zero.
pub fn daily_points(tasks_completed: i64, focus_goal_met: bool, shutdown_streak: i32) -> i64 {
    let streak_bonus = (2 * i64::from(shutdown_streak.max(0))).min(20);
    10 + 5 * tasks_completed.max(0) + if focus_goal_met { 15 } else { 0 } + streak_bonus
}

/// Whether `focus_seconds` reach a goal of `goal_minutes`.
pub fn goal_met(focus_seconds: i64, goal_minutes: i32) -> bool {
    focus_seconds >= i64::from(goal_minutes) * 60
}

fn priority_rank(p: &str) -> u8 {
    match p {
        "high" => 0,
        "medium" => 1,
        "low" => 2,
        _ => 3,
    }
}

/// Today's tasks (open ones and those completed today) as listed: (completed, pending, the
/// first [`LISTED_TASKS`]) — pending first by due time (none last), then priority, then title;
/// completed after them by title.
pub fn today(mut tasks: Vec<Task>) -> (i64, i64, Vec<Task>) {
    let completed = tasks.iter().filter(|t| t.completed).count();
    let pending = tasks.len() - completed;
    tasks.sort_by(|a, b| {
        a.completed
            .cmp(&b.completed)
            .then_with(|| match (a.due_time, b.due_time) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| priority_rank(&a.priority).cmp(&priority_rank(&b.priority)))
            .then_with(|| a.title.cmp(&b.title))
            .then_with(|| a.task_id.cmp(&b.task_id))
    });
    tasks.truncate(LISTED_TASKS);
    (
        i64::try_from(completed).unwrap_or(i64::MAX),
        i64::try_from(pending).unwrap_or(i64::MAX),
        tasks,
    )
}

/// The clocked-out time as the seed shows it, "HH:MM" in `tz` (an unknown zone: UTC).
/// (jiff: the zone database the kit's `local_date` uses too.)
pub fn clocked_out(at: OffsetDateTime, tz: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => {
            let t = ts.to_zoned(zone).time();
            format!("{:02}:{:02}", t.hour(), t.minute())
        }
        Err(_) => format!("{:02}:{:02}", at.hour(), at.minute()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_points_formula() {
        // Nothing done: the base 10.
        assert_eq!(daily_points(0, false, 0), 10);
        // 3 tasks, goal met, a 4-day streak: 10 + 15 + 15 + 8.
        assert_eq!(daily_points(3, true, 4), 48);
        // The streak bonus caps at 20 (a 10-day streak reaches it).
        assert_eq!(daily_points(0, false, 10), 30);
        assert_eq!(daily_points(0, false, 365), 30);
        assert_eq!(daily_points(1, false, 9), 33);
        // Nonsense inputs count as zero.
        assert_eq!(daily_points(-4, false, -2), 10);
    }

    #[test]
    fn the_goal_is_met_at_exactly_the_goal() {
        assert!(goal_met(480 * 60, 480));
        assert!(!goal_met(480 * 60 - 1, 480));
        assert!(goal_met(0, 0));
    }

    fn task(id: &str, done: bool, due: Option<OffsetDateTime>, prio: &str) -> Task {
        Task {
            task_id: id.into(),
            title: id.into(),
            priority: prio.into(),
            due_time: due,
            completed: done,
        }
    }

    #[test]
    fn todays_list_puts_pending_first_and_stops_at_ten() {
        let due = datetime!(2026-06-01 17:00 UTC);
        let mut tasks = vec![
            task("done", true, None, "high"),
            task("later", false, None, "low"),
            task("urgent", false, Some(due), "low"),
            task("important", false, None, "high"),
        ];
        let (completed, pending, list) = today(tasks.clone());
        assert_eq!((completed, pending), (1, 3));
        let ids: Vec<&str> = list.iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["urgent", "important", "later", "done"]);
        for i in 0..12 {
            tasks.push(task(&format!("t{i:02}"), false, None, "medium"));
        }
        let (completed, pending, list) = today(tasks);
        assert_eq!((completed, pending, list.len()), (1, 15, LISTED_TASKS));
    }

    #[test]
    fn clocked_out_is_local_hours_and_minutes() {
        // 21:05 UTC is 23:05 in Paris in summer, 17:05 in New York.
        let at = datetime!(2026-06-01 21:05 UTC);
        assert_eq!(clocked_out(at, "Europe/Paris"), "23:05");
        assert_eq!(clocked_out(at, "America/New_York"), "17:05");
    }
}
