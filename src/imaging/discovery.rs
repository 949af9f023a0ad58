//! Discovery: files, folders and DICOMDIRs → patient → study → series → stacks.
//!
//! Owns finding candidate files (folders recursively, DICOMDIR records followed),
//! reading their headers in parallel (header only, never pixel data), skipping what
//! is not a usable image with a one-line reason, grouping, and the serialisable
//! summary printed by `tessera info --json`.
//!
//! Provenance: the SHA-256 of each file is *not* computed here (that would read
//! every byte of every file found just to list them). The volume loader hashes each
//! file of the stack it loads, in the same sequential read that fetches the pixels
//! where it can (see [`crate::imaging::volume`]); [`sha256_file`] is there for
//! anyone who needs one hash now.

mod header;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::geometry::{
    self, GeometrySummary, GeometryWarning, SliceInput, StackGeometry, StackHints,
};

pub use header::{
    BirthDate, FrameInfo, InstanceInfo, PatientIdentity, PixelFormat, Rescale, Signedness, Window,
};

/// A file that was not used, and why (one line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.path.display())
    }
}

/// Everything found under the given inputs.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    pub patients: Vec<Patient>,
    pub skipped: Vec<Skipped>,
    /// Candidate files whose header was read (images, DICOMDIRs and skipped files).
    pub files_examined: usize,
    pub dicomdirs: usize,
}

#[derive(Clone, Debug)]
pub struct Patient {
    pub identity: PatientIdentity,
    pub studies: Vec<Study>,
}

#[derive(Clone, Debug)]
pub struct Study {
    pub study_instance_uid: String,
    pub study_date: String,
    pub study_description: String,
    pub series: Vec<Series>,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub series_instance_uid: String,
    pub series_number: Option<i64>,
    pub modality: String,
    pub description: String,
    /// Every instance of the series, in discovery order.
    pub instances: Vec<Arc<InstanceInfo>>,
    /// What can be loaded as volumes: one or more per series.
    pub stacks: Vec<Stack>,
}

/// One image of a stack: a single-frame file, or one frame of a multi-frame file.
#[derive(Clone, Debug)]
pub struct SliceRef {
    pub instance: Arc<InstanceInfo>,
    /// 0-based frame number within `instance`.
    pub frame: u32,
}

impl SliceRef {
    /// The per-frame info of an enhanced multi-frame image, if any.
    pub fn frame_info(&self) -> Option<&FrameInfo> {
        self.instance.frames.get(self.frame as usize)
    }

    /// The modality LUT of this slice (per-frame values first).
    pub fn rescale(&self) -> Rescale {
        self.frame_info()
            .and_then(|f| f.rescale)
            .unwrap_or(self.instance.rescale)
    }

    /// The header windows of this slice (per-frame value first).
    pub fn windows(&self) -> Vec<Window> {
        match self.frame_info().and_then(|f| f.window) {
            Some(w) => vec![w],
            None => self.instance.windows.clone(),
        }
    }
}

/// Slices that form one volume, in `k` order, with their geometry.
#[derive(Clone, Debug)]
pub struct Stack {
    pub slices: Vec<SliceRef>,
    pub geometry: StackGeometry,
    pub warnings: Vec<GeometryWarning>,
}

impl Stack {
    /// The pixel format shared by every slice (stacks never mix formats).
    pub fn pixel_format(&self) -> Option<&PixelFormat> {
        self.slices.first().map(|s| &s.instance.pixel_format)
    }
}

/// Whether patient identity goes into a summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PatientNames {
    /// Default: counts only, no names or IDs.
    #[default]
    Omit,
    Include,
}

