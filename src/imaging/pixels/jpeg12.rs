//! A compact sequential-DCT Huffman JPEG decoder for 8 and 12-bit samples (ITU T.81
//! processes 1, 2 and 4), used for JPEG Extended (1.2.840.10008.1.2.4.51), which
//! jpeg-decoder refuses (it has no 12-bit DCT path).
//!
//! Owns marker parsing (DQT, DHT, SOF0/SOF1, DRI, SOS), entropy decoding with restart
//! intervals, dequantisation, a float IDCT, level shift and upsampling to full size.
//! Every read is bounds-checked; truncated entropy data decodes as zeros (a partial
//! image, as libjpeg does); corrupt codes are errors. Like libjpeg, a sequential scan
//! whose spectral selection is not 0..63 is tolerated. No colour conversion.

use std::sync::OnceLock;

/// Natural (row-major) index of the k-th zig-zag coefficient.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// A decoded image: interleaved samples, `components` per pixel.
#[derive(Debug)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub components: u16,
    pub data: Vec<u16>,
}

#[derive(Clone, Default)]
struct Huffman {
    /// Largest code of each length (index 1..=16), -1 when none.
    maxcode: [i32; 18],
    mincode: [i32; 17],
    valptr: [usize; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Result<Self, String> {
        let mut t = Huffman {
            maxcode: [-1; 18],
            values,
            ..Huffman::default()
        };
        let mut code = 0i32;
        let mut k = 0usize;
        for len in 1..=16 {
            let n = usize::from(counts[len - 1]);
            t.valptr[len] = k;
            t.mincode[len] = code;
            code += n as i32;
            k += n;
            if n > 0 {
                t.maxcode[len] = code - 1;
            }
            if code > (1 << len) {
                return Err("invalid Huffman table".into());
            }
            code <<= 1;
        }
        t.maxcode[17] = i32::MAX;
        Ok(t)
    }
}

#[derive(Clone, Copy)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Block grid of the component plane (covers whole MCUs).
    blocks_w: usize,
    blocks_h: usize,
}

/// Entropy-coded bits, with byte unstuffing; a marker or the end of data yields zeros.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    hit_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            hit_marker: false,
        }
    }

    fn fill(&mut self) {
        while self.n <= 56 {
            let mut byte = 0u8;
            if !self.hit_marker {
                match self.data.get(self.pos) {
                    None => self.hit_marker = true,
                    Some(0xFF) => {
                        if self.data.get(self.pos + 1) == Some(&0) {
                            self.pos += 2;
                            byte = 0xFF;
                        } else {
                            self.hit_marker = true;
                        }
                    }
                    Some(&b) => {
                        self.pos += 1;
                        byte = b;
                    }
                }
            }
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    fn take(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        if self.n < k {
            self.fill();
        }
        let v = (self.acc >> (64 - k)) as u32;
        self.acc <<= k;
        self.n -= k;
        v
    }

    fn huffman(&mut self, t: &Huffman) -> Result<u8, String> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.take(1) as i32;
            if code <= t.maxcode[len] {
                let index = t.valptr[len] + (code - t.mincode[len]) as usize;
                return t
                    .values
                    .get(index)
                    .copied()
                    .ok_or_else(|| "Huffman code outside its table".to_string());
            }
        }
        Err("corrupt Huffman code".into())
    }

    /// Receives `s` bits and extends them to a signed value (T.81 F.2.2.1).
    fn receive_extend(&mut self, s: u8) -> i32 {
        if s == 0 {
            return 0;
        }
        let s = u32::from(s.min(16));
        let v = self.take(s) as i32;
        if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    /// Drops buffered bits and consumes an RSTn marker if one is next.
    fn restart(&mut self) {
        self.acc = 0;
        self.n = 0;
        self.hit_marker = false;
        if self.data.get(self.pos) == Some(&0xFF)
            && self
                .data
                .get(self.pos + 1)
                .is_some_and(|m| (0xD0..=0xD7).contains(m))
        {
            self.pos += 2;
        }
    }
}

fn be16(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 2)?;
    Some(usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// Cosine table: `cos((2x+1)u pi/16) * C(u) / 2`.
fn idct_table() -> &'static [[f32; 8]; 8] {
    static TABLE: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [[0f32; 8]; 8];
        for (x, row) in t.iter_mut().enumerate() {
            for (u, cell) in row.iter_mut().enumerate() {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = ((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0;
                *cell = (c * angle.cos() / 2.0) as f32;
            }
        }
        t
    })
}

