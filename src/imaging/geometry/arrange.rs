//! Arranging slices into stacks: splitting what cannot share a volume, sorting,
//! measuring spacing and detecting gaps, non-uniform spacing, tilt and duplicates.
//!
//! Pure: works on [`SliceInput`] values, never on files. Conventions are in the
//! parent module's docs.

use std::cmp::Ordering;

use super::{
    GeometryWarning, Mat4, Orientation, SortFallback, SpacingSource, SplitReason, StackGeometry,
    Vec3,
};

use self::SliceInput as Input;

/// Cosines that differ by more than this per component are different orientations.
const ORIENTATION_TOLERANCE: f64 = 1e-3;
/// Pixel spacings that differ by more than this (mm) split a series.
const PIXEL_SPACING_TOLERANCE_MM: f64 = 1e-3;
/// Slices closer than this along the normal share a position.
const DUPLICATE_TOLERANCE_MM: f64 = 0.01;
/// Spacing deviations up to this (mm) plus [`SPACING_RELATIVE_TOLERANCE`] are uniform.
const SPACING_ABSOLUTE_TOLERANCE_MM: f64 = 0.01;
const SPACING_RELATIVE_TOLERANCE: f64 = 0.01;
/// A step of more than this many nominal spacings is a gap.
const GAP_RATIO: f64 = 1.5;
/// A stack axis further than this from the normal is a gantry tilt.
const TILT_THRESHOLD_DEG: f64 = 0.05;
/// Row/column cosines further than this from perpendicular are reported.
const ORTHOGONALITY_TOLERANCE_DEG: f64 = 0.1;

/// The geometry-relevant header values of one slice (one file, or one frame).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SliceInput {
    /// ImagePositionPatient, LPS mm.
    pub position_mm: Option<Vec3>,
    /// ImageOrientationPatient, raw six values.
    pub orientation: Option<[f64; 6]>,
    /// PixelSpacing: between rows, between columns (mm).
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub rows: u32,
    pub columns: u32,
    pub instance_number: Option<i64>,
    /// Orders slices that share a position, smaller first (for example echo
    /// number, temporal position, acquisition number).
    pub layer_key: [i64; 3],
    /// Anything else that must match to stack (pixel format); opaque here.
    pub format_key: u64,
}

/// Header values that describe the whole series, used when positions cannot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StackHints {
    pub slice_thickness_mm: Option<f64>,
    pub spacing_between_slices_mm: Option<f64>,
    /// GantryDetectorTilt, reported next to the measured tilt.
    pub gantry_tilt_deg: Option<f64>,
}

/// One stack: which inputs, in `k` order, and its geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct StackLayout {
    /// Indices into the `inputs` given to [`arrange`], slice `k` first.
    pub order: Vec<usize>,
    pub geometry: StackGeometry,
    pub warnings: Vec<GeometryWarning>,
}

/// Splits `inputs` into stacks that can each be one volume, sorts each and computes
/// its geometry. Every input ends up in exactly one stack. Stacks come out in a
/// stable order (by first appearance in `inputs`).
pub fn arrange(inputs: &[Input], hints: &StackHints) -> Vec<StackLayout> {
    let groups = group(inputs);
    let reasons = split_reasons(&groups);
    let mut layouts: Vec<StackLayout> = groups
        .iter()
        .flat_map(|g| arrange_group(inputs, g, hints))
        .collect();
    if layouts.len() > 1 && !reasons.is_empty() {
        let stacks = u32::try_from(layouts.len()).unwrap_or(u32::MAX);
        for layout in &mut layouts {
            layout.warnings.insert(
                0,
                GeometryWarning::SeriesSplit {
                    reasons: reasons.clone(),
                    stacks,
                },
            );
        }
    }
    layouts
}

/// Slices that agree on everything that must match to share a volume.
struct Group {
    rows: u32,
    columns: u32,
    format_key: u64,
    orientation: Option<Orientation>,
    raw_orientation: Option<[f64; 6]>,
    pixel_spacing_mm: Option<[f64; 2]>,
    members: Vec<usize>,
}

fn valid_pixel_spacing(spacing: Option<[f64; 2]>) -> Option<[f64; 2]> {
    spacing.filter(|s| s.iter().all(|v| v.is_finite() && *v > 0.0))
}

