//! "Fill between slices": a segment painted on some slices is interpolated across the
//! unpainted slices between them.
//!
//! Owns the shape interpolation: per pair of consecutive painted (key) slices, each
//! slice's signed distance map (exact Euclidean distance transform in mm, Felzenszwalb &
//! Huttenlocher's lower envelope of parabolas, anisotropic pixels), blended linearly by
//! the position of the slice in between; a voxel is inside where the blend is negative.
//! Key slices are never changed, and only background voxels are painted (other segments
//! stay). Pure: returns a [`ChangeSet`]. Limitation of distance blending: shapes that do
//! not overlap between two key slices shrink towards the middle instead of sliding (paint
//! an intermediate key slice there).

use crate::imaging::mpr::VolumeGrid;

use super::labelmap::{ChangeSet, Draft, LabelMap};
use super::tools::ToolError;

/// Interpolates `segment` between its painted slices along voxel axis `axis` (0 = i,
/// 1 = j, 2 = k; `VolumeGrid::plane_axes(plane).depth.axis` for a shown plane).
pub fn fill_between_slices(
    map: &LabelMap,
    grid: &VolumeGrid,
    segment: u8,
    axis: usize,
) -> Result<ChangeSet, ToolError> {
    if map.dims() != grid.dims {
        return Err(ToolError::GridMismatch {
            map: map.dims(),
            grid: grid.dims,
        });
    }
    if segment == 0 {
        return Err(ToolError::Background);
    }
    let axis = axis.min(2);
    let (u, w) = match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let dims = map.dims();
    // Which slices hold the segment, and its in-plane bounding box.
    let mut present = vec![false; dims[axis]];
    let mut lo = [usize::MAX; 2];
    let mut hi = [0usize; 2];
    for index in map.allocated() {
        let Some(brick) = map.brick(index) else {
            continue;
        };
        let bb = map.brick_box(index);
        for (offset, &v) in brick.iter().enumerate() {
            if v != segment {
                continue;
            }
            let x = offset % bb.size[0];
            let y = (offset / bb.size[0]) % bb.size[1];
            let z = offset / (bb.size[0] * bb.size[1]);
            let p = [bb.origin[0] + x, bb.origin[1] + y, bb.origin[2] + z];
            present[p[axis]] = true;
            lo = [lo[0].min(p[u]), lo[1].min(p[w])];
            hi = [hi[0].max(p[u]), hi[1].max(p[w])];
        }
    }
    let keys: Vec<usize> = (0..dims[axis]).filter(|&s| present[s]).collect();
    let mut draft = Draft::new(map);
    if keys.len() < 2 {
        return Ok(draft.finish());
    }
    // One pixel of margin so the box's border is outside on every key slice.
    let lo = [lo[0].saturating_sub(1), lo[1].saturating_sub(1)];
    let hi = [(hi[0] + 1).min(dims[u] - 1), (hi[1] + 1).min(dims[w] - 1)];
    let size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1];
    let spacing = [grid.spacing_mm[u], grid.spacing_mm[w]];
    let voxel = |slice: usize, a: usize, b: usize| {
        let mut v = [0; 3];
        v[axis] = slice;
        v[u] = lo[0] + a;
        v[w] = lo[1] + b;
        v
    };
    let sdf_of = |slice: usize| {
        let inside: Vec<bool> = (0..size[1])
            .flat_map(|b| (0..size[0]).map(move |a| (a, b)))
            .map(|(a, b)| map.get(voxel(slice, a, b)) == segment)
            .collect();
        signed_distance(&inside, size, spacing)
    };
    let mut next = sdf_of(keys[0]);
    for pair in keys.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let first = next;
        next = sdf_of(b);
        for s in a + 1..b {
            let t = (s - a) as f64 / (b - a) as f64;
            for row in 0..size[1] {
                for col in 0..size[0] {
                    let i = row * size[0] + col;
                    let d = (1.0 - t) * first[i] + t * next[i];
                    let v = voxel(s, col, row);
                    if d < 0.0 && draft.get(v) == 0 {
                        draft.set(v, segment);
                    }
                }
            }
        }
    }
    Ok(draft.finish())
}

