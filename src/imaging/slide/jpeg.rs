//! JPEG tiles of TIFF slides: splicing the shared JPEGTables into a tile's abbreviated
//! stream and decoding it into RGBA for the viewer: YCbCr tiles with libjpeg-turbo
//! (`turbo.rs`, the decoder OpenSlide uses), the other colour cases with zune-jpeg.
//!
//! Owns the colour rule, which follows libtiff (and so OpenSlide): a TIFF that says
//! YCbCr is converted YCbCr -> RGB whatever the JPEG markers say; a TIFF that says RGB
//! gets its JPEG components as they are, without colour conversion. Output is RGBA (RGB for tests).
//! Never reads files.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// What the TIFF's PhotometricInterpretation says the JPEG components are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileColour {
    /// Photometric 6: decode with YCbCr -> RGB conversion.
    YCbCr,
    /// Photometric 2: the components are R, G, B; no conversion.
    Rgb,
}

/// Why a tile's JPEG data could not be decoded (one line; the caller adds where).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JpegTileError {
    #[error("JPEG tables are not an abbreviated JPEG stream")]
    BadTables,
    #[error("tile data is not a JPEG stream")]
    NotJpeg,
    #[error("JPEG data is {width}x{height}, smaller than the {need_w}x{need_h} tile")]
    TooSmall {
        width: usize,
        height: usize,
        need_w: usize,
        need_h: usize,
    },
    #[error("JPEG has {0} components, expected 3")]
    Components(usize),
    #[error("JPEG colour space {0} cannot be read as RGB")]
    Colour(String),
    #[error("cannot decode JPEG: {0}")]
    Decode(String),
    #[error("JPEG decoder failed on damaged data")]
    Panicked,
}

/// The tile's complete JPEG stream: `tables` (SOI, tables, EOI) spliced in after the
/// tile's SOI, as libtiff does. Borrowed when there are no tables.
pub fn with_tables<'a>(
    tables: Option<&[u8]>,
    tile: &'a [u8],
) -> Result<Cow<'a, [u8]>, JpegTileError> {
    if tile.len() < 4 || tile[..2] != [0xFF, 0xD8] {
        return Err(JpegTileError::NotJpeg);
    }
    let Some(tables) = tables else {
        return Ok(Cow::Borrowed(tile));
    };
    // An empty or SOI+EOI-only table stream adds nothing.
    if tables.len() <= 4 {
        return Ok(Cow::Borrowed(tile));
    }
    if tables[..2] != [0xFF, 0xD8] || tables[tables.len() - 2..] != [0xFF, 0xD9] {
        return Err(JpegTileError::BadTables);
    }
    let mut merged = Vec::with_capacity(tables.len() + tile.len());
    merged.extend_from_slice(&tables[..tables.len() - 2]);
    merged.extend_from_slice(&tile[2..]);
    Ok(Cow::Owned(merged))
}

/// Decodes one complete JPEG stream into RGB, cropped to `width` x `height` (edge
/// tiles of a level are coded at full tile size). The viewer reads RGBA
/// ([`decode_rgba`]); tests compare the two.
#[cfg(test)]
pub fn decode_rgb(
    stream: &[u8],
    colour: TileColour,
    width: usize,
    height: usize,
    max_side: usize,
) -> Result<Vec<u8>, JpegTileError> {
    catch_unwind(AssertUnwindSafe(|| {
        decode_inner(stream, colour, width, height, max_side, false)
    }))
    .unwrap_or(Err(JpegTileError::Panicked))
}

/// As [`decode_rgb`], into opaque RGBA: what the viewer uploads, written by the
/// decoder's own colour conversion (no widening pass on the UI thread).
pub fn decode_rgba(
    stream: &[u8],
    colour: TileColour,
    width: usize,
    height: usize,
    max_side: usize,
) -> Result<Vec<u8>, JpegTileError> {
    catch_unwind(AssertUnwindSafe(|| {
        decode_inner(stream, colour, width, height, max_side, true)
    }))
    .unwrap_or(Err(JpegTileError::Panicked))
}

