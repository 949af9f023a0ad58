//! The status bar: loading progress, the last problem as one line, and input hints.
//!
//! Owns [`LoadStatus`], the loader's progress as the UI shows it.

use egui::{Align, Layout, ProgressBar, RichText, Ui};

use super::loader::LoadStage;
use super::{Command, theme};

/// Where loading stands, as shown to the user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadStatus {
    /// Stage, done, total while loading.
    pub progress: Option<(LoadStage, usize, usize)>,
    pub finished: bool,
    /// The user stopped the load.
    pub cancelled: bool,
    pub series: usize,
    pub images: usize,
    pub skipped_files: usize,
    pub problems: usize,
    /// The most recent problem, one line.
    pub last_problem: Option<String>,
    /// The outcome of the last project action ("Exported 1,204 events …"), one line.
    pub note: Option<String>,
}

const HINT: &str = "Wheel: slices  ·  Left drag: window/level  ·  Middle: pan  ·  Right: zoom  ·  1–4: presets  ·  ? or F1: all keys";

/// The bar; `loading` shows the cancel button.
pub fn status_bar_ui(ui: &mut Ui, status: &LoadStatus, loading: bool) -> Vec<Command> {
    let mut commands = Vec::new();
    ui.horizontal_centered(|ui| {
        match status.progress {
            Some((stage, done, total)) if !status.finished => {
                let (verb, unit) = match stage {
                    LoadStage::GeneratingDemo => ("Generating the demo study", "(once)"),
                    LoadStage::Scanning => ("Scanning", "files"),
                    LoadStage::Decoding => ("Loading", "images"),
                };
                let fraction = if total == 0 {
                    0.0
                } else {
                    done as f32 / total as f32
                };
                ui.add(
                    ProgressBar::new(fraction)
                        .desired_width(140.0)
                        .desired_height(12.0),
                );
                if stage == LoadStage::GeneratingDemo {
                    ui.label(format!("{verb} {unit}…"));
                } else {
                    ui.label(format!("{verb} {done}/{total} {unit}"));
                }
                if loading && ui.small_button("Cancel").clicked() {
                    commands.push(Command::CancelLoad);
                }
            }
            _ if status.finished => {
                let mut text = format!("{} series · {} images", status.series, status.images);
                if status.cancelled {
                    text.push_str(" · loading cancelled");
                }
                if status.skipped_files > 0 {
                    let plural = if status.skipped_files == 1 { "" } else { "s" };
                    text.push_str(&format!(
                        " · {} file{plural} without images skipped",
                        status.skipped_files
                    ));
                }
                ui.label(RichText::new(text).color(theme::TEXT_DIM));
            }
            _ => {}
        }
        if let Some(note) = &status.note {
            ui.label(RichText::new(format!("·  {note}")).color(theme::TEXT));
        }
        if let Some(problem) = &status.last_problem {
            let text = if status.problems > 1 {
                format!("{} problems, last: {problem}", status.problems)
            } else {
                format!("Problem: {problem}")
            };
            let line = ui.add(
                egui::Label::new(RichText::new(text).color(theme::ERROR))
                    .truncate()
                    .sense(egui::Sense::click()),
            );
            if line.on_hover_text("Click for every problem").clicked() {
                commands.push(Command::SetShowProblems(true));
            }
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            ui.add(egui::Label::new(RichText::new(HINT).small().color(theme::TEXT_DIM)).truncate());
        });
    });
    commands
}
