//! DICOM SEG from synthetic series in four orientations: dciodvfy finds no error,
//! highdicom reads it and puts every segment's voxels at our patient points (≤ 0.01 mm),
//! it reads back identical; and a SEG written by highdicom imports onto its source.

use std::path::{Path, PathBuf};

use tessera::interop::{Algorithm, Authoring, Code, LabelVolume, SegmentInfo, SourceSeries, seg};

use super::{
    assert_dciodvfy_clean, json_points, points_of, python, run_python, skip, sort_points, specs,
    stack,
};

fn segments() -> Vec<SegmentInfo> {
    vec![
        SegmentInfo {
            number: 1,
            label: "Lesion 1".into(),
            colour: [230, 60, 40],
            category: Code::default_category(),
            type_: Code::new("SCT", "52988006", "Lesion"),
            anatomic_region: Some(Code::new("SCT", "10200004", "Liver")),
            algorithm: Algorithm::Manual,
        },
        SegmentInfo {
            number: 2,
            label: "Ünusual \"spot\"".into(),
            colour: [20, 120, 250],
            category: Code::default_category(),
            type_: Code::local("Ünusual \"spot\""),
            anatomic_region: None,
            algorithm: Algorithm::SemiAutomatic,
        },
    ]
}

/// Segment 1: a 3×2 block on slice 1 and a corner voxel on slice 0; segment 2: a
/// block on the last slice. Asymmetric, so a flipped axis moves something.
fn paint(source: &SourceSeries) -> LabelVolume {
    let mut l = LabelVolume::new(source.grid.clone(), segments()).unwrap();
    let [ni, nj, nk] = l.grid.dims;
    for (i, j) in [(2, 3), (3, 3), (4, 3), (2, 4), (3, 4), (4, 4)] {
        l.set(i, j, 1, 1);
    }
    l.set(ni - 1, 0, 0, 1);
    for i in 0..3 {
        l.set(ni - 2 - i, nj - 2, nk - 1, 2);
    }
    l
}

fn close(a: &[[f64; 3]], b: &[[f64; 3]]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| (0..3).all(|n| (p[n] - q[n]).abs() <= 0.01))
}

#[test]
fn seg_is_valid_read_back_identical_and_highdicom_agrees_on_every_voxel() {
    let py = python();
    if let Err(why) = &py {
        skip("seg: highdicom read-back", why);
    }
    for spec in specs() {
        let dir = tempfile::tempdir().unwrap();
        spec.write(dir.path());
        let source = SourceSeries::from_stack(&stack(dir.path())).unwrap();
        let labels = paint(&source);
        let path = dir.path().join("seg.dcm");
        let who = Authoring::new("Reader^One", "Tessera segmentation").unwrap();
        let summary = seg::write(&path, &labels, &source, &who).unwrap();
        assert_eq!((summary.segments, summary.frames), (2, 3), "{}", spec.name);
        assert_dciodvfy_clean(&format!("seg {}", spec.name), &path);

        let back = seg::read(&path, Some(&source)).unwrap();
        assert_eq!(back.labels.voxels, labels.voxels, "{}", spec.name);
        assert_eq!(back.labels.segments.len(), 2);
        let alone = seg::read(&path, None).unwrap();
        for n in [1, 2] {
            assert!(
                close(&points_of(&alone.labels, n), &points_of(&labels, n)),
                "{}",
                spec.name
            );
        }

        let Ok(python) = &py else { continue };
        let out = run_python(python, "seg_check.py", &[&path]);
        assert_eq!(out["type"], "BINARY");
        for s in &labels.segments {
            let theirs = &out["segments"][s.number.to_string()];
            assert_eq!(theirs["label"], s.label.as_str());
            assert_eq!(theirs["type"][1], s.type_.value.as_str());
            assert_eq!(theirs["category"][1], "49755003");
            let mut points = json_points(&theirs["points"]);
            sort_points(&mut points);
            let ours = points_of(&labels, s.number);
            assert!(
                close(&points, &ours),
                "{} segment {}: highdicom {points:?}\nours {ours:?}",
                spec.name,
                s.number
            );
        }
        // The Common Instance Reference lists the whole source series, as highdicom's own.
        assert_eq!(theirs_sources(&out).len(), spec.slices, "{}", spec.name);
    }
}

fn theirs_sources(out: &serde_json::Value) -> Vec<String> {
    out["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_seg_written_by_highdicom_imports_onto_its_source_series() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => return skip("seg: import of a highdicom SEG", &why),
    };
    let spec = &specs()[0];
    let dir = tempfile::tempdir().unwrap();
    spec.write(dir.path());
    let source = SourceSeries::from_stack(&stack(dir.path())).unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    let path = dir.path().join("highdicom-seg.dcm");
    let mut args: Vec<&Path> = vec![&path];
    args.extend(files.iter().map(PathBuf::as_path));
    let out = run_python(&python, "seg_make.py", &args);
    let imported = seg::read(&path, Some(&source)).unwrap();
    let labels = &imported.labels;
    assert_eq!(labels.grid, source.grid);
    assert_eq!(
        imported.referenced_series_uid.as_deref(),
        Some(source.series_instance_uid.as_str())
    );
    for (n, code) in [(1u8, "Nodule"), (2, "Mass")] {
        let s = labels.segment(n).unwrap();
        assert_eq!(s.type_.meaning, code);
        let mut want: Vec<usize> = out["pixels"][n.to_string()]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let k = source.slice_of(p[0].as_str().unwrap(), None).unwrap();
                labels.index(
                    p[2].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                    k,
                )
            })
            .collect();
        want.sort_unstable();
        let got: Vec<usize> = (0..labels.voxels.len())
            .filter(|v| labels.voxels[*v] == n)
            .collect();
        assert_eq!(got, want, "segment {n}");
    }
    // From the SEG alone, the same voxels land on the same patient points.
    let alone = seg::read(&path, None).unwrap();
    for n in [1, 2] {
        assert!(close(&points_of(&alone.labels, n), &points_of(labels, n)));
    }
}
