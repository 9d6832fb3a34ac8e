//! The doubt solver's answer shape, pure: the bounds on a question, the rules' answer from the
//! topic's lessons (or keyword guidance without a topic), the model's JSON schema and the
//! validation of its answer.

use serde::{Deserialize, Serialize};

/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;
const MAX_EXPLANATION_CHARS: usize = 4000;
const MAX_ITEM_CHARS: usize = 500;
const MAX_ITEMS: usize = 8;

/// A structured answer (stored as jsonb, returned as DoubtAnswer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub explanation: String,
    pub steps: Vec<String>,
    pub key_points: Vec<String>,
    pub follow_up_questions: Vec<String>,
    /// Lessons used: (lesson id, title).
    #[serde(default)]
    pub lessons: Vec<(String, String)>,
}

/// A lesson the rules can ground an answer in.
#[derive(Clone, Debug)]
pub struct LessonText {
    pub id: String,
    pub title: String,
    pub body: String,
}

/// The question, trimmed; Err names what is wrong with it.
pub fn question(q: &str) -> Result<String, &'static str> {
    let t = q.trim();
    if t.is_empty() {
        return Err("must not be empty");
    }
    if t.contains('\0') {
        return Err("must not contain NUL characters");
    }
    if t.chars().count() > MAX_QUESTION_CHARS {
        return Err("must be at most 2000 characters");
    }
    Ok(t.to_owned())
}

/// Lower-cased words of 4+ letters that are not common stop words.
fn keywords(text: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "why",
        "how",
        "does",
        "have",
        "this",
        "that",
        "there",
        "their",
        "they",
        "them",
        "from",
        "into",
        "about",
        "would",
        "could",
        "should",
        "than",
        "then",
        "your",
        "mine",
        "some",
        "more",
        "most",
        "very",
        "just",
        "also",
        "been",
        "being",
        "were",
        "will",
        "explain",
        "please",
        "understand",
        "mean",
        "means",
    ];
    let mut out: Vec<String> = Vec::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 4 && !STOP.contains(&w.as_str()))
    {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

fn sentences(body: &str) -> Vec<String> {
    body.split(['.', '!', '?', '\n'])
        .map(|s| s.trim().trim_start_matches(['#', '-', '*', ' ']).trim())
        .filter(|s| s.chars().count() >= 12)
        .map(|s| clip(s, MAX_ITEM_CHARS))
        .collect()
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The rules' answer: the lesson sentences sharing the most keywords with the question, or
/// keyword guidance when there are no lessons. `reason` says why the rules answered.
pub fn rules_answer(question: &str, lessons: &[LessonText], reason: &str) -> Answer {
    let words = keywords(question);
    let mut scored: Vec<(usize, usize, String, &LessonText)> = Vec::new();
    for (li, l) in lessons.iter().enumerate() {
        for s in sentences(&format!("{}\n{}", l.title, l.body)) {
            let lower = s.to_lowercase();
            let hits = words.iter().filter(|w| lower.contains(w.as_str())).count();
            if hits > 0 {
                scored.push((hits, li, s, l));
            }
        }
    }
    // Most keyword hits first; lesson order breaks ties (stable sort).
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let focus = words.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if scored.is_empty() {
        let mut explanation = if lessons.is_empty() {
            format!("Without a model ({reason}) this answer is guidance, not a worked explanation.")
        } else {
            format!(
                "The topic's lessons do not mention the words of your question ({reason}); here is how to work through it."
            )
        };
        if !focus.is_empty() {
            explanation.push_str(&format!(" Your question turns on: {focus}."));
        }
        let steps = vec![
            "Restate the question in your own words and name what you already know.".to_owned(),
            if focus.is_empty() {
                "Pick out the key terms and look each one up in your lessons.".to_owned()
            } else {
                format!("Look up each key term ({focus}) in your lessons or notes.")
            },
            "Work one small example by hand, then check it against the definition.".to_owned(),
        ];
        let key_points = words
            .iter()
            .take(MAX_ITEMS)
            .map(|w| format!("Key term: {w}"))
            .collect();
        return Answer {
            explanation,
            steps,
            key_points,
            follow_up_questions: vec![
                "Which part of the question is the first you are unsure about?".to_owned(),
                "Can you ask it again naming a learning topic, so the lessons can be used?"
                    .to_owned(),
            ],
            lessons: lessons
                .iter()
                .take(MAX_ITEMS)
                .map(|l| (l.id.clone(), l.title.clone()))
                .collect(),
        };
    }
    let best: Vec<&(usize, usize, String, &LessonText)> = scored.iter().take(5).collect();
    let explanation = clip(
        &format!(
            "From your lessons ({reason}): {}",
            best.iter()
                .take(2)
                .map(|b| b.2.clone())
                .collect::<Vec<_>>()
                .join(". ")
        ),
        MAX_EXPLANATION_CHARS,
    );
    let mut used: Vec<(String, String)> = Vec::new();
    for b in &best {
        let l = b.3;
        if !used.iter().any(|(id, _)| id == &l.id) {
            used.push((l.id.clone(), l.title.clone()));
        }
    }
    Answer {
        explanation,
        steps: used
            .iter()
            .map(|(_, title)| format!("Re-read the lesson \"{title}\" with your question in mind."))
            .chain(std::iter::once(
                "Explain the answer back in your own words, then try an example.".to_owned(),
            ))
            .collect(),
        key_points: best.iter().map(|b| b.2.clone()).collect(),
        follow_up_questions: words
            .iter()
            .take(2)
            .map(|w| format!("How would you use \"{w}\" in an example of your own?"))
            .collect(),
        lessons: used,
    }
}

/// What the model is asked to answer with.
#[derive(Debug, Deserialize)]
pub struct ModelAnswer {
    pub explanation: String,
    pub steps: Vec<String>,
    pub key_points: Vec<String>,
    pub follow_up_questions: Vec<String>,
}

pub fn schema() -> serde_json::Value {
    let list = serde_json::json!({"type": "array", "items": {"type": "string"}});
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["explanation", "steps", "key_points", "follow_up_questions"],
        "properties": {
            "explanation": {"type": "string"},
            "steps": list,
            "key_points": list,
            "follow_up_questions": list
        }
    })
}

