//! Trends of practice evaluations (seed 002): per-dimension series, improvement velocity and
//! recurring improvement areas.
//!
//! - **Velocity**: the least-squares slope of score against time, in score points per week,
//!   over the evaluations in the window. Every evaluation weighs the same, whatever the gaps
//!   between them; fewer than two evaluations (or all at one instant) have no slope: 0.
//! - **Recurring improvement areas**: an area is recurring when at least [`RECURRING_MIN`]
//!   evaluations of the window named it; texts are compared ignoring case, spacing and trailing
//!   punctuation, an evaluation naming it twice counts once. Most frequent first, then most
//!   recently seen; at most [`RECURRING_MAX`].

use std::collections::{BTreeMap, HashMap};

use time::{Date, OffsetDateTime};

/// seed 002's universal dimensions, in the seed's order.
pub const UNIVERSAL: [&str; 5] = [
    "clarity_structure",
    "relevance_focus",
    "confidence_delivery",
    "language_quality",
    "tone_alignment",
];
/// The overall score's series name.
pub const OVERALL: &str = "overall";
pub const RECURRING_MIN: i32 = 2;
pub const RECURRING_MAX: usize = 10;
/// What one evaluation may carry; more is cut (a producer bug must not bloat the store).
pub const MAX_DIMENSIONS: usize = 32;
pub const MAX_AREAS: usize = 10;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_AREA_CHARS: usize = 500;

