//! The audit log: who accessed what, chained and signed like the history.
//!
//! Owns the `audit` table. Each member writes their own chain (per-actor sequence
//! numbers, previous-hash links, Ed25519 signatures); failed unlocks, which have no key to
//! sign with, go to an unsigned chain that the next signed entry witnesses (commits to its
//! head hash), so deleting failed attempts is evident. Objects (which study was viewed,
//! which file was exported) are encrypted. Never deletes rows; UPDATE happens only when a
//! data-key rotation re-encrypts objects.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use zeroize::Zeroizing;

use super::crypto::{Aad, Canon, Sealer, random_bytes, sha256};
use super::error::ProjectError;
use super::events::DataKeys;
use super::id::Id;
use super::members::Members;
use super::verify::{Area, Failure};

/// What happened. The string forms are stored in clear (they carry no patient data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ProjectCreate,
    ProjectOpen,
    UnlockSuccess,
    UnlockFailure,
    ImageView,
    LabelsImport,
    LabelsExport,
    UserAdd,
    UserRemove,
    PassphraseChange,
    KeyRotate,
    VerifyRun,
    SyncExport,
    SyncImport,
    ConflictResolve,
    /// A member's roles changed.
    RoleChange,
    /// A case-workflow action (assign, submit, review, escalate, adjudicate, comment,
    /// policy); the object says which.
    CaseAction,
    /// An action the user's role or the case's state does not allow (refused).
    AccessDenied,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ProjectCreate => "project.create",
            Action::ProjectOpen => "project.open",
            Action::UnlockSuccess => "unlock.success",
            Action::UnlockFailure => "unlock.failure",
            Action::ImageView => "image.view",
            Action::LabelsImport => "labels.import",
            Action::LabelsExport => "labels.export",
            Action::UserAdd => "user.add",
            Action::UserRemove => "user.remove",
            Action::PassphraseChange => "user.passwd",
            Action::KeyRotate => "key.rotate",
            Action::VerifyRun => "verify.run",
            Action::SyncExport => "sync.export",
            Action::SyncImport => "sync.import",
            Action::ConflictResolve => "conflict.resolve",
            Action::RoleChange => "user.roles",
            Action::CaseAction => "case.action",
            Action::AccessDenied => "access.denied",
        }
    }

    /// DICOM/IHE ATNA EventActionCode: C(reate), R(ead), U(pdate), D(elete), E(xecute).
    pub fn atna_action_code(action: &str) -> &'static str {
        match action {
            "project.create" | "labels.import" | "user.add" | "sync.import" => "C",
            "image.view" | "labels.export" | "project.open" | "sync.export" => "R",
            "conflict.resolve" => "U",
            "user.passwd" | "key.rotate" | "user.roles" | "case.action" => "U",
            "user.remove" => "D",
            _ => "E",
        }
    }
}

/// ATNA EventOutcomeIndicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success = 0,
    MinorFailure = 4,
    SeriousFailure = 8,
}

/// One row of `audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub entry_id: Id,
    /// The actor's user id; [`Id::NIL`] for the unsigned chain.
    pub chain: Id,
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    pub time_ms: i64,
    pub action: String,
    pub outcome: i64,
    /// A user id the entry is about (e.g. whose unlock failed); random, so in clear.
    pub subject: Option<Id>,
    pub key_id: Option<String>,
    pub obj_nonce: Option<Vec<u8>>,
    pub obj_ct: Option<Vec<u8>>,
    pub obj_commit: Option<Vec<u8>>,
    /// Head hash of the unsigned chain when this entry was written.
    pub witness: Vec<u8>,
    pub entry_hash: Vec<u8>,
    pub signature: Option<Vec<u8>>,
}

impl AuditRow {
    pub fn compute_hash(&self, project: &Id) -> [u8; 32] {
        Canon::new("tessera-audit")
            .id(project)
            .id(&self.entry_id)
            .id(&self.chain)
            .i64(self.seq)
            .bytes(&self.prev_hash)
            .i64(self.time_ms)
            .str(&self.action)
            .i64(self.outcome)
            .id(&self.subject.unwrap_or(Id::NIL))
            .bytes(self.obj_commit.as_deref().unwrap_or_default())
            .bytes(&self.witness)
            .sha256()
    }

    /// Re-encrypts the object under `sealer` (data-key rotation).
    pub fn reseal_object(
        &mut self,
        project: &Id,
        old: &Sealer,
        new: &Sealer,
    ) -> Result<(), ProjectError> {
        let (Some(nonce), Some(ct), Some(key_id)) = (&self.obj_nonce, &self.obj_ct, &self.key_id)
        else {
            return Ok(());
        };
        let blob = old.open(
            &object_aad(project, &self.entry_id, &self.chain, key_id),
            nonce,
            ct,
        )?;
        let key_id = new.key_id().to_owned();
        let s = new.seal(
            &object_aad(project, &self.entry_id, &self.chain, &key_id),
            &blob,
        )?;
        self.key_id = Some(key_id);
        self.obj_nonce = Some(s.nonce);
        self.obj_ct = Some(s.ct);
        Ok(())
    }

