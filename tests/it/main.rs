//! The one integration-test binary: each module builds its own fixtures.
// Test helpers outside #[test] functions unwrap too: a failed fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod cli;
mod corpus;
mod geometry;
mod interop;
mod layering;
mod measure;
mod packaging;
mod project;
mod review;
mod seg;
mod slide;
mod tags;
mod truncation;
mod ui;
mod ui_annotate;
mod ui_cases;
mod ui_slide;
mod ui_support;
mod ui_tags;
