//! DICOM Structured Report, TID 1500 Measurement Report, from vector annotations.
//!
//! Owns the content tree, laid out as highdicom writes it so that its parser (and so
//! OHIF's and dcmqi's) recovers every group:
//! - root CONTAINER "Imaging Measurement Report" (DCM 126000, template 1500): language
//!   (en-US), observer context (person: the exporting reader), procedure reported;
//! - CONTAINER "Imaging Measurements" holding one "Measurement Group" per annotation:
//!   rulers and bidirectionals as TID 1501 (Length; Long Axis and Short Axis), each
//!   NUM INFERRED FROM the SCOORD POLYLINE it was measured on; area tools (rectangle,
//!   ellipse, polygon, freehand) and points as TID 1410 with an "Image Region" SCOORD
//!   (closed POLYLINE, ELLIPSE, POINT) and Area plus, for CT, mean/SD/min/max
//!   attenuation in HU; every group with Tracking Identifier, Tracking Unique
//!   Identifier (derived from the annotation id, so it stays the same across exports)
//!   and Finding (the label's code, or a local code for a free-text label).
//! - Units in UCUM: `mm`, `mm2`, `[hnsf'U]`.
//!
//! Annotations on an acquired slice get SCOORD (column/row image coordinates, pixel
//! centre at .5, referencing the SOP instance and frame) in a Comprehensive SR; any
//! annotation on a reformatted (MPR) plane makes it a Comprehensive 3D SR with SCOORD3D
//! (patient LPS mm in the source's frame of reference). Angles have no TID 1500
//! concept and are left out (counted in [`SrSummary::skipped`]); so are annotations
//! of other series and slides.

use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::{tags, uids};

use super::dicom::{self, code_item};
use super::nifti::ImageVolume;
use super::placement::{Measured, NotPlaced, Placement, measurements};
use super::{Authoring, Code, InteropError, SourceSeries};
use crate::annotate::measure::Point;
use crate::annotate::shapes::kind_name;
use crate::imaging::writer::DatasetBuilder;
use crate::project::Id;
use crate::project::model::{Annotation, Kind};

/// What a written report holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrSummary {
    /// The SOP class written (Comprehensive SR or Comprehensive 3D SR).
    pub sop_class_uid: &'static str,
    pub groups: usize,
    /// Annotations left out, and why.
    pub skipped: Vec<(Id, String)>,
}

/// The Tracking Unique Identifier of an annotation: its id as a `2.25` UID.
pub fn tracking_uid(id: Id) -> String {
    format!("2.25.{}", u128::from_be_bytes(id.0))
}

