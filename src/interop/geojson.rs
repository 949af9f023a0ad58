//! QuPath GeoJSON: slide annotations out as a FeatureCollection in QuPath's shape, and
//! QuPath's (or our own) GeoJSON back in as slide annotations.
//!
//! Owns the mapping between Tessera's slide annotations (level-0 pixels, the corner of
//! the top-left pixel at 0, 0: QuPath's convention too) and GeoJSON features: `id` (the
//! annotation's UUID), geometry, `properties.objectType`, `classification` (`name`,
//! `color`), `isLocked`, `measurements` (µm² and µm from the slide's MPP, or px
//! without it; point counts) and `metadata` (string values, which QuPath keeps): the
//! coded concept (`scheme`, `code`, `meaning`) and what a round trip needs (`tessera_kind`,
//! `tessera_points` of rectangles and ellipses, `tessera_ids` of a point set,
//! `tessera_comment`). Reading is bounded ([`read`]): file size, vertices per geometry
//! and in all, objects; every refusal is one line.
//!
//! Headless: never imports egui, writes only the file it is asked to, logs nothing.

mod de;
mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use read::{Imported, ImportedObject, ObjectType, bind_classes, parse, read};

use crate::annotate::measure::{PixelSpacing, Point};
use crate::annotate::shapes::Measurement;
use crate::project::Id;
use crate::project::model::{Annotation, Kind, Label};

/// The largest file [`read`] opens.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// The most vertices one feature's geometry may have.
pub const MAX_VERTICES: usize = 1_000_000;
/// The most vertices of all objects of one file together.
pub const MAX_TOTAL_VERTICES: usize = 20_000_000;
/// The most annotations one file may become (a point set gives one per point).
pub const MAX_OBJECTS: usize = 1_000_000;
/// Coordinates are level-0 pixels within this distance of the origin.
pub const MAX_COORD_PX: f64 = 1.0e7;

/// `properties.metadata` keys (values are strings, as QuPath keeps them).
pub const META_SCHEME: &str = "scheme";
pub const META_CODE: &str = "code";
pub const META_MEANING: &str = "meaning";
pub const META_KIND: &str = "tessera_kind";
pub const META_POINTS: &str = "tessera_points";
pub const META_IDS: &str = "tessera_ids";
pub const META_COMMENT: &str = "tessera_comment";
/// The FeatureCollection member naming the slide (SHA-256 of its file); QuPath ignores it.
pub const SLIDE_MEMBER: &str = "tessera_slide_sha256";
/// The class name of objects without a classification (QuPath's word for them).
pub const UNCLASSIFIED: &str = "Unclassified";

/// Why a GeoJSON file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum GeoJsonError {
    #[error("cannot read the GeoJSON file ({source}): {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the GeoJSON file ({source}): {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the file is {bytes} bytes; GeoJSON files up to {} MiB are read", MAX_FILE_BYTES >> 20)]
    TooLarge { bytes: u64 },
    #[error("not GeoJSON: {0}")]
    Json(String),
    #[error("not a GeoJSON FeatureCollection, Feature or array of Features (QuPath's export): {0}")]
    NotFeatures(String),
    #[error("feature {index}: {reason}")]
    Feature { index: usize, reason: String },
    #[error("more than {what} in one file; split it")]
    TooMany { what: String },
}

/// What to export: one slide's annotations.
pub struct ExportInput<'a> {
    pub annotations: &'a [Annotation],
    /// SHA-256 (hex) of the slide file, written as the collection's `tessera_slide_sha256`.
    pub slide_sha256: &'a str,
    /// µm per level-0 pixel (x, y): measurements in µm; `None`: in pixels.
    pub mpp: Option<[f64; 2]>,
    /// The class colour of a label (sRGB).
    pub colour_of: &'a dyn Fn(&Label) -> [u8; 3],
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub features: usize,
    /// Rectangles, ellipses, polygons, freehand contours (Polygon features).
    pub areas: usize,
    /// Rulers, angles, bidirectionals (LineString / MultiLineString features).
    pub lines: usize,
    /// MultiPoint features (one per class, and comment).
    pub point_sets: usize,
    pub points: usize,
}

