//! NIfTI label maps and images from synthetic DICOM series in four orientations: each
//! marker voxel lands at the RAS point DICOM's geometry gives it (LPS with x and y
//! negated), by our own reading and by nibabel's.

use tessera::interop::nifti::{self, ImageVolume, ImageVoxels};
use tessera::interop::{Algorithm, Code, LabelVolume, SegmentInfo};

use super::{close3, load, python, run_python, skip, specs};

fn ras(lps: [f64; 3]) -> [f64; 3] {
    [-lps[0], -lps[1], lps[2]]
}

fn segment(number: u8) -> SegmentInfo {
    SegmentInfo {
        number,
        label: format!("marker {number}"),
        colour: [200, 40 * number, 10],
        category: Code::default_category(),
        type_: Code::new("SCT", "52988006", "Lesion"),
        anatomic_region: None,
        algorithm: Algorithm::Manual,
    }
}

#[test]
fn label_maps_and_images_land_where_dicom_puts_them() {
    let nib = python();
    if let Err(why) = &nib {
        skip("nifti: nibabel read-back", why);
    }
    for spec in specs() {
        let dir = tempfile::tempdir().unwrap();
        spec.write(dir.path());
        let (source, volume) = load(dir.path());
        let image = ImageVolume::from_volume(&volume, &source).unwrap();
        let ImageVoxels::I16(hu) = &image.voxels else {
            panic!("{}: CT with integer rescale should be int16", spec.name);
        };
        let markers = spec.markers();
        let mut labels =
            LabelVolume::new(source.grid.clone(), (1..=3).map(segment).collect()).unwrap();
        for (n, v) in hu.iter().enumerate() {
            if let Some(index) = markers.iter().position(|m| m.hu == *v) {
                labels.voxels[n] = index as u8 + 1;
            }
        }
        assert_eq!(labels.histogram()[1..4], [1, 1, 1], "{}", spec.name);
        let (label_path, image_path) = (
            dir.path().join("labels.nii.gz"),
            dir.path().join("image.nii.gz"),
        );
        nifti::write_labels(&label_path, &labels).unwrap();
        nifti::write_image(&image_path, &image).unwrap();
        nifti::write_label_description(&dir.path().join("labels.txt"), &labels.segments).unwrap();

        // Our reading: both forms of both files agree with DICOM.
        let (l, i) = (
            nifti::read(&label_path).unwrap(),
            nifti::read(&image_path).unwrap(),
        );
        assert_eq!(
            (l.sform, l.qform_code, l.sform_code),
            (i.sform, 1, 1),
            "{}",
            spec.name
        );
        let [ni, nj, _] = l.dims;
        for (index, value) in l.data.iter().enumerate().filter(|(_, v)| **v != 0) {
            let v = [index % ni, index / ni % nj, index / (ni * nj)].map(|x| x as f64);
            let want = ras(markers[usize::from(*value) - 1].lps);
            assert!(
                close3(l.sform_world(v), want, 1e-3),
                "{} sform {value}",
                spec.name
            );
            assert!(
                close3(l.qform_world(v), want, 1e-3),
                "{} qform {value}",
                spec.name
            );
            let stored = i16::from_le_bytes([i.data[2 * index], i.data[2 * index + 1]]);
            assert_eq!(stored, markers[usize::from(*value) - 1].hu, "{}", spec.name);
        }

        // nibabel's reading.
        let Ok(python) = &nib else { continue };
        let hus: Vec<String> = markers.iter().map(|m| m.hu.to_string()).collect();
        let out = run_python(
            python,
            "nifti_check.py",
            &[
                &label_path,
                &image_path,
                std::path::Path::new(&hus.join(",")),
            ],
        );
        for part in ["labels", "image"] {
            assert_eq!(out[part]["qform_code"], 1, "{} {part}", spec.name);
            assert_eq!(out[part]["sform_code"], 1, "{} {part}", spec.name);
            assert_eq!(
                out[part]["qform_equals_sform"], true,
                "{} {part}",
                spec.name
            );
        }
        assert_eq!(out["labels"]["dtype"], "uint8");
        assert_eq!(out["image"]["dtype"], "int16");
        assert_eq!(
            out["labels"]["affine"], out["image"]["affine"],
            "{}",
            spec.name
        );
        for (n, m) in markers.iter().enumerate() {
            for (part, key) in [("labels", (n + 1).to_string()), ("image", m.hu.to_string())] {
                let points = out[part]["points"][&key].as_array().unwrap();
                assert_eq!(points.len(), 1, "{} {part} {key}", spec.name);
                let p: Vec<f64> = points[0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                assert!(
                    close3([p[0], p[1], p[2]], ras(m.lps), 1e-3),
                    "{} {part} {key}: nibabel {p:?}, DICOM {:?}",
                    spec.name,
                    ras(m.lps)
                );
            }
        }
    }
}

#[test]
fn fractional_rescale_is_written_as_float32() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        let mut spec =
            tessera::imaging::writer::SliceSpec::axial_ct("float-nifti", k + 1, k as f64 * 2.0);
        spec.rows = 4;
        spec.columns = 5;
        spec.rescale_slope = 0.5;
        let pixels: Vec<i16> = (0..20).map(|n| n as i16 + 10 * k as i16).collect();
        spec.write(&dir.path().join(format!("{k}.dcm")), &pixels)
            .unwrap();
    }
    let (source, volume) = load(dir.path());
    let image = ImageVolume::from_volume(&volume, &source).unwrap();
    let ImageVoxels::F32(values) = &image.voxels else {
        panic!("a slope of 0.5 gives non-integer values");
    };
    // Viewer order is superior first: slice k = 2 (z = 4 mm) comes first.
    assert_eq!(values[1], (1.0 + 20.0) * 0.5 - 1024.0);
    let path = dir.path().join("image.nii.gz");
    nifti::write_image(&path, &image).unwrap();
    let back = nifti::read(&path).unwrap();
    assert_eq!(back.datatype, 16);
    assert_eq!(back.data.len(), 4 * 60);
}