fn same_spacing(a: Option<[f64; 2]>, b: Option<[f64; 2]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            (a[0] - b[0]).abs() <= PIXEL_SPACING_TOLERANCE_MM
                && (a[1] - b[1]).abs() <= PIXEL_SPACING_TOLERANCE_MM
        }
        _ => false,
    }
}

fn same_orientation(a: Option<Orientation>, b: Option<Orientation>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.approx_eq(&b, ORIENTATION_TOLERANCE),
        _ => false,
    }
}

fn group(inputs: &[Input]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let orientation = input.orientation.and_then(Orientation::from_dicom);
        let spacing = valid_pixel_spacing(input.pixel_spacing_mm);
        let found = groups.iter_mut().find(|g| {
            g.rows == input.rows
                && g.columns == input.columns
                && g.format_key == input.format_key
                && same_orientation(g.orientation, orientation)
                && same_spacing(g.pixel_spacing_mm, spacing)
        });
        match found {
            Some(g) => g.members.push(index),
            None => groups.push(Group {
                rows: input.rows,
                columns: input.columns,
                format_key: input.format_key,
                orientation,
                raw_orientation: input.orientation.filter(|_| orientation.is_some()),
                pixel_spacing_mm: spacing,
                members: vec![index],
            }),
        }
    }
    groups
}

fn split_reasons(groups: &[Group]) -> Vec<SplitReason> {
    let Some((first, rest)) = groups.split_first() else {
        return Vec::new();
    };
    let mut reasons = Vec::new();
    for g in rest {
        if g.rows != first.rows || g.columns != first.columns {
            reasons.push(SplitReason::Size);
        }
        if !same_orientation(g.orientation, first.orientation) {
            reasons.push(SplitReason::Orientation);
        }
        if !same_spacing(g.pixel_spacing_mm, first.pixel_spacing_mm) {
            reasons.push(SplitReason::PixelSpacing);
        }
        if g.format_key != first.format_key {
            reasons.push(SplitReason::PixelFormat);
        }
    }
    reasons.sort();
    reasons.dedup();
    reasons
}

/// Orders slices sharing a position: layer key, then instance number, then input order.
fn tie_break(inputs: &[Input], a: usize, b: usize) -> Ordering {
    let key = |i: usize| {
        inputs
            .get(i)
            .map(|s| (s.layer_key, s.instance_number.unwrap_or(i64::MAX)))
    };
    key(a).cmp(&key(b)).then(a.cmp(&b))
}

fn arrange_group(inputs: &[Input], g: &Group, hints: &StackHints) -> Vec<StackLayout> {
    let mut warnings = Vec::new();
    let orientation = match g.orientation {
        Some(o) => {
            if let Some(angle_deg) = g.raw_orientation.and_then(non_orthogonal_angle) {
                warnings.push(GeometryWarning::NonOrthogonalOrientation { angle_deg });
            }
            o
        }
        None => {
            warnings.push(GeometryWarning::OrientationAssumed);
            Orientation::AXIAL
        }
    };
    let pixel_spacing_mm = g.pixel_spacing_mm.unwrap_or_else(|| {
        warnings.push(GeometryWarning::PixelSpacingAssumed);
        [1.0, 1.0]
    });
    let normal = orientation.normal();
    let frame = Frame {
        rows: g.rows,
        columns: g.columns,
        orientation,
        pixel_spacing_mm,
        hints: *hints,
    };

    let positions: Option<Vec<(usize, Vec3)>> = g
        .members
        .iter()
        .map(|&i| {
            let p = inputs.get(i)?.position_mm.filter(|p| p.is_finite())?;
            Some((i, p))
        })
        .collect();
    let positions = positions.filter(|_| g.orientation.is_some());

    let Some(mut positions) = positions else {
        let mut order = g.members.clone();
        let numbered = order
            .iter()
            .all(|&i| inputs.get(i).is_some_and(|s| s.instance_number.is_some()));
        let fallback = if numbered {
            order.sort_by(|&a, &b| {
                let n = |i: usize| inputs.get(i).and_then(|s| s.instance_number);
                n(a).cmp(&n(b)).then(a.cmp(&b))
            });
            SortFallback::InstanceNumber
        } else {
            SortFallback::InputOrder
        };
        if order.len() > 1 {
            warnings.push(GeometryWarning::PositionsMissing { fallback });
        }
        let origin = order
            .first()
            .and_then(|&i| inputs.get(i)?.position_mm)
            .filter(|p| p.is_finite())
            .unwrap_or(Vec3::ZERO);
        return vec![frame.without_positions(order, origin, warnings)];
    };

    let depth = |p: Vec3| p.dot(normal);
    positions.sort_by(|a, b| {
        depth(a.1)
            .total_cmp(&depth(b.1))
            .then_with(|| tie_break(inputs, a.0, b.0))
    });

    // Cluster slices sharing a position; each cluster ordered by the tie-break.
    let mut clusters: Vec<Vec<(usize, Vec3)>> = Vec::new();
    for (i, p) in positions {
        match clusters.last_mut() {
            Some(c)
                if c.first()
                    .is_some_and(|f| depth(p) - depth(f.1) <= DUPLICATE_TOLERANCE_MM) =>
            {
                c.push((i, p));
            }
            _ => clusters.push(vec![(i, p)]),
        }
    }
    let layers = clusters.iter().map(Vec::len).max().unwrap_or(0);
    if layers <= 1 {
        let slices = clusters.into_iter().flatten().collect();
        return vec![frame.with_positions(slices, warnings)];
    }
    for c in &mut clusters {
        c.sort_by(|a, b| tie_break(inputs, a.0, b.0));
    }
    let duplicated: usize = clusters.iter().filter(|c| c.len() > 1).map(Vec::len).sum();
    let duplicate = GeometryWarning::DuplicatePositions {
        slices: u32::try_from(duplicated).unwrap_or(u32::MAX),
        layers: u32::try_from(layers).unwrap_or(u32::MAX),
    };
    (0..layers)
        .map(|layer| {
            let slices: Vec<(usize, Vec3)> = clusters
                .iter()
                .filter_map(|c| c.get(layer).copied())
                .collect();
            let mut w = warnings.clone();
            w.push(duplicate.clone());
            frame.with_positions(slices, w)
        })
        .collect()
}

