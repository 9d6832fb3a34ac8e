//! CV / background text: its structured copy (sections of lines) and the redaction of personal
//! data from it.
//!
//! Redaction is deliberately rule-based and conservative — it replaces what it can recognise
//! and says so (`[email]`, `[phone]`, `[url]`, `[address]`, `[name]`):
//! - emails: `local@domain.tld`;
//! - URLs: `http(s)://…`, `www.…`, and bare `linkedin.com/…`-style host/path tokens;
//! - phone numbers: runs of 7 to 15 digits, possibly with `+`, spaces, dots, dashes, parentheses;
//! - street addresses: a house number followed within a few words by a street word
//!   (street, st, avenue, ave, road, rd, rue, boulevard, blvd, lane, ln, drive, dr, …);
//! - names: the value of a `Name:` / `Nom:` line, the first line when it looks like a personal
//!   name (2–4 capitalised words, nothing else), and any occurrence of the display name given.
//!
//! It cannot find every personal detail in free text (a name mid-sentence that is not the
//! display name, an address without a number); the API says "redacted where detectable".

pub const CV_TEXT_MAX: usize = 20_000;
const MAX_LINES: usize = 1000;

/// A heading and the lines under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<String>,
}

/// Splits `text` into sections: a heading is a short line ending with ':' or written in
/// capitals (e.g. "EXPERIENCE", "Education:"); blank lines are dropped; lines before the first
/// heading form a section without a heading.
pub fn structure(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(MAX_LINES)
    {
        if is_heading(line) {
            out.push(Section {
                heading: line.trim_end_matches(':').trim().to_owned(),
                lines: Vec::new(),
            });
        } else {
            match out.last_mut() {
                Some(s) => s.lines.push(line.to_owned()),
                None => out.push(Section {
                    heading: String::new(),
                    lines: vec![line.to_owned()],
                }),
            }
        }
    }
    out
}

fn is_heading(line: &str) -> bool {
    let n = line.chars().count();
    if n > 40 {
        return false;
    }
    let letters: Vec<char> = line.chars().filter(|c| c.is_alphabetic()).collect();
    let caps = letters.len() >= 3 && letters.iter().all(|c| c.is_uppercase());
    let colon = line.ends_with(':') && !line.trim_end_matches(':').contains(':');
    caps || colon
}

/// `text` with the personal data these rules recognise replaced by markers.
pub fn redact(text: &str, display_name: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut first_content = true;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            out.push(String::new());
            continue;
        }
        let mut l = redact_name_label(trimmed);
        if first_content && looks_like_a_name(&l) {
            l = "[name]".into();
        }
        first_content = false;
        l = l.split(' ').map(redact_token).collect::<Vec<_>>().join(" ");
        l = redact_phones(&l);
        l = redact_address(&l);
        l = redact_display_name(&l, display_name);
        out.push(l);
    }
    out.join("\n")
}

fn redact_name_label(line: &str) -> String {
    for label in ["name:", "nom:", "full name:", "nom complet:"] {
        if line.len() >= label.len()
            && line
                .get(..label.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(label))
        {
            let head = line.get(..label.len()).unwrap_or(label);
            return format!("{head} [name]");
        }
    }
    line.to_owned()
}

fn looks_like_a_name(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    (2..=4).contains(&words.len())
        && words.iter().all(|w| {
            let mut cs = w.chars();
            cs.next().is_some_and(char::is_uppercase)
                && cs.all(|c| c.is_lowercase() || c == '-' || c == '\'')
        })
}

