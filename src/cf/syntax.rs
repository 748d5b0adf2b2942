//! The spanned syntax of a `.cf` file: one [`Line`] per logical line, split into the
//! fields sendmail's `readcf` distinguishes. No meaning is given here (no macro values, no
//! ruleset numbers): that is the IR's job, which reads these lines in order as sendmail does.

use super::source::Span;
use super::text::{Flat, MacroName, Text};

/// A whole parsed file.
#[derive(Debug, Clone, Default)]
pub struct Syntax {
    pub lines: Vec<Line>,
    /// Problems the reader found, in file order.
    pub problems: Vec<ParseProblem>,
}

/// One logical line.
#[derive(Debug, Clone)]
pub struct Line {
    /// The whole logical line (continuations included).
    pub span: Span,
    /// The bytes after comment removal, with their origins.
    pub flat: Flat,
    pub kind: LineKind,
}

#[derive(Debug, Clone)]
pub enum LineKind {
    /// An empty line.
    Empty,
    /// `#…`, the whole logical line.
    Comment,
    /// `V10/Berkeley`.
    Version(VersionLine),
    /// `Dj$w.Foo.COM`.
    Define(DefineLine),
    /// `Cw localhost foo` (also `T` lines, which add to class `t`).
    Class(ClassLine),
    /// `Fw/etc/mail/local-host-names`.
    FileClass(FileClassLine),
    /// `Kaccess hash -T<TMPF> /etc/mail/access`.
    Map(MapLine),
    /// `Scheck_mail`, `Scanonify=3`, `S0`.
    Ruleset(RulesetLine),
    /// `R$* < @ $+ >	$@ $1	comment`.
    Rule(RuleLine),
    /// `O BlankSub=.` or `OB.`.
    Option(OptionLine),
    /// `Mlocal, P=/bin/true, F=lsm, A=true`.
    Mailer(FieldsLine),
    /// `H?F?From: $q`.
    Header(HeaderLine),
    /// `Pfirst-class=0`.
    Precedence(PrecedenceLine),
    /// `Qname, Path=…`.
    Queue(FieldsLine),
    /// `ELANG=C`.
    Env(EnvLine),
    /// `Xfilter, S=…`.
    Milter(FieldsLine),
    /// `L` and `G` lines (XLA, Sun): unknown to this sendmail build.
    Unsupported(u8),
    /// Any other first byte.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct VersionLine {
    pub level: Option<u32>,
    pub level_span: Span,
    pub vendor: Option<(Vec<u8>, Span)>,
}

#[derive(Debug, Clone)]
pub struct DefineLine {
    pub name: MacroName,
    pub name_span: Span,
    /// The value as written (translated; not expanded, not munched).
    pub value: Text,
}

#[derive(Debug, Clone)]
pub struct ClassLine {
    pub name: MacroName,
    pub name_span: Span,
    /// The words, still to be expanded and split at whitespace.
    pub words: Text,
    /// True for a `T` line (no expansion).
    pub trusted: bool,
}

#[derive(Debug, Clone)]
pub struct FileClassLine {
    pub name: MacroName,
    pub name_span: Span,
    /// `-o`: no error if the source is unusable.
    pub optional: bool,
    pub source: ClassSource,
    pub source_span: Span,
    /// The scanf format (default `%s`).
    pub format: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassSource {
    File(Vec<u8>),
    Program(Vec<u8>),
    /// `key@class:spec`.
    Map {
        key: Vec<u8>,
        class: Vec<u8>,
        spec: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
pub struct MapLine {
    pub name: Vec<u8>,
    pub name_span: Span,
    pub class: Vec<u8>,
    pub class_span: Span,
    /// Flags, file and arguments, still to be expanded.
    pub args: Text,
    pub args_span: Span,
}

#[derive(Debug, Clone)]
pub struct RulesetLine {
    /// Everything after `S` (still to be expanded).
    pub arg: Text,
    pub arg_span: Span,
}

#[derive(Debug, Clone)]
pub struct RuleLine {
    /// The LHS as a range of the line's flat bytes (see [`Line::text`]).
    pub lhs: std::ops::Range<usize>,
    pub lhs_span: Span,
    /// The RHS range; `None` when the line has no TAB (sendmail: "tab expected").
    pub rhs: Option<std::ops::Range<usize>>,
    pub rhs_span: Span,
    pub comment: Option<Span>,
}

impl Line {
    /// A range of the line's flat bytes, `$`-translated. R lines keep ranges rather than
    /// translated text so a large file stays small in memory.
    pub fn text(&self, range: std::ops::Range<usize>) -> Text {
        super::text::translate(&self.flat, range.start, range.end, &mut Vec::new())
    }
}

#[derive(Debug, Clone)]
pub enum OptionName {
    Long(Vec<u8>),
    Char(u8),
}

#[derive(Debug, Clone)]
pub struct OptionLine {
    pub name: OptionName,
    pub name_span: Span,
    pub value: Vec<u8>,
    pub value_span: Span,
}

/// A `letter=value` field of an M, Q or X line.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field name as written (`F`, `Path`, …).
    pub key: Vec<u8>,
    pub key_span: Span,
    pub value: Vec<u8>,
    pub value_span: Span,
}

#[derive(Debug, Clone)]
pub struct FieldsLine {
    pub name: Vec<u8>,
    pub name_span: Span,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct HeaderLine {
    pub flags: Option<Vec<u8>>,
    pub field: Vec<u8>,
    pub field_span: Span,
    pub value: Text,
}

#[derive(Debug, Clone)]
pub struct PrecedenceLine {
    pub name: Vec<u8>,
    pub value: i64,
}

#[derive(Debug, Clone)]
pub struct EnvLine {
    pub name: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// What kind of problem a reader message is about (lint rules pick theirs by kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// An R line without a TAB between LHS and RHS.
    MissingTab,
    /// A NUL byte in a line.
    NulByte,
    /// A malformed line sendmail rejects (bad name, bad number, unknown line…).
    Syntax,
    /// A line type this sendmail build does not know (`L`, `G`).
    Unsupported,
}

/// A problem found while reading, with sendmail's wording where it has one.
#[derive(Debug, Clone)]
pub struct ParseProblem {
    pub kind: ProblemKind,
    pub span: Span,
    pub message: String,
}
