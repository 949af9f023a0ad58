//! Discovery, stack geometry and volume loading on synthetic series written with
//! `imaging::writer` into temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use dicom_core::VR;
use dicom_dictionary_std::{tags, uids};
use tessera::imaging::discovery::{self, Discovery, PatientNames, Stack};
use tessera::imaging::geometry::{GeometryWarning, SplitReason, Vec3};
use tessera::imaging::pixels::Samples;
use tessera::imaging::volume::{self, LoadError, LoadEvent, LoadOptions, SliceSamples};
use tessera::imaging::writer::{DatasetBuilder, SliceSpec, uid_from_seed};

const N: usize = 64 * 64;

/// Distinct, signed stored values for slice `k`.
fn ramp(k: usize) -> Vec<i16> {
    (0..N)
        .map(|i| (k as i16) * 100 + (i % 64) as i16 * 3 - (i / 64) as i16 * 5 - 200)
        .collect()
}

/// Writes axial slices at `zs` (instance numbers 1.. in that order) under file names
/// `{prefix}{n:03}` where `n` comes from `names`; returns the specs.
fn write_axial(dir: &Path, seed: &str, zs: &[f64], names: &[usize]) -> Vec<SliceSpec> {
    zs.iter()
        .enumerate()
        .map(|(n, &z)| {
            let spec = SliceSpec::axial_ct(seed, n as i64 + 1, z);
            let name = format!("{seed}{:03}.dcm", names[n]);
            spec.write(&dir.join(name), &ramp(z.round() as usize))
                .unwrap();
            spec
        })
        .collect()
}

fn only_stack(d: &Discovery) -> &Stack {
    let stacks: Vec<&Stack> = d.stacks().collect();
    assert_eq!(stacks.len(), 1, "{:?}", d.summary(PatientNames::Omit));
    stacks[0]
}

fn positions(stack: &Stack) -> Vec<Vec3> {
    stack.geometry.slice_origins_mm.clone()
}

fn close(a: Vec3, b: Vec3) -> bool {
    a.max_abs_diff(b) < 1e-4
}

fn dir_input(dir: &tempfile::TempDir) -> Vec<PathBuf> {
    vec![dir.path().to_path_buf()]
}

#[test]
fn shuffled_files_sort_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let zs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    write_axial(dir.path(), "shuf", &zs, &[5, 2, 7, 0, 3, 6, 1, 4]);
    let d = discovery::discover(&dir_input(&dir));
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(d.patients.len(), 1);
    let stack = only_stack(&d);
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    let zs_found: Vec<f64> = positions(stack).iter().map(|p| p.z()).collect();
    assert_eq!(zs_found, zs);
    let g = &stack.geometry;
    assert_eq!((g.columns, g.rows, g.slices), (64, 64, 8));
    assert_eq!(g.spacing_mm(), [1.0, 1.0, 1.0]);
    assert!(close(
        g.world_from_voxel
            .transform_point(Vec3::new(63.0, 63.0, 7.0)),
        Vec3::new(31.0, 31.0, 7.0)
    ));
}

#[test]
fn reversed_order_sorts_ascending_along_normal() {
    let dir = tempfile::tempdir().unwrap();
    // Instance 1 is the top slice: the usual head-first order.
    write_axial(
        dir.path(),
        "rev",
        &[4.0, 3.0, 2.0, 1.0, 0.0],
        &[0, 1, 2, 3, 4],
    );
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    let instance_numbers: Vec<i64> = stack
        .slices
        .iter()
        .map(|s| s.instance.instance_number.unwrap())
        .collect();
    assert_eq!(instance_numbers, vec![5, 4, 3, 2, 1]);
    assert_eq!(
        stack.geometry.world_from_voxel.column(2),
        Vec3::new(0.0, 0.0, 1.0)
    );
    assert!(stack.geometry.world_from_voxel.det3() > 0.0);
}

