//! A cheap structural walk over an encoded data set, done before the real parse.
//!
//! Owns two jobs: (1) bounding allocations, since the parser reserves every declared
//! value length before reading it, so a value declaring more bytes than the file holds
//! is refused here; (2) telling whether a guessed transfer syntax is plausible. It reads
//! element headers only and seeks over values, so it stays cheap for discovery. It
//! mirrors the parser's rules: undefined lengths open sequences, SQ (explicit, or from
//! the dictionary under implicit VR) opens sequences, Pixel Data with an undefined
//! length is a fragment sequence.

use std::io::{BufRead, BufReader, ErrorKind, Read, Seek};

use dicom_core::dictionary::DataDictionary;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Deepest sequence nesting accepted (guards the parser's recursion as well).
const MAX_DEPTH: u32 = 64;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQ_END: Tag = Tag(0xFFFE, 0xE0DD);

/// How values are encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syntax {
    pub explicit_vr: bool,
    pub little_endian: bool,
}

/// Where Pixel Data sits in the scanned bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelValue {
    /// Offset of the first value byte (or of the first item, when encapsulated).
    pub offset: u64,
    /// Declared value length; `None` when encapsulated (undefined length).
    pub length: Option<u32>,
    /// The VR on the wire (OW under implicit VR).
    pub vr: VR,
}

/// What a scan learnt.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Top-level explicit-VR `UN` elements of undefined length (start, end): their
    /// content is implicit VR, which the parser cannot follow, so `open` leaves them out.
    pub unreadable: Vec<(u64, u64)>,
    /// The data ends inside the top-level element starting here (a truncated file):
    /// `open` parses only what precedes it.
    pub cut_at: Option<u64>,
    pub pixel_data: Option<PixelValue>,
    pub first_tag: Option<Tag>,
    /// Whether the first top-level tags came in ascending order (used when guessing).
    pub ordered: bool,
    pub top_level_elements: u32,
}

/// Walks the data set from the reader's current position (`start`) to `end` (the
/// source length). With `stop_at_pixels`, stops at the first top-level tag at or
/// beyond Pixel Data. Structural nonsense is an error; running out of data is not
/// (see [`Outcome::cut_at`]).
pub fn scan<R: Read + Seek>(
    reader: &mut BufReader<R>,
    start: u64,
    end: u64,
    syntax: Syntax,
    stop_at_pixels: bool,
) -> Result<Outcome, String> {
    let mut walker = Walker {
        reader,
        pos: start,
        end,
        stop_at_pixels,
        outcome: Outcome {
            ordered: true,
            ..Outcome::default()
        },
        last_top_tag: None,
        top_start: start,
        done: false,
    };
    walker.dataset(None, 0, syntax)?;
    Ok(walker.outcome)
}

struct Walker<'a, R> {
    reader: &'a mut BufReader<R>,
    pos: u64,
    end: u64,
    stop_at_pixels: bool,
    outcome: Outcome,
    last_top_tag: Option<Tag>,
    /// Start of the current top-level element.
    top_start: u64,
    /// Set when the walk must end (end of data, truncation, or stopped at pixels).
    done: bool,
}

enum Header {
    Element {
        tag: Tag,
        vr: VR,
        len: u32,
    },
    /// No (complete) tag left.
    Eof,
    /// A tag, then the data ran out.
    Truncated,
}

