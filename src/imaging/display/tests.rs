//! Tests may unwrap: a panic is a failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const CT: ModalityLut = ModalityLut {
    slope: 1.0,
    intercept: -1024.0,
};

fn linear(center: f64, width: f64) -> GrayscalePipeline {
    GrayscalePipeline {
        modality: CT,
        voi: Voi::Linear(VoiWindow::new(center, width)),
        polarity: Polarity::Normal,
    }
}

#[test]
fn modality_lut_rescales() {
    assert_eq!(CT.apply(1024.0), 0.0);
    assert_eq!(CT.apply(0.0), -1024.0);
    let ms = ModalityLut {
        slope: 0.5,
        intercept: 10.0,
    };
    assert_eq!(ms.apply(100.0), 60.0);
    assert_eq!(ModalityLut::IDENTITY.apply(-7.0), -7.0);
}

#[test]
fn linear_window_follows_ps3_3_c_11_2_1_2() {
    // c = 40, w = 400: bottom edge at 40 - 0.5 - 199.5 = -160, top edge at 239.
    let w = VoiWindow::new(40.0, 400.0);
    assert_eq!(w.apply(-1000.0), 0);
    assert_eq!(w.apply(-160.0), 0);
    assert!((linear_voi(-159.0, 40.0, 400.0) - 255.0 / 399.0).abs() < 1e-9);
    assert_eq!(w.apply(239.0), 255);
    assert_eq!(w.apply(239.5), 255);
    assert_eq!(w.apply(3000.0), 255);
    // The centre maps to mid-grey: ((40 - 39.5) / 399 + 0.5) * 255 = 127.82.
    assert_eq!(w.apply(40.0), 128);
    assert!((linear_voi(40.0, 40.0, 400.0) - 127.819_548).abs() < 1e-5);
    // Monotone non-decreasing over the whole range.
    let mut last = 0;
    for x in -300..400 {
        let y = w.apply(f64::from(x));
        assert!(y >= last);
        last = y;
    }
}

#[test]
fn width_one_is_a_threshold() {
    let w = VoiWindow::new(100.0, 1.0);
    assert_eq!(w.apply(99.5), 0);
    assert_eq!(w.apply(99.6), 255);
    // Widths below 1 are treated as 1, never dividing by zero.
    let w = VoiWindow::new(100.0, 0.0);
    assert_eq!(w.apply(99.0), 0);
    assert_eq!(w.apply(101.0), 255);
}

#[test]
fn presets_are_the_usual_ones() {
    let by_name = |name: &str| {
        CT_WINDOW_PRESETS
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.window.width, p.window.center))
    };
    assert_eq!(by_name("Soft tissue"), Some((400.0, 40.0)));
    assert_eq!(by_name("Lung"), Some((1500.0, -600.0)));
    assert_eq!(by_name("Bone"), Some((2000.0, 400.0)));
    assert_eq!(by_name("Brain"), Some((80.0, 40.0)));
}

#[test]
fn gray_pipeline_applies_modality_then_window() {
    let p = linear(40.0, 400.0);
    assert_eq!(p.gray(0.0), 0); // air
    assert_eq!(p.gray(1024.0 + 40.0), 128); // HU 40
    assert_eq!(p.gray(1024.0 + 1000.0), 255); // bone
    let inverted = GrayscalePipeline {
        polarity: Polarity::Inverted,
        ..p
    };
    assert_eq!(inverted.gray(0.0), 255);
    assert_eq!(inverted.gray(1024.0 + 40.0), 127);
}

