//! Property-based tampering: every mutation of a project snapshot (bit flips in
//! ciphertexts, nonces, tags, hashes and signatures; rows swapped between tables, columns
//! and projects; events deleted, reordered, duplicated or replayed; the tail truncated; a
//! history re-signed by another member) fails verification naming the author and seq.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tessera::project::events::{self, EventRow};
use tessera::project::keys::SlotRow;
use tessera::project::verify::{Area, Failure, Snapshot};
use tessera::project::{Id, ProjectError};

use super::{BIN, SLOT_SQL, build, marker, open, slot_row};

/// One tampering of a snapshot.
#[derive(Debug, Clone)]
enum Tamper {
    EventField {
        idx: usize,
        field: u8,
        byte: usize,
        bit: u8,
    },
    EventSeq {
        idx: usize,
        delta: i64,
    },
    Payload {
        idx: usize,
        part: u8,
        byte: usize,
        bit: u8,
    },
    Tip {
        idx: usize,
        field: u8,
        byte: usize,
        bit: u8,
    },
    Cache {
        idx: usize,
        field: u8,
        byte: usize,
        bit: u8,
    },
    Delete(usize),
    Reorder(usize, usize),
    Duplicate(usize),
    Replay(usize),
    Truncate(usize),
    CrossProject {
        idx: usize,
        whole_event: bool,
        other: usize,
    },
    CrossColumn {
        idx: usize,
        from: u8,
        other: usize,
    },
    SwapPayloads(usize, usize),
    Resign(usize),
    Audit {
        idx: usize,
        field: u8,
        byte: usize,
        bit: u8,
    },
    AuditDelete(usize),
    Member {
        idx: usize,
        field: u8,
        byte: usize,
        bit: u8,
    },
}

fn tamper_strategy() -> impl Strategy<Value = Tamper> {
    let u = any::<usize>;
    prop_oneof![
        (u(), 0..9u8, u(), 0..8u8).prop_map(|(idx, field, byte, bit)| Tamper::EventField {
            idx,
            field,
            byte,
            bit
        }),
        (u(), prop_oneof![-3..0i64, 1..4i64])
            .prop_map(|(idx, delta)| Tamper::EventSeq { idx, delta }),
        (u(), 0..5u8, u(), 0..8u8).prop_map(|(idx, part, byte, bit)| Tamper::Payload {
            idx,
            part,
            byte,
            bit
        }),
        (u(), 0..3u8, u(), 0..8u8).prop_map(|(idx, field, byte, bit)| Tamper::Tip {
            idx,
            field,
            byte,
            bit
        }),
        (u(), 0..5u8, u(), 0..8u8).prop_map(|(idx, field, byte, bit)| Tamper::Cache {
            idx,
            field,
            byte,
            bit
        }),
        u().prop_map(Tamper::Delete),
        (u(), u()).prop_map(|(a, b)| Tamper::Reorder(a, b)),
        u().prop_map(Tamper::Duplicate),
        u().prop_map(Tamper::Replay),
        (1..5usize).prop_map(Tamper::Truncate),
        (u(), any::<bool>(), u()).prop_map(|(idx, whole_event, other)| Tamper::CrossProject {
            idx,
            whole_event,
            other
        }),
        (u(), 0..3u8, u()).prop_map(|(idx, from, other)| Tamper::CrossColumn { idx, from, other }),
        (u(), u()).prop_map(|(a, b)| Tamper::SwapPayloads(a, b)),
        u().prop_map(Tamper::Resign),
        (u(), 0..8u8, u(), 0..8u8).prop_map(|(idx, field, byte, bit)| Tamper::Audit {
            idx,
            field,
            byte,
            bit
        }),
        u().prop_map(Tamper::AuditDelete),
        (u(), 0..6u8, u(), 0..8u8).prop_map(|(idx, field, byte, bit)| Tamper::Member {
            idx,
            field,
            byte,
            bit
        }),
    ]
}

