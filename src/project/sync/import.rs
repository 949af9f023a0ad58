//! Reading a bundle and applying it in one transaction ([`Session::import_preview`],
//! [`Session::import_commit`]): membership union, every event checked against this copy
//! and the merged membership, tips, heads, the re-materialised cache, revocations, the
//! audit entry. Nothing is written when any check fails. What is held until the
//! membership union is checked is bounded: membership records at most
//! [`MAX_MEMBER_BYTES`] in all, tips of fixed size (`records.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread;

use ed25519_dalek::{Signature, Verifier};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::conflicts::describe_conflicts;
use super::incoming::{self, Applier, Batch, Checked, Incoming, RecordBatch, read_batches};
use super::records::{Manifest, decode_member, decode_tip};
use super::{
    ImportMode, ImportSummary, bundle_key_label, data_key_aad, end_message, io_err, refused,
};
use crate::project::audit::{self, Action, Actor, Entry, Outcome};
use crate::project::bundle::{BundleError, BundleReader, Header, Kind, Record};
use crate::project::cache;
use crate::project::crypto::Key32;
use crate::project::events::{self, DataKeys, TipRow};
use crate::project::id::Id;
use crate::project::keys::GrantRow;
use crate::project::members::{self, MemberRow, Members};
use crate::project::session::{Session, Unlocked};
use crate::project::{ProjectError, load_members, now_ms};

/// SQLite's page cache during an import, in KiB (the default is about 2 MiB): the random
/// inserts into the indexes of `events`, `event_payloads` and `annotations` then stay in
/// memory instead of being spilled to the WAL and read back. A bound that does not grow
/// with the bundle.
const IMPORT_CACHE_KIB: i64 = 16 * 1024;
/// The most bytes of membership records a bundle may carry: they are held until the
/// union is checked (a real member's record is a few hundred bytes).
const MAX_MEMBER_BYTES: usize = 32 << 20;

/// Opens a bundle's content key for `user_id`: the data-key entry when this copy holds
/// the same data key, else the member's own entry.
pub(super) fn content_key(
    h: &Header,
    pid: &Id,
    u: &Unlocked,
    user_id: Id,
    user_name: &str,
) -> Result<Key32, BundleError> {
    if h.project_id != *pid {
        return Err(BundleError::OtherProject);
    }
    let my_key_id = u.keys.sealer.key_id();
    if h.data_key_id == my_key_id
        && let Some(e) = h.entries.iter().find(|e| e.user == Id::NIL)
    {
        let plain = u
            .keys
            .sealer
            .open(&data_key_aad(pid, &h.bundle_id, my_key_id), &e.nonce, &e.ct)
            .map_err(|_| BundleError::Unauthentic)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| BundleError::Malformed("content key has the wrong length"))?;
        return Ok(Key32::from_bytes(Zeroizing::new(bytes)));
    }
    let Some(e) = h.entries.iter().find(|e| e.user == user_id) else {
        return Err(BundleError::NotForYou(user_name.to_owned()));
    };
    let grant = GrantRow {
        user_id,
        key_id: bundle_key_label(&h.bundle_id),
        eph_pk: e.eph_pk.to_vec(),
        nonce: e.nonce.to_vec(),
        ct: e.ct.clone(),
    };
    grant
        .open(pid, &u.secrets)
        .map_err(|_| BundleError::Unauthentic)
}

