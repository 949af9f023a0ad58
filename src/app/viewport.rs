//! One image viewport: draws its plane of the selected series (on the GPU through
//! [`super::gpu`], or on the CPU when there is no GPU path), the overlays, crosshair
//! and scale bar, and turns the reading-room mouse and keys into [`Command`]s.
//!
//! Owns the mapping between the viewport's screen rectangle and the volume, and a
//! CPU-rendered texture for previews and the no-GPU fallback. Changes no application
//! state itself; the caller applies the returned commands.

use egui::{
    Align, Align2, Color32, Event, Key, Layout, Modifiers, MouseWheelUnit, PointerButton, Pos2,
    Rect, RichText, Sense, Shape, Stroke, TextureHandle, TextureOptions, Ui, UiBuilder, Vec2,
    WidgetInfo,
};

use super::annotation_overlay::{PlaneMapping, annotation_input, draw_annotations};
use super::annotations::PlaneKey;
use super::gpu::{GpuLimits, SliceCallback, SliceParams};
use super::loader::{SeriesInfo, SliceImage};
use super::viewer::{ColourMap, ViewportState};
use super::{Chrome, Command, LoadedSeries, SliceEnd, theme};
use crate::imaging::display::{
    CT_WINDOW_PRESETS, GrayscalePipeline, Polarity, Voi, VoiWindow, render_frame_rgba,
};
use crate::imaging::mpr::{Plane, PlaneView, direction_letters, scale_bar_mm};
use crate::imaging::pixels::Samples;

/// Slices a PgUp/PgDn press moves.
const PAGE_SLICES: i64 = 10;
/// Wheel "point" deltas (trackpads) per slice.
const POINTS_PER_SLICE: f32 = 40.0;
/// Drag distance (points) that changes the window by its own width.
const DRAG_POINTS_PER_WIDTH: f32 = 300.0;
/// Right-drag distance (points) that doubles the zoom.
const DRAG_POINTS_PER_DOUBLING: f32 = 150.0;
/// Ctrl+wheel zoom per line.
const WHEEL_ZOOM_PER_LINE: f32 = 1.15;

/// Everything one viewport draws from.
pub struct ViewportInput<'a> {
    pub index: usize,
    pub info: &'a SeriesInfo,
    pub loaded: Option<&'a LoadedSeries>,
    /// The first decoded slice, while the series loads.
    pub preview: Option<&'a (SliceImage, VoiWindow)>,
    pub chrome: &'a Chrome,
    pub gpu: Option<GpuLimits>,
    /// More than one viewport on screen (crosshair, plane names, active frame).
    pub multi: bool,
    pub annotations: &'a super::annotations::AnnotationLayer,
    /// The segmentation shown over the slices, and how.
    pub labels: Option<(
        std::sync::Arc<super::gpu::GpuLabels>,
        super::gpu::LabelStyle,
    )>,
    pub brush_radius_mm: f64,
    /// A project is open: tools may draw and shapes may be edited.
    pub can_edit: bool,
}

