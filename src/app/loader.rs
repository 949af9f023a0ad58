//! Background loading for the viewer: one named thread scans the given paths, groups
//! DICOM files into series and decodes their slices, reporting [`LoadEvent`]s over a
//! bounded channel that the UI drains once per frame.
//!
//! Owns the loader thread and the viewer's in-memory series. Stand-in: [`read_study`]
//! is the single function to replace with `imaging::discovery` + `imaging::volume`
//! once they land; everything else here stays. Never touches UI state directly and
//! never logs patient data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use crate::imaging::display::{ModalityLut, VoiWindow};
use crate::imaging::file::{self, ReadMode};
use crate::imaging::pixels::{self, Frame, Samples};

/// Everything the viewer shows about a series except its pixels. Patient-free.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesInfo {
    pub description: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub rows: u32,
    pub columns: u32,
    pub slice_count: usize,
    /// PixelSpacing: between rows, then between columns (mm).
    pub pixel_spacing_mm: [f64; 2],
    /// ImageOrientationPatient: row direction cosines, then column direction cosines.
    pub orientation: [f64; 6],
    pub modality_lut: ModalityLut,
    /// The first WindowCenter/WindowWidth pair of the first slice, if any.
    pub file_window: Option<VoiWindow>,
    /// BitsStored, for scaling colour samples wider than 8 bits.
    pub bits_stored: u8,
}

/// One decoded slice and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceImage {
    /// ImagePositionPatient: centre of the first pixel, LPS mm.
    pub position_mm: [f64; 3],
    pub frame: Frame,
}

/// Which pass the loader is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStage {
    Scanning,
    Decoding,
}

/// What the loader thread reports, in order: progress, the series found, each
/// series' slices as they are decoded, problems, then `Finished`.
#[derive(Debug)]
pub enum LoadEvent {
    Progress {
        stage: LoadStage,
        done: usize,
        total: usize,
    },
    SeriesFound(Vec<SeriesInfo>),
    SeriesLoaded {
        index: usize,
        slices: Vec<SliceImage>,
        /// The file's window, or one spanning the series' values when it has none.
        window: VoiWindow,
    },
    /// A file or series that could not be read; short, patient-free text.
    Problem(String),
    Finished {
        skipped_files: usize,
    },
}

/// A running load; dropping it stops the thread at its next report.
pub struct Loader {
    events: Receiver<LoadEvent>,
    _thread: JoinHandle<()>,
}

/// Reports buffered between the loader and the UI before the loader waits.
const CHANNEL_CAPACITY: usize = 64;

