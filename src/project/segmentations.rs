//! The label schema and the segmentations of an unlocked project: the calls the viewer
//! makes to list, load and edit them, resolve their conflicts and name their history lines.
//!
//! Owns the session side of label classes and segmentations; every change goes through
//! `Session::commit_edit` / `commit_payloads` (one encrypted, signed event per edit, one
//! transaction per call), so replay, undo, sync and verification treat them like any
//! other edit. Loading a segmentation decrypts one cache row (its shown bricks) and unpacks
//! it into a [`LabelMap`]; nothing here writes plaintext anywhere.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;

use super::ProjectError;
use super::events;
use super::id::Id;
use super::merge::{FieldConflict, Registers};
use super::model::{ApplyError, Edit, EventPayload, ImageRef, ObjectKind};
use super::session::{Session, load_chunks};
use crate::annotate::labelmap::LabelMap;
use crate::annotate::packed::{ChunkDelta, StrokeEdit, Tool};
use crate::annotate::schema::{self, LabelClass};
use crate::annotate::segmentation::{Segment, SegmentationHeader};

/// A segmentation as listed (without its label map).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentationInfo {
    pub id: Id,
    pub image: ImageRef,
    pub header: SegmentationHeader,
    pub segments: BTreeMap<u8, Segment>,
    /// Bricks holding painted voxels.
    pub painted_bricks: usize,
    pub has_conflicts: bool,
}

/// A segmentation with its label map unpacked, ready to show and paint.
#[derive(Debug, Clone)]
pub struct LoadedSegmentation {
    pub info: SegmentationInfo,
    pub map: LabelMap,
    /// Conflicts from merged copies (label-map bricks, segments), if any.
    pub conflicts: Vec<FieldConflict>,
}

const CACHE_COLUMNS: &str = "annotation_id, image_bidx, event_id, key_id, nonce, ct";

impl Session {
    /// The registers of one object, decrypted from the cache (`None` when unknown).
    fn registers_of(&mut self, id: Id) -> Result<Option<Registers>, ProjectError> {
        if self.blind()?.hides(&id) {
            return Ok(None);
        }
        self.registers_unfiltered(id)
    }

    fn registers_unfiltered(&mut self, id: Id) -> Result<Option<Registers>, ProjectError> {
        let (project, u) = self.parts()?;
        let row = project
            .conn
            .prepare_cached(&format!(
                "SELECT {CACHE_COLUMNS} FROM annotations WHERE annotation_id = ?1"
            ))?
            .query_row([id], events::cache_row)
            .optional()?;
        row.map(|r| events::open_cache_row(&project.project_id, &u.keys.sealer, &r))
            .transpose()
    }

    /// Every object's registers of `kind` (optionally of one image's blind index) that
    /// this user may see (blinded cases: `cases.rs`).
    fn registers_where(
        &mut self,
        kind: ObjectKind,
        bidx: Option<Vec<u8>>,
    ) -> Result<Vec<Registers>, ProjectError> {
        let blind = if kind == ObjectKind::LabelClass {
            super::cases::Blind::default()
        } else {
            self.blind()?
        };
        let (project, u) = self.parts()?;
        let rows: Vec<events::CacheRow> = project
            .conn
            .prepare(&format!(
                "SELECT {CACHE_COLUMNS} FROM annotations WHERE ?1 IS NULL OR image_bidx = ?1 ORDER BY annotation_id"
            ))?
            .query_map([bidx], events::cache_row)?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for r in &rows {
            let regs = events::open_cache_row(&project.project_id, &u.keys.sealer, r)?;
            if regs.is_present() && regs.kind() == kind && !blind.hides(&regs.id) {
                out.push(regs);
            }
        }
        Ok(out)
    }

    /// The project's label schema: every class, by name.
    pub fn label_classes(&mut self) -> Result<Vec<(Id, LabelClass)>, ProjectError> {
        let mut out: Vec<(Id, LabelClass)> = self
            .registers_where(ObjectKind::LabelClass, None)?
            .into_iter()
            .filter_map(|r| Some((r.id, r.label_class()?.clone())))
            .collect();
        out.sort_by_key(|(_, c)| c.name.to_lowercase());
        Ok(out)
    }

