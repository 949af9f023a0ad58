//! The slide screen, driven headless: open a generated slide, wait for its tiles,
//! zoom with presets and the wheel, pan by dragging, properties, the label on request.

use std::path::Path;

use egui::{Event, Modifiers, MouseWheelSource, MouseWheelUnit, TouchPhase, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tessera::app::TesseraApp;
use tessera::imaging::slide::synth::{SynthOptions, write_slide};
use tessera::project::model::ImageRef;
use tessera::project::{Project, VerifyOnOpen};

use crate::project::TINY;
use crate::ui_support::run_until;

/// Steps until the slide is open and no tile is queued or decoding.
fn settle(harness: &mut Harness<'static, TesseraApp>) {
    // run_until ends with a run: uploads are spread over frames, the last tiles too.
    run_until(harness, "the slide settling", |app| {
        app.slide()
            .is_some_and(|s| !s.is_opening() && s.pending_tiles() == 0)
    });
}

fn slide_app(path: &Path) -> Harness<'static, TesseraApp> {
    let paths = vec![path.to_path_buf()];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1200.0, 800.0))
        .with_max_steps(16)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths));
    settle(&mut harness);
    harness
}

fn magnification(harness: &Harness<'_, TesseraApp>) -> f64 {
    let node = harness.get_by_label_contains("Magnification ");
    // Labels keep their text in the AccessKit value.
    let label = node.accesskit_node().value().unwrap_or_default();
    label
        .trim_start_matches("Magnification ")
        .trim_end_matches('×')
        .parse()
        .unwrap_or_else(|_| panic!("{label:?}"))
}

fn centre(harness: &Harness<'_, TesseraApp>) -> [f64; 2] {
    harness
        .state()
        .slide()
        .and_then(|s| s.view())
        .unwrap()
        .center_level0
}

#[test]
fn a_slide_opens_zooms_pans_and_shows_its_properties() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("slide.svs");
    write_slide(&path, &SynthOptions::small(3000, 2000))?;
    let mut harness = slide_app(&path);

    // Fitted: the whole 3000 px wide slide in ~1200 points at 40x: about 15x.
    let viewport = harness.get_by_label("Slide viewport").rect();
    harness.get_by_label("Slide overview");
    let fitted = magnification(&harness);
    assert!((5.0..20.0).contains(&fitted), "{fitted}");
    harness.get_by_label_contains("Level ");
    let overview_ms = harness.state().slide().and_then(|s| s.overview_ms());
    assert!(overview_ms.is_some(), "the overview was drawn");
    eprintln!(
        "slide screen: overview on screen {overview_ms:?} ms after the open request (kittest)"
    );

    // Presets: 20x, then 40x (one screen pixel per scanned pixel).
    harness.get_by_label("20×").click();
    harness.run();
    settle(&mut harness);
    assert!((magnification(&harness) - 20.0).abs() < 0.01);
    harness.get_by_label("40×").click();
    harness.run();
    settle(&mut harness);
    assert!((magnification(&harness) - 40.0).abs() < 0.01);
    harness.get_by_label_contains("Level 0 of 5");

    // The wheel zooms about the pointer: the slide point under it stays put.
    let at = viewport.center() + Vec2::new(-200.0, 100.0);
    harness.hover_at(at);
    harness.run();
    let before = centre(&harness);
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, -2.0),
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
        modifiers: Modifiers::NONE,
    });
    harness.run();
    settle(&mut harness);
    let zoomed_out = magnification(&harness);
    assert!((zoomed_out - 40.0 / 1.5625).abs() < 0.05, "{zoomed_out}");
    let after = centre(&harness);
    // Zooming out about a point left of and below the centre moves the centre away
    // from it: right and up.
    assert!(
        after[0] > before[0] && after[1] < before[1],
        "{before:?} -> {after:?}"
    );

    // Dragging right moves the slide right: the centre moves left.
    let before = centre(&harness);
    harness.drag_at(viewport.center());
    harness.hover_at(viewport.center() + Vec2::new(150.0, 0.0));
    harness.drop_at(viewport.center() + Vec2::new(150.0, 0.0));
    harness.run();
    let after = centre(&harness);
    assert!(after[0] < before[0] - 50.0, "{before:?} -> {after:?}");

    // Properties: resolution and levels, never the identifying ones; the label image
    // only on request.
    harness.get_by_label("Properties").click();
    harness.run();
    harness.get_by_label("openslide.mpp-x");
    // The format, in the summary and as openslide.vendor.
    assert_eq!(harness.query_all_by_label("aperio").count(), 2);
    assert!(
        harness
            .query_by_label_contains("synthetic-do-not-show")
            .is_none()
    );
    assert!(
        harness
            .query_by_label_contains("Associated image: label")
            .is_none()
    );
    harness.get_by_label("Show label image").click();
    harness.run();
    harness.get_by_label_contains("May identify the patient");

    // Panel closed and fitted again: the first view; it renders through wgpu.
    harness.get_by_label("Properties").click();
    harness.run();
    harness.get_by_label("Fit").click();
    harness.run();
    settle(&mut harness);
    let refitted = magnification(&harness);
    assert!((refitted - fitted).abs() < 0.01, "{fitted} {refitted}");
    let image = harness.render()?;
    assert_eq!((image.width(), image.height()), (1200, 800));

    harness.get_by_label("Close slide").click();
    harness.run();
    assert!(harness.state().slide().is_none());
    Ok(())
}

