//! The sync windows: progress of a running export or import, what a bundle would change
//! before it is imported, the conflicts between readers with a choice for each, and the
//! read-only banner of a shared project file.
//!
//! Owns nothing; returns [`Command`]s.

use egui::{Id, ProgressBar, RichText, Ui};

use super::sync_jobs::SyncJob;
use super::{Command, theme};
use crate::project::{ConflictItem, ImportSummary};

/// A modal with the job's progress (the project is busy meanwhile).
pub fn sync_progress_ui(ui: &mut Ui, job: &SyncJob) {
    egui::Modal::new(Id::unique("sync-progress")).show(ui.ctx(), |ui| {
        ui.set_width(theme::DIALOG_WIDTH);
        ui.heading(job.task.verb());
        ui.add_space(theme::DIALOG_GAP);
        match job.progress {
            Some((done, total)) if total > 0 => {
                ui.add(
                    ProgressBar::new(done as f32 / total as f32)
                        .text(format!("{done} / {total} events")),
                );
            }
            _ => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Working…");
                });
            }
        }
    });
}

/// What importing a checked bundle would change; `Some(true)` to import.
pub fn import_preview_ui(ui: &mut Ui, summary: &ImportSummary) -> Option<bool> {
    let mut answer = None;
    egui::Modal::new(Id::unique("import-preview")).show(ui.ctx(), |ui| {
        ui.set_width(theme::DIALOG_WIDTH + 80.0);
        ui.heading("Import bundle");
        ui.label(
            RichText::new(format!(
                "From {}: {} events, {} already here.",
                summary.exporter, summary.bundle_events, summary.already_present
            ))
            .color(theme::TEXT_DIM),
        );
        ui.add_space(theme::DIALOG_GAP);
        let new = summary.new_event_count();
        if new == 0 && summary.new_members.is_empty() {
            ui.label("Nothing new: this project already has every edit in the bundle.");
        } else {
            ui.label(RichText::new("New edits").strong());
            for (author, n) in &summary.new_events {
                ui.label(format!("{author}: {n}"));
            }
            if !summary.new_members.is_empty() {
                ui.label(format!("New members: {}", summary.new_members.join(", ")));
            }
        }
        if !summary.new_conflicts.is_empty() {
            ui.add_space(theme::DIALOG_GAP);
            ui.label(
                RichText::new(format!(
                    "{} new disagreements between readers (both versions are kept; resolve them in Conflicts):",
                    summary.new_conflicts.len()
                ))
                .color(theme::ANNOTATION),
            );
            egui::ScrollArea::vertical().max_height(160.0).show(ui, |ui| {
                for c in &summary.new_conflicts {
                    ui.label(RichText::new(c.line()).small());
                }
            });
        }
        ui.add_space(theme::DIALOG_GAP);
        ui.horizontal(|ui| {
            let verb = if new == 0 { "Close" } else { "Import" };
            if new > 0 && ui.button(verb).clicked() {
                answer = Some(true);
            }
            if ui.button(if new == 0 { "Close" } else { "Cancel" }).clicked() {
                answer = Some(false);
            }
        });
    });
    answer
}

/// The conflicts window's contents: each disagreement with a "Keep" per version.
pub fn conflicts_ui(ui: &mut Ui, conflicts: &[ConflictItem], can_edit: bool) -> Vec<Command> {
    let mut commands = Vec::new();
    if conflicts.is_empty() {
        ui.label("No disagreements: every reader's edits agree.");
        return commands;
    }
    ui.label(
        RichText::new(
            "Both versions are kept until someone chooses; the shown one is the latest. \
             Keeping a version is a new edit that names both as its predecessors.",
        )
        .small()
        .color(theme::TEXT_DIM),
    );
    egui::ScrollArea::vertical()
        .max_height(420.0)
        .show(ui, |ui| {
            for (i, c) in conflicts.iter().enumerate() {
                ui.push_id(i, |ui| {
                    ui.separator();
                    ui.label(RichText::new(format!("{} · {}", c.label, c.field.as_str())).strong());
                    for v in &c.versions {
                        ui.horizontal(|ui| {
                            ui.label(format!("{}: {}", v.author, v.value));
                            if can_edit
                                && ui
                                    .small_button("Keep")
                                    .on_hover_text("Resolve in favour of this version")
                                    .clicked()
                            {
                                commands.push(Command::ResolveConflict {
                                    annotation: c.annotation,
                                    keep: v.event,
                                });
                            }
                        });
                    }
                });
            }
        });
    commands
}

/// The banner over the annotation panel of a project opened read-only.
pub fn read_only_banner_ui(ui: &mut Ui) -> Vec<Command> {
    let mut commands = Vec::new();
    egui::Frame::new()
        .fill(theme::PANEL_BACKGROUND_RAISED)
        .inner_margin(6)
        .corner_radius(4)
        .show(ui, |ui| {
            ui.label(
                RichText::new(
                    "Read-only: this project file was shared with you and has none of your \
                     edits. Review it here, or choose how to edit.",
                )
                .small(),
            );
            ui.horizontal(|ui| {
                if ui
                    .small_button("Work on a copy…")
                    .on_hover_text(
                        "Save your own copy (a sibling that syncs by bundles) and edit that",
                    )
                    .clicked()
                {
                    commands.push(Command::SaveCopyDialog);
                }
                if ui
                    .small_button("Edit this file")
                    .on_hover_text("Your edits go into this file")
                    .clicked()
                {
                    commands.push(Command::EditSharedFile);
                }
            });
        });
    commands
}

/// The warning before a plaintext export; `Some(true)` to go on and choose the file.
pub fn export_warning_ui(ui: &mut Ui, format: crate::cli::labels_io::ExportFormat) -> Option<bool> {
    use crate::cli::labels_io::ExportFormat;
    let mut answer = None;
    let what = match format {
        ExportFormat::Seg => "DICOM SEG",
        ExportFormat::Sr => "DICOM SR measurement report",
        ExportFormat::Nifti => "NIfTI label map",
        ExportFormat::Csv => "CSV of measurements",
        ExportFormat::Geojson => "QuPath GeoJSON",
    };
    egui::Modal::new(Id::unique("export-warning")).show(ui.ctx(), |ui| {
        ui.set_width(theme::DIALOG_WIDTH);
        ui.heading(format!("Export {what}"));
        ui.add_space(theme::DIALOG_GAP);
        ui.label(if format == ExportFormat::Geojson {
            "This file is NOT encrypted. It holds the slide's annotations in plain text: \
             outlines, classes and codes, comments, measurements and the slide file's \
             SHA-256. Save it only where protected health information may be kept."
        } else {
            "This file is NOT encrypted. It holds the labels and measurements in plain text, \
             with the series and image UIDs; DICOM exports also carry the patient's name, ID \
             and birth date from the source images. Save it only where protected health \
             information may be kept."
        });
        ui.add_space(theme::DIALOG_GAP);
        ui.horizontal(|ui| {
            if ui.button("Choose file…").clicked() {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    answer
}
