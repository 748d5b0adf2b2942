//! The man pages and shell completions checked in under `man/` are what
//! `cfmap generate man` makes from the clap definitions. When this test fails, the
//! command line changed: regenerate with
//!
//!     cargo run -- generate man man/
//!
//! and commit the result (review the diff: it is the user-visible change).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "the checked-in man pages/completions are out of date with the clap \
                          definitions; regenerate them with `cargo run -- generate man man/` \
                          and commit the result";

fn generated_files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_file() && name.ends_with(".1") {
            out.insert(PathBuf::from(&name));
        }
    }
    let comp = dir.join("completions");
    if comp.is_dir() {
        for entry in std::fs::read_dir(&comp).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                out.insert(Path::new("completions").join(p.file_name().unwrap()));
            }
        }
    }
    out
}

#[test]
fn checked_in_man_pages_and_completions_are_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .args(["generate", "man"])
        .arg(tmp.path())
        .status()
        .expect("run cfmap generate man");
    assert!(status.success(), "cfmap generate man failed: {status}");

    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let fresh = generated_files(tmp.path());
    let old = generated_files(&checked_in);
    for f in [
        "cfmap.1",
        "cfmap-lint.1",
        "cfmap-compile.1",
        "cfmap-makemap.1",
        "cfmap-dump.1",
        "cfmap-query.1",
        "completions/cfmap.bash",
        "completions/_cfmap",
        "completions/cfmap.fish",
    ] {
        assert!(fresh.contains(Path::new(f)), "generate man made no {f}");
    }

    let mut problems = Vec::new();
    for f in fresh.difference(&old) {
        problems.push(format!("man/{} is missing", f.display()));
    }
    for f in old.difference(&fresh) {
        problems.push(format!(
            "man/{} is no longer generated (delete it)",
            f.display()
        ));
    }
    for f in fresh.intersection(&old) {
        let want = std::fs::read(tmp.path().join(f)).unwrap();
        let have = std::fs::read(checked_in.join(f)).unwrap();
        if want != have {
            let want = String::from_utf8_lossy(&want);
            let have = String::from_utf8_lossy(&have);
            let first = want
                .lines()
                .zip(have.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| want.lines().count().min(have.lines().count()));
            problems.push(format!(
                "man/{} differs from line {}:\n  checked in: {:?}\n  generated:  {:?}",
                f.display(),
                first + 1,
                have.lines().nth(first).unwrap_or("<end of file>"),
                want.lines().nth(first).unwrap_or("<end of file>"),
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{REGENERATE}:\n{}",
        problems.join("\n")
    );
}

/// The text the hand-written pages carried is still in the generated ones.
#[test]
fn generated_pages_keep_the_reference_text() {
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let lint = std::fs::read_to_string(man.join("cfmap-lint.1")).unwrap();
    for needle in [
        ".SH JSON SCHEMA",
        ".SH RULES",
        ".SH EXIT STATUS",
        ".SH OUTPUT FORMATS",
        "end_column (integers)",
        "first defined here",
        "stale\\-map (warning)",
        "syntax\\-error (error)",
        "option\\-abbreviation (info)",
        "NO_COLOR",
    ] {
        assert!(lint.contains(needle), "cfmap-lint.1 lacks {needle:?}");
    }
    let compile = std::fs::read_to_string(man.join("cfmap-compile.1")).unwrap();
    for needle in [
        ".SH EXIT STATUS",
        "diff \\-u old.ir new.ir",
        "OperatorChars",
    ] {
        assert!(compile.contains(needle), "cfmap-compile.1 lacks {needle:?}");
    }
    let query = std::fs::read_to_string(man.join("cfmap-query.1")).unwrap();
    assert!(
        query.contains("batch mode"),
        "cfmap-query.1 lacks the batch rules"
    );
    let top = std::fs::read_to_string(man.join("cfmap.1")).unwrap();
    for needle in [".SH EXIT STATUS", "cfmap\\-query(1)", "sysexits.h"] {
        assert!(top.contains(needle), "cfmap.1 lacks {needle:?}");
    }
}