/// Separable float IDCT of one dequantised block, with level shift and clamping.
fn idct(coef: &[i32; 64], out: &mut [u16], stride: usize, precision: u8) {
    let shift = (1i32 << (precision - 1)) as f32;
    let max = ((1i32 << precision) - 1) as f32;
    if coef.iter().skip(1).all(|&c| c == 0) {
        // Flat block: the DC term alone (C(0)^2 / 4 = 1/8).
        let v = (coef[0] as f32 / 8.0 + shift).round().clamp(0.0, max) as u16;
        for y in 0..8 {
            if let Some(row) = out.get_mut(y * stride..y * stride + 8) {
                row.fill(v);
            }
        }
        return;
    }
    let t = idct_table();
    // Columns first (over v), then rows (over u).
    let mut tmp = [[0f32; 8]; 8];
    for (u, column) in tmp.iter_mut().enumerate() {
        for (y, cell) in column.iter_mut().enumerate() {
            *cell = t[y]
                .iter()
                .zip(coef.iter().skip(u).step_by(8))
                .map(|(&c, &f)| c * f as f32)
                .sum();
        }
    }
    for (y, row) in out.chunks_mut(stride).take(8).enumerate() {
        for (x, px) in row.iter_mut().take(8).enumerate() {
            let s: f32 = t[x]
                .iter()
                .zip(tmp.iter())
                .map(|(&c, column)| c * column[y])
                .sum();
            *px = (s + shift).round().clamp(0.0, max) as u16;
        }
    }
}

/// Decodes a sequential Huffman JPEG. `limit` caps width x height x components.
pub fn decode(data: &[u8], limit: usize) -> Result<Image, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("no JPEG start-of-image marker".into());
    }
    let mut pos = 2;
    let mut quant = [[0i32; 64]; 4];
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut restart_interval = 0usize;
    let mut frame: Option<(u8, usize, usize, Vec<Component>)> = None;
    let mut planes: Vec<Vec<u16>> = Vec::new();
    loop {
        // Next marker (fill bytes and stray data skipped).
        while data.get(pos).is_some_and(|&b| b != 0xFF) {
            pos += 1;
        }
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = data.get(pos + 1) else {
            break; // end of data without EOI: keep what was decoded
        };
        pos += 2;
        match marker {
            0xD9 => break,
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = be16(data, pos).ok_or("truncated marker segment")?;
        let segment = data
            .get(pos + 2..pos + len.max(2))
            .ok_or("truncated marker segment")?;
        match marker {
            0xDB => read_dqt(segment, &mut quant)?,
            0xC4 => read_dht(segment, &mut dc, &mut ac)?,
            0xDD => restart_interval = be16(segment, 0).ok_or("short DRI")?,
            0xC0 | 0xC1 => {
                if frame.is_some() {
                    return Err("more than one frame header".into());
                }
                let f = read_sof(segment, limit)?;
                planes =
                    f.3.iter()
                        .map(|c| vec![0u16; c.blocks_w * 8 * c.blocks_h * 8])
                        .collect();
                frame = Some(f);
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(format!(
                    "JPEG process SOF{} is not supported",
                    marker - 0xC0
                ));
            }
            0xDA => {
                let Some((precision, width, height, comps)) = &frame else {
                    return Err("scan before frame header".into());
                };
                let ctx = ScanContext {
                    precision: *precision,
                    width: *width,
                    height: *height,
                    comps,
                    quant: &quant,
                    dc: &dc,
                    ac: &ac,
                    restart_interval,
                };
                pos = decode_scan(data, pos + len, segment, &ctx, &mut planes)?;
                continue;
            }
            _ => {}
        }
        pos += len;
    }
    let Some((_, width, height, comps)) = frame else {
        return Err("no frame header".into());
    };
    Ok(assemble(width, height, &comps, &planes))
}

fn read_dqt(mut s: &[u8], quant: &mut [[i32; 64]; 4]) -> Result<(), String> {
    while let Some((&pq_tq, rest)) = s.split_first() {
        let (pq, tq) = (pq_tq >> 4, usize::from(pq_tq & 15));
        let width = if pq == 0 { 1 } else { 2 };
        let table = rest.get(..64 * width).ok_or("truncated DQT")?;
        let q = quant.get_mut(tq).ok_or("bad DQT table id")?;
        if width == 1 {
            for (slot, &v) in q.iter_mut().zip(table) {
                *slot = i32::from(v);
            }
        } else {
            for (slot, pair) in q.iter_mut().zip(table.as_chunks::<2>().0) {
                *slot = i32::from(u16::from_be_bytes(*pair));
            }
        }
        s = rest.get(64 * width..).unwrap_or_default();
    }
    Ok(())
}

fn read_dht(
    mut s: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), String> {
    while let Some((&tc_th, rest)) = s.split_first() {
        let counts: [u8; 16] = rest
            .get(..16)
            .and_then(|c| c.try_into().ok())
            .ok_or("truncated DHT")?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = rest.get(16..16 + total).ok_or("truncated DHT")?.to_vec();
        let table = Huffman::new(&counts, values)?;
        let slot = match tc_th >> 4 {
            0 => dc.get_mut(usize::from(tc_th & 15)),
            _ => ac.get_mut(usize::from(tc_th & 15)),
        };
        *slot.ok_or("bad DHT table id")? = Some(table);
        s = rest.get(16 + total..).unwrap_or_default();
    }
    Ok(())
}

