//! Pixel data -> decoded frames of stored values (no Modality LUT, no VOI).
//!
//! Owns transfer-syntax decoding and the normalised frame layout: rows x columns x
//! samples, interleaved, samples in the narrowest exact type (the width of
//! BitsAllocated, signed when PixelRepresentation is 1), sign-extended or masked from
//! BitsStored, YBR converted to RGB, 1-bit data unpacked to one 0/1 byte per pixel.
//! Palette colour stays as indices here ([`palette_to_rgb`] maps them for display).
//!
//! Decoder per transfer syntax:
//! - native (implicit/explicit LE, explicit BE, deflated): [`native`], a single pass
//!   from the parsed value to `Samples`;
//! - RLE Lossless: our own [`rle`] (dicom-pixeldata's fails 32-bit data);
//! - JPEG baseline: jpeg-decoder; JPEG Extended 12-bit: our own [`jpeg12`]; JPEG
//!   Lossless (process 14, SV1): our own [`jpegll`], jpeg-decoder for what it leaves;
//! - JPEG-LS: CharLS; JPEG 2000 (and HTJ2K): OpenJPEG.

mod color;
mod fragments;
mod j2k;
mod jpeg;
mod jpeg12;
mod jpegll;
mod jpegls;
pub mod layout;
pub mod native;
pub mod palette;
mod rle;

use std::borrow::Cow;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::{tags, uids};
use sha2::{Digest, Sha256};

use super::file::{HeaderError, Instance};
pub use color::{ybr_to_rgb, ybr_to_rgb_pixel};
pub use layout::{ByteOrder, ColorSpace, MAX_FRAME_BYTES, PixelLayout};
pub use native::{native_to_samples, unpack_bits, words_to_samples};
pub use palette::palette_to_rgb;

/// The stored samples of one frame, in their narrowest exact type.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::I8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::I16(v) => v.len(),
            Samples::U32(v) => v.len(),
            Samples::I32(v) => v.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Photometric interpretation of a decoded frame (after YBR -> RGB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Photometric {
    Monochrome1,
    Monochrome2,
    Rgb,
    PaletteColor,
}

/// One decoded frame in the normalised layout described in the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    pub photometric: Photometric,
    pub samples: Samples,
}

/// Minimum, maximum and mean of all samples of a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Frame {
    /// The samples as little-endian bytes, in the normalised layout. This is what
    /// the corpus manifest hashes, also for its `>i2`/`>u4` (big-endian source)
    /// entries: their hashes match the little-endian bytes of the values.
    pub fn le_bytes(&self) -> Vec<u8> {
        match &self.samples {
            Samples::U8(v) => v.clone(),
            Samples::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Samples::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Samples::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Samples::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Samples::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// SHA-256 of [`Frame::le_bytes`], lowercase hex.
    pub fn sha256_hex(&self) -> String {
        sha256_hex(&self.le_bytes())
    }

    /// Min, max and mean over every sample (all zero for an empty frame).
    pub fn stats(&self) -> FrameStats {
        fn go<T: Copy + Into<f64>>(v: &[T]) -> FrameStats {
            let Some(&first) = v.first() else {
                return FrameStats {
                    min: 0.0,
                    max: 0.0,
                    mean: 0.0,
                };
            };
            let (mut min, mut max, mut sum) = (first.into(), first.into(), 0f64);
            for &x in v {
                let x: f64 = x.into();
                min = min.min(x);
                max = max.max(x);
                sum += x;
            }
            FrameStats {
                min,
                max,
                mean: sum / v.len() as f64,
            }
        }
        match &self.samples {
            Samples::U8(v) => go(v),
            Samples::I8(v) => go(v),
            Samples::U16(v) => go(v),
            Samples::I16(v) => go(v),
            Samples::U32(v) => go(v),
            Samples::I32(v) => go(v),
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("no pixel data")]
    NoPixelData,
    #[error("pixel data not loaded (the file was opened header-only)")]
    NotLoaded,
    #[error("pixel data is cut short: the file ends inside it")]
    PixelDataCut,
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("frame {frame} out of range: the image has {frames}")]
    FrameOutOfRange { frame: u32, frames: u32 },
    #[error("a decoded frame would need {bytes} bytes, over the {limit}-byte limit")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("pixel data too short: {needed} bytes needed, {available} present")]
    Truncated { needed: u64, available: u64 },
    #[error("unsupported transfer syntax {uid}")]
    UnsupportedTransferSyntax { uid: String },
    #[error("unsupported pixel data: {what}")]
    Unsupported { what: String },
    #[error("cannot decode frame {frame}: {reason}")]
    Frame { frame: u32, reason: String },
    #[error("cannot apply the palette: {reason}")]
    Palette { reason: String },
}

/// Decoder output before normalisation: interleaved raw sample bit patterns.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub components: u16,
    pub samples: RawSamples,
}

