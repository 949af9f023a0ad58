//! The generated slide: a synthetic, tissue-like pyramidal tiled JPEG TIFF that
//! OpenSlide reads, for the demo and the tests (nothing is downloaded).
//!
//! Owns the texture (glass, eosin-pink stroma with fibres, haematoxylin-purple nuclei,
//! all from seeded hash noise, so the same options give the same bytes) and the file
//! layout. [`SynthLayout::Aperio`] writes what OpenSlide's "aperio" reader expects:
//! level 0, a stripped thumbnail, the reduced levels (downsample 2 each), and a
//! synthetic label image; the first ImageDescription carries `AppMag` (objective power)
//! and `MPP` (µm per pixel), plus a `Filename` entry so tests can check it is never
//! shown. [`SynthLayout::GenericTiff`] writes only the tiled levels. Tiles are JPEG
//! with the tables shared in JPEGTables (abbreviated tile streams), YCbCr 4:2:0 or RGB.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// Colour coding of the JPEG tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthColour {
    /// Photometric YCbCr, 4:2:0 chroma subsampling (what most scanners and vips write).
    YCbCr,
    /// Photometric RGB: the JPEG components are R, G, B (no colour transform).
    Rgb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthLayout {
    Aperio,
    GenericTiff,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SynthOptions {
    pub width: u32,
    pub height: u32,
    /// Tile side (a multiple of 16).
    pub tile: u32,
    /// JPEG quality, 1–100.
    pub quality: u8,
    pub colour: SynthColour,
    pub layout: SynthLayout,
    pub seed: u64,
    /// Level-0 pixel size in micrometres.
    pub mpp: f64,
    /// Objective magnification at level 0.
    pub objective_power: u32,
    /// Levels are halved until the longer side is at most this.
    pub smallest_side: u32,
}

impl SynthOptions {
    /// The demo slide: 8192 x 6144 at 0.25 µm/px (a 2 x 1.5 mm biopsy at 40x), 5 levels.
    pub fn demo() -> SynthOptions {
        SynthOptions {
            width: 8192,
            height: 6144,
            tile: 256,
            quality: 85,
            colour: SynthColour::YCbCr,
            layout: SynthLayout::Aperio,
            seed: 6,
            mpp: 0.25,
            objective_power: 40,
            smallest_side: 512,
        }
    }

    /// A small slide for tests: `width` x `height`, 256 tiles.
    pub fn small(width: u32, height: u32) -> SynthOptions {
        SynthOptions {
            width,
            height,
            smallest_side: 256,
            ..SynthOptions::demo()
        }
    }
}

/// What was written: for tests that look at (or damage) particular tiles.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthReport {
    /// (width, height) of each tiled level, finest first.
    pub levels: Vec<(u32, u32)>,
    /// Per level, per tile (row-major): (file offset, byte count) of its JPEG data.
    pub tiles: Vec<Vec<(u64, u64)>>,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid slide options: {0}")]
    Options(String),
    #[error("cannot encode a tile: {0}")]
    Encode(String),
    #[error("cannot write the slide: {source}: {}", path.display())]
    Write {
        source: std::io::Error,
        path: PathBuf,
    },
}

