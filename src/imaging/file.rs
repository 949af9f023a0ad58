//! Opening one DICOM file: with or without preamble/meta group, header only or whole.
//!
//! Owns the only place where source files are opened for DICOM parsing (read-only),
//! transfer-syntax guessing for files without a usable meta group, the structural
//! pre-scan that bounds every allocation the parser makes, and typed accessors for the
//! header values other modules need.

mod scan;
mod source;

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::transfer_syntax::{Endianness, TransferSyntaxIndex};
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use scan::Syntax;
use source::{HeadFile, MetaInfo, Splice, read_meta};

/// Explicit VR Big Endian (retired, hence no non-deprecated constant upstream).
pub const EXPLICIT_VR_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";
/// Largest inflated size accepted for a deflated data set.
const MAX_INFLATED_BYTES: u64 = 1 << 30;

/// How much of a file to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Stop before Pixel Data: cheap, for discovery.
    HeaderOnly,
    /// Everything, pixel data included.
    Full,
}

/// Why a file could not be opened as DICOM.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a DICOM file: {reason}")]
    NotDicom { reason: String },
    #[error("corrupt DICOM data: {reason}")]
    Corrupt { reason: String },
    #[error("unsupported transfer syntax {uid}")]
    UnsupportedTransferSyntax { uid: String },
}

/// A header value that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("missing required element {name}")]
    Missing { name: &'static str },
    #[error("bad {name}: {value:?} ({reason})")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// Where the Pixel Data value lies in the source file, for direct reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelDataLocation {
    /// Byte offset of the value in the file (`None` for deflated files).
    pub offset: Option<u64>,
    /// Declared length; `None` when encapsulated (fragments).
    pub length: Option<u32>,
    /// Whether the file stores multi-byte values big-endian.
    pub big_endian: bool,
    /// The file ends inside Pixel Data (then it is not loaded, even in full mode).
    pub truncated: bool,
}

/// One parsed DICOM file.
pub struct Instance {
    pub path: PathBuf,
    pub object: DefaultDicomObject,
    /// Pixel Data found by the pre-scan, also in header-only mode (where the object
    /// itself stops before it). Build with [`Instance::from_object`] for in-memory data.
    pub pixel_data: Option<PixelDataLocation>,
}

/// Opens `path` as DICOM.
///
/// Accepts the standard layout (preamble, `DICM`, meta group), a meta group without a
/// preamble, a meta group without group length or transfer syntax, and bare data sets
/// with no meta group at all; in the last two cases the transfer syntax is guessed
/// among explicit VR LE, implicit VR LE and explicit VR BE by walking the data set.
pub fn open(path: &Path, mode: ReadMode) -> Result<Instance, OpenError> {
    open_sized(path, mode).map(|(instance, _)| instance)
}

/// Like [`open`], also giving the file's length.
pub fn open_sized(path: &Path, mode: ReadMode) -> Result<(Instance, u64), OpenError> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let source = HeadFile::new(file, file_len)?;
    open_source(path, BufReader::new(source), file_len, mode).map(|i| (i, file_len))
}

/// Like [`open`], for a file already in memory (`name` becomes the instance path).
pub fn open_bytes(name: &Path, bytes: &[u8], mode: ReadMode) -> Result<Instance, OpenError> {
    open_source(
        name,
        BufReader::new(Cursor::new(bytes)),
        bytes.len() as u64,
        mode,
    )
}

