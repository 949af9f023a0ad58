//! Verification of a whole project: membership, every event, the tips, the replay, the
//! cache, and the audit log. Pure over a [`Snapshot`] (all rows in memory), so tests can
//! tamper with copies cheaply; `load` reads a snapshot from SQLite.
//!
//! Rules (ARCHITECTURE.md, "The project file"): per author, sequence numbers 1..n without gaps; each
//! previous-hash link; each event hash; each signature against the membership record;
//! every ciphertext authenticates and matches its signed commitment; the signed tip names
//! the last event; parents exist and are older; the replay applies cleanly; the cache
//! equals the replay. The first failure names the author and sequence number.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::thread;

use ed25519_dalek::{Signature, Verifier};
use rayon::prelude::*;
use rusqlite::Connection;

use super::ProjectError;
use super::audit::{self, AuditRow};
use super::events::{self, CacheRow, DataKeys, EventRow, PayloadRow, TipRow};
use super::id::Id;
use super::members::{self, MemberRow, Members};
use super::merge::{self, Registers};
use super::model::{EventPayload, ObjectKind};
use super::sigbatch;

/// Events are hashed, decrypted and signature-checked in parallel blocks of this many (one
/// batch verification per block; an author's events share a key, so a larger block makes
/// each signature cheaper).
const BLOCK: usize = 4096;

/// Every row verification looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub project_id: Id,
    pub members: Vec<MemberRow>,
    pub events: Vec<EventRow>,
    pub payloads: Vec<PayloadRow>,
    pub tips: Vec<TipRow>,
    pub heads: Vec<Id>,
    pub cache: Vec<CacheRow>,
    pub audit: Vec<AuditRow>,
}

/// Which part of the file failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Membership,
    History,
    Cache,
    Audit,
}

/// The first thing that did not verify, naming the author and sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.line())]
pub struct Failure {
    pub area: Area,
    pub author: String,
    pub seq: Option<i64>,
    pub reason: String,
}

impl Failure {
    fn line(&self) -> String {
        let at = match self.seq {
            Some(s) => format!("{} #{s}", self.author),
            None => self.author.clone(),
        };
        match self.area {
            Area::Membership => format!("membership record of {at}: {}", self.reason),
            Area::History | Area::Cache => format!("event {at}: {}", self.reason),
            Area::Audit => format!("audit entry {at}: {}", self.reason),
        }
    }
}

/// What a successful verification covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub members: usize,
    pub events: usize,
    /// Annotations shown (not deleted).
    pub annotations: usize,
    /// Segmentations shown (not deleted).
    pub segmentations: usize,
    /// Classes of the label schema.
    pub label_classes: usize,
    /// Objects (annotations, segmentations, classes) with at least one conflicting register.
    pub conflicts: usize,
    /// Places where an author's line forked (the same person edited two copies).
    pub forks: usize,
    pub audit_entries: usize,
}

/// Reads every row that verification needs.
pub fn load(conn: &Connection, project_id: Id) -> rusqlite::Result<Snapshot> {
    let (members, events, payloads) = load_history(conn)?;
    let (tips, heads, cache, audit) = load_rest(conn)?;
    Ok(Snapshot {
        project_id,
        members,
        events,
        payloads,
        tips,
        heads,
        cache,
        audit,
    })
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    conn.prepare(sql)?.query_map([], f)?.collect()
}

/// Membership records, events and payloads: what [`check_events`] needs.
#[allow(clippy::type_complexity)]
fn load_history(
    conn: &Connection,
) -> rusqlite::Result<(Vec<MemberRow>, Vec<EventRow>, Vec<PayloadRow>)> {
    Ok((
        all(
            conn,
            &format!("SELECT {} FROM members", super::MEMBER_COLUMNS),
            super::member_row,
        )?,
        all(
            conn,
            &format!(
                "SELECT {} FROM events ORDER BY author_id, seq",
                events::EVENT_COLUMNS
            ),
            events::event_row,
        )?,
        payloads_sorted(conn)?,
    ))
}