/// The level-0 colour at (`x`, `y`) of the synthetic tissue.
pub fn tissue_rgb(seed: u64, x: u32, y: u32) -> [u8; 3] {
    let (fx, fy) = (f64::from(x), f64::from(y));
    // Tissue mask: two octaves of value noise, pushed down towards the borders of a
    // large virtual section so the biopsy sits on glass.
    let mask = 0.62 * value_noise(seed, 1, fx / 1100.0, fy / 1100.0)
        + 0.38 * value_noise(seed, 2, fx / 330.0, fy / 330.0);
    let glass = [242.0, 240.0, 244.0];
    let jitter = (hash(seed, 3, x as i64, y as i64) & 3) as f64 - 1.5;
    let glass_px = [glass[0] + jitter, glass[1] + jitter, glass[2] + jitter];
    let edge = smoothstep(0.485, 0.515, mask);
    if edge <= 0.0 {
        return to_u8(glass_px);
    }
    // Stroma: pink, with fibres (anisotropic noise) and a slow intensity drift.
    let fibre = value_noise(seed, 4, fx / 45.0 + fy / 90.0, fy / 9.0);
    let drift = value_noise(seed, 5, fx / 160.0, fy / 160.0);
    let s = 0.55 * fibre + 0.45 * drift;
    let mut px = [238.0 - 40.0 * s, 160.0 - 70.0 * s, 200.0 - 38.0 * s];
    // Lumina: pale round holes, at most one per 180 px cell.
    let lumen =
        blob(seed, 6, fx, fy, 180.0, 0.35, [18.0, 60.0]).map_or(0.0, |d| smoothstep(0.0, 0.15, d));
    px = mix(px, [246.0, 226.0, 236.0], lumen);
    // Nuclei: at most one per 28 px cell, dense where `drift` is high.
    let density = 0.25 + 0.6 * drift;
    if let Some(depth) = blob(seed, 8, fx, fy, 28.0, density, [5.0, 11.0]) {
        let chromatin = value_noise(seed, 7, fx / 3.0, fy / 3.0);
        let dark = 0.75 + 0.25 * depth;
        let nuc = [
            (110.0 - 35.0 * chromatin) * dark + 10.0,
            (70.0 - 25.0 * chromatin) * dark,
            (150.0 - 30.0 * chromatin) * dark + 15.0,
        ];
        px = mix(px, nuc, (1.0 - lumen).clamp(0.0, 1.0));
    }
    to_u8(mix(glass_px, px, edge))
}

/// Elliptical blobs, at most one per `cell` x `cell` square (present with probability
/// `density`, radius in `radius`): how deep inside one the point is (0 at the rim, 1 at
/// the centre), if it is.
fn blob(
    seed: u64,
    salt: u64,
    fx: f64,
    fy: f64,
    cell: f64,
    density: f64,
    radius: [f64; 2],
) -> Option<f64> {
    let cx = (fx / cell).floor() as i64;
    let cy = (fy / cell).floor() as i64;
    let mut best: Option<f64> = None;
    for dy in -1..=1 {
        for dx in -1..=1 {
            let (gx, gy) = (cx + dx, cy + dy);
            let h = hash(seed, salt, gx, gy);
            if f64::from((h & 0xFF) as u8) / 255.0 > density {
                continue;
            }
            let ox = f64::from(((h >> 8) & 0xFF) as u8) / 255.0;
            let oy = f64::from(((h >> 16) & 0xFF) as u8) / 255.0;
            let r =
                radius[0] + (radius[1] - radius[0]) * f64::from(((h >> 24) & 0xFF) as u8) / 255.0;
            let squash = 0.6 + 0.4 * f64::from(((h >> 32) & 0xFF) as u8) / 255.0;
            let px = (gx as f64 + ox) * cell;
            let py = (gy as f64 + oy) * cell;
            let (ux, uy) = ((fx - px) / r, (fy - py) / (r * squash));
            let d2 = ux * ux + uy * uy;
            if d2 < 1.0 {
                let depth = 1.0 - d2;
                best = Some(best.map_or(depth, |b: f64| b.max(depth)));
            }
        }
    }
    best
}

