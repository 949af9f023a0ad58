//! DICOM Segmentation (binary SEG, SOP class 1.2.840.10008.5.1.4.1.1.66.4): writing a
//! [`LabelVolume`] drawn on a [`SourceSeries`], and reading a SEG back ([`read`]).
//!
//! Owns the SEG IOD as PS3.3 A.51 lays it out: the Patient and Study modules copied
//! from the source; a new series (Modality SEG) in the source study; Frame of Reference
//! from the source; General and Enhanced General Equipment; Segmentation Image
//! (BINARY, 1-bit, bit-packed frames); one SegmentSequence item per segment (label,
//! coded category and type, anatomic region, algorithm type, CIELab colour); shared
//! functional groups with the source orientation and pixel measures; per frame the
//! segment, the plane position, the source image it was derived from and the
//! dimension index values (segment, position); empty frames omitted; and the Common
//! Instance Reference module listing the source instances.
//!
//! Segment numbers are renumbered 1..n in ascending order of the label volume's values
//! (the standard requires them to start at 1 and increase by 1); a volume whose
//! values are already 1..n round-trips exactly.

mod read;

use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::{tags, uids};

use super::dicom::{self, code_seq, cut};
use super::{Algorithm, Authoring, InteropError, LabelVolume, SourceSeries};
use crate::imaging::writer::DatasetBuilder;

pub use read::{SegImport, read, referenced_series};

/// DCM 121322 "Source image for image processing operation".
fn purpose_source() -> super::Code {
    super::Code::new(
        "DCM",
        "121322",
        "Source image for image processing operation",
    )
}

/// DCM 113076 "Segmentation".
fn derivation_segmentation() -> super::Code {
    super::Code::new("DCM", "113076", "Segmentation")
}

/// What a written SEG holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegSummary {
    pub segments: usize,
    /// Non-empty frames written (one per segment and slice that has its voxels).
    pub frames: usize,
}

/// Writes `labels` (on `source.grid`, `k` in `source.slices` order) as a binary SEG
/// in `source`'s study. Refuses an empty label volume and a grid that is not the
/// source's.
pub fn write(
    path: &Path,
    labels: &LabelVolume,
    source: &SourceSeries,
    who: &Authoring,
) -> Result<SegSummary, InteropError> {
    let object = build(labels, source, who)?;
    let frames = object.frames;
    object
        .dataset
        .write(path)
        .map_err(|e| InteropError::write(path, e))?;
    Ok(SegSummary {
        segments: labels.segments.len(),
        frames,
    })
}

struct Built {
    dataset: DatasetBuilder,
    frames: usize,
}

