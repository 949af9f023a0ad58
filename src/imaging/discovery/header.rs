//! Reading the discovery-relevant header values of one file into [`InstanceInfo`],
//! including the per-frame values of enhanced multi-frame images (functional groups)
//! and the file references of a DICOMDIR.
//!
//! Every value that later sizes an allocation is validated here.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dicom_core::header::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

use crate::imaging::file::{self, ReadMode};
use crate::imaging::geometry::Vec3;
use crate::imaging::pixels::Photometric;

/// Patient identity: kept for grouping and display, never in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatientIdentity {
    pub id: String,
    pub name: String,
}

impl std::fmt::Debug for PatientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientIdentity(<redacted>)")
    }
}

/// PatientBirthDate (DA, YYYYMMDD), never in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BirthDate(pub String);

impl std::fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BirthDate(<redacted>)")
    }
}

/// Modality LUT of one slice: `value = stored × slope + intercept`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

impl Default for Rescale {
    fn default() -> Self {
        Rescale {
            slope: 1.0,
            intercept: 0.0,
        }
    }
}

/// One VOI window from the header (in modality units).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Window {
    pub center: f64,
    pub width: f64,
}

/// PixelRepresentation (0028,0103).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signedness {
    Unsigned,
    Signed,
}

/// How stored samples are laid out (image pixel module), as discovery records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PixelFormat {
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signedness: Signedness,
    /// 0: interleaved (RGBRGB…), 1: planar (RR…GG…BB…).
    pub planar_configuration: u16,
    /// PhotometricInterpretation as written (for example `YBR_FULL_422`).
    pub photometric: String,
}

impl PixelFormat {
    /// Photometric interpretation after decoding (YBR becomes RGB), or `None`
    /// when unsupported.
    pub fn decoded_photometric(&self) -> Option<Photometric> {
        match self.photometric.as_str() {
            "MONOCHROME1" => Some(Photometric::Monochrome1),
            "MONOCHROME2" => Some(Photometric::Monochrome2),
            "PALETTE COLOR" => Some(Photometric::PaletteColor),
            "RGB" => Some(Photometric::Rgb),
            p if p.starts_with("YBR_") => Some(Photometric::Rgb),
            _ => None,
        }
    }

    /// Bytes of one frame as stored natively (uncompressed), checked.
    pub fn native_frame_bytes(&self, rows: u32, columns: u32) -> Option<u64> {
        let samples = u64::from(rows)
            .checked_mul(u64::from(columns))?
            .checked_mul(u64::from(self.samples_per_pixel))?;
        if self.bits_allocated == 1 {
            return Some(samples.div_ceil(8));
        }
        samples.checked_mul(u64::from(self.bits_allocated / 8))
    }

    /// What must match for slices to share one volume buffer.
    pub fn format_key(&self) -> u64 {
        let photometric = match self.decoded_photometric() {
            None => 0,
            Some(Photometric::Monochrome1) => 1,
            Some(Photometric::Monochrome2) => 2,
            Some(Photometric::Rgb) => 3,
            Some(Photometric::PaletteColor) => 4,
        };
        let signed = u64::from(self.signedness == Signedness::Signed);
        (u64::from(self.samples_per_pixel) << 32)
            | (u64::from(self.bits_allocated) << 16)
            | (signed << 8)
            | photometric
    }
}

/// Per-frame values of an enhanced multi-frame image (functional groups, per-frame
/// item first, shared item second).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameInfo {
    pub position_mm: Option<Vec3>,
    pub orientation: Option<[f64; 6]>,
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub slice_thickness_mm: Option<f64>,
    pub rescale: Option<Rescale>,
    pub window: Option<Window>,
    /// TemporalPositionIndex, StackID (numeric), 0: orders frames sharing a position.
    pub layer_key: [i64; 3],
}

