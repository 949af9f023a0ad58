//! The slide viewer: one whole-slide image, its tile pyramid drawn from GPU textures.
//!
//! Owns the slide screen's state ([`SlideView`]: the open slide, its tile cache and
//! workers, the view, the tile textures) and its one state-changing entry,
//! [`SlideView::apply`]. Tiles are decoded by `imaging::slide::pool` workers into the
//! cache; each frame the view's cover is computed (`imaging::slide::cover`), the wanted
//! tiles replace the workers' queue (which cancels what left the view), cached tiles are
//! uploaded as textures (a bounded number per frame), and the draw order paints coarser
//! stand-ins under finer tiles so nothing loading shows as a hole. The slide is opened
//! on a named thread; the UI never waits for slide I/O. Label and macro images are
//! read only when the user asks for them (they may show the patient's name).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use eframe::egui_wgpu;
use egui::{
    Color32, ColorImage, Event, MouseWheelUnit, PointerButton, Pos2, Rect, Sense, Stroke,
    TextureHandle, TextureOptions, Ui, Vec2, WidgetInfo,
};

use super::annotations::{PointerEvent, Tool};
use super::slide_annotations::SlideAnnotations;
use super::slide_textures::{Drawn, TileTextures};
use super::{Command, slide_annotations, slide_panels, theme};
use crate::imaging::slide::cache::{DEFAULT_TILE_CACHE_BYTES, TileCache};
use crate::imaging::slide::cover::{self, Cover, View};
use crate::imaging::slide::pool::{DEFAULT_QUEUE_CAPACITY, Priority, Ready, TilePool, TileSource};
use crate::imaging::slide::{PathChoice, Slide, SlideInfo, TileKey};

/// Something the user asked of the slide view; applied by [`SlideView::apply`].
#[derive(Clone, Debug, PartialEq)]
pub enum SlideCommand {
    /// Multiply the zoom, keeping the point `about` (points from the view's top-left)
    /// where it is on screen.
    Zoom {
        factor: f64,
        about: [f32; 2],
    },
    /// Move the slide by this many points on screen.
    Pan {
        delta: [f32; 2],
    },
    /// Centre the view on this level-0 position.
    CenterOn {
        level0: [f64; 2],
    },
    /// The whole slide in view.
    Fit,
    /// Centre on a level-0 position at `zoom_px` screen pixels per level-0 pixel
    /// (restoring a view; benchmarks).
    Show {
        center_level0: [f64; 2],
        zoom_px: f64,
    },
    /// Show the slide at this objective magnification (1x, 5x, … 40x): one screen pixel
    /// per scanned pixel at the scanner's own objective power.
    Magnification(f64),
    /// Select the annotation under a level-0 point (within `tolerance` level-0 pixels),
    /// or none.
    Select {
        level0: [f64; 2],
        tolerance: f64,
    },
    /// Select an annotation and centre the view on it (from the list).
    SelectObject(crate::project::Id),
    SetShowProperties(bool),
    /// Read and show an associated image (label, macro): an explicit request only.
    ShowAssociated(String),
    HideAssociated,
}

/// Tile textures uploaded per frame at most, so one frame never stalls on uploads.
const UPLOADS_PER_FRAME: usize = 48;
/// While more visible tiles are being decoded, arrivals within this long share one
/// frame (instead of a frame per tile, which on two cores takes CPU from the decoders).
const TILE_REPAINT_AFTER: std::time::Duration = std::time::Duration::from_millis(4);
/// Screen pixels per level-0 pixel at the most magnified zoom.
const MAX_ZOOM_PX: f64 = 4.0;
/// Standard objective presets.
pub const MAGNIFICATIONS: [f64; 5] = [1.0, 5.0, 10.0, 20.0, 40.0];

/// The slide screen: opening, or open.
pub enum SlideView {
    Opening {
        path: PathBuf,
        rx: Receiver<Result<Slide, String>>,
        started: Instant,
    },
    Open(Box<OpenSlideView>),
}

