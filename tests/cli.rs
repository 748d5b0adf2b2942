//! The command line as a user sees it: exit statuses, the stable output formats
//! (`short`, `json`, `github`), `--explain`, `--list-rules` and `compile`, driving the
//! real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

const PREAMBLE: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nMlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n";

/// An error (the R line has blanks, no TAB), a warning (check_mail selected twice) and
/// another error ($3 with one wildcard), in that order.
const MISTAKES: &str = "S0\nR$* < @ $+ >    $#local $: $1\nR$*\t$#local $: $1\nScheck_mail\nR$*\t$: $1\nScheck_mail\nR$+\t$@ $3\n";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/example")
}

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Run cfmap with `args` in `dir`.
fn cfmap(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("run cfmap");
    Run {
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().expect("exit code"),
    }
}

/// A scratch directory holding `name` with the preamble and `body`.
fn scratch(name: &str, body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(name), format!("{PREAMBLE}{body}")).unwrap();
    dir
}

#[test]
fn the_example_lints_clean() {
    let r = cfmap(&example(), &["lint", "--deny", "info", "site.cf"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "");
    // Also from the top of the repository, as the README runs it.
    let r = cfmap(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["lint", "testdata/example/site.cf"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn an_error_exits_1() {
    let dir = scratch("bad.cf", "S0\nR$* < @ $+ >    $#local $: $1\n");
    let r = cfmap(dir.path(), &["lint", "--format", "short", "bad.cf"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("bad.cf:6:2: error[missing-tab]:"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stderr, "");
}

#[test]
fn deny_warnings_fails_on_warnings_only() {
    let dir = scratch(
        "warn.cf",
        "S0\nR$*\t$#local $: $1\nScheck_mail\nR$*\t$: $1\nScheck_mail\nR$+\t$@ $1\n",
    );
    let r = cfmap(dir.path(), &["lint", "--format", "short", "warn.cf"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("warning[duplicate-ruleset]"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(": error["), "{}", r.stdout);
    let r = cfmap(
        dir.path(),
        &["lint", "--format", "short", "--deny", "warnings", "warn.cf"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let r = cfmap(
        dir.path(),
        &["lint", "--format", "short", "--deny", "info", "warn.cf"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
}

#[test]
fn deny_info_fails_on_info_only() {
    let dir = scratch("info.cf", "O BlankS=.\nS0\nR$*\t$#local $: $1\n");
    let r = cfmap(dir.path(), &["lint", "--format", "short", "info.cf"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("info[option-abbreviation]"),
        "{}",
        r.stdout
    );
    let r = cfmap(
        dir.path(),
        &["lint", "--format", "short", "--deny", "warnings", "info.cf"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = cfmap(
        dir.path(),
        &["lint", "--format", "short", "--deny", "info", "info.cf"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
}

#[test]
fn usage_errors_exit_64() {
    let here = example();
    for args in [
        &["lint", "--no-such-option", "site.cf"][..],
        &["lint", "--format", "xml", "site.cf"],
        &["lint", "--explain", "no-such-rule"],
        &["lint"],
        &["compile"],
        &["no-such-command"],
    ] {
        let r = cfmap(&here, args);
        assert_eq!(r.code, 64, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(!r.stderr.is_empty(), "{args:?} says nothing");
    }
}

#[test]
fn a_missing_file_exits_66() {
    let dir = tempfile::tempdir().unwrap();
    let r = cfmap(dir.path(), &["lint", "nonexistent.cf"]);
    assert_eq!(r.code, 66, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("nonexistent.cf"), "{}", r.stderr);
    let r = cfmap(dir.path(), &["compile", "-C", "nonexistent.cf"]);
    assert_eq!(r.code, 66, "{}{}", r.stdout, r.stderr);
    // An unreadable file wins over findings in the readable ones.
    std::fs::write(dir.path().join("bad.cf"), "S0\nR$* $@ x\n").unwrap();
    let r = cfmap(dir.path(), &["lint", "bad.cf", "nonexistent.cf"]);
    assert_eq!(r.code, 66, "{}{}", r.stdout, r.stderr);
}

fn json_findings(dir: &Path, file: &str) -> Vec<serde_json::Value> {
    let r = cfmap(dir, &["lint", "--format", "json", file]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON output");
    v.as_array().expect("one array").clone()
}

#[test]
fn json_has_the_documented_fields() {
    let dir = scratch("bad.cf", MISTAKES);
    let all = json_findings(dir.path(), "bad.cf");
    assert!(all.len() >= 3, "{all:?}");
    let text = std::fs::read(dir.path().join("bad.cf")).unwrap();
    for d in &all {
        let o = d.as_object().expect("an object");
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "column",
                "end_column",
                "end_line",
                "file",
                "help",
                "labels",
                "length",
                "line",
                "message",
                "offset",
                "rule",
                "severity"
            ]
        );
        assert_eq!(o["file"], "bad.cf");
        for k in ["line", "column", "end_line", "end_column"] {
            assert!(o[k].as_u64().unwrap() >= 1, "{k} in {d}");
        }
        assert!(["error", "warning", "info"].contains(&o["severity"].as_str().unwrap()));
        let rule = o["rule"].as_str().unwrap();
        assert!(cfmap::lint::rule(rule).is_some(), "unknown rule {rule}");
        assert!(o["message"].is_string());
        assert!(o["help"].is_string() || o["help"].is_null());
        for l in o["labels"].as_array().unwrap() {
            let mut keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["column", "end_column", "end_line", "line", "message"]
            );
        }
        // offset/length and line/column name the same bytes.
        let offset = o["offset"].as_u64().unwrap() as usize;
        let length = o["length"].as_u64().unwrap() as usize;
        let line = o["line"].as_u64().unwrap() as usize;
        let column = o["column"].as_u64().unwrap() as usize;
        let line_start = text
            .split_inclusive(|b| *b == b'\n')
            .take(line - 1)
            .map(<[u8]>::len)
            .sum::<usize>();
        assert_eq!(offset, line_start + column - 1, "{d}");
        assert!(offset + length <= text.len());
    }
    let first = all[0].as_object().unwrap();
    assert_eq!(first["rule"], "missing-tab");
    assert_eq!(first["severity"], "error");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(6), Some(2))
    );
    let dup = all
        .iter()
        .find(|d| d["rule"] == "duplicate-ruleset")
        .expect("duplicate-ruleset finding");
    assert_eq!(dup["severity"], "warning");
    assert_eq!(dup["line"], 10);
    assert_eq!(dup["labels"][0]["line"], 8);
}

#[test]
fn json_offsets_count_the_bytes_on_disk_in_a_crlf_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{PREAMBLE}{MISTAKES}").replace('\n', "\r\n");
    std::fs::write(dir.path().join("crlf.cf"), &text).unwrap();
    for d in json_findings(dir.path(), "crlf.cf") {
        let offset = d["offset"].as_u64().unwrap() as usize;
        let length = d["length"].as_u64().unwrap() as usize;
        let line = d["line"].as_u64().unwrap() as usize;
        let column = d["column"].as_u64().unwrap() as usize;
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        assert_eq!(offset, line_start + column - 1, "{d}");
        if d["rule"] == "missing-tab" {
            assert_eq!(&text[offset..offset + 4], "$* <", "{d}");
        }
        if d["rule"] == "rhs-out-of-bounds" {
            assert_eq!(&text[offset..offset + length], "$3", "{d}");
        }
    }
}

#[test]
fn json_of_a_clean_file_is_an_empty_array() {
    let r = cfmap(&example(), &["lint", "--format", "json", "site.cf"]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v, serde_json::json!([]));
}

/// `prefix` then digits, then what follows them.
fn number<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(prefix)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| &rest[digits..])
}

#[test]
fn github_lines_are_workflow_commands() {
    let dir = scratch("bad.cf", MISTAKES);
    let r = cfmap(dir.path(), &["lint", "--format", "github", "bad.cf"]);
    assert_eq!(r.code, 1);
    let names: Vec<&str> = cfmap::lint::RULES.iter().map(|r| r.name).collect();
    let mut levels = Vec::new();
    for line in r.stdout.lines() {
        // ^::(error|warning|notice) file=F,line=N,col=N,endLine=N,endColumn=N,title=RULE::MESSAGE$
        let rest = line.strip_prefix("::").unwrap_or_else(|| panic!("{line}"));
        let (level, rest) = rest.split_once(' ').unwrap();
        assert!(["error", "warning", "notice"].contains(&level), "{line}");
        levels.push(level);
        let rest = rest
            .strip_prefix("file=bad.cf,")
            .unwrap_or_else(|| panic!("{line}"));
        let rest = number(rest, "line=").unwrap_or_else(|| panic!("{line}"));
        let rest = number(rest, ",col=").unwrap_or_else(|| panic!("{line}"));
        let rest = number(rest, ",endLine=").unwrap_or_else(|| panic!("{line}"));
        let rest = number(rest, ",endColumn=").unwrap_or_else(|| panic!("{line}"));
        let rest = rest
            .strip_prefix(",title=")
            .unwrap_or_else(|| panic!("{line}"));
        let (title, message) = rest.split_once("::").unwrap_or_else(|| panic!("{line}"));
        assert!(names.contains(&title), "{line}");
        assert!(!message.is_empty(), "{line}");
    }
    assert_eq!(levels, ["error", "warning", "error"], "{}", r.stdout);
    assert!(r.stdout.starts_with(
        "::error file=bad.cf,line=6,col=2,endLine=6,endColumn=30,title=missing-tab::"
    ));
}

#[test]
fn github_escapes_property_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a,b:c.cf"),
        format!("{PREAMBLE}S0\nR$* $@ x\n"),
    )
    .unwrap();
    let r = cfmap(dir.path(), &["lint", "--format", "github", "a,b:c.cf"]);
    assert!(
        r.stdout.starts_with("::error file=a%2Cb%3Ac.cf,line=6,"),
        "{}",
        r.stdout
    );
}

#[test]
fn short_lines_are_file_line_col_severity_rule_message() {
    let dir = scratch("bad.cf", MISTAKES);
    let r = cfmap(dir.path(), &["lint", "--format", "short", "bad.cf"]);
    assert_eq!(r.code, 1);
    let names: Vec<&str> = cfmap::lint::RULES.iter().map(|r| r.name).collect();
    let mut count = 0;
    for line in r.stdout.lines() {
        // file:line:col: severity[rule]: message
        let rest = line
            .strip_prefix("bad.cf:")
            .unwrap_or_else(|| panic!("{line}"));
        let rest = number(rest, "").unwrap_or_else(|| panic!("{line}"));
        let rest = number(rest, ":").unwrap_or_else(|| panic!("{line}"));
        let rest = rest.strip_prefix(": ").unwrap_or_else(|| panic!("{line}"));
        let (severity, rest) = rest.split_once('[').unwrap_or_else(|| panic!("{line}"));
        assert!(["error", "warning", "info"].contains(&severity), "{line}");
        let (rule, message) = rest.split_once("]: ").unwrap_or_else(|| panic!("{line}"));
        assert!(names.contains(&rule), "{line}");
        assert!(!message.is_empty(), "{line}");
        count += 1;
    }
    assert!(count >= 3, "{}", r.stdout);
    assert_eq!(
        r.stdout.lines().next().unwrap(),
        "bad.cf:6:2: error[missing-tab]: invalid rewrite line \"R$* < @ $+ >    $#local $: $1\" (tab expected)"
    );
}

#[test]
fn human_output_names_the_rule_and_the_place() {
    let dir = scratch("bad.cf", MISTAKES);
    let r = cfmap(
        dir.path(),
        &["lint", "--color", "never", "--format", "human", "bad.cf"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("missing-tab"), "{}", r.stdout);
    assert!(r.stdout.contains("bad.cf:6:2"), "{}", r.stdout);
    assert!(!r.stdout.contains('\x1b'), "colour with --color never");
}

#[test]
fn several_files_are_reported_in_order() {
    let dir = scratch("a.cf", "S0\nR$* $@ x\n");
    std::fs::write(
        dir.path().join("b.cf"),
        format!("{PREAMBLE}S0\nR$+\t$@ $2\n"),
    )
    .unwrap();
    let r = cfmap(dir.path(), &["lint", "--format", "short", "a.cf", "b.cf"]);
    assert_eq!(r.code, 1);
    let files: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(files, ["a.cf", "b.cf"], "{}", r.stdout);
}

#[test]
fn explain_prints_the_docs() {
    let r = cfmap(&example(), &["lint", "--explain", "missing-tab"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("missing-tab (error)\n\n"),
        "{}",
        r.stdout
    );
    for section in [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
    ] {
        assert!(r.stdout.contains(section), "{section}:\n{}", r.stdout);
    }
    assert!(
        r.stdout
            .contains(&cfmap::lint::rule("missing-tab").unwrap().docs())
    );
}

#[test]
fn list_rules_lists_every_rule() {
    let r = cfmap(&example(), &["lint", "--list-rules"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), cfmap::lint::RULES.len(), "{}", r.stdout);
    for (line, rule) in lines.iter().zip(cfmap::lint::RULES) {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(rule.name), "{line}");
        assert_eq!(words.next(), Some(rule.severity.as_str()), "{line}");
    }
}

#[test]
fn check_files_finds_the_missing_databases() {
    let r = cfmap(
        &example(),
        &["lint", "--format", "short", "--check-files", "site.cf"],
    );
    // maps/junkmail.db is built by makemap, not committed; maps/access is optional (-o).
    if example().join("maps/junkmail.db").exists() {
        return;
    }
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        r.stdout,
        "site.cf:31:17: error[missing-map-file]: btree map junkmail: missing map file maps/junkmail.db\n"
    );
    // --base-dir resolves the relative paths from elsewhere.
    let r = cfmap(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "lint",
            "--format",
            "short",
            "--check-files",
            "--base-dir",
            "testdata/example",
            "testdata/example/site.cf",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("missing-map-file"), "{}", r.stdout);
}

#[test]
fn compile_prints_the_rulesets_the_same_every_time() {
    let args = [
        "compile",
        "-C",
        "testdata/example/site.cf",
        "--hostname",
        "vm.example.com",
    ];
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let a = cfmap(top, &args);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.stderr, "");
    for want in [
        "ruleset 0 ",
        "ruleset 3 ",
        "name=check_mail",
        "name=check_rcpt",
        "map junkmail class=btree",
        "map access class=hash",
        "mailer local",
        "mailer esmtp",
    ] {
        assert!(a.stdout.contains(want), "{want}:\n{}", a.stdout);
    }
    let b = cfmap(top, &args);
    assert_eq!(b.code, 0);
    assert!(a.stdout == b.stdout, "two runs differ");
}

#[test]
fn compile_emits_json() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = [
        "compile",
        "-C",
        "testdata/example/site.cf",
        "--hostname",
        "vm.example.com",
        "--emit",
        "json",
    ];
    let a = cfmap(top, &args);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).expect("JSON");
    assert!(v.is_object(), "{v}");
    assert!(a.stdout.contains("check_mail"));
    assert!(a.stdout.contains("junkmail"));
    assert_eq!(a.stdout, cfmap(top, &args).stdout);
}
