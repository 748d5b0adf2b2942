//! Logical lines and their translation into sendmail's internal form.
//!
//! sendmail reads a `.cf` in three steps before it looks at a line's type (`fgetfolded`,
//! `translate_dollars` in readcf.c): physical lines are folded (a line starting with a
//! blank continues the previous one, the LF is kept), `#` comments are cut (from V3 on),
//! and `$`-syntax becomes one-byte metacharacters (`$*` → MACROEXPAND `*`, `${name}` →
//! MACROEXPAND + id). [`Text`] is that translated byte string together with the source
//! range each byte came from, so every later token can point back at the file.

use super::source::{FileId, Span};
use crate::meta;

/// Byte range `start..end` of one logical line in the normalized source, without its
/// final LF. Continuation LFs stay inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogicalLine {
    pub start: usize,
    pub end: usize,
}

/// Split normalized source bytes into logical lines.
pub fn logical_lines(text: &[u8]) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\n' {
            match text.get(i + 1) {
                Some(b' ') | Some(b'\t') => {}
                _ => {
                    lines.push(LogicalLine { start, end: i });
                    start = i + 1;
                }
            }
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(LogicalLine {
            start,
            end: text.len(),
        });
    }
    lines
}

/// A macro or class name as written after `$`, `D`, `C`, `F`, `$=` or `$~`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MacroName {
    /// A one-byte name: `$j`, `CX`.
    Short(u8),
    /// A `{long}` name (at most 25 characters of `[A-Za-z0-9_]`).
    Long(Vec<u8>),
}

impl MacroName {
    /// How a person writes it after `$`: `j` or `{client_addr}`.
    pub fn display(&self) -> String {
        match self {
            MacroName::Short(b) => crate::bytes::escape(&[*b]),
            MacroName::Long(n) => format!("{{{}}}", crate::bytes::escape(n)),
        }
    }
}

/// A problem found while reading a macro name (`macid_parse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// Nothing after the line letter, or `{}`.
    Missing,
    /// A byte other than `[A-Za-z0-9_]` inside braces (dropped).
    BadChar(u8),
    /// No closing brace.
    Unbalanced,
    /// More than 25 characters.
    TooLong,
}

pub const MAXMACNAMELEN: usize = 25;

/// Parse a macro name at the start of `s`: returns the name and how many bytes it used.
/// A `{x}` with one character ≥ 0x20 is the same as `x`.
pub fn parse_macro_name(s: &[u8], problems: &mut Vec<NameProblem>) -> Option<(MacroName, usize)> {
    match s.first() {
        None => {
            problems.push(NameProblem::Missing);
            None
        }
        Some(b'{') => {
            let Some(close) = s.iter().position(|&b| b == b'}') else {
                problems.push(NameProblem::Unbalanced);
                return None;
            };
            let inner = &s[1..close];
            if inner.is_empty() {
                problems.push(NameProblem::Missing);
                return None;
            }
            if inner.len() == 1 && inner[0] >= 0x20 {
                return Some((MacroName::Short(inner[0]), close + 1));
            }
            let mut name = Vec::with_capacity(inner.len());
            for &b in inner {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    name.push(b);
                } else {
                    problems.push(NameProblem::BadChar(b));
                }
            }
            if name.len() > MAXMACNAMELEN {
                problems.push(NameProblem::TooLong);
                return None;
            }
            if name.is_empty() {
                problems.push(NameProblem::Missing);
                return None;
            }
            Some((MacroName::Long(name), close + 1))
        }
        Some(&b) => Some((MacroName::Short(b), 1)),
    }
}

/// One element of a translated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A byte of text, or a metacharacter made by the reader.
    Byte(u8),
    /// `$x` / `$=x` / `$~x` / `$&x` / `$?x`: MACROEXPAND, the kept sigil (if any), then the
    /// name (not yet given an id).
    Macro { sigil: Option<u8>, name: MacroName },
}

/// A line in internal form, with the source span of every piece.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    pub pieces: Vec<Piece>,
    pub spans: Vec<Span>,
}

impl Text {
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn push(&mut self, p: Piece, span: Span) {
        self.pieces.push(p);
        self.spans.push(span);
    }

