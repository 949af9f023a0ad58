//! The demo phantom's anatomy: tissues as intersections of convex shapes in patient
//! millimetres (LPS: +x patient left, +y posterior, +z superior), painted in order so
//! later shapes cover earlier ones.
//!
//! Owns the shapes, the tissue classes and their CT (HU) and MR (T2-like) values, and
//! rasterising one line of voxels. Knows nothing of DICOM or files; never imports egui.

use super::DEMO_LESIONS;

/// One tissue class of the phantom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tissue {
    Air,
    Table,
    Skin,
    SubcutaneousFat,
    Muscle,
    VisceralFat,
    Bowel,
    Gas,
    Lung,
    Heart,
    Liver,
    Spleen,
    Kidney,
    Aorta,
    VenaCava,
    CancellousBone,
    CorticalBone,
    Disc,
    SpinalCanal,
    Rib,
    Sternum,
    /// A lesion, by its index in [`DEMO_LESIONS`].
    Lesion(u8),
}

impl Tissue {
    /// Noise-free CT value in Hounsfield units.
    pub fn ct_hu(self) -> f64 {
        match self {
            Tissue::Air => -1000.0,
            Tissue::Table => 150.0,
            Tissue::Skin => 30.0,
            Tissue::SubcutaneousFat => -105.0,
            Tissue::Muscle => 50.0,
            Tissue::VisceralFat => -90.0,
            Tissue::Bowel => 30.0,
            Tissue::Gas => -950.0,
            Tissue::Lung => -850.0,
            Tissue::Heart => 40.0,
            Tissue::Liver => 60.0,
            Tissue::Spleen => 48.0,
            Tissue::Kidney => 35.0,
            Tissue::Aorta => 45.0,
            Tissue::VenaCava => 40.0,
            Tissue::CancellousBone => 300.0,
            Tissue::CorticalBone => 1200.0,
            Tissue::Disc => 90.0,
            Tissue::SpinalCanal => 15.0,
            Tissue::Rib => 800.0,
            Tissue::Sternum => 500.0,
            Tissue::Lesion(i) => DEMO_LESIONS
                .get(usize::from(i))
                .map_or(0.0, |lesion| lesion.ct_hu),
        }
    }

    /// Noise-free MR signal (arbitrary units, T2-weighted look: fluid and fat bright).
    pub fn mr_signal(self) -> f64 {
        match self {
            Tissue::Air | Tissue::Table | Tissue::Gas => 0.0,
            Tissue::Skin => 350.0,
            Tissue::SubcutaneousFat => 850.0,
            Tissue::Muscle => 180.0,
            Tissue::VisceralFat => 800.0,
            Tissue::Bowel => 350.0,
            Tissue::Lung => 25.0,
            Tissue::Heart => 150.0,
            Tissue::Liver => 220.0,
            Tissue::Spleen => 420.0,
            Tissue::Kidney => 480.0,
            Tissue::Aorta => 40.0,
            Tissue::VenaCava => 60.0,
            Tissue::CancellousBone => 520.0,
            Tissue::CorticalBone => 30.0,
            Tissue::Disc => 900.0,
            Tissue::SpinalCanal => 1100.0,
            Tissue::Rib => 300.0,
            Tissue::Sternum => 400.0,
            Tissue::Lesion(i) => DEMO_LESIONS
                .get(usize::from(i))
                .map_or(0.0, |lesion| lesion.mr_signal),
        }
    }
}

/// A convex region: an axis-aligned ellipsoid or elliptic cylinder, or a slab.
#[derive(Clone, Copy, Debug)]
enum Primitive {
    /// `sum_i w_i (p_i - c_i)^2 <= 1`; `w_i = 1 / semi_axis_i^2`, 0 for an infinite axis.
    Quadric { centre: [f64; 3], weight: [f64; 3] },
    /// `min <= p[axis] <= max`.
    Slab { axis: usize, min: f64, max: f64 },
}

impl Primitive {
    fn ellipsoid(centre: [f64; 3], semi_mm: [f64; 3]) -> Self {
        Primitive::Quadric {
            centre,
            weight: semi_mm.map(|s| 1.0 / (s * s)),
        }
    }

    /// An elliptic cylinder along z.
    fn cylinder_z(centre_xy: [f64; 2], semi_mm: [f64; 2]) -> Self {
        Primitive::Quadric {
            centre: [centre_xy[0], centre_xy[1], 0.0],
            weight: [
                1.0 / (semi_mm[0] * semi_mm[0]),
                1.0 / (semi_mm[1] * semi_mm[1]),
                0.0,
            ],
        }
    }

    fn contains(&self, p: [f64; 3]) -> bool {
        match *self {
            Primitive::Quadric { centre, weight } => {
                (0..3)
                    .map(|i| weight[i] * (p[i] - centre[i]) * (p[i] - centre[i]))
                    .sum::<f64>()
                    <= 1.0
            }
            Primitive::Slab { axis, min, max } => (min..=max).contains(&p[axis]),
        }
    }

