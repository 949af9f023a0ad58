//! The events of an import, in batches: read from the bundle on a thread, checked where
//! no database is needed (hash, commitment, payload, signature; in parallel, on a
//! thread of their own), then checked against this copy and inserted in bundle order
//! inside the caller's transaction.
//!
//! Owns the checks of one bundle event and their order, which decides what a refusal
//! names: already here (same hash: skipped; else refused), author a member, event hash,
//! commitment, payload, clear op/target, signature form, previous-hash link, clock,
//! parents; a signature that does not verify is reported after the whole stream, for
//! the first such event. Inserting keeps the last [`RECENT`] events in memory for the
//! previous-hash and parent lookups of the events after them, and updates the heads once
//! per batch. A create that is its annotation's first event here also gets its cache row
//! (computed by the checker); the other annotations touched are listed, with their counts
//! of new events, for `cache::rematerialize_touched`. Memory: at most a few batches of
//! [`BATCH_RECORDS`] records or [`BATCH_BYTES`] bytes (plus one record) are held at once,
//! whatever the bundle holds; the list grows with the annotations that need rebuilding
//! (tens of bytes each; none when the bundle only creates annotations). Decrypted
//! payloads stay in zeroizing buffers, never in SQLite.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Read;
use std::sync::mpsc::SyncSender;

use ed25519_dalek::Signature;
use rayon::prelude::*;
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use super::records::decode_event;
use super::refused;
use crate::project::ProjectError;
use crate::project::bundle::{BundleError, BundleReader, Record};
use crate::project::crypto::{CryptoError, Sealed, Sealer};
use crate::project::events::{self, CacheRow, DataKeys, EventRow};
use crate::project::id::Id;
use crate::project::members::Members;
use crate::project::merge;
use crate::project::model::Edit;
use crate::project::sigbatch;

/// A batch closes at this many records ...
pub(super) const BATCH_RECORDS: usize = 2048;
/// ... or at this many bytes of record bodies, whichever comes first.
pub(super) const BATCH_BYTES: usize = 4 << 20;
/// Signatures of a batch are verified in parallel groups of this many (a group is one
/// batch verification: larger groups make each signature cheaper).
const SIGNATURE_GROUP: usize = 1024;
/// Recently inserted events kept in memory for the previous-hash and parent lookups of
/// the events that follow them (a bounded cache in front of SQLite).
const RECENT: usize = 4096;

/// What the reader thread sends: a batch of records, or the error that ended the stream
/// (sent after the records before it).
pub(super) type RecordBatch = Result<Vec<Record>, BundleError>;

/// Reads every record of `reader` into batches until the stream ends or fails; stops
/// early when the receiver is gone.
pub(super) fn read_batches<R: Read>(reader: &mut BundleReader<R>, out: &SyncSender<RecordBatch>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                bytes += rec.body.len();
                batch.push(rec);
                if batch.len() >= BATCH_RECORDS || bytes >= BATCH_BYTES {
                    bytes = 0;
                    if out.send(Ok(std::mem::take(&mut batch))).is_err() {
                        return;
                    }
                }
            }
            Ok(None) => {
                if !batch.is_empty() {
                    let _ = out.send(Ok(batch));
                }
                return;
            }
            Err(e) => {
                if !batch.is_empty() && out.send(Ok(batch)).is_err() {
                    return;
                }
                let _ = out.send(Err(e));
                return;
            }
        }
    }
}

/// One event of the bundle with its payload plaintext.
pub(super) struct Incoming {
    ev: EventRow,
    blob: Zeroizing<Vec<u8>>,
}

impl Incoming {
    pub(super) fn decode(rec: &Record) -> Result<Incoming, BundleError> {
        let (ev, blob) = decode_event(&rec.body)?;
        Ok(Incoming {
            ev,
            blob: Zeroizing::new(blob.to_vec()),
        })
    }
}

/// Whether an event is already in this copy (or earlier in the bundle), with the hash
/// recorded there.
pub(super) enum Presence {
    New,
    Here(Vec<u8>),
}

/// A batch of events on its way through the checks.
pub(super) struct Batch {
    events: Vec<Incoming>,
    presence: Vec<Presence>,
}

/// The database-free checks of one new event: the first that failed, or what inserting
/// it needs.
pub(super) type Checked = Result<Ready, &'static str>;

pub(super) struct Ready {
    /// The payload sealed under this copy's data key (an error is reported only if every
    /// later check passes, as when sealing came last).
    sealed: Result<Vec<Sealed>, CryptoError>,
    signature_ok: bool,
    /// For a create: the cache row of its annotation if this is the annotation's only
    /// event (written when the annotation has no event here; see [`Applier::rebuild`]).
    early_row: Option<CacheRow>,
}