/// Emails and URLs are single tokens.
fn redact_token(tok: &str) -> String {
    let core =
        tok.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '<' | '>' | '"' | '\''));
    let core = core.trim_end_matches('.');
    if core.is_empty() {
        return tok.to_owned();
    }
    let lower = core.to_ascii_lowercase();
    let marker = if is_email(core) {
        Some("[email]")
    } else if lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("www.")
        || looks_like_host_path(&lower)
    {
        Some("[url]")
    } else {
        None
    };
    match marker {
        Some(m) => tok.replacen(core, m, 1),
        None => tok.to_owned(),
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

fn looks_like_host_path(s: &str) -> bool {
    let Some((host, _)) = s.split_once('/') else {
        return false;
    };
    let Some((_, tld)) = host.rsplit_once('.') else {
        return false;
    };
    (2..=6).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// Runs of phone characters holding 7 to 15 digits.
fn redact_phones(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars.get(i).copied().unwrap_or(' ');
        if c.is_ascii_digit() || (c == '+' || c == '(') {
            let mut j = i;
            let mut digits = 0;
            while let Some(&d) = chars.get(j) {
                if d.is_ascii_digit() {
                    digits += 1;
                } else if !matches!(d, '+' | ' ' | '.' | '-' | '(' | ')') {
                    break;
                }
                j += 1;
            }
            // Do not swallow trailing separators.
            while j > i && chars.get(j - 1).is_some_and(|d| !d.is_ascii_digit()) {
                j -= 1;
            }
            let run: String = chars.get(i..j).unwrap_or_default().iter().collect();
            if (7..=15).contains(&digits) && !is_year_range(&run) {
                out.push_str("[phone]");
            } else {
                // Not a phone number: keep the whole run (so no tail of it is taken for one).
                out.push_str(&run);
            }
            if j > i {
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// "2019-2024", "(1998 - 2003)": two years, not a phone number.
fn is_year_range(run: &str) -> bool {
    let groups: Vec<&str> = run
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    groups.len() == 2
        && groups
            .iter()
            .all(|g| g.len() == 4 && (g.starts_with("19") || g.starts_with("20")))
}

const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "rue",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "place",
    "pl",
    "court",
    "ct",
    "chemin",
    "allée",
    "allee",
    "impasse",
    "square",
    "sq",
];

/// "12 Baker Street, London" → "[address], London": a number followed within four words by a
/// street word.
fn redact_address(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    for (i, w) in words.iter().enumerate() {
        let num = w.trim_end_matches(',');
        let is_number = !num.is_empty()
            && num.chars().next().is_some_and(|c| c.is_ascii_digit())
            && num.chars().count() <= 6
            && num.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !is_number {
            continue;
        }
        let window = words.iter().enumerate().skip(i + 1).take(4);
        for (k, s) in window {
            let bare = s.trim_end_matches([',', '.', ';']).to_lowercase();
            if STREET_WORDS.contains(&bare.as_str()) {
                // "42 rue de Rivoli, Paris": the street's name follows its word, up to a comma.
                let mut end = k;
                if k == i + 1 && !s.ends_with(',') {
                    while let Some(next) = words.get(end + 1) {
                        end += 1;
                        if next.ends_with(',') || end >= k + 4 {
                            break;
                        }
                    }
                }
                let last = words.get(end).copied().unwrap_or_default();
                let tail = if last.ends_with(',') { "," } else { "" };
                let mut out: Vec<String> = words.iter().take(i).map(|s| s.to_string()).collect();
                out.push(format!("[address]{tail}"));
                out.extend(words.iter().skip(end + 1).map(|s| s.to_string()));
                return redact_address(&out.join(" "));
            }
        }
    }
    line.to_owned()
}

fn redact_display_name(line: &str, name: &str) -> String {
    let name = name.trim();
    if name.chars().count() < 3 {
        return line.to_owned();
    }
    // Case-insensitive, on char boundaries of the lowercased copy (ASCII-safe lengths).
    let lower = line.to_lowercase();
    let needle = name.to_lowercase();
    if lower.len() != line.len() || !lower.contains(&needle) {
        return line.to_owned();
    }
    let mut out = String::new();
    let mut rest = 0;
    for (at, _) in lower.match_indices(&needle) {
        out.push_str(line.get(rest..at).unwrap_or_default());
        out.push_str("[name]");
        rest = at + needle.len();
    }
    out.push_str(line.get(rest..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CV: &str = "Ann Lee
Email: ann.lee@example.com, phone +33 6 12 34 56 78
12 Baker Street, London
https://linkedin.com/in/annlee and github.com/annlee

EXPERIENCE
Senior engineer at Acme (2019-2024)
Led a team of 5; Ann Lee's project won an award.

Education:
MSc Computer Science, 2018";

    #[test]
    fn personal_data_is_replaced_and_the_rest_kept() {
        let r = redact(CV, "Ann Lee");
        assert!(!r.contains("ann.lee@example.com"), "{r}");
        assert!(!r.contains("12 34 56 78"), "{r}");
        assert!(!r.contains("Baker"), "{r}");
        assert!(
            !r.contains("linkedin.com") && !r.contains("github.com"),
            "{r}"
        );
        assert!(!r.contains("Ann Lee"), "{r}");
        for kept in [
            "London",
            "Senior engineer at Acme (2019-2024)",
            "team of 5",
            "MSc Computer Science, 2018",
        ] {
            assert!(r.contains(kept), "{kept} lost: {r}");
        }
        assert!(
            r.starts_with(
                "[name]\nEmail: [email], phone [phone]\n[address], London\n[url] and [url]"
            ),
            "{r}"
        );
    }

    #[test]
    fn name_labels_and_short_numbers() {
        assert_eq!(
            redact("Name: Jean Dupont\nNom: X", ""),
            "Name: [name]\nNom: [name]"
        );
        // Years, team sizes and short figures are not phone numbers.
        assert_eq!(
            redact("2019-2024: 3 roles, 120 people", ""),
            "2019-2024: 3 roles, 120 people"
        );
        assert_eq!(redact("call (555) 123-4567.", ""), "call [phone].");
        assert_eq!(redact("42 rue de Rivoli, Paris", ""), "[address], Paris");
    }

    #[test]
    fn the_structure_groups_lines_under_headings() {
        let s = structure(CV);
        let headings: Vec<&str> = s.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["", "EXPERIENCE", "Education"]);
        assert_eq!(s[0].lines.len(), 4);
        assert_eq!(
            s[1].lines,
            [
                "Senior engineer at Acme (2019-2024)",
                "Led a team of 5; Ann Lee's project won an award."
            ]
        );
        assert_eq!(s[2].lines, ["MSc Computer Science, 2018"]);
        assert!(structure("").is_empty());
        // A long line with a colon is content, not a heading.
        assert_eq!(structure("Email: a@b.co")[0].heading, "");
    }
}
