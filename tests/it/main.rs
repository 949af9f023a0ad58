//! The one integration-test binary; each module builds its own fixtures.

mod ui;