pub struct OpenSlideView {
    pub(super) slide: Arc<Slide>,
    cache: Arc<TileCache>,
    pool: TilePool,
    /// The view in points (zoom: points per level-0 pixel); `None` until the first frame
    /// knows the screen size.
    pub(super) view: Option<View>,
    /// The whole slide stays fitted (through window resizes) until the user zooms or pans.
    auto_fit: bool,
    pixels_per_point: f32,
    textures: TileTextures,
    frame: u64,
    last_cover: Option<Cover>,
    pub(super) show_properties: bool,
    /// An associated image on explicit request: its name and texture, or why it failed.
    pub(super) associated: Option<(String, Result<TextureHandle, String>)>,
    /// The level-0 position under the pointer.
    pub(super) pointer_level0: Option<[f64; 2]>,
    started: Instant,
    /// Milliseconds from the open request to the first frame showing the whole overview.
    pub overview_ms: Option<f64>,
    /// The last frame's CPU time in the slide view (cover, uploads, drawing), ms.
    pub frame_ms: f64,
    /// Visible tiles the last frame had no texture for (stand-ins were drawn).
    missing_visible: usize,
    /// The slide's annotations (with a project open) and the drawing tool.
    pub(super) annotations: SlideAnnotations,
}

impl SlideView {
    /// Starts opening `path` on a named thread; `repaint` is asked for when it is done
    /// and whenever a tile arrives.
    pub fn open(path: PathBuf, ctx: &egui::Context) -> Result<SlideView, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let worker_path = path.clone();
        let repaint = ctx.clone();
        std::thread::Builder::new()
            .name("slide-open".into())
            .spawn(move || {
                let result = Slide::open(&worker_path, PathChoice::Auto).map_err(|e| e.to_string());
                let _ = tx.send(result);
                repaint.request_repaint();
            })
            .map_err(|e| format!("cannot start opening the slide: {e}"))?;
        Ok(SlideView::Opening {
            path,
            rx,
            started: Instant::now(),
        })
    }

    /// Moves from opening to open when the slide arrived; `Err` when it failed to open.
    pub fn poll(
        &mut self,
        ctx: &egui::Context,
        render_state: Option<&egui_wgpu::RenderState>,
    ) -> Result<(), String> {
        let SlideView::Opening { rx, started, .. } = self else {
            return Ok(());
        };
        let slide = match rx.try_recv() {
            Ok(Ok(slide)) => slide,
            Ok(Err(e)) => return Err(e),
            Err(TryRecvError::Empty) => return Ok(()),
            Err(TryRecvError::Disconnected) => return Err("the slide reader stopped".into()),
        };
        let slide = Arc::new(slide);
        let info = slide.info();
        let mpp = info.mpp_x.zip(info.mpp_y).map(|(x, y)| [x, y]);
        let extent = info
            .levels
            .first()
            .map_or([1.0, 1.0], |l| [l.width as f64, l.height as f64]);
        let annotations = SlideAnnotations::new(slide.path(), mpp, extent, ctx);
        let cache = Arc::new(TileCache::new(DEFAULT_TILE_CACHE_BYTES));
        let repaint = ctx.clone();
        let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let pool = TilePool::new(
            Arc::clone(&slide) as Arc<dyn TileSource>,
            Arc::clone(&cache),
            workers,
            DEFAULT_QUEUE_CAPACITY,
            move |ready: Ready| match ready.priority {
                // The last visible tile: show the complete view now.
                Priority::Visible if ready.visible_left == 0 => repaint.request_repaint(),
                // More on the way: one frame uploads the tiles that arrived meanwhile.
                Priority::Visible => repaint.request_repaint_after(TILE_REPAINT_AFTER),
                // Prefetched tiles are not drawn; the frame that shows them uploads them.
                Priority::NextZoom | Priority::Neighbour => {}
            },
        )
        .map_err(|e| format!("cannot start the tile workers: {e}"))?;
        *self = SlideView::Open(Box::new(OpenSlideView {
            slide,
            cache,
            pool,
            view: None,
            auto_fit: true,
            pixels_per_point: 1.0,
            textures: TileTextures::new(render_state),
            frame: 0,
            last_cover: None,
            show_properties: false,
            associated: None,
            pointer_level0: None,
            started: *started,
            overview_ms: None,
            frame_ms: 0.0,
            missing_visible: 0,
            annotations,
        }));
        Ok(())
    }

    pub fn path(&self) -> &Path {
        match self {
            SlideView::Opening { path, .. } => path,
            SlideView::Open(open) => open.slide.path(),
        }
    }

    /// Tiles queued or being decoded (0 while opening).
    pub fn pending_tiles(&self) -> usize {
        match self {
            SlideView::Opening { .. } => 0,
            SlideView::Open(open) => open.pool.pending(),
        }
    }

    /// Tiles the workers have read since the slide opened (benchmarks).
    pub fn tiles_decoded(&self) -> u64 {
        match self {
            SlideView::Opening { .. } => 0,
            SlideView::Open(open) => open.pool.decoded(),
        }
    }

    /// Whether the slide is still being opened.
    pub fn is_opening(&self) -> bool {
        matches!(self, SlideView::Opening { .. })
    }

    /// The open slide's summary.
    pub fn info(&self) -> Option<&SlideInfo> {
        match self {
            SlideView::Opening { .. } => None,
            SlideView::Open(open) => Some(open.slide.info()),
        }
    }

    /// Visible tiles the last frame drew stand-ins for (0: the view is complete).
    pub fn missing_visible(&self) -> usize {
        match self {
            SlideView::Opening { .. } => 0,
            SlideView::Open(open) => open.missing_visible,
        }
    }

    /// Empties the decoded-tile cache and the uploaded tiles (benchmarks of cold views):
    /// every tile is decoded and uploaded again. The GPU textures themselves become
    /// spares, as tiles evicted in a long session do.
    pub fn clear_tiles(&mut self) {
        if let SlideView::Open(open) = self {
            open.pool.cancel_all();
            open.pool.wait_idle();
            open.cache.clear();
            open.textures.clear();
            open.last_cover = None;
        }
    }

    /// Milliseconds from the open request to the whole overview on screen.
    pub fn overview_ms(&self) -> Option<f64> {
        match self {
            SlideView::Opening { .. } => None,
            SlideView::Open(open) => open.overview_ms,
        }
    }

    /// The current view in points, once shown.
    pub fn view(&self) -> Option<View> {
        match self {
            SlideView::Opening { .. } => None,
            SlideView::Open(open) => open.view,
        }
    }

    /// The slide's annotations, once open.
    pub fn annotations(&self) -> Option<&SlideAnnotations> {
        match self {
            SlideView::Opening { .. } => None,
            SlideView::Open(open) => Some(&open.annotations),
        }
    }

    /// The slide's annotations, mutably (the app reloads them; benchmarks fill them).
    pub fn annotations_mut(&mut self) -> Option<&mut SlideAnnotations> {
        match self {
            SlideView::Opening { .. } => None,
            SlideView::Open(open) => Some(&mut open.annotations),
        }
    }

    /// The one place that changes the slide view's state.
    pub fn apply(&mut self, ctx: &egui::Context, command: SlideCommand) {
        let SlideView::Open(open) = self else {
            return;
        };
        open.apply(ctx, command);
    }
}

