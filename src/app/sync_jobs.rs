//! Sync work on the open project, off the UI thread: export a bundle, check a bundle
//! (preview), import it, or save a consistent copy for a colleague.
//!
//! Owns the "project-sync" thread and its bounded channel. The project session moves
//! into the thread for the job and comes back with the result, so the window never
//! touches the file while a job runs and a large bundle cannot freeze it.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};

use super::project_form::OpenProject;
use crate::project::{ExportSummary, ImportSummary};

/// What to do with the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncTask {
    Export(PathBuf),
    /// Check a bundle and say what it would change; changes nothing.
    Preview(PathBuf),
    Import(PathBuf),
    /// A consistent copy of the project file (`VACUUM INTO`), then open it for editing.
    SaveCopy(PathBuf),
    /// A plaintext export (SEG, SR, NIfTI, CSV) the user asked for.
    ExportLabels(Box<crate::cli::labels_io::ExportRequest>),
    /// The agreement between readers (`review::report`), for the cases window.
    Agreement,
}

impl SyncTask {
    pub fn verb(&self) -> &'static str {
        match self {
            SyncTask::Export(_) => "Exporting for sync",
            SyncTask::Preview(_) => "Checking the bundle",
            SyncTask::Import(_) => "Importing",
            SyncTask::SaveCopy(_) => "Saving a copy",
            SyncTask::ExportLabels(_) => "Exporting",
            SyncTask::Agreement => "Measuring agreement",
        }
    }
}

/// What a finished job produced.
#[derive(Debug)]
pub enum SyncOutcome {
    Exported(PathBuf, ExportSummary),
    Previewed(PathBuf, ImportSummary),
    Imported(ImportSummary),
    Copied(PathBuf),
    /// What the export wrote, in lines of counts and paths.
    LabelsExported(String),
    Agreement(Box<crate::review::report::AgreementReport>),
}

enum Report {
    Progress(u64, u64),
    Done(Box<OpenProject>, Result<SyncOutcome, String>),
}

/// A running job.
pub struct SyncJob {
    pub task: SyncTask,
    pub progress: Option<(u64, u64)>,
    receiver: Receiver<Report>,
}

/// Progress reports kept in flight at most (older ones are dropped, never waited on).
const PROGRESS_QUEUE: usize = 16;

impl SyncJob {
    /// Starts `task` on its own thread with the project; `notify` wakes the window.
    /// On failure to start, the project comes straight back.
    pub fn start(
        task: SyncTask,
        project: OpenProject,
        notify: impl Fn() + Send + 'static,
    ) -> Result<SyncJob, Box<(OpenProject, String)>> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(PROGRESS_QUEUE);
        let job_task = task.clone();
        // The project travels through a one-slot channel so a failed spawn can return it.
        let (hand_in, take) = std::sync::mpsc::sync_channel::<OpenProject>(1);
        let spawned = std::thread::Builder::new()
            .name("project-sync".into())
            .spawn(move || {
                let Ok(mut project) = take.recv() else {
                    return;
                };
                let result = run(&job_task, &mut project, &sender, &notify);
                let _ = sender.send(Report::Done(Box::new(project), result));
                notify();
            });
        match spawned {
            Ok(_) => {
                if let Err(e) = hand_in.send(project) {
                    return Err(Box::new((e.0, "the sync thread stopped".to_owned())));
                }
                Ok(SyncJob {
                    task,
                    progress: None,
                    receiver,
                })
            }
            Err(e) => Err(Box::new((project, format!("cannot start: {e}")))),
        }
    }

    /// Drains progress; the project and the outcome once the job is done.
    pub fn poll(&mut self) -> JobPoll {
        loop {
            match self.receiver.try_recv() {
                Ok(Report::Progress(done, total)) => self.progress = Some((done, total)),
                Ok(Report::Done(project, result)) => return JobPoll::Done(project, result),
                Err(TryRecvError::Empty) => return JobPoll::Running,
                // The thread owns the project until `Done`; a disconnect before it means
                // the thread died and the session with it (the file is intact).
                Err(TryRecvError::Disconnected) => return JobPoll::Lost,
            }
        }
    }
}

/// Where a job is.
pub enum JobPoll {
    Running,
    Done(Box<OpenProject>, Result<SyncOutcome, String>),
    Lost,
}

fn run(
    task: &SyncTask,
    project: &mut OpenProject,
    sender: &SyncSender<Report>,
    notify: &(impl Fn() + Send),
) -> Result<SyncOutcome, String> {
    let mut progress = |done: u64, total: u64| {
        if sender.try_send(Report::Progress(done, total)).is_ok() {
            notify();
        }
    };
    let session = &mut project.session;
    let result = match task {
        SyncTask::ExportLabels(request) => {
            let user = session.user().to_owned();
            return crate::cli::labels_io::export_with(session, request, &user)
                .map(SyncOutcome::LabelsExported)
                .map_err(|e| format!("{e:#}"));
        }
        SyncTask::Agreement => {
            return crate::review::report::agreement_report(session)
                .map(|r| SyncOutcome::Agreement(Box::new(r)))
                .map_err(|e| e.to_string());
        }
        SyncTask::Export(out) => session
            .export_bundle(out, &[], &mut progress)
            .map(|s| SyncOutcome::Exported(out.clone(), s)),
        SyncTask::Preview(bundle) => session
            .import_preview(bundle, &mut progress)
            .map(|s| SyncOutcome::Previewed(bundle.clone(), s)),
        SyncTask::Import(bundle) => session
            .import_commit(bundle, &mut progress)
            .map(SyncOutcome::Imported),
        SyncTask::SaveCopy(out) => session
            .save_copy(out)
            .map(|()| SyncOutcome::Copied(out.clone())),
    };
    result.map_err(|e| e.to_string())
}
