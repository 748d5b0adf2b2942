//! The worked examples of grammar/cf.ebnf, checked against cfmap's reader and compiler.
//!
//! Every line of the grammar of the form `(* example: TEXT *)` must read and compile
//! without any problem; every `(* example-error: TEXT *)` must give at least one. In TEXT,
//! `\t` is a TAB, `\n` a newline and `\\` a backslash. Each TEXT is read as the tail of a
//! small file (level 10, standard operator characters, ruleset 0 current).

use std::path::Path;

use cfmap::cf::{self, FileId, LineKind, SourceFile};
use cfmap::ir::{self, CompileOptions};

/// What every example is appended to.
const PREFIX: &str = "V10/Berkeley\nO OperatorChars=.:%@!^/[]+\nS0\n";

#[derive(Debug)]
struct Example {
    /// 1-based line in grammar/cf.ebnf.
    line: usize,
    /// Must give a problem.
    error: bool,
    /// The decoded bytes.
    text: Vec<u8>,
}

fn grammar() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/cf.ebnf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Decode `\t`, `\n` and `\\`; any other byte (a lone backslash too) stands for itself.
fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Every example of the grammar. A line that starts like an example but does not have
/// the exact form is an error in the grammar file.
fn examples() -> Vec<Example> {
    let text = grammar();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with("(* example") {
            continue;
        }
        let (error, rest) = if let Some(r) = line.strip_prefix("(* example: ") {
            (false, r)
        } else if let Some(r) = line.strip_prefix("(* example-error: ") {
            (true, r)
        } else {
            panic!("grammar/cf.ebnf:{}: malformed example line: {line}", i + 1);
        };
        let body = rest.strip_suffix(" *)").unwrap_or_else(|| {
            panic!(
                "grammar/cf.ebnf:{}: example must end with \" *)\": {line}",
                i + 1
            )
        });
        assert!(
            !body.contains("*)") && !body.contains("(*"),
            "grammar/cf.ebnf:{}: example contains a comment delimiter: {line}",
            i + 1
        );
        assert!(!body.is_empty(), "grammar/cf.ebnf:{}: empty example", i + 1);
        out.push(Example {
            line: i + 1,
            error,
            text: decode(body),
        });
    }
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

/// All problems the reader and the compiler report for the example after [`PREFIX`].
fn problems(ex: &Example) -> Vec<String> {
    let mut bytes = PREFIX.as_bytes().to_vec();
    bytes.extend_from_slice(&ex.text);
    bytes.push(b'\n');
    let file = SourceFile::new(FileId(0), "example.cf", &bytes);
    let syntax = cf::parse(&file);
    let ir = ir::compile(&syntax, &CompileOptions::default());
    let mut out: Vec<String> = syntax
        .problems
        .iter()
        .map(|p| format!("read: {:?}: {}", p.kind, p.message))
        .collect();
    out.extend(
        ir.problems
            .iter()
            .map(|p| format!("compile: {:?}: {}", p.kind, p.message)),
    );
    out
}

#[test]
fn grammar_has_enough_examples() {
    let all = examples();
    let valid = all.iter().filter(|e| !e.error).count();
    let errors = all.len() - valid;
    assert!(all.len() >= 30, "only {} examples", all.len());
    assert!(valid >= 20, "only {valid} valid examples");
    assert!(errors >= 10, "only {errors} error examples");
    // One valid example at least for every line type.
    for letter in b"VDCTFKSROMHPQEX#" {
        assert!(
            all.iter().any(|e| !e.error
                && e.text
                    .split(|&b| b == b'\n')
                    .any(|l| l.first() == Some(letter))),
            "no valid example of a {} line",
            *letter as char
        );
    }
    // And one error example for each unsupported letter.
    for letter in b"LG" {
        assert!(
            all.iter()
                .any(|e| e.error && e.text.first() == Some(letter)),
            "no error example of an {} line",
            *letter as char
        );
    }
}

#[test]
fn valid_examples_read_and_compile_cleanly() {
    let mut failures = Vec::new();
    for ex in examples().iter().filter(|e| !e.error) {
        let p = problems(ex);
        if !p.is_empty() {
            failures.push(format!(
                "grammar/cf.ebnf:{}: {}\n    {}",
                ex.line,
                show(&ex.text),
                p.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "valid examples with problems:\n{}",
        failures.join("\n")
    );
}

#[test]
fn error_examples_report_a_problem() {
    let mut failures = Vec::new();
    for ex in examples().iter().filter(|e| e.error) {
        if problems(ex).is_empty() {
            failures.push(format!("grammar/cf.ebnf:{}: {}", ex.line, show(&ex.text)));
        }
    }
    assert!(
        failures.is_empty(),
        "error examples without any problem:\n{}",
        failures.join("\n")
    );
}

/// The kind a line with this first byte is read as (when it is well formed).
fn kind_name(k: &LineKind) -> &'static str {
    match k {
        LineKind::Empty => "empty",
        LineKind::Comment => "comment",
        LineKind::Version(_) => "version",
        LineKind::Define(_) => "define",
        LineKind::Class(c) if c.trusted => "trusted",
        LineKind::Class(_) => "class",
        LineKind::FileClass(_) => "file-class",
        LineKind::Map(_) => "map",
        LineKind::Ruleset(_) => "ruleset",
        LineKind::Rule(_) => "rule",
        LineKind::Option(_) => "option",
        LineKind::Mailer(_) => "mailer",
        LineKind::Header(_) => "header",
        LineKind::Precedence(_) => "precedence",
        LineKind::Queue(_) => "queue",
        LineKind::Env(_) => "env",
        LineKind::Milter(_) => "milter",
        LineKind::Unsupported(_) => "unsupported",
        LineKind::Unknown => "unknown",
    }
}

fn expected_kind(first: Option<u8>) -> &'static str {
    match first {
        None => "empty",
        Some(b'#') => "comment",
        Some(b'V') => "version",
        Some(b'D') => "define",
        Some(b'C') => "class",
        Some(b'T') => "trusted",
        Some(b'F') => "file-class",
        Some(b'K') => "map",
        Some(b'S') => "ruleset",
        Some(b'R') => "rule",
        Some(b'O') => "option",
        Some(b'M') => "mailer",
        Some(b'H') => "header",
        Some(b'P') => "precedence",
        Some(b'Q') => "queue",
        Some(b'E') => "env",
        Some(b'X') => "milter",
        Some(b'L') | Some(b'G') => "unsupported",
        Some(_) => "unknown",
    }
}

#[test]
fn example_lines_have_the_kind_of_their_first_letter() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for ex in examples() {
        let file = SourceFile::new(FileId(0), "example.cf", &ex.text);
        let syntax = cf::parse(&file);
        for line in &syntax.lines {
            let first = file.slice(line.span).first().copied();
            let want = expected_kind(first);
            let got = kind_name(&line.kind);
            checked += 1;
            // A malformed line of a known type may be dropped as unknown.
            let ok = got == want || (ex.error && got == "unknown");
            if !ok {
                failures.push(format!(
                    "grammar/cf.ebnf:{}: {}: line {:?} read as {got}, expected {want}",
                    ex.line,
                    show(&ex.text),
                    show(file.slice(line.span))
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} lines checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn decode_escapes() {
    assert_eq!(decode(r"R$*\t$@ $1"), b"R$*\t$@ $1");
    assert_eq!(decode(r"a\nb"), b"a\nb");
    assert_eq!(decode(r"E=\\r\\n"), br"E=\r\n");
    assert_eq!(decode(r"\x"), br"\x");
}
