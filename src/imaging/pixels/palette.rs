//! PALETTE COLOR lookup tables (PS3.3 C.7.6.3.1.5-6), applied for display only.
//!
//! Owns reading the red/green/blue LUT descriptors and data (plain or segmented) and
//! mapping a decoded frame of indices to RGB. `decode_frame` never applies these.

use dicom_core::Tag;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;

use super::{DecodeError, Frame, Photometric, Samples};
use crate::imaging::file::Instance;

/// One channel's table: entry values and the first stored value mapped.
#[derive(Clone, Debug, PartialEq)]
pub struct Lut {
    pub first_mapped: i64,
    pub bits: u16,
    pub entries: Vec<u16>,
}

impl Lut {
    /// Looks up a stored value, clamping outside the table.
    pub fn get(&self, value: i64) -> u16 {
        let last = self.entries.len().saturating_sub(1) as i64;
        let index = (value - self.first_mapped).clamp(0, last.max(0));
        self.entries.get(index as usize).copied().unwrap_or(0)
    }
}

fn lut_error(reason: String) -> DecodeError {
    DecodeError::Palette { reason }
}

/// Raw 16-bit words of an element, whatever VR it was read as.
fn words(value: &Value<dicom_object::InMemDicomObject, Vec<u8>>) -> Option<Vec<u16>> {
    match value {
        Value::Primitive(PrimitiveValue::U16(v)) => Some(v.to_vec()),
        Value::Primitive(PrimitiveValue::I16(v)) => Some(v.iter().map(|&x| x as u16).collect()),
        Value::Primitive(PrimitiveValue::U8(v)) => Some(v.iter().map(|&x| u16::from(x)).collect()),
        _ => None,
    }
}

fn bytes(value: &Value<dicom_object::InMemDicomObject, Vec<u8>>) -> Option<Vec<u8>> {
    match value {
        Value::Primitive(PrimitiveValue::U8(v)) => Some(v.to_vec()),
        Value::Primitive(p) => Some(p.to_bytes().into_owned()),
        _ => None,
    }
}

/// Reads one channel's LUT (`descriptor`, `data`, `segmented` tags).
pub fn read_lut(
    instance: &Instance,
    descriptor: Tag,
    data: Tag,
    segmented: Tag,
) -> Result<Lut, DecodeError> {
    let desc = instance
        .object
        .get(descriptor)
        .and_then(|e| words(e.value()))
        .ok_or_else(|| lut_error("missing palette LUT descriptor".into()))?;
    let [count, first, bits] = desc
        .get(..3)
        .and_then(|d| <[u16; 3]>::try_from(d).ok())
        .ok_or_else(|| lut_error(format!("palette LUT descriptor has {} values", desc.len())))?;
    let count = if count == 0 {
        65536
    } else {
        usize::from(count)
    };
    // The first mapped value is US or SS depending on Pixel Representation.
    let signed = instance
        .uint(tags::PIXEL_REPRESENTATION, "PixelRepresentation")
        .ok()
        .flatten()
        == Some(1);
    let first_mapped = if signed {
        i64::from(first as i16)
    } else {
        i64::from(first)
    };
    if bits != 8 && bits != 16 {
        return Err(lut_error(format!("palette LUT entry size {bits} bits")));
    }
    let entries = if let Some(element) = instance.object.get(data) {
        let raw = bytes(element.value())
            .ok_or_else(|| lut_error("palette LUT data is not binary".into()))?;
        if raw.len() == count && bits == 8 {
            raw.iter().map(|&b| u16::from(b)).collect()
        } else if raw.len() >= count * 2 {
            let words: Vec<u16> = raw
                .as_chunks::<2>()
                .0
                .iter()
                .take(count)
                .map(|b| u16::from_le_bytes(*b))
                .collect();
            if bits == 8 && words.iter().any(|&w| w > 255) {
                words.iter().map(|&w| w >> 8).collect()
            } else {
                words
            }
        } else {
            return Err(lut_error(format!(
                "palette LUT data holds {} bytes for {count} entries",
                raw.len()
            )));
        }
    } else if let Some(element) = instance.object.get(segmented) {
        let segments = words(element.value())
            .ok_or_else(|| lut_error("segmented palette data is not 16-bit".into()))?;
        let mut out = Vec::with_capacity(count);
        expand_segments(&segments, count, &mut out, 0)?;
        out
    } else {
        return Err(lut_error("missing palette LUT data".into()));
    };
    Ok(Lut {
        first_mapped,
        bits,
        entries,
    })
}

