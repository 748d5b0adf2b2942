//! The built `cfmap` binary fed files no one should write: binary garbage, NUL bytes,
//! bytes that are not UTF-8, a 1 MB line, files cut off mid-line, CRLF line ends, a
//! file of nothing but continuation lines, an empty file; plus the exit codes for inputs
//! that cannot be read and for usage errors.
//!
//! Every input goes through `cfmap lint` in the `short`, `json` and `human` formats and
//! through `cfmap compile -C`. None may panic; lint exits 0 or 1, compile exits 0; every
//! reported position must lie inside the file; the three lint formats must agree on where
//! each finding is.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// What one run of the binary left behind.
struct Run {
    stdout: Vec<u8>,
    stderr: String,
    code: i32,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn cfmap(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("run cfmap");
    let run = Run {
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        // No code means a signal (SIGSEGV, SIGABRT from a double panic): as bad as a panic.
        code: out.status.code().unwrap_or(-1),
    };
    assert!(
        run.code != 101 && run.code != -1 && !run.stderr.contains("panicked"),
        "cfmap {args:?} crashed (exit {}):\n{}",
        run.code,
        run.stderr
    );
    run
}

/// One finding as the JSON format reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    offset: usize,
    length: usize,
    severity: String,
    rule: String,
    message: String,
}

/// One finding as the short format reports it: (line, column, severity, rule).
type ShortFinding = (usize, usize, String, String);

/// The outcome of running everything on one input.
struct Outcome {
    findings: Vec<Finding>,
    short: Vec<ShortFinding>,
    human: String,
    lint_code: i32,
}

const NAME: &str = "in.cf";

/// Write `bytes` to `in.cf` in a scratch directory and run lint (short, json, human) and
/// compile on it, checking what every input must satisfy.
fn check(bytes: &[u8]) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(NAME), bytes).unwrap();
    let d = dir.path();
    let lint = |format: &str| {
        cfmap(
            d,
            &[
                "lint",
                "--hostname",
                "vm.example.com",
                "--color",
                "never",
                "--format",
                format,
                NAME,
            ],
        )
    };

    let short = lint("short");
    let json = lint("json");
    let human = lint("human");
    for r in [&short, &json, &human] {
        assert!(
            r.code == 0 || r.code == 1,
            "lint exit {} (want 0 or 1); stderr: {}",
            r.code,
            r.stderr
        );
        assert!(r.stderr.is_empty(), "lint stderr: {}", r.stderr);
    }
    assert_eq!(short.code, json.code, "short and json exit codes differ");
    assert_eq!(short.code, human.code, "short and human exit codes differ");

    let compile = cfmap(d, &["compile", "--hostname", "vm.example.com", "-C", NAME]);
    assert_eq!(compile.code, 0, "compile stderr: {}", compile.stderr);
    assert!(
        compile.stderr.is_empty(),
        "compile stderr: {}",
        compile.stderr
    );
    assert!(!compile.stdout.is_empty(), "compile printed nothing");
    let compile_json = cfmap(
        d,
        &["compile", "--emit", "json", "--hostname", "h", "-C", NAME],
    );
    assert_eq!(compile_json.code, 0, "stderr: {}", compile_json.stderr);
    serde_json::from_slice::<Value>(&compile_json.stdout).expect("compile --emit json is JSON");

    let findings = parse_json(&json.stdout);
    let short_findings = parse_short(&short.stdout());
    let has_error = findings.iter().any(|f| f.severity == "error");
    assert_eq!(
        short.code,
        i32::from(has_error),
        "exit code does not match the findings' severities: {findings:#?}"
    );

    check_positions(bytes, &findings);
    let from_json: Vec<ShortFinding> = findings
        .iter()
        .map(|f| (f.line, f.column, f.severity.clone(), f.rule.clone()))
        .collect();
    assert_eq!(from_json, short_findings, "short and json disagree");

    let human_out = human.stdout();
    if findings.is_empty() {
        assert!(
            human_out.is_empty(),
            "human output without findings: {human_out}"
        );
    }
    for f in &findings {
        assert!(human_out.contains(&f.rule), "human output lacks {}", f.rule);
    }
    Outcome {
        findings,
        short: short_findings,
        human: human_out,
        lint_code: short.code,
    }
}

