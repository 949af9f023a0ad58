//! Slide viewer refresh benchmark (`cargo bench --bench slide_viewer`; release, headless).
//!
//! Drives the real [`TesseraApp`] through egui_kittest on a 1920x1080 window showing a
//! slide (the generated demo slide, or `TESSERA_SLIDE=path`): 40 seeded random views,
//! each at a random zoom between a level's own scale and half of it (all levels in
//! turn), centred anywhere on the slide.
//! - cold: tile cache and textures emptied first; wall time from the view change to the
//!   first frame whose visible tiles are all decoded and uploaded (prefetching may still
//!   go on). Frames are stepped when the app asks for one, as eframe does: a worker's
//!   tile arrival or the UI's own request wakes the loop, which otherwise sleeps (no
//!   display rate cap). `TESSERA_BENCH_SPIN=1` steps frames back to back instead (the
//!   first definition: on a 2-core machine that busy loop takes a core from the tile
//!   decoders, which the real app never does);
//! - warm: right after, five frames each panning that view by 3 points (a new cover,
//!   tiles resident): the CPU time of each frame (app logic, layout, tile lookups, draw
//!   list, AccessKit, then tessellation), not the GPU.
//!
//! After every frame the GPU queue is submitted, as eframe does when it paints: the
//! texture uploads are carried out and their staging memory is recycled (without it,
//! every upload would be copied into never-freed memory and never reach a texture).
//! Nothing is drawn and nothing read back.
//!
//! Prints JSON lines (median, p95, max). Numbers go in the issue note, not assertions.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use eframe::egui_wgpu::{RenderState, wgpu};
use egui::Vec2;
use egui_kittest::Harness;
use tessera::app::slide_view::SlideCommand;
use tessera::app::{Command, TesseraApp};
use tessera::imaging::slide::synth::{SynthOptions, write_slide};

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// CPU time of the whole process (UI thread, tile workers, the GPU driver's threads).
fn process_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
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

/// The app's GPU device: what a painted frame submits.
struct Gpu(RenderState);

impl Gpu {
    /// Submits the frame's queued uploads and retires finished work.
    fn submit(&self) {
        self.0.queue.submit(std::iter::empty());
        let _ = self.0.device.poll(wgpu::PollType::Poll);
    }
}

/// When the app next wants a frame: set by egui's repaint callback (from any thread).
#[derive(Default)]
struct Wake {
    next: Mutex<Option<Instant>>,
    changed: Condvar,
}

impl Wake {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request(&self, at: Instant) {
        let mut next = self.lock();
        if next.is_none_or(|t| at < t) {
            *next = Some(at);
        }
        self.changed.notify_all();
    }

    /// Sleeps until the requested frame time (or `limit`), then takes the request.
    fn wait(&self, limit: Instant) {
        let mut next = self.lock();
        loop {
            let now = Instant::now();
            let until = match *next {
                Some(t) if t <= now => {
                    *next = None;
                    return;
                }
                Some(t) => t.min(limit),
                None => limit,
            };
            if until <= now {
                return;
            }
            next = match self.changed.wait_timeout(next, until - now) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// Steps frames until every visible tile is drawn (prefetching may go on): back to back
/// when `wake` is `None`, else when the app asks for a frame.
fn settle(harness: &mut Harness<'_, TesseraApp>, gpu: &Gpu, wake: Option<&Wake>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        harness.step();
        gpu.submit();
        if let Some(wake) = wake {
            // The frame's own request (egui's repaint delay), then wait for any request.
            let delay = harness
                .output()
                .viewport_output
                .get(&egui::ViewportId::ROOT)
                .map_or(Duration::MAX, |v| v.repaint_delay);
            if let Some(at) = Instant::now().checked_add(delay) {
                wake.request(at);
            }
            // While the slide opens, look again every 20 ms as well: the opening
            // thread's wake-up can come before this harness listens for it (the app
            // starts opening as it is built), and would then be lost.
            let opening = harness.state().slide().is_none_or(|s| s.is_opening());
            let limit = if opening {
                deadline.min(Instant::now() + Duration::from_millis(20))
            } else {
                deadline
            };
            wake.wait(limit);
        }
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
    let gpu: Arc<Mutex<Option<RenderState>>> = Arc::default();
    let app_gpu = Arc::clone(&gpu);
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1920.0, 1080.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| {
            *app_gpu.lock().unwrap_or_else(PoisonError::into_inner) = cc.wgpu_render_state.clone();
            TesseraApp::new(cc, paths)
        });
    let gpu = gpu.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let Some(gpu) = gpu else {
        return Err("no wgpu device".into());
    };
    let gpu = Gpu(gpu);
    let spin = std::env::var_os("TESSERA_BENCH_SPIN").is_some_and(|v| v == "1");
    let wake = Arc::new(Wake::default());
    {
        let wake = Arc::clone(&wake);
        harness.ctx.set_request_repaint_callback(move |info| {
            if let Some(at) = Instant::now().checked_add(info.delay) {
                wake.request(at);
            }
        });
    }
    let wake = (!spin).then_some(&*wake);
    let opened = Instant::now();
    assert!(settle(&mut harness, &gpu, wake), "the slide did not open");
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
    // Beside the wall time (which a busy machine stretches): the CPU each cold view
    // took, all threads and the UI thread alone, and the tiles decoded for it.
    let mut cold_cpu = Vec::new();
    let mut cold_ui_cpu = Vec::new();
    let mut cold_tiles = Vec::new();
    let mut warm = Vec::new();
    let mut incomplete = 0;
    let mut warm_missing = 0;
    for v in &views {
        if let Some(slide) = harness.state_mut().slide_mut() {
            slide.clear_tiles();
        }
        let decoded = harness.state().slide().map_or(0, |s| s.tiles_decoded());
        let (cpu, ui_cpu) = (process_cpu_ns(), thread_cpu_ns());
        let start = Instant::now();
        show(&mut harness, *v);
        incomplete += usize::from(!settle(&mut harness, &gpu, wake));
        cold.push(start.elapsed().as_secs_f64() * 1e3);
        cold_cpu.push((process_cpu_ns() - cpu) as f64 / 1e6);
        cold_ui_cpu.push((thread_cpu_ns() - ui_cpu) as f64 / 1e6);
        let now_decoded = harness.state().slide().map_or(0, |s| s.tiles_decoded());
        cold_tiles.push((now_decoded - decoded) as f64);
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
            gpu.submit();
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
            &format!(
                "cold view, 1920x1080, decode + upload until complete (wall, frames {})",
                if spin { "back to back" } else { "on request" }
            ),
            cold,
            &format!(", \"incomplete\": {incomplete}")
        )
    );
    println!("{}", stats("cold view, CPU of all threads", cold_cpu, ""));
    println!(
        "{}",
        stats("cold view, CPU of the UI thread", cold_ui_cpu, "")
    );
    println!(
        "{}",
        stats("cold view, tiles decoded by then (count)", cold_tiles, "")
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
