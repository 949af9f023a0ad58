//! The project module's error type: one line each, paths last, no patient data.

use std::path::PathBuf;

use super::crypto::CryptoError;
use super::model::ApplyError;
use super::schema::SchemaError;
use super::verify::Failure;

/// Everything that can go wrong opening, unlocking or editing a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("incorrect passphrase for {user}")]
    IncorrectPassphrase { user: String },
    #[error("no user {user} in this project")]
    UnknownUser { user: String },
    #[error("key slot of {user} is damaged ({reason}); ask an admin or use the recovery code")]
    DamagedSlot { user: String, reason: &'static str },
    #[error("{user} is not an admin of this project")]
    NotAdmin { user: String },
    /// Refused by the roles and review rules (`cases.rs`); the text says why.
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("{user} is already a member of this project")]
    AlreadyMember { user: String },
    #[error("the name {0:?} is reserved")]
    ReservedName(String),
    #[error("the project is locked after {idle_minutes} idle minutes; enter the passphrase again")]
    IdleLocked { idle_minutes: u64 },
    #[error("verification failed: {0}")]
    Verification(#[from] Failure),
    #[error("edit rejected: {0}")]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Bundle(#[from] super::bundle::BundleError),
    #[error("stored label map is damaged: {0}")]
    LabelMap(#[from] crate::annotate::labelmap::LabelMapError),
    #[error("invalid data: {0}")]
    Format(String),
    #[error(
        "refusing to edit on a network or cloud-synced filesystem ({fs}); copy the project to a local disk and open the copy: {path}"
    )]
    NetworkFilesystem { fs: String, path: PathBuf },
    #[error("project is in use by {user} on host {host} (pid {pid}); close it there first: {path}")]
    InUse {
        user: String,
        host: String,
        pid: u32,
        path: PathBuf,
    },
    #[error("not a Tessera project (missing metadata): {0}")]
    NotAProject(PathBuf),
    #[error("a file already exists: {0}")]
    Exists(PathBuf),
    #[error("{context}: {source}: {path}")]
    Io {
        context: &'static str,
        source: std::io::Error,
        path: PathBuf,
    },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl ProjectError {
    /// True for failures of authentication or verification (CLI exit code 1 either way,
    /// but callers may want to tell them from I/O trouble).
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            ProjectError::IncorrectPassphrase { .. }
                | ProjectError::UnknownUser { .. }
                | ProjectError::DamagedSlot { .. }
                | ProjectError::Verification(_)
        )
    }
}
