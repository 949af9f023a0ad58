//! Annotations on whole-slide images, headless: measurements in µm from the slide's
//! microns per pixel, per-class cell counts, a uniform bucket grid over level-0 bounds
//! (only objects meeting the view are drawn) and the level-of-detail rules the slide
//! screen draws with.
//!
//! Points are level-0 pixel coordinates (`ImageRef::Slide`). Never imports egui.

use std::collections::BTreeMap;

use super::measure::{PixelSpacing, Point};
use super::shapes::{Measurement, region};
use crate::project::model::{Annotation, Kind};

/// Level-0 bounds `[x0, y0, x1, y1]`.
pub type Bounds = [f64; 4];

/// One stored slide annotation with what the screen and the list need.
#[derive(Clone, Debug, PartialEq)]
pub struct SlideObject {
    pub annotation: Annotation,
    pub bounds: Bounds,
    /// Area in µm² and perimeter in µm (area tools on a slide that says its MPP).
    pub area_um2: Option<f64>,
    pub perimeter_um: Option<f64>,
}

impl SlideObject {
    /// Measures `annotation` with `mpp` (µm per level-0 pixel, x and y).
    pub fn new(annotation: Annotation, mpp: Option<[f64; 2]>) -> SlideObject {
        let body = &annotation.body;
        let bounds = bounds_of(&body.points);
        let (area_um2, perimeter_um) = match mpp {
            Some(mpp) => area_um(body.kind, &body.points, mpp),
            None => (None, None),
        };
        SlideObject {
            annotation,
            bounds,
            area_um2,
            perimeter_um,
        }
    }

    /// The list's measurement column: "1234.5 µm² · 140.2 µm", or "" for points.
    pub fn measurement_text(&self) -> String {
        match (self.area_um2, self.perimeter_um) {
            (Some(a), Some(p)) => format!("{a:.1} µm² · {p:.1} µm"),
            _ => String::new(),
        }
    }
}

/// The bounds of some points (a point's are empty).
pub fn bounds_of(points: &[Point]) -> Bounds {
    points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        },
    )
}

/// Area (µm²) and perimeter (µm) of an area tool's shape, with `mpp` µm per pixel.
pub fn area_um(kind: Kind, points: &[Point], mpp: [f64; 2]) -> (Option<f64>, Option<f64>) {
    // PixelSpacing is in mm by name; fed µm per pixel, its numbers are µm and µm².
    let spacing = PixelSpacing {
        column_mm: mpp[0],
        row_mm: mpp[1],
    };
    if region(kind, points).is_none() {
        return (None, None);
    }
    match Measurement::of(kind, points, &spacing) {
        Measurement::Area { mm2, perimeter_mm } => (Some(mm2), Some(perimeter_mm)),
        _ => (None, None),
    }
}

/// A class's colour on the slide screen (sRGB): stable, from its name.
pub fn class_rgb(name: &str) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 8] = [
        [255, 214, 10],
        [0, 200, 255],
        [255, 90, 90],
        [120, 230, 120],
        [230, 120, 255],
        [255, 160, 60],
        [80, 140, 255],
        [240, 240, 240],
    ];
    let h = name.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    PALETTE[(h as usize) % PALETTE.len()]
}

/// Point annotations per class name (cell counting).
pub fn point_counts(objects: &[SlideObject]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for o in objects {
        if o.annotation.body.kind == Kind::Point {
            *counts
                .entry(o.annotation.body.label.name.clone())
                .or_insert(0) += 1;
        }
    }
    counts
}

/// A uniform bucket grid over level-0 bounds: each object is listed in every cell its
/// bounds meet; a query reports each object once (from the cell holding the corner
/// where the query and the object's bounds start to overlap). The cells' lists are one
/// array, cell after cell, holding each object's bounds beside its index, so a query
/// reads memory in order instead of jumping to every object it looks at.
#[derive(Clone, Debug, Default)]
pub struct GridIndex {
    cell: f64,
    cols: usize,
    rows: usize,
    /// Entries of cell `k` are `entries[starts[k]..starts[k + 1]]`.
    starts: Vec<usize>,
    entries: Vec<Entry>,
    bounds: Vec<Bounds>,
}

/// One listing of an object in a cell.
#[derive(Clone, Copy, Debug)]
struct Entry {
    bounds: Bounds,
    /// The cell of the object's top-left bounds corner (column, row).
    home: [u32; 2],
    index: u32,
}

