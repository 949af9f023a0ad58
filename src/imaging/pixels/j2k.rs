//! JPEG 2000 (ITU T.800) frames, lossless and lossy, through OpenJPEG (jpeg2k crate).
//!
//! Owns the SIZ inspection done before OpenJPEG allocates (image size and component
//! count checked against the DICOM header) and the interleaving of OpenJPEG's
//! per-component planes. OpenJPEG applies the codestream's multi-component transform
//! itself, so YBR_RCT / YBR_ICT frames come out as RGB.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::layout::PixelLayout;
use super::native::from_bits;
use super::{Decoded, RawSamples, Samples};

/// Image size and component count from the SIZ marker segment.
fn read_siz(data: &[u8]) -> Result<(u32, u32, u16), String> {
    // A raw codestream starts with SOC+SIZ; a JP2 file holds one in its jp2c box,
    // after small header boxes.
    let window = data.get(..data.len().min(64 * 1024)).unwrap_or(data);
    let start = window
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
        .ok_or("no JPEG 2000 codestream header")?;
    let siz = data
        .get(start + 4..start + 4 + 38)
        .ok_or("truncated JPEG 2000 SIZ segment")?;
    let u32_at = |i: usize| -> u32 {
        siz.get(i..i + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0)
    };
    let (x, y, x0, y0) = (u32_at(4), u32_at(8), u32_at(12), u32_at(16));
    let components = siz
        .get(36..38)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .unwrap_or(0);
    let width = x
        .checked_sub(x0)
        .ok_or("JPEG 2000 image offset beyond its size")?;
    let height = y
        .checked_sub(y0)
        .ok_or("JPEG 2000 image offset beyond its size")?;
    Ok((width, height, components))
}

/// Decodes one JPEG 2000 frame straight into the (interleaved) layout's samples.
pub fn decode(data: &[u8], layout: &PixelLayout) -> Result<Decoded, String> {
    let (rows, cols, spp) = (layout.rows, layout.columns, layout.samples_per_pixel);
    let (width, height, components) = read_siz(data)?;
    if width != cols || height != rows || components < spp {
        return Err(format!(
            "JPEG 2000 image is {height}x{width}x{components}, the header says {rows}x{cols}x{spp}"
        ));
    }
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<Samples, String> {
        let image = jpeg2k::Image::from_bytes(data).map_err(|e| e.to_string())?;
        let comps = image.components();
        let spp = usize::from(spp);
        if comps.len() < spp {
            return Err(format!("JPEG 2000 image has {} components", comps.len()));
        }
        for (index, comp) in comps.iter().take(spp).enumerate() {
            if comp.width() != cols || comp.height() != rows {
                return Err(format!(
                    "JPEG 2000 component {index} is {}x{} (subsampled components are not supported)",
                    comp.height(),
                    comp.width()
                ));
            }
        }
        // One pass from OpenJPEG's planes to the normalised samples.
        if let [comp] = comps.get(..1).unwrap_or_default()
            && spp == 1
        {
            return Ok(from_bits(comp.data().iter().map(|&v| v as u32), layout));
        }
        let mut out = vec![0i32; rows as usize * cols as usize * spp];
        for (index, comp) in comps.iter().take(spp).enumerate() {
            for (dst, &v) in out.iter_mut().skip(index).step_by(spp).zip(comp.data()) {
                *dst = v;
            }
        }
        Ok(from_bits(out.iter().map(|&v| v as u32), layout))
    }));
    let samples = match result {
        Ok(r) => r?,
        Err(_) => return Err("the JPEG 2000 decoder panicked on this data".into()),
    };
    Ok(Decoded {
        width: cols,
        height: rows,
        components: spp,
        samples: RawSamples::Ready(samples),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::imaging::pixels::layout::ColorSpace;

    #[test]
    fn reads_siz_with_offsets() {
        let mut data = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [110u32, 60, 10, 0, 64, 64, 0, 0] {
            data.extend(v.to_be_bytes());
        }
        data.extend([0, 3]);
        assert_eq!(read_siz(&data).unwrap(), (100, 60, 3));
        let layout = PixelLayout::new(60, 99, 3, 8, 8, 0, 0, ColorSpace::Rgb, 1).unwrap();
        assert!(decode(&data, &layout).unwrap_err().contains("60x100x3"));
        assert!(read_siz(&data[..20]).is_err());
    }
}
