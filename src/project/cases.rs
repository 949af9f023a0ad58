//! Cases and the review flow: who may do what to a case, and its status derived from the
//! signed workflow records.
//!
//! Owns [`WorkflowRecord`] / [`CaseAction`] (what an `Edit::Workflow` event says), the
//! pure fold [`derive`] from records in the deterministic event order to [`Cases`], the
//! permission rules [`permit`] (the same function refuses an action at commit time and
//! ignores a record on replay, so a bundle from someone without the role changes nothing),
//! blinded visibility, and the [`Session`] methods that act on cases. A case is an image
//! (a series or a slide) named by its series instance UID or the slide's SHA-256; that
//! name only ever travels inside encrypted payloads. Rules (ARCHITECTURE.md, "Cases"):
//! new → in progress → submitted → in review → approved | rejected (back to the readers
//! with the reason) | escalated (to a named senior, with a question) → adjudicated.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::events;
use super::id::Id;
use super::members::{Members, Role, Roles};
use super::model::{Edit, EventPayload, ImageRef, ObjectKind};
use super::session::{Session, load_chunks};
use super::{ProjectError, audit};

/// Longest comment, reason, question or answer (characters).
pub const MAX_TEXT: usize = 20_000;
/// Most readers on one case.
pub const MAX_READERS: usize = 64;

/// One step of the review flow (or a comment, or the project's review policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseAction {
    /// Assigns readers (replacing earlier ones); blinded readers see only their own
    /// annotations on the image until they submit.
    Assign { readers: Vec<Id>, blinded: bool },
    /// A reader started work (written with their first edit on the image).
    Start,
    /// A reader submits their reading; the case is submitted once every reader has.
    Submit,
    /// A reviewer opened the case for review.
    StartReview,
    Approve {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Back to the readers with a reason.
    Reject { reason: String },
    /// To a named senior, with a question.
    Escalate { to: Id, question: String },
    /// The senior's answer; `consensus` names the annotations made as the consensus and
    /// the readers' annotations each was made from.
    Adjudicate {
        answer: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        consensus: Vec<Consensus>,
    },
    /// A comment on the case or on one of its annotations, mentioning members.
    Comment {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotation: Option<Id>,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<Id>,
    },
    /// The project's review policy (no case): every case needs a second read, or only
    /// those holding a class marked `second_read`.
    Policy { second_read_all: bool },
}

impl CaseAction {
    /// The action's name, as the audit log and refusals say it.
    pub fn name(&self) -> &'static str {
        match self {
            CaseAction::Assign { .. } => "assign",
            CaseAction::Start => "start",
            CaseAction::Submit => "submit",
            CaseAction::StartReview => "start review",
            CaseAction::Approve { .. } => "approve",
            CaseAction::Reject { .. } => "reject",
            CaseAction::Escalate { .. } => "escalate",
            CaseAction::Adjudicate { .. } => "adjudicate",
            CaseAction::Comment { .. } => "comment",
            CaseAction::Policy { .. } => "set the review policy",
        }
    }
}

/// A consensus annotation and the readers' annotations it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consensus {
    pub annotation: Id,
    pub from: Vec<Id>,
}

/// What one `Edit::Workflow` event says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    /// The case's image (series or slide; see [`case_of`]); `None` for the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<ImageRef>,
    pub action: CaseAction,
}

