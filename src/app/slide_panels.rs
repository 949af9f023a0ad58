//! The slide screen's panels and overlays: toolbar (fit, magnification presets,
//! properties, close), status line (magnification, level, pointer position in pixels
//! and µm), properties panel, associated-image window, minimap, scale bar, blank tiles.
//!
//! Owns no state: each `*_ui` function reads the [`OpenSlideView`] and returns the
//! [`Command`]s the user asked for. Associated images (label, macro) appear only after
//! the user clicks for them, with a warning that they may identify the patient.

use egui::{
    Align2, Color32, Key, Painter, Pos2, Rect, RichText, Sense, Stroke, Ui, Vec2, WidgetInfo,
};

use super::slide_view::{MAGNIFICATIONS, OpenSlideView, SlideCommand};
use super::{Command, theme};
use crate::imaging::mpr::scale_bar_mm;
use crate::imaging::slide::TilePath;
use crate::imaging::slide::cover::{self, View};

/// Minimap size limit in points.
const MINIMAP_MAX: Vec2 = Vec2::new(240.0, 180.0);

pub fn toolbar_ui(ui: &mut Ui, open: &OpenSlideView) -> Vec<Command> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        if ui.button("Close slide").clicked() {
            commands.push(Command::CloseSlide);
        }
        ui.separator();
        if ui
            .button("Fit")
            .on_hover_text("The whole slide (0)")
            .clicked()
        {
            commands.push(Command::Slide(SlideCommand::Fit));
        }
        let objective = open.slide.info().objective_power;
        let current = open.magnification();
        for m in MAGNIFICATIONS {
            let label = format!("{m}×");
            let selected = current.is_some_and(|c| (c - m).abs() < 0.05 * m);
            let button = ui.add_enabled(
                objective.is_some(),
                egui::Button::selectable(selected, label),
            );
            let button = if objective.is_some() {
                button.on_hover_text(format!("Objective magnification {m}×"))
            } else {
                button.on_disabled_hover_text("The slide does not say its objective power")
            };
            if button.clicked() {
                commands.push(Command::Slide(SlideCommand::Magnification(m)));
            }
        }
        ui.separator();
        let mut show = open.show_properties;
        if ui.toggle_value(&mut show, "Properties").changed() {
            commands.push(Command::Slide(SlideCommand::SetShowProperties(show)));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let name = open
                .slide
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            ui.label(RichText::new(name).color(theme::TEXT_DIM));
        });
    });
    commands
}

/// Magnification, level, pointer readout.
pub fn status_ui(ui: &mut Ui, open: &OpenSlideView) {
    let info = open.slide.info();
    ui.horizontal_centered(|ui| {
        if let Some(m) = open.magnification() {
            ui.label(format!("Magnification {m:.1}×"));
        } else if let Some(v) = open.view {
            ui.label(format!(
                "Zoom {:.3}",
                v.zoom * f64::from(ui.ctx().pixels_per_point())
            ));
        }
        if let Some(v) = open.view {
            let px = View {
                zoom: v.zoom * f64::from(ui.ctx().pixels_per_point()),
                ..v
            };
            let level = cover::choose_level(&info.levels, px.zoom) as usize;
            if let Some(l) = info.levels.get(level) {
                ui.separator();
                ui.label(format!(
                    "Level {} of {} (downsample {:.1}, {})",
                    level,
                    info.levels.len(),
                    l.downsample,
                    match l.path {
                        TilePath::Fast => "fast path",
                        TilePath::OpenSlide => "OpenSlide",
                    }
                ));
            }
        }
        if let Some([x, y]) = open.pointer_level0 {
            let [w, h] = [info.levels[0].width as f64, info.levels[0].height as f64];
            if (0.0..w).contains(&x) && (0.0..h).contains(&y) {
                ui.separator();
                let mut text = format!("x {x:.0} y {y:.0} px");
                if let (Some(mx), Some(my)) = (info.mpp_x, info.mpp_y) {
                    text.push_str(&format!("  ·  {:.1} µm, {:.1} µm", x * mx, y * my));
                }
                ui.label(text);
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(
                RichText::new("Wheel: zoom  ·  Drag: pan  ·  Double click: zoom in  ·  0: fit")
                    .color(theme::TEXT_DIM),
            );
        });
    });
}