    /// The decrypted object text, checked against the hashed commitment.
    pub fn object(&self, project: &Id, sealer: &Sealer) -> Result<Option<String>, &'static str> {
        match (
            &self.obj_nonce,
            &self.obj_ct,
            &self.key_id,
            &self.obj_commit,
        ) {
            (None, None, None, None) => Ok(None),
            (Some(nonce), Some(ct), Some(key_id), Some(commit)) => {
                let blob = sealer
                    .open(
                        &object_aad(project, &self.entry_id, &self.chain, key_id),
                        nonce,
                        ct,
                    )
                    .map_err(|_| "object ciphertext does not authenticate")?;
                if sha256(&[b"tessera-audit-object", &blob]).as_slice() != commit.as_slice() {
                    return Err("object does not match the hashed commitment");
                }
                let text = blob.get(16..).ok_or("object is truncated")?;
                String::from_utf8(text.to_vec())
                    .map(Some)
                    .map_err(|_| "object is not text")
            }
            _ => Err("object fields are incomplete"),
        }
    }
}

fn object_aad<'a>(project: &'a Id, entry: &'a Id, chain: &'a Id, key_id: &'a str) -> Aad<'a> {
    Aad {
        project,
        table: "audit",
        column: "object",
        row: entry,
        event: &Id::NIL,
        key_id,
        author: chain,
    }
}

fn signature_message(hash: &[u8]) -> Vec<u8> {
    Canon::new("tessera-audit-signature").bytes(hash).finish()
}

/// Who writes a signed entry.
pub struct Actor<'a> {
    pub id: Id,
    pub signing: &'a SigningKey,
    pub keys: &'a DataKeys,
}

/// One entry to append.
pub struct Entry<'a> {
    pub action: Action,
    pub outcome: Outcome,
    pub subject: Option<Id>,
    /// Free text (may name a study or file): encrypted; needs an actor.
    pub object: Option<&'a str>,
}

/// Appends `entry` to the actor's chain (or the unsigned chain when `actor` is `None`).
pub fn append(
    tx: &Transaction<'_>,
    project: &Id,
    actor: Option<&Actor<'_>>,
    entry: &Entry<'_>,
    now_ms: i64,
) -> Result<(), ProjectError> {
    let chain = actor.map_or(Id::NIL, |a| a.id);
    let last = |chain: Id| -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
        tx.prepare_cached(
            "SELECT seq, entry_hash FROM audit WHERE chain = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([chain], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
    };
    let (seq, prev_hash) = last(chain)?.map_or((1, vec![0; 32]), |(s, h)| (s + 1, h));
    let witness = last(Id::NIL)?.map_or(vec![0; 32], |(_, h)| h);
    let entry_id = Id::random()?;
    let mut row = AuditRow {
        entry_id,
        chain,
        seq,
        prev_hash,
        time_ms: now_ms,
        action: entry.action.as_str().to_owned(),
        outcome: entry.outcome as i64,
        subject: entry.subject,
        key_id: None,
        obj_nonce: None,
        obj_ct: None,
        obj_commit: None,
        witness,
        entry_hash: Vec::new(),
        signature: None,
    };
    if let (Some(text), Some(a)) = (entry.object, actor) {
        let mut blob = Zeroizing::new(random_bytes::<16>()?.to_vec());
        blob.extend_from_slice(text.as_bytes());
        let key_id = a.keys.sealer.key_id().to_owned();
        let s = a
            .keys
            .sealer
            .seal(&object_aad(project, &entry_id, &chain, &key_id), &blob)?;
        row.obj_commit = Some(sha256(&[b"tessera-audit-object", &blob]).to_vec());
        row.key_id = Some(key_id);
        row.obj_nonce = Some(s.nonce);
        row.obj_ct = Some(s.ct);
    }
    let hash = row.compute_hash(project);
    row.entry_hash = hash.to_vec();
    row.signature = actor.map(|a| {
        a.signing
            .sign(&signature_message(&hash))
            .to_bytes()
            .to_vec()
    });
    insert(tx, &row)?;
    Ok(())
}

