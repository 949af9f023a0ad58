//! Measurements of annotations drawn on one image plane, in millimetres.
//!
//! Owns the conversion from image points (`[column, row]`, pixel centres at integers)
//! to physical lengths through the pixel spacing, and the measurements every tool
//! shows: ruler length, angle, bidirectional (RECIST long/short axis), rectangle,
//! ellipse and polygon area and perimeter, and region statistics (count, mean, SD,
//! min, max of modality values, e.g. HU) over the pixels whose centres are inside.

/// An image point: `[column, row]` in pixels; pixel centres are at integers.
pub type Point = [f64; 2];

/// The physical size of one pixel of the plane being measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelSpacing {
    /// Along a column (between rows), mm.
    pub row_mm: f64,
    /// Along a row (between columns), mm.
    pub column_mm: f64,
}

impl PixelSpacing {
    /// From DICOM PixelSpacing order (between rows, between columns).
    pub fn from_dicom(spacing: [f64; 2]) -> Self {
        Self {
            row_mm: spacing[0],
            column_mm: spacing[1],
        }
    }

    /// The vector `b - a` in mm.
    fn delta_mm(&self, a: Point, b: Point) -> [f64; 2] {
        [(b[0] - a[0]) * self.column_mm, (b[1] - a[1]) * self.row_mm]
    }

    /// Distance between two image points, mm.
    pub fn length_mm(&self, a: Point, b: Point) -> f64 {
        let d = self.delta_mm(a, b);
        d[0].hypot(d[1])
    }

    /// Angle at `vertex` between the rays to `a` and `b`, degrees (0..=180), measured
    /// in physical space (anisotropic pixels do not bend it).
    pub fn angle_deg(&self, a: Point, vertex: Point, b: Point) -> Option<f64> {
        let u = self.delta_mm(vertex, a);
        let v = self.delta_mm(vertex, b);
        let (nu, nv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
        if nu == 0.0 || nv == 0.0 {
            return None;
        }
        let cos = ((u[0] * v[0] + u[1] * v[1]) / (nu * nv)).clamp(-1.0, 1.0);
        Some(cos.acos().to_degrees())
    }

    /// Area of a simple polygon (shoelace), mm².
    pub fn polygon_area_mm2(&self, points: &[Point]) -> f64 {
        if points.len() < 3 {
            return 0.0;
        }
        let twice: f64 = points
            .iter()
            .zip(points.iter().cycle().skip(1))
            .map(|(p, q)| p[0] * q[1] - q[0] * p[1])
            .sum();
        (twice / 2.0).abs() * self.row_mm * self.column_mm
    }

    /// Perimeter of a closed polygon, mm.
    pub fn polygon_perimeter_mm(&self, points: &[Point]) -> f64 {
        if points.len() < 2 {
            return 0.0;
        }
        points
            .iter()
            .zip(points.iter().cycle().skip(1))
            .map(|(p, q)| self.length_mm(*p, *q))
            .sum()
    }

    /// A bidirectional measurement: the long axis and the short axis, with how far
    /// the short axis is from perpendicular (RECIST asks for perpendicular axes).
    pub fn bidirectional(&self, long: [Point; 2], short: [Point; 2]) -> Bidirectional {
        let (a, b) = (
            self.delta_mm(long[0], long[1]),
            self.delta_mm(short[0], short[1]),
        );
        let (na, nb) = (a[0].hypot(a[1]), b[0].hypot(b[1]));
        let off = if na == 0.0 || nb == 0.0 {
            0.0
        } else {
            let cos = ((a[0] * b[0] + a[1] * b[1]) / (na * nb))
                .abs()
                .clamp(0.0, 1.0);
            90.0 - cos.acos().to_degrees()
        };
        let (long_mm, short_mm) = if na >= nb { (na, nb) } else { (nb, na) };
        Bidirectional {
            long_mm,
            short_mm,
            off_perpendicular_deg: off,
        }
    }
}

/// Result of [`PixelSpacing::bidirectional`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bidirectional {
    pub long_mm: f64,
    pub short_mm: f64,
    pub off_perpendicular_deg: f64,
}

/// A region drawn on the image.
#[derive(Clone, Debug, PartialEq)]
pub enum Region {
    /// Two opposite corners.
    Rectangle([Point; 2]),
    /// Axis-aligned in image space: centre and radii in pixels (columns, rows).
    Ellipse { centre: Point, radii: [f64; 2] },
    /// Closed; the last point joins the first.
    Polygon(Vec<Point>),
}

impl Region {
    /// Whether an image point is inside (boundary included for rectangles/ellipses;
    /// even-odd rule for polygons).
    pub fn contains(&self, p: Point) -> bool {
        match self {
            Region::Rectangle([a, b]) => {
                let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
                let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
                (x0..=x1).contains(&p[0]) && (y0..=y1).contains(&p[1])
            }
            Region::Ellipse { centre, radii } => {
                if radii[0] <= 0.0 || radii[1] <= 0.0 {
                    return false;
                }
                let dx = (p[0] - centre[0]) / radii[0];
                let dy = (p[1] - centre[1]) / radii[1];
                dx * dx + dy * dy <= 1.0
            }
            Region::Polygon(points) => {
                let mut inside = false;
                let n = points.len();
                for i in 0..n {
                    let (a, b) = (points[i], points[(i + n - 1) % n]);
                    if (a[1] > p[1]) != (b[1] > p[1])
                        && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
                    {
                        inside = !inside;
                    }
                }
                inside
            }
        }
    }

