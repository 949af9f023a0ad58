//! The edits the structure-aware fuzzer makes to a valid bundle's records: pure
//! functions of the fuzzer's bytes (read as choices), with no I/O and no keys.
//!
//! Owns the decoded record type [`Rec`], the byte reader [`Src`], the value pools and
//! the mutators of records, fields, payload JSON and raw streams. Signing again and
//! importing are `fuzzing.rs`'s.

use serde_json::{Number, Value};

use super::super::records::{Manifest, encode_event, encode_member, encode_tip};
use crate::project::Id;
use crate::project::bundle::{Kind, Wire};
use crate::project::events::{EventRow, TipRow};
use crate::project::members::MemberRow;

/// One record of the valid bundle, decoded, or raw bytes once an edit broke its layout.
#[derive(Clone)]
pub(super) enum Rec {
    Manifest(Manifest),
    Member(MemberRow, String),
    Tip(TipRow),
    Event(EventRow, Vec<u8>),
    End(Vec<u8>),
    Raw(u8, Vec<u8>),
}

impl Rec {
    pub(super) fn kind(&self) -> u8 {
        match self {
            Rec::Manifest(_) => Kind::Manifest as u8,
            Rec::Member(..) => Kind::Member as u8,
            Rec::Tip(_) => Kind::Tip as u8,
            Rec::Event(..) => Kind::Event as u8,
            Rec::End(_) => Kind::End as u8,
            Rec::Raw(k, _) => *k,
        }
    }

    pub(super) fn body(&self) -> Vec<u8> {
        match self {
            Rec::Manifest(m) => m.encode(),
            Rec::Member(m, name) => encode_member(m, name),
            Rec::Tip(t) => encode_tip(t),
            Rec::Event(e, blob) => {
                let mut w = Wire::default();
                encode_event(&mut w, e, blob);
                w.0
            }
            Rec::End(b) | Rec::Raw(_, b) => b.clone(),
        }
    }
}

/// Reads fuzzer bytes as choices; zeros once they run out (so a short input means "no
/// further edits").
pub(super) struct Src<'a>(pub(super) &'a [u8]);

impl<'a> Src<'a> {
    pub(super) fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    pub(super) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn i64(&mut self) -> i64 {
        i64::from(self.u32()) << 32 | i64::from(self.u32())
    }
    /// A choice in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            1..=256 => usize::from(self.u8()) % n,
            _ => usize::from(self.u16()) % n,
        }
    }
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Values the edits draw from: the bundle's own ids, hashes and words, and edge cases.
pub(super) struct Pools {
    ids: Vec<Id>,
    hashes: Vec<Vec<u8>>,
    words: Vec<String>,
}

impl Pools {
    pub(super) fn new(recs: &[Rec]) -> Pools {
        let mut ids = vec![Id::NIL, Id([0xff; 16])];
        let mut hashes = vec![Vec::new(), vec![0; 32], vec![0xff; 31], vec![1; 64]];
        for r in recs {
            match r {
                Rec::Member(m, _) => ids.extend([m.user_id, m.record_id]),
                Rec::Event(e, _) => {
                    ids.extend([e.event_id, e.target]);
                    hashes.push(e.event_hash.clone());
                }
                _ => {}
            }
        }
        ids.sort();
        ids.dedup();
        let words = [
            "",
            "add",
            "remove",
            "admin",
            "annotator",
            "reviewer",
            "create",
            "update",
            "delete",
            "undo",
            "redo",
            "workflow",
            "two\nlines",
            "\r",
            "\u{1b}[31mred",
            "\u{2028}",
            "recovery",
            "alice",
            "bob",
            "carol",
            " ",
            "\u{0}",
        ];
        let mut words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        words.push("x".repeat(5000));
        Pools { ids, hashes, words }
    }
    fn id(&self, src: &mut Src<'_>) -> Id {
        self.ids[src.below(self.ids.len())]
    }
    fn word(&self, src: &mut Src<'_>) -> String {
        self.words[src.below(self.words.len())].clone()
    }
}

fn int(src: &mut Src<'_>, cur: i64) -> i64 {
    match src.below(14) {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => cur.wrapping_sub(1),
        4 => cur.wrapping_add(1),
        5 => i64::MIN,
        6 => i64::MAX,
        7 => i64::MIN + 1,
        8 => i64::MAX - 1,
        9 => 1 << 16,
        10 => i64::from(u32::MAX),
        11 => cur.wrapping_neg(),
        12 => cur ^ (1 << src.below(63)),
        _ => src.i64(),
    }
}

fn count(src: &mut Src<'_>, cur: u32) -> u32 {
    match src.below(8) {
        0 => 0,
        1 => 1,
        2 => cur.wrapping_sub(1),
        3 => cur.wrapping_add(1),
        4 => u32::MAX,
        5 => 65_536,
        6 => 65_537,
        _ => src.u32(),
    }
}

