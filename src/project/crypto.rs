//! The only place that touches AES-256-GCM, HMAC and SHA-256 for the project file.
//!
//! Owns: the sealing wrapper [`Sealer`] (a fresh random 96-bit nonce per encryption, no
//! nonce argument, an encryption counter per key), associated data [`Aad`] that binds a
//! ciphertext to its format version, project, table, column, row, event, key and author,
//! 64 KiB chunking, subkey derivation, and the canonical byte encoding [`Canon`] that
//! hashes and signatures are computed over. Must not touch SQLite or know about users.

use std::sync::atomic::{AtomicU64, Ordering};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::id::Id;

/// Written into every associated-data block and hash: a ciphertext from a future format
/// cannot be mistaken for one of this format.
pub const FORMAT_VERSION: u32 = 1;
/// Large payloads (label maps) are sealed in chunks of this size.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// A data key is rotated long before 2^32 random nonces (NIST SP 800-38D's bound).
pub const ROTATE_AFTER_ENCRYPTIONS: u64 = 1 << 30;
/// AES-GCM nonce length.
pub const NONCE_BYTES: usize = 12;

/// Why a cryptographic operation failed. Deliberately uninformative about secrets.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext does not authenticate")]
    Unauthentic,
    #[error("data key {0} has reached its encryption limit; rotate the project data key")]
    KeyExhausted(String),
    #[error("the operating system's random generator failed: {0}")]
    Rng(String),
    #[error("payload of {0} bytes is too large to seal")]
    TooLarge(usize),
}

/// `N` bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| CryptoError::Rng(e.to_string()))?;
    Ok(b)
}

/// A 256-bit secret key, wiped from memory when dropped.
#[derive(Clone)]
pub struct Key32(Zeroizing<[u8; 32]>);

impl Key32 {
    pub fn random() -> Result<Key32, CryptoError> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(k.as_mut()).map_err(|e| CryptoError::Rng(e.to_string()))?;
        Ok(Key32(k))
    }

    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Key32 {
        Key32(bytes)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// A subkey for one purpose: HMAC-SHA-256(key, "tessera/" || label).
    pub fn derive(&self, label: &str) -> Key32 {
        Key32(Zeroizing::new(hmac_sha256(
            self.expose(),
            &[b"tessera/", label.as_bytes()],
        )))
    }
}

impl std::fmt::Debug for Key32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key32(<secret>)")
    }
}

/// HMAC-SHA-256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; rather than
    // unwrap, the unreachable branch returns a value no caller can confuse with an HMAC.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return sha256(&[b"tessera/unreachable-hmac-key-error", key]),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Constant-time equality for MACs and hashes.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A length-prefixed, domain-tagged byte encoding: the canonical form that event hashes,
/// membership signatures and associated data are computed over. Every field is prefixed
/// with its length, so no two field sequences encode to the same bytes.
pub struct Canon(Vec<u8>);

impl Canon {
    pub fn new(domain: &str) -> Canon {
        let c = Canon(Vec::with_capacity(256));
        c.str(domain).u64(u64::from(FORMAT_VERSION))
    }
    pub fn bytes(mut self, b: &[u8]) -> Canon {
        self.0.extend_from_slice(&(b.len() as u64).to_be_bytes());
        self.0.extend_from_slice(b);
        self
    }
    pub fn str(self, s: &str) -> Canon {
        self.bytes(s.as_bytes())
    }
    pub fn id(self, id: &Id) -> Canon {
        self.bytes(id.as_bytes())
    }
    pub fn u64(mut self, v: u64) -> Canon {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(mut self, v: i64) -> Canon {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
    pub fn sha256(self) -> [u8; 32] {
        sha256(&[&self.0])
    }
}

/// What a ciphertext is bound to. Moving a ciphertext to another project, table, column,
/// row, event, key, author or chunk position makes it fail to authenticate.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub project: &'a Id,
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a Id,
    pub event: &'a Id,
    pub key_id: &'a str,
    pub author: &'a Id,
}

impl Aad<'_> {
    fn encode(&self, chunk: u64, chunks: u64) -> Vec<u8> {
        Canon::new("tessera-aad")
            .id(self.project)
            .str(self.table)
            .str(self.column)
            .id(self.row)
            .id(self.event)
            .str(self.key_id)
            .id(self.author)
            .u64(chunk)
            .u64(chunks)
            .finish()
    }
}

/// One sealed chunk: its nonce and ciphertext with the 16-byte tag appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ct: Vec<u8>,
}

