//! Annotating in the window: create a project through its form, pick tools by hotkey,
//! draw with simulated pointer events, see the measurement listed, undo and redo, and
//! find everything again in the project file (with its history).

use std::path::Path;
use std::time::Duration;

use egui::{Key, Modifiers, Pos2, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::annotate::shapes::describe_payload;
use tessera::app::project_form::FormKind;
use tessera::app::{Command, TesseraApp};
use tessera::imaging::demo::{DemoSpec, write_demo_study_with};
use tessera::project::model::{ImageRef, Kind};
use tessera::project::{Project, VerifyOnOpen};

use crate::project::TINY;
use crate::ui_support::{run_until, type_into};

/// The app on `study`, loaded, with the project form for `project` shown.
fn app_with_form(study: &Path, kind: FormKind, project: &Path) -> Harness<'static, TesseraApp> {
    let paths = vec![study.to_path_buf()];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1200.0, 760.0))
        .with_max_steps(16)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths).with_kdf(TINY));
    run_until(&mut harness, "loading the study", |app| !app.is_loading());
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .apply(&ctx, Command::ShowProjectForm(kind, project.to_path_buf()));
    harness
}

fn app_with_new_project(study: &Path, project: &Path) -> Harness<'static, TesseraApp> {
    let mut harness = app_with_form(study, FormKind::New, project);
    harness.run();
    for (field, text) in [
        ("User name", "alice"),
        ("Passphrase", "correct horse battery"),
        ("Repeat passphrase", "correct horse battery"),
    ] {
        type_into(&mut harness, field, text);
    }
    harness.get_by_label("Create").click();
    harness.step();
    run_until(&mut harness, "creating the project", |app| {
        !app.project_form_busy()
    });
    if let Some(error) = harness.state().project_form_error() {
        panic!("the project form says: {error}");
    }
    harness.get_by_label("I have kept the code").click();
    harness.run();
    harness
}

fn drag(harness: &mut Harness<'_, TesseraApp>, from: Pos2, to: Pos2) {
    harness.drag_at(from);
    harness.run();
    for t in [0.25f32, 0.5, 0.75, 1.0] {
        harness.hover_at(from + (to - from) * t);
        harness.run();
    }
    harness.drop_at(to);
    harness.run();
}

fn click(harness: &mut Harness<'_, TesseraApp>, at: Pos2) {
    harness.hover_at(at);
    harness.run();
    harness.drag_at(at);
    harness.drop_at(at);
    harness.run();
}

fn count(harness: &Harness<'_, TesseraApp>, kind: Kind) -> usize {
    harness
        .state()
        .annotation_layer()
        .shown
        .iter()
        .filter(|s| s.annotation.body.kind == kind)
        .count()
}

