//! Area annotations rasterised into a [`LabelVolume`] on their source series: what the
//! SEG and NIfTI exports write until painted label maps are stored in projects (the
//! label-map adapter will hand those over directly).
//!
//! Owns the class → segment assignment (one segment per distinct coded concept, in
//! order of first appearance, numbered from 1) and the fill rule: a voxel belongs to
//! an annotation when its centre is inside the shape on the annotation's plane (the
//! rule the ROI statistics use); where shapes overlap, the later annotation wins.

use super::placement::Placement;
use super::{Algorithm, Code, InteropError, LabelVolume, SegmentInfo, SourceSeries};
use crate::annotate::shapes;
use crate::project::Id;
use crate::project::model::{Annotation, Kind};

/// Distinct display colours, cycled through by segment number.
const PALETTE: [[u8; 3]; 10] = [
    [230, 60, 40],
    [60, 180, 75],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 190],
    [0, 128, 128],
];

/// The label volume of the area annotations (rectangle, ellipse, polygon, freehand)
/// of `source`'s series, and the annotations left out with the reason.
pub fn from_annotations(
    annotations: &[Annotation],
    source: &SourceSeries,
) -> Result<(LabelVolume, Vec<(Id, String)>), InteropError> {
    let mut labels = LabelVolume::new(source.grid.clone(), Vec::new())?;
    let mut skipped = Vec::new();
    for a in annotations {
        if !matches!(
            a.body.kind,
            Kind::Rectangle | Kind::Ellipse | Kind::Polygon | Kind::Freehand
        ) {
            skipped.push((
                a.id,
                format!(
                    "a {} encloses no area",
                    shapes::kind_name(a.body.kind).to_lowercase()
                ),
            ));
            continue;
        }
        let placement = match Placement::of(a, source) {
            Ok(p) => p,
            Err(why) => {
                skipped.push((a.id, why.to_string()));
                continue;
            }
        };
        let Some(region) = shapes::region(a.body.kind, &a.body.points) else {
            skipped.push((a.id, "too few points".into()));
            continue;
        };
        let code = Code::of_label(&a.body.label);
        let number = match labels.segments.iter().find(|s| s.type_ == code) {
            Some(s) => s.number,
            None => {
                let n = labels.segments.len() + 1;
                let number = u8::try_from(n).map_err(|_| {
                    InteropError::Unsupported(
                        "more than 255 label classes in one label volume".into(),
                    )
                })?;
                labels.segments.push(SegmentInfo {
                    number,
                    label: a.body.label.name.trim().to_owned(),
                    colour: PALETTE[(n - 1) % PALETTE.len()],
                    category: Code::default_category(),
                    type_: code,
                    anatomic_region: None,
                    algorithm: Algorithm::Manual,
                });
                number
            }
        };
        let [w, h] = placement.size(source);
        for y in 0..h {
            for x in 0..w {
                if region.contains([x as f64, y as f64]) {
                    let [i, j, k] = placement.voxel_index(x, y);
                    labels.set(i, j, k, number);
                }
            }
        }
    }
    Ok((labels, skipped))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::imaging::mpr::VolumeGrid;
    use crate::interop::source::synthetic;
    use crate::project::model::{AnnotationBody, ImageRef, Label, PlaneName, PlaneRef};

    fn ann(
        source: &SourceSeries,
        kind: Kind,
        points: Vec<[f64; 2]>,
        name: &str,
        plane: Option<PlaneRef>,
    ) -> Annotation {
        Annotation {
            id: Id::random().unwrap(),
            body: AnnotationBody {
                image: ImageRef::Dicom {
                    series_uid: source.series_instance_uid.clone(),
                    sop_uid: plane
                        .is_none()
                        .then(|| source.slices[1].sop_instance_uid.clone()),
                    frame: None,
                    plane,
                    provenance: None,
                },
                kind,
                points,
                label: Label {
                    name: name.into(),
                    scheme: None,
                    code: None,
                    meaning: None,
                },
                comment: None,
            },
        }
    }

    #[test]
    fn areas_fill_their_plane_and_classes_become_segments() {
        let positions: Vec<[f64; 3]> = (0..4).map(|k| [0.0, 0.0, -2.0 * k as f64]).collect();
        let grid = VolumeGrid::from_slices(
            10,
            8,
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [1.0, 1.0],
            &positions,
        );
        let source = synthetic(&grid);
        let annotations = vec![
            ann(
                &source,
                Kind::Rectangle,
                vec![[1.0, 1.0], [3.0, 2.0]],
                "a",
                None,
            ),
            ann(
                &source,
                Kind::Ruler,
                vec![[1.0, 1.0], [3.0, 2.0]],
                "a",
                None,
            ),
            // Coronal plane j = 6: points [i, k]; a 2 × 3 box.
            ann(
                &source,
                Kind::Rectangle,
                vec![[5.0, 0.0], [6.0, 2.0]],
                "b",
                Some(PlaneRef {
                    plane: PlaneName::Coronal,
                    index: 6,
                }),
            ),
            ann(
                &source,
                Kind::Rectangle,
                vec![[3.0, 2.0], [3.0, 2.0]],
                "a",
                None,
            ),
        ];
        let (labels, skipped) = from_annotations(&annotations, &source).unwrap();
        assert_eq!(skipped.len(), 1);
        assert_eq!(labels.segments.len(), 2);
        let h = labels.histogram();
        assert_eq!((h[1], h[2]), (6, 6));
        assert_eq!(labels.get(1, 1, 1), Some(1));
        assert_eq!(labels.get(5, 6, 0), Some(2));
        assert_eq!(labels.get(6, 6, 2), Some(2));
        assert_eq!(labels.get(5, 5, 0), Some(0));
    }
}
