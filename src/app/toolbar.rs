//! The toolbar above the viewports: opening, layout, plane of the active viewport,
//! window presets and linking, inversion and colour map, cine, and the panel toggles.
//!
//! Owns nothing; returns [`Command`]s.

use egui::{RichText, Ui};

use super::viewer::{CINE_RATES, ColourMap, Layout, SeriesView};
use super::{Chrome, Command, theme};
use crate::imaging::display::CT_WINDOW_PRESETS;
use crate::imaging::mpr::Plane;

/// A toggle button that reads as on/off.
fn toggle(ui: &mut Ui, on: bool, text: &str, hint: &str) -> bool {
    ui.add(egui::Button::selectable(on, text))
        .on_hover_text(hint)
        .clicked()
}

fn separator(ui: &mut Ui) {
    ui.add_space(4.0);
    ui.separator();
    ui.add_space(4.0);
}

/// The bar. `view` is the selected series' view once loaded.
pub fn toolbar_ui(
    ui: &mut Ui,
    chrome: &Chrome,
    view: Option<&SeriesView>,
    is_ct: bool,
    project_open: bool,
) -> Vec<Command> {
    let mut commands = Vec::new();
    let active = chrome.active_viewport;
    let viewport = view.map(|v| v.viewports[active.min(v.viewports.len() - 1)]);
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 3.0;
        ui.menu_button("Open", |ui| {
            if ui.button("DICOM folder…").clicked() {
                commands.push(Command::OpenFolderDialog);
            }
            if ui.button("DICOM files…").clicked() {
                commands.push(Command::OpenFilesDialog);
            }
            ui.separator();
            if ui.button("New project…").clicked() {
                commands.push(Command::NewProjectDialog);
            }
            if ui.button("Open project…").clicked() {
                commands.push(Command::OpenProjectDialog);
            }
            if project_open && ui.button("Close project").clicked() {
                commands.push(Command::CloseProject);
            }
        });

        separator(ui);
        ui.label(RichText::new("Layout").color(theme::TEXT_DIM));
        for layout in Layout::ALL {
            if toggle(ui, chrome.layout == layout, layout.name(), "Viewport layout (F5 / F6 / F7)") {
                commands.push(Command::SetLayout(layout));
            }
        }
        ui.add_enabled_ui(view.is_some(), |ui| {
            separator(ui);
            ui.label(RichText::new("Plane").color(theme::TEXT_DIM));
            for plane in Plane::ALL {
                let on = viewport.is_some_and(|v| v.plane == plane);
                if toggle(ui, on, plane.name(), "Plane of the active viewport (A / O / S)") {
                    commands.push(Command::SetPlane { viewport: active, plane });
                }
            }
            separator(ui);
            ui.add_enabled_ui(is_ct, |ui| {
                for (index, preset) in CT_WINDOW_PRESETS.iter().enumerate() {
                    let on = viewport.is_some_and(|v| v.window == preset.window);
                    let hint = format!(
                        "W {:.0} L {:.0}  (key {})",
                        preset.window.width,
                        preset.window.center,
                        index + 1
                    );
                    let short = preset.name.split(' ').next().unwrap_or(preset.name);
                    if toggle(ui, on, short, &hint) {
                        commands.push(Command::ApplyPreset { viewport: active, preset: index });
                    }
                }
            });
            if ui.button("File").on_hover_text("The window stored in the files (0)").clicked() {
                commands.push(Command::ResetWindow { viewport: active });
            }
            if toggle(ui, chrome.linked_window, "Link", "Same window/level in every viewport (L)") {
                commands.push(Command::SetLinkedWindow(!chrome.linked_window));
            }
            let inverted = viewport.is_some_and(|v| v.invert);
            if toggle(ui, inverted, "Invert", "Invert grey levels (I)") {
                commands.push(Command::ToggleInvert { viewport: active });
            }
            let hot = viewport.is_some_and(|v| v.colour_map == ColourMap::HotIron);
            if toggle(ui, hot, "Hot", "Hot iron colour map for grey images") {
                let map = if hot { ColourMap::Grey } else { ColourMap::HotIron };
                commands.push(Command::SetColourMap { viewport: active, map });
            }
            separator(ui);
            let playing = chrome.cine.playing;
            let label = if playing { "Pause" } else { "Cine" };
            if toggle(ui, playing, label, "Play through the active viewport's slices (C)") {
                commands.push(Command::SetCinePlaying(!playing));
            }
            let mut rate = chrome.cine.rate;
            let value = egui::DragValue::new(&mut rate)
                .range(CINE_RATES)
                .speed(0.2)
                .max_decimals(0)
                .suffix("/s");
            if ui.add(value).on_hover_text("Cine rate, slices per second").changed() {
                commands.push(Command::SetCineRate(rate));
            }
        });
        separator(ui);
        if toggle(ui, chrome.show_tags, "Tags", "DICOM tag browser (T)") {
            commands.push(Command::SetShowTags(!chrome.show_tags));
        }
        if toggle(
            ui,
            chrome.show_patient,
            "Patient",
            "Show patient name, ID and birth date over the image (P). Off by default for screen sharing.",
        ) {
            commands.push(Command::SetShowPatient(!chrome.show_patient));
        }
        if ui.button("?").on_hover_text("Hotkeys (? or F1)").clicked() {
            commands.push(Command::SetShowHotkeys(!chrome.show_hotkeys));
        }
    });
    commands
}
