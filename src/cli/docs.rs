//! Documentation generated from the CLI definition for packages: man pages (clap_mangen)
//! and shell completions (clap_complete). Hidden commands; writes only where told.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Writes `tessera.1` and one page per visible subcommand (`tessera-project-init.1`, …).
pub(super) fn write_manpages(cmd: clap::Command, out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the folder {}", out.display()))?;
    clap_mangen::generate_to(cmd, out)
        .with_context(|| format!("cannot write man pages into {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the completion script for `shell` on stdout, hidden commands left out.
pub(super) fn print_completions(
    cmd: clap::Command,
    shell: clap_complete::Shell,
) -> anyhow::Result<ExitCode> {
    let mut visible = without_hidden(&cmd);
    clap_complete::generate(shell, &mut visible, "tessera", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// A copy of `cmd` without its hidden subcommands and arguments: clap_complete offers
/// hidden subcommands (test and packaging helpers) otherwise. Keeps what completion
/// uses: names, aliases, arguments with their value hints and possible values.
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    let mut copy = clap::Command::new(cmd.get_name().to_owned())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = cmd.get_about() {
        copy = copy.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        copy = copy.version(version.to_owned());
    }
    copy
}
