//! The achievement catalogue, as data, and the pure rule that tells which are earned from a
//! user's counters (docs/rewards.md lists them). An achievement is unlocked once and for good:
//! a later correction that lowers a counter does not take it back.

use std::collections::HashMap;

use super::rewards::Kind;

/// What an achievement asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// At least `n` activities of any of `kinds`.
    Count(&'static [Kind], i64),
    /// At least `n` minutes in sessions of any of `kinds`.
    Minutes(&'static [Kind], i64),
    /// A run of at least `n` consecutive local days with activity that keeps a streak (a streak
    /// badge; the best run counts, so a badge earned stays earned).
    Streak(u32),
}

/// One achievement of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Achievement {
    /// Stable id: the ledger cause `achievement:<id>` and the API's `achievement_id`.
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub rule: Rule,
    /// Points (leaderboards) and XP (levels) it awards once.
    pub points: i32,
    pub xp: i32,
}

const SESSIONS: &[Kind] = &[
    Kind::FocusSession,
    Kind::BreakSession,
    Kind::WorkoutSession,
    Kind::StudySession,
    Kind::OtherSession,
];
const FOCUS: &[Kind] = &[Kind::FocusSession];
const STUDY: &[Kind] = &[Kind::StudySession];
const WORKOUTS: &[Kind] = &[Kind::WorkoutSession, Kind::WorkoutLogged];
const LESSONS: &[Kind] = &[Kind::LessonCompleted];
const TASKS: &[Kind] = &[Kind::TaskCompleted];
const REFLECTIONS: &[Kind] = &[Kind::ReflectionSubmitted];
const ROUTINES: &[Kind] = &[Kind::RoutineCompleted];
const CHALLENGES: &[Kind] = &[Kind::ChallengeCompleted];

/// The catalogue, in the order it is listed (seeds 000, 001 and 003).
pub const CATALOGUE: &[Achievement] = &[
    Achievement {
        id: "first_session",
        title: "First step",
        description: "Complete your first session",
        rule: Rule::Count(SESSIONS, 1),
        points: 10,
        xp: 20,
    },
    Achievement {
        id: "focus_10",
        title: "In the zone",
        description: "Complete 10 focus sessions",
        rule: Rule::Count(FOCUS, 10),
        points: 25,
        xp: 50,
    },
    Achievement {
        id: "focus_100_hours",
        title: "Deep worker",
        description: "Spend 100 hours in focus sessions",
        rule: Rule::Minutes(FOCUS, 6_000),
        points: 200,
        xp: 500,
    },
    Achievement {
        id: "study_10_hours",
        title: "Scholar",
        description: "Spend 10 hours in study sessions",
        rule: Rule::Minutes(STUDY, 600),
        points: 50,
        xp: 100,
    },
    Achievement {
        id: "first_workout",
        title: "Warmed up",
        description: "Complete or log your first workout",
        rule: Rule::Count(WORKOUTS, 1),
        points: 10,
        xp: 20,
    },
    Achievement {
        id: "workouts_25",
        title: "Regular",
        description: "Complete or log 25 workouts",
        rule: Rule::Count(WORKOUTS, 25),
        points: 50,
        xp: 100,
    },
    Achievement {
        id: "first_lesson",
        title: "Curious mind",
        description: "Complete your first lesson",
        rule: Rule::Count(LESSONS, 1),
        points: 10,
        xp: 20,
    },
    Achievement {
        id: "lessons_25",
        title: "Bookworm",
        description: "Complete 25 lessons",
        rule: Rule::Count(LESSONS, 25),
        points: 50,
        xp: 100,
    },
    Achievement {
        id: "tasks_50",
        title: "Getting things done",
        description: "Complete 50 tasks",
        rule: Rule::Count(TASKS, 50),
        points: 50,
        xp: 100,
    },
    Achievement {
        id: "first_shutdown",
        title: "Clocked out",
        description: "Submit your first shutdown reflection",
        rule: Rule::Count(REFLECTIONS, 1),
        points: 10,
        xp: 20,
    },
    Achievement {
        id: "first_routine",
        title: "Creature of habit",
        description: "Complete your first routine",
        rule: Rule::Count(ROUTINES, 1),
        points: 10,
        xp: 20,
    },
    Achievement {
        id: "first_challenge",
        title: "Challenger",
        description: "Complete your first challenge",
        rule: Rule::Count(CHALLENGES, 1),
        points: 10,
        xp: 20,
    },
    Achievement {
        id: "challenges_10",
        title: "Champion",
        description: "Complete 10 challenges",
        rule: Rule::Count(CHALLENGES, 10),
        points: 100,
        xp: 200,
    },
    Achievement {
        id: "streak_3",
        title: "On a roll",
        description: "Be active 3 days in a row",
        rule: Rule::Streak(3),
        points: 15,
        xp: 30,
    },
    Achievement {
        id: "streak_7",
        title: "Week streak",
        description: "Be active 7 days in a row",
        rule: Rule::Streak(7),
        points: 50,
        xp: 100,
    },
    Achievement {
        id: "streak_30",
        title: "Unstoppable",
        description: "Be active 30 days in a row",
        rule: Rule::Streak(30),
        points: 200,
        xp: 500,
    },
];