/// Writes a TID 1500 report of `annotations` drawn on `source`. `image` (the loaded
/// volume) gives the HU statistics of area tools on CT; without it only areas are
/// reported. Refuses when no annotation can be reported.
pub fn write(
    path: &Path,
    annotations: &[Annotation],
    source: &SourceSeries,
    image: Option<&ImageVolume>,
    who: &Authoring,
) -> Result<SrSummary, InteropError> {
    let mut skipped = Vec::new();
    let mut groups = Vec::new();
    let mut referenced: Vec<usize> = Vec::new();
    let mut three_d = false;
    for a in annotations {
        let placement = match Placement::of(a, source) {
            Ok(p) => p,
            Err(why) => {
                skipped.push((a.id, why.to_string()));
                continue;
            }
        };
        if a.body.kind == Kind::Angle {
            skipped.push((a.id, "angles have no TID 1500 concept".into()));
            continue;
        }
        if a.body.validate().is_err() {
            skipped.push((a.id, NotPlaced::NoImage.to_string()));
            continue;
        }
        let ctx = Context {
            source,
            placement,
            for_uid: source.frame_of_reference_uid.as_deref(),
        };
        if placement.is_acquired() {
            referenced.push(placement.index);
        } else if ctx.for_uid.is_none() {
            skipped.push((
                a.id,
                "an MPR annotation needs the series' frame of reference".into(),
            ));
            continue;
        } else {
            three_d = true;
        }
        let measured = measurements(a, placement, source, image);
        groups.push(group(a, &measured, &ctx));
    }
    if groups.is_empty() {
        return Err(InteropError::NoMeasurements(format!(
            "none of {} annotations is on this series as a ruler, bidirectional, area or point",
            annotations.len()
        )));
    }
    let sop_class = if three_d {
        uids::COMPREHENSIVE3_DSR_STORAGE
    } else {
        uids::COMPREHENSIVE_SR_STORAGE
    };
    if three_d {
        referenced = (0..source.slices.len()).collect();
    }
    referenced.sort_unstable();
    referenced.dedup();

    let procedure = match source.modality.as_str() {
        "CT" => Code::new("LN", "25045-6", "CT unspecified body region"),
        "MR" => Code::new("LN", "25056-3", "MR unspecified body region"),
        _ => Code::new("SCT", "363679005", "Imaging procedure"),
    };
    let n_groups = groups.len();
    let content = vec![
        code_content(
            "HAS CONCEPT MOD",
            &Code::new("DCM", "121049", "Language of Content Item and Descendants"),
            &Code::new("RFC5646", "en-US", "English (United States)"),
        ),
        code_content(
            "HAS OBS CONTEXT",
            &Code::new("DCM", "121005", "Observer Type"),
            &Code::new("DCM", "121006", "Person"),
        ),
        item(
            "HAS OBS CONTEXT",
            "PNAME",
            &Code::new("DCM", "121008", "Person Observer Name"),
        )
        .text(tags::PERSON_NAME, VR::PN, &dicom::person_name(&who.creator)),
        code_content(
            "HAS CONCEPT MOD",
            &Code::new("DCM", "121058", "Procedure reported"),
            &procedure,
        ),
        container(
            "CONTAINS",
            &Code::new("DCM", "126010", "Imaging Measurements"),
            None,
            groups,
        ),
    ];

    let evidence = DatasetBuilder::new()
        .text(tags::STUDY_INSTANCE_UID, VR::UI, &source.study_instance_uid)
        .sequence(
            tags::REFERENCED_SERIES_SEQUENCE,
            vec![
                DatasetBuilder::new()
                    .text(
                        tags::SERIES_INSTANCE_UID,
                        VR::UI,
                        &source.series_instance_uid,
                    )
                    .sequence(
                        tags::REFERENCED_SOP_SEQUENCE,
                        referenced
                            .iter()
                            .filter_map(|k| source.slices.get(*k))
                            .map(|s| {
                                DatasetBuilder::new()
                                    .text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &s.sop_class_uid)
                                    .text(
                                        tags::REFERENCED_SOP_INSTANCE_UID,
                                        VR::UI,
                                        &s.sop_instance_uid,
                                    )
                            })
                            .collect(),
                    ),
            ],
        );

    let mut b = dicom::patient_and_study(DatasetBuilder::new(), source);
    b = dicom::series_and_equipment(b, "SR", sop_class, who)
        .sequence(tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE, vec![])
        .sequence(tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, vec![])
        .sequence(
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![evidence],
        )
        .text(tags::COMPLETION_FLAG, VR::CS, "PARTIAL")
        .text(tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED")
        .text(tags::VALUE_TYPE, VR::CS, "CONTAINER")
        .text(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE")
        .sequence(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![code_item(&Code::new(
                "DCM",
                "126000",
                "Imaging Measurement Report",
            ))],
        )
        .sequence(tags::CONTENT_TEMPLATE_SEQUENCE, vec![template("1500")])
        .sequence(tags::CONTENT_SEQUENCE, content);
    if annotations
        .iter()
        .any(|a| Code::of_label(&a.body.label).is_local())
    {
        b = dicom::local_scheme(b);
    }
    b.write(path).map_err(|e| InteropError::write(path, e))?;
    Ok(SrSummary {
        sop_class_uid: sop_class,
        groups: n_groups,
        skipped,
    })
}

struct Context<'a> {
    source: &'a SourceSeries,
    placement: Placement,
    for_uid: Option<&'a str>,
}

fn template(id: &str) -> DatasetBuilder {
    DatasetBuilder::new()
        .text(tags::MAPPING_RESOURCE, VR::CS, "DCMR")
        .text(tags::TEMPLATE_IDENTIFIER, VR::CS, id)
}