/// Writes `input` as a FeatureCollection to `path`.
pub fn write(path: &Path, input: &ExportInput<'_>) -> Result<Written, GeoJsonError> {
    let (text, written) = to_string(input);
    std::fs::write(path, text).map_err(|source| GeoJsonError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(written)
}

/// The FeatureCollection of `input`, one feature per line, and what it holds.
pub fn to_string(input: &ExportInput<'_>) -> (String, Written) {
    let mut written = Written::default();
    let mut features: Vec<String> = Vec::new();
    // Points go into one MultiPoint per label and comment, in order of first appearance.
    let mut sets: Vec<(&Label, Option<&str>, Vec<&Annotation>)> = Vec::new();
    for a in input.annotations {
        let body = &a.body;
        if body.kind == Kind::Point {
            let comment = body.comment.as_deref();
            match sets
                .iter_mut()
                .find(|(l, c, _)| **l == body.label && *c == comment)
            {
                Some((_, _, members)) => members.push(a),
                None => sets.push((&body.label, comment, vec![a])),
            }
            continue;
        }
        let Some(geometry) = geometry_of(body.kind, &body.points) else {
            continue;
        };
        match geometry {
            GeometryOut::Polygon(_) => written.areas += 1,
            _ => written.lines += 1,
        }
        let mut metadata = concept(&body.label);
        metadata.insert(META_KIND, kind_word(body.kind).to_owned());
        if matches!(body.kind, Kind::Rectangle | Kind::Ellipse) {
            metadata.insert(
                META_POINTS,
                serde_json::to_string(&body.points).unwrap_or_default(),
            );
        }
        if let Some(c) = &body.comment {
            metadata.insert(META_COMMENT, c.clone());
        }
        let feature = FeatureOut {
            type_: "Feature",
            id: a.id.to_string(),
            geometry,
            properties: PropertiesOut {
                object_type: "annotation",
                classification: classification(&body.label, input.colour_of),
                is_locked: false,
                measurements: measurements(body.kind, &body.points, input.mpp),
                metadata,
            },
        };
        features.push(serde_json::to_string(&feature).unwrap_or_default());
    }
    for (label, comment, members) in sets {
        let (ids, points): (Vec<String>, Vec<Point>) = members
            .iter()
            .filter_map(|a| Some((a.id.to_string(), *a.body.points.first()?)))
            .unzip();
        let mut metadata = concept(label);
        metadata.insert(META_KIND, kind_word(Kind::Point).to_owned());
        metadata.insert(META_IDS, ids.join(","));
        if let Some(c) = comment {
            metadata.insert(META_COMMENT, c.to_owned());
        }
        let id = derived_id(&[b"point-set", ids.join(",").as_bytes()]);
        written.point_sets += 1;
        written.points += points.len();
        let mut measurements = BTreeMap::new();
        measurements.insert("Num points", points.len() as f64);
        let feature = FeatureOut {
            type_: "Feature",
            id: id.to_string(),
            geometry: GeometryOut::MultiPoint(points),
            properties: PropertiesOut {
                object_type: "annotation",
                classification: classification(label, input.colour_of),
                is_locked: false,
                measurements,
                metadata,
            },
        };
        features.push(serde_json::to_string(&feature).unwrap_or_default());
    }
    written.features = features.len();
    let sha = serde_json::to_string(input.slide_sha256).unwrap_or_default();
    let mut text =
        format!("{{\"type\":\"FeatureCollection\",\"{SLIDE_MEMBER}\":{sha},\"features\":[\n");
    text.push_str(&features.join(",\n"));
    text.push_str("\n]}\n");
    (text, written)
}

/// The geometry a kind is written as; `None` for a shape with too few points.
fn geometry_of(kind: Kind, points: &[Point]) -> Option<GeometryOut> {
    let closed = |ring: &[Point]| {
        let mut ring = ring.to_vec();
        ring.push(*ring.first()?);
        Some(ring)
    };
    Some(match (kind, points) {
        (Kind::Rectangle, [a, b]) => {
            GeometryOut::Polygon(vec![vec![*a, [b[0], a[1]], *b, [a[0], b[1]], *a]])
        }
        (Kind::Ellipse, [a, b]) => GeometryOut::Polygon(vec![ellipse_ring(*a, *b)]),
        (Kind::Polygon | Kind::Freehand, p) if p.len() >= 3 => {
            GeometryOut::Polygon(vec![closed(p)?])
        }
        (Kind::Ruler | Kind::Angle | Kind::Freehand, p) if p.len() >= 2 => {
            GeometryOut::LineString(p.to_vec())
        }
        (Kind::Bidirectional, [a, b, c, d]) => {
            GeometryOut::MultiLineString(vec![vec![*a, *b], vec![*c, *d]])
        }
        _ => return None,
    })
}

/// An ellipse in the box of `a` and `b` as a closed ring: vertices no further than a
/// quarter pixel inside the true curve, a multiple of four of them so that the extreme
/// points are vertices.
pub fn ellipse_ring(a: Point, b: Point) -> Vec<Point> {
    let centre = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let radii = [(b[0] - a[0]).abs() / 2.0, (b[1] - a[1]).abs() / 2.0];
    let r = radii[0].max(radii[1]);
    let step = if r > 0.25 {
        (1.0 - 0.25 / r).clamp(-1.0, 1.0).acos()
    } else {
        std::f64::consts::FRAC_PI_2
    };
    let n = ((std::f64::consts::PI / step).ceil() as usize).clamp(16, 4096);
    let n = n.div_ceil(4) * 4;
    let mut ring: Vec<Point> = (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            [
                centre[0] + radii[0] * t.cos(),
                centre[1] + radii[1] * t.sin(),
            ]
        })
        .collect();
    if let Some(first) = ring.first().copied() {
        ring.push(first);
    }
    ring
}

