//! Measurements and segments as CSV (RFC 4180): what a statistician opens in a
//! spreadsheet. One row per measured value of a vector annotation, or per segment of
//! a label volume (its volume in mL); a point (which measures nothing) gets one row
//! without a value.
//!
//! Owns the columns and the quoting. Text fields that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`) get a leading apostrophe; numbers never do.

use std::fmt::Write as _;

use super::nifti::ImageVolume;
use super::placement::{Placement, measurements};
use super::{Code, LabelVolume, SourceSeries};
use crate::annotate::measure::PixelSpacing;
use crate::annotate::shapes::{Measurement, kind_name};
use crate::project::model::{Annotation, ImageRef};

/// The header line's fields.
pub const COLUMNS: [&str; 18] = [
    "case",
    "study_uid",
    "series_uid",
    "sop_uid",
    "frame",
    "plane",
    "annotation",
    "kind",
    "class",
    "scheme",
    "code",
    "meaning",
    "uncoded",
    "reader",
    "status",
    "measurement",
    "value",
    "unit",
];

/// One row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub case: String,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    /// 0-based frame of a multi-frame instance.
    pub frame: Option<u32>,
    /// `coronal 12` for an annotation on a reformatted plane.
    pub plane: String,
    /// The annotation id, or `segment N`.
    pub annotation: String,
    pub kind: String,
    pub class: String,
    pub code: Option<Code>,
    pub reader: String,
    pub status: String,
    pub measurement: String,
    pub value: Option<f64>,
    pub unit: String,
}

/// Who drew an annotation and its review state.
#[derive(Clone, Debug, PartialEq)]
pub struct RowContext<'a> {
    pub case: &'a str,
    pub study_uid: &'a str,
    pub reader: &'a str,
    pub status: &'a str,
}

/// The rows of one annotation. With its source series (and image), the measurements
/// are those of the SR export; without, lengths and areas come from the pixel spacing
/// recorded in the annotation's provenance, and there are no HU statistics.
pub fn annotation_rows(
    annotation: &Annotation,
    ctx: &RowContext<'_>,
    source: Option<&SourceSeries>,
    image: Option<&ImageVolume>,
) -> Vec<Row> {
    let body = &annotation.body;
    let code = Code::of_label(&body.label);
    let mut base = Row {
        case: ctx.case.to_owned(),
        study_uid: ctx.study_uid.to_owned(),
        annotation: annotation.id.to_string(),
        kind: kind_name(body.kind).to_lowercase(),
        class: body.label.name.clone(),
        code: Some(code),
        reader: ctx.reader.to_owned(),
        status: ctx.status.to_owned(),
        ..Row::default()
    };
    let mut spacing = None;
    match &body.image {
        ImageRef::Dicom {
            series_uid,
            sop_uid,
            frame,
            plane,
            provenance,
        } => {
            base.series_uid = series_uid.clone();
            base.sop_uid = sop_uid.clone().unwrap_or_default();
            base.frame = *frame;
            if let Some(p) = plane {
                base.plane = format!("{} {}", format!("{:?}", p.plane).to_lowercase(), p.index);
            } else if let Some(p) = provenance {
                spacing = Some(PixelSpacing::from_dicom([p.spacing_mm[0], p.spacing_mm[1]]));
            }
        }
        ImageRef::Slide { slide_sha256 } => base.series_uid = format!("slide {slide_sha256}"),
    }
    let measured: Vec<(String, f64, String)> =
        match source.map(|s| (s, Placement::of(annotation, s))) {
            Some((s, Ok(placement))) => measurements(annotation, placement, s, image)
                .into_iter()
                .map(|m| (m.name.to_owned(), m.value, m.unit.value))
                .collect(),
            _ => match spacing.map(|s| Measurement::of(body.kind, &body.points, &s)) {
                Some(Measurement::Length { mm }) => vec![("length".into(), mm, "mm".into())],
                Some(Measurement::Angle { deg }) => vec![("angle".into(), deg, "deg".into())],
                Some(Measurement::Bidirectional(b)) => vec![
                    ("long axis".into(), b.long_mm, "mm".into()),
                    ("short axis".into(), b.short_mm, "mm".into()),
                ],
                Some(Measurement::Area { mm2, .. }) => vec![("area".into(), mm2, "mm2".into())],
                Some(Measurement::None) | None => Vec::new(),
            },
        };
    if measured.is_empty() {
        return vec![base];
    }
    measured
        .into_iter()
        .map(|(name, value, unit)| Row {
            measurement: name,
            value: Some(value),
            unit,
            ..base.clone()
        })
        .collect()
}

/// One row per segment of a label volume: its volume in mL (UCUM `mL`).
pub fn segment_rows(labels: &LabelVolume, series_uid: &str, ctx: &RowContext<'_>) -> Vec<Row> {
    let counts = labels.histogram();
    let voxel_ml = labels.grid.spacing_mm.iter().product::<f64>() / 1000.0;
    labels
        .segments
        .iter()
        .map(|s| Row {
            case: ctx.case.to_owned(),
            study_uid: ctx.study_uid.to_owned(),
            series_uid: series_uid.to_owned(),
            annotation: format!("segment {}", s.number),
            kind: "segment".into(),
            class: s.label.clone(),
            code: Some(s.type_.clone()),
            reader: ctx.reader.to_owned(),
            status: ctx.status.to_owned(),
            measurement: "volume".into(),
            value: Some(counts[usize::from(s.number)] as f64 * voxel_ml),
            unit: "mL".into(),
            ..Row::default()
        })
        .collect()
}

