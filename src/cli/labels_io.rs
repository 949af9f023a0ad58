//! `tessera labels export FILE --format seg|sr|nifti|geojson|csv --out PATH [--case CASE]
//! [--reviewed-only] [--study DIR] [--slide SLIDE] [--with-image]` and `tessera labels
//! import FILE PATH --format seg|geojson [--study DIR] [--slide SLIDE]`: the interop
//! formats on the command line.
//!
//! Owns argument handling, finding the annotated series under `--study` (the slide by
//! its SHA-256 for GeoJSON), and the one-line summaries; the formats are
//! [`crate::interop`]. Prints counts and paths, never labels, UIDs or patient names.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::ValueEnum;

use super::project::{UserArg, unlock};
use crate::annotate::schema::LabelClass;
use crate::annotate::slide_objects;
use crate::imaging::discovery::{self, Stack};
use crate::imaging::slide::{PathChoice, Slide};
use crate::imaging::volume::{self, LoadOptions};
use crate::interop::nifti::{self, ImageVolume};
use crate::interop::{self, Authoring, SourceSeries, csv, geojson, seg, sr};
use crate::project::audit::{Action, Outcome};
use crate::project::cases::{Status, case_of};
use crate::project::labels::{self, AnnotationIn, LabelsDoc};
use crate::project::model::{Annotation, ImageRef, Label};
use crate::project::segmentations::SegmentationInfo;
use crate::project::{Id, Session, VerifyOnOpen};

/// Export formats besides labels JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// DICOM Segmentation of the area annotations (needs --study).
    Seg,
    /// DICOM SR TID 1500 measurement report (needs --study).
    Sr,
    /// NIfTI label map (.nii.gz) + ITK-SNAP label description (needs --study).
    Nifti,
    /// QuPath GeoJSON of one slide's annotations (µm measurements with --slide).
    Geojson,
    /// One row per measurement (HU statistics with --study).
    Csv,
}

/// Import formats besides labels JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// A DICOM SEG (read and checked; stored once projects hold label maps).
    Seg,
    /// QuPath GeoJSON, as annotations of the slide --slide names (or the file says).
    Geojson,
}

/// What `labels export` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub file: PathBuf,
    pub format: ExportFormat,
    pub out: Option<PathBuf>,
    pub case: Option<String>,
    pub reviewed_only: bool,
    pub study: Option<PathBuf>,
    pub with_image: bool,
    pub segmentation: Option<String>,
    /// GeoJSON: the slide file (its SHA-256 picks the annotations, its MPP gives µm).
    pub slide: Option<PathBuf>,
}

/// The annotated series, found under `--study`.
struct Series {
    source: SourceSeries,
    stack: Stack,
}

/// `labels export` with a `--format`.
pub fn export(req: ExportRequest, who: &UserArg) -> anyhow::Result<ExitCode> {
    check_request(&req)?;
    let mut s = unlock(&req.file, who, VerifyOnOpen::Yes)?;
    let said = export_with(&mut s, &req, &who.user)?;
    print!("{said}");
    Ok(ExitCode::SUCCESS)
}

/// Refusals that need no project: unsupported format, missing `--out` or `--study`.
pub fn check_request(req: &ExportRequest) -> anyhow::Result<()> {
    if req.out.is_none() {
        bail!("--out PATH is required with --format");
    }
    let needs_geometry = matches!(
        req.format,
        ExportFormat::Seg | ExportFormat::Sr | ExportFormat::Nifti
    );
    if needs_geometry && req.study.is_none() {
        bail!(
            "--study DIR is required for this format: the DICOM folder of the annotated series (its geometry and UIDs)"
        );
    }
    Ok(())
}

