//! Reading `.cf` files: bytes → logical lines → spanned syntax.
//!
//! This layer knows sendmail's line grammar (`readcf.c`): folding, `#` comments, `$`
//! translation and the fields of every line type. It gives no meaning to them; see
//! [`crate::ir`] for macro expansion, ruleset numbering and rule compilation.
//!
//! Reading never fails and never panics: a malformed line becomes a [`ParseProblem`] and
//! the reader goes on, as sendmail does.

mod parser;
pub mod source;
pub mod syntax;
pub mod text;

pub use source::{FileId, Location, SourceFile, Span};
pub use syntax::*;
pub use text::{Flat, MacroName, Piece, Text};

use text::TranslateNote;

/// Parse one file.
pub fn parse(file: &SourceFile) -> Syntax {
    let src = &file.text;
    let mut out = Syntax::default();
    out.lines.reserve(src.len() / 24);
    let mut level: u32 = 0;
    for ll in text::logical_lines(src) {
        let span = Span::new(file.id, ll.start, ll.end);
        let mut notes = Vec::new();
        if src[ll.start..ll.end].first() == Some(&b'#') {
            out.lines.push(Line {
                span,
                flat: Flat {
                    file: file.id,
                    end: ll.end as u32,
                    ..Flat::default()
                },
                kind: LineKind::Comment,
            });
            continue;
        }
        let flat = text::strip(src, ll, file.id, level >= 3, &mut notes);
        let mut p = parser::LineParser::new(&flat);
        let kind = p.line();
        notes.append(&mut p.notes);
        let problems = std::mem::take(&mut p.problems);
        if let LineKind::Version(v) = &kind
            && let Some(l) = v.level
        {
            level = l;
        }
        for note in notes {
            out.problems.push(match note {
                TranslateNote::Nul(span) => ParseProblem {
                    kind: ProblemKind::NulByte,
                    span,
                    message: "NUL byte in line: sendmail ignores the rest of the line".into(),
                },
                TranslateNote::BadName(p, span) => ParseProblem {
                    kind: ProblemKind::Syntax,
                    span,
                    message: match p {
                        text::NameProblem::Missing => "Name required for macro/class".into(),
                        text::NameProblem::BadChar(c) => format!(
                            "Invalid macro/class character {}",
                            crate::bytes::escape(&[c])
                        ),
                        text::NameProblem::Unbalanced => "Unbalanced { in macro name".into(),
                        text::NameProblem::TooLong => format!(
                            "Macro/class name too long ({} chars max)",
                            text::MAXMACNAMELEN
                        ),
                    },
                },
            });
        }
        out.problems.extend(problems);
        out.lines.push(Line { span, flat, kind });
    }
    out.problems.sort_by_key(|p| (p.span.start, p.span.end));
    out
}
