//! Lint rules over the syntax and the IR.
//!
//! Every rule lives in `rules/<rule_name>.rs`: its `//!` doc comment (What it does / Why
//! is this bad? / Example / Use instead) is what `cfmap lint --explain <name>` prints, and
//! one `check` function pushes [`Diagnostic`]s. [`RULES`] lists them in documentation
//! order. Rules never fail: a rule that cannot decide says nothing.

pub mod format;
pub mod rules;
pub mod shape;

use std::path::{Path, PathBuf};

use crate::cf::{SourceFile, Span, Syntax};
use crate::ir::Ir;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// sendmail rejects the line, or the rule cannot work.
    Error,
    /// Accepted by sendmail but almost certainly a mistake.
    Warning,
    /// Worth knowing; never fails a build.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule's kebab-case name.
    pub rule: &'static str,
    pub severity: Severity,
    /// The primary place.
    pub span: Span,
    pub message: String,
    /// Other places that explain the finding.
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(rule: &RuleInfo, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            rule: rule.name,
            severity: rule.severity,
            span,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push((span, text.into()));
        self
    }

    pub fn help(mut self, text: impl Into<String>) -> Diagnostic {
        self.help = Some(text.into());
        self
    }
}

/// What a rule sees.
pub struct Context<'a> {
    pub file: &'a SourceFile,
    pub syntax: &'a Syntax,
    pub ir: &'a Ir,
    /// `--check-files`: rules may look at map files and class files on disk.
    pub check_files: bool,
    /// Directory relative map paths are resolved from (sendmail's current directory).
    pub base_dir: PathBuf,
}

impl Context<'_> {
    /// A path from the configuration, resolved as sendmail would from `base_dir`.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || self.base_dir == Path::new(".") {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// A lint rule: name, default severity, docs and check.
pub struct RuleInfo {
    pub name: &'static str,
    pub severity: Severity,
    /// The rule file's `//!` comment.
    pub source: &'static str,
    /// Only with `--check-files`.
    pub needs_files: bool,
    pub check: fn(&Context, &RuleInfo, &mut Vec<Diagnostic>),
}

impl RuleInfo {
    /// The documentation printed by `--explain`.
    pub fn docs(&self) -> String {
        let mut out = String::new();
        for line in self.source.lines() {
            let Some(rest) = line.strip_prefix("//!") else {
                if !out.is_empty() {
                    break;
                }
                continue;
            };
            out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            out.push('\n');
        }
        out
    }

    /// The first line of the docs.
    pub fn summary(&self) -> String {
        self.docs().lines().next().unwrap_or("").to_string()
    }
}

pub use rules::RULES;

/// Rules whose diagnostics repeat, word for word, a message sendmail itself prints while
/// it reads the file (`cfmap test` prints these before the banner, as `sendmail -bt`).
pub const READ_TIME_RULES: &[&str] = &[
    "syntax-error",
    "missing-tab",
    "empty-lhs",
    "rhs-out-of-bounds",
    "unknown-map-class",
    "duplicate-ruleset",
];

pub fn rule(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.name == name)
}

/// Run every rule; diagnostics come sorted by position, then rule name.
pub fn run(ctx: &Context) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in RULES {
        if r.needs_files && !ctx.check_files {
            continue;
        }
        (r.check)(ctx, r, &mut out);
    }
    out.sort_by(|a, b| {
        (a.span.file, a.span.start, a.span.end, a.rule).cmp(&(
            b.span.file,
            b.span.start,
            b.span.end,
            b.rule,
        ))
    });
    out.dedup();
    out
}

/// Parse, compile and lint one file's bytes, resolving relative map paths from the
/// current directory as the CLI does by default.
pub fn lint_source(
    file: &SourceFile,
    opts: &crate::ir::CompileOptions,
    check_files: bool,
) -> Vec<Diagnostic> {
    let syntax = crate::cf::parse(file);
    let ir = crate::ir::compile(&syntax, opts);
    let ctx = Context {
        file,
        syntax: &syntax,
        ir: &ir,
        check_files,
        base_dir: PathBuf::from("."),
    };
    run(&ctx)
}
