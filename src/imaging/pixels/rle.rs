//! RLE Lossless (PS3.5 Annex G) frame decoder, bounds-checked, 8/16/32-bit.
//!
//! Owns the RLE header (segment count and offsets), PackBits segment decoding, and
//! segment ordering: for each sample (component) in turn, its bytes from most to
//! least significant, each segment holding one byte plane of rows x columns bytes.
//! Output is a native little-endian, colour-by-pixel byte buffer.

use super::DecodeError;
use super::layout::PixelLayout;

/// Decodes one RLE frame into little-endian interleaved native bytes.
pub fn decode(data: &[u8], layout: &PixelLayout) -> Result<Vec<u8>, String> {
    let bytes_per_sample = usize::from(layout.bits_allocated / 8);
    if bytes_per_sample == 0 {
        return Err("RLE of 1-bit data is not supported".into());
    }
    let spp = usize::from(layout.samples_per_pixel);
    let expected_segments = bytes_per_sample * spp;
    let header = data
        .get(..64)
        .ok_or_else(|| format!("RLE header needs 64 bytes, {} present", data.len()))?;
    let word = |i: usize| -> u32 {
        header
            .get(i * 4..i * 4 + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0)
    };
    let count = word(0) as usize;
    if count != expected_segments {
        return Err(format!(
            "RLE header declares {count} segments, {expected_segments} expected"
        ));
    }
    let offsets: Vec<usize> = (1..=count).map(|i| word(i) as usize).collect();
    let pixels = layout.pixels();
    let mut out = vec![0u8; pixels * expected_segments];
    let mut plane = vec![0u8; pixels];
    for (segment, &start) in offsets.iter().enumerate() {
        let end = offsets
            .get(segment + 1)
            .copied()
            .unwrap_or(data.len())
            .min(data.len());
        let Some(source) = data.get(start..end) else {
            return Err(format!(
                "RLE segment {segment} spans bytes {start}..{end} of {}",
                data.len()
            ));
        };
        let written = packbits(source, &mut plane);
        if written < pixels {
            return Err(format!(
                "RLE segment {segment} decodes to {written} bytes, {pixels} expected"
            ));
        }
        // Segment order: sample by sample, most significant byte first.
        let sample = segment / bytes_per_sample;
        let byte_in_sample = bytes_per_sample - 1 - segment % bytes_per_sample;
        let stride = spp * bytes_per_sample;
        let first = sample * bytes_per_sample + byte_in_sample;
        for (dst, &src) in out.iter_mut().skip(first).step_by(stride).zip(&plane) {
            *dst = src;
        }
    }
    Ok(out)
}

/// PackBits-decodes `src` into `dst`, stopping when either runs out; returns the
/// number of bytes written.
pub fn packbits(src: &[u8], dst: &mut [u8]) -> usize {
    let mut i = 0;
    let mut o = 0;
    while o < dst.len() {
        let Some(&header) = src.get(i) else { break };
        i += 1;
        let n = header as i8;
        if n >= 0 {
            let len = n as usize + 1;
            let take = len.min(dst.len() - o).min(src.len().saturating_sub(i));
            let (Some(from), Some(to)) = (src.get(i..i + take), dst.get_mut(o..o + take)) else {
                break;
            };
            to.copy_from_slice(from);
            i += len;
            o += take;
            if take < len && o < dst.len() {
                break; // literal run cut short by the end of the segment
            }
        } else if n != -128 {
            let Some(&value) = src.get(i) else { break };
            i += 1;
            let len = (1 - isize::from(n)) as usize;
            let take = len.min(dst.len() - o);
            if let Some(to) = dst.get_mut(o..o + take) {
                to.fill(value);
            }
            o += take;
        }
    }
    o
}

/// Decodes and reports errors with the frame number.
pub fn decode_frame(data: &[u8], layout: &PixelLayout, frame: u32) -> Result<Vec<u8>, DecodeError> {
    decode(data, layout).map_err(|reason| DecodeError::Frame { frame, reason })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::imaging::pixels::layout::ColorSpace;

    fn header(offsets: &[u32]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&(offsets.len() as u32).to_le_bytes());
        for (i, o) in offsets.iter().enumerate() {
            h[4 + i * 4..8 + i * 4].copy_from_slice(&o.to_le_bytes());
        }
        h
    }

    #[test]
    fn packbits_literals_runs_and_noops() {
        let mut out = [0u8; 7];
        // literal 2, no-op, run of 4 x 9, literal 1 (cut by the output size)
        let n = packbits(&[1, 5, 6, 0x80, 0xFD, 9, 0, 7], &mut out);
        assert_eq!(n, 7);
        assert_eq!(out, [5, 6, 9, 9, 9, 9, 7]);
        let mut short = [0u8; 4];
        assert_eq!(packbits(&[0x05, 1, 2], &mut short), 2);
    }

    #[test]
    fn sixteen_bit_segments_are_msb_first() {
        let layout = PixelLayout::new(1, 2, 1, 16, 16, 0, 0, ColorSpace::Monochrome2, 1).unwrap();
        let mut data = header(&[64, 67]);
        data.extend([1, 0x12, 0x34]); // high bytes
        data.extend([1, 0x56, 0x78]); // low bytes
        let out = decode(&data, &layout).unwrap();
        assert_eq!(out, vec![0x56, 0x12, 0x78, 0x34]);
    }

    #[test]
    fn rgb_segments_interleave() {
        let layout = PixelLayout::new(1, 1, 3, 8, 8, 0, 0, ColorSpace::Rgb, 1).unwrap();
        let mut data = header(&[64, 66, 68]);
        data.extend([0, 10, 0, 20, 0, 30]);
        assert_eq!(decode(&data, &layout).unwrap(), vec![10, 20, 30]);
    }

    #[test]
    fn corrupt_headers_and_short_segments_are_errors() {
        let layout = PixelLayout::new(2, 2, 1, 8, 8, 0, 0, ColorSpace::Monochrome2, 1).unwrap();
        assert!(decode(&[0; 10], &layout).is_err());
        assert!(decode(&header(&[64, 70]), &layout).is_err());
        let mut bad = header(&[9999]);
        bad.extend([3, 1, 2, 3, 4]);
        assert!(decode(&bad, &layout).is_err());
        let mut short = header(&[64]);
        short.extend([1, 1, 2]);
        assert!(
            decode(&short, &layout)
                .unwrap_err()
                .contains("decodes to 2")
        );
    }
}
