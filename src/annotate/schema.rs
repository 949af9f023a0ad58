//! The label schema: the classes a project labels with. Each class has a name, a display
//! colour and, when coded, a DICOM segmentation property category and type (coding scheme,
//! code value, code meaning), so that exported labels carry codes a model can learn from.
//!
//! Owns [`LabelClass`], [`Code`], [`Colour`], the default schema shipped as
//! `assets/label-schema-default.json` (embedded at build time; categories from CID 7150,
//! types from CID 7159 and the anatomic-region context groups, real SNOMED CT codes), and
//! schema validation (names, duplicate codes, SNOMED CT check digits). Pure. Storing the
//! schema is the project's business (`Edit::ClassDefine`, admins only); searching it
//! together with imported code lists is [`super::codes`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The embedded default schema (`assets/label-schema-default.json`).
pub const DEFAULT_SCHEMA_JSON: &str = include_str!("../../assets/label-schema-default.json");
/// The `format` field of a schema document.
pub const SCHEMA_FORMAT: &str = "tessera-label-schema";
/// The schema document version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// DICOM limits (PS3.5 6.2): Coding Scheme Designator is SH, Code Meaning LO; code values
/// longer than SH go to Long Code Value (UC), which we cap at a sane length.
pub const MAX_SCHEME_CHARS: usize = 16;
pub const MAX_MEANING_CHARS: usize = 64;
pub const MAX_CODE_CHARS: usize = 64;
/// Longest class name accepted (shown in lists and history lines).
pub const MAX_NAME_CHARS: usize = 64;

/// A coded concept: coding scheme designator, code value, code meaning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Code {
    pub scheme: String,
    pub value: String,
    pub meaning: String,
}

impl Code {
    pub fn new(scheme: &str, value: &str, meaning: &str) -> Code {
        Code {
            scheme: scheme.to_owned(),
            value: value.to_owned(),
            meaning: meaning.to_owned(),
        }
    }

    /// Checks lengths, emptiness and, for SNOMED CT (`SCT`), the identifier's form and
    /// Verhoeff check digit.
    pub fn validate(&self) -> Result<(), CodeProblem> {
        let field = |name: &'static str, text: &str, max: usize| {
            let t = text.trim();
            if t.is_empty() {
                Err(CodeProblem::Empty(name))
            } else if t != text {
                Err(CodeProblem::Whitespace(name))
            } else if t.chars().count() > max {
                Err(CodeProblem::TooLong(name, max))
            } else {
                Ok(())
            }
        };
        field("coding scheme", &self.scheme, MAX_SCHEME_CHARS)?;
        field("code value", &self.value, MAX_CODE_CHARS)?;
        field("code meaning", &self.meaning, MAX_MEANING_CHARS)?;
        if self.scheme == "SCT" && !is_valid_sctid(&self.value) {
            return Err(CodeProblem::BadSnomedId(self.value.clone()));
        }
        Ok(())
    }
}

impl fmt::Display for Code {
    /// `SCT 52988006 "Lesion"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} \"{}\"", self.scheme, self.value, self.meaning)
    }
}

/// Why a code is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeProblem {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} has leading or trailing spaces")]
    Whitespace(&'static str),
    #[error("{0} is longer than {1} characters")]
    TooLong(&'static str, usize),
    #[error("{0} is not a SNOMED CT concept id (form or check digit)")]
    BadSnomedId(String),
}

/// True for a well-formed SNOMED CT concept identifier: 6 to 18 digits, no leading zero,
/// partition identifier `00` (short) or `10` (extension), and a valid Verhoeff check digit.
pub fn is_valid_sctid(id: &str) -> bool {
    let b = id.as_bytes();
    if !(6..=18).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return false;
    }
    let partition = &id[id.len() - 3..id.len() - 1];
    (partition == "00" || partition == "10") && verhoeff_ok(b)
}

/// The Verhoeff check (dihedral group D5) over ASCII digits, check digit last.
fn verhoeff_ok(digits: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, d) in digits.iter().rev().enumerate() {
        c = D[usize::from(c)][usize::from(P[i % 8][usize::from(d - b'0')])];
    }
    c == 0
}

/// A display colour, written `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Colour(pub [u8; 3]);

