//! Command-line contracts for project files: `project init`, `user add|passwd|remove|list`,
//! `labels import|export` (labels JSON here; the interop formats in `labels_io`),
//! `history`, `verify`, `audit`.
//!
//! Owns argument shapes and output formats only; all work happens in [`crate::project`].
//! The acting user comes from `--user` or `TESSERA_USER`; passphrases from
//! `TESSERA_PASSPHRASE` / `TESSERA_NEW_PASSPHRASE`, else a hidden prompt. Exit codes:
//! 0 success, 1 verification or authentication failure, 2 usage error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use zeroize::Zeroizing;

use super::labels_io;
use crate::project::model::{Annotation, AnnotationBody, Edit, ImageRef, Kind, Label};
use crate::project::{
    self, Id, KdfChoice, KdfParams, Project, ProjectError, Role, Roles, Session, VerifyOnOpen,
    labels,
};

/// The acting user.
#[derive(Debug, Args)]
pub struct UserArg {
    /// Acting user (default: the TESSERA_USER environment variable).
    #[arg(long = "user", env = "TESSERA_USER", value_name = "NAME")]
    pub user: String,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project with NAME as its admin; prints the recovery code.
    Init {
        /// The new project file (conventionally *.tessera).
        file: PathBuf,
        #[command(flatten)]
        who: UserArg,
    },
    /// Write a consistent copy of a project (SQLite VACUUM INTO) to send to a member, who
    /// keeps working on it and syncs by bundles.
    Copy {
        file: PathBuf,
        #[arg(long, value_name = "COPY")]
        out: PathBuf,
        #[command(flatten)]
        who: UserArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Annotator,
    Reviewer,
    Senior,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Annotator => Role::Annotator,
            RoleArg::Reviewer => Role::Reviewer,
            RoleArg::Senior => Role::Senior,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// The roles named on the command line.
fn roles_of(args: &[RoleArg]) -> anyhow::Result<Roles> {
    let roles: Vec<Role> = args.iter().map(|r| Role::from(*r)).collect();
    Roles::of(&roles).ok_or_else(|| anyhow::anyhow!("name at least one role"))
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a member (passphrase from TESSERA_NEW_PASSPHRASE or a prompt); admins only.
    Add {
        file: PathBuf,
        /// The new member's name.
        name: String,
        /// One role or several, comma-separated (annotator,reviewer,senior,admin).
        #[arg(long, value_enum, value_delimiter = ',', required = true)]
        role: Vec<RoleArg>,
        #[command(flatten)]
        who: UserArg,
    },
    /// Set a member's roles (a signed membership record); admins only. The last admin
    /// keeps the admin role.
    Roles {
        file: PathBuf,
        name: String,
        /// The member's roles, comma-separated (annotator,reviewer,senior,admin).
        #[arg(long, value_enum, value_delimiter = ',', required = true)]
        set: Vec<RoleArg>,
        #[command(flatten)]
        who: UserArg,
    },
    /// Change the acting user's passphrase (new one from TESSERA_NEW_PASSPHRASE or a prompt).
    Passwd {
        file: PathBuf,
        #[command(flatten)]
        who: UserArg,
    },
    /// Remove a member and rotate the project data key; admins only.
    Remove {
        file: PathBuf,
        name: String,
        #[command(flatten)]
        who: UserArg,
    },
    /// List members and roles.
    List {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        who: UserArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Import annotations from a labels JSON file (docs/labels-json.md); each becomes an
    /// event. With --format: a DICOM SEG (stored as a segmentation of its series) or
    /// QuPath GeoJSON (annotations of a slide).
    Import {
        file: PathBuf,
        /// The labels JSON file, or the file of --format.
        #[arg(value_name = "PATH")]
        json: PathBuf,
        #[arg(long, value_enum)]
        format: Option<labels_io::ImportFormat>,
        /// The DICOM folder of the SEG's source series (aligns it voxel for voxel).
        #[arg(long, value_name = "DIR")]
        study: Option<PathBuf>,
        /// geojson: the slide the annotations belong to (default: the one a Tessera
        /// export names; QuPath's files name none).
        #[arg(long, value_name = "SLIDE")]
        slide: Option<PathBuf>,
        #[command(flatten)]
        who: UserArg,
    },
    /// Print the current annotations (decrypted) as labels JSON, or write them with
    /// --format as DICOM SEG, DICOM SR (TID 1500), NIfTI, QuPath GeoJSON, CSV.
    Export {
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<labels_io::ExportFormat>,
        /// The file to write (required with --format; labels JSON: default stdout).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Only annotations of this case: a StudyInstanceUID (with --study), a
        /// SeriesInstanceUID, or (geojson) a slide's SHA-256.
        #[arg(long, value_name = "CASE")]
        case: Option<String>,
        /// Only reviewed annotations (refused while projects have no review state).
        #[arg(long)]
        reviewed_only: bool,
        /// The DICOM folder holding the annotated series (seg, sr, nifti; csv for HU).
        #[arg(long, value_name = "DIR")]
        study: Option<PathBuf>,
        /// geojson: the annotated slide file (picks its annotations by SHA-256; its
        /// microns per pixel give measurements in µm).
        #[arg(long, value_name = "SLIDE")]
        slide: Option<PathBuf>,
        /// nifti: also write the source image volume (FILE_image.nii.gz).
        #[arg(long)]
        with_image: bool,
        /// seg, nifti: the stored segmentation to write, by name (default: the series'
        /// only one; without any, the area annotations are rasterised).
        #[arg(long, value_name = "NAME")]
        segmentation: Option<String>,
        #[command(flatten)]
        who: UserArg,
    },
}

/// `tessera history FILE [--json]`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    file: PathBuf,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    who: UserArg,
}

/// `tessera verify FILE`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    file: PathBuf,
    #[command(flatten)]
    who: UserArg,
}

/// `tessera audit FILE [--json|--csv]`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    file: PathBuf,
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    #[arg(long)]
    csv: bool,
    #[command(flatten)]
    who: UserArg,
}