    /// The region's own area, mm² (analytic for rectangles and ellipses).
    pub fn area_mm2(&self, spacing: &PixelSpacing) -> f64 {
        match self {
            Region::Rectangle([a, b]) => {
                (b[0] - a[0]).abs() * spacing.column_mm * (b[1] - a[1]).abs() * spacing.row_mm
            }
            Region::Ellipse { radii, .. } => {
                std::f64::consts::PI * radii[0] * spacing.column_mm * radii[1] * spacing.row_mm
            }
            Region::Polygon(points) => spacing.polygon_area_mm2(points),
        }
    }

    /// Perimeter in mm (Ramanujan's approximation for ellipses).
    pub fn perimeter_mm(&self, spacing: &PixelSpacing) -> f64 {
        match self {
            Region::Rectangle([a, b]) => {
                2.0 * ((b[0] - a[0]).abs() * spacing.column_mm
                    + (b[1] - a[1]).abs() * spacing.row_mm)
            }
            Region::Ellipse { radii, .. } => {
                let (a, b) = (radii[0] * spacing.column_mm, radii[1] * spacing.row_mm);
                let h = ((a - b) / (a + b)).powi(2);
                std::f64::consts::PI * (a + b) * (1.0 + 3.0 * h / (10.0 + (4.0 - 3.0 * h).sqrt()))
            }
            Region::Polygon(points) => spacing.polygon_perimeter_mm(points),
        }
    }

    /// Pixel bounds (inclusive) that can hold inside pixels, clipped to the image.
    fn bounds(&self, columns: usize, rows: usize) -> Option<[usize; 4]> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut grow = |p: Point| {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        };
        match self {
            Region::Rectangle([a, b]) => {
                grow(*a);
                grow(*b);
            }
            Region::Ellipse { centre, radii } => {
                grow([centre[0] - radii[0], centre[1] - radii[1]]);
                grow([centre[0] + radii[0], centre[1] + radii[1]]);
            }
            Region::Polygon(points) => points.iter().copied().for_each(&mut grow),
        }
        if columns == 0 || rows == 0 || !(x0.is_finite() && y1.is_finite()) {
            return None;
        }
        let clamp = |v: f64, n: usize| v.max(0.0).min((n - 1) as f64);
        Some([
            clamp(x0.ceil(), columns) as usize,
            clamp(y0.ceil(), rows) as usize,
            clamp(x1.floor(), columns) as usize,
            clamp(y1.floor(), rows) as usize,
        ])
    }
}

/// Statistics of the values inside a region.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionStats {
    /// Pixels whose centre is inside.
    pub count: usize,
    pub mean: f64,
    /// Population standard deviation.
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

