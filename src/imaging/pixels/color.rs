//! Colour-space conversion of decoded frames: YBR_FULL -> RGB.
//!
//! Owns the one YCbCr -> RGB transform used for native, RLE, JPEG, JPEG-LS and JPEG
//! 2000 data alike: ITU-R BT.601 full range as PS3.3 C.7.6.3.1.2 defines YBR_FULL,
//! evaluated in f32 with round-half-up and clamping (the arithmetic pydicom uses, so
//! lossless YBR data hashes identically).

use super::{DecodeError, Samples};

/// Coefficients of the inverse transform (PS3.3 C.7.6.3.1.2).
const CR_R: f32 = 1.402;
const CB_G: f32 = (-0.114 * 1.772 / 0.587) as f32;
const CR_G: f32 = (-0.299 * 1.402 / 0.587) as f32;
const CB_B: f32 = 1.772;

/// Converts one YBR_FULL pixel (8-bit) to RGB.
#[inline]
pub fn ybr_to_rgb_pixel(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let y = f32::from(y);
    let cb = f32::from(cb) - 128.0;
    let cr = f32::from(cr) - 128.0;
    let r = y + cr * CR_R;
    let g = y + cb * CB_G + cr * CR_G;
    let b = y + cb * CB_B;
    [
        round_clamp(r, 255.0),
        round_clamp(g, 255.0),
        round_clamp(b, 255.0),
    ]
    .map(|v| v as u8)
}

#[inline]
fn round_clamp(v: f32, max: f32) -> f32 {
    (v + 0.5).floor().clamp(0.0, max)
}

/// Converts interleaved YBR_FULL samples to RGB in place (8 and 16-bit unsigned).
pub fn ybr_to_rgb(samples: &mut Samples) -> Result<(), DecodeError> {
    match samples {
        Samples::U8(v) => {
            for px in v.as_chunks_mut::<3>().0 {
                *px = ybr_to_rgb_pixel(px[0], px[1], px[2]);
            }
            Ok(())
        }
        Samples::U16(v) => {
            // Same transform around the 16-bit midpoint.
            for px in v.as_chunks_mut::<3>().0 {
                let y = f32::from(px[0]);
                let cb = f32::from(px[1]) - 32768.0;
                let cr = f32::from(px[2]) - 32768.0;
                let max = 65535.0;
                *px = [
                    round_clamp(y + cr * CR_R, max),
                    round_clamp(y + cb * CB_G + cr * CR_G, max),
                    round_clamp(y + cb * CB_B, max),
                ]
                .map(|c| c as u16);
            }
            Ok(())
        }
        _ => Err(DecodeError::Unsupported {
            what: "YBR colour conversion of signed or 32-bit samples".into(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn grey_stays_grey_and_primaries_round_trip() {
        assert_eq!(ybr_to_rgb_pixel(128, 128, 128), [128, 128, 128]);
        assert_eq!(ybr_to_rgb_pixel(0, 128, 128), [0, 0, 0]);
        assert_eq!(ybr_to_rgb_pixel(255, 128, 128), [255, 255, 255]);
        // BT.601 full-range red: Y 76, Cb 85, Cr 255.
        assert_eq!(ybr_to_rgb_pixel(76, 85, 255), [254, 0, 0]);
        // Out-of-gamut values clamp.
        assert_eq!(ybr_to_rgb_pixel(255, 255, 255), [255, 121, 255]);
    }

    #[test]
    fn converts_in_place_and_refuses_signed() {
        let mut s = Samples::U8(vec![128, 128, 128, 0, 128, 128]);
        ybr_to_rgb(&mut s).unwrap();
        assert_eq!(s, Samples::U8(vec![128, 128, 128, 0, 0, 0]));
        assert!(ybr_to_rgb(&mut Samples::I16(vec![0, 0, 0])).is_err());
    }
}
