//! Conformance over the real-world corpus (`../shared/corpus/dicom`, or the folder
//! named by `TESSERA_CORPUS`): every `exact` frame hashes bit for bit, every `approx`
//! frame matches min/max within `APPROX_MINMAX` and mean within `APPROX_MEAN`, every
//! `error` file is refused with a typed error (or decoded: a bonus), every
//! `no_pixels` file opens and reports no pixel data. Skipped, saying so, when the
//! corpus is absent.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use tessera::imaging::file::{self, OpenError, ReadMode};
use tessera::imaging::pixels::{self, DecodeError, Frame, Samples};

/// Lossy decoders differ by rounding and IDCT precision: a few units at the extremes.
const APPROX_MINMAX: f64 = 4.0;
/// ... and well under one unit on average.
const APPROX_MEAN: f64 = 1.0;

#[derive(Deserialize)]
struct Manifest {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    expect: String,
    #[serde(default)]
    needs_force: bool,
    #[serde(default)]
    dtype: Option<String>,
    #[serde(default)]
    frames_stats: Vec<Stats>,
}

#[derive(Deserialize)]
struct Stats {
    sha256: String,
    min: f64,
    max: f64,
    mean: f64,
}

/// The corpus folder, when present: `TESSERA_CORPUS`, else next to the checkout.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TESSERA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dicom"));
    dir.join("manifest.json").is_file().then_some(dir)
}

enum Outcome {
    Pass,
    /// An `approx` entry within tolerance: worst |min/max| and |mean| differences.
    Close(f64, f64),
    /// An `error` entry we decode anyway.
    Bonus(String),
    /// An `error` entry refused with a typed error, or a needs-force `no_pixels` file
    /// refused as not DICOM.
    Refused(String),
    Fail(String),
}

fn dtype_matches(dtype: &str, samples: &Samples) -> bool {
    let want = dtype.trim_start_matches(['<', '>', '=', '|']);
    matches!(
        (want, samples),
        ("uint8" | "u1", Samples::U8(_))
            | ("int8" | "i1", Samples::I8(_))
            | ("uint16" | "u2", Samples::U16(_))
            | ("int16" | "i2", Samples::I16(_))
            | ("uint32" | "u4", Samples::U32(_))
            | ("int32" | "i4", Samples::I32(_))
    )
}

fn decode_all(path: &Path, frames: usize) -> Result<Vec<Frame>, String> {
    let instance = file::open(path, ReadMode::Full).map_err(|e| e.to_string())?;
    (0..frames as u32)
        .map(|i| pixels::decode_frame(&instance, i).map_err(|e| e.to_string()))
        .collect()
}

