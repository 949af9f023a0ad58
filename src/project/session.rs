//! An unlocked project: the one place that changes a project's state.
//!
//! Owns the keys of one signed-in user (zeroizing; wiped by the idle lock), and every
//! operation on the file: edits and undo, users and passphrases, data-key rotation,
//! import/export, history, verification and the audit entries each one writes.
//! Each change is one `BEGIN IMMEDIATE` transaction; "saved" means COMMIT returned.

use std::time::{Duration, Instant};

use rusqlite::{Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::audit::{self, Action, Actor, AuditView, Entry, Outcome};
use super::crypto::{Key32, Sealed, random_bytes};
use super::events::{self, Author, DataKeys};
use super::id::{Id, hex};
use super::keys::{GrantRow, KdfChoice, RecoveryCode, SlotKdf, SlotRow, UserSecrets};
use super::labels::{self, LabelsDoc};
use super::members::{self, MemberRow, Members, NewRecord, Role, Roles};
use super::model::{Annotation, Edit, EventPayload, ImageRef};
use super::verify::{self, Failure, Report, Snapshot};
use super::{Project, ProjectError, load_members, now_ms};

/// Secrets held while unlocked; dropping them wipes them.
pub(super) struct Unlocked {
    pub(super) secrets: UserSecrets,
    pub(super) pdk: Key32,
    pub(super) keys: DataKeys,
}

/// A signed-in user's view of a project.
pub struct Session {
    pub(super) project: Project,
    pub(super) user_id: Id,
    pub(super) name: String,
    roles: Roles,
    unlocked: Option<Unlocked>,
    idle_limit: Duration,
    last_used: Instant,
    /// Decrypted workflow records, until the next event (`cases.rs`).
    pub(super) workflow_cache: Option<super::cases::WorkflowCache>,
    /// The verified membership and the rows it was verified from: verified again only
    /// when the rows change (every commit asks for it).
    members_cache: Option<(Vec<MemberRow>, Members)>,
}

/// One line of `tessera history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    pub event_id: Id,
    pub author: String,
    pub seq: i64,
    pub time_ms: i64,
    pub operation: String,
    pub target: Id,
}

impl HistoryItem {
    /// The line for `ev`, its author named from `members`.
    fn of(ev: &events::EventRow, members: &Members) -> Self {
        HistoryItem {
            event_id: ev.event_id,
            author: members::display_name(
                members.get(&ev.author_id).map(|m| m.name.as_str()),
                &ev.author_id,
            ),
            seq: ev.seq,
            time_ms: ev.time_ms(),
            operation: ev.op.clone(),
            target: ev.target,
        }
    }
}

/// One line of `tessera user list`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberInfo {
    pub name: String,
    pub roles: Roles,
    pub active: bool,
}

impl Session {
    pub(super) fn new(
        project: Project,
        user_id: Id,
        name: String,
        roles: Roles,
        secrets: UserSecrets,
        pdk: Key32,
        keys: DataKeys,
    ) -> Session {
        Session {
            project,
            user_id,
            name,
            roles,
            unlocked: Some(Unlocked { secrets, pdk, keys }),
            idle_limit: super::DEFAULT_IDLE_LOCK,
            last_used: Instant::now(),
            workflow_cache: None,
            members_cache: None,
        }
    }

    pub fn user(&self) -> &str {
        &self.name
    }

    /// The signed-in user's roles (as of the unlock; [`Session::set_roles`] updates them
    /// when the user changes their own).
    pub fn roles(&self) -> Roles {
        self.roles
    }

    /// Whether the signed-in user holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// The signed-in user's id (events and membership records name users by id).
    pub fn user_id(&self) -> Id {
        self.user_id
    }

    pub fn project_id(&self) -> Id {
        self.project.project_id
    }

    /// Sets how long the session may be idle before the keys are wiped.
    pub fn set_idle_lock(&mut self, limit: Duration) {
        self.idle_limit = limit;
    }