/// Raw decoder samples.
#[derive(Debug)]
pub(crate) enum RawSamples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    /// 16-bit samples as native-endian bytes (CharLS, jpeg-decoder lossless).
    Ne16(Vec<u8>),
    /// Already normalised by the decoder.
    Ready(Samples),
}

/// Byte order of this machine (for `RawSamples::Ne16`).
const NATIVE_ORDER: ByteOrder = if cfg!(target_endian = "big") {
    ByteOrder::Big
} else {
    ByteOrder::Little
};

impl RawSamples {
    fn len(&self) -> usize {
        match self {
            RawSamples::U8(v) => v.len(),
            RawSamples::U16(v) => v.len(),
            RawSamples::Ne16(v) => v.len() / 2,
            RawSamples::Ready(s) => s.len(),
        }
    }

    /// Colour-by-plane -> colour-by-pixel for `spp` equal planes.
    fn interleave_planes(self, spp: usize) -> Self {
        fn go<T: Copy + Default>(v: Vec<T>, spp: usize) -> Vec<T> {
            let pixels = v.len() / spp.max(1);
            let mut out = vec![T::default(); pixels * spp];
            for (plane_index, plane) in v.chunks_exact(pixels.max(1)).enumerate().take(spp) {
                for (dst, &src) in out.iter_mut().skip(plane_index).step_by(spp).zip(plane) {
                    *dst = src;
                }
            }
            out
        }
        match self {
            RawSamples::U8(v) => RawSamples::U8(go(v, spp)),
            RawSamples::U16(v) => RawSamples::U16(go(v, spp)),
            RawSamples::Ne16(v) => RawSamples::U16(go(
                v.as_chunks::<2>()
                    .0
                    .iter()
                    .map(|b| u16::from_ne_bytes(*b))
                    .collect(),
                spp,
            )),
            // Decoders that normalise themselves interleave too.
            ready @ RawSamples::Ready(_) => ready,
        }
    }
}

/// How a transfer syntax stores pixel data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Native(ByteOrder),
    Rle,
    Jpeg,
    JpegLs,
    Jpeg2000,
}

fn encoding_of(uid: &str) -> Option<Encoding> {
    Some(match uid {
        uids::IMPLICIT_VR_LITTLE_ENDIAN
        | uids::EXPLICIT_VR_LITTLE_ENDIAN
        | uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN => Encoding::Native(ByteOrder::Little),
        crate::imaging::file::EXPLICIT_VR_BIG_ENDIAN => Encoding::Native(ByteOrder::Big),
        uids::RLE_LOSSLESS => Encoding::Rle,
        uids::JPEG_BASELINE8_BIT
        | uids::JPEG_EXTENDED12_BIT
        | uids::JPEG_LOSSLESS
        | uids::JPEG_LOSSLESS_SV1 => Encoding::Jpeg,
        uids::JPEGLS_LOSSLESS | uids::JPEGLS_NEAR_LOSSLESS => Encoding::JpegLs,
        uids::JPEG2000_LOSSLESS
        | uids::JPEG2000
        | uids::JPEG2000MC_LOSSLESS
        | uids::JPEG2000MC
        | uids::HTJ2K_LOSSLESS
        | uids::HTJ2K_LOSSLESS_RPCL
        | uids::HTJ2K => Encoding::Jpeg2000,
        _ => return None,
    })
}

