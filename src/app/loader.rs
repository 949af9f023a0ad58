//! Background loading for the viewer: one named thread discovers the series under the
//! given paths and loads each stack as a volume, reporting [`LoadEvent`]s over a
//! bounded channel that the UI drains once per frame.
//!
//! Owns the loader thread and the viewer's in-memory series: discovery and the volume
//! loader do the work, this module only reshapes their output for the viewer. Never
//! touches UI state directly and never logs patient data.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use crate::imaging::discovery::{self, Series, Stack};
use crate::imaging::display::{ModalityLut, VoiWindow};
use crate::imaging::pixels::{Frame, Samples};
use crate::imaging::volume::{self, SourceFile, Volume};

/// Everything the viewer shows about a series except its pixels. Patient-free.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesInfo {
    /// Series Instance UID: what annotations are filed under. Never logged.
    pub series_uid: String,
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
    /// Shown over the image only when the user turns patient data on.
    pub patient: PatientLine,
}

/// Patient name, ID and birth date of a series: PHI, never in `Debug` output or logs.
#[derive(Clone, Default, PartialEq)]
pub struct PatientLine {
    pub name: String,
    pub id: String,
    pub birth_date: String,
}

impl std::fmt::Debug for PatientLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientLine(<redacted>)")
    }
}

/// One decoded slice and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceImage {
    /// ImagePositionPatient: centre of the first pixel, LPS mm.
    pub position_mm: [f64; 3],
    pub frame: Frame,
    /// The file (and frame within it) the slice came from, for the tag browser.
    pub source: Option<SliceSource>,
}

/// Where a slice is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceSource {
    pub path: PathBuf,
    /// 0-based frame number within the file.
    pub frame: u32,
    /// SOP Instance UID of the file: identifies what an annotation is drawn on. Never
    /// logged.
    pub sop_uid: String,
}

/// Which pass the loader is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStage {
    /// Writing the built-in demo study (first use only).
    GeneratingDemo,
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
    /// The first decoded slice of a series (its middle one), shown while the rest loads.
    SeriesPreview {
        index: usize,
        slice: SliceImage,
        window: VoiWindow,
    },
    SeriesLoaded {
        index: usize,
        slices: Vec<SliceImage>,
        /// The file's window, or one spanning the series' values when it has none.
        window: VoiWindow,
        /// The middle slice, small, for the series browser (made here, off the UI thread).
        thumbnail: Option<egui::ColorImage>,
    },
    /// The series' source files with their SHA-256 (provenance), hashed after the
    /// slices were handed over so that hashing never delays the first image.
    Provenance {
        index: usize,
        sources: Vec<SourceFile>,
    },
    /// A file or series that could not be read; short, patient-free text.
    Problem(String),
    Finished {
        skipped_files: usize,
        /// Stopped by the user before every series was read.
        cancelled: bool,
    },
}

/// A running load; dropping it stops the thread at its next report.
pub struct Loader {
    events: Receiver<LoadEvent>,
    cancel: Arc<AtomicBool>,
    _thread: JoinHandle<()>,
}

/// Reports buffered between the loader and the UI before the loader waits.
const CHANNEL_CAPACITY: usize = 64;

impl Loader {
    /// Starts loading `paths` (files or folders, searched recursively) on the
    /// "series-load" thread; `notify` is called after every report (to wake the UI).
    pub fn spawn(paths: Vec<PathBuf>, notify: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (sender, events) = std::sync::mpsc::sync_channel(CHANNEL_CAPACITY);
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        let thread = std::thread::Builder::new()
            .name("series-load".into())
            .spawn(move || {
                read_study(&paths, &stop, &mut |event| send(&sender, event, &notify));
            })?;
        Ok(Self {
            events,
            cancel,
            _thread: thread,
        })
    }

    /// Writes the demo study into the user's cache when missing, then loads it.
    pub fn spawn_demo(notify: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (sender, events) = std::sync::mpsc::sync_channel(CHANNEL_CAPACITY);
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        let thread = std::thread::Builder::new()
            .name("series-load".into())
            .spawn(move || {
                let mut report = |event| send(&sender, event, &notify);
                let dir = crate::imaging::demo::demo_cache_dir();
                if !crate::imaging::demo::is_demo_study_complete(&dir)
                    && !report(LoadEvent::Progress {
                        stage: LoadStage::GeneratingDemo,
                        done: 0,
                        total: 1,
                    })
                {
                    return;
                }
                match crate::imaging::demo::ensure_cached_demo_study(|_| {}) {
                    Ok(dir) => read_study(&[dir], &stop, &mut report),
                    Err(e) => {
                        report(LoadEvent::Problem(format!(
                            "cannot write the demo study: {e}"
                        )));
                        report(LoadEvent::Finished {
                            skipped_files: 0,
                            cancelled: false,
                        });
                    }
                }
            })?;
        Ok(Self {
            events,
            cancel,
            _thread: thread,
        })
    }

