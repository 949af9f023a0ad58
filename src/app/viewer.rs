//! The viewer model: layouts, viewports and how a series is being looked at.
//!
//! Owns [`Layout`], [`ViewportState`] (plane, zoom, pan, window, inversion, colour
//! map), [`SeriesView`] (the crosshair cursor shared by all planes plus the
//! viewports) and the pure functions that change them. Draws nothing; the app applies
//! [`super::Command`]s through these functions, and the benchmark drives them.

use std::time::Duration;

use crate::imaging::display::VoiWindow;
use crate::imaging::mpr::{Plane, PlaneView, VolumeGrid};

/// Viewport arrangements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// One viewport, the acquired plane.
    #[default]
    Single,
    /// Axial, coronal, sagittal side by side.
    OneByThree,
    /// Axial, coronal, sagittal and the acquired plane (with its own window).
    TwoByTwo,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::Single, Layout::OneByThree, Layout::TwoByTwo];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Single => "1×1",
            Layout::OneByThree => "1×3",
            Layout::TwoByTwo => "2×2",
        }
    }

    pub fn viewports(self) -> usize {
        match self {
            Layout::Single => 1,
            Layout::OneByThree => 3,
            Layout::TwoByTwo => 4,
        }
    }

    /// Grid (columns, rows).
    pub fn grid(self) -> (usize, usize) {
        match self {
            Layout::Single => (1, 1),
            Layout::OneByThree => (3, 1),
            Layout::TwoByTwo => (2, 2),
        }
    }

    /// The planes the layout starts with.
    pub fn default_planes(self, acquired: Plane) -> [Plane; MAX_VIEWPORTS] {
        match self {
            Layout::Single => [acquired, Plane::Axial, Plane::Coronal, Plane::Sagittal],
            Layout::OneByThree | Layout::TwoByTwo => {
                [Plane::Axial, Plane::Coronal, Plane::Sagittal, acquired]
            }
        }
    }
}

pub const MAX_VIEWPORTS: usize = 4;

/// Colour maps for grey images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColourMap {
    #[default]
    Grey,
    HotIron,
}

/// Zoom limits (1 = the image fits the viewport).
pub const MIN_ZOOM: f32 = 0.1;
pub const MAX_ZOOM: f32 = 40.0;

/// One viewport of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewportState {
    pub plane: Plane,
    /// 1 = fit to the viewport.
    pub zoom: f32,
    /// Offset of the image centre from the viewport centre, points.
    pub pan: [f32; 2],
    pub window: VoiWindow,
    pub invert: bool,
    pub colour_map: ColourMap,
}

impl ViewportState {
    fn new(plane: Plane, window: VoiWindow) -> Self {
        Self {
            plane,
            zoom: 1.0,
            pan: [0.0, 0.0],
            window,
            invert: false,
            colour_map: ColourMap::Grey,
        }
    }

    /// Zooms by `factor` keeping the image point at `about` (points from the viewport
    /// centre) under the pointer.
    pub fn zoom_about(&mut self, factor: f32, about: [f32; 2]) {
        let new_zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let f = new_zoom / self.zoom;
        self.zoom = new_zoom;
        for (pan, about) in self.pan.iter_mut().zip(about) {
            *pan = about - (about - *pan) * f;
        }
    }
}

/// How one series is being viewed; kept per series so switching back restores it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesView {
    /// The crosshair: one voxel (i, j, k) that every plane passes through.
    pub cursor: [usize; 3],
    pub viewports: [ViewportState; MAX_VIEWPORTS],
    /// The series' own window, for resets.
    pub default_window: VoiWindow,
}

impl SeriesView {
    /// Centred on the volume, every viewport in `window`, planes for `layout`.
    pub fn new(grid: &VolumeGrid, window: VoiWindow, layout: Layout) -> Self {
        let planes = layout.default_planes(grid.acquired_plane());
        Self {
            cursor: grid.dims.map(|n| n / 2),
            viewports: planes.map(|p| ViewportState::new(p, window)),
            default_window: window,
        }
    }

    /// Puts the layout's default planes into the viewports.
    pub fn set_layout(&mut self, grid: &VolumeGrid, layout: Layout) {
        let planes = layout.default_planes(grid.acquired_plane());
        for (viewport, plane) in self.viewports.iter_mut().zip(planes) {
            viewport.plane = plane;
        }
    }

    /// What viewport `index` shows.
    pub fn plane_view(&self, grid: &VolumeGrid, index: usize) -> PlaneView {
        let plane = self.viewports[index.min(MAX_VIEWPORTS - 1)].plane;
        grid.view(plane, self.cursor)
    }

    /// Moves viewport `index` by `step` slices (clamped), carrying the cursor.
    pub fn step(&mut self, grid: &VolumeGrid, index: usize, step: i64) {
        let view = self.plane_view(grid, index);
        let last = view.depth_count().saturating_sub(1) as i64;
        let depth = (view.depth as i64 + step).clamp(0, last) as usize;
        self.set_depth(grid, index, depth);
    }

    /// Moves viewport `index` forward one slice, back to the first after the last
    /// (cine).
    pub fn step_wrapping(&mut self, grid: &VolumeGrid, index: usize) {
        let view = self.plane_view(grid, index);
        let next = (view.depth + 1) % view.depth_count().max(1);
        self.set_depth(grid, index, next);
    }