/// Checks every new event of `batch` that needs no database, in parallel: member, hash,
/// commitment, payload, clear op/target, signature form; then seals the payload and
/// verifies the signatures (batched, `sigbatch`). `None` for events already here.
pub(super) fn check(
    pid: &Id,
    keys: &DataKeys,
    members: &Members,
    batch: &Batch,
) -> Vec<Option<Checked>> {
    let mut checked: Vec<Option<(Checked, Option<ToVerify>)>> = batch
        .events
        .par_iter()
        .zip(&batch.presence)
        .map(|(inc, presence)| match presence {
            Presence::Here(_) => None,
            Presence::New => Some(check_one(pid, keys, members, inc)),
        })
        .collect();
    // Signatures of the events that passed, batch-verified in parallel groups.
    let to_verify: Vec<(usize, Signature, Vec<u8>)> = checked
        .iter_mut()
        .enumerate()
        .filter_map(|(i, c)| {
            c.as_mut()
                .and_then(|(_, s)| s.take())
                .map(|(sig, msg)| (i, sig, msg))
        })
        .collect();
    let verdicts: Vec<(usize, bool)> = to_verify
        .par_chunks(SIGNATURE_GROUP)
        .flat_map_iter(|group| {
            let items: Vec<sigbatch::Item<'_>> = group
                .iter()
                .filter_map(|(i, sig, msg)| {
                    let key = &members.get(&batch.events[*i].ev.author_id)?.sign_pk;
                    Some(sigbatch::Item {
                        message: msg,
                        signature: sig,
                        key,
                    })
                })
                .collect();
            let ok = if items.len() == group.len() {
                sigbatch::verify_each(&items)
            } else {
                vec![false; group.len()]
            };
            group.iter().map(|(i, _, _)| *i).zip(ok).collect::<Vec<_>>()
        })
        .collect();
    for (i, ok) in verdicts {
        if let Some((Ok(ready), _)) = &mut checked[i] {
            ready.signature_ok = ok;
        }
    }
    checked.into_iter().map(|c| c.map(|(c, _)| c)).collect()
}

/// A signature to verify and the message it signs.
type ToVerify = (Signature, Vec<u8>);

/// The database-free checks of one event, in order; on success also the signature to
/// verify and its message.
fn check_one(
    pid: &Id,
    keys: &DataKeys,
    members: &Members,
    inc: &Incoming,
) -> (Checked, Option<ToVerify>) {
    let ev = &inc.ev;
    let result = (|| {
        if !members.contains_key(&ev.author_id) {
            return Err("author is not a member");
        }
        if ev.seq < 1 {
            return Err("sequence number out of range");
        }
        let hash = ev.compute_hash(pid);
        if hash.as_slice() != ev.event_hash.as_slice() {
            return Err("event hash does not match its contents");
        }
        if events::commitment(&inc.blob).as_slice() != ev.commitment.as_slice() {
            return Err("payload does not match the signed commitment");
        }
        let payload = events::decode_payload(&inc.blob).ok_or("payload is not a valid edit")?;
        if payload.op_name() != ev.op || payload.edit.target() != ev.target {
            return Err("clear operation or target differs from the signed payload");
        }
        let sig = Signature::from_slice(&ev.signature).map_err(|_| "malformed signature")?;
        Ok((hash, sig, payload))
    })();
    match result {
        Err(reason) => (Err(reason), None),
        Ok((hash, sig, payload)) => {
            let key_id = keys.sealer.key_id();
            let sealed = keys.sealer.seal_chunked(
                &events::payload_aad(pid, &ev.event_id, &ev.author_id, key_id),
                &inc.blob,
            );
            // A create is usually its annotation's only event in the bundle and the
            // first anywhere: its cache row is then the materialisation of it alone.
            let early_row = match payload.edit {
                Edit::Create { .. } => {
                    let node = merge::Node {
                        event: ev.event_id,
                        author: ev.author_id,
                        hlc: ev.hlc,
                        hash: &ev.event_hash,
                        payload: &payload,
                    };
                    merge::materialize(ev.target, &[node])
                        .ok()
                        .and_then(|regs| events::seal_cache_row(pid, keys, &regs).ok())
                }
                _ => None,
            };
            let ready = Ready {
                sealed,
                signature_ok: false,
                early_row,
            };
            (Ok(ready), Some((sig, events::signature_message(&hash))))
        }
    }
}