fn hash(seed: u64, salt: u64, x: i64, y: i64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add((x as u64).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7))
        .wrapping_add((y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Smooth value noise in [0, 1] on the unit lattice.
fn value_noise(seed: u64, salt: u64, x: f64, y: f64) -> f64 {
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = (x - x0, y - y0);
    let (ix, iy) = (x0 as i64, y0 as i64);
    let v =
        |dx: i64, dy: i64| (hash(seed, salt, ix + dx, iy + dy) >> 11) as f64 / (1u64 << 53) as f64;
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let top = v(0, 0) + (v(1, 0) - v(0, 0)) * sx;
    let bottom = v(0, 1) + (v(1, 1) - v(0, 1)) * sx;
    top + (bottom - top) * sy
}

fn smoothstep(a: f64, b: f64, v: f64) -> f64 {
    let t = ((v - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn mix(a: [f64; 3], b: [f64; 3], t: f64) -> [f64; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn to_u8(v: [f64; 3]) -> [u8; 3] {
    v.map(|c| c.round().clamp(0.0, 255.0) as u8)
}

/// An RGB image in memory.
struct Rgb {
    width: u32,
    height: u32,
    px: Vec<u8>,
}

impl Rgb {
    fn tissue(seed: u64, width: u32, height: u32) -> Rgb {
        let mut px = vec![0u8; width as usize * height as usize * 3];
        px.par_chunks_mut(width as usize * 3)
            .enumerate()
            .for_each(|(y, row)| {
                for (x, out) in row.chunks_exact_mut(3).enumerate() {
                    out.copy_from_slice(&tissue_rgb(seed, x as u32, y as u32));
                }
            });
        Rgb { width, height, px }
    }

    /// Halved with a 2x2 box filter (odd edges: the last column/row counts alone).
    fn halved(&self) -> Rgb {
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut px = vec![0u8; w as usize * h as usize * 3];
        let sw = self.width as usize;
        px.par_chunks_mut(w as usize * 3)
            .enumerate()
            .for_each(|(y, row)| {
                let y0 = (2 * y).min(self.height as usize - 1);
                let y1 = (2 * y + 1).min(self.height as usize - 1);
                for x in 0..w as usize {
                    let x0 = (2 * x).min(sw - 1);
                    let x1 = (2 * x + 1).min(sw - 1);
                    for c in 0..3 {
                        let s = [(y0, x0), (y0, x1), (y1, x0), (y1, x1)]
                            .iter()
                            .map(|&(yy, xx)| u32::from(self.px[(yy * sw + xx) * 3 + c]))
                            .sum::<u32>();
                        row[x * 3 + c] = ((s + 2) / 4) as u8;
                    }
                }
            });
        Rgb {
            width: w,
            height: h,
            px,
        }
    }

    /// The `tile` x `tile` block at (`col`, `row`), padded by repeating the last
    /// column and row (as encoders pad partial blocks).
    fn tile(&self, col: u32, row: u32, tile: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity((tile * tile * 3) as usize);
        for ty in 0..tile {
            let y = (row * tile + ty).min(self.height - 1) as usize;
            for tx in 0..tile {
                let x = (col * tile + tx).min(self.width - 1) as usize;
                let at = (y * self.width as usize + x) * 3;
                out.extend_from_slice(&self.px[at..at + 3]);
            }
        }
        out
    }
}

/// A JPEG stream split into its tables (SOI, DQT, DHT, EOI) and the abbreviated rest
/// (SOI, SOF, SOS, data, EOI); APPn segments are dropped.
fn split_tables(jpeg: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SynthError> {
    let bad = || SynthError::Encode("unexpected JPEG structure".into());
    if jpeg.len() < 4 || jpeg[..2] != [0xFF, 0xD8] {
        return Err(bad());
    }
    let mut tables = vec![0xFF, 0xD8];
    let mut rest = vec![0xFF, 0xD8];
    let mut at = 2;
    loop {
        if at + 4 > jpeg.len() || jpeg[at] != 0xFF {
            return Err(bad());
        }
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        let end = at + 2 + len;
        if end > jpeg.len() {
            return Err(bad());
        }
        match marker {
            0xDB | 0xC4 => tables.extend_from_slice(&jpeg[at..end]),
            0xE0..=0xEF => {}
            0xDA => {
                rest.extend_from_slice(&jpeg[at..]);
                break;
            }
            _ => rest.extend_from_slice(&jpeg[at..end]),
        }
        at = end;
    }
    tables.extend_from_slice(&[0xFF, 0xD9]);
    Ok((tables, rest))
}

fn encode_tile(rgb: &[u8], tile: u32, opts: &SynthOptions) -> Result<Vec<u8>, SynthError> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, opts.quality);
    let side = u16::try_from(tile).map_err(|_| SynthError::Options("tile too large".into()))?;
    let colour = match opts.colour {
        SynthColour::YCbCr => {
            enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            jpeg_encoder::ColorType::Rgb
        }
        SynthColour::Rgb => {
            // The encoder's "already YCbCr" input is stored without a colour transform:
            // the components stay R, G, B.
            enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
            jpeg_encoder::ColorType::Ycbcr
        }
    };
    enc.encode(rgb, side, side, colour)
        .map_err(|e| SynthError::Encode(e.to_string()))?;
    Ok(out)
}

/// One TIFF directory to write: its entries (tag, type, count, value bytes).
struct Ifd {
    entries: Vec<(u16, u16, u32, Vec<u8>)>,
}

impl Ifd {
    fn short(&mut self, tag: u16, values: &[u16]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.entries.push((tag, 3, values.len() as u32, bytes));
    }
    fn long(&mut self, tag: u16, values: &[u32]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.entries.push((tag, 4, values.len() as u32, bytes));
    }
    fn ascii(&mut self, tag: u16, text: &str) {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        self.entries.push((tag, 2, bytes.len() as u32, bytes));
    }
    fn undefined(&mut self, tag: u16, bytes: Vec<u8>) {
        self.entries.push((tag, 7, bytes.len() as u32, bytes));
    }
    fn rational(&mut self, tag: u16, num: u32, den: u32) {
        let mut bytes = num.to_le_bytes().to_vec();
        bytes.extend_from_slice(&den.to_le_bytes());
        self.entries.push((tag, 5, 1, bytes));
    }
}

/// Appends `ifd` to `file` (after its out-of-line values) and returns where it starts.
/// `offset_fixups` are (tag) whose values are u32 offsets to be written as given.
fn append_ifd(file: &mut Vec<u8>, mut ifd: Ifd) -> Result<u32, SynthError> {
    ifd.entries.sort_by_key(|e| e.0);
    let mut placed = Vec::with_capacity(ifd.entries.len());
    for (tag, kind, count, bytes) in ifd.entries {
        if bytes.len() > 4 {
            if file.len() % 2 == 1 {
                file.push(0);
            }
            let at = offset32(file.len())?;
            file.extend_from_slice(&bytes);
            placed.push((tag, kind, count, at.to_le_bytes().to_vec()));
        } else {
            let mut inline = bytes;
            inline.resize(4, 0);
            placed.push((tag, kind, count, inline));
        }
    }
    if file.len() % 2 == 1 {
        file.push(0);
    }
    let start = offset32(file.len())?;
    file.extend_from_slice(&(placed.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in placed {
        file.extend_from_slice(&tag.to_le_bytes());
        file.extend_from_slice(&kind.to_le_bytes());
        file.extend_from_slice(&count.to_le_bytes());
        file.extend_from_slice(&value);
    }
    file.extend_from_slice(&0u32.to_le_bytes());
    Ok(start)
}

fn offset32(at: usize) -> Result<u32, SynthError> {
    u32::try_from(at).map_err(|_| SynthError::Options("slide larger than 4 GiB".into()))
}

/// Writes the slide described by `opts` to `path` (through a temporary file, renamed
/// into place when complete).
pub fn write_slide(path: &Path, opts: &SynthOptions) -> Result<SynthReport, SynthError> {
    if opts.tile == 0 || !opts.tile.is_multiple_of(16) || opts.tile > 4096 {
        return Err(SynthError::Options(format!(
            "tile {} is not a multiple of 16",
            opts.tile
        )));
    }
    if opts.width == 0 || opts.height == 0 || opts.width > 1 << 16 || opts.height > 1 << 16 {
        return Err(SynthError::Options(format!(
            "size {}x{}",
            opts.width, opts.height
        )));
    }
    if !(1..=100).contains(&opts.quality) || opts.mpp.is_nan() || opts.mpp <= 0.0 {
        return Err(SynthError::Options("quality or MPP out of range".into()));
    }
    let mut images = vec![Rgb::tissue(opts.seed, opts.width, opts.height)];
    while let Some(last) = images.last() {
        if last.width.max(last.height) <= opts.smallest_side.max(16) || images.len() >= 12 {
            break;
        }
        let next = last.halved();
        images.push(next);
    }
    let mut file: Vec<u8> = b"II*\0\0\0\0\0".to_vec();
    let mut link_at = 4usize;
    let mut report = SynthReport {
        levels: Vec::new(),
        tiles: Vec::new(),
        bytes: 0,
    };
    let mut link = |file: &mut Vec<u8>, start: u32| {
        file[link_at..link_at + 4].copy_from_slice(&start.to_le_bytes());
        link_at = file.len() - 4;
    };
    let description = format!(
        "Aperio Image Library v10.0.51 (Tessera synthetic slide)\r\n{w}x{h} [0,0 {w}x{h}] ({t}x{t}) JPEG/RGB Q={q}|AppMag = {mag}|MPP = {mpp:.4}|Filename = synthetic-do-not-show|Title = generated tissue, no patient",
        w = opts.width,
        h = opts.height,
        t = opts.tile,
        q = opts.quality,
        mag = opts.objective_power,
        mpp = opts.mpp,
    );
    for (k, image) in images.iter().enumerate() {
        let start = write_level(&mut file, image, k, opts, &description, &mut report)?;
        link(&mut file, start);
        if k == 0 && opts.layout == SynthLayout::Aperio {
            // The thumbnail: OpenSlide's aperio reader takes directory 1 as "thumbnail".
            let thumb = images.last().unwrap_or(image);
            let start = write_stripped(&mut file, thumb, None)?;
            link(&mut file, start);
        }
    }
    if opts.layout == SynthLayout::Aperio {
        let label = synthetic_label();
        let start = write_stripped(
            &mut file,
            &label,
            Some("Aperio Image Library v10.0.51\nlabel 320x200"),
        )?;
        link(&mut file, start);
    }
    report.bytes = file.len() as u64;
    let tmp = path.with_extension("partial");
    let write = |p: &Path| -> std::io::Result<()> {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::File::create(p)?;
        f.write_all(&file)?;
        f.sync_all()
    };
    write(&tmp)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| SynthError::Write {
            source,
            path: path.to_owned(),
        })?;
    Ok(report)
}

fn write_level(
    file: &mut Vec<u8>,
    image: &Rgb,
    k: usize,
    opts: &SynthOptions,
    description: &str,
    report: &mut SynthReport,
) -> Result<u32, SynthError> {
    let t = opts.tile;
    let (across, down) = (image.width.div_ceil(t), image.height.div_ceil(t));
    let coords: Vec<(u32, u32)> = (0..down)
        .flat_map(|r| (0..across).map(move |c| (c, r)))
        .collect();
    let encoded: Vec<Vec<u8>> = coords
        .par_iter()
        .map(|&(c, r)| encode_tile(&image.tile(c, r, t), t, opts))
        .collect::<Result<_, _>>()?;
    let mut tables: Option<Vec<u8>> = None;
    let mut offsets = Vec::with_capacity(encoded.len());
    let mut counts = Vec::with_capacity(encoded.len());
    let mut where_ = Vec::with_capacity(encoded.len());
    for jpeg in &encoded {
        let (t, rest) = split_tables(jpeg)?;
        match &tables {
            None => tables = Some(t),
            Some(shared) if *shared == t => {}
            Some(_) => return Err(SynthError::Encode("tiles with different tables".into())),
        }
        let at = offset32(file.len())?;
        offsets.push(at);
        counts.push(rest.len() as u32);
        where_.push((u64::from(at), rest.len() as u64));
        file.extend_from_slice(&rest);
    }
    report.levels.push((image.width, image.height));
    report.tiles.push(where_);
    let mut ifd = Ifd {
        entries: Vec::new(),
    };
    ifd.long(254, &[u32::from(k > 0)]);
    ifd.long(256, &[image.width]);
    ifd.long(257, &[image.height]);
    ifd.short(258, &[8, 8, 8]);
    ifd.short(259, &[7]);
    let photometric = match opts.colour {
        SynthColour::YCbCr => 6,
        SynthColour::Rgb => 2,
    };
    ifd.short(262, &[photometric]);
    if k == 0 && opts.layout == SynthLayout::Aperio {
        ifd.ascii(270, description);
    }
    ifd.short(277, &[3]);
    ifd.short(284, &[1]);
    // Resolution in pixels per centimetre of this level.
    let per_cm = (10_000.0 / (opts.mpp * f64::from(1u32 << k))).round() as u32;
    ifd.rational(282, per_cm, 1);
    ifd.rational(283, per_cm, 1);
    ifd.short(296, &[3]);
    ifd.long(322, &[t]);
    ifd.long(323, &[t]);
    ifd.long(324, &offsets);
    ifd.long(325, &counts);
    if let Some(tables) = tables {
        ifd.undefined(347, tables);
    }
    if opts.colour == SynthColour::YCbCr {
        ifd.short(530, &[2, 2]);
    }
    append_ifd(file, ifd)
}

fn write_stripped(
    file: &mut Vec<u8>,
    image: &Rgb,
    description: Option<&str>,
) -> Result<u32, SynthError> {
    if file.len() % 2 == 1 {
        file.push(0);
    }
    let at = offset32(file.len())?;
    file.extend_from_slice(&image.px);
    let mut ifd = Ifd {
        entries: Vec::new(),
    };
    ifd.long(254, &[1]);
    ifd.long(256, &[image.width]);
    ifd.long(257, &[image.height]);
    ifd.short(258, &[8, 8, 8]);
    ifd.short(259, &[1]);
    ifd.short(262, &[2]);
    if let Some(d) = description {
        ifd.ascii(270, d);
    }
    ifd.long(273, &[at]);
    ifd.short(277, &[3]);
    ifd.long(278, &[image.height]);
    ifd.long(279, &[image.px.len() as u32]);
    ifd.short(284, &[1]);
    append_ifd(file, ifd)
}

/// A label image with no text: a white card with a barcode-like stripe pattern.
fn synthetic_label() -> Rgb {
    let (width, height) = (320u32, 200u32);
    let mut px = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let bar = (40..160).contains(&y)
                && (20..300).contains(&x)
                && (hash(1, 9, i64::from(x / 4), 0) & 1) == 1;
            px.extend_from_slice(if bar { &[20, 20, 30] } else { &[250, 250, 246] });
        }
    }
    Rgb { width, height, px }
}

/// Where the demo slide is cached: next to the demo study (see
/// [`crate::imaging::demo::demo_cache_dir`]), in its own folder so DICOM discovery of the
/// study never meets it.
pub fn demo_slide_path() -> PathBuf {
    let study = crate::imaging::demo::demo_cache_dir();
    study
        .parent()
        .map_or_else(|| study.clone(), Path::to_path_buf)
        .join("demo-slide")
        .join(DEMO_SLIDE_FILE)
}

/// The file name carries the generator version: a new texture or layout gets a new file.
pub const DEMO_SLIDE_FILE: &str = "tessera-demo-v1.svs";

/// The cached demo slide, generated first when missing.
pub fn ensure_demo_slide() -> Result<PathBuf, SynthError> {
    let path = demo_slide_path();
    if !path.is_file() {
        write_slide(&path, &SynthOptions::demo())?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_texture_has_glass_stroma_and_nuclei() {
        let mut glass = 0;
        let mut purple = 0;
        let mut pink = 0;
        for y in (0..4096).step_by(7) {
            for x in (0..4096).step_by(7) {
                let [r, g, b] = tissue_rgb(6, x, y).map(i32::from);
                if r > 236 && g > 234 {
                    glass += 1;
                } else if r < 140 && b > r {
                    purple += 1;
                } else if r > g + 40 {
                    pink += 1;
                }
            }
        }
        let total = (4096 / 7 + 1) * (4096 / 7 + 1);
        for (name, n) in [("glass", glass), ("nuclei", purple), ("stroma", pink)] {
            assert!(n * 50 > total, "{name}: {n} of {total}");
        }
        assert_eq!(tissue_rgb(6, 1234, 567), tissue_rgb(6, 1234, 567));
    }

    #[test]
    fn tables_split_off_and_splice_back_to_the_same_image() {
        let opts = SynthOptions::small(64, 64);
        let rgb = Rgb::tissue(1, 64, 64).tile(0, 0, 64);
        let jpeg = encode_tile(&rgb, 64, &opts).unwrap();
        let (tables, rest) = split_tables(&jpeg).unwrap();
        assert!(!rest.windows(2).any(|w| w == [0xFF, 0xDB]));
        let merged = super::super::jpeg::with_tables(Some(&tables), &rest).unwrap();
        let a = super::super::jpeg::decode_rgb(
            &merged,
            super::super::jpeg::TileColour::YCbCr,
            64,
            64,
            64,
        )
        .unwrap();
        let b = super::super::jpeg::decode_rgb(
            &jpeg,
            super::super::jpeg::TileColour::YCbCr,
            64,
            64,
            64,
        )
        .unwrap();
        assert_eq!(a, b);
    }
}