impl OpenSlideView {
    fn level0_size(&self) -> [f64; 2] {
        self.slide
            .info()
            .levels
            .first()
            .map_or([1.0, 1.0], |l| [l.width as f64, l.height as f64])
    }

    /// Zoom limits in points per level-0 pixel.
    fn zoom_limits(&self, screen: [f64; 2]) -> (f64, f64) {
        let [w, h] = self.level0_size();
        let fit = View::fit(w, h, screen).zoom;
        let max = MAX_ZOOM_PX / f64::from(self.pixels_per_point);
        (fit.min(max) * 0.5, max)
    }

    /// Points per level-0 pixel that show objective magnification `m`.
    pub(super) fn zoom_for_magnification(&self, m: f64) -> Option<f64> {
        let objective = self.slide.info().objective_power?;
        Some(m / objective / f64::from(self.pixels_per_point))
    }

    /// The magnification shown (objective power x screen pixels per level-0 pixel).
    pub(super) fn magnification(&self) -> Option<f64> {
        let objective = self.slide.info().objective_power?;
        Some(objective * self.view?.zoom * f64::from(self.pixels_per_point))
    }

    fn apply(&mut self, ctx: &egui::Context, command: SlideCommand) {
        let Some(view) = self.view else {
            return;
        };
        let (min_zoom, max_zoom) = self.zoom_limits(view.screen_px);
        self.auto_fit = matches!(command, SlideCommand::Fit)
            || (self.auto_fit
                && matches!(
                    command,
                    SlideCommand::SetShowProperties(_)
                        | SlideCommand::ShowAssociated(_)
                        | SlideCommand::HideAssociated
                        | SlideCommand::Select { .. }
                ));
        let new = match command {
            SlideCommand::Zoom { factor, about } => {
                let about = [f64::from(about[0]), f64::from(about[1])];
                view.zoomed_about(about, factor, min_zoom, max_zoom)
            }
            SlideCommand::Pan { delta } => View {
                center_level0: [
                    view.center_level0[0] - f64::from(delta[0]) / view.zoom,
                    view.center_level0[1] - f64::from(delta[1]) / view.zoom,
                ],
                ..view
            },
            SlideCommand::CenterOn { level0 } => View {
                center_level0: level0,
                ..view
            },
            SlideCommand::Fit => {
                let [w, h] = self.level0_size();
                View::fit(w, h, view.screen_px)
            }
            SlideCommand::Show {
                center_level0,
                zoom_px,
            } => View {
                center_level0,
                zoom: (zoom_px / f64::from(self.pixels_per_point)).clamp(min_zoom, max_zoom),
                ..view
            },
            SlideCommand::Magnification(m) => match self.zoom_for_magnification(m) {
                Some(zoom) => View {
                    zoom: zoom.clamp(min_zoom, max_zoom),
                    ..view
                },
                None => view,
            },
            SlideCommand::Select { level0, tolerance } => {
                self.annotations.select_at(level0, tolerance);
                view
            }
            SlideCommand::SelectObject(id) => match self.annotations.select(id) {
                Some(centre) => View {
                    center_level0: centre,
                    ..view
                },
                None => view,
            },
            SlideCommand::SetShowProperties(show) => {
                self.show_properties = show;
                view
            }
            SlideCommand::ShowAssociated(name) => {
                let shown = self.slide.associated_image(&name).map(|(w, h, rgba)| {
                    let image =
                        ColorImage::from_rgba_premultiplied([w as usize, h as usize], &rgba);
                    ctx.load_texture(
                        format!("slide-associated-{name}"),
                        image,
                        TextureOptions::LINEAR,
                    )
                });
                self.associated = Some((name, shown));
                view
            }
            SlideCommand::HideAssociated => {
                self.associated = None;
                view
            }
        };
        self.view = Some(self.clamped(new));
    }

