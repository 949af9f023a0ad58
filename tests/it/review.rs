//! The agreement report over a project two readers worked in: segmentations of the same
//! series compared per class (Dice against the analytic overlap of two spheres, surface
//! distances), findings matched within 10 mm with misses per reader, and the CLI's JSON,
//! CSV and HTML renderings.

use crate::project::TINY;
use std::process::Command;

use tessera::annotate::labelmap::Stroke;
use tessera::annotate::packed::Tool;
use tessera::annotate::schema::{Code, Colour, LabelClass};
use tessera::annotate::segmentation::{Segment, SegmentationHeader};
use tessera::annotate::tools::{self, BrushShape, Dab, PaintRule};
use tessera::imaging::mpr::VolumeGrid;
use tessera::project::model::{
    Annotation, AnnotationBody, Edit, ImageRef, Kind, Label, Provenance,
};
use tessera::project::{Id, Project, Role, Session, VerifyOnOpen};

const SERIES: &str = "1.2.826.0.1.3680043.8.498.4242";

fn grid() -> VolumeGrid {
    VolumeGrid {
        dims: [64, 64, 48],
        spacing_mm: [1.0, 1.0, 1.0],
        axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        origin_mm: [0.0; 3],
    }
}

fn series() -> ImageRef {
    ImageRef::Dicom {
        series_uid: SERIES.into(),
        sop_uid: None,
        frame: None,
        plane: None,
        provenance: None,
    }
}

/// One reader's segmentation: a 10 mm ball of Lesion at `centre`.
fn paint_ball(s: &mut Session, name: &str, centre: [f64; 3]) {
    let g = grid();
    let header = SegmentationHeader::new(name, &g);
    let id = s.create_segmentation(series(), header.clone()).unwrap();
    let class = LabelClass::from_code(
        &Code::new("SCT", "52988006", "Lesion"),
        None,
        Colour([230, 60, 60]),
    );
    s.define_segment(id, 1, Some(Segment::of_class("Lesion 1", None, &class)))
        .unwrap();
    let mut map = header.new_label_map().unwrap();
    let cs = tools::dab(
        &map,
        &g,
        None,
        &Dab {
            centre_voxel: centre,
            radius_mm: 10.0,
            shape: BrushShape::Sphere,
        },
        &PaintRule::paint(1),
    )
    .unwrap();
    let mut stroke = Stroke::new();
    stroke.apply(&mut map, cs);
    let edit = stroke.finish(&map, Tool::Brush).unwrap();
    s.commit_edit(Edit::SegmentStroke {
        segmentation: id,
        stroke: edit,
    })
    .unwrap();
}

fn point(s: &mut Session, name: &str, code: &str, at: [f64; 3]) {
    let annotation = Annotation {
        id: Id::random().unwrap(),
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: SERIES.into(),
                sop_uid: Some(format!("{SERIES}.{}", at[2] as u32)),
                frame: Some(0),
                plane: None,
                provenance: Some(Box::new(Provenance {
                    spacing_mm: [1.0, 1.0, 1.0],
                    orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                    origin_mm: [0.0, 0.0, at[2]],
                    dims: [64, 64, 48],
                    ..Provenance::default()
                })),
            },
            kind: Kind::Point,
            points: vec![[at[0], at[1]]],
            label: Label {
                name: name.into(),
                scheme: Some("SCT".into()),
                code: Some(code.into()),
                meaning: Some(name.into()),
            },
            comment: None,
        },
    };
    s.commit_edit(Edit::Create { annotation }).unwrap();
}