fn parse_json(stdout: &[u8]) -> Vec<Finding> {
    let v: Value = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "lint --format json is not JSON ({e}): {}",
            String::from_utf8_lossy(stdout)
        )
    });
    let arr = v.as_array().expect("json output is an array");
    arr.iter()
        .map(|d| {
            let n = |k: &str| {
                d[k].as_u64()
                    .unwrap_or_else(|| panic!("{k} is not a number in {d}"))
                    as usize
            };
            let s = |k: &str| {
                d[k].as_str()
                    .unwrap_or_else(|| panic!("{k} is not a string in {d}"))
                    .to_string()
            };
            assert_eq!(s("file"), NAME);
            Finding {
                line: n("line"),
                column: n("column"),
                end_line: n("end_line"),
                end_column: n("end_column"),
                offset: n("offset"),
                length: n("length"),
                severity: s("severity"),
                rule: s("rule"),
                message: s("message"),
            }
        })
        .collect()
}

/// Parse `in.cf:LINE:COL: SEVERITY[RULE]: message` lines. A message may itself hold a
/// newline (sendmail's folded lines keep theirs), so lines that do not start a finding
/// are taken as the tail of the previous one.
fn parse_short(stdout: &str) -> Vec<ShortFinding> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("in.cf:") else {
            assert!(!out.is_empty(), "short output starts with {line:?}");
            continue;
        };
        let mut parts = rest.splitn(3, ':');
        let l = parts.next().and_then(|s| s.parse().ok());
        let c = parts.next().and_then(|s| s.parse().ok());
        let tail = parts.next().unwrap_or("");
        let (Some(l), Some(c)) = (l, c) else {
            assert!(!out.is_empty(), "malformed short line {line:?}");
            continue;
        };
        let tail = tail.strip_prefix(' ').expect("space after column");
        let open = tail.find('[').expect("[rule]");
        let close = tail.find("]: ").expect("]: ");
        out.push((
            l,
            c,
            tail[..open].to_string(),
            tail[open + 1..close].to_string(),
        ));
    }
    out
}

/// Every position must be inside the file: lines and columns 1-based and on an existing
/// line (a column may be one past the line's last byte), start before end, and the byte
/// offset and length inside the file as it is on disk.
fn check_positions(raw: &[u8], findings: &[Finding]) {
    let text = normalize(raw);
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let ok = |line: usize, col: usize| {
        line >= 1 && line <= lines.len() && col >= 1 && col <= lines[line - 1].len() + 1
    };
    for f in findings {
        assert!(ok(f.line, f.column), "start outside the file: {f:?}");
        assert!(ok(f.end_line, f.end_column), "end outside the file: {f:?}");
        assert!(
            (f.line, f.column) <= (f.end_line, f.end_column),
            "end before start: {f:?}"
        );
        assert!(
            f.offset + f.length <= raw.len(),
            "offset/length past the end of the file ({} bytes): {f:?}",
            raw.len()
        );
    }
}

/// The file as cfmap counts it: CR LF → LF.
fn normalize(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if !(raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n')) {
            out.push(raw[i]);
        }
        i += 1;
    }
    out
}

/// Findings of one rule, as (line, column).
fn at(o: &Outcome, rule: &str) -> Vec<(usize, usize)> {
    o.findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.line, f.column))
        .collect()
}

/// The human format names the place of every finding as `[in.cf:LINE:COL]`.
fn assert_human_locations(o: &Outcome) {
    for f in &o.findings {
        let tag = format!("[{NAME}:{}:{}]", f.line, f.column);
        assert!(
            o.human.contains(&tag),
            "human output lacks {tag}:\n{}",
            o.human
        );
    }
}