impl Loader {
    /// Starts loading `paths` (files or folders, searched recursively) on the
    /// "series-load" thread; `notify` is called after every report (to wake the UI).
    pub fn spawn(paths: Vec<PathBuf>, notify: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (sender, events) = std::sync::mpsc::sync_channel(CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("series-load".into())
            .spawn(move || {
                read_study(&paths, &mut |event| send(&sender, event, &notify));
            })?;
        Ok(Self {
            events,
            _thread: thread,
        })
    }

    /// The next report, if one is waiting.
    pub fn try_next(&self) -> Option<LoadEvent> {
        self.events.try_recv().ok()
    }
}

/// Sends one event, waiting while the channel is full; false once the UI is gone.
fn send(sender: &SyncSender<LoadEvent>, event: LoadEvent, notify: &dyn Fn()) -> bool {
    let sent = match sender.try_send(event) {
        Ok(()) => true,
        Err(TrySendError::Full(event)) => {
            notify();
            sender.send(event).is_ok()
        }
        Err(TrySendError::Disconnected(_)) => false,
    };
    notify();
    sent
}

/// Header fields of one single-frame image.
struct SliceHeader {
    path: PathBuf,
    series_uid: String,
    instance_number: i64,
    position_mm: Option<[f64; 3]>,
    info: SeriesInfo,
}

/// Reads every series under `paths`, reporting through `report` (which returns false
/// to stop). The stand-in for discovery + volume: single-frame images only, grouped by
/// SeriesInstanceUID and sorted into display order ([`sort_slices`]).
pub fn read_study(paths: &[PathBuf], report: &mut dyn FnMut(LoadEvent) -> bool) {
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, 0, &mut files);
    }
    files.sort();

    let total = files.len();
    let mut series: BTreeMap<String, Vec<SliceHeader>> = BTreeMap::new();
    let mut skipped_files = 0;
    for (done, path) in files.into_iter().enumerate() {
        match file::open(&path, ReadMode::HeaderOnly) {
            Ok(instance) => match slice_header(path, &instance.object) {
                Some(header) => series
                    .entry(header.series_uid.clone())
                    .or_default()
                    .push(header),
                None => skipped_files += 1,
            },
            Err(_) => skipped_files += 1,
        }
        if (done + 1).is_multiple_of(16) || done + 1 == total {
            let progress = LoadEvent::Progress {
                stage: LoadStage::Scanning,
                done: done + 1,
                total,
            };
            if !report(progress) {
                return;
            }
        }
    }

    let mut series: Vec<Vec<SliceHeader>> = series.into_values().collect();
    for slices in &mut series {
        sort_slices(slices);
    }
    series.sort_by_key(|slices| {
        let first = &slices[0].info;
        (
            first.series_number.unwrap_or(i64::MAX),
            first.description.clone(),
        )
    });
    let infos = series
        .iter()
        .map(|slices| SeriesInfo {
            slice_count: slices.len(),
            ..slices[0].info.clone()
        })
        .collect();
    if !report(LoadEvent::SeriesFound(infos)) {
        return;
    }

    let total: usize = series.iter().map(Vec::len).sum();
    let mut done = 0usize;
    for (index, headers) in series.iter().enumerate() {
        let mut slices = Vec::with_capacity(headers.len());
        for header in headers {
            match decode_slice(header) {
                Ok(slice) => slices.push(slice),
                Err(reason) => {
                    if !report(LoadEvent::Problem(reason)) {
                        return;
                    }
                }
            }
            done += 1;
            if done.is_multiple_of(8) || done == total {
                let progress = LoadEvent::Progress {
                    stage: LoadStage::Decoding,
                    done,
                    total,
                };
                if !report(progress) {
                    return;
                }
            }
        }
        let first = &headers[0].info;
        let window = first
            .file_window
            .unwrap_or_else(|| window_spanning(&slices, first.modality_lut));
        if !report(LoadEvent::SeriesLoaded {
            index,
            slices,
            window,
        }) {
            return;
        }
    }
    report(LoadEvent::Finished { skipped_files });
}

/// Folders deeper than this below a given path are not searched.
const MAX_FOLDER_DEPTH: usize = 8;

fn collect_files(path: &Path, depth: usize, files: &mut Vec<PathBuf>) {
    if path.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    if depth > MAX_FOLDER_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        collect_files(&entry.path(), depth + 1, files);
    }
}

fn text(object: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let value = object.element_opt(tag).ok()??.to_str().ok()?;
    Some(value.trim().to_string())
}

fn floats(object: &DefaultDicomObject, tag: Tag) -> Option<Vec<f64>> {
    object.element_opt(tag).ok()??.to_multi_float64().ok()
}

fn int(object: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    object.element_opt(tag).ok()??.to_int::<i64>().ok()
}

