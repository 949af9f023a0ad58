//! The history: append-only signed events, and the annotation cache they rebuild.
//!
//! Owns the `events`, `event_payloads`, `tips`, `heads` and `annotations` tables: the
//! canonical event encoding and hash, signing, payload sealing, and [`append`], which
//! writes one edit (event, payload, tip, heads, cache) inside the caller's transaction.
//! Never issues UPDATE or DELETE on `events`. Verification lives in `verify.rs`.

use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use super::crypto::{Aad, Canon, Key32, Sealed, Sealer, blind_index, random_bytes, sha256};
use super::error::ProjectError;
use super::id::Id;
use super::merge::{self, Registers};
use super::model::{self, EventPayload};

/// The keys derived from the project data key that a session works with.
pub struct DataKeys {
    /// Seals payloads, cache rows, names and audit objects.
    pub sealer: Sealer,
    /// Keys the blind index of image UIDs.
    pub index: Key32,
}

impl DataKeys {
    /// Subkeys of `pdk` (id `key_id`), which has been used `encryptions` times.
    pub fn from_pdk(pdk: &Key32, key_id: &str, encryptions: u64) -> DataKeys {
        DataKeys {
            sealer: Sealer::new(&pdk.derive("seal"), key_id, encryptions),
            index: pdk.derive("blind-index"),
        }
    }

    /// The blind index of an annotation's image.
    pub fn image_index(&self, image: &model::ImageRef) -> Vec<u8> {
        let (kind, value) = image.index_key();
        blind_index(&self.index, kind, value)
    }
}

/// One row of `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub event_id: Id,
    pub author_id: Id,
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    /// Parent event ids, 16 bytes each, in ascending order.
    pub parents: Vec<u8>,
    /// Hybrid logical clock: milliseconds since 1970 << 16 | logical counter.
    pub hlc: i64,
    pub op: String,
    pub target: Id,
    /// SHA-256 over the salted plaintext payload (the ciphertext can be re-encrypted).
    pub commitment: Vec<u8>,
    pub event_hash: Vec<u8>,
    pub signature: Vec<u8>,
}

impl EventRow {
    /// SHA-256 over the canonical encoding of every field but the hash and signature.
    pub fn compute_hash(&self, project: &Id) -> [u8; 32] {
        Canon::new("tessera-event")
            .id(project)
            .id(&self.event_id)
            .id(&self.author_id)
            .i64(self.seq)
            .bytes(&self.prev_hash)
            .bytes(&self.parents)
            .i64(self.hlc)
            .str(&self.op)
            .id(&self.target)
            .bytes(&self.commitment)
            .sha256()
    }

    /// The parent ids, or `None` when the column is not a multiple of 16 bytes.
    pub fn parent_ids(&self) -> Option<Vec<Id>> {
        if !self.parents.len().is_multiple_of(16) {
            return None;
        }
        self.parents.chunks(16).map(Id::from_slice).collect()
    }

    /// Milliseconds since 1970 from the hybrid logical clock.
    pub fn time_ms(&self) -> i64 {
        self.hlc >> 16
    }
}

/// What an event's signature covers.
pub fn signature_message(event_hash: &[u8]) -> Vec<u8> {
    Canon::new("tessera-event-signature")
        .bytes(event_hash)
        .finish()
}

/// One row of `event_payloads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRow {
    pub event_id: Id,
    pub chunk: i64,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ct: Vec<u8>,
}

/// One row of `tips`: the author's last event, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipRow {
    pub author_id: Id,
    pub seq: i64,
    pub event_hash: Vec<u8>,
    pub signature: Vec<u8>,
}

/// What a tip's signature covers.
pub fn tip_message(project: &Id, author: &Id, seq: i64, event_hash: &[u8]) -> Vec<u8> {
    Canon::new("tessera-tip")
        .id(project)
        .id(author)
        .i64(seq)
        .bytes(event_hash)
        .finish()
}

/// One row of `annotations` (the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRow {
    pub annotation_id: Id,
    pub image_bidx: Vec<u8>,
    pub event_id: Id,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ct: Vec<u8>,
}

pub fn payload_aad<'a>(project: &'a Id, event: &'a Id, author: &'a Id, key_id: &'a str) -> Aad<'a> {
    Aad {
        project,
        table: "event_payloads",
        column: "payload",
        row: event,
        event,
        key_id,
        author,
    }
}

