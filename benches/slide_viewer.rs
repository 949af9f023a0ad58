//! Slide viewer refresh benchmark (`cargo bench --bench slide_viewer`; release, headless).
//!
//! Drives the real [`TesseraApp`] through egui_kittest on a 1920x1080 window showing a
//! slide (the generated demo slide, or `TESSERA_SLIDE=path`): 40 seeded random views,
//! each at a random zoom between a level's own scale and half of it (all levels in
//! turn), centred anywhere on the slide.
//! - cold: tile cache and textures emptied first; wall time from the view change to the
//!   first frame whose visible tiles are all decoded and uploaded (frames stepped as fast
//!   as they come while the workers decode; prefetching may still go on);
//! - warm: right after, five frames each panning that view by 3 points (a new cover,
//!   tiles resident): the CPU time of each frame (app logic, layout, tile lookups, draw
//!   list, AccessKit, then tessellation), not the GPU.
//!
//! Prints JSON lines (median, p95, max). Numbers go in the issue note, not assertions.

use std::time::{Duration, Instant};

use egui::Vec2;
use egui_kittest::Harness;
use tessera::app::slide_view::SlideCommand;
use tessera::app::{Command, TesseraApp};
use tessera::imaging::slide::synth::{SynthOptions, write_slide};

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stats(name: &str, mut v: Vec<f64>, extra: &str) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{{\"case\": \"{name}\", \"views\": {}, \"median_ms\": {:.2}, \"p95_ms\": {:.2}, \"max_ms\": {:.2}{extra}}}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        v.last().copied().unwrap_or(0.0)
    )
}

/// Steps frames until every visible tile is drawn (prefetching may go on).
fn settle(harness: &mut Harness<'_, TesseraApp>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        harness.step();
        let done = harness
            .state()
            .slide()
            .is_some_and(|s| !s.is_opening() && s.missing_visible() == 0);
        if done {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = match std::env::var_os("TESSERA_SLIDE") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let p = dir.path().join("demo.svs");
            write_slide(&p, &SynthOptions::demo())?;
            p
        }
    };
    let paths = vec![path];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1920.0, 1080.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths));
    let opened = Instant::now();
    assert!(settle(&mut harness), "the slide did not open");
    let first_view_ms = opened.elapsed().as_secs_f64() * 1e3;
    harness.render()?;
    let (levels, w, h) = {
        let info = harness
            .state()
            .slide()
            .and_then(|s| s.info())
            .ok_or("no slide")?;
        let l0 = info.levels[0];
        (info.levels.clone(), l0.width as f64, l0.height as f64)
    };
    let mut state = 0x5EED_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let views: Vec<([f64; 2], f64)> = (0..40)
        .map(|i| {
            let level = &levels[i % levels.len()];
            let zoom = (0.5 + 0.5 * next()) / level.downsample;
            ([next() * w, next() * h], zoom)
        })
        .collect();
    let ctx = harness.ctx.clone();
    let show = |harness: &mut Harness<'_, TesseraApp>, (c, z): ([f64; 2], f64)| {
        harness.state_mut().apply(
            &ctx,
            Command::Slide(SlideCommand::Show {
                center_level0: c,
                zoom_px: z,
            }),
        );
    };
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut incomplete = 0;
    let mut warm_missing = 0;
    for v in &views {
        if let Some(slide) = harness.state_mut().slide_mut() {
            slide.clear_tiles();
        }
        let start = Instant::now();
        show(&mut harness, *v);
        incomplete += usize::from(!settle(&mut harness));
        cold.push(start.elapsed().as_secs_f64() * 1e3);
        // Warm: the view's tiles are resident; pan by a few points (a new cover, the
        // same tiles) and time that one frame.
        for step in 0..5 {
            harness.state_mut().apply(
                &ctx,
                Command::Slide(SlideCommand::Pan {
                    delta: [if step % 2 == 0 { 3.0 } else { -3.0 }, 0.0],
                }),
            );
            let cpu = thread_cpu_ns();
            harness.step();
            let output = harness.output();
            std::hint::black_box(
                harness
                    .ctx
                    .tessellate(output.shapes.clone(), output.pixels_per_point),
            );
            warm.push((thread_cpu_ns() - cpu) as f64 / 1e6);
            warm_missing += harness.state().slide().map_or(0, |s| s.missing_visible());
        }
    }
    println!("{{\"case\": \"open to complete first view\", \"ms\": {first_view_ms:.1}}}");
    println!(
        "{}",
        stats(
            "cold view, 1920x1080, decode + upload until complete (wall)",
            cold,
            &format!(", \"incomplete\": {incomplete}")
        )
    );
    println!(
        "{}",
        stats(
            "warm frame, 1920x1080, panning (CPU, incl. tessellation)",
            warm,
            &format!(", \"tiles_missing\": {warm_missing}")
        )
    );
    Ok(())
}