fn edit_bytes(v: &mut Vec<u8>, src: &mut Src<'_>, pools: &Pools) {
    match src.below(6) {
        0 => v.clear(),
        1 => v.truncate(src.below(v.len())),
        2 if !v.is_empty() => {
            let at = src.below(v.len());
            v[at] ^= src.u8() | 1;
        }
        3 => v.push(src.u8()),
        4 => *v = pools.hashes[src.below(pools.hashes.len())].clone(),
        _ => {
            let n = usize::from(src.u8());
            *v = src.bytes(n).to_vec();
        }
    }
}

fn edit_ids(v: &mut Vec<Id>, src: &mut Src<'_>, pools: &Pools) {
    let i = src.below(v.len());
    match src.below(6) {
        0 => v.clear(),
        1 => v.insert(i, pools.id(src)),
        2 if !v.is_empty() => drop(v.remove(i)),
        3 if !v.is_empty() => v.insert(i, v[i]),
        4 => v.reverse(),
        _ => {
            let n = src.below(200);
            v.extend(std::iter::repeat_n(pools.id(src), n));
        }
    }
}

/// Changes one field of a decoded record to an edge case or another record's value.
fn edit_field(rec: &mut Rec, src: &mut Src<'_>, pools: &Pools) {
    match rec {
        Rec::Manifest(m) => match src.below(6) {
            0 => m.exporter = pools.id(src),
            1 => m.created_ms = int(src, m.created_ms),
            2 => m.events = int(src, m.events as i64) as u64,
            3 => m.members = count(src, m.members),
            4 => m.tips = count(src, m.tips),
            _ => edit_ids(&mut m.heads, src, pools),
        },
        Rec::Member(m, name) => match src.below(10) {
            0 => m.record_id = pools.id(src),
            1 => m.user_id = pools.id(src),
            2 => m.action = pools.word(src),
            3 => m.role = pools.word(src),
            4 => edit_bytes(&mut m.sign_pk, src, pools),
            5 => edit_bytes(&mut m.box_pk, src, pools),
            6 => *name = pools.word(src),
            7 => m.signer_id = pools.id(src),
            8 => m.time_ms = int(src, m.time_ms),
            _ => edit_bytes(&mut m.signature, src, pools),
        },
        Rec::Tip(t) => match src.below(4) {
            0 => t.author_id = pools.id(src),
            1 => t.seq = int(src, t.seq),
            2 => edit_bytes(&mut t.event_hash, src, pools),
            _ => edit_bytes(&mut t.signature, src, pools),
        },
        Rec::Event(e, blob) => match src.below(14) {
            0 => e.event_id = pools.id(src),
            1 => e.author_id = pools.id(src),
            2 => e.seq = int(src, e.seq),
            3 => edit_bytes(&mut e.prev_hash, src, pools),
            4 => edit_bytes(&mut e.parents, src, pools),
            5 | 6 => {
                let mut ids = e.parent_ids().unwrap_or_default();
                edit_ids(&mut ids, src, pools);
                e.parents = ids.iter().flat_map(|p| p.0).collect();
            }
            7 => e.hlc = int(src, e.hlc),
            8 => e.op = pools.word(src),
            9 => e.target = pools.id(src),
            10 => edit_bytes(&mut e.commitment, src, pools),
            11 => edit_bytes(&mut e.event_hash, src, pools),
            12 => edit_bytes(&mut e.signature, src, pools),
            _ => edit_payload(blob, src, pools),
        },
        Rec::End(b) | Rec::Raw(_, b) => edit_bytes(b, src, pools),
    }
}

/// Edits a payload (16 salt bytes, then JSON): a node of the parsed JSON, or its text.
fn edit_payload(blob: &mut Vec<u8>, src: &mut Src<'_>, pools: &Pools) {
    let salt = blob.len().min(16);
    let json = blob.split_off(salt);
    let edited = match src.below(4) {
        0 | 1 => serde_json::from_slice::<Value>(&json)
            .ok()
            .and_then(|mut v| {
                let mut nodes = 0;
                count_nodes(&v, &mut nodes);
                let mut at = src.below(nodes);
                edit_node(&mut v, &mut at, src, pools);
                serde_json::to_vec(&v).ok()
            }),
        2 => {
            let at = src.below(json.len() + 1);
            let n = usize::from(src.u8());
            let mut j = json.clone();
            j.splice(at..at, src.bytes(n).iter().copied());
            Some(j)
        }
        _ => {
            let at = src.below(json.len() + 1);
            let end = (at + usize::from(src.u8())).min(json.len());
            let mut j = json.clone();
            j.drain(at..end);
            Some(j)
        }
    };
    blob.extend_from_slice(&edited.unwrap_or(json));
}

fn count_nodes(v: &Value, n: &mut usize) {
    *n += 1;
    match v {
        Value::Array(a) => a.iter().for_each(|x| count_nodes(x, n)),
        Value::Object(o) => o.values().for_each(|x| count_nodes(x, n)),
        _ => {}
    }
}