fn read_sof(s: &[u8], limit: usize) -> Result<(u8, usize, usize, Vec<Component>), String> {
    let precision = *s.first().ok_or("short SOF")?;
    if precision != 8 && precision != 12 {
        return Err(format!("sample precision {precision} is not 8 or 12"));
    }
    let height = be16(s, 1).ok_or("short SOF")?;
    let width = be16(s, 3).ok_or("short SOF")?;
    let n = usize::from(*s.get(5).ok_or("short SOF")?);
    if width == 0 || height == 0 || !(1..=4).contains(&n) {
        return Err(format!("unsupported frame {width}x{height}x{n}"));
    }
    if width.saturating_mul(height).saturating_mul(n) > limit {
        return Err(format!(
            "frame {width}x{height}x{n} exceeds the expected size"
        ));
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let c = s.get(6 + 3 * i..9 + 3 * i).ok_or("short SOF")?;
        let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
            return Err("bad component sampling or table".into());
        }
        comps.push(Component {
            id: c[0],
            h,
            v,
            tq: usize::from(c[2]),
            blocks_w: 0,
            blocks_h: 0,
        });
    }
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let (mcux, mcuy) = (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax));
    for c in &mut comps {
        c.blocks_w = mcux * c.h;
        c.blocks_h = mcuy * c.v;
    }
    Ok((precision, width, height, comps))
}

struct ScanContext<'a> {
    precision: u8,
    width: usize,
    height: usize,
    comps: &'a [Component],
    quant: &'a [[i32; 64]; 4],
    dc: &'a [Option<Huffman>; 4],
    ac: &'a [Option<Huffman>; 4],
    restart_interval: usize,
}

/// Decodes one scan starting at `start`; returns the position after its data.
fn decode_scan(
    data: &[u8],
    start: usize,
    header: &[u8],
    ctx: &ScanContext<'_>,
    planes: &mut [Vec<u16>],
) -> Result<usize, String> {
    let ns = usize::from(*header.first().ok_or("short SOS")?);
    let mut members = Vec::with_capacity(ns);
    for i in 0..ns {
        let sel = header.get(1 + 2 * i..3 + 2 * i).ok_or("short SOS")?;
        let index = ctx
            .comps
            .iter()
            .position(|c| c.id == sel[0])
            .ok_or("scan names an unknown component")?;
        let dc = ctx
            .dc
            .get(usize::from(sel[1] >> 4))
            .and_then(Option::as_ref);
        let ac = ctx
            .ac
            .get(usize::from(sel[1] & 15))
            .and_then(Option::as_ref);
        let (Some(dc), Some(ac)) = (dc, ac) else {
            return Err("scan uses an undefined Huffman table".into());
        };
        members.push((index, dc, ac));
    }
    if members.is_empty() {
        return Err("scan without components".into());
    }
    let hmax = ctx.comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = ctx.comps.iter().map(|c| c.v).max().unwrap_or(1);
    let mut bits = Bits::new(data, start);
    let mut preds = vec![0i32; members.len()];
    let mut coef = [0i32; 64];
    let mut decode_block = |bits: &mut Bits<'_>,
                            m: usize,
                            bx: usize,
                            by: usize,
                            preds: &mut [i32],
                            planes: &mut [Vec<u16>]|
     -> Result<(), String> {
        let Some(&(ci, dc, ac)) = members.get(m) else {
            return Ok(());
        };
        let Some(comp) = ctx.comps.get(ci) else {
            return Ok(());
        };
        let q = ctx.quant.get(comp.tq).ok_or("bad quantisation table")?;
        coef.fill(0);
        let t = bits.huffman(dc)?;
        let Some(pred) = preds.get_mut(m) else {
            return Ok(());
        };
        *pred = pred.wrapping_add(bits.receive_extend(t));
        coef[0] = pred.wrapping_mul(q[0]);
        let mut k = 1;
        while k < 64 {
            let rs = bits.huffman(ac)?;
            let (r, s) = (usize::from(rs >> 4), rs & 15);
            if s == 0 {
                if r != 15 {
                    break;
                }
                k += 16;
                continue;
            }
            k += r;
            if k > 63 {
                return Err("AC coefficient index beyond 63".into());
            }
            coef[ZIGZAG[k]] = bits.receive_extend(s).wrapping_mul(q[k]);
            k += 1;
        }
        let stride = comp.blocks_w * 8;
        if bx < comp.blocks_w && by < comp.blocks_h {
            let offset = by * 8 * stride + bx * 8;
            if let Some(plane) = planes.get_mut(ci).and_then(|p| p.get_mut(offset..)) {
                idct(&coef, plane, stride, ctx.precision);
            }
        }
        Ok(())
    };
    let restart_check = |bits: &mut Bits<'_>, done: usize, preds: &mut [i32]| {
        if ctx.restart_interval > 0 && done > 0 && done.is_multiple_of(ctx.restart_interval) {
            bits.restart();
            preds.fill(0);
        }
    };
    if let [(ci, _, _)] = members[..] {
        // Non-interleaved: the component's own block grid, cropped to the image.
        let comp = ctx.comps.get(ci).ok_or("bad component")?;
        let bw = (ctx.width * comp.h).div_ceil(hmax).div_ceil(8);
        let bh = (ctx.height * comp.v).div_ceil(vmax).div_ceil(8);
        for n in 0..bw * bh {
            restart_check(&mut bits, n, &mut preds);
            decode_block(&mut bits, 0, n % bw, n / bw, &mut preds, planes)?;
        }
    } else {
        let mcux = ctx.width.div_ceil(8 * hmax);
        let mcuy = ctx.height.div_ceil(8 * vmax);
        for n in 0..mcux * mcuy {
            restart_check(&mut bits, n, &mut preds);
            let (mx, my) = (n % mcux, n / mcux);
            for (m, &(ci, _, _)) in members.iter().enumerate() {
                let Some(comp) = ctx.comps.get(ci) else {
                    continue;
                };
                for v in 0..comp.v {
                    for h in 0..comp.h {
                        let (bx, by) = (mx * comp.h + h, my * comp.v + v);
                        decode_block(&mut bits, m, bx, by, &mut preds, planes)?;
                    }
                }
            }
        }
    }
    Ok(bits.pos)
}

