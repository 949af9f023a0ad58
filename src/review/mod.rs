//! Clinical QA: agreement between readers (this module's [`agreement`]: Dice, IoU,
//! surface distances, κ, finding matching). Headless; the review workflow builds on it.

pub mod agreement;