impl Colour {
    /// Parses `#rrggbb` (case-insensitive).
    pub fn parse(text: &str) -> Option<Colour> {
        let hex = text.strip_prefix('#')?;
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Colour([byte(0)?, byte(2)?, byte(4)?]))
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

impl Serialize for Colour {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Colour, D::Error> {
        let text = String::deserialize(d)?;
        Colour::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("colour {text:?} is not #rrggbb")))
    }
}

/// One class of the schema. Uncoded (free-text) classes have no `concept`; exports and
/// reports flag them ([`LabelClass::is_coded`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelClass {
    pub name: String,
    pub colour: Colour,
    /// Segmented Property Category (CID 7150), e.g. SCT 49755003.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Code>,
    /// Segmented Property Type (CID 7151 and the groups it includes), e.g. SCT 52988006.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concept: Option<Code>,
    /// Anatomic Region (CID 4), when the type does not say where, e.g. a lesion in the liver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Code>,
    /// Review policy: a case holding this class needs a second read (a reviewer's
    /// approval, or a senior's adjudication) before it counts as reviewed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub second_read: bool,
}

impl LabelClass {
    /// A free-text class: a name and a colour, no codes.
    pub fn free_text(name: &str, colour: Colour) -> LabelClass {
        LabelClass {
            name: name.trim().to_owned(),
            colour,
            category: None,
            concept: None,
            region: None,
            second_read: false,
        }
    }

    /// A class named after a code (e.g. picked from an imported code list).
    pub fn from_code(code: &Code, category: Option<Code>, colour: Colour) -> LabelClass {
        LabelClass {
            name: code.meaning.clone(),
            colour,
            category,
            concept: Some(code.clone()),
            region: None,
            second_read: false,
        }
    }

    /// True when the class has a coded type; free-text classes are flagged as uncoded.
    pub fn is_coded(&self) -> bool {
        self.concept.is_some()
    }

    /// A label for lists and history lines: `Lesion (SCT 52988006)`, or `name (uncoded)`.
    pub fn title(&self) -> String {
        match &self.concept {
            Some(c) => format!("{} ({} {})", self.name, c.scheme, c.value),
            None => format!("{} (uncoded)", self.name),
        }
    }

    /// Checks the name and every code present.
    pub fn validate(&self) -> Result<(), SchemaProblem> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(SchemaProblem::EmptyName);
        }
        if name != self.name || name.chars().count() > MAX_NAME_CHARS {
            return Err(SchemaProblem::BadName(self.name.clone()));
        }
        for (role, code) in [
            ("category", &self.category),
            ("type", &self.concept),
            ("region", &self.region),
        ] {
            if let Some(c) = code {
                c.validate().map_err(|problem| SchemaProblem::Code {
                    class: self.name.clone(),
                    role,
                    problem,
                })?;
            }
        }
        Ok(())
    }
}

/// Why a class or a schema is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaProblem {
    #[error("class name is empty")]
    EmptyName,
    #[error("class name {0:?} has surrounding spaces or is longer than 64 characters")]
    BadName(String),
    #[error("class {class:?}: {role} code: {problem}")]
    Code {
        class: String,
        role: &'static str,
        problem: CodeProblem,
    },
    #[error("class name {0:?} appears twice (names compare without case)")]
    DuplicateName(String),
    #[error("classes {first:?} and {second:?} have the same category and type codes")]
    DuplicateCode { first: String, second: String },
}

