//! Stack geometry: slice ordering, spacing, typed geometry warnings and the affine
//! `world_from_voxel` of every stack.
//!
//! Owns the pure math (no DICOM parsing here): [`Vec3`]/[`Mat4`], splitting a set of
//! slices into stacks that can be safely stacked ([`arrange`]), and the resulting
//! [`StackGeometry`]. World space is DICOM patient space, LPS, millimetres. Voxel
//! index space is `(i, j, k)` = (column, row, slice), with voxel centres at integer
//! indices.
//!
//! Conventions chosen here:
//! - Slices are sorted by ImagePositionPatient projected on the slice normal
//!   `row_cosine × column_cosine`, ascending, so `k` grows along the normal and the
//!   voxel frame is right-handed (for a standard axial stack, `k = 0` is the most
//!   inferior slice). Without positions they fall back to InstanceNumber order.
//! - Slice spacing comes from positions, never from SliceThickness (that is only a
//!   last resort for single-slice stacks or stacks without positions, and warned).
//! - Gantry tilt is not resampled away: the `k` column of `world_from_voxel` is the
//!   real step between consecutive slice origins, so the affine is sheared and maps
//!   every voxel of a tilted acquisition to its true position. Its inverse is
//!   [`StackGeometry::voxel_from_world`].
//! - With gaps or non-uniform spacing no single affine is exact: `world_from_voxel`
//!   then interpolates linearly from the first to the last slice (both exact) and
//!   [`StackGeometry::slice_origins_mm`] keeps every slice's true position.

mod arrange;

use std::ops::{Add, Mul, Neg, Sub};

use serde::Serialize;

pub use arrange::{SliceInput, StackHints, StackLayout, arrange};

/// A 3-vector in patient space (LPS, mm) or a direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Vec3(pub [f64; 3]);

impl Vec3 {
    pub const ZERO: Vec3 = Vec3([0.0, 0.0, 0.0]);
    pub const X: Vec3 = Vec3([1.0, 0.0, 0.0]);
    pub const Y: Vec3 = Vec3([0.0, 1.0, 0.0]);
    pub const Z: Vec3 = Vec3([0.0, 0.0, 1.0]);

    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Vec3([x, y, z])
    }

    pub fn x(self) -> f64 {
        self.0[0]
    }

    pub fn y(self) -> f64 {
        self.0[1]
    }

    pub fn z(self) -> f64 {
        self.0[2]
    }

    pub fn dot(self, other: Vec3) -> f64 {
        self.x() * other.x() + self.y() * other.y() + self.z() * other.z()
    }

    pub fn cross(self, other: Vec3) -> Vec3 {
        Vec3::new(
            self.y() * other.z() - self.z() * other.y(),
            self.z() * other.x() - self.x() * other.z(),
            self.x() * other.y() - self.y() * other.x(),
        )
    }

    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// This vector scaled to length 1, or `None` when it is (nearly) zero or not finite.
    pub fn normalized(self) -> Option<Vec3> {
        let n = self.norm();
        (n.is_finite() && n > 1e-9).then(|| self * (1.0 / n))
    }

    pub fn is_finite(self) -> bool {
        self.0.iter().all(|v| v.is_finite())
    }

    /// Largest absolute difference of the components.
    pub fn max_abs_diff(self, other: Vec3) -> f64 {
        let d = self - other;
        d.x().abs().max(d.y().abs()).max(d.z().abs())
    }
}

impl Add for Vec3 {
    type Output = Vec3;
    fn add(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x() + o.x(), self.y() + o.y(), self.z() + o.z())
    }
}

impl Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x() - o.x(), self.y() - o.y(), self.z() - o.z())
    }
}

impl Neg for Vec3 {
    type Output = Vec3;
    fn neg(self) -> Vec3 {
        Vec3::new(-self.x(), -self.y(), -self.z())
    }
}