    /// True while the keys are held.
    pub fn is_unlocked(&self) -> bool {
        self.unlocked.is_some()
    }

    /// Wipes the keys now (the idle lock calls this).
    pub fn lock(&mut self) {
        self.unlocked = None;
    }

    /// Unlocks again after the idle lock, with the same user's passphrase.
    pub fn unlock_again(&mut self, secret: &[u8]) -> Result<(), ProjectError> {
        let (user_id, secrets, pdk, keys, _) = self
            .project
            .open_slot(&self.name, secret)
            .map_err(|(e, _)| e)?;
        if user_id != self.user_id {
            return Err(ProjectError::UnknownUser {
                user: self.name.clone(),
            });
        }
        self.unlocked = Some(Unlocked { secrets, pdk, keys });
        self.last_used = Instant::now();
        Ok(())
    }

    /// The project and the keys, unless the idle lock has wiped them (an idle session is
    /// wiped here, on its next use).
    pub(super) fn parts(&mut self) -> Result<(&mut Project, &mut Unlocked), ProjectError> {
        if self.last_used.elapsed() > self.idle_limit {
            self.unlocked = None;
        }
        self.last_used = Instant::now();
        let idle_minutes = self.idle_limit.as_secs() / 60;
        match self.unlocked.as_mut() {
            Some(u) => Ok((&mut self.project, u)),
            None => Err(ProjectError::IdleLocked { idle_minutes }),
        }
    }

    /// Rebuilds the annotation cache after the schema-2 migration dropped it.
    pub(super) fn rebuild_cache_if_flagged(&mut self) -> Result<(), ProjectError> {
        let (project, u) = self.parts()?;
        if super::meta(&project.conn, "cache_rebuild")?.is_none() {
            return Ok(());
        }
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM annotations", [])?;
        super::cache::rematerialize(&tx, &project.project_id, &u.keys, 0).map_err(|e| match e {
            super::cache::RebuildError::Event { event, reason } => {
                ProjectError::Verification(Failure {
                    area: verify::Area::History,
                    author: format!("event {}", event.short()),
                    seq: None,
                    reason: reason.to_owned(),
                })
            }
            super::cache::RebuildError::Project(p) => p,
        })?;
        tx.execute("DELETE FROM meta WHERE name = 'cache_rebuild'", [])?;
        events::save_encryption_count(&tx, &u.keys.sealer)?;
        tx.commit()?;
        Ok(())
    }

    /// Commits one edit as one event; returns its id once COMMIT has returned.
    pub fn commit_edit(&mut self, edit: Edit) -> Result<Id, ProjectError> {
        let ids = self.commit_payloads(&[EventPayload::new(edit)])?;
        ids.into_iter()
            .next()
            .ok_or_else(|| ProjectError::Format("no event written".into()))
    }

    /// Commits several events in one transaction (an import). Label-schema edits need an
    /// admin.
    pub fn commit_payloads(&mut self, payloads: &[EventPayload]) -> Result<Vec<Id>, ProjectError> {
        if payloads
            .iter()
            .any(|p| matches!(p.edit, Edit::ClassDefine { .. }))
            && let Err(e) = self.require_admin()
        {
            self.refuse("label schema edit")?;
            return Err(e);
        }
        let started = self.check_edits(payloads)?;
        let skip = started.len();
        let all: Vec<EventPayload>;
        let payloads = if started.is_empty() {
            payloads
        } else {
            all = started
                .into_iter()
                .chain(payloads.iter().cloned())
                .collect();
            &all[..]
        };
        let user_id = self.user_id;
        let (project, u) = self.parts()?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = Author {
            id: user_id,
            signing: &u.secrets.signing,
        };
        let mut ids = Vec::with_capacity(payloads.len());
        for p in payloads {
            ids.push(events::append(
                &tx,
                &project.project_id,
                &u.keys,
                &author,
                p,
                now_ms(),
            )?);
        }
        tx.commit()?;
        if u.keys.sealer.needs_rotation() {
            self.rotate_data_key()?;
        }
        // The ids of the caller's payloads (workflow records written with them first).
        Ok(ids.split_off(skip))
    }

