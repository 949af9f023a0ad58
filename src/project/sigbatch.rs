//! Batched Ed25519 verification for the history and for sync bundles.
//!
//! Owns [`verify_batch`] and [`verify_each`]. The batch check is the one
//! `ed25519_dalek::verify_batch` makes (the same transcript-derived 128-bit coefficients
//! zᵢ, the same cofactorless equation Σzᵢ(sᵢB − Rᵢ − hᵢAᵢ) = 0), with one change in how
//! it is computed: the terms of signatures under the same key are summed first,
//! Σzᵢhᵢ·Aᵢ = Σ_A (Σ_{i: Aᵢ=A} zᵢhᵢ)·A. The multiscalar multiplication takes n + 1 + k
//! points for k distinct keys instead of 2n + 1 (an author's events all carry one key),
//! and the group element it tests is the one ed25519-dalek tests (a unit test compares
//! their decisions).
//!
//! A batch also refuses what `verify_strict` refuses by its form (s not reduced, R not
//! canonically encoded, R or the key of small order). What a batch accepts and
//! `verify_strict` refuses is then what ed25519-dalek's batch accepts beyond it too: with
//! a probability of at most 1/8, a signature whose R its own signer gave a small-order
//! component (which needs the signing key, so it forges nothing), and otherwise with a
//! probability of 2⁻¹²⁸. When a batch fails, [`verify_each`] checks its items one by one
//! with `verify_strict` so the caller can name the bad one. Pure: no SQLite, no I/O.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use merlin::Transcript;
use sha2::{Digest, Sha512};

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub message: &'a [u8],
    pub signature: &'a Signature,
    pub key: &'a VerifyingKey,
}

/// True when every signature verifies (see the module doc for the exact rule).
#[allow(non_snake_case)] // R, A and B name curve points, as in RFC 8032
pub fn verify_batch(items: &[Item<'_>]) -> bool {
    if items.is_empty() {
        return true;
    }
    // hᵢ = SHA-512(R || A || M), and the coefficients zᵢ from a transcript of every hᵢ
    // and sᵢ, exactly as ed25519-dalek derives them.
    let hrams: Vec<[u8; 64]> = items
        .iter()
        .map(|it| {
            let mut h = Sha512::new();
            h.update(it.signature.r_bytes());
            h.update(it.key.as_bytes());
            h.update(it.message);
            h.finalize().into()
        })
        .collect();
    let mut transcript = Transcript::new(b"ed25519 batch verification");
    for h in &hrams {
        transcript.append_message(b"hram", h);
    }
    for it in items {
        transcript.append_message(b"sig.s", it.signature.s_bytes());
    }
    let mut rng = transcript.build_rng().finalize(&mut ZeroRng);

    let mut b_coefficient = Scalar::ZERO;
    let mut scalars: Vec<Scalar> = Vec::with_capacity(items.len() + 2);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(items.len() + 2);
    scalars.push(Scalar::ZERO); // −Σzᵢsᵢ, filled in below
    points.push(ED25519_BASEPOINT_POINT);
    // Per distinct key: its position in `keys` and the sum of zᵢhᵢ.
    let mut key_index: HashMap<[u8; 32], usize> = HashMap::new();
    let mut keys: Vec<(EdwardsPoint, Scalar)> = Vec::new();
    for (it, hram) in items.iter().zip(&hrams) {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*it.signature.s_bytes()))
        else {
            return false;
        };
        let r_bytes = *it.signature.r_bytes();
        if !is_canonical_y(&r_bytes) {
            return false;
        }
        let Some(R) = CompressedEdwardsY(r_bytes).decompress() else {
            return false;
        };
        if R.is_small_order() {
            return false;
        }
        let mut z = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rng, &mut z);
        let z = Scalar::from(u128::from_le_bytes(z));
        b_coefficient += z * s;
        scalars.push(z);
        points.push(R);
        let zh = z * Scalar::from_bytes_mod_order_wide(hram);
        let k = *key_index.entry(*it.key.as_bytes()).or_insert_with(|| {
            keys.push((it.key.to_edwards(), Scalar::ZERO));
            keys.len() - 1
        });
        keys[k].1 += zh;
    }
    scalars[0] = -b_coefficient;
    for (A, coefficient) in keys {
        if A.is_small_order() {
            return false;
        }
        scalars.push(coefficient);
        points.push(A);
    }
    // Σzᵢhᵢ·A enters with a plus sign and −Σzᵢsᵢ·B with a minus sign, as in ed25519-dalek:
    // −(Σzᵢsᵢ)B + ΣzᵢRᵢ + Σzᵢhᵢ·A = −Σzᵢ(sᵢB − Rᵢ − hᵢA).
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