/// A small but complete configuration: the base most inputs below are made from.
const BASE: &str = "\
V10/Berkeley
Cwlocalhost
Djvm.example.com
O OperatorChars=.:%@!^/[]+
O AliasWait=10
Kaccess hash -o /etc/mail/access
Mlocal, P=/bin/true, F=lsm, S=0, R=0, A=true
S0
R$+ < @ $=w . >\t$#local $: $1
R$+\t$: $(access $1 $: OK $)
R$*\t$#local $: $1
S1
R$*\t$: $>0 $1
";

/// A fixed-seed xorshift64 byte stream.
fn xorshift_bytes(mut seed: u64, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(n);
    out
}

#[test]
fn base_config_is_clean() {
    let o = check(BASE.as_bytes());
    assert_eq!(o.lint_code, 0, "{:#?}", o.findings);
}

#[test]
fn binary_garbage() {
    for seed in [0x9E37_79B9_7F4A_7C15u64, 1, 0xdead_beef] {
        check(&xorshift_bytes(seed, 64 * 1024));
    }
}

#[test]
fn garbage_with_config_letters() {
    // Garbage that is mostly line letters, `$` syntax and newlines, so more of it reaches
    // the deeper parsers than uniform random bytes do.
    let alphabet = b"RSDCKFOMVHPTLXEG$$$$(){}[]<>@.:*+-=~#>&!|0123456789 \t\t\n\n\n\0\x80\xff";
    let noise = xorshift_bytes(42, 64 * 1024);
    let bytes: Vec<u8> = noise
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()])
        .collect();
    check(&bytes);
}

#[test]
fn nul_bytes_inside_lines() {
    let cf = b"V10/Berkeley\nDj\0vm.example.com\nS0\nR$*\t$: a\0b\nR$+ \0\t$@ $1\n";
    let o = check(cf);
    assert_eq!(o.lint_code, 1);
    // Each NUL is reported under syntax-error at its own column.
    let nuls: Vec<(usize, usize)> = o
        .findings
        .iter()
        .filter(|f| f.rule == "syntax-error" && f.message.contains("NUL"))
        .map(|f| (f.line, f.column))
        .collect();
    assert_eq!(nuls, vec![(2, 3), (4, 9), (5, 5)], "{:#?}", o.findings);
    assert_human_locations(&o);

    // A NUL as the very first byte of a line, and a file of NULs only.
    check(b"\0\n\0\0\0\nV10\n\0S0\n");
    check(&[0u8; 4096]);
}

#[test]
fn invalid_utf8_in_r_and_d_lines() {
    // Latin-1 é, a lone continuation byte, an overlong encoding, a truncated sequence, and
    // the C1 range sendmail uses for its own metacharacters.
    let mut cf = Vec::new();
    cf.extend_from_slice(b"V10/Berkeley\n");
    cf.extend_from_slice(b"D\xe9caf\xe9\n");
    cf.extend_from_slice(b"Dj\xc3\x28\xa0\xa1\n");
    cf.extend_from_slice(b"D{caf\xe9}x\n");
    cf.extend_from_slice(b"C{\xff}a b\n");
    cf.extend_from_slice(b"S0\n");
    cf.extend_from_slice(b"R\xe9$*\t$: \xe9\xe9 $1\n");
    cf.extend_from_slice(b"R$* \x81 \x9f\t$@ \xc0\xaf $1\n");
    cf.extend_from_slice(b"R$+\t$: \xe9 $(acc\xe9ss $1\n");
    cf.extend_from_slice(b"R$+\t$: $\xe9 $1\n");
    let o = check(&cf);
    assert_eq!(o.lint_code, 1);
    // Columns count bytes, not characters: `$(` on line 9 is at byte 10 of the line.
    assert_eq!(
        at(&o, "unbalanced-lookup"),
        vec![(9, 10)],
        "{:#?}",
        o.findings
    );
    // The bad name in braces is reported on its line.
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "syntax-error" && f.line == 4),
        "{:#?}",
        o.findings
    );
    for f in &o.findings {
        assert!(!f.message.is_empty());
    }
}

