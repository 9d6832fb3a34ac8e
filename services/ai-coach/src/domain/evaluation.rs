//! Practice evaluations (seed 002): the rubric (`rubrics/practice.v1.json`, versioned), the JSON
//! schema the model's evaluation must follow (generated from the rubric), the check of the
//! model's output, and the rules evaluator that scores a transcript from its features when no
//! model answers.
//!
//! The rules evaluator, per dimension (every score clamped to 0–100; "answers" are the user's
//! messages, "rate" is per 100 words):
//! - clarity_structure = 35 + 40 × (share of answers with a structure marker) + length bonus
//!   (15 when the mean answer is 40–200 words, 5 when 15–40 or 200–300);
//! - relevance_focus = 40 + 60 × (mean share of the question's content words the answer reuses,
//!   doubled, at most 1) − 15 when fewer than half the answers reach 15 words;
//! - confidence_delivery = 80 − 6 × hedge rate − 3 × filler rate + 15 × (share of answers with a
//!   number) − 20 when the mean answer is under 15 words;
//! - language_quality = 90 − 8 × filler rate − 25 × (share of repeated words beyond 35 %) − 10 when
//!   an answer shouts (an all-caps word of 4+ letters or "!!");
//! - tone_alignment = 85 − 10 × slang words − 5 × exclamation marks (at most 30 off) − 3 × filler
//!   rate, +5 per politeness marker (at most 10) — for every tone but a "casual" one, where slang
//!   costs nothing;
//! - a context dimension = 30 + 60 × (share of answers with one of its markers) + 10 when its
//!   markers were hit in two answers or more.
//!
//! Improvement areas: the dimensions under 70, lowest first, at most 3 and at least 2 (the two
//! lowest when all are 70+), with the rubric's wording. Deterministic: the same transcript gives
//! the same evaluation.

use std::{collections::BTreeMap, sync::LazyLock};

use serde::Deserialize;
use serde_json::{Value, json};

use super::practice::{Message, PrepType, Role};

/// The improvement areas an evaluation names at most (seed 002).
pub const MAX_AREAS: usize = 3;
pub const MAX_SUGGESTIONS: usize = 5;
/// Bounds on the model's texts.
pub const MAX_AREA_TEXT: usize = 300;
pub const MAX_SUMMARY: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct Rubric {
    pub version: String,
    pub universal_weight: f64,
    labels: Vec<LabelBound>,
    pub universal: Vec<Dimension>,
    pub context: BTreeMap<String, Vec<Dimension>>,
}

#[derive(Debug, Deserialize)]
struct LabelBound {
    min: i32,
    label: String,
}

#[derive(Debug, Deserialize)]
pub struct Dimension {
    pub key: String,
    pub title: String,
    pub description: String,
    pub improvement: String,
    pub suggestion: String,
    pub markers: Vec<String>,
}

/// The current rubric. A malformed file fails the unit tests (`the_rubric_parses`), never a call.
pub static RUBRIC: LazyLock<Option<Rubric>> =
    LazyLock::new(|| serde_json::from_str(include_str!("../../rubrics/practice.v1.json")).ok());

impl Rubric {
    /// The label of a score: the first bound (highest first) it reaches.
    pub fn label(&self, score: i32) -> String {
        self.labels
            .iter()
            .find(|b| score >= b.min)
            .map(|b| b.label.clone())
            .unwrap_or_default()
    }

