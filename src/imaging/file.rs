//! Opening one DICOM file: with or without preamble/meta group, header only or whole.
//!
//! Owns the only place where source files are opened for DICOM parsing; read-only.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};

/// How much of a file to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Stop before Pixel Data: cheap, for discovery.
    HeaderOnly,
    /// Everything, pixel data included.
    Full,
}

/// Why a file could not be opened as DICOM.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a DICOM file: {reason}")]
    NotDicom { reason: String },
}

/// One parsed DICOM file.
pub struct Instance {
    pub path: PathBuf,
    pub object: DefaultDicomObject,
}

/// Opens `path` as DICOM.
pub fn open(path: &Path, mode: ReadMode) -> Result<Instance, OpenError> {
    let options = OpenFileOptions::new();
    let options = match mode {
        ReadMode::HeaderOnly => options.read_until(tags::PIXEL_DATA),
        ReadMode::Full => options,
    };
    let object = options
        .open_file(path)
        .map_err(|e| OpenError::NotDicom { reason: e.to_string() })?;
    Ok(Instance { path: path.to_path_buf(), object })
}