#[test]
fn a_file_that_is_not_a_slide_reports_one_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.svs");
    std::fs::write(&path, b"II*\0garbage that is not a TIFF directory").unwrap();
    let paths = vec![path.clone()];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(900.0, 600.0))
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths));
    run_until(&mut harness, "the slide open failing", |app| {
        app.slide().is_none()
    });
    harness.get_by_label_contains("broken.svs");
}

/// Steps until the slide's fingerprint is known (annotating waits for it).
fn fingerprinted(harness: &mut Harness<'static, TesseraApp>) -> ImageRef {
    let image = |app: &TesseraApp| {
        app.slide()
            .and_then(|s| s.annotations())
            .and_then(|a| a.image())
    };
    run_until(harness, "the slide fingerprint", |app| image(app).is_some());
    image(harness.state()).expect("run_until waited for it")
}

fn slide_objects(harness: &Harness<'_, TesseraApp>) -> usize {
    harness
        .state()
        .slide()
        .and_then(|s| s.annotations())
        .map_or(0, |a| a.objects.len())
}

fn click_at(harness: &mut Harness<'static, TesseraApp>, at: egui::Pos2) {
    harness.hover_at(at);
    harness.run();
    harness.drag_at(at);
    harness.drop_at(at);
    harness.run();
}

