//! Recently opened studies, kept in the user's configuration folder
//! (`$TESSERA_CONFIG_DIR`, else `$XDG_CONFIG_HOME/tessera`, else `~/.config/tessera`),
//! file `recent.json`, written atomically.
//!
//! Owns that file. Paths can carry patient names (folder names from a PACS export), so
//! the list stays on this machine, in this user's folder, is never logged, and the
//! start screen can clear it. Headless; the GUI reads and writes it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Entries kept, newest first.
pub const MAX_RECENT: usize = 10;

/// One opened set of files or folders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentItem {
    pub paths: Vec<PathBuf>,
    /// Seconds since the Unix epoch.
    pub opened_at: u64,
}

impl RecentItem {
    /// A short name: the first path's last component, "+ N more" when several.
    pub fn title(&self) -> String {
        let first = self
            .paths
            .first()
            .map(|p| {
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            })
            .unwrap_or_default();
        match self.paths.len() {
            0 | 1 => first,
            n => format!("{first} + {} more", n - 1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecentError {
    #[error("cannot write the recent list: {source}: {path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The recent list stored in one folder.
#[derive(Clone, Debug)]
pub struct RecentStore {
    file: PathBuf,
}

impl RecentStore {
    /// The store in the user's configuration folder, if one can be named.
    pub fn for_user() -> Option<RecentStore> {
        let dir = std::env::var_os("TESSERA_CONFIG_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|p| p.join("tessera"))
            })
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config").join("tessera"))
            })?;
        Some(RecentStore::in_folder(&dir))
    }

    /// The configuration folder this store lives in (code lists are kept beside it).
    pub fn folder(&self) -> Option<&Path> {
        self.file.parent()
    }

    pub fn in_folder(dir: &Path) -> RecentStore {
        RecentStore {
            file: dir.join("recent.json"),
        }
    }

    /// The list, newest first; empty when missing or unreadable (it is a convenience).
    pub fn load(&self) -> Vec<RecentItem> {
        let Ok(text) = std::fs::read_to_string(&self.file) else {
            return Vec::new();
        };
        let mut items: Vec<RecentItem> = serde_json::from_str(&text).unwrap_or_default();
        items.truncate(MAX_RECENT);
        items
    }

    /// Puts `paths` first (removing an older entry for the same paths) and saves.
    pub fn push(&self, paths: &[PathBuf], now: u64) -> Result<Vec<RecentItem>, RecentError> {
        let mut items = self.load();
        items.retain(|item| item.paths != paths);
        items.insert(
            0,
            RecentItem {
                paths: paths.to_vec(),
                opened_at: now,
            },
        );
        items.truncate(MAX_RECENT);
        self.save(&items)?;
        Ok(items)
    }

    /// Forgets every entry.
    pub fn clear(&self) -> Result<(), RecentError> {
        self.save(&[])
    }

    fn save(&self, items: &[RecentItem]) -> Result<(), RecentError> {
        let err = |source| RecentError::Write {
            path: self.file.display().to_string(),
            source,
        };
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let text = serde_json::to_string_pretty(items).unwrap_or_else(|_| "[]".to_owned());
        let temp = self.file.with_extension("json.tmp");
        std::fs::write(&temp, text).map_err(err)?;
        std::fs::rename(&temp, &self.file).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecentStore::in_folder(&dir.path().join("cfg"));
        assert!(store.load().is_empty());
        let a = vec![PathBuf::from("/data/a")];
        let b = vec![PathBuf::from("/data/b"), PathBuf::from("/data/c")];
        store.push(&a, 1).unwrap();
        store.push(&b, 2).unwrap();
        let items = store.push(&a, 3).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].paths, a);
        assert_eq!(items[0].opened_at, 3);
        assert_eq!(items[1].title(), "b + 1 more");
        for n in 0..20 {
            store
                .push(&[PathBuf::from(format!("/x/{n}"))], 10 + n)
                .unwrap();
        }
        let items = store.load();
        assert_eq!(items.len(), MAX_RECENT);
        assert_eq!(items[0].title(), "19");
        store.clear().unwrap();
        assert!(store.load().is_empty());
    }

    #[test]
    fn a_corrupt_list_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("recent.json"), "{not json").unwrap();
        assert!(RecentStore::in_folder(dir.path()).load().is_empty());
    }
}
