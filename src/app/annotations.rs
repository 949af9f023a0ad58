//! The annotation layer of the open series: the tool in hand, the shape being drawn,
//! the annotations of the series as the project holds them, the selection, and the
//! mapping between a viewport's plane and where annotations are stored.
//!
//! Owns [`AnnotationLayer`] and the drawing state machine ([`Draft`]), which takes
//! pointer events already converted to plane coordinates and says when a shape is
//! complete. Never writes the project: finished shapes and edits go back to the app as
//! [`super::Command`]s, and the app commits them through the project session.

use std::collections::HashMap;

use crate::annotate::measure::{PixelSpacing, Point, RegionStats, region_stats};
use crate::annotate::shapes;
use crate::imaging::mpr::{Plane, PlaneView, VolumeGrid};
use crate::project::Id;
use crate::project::model::{
    Annotation, AnnotationBody, ImageRef, Kind, Label, PlaneName, PlaneRef, Provenance,
};

use super::loader::SeriesInfo;
use super::{LoadedSeries, SeriesEntry};

/// The tool under the left mouse button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Window/level on drag, crosshair on click, select an annotation by clicking it.
    Navigate,
    Point,
    Ruler,
    Angle,
    Bidirectional,
    Rectangle,
    Ellipse,
    Polygon,
    Freehand,
    /// Paint the active segment (disc on the plane, or a ball in 3D).
    Brush,
    Eraser,
    /// Flood fill from a click, within an HU range.
    Fill,
    /// Draw an outline (freehand); its inside is painted with the active segment.
    ShapeFill,
}

impl Tool {
    pub const ALL: [Tool; 13] = [
        Tool::Navigate,
        Tool::Point,
        Tool::Ruler,
        Tool::Angle,
        Tool::Bidirectional,
        Tool::Rectangle,
        Tool::Ellipse,
        Tool::Polygon,
        Tool::Freehand,
        Tool::Brush,
        Tool::Eraser,
        Tool::Fill,
        Tool::ShapeFill,
    ];

    /// The segmentation tool this is, if any.
    pub fn paint(self) -> Option<super::apply_segmentation::PaintKind> {
        use super::apply_segmentation::PaintKind;
        match self {
            Tool::Brush => Some(PaintKind::Brush),
            Tool::Eraser => Some(PaintKind::Eraser),
            Tool::Fill => Some(PaintKind::Fill),
            _ => None,
        }
    }

    /// The annotation kind this tool draws.
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            Tool::Navigate | Tool::Brush | Tool::Eraser | Tool::Fill => return None,
            Tool::Point => Kind::Point,
            Tool::Ruler => Kind::Ruler,
            Tool::Angle => Kind::Angle,
            Tool::Bidirectional => Kind::Bidirectional,
            Tool::Rectangle => Kind::Rectangle,
            Tool::Ellipse => Kind::Ellipse,
            Tool::Polygon => Kind::Polygon,
            Tool::Freehand | Tool::ShapeFill => Kind::Freehand,
        })
    }

    pub fn name(self) -> &'static str {
        match (self, self.kind()) {
            (Tool::Brush, _) => "Brush",
            (Tool::Eraser, _) => "Eraser",
            (Tool::Fill, _) => "Flood fill",
            (Tool::ShapeFill, _) => "Fill outline",
            (_, None) => "Navigate",
            (_, Some(kind)) => shapes::kind_name(kind),
        }
    }

    /// The key that picks the tool (also in the hotkey sheet).
    pub fn key(self) -> egui::Key {
        match self {
            Tool::Navigate => egui::Key::Escape,
            Tool::Point => egui::Key::Period,
            Tool::Ruler => egui::Key::M,
            Tool::Angle => egui::Key::N,
            Tool::Bidirectional => egui::Key::D,
            Tool::Rectangle => egui::Key::R,
            Tool::Ellipse => egui::Key::E,
            Tool::Polygon => egui::Key::G,
            Tool::Freehand => egui::Key::F,
            Tool::Brush => egui::Key::B,
            Tool::Eraser => egui::Key::X,
            Tool::Fill => egui::Key::K,
            Tool::ShapeFill => egui::Key::U,
        }
    }

    /// How to draw with it, for tooltips and the status line.
    pub fn how(self) -> &'static str {
        match self {
            Tool::Navigate => "Drag: window/level. Click an annotation to select it.",
            Tool::Point => "Click to place a marker.",
            Tool::Ruler => "Drag from one end to the other.",
            Tool::Angle => "Click three points: arm, vertex, arm.",
            Tool::Bidirectional => "Drag the long axis, then drag the short axis.",
            Tool::Rectangle => "Drag from corner to corner.",
            Tool::Ellipse => "Drag the box the ellipse fills.",
            Tool::Polygon => "Click the vertices; click the first one or double-click to close.",
            Tool::Freehand => "Drag around the outline; release to close.",
            Tool::Brush => "Drag to paint the active segment; [ and ] change the radius.",
            Tool::Eraser => "Drag to erase the active segment.",
            Tool::Fill => "Click inside a structure: fills the connected voxels in the HU range.",
            Tool::ShapeFill => "Drag around a structure: its inside is painted (HU range applies).",
        }
    }
}

