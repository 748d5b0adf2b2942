//! The positive cache shared with Perl: files Perl's SDBM_File writes are read by cfmap,
//! files cfmap writes are read (and written identically) by Perl, and cfmap and Perl
//! writers running at once under the flock convention lose nothing.

mod verify_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use verify_support::{Responder, accepting, cfmap, closed_port};

/// The writer the cfmap-verify(1) page tells Perl filters to use: exclusive flock on
/// NAME.pag around each tie-store-untie. Arguments: NAME, then KEY=VALUE pairs.
const PERL_WRITER: &str = r#"
use strict; use Fcntl qw(:DEFAULT :flock); use SDBM_File;
my $name = shift @ARGV;
for my $kv (@ARGV) {
    my ($k, $v) = split /=/, $kv, 2;
    sysopen(my $lock, "$name.pag", O_RDONLY | O_CREAT) or die "open: $!";
    flock($lock, LOCK_EX) or die "flock: $!";
    tie(my %db, 'SDBM_File', $name, O_RDWR | O_CREAT, 0644) or die "tie: $!";
    $db{$k} = $v;
    untie %db;
    close $lock;
}
"#;

/// Prints every pair as KEY<TAB>VALUE in `each` order, under a shared lock.
const PERL_READER: &str = r#"
use strict; use Fcntl qw(:DEFAULT :flock); use SDBM_File;
my $name = shift @ARGV;
open(my $lock, '<', "$name.pag") or die "open: $!";
flock($lock, LOCK_SH) or die;
tie(my %db, 'SDBM_File', $name, O_RDONLY, 0) or die "tie: $!";
while (my ($k, $v) = each %db) { print "$k\t$v\n" }
"#;

fn have_perl() -> bool {
    cfmap_testkit::need_tool("perl")
}

fn perl(dir: &Path, script: &str, args: &[String]) -> Child {
    Command::new("perl")
        .current_dir(dir)
        .arg("-e")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run perl")
}

fn perl_output(dir: &Path, script: &str, args: &[String]) -> String {
    let out = perl(dir, script, args).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "perl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn entries_perl_wrote_are_cache_hits_for_cfmap() {
    if !have_perl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let now = cfmap::verify::now();
    perl_output(
        tmp.path(),
        PERL_WRITER,
        &[
            "rcpt".into(),
            format!("alice@example.com={}", now - 100),
            // A filter that stored MIMEDefang's bracketed $recipient.
            format!("<bob@example.com>={now}"),
            format!("old@example.com={}", now - 40 * 86_400),
        ],
    );
    let gone = format!("127.0.0.1:{}", closed_port());
    let (out, err, code) = cfmap(
        tmp.path(),
        &[
            "verify",
            "--cache",
            "rcpt",
            "--server",
            &gone,
            "Alice@Example.com",
            "bob@example.com",
            "old@example.com",
        ],
    );
    assert_eq!(code, 75, "{out}{err}");
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines[0][1], "CONTINUE");
    assert_eq!(lines[0][5], "cache");
    assert_eq!(lines[1][1], "CONTINUE");
    // 40 days old: ignored, so the (unreachable) server is asked.
    assert_eq!(&lines[2][1..4], ["TEMPFAIL", "451", "4.4.1"]);
    let (list, _, _) = cfmap(tmp.path(), &["cache", "list", "rcpt"]);
    assert_eq!(list.lines().count(), 3);
    assert!(
        list.contains("old@example.com\t") && list.contains("\texpired"),
        "{list}"
    );
}

#[test]
fn files_cfmap_writes_are_what_perl_writes() {
    if !have_perl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Enough keys to split pages many times over.
    let addrs: Vec<String> = (0..600)
        .map(|i| format!("user{i:04}@example.com"))
        .collect();
    let mut args = vec!["cache", "add", "c", "--time", "1700000000"];
    args.extend(addrs.iter().map(String::as_str));
    let (_, err, code) = cfmap(tmp.path(), &args);
    assert_eq!(code, 0, "{err}");
    let mut pargs = vec!["p".to_string()];
    pargs.extend(addrs.iter().map(|a| format!("{a}=1700000000")));
    perl_output(tmp.path(), PERL_WRITER, &pargs);
    for ext in ["dir", "pag"] {
        let c = std::fs::read(tmp.path().join(format!("c.{ext}"))).unwrap();
        let p = std::fs::read(tmp.path().join(format!("p.{ext}"))).unwrap();
        assert!(c == p, ".{ext} differs between cfmap and Perl");
    }
    // Perl reads cfmap's file, in the same order as cfmap lists it.
    let perl_list = perl_output(tmp.path(), PERL_READER, &["c".into()]);
    let (list, _, _) = cfmap(tmp.path(), &["cache", "list", "c"]);
    let ours: Vec<String> = list
        .lines()
        .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join("\t"))
        .collect();
    assert_eq!(perl_list.lines().collect::<Vec<_>>(), ours);
    assert_eq!(ours.len(), 600);
}

