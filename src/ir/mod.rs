//! The compiled configuration: what sendmail holds in memory after `readcf`.
//!
//! [`compile`] reads the lines of a parsed file in order, as sendmail does: it keeps the
//! macro table (so `$x` in a rule takes the value defined *above* it), fixes the
//! tokenizer's operator characters at the first R line, numbers named rulesets from 199
//! downwards in order of first mention, and turns every R line into a [`Rule`] of a
//! [`Pattern`] and a [`Template`]. Problems sendmail would report while reading are
//! collected, not fatal.

pub mod emit;
pub mod macros;
pub mod maps;
pub mod options;
pub mod rule;

use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::cf::{self, ClassSource, LineKind, MacroName, Piece, Span, Syntax, Text};
use crate::meta;
use crate::prescan::{self, Tables};
pub use macros::{MacroId, MacroTable};
pub use maps::{MapClass, MapDecl, MapFlags};
pub use rule::{Lookup, Node, PatOp, Pattern, Prefix, Template, Tok};

/// Highest ruleset number + 1 (MAXRWSETS).
pub const MAXRWSETS: u16 = 200;
/// Wildcards per LHS (MAXMATCH).
pub const MAXMATCH: usize = 9;

/// Values sendmail has before it reads the file.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// The canonical host name (`$j`, `$w`; `$m` is its domain part).
    pub hostname: Vec<u8>,
    /// Extra macro definitions, as `-D` would give them.
    pub defines: Vec<(MacroName, Vec<u8>)>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            hostname: b"localhost.localdomain".to_vec(),
            defines: Vec::new(),
        }
    }
}

/// A ruleset: its number, its display name, and its rules in file order.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    pub number: u16,
    pub name: Option<Vec<u8>>,
    pub rules: Vec<Rule>,
    /// Every S line that selected it.
    pub defined_at: Vec<Span>,
    /// M-line `S=`/`R=` fields and H lines that named it.
    pub mentioned_at: Vec<Span>,
}

impl Ruleset {
    /// The name, or the number for unnamed rulesets.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => crate::bytes::escape(n),
            None => self.number.to_string(),
        }
    }
}

/// One R line.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The whole R line.
    pub span: Span,
    pub lhs_span: Span,
    pub rhs_span: Span,
    pub lhs: Pattern,
    pub rhs: Template,
}

/// A mailer (M line).
#[derive(Debug, Clone)]
pub struct Mailer {
    pub name: Vec<u8>,
    pub span: Span,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// An F line: class members read from a file, a program or a map.
#[derive(Debug, Clone)]
pub struct FileClass {
    pub class: MacroId,
    pub source: ClassSource,
    pub optional: bool,
    pub format: Option<Vec<u8>>,
    pub span: Span,
    pub source_span: Span,
}

/// Class members (compared case-insensitively; stored lower-cased → as written).
#[derive(Debug, Clone)]
pub struct Classes {
    pub members: Vec<IndexMap<Vec<u8>, Vec<u8>>>,
    /// C, T and F lines that added to each class.
    pub defined_at: Vec<Vec<Span>>,
}

impl Default for Classes {
    fn default() -> Self {
        Classes {
            members: vec![IndexMap::new(); 256],
            defined_at: vec![Vec::new(); 256],
        }
    }
}

impl Classes {
    pub fn add(&mut self, id: MacroId, word: &[u8]) {
        self.members[id as usize]
            .entry(word.to_ascii_lowercase())
            .or_insert_with(|| word.to_vec());
    }

    pub fn contains(&self, id: MacroId, word: &[u8]) -> bool {
        self.members[id as usize].contains_key(&word.to_ascii_lowercase())
    }
}

/// Classes sendmail fills itself (`$=w` host names, `$=k`, `$=m`, `$=t`, MIME classes).
pub fn is_predefined_class(name: &MacroName) -> bool {
    matches!(
        name,
        MacroName::Short(b'w' | b'k' | b'm' | b't' | b'n' | b's' | b'e' | b'b')
    )
}

/// How a macro is referred to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `$x`: replaced while reading.
    ReadTime,
    /// `$?x`: tested while reading.
    Conditional,
    /// `$&x`: replaced when the rule runs.
    Deferred,
}

/// A macro reference in an R, S, K or C line.
#[derive(Debug, Clone)]
pub struct MacroRef {
    pub name: MacroName,
    pub id: MacroId,
    pub kind: RefKind,
    pub span: Span,
    /// Whether the macro had a value at that point of the file.
    pub defined_then: bool,
}

/// A `$=X` or `$~X` in a rule.
#[derive(Debug, Clone)]
pub struct ClassRef {
    pub name: MacroName,
    pub id: MacroId,
    pub span: Span,
}

/// An O line.
#[derive(Debug, Clone)]
pub struct OptionSetting {
    /// The canonical long name, when known.
    pub name: Option<&'static str>,
    pub written: Vec<u8>,
    pub value: Vec<u8>,
    pub span: Span,
}