impl Mul<f64> for Vec3 {
    type Output = Vec3;
    fn mul(self, s: f64) -> Vec3 {
        Vec3::new(self.x() * s, self.y() * s, self.z() * s)
    }
}

/// A 4×4 homogeneous transform, row-major: `m[row][column]`, points are columns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Mat4(pub [[f64; 4]; 4]);

impl Mat4 {
    pub const IDENTITY: Mat4 = Mat4([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);

    /// The affine whose linear part has columns `a`, `b`, `c` and translation `t`.
    pub fn from_columns(a: Vec3, b: Vec3, c: Vec3, t: Vec3) -> Mat4 {
        Mat4([
            [a.x(), b.x(), c.x(), t.x()],
            [a.y(), b.y(), c.y(), t.y()],
            [a.z(), b.z(), c.z(), t.z()],
            [0.0, 0.0, 0.0, 1.0],
        ])
    }

    /// Column `c` (0..=3) of the upper 3 rows.
    pub fn column(&self, c: usize) -> Vec3 {
        let m = &self.0;
        let c = c.min(3);
        Vec3::new(m[0][c], m[1][c], m[2][c])
    }

    /// Applies the transform to a point (w = 1).
    pub fn transform_point(&self, p: Vec3) -> Vec3 {
        let m = &self.0;
        let row = |r: usize| m[r][0] * p.x() + m[r][1] * p.y() + m[r][2] * p.z() + m[r][3];
        Vec3::new(row(0), row(1), row(2))
    }

    /// Applies the linear part to a direction (w = 0).
    pub fn transform_vector(&self, v: Vec3) -> Vec3 {
        let m = &self.0;
        let row = |r: usize| m[r][0] * v.x() + m[r][1] * v.y() + m[r][2] * v.z();
        Vec3::new(row(0), row(1), row(2))
    }

    /// `self × other` (apply `other` first).
    pub fn mul_mat(&self, other: &Mat4) -> Mat4 {
        let mut out = [[0.0; 4]; 4];
        for (r, out_row) in out.iter_mut().enumerate() {
            for (c, cell) in out_row.iter_mut().enumerate() {
                *cell = (0..4).map(|n| self.0[r][n] * other.0[n][c]).sum();
            }
        }
        Mat4(out)
    }

    /// Determinant of the upper-left 3×3 block.
    pub fn det3(&self) -> f64 {
        let a = self.column(0);
        let b = self.column(1);
        let c = self.column(2);
        a.dot(b.cross(c))
    }

    /// Inverse of an affine transform (last row `0 0 0 1`), or `None` when singular.
    pub fn inverse_affine(&self) -> Option<Mat4> {
        let a = self.column(0);
        let b = self.column(1);
        let c = self.column(2);
        let t = self.column(3);
        let det = a.dot(b.cross(c));
        let scale = a.norm() * b.norm() * c.norm();
        if !det.is_finite() || scale <= 0.0 || det.abs() <= 1e-12 * scale {
            return None;
        }
        // Rows of the inverse of [a b c] are the reciprocal basis vectors.
        let r0 = b.cross(c) * (1.0 / det);
        let r1 = c.cross(a) * (1.0 / det);
        let r2 = a.cross(b) * (1.0 / det);
        Some(Mat4([
            [r0.x(), r0.y(), r0.z(), -r0.dot(t)],
            [r1.x(), r1.y(), r1.z(), -r1.dot(t)],
            [r2.x(), r2.y(), r2.z(), -r2.dot(t)],
            [0.0, 0.0, 0.0, 1.0],
        ]))
    }
}

/// ImageOrientationPatient as two unit vectors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Orientation {
    /// Direction of increasing column index `i` (along a row).
    pub row_cosine: Vec3,
    /// Direction of increasing row index `j` (down a column).
    pub column_cosine: Vec3,
}

impl Orientation {
    /// Standard axial: rows along +x (patient left), columns along +y (posterior).
    pub const AXIAL: Orientation = Orientation {
        row_cosine: Vec3::X,
        column_cosine: Vec3::Y,
    };

