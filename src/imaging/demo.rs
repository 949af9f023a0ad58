//! The built-in demo study, generated in code: a CT chest-abdomen phantom with lesions
//! of known size and position, and a sagittal T2-like MR of the same phantom.
//!
//! Owns the phantom's acquisition geometry, the deterministic noise, and writing the
//! study as real DICOM files through [`writer`](super::writer). Same inputs, same
//! bytes. Creates new files only in the folder it is given; never imports egui.
//!
//! Patient coordinates are DICOM LPS millimetres: +x towards the patient's left,
//! +y posterior, +z superior. The CT is axial; slice 1 is the most superior.

mod phantom;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use rayon::prelude::*;

pub use phantom::{Phantom, Tissue};

use super::writer::{SliceSpec, WriteError, uid_from_seed};

/// A spherical lesion of the demo phantom, for tests that measure it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoLesion {
    /// Short stable name, e.g. `"liver-cyst"`.
    pub name: &'static str,
    /// The organ the sphere sits in (entirely).
    pub host: Tissue,
    /// Sphere centre, patient LPS mm.
    pub centre_mm: [f64; 3],
    pub diameter_mm: f64,
    /// Noise-free CT value inside the sphere.
    pub ct_hu: f64,
    /// Noise-free MR signal inside the sphere.
    pub mr_signal: f64,
}

/// The demo phantom's lesions. A CT voxel belongs to a lesion when its centre lies inside
/// the sphere. Each centre is chosen so the voxelised sphere on the [`DemoSpec::FULL`] CT
/// grid (0.7 × 0.7 × 1.25 mm) holds within 1 % of `4/3 π r³` of volume; every sphere lies
/// wholly inside its host organ, at least 58 HU away from it.
pub const DEMO_LESIONS: &[DemoLesion] = &[
    DemoLesion {
        name: "lung-nodule-5mm",
        host: Tissue::Lung,
        centre_mm: [-95.0, 10.0, 70.25],
        diameter_mm: 5.0,
        ct_hu: 40.0,
        mr_signal: 300.0,
    },
    DemoLesion {
        name: "lung-nodule-10mm",
        host: Tissue::Lung,
        centre_mm: [85.25, -19.75, 55.25],
        diameter_mm: 10.0,
        ct_hu: 35.0,
        mr_signal: 350.0,
    },
    DemoLesion {
        name: "spleen-lesion-12mm",
        host: Tissue::Spleen,
        centre_mm: [92.0, 35.0, 5.0],
        diameter_mm: 12.0,
        ct_hu: -10.0,
        mr_signal: 800.0,
    },
    DemoLesion {
        name: "liver-hyperdense-20mm",
        host: Tissue::Liver,
        centre_mm: [-75.0, -15.0, -10.0],
        diameter_mm: 20.0,
        ct_hu: 120.0,
        mr_signal: 500.0,
    },
    DemoLesion {
        name: "liver-cyst-30mm",
        host: Tissue::Liver,
        centre_mm: [-60.0, 5.0, -30.0],
        diameter_mm: 30.0,
        ct_hu: 0.0,
        mr_signal: 1200.0,
    },
];

/// Acquisition geometry of the demo study. The anatomy is the same for every spec.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoSpec {
    /// Goes into every UID seed, so specs never share UIDs.
    pub name: &'static str,
    /// CT rows = columns.
    pub ct_matrix: u16,
    pub ct_slices: u32,
    pub ct_pixel_spacing_mm: f64,
    /// Also the slice thickness (contiguous slices).
    pub ct_slice_spacing_mm: f64,
    /// z of slice 1 (the most superior); later slices step towards −z.
    pub ct_first_z_mm: f64,
    /// MR rows = columns (sagittal: rows run A→P, columns S→I).
    pub mr_matrix: u16,
    pub mr_slices: u32,
    pub mr_pixel_spacing_mm: f64,
    pub mr_slice_spacing_mm: f64,
    pub mr_slice_thickness_mm: f64,
    pub seed: u64,
}

