//! Practice sessions (seed 002): the preparation types, the session state machine, the bounds on
//! what the caller sends, the model's context window, and the rules' interviewer (a question bank
//! per preparation type, in `questions/<type>.txt`).

use stride_kit::{AppError, AppResult, Violations};

/// Seed 002's default tone.
pub const DEFAULT_TONE: &str = "Professional & Confident";
/// Completing needs at least this many answers from the user (seed 002: "min 3 turns").
pub const MIN_TURNS: i32 = 3;
/// The model sees the last this many turns verbatim, a summary of the older ones (seed 002).
pub const CONTEXT_TURNS: usize = 10;
/// A session ends at this many answers: the transcript stays bounded.
pub const MAX_TURNS: i32 = 60;

pub const MAX_SUBTYPE: usize = 100;
pub const MAX_AGENDA: usize = 2000;
pub const MAX_TONE: usize = 100;
pub const MAX_FOCUS: usize = 200;
pub const MAX_MESSAGE: usize = 4000;

/// Seed 002's preparation types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrepType {
    Interview,
    Corporate,
    Pitch,
    Sales,
    Presentation,
    Other,
}

impl PrepType {
    pub const ALL: [PrepType; 6] = [
        Self::Interview,
        Self::Corporate,
        Self::Pitch,
        Self::Sales,
        Self::Presentation,
        Self::Other,
    ];

    /// The name stored in the database and used in the rubric.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interview => "interview",
            Self::Corporate => "corporate",
            Self::Pitch => "pitch",
            Self::Sales => "sales",
            Self::Presentation => "presentation",
            Self::Other => "other",
        }
    }

    /// The seed's spelling ("Interview"), used in events and prompts.
    pub fn title(self) -> &'static str {
        match self {
            Self::Interview => "Interview",
            Self::Corporate => "Corporate",
            Self::Pitch => "Pitch",
            Self::Sales => "Sales",
            Self::Presentation => "Presentation",
            Self::Other => "Other",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// From `stride.profile.v1.PreparationType`: 0 is None (unset), unknown values an error.
    pub fn from_proto(v: i32) -> Result<Option<Self>, ()> {
        Ok(Some(match v {
            0 => return Ok(None),
            1 => Self::Interview,
            2 => Self::Corporate,
            3 => Self::Pitch,
            4 => Self::Sales,
            5 => Self::Presentation,
            6 => Self::Other,
            _ => return Err(()),
        }))
    }

    pub fn to_proto(self) -> i32 {
        match self {
            Self::Interview => 1,
            Self::Corporate => 2,
            Self::Pitch => 3,
            Self::Sales => 4,
            Self::Presentation => 5,
            Self::Other => 6,
        }
    }

    /// The question bank, one question a line.
    fn bank(self) -> &'static str {
        match self {
            Self::Interview => include_str!("../../questions/interview.txt"),
            Self::Corporate => include_str!("../../questions/corporate.txt"),
            Self::Pitch => include_str!("../../questions/pitch.txt"),
            Self::Sales => include_str!("../../questions/sales.txt"),
            Self::Presentation => include_str!("../../questions/presentation.txt"),
            Self::Other => include_str!("../../questions/other.txt"),
        }
    }

    pub fn questions(self) -> impl Iterator<Item = &'static str> {
        self.bank().lines().map(str::trim).filter(|l| !l.is_empty())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Completed,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Archived => "archived",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "in_progress" => Some(Self::InProgress),
            "completed" => Some(Self::Completed),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }

    /// `PracticeSessionStatus`: 0 is None (unset).
    pub fn from_proto(v: i32) -> Result<Option<Self>, ()> {
        match v {
            0 => Ok(None),
            1 => Ok(Some(Self::InProgress)),
            2 => Ok(Some(Self::Completed)),
            3 => Ok(Some(Self::Archived)),
            _ => Err(()),
        }
    }

    pub fn to_proto(self) -> i32 {
        match self {
            Self::InProgress => 1,
            Self::Completed => 2,
            Self::Archived => 3,
        }
    }
}

/// The reasons a transition is refused (FAILED_PRECONDITION reasons).
pub const NOT_IN_PROGRESS: &str = "PRACTICE_SESSION_NOT_IN_PROGRESS";
pub const TOO_FEW_TURNS: &str = "PRACTICE_TOO_FEW_TURNS";
pub const TOO_MANY_TURNS: &str = "PRACTICE_TOO_MANY_TURNS";

fn not_in_progress(status: Status, what: &str) -> AppError {
    AppError::precondition(
        NOT_IN_PROGRESS,
        format!(
            "the practice session is {}: only an in-progress session can {what}",
            status.as_str()
        ),
    )
}

