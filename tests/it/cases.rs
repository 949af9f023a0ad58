//! Clinical QA through the domain API and the CLI: roles, the review flow, blinded
//! reading (nothing of another reader leaks before submit, through any read path), edits
//! of others' annotations, frozen submitted cases, audited refusals, and workflow records
//! travelling by sync bundles.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use crate::project::TINY;
use std::path::{Path, PathBuf};
use std::process::Command;

use tessera::project::cases::{CaseAction, Status, case_from_name};
use tessera::project::model::{Annotation, AnnotationBody, Edit, ImageRef, Kind, Label};
use tessera::project::{Id, Project, ProjectError, Role, Roles, Session, VerifyOnOpen};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");
const SERIES: &str = "1.2.826.0.1.3680043.8.498.4242";

fn pw(user: &str) -> String {
    format!("pw-{user}")
}

fn open(path: &Path, user: &str) -> Session {
    Project::open(path)
        .unwrap()
        .unlock(user, pw(user).as_bytes(), VerifyOnOpen::Yes)
        .unwrap()
}

/// alice (admin), bob and carol (annotators), rita (reviewer), sam (senior).
fn project(dir: &Path) -> PathBuf {
    let path = dir.join("qa.tessera");
    let (mut s, _) = Project::create(&path, "alice", pw("alice").as_bytes(), TINY).unwrap();
    for (name, role) in [
        ("bob", Role::Annotator),
        ("carol", Role::Annotator),
        ("rita", Role::Reviewer),
        ("sam", Role::Senior),
    ] {
        s.add_user(name, role, pw(name).as_bytes(), TINY).unwrap();
    }
    path
}

fn finding(label: &str, x: f64) -> Annotation {
    Annotation {
        id: Id::random().unwrap(),
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: SERIES.into(),
                sop_uid: Some(format!("{SERIES}.7")),
                frame: None,
                plane: None,
                provenance: None,
            },
            kind: Kind::Ruler,
            points: vec![[x, 10.0], [x + 20.0, 10.0]],
            label: Label {
                name: label.into(),
                scheme: None,
                code: None,
                meaning: None,
            },
            comment: None,
        },
    }
}

fn case() -> ImageRef {
    case_from_name(SERIES)
}