fn decode_inner(
    stream: &[u8],
    colour: TileColour,
    width: usize,
    height: usize,
    max_side: usize,
    rgba: bool,
) -> Result<Vec<u8>, JpegTileError> {
    // The common case, YCbCr tiles read as RGBA: libjpeg-turbo (as OpenSlide decodes
    // them). Other colour cases, and RGB output, go through zune-jpeg.
    if rgba && colour == TileColour::YCbCr {
        match super::turbo::decode_ycbcr_rgba(stream, max_side) {
            Ok(Some((h, pixels))) => {
                if h.width < width || h.height < height {
                    return Err(JpegTileError::TooSmall {
                        width: h.width,
                        height: h.height,
                        need_w: width,
                        need_h: height,
                    });
                }
                return Ok(crop(pixels, h.width, width, height, 4));
            }
            Ok(None) => {}
            Err(e) => return Err(JpegTileError::Decode(e)),
        }
    }
    let converted = if rgba {
        ColorSpace::RGBA
    } else {
        ColorSpace::RGB
    };
    let options = DecoderOptions::default()
        .set_max_width(max_side)
        .set_max_height(max_side)
        .jpeg_set_out_colorspace(converted);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(stream), options);
    decoder
        .decode_headers()
        .map_err(|e| JpegTileError::Decode(one_line(&e)))?;
    let Some(info) = decoder.info() else {
        return Err(JpegTileError::Decode("no frame header".into()));
    };
    let (jw, jh) = (usize::from(info.width), usize::from(info.height));
    if jw < width || jh < height {
        return Err(JpegTileError::TooSmall {
            width: jw,
            height: jh,
            need_w: width,
            need_h: height,
        });
    }
    if info.components != 3 {
        return Err(JpegTileError::Components(usize::from(info.components)));
    }
    let input = decoder.input_colorspace().unwrap_or(ColorSpace::YCbCr);
    // Whether the decoder's output has 3 channels that still need an alpha byte.
    let widen = match (colour, input) {
        // zune converts YCbCr -> RGB(A) as libjpeg does.
        (TileColour::YCbCr, ColorSpace::YCbCr) => false,
        // The components are R, G, B: asked for as they are (no conversion).
        (TileColour::Rgb, ColorSpace::YCbCr | ColorSpace::RGB) => {
            decoder.set_options(options.jpeg_set_out_colorspace(input));
            rgba
        }
        (_, other) => return Err(JpegTileError::Colour(format!("{other:?}"))),
    };
    let pixels = decoder
        .decode()
        .map_err(|e| JpegTileError::Decode(one_line(&e)))?;
    let got = if rgba && !widen { 4 } else { 3 };
    if pixels.len() != jw * jh * got {
        return Err(JpegTileError::Decode("short output".into()));
    }
    let want = if rgba { 4 } else { 3 };
    if got == want {
        return Ok(crop(pixels, jw, width, height, want));
    }
    let mut out = Vec::with_capacity(width * height * want);
    for row in pixels.chunks_exact(jw * got).take(height) {
        let row = &row[..width * got];
        if got == want {
            out.extend_from_slice(row);
        } else {
            super::widen_rgb(row, &mut out);
        }
    }
    Ok(out)
}