/// QuPath's measurement names: area and perimeter of regions, lengths of lines.
fn measurements(
    kind: Kind,
    points: &[Point],
    mpp: Option<[f64; 2]>,
) -> BTreeMap<&'static str, f64> {
    let (spacing, calibrated) = match mpp {
        Some([x, y]) => (
            PixelSpacing {
                column_mm: x,
                row_mm: y,
            },
            true,
        ),
        None => (
            PixelSpacing {
                column_mm: 1.0,
                row_mm: 1.0,
            },
            false,
        ),
    };
    let unit = |um: &'static str, px: &'static str| if calibrated { um } else { px };
    let mut out = BTreeMap::new();
    // PixelSpacing is in mm by name; fed µm (or 1) per pixel, its numbers are µm (or px).
    match Measurement::of(kind, points, &spacing) {
        Measurement::Area { mm2, perimeter_mm } => {
            out.insert(unit("Area µm^2", "Area px^2"), mm2);
            out.insert(unit("Perimeter µm", "Perimeter px"), perimeter_mm);
        }
        Measurement::Length { mm } => {
            out.insert(unit("Length µm", "Length px"), mm);
        }
        Measurement::Angle { deg } => {
            out.insert("Angle degrees", deg);
        }
        Measurement::Bidirectional(b) => {
            out.insert(unit("Long axis µm", "Long axis px"), b.long_mm);
            out.insert(unit("Short axis µm", "Short axis px"), b.short_mm);
        }
        Measurement::None => {}
    }
    out.retain(|_, v| v.is_finite());
    out
}

/// The label's coded concept as metadata (nothing for a free-text label).
fn concept(label: &Label) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    let (Some(scheme), Some(code)) = (&label.scheme, &label.code) else {
        return m;
    };
    m.insert(META_SCHEME, scheme.clone());
    m.insert(META_CODE, code.clone());
    if let Some(meaning) = &label.meaning {
        m.insert(META_MEANING, meaning.clone());
    }
    m
}

/// QuPath's classification; none for the uncoded "Unclassified" label.
fn classification(label: &Label, colour_of: &dyn Fn(&Label) -> [u8; 3]) -> Option<ClassOut> {
    if label.name == UNCLASSIFIED && label.code.is_none() {
        return None;
    }
    Some(ClassOut {
        name: label.name.clone(),
        color: colour_of(label),
    })
}

