//! Annotating a whole-slide image: the slide's fingerprint, the tool and the shape being
//! drawn, the slide's stored annotations with their bucket grid, and how they are drawn.
//!
//! Owns [`SlideAnnotations`] (inside the open slide view). The slide's SHA-256 is
//! computed once on a named thread when the slide opens; annotating waits for it
//! (annotations are stored as `ImageRef::Slide { slide_sha256 }` with level-0 pixel
//! points). Commits go through `TesseraApp::apply` (`Command::SlidePointer`), which calls
//! `session.commit_edit` and reloads the list here. Drawing is slide_overlay.rs (level of
//! detail from `annotate::slide_lod`: crowds merge into per-class cluster cells, one
//! cached mesh per zoom); a click with the navigation tool selects the object under the
//! pointer through the index, at any zoom.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};

use egui::{Color32, Painter, Pos2, Rect, Shape, Stroke};

use super::annotations::{Draft, DraftStep, PlaneKey, PointerEvent, Tool};
use super::slide_overlay::{Overlay, Scene};
use crate::annotate::measure::Point;
use crate::annotate::slide_lod::LodIndex;
use crate::annotate::slide_objects::{self, SlideObject};
use crate::imaging::mpr::Plane;
use crate::imaging::slide::cover::View;
use crate::project::Id;
use crate::project::model::{Annotation, ImageRef, Kind};

/// The tools offered on a slide.
pub const SLIDE_TOOLS: [Tool; 6] = [
    Tool::Navigate,
    Tool::Point,
    Tool::Rectangle,
    Tool::Ellipse,
    Tool::Polygon,
    Tool::Freehand,
];

/// `Draft::step` wants a plane; a slide has one plane, its level 0.
const SLIDE_PLANE: PlaneKey = PlaneKey {
    depth_axis: 2,
    index: 0,
    plane: Plane::Axial,
};

/// A click selects objects within this many screen pixels.
pub const SELECT_TOLERANCE_PX: f64 = 5.0;

/// The slide's annotations and the drawing state.
pub struct SlideAnnotations {
    /// The slide file's SHA-256 (hex), once computed.
    pub sha256: Option<String>,
    sha_rx: Option<Receiver<Result<String, String>>>,
    pub tool: Tool,
    pub draft: Option<Draft>,
    /// µm per level-0 pixel (x, y), when the slide says.
    pub mpp: Option<[f64; 2]>,
    extent: [f64; 2],
    pub objects: Vec<SlideObject>,
    lod: LodIndex,
    /// Colour of each class of `lod` (by name, stable).
    colors: Vec<Color32>,
    /// Changes with every reload of the objects (the overlay rebuilds).
    generation: u64,
    overlay: Overlay,
    pub counts: BTreeMap<String, usize>,
    /// Objects meeting the view (with its margin) in the last build: drawn one by one
    /// plus merged into cluster cells.
    pub drawn: usize,
    /// What the last export wrote, or why it failed (shown in the panel).
    pub note: Option<String>,
    /// Of those, merged into cluster cells.
    pub merged: usize,
    /// The object a click picked (kept across reloads while it exists).
    pub selected: Option<Id>,
}