#[test]
fn draws_measures_undoes_and_reopens_annotations() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {})?;
    let project = dir.path().join("reading.tessera");
    let mut harness = app_with_new_project(&study, &project);
    harness.get_by_label("Close project");

    // M picks the ruler; a drag across the image draws one, listed with its length.
    let viewport = harness.get_by_label("Image viewport").rect();
    let centre = viewport.center();
    harness.key_press(Key::M);
    harness.run();
    drag(
        &mut harness,
        centre - Vec2::new(80.0, 0.0),
        centre + Vec2::new(80.0, 0.0),
    );
    assert_eq!(
        count(&harness, Kind::Ruler),
        1,
        "the ruler was not committed"
    );
    let listed = harness
        .state()
        .annotation_layer()
        .shown
        .first()
        .and_then(|s| s.measurement.clone())
        .unwrap_or_default();
    assert!(listed.ends_with(" mm"), "ruler shows {listed:?}");
    harness.get_by_label(&format!("Lesion · Ruler  {listed}"));

    // R: a rectangle shows its area and, selected, its HU statistics.
    harness.key_press(Key::R);
    harness.run();
    drag(
        &mut harness,
        centre - Vec2::new(40.0, 40.0),
        centre + Vec2::new(30.0, 20.0),
    );
    assert_eq!(count(&harness, Kind::Rectangle), 1);
    let rect = harness
        .state()
        .annotation_layer()
        .shown
        .iter()
        .find(|s| s.annotation.body.kind == Kind::Rectangle)
        .cloned()
        .unwrap();
    assert!(rect.measurement.as_deref().unwrap_or("").ends_with("mm²"));
    assert!(
        rect.stats.as_deref().unwrap_or("").contains("HU"),
        "{:?}",
        rect.stats
    );

    // Angle by three clicks; polygon by clicks closed on the first vertex.
    harness.key_press(Key::N);
    harness.run();
    for p in [
        centre + Vec2::new(-60.0, 60.0),
        centre + Vec2::new(0.0, 90.0),
        centre + Vec2::new(60.0, 60.0),
    ] {
        click(&mut harness, p);
    }
    assert_eq!(count(&harness, Kind::Angle), 1);

    // Dragging the selected rectangle's corner reshapes it (an update, not a new one).
    harness.key_press(Key::Escape);
    harness.run();
    let id = rect.annotation.id;
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .apply(&ctx, Command::SelectAnnotation(Some(id)));
    harness.run();
    let corner = centre + Vec2::new(30.0, 20.0);
    drag(&mut harness, corner, corner + Vec2::new(20.0, 20.0));
    let after = harness.state().annotation_layer().get(id).cloned().unwrap();
    assert_ne!(after.annotation.body.points, rect.annotation.body.points);
    assert_eq!(count(&harness, Kind::Rectangle), 1);

    let shot = harness.render()?;
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotate-tools.png");
    shot.save(&out)?;

    // Ctrl+Z undoes the reshape, then the angle; Ctrl+Y brings the angle back.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    let undone = harness.state().annotation_layer().get(id).cloned().unwrap();
    assert_eq!(undone.annotation.body.points, rect.annotation.body.points);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert_eq!(count(&harness, Kind::Angle), 0);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    harness.run();
    assert_eq!(count(&harness, Kind::Angle), 1);

    // Delete removes the selected rectangle.
    harness
        .state_mut()
        .apply(&ctx, Command::SelectAnnotation(Some(id)));
    harness.key_press(Key::Delete);
    harness.run();
    assert_eq!(count(&harness, Kind::Rectangle), 0);

    // The history panel names every edit.
    harness.key_press(Key::H);
    harness.run();
    harness.get_by_label("Moved rectangle vertex");
    harness.get_by_label("Undo: Angle on Lesion");
    drop(harness);

    // Reopened: the ruler and the angle, drawn on a slice the provenance names.
    let mut session =
        Project::open(&project)?.unlock("alice", b"correct horse battery", VerifyOnOpen::Yes)?;
    let annotations = session.annotations()?;
    let kinds: Vec<Kind> = annotations.iter().map(|a| a.body.kind).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&Kind::Ruler) && kinds.contains(&Kind::Angle));
    for a in &annotations {
        let ImageRef::Dicom {
            sop_uid,
            provenance,
            plane,
            ..
        } = &a.body.image
        else {
            panic!("a DICOM annotation");
        };
        assert!(sop_uid.is_some() && plane.is_none());
        let p = provenance.as_ref().unwrap();
        assert_eq!(p.sop_uids.len(), 1);
        assert_eq!(p.dims[2], 40);
    }
    let lines: Vec<String> = session
        .recent_history(50)?
        .iter()
        .filter_map(|(_, p)| p.as_ref().map(describe_payload))
        .collect();
    // Older than these: the default label schema, installed when the project was made.
    assert!(lines[8..].iter().all(|l| l.starts_with("Added class ")));
    assert_eq!(
        lines[..8],
        [
            "Deleted rectangle (Lesion)",
            "Redo: Angle on Lesion",
            "Undo: Angle on Lesion",
            "Undo: Moved rectangle vertex",
            "Moved rectangle vertex",
            "Angle on Lesion",
            "Rectangle on Lesion",
            "Ruler on Lesion",
        ]
    );
    Ok(())
}

