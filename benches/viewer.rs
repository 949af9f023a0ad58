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
    // Issue 5: the same scroll with 1,000 vector annotations on the series (about six
    // per slice: rulers, ellipses, 24-point polygons), from an opened project.
    harness.key_press(Key::F5);
    harness.run();
    let project_dir = tempfile::tempdir()?;
    let session =
        project_with_annotations(dir.path(), &project_dir.path().join("b.tessera"), 1000)?;
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .open_project(session, project_dir.path().join("b.tessera"));
    let _ = ctx;
    harness.run();
    let shown = harness.state().annotation_layer().shown.len();
    assert_eq!(shown, 1000, "the annotations did not load");
    let annotated = scroll_frames(&mut harness, "Image viewport", 240);
    // Issue 5: a 3D brush stroke of 50 dabs at 10 mm radius on the full demo CT, one
    // dab per frame, through the real app (model update and the changed bricks queued
    // for the GPU), then its commit as one edit when the button is released.
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .apply(&ctx, tessera::app::Command::SetBrushSphere(true));
    harness
        .state_mut()
        .apply(&ctx, tessera::app::Command::SetBrushRadius(10.0));
    harness.key_press(Key::B);
    harness.run();
    let centre = harness.get_by_label("Image viewport").rect().center();
    let start = centre - Vec2::new(60.0, 0.0);
    harness.hover_at(start);
    harness.run();
    harness.drag_at(start);
    harness.step();
    let mut dab_cpu = Vec::new();
    let mut dab_wall = Vec::new();
    for n in 1..=50 {
        harness.hover_at(start + Vec2::new(2.4 * n as f32, 0.0));
        let t = Instant::now();
        let c = thread_cpu_ns();
        harness.step();
        dab_cpu.push((thread_cpu_ns() - c) as f64 / 1e6);
        dab_wall.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let end = start + Vec2::new(120.0, 0.0);
    let t = Instant::now();
    harness.drop_at(end);
    harness.step();
    let commit_ms = t.elapsed().as_secs_f64() * 1000.0;
    harness.run();
    let painted = harness
        .state()
        .segmentation_layer()
        .shown
        .as_ref()
        .and_then(|s| s.stats.get(&1).map(|x| x.volume_ml))
        .unwrap_or(0.0);
    assert!(painted > 1.0, "the stroke painted {painted} mL");

    println!("{}", summary("1x1 axial scroll", single));
    println!("{}", summary("1x3 MPR scroll (axial + coronal)", mpr));
    println!(
        "{}",
        summary("1x1 axial scroll, 1000 annotations", annotated)
    );
    println!(
        "{}",
        summary(
            "3D brush, 10 mm, one dab per frame (50)",
            (dab_cpu, dab_wall)
        )
    );
    println!(
        "{{\"case\": \"brush stroke commit (one edit)\", \"wall_ms\": {commit_ms:.2}, \"painted_ml\": {painted:.2}}}"
    );
    Ok(())
}

/// A project holding `n` annotations spread over the demo CT's slices.
fn project_with_annotations(
    study: &std::path::Path,
    path: &std::path::Path,
    n: usize,
) -> Result<tessera::project::Session, Box<dyn std::error::Error>> {
    use tessera::imaging::discovery::discover;
    use tessera::project::model::{
        Annotation, AnnotationBody, Edit, EventPayload, ImageRef, Kind, Label,
    };
    use tessera::project::{Id, KdfChoice, KdfParams, Project};
    let found = discover(&[study.to_path_buf()]);
    let series = found
        .patients
        .iter()
        .flat_map(|p| &p.studies)
        .flat_map(|s| &s.series)
        .find(|s| s.modality == "CT")
        .ok_or("no CT in the demo")?;
    let stack = series.stacks.first().ok_or("no stack")?;
    let (mut session, _) = Project::create(
        path,
        "bench",
        b"bench passphrase",
        KdfChoice::Fixed(KdfParams {
            m_kib: 64,
            t_cost: 1,
            p_lanes: 1,
        }),
    )?;
    let mut payloads = Vec::with_capacity(n);
    for i in 0..n {
        let slice = &stack.slices[i % stack.slices.len()];
        let (kind, points): (Kind, Vec<[f64; 2]>) = match i % 3 {
            0 => (
                Kind::Ruler,
                vec![[100.0 + i as f64 % 300.0, 120.0], [180.0, 260.0]],
            ),
            1 => (
                Kind::Ellipse,
                vec![[200.0, 200.0], [240.0 + (i % 50) as f64, 260.0]],
            ),
            _ => (
                Kind::Polygon,
                (0..24)
                    .map(|k| {
                        let t = k as f64 / 24.0 * std::f64::consts::TAU;
                        [300.0 + 30.0 * t.cos(), 300.0 + 30.0 * t.sin()]
                    })
                    .collect(),
            ),
        };
        payloads.push(EventPayload::new(Edit::Create {
            annotation: Annotation {
                id: Id::random()?,
                body: AnnotationBody {
                    image: ImageRef::Dicom {
                        series_uid: series.series_instance_uid.clone(),
                        sop_uid: Some(slice.instance.sop_instance_uid.clone()),
                        frame: Some(slice.frame),
                        plane: None,
                        provenance: None,
                    },
                    kind,
                    points,
                    label: Label {
                        name: "Lesion".into(),
                        scheme: Some("SCT".into()),
                        code: Some("52988006".into()),
                        meaning: Some("Lesion".into()),
                    },
                    comment: None,
                },
            },
        }));
    }
    session.commit_payloads(&payloads)?;
    Ok(session)
}