#[test]
fn voi_lut_clamps_and_scales() {
    // 4 entries from input -2, 12-bit output.
    let lut = Lut::new(
        LutDescriptor::from_values(4, -2, 12),
        vec![0, 1000, 2000, 4095],
    )
    .unwrap();
    assert_eq!(lut.lookup(-100.0), 0);
    assert_eq!(lut.lookup(-2.0), 0);
    assert_eq!(lut.lookup(-1.0), 1000);
    assert_eq!(lut.lookup(0.5), 2000);
    assert_eq!(lut.lookup(1.0), 4095);
    assert_eq!(lut.lookup(500.0), 4095);
    assert_eq!(lut.lookup_u8(1.0), 255);
    assert_eq!(lut.lookup_u8(-1.0), 62); // 1000 / 4095 * 255 = 62.27
    let p = GrayscalePipeline {
        modality: ModalityLut::IDENTITY,
        voi: Voi::Lut(lut),
        polarity: Polarity::Normal,
    };
    assert_eq!(p.gray(0.0), 125); // 2000 / 4095 * 255 = 124.5
}

#[test]
fn lut_descriptor_zero_means_65536_and_lengths_are_checked() {
    assert_eq!(LutDescriptor::from_values(0, 0, 16).entries, 65536);
    assert_eq!(
        Lut::new(LutDescriptor::from_values(3, 0, 8), vec![1, 2]),
        Err(DisplayError::LutLength {
            expected: 3,
            actual: 2
        })
    );
}

fn palette() -> PaletteLut {
    let d = LutDescriptor::from_values(3, 0, 16);
    PaletteLut {
        red: Lut::new(d, vec![0, 65535, 0]).unwrap(),
        green: Lut::new(d, vec![0, 0, 65535]).unwrap(),
        blue: Lut::new(d, vec![65535, 0, 32768]).unwrap(),
    }
}

#[test]
fn palette_maps_indices_to_rgb() {
    let p = palette();
    assert_eq!(p.rgb(0.0), [0, 0, 255]);
    assert_eq!(p.rgb(1.0), [255, 0, 0]);
    assert_eq!(p.rgb(2.0), [0, 255, 128]);
    assert_eq!(p.rgb(9.0), [0, 255, 128]);
}

fn frame(photometric: Photometric, samples_per_pixel: u16, samples: Samples) -> Frame {
    Frame {
        rows: 1,
        columns: 2,
        samples_per_pixel,
        photometric,
        samples,
    }
}

#[test]
fn frames_render_by_photometric_interpretation() {
    let p = linear(40.0, 400.0);
    let mono2 = frame(Photometric::Monochrome2, 1, Samples::I16(vec![0, 2000]));
    assert_eq!(
        render_frame_rgba(&mono2, &p, None, 16).unwrap(),
        vec![0, 0, 0, 255, 255, 255, 255, 255]
    );
    let mono1 = frame(Photometric::Monochrome1, 1, Samples::U16(vec![0, 2000]));
    assert_eq!(
        render_frame_rgba(&mono1, &p, None, 16).unwrap(),
        vec![255, 255, 255, 255, 0, 0, 0, 255]
    );
    let rgb8 = frame(
        Photometric::Rgb,
        3,
        Samples::U8(vec![1, 2, 3, 250, 251, 252]),
    );
    assert_eq!(
        render_frame_rgba(&rgb8, &p, None, 8).unwrap(),
        vec![1, 2, 3, 255, 250, 251, 252, 255]
    );
    let rgb16 = frame(
        Photometric::Rgb,
        3,
        Samples::U16(vec![0, 4095, 2048, 4095, 0, 0]),
    );
    assert_eq!(
        render_frame_rgba(&rgb16, &p, None, 12).unwrap(),
        vec![0, 255, 128, 255, 255, 0, 0, 255]
    );
    let pal = frame(Photometric::PaletteColor, 1, Samples::U8(vec![1, 2]));
    assert_eq!(
        render_frame_rgba(&pal, &p, Some(&palette()), 8).unwrap(),
        vec![255, 0, 0, 255, 0, 255, 128, 255]
    );
    assert_eq!(
        render_frame_rgba(&pal, &p, None, 8),
        Err(DisplayError::MissingPalette)
    );
    let short = frame(Photometric::Monochrome2, 1, Samples::I16(vec![0]));
    assert!(matches!(
        render_frame_rgba(&short, &p, None, 16),
        Err(DisplayError::FrameSize { actual: 1, .. })
    ));
}
