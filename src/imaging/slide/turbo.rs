//! libjpeg-turbo's TurboJPEG API for slide tiles: the decoder OpenSlide itself reaches
//! through libjpeg, with its SIMD paths (about a fifth faster than zune-jpeg on the
//! harness slide's tiles here). Linked statically from the system's `libturbojpeg.a`
//! (Debian: libturbojpeg0-dev; `build.rs`), so the program gains no runtime library.
//!
//! Owns the crate's second `unsafe` exception (ARCHITECTURE.md, "unsafe"): five foreign
//! functions, one handle per thread. Every call passes buffers whose sizes come from
//! Rust slices, and the output buffer is sized from the header, checked first.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_uchar, c_ulong, c_void};
use std::ptr::NonNull;

unsafe extern "C" {
    fn tjInitDecompress() -> *mut c_void;
    fn tjDestroy(handle: *mut c_void) -> c_int;
    fn tjDecompressHeader3(
        handle: *mut c_void,
        jpeg_buf: *const c_uchar,
        jpeg_size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        subsamp: *mut c_int,
        colorspace: *mut c_int,
    ) -> c_int;
    fn tjDecompress2(
        handle: *mut c_void,
        jpeg_buf: *const c_uchar,
        jpeg_size: c_ulong,
        dst_buf: *mut c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjGetErrorStr2(handle: *mut c_void) -> *mut c_char;
}

/// `TJCS_YCbCr`: the stream's components are YCbCr (converted to RGB on output).
const TJCS_YCBCR: c_int = 1;
/// `TJPF_RGBA`: four bytes per pixel, alpha 255.
const TJPF_RGBA: c_int = 7;
/// `TJFLAG_STOPONWARNING`: damaged data is an error, not a partly grey tile.
const TJFLAG_STOPONWARNING: c_int = 8192;

/// A stream's frame: size and whether its components are YCbCr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub width: usize,
    pub height: usize,
    pub ycbcr: bool,
}

/// One TurboJPEG decompressor (not shared between threads: the handle keeps state).
struct Decompressor(NonNull<c_void>);

impl Decompressor {
    fn new() -> Option<Decompressor> {
        // SAFETY: no arguments; returns a new handle or null (out of memory).
        NonNull::new(unsafe { tjInitDecompress() }).map(Decompressor)
    }

    /// The library's message for the last failure on this handle, on one line.
    fn error(&self) -> String {
        // SAFETY: the handle is live; the returned string is owned by the handle (or
        // static) and valid until the next call on it, and is copied out at once.
        let message = unsafe { tjGetErrorStr2(self.0.as_ptr()) };
        if message.is_null() {
            return "unknown TurboJPEG error".into();
        }
        // SAFETY: non-null and NUL-terminated, as TurboJPEG documents.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        text.replace(['\n', '\r'], " ")
    }

    fn header(&mut self, stream: &[u8]) -> Result<Header, String> {
        let size = c_ulong::try_from(stream.len()).map_err(|_| "JPEG stream too large")?;
        let (mut w, mut h, mut subsamp, mut colorspace) = (0, 0, 0, 0);
        // SAFETY: `stream` is a live slice of `size` bytes, read only; the four out
        // pointers point at locals.
        let rc = unsafe {
            tjDecompressHeader3(
                self.0.as_ptr(),
                stream.as_ptr(),
                size,
                &mut w,
                &mut h,
                &mut subsamp,
                &mut colorspace,
            )
        };
        if rc != 0 {
            return Err(self.error());
        }
        match (usize::try_from(w), usize::try_from(h)) {
            (Ok(width), Ok(height)) if width > 0 && height > 0 => Ok(Header {
                width,
                height,
                ycbcr: colorspace == TJCS_YCBCR,
            }),
            _ => Err(format!("JPEG frame {w}x{h}")),
        }
    }

    /// The whole frame as RGBA; `header` is this stream's, from [`Self::header`].
    fn decode(&mut self, stream: &[u8], header: Header) -> Result<Vec<u8>, String> {
        let size = c_ulong::try_from(stream.len()).map_err(|_| "JPEG stream too large")?;
        let (Ok(w), Ok(h)) = (
            c_int::try_from(header.width),
            c_int::try_from(header.height),
        ) else {
            return Err("JPEG frame too large".into());
        };
        let mut out = vec![0u8; header.width * header.height * 4];
        // SAFETY: `stream` is read only, `size` bytes. `out` holds width * height * 4
        // bytes, and TurboJPEG writes at most `height` rows of at most `width` RGBA
        // pixels, `width * 4` bytes apart (pitch 0): it fits the frame into the given
        // size, scaling down, never up (here the header's own size: no scaling).
        let rc = unsafe {
            tjDecompress2(
                self.0.as_ptr(),
                stream.as_ptr(),
                size,
                out.as_mut_ptr(),
                w,
                0,
                h,
                TJPF_RGBA,
                TJFLAG_STOPONWARNING,
            )
        };
        if rc != 0 {
            return Err(self.error());
        }
        Ok(out)
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInitDecompress and is destroyed once.
        unsafe {
            tjDestroy(self.0.as_ptr());
        }
    }
}

thread_local! {
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's decompressor (made on first use).
fn with_decompressor<T>(
    f: impl FnOnce(&mut Decompressor) -> Result<T, String>,
) -> Result<T, String> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| "TurboJPEG handle in use")?;
        if slot.is_none() {
            *slot = Some(Decompressor::new().ok_or("cannot start a TurboJPEG decompressor")?);
        }
        match slot.as_mut() {
            Some(d) => f(d),
            None => Err("cannot start a TurboJPEG decompressor".into()),
        }
    })
}

/// The whole frame of a YCbCr `stream` as opaque RGBA, with its size; `Ok(None)` when
/// its components are not YCbCr (the caller's other decoder applies its colour rule).
/// Frames wider or taller than `max_side` are refused before anything is allocated.
pub fn decode_ycbcr_rgba(
    stream: &[u8],
    max_side: usize,
) -> Result<Option<(Header, Vec<u8>)>, String> {
    with_decompressor(|d| {
        let header = d.header(stream)?;
        if header.width > max_side || header.height > max_side {
            return Err(format!(
                "JPEG frame {}x{} is larger than the {max_side}-pixel tile",
                header.width, header.height
            ));
        }
        if !header.ycbcr {
            return Ok(None);
        }
        Ok(Some((header, d.decode(stream, header)?)))
    })
}
