//! Property tests for the reader, the compiler and the linter on inputs no one wrote on
//! purpose: (a) arbitrary bytes, (b) random edits of a realistic configuration.
//!
//! The properties: nothing panics (parse, compile, every lint rule, every output format,
//! both IR emitters), and every span handed out — parse problems, IR problems, lint
//! findings and their labels — lies inside the file, with 1-based line and column.
//!
//! Failures are not persisted to a regressions file; proptest prints the shrunk input.
//! `PROPTEST_CASES=N` runs more cases.

use cfmap::cf::{self, FileId, SourceFile, Span};
use cfmap::ir::{self, CompileOptions};
use cfmap::lint::{self, Context, format};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

const CASES: u32 = 256;

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A span must name bytes of the file: right file, start <= end <= text length, and
/// both ends at a 1-based line and column that exist.
fn check_span(file: &SourceFile, span: Span, what: &str) {
    let len = file.text.len();
    assert_eq!(span.file, file.id, "{what}: wrong file in {span:?}");
    assert!(
        span.start <= span.end && span.end as usize <= len,
        "{what}: span {span:?} outside the text ({len} bytes)"
    );
    let (a, b) = file.locate_span(span);
    for l in [a, b] {
        assert!(l.line >= 1 && l.column >= 1, "{what}: location {l:?}");
        assert!(
            l.line <= file.line_count(),
            "{what}: line {} past the last ({})",
            l.line,
            file.line_count()
        );
    }
    assert!(a <= b, "{what}: end {b:?} before start {a:?}");
}

/// Everything `cfmap lint` and `cfmap compile` do to a file, with the span checks.
fn run_all(bytes: &[u8]) {
    let file = SourceFile::new(FileId(0), "prop.cf", bytes);
    let syntax = cf::parse(&file);
    for l in &syntax.lines {
        check_span(&file, l.span, "line");
    }
    for p in &syntax.problems {
        check_span(&file, p.span, &format!("parse problem {:?}", p.message));
    }
    let ir = ir::compile(&syntax, &CompileOptions::default());
    for p in &ir.problems {
        check_span(&file, p.span, &format!("IR problem {:?}", p.message));
        for (s, m) in &p.related {
            check_span(&file, *s, &format!("IR problem label {m:?}"));
        }
    }
    let ctx = Context {
        file: &file,
        syntax: &syntax,
        ir: &ir,
        check_files: false,
        base_dir: ".".into(),
    };
    let diags = lint::run(&ctx);
    for d in &diags {
        assert!(
            lint::rule(d.rule).is_some(),
            "finding under unknown rule {}",
            d.rule
        );
        check_span(&file, d.span, &format!("{} {:?}", d.rule, d.message));
        for (s, m) in &d.labels {
            check_span(&file, *s, &format!("{} label {m:?}", d.rule));
        }
    }
    // The library's one-call entry point sees the same.
    assert_eq!(
        lint::lint_source(&file, &CompileOptions::default(), false),
        diags
    );

    // miette's report is slow in a debug build (a few hundred findings in 4 KiB of noise
    // take tens of milliseconds), and every span was checked above: render the first and
    // last few findings only.
    let some: Vec<lint::Diagnostic> = if diags.len() > 32 {
        diags[..16]
            .iter()
            .chain(&diags[diags.len() - 16..])
            .cloned()
            .collect()
    } else {
        diags.clone()
    };
    for fmt in [
        format::Format::Short,
        format::Format::Json,
        format::Format::Github,
        format::Format::Human,
    ] {
        let d = if fmt == format::Format::Human {
            &some
        } else {
            &diags
        };
        let reports = [format::FileReport {
            file: &file,
            diagnostics: d,
        }];
        let mut out = Vec::new();
        format::write(&mut out, fmt, &reports, false).expect("write to a Vec");
        if fmt == format::Format::Json {
            let v: serde_json::Value = serde_json::from_slice(&out).expect("json output");
            assert_eq!(v.as_array().map(Vec::len), Some(diags.len()));
        }
        if fmt == format::Format::Short && diags.is_empty() {
            assert!(out.is_empty());
        }
    }
    let _ = ir::emit::text(&ir, &file);
    let _ = ir::emit::json(&ir, &file);
}

/// Bytes that mean something to the reader, to reach past the line-type dispatch more
/// often than uniform bytes do.
const ALPHABET: &[u8] =
    b"RSDCKFOMVHPTLXEGQ$$$$$(){}[]<>@.:%!^/+*-=~#>&?|0123456789 \t\t\n\n\n\r\0\x80\x9f\xff";