    /// The parameter interval `[t0, t1]` where `origin + t * dir` lies inside, if any.
    fn line_interval(&self, origin: [f64; 3], dir: [f64; 3]) -> Option<(f64, f64)> {
        match *self {
            Primitive::Quadric { centre, weight } => {
                let (mut a, mut b, mut c) = (0.0, 0.0, -1.0);
                for i in 0..3 {
                    let o = origin[i] - centre[i];
                    a += weight[i] * dir[i] * dir[i];
                    b += 2.0 * weight[i] * dir[i] * o;
                    c += weight[i] * o * o;
                }
                if a == 0.0 {
                    return (c <= 0.0).then_some((f64::NEG_INFINITY, f64::INFINITY));
                }
                let disc = b * b - 4.0 * a * c;
                if disc < 0.0 {
                    return None;
                }
                let root = disc.sqrt();
                Some(((-b - root) / (2.0 * a), (-b + root) / (2.0 * a)))
            }
            Primitive::Slab { axis, min, max } => {
                if dir[axis] == 0.0 {
                    return (min..=max)
                        .contains(&origin[axis])
                        .then_some((f64::NEG_INFINITY, f64::INFINITY));
                }
                let t0 = (min - origin[axis]) / dir[axis];
                let t1 = (max - origin[axis]) / dir[axis];
                Some((t0.min(t1), t0.max(t1)))
            }
        }
    }
}

/// One painted region: the intersection of its primitives.
#[derive(Clone, Debug)]
struct Shape {
    tissue: Tissue,
    parts: Vec<Primitive>,
}

impl Shape {
    fn new(tissue: Tissue, parts: Vec<Primitive>) -> Self {
        Self { tissue, parts }
    }

    fn contains(&self, p: [f64; 3]) -> bool {
        self.parts.iter().all(|part| part.contains(p))
    }

    fn line_interval(&self, origin: [f64; 3], dir: [f64; 3]) -> Option<(f64, f64)> {
        let mut interval = (f64::NEG_INFINITY, f64::INFINITY);
        for part in &self.parts {
            let (t0, t1) = part.line_interval(origin, dir)?;
            interval = (interval.0.max(t0), interval.1.min(t1));
            if interval.0 > interval.1 {
                return None;
            }
        }
        Some(interval)
    }
}

/// Body outline: an elliptic cylinder along z centred on the z axis (mm).
const BODY_SEMI_MM: [f64; 2] = [165.0, 115.0];
/// Depths below the skin surface where each layer starts (mm).
const SKIN_DEPTH_MM: f64 = 2.0;
const MUSCLE_DEPTH_MM: f64 = 18.0;
const CAVITY_DEPTH_MM: f64 = 30.0;

fn body_layer(depth_mm: f64) -> Primitive {
    Primitive::cylinder_z(
        [0.0, 0.0],
        [BODY_SEMI_MM[0] - depth_mm, BODY_SEMI_MM[1] - depth_mm],
    )
}

/// The whole phantom, shapes in painting order.
#[derive(Clone, Debug)]
pub struct Phantom {
    shapes: Vec<Shape>,
}

impl Default for Phantom {
    fn default() -> Self {
        Self::new()
    }
}

