//! Reading a bundle and applying it in one transaction ([`Session::import_preview`],
//! [`Session::import_commit`]): membership union, every event checked against this copy
//! and the merged membership, tips, heads, the re-materialised cache, revocations, the
//! audit entry. Nothing is written when any check fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rayon::prelude::*;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::conflicts::describe_conflicts;
use super::records::{Manifest, decode_event, decode_member, decode_tip};
use super::{
    ImportMode, ImportSummary, bundle_key_label, data_key_aad, end_message, io_err, refused,
};
use crate::project::audit::{self, Action, Actor, Entry, Outcome};
use crate::project::bundle::{BundleError, BundleReader, Kind};
use crate::project::cache;
use crate::project::crypto::Key32;
use crate::project::events::{self, EventRow, TipRow};
use crate::project::id::Id;
use crate::project::keys::GrantRow;
use crate::project::members::{self, MemberRow, Members};
use crate::project::session::Session;
use crate::project::{ProjectError, load_members, now_ms};

/// Signatures are checked in batches of this many, on a separate thread.
const SIGNATURE_BATCH: usize = 2048;

/// A signature to check: message, signature, key, and who/which event for the error.
struct SigJob {
    msg: Vec<u8>,
    sig: Signature,
    pk: VerifyingKey,
    author: Id,
    seq: i64,
}