/// The payload rows sorted by (event, chunk): read in table order and sorted here, which
/// is several times faster than SQLite walking the table in the index's (random) order.
fn payloads_sorted(conn: &Connection) -> rusqlite::Result<Vec<PayloadRow>> {
    let mut rows = all(
        conn,
        "SELECT event_id, chunk, key_id, nonce, ct FROM event_payloads",
        events::payload_row,
    )?;
    rows.sort_by_key(|p| (p.event_id, p.chunk));
    Ok(rows)
}

/// Tips, heads, the cache and the audit log.
#[allow(clippy::type_complexity)]
fn load_rest(
    conn: &Connection,
) -> rusqlite::Result<(Vec<TipRow>, Vec<Id>, Vec<CacheRow>, Vec<AuditRow>)> {
    Ok((
        all(
            conn,
            "SELECT author_id, seq, event_hash, signature FROM tips",
            |r| {
                Ok(TipRow {
                    author_id: r.get(0)?,
                    seq: r.get(1)?,
                    event_hash: r.get(2)?,
                    signature: r.get(3)?,
                })
            },
        )?,
        all(conn, "SELECT event_id FROM heads", |r| r.get(0))?,
        all(
            conn,
            "SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations",
            events::cache_row,
        )?,
        all(
            conn,
            &format!("SELECT {} FROM audit", audit::COLUMNS),
            audit::row,
        )?,
    ))
}

/// Reads and verifies the project as [`load`] then [`verify`] do, faster: the events are
/// hashed, decrypted and signature-checked on the thread pool while this thread reads
/// the tips, heads, cache and audit log.
pub fn load_and_verify(
    conn: &Connection,
    project_id: Id,
    keys: &DataKeys,
) -> Result<Report, ProjectError> {
    let (member_rows, events, payloads) = load_history(conn)?;
    let members = verified_members(&project_id, &member_rows, keys)?;
    let (checked, rest) = thread::scope(|scope| -> Result<_, ProjectError> {
        let checker = thread::Builder::new()
            .name("verify-events".into())
            .spawn_scoped(scope, || {
                let index = PayloadIndex::new(&payloads);
                check_events(&project_id, &events, keys, &members, &index)
            })
            .map_err(|e| ProjectError::Format(format!("cannot start a thread: {e}")))?;
        let rest = load_rest(conn);
        let checked = checker
            .join()
            .map_err(|_| ProjectError::Format("the verification thread stopped".into()))?;
        Ok((checked, rest))
    })?;
    let (tips, heads, cache, audit) = rest?;
    let snap = Snapshot {
        project_id,
        members: member_rows,
        events,
        payloads,
        tips,
        heads,
        cache,
        audit,
    };
    Ok(verify_checked(&snap, keys, &members, checked)?)
}

/// The materialised annotations (deleted ones included), in id order.
struct State {
    regs: Vec<Registers>,
    /// Position in `regs` by id (a binary search over `regs` misses the cache at every
    /// step).
    by_id: HashMap<Id, usize>,
}

impl State {
    fn new(regs: Vec<Registers>) -> State {
        let by_id = regs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        State { regs, by_id }
    }

    fn get(&self, id: &Id) -> Option<&Registers> {
        self.by_id.get(id).map(|&i| &self.regs[i])
    }
}

/// The payload rows of each event, found without copying them: the rows sorted by
/// (event, chunk), which is how `load` reads them (a tampered snapshot is sorted here),
/// and each event's range.
struct PayloadIndex<'a> {
    rows: Cow<'a, [PayloadRow]>,
    ranges: HashMap<Id, (usize, usize)>,
}

