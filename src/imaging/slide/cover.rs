//! Tile cover: pure math from a view of the slide to the tiles to fetch and draw.
//!
//! Owns the level choice (the coarsest level that is not magnified, so a finer level is
//! only ever minified), the tile lists by priority (visible, next zoom level,
//! neighbours) and the draw order with stand-ins for tiles still loading (finer tiles
//! minified first, else coarser tiles magnified, never a black hole where any level
//! has pixels). Coordinates: `p_level0` is a level-0 pixel position; a [`View`] maps it
//! to screen pixels. No I/O, no state.

use super::{Level, TileKey};

/// What part of the slide is on screen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// The level-0 position at the centre of the screen area.
    pub center_level0: [f64; 2],
    /// Screen pixels per level-0 pixel.
    pub zoom: f64,
    /// Size of the screen area in pixels.
    pub screen_px: [f64; 2],
}

/// An axis-aligned rectangle `[x0, y0, x1, y1]` (x1, y1 exclusive).
pub type Rect = [f64; 4];

impl View {
    /// The level-0 rectangle on screen.
    pub fn rect_level0(&self) -> Rect {
        let half_w = self.screen_px[0] / self.zoom / 2.0;
        let half_h = self.screen_px[1] / self.zoom / 2.0;
        let [cx, cy] = self.center_level0;
        [cx - half_w, cy - half_h, cx + half_w, cy + half_h]
    }

    /// Screen position (relative to the screen area's top-left) of a level-0 point.
    pub fn screen_from_level0(&self, p_level0: [f64; 2]) -> [f64; 2] {
        [
            (p_level0[0] - self.center_level0[0]) * self.zoom + self.screen_px[0] / 2.0,
            (p_level0[1] - self.center_level0[1]) * self.zoom + self.screen_px[1] / 2.0,
        ]
    }

    /// Level-0 position under a screen position.
    pub fn level0_from_screen(&self, p_screen: [f64; 2]) -> [f64; 2] {
        [
            (p_screen[0] - self.screen_px[0] / 2.0) / self.zoom + self.center_level0[0],
            (p_screen[1] - self.screen_px[1] / 2.0) / self.zoom + self.center_level0[1],
        ]
    }

    /// Zoom by `factor` keeping the level-0 point under `p_screen` where it is; the new
    /// zoom is clamped to `[min_zoom, max_zoom]`.
    pub fn zoomed_about(
        &self,
        p_screen: [f64; 2],
        factor: f64,
        min_zoom: f64,
        max_zoom: f64,
    ) -> View {
        let anchor = self.level0_from_screen(p_screen);
        let zoom = (self.zoom * factor).clamp(min_zoom, max_zoom);
        let offset = [
            (p_screen[0] - self.screen_px[0] / 2.0) / zoom,
            (p_screen[1] - self.screen_px[1] / 2.0) / zoom,
        ];
        View {
            center_level0: [anchor[0] - offset[0], anchor[1] - offset[1]],
            zoom,
            ..*self
        }
    }

    /// The view that shows the whole level-0 image (`width` x `height`) centred.
    pub fn fit(width: f64, height: f64, screen_px: [f64; 2]) -> View {
        let zoom = (screen_px[0] / width.max(1.0)).min(screen_px[1] / height.max(1.0));
        View {
            center_level0: [width / 2.0, height / 2.0],
            zoom: if zoom.is_finite() && zoom > 0.0 {
                zoom
            } else {
                1.0
            },
            screen_px,
        }
    }
}

/// The level drawn at `zoom` (screen px per level-0 px): the coarsest level whose pixels
/// are not magnified (downsample ≤ 1 / zoom); level 0 when zoomed in beyond it.
pub fn choose_level(levels: &[Level], zoom: f64) -> u32 {
    let display_downsample = 1.0 / zoom;
    let mut best = 0usize;
    for (k, level) in levels.iter().enumerate() {
        if level.downsample <= display_downsample * (1.0 + 1e-9)
            && level.downsample > levels[best].downsample
        {
            best = k;
        }
    }
    best as u32
}

/// The level-0 rectangle tile `key` covers (cropped at the level's edges).
pub fn tile_rect_level0(levels: &[Level], key: TileKey) -> Option<Rect> {
    let level = levels.get(key.level as usize)?;
    let tw = f64::from(level.tile_width);
    let th = f64::from(level.tile_height);
    let x = f64::from(key.col) * tw;
    let y = f64::from(key.row) * th;
    let w = level.width as f64;
    let h = level.height as f64;
    if x >= w || y >= h {
        return None;
    }
    let ds = level.downsample;
    Some([x * ds, y * ds, (x + tw).min(w) * ds, (y + th).min(h) * ds])
}

