//! Multiplanar reformatting geometry: how a loaded volume is cut into axial, coronal
//! and sagittal planes shown in the radiological convention, and the mapping between
//! a point of a shown plane and the volume's voxels.
//!
//! Owns [`VolumeGrid`] (voxel → patient mm), [`Plane`] and [`PlaneAxes`] (which voxel
//! axis runs left→right, top→bottom and through the screen for each plane), and
//! [`PlaneView`] (one plane at one depth, mapping normalised image coordinates to
//! voxels and back). Headless: the GPU shader and the CPU readout both use these
//! mappings, so what is drawn and what is measured agree.
//!
//! Reformats follow the voxel axes (no oblique resampling): each patient direction is
//! assigned the voxel axis closest to it, so an oblique acquisition is shown in its
//! nearest orthogonal planes, and the orientation letters tell the true directions.

/// A patient plane, shown in the radiological convention:
/// axial (patient right on screen left, anterior up; scrolls superior → inferior),
/// coronal (right on left, superior up; anterior → posterior),
/// sagittal (anterior on left, superior up; right → left).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plane {
    Axial,
    Coronal,
    Sagittal,
}

impl Plane {
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "Axial",
            Plane::Coronal => "Coronal",
            Plane::Sagittal => "Sagittal",
        }
    }

    /// Screen right, screen down and depth (increasing slice number) as patient
    /// directions: (patient axis 0 = x/L, 1 = y/P, 2 = z/S; positive?).
    fn directions(self) -> [(usize, bool); 3] {
        match self {
            Plane::Axial => [(0, true), (1, true), (2, false)],
            Plane::Coronal => [(0, true), (2, false), (1, true)],
            Plane::Sagittal => [(1, true), (2, false), (0, true)],
        }
    }
}

/// One voxel axis and whether it runs against the screen/depth direction it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisDir {
    /// 0 = i (columns), 1 = j (rows), 2 = k (slices).
    pub axis: usize,
    pub flip: bool,
}

/// Which voxel axis each screen direction of a plane follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneAxes {
    pub right: AxisDir,
    pub down: AxisDir,
    pub depth: AxisDir,
}

/// A regular voxel grid in patient space (LPS, mm).
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeGrid {
    /// Voxels along i (columns), j (rows), k (slices).
    pub dims: [usize; 3],
    /// Voxel size along i, j, k in mm.
    pub spacing_mm: [f64; 3],
    /// Unit patient direction of +i, +j, +k.
    pub axes: [[f64; 3]; 3],
    /// Centre of voxel (0, 0, 0), LPS mm.
    pub origin_mm: [f64; 3],
}

impl VolumeGrid {
    /// The grid of a slice stack: `orientation` is ImageOrientationPatient (row then
    /// column cosines), `pixel_spacing_mm` PixelSpacing (between rows, between
    /// columns), `positions_mm` the ImagePositionPatient of each slice in k order.
    /// A single slice gets a 1 mm thick k axis along the normal.
    pub fn from_slices(
        columns: usize,
        rows: usize,
        orientation: [f64; 6],
        pixel_spacing_mm: [f64; 2],
        positions_mm: &[[f64; 3]],
    ) -> VolumeGrid {
        let row = normalise([orientation[0], orientation[1], orientation[2]]);
        let column = normalise([orientation[3], orientation[4], orientation[5]]);
        let normal = normalise(cross(row, column));
        let first = positions_mm.first().copied().unwrap_or([0.0; 3]);
        let (k_axis, k_spacing) = match positions_mm.last() {
            Some(last) if positions_mm.len() > 1 => {
                let span = sub(*last, first);
                let length = norm(span);
                if length > 1e-6 {
                    (
                        scale(span, 1.0 / length),
                        length / (positions_mm.len() - 1) as f64,
                    )
                } else {
                    (normal, 1.0)
                }
            }
            _ => (normal, 1.0),
        };
        let positive = |v: f64| if v.is_finite() && v > 0.0 { v } else { 1.0 };
        VolumeGrid {
            dims: [columns, rows, positions_mm.len().max(1)],
            spacing_mm: [
                positive(pixel_spacing_mm[1]),
                positive(pixel_spacing_mm[0]),
                positive(k_spacing),
            ],
            axes: [row, column, k_axis],
            origin_mm: first,
        }
    }

