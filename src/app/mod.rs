//! The egui/eframe user interface: the only module that touches egui, eframe or wgpu.
//!
//! Owns the window, the view state (selected series, slice, window/level) and the one
//! place that changes it, [`TesseraApp::apply`]. Views are `*_ui` functions that
//! return [`Command`]s; loading runs on a background thread ([`loader`]) and is drained
//! in [`eframe::App::logic`].

pub mod loader;
pub mod series_browser;
pub mod status_bar;
pub mod theme;
pub mod viewport;

use std::path::PathBuf;

use egui::TextureHandle;

use crate::imaging::display::{
    CT_WINDOW_PRESETS, GrayscalePipeline, Polarity, Voi, VoiWindow, render_frame_rgba,
};
use crate::imaging::volume::SourceFile;
use loader::{LoadEvent, Loader, SeriesInfo, SliceImage};
use series_browser::{SeriesCard, series_list_ui, thumbnail_image};
use status_bar::{LoadStatus, status_bar_ui};
use viewport::{SliceTexture, ViewportModel, viewport_ui};

/// Something the user asked for; applied by [`TesseraApp::apply`].
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Replace what is open with these files or folders.
    Open(Vec<PathBuf>),
    SelectSeries(usize),
    /// Move this many slices (negative: towards slice 1).
    StepSlice(i64),
    GoToSlice(SliceEnd),
    SetWindow(VoiWindow),
    /// A [`CT_WINDOW_PRESETS`] entry (CT only).
    ApplyPreset(usize),
    /// Back to the window stored in the files.
    ResetWindow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceEnd {
    First,
    Last,
}

/// How one series is being viewed; kept per series so switching back restores it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesView {
    /// 0-based display index (slice 1 is superior, right or anterior).
    pub slice: usize,
    pub window: VoiWindow,
    /// The series' own window, for [`Command::ResetWindow`].
    pub default_window: VoiWindow,
}

/// One series in the browser, with its pixels once loaded.
struct SeriesEntry {
    info: SeriesInfo,
    slices: Option<Vec<SliceImage>>,
    view: SeriesView,
    thumbnail: Option<TextureHandle>,
    /// Every source file with its SHA-256, once hashed (after the slices arrive).
    sources: Vec<SourceFile>,
}

/// The Tessera workstation window.
pub struct TesseraApp {
    loader: Option<Loader>,
    series: Vec<SeriesEntry>,
    selected: Option<usize>,
    status: LoadStatus,
    slice_texture: SliceTexture,
}

impl TesseraApp {
    /// The app, already loading `initial_paths` (files or folders) when not empty.
    pub fn new(cc: &eframe::CreationContext<'_>, initial_paths: Vec<PathBuf>) -> Self {
        theme::apply(&cc.egui_ctx);
        let mut app = Self {
            loader: None,
            series: Vec::new(),
            selected: None,
            status: LoadStatus::default(),
            slice_texture: SliceTexture::default(),
        };
        if !initial_paths.is_empty() {
            app.apply(&cc.egui_ctx, Command::Open(initial_paths));
        }
        app
    }

    /// Whether a load is still running.
    pub fn is_loading(&self) -> bool {
        self.loader.is_some()
    }

    /// The one place that changes application state.
    pub fn apply(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::Open(paths) => {
                self.series.clear();
                self.selected = None;
                self.slice_texture = SliceTexture::default();
                self.status = LoadStatus::default();
                let repaint = ctx.clone();
                match Loader::spawn(paths, move || repaint.request_repaint()) {
                    Ok(loader) => self.loader = Some(loader),
                    Err(error) => self.report_problem(format!("cannot start loading: {error}")),
                }
            }
            Command::SelectSeries(index) if index < self.series.len() => {
                self.selected = Some(index);
            }
            Command::SelectSeries(_) => {}
            Command::StepSlice(step) => {
                if let Some((view, count)) = self.current_view() {
                    let last = count.saturating_sub(1) as i64;
                    view.slice = (view.slice as i64 + step).clamp(0, last) as usize;
                }
            }
            Command::GoToSlice(end) => {
                if let Some((view, count)) = self.current_view() {
                    view.slice = match end {
                        SliceEnd::First => 0,
                        SliceEnd::Last => count.saturating_sub(1),
                    };
                }
            }
            Command::SetWindow(window) => {
                if let Some((view, _)) = self.current_view() {
                    view.window = window;
                }
            }
            Command::ApplyPreset(index) => {
                let is_ct = self
                    .selected_entry()
                    .is_some_and(|e| e.info.modality == "CT");
                if let (true, Some(preset)) = (is_ct, CT_WINDOW_PRESETS.get(index))
                    && let Some((view, _)) = self.current_view()
                {
                    view.window = preset.window;
                }
            }
            Command::ResetWindow => {
                if let Some((view, _)) = self.current_view() {
                    view.window = view.default_window;
                }
            }
        }
    }

    fn selected_entry(&self) -> Option<&SeriesEntry> {
        self.series.get(self.selected?)
    }

    /// The selected series' view and slice count, once its slices are loaded.
    fn current_view(&mut self) -> Option<(&mut SeriesView, usize)> {
        let entry = self.series.get_mut(self.selected?)?;
        let count = entry.slices.as_ref()?.len();
        Some((&mut entry.view, count))
    }

    fn report_problem(&mut self, problem: String) {
        self.status.problems += 1;
        self.status.last_problem = Some(problem);
    }

    fn on_load_event(&mut self, ctx: &egui::Context, event: LoadEvent) {
        match event {
            LoadEvent::Progress { stage, done, total } => {
                self.status.progress = Some((stage, done, total));
            }
            LoadEvent::SeriesFound(infos) => {
                self.status.series = infos.len();
                self.series = infos
                    .into_iter()
                    .map(|info| {
                        let window = info.file_window.unwrap_or(VoiWindow::new(127.5, 256.0));
                        let view = SeriesView {
                            slice: info.slice_count / 2,
                            window,
                            default_window: window,
                        };
                        SeriesEntry {
                            info,
                            slices: None,
                            view,
                            thumbnail: None,
                            sources: Vec::new(),
                        }
                    })
                    .collect();
                if self.series.is_empty() {
                    self.report_problem("no DICOM images found".to_owned());
                }
            }
            LoadEvent::SeriesLoaded {
                index,
                slices,
                window,
            } => {
                let Some(entry) = self.series.get_mut(index) else {
                    return;
                };
                entry.view = SeriesView {
                    slice: slices.len() / 2,
                    window,
                    default_window: window,
                };
                entry.thumbnail = make_thumbnail(ctx, index, &entry.info, &slices, window);
                self.status.images += slices.len();
                entry.slices = Some(slices);
                if self.selected.is_none() {
                    self.selected = Some(index);
                }
            }
            LoadEvent::Provenance { index, sources } => {
                if let Some(entry) = self.series.get_mut(index) {
                    entry.sources = sources;
                }
            }
            LoadEvent::Problem(problem) => self.report_problem(problem),
            LoadEvent::Finished { skipped_files } => {
                self.status.finished = true;
                self.status.skipped_files = skipped_files;
                self.loader = None;
            }
        }
    }
}

