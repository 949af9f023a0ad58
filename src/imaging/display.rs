//! Stored pixel values -> display values: Modality LUT, VOI (linear window or LUT),
//! MONOCHROME1 inversion, palette colour and RGB passthrough, into RGBA8.
//!
//! Owns the reference implementation of the DICOM grayscale and colour display
//! pipelines (PS3.3 C.11, PS3.4 N.2). Pure functions on slices, no I/O, no state;
//! a GPU shader doing window/level must match these. Never imports egui.

use super::pixels::{Frame, Photometric, Samples};

/// The Modality LUT as a linear rescale: output = stored × slope + intercept
/// (Hounsfield units for CT).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModalityLut {
    pub slope: f64,
    pub intercept: f64,
}

impl ModalityLut {
    pub const IDENTITY: ModalityLut = ModalityLut {
        slope: 1.0,
        intercept: 0.0,
    };

    /// Modality value (e.g. HU) of a stored value.
    pub fn apply(self, stored: f64) -> f64 {
        stored * self.slope + self.intercept
    }
}

/// A linear VOI window in modality units (HU for CT).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VoiWindow {
    pub center: f64,
    /// At least 1; smaller values act as 1 (a threshold at the center).
    pub width: f64,
}

impl VoiWindow {
    pub const fn new(center: f64, width: f64) -> Self {
        Self { center, width }
    }

    /// Display value 0..=255 of modality value `x` (PS3.3 C.11.2.1.2.1, "LINEAR").
    pub fn apply(self, x: f64) -> u8 {
        linear_voi(x, self.center, self.width).round() as u8
    }
}

/// The DICOM linear VOI function onto 0..=255, unrounded:
/// `x <= c - 0.5 - (w-1)/2 -> 0`, `x > c - 0.5 + (w-1)/2 -> 255`,
/// else `((x - (c - 0.5)) / (w-1) + 0.5) * 255`.
pub fn linear_voi(x: f64, center: f64, width: f64) -> f64 {
    let width = width.max(1.0);
    let half = (width - 1.0) / 2.0;
    let shifted = x - (center - 0.5);
    if shifted <= -half {
        0.0
    } else if shifted > half {
        255.0
    } else {
        (shifted / (width - 1.0) + 0.5) * 255.0
    }
}

/// A named window/level preset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowPreset {
    pub name: &'static str,
    pub window: VoiWindow,
}

/// CT presets, in the order of their keyboard shortcuts 1–4.
pub const CT_WINDOW_PRESETS: [WindowPreset; 4] = [
    WindowPreset {
        name: "Soft tissue",
        window: VoiWindow::new(40.0, 400.0),
    },
    WindowPreset {
        name: "Lung",
        window: VoiWindow::new(-600.0, 1500.0),
    },
    WindowPreset {
        name: "Bone",
        window: VoiWindow::new(400.0, 2000.0),
    },
    WindowPreset {
        name: "Brain",
        window: VoiWindow::new(40.0, 80.0),
    },
];

/// A LUT Descriptor (0028,3002 / 0028,1101…): entry count, first input value mapped,
/// bits per entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LutDescriptor {
    pub entries: usize,
    pub first_mapped: i64,
    pub bits_per_entry: u8,
}

impl LutDescriptor {
    /// From the three descriptor values as stored: an entry count of 0 means 65536.
    /// `first_mapped` must already carry its sign (it follows PixelRepresentation).
    pub fn from_values(entries: u32, first_mapped: i64, bits_per_entry: u8) -> Self {
        Self {
            entries: if entries == 0 {
                65536
            } else {
                entries as usize
            },
            first_mapped,
            bits_per_entry: bits_per_entry.clamp(1, 16),
        }
    }
}

/// A lookup table: descriptor and data (one entry per element, already unpacked).
#[derive(Clone, Debug, PartialEq)]
pub struct Lut {
    pub descriptor: LutDescriptor,
    pub data: Vec<u16>,
}

/// Why a LUT or frame cannot be displayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DisplayError {
    #[error("LUT has {actual} entries, its descriptor says {expected}")]
    LutLength { expected: usize, actual: usize },
    #[error("palette colour image without a palette")]
    MissingPalette,
    #[error("frame has {actual} samples, {rows}×{columns}×{samples_per_pixel} expected")]
    FrameSize {
        rows: u32,
        columns: u32,
        samples_per_pixel: u16,
        actual: usize,
    },
}

impl Lut {
    pub fn new(descriptor: LutDescriptor, data: Vec<u16>) -> Result<Self, DisplayError> {
        if data.len() != descriptor.entries || data.is_empty() {
            return Err(DisplayError::LutLength {
                expected: descriptor.entries,
                actual: data.len(),
            });
        }
        Ok(Self { descriptor, data })
    }

    /// The entry for input `x`: inputs below the first mapped value give the first
    /// entry, inputs past the end give the last.
    pub fn lookup(&self, x: f64) -> u16 {
        let last = self.data.len() - 1;
        let index = (x.floor() - self.descriptor.first_mapped as f64).clamp(0.0, last as f64);
        self.data[index as usize]
    }

    /// [`lookup`](Self::lookup) scaled from `bits_per_entry` to 0..=255.
    pub fn lookup_u8(&self, x: f64) -> u8 {
        let max = f64::from((1u32 << self.descriptor.bits_per_entry) - 1);
        (f64::from(self.lookup(x)).min(max) / max * 255.0).round() as u8
    }
}

/// The VOI transform.
#[derive(Clone, Debug, PartialEq)]
pub enum Voi {
    Linear(VoiWindow),
    /// A VOI LUT Sequence item; its output range is scaled to 0..=255.
    Lut(Lut),
}

