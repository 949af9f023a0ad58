//! Segmentation benchmarks (`cargo bench --bench annotate`; release build), on a
//! 512 × 512 × 300 CT-like volume at 0.7 × 0.7 × 1 mm:
//! 1. a 3D brush stroke of 50 dabs at 10 mm radius (2 mm apart): model update per dab
//!    (the tool computing its change set + applying it to the label map), plain and
//!    threshold-constrained (HU range read from an int16 volume with rescale);
//! 2. the stroke as one edit: packing (compression) and `Session::commit_edit` (encrypt,
//!    hash, sign, cache row, FULL commit), and the stored bytes;
//! 3. memory of a fully painted 300-slice label map against its voxel count (heap bytes
//!    held, and resident memory growth);
//! 4. reopening a project with 20 painted segmentations (brush strokes only, and with an
//!    organ-sized blob in each): open + unlock + full verification, then unpacking all 20
//!    label maps (tiny Argon2 parameters: the KDF is calibrated to ≈ 0.5 s on purpose and
//!    is not what this measures).
//!
//! Numbers go in the issue note, not into assertions. The display side (texture upload)
//! is the viewer's and is not included.

use std::time::{Duration, Instant};

use tessera::annotate::labelmap::{LabelMap, Stroke};
use tessera::annotate::packed::Tool;
use tessera::annotate::schema::{Colour, LabelClass};
use tessera::annotate::segmentation::{Segment, SegmentationHeader};
use tessera::annotate::tools::{self, BrushShape, Dab, HuRange, HuVolume, PaintRule};
use tessera::imaging::discovery::Rescale;
use tessera::imaging::mpr::VolumeGrid;
use tessera::imaging::pixels::Samples;
use tessera::project::model::{Edit, EventPayload, ImageRef};
use tessera::project::{KdfChoice, KdfParams, Project, VerifyOnOpen};

/// Benchmarks only: tiny Argon2 so the numbers measure the file, not the KDF.
const TINY: KdfChoice = KdfChoice::Fixed(KdfParams {
    m_kib: 64,
    t_cost: 1,
    p_lanes: 1,
});

const DIMS: [usize; 3] = [512, 512, 300];

fn grid() -> VolumeGrid {
    VolumeGrid {
        dims: DIMS,
        spacing_mm: [0.7, 0.7, 1.0],
        axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]],
        origin_mm: [-179.0, -179.0, 150.0],
    }
}

/// Current resident memory (Linux; 0 elsewhere).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The centres of a 50-dab stroke starting at `start` (voxels), 2 mm apart, diagonal in
/// the axial plane and drifting through slices.
fn path(start: [f64; 3]) -> Vec<[f64; 3]> {
    (0..50)
        .map(|t| {
            let t = f64::from(t);
            [
                start[0] + t * 2.0 / 0.7 * 0.8,
                start[1] + t * 2.0 / 0.7 * 0.6,
                start[2] + t * 0.2,
            ]
        })
        .collect()
}

