//! Membership: who may sign events, under which public keys, with which role.
//!
//! Owns the `members` records (append-only: add, remove) and their rules: the first
//! record is the creator adding themselves as admin (self-signed); every later record is
//! signed by someone who is an admin at that point. The user's name is encrypted; the
//! signature covers the plaintext name, so re-encryption under a rotated key keeps it
//! valid. Must not touch SQLite or slots.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::crypto::{Aad, Canon, CryptoError, Sealer};
use super::id::Id;

/// One thing a member may do. A member holds one or more (see [`Roles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Creates and edits their own annotations, submits cases.
    Annotator,
    /// Reads everything, comments, approves, rejects with a reason, escalates.
    Reviewer,
    /// Medical staff who adjudicate escalated cases.
    Senior,
    /// Users, label schema, review policy, case assignment.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Annotator, Role::Reviewer, Role::Senior, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Annotator => "annotator",
            Role::Reviewer => "reviewer",
            Role::Senior => "senior",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "annotator" => Some(Role::Annotator),
            "reviewer" => Some(Role::Reviewer),
            "senior" => Some(Role::Senior),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The roles a member holds (at least one). Stored in membership records as a
/// comma-separated list in [`Role::ALL`] order ("annotator,senior"); records written
/// before several roles existed hold one name, which parses the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// One role.
    pub fn only(role: Role) -> Roles {
        Roles(role.bit())
    }
    /// Several roles; `None` when `roles` is empty.
    pub fn of(roles: &[Role]) -> Option<Roles> {
        let bits = roles.iter().fold(0, |b, r| b | r.bit());
        (bits != 0).then_some(Roles(bits))
    }
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }
    /// The roles held, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
    /// "annotator,reviewer".
    pub fn as_string(self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }
    /// Parses [`Roles::as_string`]'s form (also a single name); `None` on an unknown or
    /// repeated name or an empty list.
    pub fn parse(s: &str) -> Option<Roles> {
        let mut bits = 0u8;
        for part in s.split(',') {
            let r = Role::parse(part.trim())?;
            if bits & r.bit() != 0 {
                return None;
            }
            bits |= r.bit();
        }
        (bits != 0).then_some(Roles(bits))
    }
}

