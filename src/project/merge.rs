//! Merge: the materialised annotations as a deterministic function of a set of events.
//!
//! Owns the multi-value registers of one object ([`Registers`]: an annotation, a label
//! class or a segmentation; which registers each edit writes is `registers.rs`), the
//! per-object causal order (every event names the versions of its object it replaced:
//! `preds`), conflict detection and the display rule. Pure: no
//! SQLite, no crypto, no clock. Local edits (`events::append`) step the registers
//! incrementally with [`apply_local`]; verification and bundle import rebuild them from
//! the events with [`materialize`]; both give byte-identical results (tests check it).
//!
//! Rules (ARCHITECTURE.md, "Merge"): each field (existence, image, geometry, label,
//! comment) is a multi-value register. Its versions are the latest writes of that field
//! that no other write of it has seen; two or more versions with different values are a
//! conflict. The shown value is the version written by the greatest event in
//! (hybrid logical clock, author, event hash) order. An annotation is shown while any
//! existence version says it exists, so a delete concurrent with an edit keeps it
//! visible and listed as a conflict (never a silent resurrection or loss). Segmentations
//! have one register per segment and per label-map brick (see `registers.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::id::Id;
use super::model::{
    Annotation, AnnotationBody, ApplyError, Edit, EventPayload, ImageRef, Kind, Label, ObjectKind,
};
use super::registers::{self, Reg};
use crate::annotate::packed::Packed;
use crate::annotate::schema::LabelClass;
use crate::annotate::segmentation::{Segment, SegmentationHeader};

/// One register of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Exists,
    Image,
    Geometry,
    Label,
    Comment,
    /// A label class's value.
    Class,
    /// A segmentation's header (name, grid, sources).
    Segmentation,
    /// A segmentation's segments (one register per index).
    Segment,
    /// A segmentation's label map (one register per brick).
    LabelMap,
    /// A case-workflow record's content (written once).
    Workflow,
}

impl Field {
    /// The fields of an annotation.
    pub const ALL: [Field; 5] = [
        Field::Exists,
        Field::Image,
        Field::Geometry,
        Field::Label,
        Field::Comment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Exists => "existence",
            Field::Image => "image",
            Field::Geometry => "geometry",
            Field::Label => "label",
            Field::Comment => "comment",
            Field::Class => "label class",
            Field::Segmentation => "segmentation",
            Field::Segment => "segment",
            Field::LabelMap => "label map",
            Field::Workflow => "workflow record",
        }
    }
}

/// An annotation's shape: kind and points change together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    pub kind: Kind,
    pub points: Vec<[f64; 2]>,
}

/// One value of a register and the event that wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version<T> {
    pub event: Id,
    pub value: T,
}

/// The multi-value registers of one annotation: what the cache stores (encrypted).
/// Versions are sorted by their events' order, greatest (shown) first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registers {
    pub id: Id,
    /// The events on this annotation that no other event on it names as a predecessor,
    /// in ascending event order: the `preds` of the next local edit.
    pub frontier: Vec<Id>,
    pub exists: Vec<Version<bool>>,
    pub image: Vec<Version<ImageRef>>,
    pub geometry: Vec<Version<Geometry>>,
    pub label: Vec<Version<Label>>,
    pub comment: Vec<Version<Option<String>>>,
    /// A label class's value (label-schema objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class: Vec<Version<LabelClass>>,
    /// A segmentation's header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segmentation: Vec<Version<SegmentationHeader>>,
    /// A segmentation's segments by index (`None`: removed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<u8, Vec<Version<Option<Segment>>>>,
    /// A segmentation's label-map bricks by index: packed content after the write.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub chunks: BTreeMap<u32, Vec<Version<Packed>>>,
    /// A case-workflow record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflow: Vec<Version<super::cases::WorkflowRecord>>,
}

/// A field whose versions disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldConflict {
    pub field: Field,
    /// One entry per distinct value: the event that wrote it (the greatest such event)
    /// and the value in words, shown value first.
    pub versions: Vec<(Id, String)>,
}

impl Registers {
    /// True while any existence version says the annotation exists.
    pub fn is_present(&self) -> bool {
        self.exists.iter().any(|v| v.value)
    }