    /// From the six ImageOrientationPatient values; both cosines are normalised.
    /// `None` when either is degenerate or not finite.
    pub fn from_dicom(values: [f64; 6]) -> Option<Orientation> {
        let [a, b, c, d, e, f] = values;
        let row_cosine = Vec3::new(a, b, c).normalized()?;
        let column_cosine = Vec3::new(d, e, f).normalized()?;
        // Parallel cosines cannot span a plane.
        row_cosine.cross(column_cosine).normalized()?;
        Some(Orientation {
            row_cosine,
            column_cosine,
        })
    }

    /// The slice normal `row × column` (unit length for orthonormal cosines).
    pub fn normal(&self) -> Vec3 {
        let n = self.row_cosine.cross(self.column_cosine);
        n.normalized().unwrap_or(Vec3::Z)
    }

    /// Whether both cosines agree within `tolerance` per component.
    pub fn approx_eq(&self, other: &Orientation, tolerance: f64) -> bool {
        self.row_cosine.max_abs_diff(other.row_cosine) <= tolerance
            && self.column_cosine.max_abs_diff(other.column_cosine) <= tolerance
    }

    /// The plane this orientation is closest to.
    pub fn plane(&self) -> Plane {
        let n = self.normal();
        let (ax, ay, az) = (n.x().abs(), n.y().abs(), n.z().abs());
        let max = ax.max(ay).max(az);
        if max < OBLIQUE_BELOW {
            Plane::Oblique
        } else if az >= ax && az >= ay {
            Plane::Axial
        } else if ay >= ax {
            Plane::Coronal
        } else {
            Plane::Sagittal
        }
    }
}

/// A slice normal whose largest component is below this (about 18°) is oblique.
const OBLIQUE_BELOW: f64 = 0.95;

/// Anatomical plane of a stack, from its slice normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plane {
    Axial,
    Coronal,
    Sagittal,
    Oblique,
}

/// Where the slice spacing of a stack came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpacingSource {
    /// Measured from ImagePositionPatient of consecutive slices.
    Positions,
    /// SpacingBetweenSlices (0018,0088).
    SpacingBetweenSlices,
    /// SliceThickness (0018,0050).
    SliceThickness,
    /// Nothing usable: 1 mm assumed.
    Assumed,
}

/// How slices were ordered when positions were unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortFallback {
    InstanceNumber,
    /// Neither positions nor instance numbers: the order files were found in.
    InputOrder,
}

/// Why one series was split into several stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitReason {
    Size,
    Orientation,
    PixelSpacing,
    PixelFormat,
}

/// A geometry problem found while stacking; the stack still opens.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GeometryWarning {
    /// Slices seem to be missing between `after_slice` and `after_slice + 1`.
    Gap {
        after_slice: u32,
        gap_mm: f64,
        expected_mm: f64,
        missing_slices: u32,
    },
    /// Consecutive slice distances differ (not a whole missing slice).
    NonUniformSpacing { min_mm: f64, max_mm: f64 },
    /// The stack axis is not perpendicular to the slices (affine is sheared).
    GantryTilt {
        measured_deg: f64,
        header_deg: Option<f64>,
    },
    /// Several slices share a position; they were split into `layers` stacks.
    DuplicatePositions { slices: u32, layers: u32 },
    /// The series held slices that cannot share one volume; split into `stacks`.
    SeriesSplit {
        reasons: Vec<SplitReason>,
        stacks: u32,
    },
    /// Positions or orientation missing or inconsistent: sorted by a fallback.
    PositionsMissing { fallback: SortFallback },
    /// Slice spacing not measurable from positions.
    SliceSpacingAssumed {
        spacing_mm: f64,
        source: SpacingSource,
    },
    /// PixelSpacing missing or invalid: 1 mm assumed.
    PixelSpacingAssumed,
    /// ImageOrientationPatient missing or invalid: axial assumed.
    OrientationAssumed,
    /// Row and column cosines are not perpendicular.
    NonOrthogonalOrientation { angle_deg: f64 },
}