/// The user may answer: the session is in progress and below [`MAX_TURNS`].
pub fn can_send(status: Status, turns: i32) -> AppResult<()> {
    if status != Status::InProgress {
        return Err(not_in_progress(status, "take messages"));
    }
    if turns >= MAX_TURNS {
        return Err(AppError::precondition(
            TOO_MANY_TURNS,
            format!("a practice session holds at most {MAX_TURNS} answers: complete it"),
        ));
    }
    Ok(())
}

/// in_progress → completed, with at least [`MIN_TURNS`] answers.
pub fn complete(status: Status, turns: i32) -> AppResult<Status> {
    if status != Status::InProgress {
        return Err(not_in_progress(status, "be completed"));
    }
    if turns < MIN_TURNS {
        return Err(AppError::precondition(
            TOO_FEW_TURNS,
            format!(
                "a practice session needs at least {MIN_TURNS} answers before it is completed ({turns} so far)"
            ),
        ));
    }
    Ok(Status::Completed)
}

/// Any status → archived (soft delete); archiving an archived session changes nothing (None).
pub fn archive(status: Status) -> Option<Status> {
    match status {
        Status::Archived => None,
        Status::InProgress | Status::Completed => Some(Status::Archived),
    }
}

/// A free-text field: at most `max` characters, no control characters (line breaks and tabs
/// allowed when `multiline`). NUL never reaches PostgreSQL.
pub fn check_text(v: &mut Violations, field: &str, text: &str, max: usize, multiline: bool) {
    if text.chars().count() > max {
        v.add(field, &format!("must be at most {max} characters"));
    } else if text
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        v.add(field, "must not contain control characters");
    }
}

/// The user's message: 1–[`MAX_MESSAGE`] characters, not blank.
pub fn check_message(text: &str) -> AppResult<String> {
    let mut v = Violations::new();
    if text.trim().is_empty() {
        v.add("text", "must not be empty");
    }
    check_text(&mut v, "text", text, MAX_MESSAGE, true);
    v.check()?;
    Ok(text.trim().to_owned())
}

/// What a session starts with, after the profile's defaults filled the gaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub prep: PrepType,
    pub meeting_subtype: String,
    pub agenda: String,
    pub tone: String,
    pub focus: String,
}

/// The profile's practice context, as far as it is known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileDefaults {
    pub prep: Option<PrepType>,
    pub meeting_subtype: String,
    pub agenda: String,
    pub tone: String,
    pub focus: String,
}

/// The request's own values win; empty ones come from the profile; then the seed's defaults
/// (OTHER, "Professional & Confident").
pub fn context(asked: Requested, profile: &ProfileDefaults) -> Context {
    let or = |own: String, theirs: &str| {
        if own.trim().is_empty() {
            theirs.trim().to_owned()
        } else {
            own.trim().to_owned()
        }
    };
    let tone = or(asked.tone, &profile.tone);
    Context {
        prep: asked.prep.or(profile.prep).unwrap_or(PrepType::Other),
        meeting_subtype: or(asked.meeting_subtype, &profile.meeting_subtype),
        agenda: or(asked.agenda, &profile.agenda),
        tone: if tone.is_empty() {
            DEFAULT_TONE.to_owned()
        } else {
            tone
        },
        focus: or(asked.focus, &profile.focus),
    }
}

/// The request's values, checked ([`check_start`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    pub prep: Option<PrepType>,
    pub meeting_subtype: String,
    pub agenda: String,
    pub tone: String,
    pub focus: String,
}

