//! Study materials' rules, pure: what an upload may be, the processing states, how the search
//! ranks chunks (full text, cosine similarity, and their fusion), the citations an answer may
//! carry, and the rules' answer quoting the best passages (ADR 0030).

use serde::Deserialize;
use uuid::Uuid;

/// Largest upload, in bytes (2 MiB): under the gateway's 4 MiB message limit even as base64 in
/// a JSON body.
pub const MAX_CONTENT_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_FILENAME_CHARS: usize = 255;
/// Most chunks one material may give (at the chunker's defaults, about 2 million characters).
pub const MAX_CHUNKS: usize = 2000;
/// Chunks embedded per request to the model endpoint (and per progress update).
pub const EMBED_BATCH: usize = 32;
/// Most materials a query may name.
pub const MAX_QUERY_MATERIALS: usize = 20;
pub const DEFAULT_CITATIONS: usize = 5;
pub const MAX_CITATIONS: usize = 10;
/// Most characters of a chunk quoted in a citation.
pub const EXCERPT_CHARS: usize = 600;
/// Most embedded chunks one query scans (the newest materials' first): bounds the cost of the
/// cosine scan in SQL.
pub const MAX_SCANNED_CHUNKS: i64 = 5000;
/// Candidates each ranking contributes to the fusion.
pub const CANDIDATES: usize = 20;
/// Reciprocal rank fusion's constant (Cormack et al.: 60 works across collections).
const RRF_K: f32 = 60.0;

/// What an upload holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Markdown,
    Pdf,
}

impl Kind {
    pub fn from_content_type(s: &str) -> Option<Self> {
        // Parameters (`; charset=utf-8`) are allowed; the text types must be UTF-8 anyway.
        let base = s.split(';').next().unwrap_or_default().trim();
        match base.to_ascii_lowercase().as_str() {
            "text/plain" => Some(Self::Text),
            "text/markdown" => Some(Self::Markdown),
            "application/pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// The content type stored and returned.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text/plain",
            Self::Markdown => "text/markdown",
            Self::Pdf => "application/pdf",
        }
    }
}

/// An upload's fields, checked; each error names its field.
#[derive(Debug, PartialEq, Eq)]
pub struct Upload {
    pub title: String,
    pub filename: String,
    pub kind: Kind,
}

/// Checks an upload's fields; Err lists (field, problem) for every bad one.
pub fn upload(
    title: &str,
    filename: &str,
    content_type: &str,
    content: &[u8],
) -> Result<Upload, Vec<(&'static str, String)>> {
    let mut bad = Vec::new();
    let title = title.trim();
    if title.is_empty() {
        bad.push(("title", "must not be empty".to_owned()));
    } else if title.chars().count() > MAX_TITLE_CHARS {
        bad.push((
            "title",
            format!("must be at most {MAX_TITLE_CHARS} characters"),
        ));
    } else if title.chars().any(char::is_control) {
        bad.push(("title", "must not contain control characters".to_owned()));
    }
    let filename = filename.trim();
    if filename.is_empty() {
        bad.push(("filename", "must not be empty".to_owned()));
    } else if filename.chars().count() > MAX_FILENAME_CHARS {
        bad.push((
            "filename",
            format!("must be at most {MAX_FILENAME_CHARS} characters"),
        ));
    } else if filename
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        bad.push((
            "filename",
            "must not contain control characters or path separators".to_owned(),
        ));
    }
    let kind = Kind::from_content_type(content_type);
    if kind.is_none() {
        bad.push((
            "content_type",
            "must be text/plain, text/markdown or application/pdf".to_owned(),
        ));
    }
    if content.is_empty() {
        bad.push(("content", "must not be empty".to_owned()));
    } else if content.len() > MAX_CONTENT_BYTES {
        bad.push((
            "content",
            format!(
                "is {} bytes; at most {MAX_CONTENT_BYTES} bytes (2 MiB)",
                content.len()
            ),
        ));
    } else {
        match kind {
            Some(Kind::Pdf) if !content.starts_with(b"%PDF-") => {
                bad.push(("content", "is not a PDF (no %PDF- header)".to_owned()));
            }
            Some(Kind::Text | Kind::Markdown) if std::str::from_utf8(content).is_err() => {
                bad.push(("content", "is not UTF-8 text".to_owned()));
            }
            _ => {}
        }
    }
    match (bad.is_empty(), kind) {
        (true, Some(kind)) => Ok(Upload {
            title: title.to_owned(),
            filename: filename.to_owned(),
            kind,
        }),
        _ => Err(bad),
    }
}

