//! Annotations over one viewport: draws the shapes on the viewport's plane with their
//! measurements, the shape being drawn and the selection's handles, and turns the left
//! mouse button into annotation [`Command`]s when a tool is in hand or a shape is
//! under the pointer.
//!
//! Owns the screen ↔ plane mapping of one frame ([`PlaneMapping`]). Changes no state.

use egui::{Align2, Color32, PointerButton, Pos2, Rect, Response, Shape, Stroke, Ui, Vec2};

use super::annotations::{AnnotationLayer, Draft, PlaneKey, PointerEvent, Tool};
use super::{Command, theme};
use crate::annotate::measure::Point;
use crate::annotate::shapes;
use crate::imaging::mpr::PlaneView;
use crate::project::model::Kind;

/// Screen pixels within which the pointer grabs a vertex or a shape's outline.
const GRAB_POINTS: f32 = 7.0;

/// The plane of one viewport this frame and its placement on screen.
#[derive(Clone, Copy)]
pub struct PlaneMapping<'a> {
    pub view: &'a PlaneView,
    pub key: PlaneKey,
    pub image: Rect,
}

impl PlaneMapping<'_> {
    pub fn to_screen(&self, p: Point) -> Pos2 {
        let uv = self.view.uv_of(self.key.voxel_of(p));
        self.image.min + Vec2::new(uv[0] as f32, uv[1] as f32) * self.image.size()
    }

    pub fn from_screen(&self, pos: Pos2) -> Point {
        let uv = (pos - self.image.min) / self.image.size();
        self.key
            .point_of(self.view.voxel_at([f64::from(uv.x), f64::from(uv.y)]))
    }

    /// Plane units per screen point (for grab distances).
    fn units_per_point(&self) -> f64 {
        let [w, _] = self.view.size_voxels();
        if self.image.width() > 0.0 {
            w as f64 / f64::from(self.image.width())
        } else {
            1.0
        }
    }
}

/// The pointer, in the viewport, over the image.
fn pointer_on_image(response: &Response, image: Rect) -> Option<Pos2> {
    response
        .interact_pointer_pos()
        .or_else(|| response.hover_pos())
        .filter(|p| image.contains(*p))
}

/// Input for the annotation tools: returns the commands and whether the left button
/// was used (then the viewport does not also change the window or the crosshair).
pub fn annotation_input(
    ui: &Ui,
    response: &Response,
    layer: &AnnotationLayer,
    map: &PlaneMapping<'_>,
    viewport: usize,
    can_edit: bool,
) -> (Vec<Command>, bool) {
    let mut commands = Vec::new();
    if let Some(kind) = layer.tool.paint().filter(|_| can_edit) {
        return (paint_input(ui, response, map, kind), true);
    }
    let grab = GRAB_POINTS as f64 * map.units_per_point();
    let key = map.key;
    let here = |pos: Pos2| map.from_screen(pos);

    // Reshaping a selected annotation takes the drag wherever it goes.
    if layer.reshape.is_some() {
        if response.dragged_by(PointerButton::Primary)
            && let Some(p) = response.interact_pointer_pos()
        {
            commands.push(Command::ReshapeTo(here(p)));
        }
        if response.drag_stopped_by(PointerButton::Primary) {
            commands.push(Command::EndReshape);
        }
        return (commands, true);
    }

    let pointer = pointer_on_image(response, map.image);
    let hit = |pos: Pos2| -> Option<(usize, Option<usize>)> {
        let p = here(pos);
        // The selected annotation's vertices first, then any outline on this plane.
        if let Some(sel) = layer.selected.and_then(|id| layer.get(id))
            && sel.key == Some(key)
            && let Some(v) = shapes::nearest_vertex(&sel.annotation.body.points, p, grab)
        {
            let index = layer
                .shown
                .iter()
                .position(|s| s.annotation.id == sel.annotation.id)?;
            return Some((index, Some(v)));
        }
        layer
            .shown
            .iter()
            .enumerate()
            .filter(|(_, s)| s.key == Some(key))
            .map(|(i, s)| {
                let b = &s.annotation.body;
                (i, shapes::distance_to(b.kind, &b.points, p))
            })
            .filter(|(_, d)| *d <= grab)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| (i, None))
    };

    let drawing = layer.draft.as_ref().is_some_and(|d| d.key == key);
    let tool_kind = layer.tool.kind().filter(|_| can_edit);

    // Press on a selected shape (or its vertex) starts a reshape, in any tool.
    if response.drag_started_by(PointerButton::Primary)
        && !drawing
        && can_edit
        && let Some(origin) = ui.input(|i| i.pointer.press_origin())
        && let Some((index, vertex)) = hit(origin)
        && layer.selected == Some(layer.shown[index].annotation.id)
    {
        commands.push(Command::BeginReshape {
            id: layer.shown[index].annotation.id,
            vertex,
            at: here(origin),
        });
        return (commands, true);
    }

    // A click on a shape selects it (unless a click-by-click shape is under way).
    if response.clicked_by(PointerButton::Primary)
        && !drawing
        && let Some(pos) = pointer
        && let Some((index, _)) = hit(pos)
    {
        commands.push(Command::SelectAnnotation(Some(
            layer.shown[index].annotation.id,
        )));
        return (commands, true);
    }

    let Some(kind) = tool_kind else {
        return (commands, false);
    };
    let close = grab;
    let mut send = |event: PointerEvent| {
        commands.push(Command::AnnotationPointer {
            viewport,
            key,
            kind,
            event,
            close,
        });
    };
    if response.drag_started_by(PointerButton::Primary)
        && let Some(origin) = ui.input(|i| i.pointer.press_origin())
        && map.image.contains(origin)
    {
        send(PointerEvent::DragStart(here(origin)));
    }
    if response.dragged_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        send(PointerEvent::Drag(here(p)));
    }
    if response.drag_stopped_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        send(PointerEvent::DragEnd(here(p)));
    }
    if response.double_clicked_by(PointerButton::Primary)
        && let Some(p) = pointer
    {
        send(PointerEvent::DoubleClick(here(p)));
    } else if response.clicked_by(PointerButton::Primary)
        && let Some(p) = pointer
    {
        send(PointerEvent::Click(here(p)));
    }
    if drawing
        && matches!(kind, Kind::Angle | Kind::Polygon)
        && let Some(p) = response.hover_pos()
        && layer.draft.as_ref().and_then(|d| d.hover) != Some(here(p))
    {
        send(PointerEvent::Hover(here(p)));
    }
    (commands, true)
}

