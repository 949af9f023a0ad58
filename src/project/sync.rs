//! Sync by export bundles: [`Session::export_bundle`], [`Session::import_preview`] /
//! [`Session::import_commit`], and the conflict list.
//!
//! Owns what goes into a bundle (manifest, membership records, signed tips, events with
//! their payloads) and the import rules: every event's hash, signature, chain link,
//! parents and payload commitment are checked against the merged membership, the
//! exporter's signature covers the whole content, and everything is applied in one
//! transaction (a preview is the same transaction rolled back). The byte format is in
//! `bundle.rs`, the merge rules in `merge.rs`. Plaintext exists only inside the
//! encrypted stream and in memory; the bundle is written to a temp file in the target's
//! folder, synced, renamed, and read back before success is reported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use rayon::prelude::*;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use zeroize::Zeroizing;

use super::audit::{self, Action, Actor, Entry, Outcome};
use super::bundle::{
    BundleError, BundleReader, BundleWriter, Cursor, Header, KeyEntry, Kind, Wire,
};
use super::cache;
use super::crypto::{Aad, Canon, Key32};
use super::events::{self, EventRow, TipRow};
use super::id::{Id, hex};
use super::keys::GrantRow;
use super::members::{self, MemberRow, Members};
use super::merge::Field;
use super::session::Session;
use super::{ProjectError, load_members, now_ms};

/// Limits on counts a manifest may announce (memory stays bounded whatever it says).
const MAX_MEMBERS: u32 = 65_536;
const MAX_TIPS: u32 = 65_536;
const MAX_IDS: u32 = 65_536;
/// Signatures are checked in batches of this many, on a separate thread.
const SIGNATURE_BATCH: usize = 2048;

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub events: u64,
    pub members: usize,
    pub bytes: u64,
    /// The exporter's heads: a receiver that imported this bundle can be sent later
    /// bundles `--since` these.
    pub heads: Vec<Id>,
}

/// One side of a conflict.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictVersion {
    pub author: String,
    pub event: Id,
    pub value: String,
}

/// A disagreement on one field of one annotation.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictItem {
    pub annotation: Id,
    /// The shown label of the annotation.
    pub label: String,
    pub field: Field,
    pub versions: Vec<ConflictVersion>,
}

impl ConflictItem {
    /// "annotation 1a2b3c4d (lesion), label: alice: Lesion / bob: Normal".
    pub fn line(&self) -> String {
        let sides: Vec<String> = self
            .versions
            .iter()
            .map(|v| format!("{}: {}", v.author, v.value))
            .collect();
        let what = match self.field {
            Field::Geometry => format!("{} versions of the geometry", self.versions.len()),
            f => f.as_str().to_owned(),
        };
        let noun = match self.field {
            Field::Class => "label class",
            Field::Segmentation | Field::Segment | Field::LabelMap => "segmentation",
            _ => "annotation",
        };
        format!(
            "{noun} {} ({}), {what}: {}",
            self.annotation.short(),
            self.label,
            sides.join(" / ")
        )
    }
}

/// What an import changes (or would change, for a preview).
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub exporter: String,
    pub bundle_events: u64,
    pub already_present: u64,
    /// New events per author name.
    pub new_events: BTreeMap<String, u64>,
    pub new_members: Vec<String>,
    pub new_conflicts: Vec<ConflictItem>,
    /// Heads after the import.
    pub heads: Vec<Id>,
    pub committed: bool,
}

impl ImportSummary {
    pub fn new_event_count(&self) -> u64 {
        self.new_events.values().sum()
    }
}

/// Import mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Check everything and report; change nothing.
    Preview,
    Commit,
}

fn refused(msg: String) -> ProjectError {
    ProjectError::Bundle(BundleError::Refused(msg))
}

fn bundle_key_label(bundle: &Id) -> String {
    format!("bundle:{}", hex(bundle.as_bytes()))
}

fn data_key_aad<'a>(project: &'a Id, bundle: &'a Id, key_id: &'a str) -> Aad<'a> {
    Aad {
        project,
        table: "bundles",
        column: "content_key",
        row: bundle,
        event: &Id::NIL,
        key_id,
        author: &Id::NIL,
    }
}

