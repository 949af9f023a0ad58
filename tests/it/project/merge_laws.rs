//! Merge laws, property-based, on the pure merge function (`project::merge`): 2–5
//! simulated annotators edit copies (create, modify, delete, undo, strokes that extend a
//! shape) and exchange event sets in random orders with duplicates. Materialisation is
//! independent of order and duplicates (so merging is commutative, associative and
//! idempotent), replicas holding the same events have byte-identical canonical state,
//! local steps equal materialisation from scratch, and no acknowledged edit is lost: every
//! write is either a current version of its field or seen by one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tessera::project::Id;
use tessera::project::merge::{self, Field, Node, Registers};
use tessera::project::model::{
    Annotation, AnnotationBody, Edit, EventPayload, ImageRef, Kind, Label,
};

#[derive(Debug, Clone)]
enum Op {
    Edit {
        replica: usize,
        target: usize,
        kind: u8,
        value: u8,
    },
    Sync {
        from: usize,
        to: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..5usize, 0..3usize, 0..6u8, 0..4u8).prop_map(|(replica, target, kind, value)| Op::Edit {
            replica,
            target,
            kind,
            value
        }),
        1 => (0..5usize, 0..5usize).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

#[derive(Debug, Clone)]
struct Ev {
    id: Id,
    author: Id,
    hlc: i64,
    hash: [u8; 32],
    payload: EventPayload,
}

#[derive(Default, Clone)]
struct Replica {
    events: BTreeMap<Id, Ev>,
    /// This replica's own edits, newest last, and which were undone.
    own: Vec<Id>,
    undone: BTreeSet<Id>,
}

fn ann(id: Id, label: u8, x: f64, points: usize, comment: Option<u8>) -> Annotation {
    Annotation {
        id,
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: "1.2.3".into(),
                sop_uid: None,
                frame: Some(0),
                plane: None,
                provenance: None,
            },
            kind: if points >= 3 {
                Kind::Polygon
            } else {
                Kind::Ruler
            },
            points: (0..points.max(2)).map(|k| [x + k as f64, 1.0]).collect(),
            label: Label {
                name: ["lesion", "normal", "cyst", "nodule"][label as usize % 4].into(),
                scheme: None,
                code: None,
                meaning: None,
            },
            comment: comment.map(|c| format!("note {c}")),
        },
    }
}

fn nodes<'a>(evs: impl Iterator<Item = &'a Ev>) -> Vec<Node<'a>> {
    evs.map(|e| Node {
        event: e.id,
        author: e.author,
        hlc: e.hlc,
        hash: &e.hash,
        payload: &e.payload,
    })
    .collect()
}

/// Canonical state of an event set given in `order` (may repeat events).
fn materialize_all(order: &[&Ev]) -> BTreeMap<Id, Registers> {
    let mut by_target: BTreeMap<Id, Vec<&Ev>> = BTreeMap::new();
    for e in order {
        by_target
            .entry(e.payload.edit.target())
            .or_default()
            .push(e);
    }
    by_target
        .into_iter()
        .map(|(t, evs)| (t, merge::materialize(t, &nodes(evs.into_iter())).unwrap()))
        .collect()
}

fn canonical(state: &BTreeMap<Id, Registers>) -> Vec<u8> {
    serde_json::to_vec(&state.values().collect::<Vec<_>>()).unwrap()
}

struct Sim {
    replicas: Vec<Replica>,
    authors: Vec<Id>,
    targets: Vec<Id>,
    counter: u64,
    acked: Vec<Id>,
}

impl Sim {
    fn current(&self, r: usize, target: Id) -> Option<Registers> {
        let evs: Vec<&Ev> = self.replicas[r]
            .events
            .values()
            .filter(|e| e.payload.edit.target() == target)
            .collect();
        (!evs.is_empty()).then(|| merge::materialize(target, &nodes(evs.into_iter())).unwrap())
    }

