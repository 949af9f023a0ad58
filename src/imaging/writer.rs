//! Writing new DICOM instances: the built-in demo study and synthetic test series.
//!
//! Owns building datasets element by element and writing them as Part 10 files
//! (Explicit VR Little Endian). It only ever creates new files; it never opens, edits
//! or overwrites a source file a user loaded.

use std::path::Path;

use dicom_core::header::Tag;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicom_object::meta::FileMetaTableBuilder;
use sha2::{Digest, Sha256};

/// Why an instance could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot build the file meta group: {0}")]
    Meta(String),
    #[error("cannot write DICOM file: {reason}: {path}")]
    Write { reason: String, path: String },
}

/// A UID under the `2.25` root (UUID-derived, PS3.5 B.2), made from a seed string.
///
/// The same seed always gives the same UID, so generated studies are reproducible;
/// different seeds give different UIDs with overwhelming probability.
pub fn uid_from_seed(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // 2.25 UIDs are the decimal form of a 128-bit number; keep them at most 64 chars.
    format!("2.25.{}", u128::from_be_bytes(bytes))
}

/// Formats a Decimal String value: at most 16 characters (PS3.5 6.2).
pub fn format_ds(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    for decimals in (0..=10).rev() {
        let s = format!("{value:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{value:.3e}")
}

/// Builds one dataset, element by element.
#[derive(Debug, Clone)]
pub struct DatasetBuilder {
    object: InMemDicomObject,
}

impl Default for DatasetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DatasetBuilder {
    pub fn new() -> Self {
        Self {
            object: InMemDicomObject::new_empty(),
        }
    }

    /// A text element (UI, CS, LO, SH, PN, DA, TM, …).
    pub fn text(mut self, tag: Tag, vr: VR, value: &str) -> Self {
        self.object
            .put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        self
    }

    /// A multi-valued text element (for example ImageType).
    pub fn texts(mut self, tag: Tag, vr: VR, values: &[&str]) -> Self {
        let values: Vec<String> = values.iter().map(|v| (*v).to_string()).collect();
        self.object.put(DataElement::new(
            tag,
            vr,
            PrimitiveValue::Strs(values.into_iter().collect()),
        ));
        self
    }

    /// A Decimal String element with one or more values.
    pub fn ds(mut self, tag: Tag, values: &[f64]) -> Self {
        let values: Vec<String> = values.iter().map(|v| format_ds(*v)).collect();
        self.object.put(DataElement::new(
            tag,
            VR::DS,
            PrimitiveValue::Strs(values.into_iter().collect()),
        ));
        self
    }

    /// An Integer String element.
    pub fn is(mut self, tag: Tag, value: i64) -> Self {
        self.object.put(DataElement::new(
            tag,
            VR::IS,
            PrimitiveValue::from(value.to_string()),
        ));
        self
    }

    /// An Unsigned Short element.
    pub fn us(mut self, tag: Tag, value: u16) -> Self {
        self.object
            .put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        self
    }

    /// Any element (for value representations the helpers here do not cover).
    pub fn element(mut self, element: InMemElement) -> Self {
        self.object.put(element);
        self
    }

    /// A sequence of items.
    pub fn sequence(mut self, tag: Tag, items: Vec<DatasetBuilder>) -> Self {
        let items: Vec<InMemDicomObject> = items.into_iter().map(|b| b.object).collect();
        self.object.put(DataElement::new(
            tag,
            VR::SQ,
            Value::from(DataSetSequence::new(items, Length::UNDEFINED)),
        ));
        self
    }

    /// A binary element (OB, OW, UN, …) with the given bytes, padded to even length.
    pub fn bytes(self, tag: Tag, vr: VR, bytes: Vec<u8>) -> Self {
        self.raw_bytes(tag, vr, bytes)
    }

    /// 16-bit signed pixel data (OW, little endian on disk).
    pub fn pixel_data_i16(self, pixels: &[i16]) -> Self {
        let bytes: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.pixel_bytes(VR::OW, bytes)
    }

    /// 16-bit unsigned pixel data (OW, little endian on disk).
    pub fn pixel_data_u16(self, pixels: &[u16]) -> Self {
        let bytes: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.pixel_bytes(VR::OW, bytes)
    }

    /// 8-bit pixel data (OB).
    pub fn pixel_data_u8(self, pixels: &[u8]) -> Self {
        self.pixel_bytes(VR::OB, pixels.to_vec())
    }

    fn pixel_bytes(self, vr: VR, bytes: Vec<u8>) -> Self {
        self.raw_bytes(tags::PIXEL_DATA, vr, bytes)
    }

    fn raw_bytes(mut self, tag: Tag, vr: VR, mut bytes: Vec<u8>) -> Self {
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        self.object
            .put(DataElement::new(tag, vr, PrimitiveValue::from(bytes)));
        self
    }

    /// The dataset built so far.
    pub fn into_object(self) -> InMemDicomObject {
        self.object
    }

    /// Writes a Part 10 file (preamble, meta group, Explicit VR Little Endian).
    /// The dataset must hold SOPClassUID and SOPInstanceUID.
    pub fn write(self, path: &Path) -> Result<(), WriteError> {
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
            .implementation_version_name(IMPLEMENTATION_VERSION_NAME);
        let file = self
            .object
            .with_meta(meta)
            .map_err(|e| WriteError::Meta(e.to_string()))?;
        file.write_to_file(path).map_err(|e| WriteError::Write {
            reason: e.to_string(),
            path: path.display().to_string(),
        })
    }
}

/// Tessera's implementation class UID (a fixed 2.25 UID).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.161064837360154306381447391232318405173";
/// Tessera's implementation version name (at most 16 characters).
pub const IMPLEMENTATION_VERSION_NAME: &str = "TESSERA_0_1";

/// Everything that varies between slices of a synthetic single-frame series.
#[derive(Debug, Clone)]
pub struct SliceSpec {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub series_number: i64,
    pub instance_number: i64,
    pub rows: u16,
    pub columns: u16,
    /// ImagePositionPatient: centre of the first transmitted pixel, LPS, mm.
    pub position_mm: [f64; 3],
    /// ImageOrientationPatient: row direction cosines, then column direction cosines.
    pub orientation: [f64; 6],
    /// PixelSpacing: row spacing (between rows), then column spacing, mm.
    pub pixel_spacing_mm: [f64; 2],
    pub slice_thickness_mm: f64,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    pub window_center: f64,
    pub window_width: f64,
    pub modality: String,
    pub series_description: String,
    pub patient_name: String,
    pub patient_id: String,
    /// Gantry/detector tilt in degrees (0 for none).
    pub gantry_tilt_deg: f64,
}

impl SliceSpec {
    /// A plain axial 64×64 CT slice at `z_mm`, for tests to adjust.
    pub fn axial_ct(series_seed: &str, instance_number: i64, z_mm: f64) -> Self {
        Self {
            study_uid: uid_from_seed(&format!("{series_seed}/study")),
            series_uid: uid_from_seed(&format!("{series_seed}/series")),
            sop_instance_uid: uid_from_seed(&format!("{series_seed}/{instance_number}/{z_mm}")),
            series_number: 1,
            instance_number,
            rows: 64,
            columns: 64,
            position_mm: [-32.0, -32.0, z_mm],
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            pixel_spacing_mm: [1.0, 1.0],
            slice_thickness_mm: 1.0,
            rescale_slope: 1.0,
            rescale_intercept: -1024.0,
            window_center: 40.0,
            window_width: 400.0,
            modality: "CT".to_string(),
            series_description: "Synthetic axial".to_string(),
            patient_name: "Synthetic^Patient".to_string(),
            patient_id: "SYN0001".to_string(),
            gantry_tilt_deg: 0.0,
        }
    }

    /// The dataset of this slice with stored values `pixels` (rows × columns, signed 16-bit).
    pub fn dataset(&self, pixels: &[i16]) -> DatasetBuilder {
        let sop_class = if self.modality == "MR" {
            uids::MR_IMAGE_STORAGE
        } else {
            uids::CT_IMAGE_STORAGE
        };
        DatasetBuilder::new()
            .text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100")
            .texts(tags::IMAGE_TYPE, VR::CS, &["ORIGINAL", "PRIMARY", "AXIAL"])
            .text(tags::SOP_CLASS_UID, VR::UI, sop_class)
            .text(tags::SOP_INSTANCE_UID, VR::UI, &self.sop_instance_uid)
            .text(tags::STUDY_DATE, VR::DA, "20260101")
            .text(tags::STUDY_TIME, VR::TM, "120000")
            .text(tags::ACCESSION_NUMBER, VR::SH, "")
            .text(tags::MODALITY, VR::CS, &self.modality)
            .text(tags::MANUFACTURER, VR::LO, "Tessera synthetic")
            .text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "")
            .text(tags::SERIES_DESCRIPTION, VR::LO, &self.series_description)
            .text(tags::PATIENT_NAME, VR::PN, &self.patient_name)
            .text(tags::PATIENT_ID, VR::LO, &self.patient_id)
            .text(tags::PATIENT_BIRTH_DATE, VR::DA, "")
            .text(tags::PATIENT_SEX, VR::CS, "O")
            .ds(tags::SLICE_THICKNESS, &[self.slice_thickness_mm])
            .ds(tags::GANTRY_DETECTOR_TILT, &[self.gantry_tilt_deg])
            .text(tags::STUDY_INSTANCE_UID, VR::UI, &self.study_uid)
            .text(tags::SERIES_INSTANCE_UID, VR::UI, &self.series_uid)
            .text(tags::STUDY_ID, VR::SH, "1")
            .is(tags::SERIES_NUMBER, self.series_number)
            .is(tags::INSTANCE_NUMBER, self.instance_number)
            .ds(tags::IMAGE_POSITION_PATIENT, &self.position_mm)
            .ds(tags::IMAGE_ORIENTATION_PATIENT, &self.orientation)
            .text(
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                &uid_from_seed(&format!("{}/frame-of-reference", self.study_uid)),
            )
            .us(tags::SAMPLES_PER_PIXEL, 1)
            .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
            .us(tags::ROWS, self.rows)
            .us(tags::COLUMNS, self.columns)
            .ds(tags::PIXEL_SPACING, &self.pixel_spacing_mm)
            .us(tags::BITS_ALLOCATED, 16)
            .us(tags::BITS_STORED, 16)
            .us(tags::HIGH_BIT, 15)
            .us(tags::PIXEL_REPRESENTATION, 1)
            .ds(tags::WINDOW_CENTER, &[self.window_center])
            .ds(tags::WINDOW_WIDTH, &[self.window_width])
            .ds(tags::RESCALE_INTERCEPT, &[self.rescale_intercept])
            .ds(tags::RESCALE_SLOPE, &[self.rescale_slope])
            .text(tags::RESCALE_TYPE, VR::LO, "HU")
            .pixel_data_i16(pixels)
    }

    /// Writes this slice to `path` with stored values `pixels`.
    pub fn write(&self, path: &Path, pixels: &[i16]) -> Result<(), WriteError> {
        self.dataset(pixels).write(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_values_fit_sixteen_chars() {
        for v in [
            0.0,
            1.0,
            -1024.0,
            0.488281,
            -123.456789012345,
            1.0 / 3.0,
            1e-7,
        ] {
            let s = format_ds(v);
            assert!(s.len() <= 16, "{s}");
            let back: f64 = s.parse().unwrap_or(f64::NAN);
            assert!((back - v).abs() <= 1e-6 * v.abs().max(1.0), "{v} -> {s}");
        }
        assert_eq!(format_ds(-1024.0), "-1024");
        assert_eq!(format_ds(0.5), "0.5");
    }

    #[test]
    fn uids_are_valid_and_distinct() {
        let a = uid_from_seed("a");
        let b = uid_from_seed("b");
        assert_ne!(a, b);
        assert_eq!(a, uid_from_seed("a"));
        assert!(a.len() <= 64);
        assert!(a.starts_with("2.25."));
        assert!(a[5..].chars().all(|c| c.is_ascii_digit()));
        assert!(!a[5..].starts_with('0'));
    }
}
