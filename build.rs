//! Build script: records the git commit the binary was built from, for `tessera --version`,
//! and links libjpeg-turbo's TurboJPEG library statically (slide tiles,
//! `src/imaging/slide/turbo.rs`).
//!
//! Sets `TESSERA_GIT_COMMIT` for the crate: the environment variable of the same name when
//! set (packagers building from a tarball), else `git rev-parse --short=10 HEAD` when this
//! crate is the top of a git checkout, else "unknown". Reruns when HEAD or the branch it
//! points at moves.
//!
//! `libturbojpeg.a` is found in pkg-config's `libdir` for libturbojpeg (Debian and Ubuntu:
//! the libturbojpeg0-dev package, which `scripts/setup.sh` installs), or in
//! `TURBOJPEG_LIB_DIR` when set. Linked statically: the program needs no libturbojpeg at
//! run time. Touches nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TESSERA_GIT_COMMIT");
    // Without this line (outside git), any file change in the package would rerun the script.
    println!("cargo:rerun-if-changed=build.rs");
    let commit = match std::env::var("TESSERA_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=TESSERA_GIT_COMMIT={commit}");
    link_turbojpeg();
}

/// Links `libturbojpeg.a` statically (see the module documentation).
fn link_turbojpeg() {
    println!("cargo:rerun-if-env-changed=TURBOJPEG_LIB_DIR");
    let dir = std::env::var("TURBOJPEG_LIB_DIR")
        .ok()
        .filter(|d| !d.trim().is_empty())
        .or_else(|| {
            let out = Command::new("pkg-config")
                .args(["--variable=libdir", "libturbojpeg"])
                .output()
                .ok()?;
            let dir = String::from_utf8(out.stdout).ok()?.trim().to_owned();
            (out.status.success() && !dir.is_empty()).then_some(dir)
        });
    let Some(dir) = dir.filter(|d| Path::new(d).join("libturbojpeg.a").is_file()) else {
        println!(
            "cargo:warning=libturbojpeg.a not found: install libturbojpeg0-dev (scripts/setup.sh does) or set TURBOJPEG_LIB_DIR"
        );
        // The link step then fails naming the library.
        println!("cargo:rustc-link-lib=static=turbojpeg");
        return;
    };
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=static=turbojpeg");
}

/// The short commit of HEAD, registering the files whose change means a new commit.
/// `None` outside a git checkout, or when the checkout found is not this crate's (a
/// crate tarball unpacked inside some other repository).
fn git_commit() -> Option<String> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let toplevel = git(&manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&toplevel), &manifest_dir) {
        return None;
    }
    // HEAD, the branch it names, and packed-refs (where `git gc` moves branch tips).
    // `--git-path` resolves them in linked worktrees too, where `.git` is a file.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&manifest_dir, &["rev-parse", "--git-path", &name]) {
            let path = manifest_dir.join(path);
            // A watched path that does not exist would rerun this script on every build.
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    git(&manifest_dir, &["rev-parse", "--short=10", "HEAD"])
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