/// Where on the series a viewport's plane is: the plane and the voxel index along its
/// normal. Annotation points on it are voxel coordinates along the plane's two other
/// voxel axes, lower axis first (the acquired plane: `[column, row]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlaneKey {
    /// Voxel axis along the normal (2: the acquired slices).
    pub depth_axis: usize,
    pub index: usize,
    pub plane: Plane,
}

impl PlaneKey {
    /// The two in-plane voxel axes, ascending.
    pub fn axes(self) -> [usize; 2] {
        match self.depth_axis {
            0 => [1, 2],
            1 => [0, 2],
            _ => [0, 1],
        }
    }

    /// The plane a viewport shows.
    pub fn of_view(view: &PlaneView) -> PlaneKey {
        let depth_axis = view.axes.depth.axis;
        let n = view.dims[depth_axis];
        let index = if view.axes.depth.flip {
            n.saturating_sub(1).saturating_sub(view.depth)
        } else {
            view.depth
        };
        PlaneKey {
            depth_axis,
            index: index.min(n.saturating_sub(1)),
            plane: view.plane,
        }
    }

    /// Plane point of a continuous voxel coordinate.
    pub fn point_of(self, voxel: [f64; 3]) -> Point {
        let [a, b] = self.axes();
        [voxel[a], voxel[b]]
    }

    /// Continuous voxel coordinate of a plane point.
    pub fn voxel_of(self, p: Point) -> [f64; 3] {
        let [a, b] = self.axes();
        let mut v = [0.0; 3];
        v[a] = p[0];
        v[b] = p[1];
        v[self.depth_axis] = self.index as f64;
        v
    }

    /// The physical size of one plane unit along each plane axis.
    pub fn spacing(self, grid: &VolumeGrid) -> PixelSpacing {
        let [a, b] = self.axes();
        PixelSpacing {
            column_mm: grid.spacing_mm[a],
            row_mm: grid.spacing_mm[b],
        }
    }
}

fn plane_name(plane: Plane) -> PlaneName {
    match plane {
        Plane::Axial => PlaneName::Axial,
        Plane::Coronal => PlaneName::Coronal,
        Plane::Sagittal => PlaneName::Sagittal,
    }
}

fn plane_of(name: PlaneName) -> Plane {
    match name {
        PlaneName::Axial => Plane::Axial,
        PlaneName::Coronal => Plane::Coronal,
        PlaneName::Sagittal => Plane::Sagittal,
    }
}

