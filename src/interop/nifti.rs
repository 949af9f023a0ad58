//! NIfTI-1 (`.nii.gz`) label maps and image volumes, and ITK-SNAP label descriptions.
//!
//! Owns the 348-byte header (written by hand), the voxel → RAS affine derived from the
//! DICOM LPS geometry (x and y negated: NIfTI's world is RAS, DICOM's LPS), stored both
//! as the qform (quaternion, `qform_code` 1) and the sform (`sform_code` 1), equal; and
//! reading such files back (for tests and checks). Voxel order is the grid's: `i`
//! (DICOM column) fastest, then `j` (row), then `k` (slice), as NIfTI stores them.
//!
//! A sheared grid (gantry tilt) cannot be a qform (rotation + scaling only), so it is
//! refused rather than written with a qform that disagrees with its sform.

#![allow(clippy::needless_range_loop)] // 3×3 and 4×4 matrix code reads best with indices

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{InteropError, LabelVolume, SegmentInfo, SourceSeries, voxel_count};
use crate::imaging::mpr::VolumeGrid;
use crate::imaging::pixels::Samples;
use crate::imaging::volume::Volume;

/// NIfTI-1 datatype codes used here.
const DT_UINT8: i16 = 2;
const DT_INT16: i16 = 4;
const DT_FLOAT32: i16 = 16;
/// NIFTI_INTENT_LABEL: voxel values are label indices.
const INTENT_LABEL: i16 = 1002;
/// NIFTI_XFORM_SCANNER_ANAT.
const XFORM_SCANNER_ANAT: i16 = 1;
/// NIFTI_UNITS_MM.
const UNITS_MM: u8 = 2;
/// Header (348 bytes) plus the 4-byte extension flag.
const VOX_OFFSET: usize = 352;
/// Largest data a read accepts (decompressed).
const MAX_READ_BYTES: u64 = 8 << 30;

/// Voxel values of an image volume in NIfTI's order.
#[derive(Clone, Debug, PartialEq)]
pub enum ImageVoxels {
    /// Modality values (e.g. HU) that are exact integers in the int16 range.
    I16(Vec<i16>),
    F32(Vec<f32>),
}

/// An image volume to export: modality values on a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageVolume {
    pub grid: VolumeGrid,
    pub voxels: ImageVoxels,
}

impl ImageVolume {
    /// The modality values (rescale applied per slice) of a loaded volume, with its
    /// slices in `source`'s order. int16 when every value is an exact integer in range
    /// (CT in HU), float32 otherwise.
    pub fn from_volume(
        volume: &Volume,
        source: &SourceSeries,
    ) -> Result<ImageVolume, InteropError> {
        if volume.samples_per_pixel != 1 {
            return Err(InteropError::Unsupported(
                "colour images cannot be written as NIfTI".into(),
            ));
        }
        let n = voxel_count(&source.grid)?;
        let per_slice = volume.rows as usize * volume.columns as usize;
        if source.grid.dims
            != [
                volume.columns as usize,
                volume.rows as usize,
                source.slices.len(),
            ]
            || per_slice * source.slices.len() != n
        {
            return Err(InteropError::Geometry(
                "the loaded volume does not match the source series".into(),
            ));
        }
        // The stored value at `n` of slice `k` (stack order), as f64.
        let stored = |k: usize, n: usize| -> Option<f64> {
            let at = k.checked_mul(per_slice)?.checked_add(n)?;
            match &volume.voxels {
                Samples::U8(v) => v.get(at).map(|x| f64::from(*x)),
                Samples::I8(v) => v.get(at).map(|x| f64::from(*x)),
                Samples::U16(v) => v.get(at).map(|x| f64::from(*x)),
                Samples::I16(v) => v.get(at).map(|x| f64::from(*x)),
                Samples::U32(v) => v.get(at).map(|x| f64::from(*x)),
                Samples::I32(v) => v.get(at).map(|x| f64::from(*x)),
            }
        };
        let modality = |slice: &super::SourceSlice, n: usize| -> Result<f64, InteropError> {
            let lut = volume
                .modality_lut
                .get(slice.stack_index)
                .copied()
                .unwrap_or_default();
            let s = stored(slice.stack_index, n)
                .ok_or_else(|| InteropError::Geometry("the loaded volume is too short".into()))?;
            Ok(s * lut.slope + lut.intercept)
        };
        // One pass to decide the type (no full-size f64 copy), one to fill it.
        let range = f64::from(i16::MIN)..=f64::from(i16::MAX);
        let mut integral = true;
        'check: for slice in &source.slices {
            for n in 0..per_slice {
                let v = modality(slice, n)?;
                if v != v.trunc() || !range.contains(&v) {
                    integral = false;
                    break 'check;
                }
            }
        }
        let voxels = if integral {
            let mut out = Vec::with_capacity(n);
            for slice in &source.slices {
                for p in 0..per_slice {
                    out.push(modality(slice, p)? as i16);
                }
            }
            ImageVoxels::I16(out)
        } else {
            let mut out = Vec::with_capacity(n);
            for slice in &source.slices {
                for p in 0..per_slice {
                    out.push(modality(slice, p)? as f32);
                }
            }
            ImageVoxels::F32(out)
        };
        Ok(ImageVolume {
            grid: source.grid.clone(),
            voxels,
        })
    }
}

