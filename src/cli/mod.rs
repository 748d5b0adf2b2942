//! The command line: clap definitions, one file per subcommand. Each subcommand parses
//! its arguments, calls the library, prints, and returns an exit code; only `main`
//! exits.

pub mod cache;
pub mod check;
pub mod compile;
pub mod convert;
pub mod dump;
pub mod generate;
pub mod lint;
pub mod makemap;
pub mod migrate;
pub mod progress;
pub mod query;
pub mod serve;
pub mod test;
pub mod verify;

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
    /// The map cannot be opened or created (makemap's EX_CANTCREAT).
    pub const CANTCREAT: i32 = 73;
    pub const IOERR: i32 = 74;
}

/// cfmap: the sendmail configuration toolkit.
#[derive(Debug, Parser)]
#[command(
    name = "cfmap",
    version,
    about,
    long_about = CFMAP_LONG_ABOUT,
    after_long_help = CFMAP_AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const CFMAP_LONG_ABOUT: &str = "\
cfmap reads a sendmail(8) configuration file (sendmail.cf) byte for byte the way \
sendmail 8.17 reads it: CR LF line ends, continuation lines, the OperatorChars \
tokenizer, macros, classes, K map declarations, mailers and rulesets. It compiles the \
file into an intermediate form and can check it for mistakes that sendmail would reject \
while loading the file, or would accept and then silently misread. It runs rulesets on \
addresses exactly as sendmail -bt does, and checks files of expected results for CI. It \
also builds, dumps and queries sendmail's map files (Berkeley DB btree and hash, sdbm, \
cdb) as makemap(8) does.";

/// The rest of `cfmap --help` and of cfmap(1).
const CFMAP_AFTER_HELP: &str = "\
EXIT STATUS:
  The exit statuses are those of sysexits.h, as makemap(8) and sendmail use them:

  0    Success.
  1    cfmap lint found errors (or warnings, with --deny warnings); cfmap query did
       not find a key.
  64   Usage error: an unknown command or option, a missing argument, an unknown rule
       name.
  65   A map is damaged, or makemap input lines were rejected.
  66   An input file or map cannot be read.
  73   A map cannot be created, or its type is not supported.
  74   Output cannot be written.

ENVIRONMENT:
  NO_COLOR   When set, the human output of cfmap lint is not coloured unless
             --color always is given.

FILES:
  A relative map path on a K line (Kjunkmail btree maps/junkmail) is resolved from the current directory, as sendmail resolves it from its own.

EXAMPLES:
  Check a configuration, then look at its compiled rulesets:

    cfmap lint /etc/mail/sendmail.cf
    cfmap compile -C /etc/mail/sendmail.cf | less

SEE ALSO:
  cfmap-lint(1), cfmap-compile(1), cfmap-test(1), cfmap-check(1), cfmap-makemap(1),
  cfmap-dump(1), cfmap-query(1), cfmap-verify(1), cfmap-cache(1), cfmap-serve(1),
  sendmail(8), makemap(8)";

#[derive(Debug, Subcommand)]
pub enum Command {
    Lint(lint::LintArgs),
    Compile(compile::CompileArgs),
    Makemap(makemap::MakemapArgs),
    Dump(dump::DumpArgs),
    Query(query::QueryArgs),
    Test(test::TestArgs),
    Check(check::CheckArgs),
    Verify(verify::VerifyArgs),
    Cache(cache::CacheArgs),
    Serve(serve::ServeArgs),
    Convert(convert::ConvertArgs),
    Migrate(migrate::MigrateArgs),
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Lint(a) => lint::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Makemap(a) => makemap::run(a),
        Command::Dump(a) => dump::run(a),
        Command::Query(a) => query::run(a),
        Command::Test(a) => test::run(a),
        Command::Check(a) => check::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Cache(a) => cache::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Migrate(a) => migrate::run(a),
        Command::Generate(a) => generate::run(a),
    }
}

/// Parse `args` and run; clap's usage errors exit 64 (EX_USAGE) as makemap's do.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // Started as `makemap` (a symlink): makemap's own command line and messages.
    if args.first().is_some_and(|a| makemap::is_makemap_argv0(a)) {
        return makemap::multicall(args);
    }
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

pub(crate) use crate::maps::io_reason;