#[test]
fn oblique_world_from_voxel_maps_corners() {
    let dir = tempfile::tempdir().unwrap();
    let (s, c) = 30f64.to_radians().sin_cos();
    let row = Vec3::new(1.0, 0.0, 0.0);
    let col = Vec3::new(0.0, c, s);
    let normal = row.cross(col);
    let origin = Vec3::new(-20.0, 10.0, 5.0);
    let spacing = [0.8, 0.6];
    for k in 0..4 {
        let mut spec = SliceSpec::axial_ct("obl", k + 1, 0.0);
        spec.orientation = [1.0, 0.0, 0.0, 0.0, c, s];
        spec.pixel_spacing_mm = spacing;
        spec.position_mm = (origin + normal * (2.5 * k as f64)).0;
        spec.write(&dir.path().join(format!("o{}", 3 - k)), &ramp(k as usize))
            .unwrap();
    }
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    let m = stack.geometry.world_from_voxel;
    let corners = [
        (Vec3::new(0.0, 0.0, 0.0), origin),
        (Vec3::new(63.0, 0.0, 0.0), origin + row * (63.0 * 0.6)),
        (Vec3::new(0.0, 63.0, 0.0), origin + col * (63.0 * 0.8)),
        (Vec3::new(0.0, 0.0, 3.0), origin + normal * 7.5),
        (
            Vec3::new(63.0, 63.0, 3.0),
            origin + row * (63.0 * 0.6) + col * (63.0 * 0.8) + normal * 7.5,
        ),
    ];
    let inverse = stack.geometry.voxel_from_world().unwrap();
    for (voxel, world) in corners {
        assert!(close(m.transform_point(voxel), world), "{voxel:?}");
        assert!(close(inverse.transform_point(world), voxel), "{voxel:?}");
    }
    assert!((stack.geometry.slice_spacing_mm - 2.5).abs() < 1e-4);
}

#[test]
fn missing_slice_is_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(
        dir.path(),
        "gap",
        &[0.0, 1.0, 2.0, 4.0, 5.0],
        &[0, 1, 2, 3, 4],
    );
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    assert!(
        stack.warnings.iter().any(|w| matches!(
            w,
            GeometryWarning::Gap {
                after_slice: 2,
                missing_slices: 1,
                ..
            }
        )),
        "{:?}",
        stack.warnings
    );
    // The exact positions survive even though the affine interpolates.
    assert_eq!(positions(stack)[3].z(), 4.0);
}

#[test]
fn interleaved_series_are_separated() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(
        dir.path(),
        "a",
        &[0.0, 1.0, 2.0, 3.0, 4.0],
        &[0, 2, 4, 6, 8],
    );
    write_axial(
        dir.path(),
        "b",
        &[0.5, 1.5, 2.5, 3.5, 4.5],
        &[1, 3, 5, 7, 9],
    );
    let d = discovery::discover(&dir_input(&dir));
    let series: Vec<_> = d.series().collect();
    assert_eq!(series.len(), 2);
    for (_, _, s) in series {
        assert_eq!(s.stacks.len(), 1);
        assert_eq!(s.stacks[0].slices.len(), 5);
        assert!(s.stacks[0].warnings.is_empty());
    }
}

#[test]
fn gantry_tilt_is_detected_and_sheared() {
    let dir = tempfile::tempdir().unwrap();
    let tilt = 15f64;
    let shift = tilt.to_radians().tan() * 2.0;
    for k in 0..5 {
        let mut spec = SliceSpec::axial_ct("tilt", k + 1, 2.0 * k as f64);
        spec.position_mm[1] = -32.0 + shift * k as f64;
        spec.gantry_tilt_deg = tilt;
        spec.write(&dir.path().join(format!("t{k}")), &ramp(k as usize))
            .unwrap();
    }
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    let found = stack.warnings.iter().find_map(|w| match w {
        GeometryWarning::GantryTilt {
            measured_deg,
            header_deg,
        } => Some((*measured_deg, *header_deg)),
        _ => None,
    });
    let (measured, header) = found.expect("tilt warning");
    assert!((measured - tilt).abs() < 0.01, "{measured}");
    assert_eq!(header, Some(tilt));
    let m = stack.geometry.world_from_voxel;
    for (k, p) in positions(stack).iter().enumerate() {
        assert!(close(m.transform_point(Vec3::new(0.0, 0.0, k as f64)), *p));
    }
    assert!((stack.geometry.slice_spacing_mm - 2.0).abs() < 1e-4);
}