    /// Patient position (LPS mm) of a continuous voxel coordinate.
    pub fn world(&self, voxel: [f64; 3]) -> [f64; 3] {
        let mut p = self.origin_mm;
        for (axis, v) in voxel.iter().enumerate() {
            for (c, pc) in p.iter_mut().enumerate() {
                *pc += self.axes[axis][c] * self.spacing_mm[axis] * v;
            }
        }
        p
    }

    /// Which voxel axis serves each patient axis (x, y, z): each voxel axis goes to
    /// the patient axis it is most aligned with, ties and obliques resolved greedily
    /// by the largest cosine first, so the result is always a permutation.
    fn voxel_axis_of_patient_axis(&self) -> [usize; 3] {
        let mut pairs: Vec<(f64, usize, usize)> = (0..3)
            .flat_map(|voxel| (0..3).map(move |patient| (voxel, patient)))
            .map(|(voxel, patient)| (self.axes[voxel][patient].abs(), voxel, patient))
            .collect();
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut of_patient = [usize::MAX; 3];
        let mut used = [false; 3];
        for (_, voxel, patient) in pairs {
            if of_patient[patient] == usize::MAX && !used[voxel] {
                of_patient[patient] = voxel;
                used[voxel] = true;
            }
        }
        of_patient
    }

    /// The voxel axes a plane follows.
    pub fn plane_axes(&self, plane: Plane) -> PlaneAxes {
        let of_patient = self.voxel_axis_of_patient_axis();
        let dir = |(patient, positive): (usize, bool)| {
            let axis = of_patient[patient];
            let along = self.axes[axis][patient] >= 0.0;
            AxisDir {
                axis,
                flip: along != positive,
            }
        };
        let [right, down, depth] = plane.directions();
        PlaneAxes {
            right: dir(right),
            down: dir(down),
            depth: dir(depth),
        }
    }

    /// The plane the slices were acquired in (the one whose depth is k).
    pub fn acquired_plane(&self) -> Plane {
        Plane::ALL
            .into_iter()
            .find(|p| self.plane_axes(*p).depth.axis == 2)
            .unwrap_or(Plane::Axial)
    }

    /// Number of slices a plane scrolls through.
    pub fn depth_count(&self, plane: Plane) -> usize {
        self.dims[self.plane_axes(plane).depth.axis]
    }

    /// The view of `plane` through voxel `cursor` (its depth is the cursor's).
    pub fn view(&self, plane: Plane, cursor: [usize; 3]) -> PlaneView {
        let axes = self.plane_axes(plane);
        let n = self.dims[axes.depth.axis];
        let c = cursor[axes.depth.axis].min(n.saturating_sub(1));
        let depth = if axes.depth.flip { n - 1 - c } else { c };
        PlaneView {
            plane,
            axes,
            dims: self.dims,
            spacing_mm: self.spacing_mm,
            depth,
        }
    }

    /// The unit patient direction a voxel axis runs along, signed by `flip`.
    pub fn direction(&self, dir: AxisDir) -> [f64; 3] {
        let v = self.axes[dir.axis];
        if dir.flip { scale(v, -1.0) } else { v }
    }

    /// The voxel nearest to a continuous coordinate, inside the grid.
    pub fn clamp_voxel(&self, v: [f64; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| {
            let max = self.dims[a].saturating_sub(1) as f64;
            v[a].round().clamp(0.0, max) as usize
        })
    }
}

/// One plane at one depth: maps normalised image coordinates (`uv`, 0..1 across the
/// shown image, left→right and top→bottom) to continuous voxel coordinates, whose
/// integer values are voxel centres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneView {
    pub plane: Plane,
    pub axes: PlaneAxes,
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    /// 0-based slice number in this plane's scroll order.
    pub depth: usize,
}

impl PlaneView {
    /// Voxels across (right) and down the shown image.
    pub fn size_voxels(&self) -> [usize; 2] {
        [
            self.dims[self.axes.right.axis],
            self.dims[self.axes.down.axis],
        ]
    }

    /// Physical size of the shown image (width, height) in mm.
    pub fn size_mm(&self) -> [f64; 2] {
        let [w, h] = self.size_voxels();
        [
            w as f64 * self.spacing_mm[self.axes.right.axis],
            h as f64 * self.spacing_mm[self.axes.down.axis],
        ]
    }

    /// Number of slices in this plane.
    pub fn depth_count(&self) -> usize {
        self.dims[self.axes.depth.axis]
    }

