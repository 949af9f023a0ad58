//! The sync bundle file format: header, streaming AEAD chunks, and the records inside.
//!
//! Owns the byte layout (ARCHITECTURE.md, "Sync bundles") and a parser that refuses
//! hostile input with one-line errors under fixed limits: no length read from a bundle
//! sizes an allocation beyond [`MAX_RECORD_BYTES`] or the header limit, every loop is
//! bounded by the input, and nothing panics. Knows nothing of SQLite or sessions: the
//! caller supplies the content key ([`BundleReader::open`]) and interprets records.
//!
//! ```text
//! "TSRBNDL1" | u32 header length | header | chunk* (the last one flagged)
//! header = u32 format | project id | bundle id | str data-key id | u32 n | n x key entry
//! key entry = user id (NIL: the data-key entry) | 32 ephemeral X25519 | 12 nonce | bytes ct
//! chunk  = u8 last (0|1) | u32 length | AES-256-GCM ciphertext (StreamCipher)
//! plaintext = record*, record = u8 kind | u32 length | body; the last record is End
//! ```

use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::crypto::{CHUNK_BYTES, CryptoError, Key32, StreamCipher, sha256};
use super::id::Id;

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"TSRBNDL1";
/// The bundle format this build reads and writes.
pub const FORMAT: u32 = 1;
/// The largest header accepted.
pub const MAX_HEADER_BYTES: u32 = 1 << 20;
/// The largest record (an event with its payload) accepted or written.
pub const MAX_RECORD_BYTES: usize = 32 << 20;
/// The most key entries (members) a header may carry.
pub const MAX_KEY_ENTRIES: u32 = 4096;
const TAG_BYTES: usize = 16;

/// What is wrong with a bundle. One line each; no content of the bundle is echoed.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a Tessera sync bundle")]
    NotABundle,
    #[error("bundle format {0} is not supported by this Tessera (it reads format {FORMAT})")]
    UnsupportedFormat(u32),
    #[error("bundle is malformed: {0}")]
    Malformed(&'static str),
    #[error("bundle is truncated")]
    Truncated,
    #[error("bundle does not authenticate (tampered, or chunks reordered or repeated)")]
    Unauthentic,
    #[error("bundle has data after its end")]
    TrailingData,
    #[error("bundle is from another project")]
    OtherProject,
    #[error("bundle was not encrypted for {0} (not a member of the exporter's copy)")]
    NotForYou(String),
    #[error("bundle refused: {0}")]
    Refused(String),
    #[error("cannot read or write the bundle: {0}")]
    Io(#[from] std::io::Error),
}

impl From<CryptoError> for BundleError {
    fn from(_: CryptoError) -> BundleError {
        BundleError::Unauthentic
    }
}

/// One sealed copy of the content key: for the data-key holders (`user` = NIL), or for
/// one member (ephemeral-static X25519, as a data-key grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub user: Id,
    pub eph_pk: [u8; 32],
    pub nonce: [u8; 12],
    pub ct: Vec<u8>,
}

/// The clear header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub project_id: Id,
    pub bundle_id: Id,
    pub data_key_id: String,
    pub entries: Vec<KeyEntry>,
}

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Wire::default();
        w.u32(FORMAT)
            .id(&self.project_id)
            .id(&self.bundle_id)
            .str(&self.data_key_id)
            .u32(self.entries.len() as u32);
        for e in &self.entries {
            w.id(&e.user).raw(&e.eph_pk).raw(&e.nonce).bytes(&e.ct);
        }
        w.0
    }

    fn decode(b: &[u8]) -> Result<Header, BundleError> {
        let mut r = Cursor::new(b);
        let format = r.u32()?;
        if format != FORMAT {
            return Err(BundleError::UnsupportedFormat(format));
        }
        let project_id = r.id()?;
        let bundle_id = r.id()?;
        let data_key_id = r.str()?;
        let n = r.u32()?;
        if n > MAX_KEY_ENTRIES {
            return Err(BundleError::Malformed("too many key entries"));
        }
        let mut entries = Vec::with_capacity(n as usize);
        for _ in 0..n {
            entries.push(KeyEntry {
                user: r.id()?,
                eph_pk: r.array()?,
                nonce: r.array()?,
                ct: r.bytes()?.to_vec(),
            });
        }
        r.end()?;
        Ok(Header {
            project_id,
            bundle_id,
            data_key_id,
            entries,
        })
    }
}

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manifest = 1,
    Member = 2,
    Tip = 3,
    Event = 4,
    End = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Manifest,
            2 => Kind::Member,
            3 => Kind::Tip,
            4 => Kind::Event,
            5 => Kind::End,
            _ => return None,
        })
    }
}

