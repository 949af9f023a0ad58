//! Every call into OpenSlide (openslide-rs; the C library is linked dynamically).
//!
//! Owns the OpenSlide handles of one slide: opening, the error mapping, regions as
//! premultiplied RGBA, associated images. Reads through one `openslide_t` do not run in
//! parallel, so each concurrent tile reader borrows a handle of its own from a small pool
//! (opened on first need, at most [`MAX_IDLE_HANDLES`] kept). An OpenSlide handle that
//! has failed once stays failed: a failed read drops its handle, opens a fresh one and
//! retries once before reporting the error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use openslide_rs::errors::OpenSlideError;
use openslide_rs::{Address, OpenSlide, Region, Size};

use super::SlideError;

/// Idle reader handles kept (one per tile worker is what the pool needs).
const MAX_IDLE_HANDLES: usize = 16;

pub(super) struct Handle {
    path: PathBuf,
    /// The first handle: metadata and associated images.
    current: RwLock<Arc<OpenSlide>>,
    /// Handles for tile reads, each used by one thread at a time.
    idle: Mutex<Vec<OpenSlide>>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("openslide::Handle").finish_non_exhaustive()
    }
}

/// The version of the OpenSlide library loaded by this process (e.g. "3.4.1").
pub fn library_version() -> Option<String> {
    OpenSlide::version().ok()
}

impl Handle {
    pub(super) fn open(path: &Path) -> Result<Handle, SlideError> {
        let slide = OpenSlide::new(path).map_err(|e| map_error(e, path))?;
        if slide.level_count() == 0 {
            return Err(SlideError::Unsupported(path.to_owned()));
        }
        Ok(Handle {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(slide)),
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn get(&self) -> Arc<OpenSlide> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces a failed handle by a freshly opened one (unless another thread did).
    fn reopen(&self, failed: &Arc<OpenSlide>) -> Option<Arc<OpenSlide>> {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if Arc::ptr_eq(&guard, failed) {
            let fresh = OpenSlide::new(&self.path).ok()?;
            *guard = Arc::new(fresh);
        }
        Some(Arc::clone(&guard))
    }

    /// `width` x `height` pixels of `level` whose top-left corner is level-0 pixel
    /// (`x0`, `y0`), as premultiplied RGBA (transparent outside the scanned area).
    pub(super) fn read_rgba(
        &self,
        level: u32,
        x0: u32,
        y0: u32,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, String> {
        let region = Region {
            size: Size {
                w: width,
                h: height,
            },
            level,
            address: Address { x: x0, y: y0 },
        };
        let borrowed = self.lock_idle().pop();
        let reader = match borrowed {
            Some(r) => r,
            None => OpenSlide::new(&self.path).map_err(|e| one_line(&e))?,
        };
        let (reader, bgra) = match reader.read_region(&region) {
            Ok(b) => (reader, b),
            Err(first) => {
                // The failed handle stays failed: drop it, retry once with a fresh one.
                drop(reader);
                let fresh = OpenSlide::new(&self.path).map_err(|_| one_line(&first))?;
                let b = fresh.read_region(&region).map_err(|e| one_line(&e))?;
                (fresh, b)
            }
        };
        let mut idle = self.lock_idle();
        if idle.len() < MAX_IDLE_HANDLES {
            idle.push(reader);
        }
        drop(idle);
        Ok(bgra_to_rgba(bgra))
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<OpenSlide>> {
        match self.idle.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// One associated image (label, macro, thumbnail, …) as premultiplied RGBA.
    /// Labels and macros usually show the patient's name: callers show them only on
    /// an explicit request and never put them in thumbnails, exports or logs.
    pub(super) fn associated_rgba(&self, name: &str) -> Result<(u32, u32, Vec<u8>), String> {
        let slide = self.get();
        let (size, bgra) = match slide.read_associated_buffer(name) {
            Ok(r) => r,
            Err(first) => {
                let Some(fresh) = self.reopen(&slide) else {
                    return Err(one_line(&first));
                };
                fresh
                    .read_associated_buffer(name)
                    .map_err(|e| one_line(&e))?
            }
        };
        Ok((size.w, size.h, bgra_to_rgba(bgra)))
    }
}

/// OpenSlide's native-endian premultiplied ARGB words to premultiplied RGBA bytes, in
/// place: on little-endian machines the bytes are B, G, R, A, so B and R swap.
#[cfg(target_endian = "little")]
fn bgra_to_rgba(mut pixels: Vec<u8>) -> Vec<u8> {
    for px in pixels.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
    pixels
}

/// On big-endian machines the bytes are A, R, G, B.
#[cfg(target_endian = "big")]
fn bgra_to_rgba(mut pixels: Vec<u8>) -> Vec<u8> {
    for px in pixels.chunks_exact_mut(4) {
        px.rotate_left(1);
    }
    pixels
}

pub(super) fn map_error(error: OpenSlideError, path: &Path) -> SlideError {
    match error {
        OpenSlideError::MissingFile(_) => SlideError::Missing(path.to_owned()),
        OpenSlideError::UnsupportedFile(_) | OpenSlideError::InvalidPath(_) => {
            SlideError::Unsupported(path.to_owned())
        }
        other => SlideError::Library {
            reason: one_line(&other),
            path: path.to_owned(),
        },
    }
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argb_words_become_rgba_bytes() {
        let word = 0x80_40_20_10u32; // A=0x80, R=0x40, G=0x20, B=0x10
        let rgba = bgra_to_rgba(word.to_ne_bytes().to_vec());
        assert_eq!(rgba, vec![0x40, 0x20, 0x10, 0x80]);
    }
}