impl GridIndex {
    /// Indexes `bounds` over a slide of `extent` level-0 pixels with square cells
    /// (about 64 x 64 cells, never under 64 px).
    pub fn build(bounds: Vec<Bounds>, extent: [f64; 2]) -> GridIndex {
        let cell = (extent[0].max(extent[1]) / 64.0).max(64.0);
        let cols = ((extent[0] / cell).ceil() as usize).max(1);
        let rows = ((extent[1] / cell).ceil() as usize).max(1);
        let mut index = GridIndex {
            cell,
            cols,
            rows,
            starts: Vec::new(),
            entries: Vec::new(),
            bounds: Vec::new(),
        };
        // Cells each object spans (an empty range for objects without points).
        let span = |b: &Bounds| {
            let (c0, r0) = index.cell_of(b[0], b[1]);
            let (c1, r1) = index.cell_of(b[2], b[3]);
            [c0, r0, c1, r1]
        };
        let mut counts = vec![0usize; cols * rows + 1];
        for [c0, r0, c1, r1] in bounds.iter().map(span) {
            for r in r0..=r1 {
                for c in c0..=c1 {
                    counts[r * cols + c + 1] += 1;
                }
            }
        }
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        let mut next = counts.clone();
        let placeholder = Entry {
            bounds: [0.0; 4],
            home: [0, 0],
            index: 0,
        };
        let mut entries = vec![placeholder; counts[cols * rows]];
        for (i, b) in bounds.iter().enumerate() {
            let [c0, r0, c1, r1] = span(b);
            for r in r0..=r1 {
                for c in c0..=c1 {
                    let slot = &mut next[r * cols + c];
                    entries[*slot] = Entry {
                        bounds: *b,
                        home: [c0 as u32, r0 as u32],
                        index: i as u32,
                    };
                    *slot += 1;
                }
            }
        }
        index.starts = counts;
        index.entries = entries;
        index.bounds = bounds;
        index
    }

    /// The side of a cell in level-0 pixels (0 for an empty index).
    pub fn cell(&self) -> f64 {
        self.cell
    }

    /// The bounds of object `i`.
    pub fn bounds(&self, i: u32) -> Option<Bounds> {
        self.bounds.get(i as usize).copied()
    }

    /// Objects indexed.
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// A number ordering bounds by the cell of their top-left corner, row by row.
    pub fn cell_key(&self, bounds: Bounds) -> usize {
        let (c, r) = self.cell_of(bounds[0], bounds[1]);
        r * self.cols + c
    }

    /// The cell holding a level-0 position (clamped to the grid).
    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let c = (x / self.cell).floor().clamp(0.0, (self.cols - 1) as f64) as usize;
        let r = (y / self.cell).floor().clamp(0.0, (self.rows - 1) as f64) as usize;
        (c, r)
    }

    /// Appends to `out` the objects whose bounds meet `rect`, each once.
    pub fn query(&self, rect: Bounds, out: &mut Vec<u32>) {
        self.visit(rect, |_, i, _| out.push(i));
    }

    /// Calls `f(listed, i, bounds)` for each object whose bounds meet `rect`, once each,
    /// where `listed` is how many objects the reporting cell lists (its crowding).
    pub fn visit(&self, rect: Bounds, mut f: impl FnMut(usize, u32, &Bounds)) {
        // False for NaN too.
        let ordered = rect[0] <= rect[2] && rect[1] <= rect[3];
        if self.starts.len() < 2 || !ordered {
            return;
        }
        let (c0, r0) = self.cell_of(rect[0], rect[1]);
        let (c1, r1) = self.cell_of(rect[2], rect[3]);
        for r in r0..=r1 {
            for c in c0..=c1 {
                let k = r * self.cols + c;
                let listed = &self.entries[self.starts[k]..self.starts[k + 1]];
                for e in listed {
                    let b = &e.bounds;
                    if b[2] < rect[0] || b[0] > rect[2] || b[3] < rect[1] || b[1] > rect[3] {
                        continue;
                    }
                    // Reported from the cell of max(bounds corner, query corner).
                    let x = if b[0] >= rect[0] {
                        e.home[0] as usize
                    } else {
                        c0
                    };
                    let y = if b[1] >= rect[1] {
                        e.home[1] as usize
                    } else {
                        r0
                    };
                    if (x, y) == (c, r) {
                        f(listed.len(), e.index, b);
                    }
                }
            }
        }
    }
}

/// Whether an object with these bounds is under `min_px` screen pixels at `zoom`
/// (screen pixels per level-0 pixel): drawn as a dot.
pub fn is_tiny(bounds: Bounds, zoom: f64, min_px: f64) -> bool {
    (bounds[2] - bounds[0]).max(bounds[3] - bounds[1]) * zoom < min_px
}

/// The vertices worth drawing: those at least `min_dist` from the last one kept (the
/// first always; the last kept too when it moved away), into `out`.
pub fn simplify_into(points: &[Point], min_dist: f64, out: &mut Vec<Point>) {
    out.clear();
    let d2 = min_dist * min_dist;
    for p in points {
        match out.last() {
            Some(q) if (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) < d2 => {}
            _ => out.push(*p),
        }
    }
}

