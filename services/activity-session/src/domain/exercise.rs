//! The exercise library's rules: which language a caller is served, the difficulty and facet
//! vocabularies, the shape of filter keys, and how a search box's text becomes a text search
//! query.

use super::Unknown;

/// A language the catalog has texts in. English is the base: every exercise and plan has it,
/// and it is served whenever the asked language is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Fr];

    /// The stored code (`exercise_translations.language`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }

    /// The language served for a request's `language`: empty is English; a language tag
    /// (`fr`, `fr-CA`, `FR_fr`) is served in its primary language when the catalog has it and in
    /// English otherwise. `Err` when the text is not a language tag at all.
    pub fn negotiate(raw: &str) -> Result<Language, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Language::En);
        }
        let mut parts = raw.split(['-', '_']);
        let primary = parts.next().unwrap_or_default();
        let well_formed = raw.len() <= 35
            && (2..=3).contains(&primary.len())
            && primary.chars().all(|c| c.is_ascii_alphabetic())
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if !well_formed {
            return Err("is not a language tag such as \"en\" or \"fr\"");
        }
        let primary = primary.to_ascii_lowercase();
        Ok(Self::ALL
            .into_iter()
            .find(|l| l.as_str() == primary)
            .unwrap_or(Language::En))
    }
}

impl TryFrom<String> for Language {
    type Error = Unknown;

    fn try_from(code: String) -> Result<Self, Unknown> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == code)
            .ok_or_else(|| Unknown::new("language", code))
    }
}

/// How hard an exercise or a plan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [
        Difficulty::Beginner,
        Difficulty::Intermediate,
        Difficulty::Advanced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Beginner => "beginner",
            Difficulty::Intermediate => "intermediate",
            Difficulty::Advanced => "advanced",
        }
    }
}

impl TryFrom<String> for Difficulty {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == name)
            .ok_or_else(|| Unknown::new("difficulty", name))
    }
}

/// A facet of the library's vocabulary (`exercise_terms.facet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Facet {
    Muscle,
    Equipment,
    Goal,
    Category,
}

impl Facet {
    pub const ALL: [Facet; 4] = [
        Facet::Muscle,
        Facet::Equipment,
        Facet::Goal,
        Facet::Category,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Facet::Muscle => "muscle",
            Facet::Equipment => "equipment",
            Facet::Goal => "goal",
            Facet::Category => "category",
        }
    }
}

impl TryFrom<String> for Facet {
    type Error = Unknown;

    fn try_from(name: String) -> Result<Self, Unknown> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| Unknown::new("facet", name))
    }
}

/// Most keys one repeated filter takes.
pub const MAX_FILTER_KEYS: usize = 20;
/// Longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words of a search that count; the rest are ignored.
const MAX_QUERY_WORDS: usize = 8;

/// Whether `key` has the shape of a vocabulary key (`exercise_terms.key`): lowercase ASCII
/// letters, digits and underscores, starting with a letter, at most 40 characters. Whether the
/// vocabulary has it is the store's to say.
pub fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A search box's text as a `to_tsquery` expression: every word must match (stemmed, accents
/// folded by the language's configuration), the last one as a prefix so results follow typing.
/// Words are runs of letters and digits, so the expression holds no operator a caller wrote.
/// `Ok(None)` for no search; `Err` says what is wrong with the text.
pub fn search_query(raw: &str) -> Result<Option<String>, &'static str> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    if raw.chars().count() > MAX_QUERY_CHARS {
        return Err("must be at most 200 characters");
    }
    let words: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_QUERY_WORDS)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Err("must contain a letter or a digit");
    }
    Ok(Some(format!("{}:*", words.join(" & "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_negotiated_with_english_as_the_fallback() {
        for (raw, want) in [
            ("", Language::En),
            ("  ", Language::En),
            ("en", Language::En),
            ("fr", Language::Fr),
            ("FR", Language::Fr),
            ("fr-CA", Language::Fr),
            ("fr_FR", Language::Fr),
            ("en-GB", Language::En),
            ("de", Language::En),
            ("zh-Hant-TW", Language::En),
        ] {
            assert_eq!(Language::negotiate(raw), Ok(want), "{raw:?}");
        }
        for bad in [
            "f",
            "french!",
            "fr-",
            "12",
            "fr--CA",
            "e n",
            "fr-toolongsubtag",
            "ïl",
        ] {
            assert!(Language::negotiate(bad).is_err(), "{bad:?}");
        }
        for l in Language::ALL {
            assert_eq!(Language::try_from(l.as_str().to_owned()).unwrap(), l);
        }
    }

    #[test]
    fn vocabularies_round_trip_by_their_stored_names() {
        for d in Difficulty::ALL {
            assert_eq!(Difficulty::try_from(d.as_str().to_owned()).unwrap(), d);
        }
        for f in Facet::ALL {
            assert_eq!(Facet::try_from(f.as_str().to_owned()).unwrap(), f);
        }
        assert!(Difficulty::try_from("expert".to_owned()).is_err());
        assert!(Facet::try_from("colour".to_owned()).is_err());
    }

    #[test]
    fn keys_have_one_shape() {
        for good in ["chest", "lower_back", "pull_up_bar", "a1"] {
            assert!(is_key(good), "{good}");
        }
        for bad in [
            "",
            "Chest",
            "1chest",
            "lower-back",
            "chest ",
            "pectoraux é",
            &"a".repeat(41),
        ] {
            assert!(!is_key(bad), "{bad}");
        }
    }

    #[test]
    fn search_text_becomes_a_conjunction_with_a_prefix_last_word() {
        assert_eq!(search_query(""), Ok(None));
        assert_eq!(search_query("   "), Ok(None));
        assert_eq!(search_query("squat"), Ok(Some("squat:*".into())));
        assert_eq!(
            search_query("Développé  couché"),
            Ok(Some("développé & couché:*".into()))
        );
        assert_eq!(search_query("push-up"), Ok(Some("push & up:*".into())));
        // Operators and quotes a caller types are separators, never syntax.
        assert_eq!(
            search_query("a & !b | 'c':* <-> (d)"),
            Ok(Some("a & b & c & d:*".into()))
        );
        assert_eq!(
            search_query("one two three four five six seven eight nine ten"),
            Ok(Some(
                "one & two & three & four & five & six & seven & eight:*".into()
            ))
        );
        assert!(search_query("!!! ---").is_err());
        assert!(search_query(&"a".repeat(201)).is_err());
        assert!(search_query(&"é".repeat(200)).is_ok());
    }
}
