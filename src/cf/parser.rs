//! Line-type parsers (`nom`, complete mode only) over the flat bytes of one logical line.
//!
//! Each function takes the line without its type letter and returns the structured line
//! or a problem worded as sendmail words it. Offsets into the flat bytes become spans
//! through [`Flat::span`].

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{tag, take_till, take_while, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{opt, recognize};
use nom::sequence::preceded;

use super::syntax::*;
use super::text::{Flat, NameProblem, TranslateNote, parse_macro_name, translate};

type Res<'a, T> = IResult<&'a [u8], T>;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn blanks(i: &[u8]) -> Res<'_, &[u8]> {
    take_while(is_ws)(i)
}

/// Offset of `rest` within `whole` (both slices of the same buffer).
fn pos(whole: &[u8], rest: &[u8]) -> usize {
    whole.len() - rest.len()
}

pub(crate) struct LineParser<'f> {
    pub flat: &'f Flat,
    pub problems: Vec<ParseProblem>,
    pub notes: Vec<TranslateNote>,
}

impl<'f> LineParser<'f> {
    pub fn new(flat: &'f Flat) -> Self {
        LineParser {
            flat,
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn problem(&mut self, kind: ProblemKind, a: usize, b: usize, message: impl Into<String>) {
        let span = self.flat.span(a, b);
        self.problems.push(ParseProblem {
            kind,
            span,
            message: message.into(),
        });
    }

    fn text(&mut self, a: usize, b: usize) -> super::text::Text {
        translate(self.flat, a, b, &mut self.notes)
    }

    /// Dispatch on the first byte.
    pub fn line(&mut self) -> LineKind {
        let bytes = &self.flat.bytes;
        let Some(&first) = bytes.first() else {
            return LineKind::Empty;
        };
        match first {
            b'V' => self.version(),
            b'D' => self.define(),
            b'C' => self.class(false),
            b'T' => self.class(true),
            b'F' => self.fileclass(),
            b'K' => self.map(),
            b'S' => LineKind::Ruleset(RulesetLine {
                arg: self.text(1, bytes.len()),
                arg_span: self.flat.span(1, bytes.len()),
            }),
            b'R' => self.rule(),
            b'O' => self.option(),
            b'M' => self.fields_line(b'M'),
            b'Q' => self.fields_line(b'Q'),
            b'X' => self.fields_line(b'X'),
            b'H' => self.header(),
            b'P' => self.precedence(),
            b'E' => self.env(),
            b'L' | b'G' => {
                let line = crate::bytes::quote(bytes);
                self.problem(
                    ProblemKind::Unsupported,
                    0,
                    1,
                    format!(
                        "unknown configuration line \"{line}\" ({} lines need a sendmail built with {}; Debian's is not)",
                        first as char,
                        if first == b'L' { "XLA" } else { "Sun extensions" }
                    ),
                );
                LineKind::Unsupported(first)
            }
            _ => {
                let line = crate::bytes::quote(bytes);
                self.problem(
                    ProblemKind::Syntax,
                    0,
                    bytes.len(),
                    format!("unknown configuration line \"{line}\""),
                );
                LineKind::Unknown
            }
        }
    }

    fn version(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        let rest = &all[1..];
        let parsed: Res<'_, (&[u8], Option<&[u8]>)> = (
            preceded(blanks, digit1),
            opt(preceded(
                tag(&b"/"[..]),
                take_while(|b: u8| b.is_ascii_alphabetic()),
            )),
        )
            .parse_complete(rest);
        match parsed {
            Ok((_, (digits, vendor))) => {
                let a = pos(all, digits);
                let level = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| s.parse().ok());
                let vendor = vendor.map(|v| {
                    let va = pos(all, v);
                    (v.to_vec(), self.flat.span(va, va + v.len()))
                });
                if let Some((v, span)) = &vendor
                    && !v.eq_ignore_ascii_case(b"Berkeley")
                {
                    self.problems.push(ParseProblem {
                        kind: ProblemKind::Syntax,
                        span: *span,
                        message: format!(
                            "invalid V line vendor code: \"{}\"",
                            crate::bytes::quote(v)
                        ),
                    });
                }
                LineKind::Version(VersionLine {
                    level,
                    level_span: self.flat.span(a, a + digits.len()),
                    vendor,
                })
            }
            Err(_) => {
                let arg: Vec<u8> = rest.iter().copied().take(20).collect();
                self.problem(
                    ProblemKind::Syntax,
                    1,
                    all.len(),
                    format!(
                        "invalid argument to V line: \"{}\"",
                        crate::bytes::quote(&arg)
                    ),
                );
                LineKind::Version(VersionLine {
                    level: None,
                    level_span: self.flat.span(1, all.len()),
                    vendor: None,
                })
            }
        }
    }