#[test]
fn one_megabyte_line() {
    // An R line whose LHS is 1 MB of tokens, then a line with a known finding so the
    // positions after the long line can be checked.
    let mut cf = b"V10/Berkeley\nS0\nR".to_vec();
    cf.extend(b"a ".repeat(500_000));
    cf.extend_from_slice(b"\t$@ x\nR$*\t$: $(x $1\n");
    let o = check(&cf);
    assert_eq!(o.lint_code, 1);
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "syntax-error" && f.line == 3 && f.column == 2),
        "the long LHS is reported at 3:2: {:#?}",
        o.findings
    );
    assert_eq!(at(&o, "unbalanced-lookup"), vec![(4, 8)]);

    // One 1 MB word (a single token far over MAXNAME) and a 1 MB D line.
    let mut cf = b"V10/Berkeley\nS0\nR".to_vec();
    cf.extend(vec![b'x'; 1 << 20]);
    cf.extend_from_slice(b"\t$@ x\nD{big}");
    cf.extend(vec![b'y'; 1 << 20]);
    cf.push(b'\n');
    check(&cf);
}

#[test]
fn truncated_mid_line() {
    // Cut the base config in the middle of every line (no final newline).
    let base = BASE.as_bytes();
    let mut start = 0;
    for (i, &b) in base.iter().enumerate() {
        if b == b'\n' {
            let mid = (start + i) / 2;
            check(&base[..mid]);
            start = i + 1;
        }
    }
}

#[test]
fn truncated_in_long_macro_name() {
    for cut in [b"${".as_slice(), b"${l", b"${long", b"${long_na"] {
        let mut cf = b"V10/Berkeley\nS0\nR$*\t$: ".to_vec();
        cf.extend_from_slice(cut);
        let o = check(&cf);
        assert_eq!(o.lint_code, 1, "{:?}", String::from_utf8_lossy(&cf));
        // The unbalanced `{` is reported where the `$` is.
        assert!(
            o.findings
                .iter()
                .any(|f| f.rule == "syntax-error" && (f.line, f.column) == (3, 8)),
            "{:?}: {:#?}",
            String::from_utf8_lossy(&cf),
            o.findings
        );
        assert_human_locations(&o);
    }
    // The same cut in D and C lines and in a class reference.
    check(b"V10\nD{long");
    check(b"V10\nC{long");
    check(b"V10\nS0\nR$={long");
    check(b"V10\nS0\nR$*\t$: $&{lo");
}

#[test]
fn unterminated_lookup() {
    let cf =
        b"V10/Berkeley\nKaccess hash /etc/mail/access\nS0\nR$+\t$: $(access $1 $: OK\nR$*\t$@ $1\n";
    let o = check(cf);
    assert_eq!(o.lint_code, 1);
    assert_eq!(
        at(&o, "unbalanced-lookup"),
        vec![(4, 8)],
        "{:#?}",
        o.findings
    );
    assert_human_locations(&o);

    // At the very end of the file, with nothing after `$(`.
    let o = check(b"V10/Berkeley\nS0\nR$*\t$: $(");
    assert_eq!(
        at(&o, "unbalanced-lookup"),
        vec![(3, 8)],
        "{:#?}",
        o.findings
    );
    // Host lookup `$[`, and `$(` in the LHS.
    let o = check(b"V10/Berkeley\nS0\nR$*\t$: $[ $1\n");
    assert_eq!(
        at(&o, "unbalanced-lookup"),
        vec![(3, 8)],
        "{:#?}",
        o.findings
    );
    check(b"V10/Berkeley\nS0\nR$( $*\t$@ $1\n");
}

