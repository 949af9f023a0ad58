//! Agreement benchmark (`cargo bench --bench review`; release build).
//!
//! Issue 8: two readers' segmentations of a 512×512×300 volume (0.7 × 0.7 × 1.0 mm):
//! large, liver-sized ellipsoids 4 mm apart with a bumpy surface. Times Dice/IoU
//! (whole volume) and the surface distances (mean, 95 % Hausdorff: exact distance
//! transforms on the surfaces' bounding box). Prints JSON; targets are in the note
//! (≤ 1 s Dice, ≤ 3 s HD95), never asserted.

use std::time::Instant;

use tessera::review::agreement::{Mask, overlap, surface_distance};

fn blob(dims: [usize; 3], s: [f64; 3], centre: [f64; 3], radii: [f64; 3], phase: f64) -> Vec<bool> {
    let mut v = vec![false; dims.iter().product()];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let p = [i as f64 * s[0], j as f64 * s[1], k as f64 * s[2]];
                let q: f64 = (0..3)
                    .map(|a| ((p[a] - centre[a]) / radii[a]).powi(2))
                    .sum();
                let bump = 0.04 * ((p[0] * 0.15 + phase).sin() * (p[2] * 0.1).cos());
                v[(k * dims[1] + j) * dims[0] + i] = q <= 1.0 + bump;
            }
        }
    }
    v
}

fn main() {
    let dims = [512, 512, 300];
    let s = [0.7, 0.7, 1.0];
    let a = blob(dims, s, [170.0, 180.0, 150.0], [90.0, 70.0, 80.0], 0.0);
    let b = blob(dims, s, [174.0, 180.0, 151.0], [88.0, 72.0, 79.0], 1.3);
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
    let mut dice_s = Vec::new();
    let mut hd_s = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let o = overlap(&ma, &mb).map_err(|e| e.to_string());
        dice_s.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let d = surface_distance(&ma, &mb).map_err(|e| e.to_string());
        hd_s.push(t.elapsed().as_secs_f64());
        last = Some((o, d));
    }
    dice_s.sort_by(f64::total_cmp);
    hd_s.sort_by(f64::total_cmp);
    let Some((Ok(o), Ok(Some(d)))) = last else {
        eprintln!("agreement failed");
        std::process::exit(1);
    };
    println!(
        "{{\"voxels\": {}, \"a_voxels\": {}, \"b_voxels\": {}, \"dice\": {:.4}, \"iou\": {:.4}, \"mean_surface_mm\": {:.3}, \"hd95_mm\": {:.3}, \"hd_mm\": {:.3}, \"dice_seconds_median\": {:.3}, \"surface_seconds_median\": {:.3}, \"threads\": {}}}",
        dims.iter().product::<usize>(),
        o.a_voxels,
        o.b_voxels,
        o.dice,
        o.iou,
        d.mean_mm,
        d.hausdorff95_mm,
        d.hausdorff_mm,
        dice_s[1],
        hd_s[1],
        rayon::current_num_threads()
    );
}
