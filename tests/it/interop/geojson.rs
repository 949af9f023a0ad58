//! QuPath GeoJSON (issue 9): export → import gives the same slide annotations (geometry,
//! class, code, kind, ids); a QuPath-shaped sample written by hand from QuPath's
//! documented structure (`qupath-sample.geojson`) imports with the right counts and
//! classes; hostile files are one-line errors; the command line exports and imports.

use std::path::Path;

use tessera::annotate::schema::default_classes;
use tessera::imaging::slide::synth::{SynthOptions, write_slide};
use tessera::interop::geojson::{self, ExportInput, GeoJsonError, ObjectType};
use tessera::project::Id;
use tessera::project::labels::LabelsDoc;
use tessera::project::model::{Annotation, AnnotationBody, ImageRef, Kind, Label};

use super::cli::{s, tessera};

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn label(name: &str, code: Option<(&str, &str, &str)>) -> Label {
    Label {
        name: name.into(),
        scheme: code.map(|c| c.0.into()),
        code: code.map(|c| c.1.into()),
        meaning: code.map(|c| c.2.into()),
    }
}

fn on_slide(sha: &str, kind: Kind, points: Vec<[f64; 2]>, label: Label) -> Annotation {
    Annotation {
        id: Id::random().unwrap(),
        body: AnnotationBody {
            image: ImageRef::Slide {
                slide_sha256: sha.into(),
            },
            kind,
            points,
            label,
            comment: None,
        },
    }
}

/// Every kind a slide annotation can be, coded and free-text classes, comments, a
/// rectangle drawn from its bottom-right corner, coordinates with long fractions.
fn every_kind(sha: &str) -> Vec<Annotation> {
    let neoplasm = Some(("SCT", "108369006", "Neoplasm"));
    let necrosis = Some(("SCT", "6574001", "Necrosis"));
    let mitosis = Some(("SCT", "19648000", "Mitosis"));
    let contour: Vec<[f64; 2]> = (0..40)
        .map(|i| {
            let t = f64::from(i) * 0.157;
            [1500.0 + 120.3 * t.cos(), 900.0 + 80.7 * t.sin()]
        })
        .collect();
    let mut out = vec![
        on_slide(
            sha,
            Kind::Rectangle,
            vec![[500.25, 300.0], [100.0, 50.5]],
            label("Tumour", neoplasm),
        ),
        on_slide(
            sha,
            Kind::Ellipse,
            vec![[1000.1, 1000.2], [1400.3, 1200.7]],
            label("Stroma", None),
        ),
        on_slide(
            sha,
            Kind::Polygon,
            vec![
                [10.0, 10.0],
                [90.5, 12.0],
                [95.0, 80.0],
                [40.0, 99.9],
                [5.0, 60.0],
            ],
            label("Necrosis", necrosis),
        ),
        on_slide(sha, Kind::Freehand, contour, label("Tumour", neoplasm)),
        on_slide(
            sha,
            Kind::Freehand,
            vec![[7.0, 7.0], [8.0, 9.0]],
            label("Stroma", None),
        ),
        on_slide(
            sha,
            Kind::Ruler,
            vec![[2000.0, 2000.0], [2300.0, 2400.0]],
            label("Stroma", None),
        ),
        on_slide(
            sha,
            Kind::Angle,
            vec![[10.0, 500.0], [50.0, 520.0], [10.0, 560.0]],
            label("Stroma", None),
        ),
        on_slide(
            sha,
            Kind::Bidirectional,
            vec![
                [600.0, 600.0],
                [700.0, 600.0],
                [650.0, 570.0],
                [650.0, 630.0],
            ],
            label("Tumour", neoplasm),
        ),
        on_slide(
            sha,
            Kind::Polygon,
            vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
            label(geojson::UNCLASSIFIED, None),
        ),
    ];
    out[3].body.comment = Some(" check the margin\n".into());
    for p in [[300.0, 400.0], [310.5, 402.25], [520.0, 610.0]] {
        out.push(on_slide(
            sha,
            Kind::Point,
            vec![p],
            label("Mitosis", mitosis),
        ));
    }
    for p in [[30.0, 40.0], [31.0, 41.0], [32.0, 42.0]] {
        out.push(on_slide(
            sha,
            Kind::Point,
            vec![p],
            label("Lymphocyte", None),
        ));
    }
    out.last_mut().unwrap().body.comment = Some("cluster".into());
    out
}