/// A slice rendered on the CPU into an egui texture, re-rendered only when its
/// inputs change.
#[derive(Default)]
pub struct CpuSliceTexture {
    handle: Option<TextureHandle>,
    key: Option<CpuKey>,
    error: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
struct CpuKey {
    slice: usize,
    window: [u64; 2],
    invert: bool,
}

impl CpuSliceTexture {
    fn show(
        &mut self,
        ctx: &egui::Context,
        info: &SeriesInfo,
        slice: &SliceImage,
        window: VoiWindow,
        invert: bool,
    ) {
        let key = CpuKey {
            slice: std::ptr::from_ref(slice) as usize,
            window: [window.center.to_bits(), window.width.to_bits()],
            invert,
        };
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        let pipeline = GrayscalePipeline {
            modality: info.modality_lut,
            voi: Voi::Linear(window),
            polarity: if invert {
                Polarity::Inverted
            } else {
                Polarity::Normal
            },
        };
        let frame = &slice.frame;
        match render_frame_rgba(frame, &pipeline, None, info.bits_stored) {
            Ok(rgba) => {
                let size = [frame.columns as usize, frame.rows as usize];
                let image = egui::ColorImage::from_rgba_unmultiplied(size, &rgba);
                match &mut self.handle {
                    Some(handle) => handle.set(image, TextureOptions::LINEAR),
                    None => {
                        self.handle =
                            Some(ctx.load_texture("cpu-slice", image, TextureOptions::LINEAR));
                    }
                }
                self.error = None;
            }
            Err(error) => self.error = Some(error.to_string()),
        }
    }
}

/// Where an image of `size_mm` goes in `rect` at `zoom` (1 = fit) and `pan`.
pub fn image_rect(rect: Rect, size_mm: [f64; 2], zoom: f32, pan: [f32; 2]) -> Rect {
    let available = rect.shrink(theme::VIEWPORT_PADDING);
    let size = Vec2::new(size_mm[0] as f32, size_mm[1] as f32);
    let fit = (available.width() / size.x).min(available.height() / size.y);
    let scale = if fit.is_finite() { fit.max(0.0) } else { 0.0 };
    Rect::from_center_size(
        rect.center() + Vec2::new(pan[0], pan[1]),
        size * scale * zoom,
    )
}

/// The shader's mapping from the viewport rectangle (0..1 both ways) to voxels.
pub fn plane_mapping(view: &PlaneView, rect: Rect, image: Rect) -> ([f32; 3], [f32; 3], [f32; 3]) {
    let at = |f: Vec2| {
        let p = rect.min + f * rect.size();
        let uv = (p - image.min) / image.size();
        view.voxel_at([f64::from(uv.x), f64::from(uv.y)])
    };
    let o = at(Vec2::ZERO);
    let x = at(Vec2::X);
    let y = at(Vec2::Y);
    let f = |v: [f64; 3]| v.map(|c| c as f32);
    (
        f(o),
        f([x[0] - o[0], x[1] - o[1], x[2] - o[2]]),
        f([y[0] - o[0], y[1] - o[1], y[2] - o[2]]),
    )
}

/// Crosshair colours: the plane a line stands for (Slicer's convention).
fn plane_colour(plane: Plane) -> Color32 {
    match plane {
        Plane::Axial => Color32::from_rgb(230, 90, 80),
        Plane::Coronal => Color32::from_rgb(110, 200, 100),
        Plane::Sagittal => Color32::from_rgb(235, 205, 80),
    }
}

/// Draws one viewport filling `ui`'s rectangle and returns what the user asked for.
pub fn viewport_ui(
    ui: &mut Ui,
    input: ViewportInput<'_>,
    cpu: &mut CpuSliceTexture,
) -> Vec<Command> {
    let rect = ui.max_rect();
    let index = input.index;
    let response = ui.interact(
        rect,
        ui.scope_id().with(("viewport", index)),
        Sense::click_and_drag(),
    );
    let plane_name = input
        .loaded
        .map(|s| s.view.viewports[index].plane.name())
        .unwrap_or("Image");
    let label = if input.multi {
        format!("{plane_name} viewport")
    } else {
        "Image viewport".to_owned()
    };
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Image, true, &label));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::VIEWPORT_BACKGROUND);

    let mut commands = Vec::new();
    let touched =
        response.is_pointer_button_down_on() || (response.hovered() && wheel_lines(ui) != 0.0);
    if touched && input.chrome.active_viewport != index {
        commands.push(Command::Activate(index));
    }

    match input.loaded {
        Some(loaded) => {
            let state = loaded.view.viewports[index];
            let view = loaded.view.plane_view(&loaded.grid, index);
            let image = image_rect(rect, view.size_mm(), state.zoom, state.pan);
            let shown = Shown {
                input: &input,
                loaded,
                view: &view,
                state: &state,
                rect,
                image,
            };
            draw_volume(ui, &shown, cpu);
            let mapping = PlaneMapping {
                view: &view,
                key: PlaneKey::of_view(&view),
                image,
            };
            let (annotation_commands, left_taken) = annotation_input(
                ui,
                &response,
                input.annotations,
                &mapping,
                index,
                input.can_edit,
            );
            commands.extend(annotation_commands);
            commands.extend(input_commands(ui, &response, &shown, left_taken));
            draw_annotations(ui, rect, input.annotations, &mapping);
            if input.can_edit && input.annotations.tool.paint().is_some() {
                super::annotation_overlay::draw_brush_cursor(
                    ui,
                    rect,
                    &mapping,
                    input.brush_radius_mm,
                );
            }
            let hover = response
                .hover_pos()
                .filter(|p| image.contains(*p))
                .and_then(|p| readout(loaded, &view, input.info, image, p));
            if input.multi {
                crosshair(ui, rect, image, loaded, &view);
            }
            overlays(ui, &shown, hover.as_deref());
            if input.multi && input.chrome.active_viewport == index {
                painter.rect_stroke(
                    rect.shrink(0.5),
                    0.0,
                    Stroke::new(1.0, theme::ACCENT),
                    egui::StrokeKind::Inside,
                );
            }
        }
        None => match input.preview {
            Some((slice, window)) => {
                let size_mm = [
                    f64::from(input.info.columns) * input.info.pixel_spacing_mm[1],
                    f64::from(input.info.rows) * input.info.pixel_spacing_mm[0],
                ];
                let image = image_rect(rect, size_mm, 1.0, [0.0, 0.0]);
                cpu.show(ui.ctx(), input.info, slice, *window, false);
                if let Some(handle) = &cpu.handle {
                    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
                    painter.image(handle.id(), image, uv, Color32::WHITE);
                }
                let inner = rect.shrink(theme::OVERLAY_MARGIN);
                corner_ui(
                    ui,
                    inner,
                    Layout::top_down(Align::Min),
                    &[
                        (description(input.info), true),
                        ("Loading the rest of the series…".to_owned(), false),
                    ],
                );
            }
            None => {
                ui.put(
                    rect,
                    egui::Label::new(RichText::new("Loading…").color(theme::TEXT_DIM)),
                );
            }
        },
    }
    commands
}

