//! The four output formats of `cfmap lint`.
//!
//! * `human`: miette's graphical report with the source snippet (not a stable surface).
//! * `short`: `file:line:col: severity[rule]: message`, one line each (stable).
//! * `json`: one array of objects (stable; schema in `man/cfmap-lint.1`).
//! * `github`: GitHub Actions workflow commands (tracks GitHub's format).
//!
//! Lines and columns are 1-based; columns count bytes. Every printer writes to the
//! `Write` it is given.

use std::fmt;
use std::io::{self, Write};

use miette::{
    Diagnostic as MietteDiagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan,
    MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};
use serde_json::json;

use super::{Diagnostic, Severity};
use crate::cf::SourceFile;

/// Which printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Short,
    Json,
    Github,
}

/// A file and its findings.
pub struct FileReport<'a> {
    pub file: &'a SourceFile,
    pub diagnostics: &'a [Diagnostic],
}

/// Print the findings of all files.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    reports: &[FileReport],
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Short => {
            for r in reports {
                for d in r.diagnostics {
                    let l = r.file.locate(d.span.start as usize);
                    writeln!(
                        out,
                        "{}:{}:{}: {}[{}]: {}",
                        r.file.name(),
                        l.line,
                        l.column,
                        d.severity.as_str(),
                        d.rule,
                        d.message
                    )?;
                }
            }
            Ok(())
        }
        Format::Github => {
            for r in reports {
                for d in r.diagnostics {
                    let (a, b) = r.file.locate_span(d.span);
                    let level = match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                        Severity::Info => "notice",
                    };
                    writeln!(
                        out,
                        "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}",
                        gh_property(&r.file.name()),
                        a.line,
                        a.column,
                        b.line,
                        b.column,
                        gh_property(d.rule),
                        gh_data(&d.message)
                    )?;
                }
            }
            Ok(())
        }
        Format::Json => {
            let mut all = Vec::new();
            for r in reports {
                for d in r.diagnostics {
                    let (a, b) = r.file.locate_span(d.span);
                    all.push(json!({
                        "file": r.file.name(),
                        "line": a.line,
                        "column": a.column,
                        "end_line": b.line,
                        "end_column": b.column,
                        "offset": a.offset,
                        "length": b.offset.saturating_sub(a.offset),
                        "severity": d.severity.as_str(),
                        "rule": d.rule,
                        "message": d.message,
                        "help": d.help,
                        "labels": d.labels.iter().map(|(s, text)| {
                            let (la, lb) = r.file.locate_span(*s);
                            json!({"line": la.line, "column": la.column, "end_line": lb.line, "end_column": lb.column, "message": text})
                        }).collect::<Vec<_>>(),
                    }));
                }
            }
            serde_json::to_writer_pretty(&mut *out, &all)?;
            writeln!(out)
        }
        Format::Human => {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme)
                .with_links(false)
                .with_width(100);
            for r in reports {
                for d in r.diagnostics {
                    let report = Report { d, file: r.file };
                    let mut s = String::new();
                    handler
                        .render_report(&mut s, &report)
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    write!(out, "{s}")?;
                }
            }
            Ok(())
        }
    }
}

/// Escape a workflow-command property value.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Escape workflow-command data.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A diagnostic as miette sees it.
struct Report<'a> {
    d: &'a Diagnostic,
    file: &'a SourceFile,
}

/// miette reads snippets through the file's line index, so a report costs the same at
/// the end of a large file as at its start.
impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let start = span.offset();
        let end = start + span.len();
        if end > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let (from, to, first_line, count) = self.context(start, end, before, after);
        // Like miette's own sources: the line is the first one returned, the column is
        // the requested span's (the report header shows them for a zero-context read).
        let column = self.locate(start).column - 1;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name(),
            &self.text[from..to],
            SourceSpan::new(from.into(), to - from),
            first_line,
            column,
            count,
        )))
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl MietteDiagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.d.rule))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.file)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            Some("here".to_string()),
            (self.d.span.start as usize, self.d.span.len()),
        );
        let others = self.d.labels.iter().map(|(s, text)| {
            LabeledSpan::new_with_span(Some(text.clone()), (s.start as usize, s.len()))
        });
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}