impl WorkflowRecord {
    /// Shape checks (not permissions): texts present and bounded, readers bounded.
    pub fn validate(&self) -> Result<(), String> {
        let text = |what: &str, t: &str| {
            if t.trim().is_empty() {
                Err(format!("{what} is empty"))
            } else if t.chars().count() > MAX_TEXT {
                Err(format!("{what} is longer than {MAX_TEXT} characters"))
            } else {
                Ok(())
            }
        };
        match (&self.case, &self.action) {
            (Some(_), CaseAction::Policy { .. }) => {
                return Err("the review policy is not about one case".into());
            }
            (None, CaseAction::Policy { .. }) => return Ok(()),
            (None, _) => return Err("a workflow step needs a case".into()),
            (Some(image), _) if case_of(image) != *image => {
                return Err("a case names a whole series or slide".into());
            }
            _ => {}
        }
        match &self.action {
            CaseAction::Assign { readers, .. } => {
                let distinct: BTreeSet<&Id> = readers.iter().collect();
                if readers.is_empty() {
                    Err("an assignment needs at least one reader".into())
                } else if readers.len() > MAX_READERS {
                    Err(format!("more than {MAX_READERS} readers"))
                } else if distinct.len() != readers.len() {
                    Err("a reader is named twice".into())
                } else {
                    Ok(())
                }
            }
            CaseAction::Reject { reason } => text("the reason", reason),
            CaseAction::Escalate { question, .. } => text("the question", question),
            CaseAction::Adjudicate { answer, .. } => text("the answer", answer),
            CaseAction::Comment {
                text: t, mentions, ..
            } => {
                if mentions.len() > MAX_READERS {
                    return Err(format!("more than {MAX_READERS} mentions"));
                }
                text("the comment", t)
            }
            CaseAction::Approve { note: Some(n) } if n.chars().count() > MAX_TEXT => {
                Err(format!("the note is longer than {MAX_TEXT} characters"))
            }
            _ => Ok(()),
        }
    }
}

/// The case an image belongs to: its whole series (instance, frame, plane and provenance
/// dropped) or its slide.
pub fn case_of(image: &ImageRef) -> ImageRef {
    match image {
        ImageRef::Dicom { series_uid, .. } => ImageRef::Dicom {
            series_uid: series_uid.clone(),
            sop_uid: None,
            frame: None,
            plane: None,
            provenance: None,
        },
        ImageRef::Slide { slide_sha256 } => ImageRef::Slide {
            slide_sha256: slide_sha256.clone(),
        },
    }
}

/// A case as the command line names it: a series instance UID, or a slide's SHA-256
/// (64 hexadecimal digits).
pub fn case_from_name(name: &str) -> ImageRef {
    let name = name.trim();
    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        ImageRef::Slide {
            slide_sha256: name.to_ascii_lowercase(),
        }
    } else {
        case_of(&ImageRef::Dicom {
            series_uid: name.to_owned(),
            sop_uid: None,
            frame: None,
            plane: None,
            provenance: None,
        })
    }
}

/// The name [`case_from_name`] reads.
pub fn case_name(case: &ImageRef) -> &str {
    match case {
        ImageRef::Dicom { series_uid, .. } => series_uid,
        ImageRef::Slide { slide_sha256 } => slide_sha256,
    }
}

/// A case's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    InProgress,
    Submitted,
    InReview,
    Approved,
    Rejected,
    Escalated,
    Adjudicated,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::New,
        Status::InProgress,
        Status::Submitted,
        Status::InReview,
        Status::Approved,
        Status::Rejected,
        Status::Escalated,
        Status::Adjudicated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in progress",
            Status::Submitted => "submitted",
            Status::InReview => "in review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Escalated => "escalated",
            Status::Adjudicated => "adjudicated",
        }
    }

    /// Approved or adjudicated: a reviewed case (what `--reviewed-only` exports).
    pub fn is_reviewed(self) -> bool {
        matches!(self, Status::Approved | Status::Adjudicated)
    }

    /// Readers may still edit their annotations.
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::InProgress | Status::Rejected)
    }
}

/// One workflow event as the fold reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowEvent {
    pub event: Id,
    /// The record's object id (the `id` of its `Edit::Workflow`).
    pub id: Id,
    pub author: Id,
    /// Hybrid logical clock (ms << 16 | counter).
    pub hlc: i64,
    pub hash: Vec<u8>,
    pub record: WorkflowRecord,
}

impl WorkflowEvent {
    pub fn time_ms(&self) -> i64 {
        self.hlc >> 16
    }
    /// The deterministic order of the merge: (HLC, author, event hash), then id.
    fn rank(&self) -> (i64, Id, &[u8], Id) {
        (self.hlc, self.author, &self.hash, self.event)
    }
}

/// A comment in a case's thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseComment {
    pub event: Id,
    pub author: Id,
    pub time_ms: i64,
    pub annotation: Option<Id>,
    pub text: String,
    pub mentions: Vec<Id>,
}

/// A status change, for the timeline and turnaround times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusStep {
    pub time_ms: i64,
    pub author: Id,
    pub status: Status,
}

