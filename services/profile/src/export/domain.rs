//! Data export rules: the archive's layout (a gzip-compressed tar of JSON lines, one folder
//! per service, a manifest at the top), download tokens (random, stored hashed), and states.
//! Pure: no database, no transport.

use std::io::Write as _;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

/// The services an export gathers from, as named in the archive and in progress.
pub const SERVICES: [&str; 6] = [
    "auth",
    "profile",
    "activity-session",
    "challenge",
    "analytics",
    "ai-coach",
];

/// What one service returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part {
    pub service: String,
    /// (collection name, JSON rows)
    pub collections: Vec<(String, Vec<String>)>,
}

impl Part {
    pub fn item_count(&self) -> i64 {
        self.collections
            .iter()
            .map(|(_, rows)| rows.len() as i64)
            .sum()
    }
}

/// A name safe as one path component inside the archive.
fn component(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// The archive: `<root>/manifest.json` and `<root>/<service>/<collection>.jsonl` (one JSON
/// object per line; rows never contain a raw newline, JSON escapes it).
pub fn archive(root: &str, manifest: &str, parts: &[Part], mtime: u64) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let root = component(root);
    let mut add = |path: String, data: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, data)
    };
    add(format!("{root}/manifest.json"), manifest.as_bytes())?;
    for p in parts {
        for (name, rows) in &p.collections {
            let mut data = Vec::new();
            for r in rows {
                data.write_all(r.as_bytes())?;
                data.push(b'\n');
            }
            add(
                format!("{root}/{}/{}.jsonl", component(&p.service), component(name)),
                &data,
            )?;
        }
    }
    tar.into_inner()?.finish()
}

/// A fresh download token (256 random bits, base64url) from `random` bytes.
pub fn token_from(random: [u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// What is stored instead of the token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    Succeeded,
    Failed,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> State {
        match s {
            "succeeded" => State::Succeeded,
            "failed" => State::Failed,
            "expired" => State::Expired,
            _ => State::Running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn the_archive_holds_a_manifest_and_one_jsonl_per_collection() {
        let parts = vec![
            Part {
                service: "auth".into(),
                collections: vec![("account".into(), vec![r#"{"id":"a\nb"}"#.into()])],
            },
            Part {
                service: "../evil".into(),
                collections: vec![
                    ("x/../../y".into(), vec!["{}".into(), "{}".into()]),
                    ("empty".into(), vec![]),
                ],
            },
        ];
        assert_eq!(parts[1].item_count(), 2);
        let bytes = archive("stride-export-1", "{\"v\":1}", &parts, 0).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut files = Vec::new();
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            files.push((path, s));
        }
        assert_eq!(
            files,
            [
                ("stride-export-1/manifest.json".into(), "{\"v\":1}".into()),
                (
                    "stride-export-1/auth/account.jsonl".into(),
                    "{\"id\":\"a\\nb\"}\n".into()
                ),
                (
                    "stride-export-1/___evil/x_______y.jsonl".into(),
                    "{}\n{}\n".into()
                ),
                ("stride-export-1/___evil/empty.jsonl".into(), String::new()),
            ]
        );
    }

    #[test]
    fn tokens_are_long_and_stored_hashed() {
        let t = token_from([7; 32]);
        assert_eq!(t.len(), 43);
        assert_eq!(token_hash(&t).len(), 32);
        assert_ne!(token_hash(&t), token_hash(&token_from([8; 32])));
        for s in [
            State::Running,
            State::Succeeded,
            State::Failed,
            State::Expired,
        ] {
            assert_eq!(State::parse(s.as_str()), s);
        }
    }
}
