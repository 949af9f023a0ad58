//! Segmentation in the viewer: the project's label classes and the class in hand, the
//! segmentations of the selected series, the one shown (its label map in memory and on
//! the GPU), the gesture being painted, and the brush settings.
//!
//! Owns [`SegmentationLayer`] and the link from a label map to its GPU texture
//! ([`GpuLabels`]: the whole map when shown, changed bricks after each dab). Painting
//! follows `annotate`'s loop: a [`Stroke`] collects a gesture's dabs, which change the
//! map at once; its end is one signed edit, committed by the app.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::gpu::{GpuLabels, LabelStyle, PALETTE_ENTRIES};
use crate::annotate::labelmap::{LabelMap, Stroke};
use crate::annotate::schema::LabelClass;
use crate::annotate::segstats::SegmentStats;
use crate::annotate::tools::HuRange;
use crate::imaging::mpr::VolumeGrid;
use crate::project::Id;
use crate::project::model::Label;
use crate::project::segmentations::SegmentationInfo;

/// The label map on screen.
pub struct ShownSegmentation {
    pub info: SegmentationInfo,
    pub map: LabelMap,
    /// The grid the map was stored with (the series' own, voxel for voxel).
    pub grid: VolumeGrid,
    /// The segment the brush paints.
    pub active: u8,
    /// The gesture under way, and the last dab's centre (gaps are filled between dabs).
    pub stroke: Option<(Stroke, [f64; 3])>,
    pub gpu: Arc<GpuLabels>,
    pub stats: BTreeMap<u8, SegmentStats>,
}

impl ShownSegmentation {
    /// Queues these bricks (their current content) for the GPU.
    pub fn upload(&self, bricks: impl IntoIterator<Item = u32>) {
        for index in bricks {
            let b = self.map.brick_box(index);
            let bytes = self
                .map
                .brick(index)
                .map_or_else(|| vec![0; b.len()], <[u8]>::to_vec);
            let u = |v: [usize; 3]| v.map(|c| u32::try_from(c).unwrap_or(u32::MAX));
            self.gpu.queue(u(b.origin), u(b.size), bytes);
        }
    }

    /// Queues the whole map (every brick, zeros where empty) and the palette.
    pub fn upload_all(&self) {
        let all = 0..u32::try_from(self.map.brick_count()).unwrap_or(u32::MAX);
        self.upload(all);
        self.gpu.set_palette(self.palette());
    }

    /// Segment colours; hidden and unused labels transparent.
    pub fn palette(&self) -> [[f32; 4]; PALETTE_ENTRIES] {
        let mut p = [[0.0; 4]; PALETTE_ENTRIES];
        for (index, segment) in &self.info.segments {
            let [r, g, b] = segment.colour.0;
            p[usize::from(*index)] = [
                f32::from(r) / 255.0,
                f32::from(g) / 255.0,
                f32::from(b) / 255.0,
                1.0,
            ];
        }
        p
    }

    /// The next free segment index.
    pub fn next_index(&self) -> Option<u8> {
        (1..=255u8).find(|i| !self.info.segments.contains_key(i))
    }
}

/// The segmentation side of the window.
pub struct SegmentationLayer {
    /// The project's label schema.
    pub classes: Vec<(Id, LabelClass)>,
    /// The class new annotations and segments get.
    pub class: Option<(Option<Id>, LabelClass)>,
    /// Text typed into the label picker.
    pub search: String,
    /// Code lists the site imported (CSV: SNOMED CT subsets, ICD-10, RadLex…), searched
    /// by the picker beside the project's classes.
    pub code_lists: Vec<crate::annotate::codes::CodeList>,
    /// Segmentations of the selected series.
    pub available: Vec<SegmentationInfo>,
    pub shown: Option<ShownSegmentation>,
    pub brush_radius_mm: f64,
    /// A ball in 3D (true) or a disc on the viewport's plane.
    pub sphere: bool,
    /// Paint only where the HU value is in range.
    pub threshold: Option<HuRange>,
    pub fill_opacity: f32,
    pub outline: bool,
    next_key: u64,
}

impl Default for SegmentationLayer {
    fn default() -> Self {
        Self {
            classes: Vec::new(),
            class: None,
            search: String::new(),
            code_lists: Vec::new(),
            available: Vec::new(),
            shown: None,
            brush_radius_mm: 5.0,
            sphere: false,
            threshold: None,
            fill_opacity: 0.45,
            outline: true,
            next_key: 1,
        }
    }
}