/// A loaded series' plane as one viewport shows it this frame.
struct Shown<'a> {
    input: &'a ViewportInput<'a>,
    loaded: &'a LoadedSeries,
    view: &'a PlaneView,
    state: &'a ViewportState,
    /// The viewport's rectangle, and the image's within it (zoomed and panned).
    rect: Rect,
    image: Rect,
}

fn draw_volume(ui: &mut Ui, shown: &Shown<'_>, cpu: &mut CpuSliceTexture) {
    let Shown {
        input,
        loaded,
        view,
        state,
        rect,
        image,
    } = *shown;
    let painter = ui.painter_at(rect);
    if input.gpu.is_some_and(|limits| loaded.gpu.fits(&limits)) {
        let (origin, axis_x, axis_y) = plane_mapping(view, rect, image);
        let ppp = ui.ctx().pixels_per_point();
        let pixels_per_voxel = image.width() * ppp / view.size_voxels()[0].max(1) as f32;
        let params = SliceParams {
            origin,
            axis_x,
            axis_y,
            window: state.window,
            slope: input.info.modality_lut.slope,
            intercept: input.info.modality_lut.intercept,
            invert: state.invert,
            hot_iron: state.colour_map == ColourMap::HotIron,
            nearest: (pixels_per_voxel - 1.0).abs() < 0.005,
        };
        painter.add(eframe::egui_wgpu::Callback::new_paint_callback(
            rect,
            SliceCallback {
                viewport: input.index,
                volume: std::sync::Arc::clone(&loaded.gpu),
                params,
                labels: input.labels.clone(),
            },
        ));
        return;
    }
    // No GPU path: the acquired plane only, rendered on the CPU.
    let acquired = loaded.grid.acquired_plane();
    if view.plane != acquired || view.axes.right.flip || view.axes.down.flip {
        ui.put(
            rect,
            egui::Label::new(
                RichText::new("Reformats need the GPU display path (unavailable here).")
                    .color(theme::TEXT_DIM),
            ),
        );
        return;
    }
    let k = loaded.view.cursor[2];
    if let Some(slice) = loaded.slices.get(k) {
        cpu.show(ui.ctx(), input.info, slice, state.window, state.invert);
        if let Some(handle) = &cpu.handle {
            let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
            painter.image(handle.id(), image, uv, Color32::WHITE);
        }
    }
    if let Some(error) = &cpu.error {
        ui.put(
            rect,
            egui::Label::new(RichText::new(error).color(theme::ERROR)),
        );
    }
}