impl Session {
    /// Checks a bundle and reports what importing it would change; changes nothing.
    pub fn import_preview(
        &mut self,
        bundle: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportSummary, ProjectError> {
        self.import_bundle(bundle, ImportMode::Preview, progress)
    }

    /// Imports a bundle in one transaction (nothing changes when any check fails).
    pub fn import_commit(
        &mut self,
        bundle: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportSummary, ProjectError> {
        self.import_bundle(bundle, ImportMode::Commit, progress)
    }

    /// Imports with SQLite's page cache at [`IMPORT_CACHE_KIB`] for the duration.
    fn import_bundle(
        &mut self,
        path: &Path,
        mode: ImportMode,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportSummary, ProjectError> {
        let conn = &self.project.conn;
        let previous: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "cache_size", -IMPORT_CACHE_KIB)?;
        let result = self.import_bundle_cached(path, mode, progress);
        let restored = self
            .project
            .conn
            .pragma_update(None, "cache_size", previous);
        let summary = result?;
        restored?;
        Ok(summary)
    }

    fn import_bundle_cached(
        &mut self,
        path: &Path,
        mode: ImportMode,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportSummary, ProjectError> {
        let user_id = self.user_id;
        let user_name = self.name.clone();
        let (project, u) = self.parts()?;
        let pid = project.project_id;
        let file = File::open(path).map_err(io_err("cannot open the bundle", path))?;
        let mut reader = BundleReader::open(BufReader::with_capacity(1 << 18, file), |h| {
            content_key(h, &pid, u, user_id, &user_name)
        })?;
        let first = reader.next_record()?.ok_or(BundleError::Truncated)?;
        if first.kind != Kind::Manifest {
            return Err(BundleError::Malformed("the first record is not the manifest").into());
        }
        let manifest = Manifest::decode(&first.body)?;

        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before_rowid: i64 =
            tx.query_row("SELECT COALESCE(MAX(rowid), 0) FROM events", [], |r| {
                r.get(0)
            })?;
        let keys = &u.keys;
        let streamed = std::thread::scope(|scope| -> Result<Streamed, ProjectError> {
            let (records_tx, records_rx) = mpsc::sync_channel::<RecordBatch>(1);
            let (jobs_tx, jobs_rx) = mpsc::sync_channel::<(Arc<Members>, Batch)>(1);
            let (done_tx, done_rx) = mpsc::sync_channel::<(Batch, Vec<Option<Checked>>)>(1);
            let reading = &mut reader;
            let read = thread::Builder::new()
                .name("bundle-read".into())
                .spawn_scoped(scope, move || read_batches(reading, &records_tx))
                .map_err(thread_err)?;
            let checker = thread::Builder::new()
                .name("bundle-check".into())
                .spawn_scoped(scope, move || {
                    for (members, batch) in jobs_rx {
                        let checked = incoming::check(&pid, keys, &members, &batch);
                        if done_tx.send((batch, checked)).is_err() {
                            return;
                        }
                    }
                })
                .map_err(thread_err)?;
            let mut stream = Stream {
                tx: &tx,
                pid,
                keys,
                manifest: &manifest,
                applier: Applier::new(&tx, &keys.sealer, before_rowid),
                jobs: jobs_tx,
                done: done_rx,
                checking: false,
                bundle_members: Vec::new(),
                member_bytes: 0,
                bundle_tips: HashMap::new(),
                members: None,
                new_members: Vec::new(),
                last_kind: Kind::Manifest,
                seen_events: 0,
                end_sig: None,
                current: Vec::new(),
            };
            // Dropping the stream closes its channels, so both threads end before the joins.
            let streamed = match stream.run(records_rx, progress) {
                Ok(()) => stream.finish(),
                Err(e) => {
                    drop(stream);
                    Err(e)
                }
            };
            read.join()
                .map_err(|_| thread_err("the bundle reader stopped"))?;
            checker
                .join()
                .map_err(|_| thread_err("the event checker stopped"))?;
            streamed
        })?;
        let Streamed {
            members,
            new_members,
            bundle_tips,
            seen_events,
            already,
            new_events,
            bad_signature,
            end_sig,
            rebuild,
        } = streamed;
        let name = |id: &Id| {
            crate::project::members::display_name(members.get(id).map(|m| m.name.as_str()), id)
        };
        if let Some((author, seq)) = bad_signature {
            return Err(refused(format!(
                "event {} #{seq}: signature does not verify against the membership record",
                name(&author)
            )));
        }
        if seen_events != manifest.events || end_sig.is_none() {
            return Err(BundleError::Malformed("event count differs from the manifest").into());
        }
        if !members.get(&user_id).is_some_and(|m| m.active) {
            return Err(refused(format!(
                "{user_name} was removed from this project in the exporter's copy"
            )));
        }
        let exporter = members
            .get(&manifest.exporter)
            .filter(|m| m.active)
            .ok_or_else(|| {
                refused("signed by someone who is not a member (unknown or removed)".into())
            })?;
        let sig = Signature::from_slice(end_sig.as_deref().unwrap_or_default())
            .map_err(|_| BundleError::Malformed("bad exporter signature"))?;
        let digest = reader.content_digest().ok_or(BundleError::Truncated)?;
        if exporter
            .sign_pk
            .verify(&end_message(&pid, &reader.header_hash(), &digest), &sig)
            .is_err()
        {
            return Err(refused("the exporter's signature does not verify".into()));
        }
        let _ = manifest.created_ms;

        for author in new_events.keys() {
            update_tips(
                &tx,
                &pid,
                &members,
                author,
                before_rowid,
                &bundle_tips,
                &name,
            )?;
        }
        let remat = cache::rematerialize_touched(&tx, &pid, &u.keys, before_rowid, rebuild)
            .map_err(|e| match e {
                cache::RebuildError::Event { event, reason } => {
                    refused(format!("event {}: {reason}", event.short()))
                }
                cache::RebuildError::Project(p) => p,
            })?;
        // A member removed in the other copy may still hold a grant here: revoke it and
        // rotate the data key, as `user remove` does.
        let revoked: Vec<Id> = tx
            .prepare("SELECT user_id FROM grants")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<Id>, _>>()?
            .into_iter()
            .filter(|id| members.get(id).is_some_and(|m| !m.active))
            .collect();
        let mut rotated = None;
        if !revoked.is_empty() && mode == ImportMode::Commit {
            for id in &revoked {
                tx.execute("DELETE FROM slots WHERE user_id = ?1", [id])?;
                tx.execute("DELETE FROM grants WHERE user_id = ?1", [id])?;
            }
            rotated = Some(crate::project::session::rotate(&tx, &pid, &u.keys)?);
        }
        let mut heads: Vec<Id> = tx
            .prepare("SELECT event_id FROM heads")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        heads.sort();
        let new_conflicts = describe_conflicts(&tx, &name, remat.new_conflicts)?;
        let summary = ImportSummary {
            exporter: exporter.name.clone(),
            bundle_events: manifest.events,
            already_present: already,
            new_events: new_events.iter().map(|(a, n)| (name(a), *n)).collect(),
            new_members,
            new_conflicts,
            heads,
            committed: mode == ImportMode::Commit,
        };
        let changed = !summary.new_events.is_empty() || !summary.new_members.is_empty();
        if mode == ImportMode::Preview || !changed {
            drop(tx); // rolls back
            return Ok(summary);
        }
        let keys = rotated.as_ref().map_or(&u.keys, |(_, k)| k);
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let actor = Actor {
            id: user_id,
            signing: &u.secrets.signing,
            keys,
        };
        let entry = Entry {
            action: Action::SyncImport,
            outcome: Outcome::Success,
            subject: None,
            object: Some(&file_name),
        };
        audit::append(&tx, &pid, Some(&actor), &entry, now_ms())?;
        events::save_encryption_count(&tx, &keys.sealer)?;
        tx.commit()?;
        if let Some((pdk, keys)) = rotated {
            u.pdk = pdk;
            u.keys = keys;
        }
        Ok(summary)
    }
}

/// What streaming the records produced.
struct Streamed {
    members: Members,
    new_members: Vec<String>,
    bundle_tips: HashMap<(Id, Vec<u8>), TipRow>,
    seen_events: u64,
    already: u64,
    new_events: BTreeMap<Id, u64>,
    bad_signature: Option<(Id, i64)>,
    end_sig: Option<Vec<u8>>,
    /// Annotations to re-materialise, with their numbers of new events.
    rebuild: HashMap<Id, usize>,
}

/// The record stream of one import, on the thread that owns the transaction: records in
/// order (manifest counts, membership union, tips), events collected into batches that go
/// to the checker thread and come back to be applied, one batch behind, so checking a
/// batch overlaps with inserting the one before it.
struct Stream<'a> {
    tx: &'a Transaction<'a>,
    pid: Id,
    keys: &'a DataKeys,
    manifest: &'a Manifest,
    applier: Applier<'a>,
    jobs: mpsc::SyncSender<(Arc<Members>, Batch)>,
    done: mpsc::Receiver<(Batch, Vec<Option<Checked>>)>,
    /// A batch is at the checker.
    checking: bool,
    bundle_members: Vec<(MemberRow, Zeroizing<String>)>,
    /// Bytes of the membership records read so far (at most [`MAX_MEMBER_BYTES`]).
    member_bytes: usize,
    bundle_tips: HashMap<(Id, Vec<u8>), TipRow>,
    members: Option<Arc<Members>>,
    new_members: Vec<String>,
    last_kind: Kind,
    seen_events: u64,
    end_sig: Option<Vec<u8>>,
    /// Events read and not yet sent to the checker.
    current: Vec<Incoming>,
}

impl Stream<'_> {
    /// Reads every record batch; an error is reported only after every event before it
    /// was checked and applied (so the first problem in bundle order is the one named).
    fn run(
        &mut self,
        records: mpsc::Receiver<RecordBatch>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ProjectError> {
        let result = (|| {
            for batch in records {
                for rec in batch? {
                    self.record(&rec, progress)?;
                }
                self.submit()?;
            }
            Ok(())
        })();
        // Everything flushed here comes before the point where `result` stopped, so a
        // refusal from it is the earlier one.
        let flushed = self.submit().and_then(|()| self.drain());
        flushed.and(result)
    }

    fn record(
        &mut self,
        rec: &Record,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ProjectError> {
        if (rec.kind as u8) < (self.last_kind as u8) || rec.kind == Kind::Manifest {
            return Err(BundleError::Malformed("records out of order").into());
        }
        self.last_kind = rec.kind;
        if rec.kind != Kind::Member && self.members.is_none() {
            let (m, added) =
                merge_members(self.tx, &self.pid, &self.keys.sealer, &self.bundle_members)?;
            self.members = Some(Arc::new(m));
            self.new_members = added;
            self.bundle_members.clear();
        }
        match rec.kind {
            Kind::Manifest => {}
            Kind::Member => {
                if self.bundle_members.len() as u32 >= self.manifest.members {
                    return Err(BundleError::Malformed("more members than announced").into());
                }
                self.member_bytes += rec.body.len();
                if self.member_bytes > MAX_MEMBER_BYTES {
                    return Err(BundleError::Malformed("membership records too large").into());
                }
                self.bundle_members.push(decode_member(&rec.body)?);
            }
            Kind::Tip => {
                if self.bundle_tips.len() as u32 >= self.manifest.tips {
                    return Err(BundleError::Malformed("more tips than announced").into());
                }
                let t = decode_tip(&rec.body)?;
                self.bundle_tips
                    .insert((t.author_id, t.event_hash.clone()), t);
            }
            Kind::Event => {
                self.seen_events += 1;
                if self.seen_events > self.manifest.events {
                    return Err(BundleError::Malformed("more events than announced").into());
                }
                if self.members.is_none() {
                    return Err(BundleError::Malformed("no membership").into());
                }
                self.current.push(Incoming::decode(rec)?);
                if self.seen_events.is_multiple_of(1024) {
                    progress(self.seen_events, self.manifest.events);
                }
            }
            Kind::End => self.end_sig = Some(rec.body.to_vec()),
        }
        Ok(())
    }

    /// Sends the events read so far to the checker, then applies the batch before them.
    fn submit(&mut self) -> Result<(), ProjectError> {
        if self.current.is_empty() {
            return Ok(());
        }
        let Some(members) = self.members.clone() else {
            return Err(BundleError::Malformed("no membership").into());
        };
        let batch = self.applier.prepare(std::mem::take(&mut self.current))?;
        self.jobs
            .send((members, batch))
            .map_err(|_| thread_err("the event checker stopped"))?;
        self.drain()?;
        self.checking = true;
        Ok(())
    }

    /// Applies the batch at the checker, if any.
    fn drain(&mut self) -> Result<(), ProjectError> {
        if !std::mem::replace(&mut self.checking, false) {
            return Ok(());
        }
        let (batch, checked) = self
            .done
            .recv()
            .map_err(|_| thread_err("the event checker stopped"))?;
        let members = self
            .members
            .clone()
            .ok_or(BundleError::Malformed("no membership"))?;
        self.applier.apply(&members, batch, checked)
    }

    fn finish(mut self) -> Result<Streamed, ProjectError> {
        let members = self.members.ok_or(BundleError::Truncated)?;
        let rebuild = self.applier.rebuild();
        Ok(Streamed {
            members: Arc::unwrap_or_clone(members),
            new_members: self.new_members,
            bundle_tips: self.bundle_tips,
            seen_events: self.seen_events,
            already: self.applier.already,
            new_events: self.applier.new_events,
            bad_signature: self.applier.bad_signature,
            end_sig: self.end_sig,
            rebuild,
        })
    }
}

fn thread_err(what: impl std::fmt::Display) -> ProjectError {
    ProjectError::Format(format!("import: {what}"))
}

/// Adds the bundle's membership records this copy lacks (names re-encrypted here) and
/// verifies the union. Returns it and the names of members new to this copy.
fn merge_members(
    tx: &rusqlite::Transaction<'_>,
    pid: &Id,
    sealer: &crate::project::crypto::Sealer,
    incoming: &[(MemberRow, Zeroizing<String>)],
) -> Result<(Members, Vec<String>), ProjectError> {
    let local = load_members(tx)?;
    let by_id: HashMap<Id, &MemberRow> = local.iter().map(|m| (m.record_id, m)).collect();
    let mut added_users = BTreeSet::new();
    let mut seen = HashSet::new();
    for (m, name) in incoming {
        if !seen.insert(m.record_id) {
            return Err(refused("a membership record appears twice".into()));
        }
        if let Some(have) = by_id.get(&m.record_id) {
            let same = have.user_id == m.user_id
                && have.action == m.action
                && have.role == m.role
                && have.sign_pk == m.sign_pk
                && have.box_pk == m.box_pk
                && have.signer_id == m.signer_id
                && have.time_ms == m.time_ms
                && have.signature == m.signature
                && have.name(pid, sealer).is_ok_and(|n| n == **name);
            if !same {
                return Err(refused(
                    "a membership record differs from the copy here".into(),
                ));
            }
            continue;
        }
        let mut row = m.clone();
        row.reseal_name(pid, sealer, name)?;
        crate::project::insert_member(tx, &row)?;
        if m.action == "add" {
            added_users.insert(m.user_id);
        }
    }
    let rows = load_members(tx)?;
    let members = members::verify_members(pid, &rows, sealer)
        .map_err(|f| refused(format!("membership record of {}: {}", f.who, f.reason)))?;
    let mut new_names: Vec<String> = added_users
        .iter()
        .filter(|id| !local.iter().any(|l| l.user_id == **id))
        .filter_map(|id| members.get(id).map(|m| m.name.clone()))
        .collect();
    new_names.sort();
    Ok((members, new_names))
}

/// Replaces `author`'s tips by one signed tip per leaf of their merged line.
fn update_tips(
    tx: &rusqlite::Transaction<'_>,
    pid: &Id,
    members: &Members,
    author: &Id,
    before_rowid: i64,
    bundle_tips: &HashMap<(Id, Vec<u8>), TipRow>,
    name: &dyn Fn(&Id) -> String,
) -> Result<(), ProjectError> {
    let local: Vec<TipRow> = tx
        .prepare("SELECT author_id, seq, event_hash, signature FROM tips WHERE author_id = ?1")?
        .query_map([author], |r| {
            Ok(TipRow {
                author_id: r.get(0)?,
                seq: r.get(1)?,
                event_hash: r.get(2)?,
                signature: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut candidates: Vec<(i64, Vec<u8>)> = local
        .iter()
        .map(|t| (t.seq, t.event_hash.clone()))
        .collect();
    let mut stmt =
        tx.prepare("SELECT seq, event_hash FROM events WHERE rowid > ?1 AND author_id = ?2")?;
    let mut rows = stmt.query(params![before_rowid, author])?;
    let mut has_child = tx.prepare_cached(
        "SELECT 1 FROM events WHERE author_id = ?1 AND seq = ?2 AND prev_hash = ?3 LIMIT 1",
    )?;
    let mut leaves: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut is_leaf = |seq: i64, hash: &[u8]| -> rusqlite::Result<bool> {
        Ok(has_child
            .query_row(params![author, seq + 1, hash], |_| Ok(()))
            .optional()?
            .is_none())
    };
    while let Some(r) = rows.next()? {
        let (seq, hash): (i64, Vec<u8>) = (r.get(0)?, r.get(1)?);
        if is_leaf(seq, &hash)? {
            leaves.push((seq, hash));
        }
    }
    for (seq, hash) in candidates.drain(..) {
        if is_leaf(seq, &hash)? && !leaves.iter().any(|(_, h)| *h == hash) {
            leaves.push((seq, hash));
        }
    }
    let pk = members.get(author).map(|m| m.sign_pk);
    let mut tips = Vec::with_capacity(leaves.len());
    for (seq, hash) in leaves {
        if let Some(t) = local.iter().find(|t| t.event_hash == hash) {
            tips.push(t.clone());
            continue;
        }
        let good = bundle_tips.get(&(*author, hash.clone())).filter(|t| {
            t.seq == seq
                && Signature::from_slice(&t.signature).is_ok_and(|s| {
                    pk.is_some_and(|pk| {
                        pk.verify(&events::tip_message(pid, author, seq, &hash), &s)
                            .is_ok()
                    })
                })
        });
        match good {
            Some(t) => tips.push(t.clone()),
            None => {
                return Err(refused(format!(
                    "event {} #{seq}: no valid signed tip for the end of this line (bundle incomplete)",
                    name(author)
                )));
            }
        }
    }
    tx.execute("DELETE FROM tips WHERE author_id = ?1", [author])?;
    for t in &tips {
        events::insert_tip(tx, t)?;
    }
    Ok(())
}