    fn edit(&mut self, r: usize, target: usize, kind: u8, value: u8) {
        let target = self.targets[target];
        let current = self.current(r, target);
        let shown = current.as_ref().and_then(Registers::display);
        let mut undo_of = None;
        let edit = match (kind, &shown) {
            (_, None) if current.is_none() || kind < 3 => Edit::Create {
                annotation: ann(target, value, f64::from(value), 2, None),
            },
            (_, None) => return,
            (0 | 1, Some(s)) => {
                let mut after = s.clone();
                after.body.label = ann(target, value, 0.0, 2, None).body.label;
                Edit::Update {
                    before: s.clone(),
                    after,
                }
            }
            (2, Some(s)) => {
                // A segment stroke: the shape grows by a point.
                let mut after = s.clone();
                after.body.kind = Kind::Polygon;
                after.body.points.push([f64::from(value), 9.0]);
                if after.body.points.len() < 3 {
                    after.body.points.push([0.0, 0.0]);
                }
                Edit::Update {
                    before: s.clone(),
                    after,
                }
            }
            (3, Some(s)) => {
                let mut after = s.clone();
                after.body.comment = Some(format!("note {value}"));
                Edit::Update {
                    before: s.clone(),
                    after,
                }
            }
            (4, Some(s)) => Edit::Delete {
                annotation: s.clone(),
            },
            (_, Some(_)) => {
                // Undo this replica's latest edit not yet undone, when it still applies.
                let rep = &self.replicas[r];
                let Some(&last) = rep.own.iter().rev().find(|id| !rep.undone.contains(*id)) else {
                    return;
                };
                undo_of = Some(last);
                rep.events[&last].payload.edit.inverse()
            }
        };
        let mut payload = EventPayload::new(edit);
        payload.undo_of = undo_of;
        payload.preds = Some(merge::preds_for(current.as_ref()));
        self.counter += 1;
        let id = Id::random().unwrap();
        let Ok(stepped) = merge::apply_local(current.as_ref(), &payload, id) else {
            return; // a stale undo or edit is refused, as the session refuses it
        };
        let hlc = self.replicas[r]
            .events
            .values()
            .map(|e| e.hlc)
            .max()
            .unwrap_or(0)
            + 1;
        let ev = Ev {
            id,
            author: self.authors[r],
            hlc,
            hash: [(self.counter % 251) as u8; 32],
            payload,
        };
        let rep = &mut self.replicas[r];
        rep.events.insert(id, ev);
        rep.own.push(id);
        if let Some(u) = undo_of {
            rep.undone.insert(u);
        }
        self.acked.push(id);
        assert_eq!(
            self.current(r, target).unwrap(),
            stepped,
            "a local step equals materialisation from scratch"
        );
    }

    fn sync(&mut self, from: usize, to: usize) {
        let incoming: Vec<Ev> = self.replicas[from].events.values().cloned().collect();
        for e in incoming {
            self.replicas[to].events.entry(e.id).or_insert(e);
        }
    }
}

/// True when `a` is `b` or one of `b`'s ancestors on the same annotation.
fn seen(a: Id, b: Id, evs: &HashMap<Id, &Ev>) -> bool {
    let mut stack = vec![b];
    let mut visited = BTreeSet::new();
    while let Some(x) = stack.pop() {
        if x == a {
            return true;
        }
        if visited.insert(x)
            && let Some(e) = evs.get(&x)
        {
            stack.extend(e.payload.preds.clone().unwrap_or_default());
        }
    }
    false
}