/// AES-256-GCM under one data key. Draws a fresh random nonce for every encryption (there
/// is no nonce argument) and counts encryptions so the key is rotated long before 2^32.
pub struct Sealer {
    cipher: Aes256Gcm,
    key_id: String,
    encryptions: AtomicU64,
    limit: u64,
}

impl Sealer {
    /// A sealer for `key`, which has already been used `encryptions_so_far` times.
    pub fn new(key: &Key32, key_id: &str, encryptions_so_far: u64) -> Sealer {
        Sealer::with_limit(key, key_id, encryptions_so_far, ROTATE_AFTER_ENCRYPTIONS)
    }

    /// As [`Sealer::new`] with an explicit limit (tests exercise rotation with small ones).
    pub fn with_limit(key: &Key32, key_id: &str, encryptions_so_far: u64, limit: u64) -> Sealer {
        let cipher = Aes256Gcm::new(key.expose().into());
        Sealer {
            cipher,
            key_id: key_id.to_owned(),
            encryptions: AtomicU64::new(encryptions_so_far),
            limit,
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Encryptions made under this key so far (persisted by the caller).
    pub fn encryptions(&self) -> u64 {
        self.encryptions.load(Ordering::Relaxed)
    }

    /// True once the key has been used for more than its limit: rotate it.
    pub fn needs_rotation(&self) -> bool {
        self.encryptions() >= self.limit
    }

    /// Seals `plaintext` as one chunk (index 0 of 1).
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        self.seal_chunk(aad, 0, 1, plaintext)
    }

    /// Opens one unchunked ciphertext.
    pub fn open(
        &self,
        aad: &Aad<'_>,
        nonce: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.open_chunk(aad, 0, 1, nonce, ct)
    }

    /// Seals `plaintext` in [`CHUNK_BYTES`] chunks; the chunk index and count are in the
    /// associated data, so chunks cannot be dropped, reordered or spliced.
    pub fn seal_chunked(
        &self,
        aad: &Aad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<Sealed>, CryptoError> {
        let n = plaintext.len().div_ceil(CHUNK_BYTES).max(1);
        if plaintext.is_empty() {
            return Ok(vec![self.seal_chunk(aad, 0, 1, plaintext)?]);
        }
        plaintext
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(|(i, c)| self.seal_chunk(aad, i as u64, n as u64, c))
            .collect()
    }

    /// Opens chunks sealed by [`Sealer::seal_chunked`], given in index order.
    pub fn open_chunked(
        &self,
        aad: &Aad<'_>,
        chunks: &[Sealed],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let n = chunks.len() as u64;
        let mut out = Zeroizing::new(Vec::with_capacity(chunks.iter().map(|c| c.ct.len()).sum()));
        for (i, c) in chunks.iter().enumerate() {
            out.extend_from_slice(&self.open_chunk(aad, i as u64, n, &c.nonce, &c.ct)?);
        }
        Ok(out)
    }

    fn seal_chunk(
        &self,
        aad: &Aad<'_>,
        i: u64,
        n: u64,
        plaintext: &[u8],
    ) -> Result<Sealed, CryptoError> {
        if plaintext.len() > (1 << 32) {
            return Err(CryptoError::TooLarge(plaintext.len()));
        }
        let used = self.encryptions.fetch_add(1, Ordering::Relaxed);
        if used >= self.limit.saturating_add(self.limit / 4) {
            // Hard stop well before 2^32: the soft limit asks for rotation first.
            return Err(CryptoError::KeyExhausted(self.key_id.clone()));
        }
        let nonce: [u8; NONCE_BYTES] = random_bytes()?;
        let aad_bytes = aad.encode(i, n);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad_bytes,
                },
            )
            .map_err(|_| CryptoError::TooLarge(plaintext.len()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ct,
        })
    }

    /// Opens chunk `i` of `n` (one chunk of [`Sealer::seal_chunked`]) without copying.
    pub fn open_chunk_of(
        &self,
        aad: &Aad<'_>,
        i: u64,
        n: u64,
        nonce: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.open_chunk(aad, i, n, nonce, ct)
    }

    fn open_chunk(
        &self,
        aad: &Aad<'_>,
        i: u64,
        n: u64,
        nonce: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if nonce.len() != NONCE_BYTES {
            return Err(CryptoError::Unauthentic);
        }
        let aad_bytes = aad.encode(i, n);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: &aad_bytes,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Unauthentic)
    }
}

