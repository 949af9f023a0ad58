//! The `tessera` binary (being written).
fn main() {}
