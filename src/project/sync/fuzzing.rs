//! Fuzzing support for the sync importer (hidden; not an API): the entry points that
//! `fuzz/fuzz_targets/bundle.rs` (cargo fuzz) and the stable randomized tests in
//! `tests/it/project/sync.rs` drive with the same bytes.
//!
//! Owns two harnesses. [`fuzz_bundle`] parses arbitrary bytes as a bundle and, sealed
//! under a fixed key, as a bundle's plaintext. [`Fixture`] is structure-aware: it builds
//! a tiny project once (three members, annotations, label classes, a segmentation with
//! a stroke and an undo, a removal, a conflict), exports a valid bundle and decrypts it
//! into records. Each input is then read as edits of those records (drop, repeat, move,
//! field values, the JSON of payloads, bytes, record framing, chunk sizes), optionally
//! re-signed as the exporter so that the checks behind the signatures are reached,
//! sealed under the bundle's own header and key, and imported. It checks what the
//! hostile-bundle rules promise: a refusal is one clear line (no control characters, not
//! a database constraint), a preview or a refused import changes nothing, and an
//! accepted import leaves a project that verifies and loads.
//! Never used by the application; writes only under the folder it is given.

mod edits;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use zeroize::Zeroizing;

use edits::{Pools, Rec, Src, edit_records, edit_stream};

use super::end_message;
use super::import::content_key;
use super::records::{Manifest, decode_event, decode_member, decode_tip};
use crate::annotate::labelmap::{Draft, Stroke};
use crate::annotate::packed::Tool;
use crate::annotate::segmentation::{Segment, SegmentationHeader};
use crate::imaging::mpr::VolumeGrid;
use crate::project::bundle::{
    BundleError, BundleReader, Header, Kind, MAGIC, seal_raw_for_fuzzing,
};
use crate::project::crypto::{Key32, sha256};
use crate::project::events;
use crate::project::model::{Annotation, AnnotationBody, Edit, ImageRef, Kind as Shape, Label};
use crate::project::{
    Id, KdfChoice, KdfParams, Project, ProjectError, Role, Session, VerifyOnOpen,
};

/// Parses `data` as a bundle under a fixed key, and as the plaintext of one, decoding
/// every record body. Must return, never panic, whatever `data` holds.
pub fn fuzz_bundle(data: &[u8]) {
    let key = Key32::from_bytes(Zeroizing::new([7u8; 32]));
    let parse = |bytes: &[u8]| -> Result<usize, BundleError> {
        let mut r = BundleReader::open(bytes, |_| Ok(key.clone()))?;
        let mut n = 0;
        while let Some(rec) = r.next_record()? {
            n += 1;
            match rec.kind {
                Kind::Manifest => drop(Manifest::decode(&rec.body)?),
                Kind::Member => drop(decode_member(&rec.body)?),
                Kind::Tip => drop(decode_tip(&rec.body)?),
                Kind::Event => {
                    let (ev, blob) = decode_event(&rec.body)?;
                    let _ = ev.parent_ids();
                    let _ = events::decode_payload(blob);
                }
                Kind::End => {}
            }
        }
        Ok(n)
    };
    let _ = parse(data);
    let header = Header {
        project_id: Id::NIL,
        bundle_id: Id::NIL,
        data_key_id: String::new(),
        entries: Vec::new(),
    };
    if let Ok(sealed) = seal_raw_for_fuzzing(&header, data, &key, &[]) {
        let _ = parse(&sealed);
    }
}

/// Tiny Argon2 parameters: the fixture's passphrases protect nothing.
const KDF: KdfChoice = KdfChoice::Fixed(KdfParams {
    m_kib: 64,
    t_cost: 1,
    p_lanes: 1,
});
const ALICE: (&str, &[u8]) = ("alice", b"pw-alice");
const BOB: (&str, &[u8]) = ("bob", b"pw-bob");

/// The valid bundle and the importer it is fed to, built once.
pub struct Fixture {
    dir: PathBuf,
    pid: Id,
    header: Header,
    key: Key32,
    signer: SigningKey,
    signer_id: Id,
    records: Vec<Rec>,
    pools: Pools,
    importer: Session,
    /// The importer's file as it was before any import (closed), copied for commits.
    pristine: PathBuf,
    /// The importer's rows, which no preview may change.
    rows: String,
}

/// What one input did (for the stable driver's tally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input went to [`fuzz_bundle`].
    Parsed,
    /// The import (preview or commit) succeeded.
    Imported,
    /// The import was refused with this one-line message.
    Refused(String),
}

fn fixture_err(what: &str) -> ProjectError {
    ProjectError::Format(format!("fuzz fixture: {what}"))
}