    /// A macro/class name right after the line letter; reports sendmail's messages.
    fn name_after_letter(&mut self) -> Option<(super::text::MacroName, usize)> {
        let bytes = &self.flat.bytes;
        let mut problems = Vec::new();
        let got = parse_macro_name(&bytes[1..], &mut problems);
        let end = got.as_ref().map(|(_, u)| 1 + u).unwrap_or(bytes.len());
        for p in problems {
            let msg = match p {
                NameProblem::Missing => "Name required for macro/class".to_string(),
                NameProblem::BadChar(c) => {
                    format!(
                        "Invalid macro/class character {}",
                        crate::bytes::escape(&[c])
                    )
                }
                NameProblem::Unbalanced => {
                    format!("Unbalanced {{ on {}", crate::bytes::quote(&bytes[1..]))
                }
                NameProblem::TooLong => format!(
                    "Macro/class name ({}) too long ({} chars max)",
                    crate::bytes::quote(&bytes[1..end.min(bytes.len())]),
                    super::text::MAXMACNAMELEN
                ),
            };
            self.problem(ProblemKind::Syntax, 1, end.max(1), msg);
        }
        got.map(|(n, used)| (n, 1 + used))
    }

    fn define(&mut self) -> LineKind {
        match self.name_after_letter() {
            Some((name, end)) => {
                let len = self.flat.bytes.len();
                LineKind::Define(DefineLine {
                    name,
                    name_span: self.flat.span(1, end),
                    value: self.text(end, len),
                })
            }
            None => LineKind::Unknown,
        }
    }

    fn class(&mut self, trusted: bool) -> LineKind {
        let len = self.flat.bytes.len();
        if trusted {
            return LineKind::Class(ClassLine {
                name: super::text::MacroName::Short(b't'),
                name_span: self.flat.span(0, 1),
                words: self.text(1, len),
                trusted: true,
            });
        }
        match self.name_after_letter() {
            Some((name, end)) => LineKind::Class(ClassLine {
                name,
                name_span: self.flat.span(1, end),
                words: self.text(end, len),
                trusted: false,
            }),
            None => LineKind::Unknown,
        }
    }

