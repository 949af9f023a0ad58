//! The fast path for uncompressed little-endian pixel data: locate Pixel Data from
//! the end of the file, then read the stored bytes straight into the volume
//! buffer (through a small, reused staging buffer), hashing the file on the way.
//!
//! Owns the voxel element types ([`Voxel`]) and the pure native conversion
//! [`native_le_into`]: little-endian stored bytes + layout → samples. That function
//! is the only seam with the pixel module's own native-layout conversion.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_dictionary_std::uids;
use sha2::{Digest, Sha256};

use crate::imaging::discovery::{InstanceInfo, PixelFormat, Signedness};
use crate::imaging::pixels::Samples;

/// Size of the staging buffer each decoding thread reuses (a multiple of 4).
pub const STAGING_BYTES: usize = 256 * 1024;

/// A stored sample type of a volume buffer (one per [`Samples`] variant).
pub trait Voxel: bytemuck::Pod + Default + PartialOrd + Send + Sync + 'static {
    const BYTES: usize;
    /// One sample from `BYTES` little-endian bytes, keeping the low `bits_stored`
    /// bits (sign-extended when `signed`).
    fn from_le_stored(bytes: &[u8], bits_stored: u32, signed: bool) -> Self;
    fn frame_samples(samples: &Samples) -> Option<&[Self]>;
    fn wrap(values: Vec<Self>) -> Samples;
}

macro_rules! voxel {
    ($t:ty, $u:ty, $variant:ident, $bytes:literal) => {
        impl Voxel for $t {
            const BYTES: usize = $bytes;

            #[inline]
            fn from_le_stored(bytes: &[u8], bits_stored: u32, signed: bool) -> Self {
                let Some(raw) = bytes.first_chunk::<$bytes>() else {
                    return Self::default();
                };
                let raw = <$u>::from_le_bytes(*raw);
                let width = <$u>::BITS;
                if bits_stored >= width || bits_stored == 0 {
                    return raw as $t;
                }
                let shift = width - bits_stored;
                if signed {
                    // Sign-extend from bit `bits_stored - 1`.
                    ((raw << shift) as $t) >> shift
                } else {
                    (raw & (<$u>::MAX >> shift)) as $t
                }
            }

            fn frame_samples(samples: &Samples) -> Option<&[Self]> {
                match samples {
                    Samples::$variant(v) => Some(v),
                    _ => None,
                }
            }

            fn wrap(values: Vec<Self>) -> Samples {
                Samples::$variant(values)
            }
        }
    };
}

voxel!(u8, u8, U8, 1);
voxel!(i8, u8, I8, 1);
voxel!(u16, u16, U16, 2);
voxel!(i16, u16, I16, 2);
voxel!(u32, u32, U32, 4);
voxel!(i32, u32, I32, 4);

/// Converts native little-endian stored bytes to samples (masking or sign-extending
/// from BitsStored). `bytes` holds `out.len() * T::BYTES` bytes.
pub fn native_le_into<T: Voxel>(bytes: &[u8], layout: &PixelFormat, out: &mut [T]) {
    let signed = layout.signedness == Signedness::Signed;
    let bits = u32::from(layout.bits_stored);
    for (o, c) in out.iter_mut().zip(bytes.chunks_exact(T::BYTES)) {
        *o = T::from_le_stored(c, bits, signed);
    }
}

/// Whether Pixel Data of `info` can be read natively: uncompressed little endian,
/// interleaved, whole-byte samples, BitsStored from bit 0.
pub fn native_encoding(info: &InstanceInfo) -> Option<VrEncoding> {
    let vr = match info.transfer_syntax_uid.as_str() {
        uids::EXPLICIT_VR_LITTLE_ENDIAN => VrEncoding::Explicit,
        uids::IMPLICIT_VR_LITTLE_ENDIAN => VrEncoding::Implicit,
        _ => return None,
    };
    let l = &info.pixel_format;
    let photometric_ok = matches!(
        l.photometric.as_str(),
        "MONOCHROME1" | "MONOCHROME2" | "PALETTE COLOR" | "RGB"
    );
    let ok = photometric_ok
        && matches!(l.bits_allocated, 8 | 16 | 32)
        && l.bits_stored >= 1
        && l.high_bit.checked_add(1) == Some(l.bits_stored)
        && (l.samples_per_pixel == 1 || l.planar_configuration == 0);
    ok.then_some(vr)
}

/// Element header length in front of Pixel Data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrEncoding {
    /// tag, VR, 2 reserved bytes, 32-bit length: 12 bytes.
    Explicit,
    /// tag, 32-bit length: 8 bytes.
    Implicit,
}

impl VrEncoding {
    fn header_len(self) -> u64 {
        match self {
            VrEncoding::Explicit => 12,
            VrEncoding::Implicit => 8,
        }
    }

