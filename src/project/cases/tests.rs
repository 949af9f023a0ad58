#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use proptest::prelude::*;

use super::*;
use crate::project::members::Member;

fn id(n: u8) -> Id {
    Id([n; 16])
}

const ANN_A: u8 = 1;
const ANN_B: u8 = 2;
const REVIEWER: u8 = 3;
const SENIOR: u8 = 4;
const ADMIN: u8 = 5;
const OUTSIDER: u8 = 6; // removed member

fn members() -> Members {
    let mut m = Members::new();
    let mut add = |n: u8, roles: &[Role], active: bool| {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        m.insert(
            id(n),
            Member {
                user_id: id(n),
                name: format!("user{n}"),
                roles: Roles::of(roles).unwrap(),
                sign_pk: signing.verifying_key(),
                box_pk: [n; 32],
                active,
            },
        );
    };
    add(ANN_A, &[Role::Annotator], true);
    add(ANN_B, &[Role::Annotator], true);
    add(REVIEWER, &[Role::Reviewer], true);
    add(SENIOR, &[Role::Senior], true);
    add(ADMIN, &[Role::Admin], true);
    add(
        OUTSIDER,
        &[Role::Reviewer, Role::Senior, Role::Admin],
        false,
    );
    m
}

fn series() -> ImageRef {
    case_from_name("1.2.3.4")
}

fn ev(n: u64, author: u8, action: CaseAction) -> WorkflowEvent {
    WorkflowEvent {
        event: Id([n as u8; 16]),
        id: Id([(n as u8).wrapping_add(100); 16]),
        author: id(author),
        hlc: (n as i64) << 16,
        hash: vec![n as u8; 32],
        record: WorkflowRecord {
            case: (!matches!(action, CaseAction::Policy { .. })).then(series),
            action,
        },
    }
}

fn assign(blinded: bool) -> CaseAction {
    CaseAction::Assign {
        readers: vec![id(ANN_A), id(ANN_B)],
        blinded,
    }
}

fn escalate() -> CaseAction {
    CaseAction::Escalate {
        to: id(SENIOR),
        question: "Is this enhancement a lesion?".into(),
    }
}

fn reject() -> CaseAction {
    CaseAction::Reject {
        reason: "Margins missed on slice 40".into(),
    }
}

fn adjudicate() -> CaseAction {
    CaseAction::Adjudicate {
        answer: "Yes: a 12 mm lesion".into(),
        consensus: Vec::new(),
    }
}

fn comment() -> CaseAction {
    CaseAction::Comment {
        annotation: None,
        text: "see slice 40".into(),
        mentions: vec![id(REVIEWER)],
    }
}

fn status_of(events: Vec<WorkflowEvent>) -> Cases {
    derive(events, &members())
}

#[test]
fn the_whole_flow_with_a_rejection_and_an_escalation() {
    let mut evs = vec![
        ev(1, ADMIN, assign(true)),
        ev(2, ANN_A, CaseAction::Start),
        ev(3, ANN_A, CaseAction::Submit),
    ];
    let c = status_of(evs.clone());
    let s = c.get(&series()).unwrap();
    assert_eq!(s.status, Status::InProgress, "one of two readers submitted");
    assert!(s.hides_others_from(id(ANN_B)));
    assert!(!s.hides_others_from(id(ANN_A)), "A has submitted");
    evs.push(ev(4, ANN_B, CaseAction::Submit));
    evs.push(ev(5, REVIEWER, CaseAction::StartReview));
    evs.push(ev(6, REVIEWER, reject()));
    let c = status_of(evs.clone());
    let s = c.get(&series()).unwrap();
    assert_eq!(s.status, Status::Rejected);
    assert_eq!(
        s.reject_reason.as_deref(),
        Some("Margins missed on slice 40")
    );
    assert!(s.submitted.is_empty(), "a rejection starts a new round");
    evs.push(ev(7, ANN_A, CaseAction::Submit));
    evs.push(ev(8, ANN_B, CaseAction::Submit));
    evs.push(ev(9, REVIEWER, escalate()));
    evs.push(ev(10, SENIOR, adjudicate()));
    evs.push(ev(11, SENIOR, comment()));
    let c = status_of(evs);
    let s = c.get(&series()).unwrap();
    assert!(c.ignored.is_empty(), "{:?}", c.ignored);
    assert_eq!(s.status, Status::Adjudicated);
    assert_eq!(s.escalated_to, Some(id(SENIOR)));
    assert_eq!(s.answer.as_deref(), Some("Yes: a 12 mm lesion"));
    assert_eq!(s.comments.len(), 1);
    let statuses: Vec<Status> = s.steps.iter().map(|x| x.status).collect();
    // A's first submit while in progress adds no step.
    assert_eq!(
        statuses,
        [
            Status::New,
            Status::InProgress,
            Status::Submitted,
            Status::InReview,
            Status::Rejected,
            Status::InProgress,
            Status::Submitted,
            Status::Escalated,
            Status::Adjudicated
        ]
    );
    assert_eq!(s.submitted_ms(), Some(4));
    assert_eq!(s.decided_ms(), Some(10));
}