/// Tiles of `level` that intersect `rect_level0`, nearest the rectangle's centre first.
pub fn tiles_in(levels: &[Level], level: u32, rect_level0: Rect) -> Vec<TileKey> {
    let Some(l) = levels.get(level as usize) else {
        return Vec::new();
    };
    let (across, down) = l.tile_grid();
    let ds = l.downsample;
    let tw = f64::from(l.tile_width);
    let th = f64::from(l.tile_height);
    let [x0, y0, x1, y1] = rect_level0;
    if !(x1 > x0 && y1 > y0) {
        return Vec::new();
    }
    let first = |v: f64, t: f64| (v / ds / t).floor().max(0.0) as u64;
    let end = |v: f64, t: f64, n: u64| ((v / ds / t).ceil().max(0.0) as u64).min(n);
    let (c0, c1) = (first(x0, tw), end(x1, tw, across));
    let (r0, r1) = (first(y0, th), end(y1, th, down));
    let cx = (x0 + x1) / 2.0 / ds / tw;
    let cy = (y0 + y1) / 2.0 / ds / th;
    let mut out = Vec::new();
    for row in r0..r1 {
        for col in c0..c1 {
            out.push(TileKey {
                level,
                col: col as u32,
                row: row as u32,
            });
        }
    }
    let dist = |k: &TileKey| {
        let dx = f64::from(k.col) + 0.5 - cx;
        let dy = f64::from(k.row) + 0.5 - cy;
        dx * dx + dy * dy
    };
    out.sort_by(|a, b| dist(a).total_cmp(&dist(b)).then(a.cmp(b)));
    out
}

/// Tiles to fetch for one view, by priority.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cover {
    /// The level drawn.
    pub level: u32,
    /// Tiles of `level` on screen, centre first.
    pub visible: Vec<TileKey>,
    /// A small level shown while anything loads and in the minimap, fetched with the
    /// visible tiles (all its tiles when it has few, else those on screen).
    pub overview: Vec<TileKey>,
    /// Tiles of the next finer level around the centre (what zooming in shows).
    pub next_zoom: Vec<TileKey>,
    /// Tiles of `level` in a one-tile ring around the screen (what panning shows).
    pub neighbours: Vec<TileKey>,
}

/// At most this many tiles in the overview level.
pub const OVERVIEW_MAX_TILES: u64 = 16;
/// At most this many next-zoom tiles are prefetched.
const NEXT_ZOOM_MAX: usize = 24;

/// The overview level: the finest level with at most [`OVERVIEW_MAX_TILES`] tiles,
/// else the coarsest level.
pub fn overview_level(levels: &[Level]) -> u32 {
    levels
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let (a, d) = l.tile_grid();
            a * d <= OVERVIEW_MAX_TILES
        })
        .min_by(|a, b| a.1.downsample.total_cmp(&b.1.downsample))
        .or_else(|| {
            levels
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.downsample.total_cmp(&b.1.downsample))
        })
        .map_or(0, |(k, _)| k as u32)
}

pub fn cover(levels: &[Level], view: &View) -> Cover {
    if levels.is_empty() || view.zoom.is_nan() || view.zoom <= 0.0 {
        return Cover::default();
    }
    let level = choose_level(levels, view.zoom);
    let rect = view.rect_level0();
    let visible = tiles_in(levels, level, rect);
    let ov = overview_level(levels);
    let overview = if ov == level {
        Vec::new()
    } else {
        let ol = &levels[ov as usize];
        let (a, d) = ol.tile_grid();
        let everything = [
            0.0,
            0.0,
            ol.width as f64 * ol.downsample,
            ol.height as f64 * ol.downsample,
        ];
        tiles_in(
            levels,
            ov,
            if a * d <= OVERVIEW_MAX_TILES {
                everything
            } else {
                rect
            },
        )
    };
    let next_zoom = if level > 0 {
        let [x0, y0, x1, y1] = rect;
        let (qw, qh) = ((x1 - x0) / 4.0, (y1 - y0) / 4.0);
        let centre = [x0 + qw, y0 + qh, x1 - qw, y1 - qh];
        let mut t = tiles_in(levels, level - 1, centre);
        t.truncate(NEXT_ZOOM_MAX);
        t
    } else {
        Vec::new()
    };
    let l = &levels[level as usize];
    let (mx, my) = (
        f64::from(l.tile_width) * l.downsample,
        f64::from(l.tile_height) * l.downsample,
    );
    let ring = [rect[0] - mx, rect[1] - my, rect[2] + mx, rect[3] + my];
    let neighbours = tiles_in(levels, level, ring)
        .into_iter()
        .filter(|k| !visible.contains(k))
        .collect();
    Cover {
        level,
        visible,
        overview,
        next_zoom,
        neighbours,
    }
}