/// Checks StartPracticeSession's fields, naming each bad one.
pub fn check_start(
    prep: i32,
    meeting_subtype: &str,
    agenda: &str,
    tone: &str,
    focus: &str,
) -> AppResult<Requested> {
    let mut v = Violations::new();
    let prep = PrepType::from_proto(prep).unwrap_or_else(|()| {
        v.add("preparation_type", "is not a known preparation type");
        None
    });
    check_text(
        &mut v,
        "meeting_subtype",
        meeting_subtype,
        MAX_SUBTYPE,
        false,
    );
    check_text(&mut v, "agenda", agenda, MAX_AGENDA, true);
    check_text(&mut v, "tone", tone, MAX_TONE, false);
    check_text(&mut v, "focus", focus, MAX_FOCUS, false);
    v.check()?;
    Ok(Requested {
        prep,
        meeting_subtype: meeting_subtype.to_owned(),
        agenda: agenda.to_owned(),
        tone: tone.to_owned(),
        focus: focus.to_owned(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Coach,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coach => "coach",
            Self::User => "user",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "coach" => Some(Self::Coach),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    pub fn to_proto(self) -> i32 {
        match self {
            Self::Coach => 1,
            Self::User => 2,
        }
    }
}

/// One transcript entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub text: String,
    pub turn: i32,
}

/// The coach's opening question: the first of the bank, or a focus-specific opener.
pub fn opening(ctx: &Context) -> String {
    let first = ctx
        .prep
        .questions()
        .next()
        .unwrap_or("What would you like to practise today?");
    if ctx.focus.is_empty() {
        first.to_owned()
    } else {
        format!("Today we work on {}. {first}", ctx.focus)
    }
}

/// The rules' reply to an answer: brief feedback on the answer's shape, then the next question of
/// the bank not yet asked (cycling when all were asked). `transcript` already holds the answer.
pub fn rules_reply(prep: PrepType, transcript: &[Message]) -> String {
    let asked: Vec<&str> = transcript
        .iter()
        .filter(|m| m.role == Role::Coach)
        .map(|m| m.text.as_str())
        .collect();
    let questions: Vec<&str> = prep.questions().collect();
    let next = questions
        .iter()
        .find(|q| !asked.iter().any(|a| a.contains(**q)))
        .copied()
        .or_else(|| {
            let n = questions.len().max(1);
            questions.get(asked.len() % n).copied()
        })
        .unwrap_or("What else would you like to practise?");
    let answer = transcript
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.text.as_str())
        .unwrap_or("");
    format!("{} {next}", feedback(answer))
}

/// One sentence on an answer's shape: length, a concrete example, a number.
fn feedback(answer: &str) -> &'static str {
    let words = answer.split_whitespace().count();
    let has_number = answer.chars().any(|c| c.is_ascii_digit());
    if words < 15 {
        "That was short: next time add a concrete example."
    } else if words > 250 {
        "Good detail; try to make the same point in half the words."
    } else if !has_number {
        "Thanks. A number would make that more convincing."
    } else {
        "Clear and concrete, well done."
    }
}

/// The model's view of a long transcript: the older turns summarised (rules: one line per older
/// exchange, the question and the answer's opening words), the last [`CONTEXT_TURNS`] turns
/// verbatim. A turn is the user's answer with the coach's question before it.
pub fn context_window(transcript: &[Message]) -> (String, &[Message]) {
    let users = transcript.iter().filter(|m| m.role == Role::User).count();
    if users <= CONTEXT_TURNS {
        return (String::new(), transcript);
    }
    // The cut: the coach message that opens the (users - CONTEXT_TURNS + 1)-th turn.
    let first_kept_turn = i32::try_from(users - CONTEXT_TURNS + 1).unwrap_or(i32::MAX);
    let cut = transcript
        .iter()
        .position(|m| m.role == Role::Coach && m.turn == first_kept_turn - 1)
        .unwrap_or(0);
    let (older, recent) = transcript.split_at(cut);
    let lines: Vec<String> = older
        .chunks(2)
        .filter_map(|pair| match pair {
            [q, a] if q.role == Role::Coach && a.role == Role::User => Some(format!(
                "- Q: {} A: {}",
                first_words(&q.text, 16),
                first_words(&a.text, 24)
            )),
            _ => None,
        })
        .collect();
    let summary = format!(
        "Earlier in this session ({} answers):\n{}",
        lines.len(),
        lines.join("\n")
    );
    (summary, recent)
}

