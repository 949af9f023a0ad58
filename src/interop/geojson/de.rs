//! The serde side of reading GeoJSON: the values a feature is read into, with bounds
//! that hold while the text is read (vertices per geometry, members of a collection, no
//! empty coordinate lists, at most 4 numbers per position) and members Tessera does not
//! read skipped without being kept. No conversion here: that is [`super::read`].

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::MAX_VERTICES;
use crate::annotate::measure::Point;

/// A JSON scalar as text (string, number, bool); arrays and objects are skipped, unkept.
#[derive(Default)]
pub(super) struct Scalar(pub(super) Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of at most `N` items.
pub(super) struct Bounded<T, const N: usize>(pub(super) Vec<T>);

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Bounded<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
            type Value = Bounded<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a list of at most {N} items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if out.len() == N {
                        return Err(de::Error::custom(format!("more than {N} items in a list")));
                    }
                    out.push(item);
                }
                Ok(Bounded(out))
            }
        }
        d.deserialize_seq(V::<T, N>(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
pub(super) struct FeatureIn {
    pub(super) id: Option<Scalar>,
    pub(super) geometry: Option<GeometryIn>,
    pub(super) properties: Option<PropertiesIn>,
}

#[derive(Deserialize, Default)]
pub(super) struct PropertiesIn {
    #[serde(rename = "objectType", alias = "object_type")]
    pub(super) object_type: Option<Scalar>,
    pub(super) name: Option<Scalar>,
    pub(super) classification: Option<ClassificationIn>,
    pub(super) metadata: Option<MetadataIn>,
}

#[derive(Deserialize)]
pub(super) struct ClassificationIn {
    pub(super) name: Option<Scalar>,
    pub(super) names: Option<Bounded<Scalar, 16>>,
}

#[derive(Deserialize, Default)]
pub(super) struct MetadataIn {
    pub(super) scheme: Option<Scalar>,
    pub(super) code: Option<Scalar>,
    pub(super) meaning: Option<Scalar>,
    pub(super) tessera_kind: Option<Scalar>,
    pub(super) tessera_points: Option<Scalar>,
    pub(super) tessera_ids: Option<Scalar>,
    pub(super) tessera_comment: Option<Scalar>,
}

/// Coordinates: one position, a list of positions, or lists of those (never empty).
#[derive(Debug)]
pub(super) enum Nested {
    Pos(Point),
    Positions(Vec<Point>),
    Lists(Vec<Nested>),
}

/// One geometry; `coordinates` counted against a budget of vertices while read.
pub(super) struct GeometryIn {
    pub(super) kind: String,
    pub(super) coordinates: Nested,
    pub(super) geometries: Vec<GeometryIn>,
}

/// Members of a GeometryCollection read at most.
const MAX_COLLECTION_MEMBERS: usize = 10_000;

impl<'de> Deserialize<'de> for GeometryIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut budget = MAX_VERTICES;
        GeometrySeed {
            budget: &mut budget,
            depth: 0,
        }
        .deserialize(d)
    }
}

struct GeometrySeed<'a> {
    budget: &'a mut usize,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for GeometrySeed<'_> {
    type Value = GeometryIn;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<GeometryIn, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GeometrySeed<'_> {
    type Value = GeometryIn;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON geometry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GeometryIn, A::Error> {
        let mut kind = None;
        let mut coordinates = None;
        let mut geometries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value::<String>()?),
                "coordinates" => {
                    coordinates = Some(map.next_value_seed(CoordsSeed {
                        budget: &mut *self.budget,
                    })?);
                }
                "geometries" if self.depth == 0 => {
                    geometries = map.next_value_seed(MembersSeed {
                        budget: &mut *self.budget,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::custom("geometry without a type"))?;
        let coordinates = match coordinates {
            Some(c) => c,
            None if kind == "GeometryCollection" => Nested::Lists(Vec::new()),
            None => return Err(de::Error::custom("geometry without coordinates")),
        };
        Ok(GeometryIn {
            kind,
            coordinates,
            geometries,
        })
    }
}

struct MembersSeed<'a> {
    budget: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for MembersSeed<'_> {
    type Value = Vec<GeometryIn>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<GeometryIn>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed<'_> {
    type Value = Vec<GeometryIn>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of geometries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<GeometryIn>, A::Error> {
        let mut out = Vec::new();
        while let Some(g) = seq.next_element_seed(GeometrySeed {
            budget: &mut *self.budget,
            depth: 1,
        })? {
            if out.len() == MAX_COLLECTION_MEMBERS {
                return Err(de::Error::custom(format!(
                    "more than {MAX_COLLECTION_MEMBERS} geometries in a collection"
                )));
            }
            out.push(g);
        }
        Ok(out)
    }
}

