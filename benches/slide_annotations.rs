//! Slide annotation drawing benchmark (`cargo bench --bench slide_annotations`; release,
//! headless).
//!
//! Drives the real [`TesseraApp`] through egui_kittest on a 1920x1080 window showing the
//! generated demo slide (8192 x 6144) with a project open and 100,000 annotations (half
//! cell-counting points, half small polygons of 6-16 vertices, 4-40 px across) put straight
//! into the slide's annotation layer. For the whole slide fitted, and for seeded random
//! views at 1x, 5x, 10x, 20x and 40x (1x is clamped to the least zoom, half the fitted
//! one, on the demo slide), 20 frames pan by 3 points back and forth with the tiles
//! resident, then 20 frames zoom by 2% out and in about the centre (every one a new
//! zoom: the overlay is rebuilt; the tiles of both zooms are made resident first); each
//! frame's CPU time (app logic, layout, the grid
//! query and the annotation shapes, AccessKit, then tessellation) is recorded, not the
//! GPU.
//!
//! Prints JSON lines (median, p95, p99, max, objects in view per frame, of them merged
//! into cluster cells). Numbers go in the issue note, not assertions.
//! `TESSERA_BENCH_OBJECTS=0` gives the baseline without annotations;
//! `TESSERA_BENCH_CASES=20x,fit` runs only those views; `TESSERA_BENCH_PNG=DIR` saves a
//! picture of each view (rendered, not timed).

use std::time::{Duration, Instant};

use egui::Vec2;
use egui_kittest::Harness;
use tessera::app::slide_view::SlideCommand;
use tessera::app::{Command, TesseraApp};
use tessera::imaging::slide::synth::{SynthOptions, write_slide};
use tessera::project::model::{Annotation, AnnotationBody, Kind, Label};
use tessera::project::{Id, KdfChoice, KdfParams, Project};

const FRAMES_PER_VIEW: usize = 20;

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stats(name: &str, mut v: Vec<f64>, drawn: usize, merged: usize) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{{\"case\": \"{name}\", \"frames\": {}, \"median_ms\": {:.2}, \"p95_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}, \"objects_in_view_per_frame\": {}, \"merged\": {}}}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(0.0),
        drawn,
        merged
    )
}

/// Steps one frame after `command` and returns its CPU time (ms).
fn timed_frame(harness: &mut Harness<'_, TesseraApp>, command: SlideCommand) -> f64 {
    let ctx = harness.ctx.clone();
    harness.state_mut().apply(&ctx, Command::Slide(command));
    let cpu = thread_cpu_ns();
    harness.step();
    let output = harness.output();
    std::hint::black_box(
        harness
            .ctx
            .tessellate(output.shapes.clone(), output.pixels_per_point),
    );
    (thread_cpu_ns() - cpu) as f64 / 1e6
}

