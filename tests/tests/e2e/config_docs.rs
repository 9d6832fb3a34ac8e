//! Every variable a binary reads is documented once, in docs/configuration.md, and the document
//! lists nothing the code does not read. The code's own list is what its parsers ask for: each
//! binary's config parser runs against a recording lookup (once with nothing set, once with the
//! document's example values, which also turns on optional groups such as S3 or Twilio), and
//! the names asked for must be exactly the documented ones for that binary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use stride_kit::config::{Env, FILE_SUFFIX, SECRETS_DIR};

type Parser = fn(Env);

/// Each binary and its configuration parser (what `serve` reads before starting).
fn binaries() -> Vec<(&'static str, Parser)> {
    vec![
        ("stride-auth", |env| {
            let _ = stride_auth::Config::read(env);
        }),
        ("stride-profile", |env| {
            let _ = stride_profile::Config::read(env);
        }),
        ("stride-activity-session", |env| {
            let _ = stride_kit::service::Config::read(env, "activity-session");
        }),
        ("stride-challenge", |env| {
            let _ = stride_kit::service::Config::read(env, "challenge");
        }),
        ("stride-analytics", |env| {
            let _ = stride_analytics::Config::read(env);
        }),
        ("stride-ai-coach", |env| {
            let _ = stride_ai_coach::Config::read(env);
        }),
        ("stride-gateway", |env| {
            let _ = stride_gateway::Config::read(env);
        }),
    ]
}

/// Names `parser` asks for when `values` are set (the `_FILE` and secrets-directory variants
/// every name has are documented once, not per name).
fn names_read(parser: Parser, values: &BTreeMap<String, String>) -> BTreeSet<String> {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let (record, values) = (seen.clone(), values.clone());
    parser(Env::from_fn(move |name| {
        if name != SECRETS_DIR {
            record.lock().unwrap().insert(name.to_owned());
        }
        values.get(name).cloned()
    }));
    let names = seen.lock().unwrap().clone();
    // `NAME_FILE` asked right after `NAME` is the kit's file variant, documented once.
    names
        .iter()
        .filter(|n| {
            n.strip_suffix(FILE_SUFFIX)
                .is_none_or(|base| !names.contains(base))
        })
        .cloned()
        .collect()
}

/// Sections of docs/configuration.md: `## \`binary\`` headings (or `## Every service` / `## Every
/// binary`) followed by a table whose first column is `` `NAME` `` and last column an example.
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = Some(h.trim().trim_matches('`').to_owned());
            continue;
        }
        let Some(section) = &current else { continue };
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_owned();
        let example = cells[cells.len() - 2].trim_matches('`').to_owned();
        let previous = sections
            .entry(section.clone())
            .or_default()
            .insert(name.clone(), example);
        assert!(previous.is_none(), "{name} documented twice in {section}");
    }
    sections
}

#[test]
fn every_variable_each_binary_reads_is_documented_once() {
    let docs = documented();
    let common = docs.get("Every service").cloned().unwrap_or_default();
    let mut all_documented: BTreeMap<String, String> = BTreeMap::new();
    for (section, names) in &docs {
        for name in names.keys() {
            if let Some(other) = all_documented.insert(name.clone(), section.clone()) {
                panic!("{name} is documented in both {other} and {section}: document it once");
            }
        }
    }
    let mut problems = Vec::new();
    let mut used_common = BTreeSet::new();
    for (binary, parser) in binaries() {
        let own = docs.get(binary).cloned().unwrap_or_default();
        let mut examples: BTreeMap<String, String> = common.clone();
        examples.extend(own.clone());
        let mut read = names_read(parser, &BTreeMap::new());
        read.extend(names_read(parser, &examples));
        for name in &read {
            if common.contains_key(name) {
                used_common.insert(name.clone());
            } else if !own.contains_key(name) {
                problems.push(format!("{binary} reads {name}, documented nowhere for it"));
            }
        }
        for name in own.keys() {
            if !read.contains(name) {
                problems.push(format!("{binary}: {name} is documented but never read"));
            }
        }
    }
    for name in common.keys() {
        if !used_common.contains(name) {
            problems.push(format!("Every service: {name} is read by no binary"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/configuration.md and the code disagree:\n  {}",
        problems.join("\n  ")
    );
}
