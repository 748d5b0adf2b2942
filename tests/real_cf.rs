//! cfmap on real configurations: Debian's sendmail.mc and submit.mc and our
//! testdata/mc/features.mc, turned into .cf files with m4 and the installed sendmail-cf
//! macros at test time (no generated or copied .cf file is kept in the repository).
//!
//! For each configuration, `cfmap lint` must find no error or warning, and `cfmap
//! compile --emit json` must hold every R line of the file and the rulesets and maps the
//! .mc asks for.
//!
//! Needs m4 and sendmail-cf; when they are missing the tests fail under `CI=true` and
//! are skipped (with a note) elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use cfmap_testkit::need_tool;
use serde_json::Value;

const CF_M4: &str = "/usr/share/sendmail/cf/m4/cf.m4";
const DEBIAN_MC: &str = "/usr/share/sendmail/cf/debian/sendmail.mc";
const SUBMIT_MC: &str = "/usr/share/sendmail/cf/debian/submit.mc";

/// m4 and the sendmail-cf macros.
fn have_m4_and_cf() -> bool {
    need_tool("m4") && need_tool(CF_M4)
}

/// Run m4 on `mc`, writing `dir/name`; m4 must succeed and print nothing on stderr.
fn m4(mc: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = Command::new("m4")
        .arg(mc)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run m4: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "m4 {} failed ({}):\n{stderr}",
        mc.display(),
        out.status
    );
    assert!(!out.stdout.is_empty(), "m4 {}: empty output", mc.display());
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// Debian's sendmail.mc includes /etc/mail/m4/dialup.m4 and provider.m4, which the
/// sendmail package's configuration step creates (empty by default). When they cannot
/// be read, generate from a copy that includes them only if present (`sinclude`).
fn debian_mc(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(DEBIAN_MC).unwrap();
    let missing: Vec<&str> = ["/etc/mail/m4/dialup.m4", "/etc/mail/m4/provider.m4"]
        .into_iter()
        .filter(|p| text.contains(p) && std::fs::File::open(p).is_err())
        .collect();
    if missing.is_empty() {
        return PathBuf::from(DEBIAN_MC);
    }
    eprintln!(
        "note: {} missing or unreadable (sendmail-bin not configured, or not root?); including them optionally",
        missing.join(", ")
    );
    let copy = dir.join("debian-sendmail.mc");
    std::fs::write(
        &copy,
        text.replace("include(`/etc/mail/m4/", "sinclude(`/etc/mail/m4/"),
    )
    .unwrap();
    copy
}

fn cfmap(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .args(args)
        .output()
        .expect("run cfmap");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Logical lines (a line starting with SP or TAB continues the previous one) that are R
/// lines.
fn count_rule_lines(cf: &[u8]) -> usize {
    let mut count = 0;
    let mut first = true;
    for phys in cf.split(|&b| b == b'\n') {
        let continuation = !first && matches!(phys.first(), Some(b' ' | b'\t'));
        first = false;
        if !continuation && phys.first() == Some(&b'R') {
            count += 1;
        }
    }
    count
}

/// What a configuration must contain.
struct Expect {
    /// Rulesets (by name) that must exist and have rules.
    rulesets: Vec<&'static str>,
    /// Rulesets (by name) the .mc's features rename or leave out.
    no_rulesets: &'static [&'static str],
    maps: &'static [&'static str],
    no_maps: &'static [&'static str],
    mailers: &'static [&'static str],
}