#[test]
fn tools_draw_on_reformatted_planes_too() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {})?;
    let project = dir.path().join("mpr.tessera");
    let mut harness = app_with_new_project(&study, &project);
    // 1×3: axial, coronal, sagittal. A ruler on the coronal viewport is stored on the
    // coronal plane and shown there only.
    harness.key_press(Key::F6);
    harness.run();
    let coronal = harness.get_by_label("Coronal viewport").rect();
    harness.key_press(Key::M);
    harness.run();
    let c = coronal.center();
    drag(
        &mut harness,
        c - Vec2::new(30.0, 20.0),
        c + Vec2::new(30.0, 20.0),
    );
    let layer = harness.state().annotation_layer();
    assert_eq!(layer.shown.len(), 1);
    let shown = &layer.shown[0];
    let ImageRef::Dicom { plane, sop_uid, .. } = &shown.annotation.body.image else {
        panic!("a DICOM annotation");
    };
    assert!(sop_uid.is_none());
    assert_eq!(
        plane.as_ref().map(|p| p.plane),
        Some(tessera::project::model::PlaneName::Coronal)
    );
    assert!(shown.measurement.as_deref().unwrap_or("").ends_with(" mm"));
    let shot = harness.render()?;
    shot.save(Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotate-mpr.png"))?;
    Ok(())
}

/// The app on `study` with `project` unlocked as `user` through the Open form.
fn app_opening_project(
    study: &Path,
    project: &Path,
    user: &str,
    pass: &str,
) -> Harness<'static, TesseraApp> {
    let mut harness = app_with_form(study, FormKind::Open, project);
    harness.run();
    for (field, text) in [("User name", user), ("Passphrase", pass)] {
        type_into(&mut harness, field, text);
    }
    harness.get_by_label("Unlock").click();
    harness.step();
    run_until(&mut harness, "unlocking the project", |app| {
        !app.project_form_busy()
    });
    if let Some(error) = harness.state().project_form_error() {
        panic!("the project form says: {error}");
    }
    harness
}