/// The angle between the cosines when it is noticeably not 90°.
fn non_orthogonal_angle(raw: [f64; 6]) -> Option<f64> {
    let [a, b, c, d, e, f] = raw;
    let r = Vec3::new(a, b, c).normalized()?;
    let col = Vec3::new(d, e, f).normalized()?;
    let angle_deg = r.dot(col).clamp(-1.0, 1.0).acos().to_degrees();
    ((angle_deg - 90.0).abs() > ORTHOGONALITY_TOLERANCE_DEG).then_some(angle_deg)
}

/// What every slice of one stack shares.
struct Frame {
    rows: u32,
    columns: u32,
    orientation: Orientation,
    pixel_spacing_mm: [f64; 2],
    hints: StackHints,
}

impl Frame {
    fn geometry(
        &self,
        slices: usize,
        step: Vec3,
        origin: Vec3,
        origins: Vec<Vec3>,
    ) -> StackGeometry {
        let [row_spacing, column_spacing] = self.pixel_spacing_mm;
        let normal = self.orientation.normal();
        StackGeometry {
            columns: self.columns,
            rows: self.rows,
            slices: u32::try_from(slices).unwrap_or(u32::MAX),
            orientation: self.orientation,
            pixel_spacing_mm: self.pixel_spacing_mm,
            slice_spacing_mm: step.dot(normal).abs(),
            spacing_source: SpacingSource::Positions,
            world_from_voxel: Mat4::from_columns(
                self.orientation.row_cosine * column_spacing,
                self.orientation.column_cosine * row_spacing,
                step,
                origin,
            ),
            slice_origins_mm: origins,
        }
    }

    /// Spacing from the series hints: SpacingBetweenSlices, SliceThickness, 1 mm.
    fn hinted_spacing(&self) -> (f64, SpacingSource) {
        let valid = |v: Option<f64>| v.filter(|v| v.is_finite() && *v > 0.0);
        if let Some(s) = valid(self.hints.spacing_between_slices_mm) {
            (s, SpacingSource::SpacingBetweenSlices)
        } else if let Some(s) = valid(self.hints.slice_thickness_mm) {
            (s, SpacingSource::SliceThickness)
        } else {
            (1.0, SpacingSource::Assumed)
        }
    }

