//! Getting labels out of Tessera (and back in) in the formats other tools read:
//! NIfTI label maps ([`nifti`]), DICOM Segmentation ([`seg`]), DICOM SR TID 1500
//! measurement reports ([`sr`]), CSV tables ([`csv`]) and QuPath GeoJSON of slide
//! annotations ([`geojson`]).
//!
//! Owns the exchange types every writer shares: [`LabelVolume`] (a label map on a
//! [`VolumeGrid`], one byte per voxel, 0 = background), [`SegmentInfo`] with its
//! [`Code`]s, [`SourceSeries`] (what a DICOM derived object must say about the images
//! it was drawn on), [`Authoring`] (who and when), and [`from_annotations`] (area
//! annotations rasterised into a label volume until label maps are stored).
//!
//! Headless and pure apart from the files it is asked to write or read: it never
//! imports egui, never modifies a source file, and never logs labels, UIDs or
//! patient names (the files it writes carry them, as the formats require).

pub mod csv;
mod dicom;
pub mod geojson;
pub mod nifti;
mod placement;
mod rasterise;
pub mod seg;
mod source;
pub mod sr;
mod stored;

use std::time::{SystemTime, UNIX_EPOCH};

pub use placement::{Measured, NotPlaced, Placement, measurements};
pub use rasterise::from_annotations;
pub use source::{SourceSeries, SourceSlice};
pub use stored::{ImportedSegmentation, from_segmentation, to_segmentation};

use crate::imaging::mpr::VolumeGrid;
use crate::project::model::Label;

/// A coded concept as DICOM code sequences carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// Coding scheme designator, e.g. `SCT`, `DCM`, `UCUM`.
    pub scheme: String,
    pub value: String,
    pub meaning: String,
}

impl Code {
    pub fn new(scheme: &str, value: &str, meaning: &str) -> Code {
        Code {
            scheme: scheme.to_owned(),
            value: value.to_owned(),
            meaning: meaning.to_owned(),
        }
    }

    /// The coding scheme Tessera uses for free-text labels (a private scheme: PS3.16
    /// 8.2 reserves the `99` prefix for local schemes).
    pub const LOCAL_SCHEME: &'static str = "99TESSERA";

    /// The label's coded concept, or, for a free-text label, a local code (scheme
    /// [`Code::LOCAL_SCHEME`], a value derived from the name, the name as meaning).
    pub fn of_label(label: &Label) -> Code {
        match (&label.scheme, &label.code) {
            (Some(scheme), Some(code)) if !scheme.trim().is_empty() && !code.trim().is_empty() => {
                Code {
                    scheme: scheme.trim().to_owned(),
                    value: code.trim().to_owned(),
                    meaning: label
                        .meaning
                        .as_deref()
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .unwrap_or(label.name.trim())
                        .to_owned(),
                }
            }
            _ => Code::local(&label.name),
        }
    }

    /// A local code for a free-text name: stable (same name, same code).
    pub fn local(name: &str) -> Code {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(name.trim().as_bytes());
        let value: String = digest[..7].iter().map(|b| format!("{b:02X}")).collect();
        Code {
            scheme: Code::LOCAL_SCHEME.to_owned(),
            value: format!("L{value}"),
            meaning: name.trim().to_owned(),
        }
    }

    /// Whether this is a local code for a free-text label (flagged "uncoded").
    pub fn is_local(&self) -> bool {
        self.scheme == Code::LOCAL_SCHEME
    }

    /// SCT 49755003 "Morphologically abnormal structure" (CID 7150): the category
    /// given to lesion-type labels when the label schema names none.
    pub fn default_category() -> Code {
        Code::new("SCT", "49755003", "Morphologically abnormal structure")
    }
}

/// How a segment was made (SegmentAlgorithmType).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Manual,
    /// Drawn with tool assistance (threshold paint, interpolation, flood fill).
    SemiAutomatic,
}

