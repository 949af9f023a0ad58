//! Stored segmentations to and from label volumes: a project's label map (bricked,
//! aligned voxel for voxel with its series) becomes the [`LabelVolume`] SEG and NIfTI
//! write, and a SEG read onto a series becomes a label map, its segments and the one
//! stroke that paints it, ready to be stored as edits.
//!
//! Owns the mapping between `annotate`'s segments (label classes with codes) and
//! [`SegmentInfo`], and the grid check between a stored segmentation and the series it
//! is exported against. Pure: the caller commits what [`to_segmentation`] returns.

use super::{Algorithm, Code, InteropError, LabelVolume, SegmentInfo, SourceSeries};
use crate::annotate::labelmap::{Draft, LabelMap, Stroke};
use crate::annotate::packed::{StrokeEdit, Tool};
use crate::annotate::schema::{self, Colour, LabelClass};
use crate::annotate::segmentation::{Segment, SegmentationHeader, SourceRef};
use crate::imaging::mpr::VolumeGrid;
use crate::project::segmentations::SegmentationInfo;

/// How far (mm) a stored grid's voxel centres may sit from the series' to count as the
/// same grid.
const SAME_GRID_MM: f64 = 0.01;

fn code(c: &schema::Code) -> Code {
    Code::new(&c.scheme, &c.value, &c.meaning)
}

fn same_grid(a: &VolumeGrid, b: &VolumeGrid) -> bool {
    if a.dims != b.dims {
        return false;
    }
    let [ni, nj, nk] = a.dims.map(|d| d.saturating_sub(1) as f64);
    [[0.0, 0.0, 0.0], [ni, nj, nk], [ni, 0.0, 0.0], [0.0, nj, nk]]
        .iter()
        .all(|v| {
            let (p, q) = (a.world(*v), b.world(*v));
            (0..3).map(|c| (p[c] - q[c]).powi(2)).sum::<f64>().sqrt() <= SAME_GRID_MM
        })
}

/// A stored segmentation as a label volume on `source`'s grid (they must agree voxel
/// for voxel within 0.01 mm). Segments keep their index, name, colour and codes; a
/// segment without a coded type gets a local code (flagged uncoded in exports).
pub fn from_segmentation(
    info: &SegmentationInfo,
    map: &LabelMap,
    source: &SourceSeries,
) -> Result<LabelVolume, InteropError> {
    let stored = info.header.grid.to_grid();
    if !same_grid(&stored, &source.grid) || map.dims() != source.grid.dims {
        return Err(InteropError::Geometry(format!(
            "segmentation {:?} was drawn on a {:?} grid that does not match the series' {:?}",
            info.header.name,
            map.dims(),
            source.grid.dims
        )));
    }
    let segments = info
        .segments
        .iter()
        .map(|(index, s)| SegmentInfo {
            number: *index,
            label: s.name.clone(),
            colour: s.colour.0,
            category: s
                .class
                .category
                .as_ref()
                .map_or_else(Code::default_category, code),
            type_: s
                .class
                .concept
                .as_ref()
                .map_or_else(|| Code::local(&s.class.name), code),
            anatomic_region: s.class.region.as_ref().map(code),
            algorithm: Algorithm::Manual,
        })
        .collect();
    let mut out = LabelVolume::new(source.grid.clone(), segments)?;
    for index in map.allocated() {
        let (Some(brick), b) = (map.brick(index), map.brick_box(index)) else {
            continue;
        };
        let mut offset = 0;
        for z in 0..b.size[2] {
            for y in 0..b.size[1] {
                let row = out.index(b.origin[0], b.origin[1] + y, b.origin[2] + z);
                out.voxels[row..row + b.size[0]]
                    .copy_from_slice(&brick[offset..offset + b.size[0]]);
                offset += b.size[0];
            }
        }
    }
    // Segments must exist for every painted value (a value with no segment is dropped).
    let known: std::collections::BTreeSet<u8> = info.segments.keys().copied().collect();
    for v in &mut out.voxels {
        if *v != 0 && !known.contains(v) {
            *v = 0;
        }
    }
    out.validate()?;
    Ok(out)
}

/// What storing an imported label volume takes: the header, the segments by index, and
/// the stroke that paints the map (one edit).
#[derive(Debug)]
pub struct ImportedSegmentation {
    pub header: SegmentationHeader,
    pub segments: Vec<(u8, Segment)>,
    pub stroke: Option<StrokeEdit>,
    pub voxels: u64,
}

/// A label volume read from a SEG (already placed on `source`'s grid) as a new
/// segmentation named `name`: segments bound to the schema class with the same coded
/// type when there is one in `classes`, otherwise to a class made from the SEG's codes.
pub fn to_segmentation(
    labels: &LabelVolume,
    source: &SourceSeries,
    name: &str,
    classes: &[(crate::project::Id, LabelClass)],
) -> Result<ImportedSegmentation, InteropError> {
    if labels.grid.dims != source.grid.dims {
        return Err(InteropError::Geometry(
            "the label volume is not on the series' grid".into(),
        ));
    }
    let mut header = SegmentationHeader::new(name, &source.grid);
    header.sources = source
        .slices
        .iter()
        .map(|s| SourceRef {
            sop_instance_uid: s.sop_instance_uid.clone(),
            sha256: String::new(),
        })
        .collect();
    let segments = labels
        .segments
        .iter()
        .map(|s| {
            let bound = classes.iter().find(|(_, c)| {
                c.concept
                    .as_ref()
                    .is_some_and(|k| k.scheme == s.type_.scheme && k.value == s.type_.value)
            });
            let (class_id, class) = match bound {
                Some((id, c)) => (Some(*id), c.clone()),
                None => {
                    let colour = Colour(s.colour);
                    let mut class = if s.type_.is_local() {
                        LabelClass::free_text(&s.label, colour)
                    } else {
                        LabelClass::from_code(
                            &schema::Code::new(&s.type_.scheme, &s.type_.value, &s.type_.meaning),
                            Some(schema::Code::new(
                                &s.category.scheme,
                                &s.category.value,
                                &s.category.meaning,
                            )),
                            colour,
                        )
                    };
                    class.region = s
                        .anatomic_region
                        .as_ref()
                        .map(|r| schema::Code::new(&r.scheme, &r.value, &r.meaning));
                    (None, class)
                }
            };
            let mut segment = Segment::of_class(&s.label, class_id, &class);
            segment.colour = Colour(s.colour);
            (s.number, segment)
        })
        .collect();
    let mut map = header
        .new_label_map()
        .map_err(|e| InteropError::Invalid(e.to_string()))?;
    let [ni, nj, nk] = labels.grid.dims;
    let mut draft = Draft::new(&map);
    let mut voxels = 0u64;
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                let v = labels.voxels[labels.index(i, j, k)];
                if v != 0 {
                    draft.set([i, j, k], v);
                    voxels += 1;
                }
            }
        }
    }
    let changes = draft.finish();
    let mut stroke = Stroke::new();
    stroke.apply(&mut map, changes);
    Ok(ImportedSegmentation {
        header,
        segments,
        stroke: stroke.finish(&map, Tool::Other),
        voxels,
    })
}