impl ImageVolume {
    /// The value of voxel `[i, j, k]`, `None` outside the grid.
    pub fn value(&self, v: [usize; 3]) -> Option<f64> {
        let [ni, nj, nk] = self.grid.dims;
        if v[0] >= ni || v[1] >= nj || v[2] >= nk {
            return None;
        }
        let n = (v[2] * nj + v[1]) * ni + v[0];
        match &self.voxels {
            ImageVoxels::I16(x) => x.get(n).map(|x| f64::from(*x)),
            ImageVoxels::F32(x) => x.get(n).map(|x| f64::from(*x)),
        }
    }
}

/// The voxel → RAS (mm) affine of a grid, rows of a 4×4 matrix.
pub fn ras_from_voxel(grid: &VolumeGrid) -> [[f64; 4]; 4] {
    let mut m = [[0.0; 4]; 4];
    let flip = [-1.0, -1.0, 1.0];
    for row in 0..3 {
        for axis in 0..3 {
            m[row][axis] = flip[row] * grid.axes[axis][row] * grid.spacing_mm[axis];
        }
        m[row][3] = flip[row] * grid.origin_mm[row];
    }
    m[3][3] = 1.0;
    m
}

/// The qform of a grid: quaternion (b, c, d), qfac, and the pixdim spacing.
struct Qform {
    b: f64,
    c: f64,
    d: f64,
    qfac: f64,
    a_is_zero: bool,
}

fn qform(grid: &VolumeGrid) -> Result<Qform, InteropError> {
    let flip = [-1.0, -1.0, 1.0];
    // Columns: the unit RAS directions of +i, +j, +k.
    let mut r = [[0.0; 3]; 3];
    for axis in 0..3 {
        let v = grid.axes[axis];
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if !(norm.is_finite() && (norm - 1.0).abs() < 1e-4) {
            return Err(InteropError::Geometry(
                "voxel axes are not unit vectors".into(),
            ));
        }
        for row in 0..3 {
            r[row][axis] = flip[row] * v[row];
        }
    }
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let dot: f64 = (0..3).map(|row| r[row][a] * r[row][b]).sum();
        if dot.abs() > 1e-4 {
            return Err(InteropError::Unsupported(
                "sheared (gantry-tilted) geometry has no NIfTI qform; resample it first".into(),
            ));
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    // nifti1_io.c nifti_mat44_to_quatern, on an orthonormal matrix.
    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let trace = r11 + r22 + r33 + 1.0;
    let (mut a, mut b, mut c, mut d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r32 - r23) / a;
        c = 0.25 * (r13 - r31) / a;
        d = 0.25 * (r21 - r12) / a;
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r12 + r21) / b;
            d = 0.25 * (r13 + r31) / b;
            a = 0.25 * (r32 - r23) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r12 + r21) / c;
            d = 0.25 * (r23 + r32) / c;
            a = 0.25 * (r13 - r31) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r13 + r31) / d;
            c = 0.25 * (r23 + r32) / d;
            a = 0.25 * (r21 - r12) / d;
        }
        if a < 0.0 {
            (a, b, c, d) = (-a, -b, -c, -d);
        }
    }
    Ok(Qform {
        b,
        c,
        d,
        qfac,
        a_is_zero: a < 1e-4,
    })
}