/// A user's counters: activities and minutes per kind, and their best streak.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub count: HashMap<Kind, i64>,
    pub minutes: HashMap<Kind, i64>,
    pub best_streak: u32,
}

impl Counters {
    fn sum(map: &HashMap<Kind, i64>, kinds: &[Kind]) -> i64 {
        kinds.iter().map(|k| map.get(k).copied().unwrap_or(0)).sum()
    }

    /// The counter a rule reads and the target it needs: (current, target).
    pub fn measure(&self, rule: Rule) -> (i64, i64) {
        match rule {
            Rule::Count(kinds, n) => (Self::sum(&self.count, kinds), n),
            Rule::Minutes(kinds, n) => (Self::sum(&self.minutes, kinds), n),
            Rule::Streak(n) => (i64::from(self.best_streak), i64::from(n)),
        }
    }
}

pub fn earned(a: &Achievement, c: &Counters) -> bool {
    let (current, target) = c.measure(a.rule);
    current >= target
}

/// The achievements `c` earns that are not in `unlocked` yet, in catalogue order.
pub fn newly_earned<'a>(c: &Counters, unlocked: &[String]) -> Vec<&'a Achievement> {
    CATALOGUE
        .iter()
        .filter(|a| !unlocked.iter().any(|u| u == a.id) && earned(a, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(pairs: &[(Kind, i64, i64)], best_streak: u32) -> Counters {
        let mut c = Counters {
            best_streak,
            ..Counters::default()
        };
        for (k, n, m) in pairs {
            c.count.insert(*k, *n);
            c.minutes.insert(*k, *m);
        }
        c
    }

    fn ids(c: &Counters, unlocked: &[&str]) -> Vec<&'static str> {
        let unlocked: Vec<String> = unlocked.iter().map(|s| (*s).to_owned()).collect();
        newly_earned(c, &unlocked).iter().map(|a| a.id).collect()
    }

    #[test]
    fn ids_are_unique_and_every_rule_has_a_positive_target() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE.iter().skip(i + 1).all(|b| b.id != a.id),
                "{}",
                a.id
            );
            assert!(Counters::default().measure(a.rule).1 > 0, "{}", a.id);
        }
    }

    #[test]
    fn nothing_done_earns_nothing() {
        assert!(ids(&Counters::default(), &[]).is_empty());
    }

    #[test]
    fn first_session_counts_any_kind_of_session() {
        let c = counters(&[(Kind::BreakSession, 1, 5)], 0);
        assert_eq!(ids(&c, &[]), vec!["first_session"]);
        assert!(ids(&c, &["first_session"]).is_empty());
    }

    #[test]
    fn focus_counts_and_hours() {
        let c = counters(&[(Kind::FocusSession, 9, 5_999)], 0);
        assert_eq!(ids(&c, &["first_session"]), Vec::<&str>::new());
        let c = counters(&[(Kind::FocusSession, 10, 6_000)], 0);
        assert_eq!(
            ids(&c, &["first_session"]),
            vec!["focus_10", "focus_100_hours"]
        );
        // Study minutes are not focus minutes.
        let c = counters(&[(Kind::StudySession, 1, 6_000)], 0);
        assert_eq!(ids(&c, &[]), vec!["first_session", "study_10_hours"]);
    }

    #[test]
    fn workouts_count_sessions_and_logs_together() {
        let c = counters(&[(Kind::WorkoutLogged, 1, 0)], 0);
        assert_eq!(ids(&c, &[]), vec!["first_workout"]);
        let c = counters(
            &[(Kind::WorkoutLogged, 20, 0), (Kind::WorkoutSession, 5, 100)],
            0,
        );
        assert_eq!(
            ids(&c, &["first_session", "first_workout"]),
            vec!["workouts_25"]
        );
    }

    #[test]
    fn lessons_tasks_reflections_routines_and_challenges() {
        let c = counters(
            &[
                (Kind::LessonCompleted, 25, 0),
                (Kind::TaskCompleted, 49, 0),
                (Kind::ReflectionSubmitted, 1, 0),
                (Kind::RoutineCompleted, 1, 0),
                (Kind::ChallengeCompleted, 10, 0),
            ],
            0,
        );
        assert_eq!(
            ids(&c, &[]),
            vec![
                "first_lesson",
                "lessons_25",
                "first_shutdown",
                "first_routine",
                "first_challenge",
                "challenges_10"
            ]
        );
        let c = counters(&[(Kind::TaskCompleted, 50, 0)], 0);
        assert_eq!(ids(&c, &[]), vec!["tasks_50"]);
    }

    #[test]
    fn streak_badges_follow_the_best_run() {
        assert!(ids(&counters(&[], 2), &[]).is_empty());
        assert_eq!(ids(&counters(&[], 3), &[]), vec!["streak_3"]);
        assert_eq!(ids(&counters(&[], 7), &["streak_3"]), vec!["streak_7"]);
        assert_eq!(
            ids(&counters(&[], 30), &[]),
            vec!["streak_3", "streak_7", "streak_30"]
        );
    }
}