/// A length-prefixed big-endian encoder for record bodies and the header.
#[derive(Default)]
pub struct Wire(pub Vec<u8>);

impl Wire {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn id(&mut self, id: &Id) -> &mut Self {
        self.raw(id.as_bytes())
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32).raw(b)
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
}

/// A bounds-checked decoder over one record body: every read fails cleanly past the end.
pub struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(b: &'a [u8]) -> Cursor<'a> {
        Cursor { b }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        if n > self.b.len() {
            return Err(BundleError::Malformed("a field runs past its record"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], BundleError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, BundleError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u32(&mut self) -> Result<u32, BundleError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, BundleError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn id(&mut self) -> Result<Id, BundleError> {
        Ok(Id(self.array()?))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], BundleError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<String, BundleError> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| BundleError::Malformed("a text field is not UTF-8"))
    }
    /// Fails unless the whole body was read.
    pub fn end(&self) -> Result<(), BundleError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(BundleError::Malformed("a record has trailing bytes"))
        }
    }
}

/// Writes a bundle: the header in clear, then records sealed in chunks.
pub struct BundleWriter<W: Write> {
    dst: W,
    stream: StreamCipher,
    counter: u64,
    buf: Zeroizing<Vec<u8>>,
    digest: Sha256,
    header_hash: [u8; 32],
}

impl<W: Write> BundleWriter<W> {
    pub fn new(mut dst: W, header: &Header, key: &Key32) -> Result<BundleWriter<W>, BundleError> {
        let h = header.encode();
        dst.write_all(MAGIC)?;
        dst.write_all(&(h.len() as u32).to_be_bytes())?;
        dst.write_all(&h)?;
        let header_hash = sha256(&[MAGIC, &h]);
        Ok(BundleWriter {
            dst,
            stream: StreamCipher::new(key, header_hash),
            counter: 0,
            buf: Zeroizing::new(Vec::with_capacity(2 * CHUNK_BYTES)),
            digest: Sha256::new(),
            header_hash,
        })
    }

    pub fn header_hash(&self) -> [u8; 32] {
        self.header_hash
    }