fn open_source<R: Read + Seek>(
    path: &Path,
    mut reader: BufReader<R>,
    file_len: u64,
    mode: ReadMode,
) -> Result<Instance, OpenError> {
    let meta = read_meta(&mut reader, file_len)?;
    let dataset_start = meta.dataset_start;
    let header_only = mode == ReadMode::HeaderOnly;

    let has_meta = meta.has_meta;
    // `parse_uid` is how the data set is encoded; `ts_uid` what the file declares
    // (they differ when a data set contradicts its meta group, or none was given).
    let (ts_uid, parse_uid, outcome) = match meta.transfer_syntax.as_deref() {
        Some(uid) => {
            let ts = TransferSyntaxRegistry.get(uid).ok_or_else(|| {
                OpenError::UnsupportedTransferSyntax {
                    uid: uid.to_string(),
                }
            })?;
            if uid == uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN {
                return open_deflated(path, reader, meta, file_len);
            }
            let syntax = syntax_of(uid, ts.endianness());
            reader.seek(SeekFrom::Start(dataset_start))?;
            let declared = scan::scan(&mut reader, dataset_start, file_len, syntax, header_only);
            let uid = ts.uid().to_string();
            match declared {
                Ok(outcome) if outcome.cut_at.is_none() => (uid.clone(), uid, outcome),
                // A walk that fails or ends early may mean the data set is encoded
                // otherwise than declared (explicit VR declared, implicit VR written,
                // or the reverse): keep whichever reading gets further.
                declared => {
                    let guessed =
                        guess_syntax(&mut reader, dataset_start, file_len, header_only, true);
                    match (declared, guessed) {
                        (Ok(d), Ok((g_uid, g))) if reach(&g) > reach(&d) => (uid, g_uid, g),
                        (Ok(d), _) => (uid.clone(), uid, d),
                        (Err(_), Ok((g_uid, g))) => (uid, g_uid, g),
                        (Err(reason), Err(_)) => return Err(OpenError::Corrupt { reason }),
                    }
                }
            }
        }
        None => {
            let (uid, outcome) =
                guess_syntax(&mut reader, dataset_start, file_len, header_only, has_meta)?;
            (uid.clone(), uid, outcome)
        }
    };

    let table = meta.table(&parse_uid)?;
    let mut prefix = b"DICM".to_vec();
    table.write(&mut prefix).map_err(|e| OpenError::Corrupt {
        reason: format!("cannot rebuild the meta group: {e}"),
    })?;
    reader.seek(SeekFrom::Start(dataset_start))?;
    let options = OpenFileOptions::new().read_preamble(ReadPreamble::Never);
    let options = if header_only {
        options.read_until(tags::PIXEL_DATA)
    } else {
        options
    };
    let end = outcome.cut_at.unwrap_or(file_len);
    let source = Splice::new(reader, dataset_start, end, &outcome.unreadable);
    let mut object = options
        .from_reader(Cursor::new(prefix).chain(source))
        .map_err(|e| OpenError::Corrupt {
            reason: e.to_string(),
        })?;
    if parse_uid != ts_uid {
        object.meta_mut().transfer_syntax = ts_uid.clone();
    }
    let big_endian = ts_uid == EXPLICIT_VR_BIG_ENDIAN;
    let pixel_data = outcome.pixel_data.map(|p| PixelDataLocation {
        offset: Some(p.offset),
        length: p.length,
        big_endian,
        truncated: outcome.cut_at.is_some_and(|cut| p.offset >= cut),
    });
    Ok(Instance {
        path: path.to_path_buf(),
        object,
        pixel_data,
    })
}

