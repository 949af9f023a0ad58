//! Key slots, key-derivation parameters, per-user secrets, data-key grants and the
//! recovery code.
//!
//! Owns the key hierarchy below the project data key (PDK):
//! passphrase --Argon2id(params in the slot)--> KEK --AES-GCM--> the user's secrets
//! (Ed25519 signing key + X25519 key); the PDK is sealed to each user's X25519 public key
//! (a "grant"), so an admin can hand a rotated PDK to the remaining users without their
//! passphrases. The recovery slot is a slot whose secret is a printed 256-bit code.
//! Must not touch SQLite: callers load and store the rows.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use ed25519_dalek::SigningKey;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::crypto::{
    Aad, Canon, CryptoError, Key32, Sealer, ct_eq, hmac_sha256, random_bytes, sha256,
};
use super::id::{Id, hex, unhex};

/// Argon2id cost parameters as stored in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t_cost: u32,
    pub p_lanes: u32,
}

impl KdfParams {
    /// OWASP's minimum recommendation for Argon2id (19 MiB, 2 passes, 1 lane): the
    /// calibrated default never goes below it.
    pub const OWASP_MIN: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t_cost: 2,
        p_lanes: 1,
    };
    /// Upper bounds applied to parameters read from a file, before any allocation: a
    /// hostile file cannot make us allocate more than 1 GiB or spin for minutes.
    pub const MAX_M_KIB: u32 = 1024 * 1024;
    pub const MAX_T_COST: u32 = 32;
    pub const MAX_P_LANES: u32 = 16;
    /// Memory of the calibrated default (64 MiB); passes are calibrated to about 0.5 s.
    pub const DEFAULT_M_KIB: u32 = 64 * 1024;

    /// Checks the bounds; `None` when the parameters are out of range.
    pub fn bounded(m_kib: i64, t_cost: i64, p_lanes: i64) -> Option<KdfParams> {
        let m = u32::try_from(m_kib).ok()?;
        let t = u32::try_from(t_cost).ok()?;
        let p = u32::try_from(p_lanes).ok()?;
        let ok = (1..=Self::MAX_P_LANES).contains(&p)
            && (1..=Self::MAX_T_COST).contains(&t)
            && m >= 8 * p
            && m <= Self::MAX_M_KIB;
        ok.then_some(KdfParams {
            m_kib: m,
            t_cost: t,
            p_lanes: p,
        })
    }

    /// Passes at 64 MiB so that one derivation takes about `target` on this machine, and
    /// never fewer than OWASP's minimum.
    pub fn calibrated(target: Duration) -> KdfParams {
        let probe = KdfParams {
            m_kib: Self::DEFAULT_M_KIB,
            t_cost: 1,
            p_lanes: 1,
        };
        let start = Instant::now();
        let _ = argon2id(&probe, b"calibration", &[0u8; 16]);
        let one_pass = start.elapsed().max(Duration::from_millis(1));
        let passes = (target.as_secs_f64() / one_pass.as_secs_f64()).round() as u32;
        KdfParams {
            t_cost: passes.clamp(Self::OWASP_MIN.t_cost, 10),
            ..probe
        }
    }
}

/// How a slot's key-encryption key is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKdf {
    /// A passphrase stretched with Argon2id.
    Argon2id(KdfParams),
    /// A full-entropy 256-bit recovery code: HMAC-SHA-256, no stretching needed.
    RecoveryCode,
}

/// What a new passphrase slot's parameters are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfChoice {
    /// Calibrated to about 0.5 s here, never below OWASP's minimum (the default).
    Calibrated,
    /// Exactly these parameters. Tests use tiny ones to stay fast; no production path
    /// picks this without being told to.
    Fixed(KdfParams),
}

impl KdfChoice {
    pub fn resolve(self) -> KdfParams {
        match self {
            KdfChoice::Calibrated => KdfParams::calibrated(Duration::from_millis(500)),
            KdfChoice::Fixed(p) => p,
        }
    }
}

