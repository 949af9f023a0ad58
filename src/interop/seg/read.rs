//! Reading a binary (or fractional) DICOM SEG into a [`LabelVolume`]: from its own
//! geometry (orientation, pixel measures and per-frame plane positions, empty frames
//! omitted or not), or aligned voxel for voxel with a given source series.

use std::path::Path;

use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::super::dicom::{self, code_in, first_item, integer, items, numbers, text};
use super::super::{
    Algorithm, Code, InteropError, LabelVolume, SegmentInfo, SourceSeries, voxel_count,
};
use crate::imaging::file::{self, ReadMode};
use crate::imaging::mpr::VolumeGrid;
use crate::imaging::pixels::{self, Samples};

/// How far (mm) a frame may lie from the plane it is assigned to.
const PLANE_TOLERANCE_MM: f64 = 0.01;
/// Colour given to segments without RecommendedDisplayCIELabValue.
const DEFAULT_COLOUR: [u8; 3] = [255, 160, 0];

/// A SEG read back.
#[derive(Clone, Debug, PartialEq)]
pub struct SegImport {
    pub labels: LabelVolume,
    /// The SEG's own SeriesInstanceUID and SOPInstanceUID.
    pub series_uid: String,
    pub sop_instance_uid: String,
    /// The series its frames were derived from (ReferencedSeriesSequence or the
    /// per-frame source images), when it says.
    pub referenced_series_uid: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    /// Voxels claimed by more than one segment (a label map keeps one: the later).
    pub overlapping_voxels: u64,
}

fn bad(path: &Path, reason: impl Into<String>) -> InteropError {
    InteropError::read("DICOM SEG", path, reason.into())
}