    /// Asks the loader to stop soon; what is loaded so far stays.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
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

/// Reads every series under `paths` with [`discovery`] and loads each stack with
/// [`volume::load`] (the same path `tessera bench load` times), reporting through
/// `report` (which returns false to stop). Slices are handed to the viewer in display
/// order ([`display_key`]).
/// Setting `cancel` stops it at the next slice batch.
pub fn read_study(
    paths: &[PathBuf],
    cancel: &AtomicBool,
    report: &mut dyn FnMut(LoadEvent) -> bool,
) {
    if !report(LoadEvent::Progress {
        stage: LoadStage::Scanning,
        done: 0,
        total: 1,
    }) {
        return;
    }
    let found = discovery::discover(paths);
    let mut stacks: Vec<(&Series, &Stack)> = found
        .series()
        .flat_map(|(_, _, series)| series.stacks.iter().map(move |stack| (series, stack)))
        .filter(|(_, stack)| !stack.slices.is_empty())
        .collect();
    stacks.sort_by_key(|(series, _)| {
        (
            series.series_number.unwrap_or(i64::MAX),
            series.description.clone(),
        )
    });
    let infos: Vec<SeriesInfo> = stacks
        .iter()
        .map(|(series, stack)| series_info(series, stack))
        .collect();
    if !report(LoadEvent::SeriesFound(infos.clone())) {
        return;
    }
    for warning in stacks.iter().flat_map(|(_, stack)| stack.warnings.iter()) {
        if !report(LoadEvent::Problem(warning.to_string())) {
            return;
        }
    }

    let total: usize = stacks.iter().map(|(_, stack)| stack.slices.len()).sum();
    let mut done_before = 0usize;
    for (index, ((_, stack), info)) in stacks.iter().zip(&infos).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let options = volume::LoadOptions {
            provenance: volume::Provenance::AfterLoad,
            ..volume::LoadOptions::default()
        };
        // The volume reports its first slice from a decoder thread; it is forwarded
        // (with progress) through a bounded channel drained by this thread.
        let (preview_tx, preview_rx) = std::sync::mpsc::sync_channel::<volume::LoadEvent>(4);
        let loaded = std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                volume::load(stack, &options, cancel, &|event| {
                    if matches!(
                        event,
                        volume::LoadEvent::FirstSlice(_) | volume::LoadEvent::Progress { .. }
                    ) {
                        // Progress may be dropped when the channel is full.
                        let _ = preview_tx.try_send(event);
                    }
                })
            });
            let mut alive = true;
            while !worker.is_finished() {
                match preview_rx.recv_timeout(std::time::Duration::from_millis(20)) {
                    Ok(volume::LoadEvent::FirstSlice(preview)) if alive => {
                        let slice = preview_slice(&preview, stack);
                        let window = info.file_window.unwrap_or_else(|| {
                            window_spanning(std::slice::from_ref(&slice), info.modality_lut)
                        });
                        alive = report(LoadEvent::SeriesPreview {
                            index,
                            slice,
                            window,
                        });
                    }
                    Ok(volume::LoadEvent::Progress { done, .. }) if alive => {
                        alive = report(LoadEvent::Progress {
                            stage: LoadStage::Decoding,
                            done: done_before + done as usize,
                            total,
                        });
                    }
                    _ => {}
                }
                if !alive {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            worker.join().unwrap_or(Err(volume::LoadError::Cancelled))
        });
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let done = done_before + stack.slices.len();
        done_before = done;
        if !report(LoadEvent::Progress {
            stage: LoadStage::Decoding,
            done,
            total,
        }) {
            return;
        }
        let mut volume = match loaded {
            Ok(volume) => volume,
            Err(e) => {
                if !report(LoadEvent::Problem(format!("series {}: {e}", index + 1))) {
                    return;
                }
                continue;
            }
        };
        for unreadable in &volume.unreadable {
            let problem = format!(
                "slice {} unreadable: {}",
                unreadable.k + 1,
                unreadable.reason
            );
            if !report(LoadEvent::Problem(problem)) {
                return;
            }
        }
        let mut sources = std::mem::take(&mut volume.sources);
        let slices = split_into_slices(volume, stack, info);
        let window = info
            .file_window
            .unwrap_or_else(|| window_spanning(&slices, info.modality_lut));
        let thumbnail = thumbnail(info, &slices, window);
        if !report(LoadEvent::SeriesLoaded {
            index,
            slices,
            window,
            thumbnail,
        }) {
            return;
        }
        volume::hash_sources(&mut sources);
        if !report(LoadEvent::Provenance { index, sources }) {
            return;
        }
    }
    report(LoadEvent::Finished {
        skipped_files: found.skipped.len(),
        cancelled: cancel.load(Ordering::Relaxed),
    });
}