    fn fileclass(&mut self) -> LineKind {
        let Some((name, end)) = self.name_after_letter() else {
            return LineKind::Unknown;
        };
        let all: &[u8] = &self.flat.bytes;
        let mut rest = &all[end..];
        rest = &rest[rest.iter().take_while(|b| is_ws(**b)).count()..];
        let mut optional = false;
        if rest.starts_with(b"-o") {
            optional = true;
            let skip = rest.iter().take_while(|b| !is_ws(**b)).count();
            rest = &rest[skip..];
            rest = &rest[rest.iter().take_while(|b| is_ws(**b)).count()..];
        }
        let spec_at = pos(all, rest);
        // The source word: double quotes group, backslash escapes.
        let mut word = Vec::new();
        let mut i = 0;
        let mut quoted = false;
        while i < rest.len() {
            let b = rest[i];
            if b == b'\\' && i + 1 < rest.len() {
                word.push(rest[i + 1]);
                i += 2;
                continue;
            }
            if b == b'"' {
                quoted = !quoted;
                i += 1;
                continue;
            }
            if !quoted && is_ws(b) {
                break;
            }
            word.push(b);
            i += 1;
        }
        if quoted {
            self.problem(
                ProblemKind::Syntax,
                spec_at,
                all.len(),
                format!("illegal filename '{}'", crate::bytes::quote(rest)),
            );
        }
        let spec_end = spec_at + i;
        let after = &rest[i..];
        let fmt_start = after.iter().take_while(|b| is_ws(**b)).count();
        let format = (fmt_start < after.len()).then(|| after[fmt_start..].to_vec());
        let source = classify_class_source(rest, &word);
        if word.is_empty() {
            self.problem(
                ProblemKind::Syntax,
                spec_at,
                all.len(),
                "fileclass: missing file name",
            );
        }
        LineKind::FileClass(FileClassLine {
            name,
            name_span: self.flat.span(1, end),
            optional,
            source,
            source_span: self.flat.span(spec_at, spec_end),
            format,
        })
    }

    fn map(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        let rest = &all[1..];
        let name_p: Res<'_, &[u8]> = preceded(
            blanks,
            recognize((
                take_while1(|b: u8| b.is_ascii_alphanumeric()),
                take_while(|b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
            )),
        )
        .parse_complete(rest);
        let Ok((after_name, name)) = name_p else {
            self.problem(
                ProblemKind::Syntax,
                0,
                all.len(),
                "readcf: config K line: no map name",
            );
            return LineKind::Unknown;
        };
        let na = pos(all, name);
        let name_span = self.flat.span(na, na + name.len());
        // One separator byte is consumed whatever it is.
        let after_sep = after_name.get(1..).unwrap_or(&[]);
        let class_p: Res<'_, &[u8]> =
            preceded(blanks, take_while1(|b: u8| b.is_ascii_alphanumeric()))
                .parse_complete(after_sep);
        let Ok((after_class, class)) = class_p else {
            self.problem(
                ProblemKind::Syntax,
                na,
                all.len(),
                format!(
                    "readcf: config K line, map {}: no map class",
                    crate::bytes::quote(name)
                ),
            );
            return LineKind::Unknown;
        };
        let ca = pos(all, class);
        let args_at = pos(all, after_class);
        let args_at = args_at + after_class.iter().take_while(|b| is_ws(**b)).count();
        LineKind::Map(MapLine {
            name: name.to_vec(),
            name_span,
            class: class.to_vec(),
            class_span: self.flat.span(ca, ca + class.len()),
            args: self.text(args_at, all.len()),
            args_span: self.flat.span(args_at, all.len()),
        })
    }

    fn rule(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        let len = all.len();
        let tab = all.iter().position(|&b| b == b'\t');
        let Some(tab) = tab else {
            let line = crate::bytes::quote(all);
            self.problem(
                ProblemKind::MissingTab,
                1,
                len,
                format!("invalid rewrite line \"{line}\" (tab expected)"),
            );
            self.text(1, len);
            return LineKind::Rule(RuleLine {
                lhs: 1..len,
                lhs_span: self.flat.span(1, len),
                rhs: None,
                rhs_span: self.flat.span(len, len),
                comment: None,
            });
        };
        let rhs_start = tab + all[tab..].iter().take_while(|&&b| b == b'\t').count();
        let rhs_end = all[rhs_start..]
            .iter()
            .position(|&b| b == b'\t')
            .map_or(len, |p| rhs_start + p);
        let comment = (rhs_end < len).then(|| {
            let c = rhs_end + all[rhs_end..].iter().take_while(|&&b| b == b'\t').count();
            self.flat.span(c, len)
        });
        // Translated here only for the problems it finds (bad `${name}`s; the IR translates
        // again), so skip the work when there is no brace.
        if all[..rhs_end].contains(&b'{') {
            self.text(1, tab);
            self.text(rhs_start, rhs_end);
        }
        LineKind::Rule(RuleLine {
            lhs: 1..tab,
            lhs_span: self.flat.span(1, tab),
            rhs: Some(rhs_start..rhs_end),
            rhs_span: self.flat.span(rhs_start, rhs_end),
            comment,
        })
    }

