//! The annotation side panel: the open project and its user, the label new shapes get,
//! the annotations of the selected series with their measurements, and the edit
//! history (by user and time, with readable names).
//!
//! Owns nothing; returns [`Command`]s.

use egui::{Align, Layout, RichText, Ui};

use super::annotations::{AnnotationLayer, Tool};
use super::{Command, theme};
use crate::annotate::shapes;

/// What the panel shows about the open project.
pub struct ProjectLine<'a> {
    pub file: &'a str,
    pub user: &'a str,
    pub role: String,
    pub read_only: bool,
    /// Annotations whose readers disagree.
    pub conflicts: usize,
    /// Cases waiting in the user's queues.
    pub cases_waiting: usize,
    /// Exports hold only approved or adjudicated cases.
    pub reviewed_only: bool,
    /// Two readers are shown side by side.
    pub comparing: bool,
}

/// Local time of a history entry as "HH:MM:SS" (UTC: the workstation's zone is not
/// known without a time-zone database; the history panel says so).
fn clock(time_ms: i64) -> String {
    let s = time_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The panel. `project` is `None` while no project is open.
pub fn annotation_panel_ui(
    ui: &mut Ui,
    project: Option<ProjectLine<'_>>,
    layer: &AnnotationLayer,
    seg: &mut super::segmentation::SegmentationLayer,
    slice_names: &dyn Fn(&super::annotations::Shown) -> String,
) -> Vec<Command> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Annotations").strong());
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if project.is_some() && ui.small_button("Close project").clicked() {
                commands.push(Command::CloseProject);
            }
        });
    });
    let Some(project) = project else {
        ui.label(
            RichText::new(
                "Annotations are kept in an encrypted project file. Create one, or open one \
                 you are a member of, to draw and measure.",
            )
            .color(theme::TEXT_DIM),
        );
        ui.horizontal(|ui| {
            if ui.button("New project…").clicked() {
                commands.push(Command::NewProjectDialog);
            }
            if ui.button("Open project…").clicked() {
                commands.push(Command::OpenProjectDialog);
            }
        });
        return commands;
    };
    ui.label(
        RichText::new(format!(
            "{} · {} ({})",
            project.file, project.user, project.role
        ))
        .small()
        .color(theme::TEXT_DIM),
    );
    let editable = !project.read_only;
    ui.horizontal_wrapped(|ui| {
        if ui
            .small_button("Export for sync…")
            .on_hover_text("A signed, encrypted bundle of your edits for the other workstations")
            .clicked()
        {
            commands.push(Command::ExportBundleDialog);
        }
        if editable
            && ui
                .small_button("Import…")
                .on_hover_text("Merge a colleague's bundle (you see what changes first)")
                .clicked()
        {
            commands.push(Command::ImportBundleDialog);
        }
        ui.menu_button("Export…", |ui| {
            use crate::cli::labels_io::ExportFormat;
            for (format, name) in [
                (ExportFormat::Seg, "DICOM SEG (segmentation)"),
                (ExportFormat::Sr, "DICOM SR (measurements)"),
                (ExportFormat::Nifti, "NIfTI label map"),
                (ExportFormat::Csv, "CSV (measurements)"),
            ] {
                if ui.button(name).clicked() {
                    commands.push(Command::ExportLabelsDialog(format));
                }
            }
            ui.separator();
            let mut reviewed = project.reviewed_only;
            if ui
                .checkbox(&mut reviewed, "Reviewed cases only")
                .on_hover_text("Only annotations of approved or adjudicated cases")
                .changed()
            {
                commands.push(Command::SetExportReviewedOnly(reviewed));
            }
        });
        let text = format!("Conflicts ({})", project.conflicts);
        if ui
            .small_button(text)
            .on_hover_text("Where readers' edits disagree")
            .clicked()
        {
            commands.push(Command::SetShowConflicts(true));
        }
        if ui
            .small_button(format!("Cases ({})", project.cases_waiting))
            .on_hover_text("Your queues: work to do, reviews, escalations")
            .clicked()
        {
            commands.push(Command::SetShowCases(true));
        }
        if project.comparing
            && ui
                .small_button("End comparison")
                .on_hover_text("Back to one view of every annotation you may see")
                .clicked()
        {
            commands.push(Command::Case(super::case_panel::CaseUi::Compare(None)));
        }
    });
    if project.read_only {
        commands.extend(super::sync_panel::read_only_banner_ui(ui));
    }
    ui.add_space(4.0);
    commands.extend(super::segment_panel::label_picker_ui(ui, seg, &layer.label));
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 3.0;
        commands.extend(tool_buttons_ui(ui, layer.tool, !project.read_only));
    });
    ui.label(
        RichText::new(layer.tool.how())
            .small()
            .color(theme::TEXT_DIM),
    );
    ui.horizontal(|ui| {
        if ui
            .button("Undo")
            .on_hover_text("Undo your last edit (Ctrl+Z)")
            .clicked()
        {
            commands.push(Command::Undo);
        }
        if ui.button("Redo").on_hover_text("Redo (Ctrl+Y)").clicked() {
            commands.push(Command::Redo);
        }
        let on = layer.show_history;
        if ui
            .selectable_label(on, "History")
            .on_hover_text("Every edit, by user and time (H)")
            .clicked()
        {
            commands.push(Command::SetShowHistory(!on));
        }
    });
    ui.separator();
    commands.extend(super::segment_panel::segmentation_ui(ui, seg, editable));
    ui.separator();
    if layer.shown.is_empty() {
        ui.label(
            RichText::new("No annotations on this series yet. Pick a tool in the toolbar.")
                .color(theme::TEXT_DIM),
        );
    }
    let height = if layer.show_history {
        ui.available_height() * 0.5
    } else {
        ui.available_height()
    };
    // Rows are laid out only where visible: a series may carry thousands.
    let row_height = ui.spacing().interact_size.y;
    egui::ScrollArea::vertical()
        .id_salt("annotation-list")
        .max_height(height.min(row_height * 14.0))
        .auto_shrink([false, true])
        .show_rows(ui, row_height, layer.shown.len(), |ui, rows| {
            for shown in &layer.shown[rows] {
                let a = &shown.annotation;
                let selected = layer.selected == Some(a.id);
                let mut text =
                    format!("{} · {}", a.body.label.name, shapes::kind_name(a.body.kind));
                if let Some(m) = &shown.measurement {
                    text.push_str(&format!("  {m}"));
                }
                if ui.selectable_label(selected, text).clicked() {
                    commands.push(Command::SelectAnnotation(Some(a.id)));
                    commands.push(Command::ShowAnnotation(a.id));
                }
            }
        });
    if let Some(shown) = layer.selected.and_then(|id| layer.get(id)) {
        let a = &shown.annotation;
        ui.separator();
        ui.label(
            RichText::new(format!(
                "{} · {}",
                a.body.label.name,
                shapes::kind_name(a.body.kind)
            ))
            .strong(),
        );
        let mut detail = slice_names(shown);
        if let Some(m) = &shown.measurement {
            detail.push_str(&format!(" · {m}"));
        }
        ui.label(RichText::new(detail).small().color(theme::TEXT_DIM));
        if let Some(stats) = &shown.stats {
            ui.label(RichText::new(stats).small());
        }
        if editable {
            ui.horizontal_wrapped(|ui| {
                if ui
                    .small_button("Delete")
                    .on_hover_text("Delete (Del)")
                    .clicked()
                {
                    commands.push(Command::DeleteAnnotation(a.id));
                }
                if ui
                    .small_button("Copy to next slice")
                    .on_hover_text("Ctrl+D")
                    .clicked()
                {
                    commands.push(Command::CopyToNextSlice(a.id));
                }
                if ui
                    .small_button("Use this label")
                    .on_hover_text("Relabel with the current label")
                    .clicked()
                {
                    commands.push(Command::RelabelAnnotation(a.id));
                }
            });
        }
    }
    if layer.show_history {
        ui.separator();
        ui.label(RichText::new("History (newest first, times UTC)").strong());
        egui::ScrollArea::vertical()
            .id_salt("history-list")
            .show(ui, |ui| {
                for line in &layer.history {
                    ui.horizontal(|ui| {
                        ui.label(
                            RichText::new(clock(line.time_ms))
                                .monospace()
                                .small()
                                .color(theme::TEXT_DIM),
                        );
                        let who = RichText::new(&line.author).small();
                        ui.label(if line.mine {
                            who.color(theme::ACCENT)
                        } else {
                            who
                        });
                        ui.label(RichText::new(&line.text).small());
                    });
                }
            });
    }
    commands
}

