//! `tessera review report FILE [--json|--csv|--html] [--out PATH]`: agreement between
//! readers, computed from the project ([`crate::review::report`]).
//!
//! Owns argument handling and where the report goes. The report names readers and
//! label classes (it is a plaintext document the user asked for) but never UIDs or
//! patient data; series are named by a short digest.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::project::{UserArg, unlock};
use crate::project::VerifyOnOpen;
use crate::review::{render, report};

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Per-reader and per-class agreement: Dice, IoU, volumes, surface distances of
    /// segmentations; matched and missed findings and Cohen's kappa on their codes.
    Report {
        file: PathBuf,
        /// JSON (the default is a text summary).
        #[arg(long, conflicts_with_all = ["csv", "html"])]
        json: bool,
        /// One CSV row per compared class or pair of readers.
        #[arg(long, conflicts_with = "html")]
        csv: bool,
        /// A self-contained HTML page with tables and plots.
        #[arg(long)]
        html: bool,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        #[command(flatten)]
        who: UserArg,
    },
}

pub fn run(cmd: ReviewCommand) -> anyhow::Result<ExitCode> {
    let ReviewCommand::Report {
        file,
        json,
        csv,
        html,
        out,
        who,
    } = cmd;
    let mut session = unlock(&file, &who, VerifyOnOpen::Yes)?;
    let r = report::agreement_report(&mut session)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = if json {
        serde_json::to_string_pretty(&r)? + "\n"
    } else if csv {
        render::to_csv(&r)
    } else if html {
        render::to_html(&r, &name)
    } else {
        summary(&r)
    };
    match out {
        Some(path) => {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote the agreement report to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(r: &report::AgreementReport) -> String {
    let mut s = format!("{} series compared\n", r.series_compared);
    for x in &r.segmentations {
        s.push_str(&format!(
            "{} {}: {} / {}: Dice {:.3}, HD95 {}\n",
            x.series,
            x.class,
            x.reader_a,
            x.reader_b,
            x.dice,
            x.hausdorff95_mm
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.2} mm"))
        ));
    }
    for f in &r.findings {
        s.push_str(&format!(
            "{}: {} / {}: {} matched, {} missed by {}, {} missed by {}, kappa {}\n",
            f.series,
            f.reader_a,
            f.reader_b,
            f.matched,
            f.missed_by_b,
            f.reader_b,
            f.missed_by_a,
            f.reader_a,
            f.kappa
                .map_or_else(|| "-".to_owned(), |k| format!("{k:.3}"))
        ));
    }
    s
}