/// The image reference (with provenance) of an annotation drawn on `key`.
pub(super) fn image_ref(entry: &SeriesEntry, loaded: &LoadedSeries, key: PlaneKey) -> ImageRef {
    let info = &entry.info;
    let grid = &loaded.grid;
    let sha_of = |path: &std::path::Path| {
        entry
            .sources
            .iter()
            .find(|s| s.path == path)
            .and_then(|s| s.sha256.clone())
    };
    let mut provenance = Provenance {
        spacing_mm: [
            info.pixel_spacing_mm[0],
            info.pixel_spacing_mm[1],
            grid.spacing_mm[2],
        ],
        orientation: info.orientation,
        origin_mm: grid.origin_mm,
        dims: grid.dims.map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
        ..Provenance::default()
    };
    if key.depth_axis == 2 {
        let source = loaded.slices.get(key.index).and_then(|s| s.source.as_ref());
        if let Some(source) = source {
            provenance.sop_uids.push(source.sop_uid.clone());
            provenance.frames.push(source.frame);
            provenance.file_sha256.extend(sha_of(&source.path));
        }
        if let Some(slice) = loaded.slices.get(key.index) {
            provenance.origin_mm = slice.position_mm;
        }
        return ImageRef::Dicom {
            series_uid: info.series_uid.clone(),
            sop_uid: source.map(|s| s.sop_uid.clone()),
            frame: source.map(|s| s.frame),
            plane: None,
            provenance: Some(Box::new(provenance)),
        };
    }
    // A reformatted plane crosses every slice: one digest over the files' digests.
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    let mut complete = true;
    for slice in loaded.slices.iter() {
        match slice.source.as_ref().and_then(|s| sha_of(&s.path)) {
            Some(sha) => digest.update(sha.as_bytes()),
            None => complete = false,
        }
    }
    if complete && !loaded.slices.is_empty() {
        provenance
            .file_sha256
            .push(crate::project::id::hex(&digest.finalize()));
    }
    ImageRef::Dicom {
        series_uid: info.series_uid.clone(),
        sop_uid: None,
        frame: None,
        plane: Some(PlaneRef {
            plane: plane_name(key.plane),
            index: u32::try_from(key.index).unwrap_or(u32::MAX),
        }),
        provenance: Some(Box::new(provenance)),
    }
}

/// Where a stored annotation lies on the loaded series, if it belongs to it.
pub fn plane_key_of(
    annotation: &Annotation,
    grid: &VolumeGrid,
    slice_of_sop: &HashMap<String, usize>,
) -> Option<PlaneKey> {
    let ImageRef::Dicom { sop_uid, plane, .. } = &annotation.body.image else {
        return None;
    };
    match (plane, sop_uid) {
        (Some(p), _) => {
            let plane = plane_of(p.plane);
            Some(PlaneKey {
                depth_axis: grid.plane_axes(plane).depth.axis,
                index: p.index as usize,
                plane,
            })
        }
        (None, Some(sop)) => Some(PlaneKey {
            depth_axis: 2,
            index: *slice_of_sop.get(sop)?,
            plane: grid.acquired_plane(),
        }),
        (None, None) => None,
    }
}

/// The modality value (HU for CT) of voxel `v`, grey images only.
pub fn voxel_value(loaded: &LoadedSeries, info: &SeriesInfo, v: [usize; 3]) -> Option<f64> {
    let slice = loaded.slices.get(v[2])?;
    if slice.frame.samples_per_pixel != 1 || v[0] >= info.columns as usize {
        return None;
    }
    let index = v[1] * info.columns as usize + v[0];
    let stored = super::viewport::stored_sample(&slice.frame.samples, index)?;
    Some(info.modality_lut.apply(stored))
}

/// Statistics of an area annotation on `key` (grey images).
pub fn annotation_stats(
    loaded: &LoadedSeries,
    info: &SeriesInfo,
    key: PlaneKey,
    kind: Kind,
    points: &[Point],
) -> Option<RegionStats> {
    let region = shapes::region(kind, points)?;
    let [a, b] = key.axes();
    let dims = loaded.grid.dims;
    region_stats(&region, dims[a], dims[b], |x, y| {
        let mut v = [0usize; 3];
        v[a] = x;
        v[b] = y;
        v[key.depth_axis] = key.index;
        voxel_value(loaded, info, v)
    })
}

/// A pointer event on a viewport, in plane coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointerEvent {
    /// A drag began at this point (where the button went down).
    DragStart(Point),
    Drag(Point),
    DragEnd(Point),
    /// Press and release without moving.
    Click(Point),
    DoubleClick(Point),
    /// Hover with no button down (the rubber band of click-by-click tools).
    Hover(Point),
}

