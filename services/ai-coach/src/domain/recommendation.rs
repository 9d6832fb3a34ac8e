//! The answer: the LLM's text with the rules' suggested activity when it answered, the rules'
//! text otherwise, and what is recorded for usage accounting.

use super::rules::Advice;

/// Who wrote the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// No LLM is configured.
    Rules,
    Llm,
    /// An LLM is configured but failed: the rules answered, with the reason.
    RulesFallback,
}

impl Source {
    /// The name stored in `recommendations.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Llm => "llm",
            Self::RulesFallback => "rules_fallback",
        }
    }
}

/// A successful LLM answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    /// The model that answered (as the endpoint named it).
    pub model: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
}

/// What the LLM step came to: the model asked, and its answer or a short, secret-free reason.
pub struct Asked<'a> {
    pub model: &'a str,
    pub outcome: Result<Completion, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recommendation {
    pub text: String,
    /// Empty when the catalog has nothing that fits.
    pub activity_id: String,
    pub source: Source,
    /// The model that wrote the text; empty for rules answers.
    pub model: String,
    /// Why the LLM was not used although configured; empty otherwise.
    pub fallback_reason: String,
    /// The model asked, for usage accounting (a fallback names the model that failed).
    pub usage_model: Option<String>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
}

/// The answer from the rules' `advice` and, when an LLM is configured, what it came to.
pub fn recommend(advice: Advice, llm: Option<Asked<'_>>) -> Recommendation {
    let rules = |source, fallback_reason, usage_model| Recommendation {
        text: advice.text.clone(),
        activity_id: advice.activity_id.clone(),
        source,
        model: String::new(),
        fallback_reason,
        usage_model,
        prompt_tokens: 0,
        completion_tokens: 0,
    };
    match llm {
        None => rules(Source::Rules, String::new(), None),
        Some(Asked {
            model,
            outcome: Err(reason),
        }) => rules(Source::RulesFallback, reason, Some(model.to_owned())),
        Some(Asked { outcome: Ok(c), .. }) => Recommendation {
            text: c.text,
            activity_id: advice.activity_id,
            source: Source::Llm,
            model: c.model.clone(),
            fallback_reason: String::new(),
            usage_model: Some(c.model),
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice() -> Advice {
        Advice {
            text: "Start a streak today.".into(),
            activity_id: "f".into(),
            activity_name: "Focus".into(),
        }
    }

    #[test]
    fn without_an_llm_the_rules_answer() {
        let r = recommend(advice(), None);
        assert_eq!(
            (r.source, r.text.as_str(), r.activity_id.as_str()),
            (Source::Rules, "Start a streak today.", "f")
        );
        assert!(r.model.is_empty() && r.fallback_reason.is_empty());
        assert_eq!(
            (r.usage_model, r.prompt_tokens, r.completion_tokens),
            (None, 0, 0)
        );
    }

    #[test]
    fn the_llm_writes_the_text_and_keeps_the_rules_suggestion() {
        let c = Completion {
            text: "Two blocks done: one more Focus.".into(),
            model: "m-2026".into(),
            prompt_tokens: 321,
            completion_tokens: 27,
        };
        let r = recommend(
            advice(),
            Some(Asked {
                model: "m",
                outcome: Ok(c),
            }),
        );
        assert_eq!(r.source, Source::Llm);
        assert_eq!(r.text, "Two blocks done: one more Focus.");
        assert_eq!(r.activity_id, "f");
        assert_eq!(r.model, "m-2026", "the model that answered");
        assert_eq!(r.usage_model.as_deref(), Some("m-2026"));
        assert_eq!((r.prompt_tokens, r.completion_tokens), (321, 27));
    }

    #[test]
    fn a_failed_llm_falls_back_to_the_rules_with_the_reason() {
        let r = recommend(
            advice(),
            Some(Asked {
                model: "m",
                outcome: Err("the LLM answered with HTTP 500".into()),
            }),
        );
        assert_eq!(r.source, Source::RulesFallback);
        assert_eq!(r.text, "Start a streak today.");
        assert_eq!(r.fallback_reason, "the LLM answered with HTTP 500");
        assert!(r.model.is_empty());
        assert_eq!((r.usage_model.as_deref(), r.prompt_tokens), (Some("m"), 0));
    }

    #[test]
    fn sources_have_their_stored_names() {
        assert_eq!(
            [Source::Rules, Source::Llm, Source::RulesFallback].map(Source::as_str),
            ["rules", "llm", "rules_fallback"]
        );
    }
}
