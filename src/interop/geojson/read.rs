//! Reading QuPath GeoJSON: a FeatureCollection, a bare array of Features or one Feature,
//! streamed feature by feature (each is converted and dropped before the next is read).
//!
//! Owns the conversion (features to Tessera shapes, ids, labels) and the bounds over the
//! whole file: its size, vertices and objects in all; the bounds that hold while one
//! feature is read are [`super::de`]'s.

use std::collections::HashSet;
use std::fmt;
use std::io::Read as _;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::de::{FeatureIn, GeometryIn, Nested, PropertiesIn, Scalar};
use super::{
    GeoJsonError, MAX_COORD_PX, MAX_FILE_BYTES, MAX_OBJECTS, MAX_TOTAL_VERTICES, UNCLASSIFIED,
    derived_id, kind_from_word,
};
use crate::annotate::measure::Point;
use crate::annotate::schema::LabelClass;
use crate::project::Id;
use crate::project::model::{AnnotationBody, ImageRef, Kind, Label};

/// What QuPath calls the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectType {
    Annotation,
    /// A detection or a cell (its outer boundary; the nucleus is not read).
    Detection,
}

/// One annotation read from a feature (a point set or multi-polygon gives several).
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedObject {
    /// The feature's UUID; for a point set or multi-polygon, the first member's (the
    /// others derived from it, or the exported `tessera_ids`).
    pub id: Id,
    pub kind: Kind,
    pub points: Vec<Point>,
    pub label: Label,
    pub comment: Option<String>,
    pub object_type: ObjectType,
    /// Written by Tessera (`tessera_kind`): the label is taken as it is, never bound to a
    /// class of the schema by name.
    pub from_tessera: bool,
}

impl ImportedObject {
    /// The annotation this object becomes on `image`.
    pub fn body(&self, image: ImageRef) -> AnnotationBody {
        AnnotationBody {
            image,
            kind: self.kind,
            points: self.points.clone(),
            label: self.label.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// A file's objects and what was read, merged and left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    pub objects: Vec<ImportedObject>,
    /// The collection's `tessera_slide_sha256` (files Tessera wrote).
    pub slide_sha256: Option<String>,
    pub features: usize,
    pub annotations: usize,
    pub detections: usize,
    /// MultiPoint / Point features and the points they held.
    pub point_sets: usize,
    pub points: usize,
    /// MultiPolygons read as one polygon per part, and those parts.
    pub multi_polygons: usize,
    pub parts: usize,
    /// Holes of polygons (Tessera's polygons have none).
    pub holes_left_out: usize,
    /// Open polylines of more than two vertices (Tessera has no open polyline).
    pub polylines_left_out: usize,
    /// Tiles, TMA cores and the root object.
    pub objects_left_out: usize,
    /// Objects whose id the file repeats, given a new one.
    pub new_ids: usize,
}

/// Reads and converts a GeoJSON file (at most [`MAX_FILE_BYTES`]).
pub fn read(path: &Path) -> Result<Imported, GeoJsonError> {
    let io = |source| GeoJsonError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(GeoJsonError::TooLarge { bytes });
    }
    let mut text = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(GeoJsonError::TooLarge {
            bytes: text.len() as u64,
        });
    }
    parse(&text)
}

