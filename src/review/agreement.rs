//! Agreement between readers, computed offline: overlap and surface distances of
//! segmentations (Dice, IoU, volume difference, mean surface distance, 95 % Hausdorff,
//! in mm), matching of points and regions with misses per reader, and chance-corrected
//! agreement on codes (Cohen's and Fleiss' κ with the confusion matrix).
//!
//! Owns the metric definitions (see each function) and the exact Euclidean distance
//! transform they use (Felzenszwalb & Huttenlocher's separable lower-envelope algorithm,
//! anisotropic, on the bounding box of both surfaces). Pure: no project, no egui.

use rayon::prelude::*;

/// A binary mask on a voxel grid: `dims` = (i, j, k), `i` fastest; `spacing_mm` per axis.
#[derive(Clone, Copy, Debug)]
pub struct Mask<'a> {
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub voxels: &'a [bool],
}

/// Overlap of two masks on the same grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overlap {
    pub a_voxels: u64,
    pub b_voxels: u64,
    pub both: u64,
    /// 2|A∩B| / (|A|+|B|); 1 when both are empty.
    pub dice: f64,
    /// |A∩B| / |A∪B|; 1 when both are empty.
    pub iou: f64,
    /// Volume of B minus volume of A, mL.
    pub volume_difference_ml: f64,
}

/// Why two masks cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    #[error("the masks are on different grids")]
    GridMismatch,
    #[error("a mask has {got} voxels, its grid needs {want}")]
    Size { got: usize, want: usize },
}

fn check(a: &Mask<'_>, b: &Mask<'_>) -> Result<usize, AgreementError> {
    if a.dims != b.dims || a.spacing_mm != b.spacing_mm {
        return Err(AgreementError::GridMismatch);
    }
    let want = a.dims.iter().product::<usize>();
    for m in [a, b] {
        if m.voxels.len() != want {
            return Err(AgreementError::Size {
                got: m.voxels.len(),
                want,
            });
        }
    }
    Ok(want)
}

/// Dice, IoU and volume difference.
pub fn overlap(a: &Mask<'_>, b: &Mask<'_>) -> Result<Overlap, AgreementError> {
    check(a, b)?;
    let (na, nb, both) = a
        .voxels
        .par_chunks(1 << 16)
        .zip(b.voxels.par_chunks(1 << 16))
        .map(|(x, y)| {
            let mut c = (0u64, 0u64, 0u64);
            for (p, q) in x.iter().zip(y) {
                c.0 += u64::from(*p);
                c.1 += u64::from(*q);
                c.2 += u64::from(*p && *q);
            }
            c
        })
        .reduce(|| (0, 0, 0), |s, c| (s.0 + c.0, s.1 + c.1, s.2 + c.2));
    let union = na + nb - both;
    let voxel_ml = a.spacing_mm.iter().product::<f64>() / 1000.0;
    Ok(Overlap {
        a_voxels: na,
        b_voxels: nb,
        both,
        dice: if na + nb == 0 {
            1.0
        } else {
            2.0 * both as f64 / (na + nb) as f64
        },
        iou: if union == 0 {
            1.0
        } else {
            both as f64 / union as f64
        },
        volume_difference_ml: (nb as f64 - na as f64) * voxel_ml,
    })
}

/// Surface distances between two masks, mm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurfaceDistance {
    /// Mean over both surfaces of the distance to the other surface.
    pub mean_mm: f64,
    /// max(95th percentile of A→B, 95th percentile of B→A).
    pub hausdorff95_mm: f64,
    pub hausdorff_mm: f64,
}

