//! Differential test of `cfmap test` (address test mode) against real `sendmail -bt`.
//!
//! Every case of testdata/bt (see its README.md) is copied to a scratch directory, its
//! maps are built with this cfmap (`cfmap makemap`), its m4 configuration generated, and
//! `cfmap test -C site.cf < input` must print exactly — byte for byte, stdout and stderr
//! as one stream — what real sendmail printed for the same lines (`expected`, recorded by
//! testdata/bt/regen.sh). Where sendmail can run (root, sendmail-bin), it also runs live
//! on the same copy: its output must still equal the golden file (so the goldens stay
//! honest and sendmail reads cfmap's maps), and cfmap must equal it.
//!
//! Needs m4 and sendmail-cf for the m4 case, root and sendmail-bin for the live runs;
//! under `CI=true` their absence fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cfmap_testkit::{need_root, need_tool};

const BANNER: &[u8] = b"ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)\n";
const CF_M4: &str = "/usr/share/sendmail/cf/m4/cf.m4";

fn bt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bt")
}

/// The case directories: every directory of testdata/bt with an `input` file.
fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(bt_dir())
        .expect("testdata/bt")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input").is_file())
        .collect();
    v.sort();
    v
}

fn name(case: &Path) -> String {
    case.file_name().unwrap().to_string_lossy().into_owned()
}

fn uses_m4(case: &Path) -> bool {
    setup_steps(case).iter().any(|s| s[0] == "m4")
}

