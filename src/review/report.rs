//! The agreement report: for every series that two or more readers annotated, how far
//! their segmentations agree per class (Dice, IoU, volumes, mean surface distance, 95 %
//! Hausdorff) and how their findings match (one-to-one within a distance, misses per
//! reader, Cohen's κ on the matched findings' codes with the confusion matrix).
//!
//! Owns [`AgreementReport`] and [`agreement_report`], computed offline from an unlocked
//! project (a merged one sees every reader's work). Series are named by a short digest,
//! never by UID. Renderers (JSON, CSV, HTML with plots) live in [`super::render`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::agreement::{
    Mask, cohen_kappa, fleiss_kappa, match_findings, overlap, surface_distance,
};
use crate::annotate::labelmap::LabelMap;
use crate::annotate::segmentation::Segment;
use crate::project::model::{Annotation, ImageRef};
use crate::project::{Id, ProjectError, Session};

/// Findings whose positions are within this distance (mm) may be the same finding.
pub const MATCH_DISTANCE_MM: f64 = 10.0;

/// One class of one pair of readers' segmentations of a series.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentationAgreement {
    pub series: String,
    pub class: String,
    pub reader_a: String,
    pub reader_b: String,
    pub dice: f64,
    pub iou: f64,
    pub volume_a_ml: f64,
    pub volume_b_ml: f64,
    pub volume_difference_ml: f64,
    /// `None` when either reader left the class empty.
    pub mean_surface_mm: Option<f64>,
    pub hausdorff95_mm: Option<f64>,
}

/// One pair of readers' findings (vector annotations) on a series.
#[derive(Clone, Debug, Serialize)]
pub struct FindingAgreement {
    pub series: String,
    pub reader_a: String,
    pub reader_b: String,
    pub findings_a: usize,
    pub findings_b: usize,
    pub matched: usize,
    pub missed_by_b: usize,
    pub missed_by_a: usize,
    /// Cohen's κ on the matched findings' codes; `None` without matches.
    pub kappa: Option<f64>,
    pub categories: Vec<String>,
    pub confusion: Vec<Vec<u64>>,
}

/// Three or more readers' findings on a series: the findings every reader marked (matched
/// to the first reader's within the distance), and Fleiss' κ on their codes.
#[derive(Clone, Debug, Serialize)]
pub struct MultiReaderAgreement {
    pub series: String,
    pub readers: Vec<String>,
    /// Findings every reader marked.
    pub subjects: usize,
    /// `None` without subjects or when every rating is one category.
    pub fleiss_kappa: Option<f64>,
    pub categories: Vec<String>,
}

/// What each reader contributed.
#[derive(Clone, Debug, Serialize)]
pub struct ReaderSummary {
    pub reader: String,
    pub annotations: usize,
    pub segmentations: usize,
}

/// One case in the report (named by a digest of its series or slide, never a UID).
#[derive(Clone, Debug, Serialize)]
pub struct CaseRow {
    pub case: String,
    pub status: &'static str,
    pub readers: Vec<String>,
    pub blinded: bool,
    pub second_read: bool,
    pub reviewer: Option<String>,
    pub escalated_to: Option<String>,
    /// From the first reading handed in to the decision (approved or adjudicated).
    pub turnaround_hours: Option<f64>,
}