/// Why a slot did not open.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// The slot is intact but the secret does not open it.
    #[error("incorrect passphrase")]
    WrongSecret,
    /// The slot's bytes changed, or its parameters are out of bounds.
    #[error("damaged key slot: {0}")]
    Damaged(&'static str),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn argon2id(p: &KdfParams, secret: &[u8], salt: &[u8]) -> Result<Key32, SlotError> {
    let params = Params::new(p.m_kib, p.t_cost, p.p_lanes, Some(32))
        .map_err(|_| SlotError::Damaged("key-derivation parameters rejected"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(secret, salt, out.as_mut())
        .map_err(|_| SlotError::Damaged("key derivation failed"))?;
    Ok(Key32::from_bytes(out))
}

/// A user's private keys: Ed25519 for signing, X25519 for receiving data-key grants.
/// Both types wipe themselves on drop.
pub struct UserSecrets {
    pub signing: SigningKey,
    pub boxing: StaticSecret,
}

impl UserSecrets {
    pub fn generate() -> Result<UserSecrets, CryptoError> {
        let seed = Zeroizing::new(random_bytes::<32>()?);
        let boxing = Zeroizing::new(random_bytes::<32>()?);
        Ok(UserSecrets {
            signing: SigningKey::from_bytes(&seed),
            boxing: StaticSecret::from(*boxing),
        })
    }

    pub fn box_public(&self) -> [u8; 32] {
        PublicKey::from(&self.boxing).to_bytes()
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(64));
        v.extend_from_slice(&self.signing.to_bytes());
        v.extend_from_slice(self.boxing.as_bytes());
        v
    }

    fn from_bytes(b: &[u8]) -> Option<UserSecrets> {
        if b.len() != 64 {
            return None;
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        let mut boxing = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&b[..32]);
        boxing.copy_from_slice(&b[32..]);
        Some(UserSecrets {
            signing: SigningKey::from_bytes(&seed),
            boxing: StaticSecret::from(*boxing),
        })
    }
}

/// One row of the `slots` table. Only slot metadata is in clear: the user id, a one-byte
/// name bucket, the KDF and its parameters, salt, nonce and a checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRow {
    pub user_id: Id,
    pub name_tag: i64,
    pub kdf: String,
    pub m_kib: i64,
    pub t_cost: i64,
    pub p_lanes: i64,
    pub salt: Vec<u8>,
    pub nonce: Vec<u8>,
    pub wrapped: Vec<u8>,
    pub checksum: Vec<u8>,
}

impl SlotRow {
    /// The unkeyed checksum that tells a damaged slot from a wrong passphrase.
    pub fn compute_checksum(&self, project: &Id) -> [u8; 32] {
        Canon::new("tessera-slot")
            .id(project)
            .id(&self.user_id)
            .i64(self.name_tag)
            .str(&self.kdf)
            .i64(self.m_kib)
            .i64(self.t_cost)
            .i64(self.p_lanes)
            .bytes(&self.salt)
            .bytes(&self.nonce)
            .bytes(&self.wrapped)
            .sha256()
    }

    /// Seals `secrets` under a key derived from `secret` (passphrase or recovery code).
    pub fn seal(
        project: &Id,
        user_id: Id,
        name: &str,
        kdf: SlotKdf,
        secret: &[u8],
        secrets: &UserSecrets,
    ) -> Result<SlotRow, SlotError> {
        let salt: [u8; 16] = random_bytes()?;
        let (kdf_name, m, t, p) = match kdf {
            SlotKdf::Argon2id(k) => ("argon2id", k.m_kib, k.t_cost, k.p_lanes),
            SlotKdf::RecoveryCode => ("recovery-code", 0, 0, 0),
        };
        let kek = derive_kek(kdf, secret, &salt)?;
        let sealed =
            Sealer::new(&kek, "kek", 0).seal(&slot_aad(project, &user_id), &secrets.to_bytes())?;
        let mut row = SlotRow {
            user_id,
            name_tag: name_tag(project, name),
            kdf: kdf_name.to_owned(),
            m_kib: m.into(),
            t_cost: t.into(),
            p_lanes: p.into(),
            salt: salt.to_vec(),
            nonce: sealed.nonce,
            wrapped: sealed.ct,
            checksum: Vec::new(),
        };
        row.checksum = row.compute_checksum(project).to_vec();
        Ok(row)
    }

    /// Checks the slot's integrity and bounds (no allocation beyond the row itself), then
    /// derives the KEK and opens the user's secrets. An intact slot that does not open
    /// means the secret is wrong.
    pub fn open(&self, project: &Id, secret: &[u8]) -> Result<UserSecrets, SlotError> {
        let kdf = self.check(project)?;
        let kek = derive_kek(kdf, secret, &self.salt)?;
        let plain = Sealer::new(&kek, "kek", 0)
            .open(
                &slot_aad(project, &self.user_id),
                &self.nonce,
                &self.wrapped,
            )
            .map_err(|_| SlotError::WrongSecret)?;
        UserSecrets::from_bytes(&plain).ok_or(SlotError::Damaged("secrets have the wrong length"))
    }

