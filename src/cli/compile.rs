//! `cfmap compile`: print the compiled IR of a configuration.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use crate::ir;

/// Compile a .cf file and print its rulesets, rules and maps.
///
/// The text form is stable and meant for diffing two configurations: rulesets in number
/// order, each rule with its line, what lets the matcher skip it (fewest and most tokens,
/// the literal first and last tokens), its LHS operations and its RHS tree.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The configuration file.
    #[arg(short = 'C', value_name = "FILE.cf")]
    pub config: PathBuf,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Emit::Ir)]
    pub emit: Emit,
    /// Host name for `$j`, `$w`, `$m` (default: this machine's).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

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