    /// Whether `header` is a Pixel Data element header of `value_len` bytes.
    fn matches(self, header: &[u8], value_len: u64) -> bool {
        let Ok(len) = u32::try_from(value_len) else {
            return false;
        };
        let len = len.to_le_bytes();
        match (self, header) {
            (VrEncoding::Explicit, [0xE0, 0x7F, 0x10, 0x00, b'O', b'W' | b'B', 0, 0, l @ ..]) => {
                l == len
            }
            (VrEncoding::Implicit, [0xE0, 0x7F, 0x10, 0x00, l @ ..]) => l == len,
            _ => false,
        }
    }
}

/// Length of the Pixel Data value of `info` when stored natively (even-padded).
pub fn native_value_len(info: &InstanceInfo) -> Option<u64> {
    let frame = info
        .pixel_format
        .native_frame_bytes(info.rows, info.columns)?;
    let total = frame.checked_mul(u64::from(info.number_of_frames))?;
    total.checked_add(total % 2)
}

/// Where Pixel Data starts in an open file, when it is the last element with the
/// expected header; `None` sends the caller to the full decode.
pub fn locate_pixel_data(file: &mut File, info: &InstanceInfo, vr: VrEncoding) -> Option<u64> {
    let file_len = file.metadata().ok()?.len();
    let value_len = native_value_len(info)?;
    let offset = file_len.checked_sub(value_len)?;
    let header_start = offset.checked_sub(vr.header_len())?;
    let mut header = [0u8; 12];
    let header = header.get_mut(..vr.header_len() as usize)?;
    file.seek(SeekFrom::Start(header_start)).ok()?;
    file.read_exact(header).ok()?;
    vr.matches(header, value_len).then_some(offset)
}

/// The outcome of reading one single-frame file.
pub struct SingleRead {
    /// SHA-256 (hex) of the whole file, or why it could not be read; `None` when
    /// the read did not hash (and succeeded).
    pub sha256: Option<Result<String, String>>,
    /// `true` when the pixels are in `out`; `false` when the file needs the full
    /// decode (not native, or Pixel Data not where expected).
    pub pixels_done: bool,
}

/// Reads a single-frame file once, front to back: with `hash`, hashes every byte and,
/// when Pixel Data is native and last, converts it into `out` on the way. Without
/// `hash`, reads only the Pixel Data value (when native and last).
pub fn read_single<T: Voxel>(
    path: &Path,
    info: &InstanceInfo,
    out: &mut [T],
    staging: &mut [u8],
    hash: bool,
) -> SingleRead {
    if !hash {
        return match read_pixels_only(path, info, out, staging) {
            Ok(pixels_done) => SingleRead {
                sha256: None,
                pixels_done,
            },
            Err(e) => SingleRead {
                sha256: Some(Err(format!("cannot read file: {e}"))),
                pixels_done: false,
            },
        };
    }
    let mut hasher = Sha256::new();
    let result = read_single_inner(path, info, out, staging, &mut hasher);
    match result {
        Ok(pixels_done) => SingleRead {
            sha256: Some(Ok(crate::imaging::discovery::hex(&hasher.finalize()))),
            pixels_done,
        },
        Err(e) => SingleRead {
            sha256: Some(Err(format!("cannot read file: {e}"))),
            pixels_done: false,
        },
    }
}

/// The fast path without hashing: seek to native Pixel Data and convert it into `out`.
/// `Ok(false)` when the file needs the full decode.
fn read_pixels_only<T: Voxel>(
    path: &Path,
    info: &InstanceInfo,
    out: &mut [T],
    staging: &mut [u8],
) -> std::io::Result<bool> {
    let mut file = File::open(path)?;
    let offset = native_encoding(info)
        .filter(|_| info.number_of_frames == 1)
        .and_then(|vr| locate_pixel_data(&mut file, info, vr));
    let Some(offset) = offset else {
        return Ok(false);
    };
    file.seek(SeekFrom::Start(offset))?;
    convert_pixel_value(&mut file, info, out, staging, None)
}

/// Reads the Pixel Data value at the current position into `out` in whole staging
/// chunks, hashing what it reads when given a hasher. `Ok(false)`: staging too small.
fn convert_pixel_value<T: Voxel>(
    file: &mut File,
    info: &InstanceInfo,
    out: &mut [T],
    staging: &mut [u8],
    mut hasher: Option<&mut Sha256>,
) -> std::io::Result<bool> {
    // Every bit stored and a little-endian host: the file's bytes are the samples, so
    // read them straight into the volume (no staging copy).
    if cfg!(target_endian = "little") && usize::from(info.pixel_format.bits_stored) >= T::BYTES * 8
    {
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
        file.read_exact(bytes)?;
        if let Some(hasher) = hasher {
            hasher.update(&*bytes);
        }
        return Ok(true);
    }
    let chunk_samples = (staging.len() / T::BYTES).max(1);
    for out_chunk in out.chunks_mut(chunk_samples) {
        let n = out_chunk.len() * T::BYTES;
        let Some(bytes) = staging.get_mut(..n) else {
            return Ok(false);
        };
        file.read_exact(bytes)?;
        if let Some(hasher) = hasher.as_deref_mut() {
            hasher.update(&*bytes);
        }
        native_le_into(bytes, &info.pixel_format, out_chunk);
    }
    Ok(true)
}

