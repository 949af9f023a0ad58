//! Annotating a whole-slide image: the slide's fingerprint, the tool and the shape being
//! drawn, the slide's stored annotations with their bucket grid, and how they are drawn.
//!
//! Owns [`SlideAnnotations`] (inside the open slide view). The slide's SHA-256 is
//! computed once on a named thread when the slide opens; annotating waits for it
//! (annotations are stored as `ImageRef::Slide { slide_sha256 }` with level-0 pixel
//! points). Commits go through `TesseraApp::apply` (`Command::SlidePointer`), which calls
//! `session.commit_edit` and reloads the list here. Drawing asks the grid for the objects
//! meeting the view; objects under two screen pixels are dots (one per 2x2 pixel cell),
//! outlines skip vertices closer than one screen pixel.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};

use egui::{Color32, Painter, Pos2, Rect, Shape, Stroke};

use super::annotations::{Draft, DraftStep, PlaneKey, PointerEvent, Tool};
use crate::annotate::measure::Point;
use crate::annotate::slide_objects::{self, GridIndex, SlideObject};
use crate::imaging::mpr::Plane;
use crate::imaging::slide::cover::View;
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

/// Objects smaller than this many screen pixels are drawn as dots.
const DOT_BELOW_PX: f64 = 2.0;
/// Outlines under this many screen pixels are thinned to one per 4x4 screen cell.
const SMALL_PX: f64 = 8.0;
/// Objects at least this many screen pixels across are drawn anti-aliased by egui.
const LARGE_PX: f64 = 48.0;

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
    index: GridIndex,
    pub counts: BTreeMap<String, usize>,
    /// Objects meeting the view in the last frame (before dots were merged).
    pub drawn: usize,
    scratch: Vec<u32>,
    /// What the last export wrote, or why it failed (shown in the panel).
    pub note: Option<String>,
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
            index: GridIndex::default(),
            counts: BTreeMap::new(),
            drawn: 0,
            scratch: Vec::new(),
            note: None,
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
        self.index = GridIndex::build(self.objects.iter().map(|o| o.bounds).collect(), self.extent);
        self.counts = slide_objects::point_counts(&self.objects);
    }

    /// Advances the shape being drawn; a finished one comes back as kind and points.
    pub fn step(&mut self, event: PointerEvent, close: f64) -> Option<(Kind, Vec<Point>)> {
        let kind = self.tool.kind()?;
        match Draft::step(&mut self.draft, kind, SLIDE_PLANE, event, close) {
            DraftStep::Done(kind, points) => Some((kind, points)),
            DraftStep::Continue | DraftStep::Cancelled => None,
        }
    }

    /// Draws the objects meeting `view` (and the draft) with `to_screen`.
    pub fn paint(
        &mut self,
        painter: &Painter,
        rect: Rect,
        view: &View,
        to_screen: &dyn Fn(Point) -> Pos2,
    ) {
        let origin = rect.min;
        let corner = |p: Pos2| {
            view.level0_from_screen([f64::from(p.x - origin.x), f64::from(p.y - origin.y)])
        };
        let [x0, y0] = corner(rect.min);
        let [x1, y1] = corner(rect.max);
        let mut hits = std::mem::take(&mut self.scratch);
        hits.clear();
        self.index.query([x0, y0, x1, y1], &mut hits);
        let zoom = view.zoom;
        // Large objects go through egui's anti-aliased shapes; the many small ones are
        // quads in one mesh (no feathering, no per-shape tessellation).
        let mut shapes = Vec::new();
        let mut mesh = egui::Mesh::default();
        // Dots one per 2x2 screen pixels, point markers one per 4x4: thousands of cells
        // on one pixel are drawn once.
        let mut dots = Occupancy::new(rect, 2.0);
        let mut markers = Occupancy::new(rect, 4.0);
        let mut outlines = Occupancy::new(rect, 4.0);
        let mut simplified = Vec::new();
        let mut line: Vec<Pos2> = Vec::new();
        for &i in &hits {
            let Some(o) = self.objects.get(i as usize) else {
                continue;
            };
            let body = &o.annotation.body;
            let color = class_color(&body.label.name);
            let centre = || {
                to_screen([
                    (o.bounds[0] + o.bounds[2]) / 2.0,
                    (o.bounds[1] + o.bounds[3]) / 2.0,
                ])
            };
            if body.kind == Kind::Point {
                let c = centre();
                if markers.insert(c) {
                    mesh.add_colored_rect(
                        Rect::from_center_size(c, egui::vec2(7.0, 7.0)),
                        Color32::BLACK,
                    );
                    mesh.add_colored_rect(Rect::from_center_size(c, egui::vec2(5.0, 5.0)), color);
                }
                continue;
            }
            if slide_objects::is_tiny(o.bounds, zoom, DOT_BELOW_PX) {
                let c = centre();
                if dots.insert(c) {
                    mesh.add_colored_rect(Rect::from_center_size(c, egui::vec2(2.0, 2.0)), color);
                }
                continue;
            }
            // Small outlines: one per 4x4 screen cell (a crowd of them reads the same).
            if slide_objects::is_tiny(o.bounds, zoom, SMALL_PX) && !outlines.insert(centre()) {
                continue;
            }
            let large = !slide_objects::is_tiny(o.bounds, zoom, LARGE_PX);
            let stroke = Stroke::new(1.5, color);
            line.clear();
            match body.kind {
                Kind::Rectangle => {
                    let r = Rect::from_two_pos(
                        to_screen([o.bounds[0], o.bounds[1]]),
                        to_screen([o.bounds[2], o.bounds[3]]),
                    );
                    line.extend([
                        r.left_top(),
                        r.right_top(),
                        r.right_bottom(),
                        r.left_bottom(),
                    ]);
                }
                Kind::Ellipse => {
                    let c = centre();
                    let radius = egui::vec2(
                        ((o.bounds[2] - o.bounds[0]) * zoom / 2.0) as f32,
                        ((o.bounds[3] - o.bounds[1]) * zoom / 2.0) as f32,
                    );
                    if large {
                        shapes.push(Shape::ellipse_stroke(c, radius, stroke));
                        continue;
                    }
                    let n = 16;
                    line.extend((0..n).map(|k| {
                        let t = k as f32 / n as f32 * std::f32::consts::TAU;
                        c + egui::vec2(radius.x * t.cos(), radius.y * t.sin())
                    }));
                }
                _ => {
                    slide_objects::simplify_into(&body.points, 1.0 / zoom, &mut simplified);
                    line.extend(simplified.iter().map(|p| to_screen(*p)));
                }
            }
            if line.len() < 2 {
                continue;
            }
            if large {
                shapes.push(Shape::closed_line(std::mem::take(&mut line), stroke));
            } else {
                for k in 0..line.len() {
                    segment(&mut mesh, line[k], line[(k + 1) % line.len()], 1.2, color);
                }
            }
        }
        painter.add(Shape::mesh(mesh));
        self.drawn = hits.len();
        self.scratch = hits;
        painter.extend(shapes);
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

/// A line segment `width` wide as one quad of `mesh`.
fn segment(mesh: &mut egui::Mesh, p: Pos2, q: Pos2, width: f32, color: Color32) {
    let d = q - p;
    let len = d.length();
    if len < 1e-3 {
        return;
    }
    let n = egui::vec2(-d.y, d.x) * (width / 2.0 / len);
    let base = mesh.vertices.len() as u32;
    for v in [p + n, p - n, q - n, q + n] {
        mesh.colored_vertex(v, color);
    }
    mesh.add_triangle(base, base + 1, base + 2);
    mesh.add_triangle(base, base + 2, base + 3);
}

/// Which cells of a screen grid were drawn on this frame (a bitmap).
struct Occupancy {
    origin: Pos2,
    cell: f32,
    cols: usize,
    rows: usize,
    bits: Vec<u64>,
}

impl Occupancy {
    fn new(rect: Rect, cell: f32) -> Occupancy {
        let cols = (rect.width() / cell).ceil().max(1.0) as usize;
        let rows = (rect.height() / cell).ceil().max(1.0) as usize;
        Occupancy {
            origin: rect.min,
            cell,
            cols,
            rows,
            bits: vec![0; (cols * rows).div_ceil(64)],
        }
    }

    /// Marks the cell at `p`: `true` when it was free (draw), `false` when taken or off
    /// the grid.
    fn insert(&mut self, p: Pos2) -> bool {
        let x = ((p.x - self.origin.x) / self.cell).floor();
        let y = ((p.y - self.origin.y) / self.cell).floor();
        if x < 0.0 || y < 0.0 || x as usize >= self.cols || y as usize >= self.rows {
            return false;
        }
        let i = y as usize * self.cols + x as usize;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let Some(w) = self.bits.get_mut(word) else {
            return false;
        };
        let free = *w & bit == 0;
        *w |= bit;
        free
    }
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
                    "Drag: pan. Double click: zoom in."
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
                    ui.label(&body.label.name);
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