#[test]
fn crlf_matches_lf() {
    // Everything with findings, so there are positions to compare.
    let mut lf = BASE.as_bytes().to_vec();
    lf.extend_from_slice(b"R$+\t$: $(access $1\nR$*\t$: a\0b\nS-x\nR$*\t$: ${lon\n");
    lf.extend_from_slice(b"Znot a line\n continued\nR$+\t$: $)\n");
    let crlf: Vec<u8> = lf
        .split(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .join(&b"\r\n"[..]);
    let a = check(&lf);
    let b = check(&crlf);
    assert!(!a.findings.is_empty());
    assert_eq!(a.short, b.short, "short output differs between LF and CRLF");
    assert_eq!(a.lint_code, b.lint_code);
    let pos = |o: &Outcome| -> Vec<_> {
        o.findings
            .iter()
            .map(|f| (f.line, f.column, f.end_line, f.end_column, f.rule.clone()))
            .collect()
    };
    assert_eq!(
        pos(&a),
        pos(&b),
        "json positions differ between LF and CRLF"
    );
    // The offsets are into the file on disk, so they point at the same bytes.
    for (fa, fb) in a.findings.iter().zip(&b.findings) {
        assert_eq!(
            lf[fa.offset], crlf[fb.offset],
            "offset {} (LF) and {} (CRLF) name different bytes: {fa:?}",
            fa.offset, fb.offset
        );
        let line_before = lf[..fa.offset].iter().filter(|&&c| c == b'\n').count();
        assert_eq!(fb.offset, fa.offset + line_before, "CRLF offset of {fb:?}");
    }
    assert_eq!(a.human, b.human, "human output differs between LF and CRLF");

    // Mixed endings and lone CRs.
    check(b"V10\r\nS0\nR$*\t$: $(x\r\n\rR$*\r\t$@ $1\r");
}

#[test]
fn only_continuation_lines() {
    let o = check(b" foo\n\tbar\n  $(x\n\t$)\n \n\t\n");
    assert!(
        o.findings.iter().all(|f| f.line == 1 && f.column == 1),
        "{:#?}",
        o.findings
    );
    check(b"\t");
    check(b" \n \n \n");
    check(&b"\t$(a $[ ${x $)\n".repeat(1000));
}

#[test]
fn empty_and_blank_files() {
    let o = check(b"");
    assert_eq!(o.lint_code, 0);
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
    check(b"\n");
    check(b"\n\n\n");
    check(b"\r\n");
    check(b"#\n#comment\n");
}

// ---- exit codes --------------------------------------------------------------------

#[test]
fn nonexistent_input_is_noinput() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = cfmap(d, &["lint", "no-such.cf"]);
    assert_eq!(r.code, 66, "{}", r.stderr);
    assert!(r.stderr.contains("no-such.cf"), "{}", r.stderr);
    let r = cfmap(d, &["compile", "-C", "no-such.cf"]);
    assert_eq!(r.code, 66, "{}", r.stderr);
    assert!(r.stderr.contains("no-such.cf"), "{}", r.stderr);

    // A readable file beside it is still linted, and its findings printed.
    std::fs::write(d.join("bad.cf"), b"V10\nS0\nR$*\t$: $(x\n").unwrap();
    let r = cfmap(d, &["lint", "--format", "short", "bad.cf", "no-such.cf"]);
    assert_eq!(r.code, 66, "{}", r.stderr);
    assert!(r.stdout().contains("bad.cf:3:8"), "{}", r.stdout());
}

#[test]
fn directory_input_is_noinput() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub.cf")).unwrap();
    for args in [
        &["lint", "sub.cf"][..],
        &["lint", "--format", "json", "sub.cf"],
        &["compile", "-C", "sub.cf"],
        &["compile", "-C", "."],
    ] {
        let r = cfmap(d, args);
        assert_eq!(r.code, 66, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn unknown_flag_is_usage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ok.cf"), BASE).unwrap();
    for args in [
        &["lint", "--no-such-flag", "ok.cf"][..],
        &["lint", "-Z", "ok.cf"],
        &["lint", "--format", "xml", "ok.cf"],
        &["compile", "--no-such-flag", "-C", "ok.cf"],
        &["compile", "--emit", "yaml", "-C", "ok.cf"],
        &["--no-such-flag"],
        &["no-such-command"],
        &["lint"],
        &["compile"],
        &[],
    ] {
        let r = cfmap(d, args);
        assert_eq!(r.code, 64, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{args:?}: no usage message");
    }
    let r = cfmap(d, &["lint", "--explain", "no-such-rule"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
}
