//! `cfmap lint`: report mistakes in configuration files.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use crate::lint::{self, Severity, format};

/// Check .cf files for mistakes sendmail would reject or silently misread.
///
/// Exit status: 0 when no errors were found, 1 when errors were (or warnings, with
/// `--deny warnings`), 64 on a usage error, 66 when an input cannot be read.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Configuration files to check.
    #[arg(value_name = "FILE.cf", required_unless_present_any = ["explain", "list_rules"])]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Also fail (exit 1) on findings of this severity.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub deny: Option<Deny>,
    /// Look at map and class files on disk (missing-map-file, stale-map).
    #[arg(long)]
    pub check_files: bool,
    /// Directory relative map paths are resolved from, as sendmail's current directory
    /// (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,
    /// Print a rule's documentation and exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// List the rules with their severities and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// Host name for `$j`, `$w`, `$m` (default: this machine's).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Colour in human output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Reports with source snippets.
    Human,
    /// `file:line:col: severity[rule]: message`.
    Short,
    /// One JSON array.
    Json,
    /// GitHub Actions workflow commands.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Warnings fail too.
    Warnings,
    /// Warnings and info findings fail too.
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn run(a: LintArgs) -> i32 {
    let mut stdout = std::io::stdout().lock();
    if a.list_rules {
        for r in lint::RULES {
            let _ = writeln!(
                stdout,
                "{:<26} {:<8} {}",
                r.name,
                r.severity.as_str(),
                r.summary()
            );
        }
        return exit::OK;
    }
    if let Some(name) = &a.explain {
        return match lint::rule(name) {
            Some(r) => {
                let _ = write!(
                    stdout,
                    "{} ({})\n\n{}",
                    r.name,
                    r.severity.as_str(),
                    r.docs()
                );
                exit::OK
            }
            None => {
                eprintln!("cfmap: no lint rule named {name:?} (see cfmap lint --list-rules)");
                exit::USAGE
            }
        };
    }
    let opts = super::compile_options(a.hostname.as_deref());
    let base_dir = a.base_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut files = Vec::new();
    let mut unreadable = false;
    for (i, path) in a.files.iter().enumerate() {
        match super::read_source(path, i as u32) {
            Ok(f) => files.push(f),
            Err(msg) => {
                eprintln!("{msg}");
                unreadable = true;
            }
        }
    }
    let results: Vec<Vec<lint::Diagnostic>> = files
        .iter()
        .map(|f| {
            let syntax = crate::cf::parse(f);
            let ir = crate::ir::compile(&syntax, &opts);
            let ctx = lint::Context {
                file: f,
                syntax: &syntax,
                ir: &ir,
                check_files: a.check_files,
                base_dir: base_dir.clone(),
            };
            lint::run(&ctx)
        })
        .collect();
    let reports: Vec<format::FileReport> = files
        .iter()
        .zip(&results)
        .map(|(file, d)| format::FileReport {
            file,
            diagnostics: d,
        })
        .collect();
    let fmt = match a.format {
        OutputFormat::Human => format::Format::Human,
        OutputFormat::Short => format::Format::Short,
        OutputFormat::Json => format::Format::Json,
        OutputFormat::Github => format::Format::Github,
    };
    let color = match a.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match format::write(&mut stdout, fmt, &reports, color).and_then(|_| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(_) => return exit::IOERR,
    }
    if unreadable {
        return exit::NOINPUT;
    }
    let worst = results.iter().flatten().map(|d| d.severity).min();
    let fails = matches!(
        (worst, a.deny),
        (Some(Severity::Error), _)
            | (Some(Severity::Warning), Some(_))
            | (Some(Severity::Info), Some(Deny::Info))
    );
    if fails { exit::FINDINGS } else { exit::OK }
}
