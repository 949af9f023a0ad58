//! Encapsulated Pixel Data: which fragments make up frame N (PS3.5 A.4).
//!
//! Owns the frame -> fragment mapping: Extended Offset Table, then Basic Offset
//! Table, then (when both are absent or unusable) one fragment per frame, all
//! fragments for a single frame, or frame boundaries found from codec start markers.

use std::borrow::Cow;

use super::DecodeError;

/// How a codec's frame starts, to find frame boundaries without an offset table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Jpeg,
    JpegLs,
    Jpeg2000,
    Rle,
}

impl Codec {
    fn starts_frame(self, fragment: &[u8]) -> bool {
        match self {
            Codec::Jpeg | Codec::JpegLs => fragment.starts_with(&[0xFF, 0xD8]),
            Codec::Jpeg2000 => {
                fragment.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
                    || fragment.starts_with(&[0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20])
            }
            // RLE header: segment count 1..=15, first offset 64.
            Codec::Rle => {
                let count = fragment
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes);
                let first = fragment
                    .get(4..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes);
                matches!(count, Some(1..=15)) && first == Some(64)
            }
        }
    }
}

/// The bytes of frame `frame` (0-based) out of `frames`, borrowed when the frame is a
/// single fragment. `offsets` is the Basic Offset Table; `extended` the Extended
/// Offset Table (offsets) when present.
pub fn frame_bytes<'a>(
    fragments: &'a [Vec<u8>],
    offsets: &[u32],
    extended: Option<&[u64]>,
    frame: u32,
    frames: u32,
    codec: Codec,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let range = frame_fragment_range(fragments, offsets, extended, frame, frames, codec)?;
    let Some(parts) = fragments.get(range) else {
        return Err(frame_error(frame, "fragment index out of range"));
    };
    Ok(match parts {
        [single] => Cow::Borrowed(single.as_slice()),
        many => Cow::Owned(many.concat()),
    })
}

fn frame_error(frame: u32, reason: &str) -> DecodeError {
    DecodeError::Frame {
        frame,
        reason: reason.to_string(),
    }
}

/// Indices of the fragments of `frame`.
fn frame_fragment_range(
    fragments: &[Vec<u8>],
    offsets: &[u32],
    extended: Option<&[u64]>,
    frame: u32,
    frames: u32,
    codec: Codec,
) -> Result<std::ops::Range<usize>, DecodeError> {
    if fragments.is_empty() {
        return Err(frame_error(frame, "no pixel data fragments"));
    }
    let f = frame as usize;
    // Item start positions relative to the first fragment item (8-byte headers).
    let mut starts = Vec::with_capacity(fragments.len());
    let mut pos = 0u64;
    for fragment in fragments {
        starts.push(pos);
        pos += 8 + fragment.len() as u64;
    }
    let from_table = |table: &[u64]| -> Option<std::ops::Range<usize>> {
        if table.len() != frames as usize || !table.is_sorted() {
            return None;
        }
        let begin = starts.binary_search(table.get(f)?).ok()?;
        let end = match table.get(f + 1) {
            Some(next) => starts.binary_search(next).ok()?,
            None => fragments.len(),
        };
        (begin < end).then_some(begin..end)
    };
    if let Some(range) = extended.and_then(from_table) {
        return Ok(range);
    }
    if !offsets.is_empty() {
        let table: Vec<u64> = offsets.iter().map(|&o| u64::from(o)).collect();
        if let Some(range) = from_table(&table) {
            return Ok(range);
        }
    }
    if frames == 1 {
        return Ok(0..fragments.len());
    }
    if fragments.len() == frames as usize {
        return Ok(f..f + 1);
    }
    if fragments.len() < frames as usize {
        return Err(frame_error(
            frame,
            &format!(
                "{} fragments for {frames} frames and no offset table",
                fragments.len()
            ),
        ));
    }
    // More fragments than frames, no usable table: frames begin at start markers.
    let frame_starts: Vec<usize> = fragments
        .iter()
        .enumerate()
        .filter(|(_, fragment)| codec.starts_frame(fragment))
        .map(|(i, _)| i)
        .collect();
    if frame_starts.len() != frames as usize || frame_starts.first() != Some(&0) {
        return Err(frame_error(
            frame,
            &format!(
                "cannot split {} fragments into {frames} frames without an offset table",
                fragments.len()
            ),
        ));
    }
    let begin = frame_starts.get(f).copied().unwrap_or(0);
    let end = frame_starts.get(f + 1).copied().unwrap_or(fragments.len());
    Ok(begin..end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn jpeg(n: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.resize(len, n);
        v
    }

    #[test]
    fn uses_the_basic_offset_table() {
        let frags = vec![jpeg(1, 10), vec![2; 6], jpeg(3, 4)];
        // item starts: 0, 18, 32
        let got = frame_bytes(&frags, &[0, 32], None, 0, 2, Codec::Jpeg).unwrap();
        assert_eq!(got.len(), 16);
        let got = frame_bytes(&frags, &[0, 32], None, 1, 2, Codec::Jpeg).unwrap();
        assert_eq!(&*got, &frags[2][..]);
    }

    #[test]
    fn splits_on_start_markers_without_a_table() {
        let frags = vec![jpeg(1, 10), vec![2; 6], jpeg(3, 4), vec![4; 2]];
        let f1 = frame_bytes(&frags, &[], None, 1, 2, Codec::Jpeg).unwrap();
        assert_eq!(f1.len(), 6);
        assert!(frame_bytes(&frags, &[], None, 0, 3, Codec::Jpeg).is_err());
    }

    #[test]
    fn single_frame_concatenates_everything() {
        let frags = vec![vec![1, 2], vec![3]];
        let got = frame_bytes(&frags, &[], None, 0, 1, Codec::Jpeg2000).unwrap();
        assert_eq!(&*got, &[1, 2, 3]);
    }

    #[test]
    fn bad_tables_fall_back() {
        let frags = vec![jpeg(1, 4), jpeg(2, 4)];
        let got = frame_bytes(&frags, &[0, 999], None, 1, 2, Codec::Jpeg).unwrap();
        assert_eq!(got.len(), 4);
    }
}
