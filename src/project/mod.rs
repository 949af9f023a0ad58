//! The encrypted project file: the only writer of the `.tessera` SQLite database.
//!
//! Owns the file format, the key hierarchy, the signed append-only history, the
//! annotation cache, verification and the audit log (see ARCHITECTURE.md, "The project file"). Never
//! imports egui or the imaging code; never writes a plaintext label, comment, name or UID
//! to SQLite outside an encrypted field, nor to a log.
//!
//! Flow: [`Project::create`] or [`Project::open`] (local-disk check, lock file, schema
//! migration) -> [`Project::unlock`] (key slot -> user secrets -> data key, then
//! verification) -> [`Session`] (edits, undo, users, import/export, audit).

pub mod audit;
pub mod bundle;
pub mod cache;
pub mod cases;
pub mod crypto;
pub mod error;
pub mod events;
pub mod fscheck;
pub mod id;
pub mod keys;
pub mod labels;
pub mod lock;
pub mod members;
pub mod merge;
pub mod model;
mod payload;
pub mod registers;
pub mod schema;
pub mod segmentations;
mod session;
pub mod sigbatch;
pub mod sync;
mod undo;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use error::ProjectError;
pub use id::Id;
pub use keys::{KdfChoice, KdfParams, RecoveryCode};
pub use members::{Role, Roles};
pub use segmentations::{LoadedSegmentation, SegmentationInfo};
pub use session::{HistoryItem, MemberInfo, Session};
pub use sync::{ConflictItem, ExportSummary, ImportMode, ImportSummary};
pub use undo::Applied;

use audit::{Action, Actor, Entry, Outcome};
use events::DataKeys;
use keys::{GrantRow, SlotError, SlotKdf, SlotRow, UserSecrets};
use members::{MemberRow, NewRecord};

/// The file extension of project files.
pub const EXTENSION: &str = "tessera";
/// How long a session may sit idle before its keys are wiped.
pub const DEFAULT_IDLE_LOCK: Duration = Duration::from_secs(15 * 60);

/// Whether [`Project::unlock`] verifies the whole project before returning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOnOpen {
    Yes,
    /// The caller verifies itself (e.g. `tessera verify`, which reports the failure).
    No,
}

