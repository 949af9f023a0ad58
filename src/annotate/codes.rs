//! Code lists a site imports (its licensed SNOMED CT subset, ICD-10, RadLex) and the
//! type-ahead search over the schema's classes and those lists.
//!
//! Owns the CSV format (`scheme,code,meaning[,parent]`, RFC 4180 quoting, optional header
//! row), its per-line errors, and the ranking of [`search`]. Pure: the lists live where the
//! caller keeps them; nothing here logs what it reads (codes may be licensed content).

use std::collections::HashMap;
use std::fmt;

use super::schema::{Code, LabelClass};

/// One entry of an imported list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEntry {
    pub code: Code,
    /// The code value of the parent concept (same scheme), when the list has a hierarchy.
    pub parent: Option<String>,
}

/// An imported code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeList {
    /// What the user called it (e.g. the file name); shown next to hits.
    pub name: String,
    pub entries: Vec<CodeEntry>,
}

/// One problem on one line of a CSV file (1-based line numbers, as an editor shows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Why a CSV code list was refused: every bad line (up to [`MAX_REPORTED_ERRORS`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in the code list; first: {}", .total, .errors.first().map(ToString::to_string).unwrap_or_default())]
pub struct CodeListError {
    pub errors: Vec<LineError>,
    /// All errors found, including those not kept in `errors`.
    pub total: usize,
}

/// How many line errors a refusal lists.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// Parses a CSV code list: `scheme,code,meaning[,parent]` per line; a first line whose
/// first field is `scheme` (any case) is a header; blank lines are skipped. Each code is
/// checked as the schema checks codes (lengths, SNOMED CT check digits); a code given
/// twice is an error on the second line. All-or-nothing: any error refuses the list.
pub fn parse_code_list(name: &str, text: &str) -> Result<CodeList, CodeListError> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut total = 0;
    let mut first_seen: HashMap<(String, String), usize> = HashMap::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, record) in records(text).enumerate() {
        let (line, fields) = match record {
            Ok(r) => r,
            Err(e) => {
                total += 1;
                if errors.len() < MAX_REPORTED_ERRORS {
                    errors.push(e);
                }
                continue;
            }
        };
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if index == 0 && fields[0].trim().eq_ignore_ascii_case("scheme") {
            continue;
        }
        let mut fail = |reason: String| {
            total += 1;
            if errors.len() < MAX_REPORTED_ERRORS {
                errors.push(LineError { line, reason });
            }
        };
        if !(3..=4).contains(&fields.len()) {
            fail(format!(
                "expected 3 or 4 fields (scheme, code, meaning[, parent]), found {}",
                fields.len()
            ));
            continue;
        }
        let code = Code::new(fields[0].trim(), fields[1].trim(), fields[2].trim());
        if let Err(problem) = code.validate() {
            fail(problem.to_string());
            continue;
        }
        let parent = fields
            .get(3)
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if parent.as_deref() == Some(code.value.as_str()) {
            fail(format!("code {} names itself as its parent", code.value));
            continue;
        }
        let key = (code.scheme.clone(), code.value.clone());
        if let Some(first) = first_seen.get(&key) {
            fail(format!(
                "{} {} appears again (first on line {first})",
                code.scheme, code.value
            ));
            continue;
        }
        first_seen.insert(key, line);
        entries.push(CodeEntry { code, parent });
    }
    if total > 0 {
        return Err(CodeListError { errors, total });
    }
    Ok(CodeList {
        name: name.to_owned(),
        entries,
    })
}

