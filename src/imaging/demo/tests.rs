//! Tests may unwrap: a panic is a failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::f64::consts::PI;

use dicom_object::open_file;

use super::*;

/// Voxels of lesion `index` on the CT grid of `spec`, counted from painted rows.
fn lesion_voxel_count(spec: &DemoSpec, phantom: &Phantom, index: usize) -> usize {
    let lesion = &DEMO_LESIONS[index];
    let radius_mm = lesion.diameter_mm / 2.0;
    let mut labels = vec![Tissue::Air; usize::from(spec.ct_matrix)];
    let mut count = 0;
    for k in 0..spec.ct_slices {
        let z_mm = spec.ct_voxel_mm(0, 0, k)[2];
        if (z_mm - lesion.centre_mm[2]).abs() > radius_mm {
            continue;
        }
        for j in 0..u32::from(spec.ct_matrix) {
            let origin = spec.ct_voxel_mm(0, j, k);
            if (origin[1] - lesion.centre_mm[1]).abs() > radius_mm {
                continue;
            }
            phantom.paint_line(
                origin,
                [1.0, 0.0, 0.0],
                spec.ct_pixel_spacing_mm,
                &mut labels,
            );
            count += labels
                .iter()
                .filter(|t| **t == Tissue::Lesion(index as u8))
                .count();
        }
    }
    count
}

#[test]
fn lesion_voxel_counts_match_sphere_volumes() {
    let spec = DemoSpec::FULL;
    let phantom = Phantom::new();
    let voxel_mm3 = spec.ct_pixel_spacing_mm * spec.ct_pixel_spacing_mm * spec.ct_slice_spacing_mm;
    for (index, lesion) in DEMO_LESIONS.iter().enumerate() {
        let radius_mm = lesion.diameter_mm / 2.0;
        let expected = 4.0 / 3.0 * PI * radius_mm.powi(3) / voxel_mm3;
        let counted = lesion_voxel_count(&spec, &phantom, index) as f64;
        let error = (counted - expected).abs() / expected;
        assert!(
            error < 0.01,
            "{}: {counted} voxels, expected {expected:.1}",
            lesion.name
        );
    }
}

#[test]
fn lesions_sit_inside_their_host_with_contrast() {
    let phantom = Phantom::new();
    for (index, lesion) in DEMO_LESIONS.iter().enumerate() {
        let c = lesion.centre_mm;
        assert_eq!(
            phantom.tissue_at(c),
            Tissue::Lesion(index as u8),
            "{}",
            lesion.name
        );
        // A shell 1 mm outside the sphere, sampled on a Fibonacci lattice, is all host.
        let shell_mm = lesion.diameter_mm / 2.0 + 1.0;
        let n = 400;
        for i in 0..n {
            let cos_polar = 1.0 - 2.0 * (f64::from(i) + 0.5) / f64::from(n);
            let sin_polar = (1.0 - cos_polar * cos_polar).sqrt();
            let azimuth = PI * (3.0 - 5.0_f64.sqrt()) * f64::from(i);
            let p = [
                c[0] + shell_mm * sin_polar * azimuth.cos(),
                c[1] + shell_mm * sin_polar * azimuth.sin(),
                c[2] + shell_mm * cos_polar,
            ];
            assert_eq!(
                phantom.tissue_at(p),
                lesion.host,
                "{} at {p:?}",
                lesion.name
            );
        }
        assert!(
            (lesion.ct_hu - lesion.host.ct_hu()).abs() >= 58.0,
            "{}",
            lesion.name
        );
    }
}

#[test]
fn noise_is_deterministic_and_about_ten_hu() {
    let spec = DemoSpec::SMALL;
    let phantom = Phantom::new();
    let a = ct_slice_stored(&spec, &phantom, 20);
    assert_eq!(a, ct_slice_stored(&spec, &phantom, 20));
    assert_ne!(a, ct_slice_stored(&spec, &phantom, 21));
    // Slice 20 is at z = -2.5 mm: sample the liver away from its lesions.
    let mut values = Vec::new();
    for j in 0..u32::from(spec.ct_matrix) {
        for i in 0..u32::from(spec.ct_matrix) {
            let p = spec.ct_voxel_mm(i, j, 20);
            if phantom.tissue_at(p) == Tissue::Liver {
                values.push(f64::from(a[(j * u32::from(spec.ct_matrix) + i) as usize]) - 1024.0);
            }
        }
    }
    assert!(values.len() > 500, "{}", values.len());
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    assert!((mean - 60.0).abs() < 2.0, "mean {mean}");
    assert!((sd - DEMO_CT_NOISE_SD_HU).abs() < 1.5, "sd {sd}");
}

