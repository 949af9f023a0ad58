//! Creating and unlocking a project from the window: the name-and-passphrase form, the
//! worker thread that runs the key derivation (about half a second), and the notice that
//! shows a new project's recovery code once.
//!
//! Owns the form state and the "project-unlock" thread. The project file itself is the
//! [`crate::project`] module's; this module never writes it, and passphrases live in
//! zeroized strings that are wiped as soon as the worker has them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use egui::{Id, Key, RichText, TextEdit, Ui};
use zeroize::Zeroizing;

use super::theme;
use crate::project::{KdfChoice, Project, Roles, Session, VerifyOnOpen};

/// Whether the form creates a project or opens one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    New,
    Open,
}

/// What the user did with the form this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormAction {
    Submit,
    Cancel,
}

/// A project opened in the window.
pub struct OpenProject {
    pub session: Session,
    pub path: PathBuf,
    pub user: String,
    pub role: Roles,
    pub annotations: usize,
    /// Opened for reading only: tools are off until the user chooses to edit this file
    /// or to keep working on a copy. A file the user has never edited opens this way.
    pub read_only: bool,
}

impl std::fmt::Debug for OpenProject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenProject")
            .field("role", &self.role)
            .field("annotations", &self.annotations)
            .finish_non_exhaustive()
    }
}

/// What the worker hands back: the project, and for a new one its recovery code.
pub struct Opened {
    pub project: OpenProject,
    pub recovery_code: Option<Zeroizing<String>>,
}

/// The form over the window while a project is being created or unlocked.
pub struct ProjectForm {
    pub kind: FormKind,
    pub path: PathBuf,
    pub user: String,
    pub passphrase: Zeroizing<String>,
    pub repeat: Zeroizing<String>,
    pub error: Option<String>,
    /// Open for editing even when the user has never edited this file (their own copy).
    pub writable: bool,
    worker: Option<Receiver<Result<Opened, String>>>,
}

impl ProjectForm {
    pub fn new(kind: FormKind, path: PathBuf) -> Self {
        let user = std::env::var("TESSERA_USER").unwrap_or_default();
        Self {
            kind,
            path,
            user,
            passphrase: Zeroizing::new(String::new()),
            repeat: Zeroizing::new(String::new()),
            error: None,
            writable: false,
            worker: None,
        }
    }

    pub fn is_busy(&self) -> bool {
        self.worker.is_some()
    }

    /// Checks the fields and starts the "project-unlock" thread; the passphrase fields are
    /// wiped here. `notify` wakes the UI when the thread is done.
    pub fn submit(&mut self, kdf: KdfChoice, notify: impl Fn() + Send + 'static) {
        if self.is_busy() {
            return;
        }
        let user = self.user.trim().to_owned();
        if user.is_empty() {
            self.error = Some("enter your user name".to_owned());
            return;
        }
        if self.passphrase.is_empty() {
            self.error = Some("enter a passphrase".to_owned());
            return;
        }
        if self.kind == FormKind::New && *self.passphrase != *self.repeat {
            self.error = Some("the two passphrases differ".to_owned());
            self.repeat.clear();
            return;
        }
        let secret = Zeroizing::new(std::mem::take(&mut *self.passphrase));
        self.repeat.clear();
        self.error = None;
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let kind = self.kind;
        let writable = self.writable;
        let path = self.path.clone();
        let spawned = std::thread::Builder::new()
            .name("project-unlock".into())
            .spawn(move || {
                let result = open_or_create(kind, &path, &user, secret.as_bytes(), kdf, writable);
                let _ = sender.send(result.map_err(|e| format!("{e:#}")));
                notify();
            });
        match spawned {
            Ok(_) => self.worker = Some(receiver),
            Err(e) => self.error = Some(format!("cannot start: {e}")),
        }
    }

    /// The worker's answer once it is done (an error stays in the form).
    pub fn poll(&mut self) -> Option<Opened> {
        let result = self.worker.as_ref()?.try_recv().ok()?;
        self.worker = None;
        match result {
            Ok(opened) => Some(opened),
            Err(message) => {
                self.error = Some(message);
                None
            }
        }
    }
}

