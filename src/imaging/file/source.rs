//! The raw source under the parser: the file read with its head in memory
//! ([`HeadFile`]), the file meta group, read leniently (no group length needed,
//! implicit VR tolerated, transfer syntax optional), and the data set bytes handed to
//! the parser minus ranges it cannot read.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};

use dicom_core::{Tag, VR};
use dicom_object::meta::{FileMetaTable, FileMetaTableBuilder};

use super::OpenError;

/// Largest meta group value read (UIDs and titles are tiny; private info is small).
const MAX_META_VALUE: u32 = 64 * 1024;

/// What the meta group (if any) said, and where the data set starts.
#[derive(Default)]
pub(super) struct MetaInfo {
    pub has_meta: bool,
    pub dataset_start: u64,
    pub transfer_syntax: Option<String>,
    sop_class: Option<String>,
    sop_instance: Option<String>,
    implementation_class: Option<String>,
    implementation_version: Option<String>,
    information_version: Option<[u8; 2]>,
}

impl MetaInfo {
    pub fn table(&self, ts_uid: &str) -> Result<FileMetaTable, OpenError> {
        let mut builder = FileMetaTableBuilder::new()
            .transfer_syntax(ts_uid)
            .media_storage_sop_class_uid(self.sop_class.as_deref().unwrap_or_default())
            .media_storage_sop_instance_uid(self.sop_instance.as_deref().unwrap_or_default());
        if let Some(v) = self.information_version {
            builder = builder.information_version(v);
        }
        if let Some(uid) = &self.implementation_class {
            builder = builder.implementation_class_uid(uid.as_str());
        }
        if let Some(name) = &self.implementation_version {
            builder = builder.implementation_version_name(name.as_str());
        }
        builder.build().map_err(|e| OpenError::Corrupt {
            reason: format!("cannot build a meta group: {e}"),
        })
    }
}

/// Finds the preamble/magic and parses group 0002 leniently (no group length
/// needed; implicit VR tolerated). Leaves the reader anywhere.
pub(super) fn read_meta<R: Read + Seek>(
    reader: &mut BufReader<R>,
    file_len: u64,
) -> Result<MetaInfo, OpenError> {
    let mut head = [0u8; 132];
    let got = read_up_to(reader, &mut head)?;
    let magic_at = if got >= 132 && &head[128..132] == b"DICM" {
        Some(132)
    } else if got >= 4 && &head[0..4] == b"DICM" {
        Some(4)
    } else {
        None
    };
    let Some(mut pos) = magic_at else {
        if got < 8 {
            return Err(OpenError::NotDicom {
                reason: format!("only {got} bytes"),
            });
        }
        return Ok(MetaInfo::default());
    };
    reader.seek(SeekFrom::Start(pos))?;
    let mut info = MetaInfo {
        has_meta: true,
        ..MetaInfo::default()
    };
    loop {
        let mut h = [0u8; 8];
        if read_up_to(reader, &mut h)? < 8 {
            break;
        }
        let tag = Tag(
            u16::from_le_bytes([h[0], h[1]]),
            u16::from_le_bytes([h[2], h[3]]),
        );
        if tag.0 != 0x0002 {
            break;
        }
        let vr = VR::from_binary([h[4], h[5]]);
        let (len, header_len) = match vr {
            Some(vr) if super::scan::short_length(vr) => {
                (u32::from(u16::from_le_bytes([h[6], h[7]])), 8)
            }
            Some(_) => {
                let mut l = [0u8; 4];
                if read_up_to(reader, &mut l)? < 4 {
                    break;
                }
                (u32::from_le_bytes(l), 12)
            }
            // Implicit VR in the meta group: a 4-byte length follows the tag.
            None => (u32::from_le_bytes([h[4], h[5], h[6], h[7]]), 8),
        };
        if len > MAX_META_VALUE || pos + header_len + u64::from(len) > file_len {
            return Err(OpenError::Corrupt {
                reason: format!(
                    "meta element (0002,{:04X}) declares {len} bytes, beyond the file",
                    tag.1
                ),
            });
        }
        let mut value = vec![0u8; len as usize];
        reader.read_exact(&mut value)?;
        pos += header_len + u64::from(len);
        let text = || {
            let s = String::from_utf8_lossy(&value);
            let s = s.trim_end_matches(|c: char| c == '\0' || c.is_whitespace());
            let s = s.trim_start();
            (!s.is_empty()).then(|| s.to_string())
        };
        match tag.1 {
            0x0001 if value.len() == 2 => info.information_version = Some([value[0], value[1]]),
            0x0002 => info.sop_class = text(),
            0x0003 => info.sop_instance = text(),
            0x0010 => info.transfer_syntax = text(),
            0x0012 => info.implementation_class = text(),
            0x0013 => info.implementation_version = text(),
            _ => {}
        }
    }
    info.dataset_start = pos;
    Ok(info)
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, std::io::Error> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The data set bytes minus some ranges (elements the parser cannot read).
pub(super) struct Splice<R> {
    inner: BufReader<R>,
    keep: Vec<(u64, u64)>,
    index: usize,
    pos: u64,
}

impl<R: Read + Seek> Splice<R> {
    /// `inner` must be positioned at `start`.
    pub fn new(inner: BufReader<R>, start: u64, end: u64, skip: &[(u64, u64)]) -> Self {
        let mut keep = Vec::with_capacity(skip.len() + 1);
        let mut from = start;
        for &(a, b) in skip {
            if a > from {
                keep.push((from, a));
            }
            from = from.max(b);
        }
        keep.push((from, end));
        Splice {
            inner,
            keep,
            index: 0,
            pos: start,
        }
    }
}

impl<R: Read + Seek> Read for Splice<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(&(start, end)) = self.keep.get(self.index) else {
                return Ok(0);
            };
            if self.pos >= end {
                self.index += 1;
                continue;
            }
            if self.pos < start {
                self.inner.seek_relative((start - self.pos) as i64)?;
                self.pos = start;
            }
            let want = usize::try_from(end - self.pos)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let Some(dst) = buf.get_mut(..want) else {
                return Ok(0);
            };
            let n = self.inner.read(dst)?;
            self.pos += n as u64;
            return Ok(n);
        }
    }
}

