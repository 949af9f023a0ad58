//! Label-map tools as pure functions: each reads the map (and the volume's intensities
//! when a threshold applies) and returns a [`ChangeSet`]; nothing is modified until the
//! caller applies it (`Stroke::apply`).
//!
//! Owns the brush and eraser dab (3D sphere, or 2D disc on an axial/coronal/sagittal
//! plane; radius in mm through the grid's true metric, so anisotropic voxels and tilted
//! stacks give round brushes), painting constrained to an HU range, polygon/freehand fill
//! on a plane, and flood fill within an HU range (3D, or 2D on a plane). [`HuVolume`]
//! reads modality values (HU for CT) out of a loaded volume: stored value × slope +
//! intercept per slice.

use crate::imaging::discovery::Rescale;
use crate::imaging::mpr::{Plane, VolumeGrid};
use crate::imaging::pixels::Samples;
use crate::imaging::volume::Volume;

use super::labelmap::{ChangeSet, Draft, LabelMap};

/// Why a tool could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("the label map ({map:?}) and the volume grid ({grid:?}) differ in size")]
    GridMismatch { map: [usize; 3], grid: [usize; 3] },
    #[error("the intensities ({values} values, {slices} rescales) do not fit the label map")]
    IntensityMismatch { values: usize, slices: usize },
    #[error("painting within an HU range needs the volume's intensities")]
    NeedsIntensities,
    #[error("the volume has {0} samples per voxel; HU ranges need a grey-scale volume")]
    NotGrey(u16),
    #[error("flood fill grew past {limit} voxels; narrow the HU range")]
    FloodTooLarge { limit: usize },
    #[error("brush radius must be a positive number of mm (got {0})")]
    BadRadius(f64),
    #[error("segment index 0 is the background; segments are 1 to 255")]
    Background,
    #[error("a polygon needs at least 3 points, got {0}")]
    PolygonTooShort(usize),
    #[error("the grid's voxel axes are degenerate (zero or parallel)")]
    DegenerateGrid,
}

/// Modality values (HU for CT) of a grey-scale volume, aligned with its label maps.
#[derive(Clone, Copy)]
pub struct HuVolume<'a> {
    samples: Stored<'a>,
    dims: [usize; 3],
    rescale: &'a [Rescale],
}

/// Where the stored values are: one buffer, or one per slice (the viewer's frames).
#[derive(Clone, Copy)]
enum Stored<'a> {
    Volume(&'a Samples),
    Slices(&'a [&'a Samples]),
}