/// Everything discovery keeps about one image file (header only; no pixels).
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceInfo {
    pub path: PathBuf,
    /// File size when discovered; the loader re-checks it.
    pub file_len: u64,
    pub patient: PatientIdentity,
    /// PatientBirthDate (DA, YYYYMMDD); shown only when the user asks for patient data.
    pub patient_birth_date: BirthDate,
    pub study_instance_uid: String,
    pub study_date: String,
    pub study_description: String,
    pub series_instance_uid: String,
    pub series_number: Option<i64>,
    pub series_description: String,
    pub modality: String,
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    pub transfer_syntax_uid: String,
    pub instance_number: Option<i64>,
    pub rows: u32,
    pub columns: u32,
    pub number_of_frames: u32,
    pub pixel_format: PixelFormat,
    pub image_position_mm: Option<Vec3>,
    pub image_orientation: Option<[f64; 6]>,
    /// PixelSpacing: between rows, between columns (mm).
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub slice_thickness_mm: Option<f64>,
    pub spacing_between_slices_mm: Option<f64>,
    pub gantry_tilt_deg: Option<f64>,
    pub rescale: Rescale,
    pub windows: Vec<Window>,
    /// EchoNumbers, TemporalPositionIdentifier, AcquisitionNumber.
    pub layer_key: [i64; 3],
    /// One entry per frame for enhanced multi-frame images; empty otherwise.
    pub frames: Vec<FrameInfo>,
    /// SHA-256 of the whole file (lowercase hex): not computed by discovery; set
    /// by the volume loader when it reads the file, or by [`InstanceInfo::sha256`].
    pub sha256: OnceLock<String>,
}

impl InstanceInfo {
    /// The file's SHA-256: the one already known, or computed now (and kept).
    pub fn sha256(&self) -> std::io::Result<String> {
        if let Some(known) = self.sha256.get() {
            return Ok(known.clone());
        }
        let computed = super::sha256_file(&self.path)?;
        Ok(self.sha256.get_or_init(|| computed).clone())
    }
}

/// What one readable DICOM file turned out to be.
pub enum Scanned {
    Image(Box<InstanceInfo>),
    /// A DICOMDIR: the files its records reference (absolute or relative to it).
    Directory(Vec<PathBuf>),
}

/// Reads `path` header-only. `Err` is a one-line reason to skip the file.
pub fn scan(path: &Path) -> Result<Scanned, String> {
    let (instance, file_len) =
        file::open_sized(path, ReadMode::HeaderOnly).map_err(|e| e.to_string())?;
    let obj: &InMemDicomObject = &instance.object;
    if let Some(records) = obj.get(tags::DIRECTORY_RECORD_SEQUENCE) {
        let base = path.parent().unwrap_or(Path::new(""));
        let files = records
            .items()
            .unwrap_or_default()
            .iter()
            .filter_map(|record| {
                let parts = record.get(tags::REFERENCED_FILE_ID)?.to_multi_str().ok()?;
                let mut p = base.to_path_buf();
                for part in parts.iter() {
                    let part = part.trim_matches([' ', '\0']);
                    // Never escape the DICOMDIR's folder.
                    if part.is_empty() || part == "." || part == ".." || part.contains(['/', '\\'])
                    {
                        return None;
                    }
                    p.push(part);
                }
                Some(p)
            })
            .collect();
        return Ok(Scanned::Directory(files));
    }
    let transfer_syntax_uid = trim(instance.object.meta().transfer_syntax()).to_string();
    info_from(obj, path, file_len, transfer_syntax_uid).map(|i| Scanned::Image(Box::new(i)))
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\0'])
}

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| trim(&s).to_string())
        .unwrap_or_default()
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

fn u16_of(obj: &InMemDicomObject, tag: Tag) -> Option<u16> {
    obj.get(tag)?.to_int::<u16>().ok()
}

fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let values = obj.get(tag)?.to_multi_float64().ok()?;
    values.iter().all(|v| v.is_finite()).then_some(values)
}

fn float(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    floats(obj, tag)?.first().copied()
}

fn floats_n<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    floats(obj, tag)?.get(..N)?.try_into().ok()
}

fn position(obj: &InMemDicomObject) -> Option<Vec3> {
    floats_n::<3>(obj, tags::IMAGE_POSITION_PATIENT).map(Vec3)
}

