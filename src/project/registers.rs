//! Which registers each edit writes, for every kind of object, and the registers of label
//! classes and segmentations: the checks a local edit must pass against what is shown,
//! what "complete" means, and their conflicts.
//!
//! Owns [`Reg`] (a register key: a field, a segment index, a label-map brick index) and
//! [`registers_written`]. Rules (ARCHITECTURE.md, "Merge"): a label class is one register
//! (its value). A segmentation has a header register (written by its creation), one
//! register per segment index, and one per label-map brick: a stroke writes the bricks it
//! changed (their content after it). So concurrent strokes on different bricks merge; two
//! concurrent versions of the same brick with different content are a conflict, shown as
//! the version of the greatest event until someone paints the brick again or resolves it.
//! Every edit of an existing object also writes its existence (a delete concurrent with an
//! edit keeps the object, listed as a conflict). Pure: no SQLite, no crypto.

use std::collections::BTreeMap;

use super::id::Id;
use super::merge::{Field, FieldConflict, Registers, Version, distinct};
use super::model::{AnnotationBody, ApplyError, Edit, EventPayload, ImageRef, ObjectKind};
use crate::annotate::packed::Packed;
use crate::annotate::schema::LabelClass;
use crate::annotate::segmentation::{Segment, SegmentationHeader};

/// A register of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reg {
    Field(Field),
    /// A segmentation's segment index.
    Segment(u8),
    /// A segmentation's label-map brick index.
    Chunk(u32),
}

const ANNOTATION_FIELDS: [Field; 5] = Field::ALL;

/// The registers `payload` writes, ascending. For annotations: a create, and an update
/// that names no earlier version, assert every field; an update writes existence, the
/// fields it changes and those it explicitly resolves; a delete writes existence only.
pub fn registers_written(payload: &EventPayload) -> Vec<Reg> {
    let has_preds = payload.preds.as_ref().is_some_and(|p| !p.is_empty());
    let exists = Reg::Field(Field::Exists);
    let mut w: Vec<Reg> = match &payload.edit {
        Edit::Create { .. } => ANNOTATION_FIELDS.map(Reg::Field).to_vec(),
        Edit::Update { .. } if !has_preds => ANNOTATION_FIELDS.map(Reg::Field).to_vec(),
        Edit::Update { before, after } => {
            let (b, a) = (&before.body, &after.body);
            let changed = [
                true,
                b.image != a.image,
                b.kind != a.kind || b.points != a.points,
                b.label != a.label,
                b.comment != a.comment,
            ];
            ANNOTATION_FIELDS
                .into_iter()
                .zip(changed)
                .filter(|(f, c)| *c || payload.resolves.contains(f))
                .map(|(f, _)| Reg::Field(f))
                .collect()
        }
        Edit::Delete { .. }
        | Edit::SegmentationDelete { .. }
        | Edit::ClassDefine { after: None, .. } => vec![exists],
        Edit::ClassDefine {
            before: Some(b),
            after: Some(a),
            ..
        } if b == a && !payload.resolves.contains(&Field::Class) => vec![exists],
        Edit::ClassDefine { .. } => vec![exists, Reg::Field(Field::Class)],
        Edit::SegmentationCreate { .. } => vec![
            exists,
            Reg::Field(Field::Image),
            Reg::Field(Field::Segmentation),
        ],
        Edit::SegmentDefine { index, .. } => vec![exists, Reg::Segment(*index)],
        Edit::SegmentStroke { stroke, .. } => std::iter::once(exists)
            .chain(stroke.chunks.iter().map(|c| Reg::Chunk(c.index)))
            .collect(),
        Edit::Workflow { record, .. } => {
            let mut w = vec![exists, Reg::Field(Field::Workflow)];
            if record.case.is_some() {
                w.push(Reg::Field(Field::Image));
            }
            w
        }
    };
    w.sort_unstable();
    w.dedup();
    w
}

fn written_body(edit: &Edit) -> Option<&AnnotationBody> {
    match edit {
        Edit::Create { annotation } => Some(&annotation.body),
        Edit::Update { after, .. } => Some(&after.body),
        _ => None,
    }
}