fn run_case(n: usize, ops: &[Op], shuffle_seed: u64) -> Result<(), TestCaseError> {
    // Replicas 0 and 1 belong to the same person when there are 3 or more.
    let people: Vec<Id> = (0..n).map(|_| Id::random().unwrap()).collect();
    let authors: Vec<Id> = (0..n)
        .map(|r| {
            if n >= 3 && r == 1 {
                people[0]
            } else {
                people[r]
            }
        })
        .collect();
    let mut sim = Sim {
        replicas: vec![Replica::default(); n],
        authors,
        targets: (0..3).map(|_| Id::random().unwrap()).collect(),
        counter: 0,
        acked: Vec::new(),
    };
    for op in ops {
        match *op {
            Op::Edit {
                replica,
                target,
                kind,
                value,
            } => sim.edit(replica % n, target, kind, value),
            Op::Sync { from, to } => sim.sync(from % n, to % n),
        }
    }
    // Laws on three replicas' sets A, B, C, each given in several orders, with duplicates.
    let sets: Vec<Vec<&Ev>> = sim
        .replicas
        .iter()
        .map(|r| r.events.values().collect())
        .collect();
    let (a, b, c) = (&sets[0], &sets[1 % n], &sets[2 % n]);
    fn cat<'a>(xs: &[&Vec<&'a Ev>]) -> Vec<&'a Ev> {
        xs.iter().flat_map(|x| x.iter().copied()).collect()
    }
    let ab = canonical(&materialize_all(&cat(&[a, b])));
    prop_assert_eq!(
        &ab,
        &canonical(&materialize_all(&cat(&[b, a]))),
        "commutative"
    );
    let abc1 = canonical(&materialize_all(&cat(&[a, b, c])));
    let abc2 = canonical(&materialize_all(&cat(&[c, b, a, b])));
    prop_assert_eq!(&abc1, &abc2, "associative");
    let aa = canonical(&materialize_all(&cat(&[a, a])));
    prop_assert_eq!(&aa, &canonical(&materialize_all(&cat(&[a]))), "idempotent");
    let mut shuffled = cat(&[a, b, c]);
    let mut s = shuffle_seed | 1;
    for i in (1..shuffled.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        shuffled.swap(i, (s % (i as u64 + 1)) as usize);
    }
    prop_assert_eq!(&abc1, &canonical(&materialize_all(&shuffled)), "any order");

    // Everyone exchanges with everyone (in a rotating order): same events, same bytes.
    for round in 0..2 {
        for i in 0..n {
            sim.sync(i, (i + 1 + round) % n);
            sim.sync((i + 1 + round) % n, i);
        }
    }
    let states: Vec<Vec<u8>> = sim
        .replicas
        .iter()
        .map(|r| canonical(&materialize_all(&r.events.values().collect::<Vec<_>>())))
        .collect();
    for st in &states[1..] {
        prop_assert_eq!(st, &states[0], "converged replicas differ");
    }
    // No acknowledged event disappears, and no write is lost: each is a current version
    // of the field it wrote or was seen by one.
    let all = &sim.replicas[0].events;
    for id in &sim.acked {
        prop_assert!(all.contains_key(id), "acknowledged event lost");
    }
    let by_id: HashMap<Id, &Ev> = all.iter().map(|(k, v)| (*k, v)).collect();
    let state = materialize_all(&all.values().collect::<Vec<_>>());
    for e in all.values() {
        let regs = &state[&e.payload.edit.target()];
        let w = merge::writes(&e.payload);
        for f in Field::ALL {
            if !w[f as usize] {
                continue;
            }
            let versions: Vec<Id> = match f {
                Field::Exists => regs.exists.iter().map(|v| v.event).collect(),
                Field::Image => regs.image.iter().map(|v| v.event).collect(),
                Field::Geometry => regs.geometry.iter().map(|v| v.event).collect(),
                Field::Label => regs.label.iter().map(|v| v.event).collect(),
                Field::Comment => regs.comment.iter().map(|v| v.event).collect(),
                Field::Class
                | Field::Segmentation
                | Field::Segment
                | Field::LabelMap
                | Field::Workflow => {
                    unreachable!("not a field of an annotation")
                }
            };
            prop_assert!(
                versions.iter().any(|v| seen(e.id, *v, &by_id)),
                "the {f:?} written by an event is neither current nor superseded"
            );
        }
    }
    Ok(())
}

#[test]
fn merge_is_commutative_associative_idempotent_and_loses_no_edit() {
    let cases: u32 = std::env::var("TESSERA_MERGE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let start = std::time::Instant::now();
    runner
        .run(
            &(2..=5usize, prop::collection::vec(op(), 1..24), any::<u64>()),
            |(n, ops, seed)| run_case(n, &ops, seed),
        )
        .unwrap();
    eprintln!(
        "merge laws: {cases} cases in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
