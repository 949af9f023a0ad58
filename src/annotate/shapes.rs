//! What a vector annotation measures and how an edit reads in the history.
//!
//! Owns the mapping from a stored annotation's kind and points to its measured
//! [`Region`] and [`Measurement`], the one-line texts the viewer, the history panel
//! and exports show ("Ruler 23.4 mm", "Moved ruler vertex"), and vertex hit-testing.
//! Pure: no egui, no project file; the numbers come from [`super::measure`].

use super::measure::{Bidirectional, PixelSpacing, Point, Region, RegionStats};
use crate::project::model::{Annotation, Edit, EventPayload, Kind};

/// What one annotation measures on its plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measurement {
    None,
    Length { mm: f64 },
    Angle { deg: f64 },
    Bidirectional(Bidirectional),
    Area { mm2: f64, perimeter_mm: f64 },
}

impl Measurement {
    /// Measures `points` of a `kind` annotation with `spacing`.
    pub fn of(kind: Kind, points: &[Point], spacing: &PixelSpacing) -> Measurement {
        match (kind, points) {
            (Kind::Ruler, [a, b]) => Measurement::Length {
                mm: spacing.length_mm(*a, *b),
            },
            (Kind::Angle, [a, vertex, b]) => spacing
                .angle_deg(*a, *vertex, *b)
                .map_or(Measurement::None, |deg| Measurement::Angle { deg }),
            (Kind::Bidirectional, [a, b, c, d]) => {
                Measurement::Bidirectional(spacing.bidirectional([*a, *b], [*c, *d]))
            }
            _ => match region(kind, points) {
                Some(r) => Measurement::Area {
                    mm2: r.area_mm2(spacing),
                    perimeter_mm: r.perimeter_mm(spacing),
                },
                None => Measurement::None,
            },
        }
    }

    /// One line for the screen and the annotation list.
    pub fn text(&self) -> Option<String> {
        Some(match self {
            Measurement::None => return None,
            Measurement::Length { mm } => format!("{mm:.1} mm"),
            Measurement::Angle { deg } => format!("{deg:.1}°"),
            Measurement::Bidirectional(b) => {
                format!("{:.1} × {:.1} mm", b.long_mm, b.short_mm)
            }
            Measurement::Area { mm2, .. } => format!("{mm2:.1} mm²"),
        })
    }
}

/// The region an area tool encloses (rectangle and ellipse from two opposite corners of
/// their box; polygon and freehand closed). `None` for lines and points.
pub fn region(kind: Kind, points: &[Point]) -> Option<Region> {
    match (kind, points) {
        (Kind::Rectangle, [a, b]) => Some(Region::Rectangle([*a, *b])),
        (Kind::Ellipse, [a, b]) => Some(Region::Ellipse {
            centre: [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0],
            radii: [(b[0] - a[0]).abs() / 2.0, (b[1] - a[1]).abs() / 2.0],
        }),
        (Kind::Polygon | Kind::Freehand, p) if p.len() >= 3 => Some(Region::Polygon(p.to_vec())),
        _ => None,
    }
}

/// Region statistics in words: "mean 42.1 ± 8.0 HU (min -3, max 88; 812 px)".
pub fn stats_text(stats: &RegionStats, unit: &str) -> String {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    format!(
        "mean {:.1} ± {:.1}{unit} (min {:.0}, max {:.0}; {} px)",
        stats.mean, stats.sd, stats.min, stats.max, stats.count
    )
}

/// The tool's name as people say it.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Point => "Point",
        Kind::Ruler => "Ruler",
        Kind::Angle => "Angle",
        Kind::Bidirectional => "Bidirectional",
        Kind::Rectangle => "Rectangle",
        Kind::Ellipse => "Ellipse",
        Kind::Polygon => "Polygon",
        Kind::Freehand => "Freehand contour",
    }
}

fn lower(kind: Kind) -> String {
    kind_name(kind).to_lowercase()
}

/// A history line for one edit: "Ruler on Lesion", "Moved ruler vertex",
/// "Relabelled ellipse: Lesion → Mass", "Undo: Deleted point (Nodule)".
pub fn describe_payload(payload: &EventPayload) -> String {
    let text = describe_edit(&payload.edit);
    if payload.undo_of.is_some() {
        format!("Undo: {}", describe_edit(&payload.edit.inverse()))
    } else if payload.redo_of.is_some() {
        format!("Redo: {text}")
    } else {
        text
    }
}

