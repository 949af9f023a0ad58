//! What the window tests share: stepping the app until something has happened (with a
//! deadline), typing into a labelled field, and keeping renders to look at
//! (TESSERA_UI_SHOTS=DIR).

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::app::TesseraApp;

/// Steps the app until `done` holds of its state (at most 60 s), then lets it settle.
pub(crate) fn run_until(
    harness: &mut Harness<'_, TesseraApp>,
    what: &str,
    done: impl Fn(&TesseraApp) -> bool,
) {
    step_until(harness, what, |h| done(h.state()));
}

/// Steps the app until `done` holds of the harness (its widgets, say; at most 60 s),
/// then lets it settle.
pub(crate) fn step_until<'a>(
    harness: &mut Harness<'a, TesseraApp>,
    what: &str,
    done: impl Fn(&Harness<'a, TesseraApp>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(harness) {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 60 s"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run();
}

/// Focuses the field labelled `field` and types `text` into it.
pub(crate) fn type_into(harness: &mut Harness<'_, TesseraApp>, field: &str, text: &str) {
    harness.get_by_label(field).focus();
    harness.run();
    harness.get_by_label(field).type_text(text);
    harness.run();
}

/// Saves a render as NAME.png in TESSERA_UI_SHOTS, when that is set.
pub(crate) fn shot(harness: &mut Harness<'_, TesseraApp>, name: &str) {
    if let Some(dir) = std::env::var_os("TESSERA_UI_SHOTS") {
        let image = harness.render().unwrap();
        image
            .save(Path::new(&dir).join(format!("{name}.png")))
            .unwrap();
    }
}
