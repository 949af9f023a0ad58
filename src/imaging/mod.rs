//! Imaging core: DICOM files -> instances -> series -> volumes -> slice images;
//! whole-slide images -> tiles.
//!
//! Owns reading (never writing) source files, pixel decoding to stored values,
//! grouping into series, stack geometry and the volume buffer, and the slide tile
//! pipeline ([`slide`]). Headless: it never
//! imports egui, eframe or wgpu, and never logs patient data.

pub mod demo;
pub mod discovery;
pub mod display;
pub mod file;
pub mod geometry;
pub mod mpr;
pub mod pixels;
pub mod slide;
pub mod tags;
pub mod volume;
pub mod writer;
