use serde_json::Value;

use super::*;
use crate::annotate::packed::{ChunkDelta, Packed, StrokeEdit, Tool};
use crate::annotate::schema::default_classes;
use crate::annotate::segmentation::{GridSpec, Segment, SegmentationHeader};
use crate::project::cases::{CaseAction, Consensus, WorkflowRecord};
use crate::project::model::PlaneName;

/// `EventPayload`'s own decoding: what [`decode`] must always give.
fn full(json: &[u8]) -> Option<EventPayload> {
    serde_json::from_slice(json).ok()
}

fn bytes(p: &EventPayload) -> Vec<u8> {
    serde_json::to_vec(p).unwrap()
}

/// Both paths agree on `json`: the mirror either declines or gives the full decode's value
/// (equal, and equal once serialized again, which also tells -0.0 from 0.0), and
/// [`decode`] gives the full decode's value.
fn check(json: &[u8]) -> Option<EventPayload> {
    let want = full(json);
    let shown = || String::from_utf8_lossy(json).into_owned();
    if let Some(got) = mirror(json) {
        let Some(want) = &want else {
            panic!("the mirror accepts what EventPayload refuses: {}", shown());
        };
        assert_eq!(&got, want, "{}", shown());
        assert_eq!(bytes(&got), bytes(want), "{}", shown());
    }
    let got = decode(json);
    assert_eq!(got, want, "{}", shown());
    assert_eq!(got.as_ref().map(bytes), want.as_ref().map(bytes));
    want
}

fn provenance() -> Provenance {
    Provenance {
        sop_uids: vec!["1.2.840.1".into(), "1.2.840.2".into()],
        frames: vec![0, 7],
        file_sha256: vec!["ab".repeat(32), "cd".repeat(32)],
        spacing_mm: [0.1 + 0.2, 0.703125, 2.5],
        orientation: [1.0, -0.0, 0.0, 0.0, 0.999_999_999_999_9, -1e-300],
        origin_mm: [-125.5, 1e308, 17.0],
        dims: [512, 512, 300],
    }
}

fn annotation(i: u8, image: ImageRef) -> Annotation {
    Annotation {
        id: Id([i; 16]),
        body: AnnotationBody {
            image,
            kind: Kind::Polygon,
            points: vec![[0.5, -0.0], [1e-7, 3.0], [-2.25, 1.0 / 3.0]],
            label: Label {
                name: format!("lesion \"{i}\" é\n"),
                scheme: Some("SCT".into()),
                code: Some("4147007".into()),
                meaning: None,
            },
            comment: Some("note\t2".into()),
        },
    }
}

/// Every form of image reference.
fn images() -> Vec<ImageRef> {
    vec![
        ImageRef::Dicom {
            series_uid: "1.2.3".into(),
            sop_uid: None,
            frame: None,
            plane: None,
            provenance: None,
        },
        ImageRef::Dicom {
            series_uid: "1.2.3".into(),
            sop_uid: Some("1.2.3.4".into()),
            frame: Some(4),
            plane: None,
            provenance: None,
        },
        ImageRef::Dicom {
            series_uid: "1.2.3".into(),
            sop_uid: None,
            frame: None,
            plane: Some(PlaneRef {
                plane: PlaneName::Coronal,
                index: 117,
            }),
            provenance: Some(Box::new(provenance())),
        },
        ImageRef::Slide {
            slide_sha256: "ef".repeat(32),
        },
    ]
}

fn header() -> SegmentationHeader {
    SegmentationHeader {
        name: "Liver".into(),
        grid: GridSpec {
            dims: [64, 64, 40],
            spacing_mm: [0.7, 0.7, 1.25],
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin_mm: [-1.5, 2.0, 0.0],
        },
        sources: Vec::new(),
    }
}

/// Which variant `e` is. No wildcard: a new `Edit` variant is a build error here until
/// [`one_of_each`] builds one and [`mirrored`] says whether the mirror decodes it.
fn variant(e: &Edit) -> usize {
    match e {
        Edit::Create { .. } => 0,
        Edit::Update { .. } => 1,
        Edit::Delete { .. } => 2,
        Edit::ClassDefine { .. } => 3,
        Edit::SegmentationCreate { .. } => 4,
        Edit::SegmentationDelete { .. } => 5,
        Edit::SegmentDefine { .. } => 6,
        Edit::SegmentStroke { .. } => 7,
        Edit::Workflow { .. } => 8,
    }
}
const VARIANTS: usize = 9;

