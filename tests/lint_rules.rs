//! Every lint rule has a planted-mistake file `testdata/lint/<rule>.cf`; its output in the
//! `short` and `human` formats is snapshotted beside it (`<rule>.short`, `<rule>.human`).
//! Run with `CFMAP_BLESS=1` to rewrite the snapshots after a deliberate change, and
//! review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lint")
}

/// Run `cfmap lint` on `name.cf` inside `dir` (the current directory, so relative map
/// paths resolve there) and return (stdout, exit code).
fn lint(dir: &Path, name: &str, format: &str) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .args([
            "lint",
            "--check-files",
            "--hostname",
            "vm.example.com",
            "--color",
            "never",
            "--format",
            format,
            &format!("{name}.cf"),
        ])
        .output()
        .expect("run cfmap");
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("utf-8 output"),
        out.status.code().expect("exit code"),
    )
}

fn snapshot(path: &Path, actual: &str) {
    if std::env::var_os("CFMAP_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {} (run with CFMAP_BLESS=1)",
            path.display()
        )
    });
    assert_eq!(expected, actual, "snapshot {} differs", path.display());
}

/// The directory a rule's file runs in: testdata/lint itself, or a scratch copy when the
/// rule needs files on disk with given times.
fn workdir(rule: &str) -> (PathBuf, Option<tempfile::TempDir>) {
    if rule != "stale-map" {
        return (testdata(), None);
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        testdata().join("stale-map.cf"),
        tmp.path().join("stale-map.cf"),
    )
    .unwrap();
    let maps = tmp.path().join("maps");
    std::fs::create_dir(&maps).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let new = old + Duration::from_secs(3600);
    for (file, time) in [("junkmail.db", old), ("junkmail", new)] {
        let f = std::fs::File::create(maps.join(file)).unwrap();
        f.set_modified(time).unwrap();
    }
    (tmp.path().to_path_buf(), Some(tmp))
}

#[test]
fn every_rule_fires_on_its_planted_mistake_and_matches_its_snapshots() {
    let mut checked = 0;
    for rule in cfmap::lint::RULES {
        let cf = testdata().join(format!("{}.cf", rule.name));
        assert!(cf.exists(), "rule {} has no {}", rule.name, cf.display());
        let (dir, _keep) = workdir(rule.name);
        let (short, code) = lint(&dir, rule.name, "short");
        let tag = format!("[{}]", rule.name);
        assert!(
            short.lines().any(|l| l.contains(&tag)),
            "rule {} does not fire on its file:\n{short}",
            rule.name
        );
        let want_code = if short.contains(": error[") { 1 } else { 0 };
        assert_eq!(code, want_code, "exit code for {}", rule.name);
        snapshot(&testdata().join(format!("{}.short", rule.name)), &short);
        let (human, _) = lint(&dir, rule.name, "human");
        assert!(human.contains(rule.name));
        snapshot(&testdata().join(format!("{}.human", rule.name)), &human);
        checked += 1;
    }
    assert!(checked >= 20);
}

#[test]
fn every_rule_has_docs_with_the_sections() {
    for rule in cfmap::lint::RULES {
        let docs = rule.docs();
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
        ] {
            assert!(docs.contains(section), "{} docs lack {section}", rule.name);
        }
        assert!(!docs.contains("TODO"), "{} docs unfinished", rule.name);
    }
}

#[test]
fn rule_names_are_unique_kebab_case() {
    let mut names: Vec<&str> = cfmap::lint::RULES.iter().map(|r| r.name).collect();
    for n in &names {
        assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{n}");
    }
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}
