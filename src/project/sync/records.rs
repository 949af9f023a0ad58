//! The record bodies of a bundle: manifest, membership record, signed tip, event (row and
//! payload plaintext). Pure encoding over `bundle::Wire` / `bundle::Cursor`; no SQLite,
//! no keys.

use zeroize::Zeroizing;

use crate::project::bundle::{BundleError, Cursor, Wire};
use crate::project::events::{EventRow, TipRow};
use crate::project::id::Id;
use crate::project::members::MemberRow;

/// Limits on counts a manifest may announce (memory stays bounded whatever it says).
const MAX_MEMBERS: u32 = 65_536;
const MAX_TIPS: u32 = 65_536;
const MAX_IDS: u32 = 65_536;
/// The sizes of an event hash and of a signature (tips carry one of each).
const HASH_BYTES: usize = 32;
const SIGNATURE_BYTES: usize = 64;

/// The manifest record.
#[derive(Clone)]
pub(super) struct Manifest {
    pub(super) exporter: Id,
    pub(super) created_ms: i64,
    pub(super) events: u64,
    pub(super) members: u32,
    pub(super) tips: u32,
    pub(super) heads: Vec<Id>,
}

impl Manifest {
    pub(super) fn encode(&self) -> Vec<u8> {
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

    pub(super) fn decode(b: &[u8]) -> Result<Manifest, BundleError> {
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

pub(super) fn encode_member(m: &MemberRow, name: &str) -> Vec<u8> {
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

pub(super) fn decode_member(b: &[u8]) -> Result<(MemberRow, Zeroizing<String>), BundleError> {
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

pub(super) fn encode_tip(t: &TipRow) -> Vec<u8> {
    let mut w = Wire::default();
    w.id(&t.author_id)
        .i64(t.seq)
        .bytes(&t.event_hash)
        .bytes(&t.signature);
    w.0
}

pub(super) fn decode_tip(b: &[u8]) -> Result<TipRow, BundleError> {
    let mut r = Cursor::new(b);
    let (author_id, seq) = (r.id()?, r.i64()?);
    let (event_hash, signature) = (r.bytes()?, r.bytes()?);
    r.end()?;
    if event_hash.len() != HASH_BYTES || signature.len() != SIGNATURE_BYTES {
        return Err(BundleError::Malformed(
            "a tip's hash or signature has the wrong size",
        ));
    }
    Ok(TipRow {
        author_id,
        seq,
        event_hash: event_hash.to_vec(),
        signature: signature.to_vec(),
    })
}

pub(super) fn encode_event(w: &mut Wire, e: &EventRow, blob: &[u8]) {
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

pub(super) fn decode_event(b: &[u8]) -> Result<(EventRow, &[u8]), BundleError> {
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
