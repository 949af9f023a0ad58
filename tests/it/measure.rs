//! Measurements on the demo study's geometry: a ruler placed edge to edge across each
//! demo lesion (in the row through its centre, on the CT grid `tessera demo` writes)
//! reads the sphere's chord within one pixel spacing. The demo voxelises shapes without
//! partial volume (a voxel is in a shape when its centre is), so an edge is only known
//! to within a pixel: half a pixel would need a partial-volume phantom.

use tessera::annotate::measure::PixelSpacing;
use tessera::imaging::demo::{DEMO_LESIONS, DemoSpec, Phantom, Tissue};

#[test]
fn a_ruler_across_each_demo_lesion_reads_its_diameter() {
    let spec = DemoSpec::FULL;
    let s = spec.ct_pixel_spacing_mm;
    let spacing = PixelSpacing::from_dicom([s, s]);
    let phantom = Phantom::new();
    let columns = usize::from(spec.ct_matrix);
    for (index, lesion) in DEMO_LESIONS.iter().enumerate() {
        let [cx, cy, cz] = lesion.centre_mm;
        let origin = spec.ct_voxel_mm(0, 0, 0);
        // The slice and row nearest the centre, as a reader would pick them.
        let k = ((spec.ct_first_z_mm - cz) / spec.ct_slice_spacing_mm).round() as u32;
        let j = ((cy - origin[1]) / s).round() as u32;
        let row_start = spec.ct_voxel_mm(0, j, k);
        let mut row = vec![Tissue::Air; columns];
        phantom.paint_line(row_start, [1.0, 0.0, 0.0], s, &mut row);
        let inside: Vec<usize> = (0..columns)
            .filter(|i| row[*i] == Tissue::Lesion(index as u8))
            .collect();
        let (first, last) = (inside[0], inside[inside.len() - 1]);
        assert_eq!(last - first + 1, inside.len(), "{}: one run", lesion.name);
        // Ruler end points on the outer edges of the edge pixels.
        let a = [first as f64 - 0.5, f64::from(j)];
        let b = [last as f64 + 0.5, f64::from(j)];
        let measured = spacing.length_mm(a, b);
        // The chord of the sphere in this row and slice.
        let r = lesion.diameter_mm / 2.0;
        let dy = row_start[1] - cy;
        let dz = row_start[2] - cz;
        let chord = 2.0 * (r * r - dy * dy - dz * dz).max(0.0).sqrt();
        assert!(
            (measured - chord).abs() <= s,
            "{}: ruler {measured:.2} mm, chord {chord:.2} mm (diameter {} mm, centre x {cx})",
            lesion.name,
            lesion.diameter_mm
        );
    }
}

/// A ruler placed the way a reader places one on an image with partial volume (each end
/// where the profile crosses half-way between inside and outside) across a sphere of
/// known diameter reads that diameter within half a pixel spacing. The sphere is
/// rendered as a CT would see it: each pixel holds the fraction of its area inside the
/// sphere's central cross-section (8 × 8 sub-samples), at the demo CT's pixel spacing.
#[test]
fn a_ruler_at_the_half_maximum_edges_reads_a_spheres_diameter_within_half_a_pixel() {
    let spec = DemoSpec::FULL;
    let s = spec.ct_pixel_spacing_mm;
    let spacing = PixelSpacing::from_dicom([s, s]);
    for (index, lesion) in DEMO_LESIONS.iter().enumerate() {
        let r = lesion.diameter_mm / 2.0;
        // Centre off the pixel grid by a different fraction for each lesion.
        let centre = [64.0 + 0.13 * index as f64, 64.0 + 0.37 * index as f64];
        let inside_hu = 60.0;
        let outside_hu = -10.0;
        let value = |column: usize, row: usize| {
            let mut inside = 0;
            for a in 0..8 {
                for b in 0..8 {
                    let x = (column as f64 - 0.5 + (a as f64 + 0.5) / 8.0 - centre[0]) * s;
                    let y = (row as f64 - 0.5 + (b as f64 + 0.5) / 8.0 - centre[1]) * s;
                    inside += usize::from(x * x + y * y <= r * r);
                }
            }
            let f = inside as f64 / 64.0;
            outside_hu + f * (inside_hu - outside_hu)
        };
        // The row through the centre; ends where the profile crosses the half maximum.
        let row = centre[1].round() as usize;
        let half = (inside_hu + outside_hu) / 2.0;
        let profile: Vec<f64> = (0..128).map(|c| value(c, row)).collect();
        let crossing = |range: Box<dyn Iterator<Item = usize>>| -> f64 {
            for c in range {
                let (a, b) = (profile[c], profile[c + 1]);
                if (a - half) * (b - half) <= 0.0 && a != b {
                    return c as f64 + (half - a) / (b - a);
                }
            }
            panic!("no edge");
        };
        let left = crossing(Box::new(0..127));
        let right = crossing(Box::new((0..127).rev()));
        let measured = spacing.length_mm([left, row as f64], [right, row as f64]);
        // The chord of the cross-section in this row (the row may miss the centre).
        let dy = (row as f64 - centre[1]) * s;
        let chord = 2.0 * (r * r - dy * dy).sqrt();
        assert!(
            (measured - chord).abs() <= s / 2.0,
            "{}: ruler {measured:.3} mm, chord {chord:.3} mm, pixel {s} mm",
            lesion.name
        );
    }
}
