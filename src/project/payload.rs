//! Decoding an event payload's JSON ([`decode`]), the step verification and import make
//! for every event.
//!
//! `EventPayload`'s serde form uses an internally tagged enum (`Edit`), a flattened struct
//! (`Annotation`) and an untagged enum (`ImageRef`); serde decodes each of those through
//! an intermediate tree, which makes decoding several times slower than parsing. The hot
//! edits (annotation create, update, delete: nearly every event of a project) are first
//! parsed into plain mirror structs here and converted; everything else, and anything the
//! mirror does not take exactly, is decoded by `EventPayload`'s own `Deserialize`.
//!
//! The mirror can only accept a subset of what `EventPayload` accepts, with the same
//! value, never drop data:
//! - every mirror struct denies unknown fields, so a field it does not know (one added to
//!   the model later, or one the full decode would ignore) sends the payload to the
//!   fallback;
//! - the tag is a closed enum of `create`, `update` and `delete`, so label classes,
//!   segmentations and every edit added later go to the fallback;
//! - a variant's fields must be exactly its own (a create with `before` falls back), and
//!   an image must be one form or the other, never both;
//! - the conversion builds the model's structs and variants with exhaustive literals, so a
//!   field added to `EventPayload`, `Edit::{Create, Update, Delete}`, `Annotation`,
//!   `AnnotationBody` or `ImageRef` stops the build here;
//! - leaf values (`Id`, `Kind`, `Label`, `PlaneRef`, `Provenance`, `Field`) are decoded by
//!   their own `Deserialize` on both paths.
//!
//! Unit tests build one payload of every `Edit` variant (a match without a wildcard makes
//! a new variant a build error there) and mutate their JSON field by field, comparing
//! both paths. Pure: no SQLite, no crypto.

use serde::Deserialize;

use super::id::Id;
use super::merge::Field;
use super::model::{
    Annotation, AnnotationBody, Edit, EventPayload, ImageRef, Kind, Label, PlaneRef, Provenance,
};

/// The payload in `json`, `None` when it is not one.
pub fn decode(json: &[u8]) -> Option<EventPayload> {
    mirror(json).or_else(|| serde_json::from_slice(json).ok())
}

/// The mirror of [`EventPayload`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    edit: MirrorEdit,
    #[serde(default)]
    undo_of: Option<Id>,
    #[serde(default)]
    redo_of: Option<Id>,
    #[serde(default)]
    preds: Option<Vec<Id>>,
    #[serde(default)]
    resolves: Vec<Field>,
}

/// The tags the mirror takes; any other fails it.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    Create,
    Update,
    Delete,
}

/// The mirror of the annotation variants of [`Edit`]: the tag as a field, the variants'
/// fields optional (which ones are present is checked in [`mirror`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorEdit {
    op: Op,
    #[serde(default)]
    annotation: Option<MirrorAnnotation>,
    #[serde(default)]
    before: Option<MirrorAnnotation>,
    #[serde(default)]
    after: Option<MirrorAnnotation>,
}

/// The mirror of [`Annotation`], its body's fields inline.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorAnnotation {
    id: Id,
    image: MirrorImage,
    kind: Kind,
    points: Vec<[f64; 2]>,
    label: Label,
    #[serde(default)]
    comment: Option<String>,
}

/// The mirror of [`ImageRef`]: both variants' fields, optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorImage {
    #[serde(default)]
    series_uid: Option<String>,
    #[serde(default)]
    sop_uid: Option<String>,
    #[serde(default)]
    frame: Option<u32>,
    #[serde(default)]
    plane: Option<PlaneRef>,
    #[serde(default)]
    provenance: Option<Box<Provenance>>,
    #[serde(default)]
    slide_sha256: Option<String>,
}

/// The payload through the mirror; `None` sends it to `EventPayload`'s `Deserialize`.
fn mirror(json: &[u8]) -> Option<EventPayload> {
    let Payload {
        edit,
        undo_of,
        redo_of,
        preds,
        resolves,
    } = serde_json::from_slice(json).ok()?;
    let edit = match (edit.op, edit.annotation, edit.before, edit.after) {
        (Op::Create, Some(a), None, None) => Edit::Create {
            annotation: a.into_annotation()?,
        },
        (Op::Update, None, Some(before), Some(after)) => Edit::Update {
            before: before.into_annotation()?,
            after: after.into_annotation()?,
        },
        (Op::Delete, Some(a), None, None) => Edit::Delete {
            annotation: a.into_annotation()?,
        },
        _ => return None,
    };
    Some(EventPayload {
        edit,
        undo_of,
        redo_of,
        preds,
        resolves,
    })
}

impl MirrorAnnotation {
    fn into_annotation(self) -> Option<Annotation> {
        let MirrorAnnotation {
            id,
            image,
            kind,
            points,
            label,
            comment,
        } = self;
        Some(Annotation {
            id,
            body: AnnotationBody {
                image: image.into_image()?,
                kind,
                points,
                label,
                comment,
            },
        })
    }
}

impl MirrorImage {
    /// One form or the other. (The untagged `ImageRef` would take a DICOM reference with
    /// a stray `slide_sha256`, or a slide with stray DICOM fields; those fall back.)
    fn into_image(self) -> Option<ImageRef> {
        match self {
            MirrorImage {
                series_uid: Some(series_uid),
                sop_uid,
                frame,
                plane,
                provenance,
                slide_sha256: None,
            } => Some(ImageRef::Dicom {
                series_uid,
                sop_uid,
                frame,
                plane,
                provenance,
            }),
            MirrorImage {
                series_uid: None,
                sop_uid: None,
                frame: None,
                plane: None,
                provenance: None,
                slide_sha256: Some(slide_sha256),
            } => Some(ImageRef::Slide { slide_sha256 }),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests;
