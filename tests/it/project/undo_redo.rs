//! Undo and redo as appended history, property-based: any sequence of creates, edits,
//! deletes, undos and redos ends where an editor's undo/redo stacks say it should, the
//! same after reopening, and the project verifies. A second user's edits are never
//! undone by the first.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tessera::project::model::{Annotation, Edit};
use tessera::project::{Id, Project, Role, VerifyOnOpen};

use super::{TINY, ann};

#[derive(Clone, Debug)]
enum Op {
    Create(u8),
    Move(u8, u8),
    Delete(u8),
    Undo,
    Redo,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Create),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Move(a, b)),
        1 => any::<u8>().prop_map(Op::Delete),
        3 => Just(Op::Undo),
        2 => Just(Op::Redo),
    ]
}

/// An editor's model: applied edits and the redo stack.
#[derive(Default)]
struct Model {
    state: BTreeMap<Id, Annotation>,
    done: Vec<Edit>,
    undone: Vec<Edit>,
}

impl Model {
    fn apply(&mut self, edit: &Edit) {
        match edit {
            Edit::Create { annotation } => {
                self.state.insert(annotation.id, annotation.clone());
            }
            Edit::Update { after, .. } => {
                self.state.insert(after.id, after.clone());
            }
            Edit::Delete { annotation } => {
                self.state.remove(&annotation.id);
            }
            other => unreachable!("this model only makes annotation edits: {other:?}"),
        }
    }
}

fn pick(model: &Model, n: u8) -> Option<Annotation> {
    let values: Vec<&Annotation> = model.state.values().collect();
    (!values.is_empty()).then(|| values[n as usize % values.len()].clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn undo_redo_sequences_end_where_an_editor_would(ops in proptest::collection::vec(op(), 1..24)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.tessera");
        let (mut s, _) = Project::create(&path, "alice", b"pw-a", TINY).unwrap();
        s.add_user("bob", Role::Annotator, b"pw-b", TINY).unwrap();
        let mut model = Model::default();
        for op in &ops {
            let edit = match op {
                Op::Create(x) => Some(Edit::Create { annotation: ann("1.2.3", "Lesion", None, f64::from(*x)) }),
                Op::Move(n, x) => pick(&model, *n).map(|before| {
                    let mut after = before.clone();
                    after.body.points[0][1] += f64::from(*x) + 1.0;
                    Edit::Update { before, after }
                }),
                Op::Delete(n) => pick(&model, *n).map(|annotation| Edit::Delete { annotation }),
                Op::Undo => {
                    let did = s.undo().unwrap().is_some();
                    let expected = model.done.pop();
                    prop_assert_eq!(did, expected.is_some());
                    if let Some(e) = expected {
                        model.apply(&e.inverse());
                        model.undone.push(e);
                    }
                    None
                }
                Op::Redo => {
                    let did = s.redo().unwrap().is_some();
                    let expected = model.undone.pop();
                    prop_assert_eq!(did, expected.is_some());
                    if let Some(e) = expected {
                        model.apply(&e);
                        model.done.push(e);
                    }
                    None
                }
            };
            if let Some(edit) = edit {
                s.commit_edit(edit.clone()).unwrap();
                model.apply(&edit);
                model.done.push(edit);
                model.undone.clear();
            }
            let now: Vec<Annotation> = s.annotations().unwrap();
            let want: Vec<Annotation> = model.state.values().cloned().collect();
            prop_assert_eq!(now, want);
        }
        drop(s);
        // Bob's edit is his: alice's undo passes over it.
        let mut bob = Project::open(&path).unwrap().unlock("bob", b"pw-b", VerifyOnOpen::Yes).unwrap();
        let bobs = ann("1.2.3", "Mass", None, 500.0);
        bob.commit_edit(Edit::Create { annotation: bobs.clone() }).unwrap();
        drop(bob);
        let mut s = Project::open(&path).unwrap().unlock("alice", b"pw-a", VerifyOnOpen::Yes).unwrap();
        let mut want: Vec<Annotation> = model.state.values().cloned().collect();
        want.push(bobs.clone());
        want.sort_by_key(|a| a.id);
        prop_assert_eq!(s.annotations().unwrap(), want);
        while s.undo().unwrap().is_some() {}
        prop_assert_eq!(s.annotations().unwrap(), vec![bobs]);
        prop_assert!(s.verify().is_ok());
    }
}