/// Finds and groups every image under `inputs` (files, folders, DICOMDIRs).
pub fn discover(inputs: &[PathBuf]) -> Discovery {
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    let mut candidates = Vec::new();
    for input in inputs {
        collect(input, &mut seen, &mut candidates, &mut skipped);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(scan_threads())
        .thread_name(|i| format!("tessera-scan-{i}"))
        .build();
    let scan_all = |paths: &[PathBuf]| -> Vec<Result<header::Scanned, String>> {
        let run = || paths.par_iter().map(|p| header::scan(p)).collect();
        match &pool {
            Ok(pool) => pool.install(run),
            Err(_) => paths.iter().map(|p| header::scan(p)).collect(),
        }
    };

    let mut infos: Vec<InstanceInfo> = Vec::new();
    let mut discovery = Discovery::default();
    // DICOMDIRs add candidates; loop until no new files (bounded: `seen` only grows).
    while !candidates.is_empty() {
        let batch = std::mem::take(&mut candidates);
        discovery.files_examined += batch.len();
        for (path, scanned) in batch.iter().zip(scan_all(&batch)) {
            match scanned {
                Ok(header::Scanned::Image(info)) => infos.push(*info),
                Ok(header::Scanned::Directory(files)) => {
                    discovery.dicomdirs += 1;
                    for file in files {
                        if file.is_file() {
                            collect(&file, &mut seen, &mut candidates, &mut skipped);
                        } else {
                            skipped.push(Skipped {
                                reason: "referenced by a DICOMDIR but missing".to_string(),
                                path: file,
                            });
                        }
                    }
                }
                Err(reason) => skipped.push(Skipped {
                    path: path.clone(),
                    reason,
                }),
            }
        }
    }
    let infos = dedupe(infos, &mut skipped);
    discovery.patients = group(infos);
    discovery.skipped = skipped;
    tracing::info!(
        files = discovery.files_examined,
        skipped = discovery.skipped.len(),
        patients = discovery.patients.len(),
        "discovery finished"
    );
    discovery
}

fn scan_threads() -> usize {
    // Header reads wait on storage as much as on CPU: a few more threads than cores.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(2, 16)
}

/// Adds `path` (a file, or every file under a folder) to `out`, once each.
fn collect(
    path: &Path,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<Skipped>,
) {
    // (path as given or listed, its canonical form when already known). Entries of a
    // canonical folder that are not symbolic links are canonical as joined, and their
    // type comes with the listing: no per-file path resolution or stat.
    let mut pending: Vec<(PathBuf, Option<(PathBuf, EntryKind)>)> =
        vec![(path.to_path_buf(), None)];
    let mut files = Vec::new();
    while let Some((p, known)) = pending.pop() {
        let (canonical, kind) = match known {
            Some(known) => known,
            None => match std::fs::canonicalize(&p) {
                Ok(c) => {
                    let kind = EntryKind::of(&c);
                    (c, kind)
                }
                Err(e) => {
                    skipped.push(Skipped {
                        reason: format!("cannot read: {e}"),
                        path: p,
                    });
                    continue;
                }
            },
        };
        if !seen.insert(canonical.clone()) {
            continue;
        }
        match kind {
            EntryKind::Dir => match std::fs::read_dir(&p) {
                // Hidden entries inside a folder (.DS_Store, ._ files, markers) are
                // not candidates; a hidden file named explicitly still is.
                Ok(entries) => pending.extend(
                    entries
                        .filter_map(|e| e.ok())
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .map(|e| {
                            let known = e
                                .file_type()
                                .ok()
                                .and_then(EntryKind::listed)
                                .map(|kind| (canonical.join(e.file_name()), kind));
                            (e.path(), known)
                        }),
                ),
                Err(e) => skipped.push(Skipped {
                    reason: format!("cannot list folder: {e}"),
                    path: p,
                }),
            },
            EntryKind::File => files.push(p),
            EntryKind::Other => skipped.push(Skipped {
                reason: "not a regular file".to_string(),
                path: p,
            }),
        }
    }
    files.sort();
    out.extend(files);
}

/// What a candidate path is, once symbolic links are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryKind {
    Dir,
    File,
    Other,
}

impl EntryKind {
    /// Of a canonical path (follows nothing: it has no links left).
    fn of(path: &Path) -> Self {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => EntryKind::Dir,
            Ok(m) if m.is_file() => EntryKind::File,
            _ => EntryKind::Other,
        }
    }

    /// From a folder listing; `None` for a symbolic link (resolved by path instead).
    fn listed(t: std::fs::FileType) -> Option<Self> {
        if t.is_symlink() {
            None
        } else if t.is_dir() {
            Some(EntryKind::Dir)
        } else if t.is_file() {
            Some(EntryKind::File)
        } else {
            Some(EntryKind::Other)
        }
    }
}

/// Drops second copies of one SOP instance (the same file found twice).
fn dedupe(infos: Vec<InstanceInfo>, skipped: &mut Vec<Skipped>) -> Vec<InstanceInfo> {
    let mut first_path: HashMap<String, PathBuf> = HashMap::new();
    let mut kept = Vec::with_capacity(infos.len());
    for info in infos {
        if !info.sop_instance_uid.is_empty() {
            if let Some(first) = first_path.get(&info.sop_instance_uid) {
                skipped.push(Skipped {
                    reason: format!(
                        "duplicate SOP instance, already found in {}",
                        first.display()
                    ),
                    path: info.path,
                });
                continue;
            }
            first_path.insert(info.sop_instance_uid.clone(), info.path.clone());
        }
        kept.push(info);
    }
    kept
}