/// Checks a batch; returns the first bad (author, seq).
fn check_batch(batch: &[SigJob]) -> Option<(Id, i64)> {
    let ok = batch.par_chunks(256).all(|c| {
        let msgs: Vec<&[u8]> = c.iter().map(|j| j.msg.as_slice()).collect();
        let sigs: Vec<Signature> = c.iter().map(|j| j.sig).collect();
        let pks: Vec<VerifyingKey> = c.iter().map(|j| j.pk).collect();
        ed25519_dalek::verify_batch(&msgs, &sigs, &pks).is_ok()
    });
    if ok {
        return None;
    }
    batch
        .iter()
        .find(|j| j.pk.verify_strict(&j.msg, &j.sig).is_err())
        .map(|j| (j.author, j.seq))
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

    fn import_bundle(
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
        let my_key_id = u.keys.sealer.key_id().to_owned();
        let mut reader = BundleReader::open(BufReader::with_capacity(1 << 18, file), |h| {
            if h.project_id != pid {
                return Err(BundleError::OtherProject);
            }
            if h.data_key_id == my_key_id
                && let Some(e) = h.entries.iter().find(|e| e.user == Id::NIL)
            {
                let plain = u
                    .keys
                    .sealer
                    .open(
                        &data_key_aad(&pid, &h.bundle_id, &my_key_id),
                        &e.nonce,
                        &e.ct,
                    )
                    .map_err(|_| BundleError::Unauthentic)?;
                let bytes: [u8; 32] = plain
                    .as_slice()
                    .try_into()
                    .map_err(|_| BundleError::Malformed("content key has the wrong length"))?;
                return Ok(Key32::from_bytes(Zeroizing::new(bytes)));
            }
            let Some(e) = h.entries.iter().find(|e| e.user == user_id) else {
                return Err(BundleError::NotForYou(user_name.clone()));
            };
            let grant = GrantRow {
                user_id,
                key_id: bundle_key_label(&h.bundle_id),
                eph_pk: e.eph_pk.to_vec(),
                nonce: e.nonce.to_vec(),
                ct: e.ct.clone(),
            };
            grant
                .open(&pid, &u.secrets)
                .map_err(|_| BundleError::Unauthentic)
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
        let mut bundle_members: Vec<(MemberRow, Zeroizing<String>)> = Vec::new();
        let mut bundle_tips: HashMap<(Id, Vec<u8>), TipRow> = HashMap::new();
        let mut members: Option<Members> = None;
        let mut new_members = Vec::new();
        let mut last_kind = Kind::Manifest;
        let (mut seen_events, mut already) = (0u64, 0u64);
        let mut new_events: BTreeMap<Id, u64> = BTreeMap::new();
        let mut end_sig: Option<Vec<u8>> = None;

        let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Vec<SigJob>>(2);
        let verifier = std::thread::Builder::new()
            .name("bundle-verify".into())
            .spawn(move || {
                let mut bad = None;
                for batch in jobs_rx {
                    if bad.is_none() {
                        bad = check_batch(&batch);
                    }
                }
                bad
            })
            .map_err(|e| ProjectError::Format(format!("cannot start a thread: {e}")))?;
        let mut batch: Vec<SigJob> = Vec::with_capacity(SIGNATURE_BATCH);

        let result = (|| -> Result<(), ProjectError> {
            while let Some(rec) = reader.next_record()? {
                if (rec.kind as u8) < (last_kind as u8) || rec.kind == Kind::Manifest {
                    return Err(BundleError::Malformed("records out of order").into());
                }
                last_kind = rec.kind;
                if rec.kind != Kind::Member && members.is_none() {
                    let (m, added) = merge_members(&tx, &pid, &u.keys.sealer, &bundle_members)?;
                    members = Some(m);
                    new_members = added;
                    bundle_members.clear();
                }
                match rec.kind {
                    Kind::Manifest => {}
                    Kind::Member => {
                        if bundle_members.len() as u32 >= manifest.members {
                            return Err(
                                BundleError::Malformed("more members than announced").into()
                            );
                        }
                        bundle_members.push(decode_member(&rec.body)?);
                    }
                    Kind::Tip => {
                        if bundle_tips.len() as u32 >= manifest.tips {
                            return Err(BundleError::Malformed("more tips than announced").into());
                        }
                        let t = decode_tip(&rec.body)?;
                        bundle_tips.insert((t.author_id, t.event_hash.clone()), t);
                    }
                    Kind::Event => {
                        seen_events += 1;
                        if seen_events > manifest.events {
                            return Err(BundleError::Malformed("more events than announced").into());
                        }
                        let m = members
                            .as_ref()
                            .ok_or(BundleError::Malformed("no membership"))?;
                        let (ev, blob) = decode_event(&rec.body)?;
                        match import_event(&tx, &pid, &*u, m, &ev, blob)? {
                            None => already += 1,
                            Some(job) => {
                                *new_events.entry(ev.author_id).or_default() += 1;
                                batch.push(job);
                                if batch.len() >= SIGNATURE_BATCH {
                                    let full = std::mem::replace(
                                        &mut batch,
                                        Vec::with_capacity(SIGNATURE_BATCH),
                                    );
                                    jobs_tx.send(full).map_err(|_| {
                                        ProjectError::Format("signature thread stopped".into())
                                    })?;
                                }
                            }
                        }
                        if seen_events.is_multiple_of(1024) {
                            progress(seen_events, manifest.events);
                        }
                    }
                    Kind::End => end_sig = Some(rec.body.to_vec()),
                }
            }
            Ok(())
        })();
        if !batch.is_empty() {
            let _ = jobs_tx.send(std::mem::take(&mut batch));
        }
        drop(jobs_tx);
        let bad_signature = verifier
            .join()
            .map_err(|_| ProjectError::Format("signature thread failed".into()))?;
        result?;
        let members = members.ok_or(BundleError::Truncated)?;
        let name = |id: &Id| {
            members
                .get(id)
                .map_or_else(|| format!("user {}", id.short()), |m| m.name.clone())
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
        let remat =
            cache::rematerialize(&tx, &pid, &u.keys, before_rowid).map_err(|e| match e {
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

/// Checks one bundle event against this copy and inserts it; `None` when already here.
fn import_event(
    tx: &rusqlite::Transaction<'_>,
    pid: &Id,
    u: &crate::project::session::Unlocked,
    members: &Members,
    ev: &EventRow,
    blob: &[u8],
) -> Result<Option<SigJob>, ProjectError> {
    let who = |reason: &str| {
        let n = members.get(&ev.author_id).map_or_else(
            || format!("user {}", ev.author_id.short()),
            |m| m.name.clone(),
        );
        refused(format!("event {n} #{}: {reason}", ev.seq))
    };
    let existing: Option<Vec<u8>> = tx
        .prepare_cached("SELECT event_hash FROM events WHERE event_id = ?1")?
        .query_row([ev.event_id], |r| r.get(0))
        .optional()?;
    if let Some(h) = existing {
        return if h == ev.event_hash {
            Ok(None)
        } else {
            Err(who("differs from the copy of the same event here"))
        };
    }
    let Some(m) = members.get(&ev.author_id) else {
        return Err(who("author is not a member"));
    };
    let hash = ev.compute_hash(pid);
    if hash.as_slice() != ev.event_hash.as_slice() {
        return Err(who("event hash does not match its contents"));
    }
    if events::commitment(blob).as_slice() != ev.commitment.as_slice() {
        return Err(who("payload does not match the signed commitment"));
    }
    let payload = events::decode_payload(blob).ok_or_else(|| who("payload is not a valid edit"))?;
    if payload.op_name() != ev.op || payload.edit.target() != ev.target {
        return Err(who(
            "clear operation or target differs from the signed payload",
        ));
    }
    let sig = Signature::from_slice(&ev.signature).map_err(|_| who("malformed signature"))?;
    let prev_hlc = if ev.seq == 1 {
        if ev.prev_hash.len() != 32 || ev.prev_hash.iter().any(|b| *b != 0) {
            return Err(who("previous-hash link broken"));
        }
        i64::MIN
    } else {
        tx.prepare_cached(
            "SELECT hlc FROM events WHERE author_id = ?1 AND seq = ?2 AND event_hash = ?3",
        )?
        .query_row(params![ev.author_id, ev.seq - 1, ev.prev_hash], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| who("previous event missing (previous-hash link broken)"))?
    };
    if ev.hlc <= prev_hlc {
        return Err(who("clock goes backwards"));
    }
    let parents = ev
        .parent_ids()
        .ok_or_else(|| who("malformed parent list"))?;
    for p in &parents {
        let hlc: Option<i64> = tx
            .prepare_cached("SELECT hlc FROM events WHERE event_id = ?1")?
            .query_row([p], |r| r.get(0))
            .optional()?;
        match hlc {
            None => return Err(who("names a parent that is neither here nor in the bundle")),
            Some(h) if h >= ev.hlc => return Err(who("is not newer than its parent")),
            Some(_) => {}
        }
        tx.prepare_cached("DELETE FROM heads WHERE event_id = ?1")?
            .execute([p])?;
    }
    events::insert_event(tx, ev)?;
    let key_id = u.keys.sealer.key_id().to_owned();
    let chunks = u.keys.sealer.seal_chunked(
        &events::payload_aad(pid, &ev.event_id, &ev.author_id, &key_id),
        blob,
    )?;
    events::insert_payload_chunks(tx, &ev.event_id, &key_id, &chunks)?;
    tx.prepare_cached("INSERT OR IGNORE INTO heads (event_id) VALUES (?1)")?
        .execute([ev.event_id])?;
    Ok(Some(SigJob {
        msg: events::signature_message(&hash),
        sig,
        pk: m.sign_pk,
        author: ev.author_id,
        seq: ev.seq,
    }))
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
    for (m, name) in incoming {
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