    /// Adds a class (`id` = None) or replaces class `id`; admins only. The class must
    /// validate and its name and codes must not duplicate another class's.
    pub fn save_class(&mut self, id: Option<Id>, class: LabelClass) -> Result<Id, ProjectError> {
        self.require_admin()?;
        let mut classes = self.label_classes()?;
        let id = match id {
            Some(id) => id,
            None => Id::random()?,
        };
        let before = classes
            .iter()
            .position(|(i, _)| *i == id)
            .map(|at| classes.remove(at).1);
        let mut all: Vec<LabelClass> = classes.into_iter().map(|(_, c)| c).collect();
        all.push(class.clone());
        schema::validate_schema(&all).map_err(|e| ApplyError::Invalid {
            id,
            reason: e.to_string(),
        })?;
        self.commit_edit(Edit::ClassDefine {
            id,
            before,
            after: Some(class),
        })?;
        Ok(id)
    }

    /// Removes class `id` from the schema (segments keep their copy); admins only.
    pub fn remove_class(&mut self, id: Id) -> Result<Id, ProjectError> {
        let before = self
            .registers_of(id)?
            .and_then(|r| r.label_class().cloned())
            .ok_or(ApplyError::Missing(id))?;
        self.commit_edit(Edit::ClassDefine {
            id,
            before: Some(before),
            after: None,
        })
    }

    /// Adds the default classes (`assets/label-schema-default.json`) whose names the
    /// schema does not have yet, in one transaction; admins only. Returns how many.
    pub fn install_default_schema(&mut self) -> Result<usize, ProjectError> {
        self.require_admin()?;
        let have: std::collections::BTreeSet<String> = self
            .label_classes()?
            .into_iter()
            .map(|(_, c)| c.name.to_lowercase())
            .collect();
        let mut payloads = Vec::new();
        let defaults =
            schema::default_classes().map_err(|e| ProjectError::Format(e.to_string()))?;
        for class in defaults {
            if have.contains(&class.name.to_lowercase()) {
                continue;
            }
            payloads.push(EventPayload::new(Edit::ClassDefine {
                id: Id::random()?,
                before: None,
                after: Some(class),
            }));
        }
        Ok(self.commit_payloads(&payloads)?.len())
    }

    /// Creates an empty segmentation of `image` (its series) on the header's grid.
    pub fn create_segmentation(
        &mut self,
        image: ImageRef,
        header: SegmentationHeader,
    ) -> Result<Id, ProjectError> {
        let id = Id::random()?;
        self.commit_edit(Edit::SegmentationCreate { id, image, header })?;
        Ok(id)
    }

    /// Removes a segmentation from view (undo brings it back, painted).
    pub fn delete_segmentation(&mut self, id: Id) -> Result<Id, ProjectError> {
        let regs = self.registers_of(id)?.filter(Registers::is_present);
        let Some((image, header)) = regs.as_ref().and_then(Registers::shown_segmentation) else {
            return Err(ApplyError::Missing(id).into());
        };
        let edit = Edit::SegmentationDelete {
            id,
            image: image.clone(),
            header: header.clone(),
        };
        self.commit_edit(edit)
    }

    /// Sets (or with `None` removes) segment `index` of a segmentation.
    pub fn define_segment(
        &mut self,
        segmentation: Id,
        index: u8,
        segment: Option<Segment>,
    ) -> Result<Id, ProjectError> {
        let before = self
            .registers_of(segmentation)?
            .and_then(|r| r.shown_segment(index).cloned());
        self.commit_edit(Edit::SegmentDefine {
            segmentation,
            index,
            before,
            after: segment,
        })
    }

