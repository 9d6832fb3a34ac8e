//! Conversation rules, pure: input bounds, expiry, what the model remembers (the last N turns
//! verbatim + a running summary of older ones), the rules' summary, intents for the rules path.

use stride_kit::Violations;
use time::{Duration, OffsetDateTime};

pub const MAX_TEXT_CHARS: usize = 4000;
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest running summary kept (older lines drop first).
pub const MAX_SUMMARY_CHARS: usize = 2000;

/// Free text: no NUL or control characters other than line breaks and tabs.
fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

pub fn check_text(v: &mut Violations, text: &str) {
    let n = text.trim().chars().count();
    if n == 0 {
        v.add("text", "must not be empty");
    } else if text.chars().count() > MAX_TEXT_CHARS {
        v.add("text", "at most 4000 characters");
    } else if has_control(text) {
        v.add("text", "must not contain control characters");
    }
}

pub fn check_title(v: &mut Violations, title: &str) {
    if title.chars().count() > MAX_TITLE_CHARS {
        v.add("title", "at most 200 characters");
    } else if title.chars().any(char::is_control) {
        v.add("title", "must be one line without control characters");
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Ended,
    Expired,
}

/// The state shown: an active conversation with no message for `expiry` has expired.
pub fn state(
    stored: &str,
    last_activity: OffsetDateTime,
    now: OffsetDateTime,
    expiry: Duration,
) -> State {
    match stored {
        "ended" => State::Ended,
        _ if now - last_activity >= expiry => State::Expired,
        _ => State::Active,
    }
}

/// One stored message, as memory sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub from_user: bool,
    pub text: String,
}

/// Splits `history` (oldest first; `summarized` of them already folded into the summary) into
/// the messages to fold now and the ones kept verbatim (the last `keep_turns` turns = twice as
/// many messages).
pub fn memory(history: &[Turn], summarized: usize, keep_turns: usize) -> (&[Turn], &[Turn]) {
    let keep = keep_turns.saturating_mul(2);
    let split = history
        .len()
        .saturating_sub(keep)
        .max(summarized.min(history.len()));
    let fold_from = summarized.min(split);
    (
        history.get(fold_from..split).unwrap_or_default(),
        history.get(split..).unwrap_or_default(),
    )
}

/// The rules' summary: `previous` plus one line per folded exchange (the user's first sentence
/// and the coach's), bounded to [`MAX_SUMMARY_CHARS`] keeping the newest lines.
pub fn extractive_summary(previous: &str, folded: &[Turn]) -> String {
    let mut lines: Vec<String> = previous
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    for t in folded {
        let who = if t.from_user { "User" } else { "Coach" };
        lines.push(format!("{who}: {}", first_sentence(&t.text, 160)));
    }
    let mut total = 0;
    let mut kept = Vec::new();
    for l in lines.iter().rev() {
        total += l.chars().count() + 1;
        if total > MAX_SUMMARY_CHARS {
            break;
        }
        kept.push(l.clone());
    }
    kept.reverse();
    kept.join("\n")
}

/// The first sentence of `text`, at most `max` characters.
pub fn first_sentence(text: &str, max: usize) -> String {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|(_, c)| matches!(c, '.' | '?' | '!' | '\n'))
        .map_or(t.len(), |(i, c)| i + c.len_utf8());
    let s = t.get(..end).unwrap_or(t).trim();
    if s.chars().count() > max {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

/// The tools the coach can consult on the caller's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Progress,
    Sessions,
    Exercises,
    Plans,
    Tasks,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::Progress,
        Tool::Sessions,
        Tool::Exercises,
        Tool::Plans,
        Tool::Tasks,
    ];

    /// The name the model calls and `ToolActivity.tool` shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::Progress => "progress",
            Self::Sessions => "sessions",
            Self::Exercises => "exercises",
            Self::Plans => "plans",
            Self::Tasks => "tasks",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn status(self) -> &'static str {
        match self {
            Self::Progress => "looking up your progress",
            Self::Sessions => "looking up your recent sessions",
            Self::Exercises => "searching the exercise catalog",
            Self::Plans => "looking up your current plan",
            Self::Tasks => "looking up your open tasks",
        }
    }
}

/// The rules path's intent: the tool whose figures answer `text` (keywords; progress when
/// nothing matches, the most common question).
pub fn intent(text: &str) -> Tool {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["task", "to-do", "todo", "to do"]) {
        Tool::Tasks
    } else if has(&["plan", "program", "programme", "schedule"]) {
        Tool::Plans
    } else if has(&["exercise", "workout", "stretch", "drill", "training"]) {
        Tool::Exercises
    } else if has(&["session", "history", "recent", "yesterday", "last time"]) {
        Tool::Sessions
    } else {
        Tool::Progress
    }
}

