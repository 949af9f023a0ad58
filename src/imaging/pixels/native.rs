//! Native (uncompressed) sample buffers -> `Samples`, and the shared normalisation.
//!
//! Owns the conversion every decoder ends with: raw sample bit patterns -> the
//! width of BitsAllocated, masked (unsigned) or sign-extended (signed) from
//! BitsStored; planar -> interleaved; 1-bit unpacking (LSB first); YBR_FULL_422
//! expansion to three samples per pixel. Pure functions; no colour conversion here.

use super::layout::{ByteOrder, ColorSpace, PixelLayout};
use super::{DecodeError, Samples};

/// Converts one native frame (`raw` starts at the frame; extra bytes are ignored)
/// into stored values, interleaved. YBR_FULL_422 is expanded to YBR_FULL samples
/// (colour conversion is the caller's choice). For bit-packed frames that do not
/// start on a byte boundary use [`unpack_bits`].
pub fn native_to_samples(
    raw: &[u8],
    layout: &PixelLayout,
    byte_order: ByteOrder,
) -> Result<Samples, DecodeError> {
    let needed = layout.native_frame_bytes();
    let Some(raw) = raw.get(..needed) else {
        return Err(DecodeError::Truncated {
            needed: needed as u64,
            available: raw.len() as u64,
        });
    };
    if layout.bits_allocated == 1 {
        return Ok(Samples::U8(unpack_bits(raw, 0, layout.samples())?));
    }
    if layout.color_space == ColorSpace::YbrFull422 {
        return expand_422(raw, layout);
    }
    let samples = match (layout.bits_allocated, byte_order) {
        (8, _) => from_u8(raw, layout),
        (16, ByteOrder::Little) => from_u16_iter(
            raw.as_chunks::<2>()
                .0
                .iter()
                .map(|c| u16::from_le_bytes(*c)),
            layout,
        ),
        (16, ByteOrder::Big) => from_u16_iter(
            raw.as_chunks::<2>()
                .0
                .iter()
                .map(|c| u16::from_be_bytes(*c)),
            layout,
        ),
        (32, ByteOrder::Little) => from_u32_iter(
            raw.as_chunks::<4>()
                .0
                .iter()
                .map(|c| u32::from_le_bytes(*c)),
            layout,
        ),
        (32, ByteOrder::Big) => from_u32_iter(
            raw.as_chunks::<4>()
                .0
                .iter()
                .map(|c| u32::from_be_bytes(*c)),
            layout,
        ),
        (bits, _) => {
            return Err(DecodeError::Unsupported {
                what: format!("BitsAllocated {bits}"),
            });
        }
    };
    Ok(if layout.planar {
        interleave_planes(samples, layout)
    } else {
        samples
    })
}

/// Same as [`native_to_samples`] for 16-bit words already in native order (as the
/// parser hands OW values over), avoiding a byte round trip.
pub fn words_to_samples(words: &[u16], layout: &PixelLayout) -> Result<Samples, DecodeError> {
    let needed = layout.samples();
    let Some(words) = words.get(..needed) else {
        return Err(DecodeError::Truncated {
            needed: (needed * 2) as u64,
            available: (words.len() * 2) as u64,
        });
    };
    if layout.bits_allocated != 16 || layout.color_space == ColorSpace::YbrFull422 {
        return Err(DecodeError::Unsupported {
            what: "16-bit word input for a layout that is not 16-bit".into(),
        });
    }
    let samples = from_u16_iter(words.iter().copied(), layout);
    Ok(if layout.planar {
        interleave_planes(samples, layout)
    } else {
        samples
    })
}

/// Unpacks `count` 1-bit samples starting `bit_offset` bits into `raw` (DICOM packs
/// the first pixel into the least significant bit) into 0/1 bytes.
pub fn unpack_bits(raw: &[u8], bit_offset: u64, count: usize) -> Result<Vec<u8>, DecodeError> {
    let end_bit = bit_offset + count as u64;
    let needed = end_bit.div_ceil(8);
    if (raw.len() as u64) < needed {
        return Err(DecodeError::Truncated {
            needed,
            available: raw.len() as u64,
        });
    }
    let mut out = Vec::with_capacity(count);
    if bit_offset.is_multiple_of(8) {
        let start = (bit_offset / 8) as usize;
        for &byte in raw.iter().skip(start) {
            for bit in 0..8 {
                if out.len() == count {
                    return Ok(out);
                }
                out.push((byte >> bit) & 1);
            }
        }
    } else {
        for bit in bit_offset..end_bit {
            let byte = raw.get((bit / 8) as usize).copied().unwrap_or(0);
            out.push((byte >> (bit % 8)) & 1);
        }
    }
    Ok(out)
}

