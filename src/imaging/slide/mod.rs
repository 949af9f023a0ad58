//! Whole-slide images: opening a slide, what it is, and its tiles.
//!
//! Owns reading slides (never writing them) and the tile pipeline the viewer and
//! `tessera bench tiles` share:
//! - [`Slide`]: OpenSlide for every format it knows (levels, downsamples, tile sizes,
//!   properties, associated images) plus, for plain tiled TIFF levels (generic TIFF,
//!   Aperio SVS with JPEG tiles), a fast path that reads the compressed tile bytes and
//!   decodes them here (`fast`, `tiff`, `jpeg`). Both give premultiplied RGBA tiles on
//!   the same grid (each level's own tile size).
//! - [`cover`]: pure math from a view (centre, zoom, screen size) to the level and tiles
//!   to show, the tiles to prefetch, and the draw order with coarser stand-ins.
//! - [`cache`]: the decoded-tile LRU, bounded in bytes.
//! - [`pool`]: worker threads with priorities and cancellation, filling the cache.
//! - [`synth`]: the generated, tissue-like pyramidal TIFF (demo and tests).
//!
//! Headless: never imports egui, eframe or wgpu. Patient data: label and macro images
//! usually show the patient's name, and vendor properties (barcodes, file names,
//! operators) may identify them, so [`SlideInfo::properties`] keeps only an allowlist,
//! associated images are read only through [`Slide::associated_image`] (for an
//! explicit request), and nothing here logs properties or pixels.

pub mod cache;
pub mod cover;
mod fast;
mod jpeg;
mod openslide;
pub mod pool;
pub mod synth;
mod tiff;
mod turbo;

use std::path::{Path, PathBuf};

pub use openslide::library_version;

use fast::{ExpectedLevel, FastTiff};

/// Why a slide could not be opened. One line; the path comes last.
#[derive(Debug, thiserror::Error)]
pub enum SlideError {
    #[error("no such file: {}", .0.display())]
    Missing(PathBuf),
    #[error("not a slide format OpenSlide can read: {}", .0.display())]
    Unsupported(PathBuf),
    #[error("OpenSlide cannot read the slide ({reason}): {}", path.display())]
    Library { reason: String, path: PathBuf },
    #[error("the slide's geometry is unusable ({reason}): {}", path.display())]
    Geometry { reason: String, path: PathBuf },
}

/// Which reader tiles come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TilePath {
    /// Compressed tile bytes read from the TIFF and decoded here.
    Fast,
    /// OpenSlide's `read_region`.
    #[serde(rename = "openslide")]
    OpenSlide,
}

/// Which readers a [`Slide`] may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathChoice {
    /// The fast path wherever a level qualifies, OpenSlide elsewhere.
    Auto,
    /// OpenSlide for every level (comparisons, benchmarks, distrust of the fast path).
    OpenSlideOnly,
}

/// One level of the pyramid as the tile pipeline sees it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Level {
    pub width: u64,
    pub height: u64,
    /// Level-0 pixels per pixel of this level (OpenSlide's figure).
    pub downsample: f64,
    /// The tile grid: the file's own tile size where known, else 256.
    pub tile_width: u32,
    pub tile_height: u32,
    pub path: TilePath,
}

impl Level {
    /// Tiles across and down.
    pub fn tile_grid(&self) -> (u64, u64) {
        (
            self.width.div_ceil(u64::from(self.tile_width)),
            self.height.div_ceil(u64::from(self.tile_height)),
        )
    }
}

/// What a slide is: PHI-free (safe to show, print and log).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SlideInfo {
    /// OpenSlide's format name ("aperio", "generic-tiff", …).
    pub vendor: String,
    /// Finest (level 0) first.
    pub levels: Vec<Level>,
    /// Level-0 pixel size in micrometres, when the file says.
    pub mpp_x: Option<f64>,
    pub mpp_y: Option<f64>,
    /// The scanner objective's magnification at level 0 (20, 40), when the file says.
    pub objective_power: Option<f64>,
    /// Allowlisted properties (geometry, resolution, scanner model), sorted by name.
    pub properties: Vec<(String, String)>,
    /// How many other properties the file has (not shown: they may identify the patient).
    pub withheld_properties: usize,
    /// Names of the associated images ("label", "macro", "thumbnail", …), not their pixels.
    pub associated_images: Vec<String>,
}