impl Phantom {
    pub fn new() -> Self {
        let cavity = body_layer(CAVITY_DEPTH_MM);
        let organ = |tissue, centre, semi| {
            Shape::new(tissue, vec![Primitive::ellipsoid(centre, semi), cavity])
        };
        let z_band = |min, max| Primitive::Slab { axis: 2, min, max };
        let mut shapes = vec![
            Shape::new(
                Tissue::Table,
                vec![
                    Primitive::Slab {
                        axis: 0,
                        min: -170.0,
                        max: 170.0,
                    },
                    Primitive::Slab {
                        axis: 1,
                        min: 119.0,
                        max: 125.0,
                    },
                ],
            ),
            Shape::new(Tissue::Skin, vec![body_layer(0.0)]),
            Shape::new(Tissue::SubcutaneousFat, vec![body_layer(SKIN_DEPTH_MM)]),
            Shape::new(Tissue::Muscle, vec![body_layer(MUSCLE_DEPTH_MM)]),
            Shape::new(Tissue::VisceralFat, vec![cavity]),
            // Stomach (fluid, with a gas cap anteriorly) and the colon frame.
            organ(Tissue::Bowel, [50.0, -45.0, 20.0], [50.0, 35.0, 35.0]),
            Shape::new(
                Tissue::Gas,
                vec![
                    Primitive::ellipsoid([50.0, -45.0, 20.0], [46.0, 31.0, 31.0]),
                    Primitive::Slab {
                        axis: 1,
                        min: -200.0,
                        max: -60.0,
                    },
                ],
            ),
            Shape::new(
                Tissue::Bowel,
                vec![
                    Primitive::cylinder_z([-100.0, 5.0], [22.0, 20.0]),
                    z_band(-200.0, -25.0),
                ],
            ),
            Shape::new(
                Tissue::Gas,
                vec![
                    Primitive::cylinder_z([-100.0, 3.0], [13.0, 11.0]),
                    z_band(-200.0, -30.0),
                ],
            ),
            Shape::new(
                Tissue::Bowel,
                vec![
                    Primitive::cylinder_z([108.0, 15.0], [17.0, 17.0]),
                    z_band(-200.0, -40.0),
                ],
            ),
            organ(Tissue::Lung, [-80.0, 10.0, 110.0], [62.0, 85.0, 100.0]),
            organ(Tissue::Lung, [80.0, 10.0, 110.0], [62.0, 85.0, 100.0]),
            organ(Tissue::Heart, [15.0, -20.0, 60.0], [55.0, 45.0, 45.0]),
            organ(Tissue::Liver, [-70.0, -10.0, -5.0], [80.0, 65.0, 70.0]),
            organ(Tissue::Spleen, [95.0, 40.0, 0.0], [35.0, 45.0, 50.0]),
            organ(Tissue::Kidney, [-75.0, 45.0, -70.0], [28.0, 22.0, 40.0]),
            organ(Tissue::Kidney, [75.0, 45.0, -70.0], [28.0, 22.0, 40.0]),
            Shape::new(
                Tissue::Aorta,
                vec![Primitive::cylinder_z([18.0, 8.0], [12.0, 12.0])],
            ),
            Shape::new(
                Tissue::VenaCava,
                vec![Primitive::cylinder_z([-24.0, 5.0], [13.0, 10.0])],
            ),
            Shape::new(
                Tissue::Muscle,
                vec![Primitive::cylinder_z([-30.0, 80.0], [22.0, 17.0])],
            ),
            Shape::new(
                Tissue::Muscle,
                vec![Primitive::cylinder_z([30.0, 80.0], [22.0, 17.0])],
            ),
            // Vertebral column: body (cortex, then marrow), arch around the canal, spinous process.
            Shape::new(
                Tissue::CorticalBone,
                vec![Primitive::cylinder_z([0.0, 40.0], [20.0, 20.0])],
            ),
            Shape::new(
                Tissue::CancellousBone,
                vec![Primitive::cylinder_z([0.0, 40.0], [17.5, 17.5])],
            ),
            Shape::new(
                Tissue::CorticalBone,
                vec![Primitive::cylinder_z([0.0, 72.0], [15.0, 15.0])],
            ),
            Shape::new(
                Tissue::CorticalBone,
                vec![
                    Primitive::Slab {
                        axis: 0,
                        min: -4.0,
                        max: 4.0,
                    },
                    Primitive::Slab {
                        axis: 1,
                        min: 80.0,
                        max: 98.0,
                    },
                ],
            ),
            Shape::new(
                Tissue::SpinalCanal,
                vec![Primitive::cylinder_z([0.0, 72.0], [9.0, 9.0])],
            ),
            Shape::new(
                Tissue::Sternum,
                vec![
                    Primitive::Slab {
                        axis: 0,
                        min: -14.0,
                        max: 14.0,
                    },
                    Primitive::Slab {
                        axis: 1,
                        min: -100.0,
                        max: -88.0,
                    },
                    z_band(20.0, 200.0),
                ],
            ),
        ];
        // Small-bowel loops filling the lower abdomen, a few with gas.
        for (n, (x_mm, y_mm, z_mm)) in [
            (-55.0, -55.0, -60.0),
            (-20.0, -65.0, -45.0),
            (15.0, -60.0, -70.0),
            (50.0, -55.0, -50.0),
            (80.0, -35.0, -80.0),
            (-45.0, -25.0, -90.0),
            (-10.0, -30.0, -80.0),
            (30.0, -25.0, -95.0),
            (60.0, -15.0, -60.0),
            (-30.0, -50.0, -85.0),
            (5.0, -70.0, -20.0),
            (40.0, -75.0, -85.0),
        ]
        .into_iter()
        .enumerate()
        {
            let semi = [17.0 + (n % 3) as f64 * 2.0, 14.0, 16.0];
            shapes.push(organ(Tissue::Bowel, [x_mm, y_mm, z_mm], semi));
            if n % 3 == 1 {
                shapes.push(organ(
                    Tissue::Gas,
                    [x_mm, y_mm - 5.0, z_mm],
                    [8.0, 6.0, 8.0],
                ));
            }
        }
        // Intervertebral discs every 30 mm, 8 mm thick, across the vertebral body.
        for level in -4..=4 {
            let z_mm = f64::from(level) * 30.0 + 12.0;
            shapes.push(Shape::new(
                Tissue::Disc,
                vec![
                    Primitive::cylinder_z([0.0, 40.0], [20.0, 20.0]),
                    z_band(z_mm - 4.0, z_mm + 4.0),
                ],
            ));
        }
        // Ribs: cross-sections in the chest wall, descending towards the front.
        let rib_angles_deg = [
            0.0, 25.0, 50.0, 75.0, 105.0, 130.0, 155.0, 180.0, 205.0, 230.0, 310.0, 335.0,
        ];
        let rib_semi = [BODY_SEMI_MM[0] - 24.0, BODY_SEMI_MM[1] - 24.0];
        for level in 0..7 {
            for angle_deg in rib_angles_deg {
                let theta = f64::to_radians(angle_deg);
                let anterior = (1.0 - theta.sin()) / 2.0;
                let z_mm = 95.0 - 22.0 * f64::from(level) - 15.0 * anterior;
                if z_mm < -40.0 {
                    continue;
                }
                let centre = [rib_semi[0] * theta.cos(), rib_semi[1] * theta.sin(), z_mm];
                shapes.push(Shape::new(
                    Tissue::Rib,
                    vec![Primitive::ellipsoid(centre, [5.5, 5.5, 6.0])],
                ));
            }
        }
        for (index, lesion) in DEMO_LESIONS.iter().enumerate() {
            let radius_mm = lesion.diameter_mm / 2.0;
            shapes.push(Shape::new(
                Tissue::Lesion(index as u8),
                vec![Primitive::ellipsoid(lesion.centre_mm, [radius_mm; 3])],
            ));
        }
        Self { shapes }
    }

