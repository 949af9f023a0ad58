//! Lossless JPEG (ITU T.81 process 14, Annex H; DICOM's JPEG Lossless and its
//! first-order "SV1" form): our own decoder, the fast path for these frames.
//!
//! Owns marker parsing for lossless frames (SOF3, DHT, DRI, SOS), Huffman decoding of
//! the differences through lookup tables (code and extra bits in one lookup for the
//! common short codes), the seven predictors, point transform, and restart intervals.
//! Precision 2 to 16 bits, 1 to 4 components sampled 1x1, interleaved or one scan per
//! component group.
//!
//! Anything else returns `Ok(None)` and the caller uses jpeg-decoder instead:
//! hierarchical or arithmetic-coded frames, subsampled components, predictor 0, a
//! height defined by DNL, restart intervals that are not whole lines, components no
//! scan covers. Errors (a bad code, data that ends early) are errors here; the caller
//! may still try jpeg-decoder, which pads short data with zeros.
//!
//! Never allocates more than the frame (`limit` samples, checked before allocating)
//! plus one copy of the entropy-coded data; every loop is bounded by the frame size.
//!
//! Where jpeg-decoder 0.3 departs from T.81 (point transform > 0: it shifts the
//! predictors too; restarts: its prediction does not restart), this decoder follows
//! T.81 and libjpeg: reconstruction works on point-transformed values and each restart
//! interval starts like the first line. For every other stream the output is the same.

/// A decoded lossless image: interleaved samples, `components` per pixel, already
/// shifted left by the point transform.
#[derive(Debug)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub components: u16,
    pub precision: u8,
    pub data: Vec<u16>,
}

/// Bits of the first-level Huffman lookup.
const LUT_BITS: u32 = 12;
/// Entry flag: the entry holds the whole difference (code + extra bits).
const COMPLETE: i32 = 1 << 6;
/// Entry mask: bits consumed (complete entry) or code length (partial entry).
const LEN_MASK: i32 = 63;

/// A DC Huffman table for lossless differences.
#[derive(Clone)]
struct Table {
    /// Indexed by the next `LUT_BITS` bits. Entry: bits 0..6 the length, bit 6
    /// `COMPLETE`; above bit 8 the difference (complete) or the category (partial).
    /// 0: a code longer than `LUT_BITS` (or none): the slow path decides.
    lut: Box<[i32; 1 << LUT_BITS]>,
    /// Largest code of each length (index 1..=16), -1 when none.
    maxcode: [i32; 17],
    mincode: [i32; 17],
    valptr: [usize; 17],
    values: Vec<u8>,
}