impl DemoSpec {
    /// What `tessera demo` writes: 160 × 512² CT at 0.7 × 0.7 × 1.25 mm, 24 × 256² MR.
    pub const FULL: DemoSpec = DemoSpec {
        name: "full",
        ct_matrix: 512,
        ct_slices: 160,
        ct_pixel_spacing_mm: 0.7,
        ct_slice_spacing_mm: 1.25,
        ct_first_z_mm: 100.0,
        mr_matrix: 256,
        mr_slices: 24,
        mr_pixel_spacing_mm: 0.9375,
        mr_slice_spacing_mm: 8.0,
        mr_slice_thickness_mm: 6.0,
        seed: 0x7E55_E2A0,
    };

    /// A coarse version for fast tests: 40 × 128² CT at 2.8 × 2.8 × 5 mm, 8 × 64² MR.
    pub const SMALL: DemoSpec = DemoSpec {
        name: "small",
        ct_matrix: 128,
        ct_slices: 40,
        ct_pixel_spacing_mm: 2.8,
        ct_slice_spacing_mm: 5.0,
        ct_first_z_mm: 97.5,
        mr_matrix: 64,
        mr_slices: 8,
        mr_pixel_spacing_mm: 3.75,
        mr_slice_spacing_mm: 20.0,
        mr_slice_thickness_mm: 10.0,
        seed: 0x7E55_E2A0,
    };

    /// Patient position of CT voxel (column `i`, row `j`, slice `k`), mm.
    pub fn ct_voxel_mm(&self, i: u32, j: u32, k: u32) -> [f64; 3] {
        let origin = self.ct_origin_xy_mm();
        [
            origin + f64::from(i) * self.ct_pixel_spacing_mm,
            origin + f64::from(j) * self.ct_pixel_spacing_mm,
            self.ct_first_z_mm - f64::from(k) * self.ct_slice_spacing_mm,
        ]
    }

    /// x (and y) of the first CT pixel centre: the matrix is centred on the z axis.
    fn ct_origin_xy_mm(&self) -> f64 {
        -(f64::from(self.ct_matrix) - 1.0) * self.ct_pixel_spacing_mm / 2.0
    }

    /// Position of the first MR pixel (top-left, superior-anterior) of slice `k`.
    fn mr_origin_mm(&self, k: u32) -> [f64; 3] {
        let half_mm = (f64::from(self.mr_matrix) - 1.0) * self.mr_pixel_spacing_mm / 2.0;
        let half_span_mm = (f64::from(self.mr_slices) - 1.0) * self.mr_slice_spacing_mm / 2.0;
        [
            -half_span_mm + f64::from(k) * self.mr_slice_spacing_mm,
            -half_mm,
            half_mm,
        ]
    }
}

/// Noise SD of the CT, HU.
pub const DEMO_CT_NOISE_SD_HU: f64 = 10.0;
/// Noise SD of each MR channel before the magnitude (Rician), signal units.
const MR_NOISE_SD: f64 = 12.0;
/// Written last; holds [`DEMO_VERSION`]. A folder without it is incomplete or stale.
pub const DEMO_MARKER_FILE: &str = ".tessera-demo.complete";
/// Bump when the generated content changes, so cached copies are rewritten.
pub const DEMO_VERSION: &str = "tessera-demo 1";

pub const DEMO_PATIENT_NAME: &str = "Demo^Phantom";
pub const DEMO_PATIENT_ID: &str = "TESSERA-DEMO";
pub const DEMO_CT_DESCRIPTION: &str = "Phantom CT chest-abdomen 1.25 mm";
pub const DEMO_MR_DESCRIPTION: &str = "Phantom MR T2 sagittal";

/// Files written so far, reported after each file (from worker threads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoProgress {
    pub files_done: usize,
    pub files_total: usize,
}

/// One written series.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoSeries {
    pub series_instance_uid: String,
    pub modality: &'static str,
    pub description: &'static str,
    pub folder: PathBuf,
    pub slices: u32,
    pub rows: u16,
    pub columns: u16,
}

/// What [`write_demo_study`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoSummary {
    pub study_instance_uid: String,
    pub series: Vec<DemoSeries>,
    pub files_written: usize,
}