#[test]
fn parallel_cfmap_and_perl_writers_lose_nothing() {
    if !have_perl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    let mut children = Vec::new();
    for w in 0..3 {
        let addrs: Vec<String> = (0..250).map(|i| format!("c{w}-{i}@example.com")).collect();
        for a in &addrs {
            expected.insert(a.clone(), format!("{}", 1_700_000_000 + w));
        }
        children.push(
            Command::new(env!("CARGO_BIN_EXE_cfmap"))
                .current_dir(tmp.path())
                .args([
                    "cache",
                    "add",
                    "shared",
                    "--time",
                    &format!("{}", 1_700_000_000 + w),
                ])
                .args(&addrs)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for w in 0..2 {
        let mut args = vec!["shared".to_string()];
        for i in 0..250 {
            let k = format!("p{w}-{i}@example.com");
            let v = format!("{}", 1_600_000_000 + i);
            expected.insert(k.clone(), v.clone());
            args.push(format!("{k}={v}"));
        }
        children.push(perl(tmp.path(), PERL_WRITER, &args));
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let perl_list = perl_output(tmp.path(), PERL_READER, &["shared".into()]);
    let got: BTreeMap<String, String> = perl_list
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(got.len(), 1250);
    assert!(got == expected, "Perl sees a different set of pairs");
    let (list, _, code) = cfmap(tmp.path(), &["cache", "list", "shared"]);
    assert_eq!(code, 0);
    assert_eq!(list.lines().count(), 1250);
}

#[test]
fn a_corrupt_cache_is_reported_used_for_nothing_and_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, code) = cfmap(tmp.path(), &["cache", "add", "c", "a@b.org"]);
    assert_eq!(code, 0);
    // Page 0 claims 1000 offsets: something sdbm never writes.
    let pag = tmp.path().join("c.pag");
    let mut bytes = std::fs::read(&pag).unwrap();
    bytes[0..2].copy_from_slice(&1000u16.to_le_bytes());
    std::fs::write(&pag, &bytes).unwrap();
    let r = Responder::start(accepting(&["250 2.1.5 Ok"]));
    let s = format!("127.0.0.1:{}", r.port);
    let (out, err, code) = cfmap(
        tmp.path(),
        &["verify", "--cache", "c", "--server", &s, "a@b.org"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\tserver 127.0.0.1:"), "{out}");
    assert!(
        err.contains("warning: cache not used") && err.contains("corrupt"),
        "{err}"
    );
    assert_eq!(std::fs::read(&pag).unwrap(), bytes);
    let (_, err, code) = cfmap(tmp.path(), &["cache", "list", "c"]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("corrupt sdbm file"), "{err}");
}

#[test]
fn cache_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let now = cfmap::verify::now();
    let old = (now - 31 * 86_400).to_string();
    let (_, _, code) = cfmap(
        tmp.path(),
        &["cache", "add", "c", "--time", &old, "Old@x.org"],
    );
    assert_eq!(code, 0);
    let (_, _, code) = cfmap(tmp.path(), &["cache", "add", "c", "<new@x.org>"]);
    assert_eq!(code, 0);
    let (_, err, code) = cfmap(tmp.path(), &["cache", "add", "c", "bad\x01@x.org"]);
    assert_eq!(code, 65, "{err}");
    let (list, _, _) = cfmap(tmp.path(), &["cache", "list", "c"]);
    assert!(list.contains(&format!("old@x.org\t{old}\t")), "{list}");
    assert!(list.contains("new@x.org\t"), "{list}");
    let (out, _, code) = cfmap(tmp.path(), &["cache", "prune", "c"]);
    assert_eq!((out.as_str(), code), ("removed 1, kept 1\n", 0));
    let (_, err, code) = cfmap(
        tmp.path(),
        &["cache", "remove", "c", "NEW@x.org", "gone@x.org"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("gone@x.org: not in the cache"), "{err}");
    let (list, _, _) = cfmap(tmp.path(), &["cache", "list", "c"]);
    assert_eq!(list, "");
    // A cache that does not exist lists as empty and prunes nothing.
    let (list, _, code) = cfmap(tmp.path(), &["cache", "list", "none"]);
    assert_eq!((list.as_str(), code), ("", 0));
    assert!(!tmp.path().join("none.pag").exists());
}
