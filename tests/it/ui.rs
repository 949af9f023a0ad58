//! The workstation window, driven headless through its AccessKit labels: load a small
//! generated study, scroll slices with the wheel and keys, switch window presets.

use std::path::Path;

use egui::{Event, Key, Modifiers, MouseWheelSource, MouseWheelUnit, TouchPhase, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::app::TesseraApp;
use tessera::imaging::demo::{DEMO_CT_DESCRIPTION, DemoSpec, write_demo_study_with};

use crate::ui_support::{run_until, step_until};

/// The app opened on `dir`, stepped until its loader has finished.
fn loaded_app(dir: &Path) -> Harness<'static, TesseraApp> {
    let paths = vec![dir.to_path_buf()];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1000.0, 700.0))
        // Scroll areas (tag browser) settle over a few frames.
        .with_max_steps(16)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths));
    run_until(&mut harness, "loading the study", |app| !app.is_loading());
    harness
}

fn wheel(harness: &mut Harness<'_, TesseraApp>, lines: f32) {
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, lines),
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
        modifiers: Modifiers::NONE,
    });
    harness.run();
}

fn press(harness: &mut Harness<'_, TesseraApp>, key: Key) {
    harness.key_press(key);
    harness.run();
}

#[test]
fn scrolls_slices_and_switches_window_presets() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {})?;
    let mut harness = loaded_app(dir.path());

    // The CT (lowest series number) opens on its middle slice, in the file's window;
    // its description shows in the browser and over the image.
    assert_eq!(harness.query_all_by_label(DEMO_CT_DESCRIPTION).count(), 2);
    harness.get_by_label("Slice 21/40");
    harness.get_by_label("W 400 L 40");

    // The wheel scrolls when the pointer is over the image: towards the user = next.
    let centre = harness.get_by_label("Image viewport").rect().center();
    harness.hover_at(centre);
    harness.run();
    wheel(&mut harness, -1.0);
    harness.get_by_label("Slice 22/40");
    wheel(&mut harness, 3.0);
    harness.get_by_label("Slice 19/40");

    press(&mut harness, Key::ArrowDown);
    harness.get_by_label("Slice 20/40");
    press(&mut harness, Key::ArrowUp);
    press(&mut harness, Key::ArrowUp);
    harness.get_by_label("Slice 18/40");
    press(&mut harness, Key::End);
    harness.get_by_label("Slice 40/40");
    press(&mut harness, Key::PageUp);
    harness.get_by_label("Slice 30/40");
    press(&mut harness, Key::Home);
    harness.get_by_label("Slice 1/40");
    press(&mut harness, Key::ArrowUp);
    harness.get_by_label("Slice 1/40");

    press(&mut harness, Key::Num2);
    harness.get_by_label("W 1500 L -600");
    assert_eq!(
        harness.query_all_by_label("Lung").count(),
        2,
        "overlay and toolbar"
    );
    press(&mut harness, Key::Num3);
    harness.get_by_label("W 2000 L 400");
    press(&mut harness, Key::Num1);
    harness.get_by_label("W 400 L 40");

    // Left-drag to the right widens the window; 0 goes back to the file's window.
    harness.drag_at(centre);
    harness.hover_at(centre + Vec2::new(60.0, 0.0));
    harness.drop_at(centre + Vec2::new(60.0, 0.0));
    harness.run();
    assert!(
        harness.query_by_label("W 400 L 40").is_none(),
        "dragging did not change the window"
    );
    press(&mut harness, Key::Num0);
    harness.get_by_label("W 400 L 40");

    // The slice renders through the real wgpu path without errors.
    let image = harness.render()?;
    assert_eq!((image.width(), image.height()), (1000, 700));
    Ok(())
}

#[test]
fn series_browser_switches_series_and_keeps_each_view() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {})?;
    let mut harness = loaded_app(dir.path());
    press(&mut harness, Key::Home);
    harness.get_by_label("Slice 1/40");

    harness.get_by_label("Phantom MR T2 sagittal").click();
    harness.run();
    harness.get_by_label("Slice 5/8");
    harness.get_by_label("W 1200 L 600");
    // CT presets do not apply to MR.
    press(&mut harness, Key::Num2);
    harness.get_by_label("W 1200 L 600");

    harness.get_by_label(DEMO_CT_DESCRIPTION).click();
    harness.run();
    harness.get_by_label("Slice 1/40");
    Ok(())
}

fn wheel_with(harness: &mut Harness<'_, TesseraApp>, lines: f32, modifiers: Modifiers) {
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, lines),
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
        modifiers,
    });
    harness.run();
}

fn cursor(harness: &Harness<'_, TesseraApp>) -> [usize; 3] {
    harness
        .state()
        .current_view()
        .map(|v| v.cursor)
        .expect("a series is loaded")
}