/// An opened, still locked project: a SQLite connection and the lock file.
pub struct Project {
    conn: Connection,
    path: PathBuf,
    project_id: Id,
    _lock: lock::LockFile,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn connect(path: &Path) -> Result<(Connection, lock::LockFile), ProjectError> {
    fscheck::check_local(path)?;
    let lock = lock::LockFile::acquire(path)?;
    let mut conn = Connection::open(path)?;
    schema::configure(&conn)?;
    schema::migrate(&mut conn)?;
    Ok((conn, lock))
}

impl Project {
    /// Creates a project at `path` with `admin` as its first admin, and a recovery slot.
    /// Returns the unlocked session and the recovery code to print.
    pub fn create(
        path: &Path,
        admin: &str,
        passphrase: &[u8],
        kdf: KdfChoice,
    ) -> Result<(Session, RecoveryCode), ProjectError> {
        let admin = admin.trim();
        if admin.is_empty() || admin == RecoveryCode::USER {
            return Err(ProjectError::ReservedName(admin.to_owned()));
        }
        if path.exists() {
            return Err(ProjectError::Exists(path.to_owned()));
        }
        let (mut conn, lock) = connect(path)?;
        let project_id = Id::random()?;
        let pdk = crypto::Key32::random()?;
        let key_id = id::hex(&crypto::random_bytes::<8>()?);
        let keys = DataKeys::from_pdk(&pdk, &key_id, 0);
        let admin_id = Id::random()?;
        let admin_secrets = UserSecrets::generate()?;
        let params = SlotKdf::Argon2id(kdf.resolve());
        let recovery = RecoveryCode::generate()?;
        let recovery_id = Id::random()?;
        let recovery_secrets = UserSecrets::generate()?;
        let now = now_ms();

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let meta = [
            ("project_id", project_id.0.to_vec()),
            ("current_key_id", key_id.as_bytes().to_vec()),
            ("created_ms", now.to_be_bytes().to_vec()),
        ];
        for (name, value) in meta {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                params![name, value],
            )?;
        }
        tx.execute(
            "INSERT INTO keys (key_id, created_ms, encryptions) VALUES (?1, ?2, 0)",
            params![key_id, now],
        )?;
        let users = [
            (admin_id, admin, params, passphrase, &admin_secrets),
            (
                recovery_id,
                RecoveryCode::USER,
                SlotKdf::RecoveryCode,
                recovery.as_bytes(),
                &recovery_secrets,
            ),
        ];
        for (i, (user_id, name, kdf, secret, secrets)) in users.into_iter().enumerate() {
            insert_slot(
                &tx,
                &SlotRow::seal(&project_id, user_id, name, kdf, secret, secrets)
                    .map_err(slot_err(name))?,
            )?;
            insert_grant(
                &tx,
                &GrantRow::seal(&project_id, user_id, &key_id, &secrets.box_public(), &pdk)
                    .map_err(slot_err(name))?,
            )?;
            let rec = NewRecord {
                user_id,
                action: "add",
                roles: Roles::only(Role::Admin),
                name,
                sign_pk: secrets.signing.verifying_key().to_bytes(),
                box_pk: secrets.box_public(),
                time_ms: now + i as i64,
            };
            insert_member(
                &tx,
                &MemberRow::signed(
                    &project_id,
                    &keys.sealer,
                    &rec,
                    admin_id,
                    &admin_secrets.signing,
                )?,
            )?;
        }
        let actor = Actor {
            id: admin_id,
            signing: &admin_secrets.signing,
            keys: &keys,
        };
        audit::append(
            &tx,
            &project_id,
            Some(&actor),
            &Entry {
                action: Action::ProjectCreate,
                outcome: Outcome::Success,
                subject: None,
                object: None,
            },
            now,
        )?;
        events::save_encryption_count(&tx, &keys.sealer)?;
        tx.execute("DELETE FROM meta WHERE name = 'cache_rebuild'", [])?;
        tx.commit()?;
        let project = Project {
            conn,
            path: path.to_owned(),
            project_id,
            _lock: lock,
        };
        let session = Session::new(
            project,
            admin_id,
            admin.to_owned(),
            Roles::only(Role::Admin),
            admin_secrets,
            pdk,
            keys,
        );
        Ok((session, recovery))
    }

    /// Opens an existing project for editing: refuses network filesystems, takes the lock
    /// file, migrates the schema. Nothing is decrypted yet.
    pub fn open(path: &Path) -> Result<Project, ProjectError> {
        if !path.is_file() {
            return Err(ProjectError::Io {
                context: "cannot open the project",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
                path: path.to_owned(),
            });
        }
        let (conn, lock) = connect(path)?;
        let project_id = meta(&conn, "project_id")?
            .and_then(|v| Id::from_slice(&v))
            .ok_or_else(|| ProjectError::NotAProject(path.to_owned()))?;
        Ok(Project {
            conn,
            path: path.to_owned(),
            project_id,
            _lock: lock,
        })
    }