impl<R: Read + Seek> Walker<'_, R> {
    fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// The data ends inside the current top-level element.
    fn truncated(&mut self) {
        self.outcome.cut_at = Some(self.top_start);
        self.done = true;
    }

    /// Reads exactly `buf.len()` bytes; `Ok(false)` on a clean or partial EOF.
    fn read(&mut self, buf: &mut [u8]) -> Result<bool, String> {
        match self.reader.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(format!("read error: {e}")),
        }
    }

    /// Skips a value; `Ok(false)` when it runs past the end of the data.
    fn skip(&mut self, len: u32) -> Result<bool, String> {
        let len = u64::from(len);
        if len > self.remaining() {
            return Ok(false);
        }
        // Within the buffer this is a pointer bump, beyond it one lseek.
        let buffered = self.reader.buffer().len() as u64;
        if len <= buffered {
            self.reader.consume(len as usize);
        } else {
            self.reader
                .seek_relative(len as i64)
                .map_err(|e| format!("seek error: {e}"))?;
        }
        self.pos += len;
        Ok(true)
    }

    fn u16(&self, b: [u8; 2], syntax: Syntax) -> u16 {
        if syntax.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }

    fn u32(&self, b: [u8; 4], syntax: Syntax) -> u32 {
        if syntax.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    fn header(&mut self, syntax: Syntax) -> Result<Header, String> {
        let mut t = [0u8; 4];
        if !self.read(&mut t)? {
            return Ok(Header::Eof);
        }
        let tag = Tag(
            self.u16([t[0], t[1]], syntax),
            self.u16([t[2], t[3]], syntax),
        );
        let mut b = [0u8; 4];
        if tag.0 == 0xFFFE || !syntax.explicit_vr {
            if !self.read(&mut b)? {
                return Ok(Header::Truncated);
            }
            let len = self.u32(b, syntax);
            let vr = if tag.0 == 0xFFFE {
                VR::UN
            } else if tag == PIXEL_DATA || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
                VR::OW
            } else {
                StandardDataDictionary
                    .by_tag(tag)
                    .map(|entry| entry.vr.relaxed())
                    .unwrap_or(VR::UN)
            };
            return Ok(Header::Element { tag, vr, len });
        }
        if !self.read(&mut b)? {
            return Ok(Header::Truncated);
        }
        let vr = VR::from_binary([b[0], b[1]]).unwrap_or(VR::UN);
        let len = if short_length(vr) {
            u32::from(self.u16([b[2], b[3]], syntax))
        } else {
            if !self.read(&mut b)? {
                return Ok(Header::Truncated);
            }
            self.u32(b, syntax)
        };
        Ok(Header::Element { tag, vr, len })
    }

    /// Walks elements until `end` (a defined-length container), an item delimiter
    /// (an undefined-length item) or the end of the data.
    fn dataset(&mut self, end: Option<u64>, depth: u32, syntax: Syntax) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
        }
        loop {
            if self.done || end.is_some_and(|e| self.pos >= e) {
                return Ok(());
            }
            if depth == 0 {
                self.top_start = self.pos;
            }
            let (tag, vr, len) = match self.header(syntax)? {
                Header::Element { tag, vr, len } => (tag, vr, len),
                // The parser ends gracefully on a missing tag at the root only.
                Header::Eof if depth == 0 => {
                    self.done = true;
                    return Ok(());
                }
                Header::Eof | Header::Truncated => {
                    self.truncated();
                    return Ok(());
                }
            };
            if tag == ITEM_END {
                if depth > 0 {
                    return Ok(());
                }
                continue; // stray delimiter at the root: the parser ignores it too
            }
            if tag.0 == 0xFFFE {
                return Err(format!(
                    "unexpected delimiter ({:04X},{:04X}) inside a data set",
                    tag.0, tag.1
                ));
            }
            if depth == 0 {
                self.note_top_level(tag);
                if tag == PIXEL_DATA {
                    self.record_pixels(vr, len);
                }
                if self.stop_at_pixels && tag >= PIXEL_DATA {
                    self.done = true;
                    return Ok(());
                }
            }
            if tag == PIXEL_DATA && len == UNDEFINED {
                self.fragments(syntax)?;
            } else if vr == VR::SQ || len == UNDEFINED {
                // Container lengths allocate nothing: one running past the end of a
                // truncated file is read up to that end.
                let seq_end = (len != UNDEFINED).then(|| self.pos + u64::from(len));
                let un_sequence = vr == VR::UN && len == UNDEFINED && syntax.explicit_vr;
                // The content of a UN sequence of undefined length is implicit VR LE.
                let inner = if un_sequence {
                    Syntax {
                        explicit_vr: false,
                        little_endian: true,
                    }
                } else {
                    syntax
                };
                let element_start = self.pos.saturating_sub(12);
                self.sequence(seq_end, depth + 1, inner)?;
                if un_sequence && depth == 0 && !self.done {
                    self.outcome.unreadable.push((element_start, self.pos));
                }
            } else if !self.skip(len)? {
                self.truncated();
                return Ok(());
            }
        }
    }

    fn note_top_level(&mut self, tag: Tag) {
        if self.outcome.first_tag.is_none() {
            self.outcome.first_tag = Some(tag);
        }
        if let Some(last) = self.last_top_tag
            && tag <= last
            && self.outcome.top_level_elements < 16
        {
            self.outcome.ordered = false;
        }
        self.last_top_tag = Some(tag);
        self.outcome.top_level_elements = self.outcome.top_level_elements.saturating_add(1);
    }

    fn record_pixels(&mut self, vr: VR, len: u32) {
        self.outcome.pixel_data = Some(PixelValue {
            offset: self.pos,
            length: (len != UNDEFINED).then_some(len),
            vr,
        });
    }

    fn sequence(&mut self, end: Option<u64>, depth: u32, syntax: Syntax) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
        }
        loop {
            if self.done || end.is_some_and(|e| self.pos >= e) {
                return Ok(());
            }
            let Some((tag, len)) = self.item_header(syntax)? else {
                self.truncated();
                return Ok(());
            };
            match tag {
                SEQ_END => return Ok(()),
                ITEM if len == UNDEFINED => self.dataset(None, depth, syntax)?,
                ITEM => {
                    let item_end = self.pos + u64::from(len);
                    self.dataset(Some(item_end), depth, syntax)?;
                }
                other => {
                    return Err(format!(
                        "expected a sequence item, found ({:04X},{:04X})",
                        other.0, other.1
                    ));
                }
            }
        }
    }

    fn item_header(&mut self, syntax: Syntax) -> Result<Option<(Tag, u32)>, String> {
        let mut b = [0u8; 8];
        if !self.read(&mut b)? {
            return Ok(None);
        }
        let tag = Tag(
            self.u16([b[0], b[1]], syntax),
            self.u16([b[2], b[3]], syntax),
        );
        Ok(Some((tag, self.u32([b[4], b[5], b[6], b[7]], syntax))))
    }

    fn fragments(&mut self, syntax: Syntax) -> Result<(), String> {
        loop {
            let Some((tag, len)) = self.item_header(syntax)? else {
                self.truncated();
                return Ok(());
            };
            match tag {
                SEQ_END => return Ok(()),
                ITEM if len == UNDEFINED => {
                    return Err("a pixel data fragment has an undefined length".into());
                }
                ITEM => {
                    if !self.skip(len)? {
                        self.truncated();
                        return Ok(());
                    }
                }
                other => {
                    return Err(format!(
                        "expected a pixel data fragment, found ({:04X},{:04X})",
                        other.0, other.1
                    ));
                }
            }
        }
    }
}

