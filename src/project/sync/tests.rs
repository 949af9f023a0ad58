//! Import of bundles that a member rewrote (valid encryption and exporter signature, bad
//! content), larger than one batch: the refusal names the first bad event in bundle order
//! whatever batch it is in, a bad signature is named after the whole stream, and an event
//! repeated across batches is skipped. And bundles no honest exporter writes, built here
//! with the session's own keys: the importer's limits on what it holds in memory before
//! the membership union is checked.

use std::path::Path;

use ed25519_dalek::Signer;
use zeroize::Zeroizing;

use super::records::{Manifest, decode_event, decode_tip, encode_event, encode_member, encode_tip};
use super::{ImportSummary, data_key_aad, end_message};
use crate::project::bundle::{
    BundleError, BundleReader, BundleWriter, Header, KeyEntry, Kind, Wire,
};
use crate::project::crypto::Key32;
use crate::project::events::TipRow;
use crate::project::members::MemberRow;
use crate::project::model::{
    Annotation, AnnotationBody, Edit, EventPayload, ImageRef, Kind as Shape, Label,
};
use crate::project::{
    Id, KdfChoice, KdfParams, Project, ProjectError, Role, Session, VerifyOnOpen,
};

const TINY: KdfChoice = KdfChoice::Fixed(KdfParams {
    m_kib: 64,
    t_cost: 1,
    p_lanes: 1,
});
/// More events than one batch of records holds.
const EVENTS: usize = BATCH + 100;
const BATCH: usize = super::incoming::BATCH_RECORDS;

fn annotation(i: usize) -> Annotation {
    Annotation {
        id: Id::random().unwrap(),
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: "1.2.3".into(),
                sop_uid: None,
                frame: None,
                plane: None,
                provenance: None,
            },
            kind: Shape::Point,
            points: vec![[i as f64, 1.0]],
            label: Label {
                name: "lesion".into(),
                scheme: None,
                code: None,
                meaning: None,
            },
            comment: None,
        },
    }
}

fn open(path: &Path, user: &str, pass: &[u8]) -> Session {
    Project::open(path)
        .unwrap()
        .unlock(user, pass, VerifyOnOpen::No)
        .unwrap()
}

/// The records of `bundle` (End left out), opened with `s`'s data key.
fn records(s: &mut Session, bundle: &Path) -> (Header, Key32, Vec<(Kind, Vec<u8>)>) {
    let (project, u) = s.parts().unwrap();
    let pid = project.project_id;
    let bytes = std::fs::read(bundle).unwrap();
    let mut found = None;
    let mut r = BundleReader::open(&bytes[..], |h| {
        let e = h.entries.iter().find(|e| e.user == Id::NIL).unwrap();
        let aad = data_key_aad(&pid, &h.bundle_id, &h.data_key_id);
        let plain = u.keys.sealer.open(&aad, &e.nonce, &e.ct).unwrap();
        let key = Key32::from_bytes(Zeroizing::new(plain.as_slice().try_into().unwrap()));
        found = Some((h.clone(), key.clone()));
        Ok(key)
    })
    .unwrap();
    let mut recs = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        if rec.kind != Kind::End {
            recs.push((rec.kind, rec.body.to_vec()));
        }
    }
    let (header, key) = found.unwrap();
    (header, key, recs)
}

/// Writes `recs` as a bundle signed by `s`'s user, with the manifest's event count fixed.
fn write(s: &mut Session, header: &Header, key: &Key32, mut recs: Vec<(Kind, Vec<u8>)>, to: &Path) {
    let (project, u) = s.parts().unwrap();
    let events = recs.iter().filter(|(k, _)| *k == Kind::Event).count();
    let mut manifest = Manifest::decode(&recs[0].1).unwrap();
    manifest.events = events as u64;
    recs[0].1 = manifest.encode();
    let mut w = BundleWriter::new(Vec::new(), header, key).unwrap();
    for (kind, body) in &recs {
        w.record(*kind, body).unwrap();
    }
    let msg = end_message(&project.project_id, &w.header_hash(), &w.content_digest());
    let sig = u.secrets.signing.sign(&msg).to_bytes();
    std::fs::write(to, w.finish(&sig).unwrap()).unwrap();
}

/// Rewrites event number `n` (0-based, bundle order) of `recs`.
fn edit_event(
    recs: &mut [(Kind, Vec<u8>)],
    n: usize,
    f: impl FnOnce(&mut crate::project::events::EventRow, &mut Vec<u8>),
) {
    let at = recs
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k == Kind::Event)
        .nth(n)
        .unwrap()
        .0;
    let (mut ev, blob) = decode_event(&recs[at].1).unwrap();
    let mut blob = blob.to_vec();
    f(&mut ev, &mut blob);
    let mut w = Wire::default();
    encode_event(&mut w, &ev, &blob);
    recs[at].1 = w.0;
}