fn open(
    path: &Path,
    (user, pass): (&str, &[u8]),
    check: VerifyOnOpen,
) -> Result<Session, ProjectError> {
    let mut s = Project::open(path)?.unlock(user, pass, check)?;
    s.set_idle_lock(Duration::from_secs(u64::from(u32::MAX)));
    Ok(s)
}

fn annotation(series: &str, label: &str, x: f64) -> Result<Annotation, ProjectError> {
    Ok(Annotation {
        id: Id::random()?,
        body: AnnotationBody {
            image: image(series),
            kind: Shape::Ruler,
            points: vec![[x, 1.0], [x + 10.0, 12.5]],
            label: Label {
                name: label.into(),
                scheme: Some("SCT".into()),
                code: Some("108369006".into()),
                meaning: Some(label.into()),
            },
            comment: None,
        },
    })
}

fn image(series: &str) -> ImageRef {
    ImageRef::Dicom {
        series_uid: series.into(),
        sop_uid: Some(format!("{series}.1")),
        frame: Some(0),
        plane: None,
        provenance: None,
    }
}

fn relabel(s: &mut Session, a: &Annotation, label: &str) -> Result<Annotation, ProjectError> {
    let mut after = a.clone();
    after.body.label.name = label.into();
    s.commit_edit(Edit::Update {
        before: a.clone(),
        after: after.clone(),
    })?;
    Ok(after)
}

/// Bob's segmentation: segment 1 bound to a class, one painted stroke, and an undo.
fn segmentation(s: &mut Session) -> Result<(), ProjectError> {
    let grid = VolumeGrid {
        dims: [40, 32, 8],
        spacing_mm: [0.8, 0.8, 2.0],
        axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        origin_mm: [0.0; 3],
    };
    let header = SegmentationHeader::new("Liver", &grid);
    let id = s.create_segmentation(image("1.2.840.9"), header.clone())?;
    let (class_id, class) = s
        .label_classes()?
        .into_iter()
        .next()
        .ok_or_else(|| fixture_err("no label class"))?;
    s.define_segment(
        id,
        1,
        Some(Segment::of_class("Lesion 1", Some(class_id), &class)),
    )?;
    let mut map = header
        .new_label_map()
        .map_err(|e| fixture_err(&e.to_string()))?;
    for (v, label) in [([3, 4, 1], 1), ([20, 30, 7], 1)] {
        let mut stroke = Stroke::new();
        let mut d = Draft::new(&map);
        d.set(v, label);
        let cs = d.finish();
        stroke.apply(&mut map, cs);
        let edit = stroke
            .finish(&map, Tool::Brush)
            .ok_or_else(|| fixture_err("empty stroke"))?;
        s.commit_edit(Edit::SegmentStroke {
            segmentation: id,
            stroke: edit,
        })?;
    }
    s.undo()?;
    Ok(())
}

impl Fixture {
    /// Builds the projects and the valid bundle under `dir` (which must exist and be
    /// empty): about a second.
    pub fn new(dir: &Path) -> Result<Fixture, ProjectError> {
        let exporter = dir.join("exporter.tessera");
        let importer = dir.join("importer.tessera");
        let (mut a, _) = Project::create(&exporter, ALICE.0, ALICE.1, KDF)?;
        a.add_user(BOB.0, Role::Annotator, BOB.1, KDF)?;
        a.add_user("carol", Role::Annotator, b"pw-carol", KDF)?;
        a.install_default_schema()?;
        let shared = annotation("1.2.840.1", "lesion", 1.0)?;
        let gone = annotation("1.2.840.1", "cyst", 2.0)?;
        for ann in [&shared, &gone] {
            a.commit_edit(Edit::Create {
                annotation: ann.clone(),
            })?;
        }
        drop(a);
        std::fs::copy(&exporter, &importer).map_err(|e| fixture_err(&e.to_string()))?;

        let mut b = open(&exporter, BOB, VerifyOnOpen::No)?;
        b.commit_edit(Edit::Create {
            annotation: annotation("1.2.840.2", "nodule", 3.0)?,
        })?;
        relabel(&mut b, &shared, "lesion (bob)")?;
        b.commit_edit(Edit::Delete { annotation: gone })?;
        segmentation(&mut b)?;
        drop(b);
        let mut a = open(&exporter, ALICE, VerifyOnOpen::No)?;
        a.remove_user("carol")?;
        drop(a);
        let mut a = open(&importer, ALICE, VerifyOnOpen::No)?;
        relabel(&mut a, &shared, "lesion (alice)")?;
        drop(a);
        let pristine = dir.join("pristine.tessera");
        std::fs::copy(&importer, &pristine).map_err(|e| fixture_err(&e.to_string()))?;

        let valid = dir.join("valid.bundle");
        let mut b = open(&exporter, BOB, VerifyOnOpen::No)?;
        b.export_bundle(&valid, &[], &mut |_, _| {})?;
        let signer_id = b.user_id();
        let file = std::fs::File::open(&valid).map_err(|e| fixture_err(&e.to_string()))?;
        let mut key = None;
        let (project, u) = b.parts()?;
        let pid = project.project_id;
        let mut reader = BundleReader::open(file, |h| {
            let k = content_key(h, &pid, u, signer_id, BOB.0)?;
            key = Some(k.clone());
            Ok(k)
        })?;
        let mut records = Vec::new();
        while let Some(rec) = reader.next_record()? {
            records.push(match rec.kind {
                Kind::Manifest => Rec::Manifest(Manifest::decode(&rec.body)?),
                Kind::Member => {
                    let (m, name) = decode_member(&rec.body)?;
                    Rec::Member(m, (*name).clone())
                }
                Kind::Tip => Rec::Tip(decode_tip(&rec.body)?),
                Kind::Event => {
                    let (e, blob) = decode_event(&rec.body)?;
                    Rec::Event(e, blob.to_vec())
                }
                Kind::End => Rec::End(rec.body.to_vec()),
            });
        }
        let header = reader.header().clone();
        let signer = u.secrets.signing.clone();
        let key = key.ok_or_else(|| fixture_err("no content key"))?;
        drop(b);

        let mut importer = open(&importer, ALICE, VerifyOnOpen::No)?;
        let summary = importer.import_preview(&valid, &mut |_, _| {})?;
        if summary.new_event_count() == 0 || summary.new_conflicts.is_empty() {
            return Err(fixture_err(
                "the valid bundle brings no new events or conflicts",
            ));
        }
        let rows = fingerprint(&mut importer).map_err(|e| fixture_err(&e))?;
        Ok(Fixture {
            dir: dir.to_owned(),
            pid,
            header,
            key,
            signer,
            signer_id,
            pools: Pools::new(&records),
            records,
            importer,
            pristine,
            rows,
        })
    }

