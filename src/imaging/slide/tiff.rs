//! A lean TIFF / BigTIFF directory reader: just what the slide fast path needs (image
//! and tile geometry, compression, colour, tile offsets and byte counts, JPEG tables).
//!
//! Owns parsing the file's image file directories (IFDs); never decodes pixels and never
//! reads a tag it does not need. Every count and offset read from the file is checked
//! against the file's length before anything is allocated, the IFD chain is followed at
//! most [`MAX_DIRECTORIES`] times and a loop in it is an error, so a hostile file costs
//! bounded time and memory.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// More directories than any slide has (pyramids have < 20; associated images a few).
pub const MAX_DIRECTORIES: usize = 256;
/// More entries than any directory we can use has.
const MAX_ENTRIES: u64 = 4096;
/// The largest JPEGTables we accept (they hold a few quantisation and Huffman tables).
const MAX_JPEG_TABLES: u64 = 64 * 1024;

/// Why a file's directories could not be read. The caller adds the path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TiffError {
    #[error("not a TIFF file")]
    NotTiff,
    #[error("cannot read the TIFF file: {0}")]
    Io(String),
    #[error("damaged TIFF directory: {0}")]
    Damaged(String),
}

fn damaged(reason: impl Into<String>) -> TiffError {
    TiffError::Damaged(reason.into())
}

/// Byte order of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

/// Classic TIFF (32-bit offsets) or BigTIFF (64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    Classic,
    Big,
}

/// What one directory says about its image; only the fields the fast path uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// 0-based position in the IFD chain.
    pub index: usize,
    pub width: u64,
    pub height: u64,
    /// `None` for stripped images.
    pub tile_width: Option<u64>,
    pub tile_height: Option<u64>,
    /// TIFF Compression (1 none, 7 JPEG, 33003/33005 Aperio JPEG 2000, …); default 1.
    pub compression: u16,
    /// PhotometricInterpretation (2 RGB, 6 YCbCr); `None` when absent.
    pub photometric: Option<u16>,
    pub samples_per_pixel: u16,
    pub bits_per_sample: Vec<u16>,
    /// PlanarConfiguration; default 1 (chunky).
    pub planar: u16,
    /// Orientation; default 1 (top-left).
    pub orientation: u16,
    /// SampleFormat of the first sample; default 1 (unsigned integer).
    pub sample_format: u16,
    /// SGI ImageDepth (32997); default 1.
    pub image_depth: u64,
    /// TileOffsets (or StripOffsets for stripped images).
    pub offsets: Vec<u64>,
    /// TileByteCounts (or StripByteCounts).
    pub byte_counts: Vec<u64>,
    /// The JPEGTables tag: an abbreviated JPEG stream with the shared tables.
    pub jpeg_tables: Option<Vec<u8>>,
}

impl Directory {
    pub fn is_tiled(&self) -> bool {
        self.tile_width.is_some() && self.tile_height.is_some()
    }

    /// Tiles across and down (0 for stripped images or a zero tile size).
    pub fn tile_grid(&self) -> (u64, u64) {
        match (self.tile_width, self.tile_height) {
            (Some(tw), Some(th)) if tw > 0 && th > 0 => {
                (self.width.div_ceil(tw), self.height.div_ceil(th))
            }
            _ => (0, 0),
        }
    }
}

/// Reads every directory of the file (at most [`MAX_DIRECTORIES`]).
pub fn read_directories(file: &File) -> Result<Vec<Directory>, TiffError> {
    let len = file
        .metadata()
        .map_err(|e| TiffError::Io(e.to_string()))?
        .len();
    let reader = Reader { file, len };
    let mut head = [0u8; 16];
    let got = reader.read_up_to(0, &mut head)?;
    if got < 8 {
        return Err(TiffError::NotTiff);
    }
    let order = match &head[..2] {
        b"II" => Order::Little,
        b"MM" => Order::Big,
        _ => return Err(TiffError::NotTiff),
    };
    let p = Parse {
        reader,
        order,
        flavour: Flavour::Classic,
    };
    let magic = p.u16_at(&head, 2);
    let (flavour, first) = match magic {
        42 => (Flavour::Classic, u64::from(p.u32_at(&head, 4))),
        43 => {
            if got < 16 || p.u16_at(&head, 4) != 8 || p.u16_at(&head, 6) != 0 {
                return Err(damaged("BigTIFF header"));
            }
            (Flavour::Big, p.u64_at(&head, 8))
        }
        _ => return Err(TiffError::NotTiff),
    };
    let p = Parse { flavour, ..p };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut next = first;
    while next != 0 {
        if out.len() == MAX_DIRECTORIES {
            return Err(damaged(format!("more than {MAX_DIRECTORIES} directories")));
        }
        if !seen.insert(next) {
            return Err(damaged("the directory chain loops"));
        }
        let (dir, following) = p.directory(next, out.len())?;
        out.push(dir);
        next = following;
    }
    if out.is_empty() {
        return Err(damaged("no image directory"));
    }
    Ok(out)
}

