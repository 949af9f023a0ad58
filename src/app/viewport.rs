//! The slice viewport: draws the current slice with its overlays and turns wheel,
//! keyboard and drag input into [`Command`]s.
//!
//! Owns the slice texture cache and the mapping between screen and image. Changes no
//! application state itself; the caller applies the returned commands.

use egui::{
    Align, Align2, Color32, Event, Key, Layout, Modifiers, MouseWheelUnit, PointerButton, Pos2,
    Rect, RichText, Sense, Shape, TextureHandle, TextureOptions, Ui, UiBuilder, Vec2, WidgetInfo,
};

use super::loader::{SeriesInfo, SliceImage};
use super::{Command, SeriesView, SliceEnd, theme};
use crate::imaging::display::{
    CT_WINDOW_PRESETS, GrayscalePipeline, Polarity, Voi, VoiWindow, render_frame_rgba,
};
use crate::imaging::pixels::Samples;

/// What the viewport shows: a loaded series and how it is being viewed.
pub struct ViewportModel<'a> {
    pub info: &'a SeriesInfo,
    pub slices: &'a [SliceImage],
    pub view: &'a SeriesView,
}

/// Slices a PgUp/PgDn press moves.
const PAGE_SLICES: i64 = 10;
/// Wheel "point" deltas (trackpads) per slice.
const POINTS_PER_SLICE: f32 = 40.0;
/// Drag distance (points) that changes the window by its own width.
const DRAG_POINTS_PER_WIDTH: f32 = 300.0;

/// The slice currently uploaded to the GPU, re-rendered only when its inputs change.
#[derive(Default)]
pub struct SliceTexture {
    handle: Option<TextureHandle>,
    key: Option<TextureKey>,
    error: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
struct TextureKey {
    series: usize,
    slice: usize,
    window: [u64; 2],
}

impl SliceTexture {
    /// Makes the texture show `slice` of series `series` under `window`.
    fn update(&mut self, ctx: &egui::Context, series: usize, model: &ViewportModel<'_>) {
        let window = model.view.window;
        let key = TextureKey {
            series,
            slice: model.view.slice,
            window: [window.center.to_bits(), window.width.to_bits()],
        };
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        let Some(slice) = model.slices.get(model.view.slice) else {
            return;
        };
        let pipeline = GrayscalePipeline {
            modality: model.info.modality_lut,
            voi: Voi::Linear(window),
            polarity: Polarity::Normal,
        };
        let frame = &slice.frame;
        match render_frame_rgba(frame, &pipeline, None, model.info.bits_stored) {
            Ok(rgba) => {
                let size = [frame.columns as usize, frame.rows as usize];
                let image = egui::ColorImage::from_rgba_unmultiplied(size, &rgba);
                match &mut self.handle {
                    Some(handle) => handle.set(image, TextureOptions::LINEAR),
                    None => {
                        self.handle =
                            Some(ctx.load_texture("slice", image, TextureOptions::LINEAR));
                    }
                }
                self.error = None;
            }
            Err(error) => self.error = Some(error.to_string()),
        }
    }
}

/// The central viewport. `series` is the index of the shown series, for the cache.
pub fn viewport_ui(
    ui: &mut Ui,
    series: Option<(usize, ViewportModel<'_>)>,
    empty_message: &str,
    texture: &mut SliceTexture,
) -> Vec<Command> {
    let rect = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Image, true, "Image viewport"));
    ui.painter()
        .rect_filled(rect, 0.0, theme::VIEWPORT_BACKGROUND);

    let Some((index, model)) = series.filter(|(_, m)| !m.slices.is_empty()) else {
        ui.put(
            rect,
            egui::Label::new(RichText::new(empty_message).color(theme::TEXT_DIM)),
        );
        return Vec::new();
    };