/// The quaternion as stored (float32). Readers recompute `a = sqrt(1 - b² - c² - d²)`,
/// which float32 rounding turns from 0 into about 2e-4 (a rotation error of 0.02°, a
/// millimetre at 100 mm): when `a` is 0, the components are rounded away from zero
/// until `b² + c² + d² ≥ 1`, which nibabel (within 3 ε) and nifti1_io read as `a = 0`.
fn stored_quaternion(q: &Qform) -> [f32; 3] {
    let mut v = [q.b as f32, q.c as f32, q.d as f32];
    if q.a_is_zero {
        for _ in 0..6 {
            let sum: f64 = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum();
            if sum >= 1.0 {
                break;
            }
            let Some(largest) = (0..3).max_by(|a, b| v[*a].abs().total_cmp(&v[*b].abs())) else {
                break;
            };
            let x = v[largest];
            let bits = x.to_bits() + 1; // one ulp away from zero, either sign
            v[largest] = f32::from_bits(bits);
        }
    }
    v
}

/// What a header describes.
struct HeaderSpec<'a> {
    grid: &'a VolumeGrid,
    datatype: i16,
    bitpix: i16,
    intent: i16,
    cal: [f32; 2],
    description: &'a str,
}

fn header(spec: &HeaderSpec<'_>) -> Result<Vec<u8>, InteropError> {
    let q = qform(spec.grid)?;
    let dims = spec.grid.dims;
    let mut h = vec![0u8; VOX_OFFSET];
    let put_i16 =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_i32 =
        |h: &mut Vec<u8>, at: usize, v: i32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put_f32 = |h: &mut Vec<u8>, at: usize, v: f64| {
        h[at..at + 4].copy_from_slice(&(v as f32).to_le_bytes())
    };
    put_i32(&mut h, 0, 348);
    h[38] = b'r';
    put_i16(&mut h, 40, 3);
    for (n, d) in dims.iter().enumerate() {
        let d = i16::try_from(*d).map_err(|_| {
            InteropError::Unsupported(format!("NIfTI-1 dimensions are at most 32767, not {d}"))
        })?;
        put_i16(&mut h, 42 + 2 * n, d);
    }
    for n in 3..7 {
        put_i16(&mut h, 42 + 2 * n, 1);
    }
    put_i16(&mut h, 68, spec.intent);
    put_i16(&mut h, 70, spec.datatype);
    put_i16(&mut h, 72, spec.bitpix);
    put_f32(&mut h, 76, q.qfac);
    for (n, s) in spec.grid.spacing_mm.iter().enumerate() {
        put_f32(&mut h, 80 + 4 * n, *s);
    }
    put_f32(&mut h, 92, 1.0);
    put_f32(&mut h, 108, VOX_OFFSET as f64);
    put_f32(&mut h, 112, 1.0); // scl_slope: values are stored as they are
    put_f32(&mut h, 116, 0.0);
    h[123] = UNITS_MM;
    put_f32(&mut h, 124, f64::from(spec.cal[1]));
    put_f32(&mut h, 128, f64::from(spec.cal[0]));
    let descrip = spec.description.as_bytes();
    let n = descrip.len().min(79);
    h[148..148 + n].copy_from_slice(&descrip[..n]);
    put_i16(&mut h, 252, XFORM_SCANNER_ANAT);
    put_i16(&mut h, 254, XFORM_SCANNER_ANAT);
    for (n, x) in stored_quaternion(&q).iter().enumerate() {
        h[256 + 4 * n..260 + 4 * n].copy_from_slice(&x.to_le_bytes());
    }
    let m = ras_from_voxel(spec.grid);
    put_f32(&mut h, 268, m[0][3]);
    put_f32(&mut h, 272, m[1][3]);
    put_f32(&mut h, 276, m[2][3]);
    for (row, at) in [(0, 280), (1, 296), (2, 312)] {
        for col in 0..4 {
            put_f32(&mut h, at + 4 * col, m[row][col]);
        }
    }
    if spec.intent == INTENT_LABEL {
        h[328..334].copy_from_slice(b"labels");
    }
    h[344..348].copy_from_slice(b"n+1\0");
    Ok(h)
}