/// Reads the SEG at `path`. With `align`, the frames are placed on that series' grid
/// (orientation, pixel spacing and size must match, and every frame must lie on one
/// of its slices within 0.01 mm); without, on a grid built from the SEG's own
/// geometry (k along the slice normal, from the lowest frame position).
pub fn read(path: &Path, align: Option<&SourceSeries>) -> Result<SegImport, InteropError> {
    let instance = file::open(path, ReadMode::Full).map_err(|e| bad(path, e.to_string()))?;
    let obj: &InMemDicomObject = &instance.object;
    let class = instance.sop_class_uid().unwrap_or_default();
    if class != uids::SEGMENTATION_STORAGE {
        return Err(bad(
            path,
            format!("SOP class {class} is not Segmentation Storage"),
        ));
    }
    let kind = text(obj, tags::SEGMENTATION_TYPE).unwrap_or_default();
    let threshold = match kind.as_str() {
        "BINARY" => 1.0,
        "FRACTIONAL" => {
            let max = numbers(obj, tags::MAXIMUM_FRACTIONAL_VALUE)
                .and_then(|v| v.first().copied())
                .unwrap_or(255.0);
            (max / 2.0).max(1.0)
        }
        other => return Err(bad(path, format!("SegmentationType {other:?} is not read"))),
    };
    let rows = integer(obj, tags::ROWS).unwrap_or(0);
    let columns = integer(obj, tags::COLUMNS).unwrap_or(0);
    let (Ok(rows), Ok(columns)) = (usize::try_from(rows), usize::try_from(columns)) else {
        return Err(bad(path, "bad Rows/Columns"));
    };
    let frame_count = instance
        .number_of_frames()
        .map_err(|e| bad(path, e.to_string()))? as usize;

    // Segments: numbers must fit a byte (a label map holds one value per voxel).
    let mut segments = Vec::new();
    for item in items(obj, tags::SEGMENT_SEQUENCE) {
        let number = integer(item, tags::SEGMENT_NUMBER).unwrap_or(0);
        let number = u8::try_from(number)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(path, format!("segment number {number} is outside 1..=255")))?;
        let label = text(item, tags::SEGMENT_LABEL).unwrap_or_else(|| format!("Segment {number}"));
        let colour = numbers(item, tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE)
            .filter(|v| v.len() == 3)
            .map_or(DEFAULT_COLOUR, |v| {
                dicom::srgb_of_cielab([v[0] as u16, v[1] as u16, v[2] as u16])
            });
        segments.push(SegmentInfo {
            number,
            type_: code_in(item, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE)
                .unwrap_or_else(|| Code::local(&label)),
            category: code_in(item, tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE)
                .unwrap_or_else(Code::default_category),
            anatomic_region: code_in(item, tags::ANATOMIC_REGION_SEQUENCE),
            algorithm: match text(item, tags::SEGMENT_ALGORITHM_TYPE).as_deref() {
                Some("MANUAL") | None => Algorithm::Manual,
                Some(_) => Algorithm::SemiAutomatic,
            },
            label,
            colour,
        });
    }
    if segments.is_empty() {
        return Err(bad(path, "no SegmentSequence"));
    }

    // Geometry: shared functional groups, overridden per frame.
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    if per_frame.len() != frame_count {
        return Err(bad(
            path,
            format!(
                "{} per-frame groups for {frame_count} frames",
                per_frame.len()
            ),
        ));
    }
    let group_value = |frame: &InMemDicomObject, seq, tag| {
        first_item(frame, seq)
            .and_then(|i| numbers(i, tag))
            .or_else(|| {
                shared
                    .and_then(|s| first_item(s, seq))
                    .and_then(|i| numbers(i, tag))
            })
    };
    let mut placed = Vec::with_capacity(frame_count);
    let mut orientation: Option<[f64; 6]> = None;
    let mut pixel_spacing: Option<[f64; 2]> = None;
    let mut referenced_series = None;
    for (f, frame) in per_frame.iter().enumerate() {
        let o = group_value(
            frame,
            tags::PLANE_ORIENTATION_SEQUENCE,
            tags::IMAGE_ORIENTATION_PATIENT,
        )
        .filter(|v| v.len() == 6)
        .ok_or_else(|| bad(path, format!("frame {}: no ImageOrientationPatient", f + 1)))?;
        let o = [o[0], o[1], o[2], o[3], o[4], o[5]];
        match orientation {
            None => orientation = Some(o),
            Some(first) if (0..6).any(|n| (first[n] - o[n]).abs() > 1e-4) => {
                return Err(bad(path, "frames differ in orientation"));
            }
            Some(_) => {}
        }
        let ps = group_value(frame, tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING)
            .filter(|v| v.len() == 2 && v[0] > 0.0 && v[1] > 0.0)
            .ok_or_else(|| bad(path, format!("frame {}: no PixelSpacing", f + 1)))?;
        pixel_spacing.get_or_insert([ps[0], ps[1]]);
        let p = group_value(
            frame,
            tags::PLANE_POSITION_SEQUENCE,
            tags::IMAGE_POSITION_PATIENT,
        )
        .filter(|v| v.len() == 3)
        .ok_or_else(|| bad(path, format!("frame {}: no ImagePositionPatient", f + 1)))?;
        let segment = first_item(frame, tags::SEGMENT_IDENTIFICATION_SEQUENCE)
            .or_else(|| shared.and_then(|s| first_item(s, tags::SEGMENT_IDENTIFICATION_SEQUENCE)))
            .and_then(|i| integer(i, tags::REFERENCED_SEGMENT_NUMBER))
            .and_then(|n| u8::try_from(n).ok())
            .filter(|n| segments.iter().any(|s| s.number == *n))
            .ok_or_else(|| {
                bad(
                    path,
                    format!("frame {}: no known ReferencedSegmentNumber", f + 1),
                )
            })?;
        if referenced_series.is_none() {
            referenced_series = source_series_of_frame(frame);
        }
        placed.push((segment, [p[0], p[1], p[2]]));
    }
    let (Some(orientation), Some(pixel_spacing)) = (orientation, pixel_spacing) else {
        return Err(bad(path, "no frames"));
    };
    let referenced_series = first_item(obj, tags::REFERENCED_SERIES_SEQUENCE)
        .and_then(|i| text(i, tags::SERIES_INSTANCE_UID))
        .or(referenced_series);

    let (grid, slice_of_frame) = match align {
        Some(source) => aligned(source, rows, columns, orientation, pixel_spacing, &placed)
            .map_err(|reason| bad(path, reason))?,
        None => own_grid(obj, rows, columns, orientation, pixel_spacing, &placed)
            .map_err(|reason| bad(path, reason))?,
    };
    // A few small frames far apart must not size a huge volume: at most 2^30 voxels.
    if voxel_count(&grid)? > 1 << 30 {
        let [a, b, c] = grid.dims;
        return Err(bad(
            path,
            format!("its frames span a {a}×{b}×{c} grid, too large to import"),
        ));
    }
    let mut labels = LabelVolume::new(grid, segments)?;
    let plane = rows * columns;
    let mut overlapping = 0u64;
    for (f, ((segment, _), k)) in placed.iter().zip(&slice_of_frame).enumerate() {
        let frame = pixels::decode_frame(&instance, f as u32)
            .map_err(|e| bad(path, format!("frame {}: {e}", f + 1)))?;
        let on = |n: usize| -> bool {
            match &frame.samples {
                Samples::U8(v) => v.get(n).is_some_and(|x| f64::from(*x) >= threshold),
                Samples::U16(v) => v.get(n).is_some_and(|x| f64::from(*x) >= threshold),
                _ => false,
            }
        };
        if frame.samples.len() != plane {
            return Err(bad(path, format!("frame {} has the wrong size", f + 1)));
        }
        let start = k * plane;
        for n in 0..plane {
            if on(n) {
                let v = &mut labels.voxels[start + n];
                if *v != 0 && *v != *segment {
                    overlapping += 1;
                }
                *v = *segment;
            }
        }
    }
    Ok(SegImport {
        labels,
        series_uid: text(obj, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        sop_instance_uid: instance.sop_instance_uid().unwrap_or_default(),
        referenced_series_uid: referenced_series,
        frame_of_reference_uid: text(obj, tags::FRAME_OF_REFERENCE_UID),
        overlapping_voxels: overlapping,
    })
}