fn check(dir: &Path, entry: &Entry) -> Outcome {
    let path = dir.join("files").join(&entry.file);
    match entry.expect.as_str() {
        "exact" | "approx" => {
            let frames = match decode_all(&path, entry.frames_stats.len()) {
                Ok(f) => f,
                Err(e) => return Outcome::Fail(e),
            };
            let (mut worst_extreme, mut worst_mean) = (0f64, 0f64);
            for (i, (frame, want)) in frames.iter().zip(&entry.frames_stats).enumerate() {
                if let Some(dtype) = &entry.dtype
                    && !dtype_matches(dtype, &frame.samples)
                {
                    return Outcome::Fail(format!(
                        "frame {i}: dtype {dtype}, got {:?}",
                        kind(frame)
                    ));
                }
                let s = frame.stats();
                worst_extreme = worst_extreme
                    .max((s.min - want.min).abs())
                    .max((s.max - want.max).abs());
                worst_mean = worst_mean.max((s.mean - want.mean).abs());
                if entry.expect == "exact" {
                    let got = frame.sha256_hex();
                    if got != want.sha256 {
                        return Outcome::Fail(format!(
                            "frame {i}: sha256 differs (min {} max {} mean {:.4}, want {} {} {})",
                            s.min, s.max, s.mean, want.min, want.max, want.mean
                        ));
                    }
                } else if (s.min - want.min).abs() > APPROX_MINMAX
                    || (s.max - want.max).abs() > APPROX_MINMAX
                    || (s.mean - want.mean).abs() > APPROX_MEAN
                {
                    return Outcome::Fail(format!(
                        "frame {i}: min {} max {} mean {:.4}, want {} {} {}",
                        s.min, s.max, s.mean, want.min, want.max, want.mean
                    ));
                }
            }
            if entry.expect == "approx" {
                Outcome::Close(worst_extreme, worst_mean)
            } else {
                Outcome::Pass
            }
        }
        "error" => {
            let instance = match file::open(&path, ReadMode::Full) {
                Ok(i) => i,
                Err(e) => return Outcome::Refused(e.to_string()),
            };
            let frames = match instance.number_of_frames() {
                Ok(n) => n,
                Err(e) => return Outcome::Refused(DecodeError::from(e).to_string()),
            };
            let mut summary = Vec::new();
            for i in 0..frames {
                match pixels::decode_frame(&instance, i) {
                    Ok(f) => {
                        let s = f.stats();
                        summary.push(format!("min {} max {} mean {:.4}", s.min, s.max, s.mean));
                    }
                    Err(e) => return Outcome::Refused(e.to_string()),
                }
            }
            Outcome::Bonus(summary.join("; "))
        }
        "no_pixels" => {
            let header = match file::open(&path, ReadMode::HeaderOnly) {
                Ok(i) => i,
                Err(OpenError::NotDicom { reason }) if entry.needs_force => {
                    return Outcome::Refused(format!("not DICOM: {reason}"));
                }
                Err(e) => return Outcome::Fail(format!("header: {e}")),
            };
            if header.has_pixel_data() {
                return Outcome::Fail("header-only open reports pixel data".into());
            }
            let full = match file::open(&path, ReadMode::Full) {
                Ok(i) => i,
                Err(e) => return Outcome::Fail(format!("full open: {e}")),
            };
            match pixels::decode_frame(&full, 0) {
                Err(DecodeError::NoPixelData) => Outcome::Pass,
                other => Outcome::Fail(format!("decode gave {:?}", other.map(|f| kind(&f)))),
            }
        }
        other => Outcome::Fail(format!("unknown expectation {other}")),
    }
}

fn kind(frame: &Frame) -> &'static str {
    match frame.samples {
        Samples::U8(_) => "U8",
        Samples::I8(_) => "I8",
        Samples::U16(_) => "U16",
        Samples::I16(_) => "I16",
        Samples::U32(_) => "U32",
        Samples::I32(_) => "I32",
    }
}

#[test]
fn corpus() {
    let Some(dir) = corpus_dir() else {
        eprintln!("corpus test skipped: no ../shared/corpus/dicom and TESSERA_CORPUS unset");
        return;
    };
    let started = Instant::now();
    let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else {
        panic!("cannot read {}", dir.join("manifest.json").display());
    };
    let manifest: Manifest = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => panic!("manifest.json does not parse: {e}"),
    };
    let results: Vec<(&Entry, Outcome)> = manifest
        .entries
        .par_iter()
        .map(|entry| {
            let outcome = catch_unwind(AssertUnwindSafe(|| check(&dir, entry)))
                .unwrap_or_else(|_| Outcome::Fail("PANIC".into()));
            (entry, outcome)
        })
        .collect();
    // category -> (pass, bonus, refused, total)
    let mut counts: BTreeMap<&str, (u32, u32, u32, u32)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut worst = (0f64, 0f64);
    for (entry, outcome) in &results {
        let c = counts.entry(entry.expect.as_str()).or_default();
        c.3 += 1;
        match outcome {
            Outcome::Pass => c.0 += 1,
            Outcome::Close(extreme, mean) => {
                c.0 += 1;
                worst = (worst.0.max(*extreme), worst.1.max(*mean));
            }
            Outcome::Bonus(s) => {
                c.1 += 1;
                println!("bonus   {}: decoded ({s})", entry.file);
            }
            Outcome::Refused(r) => {
                c.2 += 1;
                println!("refused {} [{}]: {r}", entry.file, entry.expect);
            }
            Outcome::Fail(f) => failures.push(format!("{} [{}]: {f}", entry.file, entry.expect)),
        }
    }
    for (category, (pass, bonus, refused, total)) in &counts {
        println!(
            "{category:>9}: {}/{total} pass (clean {pass}, bonus {bonus}, refused {refused})",
            pass + bonus + refused
        );
    }
    println!(
        "approx worst differences: min/max {} (allowed {APPROX_MINMAX}), mean {:.4} (allowed {APPROX_MEAN})",
        worst.0, worst.1
    );
    println!(
        "corpus: {} files in {:.2?}",
        results.len(),
        started.elapsed()
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(failures.is_empty(), "{} corpus failures", failures.len());
}

