//! What the Linux packages are built from: `--version`, the generated man pages and
//! completions, the .deb's run-time dependencies (every library the binary dlopens must be
//! one), and the desktop entry, MIME type and metainfo agreeing with each other.
//! The packages themselves are built and installed by `make package` and
//! `scripts/install-test.sh` (a CI step), not here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(program: &str, args: &[&str]) -> Option<(bool, String, String)> {
    let out = Command::new(program).args(args).output().ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn tessera(args: &[&str]) -> String {
    let (ok, stdout, stderr) = run(BIN, args).unwrap();
    assert!(ok, "tessera {args:?} failed: {stderr}");
    stdout
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn deb_metadata() -> toml::Table {
    let manifest: toml::Table = toml::from_str(&read(&repo().join("Cargo.toml"))).unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .unwrap()
        .clone()
}

/// The package names in a Debian relationship field (alternatives and versions dropped).
fn package_names(field: &str) -> BTreeSet<String> {
    field
        .split([',', '|'])
        .map(|p| p.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|p| !p.is_empty() && !p.starts_with('$'))
        .collect()
}

#[test]
fn version_names_the_commit_and_the_loaded_libraries() {
    let out = tessera(&["--version"]);
    assert_eq!(tessera(&["-V"]), out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        format!(
            "tessera {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            tessera::about::GIT_COMMIT
        )
    );
    // The commit is HEAD's when built from this checkout without an override.
    let head = run(
        "git",
        &[
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=10",
            "HEAD",
        ],
    );
    if let Some((true, head, _)) = head
        && std::env::var_os("TESSERA_GIT_COMMIT").is_none()
    {
        assert_eq!(tessera::about::GIT_COMMIT, head.trim());
    }
    let openslide = lines[1].strip_prefix("OpenSlide ").unwrap();
    assert!(openslide.starts_with(|c: char| c.is_ascii_digit()), "{out}");
    // On Debian the version must be the installed libopenslide0's upstream version.
    if let Some((true, deb_version, _)) =
        run("dpkg-query", &["-W", "-f=${Version}", "libopenslide0"])
    {
        let upstream = deb_version.split(['+', '~', '-']).next().unwrap();
        assert_eq!(openslide, upstream, "{out}");
    }
    assert_eq!(lines[2], format!("SQLite {}", rusqlite::version()));
}

/// `tessera`, `tessera-project`, `tessera-project-init`, … for every visible command.
fn visible_command_pages(cmd: &clap::Command, prefix: &str, pages: &mut BTreeSet<String>) {
    let name = if prefix.is_empty() {
        cmd.get_name().to_owned()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    pages.insert(format!("{name}.1"));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() != "help" {
            visible_command_pages(sub, &name, pages);
        }
    }
}

#[test]
fn man_pages_cover_every_visible_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    tessera(&["manpages", "--out", out.to_str().unwrap()]);
    let written: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut expected = BTreeSet::new();
    visible_command_pages(&tessera::cli::Cli::command(), "", &mut expected);
    assert_eq!(written, expected);
    assert!(written.contains("tessera-project-init.1"));
    assert!(
        !written
            .iter()
            .any(|p| p.contains("manpages") || p.contains("debug"))
    );
    let main_page = read(&out.join("tessera.1"));
    assert!(main_page.contains(".TH tessera 1"), "{main_page}");
    assert!(main_page.contains(tessera::VERSION_LINE), "{main_page}");
    // groff's own check, where installed: no warnings at the strictest level.
    for page in &written {
        if let Ok(groff) = Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(out.join(page))
            .output()
        {
            assert!(groff.status.success(), "groff fails on {page}");
            let warnings = String::from_utf8_lossy(&groff.stderr);
            assert_eq!(warnings, "", "groff warns about {page}");
        }
    }
}