    fn without_positions(
        &self,
        order: Vec<usize>,
        origin: Vec3,
        mut warnings: Vec<GeometryWarning>,
    ) -> StackLayout {
        let (spacing_mm, source) = self.hinted_spacing();
        if order.len() > 1 {
            warnings.push(GeometryWarning::SliceSpacingAssumed { spacing_mm, source });
        }
        let step = self.orientation.normal() * spacing_mm;
        let origins = (0..order.len()).map(|k| origin + step * k as f64).collect();
        let mut geometry = self.geometry(order.len(), step, origin, origins);
        geometry.spacing_source = source;
        StackLayout {
            order,
            geometry,
            warnings,
        }
    }

    /// `slices` sorted along the normal with distinct positions.
    fn with_positions(
        &self,
        slices: Vec<(usize, Vec3)>,
        mut warnings: Vec<GeometryWarning>,
    ) -> StackLayout {
        let order: Vec<usize> = slices.iter().map(|s| s.0).collect();
        let origins: Vec<Vec3> = slices.iter().map(|s| s.1).collect();
        let (Some(&first), Some(&last)) = (origins.first(), origins.last()) else {
            return self.without_positions(order, Vec3::ZERO, warnings);
        };
        if origins.len() < 2 {
            let (spacing_mm, source) = self.hinted_spacing();
            let step = self.orientation.normal() * spacing_mm;
            let mut geometry = self.geometry(1, step, first, origins);
            geometry.spacing_source = source;
            return StackLayout {
                order,
                geometry,
                warnings,
            };
        }
        let normal = self.orientation.normal();
        let depths: Vec<f64> = origins.iter().map(|p| p.dot(normal)).collect();
        let deltas: Vec<f64> = depths
            .iter()
            .zip(depths.iter().skip(1))
            .map(|(a, b)| b - a)
            .collect();
        warnings.extend(spacing_warnings(&deltas));

        let step = (last - first) * (1.0 / (origins.len() - 1) as f64);
        let along = step.dot(normal).abs();
        let measured_deg = (along / step.norm()).clamp(-1.0, 1.0).acos().to_degrees();
        if measured_deg > TILT_THRESHOLD_DEG {
            warnings.push(GeometryWarning::GantryTilt {
                measured_deg,
                header_deg: self.hints.gantry_tilt_deg.filter(|t| *t != 0.0),
            });
        }
        let geometry = self.geometry(origins.len(), step, first, origins);
        StackLayout {
            order,
            geometry,
            warnings,
        }
    }
}