/// What a compile problem is about; lint rules pick theirs by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// An R line before any valid S line.
    NoRuleset,
    /// A bad S line (number out of range, bad name, changed value…).
    BadRuleset,
    /// `R line: null LHS`.
    NullLhs,
    /// `R line: null RHS`.
    NullRhs,
    /// More than 9 wildcards.
    TooManyWildcards,
    /// A metasymbol where it means nothing (`$1` on the LHS, `$*` on the RHS…).
    MisplacedMeta,
    /// `$x` with a punctuation name that is no metasymbol.
    UnknownMeta,
    /// `$n` beyond the LHS wildcards.
    OutOfBounds,
    /// `$(` or `$[` inside a lookup.
    NestedLookup,
    /// A lookup never closed.
    UnclosedLookup,
    /// A `$)` or `$]` with nothing open.
    StrayLookupClose,
    /// More than 9 lookup arguments.
    TooManyMapArgs,
    /// A K line with a class sendmail does not have.
    UnknownMapClass,
    /// A K line with a class Debian's sendmail is built without.
    UnavailableMapClass,
    /// Bad K-line flags or no file.
    MapArgs,
    /// A tokenizer limit (token too long, too many tokens).
    Tokenize,
    /// `WARNING: Ruleset X has multiple definitions`.
    MultipleDefinitions,
    /// `Option X used as abbreviation for Y`.
    OptionAbbreviation,
    /// `Warning: OperatorChars is being redefined.`
    OperatorCharsRedefined,
    /// Other read-time messages (options, mailers, macro names…).
    Other,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: ProblemKind,
    pub span: Span,
    pub message: String,
    /// Other places that explain the problem.
    pub related: Vec<(Span, String)>,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct Ir {
    pub level: u32,
    pub vendor: Option<Vec<u8>>,
    /// Rulesets by number.
    pub rulesets: BTreeMap<u16, Ruleset>,
    /// Ruleset names → numbers (case-sensitive).
    pub ruleset_names: IndexMap<Vec<u8>, u16>,
    /// Maps by lower-cased name.
    pub maps: IndexMap<Vec<u8>, MapDecl>,
    /// K lines whose class sendmail does not know, by lower-cased name.
    pub unknown_class_maps: IndexMap<Vec<u8>, Span>,
    /// Mailers by lower-cased name.
    pub mailers: IndexMap<Vec<u8>, Mailer>,
    pub macros: MacroTable,
    pub classes: Classes,
    pub file_classes: Vec<FileClass>,
    pub options: Vec<OptionSetting>,
    pub macro_refs: Vec<MacroRef>,
    pub class_refs: Vec<ClassRef>,
    /// The operator characters in force (fixed at the first R line).
    pub operators: Vec<u8>,
    pub tables: Tables,
    /// The BlankSub option at the end of the file.
    pub blank_sub: u8,
    pub problems: Vec<Problem>,
}

impl Ir {
    pub fn ruleset_by_name(&self, name: &[u8]) -> Option<&Ruleset> {
        let n = self.ruleset_names.get(name)?;
        self.rulesets.get(n)
    }

    /// Resolve a `$>` target as sendmail does at run time: a number, or a known name.
    pub fn resolve_ruleset(&self, target: &[u8]) -> Option<u16> {
        if target.first().is_some_and(|b| b.is_ascii_digit()) {
            return u16::try_from(leading_number(target).1).ok();
        }
        self.ruleset_names.get(target).copied()
    }

    /// The value of the last O line that set option `name` (by its full name).
    pub fn option(&self, name: &str) -> Option<&[u8]> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == Some(name))
            .map(|o| o.value.as_slice())
    }

    pub fn map(&self, name: &[u8]) -> Option<&MapDecl> {
        self.maps.get(&name.to_ascii_lowercase())
    }

    /// The known mailer names: M lines plus sendmail's built-in ones.
    pub fn has_mailer(&self, name: &[u8]) -> bool {
        let lower = name.to_ascii_lowercase();
        matches!(
            lower.as_slice(),
            b"error" | b"discard" | b"prog" | b"*file*" | b"*include*"
        ) || self.mailers.contains_key(&lower)
    }
}

/// Compile a parsed file.
pub fn compile(syntax: &Syntax, opts: &CompileOptions) -> Ir {
    let mut r = Reader::new(opts);
    for line in &syntax.lines {
        r.line(line);
    }
    r.finish()
}

struct Reader {
    ir: Ir,
    current: Option<u16>,
    next_named: u16,
    /// Tokenizer frozen (first R line seen).
    frozen: bool,
    operator_option: Option<Vec<u8>>,
    /// Names of queue groups (Q lines) seen so far.
    queue_groups: Vec<Vec<u8>>,
}

fn domain_of(host: &[u8]) -> Vec<u8> {
    match host.iter().position(|&b| b == b'.') {
        Some(p) => host[p + 1..].to_vec(),
        None => Vec::new(),
    }
}