/// The review workflow at a glance.
#[derive(Clone, Debug, Serialize)]
pub struct CaseSummary {
    /// Cases per status, every status listed.
    pub counts: BTreeMap<&'static str, usize>,
    pub cases: Vec<CaseRow>,
    /// Over decided cases: median and mean turnaround (hours).
    pub decided: usize,
    pub median_turnaround_hours: Option<f64>,
    pub mean_turnaround_hours: Option<f64>,
    pub escalations: usize,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct AgreementReport {
    pub readers: Vec<ReaderSummary>,
    pub series_compared: usize,
    pub segmentations: Vec<SegmentationAgreement>,
    pub findings: Vec<FindingAgreement>,
    /// Series read by three or more readers.
    pub multi_reader: Vec<MultiReaderAgreement>,
    /// Findings left out of matching: no position in patient space (no provenance).
    pub unplaced_findings: usize,
    pub cases: CaseSummary,
}

/// Fleiss' κ per series read by three or more readers: a subject is a finding of the
/// first reader (by name) that every other reader matched one to one.
fn multi_reader_agreement(
    by_series: &BTreeMap<String, BTreeMap<String, Vec<&Annotation>>>,
) -> Vec<MultiReaderAgreement> {
    let mut out = Vec::new();
    for (uid, readers) in by_series {
        if readers.len() < 3 {
            continue;
        }
        let names: Vec<&String> = readers.keys().collect();
        let anchor = &readers[names[0]];
        let pa: Vec<Option<[f64; 3]>> = anchor.iter().map(|a| position_mm(a)).collect();
        // For each anchor finding, each reader's category (None: not matched).
        let mut ratings: Vec<Vec<Option<String>>> =
            vec![vec![Some(String::new()); names.len()]; anchor.len()];
        for (k, a) in anchor.iter().enumerate() {
            ratings[k][0] = Some(category(a));
        }
        for (r, name) in names.iter().enumerate().skip(1) {
            let other = &readers[*name];
            let pb: Vec<Option<[f64; 3]>> = other.iter().map(|a| position_mm(a)).collect();
            let m = match_findings(anchor.len(), other.len(), MATCH_DISTANCE_MM, |x, y| match (
                pa[x], pb[y],
            ) {
                (Some(p), Some(q)) => (0..3).map(|c| (p[c] - q[c]).powi(2)).sum::<f64>().sqrt(),
                _ => f64::INFINITY,
            });
            for row in ratings.iter_mut() {
                row[r] = None;
            }
            for (x, y) in m.pairs {
                ratings[x][r] = Some(category(other[y]));
            }
        }
        let subjects: Vec<Vec<String>> = ratings
            .into_iter()
            .filter_map(|row| row.into_iter().collect::<Option<Vec<String>>>())
            .collect();
        let categories: Vec<String> = subjects
            .iter()
            .flatten()
            .cloned()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let table: Vec<Vec<u64>> = subjects
            .iter()
            .map(|row| {
                categories
                    .iter()
                    .map(|c| row.iter().filter(|x| *x == c).count() as u64)
                    .collect()
            })
            .collect();
        out.push(MultiReaderAgreement {
            series: series_name(uid),
            readers: names.iter().map(|n| (*n).clone()).collect(),
            subjects: subjects.len(),
            fleiss_kappa: if table.is_empty() {
                None
            } else {
                fleiss_kappa(&table)
            },
            categories,
        });
    }
    out
}

/// The case rows, status counts and turnaround times.
fn case_summary(session: &mut Session) -> Result<CaseSummary, ProjectError> {
    use crate::project::cases::Status;
    let cases = session.cases()?;
    let names = session.member_names()?;
    let name = |id: &Id| crate::project::members::name_or_id(&names, id);
    let mut counts: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut rows = Vec::new();
    let mut hours = Vec::new();
    let mut escalations = 0;
    for c in cases.cases.values() {
        *counts.entry(c.status.as_str()).or_default() += 1;
        escalations += c
            .steps
            .iter()
            .filter(|s| s.status == Status::Escalated)
            .count();
        let turnaround = match (c.submitted_ms(), c.decided_ms()) {
            (Some(a), Some(b)) if c.status.is_reviewed() => {
                Some((b - a).max(0) as f64 / 3_600_000.0)
            }
            _ => None,
        };
        hours.extend(turnaround);
        let (kind, key) = c.case.index_key();
        rows.push(CaseRow {
            case: if kind == "series" {
                series_name(key)
            } else {
                format!("slide {}", &key[..key.len().min(8)])
            },
            status: c.status.as_str(),
            readers: c.readers.iter().map(name).collect(),
            blinded: c.blinded,
            second_read: c.second_read,
            reviewer: c.reviewer.as_ref().map(name),
            escalated_to: c.escalated_to.as_ref().map(name),
            turnaround_hours: turnaround,
        });
    }
    hours.sort_by(f64::total_cmp);
    let median = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours[n / 2]),
        n => Some((hours[n / 2 - 1] + hours[n / 2]) / 2.0),
    };
    let mean = (!hours.is_empty()).then(|| hours.iter().sum::<f64>() / hours.len() as f64);
    Ok(CaseSummary {
        counts,
        cases: rows,
        decided: hours.len(),
        median_turnaround_hours: median,
        mean_turnaround_hours: mean,
        escalations,
    })
}

/// The name the report gives a series (a digest, never its UID).
pub fn series_digest(uid: &str) -> String {
    series_name(uid)
}

/// A short, stable name for a series (never its UID).
fn series_name(uid: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(uid.as_bytes());
    format!("series {}", crate::project::id::hex(&d[..4]))
}

fn series_of(image: &ImageRef) -> Option<&str> {
    match image {
        ImageRef::Dicom { series_uid, .. } => Some(series_uid),
        ImageRef::Slide { .. } => None,
    }
}

