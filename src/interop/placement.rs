//! Where a stored vector annotation lies on its source series, and what it measures
//! there: the one computation the SR, CSV and label-volume exports share.
//!
//! Owns resolving an annotation's image reference (an acquired slice by SOP instance,
//! or an MPR plane by `plane`/`index`, docs/labels-json.md) to a plane of the source
//! grid, mapping its points to voxels and patient coordinates, and its measurements
//! with their DICOM concepts and UCUM units (numbers from [`crate::annotate`]).

use super::nifti::ImageVolume;
use super::{Code, SourceSeries};
use crate::annotate::measure::{PixelSpacing, Point, region_stats};
use crate::annotate::shapes::{self, Measurement};
use crate::imaging::mpr::Plane;
use crate::project::model::{Annotation, ImageRef, PlaneName};

/// An annotation's plane in the source grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The voxel axis along the plane's normal (2: an acquired slice).
    pub depth_axis: usize,
    /// The voxel index along it.
    pub index: usize,
}

/// Why an annotation is left out of an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotPlaced {
    Slide,
    OtherSeries,
    /// The SOP instance is not in the source series (or the plane index is outside).
    NotInSeries,
    NoImage,
}

impl std::fmt::Display for NotPlaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotPlaced::Slide => "drawn on a slide",
            NotPlaced::OtherSeries => "drawn on another series",
            NotPlaced::NotInSeries => "its image is not in the series",
            NotPlaced::NoImage => "no image reference",
        })
    }
}

impl Placement {
    /// Resolves `annotation` on `source`.
    pub fn of(annotation: &Annotation, source: &SourceSeries) -> Result<Placement, NotPlaced> {
        let ImageRef::Dicom {
            series_uid,
            sop_uid,
            frame,
            plane,
            ..
        } = &annotation.body.image
        else {
            return Err(NotPlaced::Slide);
        };
        if *series_uid != source.series_instance_uid {
            return Err(NotPlaced::OtherSeries);
        }
        let placement = match (plane, sop_uid) {
            (Some(p), _) => {
                let plane = match p.plane {
                    PlaneName::Axial => Plane::Axial,
                    PlaneName::Coronal => Plane::Coronal,
                    PlaneName::Sagittal => Plane::Sagittal,
                };
                Placement {
                    depth_axis: source.grid.plane_axes(plane).depth.axis,
                    index: p.index as usize,
                }
            }
            (None, Some(sop)) => Placement {
                depth_axis: 2,
                index: source.slice_of(sop, *frame).ok_or(NotPlaced::NotInSeries)?,
            },
            (None, None) => return Err(NotPlaced::NoImage),
        };
        if placement.index >= source.grid.dims[placement.depth_axis] {
            return Err(NotPlaced::NotInSeries);
        }
        Ok(placement)
    }

    /// The two in-plane voxel axes, ascending (an acquired slice: column, row).
    pub fn axes(self) -> [usize; 2] {
        match self.depth_axis {
            0 => [1, 2],
            1 => [0, 2],
            _ => [0, 1],
        }
    }

    /// Whether the plane is an acquired slice (its points are pixels of one image).
    pub fn is_acquired(self) -> bool {
        self.depth_axis == 2
    }

    /// The continuous voxel coordinate of a plane point.
    pub fn voxel_of(self, p: Point) -> [f64; 3] {
        let [a, b] = self.axes();
        let mut v = [0.0; 3];
        v[a] = p[0];
        v[b] = p[1];
        v[self.depth_axis] = self.index as f64;
        v
    }

    /// The integer voxel of plane pixel `(x, y)`.
    pub fn voxel_index(self, x: usize, y: usize) -> [usize; 3] {
        let [a, b] = self.axes();
        let mut v = [0; 3];
        v[a] = x;
        v[b] = y;
        v[self.depth_axis] = self.index;
        v
    }

    /// Plane size in pixels (along the two in-plane axes).
    pub fn size(self, source: &SourceSeries) -> [usize; 2] {
        let [a, b] = self.axes();
        [source.grid.dims[a], source.grid.dims[b]]
    }

    /// The physical size of one plane unit along each axis.
    pub fn spacing(self, source: &SourceSeries) -> PixelSpacing {
        let [a, b] = self.axes();
        PixelSpacing {
            column_mm: source.grid.spacing_mm[a],
            row_mm: source.grid.spacing_mm[b],
        }
    }