/// PALETTE COLOR indices map through the file's LUTs to RGB of the same size.
#[test]
fn palette_colour_maps_to_rgb() {
    let Some(dir) = corpus_dir() else {
        eprintln!("palette test skipped: corpus absent");
        return;
    };
    let path = dir.join("files/examples_palette.dcm");
    let Ok(instance) = file::open(&path, ReadMode::Full) else {
        panic!("examples_palette.dcm does not open");
    };
    let frame = match pixels::decode_frame(&instance, 0) {
        Ok(f) => f,
        Err(e) => panic!("decode: {e}"),
    };
    assert_eq!(frame.photometric, pixels::Photometric::PaletteColor);
    let rgb = match pixels::palette_to_rgb(&instance, &frame) {
        Ok(f) => f,
        Err(e) => panic!("palette: {e}"),
    };
    assert_eq!(rgb.photometric, pixels::Photometric::Rgb);
    assert_eq!(rgb.samples.len(), frame.samples.len() * 3);
    let stats = rgb.stats();
    assert!(stats.max > stats.min, "a flat palette image: {stats:?}");
}

/// The volume loader's fast path: header-only open, read the value at the reported
/// offset, `native_to_samples` — identical to a full decode, for LE and BE files.
#[test]
fn direct_read_matches_full_decode() {
    let Some(dir) = corpus_dir() else {
        eprintln!("direct-read test skipped: corpus absent");
        return;
    };
    for name in ["CT_small.dcm", "MR_small_bigendian.dcm", "rtdose_expb.dcm"] {
        let path = dir.join("files").join(name);
        let (Ok(header), Ok(full)) = (
            file::open(&path, ReadMode::HeaderOnly),
            file::open(&path, ReadMode::Full),
        ) else {
            panic!("{name} does not open");
        };
        let Some(location) = header.pixel_data else {
            panic!("{name}: no pixel data location");
        };
        let (Some(offset), Some(length)) = (location.offset, location.length) else {
            panic!("{name}: native pixel data without offset/length");
        };
        let Ok(layout) = pixels::PixelLayout::from_instance(&header) else {
            panic!("{name}: layout");
        };
        assert!(layout.check_native_length(u64::from(length)).is_ok());
        let Ok(bytes) = std::fs::read(&path) else {
            panic!("{name}: read");
        };
        let order = if location.big_endian {
            pixels::ByteOrder::Big
        } else {
            pixels::ByteOrder::Little
        };
        let frame_bytes = layout.native_frame_bytes();
        for frame in 0..layout.number_of_frames {
            let start = offset as usize + frame as usize * frame_bytes;
            let raw = bytes.get(start..).unwrap_or_default();
            let direct = pixels::native_to_samples(raw, &layout, order).map_err(|e| e.to_string());
            let decoded = pixels::decode_frame(&full, frame).map(|f| f.samples);
            assert_eq!(
                direct,
                decoded.map_err(|e| e.to_string()),
                "{name} frame {frame}"
            );
        }
    }
}