    /// Keeps the slide's centre within the slide (a little beyond its edges is fine).
    fn clamped(&self, mut view: View) -> View {
        let [w, h] = self.level0_size();
        view.center_level0[0] = view.center_level0[0].clamp(0.0, w);
        view.center_level0[1] = view.center_level0[1].clamp(0.0, h);
        view
    }

    /// The view in physical pixels, which is what level choice and tile counts use.
    fn view_px(&self, view: &View) -> View {
        let ppp = f64::from(self.pixels_per_point);
        View {
            center_level0: view.center_level0,
            zoom: view.zoom * ppp,
            screen_px: [view.screen_px[0] * ppp, view.screen_px[1] * ppp],
        }
    }

    /// Asks the workers for what this cover needs (when it changed): the overview and
    /// the visible tiles first, then the next zoom level, then the neighbours.
    fn request(&mut self, cover: &Cover) {
        if self.last_cover.as_ref() == Some(cover) {
            return;
        }
        let wanted = cover
            .overview
            .iter()
            .chain(&cover.visible)
            .map(|k| (*k, Priority::Visible))
            .chain(cover.next_zoom.iter().map(|k| (*k, Priority::NextZoom)))
            .chain(cover.neighbours.iter().map(|k| (*k, Priority::Neighbour)));
        self.pool.replace_wanted(wanted);
        self.last_cover = Some(cover.clone());
    }