    /// The tissue at patient point `p_mm`.
    pub fn tissue_at(&self, p_mm: [f64; 3]) -> Tissue {
        self.shapes
            .iter()
            .rev()
            .find(|shape| shape.contains(p_mm))
            .map_or(Tissue::Air, |shape| shape.tissue)
    }

    /// Rasterises one line of voxels: voxel `i` is the tissue at
    /// `origin_mm + i * spacing_mm * dir` (a voxel belongs to a shape when its centre does).
    pub fn paint_line(
        &self,
        origin_mm: [f64; 3],
        dir: [f64; 3],
        spacing_mm: f64,
        out: &mut [Tissue],
    ) {
        out.fill(Tissue::Air);
        let last = out.len() as f64 - 1.0;
        for shape in &self.shapes {
            let Some((t0, t1)) = shape.line_interval(origin_mm, dir) else {
                continue;
            };
            let first = (t0 / spacing_mm).ceil().max(0.0);
            let end = (t1 / spacing_mm).floor().min(last);
            if first > end {
                continue;
            }
            out[first as usize..=end as usize].fill(shape.tissue);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painted_lines_agree_with_point_queries() {
        let phantom = Phantom::new();
        let mut row = vec![Tissue::Air; 300];
        for (y_mm, z_mm) in [(-20.3, 55.1), (40.2, 0.4), (72.0, -61.7), (10.1, 90.0)] {
            let origin = [-180.0, y_mm, z_mm];
            phantom.paint_line(origin, [1.0, 0.0, 0.0], 1.2, &mut row);
            for (i, tissue) in row.iter().enumerate() {
                let p = [origin[0] + 1.2 * i as f64, y_mm, z_mm];
                assert_eq!(*tissue, phantom.tissue_at(p), "at {p:?}");
            }
        }
        // A line along y with negative steps in another direction still agrees.
        let origin = [30.5, -130.0, 20.0];
        phantom.paint_line(origin, [0.0, 1.0, 0.0], 0.9, &mut row);
        for (i, tissue) in row.iter().enumerate() {
            let p = [30.5, -130.0 + 0.9 * i as f64, 20.0];
            assert_eq!(*tissue, phantom.tissue_at(p), "at {p:?}");
        }
    }

    #[test]
    fn anatomy_is_where_the_docs_say() {
        let phantom = Phantom::new();
        assert_eq!(phantom.tissue_at([0.0, 0.0, 300.0]), Tissue::VisceralFat);
        assert_eq!(phantom.tissue_at([0.0, -200.0, 0.0]), Tissue::Air);
        assert_eq!(phantom.tissue_at([-90.0, 10.0, 80.0]), Tissue::Lung);
        assert_eq!(phantom.tissue_at([0.0, 40.0, 27.0]), Tissue::CancellousBone);
        assert_eq!(phantom.tissue_at([0.0, 40.0, 12.0]), Tissue::Disc);
        assert_eq!(phantom.tissue_at([0.0, 72.0, 0.0]), Tissue::SpinalCanal);
        assert_eq!(phantom.tissue_at([-75.0, 45.0, -70.0]), Tissue::Kidney);
    }
}
