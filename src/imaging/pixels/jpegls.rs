//! JPEG-LS (ITU T.87) frames, lossless and near-lossless, through CharLS.
//!
//! Owns the SOF55/SOS inspection done before CharLS allocates (dimensions checked
//! against the DICOM header, interleave mode read so plane-by-plane output can be
//! interleaved) and the conversion of CharLS's native-endian output.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Decoded, RawSamples};

#[derive(Debug, PartialEq, Eq)]
struct Header {
    bits: u8,
    height: u32,
    width: u32,
    components: u16,
    /// Interleave mode of the first scan: 0 none (planes), 1 line, 2 sample.
    interleave: u8,
}

fn read_header(data: &[u8]) -> Result<Header, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("no JPEG-LS start-of-image marker".into());
    }
    let mut pos = 2;
    let mut frame: Option<(u8, u32, u32, u16)> = None;
    loop {
        let (Some(&0xFF), Some(&marker)) = (data.get(pos), data.get(pos + 1)) else {
            return Err("truncated JPEG-LS header".into());
        };
        let s = data
            .get(pos + 2..pos + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .and_then(|len| data.get(pos + 4..pos + 2 + len.max(2)))
            .ok_or("truncated JPEG-LS header")?;
        match marker {
            0xF7 => {
                let f = s.get(..6).ok_or("short JPEG-LS frame header")?;
                frame = Some((
                    f[0],
                    u32::from(u16::from_be_bytes([f[1], f[2]])),
                    u32::from(u16::from_be_bytes([f[3], f[4]])),
                    u16::from(f[5]),
                ));
            }
            0xDA => {
                let (bits, height, width, components) =
                    frame.ok_or("JPEG-LS scan before the frame header")?;
                let ns = usize::from(*s.first().ok_or("short JPEG-LS scan header")?);
                let interleave = *s.get(1 + 2 * ns + 1).ok_or("short JPEG-LS scan header")?;
                return Ok(Header {
                    bits,
                    height,
                    width,
                    components,
                    interleave,
                });
            }
            0xD9 => return Err("no JPEG-LS scan".into()),
            _ => {}
        }
        pos += 2 + s.len() + 2;
    }
}

/// Decodes one JPEG-LS frame; `expected` is (rows, columns, samples per pixel).
pub fn decode(data: &[u8], expected: (u32, u32, u16)) -> Result<Decoded, String> {
    let header = read_header(data)?;
    let (rows, cols, spp) = expected;
    if header.height != rows || header.width != cols || header.components != spp {
        return Err(format!(
            "JPEG-LS frame is {}x{}x{}, the header says {rows}x{cols}x{spp}",
            header.height, header.width, header.components
        ));
    }
    if !(2..=16).contains(&header.bits) {
        return Err(format!("JPEG-LS sample precision {}", header.bits));
    }
    // CharLS 2.4 can spin for billions of iterations when the entropy-coded data
    // simply stops (its bit reader goes negative); a final marker makes it stop with
    // an error instead. Complete streams end with EOI (plus DICOM's even-length pad).
    let data: Cow<'_, [u8]> = if data.ends_with(&[0xFF, 0xD9]) || data.ends_with(&[0xFF, 0xD9, 0]) {
        Cow::Borrowed(data)
    } else {
        Cow::Owned([data, &[0xFF, 0xD9]].concat())
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut codec = charls::CharLS::default();
        codec.decode(&data).map_err(|e| e.to_string())
    }));
    let bytes = match result {
        Ok(r) => r?,
        Err(_) => return Err("the JPEG-LS decoder panicked on this data".into()),
    };
    let n = rows as usize * cols as usize * usize::from(spp);
    let mut samples = if header.bits > 8 {
        RawSamples::Ne16(bytes)
    } else {
        RawSamples::U8(bytes)
    };
    if samples.len() < n {
        return Err(format!(
            "JPEG-LS decoder returned {} samples, {n} expected",
            samples.len()
        ));
    }
    if header.interleave == 0 && spp > 1 {
        samples = samples.interleave_planes(usize::from(spp));
    }
    Ok(Decoded {
        width: cols,
        height: rows,
        components: spp,
        samples,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_frame_and_scan_headers() {
        let data = [
            0xFF, 0xD8, // SOI
            0xFF, 0xF7, 0, 11, 8, 0, 2, 0, 3, 1, 1, 0x11, 0, // SOF55: 8-bit, 2x3, 1 comp
            0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0, 0, // SOS: 1 comp, NEAR 0, ILV 0
        ];
        let h = read_header(&data).unwrap();
        assert_eq!((h.bits, h.height, h.width, h.components), (8, 2, 3, 1));
        assert_eq!(h.interleave, 0);
        assert!(decode(&data, (3, 3, 1)).unwrap_err().contains("2x3x1"));
        assert!(read_header(&data[..10]).is_err());
    }
}