pub fn cache_aad<'a>(project: &'a Id, row: &'a CacheRow) -> Aad<'a> {
    Aad {
        project,
        table: "annotations",
        column: "body",
        row: &row.annotation_id,
        event: &row.event_id,
        key_id: &row.key_id,
        author: &Id::NIL,
    }
}

/// The payload plaintext: 16 random bytes (so the commitment reveals nothing about a
/// guessable payload) followed by the JSON.
pub fn encode_payload(payload: &EventPayload) -> Result<Zeroizing<Vec<u8>>, ProjectError> {
    let mut blob = Zeroizing::new(random_bytes::<16>()?.to_vec());
    serde_json::to_writer(&mut *blob, payload).map_err(|e| ProjectError::Format(e.to_string()))?;
    Ok(blob)
}

/// The commitment stored (and signed) in clear.
pub fn commitment(blob: &[u8]) -> [u8; 32] {
    sha256(&[b"tessera-payload", blob])
}

/// The payload from its plaintext, `None` when it is not ours.
pub fn decode_payload(blob: &[u8]) -> Option<EventPayload> {
    super::payload::decode(blob.get(16..)?)
}

/// Decrypts one annotation cache row: the annotation's registers (`merge`).
pub fn open_cache_row(
    project: &Id,
    sealer: &Sealer,
    row: &CacheRow,
) -> Result<Registers, ProjectError> {
    let plain = sealer.open(&cache_aad(project, row), &row.nonce, &row.ct)?;
    serde_json::from_slice(&plain).map_err(|e| ProjectError::Format(e.to_string()))
}

/// The plaintext of a cache row (verification compares these bytes).
pub fn cache_plaintext(regs: &Registers) -> Result<Zeroizing<Vec<u8>>, ProjectError> {
    serde_json::to_vec(regs)
        .map(Zeroizing::new)
        .map_err(|e| ProjectError::Format(e.to_string()))
}

/// The blind index stored with a cache row.
pub fn cache_index(keys: &DataKeys, regs: &Registers) -> Vec<u8> {
    regs.index_image()
        .map(|image| keys.image_index(image))
        .unwrap_or_default()
}

/// Seals `regs` as a cache row (deleted annotations keep a row: their frontier is the
/// predecessor of an undo).
pub fn seal_cache_row(
    project: &Id,
    keys: &DataKeys,
    regs: &Registers,
) -> Result<CacheRow, ProjectError> {
    let mut row = CacheRow {
        annotation_id: regs.id,
        image_bidx: cache_index(keys, regs),
        event_id: regs.cache_event(),
        key_id: keys.sealer.key_id().to_owned(),
        nonce: Vec::new(),
        ct: Vec::new(),
    };
    let json = cache_plaintext(regs)?;
    let Sealed { nonce, ct } = keys.sealer.seal(&cache_aad(project, &row), &json)?;
    row.nonce = nonce;
    row.ct = ct;
    Ok(row)
}

pub fn write_cache_row(tx: &Transaction<'_>, row: &CacheRow) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO annotations (annotation_id, image_bidx, event_id, key_id, nonce, ct) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![row.annotation_id, row.image_bidx, row.event_id, row.key_id, row.nonce, row.ct])?;
    Ok(())
}

pub fn insert_payload_chunks(
    tx: &Transaction<'_>,
    event: &Id,
    key_id: &str,
    chunks: &[Sealed],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached("INSERT INTO event_payloads (event_id, chunk, key_id, nonce, ct) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (i, c) in chunks.iter().enumerate() {
        stmt.execute(params![event, i as i64, key_id, c.nonce, c.ct])?;
    }
    Ok(())
}

/// Who appends: the author's id and signing key.
pub struct Author<'a> {
    pub id: Id,
    pub signing: &'a SigningKey,
}

