//! The Image Pixel module values that size and shape a frame, read once and checked.
//!
//! Owns `PixelLayout`: every header value that sizes an allocation is validated here
//! (ranges, products computed with checked arithmetic, a ceiling on the decoded frame
//! size), so decoders can index with the derived sizes without overflow.

use dicom_dictionary_std::tags;

use super::DecodeError;
use crate::imaging::file::{HeaderError, Instance};

/// Largest decoded frame accepted, in bytes (a 16k x 16k RGB 32-bit frame is 3 GiB;
/// nothing clinical comes close to this ceiling).
pub const MAX_FRAME_BYTES: u64 = 1 << 30;

/// Byte order of multi-byte samples in a native (uncompressed) buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

/// Photometric Interpretation as stored in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorSpace {
    Monochrome1,
    Monochrome2,
    PaletteColor,
    Rgb,
    YbrFull,
    YbrFull422,
    YbrPartial422,
    YbrPartial420,
    YbrIct,
    YbrRct,
}

impl ColorSpace {
    /// Parses a Photometric Interpretation value (padding ignored).
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value.trim_matches(|c: char| c == '\0' || c == ' ') {
            "MONOCHROME1" => Self::Monochrome1,
            "MONOCHROME2" => Self::Monochrome2,
            "PALETTE COLOR" => Self::PaletteColor,
            "RGB" => Self::Rgb,
            "YBR_FULL" => Self::YbrFull,
            "YBR_FULL_422" => Self::YbrFull422,
            "YBR_PARTIAL_422" => Self::YbrPartial422,
            "YBR_PARTIAL_420" => Self::YbrPartial420,
            "YBR_ICT" => Self::YbrIct,
            "YBR_RCT" => Self::YbrRct,
            _ => return None,
        })
    }
}

/// Shape and sample format of the frames of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelLayout {
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    /// Pixel Representation 1: two's complement samples.
    pub signed: bool,
    /// Planar Configuration 1: colour-by-plane.
    pub planar: bool,
    pub color_space: ColorSpace,
    pub number_of_frames: u32,
}

impl PixelLayout {
    /// Reads and validates the layout. Rows, Columns and BitsAllocated are required;
    /// SamplesPerPixel (1), BitsStored (BitsAllocated), PixelRepresentation (0),
    /// PlanarConfiguration (0) and PhotometricInterpretation (MONOCHROME2 or RGB)
    /// default when absent.
    pub fn from_instance(instance: &Instance) -> Result<Self, DecodeError> {
        let rows = instance.required_uint(tags::ROWS, "Rows")?;
        let columns = instance.required_uint(tags::COLUMNS, "Columns")?;
        let bits_allocated = instance.required_uint(tags::BITS_ALLOCATED, "BitsAllocated")?;
        let samples = instance
            .uint(tags::SAMPLES_PER_PIXEL, "SamplesPerPixel")?
            .unwrap_or(1);
        let bits_stored = instance
            .uint(tags::BITS_STORED, "BitsStored")?
            .unwrap_or(bits_allocated);
        let representation = instance
            .uint(tags::PIXEL_REPRESENTATION, "PixelRepresentation")?
            .unwrap_or(0);
        let planar = instance
            .uint(tags::PLANAR_CONFIGURATION, "PlanarConfiguration")?
            .unwrap_or(0);
        let frames = instance.number_of_frames()?;
        let color_space = match instance.string(tags::PHOTOMETRIC_INTERPRETATION) {
            Some(value) => ColorSpace::parse(&value).ok_or_else(|| HeaderError::Invalid {
                name: "PhotometricInterpretation",
                value: value.chars().take(32).collect(),
                reason: "not supported",
            })?,
            None if samples == 3 => ColorSpace::Rgb,
            None => ColorSpace::Monochrome2,
        };
        Self::new(
            rows,
            columns,
            samples,
            bits_allocated,
            bits_stored,
            representation,
            planar,
            color_space,
            frames,
        )
    }