/// A record that did not apply when replayed (its author lacked the role, or the case
/// was not in a state that allows it: e.g. two reviewers decided concurrently).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ignored {
    pub event: Id,
    pub author: Id,
    pub action: &'static str,
    pub reason: String,
}

/// One case, derived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseState {
    #[serde(skip)]
    pub case: ImageRef,
    pub status: Status,
    pub readers: Vec<Id>,
    pub blinded: bool,
    /// Readers who submitted in the current round (cleared by a rejection).
    pub submitted: BTreeSet<Id>,
    /// Readers who have submitted at least once (blinding ends for them).
    pub ever_submitted: BTreeSet<Id>,
    pub reviewer: Option<Id>,
    pub escalated_to: Option<Id>,
    pub question: Option<String>,
    pub answer: Option<String>,
    pub reject_reason: Option<String>,
    pub consensus: Vec<Consensus>,
    pub comments: Vec<CaseComment>,
    pub steps: Vec<StatusStep>,
    /// Whether this case needs a second read (policy; filled in by the session).
    pub second_read: bool,
}

impl CaseState {
    fn new(case: ImageRef) -> CaseState {
        CaseState {
            case,
            status: Status::New,
            readers: Vec::new(),
            blinded: false,
            submitted: BTreeSet::new(),
            ever_submitted: BTreeSet::new(),
            reviewer: None,
            escalated_to: None,
            question: None,
            answer: None,
            reject_reason: None,
            consensus: Vec::new(),
            comments: Vec::new(),
            steps: Vec::new(),
            second_read: false,
        }
    }

    /// True when `user` reads this case blinded and has not submitted yet: they see only
    /// their own annotations on its image.
    pub fn hides_others_from(&self, user: Id) -> bool {
        self.blinded && self.readers.contains(&user) && !self.ever_submitted.contains(&user)
    }

    /// When the first reading was handed in (the first step to "submitted").
    pub fn submitted_ms(&self) -> Option<i64> {
        self.steps
            .iter()
            .find(|s| s.status == Status::Submitted)
            .map(|s| s.time_ms)
    }

    /// When the case was last decided (approved or adjudicated).
    pub fn decided_ms(&self) -> Option<i64> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.status.is_reviewed())
            .map(|s| s.time_ms)
    }

    /// When the case was assigned (or first submitted without an assignment).
    pub fn created_ms(&self) -> Option<i64> {
        self.steps.first().map(|s| s.time_ms)
    }
}

/// Every case, derived from the workflow records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cases {
    /// By case (series or slide).
    #[serde(skip)]
    pub cases: BTreeMap<CaseKey, CaseState>,
    pub second_read_all: bool,
    pub ignored: Vec<Ignored>,
}

