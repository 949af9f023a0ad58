//! The cases window: the signed-in user's queues ("my work", "waiting for my review",
//! "escalated to me", with counts), one case's status, review, thread and the actions
//! the user's roles allow, the disagreement list of its readers, and the switch to the
//! side-by-side comparison of two readers.
//!
//! Owns [`CasesView`] (what the window shows, rebuilt from the project by
//! `apply_cases.rs`), [`CasePanelState`] (queue, selection and the text being typed) and
//! [`cases_ui`]. Emits [`CaseUi`] commands; never touches the project.

use std::collections::BTreeSet;

use egui::{Color32, RichText, Ui};

use super::{Command, theme};
use crate::project::cases::{CaseAction, Status};
use crate::project::model::ImageRef;
use crate::project::{Id, Role, Roles};
use crate::review::report::AgreementReport;

/// One case as the window lists it.
#[derive(Clone, Debug)]
pub struct CaseRow {
    pub case: ImageRef,
    /// The series description when the series is in the browser, else a digest.
    pub title: String,
    /// Index in the series browser, when the series is there.
    pub series_index: Option<usize>,
    pub status: Status,
    pub readers: Vec<(Id, String)>,
    pub blinded: bool,
    pub submitted: BTreeSet<Id>,
    pub reviewer: Option<String>,
    pub escalated_to: Option<Id>,
    pub escalated_to_name: Option<String>,
    pub question: Option<String>,
    pub answer: Option<String>,
    pub reject_reason: Option<String>,
    pub second_read: bool,
    /// (author, "HH:MM UTC" and what it is about, text)
    pub comments: Vec<(String, String, String)>,
}

/// What the window shows.
#[derive(Clone, Debug, Default)]
pub struct CasesView {
    pub rows: Vec<CaseRow>,
    pub me: Option<Id>,
    pub roles: Option<Roles>,
    /// Active members: id, name, roles.
    pub members: Vec<(Id, String, Roles)>,
    /// The last agreement report (computed on the project-sync thread on request).
    pub agreement: Option<AgreementReport>,
}

/// Which list the window shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Queue {
    #[default]
    MyWork,
    Review,
    Escalated,
    All,
}

impl Queue {
    const ALL: [Queue; 4] = [Queue::MyWork, Queue::Review, Queue::Escalated, Queue::All];

    fn name(self) -> &'static str {
        match self {
            Queue::MyWork => "My work",
            Queue::Review => "Waiting for my review",
            Queue::Escalated => "Escalated to me",
            Queue::All => "All cases",
        }
    }
}

impl CasesView {
    fn has(&self, role: Role) -> bool {
        self.roles.is_some_and(|r| r.contains(role))
    }

    fn is_reader(&self, row: &CaseRow) -> bool {
        self.me
            .is_some_and(|me| row.readers.iter().any(|(r, _)| *r == me))
    }

    /// Whether `row` belongs in `queue` for the signed-in user.
    pub fn in_queue(&self, row: &CaseRow, queue: Queue) -> bool {
        let me = self.me;
        match queue {
            Queue::MyWork => {
                self.is_reader(row)
                    && row.status.is_open()
                    && !me.is_some_and(|m| row.submitted.contains(&m))
            }
            Queue::Review => {
                self.has(Role::Reviewer)
                    && !self.is_reader(row)
                    && matches!(row.status, Status::Submitted | Status::InReview)
            }
            Queue::Escalated => row.status == Status::Escalated && row.escalated_to == me,
            Queue::All => true,
        }
    }

    /// How many cases wait in the user's three queues.
    pub fn waiting(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| {
                [Queue::MyWork, Queue::Review, Queue::Escalated]
                    .iter()
                    .any(|q| self.in_queue(r, *q))
            })
            .count()
    }
}

/// The window's own state: queue, selection, what is being typed.
#[derive(Clone, Debug, Default)]
pub struct CasePanelState {
    pub queue: Queue,
    /// Index into [`CasesView::rows`].
    pub selected: Option<usize>,
    pub reason: String,
    pub question: String,
    pub answer: String,
    pub comment: String,
    pub senior: Option<Id>,
    pub assign: BTreeSet<Id>,
    pub blinded: bool,
    /// The comment is about the annotation selected on screen.
    pub on_selected: bool,
}