/// True for the variants the mirror decodes; every other one must fall back.
fn mirrored(e: &Edit) -> bool {
    matches!(
        e,
        Edit::Create { .. } | Edit::Update { .. } | Edit::Delete { .. }
    )
}

/// At least one edit of every variant (the annotation ones with every image form).
fn one_of_each() -> Vec<Edit> {
    let class = default_classes().unwrap()[0].clone();
    let seg = Id([40; 16]);
    let mut out = Vec::new();
    for (i, image) in images().into_iter().enumerate() {
        let i = i as u8 * 3;
        let a = annotation(i + 1, image.clone());
        let mut b = annotation(i + 2, images()[0].clone());
        b.id = a.id;
        b.body.comment = None;
        out.push(Edit::Create {
            annotation: a.clone(),
        });
        out.push(Edit::Update {
            before: b.clone(),
            after: a.clone(),
        });
        out.push(Edit::Delete { annotation: a });
    }
    out.extend([
        Edit::ClassDefine {
            id: Id([30; 16]),
            before: None,
            after: Some(class.clone()),
        },
        Edit::SegmentationCreate {
            id: seg,
            image: images()[2].clone(),
            header: header(),
        },
        Edit::SegmentationDelete {
            id: seg,
            image: images()[1].clone(),
            header: header(),
        },
        Edit::SegmentDefine {
            segmentation: seg,
            index: 3,
            before: None,
            after: Some(Segment::of_class("Lesion 3", Some(Id([30; 16])), &class)),
        },
        Edit::SegmentStroke {
            segmentation: seg,
            stroke: StrokeEdit {
                tool: Tool::Brush,
                net_voxels: vec![(3, 12), (0, -12)],
                chunks: vec![ChunkDelta {
                    index: 5,
                    before: Packed(Vec::new()),
                    after: Packed(vec![0, 3]),
                }],
            },
        },
    ]);
    let case = Some(images()[0].clone());
    let actions = [
        (
            case.clone(),
            CaseAction::Assign {
                readers: vec![Id([1; 16]), Id([2; 16])],
                blinded: true,
            },
        ),
        (
            case.clone(),
            CaseAction::Comment {
                annotation: Some(Id([4; 16])),
                text: "see \"here\"".into(),
                mentions: vec![Id([2; 16])],
            },
        ),
        (
            case.clone(),
            CaseAction::Adjudicate {
                answer: "benign".into(),
                consensus: vec![Consensus {
                    annotation: Id([5; 16]),
                    from: vec![Id([6; 16]), Id([7; 16])],
                }],
            },
        ),
        (case, CaseAction::Submit),
        (
            None,
            CaseAction::Policy {
                second_read_all: false,
            },
        ),
    ];
    for (i, (case, action)) in actions.into_iter().enumerate() {
        out.push(Edit::Workflow {
            id: Id([50 + i as u8; 16]),
            record: WorkflowRecord { case, action },
        });
    }
    out
}

/// `edit` with each combination of the payload's own fields.
fn payloads(edit: &Edit) -> Vec<EventPayload> {
    (0..8u8)
        .map(|k| {
            let mut p = EventPayload::new(edit.clone());
            if k & 1 != 0 {
                p.undo_of = Some(Id([9; 16]));
            }
            if k & 2 != 0 {
                p.redo_of = Some(Id([10; 16]));
                p.resolves = vec![Field::Label, Field::Exists, Field::LabelMap];
            }
            if k & 4 != 0 {
                p.preds = Some(vec![Id([3; 16]), Id([4; 16])]);
            } else if k == 2 {
                p.preds = Some(Vec::new());
            }
            p
        })
        .collect()
}

#[test]
fn every_edit_variant_decodes_as_serde_does_or_falls_back() {
    let edits = one_of_each();
    let mut seen = [false; VARIANTS];
    for e in &edits {
        seen[variant(e)] = true;
        for p in payloads(e) {
            let json = bytes(&p);
            assert_eq!(check(&json).as_ref(), Some(&p));
            // The hot variants really take the mirror; every other one falls back.
            assert_eq!(mirror(&json).is_some(), mirrored(e), "{p:?}");
        }
    }
    assert!(seen.iter().all(|&s| s), "one_of_each misses a variant");
}

