use super::*;
use crate::imaging::mpr::VolumeGrid;
use crate::interop::source::synthetic;
use crate::interop::{Code, SegmentInfo};

fn segment(number: u8, label: &str, algorithm: Algorithm) -> SegmentInfo {
    SegmentInfo {
        number,
        label: label.into(),
        colour: [40 * number, 200, 30],
        category: Code::default_category(),
        type_: Code::new("SCT", "52988006", "Lesion"),
        anatomic_region: (number == 2).then(|| Code::new("SCT", "10200004", "Liver")),
        algorithm,
    }
}

/// 7 × 5 × 6 (odd sizes: frames do not end on byte boundaries), oblique-free axial
/// grid running inferior; two segments, one slice left empty.
fn volume() -> LabelVolume {
    let positions: Vec<[f64; 3]> = (0..6).map(|k| [-3.0, 4.0, 20.0 - 2.5 * k as f64]).collect();
    let grid =
        VolumeGrid::from_slices(7, 5, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.6, 0.8], &positions);
    let mut l = LabelVolume::new(
        grid,
        vec![
            segment(1, "nodule", Algorithm::Manual),
            segment(2, "liver \"cyst\"", Algorithm::SemiAutomatic),
        ],
    )
    .unwrap();
    for k in [0, 1, 3, 5] {
        for j in 0..5 {
            for i in 0..7 {
                if (i + 2 * j + k) % 3 == 0 {
                    l.set(i, j, k, 1 + ((i + k) % 2) as u8);
                }
            }
        }
    }
    l.set(6, 4, 5, 2);
    l
}

fn who() -> Authoring {
    Authoring {
        creator: "Reader^One".into(),
        series_description: "Tessera segmentation".into(),
        series_number: 99,
        instance_number: 1,
        series_uid: "1.2.826.0.1.3680043.10.5".into(),
        sop_instance_uid: "1.2.826.0.1.3680043.10.6".into(),
        date: "20260102".into(),
        time: "030405".into(),
    }
}

#[test]
fn label_volume_to_seg_and_back_is_identical() {
    let labels = volume();
    let source = synthetic(&labels.grid);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.dcm");
    let summary = write(&path, &labels, &source, &who()).unwrap();
    // Slices 2 and 4 are empty for both segments; 1 and 2 appear on 0, 1, 3 and 5.
    assert_eq!(
        summary,
        SegSummary {
            segments: 2,
            frames: 8
        }
    );

    let back = read(&path, Some(&source)).unwrap();
    assert_eq!(back.labels.grid, labels.grid);
    assert_eq!(back.labels.voxels, labels.voxels);
    assert_eq!(back.overlapping_voxels, 0);
    assert_eq!(
        back.referenced_series_uid.as_deref(),
        Some(source.series_instance_uid.as_str())
    );
    assert_eq!(back.series_uid, who().series_uid);
    for (a, b) in labels.segments.iter().zip(&back.labels.segments) {
        assert_eq!(
            (a.number, &a.label, &a.category, &a.type_),
            (b.number, &b.label, &b.category, &b.type_)
        );
        assert_eq!(
            (&a.anatomic_region, a.algorithm),
            (&b.anatomic_region, b.algorithm)
        );
        assert!(
            a.colour
                .iter()
                .zip(b.colour)
                .all(|(x, y)| x.abs_diff(y) <= 1),
            "{:?} {:?}",
            a.colour,
            b.colour
        );
    }

    // From the SEG alone: its own grid starts at the lowest frame; every labelled voxel
    // is at the same patient point as before.
    let alone = read(&path, None).unwrap();
    let world_of = |l: &LabelVolume| {
        let [ni, nj, _] = l.grid.dims;
        let mut points: Vec<(u8, [i64; 3])> = l
            .voxels
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(|(n, v)| {
                let p = l.grid.world([
                    (n % ni) as f64,
                    (n / ni % nj) as f64,
                    (n / (ni * nj)) as f64,
                ]);
                (*v, p.map(|x| (x * 1000.0).round() as i64))
            })
            .collect();
        points.sort();
        points
    };
    assert_eq!(world_of(&alone.labels), world_of(&labels));
}

#[test]
fn empty_volumes_and_foreign_grids_are_refused() {
    let labels = volume();
    let source = synthetic(&labels.grid);
    let dir = tempfile::tempdir().unwrap();
    let mut empty = labels.clone();
    empty.voxels.fill(0);
    assert!(matches!(
        write(&dir.path().join("e.dcm"), &empty, &source, &who()),
        Err(InteropError::Empty)
    ));
    let mut other = labels.grid.clone();
    other.dims[2] = 5;
    let small = synthetic(&other);
    let e = write(&dir.path().join("x.dcm"), &labels, &small, &who()).unwrap_err();
    assert!(e.to_string().contains("source series"), "{e}");
    // Aligning to a series with another slice spacing fails with one line.
    let path = dir.path().join("seg.dcm");
    write(&path, &labels, &source, &who()).unwrap();
    let mut shifted = labels.grid.clone();
    shifted.origin_mm[2] += 1.0;
    let e = read(&path, Some(&synthetic(&shifted)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("from the nearest source slice") && !e.contains('\n'),
        "{e}"
    );
}