impl<'a> HuVolume<'a> {
    /// `samples` in `(k, j, i)` order (`dims` = columns, rows, slices), one rescale per
    /// slice (or one for all, or none for identity).
    pub fn new(
        samples: &'a Samples,
        dims: [usize; 3],
        rescale: &'a [Rescale],
    ) -> Result<HuVolume<'a>, ToolError> {
        let n: usize = dims.iter().product();
        if samples.len() != n || !(rescale.len() <= 1 || rescale.len() == dims[2]) {
            return Err(ToolError::IntensityMismatch {
                values: samples.len(),
                slices: rescale.len(),
            });
        }
        Ok(HuVolume {
            samples: Stored::Volume(samples),
            dims,
            rescale,
        })
    }

    /// As [`HuVolume::new`] over one sample buffer per slice (`k` order, `j, i` within).
    pub fn from_slices(
        slices: &'a [&'a Samples],
        dims: [usize; 3],
        rescale: &'a [Rescale],
    ) -> Result<HuVolume<'a>, ToolError> {
        let per_slice = dims[0] * dims[1];
        let values: usize = slices.iter().map(|s| s.len()).sum();
        if slices.len() != dims[2]
            || slices.iter().any(|s| s.len() != per_slice)
            || !(rescale.len() <= 1 || rescale.len() == dims[2])
        {
            return Err(ToolError::IntensityMismatch {
                values,
                slices: slices.len(),
            });
        }
        Ok(HuVolume {
            samples: Stored::Slices(slices),
            dims,
            rescale,
        })
    }

    /// The modality values of a loaded grey-scale volume.
    pub fn from_volume(volume: &'a Volume) -> Result<HuVolume<'a>, ToolError> {
        if volume.samples_per_pixel != 1 {
            return Err(ToolError::NotGrey(volume.samples_per_pixel));
        }
        let dims = [volume.columns, volume.rows, volume.slices].map(|d| d as usize);
        HuVolume::new(&volume.voxels, dims, &volume.modality_lut)
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// The modality value at voxel `v` (inside the volume).
    #[inline]
    pub fn hu(&self, v: [usize; 3]) -> f64 {
        let (samples, i) = match self.samples {
            Stored::Volume(s) => (s, (v[2] * self.dims[1] + v[1]) * self.dims[0] + v[0]),
            Stored::Slices(s) => (s[v[2]], v[1] * self.dims[0] + v[0]),
        };
        let stored = match samples {
            Samples::U8(s) => f64::from(s[i]),
            Samples::I8(s) => f64::from(s[i]),
            Samples::U16(s) => f64::from(s[i]),
            Samples::I16(s) => f64::from(s[i]),
            Samples::U32(s) => f64::from(s[i]),
            Samples::I32(s) => f64::from(s[i]),
        };
        match self.rescale {
            [] => stored,
            [one] => stored * one.slope + one.intercept,
            per_slice => {
                let r = &per_slice[v[2]];
                stored * r.slope + r.intercept
            }
        }
    }
}

/// An inclusive range of modality values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuRange {
    pub min_hu: f64,
    pub max_hu: f64,
}

impl HuRange {
    pub fn contains(&self, hu: f64) -> bool {
        (self.min_hu..=self.max_hu).contains(&hu)
    }
}

/// What a tool writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ink {
    /// Paint this segment.
    Paint(u8),
    /// Erase this segment only (other segments stay).
    Erase(u8),
    /// Erase every segment.
    EraseAll,
}

/// Whether painting may replace other segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Paint over anything.
    All,
    /// Paint only background (other segments are protected).
    Background,
}

/// The rule a tool applies to each voxel it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaintRule {
    pub ink: Ink,
    pub overwrite: Overwrite,
    /// Only voxels whose modality value is in range change (threshold painting).
    pub hu_range: Option<HuRange>,
}

impl PaintRule {
    /// Paint `segment` over anything, no threshold.
    pub fn paint(segment: u8) -> PaintRule {
        PaintRule {
            ink: Ink::Paint(segment),
            overwrite: Overwrite::All,
            hu_range: None,
        }
    }

    /// Erase `segment`, no threshold.
    pub fn erase(segment: u8) -> PaintRule {
        PaintRule {
            ink: Ink::Erase(segment),
            overwrite: Overwrite::All,
            hu_range: None,
        }
    }

    /// The same rule, only within `range`.
    pub fn within(self, range: HuRange) -> PaintRule {
        PaintRule {
            hu_range: Some(range),
            ..self
        }
    }

    fn check(&self, hu: Option<&HuVolume<'_>>) -> Result<(), ToolError> {
        match self.ink {
            Ink::Paint(0) | Ink::Erase(0) => return Err(ToolError::Background),
            _ => {}
        }
        if self.hu_range.is_some() && hu.is_none() {
            return Err(ToolError::NeedsIntensities);
        }
        Ok(())
    }

    /// Whether the ink may act on a voxel labelled `current` (ignoring intensities).
    fn acts_on(&self, current: u8) -> bool {
        match (self.ink, self.overwrite) {
            (Ink::Paint(_), Overwrite::All) => true,
            (Ink::Paint(s), Overwrite::Background) => current == 0 || current == s,
            (Ink::Erase(s), _) => current == s,
            (Ink::EraseAll, _) => current != 0,
        }
    }

