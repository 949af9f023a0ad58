//! The series browser: one card per series (thumbnail, description, modality, matrix,
//! slice count), never any patient data. Returns a [`Command`] when a card is chosen.
//!
//! Also owns making thumbnails from a rendered slice.

use egui::{
    Color32, ColorImage, Frame, Label, Pos2, Rect, RichText, Sense, TextureHandle, Ui, UiBuilder,
    Vec2, WidgetInfo,
};

use super::Command;
use super::loader::SeriesInfo;
use super::theme;

/// One card's content.
pub struct SeriesCard<'a> {
    pub info: &'a SeriesInfo,
    /// Whether the series' slices have been decoded.
    pub loaded: bool,
    pub thumbnail: Option<&'a TextureHandle>,
}

/// The list of series; `selected` is highlighted.
pub fn series_list_ui(
    ui: &mut Ui,
    cards: &[SeriesCard<'_>],
    selected: Option<usize>,
) -> Option<Command> {
    // Use the panel's whole width even before there is content to fill it.
    ui.expand_to_include_rect(ui.max_rect());
    ui.add_space(2.0);
    ui.label(
        RichText::new("SERIES")
            .small()
            .strong()
            .color(theme::TEXT_DIM),
    );
    ui.add_space(4.0);
    if cards.is_empty() {
        ui.label(RichText::new("No series yet").color(theme::TEXT_DIM));
        return None;
    }
    let mut command = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, true])
        .show(ui, |ui| {
            ui.spacing_mut().item_spacing.y = theme::CARD_SPACING;
            for (index, card) in cards.iter().enumerate() {
                if series_card_ui(ui, index, card, selected == Some(index)) {
                    command = Some(Command::SelectSeries(index));
                }
            }
        });
    command
}

/// A series' name on screen: its description, or its number.
pub fn series_title(info: &SeriesInfo) -> String {
    if info.description.is_empty() {
        format!("Series {}", info.series_number.unwrap_or(0))
    } else {
        info.description.clone()
    }
}

/// One card; true when clicked.
fn series_card_ui(ui: &mut Ui, index: usize, card: &SeriesCard<'_>, selected: bool) -> bool {
    let info = card.info;
    let title = series_title(info);
    let response = ui
        .scope_builder(
            UiBuilder::new()
                .id_salt(("series-card", index))
                .sense(Sense::click()),
            |ui| {
                let response = ui.response();
                let fill = if selected {
                    theme::SELECTION
                } else if response.hovered() {
                    theme::PANEL_BACKGROUND_RAISED
                } else {
                    Color32::TRANSPARENT
                };
                Frame::new()
                    .fill(fill)
                    .corner_radius(theme::card_radius())
                    .inner_margin(theme::card_margin())
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            thumbnail_ui(ui, card);
                            ui.vertical(|ui| {
                                ui.add(Label::new(RichText::new(&title).strong()).wrap());
                                ui.label(
                                    RichText::new(format!(
                                        "{} · {} × {}",
                                        info.modality, info.columns, info.rows
                                    ))
                                    .color(theme::TEXT_DIM),
                                );
                                let count = if card.loaded {
                                    format!("{} images", info.slice_count)
                                } else {
                                    format!("{} images · loading…", info.slice_count)
                                };
                                ui.label(RichText::new(count).color(theme::TEXT_DIM));
                            });
                        });
                    });
            },
        )
        .response;
    response.widget_info(|| WidgetInfo::selected(egui::Role::Button, true, selected, &title));
    let clicked = response.clicked();
    if clicked {
        // Keep arrow keys for slice scrolling rather than moving focus between cards.
        response.surrender_focus();
    }
    clicked
}

fn thumbnail_ui(ui: &mut Ui, card: &SeriesCard<'_>) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(theme::THUMBNAIL_SIZE), Sense::hover());
    ui.painter()
        .rect_filled(rect, 2.0, theme::VIEWPORT_BACKGROUND);
    let Some(texture) = card.thumbnail else {
        return;
    };
    let info = card.info;
    let size_mm = Vec2::new(
        (f64::from(info.columns) * info.pixel_spacing_mm[1]) as f32,
        (f64::from(info.rows) * info.pixel_spacing_mm[0]) as f32,
    );
    let scale = (rect.width() / size_mm.x).min(rect.height() / size_mm.y);
    let image_rect = Rect::from_center_size(rect.center(), size_mm * scale);
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    ui.painter()
        .image(texture.id(), image_rect, uv, Color32::WHITE);
}

/// Longest thumbnail side, in texels.
const THUMBNAIL_TEXELS: usize = 128;

/// Box-filters an RGBA8 image (`columns` × `rows`) down to at most
/// [`THUMBNAIL_TEXELS`] on its longest side.
pub fn thumbnail_image(rgba: &[u8], columns: usize, rows: usize) -> ColorImage {
    let factor = columns.max(rows).div_ceil(THUMBNAIL_TEXELS).max(1);
    let (out_columns, out_rows) = (columns.div_ceil(factor), rows.div_ceil(factor));
    let mut out = Vec::with_capacity(out_columns * out_rows * 4);
    for out_row in 0..out_rows {
        for out_column in 0..out_columns {
            let mut sum = [0u32; 4];
            let mut n = 0u32;
            for row in out_row * factor..((out_row + 1) * factor).min(rows) {
                for column in out_column * factor..((out_column + 1) * factor).min(columns) {
                    let i = (row * columns + column) * 4;
                    for (s, v) in sum.iter_mut().zip(&rgba[i..i + 4]) {
                        *s += u32::from(*v);
                    }
                    n += 1;
                }
            }
            out.extend(sum.map(|s| (s / n.max(1)) as u8));
        }
    }
    ColorImage::from_rgba_unmultiplied([out_columns, out_rows], &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_average_blocks() {
        // 256 × 2 image: left half black, right half white -> 128 × 1.
        let mut rgba = Vec::new();
        for _row in 0..2 {
            for column in 0..256 {
                let v = if column < 128 { 0 } else { 255 };
                rgba.extend([v, v, v, 255]);
            }
        }
        let thumb = thumbnail_image(&rgba, 256, 2);
        assert_eq!(thumb.size, [128, 1]);
        assert_eq!(thumb.pixels[0], Color32::BLACK);
        assert_eq!(thumb.pixels[127], Color32::WHITE);
    }
}