/// Statistics over the pixels of a `columns × rows` image whose centres lie in
/// `region`; `value(column, row)` gives the modality value (e.g. HU). `None` when no
/// pixel centre is inside.
pub fn region_stats(
    region: &Region,
    columns: usize,
    rows: usize,
    value: impl Fn(usize, usize) -> Option<f64>,
) -> Option<RegionStats> {
    let [x0, y0, x1, y1] = region.bounds(columns, rows)?;
    let (mut n, mut sum, mut min, mut max) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    // Two passes (mean, then squared deviations) for a stable SD.
    let mut inside = Vec::new();
    for row in y0..=y1 {
        for column in x0..=x1 {
            if region.contains([column as f64, row as f64])
                && let Some(v) = value(column, row)
            {
                n += 1;
                sum += v;
                min = min.min(v);
                max = max.max(v);
                inside.push(v);
            }
        }
    }
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let var = inside.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
    Some(RegionStats {
        count: n,
        mean,
        sd: var.sqrt(),
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANISO: PixelSpacing = PixelSpacing {
        row_mm: 0.5,
        column_mm: 0.8,
    };

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn lengths_and_angles_use_physical_units() {
        assert!(close(ANISO.length_mm([0.0, 0.0], [10.0, 0.0]), 8.0, 1e-12));
        assert!(close(ANISO.length_mm([0.0, 0.0], [0.0, 10.0]), 5.0, 1e-12));
        assert!(close(
            ANISO.length_mm([0.0, 0.0], [3.0, 8.0]),
            (2.4f64.powi(2) + 16.0).sqrt(),
            1e-12
        ));
        // A right angle in mm is not a right angle in pixels when spacing differs.
        let iso = PixelSpacing::from_dicom([1.0, 1.0]);
        assert!(close(
            iso.angle_deg([10.0, 0.0], [0.0, 0.0], [0.0, 10.0]).unwrap(),
            90.0,
            1e-9
        ));
        assert!(close(
            iso.angle_deg([10.0, 0.0], [0.0, 0.0], [10.0, 10.0])
                .unwrap(),
            45.0,
            1e-9
        ));
        // (8 mm, 0) and (8 mm, 5 mm): atan(5/8).
        let a = ANISO
            .angle_deg([10.0, 0.0], [0.0, 0.0], [10.0, 10.0])
            .unwrap();
        assert!(close(a, (5.0f64 / 8.0).atan().to_degrees(), 1e-9));
        assert_eq!(iso.angle_deg([0.0, 0.0], [0.0, 0.0], [1.0, 1.0]), None);
    }

    #[test]
    fn areas_match_analytic_values() {
        let square = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert!(close(ANISO.polygon_area_mm2(&square), 100.0 * 0.4, 1e-12));
        assert!(close(
            ANISO.polygon_perimeter_mm(&square),
            2.0 * (8.0 + 5.0),
            1e-12
        ));
        // Clockwise order gives the same area.
        let mut cw = square.clone();
        cw.reverse();
        assert!(close(ANISO.polygon_area_mm2(&cw), 40.0, 1e-12));
        // A 64-gon inscribed in a circle of radius 20 px on isotropic 0.5 mm pixels.
        let iso = PixelSpacing::from_dicom([0.5, 0.5]);
        let n = 64.0;
        let gon: Vec<Point> = (0..64)
            .map(|k| {
                let t = 2.0 * std::f64::consts::PI * k as f64 / n;
                [20.0 * t.cos(), 20.0 * t.sin()]
            })
            .collect();
        let exact = 0.5 * n * 100.0 * (2.0 * std::f64::consts::PI / n).sin();
        assert!(close(iso.polygon_area_mm2(&gon), exact, 1e-9));
        let ellipse = Region::Ellipse {
            centre: [50.0, 50.0],
            radii: [20.0, 10.0],
        };
        assert!(close(
            ellipse.area_mm2(&ANISO),
            std::f64::consts::PI * 16.0 * 5.0,
            1e-9
        ));
        // Ramanujan is exact for a circle.
        let circle = Region::Ellipse {
            centre: [0.0, 0.0],
            radii: [10.0, 10.0],
        };
        assert!(close(
            circle.perimeter_mm(&iso),
            2.0 * std::f64::consts::PI * 5.0,
            1e-9
        ));
        let rect = Region::Rectangle([[2.0, 3.0], [12.0, 23.0]]);
        assert!(close(rect.area_mm2(&ANISO), 10.0 * 0.8 * 20.0 * 0.5, 1e-12));
    }

    #[test]
    fn bidirectional_reports_long_short_and_perpendicularity() {
        let iso = PixelSpacing::from_dicom([1.0, 1.0]);
        let b = iso.bidirectional([[0.0, 5.0], [20.0, 5.0]], [[10.0, 0.0], [10.0, 12.0]]);
        assert!(close(b.long_mm, 20.0, 1e-12) && close(b.short_mm, 12.0, 1e-12));
        assert!(close(b.off_perpendicular_deg, 0.0, 1e-9));
        let skew = iso.bidirectional([[0.0, 0.0], [10.0, 0.0]], [[0.0, 0.0], [10.0, 10.0]]);
        assert!(close(skew.off_perpendicular_deg, 45.0, 1e-9));
        assert!(close(skew.long_mm, 200f64.sqrt(), 1e-12));
    }

    #[test]
    fn region_statistics_count_pixel_centres_inside() {
        // Value = column; a rectangle over columns 2..=4, rows 1..=2.
        let rect = Region::Rectangle([[2.0, 1.0], [4.0, 2.0]]);
        let s = region_stats(&rect, 10, 10, |c, _| Some(c as f64)).unwrap();
        assert_eq!(s.count, 6);
        assert!(close(s.mean, 3.0, 1e-12));
        assert!(close(s.sd, (2.0f64 / 3.0).sqrt(), 1e-12));
        assert_eq!((s.min, s.max), (2.0, 4.0));
        // A circle of radius 30 px: the pixel count approaches the area.
        let circle = Region::Ellipse {
            centre: [50.0, 50.0],
            radii: [30.0, 30.0],
        };
        let s = region_stats(&circle, 100, 100, |_, _| Some(40.0)).unwrap();
        let area = std::f64::consts::PI * 900.0;
        assert!(
            (s.count as f64 - area).abs() / area < 0.01,
            "{} vs {area}",
            s.count
        );
        assert_eq!((s.mean, s.sd), (40.0, 0.0));
        // A triangle (polygon) with hypotenuse x + y = 10: centres with c + r <= 9 are
        // inside (10 + 9 + … + 1), those on the hypotenuse are not.
        let tri = Region::Polygon(vec![[-0.5, -0.5], [10.5, -0.5], [-0.5, 10.5]]);
        let s = region_stats(&tri, 20, 20, |_, _| Some(1.0)).unwrap();
        assert_eq!(s.count, 55);
        // Outside the image, or empty: no statistics.
        let away = Region::Rectangle([[50.0, 50.0], [60.0, 60.0]]);
        assert_eq!(region_stats(&away, 10, 10, |_, _| Some(1.0)), None);
    }
}