    let mut commands = input_commands(ui, &response, &model);
    texture.update(ui.ctx(), index, &model);
    let image_rect = image_rect(rect.shrink(theme::VIEWPORT_PADDING), model.info);
    if let Some(handle) = &texture.handle {
        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        ui.painter()
            .with_clip_rect(rect)
            .image(handle.id(), image_rect, uv, Color32::WHITE);
    }
    if let Some(error) = &texture.error {
        ui.put(
            rect,
            egui::Label::new(RichText::new(error).color(theme::ERROR)),
        );
    }
    let hover = response
        .hover_pos()
        .filter(|p| image_rect.contains(*p))
        .and_then(|p| pixel_readout(&model, image_rect, p));
    overlays_ui(ui, rect, image_rect, &model, hover.as_deref());
    if response.double_clicked() {
        commands.push(Command::ResetWindow);
    }
    commands
}

/// Wheel (when hovered), keys (unless a text field has focus) and left-drag.
fn input_commands(
    ui: &mut Ui,
    response: &egui::Response,
    model: &ViewportModel<'_>,
) -> Vec<Command> {
    let mut commands = Vec::new();
    if response.hovered() {
        let slices = ui.input(|i| {
            i.events
                .iter()
                .filter_map(|event| match event {
                    Event::MouseWheel { unit, delta, .. } => Some(match unit {
                        MouseWheelUnit::Point => delta.y / POINTS_PER_SLICE,
                        MouseWheelUnit::Line => delta.y,
                        MouseWheelUnit::Page => delta.y * PAGE_SLICES as f32,
                    }),
                    _ => None,
                })
                .sum::<f32>()
        });
        // Wheel towards the user (negative y) goes to the next image, as in PACS viewers.
        let step = -slices.round() as i64;
        let step = if step == 0 && slices != 0.0 {
            -slices.signum() as i64
        } else {
            step
        };
        if step != 0 {
            commands.push(Command::StepSlice(step));
        }
    }
    if !ui.ctx().egui_wants_keyboard_input() {
        ui.input_mut(|i| {
            for (key, command) in [
                (Key::ArrowUp, Command::StepSlice(-1)),
                (Key::ArrowLeft, Command::StepSlice(-1)),
                (Key::ArrowDown, Command::StepSlice(1)),
                (Key::ArrowRight, Command::StepSlice(1)),
                (Key::PageUp, Command::StepSlice(-PAGE_SLICES)),
                (Key::PageDown, Command::StepSlice(PAGE_SLICES)),
                (Key::Home, Command::GoToSlice(SliceEnd::First)),
                (Key::End, Command::GoToSlice(SliceEnd::Last)),
                (Key::Num0, Command::ResetWindow),
                (Key::Num1, Command::ApplyPreset(0)),
                (Key::Num2, Command::ApplyPreset(1)),
                (Key::Num3, Command::ApplyPreset(2)),
                (Key::Num4, Command::ApplyPreset(3)),
            ] {
                // Every press this frame counts (fast typing, key repeat).
                let presses = i.count_and_consume_key(Modifiers::NONE, key);
                commands.extend(std::iter::repeat_n(command, presses));
            }
        });
    }
    if response.dragged_by(PointerButton::Primary) {
        let delta = response.drag_delta();
        if delta != Vec2::ZERO {
            commands.push(Command::SetWindow(dragged_window(model.view.window, delta)));
        }
    }
    commands
}

/// Horizontal drag scales the width (right: wider), vertical moves the center
/// (down: higher level, darker image); both in proportion to the current width.
pub fn dragged_window(window: VoiWindow, delta: Vec2) -> VoiWindow {
    let width =
        (window.width * f64::from(delta.x / DRAG_POINTS_PER_WIDTH).exp()).clamp(1.0, 100_000.0);
    let center = window.center + f64::from(delta.y / DRAG_POINTS_PER_WIDTH) * window.width;
    VoiWindow::new(center.round(), width.round().max(1.0))
}

/// Where the image goes: fitted to `available` with its true aspect in millimetres.
fn image_rect(available: Rect, info: &SeriesInfo) -> Rect {
    let size_mm = Vec2::new(
        (f64::from(info.columns) * info.pixel_spacing_mm[1]) as f32,
        (f64::from(info.rows) * info.pixel_spacing_mm[0]) as f32,
    );
    let scale = (available.width() / size_mm.x).min(available.height() / size_mm.y);
    Rect::from_center_size(available.center(), size_mm * scale.max(0.0))
}