/// The model's answer if usable; Err says why not.
pub fn accept(m: ModelAnswer, lessons: &[LessonText]) -> Result<Answer, String> {
    let explanation = m.explanation.trim();
    if explanation.is_empty() {
        return Err("the explanation is empty".into());
    }
    if explanation.chars().count() > MAX_EXPLANATION_CHARS {
        return Err("the explanation is too long".into());
    }
    let clean = |v: Vec<String>, what: &str| -> Result<Vec<String>, String> {
        if v.len() > MAX_ITEMS {
            return Err(format!("too many {what}"));
        }
        let v: Vec<String> = v
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if v.iter().any(|s| s.chars().count() > MAX_ITEM_CHARS) {
            return Err(format!("one of the {what} is too long"));
        }
        Ok(v)
    };
    Ok(Answer {
        explanation: explanation.to_owned(),
        steps: clean(m.steps, "steps")?,
        key_points: clean(m.key_points, "key points")?,
        follow_up_questions: clean(m.follow_up_questions, "follow-up questions")?,
        lessons: lessons
            .iter()
            .take(MAX_ITEMS)
            .map(|l| (l.id.clone(), l.title.clone()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(body: &str) -> LessonText {
        LessonText {
            id: "l1".into(),
            title: "Fractions".into(),
            body: body.into(),
        }
    }

    #[test]
    fn question_bounds() {
        assert!(question("  ").is_err());
        assert!(question("a\0b").is_err());
        assert!(question(&"x".repeat(2001)).is_err());
        assert_eq!(question(" why? ").as_deref(), Ok("why?"));
    }

    #[test]
    fn rules_use_matching_lesson_sentences() {
        let l =
            lesson("A denominator is the bottom number of a fraction. Cats are unrelated here.");
        let a = rules_answer("What is a denominator?", &[l], "no model is configured");
        assert!(a.explanation.contains("denominator is the bottom number"));
        assert_eq!(a.lessons, vec![("l1".to_owned(), "Fractions".to_owned())]);
        assert!(!a.key_points.iter().any(|k| k.contains("Cats")));
    }

    #[test]
    fn rules_without_lessons_give_guidance() {
        let a = rules_answer(
            "How does photosynthesis work?",
            &[],
            "no model is configured",
        );
        assert!(a.explanation.contains("no model is configured"));
        assert!(a.explanation.contains("photosynthesis"));
        assert!(!a.steps.is_empty());
        assert!(a.lessons.is_empty());
    }

    #[test]
    fn accept_rejects_empty_and_oversized() {
        let m = |e: &str, n: usize| ModelAnswer {
            explanation: e.into(),
            steps: vec!["s".into(); n],
            key_points: vec![],
            follow_up_questions: vec![],
        };
        assert!(accept(m(" ", 1), &[]).is_err());
        assert!(accept(m("ok", 9), &[]).is_err());
        assert_eq!(accept(m("ok", 2), &[]).map(|a| a.steps.len()), Ok(2));
    }
}
