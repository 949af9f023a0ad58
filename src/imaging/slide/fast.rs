//! The fast path: JPEG tiles of plain tiled TIFF levels read straight from the file
//! and decoded here, without OpenSlide.
//!
//! Owns deciding which levels qualify (only for OpenSlide's "generic-tiff" and "aperio"
//! formats, whose levels are exactly the file's tiled directories) and reading one
//! tile: one positioned read of its bytes, the JPEGTables spliced in, zune-jpeg.
//! Anything unusual (other compressions, planar or non-8-bit data, odd orientation,
//! geometry that disagrees with OpenSlide) leaves that level to OpenSlide.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::jpeg::{self, TileColour};
use super::tiff::{self, Directory};

/// OpenSlide formats whose levels are plain tiled TIFF directories.
const FAST_VENDORS: [&str; 2] = ["generic-tiff", "aperio"];
/// The largest compressed tile we read (a 1024² tile at quality 100 is ~3 MB).
const MAX_TILE_BYTES: u64 = 32 << 20;
/// The largest tile side we decode.
const MAX_TILE_SIDE: u64 = 4096;

/// What OpenSlide says one level is; the fast path must agree with it.
#[derive(Clone, Copy, Debug)]
pub(super) struct ExpectedLevel {
    pub width: u64,
    pub height: u64,
}

#[derive(Debug)]
pub(super) struct FastLevel {
    pub tile_width: u32,
    pub tile_height: u32,
    across: u64,
    offsets: Vec<u64>,
    byte_counts: Vec<u64>,
    tables: Option<Vec<u8>>,
    colour: TileColour,
}

#[derive(Debug)]
pub(super) struct FastTiff {
    file: File,
    file_len: u64,
    /// One entry per OpenSlide level; `None`: that level goes through OpenSlide.
    pub levels: Vec<Option<FastLevel>>,
}

impl FastTiff {
    /// The fast reader for the levels that qualify, or `None` when none do (or the
    /// file is not a TIFF at all).
    pub(super) fn open(path: &Path, vendor: &str, expected: &[ExpectedLevel]) -> Option<FastTiff> {
        if !FAST_VENDORS.contains(&vendor) {
            return None;
        }
        let file = File::open(path).ok()?;
        let file_len = file.metadata().ok()?.len();
        let dirs = tiff::read_directories(&file).ok()?;
        let mut used = vec![false; dirs.len()];
        let levels: Vec<Option<FastLevel>> = expected
            .iter()
            .map(|want| {
                let k = dirs.iter().enumerate().position(|(k, d)| {
                    !used[k] && d.is_tiled() && d.width == want.width && d.height == want.height
                })?;
                used[k] = true;
                FastLevel::from_directory(&dirs[k], file_len)
            })
            .collect();
        if levels.iter().all(Option::is_none) {
            return None;
        }
        Some(FastTiff {
            file,
            file_len,
            levels,
        })
    }

    /// Tile (`col`, `row`) of `level`, cropped to the level's edge, as opaque RGBA;
    /// `Ok(None)` for a tile the file stores no data for (shown transparent).
    pub(super) fn read_tile(
        &self,
        level: usize,
        col: u64,
        row: u64,
        width: u32,
        height: u32,
    ) -> Result<Option<Vec<u8>>, String> {
        let Some(Some(l)) = self.levels.get(level) else {
            return Err("level is not on the fast path".into());
        };
        let index = row
            .checked_mul(l.across)
            .and_then(|i| i.checked_add(col))
            .filter(|_| col < l.across)
            .ok_or("tile outside the level")? as usize;
        let (Some(&offset), Some(&len)) = (l.offsets.get(index), l.byte_counts.get(index)) else {
            return Err("tile outside the level".into());
        };
        if len == 0 {
            return Ok(None);
        }
        if len > MAX_TILE_BYTES || offset.checked_add(len).is_none_or(|e| e > self.file_len) {
            return Err("tile data lies past the end of the file".into());
        }
        let mut bytes = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|e| format!("cannot read tile data: {e}"))?;
        let stream = jpeg::with_tables(l.tables.as_deref(), &bytes).map_err(|e| e.to_string())?;
        let side = u64::from(l.tile_width.max(l.tile_height)) as usize;
        jpeg::decode_rgba(&stream, l.colour, width as usize, height as usize, side)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

impl FastLevel {
    fn from_directory(d: &Directory, file_len: u64) -> Option<FastLevel> {
        let (tw, th) = (d.tile_width?, d.tile_height?);
        let plain = d.compression == 7
            && d.samples_per_pixel == 3
            && d.bits_per_sample.iter().all(|b| *b == 8)
            && d.planar == 1
            && d.orientation == 1
            && d.sample_format == 1
            && d.image_depth == 1
            && (16..=MAX_TILE_SIDE).contains(&tw)
            && (16..=MAX_TILE_SIDE).contains(&th)
            && tw % 16 == 0
            && th % 16 == 0;
        let colour = match d.photometric {
            Some(2) => TileColour::Rgb,
            Some(6) => TileColour::YCbCr,
            _ => return None,
        };
        let (across, down) = d.tile_grid();
        let tiles = across.checked_mul(down)?;
        if !plain
            || tiles == 0
            || d.offsets.len() as u64 != tiles
            || d.byte_counts.len() as u64 != tiles
            || d.offsets.iter().any(|o| *o > file_len)
        {
            return None;
        }
        Some(FastLevel {
            tile_width: u32::try_from(tw).ok()?,
            tile_height: u32::try_from(th).ok()?,
            across,
            offsets: d.offsets.clone(),
            byte_counts: d.byte_counts.clone(),
            tables: d.jpeg_tables.clone(),
            colour,
        })
    }
}