fn build(
    labels: &LabelVolume,
    source: &SourceSeries,
    who: &Authoring,
) -> Result<Built, InteropError> {
    labels.validate()?;
    let [ni, nj, nk] = labels.grid.dims;
    if labels.grid.dims != source.grid.dims || nk != source.slices.len() {
        return Err(InteropError::Geometry(format!(
            "label volume is {ni}×{nj}×{nk}, the source series {}×{}×{}",
            source.grid.dims[0],
            source.grid.dims[1],
            source.slices.len()
        )));
    }
    let for_uid = source.frame_of_reference_uid.as_deref().ok_or_else(|| {
        InteropError::Unsupported("the source series has no FrameOfReferenceUID".into())
    })?;
    let rows =
        u16::try_from(nj).map_err(|_| InteropError::Unsupported("more than 65535 rows".into()))?;
    let columns = u16::try_from(ni)
        .map_err(|_| InteropError::Unsupported("more than 65535 columns".into()))?;

    let mut segments = labels.segments.clone();
    segments.sort_by_key(|s| s.number);

    // Frames: per segment (ascending), per slice (ascending k), non-empty only.
    let plane = ni * nj;
    let mut frames: Vec<(usize, usize)> = Vec::new(); // (segment number, k)
    let mut bits: Vec<u8> = Vec::new();
    let mut bit = 0usize;
    for (n, s) in segments.iter().enumerate() {
        for k in 0..nk {
            let slab = &labels.voxels[k * plane..(k + 1) * plane];
            if !slab.contains(&s.number) {
                continue;
            }
            frames.push((n + 1, k));
            bits.resize((bit + plane).div_ceil(8), 0);
            for (p, v) in slab.iter().enumerate() {
                if *v == s.number {
                    let at = bit + p;
                    bits[at / 8] |= 1 << (at % 8);
                }
            }
            bit += plane;
        }
    }
    if frames.is_empty() {
        return Err(InteropError::Empty);
    }

    let organization = super::new_uid()?;
    let spacing = source.slice_spacing_mm();
    let thickness = source
        .slice_thickness_mm
        .filter(|t| *t > 0.0)
        .unwrap_or(spacing);

    let segment_items: Vec<DatasetBuilder> = segments
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let mut b = DatasetBuilder::new()
                .element(dicom::us(tags::SEGMENT_NUMBER, &[n as u16 + 1]))
                .text(tags::SEGMENT_LABEL, VR::LO, &cut(&s.label, 64));
            b = code_seq(
                b,
                tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                &s.category,
            );
            b = code_seq(b, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE, &s.type_);
            if let Some(region) = &s.anatomic_region {
                b = code_seq(b, tags::ANATOMIC_REGION_SEQUENCE, region);
            }
            b = match s.algorithm {
                Algorithm::Manual => b.text(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "MANUAL"),
                Algorithm::SemiAutomatic => b
                    .text(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "SEMIAUTOMATIC")
                    .text(
                        tags::SEGMENT_ALGORITHM_NAME,
                        VR::LO,
                        "Tessera assisted painting",
                    ),
            };
            b.element(dicom::us(
                tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
                &dicom::cielab_of_srgb(s.colour),
            ))
        })
        .collect();

    let per_frame: Vec<DatasetBuilder> = frames
        .iter()
        .map(|&(segment, k)| {
            let slice = &source.slices[k];
            let mut image = DatasetBuilder::new()
                .text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &slice.sop_class_uid)
                .text(
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    &slice.sop_instance_uid,
                );
            if let Some(frame) = slice.frame {
                image = image.is(tags::REFERENCED_FRAME_NUMBER, i64::from(frame));
            }
            image = code_seq(
                image,
                tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                &purpose_source(),
            );
            let derivation = code_seq(
                DatasetBuilder::new().sequence(tags::SOURCE_IMAGE_SEQUENCE, vec![image]),
                tags::DERIVATION_CODE_SEQUENCE,
                &derivation_segmentation(),
            );
            DatasetBuilder::new()
                .sequence(tags::DERIVATION_IMAGE_SEQUENCE, vec![derivation])
                .sequence(
                    tags::FRAME_CONTENT_SEQUENCE,
                    vec![DatasetBuilder::new().element(dicom::ul(
                        tags::DIMENSION_INDEX_VALUES,
                        &[segment as u32, k as u32 + 1],
                    ))],
                )
                .sequence(
                    tags::PLANE_POSITION_SEQUENCE,
                    vec![
                        DatasetBuilder::new().ds(tags::IMAGE_POSITION_PATIENT, &slice.position_mm),
                    ],
                )
                .sequence(
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    vec![DatasetBuilder::new().element(dicom::us(
                        tags::REFERENCED_SEGMENT_NUMBER,
                        &[segment as u16],
                    ))],
                )
        })
        .collect();

    let shared = DatasetBuilder::new()
        .sequence(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![DatasetBuilder::new().ds(tags::IMAGE_ORIENTATION_PATIENT, &source.orientation)],
        )
        .sequence(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![
                DatasetBuilder::new()
                    .ds(tags::PIXEL_SPACING, &source.pixel_spacing_mm)
                    .ds(tags::SLICE_THICKNESS, &[thickness])
                    .ds(tags::SPACING_BETWEEN_SLICES, &[spacing]),
            ],
        );

    let dimension = |pointer, group, label: &str| {
        DatasetBuilder::new()
            .text(tags::DIMENSION_ORGANIZATION_UID, VR::UI, &organization)
            .element(dicom::at(tags::DIMENSION_INDEX_POINTER, pointer))
            .element(dicom::at(tags::FUNCTIONAL_GROUP_POINTER, group))
            .text(tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, label)
    };

    let referenced = dicom::referenced_series_item(
        &source.series_instance_uid,
        source
            .slices
            .iter()
            .map(|s| (s.sop_class_uid.as_str(), s.sop_instance_uid.as_str())),
    );

    let mut b = dicom::patient_and_study(DatasetBuilder::new(), source);
    let local = segments.iter().any(|s| {
        s.type_.is_local()
            || s.category.is_local()
            || s.anatomic_region.as_ref().is_some_and(|c| c.is_local())
    });
    if local {
        b = dicom::local_scheme(b);
    }
    b = dicom::series_and_equipment(b, "SEG", uids::SEGMENTATION_STORAGE, who)
        .texts(tags::IMAGE_TYPE, VR::CS, &["DERIVED", "PRIMARY"])
        .text(tags::FRAME_OF_REFERENCE_UID, VR::UI, for_uid)
        .text(
            tags::POSITION_REFERENCE_INDICATOR,
            VR::LO,
            &source.position_reference_indicator,
        )
        .sequence(tags::REFERENCED_SERIES_SEQUENCE, vec![referenced])
        .text(tags::CONTENT_LABEL, VR::CS, "SEGMENTATION")
        .text(
            tags::CONTENT_DESCRIPTION,
            VR::LO,
            &cut(&who.series_description, 64),
        )
        .text(
            tags::CONTENT_CREATOR_NAME,
            VR::PN,
            &dicom::person_name(&who.creator),
        )
        .text(tags::SEGMENTATION_TYPE, VR::CS, "BINARY")
        .text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00")
        .sequence(tags::SEGMENT_SEQUENCE, segment_items)
        .sequence(
            tags::DIMENSION_ORGANIZATION_SEQUENCE,
            vec![DatasetBuilder::new().text(
                tags::DIMENSION_ORGANIZATION_UID,
                VR::UI,
                &organization,
            )],
        )
        .sequence(
            tags::DIMENSION_INDEX_SEQUENCE,
            vec![
                dimension(
                    tags::REFERENCED_SEGMENT_NUMBER,
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    "ReferencedSegmentNumber",
                ),
                dimension(
                    tags::IMAGE_POSITION_PATIENT,
                    tags::PLANE_POSITION_SEQUENCE,
                    "ImagePositionPatient",
                ),
            ],
        )
        .sequence(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared])
        .sequence(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame)
        .is(tags::NUMBER_OF_FRAMES, frames.len() as i64)
        .us(tags::SAMPLES_PER_PIXEL, 1)
        .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
        .us(tags::ROWS, rows)
        .us(tags::COLUMNS, columns)
        .us(tags::BITS_ALLOCATED, 1)
        .us(tags::BITS_STORED, 1)
        .us(tags::HIGH_BIT, 0)
        .us(tags::PIXEL_REPRESENTATION, 0)
        .bytes(tags::PIXEL_DATA, VR::OB, bits);
    Ok(Built {
        dataset: b,
        frames: frames.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests;