fn check(cf: &Path, expect: &Expect) {
    let name = cf.file_name().unwrap().to_string_lossy().into_owned();
    let cf_arg = cf.to_str().unwrap();

    // Lint: no errors, no warnings.
    let (out, err, code) = cfmap(&["lint", "--format", "json", cf_arg]);
    assert_eq!(code, 0, "{name}: cfmap lint exited {code}\n{err}\n{out}");
    let diags: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{name}: lint output is no JSON ({e}):\n{out}"));
    let diags = diags.as_array().expect("lint JSON is an array");
    let bad: Vec<String> = diags
        .iter()
        .filter(|d| matches!(d["severity"].as_str(), Some("error" | "warning")))
        .map(|d| {
            format!(
                "{}:{}:{}: {}[{}]: {}",
                name,
                d["line"],
                d["column"],
                d["severity"].as_str().unwrap_or("?"),
                d["rule"].as_str().unwrap_or("?"),
                d["message"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{name}: cfmap lint reports errors/warnings on a real configuration:\n{}",
        bad.join("\n")
    );

    // Compile: every R line becomes a rule.
    let (out, err, code) = cfmap(&["compile", "-C", cf_arg, "--emit", "json"]);
    assert_eq!(code, 0, "{name}: cfmap compile exited {code}\n{err}");
    let ir: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{name}: compile output is no JSON ({e})"));
    let rulesets = ir["rulesets"].as_array().expect("rulesets array");
    let rules: usize = rulesets
        .iter()
        .map(|rs| rs["rules"].as_array().map_or(0, Vec::len))
        .sum();
    let r_lines = count_rule_lines(&std::fs::read(cf).unwrap());
    assert!(r_lines > 100, "{name}: only {r_lines} R lines generated");
    assert_eq!(
        rules, r_lines,
        "{name}: {rules} compiled rules but {r_lines} R lines in the file"
    );

    let ruleset = |n: &str| {
        rulesets
            .iter()
            .find(|rs| rs["name"].as_str() == Some(n))
            .cloned()
    };
    for n in &expect.rulesets {
        let rs = ruleset(n).unwrap_or_else(|| panic!("{name}: no ruleset {n}"));
        assert!(
            rs["rules"].as_array().is_some_and(|r| !r.is_empty()),
            "{name}: ruleset {n} has no rules"
        );
    }
    for n in expect.no_rulesets {
        assert!(ruleset(n).is_none(), "{name}: unexpected ruleset {n}");
    }
    let names = |key: &str| -> Vec<String> {
        ir[key]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|m| m["name"].as_str().map(str::to_string))
            .collect()
    };
    let maps = names("maps");
    for m in expect.maps {
        assert!(
            maps.iter().any(|x| x == m),
            "{name}: no map {m} in {maps:?}"
        );
    }
    for m in expect.no_maps {
        assert!(!maps.iter().any(|x| x == m), "{name}: unexpected map {m}");
    }
    let mailers = names("mailers");
    for m in expect.mailers {
        assert!(
            mailers.iter().any(|x| x == m),
            "{name}: no mailer {m} in {mailers:?}"
        );
    }
}

/// Rulesets every m4-generated configuration has.
const BASE_RULESETS: [&str; 7] = [
    "canonify",
    "final",
    "parse",
    "Parse0",
    "Parse1",
    "localaddr",
    "EnvFromSMTP",
];

#[test]
fn debian_sendmail_mc() {
    if !have_m4_and_cf() || !need_tool(DEBIAN_MC) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mc = debian_mc(tmp.path());
    let cf = m4(&mc, tmp.path(), "sendmail.cf");
    let mut rulesets = BASE_RULESETS.to_vec();
    // FEATURE(delay_checks) renames check_mail to checkmail and calls it from
    // check_rcpt; greet_pause, conncontrol and ratecontrol add their rulesets.
    rulesets.extend([
        "check_relay",
        "check_rcpt",
        "checkmail",
        "Basic_check_mail",
        "Basic_check_rcpt",
        "SearchList",
        "greet_pause",
        "ConnControl",
        "RateControl",
    ]);
    check(
        &cf,
        &Expect {
            rulesets,
            no_rulesets: &["check_mail"],
            maps: &["access", "host", "dequote", "macro", "arith"],
            no_maps: &["mailertable", "virtuser"],
            mailers: &["local", "prog", "smtp", "esmtp", "relay"],
        },
    );
}

#[test]
fn debian_submit_mc() {
    if !have_m4_and_cf() || !need_tool(SUBMIT_MC) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cf = m4(Path::new(SUBMIT_MC), tmp.path(), "submit.cf");
    let mut rulesets = BASE_RULESETS.to_vec();
    rulesets.extend([
        "check_relay",
        "check_mail",
        "check_rcpt",
        "Basic_check_mail",
    ]);
    check(
        &cf,
        &Expect {
            rulesets,
            no_rulesets: &["checkmail"],
            maps: &["host", "dequote", "arith"],
            // The submission agent relays everything to the MTA: no access map.
            no_maps: &["access"],
            mailers: &["relay"],
        },
    );
}

#[test]
fn features_mc() {
    if !have_m4_and_cf() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mc = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mc/features.mc");
    let cf = m4(&mc, tmp.path(), "features.cf");
    let mut rulesets = BASE_RULESETS.to_vec();
    // delay_checks without conncontrol/ratecontrol: check_relay and check_mail are
    // renamed and called from check_rcpt.
    rulesets.extend([
        "checkrelay",
        "check_rcpt",
        "checkmail",
        "Basic_check_relay",
        "Basic_check_mail",
        "Basic_check_rcpt",
        "SearchList",
        "Mailertable",
        "LDAPExpand",
        "MasqEnv",
        "AddDomain",
    ]);
    check(
        &cf,
        &Expect {
            rulesets,
            no_rulesets: &["check_mail", "check_relay"],
            maps: &[
                "access",
                "mailertable",
                "virtuser",
                "generics",
                "dnsbl",
                "ednsbl",
                "ldapmh",
                "ldapmra",
                "host",
            ],
            no_maps: &[],
            mailers: &["local", "prog", "smtp", "esmtp", "relay"],
        },
    );
}

#[test]
fn rule_lines_are_counted_as_logical_lines() {
    let cf = b"S0\nR$*\t$@ $1\nR$* < @ $+ >\n\t$@ $1\n# R not a rule\n\tR still comment\nRx\tx\n";
    assert_eq!(count_rule_lines(cf), 3);
}