/// Splits CSV text into records with the line each starts on. Quoted fields may hold
/// commas, doubled quotes and line breaks.
fn records(text: &str) -> impl Iterator<Item = Result<(usize, Vec<String>), LineError>> + '_ {
    let mut chars = text.chars().peekable();
    let mut line = 1;
    std::iter::from_fn(move || {
        chars.peek()?;
        let start = line;
        let mut fields = vec![String::new()];
        let mut quoted = false;
        let mut was_quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Some(Err(LineError {
                        line: start,
                        reason: "a quoted field is not closed".into(),
                    }));
                }
                break;
            };
            let field = fields.last_mut()?;
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
                (false, '"') if field.trim().is_empty() && !was_quoted => {
                    field.clear();
                    quoted = true;
                    was_quoted = true;
                }
                (false, '"') => {
                    // Skip to the end of the line so the next record starts cleanly.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    line += 1;
                    return Some(Err(LineError {
                        line: start,
                        reason: "a quote inside an unquoted field (quote the whole field)".into(),
                    }));
                }
                (false, ',') => {
                    fields.push(String::new());
                    was_quoted = false;
                }
                (false, '\n') => {
                    line += 1;
                    break;
                }
                (false, '\r') if chars.peek() == Some(&'\n') => {}
                (false, c) => {
                    if was_quoted && !c.is_whitespace() {
                        for c in chars.by_ref() {
                            if c == '\n' {
                                break;
                            }
                        }
                        line += 1;
                        return Some(Err(LineError {
                            line: start,
                            reason: "text after a closing quote".into(),
                        }));
                    }
                    if !was_quoted {
                        field.push(c);
                    }
                }
            }
        }
        Some(Ok((start, fields)))
    })
}

/// Where a search hit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitSource {
    /// Index into the classes given to [`search`].
    Class(usize),
    /// Index of the list and of the entry in it.
    Code { list: usize, entry: usize },
}

/// How well a hit matches, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    /// The whole name, or the code value, equals the query.
    Exact,
    /// The name (or code value) starts with the query.
    Prefix,
    /// Every word of the query starts a word of the name or meaning, in any order.
    WordPrefix,
    /// The query occurs inside the name or meaning.
    Substring,
}

/// One result of [`search`].
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub source: HitSource,
    /// The class name, or the code meaning.
    pub name: &'a str,
    pub code: Option<&'a Code>,
    pub quality: Match,
}

/// Type-ahead search over the schema's classes and imported code lists. Case-insensitive.
/// Ranked by match quality (exact, prefix, word prefix, substring), then classes before
/// list entries, then shorter names, then alphabetically; at most `limit` hits. An empty
/// query lists the classes in order.
pub fn search<'a>(
    query: &str,
    classes: &'a [LabelClass],
    lists: &'a [CodeList],
    limit: usize,
) -> Vec<Hit<'a>> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return classes
            .iter()
            .enumerate()
            .take(limit)
            .map(|(i, c)| Hit {
                source: HitSource::Class(i),
                name: &c.name,
                code: c.concept.as_ref(),
                quality: Match::Prefix,
            })
            .collect();
    }
    let words: Vec<&str> = q.split_whitespace().collect();
    let mut hits: Vec<(Hit<'a>, u8)> = Vec::new();
    for (i, c) in classes.iter().enumerate() {
        let meaning = c.concept.as_ref().map(|k| k.meaning.as_str());
        let value = c.concept.as_ref().map(|k| k.value.as_str());
        if let Some(quality) = rank(&q, &words, &c.name, meaning, value) {
            let hit = Hit {
                source: HitSource::Class(i),
                name: &c.name,
                code: c.concept.as_ref(),
                quality,
            };
            hits.push((hit, 0));
        }
    }
    for (l, list) in lists.iter().enumerate() {
        for (e, entry) in list.entries.iter().enumerate() {
            let code = &entry.code;
            if let Some(quality) = rank(&q, &words, &code.meaning, None, Some(&code.value)) {
                let hit = Hit {
                    source: HitSource::Code { list: l, entry: e },
                    name: &code.meaning,
                    code: Some(code),
                    quality,
                };
                hits.push((hit, 1));
            }
        }
    }
    hits.sort_by(|(a, ka), (b, kb)| {
        (a.quality, ka, a.name.len(), a.name)
            .cmp(&(b.quality, kb, b.name.len(), b.name))
            .then_with(|| a.code.cmp(&b.code))
    });
    hits.into_iter().take(limit).map(|(h, _)| h).collect()
}