/// The states the permission matrix is checked in.
fn state_after(actions: Vec<(u8, CaseAction)>) -> Option<CaseState> {
    let evs = actions
        .into_iter()
        .enumerate()
        .map(|(i, (a, x))| ev(i as u64 + 1, a, x))
        .collect();
    let c = status_of(evs);
    assert!(c.ignored.is_empty(), "{:?}", c.ignored);
    c.get(&series()).cloned()
}

#[test]
fn permission_matrix_every_action_for_every_role() {
    let m = members();
    let roles_of = |u: Id| m.get(&u).filter(|x| x.active).map(|x| x.roles);
    let new = state_after(vec![(ADMIN, assign(false))]);
    let submitted = state_after(vec![
        (ADMIN, assign(false)),
        (ANN_A, CaseAction::Submit),
        (ANN_B, CaseAction::Submit),
    ]);
    let escalated = state_after(vec![
        (ADMIN, assign(false)),
        (ANN_A, CaseAction::Submit),
        (ANN_B, CaseAction::Submit),
        (REVIEWER, escalate()),
    ]);
    // (action, state, who may do it; everyone else is refused)
    let table: Vec<(CaseAction, Option<CaseState>, Vec<u8>)> = vec![
        (
            CaseAction::Policy {
                second_read_all: true,
            },
            None,
            vec![ADMIN],
        ),
        (assign(true), None, vec![REVIEWER, ADMIN]),
        (CaseAction::Start, new.clone(), vec![ANN_A, ANN_B]),
        (CaseAction::Submit, new.clone(), vec![ANN_A, ANN_B]),
        // Without an assignment an annotator hands in their own reading.
        (CaseAction::Submit, None, vec![ANN_A, ANN_B]),
        (CaseAction::StartReview, submitted.clone(), vec![REVIEWER]),
        (
            CaseAction::Approve { note: None },
            submitted.clone(),
            vec![REVIEWER],
        ),
        (reject(), submitted.clone(), vec![REVIEWER]),
        (escalate(), submitted.clone(), vec![REVIEWER]),
        (adjudicate(), escalated.clone(), vec![SENIOR]),
        (
            comment(),
            new.clone(),
            vec![ANN_A, ANN_B, REVIEWER, SENIOR, ADMIN],
        ),
        // Nothing is allowed in the wrong state.
        (CaseAction::Approve { note: None }, new.clone(), vec![]),
        (CaseAction::StartReview, new.clone(), vec![]),
        (adjudicate(), submitted.clone(), vec![]),
        (CaseAction::Submit, submitted.clone(), vec![]),
        (assign(false), submitted.clone(), vec![]),
        (comment(), None, vec![]),
    ];
    for (action, state, allowed) in &table {
        for user in [ANN_A, ANN_B, REVIEWER, SENIOR, ADMIN, OUTSIDER] {
            let verdict = permit(
                state.as_ref(),
                id(user),
                roles_of(id(user)),
                action,
                &roles_of,
            );
            assert_eq!(
                verdict.is_ok(),
                allowed.contains(&user),
                "{} by user{user} in {:?}: {verdict:?}",
                action.name(),
                state.as_ref().map(|s| s.status)
            );
            if let Err(reason) = verdict {
                assert!(!reason.contains('\n') && !reason.is_empty());
            }
        }
    }
}

#[test]
fn a_reader_never_reviews_their_own_case() {
    let mut m = members();
    // A reader who is also a reviewer still cannot review the case they read.
    m.get_mut(&id(ANN_A)).unwrap().roles = Roles::of(&[Role::Annotator, Role::Reviewer]).unwrap();
    let evs = vec![
        ev(1, ADMIN, assign(false)),
        ev(2, ANN_A, CaseAction::Submit),
        ev(3, ANN_B, CaseAction::Submit),
        ev(4, ANN_A, CaseAction::Approve { note: None }),
    ];
    let c = derive(evs, &m);
    assert_eq!(c.get(&series()).unwrap().status, Status::Submitted);
    assert_eq!(c.ignored.len(), 1);
    assert!(c.ignored[0].reason.contains("reader"), "{:?}", c.ignored);
}