/// The middle slice in the series' window, shrunk for the series browser.
fn thumbnail(
    info: &SeriesInfo,
    slices: &[SliceImage],
    window: VoiWindow,
) -> Option<egui::ColorImage> {
    use crate::imaging::display::{GrayscalePipeline, Polarity, Voi, render_frame_rgba};
    let slice = slices.get(slices.len() / 2)?;
    let pipeline = GrayscalePipeline {
        modality: info.modality_lut,
        voi: Voi::Linear(window),
        polarity: Polarity::Normal,
    };
    let rgba = render_frame_rgba(&slice.frame, &pipeline, None, info.bits_stored).ok()?;
    Some(super::series_browser::thumbnail_image(
        &rgba,
        slice.frame.columns as usize,
        slice.frame.rows as usize,
    ))
}

/// The volume's first decoded slice as a viewer slice.
fn preview_slice(preview: &volume::SlicePreview, stack: &Stack) -> SliceImage {
    let slice_ref = stack.slices.get(preview.k as usize);
    SliceImage {
        position_mm: stack
            .geometry
            .slice_origins_mm
            .get(preview.k as usize)
            .map_or([0.0; 3], |p| p.0),
        frame: Frame {
            rows: preview.rows,
            columns: preview.columns,
            samples_per_pixel: preview.samples_per_pixel,
            photometric: preview.photometric,
            samples: preview.samples.clone(),
        },
        source: slice_ref.map(|s| SliceSource {
            path: s.instance.path.clone(),
            frame: s.frame,
            sop_uid: s.instance.sop_instance_uid.clone(),
        }),
    }
}

/// What the viewer needs to know about one stack.
fn series_info(series: &Series, stack: &Stack) -> SeriesInfo {
    let g = &stack.geometry;
    let first = stack.slices.first();
    let rescale = first.map(|s| s.rescale()).unwrap_or_default();
    let file_window = first
        .and_then(|s| s.windows().first().copied())
        .filter(|w| w.width >= 1.0)
        .map(|w| VoiWindow::new(w.center, w.width));
    let row = g.orientation.row_cosine.0;
    let column = g.orientation.column_cosine.0;
    SeriesInfo {
        series_uid: series.series_instance_uid.clone(),
        description: series.description.clone(),
        modality: series.modality.clone(),
        series_number: series.series_number,
        rows: g.rows,
        columns: g.columns,
        slice_count: stack.slices.len(),
        pixel_spacing_mm: g.pixel_spacing_mm,
        orientation: [row[0], row[1], row[2], column[0], column[1], column[2]],
        modality_lut: ModalityLut {
            slope: rescale.slope,
            intercept: rescale.intercept,
        },
        file_window,
        bits_stored: stack
            .pixel_format()
            .map_or(8, |f| f.bits_stored.clamp(1, 16) as u8),
        patient: first
            .map(|s| PatientLine {
                name: s.instance.patient.name.replace('^', " ").trim().to_owned(),
                id: s.instance.patient.id.clone(),
                birth_date: s.instance.patient_birth_date.0.clone(),
            })
            .unwrap_or_default(),
    }
}