/// Patient position and value of the pixel under `pointer`.
fn pixel_readout(model: &ViewportModel<'_>, image_rect: Rect, pointer: Pos2) -> Option<String> {
    let info = model.info;
    let slice = model.slices.get(model.view.slice)?;
    let u = (pointer - image_rect.min) / image_rect.size();
    let column = ((u.x * info.columns as f32) as u32).min(info.columns.saturating_sub(1));
    let row = ((u.y * info.rows as f32) as u32).min(info.rows.saturating_sub(1));
    let o = info.orientation;
    let (dc, dr) = (
        f64::from(column) * info.pixel_spacing_mm[1],
        f64::from(row) * info.pixel_spacing_mm[0],
    );
    let p = slice.position_mm;
    let p_mm = [0, 1, 2].map(|a| p[a] + o[a] * dc + o[3 + a] * dr);
    let value = if slice.frame.samples_per_pixel == 1 {
        let index = (row * info.columns + column) as usize;
        let stored = match &slice.frame.samples {
            Samples::U8(v) => v.get(index).map(|s| f64::from(*s)),
            Samples::I8(v) => v.get(index).map(|s| f64::from(*s)),
            Samples::U16(v) => v.get(index).map(|s| f64::from(*s)),
            Samples::I16(v) => v.get(index).map(|s| f64::from(*s)),
            Samples::U32(v) => v.get(index).map(|s| f64::from(*s)),
            Samples::I32(v) => v.get(index).map(|s| f64::from(*s)),
        };
        let unit = if info.modality == "CT" { " HU" } else { "" };
        stored.map(|s| format!("{:.0}{unit}", info.modality_lut.apply(s)))
    } else {
        None
    };
    let position = format!("({:.1}, {:.1}, {:.1}) mm", p_mm[0], p_mm[1], p_mm[2]);
    Some(match value {
        Some(value) => format!("{position}  {value}"),
        None => position,
    })
}

/// The patient direction letters of a direction vector (LPS), strongest first.
fn direction_letters(d: [f64; 3]) -> String {
    let mut axes = [0, 1, 2];
    axes.sort_by(|a, b| d[*b].abs().total_cmp(&d[*a].abs()));
    axes.iter()
        .filter(|a| d[**a].abs() > 0.25)
        .map(|a| match (a, d[*a] > 0.0) {
            (0, true) => 'L',
            (0, false) => 'R',
            (1, true) => 'P',
            (1, false) => 'A',
            (_, true) => 'S',
            (_, false) => 'I',
        })
        .collect()
}

/// The patient axis a slice stack steps along, and the slice's coordinate on it.
fn slice_location(info: &SeriesInfo, slice: &SliceImage) -> (char, f64) {
    let (_, axis) = super::loader::normal_and_axis(&info.orientation);
    (['X', 'Y', 'Z'][axis], slice.position_mm[axis])
}

/// One overlay line: a label (for screen readers and tests) over a drop shadow.
fn overlay_line(ui: &mut Ui, text: &str, font: egui::FontId, color: Color32) {
    let shadow = ui.painter().add(Shape::Noop);
    let response = ui.add(
        egui::Label::new(RichText::new(text).font(font.clone()).color(color))
            .selectable(false)
            .extend(),
    );
    let galley = ui.painter().layout_no_wrap(text.to_owned(), font, color);
    ui.painter().set(
        shadow,
        Shape::galley_with_override_text_color(
            response.rect.min + Vec2::splat(1.0),
            galley,
            theme::OVERLAY_SHADOW,
        ),
    );
}

fn corner_ui(ui: &mut Ui, rect: Rect, layout: Layout, lines: &[(String, bool)]) {
    ui.scope_builder(UiBuilder::new().max_rect(rect).layout(layout), |ui| {
        ui.spacing_mut().item_spacing.y = theme::OVERLAY_LINE_GAP;
        for (text, primary) in lines {
            let (font, color) = if *primary {
                (theme::overlay_font_large(), theme::OVERLAY_TEXT)
            } else {
                (theme::overlay_font(), theme::OVERLAY_TEXT_DIM)
            };
            overlay_line(ui, text, font, color);
        }
    });
}