/// The tool buttons for the toolbar (enabled only with a project open).
pub fn tool_buttons_ui(ui: &mut Ui, current: Tool, enabled: bool) -> Option<Command> {
    let mut command = None;
    ui.add_enabled_ui(enabled, |ui| {
        for tool in Tool::ALL {
            let key = tool.key().name();
            let short = match tool {
                Tool::Navigate => "Nav",
                Tool::Point => "Point",
                Tool::Ruler => "Ruler",
                Tool::Angle => "Angle",
                Tool::Bidirectional => "Bidir",
                Tool::Rectangle => "Rect",
                Tool::Ellipse => "Ellipse",
                Tool::Polygon => "Poly",
                Tool::Freehand => "Free",
                Tool::Brush => "Brush",
                Tool::Eraser => "Erase",
                Tool::Fill => "Fill",
                Tool::ShapeFill => "Outline fill",
            };
            let hint = format!("{} ({key}): {}", tool.name(), tool.how());
            if ui
                .selectable_label(current == tool, short)
                .on_hover_text(hint)
                .on_disabled_hover_text("Open or create a project to annotate")
                .clicked()
            {
                command = Some(Command::SelectTool(tool));
            }
        }
    });
    command
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_reads_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(((13 * 60 + 5) * 60 + 9) * 1000 + 999), "13:05:09");
        assert_eq!(clock(86_400_000 + 61_000), "00:01:01");
    }
}
