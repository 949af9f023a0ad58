//! Rebuilding the cache from the history, object by object (annotations, label classes,
//! segmentations, workflow records: every target of an event; "annotation" below means
//! any of them, as the `annotations` table does).
//!
//! Owns [`rematerialize`]: for every annotation touched by events after a given rowid (a
//! bundle import) or by all events (the schema-2 migration), it decrypts that
//! annotation's events, materialises its registers (`merge`) and rewrites its cache row,
//! inside the caller's transaction. The calling thread reads SQLite and writes the new
//! rows; a "cache-rebuild" thread decrypts, materialises and seals whole batches of
//! annotations in parallel meanwhile, one batch ahead.
//!
//! The new events are read in history (rowid) order, which follows the file, and an
//! annotation is rebuilt as soon as its last new event has been read (its older events
//! are added from the index); annotations whose new events are spread further apart than
//! `OPEN_EVENTS` are left for a second pass that reads them annotation by annotation.
//! Memory holds the touched annotation ids, at most `OPEN_EVENTS` waiting events and a
//! few batches of at most `BATCH_EVENTS` events (plus one annotation's events, however
//! many it has: a segmentation's strokes), whatever the history's size. The result does
//! not depend on the order: conflicts are listed in annotation order, and a failure names
//! the first failing annotation in annotation order. Decrypted values stay in memory
//! (zeroized), never in SQLite.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;
use std::thread;

use rayon::prelude::*;
use rusqlite::{OptionalExtension, Transaction};

use super::error::ProjectError;
use super::events::{self, CacheRow, DataKeys, PayloadRow};
use super::id::Id;
use super::merge::{self, FieldConflict, Registers};
use super::model::EventPayload;

/// A batch closes once it holds this many events ...
const BATCH_EVENTS: usize = 1024;
/// ... or this many bytes of ciphertext.
const BATCH_BYTES: usize = 4 << 20;
/// Events of annotations whose new events have not all been read yet, held at most
/// (beyond this, the annotations waiting go to the second pass) ...
const OPEN_EVENTS: usize = if cfg!(test) { 4 } else { 16_384 };
/// ... and their bytes of ciphertext.
const OPEN_BYTES: usize = 16 << 20;
/// The columns of an event and one payload chunk, as [`Reader::row`] reads them.
const EVENT_CHUNK_COLUMNS: &str = "e.target, e.event_id, e.author_id, e.hlc, e.event_hash, e.commitment, p.chunk, p.key_id, p.nonce, p.ct";

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

/// One annotation's events and its cache row before the rebuild.
struct Group {
    target: Id,
    events: Vec<Pending>,
    before: Option<CacheRow>,
}

/// What rebuilding one annotation produced: the row to write (none when unchanged) and
/// its conflicts when they are new.
struct Rebuilt {
    row: Option<CacheRow>,
    new_conflict: Option<(Id, String, Vec<FieldConflict>)>,
}

