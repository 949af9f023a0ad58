//! Annotation domain: the geometry and measurements of the tools drawn on images.
//!
//! Owns [`measure`] (lengths, angles, areas and ROI statistics in physical units).
//! Headless: the viewer draws and edits annotations; this module says what they
//! measure, so that the numbers on screen, in exports and in tests are one computation.

pub mod measure;