/// Why the demo study could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot create the demo folder: {source}: {path}")]
    CreateFolder {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Whether `dir` holds a complete demo study of the current [`DEMO_VERSION`].
/// Where the demo study is cached: `$XDG_CACHE_HOME/tessera/demo`, else
/// `~/.cache/tessera/demo`, else the temporary folder.
pub fn demo_cache_dir() -> std::path::PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("tessera").join("demo")
}

/// The cached demo study, written first when missing or incomplete.
pub fn ensure_cached_demo_study(
    progress: impl Fn(DemoProgress) + Sync,
) -> Result<std::path::PathBuf, DemoError> {
    let dir = demo_cache_dir();
    if !is_demo_study_complete(&dir) {
        write_demo_study(&dir, progress)?;
    }
    Ok(dir)
}

pub fn is_demo_study_complete(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(DEMO_MARKER_FILE)).is_ok_and(|s| s.trim() == DEMO_VERSION)
}

/// Writes the full demo study into `dir` (created if missing): `dir/CT/IM0001.dcm…`
/// and `dir/MR/IM0001.dcm…`, then [`DEMO_MARKER_FILE`]. Overwrites earlier demo files.
pub fn write_demo_study(
    dir: &Path,
    progress: impl Fn(DemoProgress) + Sync,
) -> Result<DemoSummary, DemoError> {
    write_demo_study_with(dir, &DemoSpec::FULL, progress)
}

/// [`write_demo_study`] with another acquisition geometry (tests use [`DemoSpec::SMALL`]).
pub fn write_demo_study_with(
    dir: &Path,
    spec: &DemoSpec,
    progress: impl Fn(DemoProgress) + Sync,
) -> Result<DemoSummary, DemoError> {
    let ct_dir = dir.join("CT");
    let mr_dir = dir.join("MR");
    for folder in [dir, &ct_dir, &mr_dir] {
        std::fs::create_dir_all(folder).map_err(|source| DemoError::CreateFolder {
            path: folder.display().to_string(),
            source,
        })?;
    }
    // A rewrite in progress is not a complete study.
    let marker = dir.join(DEMO_MARKER_FILE);
    let _ = std::fs::remove_file(&marker);

    let phantom = Phantom::new();
    let ct_total = spec.ct_slices as usize;
    let files_total = ct_total + spec.mr_slices as usize;
    let done = AtomicUsize::new(0);
    (0..files_total).into_par_iter().try_for_each(|n| {
        let written = if n < ct_total {
            let k = n as u32;
            let slice = ct_slice_spec(spec, k);
            let pixels = ct_slice_stored(spec, &phantom, k);
            slice
                .dataset(&pixels)
                .text(tags::STUDY_DESCRIPTION, VR::LO, "Tessera demo phantom")
                .text(tags::BODY_PART_EXAMINED, VR::CS, "ABDOMEN")
                .ds(tags::KVP, &[120.0])
                .text(tags::CONVOLUTION_KERNEL, VR::SH, "STANDARD")
                .ds(tags::SLICE_LOCATION, &[slice.position_mm[2]])
                .text(tags::PATIENT_POSITION, VR::CS, "FFS")
                .write(&ct_dir.join(file_name(k)))
        } else {
            let k = (n - ct_total) as u32;
            let slice = mr_slice_spec(spec, k);
            let pixels = mr_slice_stored(spec, &phantom, k);
            slice
                .dataset(&[])
                .texts(
                    tags::IMAGE_TYPE,
                    VR::CS,
                    &["ORIGINAL", "PRIMARY", "M", "ND"],
                )
                .text(tags::STUDY_DESCRIPTION, VR::LO, "Tessera demo phantom")
                .text(tags::BODY_PART_EXAMINED, VR::CS, "ABDOMEN")
                .text(tags::RESCALE_TYPE, VR::LO, "US")
                .text(tags::SCANNING_SEQUENCE, VR::CS, "SE")
                .text(tags::SEQUENCE_VARIANT, VR::CS, "SK")
                .text(tags::SCAN_OPTIONS, VR::CS, "")
                .text(tags::MR_ACQUISITION_TYPE, VR::CS, "2D")
                .ds(tags::REPETITION_TIME, &[3000.0])
                .ds(tags::ECHO_TIME, &[90.0])
                .is(tags::ECHO_TRAIN_LENGTH, 16)
                .ds(tags::MAGNETIC_FIELD_STRENGTH, &[1.5])
                .ds(tags::SPACING_BETWEEN_SLICES, &[spec.mr_slice_spacing_mm])
                .ds(tags::SLICE_LOCATION, &[slice.position_mm[0]])
                .text(tags::PATIENT_POSITION, VR::CS, "FFS")
                .us(tags::PIXEL_REPRESENTATION, 0)
                .us(tags::BITS_STORED, 12)
                .us(tags::HIGH_BIT, 11)
                .pixel_data_u16(&pixels)
                .write(&mr_dir.join(file_name(k)))
        };
        written?;
        let files_done = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(DemoProgress {
            files_done,
            files_total,
        });
        Ok::<(), DemoError>(())
    })?;
    std::fs::write(&marker, DEMO_VERSION).map_err(|source| DemoError::CreateFolder {
        path: marker.display().to_string(),
        source,
    })?;

    let ct = ct_slice_spec(spec, 0);
    let mr = mr_slice_spec(spec, 0);
    Ok(DemoSummary {
        study_instance_uid: ct.study_uid.clone(),
        series: vec![
            DemoSeries {
                series_instance_uid: ct.series_uid,
                modality: "CT",
                description: DEMO_CT_DESCRIPTION,
                folder: ct_dir,
                slices: spec.ct_slices,
                rows: spec.ct_matrix,
                columns: spec.ct_matrix,
            },
            DemoSeries {
                series_instance_uid: mr.series_uid,
                modality: "MR",
                description: DEMO_MR_DESCRIPTION,
                folder: mr_dir,
                slices: spec.mr_slices,
                rows: spec.mr_matrix,
                columns: spec.mr_matrix,
            },
        ],
        files_written: files_total,
    })
}

