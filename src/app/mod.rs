//! The egui/eframe user interface: the only module that touches egui, eframe or wgpu.
//!
//! Owns the window, the view state (series, layout, viewports, cine, panels) and the
//! one place that changes it, [`TesseraApp::apply`]. Views are `*_ui` functions that
//! return [`Command`]s; loading runs on a background thread ([`loader`]) and is drained
//! in [`eframe::App::logic`]; slices are drawn by the GPU ([`gpu`]) from a volume
//! uploaded once per series.

pub mod annotation_overlay;
pub mod annotation_panel;
pub mod annotations;
mod apply_annotations;
mod apply_cases;
mod apply_segmentation;
mod apply_sync;
pub mod case_panel;
pub mod gpu;
pub mod hotkeys;
pub mod loader;
pub mod project_form;
pub mod segment_panel;
pub mod segmentation;
pub mod series_browser;
pub mod slide_annotations;
pub mod slide_overlay;
pub mod slide_panels;
mod slide_textures;
pub mod slide_view;
pub mod start;
pub mod status_bar;
pub mod sync_jobs;
pub mod sync_panel;
pub mod tag_browser;
pub mod theme;
pub mod toolbar;
pub mod viewer;
pub mod viewport;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use egui::TextureHandle;

use crate::imaging::display::{CT_WINDOW_PRESETS, VoiWindow};
use crate::imaging::mpr::{Plane, VolumeGrid};
use crate::imaging::volume::SourceFile;
use gpu::{GpuLimits, GpuVolume};
use loader::{LoadEvent, Loader, SeriesInfo, SliceImage};
use series_browser::{SeriesCard, series_list_ui};
use status_bar::{LoadStatus, status_bar_ui};
use viewer::{Cine, ColourMap, Layout, MAX_VIEWPORTS, SeriesView};
use viewport::{CpuSliceTexture, ViewportInput, viewport_ui};