impl std::fmt::Display for GeometryWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GeometryWarning::Gap {
                after_slice,
                gap_mm,
                expected_mm,
                missing_slices,
            } => write!(
                f,
                "gap after slice {after_slice}: {gap_mm:.3} mm instead of {expected_mm:.3} mm \
                 (about {missing_slices} missing)"
            ),
            GeometryWarning::NonUniformSpacing { min_mm, max_mm } => {
                write!(
                    f,
                    "non-uniform slice spacing: {min_mm:.3} to {max_mm:.3} mm"
                )
            }
            GeometryWarning::GantryTilt {
                measured_deg,
                header_deg,
            } => match header_deg {
                Some(h) => write!(
                    f,
                    "gantry tilt {measured_deg:.2}° (header says {h:.2}°): sheared geometry"
                ),
                None => write!(f, "gantry tilt {measured_deg:.2}°: sheared geometry"),
            },
            GeometryWarning::DuplicatePositions { slices, layers } => write!(
                f,
                "{slices} slices share a position: split into {layers} stacks"
            ),
            GeometryWarning::SeriesSplit { reasons, stacks } => {
                write!(f, "series split into {stacks} stacks (mixed")?;
                for (n, r) in reasons.iter().enumerate() {
                    let name = match r {
                        SplitReason::Size => "size",
                        SplitReason::Orientation => "orientation",
                        SplitReason::PixelSpacing => "pixel spacing",
                        SplitReason::PixelFormat => "pixel format",
                    };
                    write!(f, "{}{name}", if n == 0 { " " } else { ", " })?;
                }
                write!(f, ")")
            }
            GeometryWarning::PositionsMissing { fallback } => match fallback {
                SortFallback::InstanceNumber => {
                    write!(f, "slice positions missing: sorted by instance number")
                }
                SortFallback::InputOrder => {
                    write!(
                        f,
                        "slice positions and instance numbers missing: file order"
                    )
                }
            },
            GeometryWarning::SliceSpacingAssumed { spacing_mm, source } => {
                let from = match source {
                    SpacingSource::Positions => "positions",
                    SpacingSource::SpacingBetweenSlices => "SpacingBetweenSlices",
                    SpacingSource::SliceThickness => "SliceThickness",
                    SpacingSource::Assumed => "nothing (assumed)",
                };
                write!(f, "slice spacing {spacing_mm:.3} mm taken from {from}")
            }
            GeometryWarning::PixelSpacingAssumed => {
                write!(f, "pixel spacing missing: 1 mm assumed")
            }
            GeometryWarning::OrientationAssumed => {
                write!(f, "image orientation missing: axial assumed")
            }
            GeometryWarning::NonOrthogonalOrientation { angle_deg } => write!(
                f,
                "row and column directions are {angle_deg:.2}° apart, not 90°"
            ),
        }
    }
}

/// The geometry of one stack of `slices` images of `rows` × `columns`.
#[derive(Clone, Debug, PartialEq)]
pub struct StackGeometry {
    pub columns: u32,
    pub rows: u32,
    pub slices: u32,
    pub orientation: Orientation,
    /// PixelSpacing: between rows (along `column_cosine`), between columns, mm.
    pub pixel_spacing_mm: [f64; 2],
    /// Distance between consecutive slice planes, measured along the normal.
    pub slice_spacing_mm: f64,
    pub spacing_source: SpacingSource,
    /// Voxel index `(i, j, k)` → patient LPS mm (centre of the voxel).
    pub world_from_voxel: Mat4,
    /// ImagePositionPatient of every slice in `k` order (exact, unlike the affine
    /// when spacing is not uniform).
    pub slice_origins_mm: Vec<Vec3>,
}