struct Reader<'a> {
    file: &'a File,
    len: u64,
}

impl Reader<'_> {
    /// Reads as many bytes as the file has at `offset`, up to `buf.len()`.
    fn read_up_to(&self, offset: u64, buf: &mut [u8]) -> Result<usize, TiffError> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TiffError::Io(e.to_string())),
            }
        }
        Ok(done)
    }

    fn read_exact(&self, offset: u64, len: u64, what: &str) -> Result<Vec<u8>, TiffError> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| damaged(format!("{what} lies past the end of the file")))?;
        if end > self.len {
            return Err(damaged(format!("{what} lies past the end of the file")));
        }
        let mut buf = vec![0u8; len as usize];
        if self.read_up_to(offset, &mut buf)? != buf.len() {
            return Err(damaged(format!("{what} lies past the end of the file")));
        }
        Ok(buf)
    }
}

struct Parse<'a> {
    reader: Reader<'a>,
    order: Order,
    flavour: Flavour,
}

/// One raw directory entry.
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    /// The value field (inline bytes or the offset), as stored.
    field: [u8; 8],
}

fn type_size(kind: u16) -> Option<u64> {
    Some(match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

impl Parse<'_> {
    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        match self.order {
            Order::Little => u16::from_le_bytes(v),
            Order::Big => u16::from_be_bytes(v),
        }
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match self.order {
            Order::Little => u32::from_le_bytes(v),
            Order::Big => u32::from_be_bytes(v),
        }
    }

    fn u64_at(&self, b: &[u8], at: usize) -> u64 {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[at..at + 8]);
        match self.order {
            Order::Little => u64::from_le_bytes(v),
            Order::Big => u64::from_be_bytes(v),
        }
    }

    fn directory(&self, offset: u64, index: usize) -> Result<(Directory, u64), TiffError> {
        let (count_len, entry_len, next_len) = match self.flavour {
            Flavour::Classic => (2u64, 12u64, 4u64),
            Flavour::Big => (8, 20, 8),
        };
        let count_bytes = self.reader.read_exact(offset, count_len, "a directory")?;
        let count = match self.flavour {
            Flavour::Classic => u64::from(self.u16_at(&count_bytes, 0)),
            Flavour::Big => self.u64_at(&count_bytes, 0),
        };
        if count == 0 || count > MAX_ENTRIES {
            return Err(damaged(format!("a directory with {count} entries")));
        }
        let body = self.reader.read_exact(
            offset + count_len,
            count * entry_len + next_len,
            "a directory",
        )?;
        let mut dir = Directory {
            index,
            compression: 1,
            samples_per_pixel: 1,
            planar: 1,
            orientation: 1,
            sample_format: 1,
            image_depth: 1,
            ..Directory::default()
        };
        let mut strip_offsets = Vec::new();
        let mut strip_counts = Vec::new();
        for k in 0..count as usize {
            let at = k * entry_len as usize;
            let e = &body[at..at + entry_len as usize];
            let mut field = [0u8; 8];
            let entry = match self.flavour {
                Flavour::Classic => {
                    field[..4].copy_from_slice(&e[8..12]);
                    Entry {
                        tag: self.u16_at(e, 0),
                        kind: self.u16_at(e, 2),
                        count: u64::from(self.u32_at(e, 4)),
                        field,
                    }
                }
                Flavour::Big => {
                    field.copy_from_slice(&e[12..20]);
                    Entry {
                        tag: self.u16_at(e, 0),
                        kind: self.u16_at(e, 2),
                        count: self.u64_at(e, 4),
                        field,
                    }
                }
            };
            match entry.tag {
                256 => dir.width = self.scalar(&entry)?,
                257 => dir.height = self.scalar(&entry)?,
                258 => {
                    dir.bits_per_sample = self
                        .numbers(&entry, 16)?
                        .into_iter()
                        .map(|v| v.min(u64::from(u16::MAX)) as u16)
                        .collect();
                }
                259 => dir.compression = self.scalar_u16(&entry)?,
                262 => dir.photometric = Some(self.scalar_u16(&entry)?),
                273 => strip_offsets = self.numbers(&entry, u64::MAX)?,
                274 => dir.orientation = self.scalar_u16(&entry)?,
                277 => dir.samples_per_pixel = self.scalar_u16(&entry)?,
                279 => strip_counts = self.numbers(&entry, u64::MAX)?,
                284 => dir.planar = self.scalar_u16(&entry)?,
                322 => dir.tile_width = Some(self.scalar(&entry)?),
                323 => dir.tile_height = Some(self.scalar(&entry)?),
                324 => dir.offsets = self.numbers(&entry, u64::MAX)?,
                325 => dir.byte_counts = self.numbers(&entry, u64::MAX)?,
                339 => {
                    dir.sample_format = self
                        .numbers(&entry, 16)?
                        .first()
                        .map_or(1, |v| (*v).min(u64::from(u16::MAX)) as u16);
                }
                347 => {
                    if entry.count > MAX_JPEG_TABLES {
                        return Err(damaged("oversized JPEGTables"));
                    }
                    dir.jpeg_tables = Some(self.bytes(&entry)?);
                }
                32997 => dir.image_depth = self.scalar(&entry)?,
                _ => {}
            }
        }
        if !dir.is_tiled() {
            dir.offsets = strip_offsets;
            dir.byte_counts = strip_counts;
        }
        let next_at = count as usize * entry_len as usize;
        let next = match self.flavour {
            Flavour::Classic => u64::from(self.u32_at(&body, next_at)),
            Flavour::Big => self.u64_at(&body, next_at),
        };
        Ok((dir, next))
    }

    /// The entry's raw value bytes: inline, or read from its offset (bounded by the file).
    fn bytes(&self, e: &Entry) -> Result<Vec<u8>, TiffError> {
        let Some(size) = type_size(e.kind) else {
            return Err(damaged(format!(
                "tag {} has unknown type {}",
                e.tag, e.kind
            )));
        };
        let total = e
            .count
            .checked_mul(size)
            .filter(|t| *t <= self.reader.len)
            .ok_or_else(|| damaged(format!("tag {} claims more data than the file", e.tag)))?;
        let inline = match self.flavour {
            Flavour::Classic => 4,
            Flavour::Big => 8,
        };
        if total <= inline {
            return Ok(e.field[..total as usize].to_vec());
        }
        let offset = match self.flavour {
            Flavour::Classic => u64::from(self.u32_at(&e.field, 0)),
            Flavour::Big => self.u64_at(&e.field, 0),
        };
        self.reader
            .read_exact(offset, total, &format!("the value of tag {}", e.tag))
    }

    /// The entry's values as unsigned integers (BYTE, SHORT, LONG, LONG8, IFD types);
    /// a value that does not fit in `bits` bits is damage.
    fn numbers(&self, e: &Entry, bits: u64) -> Result<Vec<u64>, TiffError> {
        let raw = self.bytes(e)?;
        let values: Vec<u64> = match e.kind {
            1 | 7 => raw.iter().map(|b| u64::from(*b)).collect(),
            3 => raw
                .chunks_exact(2)
                .map(|c| u64::from(self.u16_at(c, 0)))
                .collect(),
            4 | 13 => raw
                .chunks_exact(4)
                .map(|c| u64::from(self.u32_at(c, 0)))
                .collect(),
            16 | 18 => raw.chunks_exact(8).map(|c| self.u64_at(c, 0)).collect(),
            _ => {
                return Err(damaged(format!(
                    "tag {} has type {}, not an unsigned integer",
                    e.tag, e.kind
                )));
            }
        };
        if bits < 64 && values.iter().any(|v| *v >> bits != 0) {
            return Err(damaged(format!(
                "tag {} holds an out-of-range value",
                e.tag
            )));
        }
        Ok(values)
    }

    fn scalar(&self, e: &Entry) -> Result<u64, TiffError> {
        if e.count != 1 {
            return Err(damaged(format!(
                "tag {} has {} values, expected 1",
                e.tag, e.count
            )));
        }
        self.numbers(e, u64::MAX)?
            .first()
            .copied()
            .ok_or_else(|| damaged(format!("tag {} is empty", e.tag)))
    }

    fn scalar_u16(&self, e: &Entry) -> Result<u16, TiffError> {
        let v = self.scalar(e)?;
        u16::try_from(v).map_err(|_| damaged(format!("tag {} holds {v}", e.tag)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A classic little-endian TIFF with one tiled directory (2x1 tiles of 16x16).
    fn classic_tiled() -> Vec<u8> {
        let mut f = b"II*\0".to_vec();
        f.extend_from_slice(&8u32.to_le_bytes());
        let entries: [(u16, u16, u32, u32); 6] = [
            (256, 4, 1, 20),
            (257, 3, 1, 16),
            (259, 3, 1, 7),
            (322, 3, 1, 16),
            (323, 3, 1, 16),
            (324, 4, 1, 0), // patched below: 2 offsets need an out-of-line array
        ];
        f.extend_from_slice(&(entries.len() as u16 + 1).to_le_bytes());
        let array_at = 8 + 2 + 12 * (entries.len() as u32 + 1) + 4;
        for (tag, kind, count, value) in entries {
            let (count, value) = if tag == 324 {
                (2, array_at)
            } else {
                (count, value)
            };
            f.extend_from_slice(&tag.to_le_bytes());
            f.extend_from_slice(&kind.to_le_bytes());
            f.extend_from_slice(&count.to_le_bytes());
            if kind == 3 {
                f.extend_from_slice(&(value as u16).to_le_bytes());
                f.extend_from_slice(&[0, 0]);
            } else {
                f.extend_from_slice(&value.to_le_bytes());
            }
        }
        // TileByteCounts: two SHORTs fit inline.
        f.extend_from_slice(&325u16.to_le_bytes());
        f.extend_from_slice(&3u16.to_le_bytes());
        f.extend_from_slice(&2u32.to_le_bytes());
        f.extend_from_slice(&5u16.to_le_bytes());
        f.extend_from_slice(&6u16.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(f.len() as u32, array_at);
        f.extend_from_slice(&100u32.to_le_bytes());
        f.extend_from_slice(&200u32.to_le_bytes());
        f.resize(220, 0);
        f
    }

    fn parse(bytes: &[u8]) -> Result<Vec<Directory>, TiffError> {
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(bytes).unwrap();
        read_directories(&tmp)
    }

    #[test]
    fn a_classic_tiled_directory_is_read() {
        let dirs = parse(&classic_tiled()).unwrap();
        assert_eq!(dirs.len(), 1);
        let d = &dirs[0];
        assert_eq!((d.width, d.height), (20, 16));
        assert_eq!((d.tile_width, d.tile_height), (Some(16), Some(16)));
        assert_eq!(d.tile_grid(), (2, 1));
        assert_eq!(d.compression, 7);
        assert_eq!(d.offsets, vec![100, 200]);
        assert_eq!(d.byte_counts, vec![5, 6]);
        assert_eq!(d.planar, 1);
    }

    /// A big-endian BigTIFF with one tiled directory (1 tile), LONG8 offsets.
    fn big_tiled() -> Vec<u8> {
        let mut f = b"MM\0\x2B\0\x08\0\0".to_vec();
        f.extend_from_slice(&16u64.to_be_bytes());
        let entries: [(u16, u16, u64); 7] = [
            (256, 16, 5000),
            (257, 4, 3000),
            (259, 3, 7),
            (322, 3, 512),
            (323, 3, 512),
            (324, 16, 4096),
            (325, 16, 77),
        ];
        f.extend_from_slice(&(entries.len() as u64).to_be_bytes());
        for (tag, kind, value) in entries {
            f.extend_from_slice(&tag.to_be_bytes());
            f.extend_from_slice(&kind.to_be_bytes());
            f.extend_from_slice(&1u64.to_be_bytes());
            let mut field = [0u8; 8];
            match kind {
                3 => field[..2].copy_from_slice(&(value as u16).to_be_bytes()),
                4 => field[..4].copy_from_slice(&(value as u32).to_be_bytes()),
                _ => field.copy_from_slice(&value.to_be_bytes()),
            }
            f.extend_from_slice(&field);
        }
        f.extend_from_slice(&0u64.to_be_bytes());
        f.resize(8192, 0);
        f
    }

    #[test]
    fn a_big_endian_bigtiff_directory_is_read() {
        let dirs = parse(&big_tiled()).unwrap();
        let d = &dirs[0];
        assert_eq!((d.width, d.height), (5000, 3000));
        assert_eq!((d.tile_width, d.tile_height), (Some(512), Some(512)));
        // Only one offset for a 10 x 6 grid: the fast path will not take this level.
        assert_eq!(d.tile_grid(), (10, 6));
        assert_eq!(
            (d.offsets.clone(), d.byte_counts.clone()),
            (vec![4096], vec![77])
        );
    }

    #[test]
    fn loops_truncation_and_garbage_are_errors_not_panics() {
        assert_eq!(parse(b"hello world"), Err(TiffError::NotTiff));
        assert_eq!(parse(b"II"), Err(TiffError::NotTiff));
        let mut looped = classic_tiled();
        // Point the next-IFD link back at the first directory.
        let next_at = 8 + 2 + 12 * 7;
        looped[next_at..next_at + 4].copy_from_slice(&8u32.to_le_bytes());
        assert!(matches!(parse(&looped), Err(TiffError::Damaged(m)) if m.contains("loops")));
        let good = classic_tiled();
        for cut in [9, 20, 60, 95, 100] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        // Every single-byte corruption of the directory parses or fails, never panics.
        for at in 0..good.len().min(120) {
            let mut bad = good.clone();
            bad[at] ^= 0xA5;
            let _ = parse(&bad);
        }
    }
}