    /// Shows slice `depth` (0-based, this plane's order) in viewport `index`.
    pub fn set_depth(&mut self, grid: &VolumeGrid, index: usize, depth: usize) {
        let axes = grid.plane_axes(self.viewports[index.min(MAX_VIEWPORTS - 1)].plane);
        let n = grid.dims[axes.depth.axis];
        let depth = depth.min(n.saturating_sub(1));
        self.cursor[axes.depth.axis] = if axes.depth.flip {
            n - 1 - depth
        } else {
            depth
        };
    }

    /// Windows of the viewports a change applies to.
    pub fn windows_mut(
        &mut self,
        index: usize,
        linked: bool,
    ) -> impl Iterator<Item = &mut ViewportState> {
        self.viewports
            .iter_mut()
            .enumerate()
            .filter(move |(i, _)| linked || *i == index)
            .map(|(_, v)| v)
    }
}

/// Cine playback through the active viewport's slices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cine {
    pub playing: bool,
    /// Slices per second.
    pub rate: f32,
    /// Time accumulated towards the next slice.
    carry: Duration,
}

pub const CINE_RATES: std::ops::RangeInclusive<f32> = 1.0..=60.0;

impl Default for Cine {
    fn default() -> Self {
        Self {
            playing: false,
            rate: 15.0,
            carry: Duration::ZERO,
        }
    }
}

impl Cine {
    /// Slices to advance after `elapsed` (0 when paused).
    pub fn advance(&mut self, elapsed: Duration) -> usize {
        if !self.playing || self.rate <= 0.0 {
            self.carry = Duration::ZERO;
            return 0;
        }
        // Never more than a second's worth at once (after a stall).
        self.carry += elapsed.min(Duration::from_secs(1));
        let period =
            Duration::from_secs_f32(1.0 / self.rate.clamp(*CINE_RATES.start(), *CINE_RATES.end()));
        let steps = (self.carry.as_secs_f64() / period.as_secs_f64()).floor() as u32;
        self.carry = self.carry.saturating_sub(period * steps);
        steps as usize
    }

    /// Time until the next slice is due.
    pub fn next_in(&self) -> Duration {
        let period =
            Duration::from_secs_f32(1.0 / self.rate.clamp(*CINE_RATES.start(), *CINE_RATES.end()));
        period.saturating_sub(self.carry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> VolumeGrid {
        let positions: Vec<[f64; 3]> = (0..40).map(|k| [0.0, 0.0, -2.0 * k as f64]).collect();
        VolumeGrid::from_slices(
            64,
            48,
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [0.5, 0.5],
            &positions,
        )
    }

    #[test]
    fn scrolling_one_plane_moves_the_shared_cursor() {
        let g = grid();
        let mut view = SeriesView::new(&g, VoiWindow::new(40.0, 400.0), Layout::OneByThree);
        assert_eq!(view.cursor, [32, 24, 20]);
        assert_eq!(view.viewports[0].plane, Plane::Axial);
        view.step(&g, 0, 3);
        assert_eq!(view.cursor, [32, 24, 23]);
        // Coronal scrolls anterior → posterior = +j.
        view.step(&g, 1, -100);
        assert_eq!(view.cursor, [32, 0, 23]);
        assert_eq!(view.plane_view(&g, 1).depth, 0);
        view.step(&g, 2, 1000);
        assert_eq!(view.cursor, [63, 0, 23]);
        view.set_depth(&g, 0, 39);
        view.step_wrapping(&g, 0);
        assert_eq!(view.cursor[2], 0);
    }

    #[test]
    fn zoom_about_a_point_keeps_it_still() {
        let g = grid();
        let mut view = SeriesView::new(&g, VoiWindow::new(40.0, 400.0), Layout::Single);
        let v = &mut view.viewports[0];
        v.pan = [10.0, -5.0];
        let about = [100.0, 50.0];
        // The image point under `about` is at (about - pan) / zoom from the image centre.
        let before = [
            (about[0] - v.pan[0]) / v.zoom,
            (about[1] - v.pan[1]) / v.zoom,
        ];
        v.zoom_about(2.0, about);
        let after = [
            (about[0] - v.pan[0]) / v.zoom,
            (about[1] - v.pan[1]) / v.zoom,
        ];
        assert!((before[0] - after[0]).abs() < 1e-4 && (before[1] - after[1]).abs() < 1e-4);
        assert_eq!(v.zoom, 2.0);
        v.zoom_about(1000.0, about);
        assert_eq!(v.zoom, MAX_ZOOM);
    }

    #[test]
    fn linked_windows_change_every_viewport() {
        let g = grid();
        let mut view = SeriesView::new(&g, VoiWindow::new(40.0, 400.0), Layout::TwoByTwo);
        for v in view.windows_mut(1, false) {
            v.window = VoiWindow::new(-600.0, 1500.0);
        }
        assert_eq!(view.viewports[0].window, VoiWindow::new(40.0, 400.0));
        assert_eq!(view.viewports[1].window, VoiWindow::new(-600.0, 1500.0));
        assert_eq!(view.windows_mut(3, true).count(), MAX_VIEWPORTS);
    }

    #[test]
    fn cine_advances_at_its_rate() {
        let mut cine = Cine::default();
        assert_eq!(cine.advance(Duration::from_millis(500)), 0);
        cine.playing = true;
        cine.rate = 10.0;
        assert_eq!(cine.advance(Duration::from_millis(250)), 2);
        assert_eq!(cine.advance(Duration::from_millis(60)), 1);
        assert!(cine.next_in() <= Duration::from_millis(100));
        assert_eq!(cine.advance(Duration::from_secs(30)), 10);
    }
}
