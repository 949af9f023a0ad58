//! Sync by export bundles: [`Session::export_bundle`], [`Session::import_preview`] /
//! [`Session::import_commit`], and the conflict list.
//!
//! Owns what goes into a bundle (manifest, membership records, signed tips, events with
//! their payloads) and the import rules: every event's hash, signature, chain link,
//! parents and payload commitment are checked against the merged membership, the
//! exporter's signature covers the whole content, and everything is applied in one
//! transaction (a preview is the same transaction rolled back). The byte format is in
//! `bundle.rs`, the merge rules in `merge.rs`. Plaintext exists only inside the
//! encrypted stream and in memory; the bundle is written to a temp file in the target's
//! folder, synced, renamed, and read back before success is reported.
//!
//! Layout: `records.rs` (record bodies: manifest, member, tip, event), `export.rs`
//! (writing a bundle, `save_copy`), `import.rs` (reading and applying one),
//! `conflicts.rs` (listing and resolving conflicts, the canonical state), `fuzzing.rs`
//! (hidden: the fuzz harness that `fuzz/` and the stable tests drive).

mod conflicts;
mod export;
#[doc(hidden)]
pub mod fuzzing;
mod import;
mod incoming;
mod records;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use serde::Serialize;

use super::ProjectError;
use super::bundle::BundleError;
use super::crypto::{Aad, Canon};
use super::id::{Id, hex};
use super::merge::Field;
use super::session::Session;

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub events: u64,
    pub members: usize,
    pub bytes: u64,
    /// The exporter's heads: a receiver that imported this bundle can be sent later
    /// bundles `--since` these.
    pub heads: Vec<Id>,
}

/// One side of a conflict.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictVersion {
    pub author: String,
    pub event: Id,
    pub value: String,
}

/// A disagreement on one field of one annotation.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictItem {
    pub annotation: Id,
    /// The shown label of the annotation.
    pub label: String,
    pub field: Field,
    pub versions: Vec<ConflictVersion>,
}

impl ConflictItem {
    /// "annotation 1a2b3c4d (lesion), label: alice: Lesion / bob: Normal".
    pub fn line(&self) -> String {
        let sides: Vec<String> = self
            .versions
            .iter()
            .map(|v| format!("{}: {}", v.author, v.value))
            .collect();
        let what = match self.field {
            Field::Geometry => format!("{} versions of the geometry", self.versions.len()),
            f => f.as_str().to_owned(),
        };
        let noun = match self.field {
            Field::Class => "label class",
            Field::Segmentation | Field::Segment | Field::LabelMap => "segmentation",
            _ => "annotation",
        };
        format!(
            "{noun} {} ({}), {what}: {}",
            self.annotation.short(),
            self.label,
            sides.join(" / ")
        )
    }
}

/// What an import changes (or would change, for a preview).
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub exporter: String,
    pub bundle_events: u64,
    pub already_present: u64,
    /// New events per author name.
    pub new_events: BTreeMap<String, u64>,
    pub new_members: Vec<String>,
    pub new_conflicts: Vec<ConflictItem>,
    /// Heads after the import.
    pub heads: Vec<Id>,
    pub committed: bool,
}

impl ImportSummary {
    pub fn new_event_count(&self) -> u64 {
        self.new_events.values().sum()
    }
}

/// Import mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Check everything and report; change nothing.
    Preview,
    Commit,
}

/// A refusal, kept to one line whatever the bundle put in the names it quotes (control
/// and line-separator characters are shown escaped).
fn refused(msg: String) -> ProjectError {
    let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    let line = if msg.contains(breaks) {
        msg.chars()
            .map(|c| {
                if breaks(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        msg
    };
    ProjectError::Bundle(BundleError::Refused(line))
}

fn bundle_key_label(bundle: &Id) -> String {
    format!("bundle:{}", hex(bundle.as_bytes()))
}

fn data_key_aad<'a>(project: &'a Id, bundle: &'a Id, key_id: &'a str) -> Aad<'a> {
    Aad {
        project,
        table: "bundles",
        column: "content_key",
        row: bundle,
        event: &Id::NIL,
        key_id,
        author: &Id::NIL,
    }
}

fn end_message(project: &Id, header_hash: &[u8; 32], content: &[u8; 32]) -> Vec<u8> {
    Canon::new("tessera-bundle")
        .id(project)
        .bytes(header_hash)
        .bytes(content)
        .finish()
}

impl Session {
    /// The project's current heads (events no other event names as parent).
    pub fn heads(&mut self) -> Result<Vec<Id>, ProjectError> {
        let (project, _) = self.parts()?;
        let mut heads: Vec<Id> = project
            .conn
            .prepare("SELECT event_id FROM heads")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        heads.sort();
        Ok(heads)
    }
}

fn io_err<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl Fn(std::io::Error) -> ProjectError + 'a {
    move |source| ProjectError::Io {
        context,
        source,
        path: path.to_owned(),
    }
}

/// A fresh temp file name in the target's folder.
fn temp_path(out: &Path) -> Result<std::path::PathBuf, ProjectError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    Ok(out.with_file_name(format!(".{name}.tmp-{}", Id::random()?.short())))
}

/// Syncs the folder holding `path` so the rename is durable.
fn sync_dir(path: &Path) -> Result<(), ProjectError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync the bundle's folder", dir))
}