/// What the window asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseUi {
    Select(usize),
    Queue(Queue),
    /// Show the case's series (a reviewer opening a submitted case starts the review).
    Open(usize),
    /// Do a workflow step on a case.
    Act {
        row: usize,
        action: CaseAction,
    },
    /// Show two readers side by side (`None`: back to the normal view).
    Compare(Option<(Id, Id)>),
    /// Measure the agreement of every compared series (on the project thread).
    MeasureAgreement,
}

fn status_colour(s: Status) -> Color32 {
    match s {
        Status::New | Status::InProgress => theme::TEXT,
        Status::Submitted | Status::InReview => theme::ACCENT,
        Status::Approved | Status::Adjudicated => Color32::from_rgb(90, 190, 120),
        Status::Rejected => theme::ERROR,
        Status::Escalated => theme::ORIENTATION_TEXT,
    }
}

/// The window's contents.
/// The merge's conflicts on the series on screen (`series`: its browser index), listed
/// with the case of that series.
pub struct OnScreen<'a> {
    pub series: Option<usize>,
    pub conflicts: &'a [String],
    /// The annotation selected on screen (id, label): a comment may be about it.
    pub selected: Option<(Id, &'a str)>,
}

pub fn cases_ui(
    ui: &mut Ui,
    view: &CasesView,
    state: &mut CasePanelState,
    on_screen: &OnScreen<'_>,
) -> Vec<Command> {
    let mut out = Vec::new();
    let mut cmd = |c: CaseUi| out.push(Command::Case(c));
    ui.horizontal_wrapped(|ui| {
        for q in Queue::ALL {
            let n = view.rows.iter().filter(|r| view.in_queue(r, q)).count();
            if ui
                .selectable_label(state.queue == q, format!("{} ({n})", q.name()))
                .clicked()
            {
                cmd(CaseUi::Queue(q));
            }
        }
    });
    ui.separator();
    let listed: Vec<usize> = (0..view.rows.len())
        .filter(|&i| view.in_queue(&view.rows[i], state.queue))
        .collect();
    if listed.is_empty() {
        ui.label(RichText::new("Nothing here.").color(theme::TEXT_DIM));
    }
    egui::ScrollArea::vertical()
        .id_salt("case-list")
        .max_height(160.0)
        .show(ui, |ui| {
            for &i in &listed {
                let row = &view.rows[i];
                ui.horizontal(|ui| {
                    let text = format!(
                        "{} · {}",
                        row.title,
                        row.readers
                            .iter()
                            .map(|(_, n)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    if ui
                        .selectable_label(state.selected == Some(i), text)
                        .clicked()
                    {
                        cmd(CaseUi::Select(i));
                    }
                    ui.label(RichText::new(row.status.as_str()).color(status_colour(row.status)));
                });
            }
        });
    let Some(i) = state.selected.filter(|&i| i < view.rows.len()) else {
        return out;
    };
    let row = &view.rows[i];
    ui.separator();
    case_detail_ui(ui, view, state, i, row, on_screen, &mut cmd);
    out
}

fn case_detail_ui(
    ui: &mut Ui,
    view: &CasesView,
    state: &mut CasePanelState,
    i: usize,
    row: &CaseRow,
    on_screen: &OnScreen<'_>,
    cmd: &mut impl FnMut(CaseUi),
) {
    ui.label(RichText::new(&row.title).strong());
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(row.status.as_str()).color(status_colour(row.status)));
        let readers: Vec<String> = row
            .readers
            .iter()
            .map(|(id, n)| {
                if row.submitted.contains(id) {
                    format!("{n} (submitted)")
                } else {
                    n.clone()
                }
            })
            .collect();
        ui.label(format!(
            "· readers: {}{}",
            readers.join(", "),
            if row.blinded { " · blinded" } else { "" }
        ));
        ui.label(if row.second_read {
            "· second read required"
        } else {
            "· second read optional"
        });
    });
    if let Some(r) = &row.reviewer {
        ui.label(format!("Reviewer: {r}"));
    }
    if let Some(r) = &row.reject_reason {
        ui.label(RichText::new(format!("Sent back: {r}")).color(theme::ERROR));
    }
    if let (Some(to), Some(q)) = (&row.escalated_to_name, &row.question) {
        ui.label(format!("Escalated to {to}: {q}"));
    }
    if let Some(a) = &row.answer {
        ui.label(format!("Answer: {a}"));
    }
    ui.horizontal_wrapped(|ui| {
        if row.series_index.is_some() && ui.button("Open case").clicked() {
            cmd(CaseUi::Open(i));
        }
        actions_ui(ui, view, state, i, row, cmd);
    });
    // Readers side by side, and how far they agree.
    let me_blinded =
        row.blinded && view.is_reader(row) && !view.me.is_some_and(|m| row.submitted.contains(&m));
    if row.readers.len() >= 2 && !me_blinded {
        ui.horizontal_wrapped(|ui| {
            let (a, b) = (&row.readers[0], &row.readers[1]);
            if row.series_index.is_some()
                && ui
                    .button(format!("Compare {} | {}", a.1, b.1))
                    .on_hover_text("The two readers' annotations side by side, in their colours")
                    .clicked()
            {
                cmd(CaseUi::Compare(Some((a.0, b.0))));
            }
            if ui
                .button("Measure agreement")
                .on_hover_text("Dice, surface distances, matched findings and kappa")
                .clicked()
            {
                cmd(CaseUi::MeasureAgreement);
            }
        });
        disagreements_ui(ui, view, row);
    }
    // Concurrent edits the merge kept apart (sync bundles), on this series.
    if !me_blinded && row.series_index.is_some() && row.series_index == on_screen.series {
        for line in on_screen.conflicts {
            ui.label(RichText::new(format!("Conflict: {line}")).color(theme::ORIENTATION_TEXT));
        }
    }
    ui.separator();
    ui.label(RichText::new("Comments").strong());
    egui::ScrollArea::vertical()
        .id_salt("case-thread")
        .max_height(120.0)
        .show(ui, |ui| {
            if row.comments.is_empty() {
                ui.label(RichText::new("No comments yet.").color(theme::TEXT_DIM));
            }
            for (who, when, text) in &row.comments {
                ui.label(
                    RichText::new(format!("{who} · {when}"))
                        .small()
                        .color(theme::TEXT_DIM),
                );
                ui.label(text);
            }
        });
    let about = on_screen
        .selected
        .filter(|_| row.series_index.is_some() && row.series_index == on_screen.series);
    if let Some((_, label)) = about {
        ui.checkbox(
            &mut state.on_selected,
            format!("About the selected {label}"),
        );
    }
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut state.comment)
                .hint_text("Comment (@name mentions)")
                .desired_width(240.0),
        );
        if ui.button("Send").clicked() && !state.comment.trim().is_empty() {
            let text = state.comment.trim().to_owned();
            let mentions = view
                .members
                .iter()
                .filter(|(_, n, _)| text.contains(&format!("@{n}")))
                .map(|(id, _, _)| *id)
                .collect();
            cmd(CaseUi::Act {
                row: i,
                action: CaseAction::Comment {
                    annotation: about.filter(|_| state.on_selected).map(|(id, _)| id),
                    text,
                    mentions,
                },
            });
        }
    });
}