    /// The annotation as shown, `None` when deleted (or not an annotation).
    pub fn display(&self) -> Option<Annotation> {
        if !self.is_present() || self.kind() != ObjectKind::Annotation {
            return None;
        }
        let geometry = &self.geometry.first()?.value;
        Some(Annotation {
            id: self.id,
            body: AnnotationBody {
                image: self.image.first()?.value.clone(),
                kind: geometry.kind,
                points: geometry.points.clone(),
                label: self.label.first()?.value.clone(),
                comment: self.comment.first()?.value.clone(),
            },
        })
    }

    /// True when every field has a shown version ([`Registers::display`] without the copy).
    pub(super) fn has_every_field(&self) -> bool {
        !self.geometry.is_empty()
            && !self.image.is_empty()
            && !self.label.is_empty()
            && !self.comment.is_empty()
    }

    /// The image used for the blind index (also of a deleted annotation).
    pub fn index_image(&self) -> Option<&ImageRef> {
        self.image.first().map(|v| &v.value)
    }

    /// The event recorded with the cache row: the greatest frontier event.
    pub fn cache_event(&self) -> Id {
        self.frontier.last().copied().unwrap_or(Id::NIL)
    }

    /// True when a shown object has a register whose versions disagree (cheap: no text).
    pub fn has_conflicts(&self) -> bool {
        fn differ<T: PartialEq>(v: &[Version<T>]) -> bool {
            v.iter().skip(1).any(|x| x.value != v[0].value)
        }
        self.is_present()
            && (differ(&self.exists)
                || differ(&self.image)
                || differ(&self.geometry)
                || differ(&self.label)
                || differ(&self.comment)
                || self.object_has_conflicts())
    }

    /// Fields of a shown object whose versions disagree.
    pub fn conflicts(&self) -> Vec<FieldConflict> {
        if !self.has_conflicts() {
            return Vec::new();
        }
        if !self.is_present() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let exists = distinct(&self.exists, |v| {
            if *v {
                "kept (edited)".to_owned()
            } else {
                "deleted".to_owned()
            }
        });
        out.extend(conflict(Field::Exists, exists));
        out.extend(conflict(
            Field::Image,
            distinct(&self.image, |v| match v {
                ImageRef::Dicom { frame, .. } => match frame {
                    Some(f) => format!("a DICOM image (frame {f})"),
                    None => "a DICOM image".to_owned(),
                },
                ImageRef::Slide { .. } => "a slide".to_owned(),
            }),
        ));
        out.extend(conflict(
            Field::Geometry,
            distinct(&self.geometry, |g| {
                format!("{:?} with {} points", g.kind, g.points.len()).to_lowercase()
            }),
        ));
        out.extend(conflict(
            Field::Label,
            distinct(&self.label, |l| l.name.clone()),
        ));
        out.extend(conflict(
            Field::Comment,
            distinct(&self.comment, |c| {
                c.clone().unwrap_or_else(|| "(no comment)".to_owned())
            }),
        ));
        out.extend(self.object_conflicts());
        out
    }
}

pub(super) fn distinct<T: PartialEq>(
    versions: &[Version<T>],
    show: impl Fn(&T) -> String,
) -> Vec<(Id, String)> {
    let mut seen: Vec<&T> = Vec::new();
    let mut out = Vec::new();
    for v in versions {
        if !seen.contains(&&v.value) {
            seen.push(&v.value);
            out.push((v.event, show(&v.value)));
        }
    }
    out
}

fn conflict(field: Field, versions: Vec<(Id, String)>) -> Option<FieldConflict> {
    (versions.len() > 1).then_some(FieldConflict { field, versions })
}

/// Which annotation fields `payload` writes (indexed like [`Field::ALL`]); see
/// [`registers::registers_written`] for every register of every kind of object.
pub fn writes(payload: &EventPayload) -> [bool; 5] {
    let mut w = [false; 5];
    for r in registers::registers_written(payload) {
        if let Reg::Field(f) = r
            && let Some(i) = Field::ALL.iter().position(|x| *x == f)
        {
            w[i] = true;
        }
    }
    w
}

fn empty(id: Id) -> Registers {
    Registers {
        id,
        frontier: Vec::new(),
        exists: Vec::new(),
        image: Vec::new(),
        geometry: Vec::new(),
        label: Vec::new(),
        comment: Vec::new(),
        class: Vec::new(),
        segmentation: Vec::new(),
        segments: BTreeMap::new(),
        chunks: BTreeMap::new(),
        workflow: Vec::new(),
    }
}

