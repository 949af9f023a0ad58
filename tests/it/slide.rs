//! Whole-slide images: generated pyramidal JPEG TIFFs (Aperio-style and generic, YCbCr
//! and RGB) read through the fast path and through OpenSlide, the tile pool and cache,
//! damaged tiles and files, and the `info` / `bench tiles` contracts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tessera::imaging::slide::cache::TileCache;
use tessera::imaging::slide::pool::{Priority, TilePool, TileSource};
use tessera::imaging::slide::synth::{
    SynthColour, SynthLayout, SynthOptions, SynthReport, write_slide,
};
use tessera::imaging::slide::{
    PathChoice, Slide, SlideError, TileContent, TileKey, TilePath, library_version,
};

/// 1300 x 1000: the right and bottom tiles of each level are partial.
fn small(colour: SynthColour, layout: SynthLayout) -> SynthOptions {
    SynthOptions {
        colour,
        layout,
        ..SynthOptions::small(1300, 1000)
    }
}

fn write(dir: &Path, name: &str, opts: &SynthOptions) -> (PathBuf, SynthReport) {
    let path = dir.join(name);
    let report = write_slide(&path, opts).unwrap();
    (path, report)
}

fn every_tile(slide: &Slide) -> Vec<TileKey> {
    let mut keys = Vec::new();
    for (k, level) in slide.info().levels.iter().enumerate() {
        let (across, down) = level.tile_grid();
        for row in 0..down as u32 {
            for col in 0..across as u32 {
                keys.push(TileKey {
                    level: k as u32,
                    col,
                    row,
                });
            }
        }
    }
    keys
}

/// Mean absolute difference per channel (R, G, B, A) of two RGBA buffers.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> [f64; 4] {
    assert_eq!(a.len(), b.len());
    let mut sums = [0u64; 4];
    for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for c in 0..4 {
            sums[c] += u64::from(pa[c].abs_diff(pb[c]));
        }
    }
    let n = (a.len() / 4).max(1) as f64;
    sums.map(|s| s as f64 / n)
}

#[test]
fn openslide_reports_its_version() {
    let version = library_version().expect("OpenSlide has a version");
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );
}

#[test]
fn fast_path_tiles_match_openslide_within_one_level_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "aperio-ycbcr.svs",
            SynthColour::YCbCr,
            SynthLayout::Aperio,
            "aperio",
        ),
        (
            "generic-rgb.tif",
            SynthColour::Rgb,
            SynthLayout::GenericTiff,
            "generic-tiff",
        ),
        (
            "generic-ycbcr.tif",
            SynthColour::YCbCr,
            SynthLayout::GenericTiff,
            "generic-tiff",
        ),
    ];
    for (name, colour, layout, vendor) in cases {
        let (path, report) = write(dir.path(), name, &small(colour, layout));
        let slide = Slide::open(&path, PathChoice::Auto).unwrap();
        assert_eq!(slide.info().vendor, vendor);
        assert_eq!(slide.info().levels.len(), report.levels.len());
        assert!(
            slide.info().levels.iter().all(|l| l.path == TilePath::Fast),
            "{name}: every level is plain JPEG-tiled TIFF"
        );
        let mut worst = (
            [0.0f64; 4],
            TileKey {
                level: 0,
                col: 0,
                row: 0,
            },
        );
        let mut max_abs = 0u8;
        for key in every_tile(&slide) {
            let tile = slide.read_tile(key);
            // Every level is on the fast path (checked above), whose tiles are decoded
            // straight to opaque RGBA (a fast-path failure would be a blank tile).
            assert!(
                matches!(&tile.content, TileContent::Rgba(px) if px.chunks_exact(4).all(|p| p[3] == 255)),
                "{name} {key:?}"
            );
            let Some(fast) = tile.rgba() else {
                panic!("{name} {key:?}: {:?}", tile.content);
            };
            let level = &slide.info().levels[key.level as usize];
            let x = u64::from(key.col) * u64::from(level.tile_width);
            let y = u64::from(key.row) * u64::from(level.tile_height);
            let reference = slide
                .read_region_openslide(key.level, x, y, tile.width, tile.height)
                .unwrap();
            let d = mean_abs_diff(&fast, &reference);
            for (c, dc) in d.iter().enumerate() {
                assert!(
                    *dc <= 1.0,
                    "{name} {key:?} channel {c}: mean |diff| {dc:.3}"
                );
            }
            if d.iter().sum::<f64>() > worst.0.iter().sum::<f64>() {
                worst = (d, key);
            }
            for (a, b) in fast.iter().zip(&reference) {
                max_abs = max_abs.max(a.abs_diff(*b));
            }
        }
        eprintln!(
            "{name}: worst tile {:?}: mean |fast - OpenSlide| R {:.3} G {:.3} B {:.3} A {:.3}; largest single-sample difference {max_abs}",
            worst.1, worst.0[0], worst.0[1], worst.0[2], worst.0[3]
        );
    }
}

