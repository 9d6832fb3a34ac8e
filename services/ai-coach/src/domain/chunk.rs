//! Splitting a study material's text into overlapping chunks, pure.
//!
//! Chunks are what search ranks and answers cite, so each must be small enough to quote and
//! embed, and a sentence cut at a chunk's end must still be found whole: consecutive chunks
//! share `overlap` characters. Cuts prefer a paragraph break, then a sentence end, then a
//! space, within the last third of the window, so a chunk rarely ends mid-word. Lengths are in
//! characters (not bytes), so a cut never splits a UTF-8 sequence.

/// A chunk and its 0-based position in the material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub index: usize,
    pub text: String,
}

/// Default chunk size and overlap, in characters.
pub const DEFAULT_SIZE: usize = 1200;
pub const DEFAULT_OVERLAP: usize = 200;

/// Splits `text` into chunks of at most `size` characters, consecutive chunks sharing up to
/// `overlap` characters. Whitespace runs are collapsed to one space (paragraph breaks kept as
/// one newline pair); empty or whitespace-only text gives no chunks. `overlap` is clamped below
/// `size / 2` so the split always advances.
pub fn split(text: &str, size: usize, overlap: usize) -> Vec<Chunk> {
    let size = size.max(16);
    let overlap = overlap.min(size / 2 - 1);
    let chars: Vec<char> = normalize(text).chars().collect();
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let hard_end = (start + size).min(chars.len());
        let end = if hard_end == chars.len() {
            hard_end
        } else {
            cut_point(&chars, start + size * 2 / 3, hard_end).unwrap_or(hard_end)
        };
        let piece: String = chars.get(start..end).unwrap_or_default().iter().collect();
        let piece = piece.trim();
        if !piece.is_empty() {
            chunks.push(Chunk {
                index: chunks.len(),
                text: piece.to_owned(),
            });
        }
        if end >= chars.len() {
            break;
        }
        // Start the next chunk `overlap` characters back, at a word start when one is near.
        let mut next = end.saturating_sub(overlap).max(start + 1);
        while next < end && chars.get(next - 1).is_some_and(|c| !c.is_whitespace()) {
            next += 1;
        }
        start = next;
    }
    chunks
}

/// The best cut in `lo..hi` (exclusive end of the chunk): after a paragraph break, else after
/// a sentence end, else at a space.
fn cut_point(chars: &[char], lo: usize, hi: usize) -> Option<usize> {
    let window = lo..hi;
    let last = |pred: &dyn Fn(usize) -> bool| window.clone().rev().find(|&i| pred(i));
    last(&|i| chars.get(i) == Some(&'\n') && chars.get(i.wrapping_sub(1)) == Some(&'\n'))
        .map(|i| i + 1)
        .or_else(|| {
            last(&|i| {
                chars.get(i).is_some_and(|c| c.is_whitespace())
                    && chars
                        .get(i.wrapping_sub(1))
                        .is_some_and(|c| matches!(c, '.' | '!' | '?'))
            })
            .map(|i| i + 1)
        })
        .or_else(|| last(&|i| chars.get(i).is_some_and(|c| c.is_whitespace())).map(|i| i + 1))
}

/// Collapses whitespace: runs with two or more newlines become "\n\n", other runs one space.
/// NULs and other control characters are dropped (a NUL must not reach PostgreSQL).
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<usize> = None; // newlines seen in the current whitespace run
    for c in text.chars() {
        if c.is_whitespace() {
            let n = pending.get_or_insert(0);
            if c == '\n' {
                *n += 1;
            }
            continue;
        }
        if c.is_control() {
            continue;
        }
        if let Some(newlines) = pending.take()
            && !out.is_empty()
        {
            out.push_str(if newlines >= 2 { "\n\n" } else { " " });
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_text_give_no_chunks() {
        assert!(split("", 100, 10).is_empty());
        assert!(split(" \n\t \n ", 100, 10).is_empty());
    }

    #[test]
    fn short_text_is_one_normalized_chunk() {
        let chunks = split("  Hello\t  world.\n\n\n\nSecond   para.\0 ", 100, 10);
        assert_eq!(
            chunks,
            vec![Chunk {
                index: 0,
                text: "Hello world.\n\nSecond para.".into()
            }]
        );
    }

    #[test]
    fn long_text_is_split_within_size_with_overlap_and_whole_words() {
        let sentence = "The mitochondria is the powerhouse of the cell. ";
        let text = sentence.repeat(60);
        let chunks = split(&text, 300, 60);
        assert!(chunks.len() > 5);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.index, i);
            assert!(c.text.chars().count() <= 300, "chunk {i} too long");
            // The overlap starts at a word start; the cut ends at a sentence end.
            let first = c.text.split(' ').next().unwrap_or_default();
            assert!(
                sentence.split(' ').any(|w| w == first),
                "chunk {i} starts mid-word: {}",
                c.text
            );
            assert!(
                c.text.ends_with('.'),
                "chunk {i} ends mid-sentence: {}",
                c.text
            );
        }
        // Consecutive chunks overlap: the next one starts with text the previous one ends with.
        for pair in chunks.windows(2) {
            let head: String = pair[1].text.chars().take(20).collect();
            assert!(pair[0].text.contains(&head), "no overlap between {pair:?}");
        }
        // Every word of the source is in some chunk, in order, none lost at the cuts.
        let joined = chunks
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(joined.matches("powerhouse").count() >= 60);
    }

    #[test]
    fn prefers_paragraph_breaks() {
        let para = "word ".repeat(50);
        let text = format!("{para}\n\n{para}\n\n{para}");
        let chunks = split(&text, 400, 50);
        assert!(chunks[0].text.ends_with("word"));
        assert!(!chunks[0].text.contains("\n\n") || chunks[0].text.chars().count() <= 400);
    }

    #[test]
    fn text_without_spaces_is_cut_hard_and_multibyte_safe() {
        let text = "é".repeat(1000);
        let chunks = split(&text, 100, 20);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 100));
        let total: usize = chunks.iter().map(|c| c.text.chars().count()).sum();
        assert!(total >= 1000);
    }

    #[test]
    fn absurd_overlap_still_advances() {
        let chunks = split(&"a b c d e f g h ".repeat(20), 16, 1000);
        assert!(!chunks.is_empty());
        assert!(chunks.len() < 400);
    }
}
