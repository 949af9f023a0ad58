//! Level of detail for slide annotations, headless: which objects a view draws one by
//! one and which it merges into per-cell, per-class counts (where they crowd on screen),
//! outlines simplified for the zoom (Douglas–Peucker, precomputed for long outlines),
//! and hit-testing that works at every zoom because it asks the index, not the drawing.
//!
//! Owns [`LodIndex`] (the bucket grid plus what the drawing needs per object: class,
//! centre, size) and [`Plan`] (one view's singles and cluster counts). Counts are exact:
//! every object meeting a view is either a single or counted once in one cluster cell.
//! Level-0 pixel coordinates throughout; never imports egui.

use std::collections::HashMap;

use super::measure::Point;
use super::shapes;
use super::slide_objects::{Bounds, GridIndex, SlideObject};
use crate::project::model::Kind;

/// A bucket is crowded when it lists more than one object per this many screen px².
pub const CROWDED_PX2_PER_OBJECT: f64 = 64.0;
/// Objects at least this many screen pixels across are always drawn themselves.
pub const MERGE_BELOW_PX: f64 = 12.0;
/// Cluster cells are at least this many screen pixels on a side.
pub const CLUSTER_CELL_PX: f64 = 12.0;
/// Counters (cells x classes) one cluster grid may hold; coarser cells beyond.
const MAX_CLUSTER_COUNTERS: usize = 1 << 22;
/// Outlines with more vertices than this get precomputed simplifications.
pub const LONG_OUTLINE: usize = 64;

/// The slide's objects as the drawing sees them, in *slots*: the objects reordered cell
/// by cell of the grid (so that neighbours on the slide are neighbours in memory), each
/// with its class, kind and outline copied compactly. Plans and the grid speak slots;
/// [`LodIndex::object`] maps a slot back to its index in the objects given to `build`.
#[derive(Clone, Debug, Default)]
pub struct LodIndex {
    grid: GridIndex,
    /// Slot -> index in the objects.
    object: Vec<u32>,
    class: Vec<u16>,
    kind: Vec<Kind>,
    /// Points of slot `s` are `points[starts[s]..starts[s + 1]]`, relative to the top-left
    /// corner of its bounds (f32 is exact to far below a pixel there).
    starts: Vec<usize>,
    points: Vec<[f32; 2]>,
    /// Class names, sorted; `class` indexes them.
    classes: Vec<String>,
    /// Precomputed simplifications of long outlines, by slot.
    outlines: HashMap<u32, OutlineLod>,
}

/// What the drawing needs of one slot.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    pub kind: Kind,
    pub class: usize,
    pub bounds: Bounds,
    /// The outline relative to `bounds`' top-left corner.
    pub points: &'a [[f32; 2]],
}