/// `tessera export FILE --out BUNDLE [--since HEADS]`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    file: PathBuf,
    /// The bundle to write (replaced atomically).
    #[arg(long, value_name = "BUNDLE")]
    out: PathBuf,
    /// Comma-separated event ids the receiver already has (its heads, as `tessera
    /// import` prints them); only events they may lack are written. Default: everything.
    #[arg(long, value_name = "HEADS", value_delimiter = ',')]
    since: Vec<String>,
    #[command(flatten)]
    who: UserArg,
}

/// `tessera import FILE BUNDLE [--dry-run]`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    file: PathBuf,
    bundle: PathBuf,
    /// Check the bundle and show what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    who: UserArg,
}

/// `tessera conflicts FILE [--json]`.
#[derive(Debug, Args)]
pub struct ConflictsArgs {
    file: PathBuf,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    who: UserArg,
}

/// `tessera resolve FILE ANNOTATION --keep EVENT`.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    file: PathBuf,
    /// The annotation's id.
    annotation: String,
    /// The event whose version to keep (as `tessera conflicts --json` lists them).
    #[arg(long, value_name = "EVENT")]
    keep: String,
    #[command(flatten)]
    who: UserArg,
}

/// Hidden test helper: commits edits forever (or `--count` times), printing each event id
/// after its COMMIT returned. The crash tests kill it at random moments.
#[derive(Debug, Args)]
pub struct CommitLoopArgs {
    file: PathBuf,
    #[arg(long, default_value_t = u64::MAX)]
    count: u64,
    #[command(flatten)]
    who: UserArg,
}

fn secret_from(var: &str, prompt: &str) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(v) = std::env::var(var) {
        return Ok(Zeroizing::new(v));
    }
    Ok(Zeroizing::new(
        rpassword::prompt_password(prompt)
            .with_context(|| format!("cannot read the passphrase (set {var})"))?,
    ))
}