    /// Pieces `from..to` as a new text.
    pub fn slice(&self, from: usize, to: usize) -> Text {
        Text {
            pieces: self.pieces[from..to].to_vec(),
            spans: self.spans[from..to].to_vec(),
        }
    }

    /// The span from the first to the last piece (or an empty span at `fallback`).
    pub fn span_or(&self, fallback: Span) -> Span {
        match (self.spans.first(), self.spans.last()) {
            (Some(a), Some(b)) => a.to(*b),
            _ => fallback,
        }
    }

    pub fn byte_at(&self, i: usize) -> Option<u8> {
        match self.pieces.get(i) {
            Some(Piece::Byte(b)) => Some(*b),
            _ => None,
        }
    }

    /// The plain bytes, with macro references written back as `$x` (for messages and
    /// for lines whose fields sendmail reads without expansion).
    pub fn raw_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pieces.len());
        for p in &self.pieces {
            match p {
                Piece::Byte(b) => out.push(*b),
                Piece::Macro { sigil, name } => {
                    out.push(b'$');
                    if let Some(s) = sigil {
                        out.push(*s);
                    }
                    match name {
                        MacroName::Short(b) => out.push(*b),
                        MacroName::Long(n) => {
                            out.push(b'{');
                            out.extend_from_slice(n);
                            out.push(b'}');
                        }
                    }
                }
            }
        }
        out
    }
}

/// Something the translator noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranslateNote {
    /// A NUL byte: sendmail sees the line end there.
    Nul(Span),
    /// A bad macro name after `$`.
    BadName(NameProblem, Span),
}

/// A logical line after `#` comments are cut and trailing blanks stripped: the bytes
/// the line-type parsers see, with the source offset of each.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    pub file: FileId,
    pub bytes: Vec<u8>,
    pub origin: Vec<u32>,
    /// Source offset just past the line (for spans at its end).
    pub end: u32,
}

impl Flat {
    /// Span of flat bytes `a..b`.
    pub fn span(&self, a: usize, b: usize) -> Span {
        let start = self.origin.get(a).copied().unwrap_or(self.end);
        let end = if b == 0 || b <= a {
            start
        } else {
            self.origin.get(b - 1).map(|o| o + 1).unwrap_or(self.end)
        };
        Span {
            file: self.file,
            start,
            end,
        }
    }

    pub fn whole(&self) -> Span {
        self.span(0, self.bytes.len())
    }
}

/// Cut `#` comments (when `comments` is on, i.e. V3 and later) and trailing whitespace.
/// A `#` is kept after `$` (`$#`) or a backslash (the backslash is removed); otherwise the
/// `#`, the blanks before it and the rest of the physical line go.
pub fn strip(
    src: &[u8],
    line: LogicalLine,
    file: FileId,
    comments: bool,
    notes: &mut Vec<TranslateNote>,
) -> Flat {
    let mut bytes = &src[line.start..line.end];
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        let at = line.start + nul;
        notes.push(TranslateNote::Nul(Span::new(file, at, at + 1)));
        bytes = &bytes[..nul];
    }
    let mut out = Flat {
        file,
        bytes: Vec::with_capacity(bytes.len()),
        origin: Vec::with_capacity(bytes.len()),
        end: (line.start + bytes.len()) as u32,
    };
    let base = line.start as u32;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'$' && i + 1 < bytes.len() {
            out.bytes.extend_from_slice(&bytes[i..i + 2]);
            out.origin.extend([base + i as u32, base + i as u32 + 1]);
            i += 2;
            continue;
        }
        if b == b'#' && comments && i > 0 {
            if out.bytes.last() == Some(&b'\\') {
                out.bytes.pop();
                out.origin.pop();
                out.bytes.push(b'#');
                out.origin.push(base + i as u32);
                i += 1;
                continue;
            }
            while matches!(out.bytes.last(), Some(b' ' | b'\t')) {
                out.bytes.pop();
                out.origin.pop();
            }
            match bytes[i..].iter().position(|&c| c == b'\n') {
                Some(nl) => i += nl,
                None => break,
            }
            continue;
        }
        out.bytes.push(b);
        out.origin.push(base + i as u32);
        i += 1;
    }
    while out.bytes.len() > 1
        && matches!(
            out.bytes.last(),
            Some(b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
        )
    {
        out.bytes.pop();
        out.origin.pop();
    }
    out
}