    /// Patient position (LPS mm) of a plane point.
    pub fn world(self, source: &SourceSeries, p: Point) -> [f64; 3] {
        source.grid.world(self.voxel_of(p))
    }
}

/// One measured value, with its DICOM concept where TID 1500 has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// A short name for tables ("length", "area", "mean").
    pub name: &'static str,
    /// The SR concept (NUM concept name); `None`: not reported in SR.
    pub concept: Option<Code>,
    /// The SR derivation modifier (mean, SD, …) of statistics.
    pub derivation: Option<Code>,
    pub value: f64,
    /// UCUM unit.
    pub unit: Code,
    /// For bidirectional axes: the indices of the two points the value was taken
    /// between; for area statistics: all points.
    pub points: Vec<usize>,
}

fn ucum(value: &str, meaning: &str) -> Code {
    Code::new("UCUM", value, meaning)
}

/// What an annotation measures on its plane: length (ruler), long and short axis
/// (bidirectional), area and, given the image, mean/SD/min/max in HU (CT) over the
/// pixels inside (area tools), angle (not in SR).
pub fn measurements(
    annotation: &Annotation,
    placement: Placement,
    source: &SourceSeries,
    image: Option<&ImageVolume>,
) -> Vec<Measured> {
    let body = &annotation.body;
    let spacing = placement.spacing(source);
    let mm = ucum("mm", "millimeter");
    let all: Vec<usize> = (0..body.points.len()).collect();
    let mut out = Vec::new();
    match Measurement::of(body.kind, &body.points, &spacing) {
        Measurement::Length { mm: value } => out.push(Measured {
            name: "length",
            concept: Some(Code::new("SCT", "410668003", "Length")),
            derivation: None,
            value,
            unit: mm,
            points: vec![0, 1],
        }),
        Measurement::Angle { deg } => out.push(Measured {
            name: "angle",
            concept: None,
            derivation: None,
            value: deg,
            unit: ucum("deg", "degree"),
            points: all,
        }),
        Measurement::Bidirectional(b) => {
            let first_is_long = match body.points.as_slice() {
                [p0, p1, p2, p3] => spacing.length_mm(*p0, *p1) >= spacing.length_mm(*p2, *p3),
                _ => true,
            };
            let (long, short) = if first_is_long {
                (vec![0, 1], vec![2, 3])
            } else {
                (vec![2, 3], vec![0, 1])
            };
            out.push(Measured {
                name: "long axis",
                concept: Some(Code::new("SCT", "103339001", "Long Axis")),
                derivation: None,
                value: b.long_mm,
                unit: mm.clone(),
                points: long,
            });
            out.push(Measured {
                name: "short axis",
                concept: Some(Code::new("SCT", "103340004", "Short Axis")),
                derivation: None,
                value: b.short_mm,
                unit: mm,
                points: short,
            });
        }
        Measurement::Area { mm2, .. } => {
            out.push(Measured {
                name: "area",
                concept: Some(Code::new("SCT", "42798000", "Area")),
                derivation: None,
                value: mm2,
                unit: ucum("mm2", "square millimeter"),
                points: all.clone(),
            });
            if let (Some(image), true) = (image, source.modality == "CT")
                && let Some(region) = shapes::region(body.kind, &body.points)
            {
                let [w, h] = placement.size(source);
                let stats = region_stats(&region, w, h, |x, y| {
                    image.value(placement.voxel_index(x, y))
                });
                if let Some(s) = stats {
                    let hu = ucum("[hnsf'U]", "Hounsfield unit");
                    let attenuation = Code::new("DCM", "112031", "Attenuation Coefficient");
                    for (name, value, derivation) in [
                        ("mean", s.mean, Code::new("SCT", "373098007", "Mean")),
                        (
                            "standard deviation",
                            s.sd,
                            Code::new("SCT", "386136009", "Standard Deviation"),
                        ),
                        ("minimum", s.min, Code::new("SCT", "255605001", "Minimum")),
                        ("maximum", s.max, Code::new("SCT", "56851009", "Maximum")),
                    ] {
                        out.push(Measured {
                            name,
                            concept: Some(attenuation.clone()),
                            derivation: Some(derivation),
                            value,
                            unit: hu.clone(),
                            points: all.clone(),
                        });
                    }
                }
            }
        }
        Measurement::None => {}
    }
    out
}