/// Decodes frame `frame` (0-based) of `instance` into stored values.
pub fn decode_frame(instance: &Instance, frame: u32) -> Result<Frame, DecodeError> {
    let Some(element) = instance.object.get(tags::PIXEL_DATA) else {
        return Err(match instance.pixel_data {
            Some(location) if location.truncated => DecodeError::PixelDataCut,
            Some(_) => DecodeError::NotLoaded,
            None => DecodeError::NoPixelData,
        });
    };
    let layout = PixelLayout::from_instance(instance)?;
    layout.check_frame(frame)?;
    let uid = instance.transfer_syntax_uid();
    let encoding = encoding_of(uid).ok_or_else(|| DecodeError::UnsupportedTransferSyntax {
        uid: uid.to_string(),
    })?;
    let in_frame = |reason: String| DecodeError::Frame { frame, reason };
    let (samples, convert_ybr) = match (element.value(), encoding) {
        (Value::Primitive(value), Encoding::Native(order)) => {
            if matches!(
                layout.color_space,
                ColorSpace::YbrPartial420
                    | ColorSpace::YbrPartial422
                    | ColorSpace::YbrIct
                    | ColorSpace::YbrRct
            ) {
                return Err(DecodeError::Unsupported {
                    what: "a compressed-only PhotometricInterpretation on native data".into(),
                });
            }
            let samples = decode_native(value, &layout, order, frame)?;
            let ybr = matches!(
                layout.color_space,
                ColorSpace::YbrFull | ColorSpace::YbrFull422
            );
            (samples, ybr)
        }
        (Value::PixelSequence(seq), encoding) => {
            let extended = extended_offsets(instance);
            let codec = match encoding {
                Encoding::Rle => fragments::Codec::Rle,
                Encoding::Jpeg => fragments::Codec::Jpeg,
                Encoding::JpegLs => fragments::Codec::JpegLs,
                _ => fragments::Codec::Jpeg2000,
            };
            let data = fragments::frame_bytes(
                seq.fragments(),
                seq.offset_table(),
                extended.as_deref(),
                frame,
                layout.number_of_frames,
                codec,
            )?;
            decode_encapsulated(&data, &layout, encoding, frame)?
        }
        (Value::Primitive(_), _) => {
            return Err(in_frame(
                "the transfer syntax is encapsulated but Pixel Data is not".into(),
            ));
        }
        _ => {
            return Err(in_frame(
                "Pixel Data is neither native nor encapsulated".into(),
            ));
        }
    };
    finish(samples, convert_ybr, &layout, frame)
}

/// Decodes one compressed frame given its codestream bytes (all its fragments,
/// concatenated), the instance layout and the transfer syntax UID: the entry point
/// for callers that read fragments themselves.
pub fn decode_codestream(
    data: &[u8],
    layout: &PixelLayout,
    transfer_syntax: &str,
    frame: u32,
) -> Result<Frame, DecodeError> {
    let encoding = match encoding_of(transfer_syntax) {
        Some(Encoding::Native(_)) | None => {
            return Err(DecodeError::UnsupportedTransferSyntax {
                uid: transfer_syntax.to_string(),
            });
        }
        Some(encoding) => encoding,
    };
    let (samples, convert_ybr) = decode_encapsulated(data, layout, encoding, frame)?;
    finish(samples, convert_ybr, layout, frame)
}