fn event_position(recs: &[(Kind, Vec<u8>)], n: usize) -> usize {
    recs.iter()
        .enumerate()
        .filter(|(_, (k, _))| *k == Kind::Event)
        .nth(n)
        .unwrap()
        .0
}

#[test]
fn rewritten_bundles_larger_than_a_batch_name_the_first_bad_event() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a.tessera");
    let (mut a, _) = Project::create(&base, "alice", b"pw-a", TINY).unwrap();
    a.add_user("bob", Role::Annotator, b"pw-b", TINY).unwrap();
    drop(a);
    let theirs = dir.path().join("b.tessera");
    std::fs::copy(&base, &theirs).unwrap();
    let mut b = open(&theirs, "bob", b"pw-b");
    let payloads: Vec<EventPayload> = (0..EVENTS)
        .map(|i| {
            EventPayload::new(Edit::Create {
                annotation: annotation(i),
            })
        })
        .collect();
    b.commit_payloads(&payloads).unwrap();
    let good = dir.path().join("good.tsync");
    b.export_bundle(&good, &[], &mut |_, _| {}).unwrap();
    let (header, key, recs) = records(&mut b, &good);
    assert!(recs.len() > BATCH + 10);

    let pid = b.project_id();
    let bad = dir.path().join("bad.tsync");
    let mut a = open(&base, "alice", b"pw-a");
    let before = a.canonical_state().unwrap();
    let mut refused = |recs: Vec<(Kind, Vec<u8>)>| -> String {
        write(&mut b, &header, &key, recs, &bad);
        let err = a.import_commit(&bad, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, ProjectError::Bundle(_)), "{err}");
        assert_eq!(a.canonical_state().unwrap(), before, "{err}");
        err.to_string()
    };

    // A signature that does not verify is named after the stream; an event whose hash
    // is wrong comes first, even in a later batch.
    let mut r = recs.clone();
    edit_event(&mut r, 100, |ev, _| ev.signature[5] ^= 1);
    assert!(refused(r.clone()).contains("event bob #101: signature does not verify"));
    edit_event(&mut r, BATCH + 50, |ev, _| ev.event_hash[0] ^= 1);
    let want = format!(
        "event bob #{}: event hash does not match its contents",
        BATCH + 51
    );
    assert!(refused(r).contains(&want));

    // Two problems in two batches: the earlier one is named (edited fields re-hashed, so
    // only the signature, checked after the stream, would also fail).
    let mut r = recs.clone();
    edit_event(&mut r, BATCH + 80, |_, blob| blob[20] ^= 1);
    let want = format!(
        "event bob #{}: payload does not match the signed commitment",
        BATCH + 81
    );
    assert!(refused(r.clone()).contains(&want));
    edit_event(&mut r, 30, |ev, _| {
        ev.hlc = 1;
        ev.event_hash = ev.compute_hash(&pid).to_vec();
    });
    assert!(refused(r.clone()).contains("event bob #31: clock goes backwards"));

    // A record out of order after the first batch, behind a bad event in the first one.
    let mut r = recs.clone();
    let tip = r.iter().find(|(k, _)| *k == Kind::Tip).unwrap().clone();
    let at = event_position(&r, BATCH + 70);
    r.insert(at, tip);
    assert!(refused(r.clone()).contains("records out of order"));
    edit_event(&mut r, 7, |ev, _| {
        ev.parents = vec![9; 16];
        ev.event_hash = ev.compute_hash(&pid).to_vec();
    });
    let got = refused(r);
    assert!(
        got.contains("event bob #8: names a parent that is neither here nor in the bundle"),
        "{got}"
    );

    // An event repeated in a later batch is already there when its copy comes.
    let mut r = recs.clone();
    let first = r[event_position(&r, 3)].clone();
    let at = event_position(&r, BATCH + 60);
    r.insert(at, first);
    write(&mut b, &header, &key, r, &bad);
    let summary = a.import_commit(&bad, &mut |_, _| {}).unwrap();
    assert_eq!(summary.new_event_count(), EVENTS as u64);
    assert_eq!(summary.already_present, 1);
    a.verify().unwrap();
    assert_eq!(a.annotations().unwrap().len(), EVENTS);

    // Then edits of annotations the receiver has, and new annotations edited again in
    // the same bundle: created ones get their cache row early, the others are rebuilt.
    let shown = b.annotations().unwrap();
    for old in &shown[..5] {
        let mut new = old.clone();
        new.body.label.name = "edited".into();
        b.commit_edit(Edit::Update {
            before: old.clone(),
            after: new,
        })
        .unwrap();
    }
    b.commit_edit(Edit::Delete {
        annotation: shown[7].clone(),
    })
    .unwrap();
    let fresh: Vec<Annotation> = (0..3).map(|i| annotation(EVENTS + i)).collect();
    for f in &fresh {
        b.commit_edit(Edit::Create {
            annotation: f.clone(),
        })
        .unwrap();
    }
    let mut moved = fresh[1].clone();
    moved.body.points[0][1] = 9.0;
    b.commit_edit(Edit::Update {
        before: fresh[1].clone(),
        after: moved,
    })
    .unwrap();
    let more = dir.path().join("more.tsync");
    b.export_bundle(&more, &[], &mut |_, _| {}).unwrap();
    let summary = a.import_commit(&more, &mut |_, _| {}).unwrap();
    assert_eq!(summary.new_event_count(), 10);
    a.verify().unwrap();
    assert_eq!(a.canonical_state().unwrap(), b.canonical_state().unwrap());
}

