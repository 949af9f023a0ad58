//! Every call into OpenSlide (openslide-rs; the C library is linked dynamically).
//!
//! Owns the OpenSlide handle of one slide: opening, the error mapping, regions as
//! premultiplied RGBA, associated images. An OpenSlide handle that has failed once stays
//! failed, so a failed read reopens the slide and retries once before reporting the
//! error; other threads keep their reference to the old handle until they finish.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use openslide_rs::errors::OpenSlideError;
use openslide_rs::{Address, OpenSlide, Region, Size};

use super::SlideError;

pub(super) struct Handle {
    path: PathBuf,
    current: RwLock<Arc<OpenSlide>>,
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
        let slide = self.get();
        let bgra = match slide.read_region(&region) {
            Ok(b) => b,
            Err(first) => {
                let Some(fresh) = self.reopen(&slide) else {
                    return Err(one_line(&first));
                };
                fresh.read_region(&region).map_err(|e| one_line(&e))?
            }
        };
        Ok(bgra_to_rgba(bgra))
    }

    /// One associated image (label, macro, thumbnail, …) as premultiplied RGBA.
    /// Labels and macros usually show the patient's name: callers show them only on
    /// an explicit request and never put them in thumbnails, exports or logs.
    pub(super) fn associated_rgba(&self, name: &str) -> Result<(u32, u32, Vec<u8>), String> {
        let slide = self.get();
        let (size, bgra) = slide
            .read_associated_buffer(name)
            .map_err(|e| one_line(&e))?;
        Ok((size.w, size.h, bgra_to_rgba(bgra)))
    }
}

/// OpenSlide's native-endian premultiplied ARGB (B, G, R, A bytes on little-endian
/// machines) to premultiplied RGBA bytes, in place.
fn bgra_to_rgba(mut pixels: Vec<u8>) -> Vec<u8> {
    for px in pixels.chunks_exact_mut(4) {
        let argb = u32::from_ne_bytes([px[0], px[1], px[2], px[3]]);
        px.copy_from_slice(&[
            (argb >> 16) as u8,
            (argb >> 8) as u8,
            argb as u8,
            (argb >> 24) as u8,
        ]);
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
