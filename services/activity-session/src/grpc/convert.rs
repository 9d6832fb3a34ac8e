//! proto ⇄ domain values both resources use.

use stride_proto::activity_session as pb;

use std::collections::HashMap;

use stride_kit::Violations;

use crate::{
    domain::{
        activity::Kind,
        exercise::{self, Difficulty, Facet, Language},
    },
    store::exercises::TermRow,
};

pub fn kind(k: Kind) -> pb::ActivityKind {
    match k {
        Kind::Focus => pb::ActivityKind::Focus,
        Kind::Break => pb::ActivityKind::Break,
        Kind::Workout => pb::ActivityKind::Workout,
        Kind::Study => pb::ActivityKind::Study,
        Kind::Meditation => pb::ActivityKind::Meditation,
        Kind::Custom => pb::ActivityKind::Custom,
    }
}

/// The kind a request names: `Ok(None)` for UNSPECIFIED (no filter), `Err` for a value the
/// enum does not have.
pub fn from_kind(raw: i32) -> Result<Option<Kind>, ()> {
    match pb::ActivityKind::try_from(raw).map_err(|_| ())? {
        pb::ActivityKind::Unspecified => Ok(None),
        pb::ActivityKind::Focus => Ok(Some(Kind::Focus)),
        pb::ActivityKind::Break => Ok(Some(Kind::Break)),
        pb::ActivityKind::Workout => Ok(Some(Kind::Workout)),
        pb::ActivityKind::Study => Ok(Some(Kind::Study)),
        pb::ActivityKind::Meditation => Ok(Some(Kind::Meditation)),
        pb::ActivityKind::Custom => Ok(Some(Kind::Custom)),
    }
}

/// Whole seconds as stored, as a proto duration.
pub fn seconds(s: i32) -> prost_types::Duration {
    stride_kit::convert::duration(time::Duration::seconds(i64::from(s)))
}

/// The language a request's `field` asks for (see [`Language::negotiate`]).
pub fn language(v: &mut Violations, field: &str, raw: &str) -> Language {
    Language::negotiate(raw).unwrap_or_else(|why| {
        v.add(field, why);
        Language::En
    })
}

pub fn difficulty(d: Difficulty) -> pb::Difficulty {
    match d {
        Difficulty::Beginner => pb::Difficulty::Beginner,
        Difficulty::Intermediate => pb::Difficulty::Intermediate,
        Difficulty::Advanced => pb::Difficulty::Advanced,
    }
}

/// The difficulty a request filters on: None for UNSPECIFIED; a violation on `field` for a
/// value the enum does not have.
pub fn from_difficulty(v: &mut Violations, field: &str, raw: i32) -> Option<Difficulty> {
    match pb::Difficulty::try_from(raw) {
        Ok(pb::Difficulty::Unspecified) => None,
        Ok(pb::Difficulty::Beginner) => Some(Difficulty::Beginner),
        Ok(pb::Difficulty::Intermediate) => Some(Difficulty::Intermediate),
        Ok(pb::Difficulty::Advanced) => Some(Difficulty::Advanced),
        Err(_) => {
            v.add(field, "is not a known difficulty");
            None
        }
    }
}

pub fn facet(f: Facet) -> pb::ExerciseFacet {
    match f {
        Facet::Muscle => pb::ExerciseFacet::Muscle,
        Facet::Equipment => pb::ExerciseFacet::Equipment,
        Facet::Goal => pb::ExerciseFacet::Goal,
        Facet::Category => pb::ExerciseFacet::Category,
    }
}

/// The facet a request names: None for UNSPECIFIED; a violation for an unknown value.
pub fn from_facet(v: &mut Violations, field: &str, raw: i32) -> Option<Facet> {
    match pb::ExerciseFacet::try_from(raw) {
        Ok(pb::ExerciseFacet::Unspecified) => None,
        Ok(pb::ExerciseFacet::Muscle) => Some(Facet::Muscle),
        Ok(pb::ExerciseFacet::Equipment) => Some(Facet::Equipment),
        Ok(pb::ExerciseFacet::Goal) => Some(Facet::Goal),
        Ok(pb::ExerciseFacet::Category) => Some(Facet::Category),
        Err(_) => {
            v.add(field, "is not a known facet");
            None
        }
    }
}

/// The library's vocabulary in one language: checks the keys a request filters on and labels
/// the keys a response carries.
pub struct Vocabulary(HashMap<(Facet, String), String>);

impl Vocabulary {
    pub fn new(rows: Vec<TermRow>) -> Self {
        Self(
            rows.into_iter()
                .map(|t| ((t.facet, t.key), t.label))
                .collect(),
        )
    }

    /// `key` as a term; a key the vocabulary lacks (a row written ahead of its term) is its own
    /// label.
    pub fn term(&self, facet: Facet, key: &str) -> pb::ExerciseTerm {
        pb::ExerciseTerm {
            key: key.to_owned(),
            label: self
                .0
                .get(&(facet, key.to_owned()))
                .cloned()
                .unwrap_or_else(|| key.to_owned()),
            facet: self::facet(facet) as i32,
        }
    }

    pub fn terms(&self, facet: Facet, keys: &[String]) -> Vec<pb::ExerciseTerm> {
        keys.iter().map(|k| self.term(facet, k)).collect()
    }

    /// `raw` as a filter key of `facet`: empty is no filter; a violation on `field` when it is
    /// not a key of that facet.
    pub fn key(&self, v: &mut Violations, field: &str, facet: Facet, raw: &str) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        if !exercise::is_key(raw) || !self.0.contains_key(&(facet, raw.to_owned())) {
            v.add(
                field,
                &format!(
                    "is not a known {} key (see ListExerciseTerms)",
                    facet.as_str()
                ),
            );
            return None;
        }
        Some(raw.to_owned())
    }

    /// A repeated filter: at most [`exercise::MAX_FILTER_KEYS`] keys of `facet`, each named by
    /// its index when unknown; duplicates collapse.
    pub fn keys(
        &self,
        v: &mut Violations,
        field: &str,
        facet: Facet,
        raw: &[String],
    ) -> Vec<String> {
        if raw.len() > exercise::MAX_FILTER_KEYS {
            v.add(field, "takes at most 20 keys");
            return Vec::new();
        }
        let mut keys = Vec::with_capacity(raw.len());
        for (i, k) in raw.iter().enumerate() {
            let field = format!("{field}[{i}]");
            if k.is_empty() {
                v.add(&field, "must not be empty");
            } else if let Some(k) = self.key(v, &field, facet, k)
                && !keys.contains(&k)
            {
                keys.push(k);
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_both_ways() {
        for k in Kind::ALL {
            assert_eq!(from_kind(kind(k) as i32), Ok(Some(k)));
        }
        assert_eq!(from_kind(pb::ActivityKind::Unspecified as i32), Ok(None));
        assert_eq!(from_kind(42), Err(()));
    }
}