#[test]
fn two_readers_are_compared_per_class_and_per_finding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qa.tessera");
    let (mut alice, _) = Project::create(&path, "alice", b"pw-alice", TINY).unwrap();
    alice
        .add_user("bob", Role::Annotator, b"pw-bob", TINY)
        .unwrap();
    paint_ball(&mut alice, "Alice's", [30.0, 32.0, 24.0]);
    point(&mut alice, "Lesion", "52988006", [10.0, 10.0, 5.0]);
    point(&mut alice, "Nodule", "27925004", [40.0, 40.0, 5.0]);
    drop(alice);
    let mut bob = Project::open(&path)
        .unwrap()
        .unlock("bob", b"pw-bob", VerifyOnOpen::Yes)
        .unwrap();
    paint_ball(&mut bob, "Bob's", [34.0, 32.0, 24.0]);
    point(&mut bob, "Lesion", "52988006", [12.0, 10.0, 5.0]);
    point(&mut bob, "Mass", "4147007", [60.0, 5.0, 30.0]);

    let r = tessera::review::report::agreement_report(&mut bob).unwrap();
    drop(bob);
    assert_eq!(r.series_compared, 1);
    assert_eq!(r.segmentations.len(), 1);
    let seg = &r.segmentations[0];
    assert_eq!(seg.class, "Lesion (SCT 52988006)");
    // Two 10 mm balls 4 mm apart: lens / ball = (4r + d)(2r - d)² / 16r³ = 0.704.
    assert!((seg.dice - 0.704).abs() < 0.03, "Dice {}", seg.dice);
    let hd = seg.hausdorff95_mm.unwrap();
    assert!(hd > 2.0 && hd <= 4.5, "HD95 {hd}");
    assert_eq!(r.findings.len(), 1);
    let f = &r.findings[0];
    assert_eq!((f.findings_a, f.findings_b, f.matched), (2, 2, 1));
    assert_eq!((f.missed_by_b, f.missed_by_a), (1, 1));
    assert_eq!(f.kappa, Some(1.0), "one matched pair, same code");

    // The command line: JSON, CSV, HTML (with its plot), no UIDs anywhere.
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .env("TESSERA_USER", "alice")
            .env("TESSERA_PASSPHRASE", "pw-alice")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let p = path.to_str().unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&run(&["review", "report", p, "--json"])).unwrap();
    assert_eq!(json["segmentations"][0]["reader_a"], "alice");
    let csv = run(&["review", "report", p, "--csv"]);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let html_path = dir.path().join("report.html");
    run(&[
        "review",
        "report",
        p,
        "--html",
        "--out",
        html_path.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg") && html.contains("Dice per class"));
    for text in [&json.to_string(), &csv, &html] {
        assert!(!text.contains(SERIES), "a UID leaked into the report");
    }
}

/// Three readers: findings every reader marked are rated by all three, and Fleiss' κ on
/// their codes is the textbook value for that table.
#[test]
fn three_readers_get_fleiss_kappa_on_the_findings_all_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qa3.tessera");
    let (mut alice, _) = Project::create(&path, "alice", b"pw-alice", TINY).unwrap();
    for u in ["bob", "carol"] {
        alice
            .add_user(u, Role::Annotator, format!("pw-{u}").as_bytes(), TINY)
            .unwrap();
    }
    // Four sites; alice, bob and carol rate each (carol misses the fourth).
    let sites = [
        [10.0, 10.0, 5.0],
        [40.0, 40.0, 5.0],
        [20.0, 50.0, 9.0],
        [55.0, 12.0, 20.0],
    ];
    let codes = |who: &str| -> Vec<(&'static str, &'static str)> {
        let l = ("Lesion", "52988006");
        let n = ("Nodule", "27925004");
        match who {
            "alice" => vec![l, l, n, n],
            "bob" => vec![l, n, n, l],
            _ => vec![l, l, n],
        }
    };
    drop(alice);
    for who in ["alice", "bob", "carol"] {
        let mut s = Project::open(&path)
            .unwrap()
            .unlock(who, format!("pw-{who}").as_bytes(), VerifyOnOpen::Yes)
            .unwrap();
        for (site, (name, code)) in sites.iter().zip(codes(who)) {
            point(&mut s, name, code, *site);
        }
        drop(s);
    }
    let mut s = Project::open(&path)
        .unwrap()
        .unlock("alice", b"pw-alice", VerifyOnOpen::Yes)
        .unwrap();
    let r = tessera::review::report::agreement_report(&mut s).unwrap();
    assert_eq!(r.multi_reader.len(), 1);
    let m = &r.multi_reader[0];
    assert_eq!(m.readers, ["alice", "bob", "carol"]);
    assert_eq!(m.subjects, 3, "carol missed the fourth site");
    // Subjects: (L,L,L), (L,N,L), (N,N,N): P̄ = (1 + 1/3 + 1)/3 = 7/9; p_L = 5/9,
    // p_N = 4/9, P̄e = 41/81; κ = (7/9 − 41/81) / (1 − 41/81) = 22/40 = 0.55.
    let k = m.fleiss_kappa.unwrap();
    assert!((k - 0.55).abs() < 1e-9, "Fleiss {k}");
}