impl<'a> PayloadIndex<'a> {
    fn new(rows: &'a [PayloadRow]) -> PayloadIndex<'a> {
        let key = |p: &PayloadRow| (p.event_id, p.chunk);
        let rows = if rows.is_sorted_by_key(key) {
            Cow::Borrowed(rows)
        } else {
            let mut owned = rows.to_vec();
            owned.sort_by_key(key); // stable: equal chunk numbers keep their order
            Cow::Owned(owned)
        };
        let mut ranges: HashMap<Id, (usize, usize)> = HashMap::with_capacity(rows.len());
        let mut start = 0;
        for run in rows.chunk_by(|a, b| a.event_id == b.event_id) {
            ranges.insert(run[0].event_id, (start, start + run.len()));
            start += run.len();
        }
        PayloadIndex { rows, ranges }
    }

    /// The chunks of `event`, in chunk order (empty when it has none).
    fn of(&self, event: &Id) -> &[PayloadRow] {
        self.ranges
            .get(event)
            .map_or(&[][..], |&(start, end)| &self.rows[start..end])
    }
}

/// Per-event result of the parallel phase.
struct Checked {
    hash: [u8; 32],
    payload: Result<EventPayload, &'static str>,
    signature_ok: bool,
}

/// Verifies `snap` under `keys`.
pub fn verify(snap: &Snapshot, keys: &DataKeys) -> Result<Report, Failure> {
    let members = verified_members(&snap.project_id, &snap.members, keys)?;
    let payloads = PayloadIndex::new(&snap.payloads);
    let checked = check_events(&snap.project_id, &snap.events, keys, &members, &payloads);
    verify_checked(snap, keys, &members, checked)
}

fn verified_members(project: &Id, rows: &[MemberRow], keys: &DataKeys) -> Result<Members, Failure> {
    members::verify_members(project, rows, &keys.sealer).map_err(|f| Failure {
        area: Area::Membership,
        author: f.who,
        seq: None,
        reason: f.reason,
    })
}

/// The rest of [`verify`], once `members` are verified and `checked` is
/// [`check_events`]' result for `snap.events`.
fn verify_checked(
    snap: &Snapshot,
    keys: &DataKeys,
    members: &Members,
    checked: Vec<Checked>,
) -> Result<Report, Failure> {
    let project = &snap.project_id;
    let name = |id: &Id| super::members::display_name(members.get(id).map(|m| m.name.as_str()), id);

    // Sequential pass in (author, seq) order: report the first failure. An author's
    // events form a tree through their previous-hash links: a line, or forks where the
    // same person edited two copies that were merged later.
    let mut order: Vec<usize> = (0..snap.events.len()).collect();
    order.sort_by_key(|&i| {
        (
            snap.events[i].author_id,
            snap.events[i].seq,
            snap.events[i].event_id,
        )
    });
    let by_id: HashMap<Id, usize> = snap
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_id, i))
        .collect();
    let mut seen_ids = HashSet::with_capacity(snap.events.len());
    let mut lines: BTreeMap<Id, Line> = BTreeMap::new();
    let mut forks = 0;
    for &i in &order {
        let ev = &snap.events[i];
        let c = &checked[i];
        let fail = |seq: i64, reason: &str| Failure {
            area: Area::History,
            author: name(&ev.author_id),
            seq: Some(seq),
            reason: reason.to_owned(),
        };
        let line = lines.entry(ev.author_id).or_default();
        if ev.seq > line.max_seq + 1 {
            return Err(fail(line.max_seq + 1, "event missing (sequence gap)"));
        }
        if ev.seq < 1 || !seen_ids.insert(ev.event_id) {
            return Err(fail(ev.seq, "duplicate event"));
        }
        if !members.contains_key(&ev.author_id) {
            return Err(fail(ev.seq, "author is not a member"));
        }
        if c.hash.as_slice() != ev.event_hash.as_slice() {
            return Err(fail(ev.seq, "event hash does not match its contents"));
        }
        if !c.signature_ok {
            return Err(fail(
                ev.seq,
                "signature does not verify against the membership record",
            ));
        }
        let prev_hlc = if ev.seq == 1 {
            if ev.prev_hash.iter().any(|b| *b != 0) || ev.prev_hash.len() != 32 {
                return Err(fail(ev.seq, "previous-hash link broken"));
            }
            i64::MIN
        } else {
            match <[u8; 32]>::try_from(ev.prev_hash.as_slice())
                .ok()
                .and_then(|h| line.events.get(&h))
            {
                Some(&(seq, hlc)) if Some(seq) == ev.seq.checked_sub(1) => hlc,
                _ => return Err(fail(ev.seq, "previous-hash link broken")),
            }
        };
        if ev.hlc <= prev_hlc {
            return Err(fail(ev.seq, "clock goes backwards"));
        }
        if let Err(reason) = &c.payload {
            return Err(fail(ev.seq, reason));
        }
        if ev.seq > 1 && !line.parents.insert(c_prev(&ev.prev_hash)) {
            forks += 1;
        }
        line.events.insert(c.hash, (ev.seq, ev.hlc));
        line.max_seq = line.max_seq.max(ev.seq);
    }
    check_tips(snap, members, &lines, &name)?;
    // Cross-author links last, so a deleted event is reported as itself, not as a
    // dangling parent of someone else's event.
    for &i in &order {
        let ev = &snap.events[i];
        let fail = |reason: &str| Failure {
            area: Area::History,
            author: name(&ev.author_id),
            seq: Some(ev.seq),
            reason: reason.to_owned(),
        };
        let Some(parents) = ev.parent_ids() else {
            return Err(fail("malformed parent list"));
        };
        for p in &parents {
            match by_id.get(p) {
                None => return Err(fail("names a parent that is not in the history")),
                Some(&j) if snap.events[j].hlc >= ev.hlc => {
                    return Err(fail("is not newer than its parent"));
                }
                Some(_) => {}
            }
        }
    }
    // Materialise every annotation from its events (`merge`), then compare the cache.
    // Events grouped by annotation: indices sorted by target (stable: snapshot order within).
    let mut by_target: Vec<usize> = (0..snap.events.len()).collect();
    by_target.sort_by_key(|&i| snap.events[i].target);
    let groups: Vec<&[usize]> = by_target
        .chunk_by(|&a, &b| snap.events[a].target == snap.events[b].target)
        .collect();
    let materialized: Vec<Result<Registers, (usize, &'static str)>> = groups
        .par_iter()
        .map(|idx| {
            let target = snap.events[idx[0]].target;
            let nodes: Vec<merge::Node<'_>> = idx
                .iter()
                .filter_map(|&i| {
                    let ev = &snap.events[i];
                    checked[i].payload.as_ref().ok().map(|p| merge::Node {
                        event: ev.event_id,
                        author: ev.author_id,
                        hlc: ev.hlc,
                        hash: &ev.event_hash,
                        payload: p,
                    })
                })
                .collect();
            merge::materialize(target, &nodes)
                .map_err(|f| (by_id.get(&f.event).copied().unwrap_or(idx[0]), f.reason))
        })
        .collect();
    let mut state = Vec::with_capacity(materialized.len());
    let mut failures: Vec<(usize, &'static str)> = Vec::new();
    for m in materialized {
        match m {
            Ok(regs) => state.push(regs),
            Err(f) => failures.push(f),
        }
    }
    let state = State::new(state);
    if let Some(&(i, reason)) = failures
        .iter()
        .min_by_key(|(i, _)| (snap.events[*i].hlc, snap.events[*i].event_id))
    {
        let ev = &snap.events[i];
        return Err(Failure {
            area: Area::History,
            author: name(&ev.author_id),
            seq: Some(ev.seq),
            reason: reason.to_owned(),
        });
    }
    check_cache(snap, keys, &state, &by_id, &name)?;
    check_heads(snap, &by_id, &name)?;
    let audit_entries = audit::verify(project, &snap.audit, members, &keys.sealer)?;
    let count = |kind| {
        state
            .regs
            .iter()
            .filter(|r| r.is_present() && r.kind() == kind)
            .count()
    };
    Ok(Report {
        members: members.len(),
        events: snap.events.len(),
        annotations: count(ObjectKind::Annotation),
        segmentations: count(ObjectKind::Segmentation),
        label_classes: count(ObjectKind::LabelClass),
        conflicts: state.regs.iter().filter(|r| r.has_conflicts()).count(),
        forks,
        audit_entries,
    })
}

fn c_prev(prev_hash: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(prev_hash).unwrap_or([0; 32])
}

/// One author's verified events: hash -> (seq, clock), and the hashes that have a child.
#[derive(Default)]
struct Line {
    max_seq: i64,
    events: HashMap<[u8; 32], (i64, i64)>,
    parents: HashSet<[u8; 32]>,
}

impl Line {
    /// Leaves of the author's tree, by hash.
    fn leaves(&self) -> impl Iterator<Item = (&[u8; 32], i64)> {
        self.events
            .iter()
            .filter(|(h, _)| !self.parents.contains(*h))
            .map(|(h, (seq, _))| (h, *seq))
    }
}

/// Hashes, decrypts and checks the signature of every event, in parallel blocks: one
/// batch verification per block, redone one by one when it fails (`sigbatch`).
fn check_events(
    project: &Id,
    history: &[EventRow],
    keys: &DataKeys,
    members: &Members,
    payloads: &PayloadIndex<'_>,
) -> Vec<Checked> {
    history
        .par_chunks(BLOCK)
        .flat_map_iter(|block| {
            let mut out: Vec<Checked> = block
                .iter()
                .map(|ev| {
                    let hash = ev.compute_hash(project);
                    let payload =
                        events::open_payload(project, &keys.sealer, ev, payloads.of(&ev.event_id))
                            .and_then(|blob| {
                                events::decode_payload(&blob).ok_or("payload is not a valid edit")
                            })
                            .and_then(|p| {
                                if p.op_name() != ev.op || p.edit.target() != ev.target {
                                    Err("clear operation or target differs from the signed payload")
                                } else {
                                    Ok(p)
                                }
                            });
                    Checked {
                        hash,
                        payload,
                        signature_ok: false,
                    }
                })
                .collect();
            // Signatures that parse, by a member: checked as one batch.
            let parsed: Vec<(usize, Signature, &ed25519_dalek::VerifyingKey)> = block
                .iter()
                .enumerate()
                .filter_map(|(k, ev)| {
                    let sig = Signature::from_slice(&ev.signature).ok()?;
                    let m = members.get(&ev.author_id)?;
                    Some((k, sig, &m.sign_pk))
                })
                .collect();
            let messages: Vec<Vec<u8>> = parsed
                .iter()
                .map(|(k, _, _)| events::signature_message(&out[*k].hash))
                .collect();
            let items: Vec<sigbatch::Item<'_>> = parsed
                .iter()
                .zip(&messages)
                .map(|((_, sig, key), message)| sigbatch::Item {
                    message,
                    signature: sig,
                    key,
                })
                .collect();
            for ((k, _, _), ok) in parsed.iter().zip(sigbatch::verify_each(&items)) {
                out[*k].signature_ok = ok;
            }
            out
        })
        .collect()
}

fn check_tips(
    snap: &Snapshot,
    members: &Members,
    lines: &BTreeMap<Id, Line>,
    name: &dyn Fn(&Id) -> String,
) -> Result<(), Failure> {
    let mut tips: BTreeMap<Id, Vec<&TipRow>> = BTreeMap::new();
    for t in &snap.tips {
        tips.entry(t.author_id).or_default().push(t);
    }
    let fail = |author: &Id, seq: i64, reason: String| Failure {
        area: Area::History,
        author: name(author),
        seq: Some(seq),
        reason,
    };
    let none = Line::default();
    for (author, author_tips) in &tips {
        let line = lines.get(author).unwrap_or(&none);
        for tip in author_tips {
            let found = <[u8; 32]>::try_from(tip.event_hash.as_slice())
                .ok()
                .and_then(|h| line.events.get(&h).map(|e| (h, e.0)));
            match found {
                None => {
                    return Err(fail(
                        author,
                        tip.seq.min(line.max_seq + 1).max(1),
                        format!(
                            "event missing (history truncated; tip records #{})",
                            tip.seq
                        ),
                    ));
                }
                Some((h, seq)) if seq != tip.seq || line.parents.contains(&h) => {
                    return Err(fail(
                        author,
                        line.max_seq,
                        "tip record does not match the last event".into(),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    for (author, line) in lines {
        let have = tips.get(author).map(Vec::as_slice).unwrap_or_default();
        let mut leaves: Vec<(&[u8; 32], i64)> = line.leaves().collect();
        leaves.sort_by_key(|(_, seq)| *seq);
        for (hash, seq) in leaves {
            if !have
                .iter()
                .any(|t| t.event_hash.as_slice() == hash.as_slice())
            {
                return Err(fail(author, seq, "tip record missing".into()));
            }
        }
    }
    for (author, author_tips) in &tips {
        for tip in author_tips {
            let sig = Signature::from_slice(&tip.signature);
            let good = match (sig, members.get(author)) {
                (Ok(s), Some(m)) => m
                    .sign_pk
                    .verify(
                        &events::tip_message(&snap.project_id, author, tip.seq, &tip.event_hash),
                        &s,
                    )
                    .is_ok(),
                _ => false,
            };
            if !good {
                return Err(fail(
                    author,
                    tip.seq,
                    "tip signature does not verify".into(),
                ));
            }
        }
    }
    Ok(())
}

fn check_cache(
    snap: &Snapshot,
    keys: &DataKeys,
    state: &State,
    by_id: &HashMap<Id, usize>,
    name: &dyn Fn(&Id) -> String,
) -> Result<(), Failure> {
    let at = |event: &Id, reason: &str| match by_id.get(event) {
        Some(&i) => Failure {
            area: Area::Cache,
            author: name(&snap.events[i].author_id),
            seq: Some(snap.events[i].seq),
            reason: reason.to_owned(),
        },
        None => Failure {
            area: Area::Cache,
            author: "unknown author".into(),
            seq: None,
            reason: reason.to_owned(),
        },
    };
    // Decrypt and compare in parallel; report the first bad row in table order.
    let bad: Vec<Option<(Id, &'static str)>> = snap
        .cache
        .par_iter()
        .map(|row| {
            let Some(want) = state.get(&row.annotation_id) else {
                return Some((
                    row.event_id,
                    "cache holds an annotation the history does not",
                ));
            };
            let last_event = want.cache_event();
            if row.event_id != last_event {
                return Some((last_event, "cache differs from the replay"));
            }
            // Compare plaintext bytes with the replay's encoding (serialising is
            // cheaper than parsing, and the encoding is deterministic).
            let aad = events::cache_aad(&snap.project_id, row);
            match keys.sealer.open(&aad, &row.nonce, &row.ct) {
                Err(_) => Some((last_event, "cache ciphertext does not authenticate")),
                Ok(got) => {
                    let same = events::cache_plaintext(want).is_ok_and(|w| *w == *got);
                    if !same || row.image_bidx != events::cache_index(keys, want) {
                        Some((last_event, "cache differs from the replay"))
                    } else {
                        None
                    }
                }
            }
        })
        .collect();
    if let Some((event, reason)) = bad.into_iter().flatten().next() {
        return Err(at(&event, reason));
    }
    let mut seen = HashSet::with_capacity(snap.cache.len());
    for row in &snap.cache {
        if !seen.insert(row.annotation_id) {
            return Err(at(&row.event_id, "cache differs from the replay"));
        }
    }
    // The first missing annotation in id order.
    if let Some(regs) = state.regs.iter().find(|r| !seen.contains(&r.id)) {
        return Err(at(&regs.cache_event(), "annotation missing from the cache"));
    }
    Ok(())
}

fn check_heads(
    snap: &Snapshot,
    by_id: &HashMap<Id, usize>,
    name: &dyn Fn(&Id) -> String,
) -> Result<(), Failure> {
    let mut named: HashSet<Id> = HashSet::with_capacity(snap.events.len());
    for ev in &snap.events {
        named.extend(ev.parent_ids().unwrap_or_default());
    }
    let want: HashSet<Id> = snap
        .events
        .iter()
        .map(|e| e.event_id)
        .filter(|id| !named.contains(id))
        .collect();
    let have: HashSet<Id> = snap.heads.iter().copied().collect();
    // The smallest id in one set and not the other.
    if let Some(id) = want.symmetric_difference(&have).min() {
        return Err(match by_id.get(id) {
            Some(&i) => Failure {
                area: Area::History,
                author: name(&snap.events[i].author_id),
                seq: Some(snap.events[i].seq),
                reason: "heads table does not match the history".into(),
            },
            None => Failure {
                area: Area::History,
                author: "unknown author".into(),
                seq: None,
                reason: "heads table names a missing event".into(),
            },
        });
    }
    Ok(())
}