/// Surface voxels (in the mask, with a 6-neighbour outside it or on the grid's edge).
fn surface(m: &Mask<'_>) -> Vec<[usize; 3]> {
    let [ni, nj, nk] = m.dims;
    let at = |i: usize, j: usize, k: usize| m.voxels[(k * nj + j) * ni + i];
    (0..nk)
        .into_par_iter()
        .flat_map_iter(|k| {
            let mut out = Vec::new();
            for j in 0..nj {
                for i in 0..ni {
                    if !at(i, j, k) {
                        continue;
                    }
                    let edge =
                        i == 0 || j == 0 || k == 0 || i + 1 == ni || j + 1 == nj || k + 1 == nk;
                    if edge
                        || !at(i - 1, j, k)
                        || !at(i + 1, j, k)
                        || !at(i, j - 1, k)
                        || !at(i, j + 1, k)
                        || !at(i, j, k - 1)
                        || !at(i, j, k + 1)
                    {
                        out.push([i, j, k]);
                    }
                }
            }
            out
        })
        .collect()
}

/// 1D squared distance transform of `f` (sample spacing `s`) into `d`
/// (Felzenszwalb & Huttenlocher 2012). `v`/`z` are scratch.
fn dt_1d(f: &[f32], s: f32, d: &mut [f32], v: &mut [usize], z: &mut [f32]) {
    let n = f.len();
    let s2 = s * s;
    let mut k = 0usize;
    v[0] = 0;
    z[0] = f32::NEG_INFINITY;
    z[1] = f32::INFINITY;
    let parabola = |q: usize, p: usize| {
        ((f[q] + s2 * (q * q) as f32) - (f[p] + s2 * (p * p) as f32))
            / (2.0 * s2 * (q as f32 - p as f32))
    };
    for q in 1..n {
        if f[q].is_infinite() {
            continue;
        }
        if f[v[k]].is_infinite() {
            v[k] = q;
            continue;
        }
        let mut x = parabola(q, v[k]);
        while x <= z[k] {
            if k == 0 {
                break;
            }
            k -= 1;
            x = parabola(q, v[k]);
        }
        if x <= z[k] {
            // k == 0 and the new parabola is lower everywhere.
            v[0] = q;
            z[0] = f32::NEG_INFINITY;
            z[1] = f32::INFINITY;
            continue;
        }
        k += 1;
        v[k] = q;
        z[k] = x;
        z[k + 1] = f32::INFINITY;
    }
    if f[v[0]].is_infinite() {
        d.fill(f32::INFINITY);
        return;
    }
    let mut k = 0usize;
    for (q, out) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f32 {
            k += 1;
        }
        let dq = (q as f32 - v[k] as f32) * s;
        *out = dq * dq + f[v[k]];
    }
}

/// Squared Euclidean distance (mm²) from every voxel of a `dims` box to the nearest
/// feature voxel (`features` true), exact, with anisotropic `spacing_mm`.
pub fn squared_distance_transform(
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    features: &[bool],
) -> Vec<f32> {
    let [ni, nj, nk] = dims;
    let mut g: Vec<f32> = features
        .iter()
        .map(|f| if *f { 0.0 } else { f32::INFINITY })
        .collect();
    let pass = |g: &mut Vec<f32>, axis: usize| {
        let n = dims[axis];
        let s = spacing_mm[axis] as f32;
        let (stride, lines): (usize, Vec<usize>) = match axis {
            0 => (1, (0..nj * nk).map(|l| l * ni).collect()),
            1 => (
                ni,
                (0..nk)
                    .flat_map(|k| (0..ni).map(move |i| k * ni * nj + i))
                    .collect(),
            ),
            _ => (ni * nj, (0..ni * nj).collect()),
        };
        let results: Vec<(usize, Vec<f32>)> = lines
            .par_iter()
            .map_init(
                || {
                    (
                        vec![0.0f32; n],
                        vec![0.0f32; n],
                        vec![0usize; n],
                        vec![0.0f32; n + 1],
                    )
                },
                |(f, d, v, z), &start| {
                    for (q, slot) in f.iter_mut().enumerate() {
                        *slot = g[start + q * stride];
                    }
                    dt_1d(f, s, d, v, z);
                    (start, d.clone())
                },
            )
            .collect();
        for (start, d) in results {
            for (q, value) in d.into_iter().enumerate() {
                g[start + q * stride] = value;
            }
        }
    };
    for axis in 0..3 {
        pass(&mut g, axis);
    }
    g
}