#[test]
fn an_annotation_with_plane_provenance_and_redo_of_round_trips_exactly() {
    let a = annotation(7, images()[2].clone());
    let mut p = EventPayload::new(Edit::Create { annotation: a });
    p.redo_of = Some(Id([11; 16]));
    p.preds = Some(vec![Id([12; 16])]);
    let json = bytes(&p);
    let got = mirror(&json).expect("the mirror decodes a create with plane and provenance");
    assert_eq!(got, p);
    assert_eq!(bytes(&got), json);
    assert_eq!(got.op_name(), "redo");
    let Edit::Create { annotation } = &got.edit else {
        panic!("not a create");
    };
    let ImageRef::Dicom {
        plane,
        provenance: stored,
        ..
    } = &annotation.body.image
    else {
        panic!("not a DICOM reference");
    };
    assert_eq!(plane.as_ref().map(|p| p.index), Some(117));
    assert_eq!(stored.as_deref(), Some(&provenance()));
    assert_eq!(decode(&json), Some(p));
}

/// Values that are wrong for most fields, or right for some.
fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        Value::from(7),
        Value::from(-1.5),
        Value::from("x"),
        Value::from("create"),
        Value::from("01010101-0101-0101-0101-010101010101"),
        Value::Array(Vec::new()),
        serde_json::json!({}),
        serde_json::json!({"plane": "axial", "index": 2}),
        serde_json::json!({"series_uid": "9.9"}),
        serde_json::json!({"slide_sha256": "ab"}),
    ]
}

/// Calls `f` with every variant of `v` that differs in one place: a field removed, set to
/// an odd value, or added; an array element removed or replaced.
fn mutations(v: &Value, f: &mut dyn FnMut(Value)) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let mut m = map.clone();
                m.remove(k);
                f(Value::Object(m));
                for odd in odd_values() {
                    let mut m = map.clone();
                    m.insert(k.clone(), odd);
                    f(Value::Object(m));
                }
                mutations(child, &mut |c| {
                    let mut m = map.clone();
                    m.insert(k.clone(), c);
                    f(Value::Object(m));
                });
            }
            for k in [
                "zz",
                "op",
                "annotation",
                "before",
                "after",
                "slide_sha256",
                "series_uid",
                "plane",
                "undo_of",
            ] {
                if !map.contains_key(k) {
                    for odd in [Value::from(1), Value::Null] {
                        let mut m = map.clone();
                        m.insert(k.into(), odd);
                        f(Value::Object(m));
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let mut a = items.clone();
                a.remove(i);
                f(Value::Array(a));
                mutations(child, &mut |c| {
                    let mut a = items.clone();
                    a[i] = c;
                    f(Value::Array(a));
                });
            }
        }
        _ => {}
    }
}

#[test]
fn payloads_changed_in_one_place_decode_as_serde_does() {
    let mut n = 0usize;
    let mut mirrored = 0usize;
    for e in one_of_each() {
        let mut p = EventPayload::new(e);
        p.undo_of = Some(Id([9; 16]));
        let json: Value = serde_json::to_value(&p).unwrap();
        mutations(&json, &mut |m| {
            let text = serde_json::to_vec(&m).unwrap();
            check(&text);
            n += 1;
            mirrored += usize::from(mirror(&text).is_some());
        });
    }
    // Both paths really ran: some changed payloads still take the mirror.
    assert!(
        n > 1000 && mirrored > 0,
        "{n} payloads, {mirrored} mirrored"
    );
}