/// A painting tool's pointer events as voxel coordinates.
fn paint_input(
    ui: &Ui,
    response: &Response,
    map: &PlaneMapping<'_>,
    kind: super::apply_segmentation::PaintKind,
) -> Vec<Command> {
    use super::apply_segmentation::PaintEvent;
    let voxel = |pos: Pos2| {
        let uv = (pos - map.image.min) / map.image.size();
        map.view.voxel_at([f64::from(uv.x), f64::from(uv.y)])
    };
    let plane = map.view.plane;
    let mut events = Vec::new();
    if response.drag_started_by(PointerButton::Primary)
        && let Some(origin) = ui.input(|i| i.pointer.press_origin())
        && map.image.contains(origin)
    {
        events.push(PaintEvent::Down(voxel(origin)));
    }
    if response.dragged_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        events.push(PaintEvent::Move(voxel(p)));
    }
    if response.drag_stopped_by(PointerButton::Primary) {
        events.push(PaintEvent::Up);
    }
    if response.clicked_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
        && map.image.contains(p)
    {
        events.push(PaintEvent::Click(voxel(p)));
    }
    events
        .into_iter()
        .map(|event| Command::Paint { plane, kind, event })
        .collect()
}

/// The brush outline under the pointer (radius in mm on this plane).
pub fn draw_brush_cursor(ui: &Ui, clip: Rect, map: &PlaneMapping<'_>, radius_mm: f64) {
    let Some(p) = ui
        .input(|i| i.pointer.hover_pos())
        .filter(|p| map.image.contains(*p))
    else {
        return;
    };
    let [w_mm, _] = map.view.size_mm();
    if w_mm <= 0.0 {
        return;
    }
    let r = (radius_mm / w_mm) as f32 * map.image.width();
    ui.painter_at(clip)
        .circle_stroke(p, r, Stroke::new(1.0, theme::ANNOTATION_DRAFT));
}

/// Draws the annotations on this viewport's plane, the draft and the reshape.
pub fn draw_annotations(ui: &Ui, clip: Rect, layer: &AnnotationLayer, map: &PlaneMapping<'_>) {
    let painter = ui.painter_at(clip);
    for shown in &layer.shown {
        if shown.key != Some(map.key) {
            continue;
        }
        let selected = layer.selected == Some(shown.annotation.id);
        let reshaping = layer
            .reshape
            .as_ref()
            .filter(|r| r.before.id == shown.annotation.id);
        let body = &shown.annotation.body;
        let points = reshaping.map_or(&body.points, |r| &r.points);
        let colour = if selected {
            theme::ANNOTATION_SELECTED
        } else {
            layer.tint.unwrap_or(theme::ANNOTATION)
        };
        draw_shape(&painter, map, body.kind, points, colour, true);
        if selected {
            for p in points {
                let c = map.to_screen(*p);
                painter.rect_filled(Rect::from_center_size(c, Vec2::splat(7.0)), 1.0, colour);
                painter.rect_stroke(
                    Rect::from_center_size(c, Vec2::splat(7.0)),
                    1.0,
                    Stroke::new(1.0, Color32::BLACK),
                    egui::StrokeKind::Outside,
                );
            }
        }
        let text = match reshaping {
            Some(r) => shapes::Measurement::of(body.kind, &r.points, &shown_spacing(map)).text(),
            None => shown.measurement.clone(),
        };
        let mut lines = vec![body.label.name.clone()];
        lines.extend(text);
        if selected && reshaping.is_none() {
            lines.extend(shown.short_stats.clone());
        }
        label_near(&painter, map, points, &lines.join("\n"), colour);
    }
    if let Some(draft) = layer.draft.as_ref().filter(|d| d.key == map.key) {
        draw_draft(&painter, map, draft);
    }
}