/// Surface distances, computed on the bounding box of both surfaces (exact there).
/// `None` when either mask is empty.
pub fn surface_distance(
    a: &Mask<'_>,
    b: &Mask<'_>,
) -> Result<Option<SurfaceDistance>, AgreementError> {
    check(a, b)?;
    let (sa, sb) = (surface(a), surface(b));
    if sa.is_empty() || sb.is_empty() {
        return Ok(None);
    }
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for p in sa.iter().chain(&sb) {
        for ax in 0..3 {
            lo[ax] = lo[ax].min(p[ax]);
            hi[ax] = hi[ax].max(p[ax]);
        }
    }
    let dims = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let index =
        |p: &[usize; 3]| ((p[2] - lo[2]) * dims[1] + (p[1] - lo[1])) * dims[0] + (p[0] - lo[0]);
    let directed = |from: &[[usize; 3]], to: &[[usize; 3]]| -> Vec<f64> {
        let mut features = vec![false; dims.iter().product()];
        for p in to {
            features[index(p)] = true;
        }
        let dt = squared_distance_transform(dims, a.spacing_mm, &features);
        from.iter()
            .map(|p| f64::from(dt[index(p)]).sqrt())
            .collect()
    };
    let mut ab = directed(&sa, &sb);
    let mut ba = directed(&sb, &sa);
    let mean = (ab.iter().sum::<f64>() + ba.iter().sum::<f64>()) / (ab.len() + ba.len()) as f64;
    let p95 = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 - 1.0) * 0.95).round() as usize;
        v[i.min(v.len() - 1)]
    };
    let max = ab.iter().chain(&ba).copied().fold(0.0, f64::max);
    Ok(Some(SurfaceDistance {
        mean_mm: mean,
        hausdorff95_mm: p95(&mut ab).max(p95(&mut ba)),
        hausdorff_mm: max,
    }))
}

/// Cohen's κ and the confusion matrix for two readers' codes on the same items.
#[derive(Clone, Debug, PartialEq)]
pub struct Kappa {
    pub kappa: f64,
    pub observed: f64,
    pub expected: f64,
    /// Category names, and `matrix[a][b]`: items reader 1 put in `a` and reader 2 in `b`.
    pub categories: Vec<String>,
    pub matrix: Vec<Vec<u64>>,
}

/// Cohen's κ = (pₒ − pₑ) / (1 − pₑ); 1 when both readers use one and the same category
/// throughout (pₑ = 1), `None` without items.
pub fn cohen_kappa(pairs: &[(&str, &str)]) -> Option<Kappa> {
    if pairs.is_empty() {
        return None;
    }
    let mut categories: Vec<String> = pairs
        .iter()
        .flat_map(|(a, b)| [a.to_string(), b.to_string()])
        .collect();
    categories.sort();
    categories.dedup();
    let pos = |c: &str| categories.iter().position(|x| x == c).unwrap_or(0);
    let n = categories.len();
    let mut matrix = vec![vec![0u64; n]; n];
    for (a, b) in pairs {
        matrix[pos(a)][pos(b)] += 1;
    }
    let total = pairs.len() as f64;
    let observed = (0..n).map(|c| matrix[c][c] as f64).sum::<f64>() / total;
    let expected = (0..n)
        .map(|c| {
            let row: u64 = matrix[c].iter().sum();
            let col: u64 = matrix.iter().map(|r| r[c]).sum();
            row as f64 * col as f64
        })
        .sum::<f64>()
        / (total * total);
    let kappa = if (1.0 - expected).abs() < 1e-12 {
        1.0
    } else {
        (observed - expected) / (1.0 - expected)
    };
    Some(Kappa {
        kappa,
        observed,
        expected,
        categories,
        matrix,
    })
}