    /// Runs one input. `Err` means a broken promise (the fuzz target panics on it);
    /// panics, hangs and unbounded allocation inside are what the fuzzer looks for.
    pub fn run(&mut self, data: &[u8]) -> Result<Outcome, String> {
        let mut src = Src(data);
        let flags = src.u8();
        if flags & 0x03 == 0 {
            fuzz_bundle(src.0);
            return Ok(Outcome::Parsed);
        }
        let (reauthor, resign_end, sync_clear) =
            (flags & 0x04 == 0, flags & 0x08 == 0, flags & 0x10 == 0);
        let commit = flags & 0xe0 == 0xe0;
        let mut recs = self.records.clone();
        for _ in 0..src.below(16) {
            if src.is_empty() {
                break;
            }
            edit_records(&mut recs, &mut src, &self.pools);
        }
        if reauthor {
            self.reauthor(&mut recs, sync_clear);
        }
        let mut plain = self.encode(&recs, resign_end);
        edit_stream(&mut plain, &mut src);
        let sizes: Vec<usize> = (0..src.below(8)).map(|_| usize::from(src.u16())).collect();
        let mut sealed = seal_raw_for_fuzzing(&self.header, &plain, &self.key, &sizes)
            .map_err(|e| format!("harness: cannot seal: {e}"))?;
        if src.below(8) == 0 {
            edit_stream(&mut sealed, &mut src);
        }
        let bundle = self.dir.join("input.bundle");
        std::fs::write(&bundle, &sealed).map_err(|e| format!("harness: {e}"))?;
        if commit {
            self.commit(&bundle)
        } else {
            self.preview(&bundle)
        }
    }

    /// Signs the exporter's events and tips again (hash chain, commitments, signatures),
    /// as a hostile member can; with `sync_clear`, also the clear op and target.
    fn reauthor(&self, recs: &mut [Rec], sync_clear: bool) {
        let mut renamed: HashMap<Vec<u8>, (Vec<u8>, i64)> = HashMap::new();
        for r in recs.iter_mut() {
            let Rec::Event(e, blob) = r else { continue };
            if e.author_id != self.signer_id {
                continue;
            }
            if sync_clear && let Some(p) = events::decode_payload(blob) {
                e.op = p.op_name().to_owned();
                e.target = p.edit.target();
            }
            e.commitment = events::commitment(blob).to_vec();
            if let Some((h, _)) = renamed.get(&e.prev_hash) {
                e.prev_hash = h.clone();
            }
            let h = e.compute_hash(&self.pid).to_vec();
            let old = std::mem::replace(&mut e.event_hash, h.clone());
            e.signature = self.sign(&events::signature_message(&h));
            renamed.insert(old, (h, e.seq));
        }
        for r in recs.iter_mut() {
            let Rec::Tip(t) = r else { continue };
            if t.author_id != self.signer_id {
                continue;
            }
            if let Some((h, seq)) = renamed.get(&t.event_hash) {
                t.event_hash = h.clone();
                t.seq = *seq;
            }
            t.signature = self.sign(&events::tip_message(
                &self.pid,
                &t.author_id,
                t.seq,
                &t.event_hash,
            ));
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.signer.sign(msg).to_bytes().to_vec()
    }

    /// The plaintext stream; a final End record is signed again over what precedes it.
    fn encode(&self, recs: &[Rec], resign_end: bool) -> Vec<u8> {
        let header_hash = sha256(&[MAGIC, &self.header.encode()]);
        let mut plain = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            let mut body = r.body();
            if resign_end && i + 1 == recs.len() && matches!(r, Rec::End(_)) {
                let digest = sha256(&[&plain]);
                body = self.sign(&end_message(&self.pid, &header_hash, &digest));
            }
            plain.push(r.kind());
            plain.extend_from_slice(&(body.len() as u32).to_be_bytes());
            plain.extend_from_slice(&body);
        }
        plain
    }

