//! Annotations as the project stores them, and edits: data that knows its inverse.
//!
//! Owns the annotation value type (the same shape as one entry of the labels JSON
//! format, docs/labels-json.md), the [`Edit`] enum (annotations, label-schema classes,
//! segmentations: create, segments, strokes), and the pure replay step [`apply`] of
//! annotations. Pure: no SQLite, no crypto. The values of label classes and segmentations
//! are `annotate`'s; the project stores their serialized form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::id::Id;
use crate::annotate::packed::StrokeEdit;
use crate::annotate::schema::LabelClass;
use crate::annotate::segmentation::{Segment, SegmentationHeader};

/// The image an annotation belongs to: a DICOM instance/frame, or a whole-slide image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageRef {
    Dicom {
        series_uid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sop_uid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<u32>,
        /// Set for annotations drawn on a reformatted plane (MPR): which plane, and
        /// its points are then in that plane's voxel coordinates (see [`PlaneRef`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plane: Option<PlaneRef>,
        /// What the annotation was drawn on, so a reviewer can prove it matches.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provenance: Option<Box<Provenance>>,
    },
    Slide {
        slide_sha256: String,
    },
}

impl ImageRef {
    /// What the blind index is computed over: the series, or the slide's hash.
    pub fn index_key(&self) -> (&'static str, &str) {
        match self {
            ImageRef::Dicom { series_uid, .. } => ("series", series_uid),
            ImageRef::Slide { slide_sha256 } => ("slide", slide_sha256),
        }
    }
}

/// A reformatted plane of a series' volume. The volume is the series' slices sorted
/// along their normal (Tessera's slice order: `i` = column, `j` = row, `k` = slice);
/// `index` is the voxel index along the plane's normal (`j` for coronal, `i` for
/// sagittal, `k` for axial), and the annotation's points are `[a, b]` voxel
/// coordinates along the plane's two other axes in ascending axis order (coronal:
/// `[i, k]`, sagittal: `[j, k]`, axial: `[i, j]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneRef {
    pub plane: PlaneName,
    pub index: u32,
}

/// The three orthogonal planes, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaneName {
    Axial,
    Coronal,
    Sagittal,
}

/// The image data an annotation was drawn on: the instances (SOP instance UIDs and
/// frames, for a reformatted plane the whole series), the SHA-256 of their files, and
/// the geometry used for its measurements. Encrypted with the rest of the annotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sop_uids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<u32>,
    /// SHA-256 (hex) of each file, in the order of `sop_uids`; for a reformatted plane,
    /// one digest: SHA-256 over the series' file digests in slice order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sha256: Vec<String>,
    /// Pixel spacing (row, column) and slice spacing, mm.
    pub spacing_mm: [f64; 3],
    /// ImageOrientationPatient (row, then column direction cosines).
    pub orientation: [f64; 6],
    /// ImagePositionPatient of the first slice (LPS, mm).
    pub origin_mm: [f64; 3],
    /// Columns, rows, slices.
    pub dims: [u32; 3],
}

/// The geometric kind of an annotation; fixes how many points it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Point,
    Ruler,
    Angle,
    /// RECIST-style: the long axis (points 0, 1), then the short axis (points 2, 3).
    Bidirectional,
    Rectangle,
    Ellipse,
    Polygon,
    Freehand,
}

impl Kind {
    /// The accepted number of points.
    pub fn point_count(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Kind::Point => 1..=1,
            Kind::Ruler | Kind::Rectangle | Kind::Ellipse => 2..=2,
            Kind::Angle => 3..=3,
            Kind::Bidirectional => 4..=4,
            Kind::Polygon => 3..=usize::MAX,
            Kind::Freehand => 2..=usize::MAX,
        }
    }
}

/// A label: a name, and optionally a coded concept (scheme, code, meaning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
}

/// Everything about an annotation except its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationBody {
    pub image: ImageRef,
    pub kind: Kind,
    /// Pixel coordinates `[x, y]` (x = column, y = row, origin at the centre of the
    /// top-left pixel).
    pub points: Vec<[f64; 2]>,
    pub label: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl AnnotationBody {
    /// Checks the point count and that coordinates are finite.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.points.len();
        if !self.kind.point_count().contains(&n) {
            return Err(format!(
                "{:?} needs {:?} points, has {n}",
                self.kind,
                self.kind.point_count()
            ));
        }
        if self.points.iter().flatten().any(|v| !v.is_finite()) {
            return Err("coordinates must be finite numbers".into());
        }
        if self.label.name.trim().is_empty() {
            return Err("label name is empty".into());
        }
        Ok(())
    }
}

/// A stored annotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: Id,
    #[serde(flatten)]
    pub body: AnnotationBody,
}