/// Empties register `reg` (before a local edit writes it).
pub(super) fn clear(regs: &mut Registers, reg: Reg) {
    match reg {
        Reg::Field(Field::Exists) => regs.exists.clear(),
        Reg::Field(Field::Image) => regs.image.clear(),
        Reg::Field(Field::Geometry) => regs.geometry.clear(),
        Reg::Field(Field::Label) => regs.label.clear(),
        Reg::Field(Field::Comment) => regs.comment.clear(),
        Reg::Field(Field::Class) => regs.class.clear(),
        Reg::Field(Field::Segmentation) => regs.segmentation.clear(),
        Reg::Field(Field::Workflow) => regs.workflow.clear(),
        Reg::Field(Field::Segment | Field::LabelMap) => {}
        Reg::Segment(i) => {
            regs.segments.remove(&i);
        }
        Reg::Chunk(i) => {
            regs.chunks.remove(&i);
        }
    }
}

/// Appends the version of `reg` written by `event` (which must write it).
pub(super) fn push_version(regs: &mut Registers, payload: &EventPayload, event: Id, reg: Reg) {
    let edit = &payload.edit;
    match reg {
        Reg::Field(Field::Exists) => regs.exists.push(Version {
            event,
            value: !matches!(
                edit,
                Edit::Delete { .. }
                    | Edit::SegmentationDelete { .. }
                    | Edit::ClassDefine { after: None, .. }
            ),
        }),
        Reg::Field(Field::Image) => {
            let image = match edit {
                Edit::SegmentationCreate { image, .. } => Some(image),
                Edit::Workflow { record, .. } => record.case.as_ref(),
                e => written_body(e).map(|b| &b.image),
            };
            if let Some(image) = image {
                regs.image.push(Version {
                    event,
                    value: image.clone(),
                });
            }
        }
        Reg::Field(Field::Geometry) => {
            if let Some(b) = written_body(edit) {
                regs.geometry.push(Version {
                    event,
                    value: super::merge::Geometry {
                        kind: b.kind,
                        points: b.points.clone(),
                    },
                });
            }
        }
        Reg::Field(Field::Label) => {
            if let Some(b) = written_body(edit) {
                regs.label.push(Version {
                    event,
                    value: b.label.clone(),
                });
            }
        }
        Reg::Field(Field::Comment) => {
            if let Some(b) = written_body(edit) {
                regs.comment.push(Version {
                    event,
                    value: b.comment.clone(),
                });
            }
        }
        Reg::Field(Field::Class) => {
            if let Edit::ClassDefine { after: Some(c), .. } = edit {
                regs.class.push(Version {
                    event,
                    value: c.clone(),
                });
            }
        }
        Reg::Field(Field::Segmentation) => {
            if let Edit::SegmentationCreate { header, .. } = edit {
                regs.segmentation.push(Version {
                    event,
                    value: header.clone(),
                });
            }
        }
        Reg::Field(Field::Workflow) => {
            if let Edit::Workflow { record, .. } = edit {
                regs.workflow.push(Version {
                    event,
                    value: record.clone(),
                });
            }
        }
        Reg::Field(Field::Segment | Field::LabelMap) => {}
        Reg::Segment(i) => {
            if let Edit::SegmentDefine { index, after, .. } = edit
                && *index == i
            {
                regs.segments.entry(i).or_default().push(Version {
                    event,
                    value: after.clone(),
                });
            }
        }
        Reg::Chunk(i) => {
            if let Edit::SegmentStroke { stroke, .. } = edit
                && let Some(c) = stroke.chunks.iter().find(|c| c.index == i)
            {
                regs.chunks.entry(i).or_default().push(Version {
                    event,
                    value: c.after.clone(),
                });
            }
        }
    }
}