fn end_message(project: &Id, header_hash: &[u8; 32], content: &[u8; 32]) -> Vec<u8> {
    Canon::new("tessera-bundle")
        .id(project)
        .bytes(header_hash)
        .bytes(content)
        .finish()
}

/// The manifest record.
struct Manifest {
    exporter: Id,
    created_ms: i64,
    events: u64,
    members: u32,
    tips: u32,
    heads: Vec<Id>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut w = Wire::default();
        w.id(&self.exporter)
            .i64(self.created_ms)
            .i64(self.events as i64)
            .u32(self.members)
            .u32(self.tips)
            .u32(self.heads.len() as u32);
        for h in &self.heads {
            w.id(h);
        }
        w.0
    }

    fn decode(b: &[u8]) -> Result<Manifest, BundleError> {
        let mut r = Cursor::new(b);
        let exporter = r.id()?;
        let created_ms = r.i64()?;
        let events =
            u64::try_from(r.i64()?).map_err(|_| BundleError::Malformed("negative count"))?;
        let members = r.u32()?;
        let tips = r.u32()?;
        let n = r.u32()?;
        if members > MAX_MEMBERS || tips > MAX_TIPS || n > MAX_IDS {
            return Err(BundleError::Malformed("manifest counts out of range"));
        }
        let heads = (0..n).map(|_| r.id()).collect::<Result<_, _>>()?;
        r.end()?;
        Ok(Manifest {
            exporter,
            created_ms,
            events,
            members,
            tips,
            heads,
        })
    }
}

fn encode_member(m: &MemberRow, name: &str) -> Vec<u8> {
    let mut w = Wire::default();
    w.id(&m.record_id)
        .id(&m.user_id)
        .str(&m.action)
        .str(&m.role)
        .bytes(&m.sign_pk)
        .bytes(&m.box_pk)
        .str(name)
        .id(&m.signer_id)
        .i64(m.time_ms)
        .bytes(&m.signature);
    w.0
}

fn decode_member(b: &[u8]) -> Result<(MemberRow, Zeroizing<String>), BundleError> {
    let mut r = Cursor::new(b);
    let mut m = MemberRow {
        record_id: r.id()?,
        user_id: r.id()?,
        action: r.str()?,
        role: r.str()?,
        sign_pk: r.bytes()?.to_vec(),
        box_pk: r.bytes()?.to_vec(),
        key_id: String::new(),
        name_nonce: Vec::new(),
        name_ct: Vec::new(),
        signer_id: Id::NIL,
        time_ms: 0,
        signature: Vec::new(),
    };
    let name = Zeroizing::new(r.str()?);
    m.signer_id = r.id()?;
    m.time_ms = r.i64()?;
    m.signature = r.bytes()?.to_vec();
    r.end()?;
    Ok((m, name))
}

fn encode_tip(t: &TipRow) -> Vec<u8> {
    let mut w = Wire::default();
    w.id(&t.author_id)
        .i64(t.seq)
        .bytes(&t.event_hash)
        .bytes(&t.signature);
    w.0
}

fn decode_tip(b: &[u8]) -> Result<TipRow, BundleError> {
    let mut r = Cursor::new(b);
    let t = TipRow {
        author_id: r.id()?,
        seq: r.i64()?,
        event_hash: r.bytes()?.to_vec(),
        signature: r.bytes()?.to_vec(),
    };
    r.end()?;
    Ok(t)
}

fn encode_event(w: &mut Wire, e: &EventRow, blob: &[u8]) {
    w.0.clear();
    w.id(&e.event_id)
        .id(&e.author_id)
        .i64(e.seq)
        .bytes(&e.prev_hash)
        .bytes(&e.parents)
        .i64(e.hlc)
        .str(&e.op)
        .id(&e.target)
        .bytes(&e.commitment)
        .bytes(&e.event_hash)
        .bytes(&e.signature)
        .bytes(blob);
}