    /// The new label of voxel `v` labelled `current`, or `None` to leave it.
    #[inline]
    fn new_label(&self, current: u8, v: [usize; 3], hu: Option<&HuVolume<'_>>) -> Option<u8> {
        let target = match self.ink {
            Ink::Paint(s) => s,
            Ink::Erase(_) | Ink::EraseAll => 0,
        };
        if current == target || !self.acts_on(current) {
            return None;
        }
        if let (Some(range), Some(hu)) = (self.hu_range, hu)
            && !range.contains(hu.hu(v))
        {
            return None;
        }
        Some(target)
    }
}

/// The shape of a dab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrushShape {
    /// A ball in 3D.
    Sphere,
    /// A disc in the slice of this plane through the centre.
    Disc(Plane),
}

/// One dab of the brush or eraser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dab {
    /// Continuous voxel coordinate of the centre (`PlaneView::voxel_at` gives it).
    pub centre_voxel: [f64; 3],
    pub radius_mm: f64,
    pub shape: BrushShape,
}

/// Squared mm lengths of voxel steps: `G[a][b] = (axis_a · spacing_a) · (axis_b · spacing_b)`.
fn metric(grid: &VolumeGrid) -> [[f64; 3]; 3] {
    let m = [0, 1, 2].map(|a| grid.axes[a].map(|c| c * grid.spacing_mm[a]));
    [0, 1, 2].map(|a| [0, 1, 2].map(|b| (0..3).map(|c| m[a][c] * m[b][c]).sum()))
}

fn inverse3(g: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c = |r: usize, s: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (s1, s2) = ((s + 1) % 3, (s + 2) % 3);
        g[r1][s1] * g[r2][s2] - g[r1][s2] * g[r2][s1]
    };
    let det: f64 = (0..3).map(|s| g[0][s] * c(0, s)).sum();
    if det.is_nan() || det.abs() <= 1e-12 {
        return None;
    }
    Some([0, 1, 2].map(|r| [0, 1, 2].map(|s| c(s, r) / det)))
}

/// Volume of one voxel in mm³ (`|det|` of the voxel step vectors).
pub fn voxel_volume_mm3(grid: &VolumeGrid) -> f64 {
    let m = [0, 1, 2].map(|a| grid.axes[a].map(|c| c * grid.spacing_mm[a]));
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    det.abs()
}

fn check_grid(map: &LabelMap, grid: &VolumeGrid) -> Result<(), ToolError> {
    if map.dims() != grid.dims {
        return Err(ToolError::GridMismatch {
            map: map.dims(),
            grid: grid.dims,
        });
    }
    Ok(())
}

fn check_hu(map: &LabelMap, hu: Option<&HuVolume<'_>>) -> Result<(), ToolError> {
    match hu {
        Some(h) if h.dims() != map.dims() => Err(ToolError::IntensityMismatch {
            values: h.dims().iter().product(),
            slices: h.dims()[2],
        }),
        _ => Ok(()),
    }
}