/// Something the user asked for; applied by [`TesseraApp::apply`]. `viewport` is an
/// index into the current layout's viewports.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Replace what is open with these files or folders.
    Open(Vec<PathBuf>),
    /// Open the built-in demo study (generated into the cache on first use).
    OpenDemo,
    /// Open a recent item again.
    OpenRecent(usize),
    /// Forget the recent items.
    ClearRecent,
    /// Ask for a folder with the system dialog, then open it.
    OpenFolderDialog,
    /// Ask for files with the system dialog, then open them.
    OpenFilesDialog,
    CancelLoad,
    SelectSeries(usize),
    /// Make this viewport the one keys and toolbar act on.
    Activate(usize),
    /// Move this many slices (negative: towards slice 1).
    StepSlice {
        viewport: usize,
        step: i64,
    },
    GoToSlice {
        viewport: usize,
        end: SliceEnd,
    },
    SetWindow {
        viewport: usize,
        window: VoiWindow,
    },
    /// A [`CT_WINDOW_PRESETS`] entry (CT only).
    ApplyPreset {
        viewport: usize,
        preset: usize,
    },
    /// Back to the window stored in the files.
    ResetWindow {
        viewport: usize,
    },
    /// Zoom and pan back to fit, window back to the file's.
    ResetView {
        viewport: usize,
    },
    /// Multiply the zoom, keeping the point `about` (points from the viewport centre)
    /// still.
    Zoom {
        viewport: usize,
        factor: f32,
        about: [f32; 2],
    },
    Pan {
        viewport: usize,
        delta: [f32; 2],
    },
    /// Move the crosshair to this voxel (i, j, k).
    SetCursor([usize; 3]),
    ToggleInvert {
        viewport: usize,
    },
    SetColourMap {
        viewport: usize,
        map: ColourMap,
    },
    SetPlane {
        viewport: usize,
        plane: Plane,
    },
    SetLayout(Layout),
    SetLinkedWindow(bool),
    SetCinePlaying(bool),
    SetCineRate(f32),
    SetShowTags(bool),
    SetShowPatient(bool),
    SetShowHotkeys(bool),
    SetShowProblems(bool),
    /// Ask where to create a project file, then show the new-project form.
    NewProjectDialog,
    /// Ask for a project file, then show the unlock form.
    OpenProjectDialog,
    /// Show the project form for this file (what the dialogs end in; tests use it).
    ShowProjectForm(project_form::FormKind, PathBuf),
    ProjectForm(project_form::FormAction),
    /// The new project's recovery code has been kept.
    DismissRecoveryCode,
    CloseProject,
    SelectTool(annotations::Tool),
    /// A pointer event of a drawing tool on a viewport's plane.
    AnnotationPointer {
        viewport: usize,
        key: annotations::PlaneKey,
        kind: crate::project::model::Kind,
        event: annotations::PointerEvent,
        /// How near the first vertex a click closes a polygon (plane units).
        close: f64,
    },
    SelectAnnotation(Option<crate::project::Id>),
    /// Scroll the viewports to where this annotation lies.
    ShowAnnotation(crate::project::Id),
    BeginReshape {
        id: crate::project::Id,
        /// `None`: the whole shape moves.
        vertex: Option<usize>,
        at: crate::annotate::measure::Point,
    },
    ReshapeTo(crate::annotate::measure::Point),
    EndReshape,
    DeleteAnnotation(crate::project::Id),
    CopyToNextSlice(crate::project::Id),
    /// Give this annotation the current label.
    RelabelAnnotation(crate::project::Id),
    SetLabel(crate::project::model::Label),
    Undo,
    Redo,
    SetShowHistory(bool),
    ExportBundleDialog,
    ImportBundleDialog,
    /// Save a copy of the project file and edit that (a sibling that syncs by bundles).
    SaveCopyDialog,
    /// Run a sync task on the project (what the dialogs end in; tests use it).
    StartSync(sync_jobs::SyncTask),
    /// Import the previewed bundle (`true`) or drop it.
    ConfirmImport(bool),
    SetShowConflicts(bool),
    /// Show or hide the cases window (queues, review, comments).
    SetShowCases(bool),
    /// What the cases window asked for.
    Case(case_panel::CaseUi),
    ResolveConflict {
        annotation: crate::project::Id,
        /// The event whose version wins.
        keep: crate::project::Id,
    },
    /// Leave read-only mode and edit the shared file itself.
    EditSharedFile,
    /// Ask for an export: first the plaintext warning, then where to write it.
    ExportLabelsDialog(crate::cli::labels_io::ExportFormat),
    /// Exports hold only approved or adjudicated cases (`--reviewed-only`).
    SetExportReviewedOnly(bool),
    /// The plaintext warning answered (`true`: choose the file and export).
    ConfirmExport(bool),
    /// Use this label class (index into the project's classes) for what is drawn next.
    PickClass(usize),
    /// Use an entry of an imported code list as the label.
    PickCode {
        list: usize,
        entry: usize,
    },
    /// Ask for a CSV code list, check it, keep it (configuration folder) and search it.
    ImportCodeListDialog,
    /// Import this code list file (what the dialog ends in; tests use it).
    ImportCodeList(PathBuf),
    NewSegmentation,
    ShowSegmentation(crate::project::Id),
    /// Add a segment of the current class to the shown segmentation.
    AddSegment,
    SetActiveSegment(u8),
    SetBrushRadius(f64),
    /// `[` / `]`: brush radius one step down / up.
    StepBrushRadius(bool),
    SetBrushSphere(bool),
    SetThreshold(Option<crate::annotate::tools::HuRange>),
    SetLabelStyle {
        fill_opacity: f32,
        outline: bool,
    },
    /// A painting tool's pointer event on a viewport showing `plane`.
    Paint {
        plane: crate::imaging::mpr::Plane,
        kind: apply_segmentation::PaintKind,
        event: apply_segmentation::PaintEvent,
    },
    /// Interpolate the active segment between painted slices along a voxel axis.
    FillBetweenSlices {
        axis: usize,
    },
    // --- Whole-slide images (slide_view.rs) ---
    /// Open a slide (replaces what is open).
    OpenSlide(PathBuf),
    /// Ask for a slide file with the system dialog, then open it.
    OpenSlideDialog,
    /// The generated demo slide (written into the cache on first use, off the UI thread).
    OpenDemoSlide,
    CloseSlide,
    /// Zoom, pan, presets and panels of the open slide.
    Slide(slide_view::SlideCommand),
    /// The tool under the left button on the slide (slide_annotations.rs).
    SlideTool(annotations::Tool),
    /// A left-button event on the slide in level-0 pixels, for the drawing tool; `close`
    /// is the polygon-closing distance in level-0 pixels.
    SlidePointer {
        event: annotations::PointerEvent,
        close: f64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceEnd {
    First,
    Last,
}

/// A loaded series' pixels and geometry.
pub struct LoadedSeries {
    /// In display order (slice 1 superior, right or anterior).
    pub slices: Arc<Vec<SliceImage>>,
    pub grid: VolumeGrid,
    /// The same slices as the GPU sees them.
    pub gpu: Arc<GpuVolume>,
    pub view: SeriesView,
}

/// One series in the browser.
struct SeriesEntry {
    info: SeriesInfo,
    loaded: Option<LoadedSeries>,
    /// The first decoded slice while the rest loads.
    preview: Option<(SliceImage, VoiWindow)>,
    thumbnail: Option<TextureHandle>,
    /// Every source file with its SHA-256, once hashed (after the slices arrive).
    sources: Vec<SourceFile>,
}

/// Panels and toggles that are not per series.
#[derive(Clone, Debug, PartialEq)]
pub struct Chrome {
    pub layout: Layout,
    pub linked_window: bool,
    pub active_viewport: usize,
    pub cine: Cine,
    pub show_tags: bool,
    pub show_patient: bool,
    pub show_hotkeys: bool,
    pub show_problems: bool,
}

impl Default for Chrome {
    fn default() -> Self {
        Self {
            layout: Layout::Single,
            linked_window: true,
            active_viewport: 0,
            cine: Cine::default(),
            show_tags: false,
            show_patient: false,
            show_hotkeys: false,
            show_problems: false,
        }
    }
}

/// The Tessera workstation window.
pub struct TesseraApp {
    loader: Option<Loader>,
    series: Vec<SeriesEntry>,
    selected: Option<usize>,
    status: LoadStatus,
    /// Every problem of this load, for the details window.
    problems: Vec<String>,
    chrome: Chrome,
    /// `None` when running without wgpu: slices are then drawn on the CPU.
    gpu: Option<GpuLimits>,
    /// The wgpu device and renderer (slide tiles are uploaded into native textures).
    render_state: Option<eframe::egui_wgpu::RenderState>,
    cpu_textures: [CpuSliceTexture; MAX_VIEWPORTS],
    next_volume_key: u64,
    last_frame: Option<Instant>,
    /// Where recent items are kept; `None` in tests and when there is no home folder.
    recent_store: Option<crate::recent::RecentStore>,
    recent: Vec<crate::recent::RecentItem>,
    tags: TagPanel,
    /// The project annotations go to, once created or unlocked.
    project: Option<project_form::OpenProject>,
    project_form: Option<project_form::ProjectForm>,
    /// A new project's recovery code, shown once.
    recovery_code: Option<zeroize::Zeroizing<String>>,
    /// Key derivation for new projects (tests use small fixed parameters).
    kdf: crate::project::KdfChoice,
    annotations: annotations::AnnotationLayer,
    sync_job: Option<sync_jobs::SyncJob>,
    /// A checked bundle waiting for the user's go.
    import_preview: Option<(PathBuf, crate::project::ImportSummary)>,
    conflicts: Vec<crate::project::ConflictItem>,
    show_conflicts: bool,
    cases: case_panel::CasesView,
    case_panel: case_panel::CasePanelState,
    show_cases: bool,
    export_reviewed_only: bool,
    segmentation: segmentation::SegmentationLayer,
    /// An export waiting for the user to accept that it is plaintext.
    export_prompt: Option<crate::cli::labels_io::ExportFormat>,
    /// What was opened last (exports find the series' files there).
    opened_paths: Vec<PathBuf>,
    /// The demo slide being written, until it can be opened.
    demo_slide: Option<std::sync::mpsc::Receiver<Result<PathBuf, String>>>,
    /// The open whole-slide image; while `Some`, the slide screen replaces the viewports.
    slide: Option<slide_view::SlideView>,
}

/// The tag browser's data: the instance shown, read on a background thread.
#[derive(Default)]
struct TagPanel {
    /// The file (and frame) whose tags are shown or being read.
    source: Option<loader::SliceSource>,
    tree: Option<crate::imaging::tags::TagTree>,
    error: Option<String>,
    pending: Option<std::sync::mpsc::Receiver<Result<crate::imaging::tags::TagTree, String>>>,
    state: tag_browser::TagBrowserState,
}

impl TagPanel {
    /// Starts reading `source` when it is not the one shown (one read at a time).
    fn follow(&mut self, source: Option<&loader::SliceSource>, ctx: &egui::Context) {
        if let Some(rx) = &self.pending {
            match rx.try_recv() {
                Ok(Ok(tree)) => {
                    self.tree = Some(tree);
                    self.error = None;
                    self.pending = None;
                }
                Ok(Err(e)) => {
                    self.tree = None;
                    self.error = Some(e);
                    self.pending = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => return,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => self.pending = None,
            }
        }
        let wanted_path = source.map(|s| &s.path);
        if wanted_path == self.source.as_ref().map(|s| &s.path) {
            return;
        }
        self.source = source.cloned();
        let Some(source) = source else {
            self.tree = None;
            self.error = None;
            return;
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let path = source.path.clone();
        let repaint = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("tag-read".into())
            .spawn(move || {
                let result = crate::imaging::tags::read_tags(&path).map_err(|e| e.to_string());
                let _ = tx.send(result);
                repaint.request_repaint();
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(e) => self.error = Some(format!("cannot start reading tags: {e}")),
        }
    }
}

impl TesseraApp {
    /// The app, already loading `initial_paths` (files or folders) when not empty.
    pub fn new(cc: &eframe::CreationContext<'_>, initial_paths: Vec<PathBuf>) -> Self {
        theme::apply(&cc.egui_ctx);
        let gpu = cc.wgpu_render_state.as_ref().map(gpu::install);
        let mut app = Self {
            loader: None,
            series: Vec::new(),
            selected: None,
            status: LoadStatus::default(),
            problems: Vec::new(),
            chrome: Chrome::default(),
            gpu,
            render_state: cc.wgpu_render_state.clone(),
            cpu_textures: Default::default(),
            next_volume_key: 1,
            last_frame: None,
            recent_store: None,
            recent: Vec::new(),
            tags: TagPanel::default(),
            project: None,
            project_form: None,
            recovery_code: None,
            kdf: crate::project::KdfChoice::Calibrated,
            annotations: annotations::AnnotationLayer::default(),
            sync_job: None,
            import_preview: None,
            conflicts: Vec::new(),
            show_conflicts: false,
            cases: case_panel::CasesView::default(),
            case_panel: case_panel::CasePanelState::default(),
            show_cases: false,
            export_reviewed_only: false,
            segmentation: segmentation::SegmentationLayer::default(),
            export_prompt: None,
            opened_paths: Vec::new(),
            demo_slide: None,
            slide: None,
        };
        if !initial_paths.is_empty() {
            app.apply(&cc.egui_ctx, Command::Open(initial_paths));
        }
        app
    }

    /// Keeps recent items in `store` (the real window does; tests need not).
    pub fn with_recent_store(mut self, store: Option<crate::recent::RecentStore>) -> Self {
        self.recent = store.as_ref().map(|s| s.load()).unwrap_or_default();
        if let Some(dir) = store.as_ref().and_then(|s| s.folder()) {
            self.segmentation.code_lists =
                segmentation::load_code_lists(&segmentation::code_list_dir(dir));
        }
        self.recent_store = store;
        self
    }

    /// Starts loading `paths` (nothing when empty).
    pub fn opening(mut self, ctx: &egui::Context, paths: Vec<PathBuf>) -> Self {
        if !paths.is_empty() {
            self.apply(ctx, Command::Open(paths));
        }
        self
    }

    /// Derives new projects' keys with `kdf` (tests pass small fixed parameters).
    pub fn with_kdf(mut self, kdf: crate::project::KdfChoice) -> Self {
        self.kdf = kdf;
        self
    }

    /// The segmentation layer of the selected series.
    pub fn segmentation_layer(&self) -> &segmentation::SegmentationLayer {
        &self.segmentation
    }

    /// The annotation layer of the selected series.
    pub fn annotation_layer(&self) -> &annotations::AnnotationLayer {
        &self.annotations
    }

    /// The open project's session.
    pub fn project_session(&mut self) -> Option<&mut crate::project::Session> {
        self.project.as_mut().map(|p| &mut p.session)
    }

    /// Opens an already unlocked project (the form does this on its thread; the
    /// benchmarks and tests that prepare a project themselves use it directly).
    pub fn open_project(&mut self, session: crate::project::Session, path: PathBuf) {
        let user = session.user().to_owned();
        let role = session.roles();
        self.project = Some(project_form::OpenProject {
            session,
            path,
            user,
            role,
            annotations: 0,
            read_only: false,
        });
        self.refresh_annotations();
        self.refresh_cases();
        self.refresh_segmentations(true);
        self.refresh_slide_annotations();
    }

    /// Whether a sync job (export, import, copy) is running.
    pub fn sync_busy(&self) -> bool {
        self.sync_job.is_some()
    }

    /// The conflicts last listed.
    pub fn conflicts(&self) -> &[crate::project::ConflictItem] {
        &self.conflicts
    }

    /// Whether the open project is read-only (`None`: no project).
    pub fn project_read_only(&self) -> Option<bool> {
        self.project.as_ref().map(|p| p.read_only)
    }

    /// The project form's error line, while the form is shown.
    pub fn project_form_error(&self) -> Option<&str> {
        self.project_form.as_ref().and_then(|f| f.error.as_deref())
    }

    /// Whether the project form is waiting for its key-derivation thread.
    pub fn project_form_busy(&self) -> bool {
        self.project_form.as_ref().is_some_and(|f| f.is_busy())
    }

    /// The file whose tags the tag browser shows (or is reading).
    pub fn tag_source(&self) -> Option<&std::path::Path> {
        self.tags.source.as_ref().map(|s| s.path.as_path())
    }

    /// The slide screen, when a slide is open (or opening).
    pub fn slide(&self) -> Option<&slide_view::SlideView> {
        self.slide.as_ref()
    }

    /// The slide screen, mutably (benchmarks empty its tile cache).
    pub fn slide_mut(&mut self) -> Option<&mut slide_view::SlideView> {
        self.slide.as_mut()
    }

    /// What the cases window shows (queues, statuses, the last agreement measured).
    pub fn cases_view(&self) -> &case_panel::CasesView {
        &self.cases
    }

    /// The status bar's last note ("Case approve: the case is approved").
    pub fn status_note(&self) -> Option<&str> {
        self.status.note.as_deref()
    }

    /// Whether a load is still running.
    pub fn is_loading(&self) -> bool {
        self.loader.is_some()
    }

    /// Toggles and layout.
    pub fn chrome(&self) -> &Chrome {
        &self.chrome
    }

    /// The selected series' view, once loaded.
    pub fn current_view(&self) -> Option<&SeriesView> {
        Some(&self.selected_loaded()?.view)
    }

    fn selected_loaded(&self) -> Option<&LoadedSeries> {
        self.series.get(self.selected?)?.loaded.as_ref()
    }

    fn selected_loaded_mut(&mut self) -> Option<&mut LoadedSeries> {
        self.series.get_mut(self.selected?)?.loaded.as_mut()
    }

    fn viewport_index(&self, viewport: usize) -> usize {
        viewport.min(self.chrome.layout.viewports() - 1)
    }

    /// The one place that changes application state.
    pub fn apply(&mut self, ctx: &egui::Context, command: Command) {
        let linked = self.chrome.linked_window;
        let is_ct = self
            .series
            .get(self.selected.unwrap_or(usize::MAX))
            .is_some_and(|e| e.info.modality == "CT");
        match command {
            // One slide file: the slide screen (slide_view.rs).
            Command::Open(paths) if slide_view::is_slide(&paths) => {
                if let Some(path) = paths.into_iter().next() {
                    self.apply(ctx, Command::OpenSlide(path));
                }
            }
            Command::OpenSlide(path) => match slide_view::SlideView::open(path, ctx) {
                Ok(view) => {
                    self.reset_for_load();
                    self.slide = Some(view);
                }
                Err(e) => self.report_problem(e),
            },
            Command::OpenSlideDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Open a whole-slide image")
                    .add_filter("Slides", slide_view::SLIDE_EXTENSIONS)
                    .pick_file()
                {
                    self.apply(ctx, Command::OpenSlide(path));
                }
            }
            Command::OpenDemoSlide => {
                if self.demo_slide.is_some() {
                    return;
                }
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let repaint = ctx.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name("demo-slide".into())
                        .spawn(move || {
                            let made = crate::imaging::slide::synth::ensure_demo_slide()
                                .map_err(|e| format!("cannot write the demo slide: {e}"));
                            let _ = tx.send(made);
                            repaint.request_repaint();
                        });
                match spawned {
                    Ok(_) => {
                        self.demo_slide = Some(rx);
                        self.status.note = Some("Writing the demo slide (first use only)…".into());
                    }
                    Err(e) => self.report_problem(format!("cannot start: {e}")),
                }
            }
            Command::CloseSlide => self.slide = None,
            Command::SlideTool(tool) => {
                if let Some(a) = self.slide.as_mut().and_then(|s| s.annotations_mut()) {
                    a.tool = tool;
                    a.draft = None;
                }
            }
            Command::SlidePointer { event, close } => self.slide_pointer(event, close),
            Command::Slide(command) => {
                if let Some(slide) = &mut self.slide {
                    slide.apply(ctx, command);
                }
            }
            Command::Open(paths) => {
                self.reset_for_load();
                self.opened_paths = paths.clone();
                if let Some(store) = &self.recent_store {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    match store.push(&paths, now) {
                        Ok(items) => self.recent = items,
                        Err(e) => self.report_problem(e.to_string()),
                    }
                }
                let repaint = ctx.clone();
                match Loader::spawn(paths, move || repaint.request_repaint()) {
                    Ok(loader) => self.loader = Some(loader),
                    Err(error) => self.report_problem(format!("cannot start loading: {error}")),
                }
            }
            Command::OpenDemo => {
                self.reset_for_load();
                self.opened_paths = vec![crate::imaging::demo::demo_cache_dir()];
                let repaint = ctx.clone();
                match Loader::spawn_demo(move || repaint.request_repaint()) {
                    Ok(loader) => self.loader = Some(loader),
                    Err(error) => self.report_problem(format!("cannot start loading: {error}")),
                }
            }
            Command::OpenRecent(index) => {
                if let Some(item) = self.recent.get(index) {
                    let paths = item.paths.clone();
                    self.apply(ctx, Command::Open(paths));
                }
            }
            Command::ClearRecent => {
                self.recent.clear();
                if let Some(store) = &self.recent_store
                    && let Err(e) = store.clear()
                {
                    self.report_problem(e.to_string());
                }
            }
            Command::OpenFolderDialog => {
                if let Some(folder) = rfd::FileDialog::new()
                    .set_title("Open a DICOM folder")
                    .pick_folder()
                {
                    self.apply(ctx, Command::Open(vec![folder]));
                }
            }
            Command::OpenFilesDialog => {
                if let Some(files) = rfd::FileDialog::new()
                    .set_title("Open DICOM files")
                    .pick_files()
                {
                    self.apply(ctx, Command::Open(files));
                }
            }
            Command::CancelLoad => {
                if let Some(loader) = &self.loader {
                    loader.cancel();
                }
            }
            Command::SelectSeries(index) if index < self.series.len() => {
                self.selected = Some(index);
                self.chrome.cine.playing = false;
                self.annotations.clear();
                self.segmentation.clear();
                self.refresh_annotations();
                self.refresh_segmentations(true);
            }
            Command::SelectSeries(_) => {}
            Command::Activate(viewport) => {
                self.chrome.active_viewport = self.viewport_index(viewport);
            }
            Command::StepSlice { viewport, step } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    s.view.step(&s.grid, index, step);
                }
            }
            Command::GoToSlice { viewport, end } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    let depth = match end {
                        SliceEnd::First => 0,
                        SliceEnd::Last => usize::MAX,
                    };
                    s.view.set_depth(&s.grid, index, depth);
                }
            }
            Command::SetWindow { viewport, window } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    for v in s.view.windows_mut(index, linked) {
                        v.window = window;
                    }
                }
            }
            Command::ApplyPreset { viewport, preset } => {
                let index = self.viewport_index(viewport);
                if let (true, Some(preset)) = (is_ct, CT_WINDOW_PRESETS.get(preset))
                    && let Some(s) = self.selected_loaded_mut()
                {
                    for v in s.view.windows_mut(index, linked) {
                        v.window = preset.window;
                    }
                }
            }
            Command::ResetWindow { viewport } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    let window = s.view.default_window;
                    for v in s.view.windows_mut(index, linked) {
                        v.window = window;
                    }
                }
            }
            Command::ResetView { viewport } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    let window = s.view.default_window;
                    for v in s.view.windows_mut(index, linked) {
                        v.window = window;
                    }
                    let v = &mut s.view.viewports[index];
                    v.zoom = 1.0;
                    v.pan = [0.0, 0.0];
                }
            }
            Command::Zoom {
                viewport,
                factor,
                about,
            } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut()
                    && factor.is_finite()
                    && factor > 0.0
                {
                    s.view.viewports[index].zoom_about(factor, about);
                }
            }
            Command::Pan { viewport, delta } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    let v = &mut s.view.viewports[index];
                    v.pan = [v.pan[0] + delta[0], v.pan[1] + delta[1]];
                }
            }
            Command::SetCursor(voxel) => {
                if let Some(s) = self.selected_loaded_mut() {
                    s.view.cursor = s.grid.clamp_voxel(voxel.map(|v| v as f64));
                }
            }
            Command::ToggleInvert { viewport } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    let invert = !s.view.viewports[index].invert;
                    for v in s.view.windows_mut(index, linked) {
                        v.invert = invert;
                    }
                }
            }
            Command::SetColourMap { viewport, map } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    for v in s.view.windows_mut(index, linked) {
                        v.colour_map = map;
                    }
                }
            }
            Command::SetPlane { viewport, plane } => {
                let index = self.viewport_index(viewport);
                if let Some(s) = self.selected_loaded_mut() {
                    let v = &mut s.view.viewports[index];
                    v.plane = plane;
                    v.zoom = 1.0;
                    v.pan = [0.0, 0.0];
                }
            }
            Command::SetLayout(layout) => {
                self.chrome.layout = layout;
                self.chrome.active_viewport = 0;
                for entry in &mut self.series {
                    if let Some(s) = &mut entry.loaded {
                        s.view.set_layout(&s.grid, layout);
                    }
                }
            }
            Command::SetLinkedWindow(linked) => {
                self.chrome.linked_window = linked;
                let active = self.chrome.active_viewport;
                if linked && let Some(s) = self.selected_loaded_mut() {
                    let source = s.view.viewports[active];
                    for v in &mut s.view.viewports {
                        v.window = source.window;
                        v.invert = source.invert;
                        v.colour_map = source.colour_map;
                    }
                }
            }
            Command::SetCinePlaying(playing) => {
                self.chrome.cine.playing = playing && self.selected_loaded().is_some();
            }
            Command::SetCineRate(rate) => {
                if rate.is_finite() {
                    self.chrome.cine.rate =
                        rate.clamp(*viewer::CINE_RATES.start(), *viewer::CINE_RATES.end());
                }
            }
            Command::SetShowTags(show) => self.chrome.show_tags = show,
            Command::SetShowPatient(show) => self.chrome.show_patient = show,
            Command::SetShowHotkeys(show) => self.chrome.show_hotkeys = show,
            Command::SetShowProblems(show) => self.chrome.show_problems = show,
            other => self.apply_annotation(ctx, other),
        }
    }

    /// Stops any load and forgets what is open.
    fn reset_for_load(&mut self) {
        if let Some(loader) = self.loader.take() {
            loader.cancel();
        }
        self.series.clear();
        self.selected = None;
        self.slide = None;
        self.status = LoadStatus::default();
        self.problems.clear();
        self.chrome.cine.playing = false;
        self.annotations.clear();
        self.segmentation.clear();
        // CPU textures are keyed by slice address: a new load may reuse an address.
        self.cpu_textures = Default::default();
    }

    fn report_problem(&mut self, problem: String) {
        self.status.problems += 1;
        self.status.last_problem = Some(problem.clone());
        // Bounded: a folder of a million bad files keeps the first 1000 lines.
        if self.problems.len() < 1000 {
            self.problems.push(problem);
        }
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
                    .map(|info| SeriesEntry {
                        info,
                        loaded: None,
                        preview: None,
                        thumbnail: None,
                        sources: Vec::new(),
                    })
                    .collect();
                if self.series.is_empty() {
                    self.report_problem("no DICOM images found".to_owned());
                }
            }
            LoadEvent::SeriesPreview {
                index,
                slice,
                window,
            } => {
                if let Some(entry) = self.series.get_mut(index) {
                    entry.preview = Some((slice, window));
                    if self.selected.is_none() {
                        self.selected = Some(index);
                    }
                }
            }
            LoadEvent::SeriesLoaded {
                index,
                slices,
                window,
                thumbnail,
            } => {
                let key = self.next_volume_key;
                self.next_volume_key += 1;
                let layout = self.chrome.layout;
                let Some(entry) = self.series.get_mut(index) else {
                    return;
                };
                let positions: Vec<[f64; 3]> = slices.iter().map(|s| s.position_mm).collect();
                let info = &entry.info;
                let grid = VolumeGrid::from_slices(
                    info.columns as usize,
                    info.rows as usize,
                    info.orientation,
                    info.pixel_spacing_mm,
                    &positions,
                );
                entry.thumbnail = thumbnail.map(|image| {
                    ctx.load_texture(
                        format!("series-thumbnail-{index}"),
                        image,
                        egui::TextureOptions::LINEAR,
                    )
                });
                self.status.images += slices.len();
                let slices = Arc::new(slices);
                let gpu = Arc::new(GpuVolume::new(key, info, Arc::clone(&slices)));
                let view = SeriesView::new(&grid, window, layout);
                entry.loaded = Some(LoadedSeries {
                    slices,
                    grid,
                    gpu,
                    view,
                });
                entry.preview = None;
                if self.selected.is_none() {
                    self.selected = Some(index);
                }
                if self.selected == Some(index) {
                    self.refresh_annotations();
                    self.refresh_segmentations(true);
                }
            }
            LoadEvent::Provenance { index, sources } => {
                if let Some(entry) = self.series.get_mut(index) {
                    entry.sources = sources;
                }
            }
            LoadEvent::Problem(problem) => self.report_problem(problem),
            LoadEvent::Finished {
                skipped_files,
                cancelled,
            } => {
                self.status.finished = true;
                self.status.cancelled = cancelled;
                self.status.skipped_files = skipped_files;
                self.loader = None;
            }
        }
    }

    /// Keys that act on the window rather than one viewport.
    fn global_key_commands(&self, ctx: &egui::Context) -> Vec<Command> {
        if ctx.egui_wants_keyboard_input() {
            return Vec::new();
        }
        let chrome = &self.chrome;
        let active = chrome.active_viewport;
        let annotating =
            self.project.as_ref().is_some_and(|p| !p.read_only) && self.project_form.is_none();
        ctx.input_mut(|i| {
            let mut commands = Vec::new();
            let mut pressed = |key| i.consume_key(egui::Modifiers::NONE, key);
            if pressed(egui::Key::F1) || pressed(egui::Key::Questionmark) {
                commands.push(Command::SetShowHotkeys(!chrome.show_hotkeys));
            }
            if pressed(egui::Key::T) {
                commands.push(Command::SetShowTags(!chrome.show_tags));
            }
            if pressed(egui::Key::P) {
                commands.push(Command::SetShowPatient(!chrome.show_patient));
            }
            if pressed(egui::Key::L) {
                commands.push(Command::SetLinkedWindow(!chrome.linked_window));
            }
            if pressed(egui::Key::C) {
                commands.push(Command::SetCinePlaying(!chrome.cine.playing));
            }
            for (key, layout) in [
                (egui::Key::F5, Layout::Single),
                (egui::Key::F6, Layout::OneByThree),
                (egui::Key::F7, Layout::TwoByTwo),
            ] {
                if pressed(key) {
                    commands.push(Command::SetLayout(layout));
                }
            }
            for (key, plane) in [
                (egui::Key::A, Plane::Axial),
                (egui::Key::S, Plane::Sagittal),
                (egui::Key::O, Plane::Coronal),
            ] {
                if pressed(key) {
                    commands.push(Command::SetPlane {
                        viewport: active,
                        plane,
                    });
                }
            }
            if annotating {
                for tool in annotations::Tool::ALL {
                    if i.consume_key(egui::Modifiers::NONE, tool.key()) {
                        commands.push(Command::SelectTool(tool));
                    }
                }
                if i.consume_key(egui::Modifiers::NONE, egui::Key::OpenBracket) {
                    commands.push(Command::StepBrushRadius(false));
                }
                if i.consume_key(egui::Modifiers::NONE, egui::Key::CloseBracket) {
                    commands.push(Command::StepBrushRadius(true));
                }
                if i.consume_key(egui::Modifiers::NONE, egui::Key::H) {
                    commands.push(Command::SetShowHistory(!self.annotations.show_history));
                }
                if let Some(id) = self.annotations.selected {
                    if i.consume_key(egui::Modifiers::NONE, egui::Key::Delete)
                        || i.consume_key(egui::Modifiers::NONE, egui::Key::Backspace)
                    {
                        commands.push(Command::DeleteAnnotation(id));
                    }
                    if i.consume_key(egui::Modifiers::COMMAND, egui::Key::D) {
                        commands.push(Command::CopyToNextSlice(id));
                    }
                }
                if i.consume_key(
                    egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
                    egui::Key::Z,
                ) || i.consume_key(egui::Modifiers::COMMAND, egui::Key::Y)
                {
                    commands.push(Command::Redo);
                }
                if i.consume_key(egui::Modifiers::COMMAND, egui::Key::Z) {
                    commands.push(Command::Undo);
                }
            }
            if i.consume_key(egui::Modifiers::SHIFT, egui::Key::Slash)
                || i.consume_key(egui::Modifiers::SHIFT, egui::Key::Questionmark)
            {
                commands.push(Command::SetShowHotkeys(!chrome.show_hotkeys));
            }
            commands
        })
    }
}