    /// Builds a layout from raw header values, validating every one of them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rows: u32,
        columns: u32,
        samples_per_pixel: u32,
        bits_allocated: u32,
        bits_stored: u32,
        pixel_representation: u32,
        planar_configuration: u32,
        color_space: ColorSpace,
        number_of_frames: u32,
    ) -> Result<Self, DecodeError> {
        let bad = |name: &'static str, value: u32, reason: &'static str| {
            DecodeError::Header(HeaderError::Invalid {
                name,
                value: value.to_string(),
                reason,
            })
        };
        if rows == 0 || rows > 65535 {
            return Err(bad("Rows", rows, "must be 1..=65535"));
        }
        if columns == 0 || columns > 65535 {
            return Err(bad("Columns", columns, "must be 1..=65535"));
        }
        if samples_per_pixel != 1 && samples_per_pixel != 3 {
            return Err(bad("SamplesPerPixel", samples_per_pixel, "must be 1 or 3"));
        }
        if !matches!(bits_allocated, 1 | 8 | 16 | 32) {
            return Err(bad(
                "BitsAllocated",
                bits_allocated,
                "must be 1, 8, 16 or 32",
            ));
        }
        if bits_stored == 0 || bits_stored > bits_allocated {
            return Err(bad("BitsStored", bits_stored, "must be 1..=BitsAllocated"));
        }
        if pixel_representation > 1 {
            return Err(bad(
                "PixelRepresentation",
                pixel_representation,
                "must be 0 or 1",
            ));
        }
        if planar_configuration > 1 {
            return Err(bad(
                "PlanarConfiguration",
                planar_configuration,
                "must be 0 or 1",
            ));
        }
        let expected_samples = match color_space {
            ColorSpace::Monochrome1 | ColorSpace::Monochrome2 | ColorSpace::PaletteColor => 1,
            _ => 3,
        };
        if samples_per_pixel != expected_samples {
            return Err(bad(
                "SamplesPerPixel",
                samples_per_pixel,
                "does not match PhotometricInterpretation",
            ));
        }
        let layout = PixelLayout {
            rows,
            columns,
            samples_per_pixel: samples_per_pixel as u16,
            bits_allocated: bits_allocated as u16,
            bits_stored: bits_stored as u16,
            signed: pixel_representation == 1,
            planar: planar_configuration == 1 && samples_per_pixel > 1,
            color_space,
            number_of_frames,
        };
        let decoded = layout.decoded_frame_bytes_u64();
        if decoded > MAX_FRAME_BYTES {
            return Err(DecodeError::TooLarge {
                bytes: decoded,
                limit: MAX_FRAME_BYTES,
            });
        }
        Ok(layout)
    }

    /// Pixels in one frame.
    pub fn pixels(&self) -> usize {
        self.rows as usize * self.columns as usize
    }

    /// Samples in one decoded frame (pixels x samples per pixel).
    pub fn samples(&self) -> usize {
        self.pixels() * usize::from(self.samples_per_pixel)
    }

    /// Bytes of one decoded sample (1-bit data decodes to one byte per pixel).
    pub fn decoded_sample_bytes(&self) -> usize {
        usize::from(self.bits_allocated.div_ceil(8))
    }

    fn decoded_frame_bytes_u64(&self) -> u64 {
        u64::from(self.rows)
            * u64::from(self.columns)
            * u64::from(self.samples_per_pixel)
            * u64::from(self.bits_allocated.div_ceil(8))
    }

    /// Bits one frame occupies in native (uncompressed) encoding. YBR_FULL_422 stores
    /// two samples per pixel (Y Y Cb Cr per pair of pixels).
    pub fn native_frame_bits(&self) -> u64 {
        let samples = if self.color_space == ColorSpace::YbrFull422 {
            u64::from(self.rows) * u64::from(self.columns).div_ceil(2) * 4
        } else {
            u64::from(self.rows) * u64::from(self.columns) * u64::from(self.samples_per_pixel)
        };
        samples * u64::from(self.bits_allocated)
    }

    /// Bytes one frame occupies in native encoding (rounded up for 1-bit data).
    pub fn native_frame_bytes(&self) -> usize {
        // Bounded by MAX_FRAME_BYTES * 8 bits, so it fits usize on 64-bit targets.
        self.native_frame_bits().div_ceil(8) as usize
    }

    /// Total bits all frames need in native encoding, or an error on overflow.
    pub fn native_total_bits(&self) -> Result<u64, DecodeError> {
        self.native_frame_bits()
            .checked_mul(u64::from(self.number_of_frames))
            .ok_or(DecodeError::TooLarge {
                bytes: u64::MAX,
                limit: MAX_FRAME_BYTES,
            })
    }

    /// Checks that `available` native bytes hold every declared frame.
    pub fn check_native_length(&self, available: u64) -> Result<(), DecodeError> {
        let needed = self.native_total_bits()?.div_ceil(8);
        if available < needed {
            return Err(DecodeError::Truncated { needed, available });
        }
        Ok(())
    }

    /// Checks a frame index against NumberOfFrames.
    pub fn check_frame(&self, frame: u32) -> Result<(), DecodeError> {
        if frame >= self.number_of_frames {
            return Err(DecodeError::FrameOutOfRange {
                frame,
                frames: self.number_of_frames,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn mono(rows: u32, cols: u32, bits: u32, frames: u32) -> Result<PixelLayout, DecodeError> {
        PixelLayout::new(
            rows,
            cols,
            1,
            bits,
            bits,
            0,
            0,
            ColorSpace::Monochrome2,
            frames,
        )
    }

    #[test]
    fn rejects_absurd_sizes() {
        assert!(matches!(
            mono(65535, 65535, 32, 1),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(mono(0, 10, 16, 1).is_err());
        assert!(mono(10, 10, 12, 1).is_err());
        assert!(PixelLayout::new(4, 4, 1, 16, 17, 0, 0, ColorSpace::Monochrome2, 1).is_err());
        assert!(PixelLayout::new(4, 4, 3, 8, 8, 0, 0, ColorSpace::Monochrome2, 1).is_err());
    }

    #[test]
    fn frame_sizes_and_totals_are_checked() {
        let l = mono(512, 512, 16, 300).unwrap();
        assert_eq!(l.native_frame_bytes(), 512 * 512 * 2);
        assert!(l.check_native_length(512 * 512 * 2 * 300).is_ok());
        assert!(matches!(
            l.check_native_length(512 * 512 * 2 * 300 - 1),
            Err(DecodeError::Truncated { .. })
        ));
        let huge = mono(32768, 32768, 8, u32::MAX).unwrap();
        assert!(huge.native_total_bits().is_err()); // 2^33 bits x 2^32 frames overflows
        let bits = mono(3, 3, 1, 2).unwrap();
        assert_eq!(bits.native_frame_bits(), 9);
        assert_eq!(bits.native_frame_bytes(), 2);
    }

    #[test]
    fn ybr_422_frames_are_two_thirds() {
        let l = PixelLayout::new(2, 4, 3, 8, 8, 0, 0, ColorSpace::YbrFull422, 1).unwrap();
        assert_eq!(l.native_frame_bytes(), 2 * 4 * 2);
    }
}
