//! What a stored segmentation says about itself: its name, the exact voxel grid its label
//! map is aligned to (dimensions + voxel-to-patient geometry, so it never lands flipped or
//! shifted in another tool), the source files it was drawn on (provenance), and its
//! segments, each bound to a label class.
//!
//! Owns [`SegmentationHeader`], [`GridSpec`], [`SourceRef`] and [`Segment`]. Pure values;
//! the project stores them inside encrypted edits (`project::model::Edit`).

use serde::{Deserialize, Serialize};

use crate::imaging::mpr::VolumeGrid;
use crate::imaging::volume::Volume;
use crate::project::Id;

use super::labelmap::{LabelMap, LabelMapError};
use super::schema::{Colour, LabelClass, MAX_NAME_CHARS};
use super::tools::voxel_volume_mm3;

/// A voxel grid as stored (the serialisable twin of [`VolumeGrid`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSpec {
    /// Voxels along i (columns), j (rows), k (slices).
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    /// Unit patient (LPS) direction of +i, +j, +k.
    pub axes: [[f64; 3]; 3],
    /// Centre of voxel (0, 0, 0), LPS mm.
    pub origin_mm: [f64; 3],
}

impl From<&VolumeGrid> for GridSpec {
    fn from(g: &VolumeGrid) -> GridSpec {
        GridSpec {
            dims: g.dims,
            spacing_mm: g.spacing_mm,
            axes: g.axes,
            origin_mm: g.origin_mm,
        }
    }
}

impl GridSpec {
    pub fn to_grid(&self) -> VolumeGrid {
        VolumeGrid {
            dims: self.dims,
            spacing_mm: self.spacing_mm,
            axes: self.axes,
            origin_mm: self.origin_mm,
        }
    }

    /// Volume of one voxel, mL.
    pub fn voxel_ml(&self) -> f64 {
        voxel_volume_mm3(&self.to_grid()) / 1000.0
    }
}

/// One source file of the volume a segmentation was drawn on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub sop_instance_uid: String,
    /// SHA-256 of the file, lowercase hex (empty when it could not be read or hashed).
    pub sha256: String,
}

/// A segmentation's description (its label map is stored as strokes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationHeader {
    pub name: String,
    pub grid: GridSpec,
    /// The source files in slice order of first use (`Volume::sources`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
}

impl SegmentationHeader {
    /// A header for a label map on `grid`, without provenance.
    pub fn new(name: &str, grid: &VolumeGrid) -> SegmentationHeader {
        SegmentationHeader {
            name: name.trim().to_owned(),
            grid: GridSpec::from(grid),
            sources: Vec::new(),
        }
    }

    /// A header for a label map on a loaded volume: its grid and its files' UIDs and hashes.
    pub fn for_volume(name: &str, volume: &Volume, grid: &VolumeGrid) -> SegmentationHeader {
        SegmentationHeader {
            sources: volume
                .sources
                .iter()
                .map(|s| SourceRef {
                    sop_instance_uid: s.sop_instance_uid.clone(),
                    sha256: s.sha256.clone().unwrap_or_default(),
                })
                .collect(),
            ..SegmentationHeader::new(name, grid)
        }
    }

    /// An empty label map of this header's size.
    pub fn new_label_map(&self) -> Result<LabelMap, LabelMapError> {
        LabelMap::new(self.grid.dims)
    }

    /// Checks the name and the grid (a label map of that size can exist; finite geometry).
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return Err("segmentation name is empty or longer than 64 characters".into());
        }
        LabelMap::new(self.grid.dims).map_err(|e| e.to_string())?;
        let g = &self.grid;
        let finite = g
            .spacing_mm
            .iter()
            .chain(g.axes.iter().flatten())
            .chain(g.origin_mm.iter())
            .all(|v| v.is_finite());
        if !finite || g.spacing_mm.iter().any(|s| *s <= 0.0) || self.grid.voxel_ml() <= 0.0 {
            return Err("segmentation grid has degenerate geometry".into());
        }
        Ok(())
    }
}

/// One segment: a label-map index's meaning. Keeps a copy of its label class (name and
/// codes as they were when bound) so exports never depend on the schema staying put.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Shown name, e.g. "Lesion 1".
    pub name: String,
    pub colour: Colour,
    /// The schema class it was bound to, when it came from the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<Id>,
    pub class: LabelClass,
}

impl Segment {
    /// A segment bound to a class, coloured like it.
    pub fn of_class(name: &str, class_id: Option<Id>, class: &LabelClass) -> Segment {
        Segment {
            name: name.trim().to_owned(),
            colour: class.colour,
            class_id,
            class: class.clone(),
        }
    }

    /// False for a free-text (uncoded) class; exports and reports flag those.
    pub fn is_coded(&self) -> bool {
        self.class.is_coded()
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return Err("segment name is empty or longer than 64 characters".into());
        }
        self.class.validate().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::schema::default_classes;

    #[test]
    fn headers_round_trip_exactly_and_validate() {
        let grid = VolumeGrid::from_slices(
            512,
            512,
            [1.0, 0.0, 0.0, 0.0, 0.966, -0.259],
            [0.703125, 0.703125],
            &[[-179.6, -200.1, 100.0], [-179.6, -199.777, 98.75]],
        );
        let h = SegmentationHeader::new("Liver (AB)", &grid);
        let json = serde_json::to_string(&h).unwrap();
        let back: SegmentationHeader = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.grid.to_grid(), grid, "bit-exact geometry");
        assert!(h.validate().is_ok());
        let mut bad = h.clone();
        bad.grid.dims = [0, 512, 2];
        assert!(bad.validate().is_err());
        let mut bad = h;
        bad.grid.spacing_mm[2] = f64::NAN;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn segments_copy_their_class() {
        let classes = default_classes().unwrap();
        let s = Segment::of_class("Lesion 1", None, &classes[0]);
        assert!(s.is_coded() && s.validate().is_ok());
        assert_eq!(s.colour, classes[0].colour);
    }
}
