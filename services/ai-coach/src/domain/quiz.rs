//! Quizzes (seed 003), pure: validation of a model's questions, the rules' questions built from
//! a topic's lessons (cloze questions: a sentence with its key term blanked, the options the
//! other lessons' key terms), and scoring.

use serde::{Deserialize, Serialize};

pub const DEFAULT_QUESTIONS: usize = 5;
pub const MAX_QUESTIONS: usize = 20;
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 6;
const MAX_PROMPT_CHARS: usize = 500;
const MAX_OPTION_CHARS: usize = 200;
const MAX_EXPLANATION_CHARS: usize = 1000;
/// Marks an unanswered question in a submission.
pub const UNANSWERED: i32 = -1;

/// One multiple-choice question with its answer (kept from the caller until they submit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub prompt: String,
    pub options: Vec<String>,
    /// Index into `options`.
    pub correct: usize,
    #[serde(default)]
    pub explanation: String,
}

/// The shape the model is asked for (strict structured output).
#[derive(Clone, Debug, Deserialize)]
pub struct ModelQuiz {
    pub questions: Vec<Question>,
}

/// The JSON schema of [`ModelQuiz`].
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["questions"],
        "properties": {
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["prompt", "options", "correct", "explanation"],
                    "properties": {
                        "prompt": {"type": "string"},
                        "options": {"type": "array", "items": {"type": "string"}},
                        "correct": {"type": "integer", "minimum": 0},
                        "explanation": {"type": "string"}
                    }
                }
            }
        }
    })
}

/// The number of questions asked for: 0 means the default; 1..=20.
pub fn question_count(asked: i32) -> Result<usize, &'static str> {
    match asked {
        0 => Ok(DEFAULT_QUESTIONS),
        n if n < 0 => Err("must not be negative"),
        n => {
            let n = usize::try_from(n).map_err(|_| "is too large")?;
            if n > MAX_QUESTIONS {
                Err("must be at most 20")
            } else {
                Ok(n)
            }
        }
    }
}

/// Why a question is unusable, or Ok: a non-empty prompt, 2–6 distinct non-empty options,
/// exactly one correct (an index in range), bounded lengths.
pub fn validate(q: &Question) -> Result<(), String> {
    if q.prompt.trim().is_empty() {
        return Err("a question has an empty prompt".into());
    }
    if q.prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err("a question's prompt is too long".into());
    }
    if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&q.options.len()) {
        return Err(format!(
            "a question has {} options (2–6 are allowed)",
            q.options.len()
        ));
    }
    let mut seen: Vec<String> = Vec::with_capacity(q.options.len());
    for o in &q.options {
        let key = o.trim().to_lowercase();
        if key.is_empty() {
            return Err("a question has an empty option".into());
        }
        if o.chars().count() > MAX_OPTION_CHARS {
            return Err("a question's option is too long".into());
        }
        if seen.contains(&key) {
            return Err("a question has duplicate options".into());
        }
        seen.push(key);
    }
    if q.correct >= q.options.len() {
        return Err("a question's correct option is out of range".into());
    }
    if q.explanation.chars().count() > MAX_EXPLANATION_CHARS {
        return Err("a question's explanation is too long".into());
    }
    Ok(())
}

/// The model's quiz if it is exactly `wanted` valid questions, else why not.
pub fn accept(quiz: ModelQuiz, wanted: usize) -> Result<Vec<Question>, String> {
    if quiz.questions.len() != wanted {
        return Err(format!(
            "the model wrote {} questions, {wanted} were asked for",
            quiz.questions.len()
        ));
    }
    for q in &quiz.questions {
        validate(q)?;
    }
    Ok(quiz
        .questions
        .into_iter()
        .map(|q| Question {
            prompt: q.prompt.trim().to_owned(),
            options: q.options.iter().map(|o| o.trim().to_owned()).collect(),
            ..q
        })
        .collect())
}

/// A lesson as the rules see it.
#[derive(Clone, Debug)]
pub struct LessonText {
    pub title: String,
    pub body: String,
}

const STOPWORDS: &[&str] = &[
    "about", "above", "after", "again", "against", "because", "before", "being", "below",
    "between", "could", "doing", "during", "every", "other", "their", "there", "these", "those",
    "through", "under", "until", "where", "which", "while", "would", "should", "with", "without",
    "your", "yours", "into", "from", "that", "this", "than", "then", "them", "they", "what",
    "when", "will", "have", "been", "were", "also", "each", "more", "most", "some", "such", "only",
    "very", "just", "over",
];

