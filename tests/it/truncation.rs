//! Truncation at every byte offset of small corpus files of different encodings:
//! opening and decoding every frame must give a typed error or an image, never a
//! panic. Uses `file::open_bytes`, so no temporary files. Skipped without the corpus.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use tessera::imaging::file::{self, ReadMode};
use tessera::imaging::pixels;

/// One small file per encoding (sizes 0.6 to 10 KB).
const FILES: &[&str] = &[
    "SC_rgb_small_odd.dcm",            // explicit VR LE, RGB
    "SC_rgb_small_odd_big_endian.dcm", // explicit VR BE
    "rtdose_1frame.dcm",               // implicit VR LE, 32-bit
    "image_dfl.dcm",                   // deflated
    "SC_rgb_rle.dcm",                  // RLE, RGB
    "rtdose_rle.dcm",                  // RLE, 32-bit, 15 frames
    "SC_rgb_small_odd_jpeg.dcm",       // JPEG baseline, YBR_FULL
    "SC_rgb_jpeg_gdcm.dcm",            // JPEG lossless SV1
    "JPGExtended.dcm",                 // JPEG extended 12-bit (own decoder)
    "JPEGLSNearLossless_08.dcm",       // JPEG-LS near-lossless
    "SC_rgb_jls_lossy_line.dcm",       // JPEG-LS, line interleaved
    "JPEG2000.dcm",                    // JPEG 2000
    "liver_1frame.dcm",                // 1-bit (sampled beyond 4 KB)
    "ExplVR_BigEndNoMeta.dcm",         // no meta group, guessed syntax
];

/// Every offset up to this many bytes, then every 7th.
const EVERY_BYTE_UP_TO: usize = 16 * 1024;

/// Per file: images, typed errors, and the cuts that panicked.
struct Survival {
    images: usize,
    errors: usize,
    panics: Vec<String>,
}

fn survive(name: &str, bytes: &[u8]) -> Survival {
    let (mut images, mut errors, mut panics) = (0, 0, Vec::new());
    let cuts: Vec<usize> = (0..=bytes.len())
        .filter(|&n| n < EVERY_BYTE_UP_TO || n % 7 == 0 || n == bytes.len())
        .collect();
    for cut in cuts {
        let Some(prefix) = bytes.get(..cut) else {
            continue;
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            let instance = file::open_bytes(Path::new(name), prefix, ReadMode::Full)
                .map_err(|e| e.to_string())?;
            let frames = instance.number_of_frames().map_err(|e| e.to_string())?;
            for i in 0..frames {
                let frame = pixels::decode_frame(&instance, i).map_err(|e| e.to_string())?;
                let expected = frame.rows as usize
                    * frame.columns as usize
                    * usize::from(frame.samples_per_pixel);
                assert_eq!(
                    frame.samples.len(),
                    expected,
                    "{name} cut at {cut}: frame size"
                );
            }
            Ok::<(), String>(())
        }));
        match result {
            Ok(Ok(())) => images += 1,
            Ok(Err(message)) => {
                assert!(
                    !message.is_empty(),
                    "{name} cut at {cut}: empty error message"
                );
                errors += 1;
            }
            Err(_) => panics.push(format!("{name} cut at {cut}")),
        }
    }
    Survival {
        images,
        errors,
        panics,
    }
}

#[test]
fn truncation_at_every_offset() {
    let Some(dir) = crate::corpus::corpus_dir() else {
        eprintln!("truncation test skipped: corpus absent");
        return;
    };
    let started = Instant::now();
    let results: Vec<(&str, usize, Survival)> = FILES
        .par_iter()
        .map(|name| {
            let Ok(bytes) = std::fs::read(dir.join("files").join(name)) else {
                panic!("cannot read corpus file {name}");
            };
            (*name, bytes.len(), survive(name, &bytes))
        })
        .collect();
    let mut panics = Vec::new();
    for (name, len, s) in results {
        println!(
            "{name}: {len} bytes, {} images, {} typed errors, {} panics",
            s.images,
            s.errors,
            s.panics.len()
        );
        panics.extend(s.panics);
    }
    println!("truncation: {:.2?}", started.elapsed());
    assert!(panics.is_empty(), "panics: {panics:?}");
}

/// Encapsulated files whose frame 0 codestream is cut and corrupted directly, so the
/// codecs themselves (ours, jpeg-decoder, CharLS, OpenJPEG) see damaged input.
const CODESTREAMS: &[&str] = &[
    "SC_rgb_rle.dcm",
    "rtdose_rle_1frame.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "SC_rgb_dcmtk_+eb+cy+s2.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "JPGExtended.dcm",
    "JPEGLSNearLossless_16.dcm",
    "SC_rgb_jls_lossy_sample.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb_gdcm_KY.dcm",
];

fn frame0_codestream(path: &Path) -> (Vec<u8>, pixels::PixelLayout, String) {
    use dicom_core::value::Value;
    let name = path.display();
    let Ok(instance) = file::open(path, ReadMode::Full) else {
        panic!("{name} does not open");
    };
    let Ok(layout) = pixels::PixelLayout::from_instance(&instance) else {
        panic!("{name} has no usable layout");
    };
    let Some(element) = instance.object.get(dicom_dictionary_std::tags::PIXEL_DATA) else {
        panic!("{name} has no pixel data");
    };
    let Value::PixelSequence(seq) = element.value() else {
        panic!("{name} is not encapsulated");
    };
    let bytes = seq.fragments().first().cloned().unwrap_or_default();
    (bytes, layout, instance.transfer_syntax_uid().to_string())
}

#[test]
fn damaged_codestreams_never_panic() {
    let Some(dir) = crate::corpus::corpus_dir() else {
        eprintln!("codestream damage test skipped: corpus absent");
        return;
    };
    let started = Instant::now();
    let panics: Vec<String> = CODESTREAMS
        .par_iter()
        .flat_map_iter(|name| {
            let (bytes, layout, uid) = frame0_codestream(&dir.join("files").join(name));
            // Every cut up to 1 KB, then sampled; a flipped byte every 3 (every 37 in
            // large streams: decoding big damaged frames in a debug build is slow).
            let step = if bytes.len() > 4096 { 37 } else { 3 };
            let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
            for cut in (0..bytes.len()).filter(|&c| c < 1024 || c % step == 0) {
                variants.push((
                    format!("cut at {cut}"),
                    bytes.get(..cut).unwrap_or_default().to_vec(),
                ));
            }
            for at in (0..bytes.len()).step_by(step) {
                let mut damaged = bytes.clone();
                if let Some(b) = damaged.get_mut(at) {
                    *b ^= 0xA5;
                }
                variants.push((format!("byte {at} flipped"), damaged));
            }
            let (mut images, mut errors) = (0, 0);
            let mut found = Vec::new();
            for (what, data) in variants {
                if std::env::var_os("TESSERA_TRACE").is_some() {
                    eprintln!("{name} {what}");
                }
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    pixels::decode_codestream(&data, &layout, &uid, 0)
                }));
                match outcome {
                    Ok(Ok(frame)) => {
                        assert_eq!(frame.samples.len(), layout.samples(), "{name} {what}");
                        images += 1;
                    }
                    Ok(Err(_)) => errors += 1,
                    Err(_) => found.push(format!("{name} {what}")),
                }
            }
            println!(
                "{name}: {} bytes, {images} images, {errors} typed errors",
                bytes.len()
            );
            found
        })
        .collect();
    println!("codestream damage: {:.2?}", started.elapsed());
    assert!(panics.is_empty(), "panics: {panics:?}");
}