fn text(obj: &dicom_object::DefaultDicomObject, tag: dicom_core::Tag) -> String {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn floats(obj: &dicom_object::DefaultDicomObject, tag: dicom_core::Tag) -> Vec<f64> {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_multi_float64().ok())
        .unwrap_or_default()
}

#[test]
fn written_study_reopens_with_its_tags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DemoSpec::SMALL;
    let calls = AtomicUsize::new(0);
    let summary = write_demo_study_with(dir.path(), &spec, |p| {
        assert!(p.files_done <= p.files_total);
        calls.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(summary.files_written, 48);
    assert_eq!(calls.into_inner(), 48);
    assert!(is_demo_study_complete(dir.path()));
    assert_eq!(
        std::fs::read_dir(dir.path().join("CT")).unwrap().count(),
        40
    );
    assert_eq!(std::fs::read_dir(dir.path().join("MR")).unwrap().count(), 8);

    let ct = open_file(dir.path().join("CT/IM0021.dcm")).unwrap();
    assert_eq!(text(&ct, tags::MODALITY), "CT");
    assert_eq!(text(&ct, tags::PATIENT_NAME), DEMO_PATIENT_NAME);
    assert_eq!(text(&ct, tags::PATIENT_ID), DEMO_PATIENT_ID);
    assert_eq!(text(&ct, tags::SERIES_DESCRIPTION), DEMO_CT_DESCRIPTION);
    assert_eq!(
        text(&ct, tags::STUDY_INSTANCE_UID),
        summary.study_instance_uid
    );
    assert_eq!(
        text(&ct, tags::SERIES_INSTANCE_UID),
        summary.series[0].series_instance_uid
    );
    let position_mm = floats(&ct, tags::IMAGE_POSITION_PATIENT);
    let expected_mm = spec.ct_voxel_mm(0, 0, 20);
    assert_eq!(position_mm.len(), 3);
    for (got, want) in position_mm.iter().zip(expected_mm) {
        assert!(
            (got - want).abs() < 1e-6,
            "{position_mm:?} vs {expected_mm:?}"
        );
    }
    assert_eq!(
        floats(&ct, tags::IMAGE_ORIENTATION_PATIENT),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    );
    assert_eq!(floats(&ct, tags::PIXEL_SPACING), vec![2.8, 2.8]);
    assert_eq!(floats(&ct, tags::RESCALE_INTERCEPT), vec![-1024.0]);
    assert_eq!(floats(&ct, tags::RESCALE_SLOPE), vec![1.0]);
    assert_eq!(floats(&ct, tags::WINDOW_CENTER), vec![40.0]);
    assert_eq!(floats(&ct, tags::WINDOW_WIDTH), vec![400.0]);
    let bytes = ct.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
    let stored: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(stored, ct_slice_stored(&spec, &Phantom::new(), 20));

    let mr = open_file(dir.path().join("MR/IM0003.dcm")).unwrap();
    assert_eq!(text(&mr, tags::MODALITY), "MR");
    assert_eq!(
        text(&mr, tags::STUDY_INSTANCE_UID),
        summary.study_instance_uid
    );
    assert_eq!(text(&mr, tags::SERIES_DESCRIPTION), DEMO_MR_DESCRIPTION);
    assert_eq!(
        floats(&mr, tags::IMAGE_ORIENTATION_PATIENT),
        vec![0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
    );
    assert_eq!(
        mr.element(tags::PIXEL_REPRESENTATION)
            .unwrap()
            .to_int::<u16>()
            .unwrap(),
        0
    );
    assert_eq!(
        mr.element(tags::PIXEL_DATA)
            .unwrap()
            .to_bytes()
            .unwrap()
            .len(),
        64 * 64 * 2
    );
    assert_ne!(
        text(&ct, tags::SERIES_INSTANCE_UID),
        text(&mr, tags::SERIES_INSTANCE_UID)
    );
    assert_eq!(
        text(&ct, tags::FRAME_OF_REFERENCE_UID),
        text(&mr, tags::FRAME_OF_REFERENCE_UID)
    );
}