/// Mask for the low `bits` bits.
fn low_mask(bits: u16) -> u32 {
    if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    }
}

/// Sign-extends the low `bits` bits of `v`.
#[inline]
pub fn sign_extend(v: u32, bits: u16) -> i32 {
    let shift = 32 - u32::from(bits.clamp(1, 32));
    ((v << shift) as i32) >> shift
}

fn from_u8(raw: &[u8], layout: &PixelLayout) -> Samples {
    let bits = layout.bits_stored;
    match (layout.signed, bits >= 8) {
        (false, true) => Samples::U8(raw.to_vec()),
        (false, false) => {
            let mask = low_mask(bits) as u8;
            Samples::U8(raw.iter().map(|&v| v & mask).collect())
        }
        (true, _) => Samples::I8(
            raw.iter()
                .map(|&v| sign_extend(u32::from(v), bits) as i8)
                .collect(),
        ),
    }
}

fn from_u16_iter(iter: impl Iterator<Item = u16>, layout: &PixelLayout) -> Samples {
    let bits = layout.bits_stored;
    match (layout.signed, bits >= 16) {
        (false, true) => Samples::U16(iter.collect()),
        (false, false) => {
            let mask = low_mask(bits) as u16;
            Samples::U16(iter.map(|v| v & mask).collect())
        }
        (true, true) => Samples::I16(iter.map(|v| v as i16).collect()),
        (true, false) => {
            let shift = 16 - bits;
            Samples::I16(iter.map(|v| ((v << shift) as i16) >> shift).collect())
        }
    }
}

fn from_u32_iter(iter: impl Iterator<Item = u32>, layout: &PixelLayout) -> Samples {
    let bits = layout.bits_stored;
    if layout.signed {
        Samples::I32(iter.map(|v| sign_extend(v, bits)).collect())
    } else {
        let mask = low_mask(bits);
        Samples::U32(iter.map(|v| v & mask).collect())
    }
}

/// Normalises decoder output given as raw bit patterns (one per sample, already
/// interleaved) into the layout's sample type.
pub fn from_bits(iter: impl Iterator<Item = u32>, layout: &PixelLayout) -> Samples {
    let bits = layout.bits_stored;
    match (layout.bits_allocated, layout.signed) {
        (1, _) => Samples::U8(iter.map(|v| (v & 1) as u8).collect()),
        (8, false) => {
            let mask = low_mask(bits);
            Samples::U8(iter.map(|v| (v & mask) as u8).collect())
        }
        (8, true) => Samples::I8(iter.map(|v| sign_extend(v, bits) as i8).collect()),
        (16, false) => {
            let mask = low_mask(bits);
            Samples::U16(iter.map(|v| (v & mask) as u16).collect())
        }
        (16, true) => Samples::I16(iter.map(|v| sign_extend(v, bits) as i16).collect()),
        (_, false) => Samples::U32(iter.map(|v| v & low_mask(bits)).collect()),
        (_, true) => Samples::I32(iter.map(|v| sign_extend(v, bits)).collect()),
    }
}

/// Colour-by-plane -> colour-by-pixel.
fn interleave_planes(samples: Samples, layout: &PixelLayout) -> Samples {
    fn go<T: Copy + Default>(v: Vec<T>, pixels: usize, spp: usize) -> Vec<T> {
        let mut out = vec![T::default(); v.len()];
        for (plane_index, plane) in v.chunks(pixels).enumerate().take(spp) {
            for (dst, &src) in out.iter_mut().skip(plane_index).step_by(spp).zip(plane) {
                *dst = src;
            }
        }
        out
    }
    let (p, s) = (layout.pixels(), usize::from(layout.samples_per_pixel));
    match samples {
        Samples::U8(v) => Samples::U8(go(v, p, s)),
        Samples::I8(v) => Samples::I8(go(v, p, s)),
        Samples::U16(v) => Samples::U16(go(v, p, s)),
        Samples::I16(v) => Samples::I16(go(v, p, s)),
        Samples::U32(v) => Samples::U32(go(v, p, s)),
        Samples::I32(v) => Samples::I32(go(v, p, s)),
    }
}