/// Wheel movement this frame in lines (positive: away from the user).
fn wheel_lines(ui: &Ui) -> f32 {
    ui.input(|i| {
        i.events
            .iter()
            .filter_map(|event| match event {
                Event::MouseWheel {
                    unit,
                    delta,
                    modifiers,
                    ..
                } if !modifiers.command && !modifiers.ctrl => Some(match unit {
                    MouseWheelUnit::Point => delta.y / POINTS_PER_SLICE,
                    MouseWheelUnit::Line => delta.y,
                    MouseWheelUnit::Page => delta.y * PAGE_SLICES as f32,
                }),
                _ => None,
            })
            .sum::<f32>()
    })
}

/// Ctrl+wheel and pinch zoom this frame, as a factor.
fn zoom_factor(ui: &Ui) -> f32 {
    ui.input(|i| {
        i.events
            .iter()
            .map(|event| match event {
                Event::MouseWheel {
                    unit,
                    delta,
                    modifiers,
                    ..
                } if modifiers.command || modifiers.ctrl => {
                    let lines = match unit {
                        MouseWheelUnit::Point => delta.y / POINTS_PER_SLICE,
                        MouseWheelUnit::Line => delta.y,
                        MouseWheelUnit::Page => delta.y * 3.0,
                    };
                    WHEEL_ZOOM_PER_LINE.powf(lines)
                }
                Event::Zoom(factor) => *factor,
                _ => 1.0,
            })
            .product()
    })
}