/// A finding's code (or name when uncoded), for κ.
fn category(a: &Annotation) -> String {
    let l = &a.body.label;
    match (&l.scheme, &l.code) {
        (Some(s), Some(c)) => format!("{} ({s} {c})", l.name),
        _ => l.name.clone(),
    }
}

/// A finding's position in patient space (LPS mm): the centre of its points, through the
/// provenance's geometry. `None` without provenance.
fn position_mm(a: &Annotation) -> Option<[f64; 3]> {
    let ImageRef::Dicom {
        provenance: Some(p),
        plane,
        ..
    } = &a.body.image
    else {
        return None;
    };
    let pts = &a.body.points;
    if pts.is_empty() {
        return None;
    }
    let n = pts.len() as f64;
    let c = [
        pts.iter().map(|p| p[0]).sum::<f64>() / n,
        pts.iter().map(|p| p[1]).sum::<f64>() / n,
    ];
    let row = [p.orientation[0], p.orientation[1], p.orientation[2]];
    let col = [p.orientation[3], p.orientation[4], p.orientation[5]];
    match plane {
        // Acquired slice: origin is that slice's position; x along rows, y down columns.
        None => Some([0, 1, 2].map(|i| {
            p.origin_mm[i] + c[0] * p.spacing_mm[1] * row[i] + c[1] * p.spacing_mm[0] * col[i]
        })),
        // Reformatted plane: not placed (its depth needs the series' slice positions).
        Some(_) => None,
    }
}

/// The reader who created each object (the author of its first event).
fn creators(session: &mut Session) -> Result<BTreeMap<Id, String>, ProjectError> {
    let mut out = BTreeMap::new();
    for item in session.history()? {
        out.entry(item.target).or_insert(item.author);
    }
    Ok(out)
}

fn mask_of(map: &LabelMap, labels: &BTreeSet<u8>) -> Vec<bool> {
    let [ni, nj, nk] = map.dims();
    let mut out = vec![false; ni * nj * nk];
    for index in map.allocated() {
        let (Some(brick), b) = (map.brick(index), map.brick_box(index)) else {
            continue;
        };
        let mut offset = 0;
        for z in 0..b.size[2] {
            for y in 0..b.size[1] {
                for x in 0..b.size[0] {
                    if labels.contains(&brick[offset]) {
                        out[((b.origin[2] + z) * nj + b.origin[1] + y) * ni + b.origin[0] + x] =
                            true;
                    }
                    offset += 1;
                }
            }
        }
    }
    out
}

fn class_key(s: &Segment) -> String {
    match &s.class.concept {
        Some(c) => format!("{} ({} {})", s.class.name, c.scheme, c.value),
        None => s.class.name.clone(),
    }
}