/// One segment (class) of a label volume.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentInfo {
    /// The voxel value of this segment (1..=255); also the DICOM SegmentNumber.
    pub number: u8,
    /// SegmentLabel, as shown.
    pub label: String,
    /// Display colour, sRGB.
    pub colour: [u8; 3],
    /// SegmentedPropertyCategoryCodeSequence.
    pub category: Code,
    /// SegmentedPropertyTypeCodeSequence.
    pub type_: Code,
    /// AnatomicRegionSequence, where known.
    pub anatomic_region: Option<Code>,
    pub algorithm: Algorithm,
}

impl SegmentInfo {
    /// Whether the segment's type is a real code (not a local one for free text).
    pub fn is_coded(&self) -> bool {
        !self.type_.is_local()
    }
}

/// A label map: one byte per voxel of `grid`, `i` fastest, then `j`, then `k`;
/// 0 is background, any other value the [`SegmentInfo::number`] of a segment.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelVolume {
    pub grid: VolumeGrid,
    pub voxels: Vec<u8>,
    pub segments: Vec<SegmentInfo>,
}

impl LabelVolume {
    /// An empty (all background) label volume on `grid`.
    pub fn new(grid: VolumeGrid, segments: Vec<SegmentInfo>) -> Result<LabelVolume, InteropError> {
        let n = voxel_count(&grid)?;
        Ok(LabelVolume {
            grid,
            voxels: vec![0; n],
            segments,
        })
    }

    /// Index of voxel `(i, j, k)` in [`LabelVolume::voxels`] (no bounds check).
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        let [ni, nj, _] = self.grid.dims;
        (k * nj + j) * ni + i
    }

    /// The value of voxel `(i, j, k)`, `None` outside the grid.
    pub fn get(&self, i: usize, j: usize, k: usize) -> Option<u8> {
        let [ni, nj, nk] = self.grid.dims;
        (i < ni && j < nj && k < nk)
            .then(|| self.voxels.get(self.index(i, j, k)).copied())
            .flatten()
    }

    /// Sets voxel `(i, j, k)`; returns false outside the grid.
    pub fn set(&mut self, i: usize, j: usize, k: usize, value: u8) -> bool {
        let [ni, nj, nk] = self.grid.dims;
        if i >= ni || j >= nj || k >= nk {
            return false;
        }
        let index = self.index(i, j, k);
        match self.voxels.get_mut(index) {
            Some(v) => {
                *v = value;
                true
            }
            None => false,
        }
    }

    /// The segment with voxel value `number`.
    pub fn segment(&self, number: u8) -> Option<&SegmentInfo> {
        self.segments.iter().find(|s| s.number == number)
    }

    /// Checks the buffer size, that segment numbers are distinct and non-zero, and
    /// that every labelled voxel belongs to a listed segment.
    pub fn validate(&self) -> Result<(), InteropError> {
        let n = voxel_count(&self.grid)?;
        if self.voxels.len() != n {
            return Err(InteropError::Invalid(format!(
                "label volume has {} voxels, its grid {n}",
                self.voxels.len()
            )));
        }
        let mut known = [false; 256];
        for s in &self.segments {
            if s.number == 0 || known[usize::from(s.number)] {
                return Err(InteropError::Invalid(format!(
                    "segment number {} is zero or repeated",
                    s.number
                )));
            }
            known[usize::from(s.number)] = true;
        }
        let mut seen = [false; 256];
        for v in &self.voxels {
            seen[usize::from(*v)] = true;
        }
        if let Some(v) = (1..256).find(|v| seen[*v] && !known[*v]) {
            return Err(InteropError::Invalid(format!(
                "voxels have value {v}, which no segment describes"
            )));
        }
        Ok(())
    }

    /// Number of voxels of each value (index = value).
    pub fn histogram(&self) -> [u64; 256] {
        let mut h = [0u64; 256];
        for v in &self.voxels {
            h[usize::from(*v)] += 1;
        }
        h
    }
}

/// Voxels of a grid, checked against overflow and a 4 Gi-voxel limit.
pub(crate) fn voxel_count(grid: &VolumeGrid) -> Result<usize, InteropError> {
    let [a, b, c] = grid.dims;
    a.checked_mul(b)
        .and_then(|n| n.checked_mul(c))
        .filter(|n| *n > 0 && *n <= 1 << 32)
        .ok_or_else(|| {
            InteropError::Invalid(format!("grid of {a}×{b}×{c} voxels is empty or too large"))
        })
}