    /// Continuous voxel coordinate of an image point.
    pub fn voxel_at(&self, uv: [f64; 2]) -> [f64; 3] {
        let mut v = [0.0; 3];
        let along = |dir: AxisDir, n: usize, t: f64| {
            let x = t * n as f64 - 0.5;
            if dir.flip { n as f64 - 1.0 - x } else { x }
        };
        let [w, h] = self.size_voxels();
        v[self.axes.right.axis] = along(self.axes.right, w, uv[0]);
        v[self.axes.down.axis] = along(self.axes.down, h, uv[1]);
        let n = self.depth_count();
        v[self.axes.depth.axis] = if self.axes.depth.flip {
            (n - 1 - self.depth.min(n - 1)) as f64
        } else {
            self.depth as f64
        };
        v
    }

    /// Image point of a continuous voxel coordinate (its depth is ignored).
    pub fn uv_of(&self, voxel: [f64; 3]) -> [f64; 2] {
        let back = |dir: AxisDir, n: usize| {
            let x = voxel[dir.axis];
            let x = if dir.flip { n as f64 - 1.0 - x } else { x };
            (x + 0.5) / n as f64
        };
        let [w, h] = self.size_voxels();
        [back(self.axes.right, w), back(self.axes.down, h)]
    }

    /// The voxel under an image point, if the point is on the image.
    pub fn voxel_index_at(&self, uv: [f64; 2]) -> Option<[usize; 3]> {
        if !(0.0..1.0).contains(&uv[0]) || !(0.0..1.0).contains(&uv[1]) {
            return None;
        }
        let v = self.voxel_at(uv);
        let mut out = [0usize; 3];
        for a in 0..3 {
            let max = self.dims[a].checked_sub(1)?;
            out[a] = (v[a].round().max(0.0) as usize).min(max);
        }
        Some(out)
    }
}

/// Patient direction letters of an LPS direction, strongest component first
/// ("L", "AS", …); components under 0.25 are left out.
pub fn direction_letters(d: [f64; 3]) -> String {
    let mut axes = [0, 1, 2];
    axes.sort_by(|a, b| d[*b].abs().total_cmp(&d[*a].abs()));
    axes.iter()
        .filter(|a| d[**a].abs() > 0.25)
        .map(|a| match (a, d[*a] > 0.0) {
            (0, true) => 'L',
            (0, false) => 'R',
            (1, true) => 'P',
            (1, false) => 'A',
            (_, true) => 'S',
            (_, false) => 'I',
        })
        .collect()
}