/// Issue 8's whole flow: two readers annotate blinded and submit, a reviewer sees their
/// Dice and kappa, escalates the case, the senior adjudicates, and the HTML report shows
/// it all.
#[test]
fn blinded_readers_reviewer_escalation_adjudication_and_the_html_report() {
    use tessera::project::cases::{CaseAction, Status, case_of};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flow.tessera");
    let (mut alice, _) = Project::create(&path, "alice", b"pw-alice", TINY).unwrap();
    for (u, role) in [
        ("bob", Role::Annotator),
        ("carol", Role::Annotator),
        ("rita", Role::Reviewer),
        ("sam", Role::Senior),
    ] {
        alice
            .add_user(u, role, format!("pw-{u}").as_bytes(), TINY)
            .unwrap();
    }
    let case = case_of(&series());
    let readers = vec![
        alice.member_id("bob").unwrap(),
        alice.member_id("carol").unwrap(),
    ];
    alice
        .case_act(
            &case,
            CaseAction::Assign {
                readers,
                blinded: true,
            },
        )
        .unwrap();
    drop(alice);
    let open = |who: &str| {
        Project::open(&path)
            .unwrap()
            .unlock(who, format!("pw-{who}").as_bytes(), VerifyOnOpen::Yes)
            .unwrap()
    };
    for (who, x, code) in [("bob", 30.0, "52988006"), ("carol", 34.0, "27925004")] {
        let mut s = open(who);
        paint_ball(&mut s, &format!("{who}'s"), [x, 32.0, 24.0]);
        point(&mut s, "Finding", code, [10.0, 10.0, 5.0]);
        // Blinded: each sees one segmentation and one finding, their own.
        assert_eq!(s.segmentations().unwrap().len(), 1);
        assert_eq!(s.annotations().unwrap().len(), 1);
        s.case_act(&case, CaseAction::Submit).unwrap();
    }
    let mut rita = open("rita");
    assert_eq!(rita.case(&case).unwrap().unwrap().status, Status::Submitted);
    let r = tessera::review::report::agreement_report(&mut rita).unwrap();
    let seg = &r.segmentations[0];
    assert_eq!(
        (seg.reader_a.as_str(), seg.reader_b.as_str()),
        ("bob", "carol")
    );
    assert!((seg.dice - 0.704).abs() < 0.03, "Dice {}", seg.dice);
    let f = &r.findings[0];
    assert_eq!(f.matched, 1);
    assert_eq!(
        f.categories.len(),
        2,
        "the readers coded the finding differently"
    );
    let sam = rita.member_id("sam").unwrap();
    rita.case_act(
        &case,
        CaseAction::Escalate {
            to: sam,
            question: "Lesion or nodule?".into(),
        },
    )
    .unwrap();
    drop(rita);
    open("sam")
        .case_act(
            &case,
            CaseAction::Adjudicate {
                answer: "Nodule".into(),
                consensus: vec![],
            },
        )
        .unwrap();
    let mut rita = open("rita");
    let r = tessera::review::report::agreement_report(&mut rita).unwrap();
    assert_eq!(r.cases.counts["adjudicated"], 1);
    assert_eq!(r.cases.escalations, 1);
    let html = tessera::review::render::to_html(&r, "flow.tessera");
    for needle in [
        "Dice per class and pair of readers",
        "bob / carol",
        "Cases per status",
        "adjudicated",
        "1 escalation",
        "(blinded)",
    ] {
        assert!(html.contains(needle), "the HTML report lacks {needle:?}");
    }
    assert!(!html.contains(SERIES), "the report names series by digest");
    std::fs::write(dir.path().join("qa.html"), &html).unwrap();
}
