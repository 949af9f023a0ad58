//! `tessera info PATH… [--json]`: what discovery found, for a person or a script
//! (one slide file: see `cli/slide.rs`).
//!
//! Patient names and IDs are never printed (screen sharing, shared logs).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::imaging::discovery::{self, PatientNames};

pub fn run(paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    // One slide file (by extension or TIFF header): the slide's levels and properties.
    if let [one] = paths
        && crate::imaging::slide::looks_like_slide(one)
    {
        return super::slide::info(one, json);
    }
    let found = discovery::discover(paths);
    let summary = found.summary(PatientNames::Omit);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} files examined: {} patient(s), {} study(ies), {} series, {} image instances, {} skipped{}",
        summary.files_examined,
        summary.patients,
        summary.studies,
        summary.series.len(),
        summary.instances,
        summary.skipped.len(),
        if summary.dicomdirs > 0 {
            format!(", {} DICOMDIR(s)", summary.dicomdirs)
        } else {
            String::new()
        }
    );
    for series in &summary.series {
        let number = series
            .series_number
            .map(|n| format!("#{n} "))
            .unwrap_or_default();
        println!(
            "\nseries {number}{} [{}], {} instance(s)",
            if series.description.is_empty() {
                "(no description)"
            } else {
                &series.description
            },
            series.modality,
            series.instances
        );
        for stack in &series.stacks {
            let g = &stack.geometry;
            let [si, sj, sk] = g.spacing_mm;
            let [ox, oy, oz] = g.origin_mm.0;
            println!(
                "  {:?} stack {} (rows×columns×slices), {}-bit {}, voxel {si:.3}×{sj:.3}×{sk:.3} mm ({:?}), origin ({ox:.1}, {oy:.1}, {oz:.1}) mm LPS",
                g.plane, stack.size, stack.bits_allocated, stack.photometric, g.spacing_source,
            );
            for warning in &stack.warning_text {
                println!("  warning: {warning}");
            }
        }
    }
    if !summary.skipped.is_empty() {
        println!("\nskipped:");
        for skipped in &summary.skipped {
            println!("  {skipped}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