fn group(infos: Vec<InstanceInfo>) -> Vec<Patient> {
    type SeriesMap = BTreeMap<String, Vec<Arc<InstanceInfo>>>;
    let mut tree: BTreeMap<PatientIdentity, BTreeMap<String, SeriesMap>> = BTreeMap::new();
    for info in infos {
        tree.entry(info.patient.clone())
            .or_default()
            .entry(info.study_instance_uid.clone())
            .or_default()
            .entry(info.series_instance_uid.clone())
            .or_default()
            .push(Arc::new(info));
    }
    tree.into_iter()
        .map(|(identity, studies)| {
            let mut studies: Vec<Study> = studies
                .into_iter()
                .filter_map(|(study_instance_uid, series)| {
                    let mut series: Vec<Series> =
                        series.into_values().filter_map(make_series).collect();
                    series.sort_by(|a, b| {
                        (a.series_number, &a.description).cmp(&(b.series_number, &b.description))
                    });
                    let first = series.first()?.instances.first()?.clone();
                    Some(Study {
                        study_instance_uid,
                        study_date: first.study_date.clone(),
                        study_description: first.study_description.clone(),
                        series,
                    })
                })
                .collect();
            studies.sort_by(|a, b| a.study_date.cmp(&b.study_date));
            Patient { identity, studies }
        })
        .collect()
}

fn make_series(instances: Vec<Arc<InstanceInfo>>) -> Option<Series> {
    let first = instances.first()?.clone();
    let stacks = stacks_of(&instances);
    Some(Series {
        series_instance_uid: first.series_instance_uid.clone(),
        series_number: first.series_number,
        modality: first.modality.clone(),
        description: first.series_description.clone(),
        instances,
        stacks,
    })
}

fn hints(info: &InstanceInfo) -> StackHints {
    StackHints {
        slice_thickness_mm: info
            .frames
            .first()
            .and_then(|f| f.slice_thickness_mm)
            .or(info.slice_thickness_mm),
        spacing_between_slices_mm: info.spacing_between_slices_mm,
        gantry_tilt_deg: info.gantry_tilt_deg,
    }
}

/// The geometry input of frame `frame` of `info`.
fn slice_input(info: &InstanceInfo, frame: u32) -> SliceInput {
    let top = SliceInput {
        position_mm: info.image_position_mm,
        orientation: info.image_orientation,
        pixel_spacing_mm: info.pixel_spacing_mm,
        rows: info.rows,
        columns: info.columns,
        instance_number: info.instance_number,
        layer_key: info.layer_key,
        format_key: info.pixel_format.format_key(),
    };
    match info.frames.get(frame as usize) {
        Some(f) => SliceInput {
            position_mm: f.position_mm.or(top.position_mm.filter(|_| frame == 0)),
            orientation: f.orientation.or(top.orientation),
            pixel_spacing_mm: f.pixel_spacing_mm.or(top.pixel_spacing_mm),
            instance_number: if info.number_of_frames > 1 {
                Some(i64::from(frame))
            } else {
                top.instance_number
            },
            layer_key: f.layer_key,
            ..top
        },
        // A multi-frame image without functional groups: frames in file order,
        // the top-level position (if any) is that of the first frame.
        None if info.number_of_frames > 1 => SliceInput {
            position_mm: top.position_mm.filter(|_| frame == 0),
            instance_number: Some(i64::from(frame)),
            ..top
        },
        None => top,
    }
}

/// Single-frame instances of a series stack together; each multi-frame instance
/// makes its own stack(s).
fn stacks_of(instances: &[Arc<InstanceInfo>]) -> Vec<Stack> {
    let mut stacks = Vec::new();
    let singles: Vec<&Arc<InstanceInfo>> = instances
        .iter()
        .filter(|i| i.number_of_frames == 1)
        .collect();
    if let Some(first) = singles.first() {
        let inputs: Vec<SliceInput> = singles.iter().map(|i| slice_input(i, 0)).collect();
        let slices: Vec<SliceRef> = singles
            .iter()
            .map(|i| SliceRef {
                instance: Arc::clone(i),
                frame: 0,
            })
            .collect();
        stacks.extend(layouts_to_stacks(&inputs, &hints(first), &slices));
    }
    for multi in instances.iter().filter(|i| i.number_of_frames > 1) {
        let inputs: Vec<SliceInput> = (0..multi.number_of_frames)
            .map(|f| slice_input(multi, f))
            .collect();
        let slices: Vec<SliceRef> = (0..multi.number_of_frames)
            .map(|frame| SliceRef {
                instance: Arc::clone(multi),
                frame,
            })
            .collect();
        stacks.extend(layouts_to_stacks(&inputs, &hints(multi), &slices));
    }
    stacks
}