#[test]
fn mixed_sizes_split_into_stacks() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "mix", &[0.0, 1.0, 2.0], &[0, 1, 2]);
    for k in 0..2 {
        let mut spec = SliceSpec::axial_ct("mix", 10 + k, 10.0 + k as f64);
        spec.rows = 32;
        spec.columns = 32;
        spec.write(&dir.path().join(format!("small{k}")), &vec![7i16; 32 * 32])
            .unwrap();
    }
    let d = discovery::discover(&dir_input(&dir));
    let series: Vec<_> = d.series().collect();
    assert_eq!(series.len(), 1);
    let stacks = &series[0].2.stacks;
    assert_eq!(stacks.len(), 2);
    let mut sizes: Vec<(u32, usize)> = stacks
        .iter()
        .map(|s| (s.geometry.rows, s.slices.len()))
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![(32, 2), (64, 3)]);
    for s in stacks {
        assert!(s.warnings.iter().any(|w| matches!(
            w,
            GeometryWarning::SeriesSplit { reasons, stacks: 2 } if reasons == &[SplitReason::Size]
        )));
    }
}

#[test]
fn junk_files_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "junk", &[0.0, 1.0], &[0, 1]);
    std::fs::write(dir.path().join("notes.txt"), "not DICOM at all").unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    let sub = dir.path().join("nested");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("image.png"), [0x89, b'P', b'N', b'G']).unwrap();
    let d = discovery::discover(&dir_input(&dir));
    assert_eq!(d.skipped.len(), 3, "{:?}", d.skipped);
    assert!(d.skipped.iter().all(|s| !s.reason.is_empty()));
    assert!(d.skipped.iter().any(|s| s.path.ends_with("notes.txt")));
    assert_eq!(only_stack(&d).slices.len(), 2);
    assert_eq!(d.files_examined, 5);
}

#[test]
fn same_file_twice_is_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "dup", &[0.0, 1.0], &[0, 1]);
    std::fs::copy(dir.path().join("dup000.dcm"), dir.path().join("copy.dcm")).unwrap();
    let d = discovery::discover(&dir_input(&dir));
    assert_eq!(only_stack(&d).slices.len(), 2);
    assert_eq!(d.skipped.len(), 1);
    assert!(d.skipped[0].reason.contains("duplicate"));
}

#[test]
fn dicomdir_records_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("IMAGES");
    std::fs::create_dir(&images).unwrap();
    let specs = write_axial(&images, "dd", &[0.0, 1.0, 2.0], &[0, 1, 2]);
    // A file the DICOMDIR does not list must not be picked up.
    write_axial(&images, "other", &[0.0], &[0]);
    let records: Vec<DatasetBuilder> = specs
        .iter()
        .enumerate()
        .map(|(n, _)| {
            DatasetBuilder::new()
                .text(tags::DIRECTORY_RECORD_TYPE, VR::CS, "IMAGE")
                .texts(
                    tags::REFERENCED_FILE_ID,
                    VR::CS,
                    &["IMAGES", &format!("dd{n:03}.dcm")],
                )
        })
        .collect();
    let dicomdir = dir.path().join("DICOMDIR");
    DatasetBuilder::new()
        .text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::MEDIA_STORAGE_DIRECTORY_STORAGE,
        )
        .text(tags::SOP_INSTANCE_UID, VR::UI, &uid_from_seed("dicomdir"))
        .sequence(tags::DIRECTORY_RECORD_SEQUENCE, records)
        .write(&dicomdir)
        .unwrap();
    let d = discovery::discover(&[dicomdir]);
    assert_eq!(d.dicomdirs, 1);
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(only_stack(&d).slices.len(), 3);
}

