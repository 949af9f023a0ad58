//! What this build is: Tessera's version, the git commit it was built from, and the
//! versions of the C libraries actually loaded (OpenSlide, SQLite), for `tessera --version`
//! and the GUI. Only asks the libraries for their version strings; opens no file.

use std::fmt;

/// The package version and the commit, known at compile time: `0.1.0 (commit 1a2b3c4d5e)`.
/// The commit comes from `build.rs` ("unknown" outside a git checkout).
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TESSERA_GIT_COMMIT"),
    ")"
);

/// The git commit the binary was built from, or "unknown".
pub const GIT_COMMIT: &str = env!("TESSERA_GIT_COMMIT");

/// Versions of Tessera and of the libraries in use in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// [`VERSION_LINE`].
    pub version_line: &'static str,
    /// What `openslide_get_version()` of the loaded libopenslide returns, or why it failed.
    pub openslide: Result<String, String>,
    /// The SQLite linked in (bundled with rusqlite), e.g. "3.54.1".
    pub sqlite: &'static str,
}

impl About {
    /// Asks the loaded libraries for their versions.
    pub fn current() -> Self {
        Self {
            version_line: VERSION_LINE,
            openslide: openslide_rs::OpenSlide::version().map_err(|e| e.to_string()),
            sqlite: rusqlite::version(),
        }
    }
}

/// Three lines, the first one `VERSION (commit C)`; the caller prefixes the program name:
/// ```text
/// 0.1.0 (commit 1a2b3c4d5e)
/// OpenSlide 3.4.1
/// SQLite 3.54.1
/// ```
impl fmt::Display for About {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.version_line)?;
        match &self.openslide {
            Ok(v) => writeln!(f, "OpenSlide {v}")?,
            Err(e) => writeln!(f, "OpenSlide unknown ({e})")?,
        }
        write!(f, "SQLite {}", self.sqlite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_loaded_libraries() {
        let about = About::current();
        let text = about.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with(env!("CARGO_PKG_VERSION")), "{text}");
        assert!(lines[0].contains("(commit "), "{text}");
        let openslide = about.openslide.as_deref().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            openslide.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{text}"
        );
        assert_eq!(lines[2], format!("SQLite {}", rusqlite::version()));
        assert!(rusqlite::version().starts_with("3."), "{text}");
    }

    #[test]
    fn a_failed_openslide_query_is_shown_not_hidden() {
        let about = About {
            version_line: "9.9.9 (commit abc)",
            openslide: Err("no version".to_owned()),
            sqlite: "3.0.0",
        };
        assert_eq!(
            about.to_string(),
            "9.9.9 (commit abc)\nOpenSlide unknown (no version)\nSQLite 3.0.0"
        );
    }
}
