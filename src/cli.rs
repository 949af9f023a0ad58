//! The command-line interface: argument parsing and the subcommands' output.
//!
//! Owns the contracts other tools drive (`hash`, `info`, `bench load`, `demo`): their
//! names, arguments and output fields. Domain work happens in [`crate::imaging`];
//! this module only formats. Errors reach `main` as `anyhow` and are printed once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use rayon::prelude::*;
use serde_json::json;

use crate::imaging::demo;
use crate::imaging::file::{self, ReadMode};
use crate::imaging::pixels::{self, DecodeError};

mod bench;
mod case;
mod docs;
mod info;
pub mod labels_io;
pub mod project;
mod review;
mod slide;

/// Tessera: annotate DICOM series and whole-slide images offline.
///
/// `--version` (set at run time in [`run`]) also prints the git commit and the OpenSlide
/// and SQLite versions in use; the static [`crate::VERSION_LINE`] is what man pages show.
#[derive(Debug, Parser)]
#[command(name = "tessera", version = crate::VERSION_LINE, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the GUI on DICOM files or folders (no PATH: the built-in demo study; no
    /// subcommand at all: the start screen with recent studies).
    Open {
        /// Files, folders (searched recursively) or a DICOMDIR; or one slide file.
        paths: Vec<PathBuf>,
        /// Open the generated demo slide instead (written into the cache on first use).
        #[arg(long, conflicts_with = "paths")]
        demo_slide: bool,
    },
    /// Print, per file, the SHA-256 and statistics of every decoded frame (JSON lines).
    Hash {
        /// DICOM files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Summarise what discovery finds: series, sizes, geometry, warnings, skipped files;
    /// for one slide file, its levels and properties (without identifying ones).
    Info {
        /// Files, folders (searched recursively), a DICOMDIR, or one slide file.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Write the built-in demo study (generated, no download) as DICOM files into DIR.
    Demo {
        /// Output folder (created if missing).
        dir: PathBuf,
        /// Write the generated demo slide (DIR/tessera-demo.svs) instead of the study.
        #[arg(long)]
        slide: bool,
    },
    /// Create encrypted project files.
    Project {
        #[command(subcommand)]
        what: project::ProjectCommand,
    },
    /// Manage a project's members.
    User {
        #[command(subcommand)]
        what: project::UserCommand,
    },
    /// Import and export annotations: labels JSON, DICOM SEG/SR, NIfTI, CSV.
    Labels {
        #[command(subcommand)]
        what: project::LabelsCommand,
    },
    /// List a project's edit history.
    History(project::HistoryArgs),
    /// Verify a project's signatures, hashes, ciphertexts and cache (exit 1 on failure).
    Verify(project::VerifyArgs),
    /// Print a project's audit log.
    Audit(project::AuditArgs),
    /// Write a signed, encrypted sync bundle of a project's events.
    Export(project::ExportArgs),
    /// Merge a sync bundle into a project (one transaction; --dry-run shows the changes).
    Import(project::ImportArgs),
    /// List disagreements between readers (concurrent edits of the same field).
    Conflicts(project::ConflictsArgs),
    /// Resolve an annotation's conflicts by keeping one version.
    Resolve(project::ResolveArgs),
    /// Clinical QA: cases, their readers and the review flow.
    Case {
        #[command(subcommand)]
        what: case::CaseCommand,
    },
    /// Clinical QA: agreement between readers.
    Review {
        #[command(subcommand)]
        what: review::ReviewCommand,
    },
    /// Test helper: commit edits and print each acknowledged event id.
    #[command(hide = true)]
    DebugCommitLoop(project::CommitLoopArgs),
    /// Packaging: write the man pages (roff, one per command) into DIR.
    #[command(hide = true)]
    Manpages {
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Packaging: print the completion script for SHELL.
    #[command(hide = true)]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Parses the command line and runs it. Usage errors exit 2 (clap's convention).
pub fn run() -> anyhow::Result<ExitCode> {
    // `--version` prints the run-time library versions too, so the version is set here.
    let matches = Cli::command()
        .version(crate::about::About::current().to_string())
        .get_matches();
    let cli =
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
    match cli.command {
        None => open_gui(Vec::new(), false),
        Some(Command::Open {
            demo_slide: true, ..
        }) => open_demo_slide(),
        Some(Command::Open { paths, .. }) => open_gui(paths, true),
        Some(Command::Hash { files }) => hash(&files),
        Some(Command::Info { paths, json }) => info::run(&paths, json),
        Some(Command::Bench { what }) => bench::run(what),
        Some(Command::Demo { dir, slide: true }) => slide::demo_slide_command(&dir),
        Some(Command::Demo { dir, .. }) => demo_command(&dir),
        Some(Command::Project { what }) => project::run_project(what),
        Some(Command::User { what }) => project::run_user(what),
        Some(Command::Labels { what }) => project::run_labels(what),
        Some(Command::History(a)) => project::run_history(a),
        Some(Command::Verify(a)) => project::run_verify(a),
        Some(Command::Audit(a)) => project::run_audit(a),
        Some(Command::Export(a)) => project::run_export(a),
        Some(Command::Import(a)) => project::run_import(a),
        Some(Command::Conflicts(a)) => project::run_conflicts(a),
        Some(Command::Resolve(a)) => project::run_resolve(a),
        Some(Command::Case { what }) => case::run(what),
        Some(Command::Review { what }) => review::run(what),
        Some(Command::DebugCommitLoop(a)) => project::run_commit_loop(a),
        Some(Command::Manpages { out }) => docs::write_manpages(Cli::command(), &out),
        Some(Command::Completions { shell }) => docs::print_completions(Cli::command(), shell),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,tessera=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// `paths` empty and `demo`: the built-in demo study; empty without `demo`: the start
/// screen (recent studies, open actions).
fn open_gui(paths: Vec<PathBuf>, demo_if_empty: bool) -> anyhow::Result<ExitCode> {
    init_logging();
    let paths = if paths.is_empty() && demo_if_empty {
        let dir = demo::demo_cache_dir();
        if !demo::is_demo_study_complete(&dir) {
            eprintln!(
                "tessera: generating the demo study (once) into {}",
                dir.display()
            );
        }
        vec![demo::ensure_cached_demo_study(|_| {}).context("cannot prepare the demo study")?]
    } else {
        paths
    };
    crate::app::run(paths).map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `tessera open --demo-slide`: the generated demo slide, written once into the cache.
fn open_demo_slide() -> anyhow::Result<ExitCode> {
    let path = crate::imaging::slide::synth::demo_slide_path();
    if !path.is_file() {
        eprintln!(
            "tessera: generating the demo slide (once) into {}",
            path.display()
        );
    }
    let path = crate::imaging::slide::synth::ensure_demo_slide()?;
    open_gui(vec![path], false)
}

fn write_demo(dir: &Path) -> anyhow::Result<demo::DemoSummary> {
    demo::write_demo_study(dir, |_| {})
        .with_context(|| format!("cannot write the demo study into {}", dir.display()))
}

fn demo_command(dir: &Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let summary = write_demo(dir)?;
    for series in &summary.series {
        println!(
            "{} {}: {} slices of {}x{} in {}",
            series.modality,
            series.description,
            series.slices,
            series.columns,
            series.rows,
            series.folder.display()
        );
    }
    println!(
        "wrote {} files in {:.1} s (lesion spheres: see docs/demo-study.md)",
        summary.files_written,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tessera hash`: one JSON object per line, in argument order.
fn hash(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let lines: Vec<String> = files.par_iter().map(|f| hash_line(f).to_string()).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn hash_line(path: &Path) -> serde_json::Value {
    let shown = path.display().to_string();
    let one_line = |e: &dyn std::fmt::Display| e.to_string().replace(['\n', '\r'], " ");
    let instance = match file::open(path, ReadMode::Full) {
        Ok(i) => i,
        Err(e) => return json!({"file": shown, "error": one_line(&e)}),
    };
    if !instance.has_pixel_data() {
        return json!({"file": shown, "no_pixels": true});
    }
    let frames = match instance.number_of_frames() {
        Ok(n) => n,
        Err(e) => return json!({"file": shown, "error": one_line(&e)}),
    };
    let mut out = Vec::with_capacity(frames as usize);
    for k in 0..frames {
        match pixels::decode_frame(&instance, k) {
            Ok(frame) => {
                let stats = frame.stats();
                out.push(json!({
                    "sha256": frame.sha256_hex(),
                    "min": stats.min,
                    "max": stats.max,
                    "mean": stats.mean,
                }));
            }
            Err(DecodeError::NoPixelData) => return json!({"file": shown, "no_pixels": true}),
            Err(e) => return json!({"file": shown, "error": one_line(&e)}),
        }
    }
    json!({"file": shown, "frames": out})
}