/// YBR_FULL_422 native data (Y1 Y2 Cb Cr per pixel pair, rows padded to an even
/// pixel count) -> three YBR samples per pixel.
fn expand_422(raw: &[u8], layout: &PixelLayout) -> Result<Samples, DecodeError> {
    if layout.bits_allocated != 8 {
        return Err(DecodeError::Unsupported {
            what: format!("YBR_FULL_422 with BitsAllocated {}", layout.bits_allocated),
        });
    }
    let cols = layout.columns as usize;
    let row_bytes = cols.div_ceil(2) * 4;
    let mut out = Vec::with_capacity(layout.samples());
    for row in raw.chunks_exact(row_bytes).take(layout.rows as usize) {
        let mut written = 0;
        for group in row.as_chunks::<4>().0 {
            let [y1, y2, cb, cr] = *group;
            for y in [y1, y2] {
                if written < cols {
                    out.extend_from_slice(&[y, cb, cr]);
                    written += 1;
                }
            }
        }
    }
    if out.len() != layout.samples() {
        return Err(DecodeError::Truncated {
            needed: layout.native_frame_bytes() as u64,
            available: raw.len() as u64,
        });
    }
    // BitsStored masking still applies to the expanded samples.
    Ok(from_u8(&out, layout))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn layout(bits: u32, stored: u32, signed: bool, spp: u32, planar: bool) -> PixelLayout {
        let cs = if spp == 3 {
            ColorSpace::Rgb
        } else {
            ColorSpace::Monochrome2
        };
        PixelLayout::new(
            1,
            2,
            spp,
            bits,
            stored,
            u32::from(signed),
            u32::from(planar),
            cs,
            1,
        )
        .unwrap()
    }

    #[test]
    fn masks_unsigned_and_sign_extends_signed() {
        let raw = [0xFF, 0xFF, 0x00, 0x08];
        let u = native_to_samples(&raw, &layout(16, 12, false, 1, false), ByteOrder::Little);
        assert_eq!(u.unwrap(), Samples::U16(vec![0x0FFF, 0x0800]));
        let s = native_to_samples(&raw, &layout(16, 12, true, 1, false), ByteOrder::Little);
        assert_eq!(s.unwrap(), Samples::I16(vec![-1, -2048]));
        let be = native_to_samples(&raw, &layout(16, 16, true, 1, false), ByteOrder::Big);
        assert_eq!(be.unwrap(), Samples::I16(vec![-1, 8]));
        assert_eq!(sign_extend(0x1F, 5), -1);
        assert_eq!(sign_extend(0x0F, 5), 15);
        assert_eq!(sign_extend(0x8000_0000, 32), i32::MIN);
    }

    #[test]
    fn planar_becomes_interleaved() {
        let raw = [1, 2, 10, 20, 100, 200];
        let s = native_to_samples(&raw, &layout(8, 8, false, 3, true), ByteOrder::Little);
        assert_eq!(s.unwrap(), Samples::U8(vec![1, 10, 100, 2, 20, 200]));
    }

    #[test]
    fn unpacks_bits_lsb_first_at_any_offset() {
        assert_eq!(unpack_bits(&[0b0000_0101], 0, 3).unwrap(), vec![1, 0, 1]);
        assert_eq!(unpack_bits(&[0b1000_0000, 0b1], 7, 2).unwrap(), vec![1, 1]);
        assert!(unpack_bits(&[0], 4, 8).is_err());
    }

    #[test]
    fn truncated_input_is_an_error() {
        let r = native_to_samples(
            &[1, 2, 3],
            &layout(16, 16, false, 1, false),
            ByteOrder::Little,
        );
        assert!(matches!(r, Err(DecodeError::Truncated { needed: 4, .. })));
    }

    #[test]
    fn expands_422() {
        let l = PixelLayout::new(1, 3, 3, 8, 8, 0, 0, ColorSpace::YbrFull422, 1).unwrap();
        let raw = [10, 20, 1, 2, 30, 40, 3, 4];
        let s = native_to_samples(&raw, &l, ByteOrder::Little).unwrap();
        assert_eq!(s, Samples::U8(vec![10, 1, 2, 20, 1, 2, 30, 3, 4]));
    }
}