/// Steps frames until every visible tile is drawn.
fn settle(harness: &mut Harness<'_, TesseraApp>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
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
    // TESSERA_BENCH_OBJECTS=0 gives the baseline without annotations.
    let objects: usize = std::env::var("TESSERA_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("demo.svs");
    let opts = SynthOptions::demo();
    write_slide(&path, &opts)?;
    let (w, h) = (f64::from(opts.width), f64::from(opts.height));
    let project = dir.path().join("bench.tessera");
    let (session, _) = Project::create(
        &project,
        "bench",
        b"bench",
        KdfChoice::Fixed(KdfParams {
            m_kib: 64,
            t_cost: 1,
            p_lanes: 1,
        }),
    )?;
    let paths = vec![path];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1920.0, 1080.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths));
    assert!(settle(&mut harness), "the slide did not open");
    harness.state_mut().open_project(session, project);
    // The fingerprint first (it reloads the layer from the project), then the objects.
    let deadline = Instant::now() + Duration::from_secs(60);
    let image = loop {
        harness.step();
        if let Some(image) = harness
            .state()
            .slide()
            .and_then(|s| s.annotations())
            .and_then(|a| a.image())
        {
            break image;
        }
        assert!(Instant::now() < deadline, "no fingerprint");
    };

    let mut state = 0x5EED_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let classes = ["Tumour cell", "Lymphocyte", "Mitosis", "Stroma"];
    let mut annotations = Vec::with_capacity(objects);
    for i in 0..objects {
        let (cx, cy) = (next() * w, next() * h);
        let (kind, points) = if i % 2 == 0 {
            (Kind::Point, vec![[cx, cy]])
        } else {
            let n = 6 + (next() * 10.0) as usize;
            let r = 2.0 + next() * 18.0;
            let points = (0..n)
                .map(|k| {
                    let a = k as f64 / n as f64 * std::f64::consts::TAU;
                    let rr = r * (0.7 + 0.3 * next());
                    [cx + rr * a.cos(), cy + rr * a.sin()]
                })
                .collect();
            (Kind::Polygon, points)
        };
        annotations.push(Annotation {
            id: Id::random()?,
            body: AnnotationBody {
                image: image.clone(),
                kind,
                points,
                label: Label {
                    name: classes[i % classes.len()].into(),
                    scheme: None,
                    code: None,
                    meaning: None,
                },
                comment: None,
            },
        });
    }
    let loaded = Instant::now();
    harness
        .state_mut()
        .slide_mut()
        .and_then(|s| s.annotations_mut())
        .ok_or("no slide")?
        .set_annotations(annotations);
    let index_ms = loaded.elapsed().as_secs_f64() * 1e3;
    println!("{{\"case\": \"measure and index {objects} objects\", \"ms\": {index_ms:.1}}}");

    let ctx = harness.ctx.clone();
    let objective = harness
        .state()
        .slide()
        .and_then(|s| s.info())
        .and_then(|i| i.objective_power)
        .unwrap_or(40.0);
    let mut all = Vec::new();
    let cases: Vec<(&str, Option<f64>)> = vec![
        ("fit (whole slide)", None),
        ("1x", Some(1.0)),
        ("5x", Some(5.0)),
        ("10x", Some(10.0)),
        ("20x", Some(20.0)),
        ("40x", Some(40.0)),
    ];
    let in_view = |harness: &Harness<'_, TesseraApp>| {
        harness
            .state()
            .slide()
            .and_then(|s| s.annotations())
            .map_or((0, 0), |a| (a.drawn, a.merged))
    };
    // TESSERA_BENCH_CASES=20x,40x runs only those views (profiling).
    let only: Option<Vec<String>> = std::env::var("TESSERA_BENCH_CASES")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    // TESSERA_BENCH_PNG=DIR saves each view's first picture there (to look at the LOD).
    let pictures = std::env::var_os("TESSERA_BENCH_PNG").map(std::path::PathBuf::from);
    for (name, magnification) in cases {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|c| name.starts_with(c.as_str())))
        {
            continue;
        }
        let mut panning = Vec::new();
        let mut zooming = Vec::new();
        let mut drawn = (0, 0);
        for _ in 0..if magnification.is_some() { 5 } else { 1 } {
            let command = match magnification {
                None => SlideCommand::Fit,
                Some(m) => SlideCommand::Show {
                    center_level0: [next() * w, next() * h],
                    zoom_px: m / objective,
                },
            };
            harness.state_mut().apply(&ctx, Command::Slide(command));
            settle(&mut harness);
            if let Some(dir) = &pictures {
                let file = format!("{}.png", name.split(' ').next().unwrap_or(name));
                harness.render()?.save(dir.join(file))?;
            }
            for step in 0..FRAMES_PER_VIEW {
                let delta = [if step % 2 == 0 { 3.0 } else { -3.0 }, 0.0];
                panning.push(timed_frame(&mut harness, SlideCommand::Pan { delta }));
                drawn = in_view(&harness);
            }
            let about = harness
                .state()
                .slide()
                .and_then(|s| s.view())
                .map_or([0.0, 0.0], |v| {
                    [(v.screen_px[0] / 2.0) as f32, (v.screen_px[1] / 2.0) as f32]
                });
            // Both zooms' tiles resident first (a 2% step can cross to another level).
            for factor in [1.0 / 1.02, 1.02] {
                let command = SlideCommand::Zoom { factor, about };
                harness.state_mut().apply(&ctx, Command::Slide(command));
                settle(&mut harness);
            }
            for step in 0..FRAMES_PER_VIEW {
                let factor = if step % 2 == 0 { 1.0 / 1.02 } else { 1.02 };
                zooming.push(timed_frame(
                    &mut harness,
                    SlideCommand::Zoom { factor, about },
                ));
            }
        }
        all.extend(panning.iter().copied());
        all.extend(zooming.iter().copied());
        println!(
            "{}",
            stats(
                &format!("frame, {objects} objects, {name}, 1920x1080 (CPU incl. tessellation)"),
                panning,
                drawn.0,
                drawn.1
            )
        );
        println!(
            "{}",
            stats(
                &format!(
                    "zooming frame, {objects} objects, {name}, 1920x1080 (CPU incl. tessellation)"
                ),
                zooming,
                drawn.0,
                drawn.1
            )
        );
    }
    println!(
        "{}",
        stats(
            &format!(
                "frame, {objects} objects, all views, panning and zooming (CPU incl. tessellation)"
            ),
            all,
            0,
            0
        )
    );
    Ok(())
}
