//! Differential test against real sendmail: the messages sendmail prints while it reads
//! a .cf (`sendmail -bt -C file.cf`, hermetic as in shared/oracle.md) must all be
//! reported by `cfmap lint` on the same line, and every cfmap diagnostic of the rules
//! that mirror sendmail's reader must have a sendmail message on that line.
//!
//! Needs root (namespaces) and sendmail-bin; under `CI=true` their absence fails.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

/// Rules whose diagnostics repeat a message sendmail prints while reading.
const MIRRORED: &[&str] = cfmap::lint::READ_TIME_RULES;

/// Extra cases beyond the planted-mistake files.
const CASES: &[(&str, &str)] = &[
    ("null-lhs", "S0\nR$Q\t$@ x\n"),
    ("wildcards", "S0\nR$* $* $* $* $* $* $* $* $* $*\t$@ x\n"),
    (
        "nest",
        "Kh hash -o /nonexistent\nS0\nR$*\t$: $(h $(h $1 $) $)\n",
    ),
    ("unclosed", "Kh hash -o /nonexistent\nS0\nR$*\t$: $(h $1\n"),
    ("nomapname", "K\nS0\nR$*\t$@ x\n"),
    ("noclass", "Kfoo\nS0\nR$*\t$@ x\n"),
    ("badclass", "Kfoo nosuchclass /x\nS0\nR$*\t$@ x\n"),
    ("badflag", "Kfoo hash -y /x\nS0\nR$*\t$@ x\n"),
    ("nofile", "Kfoo hash -o\nS0\nR$*\t$@ x\n"),
    ("badrs", "S100\nR$*\t$@ x\nSfoo=\nS0\n"),
    ("changed", "Sfoo=10\nSfoo=11\nS0\n"),
    ("unknownopt", "O NoSuchOptionAtAll=1\nS0\n"),
    ("ambig", "O Max=1\nS0\n"),
    ("lhsmeta", "S0\nR$: $1\t$@ x\nR$>\t$@ x\n"),
    ("rhsmeta", "S0\nR$+\t$@ $- $=w\n"),
    ("oob0", "S0\nR$+\t$@ $0 $2\n"),
    ("tabexpected", "S0\nR$*\t\t# only a comment\nR$* $@ x\n"),
    ("mailer", "Mfoo, Q=x, Z=1\nMbar\n"),
];

const PREAMBLE: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nMlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n";

/// (line, message) pairs sendmail printed while reading `name`.
fn sendmail_messages(dir: &Path, name: &str) -> BTreeSet<(usize, String)> {
    let out = support::sendmail_bt(dir, name, "/quit\n");
    let prefix = format!("{name}: line ");
    let mut set = BTreeSet::new();
    for line in out.lines() {
        if line.starts_with("ADDRESS TEST MODE") {
            break;
        }
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((n, msg)) = rest.split_once(": ") else {
            continue;
        };
        // Metacharacters are printed with the high bit cleared: MACROEXPAND is 0x01.
        let msg = msg.replace('\u{1}', "$");
        set.insert((n.parse().unwrap(), msg));
    }
    set
}

/// (line, message) of cfmap's mirrored diagnostics; for a folded line cfmap reports the
/// first physical line, sendmail the last, so `last_line` maps one to the other.
fn cfmap_messages(dir: &Path, name: &str) -> Vec<(usize, String, String)> {
    let (out, _, _) = support::cfmap(
        dir,
        &[
            "lint",
            "--check-files",
            "--format",
            "json",
            "--hostname",
            "vm.example.com",
            name,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["end_line"].as_u64().unwrap() as usize,
                d["rule"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn compare(dir: &Path, name: &str) -> usize {
    let theirs = sendmail_messages(dir, name);
    let ours = cfmap_messages(dir, name);
    for (line, msg) in &theirs {
        assert!(
            ours.iter()
                .any(|(l, _, m)| l == line && m.starts_with(msg.as_str())),
            "{name}: sendmail says line {line}: {msg}\ncfmap says: {ours:#?}"
        );
    }
    for (line, rule, msg) in &ours {
        if !MIRRORED.contains(&rule.as_str()) || msg.starts_with("WARNING: Ruleset") {
            continue;
        }
        assert!(
            theirs
                .iter()
                .any(|(l, m)| l == line && msg.starts_with(m.as_str())),
            "{name}: cfmap says line {line}: {msg} [{rule}], sendmail does not\nsendmail says: {theirs:#?}"
        );
    }
    theirs.len()
}

#[test]
fn oracle_read_time_messages_match() {
    if !support::need_tool("/usr/sbin/sendmail")
        || !support::need_root()
        || !support::need_tool("unshare")
    {
        return;
    }
    let mut total = 0;
    for sub in ["testdata/lint", "testdata/oracle"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(sub);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "cf") {
                total += compare(&dir, p.file_name().unwrap().to_str().unwrap());
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, body) in CASES {
        let file = format!("{name}.cf");
        std::fs::write(tmp.path().join(&file), format!("{PREAMBLE}{body}")).unwrap();
        total += compare(tmp.path(), &file);
    }
    assert!(total >= 25, "only {total} sendmail messages compared");
}