/// A tile of the pipeline's grid: `level`, column, row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileKey {
    pub level: u32,
    pub col: u32,
    pub row: u32,
}

/// One decoded tile. Edge tiles are cropped to the level (smaller than the grid size).
#[derive(Clone, Debug, PartialEq)]
pub struct Tile {
    pub key: TileKey,
    pub width: u32,
    pub height: u32,
    pub content: TileContent,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TileContent {
    /// `width * height` opaque RGB pixels (3/4 of the memory of RGBA; the viewer widens
    /// them as it uploads).
    Rgb(Vec<u8>),
    /// `width * height` premultiplied RGBA pixels (transparent where nothing was scanned).
    Rgba(Vec<u8>),
    /// The tile could not be read: drawn as a marked blank tile with this one-line reason.
    Blank { reason: String },
}

impl Tile {
    /// What the tile costs in the cache (pixels plus bookkeeping).
    pub fn cost_bytes(&self) -> usize {
        let payload = match &self.content {
            TileContent::Rgb(px) | TileContent::Rgba(px) => px.len(),
            TileContent::Blank { reason } => reason.len(),
        };
        payload + std::mem::size_of::<Tile>() + 64
    }
}

impl Tile {
    /// The pixels as premultiplied RGBA (a copy for RGB tiles); `None` for blank tiles.
    pub fn rgba(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match &self.content {
            TileContent::Rgba(px) => Some(std::borrow::Cow::Borrowed(px)),
            TileContent::Rgb(px) => {
                let mut out = Vec::with_capacity(px.len() / 3 * 4);
                widen_rgb(px, &mut out);
                Some(std::borrow::Cow::Owned(out))
            }
            TileContent::Blank { .. } => None,
        }
    }
}

/// Appends opaque RGB pixels to `out` as RGBA (alpha 255): the one widening of slide
/// pixels (decoder output, cached RGB tiles, uploads).
pub fn widen_rgb(rgb: &[u8], out: &mut Vec<u8>) {
    out.reserve(rgb.len() / 3 * 4);
    for p in rgb.chunks_exact(3) {
        out.extend_from_slice(&[p[0], p[1], p[2], 255]);
    }
}

/// Properties shown to users. Anything else (comments, image descriptions, barcodes,
/// file names, dates, operators) may identify the patient and is withheld.
fn is_shown_property(name: &str) -> bool {
    const EXACT: [&str; 16] = [
        "openslide.vendor",
        "openslide.mpp-x",
        "openslide.mpp-y",
        "openslide.objective-power",
        "openslide.level-count",
        "openslide.background-color",
        "openslide.bounds-x",
        "openslide.bounds-y",
        "openslide.bounds-width",
        "openslide.bounds-height",
        "tiff.Make",
        "tiff.Model",
        "tiff.Software",
        "tiff.ResolutionUnit",
        "tiff.XResolution",
        "tiff.YResolution",
    ];
    const VENDOR: [&str; 3] = ["aperio.AppMag", "aperio.MPP", "aperio.OriginalWidth"];
    EXACT.contains(&name) || VENDOR.contains(&name) || name.starts_with("openslide.level[")
}

/// An open slide. Cheap to share between threads (`Arc<Slide>`); reads are `&self`.
pub struct Slide {
    path: PathBuf,
    info: SlideInfo,
    openslide: openslide::Handle,
    fast: Option<FastTiff>,
}

impl std::fmt::Debug for Slide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slide")
            .field("vendor", &self.info.vendor)
            .field("levels", &self.info.levels.len())
            .finish_non_exhaustive()
    }
}