#[test]
fn shared_files_open_read_only_and_bundles_merge_with_their_conflicts()
-> Result<(), Box<dyn std::error::Error>> {
    use tessera::project::Role;
    use tessera::project::model::{Annotation, Edit};
    let dir = tempfile::tempdir()?;
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {})?;
    // Alice draws a ruler in the window, then adds bob and hands him a copy.
    let alice_file = dir.path().join("alice.tessera");
    let mut harness = app_with_new_project(&study, &alice_file);
    let centre = harness.get_by_label("Image viewport").rect().center();
    harness.key_press(Key::M);
    harness.run();
    drag(
        &mut harness,
        centre - Vec2::new(60.0, 0.0),
        centre + Vec2::new(60.0, 0.0),
    );
    let ruler = harness.state().annotation_layer().shown[0]
        .annotation
        .clone();
    let session = harness.state_mut().project_session().unwrap();
    session.add_user("bob", Role::Annotator, b"pw-bob", TINY)?;
    session.add_user("carol", Role::Reviewer, b"pw-carol", TINY)?;
    let bob_file = dir.path().join("bob.tessera");
    session.save_copy(&bob_file)?;

    // Bob relabels the ruler in his copy and exports; alice moves it meanwhile.
    let mut bob = Project::open(&bob_file)?.unlock("bob", b"pw-bob", VerifyOnOpen::Yes)?;
    let mut relabelled: Annotation = ruler.clone();
    relabelled.body.label.name = "Mass".into();
    bob.commit_edit(Edit::Update {
        before: ruler.clone(),
        after: relabelled,
    })?;
    let bundle = dir.path().join("bob.tbundle");
    bob.export_bundle(&bundle, &[], &mut |_, _| {})?;
    drop(bob);
    let mut moved = ruler.clone();
    moved.body.points[1][1] += 10.0;
    moved.body.label.name = "Nodule".into();
    let session = harness.state_mut().project_session().unwrap();
    session.commit_edit(Edit::Update {
        before: ruler.clone(),
        after: moved,
    })?;

    // Import: checked first (nothing changes), then committed on the user's go.
    let ctx = harness.ctx.clone();
    harness.state_mut().apply(
        &ctx,
        Command::StartSync(tessera::app::sync_jobs::SyncTask::Preview(bundle.clone())),
    );
    run_until(&mut harness, "checking the bundle", |app| !app.sync_busy());
    harness.get_by_label("Import bundle");
    harness.get_by_label("bob: 1");
    harness.get_by_label("Import").click();
    harness.step();
    run_until(&mut harness, "importing the bundle", |app| !app.sync_busy());
    // Alice's move stands (bob did not touch the geometry); the two labels disagree.
    let shown = harness.state().annotation_layer().shown[0]
        .annotation
        .clone();
    assert_ne!(shown.body.points, ruler.body.points);
    let conflicts = harness.state().conflicts().to_vec();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let sides: Vec<String> = conflicts[0]
        .versions
        .iter()
        .map(|v| format!("{}: {}", v.author, v.value))
        .collect();
    assert!(
        sides
            .iter()
            .any(|s| s.starts_with("bob:") && s.contains("Mass")),
        "{sides:?}"
    );
    assert!(
        sides
            .iter()
            .any(|s| s.starts_with("alice:") && s.contains("Nodule")),
        "{sides:?}"
    );
    harness.get_by_label("Conflicts (1)").click();
    harness.run();
    let shot = harness.render()?;
    shot.save(Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotate-conflicts.png"))?;
    // Keep bob's version: a new event, and the disagreement is gone.
    let bob_index = conflicts[0]
        .versions
        .iter()
        .position(|v| v.author == "bob")
        .unwrap();
    harness
        .get_all_by_label("Keep")
        .nth(bob_index)
        .unwrap()
        .click();
    harness.run();
    assert!(harness.state().conflicts().is_empty());
    let shown = harness.state().annotation_layer().shown[0]
        .annotation
        .clone();
    assert_eq!(shown.body.label.name, "Mass");
    drop(harness);

    // Carol has never edited alice's file: opened, it is read-only until she asks.
    let mut harness = app_opening_project(&study, &alice_file, "carol", "pw-carol");
    assert_eq!(harness.state().project_read_only(), Some(true));
    harness.get_by_label("Edit this file");
    let shot = harness.render()?;
    shot.save(Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotate-read-only.png"))?;
    harness.key_press(Key::M);
    harness.run();
    let c = harness.get_by_label("Image viewport").rect().center();
    drag(
        &mut harness,
        c - Vec2::new(40.0, 30.0),
        c + Vec2::new(40.0, 30.0),
    );
    assert_eq!(
        count(&harness, Kind::Ruler),
        1,
        "a read-only project took an edit"
    );
    harness.get_by_label("Edit this file").click();
    harness.run();
    assert_eq!(harness.state().project_read_only(), Some(false));
    harness.key_press(Key::M);
    harness.run();
    drag(
        &mut harness,
        c - Vec2::new(40.0, 30.0),
        c + Vec2::new(40.0, 30.0),
    );
    assert_eq!(count(&harness, Kind::Ruler), 2);
    Ok(())
}

#[test]
fn an_idle_locked_session_asks_for_the_passphrase_again() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {})?;
    let project = dir.path().join("idle.tessera");
    let mut harness = app_with_new_project(&study, &project);
    harness
        .state_mut()
        .project_session()
        .unwrap()
        .set_idle_lock(Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(20));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    let error = harness
        .state()
        .project_form_error()
        .unwrap_or_default()
        .to_owned();
    assert!(error.starts_with("Locked after"), "{error:?}");
    harness.get_by_label("Unlock");
    Ok(())
}

