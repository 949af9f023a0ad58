//! Segmentation end to end: brush and flood fill on the demo phantom's geometry hold the
//! spheres' volumes; paint → commit → reopen gives identical voxels; undo/redo sequences
//! (property-based) end where a plain undo stack says; the label schema lives encrypted in
//! the project, admins only; copies painting the same brick apart record a conflict that a
//! resolution settles. Fixtures use tiny Argon2 parameters (`KdfChoice::Fixed`).

use crate::project::TINY;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tessera::annotate::labelmap::{LabelMap, Stroke};
use tessera::annotate::packed::Tool;
use tessera::annotate::schema::{Colour, LabelClass, default_classes};
use tessera::annotate::segmentation::{Segment, SegmentationHeader};
use tessera::annotate::segstats::segment_stats;
use tessera::annotate::tools::{
    self, BrushShape, Dab, FloodFill, FloodScope, HuRange, HuVolume, PaintRule, voxel_volume_mm3,
};
use tessera::imaging::demo::{DEMO_LESIONS, DemoSpec, Phantom};
use tessera::imaging::discovery::Rescale;
use tessera::imaging::mpr::VolumeGrid;
use tessera::imaging::pixels::Samples;
use tessera::project::merge::Field;
use tessera::project::model::{Edit, ImageRef};
use tessera::project::{Id, Project, ProjectError, Role, Session, VerifyOnOpen};

/// The demo CT's grid (`DemoSpec::FULL`: 512 × 512 × 160, 0.7 × 0.7 × 1.25 mm, slice 0
/// most superior).
fn demo_ct_grid() -> VolumeGrid {
    let spec = DemoSpec::FULL;
    let positions: Vec<[f64; 3]> = (0..spec.ct_slices)
        .map(|k| spec.ct_voxel_mm(0, 0, k))
        .collect();
    VolumeGrid::from_slices(
        usize::from(spec.ct_matrix),
        usize::from(spec.ct_matrix),
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        [spec.ct_pixel_spacing_mm; 2],
        &positions,
    )
}

/// Continuous voxel coordinate of an LPS point on an axis-aligned grid.
fn voxel_of(grid: &VolumeGrid, p_mm: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|a| {
        let d: f64 = (0..3)
            .map(|c| (p_mm[c] - grid.origin_mm[c]) * grid.axes[a][c])
            .sum();
        d / grid.spacing_mm[a]
    })
}

fn sphere_ml(diameter_mm: f64) -> f64 {
    4.0 / 3.0 * std::f64::consts::PI * (diameter_mm / 2.0).powi(3) / 1000.0
}

#[test]
fn a_sphere_brush_on_each_demo_lesion_holds_four_thirds_pi_r_cubed() {
    let grid = demo_ct_grid();
    let mut map = LabelMap::new(grid.dims).unwrap();
    for (i, lesion) in DEMO_LESIONS.iter().enumerate() {
        let segment = i as u8 + 1;
        let dab = Dab {
            centre_voxel: voxel_of(&grid, lesion.centre_mm),
            radius_mm: lesion.diameter_mm / 2.0,
            shape: BrushShape::Sphere,
        };
        let cs = tools::dab(&map, &grid, None, &dab, &PaintRule::paint(segment)).unwrap();
        map.apply(cs);
    }
    let stats = segment_stats(&map, &grid, None);
    for (i, lesion) in DEMO_LESIONS.iter().enumerate() {
        let got = stats[&(i as u8 + 1)].volume_ml;
        let want = sphere_ml(lesion.diameter_mm);
        assert!(
            (got / want - 1.0).abs() < 0.02,
            "{}: {got:.4} mL vs {want:.4} mL",
            lesion.name
        );
    }
}

