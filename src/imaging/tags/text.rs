//! Display text for the tag tree: values cut to [`MAX_VALUE_CHARS`], binary values as a
//! byte count and a hex preview, transfer syntax UIDs with their names, and readable
//! element names made from dictionary keywords. Pure functions; never logs values.

use std::fmt::Write as _;

use dicom_core::VR;
use dicom_core::value::PrimitiveValue;
use dicom_encoding::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::MAX_VALUE_CHARS;

/// Leading bytes of a binary value shown in hex.
const HEX_PREVIEW_BYTES: usize = 8;

/// Builds display text up to [`MAX_VALUE_CHARS`], then marks the cut with "…".
struct Bounded {
    text: String,
    chars: usize,
    cut: bool,
}

impl Bounded {
    fn new() -> Self {
        Self {
            text: String::new(),
            chars: 0,
            cut: false,
        }
    }

    fn full(&self) -> bool {
        self.cut
    }

    /// Appends `s` with control characters as spaces, up to the limit.
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            if self.chars >= MAX_VALUE_CHARS {
                self.cut = true;
                return;
            }
            self.text.push(if c.is_control() { ' ' } else { c });
            self.chars += 1;
        }
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push('…');
        }
        self.text
    }
}

pub(super) fn bounded_text(s: &str) -> String {
    let mut out = Bounded::new();
    out.push(s);
    out.finish()
}

/// Pushes `values` joined with `\` until the text is full.
fn join<T>(out: &mut Bounded, values: &[T], mut show: impl FnMut(&T) -> String) {
    for (index, value) in values.iter().enumerate() {
        if out.full() {
            return;
        }
        if index > 0 {
            out.push("\\");
        }
        out.push(&show(value));
    }
}

pub(super) fn value_text(vr: VR, value: &PrimitiveValue) -> String {
    use PrimitiveValue as P;
    if matches!(
        vr,
        VR::OB | VR::OW | VR::OD | VR::OF | VR::OL | VR::OV | VR::UN
    ) {
        return binary_text(value);
    }
    let mut out = Bounded::new();
    let trim = |s: &str| s.trim_end_matches([' ', '\0']).to_string();
    match value {
        P::Empty => {}
        P::Str(s) => out.push(&trim(s)),
        P::Strs(v) => join(&mut out, v, |s| trim(s)),
        P::Tags(v) => join(&mut out, v, |t| format!("({:04X},{:04X})", t.0, t.1)),
        P::U8(v) => join(&mut out, v, u8::to_string),
        P::I16(v) => join(&mut out, v, i16::to_string),
        P::U16(v) => join(&mut out, v, u16::to_string),
        P::I32(v) => join(&mut out, v, i32::to_string),
        P::U32(v) => join(&mut out, v, u32::to_string),
        P::I64(v) => join(&mut out, v, i64::to_string),
        P::U64(v) => join(&mut out, v, u64::to_string),
        P::F32(v) => join(&mut out, v, f32::to_string),
        P::F64(v) => join(&mut out, v, f64::to_string),
        P::Date(v) => join(&mut out, v, |d| d.to_encoded()),
        P::Time(v) => join(&mut out, v, |t| t.to_encoded()),
        P::DateTime(v) => join(&mut out, v, |t| t.to_encoded()),
    }
    if vr == VR::UI
        && !out.full()
        && let Some(ts) = TransferSyntaxRegistry.get(out.text.trim_end_matches('\0'))
    {
        out.push(&format!(" ({})", ts.name()));
    }
    out.finish()
}