pub fn properties_ui(ui: &mut Ui, open: &OpenSlideView) -> Vec<Command> {
    let mut commands = Vec::new();
    let info = open.slide.info();
    ui.heading("Slide");
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("slide-summary")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                let unknown = || "unknown".to_owned();
                let rows = [
                    ("Format", info.vendor.clone()),
                    (
                        "Size",
                        format!("{} x {} px", info.levels[0].width, info.levels[0].height),
                    ),
                    (
                        "µm per pixel",
                        match (info.mpp_x, info.mpp_y) {
                            (Some(x), Some(y)) => format!("{x} x {y}"),
                            _ => unknown(),
                        },
                    ),
                    (
                        "Objective",
                        info.objective_power
                            .map_or_else(unknown, |p| format!("{p}×")),
                    ),
                    ("Levels", info.levels.len().to_string()),
                ];
                for (name, value) in rows {
                    ui.label(RichText::new(name).color(theme::TEXT_DIM));
                    ui.label(value);
                    ui.end_row();
                }
            });
        if !info.associated_images.is_empty() {
            ui.add_space(8.0);
            ui.label(RichText::new("Associated images").strong());
            ui.label(
                RichText::new("Labels and macro photos may show the patient's name.")
                    .color(theme::TEXT_DIM),
            );
            for name in &info.associated_images {
                if ui.button(format!("Show {name} image")).clicked() {
                    commands.push(Command::Slide(SlideCommand::ShowAssociated(name.clone())));
                }
            }
        }
        ui.add_space(8.0);
        ui.label(RichText::new("Levels").strong());
        egui::Grid::new("slide-levels")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for (k, l) in info.levels.iter().enumerate() {
                    ui.label(format!("{k}"));
                    ui.label(format!("{} x {}", l.width, l.height));
                    ui.label(format!("/{:.2}", l.downsample));
                    ui.label(match l.path {
                        TilePath::Fast => "fast",
                        TilePath::OpenSlide => "OpenSlide",
                    });
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
        ui.label(RichText::new("Properties (identifying ones withheld)").strong());
        egui::Grid::new("slide-properties")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for (name, value) in &info.properties {
                    ui.label(RichText::new(name).color(theme::TEXT_DIM));
                    ui.label(value);
                    ui.end_row();
                }
            });
        if info.withheld_properties > 0 {
            ui.label(
                RichText::new(format!(
                    "{} more properties are not shown: they may identify the patient.",
                    info.withheld_properties
                ))
                .color(theme::TEXT_DIM),
            );
        }
        if let Some(ms) = open.overview_ms {
            ui.add_space(8.0);
            ui.label(
                RichText::new(format!("Overview shown {ms:.0} ms after opening"))
                    .color(theme::TEXT_DIM),
            );
        }
    });
    commands
}

/// The associated image the user asked for, in its own window.
pub fn associated_window_ui(ctx: &egui::Context, open: &OpenSlideView) -> Option<Command> {
    let (name, shown) = open.associated.as_ref()?;
    let mut keep = true;
    egui::Window::new(format!("Associated image: {name}"))
        .open(&mut keep)
        .collapsible(false)
        .resizable(true)
        .pivot(Align2::CENTER_CENTER)
        .default_pos(ctx.content_rect().center())
        .show(ctx, |ui| {
            ui.label(
                RichText::new("May identify the patient: do not share screenshots.")
                    .color(theme::ERROR),
            );
            match shown {
                Ok(texture) => {
                    let size = texture.size_vec2();
                    let scale = (480.0 / size.x.max(1.0)).min(1.0);
                    ui.image((texture.id(), size * scale));
                }
                Err(e) => {
                    ui.label(RichText::new(format!("cannot read it: {e}")).color(theme::ERROR));
                }
            }
        });
    (!keep).then_some(Command::Slide(SlideCommand::HideAssociated))
}

/// Keys over the slide: + and - zoom about the centre, arrows pan, 0 fits.
pub fn key_commands(ui: &Ui, open: &OpenSlideView) -> Vec<Command> {
    let Some(view) = open.view else {
        return Vec::new();
    };
    let centre = [
        view.screen_px[0] as f32 / 2.0,
        view.screen_px[1] as f32 / 2.0,
    ];
    let step = 120.0;
    ui.input(|i| {
        let mut out = Vec::new();
        let pressed = |k: Key| i.key_pressed(k);
        if pressed(Key::Plus) || pressed(Key::Equals) {
            out.push(SlideCommand::Zoom {
                factor: 2.0,
                about: centre,
            });
        }
        if pressed(Key::Minus) {
            out.push(SlideCommand::Zoom {
                factor: 0.5,
                about: centre,
            });
        }
        if pressed(Key::Num0) {
            out.push(SlideCommand::Fit);
        }
        for (key, delta) in [
            (Key::ArrowLeft, [step, 0.0]),
            (Key::ArrowRight, [-step, 0.0]),
            (Key::ArrowUp, [0.0, step]),
            (Key::ArrowDown, [0.0, -step]),
        ] {
            if pressed(key) {
                out.push(SlideCommand::Pan { delta });
            }
        }
        out.into_iter().map(Command::Slide).collect()
    })
}

/// An unreadable tile: hatched, crossed, with its reason when there is room.
pub fn blank_tile(painter: &Painter, r: Rect, reason: &str) {
    painter.rect_filled(r, 0.0, theme::SLIDE_BLANK_TILE);
    let stroke = Stroke::new(1.0, theme::OVERLAY_TEXT_DIM);
    painter.line_segment([r.left_top(), r.right_bottom()], stroke);
    painter.line_segment([r.right_top(), r.left_bottom()], stroke);
    painter.rect_stroke(r, 0.0, stroke, egui::StrokeKind::Inside);
    if r.width() > 120.0 && r.height() > 40.0 {
        let text = format!("unreadable tile: {reason}");
        let galley = painter.layout(
            text,
            theme::overlay_font(),
            theme::OVERLAY_TEXT,
            r.width() - 12.0,
        );
        let at = r.center() - galley.size() / 2.0;
        painter.rect_filled(
            Rect::from_min_size(at, galley.size()).expand(3.0),
            2.0,
            theme::OVERLAY_SHADOW,
        );
        painter.galley(at, galley, theme::OVERLAY_TEXT);
    }
}