fn input_commands(
    ui: &mut Ui,
    response: &egui::Response,
    shown: &Shown<'_>,
    left_taken: bool,
) -> Vec<Command> {
    let Shown {
        input,
        view,
        state,
        rect,
        image,
        ..
    } = *shown;
    let viewport = input.index;
    let mut commands = Vec::new();
    if response.hovered() {
        let lines = wheel_lines(ui);
        // Wheel towards the user (negative y) goes to the next image, as in PACS viewers.
        let step = -lines.round() as i64;
        let step = if step == 0 && lines != 0.0 {
            -lines.signum() as i64
        } else {
            step
        };
        if step != 0 {
            commands.push(Command::StepSlice { viewport, step });
        }
        let factor = zoom_factor(ui);
        if (factor - 1.0).abs() > 1e-4 {
            let about = response
                .hover_pos()
                .map_or([0.0, 0.0], |p| (p - rect.center()).into());
            commands.push(Command::Zoom {
                viewport,
                factor,
                about,
            });
        }
    }
    if input.chrome.active_viewport == viewport && !ui.ctx().egui_wants_keyboard_input() {
        ui.input_mut(|i| {
            for (key, command) in [
                (Key::ArrowUp, Command::StepSlice { viewport, step: -1 }),
                (Key::ArrowLeft, Command::StepSlice { viewport, step: -1 }),
                (Key::ArrowDown, Command::StepSlice { viewport, step: 1 }),
                (Key::ArrowRight, Command::StepSlice { viewport, step: 1 }),
                (
                    Key::PageUp,
                    Command::StepSlice {
                        viewport,
                        step: -PAGE_SLICES,
                    },
                ),
                (
                    Key::PageDown,
                    Command::StepSlice {
                        viewport,
                        step: PAGE_SLICES,
                    },
                ),
                (
                    Key::Home,
                    Command::GoToSlice {
                        viewport,
                        end: SliceEnd::First,
                    },
                ),
                (
                    Key::End,
                    Command::GoToSlice {
                        viewport,
                        end: SliceEnd::Last,
                    },
                ),
                (Key::Num0, Command::ResetWindow { viewport }),
                (
                    Key::Num1,
                    Command::ApplyPreset {
                        viewport,
                        preset: 0,
                    },
                ),
                (
                    Key::Num2,
                    Command::ApplyPreset {
                        viewport,
                        preset: 1,
                    },
                ),
                (
                    Key::Num3,
                    Command::ApplyPreset {
                        viewport,
                        preset: 2,
                    },
                ),
                (
                    Key::Num4,
                    Command::ApplyPreset {
                        viewport,
                        preset: 3,
                    },
                ),
                (Key::Space, Command::ResetView { viewport }),
                (Key::I, Command::ToggleInvert { viewport }),
            ] {
                // Every press this frame counts (fast typing, key repeat).
                let presses = i.count_and_consume_key(Modifiers::NONE, key);
                commands.extend(std::iter::repeat_n(command, presses));
            }
        });
    }
    if response.dragged_by(PointerButton::Primary) && !left_taken {
        let delta = response.drag_delta();
        if delta != Vec2::ZERO {
            commands.push(Command::SetWindow {
                viewport,
                window: dragged_window(state.window, delta),
            });
        }
    }
    if response.dragged_by(PointerButton::Middle) {
        let delta = response.drag_delta();
        if delta != Vec2::ZERO {
            commands.push(Command::Pan {
                viewport,
                delta: delta.into(),
            });
        }
    }
    if response.dragged_by(PointerButton::Secondary) {
        let delta = response.drag_delta();
        if delta.y != 0.0 {
            commands.push(Command::Zoom {
                viewport,
                factor: 2f32.powf(-delta.y / DRAG_POINTS_PER_DOUBLING),
                about: [0.0, 0.0],
            });
        }
    }
    if response.clicked_by(PointerButton::Primary)
        && !left_taken
        && let Some(p) = response.interact_pointer_pos()
    {
        let uv = (p - image.min) / image.size();
        if let Some(voxel) = view.voxel_index_at([f64::from(uv.x), f64::from(uv.y)]) {
            commands.push(Command::SetCursor(voxel));
        }
    }
    if response.double_clicked() && !left_taken {
        commands.push(Command::ResetWindow { viewport });
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

/// One stored sample of a grey slice.
pub fn stored_sample(samples: &Samples, index: usize) -> Option<f64> {
    match samples {
        Samples::U8(v) => v.get(index).map(|s| f64::from(*s)),
        Samples::I8(v) => v.get(index).map(|s| f64::from(*s)),
        Samples::U16(v) => v.get(index).map(|s| f64::from(*s)),
        Samples::I16(v) => v.get(index).map(|s| f64::from(*s)),
        Samples::U32(v) => v.get(index).map(|s| f64::from(*s)),
        Samples::I32(v) => v.get(index).map(|s| f64::from(*s)),
    }
}

/// Patient position and value of the voxel under `pointer`.
fn readout(
    loaded: &LoadedSeries,
    view: &PlaneView,
    info: &SeriesInfo,
    image: Rect,
    pointer: Pos2,
) -> Option<String> {
    let uv = (pointer - image.min) / image.size();
    let [i, j, k] = view.voxel_index_at([f64::from(uv.x), f64::from(uv.y)])?;
    let p = loaded.grid.world([i as f64, j as f64, k as f64]);
    let position = format!("({:.1}, {:.1}, {:.1}) mm", p[0], p[1], p[2]);
    let slice = loaded.slices.get(k)?;
    if slice.frame.samples_per_pixel != 1 {
        return Some(position);
    }
    let stored = stored_sample(&slice.frame.samples, j * info.columns as usize + i)?;
    let unit = if info.modality == "CT" { " HU" } else { "" };
    Some(format!(
        "{position}  {:.0}{unit}",
        info.modality_lut.apply(stored)
    ))
}

/// The two lines through the cursor, each in the colour of the plane it stands for.
fn crosshair(ui: &Ui, rect: Rect, image: Rect, loaded: &LoadedSeries, view: &PlaneView) {
    let cursor = loaded.view.cursor.map(|c| c as f64);
    let uv = view.uv_of(cursor);
    let p = image.min + Vec2::new(uv[0] as f32, uv[1] as f32) * image.size();
    let plane_of_axis = |axis: usize| {
        Plane::ALL
            .into_iter()
            .find(|plane| loaded.grid.plane_axes(*plane).depth.axis == axis)
    };
    let painter = ui.painter_at(rect.intersect(image.expand(1.0)));
    let gap = 12.0;
    if let Some(plane) = plane_of_axis(view.axes.right.axis) {
        let stroke = Stroke::new(1.0, plane_colour(plane).gamma_multiply(0.85));
        painter.line_segment(
            [Pos2::new(p.x, image.top()), Pos2::new(p.x, p.y - gap)],
            stroke,
        );
        painter.line_segment(
            [Pos2::new(p.x, p.y + gap), Pos2::new(p.x, image.bottom())],
            stroke,
        );
    }
    if let Some(plane) = plane_of_axis(view.axes.down.axis) {
        let stroke = Stroke::new(1.0, plane_colour(plane).gamma_multiply(0.85));
        painter.line_segment(
            [Pos2::new(image.left(), p.y), Pos2::new(p.x - gap, p.y)],
            stroke,
        );
        painter.line_segment(
            [Pos2::new(p.x + gap, p.y), Pos2::new(image.right(), p.y)],
            stroke,
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

fn description(info: &SeriesInfo) -> String {
    if info.description.is_empty() {
        "(no description)".to_owned()
    } else {
        info.description.clone()
    }
}

/// `text` shortened with "…" to fit `max_width` points in the large overlay font.
fn elide(ui: &Ui, text: &str, max_width: f32) -> String {
    let width = |t: String| {
        ui.painter()
            .layout_no_wrap(t, theme::overlay_font_large(), Color32::WHITE)
            .size()
            .x
    };
    if width(text.to_owned()) <= max_width {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 1 {
        keep -= 1;
        let candidate: String = chars[..keep].iter().collect::<String>() + "…";
        if width(candidate.clone()) <= max_width {
            return candidate;
        }
    }
    "…".to_owned()
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

/// Corner texts, orientation letters and the scale bar.
/// Below this width (points) the pointer readout shares the bottom-left corner.
const NARROW_VIEWPORT: f32 = 560.0;

fn overlays(ui: &mut Ui, shown: &Shown<'_>, hover: Option<&str>) {
    let Shown {
        input,
        loaded,
        view,
        state,
        rect,
        image,
    } = *shown;
    let info = input.info;
    let inner = rect.shrink(theme::OVERLAY_MARGIN);
    let [w, h] = view.size_voxels();
    // Several viewports: the plane names each; the description is in the browser.
    // Room is left for the window/level corner.
    let room = (inner.width() - 130.0).max(60.0);
    let mut top_left = if input.multi {
        vec![(view.plane.name().to_owned(), true)]
    } else {
        vec![(elide(ui, &description(info), room), true)]
    };
    if input.chrome.show_patient {
        let p = &info.patient;
        let mut line = p.name.clone();
        for part in [&p.id, &p.birth_date] {
            if !part.is_empty() {
                line.push_str(" · ");
                line.push_str(part);
            }
        }
        top_left.push((line, true));
    }
    top_left.push(if input.multi {
        (format!("{} · {w} × {h}", info.modality), false)
    } else {
        (
            format!("{} · {} · {w} × {h}", view.plane.name(), info.modality),
            false,
        )
    });
    corner_ui(ui, inner, Layout::top_down(Align::Min), &top_left);

    let window = state.window;
    let mut right = vec![(window_label(window), true)];
    if let Some(preset) = CT_WINDOW_PRESETS
        .iter()
        .find(|p| info.modality == "CT" && p.window == window)
    {
        right.push((preset.name.to_owned(), false));
    }
    let ppp = ui.ctx().pixels_per_point();
    let magnification = image.width() * ppp / w.max(1) as f32;
    right.push((format!("Zoom {:.0}%", magnification * 100.0), false));
    if state.invert {
        right.push(("Inverted".to_owned(), false));
    }
    corner_ui(ui, inner, Layout::top_down(Align::Max), &right);

    let mut bottom_left = vec![(slice_label(view.depth, view.depth_count()), true)];
    let depth_dir = loaded.grid.direction(view.axes.depth);
    let axis = (0..3)
        .max_by(|a, b| depth_dir[*a].abs().total_cmp(&depth_dir[*b].abs()))
        .unwrap_or(2);
    let position = loaded.grid.world(loaded.view.cursor.map(|c| c as f64));
    bottom_left.push((
        format!("{} {:.2} mm", ['X', 'Y', 'Z'][axis], position[axis]),
        false,
    ));
    // The pointer readout goes bottom right, or above the slice lines where a narrow
    // viewport would run it into them.
    let narrow = inner.width() < NARROW_VIEWPORT;
    if let Some(hover) = hover.filter(|_| narrow) {
        bottom_left.push((hover.to_owned(), false));
    }
    corner_ui(ui, inner, Layout::bottom_up(Align::Min), &bottom_left);
    if let Some(hover) = hover.filter(|_| !narrow) {
        corner_ui(
            ui,
            inner,
            Layout::bottom_up(Align::Max),
            &[(hover.to_owned(), false)],
        );
    }

    let right_dir = loaded.grid.direction(view.axes.right);
    let down_dir = loaded.grid.direction(view.axes.down);
    let neg = |d: [f64; 3]| d.map(|v| -v);
    let edge = image.intersect(inner);
    let painter = ui.painter_at(rect);
    for (letters, pos, align) in [
        (
            direction_letters(neg(down_dir)),
            edge.center_top(),
            Align2::CENTER_TOP,
        ),
        (
            direction_letters(down_dir),
            edge.center_bottom(),
            Align2::CENTER_BOTTOM,
        ),
        (
            direction_letters(neg(right_dir)),
            edge.left_center(),
            Align2::LEFT_CENTER,
        ),
        (
            direction_letters(right_dir),
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

    // Scale bar: a round length up to a fifth of the viewport, bottom right (above the
    // pointer readout), clear of the orientation letters.
    let points_per_mm = image.width() / view.size_mm()[0] as f32;
    if points_per_mm > 0.0
        && let Some(mm) = scale_bar_mm(f64::from(rect.width() * 0.2 / points_per_mm))
    {
        let length = mm as f32 * points_per_mm;
        let y = inner.bottom() - 30.0;
        let x0 = inner.right() - length;
        let stroke = Stroke::new(1.5, theme::OVERLAY_TEXT);
        let shadow = Stroke::new(3.0, theme::OVERLAY_SHADOW);
        let bar = [Pos2::new(x0, y), Pos2::new(x0 + length, y)];
        for s in [shadow, stroke] {
            painter.line_segment(bar, s);
            painter.line_segment([Pos2::new(x0, y - 4.0), Pos2::new(x0, y + 4.0)], s);
            painter.line_segment(
                [
                    Pos2::new(x0 + length, y - 4.0),
                    Pos2::new(x0 + length, y + 4.0),
                ],
                s,
            );
        }
        let text = if mm >= 10.0 {
            format!("{mm:.0} mm")
        } else {
            format!("{mm} mm")
        };
        painter.text(
            Pos2::new(x0 + length / 2.0, y - 6.0),
            Align2::CENTER_BOTTOM,
            text,
            theme::overlay_font(),
            theme::OVERLAY_TEXT_DIM,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn images_keep_their_physical_aspect() {
        let rect = Rect::from_min_size(Pos2::ZERO, Vec2::new(808.0, 408.0));
        // 200 mm × 100 mm fits the 800 × 400 area exactly (4 points of padding).
        let image = image_rect(rect, [200.0, 100.0], 1.0, [0.0, 0.0]);
        assert_eq!(image.size(), Vec2::new(800.0, 400.0));
        let tall = image_rect(rect, [100.0, 400.0], 2.0, [10.0, 0.0]);
        assert_eq!(tall.size(), Vec2::new(200.0, 800.0));
        assert_eq!(tall.center(), rect.center() + Vec2::new(10.0, 0.0));
    }
}