/// Bytes of a file read up front by [`HeadFile`]: the meta group and the header of a
/// typical image lie well inside.
const HEAD_BYTES: usize = 16 * 1024;

/// A file whose first [`HEAD_BYTES`] are read with one call when it is opened.
/// Opening a file seeks back and forth in its first kilobytes (preamble, meta group,
/// the pre-scan, the parse): inside the head those seeks and re-reads cost no system
/// call. Beyond it, reads go to the file.
pub(super) struct HeadFile {
    file: File,
    head: Vec<u8>,
    len: u64,
    pos: u64,
    /// The file's own offset, when known.
    file_pos: Option<u64>,
}

impl HeadFile {
    pub fn new(mut file: File, len: u64) -> std::io::Result<Self> {
        let want = len.min(HEAD_BYTES as u64);
        let mut head = Vec::with_capacity(want as usize);
        let got = (&mut file).take(want).read_to_end(&mut head)?;
        Ok(HeadFile {
            file,
            head,
            len,
            pos: 0,
            file_pos: Some(got as u64),
        })
    }
}

impl Read for HeadFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let in_head = usize::try_from(self.pos)
            .ok()
            .and_then(|p| self.head.get(p..))
            .filter(|rest| !rest.is_empty());
        if let Some(rest) = in_head {
            let n = rest.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.pos += n as u64;
            return Ok(n);
        }
        if self.file_pos != Some(self.pos) {
            self.file_pos = None;
            self.file.seek(SeekFrom::Start(self.pos))?;
        }
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        self.file_pos = Some(self.pos);
        Ok(n)
    }
}

impl Seek for HeadFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(
                ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn head_file_reads_like_the_file_across_the_head_boundary() {
        let bytes: Vec<u8> = (0..(HEAD_BYTES as u32 * 3))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&bytes).unwrap();
        let file = File::open(tmp.path()).unwrap();
        let mut head = HeadFile::new(file, bytes.len() as u64).unwrap();
        // Straddle the boundary, jump beyond it, come back into the head, seek from
        // the end and past the end.
        for (from, n) in [
            (HEAD_BYTES as u64 - 10, 30),
            (HEAD_BYTES as u64 * 2, 100),
            (5, 40),
        ] {
            head.seek(SeekFrom::Start(from)).unwrap();
            let mut got = vec![0u8; n];
            head.read_exact(&mut got).unwrap();
            assert_eq!(got, bytes[from as usize..from as usize + n]);
        }
        assert_eq!(
            head.seek(SeekFrom::End(-4)).unwrap(),
            bytes.len() as u64 - 4
        );
        let mut tail = Vec::new();
        head.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, bytes[bytes.len() - 4..]);
        assert!(
            head.seek(SeekFrom::Current(-(bytes.len() as i64) - 1))
                .is_err()
        );
        head.seek(SeekFrom::Start(bytes.len() as u64 + 10)).unwrap();
        assert_eq!(head.read(&mut [0u8; 8]).unwrap(), 0);
        // A file smaller than the head.
        let small = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(small.path(), b"DICM").unwrap();
        let mut head = HeadFile::new(File::open(small.path()).unwrap(), 4).unwrap();
        let mut all = Vec::new();
        head.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"DICM");
    }
}