impl Table {
    fn new(counts: &[u8; 16], values: &[u8]) -> Result<Table, String> {
        let mut t = Table {
            lut: Box::new([0; 1 << LUT_BITS]),
            maxcode: [-1; 17],
            mincode: [0; 17],
            valptr: [0; 17],
            values: values.to_vec(),
        };
        let mut code = 0i32;
        let mut k = 0usize;
        for len in 1..=16usize {
            let n = usize::from(counts[len - 1]);
            t.valptr[len] = k;
            t.mincode[len] = code;
            for _ in 0..n {
                let category = *values.get(k).ok_or("truncated Huffman table")?;
                if len as u32 <= LUT_BITS {
                    t.fill(code as u32, len as u32, category);
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                t.maxcode[len] = code - 1;
            }
            if code > (1 << len) {
                return Err("invalid Huffman table".into());
            }
            code <<= 1;
        }
        Ok(t)
    }

    /// Fills the lookup entries of the `len`-bit `code` for difference `category`.
    fn fill(&mut self, code: u32, len: u32, category: u8) {
        let free = LUT_BITS - len;
        let first = (code << free) as usize;
        let s = u32::from(category);
        for (offset, entry) in self.lut.iter_mut().skip(first).take(1 << free).enumerate() {
            *entry = match s {
                0 => COMPLETE | len as i32,
                16 => COMPLETE | len as i32 | (32768 << 8),
                1..=15 if len + s <= LUT_BITS => {
                    let extra = (offset as u32 >> (free - s)) & ((1 << s) - 1);
                    COMPLETE | (len + s) as i32 | (extend(extra, s) << 8)
                }
                // Categories above 16 are invalid: the slow path reports them.
                _ => len as i32 | ((s as i32) << 8),
            };
        }
    }

    /// The code at the top of `w` by the canonical search: (length, category).
    fn decode_long(&self, w: u64) -> Result<(u32, u8), String> {
        for len in 1..=16u32 {
            let code = (w >> (64 - len)) as i32;
            if code <= self.maxcode[len as usize] {
                let index =
                    self.valptr[len as usize] + (code - self.mincode[len as usize]) as usize;
                let category = self
                    .values
                    .get(index)
                    .copied()
                    .ok_or("Huffman code outside its table")?;
                return Ok((len, category));
            }
        }
        Err("corrupt Huffman code".into())
    }
}

/// T.81 F.2.2.1 EXTEND: `s` received bits as a signed difference.
#[inline]
fn extend(v: u32, s: u32) -> i32 {
    if s == 0 {
        0
    } else if v < 1 << (s - 1) {
        v as i32 - (1 << s) + 1
    } else {
        v as i32
    }
}

/// Unstuffed entropy-coded data of one scan, split into restart intervals.
struct Entropy {
    /// The bytes without stuffing, then 8 zero bytes.
    bytes: Vec<u8>,
    /// Start (in `bytes`) of each interval: the first is 0.
    intervals: Vec<usize>,
    /// Position in the stream right after the scan's data (at its ending marker).
    end: usize,
}

/// Copies the entropy-coded data starting at `start` without its stuffed zero bytes,
/// recording where each RSTn marker starts a new interval.
fn unstuff(data: &[u8], start: usize) -> Entropy {
    let rest = data.get(start..).unwrap_or_default();
    let mut bytes = Vec::with_capacity(rest.len() + 8);
    let mut intervals = vec![0];
    let mut pos = 0;
    let end = loop {
        let chunk = rest.get(pos..).unwrap_or_default();
        let run = chunk.iter().position(|&b| b == 0xFF).unwrap_or(chunk.len());
        bytes.extend_from_slice(chunk.get(..run).unwrap_or_default());
        pos += run;
        // At 0xFF (or the end): stuffing, fill bytes, RSTn, or the scan's end.
        let mut next = pos + 1;
        while rest.get(next) == Some(&0xFF) {
            next += 1;
        }
        match rest.get(next) {
            None => break rest.len(),
            Some(0) => {
                bytes.push(0xFF);
                pos = next + 1;
            }
            Some(0xD0..=0xD7) => {
                intervals.push(bytes.len());
                pos = next + 1;
            }
            Some(_) => break next - 1,
        }
    };
    bytes.extend_from_slice(&[0; 8]);
    Entropy {
        bytes,
        intervals,
        end: start + end,
    }
}

/// Reads differences from unstuffed data through a 64-bit buffer refilled eight
/// bytes at a time, so that the next lookup depends on a shift, not on a memory
/// load. Copied into a local in the hot loops (it is `Copy`) so that it stays in
/// registers.
#[derive(Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    /// Next byte of `bytes` to load into `buf`.
    pos: usize,
    /// Bits not yet consumed, top-aligned; below the `count` valid bits it holds the
    /// stream's following bits or zeros.
    buf: u64,
    /// Valid bits in `buf`.
    count: u32,
}

impl<'a> Reader<'a> {
    /// A reader at byte `start` of `bytes`.
    fn at(bytes: &'a [u8], start: usize) -> Self {
        Reader {
            bytes,
            pos: start,
            buf: 0,
            count: 0,
        }
    }

    /// Bits consumed from the start of `bytes`.
    fn bit_position(&self) -> usize {
        (self.pos * 8).saturating_sub(self.count as usize)
    }

    /// Tops the buffer up to at least 56 valid bits (zeros past the end).
    #[inline(always)]
    fn refill(&mut self) {
        let word = self
            .bytes
            .get(self.pos..)
            .and_then(|b| b.first_chunk::<8>())
            .map_or(0, |b| u64::from_be_bytes(*b));
        // The bits below the new count are the stream's next bits: the next refill
        // ORs the same bits there again.
        self.buf |= word >> self.count;
        let bytes = (63 - self.count) >> 3;
        self.pos += bytes as usize;
        self.count += bytes * 8;
    }

    /// One difference (T.81 H.1.2.2, F.2.2.1).
    #[inline(always)]
    fn diff(&mut self, t: &Table) -> Result<i32, String> {
        // A difference takes at most 32 bits (16-bit code, 16 extra bits).
        if self.count < 32 {
            self.refill();
        }
        let w = self.buf;
        let e = t.lut[(w >> (64 - LUT_BITS)) as usize];
        let (bits, diff) = if e & COMPLETE != 0 {
            ((e & LEN_MASK) as u32, e >> 8)
        } else {
            diff_slow(t, w, e)?
        };
        self.buf = w << bits;
        self.count -= bits;
        Ok(diff)
    }
}