/// Parses and converts GeoJSON text.
pub fn parse(text: &[u8]) -> Result<Imported, GeoJsonError> {
    let mut reader = Reader::default();
    let mut de = serde_json::Deserializer::from_slice(text);
    let parsed = TopSeed {
        reader: &mut reader,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Some(e) = reader.failure.take() {
        return Err(e);
    }
    if let Err(e) = parsed {
        return Err(match reader.current {
            Some(index) => GeoJsonError::Feature {
                index,
                reason: e.to_string(),
            },
            None if e.is_data() => GeoJsonError::NotFeatures(e.to_string()),
            None => GeoJsonError::Json(e.to_string()),
        });
    }
    Ok(reader.out)
}

/// Binds the labels of objects that QuPath (not Tessera) wrote to the project's class of
/// the same name (exact, else ignoring case), taking its coded concept; returns how many
/// were bound. Labels that already carry a code, and Tessera's own, are left as they are.
pub fn bind_classes(objects: &mut [ImportedObject], classes: &[LabelClass]) -> usize {
    let mut bound = 0;
    for o in objects
        .iter_mut()
        .filter(|o| !o.from_tessera && o.label.code.is_none())
    {
        let name = o.label.name.as_str();
        let class = classes
            .iter()
            .find(|c| c.name == name)
            .or_else(|| classes.iter().find(|c| c.name.eq_ignore_ascii_case(name)));
        if let Some(class) = class {
            o.label = Label {
                name: class.name.clone(),
                scheme: class.concept.as_ref().map(|c| c.scheme.clone()),
                code: class.concept.as_ref().map(|c| c.value.clone()),
                meaning: class.concept.as_ref().map(|c| c.meaning.clone()),
            };
            bound += 1;
        }
    }
    bound
}

/// The conversion state while the features stream past.
#[derive(Default)]
struct Reader {
    out: Imported,
    seen: HashSet<Id>,
    vertices: usize,
    /// The feature being read (for error messages).
    current: Option<usize>,
    /// A conversion error (the parse is stopped with a placeholder serde error).
    failure: Option<GeoJsonError>,
}

impl Reader {
    fn feature(&mut self, index: usize, f: FeatureIn) -> Result<(), GeoJsonError> {
        let fail = |reason: String| GeoJsonError::Feature { index, reason };
        self.out.features += 1;
        let props = f.properties.unwrap_or_default();
        let type_word = props
            .object_type
            .and_then(|s| s.0)
            .or_else(|| f.id.as_ref().and_then(|s| s.0.clone()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let object_type = match type_word.as_str() {
            "detection" | "pathdetectionobject" | "cell" | "pathcellobject" => {
                ObjectType::Detection
            }
            "tile" | "pathtileobject" | "tmacore" | "tma_core" | "tmacoreobject" | "root"
            | "pathrootobject" => {
                self.out.objects_left_out += 1;
                return Ok(());
            }
            // QuPath makes an annotation of anything else too.
            _ => ObjectType::Annotation,
        };
        let Some(geometry) = f.geometry else {
            return Err(fail("no geometry".into()));
        };
        let meta = props.metadata.unwrap_or_default();
        let text = |s: Option<Scalar>| {
            s.and_then(|s| s.0)
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        let hint = text(meta.tessera_kind).and_then(|w| kind_from_word(&w));
        let name = props
            .classification
            .and_then(|c| {
                text(c.name).or_else(|| {
                    let names: Vec<String> = c
                        .names
                        .map(|n| n.0.into_iter().filter_map(|s| text(Some(s))).collect())
                        .unwrap_or_default();
                    (!names.is_empty()).then(|| names.join(": "))
                })
            })
            .unwrap_or_else(|| UNCLASSIFIED.to_owned());
        let (scheme, code) = (text(meta.scheme), text(meta.code));
        let coded = scheme.is_some() && code.is_some();
        let label = Label {
            name,
            meaning: if coded { text(meta.meaning) } else { None },
            scheme: if coded { scheme } else { None },
            code: if coded { code } else { None },
        };
        // Comments are kept as written (only an empty one is none).
        let comment = meta
            .tessera_comment
            .and_then(|s| s.0)
            .filter(|c| !c.trim().is_empty())
            .or_else(|| text(props.name));
        let hint_points = text(meta.tessera_points)
            .filter(|t| t.len() <= 1024)
            .and_then(|t| serde_json::from_str::<Vec<Point>>(&t).ok())
            .filter(|p| p.len() == 2 && p.iter().flatten().all(|v| v.is_finite()));
        let shapes = self
            .shapes(&geometry, hint, hint_points.as_deref(), 0)
            .map_err(fail)?;
        drop(geometry);

        // Without a UUID (QuPath before 0.4), an id from the feature's place, class and
        // first vertices: importing the same file twice changes nothing.
        let feature_id = text(f.id)
            .and_then(|t| t.parse::<Id>().ok())
            .unwrap_or_else(|| {
                let first: Vec<u8> = shapes
                    .first()
                    .map(|(_, p)| {
                        p.iter()
                            .take(8)
                            .flatten()
                            .flat_map(|v| v.to_le_bytes())
                            .collect()
                    })
                    .unwrap_or_default();
                derived_id(&[
                    b"feature",
                    &(index as u64).to_le_bytes(),
                    label.name.as_bytes(),
                    &first,
                ])
            });
        let listed: Option<Vec<Id>> = text(meta.tessera_ids).and_then(|t| {
            let ids: Option<Vec<Id>> = t.split(',').map(|s| s.trim().parse().ok()).collect();
            ids.filter(|ids| ids.len() == shapes.len())
        });
        let n_shapes = shapes.len();
        for (i, (kind, points)) in shapes.into_iter().enumerate() {
            if self.out.objects.len() >= MAX_OBJECTS {
                return Err(GeoJsonError::TooMany {
                    what: format!("{MAX_OBJECTS} objects"),
                });
            }
            self.vertices += points.len();
            if self.vertices > MAX_TOTAL_VERTICES {
                return Err(GeoJsonError::TooMany {
                    what: format!("{MAX_TOTAL_VERTICES} vertices"),
                });
            }
            if let Some(v) = points
                .iter()
                .flatten()
                .find(|v| !v.is_finite() || v.abs() > MAX_COORD_PX)
            {
                return Err(fail(format!(
                    "coordinate {v:e} is outside ±{MAX_COORD_PX:e} px (level-0 pixels)"
                )));
            }
            let mut id = match (&listed, i) {
                (Some(ids), _) => ids[i],
                (None, 0) => feature_id,
                (None, _) => derived_id(&[feature_id.as_bytes(), &(i as u64).to_le_bytes()]),
            };
            let mut salt = 0u64;
            while self.seen.contains(&id) {
                salt += 1;
                id = derived_id(&[b"again", id.as_bytes(), &salt.to_le_bytes()]);
                if salt == 1 {
                    self.out.new_ids += 1;
                }
            }
            self.seen.insert(id);
            let object = ImportedObject {
                id,
                kind,
                points,
                label: label.clone(),
                comment: comment.clone(),
                object_type,
                from_tessera: hint.is_some(),
            };
            object
                .body(ImageRef::Slide {
                    slide_sha256: String::new(),
                })
                .validate()
                .map_err(fail)?;
            self.out.objects.push(object);
        }
        match object_type {
            ObjectType::Annotation => self.out.annotations += n_shapes,
            ObjectType::Detection => self.out.detections += n_shapes,
        }
        Ok(())
    }

    /// The Tessera shapes of a geometry (`hint`: the kind Tessera wrote it from).
    fn shapes(
        &mut self,
        g: &GeometryIn,
        hint: Option<Kind>,
        hint_points: Option<&[Point]>,
        depth: usize,
    ) -> Result<Vec<(Kind, Vec<Point>)>, String> {
        let c = &g.coordinates;
        let polylines_before = self.out.polylines_left_out;
        let wrong = || format!("{} coordinates are not nested as GeoJSON says", g.kind);
        let mut out = Vec::new();
        match g.kind.as_str() {
            "Point" => {
                let Nested::Pos(p) = c else {
                    return Err(wrong());
                };
                self.out.point_sets += 1;
                self.out.points += 1;
                out.push((Kind::Point, vec![*p]));
            }
            "MultiPoint" => {
                let Nested::Positions(ps) = c else {
                    return Err(wrong());
                };
                self.out.point_sets += 1;
                self.out.points += ps.len();
                out.extend(ps.iter().map(|p| (Kind::Point, vec![*p])));
            }
            "LineString" => {
                let Nested::Positions(ps) = c else {
                    return Err(wrong());
                };
                out.extend(self.line(ps, hint));
            }
            "MultiLineString" => {
                let lines = positions_lists(c).ok_or_else(wrong)?;
                match (hint, lines.as_slice()) {
                    (Some(Kind::Bidirectional), [[a, b], [c, d]]) => {
                        out.push((Kind::Bidirectional, vec![*a, *b, *c, *d]));
                    }
                    _ => {
                        for l in lines {
                            out.extend(self.line(l, None));
                        }
                    }
                }
            }
            "Polygon" => {
                let rings = positions_lists(c).ok_or_else(wrong)?;
                out.push(self.polygon(&rings, hint, hint_points)?);
            }
            "MultiPolygon" => {
                let Nested::Lists(polygons) = c else {
                    return Err(wrong());
                };
                self.out.multi_polygons += 1;
                for p in polygons {
                    let rings = positions_lists(p).ok_or_else(wrong)?;
                    out.push(self.polygon(&rings, None, None)?);
                    self.out.parts += 1;
                }
            }
            "GeometryCollection" if depth == 0 => {
                for member in &g.geometries {
                    out.extend(self.shapes(member, None, None, depth + 1)?);
                }
            }
            "GeometryCollection" => return Err("nested GeometryCollection".into()),
            other => {
                return Err(format!(
                    "geometry type {:?} is not GeoJSON",
                    other.chars().take(40).collect::<String>()
                ));
            }
        }
        if out.is_empty() && self.out.polylines_left_out == polylines_before {
            return Err("empty geometry".into());
        }
        Ok(out)
    }

    /// A LineString: a ruler (two vertices), or what Tessera wrote it from.
    fn line(&mut self, ps: &[Point], hint: Option<Kind>) -> Option<(Kind, Vec<Point>)> {
        match (hint, ps.len()) {
            (Some(Kind::Angle), 3) => Some((Kind::Angle, ps.to_vec())),
            (Some(Kind::Freehand), n) if n >= 2 => Some((Kind::Freehand, ps.to_vec())),
            (_, 2) => Some((Kind::Ruler, ps.to_vec())),
            _ => {
                self.out.polylines_left_out += 1;
                None
            }
        }
    }

    /// A polygon's outer ring (holes left out, counted), as what Tessera wrote it from
    /// when the ring still is that shape.
    fn polygon(
        &mut self,
        rings: &[&[Point]],
        hint: Option<Kind>,
        hint_points: Option<&[Point]>,
    ) -> Result<(Kind, Vec<Point>), String> {
        let Some(outer) = rings.first() else {
            return Err("polygon without rings".into());
        };
        self.out.holes_left_out += rings.len() - 1;
        let mut ring = outer.to_vec();
        if ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        if ring.len() < 3 {
            return Err("polygon ring has fewer than 3 vertices".into());
        }
        Ok(match hint {
            Some(Kind::Rectangle) => match hint_points {
                Some(p) if is_box(&ring, p) => (Kind::Rectangle, p.to_vec()),
                _ if is_box(&ring, &[ring[0], ring[2]]) => {
                    (Kind::Rectangle, vec![ring[0], ring[2]])
                }
                _ => (Kind::Polygon, ring),
            },
            Some(Kind::Ellipse) => match hint_points {
                Some(p) if on_ellipse(&ring, p) => (Kind::Ellipse, p.to_vec()),
                _ => (Kind::Polygon, ring),
            },
            Some(Kind::Freehand) => (Kind::Freehand, ring),
            _ => (Kind::Polygon, ring),
        })
    }
}

/// How far (px) a vertex may be from where Tessera put it and still be that shape (QuPath
/// keeps vertices as 32-bit floats).
const SHAPE_TOLERANCE_PX: f64 = 0.05;

/// Whether `ring` is the axis-aligned box with opposite corners `p[0]`, `p[1]`.
fn is_box(ring: &[Point], p: &[Point]) -> bool {
    let [a, b] = [p[0], p[1]];
    let near = |u: f64, v: f64| (u - v).abs() <= SHAPE_TOLERANCE_PX;
    let corner = |q: &Point| {
        (near(q[0], a[0]) || near(q[0], b[0])) && (near(q[1], a[1]) || near(q[1], b[1]))
    };
    ring.len() == 4
        && ring.iter().all(corner)
        && (0..4).all(|i| {
            let (q, r) = (ring[i], ring[(i + 1) % 4]);
            near(q[0], r[0]) != near(q[1], r[1])
        })
}

/// Whether every vertex of `ring` lies on the ellipse in the box of `p` and the ring
/// reaches the box on every side.
fn on_ellipse(ring: &[Point], p: &[Point]) -> bool {
    let [a, b] = [p[0], p[1]];
    let c = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let r = [(b[0] - a[0]).abs() / 2.0, (b[1] - a[1]).abs() / 2.0];
    let bounds = crate::annotate::slide_objects::bounds_of(ring);
    let want = [c[0] - r[0], c[1] - r[1], c[0] + r[0], c[1] + r[1]];
    if bounds
        .iter()
        .zip(want)
        .any(|(got, want)| (got - want).abs() > SHAPE_TOLERANCE_PX)
    {
        return false;
    }
    if r[0] <= SHAPE_TOLERANCE_PX || r[1] <= SHAPE_TOLERANCE_PX {
        return true;
    }
    ring.iter().all(|q| {
        let n = (((q[0] - c[0]) / r[0]).powi(2) + ((q[1] - c[1]) / r[1]).powi(2)).sqrt();
        (n - 1.0).abs() * r[0].min(r[1]) <= SHAPE_TOLERANCE_PX
    })
}

/// A list of position lists (Polygon rings, MultiLineString lines).
fn positions_lists(c: &Nested) -> Option<Vec<&[Point]>> {
    match c {
        Nested::Lists(lists) => lists
            .iter()
            .map(|l| match l {
                Nested::Positions(p) => Some(p.as_slice()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The top level: a FeatureCollection, an array of Features, or one Feature.
struct TopSeed<'a> {
    reader: &'a mut Reader,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FeatureCollection, a Feature or an array of Features")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        FeaturesSeed {
            reader: self.reader,
        }
        .visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut kind: Option<String> = None;
        let mut had_features = false;
        let mut id = None;
        let mut geometry = None;
        let mut properties = None;
        let mut is_feature = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = map.next_value::<Scalar>()?.0,
                "features" => {
                    had_features = true;
                    map.next_value_seed(FeaturesSeed {
                        reader: &mut *self.reader,
                    })?;
                }
                super::SLIDE_MEMBER => {
                    self.reader.out.slide_sha256 = map
                        .next_value::<Scalar>()?
                        .0
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
                }
                "geometry" => {
                    is_feature = true;
                    self.reader.current = Some(0);
                    geometry = map.next_value::<Option<GeometryIn>>()?;
                    self.reader.current = None;
                }
                "properties" => {
                    is_feature = true;
                    properties = map.next_value::<Option<PropertiesIn>>()?;
                }
                "id" => id = Some(map.next_value::<Scalar>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match kind.as_deref() {
            Some("FeatureCollection") | None if had_features => Ok(()),
            Some("Feature") | None if is_feature => {
                let f = FeatureIn {
                    id,
                    geometry,
                    properties,
                };
                self.reader.current = Some(0);
                if let Err(e) = self.reader.feature(0, f) {
                    self.reader.failure = Some(e);
                    return Err(de::Error::custom("stopped"));
                }
                self.reader.current = None;
                Ok(())
            }
            Some("FeatureCollection") => {
                Err(de::Error::custom("a FeatureCollection without features"))
            }
            Some(other) => Err(de::Error::custom(format!(
                "the top level is a {:?}",
                other.chars().take(40).collect::<String>()
            ))),
            None => Err(de::Error::custom(
                "an object without \"type\" or \"features\"",
            )),
        }
    }
}

struct FeaturesSeed<'a> {
    reader: &'a mut Reader,
}

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of Features")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            self.reader.current = Some(index);
            let Some(f) = seq.next_element::<FeatureIn>()? else {
                break;
            };
            if let Err(e) = self.reader.feature(index, f) {
                self.reader.failure = Some(e);
                return Err(de::Error::custom("stopped"));
            }
            index += 1;
        }
        self.reader.current = None;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn boxes_and_ellipses_are_recognised_within_a_float_of_where_they_were() {
        let ring = [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]];
        assert!(is_box(&ring, &[[10.0, 5.0], [0.0, 0.0]]));
        assert!(is_box(&ring, &[[0.0, 0.0], [10.0, 5.0000001]]));
        assert!(!is_box(&ring, &[[0.0, 0.0], [10.0, 6.0]]));
        let skew = [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [1.0, 5.0]];
        assert!(!is_box(&skew, &[[0.0, 0.0], [10.0, 5.0]]));
        let p = [[100.0, 50.0], [300.0, 150.0]];
        let mut ring = super::super::ellipse_ring(p[0], p[1]);
        ring.pop();
        assert!(on_ellipse(&ring, &p));
        let f32_ring: Vec<Point> = ring
            .iter()
            .map(|q| [f64::from(q[0] as f32), f64::from(q[1] as f32)])
            .collect();
        assert!(on_ellipse(&f32_ring, &p));
        ring[3][0] -= 5.0;
        assert!(!on_ellipse(&ring, &p));
    }
}
