//! Exports checked against the field's own readers: NIfTI (nibabel), DICOM SEG and SR
//! (dciodvfy from dicom3tools, highdicom), CSV; QuPath GeoJSON against QuPath's documented
//! shape (a hand-written sample). Each test builds its own synthetic
//! DICOM series. A test that needs an external validator prints why it skips that
//! part when the validator is absent (`scripts/setup.sh` installs them), never fakes it.

mod cli;
mod geojson;
mod nifti;
mod seg;
mod sr;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use tessera::imaging::discovery::{self, Stack};
use tessera::imaging::volume::{self, LoadOptions, Volume};
use tessera::imaging::writer::SliceSpec;
use tessera::interop::SourceSeries;

/// Prints a skip notice past the test harness's capture, so CI logs show it.
pub fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED part of {test}: {reason}");
}

/// The Python with highdicom and nibabel: $TESSERA_PYTHON, else the virtual
/// environment scripts/setup.sh makes under target/pyvenv. `Err` says why not.
pub fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("TESSERA_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin/python"),
        PathBuf::from,
    );
    let out = Command::new(&python)
        .args(["-c", "import highdicom, nibabel, pydicom, numpy"])
        .output()
        .map_err(|e| {
            format!(
                "no Python at {} ({e}); run scripts/setup.sh",
                python.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "{} cannot import highdicom/nibabel ({}); run scripts/setup.sh",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(python)
}

/// Runs one of this folder's Python scripts with `args`; returns its stdout as JSON.
pub fn run_python(python: &Path, script: &str, args: &[&Path]) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/interop")
        .join(script);
    let out = Command::new(python).arg(&path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A synthetic series: orientation, in-plane size, pixel spacing, slice positions.
#[derive(Clone, Debug)]
pub struct SeriesSpec {
    pub name: &'static str,
    pub columns: u16,
    pub rows: u16,
    pub orientation: [f64; 6],
    pub pixel_spacing_mm: [f64; 2],
    pub first_mm: [f64; 3],
    /// Step between consecutive slices (written in this order).
    pub step_mm: [f64; 3],
    pub slices: usize,
}

/// A bright voxel written into the DICOM pixels, and where DICOM puts it.
#[derive(Clone, Debug)]
pub struct Marker {
    pub hu: i16,
    pub column: usize,
    pub row: usize,
    /// Index of the slice in writing order.
    pub slice: usize,
    /// ImagePositionPatient + column·Δc·row-cosine + row·Δr·column-cosine (LPS, mm).
    pub lps: [f64; 3],
}

/// Axial (superior first), coronal, sagittal and an oblique with a flipped row axis.
pub fn specs() -> Vec<SeriesSpec> {
    let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
    vec![
        SeriesSpec {
            name: "axial",
            columns: 20,
            rows: 16,
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            pixel_spacing_mm: [0.8, 0.7],
            first_mm: [-7.0, -6.0, 30.0],
            step_mm: [0.0, 0.0, -2.5],
            slices: 6,
        },
        SeriesSpec {
            name: "coronal",
            columns: 18,
            rows: 14,
            orientation: [1.0, 0.0, 0.0, 0.0, 0.0, -1.0],
            pixel_spacing_mm: [1.2, 0.9],
            first_mm: [-8.0, 10.0, 12.0],
            step_mm: [0.0, -3.0, 0.0],
            slices: 5,
        },
        SeriesSpec {
            name: "sagittal",
            columns: 16,
            rows: 15,
            orientation: [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
            pixel_spacing_mm: [1.0, 1.1],
            first_mm: [-4.0, -9.0, 8.0],
            step_mm: [2.0, 0.0, 0.0],
            slices: 5,
        },
        SeriesSpec {
            name: "oblique",
            columns: 17,
            rows: 19,
            orientation: [-1.0, 0.0, 0.0, 0.0, c, -s],
            pixel_spacing_mm: [0.75, 1.25],
            first_mm: [12.0, -7.5, -20.0],
            step_mm: [0.0, 2.0 * s, 2.0 * c],
            slices: 4,
        },
    ]
}

impl SeriesSpec {
    /// Three markers near different corners: any flip or swap of axes moves one.
    pub fn markers(&self) -> Vec<Marker> {
        let (nc, nr, ns) = (
            usize::from(self.columns),
            usize::from(self.rows),
            self.slices,
        );
        [
            (1, 2, 0, 500),
            (nc - 2, 1, ns - 1, 700),
            (3, nr - 1, 1, 900),
        ]
        .into_iter()
        .map(|(column, row, slice, hu)| {
            let o = self.orientation;
            let ipp = self.position(slice);
            let lps = [0, 1, 2].map(|a| {
                ipp[a]
                    + column as f64 * self.pixel_spacing_mm[1] * o[a]
                    + row as f64 * self.pixel_spacing_mm[0] * o[3 + a]
            });
            Marker {
                hu,
                column,
                row,
                slice,
                lps,
            }
        })
        .collect()
    }

    pub fn position(&self, slice: usize) -> [f64; 3] {
        [0, 1, 2].map(|a| self.first_mm[a] + self.step_mm[a] * slice as f64)
    }

    /// Writes the series into `dir` (files in reverse order, to be sorted by
    /// position): background −1000 HU, the markers, and a faint ramp.
    pub fn write(&self, dir: &Path) {
        let markers = self.markers();
        let (nc, nr) = (usize::from(self.columns), usize::from(self.rows));
        for slice in (0..self.slices).rev() {
            let mut spec = SliceSpec::axial_ct(self.name, slice as i64 + 1, slice as f64);
            spec.columns = self.columns;
            spec.rows = self.rows;
            spec.orientation = self.orientation;
            spec.pixel_spacing_mm = self.pixel_spacing_mm;
            spec.position_mm = self.position(slice);
            spec.slice_thickness_mm = norm(self.step_mm);
            spec.series_description = format!("Synthetic {}", self.name);
            let mut pixels: Vec<i16> = (0..nc * nr).map(|n| 24 + (n % 7) as i16).collect();
            for m in markers.iter().filter(|m| m.slice == slice) {
                pixels[m.row * nc + m.column] = m.hu + 1024;
            }
            spec.write(&dir.join(format!("{}-{slice:03}.dcm", self.name)), &pixels)
                .unwrap();
        }
    }
}

pub fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// The only stack under `dir`.
pub fn stack(dir: &Path) -> Stack {
    let found = discovery::discover(&[dir.to_path_buf()]);
    let stacks: Vec<&Stack> = found.stacks().collect();
    assert_eq!(stacks.len(), 1, "expected one stack");
    stacks[0].clone()
}

/// The source series and loaded volume of the series under `dir`.
pub fn load(dir: &Path) -> (SourceSeries, Volume) {
    let stack = stack(dir);
    let source = SourceSeries::from_stack(&stack).unwrap();
    let volume = volume::load(
        &stack,
        &LoadOptions::default(),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    (source, volume)
}

pub fn close3(a: [f64; 3], b: [f64; 3], tolerance: f64) -> bool {
    (0..3).all(|n| (a[n] - b[n]).abs() <= tolerance)
}

/// Runs dciodvfy (dicom3tools) on `path`: `Ok` with every line it printed, or `Err`
/// saying why it could not run.
pub fn dciodvfy(path: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("dciodvfy").arg(path).output().map_err(|e| {
        format!("dciodvfy not found ({e}); Debian package dicom3tools, scripts/setup.sh")
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text.lines().map(str::to_owned).collect())
}

/// Asserts dciodvfy reports no error for `path` (or says why it was not run), and
/// prints what it said past the harness capture.
pub fn assert_dciodvfy_clean(test: &str, path: &Path) {
    match dciodvfy(path) {
        Err(why) => skip(test, &why),
        Ok(lines) => {
            let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("Error")).collect();
            let _ = writeln!(
                std::io::stderr(),
                "dciodvfy {test}: {} lines, {} errors, {} warnings",
                lines.len(),
                errors.len(),
                lines.iter().filter(|l| l.starts_with("Warning")).count()
            );
            if std::env::var_os("TESSERA_SHOW_VALIDATORS").is_some() {
                let _ = writeln!(std::io::stderr(), "{}", lines.join("\n"));
            }
            assert!(errors.is_empty(), "dciodvfy {test}:\n{}", lines.join("\n"));
        }
    }
}

/// Patient points (LPS mm) of every voxel with value `value`, sorted.
pub fn points_of(labels: &tessera::interop::LabelVolume, value: u8) -> Vec<[f64; 3]> {
    let [ni, nj, _] = labels.grid.dims;
    let mut points: Vec<[f64; 3]> = labels
        .voxels
        .iter()
        .enumerate()
        .filter(|(_, v)| **v == value)
        .map(|(n, _)| {
            labels.grid.world([
                (n % ni) as f64,
                (n / ni % nj) as f64,
                (n / (ni * nj)) as f64,
            ])
        })
        .collect();
    sort_points(&mut points);
    points
}

pub fn sort_points(points: &mut [[f64; 3]]) {
    points.sort_by(|a, b| {
        let key = |p: &[f64; 3]| p.map(|x| (x * 100.0).round() as i64);
        key(a).cmp(&key(b))
    });
}

/// JSON `[[x, y, z], …]` as points.
pub fn json_points(v: &serde_json::Value) -> Vec<[f64; 3]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_array().unwrap();
            [0, 1, 2].map(|n| p[n].as_f64().unwrap())
        })
        .collect()
}
