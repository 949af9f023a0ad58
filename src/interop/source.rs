//! The source series of an export: what a derived DICOM object (SEG, SR) must repeat
//! from the images it was drawn on, and the voxel grid labels live on.
//!
//! Owns reading those attributes from a discovered [`Stack`] (its instances' headers;
//! never pixels) and the slice order of Tessera's viewer, so that the `k` of a label
//! volume and of an MPR annotation (docs/labels-json.md, `plane`) is the viewer's.

use dicom_dictionary_std::tags;

use super::InteropError;
use crate::imaging::discovery::{BirthDate, PatientIdentity, Stack};
use crate::imaging::file::{self, ReadMode};
use crate::imaging::mpr::VolumeGrid;

/// One image of the source series, in the viewer's slice order.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSlice {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    /// 1-based frame number for a multi-frame instance (ReferencedFrameNumber),
    /// `None` for a single-frame one.
    pub frame: Option<u32>,
    /// ImagePositionPatient (LPS, mm).
    pub position_mm: [f64; 3],
    /// This slice's index in the discovery stack (and so in a loaded `Volume`).
    pub stack_index: usize,
}

/// The attributes of a source series that derived objects reference or repeat.
/// Patient identity is redacted from `Debug`.
#[derive(Clone, PartialEq)]
pub struct SourceSeries {
    pub patient: PatientIdentity,
    pub patient_birth_date: BirthDate,
    pub patient_sex: String,
    pub study_instance_uid: String,
    pub study_date: String,
    pub study_time: String,
    pub study_id: String,
    pub accession_number: String,
    pub referring_physician: String,
    pub series_instance_uid: String,
    pub modality: String,
    pub frame_of_reference_uid: Option<String>,
    pub position_reference_indicator: String,
    pub rows: u32,
    pub columns: u32,
    /// ImageOrientationPatient (row, then column direction cosines).
    pub orientation: [f64; 6],
    /// PixelSpacing (between rows, between columns), mm.
    pub pixel_spacing_mm: [f64; 2],
    pub slice_thickness_mm: Option<f64>,
    /// The images, in the viewer's slice order (the label volume's `k`).
    pub slices: Vec<SourceSlice>,
    /// The voxel grid of `slices` (what label volumes of this series are on).
    pub grid: VolumeGrid,
}

impl std::fmt::Debug for SourceSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSeries")
            .field("modality", &self.modality)
            .field("slices", &self.slices.len())
            .field("grid", &self.grid)
            .finish_non_exhaustive()
    }
}

impl SourceSeries {
    /// Reads a discovered stack (the first instance's header for the study and
    /// patient attributes discovery does not keep).
    pub fn from_stack(stack: &Stack) -> Result<SourceSeries, InteropError> {
        let Some(first) = stack.slices.first() else {
            return Err(InteropError::Invalid(
                "the source series has no slices".into(),
            ));
        };
        let info = &first.instance;
        let header = file::open(&info.path, ReadMode::HeaderOnly)
            .map_err(|e| InteropError::read("the source series", &info.path, e))?;
        let text = |tag| header.string(tag).unwrap_or_default();
        let g = &stack.geometry;
        let o = g.orientation;
        let orientation = [
            o.row_cosine.x(),
            o.row_cosine.y(),
            o.row_cosine.z(),
            o.column_cosine.x(),
            o.column_cosine.y(),
            o.column_cosine.z(),
        ];
        let mut slices: Vec<SourceSlice> = stack
            .slices
            .iter()
            .enumerate()
            .map(|(k, s)| SourceSlice {
                sop_class_uid: s.instance.sop_class_uid.clone(),
                sop_instance_uid: s.instance.sop_instance_uid.clone(),
                frame: (s.instance.number_of_frames > 1).then_some(s.frame + 1),
                position_mm: g.slice_origins_mm.get(k).map_or([0.0; 3], |p| p.0),
                stack_index: k,
            })
            .collect();
        slices.sort_by(|a, b| {
            viewer_order_key(&orientation, a.position_mm)
                .total_cmp(&viewer_order_key(&orientation, b.position_mm))
        });
        let positions: Vec<[f64; 3]> = slices.iter().map(|s| s.position_mm).collect();
        let grid = VolumeGrid::from_slices(
            g.columns as usize,
            g.rows as usize,
            orientation,
            g.pixel_spacing_mm,
            &positions,
        );
        Ok(SourceSeries {
            patient: info.patient.clone(),
            patient_birth_date: info.patient_birth_date.clone(),
            patient_sex: text(tags::PATIENT_SEX),
            study_instance_uid: info.study_instance_uid.clone(),
            study_date: info.study_date.clone(),
            study_time: text(tags::STUDY_TIME),
            study_id: text(tags::STUDY_ID),
            accession_number: text(tags::ACCESSION_NUMBER),
            referring_physician: text(tags::REFERRING_PHYSICIAN_NAME),
            series_instance_uid: info.series_instance_uid.clone(),
            modality: info.modality.clone(),
            frame_of_reference_uid: header.string(tags::FRAME_OF_REFERENCE_UID),
            position_reference_indicator: text(tags::POSITION_REFERENCE_INDICATOR),
            rows: g.rows,
            columns: g.columns,
            orientation,
            pixel_spacing_mm: g.pixel_spacing_mm,
            slice_thickness_mm: info.slice_thickness_mm,
            slices,
            grid,
        })
    }