/// Hands each slice of `volume` to the viewer as its own frame, in display order,
/// releasing the volume as it goes.
fn split_into_slices(volume: Volume, stack: &Stack, info: &SeriesInfo) -> Vec<SliceImage> {
    let Volume {
        rows,
        columns,
        samples_per_pixel,
        voxels,
        geometry,
        photometric,
        ..
    } = volume;
    let slice_len = rows as usize * columns as usize * usize::from(samples_per_pixel);
    fn split<T: Clone>(v: Vec<T>, len: usize, wrap: fn(Vec<T>) -> Samples) -> Vec<Samples> {
        if len == 0 {
            return Vec::new();
        }
        v.chunks(len).map(|c| wrap(c.to_vec())).collect()
    }
    let per_slice = match voxels {
        Samples::U8(v) => split(v, slice_len, Samples::U8),
        Samples::I8(v) => split(v, slice_len, Samples::I8),
        Samples::U16(v) => split(v, slice_len, Samples::U16),
        Samples::I16(v) => split(v, slice_len, Samples::I16),
        Samples::U32(v) => split(v, slice_len, Samples::U32),
        Samples::I32(v) => split(v, slice_len, Samples::I32),
    };
    let mut slices: Vec<SliceImage> = per_slice
        .into_iter()
        .enumerate()
        .map(|(k, samples)| SliceImage {
            position_mm: geometry.slice_origins_mm.get(k).map_or([0.0; 3], |p| p.0),
            source: stack.slices.get(k).map(|s| SliceSource {
                path: s.instance.path.clone(),
                frame: s.frame,
                sop_uid: s.instance.sop_instance_uid.clone(),
            }),
            frame: Frame {
                rows,
                columns,
                samples_per_pixel,
                photometric,
                samples,
            },
        })
        .collect();
    slices.sort_by(|a, b| {
        display_key(&info.orientation, a.position_mm)
            .total_cmp(&display_key(&info.orientation, b.position_mm))
    });
    slices
}

/// The slice normal (row × column cosines) and the patient axis (0 = x, 1 = y, 2 = z)
/// it mostly points along.
pub fn normal_and_axis(o: &[f64; 6]) -> ([f64; 3], usize) {
    let normal = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    let axis = (0..3)
        .max_by(|a, b| normal[*a].abs().total_cmp(&normal[*b].abs()))
        .unwrap_or(2);
    (normal, axis)
}

/// Display order: slice 1 is the most superior (axial), right (sagittal) or anterior
/// (coronal) one, following the normal's dominant axis.
fn display_key(o: &[f64; 6], p: [f64; 3]) -> f64 {
    let (normal, axis) = normal_and_axis(o);
    // Increasing towards patient left (x), posterior (y) and inferior (-z).
    let sign = normal[axis].signum() * if axis == 2 { -1.0 } else { 1.0 };
    sign * (p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::demo::{DemoSpec, write_demo_study_with};

    fn events(paths: &[PathBuf], cancel_after_first_series: bool) -> Vec<LoadEvent> {
        let cancel = AtomicBool::new(false);
        let mut seen = Vec::new();
        read_study(paths, &cancel, &mut |event| {
            if cancel_after_first_series && matches!(event, LoadEvent::SeriesLoaded { .. }) {
                cancel.store(true, Ordering::Relaxed);
            }
            seen.push(event);
            true
        });
        seen
    }

    #[test]
    fn the_preview_slice_comes_before_the_series_and_cancel_stops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        write_demo_study_with(dir.path(), &DemoSpec::SMALL, |_| {}).unwrap();
        let all = events(&[dir.path().to_path_buf()], false);
        let position = |f: &dyn Fn(&LoadEvent) -> bool| all.iter().position(f);
        let preview =
            position(&|e| matches!(e, LoadEvent::SeriesPreview { index: 0, .. })).unwrap();
        let loaded = position(&|e| matches!(e, LoadEvent::SeriesLoaded { index: 0, .. })).unwrap();
        assert!(preview < loaded);
        let loaded_count = all
            .iter()
            .filter(|e| matches!(e, LoadEvent::SeriesLoaded { .. }))
            .count();
        assert_eq!(loaded_count, 2);
        // Every slice knows its file; thumbnails are made off the UI thread.
        for event in &all {
            if let LoadEvent::SeriesLoaded {
                slices, thumbnail, ..
            } = event
            {
                assert!(
                    slices
                        .iter()
                        .all(|s| s.source.as_ref().is_some_and(|s| s.path.is_file()))
                );
                assert!(thumbnail.is_some());
            }
        }
        assert!(matches!(
            all.last(),
            Some(LoadEvent::Finished {
                cancelled: false,
                ..
            })
        ));

        let cancelled = events(&[dir.path().to_path_buf()], true);
        let loaded_count = cancelled
            .iter()
            .filter(|e| matches!(e, LoadEvent::SeriesLoaded { .. }))
            .count();
        assert_eq!(
            loaded_count, 1,
            "the second series was not read after cancel"
        );
        assert!(matches!(
            cancelled.last(),
            Some(LoadEvent::Finished {
                cancelled: true,
                ..
            })
        ));
    }
}