/// Signed distance (mm) between pixel centres: negative inside (minus the distance to the
/// nearest outside pixel), positive outside (the distance to the nearest inside pixel),
/// each shifted by half a pixel so the zero level lies between the two.
fn signed_distance(inside: &[bool], size: [usize; 2], spacing_mm: [f64; 2]) -> Vec<f64> {
    let to_inside = distance_to(inside, size, spacing_mm, true);
    let to_outside = distance_to(inside, size, spacing_mm, false);
    inside
        .iter()
        .enumerate()
        .map(|(i, &is_in)| {
            if is_in {
                -(to_outside[i] - 0.5 * spacing_mm[0].min(spacing_mm[1]))
            } else {
                to_inside[i] - 0.5 * spacing_mm[0].min(spacing_mm[1])
            }
        })
        .collect()
}

/// Euclidean distance (mm) from each pixel to the nearest pixel whose mask equals
/// `target` (infinite when there is none).
fn distance_to(mask: &[bool], size: [usize; 2], spacing_mm: [f64; 2], target: bool) -> Vec<f64> {
    let [nx, ny] = size;
    let mut f: Vec<f64> = mask
        .iter()
        .map(|&m| if m == target { 0.0 } else { f64::INFINITY })
        .collect();
    let mut line = Vec::new();
    let mut out = Vec::new();
    for y in 0..ny {
        line.clear();
        line.extend_from_slice(&f[y * nx..(y + 1) * nx]);
        squared_1d(&line, spacing_mm[0], &mut out);
        f[y * nx..(y + 1) * nx].copy_from_slice(&out);
    }
    for x in 0..nx {
        line.clear();
        line.extend((0..ny).map(|y| f[y * nx + x]));
        squared_1d(&line, spacing_mm[1], &mut out);
        for (y, d) in out.iter().enumerate() {
            f[y * nx + x] = *d;
        }
    }
    f.iter_mut().for_each(|d| *d = d.sqrt());
    f
}