fn not_permitted(r: Result<impl std::fmt::Debug, ProjectError>) -> String {
    match r {
        Err(ProjectError::NotPermitted(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn blinded_readers_submit_a_reviewer_escalates_a_senior_adjudicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path());
    let ids: Vec<Id> = {
        let mut a = open(&path, "alice");
        let ids = vec![a.member_id("bob").unwrap(), a.member_id("carol").unwrap()];
        a.case_act(
            &case(),
            CaseAction::Assign {
                readers: ids.clone(),
                blinded: true,
            },
        )
        .unwrap();
        assert_eq!(a.case(&case()).unwrap().unwrap().status, Status::New);
        ids
    };
    let bobs = finding("BOB-SECRET-LESION", 10.0);
    let carols = finding("CAROL-SECRET-NODULE", 50.0);
    open(&path, "bob")
        .commit_edit(Edit::Create {
            annotation: bobs.clone(),
        })
        .unwrap();
    open(&path, "carol")
        .commit_edit(Edit::Create {
            annotation: carols.clone(),
        })
        .unwrap();

    // The first edit started the case.
    let mut rita = open(&path, "rita");
    assert_eq!(
        rita.case(&case()).unwrap().unwrap().status,
        Status::InProgress
    );
    assert_eq!(
        rita.annotations().unwrap().len(),
        2,
        "reviewers read everything"
    );
    drop(rita);

    // Blinded: carol sees only her own, through every read path.
    let mut carol = open(&path, "carol");
    let seen: Vec<Id> = carol.annotations().unwrap().iter().map(|a| a.id).collect();
    assert_eq!(seen, vec![carols.id]);
    assert_eq!(carol.annotations_for_image(&case()).unwrap().len(), 1);
    assert!(carol.history().unwrap().iter().all(|h| h.target != bobs.id));
    let recent = carol.recent_history(100).unwrap();
    assert!(recent.iter().all(|(h, _)| h.target != bobs.id));
    let doc = serde_json::to_string(&carol.export_labels().unwrap()).unwrap();
    assert!(!doc.contains("BOB-SECRET"), "{doc}");
    // ... and cannot reach bob's annotation to change it.
    let mut moved = bobs.clone();
    moved.body.points[0][0] += 1.0;
    not_permitted(carol.commit_edit(Edit::Update {
        before: bobs.clone(),
        after: moved,
    }));
    drop(carol);

    // Bob submits: the case waits for carol; bob now reads carol's work.
    let mut bob = open(&path, "bob");
    bob.case_act(&case(), CaseAction::Submit).unwrap();
    assert_eq!(bob.annotations().unwrap().len(), 2);
    assert_eq!(
        bob.case(&case()).unwrap().unwrap().status,
        Status::InProgress
    );
    // Submitted work is frozen.
    let why = not_permitted(bob.commit_edit(Edit::Delete {
        annotation: bobs.clone(),
    }));
    assert!(why.contains("submitted"), "{why}");
    drop(bob);
    let mut carol = open(&path, "carol");
    assert_eq!(carol.annotations().unwrap().len(), 1, "still blinded");
    carol.case_act(&case(), CaseAction::Submit).unwrap();
    assert_eq!(carol.annotations().unwrap().len(), 2);
    drop(carol);

    // Review: a reader cannot review; rita escalates to sam with a question.
    let mut rita = open(&path, "rita");
    assert_eq!(
        rita.case(&case()).unwrap().unwrap().status,
        Status::Submitted
    );
    rita.case_act(&case(), CaseAction::StartReview).unwrap();
    let sam_id = rita.member_id("sam").unwrap();
    rita.case_act(
        &case(),
        CaseAction::Escalate {
            to: sam_id,
            question: "Same lesion?".into(),
        },
    )
    .unwrap();
    let why = not_permitted(rita.case_act(
        &case(),
        CaseAction::Adjudicate {
            answer: "yes".into(),
            consensus: vec![],
        },
    ));
    assert!(why.contains("senior"), "{why}");
    drop(rita);

    // Sam adjudicates with a consensus annotation made from both readings; a senior may
    // correct a reader's annotation, keeping it in the history.
    let mut sam = open(&path, "sam");
    let consensus = finding("Lesion (consensus)", 30.0);
    sam.commit_edit(Edit::Create {
        annotation: consensus.clone(),
    })
    .unwrap();
    sam.case_act(
        &case(),
        CaseAction::Adjudicate {
            answer: "One lesion; both readers found it".into(),
            consensus: vec![tessera::project::cases::Consensus {
                annotation: consensus.id,
                from: vec![bobs.id, carols.id],
            }],
        },
    )
    .unwrap();
    let c = sam.case(&case()).unwrap().unwrap();
    assert_eq!(c.status, Status::Adjudicated);
    assert_eq!(c.readers, ids);
    assert_eq!(c.consensus[0].from, vec![bobs.id, carols.id]);
    sam.verify().unwrap();
    drop(sam);

    // The file holds none of it in clear.
    let bytes = std::fs::read(&path).unwrap();
    for needle in ["Same lesion", "One lesion", SERIES, "BOB-SECRET"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in clear"
        );
    }
}

#[test]
fn roles_are_enforced_and_refusals_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path());
    let carols = finding("Nodule", 5.0);
    open(&path, "carol")
        .commit_edit(Edit::Create {
            annotation: carols.clone(),
        })
        .unwrap();
    // An annotator changes only their own annotations; a reviewer adds a correction
    // instead of changing a reader's geometry.
    let mut moved = carols.clone();
    moved.body.points[1][0] += 3.0;
    for user in ["bob", "rita"] {
        let why = not_permitted(open(&path, user).commit_edit(Edit::Update {
            before: carols.clone(),
            after: moved.clone(),
        }));
        assert!(why.contains("your own"), "{why}");
    }
    open(&path, "rita")
        .commit_edit(Edit::Create {
            annotation: finding("Nodule (corrected by rita)", 6.0),
        })
        .unwrap();
    // Only admins and reviewers assign; only admins set the policy and roles.
    let mut bob = open(&path, "bob");
    let bob_id = bob.user_id();
    not_permitted(bob.case_act(
        &case(),
        CaseAction::Assign {
            readers: vec![bob_id],
            blinded: false,
        },
    ));
    not_permitted(bob.set_review_policy(true));
    assert!(matches!(
        bob.set_roles("bob", Roles::of(&[Role::Admin]).unwrap()),
        Err(ProjectError::NotAdmin { .. })
    ));
    drop(bob);
    // Without an assignment, carol hands in her own reading; she cannot approve it even
    // once she is a reviewer too, and rita (who annotated this image) cannot either.
    let mut carol = open(&path, "carol");
    carol.case_act(&case(), CaseAction::Submit).unwrap();
    drop(carol);
    let mut alice = open(&path, "alice");
    alice
        .set_roles(
            "carol",
            Roles::of(&[Role::Annotator, Role::Reviewer]).unwrap(),
        )
        .unwrap();
    let why = not_permitted(alice.set_roles("alice", Roles::only(Role::Reviewer)));
    assert!(why.contains("last admin"), "{why}");
    drop(alice);
    let why =
        not_permitted(open(&path, "carol").case_act(&case(), CaseAction::Approve { note: None }));
    assert!(why.contains("reader"), "{why}");
    let why =
        not_permitted(open(&path, "rita").case_act(&case(), CaseAction::Approve { note: None }));
    assert!(why.contains("annotated"), "{why}");
    // A senior may correct another reader's annotation (kept in the history).
    open(&path, "alice")
        .set_roles("sam", Roles::of(&[Role::Senior, Role::Reviewer]).unwrap())
        .unwrap();
    let mut sam = open(&path, "sam");
    assert!(sam.has_role(Role::Reviewer));
    sam.case_act(&case(), CaseAction::Approve { note: None })
        .unwrap();
    assert_eq!(sam.case(&case()).unwrap().unwrap().status, Status::Approved);
    let audit = sam.audit_log().unwrap();
    let denied = audit.iter().filter(|e| e.action == "access.denied").count();
    assert!(denied >= 6, "{denied} refusals audited");
    sam.verify().unwrap();
}

