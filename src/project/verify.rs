//! Verification of a whole project: membership, every event, the tips, the replay, the
//! cache, and the audit log. Pure over a [`Snapshot`] (all rows in memory), so tests can
//! tamper with copies cheaply; `load` reads a snapshot from SQLite.
//!
//! Rules (ARCHITECTURE.md, "The project file"): per author, sequence numbers 1..n without gaps; each
//! previous-hash link; each event hash; each signature against the membership record;
//! every ciphertext authenticates and matches its signed commitment; the signed tip names
//! the last event; parents exist and are older; the replay applies cleanly; the cache
//! equals the replay. The first failure names the author and sequence number.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rayon::prelude::*;
use rusqlite::Connection;

use super::audit::{self, AuditRow};
use super::events::{self, CacheRow, DataKeys, EventRow, PayloadRow, TipRow};
use super::id::Id;
use super::members::{self, MemberRow, Members};
use super::model::{self, EventPayload, State};

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
    pub annotations: usize,
    pub audit_entries: usize,
}

/// Reads every row that verification needs.
pub fn load(conn: &Connection, project_id: Id) -> rusqlite::Result<Snapshot> {
    fn all<T>(
        conn: &Connection,
        sql: &str,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        conn.prepare(sql)?.query_map([], f)?.collect()
    }
    Ok(Snapshot {
        project_id,
        members: all(
            conn,
            &format!("SELECT {} FROM members", super::MEMBER_COLUMNS),
            super::member_row,
        )?,
        events: all(
            conn,
            &format!(
                "SELECT {} FROM events ORDER BY author_id, seq",
                events::EVENT_COLUMNS
            ),
            events::event_row,
        )?,
        payloads: all(
            conn,
            "SELECT event_id, chunk, key_id, nonce, ct FROM event_payloads ORDER BY event_id, chunk",
            events::payload_row,
        )?,
        tips: all(
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
        heads: all(conn, "SELECT event_id FROM heads", |r| r.get(0))?,
        cache: all(
            conn,
            "SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations",
            events::cache_row,
        )?,
        audit: all(
            conn,
            &format!("SELECT {} FROM audit", audit::COLUMNS),
            audit::row,
        )?,
    })
}

/// Per-event result of the parallel phase.
struct Checked {
    hash: [u8; 32],
    payload: Result<EventPayload, &'static str>,
    signature_ok: bool,
}

/// Verifies `snap` under `keys`; on success also returns the replayed state.
pub fn verify(snap: &Snapshot, keys: &DataKeys) -> Result<(Report, State), Failure> {
    let project = &snap.project_id;
    let members =
        members::verify_members(project, &snap.members, &keys.sealer).map_err(|f| Failure {
            area: Area::Membership,
            author: f.who,
            seq: None,
            reason: f.reason,
        })?;
    let name = |id: &Id| {
        members
            .get(id)
            .map_or_else(|| format!("user {}", id.short()), |m| m.name.clone())
    };

    let mut chunks: HashMap<Id, Vec<&PayloadRow>> = HashMap::with_capacity(snap.events.len());
    for p in &snap.payloads {
        chunks.entry(p.event_id).or_default().push(p);
    }
    for c in chunks.values_mut() {
        c.sort_by_key(|p| p.chunk);
    }
    let checked = check_events(snap, keys, &members, &chunks);

    // Sequential pass in (author, seq) order: report the first failure.
    let mut order: Vec<usize> = (0..snap.events.len()).collect();
    order.sort_by_key(|&i| (snap.events[i].author_id, snap.events[i].seq));
    let by_id: HashMap<Id, usize> = snap
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_id, i))
        .collect();
    let mut seen_ids = BTreeSet::new();
    let mut last: BTreeMap<Id, (i64, [u8; 32])> = BTreeMap::new();
    let mut prev: Option<(Id, i64, [u8; 32], i64)> = None;
    for &i in &order {
        let ev = &snap.events[i];
        let c = &checked[i];
        let fail = |seq: i64, reason: &str| Failure {
            area: Area::History,
            author: name(&ev.author_id),
            seq: Some(seq),
            reason: reason.to_owned(),
        };
        let (expected, prev_hash, prev_hlc) = match prev {
            Some((a, s, h, t)) if a == ev.author_id => (s + 1, h, t),
            _ => (1, [0u8; 32], i64::MIN),
        };
        if ev.seq > expected {
            return Err(fail(expected, "event missing (sequence gap)"));
        }
        if ev.seq < expected || !seen_ids.insert(ev.event_id) {
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
        if ev.prev_hash.as_slice() != prev_hash.as_slice() {
            return Err(fail(ev.seq, "previous-hash link broken"));
        }
        if ev.hlc <= prev_hlc {
            return Err(fail(ev.seq, "clock goes backwards"));
        }
        if let Err(reason) = &c.payload {
            return Err(fail(ev.seq, reason));
        }
        prev = Some((ev.author_id, ev.seq, c.hash, ev.hlc));
        last.insert(ev.author_id, (ev.seq, c.hash));
    }
    check_tips(snap, &members, &last, &name)?;
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

    // Replay in causal (clock) order, then compare with the cache.
    let mut replay_order: Vec<usize> = (0..snap.events.len()).collect();
    replay_order.sort_by_key(|&i| (snap.events[i].hlc, snap.events[i].event_id));
    let mut state = State::new();
    for &i in &replay_order {
        let ev = &snap.events[i];
        if let Ok(payload) = &checked[i].payload
            && let Err(e) = model::apply(&mut state, &payload.edit, ev.event_id)
        {
            return Err(Failure {
                area: Area::History,
                author: name(&ev.author_id),
                seq: Some(ev.seq),
                reason: e.to_string(),
            });
        }
    }
    check_cache(snap, keys, &state, &by_id, &name)?;
    check_heads(snap, &by_id, &name)?;
    let audit_entries = audit::verify(project, &snap.audit, &members, &keys.sealer)?;
    let report = Report {
        members: members.len(),
        events: snap.events.len(),
        annotations: state.len(),
        audit_entries,
    };
    Ok((report, state))
}