impl Reader {
    fn new(opts: &CompileOptions) -> Reader {
        let mut macros = MacroTable::new();
        let host = opts.hostname.clone();
        let short = host.split(|&b| b == b'.').next().unwrap_or(&[]).to_vec();
        macros.define(b'j', host.clone(), None);
        macros.define(b'w', host.clone(), None);
        macros.define(b'm', domain_of(&host), None);
        macros.define(b'k', short, None);
        macros.define(b'v', b"8.17.1.9".to_vec(), None);
        macros.define(b'n', b"MAILER-DAEMON".to_vec(), None);
        let mut defines = Vec::new();
        for (name, value) in &opts.defines {
            if let Ok(id) = macros.id(name) {
                defines.push((id, value.clone()));
            }
        }
        for (id, v) in defines {
            macros.define(id, v, None);
        }
        let mut classes = Classes::default();
        classes.add(b'w', &host);
        classes.add(b'k', host.split(|&b| b == b'.').next().unwrap_or(&[]));
        Reader {
            ir: Ir {
                level: 0,
                vendor: None,
                rulesets: BTreeMap::new(),
                ruleset_names: IndexMap::new(),
                maps: IndexMap::new(),
                unknown_class_maps: IndexMap::new(),
                mailers: IndexMap::new(),
                macros,
                classes,
                file_classes: Vec::new(),
                options: Vec::new(),
                macro_refs: Vec::new(),
                class_refs: Vec::new(),
                operators: prescan::DEFAULT_OPERATORS.to_vec(),
                tables: Tables::new(prescan::DEFAULT_OPERATORS),
                blank_sub: b' ',
                problems: Vec::new(),
            },
            current: None,
            next_named: MAXRWSETS - 1,
            frozen: false,
            operator_option: None,
            queue_groups: Vec::new(),
        }
    }

    fn problem(&mut self, kind: ProblemKind, span: Span, message: impl Into<String>) {
        self.ir.problems.push(Problem {
            kind,
            span,
            message: message.into(),
            related: Vec::new(),
        });
    }

    fn finish(mut self) -> Ir {
        if !self.frozen {
            self.freeze_tables();
        }
        // sendmail declares `host host -a. -D` itself when the file did not (inithostmaps).
        if !self.ir.maps.contains_key(&b"host"[..]) {
            let mut flags = MapFlags::default();
            if self.ir.level >= 2 {
                flags.append = Some(b".".to_vec());
                flags.defer_skip = true;
            }
            self.ir.maps.insert(
                b"host".to_vec(),
                MapDecl {
                    name: b"host".to_vec(),
                    class: MapClass::Host,
                    flags,
                    file: None,
                    args: Vec::new(),
                    raw_args: vec![if self.ir.level >= 2 {
                        b"-a. -D".to_vec()
                    } else {
                        Vec::new()
                    }],
                    space_sub: self.ir.blank_sub,
                    spans: Vec::new(),
                    name_span: Span::default(),
                    file_span: None,
                },
            );
        }
        let host = self.ir.macros.value(b'j').map(<[u8]>::to_vec);
        if let Some(h) = host {
            let m = domain_of(&h);
            if !m.is_empty() {
                self.ir.classes.add(b'm', &m);
            }
        }
        self.ir
            .problems
            .sort_by_key(|p| (p.span.file, p.span.start, p.span.end));
        self.ir
    }

    /// Record the macro and class references of a text.
    fn record_refs(&mut self, text: &Text) {
        for (p, &span) in text.pieces.iter().zip(&text.spans) {
            let Piece::Macro { sigil, name } = p else {
                continue;
            };
            let Ok(id) = self.ir.macros.id(name) else {
                self.problem(
                    ProblemKind::Other,
                    span,
                    format!("Macro/class {}: too many long names", name.display()),
                );
                continue;
            };
            match sigil {
                Some(b'=') | Some(b'~') => self.ir.class_refs.push(ClassRef {
                    name: name.clone(),
                    id,
                    span,
                }),
                Some(s) => {
                    let kind = if *s == b'&' {
                        RefKind::Deferred
                    } else {
                        RefKind::Conditional
                    };
                    let defined_then = self.ir.macros.is_defined(id);
                    self.ir.macro_refs.push(MacroRef {
                        name: name.clone(),
                        id,
                        kind,
                        span,
                        defined_then,
                    });
                }
                None => {
                    let is_meta = matches!(name, MacroName::Short(b) if meta::META_MACROS.iter().any(|m| m.0 == *b) || b.is_ascii_digit());
                    if !is_meta {
                        let defined_then = self.ir.macros.is_defined(id);
                        if let MacroName::Short(b) = name
                            && !b.is_ascii_alphanumeric()
                            && !defined_then
                        {
                            self.problem(
                                ProblemKind::UnknownMeta,
                                span,
                                format!(
                                    "unknown metasymbol ${}: sendmail reads it as a reference to an undefined macro and replaces it with nothing",
                                    crate::bytes::escape(&[*b])
                                ),
                            );
                        }
                        self.ir.macro_refs.push(MacroRef {
                            name: name.clone(),
                            id,
                            kind: RefKind::ReadTime,
                            span,
                            defined_then,
                        });
                    }
                }
            }
        }
    }

    fn expand_text(&mut self, text: &Text) -> Vec<macros::SpannedByte> {
        self.record_refs(text);
        self.ir.macros.expand_text(text)
    }