/// Final checks, colour conversion and the output frame.
fn finish(
    mut samples: Samples,
    convert_ybr: bool,
    layout: &PixelLayout,
    frame: u32,
) -> Result<Frame, DecodeError> {
    let in_frame = |reason: String| DecodeError::Frame { frame, reason };
    if samples.len() != layout.samples() {
        return Err(in_frame(format!(
            "decoded {} samples, {} expected",
            samples.len(),
            layout.samples()
        )));
    }
    if convert_ybr {
        color::ybr_to_rgb(&mut samples)?;
    }
    Ok(Frame {
        rows: layout.rows,
        columns: layout.columns,
        samples_per_pixel: layout.samples_per_pixel,
        photometric: match layout.color_space {
            ColorSpace::Monochrome1 => Photometric::Monochrome1,
            ColorSpace::Monochrome2 => Photometric::Monochrome2,
            ColorSpace::PaletteColor => Photometric::PaletteColor,
            _ => Photometric::Rgb,
        },
        samples,
    })
}

/// The Extended Offset Table (7FE0,0001), when present and well-formed.
fn extended_offsets(instance: &Instance) -> Option<Vec<u64>> {
    let element = instance.object.get(tags::EXTENDED_OFFSET_TABLE)?;
    let bytes = element.value().to_bytes().ok()?;
    Some(
        bytes
            .as_chunks::<8>()
            .0
            .iter()
            .map(|b| u64::from_le_bytes(*b))
            .collect(),
    )
}

/// Native pixel data: slices frame `frame` out of the parsed value and converts it.
fn decode_native(
    value: &PrimitiveValue,
    layout: &PixelLayout,
    order: ByteOrder,
    frame: u32,
) -> Result<Samples, DecodeError> {
    let frame_bits = layout.native_frame_bits();
    let start_bit = frame_bits
        .checked_mul(u64::from(frame))
        .ok_or(DecodeError::TooLarge {
            bytes: u64::MAX,
            limit: MAX_FRAME_BYTES,
        })?;
    let frame_layout = PixelLayout {
        number_of_frames: 1,
        ..*layout
    };
    // 16-bit samples parsed as OW words: convert straight from the words.
    if let PrimitiveValue::U16(words) = value
        && layout.bits_allocated == 16
        && layout.color_space != ColorSpace::YbrFull422
    {
        let first = (start_bit / 16) as usize;
        let Some(rest) = words.get(first..) else {
            return Err(DecodeError::Truncated {
                needed: start_bit.div_ceil(8) + layout.native_frame_bytes() as u64,
                available: words.len() as u64 * 2,
            });
        };
        return words_to_samples(rest, &frame_layout);
    }
    let bytes: Cow<'_, [u8]> = match value {
        PrimitiveValue::U8(b) => Cow::Borrowed(&b[..]),
        // OW words: rebuild the file's byte stream for this byte order.
        // OW words: 8-bit and 1-bit data are bytes in word order (PS3.5 swaps OW per
        // word under big endian, the parser has undone it); 32-bit values span two
        // words, high word first under big endian.
        PrimitiveValue::U16(w) => Cow::Owned(match order {
            ByteOrder::Big if layout.bits_allocated == 32 => {
                w.iter().flat_map(|x| x.to_be_bytes()).collect()
            }
            _ => w.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }),
        PrimitiveValue::Empty => Cow::Borrowed(&[][..]),
        other => {
            // OL/OF/OD and similar: the parser decoded native values; take their
            // little-endian bytes.
            let bytes = other.to_bytes();
            return native_to_samples(
                bytes.get((start_bit / 8) as usize..).unwrap_or_default(),
                &frame_layout,
                ByteOrder::Little,
            );
        }
    };
    let available = bytes.len() as u64;
    let truncated = || DecodeError::Truncated {
        needed: (start_bit + frame_bits).div_ceil(8),
        available,
    };
    if layout.bits_allocated == 1 {
        return unpack_bits(&bytes, start_bit, layout.samples())
            .map(Samples::U8)
            .map_err(|_| truncated());
    }
    let start = (start_bit / 8) as usize;
    let raw = bytes.get(start..).ok_or_else(truncated)?;
    native_to_samples(raw, &frame_layout, order).map_err(|e| match e {
        DecodeError::Truncated { .. } => truncated(),
        other => other,
    })
}

