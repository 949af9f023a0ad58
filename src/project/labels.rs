//! The labels JSON format (docs/labels-json.md): parsing, validation and export.
//!
//! Owns the document shape only; the session turns documents into events. Pure.

use serde::{Deserialize, Serialize};

use super::id::Id;
use super::model::{Annotation, AnnotationBody};

/// The `format` field's value.
pub const FORMAT: &str = "tessera-labels";
/// The `version` this build reads and writes.
pub const VERSION: u32 = 1;

/// A labels document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsDoc {
    pub format: String,
    pub version: u32,
    pub annotations: Vec<AnnotationIn>,
}

/// One annotation of a document; the id is optional on import (a new one is drawn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    #[serde(flatten)]
    pub body: AnnotationBody,
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("not a labels document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("format is {0:?}, expected \"tessera-labels\"")]
    Format(String),
    #[error("labels format version {0} is not supported (this Tessera reads version 1)")]
    Version(u32),
    #[error("annotation {index}: {reason}")]
    Invalid { index: usize, reason: String },
    #[error("annotation {index}: id {id} appears twice")]
    DuplicateId { index: usize, id: Id },
}

/// Parses and validates a document.
pub fn parse(text: &str) -> Result<LabelsDoc, LabelsError> {
    let doc: LabelsDoc = serde_json::from_str(text)?;
    if doc.format != FORMAT {
        return Err(LabelsError::Format(doc.format));
    }
    if doc.version != VERSION {
        return Err(LabelsError::Version(doc.version));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (index, a) in doc.annotations.iter().enumerate() {
        a.body
            .validate()
            .map_err(|reason| LabelsError::Invalid { index, reason })?;
        if let Some(id) = a.id
            && !ids.insert(id)
        {
            return Err(LabelsError::DuplicateId { index, id });
        }
    }
    Ok(doc)
}

/// A document holding `annotations` (ids included).
pub fn to_doc(annotations: &[Annotation]) -> LabelsDoc {
    LabelsDoc {
        format: FORMAT.to_owned(),
        version: VERSION,
        annotations: annotations
            .iter()
            .map(|a| AnnotationIn {
                id: Some(a.id),
                body: a.body.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    const DOC: &str = r#"{"format":"tessera-labels","version":1,"annotations":[
        {"image":{"series_uid":"1.2.3","sop_uid":"1.2.3.4","frame":0},"kind":"polygon",
         "points":[[0,0],[10,0],[10,10.5]],"label":{"name":"tumour","scheme":"SCT","code":"108369006","meaning":"Neoplasm"},
         "comment":"check margin"},
        {"id":"2b1e3f64-1c1a-4b7a-9d55-3a0c1d2e4f60","image":{"slide_sha256":"ab12"},"kind":"point","points":[[3,4]],"label":{"name":"mitosis"}}]}"#;

    #[test]
    fn parses_the_documented_example_and_round_trips() {
        let doc = parse(DOC).unwrap();
        assert_eq!(doc.annotations.len(), 2);
        assert!(doc.annotations[0].id.is_none());
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(parse(&text).unwrap(), doc);
    }

    #[test]
    fn rejects_wrong_point_counts_and_formats() {
        let bad = DOC.replace(r#""points":[[3,4]]"#, r#""points":[[3,4],[5,6]]"#);
        assert!(matches!(
            parse(&bad),
            Err(LabelsError::Invalid { index: 1, .. })
        ));
        assert!(matches!(
            parse(&DOC.replace("tessera-labels", "x")),
            Err(LabelsError::Format(_))
        ));
        assert!(matches!(
            parse(&DOC.replace(r#""version":1"#, r#""version":2"#)),
            Err(LabelsError::Version(2))
        ));
    }
}