#[test]
fn mpr_layouts_scroll_link_and_move_the_crosshair() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {})?;
    let mut harness = loaded_app(dir.path());
    assert_eq!(cursor(&harness), [64, 64, 20]);

    // 1×3: axial, coronal, sagittal, each named, at the shared cursor.
    press(&mut harness, Key::F6);
    let axial = harness.get_by_label("Axial viewport").rect();
    let coronal = harness.get_by_label("Coronal viewport").rect();
    harness.get_by_label("Sagittal viewport");
    harness.get_by_label("Slice 21/40");
    assert_eq!(harness.query_all_by_label("Slice 65/128").count(), 2);

    // The wheel over the coronal view moves posterior (j), and only that plane.
    harness.hover_at(coronal.center());
    harness.run();
    wheel(&mut harness, -2.0);
    assert_eq!(cursor(&harness), [64, 66, 20]);
    harness.get_by_label("Slice 67/128");
    harness.get_by_label("Slice 65/128");
    harness.get_by_label("Slice 21/40");

    // A click in the axial view sets the crosshair there: the other planes follow.
    let target = axial.center() + Vec2::new(-axial.width() / 4.0, 0.0);
    harness.hover_at(target);
    harness.run();
    harness.drag_at(target);
    harness.drop_at(target);
    harness.run();
    let [i, _, k] = cursor(&harness);
    assert!(
        i < 64,
        "clicking left of centre moves towards the patient's right: i = {i}"
    );
    assert_eq!(k, 20, "the axial slice stays");
    harness.get_by_label(&format!("Slice {}/128", i + 1));

    // Linked window: a preset applies to every viewport; unlinked, to the active one.
    press(&mut harness, Key::Num2);
    assert_eq!(harness.query_all_by_label("W 1500 L -600").count(), 3);
    press(&mut harness, Key::L);
    assert!(!harness.state().chrome().linked_window);
    press(&mut harness, Key::Num1);
    assert_eq!(harness.query_all_by_label("W 1500 L -600").count(), 2);
    harness.get_by_label("W 400 L 40");

    // Ctrl+wheel zooms the hovered view about the pointer; Space resets it.
    harness.hover_at(axial.center());
    harness.run();
    let zoom = |h: &Harness<'_, TesseraApp>| h.state().current_view().map(|v| v.viewports[0].zoom);
    wheel_with(&mut harness, 3.0, Modifiers::CTRL);
    assert!(
        zoom(&harness).is_some_and(|z| z > 1.4),
        "zoom {:?}",
        zoom(&harness)
    );
    press(&mut harness, Key::Space);
    assert_eq!(zoom(&harness), Some(1.0));

    // 2×2 adds the acquired plane again; back to 1×1 keeps the cursor.
    press(&mut harness, Key::F7);
    assert_eq!(harness.query_all_by_label("Axial viewport").count(), 2);
    let before = cursor(&harness);
    press(&mut harness, Key::F5);
    harness.get_by_label("Image viewport");
    assert_eq!(cursor(&harness), before);
    Ok(())
}

#[test]
fn hotkey_sheet_and_patient_overlay_toggle() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {})?;
    let mut harness = loaded_app(dir.path());
    // Patient data is hidden by default (screen sharing), shown on request.
    let patient = "Demo Phantom · TESSERA-DEMO";
    assert!(harness.query_by_label_contains(patient).is_none());
    press(&mut harness, Key::P);
    harness.get_by_label_contains(patient);
    press(&mut harness, Key::P);
    assert!(harness.query_by_label_contains(patient).is_none());

    press(&mut harness, Key::F1);
    harness.get_by_label("Hotkeys");
    harness.get_by_label("Ctrl + wheel");
    press(&mut harness, Key::F1);
    assert!(harness.query_by_label("Ctrl + wheel").is_none());
    Ok(())
}

/// Image snapshots of the main screens (pinned to Vulkan: lavapipe here). A small pixel
/// budget absorbs rasteriser differences between Mesa builds; a moved panel, a wrong
/// window or a flipped image fails. `UPDATE_SNAPSHOTS=1` rewrites them (look at them).
#[test]
fn snapshots_of_the_main_screens() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {})?;
    let mut harness = loaded_app(dir.path());
    let options = egui_kittest::SnapshotOptions::new().max_failed_pixels(40);
    press(&mut harness, Key::Num1);
    harness.snapshot_options("viewer_ct_soft_tissue", &options);
    press(&mut harness, Key::F6);
    harness.snapshot_options("viewer_mpr_1x3", &options);
    press(&mut harness, Key::F5);
    press(&mut harness, Key::T);
    wait_for_tags(&mut harness);
    harness.snapshot_options("viewer_tag_browser", &options);
    Ok(())
}