    /// The image a segmentation is on (deleted or not; `None`: no such segmentation).
    pub(super) fn segmentation_image(&mut self, id: Id) -> Result<Option<ImageRef>, ProjectError> {
        Ok(self
            .registers_unfiltered(id)?
            .and_then(|r| r.shown_segmentation().map(|(image, _)| image.clone())))
    }

    /// Every shown segmentation, by id.
    pub fn segmentations(&mut self) -> Result<Vec<SegmentationInfo>, ProjectError> {
        let regs = self.registers_where(ObjectKind::Segmentation, None)?;
        Ok(regs.iter().filter_map(info).collect())
    }

    /// The shown segmentations of one image's series (found by blind index).
    pub fn segmentations_for_image(
        &mut self,
        image: &ImageRef,
    ) -> Result<Vec<SegmentationInfo>, ProjectError> {
        let bidx = self.parts()?.1.keys.image_index(image);
        let regs = self.registers_where(ObjectKind::Segmentation, Some(bidx))?;
        Ok(regs.iter().filter_map(info).collect())
    }

    /// One segmentation with its label map unpacked.
    pub fn load_segmentation(&mut self, id: Id) -> Result<LoadedSegmentation, ProjectError> {
        let regs = self
            .registers_of(id)?
            .filter(|r| r.is_present() && r.kind() == ObjectKind::Segmentation)
            .ok_or(ApplyError::Missing(id))?;
        let info = info(&regs).ok_or(ApplyError::Missing(id))?;
        let mut map = info.header.new_label_map()?;
        map.load_chunks(regs.shown_chunks())?;
        Ok(LoadedSegmentation {
            info,
            map,
            conflicts: regs.conflicts(),
        })
    }

    /// A readable history line for one event, e.g. "Brush +12.4 mL to Lesion 1" (undo and
    /// redo prefixed), in the words of the current segment and class names.
    pub fn describe_event(&mut self, event: Id) -> Result<String, ProjectError> {
        let payload = {
            let (project, u) = self.parts()?;
            let ev = project
                .conn
                .query_row(
                    &format!(
                        "SELECT {} FROM events WHERE event_id = ?1",
                        events::EVENT_COLUMNS
                    ),
                    [event],
                    events::event_row,
                )
                .optional()?
                .ok_or_else(|| ProjectError::Format(format!("no event {}", event.short())))?;
            let chunks = load_chunks(&project.conn, &event)?;
            let blob = events::open_payload(&project.project_id, &u.keys.sealer, &ev, &chunks)
                .map_err(|e| ProjectError::Format(e.into()))?;
            events::decode_payload(&blob)
                .ok_or_else(|| ProjectError::Format("payload is not a valid edit".into()))?
        };
        let regs = self.registers_of(payload.edit.target())?;
        let line = describe(&payload.edit, regs.as_ref());
        Ok(match (payload.undo_of, payload.redo_of) {
            (Some(_), _) => format!("Undo: {line}"),
            (None, Some(_)) => format!("Redo: {line}"),
            (None, None) => line,
        })
    }