fn new_secret(var: &str, who: &str) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(v) = std::env::var(var) {
        return Ok(Zeroizing::new(v));
    }
    let a = secret_from(var, &format!("New passphrase for {who}: "))?;
    let b = secret_from(var, "Repeat it: ")?;
    anyhow::ensure!(*a == *b, "the passphrases differ");
    Ok(a)
}

/// Slot parameters: calibrated, unless the test-only TESSERA_TEST_KDF="m_kib,t,p" is set.
fn kdf_choice() -> KdfChoice {
    let Ok(spec) = std::env::var("TESSERA_TEST_KDF") else {
        return KdfChoice::Calibrated;
    };
    let n: Vec<i64> = spec
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    match n.as_slice() {
        [m, t, p] => match KdfParams::bounded(*m, *t, *p) {
            Some(params) => {
                eprintln!(
                    "tessera: warning: TESSERA_TEST_KDF weakens new key slots; for tests only"
                );
                KdfChoice::Fixed(params)
            }
            None => KdfChoice::Calibrated,
        },
        _ => KdfChoice::Calibrated,
    }
}

pub(super) fn unlock(file: &Path, who: &UserArg, check: VerifyOnOpen) -> anyhow::Result<Session> {
    let project = Project::open(file)?;
    let pass = secret_from(
        "TESSERA_PASSPHRASE",
        &format!("Passphrase for {}: ", who.user),
    )?;
    Ok(project.unlock(&who.user, pass.as_bytes(), check)?)
}