#[test]
fn workflow_records_travel_by_bundle_and_derive_the_same_status() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path());
    let copy = dir.path().join("copy.tessera");
    open(&path, "alice").save_copy(&copy).unwrap();
    // On the copy, bob submits; on the original, rita comments... the copy's bundle
    // brings bob's submission over.
    open(&copy, "bob")
        .commit_edit(Edit::Create {
            annotation: finding("Lesion", 1.0),
        })
        .unwrap();
    open(&copy, "bob")
        .case_act(&case(), CaseAction::Submit)
        .unwrap();
    let bundle = dir.path().join("bob.tbundle");
    open(&copy, "bob")
        .export_bundle(&bundle, &[], &mut |_, _| {})
        .unwrap();
    let mut rita = open(&path, "rita");
    rita.import_commit(&bundle, &mut |_, _| {}).unwrap();
    assert_eq!(
        rita.case(&case()).unwrap().unwrap().status,
        Status::Submitted
    );
    rita.case_act(&case(), CaseAction::Approve { note: None })
        .unwrap();
    let back = dir.path().join("rita.tbundle");
    rita.export_bundle(&back, &[], &mut |_, _| {}).unwrap();
    drop(rita);
    let mut bob = open(&copy, "bob");
    bob.import_commit(&back, &mut |_, _| {}).unwrap();
    assert_eq!(bob.case(&case()).unwrap().unwrap().status, Status::Approved);
    assert_eq!(
        bob.canonical_state().unwrap(),
        open(&path, "alice").canonical_state().unwrap()
    );
}

