//! Fuzzes the sync bundle parser: `cargo +nightly fuzz run bundle_parser` (from `fuzz/`).
//! Each input is parsed as a bundle and, sealed under a fixed key, as a bundle's
//! plaintext, so the record decoders behind the authentication are reached too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tessera::project::sync::fuzz_bundle(data);
});