impl StackGeometry {
    /// Patient LPS mm → voxel index. `None` only for a degenerate affine.
    pub fn voxel_from_world(&self) -> Option<Mat4> {
        self.world_from_voxel.inverse_affine()
    }

    /// Voxel size along `(i, j, k)` in mm (k: distance between slice planes).
    pub fn spacing_mm(&self) -> [f64; 3] {
        [
            self.pixel_spacing_mm[1],
            self.pixel_spacing_mm[0],
            self.slice_spacing_mm,
        ]
    }

    /// A serialisable digest of this geometry.
    pub fn summary(&self) -> GeometrySummary {
        let last = [
            f64::from(self.columns.saturating_sub(1)),
            f64::from(self.rows.saturating_sub(1)),
            f64::from(self.slices.saturating_sub(1)),
        ];
        GeometrySummary {
            plane: self.orientation.plane(),
            spacing_mm: self.spacing_mm(),
            spacing_source: self.spacing_source,
            origin_mm: self.world_from_voxel.column(3),
            far_corner_mm: self
                .world_from_voxel
                .transform_point(Vec3::new(last[0], last[1], last[2])),
            normal: self.orientation.normal(),
            world_from_voxel: self.world_from_voxel,
        }
    }
}

/// Serialisable digest of a [`StackGeometry`] (for `tessera info --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GeometrySummary {
    pub plane: Plane,
    /// Voxel size along `(i, j, k)`, mm.
    pub spacing_mm: [f64; 3],
    pub spacing_source: SpacingSource,
    /// Centre of voxel (0, 0, 0), LPS mm.
    pub origin_mm: Vec3,
    /// Centre of the last voxel, LPS mm.
    pub far_corner_mm: Vec3,
    pub normal: Vec3,
    pub world_from_voxel: Mat4,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Vec3, b: Vec3) -> bool {
        a.max_abs_diff(b) < 1e-9
    }

    #[test]
    fn cross_is_right_handed() {
        assert!(close(Vec3::X.cross(Vec3::Y), Vec3::Z));
        assert!(close(Vec3::Y.cross(Vec3::Z), Vec3::X));
    }

    #[test]
    fn affine_inverse_round_trips_sheared() {
        let m = Mat4::from_columns(
            Vec3::new(0.7, 0.0, 0.0),
            Vec3::new(0.0, 0.7, 0.0),
            Vec3::new(0.0, 0.5, 2.0),
            Vec3::new(-10.0, 20.0, 30.0),
        );
        let inv = m.inverse_affine().unwrap_or(Mat4::IDENTITY);
        let p = Vec3::new(3.0, 4.0, 5.0);
        assert!(close(inv.transform_point(m.transform_point(p)), p));
        assert!(close(m.mul_mat(&inv).column(3), Vec3::ZERO));
    }

    #[test]
    fn singular_affine_has_no_inverse() {
        let m = Mat4::from_columns(Vec3::X, Vec3::X, Vec3::Z, Vec3::ZERO);
        assert!(m.inverse_affine().is_none());
    }

    #[test]
    fn orientation_planes() {
        assert_eq!(Orientation::AXIAL.plane(), Plane::Axial);
        let sag = Orientation::from_dicom([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        assert_eq!(sag.map(|o| o.plane()), Some(Plane::Sagittal));
        let cor = Orientation::from_dicom([1.0, 0.0, 0.0, 0.0, 0.0, -1.0]);
        assert_eq!(cor.map(|o| o.plane()), Some(Plane::Coronal));
        let c = 45f64.to_radians().cos();
        let obl = Orientation::from_dicom([1.0, 0.0, 0.0, 0.0, c, c]);
        assert_eq!(obl.map(|o| o.plane()), Some(Plane::Oblique));
        assert!(Orientation::from_dicom([1.0, 0.0, 0.0, 2.0, 0.0, 0.0]).is_none());
        assert!(Orientation::from_dicom([0.0; 6]).is_none());
    }
}
