//! The sync half of [`TesseraApp::apply`]: export and import bundles, the import
//! preview, conflicts and their resolution, saving a copy, and leaving read-only mode.
//!
//! Jobs run on the "project-sync" thread ([`super::sync_jobs`]); the project comes back
//! when they are done and [`TesseraApp::poll_sync`] takes it.

use super::project_form::FormKind;
use super::sync_jobs::{JobPoll, SyncJob, SyncOutcome, SyncTask};
use super::{Command, TesseraApp};
use crate::cli::labels_io::{ExportFormat, ExportRequest};

impl TesseraApp {
    /// Applies the sync commands (called by `apply_annotation`).
    pub(super) fn apply_sync(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::ExportBundleDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Export for sync")
                    .add_filter("Tessera sync bundle", &["tbundle"])
                    .set_file_name("changes.tbundle")
                    .save_file()
                {
                    self.apply(ctx, Command::StartSync(SyncTask::Export(path)));
                }
            }
            Command::ImportBundleDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Import a sync bundle")
                    .add_filter("Tessera sync bundle", &["tbundle"])
                    .pick_file()
                {
                    self.apply(ctx, Command::StartSync(SyncTask::Preview(path)));
                }
            }
            Command::SaveCopyDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Save a copy to work on")
                    .add_filter("Tessera project", &[crate::project::EXTENSION])
                    .set_file_name(format!("my-copy.{}", crate::project::EXTENSION))
                    .save_file()
                {
                    self.apply(ctx, Command::StartSync(SyncTask::SaveCopy(path)));
                }
            }
            Command::StartSync(task) => {
                if self.sync_job.is_some() {
                    return;
                }
                let Some(project) = self.project.take() else {
                    return;
                };
                self.annotations.draft = None;
                self.annotations.reshape = None;
                let repaint = ctx.clone();
                match SyncJob::start(task, project, move || repaint.request_repaint()) {
                    Ok(job) => self.sync_job = Some(job),
                    Err(failed) => {
                        let (project, e) = *failed;
                        self.project = Some(project);
                        self.report_problem(e);
                    }
                }
            }
            Command::ConfirmImport(yes) => {
                if let Some((path, _)) = self.import_preview.take()
                    && yes
                {
                    self.apply(ctx, Command::StartSync(SyncTask::Import(path)));
                }
            }
            Command::SetShowConflicts(show) => {
                self.show_conflicts = show;
                self.refresh_conflicts();
            }
            Command::ResolveConflict { annotation, keep } => {
                let Some(project) = self.project.as_mut().filter(|p| !p.read_only) else {
                    return;
                };
                match project.session.resolve_conflict(annotation, keep) {
                    Ok(_) => {
                        self.status.note = Some("Conflict resolved".to_owned());
                        self.refresh_annotations();
                        self.refresh_conflicts();
                        self.refresh_cases();
                    }
                    Err(e) => self.project_error("cannot resolve", e),
                }
            }
            Command::ExportLabelsDialog(format) => self.export_prompt = Some(format),
            Command::ConfirmExport(go) => {
                let Some(format) = self.export_prompt.take() else {
                    return;
                };
                if !go {
                    return;
                }
                let (name, ext) = match format {
                    ExportFormat::Seg => ("segmentation.dcm", "dcm"),
                    ExportFormat::Sr => ("measurements-sr.dcm", "dcm"),
                    ExportFormat::Nifti => ("labels.nii.gz", "gz"),
                    ExportFormat::Csv => ("measurements.csv", "csv"),
                    ExportFormat::Geojson => ("annotations.geojson", "geojson"),
                };
                if let Some(out) = rfd::FileDialog::new()
                    .set_title("Export (plaintext)")
                    .add_filter(ext, &[ext])
                    .set_file_name(name)
                    .save_file()
                {
                    let request = self.export_request(format, out);
                    self.apply(
                        ctx,
                        Command::StartSync(SyncTask::ExportLabels(Box::new(request))),
                    );
                }
            }
            Command::SetExportReviewedOnly(on) => self.export_reviewed_only = on,
            Command::EditSharedFile => {
                if let Some(p) = &mut self.project {
                    p.read_only = false;
                }
            }
            other => self.apply_case(ctx, other),
        }
    }

    /// Takes the project back from a finished job and shows what it did.
    pub(super) fn poll_sync(&mut self, ctx: &egui::Context) {
        let Some(job) = &mut self.sync_job else {
            return;
        };
        match job.poll() {
            JobPoll::Running => {}
            JobPoll::Lost => {
                self.sync_job = None;
                self.report_problem(
                    "the sync thread stopped; the project file is unchanged, open it again"
                        .to_owned(),
                );
            }
            JobPoll::Done(project, result) => {
                self.sync_job = None;
                self.project = Some(*project);
                match result {
                    Ok(SyncOutcome::Exported(path, s)) => {
                        self.status.note = Some(format!(
                            "Exported {} ({} KiB) to {}",
                            plural(s.events, "event"),
                            s.bytes.div_ceil(1024),
                            file_name(&path)
                        ));
                    }
                    Ok(SyncOutcome::Previewed(path, s)) => self.import_preview = Some((path, s)),
                    Ok(SyncOutcome::Imported(s)) => {
                        self.status.note = Some(format!(
                            "Imported {} from {}; {}",
                            plural(s.new_event_count(), "new event"),
                            s.exporter,
                            plural(s.new_conflicts.len() as u64, "new conflict")
                        ));
                        self.refresh_annotations();
                        self.refresh_conflicts();
                        self.refresh_cases();
                    }
                    Ok(SyncOutcome::Copied(path)) => {
                        // Edit the copy: close this file, unlock the copy for editing.
                        self.status.note = Some(format!("Saved a copy as {}", file_name(&path)));
                        self.apply(ctx, Command::CloseProject);
                        self.apply(ctx, Command::ShowProjectForm(FormKind::Open, path));
                        if let Some(form) = &mut self.project_form {
                            form.writable = true;
                        }
                    }
                    Ok(SyncOutcome::Agreement(report)) => {
                        self.status.note = Some(format!(
                            "Agreement measured on {}",
                            plural(report.series_compared as u64, "series")
                        ));
                        self.cases.agreement = Some(*report);
                    }
                    Ok(SyncOutcome::LabelsExported(said)) => {
                        let first = said.lines().next().unwrap_or("Exported").to_owned();
                        self.slide_note(&first);
                        self.status.note = Some(first);
                    }
                    Err(e) => {
                        self.slide_note(&e);
                        self.report_problem(e);
                    }
                }
            }
        }
    }

    /// An export of the selected series (or everything) against the opened study; on
    /// the slide screen, of the open slide's annotations (its file gives µm).
    pub fn export_request(&self, format: ExportFormat, out: std::path::PathBuf) -> ExportRequest {
        let file = self
            .project
            .as_ref()
            .map(|p| p.path.clone())
            .unwrap_or_default();
        if let Some(slide) = &self.slide
            && format == ExportFormat::Geojson
        {
            return ExportRequest {
                file,
                format,
                out: Some(out),
                case: slide.annotations().and_then(|a| a.sha256.clone()),
                reviewed_only: self.export_reviewed_only,
                study: None,
                with_image: false,
                segmentation: None,
                slide: Some(slide.path().to_path_buf()),
            };
        }
        let study = match self.opened_paths.as_slice() {
            [one] if one.is_dir() => Some(one.clone()),
            [first, ..] => first.parent().map(std::path::Path::to_path_buf),
            [] => None,
        };
        ExportRequest {
            file,
            format,
            out: Some(out),
            case: self
                .selected
                .and_then(|i| self.series.get(i))
                .map(|e| e.info.series_uid.clone()),
            reviewed_only: self.export_reviewed_only,
            study,
            with_image: false,
            segmentation: self
                .segmentation
                .shown
                .as_ref()
                .map(|s| s.info.header.name.clone()),
            slide: None,
        }
    }

    /// The plaintext-export warning and a running sync job's progress (both screens:
    /// studies and slides).
    pub(super) fn export_windows_ui(&self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut commands = Vec::new();
        if let Some(job) = &self.sync_job {
            super::sync_panel::sync_progress_ui(ui, job);
        }
        if let Some(format) = self.export_prompt
            && let Some(go) = super::sync_panel::export_warning_ui(ui, format)
        {
            commands.push(Command::ConfirmExport(go));
        }
        commands
    }

    /// Says `text` in the slide's annotation panel (the slide screen has no status bar).
    fn slide_note(&mut self, text: &str) {
        if let Some(a) = self.slide.as_mut().and_then(|s| s.annotations_mut()) {
            a.note = Some(text.to_owned());
        }
    }

    pub(super) fn refresh_conflicts(&mut self) {
        let Some(project) = &mut self.project else {
            self.conflicts.clear();
            return;
        };
        match project.session.conflicts() {
            Ok(list) => self.conflicts = list,
            Err(e) => self.project_error("cannot list conflicts", e),
        }
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// "1 event", "2 events".
fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