/// Fleiss' κ for items each rated by the same number of readers: `counts[item][c]` is how
/// many readers put the item in category `c`. `None` with fewer than two readers per
/// item, unequal reader counts, or no items; 1 when every rating is one category.
pub fn fleiss_kappa(counts: &[Vec<u64>]) -> Option<f64> {
    let raters: u64 = counts.first()?.iter().sum();
    if raters < 2 || counts.iter().any(|row| row.iter().sum::<u64>() != raters) {
        return None;
    }
    let items = counts.len() as f64;
    let r = raters as f64;
    let categories = counts[0].len();
    let p_j: Vec<f64> = (0..categories)
        .map(|c| counts.iter().map(|row| row[c] as f64).sum::<f64>() / (items * r))
        .collect();
    let p_bar = counts
        .iter()
        .map(|row| (row.iter().map(|&x| (x * x) as f64).sum::<f64>() - r) / (r * (r - 1.0)))
        .sum::<f64>()
        / items;
    let p_e: f64 = p_j.iter().map(|p| p * p).sum();
    if (1.0 - p_e).abs() < 1e-12 {
        return Some(1.0);
    }
    Some((p_bar - p_e) / (1.0 - p_e))
}

/// Findings matched between two readers: index pairs, and the unmatched on each side.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Matching {
    pub pairs: Vec<(usize, usize)>,
    /// Reader 1's findings reader 2 missed, and the reverse.
    pub missed_by_b: Vec<usize>,
    pub missed_by_a: Vec<usize>,
}

