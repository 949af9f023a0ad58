//! The stored form of label-map changes: packed brick contents and strokes.
//!
//! Owns [`Packed`] (one brick's bytes, compressed: empty = all zero, `[0, v]` = every
//! voxel `v`, `[1, …]` = raw DEFLATE; base64 inside the JSON payloads), [`ChunkDelta`] and
//! [`StrokeEdit`] (one gesture = one edit: per changed brick its packed content before and
//! after; the inverse swaps them). Decoding is bounded by the brick's size, so a hostile
//! payload cannot make it allocate more than one brick.

use std::io::{Read, Write};

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

const TAG_UNIFORM: u8 = 0;
const TAG_DEFLATE: u8 = 1;

/// Why packed content does not decode to a brick.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackedError {
    #[error("unknown chunk encoding {0}")]
    Tag(u8),
    #[error("chunk is damaged ({0})")]
    Damaged(&'static str),
    #[error("chunk holds {found} voxels, its brick {expected}")]
    Size { found: usize, expected: usize },
}

/// One brick's content, compressed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Packed(pub Vec<u8>);

impl Packed {
    /// Packs a brick (`None` = all zero).
    pub fn encode(brick: Option<&[u8]>) -> Packed {
        let Some(b) = brick.filter(|b| b.iter().any(|&v| v != 0)) else {
            return Packed(Vec::new());
        };
        if b.iter().all(|&v| v == b[0]) {
            return Packed(vec![TAG_UNIFORM, b[0]]);
        }
        let mut out = vec![TAG_DEFLATE];
        let mut z = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let ok = z.write_all(b).and_then(|()| z.finish().map(|_| ()));
        debug_assert!(ok.is_ok());
        Packed(out)
    }

    /// True for an all-zero brick.
    pub fn is_zero(&self) -> bool {
        self.0.is_empty() || self.0 == [TAG_UNIFORM, 0]
    }

    /// Unpacks into a brick of `len` voxels (`None` when all zero).
    pub fn decode(&self, len: usize) -> Result<Option<Box<[u8]>>, PackedError> {
        let Some((&tag, data)) = self.0.split_first() else {
            return Ok(None);
        };
        match tag {
            TAG_UNIFORM => match data {
                [0] => Ok(None),
                [v] => Ok(Some(vec![*v; len].into_boxed_slice())),
                _ => Err(PackedError::Damaged("uniform chunk is not one byte")),
            },
            TAG_DEFLATE => {
                let mut out = Vec::with_capacity(len);
                flate2::read::DeflateDecoder::new(data)
                    .take(len as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|_| PackedError::Damaged("not valid DEFLATE"))?;
                if out.len() != len {
                    return Err(PackedError::Size {
                        found: out.len(),
                        expected: len,
                    });
                }
                Ok(out.iter().any(|&v| v != 0).then(|| out.into_boxed_slice()))
            }
            t => Err(PackedError::Tag(t)),
        }
    }

    /// Same voxels (different encoders may pack the same content differently).
    pub fn same_content(&self, other: &Packed, len: usize) -> Result<bool, PackedError> {
        if self == other || (self.is_zero() && other.is_zero()) {
            return Ok(true);
        }
        Ok(self.decode(len)? == other.decode(len)?)
    }

    /// Stored bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Packed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(&self.0))
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Packed, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Base64::decode_vec(&text)
            .map(Packed)
            .map_err(|_| serde::de::Error::custom("chunk is not base64"))
    }
}

/// One changed brick of a stroke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkDelta {
    /// Brick index in the label map (`LabelMap::brick_index`).
    pub index: u32,
    pub before: Packed,
    pub after: Packed,
}

/// What made a stroke (for history lines: "Brush +12.4 mL to Lesion 1").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Brush,
    Eraser,
    ThresholdBrush,
    PolygonFill,
    FloodFill,
    FillBetweenSlices,
    Other,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Brush => "Brush",
            Tool::Eraser => "Eraser",
            Tool::ThresholdBrush => "Threshold brush",
            Tool::PolygonFill => "Polygon fill",
            Tool::FloodFill => "Flood fill",
            Tool::FillBetweenSlices => "Fill between slices",
            Tool::Other => "Label map edit",
        }
    }
}