fn config_bytes() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(ALPHABET)]
}

/// Our own small sendmail.cf: every line type the compiler gives meaning to.
const BASE: &str = "\
# a small configuration in the shape m4 writes
V10/Berkeley
Cwlocalhost vm.example.com
CO @ % !
Fw-o /etc/mail/local-host-names
Djvm.example.com
D{MTAHost}[127.0.0.1]
DnMAILER-DAEMON
Dl From $g $d
O OperatorChars=.:%@!^/[]+
O AliasWait=10
O AliasFile=/etc/mail/aliases
O BlankSub=.
O Timeout.queuereturn=5d
Kaccess hash -T<TMPF> -o /etc/mail/access
Kmailertable hash -o /etc/mail/mailertable
Kdequote dequote
Kmacro macro
Kresolve host -a<OKR> -T<TEMP>
H?D?Date: $a
H?F?From: $?x$x <$g>$|$g$.
Mlocal, P=/bin/true, F=lsDFMAw5:/|@qSPfhn9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL,
\tT=DNS/RFC822/X-Unix, A=mail.local -l
Mprog, P=/bin/sh, F=lsDFMoqeu9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL, D=$z:/,
\tT=X-Unix/X-Unix/X-Unix, A=sh -c $u
Mesmtp, P=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\\r\\n, L=990,
\tT=DNS/RFC822/SMTP, A=TCP $h

S0
R$*\t$: $>Parse0 $1
R<@>\t$#local $: <@>
R$* < @ $* . > $*\t$1 < @ $2 > $3\t\tstrip trailing dots
R$+ < @ $=w >\t$#local $: $1
R$+ < @ $* >\t$: $>Mailertable <$2> $1 < @ $2 >
R$+ < @ $+ >\t$#esmtp $@ $2 $: $1 < @ $2 >
R$*\t$#error $@ 5.1.3 $: \"553 Bad address\"

SParse0=30
R<@>\t$@ <@>
R$*\t$: $1 <@>
R$* <@>\t$: $1
R$* : $* <@>\t$@ $2
R$+\t$: $(dequote $1 $)
R$* $=O $* < @ $=w >\t$@ $>Parse0 $1 $2 $3

SMailertable=90
R<$- . $+> $*\t$: < $(mailertable .$2 $@ $1 $: $) > $3
R<$+> $*\t$: < $(mailertable $1 $) > $2
R<> $*\t$@ $1
R<$+ : $*> $*\t$# $1 $@ $2 $: $3
R$*\t$@ $1

S1
R$* < @ $+ > $*\t$: $1 < @ $[ $2 $] > $3
R$*\t$: $&{MTAHost} $1

S2
R$*\t$: $>1 $1
R$+ . $-\t$@ $1 . $2

S3
R$*\t$: $>96 $1
R$* <$+> $*\t$2
R$*\t$: $(macro {tmp} $@ $1 $) $1

S96
R$+ < @ $+ . >\t$1 < @ $2 >
R$* $| $*\t$1 $2
R$*\t$@ $1

SEnvFromL
R<@>\t$n
R$+\t$: $>96 $1

SHdrFromL
R$+\t$: $>EnvFromL $1
SEnvToL
R$+ < @ $* >\t$1
SHdrToL
R$+\t$@ $1
SEnvFromSMTP
R$+\t$@ $1
SHdrFromSMTP
R$+\t$@ $1
SEnvToSMTP
R$+\t$@ $1
";

/// One random edit; positions are taken relative to the current length.
#[derive(Debug, Clone)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    DuplicateLine(Index),
    TabToSpaces(Index, usize),
    SpacesToTab(Index),
    InsertSnippet(Index, &'static [u8]),
    SwapLines(Index, Index),
}

