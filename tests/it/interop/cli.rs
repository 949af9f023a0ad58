//! The end-to-end check through the command line: the demo study (small
//! geometry) with a lesion outlined on every slice it crosses and a few rulers, each
//! export written by `tessera labels export`, each checked by its validator, and the
//! refusals (GeoJSON of a study, --reviewed-only, SEG without --study) as one-line errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera::imaging::demo::{DEMO_LESIONS, DemoSpec, write_demo_study_with};
use tessera::interop::{SourceSeries, seg};
use tessera::project::model::Kind;

use super::sr::{coded, on_slice};
use super::{assert_dciodvfy_clean, python, run_python, skip, stack};

pub(super) fn tessera(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_PASSPHRASE", "correct horse")
        .env("TESSERA_USER", "alice")
        .env("TESSERA_TEST_KDF", "64,1,1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(super) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn demo_study_exports_pass_their_validators() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    let spec = DemoSpec::SMALL;
    write_demo_study_with(&study, &spec, |_| {}).unwrap();
    let source = SourceSeries::from_stack(&stack(&study.join("CT"))).unwrap();

    // The liver cyst outlined as an ellipse on every slice whose centre plane cuts it
    // (the sphere's cross-section there), a ruler across it, a bidirectional on the
    // hyperdense liver lesion.
    let cyst = DEMO_LESIONS
        .iter()
        .find(|l| l.name == "liver-cyst-30mm")
        .unwrap();
    let dense = DEMO_LESIONS
        .iter()
        .find(|l| l.name == "liver-hyperdense-20mm")
        .unwrap();
    let px = spec.ct_pixel_spacing_mm;
    let origin = source.grid.origin_mm;
    let pixel = |c: [f64; 3]| [(c[0] - origin[0]) / px, (c[1] - origin[1]) / px];
    let [ci, cj] = pixel(cyst.centre_mm);
    let radius = cyst.diameter_mm / 2.0;
    let mut annotations = Vec::new();
    let mut nearest = (f64::MAX, 0);
    for (k, slice) in source.slices.iter().enumerate() {
        let dz = slice.position_mm[2] - cyst.centre_mm[2];
        if dz.abs() < nearest.0 {
            nearest = (dz.abs(), k);
        }
        if dz.abs() < radius - 1.0 {
            let r = (radius * radius - dz * dz).sqrt() / px;
            annotations.push(on_slice(
                &source,
                k,
                Kind::Ellipse,
                vec![[ci - r, cj - r], [ci + r, cj + r]],
                coded("Lesion", "52988006"),
            ));
        }
    }
    let painted = annotations.len();
    assert!(painted >= 4, "{painted} slices");
    let (dz, k) = nearest;
    let half = (radius * radius - dz * dz).sqrt() / px;
    annotations.push(on_slice(
        &source,
        k,
        Kind::Ruler,
        vec![[ci - half, cj], [ci + half, cj]],
        coded("Lesion", "52988006"),
    ));
    let [di, dj] = pixel(dense.centre_mm);
    let kd = source
        .slices
        .iter()
        .position(|s| (s.position_mm[2] - dense.centre_mm[2]).abs() < 2.6)
        .unwrap();
    let r = 9.0 / px;
    annotations.push(on_slice(
        &source,
        kd,
        Kind::Bidirectional,
        vec![
            [di - r, dj],
            [di + r, dj],
            [di, dj - r / 2.0],
            [di, dj + r / 2.0],
        ],
        coded("Mass", "4147007"),
    ));
    let json = dir.path().join("labels.json");
    std::fs::write(
        &json,
        serde_json::to_string(&tessera::project::labels::to_doc(&annotations)).unwrap(),
    )
    .unwrap();

    let project = dir.path().join("p.tessera");
    let (code, _, err) = tessera(&["project", "init", s(&project)]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tessera(&["labels", "import", s(&project), s(&json)]);
    assert_eq!(code, 0, "{err}");

    let out = |name: &str| dir.path().join(name);
    let export = |format: &str, path: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "labels",
            "export",
            s(&project),
            "--format",
            format,
            "--out",
            s(path),
            "--study",
            s(&study),
        ];
        args.extend_from_slice(extra);
        let (code, stdout, err) = tessera(&args);
        assert_eq!(code, 0, "{format}: {err}");
        assert!(
            !stdout.contains("Demo^Phantom") && !stdout.contains(&source.series_instance_uid),
            "{stdout}"
        );
        stdout
    };

    // SEG: valid, and it holds exactly the outlined voxels.
    let seg_path = out("lesion-seg.dcm");
    let said = export("seg", &seg_path, &[]);
    assert!(said.contains("1 segments"), "{said}");
    assert_dciodvfy_clean("cli seg", &seg_path);
    let back = seg::read(&seg_path, Some(&source)).unwrap();
    let (expected, _) = tessera::interop::from_annotations(&annotations, &source).unwrap();
    assert_eq!(back.labels.voxels, expected.voxels);
    assert_eq!(back.labels.segments[0].type_.value, "52988006");

    // SR: valid; highdicom reads the ruler's length and the cyst's HU.
    let sr_path = out("measurements-sr.dcm");
    export("sr", &sr_path, &[]);
    assert_dciodvfy_clean("cli sr", &sr_path);

    // NIfTI with the image; CSV.
    let nii = out("lesion.nii.gz");
    export("nifti", &nii, &["--with-image"]);
    assert!(out("lesion_labels.txt").exists() && out("lesion_image.nii.gz").exists());
    let csv_path = out("measurements.csv");
    export("csv", &csv_path, &[]);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let ruler_row = csv.lines().find(|l| l.contains(",ruler,")).unwrap();
    let length: f64 = ruler_row.split(',').nth(16).unwrap().parse().unwrap();
    assert!((length - 2.0 * half * px).abs() < 1e-6, "{ruler_row}");
    assert!(ruler_row.contains(",alice,no case,length,"), "{ruler_row}");
    assert_eq!(
        csv.lines().filter(|l| l.contains(",ellipse,")).count(),
        painted * 5,
        "area, mean, SD, min, max"
    );

    // Refusals: one line each, nothing written.
    for (args, says) in [
        (
            vec![
                "labels",
                "export",
                s(&project),
                "--format",
                "geojson",
                "--out",
                "x.geojson",
            ],
            "no slide annotations",
        ),
        (
            vec![
                "labels",
                "export",
                s(&project),
                "--format",
                "csv",
                "--out",
                "x.csv",
                "--reviewed-only",
            ],
            "approved or adjudicated cases",
        ),
        (
            vec![
                "labels",
                "export",
                s(&project),
                "--format",
                "seg",
                "--out",
                "x.dcm",
            ],
            "--study",
        ),
        (
            vec![
                "labels",
                "import",
                s(&project),
                s(&seg_path),
                "--format",
                "geojson",
            ],
            "not GeoJSON",
        ),
        (
            vec![
                "labels",
                "import",
                s(&project),
                s(&seg_path),
                "--format",
                "seg",
            ],
            "--study DIR is required",
        ),
    ] {
        let (code, _, err) = tessera(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains(says) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }

    // The SEG imported into the project is a stored segmentation; exported again (now
    // from the stored label map, not the outlines) it holds the same voxels and codes.
    let (code, said, err) = tessera(&[
        "labels",
        "import",
        s(&project),
        s(&seg_path),
        "--format",
        "seg",
        "--study",
        s(&study),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        said.contains("stored segmentation") && said.contains("1 segments"),
        "{said}"
    );
    let again = out("stored-seg.dcm");
    let said = export("seg", &again, &[]);
    assert!(said.contains("1 segments"), "{said}");
    assert_dciodvfy_clean("cli stored seg", &again);
    let back_again = seg::read(&again, Some(&source)).unwrap();
    assert_eq!(back_again.labels.voxels, expected.voxels);
    assert_eq!(back_again.labels.segments[0].type_.value, "52988006");
    let nii_stored = out("stored.nii.gz");
    export("nifti", &nii_stored, &[]);
    let stored_nii = tessera::interop::nifti::read(&nii_stored).unwrap();
    assert_eq!(
        stored_nii.data, expected.voxels,
        "NIfTI of the stored label map"
    );
    assert_eq!(stored_nii.qform, stored_nii.sform);

    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            return skip(
                "cli: highdicom and nibabel checks of the demo exports",
                &why,
            );
        }
    };
    let report = run_python(&python, "sr_check.py", &[&sr_path]);
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), painted + 2);
    let ruler = groups
        .iter()
        .find(|g| g["template"] == "1501" && g["measurements"].as_array().unwrap().len() == 1)
        .unwrap();
    let measured = ruler["measurements"][0]["value"].as_f64().unwrap();
    // The sphere's chord on that slice, within half a pixel.
    let chord = 2.0 * (radius * radius - dz * dz).sqrt();
    assert!(
        (measured - chord).abs() <= px / 2.0,
        "{measured} vs {chord}"
    );
    for g in groups.iter().filter(|g| g["template"] == "1410") {
        let mean = g["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["derivation"][2] == "Mean")
            .unwrap();
        assert!(
            (mean["value"].as_f64().unwrap() - cyst.ct_hu).abs() < 8.0,
            "cyst mean {mean}"
        );
    }
    let seg_read = run_python(&python, "seg_check.py", &[&seg_path]);
    assert_eq!(
        seg_read["segments"]["1"]["points"]
            .as_array()
            .unwrap()
            .len(),
        expected.histogram()[1] as usize
    );
    let nifti = run_python(
        &python,
        "nifti_stats.py",
        &[&nii, &out("lesion_image.nii.gz")],
    );
    assert_eq!(nifti["affines_equal"], true);
    assert_eq!(nifti["qform_equals_sform"], true);
    let lesion = &nifti["labels"]["1"];
    let centroid: Vec<f64> = lesion["centroid_ras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want = [-cyst.centre_mm[0], -cyst.centre_mm[1], cyst.centre_mm[2]];
    for n in 0..3 {
        assert!(
            (centroid[n] - want[n]).abs() < px,
            "centroid {centroid:?} vs cyst centre (RAS) {want:?}"
        );
    }
    assert!(
        (lesion["mean"].as_f64().unwrap() - cyst.ct_hu).abs() < 8.0,
        "{lesion}"
    );
}