#[test]
fn a_radiologist_paints_a_coded_lesion_in_3d_measures_it_and_finds_it_again()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {})?;
    let project = dir.path().join("lesion.tessera");
    let mut harness = app_with_new_project(&study, &project);
    // The new project carries the default coded schema; pick Lesion by typing.
    assert!(harness.state().segmentation_layer().classes.len() > 20);
    let search = "Find";
    harness.get_by_label(search).focus();
    harness.run();
    harness.get_by_label(search).type_text("52988006");
    harness.run();
    // The current label line says the same: the hit is the last match.
    harness
        .get_all_by_label("Lesion (SCT 52988006)")
        .last()
        .unwrap()
        .click();
    harness.run();
    assert_eq!(
        harness.state().annotation_layer().label.code.as_deref(),
        Some("52988006")
    );

    // B: brush; 3D ball of 10 mm radius; one click paints a sphere.
    harness.key_press(Key::B);
    harness.run();
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .apply(&ctx, Command::SetBrushSphere(true));
    harness
        .state_mut()
        .apply(&ctx, Command::SetBrushRadius(10.0));
    harness.run();
    let centre = harness.get_by_label("Image viewport").rect().center();
    click(&mut harness, centre + Vec2::new(-40.0, -20.0));
    let stats = |h: &Harness<'_, TesseraApp>| {
        h.state()
            .segmentation_layer()
            .shown
            .as_ref()
            .and_then(|s| s.stats.get(&1).copied())
    };
    let painted = stats(&harness).expect("the sphere was painted");
    let sphere_ml = 4.0 / 3.0 * std::f64::consts::PI * 10f64.powi(3) / 1000.0;
    assert!(
        (painted.volume_ml - sphere_ml).abs() / sphere_ml < 0.15,
        "{} mL painted, {sphere_ml:.2} mL a 10 mm ball",
        painted.volume_ml
    );
    let shown = harness.state().segmentation_layer().shown.as_ref().unwrap();
    assert_eq!(shown.info.segments[&1].name, "Lesion 1");
    assert_eq!(
        shown.info.segments[&1]
            .class
            .concept
            .as_ref()
            .map(|c| c.value.as_str()),
        Some("52988006")
    );

    // Measure it with a ruler, then look at it.
    harness.key_press(Key::M);
    harness.run();
    drag(
        &mut harness,
        centre + Vec2::new(-100.0, -20.0),
        centre + Vec2::new(20.0, -20.0),
    );
    assert_eq!(count(&harness, Kind::Ruler), 1);
    let shot = harness.render()?;
    shot.save(Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotate-segmentation.png"))?;

    // File export: the plaintext warning first; then the SEG of the painted lesion.
    harness.state_mut().apply(
        &ctx,
        Command::ExportLabelsDialog(tessera::cli::labels_io::ExportFormat::Seg),
    );
    harness.run();
    harness.get_by_label("Export DICOM SEG");
    harness.get_by_label("Cancel").click();
    harness.run();
    let seg_out = dir.path().join("lesion-seg.dcm");
    let request = harness
        .state()
        .export_request(tessera::cli::labels_io::ExportFormat::Seg, seg_out.clone());
    harness.state_mut().apply(
        &ctx,
        Command::StartSync(tessera::app::sync_jobs::SyncTask::ExportLabels(Box::new(
            request,
        ))),
    );
    run_until(&mut harness, "exporting", |app| !app.sync_busy());
    let found = tessera::imaging::discovery::discover(&[study.join("CT")]);
    let (_, _, series) = found.series().next().unwrap();
    let source = tessera::interop::SourceSeries::from_stack(&series.stacks[0])?;
    let back = tessera::interop::seg::read(&seg_out, Some(&source))?;
    assert_eq!(back.labels.histogram()[1], painted.voxels);
    assert_eq!(back.labels.segments[0].type_.value, "52988006");

    // Undo the ruler and the stroke; redo the stroke.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert_eq!(stats(&harness), None, "undo left paint behind");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    harness.run();
    assert_eq!(stats(&harness).map(|s| s.voxels), Some(painted.voxels));

    // U: outline fill. A square drawn around empty tissue paints its inside (one edit).
    harness.key_press(Key::U);
    harness.run();
    let c0 = centre + Vec2::new(40.0, 40.0);
    harness.drag_at(c0);
    harness.run();
    for corner in [
        Vec2::new(30.0, 0.0),
        Vec2::new(30.0, 30.0),
        Vec2::new(0.0, 30.0),
        Vec2::new(0.0, 1.0),
    ] {
        harness.hover_at(c0 + corner);
        harness.run();
    }
    harness.drop_at(c0 + Vec2::new(0.0, 1.0));
    harness.run();
    let filled = stats(&harness).unwrap();
    assert!(filled.voxels > painted.voxels, "the outline filled nothing");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert_eq!(stats(&harness).map(|s| s.voxels), Some(painted.voxels));
    harness.key_press(Key::H);
    harness.run();
    let history: Vec<String> = harness
        .state()
        .annotation_layer()
        .history
        .iter()
        .map(|l| l.text.clone())
        .collect();
    assert!(
        history
            .iter()
            .any(|t| t.starts_with("Brush +") && t.ends_with("mL to Lesion 1")),
        "{history:?}"
    );
    drop(harness);

    // Reopened: the same voxels, the history to match.
    let mut session =
        Project::open(&project)?.unlock("alice", b"correct horse battery", VerifyOnOpen::Yes)?;
    let segs = session.segmentations()?;
    assert_eq!(segs.len(), 1);
    let loaded = session.load_segmentation(segs[0].id)?;
    assert_eq!(loaded.map.histogram()[1], painted.voxels);
    // What the viewer painted lines up with the series as the exports see it.
    let labels = tessera::interop::from_segmentation(&loaded.info, &loaded.map, &source)?;
    assert_eq!(labels.histogram()[1], painted.voxels);
    let ops: Vec<String> = session
        .recent_history(20)?
        .into_iter()
        .map(|(item, _)| item.operation)
        .collect();
    assert_eq!(ops.iter().filter(|o| *o == "undo").count(), 3, "{ops:?}");
    assert_eq!(ops.iter().filter(|o| *o == "redo").count(), 1, "{ops:?}");
    Ok(())
}