fn write_gz(path: &Path, header: &[u8], data: &[u8]) -> Result<(), InteropError> {
    let file = std::fs::File::create(path).map_err(|e| InteropError::write(path, e))?;
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::default());
    gz.write_all(header)
        .and_then(|()| gz.write_all(data))
        .and_then(|()| gz.finish())
        .and_then(|mut w| w.flush())
        .map_err(|e| InteropError::write(path, e))
}

/// Writes a label volume as a uint8 `.nii.gz` (intent NIFTI_INTENT_LABEL).
pub fn write_labels(path: &Path, labels: &LabelVolume) -> Result<(), InteropError> {
    labels.validate()?;
    let max = labels.voxels.iter().copied().max().unwrap_or(0);
    let h = header(&HeaderSpec {
        grid: &labels.grid,
        datatype: DT_UINT8,
        bitpix: 8,
        intent: INTENT_LABEL,
        cal: [0.0, f32::from(max)],
        description: "Tessera label map",
    })?;
    write_gz(path, &h, &labels.voxels)
}

/// Writes an image volume as an int16 or float32 `.nii.gz`.
pub fn write_image(path: &Path, image: &ImageVolume) -> Result<(), InteropError> {
    let n = voxel_count(&image.grid)?;
    let (datatype, bitpix, data) = match &image.voxels {
        ImageVoxels::I16(v) if v.len() == n => (
            DT_INT16,
            16,
            v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
        ),
        ImageVoxels::F32(v) if v.len() == n => (
            DT_FLOAT32,
            32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        _ => {
            return Err(InteropError::Invalid(
                "image voxel count differs from its grid".into(),
            ));
        }
    };
    let h = header(&HeaderSpec {
        grid: &image.grid,
        datatype,
        bitpix,
        intent: 0,
        cal: [0.0, 0.0],
        description: "Tessera image volume",
    })?;
    write_gz(path, &h, &data)
}

/// The ITK-SNAP label description file of `segments` (index 0: "Clear Label").
pub fn label_description(segments: &[SegmentInfo]) -> String {
    let mut out = String::from(
        "################################################\n\
         # ITK-SnAP Label Description File\n\
         # File format: \n\
         # IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL\n\
         # Fields: \n\
         #    IDX:   Zero-based index \n\
         #    -R-:   Red color component (0..255)\n\
         #    -G-:   Green color component (0..255)\n\
         #    -B-:   Blue color component (0..255)\n\
         #    -A-:   Label transparency (0.00 .. 1.00)\n\
         #    VIS:   Label visibility (0 or 1)\n\
         #    IDX:   Label mesh visibility (0 or 1)\n\
         #  LABEL:   Label description \n\
         ################################################\n",
    );
    out.push_str("    0     0    0    0        0  0  0    \"Clear Label\"\n");
    let mut sorted: Vec<&SegmentInfo> = segments.iter().collect();
    sorted.sort_by_key(|s| s.number);
    for s in sorted {
        // ITK-SNAP has no escape for quotes or line breaks inside a label.
        let name: String = s
            .label
            .chars()
            .map(|c| match c {
                '"' => '\'',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect();
        out.push_str(&format!(
            "{:5} {:5} {:4} {:4}        1  1  1    \"{name}\"\n",
            s.number, s.colour[0], s.colour[1], s.colour[2]
        ));
    }
    out
}

/// Writes [`label_description`] to `path`.
pub fn write_label_description(path: &Path, segments: &[SegmentInfo]) -> Result<(), InteropError> {
    std::fs::write(path, label_description(segments)).map_err(|e| InteropError::write(path, e))
}

/// A NIfTI-1 file read back: its dimensions, datatype, both affines and raw data.
#[derive(Clone, Debug, PartialEq)]
pub struct NiftiFile {
    pub dims: [usize; 3],
    pub datatype: i16,
    pub intent: i16,
    pub qform_code: i16,
    pub sform_code: i16,
    /// voxel → world from the quaternion, pixdim and qoffset (as nibabel computes it).
    pub qform: [[f64; 4]; 4],
    /// voxel → world from srow_x/y/z.
    pub sform: [[f64; 4]; 4],
    /// Voxel data, little-endian, `i` fastest.
    pub data: Vec<u8>,
}

impl NiftiFile {
    /// The world (RAS) position of a voxel through the sform.
    pub fn sform_world(&self, v: [f64; 3]) -> [f64; 3] {
        apply(&self.sform, v)
    }

    /// The world (RAS) position of a voxel through the qform.
    pub fn qform_world(&self, v: [f64; 3]) -> [f64; 3] {
        apply(&self.qform, v)
    }
}

/// Applies a 4×4 affine (rows) to a point.
pub fn apply(m: &[[f64; 4]; 4], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2] + m[r][3])
}

/// Reads a little-endian single-file NIfTI-1 (`.nii` or `.nii.gz`).
pub fn read(path: &Path) -> Result<NiftiFile, InteropError> {
    let bytes = std::fs::read(path).map_err(|e| InteropError::read("NIfTI", path, e))?;
    let mut raw = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        GzDecoder::new(bytes.as_slice())
            .take(MAX_READ_BYTES)
            .read_to_end(&mut raw)
            .map_err(|e| InteropError::read("NIfTI", path, e))?;
    } else {
        raw = bytes;
    }
    parse(&raw).map_err(|reason| InteropError::read("NIfTI", path, reason))
}