/// Events inserted in this transaction, kept for the lookups of the events after them:
/// by id (parents) and by hash (previous-hash links). Holds the last [`RECENT`].
#[derive(Default)]
struct Recent {
    by_id: HashMap<Id, i64>,
    by_hash: HashMap<[u8; 32], (Id, i64, i64)>,
    order: VecDeque<(Id, [u8; 32])>,
}

impl Recent {
    fn insert(&mut self, ev: &EventRow) {
        // A new event's hash was recomputed by `check`, so it has 32 bytes.
        let Ok(hash) = <[u8; 32]>::try_from(ev.event_hash.as_slice()) else {
            return;
        };
        if self.order.len() >= RECENT
            && let Some((id, hash)) = self.order.pop_front()
        {
            self.by_id.remove(&id);
            self.by_hash.remove(&hash);
        }
        self.by_id.insert(ev.event_id, ev.hlc);
        self.by_hash.insert(hash, (ev.author_id, ev.seq, ev.hlc));
        self.order.push_back((ev.event_id, hash));
    }
}

/// Applies checked batches in bundle order inside the import's transaction.
pub(super) struct Applier<'a> {
    tx: &'a Transaction<'a>,
    key_id: String,
    recent: Recent,
    /// New events of the batch being checked (not inserted yet) -> their hash.
    in_flight: HashMap<Id, Vec<u8>>,
    pub(super) already: u64,
    pub(super) new_events: BTreeMap<Id, u64>,
    /// Events inserted in this import have rowids above this.
    before_rowid: i64,
    /// Annotations whose cache row must be rebuilt, with their numbers of new events.
    rebuild: HashMap<Id, usize>,
    /// The first inserted event whose signature did not verify.
    pub(super) bad_signature: Option<(Id, i64)>,
}