    fn freeze_tables(&mut self) {
        self.frozen = true;
        let ops = match &self.operator_option {
            Some(v) => Some(v.clone()),
            None if self.ir.level < 7 => self.ir.macros.value(b'o').map(<[u8]>::to_vec),
            None => None,
        };
        let ops = match ops {
            Some(v) => {
                let sb: Vec<_> = v.iter().map(|&b| (b, Span::default())).collect();
                self.ir
                    .macros
                    .expand(&sb)
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            }
            None => prescan::DEFAULT_OPERATORS.to_vec(),
        };
        self.ir.tables = Tables::new(&ops);
        self.ir.operators = ops;
    }

    fn line(&mut self, line: &cf::Line) {
        match &line.kind {
            LineKind::Version(v) => {
                if let Some(l) = v.level {
                    self.ir.level = l;
                    if l >= 5
                        && let Some(w) = self.ir.macros.value(b'w')
                    {
                        let short = w.split(|&b| b == b'.').next().unwrap_or(&[]).to_vec();
                        self.ir.macros.define(b'w', short, None);
                    }
                }
                if let Some((vend, _)) = &v.vendor {
                    self.ir.vendor = Some(vend.clone());
                }
            }
            LineKind::Define(d) => {
                let Ok(id) = self.ir.macros.id(&d.name) else {
                    self.problem(
                        ProblemKind::Other,
                        d.name_span,
                        format!("Macro/class {}: too many long names", d.name.display()),
                    );
                    return;
                };
                let int = self.ir.macros.internal(&d.value);
                let value: Vec<u8> = macros::munch(&int).into_iter().map(|x| x.0).collect();
                self.ir.macros.define(id, value, Some(line.span));
            }
            LineKind::Class(c) => self.class_line(line, c),
            LineKind::FileClass(f) => {
                let Ok(id) = self.ir.macros.id(&f.name) else {
                    return;
                };
                self.ir.classes.defined_at[id as usize].push(line.span);
                self.ir.file_classes.push(FileClass {
                    class: id,
                    source: f.source.clone(),
                    optional: f.optional,
                    format: f.format.clone(),
                    span: line.span,
                    source_span: f.source_span,
                });
            }
            LineKind::Map(m) => self.map_line(line, m),
            LineKind::Ruleset(s) => self.ruleset_line(line, s),
            LineKind::Rule(r) => self.rule_line(line, r),
            LineKind::Option(o) => self.option_line(line, o),
            LineKind::Mailer(m) => self.mailer_line(line, m),
            LineKind::Header(h) => self.header_line(line, h),
            LineKind::Queue(q) => self.queue_groups.push(q.name.clone()),
            LineKind::Milter(x) if !x.fields.iter().any(|f| f.key.first() == Some(&b'S')) => {
                self.problem(
                    ProblemKind::Other,
                    line.span,
                    format!(
                        "X{}: empty or missing socket information",
                        crate::bytes::quote(&x.name)
                    ),
                );
            }
            _ => {}
        }
    }

    fn class_line(&mut self, line: &cf::Line, c: &cf::ClassLine) {
        let Ok(id) = self.ir.macros.id(&c.name) else {
            return;
        };
        self.ir.classes.defined_at[id as usize].push(line.span);
        let bytes: Vec<u8> = if c.trusted {
            c.words.raw_bytes()
        } else {
            self.expand_text(&c.words)
                .into_iter()
                .map(|x| x.0)
                .collect()
        };
        for word in bytes.split(|b| b.is_ascii_whitespace() || *b == 0x0B) {
            if word.is_empty() {
                continue;
            }
            if word[0] == meta::MATCHCLASS && word.len() >= 2 {
                let from = word[1];
                let members: Vec<Vec<u8>> = self.ir.classes.members[from as usize]
                    .values()
                    .cloned()
                    .collect();
                for m in members {
                    self.ir.classes.add(id, &m);
                }
                continue;
            }
            let w: Vec<u8> = strip_metaquote(word);
            self.ir.classes.add(id, &w);
        }
    }