/// The top-left `width` x `height` of a `frame_width`-wide image of `channels` bytes per
/// pixel (edge tiles are coded at full tile size); the image itself when it fits.
fn crop(
    pixels: Vec<u8>,
    frame_width: usize,
    width: usize,
    height: usize,
    channels: usize,
) -> Vec<u8> {
    if frame_width == width && pixels.len() == width * height * channels {
        return pixels;
    }
    let mut out = Vec::with_capacity(width * height * channels);
    for row in pixels.chunks_exact(frame_width * channels).take(height) {
        out.extend_from_slice(&row[..width * channels]);
    }
    out
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(rgb: &[u8], w: u16, h: u16, colour: jpeg_encoder::ColorType) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 95);
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
        enc.encode(rgb, w, h, colour).unwrap();
        out
    }

    fn flat(w: usize, h: usize, rgb: [u8; 3]) -> Vec<u8> {
        rgb.iter().copied().cycle().take(w * h * 3).collect()
    }

    #[test]
    fn ycbcr_tiles_are_converted_and_cropped() {
        let jpeg = encode(
            &flat(32, 32, [200, 40, 90]),
            32,
            32,
            jpeg_encoder::ColorType::Rgb,
        );
        let rgb = decode_rgb(&jpeg, TileColour::YCbCr, 20, 10, 256).unwrap();
        assert_eq!(rgb.len(), 20 * 10 * 3);
        for px in rgb.chunks_exact(3) {
            for (got, want) in px.iter().zip([200u8, 40, 90]) {
                assert!(got.abs_diff(want) <= 2, "{px:?}");
            }
        }
    }

    #[test]
    fn rgb_tiles_are_not_colour_converted() {
        // Components stored as they are (the encoder's "Ycbcr" input is not converted),
        // labelled as an ordinary JFIF stream: a TIFF that says RGB means R, G, B.
        let jpeg = encode(
            &flat(16, 16, [10, 220, 120]),
            16,
            16,
            jpeg_encoder::ColorType::Ycbcr,
        );
        let rgb = decode_rgb(&jpeg, TileColour::Rgb, 16, 16, 256).unwrap();
        for px in rgb.chunks_exact(3) {
            for (got, want) in px.iter().zip([10u8, 220, 120]) {
                assert!(got.abs_diff(want) <= 2, "{px:?}");
            }
        }
    }

    #[test]
    fn rgba_output_matches_rgb_with_opaque_alpha_in_both_colour_rules() {
        for (colour, ct) in [
            (TileColour::YCbCr, jpeg_encoder::ColorType::Rgb),
            (TileColour::Rgb, jpeg_encoder::ColorType::Ycbcr),
        ] {
            let mut rgb_in = Vec::new();
            for i in 0..24 * 24 {
                rgb_in.extend_from_slice(&[(i * 7 % 256) as u8, (i % 200) as u8, 90]);
            }
            let jpeg = encode(&rgb_in, 24, 24, ct);
            let rgb = decode_rgb(&jpeg, colour, 20, 18, 256).unwrap();
            let rgba = decode_rgba(&jpeg, colour, 20, 18, 256).unwrap();
            assert_eq!(rgba.len(), 20 * 18 * 4);
            // YCbCr tiles go through libjpeg-turbo for RGBA, zune-jpeg for RGB: IDCTs
            // and upsampling differ by a unit or two.
            for (a, b) in rgba.chunks_exact(4).zip(rgb.chunks_exact(3)) {
                assert_eq!(a[3], 255);
                for c in 0..3 {
                    assert!(a[c].abs_diff(b[c]) <= 3, "{colour:?} {a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn tables_are_spliced_after_the_tiles_soi() {
        let tables = [0xFF, 0xD8, 0xFF, 0xDB, 0, 3, 9, 0xFF, 0xD9];
        let tile = [0xFF, 0xD8, 0xFF, 0xC0, 1, 2, 0xFF, 0xD9];
        let merged = with_tables(Some(&tables), &tile).unwrap();
        assert_eq!(
            &merged[..],
            &[
                0xFF, 0xD8, 0xFF, 0xDB, 0, 3, 9, 0xFF, 0xC0, 1, 2, 0xFF, 0xD9
            ]
        );
        assert!(matches!(with_tables(None, &tile), Ok(Cow::Borrowed(_))));
        assert_eq!(
            with_tables(Some(&tables[..5]), &tile).unwrap_err(),
            JpegTileError::BadTables
        );
        assert_eq!(
            with_tables(None, &[0, 1, 2, 3]).unwrap_err(),
            JpegTileError::NotJpeg
        );
    }

    #[test]
    fn damaged_streams_are_errors() {
        let jpeg = encode(
            &flat(32, 32, [1, 2, 3]),
            32,
            32,
            jpeg_encoder::ColorType::Rgb,
        );
        assert!(decode_rgb(&jpeg[..jpeg.len() / 3], TileColour::YCbCr, 32, 32, 256).is_err());
        assert!(matches!(
            decode_rgb(&jpeg, TileColour::YCbCr, 64, 32, 256),
            Err(JpegTileError::TooSmall { .. })
        ));
        let mut garbage = jpeg.clone();
        for b in garbage.iter_mut().skip(2).step_by(7) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let _ = decode_rgb(&garbage, TileColour::YCbCr, 32, 32, 256);
    }
}
