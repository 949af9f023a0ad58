//! Tessera: an offline annotation workstation for medical imaging.
//!
//! Codemap, in data-flow order:
//! - [`about`]: version, git commit, versions of the loaded OpenSlide and SQLite.
//! - [`allocator`]: the process's allocator settings (set by the binary at start).
//! - [`imaging`]: DICOM files -> series -> volumes -> slice images (headless).
//! - [`annotate`]: annotation geometry and measurements (headless).
//! - [`project`]: the encrypted `.tessera` file: keys, signed history, audit log.
//! - [`interop`]: labels out and in: NIfTI, DICOM SEG and SR (TID 1500), CSV.
//! - [`review`]: clinical QA: agreement between readers.
//! - [`cli`]: the command-line interface (`tessera hash|info|bench|demo`).
//! - [`recent`]: the recently opened studies (user config folder).
//! - [`app`]: the egui/eframe user interface, the only module that touches egui.

pub mod about;
pub mod allocator;
pub mod annotate;
pub mod app;
pub mod cli;
pub mod imaging;
pub mod interop;
pub mod project;
pub mod recent;
pub mod review;

/// The version and commit, known at compile time (see [`about::About`] for the full report).
pub use about::VERSION_LINE;