/// Re-materialises every annotation with an event whose rowid is above `after_rowid`.
pub fn rematerialize(
    tx: &Transaction<'_>,
    project: &Id,
    keys: &DataKeys,
    after_rowid: i64,
) -> Result<Rematerialized, RebuildError> {
    // How many new events each touched annotation has.
    let mut targets: Vec<Id> = tx
        .prepare("SELECT target FROM events WHERE rowid > ?1")?
        .query_map([after_rowid], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    targets.sort_unstable();
    let mut touched: HashMap<Id, usize> = HashMap::with_capacity(targets.len());
    for run in targets.chunk_by(|a, b| a == b) {
        touched.insert(run[0], run.len());
    }
    drop(targets);
    rematerialize_touched(tx, project, keys, after_rowid, touched)
}

/// Re-materialises the annotations in `touched`, each with the number of its events whose
/// rowid is above `after_rowid` (an import knows them; other annotations' new events are
/// skipped).
pub fn rematerialize_touched(
    tx: &Transaction<'_>,
    project: &Id,
    keys: &DataKeys,
    after_rowid: i64,
    touched: HashMap<Id, usize>,
) -> Result<Rematerialized, RebuildError> {
    if touched.is_empty() {
        return Ok(Rematerialized::default());
    }
    thread::scope(|scope| {
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Vec<Group>>(1);
        let (done_tx, done_rx) = mpsc::sync_channel::<Vec<(Id, Result<Rebuilt, RebuildError>)>>(1);
        let worker = thread::Builder::new()
            .name("cache-rebuild".into())
            .spawn_scoped(scope, move || {
                for groups in jobs_rx {
                    let rebuilt: Vec<_> = groups
                        .par_iter()
                        .map(|g| (g.target, rebuild(project, keys, g)))
                        .collect();
                    if done_tx.send(rebuilt).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| ProjectError::Format(format!("cannot start a thread: {e}")))?;
        let mut writer = Writer {
            tx,
            jobs: jobs_tx,
            done: done_rx,
            waiting: false,
            batch: Vec::new(),
            batch_events: 0,
            batch_bytes: 0,
            out: Rematerialized::default(),
            failure: None,
        };
        let result = in_history_order(tx, after_rowid, touched, &mut writer)
            .and_then(|later| by_annotation(tx, &later, &mut writer))
            .and_then(|()| writer.flush())
            .and_then(|()| writer.drain());
        let Writer {
            jobs,
            done,
            mut out,
            failure,
            ..
        } = writer;
        // Closing the channels ends the worker.
        drop((jobs, done));
        worker
            .join()
            .map_err(|_| ProjectError::Format("the cache rebuild thread stopped".into()))?;
        result?;
        if let Some((_, e)) = failure {
            return Err(e);
        }
        out.new_conflicts.sort_by_key(|(id, _, _)| *id);
        Ok(out)
    })
}

/// Reads one row of [`EVENT_CHUNK_COLUMNS`]: the target, and the event with this chunk.
fn event_chunk(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Id, Pending)> {
    let event: Id = r.get(1)?;
    Ok((
        r.get(0)?,
        Pending {
            event,
            author: r.get(2)?,
            hlc: r.get(3)?,
            hash: r.get(4)?,
            commitment: r.get(5)?,
            chunks: vec![PayloadRow {
                event_id: event,
                chunk: r.get(6)?,
                key_id: r.get(7)?,
                nonce: r.get(8)?,
                ct: r.get(9)?,
            }],
        },
    ))
}

/// Appends one row's event, or its chunk to the event before it.
fn push_chunk(events: &mut Vec<Pending>, p: Pending) {
    match events.last_mut() {
        Some(last) if last.event == p.event => last.chunks.extend(p.chunks),
        _ => events.push(p),
    }
}

/// First pass: the new events in rowid order; an annotation is handed to `writer` once
/// all its new events are read. Returns the annotations left for the second pass.
fn in_history_order(
    tx: &Transaction<'_>,
    after_rowid: i64,
    mut remaining: HashMap<Id, usize>,
    writer: &mut Writer<'_, '_>,
) -> Result<Vec<Id>, RebuildError> {
    let mut older = tx.prepare_cached(&format!(
        "SELECT {EVENT_CHUNK_COLUMNS} FROM events e INDEXED BY events_by_target
         JOIN event_payloads p ON p.event_id = e.event_id
         WHERE e.target = ?1 AND e.rowid <= ?2"
    ))?;
    let mut stmt = tx.prepare(&format!(
        "SELECT {EVENT_CHUNK_COLUMNS} FROM events e
         JOIN event_payloads p ON p.event_id = e.event_id
         WHERE e.rowid > ?1 ORDER BY e.rowid, p.chunk"
    ))?;
    let mut rows = stmt.query([after_rowid])?;
    let mut open: HashMap<Id, Vec<Pending>> = HashMap::new();
    let (mut open_events, mut open_bytes) = (0usize, 0usize);
    let mut later: HashSet<Id> = HashSet::new();
    let mut current: Option<(Id, Pending)> = None;
    loop {
        let next = match (&mut current, rows.next()?.map(event_chunk).transpose()?) {
            (Some((_, cur)), Some((_, p))) if cur.event == p.event => {
                cur.chunks.extend(p.chunks);
                continue;
            }
            (_, next) => next,
        };
        // The event before this row is complete.
        if let Some((target, p)) = current.take() {
            open_events += 1;
            open_bytes += p.chunks.iter().map(|c| c.ct.len()).sum::<usize>();
            let events = open.entry(target).or_default();
            events.push(p);
            let left = remaining.get_mut(&target).map_or(0, |n| {
                *n = n.saturating_sub(1);
                *n
            });
            if left == 0 {
                remaining.remove(&target);
            }
            if left == 0
                && let Some(mut events) = open.remove(&target)
            {
                open_events = open_events.saturating_sub(events.len());
                open_bytes = open_bytes.saturating_sub(
                    events
                        .iter()
                        .flat_map(|p| &p.chunks)
                        .map(|c| c.ct.len())
                        .sum::<usize>(),
                );
                let mut rows = older.query(rusqlite::params![target, after_rowid])?;
                while let Some(r) = rows.next()? {
                    push_chunk(&mut events, event_chunk(r)?.1);
                }
                writer.add(target, events)?;
            } else if open_events > OPEN_EVENTS || open_bytes > OPEN_BYTES {
                later.extend(open.drain().map(|(t, _)| t));
                (open_events, open_bytes) = (0, 0);
            }
        }
        let Some((target, p)) = next else {
            break;
        };
        if remaining.contains_key(&target) && !later.contains(&target) {
            current = Some((target, p));
        }
    }
    // Annotations whose events did not all come (an event without payload rows) go to
    // the second pass too, which reads them as the first pass would have.
    later.extend(open.into_keys());
    let mut later: Vec<Id> = later.into_iter().collect();
    later.sort_unstable();
    Ok(later)
}

/// Second pass: the annotations in `targets`, each read by annotation.
fn by_annotation(
    tx: &Transaction<'_>,
    targets: &[Id],
    writer: &mut Writer<'_, '_>,
) -> Result<(), RebuildError> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare(&format!(
        "SELECT {EVENT_CHUNK_COLUMNS} FROM events e INDEXED BY events_by_target
         JOIN event_payloads p ON p.event_id = e.event_id
         WHERE e.target = ?1"
    ))?;
    for target in targets {
        let mut events = Vec::new();
        let mut rows = stmt.query([target])?;
        while let Some(r) = rows.next()? {
            push_chunk(&mut events, event_chunk(r)?.1);
        }
        writer.add(*target, events)?;
    }
    Ok(())
}

/// Collects annotations into batches for the rebuild thread and writes what comes back,
/// one batch behind.
struct Writer<'t, 'c> {
    tx: &'t Transaction<'c>,
    jobs: mpsc::SyncSender<Vec<Group>>,
    done: mpsc::Receiver<Vec<(Id, Result<Rebuilt, RebuildError>)>>,
    /// A batch is at the rebuild thread.
    waiting: bool,
    batch: Vec<Group>,
    batch_events: usize,
    batch_bytes: usize,
    out: Rematerialized,
    /// The failing annotation with the smallest id so far.
    failure: Option<(Id, RebuildError)>,
}

impl Writer<'_, '_> {
    /// Adds one annotation with all its events (chunks in any order) and its current row.
    fn add(&mut self, target: Id, mut events: Vec<Pending>) -> Result<(), RebuildError> {
        for p in &mut events {
            p.chunks.sort_by_key(|c| c.chunk);
        }
        let before = self
            .tx
            .prepare_cached(
                "SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations WHERE annotation_id = ?1",
            )?
            .query_row([target], events::cache_row)
            .optional()?;
        self.batch_events += events.len();
        self.batch_bytes += events
            .iter()
            .flat_map(|p| &p.chunks)
            .map(|c| c.ct.len())
            .sum::<usize>();
        self.batch.push(Group {
            target,
            events,
            before,
        });
        if self.batch_events >= BATCH_EVENTS || self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the batch to the rebuild thread, then writes the one before it.
    fn flush(&mut self) -> Result<(), RebuildError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        (self.batch_events, self.batch_bytes) = (0, 0);
        self.jobs
            .send(std::mem::take(&mut self.batch))
            .map_err(|_| ProjectError::Format("the cache rebuild thread stopped".into()))?;
        self.drain()?;
        self.waiting = true;
        Ok(())
    }

    /// Writes the batch at the rebuild thread, if any.
    fn drain(&mut self) -> Result<(), RebuildError> {
        if !std::mem::replace(&mut self.waiting, false) {
            return Ok(());
        }
        let rebuilt = self
            .done
            .recv()
            .map_err(|_| ProjectError::Format("the cache rebuild thread stopped".into()))?;
        for (target, r) in rebuilt {
            match r {
                Ok(Rebuilt { row, new_conflict }) => {
                    if let Some(row) = row {
                        events::write_cache_row(self.tx, &row)?;
                    }
                    self.out.new_conflicts.extend(new_conflict);
                    self.out.annotations += 1;
                }
                Err(e) => {
                    if self.failure.as_ref().is_none_or(|(t, _)| target < *t) {
                        self.failure = Some((target, e));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Decrypts one annotation's events, materialises its registers and compares them with
/// its row before the rebuild; seals a new row when they differ.
fn rebuild(project: &Id, keys: &DataKeys, g: &Group) -> Result<Rebuilt, RebuildError> {
    let mut payloads: Vec<EventPayload> = Vec::with_capacity(g.events.len());
    for p in &g.events {
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
    let nodes: Vec<merge::Node<'_>> = g
        .events
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
    let regs = merge::materialize(g.target, &nodes).map_err(|f| RebuildError::Event {
        event: f.event,
        reason: f.reason,
    })?;
    let before: Option<Registers> = g
        .before
        .as_ref()
        .map(|row| events::open_cache_row(project, &keys.sealer, row))
        .transpose()?;
    let new_conflict = (regs.has_conflicts()
        && before.as_ref().map(Registers::conflicts) != Some(regs.conflicts()))
    .then(|| (g.target, regs.title(), regs.conflicts()));
    let row = if before.as_ref() == Some(&regs) {
        None
    } else {
        Some(events::seal_cache_row(project, keys, &regs)?)
    };
    Ok(Rebuilt { row, new_conflict })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::labelmap::{Draft, LabelMap, Stroke};
    use crate::annotate::packed::Tool;
    use crate::annotate::segmentation::{Segment, SegmentationHeader};
    use crate::imaging::mpr::VolumeGrid;
    use crate::project::model::{Annotation, AnnotationBody, Edit, ImageRef, Kind, Label};
    use crate::project::{KdfChoice, KdfParams, Project, Session};

    fn annotation(i: usize) -> Annotation {
        Annotation {
            id: Id::random().unwrap(),
            body: AnnotationBody {
                image: ImageRef::Dicom {
                    series_uid: format!("1.2.{}", i % 3),
                    sop_uid: None,
                    frame: None,
                    plane: None,
                    provenance: None,
                },
                kind: Kind::Point,
                points: vec![[i as f64, 2.0]],
                label: Label {
                    name: format!("label {i}"),
                    scheme: None,
                    code: None,
                    meaning: None,
                },
                comment: None,
            },
        }
    }

    /// One stroke setting voxel `v` of segmentation `seg` (shown as `map`) to 1.
    fn paint(s: &mut Session, seg: Id, map: &mut LabelMap, v: [usize; 3]) {
        let mut stroke = Stroke::new();
        let mut d = Draft::new(map);
        d.set(v, 1);
        let cs = d.finish();
        stroke.apply(map, cs);
        let stroke = stroke.finish(map, Tool::Brush).unwrap();
        s.commit_edit(Edit::SegmentStroke {
            segmentation: seg,
            stroke,
        })
        .unwrap();
    }

    /// With `OPEN_EVENTS` at 4 under test, objects edited far apart in the history go to
    /// the second pass and the others are rebuilt in the first: either way the cache is
    /// the one local edits built (annotations, label classes and a painted segmentation).
    #[test]
    fn both_passes_rebuild_the_cache_local_edits_built() {
        let dir = tempfile::tempdir().unwrap();
        let tiny = KdfChoice::Fixed(KdfParams {
            m_kib: 64,
            t_cost: 1,
            p_lanes: 1,
        });
        let (mut s, _) =
            Project::create(&dir.path().join("p.tessera"), "alice", b"pw", tiny).unwrap();
        let anns: Vec<Annotation> = (0..12).map(annotation).collect();
        for a in &anns {
            s.commit_edit(Edit::Create {
                annotation: a.clone(),
            })
            .unwrap();
        }
        let classes = s.install_default_schema().unwrap();
        let grid = VolumeGrid {
            dims: [40, 40, 8],
            spacing_mm: [1.0; 3],
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin_mm: [0.0; 3],
        };
        let seg = s
            .create_segmentation(
                anns[0].body.image.clone(),
                SegmentationHeader::new("Liver", &grid),
            )
            .unwrap();
        let (_, class) = s.label_classes().unwrap().remove(0);
        s.define_segment(seg, 1, Some(Segment::of_class("Lesion 1", None, &class)))
            .unwrap();
        let mut map = LabelMap::new(grid.dims).unwrap();
        paint(&mut s, seg, &mut map, [1, 1, 1]);
        // Six annotations edited after all twelve exist: more than `OPEN_EVENTS` wait; the
        // segmentation is painted again among them, in another brick.
        for (i, a) in anns[..6].iter().enumerate() {
            let mut after = a.clone();
            after.body.label.name = "renamed".into();
            s.commit_edit(Edit::Update {
                before: a.clone(),
                after,
            })
            .unwrap();
            if i == 2 {
                paint(&mut s, seg, &mut map, [38, 38, 7]);
            }
        }
        s.commit_edit(Edit::Delete {
            annotation: anns[8].clone(),
        })
        .unwrap();
        s.undo().unwrap();
        let want = s.canonical_state().unwrap();
        let (project, u) = s.parts().unwrap();
        let pid = project.project_id;
        let tx = project.conn.transaction().unwrap();
        tx.execute("DELETE FROM annotations", []).unwrap();
        let r = rematerialize(&tx, &pid, &u.keys, 0).unwrap();
        assert_eq!(r.annotations, 12 + classes + 1);
        assert!(r.new_conflicts.is_empty());
        // Only the events after the first twelve: the classes, the segmentation and the
        // seven edited annotations.
        let again = rematerialize(&tx, &pid, &u.keys, 12).unwrap();
        assert_eq!(again.annotations, classes + 1 + 7);
        tx.commit().unwrap();
        assert_eq!(s.canonical_state().unwrap(), want);
        assert_eq!(s.load_segmentation(seg).unwrap().map, map);
        s.verify().unwrap();
    }
}