/// A text field, quoted when it must be, formula-safe.
fn text(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ') {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// The CSV document: header, then `rows`, CRLF line ends (RFC 4180).
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let (scheme, value, meaning, uncoded) = match &r.code {
            Some(c) if !c.is_local() => (
                c.scheme.as_str(),
                c.value.as_str(),
                c.meaning.as_str(),
                "false",
            ),
            _ => ("", "", "", "true"),
        };
        let fields = [
            text(&r.case),
            text(&r.study_uid),
            text(&r.series_uid),
            text(&r.sop_uid),
            r.frame.map(|f| f.to_string()).unwrap_or_default(),
            text(&r.plane),
            text(&r.annotation),
            text(&r.kind),
            text(&r.class),
            text(scheme),
            text(value),
            text(meaning),
            uncoded.to_owned(),
            text(&r.reader),
            text(&r.status),
            text(&r.measurement),
            r.value.map(|v| v.to_string()).unwrap_or_default(),
            text(&r.unit),
        ];
        let _ = write!(out, "{}\r\n", fields.join(","));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::project::Id;
    use crate::project::model::{AnnotationBody, Kind, Label, Provenance};

    fn ruler(label: Label) -> Annotation {
        Annotation {
            id: Id([1; 16]),
            body: AnnotationBody {
                image: ImageRef::Dicom {
                    series_uid: "1.2.3".into(),
                    sop_uid: Some("1.2.3.4".into()),
                    frame: None,
                    plane: None,
                    provenance: Some(Box::new(Provenance {
                        spacing_mm: [0.5, 0.5, 2.0],
                        orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                        dims: [64, 64, 10],
                        ..Provenance::default()
                    })),
                },
                kind: Kind::Ruler,
                points: vec![[0.0, 0.0], [30.0, 40.0]],
                label,
                comment: None,
            },
        }
    }

    /// A minimal RFC 4180 reader for the test: fields of each record.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut records = vec![vec![String::new()]];
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            let record = records.last_mut().unwrap();
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    record.last_mut().unwrap().push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => record.push(String::new()),
                ('\r', false) => {}
                ('\n', false) => records.push(vec![String::new()]),
                (c, _) => record.last_mut().unwrap().push(c),
            }
        }
        records.pop();
        records
    }

    #[test]
    fn rows_quote_and_flag_uncoded_classes() {
        let ctx = RowContext {
            case: "case, \"one\"",
            study_uid: "1.2",
            reader: "=alice",
            status: "unreviewed",
        };
        let coded = ruler(Label {
            name: "Lesion".into(),
            scheme: Some("SCT".into()),
            code: Some("52988006".into()),
            meaning: Some("Lesion".into()),
        });
        let free = ruler(Label {
            name: "odd\nspot".into(),
            scheme: None,
            code: None,
            meaning: None,
        });
        let mut rows = annotation_rows(&coded, &ctx, None, None);
        rows.extend(annotation_rows(&free, &ctx, None, None));
        let records = parse(&to_csv(&rows));
        assert_eq!(records.len(), 3);
        assert_eq!(records[0], COLUMNS.map(str::to_owned).to_vec());
        let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
        assert_eq!(records[1][col("case")], "case, \"one\"");
        assert_eq!(records[1][col("reader")], "'=alice");
        assert_eq!(records[1][col("code")], "52988006");
        assert_eq!(records[1][col("uncoded")], "false");
        assert_eq!(records[1][col("value")], "25");
        assert_eq!(records[1][col("unit")], "mm");
        assert_eq!(records[2][col("class")], "odd\nspot");
        assert_eq!(records[2][col("uncoded")], "true");
        assert_eq!(records[2][col("scheme")], "");
    }

    #[test]
    fn segments_report_their_volume_in_millilitres() {
        let grid = crate::imaging::mpr::VolumeGrid::from_slices(
            4,
            4,
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [0.5, 2.0],
            &[[0.0; 3], [0.0, 0.0, 2.5]],
        );
        let segment = crate::interop::SegmentInfo {
            number: 3,
            label: "liver".into(),
            colour: [1, 2, 3],
            category: Code::default_category(),
            type_: Code::new("SCT", "10200004", "Liver"),
            anatomic_region: None,
            algorithm: crate::interop::Algorithm::Manual,
        };
        let mut labels = LabelVolume::new(grid, vec![segment]).unwrap();
        labels.voxels[..10].fill(3);
        let ctx = RowContext {
            case: "c",
            study_uid: "",
            reader: "bob",
            status: "unreviewed",
        };
        let rows = segment_rows(&labels, "1.2", &ctx);
        assert_eq!(rows.len(), 1);
        // 10 voxels of 2 × 0.5 × 2.5 mm = 25 mm³ = 0.025 mL.
        assert!((rows[0].value.unwrap() - 0.025).abs() < 1e-12);
        assert_eq!(
            (rows[0].unit.as_str(), rows[0].annotation.as_str()),
            ("mL", "segment 3")
        );
    }
}