/// What verification must report.
#[derive(Debug)]
enum Expect {
    /// One of these (author, seq) pairs, in the history or the cache.
    Event(Vec<(String, i64)>),
    /// This audit chain, at a sequence number in the range.
    Audit(String, i64, i64),
    Membership,
}

fn flip(v: &mut Vec<u8>, byte: usize, bit: u8) {
    if v.is_empty() {
        v.push(1 << bit);
    } else {
        let n = v.len();
        v[byte % n] ^= 1 << bit;
    }
}

fn flip_id(id: &mut Id, byte: usize, bit: u8) {
    id.0[byte % 16] ^= 1 << bit;
}

struct Ctx {
    base: Snapshot,
    other: Snapshot,
    names: HashMap<Id, String>,
    /// Members' signing keys (opened from their slots with their passphrases).
    signers: Vec<(Id, SigningKey)>,
}

impl Ctx {
    fn at(&self, ev: &EventRow) -> (String, i64) {
        (self.names[&ev.author_id].clone(), ev.seq)
    }
    fn event_by_id(&self, id: &Id) -> &EventRow {
        self.base.events.iter().find(|e| e.event_id == *id).unwrap()
    }
}

/// Applies `t` to a copy of the base snapshot; returns the copy and what must be reported.
fn apply(t: &Tamper, ctx: &Ctx) -> (Snapshot, Expect) {
    let mut s = ctx.base.clone();
    let n = s.events.len();
    let ev = |i: usize| &ctx.base.events[i % n];
    let expect_at = |e: &EventRow| Expect::Event(vec![ctx.at(e)]);
    let same_author = |i: usize| -> Vec<usize> {
        (0..n)
            .filter(|&j| s.events[j].author_id == ev(i).author_id)
            .collect()
    };
    let payload_of = |s: &mut Snapshot, id: Id| {
        s.payloads
            .iter_mut()
            .position(|p| p.event_id == id)
            .unwrap()
    };
    match *t {
        Tamper::EventField {
            idx,
            field,
            byte,
            bit,
        } => {
            let e = &mut s.events[idx % n];
            match field {
                0 => flip(&mut e.prev_hash, byte, bit),
                1 => flip(&mut e.parents, byte, bit),
                2 => e.hlc ^= 1 << (bit as u32 * 7 % 63),
                3 => {
                    e.op = if e.op == "create" {
                        "delete".into()
                    } else {
                        "create".into()
                    }
                }
                4 => flip_id(&mut e.target, byte, bit),
                5 => flip(&mut e.commitment, byte, bit),
                6 => flip(&mut e.event_hash, byte, bit),
                7 => flip(&mut e.signature, byte, bit),
                _ => flip_id(&mut e.event_id, byte, bit),
            }
            (s, expect_at(ev(idx)))
        }
        Tamper::EventSeq { idx, delta } => {
            let e = ev(idx);
            s.events[idx % n].seq += delta;
            let (lo, hi) = (e.seq.min(e.seq + delta), e.seq.max(e.seq + delta));
            (
                s,
                Expect::Event((lo..=hi).map(|q| (ctx.at(e).0, q)).collect()),
            )
        }
        Tamper::Payload {
            idx,
            part,
            byte,
            bit,
        } => {
            let e = ev(idx);
            let p = payload_of(&mut s, e.event_id);
            let row = &mut s.payloads[p];
            let tag_start = row.ct.len() - 16;
            match part {
                0 => flip(&mut row.nonce, byte, bit),
                1 => row.ct[byte % tag_start] ^= 1 << bit,
                2 => row.ct[tag_start + byte % 16] ^= 1 << bit,
                3 => row.key_id.push('0'),
                _ => row.chunk += 1,
            }
            (s, expect_at(e))
        }
        Tamper::Tip {
            idx,
            field,
            byte,
            bit,
        } => {
            let k = idx % s.tips.len();
            let tip = &mut s.tips[k];
            let last = ctx
                .base
                .events
                .iter()
                .filter(|e| e.author_id == tip.author_id)
                .map(|e| e.seq)
                .max()
                .unwrap();
            let who = ctx.names[&tip.author_id].clone();
            match field {
                0 => tip.seq ^= 1 << (bit % 6),
                1 => flip(&mut tip.event_hash, byte, bit),
                _ => flip(&mut tip.signature, byte, bit),
            }
            (s, Expect::Event(vec![(who.clone(), last), (who, last + 1)]))
        }
        Tamper::Cache {
            idx,
            field,
            byte,
            bit,
        } => {
            let k = idx % s.cache.len();
            let row = &mut s.cache[k];
            let e = ctx.event_by_id(&row.event_id);
            match field {
                0 => flip_id(&mut row.annotation_id, byte, bit),
                1 => flip(&mut row.image_bidx, byte, bit),
                2 => flip_id(&mut row.event_id, byte, bit),
                3 => flip(&mut row.nonce, byte, bit),
                _ => flip(&mut row.ct, byte, bit),
            }
            (s, expect_at(e))
        }
        Tamper::Delete(idx) => {
            s.events.remove(idx % n);
            (s, expect_at(ev(idx)))
        }
        Tamper::Reorder(a, b) => {
            let group = same_author(a);
            let (i, j) = (
                group[a % group.len()],
                group[(a % group.len() + 1 + b % (group.len() - 1)) % group.len()],
            );
            let (si, hi) = (s.events[i].seq, s.events[i].hlc);
            s.events[i].seq = s.events[j].seq;
            s.events[i].hlc = s.events[j].hlc;
            s.events[j].seq = si;
            s.events[j].hlc = hi;
            (
                s,
                Expect::Event(vec![(ctx.at(ev(i)).0, si.min(ctx.base.events[j].seq))]),
            )
        }
        Tamper::Duplicate(idx) => {
            s.events.push(ev(idx).clone());
            (s, expect_at(ev(idx)))
        }
        Tamper::Replay(idx) => {
            let mut copy = ev(idx).clone();
            copy.event_id = Id::random().unwrap();
            let p = payload_of(&mut s, ev(idx).event_id);
            let mut pc = s.payloads[p].clone();
            pc.event_id = copy.event_id;
            s.events.push(copy);
            s.payloads.push(pc);
            (s, expect_at(ev(idx)))
        }
        Tamper::Truncate(k) => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| (s.events[i].hlc, s.events[i].event_id));
            let cut: BTreeSet<usize> = order[n - k.min(n - 1)..].iter().copied().collect();
            let mut first_cut: HashMap<Id, i64> = HashMap::new();
            for &i in &cut {
                let e = &s.events[i];
                let f = first_cut.entry(e.author_id).or_insert(e.seq);
                *f = (*f).min(e.seq);
            }
            let expect = first_cut
                .iter()
                .map(|(a, q)| (ctx.names[a].clone(), *q))
                .collect();
            let mut i = 0;
            s.events.retain(|_| {
                i += 1;
                !cut.contains(&(i - 1))
            });
            (s, Expect::Event(expect))
        }
        Tamper::CrossProject {
            idx,
            whole_event,
            other,
        } => {
            let e = ev(idx);
            let o = &ctx.other.events[other % ctx.other.events.len()];
            if whole_event {
                let k = idx % n;
                let mut foreign = o.clone();
                foreign.event_id = e.event_id;
                foreign.author_id = e.author_id;
                foreign.seq = e.seq;
                s.events[k] = foreign;
            } else {
                let op = ctx
                    .other
                    .payloads
                    .iter()
                    .find(|p| p.event_id == o.event_id)
                    .unwrap();
                let p = payload_of(&mut s, e.event_id);
                s.payloads[p].nonce = op.nonce.clone();
                s.payloads[p].ct = op.ct.clone();
            }
            (s, expect_at(e))
        }
        Tamper::CrossColumn { idx, from, other } => {
            let e = ev(idx);
            let (nonce, ct) = match from {
                0 => {
                    let c = &ctx.base.cache[other % ctx.base.cache.len()];
                    (c.nonce.clone(), c.ct.clone())
                }
                1 => {
                    let m = &ctx.base.members[other % ctx.base.members.len()];
                    (m.name_nonce.clone(), m.name_ct.clone())
                }
                _ => {
                    let q = &ctx.base.payloads[other % ctx.base.payloads.len()];
                    if q.event_id == e.event_id {
                        let q2 = &ctx.base.payloads[(other + 1) % ctx.base.payloads.len()];
                        (q2.nonce.clone(), q2.ct.clone())
                    } else {
                        (q.nonce.clone(), q.ct.clone())
                    }
                }
            };
            let p = payload_of(&mut s, e.event_id);
            s.payloads[p].nonce = nonce;
            s.payloads[p].ct = ct;
            (s, expect_at(e))
        }
        Tamper::SwapPayloads(a, b) => {
            let (i, j) = (a % n, (a % n + 1 + b % (n - 1)) % n);
            let (pi, pj) = (
                payload_of(&mut s, ev(i).event_id),
                payload_of(&mut s, ev(j).event_id),
            );
            let (ni, ci) = (s.payloads[pi].nonce.clone(), s.payloads[pi].ct.clone());
            s.payloads[pi].nonce = s.payloads[pj].nonce.clone();
            s.payloads[pi].ct = s.payloads[pj].ct.clone();
            s.payloads[pj].nonce = ni;
            s.payloads[pj].ct = ci;
            (s, Expect::Event(vec![ctx.at(ev(i)), ctx.at(ev(j))]))
        }
        Tamper::Resign(idx) => {
            // Another member re-signs this author's history from this event on.
            let e = ev(idx);
            let (_, key) = ctx
                .signers
                .iter()
                .find(|(id, _)| *id != e.author_id)
                .unwrap();
            for row in s
                .events
                .iter_mut()
                .filter(|r| r.author_id == e.author_id && r.seq >= e.seq)
            {
                row.signature = key
                    .sign(&events::signature_message(&row.event_hash))
                    .to_bytes()
                    .to_vec();
            }
            (s, expect_at(e))
        }
        Tamper::Audit {
            idx,
            field,
            byte,
            bit,
        } => {
            let k = idx % s.audit.len();
            let r = &mut s.audit[k];
            let who = if r.chain == Id::NIL {
                "unauthenticated".to_owned()
            } else {
                ctx.names[&r.chain].clone()
            };
            let seq = r.seq;
            match field {
                0 => flip(&mut r.prev_hash, byte, bit),
                1 => r.time_ms ^= 1 << bit,
                2 => r.action.push('x'),
                3 => r.outcome ^= 1 << bit,
                4 => flip(&mut r.witness, byte, bit),
                5 => flip(&mut r.entry_hash, byte, bit),
                6 => match &mut r.signature {
                    Some(sig) => flip(sig, byte, bit),
                    None => r.signature = Some(vec![0; 64]),
                },
                _ => match &mut r.obj_ct {
                    Some(ct) => flip(ct, byte, bit),
                    None => r.obj_commit = Some(vec![bit; 32]),
                },
            }
            (s, Expect::Audit(who, seq, seq))
        }
        Tamper::AuditDelete(idx) => {
            // Any entry but the last of its chain (tail truncation of the audit log is a
            // documented limitation).
            let candidates: Vec<usize> = (0..s.audit.len())
                .filter(|&i| {
                    s.audit
                        .iter()
                        .any(|o| o.chain == s.audit[i].chain && o.seq > s.audit[i].seq)
                })
                .collect();
            let k = candidates[idx % candidates.len()];
            let r = s.audit.remove(k);
            let who = if r.chain == Id::NIL {
                "unauthenticated".to_owned()
            } else {
                ctx.names[&r.chain].clone()
            };
            // A deleted unsigned entry may be reported by the signed entry that witnessed it.
            if r.chain == Id::NIL {
                return (s, Expect::Audit(String::new(), 1, i64::MAX));
            }
            (s, Expect::Audit(who, r.seq, r.seq))
        }
        Tamper::Member {
            idx,
            field,
            byte,
            bit,
        } => {
            let k = idx % s.members.len();
            let m = &mut s.members[k];
            match field {
                0 => flip(&mut m.name_ct, byte, bit),
                1 => flip(&mut m.signature, byte, bit),
                2 => flip(&mut m.sign_pk, byte, bit),
                3 => {
                    m.role = if m.role == "admin" {
                        "reviewer".into()
                    } else {
                        "admin".into()
                    }
                }
                4 => m.time_ms ^= 1 << (bit + 8),
                _ => flip_id(&mut m.user_id, byte, bit),
            }
            (s, Expect::Membership)
        }
    }
}