    /// The slot's KDF if the row is intact and its parameters are within bounds.
    pub fn check(&self, project: &Id) -> Result<SlotKdf, SlotError> {
        if !ct_eq(&self.checksum, &self.compute_checksum(project)) {
            return Err(SlotError::Damaged("checksum mismatch"));
        }
        if self.salt.len() != 16 {
            return Err(SlotError::Damaged("salt has the wrong length"));
        }
        match self.kdf.as_str() {
            "argon2id" => KdfParams::bounded(self.m_kib, self.t_cost, self.p_lanes)
                .map(SlotKdf::Argon2id)
                .ok_or(SlotError::Damaged(
                    "key-derivation parameters out of bounds",
                )),
            "recovery-code" => Ok(SlotKdf::RecoveryCode),
            _ => Err(SlotError::Damaged("unknown key-derivation function")),
        }
    }
}

fn slot_aad<'a>(project: &'a Id, user: &'a Id) -> Aad<'a> {
    Aad {
        project,
        table: "slots",
        column: "wrapped",
        row: user,
        event: &Id::NIL,
        key_id: "kek",
        author: user,
    }
}

fn derive_kek(kdf: SlotKdf, secret: &[u8], salt: &[u8]) -> Result<Key32, SlotError> {
    match kdf {
        SlotKdf::Argon2id(p) => argon2id(&p, secret, salt),
        SlotKdf::RecoveryCode => Ok(Key32::from_bytes(Zeroizing::new(hmac_sha256(
            secret,
            &[b"tessera/recovery-kek", salt],
        )))),
    }
}

/// A one-byte bucket of a user name: finds the slot to try without storing the name.
/// It leaks about 8 bits of the name (documented in ARCHITECTURE.md, "The project file").
pub fn name_tag(project: &Id, name: &str) -> i64 {
    i64::from(sha256(&[b"tessera-name-tag", project.as_bytes(), name.as_bytes()])[0])
}

/// One row of the `grants` table: the PDK sealed to one user's X25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub user_id: Id,
    pub key_id: String,
    pub eph_pk: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ct: Vec<u8>,
}

fn grant_key(shared: &[u8; 32], eph: &[u8], recipient: &[u8]) -> Key32 {
    Key32::from_bytes(Zeroizing::new(hmac_sha256(
        shared,
        &[b"tessera/grant", eph, recipient],
    )))
}

impl GrantRow {
    /// Seals `pdk` to `recipient_pk` (ephemeral-static X25519, then AES-256-GCM).
    pub fn seal(
        project: &Id,
        user_id: Id,
        key_id: &str,
        recipient_pk: &[u8; 32],
        pdk: &Key32,
    ) -> Result<GrantRow, SlotError> {
        let eph = StaticSecret::from(*Zeroizing::new(random_bytes::<32>()?));
        let eph_pk = PublicKey::from(&eph).to_bytes();
        let shared = eph.diffie_hellman(&PublicKey::from(*recipient_pk));
        if !shared.was_contributory() {
            return Err(SlotError::Damaged("member's public key is degenerate"));
        }
        let k = grant_key(shared.as_bytes(), &eph_pk, recipient_pk);
        let sealed = Sealer::new(&k, "grant", 0)
            .seal(&grant_aad(project, &user_id, key_id), pdk.expose())?;
        Ok(GrantRow {
            user_id,
            key_id: key_id.to_owned(),
            eph_pk: eph_pk.to_vec(),
            nonce: sealed.nonce,
            ct: sealed.ct,
        })
    }

    /// Opens the PDK with the user's X25519 secret.
    pub fn open(&self, project: &Id, secrets: &UserSecrets) -> Result<Key32, SlotError> {
        let eph: [u8; 32] = self
            .eph_pk
            .as_slice()
            .try_into()
            .map_err(|_| SlotError::Damaged("grant has the wrong length"))?;
        let shared = secrets.boxing.diffie_hellman(&PublicKey::from(eph));
        let k = grant_key(shared.as_bytes(), &eph, &secrets.box_public());
        let plain = Sealer::new(&k, "grant", 0)
            .open(
                &grant_aad(project, &self.user_id, &self.key_id),
                &self.nonce,
                &self.ct,
            )
            .map_err(|_| SlotError::Damaged("data-key grant does not authenticate"))?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| SlotError::Damaged("grant has the wrong length"))?;
        Ok(Key32::from_bytes(Zeroizing::new(bytes)))
    }
}