/// Hashes, decrypts and checks signatures of all events in parallel.
fn check_events(
    snap: &Snapshot,
    keys: &DataKeys,
    members: &Members,
    chunks: &HashMap<Id, Vec<&PayloadRow>>,
) -> Vec<Checked> {
    let project = &snap.project_id;
    let mut checked: Vec<Checked> = snap
        .events
        .par_iter()
        .map(|ev| {
            let hash = ev.compute_hash(project);
            let payload = chunks
                .get(&ev.event_id)
                .map_or(Err("payload missing"), |c| {
                    events::open_payload(project, &keys.sealer, ev, c)
                })
                .and_then(|blob| events::decode_payload(&blob).ok_or("payload is not a valid edit"))
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
    // Signatures: batch verification in parallel blocks; a failing block is redone one
    // by one to find the bad events.
    let idx: Vec<usize> = (0..snap.events.len()).collect();
    let ok: Vec<(usize, bool)> = idx
        .par_chunks(2048)
        .flat_map_iter(|block| {
            let mut msgs = Vec::with_capacity(block.len());
            let mut sigs = Vec::with_capacity(block.len());
            let mut pks: Vec<VerifyingKey> = Vec::with_capacity(block.len());
            let mut all_parse = true;
            for &i in block {
                let ev = &snap.events[i];
                match (
                    Signature::from_slice(&ev.signature),
                    members.get(&ev.author_id),
                ) {
                    (Ok(s), Some(m)) => {
                        msgs.push(events::signature_message(&checked[i].hash));
                        sigs.push(s);
                        pks.push(m.sign_pk);
                    }
                    _ => all_parse = false,
                }
            }
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let batch_ok = all_parse && ed25519_dalek::verify_batch(&refs, &sigs, &pks).is_ok();
            block
                .iter()
                .map(|&i| {
                    if batch_ok {
                        return (i, true);
                    }
                    let ev = &snap.events[i];
                    let good = match (
                        Signature::from_slice(&ev.signature),
                        members.get(&ev.author_id),
                    ) {
                        (Ok(s), Some(m)) => m
                            .sign_pk
                            .verify_strict(&events::signature_message(&checked[i].hash), &s)
                            .is_ok(),
                        _ => false,
                    };
                    (i, good)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (i, good) in ok {
        checked[i].signature_ok = good;
    }
    checked
}

fn check_tips(
    snap: &Snapshot,
    members: &Members,
    last: &BTreeMap<Id, (i64, [u8; 32])>,
    name: &dyn Fn(&Id) -> String,
) -> Result<(), Failure> {
    let tips: BTreeMap<Id, &TipRow> = snap.tips.iter().map(|t| (t.author_id, t)).collect();
    let fail = |author: &Id, seq: i64, reason: String| Failure {
        area: Area::History,
        author: name(author),
        seq: Some(seq),
        reason,
    };
    for (author, (seq, hash)) in last {
        let Some(tip) = tips.get(author) else {
            return Err(fail(author, *seq, "tip record missing".into()));
        };
        if tip.seq > *seq {
            return Err(fail(
                author,
                seq + 1,
                format!(
                    "event missing (history truncated; tip records #{})",
                    tip.seq
                ),
            ));
        }
        if tip.seq < *seq || tip.event_hash.as_slice() != hash.as_slice() {
            return Err(fail(
                author,
                *seq,
                "tip record does not match the last event".into(),
            ));
        }
    }
    for (author, tip) in &tips {
        if !last.contains_key(author) {
            return Err(fail(
                author,
                1,
                format!(
                    "event missing (history truncated; tip records #{})",
                    tip.seq
                ),
            ));
        }
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
            let Some((want, last_event)) = state.get(&row.annotation_id) else {
                return Some((
                    row.event_id,
                    "cache holds an annotation the history does not",
                ));
            };
            if row.event_id != *last_event {
                return Some((*last_event, "cache differs from the replay"));
            }
            match events::open_cache_row(&snap.project_id, &keys.sealer, row) {
                Err(_) => Some((*last_event, "cache ciphertext does not authenticate")),
                Ok(got) if &got != want || row.image_bidx != keys.image_index(&want.body.image) => {
                    Some((*last_event, "cache differs from the replay"))
                }
                Ok(_) => None,
            }
        })
        .collect();
    if let Some((event, reason)) = bad.into_iter().flatten().next() {
        return Err(at(&event, reason));
    }
    let mut seen = BTreeSet::new();
    for row in &snap.cache {
        if !seen.insert(row.annotation_id) {
            return Err(at(&row.event_id, "cache differs from the replay"));
        }
    }
    if let Some((_, (_, last_event))) = state.iter().find(|(id, _)| !seen.contains(*id)) {
        return Err(at(last_event, "annotation missing from the cache"));
    }
    Ok(())
}

fn check_heads(
    snap: &Snapshot,
    by_id: &HashMap<Id, usize>,
    name: &dyn Fn(&Id) -> String,
) -> Result<(), Failure> {
    let mut named: BTreeSet<Id> = BTreeSet::new();
    for ev in &snap.events {
        named.extend(ev.parent_ids().unwrap_or_default());
    }
    let want: BTreeSet<Id> = snap
        .events
        .iter()
        .map(|e| e.event_id)
        .filter(|id| !named.contains(id))
        .collect();
    let have: BTreeSet<Id> = snap.heads.iter().copied().collect();
    if let Some(id) = want.symmetric_difference(&have).next() {
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