/// Gap and non-uniform spacing warnings for consecutive plane distances.
fn spacing_warnings(deltas: &[f64]) -> Vec<GeometryWarning> {
    let mut sorted = deltas.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Lower median: with gaps, the smaller of two middle values is the nominal one.
    let Some(&nominal) = sorted.get(sorted.len().saturating_sub(1) / 2) else {
        return Vec::new();
    };
    if nominal <= 0.0 {
        return Vec::new();
    }
    let tolerance = SPACING_ABSOLUTE_TOLERANCE_MM + SPACING_RELATIVE_TOLERANCE * nominal;
    let mut warnings = Vec::new();
    let mut uniform_range: Option<(f64, f64)> = None;
    let mut non_uniform = false;
    for (k, &delta) in deltas.iter().enumerate() {
        if delta > GAP_RATIO * nominal {
            let missing = (delta / nominal).round() - 1.0;
            warnings.push(GeometryWarning::Gap {
                after_slice: u32::try_from(k).unwrap_or(u32::MAX),
                gap_mm: delta,
                expected_mm: nominal,
                missing_slices: missing.clamp(1.0, f64::from(u32::MAX)) as u32,
            });
            continue;
        }
        non_uniform |= (delta - nominal).abs() > tolerance;
        uniform_range = Some(match uniform_range {
            None => (delta, delta),
            Some((lo, hi)) => (lo.min(delta), hi.max(delta)),
        });
    }
    if let (true, Some((min_mm, max_mm))) = (non_uniform, uniform_range) {
        warnings.push(GeometryWarning::NonUniformSpacing { min_mm, max_mm });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axial(z: f64, n: i64) -> Input {
        Input {
            position_mm: Some(Vec3::new(-10.0, -20.0, z)),
            orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            pixel_spacing_mm: Some([0.5, 0.25]),
            rows: 4,
            columns: 8,
            instance_number: Some(n),
            ..Input::default()
        }
    }

    fn one(inputs: &[Input]) -> StackLayout {
        let mut v = arrange(inputs, &StackHints::default());
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    #[test]
    fn sorts_by_position_not_file_order() {
        let inputs = [axial(3.0, 1), axial(1.0, 3), axial(2.0, 2)];
        let s = one(&inputs);
        assert_eq!(s.order, vec![1, 2, 0]);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let m = s.geometry.world_from_voxel;
        assert_eq!(m.column(0), Vec3::new(0.25, 0.0, 0.0));
        assert_eq!(m.column(1), Vec3::new(0.0, 0.5, 0.0));
        assert_eq!(m.column(2), Vec3::new(0.0, 0.0, 1.0));
        assert_eq!(m.column(3), Vec3::new(-10.0, -20.0, 1.0));
        assert_eq!(s.geometry.spacing_mm(), [0.25, 0.5, 1.0]);
    }

    #[test]
    fn instance_number_fallback() {
        let mut inputs = [axial(0.0, 2), axial(0.0, 1)];
        for i in &mut inputs {
            i.position_mm = None;
        }
        let s = one(&inputs);
        assert_eq!(s.order, vec![1, 0]);
        assert!(s.warnings.contains(&GeometryWarning::PositionsMissing {
            fallback: SortFallback::InstanceNumber
        }));
    }

    #[test]
    fn gap_and_non_uniform() {
        let gap = spacing_warnings(&[1.0, 1.0, 2.0, 1.0]);
        assert!(matches!(
            gap.as_slice(),
            [GeometryWarning::Gap {
                after_slice: 2,
                missing_slices: 1,
                ..
            }]
        ));
        let uneven = spacing_warnings(&[1.0, 1.2, 1.0]);
        assert!(matches!(
            uneven.as_slice(),
            [GeometryWarning::NonUniformSpacing { .. }]
        ));
        assert!(spacing_warnings(&[1.0, 1.001, 0.999]).is_empty());
    }

    #[test]
    fn tilt_gives_sheared_affine() {
        let inputs: Vec<Input> = (0..4)
            .map(|k| {
                let mut s = axial(f64::from(k) * 2.0, i64::from(k));
                s.position_mm = Some(Vec3::new(-10.0, -20.0 + f64::from(k), f64::from(k) * 2.0));
                s
            })
            .collect();
        let s = one(&inputs);
        assert_eq!(
            s.geometry.world_from_voxel.column(2),
            Vec3::new(0.0, 1.0, 2.0)
        );
        assert_eq!(s.geometry.slice_spacing_mm, 2.0);
        assert!(s.warnings.iter().any(|w| matches!(
            w,
            GeometryWarning::GantryTilt { measured_deg, .. } if (measured_deg - 26.565).abs() < 1e-2
        )));
    }

    #[test]
    fn duplicates_split_into_layers() {
        let mut inputs = vec![axial(0.0, 1), axial(1.0, 2), axial(0.0, 3), axial(1.0, 4)];
        inputs[2].layer_key = [2, 0, 0];
        inputs[3].layer_key = [2, 0, 0];
        let v = arrange(&inputs, &StackHints::default());
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].order, vec![0, 1]);
        assert_eq!(v[1].order, vec![2, 3]);
    }

    #[test]
    fn mixed_sizes_and_orientations_split() {
        let mut inputs = vec![axial(0.0, 1), axial(1.0, 2), axial(2.0, 3)];
        inputs[1].rows = 5;
        inputs[2].orientation = Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        let v = arrange(&inputs, &StackHints::default());
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|s| s.warnings.iter().any(|w| matches!(
            w,
            GeometryWarning::SeriesSplit { reasons, stacks: 3 }
                if reasons == &[SplitReason::Size, SplitReason::Orientation]
        ))));
    }

    #[test]
    fn single_slice_uses_hints() {
        let hints = StackHints {
            slice_thickness_mm: Some(3.0),
            ..StackHints::default()
        };
        let v = arrange(&[axial(5.0, 1)], &hints);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].geometry.slice_spacing_mm, 3.0);
        assert_eq!(v[0].geometry.spacing_source, SpacingSource::SliceThickness);
    }

    #[test]
    fn non_orthogonal_cosines_reported() {
        assert!(non_orthogonal_angle([1.0, 0.0, 0.0, 0.1, 1.0, 0.0]).is_some());
        assert!(non_orthogonal_angle([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).is_none());
    }
}
