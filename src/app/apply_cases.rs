//! Applies the cases window's commands: workflow steps through the project session (the
//! domain checks roles and states and says why it refuses), opening a case's series,
//! the side-by-side comparison, and the agreement measured on the project thread.
//!
//! Owns `TesseraApp::apply_case` and `refresh_cases` (the window's view rebuilt from the
//! project after each step, import or open).

use super::case_panel::{CaseRow, CaseUi, CasesView};
use super::sync_jobs::SyncTask;
use super::{Command, TesseraApp};
use crate::project::cases::{CaseAction, Status};
use crate::project::model::ImageRef;

impl TesseraApp {
    pub(super) fn apply_case(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::SetShowCases(show) => {
                self.show_cases = show && self.project.is_some();
                if self.show_cases {
                    self.refresh_cases();
                }
            }
            Command::Case(c) => self.case_command(ctx, c),
            _ => {}
        }
    }

    fn case_command(&mut self, ctx: &egui::Context, c: CaseUi) {
        match c {
            CaseUi::Select(i) => self.case_panel.selected = Some(i),
            CaseUi::Queue(q) => {
                self.case_panel.queue = q;
                self.case_panel.selected = None;
            }
            CaseUi::Open(i) => {
                let Some(row) = self.cases.rows.get(i).cloned() else {
                    return;
                };
                if let Some(index) = row.series_index
                    && self.selected != Some(index)
                {
                    self.apply(ctx, Command::SelectSeries(index));
                }
                // A reviewer opening a submitted case starts its review.
                let reviewer = self
                    .cases
                    .roles
                    .is_some_and(|r| r.contains(crate::project::Role::Reviewer));
                let reader = self
                    .cases
                    .me
                    .is_some_and(|me| row.readers.iter().any(|(r, _)| *r == me));
                if reviewer && !reader && row.status == Status::Submitted {
                    self.case_step(&row.case, CaseAction::StartReview);
                }
            }
            CaseUi::Act { row, action } => {
                let Some(case) = self.cases.rows.get(row).map(|r| r.case.clone()) else {
                    return;
                };
                let action = match action {
                    CaseAction::Adjudicate { answer, consensus } if consensus.is_empty() => {
                        CaseAction::Adjudicate {
                            answer,
                            consensus: self.consensus_of(row),
                        }
                    }
                    other => other,
                };
                let clears = matches!(
                    action,
                    CaseAction::Comment { .. }
                        | CaseAction::Reject { .. }
                        | CaseAction::Escalate { .. }
                        | CaseAction::Adjudicate { .. }
                );
                if self.case_step(&case, action) && clears {
                    let p = &mut self.case_panel;
                    p.comment.clear();
                    p.reason.clear();
                    p.question.clear();
                    p.answer.clear();
                }
            }
            CaseUi::Compare(None) => self.annotations.compare = None,
            CaseUi::Compare(Some((a, b))) => {
                let name = |id| {
                    let found = self
                        .cases
                        .members
                        .iter()
                        .find(|m| m.0 == id)
                        .map(|m| m.1.as_str());
                    crate::project::members::display_name(found, &id)
                };
                let readers = [(a, name(a)), (b, name(b))];
                if let Some(row) = self
                    .case_panel
                    .selected
                    .and_then(|i| self.cases.rows.get(i))
                    && let Some(index) = row.series_index
                    && self.selected != Some(index)
                {
                    self.apply(ctx, Command::SelectSeries(index));
                }
                self.annotations.compare = Some(super::annotations::Compare { readers });
            }
            CaseUi::MeasureAgreement => self.apply(ctx, Command::StartSync(SyncTask::Agreement)),
        }
    }

    /// The senior's annotations on the case's series (shown now) as the consensus, each
    /// made from the readers' annotations of the same kind on the same slice.
    fn consensus_of(&self, row: usize) -> Vec<crate::project::cases::Consensus> {
        let (Some(me), Some(case)) = (self.cases.me, self.cases.rows.get(row)) else {
            return Vec::new();
        };
        let ImageRef::Dicom { series_uid, .. } = &case.case else {
            return Vec::new();
        };
        if self.annotations.series_uid.as_ref() != Some(series_uid) {
            return Vec::new();
        }
        let readers: Vec<_> = case.readers.iter().map(|(id, _)| *id).collect();
        let by = |s: &super::annotations::Shown| self.annotations.authors.get(&s.annotation.id);
        let shown = &self.annotations.shown;
        shown
            .iter()
            .filter(|s| by(s) == Some(&me))
            .map(|mine| crate::project::cases::Consensus {
                annotation: mine.annotation.id,
                from: shown
                    .iter()
                    .filter(|o| {
                        by(o).is_some_and(|a| readers.contains(a))
                            && o.key == mine.key
                            && o.annotation.body.kind == mine.annotation.body.kind
                    })
                    .map(|o| o.annotation.id)
                    .collect(),
            })
            .collect()
    }

    /// One workflow step; `true` when it was committed. A refusal is one status line.
    fn case_step(&mut self, case: &ImageRef, action: CaseAction) -> bool {
        let Some(project) = &mut self.project else {
            return false;
        };
        if project.read_only {
            self.status.note = Some(
                "This file is open read-only: choose Edit this file or Work on a copy first"
                    .to_owned(),
            );
            return false;
        }
        let name = action.name();
        match project.session.case_act(case, action) {
            Ok(_) => {
                let status = project
                    .session
                    .case(case)
                    .ok()
                    .flatten()
                    .map_or("updated", |c| c.status.as_str());
                self.status.note = Some(format!("Case {name}: the case is {status}"));
                self.refresh_cases();
                // Submitting ends blinding: the other readers' work may now show.
                self.refresh_annotations();
                true
            }
            Err(e) => {
                self.project_error("case", e);
                false
            }
        }
    }

    /// Rebuilds the cases window's view from the project.
    pub(super) fn refresh_cases(&mut self) {
        let Some(project) = &mut self.project else {
            self.cases = CasesView::default();
            return;
        };
        let session = &mut project.session;
        let built = (|| -> Result<CasesView, crate::project::ProjectError> {
            let cases = session.cases()?;
            let names = session.member_names()?;
            let members = session.active_members()?;
            let name = |id: &crate::project::Id| crate::project::members::name_or_id(&names, id);
            let rows = cases
                .cases
                .values()
                .map(|c| {
                    let (series_index, title) = match &c.case {
                        ImageRef::Dicom { series_uid, .. } => {
                            match self
                                .series
                                .iter()
                                .position(|e| e.info.series_uid == *series_uid)
                            {
                                Some(i) => (
                                    Some(i),
                                    super::series_browser::series_title(&self.series[i].info),
                                ),
                                None => (None, crate::review::report::series_digest(series_uid)),
                            }
                        }
                        ImageRef::Slide { slide_sha256 } => (
                            None,
                            format!("slide {}", &slide_sha256[..slide_sha256.len().min(8)]),
                        ),
                    };
                    CaseRow {
                        case: c.case.clone(),
                        title,
                        series_index,
                        status: c.status,
                        readers: c.readers.iter().map(|r| (*r, name(r))).collect(),
                        blinded: c.blinded,
                        submitted: c.submitted.clone(),
                        reviewer: c.reviewer.as_ref().map(name),
                        escalated_to: c.escalated_to,
                        escalated_to_name: c.escalated_to.as_ref().map(name),
                        question: c.question.clone(),
                        answer: c.answer.clone(),
                        reject_reason: c.reject_reason.clone(),
                        second_read: c.second_read,
                        comments: c
                            .comments
                            .iter()
                            .map(|m| {
                                let s = (m.time_ms / 1000).rem_euclid(86_400);
                                let about = m.annotation.map_or_else(String::new, |id| {
                                    format!(" · about annotation {}", id.short())
                                });
                                (
                                    name(&m.author),
                                    format!("{:02}:{:02} UTC{about}", s / 3600, s / 60 % 60),
                                    m.text.clone(),
                                )
                            })
                            .collect(),
                    }
                })
                .collect();
            Ok(CasesView {
                rows,
                me: Some(session.user_id()),
                roles: Some(session.roles()),
                members,
                agreement: self.cases.agreement.take(),
            })
        })();
        match built {
            Ok(v) => self.cases = v,
            Err(e) => self.project_error("cannot read the cases", e),
        }
    }
}