/// A shape being drawn with one of the drawing tools.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub kind: Kind,
    pub key: PlaneKey,
    pub points: Vec<Point>,
    /// Where the pointer is, for click-by-click tools (not yet a vertex).
    pub hover: Option<Point>,
}

/// What a pointer event did to the draft.
#[derive(Clone, Debug, PartialEq)]
pub enum DraftStep {
    /// Still drawing (or nothing to do).
    Continue,
    /// A complete shape: commit it.
    Done(Kind, Vec<Point>),
    /// Too small or abandoned.
    Cancelled,
}

impl Draft {
    /// Advances the drawing of `kind` on `key` by one event. `close` is the distance (in
    /// plane units) within which a click closes a polygon on its first vertex.
    pub fn step(
        draft: &mut Option<Draft>,
        kind: Kind,
        key: PlaneKey,
        event: PointerEvent,
        close: f64,
    ) -> DraftStep {
        use PointerEvent as E;
        if draft
            .as_ref()
            .is_some_and(|d| d.key != key || d.kind != kind)
        {
            *draft = None;
        }
        let start = |points: Vec<Point>| Draft {
            kind,
            key,
            points,
            hover: None,
        };
        let distinct = |p: &[Point]| p.len() >= 2 && p[0] != p[p.len() - 1];
        match (kind, event) {
            (Kind::Point, E::Click(p) | E::DragEnd(p)) => {
                *draft = None;
                DraftStep::Done(kind, vec![p])
            }
            (Kind::Ruler | Kind::Rectangle | Kind::Ellipse, E::DragStart(p)) => {
                *draft = Some(start(vec![p, p]));
                DraftStep::Continue
            }
            (Kind::Bidirectional, E::DragStart(p)) => {
                match draft {
                    Some(d) if d.points.len() == 2 => d.points.extend([p, p]),
                    _ => *draft = Some(start(vec![p, p])),
                }
                DraftStep::Continue
            }
            (Kind::Freehand, E::DragStart(p)) => {
                *draft = Some(start(vec![p]));
                DraftStep::Continue
            }
            (Kind::Freehand, E::Drag(p)) => {
                if let Some(d) = draft
                    && d.points
                        .last()
                        .is_none_or(|q| (q[0] - p[0]).hypot(q[1] - p[1]) >= 0.5)
                {
                    d.points.push(p);
                }
                DraftStep::Continue
            }
            (Kind::Ruler | Kind::Rectangle | Kind::Ellipse | Kind::Bidirectional, E::Drag(p)) => {
                if let Some(d) = draft
                    && let Some(last) = d.points.last_mut()
                {
                    *last = p;
                }
                DraftStep::Continue
            }
            (Kind::Ruler | Kind::Rectangle | Kind::Ellipse, E::DragEnd(p)) => {
                let Some(mut d) = draft.take() else {
                    return DraftStep::Continue;
                };
                d.points[1] = p;
                let flat = matches!(kind, Kind::Rectangle | Kind::Ellipse)
                    && (d.points[0][0] == p[0] || d.points[0][1] == p[1]);
                if distinct(&d.points) && !flat {
                    DraftStep::Done(kind, d.points)
                } else {
                    DraftStep::Cancelled
                }
            }
            (Kind::Bidirectional, E::DragEnd(p)) => {
                let Some(d) = draft else {
                    return DraftStep::Continue;
                };
                let n = d.points.len();
                d.points[n - 1] = p;
                if !distinct(&d.points[n - 2..]) {
                    *draft = None;
                    return DraftStep::Cancelled;
                }
                if n == 4 {
                    let points = std::mem::take(&mut d.points);
                    *draft = None;
                    return DraftStep::Done(kind, points);
                }
                DraftStep::Continue
            }
            (Kind::Freehand, E::DragEnd(p)) => {
                let Some(mut d) = draft.take() else {
                    return DraftStep::Continue;
                };
                if d.points.last() != Some(&p) {
                    d.points.push(p);
                }
                if d.points.len() >= 3 {
                    DraftStep::Done(kind, d.points)
                } else {
                    DraftStep::Cancelled
                }
            }
            (Kind::Angle, E::Click(p)) => {
                let d = draft.get_or_insert_with(|| start(Vec::new()));
                d.points.push(p);
                if d.points.len() == 3 {
                    let points = std::mem::take(&mut d.points);
                    *draft = None;
                    return DraftStep::Done(kind, points);
                }
                DraftStep::Continue
            }
            (Kind::Polygon, E::Click(p)) => {
                let d = draft.get_or_insert_with(|| start(Vec::new()));
                let closes = d.points.len() >= 3
                    && d.points
                        .first()
                        .is_some_and(|f| (f[0] - p[0]).hypot(f[1] - p[1]) <= close);
                if closes {
                    let points = std::mem::take(&mut d.points);
                    *draft = None;
                    return DraftStep::Done(kind, points);
                }
                if d.points.last() != Some(&p) {
                    d.points.push(p);
                }
                DraftStep::Continue
            }
            (Kind::Polygon, E::DoubleClick(_)) => match draft.take() {
                Some(d) if d.points.len() >= 3 => DraftStep::Done(kind, d.points),
                Some(d) => {
                    *draft = Some(d);
                    DraftStep::Continue
                }
                None => DraftStep::Continue,
            },
            (Kind::Angle | Kind::Polygon, E::Hover(p)) => {
                if let Some(d) = draft {
                    d.hover = Some(p);
                }
                DraftStep::Continue
            }
            _ => DraftStep::Continue,
        }
    }

