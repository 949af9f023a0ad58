//! Tessera: an offline annotation workstation for medical imaging.
//!
//! Codemap, in data-flow order:
//! - [`imaging`]: DICOM files -> series -> volumes -> slice images (headless).
//! - [`project`]: the encrypted `.tessera` file: keys, signed history, audit log.
//! - [`cli`]: the command-line interface (`tessera hash|info|bench|demo`).
//! - [`recent`]: the recently opened studies (user config folder).
//! - [`app`]: the egui/eframe user interface, the only module that touches egui.

pub mod annotate;
pub mod app;
pub mod cli;
pub mod imaging;
pub mod project;
pub mod recent;

/// What `tessera --version` prints after the program name.
pub const VERSION_LINE: &str = env!("CARGO_PKG_VERSION");