/// The steps of a case's `setup` file, one word list a step.
fn setup_steps(case: &Path) -> Vec<Vec<String>> {
    let Ok(text) = fs::read_to_string(case.join("setup")) else {
        return Vec::new();
    };
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|w| !w.is_empty() && !w[0].starts_with('#'))
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != "expected" {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch copy of `case` with its setup done, below the target directory (not below
/// a world-writable directory such as /tmp, where sendmail distrusts map files).
fn prepare(case: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("bt-{}-", name(case)))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("scratch directory");
    copy_tree(case, dir.path());
    for step in setup_steps(case) {
        let (what, ok) = if step[0] == "m4" {
            let out = fs::File::create(dir.path().join("site.cf")).unwrap();
            let st = Command::new("m4")
                .arg(CF_M4)
                .arg(&step[1])
                .current_dir(dir.path())
                .stdout(out)
                .status()
                .expect("run m4");
            (format!("m4 {CF_M4} {}", step[1]), st.success())
        } else {
            let source = fs::File::open(dir.path().join(step.last().unwrap()))
                .unwrap_or_else(|e| panic!("{}: setup {step:?}: {e}", name(case)));
            let st = Command::new(env!("CARGO_BIN_EXE_cfmap"))
                .arg("makemap")
                .args(&step)
                .current_dir(dir.path())
                .stdin(source)
                .status()
                .expect("run cfmap makemap");
            (format!("cfmap makemap {}", step.join(" ")), st.success())
        };
        assert!(ok, "{}: setup step failed: {what}", name(case));
    }
    dir
}

/// Run `script` with `sh -c` (`args` as `$0`…) in `dir` with the case's input on stdin;
/// everything it printed.
fn run_merged(dir: &Path, script: &str, args: &[&str]) -> (Vec<u8>, std::process::ExitStatus) {
    let input = fs::File::open(dir.join("input")).unwrap();
    let out = Command::new("timeout")
        .args(["300", "sh", "-c", script])
        .args(args)
        .current_dir(dir)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run sh");
    let mut bytes = out.stdout;
    bytes.extend_from_slice(&out.stderr);
    (bytes, out.status)
}

/// `cfmap test -C site.cf < input` in `dir` (with `--hostname vm.example.com` if this
/// cfmap's `test` takes that option: the goldens were recorded under that host name).
fn cfmap_bt(dir: &Path) -> Vec<u8> {
    let help = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .args(["test", "--help"])
        .output()
        .expect("run cfmap");
    let script = if String::from_utf8_lossy(&help.stdout).contains("--hostname") {
        r#"exec "$0" test -C site.cf --hostname vm.example.com 2>&1"#
    } else {
        r#"exec "$0" test -C site.cf 2>&1"#
    };
    let (out, status) = run_merged(dir, script, &[env!("CARGO_BIN_EXE_cfmap")]);
    assert_ne!(
        status.code(),
        Some(124),
        "`cfmap test` in {} did not finish within 300 s",
        dir.display()
    );
    out
}

/// Real `sendmail -bt -C site.cf < input` in `dir`, hermetically (testdata/bt/regen.sh
/// does the same).
fn sendmail_bt(dir: &Path) -> Vec<u8> {
    let script = r#"for f in hosts resolv.conf nsswitch.conf passwd group; do
            mount --bind "$0/$f" /etc/$f || exit 1; done
        hostname vm.example.com
        exec sendmail -bt -C site.cf -ODontProbeInterfaces=true \
            -ODontBlameSendmail=MapInUnsafeDirPath 2>&1"#;
    let etc = bt_dir().join("etc");
    let input = fs::File::open(dir.join("input")).unwrap();
    let out = Command::new("timeout")
        .args([
            "120", "unshare", "--uts", "--net", "--mount", "sh", "-c", script,
        ])
        .arg(&etc)
        .current_dir(dir)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run sendmail");
    assert!(
        out.status.code().is_some_and(|c| c < 124),
        "sendmail -bt in {} failed: {:?} {}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = out.stdout;
    bytes.extend_from_slice(&out.stderr);
    bytes
}

/// Lines of output as printed for a report: bytes outside printable ASCII escaped.
fn show(line: &[u8]) -> String {
    line.escape_ascii().to_string()
}

/// `None` when equal; otherwise a report of the first differing line, with context and
/// the input line it answers (the number of `> ` prompts seen so far).
fn first_difference(
    case: &str,
    (want_name, got_name): (&str, &str),
    want: &[u8],
    got: &[u8],
) -> Option<String> {
    if want == got {
        return None;
    }
    let w: Vec<&[u8]> = want.split(|&b| b == b'\n').collect();
    let g: Vec<&[u8]> = got.split(|&b| b == b'\n').collect();
    let at = (0..w.len().max(g.len()))
        .find(|&i| w.get(i) != g.get(i))
        .unwrap_or(0);
    let prompts: usize = w[..(at + 1).min(w.len())]
        .iter()
        .map(|l| {
            let mut n = 0;
            let mut rest = *l;
            while let Some(r) = rest.strip_prefix(b"> ".as_slice()) {
                n += 1;
                rest = r;
            }
            n + usize::from(rest == b">")
        })
        .sum();
    let mut report = format!(
        "case {case}: output line {} differs (answering about input line {}):\n",
        at + 1,
        prompts.max(1)
    );
    let from = at.saturating_sub(3);
    for (label, lines) in [(want_name, &w), (got_name, &g)] {
        report.push_str(&format!("  --- {label}\n"));
        for (i, l) in lines.iter().enumerate().skip(from).take(at - from + 4) {
            let mark = if i == at { ">>" } else { "  " };
            report.push_str(&format!("  {mark} {:5} | {}\n", i + 1, show(l)));
        }
        if lines.len() <= at {
            report.push_str("  >>       (end of output)\n");
        }
    }
    Some(report)
}

/// Fail with a clear message when this cfmap has no `test` subcommand (the engine has
/// not landed), instead of comparing every case against a usage error.
fn require_test_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .args(["test", "--help"])
        .output()
        .expect("run cfmap");
    assert!(
        out.status.success(),
        "`cfmap test` is not available in this cfmap (`cfmap test --help` exited {:?}: {}); \
         the -bt engine has not landed yet, so none of the {} golden cases of testdata/bt \
         can be checked",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or(""),
        cases().len()
    );
}

/// Whether the case can be prepared here (m4 + sendmail-cf for m4 cases).
fn can_prepare(case: &Path) -> bool {
    !uses_m4(case) || (need_tool("m4") && need_tool(CF_M4))
}

#[test]
fn corpus_is_large_and_well_formed() {
    let mut total = 0;
    for case in cases() {
        let input = fs::read(case.join("input")).unwrap();
        total += input.split(|&b| b == b'\n').count() - 1;
        assert!(
            case.join("expected").is_file(),
            "{}: no expected output",
            name(&case)
        );
        let cf = fs::read(case.join("site.cf"))
            .or_else(|_| fs::read(case.join("site.mc")))
            .unwrap_or_else(|_| panic!("{}: no site.cf or site.mc", name(&case)));
        let needle: &[u8] = if uses_m4(&case) {
            b"define(`confDOMAIN_NAME', `vm.example.com')"
        } else {
            b"\nDjvm.example.com\n"
        };
        assert!(
            cf.windows(needle.len()).any(|w| w == needle),
            "{}: the configuration must define $j as vm.example.com",
            name(&case)
        );
        let expected = fs::read(case.join("expected")).unwrap();
        assert!(
            expected.starts_with(BANNER)
                || expected
                    .windows(BANNER.len() + 1)
                    .any(|w| w[0] == b'\n' && &w[1..] == BANNER),
            "{}: expected output has no -bt banner",
            name(&case)
        );
    }
    assert!(
        total >= 1500,
        "the -bt corpus has {total} input lines; at least 1,500 expected"
    );
}

#[test]
fn setup_builds_every_case() {
    // The golden files assume cfmap can build the maps the cases declare.
    for case in cases() {
        if can_prepare(&case) {
            let dir = prepare(&case);
            assert!(dir.path().join("site.cf").is_file(), "{}", name(&case));
        }
    }
}

#[test]
fn cfmap_test_matches_goldens() {
    require_test_subcommand();
    let mut failures = Vec::new();
    for case in cases() {
        if !can_prepare(&case) {
            continue;
        }
        let dir = prepare(&case);
        let want = fs::read(case.join("expected")).unwrap();
        let got = cfmap_bt(dir.path());
        if let Some(report) = first_difference(
            &name(&case),
            ("sendmail (expected)", "cfmap test"),
            &want,
            &got,
        ) {
            failures.push(report);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from real sendmail -bt:\n\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

#[test]
fn goldens_match_live_sendmail_and_cfmap() {
    if !(need_root() && need_tool("sendmail") && need_tool("unshare")) {
        return;
    }
    let have_engine = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .args(["test", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut failures = Vec::new();
    for case in cases() {
        if !can_prepare(&case) {
            continue;
        }
        let dir = prepare(&case);
        let live = sendmail_bt(dir.path());
        let golden = fs::read(case.join("expected")).unwrap();
        // The goldens must still be what sendmail says (else: regen.sh).
        let labels = ("expected", "sendmail -bt (live)");
        if let Some(r) = first_difference(&name(&case), labels, &golden, &live) {
            failures.push(r);
        }
        if have_engine {
            let got = cfmap_bt(dir.path());
            if let Some(r) = first_difference(
                &name(&case),
                ("sendmail -bt (live)", "cfmap test"),
                &live,
                &got,
            ) {
                failures.push(r);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Without the engine the comparison with cfmap is cfmap_test_matches_goldens' job,
    // which fails with its own message.
}

#[test]
fn first_difference_reports_position() {
    let want = b"ADDRESS TEST MODE\nEnter\n> a\nb\n> > c\nd\n> ";
    let got = b"ADDRESS TEST MODE\nEnter\n> a\nb\n> > c\nX\n> ";
    let r = first_difference("t", ("want", "got"), want, got).unwrap();
    assert!(r.contains("output line 6 differs"), "{r}");
    assert!(r.contains("input line 3"), "{r}");
    assert!(r.contains(">>     6 | d"), "{r}");
    assert!(r.contains(">>     6 | X"), "{r}");
    assert_eq!(first_difference("t", ("w", "g"), want, want), None);
    let short = first_difference("t", ("w", "g"), want, b"ADDRESS TEST MODE\nEnter").unwrap();
    assert!(short.contains("(end of output)"), "{short}");
}