/// How a kind is named in `tessera_kind` (the labels JSON word).
pub fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Point => "point",
        Kind::Ruler => "ruler",
        Kind::Angle => "angle",
        Kind::Bidirectional => "bidirectional",
        Kind::Rectangle => "rectangle",
        Kind::Ellipse => "ellipse",
        Kind::Polygon => "polygon",
        Kind::Freehand => "freehand",
    }
}

/// The kind a `tessera_kind` word names.
pub fn kind_from_word(word: &str) -> Option<Kind> {
    [
        Kind::Point,
        Kind::Ruler,
        Kind::Angle,
        Kind::Bidirectional,
        Kind::Rectangle,
        Kind::Ellipse,
        Kind::Polygon,
        Kind::Freehand,
    ]
    .into_iter()
    .find(|k| kind_word(*k) == word)
}

/// A stable id from some bytes (UUID version-4 layout, like [`Id::random`]): the id of a
/// point set, of the parts of a multi-polygon, of a feature without a UUID.
pub(crate) fn derived_id(parts: &[&[u8]]) -> Id {
    let mut h = Sha256::new();
    h.update(b"tessera/geojson");
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Id(b)
}

#[derive(Serialize)]
struct FeatureOut {
    #[serde(rename = "type")]
    type_: &'static str,
    id: String,
    geometry: GeometryOut,
    properties: PropertiesOut,
}

#[derive(Serialize)]
#[serde(tag = "type", content = "coordinates")]
enum GeometryOut {
    MultiPoint(Vec<Point>),
    LineString(Vec<Point>),
    MultiLineString(Vec<Vec<Point>>),
    Polygon(Vec<Vec<Point>>),
}

#[derive(Serialize)]
struct PropertiesOut {
    #[serde(rename = "objectType")]
    object_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    classification: Option<ClassOut>,
    #[serde(rename = "isLocked")]
    is_locked: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    measurements: BTreeMap<&'static str, f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct ClassOut {
    name: String,
    color: [u8; 3],
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn ellipse_rings_are_closed_fine_enough_and_touch_their_box() {
        for (a, b) in [
            ([0.0, 0.0], [400.0, 200.0]),
            ([10.0, 10.0], [10.5, 11.0]),
            ([1000.0, 5.0], [21000.0, 8005.0]),
        ] {
            let ring = ellipse_ring(a, b);
            assert_eq!(ring.first(), ring.last());
            assert_eq!((ring.len() - 1) % 4, 0);
            let c = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
            let r = [(b[0] - a[0]) / 2.0, (b[1] - a[1]) / 2.0];
            // The chord's midpoint between two vertices is within 0.25 px of the curve.
            for w in ring.windows(2) {
                let m = [(w[0][0] + w[1][0]) / 2.0, (w[0][1] + w[1][1]) / 2.0];
                let t = ((m[1] - c[1]) / r[1]).atan2((m[0] - c[0]) / r[0]);
                let on = [c[0] + r[0] * t.cos(), c[1] + r[1] * t.sin()];
                let d = ((on[0] - m[0]).powi(2) + (on[1] - m[1]).powi(2)).sqrt();
                assert!(d <= 0.25 + 1e-9, "{d} for {a:?} {b:?}");
            }
            let xs = ring.iter().map(|p| p[0]);
            let max_x = xs.fold(f64::MIN, f64::max);
            assert!((max_x - b[0]).abs() < 1e-9);
        }
    }

    #[test]
    fn kind_words_name_every_kind_once() {
        for word in [
            "point",
            "ruler",
            "angle",
            "bidirectional",
            "rectangle",
            "ellipse",
            "polygon",
            "freehand",
        ] {
            assert_eq!(kind_word(kind_from_word(word).unwrap()), word);
        }
        assert_eq!(kind_from_word("brush"), None);
    }

    #[test]
    fn derived_ids_are_stable_uuids() {
        let a = derived_id(&[b"x", b"1"]);
        assert_eq!(a, derived_id(&[b"x", b"1"]));
        assert_ne!(a, derived_id(&[b"x1"]));
        assert_eq!(a.to_string().as_bytes()[14], b'4');
    }
}
