//! DICOM building blocks the SEG and SR writers share: code sequences, the Patient,
//! General Study and equipment modules copied from the source series, typed elements
//! the generic [`DatasetBuilder`] lacks, CIELab colours, and lenient readers of
//! nested values (for import).

use dicom_core::header::Tag;
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use super::{Authoring, Code, SourceSeries};
use crate::imaging::writer::DatasetBuilder;

/// Manufacturer, ManufacturerModelName and what Enhanced General Equipment needs.
pub const MANUFACTURER: &str = "Tessera";
pub const MODEL: &str = "Tessera";
/// A software device has no serial number; this names the build instead.
pub const DEVICE_SERIAL: &str = "TESSERA";

/// At most `max` characters (LO: 64, SH: 16), cut at a character boundary.
pub fn cut(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// A user name as a Person Name (PN): kept when it already has components, else
/// the family-name component (`alice` → `alice^`, which validators do not take for the
/// retired free-form name); backslashes (the value separator) dropped; at most 64.
pub fn person_name(name: &str) -> String {
    let name: String = name.trim().chars().filter(|c| *c != '\\').collect();
    let name = if name.contains('^') || name.is_empty() {
        name
    } else {
        format!("{name}^")
    };
    cut(&name, 64)
}

/// One code sequence item. Codes longer than 16 characters go to LongCodeValue.
pub fn code_item(code: &Code) -> DatasetBuilder {
    let b = DatasetBuilder::new();
    let b = if code.value.chars().count() > 16 {
        b.text(tags::LONG_CODE_VALUE, VR::UC, &code.value)
    } else {
        b.text(tags::CODE_VALUE, VR::SH, &code.value)
    };
    b.text(
        tags::CODING_SCHEME_DESIGNATOR,
        VR::SH,
        &cut(&code.scheme, 16),
    )
    .text(tags::CODE_MEANING, VR::LO, &cut(&code.meaning, 64))
}

/// `tag` as a one-item code sequence.
pub fn code_seq(b: DatasetBuilder, tag: Tag, code: &Code) -> DatasetBuilder {
    b.sequence(tag, vec![code_item(code)])
}

pub fn us(tag: Tag, values: &[u16]) -> InMemElement {
    DataElement::new(
        tag,
        VR::US,
        PrimitiveValue::U16(values.iter().copied().collect()),
    )
}

pub fn ul(tag: Tag, values: &[u32]) -> InMemElement {
    DataElement::new(
        tag,
        VR::UL,
        PrimitiveValue::U32(values.iter().copied().collect()),
    )
}

pub fn fl(tag: Tag, values: &[f32]) -> InMemElement {
    DataElement::new(
        tag,
        VR::FL,
        PrimitiveValue::F32(values.iter().copied().collect()),
    )
}

pub fn fd(tag: Tag, values: &[f64]) -> InMemElement {
    DataElement::new(
        tag,
        VR::FD,
        PrimitiveValue::F64(values.iter().copied().collect()),
    )
}

pub fn at(tag: Tag, value: Tag) -> InMemElement {
    DataElement::new(
        tag,
        VR::AT,
        PrimitiveValue::Tags(std::iter::once(value).collect()),
    )
}

/// Declares Tessera's local coding scheme (free-text labels) in the Coding Scheme
/// Identification Sequence (SOP Common), as PS3.3 C.12.1.1.5 asks of private schemes.
pub fn local_scheme(b: DatasetBuilder) -> DatasetBuilder {
    b.sequence(
        tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE,
        vec![
            DatasetBuilder::new()
                .text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, Code::LOCAL_SCHEME)
                .text(tags::CODING_SCHEME_NAME, VR::ST, "Tessera free-text labels")
                .text(
                    tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION,
                    VR::ST,
                    "Tessera",
                ),
        ],
    )
}

/// SOP Common's character set (UTF-8: labels and names may be anything) and the
/// Patient and General Study modules, copied from the source series.
pub fn patient_and_study(b: DatasetBuilder, source: &SourceSeries) -> DatasetBuilder {
    b.text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192")
        .text(tags::PATIENT_NAME, VR::PN, &source.patient.name)
        .text(tags::PATIENT_ID, VR::LO, &source.patient.id)
        .text(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            &source.patient_birth_date.0,
        )
        .text(tags::PATIENT_SEX, VR::CS, &source.patient_sex)
        .text(tags::STUDY_INSTANCE_UID, VR::UI, &source.study_instance_uid)
        .text(tags::STUDY_DATE, VR::DA, &source.study_date)
        .text(tags::STUDY_TIME, VR::TM, &source.study_time)
        .text(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            &source.referring_physician,
        )
        .text(tags::STUDY_ID, VR::SH, &source.study_id)
        .text(tags::ACCESSION_NUMBER, VR::SH, &source.accession_number)
}