/// Whether low values display dark (MONOCHROME2) or bright (MONOCHROME1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    Normal,
    Inverted,
}

/// Stored grayscale value -> display value 0..=255.
#[derive(Clone, Debug, PartialEq)]
pub struct GrayscalePipeline {
    pub modality: ModalityLut,
    pub voi: Voi,
    pub polarity: Polarity,
}

impl GrayscalePipeline {
    /// Display value of one stored value.
    pub fn gray(&self, stored: f64) -> u8 {
        let x = self.modality.apply(stored);
        let y = match &self.voi {
            Voi::Linear(window) => window.apply(x),
            Voi::Lut(lut) => lut.lookup_u8(x),
        };
        match self.polarity {
            Polarity::Normal => y,
            Polarity::Inverted => 255 - y,
        }
    }
}

/// Palette Colour LUTs (red, green, blue), each indexed by the stored value.
#[derive(Clone, Debug, PartialEq)]
pub struct PaletteLut {
    pub red: Lut,
    pub green: Lut,
    pub blue: Lut,
}

impl PaletteLut {
    pub fn rgb(&self, stored: f64) -> [u8; 3] {
        [
            self.red.lookup_u8(stored),
            self.green.lookup_u8(stored),
            self.blue.lookup_u8(stored),
        ]
    }
}

/// A stored sample type.
pub trait StoredSample: Copy {
    fn to_f64(self) -> f64;
}

macro_rules! stored_sample {
    ($($t:ty),*) => {$(
        impl StoredSample for $t {
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
        }
    )*};
}
stored_sample!(u8, i8, u16, i16, u32, i32);

/// Renders single-sample grayscale values into RGBA8 (opaque), replacing `out`.
pub fn render_gray_rgba<T: StoredSample>(
    samples: &[T],
    pipeline: &GrayscalePipeline,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.reserve(samples.len() * 4);
    for &sample in samples {
        let g = pipeline.gray(sample.to_f64());
        out.extend_from_slice(&[g, g, g, 255]);
    }
}

/// Renders palette-colour indices into RGBA8, replacing `out`.
pub fn render_palette_rgba<T: StoredSample>(
    samples: &[T],
    palette: &PaletteLut,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.reserve(samples.len() * 4);
    for &sample in samples {
        let [r, g, b] = palette.rgb(sample.to_f64());
        out.extend_from_slice(&[r, g, b, 255]);
    }
}

/// Renders interleaved RGB samples into RGBA8, replacing `out`. Samples wider than
/// 8 bits are scaled from `bits_stored` down to 8.
pub fn render_rgb_rgba<T: StoredSample>(samples: &[T], bits_stored: u8, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(samples.len() / 3 * 4);
    let max = f64::from((1u32 << bits_stored.clamp(1, 16)) - 1);
    let to_u8 = |v: T| (v.to_f64().clamp(0.0, max) / max * 255.0).round() as u8;
    for rgb in samples.chunks_exact(3) {
        out.extend_from_slice(&[to_u8(rgb[0]), to_u8(rgb[1]), to_u8(rgb[2]), 255]);
    }
}

/// Runs `$body` with `$s` bound to the typed slice inside a [`Samples`].
macro_rules! with_samples {
    ($samples:expr, $s:ident => $body:expr) => {
        match $samples {
            Samples::U8(v) => {
                let $s = v.as_slice();
                $body
            }
            Samples::I8(v) => {
                let $s = v.as_slice();
                $body
            }
            Samples::U16(v) => {
                let $s = v.as_slice();
                $body
            }
            Samples::I16(v) => {
                let $s = v.as_slice();
                $body
            }
            Samples::U32(v) => {
                let $s = v.as_slice();
                $body
            }
            Samples::I32(v) => {
                let $s = v.as_slice();
                $body
            }
        }
    };
}

/// Renders a decoded frame into RGBA8 (rows × columns × 4). Grayscale frames go
/// through `gray` (inverted for MONOCHROME1); palette frames need `palette`; RGB
/// passes through, scaled from `bits_stored`.
pub fn render_frame_rgba(
    frame: &Frame,
    gray: &GrayscalePipeline,
    palette: Option<&PaletteLut>,
    bits_stored: u8,
) -> Result<Vec<u8>, DisplayError> {
    let pixels = frame.rows as usize * frame.columns as usize;
    let expected = pixels * usize::from(frame.samples_per_pixel);
    let actual = samples_len(&frame.samples);
    if actual != expected {
        return Err(DisplayError::FrameSize {
            rows: frame.rows,
            columns: frame.columns,
            samples_per_pixel: frame.samples_per_pixel,
            actual,
        });
    }
    let mut out = Vec::new();
    match frame.photometric {
        Photometric::Monochrome1 | Photometric::Monochrome2 => {
            let mut pipeline = gray.clone();
            if frame.photometric == Photometric::Monochrome1 {
                pipeline.polarity = match gray.polarity {
                    Polarity::Normal => Polarity::Inverted,
                    Polarity::Inverted => Polarity::Normal,
                };
            }
            with_samples!(&frame.samples, s => render_gray_rgba(s, &pipeline, &mut out));
        }
        Photometric::PaletteColor => {
            let palette = palette.ok_or(DisplayError::MissingPalette)?;
            with_samples!(&frame.samples, s => render_palette_rgba(s, palette, &mut out));
        }
        Photometric::Rgb => {
            with_samples!(&frame.samples, s => render_rgb_rgba(s, bits_stored, &mut out));
        }
    }
    Ok(out)
}

fn samples_len(samples: &Samples) -> usize {
    with_samples!(samples, s => s.len())
}

#[cfg(test)]
mod tests;