/// SplitMix64 and a Box–Muller normal: reproducible noise without another dependency.
struct Noise(u64);
impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[test]
fn flood_fill_within_a_threshold_segments_the_demo_liver_cyst() {
    // The demo CT geometry around the 30 mm liver cyst (0 HU in liver), noise SD 10 HU,
    // stored as HU + 1024 with the demo's rescale.
    let full = demo_ct_grid();
    let cyst = DEMO_LESIONS
        .iter()
        .find(|l| l.name == "liver-cyst-30mm")
        .unwrap();
    let centre = voxel_of(&full, cyst.centre_mm);
    let lo = centre.map(|c| (c - 40.0).floor().max(0.0) as usize);
    let dims = [80, 80, 40];
    let grid = VolumeGrid {
        dims,
        origin_mm: full.world([lo[0] as f64, lo[1] as f64, (centre[2] - 20.0).floor()]),
        ..full.clone()
    };
    let phantom = Phantom::new();
    let mut noise = Noise(7);
    let mut stored = Vec::with_capacity(dims.iter().product());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let p = grid.world([i as f64, j as f64, k as f64]);
                let hu = phantom.tissue_at(p).ct_hu() + 10.0 * noise.normal();
                stored.push((hu + 1024.0).round() as i16);
            }
        }
    }
    let samples = Samples::I16(stored);
    let rescale = [Rescale {
        slope: 1.0,
        intercept: -1024.0,
    }];
    let hu = HuVolume::new(&samples, dims, &rescale).unwrap();
    let mut map = LabelMap::new(dims).unwrap();
    let seed = voxel_of(&grid, cyst.centre_mm).map(|c| c.round() as usize);
    let fill = FloodFill {
        seed,
        hu_range: HuRange {
            min_hu: -30.0,
            max_hu: 30.0,
        },
        scope: FloodScope::Volume,
        max_voxels: 1_000_000,
    };
    let cs = tools::flood_fill(&map, &grid, &hu, &fill, &PaintRule::paint(1)).unwrap();
    map.apply(cs);
    let s = segment_stats(&map, &grid, Some(&hu))[&1];
    let want = sphere_ml(cyst.diameter_mm);
    assert!(
        (s.volume_ml / want - 1.0).abs() < 0.02,
        "{:.3} mL vs {want:.3} mL",
        s.volume_ml
    );
    assert!(s.mean_hu.unwrap().abs() < 1.0, "{:?}", s.mean_hu);
    assert!((8.0..11.0).contains(&s.sd_hu.unwrap()), "{:?}", s.sd_hu);
    assert!((voxel_volume_mm3(&grid) - 0.7 * 0.7 * 1.25).abs() < 1e-9);
}

fn image() -> ImageRef {
    ImageRef::Dicom {
        series_uid: "1.2.826.0.1.3680043.8.498.77".into(),
        sop_uid: None,
        frame: None,
        plane: None,
        provenance: None,
    }
}

fn small_grid() -> VolumeGrid {
    VolumeGrid {
        dims: [96, 80, 40],
        spacing_mm: [0.8, 0.8, 2.0],
        axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        origin_mm: [-40.0, -30.0, 10.0],
    }
}

fn open(path: &Path, user: &str, pass: &str) -> Result<Session, ProjectError> {
    Project::open(path)?.unlock(user, pass.as_bytes(), VerifyOnOpen::Yes)
}

/// A project with one segmentation (segment 1 = Lesion) on `small_grid`.
fn project_with_segmentation(dir: &Path, name: &str) -> (PathBuf, Session, Id) {
    let path = dir.join("seg.tessera");
    let (mut s, _) = Project::create(&path, "alice", b"pw-a", TINY).unwrap();
    s.install_default_schema().unwrap();
    let (class_id, lesion) = s
        .label_classes()
        .unwrap()
        .into_iter()
        .find(|(_, c)| c.name == "Lesion")
        .unwrap();
    let id = s
        .create_segmentation(image(), SegmentationHeader::new(name, &small_grid()))
        .unwrap();
    s.define_segment(
        id,
        1,
        Some(Segment::of_class("Lesion 1", Some(class_id), &lesion)),
    )
    .unwrap();
    (path, s, id)
}

/// One stroke of dabs along a line (one edit), applied to `map` and committed.
fn stroke(s: &mut Session, id: Id, map: &mut LabelMap, from: [f64; 3], rule: PaintRule) -> bool {
    let grid = small_grid();
    let mut st = Stroke::new();
    for t in 0..6 {
        let dab = Dab {
            centre_voxel: [from[0] + 2.0 * t as f64, from[1], from[2]],
            radius_mm: 4.0,
            shape: BrushShape::Sphere,
        };
        let cs = tools::dab(map, &grid, None, &dab, &rule).unwrap();
        st.apply(map, cs);
    }
    match st.finish(map, Tool::Brush) {
        Some(edit) => {
            s.commit_edit(Edit::SegmentStroke {
                segmentation: id,
                stroke: edit,
            })
            .unwrap();
            true
        }
        None => false,
    }
}

