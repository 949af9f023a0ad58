//! The segmentation half of [`TesseraApp::apply`]: the label picker, creating and
//! showing segmentations, segments, brush settings, and painting (brush, eraser, flood
//! fill, fill between slices).
//!
//! A gesture changes the label map in memory (and on the GPU) dab by dab; its end is one
//! signed edit. If the project refuses it, the gesture is rolled back on screen too.

use super::segmentation::{ShownSegmentation, dabs_between, label_of};
use super::{Command, TesseraApp};
use crate::annotate::labelmap::{ChangeSet, Stroke};
use crate::annotate::packed::Tool as PaintTool;
use crate::annotate::segmentation::{Segment, SegmentationHeader, SourceRef};
use crate::annotate::segstats::segment_stats;
use crate::annotate::tools::{
    self, BrushShape, Dab, FloodFill, FloodScope, HuRange, HuVolume, PaintRule,
};
use crate::imaging::discovery::Rescale;
use crate::imaging::mpr::Plane;
use crate::imaging::pixels::Samples;
use crate::project::Id;
use crate::project::model::{Edit, ImageRef};

/// A pointer event of a painting tool, in continuous voxel coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PaintEvent {
    Down([f64; 3]),
    Move([f64; 3]),
    Up,
    /// A click (flood fill seeds here; the brush paints one dab).
    Click([f64; 3]),
}

/// The painting tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaintKind {
    Brush,
    Eraser,
    Fill,
}

/// A flood fill that would grow past this many voxels is refused.
const MAX_FILL_VOXELS: usize = 20_000_000;
/// Without a threshold, flood fill takes voxels within this many HU of the seed.
const FILL_TOLERANCE_HU: f64 = 60.0;