#[test]
fn an_imported_code_list_is_searched_by_the_label_picker() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {})?;
    let mut harness = app_with_new_project(&study, &dir.path().join("codes.tessera"));
    let ctx = harness.ctx.clone();
    // A bad list is refused with its line numbers; a good one is searched.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "scheme,code,meaning\nRADLEX,,no code\n")?;
    harness
        .state_mut()
        .apply(&ctx, Command::ImportCodeList(bad));
    harness.run();
    assert!(harness.state().segmentation_layer().code_lists.is_empty());
    let good = dir.path().join("radlex-liver.csv");
    std::fs::write(
        &good,
        "scheme,code,meaning\nRADLEX,RID4271,hepatocellular carcinoma\nRADLEX,RID3890,focal nodular hyperplasia\n",
    )?;
    harness
        .state_mut()
        .apply(&ctx, Command::ImportCodeList(good));
    harness.run();
    assert_eq!(harness.state().segmentation_layer().code_lists.len(), 1);
    harness.get_by_label("Find").focus();
    harness.run();
    harness.get_by_label("Find").type_text("hepatocell");
    harness.run();
    let lists = &harness.state().segmentation_layer().code_lists;
    let hits = tessera::annotate::codes::search("hepatocell", &[], lists, 8);
    assert_eq!(hits.len(), 1, "{:?}", lists[0].entries);
    harness
        .get_by_label("hepatocellular carcinoma (RADLEX RID4271) · radlex-liver")
        .click();
    harness.run();
    let label = &harness.state().annotation_layer().label;
    assert_eq!(
        (label.scheme.as_deref(), label.code.as_deref()),
        (Some("RADLEX"), Some("RID4271"))
    );
    Ok(())
}