/// Crops each component plane to the image, upsamples by replication, interleaves.
fn assemble(width: usize, height: usize, comps: &[Component], planes: &[Vec<u16>]) -> Image {
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let n = comps.len();
    let mut data = vec![0u16; width * height * n];
    for (ci, (comp, plane)) in comps.iter().zip(planes).enumerate() {
        let stride = comp.blocks_w * 8;
        for y in 0..height {
            let sy = y * comp.v / vmax;
            for x in 0..width {
                let sx = x * comp.h / hmax;
                let v = plane.get(sy * stride + sx).copied().unwrap_or(0);
                if let Some(dst) = data.get_mut((y * width + x) * n + ci) {
                    *dst = v;
                }
            }
        }
    }
    Image {
        width: width as u32,
        height: height as u32,
        components: n as u16,
        data,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn huffman_tables_are_canonical() {
        // Two 2-bit codes (00 -> 5, 01 -> 6) and one 3-bit code (100 -> 7).
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[2] = 1;
        let t = Huffman::new(&counts, vec![5, 6, 7]).unwrap();
        let data = [0b0001_1000u8, 0];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(bits.huffman(&t).unwrap(), 5);
        assert_eq!(bits.huffman(&t).unwrap(), 6);
        assert_eq!(bits.huffman(&t).unwrap(), 7);
        let mut over = [0u8; 16];
        over[0] = 3; // three 1-bit codes cannot exist
        assert!(Huffman::new(&over, vec![1, 2, 3]).is_err());
    }

    #[test]
    fn receive_extend_follows_t81() {
        let data = [0b0110_0000u8];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(bits.receive_extend(2), -2); // 01 -> -2
        assert_eq!(bits.receive_extend(2), 2); // 10 -> 2
    }

    #[test]
    fn unstuffs_ff00_and_stops_at_markers() {
        let data = [0xFF, 0x00, 0xAB, 0xFF, 0xD9, 0x12];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(bits.take(8), 0xFF);
        assert_eq!(bits.take(8), 0xAB);
        assert_eq!(bits.take(8), 0); // marker: zeros from here on
        assert_eq!(bits.pos, 3);
    }

    #[test]
    fn dc_only_block_is_flat_at_12_bits() {
        let mut coef = [0i32; 64];
        coef[0] = 8 * 100; // DC of a flat block of +100
        let mut out = vec![0u16; 64];
        idct(&coef, &mut out, 8, 12);
        assert!(out.iter().all(|&v| v == 2048 + 100));
        coef[0] = -8 * 4000;
        idct(&coef, &mut out, 8, 12);
        assert!(out.iter().all(|&v| v == 0)); // clamped
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(&[], 100).is_err());
        assert!(decode(&[0xFF, 0xD8, 0xFF, 0xC1, 0x00], 100).is_err());
        let sof = [
            0xFF, 0xD8, 0xFF, 0xC1, 0, 11, 12, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1, 0x11, 0,
        ];
        assert!(decode(&sof, 1 << 20).unwrap_err().contains("exceeds"));
    }
}