/// A difference the lookup does not complete: (bits used, difference).
#[cold]
#[inline(never)]
fn diff_slow(t: &Table, w: u64, e: i32) -> Result<(u32, i32), String> {
    let (len, category) = if e == 0 {
        t.decode_long(w)?
    } else {
        ((e & LEN_MASK) as u32, (e >> 8) as u8)
    };
    let s = u32::from(category);
    match s {
        0 => Ok((len, 0)),
        1..=15 => Ok((len + s, extend(((w << len) >> (64 - s)) as u32, s))),
        16 => Ok((len, 32768)),
        _ => Err("invalid difference category in lossless JPEG".into()),
    }
}

/// One component of the frame.
#[derive(Clone, Copy)]
struct Component {
    id: u8,
}

/// The frame header (SOF3).
struct Frame {
    precision: u8,
    width: usize,
    height: usize,
    components: Vec<Component>,
}

/// One scan's parameters (SOS).
struct Scan<'t> {
    /// (frame component index, its table) in scan order.
    members: Vec<(usize, &'t Table)>,
    predictor: u8,
    point_transform: u8,
}

fn be16(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 2)?;
    Some(usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// Decodes a lossless JPEG frame; `limit` caps width x height x components. `Ok(None)`:
/// the stream uses something this decoder leaves to jpeg-decoder (see the module docs).
pub fn decode(data: &[u8], limit: usize) -> Result<Option<Image>, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("no JPEG start-of-image marker".into());
    }
    let mut pos = 2;
    let mut tables: [Option<Table>; 4] = Default::default();
    let mut restart_interval = 0usize;
    let mut frame: Option<Frame> = None;
    let mut out: Vec<u16> = Vec::new();
    let mut covered = [false; 4];
    let mut point_transform = None;
    loop {
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (data.get(pos), data.get(pos + 1)) else {
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
            0xC4 => read_dht(segment, &mut tables)?,
            0xDD => restart_interval = be16(segment, 0).ok_or("short DRI")?,
            0xC3 => {
                if frame.is_some() {
                    return Ok(None); // several frames: hierarchical
                }
                let Some(f) = read_sof(segment, limit)? else {
                    return Ok(None);
                };
                let n = f.width * f.height * f.components.len();
                let mut buffer = Vec::new();
                buffer
                    .try_reserve_exact(n)
                    .map_err(|_| "cannot allocate the frame")?;
                buffer.resize(n, 0);
                out = buffer;
                frame = Some(f);
            }
            // Other processes, DNL, hierarchical (DHP, EXP), arithmetic tables.
            0xC0..=0xC2 | 0xC5..=0xCF | 0xDC | 0xDE | 0xDF => return Ok(None),
            0xDA => {
                let Some(f) = &frame else {
                    return Err("scan before frame header".into());
                };
                let Some(scan) = read_sos(segment, f, &tables)? else {
                    return Ok(None);
                };
                if point_transform.is_some_and(|pt| pt != scan.point_transform) {
                    return Ok(None);
                }
                point_transform = Some(scan.point_transform);
                let rows_per_interval = match restart_interval {
                    0 => 0,
                    n if n % f.width == 0 => n / f.width,
                    _ => return Ok(None),
                };
                let entropy = unstuff(data, pos + len);
                decode_scan(f, &scan, &entropy, rows_per_interval, &mut out)?;
                for &(index, _) in &scan.members {
                    if let Some(c) = covered.get_mut(index) {
                        *c = true;
                    }
                }
                pos = entropy.end;
                continue;
            }
            _ => {}
        }
        pos += len;
    }
    let Some(f) = frame else {
        return Err("no frame header".into());
    };
    if covered.iter().take(f.components.len()).any(|c| !c) {
        return Ok(None);
    }
    let pt = point_transform.unwrap_or(0);
    if pt > 0 {
        for v in &mut out {
            *v <<= pt;
        }
    }
    Ok(Some(Image {
        width: f.width as u32,
        height: f.height as u32,
        components: f.components.len() as u16,
        precision: f.precision,
        data: out,
    }))
}