/// Checks a local edit of a label class or a segmentation against what is shown.
pub(super) fn check_local(current: Option<&Registers>, edit: &Edit) -> Result<(), ApplyError> {
    let target = edit.target();
    let invalid = |reason: String| ApplyError::Invalid { id: target, reason };
    let present = current.filter(|r| r.is_present());
    match edit {
        Edit::Create { .. } | Edit::Update { .. } | Edit::Delete { .. } => Ok(()),
        Edit::Workflow { record, .. } => match current {
            Some(_) => Err(ApplyError::Exists(target)),
            None => record.validate().map_err(invalid),
        },
        Edit::ClassDefine { before, after, .. } => {
            if before.is_none() && after.is_none() {
                return Err(invalid("a class edit needs a value before or after".into()));
            }
            if let Some(a) = after {
                a.validate().map_err(|e| invalid(e.to_string()))?;
            }
            let shown = present.and_then(Registers::label_class);
            match (before, shown) {
                (None, None) => Ok(()),
                (None, Some(_)) => Err(ApplyError::Exists(target)),
                (Some(_), None) => Err(ApplyError::Missing(target)),
                (Some(b), Some(s)) if b == s => Ok(()),
                (Some(_), Some(_)) => Err(ApplyError::Stale(target)),
            }
        }
        Edit::SegmentationCreate { image, header, .. } => {
            // Creating what is shown, unchanged, re-asserts it (how a conflict between a
            // removal and an edit is resolved in favour of keeping it).
            if let Some(regs) = present {
                return match regs.shown_segmentation() {
                    Some((i, h)) if i == image && h == header => Ok(()),
                    _ => Err(ApplyError::Exists(target)),
                };
            }
            header.validate().map_err(invalid)
        }
        Edit::SegmentationDelete { image, header, .. } => {
            let (shown_image, shown_header) = present
                .and_then(Registers::shown_segmentation)
                .ok_or(ApplyError::Missing(target))?;
            if shown_image != image || shown_header != header {
                return Err(ApplyError::Stale(target));
            }
            Ok(())
        }
        Edit::SegmentDefine {
            index,
            before,
            after,
            ..
        } => {
            let regs = present
                .filter(|r| r.shown_segmentation().is_some())
                .ok_or(ApplyError::Missing(target))?;
            if *index == 0 {
                return Err(invalid("segment index 0 is the background".into()));
            }
            if before.is_none() && after.is_none() {
                return Err(invalid(
                    "a segment edit needs a value before or after".into(),
                ));
            }
            if let Some(a) = after {
                a.validate().map_err(invalid)?;
            }
            let shown = regs.shown_segment(*index);
            if before.as_ref() != shown {
                return Err(ApplyError::Stale(target));
            }
            Ok(())
        }
        Edit::SegmentStroke { stroke, .. } => {
            let regs = present.ok_or(ApplyError::Missing(target))?;
            let (_, header) = regs
                .shown_segmentation()
                .ok_or(ApplyError::Missing(target))?;
            let map = header.new_label_map().map_err(|e| invalid(e.to_string()))?;
            if stroke.chunks.is_empty() {
                return Err(invalid("a stroke changes no brick".into()));
            }
            let mut last: Option<u32> = None;
            for c in &stroke.chunks {
                if last.is_some_and(|l| l >= c.index) {
                    return Err(invalid(
                        "stroke bricks are not ascending and distinct".into(),
                    ));
                }
                last = Some(c.index);
                map.decode(c.index, &c.after)
                    .map_err(|e| invalid(e.to_string()))?;
                let len = map.brick_box(c.index).len();
                let zero = Packed::default();
                let shown = regs.shown_chunk(c.index).unwrap_or(&zero);
                let same = c
                    .before
                    .same_content(shown, len)
                    .map_err(|e| invalid(format!("brick {}: {e}", c.index)))?;
                if !same {
                    return Err(ApplyError::Stale(target));
                }
            }
            Ok(())
        }
    }
}

fn differ<T: PartialEq>(v: &[Version<T>]) -> bool {
    v.iter().skip(1).any(|x| x.value != v[0].value)
}

impl Registers {
    /// What kind of object these registers describe.
    pub fn kind(&self) -> ObjectKind {
        if !self.workflow.is_empty() {
            ObjectKind::Workflow
        } else if !self.segmentation.is_empty()
            || !self.segments.is_empty()
            || !self.chunks.is_empty()
        {
            ObjectKind::Segmentation
        } else if !self.class.is_empty() {
            ObjectKind::LabelClass
        } else {
            ObjectKind::Annotation
        }
    }

    /// True when the object can be shown: every register its kind needs has a version
    /// (and a segmentation's bricks lie inside its grid).
    pub fn is_complete(&self) -> bool {
        match self.kind() {
            ObjectKind::Annotation => self.is_present() && self.has_every_field(),
            ObjectKind::LabelClass => !self.class.is_empty(),
            ObjectKind::Workflow => !self.workflow.is_empty(),
            ObjectKind::Segmentation => match self.shown_segmentation() {
                Some((_, header)) => match header.new_label_map() {
                    Ok(map) => self
                        .chunks
                        .keys()
                        .all(|&i| (i as usize) < map.brick_count()),
                    Err(_) => false,
                },
                None => false,
            },
        }
    }

    /// The shown value of a label class (`None` when deleted or not a class).
    pub fn label_class(&self) -> Option<&LabelClass> {
        if !self.is_present() {
            return None;
        }
        self.class.first().map(|v| &v.value)
    }