/// An enhanced CT with per-frame positions, frames stored top to bottom.
fn write_enhanced(path: &Path, frames: usize) -> Vec<Vec<i16>> {
    let shared = DatasetBuilder::new()
        .sequence(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![
                DatasetBuilder::new()
                    .ds(tags::PIXEL_SPACING, &[0.5, 0.75])
                    .ds(tags::SLICE_THICKNESS, &[3.0]),
            ],
        )
        .sequence(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![DatasetBuilder::new().ds(
                tags::IMAGE_ORIENTATION_PATIENT,
                &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            )],
        )
        .sequence(
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            vec![
                DatasetBuilder::new()
                    .ds(tags::RESCALE_INTERCEPT, &[-1024.0])
                    .ds(tags::RESCALE_SLOPE, &[1.0]),
            ],
        );
    let per_frame: Vec<DatasetBuilder> = (0..frames)
        .map(|f| {
            let z = 3.0 * (frames - 1 - f) as f64;
            DatasetBuilder::new().sequence(
                tags::PLANE_POSITION_SEQUENCE,
                vec![DatasetBuilder::new().ds(tags::IMAGE_POSITION_PATIENT, &[-16.0, -24.0, z])],
            )
        })
        .collect();
    let frame_pixels: Vec<Vec<i16>> = (0..frames).map(|f| ramp(10 + f)).collect();
    let all: Vec<i16> = frame_pixels.iter().flatten().copied().collect();
    DatasetBuilder::new()
        .text(tags::SOP_CLASS_UID, VR::UI, uids::ENHANCED_CT_IMAGE_STORAGE)
        .text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &uid_from_seed("enh/instance"),
        )
        .text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &uid_from_seed("enh/study"),
        )
        .text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            &uid_from_seed("enh/series"),
        )
        .text(tags::MODALITY, VR::CS, "CT")
        .text(tags::PATIENT_NAME, VR::PN, "Enhanced^Patient")
        .is(tags::INSTANCE_NUMBER, 1)
        .is(tags::NUMBER_OF_FRAMES, frames as i64)
        .us(tags::SAMPLES_PER_PIXEL, 1)
        .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
        .us(tags::ROWS, 64)
        .us(tags::COLUMNS, 64)
        .us(tags::BITS_ALLOCATED, 16)
        .us(tags::BITS_STORED, 16)
        .us(tags::HIGH_BIT, 15)
        .us(tags::PIXEL_REPRESENTATION, 1)
        .sequence(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared])
        .sequence(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame)
        .pixel_data_i16(&all)
        .write(path)
        .unwrap();
    frame_pixels
}

fn slice_i16(volume: &volume::Volume, k: u32) -> Vec<i16> {
    match volume.slice(k) {
        Some(SliceSamples::I16(s)) => s.to_vec(),
        other => panic!("slice {k}: {other:?}"),
    }
}

fn no_events() -> impl Fn(LoadEvent) + Sync {
    |_| {}
}

#[test]
fn enhanced_multi_frame_geometry_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let frames = write_enhanced(&dir.path().join("enhanced.dcm"), 5);
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    let frame_order: Vec<u32> = stack.slices.iter().map(|s| s.frame).collect();
    assert_eq!(frame_order, vec![4, 3, 2, 1, 0]);
    let g = &stack.geometry;
    assert_eq!(g.spacing_mm(), [0.75, 0.5, 3.0]);
    assert!(close(
        g.world_from_voxel.column(3),
        Vec3::new(-16.0, -24.0, 0.0)
    ));
    assert!(close(
        g.world_from_voxel
            .transform_point(Vec3::new(63.0, 63.0, 4.0)),
        Vec3::new(-16.0 + 63.0 * 0.75, -24.0 + 63.0 * 0.5, 12.0)
    ));

    let v = volume::load(
        stack,
        &LoadOptions::default(),
        &AtomicBool::new(false),
        &no_events(),
    )
    .unwrap();
    assert!(v.unreadable.is_empty(), "{:?}", v.unreadable);
    for k in 0..5 {
        assert_eq!(slice_i16(&v, k), frames[4 - k as usize], "slice {k}");
    }
    assert_eq!(v.modality_lut[0].intercept, -1024.0);
    assert_eq!(v.sources.len(), 1);
    let expected = discovery::sha256_file(&dir.path().join("enhanced.dcm")).unwrap();
    assert_eq!(v.sources[0].sha256.as_deref(), Some(expected.as_str()));
}