/// The streaming AEAD of sync bundles (the STREAM construction of Hoang, Reyhanitabar,
/// Rogaway and Vizár, 2015): AES-256-GCM under a one-time random key, nonce = 8-byte
/// big-endian chunk counter, 3 zero bytes, and a last-chunk flag; associated data = the
/// SHA-256 of the bundle's header. A chunk moved, repeated or dropped fails to
/// authenticate at its new position, and a stream cut at a chunk boundary lacks the
/// chunk sealed as last. Counter nonces are safe because every bundle draws a fresh key;
/// it counts against no data key.
pub struct StreamCipher {
    cipher: Aes256Gcm,
    header_hash: [u8; 32],
}

impl StreamCipher {
    pub fn new(key: &Key32, header_hash: [u8; 32]) -> StreamCipher {
        StreamCipher {
            cipher: Aes256Gcm::new(key.expose().into()),
            header_hash,
        }
    }

    fn nonce(counter: u64, last: bool) -> [u8; NONCE_BYTES] {
        let mut n = [0u8; NONCE_BYTES];
        n[..8].copy_from_slice(&counter.to_be_bytes());
        n[11] = u8::from(last);
        n
    }

    /// Seals chunk number `counter`.
    pub fn seal(&self, counter: u64, last: bool, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.cipher
            .encrypt(
                Nonce::from_slice(&Self::nonce(counter, last)),
                Payload {
                    msg: plaintext,
                    aad: &self.header_hash,
                },
            )
            .map_err(|_| CryptoError::TooLarge(plaintext.len()))
    }

    /// Opens chunk number `counter`, which claims to be the last or not.
    pub fn open(
        &self,
        counter: u64,
        last: bool,
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.cipher
            .decrypt(
                Nonce::from_slice(&Self::nonce(counter, last)),
                Payload {
                    msg: ct,
                    aad: &self.header_hash,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Unauthentic)
    }
}

/// A blind index: HMAC under a key derived from the data key, so equal image UIDs can be
/// looked up without storing them. Leaks equality, nothing else.
pub fn blind_index(key: &Key32, kind: &str, value: &str) -> Vec<u8> {
    hmac_sha256(key.expose(), &[kind.as_bytes(), b"\0", value.as_bytes()])[..16].to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    fn aad<'a>(p: &'a Id, r: &'a Id) -> Aad<'a> {
        Aad {
            project: p,
            table: "t",
            column: "c",
            row: r,
            event: &Id::NIL,
            key_id: "k",
            author: &Id::NIL,
        }
    }

    #[test]
    fn seal_binds_aad_and_uses_fresh_nonces() {
        let key = Key32::random().unwrap();
        let s = Sealer::new(&key, "k", 0);
        let (p, r, r2) = (
            Id::random().unwrap(),
            Id::random().unwrap(),
            Id::random().unwrap(),
        );
        let a = s.seal(&aad(&p, &r), b"secret").unwrap();
        let b = s.seal(&aad(&p, &r), b"secret").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(
            &s.open(&aad(&p, &r), &a.nonce, &a.ct).unwrap()[..],
            b"secret"
        );
        assert!(s.open(&aad(&p, &r2), &a.nonce, &a.ct).is_err());
        assert!(s.open(&aad(&p, &r), &a.nonce[..11], &a.ct).is_err());
        assert_eq!(s.encryptions(), 2);
    }

    #[test]
    fn chunks_cannot_be_dropped_or_reordered() {
        let key = Key32::random().unwrap();
        let s = Sealer::new(&key, "k", 0);
        let (p, r) = (Id::random().unwrap(), Id::random().unwrap());
        let data: Vec<u8> = (0..(CHUNK_BYTES * 2 + 5)).map(|i| i as u8).collect();
        let mut chunks = s.seal_chunked(&aad(&p, &r), &data).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            &s.open_chunked(&aad(&p, &r), &chunks).unwrap()[..],
            &data[..]
        );
        chunks.swap(0, 1);
        assert!(s.open_chunked(&aad(&p, &r), &chunks).is_err());
        chunks.swap(0, 1);
        chunks.pop();
        assert!(s.open_chunked(&aad(&p, &r), &chunks).is_err());
    }

    #[test]
    fn counter_asks_for_rotation_then_stops() {
        let key = Key32::random().unwrap();
        let s = Sealer::with_limit(&key, "k", 0, 4);
        let (p, r) = (Id::random().unwrap(), Id::random().unwrap());
        for _ in 0..4 {
            s.seal(&aad(&p, &r), b"x").unwrap();
        }
        assert!(s.needs_rotation());
        s.seal(&aad(&p, &r), b"x").unwrap();
        assert!(matches!(
            s.seal(&aad(&p, &r), b"x"),
            Err(CryptoError::KeyExhausted(_))
        ));
    }
}
