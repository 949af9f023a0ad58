//! `tessera info SLIDE` and `tessera bench tiles SLIDE`: the slide contracts.
//!
//! `info` prints what [`SlideInfo`] holds (levels, allowlisted properties, the names of
//! associated images), never a withheld property or an associated image's pixels.
//! `bench tiles` reads random tile-aligned 256x256 regions through the viewer's pipeline
//! (tile cache cleared first, worker pool, same decoders) and prints one JSON object:
//! `{"tiles", "seconds", "tiles_per_s", "path", "peak_rss_bytes"}`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::json;

use crate::imaging::slide::cache::{DEFAULT_TILE_CACHE_BYTES, TileCache};
use crate::imaging::slide::pool::{DEFAULT_QUEUE_CAPACITY, Priority, TilePool};
use crate::imaging::slide::{PathChoice, Slide, SlideInfo, TileContent, TileKey, TilePath};

/// The region side `bench tiles` reads.
const REGION: u64 = 256;
/// Regions requested before waiting for them (about what one screen needs).
const BATCH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PathArg {
    /// The fast path (fails when the level is not a plain JPEG-tiled TIFF level).
    Fast,
    /// OpenSlide's read_region for every tile.
    Openslide,
}

#[derive(Debug, Args)]
pub struct TilesArgs {
    /// The slide file.
    slide: PathBuf,
    /// How many regions (distinct, random, tile-aligned 256x256 inside the level).
    #[arg(long, default_value_t = 2000)]
    tiles: usize,
    /// Pyramid level (0 = full resolution).
    #[arg(long, default_value_t = 0)]
    level: u32,
    /// Seed of the region choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Force a reader (default: the fast path where the level allows, else OpenSlide).
    #[arg(long, value_enum)]
    path: Option<PathArg>,
    /// Worker threads (default: one per core, as the viewer).
    #[arg(long)]
    workers: Option<usize>,
    /// Decoded-tile cache bound in MiB (default: the viewer's, 512).
    #[arg(long, default_value_t = DEFAULT_TILE_CACHE_BYTES >> 20)]
    cache_mib: usize,
}