/// One edit. Each carries what it replaces, so its inverse needs no lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // short-lived values; boxing would only add allocations
pub enum Edit {
    Create {
        annotation: Annotation,
    },
    Update {
        before: Annotation,
        after: Annotation,
    },
    Delete {
        annotation: Annotation,
    },
    /// Adds (`before` = None), changes or removes (`after` = None) a class of the project's
    /// label schema. Admins only (`Session::commit_edit` refuses others).
    #[serde(rename = "class")]
    ClassDefine {
        id: Id,
        before: Option<LabelClass>,
        after: Option<LabelClass>,
    },
    /// A new segmentation (empty label map) of a series.
    #[serde(rename = "segmentation_create")]
    SegmentationCreate {
        id: Id,
        image: ImageRef,
        header: SegmentationHeader,
    },
    /// Removes a segmentation from view (its strokes stay in the history; undoing the
    /// removal shows it again, painted as it was).
    #[serde(rename = "segmentation_delete")]
    SegmentationDelete {
        id: Id,
        image: ImageRef,
        header: SegmentationHeader,
    },
    /// Adds (`before` = None), changes or removes (`after` = None) segment `index`
    /// (1..=255) of a segmentation.
    #[serde(rename = "segment")]
    SegmentDefine {
        segmentation: Id,
        index: u8,
        before: Option<Segment>,
        after: Option<Segment>,
    },
    /// One gesture on a segmentation's label map: the changed bricks, before and after.
    #[serde(rename = "stroke")]
    SegmentStroke {
        segmentation: Id,
        stroke: StrokeEdit,
    },
    /// One case-workflow record (assignment, submission, review decision, escalation,
    /// adjudication, comment, review policy). Each is an object of its own (`id` is fresh
    /// and never edited again); the case's status is derived from all of them
    /// (`project::cases`). Never undone.
    #[serde(rename = "workflow")]
    Workflow {
        id: Id,
        record: super::cases::WorkflowRecord,
    },
}

/// What kind of object an edit targets (one kind per target id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Annotation,
    LabelClass,
    Segmentation,
    /// A case-workflow record.
    Workflow,
}

impl Edit {
    /// The edit that undoes this one.
    pub fn inverse(&self) -> Edit {
        match self {
            Edit::Create { annotation } => Edit::Delete {
                annotation: annotation.clone(),
            },
            Edit::Delete { annotation } => Edit::Create {
                annotation: annotation.clone(),
            },
            Edit::Update { before, after } => Edit::Update {
                before: after.clone(),
                after: before.clone(),
            },
            Edit::ClassDefine { id, before, after } => Edit::ClassDefine {
                id: *id,
                before: after.clone(),
                after: before.clone(),
            },
            Edit::SegmentationCreate { id, image, header } => Edit::SegmentationDelete {
                id: *id,
                image: image.clone(),
                header: header.clone(),
            },
            Edit::SegmentationDelete { id, image, header } => Edit::SegmentationCreate {
                id: *id,
                image: image.clone(),
                header: header.clone(),
            },
            Edit::SegmentDefine {
                segmentation,
                index,
                before,
                after,
            } => Edit::SegmentDefine {
                segmentation: *segmentation,
                index: *index,
                before: after.clone(),
                after: before.clone(),
            },
            Edit::SegmentStroke {
                segmentation,
                stroke,
            } => Edit::SegmentStroke {
                segmentation: *segmentation,
                stroke: stroke.inverse(),
            },
            // Workflow records are decisions, not edits: undo skips them, and a record
            // is its own inverse so nothing here can erase one.
            Edit::Workflow { .. } => self.clone(),
        }
    }

    /// The object this edit touches.
    pub fn target(&self) -> Id {
        match self {
            Edit::Create { annotation } | Edit::Delete { annotation } => annotation.id,
            Edit::Update { after, .. } => after.id,
            Edit::ClassDefine { id, .. }
            | Edit::SegmentationCreate { id, .. }
            | Edit::SegmentationDelete { id, .. }
            | Edit::Workflow { id, .. } => *id,
            Edit::SegmentDefine { segmentation, .. } | Edit::SegmentStroke { segmentation, .. } => {
                *segmentation
            }
        }
    }

    /// The kind of object this edit touches.
    pub fn kind(&self) -> ObjectKind {
        match self {
            Edit::Create { .. } | Edit::Update { .. } | Edit::Delete { .. } => {
                ObjectKind::Annotation
            }
            Edit::ClassDefine { .. } => ObjectKind::LabelClass,
            Edit::SegmentationCreate { .. }
            | Edit::SegmentationDelete { .. }
            | Edit::SegmentDefine { .. }
            | Edit::SegmentStroke { .. } => ObjectKind::Segmentation,
            Edit::Workflow { .. } => ObjectKind::Workflow,
        }
    }

    /// The operation's name as shown in the history and stored in clear: one of create,
    /// update, delete for every kind of object, so the clear name does not say whether an
    /// event is an annotation, a class or a stroke; "workflow" for case-workflow records
    /// (that a workflow step happened is in the audit log in clear anyway; what it says
    /// is encrypted).
    pub fn op_name(&self) -> &'static str {
        match self {
            Edit::Create { .. }
            | Edit::SegmentationCreate { .. }
            | Edit::ClassDefine { before: None, .. } => "create",
            Edit::Delete { .. }
            | Edit::SegmentationDelete { .. }
            | Edit::ClassDefine { after: None, .. } => "delete",
            Edit::Update { .. }
            | Edit::ClassDefine { .. }
            | Edit::SegmentDefine { .. }
            | Edit::SegmentStroke { .. } => "update",
            Edit::Workflow { .. } => "workflow",
        }
    }
}