impl TesseraApp {
    /// Applies the segmentation commands (called by `apply_annotation`).
    pub(super) fn apply_segmentation(&mut self, command: Command) {
        match command {
            Command::PickClass(index) => {
                if let Some((id, class)) = self.segmentation.classes.get(index).cloned() {
                    self.annotations.label = label_of(&class);
                    self.segmentation.class = Some((Some(id), class));
                    self.segmentation.search.clear();
                }
            }
            Command::PickCode { list, entry } => {
                let Some(e) = self
                    .segmentation
                    .code_lists
                    .get(list)
                    .and_then(|l| l.entries.get(entry))
                else {
                    return;
                };
                let class = crate::annotate::schema::LabelClass::from_code(
                    &e.code,
                    None,
                    super::segmentation::colour_of_code(&e.code.value),
                );
                self.annotations.label = label_of(&class);
                self.segmentation.class = Some((None, class));
                self.segmentation.search.clear();
            }
            Command::ImportCodeListDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Import a code list (CSV)")
                    .add_filter("CSV", &["csv", "txt"])
                    .pick_file()
                {
                    self.import_code_list(&path);
                }
            }
            Command::ImportCodeList(path) => self.import_code_list(&path),
            Command::NewSegmentation => self.new_segmentation(),
            Command::ShowSegmentation(id) => self.show_segmentation(Some(id)),
            Command::AddSegment => self.add_segment(),
            Command::SetActiveSegment(index) => {
                if let Some(s) = &mut self.segmentation.shown
                    && s.info.segments.contains_key(&index)
                {
                    s.active = index;
                }
            }
            Command::SetBrushRadius(mm) if mm.is_finite() => {
                self.segmentation.brush_radius_mm = mm.clamp(
                    *super::segmentation::BRUSH_RADIUS_MM.start(),
                    *super::segmentation::BRUSH_RADIUS_MM.end(),
                );
            }
            Command::StepBrushRadius(up) => self.segmentation.step_radius(up),
            Command::SetBrushSphere(sphere) => self.segmentation.sphere = sphere,
            Command::SetThreshold(range) => self.segmentation.threshold = range,
            Command::SetLabelStyle {
                fill_opacity,
                outline,
            } => {
                self.segmentation.fill_opacity = fill_opacity.clamp(0.0, 1.0);
                self.segmentation.outline = outline;
            }
            Command::Paint { plane, kind, event } => self.paint(plane, kind, event),
            Command::FillBetweenSlices { axis } => self.fill_between(axis),
            _ => {}
        }
    }

    /// Checks a CSV code list (every bad line reported), keeps a copy in the
    /// configuration folder when there is one, and makes the picker search it.
    fn import_code_list(&mut self, path: &std::path::Path) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return self.report_problem(format!("cannot read the code list: {e}")),
        };
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "codes".to_owned());
        match crate::annotate::codes::parse_code_list(&name, &text) {
            Ok(list) => {
                if let Some(dir) = self
                    .recent_store
                    .as_ref()
                    .and_then(|s| s.folder())
                    .map(super::segmentation::code_list_dir)
                {
                    let saved = std::fs::create_dir_all(&dir)
                        .and_then(|()| std::fs::write(dir.join(format!("{name}.csv")), &text));
                    if let Err(e) = saved {
                        self.report_problem(format!("the code list is used but not kept: {e}"));
                    }
                }
                self.status.note = Some(format!("Code list {name}: {} codes", list.entries.len()));
                self.segmentation.code_lists.retain(|l| l.name != list.name);
                self.segmentation.code_lists.push(list);
            }
            Err(e) => {
                for line in e.errors.iter().skip(1).take(20) {
                    self.report_problem(format!("code list {name}: {line}"));
                }
                self.report_problem(format!("code list {name} refused: {e}"));
            }
        }
    }

    /// Reloads the schema and the selected series' segmentations; keeps the shown one
    /// when it still exists (reloading its map only when asked).
    pub(super) fn refresh_segmentations(&mut self, reload_shown: bool) {
        let Some(project) = &mut self.project else {
            self.segmentation.clear();
            return;
        };
        match project.session.label_classes() {
            Ok(classes) => self.segmentation.classes = classes,
            Err(e) => return self.project_error("cannot read the label classes", e),
        }
        if self.segmentation.class.is_none()
            && let Some((id, class)) = self
                .segmentation
                .classes
                .iter()
                .find(|(_, c)| c.name == self.annotations.label.name)
                .cloned()
        {
            self.segmentation.class = Some((Some(id), class));
        }
        let Some(image) = self.series_image() else {
            return;
        };
        let Some(project) = &mut self.project else {
            return;
        };
        match project.session.segmentations_for_image(&image) {
            Ok(list) => self.segmentation.available = list,
            Err(e) => return self.project_error("cannot list the segmentations", e),
        }
        let shown = self.segmentation.shown.as_ref().map(|s| s.info.id);
        let still = shown.filter(|id| self.segmentation.available.iter().any(|i| i.id == *id));
        match (still, reload_shown) {
            (Some(id), true) => self.show_segmentation(Some(id)),
            (Some(id), false) => {
                if let (Some(s), Some(info)) = (
                    &mut self.segmentation.shown,
                    self.segmentation.available.iter().find(|i| i.id == id),
                ) {
                    s.info = info.clone();
                    s.gpu.set_palette(s.palette());
                }
            }
            (None, _) => {
                let first = self.segmentation.available.first().map(|i| i.id);
                self.show_segmentation(first);
            }
        }
    }

    /// The selected series as an image reference (what segmentations are filed under).
    fn series_image(&self) -> Option<ImageRef> {
        let entry = self.series.get(self.selected?)?;
        entry.loaded.as_ref()?;
        Some(ImageRef::Dicom {
            series_uid: entry.info.series_uid.clone(),
            sop_uid: None,
            frame: None,
            plane: None,
            provenance: None,
        })
    }

    /// Loads a segmentation's map and puts it on screen (`None`: none shown).
    fn show_segmentation(&mut self, id: Option<Id>) {
        let Some(id) = id else {
            self.segmentation.shown = None;
            return;
        };
        let Some(dims) = self.selected_loaded().map(|s| s.grid.dims) else {
            return;
        };
        let Some(project) = &mut self.project else {
            return;
        };
        let loaded = match project.session.load_segmentation(id) {
            Ok(l) => l,
            Err(e) => return self.project_error("cannot load the segmentation", e),
        };
        if loaded.map.dims() != dims {
            self.report_problem(
                "this segmentation was drawn on a different grid than the loaded series".to_owned(),
            );
            return;
        }
        let grid = loaded.info.header.grid.to_grid();
        let gpu = self.segmentation.new_gpu(dims);
        let active = loaded.info.segments.keys().next().copied().unwrap_or(1);
        let shown = ShownSegmentation {
            info: loaded.info,
            map: loaded.map,
            grid,
            active,
            stroke: None,
            gpu,
            stats: Default::default(),
        };
        shown.upload_all();
        self.segmentation.shown = Some(shown);
        self.refresh_segment_stats();
    }

    fn current_class(&self) -> (Option<Id>, crate::annotate::schema::LabelClass) {
        self.segmentation.class.clone().unwrap_or_else(|| {
            let label = &self.annotations.label;
            (
                None,
                crate::annotate::schema::LabelClass::free_text(
                    &label.name,
                    crate::annotate::schema::Colour([230, 80, 80]),
                ),
            )
        })
    }

    /// A new segmentation of the selected series with one segment of the current class.
    fn new_segmentation(&mut self) {
        let Some(image) = self.series_image() else {
            return;
        };
        let Some(entry) = self.selected.and_then(|i| self.series.get(i)) else {
            return;
        };
        let Some(loaded) = &entry.loaded else {
            return;
        };
        let mut header = SegmentationHeader::new(
            &format!("Segmentation {}", self.segmentation.available.len() + 1),
            &loaded.grid,
        );
        header.sources = loaded
            .slices
            .iter()
            .filter_map(|s| s.source.as_ref())
            .map(|s| SourceRef {
                sop_instance_uid: s.sop_uid.clone(),
                sha256: entry
                    .sources
                    .iter()
                    .find(|f| f.path == s.path)
                    .and_then(|f| f.sha256.clone())
                    .unwrap_or_default(),
            })
            .collect();
        let (class_id, class) = self.current_class();
        let Some(project) = self.project.as_mut().filter(|p| !p.read_only) else {
            return;
        };
        let created = project
            .session
            .create_segmentation(image, header)
            .and_then(|id| {
                let segment = Segment::of_class(&format!("{} 1", class.name), class_id, &class);
                project.session.define_segment(id, 1, Some(segment))?;
                Ok(id)
            });
        match created {
            Ok(id) => {
                self.segmentation.shown = None;
                self.refresh_segmentations(false);
                self.show_segmentation(Some(id));
                self.refresh_history();
            }
            Err(e) => self.project_error("cannot create the segmentation", e),
        }
    }

    /// Adds a segment of the current class to the shown segmentation and paints it next.
    fn add_segment(&mut self) {
        let (class_id, class) = self.current_class();
        let Some(shown) = &self.segmentation.shown else {
            return self.new_segmentation();
        };
        let Some(index) = shown.next_index() else {
            return self.report_problem("this segmentation has 255 segments already".into());
        };
        let id = shown.info.id;
        let n = shown
            .info
            .segments
            .values()
            .filter(|s| s.class.name == class.name)
            .count()
            + 1;
        let segment = Segment::of_class(&format!("{} {n}", class.name), class_id, &class);
        let Some(project) = self.project.as_mut().filter(|p| !p.read_only) else {
            return;
        };
        match project.session.define_segment(id, index, Some(segment)) {
            Ok(_) => {
                self.refresh_segmentations(false);
                if let Some(s) = &mut self.segmentation.shown {
                    s.active = index;
                }
                self.refresh_history();
            }
            Err(e) => self.project_error("cannot add the segment", e),
        }
    }

    fn paint(&mut self, plane: Plane, kind: PaintKind, event: PaintEvent) {
        if self.project.as_ref().is_none_or(|p| p.read_only) {
            return;
        }
        if self.segmentation.shown.is_none()
            && matches!(event, PaintEvent::Down(_) | PaintEvent::Click(_))
        {
            if kind == PaintKind::Eraser {
                return;
            }
            self.new_segmentation();
        }
        let radius = self.segmentation.brush_radius_mm;
        let sphere = self.segmentation.sphere;
        let threshold = self.segmentation.threshold;
        let Some(entry) = self.selected.and_then(|i| self.series.get(i)) else {
            return;
        };
        let Some(loaded) = &entry.loaded else {
            return;
        };
        let Some(shown) = self.segmentation.shown.as_mut() else {
            return;
        };
        let (samples, rescale) = hu_inputs(entry, loaded);
        let hu = HuVolume::from_slices(&samples, shown.grid.dims, &rescale).ok();
        let mut rule = match kind {
            PaintKind::Eraser => PaintRule::erase(shown.active),
            _ => PaintRule::paint(shown.active),
        };
        if let (Some(range), Some(_)) = (threshold, &hu)
            && kind != PaintKind::Fill
        {
            rule = rule.within(range);
        }
        let shape = if sphere {
            BrushShape::Sphere
        } else {
            BrushShape::Disc(plane)
        };
        let dab_at = |shown: &ShownSegmentation, c: [f64; 3]| {
            tools::dab(
                &shown.map,
                &shown.grid,
                hu.as_ref(),
                &Dab {
                    centre_voxel: c,
                    radius_mm: radius,
                    shape,
                },
                &rule,
            )
        };
        let mut problem = None;
        let mut apply =
            |shown: &mut ShownSegmentation, cs: Result<ChangeSet, tools::ToolError>| match cs {
                Ok(cs) => {
                    if let Some((stroke, _)) = &mut shown.stroke {
                        let changed = stroke.apply(&mut shown.map, cs);
                        shown.upload(changed);
                    }
                }
                Err(e) => problem = Some(e.to_string()),
            };
        let tool = match (kind, threshold.is_some()) {
            (PaintKind::Eraser, _) => PaintTool::Eraser,
            (PaintKind::Fill, _) => PaintTool::FloodFill,
            (PaintKind::Brush, true) => PaintTool::ThresholdBrush,
            (PaintKind::Brush, false) => PaintTool::Brush,
        };
        let finish = match (kind, event) {
            (PaintKind::Fill, PaintEvent::Click(v)) => {
                let Some(hu) = hu.as_ref() else {
                    return self.report_problem("flood fill needs a grey-scale series".into());
                };
                let seed = v.map(|c| c.round().max(0.0) as usize);
                if !shown.map.contains(seed) {
                    return;
                }
                let range = threshold.unwrap_or_else(|| {
                    let h = hu.hu(seed);
                    HuRange {
                        min_hu: h - FILL_TOLERANCE_HU,
                        max_hu: h + FILL_TOLERANCE_HU,
                    }
                });
                let fill = FloodFill {
                    seed,
                    hu_range: range,
                    scope: if sphere {
                        FloodScope::Volume
                    } else {
                        FloodScope::Slice(plane)
                    },
                    max_voxels: MAX_FILL_VOXELS,
                };
                shown.stroke = Some((Stroke::new(), v));
                let cs = tools::flood_fill(&shown.map, &shown.grid, hu, &fill, &rule);
                apply(shown, cs);
                true
            }
            (PaintKind::Fill, _) => false,
            (_, PaintEvent::Down(v) | PaintEvent::Click(v)) => {
                shown.stroke = Some((Stroke::new(), v));
                let cs = dab_at(shown, v);
                apply(shown, cs);
                matches!(event, PaintEvent::Click(_))
            }
            (_, PaintEvent::Move(v)) => {
                let Some(last) = shown.stroke.as_ref().map(|(_, l)| *l) else {
                    return;
                };
                // Dabs at most half a radius apart, however fast the pointer moved.
                let spacing = shown
                    .grid
                    .spacing_mm
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                let step = (radius / 2.0 / spacing).max(0.5);
                for c in dabs_between(last, v, step) {
                    let cs = dab_at(shown, c);
                    apply(shown, cs);
                }
                if let Some((_, l)) = &mut shown.stroke {
                    *l = v;
                }
                false
            }
            (_, PaintEvent::Up) => true,
        };
        if let Some(p) = problem {
            self.report_problem(format!("cannot paint: {p}"));
        }
        if finish {
            self.finish_stroke(tool);
        }
    }

    /// Ends the gesture: one edit, or the gesture undone on screen if it cannot be saved.
    fn finish_stroke(&mut self, tool: PaintTool) {
        let Some(shown) = self.segmentation.shown.as_mut() else {
            return;
        };
        let Some((stroke, _)) = shown.stroke.take() else {
            return;
        };
        let Some(edit) = stroke.finish(&shown.map, tool) else {
            return;
        };
        let segmentation = shown.info.id;
        let Some(project) = &mut self.project else {
            return;
        };
        let result = project.session.commit_edit(Edit::SegmentStroke {
            segmentation,
            stroke: edit.clone(),
        });
        if let Err(e) = result {
            if let Some(shown) = self.segmentation.shown.as_mut()
                && let Ok(changed) = shown.map.apply_stroke(&edit.inverse())
            {
                shown.upload(changed);
            }
            return self.project_error("the stroke was not saved", e);
        }
        self.refresh_segment_stats();
        self.refresh_history();
    }

    /// Paints the inside of an outline drawn on `plane` (voxel coordinates) with the
    /// active segment: one edit.
    pub(super) fn fill_outline(&mut self, plane: Plane, outline: Vec<[f64; 3]>) {
        if self.project.as_ref().is_none_or(|p| p.read_only) {
            return;
        }
        if self.segmentation.shown.is_none() {
            self.new_segmentation();
        }
        let threshold = self.segmentation.threshold;
        let Some(entry) = self.selected.and_then(|i| self.series.get(i)) else {
            return;
        };
        let Some(loaded) = &entry.loaded else {
            return;
        };
        let Some(shown) = self.segmentation.shown.as_mut() else {
            return;
        };
        let (samples, rescale) = hu_inputs(entry, loaded);
        let hu = HuVolume::from_slices(&samples, shown.grid.dims, &rescale).ok();
        let mut rule = PaintRule::paint(shown.active);
        if let (Some(range), Some(_)) = (threshold, &hu) {
            rule = rule.within(range);
        }
        match tools::fill_polygon(&shown.map, &shown.grid, hu.as_ref(), plane, &outline, &rule) {
            Ok(cs) => {
                let mut stroke = Stroke::new();
                let changed = stroke.apply(&mut shown.map, cs);
                shown.upload(changed);
                shown.stroke = Some((stroke, [0.0; 3]));
                self.finish_stroke(PaintTool::PolygonFill);
            }
            Err(e) => self.report_problem(format!("cannot fill the outline: {e}")),
        }
    }

    fn fill_between(&mut self, axis: usize) {
        let Some(shown) = self.segmentation.shown.as_mut() else {
            return;
        };
        let cs = crate::annotate::interpolate::fill_between_slices(
            &shown.map,
            &shown.grid,
            shown.active,
            axis.min(2),
        );
        match cs {
            Ok(cs) => {
                let mut stroke = Stroke::new();
                let changed = stroke.apply(&mut shown.map, cs);
                shown.upload(changed);
                shown.stroke = Some((stroke, [0.0; 3]));
                self.finish_stroke(PaintTool::FillBetweenSlices);
            }
            Err(e) => self.report_problem(format!("cannot fill between slices: {e}")),
        }
    }

    /// Voxels, mL and HU statistics of the shown segmentation's segments.
    pub(super) fn refresh_segment_stats(&mut self) {
        let Some(entry) = self.selected.and_then(|i| self.series.get(i)) else {
            return;
        };
        let Some(loaded) = &entry.loaded else {
            return;
        };
        let Some(shown) = self.segmentation.shown.as_mut() else {
            return;
        };
        let (samples, rescale) = hu_inputs(entry, loaded);
        let hu = HuVolume::from_slices(&samples, shown.grid.dims, &rescale).ok();
        shown.stats = segment_stats(&shown.map, &shown.grid, hu.as_ref());
    }

    /// Applies an undone or redone segmentation edit to what is on screen.
    pub(super) fn apply_to_shown(&mut self, edit: &Edit) {
        match edit {
            Edit::SegmentStroke {
                segmentation,
                stroke,
            } => {
                let Some(shown) = self.segmentation.shown.as_mut() else {
                    return;
                };
                if shown.info.id != *segmentation {
                    return;
                }
                match shown.map.apply_stroke(stroke) {
                    Ok(changed) => shown.upload(changed),
                    Err(_) => return self.show_segmentation(Some(*segmentation)),
                }
                self.refresh_segment_stats();
            }
            Edit::SegmentationCreate { .. }
            | Edit::SegmentationDelete { .. }
            | Edit::SegmentDefine { .. }
            | Edit::ClassDefine { .. } => self.refresh_segmentations(false),
            _ => {}
        }
    }
}

/// What [`HuVolume::from_slices`] reads for a loaded series: one sample buffer per slice
/// and the series' rescale. Colour series give no slices (tools then run without HU).
fn hu_inputs<'a>(
    entry: &super::SeriesEntry,
    loaded: &'a super::LoadedSeries,
) -> (Vec<&'a Samples>, [Rescale; 1]) {
    let grey = loaded
        .slices
        .first()
        .is_some_and(|s| s.frame.samples_per_pixel == 1);
    let samples = if grey {
        loaded.slices.iter().map(|s| &s.frame.samples).collect()
    } else {
        Vec::new()
    };
    let rescale = [Rescale {
        slope: entry.info.modality_lut.slope,
        intercept: entry.info.modality_lut.intercept,
    }];
    (samples, rescale)
}
