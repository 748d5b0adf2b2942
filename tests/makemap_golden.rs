//! Golden makemap cases (`testdata/makemap/cases`, recorded from the real makemap by
//! `testdata/makemap/regen.sh`): cfmap started as `makemap` (through a symlink named
//! `makemap`) must print the same stdout and stderr byte for byte, exit with the same
//! status, and leave a map whose `makemap -u` dump is the recorded one — dumped by cfmap
//! itself and, when the real makemap is installed, by the real one too.
//!
//! Cases whose name starts with `root-` were recorded as root (directory warnings,
//! permission checks, the .cf read for TrustedUser) and run only as root. Every run as
//! root needs /etc/mail/sendmail.cf, as the real makemap does.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cfmap_testkit::is_root;

/// Where cfmap differs from makemap on purpose (see src/cli/makemap.rs), with what cfmap
/// does instead: (case, exit status, stdout, stderr).
const DIVERGENT: &[(&str, i32, &str, &str)] = &[
    // cfmap also builds dbm and cdb maps, and lists them as a full makemap build does.
    ("list", 0, "dbm\nhash\nbtree\ncdb\nimplicit\n", ""),
];

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/makemap")
}

struct Case {
    name: String,
    setup: Vec<Vec<String>>,
    args: Vec<String>,
    input: Option<String>,
    dump: Option<Vec<String>>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(here().join("cases")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            assert_eq!(f.len(), 5, "bad case line: {l}");
            let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
            let opt = |s: &str| (s != "-").then(|| s.to_string());
            Case {
                name: f[0].to_string(),
                setup: if f[1] == "-" {
                    Vec::new()
                } else {
                    f[1].split(';').map(words).collect()
                },
                args: if f[2] == "-" { Vec::new() } else { words(f[2]) },
                input: opt(f[3]),
                dump: opt(f[4]).map(|s| words(&s)),
            }
        })
        .collect()
}

/// Run `prog` (argv[0] "makemap") in `dir` with `args` and `stdin`.
fn run(prog: &Path, dir: &Path, args: &[String], stdin: &[u8]) -> (Vec<u8>, Vec<u8>, i32) {
    run_as(prog, "makemap", dir, args, stdin)
}

fn run_as(
    prog: &Path,
    argv0: &str,
    dir: &Path,
    args: &[String],
    stdin: &[u8],
) -> (Vec<u8>, Vec<u8>, i32) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(prog)
        .arg0(argv0)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run makemap");
    let mut i = child.stdin.take().unwrap();
    let _ = i.write_all(stdin);
    drop(i);
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.stderr, out.status.code().unwrap_or(-1))
}

fn input(name: &Option<String>) -> Vec<u8> {
    name.as_ref()
        .map(|n| std::fs::read(here().join("inputs").join(n)).unwrap())
        .unwrap_or_default()
}