/// Whether `path` looks like a slide rather than DICOM: a slide extension, or a TIFF
/// header. Reads at most the first 4 bytes.
pub fn looks_like_slide(path: &Path) -> bool {
    const EXTENSIONS: [&str; 10] = [
        "svs", "tif", "tiff", "ndpi", "vms", "vmu", "scn", "mrxs", "svslide", "bif",
    ];
    if !path.is_file() {
        return false;
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
        return true;
    }
    let mut head = [0u8; 4];
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    use std::os::unix::fs::FileExt;
    file.read_exact_at(&mut head, 0).is_ok()
        && matches!(head, [b'I', b'I', 42 | 43, 0] | [b'M', b'M', 0, 42 | 43])
}

impl Slide {
    /// Opens a slide with OpenSlide, and the fast path where `choice` allows and the
    /// file qualifies.
    pub fn open(path: &Path, choice: PathChoice) -> Result<Slide, SlideError> {
        let handle = openslide::Handle::open(path)?;
        let os = handle.get();
        let prop = |name: &str| os.property_value(name).ok();
        let number = |name: &str| {
            prop(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let vendor = prop("openslide.vendor").unwrap_or_else(|| "unknown".into());
        let dims = os.all_level_dimensions();
        let downsamples = os.all_level_downsamples();
        let geometry = |reason: &str| SlideError::Geometry {
            reason: reason.to_owned(),
            path: path.to_owned(),
        };
        if dims.is_empty() || dims.len() != downsamples.len() {
            return Err(geometry("no levels"));
        }
        let expected: Vec<ExpectedLevel> = dims
            .iter()
            .map(|s| ExpectedLevel {
                width: u64::from(s.w),
                height: u64::from(s.h),
            })
            .collect();
        let fast = match choice {
            PathChoice::Auto => FastTiff::open(path, &vendor, &expected),
            PathChoice::OpenSlideOnly => None,
        };
        let mut levels = Vec::with_capacity(dims.len());
        for (k, (size, &downsample)) in dims.iter().zip(downsamples).enumerate() {
            if size.w == 0 || size.h == 0 || !downsample.is_finite() || downsample < 1.0 - 1e-9 {
                return Err(geometry(&format!("level {k} is {}x{}", size.w, size.h)));
            }
            let fast_level = fast.as_ref().and_then(|f| f.levels.get(k)?.as_ref());
            let hint = |axis: &str| {
                number(&format!("openslide.level[{k}].tile-{axis}"))
                    .filter(|v| (16.0..=4096.0).contains(v))
                    .map_or(256, |v| v as u32)
            };
            let (tile_width, tile_height, path) = match fast_level {
                Some(f) => (f.tile_width, f.tile_height, TilePath::Fast),
                None => (hint("width"), hint("height"), TilePath::OpenSlide),
            };
            levels.push(Level {
                width: u64::from(size.w),
                height: u64::from(size.h),
                downsample,
                tile_width,
                tile_height,
                path,
            });
        }
        let names = os.property_names().unwrap_or_default();
        let mut properties: Vec<(String, String)> = names
            .iter()
            .filter(|n| is_shown_property(n))
            .filter_map(|n| Some((n.clone(), prop(n)?)))
            .collect();
        properties.sort();
        let withheld_properties = names.len() - properties.len();
        let mut associated_images = os.associated_image_names().unwrap_or_default();
        associated_images.sort();
        let info = SlideInfo {
            vendor,
            levels,
            mpp_x: number("openslide.mpp-x"),
            mpp_y: number("openslide.mpp-y"),
            objective_power: number("openslide.objective-power"),
            properties,
            withheld_properties,
            associated_images,
        };
        drop(os);
        Ok(Slide {
            path: path.to_owned(),
            info,
            openslide: handle,
            fast,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &SlideInfo {
        &self.info
    }

    /// The pixel size of tile `key` (cropped at the level's right and bottom edges), or
    /// `None` when the key is outside the pyramid.
    pub fn tile_size(&self, key: TileKey) -> Option<(u32, u32)> {
        let level = self.info.levels.get(key.level as usize)?;
        let x = u64::from(key.col) * u64::from(level.tile_width);
        let y = u64::from(key.row) * u64::from(level.tile_height);
        if x >= level.width || y >= level.height {
            return None;
        }
        Some((
            (level.width - x).min(u64::from(level.tile_width)) as u32,
            (level.height - y).min(u64::from(level.tile_height)) as u32,
        ))
    }

    /// Reads and decodes one tile. Never fails: a tile that cannot be read comes back
    /// as [`TileContent::Blank`] with the reason.
    pub fn read_tile(&self, key: TileKey) -> Tile {
        let blank = |width, height, reason: String| Tile {
            key,
            width,
            height,
            content: TileContent::Blank { reason },
        };
        let Some((width, height)) = self.tile_size(key) else {
            return blank(0, 0, "tile outside the slide".into());
        };
        let level = &self.info.levels[key.level as usize];
        let result = match (level.path, &self.fast) {
            (TilePath::Fast, Some(fast)) => fast
                .read_tile(
                    key.level as usize,
                    u64::from(key.col),
                    u64::from(key.row),
                    width,
                    height,
                )
                .map(|px| match px {
                    Some(rgba) => TileContent::Rgba(rgba),
                    // No data stored: transparent, as OpenSlide shows it.
                    None => TileContent::Rgba(vec![0; width as usize * height as usize * 4]),
                }),
            _ => self
                .read_with_openslide(key, level, width, height)
                .map(TileContent::Rgba),
        };
        match result {
            Ok(content) => Tile {
                key,
                width,
                height,
                content,
            },
            Err(reason) => blank(width, height, reason),
        }
    }

    fn read_with_openslide(
        &self,
        key: TileKey,
        level: &Level,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, String> {
        // Region addresses are level-0 coordinates whatever the level.
        let to_level0 = |v: u64| -> Result<u32, String> {
            u32::try_from((v as f64 * level.downsample).round() as u64)
                .map_err(|_| "tile address beyond OpenSlide's range".to_owned())
        };
        let x0 = to_level0(u64::from(key.col) * u64::from(level.tile_width))?;
        let y0 = to_level0(u64::from(key.row) * u64::from(level.tile_height))?;
        self.openslide.read_rgba(key.level, x0, y0, width, height)
    }

    /// A region of `level` through OpenSlide (`x`, `y` in that level's pixels), as
    /// premultiplied RGBA: what the fast path is compared with.
    pub fn read_region_openslide(
        &self,
        level: u32,
        x: u64,
        y: u64,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, String> {
        let ds = self
            .info
            .levels
            .get(level as usize)
            .map(|l| l.downsample)
            .ok_or("no such level")?;
        let to_level0 = |v: u64| {
            u32::try_from((v as f64 * ds).round() as u64)
                .map_err(|_| "address beyond OpenSlide's range".to_owned())
        };
        self.openslide
            .read_rgba(level, to_level0(x)?, to_level0(y)?, width, height)
    }

    /// An associated image (label, macro, thumbnail) as (width, height, premultiplied
    /// RGBA). PHI: call only for an explicit user request; never thumbnail, export or
    /// log the result.
    pub fn associated_image(&self, name: &str) -> Result<(u32, u32, Vec<u8>), String> {
        self.openslide.associated_rgba(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifying_properties_are_withheld() {
        for name in [
            "openslide.comment",
            "tiff.ImageDescription",
            "aperio.Filename",
            "aperio.User",
            "aperio.Date",
            "leica.barcode",
            "hamamatsu.Reference",
            "tiff.DocumentName",
            "tiff.Artist",
        ] {
            assert!(!is_shown_property(name), "{name}");
        }
        for name in [
            "openslide.mpp-x",
            "openslide.level[3].downsample",
            "openslide.objective-power",
            "aperio.AppMag",
        ] {
            assert!(is_shown_property(name), "{name}");
        }
    }
}