/// A history line for one edit (see [`describe_payload`]).
pub fn describe_edit(edit: &Edit) -> String {
    match edit {
        Edit::Create { annotation } => {
            format!(
                "{} on {}",
                kind_name(annotation.body.kind),
                annotation.body.label.name
            )
        }
        Edit::Delete { annotation } => format!(
            "Deleted {} ({})",
            lower(annotation.body.kind),
            annotation.body.label.name
        ),
        Edit::Update { before, after } => describe_update(before, after),
        Edit::Workflow { record, .. } => {
            let what = record.action.name();
            let mut s = what[..1].to_uppercase();
            s.push_str(&what[1..]);
            s
        }
        Edit::ClassDefine { before, after, .. } => match (before, after) {
            (None, Some(a)) => format!("Added class {}", a.title()),
            (Some(b), None) => format!("Removed class {}", b.title()),
            (_, Some(a)) => format!("Changed class {}", a.title()),
            (None, None) => "Class edit".to_owned(),
        },
        Edit::SegmentationCreate { header, .. } => {
            format!("Created segmentation {}", header.name)
        }
        Edit::SegmentationDelete { header, .. } => {
            format!("Removed segmentation {}", header.name)
        }
        Edit::SegmentDefine {
            index,
            before,
            after,
            ..
        } => match (before, after) {
            (None, Some(a)) => format!("Added segment {index} {} ({})", a.name, a.class.title()),
            (Some(b), None) => format!("Removed segment {index} {}", b.name),
            (_, Some(a)) => format!("Changed segment {index} {}", a.name),
            (None, None) => "Segment edit".to_owned(),
        },
        // Volumes and segment names need the segmentation: `Session::describe_event`.
        Edit::SegmentStroke { stroke, .. } => format!("{} stroke", stroke.tool.name()),
    }
}

fn describe_update(before: &Annotation, after: &Annotation) -> String {
    let (b, a) = (&before.body, &after.body);
    let kind = lower(a.kind);
    if b.label != a.label {
        return format!("Relabelled {kind}: {} → {}", b.label.name, a.label.name);
    }
    if b.comment != a.comment {
        return format!("Commented {kind}");
    }
    if b.kind == a.kind && b.points.len() == a.points.len() {
        let moved: Vec<[f64; 2]> = b
            .points
            .iter()
            .zip(&a.points)
            .filter(|(p, q)| p != q)
            .map(|(p, q)| [q[0] - p[0], q[1] - p[1]])
            .collect();
        match moved.len() {
            0 => {}
            1 => return format!("Moved {kind} vertex"),
            n if n == a.points.len() && moved.iter().all(|d| *d == moved[0]) => {
                return format!("Moved {kind}");
            }
            _ => return format!("Reshaped {kind}"),
        }
    }
    if b.image != a.image {
        return format!("Moved {kind} to another image");
    }
    format!("Edited {kind}")
}