fn file_name(k: u32) -> String {
    format!("IM{:04}.dcm", k + 1)
}

/// The tags of CT slice `k` (0-based), before its pixels.
fn ct_slice_spec(spec: &DemoSpec, k: u32) -> SliceSpec {
    let study_seed = format!("tessera-demo/{}", spec.name);
    SliceSpec {
        study_uid: uid_from_seed(&format!("{study_seed}/study")),
        series_uid: uid_from_seed(&format!("{study_seed}/ct")),
        sop_instance_uid: uid_from_seed(&format!("{study_seed}/ct/{k}")),
        series_number: 2,
        instance_number: i64::from(k) + 1,
        rows: spec.ct_matrix,
        columns: spec.ct_matrix,
        position_mm: spec.ct_voxel_mm(0, 0, k),
        orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        pixel_spacing_mm: [spec.ct_pixel_spacing_mm; 2],
        slice_thickness_mm: spec.ct_slice_spacing_mm,
        rescale_slope: 1.0,
        rescale_intercept: -1024.0,
        window_center: 40.0,
        window_width: 400.0,
        modality: "CT".to_string(),
        series_description: DEMO_CT_DESCRIPTION.to_string(),
        patient_name: DEMO_PATIENT_NAME.to_string(),
        patient_id: DEMO_PATIENT_ID.to_string(),
        gantry_tilt_deg: 0.0,
    }
}