#[test]
fn slide_annotations_are_drawn_measured_undone_and_kept() -> Result<(), Box<dyn std::error::Error>>
{
    use tessera::project::model::Kind;
    let dir = tempfile::tempdir()?;
    let slide = dir.path().join("slide.svs");
    let mpp = 0.25;
    write_slide(&slide, &SynthOptions::small(3000, 2000))?;
    let project = dir.path().join("p.tessera");
    let (session, _) = Project::create(&project, "alice", b"pw-a", TINY)?;
    let mut harness = slide_app(&slide);
    harness.state_mut().open_project(session, project.clone());
    let image = fingerprinted(&mut harness);
    assert!(matches!(&image, ImageRef::Slide { slide_sha256 } if slide_sha256.len() == 64));
    harness.get_by_label("Annotations");

    // A rectangle dragged on the slide: stored in level-0 pixels, measured in µm².
    harness.get_by_label("Rectangle").click();
    harness.run();
    let viewport = harness.get_by_label("Slide viewport").rect();
    let view = harness.state().slide().and_then(|s| s.view()).unwrap();
    let level0 = |p: egui::Pos2| {
        view.level0_from_screen([
            f64::from(p.x - viewport.min.x),
            f64::from(p.y - viewport.min.y),
        ])
    };
    let (a, b) = (
        viewport.center() + Vec2::new(-150.0, -80.0),
        viewport.center() + Vec2::new(120.0, 90.0),
    );
    harness.hover_at(a);
    harness.run();
    harness.drag_at(a);
    harness.hover_at(a + Vec2::new(40.0, 30.0));
    harness.run();
    harness.hover_at(b);
    harness.run();
    harness.drop_at(b);
    harness.run();
    assert_eq!(slide_objects(&harness), 1);
    let stored = harness
        .state_mut()
        .project_session()
        .unwrap()
        .annotations_for_image(&image)?;
    assert_eq!(stored.len(), 1);
    let rect = &stored[0].body;
    assert_eq!(rect.kind, Kind::Rectangle);
    assert_eq!(rect.image, image);
    let (la, lb) = (level0(a), level0(b));
    for (got, want) in rect.points.iter().zip([la, lb]) {
        assert!(
            (got[0] - want[0]).abs() < 1.0 / view.zoom + 1e-6
                && (got[1] - want[1]).abs() < 1.0 / view.zoom + 1e-6,
            "{got:?} vs {want:?}"
        );
    }
    // Level-0 pixels: the drag spans more pixels than points at the fitted zoom (< 1).
    assert!(view.zoom < 1.0);
    assert!((rect.points[1][0] - rect.points[0][0]) > 270.0);
    let want_um2 = (lb[0] - la[0]).abs() * (lb[1] - la[1]).abs() * mpp * mpp;
    let shown = harness
        .state()
        .slide()
        .and_then(|s| s.annotations())
        .unwrap();
    let got_um2 = shown.objects[0].area_um2.unwrap();
    assert!(
        (got_um2 - want_um2).abs() / want_um2 < 0.01,
        "{got_um2} µm² vs {want_um2} µm²"
    );
    harness.get_by_label_contains("µm²");

    // Cell counting: three points with the current label.
    harness.get_by_label("Point").click();
    harness.run();
    for d in [
        Vec2::new(-300.0, 150.0),
        Vec2::new(-250.0, 170.0),
        Vec2::new(200.0, -150.0),
    ] {
        click_at(&mut harness, viewport.center() + d);
    }
    assert_eq!(slide_objects(&harness), 4);
    let counts = harness
        .state()
        .slide()
        .and_then(|s| s.annotations())
        .unwrap()
        .counts
        .clone();
    assert_eq!(counts.values().sum::<usize>(), 3, "{counts:?}");
    harness.get_by_label("Point counts");

    // Navigating, a click selects the object under the pointer (through the index);
    // a click on bare glass far from everything selects nothing.
    harness.get_by_label("Navigate").click();
    harness.run();
    click_at(&mut harness, viewport.center() + Vec2::new(-10.0, 10.0));
    let selected = harness
        .state()
        .slide()
        .and_then(|s| s.annotations())
        .and_then(|a| a.selected_object())
        .map(|o| o.annotation.body.kind);
    assert_eq!(selected, Some(Kind::Rectangle));
    harness.get_by_label_contains("Selected: ");
    click_at(&mut harness, viewport.center() + Vec2::new(-252.0, 166.0));
    let selected = harness
        .state()
        .slide()
        .and_then(|s| s.annotations())
        .and_then(|a| a.selected_object())
        .map(|o| o.annotation.body.kind);
    assert_eq!(selected, Some(Kind::Point), "a point 4.5 px away");
    click_at(&mut harness, viewport.min + Vec2::new(8.0, 8.0));
    assert!(
        harness
            .state()
            .slide()
            .and_then(|s| s.annotations())
            .is_some_and(|a| a.selected.is_none())
    );

    // Ctrl+Z takes the last point back, Ctrl+Y restores it; the list follows.
    harness.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    harness.run();
    assert_eq!(slide_objects(&harness), 3);
    harness.key_press_modifiers(Modifiers::COMMAND, egui::Key::Y);
    harness.run();
    assert_eq!(slide_objects(&harness), 4);

    std::fs::create_dir_all("target/tmp")?;
    harness.render()?.save("target/tmp/slide_annotations.png")?;
    drop(harness);

    // Reopened: the same four, on the same slide.
    let session = Project::open(&project)?.unlock("alice", b"pw-a", VerifyOnOpen::Yes)?;
    let mut harness = slide_app(&slide);
    harness.state_mut().open_project(session, project.clone());
    fingerprinted(&mut harness);
    assert_eq!(slide_objects(&harness), 4);
    let shown = harness
        .state()
        .slide()
        .and_then(|s| s.annotations())
        .unwrap();
    let points = shown
        .objects
        .iter()
        .filter(|o| o.annotation.body.kind == Kind::Point)
        .count();
    assert_eq!(points, 3);
    Ok(())
}