/// Deflated data sets are inflated into memory (bounded), walked, then parsed.
fn open_deflated<R: Read + Seek>(
    path: &Path,
    mut reader: BufReader<R>,
    meta: MetaInfo,
    file_len: u64,
) -> Result<Instance, OpenError> {
    reader.seek(SeekFrom::Start(meta.dataset_start))?;
    let mut inflated = Vec::new();
    let budget = MAX_INFLATED_BYTES.min(file_len.saturating_mul(1100).max(1 << 20));
    flate2::read::DeflateDecoder::new(reader)
        .take(budget + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| OpenError::Corrupt {
            reason: format!("cannot inflate the data set: {e}"),
        })?;
    if inflated.len() as u64 > budget {
        return Err(OpenError::Corrupt {
            reason: format!("deflated data set inflates beyond {budget} bytes"),
        });
    }
    let syntax = Syntax {
        explicit_vr: true,
        little_endian: true,
    };
    let len = inflated.len() as u64;
    let outcome = scan::scan(
        &mut BufReader::new(Cursor::new(&inflated[..])),
        0,
        len,
        syntax,
        false,
    )
    .map_err(|reason| OpenError::Corrupt { reason })?;
    let explicit_le = TransferSyntaxRegistry
        .get(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .ok_or_else(|| OpenError::UnsupportedTransferSyntax {
            uid: uids::EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
        })?;
    let dataset =
        InMemDicomObject::read_dataset_with_ts(&inflated[..], explicit_le).map_err(|e| {
            OpenError::Corrupt {
                reason: e.to_string(),
            }
        })?;
    let table = meta.table(uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)?;
    Ok(Instance {
        path: path.to_path_buf(),
        object: dataset.with_exact_meta(table),
        pixel_data: outcome.pixel_data.map(|p| PixelDataLocation {
            offset: None,
            length: p.length,
            big_endian: false,
            truncated: outcome.cut_at.is_some_and(|cut| p.offset >= cut),
        }),
    })
}

fn syntax_of(uid: &str, endianness: Endianness) -> Syntax {
    Syntax {
        explicit_vr: uid != uids::IMPLICIT_VR_LITTLE_ENDIAN,
        little_endian: endianness == Endianness::Little,
    }
}

/// Tries explicit VR LE, implicit VR LE and explicit VR BE; the first whose walk
/// succeeds with a plausible, ordered start wins.
fn guess_syntax<R: Read + Seek>(
    reader: &mut BufReader<R>,
    start: u64,
    file_len: u64,
    header_only: bool,
    has_meta: bool,
) -> Result<(String, scan::Outcome), OpenError> {
    let candidates = [
        (uids::EXPLICIT_VR_LITTLE_ENDIAN, true, true),
        (uids::IMPLICIT_VR_LITTLE_ENDIAN, false, true),
        (EXPLICIT_VR_BIG_ENDIAN, true, false),
    ];
    let mut reasons = Vec::new();
    for (uid, explicit_vr, little_endian) in candidates {
        let syntax = Syntax {
            explicit_vr,
            little_endian,
        };
        reader.seek(SeekFrom::Start(start))?;
        match scan::scan(reader, start, file_len, syntax, header_only) {
            Ok(outcome) if plausible(&outcome, start, has_meta) => {
                return Ok((uid.to_string(), outcome));
            }
            Ok(_) => reasons.push(format!("{uid}: implausible first elements")),
            Err(e) => reasons.push(format!("{uid}: {e}")),
        }
    }
    Err(OpenError::NotDicom {
        reason: format!(
            "no usable transfer syntax and no encoding fits the data ({})",
            reasons.join("; ")
        ),
    })
}

/// How far a walk got before the data ran out (everything, when it did not).
fn reach(outcome: &scan::Outcome) -> u64 {
    outcome.cut_at.unwrap_or(u64::MAX)
}

/// A guessed encoding must read ordered tags; without a meta group to vouch for the
/// file, the first element must also be one a data set normally starts with.
fn plausible(outcome: &scan::Outcome, start: u64, has_meta: bool) -> bool {
    let Some(Tag(group, _)) = outcome.first_tag else {
        return false;
    };
    let one_whole_element = outcome.cut_at.is_none_or(|cut| cut > start);
    one_whole_element
        && outcome.ordered
        && (has_meta || (group % 2 == 0 && (0x0004..=0x0028).contains(&group)))
}

impl Instance {
    /// Wraps an already parsed object (e.g. built in memory).
    pub fn from_object(path: PathBuf, object: DefaultDicomObject) -> Self {
        let big_endian = object.meta().transfer_syntax() == EXPLICIT_VR_BIG_ENDIAN;
        let pixel_data = object.get(tags::PIXEL_DATA).map(|e| PixelDataLocation {
            offset: None,
            length: match e.value() {
                Value::PixelSequence(_) => None,
                v => v.to_bytes().ok().map(|b| b.len() as u32),
            },
            big_endian,
            truncated: false,
        });
        Instance {
            path,
            object,
            pixel_data,
        }
    }

    /// The transfer syntax UID (guessed ones included), without padding.
    pub fn transfer_syntax_uid(&self) -> &str {
        self.object.meta().transfer_syntax()
    }

    /// Whether the file has Pixel Data (also known in header-only mode).
    pub fn has_pixel_data(&self) -> bool {
        self.pixel_data.is_some() || self.object.get(tags::PIXEL_DATA).is_some()
    }

    /// Whether Pixel Data was read into memory (false after a header-only open).
    pub fn pixel_data_loaded(&self) -> bool {
        self.object.get(tags::PIXEL_DATA).is_some()
    }

    /// SOP Instance UID, falling back to the meta group's.
    pub fn sop_instance_uid(&self) -> Option<String> {
        self.string(tags::SOP_INSTANCE_UID).or_else(|| {
            let uid = self.object.meta().media_storage_sop_instance_uid();
            (!uid.is_empty()).then(|| uid.to_string())
        })
    }

    /// SOP Class UID, falling back to the meta group's.
    pub fn sop_class_uid(&self) -> Option<String> {
        self.string(tags::SOP_CLASS_UID).or_else(|| {
            let uid = self.object.meta().media_storage_sop_class_uid();
            (!uid.is_empty()).then(|| uid.to_string())
        })
    }

    /// Modality, if present and not empty.
    pub fn modality(&self) -> Option<String> {
        self.string(tags::MODALITY)
    }

    /// A text element, trimmed; `None` when absent, empty or not text.
    pub fn string(&self, tag: Tag) -> Option<String> {
        let value = self.object.get(tag)?.value().to_str().ok()?;
        let trimmed = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    }

    /// Number of Frames: 1 when absent; a typed error for garbage such as `1A`.
    /// A value of 0 is read as 1, as other toolkits do.
    pub fn number_of_frames(&self) -> Result<u32, HeaderError> {
        match self.uint(tags::NUMBER_OF_FRAMES, "NumberOfFrames")? {
            None | Some(0) => Ok(1),
            Some(n) => Ok(n),
        }
    }

    /// An unsigned integer element (US, UL, IS, …) read strictly; `None` when absent
    /// or empty.
    pub fn uint(&self, tag: Tag, name: &'static str) -> Result<Option<u32>, HeaderError> {
        let Some(element) = self.object.get(tag) else {
            return Ok(None);
        };
        let Value::Primitive(value) = element.value() else {
            return Err(invalid(name, "a sequence", "not a number"));
        };
        int_of(value, name)?
            .map(|v| u32::try_from(v).map_err(|_| invalid(name, &v.to_string(), "out of range")))
            .transpose()
    }

    /// Like [`Instance::uint`], but a missing element is an error naming it.
    pub fn required_uint(&self, tag: Tag, name: &'static str) -> Result<u32, HeaderError> {
        self.uint(tag, name)?.ok_or(HeaderError::Missing { name })
    }
}

fn invalid(name: &'static str, value: &str, reason: &'static str) -> HeaderError {
    HeaderError::Invalid {
        name,
        value: value.chars().take(64).collect(),
        reason,
    }
}

/// The first value of a numeric or IS/DS-like text element, strictly parsed.
fn int_of(value: &PrimitiveValue, name: &'static str) -> Result<Option<i64>, HeaderError> {
    let text: Cow<'_, str> = match value {
        PrimitiveValue::Empty => return Ok(None),
        PrimitiveValue::U16(v) => return Ok(v.first().map(|&x| i64::from(x))),
        PrimitiveValue::I16(v) => return Ok(v.first().map(|&x| i64::from(x))),
        PrimitiveValue::U32(v) => return Ok(v.first().map(|&x| i64::from(x))),
        PrimitiveValue::I32(v) => return Ok(v.first().map(|&x| i64::from(x))),
        PrimitiveValue::Strs(v) => match v.first() {
            Some(s) => Cow::Borrowed(s.as_str()),
            None => return Ok(None),
        },
        PrimitiveValue::Str(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_str().into_owned()),
    };
    let first = text.split('\\').next().unwrap_or_default();
    let trimmed = first.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if trimmed.is_empty() {
        return Ok(None);
    }
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let ok = {
        let unsigned = digits.strip_prefix('-').unwrap_or(digits);
        !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit())
    };
    if !ok {
        return Err(invalid(name, trimmed, "not an integer"));
    }
    digits
        .parse::<i64>()
        .map(Some)
        .map_err(|_| invalid(name, trimmed, "out of range"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, VR, dicom_value};
    use dicom_object::meta::FileMetaTableBuilder;

    fn instance_with(elements: Vec<DataElement<InMemDicomObject>>) -> Instance {
        let object = InMemDicomObject::from_element_iter(elements)
            .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
            .unwrap();
        Instance::from_object(PathBuf::from("mem"), object)
    }

    #[test]
    fn number_of_frames_rejects_garbage() {
        let inst = instance_with(vec![DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            dicom_value!(Str, "1A"),
        )]);
        let err = inst.number_of_frames().unwrap_err();
        assert!(err.to_string().contains("NumberOfFrames"), "{err}");
    }

    #[test]
    fn number_of_frames_defaults_and_parses() {
        assert_eq!(instance_with(vec![]).number_of_frames(), Ok(1));
        let inst = instance_with(vec![DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            dicom_value!(Str, " 15 "),
        )]);
        assert_eq!(inst.number_of_frames(), Ok(15));
    }

    /// An implicit VR LE data set with no preamble and no meta group: (0008,0016),
    /// (0028,0010/0011/0100/0101/0103) and 2x2 16-bit Pixel Data.
    fn bare_implicit_dataset() -> Vec<u8> {
        let mut b = Vec::new();
        let mut put = |group: u16, element: u16, value: &[u8]| {
            b.extend(group.to_le_bytes());
            b.extend(element.to_le_bytes());
            b.extend((value.len() as u32).to_le_bytes());
            b.extend(value);
        };
        put(0x0008, 0x0016, b"1.2.840.10008.5.1.4.1.1.7\0");
        put(0x0028, 0x0010, &2u16.to_le_bytes());
        put(0x0028, 0x0011, &2u16.to_le_bytes());
        put(0x0028, 0x0100, &16u16.to_le_bytes());
        put(0x0028, 0x0101, &12u16.to_le_bytes());
        put(0x0028, 0x0103, &1u16.to_le_bytes());
        put(0x7FE0, 0x0010, &[0xFF, 0x0F, 1, 0, 2, 0, 0x00, 0x08]);
        b
    }

    #[test]
    fn guesses_the_syntax_of_a_bare_data_set() {
        let bytes = bare_implicit_dataset();
        let inst = open_bytes(Path::new("bare"), &bytes, ReadMode::Full).unwrap();
        assert_eq!(inst.transfer_syntax_uid(), uids::IMPLICIT_VR_LITTLE_ENDIAN);
        let frame = crate::imaging::pixels::decode_frame(&inst, 0).unwrap();
        assert_eq!(
            frame.samples,
            crate::imaging::pixels::Samples::I16(vec![-1, 1, 2, -2048])
        );
        let header = open_bytes(Path::new("bare"), &bytes, ReadMode::HeaderOnly).unwrap();
        assert!(header.has_pixel_data() && !header.pixel_data_loaded());
        assert_eq!(
            header.pixel_data.unwrap().offset,
            Some(bytes.len() as u64 - 8)
        );
    }

    #[test]
    fn truncated_pixel_data_opens_and_says_so() {
        let bytes = bare_implicit_dataset();
        let cut = &bytes[..bytes.len() - 3];
        let inst = open_bytes(Path::new("cut"), cut, ReadMode::Full).unwrap();
        let err = crate::imaging::pixels::decode_frame(&inst, 0).unwrap_err();
        assert!(err.to_string().contains("cut short"), "{err}");
        assert!(
            open_bytes(
                Path::new("text"),
                b"hello, world, not DICOM",
                ReadMode::Full
            )
            .is_err()
        );
    }

    #[test]
    fn missing_required_element_is_named() {
        let inst = instance_with(vec![]);
        let err = inst
            .required_uint(tags::BITS_ALLOCATED, "BitsAllocated")
            .unwrap_err();
        assert_eq!(
            err,
            HeaderError::Missing {
                name: "BitsAllocated"
            }
        );
        assert!(!inst.has_pixel_data());
    }
}