/// A bundle for `s`'s project (content key sealed under its data key) holding `records`
/// and an End record with a zero signature.
fn unsigned_bundle(s: &mut Session, out: &Path, records: &[(Kind, Vec<u8>)]) {
    let (project, u) = s.parts().unwrap();
    let pid = project.project_id;
    let key = Key32::random().unwrap();
    let bundle_id = Id::random().unwrap();
    let key_id = u.keys.sealer.key_id().to_owned();
    let dk = u
        .keys
        .sealer
        .seal(&data_key_aad(&pid, &bundle_id, &key_id), key.expose())
        .unwrap();
    let header = Header {
        project_id: pid,
        bundle_id,
        data_key_id: key_id,
        entries: vec![KeyEntry {
            user: Id::NIL,
            eph_pk: [0; 32],
            nonce: dk.nonce.as_slice().try_into().unwrap(),
            ct: dk.ct,
        }],
    };
    let mut w = BundleWriter::new(std::fs::File::create(out).unwrap(), &header, &key).unwrap();
    for (kind, body) in records {
        w.record(*kind, body).unwrap();
    }
    w.finish(&[0; 64]).unwrap();
}

fn manifest(s: &Session, members: u32, tips: u32) -> (Kind, Vec<u8>) {
    let m = Manifest {
        exporter: s.user_id(),
        created_ms: 0,
        events: 0,
        members,
        tips,
        heads: Vec::new(),
    };
    (Kind::Manifest, m.encode())
}

fn malformed(result: Result<ImportSummary, ProjectError>) -> &'static str {
    match result {
        Err(ProjectError::Bundle(BundleError::Malformed(why))) => why,
        other => panic!("not refused as malformed: {other:?}"),
    }
}

#[test]
fn membership_records_past_the_byte_limit_are_refused_before_they_pile_up() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Project::create(&dir.path().join("p.tessera"), "alice", b"pw", TINY).unwrap();
    let row = MemberRow {
        record_id: Id::NIL,
        user_id: Id::NIL,
        action: "add".into(),
        role: "annotator".into(),
        sign_pk: vec![0; 32],
        box_pk: vec![0; 32],
        key_id: String::new(),
        name_nonce: Vec::new(),
        name_ct: Vec::new(),
        signer_id: Id::NIL,
        time_ms: 0,
        signature: vec![0; 64],
    };
    // 33 records with a 1 MiB name each: within the record and member-count limits.
    let name = "n".repeat(1 << 20);
    let mut records = vec![manifest(&s, 40, 0)];
    records.extend((0..33).map(|_| (Kind::Member, encode_member(&row, &name))));
    let path = dir.path().join("big.bundle");
    unsigned_bundle(&mut s, &path, &records);
    let why = malformed(s.import_preview(&path, &mut |_, _| {}));
    assert_eq!(why, "membership records too large");
}

#[test]
fn tips_with_a_hash_or_signature_of_the_wrong_size_are_refused() {
    let tip = |hash: usize, sig: usize| TipRow {
        author_id: Id::NIL,
        seq: 1,
        event_hash: vec![1; hash],
        signature: vec![2; sig],
    };
    assert_eq!(decode_tip(&encode_tip(&tip(32, 64))).unwrap(), tip(32, 64));
    for (hash, sig) in [(31, 64), (32, 65), (0, 0), (32, 1 << 20)] {
        assert!(matches!(
            decode_tip(&encode_tip(&tip(hash, sig))),
            Err(BundleError::Malformed(_))
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Project::create(&dir.path().join("p.tessera"), "alice", b"pw", TINY).unwrap();
    let records = [
        manifest(&s, 0, 1),
        (Kind::Tip, encode_tip(&tip(32, 1 << 20))),
    ];
    let path = dir.path().join("tip.bundle");
    unsigned_bundle(&mut s, &path, &records);
    let why = malformed(s.import_preview(&path, &mut |_, _| {}));
    assert_eq!(why, "a tip's hash or signature has the wrong size");
}