/// Edits the `at`-th node (pre-order) of `v`; returns true once it has.
fn edit_node(v: &mut Value, at: &mut usize, src: &mut Src<'_>, pools: &Pools) -> bool {
    if *at > 0 {
        *at -= 1;
        return match v {
            Value::Array(a) => a.iter_mut().any(|x| edit_node(x, at, src, pools)),
            Value::Object(o) => o.values_mut().any(|x| edit_node(x, at, src, pools)),
            _ => false,
        };
    }
    match src.below(9) {
        0 | 1 => *v = Value::Number(number(src)),
        2 => {
            let s = match src.below(3) {
                0 => pools.word(src),
                1 => serde_json::to_value(pools.id(src))
                    .ok()
                    .and_then(|s| s.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                _ => String::from_utf8_lossy(src.bytes(16)).into_owned(),
            };
            *v = Value::String(s);
        }
        3 => *v = [Value::Null, Value::Bool(true), Value::Bool(false)][src.below(3)].clone(),
        4 => {
            *v = [Value::Array(Vec::new()), Value::Object(Default::default())][src.below(2)].clone()
        }
        5 => match v {
            Value::Array(a) if !a.is_empty() => drop(a.remove(src.below(a.len()))),
            Value::Object(o) if !o.is_empty() => {
                let key = o
                    .keys()
                    .nth(src.below(o.len()))
                    .cloned()
                    .unwrap_or_default();
                o.remove(&key);
            }
            _ => {}
        },
        6 => match v {
            // Repeats an element: arrays of points, bricks, ids grow past what was signed.
            Value::Array(a) if !a.is_empty() => {
                let x = a[src.below(a.len())].clone();
                let n = 1 + usize::from(src.u16()) % 4096;
                a.extend(std::iter::repeat_n(x, n));
            }
            _ => {}
        },
        7 => {
            if let Value::Object(o) = v {
                let key = pools.word(src);
                o.insert(key, Value::Number(number(src)));
            }
        }
        _ => *v = Value::Array(vec![v.take()]),
    }
    true
}

fn number(src: &mut Src<'_>) -> Number {
    let f = |x: f64| Number::from_f64(x).unwrap_or_else(|| Number::from(0));
    match src.below(16) {
        0 => Number::from(0),
        1 => Number::from(-1),
        2 => Number::from(255),
        3 => Number::from(256),
        4 => Number::from(65_536),
        5 => Number::from(u32::MAX),
        6 => Number::from(u64::from(u32::MAX) + 1),
        7 => Number::from(i64::MAX),
        8 => Number::from(i64::MIN),
        9 => Number::from(u64::MAX),
        10 => f(1e308),
        11 => f(-1e308),
        12 => f(0.5),
        13 => f(f64::MIN_POSITIVE),
        14 => f(4.0e9),
        _ => Number::from(src.i64()),
    }
}

/// Applies one edit of the record list.
pub(super) fn edit_records(recs: &mut Vec<Rec>, src: &mut Src<'_>, pools: &Pools) {
    let (i, j) = (src.below(recs.len()), src.below(recs.len() + 1));
    match src.below(10) {
        0 if i < recs.len() => drop(recs.remove(i)),
        1 if i < recs.len() => {
            let r = recs[i].clone();
            recs.insert(j, r);
        }
        2 if i < recs.len() => {
            let r = recs.remove(i);
            recs.insert(j.min(recs.len()), r);
        }
        3 if j < recs.len() && i < recs.len() => recs.swap(i, j),
        4..=6 if i < recs.len() => edit_field(&mut recs[i], src, pools),
        7 if i < recs.len() => {
            // The body's bytes: flipped, cut or grown (the record keeps its kind).
            let mut b = recs[i].body();
            edit_bytes(&mut b, src, pools);
            recs[i] = Rec::Raw(recs[i].kind(), b);
        }
        8 if i < recs.len() => recs[i] = Rec::Raw(src.u8() % 7, recs[i].body()),
        _ => {
            let (kind, n) = (src.u8() % 7, usize::from(src.u16()));
            recs.insert(j.min(recs.len()), Rec::Raw(kind, src.bytes(n).to_vec()));
        }
    }
}

/// Edits plaintext or ciphertext bytes: framing the records or chunks no longer match.
pub(super) fn edit_stream(bytes: &mut Vec<u8>, src: &mut Src<'_>) {
    for _ in 0..src.below(4) {
        if src.is_empty() {
            return;
        }
        let at = src.below(bytes.len() + 1);
        match src.below(4) {
            0 if at < bytes.len() => bytes[at] ^= src.u8() | 1,
            1 => bytes.truncate(at),
            2 => {
                let v = src.u32().to_be_bytes();
                bytes.splice(at..at, v);
            }
            _ => {
                let end = (at + usize::from(src.u16())).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
}