/// One evaluation as trends see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub practice_session_id: String,
    pub evaluate_time: OffsetDateTime,
    pub local_date: Date,
    pub overall: i32,
    /// (dimension, score 0..=100)
    pub scores: Vec<(String, i32)>,
    pub areas: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub practice_session_id: String,
    pub evaluate_time: OffsetDateTime,
    pub local_date: Date,
    pub score: i32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub dimension: String,
    pub points: Vec<Point>,
    pub average: f64,
    pub velocity_per_week: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Area {
    pub text: String,
    pub count: i32,
    pub last_seen: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Trends {
    pub series: Vec<Series>,
    pub improvement_velocity: f64,
    pub recurring: Vec<Area>,
}

/// Least-squares slope of `(time, score)` in score points per week; 0 without a slope.
pub fn velocity_per_week(points: &[(OffsetDateTime, i32)]) -> f64 {
    let Some(&(t0, _)) = points.first() else {
        return 0.0;
    };
    if points.len() < 2 {
        return 0.0;
    }
    let weeks = |t: OffsetDateTime| (t - t0).as_seconds_f64() / (7.0 * 86_400.0);
    let n = points.len() as f64;
    let mean_x = points.iter().map(|&(t, _)| weeks(t)).sum::<f64>() / n;
    let mean_y = points.iter().map(|&(_, s)| f64::from(s)).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(t, s) in points {
        let dx = weeks(t) - mean_x;
        sxy += dx * (f64::from(s) - mean_y);
        sxx += dx * dx;
    }
    if sxx <= f64::EPSILON {
        return 0.0;
    }
    round3(sxy / sxx)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The comparison key of an improvement area: lower case, single spaces, no trailing
/// punctuation.
pub fn area_key(text: &str) -> String {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    words
        .join(" ")
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .to_owned()
}

/// Keeps a score in 0..=100.
pub fn clamp_score(s: i32) -> i32 {
    s.clamp(0, 100)
}

/// A dimension name as stored: trimmed, lower case, at most [`MAX_NAME_CHARS`]; None when
/// empty or the reserved [`OVERALL`].
pub fn dimension_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    (!name.is_empty() && name != OVERALL).then_some(name)
}

/// The improvement areas as stored: trimmed, non-empty, each at most [`MAX_AREA_CHARS`], at
/// most [`MAX_AREAS`].
pub fn areas(raw: &[String]) -> Vec<String> {
    raw.iter()
        .map(|a| a.trim().chars().take(MAX_AREA_CHARS).collect::<String>())
        .filter(|a| !a.is_empty())
        .take(MAX_AREAS)
        .collect()
}

/// The trends of `evals` (any order).
pub fn trends(evals: &[Evaluation]) -> Trends {
    let mut evals: Vec<&Evaluation> = evals.iter().collect();
    evals.sort_by(|a, b| {
        (a.evaluate_time, &a.practice_session_id).cmp(&(b.evaluate_time, &b.practice_session_id))
    });

    let point = |e: &Evaluation, score: i32| Point {
        practice_session_id: e.practice_session_id.clone(),
        evaluate_time: e.evaluate_time,
        local_date: e.local_date,
        score,
    };
    let mut by_dim: BTreeMap<&str, Vec<Point>> = BTreeMap::new();
    for e in &evals {
        for (d, s) in &e.scores {
            by_dim.entry(d.as_str()).or_default().push(point(e, *s));
        }
    }
    let overall = series(OVERALL, evals.iter().map(|e| point(e, e.overall)).collect());
    let improvement_velocity = overall.velocity_per_week;
    let mut out = vec![overall];
    for u in UNIVERSAL {
        if let Some(points) = by_dim.remove(u) {
            out.push(series(u, points));
        }
    }
    out.extend(by_dim.into_iter().map(|(d, p)| series(d, p)));
    if evals.is_empty() {
        out.clear();
    }

    Trends {
        series: out,
        improvement_velocity,
        recurring: recurring(&evals),
    }
}

fn series(dimension: &str, points: Vec<Point>) -> Series {
    let n = points.len();
    let average = if n == 0 {
        0.0
    } else {
        round3(points.iter().map(|p| f64::from(p.score)).sum::<f64>() / n as f64)
    };
    let velocity_per_week = velocity_per_week(
        &points
            .iter()
            .map(|p| (p.evaluate_time, p.score))
            .collect::<Vec<_>>(),
    );
    Series {
        dimension: dimension.to_owned(),
        points,
        average,
        velocity_per_week,
    }
}

/// `evals` oldest first.
fn recurring(evals: &[&Evaluation]) -> Vec<Area> {
    let mut seen: HashMap<String, Area> = HashMap::new();
    for e in evals {
        let mut this_eval: Vec<String> = Vec::new();
        for text in &e.areas {
            let key = area_key(text);
            if key.is_empty() || this_eval.contains(&key) {
                continue;
            }
            this_eval.push(key.clone());
            let a = seen.entry(key).or_insert_with(|| Area {
                text: text.clone(),
                count: 0,
                last_seen: e.evaluate_time,
            });
            a.count += 1;
            // Oldest first: the latest wording wins.
            a.text = text.clone();
            a.last_seen = e.evaluate_time;
        }
    }
    let mut out: Vec<Area> = seen
        .into_values()
        .filter(|a| a.count >= RECURRING_MIN)
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.text.cmp(&b.text))
    });
    out.truncate(RECURRING_MAX);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Duration, macros::datetime};

    const T0: OffsetDateTime = datetime!(2026-01-05 18:00 UTC);

    fn eval(id: &str, days: i64, overall: i32, clarity: i32, areas: &[&str]) -> Evaluation {
        let t = T0 + Duration::days(days);
        Evaluation {
            practice_session_id: id.into(),
            evaluate_time: t,
            local_date: t.date(),
            overall,
            scores: vec![
                ("clarity_structure".into(), clarity),
                ("storytelling".into(), 50),
            ],
            areas: areas.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn velocity_is_the_least_squares_slope_per_week() {
        // +10 points a week, exactly.
        let pts = [
            (T0, 50),
            (T0 + Duration::weeks(1), 60),
            (T0 + Duration::weeks(2), 70),
        ];
        assert_eq!(velocity_per_week(&pts), 10.0);
        // Noisy: 50, 70, 60 over two weeks → slope 5.
        let pts = [
            (T0, 50),
            (T0 + Duration::weeks(1), 70),
            (T0 + Duration::weeks(2), 60),
        ];
        assert_eq!(velocity_per_week(&pts), 5.0);
        // Declining by 3 points per day = 21 per week.
        let pts = [
            (T0, 80),
            (T0 + Duration::days(1), 77),
            (T0 + Duration::days(2), 74),
        ];
        assert_eq!(velocity_per_week(&pts), -21.0);
    }

    #[test]
    fn no_slope_without_two_distinct_instants() {
        assert_eq!(velocity_per_week(&[]), 0.0);
        assert_eq!(velocity_per_week(&[(T0, 70)]), 0.0);
        assert_eq!(velocity_per_week(&[(T0, 70), (T0, 90)]), 0.0);
    }

    #[test]
    fn velocity_does_not_depend_on_input_order() {
        let a = [
            (T0, 50),
            (T0 + Duration::days(3), 65),
            (T0 + Duration::days(10), 60),
        ];
        let mut b = a;
        b.reverse();
        let sorted = |p: &[(OffsetDateTime, i32)]| {
            let mut v = p.to_vec();
            v.sort();
            velocity_per_week(&v)
        };
        assert_eq!(sorted(&a), sorted(&b));
    }

    #[test]
    fn series_come_overall_first_then_universal_then_others() {
        let t = trends(&[eval("b", 7, 70, 60, &[]), eval("a", 0, 60, 40, &[])]);
        let names: Vec<_> = t.series.iter().map(|s| s.dimension.as_str()).collect();
        assert_eq!(names, ["overall", "clarity_structure", "storytelling"]);
        let overall = &t.series[0];
        assert_eq!(overall.points[0].practice_session_id, "a", "oldest first");
        assert_eq!(overall.average, 65.0);
        assert_eq!(t.improvement_velocity, 10.0);
        assert_eq!(t.series[1].velocity_per_week, 20.0);
        assert_eq!(t.series[2].velocity_per_week, 0.0);
    }

    #[test]
    fn no_evaluations_no_series() {
        let t = trends(&[]);
        assert!(t.series.is_empty());
        assert_eq!(t.improvement_velocity, 0.0);
        assert!(t.recurring.is_empty());
    }

    #[test]
    fn recurring_areas_are_counted_once_per_evaluation_ignoring_case_and_spacing() {
        let t = trends(&[
            eval(
                "a",
                0,
                60,
                60,
                &["Pause before answering.", "pause  before answering"],
            ),
            eval("b", 1, 60, 60, &["Use metrics", "PAUSE before answering"]),
            eval("c", 2, 60, 60, &["use metrics!", "Speak slower"]),
            eval("d", 3, 60, 60, &["Use metrics"]),
        ]);
        let got: Vec<_> = t
            .recurring
            .iter()
            .map(|a| (a.text.as_str(), a.count))
            .collect();
        // "Speak slower" once: not recurring. Ties broken by the latest sighting.
        assert_eq!(got, [("Use metrics", 3), ("PAUSE before answering", 2)]);
        assert_eq!(t.recurring[0].last_seen, T0 + Duration::days(3));
    }

    #[test]
    fn recurring_areas_are_capped() {
        let evals: Vec<_> = (0..2)
            .map(|i| {
                let areas: Vec<String> = (0..12).map(|k| format!("area {k}")).collect();
                let refs: Vec<&str> = areas.iter().map(String::as_str).collect();
                eval(&format!("e{i}"), i, 50, 50, &refs)
            })
            .collect();
        assert_eq!(trends(&evals).recurring.len(), RECURRING_MAX);
    }

    #[test]
    fn names_and_areas_are_cleaned() {
        assert_eq!(
            dimension_name(" Clarity_Structure "),
            Some("clarity_structure".into())
        );
        assert_eq!(dimension_name("  "), None);
        assert_eq!(dimension_name("overall"), None);
        assert_eq!(
            dimension_name(&"x".repeat(100)).map(|n| n.len()),
            Some(MAX_NAME_CHARS)
        );
        let raw: Vec<String> = vec!["  a  ".into(), "".into(), "b".into()];
        assert_eq!(areas(&raw), ["a", "b"]);
        assert_eq!(area_key("  Use   Metrics!! "), "use metrics");
        assert_eq!(clamp_score(140), 100);
        assert_eq!(clamp_score(-3), 0);
    }
}