/// Reports drained from the loader per frame at most, so a burst cannot stall a frame.
const MAX_EVENTS_PER_FRAME: usize = 256;

impl eframe::App for TesseraApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if let Some(slide) = &mut self.slide
            && let Err(e) = slide.poll(ctx, self.render_state.as_ref())
        {
            self.slide = None;
            self.report_problem(e);
        }
        match self
            .slide
            .as_mut()
            .and_then(|s| s.annotations_mut())
            .map(|a| a.poll())
        {
            Some(Ok(true)) => self.refresh_slide_annotations(),
            Some(Err(e)) => self.report_problem(e),
            Some(Ok(false)) | None => {}
        }
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
        // Cine: advance the active viewport by the slices due since the last frame.
        let now = Instant::now();
        let elapsed = self.last_frame.map_or_else(Default::default, |t| now - t);
        self.last_frame = Some(now);
        let steps = self.chrome.cine.advance(elapsed);
        let active = self.chrome.active_viewport;
        if let Some(s) = self.selected_loaded_mut() {
            for _ in 0..steps {
                s.view.step_wrapping(&s.grid, active);
            }
        }
        if self.chrome.cine.playing {
            ctx.request_repaint_after(self.chrome.cine.next_in());
        }
        self.poll_project_form();
        if let Some(rx) = &self.demo_slide
            && let Ok(made) = rx.try_recv()
        {
            self.demo_slide = None;
            self.status.note = None;
            match made {
                Ok(path) => self.apply(ctx, Command::OpenSlide(path)),
                Err(e) => self.report_problem(e),
            }
        }
        self.poll_sync(ctx);
        for command in self.global_key_commands(ctx) {
            self.apply(ctx, command);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let annotating =
            self.project.as_ref().is_some_and(|p| !p.read_only) && self.project_form.is_none();
        if let Some(slide) = &mut self.slide {
            let mut commands = slide_view::slide_screen_ui(ui, slide, annotating);
            commands.extend(self.export_windows_ui(ui));
            for command in commands {
                self.apply(ui.ctx(), command);
            }
            return;
        }
        let mut commands = Vec::new();
        let current = self.selected_loaded().map(|s| &s.view);
        let is_ct = self
            .series
            .get(self.selected.unwrap_or(usize::MAX))
            .is_some_and(|e| e.info.modality == "CT");
        egui::Panel::top("toolbar")
            .frame(
                egui::Frame::side_top_panel(ui.style())
                    .inner_margin(egui::Margin::symmetric(theme::PANEL_MARGIN, 4)),
            )
            .show(ui, |ui| {
                commands.extend(toolbar::toolbar_ui(
                    ui,
                    &self.chrome,
                    current,
                    is_ct,
                    self.project.is_some(),
                ));
            });
        egui::Panel::bottom("status-bar")
            .exact_size(theme::STATUS_BAR_HEIGHT)
            .frame(
                egui::Frame::side_top_panel(ui.style())
                    .inner_margin(egui::Margin::symmetric(theme::PANEL_MARGIN, 0)),
            )
            .show(ui, |ui| {
                commands.extend(status_bar_ui(ui, &self.status, self.loader.is_some()));
            });
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
                        loaded: entry.loaded.is_some(),
                        thumbnail: entry.thumbnail.as_ref(),
                    })
                    .collect();
                commands.extend(series_list_ui(ui, &cards, self.selected));
            });
        if self.chrome.show_tags {
            let source = self
                .selected
                .and_then(|i| self.series.get(i))
                .and_then(|e| match &e.loaded {
                    Some(s) => s
                        .slices
                        .get(s.view.cursor[2])
                        .and_then(|x| x.source.as_ref()),
                    None => e.preview.as_ref().and_then(|(x, _)| x.source.as_ref()),
                });
            let source = source.cloned();
            self.tags.follow(source.as_ref(), ui.ctx());
            egui::Panel::right("tag-browser")
                .resizable(true)
                .default_size(theme::TAG_PANEL_WIDTH)
                .min_size(280.0)
                .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(theme::panel_margin()))
                .show(ui, |ui| {
                    let tags = &mut self.tags;
                    tag_browser::tag_browser_ui(
                        ui,
                        tags.tree.as_ref(),
                        tags.error.as_deref(),
                        &mut tags.state,
                    );
                });
        }
        // The annotation panel and the tag browser share the right side: tags while shown.
        if self.selected.is_some() && self.project.is_some() && !self.chrome.show_tags {
            egui::Panel::right("annotations")
                .resizable(true)
                .default_size(theme::ANNOTATION_PANEL_WIDTH)
                .min_size(220.0)
                .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(theme::panel_margin()))
                .show(ui, |ui| {
                    commands.extend(self.annotation_panel(ui));
                });
        }
        egui::CentralPanel::default()
            .frame(egui::Frame::new().fill(theme::SEPARATOR))
            .show(ui, |ui| {
                commands.extend(self.viewports_ui(ui));
            });
        if self.chrome.show_hotkeys {
            let mut open = true;
            egui::Window::new("Hotkeys")
                .open(&mut open)
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .show(ui.ctx(), hotkeys::hotkey_sheet_ui);
            if !open {
                commands.push(Command::SetShowHotkeys(false));
            }
        }
        if self.chrome.show_problems {
            let mut open = true;
            egui::Window::new("Problems")
                .open(&mut open)
                .collapsible(false)
                .default_width(560.0)
                .show(ui.ctx(), |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(360.0)
                        .show(ui, |ui| {
                            for problem in &self.problems {
                                ui.label(problem);
                            }
                            if self.status.problems > self.problems.len() {
                                ui.label(format!(
                                    "… and {} more",
                                    self.status.problems - self.problems.len()
                                ));
                            }
                        });
                });
            if !open {
                commands.push(Command::SetShowProblems(false));
            }
        }
        if let Some(form) = &mut self.project_form
            && let Some(action) = project_form::project_form_ui(ui, form)
        {
            commands.push(Command::ProjectForm(action));
        }
        commands.extend(self.export_windows_ui(ui));
        if let Some((_, summary)) = &self.import_preview
            && let Some(yes) = sync_panel::import_preview_ui(ui, summary)
        {
            commands.push(Command::ConfirmImport(yes));
        }
        if self.show_conflicts && self.project.is_some() {
            let mut open = true;
            let can_edit = self.project.as_ref().is_some_and(|p| !p.read_only);
            egui::Window::new("Conflicts")
                .open(&mut open)
                .collapsible(false)
                .default_width(520.0)
                .show(ui.ctx(), |ui| {
                    commands.extend(sync_panel::conflicts_ui(ui, &self.conflicts, can_edit));
                });
            if !open {
                commands.push(Command::SetShowConflicts(false));
            }
        }
        if self.show_cases && self.project.is_some() {
            let mut open = true;
            egui::Window::new("Cases")
                .open(&mut open)
                .collapsible(false)
                .default_width(560.0)
                .show(ui.ctx(), |ui| {
                    let shown: std::collections::HashSet<_> = self
                        .annotations
                        .shown
                        .iter()
                        .map(|s| s.annotation.id)
                        .collect();
                    let conflicts: Vec<String> = self
                        .conflicts
                        .iter()
                        .filter(|c| shown.contains(&c.annotation))
                        .map(crate::project::ConflictItem::line)
                        .collect();
                    let selected = self.annotations.selected.and_then(|id| {
                        let shown = self.annotations.get(id)?;
                        Some((id, shown.annotation.body.label.name.as_str()))
                    });
                    let on_screen = case_panel::OnScreen {
                        series: self.selected,
                        conflicts: &conflicts,
                        selected,
                    };
                    commands.extend(case_panel::cases_ui(
                        ui,
                        &self.cases,
                        &mut self.case_panel,
                        &on_screen,
                    ));
                });
            if !open {
                commands.push(Command::SetShowCases(false));
            }
        }
        if let Some(code) = &self.recovery_code
            && project_form::recovery_code_ui(ui, code)
        {
            commands.push(Command::DismissRecoveryCode);
        }
        for command in commands {
            self.apply(ui.ctx(), command);
        }
    }
}