#[test]
fn odd_texts_decode_as_serde_does() {
    let id = "01010101-0101-0101-0101-010101010101";
    let ann = |image: &str, extra: &str| {
        format!(
            r#"{{"id":"{id}","image":{image},"kind":"point","points":[[1,-0]],"label":{{"name":"x"}}{extra}}}"#
        )
    };
    let create = |a: String| format!(r#"{{"edit":{{"op":"create","annotation":{a}}}}}"#);
    let dicom = r#"{"series_uid":"1.2","frame":3}"#;
    let cases: Vec<String> = vec![
        // The tag after the fields; nulls; integers for floats.
        format!(
            r#"{{"edit":{{"annotation":{},"op":"create"}},"preds":null,"redo_of":null}}"#,
            ann(dicom, r#","comment":null"#)
        ),
        // Unknown fields anywhere (the full decode ignores them; the mirror declines).
        format!(
            r#"{{"x":1,"edit":{{"op":"create","annotation":{}}}}}"#,
            ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"create","zz":[1],"annotation":{}}}}}"#,
            ann(dicom, "")
        ),
        create(ann(dicom, r#","other":{"a":1}"#)),
        create(ann(r#"{"series_uid":"1.2","case":"c1"}"#, "")),
        // Both image forms, and the forms' fields mixed.
        create(ann(r#"{"series_uid":"1.2","slide_sha256":"ab"}"#, "")),
        create(ann(r#"{"series_uid":7,"slide_sha256":"ab"}"#, "")),
        create(ann(r#"{"series_uid":null,"slide_sha256":"ab"}"#, "")),
        create(ann(r#"{"series_uid":"1.2","slide_sha256":5}"#, "")),
        create(ann(r#"{"frame":2,"slide_sha256":"ab"}"#, "")),
        create(ann(
            r#"{"series_uid":"1.2","plane":5,"slide_sha256":"ab"}"#,
            "",
        )),
        create(ann(r#"{"frame":2}"#, "")),
        create(ann(
            r#"{"series_uid":"1.2","plane":{"plane":"axial","index":3,"x":1}}"#,
            "",
        )),
        create(ann(
            r#"{"series_uid":"1.2","provenance":{"spacing_mm":[1,1,1],"orientation":[1,0,0,0,1,0],"origin_mm":[0,0,0],"dims":[1,2,3]}}"#,
            "",
        )),
        create(ann(r#"{"series_uid":"1.2","provenance":null}"#, "")),
        // Fields another variant has; a missing one; duplicates.
        format!(
            r#"{{"edit":{{"op":"create","annotation":{a},"before":{a}}}}}"#,
            a = ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"create","annotation":{a},"before":null}}}}"#,
            a = ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"create","annotation":{a},"before":7}}}}"#,
            a = ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"update","before":{}}}}}"#,
            ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"update","before":{a},"after":{a},"annotation":{a}}}}}"#,
            a = ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"delete","op":"delete","annotation":{}}}}}"#,
            ann(dicom, "")
        ),
        create(ann(dicom, r#","kind":"ruler""#)),
        format!(
            r#"{{"edit":{{"op":"create","annotation":{a}}},"edit":{{"op":"create","annotation":{a}}}}}"#,
            a = ann(dicom, "")
        ),
        // Tags the mirror does not know: the full decode's (or its refusal).
        format!(
            r#"{{"edit":{{"op":"paint","annotation":{}}}}}"#,
            ann(dicom, "")
        ),
        format!(
            r#"{{"edit":{{"op":"assign","annotation":{}}}}}"#,
            ann(dicom, "")
        ),
        format!(r#"{{"edit":{{"op":"class","id":"{id}","before":null,"after":null}}}}"#),
        // Out-of-range numbers, odd resolves.
        format!(
            r#"{{"edit":{{"op":"create","annotation":{}}},"undo_of":"{id}","resolves":["label"]}}"#,
            ann(dicom, r#","points":[[1e400,0]]"#)
        ),
        format!(
            r#"{{"edit":{{"op":"create","annotation":{}}},"resolves":["label map","segment"]}}"#,
            ann(r#"{"series_uid":"1.2","frame":4294967296}"#, "")
        ),
        format!(
            r#"{{"edit":{{"op":"create","annotation":{}}},"resolves":["label map","nope"]}}"#,
            ann(dicom, "")
        ),
        "[]".into(),
        "{".into(),
        "null".into(),
    ];
    for json in &cases {
        check(json.as_bytes());
    }
    // The ones the full decode takes as they are: the mirror takes them too.
    for json in &cases[..1] {
        assert!(mirror(json.as_bytes()).is_some(), "{json}");
    }
}