/// The tags of MR slice `k` (0-based, from patient right to left), before its pixels.
fn mr_slice_spec(spec: &DemoSpec, k: u32) -> SliceSpec {
    let study_seed = format!("tessera-demo/{}", spec.name);
    SliceSpec {
        study_uid: uid_from_seed(&format!("{study_seed}/study")),
        series_uid: uid_from_seed(&format!("{study_seed}/mr")),
        sop_instance_uid: uid_from_seed(&format!("{study_seed}/mr/{k}")),
        series_number: 3,
        instance_number: i64::from(k) + 1,
        rows: spec.mr_matrix,
        columns: spec.mr_matrix,
        position_mm: spec.mr_origin_mm(k),
        orientation: [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
        pixel_spacing_mm: [spec.mr_pixel_spacing_mm; 2],
        slice_thickness_mm: spec.mr_slice_thickness_mm,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        window_center: 600.0,
        window_width: 1200.0,
        modality: "MR".to_string(),
        series_description: DEMO_MR_DESCRIPTION.to_string(),
        patient_name: DEMO_PATIENT_NAME.to_string(),
        patient_id: DEMO_PATIENT_ID.to_string(),
        gantry_tilt_deg: 0.0,
    }
}

/// Stored value outside the circular reconstruction field of view: HU −3024, black in
/// every window (as scanners pad; no PixelPaddingValue is written).
pub const DEMO_CT_OUTSIDE_FOV_STORED: i16 = -2000;

/// Stored values (HU + 1024, with noise) of CT slice `k`, row-major. Voxels outside
/// the circle inscribed in the matrix are [`DEMO_CT_OUTSIDE_FOV_STORED`].
fn ct_slice_stored(spec: &DemoSpec, phantom: &Phantom, k: u32) -> Vec<i16> {
    let n = usize::from(spec.ct_matrix);
    let mut rng = SplitMix64::new(spec.seed ^ (u64::from(k) << 32) ^ 0xC7);
    let mut labels = vec![Tissue::Air; n];
    let mut stored = Vec::with_capacity(n * n);
    let fov_radius_mm = f64::from(spec.ct_matrix) * spec.ct_pixel_spacing_mm / 2.0;
    for j in 0..u32::from(spec.ct_matrix) {
        let origin = spec.ct_voxel_mm(0, j, k);
        phantom.paint_line(
            origin,
            [1.0, 0.0, 0.0],
            spec.ct_pixel_spacing_mm,
            &mut labels,
        );
        stored.extend(labels.iter().enumerate().map(|(i, tissue)| {
            let x_mm = origin[0] + i as f64 * spec.ct_pixel_spacing_mm;
            let hu = tissue.ct_hu() + DEMO_CT_NOISE_SD_HU * rng.next_gaussianish();
            if x_mm.hypot(origin[1]) > fov_radius_mm {
                DEMO_CT_OUTSIDE_FOV_STORED
            } else {
                (hu + 1024.0).round().clamp(0.0, 4095.0) as i16
            }
        }));
    }
    stored
}

/// Stored values of MR slice `k`, row-major: Rician noise and a posterior coil shading.
fn mr_slice_stored(spec: &DemoSpec, phantom: &Phantom, k: u32) -> Vec<u16> {
    let n = usize::from(spec.mr_matrix);
    let mut rng = SplitMix64::new(spec.seed ^ (u64::from(k) << 32) ^ 0x3A);
    let mut labels = vec![Tissue::Air; n];
    let mut stored = Vec::with_capacity(n * n);
    let origin = spec.mr_origin_mm(k);
    let half_fov_mm = (f64::from(spec.mr_matrix) - 1.0) * spec.mr_pixel_spacing_mm / 2.0;
    for row in 0..spec.mr_matrix {
        let z_mm = origin[2] - f64::from(row) * spec.mr_pixel_spacing_mm;
        phantom.paint_line(
            [origin[0], origin[1], z_mm],
            [0.0, 1.0, 0.0],
            spec.mr_pixel_spacing_mm,
            &mut labels,
        );
        stored.extend(labels.iter().enumerate().map(|(i, tissue)| {
            let y_mm = origin[1] + i as f64 * spec.mr_pixel_spacing_mm;
            let coil_gain = 0.85 + 0.3 * (y_mm + half_fov_mm) / (2.0 * half_fov_mm);
            let real = tissue.mr_signal() * coil_gain + MR_NOISE_SD * rng.next_gaussianish();
            let imaginary = MR_NOISE_SD * rng.next_gaussianish();
            real.hypot(imaginary).round().clamp(0.0, 4095.0) as u16
        }));
    }
    stored
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for image noise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Zero mean, unit SD, bell-shaped: the sum of four uniforms (Irwin–Hall), rescaled.
    fn next_gaussianish(&mut self) -> f64 {
        let bits = self.next_u64();
        let sum: f64 = (0..4)
            .map(|i| f64::from(((bits >> (16 * i)) & 0xFFFF) as u16) / 65535.0 - 0.5)
            .sum();
        // Each uniform has variance 1/12, so the sum has variance 1/3.
        sum * 3.0_f64.sqrt()
    }
}

#[cfg(test)]
mod tests;