/// Corner texts and orientation letters.
fn overlays_ui(
    ui: &mut Ui,
    rect: Rect,
    image_rect: Rect,
    model: &ViewportModel<'_>,
    hover: Option<&str>,
) {
    let info = model.info;
    let view = model.view;
    let inner = rect.shrink(theme::OVERLAY_MARGIN);
    let description = if info.description.is_empty() {
        "(no description)".to_owned()
    } else {
        info.description.clone()
    };
    corner_ui(
        ui,
        inner,
        Layout::top_down(Align::Min),
        &[
            (description, true),
            (
                format!("{} · {} × {}", info.modality, info.columns, info.rows),
                false,
            ),
        ],
    );

    let window = view.window;
    let preset = CT_WINDOW_PRESETS
        .iter()
        .find(|p| info.modality == "CT" && p.window == window)
        .map(|p| p.name);
    let mut right = vec![(window_label(window), true)];
    if let Some(name) = preset {
        right.push((name.to_owned(), false));
    }
    corner_ui(ui, inner, Layout::top_down(Align::Max), &right);

    let mut bottom_left = vec![(slice_label(view.slice, model.slices.len()), true)];
    if let Some(slice) = model.slices.get(view.slice) {
        let (axis, mm) = slice_location(info, slice);
        bottom_left.push((format!("{axis} {mm:.2} mm"), false));
    }
    corner_ui(ui, inner, Layout::bottom_up(Align::Min), &bottom_left);
    if let Some(hover) = hover {
        corner_ui(
            ui,
            inner,
            Layout::bottom_up(Align::Max),
            &[(hover.to_owned(), false)],
        );
    }

    let o = info.orientation;
    let row_dir = [o[0], o[1], o[2]];
    let column_dir = [o[3], o[4], o[5]];
    let neg = |d: [f64; 3]| d.map(|v| -v);
    let edge = image_rect.intersect(inner);
    let painter = ui.painter();
    for (letters, pos, align) in [
        (
            direction_letters(neg(column_dir)),
            edge.center_top(),
            Align2::CENTER_TOP,
        ),
        (
            direction_letters(column_dir),
            edge.center_bottom(),
            Align2::CENTER_BOTTOM,
        ),
        (
            direction_letters(neg(row_dir)),
            edge.left_center(),
            Align2::LEFT_CENTER,
        ),
        (
            direction_letters(row_dir),
            edge.right_center(),
            Align2::RIGHT_CENTER,
        ),
    ] {
        painter.text(
            pos + Vec2::splat(1.0),
            align,
            &letters,
            theme::orientation_font(),
            theme::OVERLAY_SHADOW,
        );
        painter.text(
            pos,
            align,
            &letters,
            theme::orientation_font(),
            theme::ORIENTATION_TEXT,
        );
    }
}

/// "Slice 12/160" (1-based).
pub fn slice_label(slice: usize, count: usize) -> String {
    format!("Slice {}/{}", slice + 1, count)
}

/// "W 400 L 40".
pub fn window_label(window: VoiWindow) -> String {
    format!("W {:.0} L {:.0}", window.width, window.center)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_letters_follow_lps() {
        assert_eq!(direction_letters([1.0, 0.0, 0.0]), "L");
        assert_eq!(direction_letters([-1.0, 0.0, 0.0]), "R");
        assert_eq!(direction_letters([0.0, 0.0, -1.0]), "I");
        assert_eq!(direction_letters([0.0, -0.8, 0.6]), "AS");
    }

    #[test]
    fn drag_right_widens_and_down_raises_level() {
        let w = VoiWindow::new(40.0, 400.0);
        assert_eq!(dragged_window(w, Vec2::ZERO), w);
        assert!(dragged_window(w, Vec2::new(30.0, 0.0)).width > 400.0);
        assert!(dragged_window(w, Vec2::new(-30.0, 0.0)).width < 400.0);
        assert_eq!(dragged_window(w, Vec2::new(0.0, 30.0)).center, 80.0);
        assert_eq!(
            dragged_window(VoiWindow::new(0.0, 1.0), Vec2::new(-3000.0, 0.0)).width,
            1.0
        );
    }
}