fn open_or_create(
    kind: FormKind,
    path: &Path,
    user: &str,
    secret: &[u8],
    kdf: KdfChoice,
    writable: bool,
) -> anyhow::Result<Opened> {
    let (mut session, recovery_code) = match kind {
        FormKind::New => {
            let (session, code) = Project::create(path, user, secret, kdf)?;
            (session, Some(code.display()))
        }
        FormKind::Open => (
            Project::open(path)?.unlock(user, secret, VerifyOnOpen::Yes)?,
            None,
        ),
    };
    let annotations = session.annotations()?.len();
    let read_only = kind == FormKind::Open && !writable && session.own_event_count()? == 0;
    let project = OpenProject {
        read_only,
        path: path.to_owned(),
        user: session.user().to_owned(),
        role: session.roles(),
        annotations,
        session,
    };
    Ok(Opened {
        project,
        recovery_code,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The form, as a modal over the window.
pub fn project_form_ui(ui: &mut Ui, form: &mut ProjectForm) -> Option<FormAction> {
    let mut action = None;
    egui::Modal::new(Id::unique("project-form")).show(ui.ctx(), |ui| {
        ui.set_width(theme::DIALOG_WIDTH);
        let title = match form.kind {
            FormKind::New => "New project",
            FormKind::Open => "Open project",
        };
        ui.heading(title);
        ui.label(RichText::new(file_name(&form.path)).color(theme::TEXT_DIM));
        ui.add_space(theme::DIALOG_GAP);
        let busy = form.is_busy();
        ui.add_enabled_ui(!busy, |ui| {
            egui::Grid::new("project-form-fields")
                .num_columns(2)
                .spacing([theme::DIALOG_GAP, theme::DIALOG_GAP])
                .show(ui, |ui| {
                    let label = ui.label("User name");
                    ui.add(TextEdit::singleline(&mut form.user).desired_width(220.0))
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("Passphrase");
                    let pass = ui
                        .add(
                            TextEdit::singleline(&mut *form.passphrase)
                                .password(true)
                                .desired_width(220.0),
                        )
                        .labelled_by(label.id);
                    ui.end_row();
                    let mut last = pass;
                    if form.kind == FormKind::New {
                        let label = ui.label("Repeat passphrase");
                        last = ui
                            .add(
                                TextEdit::singleline(&mut *form.repeat)
                                    .password(true)
                                    .desired_width(220.0),
                            )
                            .labelled_by(label.id);
                        ui.end_row();
                    }
                    if last.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                        action = Some(FormAction::Submit);
                    }
                });
        });
        if form.kind == FormKind::New {
            ui.add_space(theme::DIALOG_GAP);
            ui.label(
                RichText::new(
                    "You become the project's admin. A recovery code is shown once, next.",
                )
                .color(theme::TEXT_DIM),
            );
        }
        if let Some(error) = &form.error {
            ui.add_space(theme::DIALOG_GAP);
            ui.label(RichText::new(error.as_str()).color(theme::ERROR));
        }
        ui.add_space(theme::DIALOG_GAP);
        ui.horizontal(|ui| {
            if busy {
                ui.spinner();
                ui.label("Deriving the key…");
            } else {
                let verb = match form.kind {
                    FormKind::New => "Create",
                    FormKind::Open => "Unlock",
                };
                if ui.button(verb).clicked() {
                    action = Some(FormAction::Submit);
                }
                if ui.button("Cancel").clicked() {
                    action = Some(FormAction::Cancel);
                }
            }
        });
    });
    action
}

/// The recovery code of a new project, shown once; true when the user has closed it.
pub fn recovery_code_ui(ui: &mut Ui, code: &str) -> bool {
    let mut done = false;
    egui::Modal::new(Id::unique("recovery-code")).show(ui.ctx(), |ui| {
        ui.set_width(theme::DIALOG_WIDTH);
        ui.heading("Recovery code");
        ui.label(
            "Print it or write it down and keep it offline. With it, an admin can open \
             the project as the user \"recovery\" if every passphrase is lost. \
             It is not shown again.",
        );
        ui.add_space(theme::DIALOG_GAP);
        ui.add(egui::Label::new(RichText::new(code).monospace().size(16.0)).selectable(true));
        ui.add_space(theme::DIALOG_GAP);
        done = ui.button("I have kept the code").clicked();
    });
    done
}
