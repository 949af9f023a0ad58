//! The project file: canary, crash (kill -9) cycles, property-based tampering, slot
//! failures, merge-readiness and the CLI contracts. Fixtures use tiny Argon2 parameters
//! through the explicit `KdfChoice::Fixed` (the default stays calibrated).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod merge_laws;
mod sync;
mod tamper;
mod undo_redo;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera::project::keys::SlotRow;
use tessera::project::model::{Annotation, AnnotationBody, Edit, ImageRef, Kind, Label};
use tessera::project::{
    Id, KdfChoice, KdfParams, Project, ProjectError, Role, Session, VerifyOnOpen, labels,
};

pub(crate) const TINY: KdfChoice = KdfChoice::Fixed(KdfParams {
    m_kib: 64,
    t_cost: 1,
    p_lanes: 1,
});
const BIN: &str = env!("CARGO_BIN_EXE_tessera");

const SLOT_SQL: &str = "SELECT user_id, name_tag, kdf, m_kib, t_cost, p_lanes, salt, nonce, wrapped, checksum FROM slots";

fn slot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SlotRow> {
    Ok(SlotRow {
        user_id: r.get(0)?,
        name_tag: r.get(1)?,
        kdf: r.get(2)?,
        m_kib: r.get(3)?,
        t_cost: r.get(4)?,
        p_lanes: r.get(5)?,
        salt: r.get(6)?,
        nonce: r.get(7)?,
        wrapped: r.get(8)?,
        checksum: r.get(9)?,
    })
}

pub(crate) fn ann(series: &str, label: &str, comment: Option<&str>, x: f64) -> Annotation {
    Annotation {
        id: Id::random().unwrap(),
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: series.into(),
                sop_uid: Some(format!("{series}.1")),
                frame: Some(0),
                plane: None,
                provenance: None,
            },
            kind: Kind::Ruler,
            points: vec![[x, 1.0], [x + 10.0, 12.5]],
            label: Label {
                name: label.into(),
                scheme: Some("SCT".into()),
                code: Some("108369006".into()),
                meaning: Some(label.into()),
            },
            comment: comment.map(str::to_owned),
        },
    }
}

fn open(path: &Path, user: &str, pass: &str) -> Result<Session, ProjectError> {
    Project::open(path)?.unlock(user, pass.as_bytes(), VerifyOnOpen::Yes)
}

/// A project with three members, edits by each (create, update, delete, undo), an import,
/// a viewed image and a failed unlock. `marker` goes into labels, comments, UIDs and a name.
fn build(dir: &Path, marker: &str) -> PathBuf {
    let path = dir.join("study.tessera");
    let (mut s, _code) = Project::create(&path, "alice", b"pw-alice", TINY).unwrap();
    s.add_user("bob", Role::Annotator, b"pw-bob", TINY).unwrap();
    s.add_user(
        &format!("carol {marker}"),
        Role::Reviewer,
        b"pw-carol",
        TINY,
    )
    .unwrap();
    let a1 = ann(
        &format!("1.2.{marker}"),
        &format!("tumour {marker}"),
        Some(&format!("note {marker}")),
        1.0,
    );
    let a2 = ann("1.2.3", "cyst", None, 2.0);
    s.commit_edit(Edit::Create {
        annotation: a1.clone(),
    })
    .unwrap();
    s.commit_edit(Edit::Create {
        annotation: a2.clone(),
    })
    .unwrap();
    let mut a1b = a1.clone();
    a1b.body.comment = Some(format!("edited {marker}"));
    s.commit_edit(Edit::Update {
        before: a1.clone(),
        after: a1b.clone(),
    })
    .unwrap();
    s.undo().unwrap().unwrap();
    s.record_view(&a1.body.image).unwrap();
    drop(s);
    assert!(matches!(
        open(&path, "bob", "wrong"),
        Err(ProjectError::IncorrectPassphrase { .. })
    ));
    let mut b = open(&path, "bob", "pw-bob").unwrap();
    let b1 = ann("1.2.3", "nodule", Some(marker), 3.0);
    b.commit_edit(Edit::Create {
        annotation: b1.clone(),
    })
    .unwrap();
    b.commit_edit(Edit::Delete { annotation: a2 }).unwrap();
    b.commit_edit(Edit::Create {
        annotation: ann("1.2.4", "cyst", None, 4.0),
    })
    .unwrap();
    drop(b);
    let mut c = open(&path, &format!("carol {marker}"), "pw-carol").unwrap();
    let doc = labels::to_doc(&[
        ann("1.9", "prelabel", None, 5.0),
        ann("1.9", &format!("prelabel {marker}"), None, 6.0),
    ]);
    c.import_labels(&doc, "ai.json").unwrap();
    drop(c);
    path
}