/// Steps until the tag browser has read the current instance.
fn wait_for_tags(harness: &mut Harness<'_, TesseraApp>) {
    step_until(harness, "reading the tags", |h| {
        h.query_by_label_contains("elements").is_some()
    });
}

#[test]
fn tag_browser_follows_the_shown_slice() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {})?;
    let mut harness = loaded_app(dir.path());
    assert!(harness.query_by_label("Search tags").is_none());
    press(&mut harness, Key::T);
    assert!(harness.state().chrome().show_tags);
    wait_for_tags(&mut harness);
    harness.get_by_label("Search tags");
    harness.get_by_label("Patient's Name");
    // It shows the file of the slice on screen, and follows scrolling.
    let shown = |h: &Harness<'_, TesseraApp>| h.state().tag_source().map(|p| p.to_path_buf());
    let middle = shown(&harness).expect("a file is shown");
    press(&mut harness, Key::Home);
    let first = shown(&harness).expect("a file is shown");
    assert_ne!(first, middle);
    wait_for_tags(&mut harness);
    harness.get_by_label("Patient's Name");
    press(&mut harness, Key::T);
    assert!(harness.query_by_label("Search tags").is_none());
    Ok(())
}

#[test]
fn start_screen_offers_the_demo_and_reopens_a_recent_study()
-> Result<(), Box<dyn std::error::Error>> {
    let study = tempfile::tempdir()?;
    write_demo_study_with(study.path(), &DemoSpec::SMALL, |_| {})?;
    let config = tempfile::tempdir()?;
    let store = tessera::recent::RecentStore::in_folder(config.path());
    store.push(&[study.path().to_path_buf()], 1)?;
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1000.0, 700.0))
        .with_max_steps(16)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, Vec::new()).with_recent_store(Some(store)));
    harness.run();
    harness.get_by_label("Open the demo study");
    harness.get_by_label("Open DICOM folder…");
    let title = study
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    harness.get_by_label(&title).click();
    // Loading repaints until it ends: step, do not wait for the UI to settle.
    harness.step();
    run_until(&mut harness, "loading the recent study", |app| {
        !app.is_loading()
    });
    harness.get_by_label("Slice 21/40");
    // Reopening moved it to the top of the list, once.
    let items = tessera::recent::RecentStore::in_folder(config.path()).load();
    assert_eq!(items.len(), 1);
    assert!(items[0].opened_at > 1);
    Ok(())
}

/// RGB series go through the same GPU path: a slice that is red on the left and blue
/// on the right is drawn in those colours.
#[test]
fn rgb_slices_render_in_colour_through_the_gpu_path() -> Result<(), Box<dyn std::error::Error>> {
    use dicom_dictionary_std::tags;
    use tessera::imaging::writer::SliceSpec;
    let dir = tempfile::tempdir()?;
    for k in 0..3 {
        let spec = SliceSpec::axial_ct("rgb-series", k + 1, k as f64 * 2.0);
        let (rows, columns) = (usize::from(spec.rows), usize::from(spec.columns));
        let mut rgb = Vec::with_capacity(rows * columns * 3);
        for _ in 0..rows {
            for c in 0..columns {
                rgb.extend_from_slice(if c < columns / 2 {
                    &[200, 30, 40]
                } else {
                    &[30, 60, 220]
                });
            }
        }
        spec.dataset(&vec![0; rows * columns])
            .us(tags::SAMPLES_PER_PIXEL, 3)
            .text(tags::PHOTOMETRIC_INTERPRETATION, dicom_core::VR::CS, "RGB")
            .us(tags::PLANAR_CONFIGURATION, 0)
            .us(tags::BITS_ALLOCATED, 8)
            .us(tags::BITS_STORED, 8)
            .us(tags::HIGH_BIT, 7)
            .us(tags::PIXEL_REPRESENTATION, 0)
            .pixel_data_u8(&rgb)
            .write(&dir.path().join(format!("rgb{k}.dcm")))?;
    }
    let mut harness = loaded_app(dir.path());
    harness.get_by_label("Slice 2/3");
    let viewport = harness.get_by_label("Image viewport").rect();
    let image = harness.render()?;
    let side = viewport.width().min(viewport.height()) - 8.0;
    let at = |dx: f32| {
        let p = viewport.center() + Vec2::new(dx * side, 0.0);
        image.get_pixel(p.x as u32, p.y as u32).0
    };
    let (left, right) = (at(-0.25), at(0.25));
    let near = |a: [u8; 4], b: [u8; 3]| (0..3).all(|i| a[i].abs_diff(b[i]) <= 2);
    assert!(near(left, [200, 30, 40]), "left {left:?}");
    assert!(near(right, [30, 60, 220]), "right {right:?}");
    Ok(())
}