impl<'a> Applier<'a> {
    pub(super) fn new(tx: &'a Transaction<'a>, sealer: &Sealer, before_rowid: i64) -> Applier<'a> {
        Applier {
            tx,
            key_id: sealer.key_id().to_owned(),
            recent: Recent::default(),
            in_flight: HashMap::new(),
            already: 0,
            new_events: BTreeMap::new(),
            before_rowid,
            rebuild: HashMap::new(),
            bad_signature: None,
        }
    }

    /// Looks up which events of `events` are already here, in this copy, in an earlier
    /// batch still being checked, or earlier in the same batch; the batch's new events
    /// become the ones in flight.
    pub(super) fn prepare(&mut self, events: Vec<Incoming>) -> Result<Batch, ProjectError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT event_hash FROM events WHERE event_id = ?1")?;
        let mut this_batch: HashMap<Id, Vec<u8>> = HashMap::with_capacity(events.len());
        let mut presence = Vec::with_capacity(events.len());
        for inc in &events {
            let id = inc.ev.event_id;
            let earlier = this_batch
                .get(&id)
                .or_else(|| self.in_flight.get(&id))
                .cloned();
            let here = match earlier {
                Some(h) => Some(h),
                None => stmt.query_row([id], |r| r.get(0)).optional()?,
            };
            presence.push(match here {
                Some(h) => Presence::Here(h),
                None => {
                    this_batch.insert(id, inc.ev.event_hash.clone());
                    Presence::New
                }
            });
        }
        self.in_flight = this_batch;
        Ok(Batch { events, presence })
    }

    /// Checks `batch` against this copy in bundle order and inserts its new events;
    /// `checked` is [`check`]'s result for it.
    pub(super) fn apply(
        &mut self,
        members: &Members,
        batch: Batch,
        checked: Vec<Option<Checked>>,
    ) -> Result<(), ProjectError> {
        // The heads change once per batch: its new events become heads and the parents
        // they name stop being heads. A new event named by a later one in the batch (the
        // usual case) never reaches the table; a parent cannot come later than its child.
        let mut added: HashSet<Id> = HashSet::new();
        let mut removed: Vec<Id> = Vec::new();
        for ((inc, presence), checked) in batch.events.iter().zip(batch.presence).zip(checked) {
            let ev = &inc.ev;
            let who = |reason: &str| {
                let n = crate::project::members::display_name(
                    members.get(&ev.author_id).map(|m| m.name.as_str()),
                    &ev.author_id,
                );
                refused(format!("event {n} #{}: {reason}", ev.seq))
            };
            let ready = match (presence, checked) {
                (Presence::Here(h), _) if h == ev.event_hash => {
                    self.already += 1;
                    continue;
                }
                (Presence::Here(_), _) => {
                    return Err(who("differs from the copy of the same event here"));
                }
                (Presence::New, None) => {
                    return Err(ProjectError::Format(
                        "import: an event was not checked".into(),
                    ));
                }
                (Presence::New, Some(Err(reason))) => return Err(who(reason)),
                (Presence::New, Some(Ok(ready))) => ready,
            };
            let prev_hlc = if ev.seq == 1 {
                if ev.prev_hash.len() != 32 || ev.prev_hash.iter().any(|b| *b != 0) {
                    return Err(who("previous-hash link broken"));
                }
                i64::MIN
            } else {
                self.previous_hlc(ev)?
                    .ok_or_else(|| who("previous event missing (previous-hash link broken)"))?
            };
            if ev.hlc <= prev_hlc {
                return Err(who("clock goes backwards"));
            }
            let parents = ev
                .parent_ids()
                .ok_or_else(|| who("malformed parent list"))?;
            for p in &parents {
                match self.hlc_of(p)? {
                    None => {
                        return Err(who("names a parent that is neither here nor in the bundle"));
                    }
                    Some(h) if h >= ev.hlc => return Err(who("is not newer than its parent")),
                    Some(_) => {}
                }
                if !added.remove(p) {
                    removed.push(*p);
                }
            }
            let sealed = ready.sealed?;
            // A create on an annotation with no event here gets its cache row now; any
            // other event puts its annotation on the rebuild list.
            let early = match &ready.early_row {
                Some(row)
                    if !self.rebuild.contains_key(&ev.target)
                        && !self.has_events(&ev.target)? =>
                {
                    Some(row)
                }
                _ => None,
            };
            events::insert_event(self.tx, ev)?;
            events::insert_payload_chunks(self.tx, &ev.event_id, &self.key_id, &sealed)?;
            if let Some(row) = early {
                events::write_cache_row(self.tx, row)?;
            } else if let Some(n) = self.rebuild.get_mut(&ev.target) {
                *n += 1;
            } else {
                let n = self.new_events_on(&ev.target)?;
                self.rebuild.insert(ev.target, n);
            }
            added.insert(ev.event_id);
            self.recent.insert(ev);
            *self.new_events.entry(ev.author_id).or_default() += 1;
            if !ready.signature_ok && self.bad_signature.is_none() {
                self.bad_signature = Some((ev.author_id, ev.seq));
            }
        }
        for p in &removed {
            self.tx
                .prepare_cached("DELETE FROM heads WHERE event_id = ?1")?
                .execute([p])?;
        }
        for id in &added {
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO heads (event_id) VALUES (?1)")?
                .execute([id])?;
        }
        Ok(())
    }

    /// The clock of the author's event `seq - 1` with hash `prev_hash`, if here.
    fn previous_hlc(&self, ev: &EventRow) -> rusqlite::Result<Option<i64>> {
        // A hostile sequence number (i64::MIN) has no predecessor.
        let Some(before) = ev.seq.checked_sub(1) else {
            return Ok(None);
        };
        if let Ok(prev) = <[u8; 32]>::try_from(ev.prev_hash.as_slice())
            && let Some(&(author, seq, hlc)) = self.recent.by_hash.get(&prev)
            && author == ev.author_id
            && seq == before
        {
            return Ok(Some(hlc));
        }
        self.tx
            .prepare_cached(
                "SELECT hlc FROM events WHERE author_id = ?1 AND seq = ?2 AND event_hash = ?3",
            )?
            .query_row(params![ev.author_id, before, ev.prev_hash], |r| r.get(0))
            .optional()
    }

    /// True when annotation `target` has an event here.
    fn has_events(&self, target: &Id) -> rusqlite::Result<bool> {
        self.tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM events INDEXED BY events_by_target WHERE target = ?1)",
            )?
            .query_row([target], |r| r.get(0))
    }

    /// How many events of annotation `target` this import inserted so far.
    fn new_events_on(&self, target: &Id) -> rusqlite::Result<usize> {
        let n: i64 = self
            .tx
            .prepare_cached(
                "SELECT COUNT(*) FROM events INDEXED BY events_by_target WHERE target = ?1 AND rowid > ?2",
            )?
            .query_row(params![target, self.before_rowid], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The annotations whose cache rows must be rebuilt from their events, with their
    /// numbers of new events: all touched ones but those whose row was written from their
    /// only event.
    pub(super) fn rebuild(&mut self) -> HashMap<Id, usize> {
        std::mem::take(&mut self.rebuild)
    }

    /// The clock of event `id`, if here.
    fn hlc_of(&self, id: &Id) -> rusqlite::Result<Option<i64>> {
        if let Some(&hlc) = self.recent.by_id.get(id) {
            return Ok(Some(hlc));
        }
        self.tx
            .prepare_cached("SELECT hlc FROM events WHERE event_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()
    }
}
