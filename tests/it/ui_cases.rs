//! The cases window in the real app (kittest): a reviewer's queue with its count, opening
//! a submitted case (its review starts), the two blinded readers side by side in their
//! colours, the agreement measured on the project thread, and approving from the window.
//! Set TESSERA_UI_SHOTS=DIR to keep renders of the screens for looking at.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use egui::{Key, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::app::project_form::FormKind;
use tessera::app::{Command, TesseraApp};
use tessera::imaging::demo::{DemoSpec, write_demo_study_with};
use tessera::project::cases::{CaseAction, Status, case_of};
use tessera::project::model::{Annotation, Edit};
use tessera::project::{Id, Project, Role, VerifyOnOpen};

use crate::project::TINY;
use crate::ui_support::{run_until, shot, type_into};

fn shifted(a: &Annotation, dx: f64, label: &str) -> Annotation {
    let mut b = a.clone();
    b.id = Id::random().unwrap();
    for p in &mut b.body.points {
        p[0] += dx;
    }
    b.body.label.name = label.into();
    b
}

#[test]
fn a_reviewer_opens_a_blinded_case_compares_the_readers_and_approves() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    write_demo_study_with(&study, &DemoSpec::SMALL, |_| {}).unwrap();
    let file = dir.path().join("qa.tessera");

    // alice creates the project in the window and draws one ruler: its image reference
    // is a real slice of the demo series.
    let paths = vec![study.clone()];
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1400.0, 820.0))
        .with_max_steps(16)
        .wgpu()
        .build_eframe(move |cc| TesseraApp::new(cc, paths).with_kdf(TINY));
    run_until(&mut harness, "loading the study", |app| !app.is_loading());
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .apply(&ctx, Command::ShowProjectForm(FormKind::New, file.clone()));
    harness.run();
    type_into(&mut harness, "User name", "alice");
    type_into(&mut harness, "Passphrase", "pw-alice-long");
    type_into(&mut harness, "Repeat passphrase", "pw-alice-long");
    harness.get_by_label("Create").click();
    harness.step();
    run_until(&mut harness, "creating the project", |app| {
        !app.project_form_busy()
    });
    harness.get_by_label("I have kept the code").click();
    harness.run();
    let centre = harness.get_by_label("Image viewport").rect().center();
    harness.key_press(Key::M);
    harness.run();
    harness.drag_at(centre - Vec2::new(50.0, 0.0));
    harness.run();
    for t in [0.5f32, 1.0] {
        harness.hover_at(centre - Vec2::new(50.0, 0.0) + Vec2::new(100.0 * t, 0.0));
        harness.run();
    }
    harness.drop_at(centre + Vec2::new(50.0, 0.0));
    harness.run();
    let ruler = harness.state().annotation_layer().shown[0]
        .annotation
        .clone();
    let case = case_of(&ruler.body.image);
    let session = harness.state_mut().project_session().unwrap();
    for (name, role) in [
        ("bob", Role::Annotator),
        ("carol", Role::Annotator),
        ("rita", Role::Reviewer),
        ("sam", Role::Senior),
    ] {
        session
            .add_user(name, role, format!("pw-{name}").as_bytes(), TINY)
            .unwrap();
    }
    let readers = vec![
        session.member_id("bob").unwrap(),
        session.member_id("carol").unwrap(),
    ];
    session
        .case_act(
            &case,
            CaseAction::Assign {
                readers,
                blinded: true,
            },
        )
        .unwrap();
    harness.state_mut().apply(&ctx, Command::CloseProject);
    harness.run();

    // bob and carol read blinded (each sees only their own) and submit.
    for (who, dx, label) in [("bob", 0.0, "Lesion"), ("carol", 4.0, "Cyst")] {
        let mut s = Project::open(&file)
            .unwrap()
            .unlock(who, format!("pw-{who}").as_bytes(), VerifyOnOpen::Yes)
            .unwrap();
        s.commit_edit(Edit::Create {
            annotation: shifted(&ruler, dx, label),
        })
        .unwrap();
        let mine = s.annotations_for_image(&case).unwrap();
        // Blinded: only their own, not alice's ruler nor the other reader's.
        assert_eq!(mine.len(), 1, "{who} sees {mine:?}");
        assert_eq!(mine[0].body.label.name, label);
        s.case_act(&case, CaseAction::Submit).unwrap();
    }

    // rita unlocks in the window: one case waits for her review.
    harness
        .state_mut()
        .apply(&ctx, Command::ShowProjectForm(FormKind::Open, file.clone()));
    harness.run();
    type_into(&mut harness, "User name", "rita");
    type_into(&mut harness, "Passphrase", "pw-rita");
    harness.get_by_label("Unlock").click();
    harness.step();
    run_until(&mut harness, "unlocking", |app| !app.project_form_busy());
    assert!(harness.state().project_form_error().is_none());
    // A shared file opens read-only; the review is written into it once she says so.
    harness.get_by_label("Edit this file").click();
    harness.run();
    harness.get_by_label("Cases (1)").click();
    harness.run();
    harness.get_by_label("Waiting for my review (1)").click();
    harness.run();
    harness.get_by_label("My work (0)");
    harness.get_by_label("Escalated to me (0)");
    let row = harness
        .query_by_label_contains("bob, carol")
        .expect("the case is listed with its readers");
    row.click();
    harness.run();
    harness.get_by_label("Open case").click();
    harness.run();
    assert_eq!(
        harness.state().cases_view().rows[0].status,
        Status::InReview
    );
    shot(&mut harness, "cases_window");

    // Side by side: each reader's ruler in their colour.
    harness.get_by_label("Compare bob | carol").click();
    harness.run();
    harness.get_by_label("Reader 1: bob · 1");
    harness.get_by_label("Reader 2: carol · 1");
    // The agreement of the two readers, measured on the project thread.
    harness.get_by_label("Measure agreement").click();
    harness.step();
    run_until(&mut harness, "measuring agreement", |app| !app.sync_busy());
    let agreement = harness.state().cases_view().agreement.clone().unwrap();
    let pair = agreement
        .findings
        .iter()
        .find(|f| f.reader_a == "bob" && f.reader_b == "carol")
        .expect("bob and carol compared");
    assert_eq!(pair.findings_a, 1);
    assert_eq!(pair.findings_b, 1);
    harness
        .query_by_label_contains("Findings bob / carol")
        .expect("the disagreement is listed in the window");
    shot(&mut harness, "cases_compare");
    harness.get_by_label("End comparison").click();
    harness.run();
    assert!(harness.state().annotation_layer().compare.is_none());

    // Approve from the window.
    harness.get_by_label("Approve").click();
    harness.run();
    assert_eq!(
        harness.state().cases_view().rows[0].status,
        Status::Approved
    );
    assert!(
        harness
            .state()
            .status_note()
            .is_some_and(|n| n.contains("approved")),
        "{:?}",
        harness.state().status_note()
    );
}