/// One brush or eraser dab.
pub fn dab(
    map: &LabelMap,
    grid: &VolumeGrid,
    hu: Option<&HuVolume<'_>>,
    dab: &Dab,
    rule: &PaintRule,
) -> Result<ChangeSet, ToolError> {
    check_grid(map, grid)?;
    check_hu(map, hu)?;
    rule.check(hu)?;
    if dab.radius_mm.is_nan() || dab.radius_mm <= 0.0 || dab.radius_mm.is_infinite() {
        return Err(ToolError::BadRadius(dab.radius_mm));
    }
    let g = metric(grid);
    let c = dab.centre_voxel;
    if c.iter().any(|v| !v.is_finite()) {
        return Ok(ChangeSet::default());
    }
    let r2 = dab.radius_mm * dab.radius_mm * (1.0 + 1e-9);
    let dims = map.dims();
    let (lo, hi, fixed) = match dab.shape {
        BrushShape::Sphere => {
            let inv = inverse3(g).ok_or(ToolError::DegenerateGrid)?;
            let e = [0, 1, 2].map(|a| dab.radius_mm * inv[a][a].max(0.0).sqrt());
            (
                [0, 1, 2].map(|a| c[a] - e[a]),
                [0, 1, 2].map(|a| c[a] + e[a]),
                None,
            )
        }
        BrushShape::Disc(plane) => {
            let depth = grid.plane_axes(plane).depth.axis;
            let (u, w) = in_plane(depth);
            let det = g[u][u] * g[w][w] - g[u][w] * g[w][u];
            if det.is_nan() || det <= 1e-12 {
                return Err(ToolError::DegenerateGrid);
            }
            let eu = dab.radius_mm * (g[w][w] / det).sqrt();
            let ew = dab.radius_mm * (g[u][u] / det).sqrt();
            let k = c[depth].round();
            let mut lo = [0.0; 3];
            let mut hi = [0.0; 3];
            lo[u] = c[u] - eu;
            hi[u] = c[u] + eu;
            lo[w] = c[w] - ew;
            hi[w] = c[w] + ew;
            lo[depth] = k;
            hi[depth] = k;
            (lo, hi, Some(depth))
        }
    };
    let Some((lo, hi)) = clamp_box(lo, hi, dims) else {
        return Ok(ChangeSet::default());
    };
    Ok(paint_box(map, hu, lo, hi, rule, |v| {
        let d = [0, 1, 2].map(|a| {
            if Some(a) == fixed {
                0.0
            } else {
                v[a] as f64 - c[a]
            }
        });
        let q: f64 = (0..3)
            .map(|a| (0..3).map(|b| d[a] * g[a][b] * d[b]).sum::<f64>())
            .sum();
        q <= r2
    }))
}

/// The two voxel axes other than `depth`, ascending.
fn in_plane(depth: usize) -> (usize, usize) {
    match depth {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    }
}

/// The integer voxel box covering `[lo, hi]` (continuous coordinates), inside `dims`.
fn clamp_box(lo: [f64; 3], hi: [f64; 3], dims: [usize; 3]) -> Option<([usize; 3], [usize; 3])> {
    let mut a = [0usize; 3];
    let mut b = [0usize; 3];
    for axis in 0..3 {
        let l = lo[axis].ceil().max(0.0);
        let h = hi[axis].floor().min(dims[axis] as f64 - 1.0);
        if l.is_nan() || h.is_nan() || l > h {
            return None;
        }
        a[axis] = l as usize;
        b[axis] = h as usize;
    }
    Some((a, b))
}

/// Applies `rule` to every voxel of the inclusive box `[lo, hi]` for which `inside`
/// holds, brick by brick (a brick is copied only when one of its voxels changes).
fn paint_box(
    map: &LabelMap,
    hu: Option<&HuVolume<'_>>,
    lo: [usize; 3],
    hi: [usize; 3],
    rule: &PaintRule,
    inside: impl Fn([usize; 3]) -> bool,
) -> ChangeSet {
    let mut draft = Draft::new(map);
    let first = map.brick_index(lo);
    let last = map.brick_index(hi);
    let [fx, fy, fz] = [0, 1, 2].map(|a| map.brick_box(first).origin[a] / super::labelmap::BRICK);
    let [lx, ly, lz] = [0, 1, 2].map(|a| map.brick_box(last).origin[a] / super::labelmap::BRICK);
    let [nx, ny, _] = map.bricks_per_axis();
    let mut writes: Vec<(usize, u8)> = Vec::new();
    for bz in fz..=lz {
        for by in fy..=ly {
            for bx in fx..=lx {
                let index = ((bz * ny + by) * nx + bx) as u32;
                let bb = map.brick_box(index);
                let a = [0, 1, 2].map(|d| lo[d].max(bb.origin[d]));
                let b = [0, 1, 2].map(|d| hi[d].min(bb.origin[d] + bb.size[d] - 1));
                let current = map.brick(index);
                writes.clear();
                for z in a[2]..=b[2] {
                    for y in a[1]..=b[1] {
                        for x in a[0]..=b[0] {
                            let v = [x, y, z];
                            if !inside(v) {
                                continue;
                            }
                            let offset = bb.offset(v);
                            let now = current.map_or(0, |c| c[offset]);
                            if let Some(label) = rule.new_label(now, v, hu) {
                                writes.push((offset, label));
                            }
                        }
                    }
                }
                if !writes.is_empty() {
                    let brick = draft.brick_mut(index);
                    for &(offset, label) in &writes {
                        brick[offset] = label;
                    }
                }
            }
        }
    }
    draft.finish()
}