fn decode_event(b: &[u8]) -> Result<(EventRow, &[u8]), BundleError> {
    let mut r = Cursor::new(b);
    let e = EventRow {
        event_id: r.id()?,
        author_id: r.id()?,
        seq: r.i64()?,
        prev_hash: r.bytes()?.to_vec(),
        parents: r.bytes()?.to_vec(),
        hlc: r.i64()?,
        op: r.str()?,
        target: r.id()?,
        commitment: r.bytes()?.to_vec(),
        event_hash: r.bytes()?.to_vec(),
        signature: r.bytes()?.to_vec(),
    };
    let blob = r.bytes()?;
    r.end()?;
    Ok((e, blob))
}

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
    /// The project's current heads (events no other event names as parent).
    pub fn heads(&mut self) -> Result<Vec<Id>, ProjectError> {
        let (project, _) = self.parts()?;
        let mut heads: Vec<Id> = project
            .conn
            .prepare("SELECT event_id FROM heads")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        heads.sort();
        Ok(heads)
    }

    /// Writes a bundle of every event the holder of `since` may lack (everything when
    /// empty), with membership and tips; `progress(done, total)` is called as events
    /// are written. Atomic: temp file, fsync, rename, fsync of the folder; read back and
    /// checked before returning.
    pub fn export_bundle(
        &mut self,
        out: &Path,
        since: &[Id],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ExportSummary, ProjectError> {
        let members = self.members()?;
        let user_id = self.user_id;
        let heads = self.heads()?;
        let (project, u) = self.parts()?;
        let pid = project.project_id;
        let conn = &project.conn;
        let member_rows = load_members(conn)?;
        let tips: Vec<TipRow> = conn
            .prepare("SELECT author_id, seq, event_hash, signature FROM tips ORDER BY author_id, seq, event_hash")?
            .query_map([], |r| {
                Ok(TipRow {
                    author_id: r.get(0)?,
                    seq: r.get(1)?,
                    event_hash: r.get(2)?,
                    signature: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let excluded = ancestors_of(conn, since)?;
        let all: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        let total = (all.max(0) as u64).saturating_sub(excluded.len() as u64);

        let content_key = Key32::random()?;
        let bundle_id = Id::random()?;
        let key_id = u.keys.sealer.key_id().to_owned();
        let dk = u.keys.sealer.seal(
            &data_key_aad(&pid, &bundle_id, &key_id),
            content_key.expose(),
        )?;
        let mut entries = vec![KeyEntry {
            user: Id::NIL,
            eph_pk: [0; 32],
            nonce: dk.nonce.as_slice().try_into().unwrap_or([0; 12]),
            ct: dk.ct,
        }];
        let label = bundle_key_label(&bundle_id);
        for m in members.values().filter(|m| m.active) {
            let g = GrantRow::seal(&pid, m.user_id, &label, &m.box_pk, &content_key)
                .map_err(super::slot_err(&m.name))?;
            entries.push(KeyEntry {
                user: m.user_id,
                eph_pk: g.eph_pk.as_slice().try_into().unwrap_or([0; 32]),
                nonce: g.nonce.as_slice().try_into().unwrap_or([0; 12]),
                ct: g.ct,
            });
        }
        let header = Header {
            project_id: pid,
            bundle_id,
            data_key_id: key_id,
            entries,
        };

        let tmp = temp_path(out)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("cannot create the bundle", &tmp))?;
        let written = (|| -> Result<(), ProjectError> {
            let mut w = BundleWriter::new(
                BufWriter::with_capacity(1 << 18, file),
                &header,
                &content_key,
            )?;
            let manifest = Manifest {
                exporter: user_id,
                created_ms: now_ms(),
                events: total,
                members: member_rows.len() as u32,
                tips: tips.len() as u32,
                heads: heads.clone(),
            };
            w.record(Kind::Manifest, &manifest.encode())?;
            for m in &member_rows {
                let name = Zeroizing::new(m.name(&pid, &u.keys.sealer)?);
                w.record(Kind::Member, &encode_member(m, &name))?;
            }
            for t in &tips {
                w.record(Kind::Tip, &encode_tip(t))?;
            }
            let mut stmt = conn.prepare(&format!(
                "SELECT {}, p.chunk, p.key_id, p.nonce, p.ct FROM events e INDEXED BY events_by_hlc
                 JOIN event_payloads p ON p.event_id = e.event_id ORDER BY e.hlc, e.event_id, p.chunk",
                prefixed_event_columns()
            ))?;
            let mut rows = stmt.query([])?;
            let mut pending: Option<(EventRow, Vec<events::PayloadRow>)> = None;
            let mut wire = Wire::default();
            let mut done = 0u64;
            let mut emit = |ev: EventRow,
                            chunks: Vec<events::PayloadRow>,
                            w: &mut BundleWriter<_>|
             -> Result<(), ProjectError> {
                if excluded.contains(&ev.event_id) {
                    return Ok(());
                }
                let blob = events::open_payload(&pid, &u.keys.sealer, &ev, &chunks)
                    .map_err(|e| ProjectError::Format(e.into()))?;
                encode_event(&mut wire, &ev, &blob);
                w.record(Kind::Event, &wire.0)?;
                wire.0.iter_mut().for_each(|b| *b = 0);
                done += 1;
                if done.is_multiple_of(1024) || done == total {
                    progress(done, total);
                }
                Ok(())
            };
            while let Some(r) = rows.next()? {
                let ev = events::event_row(r)?;
                let chunk = events::PayloadRow {
                    event_id: ev.event_id,
                    chunk: r.get(11)?,
                    key_id: r.get(12)?,
                    nonce: r.get(13)?,
                    ct: r.get(14)?,
                };
                match &mut pending {
                    Some((p, chunks)) if p.event_id == ev.event_id => chunks.push(chunk),
                    _ => {
                        if let Some((p, chunks)) = pending.replace((ev, vec![chunk])) {
                            emit(p, chunks, &mut w)?;
                        }
                    }
                }
            }
            if let Some((p, chunks)) = pending.take() {
                emit(p, chunks, &mut w)?;
            }
            let msg = end_message(&pid, &w.header_hash(), &w.content_digest());
            let sig = u.secrets.signing.sign(&msg).to_bytes();
            let buf = w.finish(&sig)?;
            let file = buf
                .into_inner()
                .map_err(|e| ProjectError::Bundle(BundleError::Io(e.into_error())))?;
            file.sync_all()
                .map_err(io_err("cannot sync the bundle", &tmp))?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&tmp, out) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err("cannot move the bundle into place", out)(e));
        }
        sync_dir(out)?;

        // Read back: every chunk authenticates, the counts match, the signature holds.
        let signer = u.secrets.signing.verifying_key();
        let file = File::open(out).map_err(io_err("cannot read the bundle back", out))?;
        let mut r = BundleReader::open(BufReader::with_capacity(1 << 18, file), |_| {
            Ok(content_key.clone())
        })?;
        let mut n = 0u64;
        while let Some(rec) = r.next_record()? {
            match rec.kind {
                Kind::Event => n += 1,
                Kind::End => {
                    let digest = r.content_digest().unwrap_or_default();
                    let sig = Signature::from_slice(&rec.body)
                        .map_err(|_| BundleError::Malformed("bad signature"))?;
                    if signer
                        .verify(&end_message(&pid, &r.header_hash(), &digest), &sig)
                        .is_err()
                    {
                        return Err(refused(
                            "read back: the exporter's signature does not verify".into(),
                        ));
                    }
                }
                _ => {}
            }
        }
        if n != total {
            return Err(refused(format!("read back {n} events, wrote {total}")));
        }
        let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        let file_name = out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.record(Action::SyncExport, Outcome::Success, Some(&file_name))?;
        Ok(ExportSummary {
            events: total,
            members: member_rows.len(),
            bytes,
            heads,
        })
    }

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
            rotated = Some(super::session::rotate(&tx, &pid, &u.keys)?);
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
            members
                .get(id)
                .map_or_else(|| format!("user {}", id.short()), |m| m.name.clone())
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
            .ok_or(super::model::ApplyError::Missing(annotation))?;
        let regs = events::open_cache_row(&project.project_id, &u.keys.sealer, &row)?;
        if regs.kind() != super::model::ObjectKind::Annotation {
            return self.resolve_object_conflict(&regs, keep);
        }
        let conflicts = regs.conflicts();
        let shown = regs
            .display()
            .ok_or(super::model::ApplyError::Missing(annotation))?;
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
            return self.commit_edit(super::model::Edit::Delete { annotation: shown });
        }
        fn pick<T: Clone>(versions: &[super::merge::Version<T>], keep: Id) -> Option<T> {
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
        let mut payload = super::model::EventPayload::new(super::model::Edit::Update {
            before: shown,
            after,
        });
        payload.resolves = conflicts.iter().map(|c| c.field).collect();
        let ids = self.commit_payloads(&[payload])?;
        ids.into_iter()
            .next()
            .ok_or_else(|| ProjectError::Format("no event written".into()))
    }

    /// Writes a consistent copy of the whole project file to `out` (SQLite's `VACUUM
    /// INTO`: a snapshot that includes committed WAL content, never a raw file copy), for
    /// sending to a member who keeps working on it as a sibling that syncs by bundles.
    pub fn save_copy(&mut self, out: &Path) -> Result<(), ProjectError> {
        if out.exists() {
            return Err(ProjectError::Exists(out.to_owned()));
        }
        let (project, _) = self.parts()?;
        let target = out
            .to_str()
            .ok_or_else(|| ProjectError::Format("the copy's path is not UTF-8".into()))?;
        project.conn.execute("VACUUM INTO ?1", [target])?;
        File::open(out)
            .and_then(|f| f.sync_all())
            .map_err(io_err("cannot sync the copy", out))?;
        sync_dir(out)
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

/// Fuzzing entry point (the `cargo fuzz` target and the stable randomized loop): parses
/// `data` as a bundle under a fixed key, and as the plaintext of one, decoding every
/// record body. Must return, never panic, whatever `data` holds.
#[doc(hidden)]
pub fn fuzz_bundle(data: &[u8]) {
    let key = Key32::from_bytes(Zeroizing::new([7u8; 32]));
    let parse = |bytes: &[u8]| -> Result<usize, BundleError> {
        let mut r = BundleReader::open(bytes, |_| Ok(key.clone()))?;
        let mut n = 0;
        while let Some(rec) = r.next_record()? {
            n += 1;
            match rec.kind {
                Kind::Manifest => drop(Manifest::decode(&rec.body)?),
                Kind::Member => drop(decode_member(&rec.body)?),
                Kind::Tip => drop(decode_tip(&rec.body)?),
                Kind::Event => {
                    let (ev, blob) = decode_event(&rec.body)?;
                    let _ = ev.parent_ids();
                    let _ = events::decode_payload(blob);
                }
                Kind::End => {}
            }
        }
        Ok(n)
    };
    let _ = parse(data);
    if let Ok(sealed) = super::bundle::seal_raw_for_fuzzing(data, &key) {
        let _ = parse(&sealed);
    }
}

fn prefixed_event_columns() -> String {
    events::EVENT_COLUMNS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Event ids that are `since` or their ancestors (those this copy knows).
fn ancestors_of(conn: &rusqlite::Connection, since: &[Id]) -> Result<HashSet<Id>, ProjectError> {
    let mut out = HashSet::new();
    if since.is_empty() {
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached("SELECT parents FROM events WHERE event_id = ?1")?;
    let mut stack: Vec<Id> = since.to_vec();
    while let Some(id) = stack.pop() {
        if out.contains(&id) {
            continue;
        }
        let parents: Option<Vec<u8>> = stmt.query_row([id], |r| r.get(0)).optional()?;
        let Some(parents) = parents else { continue };
        out.insert(id);
        stack.extend(parents.chunks(16).filter_map(Id::from_slice));
    }
    Ok(out)
}

/// Checks one bundle event against this copy and inserts it; `None` when already here.
fn import_event(
    tx: &rusqlite::Transaction<'_>,
    pid: &Id,
    u: &super::session::Unlocked,
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
    sealer: &super::crypto::Sealer,
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
        super::insert_member(tx, &row)?;
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

/// Names the authors of each conflicting version.
fn describe_conflicts(
    conn: &rusqlite::Connection,
    name: &dyn Fn(&Id) -> String,
    found: Vec<(Id, String, Vec<super::merge::FieldConflict>)>,
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

fn io_err<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl Fn(std::io::Error) -> ProjectError + 'a {
    move |source| ProjectError::Io {
        context,
        source,
        path: path.to_owned(),
    }
}

/// A fresh temp file name in the target's folder.
fn temp_path(out: &Path) -> Result<std::path::PathBuf, ProjectError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    Ok(out.with_file_name(format!(".{name}.tmp-{}", Id::random()?.short())))
}

/// Syncs the folder holding `path` so the rename is durable.
fn sync_dir(path: &Path) -> Result<(), ProjectError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync the bundle's folder", dir))
}