/// Writes the export `req` asks for from an unlocked project (the window's File →
/// Export does the same); returns what it wrote, in lines of counts and paths.
pub fn export_with(s: &mut Session, req: &ExportRequest, user: &str) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    check_request(req)?;
    let Some(out) = req.out.as_deref() else {
        bail!("--out PATH is required with --format");
    };
    if req.format == ExportFormat::Geojson {
        return export_geojson(s, req, out);
    }
    let mut said = String::new();
    let cases = s.cases()?;
    let status_of = |image: &ImageRef| cases.get(&case_of(image)).map(|c| c.status);
    // --reviewed-only: what sits in approved or adjudicated cases.
    let keep =
        |image: &ImageRef| !req.reviewed_only || status_of(image).is_some_and(Status::is_reviewed);
    let mut all = s.annotations()?;
    all.retain(|a| keep(&a.body.image));
    let readers = readers(s)?;
    let mut segmentations = s.segmentations()?;
    segmentations.retain(|i| keep(&i.image));
    let seg_series = |i: &SegmentationInfo| match &i.image {
        ImageRef::Dicom { series_uid, .. } => Some(series_uid.clone()),
        ImageRef::Slide { .. } => None,
    };

    // The series under --study, by the annotations' and segmentations' series UIDs.
    let series_uids: Vec<String> = {
        let mut v: Vec<String> = all
            .iter()
            .filter_map(series_uid)
            .map(str::to_owned)
            .chain(segmentations.iter().filter_map(seg_series))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let found: BTreeMap<String, Series> = match &req.study {
        Some(dir) => find_series(dir, &series_uids, &all)?,
        None => BTreeMap::new(),
    };
    let study_of = |a: &Annotation| {
        series_uid(a)
            .and_then(|uid| found.get(uid))
            .map(|s| s.source.study_instance_uid.clone())
    };
    let selected: Vec<Annotation> = all
        .into_iter()
        .filter(|a| match &req.case {
            None => true,
            Some(case) => {
                series_uid(a) == Some(case.as_str()) || study_of(a).as_deref() == Some(case)
            }
        })
        .collect();
    let in_case = |uid: &str| match &req.case {
        None => true,
        Some(case) => {
            uid == case
                || found
                    .get(uid)
                    .is_some_and(|s| s.source.study_instance_uid == *case)
        }
    };
    let selected_segs: Vec<&SegmentationInfo> = segmentations
        .iter()
        .filter(|i| seg_series(i).is_some_and(|u| in_case(&u)))
        .filter(|i| {
            req.segmentation
                .as_ref()
                .is_none_or(|name| i.header.name == *name)
        })
        .collect();
    if req.segmentation.is_some() && selected_segs.is_empty() {
        bail!(
            "no segmentation of that name (tessera labels export lists none by that --segmentation)"
        );
    }
    let use_stored =
        matches!(req.format, ExportFormat::Seg | ExportFormat::Nifti) && !selected_segs.is_empty();
    if selected.is_empty() && !use_stored {
        bail!(
            "no annotations to export{}{}",
            if req.case.is_some() {
                " for this --case"
            } else {
                ""
            },
            if req.reviewed_only {
                " in approved or adjudicated cases (--reviewed-only)"
            } else {
                ""
            }
        );
    }

    let object = format!("labels export {:?}", req.format).to_lowercase();
    match req.format {
        ExportFormat::Csv => {
            let mut images: HashMap<String, Option<ImageVolume>> = HashMap::new();
            let mut rows = Vec::new();
            for a in &selected {
                let series = series_uid(a).and_then(|uid| found.get(uid));
                let uid = series_uid(a).unwrap_or_default().to_owned();
                if let (Some(series), false) = (series, images.contains_key(&uid)) {
                    images.insert(uid.clone(), load_image(series).ok());
                }
                let image = images.get(&uid).and_then(Option::as_ref);
                let study = study_of(a).unwrap_or_default();
                let case = if study.is_empty() {
                    uid.clone()
                } else {
                    study.clone()
                };
                let ctx = csv::RowContext {
                    case: &case,
                    study_uid: &study,
                    reader: readers.get(&a.id).map_or("", String::as_str),
                    status: status_of(&a.body.image).map_or("no case", Status::as_str),
                };
                rows.extend(csv::annotation_rows(
                    a,
                    &ctx,
                    series.map(|s| &s.source),
                    image,
                ));
            }
            std::fs::write(out, csv::to_csv(&rows))
                .with_context(|| format!("cannot write {}", out.display()))?;
            s.record(Action::LabelsExport, Outcome::Success, Some(&object))?;
            let _ = writeln!(
                said,
                "wrote {} rows for {} annotations to {}",
                rows.len(),
                selected.len(),
                out.display()
            );
        }
        ExportFormat::Seg | ExportFormat::Sr | ExportFormat::Nifti => {
            // A stored segmentation is written as it is; without one, the area
            // annotations are rasterised onto the series.
            let stored = if use_stored {
                let info = match selected_segs.as_slice() {
                    [one] => *one,
                    many => bail!(
                        "{} segmentations match: choose one with --segmentation NAME ({})",
                        many.len(),
                        many.iter()
                            .map(|i| i.header.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let uid = seg_series(info).unwrap_or_default();
                let series = found
                    .get(&uid)
                    .ok_or_else(|| anyhow::anyhow!("the segmented series is not under --study"))?;
                let loaded = s.load_segmentation(info.id)?;
                Some((
                    series,
                    interop::from_segmentation(&loaded.info, &loaded.map, &series.source)?,
                ))
            } else {
                None
            };
            let series = match &stored {
                Some((series, _)) => series,
                None => one_series(&selected, &found)?,
            };
            let rasterise = |selected: &[Annotation]| match &stored {
                Some((_, labels)) => Ok((labels.clone(), Vec::new())),
                None => interop::from_annotations(selected, &series.source),
            };
            let (summary, skipped) = match req.format {
                ExportFormat::Seg => {
                    let (labels, skipped) = rasterise(&selected)?;
                    let who = Authoring::new(user, "Tessera segmentation")?;
                    let w = seg::write(out, &labels, &series.source, &who)?;
                    (
                        format!(
                            "DICOM SEG with {} segments in {} frames",
                            w.segments, w.frames
                        ),
                        skipped.len(),
                    )
                }
                ExportFormat::Sr => {
                    let image = load_image(series).ok();
                    let who = Authoring::new(user, "Tessera measurements")?;
                    let w = sr::write(out, &selected, &series.source, image.as_ref(), &who)?;
                    (
                        format!("DICOM SR (TID 1500) with {} measurement groups", w.groups),
                        w.skipped.len(),
                    )
                }
                _ => {
                    let (labels, skipped) = rasterise(&selected)?;
                    if labels.segments.is_empty() {
                        return Err(interop::InteropError::Empty.into());
                    }
                    nifti::write_labels(out, &labels)?;
                    let txt = sibling(out, "_labels.txt");
                    nifti::write_label_description(&txt, &labels.segments)?;
                    let mut what = format!(
                        "NIfTI label map with {} labels (names and colours: {})",
                        labels.segments.len(),
                        txt.display()
                    );
                    if req.with_image {
                        let image = load_image(series)?;
                        let path = sibling(out, "_image.nii.gz");
                        nifti::write_image(&path, &image)?;
                        what.push_str(&format!("; image volume: {}", path.display()));
                    }
                    (what, skipped.len())
                }
            };
            s.record(Action::LabelsExport, Outcome::Success, Some(&object))?;
            let _ = writeln!(said, "wrote {summary} to {}", out.display());
            if skipped > 0 {
                let _ = writeln!(
                    said,
                    "left out {skipped} annotations this format cannot hold (points, lines, angles, other images)"
                );
            }
        }
        ExportFormat::Geojson => return export_geojson(s, req, out),
    }
    Ok(said)
}

/// The slide file's SHA-256 and µm per level-0 pixel (when it says).
fn slide_facts(path: &Path) -> anyhow::Result<(String, Option<[f64; 2]>)> {
    let sha = crate::imaging::discovery::sha256_file(path)
        .with_context(|| format!("cannot read the slide {}", path.display()))?;
    let slide = Slide::open(path, PathChoice::OpenSlideOnly)?;
    let info = slide.info();
    Ok((sha, info.mpp_x.zip(info.mpp_y).map(|(x, y)| [x, y])))
}

/// `labels export --format geojson`: one slide's annotations as QuPath GeoJSON.
fn export_geojson(s: &mut Session, req: &ExportRequest, out: &Path) -> anyhow::Result<String> {
    let slide = req.slide.as_deref().map(slide_facts).transpose()?;
    let case = req.case.as_deref().map(|c| c.trim().to_ascii_lowercase());
    if let (Some((sha, _)), Some(case)) = (&slide, &case)
        && sha != case
    {
        bail!("--slide is not the slide --case names (its SHA-256 differs)");
    }
    let mut by_slide: BTreeMap<String, Vec<Annotation>> = BTreeMap::new();
    let cases = s.cases()?;
    for a in s.annotations()? {
        if req.reviewed_only
            && !cases
                .get(&case_of(&a.body.image))
                .is_some_and(|c| c.status.is_reviewed())
        {
            continue;
        }
        if let ImageRef::Slide { slide_sha256 } = &a.body.image {
            by_slide
                .entry(slide_sha256.to_ascii_lowercase())
                .or_default()
                .push(a);
        }
    }
    let wanted = slide.as_ref().map(|(sha, _)| sha.clone()).or(case);
    let (sha, annotations) = match wanted {
        Some(sha) => {
            let found = by_slide.remove(&sha).unwrap_or_default();
            (sha, found)
        }
        None => match by_slide.len() {
            0 => bail!(
                "no slide annotations to export (GeoJSON holds whole-slide annotations; a DICOM series exports as seg, sr, nifti or csv)"
            ),
            1 => by_slide.pop_first().unwrap_or_default(),
            n => bail!(
                "the annotations are on {n} slides; choose one with --slide SLIDE or --case SLIDE_SHA256"
            ),
        },
    };
    if annotations.is_empty() {
        bail!("no annotations on this slide to export");
    }
    let classes: Vec<LabelClass> = s.label_classes()?.into_iter().map(|(_, c)| c).collect();
    let colour_of = |label: &Label| class_colour(&classes, label);
    let mpp = slide.as_ref().and_then(|(_, mpp)| *mpp);
    let written = geojson::write(
        out,
        &geojson::ExportInput {
            annotations: &annotations,
            slide_sha256: &sha,
            mpp,
            colour_of: &colour_of,
        },
    )?;
    s.record(
        Action::LabelsExport,
        Outcome::Success,
        Some("labels export geojson"),
    )?;
    let mut said = format!(
        "wrote QuPath GeoJSON with {} features ({} areas, {} lines, {} point sets holding {} points) to {}\n",
        written.features,
        written.areas,
        written.lines,
        written.point_sets,
        written.points,
        out.display()
    );
    said.push_str(match (&slide, mpp) {
        (Some(_), Some(_)) => "measurements in µm from the slide's microns per pixel\n",
        (Some(_), None) => "measurements in pixels: the slide does not say its microns per pixel\n",
        (None, _) => "measurements in pixels: give --slide SLIDE for µm\n",
    });
    Ok(said)
}

/// A label's colour: its schema class's (by code, else by name), else the slide
/// screen's colour for the name.
fn class_colour(classes: &[LabelClass], label: &Label) -> [u8; 3] {
    let by_code = |c: &&LabelClass| {
        c.concept.as_ref().is_some_and(|k| {
            Some(&k.scheme) == label.scheme.as_ref() && Some(&k.value) == label.code.as_ref()
        })
    };
    classes
        .iter()
        .find(by_code)
        .or_else(|| classes.iter().find(|c| c.name == label.name))
        .map_or_else(|| slide_objects::class_rgb(&label.name), |c| c.colour.0)
}

/// `labels import` with a `--format`.
pub fn import(
    file: &Path,
    path: &Path,
    format: ImportFormat,
    study: Option<&Path>,
    slide: Option<&Path>,
    who: &UserArg,
) -> anyhow::Result<ExitCode> {
    match format {
        ImportFormat::Geojson => {
            let mut session = unlock(file, who, VerifyOnOpen::Yes)?;
            let said = import_geojson(&mut session, path, slide)?;
            print!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        ImportFormat::Seg => {
            // Check the project opens for this user before reading anything else.
            let mut session = unlock(file, who, VerifyOnOpen::Yes)?;
            let source = match study {
                None => None,
                Some(dir) => {
                    let header = crate::imaging::file::open(
                        path,
                        crate::imaging::file::ReadMode::HeaderOnly,
                    )
                    .with_context(|| format!("cannot read {}", path.display()))?;
                    let referenced = crate::interop::seg::referenced_series(&header.object);
                    let found = find_series(dir, &referenced, &[])?;
                    found.into_values().next().map(|s| s.source)
                }
            };
            let Some(source) = source else {
                bail!(
                    "--study DIR is required: a SEG is stored aligned with its source series, which must be under DIR"
                );
            };
            let read = seg::read(path, Some(&source))?;
            let name = path
                .file_stem()
                .map(|n| n.to_string_lossy().chars().take(64).collect::<String>())
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "Imported segmentation".to_owned());
            let classes = session.label_classes()?;
            let imported = interop::to_segmentation(&read.labels, &source, &name, &classes)?;
            let image = ImageRef::Dicom {
                series_uid: source.series_instance_uid.clone(),
                sop_uid: None,
                frame: None,
                plane: None,
                provenance: None,
            };
            let id = session.create_segmentation(image, imported.header)?;
            for (index, segment) in &imported.segments {
                session.define_segment(id, *index, Some(segment.clone()))?;
            }
            if let Some(stroke) = imported.stroke {
                session.commit_edit(crate::project::model::Edit::SegmentStroke {
                    segmentation: id,
                    stroke,
                })?;
            }
            session.record(
                Action::LabelsImport,
                Outcome::Success,
                Some("labels import seg"),
            )?;
            println!(
                "stored segmentation {name:?}: {} segments, {} labelled voxels{}",
                imported.segments.len(),
                imported.voxels,
                if read.overlapping_voxels > 0 {
                    format!(
                        " ({} voxels claimed by two segments kept the later one)",
                        read.overlapping_voxels
                    )
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `labels import --format geojson`: the file's objects as annotations of the slide
/// (`--slide`, else the one the file names), one event each by the acting user, in one
/// transaction. Returns what it did, in lines of counts.
pub fn import_geojson(
    s: &mut Session,
    path: &Path,
    slide: Option<&Path>,
) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut read = geojson::read(path)?;
    let given = slide
        .map(|p| {
            crate::imaging::discovery::sha256_file(p)
                .with_context(|| format!("cannot read the slide {}", p.display()))
        })
        .transpose()?;
    let mut said = String::new();
    let sha = match (given, &read.slide_sha256) {
        (Some(given), named) => {
            if named.as_ref().is_some_and(|n| *n != given) {
                said.push_str(
                    "the file was exported from another slide; stored on --slide as asked\n",
                );
            }
            given
        }
        (None, Some(named)) => named.clone(),
        (None, None) => bail!(
            "--slide SLIDE is required: this GeoJSON does not say which slide it belongs to (QuPath's files never do)"
        ),
    };
    let classes: Vec<LabelClass> = s.label_classes()?.into_iter().map(|(_, c)| c).collect();
    let bound = geojson::bind_classes(&mut read.objects, &classes);
    let image = ImageRef::Slide { slide_sha256: sha };
    // An id already used on another image (the same file on a second slide) gets a new one.
    let elsewhere: HashMap<Id, ImageRef> = s
        .annotations()?
        .into_iter()
        .filter(|a| a.body.image != image)
        .map(|a| (a.id, a.body.image))
        .collect();
    let mut moved = 0;
    let mut annotations = Vec::with_capacity(read.objects.len());
    for o in &read.objects {
        let id = if elsewhere.contains_key(&o.id) {
            moved += 1;
            Id::random()?
        } else {
            o.id
        };
        annotations.push(AnnotationIn {
            id: Some(id),
            body: o.body(image.clone()),
        });
    }
    let doc = LabelsDoc {
        format: labels::FORMAT.to_owned(),
        version: labels::VERSION,
        annotations,
    };
    let edits = s.import_labels(&doc, "labels import geojson")?;
    let parts: Vec<String> = [
        (read.annotations, "annotations".to_owned()),
        (read.detections, "detections".to_owned()),
        (
            read.points,
            format!("points from {} point sets", read.point_sets),
        ),
        (
            read.parts,
            format!("parts of {} multi-polygons", read.multi_polygons),
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let _ = writeln!(
        said,
        "imported {} objects from {} features as {edits} edits{}",
        read.objects.len(),
        read.features,
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    );
    if bound > 0 {
        let _ = writeln!(
            said,
            "{bound} objects took the code of the project's class of their name"
        );
    }
    let left_out = [
        (read.holes_left_out, "holes (Tessera's polygons have none)"),
        (
            read.polylines_left_out,
            "open polylines (Tessera has no open polyline)",
        ),
        (read.objects_left_out, "tiles, TMA cores or root objects"),
    ];
    for (n, what) in left_out {
        if n > 0 {
            let _ = writeln!(said, "left out {n} {what}");
        }
    }
    if read.new_ids + moved > 0 {
        let _ = writeln!(
            said,
            "{} objects got a new id (repeated in the file, or used on another image)",
            read.new_ids + moved
        );
    }
    Ok(said)
}

fn series_uid(a: &Annotation) -> Option<&str> {
    match &a.body.image {
        ImageRef::Dicom { series_uid, .. } => Some(series_uid),
        ImageRef::Slide { .. } => None,
    }
}

/// The author of each annotation's first event (who drew it).
fn readers(s: &mut Session) -> anyhow::Result<HashMap<Id, String>> {
    let mut out = HashMap::new();
    for item in s.history()? {
        out.entry(item.target).or_insert(item.author);
    }
    Ok(out)
}

/// Discovers `dir` and reads the stacks of the wanted series (the stack holding most
/// of the annotated instances where a series has several).
fn find_series(
    dir: &Path,
    wanted: &[String],
    annotations: &[Annotation],
) -> anyhow::Result<BTreeMap<String, Series>> {
    let found = discovery::discover(&[dir.to_path_buf()]);
    let mut out = BTreeMap::new();
    for (_, _, series) in found.series() {
        if !wanted.contains(&series.series_instance_uid) {
            continue;
        }
        let sops: Vec<&str> = annotations
            .iter()
            .filter(|a| series_uid(a) == Some(series.series_instance_uid.as_str()))
            .filter_map(|a| match &a.body.image {
                ImageRef::Dicom {
                    sop_uid: Some(s), ..
                } => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let Some(stack) = series.stacks.iter().max_by_key(|st| {
            let hits = st
                .slices
                .iter()
                .filter(|s| sops.contains(&s.instance.sop_instance_uid.as_str()))
                .count();
            (hits, st.slices.len())
        }) else {
            continue;
        };
        let source = SourceSeries::from_stack(stack)?;
        out.insert(
            series.series_instance_uid.clone(),
            Series {
                source,
                stack: stack.clone(),
            },
        );
    }
    if out.is_empty() && !wanted.is_empty() {
        bail!("none of the annotated series is under {}", dir.display());
    }
    Ok(out)
}

fn one_series<'a>(
    selected: &[Annotation],
    found: &'a BTreeMap<String, Series>,
) -> anyhow::Result<&'a Series> {
    let mut uids: Vec<&str> = selected.iter().filter_map(series_uid).collect();
    uids.sort_unstable();
    uids.dedup();
    match uids.as_slice() {
        [one] => found
            .get(*one)
            .ok_or_else(|| anyhow::anyhow!("the annotated series is not under --study")),
        [] => bail!("no annotation is on a DICOM series"),
        many => bail!(
            "the annotations are on {} series; choose one with --case SERIES_INSTANCE_UID",
            many.len()
        ),
    }
}

fn load_image(series: &Series) -> anyhow::Result<ImageVolume> {
    let volume = volume::load(
        &series.stack,
        &LoadOptions::default(),
        &AtomicBool::new(false),
        &|_| {},
    )
    .context("cannot load the source series")?;
    Ok(ImageVolume::from_volume(&volume, &series.source)?)
}

/// `out` with its `.nii.gz` / `.nii` / other extension replaced by `suffix`.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
        .unwrap_or(&name);
    out.with_file_name(format!("{stem}{suffix}"))
}