fn first_words(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= n {
        words.join(" ")
    } else {
        format!(
            "{}…",
            words.iter().take(n).copied().collect::<Vec<_>>().join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, text: &str, turn: i32) -> Message {
        Message {
            role,
            text: text.into(),
            turn,
        }
    }

    /// opening question, then `n` answer/reply pairs.
    fn transcript(n: i32) -> Vec<Message> {
        let mut t = vec![msg(Role::Coach, "question 0", 0)];
        for i in 1..=n {
            t.push(msg(Role::User, &format!("answer {i}"), i));
            t.push(msg(Role::Coach, &format!("question {i}"), i));
        }
        t
    }

    #[test]
    fn completing_needs_three_answers_and_an_in_progress_session() {
        assert_eq!(complete(Status::InProgress, 3).unwrap(), Status::Completed);
        let e = complete(Status::InProgress, 2).unwrap_err();
        assert!(
            matches!(e, AppError::FailedPrecondition { reason, .. } if reason == TOO_FEW_TURNS)
        );
        for s in [Status::Completed, Status::Archived] {
            let e = complete(s, 5).unwrap_err();
            assert!(
                matches!(e, AppError::FailedPrecondition { reason, .. } if reason == NOT_IN_PROGRESS)
            );
        }
    }

    #[test]
    fn messages_only_while_in_progress_and_below_the_cap() {
        assert!(can_send(Status::InProgress, 0).is_ok());
        assert!(can_send(Status::Completed, 0).is_err());
        assert!(can_send(Status::Archived, 0).is_err());
        let e = can_send(Status::InProgress, MAX_TURNS).unwrap_err();
        assert!(
            matches!(e, AppError::FailedPrecondition { reason, .. } if reason == TOO_MANY_TURNS)
        );
    }

    #[test]
    fn archiving_is_idempotent() {
        assert_eq!(archive(Status::InProgress), Some(Status::Archived));
        assert_eq!(archive(Status::Completed), Some(Status::Archived));
        assert_eq!(archive(Status::Archived), None);
    }

    #[test]
    fn the_request_wins_then_the_profile_then_the_seed_defaults() {
        let profile = ProfileDefaults {
            prep: Some(PrepType::Pitch),
            meeting_subtype: "Seed round".into(),
            agenda: "Practise the opening".into(),
            tone: String::new(),
            focus: "Traction".into(),
        };
        let ctx = context(
            Requested {
                agenda: " Own agenda ".into(),
                ..Default::default()
            },
            &profile,
        );
        assert_eq!(ctx.prep, PrepType::Pitch);
        assert_eq!(ctx.meeting_subtype, "Seed round");
        assert_eq!(ctx.agenda, "Own agenda");
        assert_eq!(ctx.tone, DEFAULT_TONE);
        assert_eq!(ctx.focus, "Traction");
        let bare = context(Requested::default(), &ProfileDefaults::default());
        assert_eq!(bare.prep, PrepType::Other);
        assert_eq!(bare.tone, DEFAULT_TONE);
    }

    #[test]
    fn start_fields_are_checked_and_named() {
        let e = check_start(9, &"x".repeat(101), "ok\nfine", "a\0b", "").unwrap_err();
        let AppError::InvalidArgument(v) = e else {
            panic!("{e:?}")
        };
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["preparation_type", "meeting_subtype", "tone"]);
        assert!(check_start(1, "Behavioral", "line\nline", "Warm", "STAR").is_ok());
    }

    #[test]
    fn messages_are_bounded_and_trimmed() {
        assert!(check_message("   ").is_err());
        assert!(check_message(&"a".repeat(MAX_MESSAGE + 1)).is_err());
        assert!(check_message("nul\0").is_err());
        assert_eq!(check_message(" hi\nthere ").unwrap(), "hi\nthere");
    }

    #[test]
    fn every_type_has_a_question_bank() {
        for t in PrepType::ALL {
            assert!(t.questions().count() >= 5, "{t:?}");
            assert_eq!(PrepType::from_db(t.as_str()), Some(t));
            assert_eq!(PrepType::from_proto(t.to_proto()), Ok(Some(t)));
        }
    }

    #[test]
    fn the_rules_ask_the_next_unasked_question() {
        let first = PrepType::Sales.questions().next().unwrap().to_owned();
        let second = PrepType::Sales.questions().nth(1).unwrap();
        let t = vec![
            msg(Role::Coach, &first, 0),
            msg(
                Role::User,
                "We sell 30 percent cheaper than last year and serve 200 clients in the region today",
                1,
            ),
        ];
        let reply = rules_reply(PrepType::Sales, &t);
        assert!(reply.ends_with(second), "{reply}");
        assert!(reply.starts_with("Clear and concrete"), "{reply}");
        let short = vec![msg(Role::Coach, &first, 0), msg(Role::User, "Yes.", 1)];
        assert!(rules_reply(PrepType::Sales, &short).starts_with("That was short"));
    }

    #[test]
    fn the_window_keeps_ten_turns_verbatim_and_summarises_the_rest() {
        let short = transcript(10);
        let (summary, recent) = context_window(&short);
        assert!(summary.is_empty());
        assert_eq!(recent.len(), short.len());

        let long = transcript(13);
        let (summary, recent) = context_window(&long);
        assert_eq!(recent.iter().filter(|m| m.role == Role::User).count(), 10);
        // The kept part starts with the question the first kept answer replies to.
        assert_eq!(recent[0].text, "question 3");
        assert_eq!(recent[1].text, "answer 4");
        assert!(summary.contains("3 answers"), "{summary}");
        assert!(summary.contains("Q: question 0 A: answer 1"), "{summary}");
        assert!(!summary.contains("answer 4"));
    }
}