/// A round length in µm up to a fifth of the view, bottom left.
pub fn scale_bar(painter: &Painter, rect: Rect, open: &OpenSlideView) {
    let (Some(view), Some(mpp)) = (open.view, open.slide.info().mpp_x) else {
        return;
    };
    let points_per_um = view.zoom / mpp;
    let Some(um) = scale_bar_mm(f64::from(rect.width()) * 0.2 / points_per_um) else {
        return;
    };
    let length = (um * points_per_um) as f32;
    let inner = rect.shrink(theme::OVERLAY_MARGIN);
    let y = inner.bottom() - 8.0;
    let x0 = inner.left() + 4.0;
    let bar = Rect::from_min_max(
        Pos2::new(x0 - 6.0, y - 26.0),
        Pos2::new(x0 + length + 6.0, y + 6.0),
    );
    painter.rect_filled(bar, 3.0, theme::OVERLAY_SHADOW);
    let stroke = Stroke::new(2.0, theme::OVERLAY_TEXT);
    painter.line_segment([Pos2::new(x0, y), Pos2::new(x0 + length, y)], stroke);
    painter.line_segment([Pos2::new(x0, y - 5.0), Pos2::new(x0, y + 3.0)], stroke);
    painter.line_segment(
        [
            Pos2::new(x0 + length, y - 5.0),
            Pos2::new(x0 + length, y + 3.0),
        ],
        stroke,
    );
    let text = if um >= 1000.0 {
        format!("{} mm", um / 1000.0)
    } else {
        format!("{um} µm")
    };
    painter.text(
        Pos2::new(x0 + length / 2.0, y - 7.0),
        Align2::CENTER_BOTTOM,
        text,
        theme::overlay_font(),
        theme::OVERLAY_TEXT,
    );
}

/// The overview in the top-right corner with the view's rectangle; a click or drag
/// centres the view there.
pub fn minimap_ui(ui: &mut Ui, rect: Rect, open: &OpenSlideView) -> Option<Command> {
    let view = open.view?;
    let info = open.slide.info();
    let [w, h] = [info.levels[0].width as f64, info.levels[0].height as f64];
    let scale = (f64::from(MINIMAP_MAX.x) / w).min(f64::from(MINIMAP_MAX.y) / h);
    let size = Vec2::new((w * scale) as f32, (h * scale) as f32);
    let inner = rect.shrink(theme::OVERLAY_MARGIN);
    let map = Rect::from_min_size(Pos2::new(inner.right() - size.x, inner.top()), size);
    if !rect.contains_rect(map.expand(2.0)) {
        return None;
    }
    let response = ui.interact(
        map,
        ui.scope_id().with("slide-minimap"),
        Sense::click_and_drag(),
    );
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Image, true, "Slide overview"));
    let painter = ui.painter_at(rect);
    painter.rect_filled(map.expand(2.0), 2.0, theme::OVERLAY_SHADOW);
    painter.rect_filled(map, 0.0, theme::SLIDE_GLASS);
    let to_map = |p: [f64; 2]| {
        Pos2::new(
            map.min.x + (p[0] * scale) as f32,
            map.min.y + (p[1] * scale) as f32,
        )
    };
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    let levels = &info.levels;
    let ov = cover::overview_level(levels);
    let (across, down) = levels[ov as usize].tile_grid();
    for row in 0..down as u32 {
        for col in 0..across as u32 {
            let key = crate::imaging::slide::TileKey {
                level: ov,
                col,
                row,
            };
            let (Some(r), Some(texture)) =
                (cover::tile_rect_level0(levels, key), open.tile_texture(key))
            else {
                continue;
            };
            painter.image(
                texture,
                Rect::from_min_max(to_map([r[0], r[1]]), to_map([r[2], r[3]])),
                uv,
                Color32::WHITE,
            );
        }
    }
    let [x0, y0, x1, y1] = view.rect_level0();
    let shown = Rect::from_min_max(
        to_map([x0.max(0.0), y0.max(0.0)]),
        to_map([x1.min(w), y1.min(h)]),
    );
    painter.rect_stroke(
        shown,
        0.0,
        Stroke::new(1.5, theme::SLIDE_VIEW_RECT),
        egui::StrokeKind::Middle,
    );
    let target = response
        .interact_pointer_pos()
        .filter(|_| response.clicked() || response.dragged())?;
    let level0 = [
        f64::from(target.x - map.min.x) / scale,
        f64::from(target.y - map.min.y) / scale,
    ];
    Some(Command::Slide(SlideCommand::CenterOn { level0 }))
}