#[test]
fn volume_round_trips_in_order_with_first_slice_first() {
    let dir = tempfile::tempdir().unwrap();
    let zs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    write_axial(dir.path(), "vol", &zs, &[3, 6, 0, 5, 1, 4, 2]);
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    let events = Mutex::new(Vec::new());
    let record = |e: LoadEvent| {
        let tag = match e {
            LoadEvent::FirstSlice(p) => {
                assert_eq!(p.samples, Samples::I16(ramp(3)));
                format!("first {}", p.k)
            }
            LoadEvent::Progress { done, total } => format!("progress {done}/{total}"),
            LoadEvent::Done(_) => "done".to_string(),
        };
        events.lock().unwrap().push(tag);
    };
    let v = volume::load(
        stack,
        &LoadOptions::default(),
        &AtomicBool::new(false),
        &record,
    )
    .unwrap();
    let events = events.into_inner().unwrap();
    assert_eq!(events.first().map(String::as_str), Some("first 3"));
    assert!(events.contains(&"progress 7/7".to_string()), "{events:?}");
    assert_eq!(v.first_slice, 3);
    assert_eq!(
        (v.columns, v.rows, v.slices, v.samples_per_pixel),
        (64, 64, 7, 1)
    );
    assert!(matches!(v.voxels, Samples::I16(_)));
    assert_eq!(v.byte_len(), 64 * 64 * 7 * 2);
    for k in 0..7 {
        assert_eq!(slice_i16(&v, k), ramp(k as usize), "slice {k}");
    }
    assert_eq!(v.modality_lut.len(), 7);
    assert_eq!(v.windows[0].width, 400.0);
    assert!(v.unreadable.is_empty());
    assert_eq!(v.sources.len(), 7);
    for s in &v.sources {
        assert_eq!(s.sha256, Some(discovery::sha256_file(&s.path).unwrap()));
    }
    // The hashes are also kept on the shared instances.
    for slice in &stack.slices {
        let known = slice.instance.sha256.get().cloned();
        assert_eq!(known, Some(slice.instance.sha256().unwrap()));
    }
}

#[test]
fn truncated_slice_is_unreadable_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(
        dir.path(),
        "trunc",
        &[0.0, 1.0, 2.0, 3.0, 4.0],
        &[0, 1, 2, 3, 4],
    );
    let victim = dir.path().join("trunc001.dcm");
    let len = std::fs::metadata(&victim).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap();
    file.set_len(len - 1000).unwrap();
    drop(file);
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    assert_eq!(stack.slices.len(), 5);
    let v = volume::load(
        stack,
        &LoadOptions::default(),
        &AtomicBool::new(false),
        &no_events(),
    )
    .unwrap();
    assert_eq!(v.unreadable.len(), 1, "{:?}", v.unreadable);
    let bad = &v.unreadable[0];
    assert_eq!(bad.k, 1);
    assert!(bad.path.ends_with("trunc001.dcm"));
    assert!(!bad.reason.contains('\n'));
    let min = (0..5u32)
        .filter(|&k| k != 1)
        .flat_map(|k| slice_i16(&v, k))
        .min()
        .unwrap();
    assert!(slice_i16(&v, 1).iter().all(|&x| x == min));
    for k in [0u32, 2, 3, 4] {
        assert_eq!(slice_i16(&v, k), ramp(k as usize));
    }
    // Every file still has its hash, the truncated one included.
    assert!(v.sources.iter().all(|s| s.sha256.is_some()));
}