#[test]
fn paint_commit_reopen_gives_identical_voxels_and_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("CANARY{}", Id::random().unwrap().short());
    let (path, mut s, id) = project_with_segmentation(dir.path(), &marker);
    let mut map = LabelMap::new(small_grid().dims).unwrap();
    assert!(stroke(
        &mut s,
        id,
        &mut map,
        [20.0, 30.0, 10.0],
        PaintRule::paint(1)
    ));
    assert!(stroke(
        &mut s,
        id,
        &mut map,
        [40.0, 50.0, 25.0],
        PaintRule::paint(1)
    ));
    assert!(stroke(
        &mut s,
        id,
        &mut map,
        [22.0, 30.0, 10.0],
        PaintRule::erase(1)
    ));
    let last = s.history().unwrap().last().unwrap().event_id;
    let line = s.describe_event(last);
    assert!(
        line.unwrap().starts_with("Brush -"),
        "erasing names a removal"
    );
    drop(s);
    let mut s = open(&path, "alice", "pw-a").unwrap();
    let report = s.verify().unwrap();
    assert_eq!((report.segmentations, report.annotations), (1, 0));
    assert!(report.label_classes >= 30);
    let loaded = s.load_segmentation(id).unwrap();
    assert_eq!(loaded.map, map, "identical voxels after reopening");
    assert_eq!(loaded.info.header.name, marker);
    assert_eq!(loaded.info.segments[&1].name, "Lesion 1");
    assert!(loaded.conflicts.is_empty());
    assert_eq!(s.segmentations_for_image(&image()).unwrap().len(), 1);
    let other = ImageRef::Dicom {
        series_uid: "9.9".into(),
        sop_uid: None,
        frame: None,
        plane: None,
        provenance: None,
    };
    assert!(s.segmentations_for_image(&other).unwrap().is_empty());
    drop(s);
    for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(f.path()).unwrap();
        for needle in [
            marker.as_bytes(),
            b"Lesion 1",
            b"52988006",
            b"1.2.826.0.1.3680043",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{:?} holds plaintext {:?}",
                f.path(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Paint { x: u8, y: u8, z: u8, erase: bool },
    Undo,
    Redo,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..70u8, 0..70u8, 0..38u8, any::<bool>())
            .prop_map(|(x, y, z, erase)| Op::Paint { x, y, z, erase }),
        2 => Just(Op::Undo),
        1 => Just(Op::Redo),
    ]
}

#[test]
fn undo_redo_sequences_end_where_an_undo_stack_says() {
    let cases: u32 = std::env::var("TESSERA_UNDO_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op(), 1..14), |ops| {
            let dir = tempfile::tempdir().unwrap();
            let (path, mut s, id) = project_with_segmentation(dir.path(), "undo");
            // The model: states and a cursor; a new stroke drops what could be redone.
            let mut states = vec![LabelMap::new(small_grid().dims).unwrap()];
            let mut at = 0;
            // What the viewer holds, kept current from the edits undo/redo return.
            let mut shown = states[0].clone();
            for op in &ops {
                match *op {
                    Op::Paint { x, y, z, erase } => {
                        let rule = if erase {
                            PaintRule::erase(1)
                        } else {
                            PaintRule::paint(1)
                        };
                        let from = [f64::from(x), f64::from(y), f64::from(z)];
                        if stroke(&mut s, id, &mut shown, from, rule) {
                            states.truncate(at + 1);
                            states.push(shown.clone());
                            at += 1;
                        }
                    }
                    // The setup edits (schema, segmentation, segment) are undoable too;
                    // this model covers strokes, so it never undoes past them.
                    Op::Undo if at == 0 => continue,
                    Op::Undo | Op::Redo => {
                        let applied = if matches!(op, Op::Undo) {
                            s.undo_edit().unwrap()
                        } else {
                            s.redo_edit().unwrap()
                        };
                        let expect_some = if matches!(op, Op::Undo) {
                            at > 0
                        } else {
                            at + 1 < states.len()
                        };
                        prop_assert_eq!(applied.is_some(), expect_some, "{:?}", op);
                        if let Some(a) = applied {
                            let Edit::SegmentStroke { stroke, .. } = &a.edit else {
                                panic!("not a stroke: {:?}", a.edit);
                            };
                            shown.apply_stroke(stroke).unwrap();
                            at = if matches!(op, Op::Undo) {
                                at - 1
                            } else {
                                at + 1
                            };
                        }
                    }
                }
                prop_assert_eq!(&shown, &states[at]);
            }
            let stored = s.load_segmentation(id).unwrap().map;
            prop_assert_eq!(&stored, &states[at], "the project agrees");
            drop(s);
            let reopened = open(&path, "alice", "pw-a").unwrap().load_segmentation(id);
            prop_assert_eq!(&reopened.unwrap().map, &states[at], "and after reopening");
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_label_schema_is_stored_encrypted_and_edited_by_admins_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.tessera");
    let (mut s, _) = Project::create(&path, "alice", b"pw-a", TINY).unwrap();
    s.add_user("bob", Role::Annotator, b"pw-b", TINY).unwrap();
    let n = s.install_default_schema().unwrap();
    assert_eq!(n, default_classes().unwrap().len());
    assert_eq!(s.install_default_schema().unwrap(), 0, "idempotent");
    let marker = format!("Tumour board {}", Id::random().unwrap().short());
    let free = LabelClass::free_text(&marker, Colour([10, 20, 30]));
    let id = s.save_class(None, free.clone()).unwrap();
    assert!(
        matches!(
            s.save_class(None, free.clone()),
            Err(ProjectError::Apply(_))
        ),
        "a duplicate name is refused"
    );
    drop(s);
    let mut b = open(&path, "bob", "pw-b").unwrap();
    let classes = b.label_classes().unwrap();
    assert_eq!(classes.len(), n + 1);
    let mine = classes.iter().find(|(i, _)| *i == id).unwrap();
    assert!(!mine.1.is_coded(), "free text is flagged uncoded");
    assert!(matches!(
        b.save_class(None, LabelClass::free_text("Other", Colour([0; 3]))),
        Err(ProjectError::NotAdmin { .. })
    ));
    assert!(matches!(
        b.remove_class(id),
        Err(ProjectError::NotAdmin { .. })
    ));
    drop(b);
    let mut a = open(&path, "alice", "pw-a").unwrap();
    a.remove_class(id).unwrap();
    assert_eq!(a.label_classes().unwrap().len(), n);
    a.undo().unwrap();
    assert_eq!(
        a.label_classes().unwrap().len(),
        n + 1,
        "undo restores the class"
    );
    drop(a);
    for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(f.path()).unwrap();
        assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()));
    }
}