/// What an event's encrypted payload holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPayload {
    pub edit: Edit,
    /// Set when this event undoes an earlier one (its inverse edit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_of: Option<Id>,
    /// Set when this event redoes what an undo event undid (the undo's inverse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redo_of: Option<Id>,
    /// The versions of the annotation this edit replaces (the events its author's copy
    /// showed as current; `merge`). Set by `events::append`; absent in files written
    /// before sync existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preds: Option<Vec<Id>>,
    /// Fields this edit settles even where its value is unchanged (resolving a conflict).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolves: Vec<super::merge::Field>,
}

impl EventPayload {
    /// A plain edit (not an undo, no explicit resolution).
    pub fn new(edit: Edit) -> EventPayload {
        EventPayload {
            edit,
            undo_of: None,
            redo_of: None,
            preds: None,
            resolves: Vec::new(),
        }
    }

    /// The operation name stored in clear on the event.
    pub fn op_name(&self) -> &'static str {
        match (self.undo_of.is_some(), self.redo_of.is_some()) {
            (true, _) => "undo",
            (false, true) => "redo",
            (false, false) => self.edit.op_name(),
        }
    }
}

/// Why an edit cannot apply to the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("creates annotation {0} which already exists")]
    Exists(Id),
    #[error("edits annotation {0} which does not exist")]
    Missing(Id),
    #[error("edit of annotation {0} does not match its current value")]
    Stale(Id),
    #[error("update changes the id of annotation {0}")]
    IdChanged(Id),
    #[error("edits {0} as a different kind of object than it is")]
    WrongKind(Id),
    #[error("edit of {id} is invalid: {reason}")]
    Invalid { id: Id, reason: String },
}

/// The replay state: annotation id to value and the id of the event that last set it.
pub type State = BTreeMap<Id, (Annotation, Id)>;

/// Applies an annotation `edit` (made by `event`) to `state`, checking it against the
/// current values. Edits of other kinds of objects are refused (`WrongKind`).
pub fn apply(state: &mut State, edit: &Edit, event: Id) -> Result<(), ApplyError> {
    match edit {
        Edit::Create { annotation } => {
            if state.contains_key(&annotation.id) {
                return Err(ApplyError::Exists(annotation.id));
            }
            state.insert(annotation.id, (annotation.clone(), event));
        }
        Edit::Update { before, after } => {
            if before.id != after.id {
                return Err(ApplyError::IdChanged(before.id));
            }
            let Some((current, last)) = state.get_mut(&before.id) else {
                return Err(ApplyError::Missing(before.id));
            };
            if current != before {
                return Err(ApplyError::Stale(before.id));
            }
            *current = after.clone();
            *last = event;
        }
        Edit::Delete { annotation } => {
            match state.get(&annotation.id) {
                None => return Err(ApplyError::Missing(annotation.id)),
                Some((current, _)) if current != annotation => {
                    return Err(ApplyError::Stale(annotation.id));
                }
                Some(_) => {}
            }
            state.remove(&annotation.id);
        }
        other => return Err(ApplyError::WrongKind(other.target())),
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    fn ann(name: &str) -> Annotation {
        Annotation {
            id: Id([7; 16]),
            body: AnnotationBody {
                image: ImageRef::Dicom {
                    series_uid: "1.2.3".into(),
                    sop_uid: None,
                    frame: Some(2),
                    plane: None,
                    provenance: None,
                },
                kind: Kind::Point,
                points: vec![[1.5, 2.0]],
                label: Label {
                    name: name.into(),
                    scheme: None,
                    code: None,
                    meaning: None,
                },
                comment: None,
            },
        }
    }

    #[test]
    fn every_edit_is_undone_by_its_inverse() {
        let (a, b) = (ann("a"), ann("b"));
        let edits = [
            Edit::Create {
                annotation: a.clone(),
            },
            Edit::Update {
                before: a.clone(),
                after: b.clone(),
            },
            Edit::Delete {
                annotation: b.clone(),
            },
        ];
        let mut state = State::new();
        let mut snapshots = vec![state.clone()];
        for e in &edits {
            apply(&mut state, e, Id::NIL).unwrap();
            snapshots.push(state.clone());
        }
        for (i, e) in edits.iter().enumerate().rev() {
            apply(&mut state, &e.inverse(), Id::NIL).unwrap();
            assert_eq!(state, snapshots[i]);
        }
        assert_eq!(
            apply(&mut state, &edits[1], Id::NIL),
            Err(ApplyError::Missing(a.id))
        );
    }

    #[test]
    fn image_refs_parse_either_form() {
        let d: ImageRef = serde_json::from_str(r#"{"series_uid":"1.2","frame":3}"#).unwrap();
        assert!(matches!(d, ImageRef::Dicom { frame: Some(3), .. }));
        let s: ImageRef = serde_json::from_str(r#"{"slide_sha256":"ab"}"#).unwrap();
        assert!(matches!(s, ImageRef::Slide { .. }));
    }
}
