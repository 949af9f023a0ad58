//! The hotkey sheet: every mouse gesture and key the viewer understands, in one table
//! that the help window (`?` or F1) shows.
//!
//! Owns [`HOTKEYS`]; the viewport's and the window's input handling follow it: change
//! both together.

use egui::{RichText, Ui};

use super::theme;

/// (group, gesture or key, what it does).
pub const HOTKEYS: &[(&str, &str, &str)] = &[
    ("Mouse", "Wheel", "Next / previous slice"),
    ("Mouse", "Ctrl + wheel", "Zoom about the pointer"),
    (
        "Mouse",
        "Left drag",
        "Window / level (right: wider, down: higher level)",
    ),
    (
        "Mouse",
        "Left click",
        "Move the crosshair there (all planes follow)",
    ),
    ("Mouse", "Middle drag", "Pan"),
    ("Mouse", "Right drag", "Zoom (up: in, down: out)"),
    ("Mouse", "Double click", "Back to the file's window"),
    ("Slices", "Up, Left / Down, Right", "Previous / next slice"),
    ("Slices", "PgUp / PgDn", "10 slices back / forward"),
    ("Slices", "Home / End", "First / last slice"),
    ("Slices", "C", "Play / pause cine"),
    ("Window", "1", "CT soft tissue (W 400 L 40)"),
    ("Window", "2", "CT lung (W 1500 L -600)"),
    ("Window", "3", "CT bone (W 2000 L 400)"),
    ("Window", "4", "CT brain (W 80 L 40)"),
    ("Window", "0", "The file's own window"),
    ("Window", "I", "Invert grey levels"),
    ("View", "Space", "Reset zoom, pan and window"),
    ("View", "L", "Link / unlink window across viewports"),
    ("View", "F5 / F6 / F7", "Layout 1×1 / 1×3 / 2×2"),
    (
        "View",
        "A / S / O",
        "Active viewport: axial / sagittal / coronal",
    ),
    ("View", "T", "Show / hide the DICOM tag browser"),
    ("View", "P", "Show / hide patient name, ID and birth date"),
    ("View", "? or F1", "This sheet"),
    (
        "Annotate",
        "Esc",
        "Navigate (no tool); cancels a shape being drawn",
    ),
    ("Annotate", ".", "Point marker"),
    ("Annotate", "M", "Ruler (mm)"),
    ("Annotate", "N", "Angle (three clicks)"),
    ("Annotate", "D", "Bidirectional: long axis, then short axis"),
    ("Annotate", "R", "Rectangle"),
    ("Annotate", "E", "Ellipse"),
    (
        "Annotate",
        "G",
        "Polygon (click vertices; first vertex or double-click closes)",
    ),
    ("Annotate", "F", "Freehand contour"),
    (
        "Segment",
        "B",
        "Brush: paint the active segment (2D disc or 3D ball)",
    ),
    ("Segment", "X", "Eraser"),
    (
        "Segment",
        "K",
        "Flood fill from a click, within an HU range",
    ),
    (
        "Segment",
        "U",
        "Outline fill: drag around a structure to paint its inside",
    ),
    ("Segment", "[ / ]", "Brush radius smaller / larger"),
    (
        "Annotate",
        "Click a shape",
        "Select it; drag a handle or its outline to reshape",
    ),
    (
        "Annotate",
        "Del / Backspace",
        "Delete the selected annotation",
    ),
    (
        "Annotate",
        "Ctrl + D",
        "Copy the selected annotation to the next slice",
    ),
    ("Annotate", "Ctrl + Z", "Undo your last edit"),
    ("Annotate", "Ctrl + Y, Ctrl + Shift + Z", "Redo"),
    ("Annotate", "H", "Show / hide the edit history"),
];

/// The sheet's contents (inside a window the caller opens).
pub fn hotkey_sheet_ui(ui: &mut Ui) {
    let mut group = "";
    egui::Grid::new("hotkey-sheet")
        .num_columns(2)
        .spacing([24.0, 4.0])
        .striped(true)
        .show(ui, |ui| {
            for (g, key, action) in HOTKEYS {
                if *g != group {
                    group = g;
                    ui.label(RichText::new(*g).strong().color(theme::ACCENT));
                    ui.end_row();
                }
                ui.label(RichText::new(*key).monospace());
                ui.label(*action);
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    ui.label(
        RichText::new(
            "Presets 1–4 are CT windows; other modalities keep their own. \
             Annotation keys work while a project is open.",
        )
        .small()
        .color(theme::TEXT_DIM),
    );
}
