//! Viewer frame-time benchmark (`cargo bench --bench viewer`; release build, headless).
//!
//! Drives the real [`TesseraApp`] through egui_kittest (wgpu on whatever adapter is
//! there, lavapipe on a machine without a GPU): loads the full demo CT (160 × 512²),
//! switches to the 1×3 MPR layout and scrolls the axial view one slice per frame, then
//! the coronal view, timing the CPU side of each frame (app logic, layout, the three
//! viewports' paint callbacks, tessellation, AccessKit tree), not the GPU. Prints the
//! median and p99 per layout as JSON. Numbers go in the issue note, not assertions.

use std::time::{Duration, Instant};

use egui::{Event, Key, Modifiers, MouseWheelSource, MouseWheelUnit, TouchPhase, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::app::TesseraApp;
use tessera::imaging::demo::{DemoSpec, write_demo_study_with};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn scroll_frames(harness: &mut Harness<'_, TesseraApp>, label: &str, frames: usize) -> Vec<f64> {
    let centre = harness.get_by_label(label).rect().center();
    harness.hover_at(centre);
    harness.run();
    let mut times = Vec::with_capacity(frames);
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
        harness.step();
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
    times
}

fn summary(name: &str, mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    format!(
        "{{\"case\": \"{name}\", \"frames\": {}, \"median_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}}}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0)
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
    mpr.extend(scroll_frames(&mut harness, "Coronal viewport", 240));
    println!("{}", summary("1x1 axial scroll", single));
    println!("{}", summary("1x3 MPR scroll (axial + coronal)", mpr));
    Ok(())
}