#[test]
fn concurrent_decisions_resolve_by_the_merge_order_and_list_the_loser() {
    let evs = vec![
        ev(1, ADMIN, assign(false)),
        ev(2, ANN_A, CaseAction::Submit),
        ev(3, ANN_B, CaseAction::Submit),
        ev(5, REVIEWER, CaseAction::Approve { note: None }),
        ev(4, REVIEWER, reject()),
    ];
    let c = status_of(evs);
    // HLC 4 (reject) comes first; the approval of a rejected case is ignored.
    assert_eq!(c.get(&series()).unwrap().status, Status::Rejected);
    assert_eq!(c.ignored.len(), 1);
    assert_eq!(c.ignored[0].action, "approve");
}

#[test]
fn records_are_validated() {
    let too_long = "x".repeat(MAX_TEXT + 1);
    for (case, action) in [
        (None, CaseAction::Submit),
        (
            Some(series()),
            CaseAction::Policy {
                second_read_all: true,
            },
        ),
        (Some(series()), CaseAction::Reject { reason: " ".into() }),
        (
            Some(series()),
            CaseAction::Comment {
                annotation: None,
                text: too_long.clone(),
                mentions: vec![],
            },
        ),
        (
            Some(series()),
            CaseAction::Assign {
                readers: vec![id(1), id(1)],
                blinded: false,
            },
        ),
        (
            Some(ImageRef::Dicom {
                series_uid: "1.2".into(),
                sop_uid: Some("1.2.3".into()),
                frame: None,
                plane: None,
                provenance: None,
            }),
            CaseAction::Submit,
        ),
    ] {
        let r = WorkflowRecord { case, action };
        assert!(r.validate().is_err(), "{r:?}");
    }
}

#[test]
fn case_names_parse_series_and_slides() {
    let sha = "ab".repeat(32);
    assert_eq!(
        case_from_name(&sha),
        ImageRef::Slide {
            slide_sha256: sha.clone()
        }
    );
    assert_eq!(case_name(&case_from_name("1.2.840.1")), "1.2.840.1");
    assert_eq!(case_name(&case_from_name(&sha.to_uppercase())), sha);
}

fn any_action() -> impl Strategy<Value = CaseAction> {
    prop_oneof![
        Just(assign(false)),
        Just(assign(true)),
        Just(CaseAction::Start),
        Just(CaseAction::Submit),
        Just(CaseAction::StartReview),
        Just(CaseAction::Approve { note: None }),
        Just(reject()),
        Just(escalate()),
        Just(adjudicate()),
        Just(comment()),
        Just(CaseAction::Policy {
            second_read_all: true
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random legal and illegal steps by random members: the derived status is the last
    /// applied step's; every applied record was permitted in the state before it (and
    /// every ignored one was not); readers never approve; the order the records arrive in
    /// changes nothing.
    #[test]
    fn derived_status_follows_the_log(
        steps in proptest::collection::vec((0u8..6, any_action()), 0..40),
        seed in any::<u64>(),
    ) {
        let m = members();
        let roles_of = |u: Id| m.get(&u).filter(|x| x.active).map(|x| x.roles);
        let evs: Vec<WorkflowEvent> = steps
            .iter()
            .enumerate()
            .map(|(i, (who, a))| ev(i as u64 + 1, who + 1, a.clone()))
            .collect();
        let all = derive(evs.clone(), &m);
        // Replay one by one with the reference rule.
        let mut applied = 0usize;
        for i in 0..evs.len() {
            let before = derive(evs[..i].to_vec(), &m);
            let state = before.get(&series());
            let e = &evs[i];
            let ok = permit(state, e.author, roles_of(e.author), &e.record.action, &roles_of).is_ok();
            let after = derive(evs[..=i].to_vec(), &m);
            prop_assert_eq!(after.ignored.len(), before.ignored.len() + usize::from(!ok));
            if ok {
                applied += 1;
                if matches!(e.record.action, CaseAction::Approve { .. }) {
                    prop_assert!(!state.unwrap().readers.contains(&e.author), "a reader approved");
                }
            }
        }
        prop_assert_eq!(applied + all.ignored.len(), evs.len());
        if let Some(s) = all.get(&series()) {
            prop_assert_eq!(s.steps.last().map(|x| x.status), Some(s.status));
        }
        // Any arrival order, with duplicates, derives the same cases.
        let mut shuffled = evs.clone();
        shuffled.extend(evs.iter().take(3).cloned());
        let mut rng = seed;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (rng >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(derive(shuffled, &m), all);
    }
}