/// The middle slice, rendered small for the series browser.
fn make_thumbnail(
    ctx: &egui::Context,
    index: usize,
    info: &SeriesInfo,
    slices: &[SliceImage],
    window: VoiWindow,
) -> Option<TextureHandle> {
    let slice = slices.get(slices.len() / 2)?;
    let pipeline = GrayscalePipeline {
        modality: info.modality_lut,
        voi: Voi::Linear(window),
        polarity: Polarity::Normal,
    };
    let rgba = render_frame_rgba(&slice.frame, &pipeline, None, info.bits_stored).ok()?;
    let image = thumbnail_image(
        &rgba,
        slice.frame.columns as usize,
        slice.frame.rows as usize,
    );
    Some(ctx.load_texture(
        format!("series-thumbnail-{index}"),
        image,
        egui::TextureOptions::LINEAR,
    ))
}

/// Reports drained from the loader per frame at most, so a burst cannot stall a frame.
const MAX_EVENTS_PER_FRAME: usize = 256;

impl eframe::App for TesseraApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        for _ in 0..MAX_EVENTS_PER_FRAME {
            let Some(event) = self.loader.as_ref().and_then(Loader::try_next) else {
                break;
            };
            self.on_load_event(ctx, event);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|file| file.path().to_path_buf())
                .collect()
        });
        if !dropped.is_empty() {
            self.apply(ctx, Command::Open(dropped));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut commands = Vec::new();
        egui::Panel::bottom("status-bar")
            .exact_size(theme::STATUS_BAR_HEIGHT)
            .frame(
                egui::Frame::side_top_panel(ui.style())
                    .inner_margin(egui::Margin::symmetric(theme::PANEL_MARGIN, 0)),
            )
            .show(ui, |ui| status_bar_ui(ui, &self.status));
        egui::Panel::left("series-browser")
            .resizable(true)
            .default_size(theme::SERIES_PANEL_WIDTH)
            .min_size(theme::SERIES_PANEL_MIN_WIDTH)
            .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(theme::panel_margin()))
            .show(ui, |ui| {
                let cards: Vec<SeriesCard<'_>> = self
                    .series
                    .iter()
                    .map(|entry| SeriesCard {
                        info: &entry.info,
                        loaded: entry.slices.is_some(),
                        thumbnail: entry.thumbnail.as_ref(),
                    })
                    .collect();
                commands.extend(series_list_ui(ui, &cards, self.selected));
            });
        egui::CentralPanel::default()
            .frame(egui::Frame::new().fill(theme::VIEWPORT_BACKGROUND))
            .show(ui, |ui| {
                let shown = self.selected.and_then(|index| {
                    let entry = self.series.get(index)?;
                    let model = ViewportModel {
                        info: &entry.info,
                        slices: entry.slices.as_deref()?,
                        view: &entry.view,
                    };
                    Some((index, model))
                });
                let empty_message = if self.loader.is_some() {
                    "Loading…"
                } else {
                    "No images open. Drop a DICOM folder here, or start tessera with a path."
                };
                commands.extend(viewport_ui(
                    ui,
                    shown,
                    empty_message,
                    &mut self.slice_texture,
                ));
            });
        for command in commands {
            self.apply(ui.ctx(), command);
        }
    }
}

/// Opens the workstation window on `initial_paths` and runs until it closes.
pub fn run(initial_paths: Vec<PathBuf>) -> eframe::Result {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Tessera")
            .with_app_id("tessera")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Tessera",
        options,
        Box::new(|cc| Ok(Box::new(TesseraApp::new(cc, initial_paths)))),
    )
}