/// The `preds` of a new local edit of an annotation with registers `current`.
pub fn preds_for(current: Option<&Registers>) -> Vec<Id> {
    current.map(|r| r.frontier.clone()).unwrap_or_default()
}

/// Steps the registers by one local edit (`payload.preds` must be [`preds_for`] of
/// `current`), after checking the edit against the shown value: a create needs the
/// object absent, an update or delete needs `before` to equal what is shown (for a
/// stroke: each brick's content before), and the object must be of the edit's kind.
pub fn apply_local(
    current: Option<&Registers>,
    payload: &EventPayload,
    event: Id,
) -> Result<Registers, ApplyError> {
    let target = payload.edit.target();
    if let Some(c) = current
        && c.kind() != payload.edit.kind()
    {
        return Err(ApplyError::WrongKind(target));
    }
    if payload.edit.kind() == ObjectKind::Annotation {
        check_annotation(current, &payload.edit)?;
    } else {
        registers::check_local(current, &payload.edit)?;
    }
    let w = registers::registers_written(payload);
    let mut regs = current.cloned().unwrap_or_else(|| empty(target));
    for &r in &w {
        registers::clear(&mut regs, r);
    }
    for &r in &w {
        registers::push_version(&mut regs, payload, event, r);
    }
    regs.frontier = vec![event];
    Ok(regs)
}

fn check_annotation(current: Option<&Registers>, edit: &Edit) -> Result<(), ApplyError> {
    let shown = current.and_then(Registers::display);
    match (edit, &shown) {
        (Edit::Create { annotation }, Some(_)) => Err(ApplyError::Exists(annotation.id)),
        (Edit::Update { before, after }, _) if before.id != after.id => {
            Err(ApplyError::IdChanged(before.id))
        }
        (Edit::Update { before: a, .. } | Edit::Delete { annotation: a }, None) => {
            Err(ApplyError::Missing(a.id))
        }
        (Edit::Update { before: a, .. } | Edit::Delete { annotation: a }, Some(s)) if s != a => {
            Err(ApplyError::Stale(a.id))
        }
        _ => Ok(()),
    }
}

/// One event on an annotation, as [`materialize`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub event: Id,
    pub author: Id,
    pub hlc: i64,
    pub hash: &'a [u8],
    pub payload: &'a EventPayload,
}

impl Node<'_> {
    /// The deterministic order: (hybrid logical clock, author, event hash), then id.
    fn rank(&self) -> (i64, Id, &[u8], Id) {
        (self.hlc, self.author, self.hash, self.event)
    }
}

/// Why the events of an annotation do not materialise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MergeFailure {
    pub event: Id,
    pub reason: &'static str,
}