    /// The points to draw now: the vertices and, for click-by-click tools, the pointer.
    pub fn preview(&self) -> Vec<Point> {
        let mut points = self.points.clone();
        if let Some(h) = self.hover {
            points.push(h);
        }
        points
    }
}

/// An annotation being reshaped by dragging a vertex, or moved whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Reshape {
    pub before: Annotation,
    /// `None`: every point moves (the shape is dragged by its outline).
    pub vertex: Option<usize>,
    pub grabbed: Point,
    pub points: Vec<Point>,
}

impl Reshape {
    /// The points after the pointer moved to `p`.
    pub fn drag_to(&mut self, p: Point) {
        let before = &self.before.body.points;
        match self.vertex {
            Some(v) if v < self.points.len() => self.points[v] = p,
            Some(_) => {}
            None => {
                let d = [p[0] - self.grabbed[0], p[1] - self.grabbed[1]];
                self.points = before.iter().map(|q| [q[0] + d[0], q[1] + d[1]]).collect();
            }
        }
    }

    /// The annotation as it will be committed.
    pub fn after(&self) -> Annotation {
        let mut after = self.before.clone();
        after.body.points = self.points.clone();
        after
    }
}

/// One annotation as the layer shows it: where it lies and what it measures.
#[derive(Clone, Debug)]
pub struct Shown {
    pub annotation: Annotation,
    pub key: Option<PlaneKey>,
    pub measurement: Option<String>,
    /// Region statistics in full (the panel) and short (over the image).
    pub stats: Option<String>,
    pub short_stats: Option<String>,
}

/// One line of the history panel.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryLine {
    pub author: String,
    pub time_ms: i64,
    pub text: String,
    pub mine: bool,
}

/// The annotation side of the window for the selected series.
pub struct AnnotationLayer {
    pub tool: Tool,
    /// The label new annotations get.
    pub label: Label,
    /// The series whose annotations are loaded (its UID), and them.
    pub series_uid: Option<String>,
    pub shown: Vec<Shown>,
    pub selected: Option<Id>,
    pub draft: Option<Draft>,
    pub reshape: Option<Reshape>,
    pub history: Vec<HistoryLine>,
    pub show_history: bool,
    /// Who created each shown annotation (for the side-by-side comparison).
    pub authors: HashMap<Id, Id>,
    /// Two readers shown side by side, each in their colour (`None`: the normal view).
    pub compare: Option<Compare>,
    /// Draw every shape in this colour (a reader's, in the comparison).
    pub tint: Option<egui::Color32>,
}

