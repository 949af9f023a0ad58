//! Volume loading: one [`Stack`] → one contiguous buffer of stored values, with its
//! geometry, per-slice modality LUT, header windows and provenance.
//!
//! Owns the volume buffer and the decode scheduling. Policies:
//! - Buffer: slice-major `(k, j, i, sample)`, in the narrowest exact stored type
//!   (BitsAllocated and PixelRepresentation; never widened for rescale): one
//!   [`Samples`] variant. Stored values only: the modality LUT is per slice in
//!   [`Volume::modality_lut`].
//! - First slice first: slice `k = slices / 2` (the middle, the most informative
//!   view of a volume) is decoded alone, before the others, and handed over as a
//!   copy in [`LoadEvent::FirstSlice`]; the rest is then decoded in parallel on a
//!   pool of named threads, one per core.
//! - Fast path: uncompressed little-endian Pixel Data that is the file's last
//!   element is read straight from the file into the slice's place in the buffer
//!   (see `native`); anything else goes through the full decode
//!   ([`crate::imaging::pixels::decode_frame`]), one slice at a time per thread.
//! - Unreadable slices (truncated, corrupt, vanished files) are listed with a
//!   one-line reason and filled with the smallest stored value of the readable
//!   slices; the volume still opens.
//! - Provenance: every file's SHA-256 is known when the load ends. Single-frame
//!   files are hashed in the same front-to-back read that fetches their pixels;
//!   multi-frame files are hashed by a separate streaming read in parallel.
//! - Memory: the buffer is the only full-size allocation (sizes checked before
//!   allocating); per thread there is a 256 KiB staging buffer, plus one file and
//!   one decoded frame while a slice goes through the full decode. Exception: a
//!   multi-frame file that needs the full decode is parsed once, whole, while its
//!   frames are decoded (that is its compressed size for compressed files). Each
//!   slice's place in the buffer is pre-faulted in one call before it is filled
//!   (`prefault`).

mod native;
mod prefault;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

use super::discovery::{
    InstanceInfo, PixelFormat, Rescale, Signedness, Stack, Window, sha256_file,
};
use super::file::{self, Instance, ReadMode};
use super::geometry::StackGeometry;
use super::pixels::{self, Photometric, Samples};
use native::Voxel;

/// Limits and resources of one load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Refuse volumes larger than this many bytes.
    pub max_volume_bytes: u64,
    /// Decoding threads; `None`: one per core.
    pub threads: Option<NonZeroUsize>,
    /// When the sources' SHA-256 are computed.
    pub provenance: Provenance,
}

/// When a load computes the SHA-256 of its source files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Provenance {
    /// In the same read pass as the pixels: the volume arrives with every hash.
    #[default]
    DuringLoad,
    /// Not during the load (the volume arrives sooner, `sources[].sha256` is `None`);
    /// the caller runs [`hash_sources`] afterwards, off the display path.
    AfterLoad,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_volume_bytes: 16 << 30,
            threads: None,
            provenance: Provenance::DuringLoad,
        }
    }
}

/// Why a stack could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the stack has no slices")]
    EmptyStack,
    #[error("unsupported pixel format: {reason}")]
    UnsupportedFormat { reason: String },
    #[error("volume size overflows: {columns}×{rows}×{slices}×{samples_per_pixel}")]
    SizeOverflow {
        columns: u32,
        rows: u32,
        slices: u32,
        samples_per_pixel: u16,
    },
    #[error("volume of {bytes} bytes exceeds the {limit_bytes}-byte limit")]
    TooLarge { bytes: u64, limit_bytes: u64 },
    #[error("cannot allocate {bytes} bytes for the volume")]
    OutOfMemory { bytes: u64 },
    #[error("no slice could be read (first reason: {first_reason})")]
    NothingReadable { first_reason: String },
    #[error("load cancelled")]
    Cancelled,
    #[error("cannot start decoding threads: {reason}")]
    Threads { reason: String },
}

/// A slice that could not be decoded; it holds the volume's fill value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnreadableSlice {
    pub k: u32,
    pub reason: String,
    pub path: PathBuf,
}

impl std::fmt::Display for UnreadableSlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "slice {}: {}: {}",
            self.k,
            self.reason,
            self.path.display()
        )
    }
}