/// The registers of annotation `target` from all events on it (any order; duplicates
/// by event id are ignored). Without `preds` (files written before sync existed) an
/// event's predecessor is the previous event on the annotation in event order.
pub fn materialize(target: Id, nodes: &[Node<'_>]) -> Result<Registers, MergeFailure> {
    // Most annotations have one event: skip the graph.
    if let [only] = nodes {
        return materialize_one(target, only);
    }
    let mut nodes: Vec<&Node<'_>> = nodes.iter().collect();
    nodes.sort_by(|a, b| a.rank().cmp(&b.rank()));
    nodes.dedup_by_key(|n| n.event);
    let n = nodes.len();
    let index: HashMap<Id, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, nd)| (nd.event, i))
        .collect();
    let fail = |nd: &Node<'_>, reason| MergeFailure {
        event: nd.event,
        reason,
    };
    let kind = nodes[0].payload.edit.kind();
    let mut preds: Vec<Vec<usize>> = Vec::with_capacity(n);
    for (i, nd) in nodes.iter().enumerate() {
        if nd.payload.edit.target() != target {
            return Err(fail(nd, "event is filed under another annotation"));
        }
        if nd.payload.edit.kind() != kind {
            return Err(fail(nd, "edits its object as a different kind of object"));
        }
        let p = match &nd.payload.preds {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    index
                        .get(id)
                        .copied()
                        .filter(|&j| j < i && nodes[j].hlc < nd.hlc)
                        .ok_or_else(|| {
                            fail(nd, "names a version of its annotation that is not in the history or not older")
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None if i == 0 => Vec::new(),
            None => vec![i - 1],
        };
        preds.push(p);
    }
    let mut named = vec![false; n];
    for &j in preds.iter().flatten() {
        named[j] = true;
    }
    let frontier: Vec<usize> = (0..n).filter(|&i| !named[i]).collect();
    let w: Vec<Vec<Reg>> = nodes
        .iter()
        .map(|nd| registers::registers_written(nd.payload))
        .collect();
    let all: BTreeSet<Reg> = w.iter().flatten().copied().collect();

    let mut regs = empty(target);
    regs.frontier = frontier.iter().map(|&i| nodes[i].event).collect();
    let mut visited = vec![false; n];
    for reg in all {
        // The nearest writers of the register seen from the frontier ...
        visited.iter_mut().for_each(|v| *v = false);
        let mut found = Vec::new();
        let mut stack = frontier.clone();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut visited[i], true) {
                continue;
            }
            if w[i].binary_search(&reg).is_ok() {
                found.push(i);
            } else {
                stack.extend(&preds[i]);
            }
        }
        // ... minus those another of them has seen; greatest first.
        if found.len() > 1 {
            let keep: Vec<bool> = found
                .iter()
                .map(|&a| !found.iter().any(|&b| b != a && is_ancestor(a, b, &preds)))
                .collect();
            let mut k = keep.iter();
            found.retain(|_| k.next().copied().unwrap_or(true));
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        for &i in &found {
            let nd = nodes[i];
            registers::push_version(&mut regs, nd.payload, nd.event, reg);
        }
    }
    if regs.is_present() && !regs.is_complete() {
        let last = frontier.last().map_or(nodes[0], |&i| nodes[i]);
        return Err(fail(
            last,
            "edits a version of its annotation that is not in the history",
        ));
    }
    Ok(regs)
}

fn materialize_one(target: Id, nd: &Node<'_>) -> Result<Registers, MergeFailure> {
    let fail = |reason| MergeFailure {
        event: nd.event,
        reason,
    };
    if nd.payload.edit.target() != target {
        return Err(fail("event is filed under another annotation"));
    }
    if nd.payload.preds.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(fail(
            "names a version of its annotation that is not in the history or not older",
        ));
    }
    let mut regs = empty(target);
    regs.frontier = vec![nd.event];
    for reg in registers::registers_written(nd.payload) {
        registers::push_version(&mut regs, nd.payload, nd.event, reg);
    }
    if regs.is_present() && !regs.is_complete() {
        return Err(fail(
            "edits a version of its annotation that is not in the history",
        ));
    }
    Ok(regs)
}