/// The index of the point of `points` nearest `p` within `radius` (same units), if any.
pub fn nearest_vertex(points: &[Point], p: Point, radius: f64) -> Option<usize> {
    points
        .iter()
        .enumerate()
        .map(|(i, q)| (i, (q[0] - p[0]).hypot(q[1] - p[1])))
        .filter(|(_, d)| *d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Distance from `p` to the segment `a`–`b`.
pub fn segment_distance(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

/// How far `p` is from the drawn outline of a `kind` annotation (0 inside an area).
pub fn distance_to(kind: Kind, points: &[Point], p: Point) -> f64 {
    if let Some(r) = region(kind, points)
        && r.contains(p)
    {
        return 0.0;
    }
    let closed = matches!(kind, Kind::Polygon | Kind::Freehand);
    let outline: Vec<Point> = match (kind, points) {
        (Kind::Rectangle | Kind::Ellipse, [a, b]) => {
            vec![*a, [b[0], a[1]], *b, [a[0], b[1]], *a]
        }
        _ => {
            let mut v = points.to_vec();
            if closed && let Some(first) = points.first() {
                v.push(*first);
            }
            v
        }
    };
    let pairs: Vec<(Point, Point)> = match kind {
        Kind::Bidirectional if outline.len() == 4 => {
            vec![(outline[0], outline[1]), (outline[2], outline[3])]
        }
        _ => outline.windows(2).map(|w| (w[0], w[1])).collect(),
    };
    let vertex = points
        .iter()
        .map(|q| (q[0] - p[0]).hypot(q[1] - p[1]))
        .fold(f64::INFINITY, f64::min);
    pairs
        .into_iter()
        .map(|(a, b)| segment_distance(p, a, b))
        .fold(vertex, f64::min)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::project::id::Id;
    use crate::project::model::{AnnotationBody, ImageRef, Label};

    const MM: PixelSpacing = PixelSpacing {
        row_mm: 0.5,
        column_mm: 0.5,
    };

    fn ann(kind: Kind, points: Vec<Point>, label: &str) -> Annotation {
        Annotation {
            id: Id([1; 16]),
            body: AnnotationBody {
                image: ImageRef::Slide {
                    slide_sha256: "00".into(),
                },
                kind,
                points,
                label: Label {
                    name: label.into(),
                    scheme: None,
                    code: None,
                    meaning: None,
                },
                comment: None,
            },
        }
    }

    #[test]
    fn every_kind_measures_what_it_should() {
        let ruler = Measurement::of(Kind::Ruler, &[[0.0, 0.0], [30.0, 40.0]], &MM);
        assert_eq!(ruler.text().as_deref(), Some("25.0 mm"));
        let angle = Measurement::of(Kind::Angle, &[[10.0, 0.0], [0.0, 0.0], [0.0, 10.0]], &MM);
        assert_eq!(angle.text().as_deref(), Some("90.0°"));
        let bi = Measurement::of(
            Kind::Bidirectional,
            &[[0.0, 0.0], [40.0, 0.0], [20.0, -10.0], [20.0, 10.0]],
            &MM,
        );
        assert_eq!(bi.text().as_deref(), Some("20.0 × 10.0 mm"));
        // A 20 × 10 px box at 0.5 mm: 10 × 5 mm = 50 mm²; the ellipse in it π·5·2.5.
        let rect = Measurement::of(Kind::Rectangle, &[[0.0, 0.0], [20.0, 10.0]], &MM);
        assert_eq!(rect.text().as_deref(), Some("50.0 mm²"));
        let Measurement::Area { mm2, .. } =
            Measurement::of(Kind::Ellipse, &[[0.0, 0.0], [20.0, 10.0]], &MM)
        else {
            panic!("ellipse has an area");
        };
        assert!((mm2 - std::f64::consts::PI * 5.0 * 2.5).abs() < 1e-9);
        let tri = Measurement::of(Kind::Polygon, &[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], &MM);
        assert_eq!(tri.text().as_deref(), Some("12.5 mm²"));
        assert_eq!(
            Measurement::of(Kind::Point, &[[1.0, 1.0]], &MM).text(),
            None
        );
    }

    #[test]
    fn history_lines_say_what_changed() {
        let a = ann(Kind::Ruler, vec![[0.0, 0.0], [10.0, 0.0]], "Lesion");
        assert_eq!(
            describe_edit(&Edit::Create {
                annotation: a.clone()
            }),
            "Ruler on Lesion"
        );
        let mut moved = a.clone();
        moved.body.points[1] = [12.0, 0.0];
        let update = Edit::Update {
            before: a.clone(),
            after: moved,
        };
        assert_eq!(describe_edit(&update), "Moved ruler vertex");
        let mut shifted = a.clone();
        shifted.body.points = vec![[1.0, 1.0], [11.0, 1.0]];
        assert_eq!(
            describe_edit(&Edit::Update {
                before: a.clone(),
                after: shifted
            }),
            "Moved ruler"
        );
        let mut relabelled = a.clone();
        relabelled.body.label.name = "Mass".into();
        assert_eq!(
            describe_edit(&Edit::Update {
                before: a.clone(),
                after: relabelled
            }),
            "Relabelled ruler: Lesion → Mass"
        );
        let mut undo = EventPayload::new(Edit::Create { annotation: a }.inverse());
        undo.undo_of = Some(Id([2; 16]));
        assert_eq!(describe_payload(&undo), "Undo: Ruler on Lesion");
    }

    #[test]
    fn hit_testing_finds_outlines_vertices_and_insides() {
        let pts = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert_eq!(distance_to(Kind::Polygon, &pts, [5.0, 5.0]), 0.0);
        assert!((distance_to(Kind::Polygon, &pts, [5.0, -2.0]) - 2.0).abs() < 1e-12);
        assert!((distance_to(Kind::Ruler, &pts[..2], [5.0, 3.0]) - 3.0).abs() < 1e-12);
        assert_eq!(nearest_vertex(&pts, [9.0, 9.5], 2.0), Some(2));
        assert_eq!(nearest_vertex(&pts, [5.0, 5.0], 2.0), None);
    }
}