fn grant_aad<'a>(project: &'a Id, user: &'a Id, key_id: &'a str) -> Aad<'a> {
    Aad {
        project,
        table: "grants",
        column: "pdk",
        row: user,
        event: &Id::NIL,
        key_id,
        author: user,
    }
}

/// The emergency-access code: 256 random bits, printed as 16 groups of 4 hex digits.
pub struct RecoveryCode(Zeroizing<[u8; 32]>);

impl RecoveryCode {
    /// The member name the recovery slot is stored under.
    pub const USER: &'static str = "recovery";

    pub fn generate() -> Result<RecoveryCode, CryptoError> {
        Ok(RecoveryCode(Zeroizing::new(random_bytes()?)))
    }

    /// Parses a printed code; spaces, hyphens and case are ignored.
    pub fn parse(text: &str) -> Option<RecoveryCode> {
        let digits: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| c.is_ascii_hexdigit()).collect());
        let bytes = Zeroizing::new(unhex(&digits)?);
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(RecoveryCode(Zeroizing::new(arr)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The printable form.
    pub fn display(&self) -> Zeroizing<String> {
        let h = Zeroizing::new(hex(self.0.as_ref()));
        let groups: Vec<&str> = (0..16).map(|i| &h[i * 4..i * 4 + 4]).collect();
        Zeroizing::new(groups.join("-"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    const TINY: KdfParams = KdfParams {
        m_kib: 64,
        t_cost: 1,
        p_lanes: 1,
    };

    #[test]
    fn slot_distinguishes_wrong_passphrase_from_damage() {
        let project = Id::random().unwrap();
        let user = Id::random().unwrap();
        let s = UserSecrets::generate().unwrap();
        let row =
            SlotRow::seal(&project, user, "alice", SlotKdf::Argon2id(TINY), b"pw", &s).unwrap();
        let opened = row.open(&project, b"pw").unwrap();
        assert_eq!(opened.signing.to_bytes(), s.signing.to_bytes());
        assert!(matches!(
            row.open(&project, b"nope"),
            Err(SlotError::WrongSecret)
        ));
        let mut bad = row.clone();
        bad.wrapped[0] ^= 1;
        assert!(matches!(
            bad.open(&project, b"pw"),
            Err(SlotError::Damaged(_))
        ));
        let mut hostile = row.clone();
        hostile.m_kib = 1 << 40;
        hostile.checksum = hostile.compute_checksum(&project).to_vec();
        assert!(matches!(
            hostile.open(&project, b"pw"),
            Err(SlotError::Damaged(_))
        ));
    }

    #[test]
    fn grants_open_only_for_their_recipient() {
        let project = Id::random().unwrap();
        let (a, b) = (
            UserSecrets::generate().unwrap(),
            UserSecrets::generate().unwrap(),
        );
        let pdk = Key32::random().unwrap();
        let g = GrantRow::seal(&project, Id::NIL, "k1", &a.box_public(), &pdk).unwrap();
        assert_eq!(g.open(&project, &a).unwrap().expose(), pdk.expose());
        assert!(g.open(&project, &b).is_err());
    }

    #[test]
    fn recovery_code_round_trips() {
        let c = RecoveryCode::generate().unwrap();
        let shown = c.display();
        assert_eq!(shown.len(), 79);
        assert_eq!(
            RecoveryCode::parse(&shown.to_uppercase())
                .unwrap()
                .as_bytes(),
            c.as_bytes()
        );
        assert!(RecoveryCode::parse("abcd").is_none());
    }

    #[test]
    fn bounds_reject_hostile_parameters() {
        assert!(KdfParams::bounded(1 << 40, 1, 1).is_none());
        assert!(KdfParams::bounded(4 * 1024 * 1024, 1, 1).is_none());
        assert!(KdfParams::bounded(64, 0, 1).is_none());
        assert!(KdfParams::bounded(64, 1, 100).is_none());
        assert!(KdfParams::bounded(-1, 1, 1).is_none());
        assert_eq!(KdfParams::bounded(64, 1, 1), Some(TINY));
    }
}