/// Greedy one-to-one matching by increasing cost, accepting pairs with
/// `cost(a, b) <= max_cost` (points: distance in mm; regions: 1 − IoU).
pub fn match_findings(
    a: usize,
    b: usize,
    max_cost: f64,
    cost: impl Fn(usize, usize) -> f64,
) -> Matching {
    let mut candidates: Vec<(f64, usize, usize)> = (0..a)
        .flat_map(|i| (0..b).map(move |j| (i, j)))
        .map(|(i, j)| (cost(i, j), i, j))
        .filter(|(c, _, _)| c.is_finite() && *c <= max_cost)
        .collect();
    candidates.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut used_a, mut used_b) = (vec![false; a], vec![false; b]);
    let mut out = Matching::default();
    for (_, i, j) in candidates {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            out.pairs.push((i, j));
        }
    }
    out.missed_by_b = (0..a).filter(|i| !used_a[*i]).collect();
    out.missed_by_a = (0..b).filter(|j| !used_b[*j]).collect();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    fn sphere(dims: [usize; 3], spacing: [f64; 3], centre: [f64; 3], r: f64) -> Vec<bool> {
        let mut v = vec![false; dims.iter().product()];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = [
                        i as f64 * spacing[0],
                        j as f64 * spacing[1],
                        k as f64 * spacing[2],
                    ];
                    let d2: f64 = (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum();
                    v[(k * dims[1] + j) * dims[0] + i] = d2 <= r * r;
                }
            }
        }
        v
    }

    #[test]
    fn two_offset_spheres_match_the_analytic_dice_and_hausdorff() {
        // Radius 20 mm, centres 10 mm apart, 0.5 mm voxels.
        let (dims, s) = ([120, 100, 100], [0.5, 0.5, 0.5]);
        let (r, d) = (20.0, 10.0);
        let a = sphere(dims, s, [25.0, 25.0, 25.0], r);
        let b = sphere(dims, s, [25.0 + d, 25.0, 25.0], r);
        let (ma, mb) = (
            Mask {
                dims,
                spacing_mm: s,
                voxels: &a,
            },
            Mask {
                dims,
                spacing_mm: s,
                voxels: &b,
            },
        );
        let o = overlap(&ma, &mb).unwrap();
        // Lens volume of two equal spheres: π (4r + d)(2r − d)² / 12.
        let lens = std::f64::consts::PI * (4.0 * r + d) * (2.0 * r - d).powi(2) / 12.0;
        let sphere_v = 4.0 / 3.0 * std::f64::consts::PI * r.powi(3);
        let dice = lens / sphere_v;
        assert!((o.dice - dice).abs() < 0.01, "dice {} vs {dice}", o.dice);
        assert!(o.volume_difference_ml.abs() < 0.05);
        // The farthest point of one surface from the other: d (along the offset axis).
        let sd = surface_distance(&ma, &mb).unwrap().unwrap();
        assert!(
            (sd.hausdorff_mm - d).abs() <= 0.75,
            "hausdorff {}",
            sd.hausdorff_mm
        );
        assert!(sd.hausdorff95_mm <= sd.hausdorff_mm && sd.hausdorff95_mm > 0.5 * d);
        let same = surface_distance(&ma, &ma).unwrap().unwrap();
        assert_eq!(same.hausdorff_mm, 0.0);
        assert_eq!(overlap(&ma, &ma).unwrap().dice, 1.0);
    }

    #[test]
    fn the_distance_transform_is_exact_and_anisotropic() {
        let dims = [7, 5, 3];
        let s = [1.0, 2.0, 3.0];
        let mut f = vec![false; 7 * 5 * 3];
        f[(5 + 2) * 7 + 3] = true; // i 3, j 2, k 1
        let dt = squared_distance_transform(dims, s, &f);
        for k in 0..3 {
            for j in 0..5 {
                for i in 0..7 {
                    let want = ((i as f64 - 3.0) * 1.0).powi(2)
                        + ((j as f64 - 2.0) * 2.0).powi(2)
                        + ((k as f64 - 1.0) * 3.0).powi(2);
                    let got = f64::from(dt[(k * 5 + j) * 7 + i]);
                    assert!((got - want).abs() < 1e-3, "({i},{j},{k}): {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn kappas_match_textbook_values() {
        // Cohen (1960)-style 2×2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → κ = 0.4.
        let mut pairs = Vec::new();
        pairs.extend(std::iter::repeat_n(("yes", "yes"), 20));
        pairs.extend(std::iter::repeat_n(("yes", "no"), 5));
        pairs.extend(std::iter::repeat_n(("no", "yes"), 10));
        pairs.extend(std::iter::repeat_n(("no", "no"), 15));
        let k = cohen_kappa(&pairs).unwrap();
        assert!((k.kappa - 0.4).abs() < 1e-12, "{}", k.kappa);
        assert_eq!(k.matrix, vec![vec![15, 10], vec![5, 20]]);
        // Degenerate: perfect agreement, and everything one category.
        assert_eq!(cohen_kappa(&[("a", "a"), ("b", "b")]).unwrap().kappa, 1.0);
        assert_eq!(cohen_kappa(&[("a", "a"), ("a", "a")]).unwrap().kappa, 1.0);
        assert!(cohen_kappa(&[]).is_none());
        // Fleiss (1971) example as given by Wikipedia: 10 items, 14 raters, κ ≈ 0.210.
        let table: Vec<Vec<u64>> = vec![
            vec![0, 0, 0, 0, 14],
            vec![0, 2, 6, 4, 2],
            vec![0, 0, 3, 5, 6],
            vec![0, 3, 9, 2, 0],
            vec![2, 2, 8, 1, 1],
            vec![7, 7, 0, 0, 0],
            vec![3, 2, 6, 3, 0],
            vec![2, 5, 3, 2, 2],
            vec![6, 5, 2, 1, 0],
            vec![0, 2, 2, 3, 7],
        ];
        let f = fleiss_kappa(&table).unwrap();
        assert!((f - 0.210).abs() < 0.001, "{f}");
        assert_eq!(fleiss_kappa(&[vec![3, 0], vec![3, 0]]), Some(1.0));
        assert_eq!(fleiss_kappa(&[vec![3, 0], vec![2, 0]]), None);
    }

    #[test]
    fn findings_match_one_to_one_and_misses_are_counted() {
        let a: [[f64; 2]; 3] = [[0.0, 0.0], [10.0, 0.0], [50.0, 50.0]];
        let b = [[0.5, 0.0], [10.0, 1.0], [90.0, 0.0]];
        let m = match_findings(3, 3, 5.0, |i, j| {
            (a[i][0] - b[j][0]).hypot(a[i][1] - b[j][1])
        });
        assert_eq!(m.pairs, vec![(0, 0), (1, 1)]);
        assert_eq!(m.missed_by_b, vec![2]);
        assert_eq!(m.missed_by_a, vec![2]);
    }
}