/// Why a schema document was refused.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("not a label schema: {0}")]
    Json(#[from] serde_json::Error),
    #[error("format is {0:?}, expected \"tessera-label-schema\"")]
    Format(String),
    #[error("label schema version {0} is not supported (this Tessera reads version 1)")]
    Version(u32),
    #[error(transparent)]
    Invalid(#[from] SchemaProblem),
}

#[derive(Deserialize)]
struct SchemaDoc {
    format: String,
    version: u32,
    classes: Vec<LabelClass>,
}

/// Parses and validates a schema document (the default asset's format).
pub fn parse_schema(text: &str) -> Result<Vec<LabelClass>, SchemaError> {
    let doc: SchemaDoc = serde_json::from_str(text)?;
    if doc.format != SCHEMA_FORMAT {
        return Err(SchemaError::Format(doc.format));
    }
    if doc.version != SCHEMA_VERSION {
        return Err(SchemaError::Version(doc.version));
    }
    validate_schema(&doc.classes)?;
    Ok(doc.classes)
}

/// The default classes (parsed from the embedded asset; a test proves it parses).
pub fn default_classes() -> Result<Vec<LabelClass>, SchemaError> {
    parse_schema(DEFAULT_SCHEMA_JSON)
}

/// Checks every class, and that no two share a name (case-insensitive) or the same
/// (category, type, region) codes. Uncoded classes are allowed.
pub fn validate_schema(classes: &[LabelClass]) -> Result<(), SchemaProblem> {
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut codes: BTreeMap<(&Option<Code>, &Code, &Option<Code>), &str> = BTreeMap::new();
    for c in classes {
        c.validate()?;
        if names.insert(c.name.to_lowercase(), &c.name).is_some() {
            return Err(SchemaProblem::DuplicateName(c.name.clone()));
        }
        if let Some(concept) = &c.concept
            && let Some(first) = codes.insert((&c.category, concept, &c.region), &c.name)
        {
            return Err(SchemaProblem::DuplicateCode {
                first: first.to_owned(),
                second: c.name.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn verhoeff_accepts_real_ids_and_catches_typos() {
        for id in ["52988006", "108369006", "10200004", "91723000", "127954009"] {
            assert!(is_valid_sctid(id), "{id}");
        }
        // One changed digit, two swapped digits, a leading zero, a bad partition.
        for id in ["52988007", "52989806", "052988006", "52988016", "123"] {
            assert!(!is_valid_sctid(id), "{id}");
        }
    }

    #[test]
    fn default_schema_is_valid_coded_and_complete() {
        let classes = default_classes().unwrap();
        assert!(classes.len() >= 30);
        assert!(classes.iter().all(LabelClass::is_coded));
        assert!(classes.iter().all(|c| c.category.is_some()));
        let lesion = classes.iter().find(|c| c.name == "Lesion").unwrap();
        assert_eq!(lesion.title(), "Lesion (SCT 52988006)");
        assert_eq!(
            lesion.category.as_ref().unwrap().value,
            "49755003",
            "Morphologically abnormal structure"
        );
        // Every category is one of CID 7150's.
        for c in &classes {
            let cat = c.category.as_ref().unwrap();
            assert!(
                ["49755003", "91723000", "85756007"].contains(&cat.value.as_str()),
                "{}",
                c.name
            );
        }
        // No concept code twice, whatever the category.
        let mut seen = std::collections::BTreeSet::new();
        for c in &classes {
            assert!(
                seen.insert(&c.concept.as_ref().unwrap().value),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn duplicates_and_bad_codes_are_refused() {
        let mut classes = default_classes().unwrap();
        classes.push(LabelClass::free_text("lesion", Colour([1, 2, 3])));
        assert!(matches!(
            validate_schema(&classes),
            Err(SchemaProblem::DuplicateName(_))
        ));
        let mut classes = default_classes().unwrap();
        let mut copy = classes[0].clone();
        copy.name = "Another lesion".into();
        classes.push(copy);
        assert!(matches!(
            validate_schema(&classes),
            Err(SchemaProblem::DuplicateCode { .. })
        ));
        let mut bad = LabelClass::free_text("x", Colour([0; 3]));
        bad.concept = Some(Code::new("SCT", "52988007", "Lesion"));
        assert!(matches!(
            bad.validate(),
            Err(SchemaProblem::Code {
                problem: CodeProblem::BadSnomedId(_),
                ..
            })
        ));
        assert!(!LabelClass::free_text("Tumour A", Colour([0; 3])).is_coded());
    }

    #[test]
    fn colours_round_trip() {
        let c = Colour::parse("#E6194b").unwrap();
        assert_eq!(c, Colour([0xe6, 0x19, 0x4b]));
        assert_eq!(c.to_string(), "#e6194b");
        assert!(Colour::parse("e6194b").is_none() && Colour::parse("#e6194").is_none());
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Colour>(&json).unwrap(), c);
    }
}