pub(super) struct CoordsSeed<'a> {
    budget: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for CoordsSeed<'_> {
    type Value = Nested;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Nested, D::Error> {
        d.deserialize_seq(self)
    }
}

/// An element of a coordinate list: a number or another list.
enum Item {
    Num(f64),
    List(Nested),
}

struct ItemSeed<'a> {
    budget: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Item;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Item;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a list of coordinates")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Item, E> {
        Ok(Item::Num(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Item, E> {
        Ok(Item::Num(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Item, E> {
        Ok(Item::Num(v as f64))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
        CoordsSeed {
            budget: self.budget,
        }
        .visit_seq(seq)
        .map(Item::List)
    }
}

impl<'de> Visitor<'de> for CoordsSeed<'_> {
    type Value = Nested;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeoJSON coordinates")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Nested, A::Error> {
        enum Acc {
            Empty,
            Nums(usize, [f64; 2]),
            Positions(Vec<Point>),
            Lists(Vec<Nested>),
        }
        let mut acc = Acc::Empty;
        while let Some(item) = seq.next_element_seed(ItemSeed {
            budget: &mut *self.budget,
        })? {
            acc = match (acc, item) {
                (Acc::Empty, Item::Num(v)) => Acc::Nums(1, [v, 0.0]),
                (Acc::Nums(n, mut p), Item::Num(v)) => {
                    if n >= 4 {
                        return Err(de::Error::custom("a position has more than 4 numbers"));
                    }
                    if n == 1 {
                        p[1] = v;
                    }
                    Acc::Nums(n + 1, p)
                }
                (Acc::Empty, Item::List(Nested::Pos(p))) => Acc::Positions(vec![p]),
                (Acc::Positions(mut ps), Item::List(Nested::Pos(p))) => {
                    ps.push(p);
                    Acc::Positions(ps)
                }
                (Acc::Empty, Item::List(l)) => Acc::Lists(vec![l]),
                (Acc::Lists(mut ls), Item::List(l)) if !matches!(l, Nested::Pos(_)) => {
                    ls.push(l);
                    Acc::Lists(ls)
                }
                _ => return Err(de::Error::custom("coordinates mix numbers and lists")),
            };
        }
        match acc {
            Acc::Empty => Err(de::Error::custom("an empty coordinate list")),
            Acc::Nums(n, p) if n >= 2 => {
                if *self.budget == 0 {
                    return Err(de::Error::custom(format!(
                        "more than {MAX_VERTICES} vertices in one geometry"
                    )));
                }
                *self.budget -= 1;
                Ok(Nested::Pos(p))
            }
            Acc::Nums(..) => Err(de::Error::custom("a position needs 2 numbers")),
            Acc::Positions(ps) => Ok(Nested::Positions(ps)),
            Acc::Lists(ls) => Ok(Nested::Lists(ls)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn coordinates_nest_and_are_bounded() {
        let one = |text: &str| {
            let mut budget = 3;
            let mut de = serde_json::Deserializer::from_str(text);
            CoordsSeed {
                budget: &mut budget,
            }
            .deserialize(&mut de)
            .map_err(|e| e.to_string())
        };
        assert!(matches!(one("[1, 2.5]"), Ok(Nested::Pos([1.0, 2.5]))));
        assert!(matches!(one("[1, 2, 3]"), Ok(Nested::Pos([1.0, 2.0]))));
        assert!(matches!(one("[[1, 2], [3, 4]]"), Ok(Nested::Positions(p)) if p.len() == 2));
        assert!(matches!(one("[[[1, 2]], [[3, 4]]]"), Ok(Nested::Lists(l)) if l.len() == 2));
        assert!(
            one("[[1, 2], [3, 4], [5, 6], [7, 8]]")
                .unwrap_err()
                .contains("vertices")
        );
        assert!(one("[]").unwrap_err().contains("empty"));
        assert!(one("[[], []]").unwrap_err().contains("empty"));
        assert!(one("[1]").unwrap_err().contains("2 numbers"));
        assert!(one("[1, 2, 3, 4, 5]").unwrap_err().contains("more than 4"));
        assert!(one("[[1, 2], 3]").unwrap_err().contains("mix"));
        assert!(one("[\"a\", 2]").is_err());
    }
}