fn read_dht(mut s: &[u8], tables: &mut [Option<Table>; 4]) -> Result<(), String> {
    while let Some((&tc_th, rest)) = s.split_first() {
        let counts: [u8; 16] = rest
            .get(..16)
            .and_then(|c| c.try_into().ok())
            .ok_or("truncated DHT")?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = rest.get(16..16 + total).ok_or("truncated DHT")?;
        // Lossless scans use DC tables only; AC tables are ignored.
        if tc_th >> 4 == 0 {
            let slot = tables
                .get_mut(usize::from(tc_th & 15))
                .ok_or("bad DHT table id")?;
            *slot = Some(Table::new(&counts, values)?);
        }
        s = rest.get(16 + total..).unwrap_or_default();
    }
    Ok(())
}

/// `Ok(None)`: a frame this decoder leaves to jpeg-decoder.
fn read_sof(s: &[u8], limit: usize) -> Result<Option<Frame>, String> {
    let precision = *s.first().ok_or("short SOF")?;
    let height = be16(s, 1).ok_or("short SOF")?;
    let width = be16(s, 3).ok_or("short SOF")?;
    let n = usize::from(*s.get(5).ok_or("short SOF")?);
    if !(2..=16).contains(&precision) {
        return Err(format!("lossless JPEG sample precision {precision}"));
    }
    if height == 0 || !(1..=4).contains(&n) {
        return Ok(None); // DNL-defined height, or unusual component counts
    }
    if width == 0 {
        return Err("lossless JPEG frame of width 0".into());
    }
    if width.saturating_mul(height).saturating_mul(n) > limit {
        return Err(format!(
            "frame {width}x{height}x{n} exceeds the expected size"
        ));
    }
    let mut components = Vec::with_capacity(n);
    for i in 0..n {
        let c = s.get(6 + 3 * i..9 + 3 * i).ok_or("short SOF")?;
        // Sampling factors matter only when several components share a scan.
        if n > 1 && c[1] != 0x11 {
            return Ok(None);
        }
        components.push(Component { id: c[0] });
    }
    Ok(Some(Frame {
        precision,
        width,
        height,
        components,
    }))
}

/// `Ok(None)`: a scan this decoder leaves to jpeg-decoder.
fn read_sos<'t>(
    s: &[u8],
    frame: &Frame,
    tables: &'t [Option<Table>; 4],
) -> Result<Option<Scan<'t>>, String> {
    let ns = usize::from(*s.first().ok_or("short SOS")?);
    let mut members = Vec::with_capacity(ns);
    for i in 0..ns {
        let sel = s.get(1 + 2 * i..3 + 2 * i).ok_or("short SOS")?;
        let index = frame
            .components
            .iter()
            .position(|c| c.id == sel[0])
            .ok_or("scan names an unknown component")?;
        if members.iter().any(|&(m, _)| m == index) {
            return Err("scan names a component twice".into());
        }
        let table = tables
            .get(usize::from(sel[1] >> 4))
            .and_then(Option::as_ref)
            .ok_or("scan uses an undefined Huffman table")?;
        members.push((index, table));
    }
    let params = s.get(1 + 2 * ns..4 + 2 * ns).ok_or("short SOS")?;
    let (predictor, se, ah_al) = (params[0], params[1], params[2]);
    let point_transform = ah_al & 15;
    if members.is_empty()
        || !(1..=7).contains(&predictor)
        || se != 0
        || ah_al >> 4 != 0
        || point_transform >= frame.precision
    {
        return Ok(None);
    }
    Ok(Some(Scan {
        members,
        predictor,
        point_transform,
    }))
}

