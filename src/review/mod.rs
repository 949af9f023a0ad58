//! Clinical QA: agreement between readers: the metrics ([`agreement`]: Dice, IoU, surface
//! distances, κ, finding matching), the report over a project ([`report`]) and its CSV and
//! HTML renderings ([`render`]). Headless; the case workflow (assignments, review states)
//! is not built yet.

pub mod agreement;
pub mod render;
pub mod report;