/// A content item: relationship, value type and concept name.
fn item(relationship: &str, value_type: &str, concept: &Code) -> DatasetBuilder {
    DatasetBuilder::new()
        .text(tags::RELATIONSHIP_TYPE, VR::CS, relationship)
        .text(tags::VALUE_TYPE, VR::CS, value_type)
        .sequence(tags::CONCEPT_NAME_CODE_SEQUENCE, vec![code_item(concept)])
}

fn code_content(relationship: &str, concept: &Code, value: &Code) -> DatasetBuilder {
    item(relationship, "CODE", concept)
        .sequence(tags::CONCEPT_CODE_SEQUENCE, vec![code_item(value)])
}

fn container(
    relationship: &str,
    concept: &Code,
    template_id: Option<&str>,
    children: Vec<DatasetBuilder>,
) -> DatasetBuilder {
    let mut b = item(relationship, "CONTAINER", concept).text(
        tags::CONTINUITY_OF_CONTENT,
        VR::CS,
        "SEPARATE",
    );
    if let Some(id) = template_id {
        b = b.sequence(tags::CONTENT_TEMPLATE_SEQUENCE, vec![template(id)]);
    }
    b.sequence(tags::CONTENT_SEQUENCE, children)
}

fn num(m: &Measured, children: Vec<DatasetBuilder>) -> Option<DatasetBuilder> {
    let concept = m.concept.as_ref()?;
    let value = DatasetBuilder::new()
        .sequence(
            tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
            vec![code_item(&m.unit)],
        )
        .ds(tags::NUMERIC_VALUE, &[m.value])
        .element(dicom::fd(tags::FLOATING_POINT_VALUE, &[m.value]));
    let mut b =
        item("CONTAINS", "NUM", concept).sequence(tags::MEASURED_VALUE_SEQUENCE, vec![value]);
    let mut children = children;
    if let Some(d) = &m.derivation {
        children.insert(
            0,
            code_content(
                "HAS CONCEPT MOD",
                &Code::new("DCM", "121401", "Derivation"),
                d,
            ),
        );
    }
    if !children.is_empty() {
        b = b.sequence(tags::CONTENT_SEQUENCE, children);
    }
    Some(b)
}

/// SCOORD or SCOORD3D content of `points` (plane points) as `shape`.
fn coordinates(
    relationship: &str,
    concept: &Code,
    shape: Shape,
    points: &[Point],
    ctx: &Context<'_>,
) -> DatasetBuilder {
    let closed = |mut v: Vec<Point>| {
        if let Some(first) = v.first().copied()
            && v.last() != Some(&first)
        {
            v.push(first);
        }
        v
    };
    let (graphic_2d, graphic_3d, pts) = match shape {
        Shape::Line => ("POLYLINE", "POLYLINE", points.to_vec()),
        Shape::Closed => ("POLYLINE", "POLYGON", closed(points.to_vec())),
        Shape::Ellipse => ("ELLIPSE", "ELLIPSE", ellipse_axes(points, ctx)),
        Shape::Point => ("POINT", "POINT", points.to_vec()),
    };
    if ctx.placement.is_acquired() {
        let Some(slice) = ctx.source.slices.get(ctx.placement.index) else {
            return item(relationship, "SCOORD", concept);
        };
        let data: Vec<f32> = pts
            .iter()
            .flat_map(|p| [(p[0] + 0.5) as f32, (p[1] + 0.5) as f32])
            .collect();
        let mut sop = DatasetBuilder::new()
            .text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &slice.sop_class_uid)
            .text(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                &slice.sop_instance_uid,
            );
        if let Some(frame) = slice.frame {
            sop = sop.is(tags::REFERENCED_FRAME_NUMBER, i64::from(frame));
        }
        let image = item("SELECTED FROM", "IMAGE", &source_concept())
            .sequence(tags::REFERENCED_SOP_SEQUENCE, vec![sop]);
        item(relationship, "SCOORD", concept)
            .text(tags::GRAPHIC_TYPE, VR::CS, graphic_2d)
            .element(dicom::fl(tags::GRAPHIC_DATA, &data))
            .sequence(tags::CONTENT_SEQUENCE, vec![image])
    } else {
        let data: Vec<f32> = pts
            .iter()
            .flat_map(|p| ctx.placement.world(ctx.source, *p).map(|x| x as f32))
            .collect();
        item(relationship, "SCOORD3D", concept)
            .text(tags::GRAPHIC_TYPE, VR::CS, graphic_3d)
            .element(dicom::fl(tags::GRAPHIC_DATA, &data))
            .text(
                tags::REFERENCED_FRAME_OF_REFERENCE_UID,
                VR::UI,
                ctx.for_uid.unwrap_or_default(),
            )
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Line,
    Closed,
    Ellipse,
    Point,
}