/// Fills a polygon (or a closed freehand curve) drawn on a plane: every voxel of that
/// slice whose centre is inside (even-odd rule). Points are continuous voxel coordinates
/// (`PlaneView::voxel_at`); the slice is the first point's along the plane's depth axis.
pub fn fill_polygon(
    map: &LabelMap,
    grid: &VolumeGrid,
    hu: Option<&HuVolume<'_>>,
    plane: Plane,
    points_voxel: &[[f64; 3]],
    rule: &PaintRule,
) -> Result<ChangeSet, ToolError> {
    check_grid(map, grid)?;
    check_hu(map, hu)?;
    rule.check(hu)?;
    if points_voxel.len() < 3 {
        return Err(ToolError::PolygonTooShort(points_voxel.len()));
    }
    let depth = grid.plane_axes(plane).depth.axis;
    let (u, w) = in_plane(depth);
    let k = points_voxel[0][depth].round();
    let pts: Vec<[f64; 2]> = points_voxel.iter().map(|p| [p[u], p[w]]).collect();
    if pts.iter().flatten().any(|v| !v.is_finite()) || !k.is_finite() {
        return Ok(ChangeSet::default());
    }
    let (min, max) = pts.iter().fold(
        ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
        |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1])],
                [hi[0].max(p[0]), hi[1].max(p[1])],
            )
        },
    );
    let mut lo = [0.0; 3];
    let mut hi = [0.0; 3];
    (lo[u], hi[u], lo[w], hi[w]) = (min[0], max[0], min[1], max[1]);
    (lo[depth], hi[depth]) = (k, k);
    let Some((lo, hi)) = clamp_box(lo, hi, map.dims()) else {
        return Ok(ChangeSet::default());
    };
    // Inside mask over the box, one scanline per row of voxel centres.
    let width = hi[u] - lo[u] + 1;
    let rows = hi[w] - lo[w] + 1;
    let mut mask = vec![false; width * rows];
    let mut xs: Vec<f64> = Vec::new();
    for row in 0..rows {
        let y = (lo[w] + row) as f64;
        xs.clear();
        for (p, q) in pts.iter().zip(pts.iter().cycle().skip(1)) {
            if (p[1] <= y && y < q[1]) || (q[1] <= y && y < p[1]) {
                xs.push(p[0] + (y - p[1]) * (q[0] - p[0]) / (q[1] - p[1]));
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            let from = pair[0].ceil().max(lo[u] as f64);
            let to = (pair[1].ceil() - 1.0).min(hi[u] as f64);
            let mut x = from;
            while x <= to {
                mask[row * width + (x as usize - lo[u])] = true;
                x += 1.0;
            }
        }
    }
    Ok(paint_box(map, hu, lo, hi, rule, |v| {
        mask[(v[w] - lo[w]) * width + (v[u] - lo[u])]
    }))
}

/// Where a flood fill may spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodScope {
    /// Through the volume (6-connected).
    Volume,
    /// Within the seed's slice of this plane (4-connected).
    Slice(Plane),
}

