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
