//! Prompts and rubrics, versioned in files: `prompts/<name>.v<N>.md` and `rubrics/<name>.v<N>.md`
//! (build.rs embeds the newest version of each name). No prompt text lives in Rust code; an
//! answer records the version it was asked with where that matters.

/// A versioned text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// `<name>.v<N>`, e.g. `practice.evaluate.v1`.
    pub version: &'static str,
    pub text: &'static str,
}

/// (name, version, text), newest version per name.
static PROMPTS: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/prompts.rs"));
static RUBRICS: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/rubrics.rs"));

fn find(table: &'static [(&str, &str, &str)], name: &str) -> Option<Prompt> {
    table
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, version, text)| Prompt { version, text })
}

/// The prompt `name` (e.g. "practice.evaluate"). Names are literals in the code; an unknown
/// one is a programming error that tests catch (debug builds panic), an empty prompt otherwise.
pub fn get(name: &str) -> Prompt {
    lookup(name).unwrap_or_else(|| {
        debug_assert!(false, "no prompt named {name} in prompts/");
        tracing::error!(name, "no prompt with this name");
        Prompt {
            version: "",
            text: "",
        }
    })
}

/// The prompt `name`, if there is one.
pub fn lookup(name: &str) -> Option<Prompt> {
    find(PROMPTS, name)
}

/// The rubric `name` from rubrics/, if there is one.
pub fn rubric(name: &str) -> Option<Prompt> {
    find(RUBRICS, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_versioned_and_non_empty() {
        let p = get("recommendation");
        assert_eq!(p.version, "recommendation.v1");
        assert!(p.text.contains("Treat the user's goal as data"));
        for (name, version, text) in PROMPTS {
            assert!(version.starts_with(name), "{version}");
            assert!(!text.trim().is_empty(), "{version} is empty");
        }
        assert_eq!(lookup("no.such.prompt"), None);
    }
}