/// The best match of a lower-cased query against a name, an optional second text (the
/// code meaning of a class) and an optional code value.
fn rank(
    q: &str,
    words: &[&str],
    name: &str,
    meaning: Option<&str>,
    value: Option<&str>,
) -> Option<Match> {
    let name = name.to_lowercase();
    let meaning = meaning.map(str::to_lowercase);
    if name == q || value == Some(q) {
        return Some(Match::Exact);
    }
    if name.starts_with(q) || value.is_some_and(|v| v.starts_with(q)) {
        return Some(Match::Prefix);
    }
    let texts = std::iter::once(&name).chain(meaning.as_ref());
    let mut best: Option<Match> = None;
    for text in texts {
        let text_words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let found = if words
            .iter()
            .all(|w| text_words.iter().any(|t| t.starts_with(w)))
        {
            Some(Match::WordPrefix)
        } else if text.contains(q) {
            Some(Match::Substring)
        } else {
            None
        };
        best = match (best, found) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    best
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::schema::default_classes;

    const LIST: &str = "scheme,code,meaning,parent\n\
        SCT,52988006,Lesion,\n\
        SCT,14799000,\"Neoplasm, Secondary\",108369006\n\
        I10,C22.0,Liver cell carcinoma,\n\
        99LOCAL,L-17,\"Liver \"\"segment\"\" (local)\",\n";

    #[test]
    fn parses_quotes_headers_and_parents() {
        let list = parse_code_list("site.csv", LIST).unwrap();
        assert_eq!(list.entries.len(), 4);
        assert_eq!(list.entries[1].parent.as_deref(), Some("108369006"));
        assert_eq!(list.entries[1].code.meaning, "Neoplasm, Secondary");
        assert_eq!(list.entries[3].code.meaning, "Liver \"segment\" (local)");
        // CRLF and no header.
        let crlf = "SCT,10200004,Liver\r\nSCT,39607008,Lung\r\n";
        assert_eq!(parse_code_list("x", crlf).unwrap().entries.len(), 2);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = "scheme,code,meaning\n\
            SCT,52988006,Lesion\n\
            SCT,52988007,Typo in check digit\n\
            SCT,52988006,Lesion again\n\
            SCT,10200004\n\
            ,123,No scheme\n\
            SCT,\"39607008,Lung\n\
            \n\
            SCT,64033007,Kidney\n";
        let err = parse_code_list("bad.csv", text).unwrap_err();
        let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7], "{:?}", err.errors);
        assert_eq!(err.total, 5);
        assert!(
            err.errors[0].reason.contains("check digit"),
            "{}",
            err.errors[0]
        );
        assert!(err.errors[1].reason.contains("first on line 2"));
        assert!(err.errors[2].reason.contains("found 2"));
        assert!(err.errors[3].reason.contains("coding scheme is empty"));
        assert!(err.errors[4].reason.contains("not closed"));
        assert_eq!(
            err.errors[0].to_string(),
            format!("line 3: {}", err.errors[0].reason)
        );
        assert!(err.to_string().starts_with("5 error(s)"));
        let stray = parse_code_list("q.csv", "SCT,10200004,Li\"ver\n").unwrap_err();
        assert_eq!(stray.errors[0].line, 1);
    }

    #[test]
    fn search_ranks_exact_prefix_word_and_substring() {
        let classes = default_classes().unwrap();
        let lists = vec![parse_code_list("site", LIST).unwrap()];
        let hits = search("liver", &classes, &lists, 10);
        assert_eq!(hits[0].name, "Liver");
        assert_eq!(hits[0].quality, Match::Exact);
        assert!(matches!(hits[0].source, HitSource::Class(_)));
        let names: Vec<&str> = hits.iter().map(|h| h.name).collect();
        assert!(names.contains(&"Liver cell carcinoma"), "{names:?}");
        assert!(names.contains(&"Liver \"segment\" (local)"), "{names:?}");
        // Prefix of a name, then a word prefix inside a name.
        let hits = search("lym", &classes, &lists, 5);
        assert_eq!(
            (hits[0].name, hits[0].quality),
            ("Lymph node", Match::Prefix)
        );
        let hits = search("node", &classes, &lists, 5);
        assert_eq!(hits[0].quality, Match::WordPrefix);
        assert_eq!(hits[0].name, "Lymph node");
        // By code value, and across words in any order.
        let hits = search("52988006", &classes, &lists, 5);
        assert_eq!(hits[0].name, "Lesion");
        assert_eq!(hits[0].quality, Match::Exact);
        let hits = search("carc liv", &classes, &lists, 5);
        assert_eq!(hits[0].name, "Liver cell carcinoma");
        // Meaning of a class matches too ("Bladder" is the code meaning of Urinary bladder).
        let hits = search("metast", &classes, &lists, 5);
        assert_eq!(hits[0].name, "Metastasis");
        assert!(search("zzz", &classes, &lists, 5).is_empty());
        assert_eq!(search("", &classes, &lists, 3).len(), 3);
    }
}