impl LodIndex {
    /// Indexes `objects` over a slide of `extent` level-0 pixels.
    pub fn build(objects: &[SlideObject], extent: [f64; 2]) -> LodIndex {
        // First in the objects' own order (reading each object once, in memory order),
        // then permuted into slots (reading the compact copies).
        let mut by_name: HashMap<&str, u16> = HashMap::new();
        let mut class_by_object = Vec::with_capacity(objects.len());
        let mut kind_by_object = Vec::with_capacity(objects.len());
        let mut bounds_by_object = Vec::with_capacity(objects.len());
        let mut starts_by_object = Vec::with_capacity(objects.len() + 1);
        let mut points_by_object: Vec<[f32; 2]> = Vec::new();
        starts_by_object.push(0);
        for o in objects {
            let body = &o.annotation.body;
            // More than 65,536 classes share the last index (their colour), nothing else.
            let next = by_name.len().min(usize::from(u16::MAX)) as u16;
            class_by_object.push(*by_name.entry(body.label.name.as_str()).or_insert(next));
            kind_by_object.push(body.kind);
            bounds_by_object.push(o.bounds);
            let [x0, y0, ..] = o.bounds;
            points_by_object.extend(
                body.points
                    .iter()
                    .map(|p| [(p[0] - x0) as f32, (p[1] - y0) as f32]),
            );
            starts_by_object.push(points_by_object.len());
        }
        // Class indices follow the sorted names.
        let mut names: Vec<(&str, u16)> = by_name.into_iter().collect();
        names.sort_unstable();
        let mut renumber = vec![0u16; names.len()];
        for (sorted, (_, first_seen)) in names.iter().enumerate() {
            renumber[usize::from(*first_seen)] = sorted.min(usize::from(u16::MAX)) as u16;
        }
        let classes: Vec<String> = names.iter().map(|(n, _)| (*n).to_owned()).collect();
        // Slots: objects in the order of the grid cell of their top-left corner.
        let layout = GridIndex::build(Vec::new(), extent);
        let mut keyed: Vec<(usize, u32)> = bounds_by_object
            .iter()
            .enumerate()
            .map(|(i, b)| (layout.cell_key(*b), i as u32))
            .collect();
        keyed.sort_unstable();
        let object: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
        let mut class = Vec::with_capacity(objects.len());
        let mut kind = Vec::with_capacity(objects.len());
        let mut starts = Vec::with_capacity(objects.len() + 1);
        let mut points = Vec::with_capacity(points_by_object.len());
        let mut bounds = Vec::with_capacity(objects.len());
        let mut outlines = HashMap::new();
        starts.push(0);
        for (slot, &i) in object.iter().enumerate() {
            let i = i as usize;
            class.push(
                renumber
                    .get(usize::from(class_by_object[i]))
                    .copied()
                    .unwrap_or(0),
            );
            kind.push(kind_by_object[i]);
            let (from, to) = (starts_by_object[i], starts_by_object[i + 1]);
            points.extend_from_slice(&points_by_object[from..to]);
            starts.push(points.len());
            bounds.push(bounds_by_object[i]);
            if matches!(kind_by_object[i], Kind::Polygon | Kind::Freehand)
                && to - from > LONG_OUTLINE
                && let Some(lod) = OutlineLod::build(&objects[i].annotation.body.points)
            {
                outlines.insert(slot as u32, lod);
            }
        }
        LodIndex {
            grid: GridIndex::build(bounds, extent),
            object,
            class,
            kind,
            starts,
            points,
            classes,
            outlines,
        }
    }

    /// The grid over the slots.
    pub fn grid(&self) -> &GridIndex {
        &self.grid
    }

    /// Class names, sorted (what [`Item::class`] and cluster counts index).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The index (in the objects given to `build`) of the object in `slot`.
    pub fn object(&self, slot: u32) -> Option<usize> {
        self.object.get(slot as usize).map(|i| *i as usize)
    }

    /// The class index of the object in `slot`.
    pub fn class_of(&self, slot: u32) -> usize {
        self.class.get(slot as usize).map_or(0, |c| usize::from(*c))
    }

