//! Statistics of the segments of a label map: voxel count, volume (mL), and the mean and
//! standard deviation of the modality values (HU for CT) inside.
//!
//! Owns [`SegmentStats`] and [`segment_stats`]. Pure; visits only allocated bricks.

use std::collections::BTreeMap;

use crate::imaging::mpr::VolumeGrid;

use super::labelmap::LabelMap;
use super::tools::{HuVolume, voxel_volume_mm3};

/// One segment's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentStats {
    pub voxels: u64,
    pub volume_ml: f64,
    /// `None` without intensities or for an empty segment.
    pub mean_hu: Option<f64>,
    /// Population standard deviation; `None` as for the mean.
    pub sd_hu: Option<f64>,
}

/// Statistics of every non-empty segment, by index.
pub fn segment_stats(
    map: &LabelMap,
    grid: &VolumeGrid,
    hu: Option<&HuVolume<'_>>,
) -> BTreeMap<u8, SegmentStats> {
    let voxel_ml = voxel_volume_mm3(grid) / 1000.0;
    let hu = hu.filter(|h| h.dims() == map.dims());
    // Per label: count, and (Welford) mean and sum of squared deviations.
    let mut acc = vec![(0u64, 0.0f64, 0.0f64); 256];
    for index in map.allocated() {
        let Some(brick) = map.brick(index) else {
            continue;
        };
        let bb = map.brick_box(index);
        let mut offset = 0;
        for z in 0..bb.size[2] {
            for y in 0..bb.size[1] {
                for x in 0..bb.size[0] {
                    let label = brick[offset];
                    offset += 1;
                    if label == 0 {
                        continue;
                    }
                    let a = &mut acc[usize::from(label)];
                    a.0 += 1;
                    if let Some(h) = hu {
                        let v = h.hu([bb.origin[0] + x, bb.origin[1] + y, bb.origin[2] + z]);
                        let delta = v - a.1;
                        a.1 += delta / a.0 as f64;
                        a.2 += delta * (v - a.1);
                    }
                }
            }
        }
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.0 > 0)
        .map(|(label, &(n, mean, m2))| {
            let with_hu = hu.is_some();
            (
                label as u8,
                SegmentStats {
                    voxels: n,
                    volume_ml: n as f64 * voxel_ml,
                    mean_hu: with_hu.then_some(mean),
                    sd_hu: with_hu.then(|| (m2 / n as f64).sqrt()),
                },
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::annotate::labelmap::Draft;
    use crate::imaging::discovery::Rescale;
    use crate::imaging::pixels::Samples;

    #[test]
    fn counts_volumes_means_and_sds() {
        let grid = VolumeGrid {
            dims: [40, 4, 3],
            spacing_mm: [0.5, 2.0, 2.0],
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin_mm: [0.0; 3],
        };
        let n: usize = grid.dims.iter().product();
        // Stored value = i; HU = i - 1000.
        let samples = Samples::U16((0..n).map(|x| (x % 40) as u16).collect());
        let rescale = [Rescale {
            slope: 1.0,
            intercept: -1000.0,
        }];
        let hu = HuVolume::new(&samples, grid.dims, &rescale).unwrap();
        let mut map = LabelMap::new(grid.dims).unwrap();
        let mut d = Draft::new(&map);
        for i in [34, 35, 36, 37] {
            d.set([i, 1, 2], 3);
        }
        d.set([0, 0, 0], 200);
        map.apply(d.finish());
        let s = segment_stats(&map, &grid, Some(&hu));
        assert_eq!(s.len(), 2);
        let three = s[&3];
        assert_eq!(three.voxels, 4);
        assert!((three.volume_ml - 4.0 * 2.0 / 1000.0).abs() < 1e-12);
        assert!((three.mean_hu.unwrap() - (35.5 - 1000.0)).abs() < 1e-9);
        assert!((three.sd_hu.unwrap() - 1.25f64.sqrt()).abs() < 1e-9);
        assert_eq!(s[&200].sd_hu, Some(0.0));
        assert_eq!(segment_stats(&map, &grid, None)[&3].mean_hu, None);
    }
}