    /// Appends one record (not End: [`BundleWriter::finish`] writes it).
    pub fn record(&mut self, kind: Kind, body: &[u8]) -> Result<(), BundleError> {
        if body.len() > MAX_RECORD_BYTES {
            return Err(BundleError::Refused(format!(
                "a record of {} bytes exceeds the bundle limit of {MAX_RECORD_BYTES}",
                body.len()
            )));
        }
        let head = [&[kind as u8][..], &(body.len() as u32).to_be_bytes()[..]].concat();
        self.digest.update(&head);
        self.digest.update(body);
        self.buf.extend_from_slice(&head);
        self.buf.extend_from_slice(body);
        while self.buf.len() > CHUNK_BYTES {
            self.flush_chunk(false)?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self, last: bool) -> Result<(), BundleError> {
        let n = self.buf.len().min(CHUNK_BYTES);
        let ct = self.stream.seal(self.counter, last, &self.buf[..n])?;
        self.counter += 1;
        self.dst.write_all(&[u8::from(last)])?;
        self.dst.write_all(&(ct.len() as u32).to_be_bytes())?;
        self.dst.write_all(&ct)?;
        self.buf.drain(..n);
        Ok(())
    }

    /// The digest the End record's signature covers (all records so far).
    pub fn content_digest(&self) -> [u8; 32] {
        self.digest.clone().finalize().into()
    }

    /// Writes the End record carrying `signature` and the last chunk; returns the sink.
    pub fn finish(mut self, signature: &[u8; 64]) -> Result<W, BundleError> {
        let head = [&[Kind::End as u8][..], &64u32.to_be_bytes()[..]].concat();
        self.buf.extend_from_slice(&head);
        self.buf.extend_from_slice(signature);
        while self.buf.len() > CHUNK_BYTES {
            self.flush_chunk(false)?;
        }
        self.flush_chunk(true)?;
        self.dst.flush()?;
        Ok(self.dst)
    }
}

/// Fuzzing support: a bundle with `header` whose plaintext stream is `plaintext` verbatim
/// (arbitrary record framing), sealed under `key` in chunks of the plaintext sizes in
/// `chunk_bytes` (in turn, each at most [`CHUNK_BYTES`]; then full chunks), so a
/// fuzzer reaches the record parsers behind the authentication and the reader's
/// reassembly of records across chunks of any size.
#[doc(hidden)]
pub fn seal_raw_for_fuzzing(
    header: &Header,
    plaintext: &[u8],
    key: &Key32,
    chunk_bytes: &[usize],
) -> Result<Vec<u8>, BundleError> {
    let mut w = BundleWriter::new(Vec::new(), header, key)?;
    let mut rest = plaintext;
    let mut sizes = chunk_bytes
        .iter()
        .map(|n| (*n).min(CHUNK_BYTES))
        .chain(std::iter::repeat(CHUNK_BYTES));
    loop {
        let n = sizes.next().unwrap_or(CHUNK_BYTES).min(rest.len());
        let last = n == rest.len();
        let ct = w.stream.seal(w.counter, last, &rest[..n])?;
        w.counter += 1;
        w.dst.push(u8::from(last));
        w.dst.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        w.dst.extend_from_slice(&ct);
        rest = &rest[n..];
        if last {
            return Ok(w.dst);
        }
    }
}

/// One record read from a bundle.
pub struct Record {
    pub kind: Kind,
    pub body: Zeroizing<Vec<u8>>,
}

/// Reads a bundle record by record, holding at most one record and one chunk.
pub struct BundleReader<R: Read> {
    src: R,
    header: Header,
    header_hash: [u8; 32],
    stream: StreamCipher,
    counter: u64,
    buf: Zeroizing<Vec<u8>>,
    /// The last chunk has been opened.
    last_seen: bool,
    /// The End record has been returned.
    ended: bool,
    digest: Sha256,
    /// The digest of every record before End, once End was read.
    final_digest: Option<[u8; 32]>,
}

impl<R: Read> BundleReader<R> {
    /// Reads the header; `unlock` checks it and returns the content key.
    pub fn open(
        mut src: R,
        unlock: impl FnOnce(&Header) -> Result<Key32, BundleError>,
    ) -> Result<BundleReader<R>, BundleError> {
        let mut magic = [0u8; 8];
        read_exact_or(&mut src, &mut magic, BundleError::NotABundle)?;
        if &magic != MAGIC {
            return Err(BundleError::NotABundle);
        }
        let mut len = [0u8; 4];
        read_exact_or(&mut src, &mut len, BundleError::Truncated)?;
        let len = u32::from_be_bytes(len);
        if len > MAX_HEADER_BYTES {
            return Err(BundleError::Malformed("header too large"));
        }
        let mut h = vec![0u8; len as usize];
        read_exact_or(&mut src, &mut h, BundleError::Truncated)?;
        let header = Header::decode(&h)?;
        let header_hash = sha256(&[MAGIC, &h]);
        let key = unlock(&header)?;
        Ok(BundleReader {
            src,
            header,
            header_hash,
            stream: StreamCipher::new(&key, header_hash),
            counter: 0,
            buf: Zeroizing::new(Vec::new()),
            last_seen: false,
            ended: false,
            digest: Sha256::new(),
            final_digest: None,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn header_hash(&self) -> [u8; 32] {
        self.header_hash
    }

    /// The digest of all records before End (available once End was read).
    pub fn content_digest(&self) -> Option<[u8; 32]> {
        self.final_digest
    }

    /// Opens the next chunk into the buffer; false when the stream has ended.
    fn fill(&mut self) -> Result<bool, BundleError> {
        if self.last_seen {
            return Ok(false);
        }
        let mut flag = [0u8; 1];
        read_exact_or(&mut self.src, &mut flag, BundleError::Truncated)?;
        let mut len = [0u8; 4];
        read_exact_or(&mut self.src, &mut len, BundleError::Truncated)?;
        let len = u32::from_be_bytes(len) as usize;
        if flag[0] > 1 || !(TAG_BYTES..=CHUNK_BYTES + TAG_BYTES).contains(&len) {
            return Err(BundleError::Malformed("bad chunk framing"));
        }
        let mut ct = vec![0u8; len];
        read_exact_or(&mut self.src, &mut ct, BundleError::Truncated)?;
        let last = flag[0] == 1;
        let plain = self.stream.open(self.counter, last, &ct)?;
        self.counter += 1;
        self.buf.extend_from_slice(&plain);
        if last {
            self.last_seen = true;
            let mut probe = [0u8; 1];
            if read_some(&mut self.src, &mut probe)? != 0 {
                return Err(BundleError::TrailingData);
            }
        }
        Ok(true)
    }

    /// Ensures `n` plaintext bytes are buffered.
    fn want(&mut self, n: usize) -> Result<(), BundleError> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(BundleError::Truncated);
            }
        }
        Ok(())
    }