    /// What the drawing needs of `slot`.
    pub fn item(&self, slot: u32) -> Option<Item<'_>> {
        let s = slot as usize;
        let range = *self.starts.get(s)?..*self.starts.get(s + 1)?;
        Some(Item {
            kind: *self.kind.get(s)?,
            class: usize::from(*self.class.get(s)?),
            bounds: self.grid.bounds(slot)?,
            points: self.points.get(range)?,
        })
    }

    /// A precomputed simplification of `slot`'s outline within half a screen pixel at
    /// `zoom` (screen px per level-0 px), in level-0 px; `None`: draw it as it is.
    pub fn simplified(&self, slot: u32, zoom: f64) -> Option<&[Point]> {
        self.outlines.get(&slot)?.within(0.5 / zoom)
    }

    /// Splits the objects meeting `rect` at `zoom` into singles and cluster counts: in a
    /// crowded bucket, objects under [`MERGE_BELOW_PX`] are counted in the cluster cell
    /// of their centre; everything else is a single.
    pub fn plan(&self, rect: Bounds, zoom: f64, plan: &mut Plan) {
        plan.singles.clear();
        let valid = zoom.is_finite() && zoom > 0.0;
        let cell = cluster_cell(self.grid.cell(), zoom);
        plan.clusters.reset(rect, cell, self.classes.len().max(1));
        let bucket_px2 = (self.grid.cell() * zoom).powi(2);
        let merge_below = if valid { MERGE_BELOW_PX / zoom } else { 0.0 };
        let Plan { singles, clusters } = plan;
        self.grid.visit(rect, |listed, i, b| {
            let crowded = listed as f64 * CROWDED_PX2_PER_OBJECT > bucket_px2;
            if crowded
                && (b[2] - b[0]).max(b[3] - b[1]) < merge_below
                && let Some(class) = self.class.get(i as usize)
                && clusters.add(
                    [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0],
                    usize::from(*class),
                )
            {
                return;
            }
            singles.push(i);
        });
    }

    /// The object under `p` within `tolerance` level-0 px (its index in `objects`, which
    /// must be what the index was built from): a point or an outline nearest first, else
    /// the smallest area containing `p`. Works from the index at any zoom.
    pub fn hit_test(&self, objects: &[SlideObject], p: Point, tolerance: f64) -> Option<usize> {
        let t = tolerance.max(0.0);
        // (inside an area, distance, area): smaller is better.
        let mut best: Option<(bool, f64, f64, usize)> = None;
        self.grid
            .visit([p[0] - t, p[1] - t, p[0] + t, p[1] + t], |_, slot, _| {
                let Some(i) = self.object(slot) else {
                    return;
                };
                let Some(o) = objects.get(i) else {
                    return;
                };
                let body = &o.annotation.body;
                let d = shapes::distance_to(body.kind, &body.points, p);
                if d.is_nan() || d > t {
                    return;
                }
                // Inside an area (d = 0, not a point) ranks after anything near.
                let inside = d == 0.0 && body.kind != Kind::Point;
                let area = if inside {
                    (o.bounds[2] - o.bounds[0]) * (o.bounds[3] - o.bounds[1])
                } else {
                    0.0
                };
                let better = best.is_none_or(|(b_inside, b_d, b_area, _)| {
                    (inside, d.total_cmp(&b_d), area.total_cmp(&b_area))
                        < (
                            b_inside,
                            std::cmp::Ordering::Equal,
                            std::cmp::Ordering::Equal,
                        )
                });
                if better {
                    best = Some((inside, d, area, i));
                }
            });
        best.map(|(.., i)| i)
    }
}

/// One view's drawing plan.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Objects drawn one by one.
    pub singles: Vec<u32>,
    /// Per cell and class, the objects merged.
    pub clusters: ClusterGrid,
}

/// The cluster cell side (level-0 px) at `zoom`: the grid's cell times a power of two,
/// the smallest that is at least [`CLUSTER_CELL_PX`] on screen (so cells nest in buckets).
pub fn cluster_cell(grid_cell: f64, zoom: f64) -> f64 {
    if !(grid_cell > 0.0 && zoom > 0.0 && zoom.is_finite() && grid_cell.is_finite()) {
        return grid_cell.max(1.0);
    }
    let want = CLUSTER_CELL_PX / zoom;
    let k = (want / grid_cell).log2().ceil().clamp(-30.0, 30.0) as i32;
    grid_cell * 2f64.powi(k)
}

/// Per-class counts in square cells aligned to multiples of the cell side.
#[derive(Clone, Debug, Default)]
pub struct ClusterGrid {
    origin: Point,
    cell: f64,
    cols: usize,
    rows: usize,
    classes: usize,
    counts: Vec<u32>,
    merged: usize,
}