/// One gesture on a label map, as stored: the changed bricks before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrokeEdit {
    pub tool: Tool,
    /// Net change of the voxel count per label (0 = background): non-zero entries,
    /// ascending by label. (A list, not a map: edits are internally tagged, and serde
    /// cannot read integer map keys through that.)
    pub net_voxels: Vec<(u8, i64)>,
    /// Ascending, distinct brick indices.
    pub chunks: Vec<ChunkDelta>,
}

impl StrokeEdit {
    /// The stroke that undoes this one.
    pub fn inverse(&self) -> StrokeEdit {
        StrokeEdit {
            tool: self.tool,
            net_voxels: self.net_voxels.iter().map(|&(l, n)| (l, -n)).collect(),
            chunks: self
                .chunks
                .iter()
                .map(|c| ChunkDelta {
                    index: c.index,
                    before: c.after.clone(),
                    after: c.before.clone(),
                })
                .collect(),
        }
    }

    /// Stored (compressed) bytes of all chunks, before and after.
    pub fn packed_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.before.len() + c.after.len())
            .sum()
    }

    /// A history line: `Brush +12.4 mL to Lesion 1`, from the voxel volume and a namer
    /// for segment indices. Uses the segment that changed most (ties: lowest index).
    pub fn describe(&self, voxel_ml: f64, segment_name: impl Fn(u8) -> String) -> String {
        let main = self
            .net_voxels
            .iter()
            .filter(|(l, _)| *l != 0)
            .max_by_key(|(l, n)| (n.unsigned_abs(), std::cmp::Reverse(*l)));
        match main {
            Some(&(label, n)) => {
                let (sign, to) = if n >= 0 { ('+', "to") } else { ('-', "from") };
                format!(
                    "{} {sign}{:.1} mL {to} {}",
                    self.tool.name(),
                    n.unsigned_abs() as f64 * voxel_ml,
                    segment_name(label)
                )
            }
            None => self.tool.name().to_owned(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_is_small_for_label_data() {
        assert!(Packed::encode(None).is_zero());
        assert!(Packed::encode(Some(&[0u8; 64][..])).is_empty());
        let uniform = Packed::encode(Some(&[5u8; 32768][..]));
        assert_eq!(uniform.0, vec![0, 5]);
        assert_eq!(uniform.decode(32768).unwrap().unwrap()[100], 5);
        let mut brick = vec![0u8; 32768];
        brick[1000..9000].fill(3);
        let p = Packed::encode(Some(&brick));
        assert!(p.len() < 200, "{} bytes", p.len());
        assert_eq!(&*p.decode(32768).unwrap().unwrap(), &brick[..]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Packed>(&json).unwrap(), p);
        assert!(p.same_content(&p.clone(), 32768).unwrap());
    }

    #[test]
    fn hostile_chunks_fail_without_big_allocations() {
        // A DEFLATE bomb: 16 MiB of (nearly) one value packed, decoded against a 32 KiB brick.
        let mut big = vec![7u8; 16 << 20];
        big[0] = 1;
        let bomb = Packed::encode(Some(&big));
        assert!(matches!(
            bomb.decode(32768),
            Err(PackedError::Size { found: 32769, .. })
        ));
        assert!(Packed(vec![9, 1]).decode(8).is_err());
        assert!(Packed(vec![1, 0xff, 0xff]).decode(8).is_err());
        assert!(Packed(vec![0, 1, 2]).decode(8).is_err());
        assert!(serde_json::from_str::<Packed>("\"*not base64*\"").is_err());
    }

    #[test]
    fn history_lines_name_the_main_segment() {
        let s = StrokeEdit {
            tool: Tool::Brush,
            net_voxels: vec![(0, -12_400), (1, 12_400)],
            chunks: Vec::new(),
        };
        let name = |l: u8| format!("Lesion {l}");
        assert_eq!(s.describe(0.001, name), "Brush +12.4 mL to Lesion 1");
        assert_eq!(
            s.inverse().describe(0.001, name),
            "Brush -12.4 mL from Lesion 1"
        );
    }
}