const SNIPPETS: &[&[u8]] = &[
    b"$(",
    b"$)",
    b"$[",
    b"$]",
    b"$",
    b"#",
    b"\0",
    b"\x80",
    b"\x81",
    b"\x9f",
    b"\x90",
    b"\x9b",
    b"${",
    b"}",
    b"$&",
    b"$=",
    b"$~",
    b"$#",
    b"$@",
    b"$:",
    b"$>",
    b"$1",
    b"$9",
    b"$*",
    b"$+",
    b"$-",
    b"\n",
    b"\n ",
    b"\n\t",
    b"\r\n",
    b"\t",
    b"\\",
    b"\"",
    b"<",
    b">",
    b"S",
    b"R",
    b"K",
    b"O ",
    b"V",
    b"D{",
    b"C{",
    b"$|",
    b"$.",
    b"$?",
    b"${verify}",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (
            any::<Index>(),
            proptest::collection::vec(config_bytes(), 1..16)
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<Index>().prop_map(Edit::DuplicateLine),
        (any::<Index>(), 1usize..9).prop_map(|(i, n)| Edit::TabToSpaces(i, n)),
        any::<Index>().prop_map(Edit::SpacesToTab),
        (any::<Index>(), proptest::sample::select(SNIPPETS))
            .prop_map(|(i, s)| Edit::InsertSnippet(i, s)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// Byte offsets where lines start.
fn line_starts(b: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            b.iter()
                .enumerate()
                .filter(|(_, c)| **c == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < b.len())
        .collect()
}

/// The line (with its LF) that starts at the `idx`-th line start.
fn line_at(b: &[u8], idx: Index) -> Option<std::ops::Range<usize>> {
    let starts = line_starts(b);
    if starts.is_empty() {
        return None;
    }
    let s = starts[idx.index(starts.len())];
    let e = b[s..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| s + p + 1);
    Some(s..e)
}

/// Offsets of bytes equal to `c`.
fn positions(b: &[u8], c: u8) -> Vec<usize> {
    b.iter()
        .enumerate()
        .filter(|(_, x)| **x == c)
        .map(|(i, _)| i)
        .collect()
}

fn apply(b: &mut Vec<u8>, e: &Edit) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match e {
        Edit::Delete(i, n) => {
            let s = at(i, b.len());
            let e = (s + n).min(b.len());
            b.drain(s..e);
        }
        Edit::Insert(i, bytes) => {
            let s = at(i, b.len());
            b.splice(s..s, bytes.iter().copied());
        }
        Edit::InsertSnippet(i, bytes) => {
            let s = at(i, b.len());
            b.splice(s..s, bytes.iter().copied());
        }
        Edit::DuplicateLine(i) => {
            if let Some(r) = line_at(b, *i) {
                let mut line = b[r.clone()].to_vec();
                if line.last() != Some(&b'\n') {
                    line.insert(0, b'\n');
                }
                b.splice(r.end..r.end, line);
            }
        }
        Edit::TabToSpaces(i, n) => {
            let tabs = positions(b, b'\t');
            if !tabs.is_empty() {
                let p = tabs[i.index(tabs.len())];
                b.splice(p..p + 1, std::iter::repeat_n(b' ', *n));
            }
        }
        Edit::SpacesToTab(i) => {
            let spaces = positions(b, b' ');
            if !spaces.is_empty() {
                let p = spaces[i.index(spaces.len())];
                b[p] = b'\t';
            }
        }
        Edit::SwapLines(x, y) => {
            if let (Some(r1), Some(r2)) = (line_at(b, *x), line_at(b, *y))
                && r1.end <= r2.start
            {
                let l1 = b[r1.clone()].to_vec();
                let l2 = b[r2.clone()].to_vec();
                if l1.ends_with(b"\n") && l2.ends_with(b"\n") {
                    b.splice(r2, l1);
                    b.splice(r1, l2);
                }
            }
        }
    }
}

#[test]
fn base_config_is_clean() {
    let file = SourceFile::new(FileId(0), "base.cf", BASE.as_bytes());
    let diags = lint::lint_source(&file, &CompileOptions::default(), false);
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == lint::Severity::Error)
        .map(|d| {
            let l = file.locate(d.span.start as usize);
            format!("{}:{} {} {}", l.line, l.column, d.rule, d.message)
        })
        .collect();
    assert!(
        errors.is_empty(),
        "the mutation base has errors: {errors:#?}"
    );
    run_all(BASE.as_bytes());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        run_all(&bytes);
    }

    #[test]
    fn config_alphabet_bytes(bytes in proptest::collection::vec(config_bytes(), 0..4096)) {
        run_all(&bytes);
    }

    #[test]
    fn mutated_config(edits in proptest::collection::vec(edit(), 1..12)) {
        let mut b = BASE.as_bytes().to_vec();
        for e in &edits {
            apply(&mut b, e);
        }
        run_all(&b);
    }

    #[test]
    fn mutated_config_crlf(edits in proptest::collection::vec(edit(), 0..6)) {
        let mut b = BASE.replace('\n', "\r\n").into_bytes();
        for e in &edits {
            apply(&mut b, e);
        }
        run_all(&b);
    }

    #[test]
    fn truncated_config(cut in any::<Index>()) {
        let b = BASE.as_bytes();
        run_all(&b[..cut.index(b.len() + 1)]);
    }
}