/// As [`simplify_into`], returning a new list.
pub fn simplify(points: &[Point], min_dist: f64) -> Vec<Point> {
    let mut out = Vec::with_capacity(points.len());
    simplify_into(points, min_dist, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::project::Id;
    use crate::project::model::{AnnotationBody, ImageRef, Label};

    fn annotation(kind: Kind, points: Vec<Point>, class: &str) -> Annotation {
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
        }
    }

    #[test]
    fn slide_grid_query_finds_exactly_the_overlapping_objects_once() {
        // A pseudo-random mix of points and boxes, some spanning many cells.
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        let extent = [10_000.0, 8_000.0];
        let bounds: Vec<Bounds> = (0..2000)
            .map(|i| {
                let x = next() * extent[0];
                let y = next() * extent[1];
                let (w, h) = if i % 3 == 0 {
                    (0.0, 0.0)
                } else {
                    (next() * 900.0, next() * 300.0)
                };
                [x, y, x + w, y + h]
            })
            .collect();
        let index = GridIndex::build(bounds.clone(), extent);
        assert_eq!(index.len(), 2000);
        for q in [
            [0.0, 0.0, 10_000.0, 8_000.0],
            [1234.0, 2000.0, 1800.0, 2600.0],
            [-500.0, -500.0, 100.0, 100.0],
            [9_900.0, 7_900.0, 20_000.0, 20_000.0],
            [5000.0, 5000.0, 5000.0, 5000.0],
        ] {
            let mut got = Vec::new();
            index.query(q, &mut got);
            got.sort_unstable();
            let want: Vec<u32> = bounds
                .iter()
                .enumerate()
                .filter(|(_, b)| !(b[2] < q[0] || b[0] > q[2] || b[3] < q[1] || b[1] > q[3]))
                .map(|(i, _)| i as u32)
                .collect();
            assert_eq!(got, want, "query {q:?}");
        }
        let mut none = Vec::new();
        GridIndex::default().query([0.0, 0.0, 1.0, 1.0], &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn slide_lod_simplify_skips_close_vertices_and_tiny_objects_become_dots() {
        let line: Vec<Point> = (0..100).map(|i| [f64::from(i) * 0.1, 0.0]).collect();
        let s = simplify(&line, 1.0);
        assert_eq!(s.len(), 10, "{s:?}");
        assert!(s.windows(2).all(|w| w[1][0] - w[0][0] >= 1.0 - 1e-9));
        assert_eq!(simplify(&line, 0.0).len(), 100);
        let square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert_eq!(simplify(&square, 1.0).len(), 4);
        assert!(is_tiny([0.0, 0.0, 10.0, 10.0], 0.1, 2.0));
        assert!(!is_tiny([0.0, 0.0, 10.0, 10.0], 1.0, 2.0));
    }

    #[test]
    fn slide_measurements_in_micrometres_and_point_counts_per_class() {
        let rect = SlideObject::new(
            annotation(
                Kind::Rectangle,
                vec![[100.0, 100.0], [500.0, 300.0]],
                "Tumour",
            ),
            Some([0.25, 0.25]),
        );
        // 400 x 200 px at 0.25 µm/px: 100 x 50 µm.
        assert!((rect.area_um2.unwrap() - 5000.0).abs() < 1e-6);
        assert!((rect.perimeter_um.unwrap() - 300.0).abs() < 1e-6);
        assert_eq!(rect.bounds, [100.0, 100.0, 500.0, 300.0]);
        assert!(rect.measurement_text().contains("µm²"));
        let ellipse = SlideObject::new(
            annotation(Kind::Ellipse, vec![[0.0, 0.0], [400.0, 200.0]], "Tumour"),
            Some([0.5, 0.5]),
        );
        let want = std::f64::consts::PI * 100.0 * 50.0;
        assert!((ellipse.area_um2.unwrap() - want).abs() / want < 0.01);
        let objects = vec![
            rect,
            SlideObject::new(annotation(Kind::Point, vec![[1.0, 1.0]], "Mitosis"), None),
            SlideObject::new(annotation(Kind::Point, vec![[2.0, 1.0]], "Mitosis"), None),
            SlideObject::new(
                annotation(Kind::Point, vec![[3.0, 1.0]], "Lymphocyte"),
                None,
            ),
        ];
        assert!(objects[1].area_um2.is_none());
        let counts = point_counts(&objects);
        assert_eq!(counts.get("Mitosis"), Some(&2));
        assert_eq!(counts.get("Lymphocyte"), Some(&1));
        assert_eq!(counts.len(), 2);
    }
}