/// General Series (new series), General and Enhanced General Equipment, and the
/// instance's identity and creation time.
pub fn series_and_equipment(
    b: DatasetBuilder,
    modality: &str,
    sop_class: &str,
    who: &Authoring,
) -> DatasetBuilder {
    b.text(tags::SOP_CLASS_UID, VR::UI, sop_class)
        .text(tags::SOP_INSTANCE_UID, VR::UI, &who.sop_instance_uid)
        .text(tags::INSTANCE_CREATION_DATE, VR::DA, &who.date)
        .text(tags::INSTANCE_CREATION_TIME, VR::TM, &who.time)
        .text(tags::MODALITY, VR::CS, modality)
        .text(tags::SERIES_INSTANCE_UID, VR::UI, &who.series_uid)
        .is(tags::SERIES_NUMBER, who.series_number)
        .text(tags::SERIES_DATE, VR::DA, &who.date)
        .text(tags::SERIES_TIME, VR::TM, &who.time)
        .text(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            &cut(&who.series_description, 64),
        )
        .is(tags::INSTANCE_NUMBER, who.instance_number)
        .text(tags::CONTENT_DATE, VR::DA, &who.date)
        .text(tags::CONTENT_TIME, VR::TM, &who.time)
        .text(tags::MANUFACTURER, VR::LO, MANUFACTURER)
        .text(tags::MANUFACTURER_MODEL_NAME, VR::LO, MODEL)
        .text(tags::DEVICE_SERIAL_NUMBER, VR::LO, DEVICE_SERIAL)
        .text(tags::SOFTWARE_VERSIONS, VR::LO, env!("CARGO_PKG_VERSION"))
}

/// A Referenced Series item: the series and the instances of `slices` it holds.
pub fn referenced_series_item<'a>(
    series_uid: &str,
    instances: impl Iterator<Item = (&'a str, &'a str)>,
) -> DatasetBuilder {
    let mut seen = std::collections::BTreeSet::new();
    let items: Vec<DatasetBuilder> = instances
        .filter(|(_, sop)| seen.insert(*sop))
        .map(|(class, sop)| {
            DatasetBuilder::new()
                .text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, class)
                .text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, sop)
        })
        .collect();
    DatasetBuilder::new()
        .sequence(tags::REFERENCED_INSTANCE_SEQUENCE, items)
        .text(tags::SERIES_INSTANCE_UID, VR::UI, series_uid)
}

// ---- colours ----------------------------------------------------------------------

/// sRGB → linear-light XYZ under D50 (Bradford-adapted sRGB, as ICC profiles do).
const XYZ_D50_FROM_LINEAR_SRGB: [[f64; 3]; 3] = [
    [0.436_074_7, 0.385_064_9, 0.143_080_4],
    [0.222_504_5, 0.716_878_6, 0.060_616_9],
    [0.013_932_2, 0.097_104_5, 0.714_173_3],
];
const WHITE_D50: [f64; 3] = [0.964_22, 1.0, 0.825_21];

fn lab_f(t: f64) -> f64 {
    let d: f64 = 6.0 / 29.0;
    if t > d * d * d {
        t.cbrt()
    } else {
        t / (3.0 * d * d) + 4.0 / 29.0
    }
}

fn lab_f_inv(t: f64) -> f64 {
    let d: f64 = 6.0 / 29.0;
    if t > d {
        t * t * t
    } else {
        3.0 * d * d * (t - 4.0 / 29.0)
    }
}

