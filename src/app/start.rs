//! The start screen, shown while nothing is open: open the demo study, a DICOM folder or
//! files, or a recent study again, with a line on what a project file is.
//!
//! Owns nothing; returns [`Command`]s.

use egui::{Align, Layout, RichText, Ui};

use super::{Command, theme};
use crate::recent::RecentItem;

const CARD_WIDTH: f32 = 440.0;

/// The screen, centred in `ui`.
pub fn start_ui(ui: &mut Ui, recent: &[RecentItem]) -> Vec<Command> {
    let mut commands = Vec::new();
    let area = ui.max_rect();
    let height = 390.0 + 26.0 * recent.len() as f32;
    let top = (area.center().y - height / 2.0).max(area.top() + 16.0);
    let card = egui::Rect::from_min_size(
        egui::pos2(area.center().x - CARD_WIDTH / 2.0, top),
        egui::vec2(CARD_WIDTH, height),
    );
    ui.scope_builder(
        egui::UiBuilder::new()
            .max_rect(card)
            .layout(Layout::top_down(Align::Min)),
        |ui| {
            ui.spacing_mut().item_spacing.y = 8.0;
            ui.label(RichText::new("Tessera").size(28.0).color(theme::TEXT));
            ui.label(
                RichText::new("Offline annotation of DICOM series and whole-slide images.")
                    .color(theme::TEXT_DIM),
            );
            ui.add_space(10.0);
            let wide = egui::vec2(CARD_WIDTH, 30.0);
            if ui
                .add_sized(wide, egui::Button::new("Open the demo study"))
                .on_hover_text(
                    "A generated CT phantom and MR series (written once into your cache folder)",
                )
                .clicked()
            {
                commands.push(Command::OpenDemo);
            }
            if ui
                .add_sized(wide, egui::Button::new("Open DICOM folder…"))
                .clicked()
            {
                commands.push(Command::OpenFolderDialog);
            }
            if ui
                .add_sized(wide, egui::Button::new("Open DICOM files…"))
                .clicked()
            {
                commands.push(Command::OpenFilesDialog);
            }
            ui.horizontal(|ui| {
                let half = egui::vec2((CARD_WIDTH - ui.spacing().item_spacing.x) / 2.0, 30.0);
                if ui
                    .add_sized(half, egui::Button::new("Open slide…"))
                    .on_hover_text("A whole-slide image: SVS, NDPI, MRXS, SCN, BIF, tiled TIFF… (through OpenSlide)")
                    .clicked()
                {
                    commands.push(Command::OpenSlideDialog);
                }
                if ui
                    .add_sized(half, egui::Button::new("Open the demo slide"))
                    .on_hover_text("A generated tissue-like slide, 40× (written once into your cache folder)")
                    .clicked()
                {
                    commands.push(Command::OpenDemoSlide);
                }
            });
            ui.label(
                RichText::new("Or drop a folder or files onto this window.")
                    .small()
                    .color(theme::TEXT_DIM),
            );
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                let half = egui::vec2((CARD_WIDTH - ui.spacing().item_spacing.x) / 2.0, 30.0);
                if ui
                    .add_sized(half, egui::Button::new("New project…"))
                    .on_hover_text("Create an encrypted project file for your annotations; you become its admin")
                    .clicked()
                {
                    commands.push(Command::NewProjectDialog);
                }
                if ui
                    .add_sized(half, egui::Button::new("Open project…"))
                    .on_hover_text("Unlock a project file you are a member of")
                    .clicked()
                {
                    commands.push(Command::OpenProjectDialog);
                }
            });
            if !recent.is_empty() {
                ui.add_space(10.0);
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Recent").strong());
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        if ui
                            .small_button("Clear")
                            .on_hover_text(
                                "Forget the recent list (kept only in your configuration folder)",
                            )
                            .clicked()
                        {
                            commands.push(Command::ClearRecent);
                        }
                    });
                });
                for (index, item) in recent.iter().enumerate() {
                    let hover: Vec<String> =
                        item.paths.iter().map(|p| p.display().to_string()).collect();
                    if ui
                        .add(egui::Button::new(item.title()).frame(false))
                        .on_hover_text(hover.join("\n"))
                        .clicked()
                    {
                        commands.push(Command::OpenRecent(index));
                    }
                }
            }
            ui.add_space(14.0);
            ui.label(
                RichText::new(
                    "Labels are kept in a project file (.tessera): one local file, labels \
                     encrypted with AES-256-GCM, every edit signed into a per-user history. \
                     Open a project and a study to annotate; manage members with `tessera user`.",
                )
                .small()
                .color(theme::TEXT_DIM),
            );
        },
    );
    commands
}