fn check(expect: &Expect, got: &Failure) -> bool {
    match expect {
        Expect::Event(options) => {
            matches!(got.area, Area::History | Area::Cache)
                && got
                    .seq
                    .is_some_and(|q| options.iter().any(|(a, s)| *a == got.author && *s == q))
        }
        Expect::Audit(who, lo, hi) => {
            got.area == Area::Audit
                && (who.is_empty() || *who == got.author)
                && got.seq.is_some_and(|q| (*lo..=*hi).contains(&q))
        }
        Expect::Membership => got.area == Area::Membership,
    }
}

fn signer(path: &Path, project: Id, pass: &str) -> (Id, SigningKey) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(SLOT_SQL).unwrap();
    let slots: Vec<SlotRow> = stmt
        .query_map([], slot_row)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    slots
        .iter()
        .find_map(|s| {
            s.open(&project, pass.as_bytes())
                .ok()
                .map(|k| (s.user_id, k.signing))
        })
        .unwrap()
}

#[test]
fn tampering_is_always_detected_and_names_author_and_seq() {
    let cases: u32 = std::env::var("TESSERA_TAMPER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let m = marker();
    let path = build(dir.path(), &m);
    let other_dir = tempfile::tempdir().unwrap();
    let other_path = build(other_dir.path(), &m);
    let other = open(&other_path, "alice", "pw-alice")
        .unwrap()
        .snapshot()
        .unwrap();
    let mut s = open(&path, "alice", "pw-alice").unwrap();
    let base = s.snapshot().unwrap();
    let project = s.project_id();
    let mut names: HashMap<Id, String> = HashMap::new();
    for h in s.history().unwrap() {
        let e = base
            .events
            .iter()
            .find(|e| e.event_id == h.event_id)
            .unwrap();
        names.insert(e.author_id, h.author);
    }
    let signers = vec![
        signer(&path, project, "pw-alice"),
        signer(&path, project, "pw-bob"),
        signer(&path, project, "pw-carol"),
    ];
    for (id, _) in &signers {
        assert!(names.contains_key(id), "every fixture member has events");
    }
    assert!(s.verify_snapshot(&base).is_ok());
    let ctx = Ctx {
        base,
        other,
        names,
        signers,
    };
    let session = RefCell::new(s);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let start = Instant::now();
    runner
        .run(&tamper_strategy(), |t| {
            let (snap, expect) = apply(&t, &ctx);
            match session.borrow_mut().verify_snapshot(&snap) {
                Err(ProjectError::Verification(f)) => {
                    prop_assert!(check(&expect, &f), "{t:?}: expected {expect:?}, got {f}");
                }
                other => prop_assert!(false, "{t:?}: not detected: {other:?}"),
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "tampering: {cases} cases, all detected, in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn tampering_through_sqlite_fails_the_verify_command_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path(), "x");
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("TESSERA_USER", "alice")
            .env("TESSERA_PASSPHRASE", "pw-alice")
            .output()
            .unwrap()
    };
    let p = path.to_str().unwrap();
    assert_eq!(cli(&["verify", p]).status.code(), Some(0));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER events_no_update;")
        .unwrap();
    conn.execute("UPDATE events SET signature = zeroblob(64) WHERE seq = 2 AND author_id = (SELECT author_id FROM events WHERE op = 'undo')", [])
        .unwrap();
    drop(conn);
    let out = cli(&["verify", p]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.lines().count(), 1);
    assert!(
        stdout.contains("alice #2") && stdout.contains("signature"),
        "{stdout}"
    );
}