/// The text of a text or Markdown upload (checked UTF-8 at upload; a byte-order mark dropped).
pub fn text_of(content: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(content).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s).to_owned())
}

/// Where a material is in its processing (stored as its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Processing,
    Ready,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "processing" => Some(Self::Processing),
            "ready" => Some(Self::Ready),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// A job seeing this status has nothing left to do.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Failed)
    }
}

/// The question's words joined by `or`, for `websearch_to_tsquery`: a chunk matching any word
/// is a candidate and `ts_rank` favours the ones matching more (an implicit AND would miss a
/// passage lacking one word of a natural question). Stop words vanish in the English parser.
pub fn or_query(question: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = w.to_lowercase();
        // `or` itself would read as the operator.
        if w != "or" && !words.contains(&w) {
            words.push(w);
        }
        if words.len() == 32 {
            break;
        }
    }
    words.join(" or ")
}

/// `v` scaled to unit length (cosine similarity is then a dot product); None when it has no
/// direction or a value that is not finite.
pub fn normalize(v: &[f32]) -> Option<Vec<f32>> {
    if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm > 0.0 && norm.is_finite()).then(|| v.iter().map(|x| x / norm).collect())
}

/// A ranked chunk of one of the caller's materials.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub material_id: Uuid,
    pub idx: i32,
    /// 0–1.
    pub score: f32,
    /// Whether the chunk carries an embedding of the model searched with (a chunk without one
    /// can only be ranked by full text).
    pub embedded: bool,
}

/// Fuses the vector and the full-text rankings (best first each) by reciprocal rank fusion:
/// each chunk scores Σ 1/(60 + rank) over the lists it is in, scaled so a chunk first in both
/// scores 1. A chunk without an embedding (a model change, a failed embedding) cannot be in the
/// vector list, so its full-text rank counts for both: it competes on equal terms instead of
/// trailing every chunk both lists found. Returns the best `limit`, ties in first-seen order.
pub fn fuse(vector: &[Hit], lexical: &[Hit], limit: usize) -> Vec<Hit> {
    let mut fused: Vec<Hit> = Vec::new();
    for (list, is_lexical) in [(vector, false), (lexical, true)] {
        for (rank, h) in list.iter().enumerate() {
            let weight = if is_lexical && !h.embedded { 2.0 } else { 1.0 };
            let add = weight / (RRF_K + rank as f32 + 1.0);
            match fused
                .iter_mut()
                .find(|f| f.material_id == h.material_id && f.idx == h.idx)
            {
                Some(f) => f.score += add,
                None => fused.push(Hit {
                    score: add,
                    ..h.clone()
                }),
            }
        }
    }
    let best = 2.0 / (RRF_K + 1.0);
    for f in &mut fused {
        f.score = (f.score / best).min(1.0);
    }
    // Stable: equal scores keep the vector list's order first.
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused.truncate(limit);
    fused
}

/// A passage given to the model or quoted by the rules: a chunk with its material's title.
#[derive(Clone, Debug, PartialEq)]
pub struct Passage {
    pub material_id: Uuid,
    pub material_title: String,
    pub idx: i32,
    pub text: String,
    pub score: f32,
}

/// At most [`EXCERPT_CHARS`] of `text`, cut at a word with "…" when cut.
pub fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(EXCERPT_CHARS).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > EXCERPT_CHARS / 2 => cut.get(..i).unwrap_or(&cut).to_owned(),
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

/// The passages as the model reads them: numbered from 1, with their material and part.
pub fn passages_prompt(question: &str, passages: &[Passage]) -> String {
    let mut out = format!("Question: {question}\n\nPassages:\n");
    for (i, p) in passages.iter().enumerate() {
        out.push_str(&format!(
            "\n[{}] ({}, part {})\n{}\n",
            i + 1,
            p.material_title,
            p.idx + 1,
            p.text
        ));
    }
    out
}

/// The model's answer as asked by `materials.answer`: text and the passage numbers it used.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ModelAnswer {
    pub answer: String,
    pub citations: Vec<i64>,
}

const MAX_ANSWER_CHARS: usize = 4000;

/// The JSON schema of [`ModelAnswer`] (strict structured output).
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": MAX_ANSWER_CHARS},
            "citations": {"type": "array", "items": {"type": "integer"}, "maxItems": MAX_CITATIONS}
        },
        "required": ["answer", "citations"],
        "additionalProperties": false
    })
}