fn marker() -> String {
    format!("CANARY{}", Id::random().unwrap().short())
}

fn files_containing(dir: &Path, needle: &[u8], since: std::time::SystemTime) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return hits;
    };
    for e in entries.flatten() {
        let p = e.path();
        let recent = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if p.is_file()
            && recent
            && std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        {
            hits.push(p);
        }
    }
    hits
}

#[test]
fn canary_never_reaches_the_database_wal_or_temp_files() {
    let since = std::time::SystemTime::now() - Duration::from_secs(1);
    let dir = tempfile::tempdir().unwrap();
    let m = marker();
    let path = build(dir.path(), &m);
    // While open (WAL live) and after closing.
    let mut s = open(&path, "alice", "pw-alice").unwrap();
    s.commit_edit(Edit::Create {
        annotation: ann(&m, &m, Some(&m), 9.0),
    })
    .unwrap();
    assert!(dir.path().join("study.tessera-wal").exists());
    assert_eq!(
        files_containing(dir.path(), m.as_bytes(), since),
        Vec::<PathBuf>::new()
    );
    let exported = serde_json::to_string(&s.export_labels().unwrap()).unwrap();
    assert!(
        exported.contains(&m),
        "the marker must survive a round trip"
    );
    drop(s);
    assert_eq!(
        files_containing(dir.path(), m.as_bytes(), since),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(&std::env::temp_dir(), m.as_bytes(), since),
        Vec::<PathBuf>::new()
    );
}

/// xorshift64*: reproducible randomness without another dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn kill_minus_nine_never_loses_an_acknowledged_edit() {
    let cycles: usize = std::env::var("TESSERA_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut path = PathBuf::new();
    let mut acked: BTreeSet<Id> = BTreeSet::new();
    let mut total_acked = 0;
    for cycle in 0..cycles {
        if cycle % 25 == 0 {
            path = dir.path().join(format!("crash{cycle}.tessera"));
            drop(Project::create(&path, "alice", b"pw", TINY).unwrap());
            acked.clear();
        }
        let mut child = Command::new(BIN)
            .args([
                "debug-commit-loop",
                path.to_str().unwrap(),
                "--user",
                "alice",
            ])
            .env("TESSERA_PASSPHRASE", "pw")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let want = rng.below(4);
        let mut line = String::new();
        for _ in 0..want {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            acked.insert(line.trim().parse().unwrap());
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Everything printed before the kill was acknowledged, read or not.
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        for l in rest.lines().filter(|l| !l.is_empty()) {
            acked.insert(l.parse().unwrap());
        }
        let mut s = open(&path, "alice", "pw")
            .unwrap_or_else(|e| panic!("cycle {cycle} (seed {seed}): {e}"));
        let have: BTreeSet<Id> = s
            .history()
            .unwrap()
            .into_iter()
            .map(|h| h.event_id)
            .collect();
        let lost: Vec<_> = acked.difference(&have).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle} (seed {seed}): acknowledged events lost: {lost:?}"
        );
        total_acked = total_acked.max(acked.len());
    }
    eprintln!(
        "kill -9: {cycles} cycles, seed {seed}, up to {total_acked} acknowledged events per project"
    );
}

