//! Differential test of the compiled IR against real sendmail: for every ruleset of the
//! real m4-generated configurations (Debian's sendmail.mc and submit.mc, and our
//! testdata/mc/*.mc with many FEATUREs) and of the planted-mistake files, the rules as
//! `sendmail -bt` dumps them (`=S<ruleset>`) must equal cfmap's rules printed the same
//! way: same tokens after read-time macro expansion, same metacharacters, same prefix.
//!
//! Needs root, sendmail-bin, sendmail-cf and m4; under `CI=true` their absence fails.

mod support;

use std::path::Path;
use std::process::Command;

use cfmap::cf::{FileId, SourceFile};
use cfmap::ir::{self, CompileOptions};

/// cfmap's `=S` dump for each ruleset with rules: (command, expected lines).
fn ours(path: &Path) -> Vec<(String, Vec<String>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = SourceFile::new(FileId(0), path, &bytes);
    let syntax = cfmap::cf::parse(&file);
    let opts = CompileOptions {
        hostname: b"vm.example.com".to_vec(),
        ..CompileOptions::default()
    };
    let ir = ir::compile(&syntax, &opts);
    ir.rulesets
        .values()
        .filter(|rs| !rs.rules.is_empty())
        .map(|rs| {
            let lines = rs
                .rules
                .iter()
                .map(|r| ir::emit::sendmail_rule(r, &ir.macros))
                .collect();
            (format!("=S{}", rs.label()), lines)
        })
        .collect()
}

/// Split `-bt` output into the answers to each command (after the banner).
fn answers(out: &str) -> Vec<Vec<String>> {
    let start = out
        .find("Enter <ruleset> <address>\n")
        .map(|i| i + "Enter <ruleset> <address>\n".len())
        .expect("banner");
    let body = &out[start..];
    let mut result: Vec<Vec<String>> = Vec::new();
    for line in body.split('\n') {
        if let Some(rest) = line.strip_prefix("> ") {
            result.push(Vec::new());
            if !rest.is_empty() {
                result.last_mut().unwrap().push(rest.to_string());
            }
        } else if line == ">" {
            result.push(Vec::new());
        } else if !line.is_empty() {
            result
                .last_mut()
                .expect("output before a prompt")
                .push(line.to_string());
        }
    }
    result
}

fn compare(dir: &Path, name: &str) -> usize {
    let expected = ours(&dir.join(name));
    let input: String = expected.iter().map(|(cmd, _)| format!("{cmd}\n")).collect();
    let out = support::sendmail_bt(dir, name, &input);
    let got = answers(&out);
    assert!(
        got.len() >= expected.len(),
        "{name}: too few answers:\n{out}"
    );
    let mut rules = 0;
    for ((cmd, ours), theirs) in expected.iter().zip(&got) {
        assert_eq!(ours, theirs, "{name}: {cmd} differs");
        rules += ours.len();
    }
    rules
}

fn m4(mc: &Path, out: &Path) {
    let status = Command::new("m4")
        .arg(mc)
        .stdout(std::fs::File::create(out).unwrap())
        .status()
        .expect("run m4");
    assert!(status.success(), "m4 {}", mc.display());
}

#[test]
fn oracle_rulesets_match_sendmail_dump() {
    if !support::need_tool("/usr/sbin/sendmail")
        || !support::need_tool("m4")
        || !support::need_tool("/usr/share/sendmail/cf/m4/cf.m4")
        || !support::need_root()
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut mcs = vec![
        Path::new("/usr/share/sendmail/cf/debian/sendmail.mc").to_path_buf(),
        Path::new("/usr/share/sendmail/cf/debian/submit.mc").to_path_buf(),
    ];
    let ours_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mc");
    if let Ok(rd) = std::fs::read_dir(&ours_dir) {
        for e in rd {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "mc") {
                mcs.push(p);
            }
        }
    }
    let mut total = 0;
    for mc in &mcs {
        let name = format!("{}.cf", mc.file_stem().unwrap().to_str().unwrap());
        m4(mc, &tmp.path().join(&name));
        let n = compare(tmp.path(), &name);
        assert!(n > 100, "{name}: only {n} rules compared");
        total += n;
    }
    for sub in ["testdata/lint", "testdata/oracle"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(sub);
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "cf") {
                total += compare(&dir, p.file_name().unwrap().to_str().unwrap());
            }
        }
    }
    eprintln!("{total} rules compared with sendmail's =S dump");
}