/// SCT 260753009 "Source": what highdicom names coordinates and images of a measurement.
fn source_concept() -> Code {
    Code::new("SCT", "260753009", "Source")
}

/// An axis-aligned ellipse (two opposite corners of its box) as DICOM's ELLIPSE: the
/// major axis end points, then the minor axis end points (major in millimetres).
fn ellipse_axes(corners: &[Point], ctx: &Context<'_>) -> Vec<Point> {
    let [a, b] = match corners {
        [a, b] => [*a, *b],
        _ => return corners.to_vec(),
    };
    let c = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let r = [(b[0] - a[0]).abs() / 2.0, (b[1] - a[1]).abs() / 2.0];
    let spacing = ctx.placement.spacing(ctx.source);
    let horizontal = [[c[0] - r[0], c[1]], [c[0] + r[0], c[1]]];
    let vertical = [[c[0], c[1] - r[1]], [c[0], c[1] + r[1]]];
    if r[0] * spacing.column_mm >= r[1] * spacing.row_mm {
        [horizontal, vertical].concat()
    } else {
        [vertical, horizontal].concat()
    }
}

/// One measurement group.
fn group(a: &Annotation, measured: &[Measured], ctx: &Context<'_>) -> DatasetBuilder {
    let body = &a.body;
    let mut children = vec![
        item(
            "HAS OBS CONTEXT",
            "TEXT",
            &Code::new("DCM", "112039", "Tracking Identifier"),
        )
        .text(
            tags::TEXT_VALUE,
            VR::UT,
            &format!("{} {}", kind_name(body.kind), a.id.short()),
        ),
        item(
            "HAS OBS CONTEXT",
            "UIDREF",
            &Code::new("DCM", "112040", "Tracking Unique Identifier"),
        )
        .text(tags::UID, VR::UI, &tracking_uid(a.id)),
        code_content(
            "CONTAINS",
            &Code::new("DCM", "121071", "Finding"),
            &Code::of_label(&body.label),
        ),
    ];
    let template_id = match body.kind {
        Kind::Ruler | Kind::Bidirectional => {
            for m in measured {
                let points: Vec<Point> = m
                    .points
                    .iter()
                    .filter_map(|n| body.points.get(*n).copied())
                    .collect();
                let source = coordinates(
                    "INFERRED FROM",
                    &source_concept(),
                    Shape::Line,
                    &points,
                    ctx,
                );
                children.extend(num(m, vec![source]));
            }
            "1501"
        }
        _ => {
            children.extend(measured.iter().filter_map(|m| num(m, Vec::new())));
            let shape = match body.kind {
                Kind::Point => Shape::Point,
                Kind::Ellipse => Shape::Ellipse,
                _ => Shape::Closed,
            };
            let points = match body.kind {
                Kind::Rectangle => match body.points.as_slice() {
                    [a, b] => vec![*a, [b[0], a[1]], *b, [a[0], b[1]]],
                    other => other.to_vec(),
                },
                _ => body.points.clone(),
            };
            children.push(coordinates(
                "CONTAINS",
                &Code::new("DCM", "111030", "Image Region"),
                shape,
                &points,
                ctx,
            ));
            "1410"
        }
    };
    container(
        "CONTAINS",
        &Code::new("DCM", "125007", "Measurement Group"),
        Some(template_id),
        children,
    )
}