pub fn insert(tx: &Transaction<'_>, r: &AuditRow) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit (entry_id, chain, seq, prev_hash, time_ms, action, outcome, subject, key_id, obj_nonce, obj_ct, obj_commit, witness, entry_hash, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        r.entry_id, r.chain, r.seq, r.prev_hash, r.time_ms, r.action, r.outcome, r.subject, r.key_id, r.obj_nonce, r.obj_ct, r.obj_commit,
        r.witness, r.entry_hash, r.signature
    ])?;
    Ok(())
}

pub const COLUMNS: &str = "entry_id, chain, seq, prev_hash, time_ms, action, outcome, subject, key_id, obj_nonce, obj_ct, obj_commit, witness, entry_hash, signature";

pub fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        entry_id: r.get(0)?,
        chain: r.get(1)?,
        seq: r.get(2)?,
        prev_hash: r.get(3)?,
        time_ms: r.get(4)?,
        action: r.get(5)?,
        outcome: r.get(6)?,
        subject: r.get(7)?,
        key_id: r.get(8)?,
        obj_nonce: r.get(9)?,
        obj_ct: r.get(10)?,
        obj_commit: r.get(11)?,
        witness: r.get(12)?,
        entry_hash: r.get(13)?,
        signature: r.get(14)?,
    })
}

fn chain_name(members: &Members, chain: &Id) -> String {
    if *chain == Id::NIL {
        return "unauthenticated".into();
    }
    super::members::display_name(members.get(chain).map(|m| m.name.as_str()), chain)
}

/// Checks every chain: sequence, links, hashes, signatures, objects and witnesses.
pub fn verify(
    project: &Id,
    rows: &[AuditRow],
    members: &Members,
    sealer: &Sealer,
) -> Result<usize, Failure> {
    let mut chains: BTreeMap<Id, Vec<&AuditRow>> = BTreeMap::new();
    for r in rows {
        chains.entry(r.chain).or_default().push(r);
    }
    let unsigned: BTreeSet<&[u8]> = chains.get(&Id::NIL).map_or_else(BTreeSet::new, |c| {
        c.iter().map(|r| r.entry_hash.as_slice()).collect()
    });
    for (chain, entries) in &mut chains {
        entries.sort_by_key(|r| r.seq);
        let who = chain_name(members, chain);
        let fail = |seq: i64, reason: &str| Failure {
            area: Area::Audit,
            author: who.clone(),
            seq: Some(seq),
            reason: reason.to_owned(),
        };
        let mut prev = vec![0u8; 32];
        for (i, r) in entries.iter().enumerate() {
            let expected = i as i64 + 1;
            if r.seq > expected {
                return Err(fail(expected, "entry missing (sequence gap)"));
            }
            if r.seq < expected {
                return Err(fail(r.seq, "duplicate sequence number"));
            }
            let hash = r.compute_hash(project);
            if hash.as_slice() != r.entry_hash.as_slice() {
                return Err(fail(r.seq, "entry hash does not match its contents"));
            }
            if r.prev_hash != prev {
                return Err(fail(r.seq, "previous-hash link broken"));
            }
            if *chain == Id::NIL {
                if r.signature.is_some() || r.obj_ct.is_some() {
                    return Err(fail(
                        r.seq,
                        "unauthenticated entry carries a signature or object",
                    ));
                }
            } else {
                let Some(m) = members.get(chain) else {
                    return Err(fail(r.seq, "actor is not a member"));
                };
                let sig = r
                    .signature
                    .as_deref()
                    .and_then(|s| Signature::from_slice(s).ok());
                if sig.is_none_or(|s| m.sign_pk.verify(&signature_message(&hash), &s).is_err()) {
                    return Err(fail(r.seq, "signature does not verify"));
                }
                r.object(project, sealer).map_err(|e| fail(r.seq, e))?;
            }
            if r.witness != [0u8; 32] && !unsigned.contains(r.witness.as_slice()) {
                return Err(fail(r.seq, "witnessed unauthenticated entries are missing"));
            }
            prev = hash.to_vec();
        }
    }
    Ok(rows.len())
}

/// One entry as a compliance officer reads it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub time_ms: i64,
    pub user: String,
    pub action: String,
    pub outcome: i64,
    pub subject: Option<String>,
    pub object: Option<String>,
}

/// Decrypted entries in time order.
pub fn view(project: &Id, rows: &[AuditRow], members: &Members, sealer: &Sealer) -> Vec<AuditView> {
    let mut out: Vec<AuditView> = rows
        .iter()
        .map(|r| AuditView {
            time_ms: r.time_ms,
            user: chain_name(members, &r.chain),
            action: r.action.clone(),
            outcome: r.outcome,
            subject: r.subject.map(|s| chain_name(members, &s)),
            object: r
                .object(project, sealer)
                .unwrap_or_else(|e| Some(format!("<{e}>"))),
        })
        .collect();
    out.sort_by_key(|v| v.time_ms);
    out
}