#[test]
fn completions_register_for_bash_zsh_and_fish() {
    let bash = tessera(&["completions", "bash"]);
    let zsh = tessera(&["completions", "zsh"]);
    let fish = tessera(&["completions", "fish"]);
    for script in [&bash, &zsh, &fish] {
        assert!(script.contains("project"), "{script}");
        assert!(!script.contains("debug-commit-loop"), "{script}");
    }
    assert!(zsh.starts_with("#compdef tessera"));
    assert!(fish.contains("complete -c tessera"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.bash");
    std::fs::write(&file, &bash).unwrap();
    let (ok, stdout, stderr) = run(
        "bash",
        &[
            "-c",
            &format!("source {} && complete -p tessera", file.display()),
        ],
    )
    .unwrap();
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("complete "), "{stdout}");
}

/// Sonames in the binary's bytes: `libX.so.N` string literals (what it may dlopen) and its
/// NEEDED entries. Literals are packed without separators, so a match starts at the last
/// `lib` that is followed by a name character (`…ListlibXi.so.6` is `libXi.so.6`).
fn sonames_in(bytes: &[u8]) -> BTreeSet<String> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'+';
    let in_name = |b: u8| is_name(b) || b == b'.';
    let mut found = BTreeSet::new();
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(4).position(|w| w == b".so.") {
        let dot = i + pos;
        i = dot + 4;
        let mut end = dot + 3;
        while end + 1 < bytes.len() && bytes[end + 1].is_ascii_digit() {
            end += 1;
            if bytes.get(end + 1) == Some(&b'.')
                && bytes.get(end + 2).is_some_and(u8::is_ascii_digit)
            {
                end += 1;
            }
        }
        if end == dot + 3 {
            continue; // ".so." without a version number
        }
        let mut start = dot;
        while start > 0 && in_name(bytes[start - 1]) {
            start -= 1;
        }
        let name = &bytes[start..dot];
        let Some(lib) = (0..name.len().saturating_sub(2)).rev().find(|&k| {
            name[k..].starts_with(b"lib")
                && name.get(k + 3).is_some_and(|&b| is_name(b) && b != b'-')
        }) else {
            continue;
        };
        found.insert(String::from_utf8_lossy(&bytes[start + lib..=end]).into_owned());
    }
    found
}

#[test]
fn soname_scan_separates_packed_literals() {
    let bytes =
        b"\0XVaCreateNestedListlibXi.so.6\0libglib-2.0.so.0libEGL.so.1x libwayland-egl.so\0.so.";
    let found: Vec<String> = sonames_in(bytes).into_iter().collect();
    assert_eq!(found, ["libEGL.so.1", "libXi.so.6", "libglib-2.0.so.0"]);
}

/// The Debian package that owns the library the loader would find for `soname`.
fn package_of_soname(soname: &str) -> Option<String> {
    let (_, cache, _) = run("ldconfig", &["-p"])?;
    for line in cache.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() != Some(soname) || !line.contains("x86-64") && cfg!(target_arch = "x86_64")
        {
            continue;
        }
        let path = line.rsplit(" => ").next()?.trim();
        let real = std::fs::canonicalize(path).ok()?;
        let candidates = [
            path.to_owned(),
            real.display().to_string(),
            path.replacen("/lib/", "/usr/lib/", 1),
            path.replacen("/usr/lib/", "/lib/", 1),
        ];
        for candidate in candidates {
            if let Some((true, owner, _)) = run("dpkg", &["-S", &candidate]) {
                return owner.split(':').next().map(str::to_owned);
            }
        }
    }
    None
}

#[test]
fn every_library_the_binary_loads_is_a_deb_dependency() {
    if run("dpkg", &["--version"]).is_none() || run("readelf", &["--version"]).is_none() {
        eprintln!("skipped: needs dpkg and readelf (Debian/Ubuntu with binutils)");
        return;
    }
    let (_, dynamic, _) = run("readelf", &["-d", BIN]).unwrap();
    let needed: BTreeSet<String> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_owned()))
        .collect();
    assert!(needed.contains("libopenslide.so.0"), "{needed:?}");
    let named = sonames_in(&std::fs::read(BIN).unwrap());
    let dlopened: BTreeSet<&String> = named.iter().filter(|s| !needed.contains(*s)).collect();
    // The ones winit and wgpu load (packaging/README.md lists them and how they were found).
    for expected in [
        "libvulkan.so.1",
        "libEGL.so.1",
        "libX11.so.6",
        "libxkbcommon.so.0",
        "libwayland-client.so.0",
    ] {
        assert!(
            dlopened.contains(&expected.to_owned()),
            "{expected} not found in {dlopened:?}"
        );
    }
    let depends = package_names(deb_metadata()["depends"].as_str().unwrap());
    let mut owners = BTreeSet::new();
    for soname in &dlopened {
        let Some(package) = package_of_soname(soname) else {
            panic!(
                "the binary names {soname}, which no installed package provides: install it (scripts/setup.sh) and add its package to [package.metadata.deb] depends"
            );
        };
        assert!(
            depends.contains(&package),
            "the binary loads {soname} at run time: add {package} to [package.metadata.deb] depends"
        );
        owners.insert(package);
    }
    // And nothing listed by hand that the binary does not load.
    let stale: Vec<&String> = depends.difference(&owners).collect();
    assert!(
        stale.is_empty(),
        "depends lists {stale:?}, which the binary never loads"
    );
}

fn desktop_entry() -> Vec<(String, String)> {
    read(&repo().join("packaging/linux/tessera.desktop"))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn desktop_value(key: &str) -> String {
    desktop_entry()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("tessera.desktop has no {key}"))
}

