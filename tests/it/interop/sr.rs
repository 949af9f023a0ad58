//! DICOM SR TID 1500 from rulers, bidirectionals, area tools and points on a synthetic
//! CT: dciodvfy finds no error and highdicom's parser recovers every group, tracking
//! UID, finding, region and measurement. An MPR annotation makes it Comprehensive 3D SR.

use tessera::interop::nifti::ImageVolume;
use tessera::interop::{Authoring, Code, Placement, SourceSeries, measurements, sr};
use tessera::project::Id;
use tessera::project::model::{
    Annotation, AnnotationBody, ImageRef, Kind, Label, PlaneName, PlaneRef,
};

use super::{assert_dciodvfy_clean, load, python, run_python, skip, specs};

pub fn coded(name: &str, code: &str) -> Label {
    Label {
        name: name.into(),
        scheme: Some("SCT".into()),
        code: Some(code.into()),
        meaning: Some(name.into()),
    }
}

pub fn on_slice(
    source: &SourceSeries,
    k: usize,
    kind: Kind,
    points: Vec<[f64; 2]>,
    label: Label,
) -> Annotation {
    Annotation {
        id: Id::random().unwrap(),
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: source.series_instance_uid.clone(),
                sop_uid: Some(source.slices[k].sop_instance_uid.clone()),
                frame: None,
                plane: None,
                provenance: None,
            },
            kind,
            points,
            label,
            comment: None,
        },
    }
}