#[test]
fn copies_painting_the_same_brick_apart_record_a_conflict_that_resolving_settles() {
    let dir = tempfile::tempdir().unwrap();
    let (base, mut s, id) = project_with_segmentation(dir.path(), "Liver");
    s.add_user("bob", Role::Annotator, b"pw-b", TINY).unwrap();
    drop(s);
    let bob_path = dir.path().join("bob.tessera");
    std::fs::copy(&base, &bob_path).unwrap();
    // Alice and Bob paint the same region of their own copies, and Bob a second region.
    let mut a = open(&base, "alice", "pw-a").unwrap();
    let mut map_a = a.load_segmentation(id).unwrap().map;
    stroke(
        &mut a,
        id,
        &mut map_a,
        [20.0, 20.0, 10.0],
        PaintRule::paint(1),
    );
    let mut b = open(&bob_path, "bob", "pw-b").unwrap();
    let mut map_b = b.load_segmentation(id).unwrap().map;
    stroke(
        &mut b,
        id,
        &mut map_b,
        [21.0, 20.0, 10.0],
        PaintRule::paint(1),
    );
    stroke(
        &mut b,
        id,
        &mut map_b,
        [80.0, 70.0, 35.0],
        PaintRule::paint(1),
    );
    let bundle_a = dir.path().join("a.bundle");
    let bundle_b = dir.path().join("b.bundle");
    a.export_bundle(&bundle_a, &[], &mut |_, _| {}).unwrap();
    b.export_bundle(&bundle_b, &[], &mut |_, _| {}).unwrap();
    a.import_commit(&bundle_b, &mut |_, _| {}).unwrap();
    b.import_commit(&bundle_a, &mut |_, _| {}).unwrap();
    // Both copies show the same label map and the same conflict.
    let (la, lb) = (
        a.load_segmentation(id).unwrap(),
        b.load_segmentation(id).unwrap(),
    );
    assert_eq!(la.map, lb.map, "deterministic merge");
    assert_eq!(a.canonical_state().unwrap(), b.canonical_state().unwrap());
    let conflicts = a.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, Field::LabelMap);
    assert_eq!(conflicts[0].label, "Liver");
    // Bob's separate region merged without conflict.
    assert_eq!(la.map.get([80, 70, 35]), 1);
    // Alice keeps Bob's version of the disputed bricks.
    let bobs = conflicts[0]
        .versions
        .iter()
        .find(|v| v.author == "bob")
        .unwrap()
        .event;
    a.resolve_conflict(id, bobs).unwrap();
    assert!(a.conflicts().unwrap().is_empty());
    let resolved = a.load_segmentation(id).unwrap().map;
    assert_eq!(resolved, map_b, "Bob's strokes, whole");
    drop(a);
    let mut a = open(&base, "alice", "pw-a").unwrap();
    assert_eq!(a.verify().unwrap().conflicts, 0);
}
