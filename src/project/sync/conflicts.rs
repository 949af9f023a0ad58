//! Conflicts: listing them ([`Session::conflicts`]), resolving one
//! ([`Session::resolve_conflict`], a new event whose predecessors are every current
//! version), and the canonical state two converged copies share byte for byte.

use rusqlite::OptionalExtension;

use super::{ConflictItem, ConflictVersion};
use crate::project::ProjectError;
use crate::project::events;
use crate::project::id::Id;
use crate::project::merge::{FieldConflict, Version};
use crate::project::model::{ApplyError, Edit, EventPayload};
use crate::project::session::Session;

impl Session {
    /// Every conflict of every shown annotation, in annotation order.
    pub fn conflicts(&mut self) -> Result<Vec<ConflictItem>, ProjectError> {
        let members = self.members()?;
        let (project, u) = self.parts()?;
        let rows: Vec<events::CacheRow> = project
            .conn
            .prepare("SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations ORDER BY annotation_id")?
            .query_map([], events::cache_row)?
            .collect::<Result<_, _>>()?;
        let mut found = Vec::new();
        for row in &rows {
            let regs = events::open_cache_row(&project.project_id, &u.keys.sealer, row)?;
            let c = regs.conflicts();
            if !c.is_empty() {
                found.push((regs.id, regs.title(), c));
            }
        }
        let name = |id: &Id| {
            crate::project::members::display_name(members.get(id).map(|m| m.name.as_str()), id)
        };
        describe_conflicts(&project.conn, &name, found)
    }

    /// Resolves every conflict of `annotation` in favour of the version written by
    /// `keep` (where `keep` wrote a field; the shown version elsewhere): one new event
    /// whose predecessors are all current versions. Keeping a delete deletes. Label
    /// classes and segmentations: see `resolve_object_conflict`.
    pub fn resolve_conflict(&mut self, annotation: Id, keep: Id) -> Result<Id, ProjectError> {
        let (project, u) = self.parts()?;
        let row = project
            .conn
            .query_row(
                "SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations WHERE annotation_id = ?1",
                [annotation],
                events::cache_row,
            )
            .optional()?
            .ok_or(ApplyError::Missing(annotation))?;
        let regs = events::open_cache_row(&project.project_id, &u.keys.sealer, &row)?;
        if regs.kind() != crate::project::model::ObjectKind::Annotation {
            return self.resolve_object_conflict(&regs, keep);
        }
        let conflicts = regs.conflicts();
        let shown = regs.display().ok_or(ApplyError::Missing(annotation))?;
        if conflicts.is_empty() {
            return Err(ProjectError::Format(format!(
                "annotation {} has no conflict",
                annotation.short()
            )));
        }
        let known = regs.exists.iter().any(|v| v.event == keep)
            || regs.image.iter().any(|v| v.event == keep)
            || regs.geometry.iter().any(|v| v.event == keep)
            || regs.label.iter().any(|v| v.event == keep)
            || regs.comment.iter().any(|v| v.event == keep);
        if !known {
            return Err(ProjectError::Format(format!(
                "event {} is not one of the conflicting versions",
                keep.short()
            )));
        }
        if regs.exists.iter().any(|v| v.event == keep && !v.value) {
            return self.commit_edit(Edit::Delete { annotation: shown });
        }
        fn pick<T: Clone>(versions: &[Version<T>], keep: Id) -> Option<T> {
            versions
                .iter()
                .find(|v| v.event == keep)
                .map(|v| v.value.clone())
        }
        let mut after = shown.clone();
        if let Some(v) = pick(&regs.image, keep) {
            after.body.image = v;
        }
        if let Some(g) = pick(&regs.geometry, keep) {
            after.body.kind = g.kind;
            after.body.points = g.points;
        }
        if let Some(v) = pick(&regs.label, keep) {
            after.body.label = v;
        }
        if let Some(v) = pick(&regs.comment, keep) {
            after.body.comment = v;
        }
        let mut payload = EventPayload::new(Edit::Update {
            before: shown,
            after,
        });
        payload.resolves = conflicts.iter().map(|c| c.field).collect();
        let ids = self.commit_payloads(&[payload])?;
        ids.into_iter()
            .next()
            .ok_or_else(|| ProjectError::Format("no event written".into()))
    }

    /// The canonical state: every annotation's registers (deleted ones included), in
    /// id order, as JSON. Two copies that hold the same events have identical bytes.
    pub fn canonical_state(&mut self) -> Result<Vec<u8>, ProjectError> {
        let (project, u) = self.parts()?;
        let rows: Vec<events::CacheRow> = project
            .conn
            .prepare("SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations ORDER BY annotation_id")?
            .query_map([], events::cache_row)?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for row in &rows {
            let regs = events::open_cache_row(&project.project_id, &u.keys.sealer, row)?;
            out.extend_from_slice(&events::cache_plaintext(&regs)?);
            out.push(b'\n');
        }
        Ok(out)
    }
}

/// Names the authors of each conflicting version.
pub(super) fn describe_conflicts(
    conn: &rusqlite::Connection,
    name: &dyn Fn(&Id) -> String,
    found: Vec<(Id, String, Vec<FieldConflict>)>,
) -> Result<Vec<ConflictItem>, ProjectError> {
    let mut stmt = conn.prepare_cached("SELECT author_id FROM events WHERE event_id = ?1")?;
    let mut out = Vec::new();
    for (annotation, label, conflicts) in found {
        for c in conflicts {
            let mut versions = Vec::with_capacity(c.versions.len());
            for (event, value) in c.versions {
                let author: Option<Id> = stmt.query_row([event], |r| r.get(0)).optional()?;
                versions.push(ConflictVersion {
                    author: author.map_or_else(|| "unknown".to_owned(), |a| name(&a)),
                    event,
                    value,
                });
            }
            out.push(ConflictItem {
                annotation,
                label: label.clone(),
                field: c.field,
                versions,
            });
        }
    }
    Ok(out)
}