fn shown_spacing(map: &PlaneMapping<'_>) -> crate::annotate::measure::PixelSpacing {
    let [a, b] = map.key.axes();
    crate::annotate::measure::PixelSpacing {
        column_mm: map.view.spacing_mm[a],
        row_mm: map.view.spacing_mm[b],
    }
}

fn draw_draft(painter: &egui::Painter, map: &PlaneMapping<'_>, draft: &Draft) {
    let points = draft.preview();
    let colour = theme::ANNOTATION_DRAFT;
    let closed = false;
    match draft.kind {
        Kind::Polygon | Kind::Angle | Kind::Freehand => {
            let line: Vec<Pos2> = points.iter().map(|p| map.to_screen(*p)).collect();
            painter.add(Shape::line(line, Stroke::new(1.5, colour)));
            for p in &draft.points {
                painter.circle_filled(map.to_screen(*p), 3.0, colour);
            }
        }
        kind => draw_shape(painter, map, kind, &points, colour, closed),
    }
    let text = shapes::Measurement::of(draft.kind, &points, &shown_spacing(map)).text();
    if let Some(text) = text {
        label_near(painter, map, &points, &text, colour);
    }
}

/// One shape in screen space. Rectangles and ellipses follow the plane's axes.
fn draw_shape(
    painter: &egui::Painter,
    map: &PlaneMapping<'_>,
    kind: Kind,
    points: &[Point],
    colour: Color32,
    finished: bool,
) {
    let stroke = Stroke::new(1.5, colour);
    let s = |p: &Point| map.to_screen(*p);
    match (kind, points) {
        (Kind::Point, [p]) => {
            let c = s(p);
            painter.circle_stroke(c, 5.0, stroke);
            painter.line_segment([c - Vec2::X * 9.0, c - Vec2::X * 3.0], stroke);
            painter.line_segment([c + Vec2::X * 3.0, c + Vec2::X * 9.0], stroke);
            painter.line_segment([c - Vec2::Y * 9.0, c - Vec2::Y * 3.0], stroke);
            painter.line_segment([c + Vec2::Y * 3.0, c + Vec2::Y * 9.0], stroke);
        }
        (Kind::Ruler, [a, b]) => {
            painter.line_segment([s(a), s(b)], stroke);
            for end in [s(a), s(b)] {
                painter.circle_filled(end, 2.5, colour);
            }
        }
        (Kind::Angle, [a, v, b]) => {
            painter.add(Shape::line(vec![s(a), s(v), s(b)], stroke));
        }
        (Kind::Bidirectional, [a, b, rest @ ..]) => {
            painter.line_segment([s(a), s(b)], stroke);
            if let [c, d] = rest {
                painter.line_segment([s(c), s(d)], Stroke::new(1.5, colour.gamma_multiply(0.8)));
            }
        }
        (Kind::Rectangle, [a, b]) => {
            let corners = [*a, [b[0], a[1]], *b, [a[0], b[1]]];
            let line: Vec<Pos2> = corners.iter().map(s).collect();
            painter.add(Shape::closed_line(line, stroke));
        }
        (Kind::Ellipse, [a, b]) => {
            let centre = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
            let radii = [(b[0] - a[0]) / 2.0, (b[1] - a[1]) / 2.0];
            let line: Vec<Pos2> = (0..64)
                .map(|i| {
                    let t = i as f64 / 64.0 * std::f64::consts::TAU;
                    s(&[
                        centre[0] + radii[0] * t.cos(),
                        centre[1] + radii[1] * t.sin(),
                    ])
                })
                .collect();
            painter.add(Shape::closed_line(line, stroke));
        }
        (Kind::Polygon | Kind::Freehand, p) if p.len() >= 2 => {
            let line: Vec<Pos2> = p.iter().map(s).collect();
            if finished {
                painter.add(Shape::closed_line(line, stroke));
            } else {
                painter.add(Shape::line(line, stroke));
            }
        }
        _ => {}
    }
}

/// The label and measurement beside the shape's right-most point.
fn label_near(
    painter: &egui::Painter,
    map: &PlaneMapping<'_>,
    points: &[Point],
    text: &str,
    colour: Color32,
) {
    let Some(anchor) = points
        .iter()
        .map(|p| map.to_screen(*p))
        .max_by(|a, b| a.x.total_cmp(&b.x))
    else {
        return;
    };
    let font = theme::overlay_font();
    let galley = painter.layout_no_wrap(text.to_owned(), font, colour);
    let pos = anchor + Vec2::new(10.0, -galley.size().y / 2.0);
    let rect = Align2::LEFT_TOP.anchor_size(pos, galley.size()).expand(3.0);
    painter.rect_filled(rect, 3.0, theme::OVERLAY_SHADOW);
    painter.galley(pos, galley, colour);
}

/// Whether a tool other than Navigate is in hand (the status line says how to draw).
pub fn tool_hint(tool: Tool) -> &'static str {
    tool.how()
}