impl ClusterGrid {
    /// Empties the grid and lays it over `rect` with `cell`-sized cells (coarser when the
    /// counters would exceed the bound).
    pub fn reset(&mut self, rect: Bounds, cell: f64, classes: usize) {
        self.counts.clear();
        self.merged = 0;
        self.classes = classes.max(1);
        let (w, h) = (rect[2] - rect[0], rect[3] - rect[1]);
        if !(cell > 0.0 && w >= 0.0 && h >= 0.0 && w.is_finite() && h.is_finite()) {
            (self.cols, self.rows) = (0, 0);
            return;
        }
        let mut cell = cell;
        loop {
            let origin = [
                (rect[0] / cell).floor() * cell,
                (rect[1] / cell).floor() * cell,
            ];
            let cols = ((rect[2] - origin[0]) / cell).floor() as usize + 1;
            let rows = ((rect[3] - origin[1]) / cell).floor() as usize + 1;
            let fits = cols
                .checked_mul(rows)
                .and_then(|n| n.checked_mul(self.classes))
                .is_some_and(|n| n <= MAX_CLUSTER_COUNTERS);
            if fits {
                (self.origin, self.cell, self.cols, self.rows) = (origin, cell, cols, rows);
                self.counts.resize(cols * rows * self.classes, 0);
                return;
            }
            cell *= 2.0;
        }
    }

    /// Counts an object of `class` at `p`: false when `p` is outside the grid.
    pub fn add(&mut self, p: Point, class: usize) -> bool {
        let Some(cell) = self.cell_index(p) else {
            return false;
        };
        let Some(n) = self
            .counts
            .get_mut(cell * self.classes + class.min(self.classes - 1))
        else {
            return false;
        };
        *n += 1;
        self.merged += 1;
        true
    }

    fn cell_index(&self, p: Point) -> Option<usize> {
        let x = (p[0] - self.origin[0]) / self.cell;
        let y = (p[1] - self.origin[1]) / self.cell;
        // Truncation is the floor here (non-negative), without a libm call per object.
        let inside = x >= 0.0 && y >= 0.0 && x < self.cols as f64 && y < self.rows as f64;
        inside.then(|| y as usize * self.cols + x as usize)
    }

    fn cell_bounds(&self, index: usize) -> Bounds {
        let (c, r) = (index % self.cols.max(1), index / self.cols.max(1));
        let x = self.origin[0] + c as f64 * self.cell;
        let y = self.origin[1] + r as f64 * self.cell;
        [x, y, x + self.cell, y + self.cell]
    }

    /// The cell side, level-0 px.
    pub fn cell(&self) -> f64 {
        self.cell
    }

    /// How many classes each cell counts.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Objects counted in all cells.
    pub fn merged(&self) -> usize {
        self.merged
    }

    /// The cell holding `p` with its per-class counts, when any object was counted there.
    pub fn at(&self, p: Point) -> Option<(Bounds, &[u32])> {
        let cell = self.cell_index(p)?;
        let counts = self
            .counts
            .get(cell * self.classes..(cell + 1) * self.classes)?;
        counts
            .iter()
            .any(|n| *n > 0)
            .then(|| (self.cell_bounds(cell), counts))
    }

    /// The cells where objects were counted, with their per-class counts.
    pub fn cells(&self) -> impl Iterator<Item = (Bounds, &[u32])> + '_ {
        self.counts
            .chunks_exact(self.classes)
            .enumerate()
            .filter(|(_, c)| c.iter().any(|n| *n > 0))
            .map(|(i, c)| (self.cell_bounds(i), c))
    }
}

/// Simplifications of one long closed outline at doubling tolerances.
#[derive(Clone, Debug, PartialEq)]
pub struct OutlineLod {
    /// (tolerance in level-0 px, outline), tolerance increasing, outlines shrinking.
    levels: Vec<(f64, Vec<Point>)>,
}