    fn option(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        if all.len() < 2 {
            self.problem(
                ProblemKind::Syntax,
                0,
                all.len(),
                "readcf: null option name",
            );
            return LineKind::Unknown;
        }
        if all[1] == b' ' {
            let p: Res<'_, (&[u8], Option<&[u8]>)> = (
                preceded(
                    take_while(|b| b == b' '),
                    take_till(|b: u8| b == b'=' || is_ws(b)),
                ),
                opt(preceded(
                    (
                        take_while(|b| b == b' '),
                        tag(&b"="[..]),
                        take_while(|b| b == b' '),
                    ),
                    nom::combinator::rest,
                )),
            )
                .parse_complete(&all[1..]);
            let Ok((_, (name, value))) = p else {
                unreachable!("take_till and opt cannot fail");
            };
            if name.is_empty() {
                self.problem(
                    ProblemKind::Syntax,
                    0,
                    all.len(),
                    "readcf: null option name",
                );
                return LineKind::Unknown;
            }
            let na = pos(all, name);
            let (value, va) = match value {
                Some(v) => (v.to_vec(), pos(all, v)),
                None => (Vec::new(), all.len()),
            };
            return LineKind::Option(OptionLine {
                name: OptionName::Long(name.to_vec()),
                name_span: self.flat.span(na, na + name.len()),
                value,
                value_span: self.flat.span(va, all.len()),
            });
        }
        LineKind::Option(OptionLine {
            name: OptionName::Char(all[1]),
            name_span: self.flat.span(1, 2),
            value: all[2..].to_vec(),
            value_span: self.flat.span(2, all.len()),
        })
    }

    /// M, Q and X lines: a name, then `key=value` fields separated by commas.
    fn fields_line(&mut self, letter: u8) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        let name_end = 1 + all[1..]
            .iter()
            .position(|&b| b == b',' || is_ws(b))
            .unwrap_or(all.len() - 1);
        let name = all[1..name_end].to_vec();
        if name.is_empty() {
            let msg = match letter {
                b'M' => "name required for mailer",
                b'X' => "name required for mail filter",
                _ => "name required for queue group",
            };
            self.problem(ProblemKind::Syntax, 0, all.len(), msg);
            return LineKind::Unknown;
        }
        let name_span = self.flat.span(1, name_end);
        let mut fields = Vec::new();
        let mut i = name_end;
        loop {
            while i < all.len() && (all[i] == b',' || is_ws(all[i])) {
                i += 1;
            }
            if i >= all.len() {
                break;
            }
            let ks = i;
            while i < all.len() && all[i] != b'=' && all[i] != b',' {
                i += 1;
            }
            if i >= all.len() || all[i] != b'=' {
                let what = match letter {
                    b'M' => format!("mailer {}: `=' expected", crate::bytes::quote(&name)),
                    b'X' => format!("X{}: `=' expected", crate::bytes::quote(&name)),
                    _ => format!("Q{}: `=' expected", crate::bytes::quote(&name)),
                };
                self.problem(ProblemKind::Syntax, ks, i, what);
                break;
            }
            let key_end = i;
            let key: Vec<u8> = all[ks..key_end]
                .iter()
                .copied()
                .filter(|b| !is_ws(*b))
                .collect();
            i += 1;
            while i < all.len() && is_ws(all[i]) {
                i += 1;
            }
            // The value runs to the next comma outside quotes.
            let vs = i;
            let mut quoted = false;
            while i < all.len() {
                match all[i] {
                    b'\\' if i + 1 < all.len() => i += 1,
                    b'"' => quoted = !quoted,
                    b',' if !quoted => break,
                    _ => {}
                }
                i += 1;
            }
            fields.push(Field {
                key,
                key_span: self.flat.span(ks, key_end),
                value: all[vs..i].to_vec(),
                value_span: self.flat.span(vs, i),
            });
        }
        let line = FieldsLine {
            name,
            name_span,
            fields,
        };
        match letter {
            b'M' => LineKind::Mailer(line),
            b'Q' => LineKind::Queue(line),
            _ => LineKind::Milter(line),
        }
    }

    fn header(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        let mut i = 1;
        let mut flags = None;
        if all.get(1) == Some(&b'?') {
            match all[2..].iter().position(|&b| b == b'?') {
                Some(p) => {
                    flags = Some(all[2..2 + p].to_vec());
                    i = 3 + p;
                }
                None => {
                    self.problem(
                        ProblemKind::Syntax,
                        1,
                        all.len(),
                        "header syntax error, line \"H?\"",
                    );
                    return LineKind::Unknown;
                }
            }
        }
        let Some(colon) = all[i..].iter().position(|&b| b == b':') else {
            self.problem(
                ProblemKind::Syntax,
                0,
                all.len(),
                format!("header syntax error, line \"{}\"", crate::bytes::quote(all)),
            );
            return LineKind::Unknown;
        };
        let field = &all[i..i + colon];
        let fe = i + colon;
        let mut vs = fe + 1;
        while vs < all.len() && is_ws(all[vs]) {
            vs += 1;
        }
        LineKind::Header(HeaderLine {
            flags,
            field: field.to_vec(),
            field_span: self.flat.span(i, fe),
            value: self.text(vs, all.len()),
        })
    }

    fn precedence(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        let Some(eq) = all.iter().position(|&b| b == b'=') else {
            self.problem(
                ProblemKind::Syntax,
                0,
                all.len(),
                format!(
                    "unknown configuration line \"{}\"",
                    crate::bytes::quote(all)
                ),
            );
            return LineKind::Unknown;
        };
        let digits: &[u8] = &all[eq + 1..];
        let num = std::str::from_utf8(digits)
            .ok()
            .map(|s| s.trim())
            .and_then(|s| {
                let end = s
                    .char_indices()
                    .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+'))))
                    .map_or(s.len(), |(i, _)| i);
                s[..end].parse::<i64>().ok()
            })
            .unwrap_or(0);
        LineKind::Precedence(PrecedenceLine {
            name: all[1..eq].to_vec(),
            value: num,
        })
    }

    fn env(&mut self) -> LineKind {
        let all: &[u8] = &self.flat.bytes;
        match all.iter().position(|&b| b == b'=') {
            Some(eq) => LineKind::Env(EnvLine {
                name: all[1..eq].to_vec(),
                value: Some(all[eq + 1..].to_vec()),
            }),
            None => LineKind::Env(EnvLine {
                name: all[1..].to_vec(),
                value: None,
            }),
        }
    }
}

/// Whether an F line's source is a map (`key@class:spec` or `@LDAP`), a program or a file.
fn classify_class_source(rest: &[u8], word: &[u8]) -> ClassSource {
    if let Some(prog) = word.strip_prefix(b"|") {
        return ClassSource::Program(prog.to_vec());
    }
    if !rest.starts_with(b"/")
        && let Some(at) = rest.iter().position(|&b| b == b'@')
    {
        let after = &rest[at + 1..];
        let spec_end = after.iter().position(|b| is_ws(*b)).unwrap_or(after.len());
        let after = &after[..spec_end];
        if after == b"LDAP" {
            return ClassSource::Map {
                key: rest[..at].to_vec(),
                class: b"ldap".to_vec(),
                spec: Vec::new(),
            };
        }
        if let Some(colon) = after.iter().position(|&b| b == b':')
            && colon > 0
        {
            return ClassSource::Map {
                key: rest[..at].to_vec(),
                class: after[..colon].to_vec(),
                spec: after[colon + 1..].to_vec(),
            };
        }
    }
    ClassSource::File(word.to_vec())
}
