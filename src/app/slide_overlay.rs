//! Drawing a slide's annotations: one mesh per zoom, moved (not rebuilt) while the view
//! only pans.
//!
//! Owns [`Overlay`]: the level-of-detail plan of the last build (`annotate::slide_lod`:
//! singles, and per-cell, per-class counts where objects crowd), the mesh built from it
//! for the view plus a margin, and the rule for rebuilding (the objects, the zoom or the
//! viewport size changed, or the view left the margin). Singles: points as markers (one
//! per 4x4 screen pixels), objects under 2 px as dots (one per 2x2), outlines under 8 px
//! thinned to one per 4x4 and every outline as a thin ring strip in the one mesh (egui's
//! anti-aliased strokes from 48 px on); clusters: one square per class slot of the
//! cell, more opaque the more objects it holds. The selection and the shape being drawn
//! are not cached (slide_annotations.rs draws them every frame).

use std::sync::Arc;

use egui::{Color32, Mesh, Painter, Pos2, Rect, Shape, Stroke, Vec2};

use crate::annotate::measure::Point;
use crate::annotate::slide_lod::{ClusterGrid, LodIndex, Plan};
use crate::annotate::slide_objects::Bounds;
use crate::imaging::slide::cover::View;
use crate::project::model::Kind;

/// Objects smaller than this many screen pixels are drawn as dots.
const DOT_BELOW_PX: f64 = 2.0;
/// Outlines under this many screen pixels are thinned to one per 4x4 screen cell.
const SMALL_PX: f64 = 8.0;
/// Objects at least this many screen pixels across are drawn anti-aliased by egui.
const LARGE_PX: f64 = 48.0;
/// Screen pixels built beyond each side of the view, so that panning reuses the mesh.
const MARGIN_PX: f64 = 96.0;
/// Outline width in screen pixels.
const OUTLINE_PX: f32 = 1.2;
/// What the overlay draws: the objects' index and per-class colours, and a number that
/// changes whenever either does.
pub struct Scene<'a> {
    pub lod: &'a LodIndex,
    pub colors: &'a [Color32],
    pub generation: u64,
}

/// What a build depends on besides the view's position.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key {
    generation: u64,
    zoom: f64,
    size: Vec2,
}

struct Built {
    key: Key,
    /// The level-0 rectangle the build covers (the view plus the margin).
    covers: Bounds,
    /// A level-0 point and where it was on screen when built.
    anchor: Point,
    anchor_screen: Pos2,
    mesh: Arc<Mesh>,
    shapes: Vec<Shape>,
}

/// Mesh memory handed to egui in recent frames, reused once egui has let go of it (a
/// fresh multi-megabyte mesh per frame costs as much in page faults as in drawing).
#[derive(Default)]
struct MeshPool {
    recent: Vec<Arc<Mesh>>,
}

impl MeshPool {
    /// An empty mesh, in memory no frame holds any more when there is such.
    fn take(&mut self) -> Mesh {
        match self.recent.iter().position(|m| Arc::strong_count(m) == 1) {
            Some(k) => {
                let mut mesh = Arc::try_unwrap(self.recent.swap_remove(k)).unwrap_or_default();
                mesh.clear();
                mesh
            }
            None => Mesh::default(),
        }
    }

    /// Hands `mesh` out (to egui or the cache), remembering it for reuse.
    fn share(&mut self, mesh: Mesh) -> Arc<Mesh> {
        let mesh = Arc::new(mesh);
        self.recent.push(Arc::clone(&mesh));
        // Two frames' worth (a harness may keep the last frame's output).
        if self.recent.len() > 4 {
            self.recent.remove(0);
        }
        mesh
    }
}

/// The cached overlay of one slide view.
#[derive(Default)]
pub struct Overlay {
    built: Option<Built>,
    pool: MeshPool,
    plan: Plan,
    line: Vec<Pos2>,
    /// Rebuilds since the slide opened (tests, benchmarks).
    pub builds: u64,
}

