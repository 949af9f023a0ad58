//! Rebuilding the annotation cache from the history, one annotation at a time.
//!
//! Owns [`rematerialize`]: for every annotation touched by events after a given rowid (a
//! bundle import) or by all events (the schema-2 migration), it decrypts that
//! annotation's events, materialises its registers (`merge`) and rewrites its cache row,
//! inside the caller's transaction. Streams by annotation, so memory holds one
//! annotation's events at a time whatever the history's size. Decrypted values stay in
//! memory (zeroized), never in SQLite.

use rusqlite::{OptionalExtension, Transaction};

use super::error::ProjectError;
use super::events::{self, DataKeys, PayloadRow};
use super::id::Id;
use super::merge::{self, FieldConflict, Registers};
use super::model::EventPayload;

/// What re-materialising changed.
#[derive(Debug, Clone, Default)]
pub struct Rematerialized {
    /// Annotations whose cache rows were rewritten.
    pub annotations: usize,
    /// Annotations that have conflicts now and had none (or other ones) before, with
    /// their conflicts.
    pub new_conflicts: Vec<(Id, String, Vec<FieldConflict>)>,
}

/// Why an annotation's events could not be materialised: the event and the reason.
#[derive(Debug)]
pub enum RebuildError {
    Event { event: Id, reason: &'static str },
    Project(ProjectError),
}

impl From<ProjectError> for RebuildError {
    fn from(e: ProjectError) -> RebuildError {
        RebuildError::Project(e)
    }
}

impl From<rusqlite::Error> for RebuildError {
    fn from(e: rusqlite::Error) -> RebuildError {
        RebuildError::Project(e.into())
    }
}

struct Pending {
    event: Id,
    author: Id,
    hlc: i64,
    hash: Vec<u8>,
    commitment: Vec<u8>,
    chunks: Vec<PayloadRow>,
}

/// Re-materialises every annotation with an event whose rowid is above `after_rowid`.
pub fn rematerialize(
    tx: &Transaction<'_>,
    project: &Id,
    keys: &DataKeys,
    after_rowid: i64,
) -> Result<Rematerialized, RebuildError> {
    let mut out = Rematerialized::default();
    let mut stmt = tx.prepare(
        "SELECT e.target, e.event_id, e.author_id, e.hlc, e.event_hash, e.commitment,
                p.chunk, p.key_id, p.nonce, p.ct
         FROM events e INDEXED BY events_by_target
         JOIN event_payloads p ON p.event_id = e.event_id
         WHERE e.target IN (SELECT target FROM events WHERE rowid > ?1)
         ORDER BY e.target",
    )?;
    let mut rows = stmt.query([after_rowid])?;
    let mut target: Option<Id> = None;
    let mut pending: Vec<Pending> = Vec::new();
    while let Some(r) = rows.next()? {
        let t: Id = r.get(0)?;
        let event: Id = r.get(1)?;
        if target != Some(t) {
            if let Some(done) = target {
                finish(tx, project, keys, done, &mut pending, &mut out)?;
            }
            target = Some(t);
        }
        let chunk = PayloadRow {
            event_id: event,
            chunk: r.get(6)?,
            key_id: r.get(7)?,
            nonce: r.get(8)?,
            ct: r.get(9)?,
        };
        match pending.last_mut() {
            Some(p) if p.event == event => p.chunks.push(chunk),
            _ => pending.push(Pending {
                event,
                author: r.get(2)?,
                hlc: r.get(3)?,
                hash: r.get(4)?,
                commitment: r.get(5)?,
                chunks: vec![chunk],
            }),
        }
    }
    if let Some(done) = target {
        finish(tx, project, keys, done, &mut pending, &mut out)?;
    }
    Ok(out)
}

fn finish(
    tx: &Transaction<'_>,
    project: &Id,
    keys: &DataKeys,
    target: Id,
    pending: &mut Vec<Pending>,
    out: &mut Rematerialized,
) -> Result<(), RebuildError> {
    let mut payloads: Vec<EventPayload> = Vec::with_capacity(pending.len());
    for p in pending.iter_mut() {
        p.chunks.sort_by_key(|c| c.chunk);
        let bad = |reason| RebuildError::Event {
            event: p.event,
            reason,
        };
        let blob = events::open_payload_of(
            project,
            &keys.sealer,
            &p.event,
            &p.author,
            &p.commitment,
            &p.chunks,
        )
        .map_err(bad)?;
        payloads.push(events::decode_payload(&blob).ok_or(bad("payload is not a valid edit"))?);
    }
    let nodes: Vec<merge::Node<'_>> = pending
        .iter()
        .zip(&payloads)
        .map(|(p, payload)| merge::Node {
            event: p.event,
            author: p.author,
            hlc: p.hlc,
            hash: &p.hash,
            payload,
        })
        .collect();
    let regs = merge::materialize(target, &nodes).map_err(|f| RebuildError::Event {
        event: f.event,
        reason: f.reason,
    })?;
    drop(nodes);
    pending.clear();
    let before: Option<Registers> = tx
        .prepare_cached("SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations WHERE annotation_id = ?1")?
        .query_row([target], events::cache_row)
        .optional()?
        .map(|row| events::open_cache_row(project, &keys.sealer, &row))
        .transpose()?;
    if regs.has_conflicts() && before.as_ref().map(Registers::conflicts) != Some(regs.conflicts()) {
        let now = regs.conflicts();
        let label = regs.title();
        out.new_conflicts.push((target, label, now));
    }
    if before.as_ref() != Some(&regs) {
        events::write_cache_row(tx, &events::seal_cache_row(project, keys, &regs)?)?;
    }
    out.annotations += 1;
    Ok(())
}