#[test]
fn wrong_passphrase_damaged_slot_and_hostile_parameters_are_classified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.tessera");
    drop(Project::create(&path, "alice", b"right", TINY).unwrap());
    let counts = |p: &Path| -> Vec<i64> {
        let c = rusqlite::Connection::open(p).unwrap();
        [
            "slots",
            "grants",
            "members",
            "events",
            "annotations",
            "audit",
        ]
        .iter()
        .map(|t| {
            c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        })
        .collect()
    };
    let before = counts(&path);
    match open(&path, "alice", "wrong") {
        Err(ProjectError::IncorrectPassphrase { user }) => assert_eq!(user, "alice"),
        other => panic!("expected incorrect passphrase, got {:?}", other.err()),
    }
    let mut after = counts(&path);
    assert_eq!(
        after[5],
        before[5] + 1,
        "exactly one failed-unlock audit entry"
    );
    after[5] = before[5];
    assert_eq!(after, before);
    assert!(matches!(
        open(&path, "mallory", "x"),
        Err(ProjectError::UnknownUser { .. } | ProjectError::IncorrectPassphrase { .. })
    ));

    let conn = rusqlite::Connection::open(&path).unwrap();
    let project: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'project_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let project = Id::from_slice(&project).unwrap();
    let tag = tessera::project::keys::name_tag(&project, "alice");
    let mut wrapped: Vec<u8> = conn
        .query_row(
            "SELECT wrapped FROM slots WHERE name_tag = ?1",
            [tag],
            |r| r.get(0),
        )
        .unwrap();
    wrapped[3] ^= 0x10;
    conn.execute(
        "UPDATE slots SET wrapped = ?1 WHERE name_tag = ?2",
        rusqlite::params![wrapped, tag],
    )
    .unwrap();
    drop(conn);
    let before = counts(&path);
    assert!(matches!(
        open(&path, "alice", "right"),
        Err(ProjectError::DamagedSlot { .. })
    ));
    assert_eq!(counts(&path), before, "a damaged slot writes nothing");

    // Hostile parameters with a consistent checksum: refused before any allocation.
    for (m, t, p) in [
        (1i64 << 42, 1i64, 1i64),
        (64, 1 << 31, 1),
        (64, 1, 1 << 20),
        (4 * 1024 * 1024, 1, 1),
    ] {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut slot: SlotRow = conn
            .query_row(&format!("{SLOT_SQL} WHERE name_tag = ?1"), [tag], slot_row)
            .unwrap();
        slot.m_kib = m;
        slot.t_cost = t;
        slot.p_lanes = p;
        slot.checksum = slot.compute_checksum(&project).to_vec();
        conn.execute("UPDATE slots SET m_kib = ?1, t_cost = ?2, p_lanes = ?3, checksum = ?4 WHERE user_id = ?5", rusqlite::params![m, t, p, slot.checksum, slot.user_id])
            .unwrap();
        drop(conn);
        let start = Instant::now();
        match open(&path, "alice", "right") {
            Err(ProjectError::DamagedSlot { reason, .. }) => {
                assert!(reason.contains("out of bounds"), "{reason}")
            }
            other => panic!("expected a damaged slot, got {:?}", other.err()),
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "no expensive derivation ran"
        );
        assert_eq!(counts(&path), before);
    }
}

#[test]
fn the_encryption_count_is_kept_as_a_high_water_mark_that_never_falls() {
    use tessera::project::events::ENCRYPTION_COUNT_STEP;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("count.tessera");
    let stored = || -> i64 {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("SELECT MAX(encryptions) FROM keys", [], |r| r.get(0))
            .unwrap()
    };
    let (mut s, _) = Project::create(&path, "alice", b"pw", TINY).unwrap();
    for i in 0..5 {
        s.commit_edit(Edit::Create {
            annotation: ann("1.7", "count", None, f64::from(i)),
        })
        .unwrap();
    }
    drop(s);
    let first = stored();
    // Each commit seals a payload and a cache row: the mark covers them, rounded up.
    assert!(first >= 10, "{first}");
    assert_eq!(first % ENCRYPTION_COUNT_STEP as i64, 0);
    let mut s = open(&path, "alice", "pw").unwrap();
    for i in 0..3 {
        s.commit_edit(Edit::Create {
            annotation: ann("1.7", "count", None, f64::from(10 + i)),
        })
        .unwrap();
    }
    drop(s);
    // Reopening resumes from the mark, so the count only grows: past the first mark.
    let second = stored();
    assert!(second > first, "{second} after {first}");
    assert_eq!(second % ENCRYPTION_COUNT_STEP as i64, 0);
    open(&path, "alice", "pw").unwrap().verify().unwrap();
}

