//! Tests of the lossless JPEG decoder against a small T.81 Annex H encoder written
//! here (round trips: the truth for lossless data) and against jpeg-decoder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Huffman code length of each difference category 0..=16 (a valid prefix code
/// with codes longer than the lookup, so the slow path runs too).
const LENGTHS_SHORT_SMALL: [u8; 17] = [2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tables {
    /// Small categories get short codes.
    SmallShort,
    /// Large categories get short codes (many 9..14-bit codes + extra bits).
    LargeShort,
    /// Component c uses table c % 2.
    Mixed,
}

#[derive(Clone, Copy, Debug)]
struct Params {
    precision: u8,
    predictor: u8,
    point_transform: u8,
    /// Lines per restart interval (0: none).
    restart_rows: usize,
    components: usize,
    /// All components in one scan, else one scan each.
    interleaved: bool,
    tables: Tables,
}

impl Params {
    fn gray(precision: u8, predictor: u8) -> Params {
        Params {
            precision,
            predictor,
            point_transform: 0,
            restart_rows: 0,
            components: 1,
            interleaved: true,
            tables: Tables::SmallShort,
        }
    }
}

fn lengths(table: usize) -> [u8; 17] {
    let mut l = LENGTHS_SHORT_SMALL;
    if table == 1 {
        l.reverse();
    }
    l
}

/// DHT body for one table: (counts, values sorted by code length).
fn dht(id: u8, lengths: &[u8; 17]) -> Vec<u8> {
    let mut counts = [0u8; 16];
    let mut values = Vec::new();
    for len in 1..=16u8 {
        for (category, &l) in lengths.iter().enumerate() {
            if l == len {
                counts[usize::from(len) - 1] += 1;
                values.push(category as u8);
            }
        }
    }
    let mut body = vec![id];
    body.extend_from_slice(&counts);
    body.extend_from_slice(&values);
    body
}

/// Canonical codes for `lengths`, as the decoder derives them from the DHT.
fn codes(lengths: &[u8; 17]) -> [(u32, u8); 17] {
    let mut out = [(0, 0); 17];
    let mut code = 0u32;
    for len in 1..=16u8 {
        for (category, &l) in lengths.iter().enumerate() {
            if l == len {
                out[category] = (code, len);
                code += 1;
            }
        }
        code <<= 1;
    }
    out
}

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, len: u8) {
        if len == 0 {
            return;
        }
        self.acc = (self.acc << len) | u64::from(value & ((1u32 << len) - 1));
        self.n += u32::from(len);
        while self.n >= 8 {
            let byte = (self.acc >> (self.n - 8)) as u8;
            self.out.push(byte);
            if byte == 0xFF {
                self.out.push(0);
            }
            self.n -= 8;
        }
    }

    /// Pads the last byte with ones.
    fn flush(&mut self) {
        let pad = (8 - self.n % 8) % 8;
        self.put((1 << pad) - 1, pad as u8);
    }
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// Encodes interleaved `samples` (values below 2^precision) as lossless JPEG.
fn encode(width: usize, height: usize, samples: &[u16], p: Params) -> Vec<u8> {
    let nc = p.components;
    let mut out = vec![0xFF, 0xD8];
    segment(
        &mut out,
        0xC4,
        &[dht(0, &lengths(0)), dht(1, &lengths(1))].concat(),
    );
    if p.restart_rows > 0 {
        segment(
            &mut out,
            0xDD,
            &((p.restart_rows * width) as u16).to_be_bytes(),
        );
    }
    let mut sof = vec![p.precision];
    sof.extend_from_slice(&(height as u16).to_be_bytes());
    sof.extend_from_slice(&(width as u16).to_be_bytes());
    sof.push(nc as u8);
    for c in 0..nc {
        sof.extend_from_slice(&[c as u8 + 1, 0x11, 0]);
    }
    segment(&mut out, 0xC3, &sof);
    let table_of = |c: usize| match p.tables {
        Tables::SmallShort => 0,
        Tables::LargeShort => 1,
        Tables::Mixed => c % 2,
    };
    let scans: Vec<Vec<usize>> = if p.interleaved {
        vec![(0..nc).collect()]
    } else {
        (0..nc).map(|c| vec![c]).collect()
    };
    let pt = p.point_transform;
    let reduced: Vec<i32> = samples.iter().map(|&v| i32::from(v >> pt)).collect();
    for scan in scans {
        let mut sos = vec![scan.len() as u8];
        for &c in &scan {
            sos.extend_from_slice(&[c as u8 + 1, (table_of(c) as u8) << 4]);
        }
        sos.extend_from_slice(&[p.predictor, 0, pt]);
        segment(&mut out, 0xDA, &sos);
        let mut bits = BitWriter {
            out: Vec::new(),
            acc: 0,
            n: 0,
        };
        let mut rst = 0u8;
        for y in 0..height {
            let restart = p.restart_rows > 0 && y > 0 && y % p.restart_rows == 0;
            if restart {
                bits.flush();
                bits.out.extend_from_slice(&[0xFF, 0xD0 + rst]);
                rst = (rst + 1) % 8;
            }
            let first_line = y == 0 || restart;
            for x in 0..width {
                for &c in &scan {
                    let at = |x: usize, y: usize| reduced[(y * width + x) * nc + c];
                    let prediction = match (x, first_line) {
                        (0, true) => 1 << (p.precision - pt - 1),
                        (0, false) => at(0, y - 1),
                        (_, true) => at(x - 1, y),
                        _ => predict(p.predictor, at(x - 1, y), at(x, y - 1), at(x - 1, y - 1)),
                    };
                    let d = ((at(x, y) - prediction) & 0xFFFF) as u16;
                    let table = codes(&lengths(table_of(c)));
                    if d == 32768 {
                        let (code, len) = table[16];
                        bits.put(code, len);
                        continue;
                    }
                    let ds = i32::from(d as i16);
                    let s = 32 - ds.unsigned_abs().leading_zeros();
                    let extra = if ds >= 0 { ds } else { ds - 1 } as u32;
                    let (code, len) = table[s as usize];
                    bits.put(code, len);
                    bits.put(extra, s as u8);
                }
            }
        }
        bits.flush();
        out.extend_from_slice(&bits.out);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A smooth gradient with noise, `nc` interleaved components, below 2^precision.
fn image(width: usize, height: usize, nc: usize, precision: u8, seed: u64) -> Vec<u16> {
    let max = (1u32 << precision) - 1;
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(width * height * nc);
    for y in 0..height {
        for x in 0..width {
            for c in 0..nc {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state % 64) as u32;
                let base = ((x * 37 + y * 11 + c * 101) as u32 * max / 997) % (max + 1);
                out.push((base.saturating_add(noise)).min(max) as u16);
            }
        }
    }
    out
}

/// Extreme values side by side: every difference category, 16 included at 16 bits.
fn extremes(width: usize, height: usize, precision: u8) -> Vec<u16> {
    let max = ((1u32 << precision) - 1) as u16;
    let half = 1u16 << (precision - 1);
    let pattern = [0, max, 0, half, 0, 1, max, half, half.wrapping_add(1), 2];
    (0..width * height)
        .map(|i| pattern[(i * 7 + i / width) % pattern.len()])
        .collect()
}

fn decode_ok(stream: &[u8], width: usize, height: usize, nc: usize) -> Image {
    decode(stream, width * height * nc)
        .expect("decodes")
        .expect("handled by the fast path")
}

fn reduced(samples: &[u16], pt: u8) -> Vec<u16> {
    samples.iter().map(|&v| (v >> pt) << pt).collect()
}

#[test]
fn round_trips_every_predictor_precision_and_layout() {
    let (w, h) = (13, 9);
    for precision in [2u8, 8, 12, 16] {
        for predictor in 1..=7 {
            for (restart_rows, point_transform) in [(0, 0), (1, 0), (4, 1), (0, precision - 1)] {
                for (components, interleaved, tables) in [
                    (1, true, Tables::SmallShort),
                    (1, true, Tables::LargeShort),
                    (3, true, Tables::Mixed),
                    (3, false, Tables::Mixed),
                ] {
                    let p = Params {
                        precision,
                        predictor,
                        point_transform,
                        restart_rows,
                        components,
                        interleaved,
                        tables,
                    };
                    for samples in [
                        image(w, h, components, precision, 7),
                        extremes(w * components, h, precision),
                    ] {
                        let stream = encode(w, h, &samples, p);
                        let img = decode_ok(&stream, w, h, components);
                        assert_eq!((img.width, img.height), (w as u32, h as u32));
                        assert_eq!(img.components as usize, components);
                        assert_eq!(img.data, reduced(&samples, point_transform), "{p:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn matches_jpeg_decoder_without_point_transform_or_restarts() {
    let (w, h) = (31, 17);
    for precision in [8u8, 12, 16] {
        for predictor in 1..=7 {
            for components in [1, 3] {
                let p = Params {
                    components,
                    tables: Tables::Mixed,
                    ..Params::gray(precision, predictor)
                };
                let samples = image(w, h, components, precision, 99);
                let stream = encode(w, h, &samples, p);
                let ours = decode_ok(&stream, w, h, components).data;
                let mut reference = jpeg_decoder::Decoder::new(&stream[..]);
                let bytes = reference.decode().expect("jpeg-decoder decodes");
                let theirs: Vec<u16> = if precision == 8 {
                    bytes.iter().map(|&b| u16::from(b)).collect()
                } else {
                    bytes
                        .as_chunks::<2>()
                        .0
                        .iter()
                        .map(|b| u16::from_ne_bytes(*b))
                        .collect()
                };
                assert_eq!(ours, theirs, "{p:?}");
                assert_eq!(ours, samples, "{p:?}");
            }
        }
    }
}

#[test]
fn difference_category_16() {
    // 0 then 32768: a difference of exactly 2^15, coded with no extra bits.
    let samples = [0u16, 32768, 65535, 32767, 0, 32768];
    let stream = encode(6, 1, &samples, Params::gray(16, 1));
    assert_eq!(decode_ok(&stream, 6, 1, 1).data, samples);
}

#[test]
fn leaves_unusual_streams_to_jpeg_decoder() {
    let samples = image(8, 4, 1, 8, 3);
    // A restart interval that is not a whole number of lines.
    let mut stream = encode(8, 4, &samples, Params::gray(8, 1));
    let dri = [0xFF, 0xDD, 0, 4, 0, 3];
    stream.splice(2..2, dri);
    assert!(decode(&stream, 32).unwrap().is_none());
    // Predictor 0 (hierarchical mode only).
    let mut stream = encode(8, 4, &samples, Params::gray(8, 1));
    let sos = stream.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    stream[sos + 7] = 0;
    assert!(decode(&stream, 32).unwrap().is_none());
    // Subsampled components.
    let samples = image(8, 4, 3, 8, 3);
    let mut stream = encode(
        8,
        4,
        &samples,
        Params {
            components: 3,
            ..Params::gray(8, 1)
        },
    );
    let sof = stream.windows(2).position(|w| w == [0xFF, 0xC3]).unwrap();
    stream[sof + 11] = 0x21;
    assert!(decode(&stream, 96).unwrap().is_none());
}

#[test]
fn frame_larger_than_expected_is_refused_before_allocating() {
    let samples = image(8, 4, 1, 12, 3);
    let stream = encode(8, 4, &samples, Params::gray(12, 1));
    assert!(decode(&stream, 31).unwrap_err().contains("exceeds"));
}

#[test]
fn damaged_streams_give_errors_or_frames_never_panics() {
    let (w, h) = (16, 8);
    for p in [
        Params::gray(16, 1),
        Params {
            restart_rows: 2,
            ..Params::gray(12, 6)
        },
    ] {
        let samples = image(w, h, 1, p.precision, 5);
        let stream = encode(w, h, &samples, p);
        // A damaged frame header may describe another (smaller) frame: the caller
        // compares it with the DICOM header.
        let consistent = |img: &Image| {
            let n = img.width as usize * img.height as usize * usize::from(img.components);
            img.data.len() == n && n <= w * h
        };
        for cut in 0..stream.len() {
            if let Ok(Some(img)) = decode(&stream[..cut], w * h) {
                assert!(consistent(&img));
            }
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut damaged = stream.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % damaged.len();
                damaged[at] ^= (state >> 32) as u8 | 1;
            }
            if let Ok(Some(img)) = decode(&damaged, w * h) {
                assert!(consistent(&img));
            }
        }
    }
}

#[test]
fn truncated_entropy_data_is_an_error() {
    let samples = image(16, 8, 1, 16, 5);
    let mut stream = encode(16, 8, &samples, Params::gray(16, 1));
    stream.truncate(stream.len() - 40);
    assert!(decode(&stream, 128).is_err());
}

#[test]
fn huffman_tables_are_checked() {
    let mut over = [0u8; 16];
    over[0] = 3; // three 1-bit codes cannot exist
    assert!(Table::new(&over, &[1, 2, 3]).is_err());
    let mut short = [0u8; 16];
    short[1] = 2;
    assert!(Table::new(&short, &[1]).is_err());
}