/// One source file of a volume and its SHA-256 (lowercase hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceFile {
    pub path: PathBuf,
    pub sop_instance_uid: String,
    /// `None` only when the file could not be read at all (see `unreadable`).
    pub sha256: Option<String>,
}

/// A loaded stack.
#[derive(Clone, Debug)]
pub struct Volume {
    pub columns: u32,
    pub rows: u32,
    pub slices: u32,
    pub samples_per_pixel: u16,
    /// Stored values, `(k, j, i, sample)`, `slices × rows × columns × samples`.
    pub voxels: Samples,
    pub geometry: StackGeometry,
    /// Modality LUT (rescale) of every slice, in `k` order.
    pub modality_lut: Vec<Rescale>,
    /// Header windows of the first-shown slice (per-slice ones: on the stack).
    pub windows: Vec<Window>,
    pub photometric: Photometric,
    pub signedness: Signedness,
    pub bits_stored: u16,
    /// The slice that was decoded and shown first.
    pub first_slice: u32,
    pub unreadable: Vec<UnreadableSlice>,
    /// Every distinct file of the stack, in `k` order of first use.
    pub sources: Vec<SourceFile>,
}

/// Borrowed samples of one slice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SliceSamples<'a> {
    U8(&'a [u8]),
    I8(&'a [i8]),
    U16(&'a [u16]),
    I16(&'a [i16]),
    U32(&'a [u32]),
    I32(&'a [i32]),
}

impl Volume {
    /// Samples per slice: `rows × columns × samples_per_pixel`.
    pub fn slice_len(&self) -> usize {
        self.rows as usize * self.columns as usize * usize::from(self.samples_per_pixel)
    }

    /// The stored samples of slice `k`.
    pub fn slice(&self, k: u32) -> Option<SliceSamples<'_>> {
        let len = self.slice_len();
        let start = (k as usize).checked_mul(len)?;
        let range = start..start.checked_add(len)?;
        Some(match &self.voxels {
            Samples::U8(v) => SliceSamples::U8(v.get(range)?),
            Samples::I8(v) => SliceSamples::I8(v.get(range)?),
            Samples::U16(v) => SliceSamples::U16(v.get(range)?),
            Samples::I16(v) => SliceSamples::I16(v.get(range)?),
            Samples::U32(v) => SliceSamples::U32(v.get(range)?),
            Samples::I32(v) => SliceSamples::I32(v.get(range)?),
        })
    }

    /// Size of the voxel buffer in bytes.
    pub fn byte_len(&self) -> usize {
        match &self.voxels {
            Samples::U8(v) => v.len(),
            Samples::I8(v) => v.len(),
            Samples::U16(v) => v.len() * 2,
            Samples::I16(v) => v.len() * 2,
            Samples::U32(v) => v.len() * 4,
            Samples::I32(v) => v.len() * 4,
        }
    }
}

/// The first-shown slice, copied out so it can be displayed while the rest loads.
#[derive(Clone, Debug)]
pub struct SlicePreview {
    pub k: u32,
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    pub photometric: Photometric,
    /// `rows × columns × samples` stored values (zeros when unreadable).
    pub samples: Samples,
    pub rescale: Rescale,
    pub windows: Vec<Window>,
    /// Why this slice is unreadable, if it is.
    pub unreadable: Option<String>,
}

/// What a load reports while it runs.
#[derive(Debug)]
pub enum LoadEvent {
    /// The first-shown slice, decoded before any other.
    FirstSlice(Box<SlicePreview>),
    /// `done` of `total` slices decoded. From [`spawn_load`] these are dropped
    /// while the receiver lags (only the latest matters).
    Progress { done: u32, total: u32 },
    /// The result ([`spawn_load`] only; [`load`] returns it).
    Done(Box<Result<Volume, LoadError>>),
}

/// The slice decoded and shown first: the middle one.
pub fn first_slice_index(slices: u32) -> u32 {
    slices / 2
}

/// Loads `stack` on the calling thread (decoding on a pool of named threads),
/// calling `on_event` with the first slice and with progress (from any thread).
/// Setting `cancel` makes it return [`LoadError::Cancelled`] soon.
pub fn load(
    stack: &Stack,
    options: &LoadOptions,
    cancel: &AtomicBool,
    on_event: &(dyn Fn(LoadEvent) + Sync),
) -> Result<Volume, LoadError> {
    let layout = stack.pixel_format().ok_or(LoadError::EmptyStack)?;
    let photometric = layout
        .decoded_photometric()
        .ok_or_else(|| LoadError::UnsupportedFormat {
            reason: format!("photometric interpretation {:?}", layout.photometric),
        })?;
    let signed = layout.signedness == Signedness::Signed;
    match (layout.bits_allocated, signed) {
        (1 | 8, false) => load_typed::<u8>(stack, options, cancel, on_event, photometric),
        (8, true) => load_typed::<i8>(stack, options, cancel, on_event, photometric),
        (16, false) => load_typed::<u16>(stack, options, cancel, on_event, photometric),
        (16, true) => load_typed::<i16>(stack, options, cancel, on_event, photometric),
        (32, false) => load_typed::<u32>(stack, options, cancel, on_event, photometric),
        (32, true) => load_typed::<i32>(stack, options, cancel, on_event, photometric),
        (bits, _) => Err(LoadError::UnsupportedFormat {
            reason: format!("BitsAllocated {bits}"),
        }),
    }
}

/// Handle on a load running on its own thread (`tessera-volume-load`).
pub struct LoadHandle {
    events: Receiver<LoadEvent>,
    cancel: Arc<AtomicBool>,
}

impl LoadHandle {
    /// Events in order: `FirstSlice`, `Progress`…, then exactly one `Done`.
    pub fn events(&self) -> &Receiver<LoadEvent> {
        &self.events
    }

    /// Asks the load to stop; `Done(Err(Cancelled))` follows.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for LoadHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Capacity of the event channel of [`spawn_load`].
const EVENT_CHANNEL_CAPACITY: usize = 16;

/// Loads `stack` on a new named thread; events arrive on a bounded channel.
pub fn spawn_load(stack: Stack, options: LoadOptions) -> Result<LoadHandle, LoadError> {
    let (sender, events) = std::sync::mpsc::sync_channel(EVENT_CHANNEL_CAPACITY);
    let cancel = Arc::new(AtomicBool::new(false));
    let thread_cancel = Arc::clone(&cancel);
    std::thread::Builder::new()
        .name("tessera-volume-load".to_string())
        .spawn(move || {
            let sink = |event: LoadEvent| send_event(&sender, &thread_cancel, event);
            let result = load(&stack, &options, &thread_cancel, &sink);
            // The receiver may be gone (handle dropped): nothing left to tell.
            let _ = sender.send(LoadEvent::Done(Box::new(result)));
        })
        .map_err(|e| LoadError::Threads {
            reason: e.to_string(),
        })?;
    Ok(LoadHandle { events, cancel })
}

fn send_event(sender: &SyncSender<LoadEvent>, cancel: &AtomicBool, event: LoadEvent) {
    let disconnected = match event {
        LoadEvent::Progress { .. } => {
            matches!(sender.try_send(event), Err(TrySendError::Disconnected(_)))
        }
        _ => sender.send(event).is_err(),
    };
    if disconnected {
        cancel.store(true, Ordering::Relaxed);
    }
}

/// One distinct file of the stack, with what its frames share during the load.
struct Source {
    info: Arc<InstanceInfo>,
    /// Multi-frame only: where native Pixel Data starts (fast path), if it does.
    native_offset: Option<u64>,
    /// Multi-frame only: the file parsed whole, shared by its frames (full decode).
    parsed: OnceLock<Result<Instance, String>>,
}

/// A source index and the SHA-256 of that file (or why it could not be read).
type FileHash = (usize, Result<String, String>);

/// Everything one slice's decode produced.
struct SliceOutcome {
    k: usize,
    pixels: Result<(), String>,
    /// Single-frame files: (source index, hash) from the same read.
    sha256: Option<FileHash>,
}

fn load_typed<T: Voxel>(
    stack: &Stack,
    options: &LoadOptions,
    cancel: &AtomicBool,
    on_event: &(dyn Fn(LoadEvent) + Sync),
    photometric: Photometric,
) -> Result<Volume, LoadError> {
    let geometry = &stack.geometry;
    let layout = stack.pixel_format().ok_or(LoadError::EmptyStack)?;
    let slices = u32::try_from(stack.slices.len()).map_err(|_| size_overflow(stack, layout))?;
    let (columns, rows, spp) = (geometry.columns, geometry.rows, layout.samples_per_pixel);
    let slice_len = u64::from(rows)
        .checked_mul(u64::from(columns))
        .and_then(|n| n.checked_mul(u64::from(spp)))
        .ok_or_else(|| size_overflow(stack, layout))?;
    let total = slice_len
        .checked_mul(u64::from(slices))
        .ok_or_else(|| size_overflow(stack, layout))?;
    let bytes = total
        .checked_mul(T::BYTES as u64)
        .ok_or_else(|| size_overflow(stack, layout))?;
    if bytes > options.max_volume_bytes {
        return Err(LoadError::TooLarge {
            bytes,
            limit_bytes: options.max_volume_bytes,
        });
    }
    let (Ok(total), Ok(slice_len)) = (usize::try_from(total), usize::try_from(slice_len)) else {
        return Err(size_overflow(stack, layout));
    };
    if slice_len == 0 {
        return Err(LoadError::EmptyStack);
    }
    // Probe that the allocation can succeed (a typed error, not an abort), then take
    // zeroed memory: the kernel maps zero pages lazily, so the pages are touched by the
    // decoder threads as they write, in parallel, not by one memset up front.
    let mut probe: Vec<T> = Vec::new();
    probe
        .try_reserve_exact(total)
        .map_err(|_| LoadError::OutOfMemory { bytes })?;
    drop(probe);
    let mut buffer: Vec<T> = vec![T::default(); total];

    // Distinct files in k order of first use.
    let mut sources: Vec<Source> = Vec::new();
    let mut index_of: HashMap<*const InstanceInfo, usize> = HashMap::new();
    let mut source_of_slice = Vec::with_capacity(stack.slices.len());
    for slice in &stack.slices {
        let index = *index_of
            .entry(Arc::as_ptr(&slice.instance))
            .or_insert_with(|| {
                sources.push(Source::new(&slice.instance));
                sources.len() - 1
            });
        source_of_slice.push(index);
    }

    let threads = options
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(2, NonZeroUsize::get);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tessera-decode-{i}"))
        .build()
        .map_err(|e| LoadError::Threads {
            reason: e.to_string(),
        })?;

    let decoder = SliceDecoder {
        stack,
        sources: &sources,
        source_of_slice: &source_of_slice,
        pixel_format: layout,
        cancel,
        hash: options.provenance == Provenance::DuringLoad,
    };
    let first = first_slice_index(slices);
    let first_k = first as usize;
    let mut staging = vec![0u8; native::STAGING_BYTES];
    let first_outcome = {
        let slot = buffer
            .chunks_mut(slice_len)
            .nth(first_k)
            .ok_or(LoadError::EmptyStack)?;
        let outcome = decoder.decode(first_k, slot, &mut staging);
        let preview_samples = match &outcome.pixels {
            Ok(_) => slot.to_vec(),
            Err(_) => vec![T::default(); slice_len],
        };
        let slice = stack.slices.get(first_k);
        on_event(LoadEvent::FirstSlice(Box::new(SlicePreview {
            k: first,
            rows,
            columns,
            samples_per_pixel: spp,
            photometric,
            samples: T::wrap(preview_samples),
            rescale: slice.map(|s| s.rescale()).unwrap_or_default(),
            windows: slice.map(|s| s.windows()).unwrap_or_default(),
            unreadable: outcome.pixels.as_ref().err().cloned(),
        })));
        outcome
    };
    drop(staging);

    let done = AtomicU32::new(1);
    on_event(LoadEvent::Progress {
        done: 1,
        total: slices,
    });
    let (mut outcomes, multi_hashes): (Vec<SliceOutcome>, Vec<FileHash>) = pool.install(|| {
        rayon::join(
            || {
                buffer
                    .par_chunks_mut(slice_len)
                    .enumerate()
                    .filter(|(k, _)| *k != first_k)
                    .map_init(
                        || vec![0u8; native::STAGING_BYTES],
                        |staging, (k, slot)| {
                            let outcome = decoder.decode(k, slot, staging);
                            let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                            on_event(LoadEvent::Progress {
                                done,
                                total: slices,
                            });
                            outcome
                        },
                    )
                    .collect()
            },
            || {
                sources
                    .par_iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        s.info.number_of_frames > 1 && options.provenance == Provenance::DuringLoad
                    })
                    .map(|(i, s)| {
                        let sha =
                            sha256_file(&s.info.path).map_err(|e| format!("cannot read file: {e}"));
                        (i, sha)
                    })
                    .collect()
            },
        )
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(LoadError::Cancelled);
    }
    outcomes.push(first_outcome);
    outcomes.sort_by_key(|o| o.k);

    // Fill unreadable slices with the smallest readable value (found only when needed:
    // it is a pass over the whole volume).
    let fill = if outcomes.iter().all(|o| o.pixels.is_ok()) {
        Some(T::default())
    } else {
        buffer
            .chunks(slice_len)
            .zip(&outcomes)
            .filter(|(_, o)| o.pixels.is_ok())
            .filter_map(|(slot, _)| {
                slot.iter()
                    .copied()
                    .reduce(|a, b| if b < a { b } else { a })
            })
            .reduce(|a, b| if b < a { b } else { a })
    };
    let mut unreadable = Vec::new();
    for o in &outcomes {
        if let Err(reason) = &o.pixels {
            let path = stack
                .slices
                .get(o.k)
                .map(|s| s.instance.path.clone())
                .unwrap_or_default();
            unreadable.push(UnreadableSlice {
                k: u32::try_from(o.k).unwrap_or(u32::MAX),
                reason: reason.clone(),
                path,
            });
        }
    }
    let Some(fill) = fill else {
        let first_reason = unreadable
            .first()
            .map(|u| u.to_string())
            .unwrap_or_default();
        return Err(LoadError::NothingReadable { first_reason });
    };
    for u in &unreadable {
        if let Some(slot) = buffer.chunks_mut(slice_len).nth(u.k as usize) {
            slot.fill(fill);
        }
    }

    let mut hashes: Vec<Option<String>> = vec![None; sources.len()];
    let all_hashes = outcomes
        .iter_mut()
        .filter_map(|o| o.sha256.take())
        .chain(multi_hashes);
    for (i, sha) in all_hashes {
        if let (Some(slot), Ok(sha)) = (hashes.get_mut(i), sha) {
            *slot = Some(sha);
        }
    }
    let sources = sources
        .iter()
        .zip(hashes)
        .map(|(s, sha256)| {
            if let Some(sha) = &sha256 {
                // Keep it on the shared instance too: later loads and exports reuse it.
                if let Err(fresh) = s.info.sha256.set(sha.clone())
                    && s.info.sha256.get() != Some(&fresh)
                {
                    tracing::warn!("a source file changed since it was first hashed");
                }
            }
            SourceFile {
                path: s.info.path.clone(),
                sop_instance_uid: s.info.sop_instance_uid.clone(),
                sha256,
            }
        })
        .collect();

    tracing::info!(
        slices,
        unreadable = unreadable.len(),
        bytes,
        "volume loaded"
    );
    Ok(Volume {
        columns,
        rows,
        slices,
        samples_per_pixel: spp,
        voxels: T::wrap(buffer),
        geometry: geometry.clone(),
        modality_lut: stack.slices.iter().map(|s| s.rescale()).collect(),
        windows: stack
            .slices
            .get(first_k)
            .map(|s| s.windows())
            .unwrap_or_default(),
        photometric,
        signedness: layout.signedness,
        bits_stored: layout.bits_stored,
        first_slice: first,
        unreadable,
        sources,
    })
}

fn size_overflow(stack: &Stack, layout: &PixelFormat) -> LoadError {
    LoadError::SizeOverflow {
        columns: stack.geometry.columns,
        rows: stack.geometry.rows,
        slices: u32::try_from(stack.slices.len()).unwrap_or(u32::MAX),
        samples_per_pixel: layout.samples_per_pixel,
    }
}

impl Source {
    fn new(info: &Arc<InstanceInfo>) -> Source {
        let native_offset = if info.number_of_frames > 1 {
            native::native_encoding(info).and_then(|vr| {
                let mut file = std::fs::File::open(&info.path).ok()?;
                native::locate_pixel_data(&mut file, info, vr)
            })
        } else {
            None
        };
        Source {
            info: Arc::clone(info),
            native_offset,
            parsed: OnceLock::new(),
        }
    }
}

/// Decodes single slices into their place in the buffer.
struct SliceDecoder<'a> {
    stack: &'a Stack,
    sources: &'a [Source],
    source_of_slice: &'a [usize],
    pixel_format: &'a PixelFormat,
    cancel: &'a AtomicBool,
    /// Hash each single-frame file in the pixel read ([`Provenance::DuringLoad`]).
    hash: bool,
}

impl SliceDecoder<'_> {
    /// Decodes slice `k` into `slot`; `pixels` is the slot's minimum on success.
    fn decode<T: Voxel>(&self, k: usize, slot: &mut [T], staging: &mut [u8]) -> SliceOutcome {
        let mut outcome = SliceOutcome {
            k,
            pixels: Err("cancelled".to_string()),
            sha256: None,
        };
        if self.cancel.load(Ordering::Relaxed) {
            return outcome;
        }
        let (Some(slice), Some(&index)) = (self.stack.slices.get(k), self.source_of_slice.get(k))
        else {
            outcome.pixels = Err("slice out of range".to_string());
            return outcome;
        };
        let Some(source) = self.sources.get(index) else {
            outcome.pixels = Err("slice source out of range".to_string());
            return outcome;
        };
        let info = &source.info;
        let g = &self.stack.geometry;
        let format = info.pixel_format.format_key();
        if (info.rows, info.columns, format) != (g.rows, g.columns, self.pixel_format.format_key())
        {
            outcome.pixels = Err(format!(
                "image is {}×{}, not {}×{} like the stack, or has another pixel format",
                info.rows, info.columns, g.rows, g.columns
            ));
            return outcome;
        }
        // Map the slot's pages in one call before the reader or decoder writes them.
        prefault::populate(slot);
        let pixels = if info.number_of_frames > 1 {
            match source.native_offset {
                Some(offset) => {
                    native::read_frame(&info.path, info, offset, slice.frame, slot, staging)
                }
                None => {
                    let parsed = source.parsed.get_or_init(|| {
                        file::open(&info.path, ReadMode::Full).map_err(|e| e.to_string())
                    });
                    match parsed {
                        Ok(instance) => decode_into(instance, slice.frame, self.pixel_format, slot),
                        Err(e) => Err(e.clone()),
                    }
                }
            }
        } else {
            let read = native::read_single(&info.path, info, slot, staging, self.hash);
            let pixels = match (&read.sha256, read.pixels_done) {
                (Some(Err(e)), _) => Err(e.clone()),
                (_, true) => Ok(()),
                (_, false) => file::open(&info.path, ReadMode::Full)
                    .map_err(|e| e.to_string())
                    .and_then(|instance| decode_into(&instance, 0, self.pixel_format, slot)),
            };
            outcome.sha256 = read.sha256.map(|sha| (index, sha));
            pixels
        };
        outcome.pixels = pixels;
        outcome
    }
}

/// Full decode of one frame through the pixel module, copied into `slot`.
fn decode_into<T: Voxel>(
    instance: &Instance,
    frame: u32,
    layout: &PixelFormat,
    slot: &mut [T],
) -> Result<(), String> {
    let decoded = pixels::decode_frame(instance, frame).map_err(|e| e.to_string())?;
    if decoded.samples_per_pixel != layout.samples_per_pixel {
        return Err(format!(
            "decoded {} samples per pixel, expected {}",
            decoded.samples_per_pixel, layout.samples_per_pixel
        ));
    }
    let values = T::frame_samples(&decoded.samples).ok_or_else(|| {
        format!(
            "decoded sample type does not match BitsAllocated {} / PixelRepresentation",
            layout.bits_allocated
        )
    })?;
    if values.len() != slot.len() {
        return Err(format!(
            "decoded {} samples ({}×{}), expected {}",
            values.len(),
            decoded.rows,
            decoded.columns,
            slot.len()
        ));
    }
    slot.copy_from_slice(values);
    Ok(())
}

/// Computes the SHA-256 of every source that has none yet (after a load with
/// [`Provenance::AfterLoad`]), reading the files in parallel. Unreadable files keep `None`.
pub fn hash_sources(sources: &mut [SourceFile]) {
    use rayon::prelude::*;
    sources
        .par_iter_mut()
        .filter(|s| s.sha256.is_none())
        .for_each(|s| s.sha256 = sha256_file(&s.path).ok());
}