#[test]
fn copies_edited_apart_have_disjoint_events_and_verify_separately() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path(), "m");
    let (a, b) = (dir.path().join("a.tessera"), dir.path().join("b.tessera"));
    std::fs::copy(&path, &a).unwrap();
    std::fs::copy(&path, &b).unwrap();
    let base: BTreeSet<Id> = open(&path, "alice", "pw-alice")
        .unwrap()
        .history()
        .unwrap()
        .iter()
        .map(|h| h.event_id)
        .collect();
    let mut ids = Vec::new();
    for (p, user, pass) in [(&a, "alice", "pw-alice"), (&b, "bob", "pw-bob")] {
        let mut s = open(p, user, pass).unwrap();
        for i in 0..3 {
            s.commit_edit(Edit::Create {
                annotation: ann("1.5", "apart", None, i as f64),
            })
            .unwrap();
        }
        s.verify().unwrap();
        let all: BTreeSet<Id> = s.history().unwrap().iter().map(|h| h.event_id).collect();
        ids.push(all.difference(&base).copied().collect::<BTreeSet<Id>>());
    }
    assert_eq!(ids[0].len(), 3);
    assert!(ids[0].is_disjoint(&ids[1]));
    assert_eq!(
        open(&a, "alice", "pw-alice").unwrap().project_id(),
        open(&b, "alice", "pw-alice").unwrap().project_id()
    );
}

#[test]
fn removing_a_user_rotates_the_key_and_keeps_everything_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path(), "m");
    let old_copy = dir.path().join("old.tessera");
    std::fs::copy(&path, &old_copy).unwrap();
    let key_id = |p: &Path| -> Vec<u8> {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row(
                "SELECT value FROM meta WHERE name = 'current_key_id'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let before = key_id(&path);
    let mut s = open(&path, "alice", "pw-alice").unwrap();
    let anns = s.annotations().unwrap();
    s.remove_user("bob").unwrap();
    assert_ne!(key_id(&path), before);
    assert_eq!(s.annotations().unwrap(), anns);
    s.verify().unwrap();
    drop(s);
    // Slots are found by a one-byte tag of the name (names are encrypted): when bob's
    // tag collides with a remaining slot's (about 1 in 128 projects here), bob's
    // passphrase is tried on that slot and fails as an incorrect passphrase instead.
    let reopened = open(&path, "bob", "pw-bob");
    assert!(
        matches!(
            reopened,
            Err(ProjectError::UnknownUser { .. } | ProjectError::IncorrectPassphrase { .. })
        ),
        "{:?}",
        reopened.err()
    );
    assert!(
        open(&old_copy, "bob", "pw-bob").is_ok(),
        "copies taken earlier stay readable (documented)"
    );
    let mut c = open(&path, "carol m", "pw-carol").unwrap();
    assert_eq!(c.annotations().unwrap(), anns);
    assert!(matches!(
        c.add_user("dave", Role::Annotator, b"x", TINY),
        Err(ProjectError::NotAdmin { .. })
    ));
}

#[test]
fn recovery_code_passphrase_change_idle_lock_and_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.tessera");
    let (mut s, code) = Project::create(&path, "alice", b"one", TINY).unwrap();
    assert!(matches!(
        Project::open(&path),
        Err(ProjectError::InUse { .. })
    ));
    s.change_passphrase(b"two", TINY).unwrap();
    s.set_idle_lock(Duration::ZERO);
    std::thread::sleep(Duration::from_millis(2));
    assert!(matches!(
        s.annotations(),
        Err(ProjectError::IdleLocked { .. })
    ));
    assert!(!s.is_unlocked());
    assert!(s.unlock_again(b"one").is_err());
    s.set_idle_lock(Duration::from_secs(60));
    s.unlock_again(b"two").unwrap();
    s.commit_edit(Edit::Create {
        annotation: ann("1.1", "x", None, 0.0),
    })
    .unwrap();
    drop(s);
    let mut r = open(&path, "recovery", &code.display()).unwrap();
    assert_eq!(r.annotations().unwrap().len(), 1);
    r.add_user("alice2", Role::Admin, b"new", TINY).unwrap();
    drop(r);
    let audit = open(&path, "alice2", "new").unwrap().audit_log().unwrap();
    for action in [
        "project.create",
        "user.passwd",
        "unlock.success",
        "user.add",
    ] {
        assert!(
            audit.iter().any(|e| e.action == action),
            "{action} missing from the audit log"
        );
    }
    let synced = dir.path().join("Dropbox");
    std::fs::create_dir(&synced).unwrap();
    assert!(matches!(
        Project::create(&synced.join("p.tessera"), "a", b"x", TINY),
        Err(ProjectError::NetworkFilesystem { .. })
    ));
}