/// Orders cases by kind and name.
pub type CaseKey = (&'static str, String);

/// The key of a case's image.
pub fn case_key(image: &ImageRef) -> CaseKey {
    let (k, v) = image.index_key();
    (k, v.to_owned())
}

impl Cases {
    pub fn get(&self, image: &ImageRef) -> Option<&CaseState> {
        self.cases.get(&case_key(image))
    }
}

/// Whether `author` (holding `roles`; `None`: not an active member) may do `action` on a
/// case in state `state` (`None`: no case yet). `roles_of` tells other members' roles
/// (readers, the senior named). The reason, when refused, is one line.
pub fn permit(
    state: Option<&CaseState>,
    author: Id,
    roles: Option<Roles>,
    action: &CaseAction,
    roles_of: &dyn Fn(Id) -> Option<Roles>,
) -> Result<(), String> {
    let Some(roles) = roles else {
        return Err("not an active member of this project".into());
    };
    let has = |r: Role| roles.contains(r);
    let status = state.map(|s| s.status);
    let is_reader = state.is_some_and(|s| s.readers.contains(&author));
    let need_case = || {
        state
            .map(|_| ())
            .ok_or_else(|| "this image has no case yet (assign it first)".to_owned())
    };
    let status_in = |allowed: &[Status]| match status {
        Some(s) if allowed.contains(&s) => Ok(()),
        Some(s) => Err(format!("the case is {}", s.as_str())),
        None => Err("this image has no case yet (assign it first)".into()),
    };
    let reviewer = || {
        if !has(Role::Reviewer) {
            Err("only a reviewer can do this".to_owned())
        } else if is_reader {
            Err("a reader of this case cannot review it".to_owned())
        } else {
            Ok(())
        }
    };
    match action {
        CaseAction::Policy { .. } => {
            if has(Role::Admin) {
                Ok(())
            } else {
                Err("only an admin sets the review policy".into())
            }
        }
        CaseAction::Assign { readers, .. } => {
            if !has(Role::Admin) && !has(Role::Reviewer) {
                return Err("only an admin or a reviewer assigns cases".into());
            }
            if let Some(s) = status
                && !s.is_open()
            {
                return Err(format!("the case is {}", s.as_str()));
            }
            for r in readers {
                match roles_of(*r) {
                    Some(rr) if rr.contains(Role::Annotator) => {}
                    Some(_) => return Err("every reader must hold the annotator role".into()),
                    None => return Err("a reader is not an active member".into()),
                }
            }
            Ok(())
        }
        CaseAction::Start => {
            if !is_reader {
                return Err("only a reader of this case starts it".into());
            }
            status_in(&[Status::New, Status::Rejected])
        }
        CaseAction::Submit => match state {
            None if has(Role::Annotator) => Ok(()),
            None => Err("only an annotator submits a reading".into()),
            Some(s) => {
                if !is_reader {
                    return Err("only a reader of this case submits it".into());
                }
                if s.submitted.contains(&author) {
                    return Err("you have already submitted this case".into());
                }
                status_in(&[Status::New, Status::InProgress, Status::Rejected])
            }
        },
        CaseAction::StartReview => {
            reviewer()?;
            status_in(&[Status::Submitted])
        }
        CaseAction::Approve { .. } | CaseAction::Reject { .. } => {
            reviewer()?;
            status_in(&[Status::Submitted, Status::InReview])
        }
        CaseAction::Escalate { to, .. } => {
            reviewer()?;
            status_in(&[Status::Submitted, Status::InReview])?;
            if state.is_some_and(|s| s.readers.contains(to)) {
                return Err("the senior named is a reader of this case".into());
            }
            match roles_of(*to) {
                Some(r) if r.contains(Role::Senior) => Ok(()),
                Some(_) => Err("the user named is not a senior".into()),
                None => Err("the senior named is not an active member".into()),
            }
        }
        CaseAction::Adjudicate { .. } => {
            status_in(&[Status::Escalated])?;
            if !has(Role::Senior) {
                return Err("only a senior adjudicates".into());
            }
            if state.and_then(|s| s.escalated_to) != Some(author) {
                return Err("the case was escalated to another senior".into());
            }
            Ok(())
        }
        CaseAction::Comment { mentions, .. } => {
            need_case()?;
            if !is_reader && !has(Role::Reviewer) && !has(Role::Senior) && !has(Role::Admin) {
                return Err("only the case's readers, reviewers and seniors comment".into());
            }
            if mentions.iter().any(|m| roles_of(*m).is_none()) {
                return Err("a mentioned user is not an active member".into());
            }
            Ok(())
        }
    }
}

fn step(state: &mut CaseState, ev: &WorkflowEvent, status: Status) {
    state.status = status;
    state.steps.push(StatusStep {
        time_ms: ev.time_ms(),
        author: ev.author,
        status,
    });
}

/// Applies one permitted record.
fn apply(cases: &mut Cases, ev: &WorkflowEvent) {
    let record = &ev.record;
    let Some(image) = &record.case else {
        if let CaseAction::Policy { second_read_all } = record.action {
            cases.second_read_all = second_read_all;
        }
        return;
    };
    let key = case_key(image);
    let fresh = !cases.cases.contains_key(&key);
    let state = cases
        .cases
        .entry(key)
        .or_insert_with(|| CaseState::new(image.clone()));
    match &record.action {
        CaseAction::Policy { .. } => {}
        CaseAction::Assign { readers, blinded } => {
            state.readers = readers.clone();
            state.blinded = *blinded;
            state.submitted.retain(|r| readers.contains(r));
            if fresh {
                step(state, ev, Status::New);
            }
        }
        CaseAction::Start => step(state, ev, Status::InProgress),
        CaseAction::Submit => {
            if fresh {
                // A reading handed in without an assignment: its reader is the case's.
                state.readers = vec![ev.author];
                step(state, ev, Status::New);
            }
            state.submitted.insert(ev.author);
            state.ever_submitted.insert(ev.author);
            if state.readers.iter().all(|r| state.submitted.contains(r)) {
                state.reject_reason = None;
                step(state, ev, Status::Submitted);
            } else if state.status != Status::InProgress {
                step(state, ev, Status::InProgress);
            }
        }
        CaseAction::StartReview => {
            state.reviewer = Some(ev.author);
            step(state, ev, Status::InReview);
        }
        CaseAction::Approve { .. } => {
            state.reviewer = Some(ev.author);
            step(state, ev, Status::Approved);
        }
        CaseAction::Reject { reason } => {
            state.reviewer = Some(ev.author);
            state.reject_reason = Some(reason.clone());
            state.submitted.clear();
            step(state, ev, Status::Rejected);
        }
        CaseAction::Escalate { to, question } => {
            state.reviewer = Some(ev.author);
            state.escalated_to = Some(*to);
            state.question = Some(question.clone());
            step(state, ev, Status::Escalated);
        }
        CaseAction::Adjudicate { answer, consensus } => {
            state.answer = Some(answer.clone());
            state.consensus.extend(consensus.iter().cloned());
            step(state, ev, Status::Adjudicated);
        }
        CaseAction::Comment {
            annotation,
            text,
            mentions,
        } => state.comments.push(CaseComment {
            event: ev.event,
            author: ev.author,
            time_ms: ev.time_ms(),
            annotation: *annotation,
            text: text.clone(),
            mentions: mentions.clone(),
        }),
    }
}

/// The cases as a deterministic function of the workflow records (any order, duplicates
/// ignored): sorted by (HLC, author, hash), each checked by [`permit`] against the state
/// before it and its author's current roles; records that fail are listed in
/// `ignored`, never applied.
pub fn derive(mut events: Vec<WorkflowEvent>, members: &Members) -> Cases {
    events.sort_by(|a, b| a.rank().cmp(&b.rank()));
    events.dedup_by_key(|e| e.event);
    let roles_of = |id: Id| members.get(&id).filter(|m| m.active).map(|m| m.roles);
    let mut cases = Cases::default();
    for ev in &events {
        let state = ev.record.case.as_ref().and_then(|c| cases.get(c));
        let checked = ev.record.validate().and_then(|()| {
            permit(
                state,
                ev.author,
                roles_of(ev.author),
                &ev.record.action,
                &roles_of,
            )
        });
        match checked {
            Ok(()) => apply(&mut cases, ev),
            Err(reason) => cases.ignored.push(Ignored {
                event: ev.event,
                author: ev.author,
                action: ev.record.action.name(),
                reason,
            }),
        }
    }
    cases
}

/// What a blinded reader must not see: the objects others created on images of cases
/// they read blinded and have not submitted.
#[derive(Debug, Default, Clone)]
pub(super) struct Blind {
    /// Object ids (annotations, segmentations, workflow records) hidden from the user.
    pub hidden: HashSet<Id>,
}

impl Blind {
    pub fn hides(&self, id: &Id) -> bool {
        self.hidden.contains(id)
    }
}

/// Cached workflow events, with the largest event rowid they cover: events are
/// append-only (no UPDATE or DELETE ever runs on them), so rows past it are the new ones.
#[derive(Default)]
pub(super) struct WorkflowCache {
    max_rowid: i64,
    events: Vec<WorkflowEvent>,
}

impl Session {
    /// Every workflow record in the file, decrypted (cached until the next event).
    fn workflow_events(&mut self) -> Result<Vec<WorkflowEvent>, ProjectError> {
        // MAX(rowid) is one b-tree descent; COUNT(*) would scan every event.
        let max_rowid: i64 = self
            .project
            .conn
            .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM events")?
            .query_row([], |r| r.get(0))?;
        let cache = self.workflow_cache.take().unwrap_or_default();
        if cache.max_rowid == max_rowid {
            let out = cache.events.clone();
            self.workflow_cache = Some(cache);
            return Ok(out);
        }
        // Only the events written since (a smaller rowid means the file changed under
        // us: read everything again).
        let (after, mut out) = if cache.max_rowid < max_rowid {
            (cache.max_rowid, cache.events)
        } else {
            (0, Vec::new())
        };
        let (project, u) = self.parts()?;
        let project_id = project.project_id;
        let rows: Vec<events::EventRow> = project
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM events WHERE rowid > ?1 AND rowid <= ?2 AND op = 'workflow'",
                events::EVENT_COLUMNS
            ))?
            .query_map([after, max_rowid], events::event_row)?
            .collect::<Result<_, _>>()?;
        out.reserve(rows.len());
        for ev in rows {
            let chunks = load_chunks(&project.conn, &ev.event_id)?;
            let blob = events::open_payload(&project_id, &u.keys.sealer, &ev, &chunks)
                .map_err(|e| ProjectError::Format(format!("workflow record: {e}")))?;
            let Some(EventPayload {
                edit: Edit::Workflow { record, .. },
                ..
            }) = events::decode_payload(&blob)
            else {
                return Err(ProjectError::Format(
                    "a workflow event does not hold a workflow record".into(),
                ));
            };
            out.push(WorkflowEvent {
                event: ev.event_id,
                id: ev.target,
                author: ev.author_id,
                hlc: ev.hlc,
                hash: ev.event_hash,
                record,
            });
        }
        out.sort_by_key(|w| (w.hlc, w.event));
        self.workflow_cache = Some(WorkflowCache {
            max_rowid,
            events: out.clone(),
        });
        Ok(out)
    }

    /// Every case with its derived status. Second-read flags follow the policy and the
    /// classes used on each case's image.
    pub fn cases(&mut self) -> Result<Cases, ProjectError> {
        let members = self.members()?;
        let mut cases = derive(self.workflow_events()?, &members);
        let flagged: BTreeSet<String> = self
            .label_classes()?
            .into_iter()
            .filter(|(_, c)| c.second_read)
            .map(|(_, c)| c.name)
            .collect();
        let images: Vec<ImageRef> = cases.cases.values().map(|c| c.case.clone()).collect();
        for image in images {
            let needs = cases.second_read_all
                || (!flagged.is_empty()
                    && self
                        .annotations_unfiltered(Some(&image))?
                        .iter()
                        .any(|a| flagged.contains(&a.body.label.name)));
            if let Some(c) = cases.cases.get_mut(&case_key(&image)) {
                c.second_read = needs;
            }
        }
        // A blinded reader does not read the other readers' comments before submitting.
        let me = self.user_id;
        for c in cases.cases.values_mut() {
            if c.hides_others_from(me) {
                let readers = c.readers.clone();
                c.comments
                    .retain(|m| m.author == me || !readers.contains(&m.author));
            }
        }
        Ok(cases)
    }

    /// One case (`None`: the image has none).
    pub fn case(&mut self, image: &ImageRef) -> Result<Option<CaseState>, ProjectError> {
        Ok(self.cases()?.cases.remove(&case_key(&case_of(image))))
    }

    /// The user who created object `id` (the author of its first create).
    pub fn creator_of(&mut self, id: Id) -> Result<Option<Id>, ProjectError> {
        Ok(self
            .project
            .conn
            .prepare_cached(
                "SELECT author_id FROM events WHERE target = ?1 AND op = 'create' ORDER BY hlc LIMIT 1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// What is hidden from the signed-in user by blinded cases (empty for most users).
    pub(super) fn blind(&mut self) -> Result<Blind, ProjectError> {
        let me = self.user_id;
        let events = self.workflow_events()?;
        if events.is_empty() {
            return Ok(Blind::default());
        }
        let members = self.members()?;
        let cases = derive(events.clone(), &members);
        let blinded: Vec<ImageRef> = cases
            .cases
            .values()
            .filter(|c| c.hides_others_from(me))
            .map(|c| c.case.clone())
            .collect();
        let mut hidden = HashSet::new();
        if blinded.is_empty() {
            return Ok(Blind { hidden });
        }
        let reader_ids: HashMap<Id, BTreeSet<Id>> = cases
            .cases
            .values()
            .filter(|c| c.hides_others_from(me))
            .flat_map(|c| {
                c.readers
                    .iter()
                    .map(move |r| (*r, c.readers.iter().copied().collect()))
            })
            .collect();
        for image in &blinded {
            for id in self.object_ids_on(image)? {
                if self.creator_of(id)?.is_some_and(|c| c != me) {
                    hidden.insert(id);
                }
            }
        }
        // Other readers' comments on those cases.
        for ev in &events {
            if let (Some(c), CaseAction::Comment { .. }) = (&ev.record.case, &ev.record.action)
                && blinded.contains(c)
                && ev.author != me
                && reader_ids.contains_key(&ev.author)
            {
                hidden.insert(ev.id);
            }
        }
        Ok(Blind { hidden })
    }

    /// Does `action` on `case` as the signed-in user: checks the role and the case's
    /// state (a refusal is audited and returned as one line), then commits one signed
    /// workflow record. Returns its event id.
    pub fn case_act(&mut self, case: &ImageRef, action: CaseAction) -> Result<Id, ProjectError> {
        let case = case_of(case);
        let record = WorkflowRecord {
            case: (!matches!(action, CaseAction::Policy { .. })).then(|| case.clone()),
            action,
        };
        self.check_workflow(&record)?;
        let name = record.action.name();
        let id = self.commit_edit(Edit::Workflow {
            id: Id::random()?,
            record,
        })?;
        self.record(
            audit::Action::CaseAction,
            audit::Outcome::Success,
            Some(name),
        )?;
        Ok(id)
    }

    /// Sets the project's review policy (admins).
    pub fn set_review_policy(&mut self, second_read_all: bool) -> Result<Id, ProjectError> {
        let record = WorkflowRecord {
            case: None,
            action: CaseAction::Policy { second_read_all },
        };
        self.check_workflow(&record)?;
        let id = self.commit_edit(Edit::Workflow {
            id: Id::random()?,
            record,
        })?;
        self.record(
            audit::Action::CaseAction,
            audit::Outcome::Success,
            Some("policy"),
        )?;
        Ok(id)
    }

    /// The checks of [`Session::case_act`], auditing a refusal.
    fn check_workflow(&mut self, record: &WorkflowRecord) -> Result<(), ProjectError> {
        record.validate().map_err(ProjectError::Format)?;
        let me = self.user_id;
        let members = self.members()?;
        let roles_of = |id: Id| members.get(&id).filter(|m| m.active).map(|m| m.roles);
        let cases = derive(self.workflow_events()?, &members);
        let state = record.case.as_ref().and_then(|c| cases.get(c)).cloned();
        let mut verdict = permit(state.as_ref(), me, roles_of(me), &record.action, &roles_of);
        // Self-approval: nobody approves a case holding annotations they made. (A senior's
        // adjudication may bring the consensus annotation they made for it.)
        if verdict.is_ok()
            && matches!(record.action, CaseAction::Approve { .. })
            && let Some(case) = &record.case
            && self.made_objects_on(case)?
        {
            verdict = Err("you annotated this case; someone else must review it".into());
        }
        match verdict {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.refuse(&format!("case {}", record.action.name()))?;
                Err(ProjectError::NotPermitted(format!(
                    "cannot {}: {reason}",
                    record.action.name()
                )))
            }
        }
    }

    /// The ids of the objects (annotations, segmentations, workflow records) cached on
    /// `image`'s series or slide, found by blind index.
    fn object_ids_on(&mut self, image: &ImageRef) -> Result<Vec<Id>, ProjectError> {
        let bidx = self.parts()?.1.keys.image_index(image);
        Ok(self
            .project
            .conn
            .prepare_cached("SELECT annotation_id FROM annotations WHERE image_bidx = ?1")?
            .query_map([bidx], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// True when the signed-in user created an annotation or segmentation on `case`.
    fn made_objects_on(&mut self, case: &ImageRef) -> Result<bool, ProjectError> {
        let me = self.user_id;
        for id in self.object_ids_on(case)? {
            if self.creator_of(id)? == Some(me) && !self.is_workflow_object(id)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn is_workflow_object(&mut self, id: Id) -> Result<bool, ProjectError> {
        Ok(self
            .project
            .conn
            .prepare_cached("SELECT 1 FROM events WHERE target = ?1 AND op = 'workflow' LIMIT 1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The rules every annotation or segmentation edit passes (called by
    /// `commit_payloads`): one changes only objects one created, and the shared ones an
    /// admin created (annotators); seniors and admins may correct anyone's (the original
    /// stays in the history), reviewers add corrections as new annotations; a reader's objects on a submitted case are frozen until the
    /// review sends it back; blinded readers cannot reach what they cannot see. Returns
    /// the workflow records to write with the edits: `Start` when a reader's first edit
    /// opens their case.
    pub(super) fn check_edits(
        &mut self,
        payloads: &[EventPayload],
    ) -> Result<Vec<EventPayload>, ProjectError> {
        let me = self.user_id;
        let mine = self.roles();
        let may_correct = mine.contains(Role::Senior) || mine.contains(Role::Admin);
        let events = self.workflow_events()?;
        // Membership is needed only for edits of existing objects and for cases (a
        // plain new annotation in a project without cases, the common commit, skips it).
        let needs_members = !events.is_empty()
            || payloads.iter().any(|p| {
                let creates = matches!(
                    p.edit,
                    Edit::Create { .. } | Edit::SegmentationCreate { .. }
                ) && p.undo_of.is_none();
                let bookkeeping =
                    matches!(p.edit.kind(), ObjectKind::Workflow | ObjectKind::LabelClass);
                !creates && !bookkeeping
            });
        let members = if needs_members {
            self.members()?
        } else {
            Members::new()
        };
        // Objects an admin created (the project's starting set, imported pre-labels) are
        // shared: every annotator works on them.
        let shared = |creator: Id| {
            mine.contains(Role::Annotator)
                && members
                    .get(&creator)
                    .is_some_and(|m| m.roles.contains(Role::Admin))
        };
        let cases = if events.is_empty() {
            None
        } else {
            Some(derive(events, &members))
        };
        let mut started: Vec<ImageRef> = Vec::new();
        for p in payloads {
            let edit = &p.edit;
            if matches!(edit.kind(), ObjectKind::Workflow | ObjectKind::LabelClass) {
                continue;
            }
            let target = edit.target();
            let creates = matches!(edit, Edit::Create { .. } | Edit::SegmentationCreate { .. })
                && p.undo_of.is_none();
            if !creates
                && let Some(creator) = self.creator_of(target)?
                && creator != me
                && !may_correct
                && !shared(creator)
            {
                self.refuse("edit of another reader's object")?;
                return Err(ProjectError::NotPermitted(
                    "you can change only your own annotations; add a new one as a correction"
                        .into(),
                ));
            }
            let Some(cases) = &cases else {
                continue;
            };
            let Some(image) = self.image_of_edit(edit)? else {
                continue;
            };
            let Some(state) = cases.get(&case_of(&image)) else {
                continue;
            };
            if !state.readers.contains(&me) {
                continue;
            }
            if !state.status.is_open() {
                self.refuse("edit of a submitted case")?;
                return Err(ProjectError::NotPermitted(format!(
                    "the case is {}; edits wait until the review sends it back",
                    state.status.as_str()
                )));
            }
            if state.submitted.contains(&me) {
                self.refuse("edit after submitting")?;
                return Err(ProjectError::NotPermitted(
                    "you have submitted this case; edits wait until the review sends it back"
                        .into(),
                ));
            }
            if matches!(state.status, Status::New | Status::Rejected)
                && !started.contains(&state.case)
            {
                started.push(state.case.clone());
            }
        }
        let mut out = Vec::new();
        for case in started {
            out.push(EventPayload::new(Edit::Workflow {
                id: Id::random()?,
                record: WorkflowRecord {
                    case: Some(case),
                    action: CaseAction::Start,
                },
            }));
        }
        Ok(out)
    }

    /// The image an annotation or segmentation edit is on.
    fn image_of_edit(&mut self, edit: &Edit) -> Result<Option<ImageRef>, ProjectError> {
        Ok(match edit {
            Edit::Create { annotation } | Edit::Delete { annotation } => {
                Some(annotation.body.image.clone())
            }
            Edit::Update { after, .. } => Some(after.body.image.clone()),
            Edit::SegmentationCreate { image, .. } | Edit::SegmentationDelete { image, .. } => {
                Some(image.clone())
            }
            Edit::SegmentDefine { segmentation, .. } | Edit::SegmentStroke { segmentation, .. } => {
                self.segmentation_image(*segmentation)?
            }
            Edit::ClassDefine { .. } | Edit::Workflow { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests;
