//! Viewer frame-time benchmark (`cargo bench --bench viewer`; release build, headless).
//!
//! Drives the real [`TesseraApp`] through egui_kittest (wgpu on whatever adapter is
//! there, lavapipe on a machine without a GPU): loads the full demo CT (160 × 512²),
//! switches to the 1×3 MPR layout and scrolls the axial view one slice per frame, then
//! the coronal view, timing the CPU side of each frame (app logic, layout, the three
//! viewports' paint callbacks, AccessKit tree, then tessellation of the frame's
//! shapes), not the GPU. Prints the
//! median and p99 per layout as JSON, of the frame's CPU time (this thread's CPU clock,
//! which excludes waiting for a core on a busy machine) and of its wall time. Numbers go in the issue note, not assertions.

use std::time::{Duration, Instant};

use egui::{Event, Key, Modifiers, MouseWheelSource, MouseWheelUnit, TouchPhase, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::app::TesseraApp;
use tessera::imaging::demo::{DemoSpec, write_demo_study_with};

/// This thread's CPU time so far, ns (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// (CPU ms, wall ms) per frame.
fn scroll_frames(
    harness: &mut Harness<'_, TesseraApp>,
    label: &str,
    frames: usize,
) -> (Vec<f64>, Vec<f64>) {
    let centre = harness.get_by_label(label).rect().center();
    harness.hover_at(centre);
    harness.run();
    let mut times = Vec::with_capacity(frames);
    let mut cpu = Vec::with_capacity(frames);
    let mut moved = 0usize;
    let mut last = harness.state().current_view().map(|v| v.cursor);
    for n in 0..frames {
        // Down the stack and back up again, one slice per frame.
        let lines = if (n / 60) % 2 == 0 { -1.0 } else { 1.0 };
        harness.event(Event::MouseWheel {
            unit: MouseWheelUnit::Line,
            delta: Vec2::new(0.0, lines),
            phase: TouchPhase::Move,
            source: MouseWheelSource::Wheel,
            modifiers: Modifiers::NONE,
        });
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        harness.step();
        // What an integration does next on the CPU: tessellate the frame's shapes.
        let output = harness.output();
        let primitives = harness
            .ctx
            .tessellate(output.shapes.clone(), output.pixels_per_point);
        std::hint::black_box(primitives);
        cpu.push((thread_cpu_ns() - cpu_start) as f64 / 1e6);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let now = harness.state().current_view().map(|v| v.cursor);
        moved += usize::from(now != last);
        last = now;
    }
    // Every frame must have shown a new slice, or the benchmark measured nothing.
    assert_eq!(
        moved, frames,
        "{label}: {moved} of {frames} frames changed slice"
    );
    (cpu, times)
}

fn summary(name: &str, (mut cpu, mut wall): (Vec<f64>, Vec<f64>)) -> String {
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    format!(
        "{{\"case\": \"{name}\", \"frames\": {}, \"cpu_median_ms\": {:.3}, \"cpu_p99_ms\": {:.3}, \"cpu_max_ms\": {:.3}, \"wall_median_ms\": {:.3}, \"wall_p99_ms\": {:.3}}}",
        cpu.len(),
        percentile(&cpu, 0.5),
        percentile(&cpu, 0.99),
        cpu.last().copied().unwrap_or(0.0),
        percentile(&wall, 0.5),
        percentile(&wall, 0.99),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::FULL, |_| {})?;
    let paths = vec![dir.path().to_path_buf()];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1600.0, 900.0))
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths));
    let deadline = Instant::now() + Duration::from_secs(120);
    while harness.state().is_loading() && Instant::now() < deadline {
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run();
    // Upload the volume once (as the first real frame would), outside the timing.
    harness.render()?;

    let single = scroll_frames(&mut harness, "Image viewport", 240);
    harness.key_press(Key::F6);
    harness.run();
    harness.render()?;
    let mut mpr = scroll_frames(&mut harness, "Axial viewport", 240);
    let coronal = scroll_frames(&mut harness, "Coronal viewport", 240);
    mpr.0.extend(coronal.0);
    mpr.1.extend(coronal.1);
    println!("{}", summary("1x1 axial scroll", single));
    println!("{}", summary("1x3 MPR scroll (axial + coronal)", mpr));
    Ok(())
}