    /// The image and header of a segmentation, whether shown or deleted.
    pub fn shown_segmentation(&self) -> Option<(&ImageRef, &SegmentationHeader)> {
        Some((
            &self.image.first()?.value,
            &self.segmentation.first()?.value,
        ))
    }

    /// The shown value of segment `index` (`None` when absent or removed).
    pub fn shown_segment(&self, index: u8) -> Option<&Segment> {
        self.segments.get(&index)?.first()?.value.as_ref()
    }

    /// Every shown segment, by index.
    pub fn shown_segments(&self) -> BTreeMap<u8, Segment> {
        self.segments
            .keys()
            .filter_map(|&i| Some((i, self.shown_segment(i)?.clone())))
            .collect()
    }

    /// The shown content of label-map brick `index` (`None`: never painted, all zero).
    pub fn shown_chunk(&self, index: u32) -> Option<&Packed> {
        Some(&self.chunks.get(&index)?.first()?.value)
    }

    /// Every painted brick's shown content, ascending.
    pub fn shown_chunks(&self) -> impl Iterator<Item = (u32, &Packed)> {
        self.chunks
            .iter()
            .filter_map(|(&i, v)| Some((i, &v.first()?.value)))
    }

    /// A short name for lists: an annotation's label, a class's or segmentation's name.
    pub fn title(&self) -> String {
        if let Some(v) = self.label.first() {
            return v.value.name.clone();
        }
        if let Some(v) = self.class.first() {
            return v.value.name.clone();
        }
        if let Some(v) = self.segmentation.first() {
            return v.value.name.clone();
        }
        String::new()
    }

    /// True when a class's or segmentation's registers disagree.
    pub(super) fn object_has_conflicts(&self) -> bool {
        differ(&self.class)
            || differ(&self.segmentation)
            || self.segments.values().any(|v| differ(v))
            || self.chunks.values().any(|v| differ(v))
    }