    /// The context dimensions of a preparation type.
    pub fn context(&self, prep: PrepType) -> &[Dimension] {
        self.context
            .get(prep.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every dimension a session of `prep` is scored on, universal first, with its kind.
    pub fn dimensions(&self, prep: PrepType) -> impl Iterator<Item = (&Dimension, Kind)> {
        self.universal
            .iter()
            .map(|d| (d, Kind::Universal))
            .chain(self.context(prep).iter().map(|d| (d, Kind::Context)))
    }

    fn dimension(&self, prep: PrepType, key: &str) -> Option<(&Dimension, Kind)> {
        self.dimensions(prep).find(|(d, _)| d.key == key)
    }

    /// The JSON schema of the model's evaluation for `prep` (OpenAI strict structured output:
    /// every property required, no others).
    pub fn schema(&self, prep: PrepType) -> Value {
        let keys: Vec<&str> = self.dimensions(prep).map(|(d, _)| d.key.as_str()).collect();
        let scores: serde_json::Map<String, Value> = keys
            .iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    json!({"type": "integer", "minimum": 0, "maximum": 100}),
                )
            })
            .collect();
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["dimension_scores", "improvement_areas", "practice_suggestions", "summary"],
            "properties": {
                "dimension_scores": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": keys,
                    "properties": scores,
                },
                "improvement_areas": {
                    "type": "array",
                    "maxItems": MAX_AREAS,
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["dimension", "area", "suggestion"],
                        "properties": {
                            "dimension": {"type": "string", "enum": keys},
                            "area": {"type": "string", "minLength": 1, "maxLength": MAX_AREA_TEXT},
                            "suggestion": {"type": "string", "minLength": 1, "maxLength": MAX_AREA_TEXT},
                        },
                    },
                },
                "practice_suggestions": {
                    "type": "array",
                    "maxItems": MAX_SUGGESTIONS,
                    "items": {"type": "string", "minLength": 1, "maxLength": MAX_AREA_TEXT},
                },
                "summary": {"type": "string", "maxLength": MAX_SUMMARY},
            },
        })
    }

    /// The rubric as the model reads it: one line per dimension, with its description.
    pub fn describe(&self, prep: PrepType) -> String {
        self.dimensions(prep)
            .map(|(d, _)| format!("- {} ({}): {}", d.key, d.title, d.description))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// overall = w × mean(universal) + (1 − w) × mean(context); mean(universal) alone when the
    /// type has no context dimension.
    pub fn overall(&self, scores: &[Score]) -> i32 {
        let mean = |kind: Kind| {
            let v: Vec<f64> = scores
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| f64::from(s.score))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let value = match (mean(Kind::Universal), mean(Kind::Context)) {
            (Some(u), Some(c)) => self.universal_weight * u + (1.0 - self.universal_weight) * c,
            (Some(u), None) => u,
            (None, Some(c)) => c,
            (None, None) => 0.0,
        };
        clamp(value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Universal,
    Context,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Universal => "universal",
            Self::Context => "context",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "universal" => Some(Self::Universal),
            "context" => Some(Self::Context),
            _ => None,
        }
    }

    pub fn to_proto(self) -> i32 {
        match self {
            Self::Universal => 1,
            Self::Context => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    pub dimension: String,
    pub title: String,
    pub kind: Kind,
    pub score: i32,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Area {
    pub dimension: String,
    pub area: String,
    pub suggestion: String,
}

/// An evaluation, from the model or the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub scores: Vec<Score>,
    pub overall: i32,
    pub overall_label: String,
    pub areas: Vec<Area>,
    pub suggestions: Vec<String>,
    pub summary: String,
    pub rubric_version: String,
}

/// The model's reply, as the schema shapes it.
#[derive(Clone, Debug, Deserialize)]
pub struct ModelEvaluation {
    pub dimension_scores: BTreeMap<String, i64>,
    pub improvement_areas: Vec<Area>,
    pub practice_suggestions: Vec<String>,
    pub summary: String,
}

/// Checks the model's evaluation against the rubric (the schema's rules, again, in code: the
/// model is never trusted) and builds the evaluation; the error says what is wrong, for the
/// repair request.
pub fn from_model(
    rubric: &Rubric,
    prep: PrepType,
    m: ModelEvaluation,
) -> Result<Evaluation, String> {
    let mut scores = Vec::new();
    for (d, kind) in rubric.dimensions(prep) {
        let Some(&raw) = m.dimension_scores.get(&d.key) else {
            return Err(format!("dimension_scores.{} is missing", d.key));
        };
        let score = i32::try_from(raw)
            .ok()
            .filter(|s| (0..=100).contains(s))
            .ok_or_else(|| format!("dimension_scores.{} must be between 0 and 100", d.key))?;
        scores.push(score_of(rubric, d, kind, score));
    }
    if let Some(extra) = m
        .dimension_scores
        .keys()
        .find(|k| rubric.dimension(prep, k).is_none())
    {
        return Err(format!(
            "dimension_scores.{extra} is not a dimension of this rubric"
        ));
    }
    if m.improvement_areas.len() > MAX_AREAS {
        return Err(format!(
            "improvement_areas must have at most {MAX_AREAS} items"
        ));
    }
    for (i, a) in m.improvement_areas.iter().enumerate() {
        if rubric.dimension(prep, &a.dimension).is_none() {
            return Err(format!(
                "improvement_areas[{i}].dimension is not a dimension of this rubric"
            ));
        }
        if bad_text(&a.area) || bad_text(&a.suggestion) {
            return Err(format!(
                "improvement_areas[{i}] needs an area and a suggestion of 1 to {MAX_AREA_TEXT} characters"
            ));
        }
    }
    if m.practice_suggestions.len() > MAX_SUGGESTIONS
        || m.practice_suggestions.iter().any(|s| bad_text(s))
    {
        return Err(format!(
            "practice_suggestions must have at most {MAX_SUGGESTIONS} items of 1 to {MAX_AREA_TEXT} characters"
        ));
    }
    if m.summary.chars().count() > MAX_SUMMARY || m.summary.contains('\0') {
        return Err(format!("summary must be at most {MAX_SUMMARY} characters"));
    }
    let overall = rubric.overall(&scores);
    Ok(Evaluation {
        overall,
        overall_label: rubric.label(overall),
        scores,
        areas: m.improvement_areas,
        suggestions: m.practice_suggestions,
        summary: m.summary.trim().to_owned(),
        rubric_version: rubric.version.clone(),
    })
}

fn bad_text(s: &str) -> bool {
    s.trim().is_empty() || s.chars().count() > MAX_AREA_TEXT || s.chars().any(char::is_control)
}

fn score_of(rubric: &Rubric, d: &Dimension, kind: Kind, score: i32) -> Score {
    Score {
        dimension: d.key.clone(),
        title: d.title.clone(),
        kind,
        score,
        label: rubric.label(score),
    }
}

fn clamp(v: f64) -> i32 {
    // Finite and within 0..=100 after the clamp: the cast cannot truncate.
    if v.is_nan() {
        0
    } else {
        v.round().clamp(0.0, 100.0) as i32
    }
}

const STRUCTURE: &[&str] = &[
    "first",
    "firstly",
    "second",
    "then",
    "next",
    "finally",
    "because",
    "therefore",
    "so",
    "result",
    "example",
    "instance",
    "lastly",
    "overall",
    "conclusion",
];
const FILLERS: &[&str] = &[
    "um",
    "uh",
    "erm",
    "like",
    "basically",
    "actually",
    "literally",
    "whatever",
];
const FILLER_PHRASES: &[&str] = &["you know", "sort of", "kind of", "i mean"];
const HEDGES: &[&str] = &[
    "maybe",
    "perhaps",
    "probably",
    "guess",
    "hopefully",
    "possibly",
];
const HEDGE_PHRASES: &[&str] = &["i think", "not sure", "i believe", "i feel like"];
const SLANG: &[&str] = &[
    "gonna", "wanna", "gotta", "yeah", "nope", "dude", "cool", "stuff", "lol", "awesome",
];
const POLITE: &[&str] = &["thank", "thanks", "appreciate", "please", "glad"];
const STOP: &[&str] = &[
    "about", "after", "again", "also", "been", "before", "being", "could", "does", "from", "have",
    "into", "just", "made", "make", "more", "most", "other", "over", "some", "such", "than",
    "that", "their", "them", "then", "there", "these", "they", "this", "time", "very", "want",
    "were", "what", "when", "where", "which", "while", "will", "with", "would", "your", "you",
    "tell",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn count_words(ws: &[String], list: &[&str]) -> usize {
    ws.iter().filter(|w| list.contains(&w.as_str())).count()
}

fn count_phrases(text: &str, list: &[&str]) -> usize {
    let lower = format!(" {} ", words(text).join(" "));
    list.iter()
        .map(|p| lower.matches(&format!(" {p} ")).count())
        .sum()
}

fn content(ws: &[String]) -> Vec<&str> {
    ws.iter()
        .map(String::as_str)
        .filter(|w| w.chars().count() >= 4 && !STOP.contains(w))
        .collect()
}

fn per_100(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

/// The rules evaluator (see the module comment for the formulas).
pub fn rules(rubric: &Rubric, prep: PrepType, tone: &str, transcript: &[Message]) -> Evaluation {
    // Each answer with the coach message before it (its question).
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut question = "";
    for m in transcript {
        match m.role {
            Role::Coach => question = &m.text,
            Role::User => pairs.push((question, &m.text)),
        }
    }
    let n = pairs.len().max(1) as f64;
    let answer_words: Vec<Vec<String>> = pairs.iter().map(|(_, a)| words(a)).collect();
    let total: usize = answer_words.iter().map(Vec::len).sum();
    let mean_len = total as f64 / n;
    let share = |f: &dyn Fn(usize) -> bool| (0..pairs.len()).filter(|&i| f(i)).count() as f64 / n;
    let all_text: String = pairs
        .iter()
        .map(|(_, a)| *a)
        .collect::<Vec<_>>()
        .join(" \n ");
    let all_words: Vec<String> = answer_words.concat();

    let fillers = count_words(&all_words, FILLERS) + count_phrases(&all_text, FILLER_PHRASES);
    let hedges = count_words(&all_words, HEDGES) + count_phrases(&all_text, HEDGE_PHRASES);
    let filler_rate = per_100(fillers, total);
    let hedge_rate = per_100(hedges, total);
    let structured = share(&|i| {
        answer_words
            .get(i)
            .is_some_and(|w| count_words(w, STRUCTURE) > 0)
    });
    let with_number = share(&|i| {
        pairs
            .get(i)
            .is_some_and(|(_, a)| a.chars().any(|c| c.is_ascii_digit()))
    });
    let substantial = share(&|i| answer_words.get(i).is_some_and(|w| w.len() >= 15));
    let overlap: f64 = pairs
        .iter()
        .zip(&answer_words)
        .map(|((q, _), a)| {
            let qw = words(q);
            let qc = content(&qw);
            if qc.is_empty() {
                return 0.5;
            }
            let ac = content(a);
            // A shared 5-letter stem counts ("lead" / "leading").
            let hit = qc
                .iter()
                .filter(|w| {
                    let stem: String = w.chars().take(5).collect();
                    ac.iter().any(|x| x.starts_with(&stem))
                })
                .count();
            hit as f64 / qc.len() as f64
        })
        .sum::<f64>()
        / n;
    let distinct = {
        let mut v: Vec<&String> = all_words.iter().collect();
        v.sort();
        v.dedup();
        v.len()
    };
    let repeated = if total == 0 {
        0.0
    } else {
        1.0 - distinct as f64 / total as f64
    };
    let shouts = all_text.contains("!!")
        || all_text
            .split_whitespace()
            .any(|w| w.chars().count() >= 4 && w.chars().all(|c| c.is_ascii_uppercase()));
    let slang = count_words(&all_words, SLANG);
    let exclamations = all_text.matches('!').count();
    let polite = count_words(&all_words, POLITE);
    let casual = tone.to_lowercase().contains("casual");

    let length_bonus = match mean_len {
        l if (40.0..=200.0).contains(&l) => 15.0,
        l if (15.0..40.0).contains(&l) || (200.0..=300.0).contains(&l) => 5.0,
        _ => 0.0,
    };
    let universal = [
        ("clarity_structure", 35.0 + 40.0 * structured + length_bonus),
        (
            "relevance_focus",
            40.0 + 60.0 * (overlap * 2.0).min(1.0) - if substantial < 0.5 { 15.0 } else { 0.0 },
        ),
        (
            "confidence_delivery",
            80.0 - 6.0 * hedge_rate - 3.0 * filler_rate + 15.0 * with_number
                - if mean_len < 15.0 { 20.0 } else { 0.0 },
        ),
        (
            "language_quality",
            90.0 - 8.0 * filler_rate
                - 25.0 * (repeated - 0.35).max(0.0) / 0.65 * 1.0
                - if shouts { 10.0 } else { 0.0 },
        ),
        (
            "tone_alignment",
            85.0 - if casual { 0.0 } else { 10.0 * slang as f64 }
                - (5.0 * exclamations as f64).min(30.0)
                - 3.0 * filler_rate
                + (5.0 * polite as f64).min(10.0),
        ),
    ];
    let mut scores: Vec<Score> = Vec::new();
    for (d, kind) in rubric.dimensions(prep) {
        let value = match kind {
            Kind::Universal => universal
                .iter()
                .find(|(k, _)| *k == d.key)
                .map(|(_, v)| *v)
                .unwrap_or(50.0),
            Kind::Context => {
                let markers: Vec<&str> = d.markers.iter().map(String::as_str).collect();
                let hits = answer_words
                    .iter()
                    .filter(|w| count_words(w, &markers) > 0)
                    .count();
                30.0 + 60.0 * hits as f64 / n + if hits >= 2 { 10.0 } else { 0.0 }
            }
        };
        scores.push(score_of(rubric, d, kind, clamp(value)));
    }
    let overall = rubric.overall(&scores);
    let areas = rules_areas(rubric, prep, &scores);
    let suggestions = areas.iter().map(|a| a.suggestion.clone()).collect();
    let summary = format!(
        "{} answers, {} words each on average; {} filler and {} hedge words per 100 words.",
        pairs.len(),
        mean_len.round(),
        filler_rate.round(),
        hedge_rate.round()
    );
    Evaluation {
        overall,
        overall_label: rubric.label(overall),
        scores,
        areas,
        suggestions,
        summary,
        rubric_version: rubric.version.clone(),
    }
}

/// The dimensions under 70, lowest first (rubric order on ties), at most 3, at least 2.
fn rules_areas(rubric: &Rubric, prep: PrepType, scores: &[Score]) -> Vec<Area> {
    let mut ranked: Vec<(usize, &Score)> = scores.iter().enumerate().collect();
    ranked.sort_by_key(|(i, s)| (s.score, *i));
    let weak = ranked.iter().filter(|(_, s)| s.score < 70).count();
    ranked
        .into_iter()
        .take(weak.clamp(2, MAX_AREAS))
        .filter_map(|(_, s)| rubric.dimension(prep, &s.dimension))
        .map(|(d, _)| Area {
            dimension: d.key.clone(),
            area: d.improvement.clone(),
            suggestion: d.suggestion.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rubric() -> &'static Rubric {
        RUBRIC.as_ref().expect("the rubric parses")
    }

    fn session(answers: &[&str]) -> Vec<Message> {
        let mut t = Vec::new();
        for (i, (q, a)) in PrepType::Interview.questions().zip(answers).enumerate() {
            let turn = i32::try_from(i).unwrap();
            t.push(Message {
                role: Role::Coach,
                text: q.into(),
                turn,
            });
            t.push(Message {
                role: Role::User,
                text: (*a).into(),
                turn: turn + 1,
            });
        }
        t
    }

    const STRONG: [&str; 3] = [
        "I am a backend engineer with six years of experience. First, I built payment systems at a fintech; then I led a team of four. As a result, this role fits my experience with distributed systems and the skills the team needs.",
        "In my last role the situation was a migration due in three weeks. My task was to move 40 services. The action I took was to split the work into waves and automate the checks, because manual checks were too slow. The result: we delivered two days early with zero downtime.",
        "A colleague and I disagreed on the API design. First, I listened to their concerns; then we wrote down both options with their costs. Because we compared them on data, we chose a hybrid, and the outcome was a 30 percent smaller change. I learned to decide with numbers.",
    ];
    const WEAK: [&str; 3] = [
        "um yeah I guess I like stuff",
        "maybe I did like a project, you know, basically it was cool",
        "I think it was ok lol!!",
    ];

    #[test]
    fn the_rubric_parses_and_every_type_has_context_dimensions() {
        let r = rubric();
        assert_eq!(r.version, "practice.v1");
        assert_eq!(
            r.universal
                .iter()
                .map(|d| d.key.as_str())
                .collect::<Vec<_>>(),
            [
                "clarity_structure",
                "relevance_focus",
                "confidence_delivery",
                "language_quality",
                "tone_alignment"
            ]
        );
        for t in PrepType::ALL {
            assert!(!r.context(t).is_empty(), "{t:?}");
            for d in r.context(t) {
                assert!(!d.markers.is_empty(), "{}", d.key);
            }
        }
    }

    #[test]
    fn labels_follow_the_bounds() {
        let r = rubric();
        assert_eq!(r.label(100), "strong");
        assert_eq!(r.label(80), "strong");
        assert_eq!(r.label(79), "solid");
        assert_eq!(r.label(60), "solid");
        assert_eq!(r.label(59), "developing");
        assert_eq!(r.label(40), "developing");
        assert_eq!(r.label(39), "needs_work");
        assert_eq!(r.label(0), "needs_work");
    }

    #[test]
    fn the_overall_score_weights_universal_and_context() {
        let r = rubric();
        let s = |kind, score| Score {
            dimension: String::new(),
            title: String::new(),
            kind,
            score,
            label: String::new(),
        };
        let scores = [
            s(Kind::Universal, 80),
            s(Kind::Universal, 60),
            s(Kind::Context, 40),
        ];
        // 0.7 × 70 + 0.3 × 40 = 61
        assert_eq!(r.overall(&scores), 61);
        assert_eq!(r.overall(&scores[..2]), 70);
    }

    #[test]
    fn the_rules_score_a_structured_concrete_session_above_a_vague_one() {
        let r = rubric();
        let strong = rules(
            r,
            PrepType::Interview,
            "Professional & Confident",
            &session(&STRONG),
        );
        let weak = rules(
            r,
            PrepType::Interview,
            "Professional & Confident",
            &session(&WEAK),
        );
        assert!(strong.overall >= 70, "{strong:#?}");
        assert!(weak.overall < 50, "{weak:#?}");
        for (a, b) in strong.scores.iter().zip(&weak.scores) {
            assert!(
                a.score > b.score,
                "{} {} vs {}",
                a.dimension,
                a.score,
                b.score
            );
        }
        assert_eq!(strong.scores.len(), 7);
        assert!(
            strong
                .scores
                .iter()
                .any(|s| s.dimension == "star_structure" && s.kind == Kind::Context)
        );
        assert_eq!(strong.rubric_version, "practice.v1");
    }

    #[test]
    fn the_rules_name_two_or_three_improvement_areas_lowest_first() {
        let r = rubric();
        let weak = rules(
            r,
            PrepType::Interview,
            "Professional & Confident",
            &session(&WEAK),
        );
        assert_eq!(weak.areas.len(), 3);
        let score = |d: &str| weak.scores.iter().find(|s| s.dimension == d).unwrap().score;
        assert!(score(&weak.areas[0].dimension) <= score(&weak.areas[1].dimension));
        assert_eq!(weak.suggestions.len(), 3);
        let strong = rules(
            r,
            PrepType::Interview,
            "Professional & Confident",
            &session(&STRONG),
        );
        assert!((2..=3).contains(&strong.areas.len()));
    }

    #[test]
    fn fillers_hedges_and_slang_cost_their_dimensions() {
        let r = rubric();
        let base = "I led the migration of 40 services and we delivered on time because we planned the waves first";
        let clean = rules(
            r,
            PrepType::Other,
            "Professional",
            &session(&[base, base, base]),
        );
        let filler = format!("um like {base} you know basically");
        let filled = rules(
            r,
            PrepType::Other,
            "Professional",
            &session(&[&filler, &filler, &filler]),
        );
        let get =
            |e: &Evaluation, d: &str| e.scores.iter().find(|s| s.dimension == d).unwrap().score;
        assert!(get(&filled, "language_quality") < get(&clean, "language_quality"));
        let slangy = format!("yeah gonna say {base} cool");
        let casual = rules(
            r,
            PrepType::Other,
            "Casual & friendly",
            &session(&[&slangy, &slangy, &slangy]),
        );
        let formal = rules(
            r,
            PrepType::Other,
            "Professional",
            &session(&[&slangy, &slangy, &slangy]),
        );
        assert!(get(&formal, "tone_alignment") < get(&casual, "tone_alignment"));
    }

    #[test]
    fn the_rules_are_deterministic() {
        let r = rubric();
        let t = session(&STRONG);
        assert_eq!(
            rules(r, PrepType::Pitch, "x", &t),
            rules(r, PrepType::Pitch, "x", &t)
        );
    }

    fn model_reply(prep: PrepType) -> serde_json::Value {
        let r = rubric();
        let scores: serde_json::Map<String, serde_json::Value> = r
            .dimensions(prep)
            .map(|(d, _)| (d.key.clone(), json!(75)))
            .collect();
        json!({
            "dimension_scores": scores,
            "improvement_areas": [{"dimension": "clarity_structure", "area": "Lead with the point", "suggestion": "Say the conclusion first"}],
            "practice_suggestions": ["Answer two questions with STAR"],
            "summary": "Solid session."
        })
    }

    #[test]
    fn a_valid_model_evaluation_is_taken_and_scored_by_the_rubric() {
        let r = rubric();
        let m: ModelEvaluation = serde_json::from_value(model_reply(PrepType::Sales)).unwrap();
        let e = from_model(r, PrepType::Sales, m).unwrap();
        assert_eq!(e.overall, 75);
        assert_eq!(e.overall_label, "solid");
        assert_eq!(e.scores.len(), 7);
        assert_eq!(e.areas.len(), 1);
    }

    #[test]
    fn invalid_model_evaluations_are_refused_with_the_reason() {
        let r = rubric();
        let bad = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = model_reply(PrepType::Interview);
            f(&mut v);
            let m: ModelEvaluation = serde_json::from_value(v).unwrap();
            from_model(r, PrepType::Interview, m).unwrap_err()
        };
        assert!(bad(&|v| v["dimension_scores"]["role_fit"] = json!(101)).contains("role_fit"));
        assert!(
            bad(&|v| {
                v["dimension_scores"]
                    .as_object_mut()
                    .unwrap()
                    .remove("star_structure");
            })
            .contains("star_structure is missing")
        );
        assert!(
            bad(&|v| v["dimension_scores"]["objection_handling"] = json!(50))
                .contains("objection_handling")
        );
        assert!(
            bad(&|v| v["improvement_areas"][0]["dimension"] = json!("charisma"))
                .contains("improvement_areas[0]")
        );
        let area = json!({"dimension": "clarity_structure", "area": "a", "suggestion": "b"});
        assert!(
            bad(&|v| v["improvement_areas"] = json!([area, area, area, area]))
                .contains("at most 3")
        );
        assert!(
            bad(&|v| v["improvement_areas"][0]["area"] = json!("  "))
                .contains("improvement_areas[0]")
        );
    }

    #[test]
    fn the_schema_names_every_dimension_of_the_type() {
        let r = rubric();
        let s = r.schema(PrepType::Pitch);
        let required = s["properties"]["dimension_scores"]["required"]
            .as_array()
            .unwrap();
        assert_eq!(required.len(), 7);
        assert!(required.contains(&json!("value_proposition")));
        assert_eq!(s["properties"]["improvement_areas"]["maxItems"], json!(3));
    }
}
