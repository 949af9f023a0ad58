//! The one integration-test binary: each module builds its own fixtures.

mod cli;
mod corpus;
mod geometry;
mod layering;
mod project;
mod truncation;
mod ui;