/// Which cells of a screen grid were drawn on (a bitmap).
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
        // Truncation is the floor here (non-negative), without a libm call per object.
        let x = (p.x - self.origin.x) / self.cell;
        let y = (p.y - self.origin.y) / self.cell;
        if !(x >= 0.0 && y >= 0.0) || x as usize >= self.cols || y as usize >= self.rows {
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

impl Overlay {
    /// Forgets the mesh (the next frame rebuilds).
    pub fn invalidate(&mut self) {
        self.built = None;
    }

    /// Objects drawn one by one and objects merged into cluster cells, last build.
    pub fn counts(&self) -> (usize, usize) {
        (self.plan.singles.len(), self.plan.clusters.merged())
    }

    /// The cluster cell under a level-0 point in the last build, with its per-class
    /// counts (indexed like `LodIndex::classes`).
    pub fn cluster_at(&self, p: Point) -> Option<(Bounds, &[u32])> {
        self.built.as_ref()?;
        self.plan.clusters.at(p)
    }

    /// Draws the scene for `view` into `rect` (the viewport, `view` in its points).
    pub fn paint(&mut self, painter: &Painter, rect: Rect, view: &View, scene: &Scene<'_>) {
        let origin = rect.min;
        let to_screen = |p: Point| {
            let s = view.screen_from_level0(p);
            Pos2::new(origin.x + s[0] as f32, origin.y + s[1] as f32)
        };
        let corner = |p: Pos2| {
            view.level0_from_screen([f64::from(p.x - origin.x), f64::from(p.y - origin.y)])
        };
        let ([x0, y0], [x1, y1]) = (corner(rect.min), corner(rect.max));
        let key = Key {
            generation: scene.generation,
            zoom: view.zoom,
            size: rect.size(),
        };
        let reusable = self.built.as_ref().is_some_and(|b| {
            b.key == key
                && b.covers[0] <= x0
                && b.covers[1] <= y0
                && b.covers[2] >= x1
                && b.covers[3] >= y1
        });
        if !reusable {
            let margin = MARGIN_PX / view.zoom;
            let covers = [x0 - margin, y0 - margin, x1 + margin, y1 + margin];
            let screen = rect.expand(MARGIN_PX as f32);
            self.built = None;
            let mut mesh = self.pool.take();
            let shapes = self.build(&mut mesh, scene, covers, screen, view.zoom, &to_screen);
            let anchor = [(x0 + x1) / 2.0, (y0 + y1) / 2.0];
            self.built = Some(Built {
                key,
                covers,
                anchor,
                anchor_screen: to_screen(anchor),
                mesh: self.pool.share(mesh),
                shapes,
            });
            self.builds += 1;
        }
        let Some(built) = &self.built else {
            return;
        };
        // Panned since the build: a moved copy (egui copies the mesh once more anyway).
        let delta = to_screen(built.anchor) - built.anchor_screen;
        if delta.length_sq() < 1e-8 {
            painter.add(Shape::Mesh(Arc::clone(&built.mesh)));
            painter.extend(built.shapes.iter().cloned());
        } else {
            let mut mesh = self.pool.take();
            mesh.append_ref(&built.mesh);
            mesh.translate(delta);
            painter.add(Shape::Mesh(self.pool.share(mesh)));
            painter.extend(built.shapes.iter().map(|s| {
                let mut s = s.clone();
                s.translate(delta);
                s
            }));
        }
    }

    /// Plans `covers` at `zoom` and builds its mesh (clusters under singles) and the few
    /// anti-aliased shapes.
    fn build(
        &mut self,
        mesh: &mut Mesh,
        scene: &Scene<'_>,
        covers: Bounds,
        screen: Rect,
        zoom: f64,
        to_screen: &dyn Fn(Point) -> Pos2,
    ) -> Vec<Shape> {
        scene.lod.plan(covers, zoom, &mut self.plan);
        // Markers: 8 vertices; outlines: about 20.
        let estimate = self.plan.singles.len() * 16 + self.plan.clusters.merged().min(1 << 16) * 4;
        mesh.reserve_vertices(estimate);
        mesh.reserve_triangles(estimate * 3 / 2);
        clusters(mesh, &self.plan.clusters, scene.colors, to_screen);
        let mut shapes = Vec::new();
        let mut dots = Occupancy::new(screen, 2.0);
        let mut markers = Occupancy::new(screen, 4.0);
        let mut outlines = Occupancy::new(screen, 4.0);
        for &slot in &self.plan.singles {
            let Some(item) = scene.lod.item(slot) else {
                continue;
            };
            let color = scene
                .colors
                .get(item.class)
                .copied()
                .unwrap_or(Color32::WHITE);
            let b = item.bounds;
            let size_px = (b[2] - b[0]).max(b[3] - b[1]) * zoom;
            let centre = to_screen([(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]);
            if item.kind == Kind::Point {
                if markers.insert(centre) {
                    mesh.add_colored_rect(
                        Rect::from_center_size(centre, Vec2::splat(7.0)),
                        Color32::BLACK,
                    );
                    mesh.add_colored_rect(Rect::from_center_size(centre, Vec2::splat(5.0)), color);
                }
                continue;
            }
            if size_px < DOT_BELOW_PX {
                if dots.insert(centre) {
                    mesh.add_colored_rect(Rect::from_center_size(centre, Vec2::splat(2.0)), color);
                }
                continue;
            }
            // Small outlines: one per 4x4 screen cell (a crowd of them reads the same).
            if size_px < SMALL_PX && !outlines.insert(centre) {
                continue;
            }
            let large = size_px >= LARGE_PX;
            self.line.clear();
            match item.kind {
                Kind::Rectangle => {
                    let r = Rect::from_two_pos(to_screen([b[0], b[1]]), to_screen([b[2], b[3]]));
                    self.line.extend([
                        r.left_top(),
                        r.right_top(),
                        r.right_bottom(),
                        r.left_bottom(),
                    ]);
                }
                Kind::Ellipse => {
                    let radius = Vec2::new(
                        ((b[2] - b[0]) * zoom / 2.0) as f32,
                        ((b[3] - b[1]) * zoom / 2.0) as f32,
                    );
                    if large {
                        shapes.push(Shape::ellipse_stroke(
                            centre,
                            radius,
                            Stroke::new(1.5, color),
                        ));
                        continue;
                    }
                    let n = (size_px / 3.0).clamp(8.0, 32.0) as usize;
                    self.line.extend((0..n).map(|k| {
                        let t = k as f32 / n as f32 * std::f32::consts::TAU;
                        centre + Vec2::new(radius.x * t.cos(), radius.y * t.sin())
                    }));
                }
                _ => {
                    // Vertices at least a pixel apart; two for outlines under SMALL_PX.
                    let step = if size_px < SMALL_PX { 2.0 } else { 1.0 };
                    match scene.lod.simplified(slot, zoom) {
                        Some(outline) => {
                            thin(outline.iter().map(|p| to_screen(*p)), step, &mut self.line)
                        }
                        None => {
                            // Relative points: one transform for the corner, then scaled.
                            let corner = to_screen([b[0], b[1]]);
                            let z = zoom as f32;
                            thin(
                                item.points
                                    .iter()
                                    .map(|p| corner + Vec2::new(p[0] * z, p[1] * z)),
                                step,
                                &mut self.line,
                            );
                        }
                    }
                    // The closing vertex when it lands on the first.
                    if self.line.len() > 2
                        && let (Some(first), Some(last)) = (self.line.first(), self.line.last())
                        && first.distance_sq(*last) < 1.0
                    {
                        self.line.pop();
                    }
                }
            }
            if self.line.len() < 2 {
                continue;
            }
            if large {
                shapes.push(Shape::closed_line(
                    std::mem::take(&mut self.line),
                    Stroke::new(1.5, color),
                ));
            } else {
                ring(mesh, &self.line, OUTLINE_PX, color);
            }
        }
        shapes
    }
}

/// Screen points at least `step` pixels from the last one kept, into `out`.
fn thin(points: impl Iterator<Item = Pos2>, step: f32, out: &mut Vec<Pos2>) {
    out.clear();
    let step2 = step * step;
    for p in points {
        match out.last() {
            Some(q) if q.distance_sq(p) < step2 => {}
            _ => out.push(p),
        }
    }
}

/// A closed polyline `width` wide as one triangle strip (two vertices per corner, mitred
/// up to twice the width).
fn ring(mesh: &mut Mesh, line: &[Pos2], width: f32, color: Color32) {
    let n = line.len();
    if n < 2 {
        return;
    }
    let half = width / 2.0;
    let unit_normal = |a: Pos2, b: Pos2| {
        let d = b - a;
        let len = d.length();
        if len > 1e-6 {
            Vec2::new(-d.y, d.x) / len
        } else {
            Vec2::ZERO
        }
    };
    let base = mesh.vertices.len() as u32;
    for k in 0..n {
        let p = line[k];
        let before = unit_normal(line[(k + n - 1) % n], p);
        let after = unit_normal(p, line[(k + 1) % n]);
        let sum = before + after;
        let len = sum.length();
        let offset = if len > 1e-6 {
            let m = sum / len;
            let cos = m.dot(if after == Vec2::ZERO { before } else { after });
            m * (half / cos.max(0.5))
        } else {
            after * half
        };
        mesh.colored_vertex(p + offset, color);
        mesh.colored_vertex(p - offset, color);
    }
    for k in 0..n as u32 {
        let j = (k + 1) % n as u32;
        let (a, b, c, d) = (
            base + 2 * k,
            base + 2 * k + 1,
            base + 2 * j,
            base + 2 * j + 1,
        );
        mesh.add_triangle(a, b, c);
        mesh.add_triangle(b, d, c);
    }
}

/// Cluster cells: one square per class slot (classes on a 1x1 to 3x3 grid of slots, each
/// class in the same slot everywhere; with more classes the cell shows its most frequent
/// class), more opaque the more objects.
fn clusters(
    mesh: &mut Mesh,
    grid: &ClusterGrid,
    colors: &[Color32],
    to_screen: &dyn Fn(Point) -> Pos2,
) {
    let classes = grid.classes();
    let side = if classes <= 9 {
        (classes as f64).sqrt().ceil().max(1.0) as usize
    } else {
        1
    };
    // Tints per class for 1..=16 objects (more look like 16).
    let tints: Vec<[Color32; 16]> = (0..classes)
        .map(|k| {
            let c = colors.get(k).copied().unwrap_or(Color32::WHITE);
            std::array::from_fn(|n| tint(c, n as u32 + 1))
        })
        .collect();
    let tint_of = |class: usize, n: u32| {
        tints
            .get(class)
            .map_or(Color32::WHITE, |t| t[(n.clamp(1, 16) - 1) as usize])
    };
    for (b, counts) in grid.cells() {
        let cell = Rect::from_two_pos(to_screen([b[0], b[1]]), to_screen([b[2], b[3]]));
        if side == 1 {
            let total: u32 = counts.iter().sum();
            let top = counts
                .iter()
                .enumerate()
                .max_by_key(|(_, n)| **n)
                .map_or(0, |(k, _)| k);
            mesh.add_colored_rect(cell.shrink(cell.width() * 0.15), tint_of(top, total));
            continue;
        }
        let slot = cell.size() / side as f32;
        for (k, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let at = cell.min + Vec2::new((k % side) as f32 * slot.x, (k / side) as f32 * slot.y);
            // Gaps between the squares let the tissue show.
            let r = Rect::from_min_size(at, slot).shrink(slot.x * 0.15);
            mesh.add_colored_rect(r, tint_of(k, *n));
        }
    }
}

/// A class colour for `n` objects: from 40% opaque for one to 80% for 16 or more (the
/// tissue stays visible under a crowd).
fn tint(color: Color32, n: u32) -> Color32 {
    let f = ((1.0 + n as f32).log2() / 17f32.log2()).min(1.0);
    let alpha = (0.3 + 0.5 * f) * 255.0;
    Color32::from_rgba_unmultiplied(color.r(), color.g(), color.b(), alpha as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_a_closed_strip_and_degenerate_lines_do_not_break_it() {
        let mut mesh = Mesh::default();
        let square = [
            Pos2::new(0.0, 0.0),
            Pos2::new(10.0, 0.0),
            Pos2::new(10.0, 10.0),
            Pos2::new(0.0, 10.0),
        ];
        ring(&mut mesh, &square, 2.0, Color32::RED);
        assert_eq!(mesh.vertices.len(), 8);
        assert_eq!(mesh.indices.len(), 4 * 6);
        assert!(mesh.is_valid());
        // Corners are mitred: the outer vertex of (0, 0) sits at (-1, -1).
        assert!(
            mesh.vertices
                .iter()
                .any(|v| v.pos.distance(Pos2::new(-1.0, -1.0)) < 1e-4),
            "{:?}",
            mesh.vertices
        );
        let mut mesh = Mesh::default();
        ring(
            &mut mesh,
            &[Pos2::new(1.0, 1.0), Pos2::new(1.0, 1.0)],
            2.0,
            Color32::RED,
        );
        assert!(mesh.is_valid());
        assert!(
            mesh.vertices
                .iter()
                .all(|v| v.pos.x.is_finite() && v.pos.y.is_finite())
        );
        ring(&mut mesh, &[Pos2::new(1.0, 1.0)], 2.0, Color32::RED);
        assert!(mesh.is_valid());
    }

    #[test]
    fn more_objects_make_a_cluster_more_opaque() {
        let c = Color32::from_rgb(255, 0, 0);
        assert!(tint(c, 1).a() >= 100 && tint(c, 1).a() < tint(c, 4).a());
        assert_eq!(tint(c, 16).a(), 204);
        assert_eq!(tint(c, 1000).a(), 204);
    }
}