/// Expands segmented LUT data (discrete, linear and indirect segments).
pub fn expand_segments(
    data: &[u16],
    limit: usize,
    out: &mut Vec<u16>,
    depth: u32,
) -> Result<(), DecodeError> {
    if depth > 2 {
        return Err(lut_error(
            "indirect palette segments nest too deeply".into(),
        ));
    }
    let mut i = 0;
    while i < data.len() && out.len() < limit {
        let (Some(&op), Some(&n)) = (data.get(i), data.get(i + 1)) else {
            break;
        };
        let n = usize::from(n);
        match op {
            0 => {
                let values = data
                    .get(i + 2..i + 2 + n)
                    .ok_or_else(|| lut_error("truncated discrete palette segment".into()))?;
                out.extend(values.iter().take(limit - out.len()));
                i += 2 + n;
            }
            1 => {
                let y1 = f64::from(
                    *data
                        .get(i + 2)
                        .ok_or_else(|| lut_error("truncated linear palette segment".into()))?,
                );
                let y0 = f64::from(
                    *out.last()
                        .ok_or_else(|| lut_error("linear palette segment comes first".into()))?,
                );
                for k in 1..=n.min(limit - out.len()) {
                    out.push((y0 + (y1 - y0) * k as f64 / n as f64).round() as u16);
                }
                i += 3;
            }
            2 => {
                let (Some(&lo), Some(&hi)) = (data.get(i + 2), data.get(i + 3)) else {
                    return Err(lut_error("truncated indirect palette segment".into()));
                };
                let mut offset = (usize::from(hi) << 16) | usize::from(lo);
                for _ in 0..n {
                    let start = data.get(offset..).unwrap_or_default();
                    let before = out.len();
                    // Copy exactly one segment from `offset`.
                    let seg_len = match (start.first(), start.get(1)) {
                        (Some(0), Some(&m)) => 2 + usize::from(m),
                        (Some(1), Some(_)) => 3,
                        (Some(2), Some(_)) => 4,
                        _ => return Err(lut_error("bad indirect palette segment".into())),
                    };
                    let seg = start.get(..seg_len).unwrap_or_default();
                    expand_segments(seg, limit, out, depth + 1)?;
                    if out.len() == before && seg.is_empty() {
                        break;
                    }
                    offset += seg_len;
                }
                i += 4;
            }
            other => return Err(lut_error(format!("unknown palette segment type {other}"))),
        }
    }
    Ok(())
}

/// Maps a PALETTE COLOR frame of indices to RGB (8-bit tables give `U8`, 16-bit
/// tables `U16`).
pub fn palette_to_rgb(instance: &Instance, frame: &Frame) -> Result<Frame, DecodeError> {
    if frame.photometric != Photometric::PaletteColor {
        return Err(lut_error("the frame is not PALETTE COLOR".into()));
    }
    let red = read_lut(
        instance,
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    )?;
    let green = read_lut(
        instance,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    )?;
    let blue = read_lut(
        instance,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    )?;
    let indices: Vec<i64> = match &frame.samples {
        Samples::U8(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::U16(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::I8(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::I16(v) => v.iter().map(|&x| i64::from(x)).collect(),
        _ => return Err(lut_error("32-bit palette indices".into())),
    };
    let wide = red.bits == 16 || green.bits == 16 || blue.bits == 16;
    let samples = if wide {
        Samples::U16(
            indices
                .iter()
                .flat_map(|&i| [red.get(i), green.get(i), blue.get(i)])
                .collect(),
        )
    } else {
        Samples::U8(
            indices
                .iter()
                .flat_map(|&i| [red.get(i), green.get(i), blue.get(i)].map(|v| v as u8))
                .collect(),
        )
    };
    Ok(Frame {
        rows: frame.rows,
        columns: frame.columns,
        samples_per_pixel: 3,
        photometric: Photometric::Rgb,
        samples,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn expands_discrete_linear_and_indirect_segments() {
        // discrete [0, 10], linear to 40 over 3, indirect: repeat segment at 0 once.
        let data = [0, 2, 0, 10, 1, 3, 40, 2, 1, 0, 0];
        let mut out = Vec::new();
        expand_segments(&data, 100, &mut out, 0).unwrap();
        assert_eq!(out, vec![0, 10, 20, 30, 40, 0, 10]);
        let mut capped = Vec::new();
        expand_segments(&data, 3, &mut capped, 0).unwrap();
        assert_eq!(capped.len(), 3);
        assert!(expand_segments(&[1, 3, 40], 10, &mut Vec::new(), 0).is_err());
        assert!(expand_segments(&[0, 9, 1], 10, &mut Vec::new(), 0).is_err());
    }

    #[test]
    fn lookup_clamps_outside_the_table() {
        let lut = Lut {
            first_mapped: 10,
            bits: 8,
            entries: vec![1, 2, 3],
        };
        assert_eq!((lut.get(0), lut.get(11), lut.get(99)), (1, 2, 3));
    }
}