/// Per item, whether its signature verifies: the whole batch at once, and one by one
/// (`verify_strict`) only when the batch fails.
pub fn verify_each(items: &[Item<'_>]) -> Vec<bool> {
    if verify_batch(items) {
        return vec![true; items.len()];
    }
    items
        .iter()
        .map(|it| it.key.verify_strict(it.message, it.signature).is_ok())
        .collect()
}

/// False when the 255-bit y coordinate of a compressed point is not below p = 2²⁵⁵ − 19
/// (a non-canonical encoding, which `verify_strict` never accepts for R).
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

/// ed25519-dalek's batch transcript takes its coefficients from the transcript alone
/// (no outside randomness); this supplies the same nothing.
struct ZeroRng;

impl rand_core::RngCore for ZeroRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, _dest: &mut [u8]) {}

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for ZeroRng {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    struct Owned {
        msgs: Vec<Vec<u8>>,
        sigs: Vec<Signature>,
        keys: Vec<VerifyingKey>,
    }

    impl Owned {
        /// `n` messages signed by keys cycling through `authors` (consecutive runs, as
        /// an author's events come in the history).
        fn new(n: usize, authors: u8) -> Owned {
            let signers: Vec<SigningKey> = (1..=authors).map(key).collect();
            let mut o = Owned {
                msgs: Vec::new(),
                sigs: Vec::new(),
                keys: Vec::new(),
            };
            for i in 0..n {
                let k = &signers[i * authors as usize / n.max(1)];
                let msg = format!("event {i}").into_bytes();
                o.sigs.push(k.sign(&msg));
                o.msgs.push(msg);
                o.keys.push(k.verifying_key());
            }
            o
        }

        fn items(&self) -> Vec<Item<'_>> {
            (0..self.msgs.len())
                .map(|i| Item {
                    message: &self.msgs[i],
                    signature: &self.sigs[i],
                    key: &self.keys[i],
                })
                .collect()
        }

        fn dalek(&self) -> bool {
            let msgs: Vec<&[u8]> = self.msgs.iter().map(Vec::as_slice).collect();
            ed25519_dalek::verify_batch(&msgs, &self.sigs, &self.keys).is_ok()
        }
    }

    #[test]
    fn valid_batches_pass_with_one_or_many_keys() {
        for authors in [1, 2, 5] {
            let o = Owned::new(40, authors);
            assert!(verify_batch(&o.items()));
            assert!(o.dalek());
            assert!(verify_each(&o.items()).iter().all(|ok| *ok));
        }
        assert!(verify_batch(&[]));
    }

    #[test]
    fn agrees_with_ed25519_dalek_and_names_the_bad_item() {
        // Every way of breaking one item: message, R, s, key (another member's key).
        for (i, what) in (0..4).flat_map(|w| [(0, w), (17, w), (39, w)]) {
            let mut o = Owned::new(40, 3);
            match what {
                0 => o.msgs[i].push(b'!'),
                1 => {
                    let mut b = o.sigs[i].to_bytes();
                    b[3] ^= 1;
                    o.sigs[i] = Signature::from_bytes(&b);
                }
                2 => {
                    let mut b = o.sigs[i].to_bytes();
                    b[40] ^= 1;
                    o.sigs[i] = Signature::from_bytes(&b);
                }
                _ => o.keys[i] = key(9).verifying_key(),
            }
            assert!(!o.dalek(), "case {what} at {i}");
            assert!(!verify_batch(&o.items()), "case {what} at {i}");
            let each = verify_each(&o.items());
            let bad: Vec<usize> = (0..40).filter(|&j| !each[j]).collect();
            assert_eq!(bad, vec![i], "case {what}");
        }
    }

    #[test]
    fn signatures_swapped_between_messages_fail() {
        let mut o = Owned::new(10, 1);
        o.sigs.swap(2, 3);
        assert!(!o.dalek());
        assert!(!verify_batch(&o.items()));
        let each = verify_each(&o.items());
        assert_eq!(
            (0..10).filter(|&j| !each[j]).collect::<Vec<_>>(),
            vec![2, 3]
        );
    }

    #[test]
    fn forms_verify_strict_refuses_fail_the_batch() {
        let o = Owned::new(4, 1);
        // s + ℓ: the same point equation, but s is not reduced.
        let mut b = o.sigs[1].to_bytes();
        let s = Scalar::from_canonical_bytes(b[32..].try_into().unwrap()).unwrap();
        let ell_plus_s = add_ell(&s.to_bytes());
        b[32..].copy_from_slice(&ell_plus_s);
        let mut bad = Owned::new(4, 1);
        bad.sigs[1] = Signature::from_bytes(&b);
        assert!(!verify_batch(&bad.items()));
        // A non-canonical R encoding (y ≥ p) and a small-order R.
        assert!(!is_canonical_y(&[0xff; 32]));
        assert!(!is_canonical_y(&{
            let mut y = [0xff; 32];
            y[0] = 0xed;
            y[31] = 0x7f;
            y
        }));
        assert!(is_canonical_y(&{
            let mut y = [0xff; 32];
            y[0] = 0xec;
            y[31] = 0x7f;
            y
        }));
        let mut b = o.sigs[2].to_bytes();
        let mut identity = [0u8; 32];
        identity[0] = 1; // y = 1, x = 0
        b[..32].copy_from_slice(&identity);
        let mut bad = Owned::new(4, 1);
        bad.sigs[2] = Signature::from_bytes(&b);
        assert!(!verify_batch(&bad.items()));
    }

    /// s + ℓ as 32 little-endian bytes (s < ℓ, so no overflow past 2²⁵⁶).
    fn add_ell(s: &[u8; 32]) -> [u8; 32] {
        const ELL: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s[i]) + u16::from(ELL[i]) + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        out
    }
}