impl TesseraApp {
    fn annotation_panel(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let project = self.project.as_ref();
        let file = project
            .and_then(|p| p.path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let conflicts = self
            .conflicts
            .iter()
            .map(|c| c.annotation)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let line = project.map(|p| annotation_panel::ProjectLine {
            file: &file,
            user: &p.user,
            role: p.role.as_string(),
            read_only: p.read_only,
            conflicts,
            cases_waiting: self.cases.waiting(),
            reviewed_only: self.export_reviewed_only,
            comparing: self.annotations.compare.is_some(),
        });
        let loaded = self
            .selected
            .and_then(|i| self.series.get(i))
            .and_then(|e| e.loaded.as_ref());
        let where_is = |shown: &annotations::Shown| -> String {
            match (shown.key, loaded) {
                (Some(key), Some(s)) => {
                    let n = s.grid.dims[key.depth_axis];
                    let (plane, number) = if key.depth_axis == 2 {
                        (s.grid.acquired_plane(), key.index + 1)
                    } else {
                        (key.plane, key.index + 1)
                    };
                    format!("{} {number} / {n}", plane.name())
                }
                _ => "not on a loaded slice".to_owned(),
            }
        };
        annotation_panel::annotation_panel_ui(
            ui,
            line,
            &self.annotations,
            &mut self.segmentation,
            &where_is,
        )
    }
}

impl TesseraApp {
    /// The layout's viewports in a grid, with a hairline between them.
    fn viewports_ui(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut commands = Vec::new();
        let area = ui.available_rect_before_wrap();
        ui.allocate_rect(area, egui::Sense::hover());
        let entry = self.selected.and_then(|i| self.series.get(i));
        let Some(entry) = entry else {
            ui.painter().rect_filled(area, 0.0, theme::PANEL_BACKGROUND);
            if self.loader.is_some() {
                ui.put(
                    area,
                    egui::Label::new(egui::RichText::new("Loading…").color(theme::TEXT_DIM)),
                );
            } else {
                let mut child = ui.new_child(egui::UiBuilder::new().max_rect(area));
                commands.extend(start::start_ui(&mut child, &self.recent));
            }
            return commands;
        };
        if let (Some(compare), Some(loaded)) = (&self.annotations.compare, &entry.loaded) {
            // Two readers side by side: the same plane, slice and window (both follow
            // viewport 1), each reader's annotations in their colour; nothing editable.
            let gap = 2.0;
            let width = (area.width() - gap) / 2.0;
            for (side, (reader, name)) in compare.readers.iter().enumerate() {
                let colour = annotations::READER_COLOURS[side];
                let layer = self.annotations.only_by(*reader, colour);
                let min = area.min + egui::vec2(side as f32 * (width + gap), 0.0);
                let rect = egui::Rect::from_min_size(min, egui::vec2(width, area.height()));
                let input = ViewportInput {
                    index: 0,
                    info: &entry.info,
                    loaded: Some(loaded),
                    preview: entry.preview.as_ref(),
                    chrome: &self.chrome,
                    gpu: self.gpu,
                    multi: false,
                    annotations: &layer,
                    labels: None,
                    brush_radius_mm: self.segmentation.brush_radius_mm,
                    can_edit: false,
                };
                let mut child = ui.new_child(
                    egui::UiBuilder::new()
                        .max_rect(rect)
                        .id_salt(("compare", side)),
                );
                commands.extend(viewport_ui(&mut child, input, &mut self.cpu_textures[side]));
                let label = format!("{name} · {}", layer.shown.len());
                let pos = rect.center_bottom() - egui::vec2(0.0, 40.0);
                let painter = ui.painter_at(rect);
                let galley =
                    painter.layout_no_wrap(label.clone(), egui::FontId::proportional(15.0), colour);
                let bg = egui::Rect::from_center_size(pos, galley.size() + egui::vec2(12.0, 6.0));
                painter.rect_filled(bg, 3.0, theme::OVERLAY_SHADOW);
                painter.galley(bg.min + egui::vec2(6.0, 3.0), galley, colour);
                ui.interact(
                    bg,
                    ui.scope_id().with(("compare-reader", side)),
                    egui::Sense::hover(),
                )
                .widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Label,
                        true,
                        format!("Reader {}: {label}", side + 1),
                    )
                });
            }
            return commands;
        }
        let layout = if entry.loaded.is_some() {
            self.chrome.layout
        } else {
            Layout::Single
        };
        let (columns, rows) = layout.grid();
        let gap = 2.0;
        let cell = egui::vec2(
            (area.width() - gap * (columns as f32 - 1.0)) / columns as f32,
            (area.height() - gap * (rows as f32 - 1.0)) / rows as f32,
        );
        for index in 0..layout.viewports() {
            let (c, r) = (index % columns, index / columns);
            let min = area.min + egui::vec2(c as f32 * (cell.x + gap), r as f32 * (cell.y + gap));
            let rect = egui::Rect::from_min_size(min, cell);
            let input = ViewportInput {
                index,
                info: &entry.info,
                loaded: entry.loaded.as_ref(),
                preview: entry.preview.as_ref(),
                chrome: &self.chrome,
                gpu: self.gpu,
                multi: layout.viewports() > 1,
                annotations: &self.annotations,
                labels: self.segmentation.gpu_labels(),
                brush_radius_mm: self.segmentation.brush_radius_mm,
                can_edit: self.project.as_ref().is_some_and(|p| !p.read_only),
            };
            let mut child = ui.new_child(
                egui::UiBuilder::new()
                    .max_rect(rect)
                    .id_salt(("viewport", index)),
            );
            commands.extend(viewport_ui(
                &mut child,
                input,
                &mut self.cpu_textures[index],
            ));
        }
        commands
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
        Box::new(|cc| {
            let store = crate::recent::RecentStore::for_user();
            Ok(Box::new(
                TesseraApp::new(cc, Vec::new())
                    .with_recent_store(store)
                    .opening(&cc.egui_ctx, initial_paths),
            ))
        }),
    )
}