/// 1D squared distance transform of sampled function `f` (lower envelope of parabolas
/// rooted at `q * step`), into `out`.
fn squared_1d(f: &[f64], step: f64, out: &mut Vec<f64>) {
    let n = f.len();
    out.clear();
    out.resize(n, f64::INFINITY);
    let finite: Vec<usize> = (0..n).filter(|&q| f[q].is_finite()).collect();
    if finite.is_empty() {
        return;
    }
    let pos = |q: usize| q as f64 * step;
    let mut v: Vec<usize> = Vec::with_capacity(finite.len());
    let mut z: Vec<f64> = Vec::with_capacity(finite.len() + 1);
    for &q in &finite {
        loop {
            let Some(&last) = v.last() else {
                v.push(q);
                z.clear();
                z.push(f64::NEG_INFINITY);
                break;
            };
            let s = ((f[q] + pos(q) * pos(q)) - (f[last] + pos(last) * pos(last)))
                / (2.0 * (pos(q) - pos(last)));
            if s <= *z.last().unwrap_or(&f64::NEG_INFINITY) {
                v.pop();
                z.pop();
                continue;
            }
            v.push(q);
            z.push(s);
            break;
        }
    }
    z.push(f64::INFINITY);
    let mut k = 0;
    for (q, o) in out.iter_mut().enumerate() {
        let x = pos(q);
        while z[k + 1] < x {
            k += 1;
        }
        let d = x - pos(v[k]);
        *o = d * d + f[v[k]];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::tools::{BrushShape, Dab, PaintRule, dab};
    use crate::imaging::mpr::Plane;

    fn grid(dims: [usize; 3]) -> VolumeGrid {
        VolumeGrid {
            dims,
            spacing_mm: [1.0, 1.0, 2.0],
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin_mm: [0.0; 3],
        }
    }

    fn disc(map: &mut LabelMap, g: &VolumeGrid, centre: [f64; 3], radius_mm: f64) {
        let d = Dab {
            centre_voxel: centre,
            radius_mm,
            shape: BrushShape::Disc(Plane::Axial),
        };
        let cs = dab(map, g, None, &d, &PaintRule::paint(1)).unwrap();
        map.apply(cs);
    }

    fn area(map: &LabelMap, k: usize) -> usize {
        let [nx, ny, _] = map.dims();
        (0..ny)
            .flat_map(|j| (0..nx).map(move |i| [i, j, k]))
            .filter(|v| map.get(*v) == 1)
            .count()
    }

    #[test]
    fn discs_on_two_slices_interpolate_to_growing_discs() {
        let g = grid([64, 64, 12]);
        let mut map = LabelMap::new(g.dims).unwrap();
        disc(&mut map, &g, [32.0, 32.0, 0.0], 8.0);
        disc(&mut map, &g, [32.0, 32.0, 10.0], 20.0);
        let (a0, a10) = (area(&map, 0), area(&map, 10));
        map.apply(fill_between_slices(&map, &g, 1, 2).unwrap());
        let areas: Vec<usize> = (0..=10).map(|k| area(&map, k)).collect();
        assert_eq!((areas[0], areas[10]), (a0, a10), "key slices unchanged");
        for k in 1..10 {
            assert!(areas[k] > a0 && areas[k] < a10, "{areas:?}");
            assert!(areas[k] >= areas[k - 1], "monotone: {areas:?}");
            // The radius grows linearly: 8 + 1.2 k mm.
            let r = 8.0 + 1.2 * k as f64;
            let expect = std::f64::consts::PI * r * r;
            let got = areas[k] as f64;
            assert!(
                (got / expect - 1.0).abs() < 0.08,
                "slice {k}: {got} vs {expect}"
            );
        }
        assert_eq!(area(&map, 11), 0, "nothing beyond the last key slice");
    }

    #[test]
    fn shifted_shapes_move_and_other_segments_stay() {
        let g = grid([64, 64, 5]);
        let mut map = LabelMap::new(g.dims).unwrap();
        disc(&mut map, &g, [28.0, 32.0, 0.0], 10.0);
        disc(&mut map, &g, [36.0, 32.0, 4.0], 10.0);
        // Another segment sits where the middle disc will pass.
        let mut d = Draft::new(&map);
        d.set([32, 32, 2], 5);
        map.apply(d.finish());
        map.apply(fill_between_slices(&map, &g, 1, 2).unwrap());
        assert_eq!(map.get([32, 32, 2]), 5);
        assert_eq!(map.get([33, 32, 2]), 1);
        assert_eq!(map.get([20, 32, 2]), 0, "the disc moved right");
        assert_eq!(map.get([22, 32, 1]), 1);
        assert_eq!(map.get([22, 32, 3]), 0);
        // One key slice: nothing to interpolate.
        let mut single = LabelMap::new(g.dims).unwrap();
        disc(&mut single, &g, [20.0, 32.0, 3.0], 6.0);
        assert!(fill_between_slices(&single, &g, 1, 2).unwrap().is_empty());
    }

    #[test]
    fn the_distance_transform_is_exact_on_anisotropic_pixels() {
        let size = [7, 5];
        let mut mask = vec![false; 35];
        mask[2 * 7 + 3] = true;
        let d = distance_to(&mask, size, [0.5, 2.0], true);
        assert_eq!(d[2 * 7 + 3], 0.0);
        assert!((d[2 * 7 + 6] - 1.5).abs() < 1e-12);
        assert!((d[4 * 7 + 3] - 4.0).abs() < 1e-12);
        assert!((d[0] - (1.5f64.powi(2) + 4.0f64.powi(2)).sqrt()).abs() < 1e-12);
        assert!(distance_to(&mask, size, [1.0, 1.0], false)[2 * 7 + 3] == 1.0);
    }
}