/// Rulers, a bidirectional, ellipse, polygon (free text), rectangle and point on
/// acquired slices; an angle and an annotation of another series (both left out).
pub fn annotations(source: &SourceSeries) -> Vec<Annotation> {
    let lesion = || coded("Lesion", "52988006");
    let mut other = on_slice(
        source,
        0,
        Kind::Ruler,
        vec![[0.0, 0.0], [3.0, 3.0]],
        lesion(),
    );
    if let ImageRef::Dicom { series_uid, .. } = &mut other.body.image {
        *series_uid = "1.2.3.4".into();
    }
    vec![
        on_slice(
            source,
            1,
            Kind::Ruler,
            vec![[2.0, 3.0], [12.0, 7.0]],
            lesion(),
        ),
        on_slice(
            source,
            2,
            Kind::Bidirectional,
            vec![[3.0, 4.0], [13.0, 4.0], [8.0, 1.0], [8.0, 9.0]],
            lesion(),
        ),
        on_slice(
            source,
            0,
            Kind::Ellipse,
            vec![[2.0, 2.0], [10.0, 8.0]],
            coded("Mass", "4147007"),
        ),
        on_slice(
            source,
            3,
            Kind::Polygon,
            vec![[1.0, 1.0], [9.0, 2.0], [7.0, 9.0], [2.0, 6.0]],
            Label {
                name: "odd spot".into(),
                scheme: None,
                code: None,
                meaning: None,
            },
        ),
        on_slice(
            source,
            4,
            Kind::Rectangle,
            vec![[0.0, 0.0], [5.0, 4.0]],
            coded("Nodule", "27925004"),
        ),
        on_slice(source, 5, Kind::Point, vec![[4.0, 4.0]], lesion()),
        on_slice(
            source,
            1,
            Kind::Angle,
            vec![[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]],
            lesion(),
        ),
        other,
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

fn check_with_highdicom(
    out: &serde_json::Value,
    annotations: &[Annotation],
    source: &SourceSeries,
    image: &ImageVolume,
) {
    let groups = out["groups"].as_array().unwrap();
    for a in annotations {
        let Ok(placement) = Placement::of(a, source) else {
            continue;
        };
        if a.body.kind == Kind::Angle {
            continue;
        }
        let uid = sr::tracking_uid(a.id);
        let g = groups
            .iter()
            .find(|g| g["tracking_uid"] == uid.as_str())
            .unwrap_or_else(|| panic!("highdicom found no group for the {:?}: {out}", a.body.kind));
        let finding = Code::of_label(&a.body.label);
        assert_eq!(g["finding"][1], finding.value.as_str());
        let want = measurements(a, placement, source, Some(image));
        let got = g["measurements"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{:?}: {got:?}", a.body.kind);
        for (m, theirs) in want.iter().zip(got) {
            assert_eq!(
                theirs["name"][1],
                m.concept.as_ref().unwrap().value.as_str()
            );
            assert_eq!(theirs["unit"][1], m.unit.value.as_str());
            assert!(
                close(theirs["value"].as_f64().unwrap(), m.value),
                "{} {theirs}",
                m.name
            );
            if let Some(d) = &m.derivation {
                assert_eq!(theirs["derivation"][1], d.value.as_str());
            }
        }
        match a.body.kind {
            Kind::Ruler => {
                let c = &got[0]["coords"][0];
                assert_eq!(c["type"], "POLYLINE");
                // Pixel centres are at .5 in SCOORD.
                assert_eq!(c["data"], serde_json::json!([[2.5, 3.5], [12.5, 7.5]]));
            }
            Kind::Bidirectional => assert_eq!(
                got[1]["coords"][0]["data"],
                serde_json::json!([[8.5, 1.5], [8.5, 9.5]])
            ),
            Kind::Ellipse => assert_eq!(g["region"]["type"], "ELLIPSE"),
            Kind::Point => assert_eq!(g["region"]["type"], "POINT"),
            Kind::Rectangle | Kind::Polygon => {
                let data = g["region"]["data"].as_array().unwrap();
                let shape = if placement.is_acquired() {
                    "POLYLINE"
                } else {
                    "POLYGON"
                };
                assert_eq!(g["region"]["type"], shape);
                assert_eq!(data.first(), data.last(), "closed");
            }
            _ => {}
        }
    }
}

#[test]
fn tid1500_report_is_valid_and_highdicom_recovers_the_measurements() {
    let spec = &specs()[0];
    let dir = tempfile::tempdir().unwrap();
    spec.write(dir.path());
    let (source, volume) = load(dir.path());
    let image = ImageVolume::from_volume(&volume, &source).unwrap();
    let mut annotations = annotations(&source);
    let who = Authoring::new("Reader^One", "Tessera measurements").unwrap();
    let path = dir.path().join("sr.dcm");
    let summary = sr::write(&path, &annotations, &source, Some(&image), &who).unwrap();
    assert_eq!(summary.sop_class_uid, "1.2.840.10008.5.1.4.1.1.88.33");
    assert_eq!(summary.groups, 6);
    assert_eq!(summary.skipped.len(), 2, "{:?}", summary.skipped);
    assert_dciodvfy_clean("sr comprehensive", &path);

    // One annotation on a reformatted (coronal) plane: Comprehensive 3D SR, SCOORD3D.
    let mut mpr = on_slice(
        &source,
        0,
        Kind::Rectangle,
        vec![[2.0, 1.0], [9.0, 4.0]],
        coded("Lesion", "52988006"),
    );
    if let ImageRef::Dicom { sop_uid, plane, .. } = &mut mpr.body.image {
        *sop_uid = None;
        *plane = Some(PlaneRef {
            plane: PlaneName::Coronal,
            index: 5,
        });
    }
    annotations.push(mpr.clone());
    let path3d = dir.path().join("sr3d.dcm");
    let summary = sr::write(&path3d, &annotations, &source, Some(&image), &who).unwrap();
    assert_eq!(summary.sop_class_uid, "1.2.840.10008.5.1.4.1.1.88.34");
    assert_eq!(summary.groups, 7);
    assert_dciodvfy_clean("sr comprehensive 3d", &path3d);

    let python = match python() {
        Ok(p) => p,
        Err(why) => return skip("sr: highdicom parsing", &why),
    };
    let out = run_python(&python, "sr_check.py", &[&path]);
    assert_eq!(out["groups"].as_array().unwrap().len(), 6);
    assert_eq!(out["observer"][0], "Reader^One");
    check_with_highdicom(&out, &annotations[..annotations.len() - 1], &source, &image);
    let out = run_python(&python, "sr_check.py", &[&path3d]);
    assert_eq!(out["groups"].as_array().unwrap().len(), 7);
    check_with_highdicom(&out, &annotations, &source, &image);
    let g = out["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["tracking_uid"] == sr::tracking_uid(mpr.id).as_str())
        .unwrap();
    assert_eq!(g["region"]["type"], "POLYGON");
    // The first corner, as patient coordinates: coronal plane j = 5, points [i, k].
    let p = Placement::of(&mpr, &source)
        .unwrap()
        .world(&source, [2.0, 1.0]);
    let first: Vec<f64> = g["region"]["data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (0..3).all(|n| (first[n] - p[n]).abs() < 1e-3),
        "{first:?} vs {p:?}"
    );
}