fn read_single_inner<T: Voxel>(
    path: &Path,
    info: &InstanceInfo,
    out: &mut [T],
    staging: &mut [u8],
    hasher: &mut Sha256,
) -> std::io::Result<bool> {
    let mut file = File::open(path)?;
    let offset = native_encoding(info)
        .filter(|_| info.number_of_frames == 1)
        .and_then(|vr| locate_pixel_data(&mut file, info, vr));
    file.seek(SeekFrom::Start(0))?;
    let Some(offset) = offset else {
        hash_to_end(&mut file, staging, hasher)?;
        return Ok(false);
    };
    hash_exact(&mut file, offset, staging, hasher)?;

    // Pixel Data value, then the padding byte and anything after it.
    if !convert_pixel_value(&mut file, info, out, staging, Some(&mut *hasher))? {
        return Ok(false);
    }
    hash_to_end(&mut file, staging, hasher)?;
    Ok(true)
}

/// Hashes exactly `len` bytes from the current position.
fn hash_exact(
    file: &mut File,
    len: u64,
    staging: &mut [u8],
    hasher: &mut Sha256,
) -> std::io::Result<()> {
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(staging.len());
        let Some(buf) = staging.get_mut(..n) else {
            break;
        };
        file.read_exact(buf)?;
        hasher.update(&*buf);
        left -= n as u64;
    }
    Ok(())
}

/// Hashes everything from the current position to the end of the file.
pub fn hash_to_end(
    file: &mut File,
    staging: &mut [u8],
    hasher: &mut Sha256,
) -> std::io::Result<()> {
    loop {
        let n = file.read(staging)?;
        let Some(buf) = staging.get(..n).filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        hasher.update(buf);
    }
}

/// Reads frame `frame` of a native multi-frame file whose Pixel Data starts at
/// `offset` into `out`.
pub fn read_frame<T: Voxel>(
    path: &Path,
    info: &InstanceInfo,
    offset: u64,
    frame: u32,
    out: &mut [T],
    staging: &mut [u8],
) -> Result<(), String> {
    let frame_bytes = (out.len() * T::BYTES) as u64;
    let start = frame_bytes
        .checked_mul(u64::from(frame))
        .and_then(|f| f.checked_add(offset))
        .ok_or_else(|| format!("frame {frame} offset overflows"))?;
    let mut file = File::open(path).map_err(|e| format!("cannot open file: {e}"))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot seek to frame {frame}: {e}"))?;
    let chunk_samples = (staging.len() / T::BYTES).max(1);
    for out_chunk in out.chunks_mut(chunk_samples) {
        let n = out_chunk.len() * T::BYTES;
        let bytes = staging
            .get_mut(..n)
            .ok_or_else(|| "staging buffer too small".to_string())?;
        file.read_exact(bytes)
            .map_err(|e| format!("cannot read frame {frame}: {e}"))?;
        native_le_into(bytes, &info.pixel_format, out_chunk);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_bits_masked_and_sign_extended() {
        // 12 bits stored in 16: 0xF800 has junk in the top nibble.
        assert_eq!(u16::from_le_stored(&[0x00, 0xF8], 12, false), 0x0800);
        assert_eq!(i16::from_le_stored(&[0x00, 0xF8], 12, true), -2048);
        assert_eq!(i16::from_le_stored(&[0xFF, 0x07], 12, true), 2047);
        assert_eq!(i16::from_le_stored(&[0x00, 0x80], 16, true), i16::MIN);
        assert_eq!(u8::from_le_stored(&[0xFF], 8, false), 255);
        assert_eq!(i32::from_le_stored(&[0xFF, 0xFF, 0xFF, 0xFF], 32, true), -1);
    }

    #[test]
    fn element_headers() {
        let len = 8192u64;
        let mut explicit = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0];
        explicit.extend_from_slice(&(len as u32).to_le_bytes());
        assert!(VrEncoding::Explicit.matches(&explicit, len));
        assert!(!VrEncoding::Explicit.matches(&explicit, len + 2));
        let mut implicit = vec![0xE0, 0x7F, 0x10, 0x00];
        implicit.extend_from_slice(&(len as u32).to_le_bytes());
        assert!(VrEncoding::Implicit.matches(&implicit, len));
        assert!(!VrEncoding::Explicit.matches(&implicit, len));
    }
}