/// A flood fill request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodFill {
    pub seed: [usize; 3],
    pub hu_range: HuRange,
    pub scope: FloodScope,
    /// Refuse (rather than paint half a body) when the region grows past this many voxels.
    pub max_voxels: usize,
}

/// Flood fill from a seed through voxels within the HU range (and that the rule may
/// change: with `Overwrite::Background` other segments are walls). An out-of-range seed
/// fills nothing.
pub fn flood_fill(
    map: &LabelMap,
    grid: &VolumeGrid,
    hu: &HuVolume<'_>,
    fill: &FloodFill,
    rule: &PaintRule,
) -> Result<ChangeSet, ToolError> {
    check_grid(map, grid)?;
    check_hu(map, Some(hu))?;
    rule.check(Some(hu))?;
    let dims = map.dims();
    let seed = fill.seed;
    let passable = |v: [usize; 3], current: u8| {
        rule.acts_on(current)
            && fill.hu_range.contains(hu.hu(v))
            && rule.hu_range.is_none_or(|r| r.contains(hu.hu(v)))
    };
    if !map.contains(seed) || !passable(seed, map.get(seed)) {
        return Ok(ChangeSet::default());
    }
    let fixed = match fill.scope {
        FloodScope::Volume => None,
        FloodScope::Slice(plane) => Some(grid.plane_axes(plane).depth.axis),
    };
    let linear = |v: [usize; 3]| (v[2] * dims[1] + v[1]) * dims[0] + v[0];
    let mut seen = vec![0u64; map.voxel_count().div_ceil(64)];
    let mut mark = |v: [usize; 3]| {
        let i = linear(v);
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let fresh = seen[word] & bit == 0;
        seen[word] |= bit;
        fresh
    };
    let target = match rule.ink {
        Ink::Paint(s) => s,
        Ink::Erase(_) | Ink::EraseAll => 0,
    };
    let mut draft = Draft::new(map);
    let mut stack = vec![seed];
    mark(seed);
    let mut count = 0usize;
    while let Some(v) = stack.pop() {
        count += 1;
        if count > fill.max_voxels {
            return Err(ToolError::FloodTooLarge {
                limit: fill.max_voxels,
            });
        }
        if draft.get(v) != target {
            draft.set(v, target);
        }
        for axis in 0..3 {
            if Some(axis) == fixed {
                continue;
            }
            for step in [-1i64, 1] {
                let n = v[axis] as i64 + step;
                if n < 0 || n >= dims[axis] as i64 {
                    continue;
                }
                let mut next = v;
                next[axis] = n as usize;
                if passable(next, map.get(next)) && mark(next) {
                    stack.push(next);
                }
            }
        }
    }
    Ok(draft.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::labelmap::Stroke;

    fn grid(dims: [usize; 3], spacing_mm: [f64; 3]) -> VolumeGrid {
        VolumeGrid {
            dims,
            spacing_mm,
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin_mm: [0.0; 3],
        }
    }

    fn count(map: &LabelMap, label: u8) -> u64 {
        map.histogram()[usize::from(label)]
    }

    #[test]
    fn a_sphere_dab_holds_its_volume_on_anisotropic_voxels() {
        let g = grid([100, 100, 60], [0.7, 0.7, 1.25]);
        let mut map = LabelMap::new(g.dims).unwrap();
        let d = Dab {
            centre_voxel: [50.3, 49.8, 30.1],
            radius_mm: 15.0,
            shape: BrushShape::Sphere,
        };
        map.apply(dab(&map, &g, None, &d, &PaintRule::paint(2)).unwrap());
        let ml = count(&map, 2) as f64 * voxel_volume_mm3(&g);
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 15f64.powi(3);
        assert!((ml / exact - 1.0).abs() < 0.01, "{ml} vs {exact}");
        // Erasing another segment changes nothing; erasing this one clears it.
        assert!(
            dab(&map, &g, None, &d, &PaintRule::erase(3))
                .unwrap()
                .is_empty()
        );
        map.apply(dab(&map, &g, None, &d, &PaintRule::erase(2)).unwrap());
        assert_eq!(map.allocated_bricks(), 0);
    }

    #[test]
    fn a_disc_stays_in_its_slice_and_is_round_in_mm() {
        let g = grid([80, 80, 20], [0.5, 1.0, 2.0]);
        let map = LabelMap::new(g.dims).unwrap();
        let d = Dab {
            centre_voxel: [40.0, 40.0, 7.2],
            radius_mm: 10.0,
            shape: BrushShape::Disc(Plane::Axial),
        };
        let mut m = map.clone();
        m.apply(dab(&map, &g, None, &d, &PaintRule::paint(1)).unwrap());
        let n = count(&m, 1) as f64;
        let area = n * 0.5 * 1.0;
        assert!(
            (area / (std::f64::consts::PI * 100.0) - 1.0).abs() < 0.02,
            "{area}"
        );
        assert_eq!(m.get([40, 40, 7]), 1);
        assert_eq!(m.get([40, 40, 8]), 0);
        assert_eq!(m.get([59, 40, 7]), 1, "9.5 mm along x (0.5 mm voxels)");
        assert_eq!(m.get([40, 51, 7]), 0, "11 mm along y");
        // Coronal: the slice is a row j.
        let mut c = map.clone();
        let d = Dab {
            shape: BrushShape::Disc(Plane::Coronal),
            ..d
        };
        c.apply(dab(&map, &g, None, &d, &PaintRule::paint(1)).unwrap());
        assert_eq!(c.get([40, 40, 7]), 1);
        assert_eq!(c.get([40, 41, 7]), 0);
        assert_eq!(c.get([40, 40, 11]), 1, "8 mm along z");
    }

    fn ramp(dims: [usize; 3]) -> Samples {
        // Stored value = i (column), so HU = i * 2 - 100 with the rescale below.
        let mut v = Vec::with_capacity(dims.iter().product());
        for _k in 0..dims[2] {
            for _j in 0..dims[1] {
                for i in 0..dims[0] {
                    v.push(i as i16);
                }
            }
        }
        Samples::I16(v)
    }

    #[test]
    fn threshold_paint_and_flood_fill_respect_the_hu_range() {
        let g = grid([64, 40, 10], [1.0; 3]);
        let samples = ramp(g.dims);
        let rescale = [Rescale {
            slope: 2.0,
            intercept: -100.0,
        }];
        let hu = HuVolume::new(&samples, g.dims, &rescale).unwrap();
        let map = LabelMap::new(g.dims).unwrap();
        let range = HuRange {
            min_hu: 0.0,
            max_hu: 20.0,
        };
        // Columns 50..=60 in HU 0..=20.
        let d = Dab {
            centre_voxel: [55.0, 20.0, 5.0],
            radius_mm: 30.0,
            shape: BrushShape::Sphere,
        };
        let rule = PaintRule::paint(4).within(range);
        assert_eq!(
            dab(&map, &g, None, &d, &rule),
            Err(ToolError::NeedsIntensities)
        );
        let mut m = map.clone();
        m.apply(dab(&map, &g, Some(&hu), &d, &rule).unwrap());
        assert_eq!(m.get([50, 20, 5]), 4);
        assert_eq!(m.get([49, 20, 5]), 0);
        assert_eq!(m.get([61, 20, 5]), 0);
        // Flood fill: the same columns through the whole volume, or one axial slice.
        let fill = FloodFill {
            seed: [55, 3, 4],
            hu_range: range,
            scope: FloodScope::Volume,
            max_voxels: 1_000_000,
        };
        let mut f = map.clone();
        f.apply(flood_fill(&map, &g, &hu, &fill, &PaintRule::paint(1)).unwrap());
        assert_eq!(count(&f, 1), 11 * 40 * 10);
        let slice = FloodFill {
            scope: FloodScope::Slice(Plane::Axial),
            ..fill
        };
        let mut s = map.clone();
        s.apply(flood_fill(&map, &g, &hu, &slice, &PaintRule::paint(1)).unwrap());
        assert_eq!(count(&s, 1), 11 * 40);
        let small = FloodFill {
            max_voxels: 100,
            ..fill
        };
        assert_eq!(
            flood_fill(&map, &g, &hu, &small, &PaintRule::paint(1)),
            Err(ToolError::FloodTooLarge { limit: 100 })
        );
        // Protected segments are walls.
        let mut walled = map.clone();
        let wall = fill_polygon(
            &map,
            &g,
            None,
            Plane::Axial,
            &[
                [-0.5, -0.5, 6.0],
                [63.5, -0.5, 6.0],
                [63.5, 39.5, 6.0],
                [-0.5, 39.5, 6.0],
            ],
            &PaintRule::paint(9),
        )
        .unwrap();
        walled.apply(wall);
        let protect = PaintRule {
            overwrite: Overwrite::Background,
            ..PaintRule::paint(1)
        };
        let mut w = walled.clone();
        w.apply(flood_fill(&walled, &g, &hu, &fill, &protect).unwrap());
        assert_eq!(count(&w, 1), 11 * 40 * 6, "slices 0..=5 only");
        assert_eq!(count(&w, 9), 64 * 40);
    }

    #[test]
    fn polygon_fill_covers_voxel_centres_inside() {
        let g = grid([50, 50, 5], [1.0; 3]);
        let map = LabelMap::new(g.dims).unwrap();
        // A 10 x 20 rectangle from (5, 5) to (15, 25): centres 5..=14 x 5..=24.
        let rect = [
            [5.0, 5.0, 2.0],
            [15.0, 5.0, 2.0],
            [15.0, 25.0, 2.0],
            [5.0, 25.0, 2.0],
        ];
        let mut m = map.clone();
        let mut stroke = Stroke::new();
        stroke.apply(
            &mut m,
            fill_polygon(&map, &g, None, Plane::Axial, &rect, &PaintRule::paint(3)).unwrap(),
        );
        assert_eq!(count(&m, 3), 200);
        // A triangle: area 0.5 * 30 * 30 = 450, within a row's worth.
        let tri = [[10.0, 10.0, 1.0], [40.0, 10.0, 1.0], [10.0, 40.0, 1.0]];
        let mut t = map.clone();
        t.apply(fill_polygon(&map, &g, None, Plane::Axial, &tri, &PaintRule::paint(1)).unwrap());
        let n = count(&t, 1) as f64;
        assert!((n - 450.0).abs() < 31.0, "{n}");
        assert!(
            fill_polygon(
                &map,
                &g,
                None,
                Plane::Axial,
                &tri[..2],
                &PaintRule::paint(1)
            )
            .is_err()
        );
    }

    #[test]
    fn tilted_grids_use_the_true_metric() {
        // k steps 1 mm along z and 0.5 mm along y (gantry tilt): a sphere is sheared in
        // voxel space but still holds its volume.
        let s = 1.0 / 1.25f64.sqrt();
        let g = VolumeGrid {
            dims: [60, 60, 60],
            spacing_mm: [1.0, 1.0, 1.25f64.sqrt()],
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5 * s, s]],
            origin_mm: [0.0; 3],
        };
        let mut map = LabelMap::new(g.dims).unwrap();
        let d = Dab {
            centre_voxel: [30.0, 30.0, 30.0],
            radius_mm: 12.0,
            shape: BrushShape::Sphere,
        };
        map.apply(dab(&map, &g, None, &d, &PaintRule::paint(1)).unwrap());
        let v = count(&map, 1) as f64 * voxel_volume_mm3(&g);
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 12f64.powi(3);
        assert!((v / exact - 1.0).abs() < 0.01, "{v} vs {exact}");
        assert!((voxel_volume_mm3(&g) - 1.0).abs() < 1e-9);
    }
}