/// Computes the report from everything the project holds.
pub fn agreement_report(session: &mut Session) -> Result<AgreementReport, ProjectError> {
    let creators = creators(session)?;
    let annotations = session.annotations()?;
    let segmentations = session.segmentations()?;
    let reader = |id: &Id| {
        creators
            .get(id)
            .cloned()
            .unwrap_or_else(|| "unknown".into())
    };

    let mut summary: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_series: BTreeMap<String, BTreeMap<String, Vec<&Annotation>>> = BTreeMap::new();
    for a in &annotations {
        let r = reader(&a.id);
        summary.entry(r.clone()).or_default().0 += 1;
        if let Some(s) = series_of(&a.body.image) {
            by_series
                .entry(s.to_owned())
                .or_default()
                .entry(r)
                .or_default()
                .push(a);
        }
    }
    let mut segs_by_series: BTreeMap<String, BTreeMap<String, Id>> = BTreeMap::new();
    for s in &segmentations {
        let r = reader(&s.id);
        summary.entry(r.clone()).or_default().1 += 1;
        if let Some(uid) = series_of(&s.image) {
            // One segmentation per reader and series: the first.
            segs_by_series
                .entry(uid.to_owned())
                .or_default()
                .entry(r)
                .or_insert(s.id);
        }
    }

    let mut series_compared = BTreeSet::new();
    let mut findings = Vec::new();
    let mut unplaced = 0;
    for (uid, readers) in &by_series {
        let names: Vec<&String> = readers.keys().collect();
        for (i, a_name) in names.iter().enumerate() {
            for b_name in &names[i + 1..] {
                let (fa, fb) = (&readers[*a_name], &readers[*b_name]);
                let pa: Vec<Option<[f64; 3]>> = fa.iter().map(|a| position_mm(a)).collect();
                let pb: Vec<Option<[f64; 3]>> = fb.iter().map(|a| position_mm(a)).collect();
                unplaced += pa.iter().chain(&pb).filter(|p| p.is_none()).count();
                let m = match_findings(fa.len(), fb.len(), MATCH_DISTANCE_MM, |x, y| {
                    match (pa[x], pb[y]) {
                        (Some(p), Some(q)) => {
                            (0..3).map(|c| (p[c] - q[c]).powi(2)).sum::<f64>().sqrt()
                        }
                        _ => f64::INFINITY,
                    }
                });
                let pairs: Vec<(String, String)> = m
                    .pairs
                    .iter()
                    .map(|(x, y)| (category(fa[*x]), category(fb[*y])))
                    .collect();
                let refs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str()))
                    .collect();
                let k = cohen_kappa(&refs);
                series_compared.insert(uid.clone());
                findings.push(FindingAgreement {
                    series: series_name(uid),
                    reader_a: (*a_name).clone(),
                    reader_b: (*b_name).clone(),
                    findings_a: fa.len(),
                    findings_b: fb.len(),
                    matched: m.pairs.len(),
                    missed_by_b: m.missed_by_b.len(),
                    missed_by_a: m.missed_by_a.len(),
                    kappa: k.as_ref().map(|k| k.kappa),
                    categories: k.as_ref().map(|k| k.categories.clone()).unwrap_or_default(),
                    confusion: k.map(|k| k.matrix).unwrap_or_default(),
                });
            }
        }
    }

    let mut seg_rows = Vec::new();
    for (uid, readers) in &segs_by_series {
        let names: Vec<&String> = readers.keys().collect();
        if names.len() < 2 {
            continue;
        }
        let mut loaded = BTreeMap::new();
        for (name, id) in readers {
            loaded.insert(name.clone(), session.load_segmentation(*id)?);
        }
        for (i, a_name) in names.iter().enumerate() {
            for b_name in &names[i + 1..] {
                let (a, b) = (&loaded[*a_name], &loaded[*b_name]);
                if a.map.dims() != b.map.dims() {
                    continue;
                }
                let grid = a.info.header.grid.to_grid();
                let classes: BTreeSet<String> = a
                    .info
                    .segments
                    .values()
                    .chain(b.info.segments.values())
                    .map(class_key)
                    .collect();
                for class in classes {
                    let labels = |seg: &crate::project::segmentations::LoadedSegmentation| {
                        seg.info
                            .segments
                            .iter()
                            .filter(|(_, s)| class_key(s) == class)
                            .map(|(i, _)| *i)
                            .collect::<BTreeSet<u8>>()
                    };
                    let (ma, mb) = (mask_of(&a.map, &labels(a)), mask_of(&b.map, &labels(b)));
                    let (ka, kb) = (
                        Mask {
                            dims: grid.dims,
                            spacing_mm: grid.spacing_mm,
                            voxels: &ma,
                        },
                        Mask {
                            dims: grid.dims,
                            spacing_mm: grid.spacing_mm,
                            voxels: &mb,
                        },
                    );
                    let (Ok(o), Ok(sd)) = (overlap(&ka, &kb), surface_distance(&ka, &kb)) else {
                        continue;
                    };
                    let voxel_ml = grid.spacing_mm.iter().product::<f64>() / 1000.0;
                    series_compared.insert(uid.clone());
                    seg_rows.push(SegmentationAgreement {
                        series: series_name(uid),
                        class,
                        reader_a: (*a_name).clone(),
                        reader_b: (*b_name).clone(),
                        dice: o.dice,
                        iou: o.iou,
                        volume_a_ml: o.a_voxels as f64 * voxel_ml,
                        volume_b_ml: o.b_voxels as f64 * voxel_ml,
                        volume_difference_ml: o.volume_difference_ml,
                        mean_surface_mm: sd.map(|d| d.mean_mm),
                        hausdorff95_mm: sd.map(|d| d.hausdorff95_mm),
                    });
                }
            }
        }
    }
    // Lowest agreement first: the disagreement list a QA lead reads top down.
    seg_rows.sort_by(|x, y| x.dice.total_cmp(&y.dice));
    findings.sort_by(|x, y| {
        let kx = x.kappa.unwrap_or(-2.0);
        let ky = y.kappa.unwrap_or(-2.0);
        kx.total_cmp(&ky)
    });
    let cases = case_summary(session)?;
    let multi_reader = multi_reader_agreement(&by_series);
    Ok(AgreementReport {
        cases,
        multi_reader,
        readers: summary
            .into_iter()
            .map(|(reader, (annotations, segmentations))| ReaderSummary {
                reader,
                annotations,
                segmentations,
            })
            .collect(),
        series_compared: series_compared.len(),
        segmentations: seg_rows,
        findings,
        unplaced_findings: unplaced,
    })
}