fn parse(raw: &[u8]) -> Result<NiftiFile, String> {
    if raw.len() < 348 {
        return Err("shorter than a NIfTI-1 header".into());
    }
    let i16_at = |at: usize| i16::from_le_bytes([raw[at], raw[at + 1]]);
    let i32_at = |at: usize| i32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let f_at = |at: usize| {
        f64::from(f32::from_le_bytes([
            raw[at],
            raw[at + 1],
            raw[at + 2],
            raw[at + 3],
        ]))
    };
    if i32_at(0) != 348 || &raw[344..347] != b"n+1" {
        return Err("not a little-endian single-file NIfTI-1".into());
    }
    let ndim = i16_at(40);
    if !(1..=7).contains(&ndim) {
        return Err(format!("bad dim[0] {ndim}"));
    }
    let dim = |n: usize| -> Result<usize, String> {
        let d = if n as i16 <= ndim {
            i16_at(40 + 2 * n)
        } else {
            1
        };
        usize::try_from(d)
            .ok()
            .filter(|d| *d > 0)
            .ok_or(format!("bad dim[{n}] {d}"))
    };
    let dims = [dim(1)?, dim(2)?, dim(3)?];
    let datatype = i16_at(70);
    let bytes_per = match datatype {
        DT_UINT8 => 1,
        DT_INT16 => 2,
        DT_FLOAT32 => 4,
        other => return Err(format!("datatype {other} is not read here")),
    };
    let offset = f_at(108) as usize;
    let len = dims[0] * dims[1] * dims[2] * bytes_per;
    let data = raw
        .get(offset..offset + len)
        .ok_or("data shorter than its dimensions")?
        .to_vec();
    let pixdim = [f_at(76), f_at(80), f_at(84), f_at(88)];
    let qfac = if pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let (b, c, d) = (f_at(256), f_at(260), f_at(264));
    // As nibabel: a slightly negative 1 - |bcd|² (float32 rounding) is a = 0.
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let scale = [pixdim[1], pixdim[2], pixdim[3] * qfac];
    let offsets = [f_at(268), f_at(272), f_at(276)];
    let mut qform = [[0.0; 4]; 4];
    let mut sform = [[0.0; 4]; 4];
    for row in 0..3 {
        for col in 0..3 {
            qform[row][col] = r[row][col] * scale[col];
        }
        qform[row][3] = offsets[row];
        for col in 0..4 {
            sform[row][col] = f_at(280 + 16 * row + 4 * col);
        }
    }
    qform[3][3] = 1.0;
    sform[3][3] = 1.0;
    Ok(NiftiFile {
        dims,
        datatype,
        intent: i16_at(68),
        qform_code: i16_at(252),
        sform_code: i16_at(254),
        qform,
        sform,
        data,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::interop::{Algorithm, Code};

    fn segment(number: u8, label: &str) -> SegmentInfo {
        SegmentInfo {
            number,
            label: label.into(),
            colour: [255, 0, number],
            category: Code::default_category(),
            type_: Code::new("SCT", "52988006", "Lesion"),
            anatomic_region: None,
            algorithm: Algorithm::Manual,
        }
    }

    /// Grids in every orientation the issue names, each with a flip somewhere.
    pub(crate) fn grids() -> Vec<(&'static str, VolumeGrid)> {
        let c = 30f64.to_radians().cos();
        let s = 30f64.to_radians().sin();
        let slices = |n: usize, step: [f64; 3], origin: [f64; 3]| -> Vec<[f64; 3]> {
            (0..n)
                .map(|k| [0, 1, 2].map(|a| origin[a] + step[a] * k as f64))
                .collect()
        };
        vec![
            // Axial, slices stored superior → inferior (k runs towards −z).
            (
                "axial",
                VolumeGrid::from_slices(
                    7,
                    5,
                    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                    [0.8, 0.6],
                    &slices(4, [0.0, 0.0, -2.5], [-10.0, 20.0, 40.0]),
                ),
            ),
            // Coronal: rows towards patient left, columns towards inferior; k anterior → posterior.
            (
                "coronal",
                VolumeGrid::from_slices(
                    6,
                    8,
                    [1.0, 0.0, 0.0, 0.0, 0.0, -1.0],
                    [0.5, 0.9],
                    &slices(3, [0.0, 3.0, 0.0], [-30.0, -5.0, 60.0]),
                ),
            ),
            // Sagittal: rows posterior, columns inferior; k right → left.
            (
                "sagittal",
                VolumeGrid::from_slices(
                    5,
                    6,
                    [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
                    [1.1, 0.7],
                    &slices(5, [2.0, 0.0, 0.0], [-4.0, -12.0, 33.0]),
                ),
            ),
            // Oblique: rotated 30° about x, rows towards the patient's right (a flip).
            (
                "oblique",
                VolumeGrid::from_slices(
                    6,
                    7,
                    [-1.0, 0.0, 0.0, 0.0, c, -s],
                    [0.75, 1.25],
                    &slices(4, [0.0, 2.0 * s, 2.0 * c], [12.0, -7.5, -20.0]),
                ),
            ),
        ]
    }

    /// An asymmetric phantom: a few labelled voxels with distinct values near
    /// different corners, so any axis flip or swap moves some of them.
    fn phantom(grid: &VolumeGrid) -> LabelVolume {
        let mut l =
            LabelVolume::new(grid.clone(), (1..=3).map(|n| segment(n, "x")).collect()).unwrap();
        let [ni, nj, nk] = grid.dims;
        l.set(1, 0, 0, 1);
        l.set(ni - 1, 2, nk - 1, 2);
        l.set(0, nj - 1, 1, 3);
        l
    }

    #[test]
    fn affines_put_each_voxel_at_its_dicom_point_in_ras() {
        let dir = tempfile::tempdir().unwrap();
        for (name, grid) in grids() {
            let labels = phantom(&grid);
            let path = dir.path().join(format!("{name}.nii.gz"));
            write_labels(&path, &labels).unwrap();
            let back = read(&path).unwrap();
            assert_eq!(back.dims, grid.dims, "{name}");
            assert_eq!((back.qform_code, back.sform_code), (1, 1));
            assert_eq!(back.data, labels.voxels, "{name}: voxel order");
            for (index, value) in back.data.iter().enumerate().filter(|(_, v)| **v != 0) {
                let [ni, nj, _] = grid.dims;
                let v = [index % ni, index / ni % nj, index / (ni * nj)].map(|x| x as f64);
                let lps = grid.world(v);
                let ras = [-lps[0], -lps[1], lps[2]];
                for (form, world) in [
                    ("sform", back.sform_world(v)),
                    ("qform", back.qform_world(v)),
                ] {
                    for a in 0..3 {
                        assert!(
                            (world[a] - ras[a]).abs() < 1e-3,
                            "{name} {form} label {value}: {world:?} vs {ras:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sheared_grids_are_refused_and_descriptions_list_every_label() {
        let mut g = grids()[0].1.clone();
        g.axes[2] = [0.0, 0.2588, -0.9659];
        let l = LabelVolume::new(g, vec![]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = write_labels(&dir.path().join("x.nii.gz"), &l).unwrap_err();
        assert!(e.to_string().contains("sheared"), "{e}");
        let text = label_description(&[segment(2, "liver \"cyst\""), segment(1, "nodule")]);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].trim_start().starts_with("1 ") && lines[1].ends_with("\"nodule\""));
        assert!(lines[2].ends_with("\"liver 'cyst'\""));
    }
}