/// Who made an export and when: what DICOM puts in ContentCreatorName,
/// ContentDate/Time and the new series.
#[derive(Clone, Debug, PartialEq)]
pub struct Authoring {
    /// The exporting reader's name (ContentCreatorName; SR person observer).
    pub creator: String,
    pub series_description: String,
    pub series_number: i64,
    pub instance_number: i64,
    /// The new SeriesInstanceUID and SOPInstanceUID.
    pub series_uid: String,
    pub sop_instance_uid: String,
    /// DICOM DA (YYYYMMDD) and TM (HHMMSS) in UTC.
    pub date: String,
    pub time: String,
}

impl Authoring {
    /// New UIDs and the current time (UTC).
    pub fn new(creator: &str, series_description: &str) -> Result<Authoring, InteropError> {
        let (date, time) = dicom_now();
        Ok(Authoring {
            creator: creator.to_owned(),
            series_description: series_description.to_owned(),
            series_number: 9001,
            instance_number: 1,
            series_uid: new_uid()?,
            sop_instance_uid: new_uid()?,
            date,
            time,
        })
    }
}

/// A new random UID under the `2.25` root (PS3.5 B.2): the decimal form of 128 random
/// bits (122 of them random, as a version-4 UUID).
pub fn new_uid() -> Result<String, InteropError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| InteropError::Random(e.to_string()))?;
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    Ok(format!("2.25.{}", u128::from_be_bytes(bytes)))
}

/// The current UTC date and time as DICOM DA and TM.
pub fn dicom_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    dicom_date_time(secs)
}

/// DICOM DA and TM of `secs` seconds since 1970 (UTC).
pub fn dicom_date_time(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

/// Why an export or import failed. Messages are one line; paths go last.
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    #[error("{0}")]
    Invalid(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("the label volume is empty: nothing to export")]
    Empty,
    #[error("no measurement to report: {0}")]
    NoMeasurements(String),
    #[error("does not fit the source series: {0}")]
    Geometry(String),
    #[error("cannot read {what}: {reason}: {path}")]
    Read {
        what: &'static str,
        reason: String,
        path: String,
    },
    #[error("cannot write: {reason}: {path}")]
    Write { reason: String, path: String },
    #[error("no random numbers: {0}")]
    Random(String),
}

impl InteropError {
    pub(crate) fn write(path: &std::path::Path, e: impl std::fmt::Display) -> InteropError {
        InteropError::Write {
            reason: e.to_string(),
            path: path.display().to_string(),
        }
    }

    pub(crate) fn read(
        what: &'static str,
        path: &std::path::Path,
        e: impl std::fmt::Display,
    ) -> InteropError {
        InteropError::Read {
            what,
            reason: e.to_string().replace(['\n', '\r'], " "),
            path: path.display().to_string(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn dates_and_uids() {
        assert_eq!(dicom_date_time(0), ("19700101".into(), "000000".into()));
        assert_eq!(
            dicom_date_time(951_782_400 + 3_723),
            ("20000229".into(), "010203".into())
        );
        let (a, b) = (new_uid().unwrap(), new_uid().unwrap());
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.starts_with("2.25.") && !a[5..].starts_with('0'));
    }

    #[test]
    fn labels_become_codes() {
        let coded = Label {
            name: "tumour".into(),
            scheme: Some("SCT".into()),
            code: Some("108369006".into()),
            meaning: Some("Neoplasm".into()),
        };
        assert_eq!(
            Code::of_label(&coded),
            Code::new("SCT", "108369006", "Neoplasm")
        );
        let free = Label {
            name: "odd spot".into(),
            scheme: None,
            code: None,
            meaning: None,
        };
        let c = Code::of_label(&free);
        assert!(c.is_local() && c.meaning == "odd spot" && c.value.len() <= 16);
        assert_eq!(c, Code::of_label(&free));
    }
}