/// Translate flat bytes `from..to` (`translate_dollars`): `$$` becomes `$`, `$x` a macro
/// piece, and raw bytes 0x80–0x9F and 0xFF are protected by METAQUOTE.
pub fn translate(flat: &Flat, from: usize, to: usize, notes: &mut Vec<TranslateNote>) -> Text {
    let bytes = &flat.bytes[..to];
    let sp = |a: usize, b: usize| flat.span(a, b);
    let n = to.saturating_sub(from);
    let mut out = Text {
        pieces: Vec::with_capacity(n),
        spans: Vec::with_capacity(n),
    };
    let mut i = from;
    while i < to {
        let b = bytes[i];
        if b == b'$' {
            match bytes.get(i + 1) {
                None => {
                    out.push(Piece::Byte(b'$'), sp(i, i + 1));
                    i += 1;
                }
                Some(b'$') => {
                    out.push(Piece::Byte(b'$'), sp(i, i + 2));
                    i += 2;
                }
                Some(&c) => {
                    let (sigil, name_at) = if matches!(c, b'=' | b'~' | b'&' | b'?') {
                        (Some(c), i + 2)
                    } else {
                        (None, i + 1)
                    };
                    let mut problems = Vec::new();
                    match parse_macro_name(&bytes[name_at.min(to)..], &mut problems) {
                        Some((name, used)) => {
                            for p in problems {
                                notes.push(TranslateNote::BadName(p, sp(i, name_at + used)));
                            }
                            out.push(Piece::Macro { sigil, name }, sp(i, name_at + used));
                            i = name_at + used;
                        }
                        None => {
                            let end = if problems.contains(&NameProblem::Unbalanced) {
                                to
                            } else {
                                (name_at + 1).min(to)
                            };
                            for p in problems {
                                notes.push(TranslateNote::BadName(p, sp(i, end)));
                            }
                            i = end;
                        }
                    }
                }
            }
            continue;
        }
        if meta::needs_metaquote(b) {
            out.push(Piece::Byte(meta::METAQUOTE), sp(i, i + 1));
        }
        out.push(Piece::Byte(b), sp(i, i + 1));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(s: &[u8], comments: bool) -> Text {
        let line = LogicalLine {
            start: 0,
            end: s.len(),
        };
        let flat = strip(s, line, FileId(0), comments, &mut Vec::new());
        translate(&flat, 0, flat.bytes.len(), &mut Vec::new())
    }

    #[test]
    fn folding_keeps_lf_and_blanks() {
        let l = logical_lines(b"R$*\n\t$@ x\nS0\n# c\n\tmore\n");
        assert_eq!(l.len(), 3);
        assert_eq!((l[0].start, l[0].end), (0, 9));
    }

    #[test]
    fn comments_and_dollars() {
        let t = tr(b"R$* $@ x   # comment", true);
        assert_eq!(t.raw_bytes(), b"R$* $@ x");
        let t = tr(b"R$* $@ a\\#b", true);
        assert_eq!(t.raw_bytes(), b"R$* $@ a#b");
        let t = tr(b"R$#x # y", true);
        assert_eq!(t.raw_bytes(), b"R$#x");
        let t = tr(b"R$* x # y", false);
        assert_eq!(t.raw_bytes(), b"R$* x # y");
        let t = tr(b"Dx$$y", true);
        assert_eq!(t.pieces[2..], [Piece::Byte(b'$'), Piece::Byte(b'y')]);
    }

    #[test]
    fn long_names() {
        let t = tr(b"R$&{client_addr}", true);
        assert_eq!(
            t.pieces[1],
            Piece::Macro {
                sigil: Some(b'&'),
                name: MacroName::Long(b"client_addr".to_vec())
            }
        );
        let t = tr(b"R${j}", true);
        assert_eq!(
            t.pieces[1],
            Piece::Macro {
                sigil: None,
                name: MacroName::Short(b'j')
            }
        );
    }

    #[test]
    fn trailing_blanks_stripped() {
        let t = tr(b"R$*\t \t", true);
        assert_eq!(t.raw_bytes(), b"R$*");
    }
}