/// VRs whose explicit length field is 16 bits (PS3.5 7.1.2).
pub(super) fn short_length(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS
            | AT
            | CS
            | DA
            | DS
            | DT
            | FL
            | FD
            | IS
            | LO
            | LT
            | PN
            | SH
            | SL
            | SS
            | ST
            | TM
            | UI
            | UL
            | US
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const LE: Syntax = Syntax {
        explicit_vr: true,
        little_endian: true,
    };

    fn run(bytes: &[u8], syntax: Syntax) -> Result<Outcome, String> {
        let mut r = BufReader::new(Cursor::new(bytes));
        scan(&mut r, 0, bytes.len() as u64, syntax, false)
    }

    #[test]
    fn accepts_a_small_explicit_le_set() {
        let mut b = vec![0x08, 0x00, 0x60, 0x00, b'C', b'S', 2, 0, b'C', b'T'];
        b.extend([0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 2, 0, 0, 0, 1, 2]);
        let out = run(&b, LE).unwrap();
        assert_eq!(out.first_tag, Some(Tag(0x0008, 0x0060)));
        let px = out.pixel_data.unwrap();
        assert_eq!((px.offset, px.length), (22, Some(2)));
    }

    #[test]
    fn a_length_beyond_the_file_cuts_before_its_element() {
        let mut b = vec![0x08, 0x00, 0x60, 0x00, b'C', b'S', 2, 0, b'C', b'T'];
        b.extend([
            0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 0xF0, 0xFF, 0xFF, 0x7F, 1, 2,
        ]);
        let out = run(&b, LE).unwrap();
        assert_eq!(out.cut_at, Some(10));
        assert_eq!(out.pixel_data.unwrap().offset, 22);
    }

    #[test]
    fn refuses_runaway_nesting() {
        // (0008,1140) SQ undefined, item undefined, repeated.
        let mut b = Vec::new();
        for _ in 0..100 {
            b.extend([
                0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            b.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        assert!(run(&b, LE).unwrap_err().contains("nested"));
    }

    #[test]
    fn eof_between_elements_is_a_clean_end() {
        let b = [0x08, 0x00, 0x60, 0x00, b'C', b'S', 2, 0, b'C', b'T', 0x08];
        assert_eq!(run(&b, LE).unwrap().cut_at, None);
    }

    #[test]
    fn eof_inside_a_sequence_cuts_at_the_top_level_element() {
        let mut b = vec![0x08, 0x00, 0x60, 0x00, b'C', b'S', 2, 0, b'C', b'T'];
        b.extend([
            0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(run(&b, LE).unwrap().cut_at, Some(10));
    }
}