fn export(annotations: &[Annotation], mpp: Option<[f64; 2]>) -> (String, geojson::Written) {
    let colour_of = |_: &Label| [1, 2, 3];
    geojson::to_string(&ExportInput {
        annotations,
        slide_sha256: SHA,
        mpp,
        colour_of: &colour_of,
    })
}

fn as_annotations(read: &geojson::Imported, sha: &str) -> Vec<Annotation> {
    let image = ImageRef::Slide {
        slide_sha256: sha.into(),
    };
    let mut out: Vec<Annotation> = read
        .objects
        .iter()
        .map(|o| Annotation {
            id: o.id,
            body: o.body(image.clone()),
        })
        .collect();
    out.sort_by_key(|a| a.id);
    out
}

#[test]
fn geojson_export_then_import_gives_identical_annotations() {
    let mut want = every_kind(SHA);
    let (text, written) = export(&want, Some([0.25, 0.25]));
    // 5 areas, 4 lines (a two-point freehand is one), point sets: Mitosis, Lymphocyte,
    // Lymphocyte with a comment.
    assert_eq!(
        written,
        geojson::Written {
            features: 12,
            areas: 5,
            lines: 4,
            point_sets: 3,
            points: 6,
        }
    );
    let back = geojson::parse(text.as_bytes()).unwrap();
    assert_eq!(back.slide_sha256.as_deref(), Some(SHA));
    assert_eq!(back.objects.len(), want.len());
    assert!(back.objects.iter().all(|o| o.from_tessera));
    want.sort_by_key(|a| a.id);
    assert_eq!(as_annotations(&back, SHA), want);

    // Classes bound by name only for QuPath's objects: Tessera's labels stay as they are.
    let mut objects = back.objects.clone();
    assert_eq!(
        geojson::bind_classes(&mut objects, &default_classes().unwrap()),
        0
    );

    // Through QuPath, which keeps vertices as 32-bit floats: rectangles and ellipses are
    // still rectangles and ellipses (at their exact corners, from the metadata).
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    fn round(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Array(items) => items.iter_mut().for_each(round),
            serde_json::Value::Number(n) => {
                let f = f64::from(n.as_f64().unwrap() as f32);
                *v = serde_json::json!(f);
            }
            _ => {}
        }
    }
    for f in doc["features"].as_array_mut().unwrap() {
        round(&mut f["geometry"]["coordinates"]);
    }
    let through = geojson::parse(doc.to_string().as_bytes()).unwrap();
    let kinds = |list: &[Annotation]| {
        let mut k: Vec<(Id, Kind)> = list.iter().map(|a| (a.id, a.body.kind)).collect();
        k.sort_by_key(|x| x.0);
        k
    };
    let back = as_annotations(&through, SHA);
    assert_eq!(kinds(&back), kinds(&want));
    let rect = want
        .iter()
        .find(|a| a.body.kind == Kind::Rectangle)
        .unwrap();
    assert!(back.contains(rect), "the rectangle keeps its exact corners");
}