/// Paints one stroke; returns per-dab model-update times and the stroke.
fn paint(
    map: &mut LabelMap,
    hu: Option<&HuVolume<'_>>,
    start: [f64; 3],
    rule: PaintRule,
) -> anyhow::Result<(Vec<Duration>, Stroke)> {
    let g = grid();
    let mut stroke = Stroke::new();
    let mut times = Vec::with_capacity(50);
    for centre in path(start) {
        let dab = Dab {
            centre_voxel: centre,
            radius_mm: 10.0,
            shape: BrushShape::Sphere,
        };
        let t = Instant::now();
        let cs = tools::dab(map, &g, hu, &dab, &rule)?;
        let changed = stroke.apply(map, cs);
        times.push(t.elapsed());
        std::hint::black_box(changed);
    }
    Ok((times, stroke))
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let g = grid();
    let voxels: usize = DIMS.iter().product();
    println!(
        "segmentation benchmarks (release; machine shared with other builds); volume {}x{}x{} at 0.7x0.7x1 mm",
        DIMS[0], DIMS[1], DIMS[2]
    );

    // A CT-like int16 volume: soft tissue 40 HU with a ±60 HU ripple, stored + 1024.
    let mut stored = Vec::with_capacity(voxels);
    for k in 0..DIMS[2] {
        for j in 0..DIMS[1] {
            for i in 0..DIMS[0] {
                let ripple = ((i * 7 + j * 13 + k * 3) % 120) as i16 - 60;
                stored.push(1024 + 40 + ripple);
            }
        }
    }
    let samples = Samples::I16(stored);
    let rescale = vec![
        Rescale {
            slope: 1.0,
            intercept: -1024.0,
        };
        DIMS[2]
    ];
    let hu = HuVolume::new(&samples, DIMS, &rescale)?;

    // 1. Brush strokes: warm-up, then three strokes each, fresh maps.
    let mut plain = Vec::new();
    let mut threshold = Vec::new();
    let mut last_stroke = None;
    for round in 0..4 {
        let start = [150.0 + 10.0 * f64::from(round), 160.0, 120.0];
        let mut map = LabelMap::new(DIMS)?;
        let (t, stroke) = paint(&mut map, None, start, PaintRule::paint(1))?;
        let mut map2 = LabelMap::new(DIMS)?;
        let range = HuRange {
            min_hu: 0.0,
            max_hu: 60.0,
        };
        let (t2, _) = paint(
            &mut map2,
            Some(&hu),
            start,
            PaintRule::paint(1).within(range),
        )?;
        if round > 0 {
            plain.extend(t);
            threshold.extend(t2);
        }
        last_stroke = Some((map, stroke));
    }
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| brush dab, model update (10 mm sphere), median / p95 | {:.3} ms / {:.3} ms |",
        ms(median(&mut plain)),
        ms(quantile(&mut plain, 0.95))
    );
    println!(
        "| threshold brush dab (HU 0..60), median / p95 | {:.3} ms / {:.3} ms |",
        ms(median(&mut threshold)),
        ms(quantile(&mut threshold, 0.95))
    );

    // 2. The stroke as one edit.
    let Some((map, stroke)) = last_stroke else {
        anyhow::bail!("no stroke painted");
    };
    let bricks = stroke.touched();
    let t = Instant::now();
    let edit = stroke
        .finish(&map, Tool::Brush)
        .ok_or_else(|| anyhow::anyhow!("the stroke changed nothing"))?;
    let pack = t.elapsed();
    let painted_ml = edit
        .net_voxels
        .iter()
        .find(|(l, _)| *l == 1)
        .map_or(0.0, |(_, n)| *n as f64 * 0.7 * 0.7 / 1000.0);
    let packed = edit.packed_bytes();
    let path = dir.path().join("commit.tessera");
    let (mut s, _) = Project::create(&path, "bench", b"pw", TINY)?;
    let image = ImageRef::Dicom {
        series_uid: "1.2.826.0.1.3680043.8.498.1".into(),
        sop_uid: None,
        frame: None,
        plane: None,
        provenance: None,
    };
    let id = s.create_segmentation(image.clone(), SegmentationHeader::new("bench", &g))?;
    let payload = serde_json::to_vec(&EventPayload::new(Edit::SegmentStroke {
        segmentation: id,
        stroke: edit.clone(),
    }))?
    .len();
    let t = Instant::now();
    s.commit_edit(Edit::SegmentStroke {
        segmentation: id,
        stroke: edit,
    })?;
    let commit = t.elapsed();
    // More commits on the same segmentation (its cache row grows with what is painted).
    let mut later = Vec::new();
    let mut m = s.load_segmentation(id)?.map;
    for r in 0..8 {
        let (_, st) = paint(
            &mut m,
            None,
            [
                100.0,
                100.0 + 30.0 * f64::from(r),
                60.0 + 20.0 * f64::from(r),
            ],
            PaintRule::paint(1),
        )?;
        let e = st
            .finish(&m, Tool::Brush)
            .ok_or_else(|| anyhow::anyhow!("empty stroke"))?;
        let t = Instant::now();
        s.commit_edit(Edit::SegmentStroke {
            segmentation: id,
            stroke: e,
        })?;
        later.push(t.elapsed());
    }
    println!(
        "| stroke of 50 dabs: bricks touched, voxels painted | {bricks} bricks, {painted_ml:.1} mL |"
    );
    println!(
        "| pack stroke (before+after of each brick, DEFLATE) | {:.2} ms |",
        ms(pack)
    );
    println!(
        "| stored stroke: packed bricks / JSON payload (before encryption) | {:.1} KiB / {:.1} KiB |",
        packed as f64 / 1024.0,
        payload as f64 / 1024.0
    );
    println!(
        "| commit of the stroke as one edit (first stroke) | {:.2} ms |",
        ms(commit)
    );
    println!(
        "| commit of later strokes (9th stroke on the same segmentation), median | {:.2} ms |",
        ms(median(&mut later))
    );
    drop(s);

    // 3. Memory of a fully painted 300-slice label map.
    let rss0 = rss_bytes();
    let mut full = LabelMap::new(DIMS)?;
    let everything = Dab {
        centre_voxel: [255.5, 255.5, 149.5],
        radius_mm: 10_000.0,
        shape: BrushShape::Sphere,
    };
    let cs = tools::dab(&full, &g, None, &everything, &PaintRule::paint(2))?;
    full.apply(cs);
    let rss1 = rss_bytes();
    let heap = full.heap_bytes();
    println!(
        "| fully painted 300-slice map: heap bytes / voxel count | {:.4} ({} / {}) |",
        heap as f64 / voxels as f64,
        heap,
        voxels
    );
    println!(
        "| same, resident memory growth / voxel count | {:.4} |",
        rss1.saturating_sub(rss0) as f64 / voxels as f64
    );
    drop(full);

    // 4. Reopen a project with 20 painted segmentations: 3 brush strokes of 50 dabs each,
    // then the same plus an organ-sized blob (a 70 mm radius ball, 1.4 L) in each.
    for organ in [false, true] {
        reopen(dir.path(), &g, &image, organ)?;
    }
    Ok(())
}