impl From<Role> for Roles {
    fn from(r: Role) -> Roles {
        Roles::only(r)
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One row of `members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub record_id: Id,
    pub user_id: Id,
    pub action: String,
    pub role: String,
    pub sign_pk: Vec<u8>,
    pub box_pk: Vec<u8>,
    pub key_id: String,
    pub name_nonce: Vec<u8>,
    pub name_ct: Vec<u8>,
    pub signer_id: Id,
    pub time_ms: i64,
    pub signature: Vec<u8>,
}

/// The fields of a new membership record.
pub struct NewRecord<'a> {
    pub user_id: Id,
    /// "add", "remove", or "roles" (a member's roles change; keys and name unchanged).
    pub action: &'static str,
    pub roles: Roles,
    pub name: &'a str,
    pub sign_pk: [u8; 32],
    pub box_pk: [u8; 32],
    pub time_ms: i64,
}

fn message(project: &Id, r: &MemberRow, name: &str) -> Vec<u8> {
    Canon::new("tessera-member")
        .id(project)
        .id(&r.record_id)
        .id(&r.user_id)
        .str(&r.action)
        .str(&r.role)
        .bytes(&r.sign_pk)
        .bytes(&r.box_pk)
        .str(name)
        .id(&r.signer_id)
        .i64(r.time_ms)
        .finish()
}

fn name_aad<'a>(project: &'a Id, r: &'a MemberRow) -> Aad<'a> {
    Aad {
        project,
        table: "members",
        column: "name",
        row: &r.record_id,
        event: &Id::NIL,
        key_id: &r.key_id,
        author: &r.user_id,
    }
}

impl MemberRow {
    /// A record signed by `signer`.
    pub fn signed(
        project: &Id,
        sealer: &Sealer,
        rec: &NewRecord<'_>,
        signer_id: Id,
        signer: &SigningKey,
    ) -> Result<MemberRow, CryptoError> {
        let mut row = MemberRow {
            record_id: Id::random()?,
            user_id: rec.user_id,
            action: rec.action.to_owned(),
            role: rec.roles.as_string(),
            sign_pk: rec.sign_pk.to_vec(),
            box_pk: rec.box_pk.to_vec(),
            key_id: sealer.key_id().to_owned(),
            name_nonce: Vec::new(),
            name_ct: Vec::new(),
            signer_id,
            time_ms: rec.time_ms,
            signature: Vec::new(),
        };
        row.reseal_name(project, sealer, rec.name)?;
        row.signature = signer
            .sign(&message(project, &row, rec.name))
            .to_bytes()
            .to_vec();
        Ok(row)
    }

    /// Re-encrypts the name under `sealer`'s key (data-key rotation).
    pub fn reseal_name(
        &mut self,
        project: &Id,
        sealer: &Sealer,
        name: &str,
    ) -> Result<(), CryptoError> {
        self.key_id = sealer.key_id().to_owned();
        let s = sealer.seal(&name_aad(project, self), name.as_bytes())?;
        self.name_nonce = s.nonce;
        self.name_ct = s.ct;
        Ok(())
    }

    /// The decrypted name.
    pub fn name(&self, project: &Id, sealer: &Sealer) -> Result<String, CryptoError> {
        let plain = sealer.open(&name_aad(project, self), &self.name_nonce, &self.name_ct)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Unauthentic)
    }
}

/// A member as the verified records describe them.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: Id,
    pub name: String,
    pub roles: Roles,
    pub sign_pk: VerifyingKey,
    pub box_pk: [u8; 32],
    pub active: bool,
}

/// Verified membership, by user id.
pub type Members = BTreeMap<Id, Member>;

/// A member's name from [`Session::member_names`](super::Session::member_names), or
/// "user" and the id's short form for an id the membership does not name.
pub fn name_or_id(names: &BTreeMap<Id, String>, id: &Id) -> String {
    display_name(names.get(id).map(String::as_str), id)
}

/// How a member is named in messages, lists and reports: their name, or "user" and
/// the id's short form for an id the membership does not name.
pub fn display_name(name: Option<&str>, id: &Id) -> String {
    name.map_or_else(|| format!("user {}", id.short()), str::to_owned)
}

/// The first membership record that does not verify.
#[derive(Debug, Clone, thiserror::Error)]
#[error("membership record for {who}: {reason}")]
pub struct MemberFailure {
    pub who: String,
    pub reason: String,
}

/// Checks every record (signature, signer's authority, name ciphertext) in time order.
pub fn verify_members(
    project: &Id,
    rows: &[MemberRow],
    sealer: &Sealer,
) -> Result<Members, MemberFailure> {
    let mut rows: Vec<&MemberRow> = rows.iter().collect();
    rows.sort_by_key(|r| (r.time_ms, r.record_id));
    let mut members = Members::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        let fail = |who: String, reason: &str| MemberFailure {
            who,
            reason: reason.to_owned(),
        };
        if !seen.insert(r.record_id) {
            return Err(fail(r.user_id.to_string(), "duplicate record"));
        }
        let name = r
            .name(project, sealer)
            .map_err(|_| fail(r.user_id.to_string(), "name does not decrypt"))?;
        let who = name.clone();
        let Some(roles) = Roles::parse(&r.role) else {
            return Err(fail(who, "unknown role"));
        };
        let signer_pk = if i == 0 {
            if r.signer_id != r.user_id || r.action != "add" || !roles.contains(Role::Admin) {
                return Err(fail(
                    who,
                    "the first record must be the creator adding themselves as admin",
                ));
            }
            key(&r.sign_pk).ok_or_else(|| fail(who.clone(), "malformed public key"))?
        } else {
            match members.get(&r.signer_id) {
                Some(s) if s.active && s.roles.contains(Role::Admin) => s.sign_pk,
                _ => return Err(fail(who, "signed by someone who is not an admin")),
            }
        };
        let sig = Signature::from_slice(&r.signature)
            .map_err(|_| fail(who.clone(), "malformed signature"))?;
        if signer_pk.verify(&message(project, r, &name), &sig).is_err() {
            return Err(fail(who, "signature does not verify"));
        }
        match r.action.as_str() {
            "add" => {
                if members.get(&r.user_id).is_some_and(|m| m.active) {
                    return Err(fail(who, "added twice"));
                }
                if members.values().any(|m| m.active && m.name == name) {
                    return Err(fail(who, "name already in use"));
                }
                let sign_pk =
                    key(&r.sign_pk).ok_or_else(|| fail(who.clone(), "malformed public key"))?;
                let box_pk: [u8; 32] = r
                    .box_pk
                    .as_slice()
                    .try_into()
                    .map_err(|_| fail(who.clone(), "malformed public key"))?;
                members.insert(
                    r.user_id,
                    Member {
                        user_id: r.user_id,
                        name,
                        roles,
                        sign_pk,
                        box_pk,
                        active: true,
                    },
                );
            }
            "remove" => match members.get_mut(&r.user_id) {
                Some(m) if m.active => m.active = false,
                _ => return Err(fail(who, "removes someone who is not a member")),
            },
            "roles" => match members.get_mut(&r.user_id) {
                Some(m)
                    if m.active && m.name == name && m.sign_pk.as_bytes()[..] == r.sign_pk[..] =>
                {
                    m.roles = roles;
                }
                _ => {
                    return Err(fail(
                        who,
                        "changes the roles of someone who is not a member",
                    ));
                }
            },
            _ => return Err(fail(who, "unknown action")),
        }
    }
    if members.is_empty() {
        return Err(MemberFailure {
            who: "nobody".into(),
            reason: "the project has no members".into(),
        });
    }
    Ok(members)
}

fn key(bytes: &[u8]) -> Option<VerifyingKey> {
    let arr: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&arr).ok()
}