/// What `makemap -u` printed (with `rc=N` appended on failure, as regen.sh records it).
fn dump(prog: &Path, dir: &Path, what: &[String]) -> Vec<u8> {
    let mut args = vec!["-u".to_string()];
    args.extend(what.iter().cloned());
    let (mut out, err, code) = run(prog, dir, &args, b"");
    out.extend(err);
    if code != 0 {
        out.extend(format!("rc={code}\n").into_bytes());
    }
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn golden_makemap_cases() {
    let root = is_root();
    if root && !Path::new("/etc/mail/sendmail.cf").exists() {
        eprintln!("note: root without /etc/mail/sendmail.cf: makemap would exit 66; skipping");
        return;
    }
    let real = ["/usr/sbin/makemap", "/usr/bin/makemap"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let bin = tempfile::tempdir().unwrap();
    let ours = bin.path().join("makemap");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfmap"), &ours).unwrap();
    let expected = here().join("expected");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases() {
        if case.name.starts_with("root-") && !root {
            eprintln!("note: {} is recorded as root; skipped", case.name);
            continue;
        }
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        for step in &case.setup {
            let s: Vec<&str> = step.iter().map(String::as_str).collect();
            match s.as_slice() {
                ["mkdir", d, mode] => {
                    std::fs::create_dir(dir.join(d)).unwrap();
                    let m = u32::from_str_radix(mode, 8).unwrap();
                    std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(m))
                        .unwrap();
                }
                ["build", ty, name, inp] | ["build-d", ty, name, inp] => {
                    let mut args = vec![ty.to_string(), name.to_string()];
                    if step[0] == "build-d" {
                        args.insert(0, "-d".to_string());
                    }
                    let (_, e, c) = run(&ours, dir, &args, &input(&Some(inp.to_string())));
                    assert_eq!(c, 0, "{}: setup build: {}", case.name, show(&e));
                }
                ["symlink", t, l] => std::os::unix::fs::symlink(t, dir.join(l)).unwrap(),
                ["hardlink", f, l] => std::fs::hard_link(dir.join(f), dir.join(l)).unwrap(),
                _ => panic!("{}: unknown setup step {step:?}", case.name),
            }
        }
        let (out, err, code) = run(&ours, dir, &case.args, &input(&case.input));
        ran += 1;
        let read = |ext: &str| std::fs::read(expected.join(format!("{}.{ext}", case.name)));
        let (want_out, want_err, want_code) = match DIVERGENT.iter().find(|d| d.0 == case.name) {
            Some(&(_, c, o, e)) => (o.as_bytes().to_vec(), e.as_bytes().to_vec(), c),
            None => (
                read("out").unwrap(),
                read("err").unwrap(),
                String::from_utf8(read("rc").unwrap())
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap(),
            ),
        };
        let mut problems = Vec::new();
        if code != want_code {
            problems.push(format!("exit {code}, want {want_code}"));
        }
        if out != want_out {
            problems.push(format!(
                "stdout:\n{}\nwant:\n{}",
                show(&out),
                show(&want_out)
            ));
        }
        if err != want_err {
            problems.push(format!(
                "stderr:\n{}\nwant:\n{}",
                show(&err),
                show(&want_err)
            ));
        }
        let is_divergent = DIVERGENT.iter().any(|d| d.0 == case.name);
        if let (Some(what), false) = (&case.dump, is_divergent) {
            let want = read("u").unwrap();
            let got = dump(&ours, dir, what);
            if got != want {
                problems.push(format!("cfmap -u:\n{}\nwant:\n{}", show(&got), show(&want)));
            }
            if let Some(real) = &real {
                let got = dump(real, dir, what);
                if got != want {
                    problems.push(format!(
                        "real makemap -u:\n{}\nwant:\n{}",
                        show(&got),
                        show(&want)
                    ));
                }
            }
        }
        // No temporary file may be left behind, whatever happened.
        let leftovers: Vec<String> = walk(dir)
            .into_iter()
            .filter(|n| n.contains(".cfmap-tmp."))
            .collect();
        if !leftovers.is_empty() {
            problems.push(format!("temporary files left: {leftovers:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!("case {}:\n{}", case.name, problems.join("\n")));
        }
        // Let the tempdir go even when a case made a read-only directory.
        for e in walk(dir) {
            let p = dir.join(&e);
            if p.is_dir() && !p.is_symlink() {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
    assert!(ran > 40, "only {ran} cases ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for e in rd.flatten() {
            let r = rel.join(e.file_name());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(r.clone());
            }
            out.push(r.to_string_lossy().into_owned());
        }
    }
    out
}

#[test]
fn cases_file_and_expected_outputs_agree() {
    for case in cases() {
        for ext in ["out", "err", "rc"] {
            let p = here().join("expected").join(format!("{}.{ext}", case.name));
            assert!(
                p.exists(),
                "{} missing: run testdata/makemap/regen.sh",
                p.display()
            );
        }
        if case.dump.is_some() {
            assert!(
                here()
                    .join("expected")
                    .join(format!("{}.u", case.name))
                    .exists()
            );
        }
    }
    let _ = support::need_tool; // shared helpers
}

/// `cfmap makemap` (clap) takes every getopt spelling the `makemap` entry takes, with the
/// same results; only the message prefix differs (`cfmap:` instead of `makemap:`).
#[test]
fn cfmap_makemap_spellings_match_the_makemap_entry() {
    let bin = tempfile::tempdir().unwrap();
    let ours = bin.path().join("makemap");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfmap"), &ours).unwrap();
    let src = std::fs::read(here().join("inputs/colon.txt")).unwrap();
    let spellings: &[&[&str]] = &[
        &["-Nf", "-t:", "btree", "m"],
        &["-N", "-f", "-t", ":", "btree", "m"],
        &["btree", "m", "-t", ":"],
        &["btree", "-t:", "m", "-e"],
        &["-t", "-", "btree", "m"],
        &["-t-", "hash", "m"],
        &["-D%", "-c", "4096", "btree", "m"],
        &["-D", "%", "-vr", "cdb", "m"],
        &["-e", "-t", ":", "-s", "dbm", "m"],
        &["-l"],
        &["foo", "m"],
    ];
    for args in spellings {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mm = run(&ours, a.path(), &args, &src);
        let mut sub = vec!["makemap".to_string()];
        sub.extend(args.iter().cloned());
        let cf = run_as(
            Path::new(env!("CARGO_BIN_EXE_cfmap")),
            "cfmap",
            b.path(),
            &sub,
            &src,
        );
        assert_eq!(cf.2, mm.2, "{args:?}: {}", show(&cf.1));
        assert_eq!(cf.0, mm.0, "{args:?}");
        assert_eq!(
            show(&cf.1),
            show(&mm.1).replace("makemap: ", "cfmap: "),
            "{args:?}"
        );
        if mm.2 != 64 && args.len() > 1 && args[0] != "foo" {
            let ty = args
                .iter()
                .find(|a| ["btree", "hash", "cdb", "dbm"].contains(&a.as_str()))
                .unwrap();
            let what = vec![ty.clone(), "m".to_string()];
            assert_eq!(dump(&ours, a.path(), &what), dump(&ours, b.path(), &what));
        }
    }
}

/// On any error the old map stays as it was and no temporary file is left behind.
#[test]
fn errors_leave_the_old_map_untouched() {
    let bin = tempfile::tempdir().unwrap();
    let ours = bin.path().join("makemap");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfmap"), &ours).unwrap();
    let d = tempfile::tempdir().unwrap();
    let junk = input(&Some("junk.txt".into()));
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for ty in ["btree", "hash", "dbm", "cdb"] {
        let (_, e, c) = run(&ours, d.path(), &s(&[ty, "m"]), &junk);
        assert_eq!(c, 0, "{}", show(&e));
        let before = dump(&ours, d.path(), &s(&[ty, "m"]));
        let files: Vec<(String, Vec<u8>)> = walk(d.path())
            .into_iter()
            .map(|n| (n.clone(), std::fs::read(d.path().join(&n)).unwrap()))
            .collect();
        // -d with a repeated key (not storable in dbm), -o on another type's file, an
        // unknown type: each fails before anything is replaced.
        let attempts: Vec<Vec<String>> = vec![
            s(&["-d", "dbm", "m"]),
            s(&["-o", if ty == "btree" { "hash" } else { "btree" }, "m"]),
            s(&["nosuchtype", "m"]),
        ];
        for a in attempts {
            let (_, _, c) = run(&ours, d.path(), &a, b"k 1\nk 2\n");
            assert_ne!(c, 0, "{a:?}");
            let now: Vec<(String, Vec<u8>)> = walk(d.path())
                .into_iter()
                .map(|n| (n.clone(), std::fs::read(d.path().join(&n)).unwrap()))
                .collect();
            assert_eq!(now, files, "{ty}: {a:?} changed the directory");
        }
        assert_eq!(dump(&ours, d.path(), &s(&[ty, "m"])), before);
        for f in walk(d.path()) {
            std::fs::remove_file(d.path().join(f)).unwrap();
        }
    }
}

/// A reader holding sendmail's lock (a shared flock on the .db) makes the swap wait.
#[test]
#[allow(clippy::incompatible_msrv)]
fn the_swap_waits_for_a_reader_holding_the_lock() {
    use std::os::unix::process::CommandExt;
    let bin = tempfile::tempdir().unwrap();
    let ours = bin.path().join("makemap");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfmap"), &ours).unwrap();
    let d = tempfile::tempdir().unwrap();
    let (_, _, c) = run(&ours, d.path(), &["btree".into(), "m".into()], b"k old\n");
    assert_eq!(c, 0);
    let reader = std::fs::File::open(d.path().join("m.db")).unwrap();
    reader.lock_shared().unwrap();
    let mut child = Command::new(&ours)
        .arg0("makemap")
        .current_dir(d.path())
        .args(["btree", "m"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"k new\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(
        child.try_wait().unwrap().is_none(),
        "makemap did not wait for the lock"
    );
    let what = vec!["btree".to_string(), "m".to_string()];
    assert_eq!(dump(&ours, d.path(), &what), b"k\told\n");
    reader.unlock().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(dump(&ours, d.path(), &what), b"k\tnew\n");
}

/// As root, the map goes to the .cf's TrustedUser, as the real makemap gives it.
#[test]
fn root_gives_the_map_to_the_trusted_user() {
    use std::os::unix::fs::MetadataExt;
    let Some(real) = ["/usr/sbin/makemap", "/usr/bin/makemap"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        return;
    };
    if !is_root() || !Path::new("/etc/mail/sendmail.cf").exists() {
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    let ours = bin.path().join("makemap");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfmap"), &ours).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = vec!["hash".to_string(), "m".to_string()];
    assert_eq!(run(&real, a.path(), &args, b"k v\n").2, 0);
    assert_eq!(run(&ours, b.path(), &args, b"k v\n").2, 0);
    let ma = std::fs::metadata(a.path().join("m.db")).unwrap();
    let mb = std::fs::metadata(b.path().join("m.db")).unwrap();
    assert_eq!((mb.uid(), mb.gid()), (ma.uid(), ma.gid()));
    assert_eq!(mb.mode() & 0o7777, ma.mode() & 0o7777);
}