/// The text of every `<tag …>…</tag>` in `xml` whose attributes start with `attributes`
/// (the files here are small and flat).
fn elements<'a>(xml: &'a str, tag: &str, attributes: &str) -> Vec<&'a str> {
    let open = format!("<{tag}{attributes}");
    let close = format!("</{tag}>");
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once('>')?.1.split(close.as_str()).next())
        .collect()
}

#[test]
fn desktop_entry_mime_type_and_metainfo_agree() {
    let exec = desktop_value("Exec");
    assert_eq!(exec, "tessera open %F");
    assert!(
        tessera::cli::Cli::command()
            .get_subcommands()
            .any(|c| c.get_name() == "open")
    );
    let icon = desktop_value("Icon");
    assert!(repo().join(format!("assets/icons/{icon}.svg")).is_file());
    let mime_types: BTreeSet<String> = desktop_value("MimeType")
        .split(';')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    let categories = desktop_value("Categories");
    assert!(categories.contains("MedicalSoftware;") && categories.contains("Graphics;"));

    let mime_xml = read(&repo().join("packaging/linux/tessera-mime.xml"));
    assert!(mime_xml.contains(r#"<mime-type type="application/x-tessera-project">"#));
    assert!(mime_xml.contains(r#"<glob pattern="*.tessera"/>"#));
    assert!(mime_types.contains("application/x-tessera-project"));
    assert!(mime_types.contains("application/dicom"));

    let metainfo = read(&repo().join("packaging/linux/io.github.tessera.Tessera.metainfo.xml"));
    assert_eq!(
        elements(&metainfo, "launchable", " type=\"desktop-id\""),
        ["tessera.desktop"]
    );
    let provided: BTreeSet<String> = elements(&metainfo, "mediatype", "")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(provided, mime_types);
    let newest_release = metainfo
        .split("<release version=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    assert_eq!(
        newest_release,
        env!("CARGO_PKG_VERSION"),
        "metainfo's newest <release> must be the package version"
    );
}

#[test]
fn desktop_entry_and_metainfo_pass_the_freedesktop_validators() {
    let desktop = repo().join("packaging/linux/tessera.desktop");
    let metainfo = repo().join("packaging/linux/io.github.tessera.Tessera.metainfo.xml");
    let mut ran = 0;
    if let Some((ok, stdout, stderr)) = run("desktop-file-validate", &[desktop.to_str().unwrap()]) {
        let report = format!("{stdout}{stderr}");
        assert!(ok, "{report}");
        // Hints are allowed (two main categories, on purpose: Science and Graphics menus).
        assert!(
            report.lines().all(|l| l.contains(": hint: ")),
            "desktop-file-validate: {report}"
        );
        ran += 1;
    }
    if let Some((ok, stdout, stderr)) = run(
        "appstreamcli",
        &["validate", "--no-net", metainfo.to_str().unwrap()],
    ) {
        assert!(ok, "appstreamcli: {stdout}{stderr}");
        ran += 1;
    }
    if ran < 2 {
        eprintln!(
            "note: {ran}/2 validators installed (desktop-file-utils, appstream: scripts/setup.sh)"
        );
    }
}

#[test]
fn deb_assets_that_are_not_generated_exist() {
    let meta = deb_metadata();
    let assets = meta["assets"].as_array().unwrap();
    let mut sources = Vec::new();
    for asset in assets {
        let entry = asset.as_array().unwrap();
        let source = entry[0].as_str().unwrap();
        let dest = entry[1].as_str().unwrap();
        sources.push(source);
        assert!(dest.starts_with("usr/"), "{dest}");
        if !source.starts_with("target/") {
            assert!(repo().join(source).is_file(), "missing asset {source}");
        }
    }
    // Every icon in assets/icons is installed.
    for icon in std::fs::read_dir(repo().join("assets/icons")).unwrap() {
        let name = icon.unwrap().file_name().to_string_lossy().into_owned();
        let source = format!("assets/icons/{name}");
        assert!(
            sources.contains(&source.as_str()),
            "{source} is not packaged"
        );
    }
    // The generated ones are where scripts/package.sh writes them.
    let script = read(&repo().join("scripts/package.sh"));
    assert!(
        script.contains("gen=target/packaging "),
        "scripts/package.sh: gen="
    );
    for generated in sources
        .iter()
        .filter(|s| s.starts_with("target/packaging/"))
    {
        let written = generated
            .replacen("target/packaging", "$gen", 1)
            .replace("/*.1", "");
        assert!(
            script.contains(&written),
            "scripts/package.sh does not write {generated}"
        );
    }
}
