//! The `tessera` binary. Stand-in until the CLI lands: `tessera [PATH…]` opens the
//! workstation on files or folders; with no paths it opens the built-in demo study,
//! generating it into the user cache first; `tessera demo DIR` only writes the demo.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use tessera::imaging::demo::{self, DemoProgress};

fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.first().is_some_and(|a| a.as_os_str() == "demo") {
        let Some(dir) = args.get(1) else {
            anyhow::bail!("usage: tessera demo DIR");
        };
        write_demo(dir)?;
        return Ok(ExitCode::SUCCESS);
    }
    let paths = if args.is_empty() {
        let dir = demo_cache_dir().context("cannot find a cache folder for the demo study")?;
        if !demo::is_demo_study_complete(&dir) {
            write_demo(&dir)?;
        }
        vec![dir]
    } else {
        args
    };
    tessera::app::run(paths).map_err(|e| anyhow::anyhow!("cannot run the window: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn write_demo(dir: &std::path::Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let summary = demo::write_demo_study(dir, |p: DemoProgress| {
        if p.files_done.is_multiple_of(20) || p.files_done == p.files_total {
            eprint!("\rwriting demo study: {}/{}", p.files_done, p.files_total);
        }
    })
    .with_context(|| format!("cannot write the demo study to {}", dir.display()))?;
    eprintln!(
        "\nwrote {} files in {:.1} s to {}",
        summary.files_written,
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

/// `$XDG_CACHE_HOME/tessera/demo`, else `~/.cache/tessera/demo`.
fn demo_cache_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("tessera").join("demo"))
}