impl SlideAnnotations {
    /// Starts fingerprinting `path` on a named thread.
    pub fn new(path: &Path, mpp: Option<[f64; 2]>, extent: [f64; 2], ctx: &egui::Context) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let path = path.to_path_buf();
        let repaint = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("slide-sha256".into())
            .spawn(move || {
                let result = crate::imaging::discovery::sha256_file(&path)
                    .map_err(|e| format!("cannot fingerprint the slide: {e}"));
                let _ = tx.send(result);
                repaint.request_repaint();
            });
        if let Err(e) = &spawned {
            tracing::warn!("cannot start fingerprinting the slide: {e}");
        }
        SlideAnnotations {
            sha256: None,
            sha_rx: spawned.ok().map(|_| rx),
            tool: Tool::Navigate,
            draft: None,
            mpp,
            extent,
            objects: Vec::new(),
            lod: LodIndex::default(),
            colors: Vec::new(),
            generation: 0,
            overlay: Overlay::default(),
            counts: BTreeMap::new(),
            drawn: 0,
            note: None,
            merged: 0,
            selected: None,
        }
    }

    /// Takes the fingerprint when it arrived: `Ok(true)` the first time.
    pub fn poll(&mut self) -> Result<bool, String> {
        let Some(rx) = &self.sha_rx else {
            return Ok(false);
        };
        match rx.try_recv() {
            Ok(Ok(sha)) => {
                self.sha256 = Some(sha);
                self.sha_rx = None;
                Ok(true)
            }
            Ok(Err(e)) => {
                self.sha_rx = None;
                Err(e)
            }
            Err(TryRecvError::Empty) => Ok(false),
            Err(TryRecvError::Disconnected) => {
                self.sha_rx = None;
                Err("the slide fingerprint thread stopped".into())
            }
        }
    }

    /// What annotations on this slide are stored under, once known.
    pub fn image(&self) -> Option<ImageRef> {
        self.sha256.as_ref().map(|s| ImageRef::Slide {
            slide_sha256: s.clone(),
        })
    }

    /// Replaces the objects (the project's annotations of this slide) and re-indexes.
    pub fn set_annotations(&mut self, annotations: Vec<Annotation>) {
        self.objects = annotations
            .into_iter()
            .map(|a| SlideObject::new(a, self.mpp))
            .collect();
        self.lod = LodIndex::build(&self.objects, self.extent);
        self.colors = self.lod.classes().iter().map(|c| class_color(c)).collect();
        self.counts = slide_objects::point_counts(&self.objects);
        self.generation += 1;
        self.overlay.invalidate();
        if let Some(id) = self.selected
            && !self.objects.iter().any(|o| o.annotation.id == id)
        {
            self.selected = None;
        }
    }

    /// Selects the object under a level-0 point (within `tolerance` level-0 px), or
    /// nothing when there is none.
    pub fn select_at(&mut self, p: Point, tolerance: f64) {
        self.selected = self
            .lod
            .hit_test(&self.objects, p, tolerance)
            .and_then(|i| self.objects.get(i))
            .map(|o| o.annotation.id);
    }

    /// Selects an object by id; its level-0 centre when it exists.
    pub fn select(&mut self, id: Id) -> Option<Point> {
        let o = self.objects.iter().find(|o| o.annotation.id == id)?;
        self.selected = Some(id);
        let b = o.bounds;
        Some([(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0])
    }

    /// The selected object.
    pub fn selected_object(&self) -> Option<&SlideObject> {
        let id = self.selected?;
        self.objects.iter().find(|o| o.annotation.id == id)
    }

    /// What the cluster cell under a level-0 point holds, in words: "37 objects here:
    /// 20 Lymphocyte, 17 Tumour cell. Zoom in to see them." (exact counts).
    pub fn cluster_text(&self, p: Point) -> Option<String> {
        let (_, counts) = self.overlay.cluster_at(p)?;
        let total: u32 = counts.iter().sum();
        let mut parts: Vec<(u32, &str)> = counts
            .iter()
            .zip(self.lod.classes())
            .filter(|(n, _)| **n > 0)
            .map(|(n, c)| (*n, c.as_str()))
            .collect();
        parts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let list: Vec<String> = parts.iter().map(|(n, c)| format!("{n} {c}")).collect();
        let noun = if total == 1 { "object" } else { "objects" };
        Some(format!(
            "{total} {noun} here: {}. Zoom in to see them.",
            list.join(", ")
        ))
    }

    /// Times the overlay mesh was rebuilt (tests, benchmarks).
    pub fn overlay_builds(&self) -> u64 {
        self.overlay.builds
    }

    /// Advances the shape being drawn; a finished one comes back as kind and points.
    pub fn step(&mut self, event: PointerEvent, close: f64) -> Option<(Kind, Vec<Point>)> {
        let kind = self.tool.kind()?;
        match Draft::step(&mut self.draft, kind, SLIDE_PLANE, event, close) {
            DraftStep::Done(kind, points) => Some((kind, points)),
            DraftStep::Continue | DraftStep::Cancelled => None,
        }
    }

    /// Draws the objects meeting `view`, the selection and the draft with `to_screen`.
    pub fn paint(
        &mut self,
        painter: &Painter,
        rect: Rect,
        view: &View,
        to_screen: &dyn Fn(Point) -> Pos2,
    ) {
        let scene = Scene {
            lod: &self.lod,
            colors: &self.colors,
            generation: self.generation,
        };
        self.overlay.paint(painter, rect, view, &scene);
        let (singles, merged) = self.overlay.counts();
        self.drawn = singles + merged;
        self.merged = merged;
        if let Some(o) = self.selected_object() {
            selection(painter, o, to_screen);
        }
        if let Some(d) = &self.draft {
            let line: Vec<Pos2> = match d.kind {
                Kind::Rectangle | Kind::Ellipse => match d.points.as_slice() {
                    [a, b] => {
                        let (p, q) = (to_screen(*a), to_screen(*b));
                        let r = Rect::from_two_pos(p, q);
                        vec![
                            r.left_top(),
                            r.right_top(),
                            r.right_bottom(),
                            r.left_bottom(),
                        ]
                    }
                    _ => Vec::new(),
                },
                _ => d.preview().iter().map(|p| to_screen(*p)).collect(),
            };
            if line.len() >= 2 {
                painter.add(Shape::closed_line(
                    line,
                    Stroke::new(1.5, super::theme::ACCENT),
                ));
            }
        }
    }
}