#[test]
fn trailing_elements_use_the_full_decode() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        let spec = SliceSpec::axial_ct("pad", k + 1, k as f64);
        spec.dataset(&ramp(k as usize))
            .bytes(dicom_core::Tag(0xFFFC, 0xFFFC), VR::OB, vec![0; 6])
            .write(&dir.path().join(format!("p{k}")))
            .unwrap();
    }
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    let v = volume::load(
        stack,
        &LoadOptions::default(),
        &AtomicBool::new(false),
        &no_events(),
    )
    .unwrap();
    assert!(v.unreadable.is_empty(), "{:?}", v.unreadable);
    for k in 0..3 {
        assert_eq!(slice_i16(&v, k), ramp(k as usize));
    }
}

#[test]
fn background_load_sends_first_slice_then_done() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "bg", &[0.0, 1.0, 2.0, 3.0], &[0, 1, 2, 3]);
    let d = discovery::discover(&dir_input(&dir));
    let handle = volume::spawn_load(only_stack(&d).clone(), LoadOptions::default()).unwrap();
    let mut first = None;
    let result = loop {
        match handle.events().recv().unwrap() {
            LoadEvent::FirstSlice(p) => first = Some(p.k),
            LoadEvent::Progress { .. } => assert!(first.is_some()),
            LoadEvent::Done(result) => break result,
        }
    };
    assert_eq!(first, Some(2));
    assert_eq!(result.unwrap().slices, 4);
}

#[test]
fn cancel_and_size_limits_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "lim", &[0.0, 1.0], &[0, 1]);
    let d = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&d);
    let cancelled = volume::load(
        stack,
        &LoadOptions::default(),
        &AtomicBool::new(true),
        &no_events(),
    );
    assert!(matches!(cancelled, Err(LoadError::Cancelled)));
    let small = LoadOptions {
        max_volume_bytes: 1000,
        ..LoadOptions::default()
    };
    let too_large = volume::load(stack, &small, &AtomicBool::new(false), &no_events());
    assert!(matches!(
        too_large,
        Err(LoadError::TooLarge {
            bytes: 16384,
            limit_bytes: 1000
        })
    ));
}

#[test]
fn absurd_frame_count_is_refused_at_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SliceSpec::axial_ct("absurd", 1, 0.0);
    spec.dataset(&ramp(0))
        .is(tags::NUMBER_OF_FRAMES, 2_000_000_000)
        .write(&dir.path().join("absurd"))
        .unwrap();
    let d = discovery::discover(&dir_input(&dir));
    assert_eq!(d.stacks().count(), 0);
    assert_eq!(d.skipped.len(), 1);
    assert!(
        d.skipped[0].reason.contains("NumberOfFrames"),
        "{:?}",
        d.skipped
    );
}

#[test]
fn summary_json_has_no_patient_names_by_default() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "sum", &[0.0, 1.0, 3.0], &[0, 1, 2]);
    std::fs::write(dir.path().join("junk.bin"), [0u8; 200]).unwrap();
    let d = discovery::discover(&dir_input(&dir));
    let json = serde_json::to_string(&d.summary(PatientNames::Omit)).unwrap();
    assert!(!json.contains("Synthetic^Patient"), "{json}");
    assert!(!json.contains("SYN0001"), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["patients"], 1);
    assert_eq!(value["series"][0]["stacks"][0]["size"], "64×64×3");
    assert_eq!(
        value["series"][0]["stacks"][0]["warnings"][0]["kind"],
        "gap"
    );
    assert_eq!(value["skipped"].as_array().unwrap().len(), 1);
    let with_names = serde_json::to_string(&d.summary(PatientNames::Include)).unwrap();
    assert!(with_names.contains("Synthetic^Patient"));
}

