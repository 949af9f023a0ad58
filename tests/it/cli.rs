//! The command-line contracts: `hash`, `info`, `demo`, `bench load`, driven as a user would.

use std::path::Path;
use std::process::Command;

use tessera::imaging::writer::SliceSpec;

fn tessera(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tessera: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_series(dir: &Path, slices: i64) -> Vec<i16> {
    let mut all = Vec::new();
    for k in 0..slices {
        let spec = SliceSpec::axial_ct("cli-series", k + 1, k as f64 * 2.5);
        let pixels: Vec<i16> = (0..64 * 64)
            .map(|v| (v as i16 % 700) - 100 + k as i16)
            .collect();
        spec.write(&dir.join(format!("s{k:03}.dcm")), &pixels)
            .unwrap();
        all.extend_from_slice(&pixels);
    }
    all
}

#[test]
fn hash_prints_one_json_line_per_file_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pixels = write_series(dir.path(), 1);
    std::fs::write(dir.path().join("notes.txt"), b"not dicom").unwrap();
    let good = dir.path().join("s000.dcm");
    let bad = dir.path().join("notes.txt");
    let (code, stdout, _) = tessera(&["hash", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let frames = lines[0]["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 1);
    let bytes: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let expected = tessera::imaging::pixels::sha256_hex(&bytes);
    assert_eq!(frames[0]["sha256"], expected.as_str());
    assert_eq!(
        frames[0]["min"].as_f64().unwrap(),
        f64::from(*pixels.iter().min().unwrap())
    );
    assert_eq!(
        frames[0]["max"].as_f64().unwrap(),
        f64::from(*pixels.iter().max().unwrap())
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|e| !e.contains('\n'))
    );
    assert_eq!(lines[1]["file"], bad.to_str().unwrap());
}

#[test]
fn hash_without_files_is_a_usage_error() {
    let (code, _, _) = tessera(&["hash"]);
    assert_eq!(code, 2);
}

#[test]
fn info_json_reports_series_geometry_and_no_patient_names() {
    let dir = tempfile::tempdir().unwrap();
    write_series(dir.path(), 4);
    let (code, stdout, _) = tessera(&["info", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["series"].as_array().unwrap().len(), 1);
    let stack = &v["series"][0]["stacks"][0];
    assert_eq!(stack["slices"], 4);
    let spacing = stack["geometry"]["spacing_mm"].as_array().unwrap();
    assert!((spacing[2].as_f64().unwrap() - 2.5).abs() < 1e-9);
    assert!(!stdout.contains("Synthetic^Patient"));
    let (code, text, _) = tessera(&["info", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(text.contains("1 series"), "{text}");
}

#[test]
fn bench_load_prints_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    write_series(dir.path(), 6);
    let (code, stdout, stderr) =
        tessera(&["bench", "load", dir.path().to_str().unwrap(), "--runs", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["slices"], 6);
    assert_eq!(v["bytes"], 6 * 64 * 64 * 2);
    for key in ["first_slice_ms", "volume_ms"] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}");
    }
    assert!(v["peak_rss_bytes"].as_u64().is_some_and(|x| x > 0));
    assert!(v["provenance_ms"].as_f64() >= v["volume_ms"].as_f64());
}

#[test]
fn demo_writes_a_study_that_discovery_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = tessera(&["demo", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wrote"), "{stdout}");
    let found = tessera::imaging::discovery::discover(&[dir.path().to_path_buf()]);
    let slices: Vec<usize> = found.stacks().map(|s| s.slices.len()).collect();
    assert!(slices.contains(&160), "{slices:?}");
    assert_eq!(found.series().count(), 2);
}