/// Two readers of the series shown side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    pub readers: [(Id, String); 2],
}

/// The two readers' colours in the comparison (distinct from the usual yellow).
pub const READER_COLOURS: [egui::Color32; 2] = [
    egui::Color32::from_rgb(80, 200, 255),
    egui::Color32::from_rgb(255, 110, 180),
];

impl Default for AnnotationLayer {
    fn default() -> Self {
        Self {
            tool: Tool::Navigate,
            label: default_label(),
            series_uid: None,
            shown: Vec::new(),
            selected: None,
            draft: None,
            reshape: None,
            history: Vec::new(),
            show_history: false,
            authors: HashMap::new(),
            compare: None,
            tint: None,
        }
    }
}

/// The label new annotations get until the user picks another: Lesion (SCT 52988006).
pub fn default_label() -> Label {
    Label {
        name: "Lesion".into(),
        scheme: Some("SCT".into()),
        code: Some("52988006".into()),
        meaning: Some("Lesion".into()),
    }
}

impl AnnotationLayer {
    /// The shown annotation with this id.
    pub fn get(&self, id: Id) -> Option<&Shown> {
        self.shown.iter().find(|s| s.annotation.id == id)
    }

    /// Replaces the shown annotations with `annotations` of the loaded series.
    pub fn set_annotations(
        &mut self,
        series_uid: &str,
        annotations: Vec<Annotation>,
        loaded: &LoadedSeries,
        info: &SeriesInfo,
    ) {
        let slice_of_sop: HashMap<String, usize> = loaded
            .slices
            .iter()
            .enumerate()
            .filter_map(|(k, s)| Some((s.source.as_ref()?.sop_uid.clone(), k)))
            .collect();
        let unit = if info.modality == "CT" { "HU" } else { "" };
        self.shown = annotations
            .into_iter()
            .filter(|a| matches!(&a.body.image, ImageRef::Dicom { series_uid: s, .. } if s == series_uid))
            .map(|annotation| {
                let key = plane_key_of(&annotation, &loaded.grid, &slice_of_sop);
                let (measurement, stats, short_stats) = match key {
                    Some(key) => {
                        let body = &annotation.body;
                        let m = shapes::Measurement::of(
                            body.kind,
                            &body.points,
                            &key.spacing(&loaded.grid),
                        );
                        let stats = annotation_stats(loaded, info, key, body.kind, &body.points);
                        let short = stats.map(|s| format!("{:.1} ± {:.1} {unit}", s.mean, s.sd));
                        (m.text(), stats.map(|s| shapes::stats_text(&s, unit)), short)
                    }
                    None => (None, None, None),
                };
                Shown {
                    annotation,
                    key,
                    measurement,
                    stats,
                    short_stats,
                }
            })
            .collect();
        self.series_uid = Some(series_uid.to_owned());
        if self.selected.is_some_and(|id| self.get(id).is_none()) {
            self.selected = None;
        }
    }

    /// One reader's annotations only, drawn in `tint`, nothing selected or drafted: one
    /// side of the comparison.
    pub fn only_by(&self, reader: Id, tint: egui::Color32) -> AnnotationLayer {
        AnnotationLayer {
            tool: Tool::Navigate,
            label: self.label.clone(),
            series_uid: self.series_uid.clone(),
            shown: self
                .shown
                .iter()
                .filter(|s| self.authors.get(&s.annotation.id) == Some(&reader))
                .cloned()
                .collect(),
            tint: Some(tint),
            ..AnnotationLayer::default()
        }
    }

    /// Forgets the series' annotations (another series, or the project closed).
    pub fn clear(&mut self) {
        self.series_uid = None;
        self.compare = None;
        self.authors.clear();
        self.shown.clear();
        self.selected = None;
        self.draft = None;
        self.reshape = None;
    }