fn cli(path: &Path, user: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg(path)
        .env("TESSERA_USER", user)
        .env("TESSERA_PASSPHRASE", pw(user))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tessera case CMD FILE CASE ...`: the file comes right after the subcommand.
fn case_cli(path: &Path, user: &str, cmd: &str, rest: &[&str]) -> (i32, String, String) {
    let mut args = vec!["case", cmd];
    let p = path.to_str().unwrap().to_owned();
    args.push(&p);
    args.extend_from_slice(rest);
    let out = Command::new(BIN)
        .args(&args)
        .env("TESSERA_USER", user)
        .env("TESSERA_PASSPHRASE", pw(user))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `labels export --reviewed-only` holds only approved or adjudicated cases; the CSV's
/// status column says each case's status.
#[test]
fn reviewed_only_exports_hold_only_decided_cases() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path());
    let other = "1.2.826.0.1.3680043.8.498.7777";
    let mut elsewhere = finding("Cyst", 3.0);
    if let ImageRef::Dicom {
        series_uid,
        sop_uid,
        ..
    } = &mut elsewhere.body.image
    {
        *series_uid = other.into();
        *sop_uid = Some(format!("{other}.1"));
    }
    let mut bob = open(&path, "bob");
    for a in [finding("Lesion", 1.0), elsewhere] {
        bob.commit_edit(Edit::Create { annotation: a }).unwrap();
    }
    bob.case_act(&case(), CaseAction::Submit).unwrap();
    bob.case_act(&case_from_name(other), CaseAction::Submit)
        .unwrap();
    drop(bob);
    let csv = dir.path().join("reviewed.csv");
    let export = |user: &str| {
        Command::new(BIN)
            .args(["labels", "export"])
            .arg(&path)
            .args(["--format", "csv", "--reviewed-only", "--out"])
            .arg(&csv)
            .env("TESSERA_USER", user)
            .env("TESSERA_PASSPHRASE", pw(user))
            .output()
            .unwrap()
    };
    let out = export("rita");
    assert_eq!(out.status.code(), Some(1), "nothing is reviewed yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("approved or adjudicated"));
    open(&path, "rita")
        .case_act(&case(), CaseAction::Approve { note: None })
        .unwrap();
    let out = export("rita");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.contains(",approved,")), "{text}");
    assert!(
        !text.contains("Cyst"),
        "the submitted, unreviewed case stays out: {text}"
    );
}

#[test]
fn the_case_commands() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path());
    let (code, _, err) = case_cli(
        &path,
        "alice",
        "assign",
        &[SERIES, "--to", "bob,carol", "--blinded"],
    );
    assert_eq!(code, 0, "{err}");
    // A refusal: one line, exit 1.
    let (code, _, err) = case_cli(&path, "bob", "review", &[SERIES, "--approve"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not permitted"), "{err}");
    for user in ["bob", "carol"] {
        let (code, out, err) = case_cli(&path, user, "submit", &[SERIES]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("the case is"), "{out}");
    }
    let (code, _, err) = case_cli(
        &path,
        "rita",
        "review",
        &[
            SERIES,
            "--escalate-to",
            "sam",
            "--question",
            "Lesion or vessel?",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = case_cli(
        &path,
        "rita",
        "comment",
        &[SERIES, "--text", "see slice 12", "--mention", "sam"],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = case_cli(&path, "sam", "adjudicate", &[SERIES, "--answer", "Vessel"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&path, "alice", &["case", "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["cases"][0];
    assert_eq!(c["case"], SERIES);
    assert_eq!(c["status"], "adjudicated");
    assert_eq!(c["readers"], serde_json::json!(["bob", "carol"]));
    assert_eq!(c["blinded"], true);
    assert_eq!(c["escalated_to"], "sam");
    assert_eq!(c["question"], "Lesion or vessel?");
    assert_eq!(c["answer"], "Vessel");
    assert_eq!(c["comments"], 1);
    assert_eq!(v["counts"]["adjudicated"], 1);
    assert_eq!(v["counts"]["new"], 0);
    // The agreement report carries the workflow: counts, turnaround, one row per case.
    let (code, out, err) = cli(&path, "alice", &["review", "report", "--csv"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap().split(',').count();
    assert!(out.lines().all(|l| l.split(',').count() == header), "{out}");
    let row = out.lines().find(|l| l.starts_with("case,")).unwrap();
    assert!(
        row.contains(",adjudicated,") && row.contains("bob;carol"),
        "{row}"
    );
    assert!(!out.contains(SERIES), "the report names series by digest");
    let (code, out, err) = cli(&path, "alice", &["review", "report", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cases"]["counts"]["adjudicated"], 1);
    assert_eq!(v["cases"]["escalations"], 1);
    assert_eq!(v["cases"]["decided"], 1);
    let (code, out, _) = cli(&path, "alice", &["review", "report", "--html"]);
    assert_eq!(code, 0);
    assert!(out.contains("Cases per status") && out.contains("adjudicated"));
    // Roles on the command line.
    let out = Command::new(BIN)
        .args(["user", "roles"])
        .arg(&path)
        .args(["bob", "--set", "annotator,senior"])
        .env("TESSERA_USER", "alice")
        .env("TESSERA_PASSPHRASE", pw("alice"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out, _) = cli(&path, "alice", &["user", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("bob\tannotator,senior"), "{out}");
}

/// The permission matrix through the command line: every case command by every role, in
/// the state that command needs, on a fresh copy each time; allowed exactly for the roles
/// the issue names, refused otherwise with one line.
#[test]
fn every_case_command_by_every_role_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = project(dir.path());
    let ids: Vec<Id> = {
        let mut a = open(&base, "alice");
        vec![a.member_id("bob").unwrap(), a.member_id("carol").unwrap()]
    };
    // Three states, each in its own file.
    let state = |name: &str, steps: &[(&str, CaseAction)]| {
        let path = dir.path().join(format!("{name}.tessera"));
        std::fs::copy(&base, &path).unwrap();
        for (who, action) in steps {
            open(&path, who).case_act(&case(), action.clone()).unwrap();
        }
        path
    };
    let assign = CaseAction::Assign {
        readers: ids.clone(),
        blinded: false,
    };
    let new = state("new", &[("alice", assign.clone())]);
    let submitted = state(
        "submitted",
        &[
            ("alice", assign.clone()),
            ("bob", CaseAction::Submit),
            ("carol", CaseAction::Submit),
        ],
    );
    let sam = open(&base, "alice").member_id("sam").unwrap();
    let escalated = state(
        "escalated",
        &[
            ("alice", assign),
            ("bob", CaseAction::Submit),
            ("carol", CaseAction::Submit),
            (
                "rita",
                CaseAction::Escalate {
                    to: sam,
                    question: "?".into(),
                },
            ),
        ],
    );
    let table: Vec<(&str, &Path, Vec<&str>, &[&str])> = vec![
        (
            "assign",
            &new,
            vec![SERIES, "--to", "bob"],
            &["alice", "rita"],
        ),
        ("submit", &new, vec![SERIES], &["bob", "carol"]),
        (
            "comment",
            &new,
            vec![SERIES, "--text", "hello"],
            &["alice", "bob", "carol", "rita", "sam"],
        ),
        ("policy", &new, vec!["--second-read", "all"], &["alice"]),
        ("review", &submitted, vec![SERIES, "--start"], &["rita"]),
        ("review", &submitted, vec![SERIES, "--approve"], &["rita"]),
        (
            "review",
            &submitted,
            vec![SERIES, "--reject", "redo"],
            &["rita"],
        ),
        (
            "review",
            &submitted,
            vec![SERIES, "--escalate-to", "sam", "--question", "why"],
            &["rita"],
        ),
        (
            "adjudicate",
            &escalated,
            vec![SERIES, "--answer", "yes"],
            &["sam"],
        ),
    ];
    let mut n = 0;
    for (cmd, from, rest, allowed) in &table {
        for user in ["alice", "bob", "carol", "rita", "sam"] {
            let copy = dir.path().join(format!("try-{n}.tessera"));
            n += 1;
            std::fs::copy(from, &copy).unwrap();
            let (code, _, err) = case_cli(&copy, user, cmd, rest);
            let ok = allowed.contains(&user);
            assert_eq!(code == 0, ok, "{cmd} {rest:?} by {user}: {err}");
            if !ok {
                assert_eq!(code, 1);
                assert_eq!(err.trim().lines().count(), 1, "{err}");
                assert!(err.contains("not permitted"), "{cmd} by {user}: {err}");
            }
        }
    }
    assert_eq!(n, 45);
}