/// Brush radius limits, mm.
pub const BRUSH_RADIUS_MM: std::ops::RangeInclusive<f64> = 0.5..=50.0;

impl SegmentationLayer {
    /// What the viewports draw over the slices.
    pub fn gpu_labels(&self) -> Option<(Arc<GpuLabels>, LabelStyle)> {
        let shown = self.shown.as_ref()?;
        Some((
            Arc::clone(&shown.gpu),
            LabelStyle {
                fill_opacity: self.fill_opacity,
                outline: self.outline,
            },
        ))
    }

    /// A new GPU label map for `dims`, with a key no other has had.
    pub fn new_gpu(&mut self, dims: [usize; 3]) -> Arc<GpuLabels> {
        let key = self.next_key;
        self.next_key += 1;
        Arc::new(GpuLabels::new(
            key,
            dims.map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
        ))
    }

    /// Forgets the series' segmentations (another series, or the project closed).
    pub fn clear(&mut self) {
        self.available.clear();
        self.shown = None;
    }

    /// Brush radius one step larger (`up`) or smaller, in ~20 % steps.
    pub fn step_radius(&mut self, up: bool) {
        let r = if up {
            self.brush_radius_mm * 1.25
        } else {
            self.brush_radius_mm / 1.25
        };
        self.brush_radius_mm = r.clamp(*BRUSH_RADIUS_MM.start(), *BRUSH_RADIUS_MM.end());
    }
}

/// The folder imported code lists are kept in (plain CSV: codes are not patient data).
pub fn code_list_dir(config: &std::path::Path) -> std::path::PathBuf {
    config.join("code-lists")
}

/// Every code list saved in `dir` that parses (others are skipped: they were checked when
/// imported).
pub fn load_code_lists(dir: &std::path::Path) -> Vec<crate::annotate::codes::CodeList> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let name = p.file_stem()?.to_string_lossy().into_owned();
            crate::annotate::codes::parse_code_list(&name, &text).ok()
        })
        .collect()
}

/// A colour for a class made from a code list entry (stable per code).
pub fn colour_of_code(value: &str) -> crate::annotate::schema::Colour {
    let h = value.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    let [a, b, c, _] = h.to_le_bytes();
    crate::annotate::schema::Colour([96 + a % 160, 96 + b % 160, 96 + c % 160])
}

/// A vector annotation's label from a schema class (its coded concept, when it has one).
pub fn label_of(class: &LabelClass) -> Label {
    match &class.concept {
        Some(code) => Label {
            name: class.name.clone(),
            scheme: Some(code.scheme.clone()),
            code: Some(code.value.clone()),
            meaning: Some(code.meaning.clone()),
        },
        None => Label {
            name: class.name.clone(),
            scheme: None,
            code: None,
            meaning: None,
        },
    }
}

/// Dab centres from `from` to `to` (voxels), at most `step` voxels apart, `to` included.
pub fn dabs_between(from: [f64; 3], to: [f64; 3], step: f64) -> Vec<[f64; 3]> {
    let d = [to[0] - from[0], to[1] - from[1], to[2] - from[2]];
    let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    let n = if step > 0.0 && len.is_finite() {
        ((len / step).ceil() as usize).clamp(1, 1000)
    } else {
        1
    };
    (1..=n)
        .map(|i| {
            let t = i as f64 / n as f64;
            [from[0] + d[0] * t, from[1] + d[1] * t, from[2] + d[2] * t]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dabs_fill_the_gap_of_a_fast_drag() {
        let d = dabs_between([0.0, 0.0, 0.0], [10.0, 0.0, 0.0], 2.5);
        assert_eq!(d.len(), 4);
        assert_eq!(d[3], [10.0, 0.0, 0.0]);
        assert_eq!(dabs_between([1.0; 3], [1.0; 3], 1.0), vec![[1.0; 3]]);
    }

    #[test]
    fn the_radius_steps_stay_in_range() {
        let mut s = SegmentationLayer::default();
        for _ in 0..40 {
            s.step_radius(true);
        }
        assert_eq!(s.brush_radius_mm, *BRUSH_RADIUS_MM.end());
        for _ in 0..40 {
            s.step_radius(false);
        }
        assert_eq!(s.brush_radius_mm, *BRUSH_RADIUS_MM.start());
    }
}
