//! `cfmap compile`: print the compiled IR of a configuration.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use crate::ir;

/// Compile a .cf file and print its rulesets, rules and maps.
///
/// cfmap compile reads a sendmail(8) configuration file, compiles it as sendmail would
/// when it loads it, and prints the result on standard output.
///
/// The text form (--emit ir) is stable and meant for diff(1): comparing the output for
/// two versions of a configuration shows what changed in the rules sendmail will run, not
/// in the way they are written (macros, continuation lines, blanks), apart from the line
/// numbers it gives for each rule, map and mailer. Macros are expanded as sendmail
/// expands them while reading the file.
#[derive(Debug, Args)]
#[command(after_long_help = COMPILE_AFTER_HELP)]
pub struct CompileArgs {
    /// The configuration file (required).
    #[arg(short = 'C', value_name = "FILE.cf")]
    pub config: PathBuf,
    /// Output form.
    ///
    /// ir (the default) is the stable text described below; json is the same content as
    /// one JSON object.
    #[arg(long, value_enum, default_value_t = Emit::Ir)]
    pub emit: Emit,
    /// Host name for `$j`, `$w`, `$m` (default: this machine's).
    ///
    /// This machine's host name is taken without DNS. Give it to make the output the
    /// same on every machine.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

/// The rest of `cfmap compile --help` and of cfmap-compile(1).
const COMPILE_AFTER_HELP: &str = "\
THE TEXT FORM:
  It prints, in this order:

  - the configuration level and vendor (V line) and the tokenizer settings
    (OperatorChars, BlankSub);
  - the maps, each with its class, the line of its K line, its file and flags;
  - the mailers, each with its line and fields;
  - the rulesets in number order, each with its number, name and number of rules;
    then each rule with its line, what lets the matcher skip it (the fewest and most
    tokens it can match, its literal first and last tokens), its left-hand side and
    its right-hand side as a tree (return, once or repeat; mailer resolution; ruleset
    calls; map lookups).

EXIT STATUS:
  0    The file was compiled and printed. Mistakes in the file do not change the
       status: sendmail skips the lines it rejects and so does the compiler; use
       cfmap-lint(1) to find them.
  64   Usage error: an unknown option or a missing -C.
  66   The file cannot be read.
  74   Output cannot be written.

EXAMPLES:
  What changed in the rules between two versions of a configuration:

    cfmap compile -C old/sendmail.cf --hostname mx.example.com > old.ir
    cfmap compile -C sendmail.cf --hostname mx.example.com > new.ir
    diff -u old.ir new.ir

SEE ALSO:
  cfmap(1), cfmap-lint(1), sendmail(8)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// Stable text.
    Ir,
    /// JSON.
    Json,
}

pub fn run(a: CompileArgs) -> i32 {
    let file = match super::read_source(&a.config, 0) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::NOINPUT;
        }
    };
    let opts = super::compile_options(a.hostname.as_deref());
    let syntax = crate::cf::parse(&file);
    let ir = ir::compile(&syntax, &opts);
    let out = match a.emit {
        Emit::Ir => ir::emit::text(&ir, &file),
        Emit::Json => {
            let mut s =
                serde_json::to_string_pretty(&ir::emit::json(&ir, &file)).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(_) => exit::IOERR,
    }
}