    /// Whether the tile can be drawn now (textured, or known blank), uploading it from
    /// the cache when there is upload budget left this frame.
    fn ensure_texture(&mut self, ctx: &egui::Context, key: TileKey, budget: &mut usize) -> bool {
        self.textures
            .ensure(ctx, &self.cache, key, self.frame, budget)
    }

    /// The texture of a tile, when uploaded.
    pub(super) fn tile_texture(&self, key: TileKey) -> Option<egui::TextureId> {
        self.textures.id(key)
    }
}

/// File extensions OpenSlide reads (its own list), offered by the slide dialog.
pub const SLIDE_EXTENSIONS: &[&str] = &[
    "svs", "tif", "tiff", "ndpi", "vms", "vmu", "scn", "mrxs", "svslide", "bif",
];

/// Whether `paths` is one slide file (which opens the slide screen).
pub fn is_slide(paths: &[PathBuf]) -> bool {
    matches!(paths, [one] if crate::imaging::slide::looks_like_slide(one))
}

/// The left button's events as level-0 positions for the drawing tool.
fn drawing_input(
    ui: &Ui,
    response: &egui::Response,
    view: &View,
    origin: Pos2,
    annotations: &SlideAnnotations,
) -> Vec<Command> {
    let here = |p: Pos2| {
        let local = p - origin;
        view.level0_from_screen([f64::from(local.x), f64::from(local.y)])
    };
    // A polygon closes on a click within 8 points of its first vertex.
    let close = 8.0 / view.zoom;
    let mut events = Vec::new();
    if response.drag_started_by(PointerButton::Primary)
        && let Some(origin) = ui.input(|i| i.pointer.press_origin())
    {
        events.push(PointerEvent::DragStart(here(origin)));
    }
    if response.dragged_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        events.push(PointerEvent::Drag(here(p)));
    }
    if response.drag_stopped_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        events.push(PointerEvent::DragEnd(here(p)));
    }
    let pointer = response.hover_pos().or(response.interact_pointer_pos());
    // Only a polygon takes double clicks (to close); for the others a quick second
    // click is a click (counting cells).
    if annotations.tool == Tool::Polygon
        && response.double_clicked_by(PointerButton::Primary)
        && let Some(p) = pointer
    {
        events.push(PointerEvent::DoubleClick(here(p)));
    } else if response.clicked_by(PointerButton::Primary)
        && let Some(p) = pointer
    {
        events.push(PointerEvent::Click(here(p)));
    }
    if annotations.tool == Tool::Polygon
        && let Some(p) = response.hover_pos()
        && annotations.draft.as_ref().and_then(|d| d.hover) != Some(here(p))
    {
        events.push(PointerEvent::Hover(here(p)));
    }
    events
        .into_iter()
        .map(|event| Command::SlidePointer { event, close })
        .collect()
}

/// Wheel and pinch zoom this frame as a factor (a wheel line zooms by 1.25).
fn zoom_factor(ui: &Ui) -> f64 {
    ui.input(|i| {
        let wheel: f64 = i
            .events
            .iter()
            .filter_map(|event| match event {
                Event::MouseWheel { unit, delta, .. } => Some(match unit {
                    MouseWheelUnit::Point => f64::from(delta.y) / 40.0,
                    MouseWheelUnit::Line => f64::from(delta.y),
                    MouseWheelUnit::Page => f64::from(delta.y) * 4.0,
                }),
                _ => None,
            })
            .sum();
        let pinch = i
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Zoom(f) => Some(f64::from(*f)),
                _ => None,
            })
            .product::<f64>();
        1.25f64.powf(wheel) * pinch
    })
}