fn layouts_to_stacks(inputs: &[SliceInput], hints: &StackHints, slices: &[SliceRef]) -> Vec<Stack> {
    geometry::arrange(inputs, hints)
        .into_iter()
        .map(|layout| Stack {
            slices: layout
                .order
                .iter()
                .filter_map(|&i| slices.get(i).cloned())
                .collect(),
            geometry: layout.geometry,
            warnings: layout.warnings,
        })
        .collect()
}

/// SHA-256 of a whole file, lowercase hex (streamed, constant memory).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `tessera info --json`: what was found, without patient names by default.
#[derive(Clone, Debug, Serialize)]
pub struct DiscoverySummary {
    pub files_examined: usize,
    pub dicomdirs: usize,
    pub patients: usize,
    pub studies: usize,
    pub instances: usize,
    pub series: Vec<SeriesSummary>,
    pub skipped: Vec<Skipped>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesSummary {
    /// Index of the patient in this discovery (0-based), identity-free.
    pub patient_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub series_number: Option<i64>,
    pub description: String,
    pub modality: String,
    pub instances: usize,
    pub stacks: Vec<StackSummary>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StackSummary {
    pub rows: u32,
    pub columns: u32,
    pub slices: u32,
    /// `rows×columns×slices`.
    pub size: String,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub photometric: String,
    pub transfer_syntax_uid: String,
    pub geometry: GeometrySummary,
    pub warnings: Vec<GeometryWarning>,
    /// The warnings as one line of text each.
    pub warning_text: Vec<String>,
}

impl Stack {
    pub fn summary(&self) -> StackSummary {
        let g = &self.geometry;
        let first = self.slices.first().map(|s| &s.instance);
        StackSummary {
            rows: g.rows,
            columns: g.columns,
            slices: g.slices,
            size: format!("{}×{}×{}", g.rows, g.columns, g.slices),
            samples_per_pixel: first.map_or(0, |i| i.pixel_format.samples_per_pixel),
            bits_allocated: first.map_or(0, |i| i.pixel_format.bits_allocated),
            photometric: first
                .map(|i| i.pixel_format.photometric.clone())
                .unwrap_or_default(),
            transfer_syntax_uid: first
                .map(|i| i.transfer_syntax_uid.clone())
                .unwrap_or_default(),
            geometry: g.summary(),
            warnings: self.warnings.clone(),
            warning_text: self.warnings.iter().map(|w| w.to_string()).collect(),
        }
    }
}

impl Discovery {
    /// Every series, with the index of its patient.
    pub fn series(&self) -> impl Iterator<Item = (usize, &Study, &Series)> {
        self.patients.iter().enumerate().flat_map(|(p, patient)| {
            patient
                .studies
                .iter()
                .flat_map(move |study| study.series.iter().map(move |s| (p, study, s)))
        })
    }

    /// Every stack of every series.
    pub fn stacks(&self) -> impl Iterator<Item = &Stack> {
        self.series().flat_map(|(_, _, s)| s.stacks.iter())
    }

    pub fn summary(&self, names: PatientNames) -> DiscoverySummary {
        let series: Vec<SeriesSummary> = self
            .series()
            .map(|(p, study, s)| {
                let identity = self.patients.get(p).map(|pt| &pt.identity);
                let include = |v: Option<&String>| match names {
                    PatientNames::Include => v.cloned(),
                    PatientNames::Omit => None,
                };
                SeriesSummary {
                    patient_index: p,
                    patient_id: include(identity.map(|i| &i.id)),
                    patient_name: include(identity.map(|i| &i.name)),
                    study_instance_uid: study.study_instance_uid.clone(),
                    series_instance_uid: s.series_instance_uid.clone(),
                    series_number: s.series_number,
                    description: s.description.clone(),
                    modality: s.modality.clone(),
                    instances: s.instances.len(),
                    stacks: s.stacks.iter().map(Stack::summary).collect(),
                }
            })
            .collect();
        DiscoverySummary {
            files_examined: self.files_examined,
            dicomdirs: self.dicomdirs,
            patients: self.patients.len(),
            studies: self.patients.iter().map(|p| p.studies.len()).sum(),
            instances: series.iter().map(|s| s.instances).sum(),
            series,
            skipped: self.skipped.clone(),
        }
    }
}