/// The buttons for what the user's roles allow in the case's state (the domain checks
/// again and says why when it refuses).
fn actions_ui(
    ui: &mut Ui,
    view: &CasesView,
    state: &mut CasePanelState,
    i: usize,
    row: &CaseRow,
    cmd: &mut impl FnMut(CaseUi),
) {
    let me = view.me;
    let reader = view.is_reader(row);
    let mut act = |action: CaseAction| cmd(CaseUi::Act { row: i, action });
    if reader
        && row.status.is_open()
        && !me.is_some_and(|m| row.submitted.contains(&m))
        && ui
            .button("Submit")
            .on_hover_text("Hand in your reading")
            .clicked()
    {
        act(CaseAction::Submit);
    }
    let reviewing = view.has(Role::Reviewer)
        && !reader
        && matches!(row.status, Status::Submitted | Status::InReview);
    if reviewing {
        if ui.button("Approve").clicked() {
            act(CaseAction::Approve { note: None });
        }
        ui.end_row();
    }
    if view.has(Role::Senior) && row.status == Status::Escalated && row.escalated_to == me {
        ui.add(
            egui::TextEdit::singleline(&mut state.answer)
                .hint_text("Answer")
                .desired_width(200.0),
        );
        if ui.button("Adjudicate").clicked() && !state.answer.trim().is_empty() {
            act(CaseAction::Adjudicate {
                answer: state.answer.trim().to_owned(),
                consensus: Vec::new(),
            });
        }
    }
    if reviewing {
        ui.end_row();
        ui.add(
            egui::TextEdit::singleline(&mut state.reason)
                .hint_text("Reason")
                .desired_width(160.0),
        );
        if ui.button("Reject").clicked() && !state.reason.trim().is_empty() {
            act(CaseAction::Reject {
                reason: state.reason.trim().to_owned(),
            });
        }
        let seniors: Vec<&(Id, String, Roles)> = view
            .members
            .iter()
            .filter(|(id, _, r)| {
                r.contains(Role::Senior) && !row.readers.iter().any(|x| x.0 == *id)
            })
            .collect();
        if !seniors.is_empty() {
            let chosen = state
                .senior
                .and_then(|s| seniors.iter().find(|x| x.0 == s))
                .map_or("choose", |x| x.1.as_str());
            egui::ComboBox::from_label("senior")
                .selected_text(chosen)
                .show_ui(ui, |ui| {
                    for (id, name, _) in &seniors {
                        ui.selectable_value(&mut state.senior, Some(*id), name);
                    }
                });
            ui.add(
                egui::TextEdit::singleline(&mut state.question)
                    .hint_text("Question")
                    .desired_width(160.0),
            );
            if ui.button("Escalate").clicked()
                && let Some(to) = state.senior
                && !state.question.trim().is_empty()
            {
                act(CaseAction::Escalate {
                    to,
                    question: state.question.trim().to_owned(),
                });
            }
        }
    }
    if (view.has(Role::Admin) || view.has(Role::Reviewer)) && row.status.is_open() {
        ui.menu_button("Assign…", |ui| {
            for (id, name, roles) in &view.members {
                if roles.contains(Role::Annotator) {
                    let mut on = state.assign.contains(id);
                    if ui.checkbox(&mut on, name).changed() {
                        if on {
                            state.assign.insert(*id);
                        } else {
                            state.assign.remove(id);
                        }
                    }
                }
            }
            ui.checkbox(&mut state.blinded, "Blinded");
            if ui.button("Assign").clicked() && !state.assign.is_empty() {
                act(CaseAction::Assign {
                    readers: state.assign.iter().copied().collect(),
                    blinded: state.blinded,
                });
                ui.close();
            }
        });
    }
}

