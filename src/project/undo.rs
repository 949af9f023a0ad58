//! Undo and redo: both append an edit to the history (never remove one), and never reach
//! another user's edits.
//!
//! Owns [`Session::undo`] / [`Session::redo`] and the rules that find their target in the
//! signed-in user's own events, newest first: undo takes the newest edit (a plain edit or a
//! redo) not yet undone and appends its inverse (`undo_of`); redo takes the newest undo not
//! yet redone, as long as no plain edit came after it, and appends the inverse of that undo
//! (`redo_of`). Unlimited depth: the history is the undo stack. Case-workflow records are
//! decisions, not edits: undo never reaches them.

use super::ProjectError;
use super::events;
use super::id::Id;
use super::model::{Edit, EventPayload};
use super::session::{Session, load_chunks};

/// An undo or redo that was committed: its event and the edit it applied. Apply the edit to
/// whatever the caller holds in memory (a loaded label map: `LabelMap::apply_stroke`).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub event: Id,
    pub edit: Edit,
}

#[allow(clippy::large_enum_variant)] // one value per visited event, moved out at once
enum Step {
    Found(Id, Edit),
    Continue,
    Stop,
}

impl Session {
    /// Undoes this user's latest edit that is not yet undone, by appending its inverse.
    /// Returns `None` when there is nothing to undo.
    pub fn undo(&mut self) -> Result<Option<Id>, ProjectError> {
        Ok(self.undo_edit()?.map(|a| a.event))
    }

    /// As [`Session::undo`], returning the edit that was applied.
    pub fn undo_edit(&mut self) -> Result<Option<Applied>, ProjectError> {
        let mut undone = std::collections::BTreeSet::new();
        let found = self.scan_own(|event, p| {
            if let Some(of) = p.undo_of {
                undone.insert(of);
                Step::Continue
            } else if undone.contains(&event) {
                Step::Continue
            } else {
                Step::Found(event, p.edit)
            }
        })?;
        let Some((target, edit)) = found else {
            return Ok(None);
        };
        let mut payload = EventPayload::new(edit.inverse());
        payload.undo_of = Some(target);
        self.commit_one(payload)
    }

    /// Redoes the latest undo of this user that is not yet redone, by appending the
    /// inverse of that undo. `None` when there is nothing to redo (also after a new edit).
    pub fn redo(&mut self) -> Result<Option<Id>, ProjectError> {
        Ok(self.redo_edit()?.map(|a| a.event))
    }

    /// As [`Session::redo`], returning the edit that was applied.
    pub fn redo_edit(&mut self) -> Result<Option<Applied>, ProjectError> {
        let mut redone = std::collections::BTreeSet::new();
        let found = self.scan_own(|event, p| match (p.undo_of, p.redo_of) {
            (None, Some(of)) => {
                redone.insert(of);
                Step::Continue
            }
            (Some(_), _) if redone.contains(&event) => Step::Continue,
            (Some(_), _) => Step::Found(event, p.edit),
            (None, None) => Step::Stop,
        })?;
        let Some((target, edit)) = found else {
            return Ok(None);
        };
        let mut payload = EventPayload::new(edit.inverse());
        payload.redo_of = Some(target);
        self.commit_one(payload)
    }

    fn commit_one(&mut self, payload: EventPayload) -> Result<Option<Applied>, ProjectError> {
        let edit = payload.edit.clone();
        let ids = self.commit_payloads(&[payload])?;
        Ok(ids.into_iter().next().map(|event| Applied { event, edit }))
    }

    /// Visits this user's events newest first, decrypted, until `visit` finds or stops.
    fn scan_own(
        &mut self,
        mut visit: impl FnMut(Id, EventPayload) -> Step,
    ) -> Result<Option<(Id, Edit)>, ProjectError> {
        let user_id = self.user_id;
        let (project, u) = self.parts()?;
        let project_id = project.project_id;
        let sealer = &u.keys.sealer;
        let mut stmt = project.conn.prepare(&format!(
            "SELECT {} FROM events WHERE author_id = ?1 AND op != 'workflow' ORDER BY seq DESC, hlc DESC",
            events::EVENT_COLUMNS
        ))?;
        let rows: Vec<events::EventRow> = stmt
            .query_map([user_id], events::event_row)?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        for ev in rows {
            let chunks = load_chunks(&project.conn, &ev.event_id)?;
            let blob = events::open_payload(&project_id, sealer, &ev, &chunks)
                .map_err(|e| ProjectError::Format(e.into()))?;
            let p = events::decode_payload(&blob)
                .ok_or_else(|| ProjectError::Format("payload is not a valid edit".into()))?;
            match visit(ev.event_id, p) {
                Step::Found(id, edit) => return Ok(Some((id, edit))),
                Step::Continue => {}
                Step::Stop => return Ok(None),
            }
        }
        Ok(None)
    }
}