pub fn info(path: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let slide = Slide::open(path, PathChoice::Auto)?;
    let info = slide.info();
    if as_json {
        println!("{}", serde_json::to_string_pretty(info)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_info(info);
    Ok(ExitCode::SUCCESS)
}

fn print_info(info: &SlideInfo) {
    let opt = |v: Option<f64>, unit: &str| {
        v.map_or_else(|| "unknown".to_owned(), |v| format!("{v}{unit}"))
    };
    println!(
        "slide ({}), {} level(s); level 0 {}x{} px, {} µm/px x {} µm/px, objective {}",
        info.vendor,
        info.levels.len(),
        info.levels.first().map_or(0, |l| l.width),
        info.levels.first().map_or(0, |l| l.height),
        opt(info.mpp_x, ""),
        opt(info.mpp_y, ""),
        opt(info.objective_power, "x"),
    );
    for (k, l) in info.levels.iter().enumerate() {
        let (across, down) = l.tile_grid();
        println!(
            "  level {k}: {}x{} px, downsample {:.3}, tiles {}x{} ({}x{}), {} path",
            l.width,
            l.height,
            l.downsample,
            l.tile_width,
            l.tile_height,
            across,
            down,
            match l.path {
                TilePath::Fast => "fast",
                TilePath::OpenSlide => "OpenSlide",
            }
        );
    }
    if !info.associated_images.is_empty() {
        println!(
            "associated images (not shown here; labels may identify the patient): {}",
            info.associated_images.join(", ")
        );
    }
    println!("properties:");
    for (name, value) in &info.properties {
        println!("  {name} = {value}");
    }
    if info.withheld_properties > 0 {
        println!(
            "  ({} more not shown: they may identify the patient)",
            info.withheld_properties
        );
    }
}

/// A small seeded generator (splitmix64): the same seed picks the same regions.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

pub fn bench_tiles(args: TilesArgs) -> anyhow::Result<ExitCode> {
    let choice = match args.path {
        Some(PathArg::Openslide) => PathChoice::OpenSlideOnly,
        _ => PathChoice::Auto,
    };
    let slide = Arc::new(Slide::open(&args.slide, choice)?);
    let Some(&level) = slide.info().levels.get(args.level as usize) else {
        bail!(
            "level {} does not exist (the slide has {})",
            args.level,
            slide.info().levels.len()
        );
    };
    if args.path == Some(PathArg::Fast) && level.path != TilePath::Fast {
        bail!("level {} is not readable through the fast path", args.level);
    }
    if level.width < REGION || level.height < REGION {
        bail!("level {} is smaller than {REGION}x{REGION}", args.level);
    }
    let across = (level.width - REGION) / REGION + 1;
    let down = (level.height - REGION) / REGION + 1;
    let total = across * down;
    if args.tiles == 0 || args.tiles as u64 > total {
        bail!(
            "--tiles must be between 1 and {total} (distinct regions of level {})",
            args.level
        );
    }
    let mut rng = SplitMix(args.seed);
    let mut seen = HashSet::with_capacity(args.tiles);
    let mut regions = Vec::with_capacity(args.tiles);
    while regions.len() < args.tiles {
        let i = rng.next() % total;
        if seen.insert(i) {
            regions.push(((i % across) * REGION, (i / across) * REGION));
        }
    }
    let cache = Arc::new(TileCache::new(args.cache_mib << 20));
    cache.clear();
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    });
    let pool = TilePool::new(
        Arc::clone(&slide) as Arc<dyn crate::imaging::slide::pool::TileSource>,
        Arc::clone(&cache),
        workers,
        DEFAULT_QUEUE_CAPACITY,
        |_| {},
    )
    .context("cannot start the tile workers")?;
    let (tw, th) = (u64::from(level.tile_width), u64::from(level.tile_height));
    let keys_of = |(x, y): (u64, u64)| {
        let mut keys = Vec::new();
        for row in y / th..=(y + REGION - 1) / th {
            for col in x / tw..=(x + REGION - 1) / tw {
                keys.push(TileKey {
                    level: args.level,
                    col: col as u32,
                    row: row as u32,
                });
            }
        }
        keys
    };
    let mut region = vec![0u8; (REGION * REGION * 4) as usize];
    let mut blank = 0usize;
    let mut checksum = 0u64;
    let started = Instant::now();
    for batch in regions.chunks(BATCH) {
        for &r in batch {
            for key in keys_of(r) {
                pool.request(key, Priority::Visible);
            }
        }
        pool.wait_idle();
        // Compose each region from its tiles, as the viewer's screen is composed.
        for &(x, y) in batch {
            for key in keys_of((x, y)) {
                let Some(tile) = cache.get(key) else {
                    bail!("tile {key:?} was evicted before use; the cache is too small");
                };
                let (px, bytes_per_px) = match &tile.content {
                    TileContent::Rgb(px) => (px, 3),
                    TileContent::Rgba(px) => (px, 4),
                    TileContent::Blank { .. } => {
                        blank += 1;
                        continue;
                    }
                };
                let tx0 = u64::from(key.col) * tw;
                let ty0 = u64::from(key.row) * th;
                let (w, h) = (u64::from(tile.width), u64::from(tile.height));
                if (tx0, ty0, w, h) == (x, y, REGION, REGION) {
                    // The tile is the region (the viewer draws it as it is): no copy.
                    checksum = checksum.wrapping_add(u64::from(px[px.len() / 2]));
                    continue;
                }
                // Else the region is composed from the tiles it overlaps, as RGBA.
                for ty in ty0.max(y)..(ty0 + h).min(y + REGION) {
                    let x_from = tx0.max(x);
                    let x_to = (tx0 + w).min(x + REGION);
                    let src = ((ty - ty0) * w + (x_from - tx0)) as usize * bytes_per_px;
                    let dst = (((ty - y) * REGION + (x_from - x)) * 4) as usize;
                    let n = (x_to - x_from) as usize;
                    let from = &px[src..src + n * bytes_per_px];
                    let to = &mut region[dst..dst + n * 4];
                    if bytes_per_px == 4 {
                        to.copy_from_slice(from);
                    } else {
                        for (d, s) in to.chunks_exact_mut(4).zip(from.chunks_exact(3)) {
                            d.copy_from_slice(&[s[0], s[1], s[2], 255]);
                        }
                    }
                }
                checksum = checksum.wrapping_add(u64::from(region[(REGION * REGION * 2) as usize]));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(pool);
    if blank > 0 {
        bail!("{blank} tile(s) could not be decoded");
    }
    std::hint::black_box(checksum);
    let n = regions.len();
    println!(
        "{}",
        json!({
            "tiles": n,
            "seconds": (seconds * 1e6).round() / 1e6,
            "tiles_per_s": (n as f64 / seconds * 10.0).round() / 10.0,
            "path": level.path,
            "peak_rss_bytes": super::bench::peak_rss_bytes().unwrap_or(0),
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// `tessera demo DIR --slide`: writes the generated demo slide into DIR.
pub fn demo_slide_command(dir: &Path) -> anyhow::Result<ExitCode> {
    use crate::imaging::slide::synth::{DEMO_SLIDE_FILE, SynthOptions, write_slide};
    let started = Instant::now();
    let path = dir.join(DEMO_SLIDE_FILE);
    let report = write_slide(&path, &SynthOptions::demo())?;
    let (w, h) = report.levels.first().copied().unwrap_or((0, 0));
    println!(
        "wrote {} ({w}x{h} px, {} levels, {:.1} MB) in {:.1} s",
        path.display(),
        report.levels.len(),
        report.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