/// "<N bytes> 01 02 … " for binary values, without copying more than the preview.
fn binary_text(value: &PrimitiveValue) -> String {
    use PrimitiveValue as P;
    let bytes = value.calculate_byte_len();
    let mut preview: Vec<u8> = Vec::with_capacity(HEX_PREVIEW_BYTES);
    fn take<T: Copy, const N: usize>(
        preview: &mut Vec<u8>,
        values: &[T],
        to_bytes: impl Fn(T) -> [u8; N],
    ) {
        for v in values.iter().take(HEX_PREVIEW_BYTES.div_ceil(N)) {
            preview.extend(to_bytes(*v));
        }
    }
    match value {
        P::U8(v) => take(&mut preview, v, |x| [x]),
        P::I16(v) => take(&mut preview, v, i16::to_le_bytes),
        P::U16(v) => take(&mut preview, v, u16::to_le_bytes),
        P::I32(v) => take(&mut preview, v, i32::to_le_bytes),
        P::U32(v) => take(&mut preview, v, u32::to_le_bytes),
        P::I64(v) => take(&mut preview, v, i64::to_le_bytes),
        P::U64(v) => take(&mut preview, v, u64::to_le_bytes),
        P::F32(v) => take(&mut preview, v, f32::to_le_bytes),
        P::F64(v) => take(&mut preview, v, f64::to_le_bytes),
        P::Str(s) => preview.extend(s.bytes().take(HEX_PREVIEW_BYTES)),
        P::Strs(v) => {
            let bytes = v.iter().enumerate().flat_map(|(i, s)| {
                let separator: &[u8] = if i > 0 { b"\\" } else { b"" };
                separator.iter().chain(s.as_bytes()).copied()
            });
            preview.extend(bytes.take(HEX_PREVIEW_BYTES));
        }
        _ => {}
    }
    preview.truncate(HEX_PREVIEW_BYTES);
    let mut text = format!("<{bytes} bytes>");
    for b in &preview {
        let _ = write!(text, " {b:02X}");
    }
    if bytes > preview.len() {
        text.push_str(" …");
    }
    text
}

/// PS3.6 names that a keyword does not spell out (possessives and parentheses).
const NAME_EXCEPTIONS: &[(&str, &str)] = &[
    ("PatientName", "Patient's Name"),
    ("PatientBirthDate", "Patient's Birth Date"),
    ("PatientBirthTime", "Patient's Birth Time"),
    ("PatientSex", "Patient's Sex"),
    ("PatientAge", "Patient's Age"),
    ("PatientSize", "Patient's Size"),
    ("PatientWeight", "Patient's Weight"),
    ("PatientAddress", "Patient's Address"),
    ("PatientMotherBirthName", "Patient's Mother's Birth Name"),
    ("PatientTelephoneNumbers", "Patient's Telephone Numbers"),
    ("ReferringPhysicianName", "Referring Physician's Name"),
    ("PerformingPhysicianName", "Performing Physician's Name"),
    ("OperatorsName", "Operators' Name"),
    ("PhysiciansOfRecord", "Physician(s) of Record"),
    (
        "NameOfPhysiciansReadingStudy",
        "Name of Physician(s) Reading Study",
    ),
    ("GenericGroupLength", "Group Length"),
];

/// "SOPInstanceUID" -> "SOP Instance UID"; "PatientName" -> "Patient's Name".
pub(super) fn readable_name(keyword: &str) -> String {
    if let Some((_, name)) = NAME_EXCEPTIONS.iter().find(|(k, _)| *k == keyword) {
        return (*name).to_string();
    }
    let chars: Vec<char> = keyword.chars().collect();
    let mut name = String::with_capacity(keyword.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = if c.is_ascii_uppercase() {
                prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower)
            } else {
                c.is_ascii_digit() && prev.is_ascii_alphabetic()
            };
            if boundary {
                name.push(' ');
            }
        }
        name.push(c);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_readable_names() {
        assert_eq!(readable_name("SOPInstanceUID"), "SOP Instance UID");
        assert_eq!(
            readable_name("ImagePositionPatient"),
            "Image Position Patient"
        );
        assert_eq!(
            readable_name("XRay3DFrameTypeSequence"),
            "X Ray 3D Frame Type Sequence"
        );
        assert_eq!(readable_name("PatientBirthDate"), "Patient's Birth Date");
    }

    #[test]
    fn numbers_join_and_stop_at_the_limit() {
        let many = PrimitiveValue::F32((0..10_000).map(|v| v as f32).collect());
        let text = value_text(VR::FL, &many);
        assert!(text.starts_with("0\\1\\2\\3"), "{text}");
        assert_eq!(text.chars().count(), MAX_VALUE_CHARS + 1);
        let words = PrimitiveValue::U16(
            [0x0201, 0x0403, 0x0605, 0x0807, 0x0A09]
                .into_iter()
                .collect(),
        );
        assert_eq!(
            value_text(VR::OW, &words),
            "<10 bytes> 01 02 03 04 05 06 07 08 …"
        );
        let text = PrimitiveValue::Str("line one\r\nline two  ".into());
        assert_eq!(value_text(VR::LT, &text), "line one  line two");
    }
}