#[test]
fn slide_info_has_levels_resolution_and_no_identifying_properties() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(
        dir.path(),
        "s.svs",
        &small(SynthColour::YCbCr, SynthLayout::Aperio),
    );
    let slide = Slide::open(&path, PathChoice::Auto).unwrap();
    let info = slide.info();
    let dims: Vec<(u64, u64)> = info.levels.iter().map(|l| (l.width, l.height)).collect();
    assert_eq!(dims, vec![(1300, 1000), (650, 500), (325, 250), (163, 125)]);
    assert_eq!(info.levels[1].downsample, 2.0);
    assert_eq!(
        (info.levels[0].tile_width, info.levels[0].tile_height),
        (256, 256)
    );
    assert_eq!(info.mpp_x, Some(0.25));
    assert_eq!(info.mpp_y, Some(0.25));
    assert_eq!(info.objective_power, Some(40.0));
    assert_eq!(
        info.associated_images,
        vec!["label".to_owned(), "thumbnail".to_owned()]
    );
    let shown = format!("{:?}", info.properties);
    assert!(!shown.contains("synthetic-do-not-show"), "{shown}");
    assert!(!shown.contains("Aperio Image Library"), "{shown}");
    assert!(info.withheld_properties >= 3);
    // The label is there, but only for an explicit request.
    let (w, h, px) = slide.associated_image("label").unwrap();
    assert_eq!((w, h, px.len()), (320, 200, 320 * 200 * 4));

    let forced = Slide::open(&path, PathChoice::OpenSlideOnly).unwrap();
    assert!(
        forced
            .info()
            .levels
            .iter()
            .all(|l| l.path == TilePath::OpenSlide)
    );
    assert_eq!(forced.info().levels[0].tile_width, 256);
    // The same grid through either reader.
    let key = TileKey {
        level: 0,
        col: 5,
        row: 3,
    };
    let (a, b) = (slide.read_tile(key), forced.read_tile(key));
    assert_eq!((a.width, a.height), (1300 - 5 * 256, 1000 - 3 * 256));
    assert_eq!((a.width, a.height), (b.width, b.height));
}

#[test]
fn a_corrupt_tile_is_a_marked_blank_tile_and_the_rest_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let (path, report) = write(
        dir.path(),
        "s.svs",
        &small(SynthColour::YCbCr, SynthLayout::Aperio),
    );
    let mut bytes = std::fs::read(&path).unwrap();
    // Tile (1, 1) of level 0 (6 tiles across): its stream no longer starts a JPEG.
    let (offset, len) = report.tiles[0][6 + 1];
    for b in &mut bytes[offset as usize..(offset + len) as usize] {
        *b = 0xAB;
    }
    std::fs::write(&path, &bytes).unwrap();

    let slide = Arc::new(Slide::open(&path, PathChoice::Auto).unwrap());
    let cache = Arc::new(TileCache::new(64 << 20));
    let pool = TilePool::new(
        Arc::clone(&slide) as Arc<dyn TileSource>,
        Arc::clone(&cache),
        2,
        64,
        |_| {},
    )
    .unwrap();
    let bad = TileKey {
        level: 0,
        col: 1,
        row: 1,
    };
    for key in every_tile(&slide) {
        pool.request(key, Priority::Visible);
    }
    pool.wait_idle();
    for key in every_tile(&slide) {
        let tile = cache.get(key).unwrap();
        match (&tile.content, key == bad) {
            (TileContent::Blank { reason }, true) => {
                assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
                assert_eq!((tile.width, tile.height), (256, 256));
            }
            (TileContent::Rgba(_), false) => {}
            (other, _) => panic!("{key:?}: {other:?}"),
        }
    }
}