    /// A new annotation body of `kind` with `points` on `key`.
    pub fn body(&self, image: ImageRef, kind: Kind, points: Vec<Point>) -> AnnotationBody {
        AnnotationBody {
            image,
            kind,
            points,
            label: self.label.clone(),
            comment: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    const KEY: PlaneKey = PlaneKey {
        depth_axis: 2,
        index: 4,
        plane: Plane::Axial,
    };

    fn run(kind: Kind, events: &[PointerEvent]) -> Vec<DraftStep> {
        let mut draft = None;
        events
            .iter()
            .map(|e| Draft::step(&mut draft, kind, KEY, *e, 2.0))
            .collect()
    }

    #[test]
    fn drag_tools_finish_on_release_and_skip_zero_size() {
        use PointerEvent as E;
        let steps = run(
            Kind::Ruler,
            &[
                E::DragStart([1.0, 1.0]),
                E::Drag([5.0, 1.0]),
                E::DragEnd([9.0, 1.0]),
            ],
        );
        assert_eq!(
            steps.last(),
            Some(&DraftStep::Done(Kind::Ruler, vec![[1.0, 1.0], [9.0, 1.0]]))
        );
        let flat = run(
            Kind::Rectangle,
            &[E::DragStart([1.0, 1.0]), E::DragEnd([9.0, 1.0])],
        );
        assert_eq!(flat.last(), Some(&DraftStep::Cancelled));
    }

    #[test]
    fn bidirectional_takes_two_drags_and_polygon_closes_on_its_first_vertex() {
        use PointerEvent as E;
        let steps = run(
            Kind::Bidirectional,
            &[
                E::DragStart([0.0, 0.0]),
                E::DragEnd([10.0, 0.0]),
                E::DragStart([5.0, -2.0]),
                E::DragEnd([5.0, 2.0]),
            ],
        );
        assert_eq!(steps[1], DraftStep::Continue);
        assert_eq!(
            steps[3],
            DraftStep::Done(
                Kind::Bidirectional,
                vec![[0.0, 0.0], [10.0, 0.0], [5.0, -2.0], [5.0, 2.0]]
            )
        );
        let poly = run(
            Kind::Polygon,
            &[
                E::Click([0.0, 0.0]),
                E::Click([10.0, 0.0]),
                E::Hover([10.0, 9.0]),
                E::Click([10.0, 10.0]),
                E::Click([0.5, 0.5]),
            ],
        );
        assert_eq!(
            poly.last(),
            Some(&DraftStep::Done(
                Kind::Polygon,
                vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]
            ))
        );
        let angle = run(
            Kind::Angle,
            &[
                E::Click([0.0, 0.0]),
                E::Click([1.0, 0.0]),
                E::Click([1.0, 1.0]),
            ],
        );
        assert!(matches!(angle.last(), Some(DraftStep::Done(Kind::Angle, p)) if p.len() == 3));
    }

    #[test]
    fn plane_keys_round_trip_voxels() {
        let coronal = PlaneKey {
            depth_axis: 1,
            index: 7,
            plane: Plane::Coronal,
        };
        let v = [3.5, 7.0, 11.25];
        assert_eq!(coronal.point_of(v), [3.5, 11.25]);
        assert_eq!(coronal.voxel_of([3.5, 11.25]), v);
        assert_eq!(KEY.point_of([1.0, 2.0, 4.0]), [1.0, 2.0]);
    }

    #[test]
    fn reshape_moves_a_vertex_or_the_whole_shape() {
        let before = Annotation {
            id: Id([3; 16]),
            body: AnnotationBody {
                image: ImageRef::Slide {
                    slide_sha256: "00".into(),
                },
                kind: Kind::Ruler,
                points: vec![[0.0, 0.0], [10.0, 0.0]],
                label: default_label(),
                comment: None,
            },
        };
        let mut r = Reshape {
            before: before.clone(),
            vertex: Some(1),
            grabbed: [10.0, 0.0],
            points: before.body.points.clone(),
        };
        r.drag_to([12.0, 3.0]);
        assert_eq!(r.after().body.points, vec![[0.0, 0.0], [12.0, 3.0]]);
        let mut whole = Reshape {
            vertex: None,
            grabbed: [5.0, 0.0],
            ..r
        };
        whole.drag_to([6.0, 1.0]);
        assert_eq!(whole.points, vec![[1.0, 1.0], [11.0, 1.0]]);
    }
}