/// Encapsulated frame: codec, then normalisation. Returns whether YBR -> RGB is due.
fn decode_encapsulated(
    data: &[u8],
    layout: &PixelLayout,
    encoding: Encoding,
    frame: u32,
) -> Result<(Samples, bool), DecodeError> {
    let in_frame = |reason: String| DecodeError::Frame { frame, reason };
    let expected = (layout.rows, layout.columns, layout.samples_per_pixel);
    // Codecs return full-resolution, colour-by-pixel samples whatever the header's
    // subsampling or planar flags say (those describe native encoding only).
    let layout = &PixelLayout {
        planar: false,
        color_space: match layout.color_space {
            ColorSpace::YbrFull422 => ColorSpace::YbrFull,
            other => other,
        },
        ..*layout
    };
    // YBR_FULL(_422) becomes RGB for every codec (OpenJPEG already undoes YBR_ICT and
    // YBR_RCT). Codecs code YCbCr full range whatever the YBR label, so the partial
    // labels convert the same way; an RGB label is trusted (no conversion), as
    // pydicom does.
    let to_rgb = matches!(
        layout.color_space,
        ColorSpace::YbrFull | ColorSpace::YbrPartial420 | ColorSpace::YbrPartial422
    );
    let decoded = match encoding {
        Encoding::Rle => {
            let bytes = rle::decode_frame(data, layout, frame)?;
            let samples = native_to_samples(&bytes, layout, ByteOrder::Little)?;
            return Ok((samples, to_rgb));
        }
        Encoding::Jpeg => jpeg::decode(data, expected, true).map_err(in_frame)?,
        Encoding::JpegLs => jpegls::decode(data, expected).map_err(in_frame)?,
        Encoding::Jpeg2000 => j2k::decode(data, layout).map_err(in_frame)?,
        Encoding::Native(_) => return Err(in_frame("native data in fragments".into())),
    };
    if decoded.width != layout.columns
        || decoded.height != layout.rows
        || decoded.components != layout.samples_per_pixel
    {
        return Err(in_frame(format!(
            "decoded {}x{}x{}, the header says {}x{}x{}",
            decoded.height,
            decoded.width,
            decoded.components,
            layout.rows,
            layout.columns,
            layout.samples_per_pixel
        )));
    }
    let samples = match decoded.samples {
        RawSamples::U8(v)
            if layout.bits_allocated == 8 && !layout.signed && layout.bits_stored == 8 =>
        {
            Samples::U8(v)
        }
        RawSamples::U8(v) => native::from_bits(v.iter().map(|&x| u32::from(x)), layout),
        RawSamples::U16(v) => native::from_bits(v.iter().map(|&x| u32::from(x)), layout),
        RawSamples::Ne16(v) if layout.bits_allocated == 16 => {
            native_to_samples(&v, layout, NATIVE_ORDER)?
        }
        RawSamples::Ne16(v) => native::from_bits(
            v.as_chunks::<2>()
                .0
                .iter()
                .map(|b| u32::from(u16::from_ne_bytes(*b))),
            layout,
        ),
        RawSamples::Ready(samples) => samples,
    };
    Ok((samples, to_rgb))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn frame(samples: Samples) -> Frame {
        Frame {
            rows: 1,
            columns: samples.len() as u32,
            samples_per_pixel: 1,
            photometric: Photometric::Monochrome2,
            samples,
        }
    }

    #[test]
    fn le_bytes_stats_and_hash() {
        let f = frame(Samples::I16(vec![-1, 2, 3]));
        assert_eq!(f.le_bytes(), vec![0xFF, 0xFF, 2, 0, 3, 0]);
        let s = f.stats();
        assert_eq!((s.min, s.max), (-1.0, 3.0));
        assert!((s.mean - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn transfer_syntaxes_map_to_decoders() {
        assert_eq!(
            encoding_of(crate::imaging::file::EXPLICIT_VR_BIG_ENDIAN),
            Some(Encoding::Native(ByteOrder::Big))
        );
        assert_eq!(encoding_of(uids::JPEG_EXTENDED12_BIT), Some(Encoding::Jpeg));
        assert_eq!(encoding_of("1.2.3"), None);
    }
}