    fn map_line(&mut self, line: &cf::Line, m: &cf::MapLine) {
        let args: Vec<u8> = strip_metaquote(
            &self
                .expand_text(&m.args)
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>(),
        );
        let lower = m.name.to_ascii_lowercase();
        let Some(class) = MapClass::from_name(&m.class) else {
            self.problem(
                ProblemKind::UnknownMapClass,
                m.class_span,
                format!(
                    "readcf: map {}: class {} not available",
                    crate::bytes::quote(&m.name),
                    crate::bytes::quote(&m.class)
                ),
            );
            self.ir.unknown_class_maps.insert(lower, m.name_span);
            return;
        };
        if !class.in_debian_sendmail() {
            self.problem(
                ProblemKind::UnavailableMapClass,
                m.class_span,
                format!(
                    "readcf: map {}: class {} not available (Debian's sendmail 8.17 is built without it)",
                    crate::bytes::quote(&m.name),
                    class.name()
                ),
            );
        }
        let (flags, file, rest, file_pos, problems) = maps::parse_args(class, &args);
        for p in problems {
            let msg = match p {
                maps::MapArgProblem::IllegalOption(c) => format!(
                    "Illegal option {} map {}",
                    crate::bytes::escape(&[c]),
                    crate::bytes::quote(&m.name)
                ),
                maps::MapArgProblem::NoFileName => format!(
                    "No file name for {} map {}",
                    class.name(),
                    crate::bytes::quote(&m.name)
                ),
            };
            self.problem(ProblemKind::MapArgs, m.args_span.to(m.class_span), msg);
        }
        // A file word's span: find it in the written arguments when it was not a macro.
        let file_span = file_pos.and_then(|_| {
            let f = file.as_ref()?;
            let written = m.args.raw_bytes();
            let at = find(&written, f)?;
            let start = m.args.spans.get(at)?;
            let end = m.args.spans.get(at + f.len() - 1)?;
            Some(start.to(*end))
        });
        let space_sub = flags.space_sub.unwrap_or(self.ir.blank_sub);
        match self.ir.maps.get_mut(&lower) {
            Some(existing) => {
                existing.spans.push(line.span);
                // sendmail names the map after its latest K line (map_mname).
                existing.name = m.name.clone();
                existing.class = class;
                if file.is_some() {
                    existing.file = file;
                    existing.file_span = file_span;
                }
                existing.args = rest;
                existing.raw_args.push(args);
                merge_flags(&mut existing.flags, flags);
            }
            None => {
                self.ir.maps.insert(
                    lower,
                    MapDecl {
                        name: m.name.clone(),
                        class,
                        flags,
                        file,
                        args: rest,
                        raw_args: vec![args],
                        space_sub,
                        spans: vec![line.span],
                        name_span: m.name_span,
                        file_span,
                    },
                );
            }
        }
    }

    /// The number for a ruleset name, creating it (S lines, M S=/R=, H `$>`).
    fn named_ruleset(&mut self, name: &[u8], span: Span) -> Option<u16> {
        if let Some(&n) = self.ir.ruleset_names.get(name) {
            return Some(n);
        }
        if self.next_named < 100 {
            self.problem(
                ProblemKind::BadRuleset,
                span,
                format!(
                    "{}: too many named rulesets (100 max)",
                    crate::bytes::quote(name)
                ),
            );
            return None;
        }
        let n = self.next_named;
        self.next_named -= 1;
        self.ir.ruleset_names.insert(name.to_vec(), n);
        let rs = self.ir.rulesets.entry(n).or_default();
        rs.number = n;
        rs.name = Some(name.to_vec());
        Some(n)
    }