#[test]
fn geojson_features_have_qupaths_shape_and_measurements() {
    let annotations = every_kind(SHA);
    let (text, _) = export(&annotations, Some([0.25, 0.5]));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["type"], "FeatureCollection");
    let features = doc["features"].as_array().unwrap();
    let by_id = |a: &Annotation| {
        features
            .iter()
            .find(|f| f["id"] == a.id.to_string())
            .unwrap()
    };
    for f in features {
        assert_eq!(f["type"], "Feature");
        assert!(f["id"].as_str().unwrap().parse::<Id>().is_ok());
        assert_eq!(f["properties"]["objectType"], "annotation");
        assert_eq!(f["properties"]["isLocked"], false);
    }
    let rect = by_id(&annotations[0]);
    assert_eq!(rect["geometry"]["type"], "Polygon");
    assert_eq!(
        rect["geometry"]["coordinates"][0].as_array().unwrap().len(),
        5
    );
    let p = &rect["properties"];
    assert_eq!(p["classification"]["name"], "Tumour");
    assert_eq!(p["classification"]["color"], serde_json::json!([1, 2, 3]));
    assert_eq!(p["metadata"]["scheme"], "SCT");
    assert_eq!(p["metadata"]["code"], "108369006");
    assert_eq!(p["metadata"]["meaning"], "Neoplasm");
    assert_eq!(p["metadata"]["tessera_kind"], "rectangle");
    // 400.25 x 249.5 px at 0.25 x 0.5 µm/px.
    let area = p["measurements"]["Area µm^2"].as_f64().unwrap();
    assert!((area - 400.25 * 0.25 * 249.5 * 0.5).abs() < 1e-6, "{area}");
    let perimeter = p["measurements"]["Perimeter µm"].as_f64().unwrap();
    assert!((perimeter - 2.0 * (400.25 * 0.25 + 249.5 * 0.5)).abs() < 1e-6);
    let ellipse = by_id(&annotations[1]);
    assert_eq!(ellipse["geometry"]["type"], "Polygon");
    assert!(
        ellipse["geometry"]["coordinates"][0]
            .as_array()
            .unwrap()
            .len()
            > 16
    );
    assert!(ellipse["properties"]["metadata"].get("scheme").is_none());
    assert_eq!(by_id(&annotations[5])["geometry"]["type"], "LineString");
    assert!(by_id(&annotations[5])["properties"]["measurements"]["Length µm"].is_number());
    assert_eq!(
        by_id(&annotations[7])["geometry"]["type"],
        "MultiLineString"
    );
    assert_eq!(
        by_id(&annotations[3])["properties"]["metadata"]["tessera_comment"],
        " check the margin\n"
    );
    // "Unclassified" without a code is QuPath's missing classification.
    assert!(
        by_id(&annotations[8])["properties"]
            .get("classification")
            .is_none()
    );
    let sets: Vec<&serde_json::Value> = features
        .iter()
        .filter(|f| f["geometry"]["type"] == "MultiPoint")
        .collect();
    assert_eq!(sets.len(), 3);
    let mitosis = sets
        .iter()
        .find(|f| f["properties"]["classification"]["name"] == "Mitosis")
        .unwrap();
    assert_eq!(
        mitosis["geometry"]["coordinates"].as_array().unwrap().len(),
        3
    );
    assert_eq!(mitosis["properties"]["measurements"]["Num points"], 3.0);
    assert_eq!(mitosis["properties"]["metadata"]["code"], "19648000");

    // Without the slide's MPP, pixels.
    let (text, _) = export(&annotations, None);
    assert!(text.contains("\"Area px^2\"") && !text.contains("µm"));
}

fn sample() -> geojson::Imported {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/interop/qupath-sample.geojson");
    geojson::read(&path).unwrap()
}

