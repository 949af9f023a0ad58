//! `tessera bench …`: timing what the GUI does, for the performance table.
//! (`bench tiles`, the slide tile pipeline, lives in `cli/slide.rs`.)
//!
//! `bench load DIR` runs `bench load-once DIR` in N fresh processes (so every run pays
//! for its own allocations and thread start-up, with the page cache left as it is) and
//! prints the median of each figure.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::imaging::discovery;
use crate::imaging::volume::{self, LoadEvent};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Load the series in DIR into a volume as the GUI does: median of --runs fresh processes.
    Load {
        /// A folder holding one series (the largest stack found is loaded).
        dir: PathBuf,
        /// How many runs (each a fresh process).
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
    /// One run in this process (what `bench load` starts N times).
    #[command(hide = true)]
    LoadOnce { dir: PathBuf },
    /// Read N random tile-aligned 256x256 regions of a slide through the viewer's tile
    /// pipeline (cache cleared first); prints {"tiles", "seconds", "tiles_per_s", "path",
    /// "peak_rss_bytes"}.
    Tiles(super::slide::TilesArgs),
}

/// The figures of one load, in the contract's field names.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoadFigures {
    slices: u64,
    bytes: u64,
    first_slice_ms: f64,
    volume_ms: f64,
    /// Until every source file's SHA-256 is known too (after `volume_ms`).
    provenance_ms: f64,
    peak_rss_bytes: u64,
}

pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Load { dir, runs } => load(&dir, runs),
        BenchCommand::LoadOnce { dir } => {
            let figures = load_once(&dir)?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Tiles(args) => super::slide::bench_tiles(args),
    }
}

fn load(dir: &Path, runs: u32) -> anyhow::Result<ExitCode> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let exe = std::env::current_exe().context("cannot find the tessera executable")?;
    let mut samples = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        let output = Command::new(&exe)
            .args(["bench", "load-once"])
            .arg(dir)
            .output()
            .context("cannot start a benchmark run")?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            bail!("benchmark run failed: {}", err.trim());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let figures: LoadFigures =
            serde_json::from_str(stdout.trim()).context("cannot read a benchmark run's output")?;
        samples.push(figures);
    }
    let median = |f: &dyn Fn(&LoadFigures) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let first = &samples[0];
    let out = serde_json::json!({
        "slices": first.slices,
        "bytes": first.bytes,
        "first_slice_ms": round3(median(&|s| s.first_slice_ms)),
        "volume_ms": round3(median(&|s| s.volume_ms)),
        "provenance_ms": round3(median(&|s| s.provenance_ms)),
        "peak_rss_bytes": median(&|s| s.peak_rss_bytes as f64) as u64,
        "runs": runs,
        "method": "median of runs, each a fresh process; page cache not dropped; volume_ms: volume ready to show, provenance_ms: every source file's SHA-256 known too",
        "samples_volume_ms": samples.iter().map(|s| round3(s.volume_ms)).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Discover DIR, pick the largest stack, load it; time the first displayable slice
/// and the whole volume from the start of discovery.
fn load_once(dir: &Path) -> anyhow::Result<LoadFigures> {
    let start = Instant::now();
    let found = discovery::discover(&[dir.to_path_buf()]);
    let Some(stack) = found.stacks().max_by_key(|s| s.slices.len()) else {
        bail!("no image series found in {}", dir.display());
    };
    let first_slice_ms = std::sync::OnceLock::new();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let on_event = |event: LoadEvent| {
        if let LoadEvent::FirstSlice(_) = event {
            first_slice_ms.get_or_init(|| start.elapsed().as_secs_f64() * 1e3);
        }
    };
    // As the GUI does: the volume first, the sources' SHA-256 (provenance) right after.
    let options = volume::LoadOptions {
        provenance: volume::Provenance::AfterLoad,
        ..volume::LoadOptions::default()
    };
    let mut loaded = volume::load(stack, &options, &cancel, &on_event)?;
    let volume_ms = start.elapsed().as_secs_f64() * 1e3;
    volume::hash_sources(&mut loaded.sources);
    let provenance_ms = start.elapsed().as_secs_f64() * 1e3;
    if loaded.sources.iter().any(|s| s.sha256.is_none()) {
        bail!("could not hash every source file");
    }
    Ok(LoadFigures {
        slices: u64::from(loaded.geometry.slices),
        bytes: loaded.byte_len() as u64,
        first_slice_ms: first_slice_ms.get().copied().unwrap_or(volume_ms),
        volume_ms,
        provenance_ms,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
    })
}

/// The process's peak resident set size (VmHWM), where /proc exists.
pub(super) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