/// The series a SEG says it was derived from (its ReferencedSeriesSequence).
pub fn referenced_series(obj: &InMemDicomObject) -> Vec<String> {
    items(obj, tags::REFERENCED_SERIES_SEQUENCE)
        .iter()
        .filter_map(|i| text(i, tags::SERIES_INSTANCE_UID))
        .collect()
}

/// The series UID a frame's derivation names, if it names one (it rarely does).
fn source_series_of_frame(frame: &InMemDicomObject) -> Option<String> {
    let derivation = first_item(frame, tags::DERIVATION_IMAGE_SEQUENCE)?;
    let source = first_item(derivation, tags::SOURCE_IMAGE_SEQUENCE)?;
    text(source, tags::SERIES_INSTANCE_UID)
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = dot(v, v).sqrt();
    if n > 1e-12 { v.map(|x| x / n) } else { v }
}

/// Frames placed on the source's slices.
fn aligned(
    source: &SourceSeries,
    rows: usize,
    columns: usize,
    orientation: [f64; 6],
    pixel_spacing: [f64; 2],
    placed: &[(u8, [f64; 3])],
) -> Result<(VolumeGrid, Vec<usize>), String> {
    let grid = &source.grid;
    if [columns, rows] != [grid.dims[0], grid.dims[1]] {
        return Err(format!(
            "frames are {columns}×{rows}, the source series {}×{}",
            grid.dims[0], grid.dims[1]
        ));
    }
    let row = unit([orientation[0], orientation[1], orientation[2]]);
    let col = unit([orientation[3], orientation[4], orientation[5]]);
    if dot(row, grid.axes[0]) < 1.0 - 1e-4 || dot(col, grid.axes[1]) < 1.0 - 1e-4 {
        return Err("the SEG's orientation differs from the source series'".into());
    }
    let spacing_ok = |a: f64, b: f64| (a - b).abs() <= 1e-4 * b.max(1.0);
    if !spacing_ok(pixel_spacing[0], grid.spacing_mm[1])
        || !spacing_ok(pixel_spacing[1], grid.spacing_mm[0])
    {
        return Err("the SEG's pixel spacing differs from the source series'".into());
    }
    let mut out = Vec::with_capacity(placed.len());
    for (f, (_, p)) in placed.iter().enumerate() {
        let (k, distance) = source
            .slices
            .iter()
            .enumerate()
            .map(|(k, s)| {
                (
                    k,
                    dot(sub(*p, s.position_mm), sub(*p, s.position_mm)).sqrt(),
                )
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .ok_or("the source series has no slices")?;
        if distance > PLANE_TOLERANCE_MM {
            return Err(format!(
                "frame {} lies {distance:.3} mm from the nearest source slice",
                f + 1
            ));
        }
        out.push(k);
    }
    Ok((grid.clone(), out))
}

/// A grid from the SEG's own geometry: k along the slice normal from the lowest frame.
fn own_grid(
    obj: &InMemDicomObject,
    rows: usize,
    columns: usize,
    orientation: [f64; 6],
    pixel_spacing: [f64; 2],
    placed: &[(u8, [f64; 3])],
) -> Result<(VolumeGrid, Vec<usize>), String> {
    let row = unit([orientation[0], orientation[1], orientation[2]]);
    let col = unit([orientation[3], orientation[4], orientation[5]]);
    let normal = unit(cross(row, col));
    let mut depths: Vec<f64> = placed.iter().map(|(_, p)| dot(*p, normal)).collect();
    depths.sort_by(f64::total_cmp);
    depths.dedup_by(|a, b| (*a - *b).abs() <= PLANE_TOLERANCE_MM);
    let Some(&lowest) = depths.first() else {
        return Err("no frames".into());
    };
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let declared = shared
        .and_then(|s| first_item(s, tags::PIXEL_MEASURES_SEQUENCE))
        .and_then(|m| {
            numbers(m, tags::SPACING_BETWEEN_SLICES).or_else(|| numbers(m, tags::SLICE_THICKNESS))
        })
        .and_then(|v| v.first().copied())
        .filter(|s| *s > 0.0);
    let measured = depths
        .windows(2)
        .map(|w| w[1] - w[0])
        .min_by(f64::total_cmp);
    let origin_frame = placed
        .iter()
        .map(|(_, p)| *p)
        .find(|p| (dot(*p, normal) - lowest).abs() <= PLANE_TOLERANCE_MM)
        .ok_or("no frames")?;
    // The declared spacing first (gaps of omitted empty frames hide the true one),
    // then the smallest measured step.
    let place = |spacing: f64| -> Result<Vec<usize>, String> {
        placed
            .iter()
            .enumerate()
            .map(|(f, (_, p))| {
                let d = sub(*p, origin_frame);
                if dot(d, row).abs() > PLANE_TOLERANCE_MM || dot(d, col).abs() > PLANE_TOLERANCE_MM
                {
                    return Err(format!("frame {} is shifted within its plane", f + 1));
                }
                let t = dot(d, normal) / spacing;
                let k = t.round();
                if (t - k).abs() * spacing > PLANE_TOLERANCE_MM || !(0.0..=100_000.0).contains(&k) {
                    return Err(format!(
                        "frame {} is not on a regular grid of {spacing} mm slices",
                        f + 1
                    ));
                }
                Ok(k as usize)
            })
            .collect()
    };
    let mut last_error = String::from("no slice spacing");
    let mut found = None;
    for spacing in [declared, measured, Some(1.0)].into_iter().flatten() {
        match place(spacing) {
            Ok(ks) => {
                found = Some((spacing, ks));
                break;
            }
            Err(e) => last_error = e,
        }
    }
    let Some((spacing, ks)) = found else {
        return Err(last_error);
    };
    let nk = ks.iter().max().map_or(1, |k| k + 1);
    let grid = VolumeGrid {
        dims: [columns, rows, nk],
        spacing_mm: [pixel_spacing[1], pixel_spacing[0], spacing],
        axes: [row, col, normal],
        origin_mm: origin_frame,
    };
    Ok((grid, ks))
}