/// A round scale-bar length (1, 2 or 5 × 10ⁿ mm) no longer than `max_mm`.
pub fn scale_bar_mm(max_mm: f64) -> Option<f64> {
    if !(max_mm.is_finite() && max_mm > 0.0) {
        return None;
    }
    let decade = 10f64.powf(max_mm.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|len| *len <= max_mm)
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    a.map(|v| v * s)
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

fn normalise(a: [f64; 3]) -> [f64; 3] {
    let n = norm(a);
    if n > 1e-12 { scale(a, 1.0 / n) } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standard axial CT in display order: slice 0 superior, z decreasing.
    fn axial() -> VolumeGrid {
        let positions: Vec<[f64; 3]> = (0..40)
            .map(|k| [-100.0, -120.0, 50.0 - 2.5 * k as f64])
            .collect();
        VolumeGrid::from_slices(
            64,
            48,
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [0.5, 0.7],
            &positions,
        )
    }

    /// A sagittal MR in display order: slice 0 rightmost, x increasing.
    fn sagittal() -> VolumeGrid {
        let positions: Vec<[f64; 3]> = (0..24)
            .map(|k| [-60.0 + 5.0 * k as f64, -100.0, 100.0])
            .collect();
        VolumeGrid::from_slices(
            32,
            30,
            [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
            [1.0, 1.0],
            &positions,
        )
    }

    #[test]
    fn axial_ct_planes_follow_the_radiological_convention() {
        let g = axial();
        assert_eq!(g.spacing_mm, [0.7, 0.5, 2.5]);
        assert_eq!(g.acquired_plane(), Plane::Axial);
        let a = g.plane_axes(Plane::Axial);
        assert_eq!(
            (a.right, a.down, a.depth),
            (
                AxisDir {
                    axis: 0,
                    flip: false
                },
                AxisDir {
                    axis: 1,
                    flip: false
                },
                AxisDir {
                    axis: 2,
                    flip: false
                }
            )
        );
        // Coronal: right = +x (i), down = inferior = +k (display order is superior first).
        let c = g.plane_axes(Plane::Coronal);
        assert_eq!((c.right.axis, c.right.flip), (0, false));
        assert_eq!((c.down.axis, c.down.flip), (2, false));
        assert_eq!((c.depth.axis, c.depth.flip), (1, false));
        // Sagittal: right = posterior = +j, down = +k, depth right→left = +i.
        let s = g.plane_axes(Plane::Sagittal);
        assert_eq!((s.right.axis, s.down.axis, s.depth.axis), (1, 2, 0));
        assert_eq!(g.depth_count(Plane::Coronal), 48);
        // Physical aspect: the coronal image is 64×0.7 mm wide and 40×2.5 mm tall.
        let view = g.view(Plane::Coronal, [0, 10, 0]);
        assert_eq!(view.size_mm(), [64.0 * 0.7, 100.0]);
    }

    #[test]
    fn sagittal_acquisition_is_recognised_and_reformatted() {
        let g = sagittal();
        assert_eq!(g.acquired_plane(), Plane::Sagittal);
        let s = g.plane_axes(Plane::Sagittal);
        assert_eq!((s.right.axis, s.right.flip), (0, false)); // rows run posterior
        assert_eq!((s.down.axis, s.down.flip), (1, false)); // columns run inferior
        // Axial of a sagittal stack: screen right = patient left = +k; down = posterior = +i;
        // depth superior→inferior = +j.
        let a = g.plane_axes(Plane::Axial);
        assert_eq!((a.right.axis, a.right.flip), (2, false));
        assert_eq!((a.down.axis, a.down.flip), (0, false));
        assert_eq!((a.depth.axis, a.depth.flip), (1, false));
    }

    #[test]
    fn flipped_axes_are_mirrored_back() {
        // Rows running towards the patient's right, slices stored inferior first.
        let positions: Vec<[f64; 3]> = (0..10).map(|k| [0.0, 0.0, k as f64]).collect();
        let g = VolumeGrid::from_slices(
            8,
            8,
            [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [1.0, 1.0],
            &positions,
        );
        let a = g.plane_axes(Plane::Axial);
        assert!(a.right.flip && !a.down.flip && a.depth.flip);
        // Slice 1 of the axial view is the most superior plane (k = 9).
        let view = g.view(Plane::Axial, [0, 0, 9]);
        assert_eq!(view.depth, 0);
        assert_eq!(view.voxel_at([0.5 / 8.0, 0.5 / 8.0]), [7.0, 0.0, 9.0]);
        // Screen-left is patient right (x = -7 mm, the right-most column).
        assert_eq!(g.world(view.voxel_at([0.5 / 8.0, 0.5 / 8.0]))[0], -7.0);
    }

    #[test]
    fn image_points_and_voxels_round_trip() {
        let g = axial();
        for plane in Plane::ALL {
            let view = g.view(plane, [10, 20, 30]);
            for uv in [[0.1, 0.2], [0.5, 0.5], [0.93, 0.07]] {
                let back = view.uv_of(view.voxel_at(uv));
                assert!((back[0] - uv[0]).abs() < 1e-12 && (back[1] - uv[1]).abs() < 1e-12);
            }
            // The cursor voxel lies on its own plane.
            let centre = view.uv_of([10.0, 20.0, 30.0]);
            assert_eq!(view.voxel_index_at(centre), Some([10, 20, 30]));
        }
        assert_eq!(
            g.view(Plane::Axial, [0, 0, 0]).voxel_index_at([1.0, 0.5]),
            None
        );
    }

    #[test]
    fn letters_and_scale_bars() {
        assert_eq!(direction_letters([1.0, 0.0, 0.0]), "L");
        assert_eq!(direction_letters([-1.0, 0.0, 0.0]), "R");
        assert_eq!(direction_letters([0.0, 0.0, -1.0]), "I");
        assert_eq!(direction_letters([0.0, -0.8, 0.6]), "AS");
        assert_eq!(scale_bar_mm(73.0), Some(50.0));
        assert_eq!(scale_bar_mm(19.9), Some(10.0));
        assert_eq!(scale_bar_mm(2.0), Some(2.0));
        assert_eq!(scale_bar_mm(0.0), None);
    }
}