    /// How many events this user has written to this file (0: a file shared with them
    /// that they have not edited yet).
    pub fn own_event_count(&mut self) -> Result<u64, ProjectError> {
        let user_id = self.user_id;
        let (project, _) = self.parts()?;
        let n: i64 = project.conn.query_row(
            "SELECT COUNT(*) FROM events WHERE author_id = ?1",
            [user_id],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The latest `limit` events of every member, newest first, with their decrypted
    /// edits (for the history panel; `None` where a payload cannot be read).
    pub fn recent_history(
        &mut self,
        limit: usize,
    ) -> Result<Vec<(HistoryItem, Option<EventPayload>)>, ProjectError> {
        let blind = self.blind()?;
        let members = self.members()?;
        let (project, u) = self.parts()?;
        let project_id = project.project_id;
        let mut stmt = project.conn.prepare(&format!(
            "SELECT {} FROM events ORDER BY hlc DESC, event_id DESC LIMIT ?1",
            events::EVENT_COLUMNS
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<events::EventRow> = stmt
            .query_map([limit], events::event_row)?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for ev in rows {
            if blind.hides(&ev.target) {
                continue;
            }
            let chunks = load_chunks(&project.conn, &ev.event_id)?;
            let payload = events::open_payload(&project_id, &u.keys.sealer, &ev, &chunks)
                .ok()
                .and_then(|blob| events::decode_payload(&blob));
            out.push((HistoryItem::of(&ev, &members), payload));
        }
        Ok(out)
    }

    /// The current annotations (decrypted from the cache) that this user may see: a
    /// blinded reader sees only their own on the case before submitting.
    pub fn annotations(&mut self) -> Result<Vec<Annotation>, ProjectError> {
        let blind = self.blind()?;
        let mut out = self.annotations_unfiltered(None)?;
        out.retain(|a| !blind.hides(&a.id));
        Ok(out)
    }

    /// The annotations of one image's series (or slide), found by blind index (blinded
    /// as [`Session::annotations`]).
    pub fn annotations_for_image(
        &mut self,
        image: &ImageRef,
    ) -> Result<Vec<Annotation>, ProjectError> {
        let blind = self.blind()?;
        let mut out = self.annotations_unfiltered(Some(image))?;
        out.retain(|a| !blind.hides(&a.id));
        Ok(out)
    }

    /// Every annotation (of one image's series), whoever may see it: for the domain's
    /// own checks.
    pub(super) fn annotations_unfiltered(
        &mut self,
        image: Option<&ImageRef>,
    ) -> Result<Vec<Annotation>, ProjectError> {
        let bidx = match image {
            Some(i) => Some(self.parts()?.1.keys.image_index(i)),
            None => None,
        };
        let (project, u) = self.parts()?;
        let sql = "SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations WHERE ?1 IS NULL OR image_bidx = ?1";
        let mut stmt = project.conn.prepare(sql)?;
        let rows: Vec<events::CacheRow> = stmt
            .query_map([bidx], events::cache_row)?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let regs = events::open_cache_row(&project.project_id, &u.keys.sealer, r)?;
            out.extend(regs.display());
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    }

    /// Verified membership.
    pub(super) fn members(&mut self) -> Result<Members, ProjectError> {
        let cached = self.members_cache.take();
        let (project, u) = self.parts()?;
        let rows = load_members(&project.conn)?;
        if let Some((cached_rows, members)) = cached
            && cached_rows == rows
        {
            let out = members.clone();
            self.members_cache = Some((cached_rows, members));
            return Ok(out);
        }
        let members = members::verify_members(&project.project_id, &rows, &u.keys.sealer).map_err(
            |f| -> ProjectError {
                Failure {
                    area: verify::Area::Membership,
                    author: f.who,
                    seq: None,
                    reason: f.reason,
                }
                .into()
            },
        )?;
        self.members_cache = Some((rows, members.clone()));
        Ok(members)
    }

    /// Every member's name by id (removed members included: their records still name
    /// them).
    pub fn member_names(&mut self) -> Result<std::collections::BTreeMap<Id, String>, ProjectError> {
        Ok(self
            .members()?
            .into_values()
            .map(|m| (m.user_id, m.name))
            .collect())
    }

    /// Active members (not the recovery slot): id, name, roles, in name order.
    pub fn active_members(&mut self) -> Result<Vec<(Id, String, Roles)>, ProjectError> {
        let mut out: Vec<(Id, String, Roles)> = self
            .members()?
            .into_values()
            .filter(|m| m.active && m.name != RecoveryCode::USER)
            .map(|m| (m.user_id, m.name, m.roles))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// The id of the active member called `name`.
    pub fn member_id(&mut self, name: &str) -> Result<Id, ProjectError> {
        let name = name.trim();
        self.members()?
            .into_values()
            .find(|m| m.active && m.name == name)
            .map(|m| m.user_id)
            .ok_or_else(|| ProjectError::UnknownUser {
                user: name.to_owned(),
            })
    }

    /// Members, in name order (the recovery slot included).
    pub fn users(&mut self) -> Result<Vec<MemberInfo>, ProjectError> {
        let mut out: Vec<MemberInfo> = self
            .members()?
            .into_values()
            .map(|m| MemberInfo {
                name: m.name,
                roles: m.roles,
                active: m.active,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) fn require_admin(&self) -> Result<(), ProjectError> {
        if self.roles.contains(Role::Admin) {
            Ok(())
        } else {
            Err(ProjectError::NotAdmin {
                user: self.name.clone(),
            })
        }
    }

    /// Adds a member with their own passphrase slot (admins only).
    pub fn add_user(
        &mut self,
        name: &str,
        roles: impl Into<Roles>,
        passphrase: &[u8],
        kdf: KdfChoice,
    ) -> Result<(), ProjectError> {
        let roles = roles.into();
        self.require_admin()?;
        let name = name.trim();
        if name.is_empty() || name == RecoveryCode::USER {
            return Err(ProjectError::ReservedName(name.to_owned()));
        }
        if self.members()?.values().any(|m| m.active && m.name == name) {
            return Err(ProjectError::AlreadyMember {
                user: name.to_owned(),
            });
        }
        let project_id = self.project_id();
        let signer_id = self.user_id;
        let params = kdf.resolve();
        let time_ms = self.next_member_time()?;
        let (project, u) = self.parts()?;
        let new_id = Id::random()?;
        let secrets = UserSecrets::generate()?;
        let slot = SlotRow::seal(
            &project_id,
            new_id,
            name,
            SlotKdf::Argon2id(params),
            passphrase,
            &secrets,
        )
        .map_err(super::slot_err(name))?;
        let grant = GrantRow::seal(
            &project_id,
            new_id,
            u.keys.sealer.key_id(),
            &secrets.box_public(),
            &u.pdk,
        )
        .map_err(super::slot_err(name))?;
        let rec = NewRecord {
            user_id: new_id,
            action: "add",
            roles,
            name,
            sign_pk: secrets.signing.verifying_key().to_bytes(),
            box_pk: secrets.box_public(),
            time_ms,
        };
        let record = MemberRow::signed(
            &project_id,
            &u.keys.sealer,
            &rec,
            signer_id,
            &u.secrets.signing,
        )?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::insert_slot(&tx, &slot)?;
        super::insert_grant(&tx, &grant)?;
        super::insert_member(&tx, &record)?;
        tx.commit()?;
        self.record_many(&[(Action::UserAdd, Some(name))])
    }

    fn next_member_time(&self) -> Result<i64, ProjectError> {
        let last: i64 = self.project.conn.query_row(
            "SELECT COALESCE(MAX(time_ms), 0) FROM members",
            [],
            |r| r.get(0),
        )?;
        Ok(now_ms().max(last + 1))
    }

    /// Removes a member (admins only) and rotates the data key in the same transaction.
    /// Copies of the file taken before stay readable by that member.
    pub fn remove_user(&mut self, name: &str) -> Result<(), ProjectError> {
        self.require_admin()?;
        let name = name.trim();
        if name == RecoveryCode::USER || name == self.name {
            return Err(ProjectError::ReservedName(name.to_owned()));
        }
        let members = self.members()?;
        let Some(m) = members
            .values()
            .find(|m| m.active && m.name == name)
            .cloned()
        else {
            return Err(ProjectError::UnknownUser {
                user: name.to_owned(),
            });
        };
        let record = self.member_record(&m, "remove", m.roles)?;
        let signer_id = self.user_id;
        let (project, u) = self.parts()?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::insert_member(&tx, &record)?;
        tx.execute("DELETE FROM slots WHERE user_id = ?1", [m.user_id])?;
        tx.execute("DELETE FROM grants WHERE user_id = ?1", [m.user_id])?;
        let (pdk, keys) = rotate(&tx, &project.project_id, &u.keys)?;
        let actor = Actor {
            id: signer_id,
            signing: &u.secrets.signing,
            keys: &keys,
        };
        let entry = Entry {
            action: Action::UserRemove,
            outcome: Outcome::Success,
            subject: Some(m.user_id),
            object: Some(name),
        };
        audit::append(&tx, &project.project_id, Some(&actor), &entry, now_ms())?;
        events::save_encryption_count(&tx, &keys.sealer)?;
        tx.commit()?;
        u.pdk = pdk;
        u.keys = keys;
        Ok(())
    }

    /// Changes a member's roles (admins only) with a signed membership record. The last
    /// active admin keeps the admin role.
    pub fn set_roles(&mut self, name: &str, roles: Roles) -> Result<(), ProjectError> {
        if let Err(e) = self.require_admin() {
            self.refuse(&format!("user.roles {name}"))?;
            return Err(e);
        }
        let name = name.trim();
        let members = self.members()?;
        let Some(m) = members
            .values()
            .find(|m| m.active && m.name == name)
            .cloned()
        else {
            return Err(ProjectError::UnknownUser {
                user: name.to_owned(),
            });
        };
        let admins = members
            .values()
            .filter(|o| o.active && o.roles.contains(Role::Admin) && o.name != RecoveryCode::USER)
            .count();
        if m.roles.contains(Role::Admin) && !roles.contains(Role::Admin) && admins <= 1 {
            return Err(ProjectError::NotPermitted(format!(
                "{name} is the last admin and keeps the admin role"
            )));
        }
        let record = self.member_record(&m, "roles", roles)?;
        let signer_id = self.user_id;
        let (project, u) = self.parts()?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::insert_member(&tx, &record)?;
        let actor = Actor {
            id: signer_id,
            signing: &u.secrets.signing,
            keys: &u.keys,
        };
        let object = format!("{name}: {roles}");
        let entry = Entry {
            action: Action::RoleChange,
            outcome: Outcome::Success,
            subject: Some(m.user_id),
            object: Some(&object),
        };
        audit::append(&tx, &project.project_id, Some(&actor), &entry, now_ms())?;
        events::save_encryption_count(&tx, &u.keys.sealer)?;
        tx.commit()?;
        if m.user_id == self.user_id {
            self.roles = roles;
        }
        Ok(())
    }

    /// A membership record about an existing member (`remove`, `roles`), signed by the
    /// signed-in user; its keys and name stay the member's.
    fn member_record(
        &mut self,
        m: &members::Member,
        action: &'static str,
        roles: Roles,
    ) -> Result<MemberRow, ProjectError> {
        let project_id = self.project_id();
        let signer_id = self.user_id;
        let time_ms = self.next_member_time()?;
        let (_, u) = self.parts()?;
        let rec = NewRecord {
            user_id: m.user_id,
            action,
            roles,
            name: &m.name,
            sign_pk: m.sign_pk.to_bytes(),
            box_pk: m.box_pk,
            time_ms,
        };
        Ok(MemberRow::signed(
            &project_id,
            &u.keys.sealer,
            &rec,
            signer_id,
            &u.secrets.signing,
        )?)
    }

    /// Records a refused action in the audit log (outcome: minor failure). The caller
    /// returns its own error afterwards.
    pub(super) fn refuse(&mut self, what: &str) -> Result<(), ProjectError> {
        self.record(Action::AccessDenied, Outcome::MinorFailure, Some(what))
    }

    /// Rotates the project data key: a new key id, everything re-encrypted, new grants
    /// for every member, in one transaction.
    pub fn rotate_data_key(&mut self) -> Result<(), ProjectError> {
        let user_id = self.user_id;
        let (project, u) = self.parts()?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (pdk, keys) = rotate(&tx, &project.project_id, &u.keys)?;
        let actor = Actor {
            id: user_id,
            signing: &u.secrets.signing,
            keys: &keys,
        };
        let entry = Entry {
            action: Action::KeyRotate,
            outcome: Outcome::Success,
            subject: None,
            object: None,
        };
        audit::append(&tx, &project.project_id, Some(&actor), &entry, now_ms())?;
        events::save_encryption_count(&tx, &keys.sealer)?;
        tx.commit()?;
        u.pdk = pdk;
        u.keys = keys;
        Ok(())
    }

    /// Re-wraps this user's slot under a new passphrase.
    pub fn change_passphrase(&mut self, new: &[u8], kdf: KdfChoice) -> Result<(), ProjectError> {
        let project_id = self.project_id();
        let (user_id, name) = (self.user_id, self.name.clone());
        let kdf = if name == RecoveryCode::USER {
            SlotKdf::RecoveryCode
        } else {
            SlotKdf::Argon2id(kdf.resolve())
        };
        let (project, u) = self.parts()?;
        let slot = SlotRow::seal(&project_id, user_id, &name, kdf, new, &u.secrets)
            .map_err(super::slot_err(&name))?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::insert_slot(&tx, &slot)?;
        tx.commit()?;
        self.record_many(&[(Action::PassphraseChange, None)])
    }

    /// The history in clock order, authors named.
    pub fn history(&mut self) -> Result<Vec<HistoryItem>, ProjectError> {
        let blind = self.blind()?;
        let members = self.members()?;
        let mut stmt = self.project.conn.prepare(&format!(
            "SELECT {} FROM events ORDER BY hlc, event_id",
            events::EVENT_COLUMNS
        ))?;
        let rows = stmt.query_map([], events::event_row)?;
        let mut out = Vec::new();
        for r in rows {
            let ev = r?;
            if blind.hides(&ev.target) {
                continue;
            }
            out.push(HistoryItem::of(&ev, &members));
        }
        Ok(out)
    }

    /// All rows verification reads.
    pub fn snapshot(&mut self) -> Result<Snapshot, ProjectError> {
        Ok(verify::load(&self.project.conn, self.project.project_id)?)
    }

    /// Verifies `snap` with this session's keys (tests tamper with snapshots in memory).
    pub fn verify_snapshot(&mut self, snap: &Snapshot) -> Result<Report, ProjectError> {
        let (_, u) = self.parts()?;
        Ok(verify::verify(snap, &u.keys)?)
    }

    pub(super) fn verify_silently(&mut self) -> Result<Report, ProjectError> {
        let (project, u) = self.parts()?;
        verify::load_and_verify(&project.conn, project.project_id, &u.keys)
    }

    /// Verifies everything and records the run in the audit log.
    pub fn verify(&mut self) -> Result<Report, ProjectError> {
        let result = self.verify_silently();
        let outcome = if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::SeriousFailure
        };
        self.record(Action::VerifyRun, outcome, None)?;
        result
    }

    /// The audit log, decrypted, in time order.
    pub fn audit_log(&mut self) -> Result<Vec<AuditView>, ProjectError> {
        let members = self.members()?;
        let (project, u) = self.parts()?;
        let rows: Vec<audit::AuditRow> = project
            .conn
            .prepare(&format!("SELECT {} FROM audit", audit::COLUMNS))?
            .query_map([], audit::row)?
            .collect::<Result<_, _>>()?;
        Ok(audit::view(
            &project.project_id,
            &rows,
            &members,
            &u.keys.sealer,
        ))
    }

    /// Records that this user viewed an image (the reference is encrypted).
    pub fn record_view(&mut self, image: &ImageRef) -> Result<(), ProjectError> {
        let text = serde_json::to_string(image).map_err(|e| ProjectError::Format(e.to_string()))?;
        self.record(Action::ImageView, Outcome::Success, Some(&text))
    }

    /// Appends one signed audit entry.
    pub fn record(
        &mut self,
        action: Action,
        outcome: Outcome,
        object: Option<&str>,
    ) -> Result<(), ProjectError> {
        self.append_audit(&[Entry {
            action,
            outcome,
            subject: None,
            object,
        }])
    }

    /// Appends several successful entries in one transaction.
    pub(super) fn record_many(
        &mut self,
        entries: &[(Action, Option<&str>)],
    ) -> Result<(), ProjectError> {
        let entries: Vec<Entry<'_>> = entries
            .iter()
            .map(|&(action, object)| Entry {
                action,
                outcome: Outcome::Success,
                subject: None,
                object,
            })
            .collect();
        self.append_audit(&entries)
    }

    /// Appends `entries`, signed by this user, in one transaction.
    fn append_audit(&mut self, entries: &[Entry<'_>]) -> Result<(), ProjectError> {
        let user_id = self.user_id;
        let (project, u) = self.parts()?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let actor = Actor {
            id: user_id,
            signing: &u.secrets.signing,
            keys: &u.keys,
        };
        for entry in entries {
            audit::append(&tx, &project.project_id, Some(&actor), entry, now_ms())?;
        }
        events::save_encryption_count(&tx, &u.keys.sealer)?;
        tx.commit()?;
        Ok(())
    }

    /// Imports a labels document: each annotation becomes one event by this user, all in
    /// one transaction. Returns the number of events written.
    pub fn import_labels(&mut self, doc: &LabelsDoc, source: &str) -> Result<usize, ProjectError> {
        let current: std::collections::BTreeMap<Id, Annotation> =
            self.annotations()?.into_iter().map(|a| (a.id, a)).collect();
        let mut payloads = Vec::new();
        for a in &doc.annotations {
            let annotation = Annotation {
                id: match a.id {
                    Some(id) => id,
                    None => Id::random()?,
                },
                body: a.body.clone(),
            };
            let edit = match current.get(&annotation.id) {
                None => Edit::Create { annotation },
                Some(before) if *before == annotation => continue,
                Some(before) => Edit::Update {
                    before: before.clone(),
                    after: annotation,
                },
            };
            payloads.push(EventPayload::new(edit));
        }
        let n = self.commit_payloads(&payloads)?.len();
        self.record(Action::LabelsImport, Outcome::Success, Some(source))?;
        Ok(n)
    }

    /// The current annotations as a labels document; records the export.
    pub fn export_labels(&mut self) -> Result<LabelsDoc, ProjectError> {
        let doc = labels::to_doc(&self.annotations()?);
        self.record(
            Action::LabelsExport,
            Outcome::Success,
            Some("labels export"),
        )?;
        Ok(doc)
    }
}

pub(super) fn load_chunks(
    conn: &rusqlite::Connection,
    event: &Id,
) -> rusqlite::Result<Vec<events::PayloadRow>> {
    conn.prepare_cached("SELECT event_id, chunk, key_id, nonce, ct FROM event_payloads WHERE event_id = ?1 ORDER BY chunk")?
        .query_map([event], events::payload_row)?
        .collect()
}

/// Re-encrypts everything under a fresh data key inside `tx`; returns the new key.
pub(super) fn rotate(
    tx: &Transaction<'_>,
    project: &Id,
    old: &DataKeys,
) -> Result<(Key32, DataKeys), ProjectError> {
    let pdk = Key32::random()?;
    let key_id = hex(&random_bytes::<8>()?);
    let new = DataKeys::from_pdk(&pdk, &key_id, 0);
    tx.execute(
        "INSERT INTO keys (key_id, created_ms, encryptions) VALUES (?1, ?2, 0)",
        params![key_id, now_ms()],
    )?;

    // Event payloads: the events themselves are untouched (their hashes cover the
    // plaintext commitment, not the ciphertext).
    let evs: Vec<events::EventRow> = tx
        .prepare(&format!("SELECT {} FROM events", events::EVENT_COLUMNS))?
        .query_map([], events::event_row)?
        .collect::<Result<_, _>>()?;
    let mut resealed: Vec<(Id, Vec<Sealed>)> = Vec::with_capacity(evs.len());
    for ev in &evs {
        let chunks = load_chunks(tx, &ev.event_id)?;
        let blob = events::open_payload(project, &old.sealer, ev, &chunks)
            .map_err(|e| ProjectError::Format(e.into()))?;
        resealed.push((
            ev.event_id,
            new.sealer.seal_chunked(
                &events::payload_aad(project, &ev.event_id, &ev.author_id, &key_id),
                &blob,
            )?,
        ));
    }
    tx.execute("DELETE FROM event_payloads", [])?;
    for (event, chunks) in &resealed {
        events::insert_payload_chunks(tx, event, &key_id, chunks)?;
    }

    let cache: Vec<events::CacheRow> = tx
        .prepare("SELECT annotation_id, image_bidx, event_id, key_id, nonce, ct FROM annotations")?
        .query_map([], events::cache_row)?
        .collect::<Result<_, _>>()?;
    for row in &cache {
        let regs = events::open_cache_row(project, &old.sealer, row)?;
        events::write_cache_row(tx, &events::seal_cache_row(project, &new, &regs)?)?;
    }

    let rows = load_members(tx)?;
    let members = members::verify_members(project, &rows, &old.sealer).map_err(|f| Failure {
        area: verify::Area::Membership,
        author: f.who,
        seq: None,
        reason: f.reason,
    })?;
    for mut r in rows {
        let name = r.name(project, &old.sealer)?;
        r.reseal_name(project, &new.sealer, &name)?;
        tx.execute(
            "UPDATE members SET key_id = ?1, name_nonce = ?2, name_ct = ?3 WHERE record_id = ?4",
            params![r.key_id, r.name_nonce, r.name_ct, r.record_id],
        )?;
    }
    tx.execute("DELETE FROM grants", [])?;
    for m in members.values().filter(|m| m.active) {
        super::insert_grant(
            tx,
            &GrantRow::seal(project, m.user_id, &key_id, &m.box_pk, &pdk)
                .map_err(super::slot_err(&m.name))?,
        )?;
    }

    let audit_rows: Vec<audit::AuditRow> = tx
        .prepare(&format!(
            "SELECT {} FROM audit WHERE obj_ct IS NOT NULL",
            audit::COLUMNS
        ))?
        .query_map([], audit::row)?
        .collect::<Result<_, _>>()?;
    for mut r in audit_rows {
        r.reseal_object(project, &old.sealer, &new.sealer)?;
        tx.execute(
            "UPDATE audit SET key_id = ?1, obj_nonce = ?2, obj_ct = ?3 WHERE entry_id = ?4",
            params![r.key_id, r.obj_nonce, r.obj_ct, r.entry_id],
        )?;
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'current_key_id'",
        [key_id.as_bytes()],
    )?;
    tx.execute("DELETE FROM keys WHERE key_id = ?1", [old.sealer.key_id()])?;
    Ok((pdk, new))
}