#[test]
fn cli_contracts_round_trip_labels_and_report_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (
        dir.path().join("one.tessera"),
        dir.path().join("two.tessera"),
    );
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("TESSERA_TEST_KDF", "64,1,1")
            .env("TESSERA_USER", "alice")
            .env("TESSERA_PASSPHRASE", "pw");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).output().unwrap()
    };
    let (s1, s2) = (p1.to_str().unwrap(), p2.to_str().unwrap());
    assert!(run(&["project", "init", s1], &[]).status.success());
    assert!(run(&["project", "init", s2], &[]).status.success());
    assert!(
        run(
            &["user", "add", s1, "bob", "--role", "annotator"],
            &[("TESSERA_NEW_PASSPHRASE", "pw-bob")]
        )
        .status
        .success()
    );
    let json = dir.path().join("in.json");
    std::fs::write(
        &json,
        r#"{"format":"tessera-labels","version":1,"annotations":[
          {"image":{"series_uid":"1.2.3","sop_uid":"1.2.3.4","frame":2},"kind":"polygon","points":[[0,0],[10,0],[10,10.5]],
           "label":{"name":"tumour","scheme":"SCT","code":"108369006","meaning":"Neoplasm"},"comment":"check"},
          {"image":{"slide_sha256":"00ff"},"kind":"point","points":[[3,4]],"label":{"name":"mitosis"}}]}"#,
    )
    .unwrap();
    let j = json.to_str().unwrap();
    assert!(
        run(
            &["labels", "import", s1, j, "--user", "bob"],
            &[("TESSERA_PASSPHRASE", "pw-bob")]
        )
        .status
        .success()
    );
    let exported = run(&["labels", "export", s1], &[]);
    assert!(exported.status.success());
    let out_json = dir.path().join("out.json");
    std::fs::write(&out_json, &exported.stdout).unwrap();
    assert!(
        run(&["labels", "import", s2, out_json.to_str().unwrap()], &[])
            .status
            .success()
    );
    let again = run(&["labels", "export", s2], &[]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&exported.stdout)
    );

    let history = run(&["history", s1, "--json"], &[]);
    let items: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert_eq!(items[0]["author"], "bob");
    assert_eq!(items[1]["seq"], 2);
    let audit = run(&["audit", s1, "--json"], &[]);
    let entries: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["EventID"] == "labels.import" && e["UserID"] == "bob")
    );
    let csv = String::from_utf8(run(&["audit", s1, "--csv"], &[]).stdout).unwrap();
    assert!(csv.starts_with("EventDateTime,UserID,EventID"));
    let list = String::from_utf8(run(&["user", "list", s1], &[]).stdout).unwrap();
    assert!(list.contains("bob\tannotator"));

    assert_eq!(run(&["verify", s1], &[]).status.code(), Some(0));
    let wrong = run(&["verify", s1], &[("TESSERA_PASSPHRASE", "nope")]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("incorrect passphrase for alice"));
    assert_eq!(run(&["verify"], &[]).status.code(), Some(2));
    assert_eq!(
        run(&["user", "add", s1, "x", "--role", "boss"], &[])
            .status
            .code(),
        Some(2)
    );
    std::fs::write(&json, "{\"format\":\"other\"}").unwrap();
    assert_eq!(
        run(&["labels", "import", s1, j], &[]).status.code(),
        Some(2)
    );
    let removed = run(&["user", "remove", s1, "bob"], &[]);
    assert!(String::from_utf8_lossy(&removed.stdout).contains("stay readable"));
    assert_eq!(
        run(
            &["verify", s1, "--user", "bob"],
            &[("TESSERA_PASSPHRASE", "pw-bob")]
        )
        .status
        .code(),
        Some(1)
    );
}
