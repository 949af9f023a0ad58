//! Annotation domain: what the tools drawn on images mean, headless.
//!
//! Owns the measurements of shapes on a slice ([`measure`]) and the label schema and its
//! codes ([`schema`], [`codes`]). The viewer draws; this module says what it measures and
//! what it is called, so the numbers and codes on screen, in exports and in tests are one
//! computation. Never imports egui, SQLite or the crypto.

pub mod codes;
pub mod measure;
pub mod schema;
