//! activity-session's rules, with their unit tests: what an activity is ([`activity`]) and what
//! a session may be planned for and records when it completes ([`session`]). Pure: no database,
//! no transport.

pub mod activity;
pub mod exercise;
pub mod plan_template;
pub mod routine;
pub mod session;
// Tasks, shutdown reflections (issue 13, part C).
pub mod plans;
pub mod reflection;
pub mod task;
pub mod workouts;

/// A stored value this code does not know: a row written against the schema's checks, or by a
/// newer version. Decoding such a row fails rather than guessing.
#[derive(Debug)]
pub struct Unknown {
    what: &'static str,
    value: String,
}

impl Unknown {
    fn new(what: &'static str, value: String) -> Self {
        Self { what, value }
    }
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} {:?}", self.what, self.value)
    }
}

impl std::error::Error for Unknown {}