/// The measured disagreements on this case's series, lowest agreement first.
fn disagreements_ui(ui: &mut Ui, view: &CasesView, row: &CaseRow) {
    let Some(report) = &view.agreement else {
        return;
    };
    let series = match &row.case {
        ImageRef::Dicom { series_uid, .. } => crate::review::report::series_digest(series_uid),
        ImageRef::Slide { .. } => return,
    };
    // Only this case's readers, lowest agreement first (the report's order).
    let reads = |a: &str, b: &str| {
        row.readers.iter().any(|(_, n)| n == a) && row.readers.iter().any(|(_, n)| n == b)
    };
    let mut any = false;
    for s in report
        .segmentations
        .iter()
        .filter(|s| s.series == series && reads(&s.reader_a, &s.reader_b))
    {
        any = true;
        ui.label(format!(
            "{} · {} / {}: Dice {:.2}, HD95 {}",
            s.class,
            s.reader_a,
            s.reader_b,
            s.dice,
            s.hausdorff95_mm
                .map_or("–".to_owned(), |v| format!("{v:.1} mm"))
        ));
    }
    for f in report
        .findings
        .iter()
        .filter(|f| f.series == series && reads(&f.reader_a, &f.reader_b))
    {
        any = true;
        ui.label(format!(
            "Findings {} / {}: {} matched, {} missed by {}, {} missed by {}, kappa {}",
            f.reader_a,
            f.reader_b,
            f.matched,
            f.missed_by_b,
            f.reader_b,
            f.missed_by_a,
            f.reader_a,
            f.kappa.map_or("–".to_owned(), |k| format!("{k:.2}"))
        ));
    }
    if !any {
        ui.label(
            RichText::new("No measured disagreement on this series yet.").color(theme::TEXT_DIM),
        );
    }
}