/// Appends one event carrying `payload` and updates the tip, heads and cache, all in
/// `tx`. The edit is checked against the cached shown value first, so a stale edit
/// writes nothing; its `preds` are set to the annotation's current versions.
pub fn append(
    tx: &Transaction<'_>,
    project: &Id,
    keys: &DataKeys,
    author: &Author<'_>,
    payload: &EventPayload,
    now_ms: i64,
) -> Result<Id, ProjectError> {
    let target = payload.edit.target();
    let cached: Option<CacheRow> = tx
        .prepare_cached("SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations WHERE annotation_id = ?1")?
        .query_row([target], cache_row)
        .optional()?;
    let current = match &cached {
        Some(row) => Some(open_cache_row(project, &keys.sealer, row)?),
        None => None,
    };
    let mut payload = payload.clone();
    payload.preds = Some(merge::preds_for(current.as_ref()));
    let event_id = Id::random()?;
    let regs = merge::apply_local(current.as_ref(), &payload, event_id)?;

    // The author's line: after a merge of two copies it may have forked; continue the
    // greatest leaf (the other stays a leaf with its own signed tip).
    // (An author has one tip, or a few after a fork: picked here, since ORDER BY with
    // LIMIT in SQL builds a temporary b-tree on every commit.)
    let (prev_seq, prev_hash): (i64, Vec<u8>) = tx
        .prepare_cached("SELECT seq, event_hash FROM tips WHERE author_id = ?1")?
        .query_map([author.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .try_fold(None, |best: Option<(i64, Vec<u8>)>, tip| {
            let tip = tip?;
            Ok::<_, rusqlite::Error>(Some(match best {
                Some(b) if b >= tip => b,
                _ => tip,
            }))
        })?
        .unwrap_or((0, vec![0; 32]));
    let max_hlc: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(hlc), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    let hlc = (now_ms << 16).max(max_hlc + 1);
    let mut parents: Vec<Id> = tx
        .prepare_cached("SELECT event_id FROM heads")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    parents.sort();

    let blob = encode_payload(&payload)?;
    let key_id = keys.sealer.key_id().to_owned();
    let chunks = keys
        .sealer
        .seal_chunked(&payload_aad(project, &event_id, &author.id, &key_id), &blob)?;
    let mut ev = EventRow {
        event_id,
        author_id: author.id,
        seq: prev_seq + 1,
        prev_hash,
        parents: parents.iter().flat_map(|p| p.0).collect(),
        hlc,
        op: payload.op_name().to_owned(),
        target,
        commitment: commitment(&blob).to_vec(),
        event_hash: Vec::new(),
        signature: Vec::new(),
    };
    let hash = ev.compute_hash(project);
    ev.event_hash = hash.to_vec();
    // (Signing the two side by side on the rayon pool was slower: waking a worker costs
    // more than a signature.)
    let event_sig = author.signing.sign(&signature_message(&hash));
    let tip_sig = author
        .signing
        .sign(&tip_message(project, &author.id, ev.seq, &hash));
    ev.signature = event_sig.to_bytes().to_vec();
    insert_event(tx, &ev)?;
    insert_payload_chunks(tx, &event_id, &key_id, &chunks)?;

    let tip = TipRow {
        author_id: author.id,
        seq: ev.seq,
        event_hash: ev.event_hash.clone(),
        signature: tip_sig.to_bytes().to_vec(),
    };
    tx.prepare_cached("DELETE FROM tips WHERE author_id = ?1 AND event_hash = ?2")?
        .execute(params![author.id, ev.prev_hash])?;
    insert_tip(tx, &tip)?;
    tx.prepare_cached("DELETE FROM heads")?.execute([])?;
    tx.prepare_cached("INSERT INTO heads (event_id) VALUES (?1)")?
        .execute([event_id])?;
    write_cache_row(tx, &seal_cache_row(project, keys, &regs)?)?;
    save_encryption_count(tx, &keys.sealer)?;
    Ok(event_id)
}

pub fn insert_tip(tx: &Transaction<'_>, tip: &TipRow) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO tips (author_id, seq, event_hash, signature) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![tip.author_id, tip.seq, tip.event_hash, tip.signature])?;
    Ok(())
}

/// Encryption counts are persisted rounded up to a multiple of this, so most commits
/// leave the `keys` row alone (one page fewer to write and sync). The stored count is
/// never below the true one: reopening resumes from it, overcounting by less than this.
pub const ENCRYPTION_COUNT_STEP: u64 = 4096;

/// Persists the sealer's encryption counter (rotation happens long before 2^32): a
/// high-water mark, rewritten only when the count passes the stored one.
pub fn save_encryption_count(tx: &Transaction<'_>, sealer: &Sealer) -> rusqlite::Result<()> {
    let count = sealer.encryptions();
    let stored: Option<i64> = tx
        .prepare_cached("SELECT encryptions FROM keys WHERE key_id = ?1")?
        .query_row([sealer.key_id()], |r| r.get(0))
        .optional()?;
    if stored.is_some_and(|s| u64::try_from(s).is_ok_and(|s| s >= count)) {
        return Ok(());
    }
    let mark = count
        .div_ceil(ENCRYPTION_COUNT_STEP)
        .saturating_mul(ENCRYPTION_COUNT_STEP);
    tx.prepare_cached("UPDATE keys SET encryptions = ?1 WHERE key_id = ?2")?
        .execute(params![
            i64::try_from(mark).unwrap_or(i64::MAX),
            sealer.key_id()
        ])?;
    Ok(())
}

pub fn insert_event(tx: &Transaction<'_>, ev: &EventRow) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (event_id, author_id, seq, prev_hash, parents, hlc, op, target, commitment, event_hash, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        ev.event_id,
        ev.author_id,
        ev.seq,
        ev.prev_hash,
        ev.parents,
        ev.hlc,
        ev.op,
        ev.target,
        ev.commitment,
        ev.event_hash,
        ev.signature
    ])?;
    Ok(())
}

