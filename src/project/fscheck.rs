//! Refuses live editing on network and cloud-synced filesystems.
//!
//! Owns the check only: `statfs` magic numbers (SMB/CIFS, NFS, FUSE sync clients, AFS,
//! Coda, 9p, Ceph) and well-known sync-folder names. SQLite's WAL and locking are not safe
//! there, and sync clients can upload half-written files.

use std::path::{Path, PathBuf};

use super::ProjectError;

/// Filesystem magic numbers (linux/magic.h and fs sources) of remote or synced mounts.
const REMOTE_MAGICS: &[(u64, &str)] = &[
    (0x6969, "nfs"),
    (0x517b, "smb"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x6573_5546, "fuse"),
    (0x5346_414f, "afs"),
    (0x7375_7245, "coda"),
    (0x0102_1997, "9p"),
    (0x00c3_6400, "ceph"),
    (0x0bd0_0bd0, "lustre"),
];

/// Folders that desktop sync clients upload.
const SYNC_FOLDERS: &[&str] = &[
    "Dropbox",
    "OneDrive",
    "Google Drive",
    "GoogleDrive",
    "iCloud Drive",
    "Nextcloud",
    "ownCloud",
    "pCloudDrive",
    "Box Sync",
];

/// The kind of remote filesystem for a statfs magic number, if it is one.
pub fn remote_kind(magic: u64) -> Option<&'static str> {
    REMOTE_MAGICS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

/// Errors when `path` (a project file, existing or about to be created) lives on a network
/// filesystem or in a cloud-synced folder.
pub fn check_local(path: &Path) -> Result<(), ProjectError> {
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let refuse = |fs: String| {
        Err(ProjectError::NetworkFilesystem {
            fs,
            path: path.to_owned(),
        })
    };
    let resolved = dir.canonicalize().unwrap_or(dir);
    if let Some(name) = resolved
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .find(|c| SYNC_FOLDERS.contains(c))
    {
        return refuse(format!("{name} sync folder"));
    }
    #[cfg(target_os = "linux")]
    if let Ok(st) = rustix::fs::statfs(&resolved) {
        // The field's integer type differs between architectures; magic numbers are 32-bit.
        #[allow(clippy::unnecessary_cast)]
        let magic = (st.f_type as i64 as u64) & 0xffff_ffff;
        if let Some(kind) = remote_kind(magic) {
            return refuse(kind.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn classifies_magic_numbers_and_sync_folders() {
        assert_eq!(remote_kind(0xff53_4d42), Some("cifs"));
        assert_eq!(remote_kind(0x6969), Some("nfs"));
        assert_eq!(remote_kind(0xef53), None); // ext4
        assert!(check_local(&std::env::temp_dir().join("x.tessera")).is_ok());
        let synced = std::env::temp_dir().join("Dropbox").join("x.tessera");
        assert!(matches!(
            check_local(&synced),
            Err(ProjectError::NetworkFilesystem { .. })
        ));
    }
}