    /// The next record; `None` after End. Fails on anything after End.
    pub fn next_record(&mut self) -> Result<Option<Record>, BundleError> {
        if self.ended {
            return Ok(None);
        }
        self.want(5)?;
        let kind =
            Kind::from_u8(self.buf[0]).ok_or(BundleError::Malformed("unknown record kind"))?;
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_RECORD_BYTES {
            return Err(BundleError::Malformed("record too large"));
        }
        self.want(5 + len)?;
        let body = Zeroizing::new(self.buf[5..5 + len].to_vec());
        if kind == Kind::End {
            self.final_digest = Some(self.digest.clone().finalize().into());
            self.buf.drain(..5 + len);
            if !self.buf.is_empty() || self.fill()? {
                return Err(BundleError::TrailingData);
            }
            self.ended = true;
        } else {
            self.digest.update(&self.buf[..5 + len]);
            self.buf.drain(..5 + len);
        }
        Ok(Some(Record { kind, body }))
    }
}

fn read_exact_or(
    src: &mut impl Read,
    buf: &mut [u8],
    short: BundleError,
) -> Result<(), BundleError> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => return Err(short),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn read_some(src: &mut impl Read, buf: &mut [u8]) -> Result<usize, BundleError> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    fn sample(records: usize, body: usize) -> (Vec<u8>, Key32) {
        let key = Key32::random().unwrap();
        let header = Header {
            project_id: Id([1; 16]),
            bundle_id: Id([2; 16]),
            data_key_id: "k".into(),
            entries: vec![],
        };
        let mut w = BundleWriter::new(Vec::new(), &header, &key).unwrap();
        for i in 0..records {
            w.record(Kind::Event, &vec![i as u8; body]).unwrap();
        }
        (w.finish(&[9; 64]).unwrap(), key)
    }

    fn read_all(bytes: &[u8], key: &Key32) -> Result<usize, BundleError> {
        let mut r = BundleReader::open(bytes, |_| Ok(key.clone()))?;
        let mut n = 0;
        while let Some(rec) = r.next_record()? {
            if rec.kind == Kind::End {
                assert!(r.content_digest().is_some());
            }
            n += 1;
        }
        Ok(n)
    }

    /// Offsets where chunks start, from the framing.
    fn chunk_starts(bytes: &[u8]) -> Vec<usize> {
        let h = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let mut at = 12 + h;
        let mut out = Vec::new();
        while at < bytes.len() {
            out.push(at);
            let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
            at += 5 + len;
        }
        out
    }

    #[test]
    fn round_trips_and_refuses_cuts_swaps_and_repeats() {
        let (b, key) = sample(40, 5000);
        assert_eq!(read_all(&b, &key).unwrap(), 41);
        let starts = chunk_starts(&b);
        assert!(starts.len() >= 3);
        for &s in &starts[1..] {
            assert!(matches!(
                read_all(&b[..s], &key),
                Err(BundleError::Truncated)
            ));
        }
        for cut in [0, 5, 11, 13, b.len() - 1] {
            assert!(read_all(&b[..cut], &key).is_err());
        }
        // Swap chunks 0 and 1 (equal sizes).
        let (s0, s1, s2) = (starts[0], starts[1], starts[2]);
        let mut swapped = b[..s0].to_vec();
        swapped.extend_from_slice(&b[s1..s2]);
        swapped.extend_from_slice(&b[s0..s1]);
        swapped.extend_from_slice(&b[s2..]);
        assert!(matches!(
            read_all(&swapped, &key),
            Err(BundleError::Unauthentic)
        ));
        let mut repeated = b[..s1].to_vec();
        repeated.extend_from_slice(&b[s0..]);
        assert!(read_all(&repeated, &key).is_err());
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(matches!(
            read_all(&trailing, &key),
            Err(BundleError::TrailingData)
        ));
        assert!(matches!(
            read_all(&b, &Key32::random().unwrap()),
            Err(BundleError::Unauthentic)
        ));
    }

    #[test]
    fn random_bytes_and_huge_fields_are_refused_without_panicking() {
        let (b, key) = sample(3, 100);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut m = b.clone();
            let at = (seed as usize) % m.len();
            m[at] ^= (seed >> 32) as u8 | 1;
            assert!(read_all(&m, &key).is_err());
        }
        let mut huge = b.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            read_all(&huge, &key),
            Err(BundleError::Malformed(_))
        ));
        let mut many = Vec::new();
        many.extend_from_slice(MAGIC);
        let h = [
            &FORMAT.to_be_bytes()[..],
            &[0; 32],
            &0u32.to_be_bytes(),
            &u32::MAX.to_be_bytes(),
        ]
        .concat();
        many.extend_from_slice(&(h.len() as u32).to_be_bytes());
        many.extend_from_slice(&h);
        assert!(matches!(
            read_all(&many, &key),
            Err(BundleError::Malformed(_))
        ));
    }
}
