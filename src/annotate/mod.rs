//! Annotation domain: the geometry and measurements of the tools drawn on images.
//!
//! Owns [`measure`] (lengths, angles, areas and ROI statistics in physical units) and
//! [`shapes`] (what each stored annotation measures, history lines, hit-testing).
//! Headless: the viewer draws and edits annotations; this module says what they
//! measure, so that the numbers on screen, in exports and in tests are one computation.

pub mod measure;
pub mod shapes;