impl OutlineLod {
    /// Douglas–Peucker versions at 0.5, 1, 2, … level-0 px until one keeps 8 vertices or
    /// fewer; `None` for an outline too short to need them.
    pub fn build(points: &[Point]) -> Option<OutlineLod> {
        if points.len() <= LONG_OUTLINE {
            return None;
        }
        let mut levels: Vec<(f64, Vec<Point>)> = Vec::new();
        let mut tolerance = 0.5;
        for _ in 0..40 {
            let simplified = douglas_peucker_closed(points, tolerance);
            let n = simplified.len();
            if levels.last().is_none_or(|(_, l)| n < l.len()) {
                levels.push((tolerance, simplified));
            }
            if n <= 8 {
                break;
            }
            tolerance *= 2.0;
        }
        Some(OutlineLod { levels })
    }

    /// The coarsest version within `tolerance` level-0 px of the original, if any.
    pub fn within(&self, tolerance: f64) -> Option<&[Point]> {
        self.levels
            .iter()
            .rev()
            .find(|(t, _)| *t <= tolerance)
            .map(|(_, p)| p.as_slice())
    }
}

/// Douglas–Peucker on a closed outline: every dropped vertex is within `tolerance` of
/// the kept outline. Split at the first vertex and the one farthest from it; iterative
/// (no recursion depth to run out of on a long freehand outline).
pub fn douglas_peucker_closed(points: &[Point], tolerance: f64) -> Vec<Point> {
    if points.len() <= 3 {
        return points.to_vec();
    }
    let first = points[0];
    let far = (1..points.len())
        .max_by(|a, b| {
            let da = (points[*a][0] - first[0]).hypot(points[*a][1] - first[1]);
            let db = (points[*b][0] - first[0]).hypot(points[*b][1] - first[1]);
            da.total_cmp(&db)
        })
        .unwrap_or(1);
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[far] = true;
    // Chains (a, b) with a < b over the closed outline: first -> far -> back to first.
    let n = points.len();
    let mut stack = vec![(0usize, far), (far, n)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (pa, pb) = (points[a], points[b % n]);
        let mut worst = (0.0, a);
        for (k, p) in points.iter().enumerate().take(b).skip(a + 1) {
            let d = shapes::segment_distance(*p, pa, pb);
            if d > worst.0 {
                worst = (d, k);
            }
        }
        if worst.0 > tolerance {
            keep[worst.1] = true;
            stack.push((a, worst.1));
            stack.push((worst.1, b));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::project::Id;
    use crate::project::model::{Annotation, AnnotationBody, ImageRef, Label};

    fn object(kind: Kind, points: Vec<Point>, class: &str) -> SlideObject {
        SlideObject::new(
            Annotation {
                id: Id::random().unwrap(),
                body: AnnotationBody {
                    image: ImageRef::Slide {
                        slide_sha256: "ab".into(),
                    },
                    kind,
                    points,
                    label: Label {
                        name: class.into(),
                        scheme: None,
                        code: None,
                        meaning: None,
                    },
                    comment: None,
                },
            },
            None,
        )
    }

    /// Points and small squares spread over an 8192 x 6144 slide, four classes.
    fn crowd(n: usize) -> Vec<SlideObject> {
        let mut seed = 11u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        let classes = ["Tumour", "Lymphocyte", "Mitosis", "Stroma"];
        (0..n)
            .map(|i| {
                let (x, y) = (next() * 8192.0, next() * 6144.0);
                let class = classes[i % 4];
                if i % 2 == 0 {
                    object(Kind::Point, vec![[x, y]], class)
                } else {
                    let r = 2.0 + next() * 18.0;
                    object(
                        Kind::Polygon,
                        vec![
                            [x - r, y - r],
                            [x + r, y - r],
                            [x + r, y + r],
                            [x - r, y + r],
                        ],
                        class,
                    )
                }
            })
            .collect()
    }

    #[test]
    fn slide_lod_plan_counts_every_object_in_view_exactly_once() {
        let objects = crowd(60_000);
        let index = LodIndex::build(&objects, [8192.0, 6144.0]);
        assert_eq!(index.classes().len(), 4);
        let mut plan = Plan::default();
        // Zoomed out (whole slide about 1400 px wide): crowded, nearly all merged.
        for (rect, zoom) in [
            ([0.0, 0.0, 8192.0, 6144.0], 0.17),
            ([1000.0, 1000.0, 5000.0, 3500.0], 0.4),
            ([2000.0, 2000.0, 3900.0, 3000.0], 1.0),
            ([-100.0, -100.0, 50.0, 50.0], 0.05),
        ] {
            index.plan(rect, zoom, &mut plan);
            let mut want = Vec::new();
            index.grid().query(rect, &mut want);
            assert_eq!(
                plan.singles.len() + plan.clusters.merged(),
                want.len(),
                "{rect:?}"
            );
            // Per class, singles plus cluster counts equal the objects in view.
            for class in 0..4 {
                let in_view = want.iter().filter(|i| index.class_of(**i) == class).count();
                let singles = plan
                    .singles
                    .iter()
                    .filter(|i| index.class_of(**i) == class)
                    .count();
                let merged: u32 = plan.clusters.cells().map(|(_, c)| c[class]).sum();
                assert_eq!(singles + merged as usize, in_view, "{rect:?} class {class}");
            }
            let singles: std::collections::HashSet<u32> = plan.singles.iter().copied().collect();
            assert_eq!(singles.len(), plan.singles.len(), "a single twice");
        }
        index.plan([0.0, 0.0, 8192.0, 6144.0], 0.17, &mut plan);
        assert!(
            plan.clusters.merged() > 57_000,
            "{}",
            plan.clusters.merged()
        );
        // Cells are at least CLUSTER_CELL_PX on screen and nest in the buckets.
        let cell = plan.clusters.cell();
        assert!(cell * 0.17 >= CLUSTER_CELL_PX);
        let ratio = cell / index.grid().cell();
        assert!((ratio.log2() - ratio.log2().round()).abs() < 1e-9);
        // Zoomed in: nothing crowds, everything is a single.
        index.plan([2000.0, 2000.0, 3900.0, 3000.0], 1.0, &mut plan);
        assert_eq!(plan.clusters.merged(), 0);
        // A cluster cell answers with its counts; an empty spot with nothing.
        index.plan([0.0, 0.0, 8192.0, 6144.0], 0.17, &mut plan);
        let (bounds, counts) = plan.clusters.cells().next().unwrap();
        let middle = [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0];
        let (at, at_counts) = plan.clusters.at(middle).unwrap();
        assert_eq!((at, at_counts), (bounds, counts));
        assert!(plan.clusters.at([-5000.0, -5000.0]).is_none());
        // Nonsense views plan nothing and do not panic.
        for (rect, zoom) in [
            ([f64::NAN, 0.0, 1.0, 1.0], 1.0),
            ([10.0, 10.0, 0.0, 0.0], 1.0),
            ([0.0, 0.0, 8192.0, 6144.0], 0.0),
            ([0.0, 0.0, 8192.0, 6144.0], f64::INFINITY),
        ] {
            index.plan(rect, zoom, &mut plan);
            assert!(plan.singles.len() + plan.clusters.merged() <= objects.len());
        }
    }

    #[test]
    fn slide_lod_large_objects_stay_single_among_crowds() {
        let mut objects = crowd(5000);
        objects.push(object(
            Kind::Rectangle,
            vec![[3000.0, 3000.0], [3600.0, 3400.0]],
            "Tumour",
        ));
        let big = objects.len() - 1;
        let index = LodIndex::build(&objects, [8192.0, 6144.0]);
        let mut plan = Plan::default();
        // 600 px at 0.05 is 30 screen px: drawn itself though its bucket is crowded.
        index.plan([0.0, 0.0, 8192.0, 6144.0], 0.05, &mut plan);
        assert!(plan.singles.iter().any(|s| index.object(*s) == Some(big)));
        assert!(plan.clusters.merged() > 4000);
    }

    #[test]
    fn slide_lod_hit_test_finds_points_outlines_and_the_smallest_area() {
        let objects = vec![
            object(
                Kind::Polygon,
                vec![[0.0, 0.0], [1000.0, 0.0], [1000.0, 1000.0], [0.0, 1000.0]],
                "Region",
            ),
            object(
                Kind::Rectangle,
                vec![[400.0, 400.0], [500.0, 500.0]],
                "Tumour",
            ),
            object(Kind::Point, vec![[450.0, 420.0]], "Mitosis"),
            object(
                Kind::Ellipse,
                vec![[2000.0, 2000.0], [2100.0, 2050.0]],
                "Tumour",
            ),
        ];
        let index = LodIndex::build(&objects, [4000.0, 4000.0]);
        // Inside both areas: the smaller one.
        assert_eq!(index.hit_test(&objects, [480.0, 480.0], 2.0), Some(1));
        // Near the point (inside both areas too): the point.
        assert_eq!(index.hit_test(&objects, [451.0, 421.0], 3.0), Some(2));
        // Only the big region.
        assert_eq!(index.hit_test(&objects, [100.0, 900.0], 2.0), Some(0));
        // Near the ellipse's edge from outside, within tolerance; far away, nothing.
        assert_eq!(index.hit_test(&objects, [2050.0, 1996.0], 5.0), Some(3));
        assert_eq!(index.hit_test(&objects, [2050.0, 1990.0], 5.0), None);
        assert_eq!(index.hit_test(&objects, [3000.0, 3000.0], 50.0), None);
        // Zoomed far out, the tolerance grows with it and still finds the nearest.
        assert_eq!(index.hit_test(&objects, [455.0, 425.0], 60.0), Some(2));
        assert_eq!(index.hit_test(&objects, [f64::NAN, 1.0], 5.0), None);
    }

    #[test]
    fn slide_lod_douglas_peucker_keeps_the_shape_within_tolerance() {
        // A circle of 2,000 vertices, radius 500.
        let circle: Vec<Point> = (0..2000)
            .map(|k| {
                let a = f64::from(k) / 2000.0 * std::f64::consts::TAU;
                [1000.0 + 500.0 * a.cos(), 1000.0 + 500.0 * a.sin()]
            })
            .collect();
        let lod = OutlineLod::build(&circle).unwrap();
        let mut last = usize::MAX;
        for tolerance in [0.5, 1.0, 4.0, 16.0, 64.0] {
            let s = lod.within(tolerance).unwrap();
            assert!(s.len() <= last && s.len() >= 3, "{tolerance}: {}", s.len());
            last = s.len();
            // Every original vertex is within the tolerance of the simplified outline.
            let worst = circle
                .iter()
                .map(|p| {
                    (0..s.len())
                        .map(|k| shapes::segment_distance(*p, s[k], s[(k + 1) % s.len()]))
                        .fold(f64::INFINITY, f64::min)
                })
                .fold(0.0, f64::max);
            assert!(worst <= tolerance + 1e-9, "{tolerance}: {worst}");
        }
        assert!(lod.within(1.0).unwrap().len() < 200);
        assert!(
            lod.within(0.1).is_none(),
            "finer than any level: the original"
        );
        assert!(OutlineLod::build(&circle[..40]).is_none());
        assert_eq!(douglas_peucker_closed(&circle[..3], 10.0).len(), 3);
        // The index hands out the simplified outline for long polygons only.
        let objects = vec![
            object(Kind::Freehand, circle.clone(), "Region"),
            object(Kind::Freehand, circle[..40].to_vec(), "Region"),
        ];
        let index = LodIndex::build(&objects, [4000.0, 4000.0]);
        let slot = |i: usize| (0..2).find(|s| index.object(*s) == Some(i)).unwrap();
        assert!(index.simplified(slot(0), 0.01).unwrap().len() < 50);
        assert!(index.simplified(slot(0), 100.0).is_none());
        assert!(index.simplified(slot(1), 0.01).is_none());
    }
}