    pub fn id(&self) -> Id {
        self.project_id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unlocks as `user` with `secret` (passphrase, or the recovery code for the user
    /// `recovery`). A wrong passphrase writes only the failed-unlock audit entry; a
    /// damaged slot or hostile parameters write nothing.
    pub fn unlock(
        mut self,
        user: &str,
        secret: &[u8],
        check: VerifyOnOpen,
    ) -> Result<Session, ProjectError> {
        let user = user.trim();
        let (user_id, secrets, pdk, keys, role) = match self.open_slot(user, secret) {
            Ok(found) => found,
            Err((err, Some(subject))) => {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let entry = Entry {
                    action: Action::UnlockFailure,
                    outcome: Outcome::MinorFailure,
                    subject: Some(subject),
                    object: None,
                };
                audit::append(&tx, &self.project_id, None, &entry, now_ms())?;
                tx.commit()?;
                return Err(err);
            }
            Err((err, None)) => return Err(err),
        };
        let mut session = Session::new(self, user_id, user.to_owned(), role, secrets, pdk, keys);
        session.rebuild_cache_if_flagged()?;
        if check == VerifyOnOpen::Yes {
            session.verify_silently()?;
        }
        session.record_many(&[(Action::UnlockSuccess, None), (Action::ProjectOpen, None)])?;
        Ok(session)
    }

    /// Finds and opens `user`'s slot. On a wrong passphrase, the error carries the slot's
    /// user id for the audit entry.
    #[allow(clippy::type_complexity)]
    fn open_slot(
        &self,
        user: &str,
        secret: &[u8],
    ) -> Result<(Id, UserSecrets, crypto::Key32, DataKeys, Roles), (ProjectError, Option<Id>)> {
        let db = |e: rusqlite::Error| (ProjectError::Sqlite(e), None);
        // The recovery slot's secret is the code's 32 bytes, typed as grouped hex.
        let code = (user == RecoveryCode::USER)
            .then(|| {
                std::str::from_utf8(secret)
                    .ok()
                    .and_then(RecoveryCode::parse)
            })
            .flatten();
        let secret = code.as_ref().map_or(secret, |c| c.as_bytes());
        let tag = keys::name_tag(&self.project_id, user);
        let candidates: Vec<SlotRow> = self
            .conn
            .prepare(&format!(
                "SELECT {SLOT_COLUMNS} FROM slots WHERE name_tag = ?1"
            ))
            .and_then(|mut s| s.query_map([tag], slot_row)?.collect())
            .map_err(db)?;
        let key_id = meta(&self.conn, "current_key_id")
            .map_err(db)?
            .and_then(|v| String::from_utf8(v).ok());
        let Some(key_id) = key_id else {
            return Err((ProjectError::NotAProject(self.path.clone()), None));
        };
        let encryptions: i64 = self
            .conn
            .query_row(
                "SELECT encryptions FROM keys WHERE key_id = ?1",
                [&key_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?
            .unwrap_or(0);
        let (mut wrong, mut damaged) = (None, None);
        for slot in candidates {
            let secrets = match slot.open(&self.project_id, secret) {
                Ok(s) => s,
                Err(SlotError::WrongSecret) => {
                    wrong = Some(slot.user_id);
                    continue;
                }
                Err(SlotError::Damaged(reason)) => {
                    damaged = Some(reason);
                    continue;
                }
                Err(SlotError::Crypto(e)) => return Err((e.into(), None)),
            };
            let grant: Option<GrantRow> = self
                .conn
                .query_row(
                    "SELECT user_id, key_id, eph_pk, nonce, ct FROM grants WHERE user_id = ?1 AND key_id = ?2",
                    params![slot.user_id, key_id],
                    |r| Ok(GrantRow { user_id: r.get(0)?, key_id: r.get(1)?, eph_pk: r.get(2)?, nonce: r.get(3)?, ct: r.get(4)? }),
                )
                .optional()
                .map_err(db)?;
            let damaged_slot = |reason| {
                (
                    ProjectError::DamagedSlot {
                        user: user.to_owned(),
                        reason,
                    },
                    None,
                )
            };
            let Some(grant) = grant else {
                return Err(damaged_slot("no data-key grant for the current key"));
            };
            let pdk = grant
                .open(&self.project_id, &secrets)
                .map_err(|_| damaged_slot("data-key grant does not open"))?;
            let keys = DataKeys::from_pdk(&pdk, &key_id, encryptions.max(0) as u64);
            let rows = load_members(&self.conn).map_err(db)?;
            let members =
                members::verify_members(&self.project_id, &rows, &keys.sealer).map_err(|f| {
                    (
                        ProjectError::Verification(verify::Failure {
                            area: verify::Area::Membership,
                            author: f.who,
                            seq: None,
                            reason: f.reason,
                        }),
                        None,
                    )
                })?;
            match members.get(&slot.user_id) {
                Some(m) if m.active && m.name == user => {
                    return Ok((slot.user_id, secrets, pdk, keys, m.roles));
                }
                _ => continue, // a name-tag collision: someone else's slot
            }
        }
        if let Some(subject) = wrong {
            return Err((
                ProjectError::IncorrectPassphrase {
                    user: user.to_owned(),
                },
                Some(subject),
            ));
        }
        if let Some(reason) = damaged {
            return Err((
                ProjectError::DamagedSlot {
                    user: user.to_owned(),
                    reason,
                },
                None,
            ));
        }
        Err((
            ProjectError::UnknownUser {
                user: user.to_owned(),
            },
            None,
        ))
    }
}

fn slot_err(user: &str) -> impl Fn(SlotError) -> ProjectError + '_ {
    move |e| match e {
        SlotError::Crypto(c) => ProjectError::Crypto(c),
        SlotError::WrongSecret => ProjectError::IncorrectPassphrase {
            user: user.to_owned(),
        },
        SlotError::Damaged(reason) => ProjectError::DamagedSlot {
            user: user.to_owned(),
            reason,
        },
    }
}

pub(crate) fn meta(conn: &Connection, name: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

pub(crate) const SLOT_COLUMNS: &str =
    "user_id, name_tag, kdf, m_kib, t_cost, p_lanes, salt, nonce, wrapped, checksum";

pub(crate) fn slot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SlotRow> {
    Ok(SlotRow {
        user_id: r.get(0)?,
        name_tag: r.get(1)?,
        kdf: r.get(2)?,
        m_kib: r.get(3)?,
        t_cost: r.get(4)?,
        p_lanes: r.get(5)?,
        salt: r.get(6)?,
        nonce: r.get(7)?,
        wrapped: r.get(8)?,
        checksum: r.get(9)?,
    })
}

pub(crate) fn insert_slot(conn: &Connection, s: &SlotRow) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT OR REPLACE INTO slots ({SLOT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![s.user_id, s.name_tag, s.kdf, s.m_kib, s.t_cost, s.p_lanes, s.salt, s.nonce, s.wrapped, s.checksum],
    )?;
    Ok(())
}

pub(crate) fn insert_grant(conn: &Connection, g: &GrantRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO grants (user_id, key_id, eph_pk, nonce, ct) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![g.user_id, g.key_id, g.eph_pk, g.nonce, g.ct],
    )?;
    Ok(())
}

pub(crate) const MEMBER_COLUMNS: &str = "record_id, user_id, action, role, sign_pk, box_pk, key_id, name_nonce, name_ct, signer_id, time_ms, signature";

pub(crate) fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        record_id: r.get(0)?,
        user_id: r.get(1)?,
        action: r.get(2)?,
        role: r.get(3)?,
        sign_pk: r.get(4)?,
        box_pk: r.get(5)?,
        key_id: r.get(6)?,
        name_nonce: r.get(7)?,
        name_ct: r.get(8)?,
        signer_id: r.get(9)?,
        time_ms: r.get(10)?,
        signature: r.get(11)?,
    })
}

pub(crate) fn load_members(conn: &Connection) -> rusqlite::Result<Vec<MemberRow>> {
    conn.prepare_cached(&format!("SELECT {MEMBER_COLUMNS} FROM members"))?
        .query_map([], member_row)?
        .collect()
}

pub(crate) fn insert_member(conn: &Connection, m: &MemberRow) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT INTO members ({MEMBER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            m.record_id, m.user_id, m.action, m.role, m.sign_pk, m.box_pk, m.key_id, m.name_nonce, m.name_ct, m.signer_id, m.time_ms,
            m.signature
        ],
    )?;
    Ok(())
}
