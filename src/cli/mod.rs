//! The command line: clap definitions, one file per subcommand. Each subcommand parses
//! its arguments, calls the library, prints, and returns an exit code; only `main`
//! exits.

pub mod compile;
pub mod dump;
pub mod lint;
pub mod makemap;

use std::path::Path;

use clap::{Parser, Subcommand};

/// sysexits codes, as makemap and sendmail use them.
pub mod exit {
    pub const OK: i32 = 0;
    /// Lint findings.
    pub const FINDINGS: i32 = 1;
    pub const USAGE: i32 = 64;
    pub const DATAERR: i32 = 65;
    pub const NOINPUT: i32 = 66;
    pub const SOFTWARE: i32 = 70;
    pub const IOERR: i32 = 74;
}

/// cfmap: the sendmail configuration toolkit.
#[derive(Debug, Parser)]
#[command(name = "cfmap", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Lint(lint::LintArgs),
    Compile(compile::CompileArgs),
    Makemap(makemap::MakemapArgs),
    Dump(dump::DumpArgs),
}

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Lint(a) => lint::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Makemap(a) => makemap::run(a),
        Command::Dump(a) => dump::run(a),
    }
}

/// Parse `args` and run; clap's usage errors exit 64 (EX_USAGE) as makemap's do.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => run(cli),
        Err(e) => {
            let _ = e.print();
            match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            }
        }
    }
}

/// This machine's host name, as sendmail would take `$j` (no DNS: the kernel's name).
pub fn default_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// What sendmail knows before reading the file: the host name given with `--hostname`,
/// else this machine's.
pub fn compile_options(hostname: Option<&str>) -> crate::ir::CompileOptions {
    crate::ir::CompileOptions {
        hostname: hostname
            .map_or_else(default_hostname, str::to_string)
            .into_bytes(),
        ..crate::ir::CompileOptions::default()
    }
}

/// Read a configuration file; the error is printed as `cfmap: FILE: reason`.
pub fn read_source(path: &Path, id: u32) -> Result<crate::cf::SourceFile, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(crate::cf::SourceFile::new(
            crate::cf::FileId(id),
            path,
            &bytes,
        )),
        Err(e) => Err(format!("cfmap: {}: {}", path.display(), io_reason(&e))),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