/// Resident set size and its peak, in bytes (Linux).
#[cfg(target_os = "linux")]
fn rss_and_peak() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "writes 2 × 80 MiB; run alone: cargo test --test it peak_rss -- --ignored --nocapture"]
fn peak_rss_stays_near_volume_size() {
    let dir = tempfile::tempdir().unwrap();
    let (size, slices) = (512u16, 160usize);
    let pixels: Vec<i16> = (0..usize::from(size) * usize::from(size))
        .map(|i| (i % 4000) as i16 - 1000)
        .collect();
    for (folder, padded) in [("fast", false), ("full", true)] {
        let folder = dir.path().join(folder);
        std::fs::create_dir(&folder).unwrap();
        for k in 0..slices {
            let mut spec = SliceSpec::axial_ct(folder.to_str().unwrap(), k as i64 + 1, k as f64);
            spec.rows = size;
            spec.columns = size;
            let mut ds = spec.dataset(&pixels);
            if padded {
                ds = ds.bytes(dicom_core::Tag(0xFFFC, 0xFFFC), VR::OB, vec![0; 2]);
            }
            ds.write(&folder.join(format!("{k:04}"))).unwrap();
        }
        let d = discovery::discover(std::slice::from_ref(&folder));
        let stack = only_stack(&d);
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let (before, _) = rss_and_peak();
        let start = std::time::Instant::now();
        let v = volume::load(
            stack,
            &LoadOptions::default(),
            &AtomicBool::new(false),
            &no_events(),
        )
        .unwrap();
        let elapsed = start.elapsed();
        let (_, peak) = rss_and_peak();
        let bytes = v.byte_len() as u64;
        let ratio = (peak - before) as f64 / bytes as f64;
        println!(
            "{}: {} MiB volume, peak RSS increase {:.3}×, {elapsed:?}",
            folder.display(),
            bytes >> 20,
            ratio
        );
        assert!(v.unreadable.is_empty());
        assert!(ratio <= 1.3, "{ratio}");
    }
}

#[test]
fn provenance_after_load_gives_the_same_voxels_and_hashes() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(
        dir.path(),
        "provenance",
        &[0.0, 1.0, 2.0, 3.0],
        &[0, 1, 2, 3],
    );
    let found = discovery::discover(&dir_input(&dir));
    let stack = only_stack(&found);
    let cancel = AtomicBool::new(false);
    let during = volume::load(stack, &LoadOptions::default(), &cancel, &no_events()).unwrap();
    let options = LoadOptions {
        provenance: volume::Provenance::AfterLoad,
        ..LoadOptions::default()
    };
    let mut after = volume::load(stack, &options, &cancel, &no_events()).unwrap();
    assert_eq!(during.voxels, after.voxels);
    assert!(after.sources.iter().all(|s| s.sha256.is_none()));
    volume::hash_sources(&mut after.sources);
    let hashes = |v: &volume::Volume| -> Vec<Option<String>> {
        v.sources.iter().map(|s| s.sha256.clone()).collect()
    };
    assert_eq!(hashes(&during), hashes(&after));
    assert!(hashes(&after).iter().all(Option::is_some));
    let expected = discovery::sha256_file(&after.sources[0].path).unwrap();
    assert_eq!(after.sources[0].sha256.as_deref(), Some(expected.as_str()));
}

#[test]
fn hidden_files_inside_folders_are_not_candidates() {
    let dir = tempfile::tempdir().unwrap();
    write_axial(dir.path(), "hidden", &[0.0, 1.0], &[0, 1]);
    std::fs::write(dir.path().join(".DS_Store"), b"finder metadata").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not dicom").unwrap();
    let found = discovery::discover(&dir_input(&dir));
    assert_eq!(only_stack(&found).slices.len(), 2);
    let skipped: Vec<String> = found
        .skipped
        .iter()
        .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(skipped, vec!["notes.txt".to_string()]);
}
