//! The project and annotation half of [`TesseraApp::apply`]: opening and closing the
//! project, tools, drawing, reshaping, deleting, undo and redo.
//!
//! Every change to an annotation is committed through the project session (one event
//! per edit, encrypted and signed) before the layer shows it: the layer is always
//! reloaded from the project, never edited in place.

use super::annotations::{Draft, DraftStep, HistoryLine, PlaneKey, Reshape, Tool};
use super::project_form::{FormAction, FormKind, ProjectForm};
use super::{Command, TesseraApp};
use crate::annotate::shapes;
use crate::project::Id;
use crate::project::model::{Annotation, Edit, ImageRef};

/// History entries the panel shows.
const HISTORY_LINES: usize = 200;

impl TesseraApp {
    /// Applies the project and annotation commands (called by `apply`).
    pub(super) fn apply_annotation(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::NewProjectDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("New project")
                    .add_filter("Tessera project", &[crate::project::EXTENSION])
                    .set_file_name(format!("annotations.{}", crate::project::EXTENSION))
                    .save_file()
                {
                    self.apply(ctx, Command::ShowProjectForm(FormKind::New, path));
                }
            }
            Command::OpenProjectDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Open project")
                    .add_filter("Tessera project", &[crate::project::EXTENSION])
                    .pick_file()
                {
                    self.apply(ctx, Command::ShowProjectForm(FormKind::Open, path));
                }
            }
            Command::ShowProjectForm(kind, mut path) => {
                if kind == FormKind::New && path.extension().is_none() {
                    path.set_extension(crate::project::EXTENSION);
                }
                self.project_form = Some(ProjectForm::new(kind, path));
            }
            Command::ProjectForm(FormAction::Submit) => {
                let kdf = self.kdf;
                let repaint = ctx.clone();
                if let Some(form) = &mut self.project_form {
                    form.submit(kdf, move || repaint.request_repaint());
                }
            }
            Command::ProjectForm(FormAction::Cancel) if !self.project_form_busy() => {
                self.project_form = None;
            }
            Command::DismissRecoveryCode => self.recovery_code = None,
            Command::CloseProject => {
                self.project = None;
                self.segmentation.clear();
                self.segmentation.classes.clear();
                self.annotations.clear();
                self.annotations.history.clear();
                self.annotations.tool = Tool::Navigate;
                self.cases = super::case_panel::CasesView::default();
                self.case_panel = super::case_panel::CasePanelState::default();
                self.show_cases = false;
            }
            Command::SelectTool(tool) => {
                self.annotations.tool = if self.project.is_some() {
                    tool
                } else {
                    Tool::Navigate
                };
                self.annotations.draft = None;
            }
            Command::AnnotationPointer {
                viewport,
                key,
                kind,
                event,
                close,
            } => {
                let _ = viewport;
                let step = Draft::step(&mut self.annotations.draft, kind, key, event, close);
                if let DraftStep::Done(kind, points) = step {
                    if self.annotations.tool == Tool::ShapeFill {
                        let outline = points.iter().map(|p| key.voxel_of(*p)).collect();
                        self.fill_outline(key.plane, outline);
                    } else {
                        self.create_annotation(key, kind, points);
                    }
                }
            }
            Command::SelectAnnotation(id) => self.annotations.selected = id,
            Command::ShowAnnotation(id) => self.show_annotation(id),
            Command::BeginReshape { id, vertex, at } => {
                if let Some(shown) = self.annotations.get(id) {
                    let before = shown.annotation.clone();
                    self.annotations.reshape = Some(Reshape {
                        points: before.body.points.clone(),
                        before,
                        vertex,
                        grabbed: at,
                    });
                }
            }
            Command::ReshapeTo(p) => {
                if let Some(r) = &mut self.annotations.reshape {
                    r.drag_to(p);
                }
            }
            Command::EndReshape => {
                if let Some(r) = self.annotations.reshape.take() {
                    let after = r.after();
                    if after != r.before {
                        self.commit(Edit::Update {
                            before: r.before,
                            after,
                        });
                    }
                }
            }
            Command::DeleteAnnotation(id) => {
                if let Some(shown) = self.annotations.get(id) {
                    let annotation = shown.annotation.clone();
                    self.commit(Edit::Delete { annotation });
                }
            }
            Command::CopyToNextSlice(id) => self.copy_to_next_slice(id),
            Command::RelabelAnnotation(id) => {
                if let Some(shown) = self.annotations.get(id) {
                    let before = shown.annotation.clone();
                    let mut after = before.clone();
                    after.body.label = self.annotations.label.clone();
                    if after != before {
                        self.commit(Edit::Update { before, after });
                    }
                }
            }
            Command::SetLabel(label) if !label.name.trim().is_empty() => {
                self.annotations.label = label;
            }
            Command::Undo => self.undo_redo(true),
            Command::Redo => self.undo_redo(false),
            Command::SetShowHistory(show) => {
                self.annotations.show_history = show;
                self.refresh_history();
            }
            Command::PickClass(_)
            | Command::PickCode { .. }
            | Command::ImportCodeListDialog
            | Command::ImportCodeList(_)
            | Command::NewSegmentation
            | Command::ShowSegmentation(_)
            | Command::AddSegment
            | Command::SetActiveSegment(_)
            | Command::SetBrushRadius(_)
            | Command::StepBrushRadius(_)
            | Command::SetBrushSphere(_)
            | Command::SetThreshold(_)
            | Command::SetLabelStyle { .. }
            | Command::Paint { .. }
            | Command::FillBetweenSlices { .. } => self.apply_segmentation(command),
            other => self.apply_sync(ctx, other),
        }
    }

    /// Takes the project form's result once its thread is done.
    pub(super) fn poll_project_form(&mut self) {
        let Some(form) = &mut self.project_form else {
            return;
        };
        if let Some(opened) = form.poll() {
            self.project_form = None;
            self.recovery_code = opened.recovery_code;
            self.project = Some(opened.project);
            self.install_schema_for_new_project();
            self.refresh_annotations();
            self.refresh_segmentations(true);
            self.refresh_slide_annotations();
            self.refresh_conflicts();
            self.refresh_cases();
        }
    }

    /// A project just created here gets the default label schema (its admin is the user).
    fn install_schema_for_new_project(&mut self) {
        let Some(project) = &mut self.project else {
            return;
        };
        if project.read_only || !project.role.contains(crate::project::Role::Admin) {
            return;
        }
        let empty = project.session.label_classes().map(|c| c.is_empty());
        if let Ok(true) = empty
            && let Err(e) = project.session.install_default_schema()
        {
            self.project_error("cannot install the default label schema", e);
        }
    }

    /// Reloads the selected series' annotations (and the history) from the project.
    pub(super) fn refresh_annotations(&mut self) {
        let Some(project) = &mut self.project else {
            return;
        };
        let Some(entry) = self.selected.and_then(|i| self.series.get(i)) else {
            return;
        };
        let Some(loaded) = &entry.loaded else {
            return;
        };
        let series_uid = entry.info.series_uid.clone();
        let image = ImageRef::Dicom {
            series_uid: series_uid.clone(),
            sop_uid: None,
            frame: None,
            plane: None,
            provenance: None,
        };
        match project.session.annotations_for_image(&image) {
            Ok(list) => {
                // Who made each one: the comparison of two readers draws them apart.
                let mut authors = std::collections::HashMap::new();
                for a in &list {
                    if let Ok(Some(by)) = project.session.creator_of(a.id) {
                        authors.insert(a.id, by);
                    }
                }
                self.annotations.authors = authors;
                self.annotations
                    .set_annotations(&series_uid, list, loaded, &entry.info);
            }
            Err(e) => self.project_error("cannot read the annotations", e),
        }
        self.refresh_history();
    }

    pub(super) fn refresh_history(&mut self) {
        if !self.annotations.show_history {
            return;
        }
        let Some(project) = &mut self.project else {
            return;
        };
        let me = project.session.user().to_owned();
        match project.session.recent_history(HISTORY_LINES) {
            Ok(items) => {
                let mut lines = Vec::with_capacity(items.len());
                for (item, payload) in items {
                    let annotation = payload.as_ref().is_some_and(|p| {
                        p.edit.kind() == crate::project::model::ObjectKind::Annotation
                    });
                    // Strokes are named from their segmentation ("Brush +12.4 mL to Lesion 1").
                    let text = match payload {
                        Some(p) if annotation => shapes::describe_payload(&p),
                        Some(p) => project
                            .session
                            .describe_event(item.event_id)
                            .unwrap_or_else(|_| shapes::describe_payload(&p)),
                        None => item.operation.clone(),
                    };
                    lines.push(HistoryLine {
                        mine: item.author == me,
                        text,
                        author: item.author,
                        time_ms: item.time_ms,
                    });
                }
                self.annotations.history = lines;
            }
            Err(e) => self.project_error("cannot read the history", e),
        }
    }

    /// Reloads the open slide's annotations from the project (nothing without a
    /// project, or before the slide's fingerprint is known).
    pub(super) fn refresh_slide_annotations(&mut self) {
        let Some(annotations) = self.slide.as_mut().and_then(|s| s.annotations_mut()) else {
            return;
        };
        let Some(project) = &mut self.project else {
            annotations.set_annotations(Vec::new());
            return;
        };
        let Some(image) = annotations.image() else {
            return;
        };
        match project.session.annotations_for_image(&image) {
            Ok(list) => annotations.set_annotations(list),
            Err(e) => self.project_error("cannot read the slide's annotations", e),
        }
    }

    /// A drawing-tool event on the slide: a finished shape is committed with the
    /// current label, in level-0 pixels.
    pub(super) fn slide_pointer(&mut self, event: super::annotations::PointerEvent, close: f64) {
        if self.project.as_ref().is_none_or(|p| p.read_only) {
            return;
        }
        let Some(annotations) = self.slide.as_mut().and_then(|s| s.annotations_mut()) else {
            return;
        };
        let Some(image) = annotations.image() else {
            return;
        };
        let Some((kind, points)) = annotations.step(event, close) else {
            return;
        };
        let body = self.annotations.body(image, kind, points);
        if let Err(reason) = body.validate() {
            self.report_problem(format!("annotation not saved: {reason}"));
            return;
        }
        let id = match Id::random() {
            Ok(id) => id,
            Err(e) => {
                self.report_problem(format!("cannot make an annotation id: {e}"));
                return;
            }
        };
        let Some(project) = &mut self.project else {
            return;
        };
        match project.session.commit_edit(Edit::Create {
            annotation: Annotation { id, body },
        }) {
            Ok(_) => self.refresh_slide_annotations(),
            Err(e) => self.project_error("the edit was not saved", e),
        }
    }

    /// Commits one edit and reloads; a refused edit is reported and changes nothing.
    fn commit(&mut self, edit: Edit) {
        let Some(project) = &mut self.project else {
            return;
        };
        if project.read_only {
            self.status.note = Some("Read-only: choose Edit this file or Work on a copy".into());
            return;
        }
        let select = match &edit {
            Edit::Delete { .. } => None,
            other => Some(other.target()),
        };
        match project.session.commit_edit(edit) {
            Ok(_) => {
                self.annotations.selected = select;
                self.refresh_annotations();
            }
            Err(e) => self.project_error("the edit was not saved", e),
        }
    }

    fn create_annotation(
        &mut self,
        key: PlaneKey,
        kind: crate::project::model::Kind,
        points: Vec<[f64; 2]>,
    ) {
        let Some(entry) = self.selected.and_then(|i| self.series.get(i)) else {
            return;
        };
        let Some(loaded) = &entry.loaded else {
            return;
        };
        let image = super::annotations::image_ref(entry, loaded, key);
        let body = self.annotations.body(image, kind, points);
        let id = match Id::random() {
            Ok(id) => id,
            Err(e) => {
                self.report_problem(format!("cannot make an annotation id: {e}"));
                return;
            }
        };
        if let Err(reason) = body.validate() {
            self.report_problem(format!("annotation not saved: {reason}"));
            return;
        }
        self.commit(Edit::Create {
            annotation: Annotation { id, body },
        });
    }

    fn copy_to_next_slice(&mut self, id: Id) {
        let Some(shown) = self.annotations.get(id) else {
            return;
        };
        let Some(key) = shown.key else {
            return;
        };
        let points = shown.annotation.body.points.clone();
        let kind = shown.annotation.body.kind;
        let label = shown.annotation.body.label.clone();
        let Some(s) = self.selected_loaded() else {
            return;
        };
        let next = key.index + 1;
        if next >= s.grid.dims[key.depth_axis] {
            self.report_problem("no next slice to copy the annotation to".to_owned());
            return;
        }
        let target = PlaneKey { index: next, ..key };
        let saved = std::mem::replace(&mut self.annotations.label, label);
        self.create_annotation(target, kind, points);
        self.annotations.label = saved;
    }

    fn undo_redo(&mut self, undo: bool) {
        let Some(project) = self.project.as_mut().filter(|p| !p.read_only) else {
            return;
        };
        self.annotations.draft = None;
        let result = if undo {
            project.session.undo_edit()
        } else {
            project.session.redo_edit()
        };
        match result {
            Ok(Some(applied)) => {
                self.apply_to_shown(&applied.edit);
                self.refresh_annotations();
                self.refresh_slide_annotations();
            }
            Ok(None) => {
                let what = if undo { "undo" } else { "redo" };
                self.status.note = Some(format!("Nothing of yours to {what}"));
            }
            Err(e) => self.project_error(if undo { "cannot undo" } else { "cannot redo" }, e),
        }
    }

    /// Reports a project error once; a session locked after sitting idle asks for the
    /// passphrase again (the file is untouched; the unlock form reopens it).
    pub(super) fn project_error(&mut self, context: &str, error: crate::project::ProjectError) {
        if let crate::project::ProjectError::IdleLocked { idle_minutes } = error
            && let Some(project) = self.project.take()
        {
            let path = project.path.clone();
            let user = project.user.clone();
            drop(project);
            self.annotations.clear();
            let mut form = ProjectForm::new(FormKind::Open, path);
            form.user = user;
            form.error = Some(format!(
                "Locked after {idle_minutes} minutes idle: enter your passphrase to go on"
            ));
            self.project_form = Some(form);
            return;
        }
        self.report_problem(format!("{context}: {error}"));
    }

    /// Scrolls every viewport showing the annotation's plane to it.
    fn show_annotation(&mut self, id: Id) {
        let Some(key) = self.annotations.get(id).and_then(|s| s.key) else {
            return;
        };
        let Some(first) = self
            .annotations
            .get(id)
            .and_then(|s| s.annotation.body.points.first().copied())
        else {
            return;
        };
        let voxel = key.voxel_of(first);
        if let Some(s) = self.selected_loaded_mut() {
            s.view.cursor = s.grid.clamp_voxel(voxel);
        }
    }
}
