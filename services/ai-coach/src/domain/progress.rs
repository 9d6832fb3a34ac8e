//! The user's training read from their workout logs, pure (AnalyzeProgress, MotivationBoost,
//! AdaptiveWorkout, OptimizeCurrentPlan): frequency, consistency, the volume trend, plateaus,
//! adherence and the motivation tone it sets, and the recovery window.
//!
//! - Volume of a log: sets × reps × kg; body-weight work (no weight) counts sets × reps.
//! - Plateau: an exercise's last [`PLATEAU_SESSIONS`] or more logged days at the same top
//!   weight and reps.
//! - Consistency: the share of 7-day blocks of the window (from its first day) with a workout.
//! - Recovery window: muscles worked today or yesterday (local dates, ~48 h) rest.

use std::collections::{BTreeMap, BTreeSet};

use time::{Date, Duration};

/// Consecutive same-load sessions that make a plateau.
pub const PLATEAU_SESSIONS: usize = 3;
/// The longest window analysed, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// One workout log as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub date: Date,
    pub exercise_id: String,
    pub sets: u32,
    pub reps: u32,
    /// Per repetition; 0 for body-weight work.
    pub weight_kg: f64,
}

impl Log {
    pub fn volume(&self) -> f64 {
        let reps = f64::from(self.sets) * f64::from(self.reps);
        if self.weight_kg > 0.0 {
            reps * self.weight_kg
        } else {
            reps
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    pub exercise_id: String,
    pub sessions: usize,
    pub weight_kg: f64,
    pub reps: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub workouts: usize,
    pub training_days: usize,
    pub days_per_week: f64,
    pub consistency: f64,
    /// Second half's volume against the first's, in percent; None when the first half has none.
    pub volume_change_percent: Option<f64>,
    pub plateaus: Vec<Plateau>,
    pub insights: Vec<String>,
    pub suggestions: Vec<String>,
}

/// Days in `from..=to` (at least 1).
pub fn window_days(from: Date, to: Date) -> i64 {
    ((to - from).whole_days() + 1).max(1)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The plateaus in `logs`: per exercise, the run of logged days at the last day's top weight
/// and reps, when it is [`PLATEAU_SESSIONS`] days or longer.
pub fn plateaus(logs: &[Log]) -> Vec<Plateau> {
    // exercise → day → (top weight, reps at it)
    let mut days: BTreeMap<&str, BTreeMap<Date, (f64, u32)>> = BTreeMap::new();
    for l in logs {
        let top = days
            .entry(l.exercise_id.as_str())
            .or_default()
            .entry(l.date)
            .or_insert((l.weight_kg, l.reps));
        if l.weight_kg > top.0 || (l.weight_kg == top.0 && l.reps > top.1) {
            *top = (l.weight_kg, l.reps);
        }
    }
    let mut out = Vec::new();
    for (id, by_day) in days {
        let mut sessions = by_day.values().rev();
        let Some(&(weight, reps)) = sessions.next() else {
            continue;
        };
        let run = 1 + sessions
            .take_while(|(w, r)| (*w - weight).abs() < 0.01 && *r == reps)
            .count();
        if run >= PLATEAU_SESSIONS {
            out.push(Plateau {
                exercise_id: id.to_owned(),
                sessions: run,
                weight_kg: weight,
                reps,
            });
        }
    }
    out
}

/// The figures, insights and suggestions for the logs of `from..=to`; `name` names an exercise.
pub fn analyze(logs: &[Log], from: Date, to: Date, name: &dyn Fn(&str) -> String) -> Analysis {
    let logs: Vec<&Log> = logs
        .iter()
        .filter(|l| l.date >= from && l.date <= to)
        .collect();
    let days = window_days(from, to);
    let dates: BTreeSet<Date> = logs.iter().map(|l| l.date).collect();
    let weeks = days as f64 / 7.0;
    let days_per_week = round1(dates.len() as f64 / weeks);
    let blocks = (days + 6) / 7;
    let active_blocks = (0..blocks)
        .filter(|b| {
            let start = from + Duration::days(b * 7);
            let end = start + Duration::days(6);
            dates.range(start..=end).next().is_some()
        })
        .count();
    let consistency = round1(active_blocks as f64 / blocks.max(1) as f64 * 100.0) / 100.0;
    let mid = from + Duration::days(days / 2);
    let first: f64 = logs
        .iter()
        .filter(|l| l.date < mid)
        .map(|l| l.volume())
        .sum();
    let second: f64 = logs
        .iter()
        .filter(|l| l.date >= mid)
        .map(|l| l.volume())
        .sum();
    let volume_change_percent = (first > 0.0).then(|| round1((second - first) / first * 100.0));
    let owned: Vec<Log> = logs.iter().map(|l| (*l).clone()).collect();
    let plateaus = plateaus(&owned);

    let mut insights = Vec::new();
    let mut suggestions = Vec::new();
    if logs.is_empty() {
        insights.push(format!("No workout logged between {from} and {to}."));
        suggestions.push(
            "Log each workout (sets, reps and weight) so progress can be measured.".to_owned(),
        );
    } else {
        insights.push(format!(
            "{} training days in {days} days ({days_per_week} a week), {} exercises logged.",
            dates.len(),
            logs.len()
        ));
        insights.push(format!(
            "You trained in {active_blocks} of {blocks} weeks ({:.0}% consistency).",
            consistency * 100.0
        ));
        match volume_change_percent {
            Some(p) if p >= 5.0 => insights.push(format!(
                "Training volume rose {p}% from the first half of the period to the second."
            )),
            Some(p) if p <= -5.0 => insights.push(format!(
                "Training volume fell {}% from the first half of the period to the second.",
                -p
            )),
            Some(_) => insights.push("Training volume held steady across the period.".to_owned()),
            None => {}
        }
        for p in &plateaus {
            insights.push(format!(
                "{}: the last {} sessions at the same load ({} kg × {}).",
                name(&p.exercise_id),
                p.sessions,
                p.weight_kg,
                p.reps
            ));
        }
        if days_per_week < 2.0 {
            suggestions.push(
                "Aim for at least two training days a week; fixed days in the calendar help."
                    .to_owned(),
            );
        }
        if consistency < 0.75 && blocks > 1 {
            suggestions.push(
                "Some weeks had no workout: a short session beats none, keep the chain going."
                    .to_owned(),
            );
        }
        for p in &plateaus {
            suggestions.push(if p.weight_kg > 0.0 {
                format!(
                    "{}: add 2.5 kg, or one or two reps a set, next session.",
                    name(&p.exercise_id)
                )
            } else {
                format!(
                    "{}: add reps, a slower tempo or a harder variation.",
                    name(&p.exercise_id)
                )
            });
        }
        match volume_change_percent {
            Some(p) if p > 30.0 => suggestions.push(
                "Volume rose fast: keep increases near 10% a week to limit injury risk.".to_owned(),
            ),
            Some(p) if p < -20.0 => suggestions.push(
                "Volume dropped: if recovery or time is the reason, plan a lighter week on purpose."
                    .to_owned(),
            ),
            _ => {}
        }
        if suggestions.is_empty() {
            suggestions
                .push("Keep going: add a little load when the last set feels easy.".to_owned());
        }
    }
    Analysis {
        workouts: logs.len(),
        training_days: dates.len(),
        days_per_week,
        consistency,
        volume_change_percent,
        plateaus,
        insights,
        suggestions,
    }
}

/// How the user is keeping up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adherence {
    /// Training days in the last 7 days, today included.
    pub training_days_last_7: u32,
    /// The current plan's training days a week (0: no plan).
    pub planned_days_per_week: u32,
    pub days_since_last: Option<u32>,
    /// Consecutive training days ending today or yesterday.
    pub streak_days: u32,
}

/// Adherence from the dates trained (any order), as of `today`.
pub fn adherence(dates: &BTreeSet<Date>, today: Date, planned_days_per_week: u32) -> Adherence {
    let week_start = today - Duration::days(6);
    let last_7 = dates.range(week_start..=today).count();
    let last = dates.range(..=today).next_back().copied();
    let days_since_last = last.map(|d| u32::try_from((today - d).whole_days()).unwrap_or(0));
    let mut streak = 0u32;
    if let (Some(last), Some(0 | 1)) = (last, days_since_last) {
        let mut day = last;
        while dates.contains(&day) {
            streak += 1;
            day -= Duration::days(1);
        }
    }
    Adherence {
        training_days_last_7: u32::try_from(last_7).unwrap_or(u32::MAX),
        planned_days_per_week,
        days_since_last,
        streak_days: streak,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    WelcomeBack,
    Encouraging,
    Celebratory,
}

/// The tone: welcome back with no workout in a week (or ever); celebratory when the last 7
/// days meet the plan (or, without one, 3 training days); encouraging otherwise.
pub fn tone(a: &Adherence) -> Tone {
    match a.days_since_last {
        None => Tone::WelcomeBack,
        Some(d) if d >= 7 => Tone::WelcomeBack,
        _ => {
            let target = if a.planned_days_per_week > 0 {
                a.planned_days_per_week
            } else {
                3
            };
            if a.training_days_last_7 >= target {
                Tone::Celebratory
            } else {
                Tone::Encouraging
            }
        }
    }
}

/// The rules' message and tips for a tone.
pub fn motivation(a: &Adherence, tone: Tone) -> (String, Vec<String>) {
    let target = if a.planned_days_per_week > 0 {
        a.planned_days_per_week
    } else {
        3
    };
    match tone {
        Tone::WelcomeBack => (
            match a.days_since_last {
                None => "Every routine starts with one session: today is a good day for yours."
                    .to_owned(),
                Some(d) => format!(
                    "It has been {d} days since your last workout. No catching up needed: one easy session restarts the habit."
                ),
            },
            vec![
                "Start with 15–20 minutes at an easy effort.".to_owned(),
                "Put your next two sessions in the calendar now.".to_owned(),
                "Lay out your gear the evening before.".to_owned(),
            ],
        ),
        Tone::Encouraging => (
            format!(
                "{} of {target} training days this week so far. {} more and the week is yours.",
                a.training_days_last_7,
                target.saturating_sub(a.training_days_last_7)
            ),
            vec![
                "A short session counts: 20 minutes keeps the habit alive.".to_owned(),
                "Train at the same time of day to make it automatic.".to_owned(),
                "Log each workout to see the progress add up.".to_owned(),
            ],
        ),
        Tone::Celebratory => (
            if a.streak_days >= 2 {
                format!(
                    "{} training days this week and a {}-day streak: you are on track.",
                    a.training_days_last_7, a.streak_days
                )
            } else {
                format!(
                    "{} training days this week: you are on track.",
                    a.training_days_last_7
                )
            },
            vec![
                "Keep a rest day between hard sessions for the same muscles.".to_owned(),
                "Add a little load when the last set feels easy.".to_owned(),
                "Sleep 7–9 hours: that is when the gains are made.".to_owned(),
            ],
        ),
    }
}

/// The muscles to rest as of `today`: those worked by the exercises logged today or yesterday
/// (`muscles` gives an exercise's primary muscles).
pub fn recovering(
    logs: &[Log],
    today: Date,
    muscles: &dyn Fn(&str) -> Vec<String>,
) -> BTreeSet<String> {
    worked(logs, today - Duration::days(1), today, muscles)
}

/// The muscles (lowercase) worked by the exercises logged in `from..=to`.
pub fn worked(
    logs: &[Log],
    from: Date,
    to: Date,
    muscles: &dyn Fn(&str) -> Vec<String>,
) -> BTreeSet<String> {
    logs.iter()
        .filter(|l| l.date >= from && l.date <= to)
        .flat_map(|l| muscles(&l.exercise_id))
        .map(|m| m.to_lowercase())
        .collect()
}

/// The muscles of `all` not worked in the last 7 days (today included), for an adaptive
/// workout to favour; empty when nothing was logged in them (then the whole body is fair game).
pub fn undertrained(
    logs: &[Log],
    today: Date,
    all: &BTreeSet<String>,
    muscles: &dyn Fn(&str) -> Vec<String>,
) -> Vec<String> {
    let week = worked(logs, today - Duration::days(6), today, muscles);
    if week.is_empty() {
        return Vec::new();
    }
    all.iter().filter(|m| !week.contains(*m)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn log(date: Date, id: &str, reps: u32, kg: f64) -> Log {
        Log {
            date,
            exercise_id: id.into(),
            sets: 3,
            reps,
            weight_kg: kg,
        }
    }

    fn name(id: &str) -> String {
        id.replace('-', " ")
    }

    #[test]
    fn plateaus_are_runs_of_the_same_top_load() {
        let logs = vec![
            log(date!(2026 - 03 - 02), "bench", 8, 57.5),
            log(date!(2026 - 03 - 04), "bench", 8, 60.0),
            log(date!(2026 - 03 - 06), "bench", 8, 60.0),
            // A lighter back-off set the same day does not break the run.
            log(date!(2026 - 03 - 09), "bench", 12, 40.0),
            log(date!(2026 - 03 - 09), "bench", 8, 60.0),
            log(date!(2026 - 03 - 02), "squat", 5, 80.0),
            log(date!(2026 - 03 - 05), "squat", 5, 80.0),
            log(date!(2026 - 03 - 09), "squat", 5, 82.5),
        ];
        let p = plateaus(&logs);
        assert_eq!(
            p,
            vec![Plateau {
                exercise_id: "bench".into(),
                sessions: 3,
                weight_kg: 60.0,
                reps: 8
            }]
        );
        // Two sessions are not a plateau yet.
        assert!(plateaus(&logs[..3]).is_empty());
    }

    #[test]
    fn the_analysis_computes_frequency_consistency_and_trend() {
        let from = date!(2026 - 03 - 01);
        let to = date!(2026 - 03 - 28);
        let logs = vec![
            log(date!(2026 - 03 - 02), "row", 10, 20.0),
            log(date!(2026 - 03 - 04), "row", 10, 20.0),
            // Week 2 empty.
            log(date!(2026 - 03 - 16), "row", 10, 30.0),
            log(date!(2026 - 03 - 18), "row", 10, 30.0),
            log(date!(2026 - 03 - 25), "row", 10, 30.0),
            // Outside the window: ignored.
            log(date!(2026 - 04 - 01), "row", 10, 90.0),
        ];
        let a = analyze(&logs, from, to, &name);
        assert_eq!(a.workouts, 5);
        assert_eq!(a.training_days, 5);
        assert_eq!(a.days_per_week, 1.3);
        assert_eq!(a.consistency, 0.75);
        // First half 2 × 600, second half 3 × 900: +125%.
        assert_eq!(a.volume_change_percent, Some(125.0));
        assert_eq!(a.plateaus.len(), 1);
        let text = a.suggestions.join(" | ");
        assert!(text.contains("at least two training days"), "{text}");
        assert!(text.contains("row: add 2.5 kg"), "{text}");
        assert!(text.contains("near 10% a week"), "{text}");
        assert!(a.insights.iter().any(|i| i.contains("rose 125%")));
    }

    #[test]
    fn no_logs_is_an_answer_too() {
        let a = analyze(&[], date!(2026 - 03 - 01), date!(2026 - 03 - 07), &name);
        assert_eq!(a.workouts, 0);
        assert_eq!(a.consistency, 0.0);
        assert_eq!(a.volume_change_percent, None);
        assert!(a.insights[0].starts_with("No workout logged"));
    }

    #[test]
    fn adherence_sets_the_tone() {
        let today = date!(2026 - 03 - 10);
        let dates = |ds: &[Date]| ds.iter().copied().collect::<BTreeSet<_>>();
        let none = adherence(&BTreeSet::new(), today, 3);
        assert_eq!(none.days_since_last, None);
        assert_eq!(tone(&none), Tone::WelcomeBack);

        let lapsed = adherence(&dates(&[date!(2026 - 02 - 20)]), today, 0);
        assert_eq!(lapsed.days_since_last, Some(18));
        assert_eq!(tone(&lapsed), Tone::WelcomeBack);
        assert!(motivation(&lapsed, Tone::WelcomeBack).0.contains("18 days"));

        let behind = adherence(&dates(&[date!(2026 - 03 - 08)]), today, 4);
        assert_eq!(behind.training_days_last_7, 1);
        assert_eq!(tone(&behind), Tone::Encouraging);
        assert!(
            motivation(&behind, Tone::Encouraging)
                .0
                .starts_with("1 of 4")
        );

        let on_track = adherence(
            &dates(&[
                date!(2026 - 03 - 04),
                date!(2026 - 03 - 06),
                date!(2026 - 03 - 09),
                date!(2026 - 03 - 10),
            ]),
            today,
            3,
        );
        assert_eq!(on_track.training_days_last_7, 4);
        assert_eq!(on_track.streak_days, 2);
        assert_eq!(on_track.days_since_last, Some(0));
        assert_eq!(tone(&on_track), Tone::Celebratory);
        // Without a plan, three days a week is the bar.
        let two = adherence(
            &dates(&[date!(2026 - 03 - 06), date!(2026 - 03 - 09)]),
            today,
            0,
        );
        assert_eq!(two.streak_days, 1);
        assert_eq!(tone(&two), Tone::Encouraging);
    }

    #[test]
    fn the_recovery_window_is_today_and_yesterday() {
        let today = date!(2026 - 03 - 10);
        let logs = vec![
            log(today, "bench", 8, 60.0),
            log(date!(2026 - 03 - 09), "squat", 5, 80.0),
            log(date!(2026 - 03 - 08), "row", 10, 30.0),
        ];
        let muscles = |id: &str| match id {
            "bench" => vec!["Chest".to_owned()],
            "squat" => vec!["quadriceps".to_owned()],
            _ => vec!["lats".to_owned()],
        };
        let r = recovering(&logs, today, &muscles);
        assert_eq!(r, ["chest".to_owned(), "quadriceps".to_owned()].into());
        // Over the week, lats were trained too; abs were not.
        let all: BTreeSet<String> = ["abs", "chest", "lats", "quadriceps"]
            .map(String::from)
            .into();
        assert_eq!(undertrained(&logs, today, &all, &muscles), ["abs"]);
        assert!(undertrained(&[], today, &all, &muscles).is_empty());
    }
}