/// The slide screen: toolbar, status line, properties panel, the slide.
///
/// `annotating`: a project is open for editing (the annotation panel and tools show).
pub fn slide_screen_ui(ui: &mut Ui, slide: &mut SlideView, annotating: bool) -> Vec<Command> {
    let mut commands = Vec::new();
    let open = match slide {
        SlideView::Opening { path, .. } => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            egui::CentralPanel::default().show(ui, |ui| {
                ui.centered_and_justified(|ui| {
                    ui.label(
                        egui::RichText::new(format!("Opening {name}…")).color(theme::TEXT_DIM),
                    );
                });
            });
            return commands;
        }
        SlideView::Open(open) => open,
    };
    let started = Instant::now();
    egui::Panel::top("slide-toolbar")
        .frame(
            egui::Frame::side_top_panel(ui.style())
                .inner_margin(egui::Margin::symmetric(theme::PANEL_MARGIN, 4)),
        )
        .show(ui, |ui| commands.extend(slide_panels::toolbar_ui(ui, open)));
    egui::Panel::bottom("slide-status")
        .exact_size(theme::STATUS_BAR_HEIGHT)
        .frame(
            egui::Frame::side_top_panel(ui.style())
                .inner_margin(egui::Margin::symmetric(theme::PANEL_MARGIN, 0)),
        )
        .show(ui, |ui| slide_panels::status_ui(ui, open));
    if open.show_properties {
        egui::Panel::right("slide-properties")
            .resizable(true)
            .default_size(theme::TAG_PANEL_WIDTH * 0.8)
            .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(theme::panel_margin()))
            .show(ui, |ui| {
                commands.extend(slide_panels::properties_ui(ui, open))
            });
    }
    if annotating {
        egui::Panel::left("slide-annotations")
            .resizable(true)
            .default_size(theme::TAG_PANEL_WIDTH * 0.7)
            .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(theme::panel_margin()))
            .show(ui, |ui| {
                commands.extend(slide_annotations::panel_ui(ui, &open.annotations))
            });
    }
    egui::CentralPanel::default()
        .frame(egui::Frame::new().fill(theme::VIEWPORT_BACKGROUND))
        .show(ui, |ui| {
            commands.extend(slide_viewport_ui(ui, open, annotating))
        });
    if let Some(c) = slide_panels::associated_window_ui(ui.ctx(), open) {
        commands.push(c);
    }
    open.frame_ms = started.elapsed().as_secs_f64() * 1e3;
    commands
}