#[test]
fn a_qupath_written_sample_imports_with_its_counts_and_classes() {
    let mut read = sample();
    assert_eq!(read.slide_sha256, None);
    assert_eq!(read.features, 9);
    assert_eq!(read.objects.len(), 10);
    assert_eq!((read.annotations, read.detections), (8, 2));
    assert_eq!((read.point_sets, read.points), (1, 3));
    assert_eq!((read.multi_polygons, read.parts), (1, 2));
    assert_eq!(read.holes_left_out, 1);
    assert_eq!(read.polylines_left_out, 1);
    assert_eq!(read.objects_left_out, 1, "the tile");
    assert_eq!(read.new_ids, 0);
    let count = |name: &str, kind: Kind| {
        read.objects
            .iter()
            .filter(|o| o.label.name == name && o.kind == kind)
            .count()
    };
    assert_eq!(count("Tumor", Kind::Polygon), 2);
    assert_eq!(count("Lymphocyte", Kind::Point), 3);
    assert_eq!(count("Necrosis", Kind::Polygon), 2);
    assert_eq!(count(geojson::UNCLASSIFIED, Kind::Polygon), 1);
    assert_eq!(count("Tumor: Positive", Kind::Polygon), 1);
    assert_eq!(count("Stroma", Kind::Ruler), 1);
    let detections: Vec<&str> = read
        .objects
        .iter()
        .filter(|o| o.object_type == ObjectType::Detection)
        .map(|o| o.label.name.as_str())
        .collect();
    assert_eq!(detections, ["Tumor", "Tumor: Positive"]);
    assert!(read.objects.iter().all(|o| !o.from_tessera));
    // The polygon keeps QuPath's UUID, drops the closing vertex; its name is the comment.
    let tumour = &read.objects[0];
    assert_eq!(
        tumour.id.to_string(),
        "6f3c2a1e-8b4d-4c6a-9e2f-1a2b3c4d5e6f"
    );
    assert_eq!(tumour.points.len(), 5);
    assert_eq!(tumour.points[1], [1900.0, 820.25]);
    assert_eq!(tumour.comment.as_deref(), Some("Region 1"));
    // Parts and points: the first keeps the feature's id, the others get stable ones.
    let necrosis: Vec<Id> = read
        .objects
        .iter()
        .filter(|o| o.label.name == "Necrosis")
        .map(|o| o.id)
        .collect();
    assert_eq!(
        necrosis[0].to_string(),
        "3c4d5e6f-7a8b-4c9d-ae0f-112233445566"
    );
    assert_ne!(necrosis[0], necrosis[1]);
    let again = sample();
    assert_eq!(
        again.objects.iter().map(|o| o.id).collect::<Vec<_>>(),
        read.objects.iter().map(|o| o.id).collect::<Vec<_>>()
    );
    // Bound to the project's classes by name: Necrosis is SCT 6574001 in the default schema.
    let bound = geojson::bind_classes(&mut read.objects, &default_classes().unwrap());
    assert_eq!(bound, 2);
    let n = read
        .objects
        .iter()
        .find(|o| o.label.name == "Necrosis")
        .unwrap();
    assert_eq!(n.label.code.as_deref(), Some("6574001"));
    assert_eq!(n.label.scheme.as_deref(), Some("SCT"));

    // QuPath also writes a bare array of features, or one Feature.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/interop/qupath-sample.geojson"),
    )
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let array = doc["features"].to_string();
    assert_eq!(geojson::parse(array.as_bytes()).unwrap().objects.len(), 10);
    let one = doc["features"][1].to_string();
    let one = geojson::parse(one.as_bytes()).unwrap();
    assert_eq!((one.objects.len(), one.points), (3, 3));
}

fn refused(text: &[u8]) -> String {
    match geojson::parse(text) {
        Ok(r) => panic!(
            "accepted {:?}: {} objects",
            String::from_utf8_lossy(&text[..text.len().min(80)]),
            r.objects.len()
        ),
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "{e}");
            e
        }
    }
}

fn feature(geometry: &str) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","geometry":{geometry},"properties":{{"objectType":"annotation"}}}}]}}"#
    )
}