/// RecommendedDisplayCIELabValue of an sRGB colour: CIELab (D50, as the ICC PCS)
/// scaled to 0..65535 (PS3.3 C.10.7.1.1).
pub fn cielab_of_srgb(rgb: [u8; 3]) -> [u16; 3] {
    let linear = rgb.map(|c| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    let xyz =
        XYZ_D50_FROM_LINEAR_SRGB.map(|row| row.iter().zip(linear).map(|(m, c)| m * c).sum::<f64>());
    let f = [0, 1, 2].map(|n| lab_f(xyz[n] / WHITE_D50[n]));
    let (l, a, b) = (
        116.0 * f[1] - 16.0,
        500.0 * (f[0] - f[1]),
        200.0 * (f[1] - f[2]),
    );
    let scale = |v: f64| v.round().clamp(0.0, 65535.0) as u16;
    [
        scale(l * 65535.0 / 100.0),
        scale((a + 128.0) * 65535.0 / 255.0),
        scale((b + 128.0) * 65535.0 / 255.0),
    ]
}

/// The sRGB colour of a scaled CIELab value (the inverse of [`cielab_of_srgb`]).
pub fn srgb_of_cielab(lab: [u16; 3]) -> [u8; 3] {
    let l = f64::from(lab[0]) * 100.0 / 65535.0;
    let a = f64::from(lab[1]) * 255.0 / 65535.0 - 128.0;
    let b = f64::from(lab[2]) * 255.0 / 65535.0 - 128.0;
    let fy = (l + 16.0) / 116.0;
    let f = [fy + a / 500.0, fy, fy - b / 200.0];
    let xyz = [0, 1, 2].map(|n| lab_f_inv(f[n]) * WHITE_D50[n]);
    let inv = invert3(&XYZ_D50_FROM_LINEAR_SRGB);
    inv.map(|row| {
        let c: f64 = row.iter().zip(xyz).map(|(m, v)| m * v).sum();
        let c = c.clamp(0.0, 1.0);
        let g = if c <= 0.003_130_8 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (g * 255.0).round().clamp(0.0, 255.0) as u8
    })
}

fn invert3(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    [
        [
            c(1, 1, 2, 2) / det,
            -c(0, 1, 2, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 0, 2, 2) / det,
            c(0, 0, 2, 2) / det,
            -c(0, 0, 1, 2) / det,
        ],
        [
            c(1, 0, 2, 1) / det,
            -c(0, 0, 2, 1) / det,
            c(0, 0, 1, 1) / det,
        ],
    ]
}

// ---- reading ----------------------------------------------------------------------

/// The items of a sequence (empty when absent or not a sequence).
pub fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// The first item of a sequence.
pub fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items(obj, tag).first()
}

/// A text value, trimmed; `None` when absent or empty.
pub fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let v = obj.get(tag)?.to_str().ok()?;
    let v = v.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!v.is_empty()).then(|| v.to_owned())
}

/// Numeric values (DS, FL, FD, US, IS, …).
pub fn numbers(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.get(tag)?
        .to_multi_float64()
        .ok()
        .filter(|v| !v.is_empty())
}

/// The first numeric value as an integer.
pub fn integer(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

/// The code of a code sequence item.
pub fn code_of(item: &InMemDicomObject) -> Option<Code> {
    Some(Code {
        scheme: text(item, tags::CODING_SCHEME_DESIGNATOR)?,
        value: text(item, tags::CODE_VALUE)
            .or_else(|| text(item, tags::LONG_CODE_VALUE))
            .or_else(|| text(item, tags::URN_CODE_VALUE))?,
        meaning: text(item, tags::CODE_MEANING).unwrap_or_default(),
    })
}

/// The code in the one-item sequence `tag`.
pub fn code_in(obj: &InMemDicomObject, tag: Tag) -> Option<Code> {
    code_of(first_item(obj, tag)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cielab_round_trips_and_matches_known_values() {
        // White is L* = 100, a* = b* = 0 (D50 PCS): 65535, 32896, 32896.
        let w = cielab_of_srgb([255, 255, 255]);
        assert!(
            w[0] >= 65530
                && (i32::from(w[1]) - 32896).abs() < 40
                && (i32::from(w[2]) - 32896).abs() < 40,
            "{w:?}"
        );
        for rgb in [
            [255, 0, 0],
            [0, 128, 255],
            [12, 200, 40],
            [0, 0, 0],
            [250, 250, 10],
        ] {
            let back = srgb_of_cielab(cielab_of_srgb(rgb));
            for n in 0..3 {
                assert!(
                    (i32::from(back[n]) - i32::from(rgb[n])).abs() <= 1,
                    "{rgb:?} -> {back:?}"
                );
            }
        }
    }
}