fn slide_viewport_ui(ui: &mut Ui, open: &mut OpenSlideView, annotating: bool) -> Vec<Command> {
    let mut commands = Vec::new();
    let rect = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Image, true, "Slide viewport"));
    open.frame += 1;
    open.pixels_per_point = ui.ctx().pixels_per_point();
    let screen = [f64::from(rect.width()), f64::from(rect.height())];
    let view = match open.view {
        Some(v) if !open.auto_fit => View {
            screen_px: screen,
            ..v
        },
        _ => {
            let [w, h] = open.level0_size();
            View::fit(w, h, screen)
        }
    };
    open.view = Some(view);
    let origin = rect.min;
    let to_screen = |p: [f64; 2]| {
        let s = view.screen_from_level0(p);
        Pos2::new(origin.x + s[0] as f32, origin.y + s[1] as f32)
    };

    // Input: wheel zooms about the pointer, left drag pans, double click zooms in.
    let pointer = response.hover_pos();
    open.pointer_level0 = pointer.map(|p| {
        let local = p - origin;
        view.level0_from_screen([f64::from(local.x), f64::from(local.y)])
    });
    if let Some(p) = pointer {
        let factor = zoom_factor(ui);
        if (factor - 1.0).abs() > 1e-6 {
            let about = [p.x - origin.x, p.y - origin.y];
            commands.push(Command::Slide(SlideCommand::Zoom { factor, about }));
        }
    }
    // With a drawing tool (and the slide's fingerprint known) the left button draws.
    let drawing =
        annotating && open.annotations.sha256.is_some() && open.annotations.tool != Tool::Navigate;
    if drawing {
        commands.extend(drawing_input(
            ui,
            &response,
            &view,
            origin,
            &open.annotations,
        ));
    }
    if (!drawing && response.dragged_by(PointerButton::Primary))
        || response.dragged_by(PointerButton::Middle)
    {
        let d = response.drag_delta();
        if d != Vec2::ZERO {
            commands.push(Command::Slide(SlideCommand::Pan { delta: [d.x, d.y] }));
        }
    }
    if !drawing
        && response.double_clicked()
        && let Some(p) = response.interact_pointer_pos()
    {
        let about = [p.x - origin.x, p.y - origin.y];
        commands.push(Command::Slide(SlideCommand::Zoom { factor: 2.0, about }));
    } else if annotating
        && !drawing
        && response.clicked_by(PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        let local = p - origin;
        commands.push(Command::Slide(SlideCommand::Select {
            level0: view.level0_from_screen([f64::from(local.x), f64::from(local.y)]),
            tolerance: slide_annotations::SELECT_TOLERANCE_PX / view.zoom,
        }));
    }
    if response.hovered() {
        commands.extend(slide_panels::key_commands(ui, open));
    }

    // Tiles: ask the workers for the cover, upload what arrived, draw coarse to fine.
    let levels = open.slide.info().levels.clone();
    let cover = cover::cover(&levels, &open.view_px(&view));
    open.request(&cover);
    let ctx = ui.ctx().clone();
    let mut budget = UPLOADS_PER_FRAME;
    // The overview first: it stands in everywhere and feeds the minimap.
    for key in &cover.overview {
        open.ensure_texture(&ctx, *key, &mut budget);
    }
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::VIEWPORT_BACKGROUND);
    let [w, h] = open.level0_size();
    let slide_rect = Rect::from_min_max(to_screen([0.0, 0.0]), to_screen([w, h]));
    painter.rect_filled(slide_rect, 0.0, theme::SLIDE_GLASS);
    // Visible tiles are uploaded first (within the frame's budget); a tile is ready
    // when it has a texture (or is known blank). Stand-ins come from textures already
    // there (the overview, and levels shown before).
    let order = {
        for k in &cover.visible {
            open.ensure_texture(&ctx, *k, &mut budget);
        }
        cover::draw_order(&levels, &cover, |k| open.textures.contains(&k))
    };
    open.missing_visible = cover
        .visible
        .iter()
        .filter(|k| !open.textures.contains(k))
        .count();
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    let mut blanks = Vec::new();
    for key in &order {
        let Some(r) = cover::tile_rect_level0(&levels, *key) else {
            continue;
        };
        let screen_rect = Rect::from_min_max(to_screen([r[0], r[1]]), to_screen([r[2], r[3]]));
        match open.textures.get(key, open.frame) {
            Some(Drawn::Texture(id)) => {
                painter.image(id, screen_rect, uv, Color32::WHITE);
            }
            Some(Drawn::Blank(reason)) => blanks.push((screen_rect, reason.to_owned())),
            None => {}
        }
    }
    for (r, reason) in blanks {
        slide_panels::blank_tile(&painter, r, &reason);
    }
    if open.overview_ms.is_none() {
        let has = |k: &TileKey| open.textures.contains(k);
        // With no separate overview level, the visible tiles are the overview.
        let whole = if cover.overview.is_empty() {
            &cover.visible
        } else {
            &cover.overview
        };
        if !whole.is_empty() && whole.iter().all(has) {
            let ms = open.started.elapsed().as_secs_f64() * 1e3;
            open.overview_ms = Some(ms);
            tracing::info!("slide overview on screen {ms:.0} ms after the open request");
        }
    }
    open.textures.evict(open.frame);
    if budget == 0 {
        // More tiles are waiting in the cache: upload them next frame.
        ui.ctx().request_repaint();
    }

    painter.rect_stroke(
        slide_rect,
        0.0,
        Stroke::new(1.0, theme::SEPARATOR),
        egui::StrokeKind::Outside,
    );
    if annotating {
        open.annotations.paint(&painter, rect, &view, &to_screen);
        // Where objects are merged, the cell under the pointer says what it holds.
        if !drawing
            && let Some(p) = open.pointer_level0
            && let Some(text) = open.annotations.cluster_text(p)
        {
            response.clone().on_hover_text_at_pointer(text);
        }
    }
    slide_panels::scale_bar(&painter, rect, open);
    if let Some(c) = slide_panels::minimap_ui(ui, rect, open) {
        commands.push(c);
    }
    commands
}