    /// The slice (`k`) showing SOP instance `sop_uid` (frame: 0-based, as in an
    /// annotation's image reference; ignored for single-frame instances).
    pub fn slice_of(&self, sop_uid: &str, frame: Option<u32>) -> Option<usize> {
        self.slices.iter().position(|s| {
            s.sop_instance_uid == sop_uid
                && match (s.frame, frame) {
                    (Some(f), Some(want)) => f == want + 1,
                    (Some(f), None) => f == 1,
                    (None, _) => true,
                }
        })
    }

    /// The distance between slice planes, mm (k spacing of the grid).
    pub fn slice_spacing_mm(&self) -> f64 {
        self.grid.spacing_mm[2]
    }
}

/// The viewer's slice order (`app/loader.rs`): increasing towards the patient's
/// left, posterior or inferior, whichever the slice normal mostly points along.
pub fn viewer_order_key(orientation: &[f64; 6], p: [f64; 3]) -> f64 {
    let o = orientation;
    let normal = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    let axis = (0..3)
        .max_by(|a, b| normal[*a].abs().total_cmp(&normal[*b].abs()))
        .unwrap_or(2);
    let sign = normal[axis].signum() * if axis == 2 { -1.0 } else { 1.0 };
    sign * (p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])
}

/// A source series for unit tests: one CT slice per `k` of `grid`.
#[cfg(test)]
pub(crate) fn synthetic(grid: &VolumeGrid) -> SourceSeries {
    let a = grid.axes;
    SourceSeries {
        patient: PatientIdentity {
            id: "P1".into(),
            name: "Test^Patient".into(),
        },
        patient_birth_date: BirthDate(String::new()),
        patient_sex: "O".into(),
        study_instance_uid: "1.2.826.0.1.3680043.10.1".into(),
        study_date: "20260101".into(),
        study_time: "120000".into(),
        study_id: "1".into(),
        accession_number: String::new(),
        referring_physician: String::new(),
        series_instance_uid: "1.2.826.0.1.3680043.10.2".into(),
        modality: "CT".into(),
        frame_of_reference_uid: Some("1.2.826.0.1.3680043.10.3".into()),
        position_reference_indicator: String::new(),
        rows: grid.dims[1] as u32,
        columns: grid.dims[0] as u32,
        orientation: [a[0][0], a[0][1], a[0][2], a[1][0], a[1][1], a[1][2]],
        pixel_spacing_mm: [grid.spacing_mm[1], grid.spacing_mm[0]],
        slice_thickness_mm: Some(grid.spacing_mm[2]),
        slices: (0..grid.dims[2])
            .map(|k| SourceSlice {
                sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
                sop_instance_uid: format!("1.2.826.0.1.3680043.10.4.{}", k + 1),
                frame: None,
                position_mm: grid.world([0.0, 0.0, k as f64]),
                stack_index: k,
            })
            .collect(),
        grid: grid.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_order_runs_superior_to_inferior_for_axial_and_right_to_left_for_sagittal() {
        let axial = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        assert!(
            viewer_order_key(&axial, [0.0, 0.0, 10.0]) < viewer_order_key(&axial, [0.0, 0.0, 0.0])
        );
        let sagittal = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
        assert!(
            viewer_order_key(&sagittal, [-10.0, 0.0, 0.0])
                < viewer_order_key(&sagittal, [10.0, 0.0, 0.0])
        );
    }
}
