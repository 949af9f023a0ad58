//! The one integration-test binary: each module builds its own fixtures.

mod corpus;
mod geometry;
mod layering;
mod truncation;
mod ui;