/// The words of `text` worth searching the catalog for (the rules path's exercise query).
pub fn search_terms(text: &str) -> String {
    const STOP: &[&str] = &[
        "a",
        "an",
        "the",
        "for",
        "me",
        "my",
        "i",
        "to",
        "of",
        "and",
        "or",
        "some",
        "any",
        "can",
        "you",
        "suggest",
        "find",
        "exercise",
        "exercises",
        "workout",
        "workouts",
        "please",
        "what",
        "is",
        "are",
        "with",
        "give",
        "good",
        "do",
        "should",
    ];
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2 && !STOP.contains(&w.to_lowercase().as_str()))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rules' reply from a tool's figures.
pub fn rules_reply(tool: Tool, figures: Result<&str, &str>) -> String {
    match figures {
        Ok(f) if f.trim().is_empty() => match tool {
            Tool::Progress => "I have no progress figures for you yet: complete a first session and I can tell you how your week goes.".into(),
            Tool::Sessions => "You have no recent sessions yet: start one from the catalog and it will show up here.".into(),
            Tool::Exercises => "I found no matching exercises in the catalog; try other words.".into(),
            Tool::Plans => "You have no current plan; pick one from the catalog to follow it day by day.".into(),
            Tool::Tasks => "You have no open tasks. Nice and clear.".into(),
        },
        Ok(f) => {
            let lead = match tool {
                Tool::Progress => "Here is how your week looks:",
                Tool::Sessions => "Your recent sessions:",
                Tool::Exercises => "Exercises from the catalog that fit:",
                Tool::Plans => "Your plans:",
                Tool::Tasks => "Your open tasks:",
            };
            format!("{lead}\n{f}")
        }
        Err(why) => format!("I cannot look that up right now ({why}); try again shortly."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn turns(n: usize) -> Vec<Turn> {
        (0..n)
            .map(|i| Turn {
                from_user: i % 2 == 0,
                text: format!("message {i}. More words."),
            })
            .collect()
    }

    #[test]
    fn memory_keeps_the_last_turns_and_folds_older_ones_once() {
        let h = turns(10);
        let (fold, keep) = memory(&h, 0, 3);
        assert_eq!((fold.len(), keep.len()), (4, 6));
        assert_eq!(keep[0].text, "message 4. More words.");
        let (fold, keep) = memory(&h, 4, 3);
        assert!(fold.is_empty(), "already folded");
        assert_eq!(keep.len(), 6);
        let short = turns(4);
        let (fold, keep) = memory(&short, 0, 3);
        assert_eq!(
            (fold.len(), keep.len()),
            (0, 4),
            "short conversations stay verbatim"
        );
    }

    #[test]
    fn the_rules_summary_is_extractive_and_bounded() {
        let s = extractive_summary("", &turns(2));
        assert_eq!(s, "User: message 0.\nCoach: message 1.");
        let long = Turn {
            from_user: true,
            text: "x".repeat(5000),
        };
        let mut s = String::new();
        for _ in 0..40 {
            s = extractive_summary(&s, std::slice::from_ref(&long));
        }
        assert!(s.chars().count() <= MAX_SUMMARY_CHARS);
        assert!(s.lines().all(|l| l.chars().count() <= 167));
    }

    #[test]
    fn conversations_expire_after_inactivity() {
        let t0 = datetime!(2026-06-10 08:00 UTC);
        let day = Duration::hours(24);
        assert_eq!(
            state("active", t0, t0 + Duration::hours(23), day),
            State::Active
        );
        assert_eq!(state("active", t0, t0 + day, day), State::Expired);
        assert_eq!(state("ended", t0, t0, day), State::Ended);
    }

    #[test]
    fn intents_pick_the_tool() {
        assert_eq!(intent("How is my week going?"), Tool::Progress);
        assert_eq!(intent("What are my open tasks?"), Tool::Tasks);
        assert_eq!(intent("Where am I in my plan"), Tool::Plans);
        assert_eq!(intent("Suggest a stretching exercise"), Tool::Exercises);
        assert_eq!(intent("show my recent sessions"), Tool::Sessions);
        assert_eq!(
            search_terms("Suggest a stretching exercise for my back"),
            "stretching back"
        );
    }

    #[test]
    fn input_is_bounded() {
        let mut v = Violations::new();
        check_text(&mut v, "hello\nthere");
        check_title(&mut v, "Week review");
        assert!(v.is_empty());
        for bad in ["", "   ", "a\0b"] {
            let mut v = Violations::new();
            check_text(&mut v, bad);
            assert!(!v.is_empty(), "{bad:?}");
        }
        let mut v = Violations::new();
        check_text(&mut v, &"x".repeat(4001));
        check_title(&mut v, &"t".repeat(201));
        assert!(!v.is_empty());
    }
}