pub fn run_project(cmd: ProjectCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProjectCommand::Init { file, who } => {
            let pass = new_secret("TESSERA_PASSPHRASE", &who.user)?;
            let (_session, code) =
                Project::create(&file, &who.user, pass.as_bytes(), kdf_choice())?;
            println!(
                "created {} with {} as admin",
                file.display(),
                who.user.trim()
            );
            println!(
                "recovery code (print it, keep it offline; sign in as user \"recovery\" with it):"
            );
            println!("{}", code.display().as_str());
            Ok(ExitCode::SUCCESS)
        }
        ProjectCommand::Copy { file, out, who } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            s.save_copy(&out)?;
            println!("wrote a copy to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn run_user(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            file,
            name,
            role,
            who,
        } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let pass = new_secret("TESSERA_NEW_PASSPHRASE", &name)?;
            let roles = roles_of(&role)?;
            s.add_user(&name, roles, pass.as_bytes(), kdf_choice())?;
            println!("added {} as {roles}", name.trim());
        }
        UserCommand::Roles {
            file,
            name,
            set,
            who,
        } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let roles = roles_of(&set)?;
            s.set_roles(&name, roles)?;
            println!("{} now holds {roles}", name.trim());
        }
        UserCommand::Passwd { file, who } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let pass = new_secret("TESSERA_NEW_PASSPHRASE", &who.user)?;
            s.change_passphrase(pass.as_bytes(), kdf_choice())?;
            println!("passphrase changed for {}", who.user.trim());
        }
        UserCommand::Remove { file, name, who } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            s.remove_user(&name)?;
            println!("removed {}; the project data key was rotated", name.trim());
            println!(
                "note: copies of this file taken before now stay readable by {}",
                name.trim()
            );
        }
        UserCommand::List { file, json, who } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let users = s.users()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users.iter().filter(|u| u.active) {
                    println!("{}\t{}", u.name, u.roles);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_labels(cmd: LabelsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LabelsCommand::Import {
            file,
            json,
            format: Some(format),
            study,
            slide,
            who,
        } => {
            return labels_io::import(
                &file,
                &json,
                format,
                study.as_deref(),
                slide.as_deref(),
                &who,
            );
        }
        LabelsCommand::Export {
            file,
            format: Some(format),
            out,
            case,
            reviewed_only,
            study,
            with_image,
            segmentation,
            slide,
            who,
        } => {
            let request = labels_io::ExportRequest {
                file,
                format,
                out,
                case,
                reviewed_only,
                study,
                with_image,
                segmentation,
                slide,
            };
            return labels_io::export(request, &who);
        }
        LabelsCommand::Import {
            file, json, who, ..
        } => {
            let text = std::fs::read_to_string(&json)
                .with_context(|| format!("cannot read {}", json.display()))?;
            let doc = match labels::parse(&text) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("tessera: {e}: {}", json.display());
                    return Ok(ExitCode::from(2));
                }
            };
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let source = json
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let n = s.import_labels(&doc, &source)?;
            println!(
                "imported {n} annotation edits from {} annotations",
                doc.annotations.len()
            );
        }
        LabelsCommand::Export {
            file,
            out,
            case,
            reviewed_only,
            who,
            ..
        } => {
            anyhow::ensure!(
                !reviewed_only,
                "--reviewed-only: this project has no review state yet (the review workflow is not built); leave it out to export every annotation"
            );
            anyhow::ensure!(
                case.is_none(),
                "--case needs --format (labels JSON exports every annotation)"
            );
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let doc = s.export_labels()?;
            match out {
                Some(path) => {
                    let text = serde_json::to_string_pretty(&doc)? + "\n";
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    serde_json::to_writer_pretty(&mut out, &doc)?;
                    writeln!(out)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// UTC ISO-8601 with milliseconds, from milliseconds since 1970.
pub fn iso_utc(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

pub fn run_history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::Yes)?;
    let items = s.history()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<_> = items
            .iter()
            .map(|i| json!({"event_id": i.event_id, "author": i.author, "seq": i.seq, "time": iso_utc(i.time_ms), "operation": i.operation, "target": i.target}))
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        for i in &items {
            writeln!(
                out,
                "{}  {}  #{}  {}  {}",
                iso_utc(i.time_ms),
                i.author,
                i.seq,
                i.operation,
                i.target
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::No)?;
    match s.verify() {
        Ok(r) => {
            println!(
                "OK: {} members, {} events, {} annotations, {} audit entries",
                r.members, r.events, r.annotations, r.audit_entries
            );
            if r.conflicts > 0 || r.forks > 0 {
                println!(
                    "note: {} annotations with conflicts (tessera conflicts), {} forks (an author edited two copies that were merged)",
                    r.conflicts, r.forks
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ProjectError::Verification(f)) => {
            println!("FAILED: {f}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn run_audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::Yes)?;
    let entries = s.audit_log()?;
    let mut out = std::io::stdout().lock();
    // IHE ATNA (DICOM PS3.15 A.5) field names where they fit.
    let fields = |e: &project::audit::AuditView| {
        [
            iso_utc(e.time_ms),
            e.user.clone(),
            e.action.clone(),
            project::audit::Action::atna_action_code(&e.action).to_owned(),
            e.outcome.to_string(),
            e.object
                .clone()
                .or_else(|| e.subject.clone())
                .unwrap_or_default(),
        ]
    };
    const NAMES: [&str; 6] = [
        "EventDateTime",
        "UserID",
        "EventID",
        "EventActionCode",
        "EventOutcomeIndicator",
        "ParticipantObjectID",
    ];
    if args.json {
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::Value::Object(
                    NAMES
                        .iter()
                        .zip(fields(e))
                        .map(|(k, v)| ((*k).to_owned(), json!(v)))
                        .collect(),
                )
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else if args.csv {
        writeln!(out, "{}", NAMES.join(","))?;
        for e in &entries {
            writeln!(
                out,
                "{}",
                fields(e)
                    .iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
        }
    } else {
        for e in &entries {
            let [time, user, action, _, outcome, object] = fields(e);
            writeln!(out, "{time}  {user}  {action}  outcome={outcome}  {object}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_id(s: &str, what: &str) -> anyhow::Result<Id> {
    s.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{what} is not an id (32 hex digits): {s}"))
}

fn progress_line(label: &'static str) -> impl FnMut(u64, u64) {
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    move |done, total| {
        if interactive && total > 0 {
            eprint!("\r{label}: {done}/{total} events");
            if done == total {
                eprintln!();
            }
        }
    }
}

pub fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let since = args
        .since
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_id(s, "--since"))
        .collect::<anyhow::Result<Vec<Id>>>()?;
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::Yes)?;
    let summary = s.export_bundle(&args.out, &since, &mut progress_line("export"))?;
    println!(
        "exported {} events and {} membership records ({} bytes) to {}",
        summary.events,
        summary.members,
        summary.bytes,
        args.out.display()
    );
    println!("heads: {}", join_ids(&summary.heads));
    Ok(ExitCode::SUCCESS)
}

fn join_ids(ids: &[Id]) -> String {
    ids.iter().map(Id::to_string).collect::<Vec<_>>().join(",")
}

pub fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::Yes)?;
    let mut progress = progress_line("import");
    let result = if args.dry_run {
        s.import_preview(&args.bundle, &mut progress)
    } else {
        s.import_commit(&args.bundle, &mut progress)
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(e @ (ProjectError::Bundle(_) | ProjectError::Verification(_))) => {
            eprintln!("tessera: {e}: {}", args.bundle.display());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let verb = if args.dry_run {
        "would import"
    } else {
        "imported"
    };
    println!(
        "{verb} {} new events from {}'s bundle ({} already here)",
        summary.new_event_count(),
        summary.exporter,
        summary.already_present
    );
    for (author, n) in &summary.new_events {
        println!("  {author}: {n} new events");
    }
    for m in &summary.new_members {
        println!("  new member: {m}");
    }
    if summary.new_conflicts.is_empty() {
        println!("no new conflicts");
    } else {
        println!("{} new conflicts:", summary.new_conflicts.len());
        for c in &summary.new_conflicts {
            println!("  {}", c.line());
        }
    }
    println!("heads: {}", join_ids(&summary.heads));
    Ok(ExitCode::SUCCESS)
}

pub fn run_conflicts(args: ConflictsArgs) -> anyhow::Result<ExitCode> {
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::Yes)?;
    let items = s.conflicts()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &items)?;
        writeln!(out)?;
    } else if items.is_empty() {
        writeln!(out, "no conflicts")?;
    } else {
        for c in &items {
            writeln!(out, "{}", c.line())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_resolve(args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let annotation = parse_id(&args.annotation, "ANNOTATION")?;
    let keep = parse_id(&args.keep, "--keep")?;
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::Yes)?;
    let event = s.resolve_conflict(annotation, keep)?;
    println!("resolved by event {event}");
    Ok(ExitCode::SUCCESS)
}

pub fn run_commit_loop(args: CommitLoopArgs) -> anyhow::Result<ExitCode> {
    let mut s = unlock(&args.file, &args.who, VerifyOnOpen::No)?;
    let mut out = std::io::stdout().lock();
    let mut last: Option<Annotation> = None;
    for i in 0..args.count {
        let edit = match (&last, i % 3) {
            (Some(before), 1) => {
                let mut after = before.clone();
                after.body.points[0][0] += 1.0;
                after.body.comment = Some(format!("moved {i}"));
                Edit::Update {
                    before: before.clone(),
                    after,
                }
            }
            _ => Edit::Create {
                annotation: Annotation {
                    id: Id::random()?,
                    body: AnnotationBody {
                        image: ImageRef::Dicom {
                            series_uid: format!("1.2.826.0.1.{}", i % 7),
                            sop_uid: None,
                            frame: None,
                            plane: None,
                            provenance: None,
                        },
                        kind: Kind::Point,
                        points: vec![[i as f64, 2.0]],
                        label: Label {
                            name: format!("lesion {i}"),
                            scheme: None,
                            code: None,
                            meaning: None,
                        },
                        comment: None,
                    },
                },
            },
        };
        last = match &edit {
            Edit::Create { annotation } => Some(annotation.clone()),
            Edit::Update { after, .. } => Some(after.clone()),
            _ => None,
        };
        let id = s.commit_edit(edit)?;
        writeln!(out, "{id}")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn iso_utc_formats_known_instants() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
