//! Fuzzes the sync bundle importer: `cargo +nightly fuzz run bundle` (fuzz/README.md).
//!
//! An input whose first byte has its two low bits clear is parsed as a bundle under a
//! fixed key and as a bundle's plaintext (`fuzz_bundle`). Any other input is read as
//! edits of a valid bundle from a tiny project built once per process (`Fixture`):
//! records dropped, repeated, moved or changed field by field and in their payloads'
//! JSON, optionally re-signed as the exporter, sealed under the bundle's own key, then
//! imported into a real project; so the checks after decryption and behind the
//! signatures are reached too. A broken promise of the hostile-bundle rules (a refusal
//! that is not one clear line, a preview or refused import that changed the project, an
//! accepted import that does not verify) is reported as a crash, like a panic.
#![no_main]

use std::cell::RefCell;

use tessera::project::sync::fuzzing::Fixture;

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

fn build() -> Fixture {
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    match Fixture::new(&dir) {
        Ok(f) => f,
        Err(e) => panic!("cannot build the fuzz fixture: {e}"),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    FIXTURE.with_borrow_mut(|f| {
        let fixture = f.get_or_insert_with(build);
        if let Err(broken) = fixture.run(data) {
            panic!("{broken}");
        }
    });
});
