//! Random 128-bit identifiers (UUID v4 layout) for rows, events, users and projects.
//!
//! Owns only the identifier type and its text/SQLite/serde forms. Ids are drawn from the
//! operating system's generator, never from a counter, so two copies of a project that
//! are edited apart never collide (the sync issue merges them as a union of events).

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::crypto::{CryptoError, random_bytes};

/// A random 128-bit identifier, shown as a hyphenated UUID.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Id(pub [u8; 16]);

impl Id {
    /// The all-zero id, used where a field has no value (e.g. "no event" in associated data).
    pub const NIL: Id = Id([0; 16]);

    /// A fresh random id with the UUID version-4 and variant bits set.
    pub fn random() -> Result<Id, CryptoError> {
        let mut b: [u8; 16] = random_bytes()?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Ok(Id(b))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Reads an id from a 16-byte slice.
    pub fn from_slice(b: &[u8]) -> Option<Id> {
        <[u8; 16]>::try_from(b).ok().map(Id)
    }

    /// The first eight hex digits, enough to tell rows apart in a listing.
    pub fn short(&self) -> String {
        hex(&self.0[..4])
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hyphenated()).unwrap_or_default())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

/// Why a string is not an id.
#[derive(Debug, thiserror::Error)]
#[error("not a UUID (32 hex digits, hyphens optional)")]
pub struct ParseIdError;

impl FromStr for Id {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Id, ParseIdError> {
        Id::parse_hex(s).ok_or(ParseIdError)
    }
}

impl Id {
    /// The hyphenated form without allocating (serialisation is on hot paths).
    fn hyphenated(&self) -> [u8; 36] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut at = 0;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            out[at] = DIGITS[(b >> 4) as usize];
            out[at + 1] = DIGITS[(b & 15) as usize];
            at += 2;
        }
        out
    }

    /// Parses 32 hex digits with optional hyphens, without allocating.
    fn parse_hex(s: &str) -> Option<Id> {
        let mut out = [0u8; 16];
        let mut n = 0usize;
        for c in s.bytes().filter(|c| *c != b'-') {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return None,
            };
            let byte = out.get_mut(n / 2)?;
            *byte = (*byte << 4) | v;
            n += 1;
        }
        (n == 32).then_some(Id(out))
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.hyphenated();
        // Hex digits and hyphens are ASCII.
        s.serialize_str(std::str::from_utf8(&h).unwrap_or_default())
    }
}

struct IdVisitor;

impl serde::de::Visitor<'_> for IdVisitor {
    type Value = Id;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a UUID string")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id, E> {
        Id::parse_hex(v).ok_or_else(|| E::custom(ParseIdError))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        d.deserialize_str(IdVisitor)
    }
}

impl ToSql for Id {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Blob(&self.0)))
    }
}

impl FromSql for Id {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Id> {
        let b = value.as_blob()?;
        Id::from_slice(b).ok_or(FromSqlError::InvalidBlobSize {
            expected_size: 16,
            blob_size: b.len(),
        })
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Bytes from hex (either case); `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_text() {
        let id = Id::random().unwrap();
        let s = id.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(s.as_bytes()[14], b'4');
        assert_eq!(s.parse::<Id>().unwrap(), id);
        assert!("xyz".parse::<Id>().is_err());
        assert_eq!(id.to_string().replace('-', "").parse::<Id>().unwrap(), id);
        assert!(format!("{id}0").parse::<Id>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
        assert_eq!(unhex("0aFf"), Some(vec![10, 255]));
        assert_eq!(unhex("0"), None);
    }
}