pub const EVENT_COLUMNS: &str = "event_id, author_id, seq, prev_hash, parents, hlc, op, target, commitment, event_hash, signature";

pub fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        event_id: r.get(0)?,
        author_id: r.get(1)?,
        seq: r.get(2)?,
        prev_hash: r.get(3)?,
        parents: r.get(4)?,
        hlc: r.get(5)?,
        op: r.get(6)?,
        target: r.get(7)?,
        commitment: r.get(8)?,
        event_hash: r.get(9)?,
        signature: r.get(10)?,
    })
}

pub fn cache_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CacheRow> {
    Ok(CacheRow {
        annotation_id: r.get(0)?,
        image_bidx: r.get(1)?,
        event_id: r.get(2)?,
        key_id: r.get(3)?,
        nonce: r.get(4)?,
        ct: r.get(5)?,
    })
}

pub fn payload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PayloadRow> {
    Ok(PayloadRow {
        event_id: r.get(0)?,
        chunk: r.get(1)?,
        key_id: r.get(2)?,
        nonce: r.get(3)?,
        ct: r.get(4)?,
    })
}

/// Decrypts an event's payload from its chunks (in chunk order) and checks the
/// commitment. Returns the plaintext blob.
pub fn open_payload(
    project: &Id,
    sealer: &Sealer,
    ev: &EventRow,
    chunks: &[PayloadRow],
) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    open_payload_of(
        project,
        sealer,
        &ev.event_id,
        &ev.author_id,
        &ev.commitment,
        chunks,
    )
}

/// As [`open_payload`], from the event's id, author and commitment.
pub fn open_payload_of(
    project: &Id,
    sealer: &Sealer,
    event_id: &Id,
    author_id: &Id,
    signed_commitment: &[u8],
    chunks: &[PayloadRow],
) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    if chunks.is_empty() {
        return Err("payload missing");
    }
    if chunks.iter().enumerate().any(|(i, c)| c.chunk != i as i64) {
        return Err("payload chunks missing or out of order");
    }
    let key_id = &chunks[0].key_id;
    if chunks.iter().any(|c| &c.key_id != key_id) || key_id != sealer.key_id() {
        return Err("payload is under an unknown data key");
    }
    let aad = payload_aad(project, event_id, author_id, key_id);
    let n = chunks.len() as u64;
    let unauthentic = |_| "payload ciphertext does not authenticate";
    let blob = if let [only] = chunks {
        sealer
            .open_chunk_of(&aad, 0, 1, &only.nonce, &only.ct)
            .map_err(unauthentic)?
    } else {
        let mut out = Zeroizing::new(Vec::with_capacity(chunks.iter().map(|c| c.ct.len()).sum()));
        for (i, c) in chunks.iter().enumerate() {
            let part = sealer
                .open_chunk_of(&aad, i as u64, n, &c.nonce, &c.ct)
                .map_err(unauthentic)?;
            out.extend_from_slice(&part);
        }
        out
    };
    if commitment(&blob).as_slice() != signed_commitment {
        return Err("payload does not match the signed commitment");
    }
    Ok(blob)
}