/// True when `a` is a strict ancestor of `b` (indices in event order, so ancestors of
/// `b` have smaller indices and nothing below `a` can lead to it).
fn is_ancestor(a: usize, b: usize, preds: &[Vec<usize>]) -> bool {
    if a >= b {
        return false;
    }
    let mut stack = vec![b];
    let mut seen = std::collections::HashSet::new();
    while let Some(i) = stack.pop() {
        for &p in &preds[i] {
            if p == a {
                return true;
            }
            if p > a && seen.insert(p) {
                stack.push(p);
            }
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    fn ann(id: Id, label: &str, x: f64) -> Annotation {
        Annotation {
            id,
            body: AnnotationBody {
                image: ImageRef::Slide {
                    slide_sha256: "ab".into(),
                },
                kind: Kind::Point,
                points: vec![[x, 0.0]],
                label: Label {
                    name: label.into(),
                    scheme: None,
                    code: None,
                    meaning: None,
                },
                comment: None,
            },
        }
    }

    struct Ev {
        id: Id,
        author: Id,
        hlc: i64,
        payload: EventPayload,
    }

    fn edit(current: Option<&Registers>, e: Edit, hlc: i64, author: u8) -> (Ev, Registers) {
        let mut payload = EventPayload::new(e);
        payload.preds = Some(preds_for(current));
        let id = Id::random().unwrap();
        let regs = apply_local(current, &payload, id).unwrap();
        (
            Ev {
                id,
                author: Id([author; 16]),
                hlc,
                payload,
            },
            regs,
        )
    }

    fn mat(target: Id, evs: &[&Ev]) -> Registers {
        let nodes: Vec<Node<'_>> = evs
            .iter()
            .map(|e| Node {
                event: e.id,
                author: e.author,
                hlc: e.hlc,
                hash: &[],
                payload: &e.payload,
            })
            .collect();
        materialize(target, &nodes).unwrap()
    }

    #[test]
    fn concurrent_label_edits_conflict_and_a_resolution_settles_them() {
        let id = Id::random().unwrap();
        let a0 = ann(id, "lesion", 1.0);
        let (e1, r1) = edit(
            None,
            Edit::Create {
                annotation: a0.clone(),
            },
            1,
            1,
        );
        assert_eq!(mat(id, &[&e1]), r1, "incremental equals materialised");
        let (e2, r2) = edit(
            Some(&r1),
            Edit::Update {
                before: a0.clone(),
                after: ann(id, "normal", 1.0),
            },
            2,
            2,
        );
        let (e3, _) = edit(
            Some(&r1),
            Edit::Update {
                before: a0.clone(),
                after: ann(id, "cyst", 1.0),
            },
            3,
            3,
        );
        assert_eq!(mat(id, &[&e1, &e2]), r2);
        let merged = mat(id, &[&e3, &e1, &e2, &e1]);
        assert_eq!(
            merged,
            mat(id, &[&e2, &e3, &e1]),
            "order and duplicates do not matter"
        );
        let c = merged.conflicts();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, Field::Label);
        assert_eq!(c[0].versions[0].1, "cyst", "the greater clock is shown");
        assert_eq!(merged.frontier.len(), 2);
        // Resolve: an update naming both versions that settles the label.
        let shown = merged.display().unwrap();
        let mut p = EventPayload::new(Edit::Update {
            before: shown.clone(),
            after: ann(id, "normal", 1.0),
        });
        p.preds = Some(preds_for(Some(&merged)));
        p.resolves = vec![Field::Label];
        let e4 = Ev {
            id: Id::random().unwrap(),
            author: Id([1; 16]),
            hlc: 4,
            payload: p,
        };
        let inc = apply_local(Some(&merged), &e4.payload, e4.id).unwrap();
        let all = mat(id, &[&e1, &e2, &e3, &e4]);
        assert_eq!(all, inc);
        assert!(all.conflicts().is_empty());
        assert_eq!(all.display().unwrap().body.label.name, "normal");
    }

    #[test]
    fn edits_of_different_fields_merge_and_delete_versus_edit_is_a_conflict() {
        let id = Id::random().unwrap();
        let a0 = ann(id, "lesion", 1.0);
        let (e1, r1) = edit(
            None,
            Edit::Create {
                annotation: a0.clone(),
            },
            1,
            1,
        );
        let (e2, _) = edit(
            Some(&r1),
            Edit::Update {
                before: a0.clone(),
                after: ann(id, "normal", 1.0),
            },
            2,
            2,
        );
        let (e3, _) = edit(
            Some(&r1),
            Edit::Update {
                before: a0.clone(),
                after: ann(id, "lesion", 9.0),
            },
            3,
            3,
        );
        let m = mat(id, &[&e1, &e2, &e3]);
        assert!(m.conflicts().is_empty(), "{:?}", m.conflicts());
        let shown = m.display().unwrap();
        assert_eq!(
            (shown.body.label.name.as_str(), shown.body.points[0][0]),
            ("normal", 9.0)
        );
        let (e4, _) = edit(
            Some(&r1),
            Edit::Delete {
                annotation: a0.clone(),
            },
            4,
            4,
        );
        let m = mat(id, &[&e1, &e2, &e4]);
        assert!(
            m.is_present(),
            "a concurrent delete never hides an edit silently"
        );
        assert_eq!(m.conflicts()[0].field, Field::Exists);
        let m = mat(id, &[&e1, &e4]);
        assert!(!m.is_present() && m.conflicts().is_empty());
    }

    #[test]
    fn a_missing_predecessor_is_refused() {
        let id = Id::random().unwrap();
        let a0 = ann(id, "lesion", 1.0);
        let (_e1, r1) = edit(
            None,
            Edit::Create {
                annotation: a0.clone(),
            },
            1,
            1,
        );
        let (e2, _) = edit(Some(&r1), Edit::Delete { annotation: a0 }, 2, 1);
        let nodes = [Node {
            event: e2.id,
            author: e2.author,
            hlc: 2,
            hash: &[],
            payload: &e2.payload,
        }];
        assert!(materialize(id, &nodes).is_err());
    }
}