    /// The conflicts of a class's or segmentation's registers.
    pub(super) fn object_conflicts(&self) -> Vec<FieldConflict> {
        let mut out = Vec::new();
        if differ(&self.class) {
            out.push(FieldConflict {
                field: Field::Class,
                versions: distinct(&self.class, |c| c.title()),
            });
        }
        if differ(&self.segmentation) {
            out.push(FieldConflict {
                field: Field::Segmentation,
                versions: distinct(&self.segmentation, |h| h.name.clone()),
            });
        }
        let mut segment_versions = Vec::new();
        for (index, versions) in &self.segments {
            if differ(versions) {
                segment_versions.extend(distinct(versions, |s| match s {
                    Some(s) => format!("segment {index}: {}", s.name),
                    None => format!("segment {index}: removed"),
                }));
            }
        }
        if !segment_versions.is_empty() {
            out.push(FieldConflict {
                field: Field::Segment,
                versions: segment_versions,
            });
        }
        // Label-map bricks: one entry per event that wrote a conflicting version, with the
        // number of bricks it disagrees on; the shown versions' event first.
        let mut bricks: Vec<(Id, usize)> = Vec::new();
        for versions in self.chunks.values().filter(|v| differ(v)) {
            for v in versions {
                match bricks.iter_mut().find(|(e, _)| *e == v.event) {
                    Some((_, n)) => *n += 1,
                    None => bricks.push((v.event, 1)),
                }
            }
        }
        if !bricks.is_empty() {
            out.push(FieldConflict {
                field: Field::LabelMap,
                versions: bricks
                    .into_iter()
                    .map(|(e, n)| (e, format!("its version of {n} label-map brick(s)")))
                    .collect(),
            });
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::labelmap::{Draft, Stroke};
    use crate::annotate::packed::{StrokeEdit, Tool};
    use crate::imaging::mpr::VolumeGrid;
    use crate::project::merge::{Node, apply_local, materialize, preds_for};

    struct Ev {
        id: Id,
        author: Id,
        hlc: i64,
        payload: EventPayload,
    }

    fn local(current: Option<&Registers>, edit: Edit, hlc: i64, author: u8) -> (Ev, Registers) {
        let mut payload = EventPayload::new(edit);
        payload.preds = Some(preds_for(current));
        let id = Id::random().unwrap();
        let regs = apply_local(current, &payload, id).unwrap();
        let author = Id([author; 16]);
        (
            Ev {
                id,
                author,
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

    fn header() -> SegmentationHeader {
        let grid = VolumeGrid {
            dims: [64, 64, 40],
            spacing_mm: [1.0; 3],
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin_mm: [0.0; 3],
        };
        SegmentationHeader::new("Liver", &grid)
    }

    fn image() -> ImageRef {
        ImageRef::Dicom {
            series_uid: "1.2.3".into(),
            sop_uid: None,
            frame: None,
            plane: None,
            provenance: None,
        }
    }

    /// A stroke setting voxel `v` to `label` on the map `regs` shows.
    fn paint(regs: &Registers, v: [usize; 3], label: u8) -> StrokeEdit {
        let (_, h) = regs.shown_segmentation().unwrap();
        let mut map = h.new_label_map().unwrap();
        map.load_chunks(regs.shown_chunks()).unwrap();
        let mut stroke = Stroke::new();
        let mut d = Draft::new(&map);
        d.set(v, label);
        let cs = d.finish();
        stroke.apply(&mut map, cs);
        stroke.finish(&map, Tool::Brush).unwrap()
    }

    #[test]
    fn concurrent_strokes_merge_by_brick_and_conflict_on_the_same_brick() {
        let id = Id::random().unwrap();
        let create = Edit::SegmentationCreate {
            id,
            image: image(),
            header: header(),
        };
        let (e1, r1) = local(None, create, 1, 1);
        assert_eq!(mat(id, &[&e1]), r1);
        assert_eq!(r1.kind(), ObjectKind::Segmentation);
        // Two people paint different bricks of their copies: both land.
        let s2 = paint(&r1, [1, 1, 1], 1);
        let s3 = paint(&r1, [40, 40, 1], 1);
        let (e2, r2) = local(Some(&r1), stroke(id, s2), 2, 2);
        let (e3, _) = local(Some(&r1), stroke(id, s3), 3, 3);
        assert_eq!(mat(id, &[&e1, &e2]), r2, "incremental equals materialised");
        let m = mat(id, &[&e3, &e1, &e2]);
        assert_eq!(m, mat(id, &[&e2, &e1, &e3, &e2]), "order and duplicates");
        assert!(!m.has_conflicts(), "{:?}", m.conflicts());
        assert_eq!(m.shown_chunks().count(), 2);
        // A third paints the first brick concurrently with the second: a label-map conflict,
        // shown as the greater event's version, whatever the order of arrival.
        let s4 = paint(&r1, [2, 2, 2], 2);
        let (e4, _) = local(Some(&r1), stroke(id, s4), 4, 4);
        let m = mat(id, &[&e1, &e2, &e3, &e4]);
        assert_eq!(m, mat(id, &[&e4, &e3, &e2, &e1]));
        let c = m.conflicts();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, Field::LabelMap);
        assert_eq!(c[0].versions[0].0, e4.id, "the greater clock is shown");
        assert_eq!(m.shown_chunk(0), e4_after(&e4));
        // Painting that brick again after seeing both settles it.
        let s5 = paint(&m, [3, 3, 3], 1);
        let (e5, r5) = local(Some(&m), stroke(id, s5), 5, 1);
        assert!(!r5.has_conflicts());
        assert_eq!(mat(id, &[&e1, &e2, &e3, &e4, &e5]), r5);
    }

    fn stroke(segmentation: Id, stroke: StrokeEdit) -> Edit {
        Edit::SegmentStroke {
            segmentation,
            stroke,
        }
    }

    fn e4_after(e: &Ev) -> Option<&Packed> {
        match &e.payload.edit {
            Edit::SegmentStroke { stroke, .. } => Some(&stroke.chunks[0].after),
            _ => None,
        }
    }

    #[test]
    fn stale_or_malformed_strokes_and_wrong_kinds_are_refused() {
        let id = Id::random().unwrap();
        let create = Edit::SegmentationCreate {
            id,
            image: image(),
            header: header(),
        };
        let (_, r1) = local(None, create.clone(), 1, 1);
        let s = paint(&r1, [1, 1, 1], 1);
        let (_, r2) = local(Some(&r1), stroke(id, s.clone()), 2, 1);
        let mut p = EventPayload::new(stroke(id, s.clone()));
        p.preds = Some(preds_for(Some(&r2)));
        assert_eq!(
            apply_local(Some(&r2), &p, Id::NIL),
            Err(ApplyError::Stale(id)),
            "the same stroke twice: its before no longer matches"
        );
        let mut bad = s.clone();
        bad.chunks[0].index = 10_000;
        let p = EventPayload::new(stroke(id, bad));
        assert!(matches!(
            apply_local(Some(&r1), &p, Id::NIL),
            Err(ApplyError::Invalid { .. })
        ));
        let p = EventPayload::new(stroke(Id::random().unwrap(), s));
        assert!(matches!(
            apply_local(None, &p, Id::NIL),
            Err(ApplyError::Missing(_))
        ));
        let p = EventPayload::new(create.clone());
        assert!(
            apply_local(Some(&r1), &p, Id::NIL).is_ok(),
            "re-asserting is allowed"
        );
        let Edit::SegmentationCreate {
            image, mut header, ..
        } = create
        else {
            unreachable!()
        };
        header.name = "Other".into();
        let p = EventPayload::new(Edit::SegmentationCreate { id, image, header });
        assert_eq!(
            apply_local(Some(&r1), &p, Id::NIL),
            Err(ApplyError::Exists(id))
        );
        let class = Edit::ClassDefine {
            id,
            before: None,
            after: Some(LabelClass::free_text(
                "x",
                crate::annotate::schema::Colour([0; 3]),
            )),
        };
        let p = EventPayload::new(class);
        assert_eq!(
            apply_local(Some(&r1), &p, Id::NIL),
            Err(ApplyError::WrongKind(id))
        );
    }

    #[test]
    fn classes_and_segments_are_registers_too() {
        let classes = crate::annotate::schema::default_classes().unwrap();
        let id = Id::random().unwrap();
        let (c1, r1) = local(
            None,
            Edit::ClassDefine {
                id,
                before: None,
                after: Some(classes[0].clone()),
            },
            1,
            1,
        );
        assert_eq!(r1.label_class(), Some(&classes[0]));
        let edit = |to: usize| Edit::ClassDefine {
            id,
            before: Some(classes[0].clone()),
            after: Some(classes[to].clone()),
        };
        let (c2, _) = local(Some(&r1), edit(1), 2, 2);
        let (c3, _) = local(Some(&r1), edit(2), 3, 3);
        let m = mat(id, &[&c1, &c2, &c3]);
        assert_eq!(m.conflicts()[0].field, Field::Class);
        assert_eq!(m.label_class(), Some(&classes[2]));
        // Segments.
        let sid = Id::random().unwrap();
        let (s1, r) = local(
            None,
            Edit::SegmentationCreate {
                id: sid,
                image: image(),
                header: header(),
            },
            4,
            1,
        );
        let seg = Segment::of_class("Lesion 1", Some(id), &classes[0]);
        let (s2, r) = local(
            Some(&r),
            Edit::SegmentDefine {
                segmentation: sid,
                index: 1,
                before: None,
                after: Some(seg.clone()),
            },
            5,
            1,
        );
        assert_eq!(r.shown_segments(), BTreeMap::from([(1, seg.clone())]));
        assert_eq!(mat(sid, &[&s1, &s2]), r);
        let p = EventPayload::new(Edit::SegmentDefine {
            segmentation: sid,
            index: 0,
            before: None,
            after: Some(seg),
        });
        assert!(matches!(
            apply_local(Some(&r), &p, Id::NIL),
            Err(ApplyError::Invalid { .. })
        ));
    }

    #[test]
    fn every_new_edit_round_trips_through_the_payload_encoding() {
        let id = Id::random().unwrap();
        let (_, r1) = local(
            None,
            Edit::SegmentationCreate {
                id,
                image: image(),
                header: header(),
            },
            1,
            1,
        );
        let class = crate::annotate::schema::default_classes().unwrap()[0].clone();
        let edits = [
            Edit::SegmentationCreate {
                id,
                image: image(),
                header: header(),
            },
            stroke(id, paint(&r1, [5, 6, 7], 3)),
            Edit::SegmentDefine {
                segmentation: id,
                index: 3,
                before: None,
                after: Some(Segment::of_class("Lesion 3", Some(id), &class)),
            },
            Edit::ClassDefine {
                id,
                before: Some(class.clone()),
                after: None,
            },
        ];
        for e in edits {
            let mut p = EventPayload::new(e.inverse());
            p.redo_of = Some(id);
            let blob = super::super::events::encode_payload(&p).unwrap();
            let back = super::super::events::decode_payload(&blob).unwrap();
            assert_eq!(back, p);
            assert_eq!(back.op_name(), "redo");
        }
    }
}