fn windows(obj: &InMemDicomObject) -> Vec<Window> {
    let (Some(centers), Some(widths)) = (
        floats(obj, tags::WINDOW_CENTER),
        floats(obj, tags::WINDOW_WIDTH),
    ) else {
        return Vec::new();
    };
    centers
        .iter()
        .zip(&widths)
        .filter(|(_, w)| **w > 0.0)
        .map(|(&center, &width)| Window { center, width })
        .collect()
}

fn rescale(obj: &InMemDicomObject) -> Option<Rescale> {
    let slope = float(obj, tags::RESCALE_SLOPE);
    let intercept = float(obj, tags::RESCALE_INTERCEPT);
    if slope.is_none() && intercept.is_none() {
        return None;
    }
    Some(Rescale {
        slope: slope.filter(|s| *s != 0.0).unwrap_or(1.0),
        intercept: intercept.unwrap_or(0.0),
    })
}

fn info_from(
    obj: &InMemDicomObject,
    path: &Path,
    file_len: u64,
    transfer_syntax_uid: String,
) -> Result<InstanceInfo, String> {
    let rows = u16_of(obj, tags::ROWS).unwrap_or(0);
    let columns = u16_of(obj, tags::COLUMNS).unwrap_or(0);
    if rows == 0 || columns == 0 {
        return Err("not an image: no Rows/Columns".to_string());
    }
    let bits_allocated = u16_of(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    if !matches!(bits_allocated, 1 | 8 | 16 | 32) {
        return Err(format!("unsupported BitsAllocated {bits_allocated}"));
    }
    let bits_stored = u16_of(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
    if bits_stored == 0 || bits_stored > bits_allocated {
        return Err(format!(
            "BitsStored {bits_stored} does not fit BitsAllocated {bits_allocated}"
        ));
    }
    let samples_per_pixel = u16_of(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if !matches!(samples_per_pixel, 1 | 3 | 4) {
        return Err(format!("unsupported SamplesPerPixel {samples_per_pixel}"));
    }
    let layout = PixelFormat {
        samples_per_pixel,
        bits_allocated,
        bits_stored,
        high_bit: u16_of(obj, tags::HIGH_BIT).unwrap_or(bits_stored - 1),
        signedness: match u16_of(obj, tags::PIXEL_REPRESENTATION) {
            Some(1) => Signedness::Signed,
            _ => Signedness::Unsigned,
        },
        planar_configuration: u16_of(obj, tags::PLANAR_CONFIGURATION).unwrap_or(0),
        photometric: text(obj, tags::PHOTOMETRIC_INTERPRETATION),
    };
    let rows = u32::from(rows);
    let columns = u32::from(columns);
    let frame_bytes = layout
        .native_frame_bytes(rows, columns)
        .ok_or_else(|| "image size overflows".to_string())?;
    let number_of_frames = match int(obj, tags::NUMBER_OF_FRAMES) {
        None => 1,
        Some(n) if n >= 1 => {
            u32::try_from(n).map_err(|_| format!("NumberOfFrames {n} is absurd"))?
        }
        Some(n) => return Err(format!("invalid NumberOfFrames {n}")),
    };
    // Every frame takes at least one byte of the file, whatever the encoding: this
    // bounds every per-frame allocation by the file size.
    if u64::from(number_of_frames) > file_len.max(1) {
        return Err(format!(
            "NumberOfFrames {number_of_frames} cannot fit in a {file_len}-byte file"
        ));
    }
    frame_bytes
        .checked_mul(u64::from(number_of_frames))
        .ok_or_else(|| "image size overflows".to_string())?;

    let layer_key = [
        int(obj, tags::ECHO_NUMBERS).unwrap_or(0),
        int(obj, tags::TEMPORAL_POSITION_IDENTIFIER).unwrap_or(0),
        int(obj, tags::ACQUISITION_NUMBER).unwrap_or(0),
    ];
    let frames = frame_infos(obj, number_of_frames)?;
    Ok(InstanceInfo {
        path: path.to_path_buf(),
        file_len,
        patient: PatientIdentity {
            id: text(obj, tags::PATIENT_ID),
            name: text(obj, tags::PATIENT_NAME),
        },
        patient_birth_date: BirthDate(text(obj, tags::PATIENT_BIRTH_DATE)),
        study_instance_uid: text(obj, tags::STUDY_INSTANCE_UID),
        study_date: text(obj, tags::STUDY_DATE),
        study_description: text(obj, tags::STUDY_DESCRIPTION),
        series_instance_uid: text(obj, tags::SERIES_INSTANCE_UID),
        series_number: int(obj, tags::SERIES_NUMBER),
        series_description: text(obj, tags::SERIES_DESCRIPTION),
        modality: text(obj, tags::MODALITY),
        sop_instance_uid: text(obj, tags::SOP_INSTANCE_UID),
        sop_class_uid: text(obj, tags::SOP_CLASS_UID),
        transfer_syntax_uid,
        instance_number: int(obj, tags::INSTANCE_NUMBER),
        rows,
        columns,
        number_of_frames,
        pixel_format: layout,
        image_position_mm: position(obj),
        image_orientation: floats_n::<6>(obj, tags::IMAGE_ORIENTATION_PATIENT),
        pixel_spacing_mm: floats_n::<2>(obj, tags::PIXEL_SPACING),
        slice_thickness_mm: float(obj, tags::SLICE_THICKNESS),
        spacing_between_slices_mm: float(obj, tags::SPACING_BETWEEN_SLICES),
        gantry_tilt_deg: float(obj, tags::GANTRY_DETECTOR_TILT),
        rescale: rescale(obj).unwrap_or_default(),
        windows: windows(obj),
        layer_key,
        frames,
        sha256: OnceLock::new(),
    })
}

/// The first item of sequence `tag` in `obj`.
fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag)?.items()?.first()
}

/// Per-frame values from the functional groups, or empty without them.
fn frame_infos(obj: &InMemDicomObject, frames: u32) -> Result<Vec<FrameInfo>, String> {
    let per_frame = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items());
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    if per_frame.is_none() && shared.is_none() {
        return Ok(Vec::new());
    }
    let per_frame = per_frame.unwrap_or_default();
    if !per_frame.is_empty() && per_frame.len() != frames as usize {
        return Err(format!(
            "PerFrameFunctionalGroupsSequence has {} items for {frames} frames",
            per_frame.len()
        ));
    }
    let frames = usize::try_from(frames).map_err(|_| "too many frames".to_string())?;
    Ok((0..frames)
        .map(|f| {
            let item = per_frame.get(f);
            // A functional group macro: the per-frame item wins over the shared one.
            let group = |seq: Tag| {
                item.and_then(|i| first_item(i, seq))
                    .or_else(|| shared.and_then(|s| first_item(s, seq)))
            };
            let measures = group(tags::PIXEL_MEASURES_SEQUENCE);
            let voi = group(tags::FRAME_VOILUT_SEQUENCE);
            let content = group(tags::FRAME_CONTENT_SEQUENCE);
            FrameInfo {
                position_mm: group(tags::PLANE_POSITION_SEQUENCE).and_then(position),
                orientation: group(tags::PLANE_ORIENTATION_SEQUENCE)
                    .and_then(|o| floats_n::<6>(o, tags::IMAGE_ORIENTATION_PATIENT)),
                pixel_spacing_mm: measures.and_then(|m| floats_n::<2>(m, tags::PIXEL_SPACING)),
                slice_thickness_mm: measures.and_then(|m| float(m, tags::SLICE_THICKNESS)),
                rescale: group(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE).and_then(rescale),
                window: voi.and_then(|v| windows(v).first().copied()),
                layer_key: [
                    content
                        .and_then(|c| int(c, tags::TEMPORAL_POSITION_INDEX))
                        .unwrap_or(0),
                    content
                        .and_then(|c| text(c, tags::STACK_ID).parse().ok())
                        .unwrap_or(0),
                    0,
                ],
            }
        })
        .collect())
}