    fn preview(&mut self, bundle: &Path) -> Result<Outcome, String> {
        let result = self.importer.import_preview(bundle, &mut |_, _| {});
        if fingerprint(&mut self.importer)? != self.rows {
            return Err("a preview changed the project".into());
        }
        outcome(result.map(drop))
    }

    /// Previews, and when that succeeds imports into a fresh copy of the importer's file:
    /// an accepted bundle must leave a project that verifies, reopens and loads; a
    /// refused one must change nothing. (A refused preview is a refused commit: the same
    /// checks in the same transaction.)
    fn commit(&mut self, bundle: &Path) -> Result<Outcome, String> {
        let previewed = self.preview(bundle)?;
        if previewed != Outcome::Imported {
            return Ok(previewed);
        }
        let scratch = self.dir.join("scratch");
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir(&scratch).map_err(|e| format!("harness: {e}"))?;
        let path = scratch.join("copy.tessera");
        std::fs::copy(&self.pristine, &path).map_err(|e| format!("harness: {e}"))?;
        let mut s = open(&path, ALICE, VerifyOnOpen::No).map_err(|e| format!("harness: {e}"))?;
        let before = fingerprint(&mut s)?;
        let result = s.import_commit(bundle, &mut |_, _| {});
        if result.is_ok() {
            s.verify()
                .map_err(|e| format!("an accepted import does not verify: {e}"))?;
            let segs = s
                .segmentations()
                .map_err(|e| format!("an accepted import's segmentations do not list: {e}"))?;
            for seg in segs {
                let _ = s.load_segmentation(seg.id);
            }
            s.conflicts()
                .map_err(|e| format!("an accepted import's conflicts do not list: {e}"))?;
            // Views of what was imported: refusals are fine, panics are not.
            let _ = (s.history(), s.annotations(), s.label_classes(), s.cases());
            drop(s);
            open(&path, ALICE, VerifyOnOpen::Yes)
                .map_err(|e| format!("an accepted import does not reopen: {e}"))?;
        } else if fingerprint(&mut s)? != before {
            return Err("a refused import changed the project".into());
        }
        let _ = std::fs::remove_dir_all(&scratch);
        outcome(result.map(drop))
    }
}

/// Every row an import may write, as ids, nonces or signatures: no decryption, so cheap
/// enough to compare after every input (a changed cache row has a fresh nonce).
fn fingerprint(s: &mut Session) -> Result<String, String> {
    const ROWS: [(&str, &str); 11] = [
        ("meta", "name || value"),
        ("keys", "key_id || encryptions"),
        ("slots", "nonce"),
        ("grants", "nonce"),
        ("members", "record_id"),
        ("events", "event_id"),
        ("event_payloads", "nonce"),
        ("tips", "signature"),
        ("heads", "event_id"),
        ("annotations", "nonce"),
        ("audit", "entry_id"),
    ];
    let (project, _) = s.parts().map_err(|e| format!("harness: {e}"))?;
    let mut out = String::new();
    for (table, column) in ROWS {
        let sql =
            format!("SELECT COUNT(*), COALESCE(group_concat(hex({column})), '') FROM {table}");
        let (n, all): (i64, String) = project
            .conn
            .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| format!("harness: {e}"))?;
        out.push_str(&format!("{table} {n} {all}\n"));
    }
    Ok(out)
}

fn outcome(result: Result<(), ProjectError>) -> Result<Outcome, String> {
    match result {
        Ok(()) => Ok(Outcome::Imported),
        // A constraint of the database is not a check: the importer let the bundle through.
        Err(ProjectError::Sqlite(e)) => Err(format!("a refusal came from the database: {e}")),
        Err(e) => {
            let line = e.to_string();
            let breaks = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
            if line.is_empty() || line.contains(breaks) {
                return Err(format!("a refusal is not one clear line: {line:?}"));
            }
            Ok(Outcome::Refused(line))
        }
    }
}