    /// Parse an S-line argument or an `S=`/`R=` value (`strtorwset`).
    /// `define`: an S line (may bind `name=N` and sets the display name).
    fn ruleset_spec(&mut self, arg: &[u8], span: Span, define: bool) -> Option<u16> {
        let arg: &[u8] = {
            let skip = arg.iter().take_while(|b| b.is_ascii_whitespace()).count();
            &arg[skip..]
        };
        if arg.first().is_some_and(|b| b.is_ascii_digit()) {
            let (digits, n) = leading_number(arg);
            if n >= 100 {
                self.problem(
                    ProblemKind::BadRuleset,
                    span,
                    format!("bad ruleset {} (100 max)", crate::bytes::quote(digits)),
                );
                return None;
            }
            let n = n as u16;
            self.ir.rulesets.entry(n).or_default().number = n;
            return Some(n);
        }
        if !arg.first().is_some_and(|b| b.is_ascii_alphabetic()) {
            let shown: Vec<u8> = arg.iter().take(20).copied().collect();
            self.problem(
                ProblemKind::BadRuleset,
                span,
                format!("invalid ruleset name: \"{}\"", crate::bytes::quote(&shown)),
            );
            return None;
        }
        let name_len = arg
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let name = arg[..name_len].to_vec();
        let rest = &arg[name_len..];
        let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
        if define && rest.first() == Some(&b'=') {
            let num = &rest[1..];
            let num = &num[num.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
            let (digits, n) = leading_number(num);
            if digits.is_empty() {
                self.problem(
                    ProblemKind::BadRuleset,
                    span,
                    format!(
                        "bad ruleset definition \"{}=\" (number required after `=')",
                        crate::bytes::quote(&name)
                    ),
                );
                return None;
            }

            if n >= 100 {
                self.problem(
                    ProblemKind::BadRuleset,
                    span,
                    format!(
                        "bad ruleset number {} in \"{}\" (100 max)",
                        crate::bytes::quote(digits),
                        crate::bytes::quote(arg)
                    ),
                );
                return None;
            }
            let n = n as u16;
            if let Some(&old) = self.ir.ruleset_names.get(&name) {
                if old != n {
                    self.problem(
                        ProblemKind::BadRuleset,
                        span,
                        format!(
                            "{}: ruleset changed value (old {old}, new {n})",
                            crate::bytes::quote(arg)
                        ),
                    );
                }
                self.ir.rulesets.entry(old).or_default().name = Some(name);
                return Some(old);
            }
            self.ir.ruleset_names.insert(name.clone(), n);
            let rs = self.ir.rulesets.entry(n).or_default();
            rs.number = n;
            rs.name = Some(name);
            return Some(n);
        }
        let n = self.named_ruleset(&name, span)?;
        if define {
            self.ir.rulesets.entry(n).or_default().name = Some(name);
        }
        Some(n)
    }

    fn ruleset_line(&mut self, line: &cf::Line, s: &cf::RulesetLine) {
        let arg: Vec<u8> = self.expand_text(&s.arg).into_iter().map(|x| x.0).collect();
        self.current = self.ruleset_spec(&arg, s.arg_span, true);
        if let Some(n) = self.current {
            let rs = self.ir.rulesets.get_mut(&n).expect("ruleset was created");
            let had_rules = !rs.rules.is_empty();
            rs.defined_at.push(line.span);
            if had_rules {
                let first = rs.defined_at[0];
                let label = crate::bytes::quote(&arg);
                let label = label.trim().to_string();
                self.ir.problems.push(Problem {
                    kind: ProblemKind::MultipleDefinitions,
                    span: s.arg_span,
                    message: format!("WARNING: Ruleset {label} has multiple definitions"),
                    related: vec![(first, "first defined here".into())],
                });
            }
        }
    }

    /// Tokenize one side of an R line.
    fn tokenize(&mut self, text: &Text, side: Span) -> Vec<Tok> {
        if !self.frozen {
            self.freeze_tables();
        }
        let expanded = self.expand_text(text);
        let bytes: Vec<u8> = expanded.iter().map(|x| x.0).collect();
        let table = if self.ir.level >= 9 {
            prescan::Table::NoComments
        } else {
            prescan::Table::Internal
        };
        let scan = prescan::prescan(&bytes, &self.ir.tables, prescan::Mode::rule(table));
        if scan.failed {
            let msg = scan
                .problems
                .last()
                .map(|p| p.0.message())
                .unwrap_or("prescan failed");
            self.problem(ProblemKind::Tokenize, side, msg.to_string());
        }
        scan.tokens
            .into_iter()
            .map(|t| {
                let span = match (expanded.get(t.start), expanded.get(t.end.saturating_sub(1))) {
                    (Some(a), Some(b)) => a.1.to(b.1),
                    _ => side,
                };
                Tok {
                    bytes: t.bytes,
                    span,
                }
            })
            .collect()
    }

    fn rule_line(&mut self, line: &cf::Line, r: &cf::RuleLine) {
        let Some(rhs_range) = r.rhs.clone() else {
            // "tab expected": the line is ignored (reported by the reader).
            return;
        };
        let Some(current) = self.current else {
            self.problem(
                ProblemKind::NoRuleset,
                line.span,
                format!(
                    "missing valid ruleset for \"{}\"",
                    crate::bytes::quote(&line.flat.bytes)
                ),
            );
            return;
        };
        let lhs_tokens = self.tokenize(&line.text(r.lhs.clone()), r.lhs_span);
        let rhs_tokens = self.tokenize(&line.text(rhs_range), r.rhs_span);
        let lhs = self.compile_lhs(lhs_tokens, r.lhs_span);
        let rhs = self.compile_rhs(rhs_tokens, r.rhs_span, lhs.bindings);
        let rule = Rule {
            span: line.span,
            lhs_span: r.lhs_span,
            rhs_span: r.rhs_span,
            lhs,
            rhs,
        };
        self.ir
            .rulesets
            .get_mut(&current)
            .expect("current ruleset exists")
            .rules
            .push(rule);
    }

    fn compile_lhs(&mut self, tokens: Vec<Tok>, side: Span) -> Pattern {
        if tokens.is_empty() {
            self.problem(ProblemKind::NullLhs, side, "R line: null LHS");
            return Pattern::new(Vec::new(), Vec::new());
        }
        let mut ops = Vec::with_capacity(tokens.len());
        let mut spans = Vec::with_capacity(tokens.len());
        for t in tokens {
            let op = match (t.meta(), t.bytes.len()) {
                (Some(meta::MATCHZANY), 1) => PatOp::ZeroOrMore,
                (Some(meta::MATCHANY), 1) => PatOp::OneOrMore,
                (Some(meta::MATCHONE), 1) => PatOp::One,
                (Some(meta::MATCHCLASS), 2) => PatOp::Class(t.bytes[1]),
                (Some(meta::MATCHNCLASS), 2) => PatOp::NotClass(t.bytes[1]),
                (Some(meta::CANONHOST), 1) => PatOp::Zero,
                (Some(meta::MACRODEXPAND), 2) => PatOp::Macro(t.bytes[1]),
                (
                    Some(
                        m @ (meta::MATCHREPL
                        | meta::CANONUSER
                        | meta::CALLSUBR
                        | meta::CONDIF
                        | meta::CONDFI
                        | meta::HOSTBEGIN
                        | meta::HOSTEND
                        | meta::LOOKUPBEGIN
                        | meta::LOOKUPEND),
                    ),
                    _,
                ) => {
                    let shown = if m == meta::MATCHREPL {
                        "$1-$9".to_string()
                    } else {
                        format!("${}", meta::meta_letter(m).unwrap_or(b'?') as char)
                    };
                    self.problem(
                        ProblemKind::MisplacedMeta,
                        t.span,
                        format!("Inappropriate use of {shown} on LHS"),
                    );
                    PatOp::Literal(t.bytes)
                }
                _ => PatOp::Literal(t.bytes),
            };
            ops.push(op);
            spans.push(t.span);
        }
        let wildcards = ops.iter().filter(|o| o.binds()).count();
        if wildcards > MAXMATCH {
            self.problem(
                ProblemKind::TooManyWildcards,
                side,
                "R line: too many wildcards",
            );
            return Pattern::new(Vec::new(), Vec::new());
        }
        Pattern::new(ops, spans)
    }

    fn compile_rhs(&mut self, mut tokens: Vec<Tok>, side: Span, bindings: u8) -> Template {
        if tokens.is_empty() {
            self.problem(ProblemKind::NullRhs, side, "R line: null RHS");
            return Template::default();
        }
        let prefix = match tokens[0].meta() {
            Some(meta::CANONUSER) if tokens[0].bytes.len() == 1 => Prefix::Once,
            Some(meta::CANONHOST) if tokens[0].bytes.len() == 1 => Prefix::Return,
            _ => Prefix::Repeat,
        };
        if prefix != Prefix::Repeat {
            tokens.remove(0);
        }
        let body = &tokens[..];
        for t in body {
            match t.meta() {
                Some(meta::MATCHREPL) if t.bytes.len() == 2 => {
                    let d = t.bytes[1];
                    let n = d.wrapping_sub(b'0');
                    if n == 0 || n > bindings {
                        self.problem(
                            ProblemKind::OutOfBounds,
                            t.span,
                            format!("replacement ${} out of bounds", d as char),
                        );
                    }
                }
                Some(
                    m @ (meta::MATCHZANY
                    | meta::MATCHANY
                    | meta::MATCHONE
                    | meta::MATCHCLASS
                    | meta::MATCHNCLASS),
                ) => {
                    let letter = meta::meta_letter(m).unwrap_or(b'?') as char;
                    self.problem(
                        ProblemKind::MisplacedMeta,
                        t.span,
                        format!("Inappropriate use of ${letter} on RHS"),
                    );
                }
                _ => {}
            }
        }
        let mut tree_problems = Vec::new();
        let nodes = rule::build_tree(body, &mut tree_problems);
        for p in tree_problems {
            match p {
                rule::TreeProblem::NestedLookup(s) => {
                    self.problem(ProblemKind::NestedLookup, s, "cannot nest map lookups")
                }
                rule::TreeProblem::Unclosed(s) => {
                    self.problem(ProblemKind::UnclosedLookup, s, "missing map closing token")
                }
                rule::TreeProblem::StrayClose(s) => self.problem(
                    ProblemKind::StrayLookupClose,
                    s,
                    "lookup closing token with no lookup open (sendmail keeps it as a plain token)",
                ),
                rule::TreeProblem::TooManyArgs(s) => self.problem(
                    ProblemKind::TooManyMapArgs,
                    s,
                    "too many arguments for map lookup",
                ),
            }
        }
        Template {
            prefix,
            tokens,
            nodes,
        }
    }

    fn option_line(&mut self, line: &cf::Line, o: &cf::OptionLine) {
        let (name, written) = match &o.name {
            cf::OptionName::Long(n) => {
                // `Timeout.queuereturn`: the suboption does not take part in the name.
                let base = n.split(|&b| b == b'.').next().unwrap_or(n);
                let resolved = match options::resolve(base) {
                    options::OptionMatch::Exact(l) => Some(l),
                    options::OptionMatch::Abbreviation(l) => {
                        self.problem(
                            ProblemKind::OptionAbbreviation,
                            o.name_span,
                            format!(
                                "Option {} used as abbreviation for {l}",
                                crate::bytes::quote(n)
                            ),
                        );
                        Some(l)
                    }
                    options::OptionMatch::Ambiguous(a, b) => {
                        self.problem(
                            ProblemKind::Other,
                            o.name_span,
                            format!(
                                "readcf: ambiguous option name {} (matches {a} and {b})",
                                crate::bytes::quote(n)
                            ),
                        );
                        None
                    }
                    options::OptionMatch::Unknown => {
                        self.problem(
                            ProblemKind::Other,
                            o.name_span,
                            format!("readcf: unknown option name {}", crate::bytes::quote(n)),
                        );
                        None
                    }
                };
                (resolved, n.clone())
            }
            cf::OptionName::Char(c) => {
                let resolved = options::by_char(*c);
                if resolved.is_none() {
                    self.problem(
                        ProblemKind::Other,
                        o.name_span,
                        format!("readcf: unknown option name 0x{c:x}"),
                    );
                }
                (resolved, vec![*c])
            }
        };
        match name {
            Some("BlankSub") => {
                self.ir.blank_sub = o.value.first().copied().unwrap_or(b' ');
            }
            Some("OperatorChars") => {
                if self.frozen || self.operator_option.is_some() {
                    self.problem(
                        ProblemKind::OperatorCharsRedefined,
                        line.span,
                        "Warning: OperatorChars is being redefined. It should only be set before ruleset definitions.",
                    );
                } else {
                    self.operator_option = Some(o.value.clone());
                }
            }
            _ => {}
        }
        self.ir.options.push(OptionSetting {
            name,
            written,
            value: o.value.clone(),
            span: line.span,
        });
    }

    fn mailer_line(&mut self, line: &cf::Line, m: &cf::FieldsLine) {
        const EQUATES: &[u8] = b"PFEAMLRSUDNTCQWmr/";
        let mut has_p = false;
        let mut has_a = false;
        for f in &m.fields {
            let Some(&letter) = f.key.first() else {
                continue;
            };
            if !EQUATES.contains(&letter) {
                self.problem(
                    ProblemKind::Other,
                    f.key_span,
                    format!(
                        "M{}: unknown mailer equate {}=",
                        crate::bytes::quote(&m.name),
                        letter as char
                    ),
                );
                continue;
            }
            has_p |= letter == b'P';
            has_a |= letter == b'A';
            if letter == b'Q' {
                let q = munch_plain(&f.value);
                if q.as_slice() != b"mqueue" && !self.queue_groups.contains(&q) {
                    self.problem(
                        ProblemKind::Other,
                        f.value_span,
                        format!(
                            "mailer {}: unknown queue {}",
                            crate::bytes::quote(&m.name),
                            crate::bytes::quote(&q)
                        ),
                    );
                }
            }
            if letter == b'S' || letter == b'R' {
                let value = munch_plain(&f.value);
                for part in value.split(|&b| b == b'/') {
                    if !part.is_empty()
                        && let Some(n) = self.ruleset_spec(part, f.value_span, false)
                    {
                        self.ir
                            .rulesets
                            .get_mut(&n)
                            .expect("ruleset exists")
                            .mentioned_at
                            .push(f.value_span);
                    }
                }
            }
        }
        // sendmail checks A= first and gives up on the mailer when it is missing.
        if !has_a {
            self.problem(
                ProblemKind::Other,
                m.name_span,
                format!("M{}: A= argument required", crate::bytes::quote(&m.name)),
            );
        } else if !has_p {
            self.problem(
                ProblemKind::Other,
                m.name_span,
                format!("M{}: P= argument required", crate::bytes::quote(&m.name)),
            );
        }
        self.ir.mailers.insert(
            m.name.to_ascii_lowercase(),
            Mailer {
                name: m.name.clone(),
                span: line.span,
                fields: m
                    .fields
                    .iter()
                    .map(|f| (f.key.clone(), f.value.clone()))
                    .collect(),
            },
        );
    }

    fn header_line(&mut self, _line: &cf::Line, h: &cf::HeaderLine) {
        // A value `$>name` or `$>+name` makes the header checked by that ruleset.
        let p = &h.value.pieces;
        let is_call = matches!(
            p.first(),
            Some(Piece::Macro {
                sigil: None,
                name: MacroName::Short(b'>')
            })
        );
        if !is_call {
            return;
        }
        let mut name = Vec::new();
        for piece in &p[1..] {
            match piece {
                Piece::Byte(b'+') if name.is_empty() => {}
                Piece::Byte(b) if b.is_ascii_alphanumeric() || *b == b'_' => name.push(*b),
                _ => break,
            }
        }
        if !name.is_empty() {
            let span = h.value.span_or(h.field_span);
            if let Some(n) = self.ruleset_spec(&name, span, false) {
                self.ir
                    .rulesets
                    .get_mut(&n)
                    .expect("ruleset exists")
                    .mentioned_at
                    .push(span);
            }
        }
    }
}

/// The digits at the start of `b` and their value (`strtol`-like; `u64::MAX` when too
/// large).
fn leading_number(b: &[u8]) -> (&[u8], u64) {
    let digits = &b[..b.iter().take_while(|c| c.is_ascii_digit()).count()];
    let n = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    (digits, n)
}

fn merge_flags(old: &mut MapFlags, new: MapFlags) {
    macro_rules! or {
        ($($f:ident),*) => { $( old.$f |= new.$f; )* };
    }
    or!(
        alias_merge,
        defer_skip,
        keep_case,
        match_only,
        nul_only,
        no_nul,
        optional,
        keep_quotes,
        tempfail_is_notfound
    );
    macro_rules! replace {
        ($($f:ident),*) => { $( if new.$f.is_some() { old.$f = new.$f; } )* };
    }
    replace!(
        append,
        space_sub,
        tempfail_text,
        key_col,
        value_col,
        delimiter,
        timeout
    );
    old.other.extend(new.other);
}

/// Remove METAQUOTE protection (for words that leave the rule world: class members,
/// map arguments).
fn strip_metaquote(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == meta::METAQUOTE && i + 1 < b.len() {
            i += 1;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn munch_plain(b: &[u8]) -> Vec<u8> {
    let spanned: Vec<_> = b.iter().map(|&c| (c, Span::default())).collect();
    macros::munch(&spanned).into_iter().map(|x| x.0).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