#[test]
fn slide_annotations_export_as_qupath_geojson_from_the_window()
-> Result<(), Box<dyn std::error::Error>> {
    use tessera::app::Command;
    use tessera::app::sync_jobs::SyncTask;
    use tessera::cli::labels_io::ExportFormat;
    use tessera::project::Id;
    use tessera::project::model::{Annotation, AnnotationBody, Edit, Kind, Label};
    let dir = tempfile::tempdir()?;
    let slide = dir.path().join("slide.svs");
    write_slide(&slide, &SynthOptions::small(3000, 2000))?;
    let sha = tessera::imaging::discovery::sha256_file(&slide)?;
    let project = dir.path().join("p.tessera");
    let (mut session, _) = Project::create(&project, "alice", b"pw-a", TINY)?;
    for (kind, points) in [
        (Kind::Rectangle, vec![[100.0, 100.0], [500.0, 300.0]]),
        (Kind::Point, vec![[700.0, 700.0]]),
        (Kind::Point, vec![[720.0, 690.0]]),
    ] {
        session.commit_edit(Edit::Create {
            annotation: Annotation {
                id: Id::random()?,
                body: AnnotationBody {
                    image: ImageRef::Slide {
                        slide_sha256: sha.clone(),
                    },
                    kind,
                    points,
                    label: Label {
                        name: "Tumour".into(),
                        scheme: None,
                        code: None,
                        meaning: None,
                    },
                    comment: None,
                },
            },
        })?;
    }
    let mut harness = slide_app(&slide);
    harness.state_mut().open_project(session, project.clone());
    fingerprinted(&mut harness);
    assert_eq!(slide_objects(&harness), 3);

    // The button asks first: the file will be plaintext.
    harness.get_by_label("Export QuPath GeoJSON…").click();
    harness.run();
    harness.get_by_label_contains("NOT encrypted");
    harness.get_by_label("Cancel").click();
    harness.run();

    // After the file dialog: the open slide's annotations, with its file for µm.
    let out = dir.path().join("slide.geojson");
    let request = harness
        .state()
        .export_request(ExportFormat::Geojson, out.clone());
    assert_eq!(request.case.as_deref(), Some(sha.as_str()));
    assert_eq!(request.slide.as_deref(), Some(slide.as_path()));
    let ctx = harness.ctx.clone();
    harness.state_mut().apply(
        &ctx,
        Command::StartSync(SyncTask::ExportLabels(Box::new(request))),
    );
    run_until(&mut harness, "the export", |app| !app.sync_busy());
    harness.get_by_label_contains("wrote QuPath GeoJSON with 2 features");
    let read = tessera::interop::geojson::read(&out)?;
    assert_eq!(read.objects.len(), 3);
    assert_eq!(read.slide_sha256.as_deref(), Some(sha.as_str()));
    assert!(std::fs::read_to_string(&out)?.contains("\"Area µm^2\""));
    Ok(())
}