fn reopen(
    dir: &std::path::Path,
    g: &VolumeGrid,
    image: &ImageRef,
    organ: bool,
) -> anyhow::Result<()> {
    let name = if organ {
        "reopen-organ.tessera"
    } else {
        "reopen.tessera"
    };
    let path = dir.join(name);
    let (mut s, _) = Project::create(&path, "bench", b"pw", TINY)?;
    let class = LabelClass::free_text("Lesion", Colour([230, 25, 75]));
    let mut ids = Vec::new();
    let mut stored_ml = 0.0;
    for n in 0..20 {
        let id = s.create_segmentation(
            image.clone(),
            SegmentationHeader::new(&format!("seg {n}"), g),
        )?;
        s.define_segment(id, 1, Some(Segment::of_class("Lesion 1", None, &class)))?;
        let mut m = LabelMap::new(DIMS)?;
        if organ {
            let mut st = Stroke::new();
            let ball = Dab {
                centre_voxel: [256.0, 256.0, 150.0],
                radius_mm: 70.0,
                shape: BrushShape::Sphere,
            };
            let cs = tools::dab(&m, g, None, &ball, &PaintRule::paint(2))?;
            st.apply(&mut m, cs);
            let e = st
                .finish(&m, Tool::Brush)
                .ok_or_else(|| anyhow::anyhow!("empty stroke"))?;
            s.commit_edit(Edit::SegmentStroke {
                segmentation: id,
                stroke: e,
            })?;
        }
        for r in 0..3 {
            let start = [
                60.0 + 15.0 * f64::from(n % 5),
                60.0 + 40.0 * f64::from(r),
                30.0 + 12.0 * f64::from(n),
            ];
            let (_, st) = paint(&mut m, None, start, PaintRule::paint(1))?;
            let e = st
                .finish(&m, Tool::Brush)
                .ok_or_else(|| anyhow::anyhow!("empty stroke"))?;
            s.commit_edit(Edit::SegmentStroke {
                segmentation: id,
                stroke: e,
            })?;
        }
        let h = m.histogram();
        stored_ml += (h[1] + h[2]) as f64 * 0.7 * 0.7 / 1000.0;
        ids.push(id);
    }
    drop(s);
    let wal = dir.join(format!("{name}-wal"));
    let file_bytes =
        std::fs::metadata(&path)?.len() + std::fs::metadata(wal).map_or(0, |m| m.len());
    let mut opens = Vec::new();
    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut s = Project::open(&path)?.unlock("bench", b"pw", VerifyOnOpen::Yes)?;
        let opened = t.elapsed();
        let t = Instant::now();
        for id in &ids {
            std::hint::black_box(s.load_segmentation(*id)?);
        }
        loads.push(t.elapsed());
        opens.push(opened);
    }
    let (o, l) = (median(&mut opens), median(&mut loads));
    let what = if organ {
        "3 strokes + a 1.4 L ball each"
    } else {
        "3 strokes each"
    };
    println!(
        "| reopen, 20 segmentations, {what} ({stored_ml:.0} mL painted, file {:.1} MiB): open+unlock+verify, median | {:.0} ms |",
        file_bytes as f64 / (1024.0 * 1024.0),
        ms(o)
    );
    println!(
        "| then unpack all 20 label maps, median | {:.0} ms |",
        ms(l)
    );
    println!("| reopen total (target <= 1 s) | {:.0} ms |", ms(o + l));
    Ok(())
}