#[test]
fn files_that_are_not_slides_give_one_line_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a slide").unwrap();
    let err = Slide::open(&text, PathChoice::Auto).unwrap_err();
    assert!(matches!(err, SlideError::Unsupported(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.ends_with("notes.txt") && !message.contains('\n'),
        "{message}"
    );

    let missing = dir.path().join("gone.svs");
    assert!(matches!(
        Slide::open(&missing, PathChoice::Auto),
        Err(SlideError::Missing(_))
    ));

    // A slide cut short: opening fails, or its missing tiles are blank; never a panic.
    let (path, _) = write(
        dir.path(),
        "cut.svs",
        &small(SynthColour::YCbCr, SynthLayout::Aperio),
    );
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() / 3, bytes.len() - 100, 64] {
        let cut = dir.path().join(format!("cut-{keep}.svs"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        match Slide::open(&cut, PathChoice::Auto) {
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
            Ok(slide) => {
                for key in every_tile(&slide) {
                    if let TileContent::Blank { reason } = slide.read_tile(key).content {
                        assert!(!reason.contains('\n'), "{reason}");
                    }
                }
            }
        }
    }

    // Through the command line: exit 1, one line on stderr.
    for bad in [&text, &dir.path().join(format!("cut-{}.svs", 64))] {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("info")
            .arg(bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if bad == &text {
            // A .txt file is not taken for a slide: DICOM discovery reports it skipped.
            assert!(out.status.success(), "{stderr}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        }
    }
}

#[test]
fn the_tile_cache_stays_within_its_bound_while_reading_a_whole_level() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(
        dir.path(),
        "s.svs",
        &small(SynthColour::YCbCr, SynthLayout::Aperio),
    );
    let slide = Arc::new(Slide::open(&path, PathChoice::Auto).unwrap());
    let one_tile = 256 * 256 * 4 + 256;
    let cache = Arc::new(TileCache::new(5 * one_tile));
    let pool = TilePool::new(
        Arc::clone(&slide) as Arc<dyn TileSource>,
        Arc::clone(&cache),
        2,
        16,
        |_| {},
    )
    .unwrap();
    let level0: Vec<TileKey> = every_tile(&slide)
        .into_iter()
        .filter(|k| k.level == 0)
        .collect();
    assert_eq!(level0.len(), 6 * 4);
    for chunk in level0.chunks(3) {
        for key in chunk {
            pool.request(*key, Priority::Visible);
        }
        pool.wait_idle();
        let stats = cache.stats();
        assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
    }
    let stats = cache.stats();
    assert!(stats.peak_bytes <= stats.capacity_bytes, "{stats:?}");
    assert_eq!(pool.decoded(), 24);
    assert!(stats.tiles < 24, "most tiles were evicted");
}

fn tessera(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_prints_levels_and_properties_without_identifying_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(
        dir.path(),
        "s.svs",
        &small(SynthColour::YCbCr, SynthLayout::Aperio),
    );
    let p = path.to_str().unwrap();
    let (ok, out, err) = tessera(&["info", p]);
    assert!(ok, "{err}");
    assert!(
        out.contains("slide (aperio), 4 level(s); level 0 1300x1000 px"),
        "{out}"
    );
    assert!(out.contains("objective 40x"), "{out}");
    assert!(out.contains("level 3: 163x125 px"), "{out}");
    assert!(out.contains("openslide.mpp-x = 0.25"), "{out}");
    assert!(out.contains("label, thumbnail"), "{out}");
    let (ok, json, err) = tessera(&["info", "--json", p]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["levels"][0]["width"], 1300);
    assert_eq!(v["levels"][0]["path"], "fast");
    assert_eq!(v["objective_power"], 40.0);
    for text in [&out, &json] {
        assert!(!text.contains("synthetic-do-not-show"), "{text}");
        assert!(!text.contains("Aperio Image Library"), "{text}");
    }
}

#[test]
fn bench_tiles_prints_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(
        dir.path(),
        "s.svs",
        &small(SynthColour::YCbCr, SynthLayout::Aperio),
    );
    let p = path.to_str().unwrap();
    for (path_arg, expected) in [
        (None, "fast"),
        (Some("fast"), "fast"),
        (Some("openslide"), "openslide"),
    ] {
        let mut args = vec![
            "bench", "tiles", p, "--tiles", "12", "--level", "0", "--seed", "3",
        ];
        if let Some(a) = path_arg {
            args.extend(["--path", a]);
        }
        let (ok, out, err) = tessera(&args);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{out}");
        assert_eq!(v["tiles"], 12);
        assert_eq!(v["path"], expected);
        assert!(v["seconds"].as_f64().unwrap() > 0.0);
        assert!(v["tiles_per_s"].as_f64().unwrap() > 0.0);
        assert!(v["peak_rss_bytes"].as_u64().unwrap() > 0);
    }
    // 1300x1000 has 5x3 whole 256 regions at level 0.
    let (ok, _, err) = tessera(&["bench", "tiles", p, "--tiles", "16"]);
    assert!(!ok && err.contains("between 1 and 15"), "{err}");
    let (ok, _, err) = tessera(&["bench", "tiles", p, "--level", "9"]);
    assert!(!ok && err.trim_end().lines().count() == 1, "{err}");
}

/// A slide made elsewhere (the harness' vips-written 40000² TIFF, a scanner's SVS):
/// `TESSERA_SLIDE=path cargo test --test it slide::an_external -- --nocapture`.
/// Skipped when the variable is unset (tests never fetch slides).
#[test]
fn an_external_slide_matches_openslide_on_random_tiles() {
    let Some(path) = std::env::var_os("TESSERA_SLIDE") else {
        return;
    };
    let slide = Slide::open(Path::new(&path), PathChoice::Auto).unwrap();
    let mut state = 12345u64;
    let mut worst = [0.0f64; 4];
    let mut max_abs = 0u8;
    let mut compared = 0;
    for (k, level) in slide.info().levels.iter().enumerate() {
        if level.path != TilePath::Fast {
            continue;
        }
        let (across, down) = level.tile_grid();
        for _ in 0..40 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let col = ((state >> 33) % across) as u32;
            let row = ((state >> 13) % down) as u32;
            let key = TileKey {
                level: k as u32,
                col,
                row,
            };
            let tile = slide.read_tile(key);
            let Some(fast) = tile.rgba() else {
                panic!("{key:?}: {:?}", tile.content);
            };
            let x = u64::from(col) * u64::from(level.tile_width);
            let y = u64::from(row) * u64::from(level.tile_height);
            let reference = slide
                .read_region_openslide(key.level, x, y, tile.width, tile.height)
                .unwrap();
            let d = mean_abs_diff(&fast, &reference);
            for (c, (w, dc)) in worst.iter_mut().zip(d).enumerate() {
                *w = w.max(dc);
                assert!(dc <= 1.0, "{key:?} channel {c}: {dc:.3}");
            }
            for (a, b) in fast.iter().zip(&reference) {
                max_abs = max_abs.max(a.abs_diff(*b));
            }
            compared += 1;
        }
    }
    eprintln!(
        "{compared} tiles: worst mean |fast - OpenSlide| per channel R {:.3} G {:.3} B {:.3} A {:.3}; largest single-sample difference {max_abs}",
        worst[0], worst[1], worst[2], worst[3]
    );
}
