//! JPEG (ITU T.81) frames: header inspection and dispatch to a decoder.
//!
//! Owns the choice of decoder per JPEG process: our own `jpegll` for lossless
//! (processes 14, SV1) of any precision, with jpeg-decoder behind it for the lossless
//! streams `jpegll` leaves alone or refuses; jpeg-decoder (SIMD IDCT) for 8-bit
//! sequential/progressive; our own `jpeg12` for 12-bit (and any other sequential
//! frame jpeg-decoder refuses). Frame dimensions are checked against the DICOM header
//! before any decoder allocates.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Decoded, RawSamples};
use super::{jpeg12, jpegll};

/// The frame header of a JPEG stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sof {
    /// Marker low byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC3 lossless.
    pub marker: u8,
    pub precision: u8,
    pub height: u32,
    pub width: u32,
    pub components: u16,
}

/// Finds the first SOFn header (skipping tables and application segments).
pub fn read_sof(data: &[u8]) -> Result<Sof, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("no JPEG start-of-image marker".into());
    }
    let mut pos = 2;
    loop {
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (data.get(pos), data.get(pos + 1)) else {
            return Err("no JPEG frame header".into());
        };
        let len = data
            .get(pos + 2..pos + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or("truncated JPEG header")?;
        if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            let s = data
                .get(pos + 4..pos + 10)
                .ok_or("truncated JPEG frame header")?;
            return Ok(Sof {
                marker,
                precision: s[0],
                height: u32::from(u16::from_be_bytes([s[1], s[2]])),
                width: u32::from(u16::from_be_bytes([s[3], s[4]])),
                components: u16::from(s[5]),
            });
        }
        if marker == 0xDA || marker == 0xD9 {
            return Err("no JPEG frame header before the scan".into());
        }
        pos += 2 + len;
    }
}

/// Decodes one JPEG frame. With `keep_color`, 3-component 8-bit lossy data is returned
/// as coded (no YCbCr -> RGB), for the caller to convert; otherwise the stream's own
/// markers decide, as libjpeg does.
pub fn decode(data: &[u8], expected: (u32, u32, u16), keep_color: bool) -> Result<Decoded, String> {
    let sof = read_sof(data)?;
    let (rows, cols, spp) = expected;
    if sof.height != rows || sof.width != cols || sof.components != spp {
        return Err(format!(
            "JPEG frame is {}x{}x{}, the header says {rows}x{cols}x{spp}",
            sof.height, sof.width, sof.components
        ));
    }
    let limit = rows as usize * cols as usize * usize::from(spp);
    if sof.marker == 0xC3 {
        return decode_lossless(data, sof, limit, keep_color);
    }
    if sof.precision == 8 {
        return decode_with_jpeg_decoder(data, sof, limit, keep_color);
    }
    if matches!(sof.marker, 0xC0 | 0xC1) {
        return decode_sequential(data, limit);
    }
    Err(format!(
        "JPEG process SOF{} with {}-bit samples is not supported",
        sof.marker - 0xC0,
        sof.precision
    ))
}

/// Lossless: our own decoder, else (unusual or refused streams) jpeg-decoder. When
/// both refuse, jpeg-decoder's reason is reported.
fn decode_lossless(
    data: &[u8],
    sof: Sof,
    limit: usize,
    keep_color: bool,
) -> Result<Decoded, String> {
    match jpegll::decode(data, limit) {
        Ok(Some(image)) => {
            let samples = if image.precision <= 8 {
                // As jpeg-decoder: 8-bit output keeps the low byte.
                RawSamples::U8(image.data.iter().map(|&v| v as u8).collect())
            } else {
                RawSamples::U16(image.data)
            };
            Ok(Decoded {
                width: image.width,
                height: image.height,
                components: image.components,
                samples,
            })
        }
        Ok(None) | Err(_) => decode_with_jpeg_decoder(data, sof, limit, keep_color),
    }
}

/// Our own sequential decoder (12-bit, or lenient 8-bit).
pub fn decode_sequential(data: &[u8], limit: usize) -> Result<Decoded, String> {
    let image = jpeg12::decode(data, limit)?;
    Ok(Decoded {
        width: image.width,
        height: image.height,
        components: image.components,
        samples: RawSamples::U16(image.data),
    })
}

fn decode_with_jpeg_decoder(
    data: &[u8],
    sof: Sof,
    limit: usize,
    keep_color: bool,
) -> Result<Decoded, String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = jpeg_decoder::Decoder::new(data);
        decoder.set_max_decoding_buffer_size(limit.saturating_mul(2));
        if keep_color && sof.components == 3 && sof.marker != 0xC3 {
            // `RGB` interleaves the components as coded (`None` is broken upstream:
            // it writes planes line by line and panics on subsampled data).
            decoder.set_color_transform(jpeg_decoder::ColorTransform::RGB);
        }
        let pixels = decoder.decode().map_err(|e| e.to_string())?;
        let info = decoder.info().ok_or("no image info")?;
        Ok::<_, String>((pixels, info))
    }));
    let (pixels, info) = match result {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            // libjpeg tolerates some malformed sequential headers jpeg-decoder refuses.
            if matches!(sof.marker, 0xC0 | 0xC1)
                && sof.components == 1
                && let Ok(d) = decode_sequential(data, limit)
            {
                return Ok(d);
            }
            return Err(e);
        }
        Err(_) => return Err("the JPEG decoder panicked on this data".into()),
    };
    let components = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::L16 => 1,
        jpeg_decoder::PixelFormat::RGB24 => 3,
        jpeg_decoder::PixelFormat::CMYK32 => 4,
    };
    // More than 8 bits (lossless only) come as native-endian u16 bytes.
    let samples = if info.pixel_format == jpeg_decoder::PixelFormat::L16 || sof.precision > 8 {
        RawSamples::Ne16(pixels)
    } else {
        RawSamples::U8(pixels)
    };
    Ok(Decoded {
        width: u32::from(info.width),
        height: u32::from(info.height),
        components,
        samples,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_frame_header_after_tables() {
        let data = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xC1, 0, 11, 12, 0, 8, 0, 16, 1, 1, 0x11, 0,
        ];
        let sof = read_sof(&data).unwrap();
        assert_eq!(
            sof,
            Sof {
                marker: 0xC1,
                precision: 12,
                height: 8,
                width: 16,
                components: 1
            }
        );
        assert!(read_sof(&data[..12]).is_err());
        assert!(read_sof(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]).is_err());
    }

    #[test]
    fn dimension_mismatch_is_refused_before_decoding() {
        let data = [
            0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0x40, 0, 0x40, 0, 1, 1, 0x11, 0,
        ];
        let err = decode(&data, (8, 8, 1), false).unwrap_err();
        assert!(err.contains("16384x16384x1"), "{err}");
    }
}