/// The header of a single-frame image, or None for anything else.
fn slice_header(path: PathBuf, object: &DefaultDicomObject) -> Option<SliceHeader> {
    let series_uid = text(object, tags::SERIES_INSTANCE_UID)?;
    let rows = u32::try_from(int(object, tags::ROWS)?).ok()?;
    let columns = u32::try_from(int(object, tags::COLUMNS)?).ok()?;
    let spacing = floats(object, tags::PIXEL_SPACING).unwrap_or_default();
    let pixel_spacing_mm = match spacing.as_slice() {
        [row, column] if *row > 0.0 && *column > 0.0 => [*row, *column],
        _ => [1.0, 1.0],
    };
    let orientation = floats(object, tags::IMAGE_ORIENTATION_PATIENT)
        .and_then(|v| <[f64; 6]>::try_from(v).ok())
        .unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let position_mm =
        floats(object, tags::IMAGE_POSITION_PATIENT).and_then(|v| <[f64; 3]>::try_from(v).ok());
    let first = |tag| floats(object, tag).and_then(|v| v.first().copied());
    let file_window = match (first(tags::WINDOW_CENTER), first(tags::WINDOW_WIDTH)) {
        (Some(center), Some(width)) if width >= 1.0 => Some(VoiWindow::new(center, width)),
        _ => None,
    };
    Some(SliceHeader {
        path,
        series_uid,
        instance_number: int(object, tags::INSTANCE_NUMBER).unwrap_or(0),
        position_mm,
        info: SeriesInfo {
            description: text(object, tags::SERIES_DESCRIPTION).unwrap_or_default(),
            modality: text(object, tags::MODALITY).unwrap_or_default(),
            series_number: int(object, tags::SERIES_NUMBER),
            rows,
            columns,
            slice_count: 1,
            pixel_spacing_mm,
            orientation,
            modality_lut: ModalityLut {
                slope: first(tags::RESCALE_SLOPE).unwrap_or(1.0),
                intercept: first(tags::RESCALE_INTERCEPT).unwrap_or(0.0),
            },
            file_window,
            bits_stored: int(object, tags::BITS_STORED).map_or(8, |b| b.clamp(1, 16) as u8),
        },
    })
}

/// Sorts into display order: slice 1 is the most superior (axial), right (sagittal)
/// or anterior (coronal) one, following the normal's dominant axis; InstanceNumber
/// breaks ties and orders slices without a position.
fn sort_slices(slices: &mut [SliceHeader]) {
    let order = |s: &SliceHeader| {
        let o = s.info.orientation;
        let normal = [
            o[1] * o[5] - o[2] * o[4],
            o[2] * o[3] - o[0] * o[5],
            o[0] * o[4] - o[1] * o[3],
        ];
        let axis = (0..3)
            .max_by(|a, b| normal[*a].abs().total_cmp(&normal[*b].abs()))
            .unwrap_or(2);
        // Increasing towards patient left (x), posterior (y) and inferior (-z).
        let sign = normal[axis].signum() * if axis == 2 { -1.0 } else { 1.0 };
        s.position_mm.map_or(0.0, |p| {
            sign * (p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])
        })
    };
    slices.sort_by(|a, b| {
        order(a)
            .total_cmp(&order(b))
            .then(a.instance_number.cmp(&b.instance_number))
    });
}

fn decode_slice(header: &SliceHeader) -> Result<SliceImage, String> {
    let instance = file::open(&header.path, ReadMode::Full).map_err(|e| e.to_string())?;
    let frame = pixels::decode_frame(&instance, 0).map_err(|e| e.to_string())?;
    Ok(SliceImage {
        position_mm: header.position_mm.unwrap_or_default(),
        frame,
    })
}

/// A window from the lowest to the highest modality value in the series.
fn window_spanning(slices: &[SliceImage], lut: ModalityLut) -> VoiWindow {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for slice in slices {
        let (lo, hi) = sample_range(&slice.frame.samples);
        low = low.min(lut.apply(lo));
        high = high.max(lut.apply(hi));
    }
    if !low.is_finite() || !high.is_finite() {
        return VoiWindow::new(127.5, 256.0);
    }
    VoiWindow::new((low + high) / 2.0, (high - low).max(1.0))
}

fn sample_range(samples: &Samples) -> (f64, f64) {
    fn range<T: Copy + Into<f64>>(values: &[T]) -> (f64, f64) {
        values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                let v: f64 = (*v).into();
                (lo.min(v), hi.max(v))
            })
    }
    match samples {
        Samples::U8(v) => range(v),
        Samples::I8(v) => range(v),
        Samples::U16(v) => range(v),
        Samples::I16(v) => range(v),
        Samples::U32(v) => range(v),
        Samples::I32(v) => range(v),
    }
}