/// What to draw, in order (coarsest first, so finer tiles paint over their stand-ins):
/// every ready visible tile; for a visible tile that is not ready, its ready finer
/// children (minified) and, unless those cover it completely, the ready tiles of the
/// nearest coarser levels up to the first level that covers it completely.
pub fn draw_order(
    levels: &[Level],
    cover: &Cover,
    ready: impl Fn(TileKey) -> bool,
) -> Vec<TileKey> {
    let mut out: Vec<TileKey> = Vec::new();
    for &key in &cover.visible {
        if ready(key) {
            out.push(key);
            continue;
        }
        let Some(rect) = tile_rect_level0(levels, key) else {
            continue;
        };
        let inset = inset_rect(rect);
        if key.level > 0 {
            let children = tiles_in(levels, key.level - 1, inset);
            let all = !children.is_empty() && children.iter().all(|c| ready(*c));
            out.extend(children.into_iter().filter(|c| ready(*c)));
            if all {
                continue;
            }
        }
        for coarser in key.level + 1..levels.len() as u32 {
            let stand_ins = tiles_in(levels, coarser, inset);
            let all = !stand_ins.is_empty() && stand_ins.iter().all(|c| ready(*c));
            out.extend(stand_ins.into_iter().filter(|c| ready(*c)));
            if all {
                break;
            }
        }
    }
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.row.cmp(&b.row))
            .then(a.col.cmp(&b.col))
    });
    out.dedup();
    out
}