/// The model's answer with its citations checked: numbers that name no passage given are
/// dropped, repeats kept once, in the model's order. Err (the fallback reason) when the answer
/// is empty or cites no passage it was given.
pub fn accept(
    m: ModelAnswer,
    passages: &[Passage],
) -> Result<(String, Vec<Passage>), &'static str> {
    let answer = m.answer.trim();
    if answer.is_empty() {
        return Err("the answer is empty");
    }
    let mut cited: Vec<usize> = Vec::new();
    for n in m.citations {
        if let Some(i) = usize::try_from(n).ok().and_then(|n| n.checked_sub(1))
            && i < passages.len()
            && !cited.contains(&i)
        {
            cited.push(i);
        }
    }
    if cited.is_empty() {
        return Err("it cites none of the passages it was given");
    }
    let used = cited
        .into_iter()
        .filter_map(|i| passages.get(i).cloned())
        .collect();
    Ok((answer.chars().take(MAX_ANSWER_CHARS).collect(), used))
}

/// The rules' answer: the best passages quoted with their material, numbered like the
/// citations; `why` says why no model wrote it. No passage: says so and what to try.
pub fn rules_answer(passages: &[Passage], why: &str) -> String {
    if passages.is_empty() {
        return format!(
            "Nothing in your materials matches this question. Try other words (names and terms \
             from the material work best), or upload a material that covers it. (Answered by \
             rules: {why}.)"
        );
    }
    let mut out = format!(
        "Here are the passages of your materials closest to your question (answered by rules: \
         {why}):\n"
    );
    for (i, p) in passages.iter().enumerate() {
        out.push_str(&format!(
            "\n[{}] {}, part {}: \"{}\"\n",
            i + 1,
            p.material_title,
            p.idx + 1,
            excerpt(&p.text)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(m: Uuid, idx: i32) -> Hit {
        Hit {
            material_id: m,
            idx,
            score: 0.5,
            embedded: true,
        }
    }

    fn passage(idx: i32, text: &str) -> Passage {
        Passage {
            material_id: Uuid::nil(),
            material_title: "Biology".into(),
            idx,
            text: text.into(),
            score: 0.5,
        }
    }

    #[test]
    fn uploads_are_checked_field_by_field() {
        let ok = upload(
            " Notes ",
            "notes.md",
            "text/markdown; charset=utf-8",
            b"# Hi",
        )
        .unwrap();
        assert_eq!(
            ok,
            Upload {
                title: "Notes".into(),
                filename: "notes.md".into(),
                kind: Kind::Markdown
            }
        );
        assert_eq!(
            upload("t", "a.pdf", "application/pdf", b"%PDF-1.4 ...")
                .unwrap()
                .kind,
            Kind::Pdf
        );
        let fields = |r: Result<Upload, Vec<(&'static str, String)>>| {
            r.unwrap_err()
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(upload("", "", "image/png", b"")),
            vec!["title", "filename", "content_type", "content"]
        );
        assert_eq!(
            fields(upload("t", "../etc/passwd", "text/plain", b"x")),
            vec!["filename"]
        );
        assert_eq!(
            fields(upload(&"x".repeat(201), "a", "text/plain", b"x")),
            vec!["title"]
        );
        assert_eq!(
            fields(upload(
                "t",
                "a",
                "text/plain",
                &vec![b'a'; MAX_CONTENT_BYTES + 1]
            )),
            vec!["content"]
        );
        assert_eq!(
            fields(upload("t", "a", "application/pdf", b"hello")),
            vec!["content"]
        );
        assert_eq!(
            fields(upload("t", "a", "text/plain", &[0xff, 0xfe, 0x00])),
            vec!["content"]
        );
        // Exactly the cap is fine.
        assert!(upload("t", "a", "text/plain", &vec![b'a'; MAX_CONTENT_BYTES]).is_ok());
    }

    #[test]
    fn text_drops_a_byte_order_mark() {
        assert_eq!(text_of("\u{feff}Hello".as_bytes()).unwrap(), "Hello");
        assert!(text_of(&[0xc3]).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            Status::Pending,
            Status::Processing,
            Status::Ready,
            Status::Failed,
        ] {
            assert_eq!(Status::from_db(s.as_str()), Some(s));
        }
        assert!(Status::Ready.is_final() && !Status::Processing.is_final());
        assert_eq!(Status::from_db("done"), None);
    }

    #[test]
    fn the_full_text_query_ors_the_distinct_words() {
        assert_eq!(
            or_query("What do Mitochondria do, or make?"),
            "what or do or mitochondria or make"
        );
        assert_eq!(or_query("  ?! "), "");
        assert_eq!(
            or_query(&(0..100).map(|i| format!("w{i} ")).collect::<String>())
                .split(" or ")
                .count(),
            32
        );
    }

    #[test]
    fn embeddings_are_normalised_or_refused() {
        let v = normalize(&[3.0, 4.0]).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalize(&[0.0, 0.0]), None);
        assert_eq!(normalize(&[]), None);
        assert_eq!(normalize(&[f32::NAN, 1.0]), None);
    }

    #[test]
    fn fusion_rewards_chunks_both_rankings_agree_on() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let vector = vec![hit(a, 0), hit(a, 1), hit(b, 4)];
        let lexical = vec![hit(b, 4), hit(b, 9)];
        let fused = fuse(&vector, &lexical, 3);
        // b/4 is in both lists: first. a/0 (first by vector) beats b/9 (second lexical).
        let order: Vec<(Uuid, i32)> = fused.iter().map(|h| (h.material_id, h.idx)).collect();
        assert_eq!(order, vec![(b, 4), (a, 0), (a, 1)]);
        assert!(fused.iter().all(|h| h.score > 0.0 && h.score <= 1.0));
        // First in both is a perfect 1.
        let top = fuse(&[hit(a, 0)], &[hit(a, 0)], 5);
        assert!((top[0].score - 1.0).abs() < 1e-6);
        // A chunk only the full text found (no embedding) is still returned, and ranks as if
        // the vector list had placed it where the full text did.
        let only_lexical = fuse(&[], &[hit(b, 2)], 5);
        assert_eq!(only_lexical.len(), 1);
        let unembedded = Hit {
            embedded: false,
            ..hit(b, 7)
        };
        let both: Vec<Hit> = (0..5).map(|i| hit(a, i)).collect();
        let mixed = fuse(&both, &[unembedded, hit(a, 0), hit(a, 1)], 3);
        assert_eq!((mixed[0].material_id, mixed[0].idx), (b, 7), "{mixed:?}");
        assert!((mixed[0].score - 1.0).abs() < 1e-6);
        assert!(fuse(&[], &[], 5).is_empty());
    }

    #[test]
    fn excerpts_are_bounded_and_cut_at_a_word() {
        assert_eq!(excerpt("short"), "short");
        let long = "word ".repeat(300);
        let e = excerpt(&long);
        assert!(e.chars().count() <= EXCERPT_CHARS + 1);
        assert!(e.ends_with("word…"), "{e}");
    }

    #[test]
    fn model_citations_are_checked_against_the_passages_given() {
        let ps = vec![passage(0, "alpha"), passage(3, "beta")];
        let (text, used) = accept(
            ModelAnswer {
                answer: " Beta, then alpha. ".into(),
                citations: vec![2, 7, 0, -1, 2, 1],
            },
            &ps,
        )
        .unwrap();
        assert_eq!(text, "Beta, then alpha.");
        assert_eq!(used.iter().map(|p| p.idx).collect::<Vec<_>>(), vec![3, 0]);
        assert_eq!(
            accept(
                ModelAnswer {
                    answer: "x".into(),
                    citations: vec![3, 99]
                },
                &ps
            ),
            Err("it cites none of the passages it was given")
        );
        assert_eq!(
            accept(
                ModelAnswer {
                    answer: "  ".into(),
                    citations: vec![1]
                },
                &ps
            ),
            Err("the answer is empty")
        );
    }

    #[test]
    fn the_rules_quote_the_passages_and_say_why() {
        let a = rules_answer(
            &[passage(2, "Mitochondria release energy.")],
            "no model is configured",
        );
        assert!(
            a.contains("[1] Biology, part 3: \"Mitochondria release energy.\""),
            "{a}"
        );
        assert!(a.contains("no model is configured"), "{a}");
        let none = rules_answer(&[], "no model is configured");
        assert!(none.contains("Nothing in your materials matches"), "{none}");
    }

    #[test]
    fn the_prompt_numbers_the_passages_from_one() {
        let p = passages_prompt("Why?", &[passage(0, "alpha"), passage(4, "beta")]);
        assert!(p.starts_with("Question: Why?"));
        assert!(p.contains("[1] (Biology, part 1)\nalpha"), "{p}");
        assert!(p.contains("[2] (Biology, part 5)\nbeta"), "{p}");
    }
}