/// Decodes one scan into `out` (interleaved, `frame.components.len()` per pixel).
fn decode_scan(
    frame: &Frame,
    scan: &Scan<'_>,
    entropy: &Entropy,
    rows_per_interval: usize,
    out: &mut [u16],
) -> Result<(), String> {
    let nc = frame.components.len();
    let row_len = frame.width * nc;
    let initial = 1i32 << (frame.precision - scan.point_transform - 1);
    let mut interval = 0;
    let mut reader = Reader::at(&entropy.bytes, 0);
    let overrun = |reader: &Reader<'_>, interval: usize| -> Result<(), String> {
        let end = entropy
            .intervals
            .get(interval + 1)
            .copied()
            .unwrap_or(entropy.bytes.len() - 8);
        if reader.bit_position() > end * 8 {
            return Err("lossless JPEG data ends early".into());
        }
        Ok(())
    };
    for row in 0..frame.height {
        let restart = rows_per_interval > 0 && row > 0 && row % rows_per_interval == 0;
        if restart {
            overrun(&reader, interval)?;
            interval += 1;
            let Some(&start) = entropy.intervals.get(interval) else {
                return Err("lossless JPEG data ends early (missing restart marker)".into());
            };
            reader = Reader::at(&entropy.bytes, start);
        }
        let first_line = row == 0 || restart;
        let Some((done, rest)) = out.split_at_mut_checked(row * row_len) else {
            return Err("lossless JPEG frame larger than its buffer".into());
        };
        let above = done
            .get(done.len().saturating_sub(row_len)..)
            .unwrap_or_default();
        let Some(current) = rest.get_mut(..row_len) else {
            return Err("lossless JPEG frame larger than its buffer".into());
        };
        if let [(0, table)] = scan.members[..]
            && nc == 1
        {
            decode_row_gray(
                &mut reader,
                table,
                scan.predictor,
                first_line,
                initial,
                above,
                current,
            )?;
        } else {
            decode_row_interleaved(&mut reader, scan, nc, first_line, initial, above, current)?;
        }
        // Past the interval's end means the data stopped early (or is corrupt); the
        // check per line also keeps corrupt data from running far.
        overrun(&reader, interval)?;
    }
    Ok(())
}

/// T.81 Table H.1 (predictors 4 to 7 on non-negative values in i32, as libjpeg).
#[inline(always)]
fn predict(predictor: u8, ra: i32, rb: i32, rc: i32) -> i32 {
    match predictor {
        1 => ra,
        2 => rb,
        3 => rc,
        4 => ra + rb - rc,
        5 => ra + ((rb - rc) >> 1),
        6 => rb + ((ra - rc) >> 1),
        _ => (ra + rb) >> 1,
    }
}

/// One line of a single-component frame.
#[inline(always)]
fn decode_row_gray(
    reader: &mut Reader<'_>,
    table: &Table,
    predictor: u8,
    first_line: bool,
    initial: i32,
    above: &[u16],
    current: &mut [u16],
) -> Result<(), String> {
    let mut local = *reader;
    let result = gray_row(
        &mut local, table, predictor, first_line, initial, above, current,
    );
    *reader = local;
    result
}

#[inline(always)]
fn gray_row(
    reader: &mut Reader<'_>,
    table: &Table,
    predictor: u8,
    first_line: bool,
    initial: i32,
    above: &[u16],
    current: &mut [u16],
) -> Result<(), String> {
    let Some((first, rest)) = current.split_first_mut() else {
        return Ok(());
    };
    // Column 0: the initial value on a first line, else the sample above.
    let p0 = if first_line {
        initial
    } else {
        i32::from(above.first().copied().unwrap_or(0))
    };
    let mut ra = (p0 + reader.diff(table)?) & 0xFFFF;
    *first = ra as u16;
    if first_line || predictor == 1 {
        for v in rest {
            ra = (ra + reader.diff(table)?) & 0xFFFF;
            *v = ra as u16;
        }
        return Ok(());
    }
    for (v, pair) in rest.iter_mut().zip(above.windows(2)) {
        let (rc, rb) = (i32::from(pair[0]), i32::from(pair[1]));
        ra = (predict(predictor, ra, rb, rc) + reader.diff(table)?) & 0xFFFF;
        *v = ra as u16;
    }
    Ok(())
}

/// One line of an interleaved (or multi-component) frame: every scan member, pixel by
/// pixel; other components' samples are left as they are.
fn decode_row_interleaved(
    reader: &mut Reader<'_>,
    scan: &Scan<'_>,
    nc: usize,
    first_line: bool,
    initial: i32,
    above: &[u16],
    current: &mut [u16],
) -> Result<(), String> {
    let width = current.len() / nc.max(1);
    for x in 0..width {
        for &(c, table) in &scan.members {
            let i = x * nc + c;
            let left = || i32::from(current.get(i.wrapping_sub(nc)).copied().unwrap_or(0));
            let up = |j: usize| i32::from(above.get(j).copied().unwrap_or(0));
            let prediction = match (x, first_line) {
                (0, true) => initial,
                (0, false) => up(i),
                (_, true) => left(),
                _ => predict(scan.predictor, left(), up(i), up(i - nc)),
            };
            let value = (prediction + reader.diff(table)?) & 0xFFFF;
            if let Some(v) = current.get_mut(i) {
                *v = value as u16;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
