//! `cfmap check` on the two worked junk-mail test files (testdata/example/site.cases,
//! testdata/check/junk2.cases): every case passes, a wrong expectation fails with its
//! trace and exit 1, `--format junit` reports it, and — where sendmail can run (always
//! under CI=true) — every expected result is what real `sendmail -bt` returns.

mod support;

use std::path::{Path, PathBuf};

use support::cfmap;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A copy of a configuration directory with its maps built by cfmap.
fn prepared(src: &str, maps: &[(&str, &[&str], &str)]) -> tempfile::TempDir {
    let base = root().join("target/tmp");
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::tempdir_in(base).unwrap();
    copy_dir(&root().join(src), dir.path());
    for (ty, flags, name) in maps {
        let input = std::fs::read(dir.path().join(name)).unwrap();
        let mut args = vec!["makemap", *ty];
        args.extend_from_slice(flags);
        args.push(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cfmap"))
            .current_dir(dir.path())
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&input)?;
                c.wait()
            })
            .unwrap();
        assert!(out.success(), "makemap {args:?}");
    }
    dir
}

fn example() -> tempfile::TempDir {
    prepared(
        "testdata/example",
        &[
            ("btree", &[], "maps/junkmail"),
            ("hash", &[], "maps/access"),
        ],
    )
}

fn junk2() -> tempfile::TempDir {
    prepared(
        "testdata/bt/junk2",
        &[
            ("hash", &[], "maps/junkdom"),
            ("hash", &["-f"], "maps/junkuser"),
            ("hash", &[], "maps/badip"),
        ],
    )
}

const EXAMPLE_CASES: &str = "testdata/example/site.cases";
const JUNK2_CASES: &str = "testdata/check/junk2.cases";

#[test]
fn worked_examples_pass() {
    for (dir, cases) in [(example(), EXAMPLE_CASES), (junk2(), JUNK2_CASES)] {
        let file = root().join(cases);
        let (out, err, code) = cfmap(
            dir.path(),
            &["check", "-C", "site.cf", file.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{cases}:\n{out}{err}");
        assert!(!out.contains("FAIL"), "{out}");
        let n = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| l.contains("=>") && !l.trim_start().starts_with('#'))
            .count();
        assert!(
            out.ends_with(&format!("{n} cases, {n} passed, 0 failed\n")),
            "{out}"
        );
    }
}

#[test]
fn a_wrong_expectation_fails_with_its_trace() {
    let dir = example();
    std::fs::write(
        dir.path().join("bad.cases"),
        "check_mail <friend@example.org> => OK\ncheck_mail <x@natureplus.com> => OK\n",
    )
    .unwrap();
    let (out, _, code) = cfmap(dir.path(), &["check", "-C", "site.cf", "bad.cases"]);
    assert_eq!(code, 1);
    assert!(out.contains("ok    bad.cases:1:"), "{out}");
    assert!(
        out.contains("FAIL  bad.cases:2: check_mail <x@natureplus.com>"),
        "{out}"
    );
    assert!(
        out.contains("check_mail         input: < x @ natureplus . com >"),
        "{out}"
    );
    assert!(out.contains("2 cases, 1 passed, 1 failed"), "{out}");
    let (xml, _, code) = cfmap(
        dir.path(),
        &["check", "-C", "site.cf", "--format", "junit", "bad.cases"],
    );
    assert_eq!(code, 1);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<testsuites name=\"cfmap check\" tests=\"2\" failures=\"1\">"));
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains("&lt; x @ natureplus . com &gt;"), "{xml}");
}

#[test]
fn bad_case_files_are_usage_errors() {
    let dir = example();
    std::fs::write(dir.path().join("bad.cases"), "check_mail no arrow here\n").unwrap();
    let (_, err, code) = cfmap(dir.path(), &["check", "-C", "site.cf", "bad.cases"]);
    assert_eq!(code, 64);
    assert!(err.contains("bad.cases: line 1:"), "{err}");
    let (_, _, code) = cfmap(dir.path(), &["check", "-C", "site.cf", "nosuch.cases"]);
    assert_eq!(code, 66);
}

/// The final workspace real sendmail prints for each case, as the cases file writes it.
#[test]
fn expectations_are_what_real_sendmail_returns() {
    if !support::need_root() || !support::need_tool("sendmail") {
        return;
    }
    for (dir, cases) in [(example(), EXAMPLE_CASES), (junk2(), JUNK2_CASES)] {
        let text = std::fs::read_to_string(root().join(cases)).unwrap();
        let mut input = String::new();
        let mut expected = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(d) = line.strip_prefix("define ") {
                let (n, v) = d.split_once('=').unwrap();
                input.push_str(&format!(".D{n}{v}\n"));
                continue;
            }
            let line = line.split(" # ").next().unwrap();
            let (left, right) = line.split_once("=>").unwrap();
            let right = right.split("  status ").next().unwrap();
            let want: Vec<&str> = right.split_whitespace().collect();
            input.push_str(left.trim());
            input.push('\n');
            expected.push((left.trim().to_string(), want.join(" ")));
        }
        let out = support::sendmail_bt(dir.path(), "site.cf", &input);
        // One prompt per input line; the case's result is the last "returns:" line of its
        // top-level ruleset before the next prompt.
        let mut results = Vec::new();
        for chunk in out.split("> ").skip(1) {
            let last = chunk
                .lines()
                .rfind(|l| l.contains(" returns:") && !l.starts_with(' '));
            if let Some(l) = last {
                let (_, r) = l.split_once(" returns:").unwrap();
                results.push(r.trim().to_string());
            }
        }
        assert_eq!(
            results.len(),
            expected.len(),
            "{cases}: sendmail said\n{out}"
        );
        for ((case, want), got) in expected.iter().zip(&results) {
            assert_eq!(want, got, "{cases}: {case}");
        }
    }
}