    /// Resolves the conflicts of a label class or a segmentation in favour of the
    /// versions written by `keep` (the shown version where `keep` wrote none), in one
    /// transaction: a class edit; for a segmentation one stroke rewriting every
    /// conflicting brick and one segment edit per conflicting segment. Their predecessors
    /// are all current versions, so the conflicts end.
    pub(super) fn resolve_object_conflict(
        &mut self,
        regs: &Registers,
        keep: Id,
    ) -> Result<Id, ProjectError> {
        let id = regs.id;
        if !regs.has_conflicts() {
            return Err(ProjectError::Format(format!(
                "{} has no conflict",
                id.short()
            )));
        }
        let known = regs.exists.iter().any(|v| v.event == keep)
            || regs.class.iter().any(|v| v.event == keep)
            || regs.segments.values().flatten().any(|v| v.event == keep)
            || regs.chunks.values().flatten().any(|v| v.event == keep);
        if !known {
            return Err(ProjectError::Format(format!(
                "event {} is not one of the conflicting versions",
                keep.short()
            )));
        }
        let keeps_delete = regs.exists.iter().any(|v| v.event == keep && !v.value);
        let mut payloads = Vec::new();
        match regs.kind() {
            ObjectKind::LabelClass => {
                let shown = regs.label_class().cloned();
                let after = if keeps_delete {
                    None
                } else {
                    regs.class
                        .iter()
                        .find(|v| v.event == keep)
                        .map(|v| v.value.clone())
                        .or_else(|| shown.clone())
                };
                let mut p = EventPayload::new(Edit::ClassDefine {
                    id,
                    before: shown,
                    after,
                });
                p.resolves = vec![super::merge::Field::Class];
                payloads.push(p);
            }
            ObjectKind::Segmentation => {
                let (image, header) = regs.shown_segmentation().ok_or(ApplyError::Missing(id))?;
                if keeps_delete {
                    payloads.push(EventPayload::new(Edit::SegmentationDelete {
                        id,
                        image: image.clone(),
                        header: header.clone(),
                    }));
                } else {
                    let mut chunks = Vec::new();
                    for (&index, versions) in &regs.chunks {
                        let shown = &versions[0].value;
                        if versions.iter().all(|v| v.value == *shown) {
                            continue;
                        }
                        let after = versions
                            .iter()
                            .find(|v| v.event == keep)
                            .map_or(shown, |v| &v.value);
                        chunks.push(ChunkDelta {
                            index,
                            before: shown.clone(),
                            after: after.clone(),
                        });
                    }
                    if !chunks.is_empty() {
                        let stroke = StrokeEdit {
                            tool: Tool::Other,
                            net_voxels: Vec::new(),
                            chunks,
                        };
                        payloads.push(EventPayload::new(Edit::SegmentStroke {
                            segmentation: id,
                            stroke,
                        }));
                    }
                    for (&index, versions) in &regs.segments {
                        let shown = &versions[0].value;
                        if versions.iter().all(|v| v.value == *shown) {
                            continue;
                        }
                        let after = versions
                            .iter()
                            .find(|v| v.event == keep)
                            .map_or(shown, |v| &v.value);
                        payloads.push(EventPayload::new(Edit::SegmentDefine {
                            segmentation: id,
                            index,
                            before: shown.clone(),
                            after: after.clone(),
                        }));
                    }
                    if payloads.is_empty() {
                        // Only existence disagreed (a delete against an edit): keep it.
                        payloads.push(EventPayload::new(Edit::SegmentationCreate {
                            id,
                            image: image.clone(),
                            header: header.clone(),
                        }));
                    }
                }
            }
            ObjectKind::Annotation | ObjectKind::Workflow => {
                return Err(ApplyError::WrongKind(id).into());
            }
        }
        let ids = self.commit_payloads(&payloads)?;
        ids.last()
            .copied()
            .ok_or_else(|| ProjectError::Format("no event written".into()))
    }
}

fn info(regs: &Registers) -> Option<SegmentationInfo> {
    let (image, header) = regs.shown_segmentation()?;
    Some(SegmentationInfo {
        id: regs.id,
        image: image.clone(),
        header: header.clone(),
        segments: regs.shown_segments(),
        painted_bricks: regs.shown_chunks().filter(|(_, p)| !p.is_zero()).count(),
        has_conflicts: regs.has_conflicts(),
    })
}

/// One history line for an edit, named from the object's current registers.
fn describe(edit: &Edit, regs: Option<&Registers>) -> String {
    let segment_name = |index: u8| {
        regs.and_then(|r| r.shown_segment(index))
            .map_or_else(|| format!("segment {index}"), |s| s.name.clone())
    };
    match edit {
        Edit::SegmentStroke { stroke, .. } => {
            let voxel_ml = regs
                .and_then(Registers::shown_segmentation)
                .map_or(0.0, |(_, h)| h.grid.voxel_ml());
            stroke.describe(voxel_ml, segment_name)
        }
        other => crate::annotate::shapes::describe_edit(other),
    }
}