/// Sentences of a markdown body: markup stripped, split at . ! ? and line breaks.
pub fn sentences(body: &str) -> Vec<String> {
    let cleaned: String = body
        .chars()
        .map(|c| match c {
            '#' | '*' | '_' | '`' | '>' | '[' | ']' | '|' => ' ',
            c => c,
        })
        .collect();
    cleaned
        .split(['.', '!', '?', '\n'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|s| s.trim_start_matches(['-', ' ', '+']).to_owned())
        .filter(|s| s.split_whitespace().count() >= 5)
        .collect()
}

fn word_key(w: &str) -> String {
    w.trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// The sentence's key term: its longest word of at least 5 letters that is not a stopword
/// (first on ties), as written (punctuation trimmed).
pub fn key_term(sentence: &str) -> Option<String> {
    let mut best: Option<&str> = None;
    for w in sentence.split_whitespace() {
        let t = w.trim_matches(|c: char| !c.is_alphanumeric());
        let key = t.to_lowercase();
        if t.chars().count() < 5
            || !t.chars().all(char::is_alphabetic)
            || STOPWORDS.contains(&key.as_str())
        {
            continue;
        }
        if best.is_none_or(|b| t.chars().count() > b.chars().count()) {
            best = Some(t);
        }
    }
    best.map(str::to_owned)
}

/// Why the rules could not build a quiz.
#[derive(Debug, PartialEq, Eq)]
pub enum RulesError {
    /// The topic's lessons have too little text to ask `count` questions about.
    TooLittleText { available: usize },
}

/// Up to `count` cloze questions from the lessons, deterministic: sentences in lesson order,
/// each asked once about its key term, with up to 3 other key terms of the topic as
/// distractors (rotated so the answer's position varies). Needs at least 2 distinct terms.
pub fn from_lessons(lessons: &[LessonText], count: usize) -> Result<Vec<Question>, RulesError> {
    let mut candidates: Vec<(String, String, String)> = Vec::new(); // sentence, term, lesson
    for l in lessons {
        for s in sentences(&l.body) {
            if let Some(term) = key_term(&s) {
                candidates.push((s, term, l.title.clone()));
            }
        }
    }
    let mut terms: Vec<String> = Vec::new();
    for (_, t, _) in &candidates {
        if !terms.iter().any(|x| word_key(x) == word_key(t)) {
            terms.push(t.clone());
        }
    }
    if terms.len() < MIN_OPTIONS {
        return Err(RulesError::TooLittleText { available: 0 });
    }
    let mut out = Vec::new();
    let mut used_terms: Vec<String> = Vec::new();
    for (sentence, term, lesson) in &candidates {
        if out.len() == count {
            break;
        }
        if used_terms.contains(&word_key(term)) {
            continue;
        }
        used_terms.push(word_key(term));
        let blanked = blank(sentence, term);
        let position = terms
            .iter()
            .position(|t| word_key(t) == word_key(term))
            .unwrap_or(0);
        let mut options: Vec<String> = vec![term.clone()];
        for i in 1..terms.len() {
            if options.len() == 4 {
                break;
            }
            if let Some(t) = terms.get((position + i) % terms.len()) {
                options.push(t.clone());
            }
        }
        let shift = out.len() % options.len();
        options.rotate_left(shift);
        let correct = (options.len() - shift) % options.len();
        let q = Question {
            prompt: format!("Fill in the blank: {blanked}"),
            options,
            correct,
            explanation: format!("From the lesson \"{lesson}\": {sentence}."),
        };
        if validate(&q).is_ok() {
            out.push(q);
        }
    }
    if out.len() < count {
        return Err(RulesError::TooLittleText {
            available: out.len(),
        });
    }
    Ok(out)
}

fn blank(sentence: &str, term: &str) -> String {
    sentence
        .split_whitespace()
        .map(|w| {
            if word_key(w) == word_key(term) {
                w.replace(term, "_____")
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One question's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionResult {
    pub index: usize,
    pub chosen: i32,
    pub correct_option: usize,
    pub correct: bool,
    pub explanation: String,
}

/// A scored submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    pub results: Vec<QuestionResult>,
    pub correct: i32,
    pub total: i32,
}

/// Scores `answers` (one per question; -1 unanswered); a wrong count or an option out of range
/// is the `answers` field's error.
pub fn score(questions: &[Question], answers: &[i32]) -> Result<Score, String> {
    if answers.len() != questions.len() {
        return Err(format!(
            "must have one answer per question ({} questions)",
            questions.len()
        ));
    }
    let mut results = Vec::with_capacity(questions.len());
    for (index, (q, &a)) in questions.iter().zip(answers).enumerate() {
        let in_range = usize::try_from(a).is_ok_and(|i| i < q.options.len());
        if a != UNANSWERED && !in_range {
            return Err(format!(
                "answer {index} is not an option (0–{} or -1)",
                q.options.len().saturating_sub(1)
            ));
        }
        let correct = usize::try_from(a).is_ok_and(|i| i == q.correct);
        results.push(QuestionResult {
            index,
            chosen: a,
            correct_option: q.correct,
            correct,
            explanation: q.explanation.clone(),
        });
    }
    let correct = results.iter().filter(|r| r.correct).count();
    Ok(Score {
        correct: i32::try_from(correct).unwrap_or(i32::MAX),
        total: i32::try_from(results.len()).unwrap_or(i32::MAX),
        results,
    })
}

/// 0–100, rounded down.
pub fn percent(correct: i32, total: i32) -> i32 {
    if total <= 0 {
        0
    } else {
        correct.clamp(0, total) * 100 / total
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn q(options: &[&str], correct: usize) -> Question {
        Question {
            prompt: "What?".into(),
            options: options.iter().map(|s| (*s).to_owned()).collect(),
            correct,
            explanation: String::new(),
        }
    }

    #[test]
    fn validation_needs_two_to_six_distinct_options_and_one_correct_in_range() {
        assert!(validate(&q(&["a", "b"], 1)).is_ok());
        assert!(validate(&q(&["a"], 0)).unwrap_err().contains("1 options"));
        assert!(validate(&q(&["a", "b", "c", "d", "e", "f", "g"], 0)).is_err());
        assert!(
            validate(&q(&["a", " A "], 0))
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(
            validate(&q(&["a", "b"], 2))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            validate(&q(&["a", " "], 0))
                .unwrap_err()
                .contains("empty option")
        );
        let mut empty = q(&["a", "b"], 0);
        empty.prompt = "  ".into();
        assert!(validate(&empty).is_err());
    }

    #[test]
    fn a_model_quiz_must_have_the_asked_count_of_valid_questions() {
        let ok = ModelQuiz {
            questions: vec![q(&["x", "y"], 0), q(&["x", "y", "z"], 2)],
        };
        assert_eq!(accept(ok.clone(), 2).unwrap().len(), 2);
        assert!(accept(ok, 3).unwrap_err().contains("2 questions"));
        let bad = ModelQuiz {
            questions: vec![q(&["x", "x"], 0)],
        };
        assert!(accept(bad, 1).is_err());
    }

    #[test]
    fn question_count_defaults_and_bounds() {
        assert_eq!(question_count(0), Ok(5));
        assert_eq!(question_count(20), Ok(20));
        assert!(question_count(21).is_err());
        assert!(question_count(-1).is_err());
    }

    fn lessons() -> Vec<LessonText> {
        vec![
            LessonText {
                title: "Cells".into(),
                body: "# Cells\nThe mitochondria produces energy for the whole cell. \
                       Ribosomes assemble proteins from amino acids inside cells."
                    .into(),
            },
            LessonText {
                title: "Plants".into(),
                body: "Photosynthesis turns sunlight into sugar in green leaves. \
                       Chlorophyll gives leaves their green colour in spring."
                    .into(),
            },
        ]
    }

    #[test]
    fn rules_build_deterministic_valid_cloze_questions_from_lessons() {
        let a = from_lessons(&lessons(), 3).unwrap();
        let b = from_lessons(&lessons(), 3).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        for q in &a {
            validate(q).unwrap();
            assert!(q.prompt.contains("_____"), "{}", q.prompt);
            let answer = &q.options[q.correct];
            assert!(!q.prompt.contains(answer.as_str()), "{} {answer}", q.prompt);
            assert!(q.explanation.contains(answer.as_str()));
        }
        assert_eq!(a[0].options[a[0].correct], "mitochondria");
        // The answer's position varies.
        assert_ne!(a[0].correct, a[1].correct);
    }

    #[test]
    fn rules_say_when_the_lessons_are_too_short() {
        assert_eq!(
            from_lessons(&lessons(), 10),
            Err(RulesError::TooLittleText { available: 4 })
        );
        assert!(from_lessons(&[], 1).is_err());
    }

    #[test]
    fn scoring_counts_correct_answers_and_rejects_bad_ones() {
        let qs = vec![q(&["a", "b"], 1), q(&["a", "b", "c"], 0), q(&["a", "b"], 0)];
        let s = score(&qs, &[1, 2, UNANSWERED]).unwrap();
        assert_eq!((s.correct, s.total), (1, 3));
        assert!(s.results[0].correct && !s.results[1].correct && !s.results[2].correct);
        assert_eq!(s.results[1].correct_option, 0);
        assert!(
            score(&qs, &[1, 2])
                .unwrap_err()
                .contains("one answer per question")
        );
        assert!(score(&qs, &[1, 3, 0]).unwrap_err().contains("answer 1"));
        assert!(score(&qs, &[1, -2, 0]).is_err());
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(0, 0), 0);
    }
}