/// A rectangle shrunk by a hair, so that a neighbour merely touching an edge (through
/// rounding of non-integer downsamples) does not count as covering it.
fn inset_rect(r: Rect) -> Rect {
    let e = 1e-3;
    [r[0] + e, r[1] + e, r[2] - e, r[3] - e]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::slide::TilePath;

    /// A 4096x2048 slide, 256 tiles, four levels of downsample 1, 2, 4, 8.
    fn pyramid() -> Vec<Level> {
        (0..4)
            .map(|k| Level {
                width: 4096 >> k,
                height: 2048 >> k,
                downsample: f64::from(1u32 << k),
                tile_width: 256,
                tile_height: 256,
                path: TilePath::Fast,
            })
            .collect()
    }

    fn key(level: u32, col: u32, row: u32) -> TileKey {
        TileKey { level, col, row }
    }

    #[test]
    fn the_level_is_the_coarsest_not_magnified() {
        let l = pyramid();
        assert_eq!(choose_level(&l, 4.0), 0); // zoomed beyond level 0
        assert_eq!(choose_level(&l, 1.0), 0);
        assert_eq!(choose_level(&l, 0.9), 0); // level 1 would be magnified 1.8x
        assert_eq!(choose_level(&l, 0.5), 1);
        assert_eq!(choose_level(&l, 0.3), 1);
        assert_eq!(choose_level(&l, 0.25), 2);
        assert_eq!(choose_level(&l, 0.01), 3);
        // Whatever the zoom, the chosen level's pixels are never magnified (unless 0).
        for z in [0.013, 0.07, 0.126, 0.2499, 0.51, 0.99] {
            let k = choose_level(&l, z) as usize;
            assert!(l[k].downsample * z <= 1.0 + 1e-9, "zoom {z} level {k}");
            if k + 1 < l.len() {
                assert!(
                    l[k + 1].downsample * z > 1.0,
                    "zoom {z}: level {} was usable",
                    k + 1
                );
            }
        }
    }

    #[test]
    fn visible_tiles_cover_the_screen_centre_first() {
        let l = pyramid();
        // 600x300 screen at zoom 1 centred on (1000, 700): x 700..1300, y 550..850.
        let view = View {
            center_level0: [1000.0, 700.0],
            zoom: 1.0,
            screen_px: [600.0, 300.0],
        };
        let c = cover(&l, &view);
        assert_eq!(c.level, 0);
        let mut got = c.visible.clone();
        got.sort();
        let mut want = Vec::new();
        for col in 2..=5 {
            for row in 2..=3 {
                want.push(key(0, col, row));
            }
        }
        want.sort();
        assert_eq!(got, want);
        // Centre (1000, 700) is in tile (3, 2).
        assert_eq!(c.visible[0], key(0, 3, 2));
        assert!(c.next_zoom.is_empty(), "nothing finer than level 0");
        assert!(c.neighbours.iter().all(|k| !c.visible.contains(k)));
        assert!(c.neighbours.contains(&key(0, 1, 1)) && c.neighbours.contains(&key(0, 6, 4)));
        // The overview is level 2 (1024x512: 8 tiles, the finest with at most 16),
        // fetched whole.
        assert_eq!(overview_level(&l), 2);
        assert_eq!(c.overview.len(), 8);
        assert!(c.overview.iter().all(|k| k.level == 2));
    }

    #[test]
    fn edges_and_views_off_the_slide_are_clamped() {
        let l = pyramid();
        let view = View {
            center_level0: [-5000.0, -5000.0],
            zoom: 1.0,
            screen_px: [800.0, 600.0],
        };
        assert!(cover(&l, &view).visible.is_empty());
        let whole = View::fit(4096.0, 2048.0, [1024.0, 512.0]);
        let c = cover(&l, &whole);
        assert_eq!(c.level, 2);
        assert_eq!(c.visible.len(), 4 * 2);
        assert_eq!(
            tile_rect_level0(&l, key(3, 1, 0)),
            Some([2048.0, 0.0, 4096.0, 2048.0])
        );
        assert_eq!(tile_rect_level0(&l, key(3, 2, 0)), None);
    }

    #[test]
    fn next_zoom_tiles_are_finer_and_central() {
        let l = pyramid();
        let view = View {
            center_level0: [2048.0, 1024.0],
            zoom: 0.25,
            screen_px: [1024.0, 512.0],
        };
        let c = cover(&l, &view);
        assert_eq!(c.level, 2);
        assert!(!c.next_zoom.is_empty());
        assert!(c.next_zoom.iter().all(|k| k.level == 1));
    }

    #[test]
    fn missing_tiles_are_stood_in_for_by_finer_then_coarser_tiles() {
        let l = pyramid();
        let view = View {
            center_level0: [512.0, 512.0],
            zoom: 0.5,
            screen_px: [512.0, 512.0],
        };
        let c = cover(&l, &view);
        assert_eq!(c.level, 1);
        // Visible: level-1 tiles (0..2, 0..2), each covering 512x512 level-0 pixels.
        assert_eq!(c.visible.len(), 4);
        // Nothing ready: nothing drawn.
        assert!(draw_order(&l, &c, |_| false).is_empty());
        // Only the coarsest level ready: its one tile stands in for all four.
        let order = draw_order(&l, &c, |k| k.level == 3);
        assert_eq!(order, vec![key(3, 0, 0)]);
        // Level 2 and 3 ready: the finer level 2 tile suffices; 3 is not drawn.
        let order = draw_order(&l, &c, |k| k.level >= 2);
        assert_eq!(order, vec![key(2, 0, 0)]);
        // All level-0 children of tile (1, 0, 0) ready: drawn minified, no coarse tile
        // for it; the other three tiles still use level 2.
        let kids = [key(0, 0, 0), key(0, 1, 0), key(0, 0, 1), key(0, 1, 1)];
        let order = draw_order(&l, &c, |k| kids.contains(&k) || k.level == 2);
        assert_eq!(order[0], key(2, 0, 0));
        assert!(kids.iter().all(|k| order.contains(k)));
        // Everything ready: exactly the visible tiles, never a coarser one.
        let mut order = draw_order(&l, &c, |_| true);
        order.sort();
        let mut visible = c.visible.clone();
        visible.sort();
        assert_eq!(order, visible);
        // Coarse before fine.
        let order = draw_order(&l, &c, |k| k.level != 1);
        assert!(order.windows(2).all(|w| w[0].level >= w[1].level));
    }

    #[test]
    fn zooming_about_a_point_keeps_it_under_the_cursor() {
        let view = View {
            center_level0: [1000.0, 1000.0],
            zoom: 0.5,
            screen_px: [800.0, 600.0],
        };
        let cursor = [100.0, 500.0];
        let before = view.level0_from_screen(cursor);
        let zoomed = view.zoomed_about(cursor, 2.0, 0.01, 4.0);
        assert_eq!(zoomed.zoom, 1.0);
        let after = zoomed.level0_from_screen(cursor);
        assert!((before[0] - after[0]).abs() < 1e-9 && (before[1] - after[1]).abs() < 1e-9);
        let clamped = view.zoomed_about(cursor, 100.0, 0.01, 4.0);
        assert_eq!(clamped.zoom, 4.0);
        let p = clamped.screen_from_level0(clamped.level0_from_screen(cursor));
        assert!((p[0] - cursor[0]).abs() < 1e-9);
    }
}