/// The selected object, drawn over everything at any zoom: its outline (or a ring
/// around a point) in white under the class colour.
fn selection(painter: &Painter, o: &SlideObject, to_screen: &dyn Fn(Point) -> Pos2) {
    let body = &o.annotation.body;
    let color = class_color(&body.label.name);
    let b = o.bounds;
    let line: Vec<Pos2> = match body.kind {
        Kind::Point => {
            let c = to_screen([b[0], b[1]]);
            painter.circle_stroke(c, 7.0, Stroke::new(3.5, Color32::WHITE));
            painter.circle_stroke(c, 7.0, Stroke::new(1.5, color));
            return;
        }
        Kind::Rectangle => {
            let r = Rect::from_two_pos(to_screen([b[0], b[1]]), to_screen([b[2], b[3]]));
            vec![
                r.left_top(),
                r.right_top(),
                r.right_bottom(),
                r.left_bottom(),
            ]
        }
        Kind::Ellipse => {
            let (c, r) = (
                to_screen([(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]),
                to_screen([b[2], b[3]]),
            );
            let radius = (r - c).abs();
            (0..48)
                .map(|k| {
                    let t = k as f32 / 48.0 * std::f32::consts::TAU;
                    c + egui::vec2(radius.x * t.cos(), radius.y * t.sin())
                })
                .collect()
        }
        _ => body.points.iter().map(|p| to_screen(*p)).collect(),
    };
    // A tiny object at this zoom still shows where it is.
    let bounds = Rect::from_points(&line);
    if bounds.width().max(bounds.height()) < 6.0 {
        painter.circle_stroke(bounds.center(), 7.0, Stroke::new(3.5, Color32::WHITE));
        painter.circle_stroke(bounds.center(), 7.0, Stroke::new(1.5, color));
        return;
    }
    painter.add(Shape::closed_line(
        line.clone(),
        Stroke::new(3.5, Color32::WHITE),
    ));
    painter.add(Shape::closed_line(line, Stroke::new(1.5, color)));
}

/// A class's colour: stable, from its name (the same as GeoJSON exports give classes
/// the schema does not colour).
pub fn class_color(name: &str) -> Color32 {
    let [r, g, b] = slide_objects::class_rgb(name);
    Color32::from_rgb(r, g, b)
}

/// The annotation panel: tools, the label, counts per class, the list.
pub fn panel_ui(ui: &mut egui::Ui, annotations: &SlideAnnotations) -> Vec<super::Command> {
    use super::Command;
    let mut commands = Vec::new();
    ui.heading("Annotations");
    if annotations.sha256.is_none() {
        ui.label(egui::RichText::new("Fingerprinting the slide…").color(super::theme::TEXT_DIM));
    }
    ui.horizontal_wrapped(|ui| {
        for tool in SLIDE_TOOLS {
            let button = ui
                .add_enabled(
                    annotations.sha256.is_some() || tool == Tool::Navigate,
                    egui::Button::selectable(annotations.tool == tool, tool.name()),
                )
                .on_hover_text(if tool == Tool::Navigate {
                    "Drag: pan. Click: select. Double click: zoom in."
                } else {
                    tool.how()
                });
            if button.clicked() {
                commands.push(Command::SlideTool(tool));
            }
        }
    });
    if ui
        .add_enabled(
            annotations.sha256.is_some() && !annotations.objects.is_empty(),
            egui::Button::new("Export QuPath GeoJSON…"),
        )
        .on_hover_text("This slide's annotations as a GeoJSON file QuPath opens (plaintext)")
        .clicked()
    {
        commands.push(Command::ExportLabelsDialog(
            crate::cli::labels_io::ExportFormat::Geojson,
        ));
    }
    if let Some(note) = &annotations.note {
        ui.label(
            egui::RichText::new(note)
                .small()
                .color(super::theme::TEXT_DIM),
        );
    }
    ui.separator();
    ui.label(format!("Objects: {}", annotations.objects.len()));
    if let Some(o) = annotations.selected_object() {
        let body = &o.annotation.body;
        let mut text = format!(
            "Selected: {} ({})",
            body.label.name,
            crate::annotate::shapes::kind_name(body.kind)
        );
        let m = o.measurement_text();
        if !m.is_empty() {
            text.push_str(&format!(", {m}"));
        }
        ui.label(egui::RichText::new(text).color(super::theme::ACCENT));
    }
    if !annotations.counts.is_empty() {
        ui.label(egui::RichText::new("Point counts").strong());
        egui::Grid::new("slide-counts")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for (class, n) in &annotations.counts {
                    ui.label(class);
                    ui.label(n.to_string());
                    ui.end_row();
                }
            });
        ui.separator();
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::vertical()
        .id_salt("slide-annotation-list")
        .show_rows(ui, row_height, annotations.objects.len(), |ui, range| {
            for o in &annotations.objects[range] {
                let body = &o.annotation.body;
                ui.horizontal(|ui| {
                    let (swatch, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter()
                        .rect_filled(swatch, 2.0, class_color(&body.label.name));
                    let selected = annotations.selected == Some(o.annotation.id);
                    if ui.selectable_label(selected, &body.label.name).clicked() {
                        commands.push(Command::Slide(
                            super::slide_view::SlideCommand::SelectObject(o.annotation.id),
                        ));
                    }
                    ui.label(
                        egui::RichText::new(crate::annotate::shapes::kind_name(body.kind))
                            .color(super::theme::TEXT_DIM),
                    );
                    let m = o.measurement_text();
                    if !m.is_empty() {
                        ui.label(m);
                    }
                });
            }
        });
    commands
}