#[test]
fn hostile_geojson_gives_one_line_errors_never_a_panic() {
    let square = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#;
    assert_eq!(
        geojson::parse(feature(square).as_bytes())
            .unwrap()
            .objects
            .len(),
        1
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_coordinates = feature(&format!(r#"{{"type":"Point","coordinates":{deep}}}"#));
    let many_features = format!("[{}{{}}]", "{},".repeat(10));
    for (text, says) in [
        ("", "not GeoJSON"),
        ("not json", "not GeoJSON"),
        ("{\"type\": \"FeatureCollection\"", "not GeoJSON"),
        ("\"a string\"", "FeatureCollection, Feature or array"),
        ("{\"type\": \"FeatureCollection\"}", "without features"),
        (
            "{\"type\": \"FeatureCollection\", \"features\": 3}",
            "not a GeoJSON",
        ),
        ("{}", "without \"type\""),
        (square, "the top level is a \"Polygon\""),
        ("[1, 2]", "feature 0"),
        (&feature("null"), "feature 0: no geometry"),
        (
            r#"[{"properties":{"objectType":"annotation"}}]"#,
            "feature 0: no geometry",
        ),
        (
            &feature(r#"{"type":"Polygon","coordinates":[[[0,0],[NaN,0],[1,1],[0,0]]]}"#),
            "feature 0",
        ),
        (
            &feature(r#"{"type":"Polygon","coordinates":[[[0,0],[1e300,0],[1,1],[0,0]]]}"#),
            "outside",
        ),
        (
            &feature(r#"{"type":"Polygon","coordinates":[[[0,0],[1e400,0],[1,1],[0,0]]]}"#),
            "feature 0",
        ),
        (&feature(r#"{"type":"Polygon","coordinates":[]}"#), "empty"),
        (
            &feature(r#"{"type":"Polygon","coordinates":[[], []]}"#),
            "empty",
        ),
        (&feature(r#"{"type":"Polygon"}"#), "without coordinates"),
        (&feature(r#"{"coordinates":[0,0]}"#), "without a type"),
        (
            &feature(r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[0,0]]]}"#),
            "fewer than 3",
        ),
        (
            &feature(r#"{"type":"Point","coordinates":[1]}"#),
            "2 numbers",
        ),
        (
            &feature(r#"{"type":"Point","coordinates":[1,2,3,4,5]}"#),
            "more than 4",
        ),
        (
            &feature(r#"{"type":"Point","coordinates":[[1,2]]}"#),
            "not nested",
        ),
        (
            &feature(r#"{"type":"Circle","coordinates":[1,2]}"#),
            "not GeoJSON",
        ),
        (
            &feature(
                r#"{"type":"GeometryCollection","geometries":[{"type":"GeometryCollection","geometries":[]}]}"#,
            ),
            "feature 0",
        ),
        (
            &feature(r#"{"type":"GeometryCollection","geometries":[]}"#),
            "empty geometry",
        ),
        (&feature(&deep), "feature 0"),
        (&deep, "feature 0"),
        (&deep_coordinates, "recursion limit"),
        (&many_features, "feature 0: no geometry"),
        (
            r#"[{"geometry":{"type":"Point","coordinates":[1,2]},"geometry":{"type":"Point","coordinates":[1,2]}}]"#,
            "duplicate field",
        ),
        (&format!("{} trailing", feature(square)), "not GeoJSON"),
    ] {
        let e = refused(text.as_bytes());
        assert!(e.contains(says), "{text:.80}: {e}");
    }
    // Metadata and ids of odd types are skipped, not refused.
    let odd = r#"[{"id":{"a":[1,2]},"geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":[1],"metadata":{"scheme":[1,2],"other":{"x":1}},"classification":{"name":7}}}]"#;
    let read = geojson::parse(odd.as_bytes()).unwrap();
    assert_eq!(read.objects[0].label.name, "7");
    assert_eq!(read.objects[0].label.code, None);

    // The vertex bound: a ring of MAX_VERTICES positions reads, one more is refused
    // while it is read.
    let ring = |n: usize| {
        let mut text = String::with_capacity(n * 24 + 200);
        text.push_str(r#"{"type":"Polygon","coordinates":[["#);
        for i in 0..n - 1 {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            text.push_str(&format!(
                "[{:.3},{:.3}],",
                5e4 + 4e4 * t.cos(),
                5e4 + 4e4 * t.sin()
            ));
        }
        text.push_str("[90000.0,50000.0]]]}");
        feature(&text)
    };
    let max = geojson::MAX_VERTICES;
    let read = geojson::parse(ring(max).as_bytes()).unwrap();
    assert_eq!(
        read.objects[0].points.len(),
        max - 1,
        "closing vertex dropped"
    );
    let e = refused(ring(max + 1).as_bytes());
    assert!(e.contains("more than 1000000 vertices"), "{e}");

    // A file over the size bound is refused before it is read (a sparse file).
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.geojson");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(geojson::MAX_FILE_BYTES + 1)
        .unwrap();
    assert!(matches!(
        geojson::read(&big),
        Err(GeoJsonError::TooLarge { .. })
    ));
    let missing = geojson::read(&dir.path().join("none.geojson")).unwrap_err();
    assert!(missing.to_string().ends_with("none.geojson"), "{missing}");
}

fn labels_doc(project: &Path) -> Vec<Annotation> {
    let (code, out, err) = tessera(&["labels", "export", s(project)]);
    assert_eq!(code, 0, "{err}");
    let doc: LabelsDoc = serde_json::from_str(&out).unwrap();
    let mut list: Vec<Annotation> = doc
        .annotations
        .into_iter()
        .map(|a| Annotation {
            id: a.id.unwrap(),
            body: a.body,
        })
        .collect();
    list.sort_by_key(|a| a.id);
    list
}

#[test]
fn cli_exports_and_imports_slide_annotations_as_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let slide = dir.path().join("slide.svs");
    write_slide(&slide, &SynthOptions::small(3000, 2000)).unwrap();
    let sha = tessera::imaging::discovery::sha256_file(&slide).unwrap();
    let annotations = every_kind(&sha);
    let json = dir.path().join("labels.json");
    std::fs::write(
        &json,
        serde_json::to_string(&tessera::project::labels::to_doc(&annotations)).unwrap(),
    )
    .unwrap();
    let a = dir.path().join("a.tessera");
    let b = dir.path().join("b.tessera");
    for p in [&a, &b] {
        let (code, _, err) = tessera(&["project", "init", s(p)]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = tessera(&["labels", "import", s(&a), s(&json)]);
    assert_eq!(code, 0, "{err}");

    // Export with the slide: µm from its MPP; nothing patient-related on stdout.
    let out = dir.path().join("slide.geojson");
    let (code, said, err) = tessera(&[
        "labels",
        "export",
        s(&a),
        "--format",
        "geojson",
        "--out",
        s(&out),
        "--slide",
        s(&slide),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        said.contains("12 features") && said.contains("µm"),
        "{said}"
    );
    assert!(!said.contains(&sha) && !said.contains("Tumour"), "{said}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"Area µm^2\""));

    // Imported into another project (the file names its slide): the same annotations.
    let (code, said, err) = tessera(&["labels", "import", s(&b), s(&out), "--format", "geojson"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        said.contains("imported 15 objects") && said.contains("as 15 edits"),
        "{said}"
    );
    let mut want = annotations.clone();
    want.sort_by_key(|a| a.id);
    assert_eq!(labels_doc(&b), want);
    // Into the project it came from: nothing changes.
    let (code, said, err) = tessera(&["labels", "import", s(&a), s(&out), "--format", "geojson"]);
    assert_eq!(code, 0, "{err}");
    assert!(said.contains("as 0 edits"), "{said}");
    assert_eq!(labels_doc(&a), want);

    // --case picks the slide by SHA-256 (pixels without the slide file).
    let by_case = dir.path().join("case.geojson");
    let (code, said, err) = tessera(&[
        "labels",
        "export",
        s(&a),
        "--format",
        "geojson",
        "--out",
        s(&by_case),
        "--case",
        &sha,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(said.contains("in pixels"), "{said}");

    // QuPath's sample needs --slide; with it, it is stored on that slide.
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/interop/qupath-sample.geojson");
    let (code, said, err) = tessera(&[
        "labels",
        "import",
        s(&b),
        s(&sample),
        "--format",
        "geojson",
        "--slide",
        s(&slide),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(said.contains("imported 10 objects"), "{said}");
    assert!(said.contains("left out 1 holes"), "{said}");
    assert_eq!(labels_doc(&b).len(), want.len() + 10);

    // Refusals: one line each, exit 1.
    let junk = dir.path().join("junk.geojson");
    std::fs::write(&junk, "not json at all").unwrap();
    let empty = dir.path().join("empty.tessera");
    let (code, _, err) = tessera(&["project", "init", s(&empty)]);
    assert_eq!(code, 0, "{err}");
    let other = "f".repeat(64);
    for (args, says) in [
        (
            vec!["labels", "import", s(&b), s(&sample), "--format", "geojson"],
            "--slide SLIDE is required",
        ),
        (
            vec!["labels", "import", s(&b), s(&junk), "--format", "geojson"],
            "not GeoJSON",
        ),
        (
            vec![
                "labels",
                "export",
                s(&empty),
                "--format",
                "geojson",
                "--out",
                "x.geojson",
            ],
            "no slide annotations",
        ),
        (
            vec![
                "labels",
                "export",
                s(&a),
                "--format",
                "geojson",
                "--out",
                "x.geojson",
                "--case",
                &other,
            ],
            "no annotations on this slide",
        ),
        (
            vec![
                "labels",
                "export",
                s(&a),
                "--format",
                "geojson",
                "--out",
                "x.geojson",
                "--case",
                &other,
                "--slide",
                s(&slide),
            ],
            "--slide is not the slide --case names",
        ),
    ] {
        let (code, _, err) = tessera(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains(says) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    assert!(!Path::new("x.geojson").exists());
}
