//! Annotation domain: what the tools drawn on images mean, headless.
//!
//! Owns the measurements of shapes on a slice ([`measure`]) and of stored annotations,
//! with their history lines and hit-testing ([`shapes`]), the label schema and its codes
//! ([`schema`], [`codes`]), and 3D segmentation: label maps ([`labelmap`]), their stored
//! form ([`packed`]), what a segmentation is ([`segmentation`]), the painting tools ([`tools`]), "fill between slices"
//! ([`interpolate`]) and per-segment statistics ([`segstats`]). The viewer draws and feeds
//! pointer positions in; this module says what changes and what it measures, so the numbers
//! on screen, in exports and in tests are one computation. Never imports egui, SQLite or
//! the crypto: the project stores the edits these produce (`project::model::Edit`).
//!
//! Painting, in short (the UI's loop):
//! ```text
//! let mut stroke = Stroke::new();                      // pointer down
//! let cs = tools::dab(&map, &grid, hu, &dab, &rule)?;  // each pointer move
//! let changed_bricks = stroke.apply(&mut map, cs);     // re-upload those bricks
//! let edit = stroke.finish(&map, Tool::Brush);         // pointer up: one edit, or None
//! session.commit_edit(Edit::SegmentStroke { segmentation, stroke: edit })?;
//! ```

pub mod codes;
pub mod interpolate;
pub mod labelmap;
pub mod measure;
pub mod packed;
pub mod schema;
pub mod segmentation;
pub mod segstats;
pub mod shapes;
pub mod slide_lod;
pub mod slide_objects;
pub mod tools;
