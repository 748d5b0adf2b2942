//! `cfmap convert` against the real tools: `.db` inputs made by real makemap (with -N, -f,
//! -d, overflow pages, 1,000,000 pairs), read back by libdb's own `db5.3_dump`, tinycdb's
//! `cdb -d`/`cdb -q`, Perl's SDBM_File and Postfix's cdb reader (`postmap -q`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{cfmap, need_tool};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn run(dir: &Path, prog: &str, args: &[&str], stdin: &[u8]) -> (Vec<u8>, String, i32) {
    use std::io::Write;
    let mut child = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    let mut i = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = i.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn makemap(dir: &Path, args: &[&str], src: &[u8]) {
    let (_, err, code) = run(dir, "/usr/sbin/makemap", args, src);
    assert_eq!(code, 0, "makemap {args:?}: {err}");
}

fn unhex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap() as u8
}

/// Every pair of a Berkeley DB file, as libdb itself reads it (`db5.3_dump -p`).
fn db_dump(dir: &Path, file: &str) -> Pairs {
    let (out, err, code) = run(dir, "db5.3_dump", &["-p", file], b"");
    assert_eq!(code, 0, "db5.3_dump {file}: {err}");
    let mut items = Vec::new();
    let mut in_data = false;
    for line in out.split(|&b| b == b'\n') {
        if line == b"HEADER=END" {
            in_data = true;
            continue;
        }
        if !in_data || line == b"DATA=END" || line.is_empty() {
            continue;
        }
        let body = &line[1..];
        let mut v = Vec::new();
        let mut i = 0;
        while i < body.len() {
            if body[i] == b'\\' {
                if body[i + 1] == b'\\' {
                    v.push(b'\\');
                    i += 2;
                } else {
                    v.push(unhex(body[i + 1]) << 4 | unhex(body[i + 2]));
                    i += 3;
                }
            } else {
                v.push(body[i]);
                i += 1;
            }
        }
        items.push(v);
    }
    assert_eq!(items.len() % 2, 0);
    items
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

/// Every record of a cdb file, as tinycdb reads it (`cdb -d`, native format).
fn cdb_dump(dir: &Path, file: &str) -> Pairs {
    let (out, err, code) = run(dir, "cdb", &["-d", file], b"");
    assert_eq!(code, 0, "cdb -d {file}: {err}");
    let mut pairs = Vec::new();
    let mut i = 0;
    let num = |i: &mut usize, end: u8| {
        let s = *i;
        while out[*i] != end {
            *i += 1;
        }
        let n: usize = std::str::from_utf8(&out[s..*i]).unwrap().parse().unwrap();
        *i += 1;
        n
    };
    while out[i] == b'+' {
        i += 1;
        let kl = num(&mut i, b',');
        let vl = num(&mut i, b':');
        let k = out[i..i + kl].to_vec();
        i += kl;
        assert_eq!(&out[i..i + 2], b"->");
        i += 2;
        let v = out[i..i + vl].to_vec();
        i += vl;
        assert_eq!(out[i], b'\n');
        i += 1;
        pairs.push((k, v));
    }
    assert_eq!(&out[i..], b"\n");
    pairs
}

/// Every pair of an sdbm map, as Perl's SDBM_File reads it (hex, one pair a line).
fn sdbm_dump(dir: &Path, name: &str) -> Pairs {
    let script = format!(
        "use Fcntl; use SDBM_File; tie(my %h, 'SDBM_File', '{name}', O_RDONLY, 0) or die \"tie: $!\"; \
         while (my ($k, $v) = each %h) {{ print unpack('H*', $k), ' ', unpack('H*', $v), \"\\n\" }}"
    );
    let (out, err, code) = run(dir, "perl", &["-e", &script], b"");
    assert_eq!(code, 0, "perl: {err}");
    let hex = |s: &[u8]| -> Vec<u8> {
        s.chunks(2)
            .map(|c| unhex(c[0]) << 4 | unhex(c[1]))
            .collect()
    };
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let sp = l.iter().position(|&b| b == b' ').unwrap();
            (hex(&l[..sp]), hex(&l[sp + 1..]))
        })
        .collect()
}

fn sorted(mut p: Pairs) -> Pairs {
    p.sort();
    p
}

fn tools() -> bool {
    need_tool("/usr/sbin/makemap") && need_tool("db5.3_dump") && need_tool("cdb")
}

/// A makemap source with the cases that matter: mixed case, 8-bit bytes, blanks and a CR
/// in values, a `#` inside a key, long values.
fn awkward_source() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"Mixed.Case.example\tOK\n");
    s.extend_from_slice(b"lower.example REJECT  with  blanks \n");
    s.extend_from_slice(b"m\xfcller@example.com\tLatin-1 \xe9\n");
    s.extend_from_slice(b"cr.example\tvalue with CR\r\n");
    s.extend_from_slice(b"a#b\thash inside\n");
    s.extend_from_slice(b"From:spammer@example.org\tERROR:550 go away\n");
    s.extend_from_slice(b"empty.example\n");
    for i in 0..300 {
        s.extend_from_slice(
            format!("host{i:04}.example.net\tRELAY {}\n", "x".repeat(i)).as_bytes(),
        );
    }
    s
}

#[test]
fn makemap_n_and_f_maps_carry_over_exactly_to_cdb_and_back() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let src = awkward_source();
    for (flags, name) in [
        (&["-N", "-f", "-e"][..], "nf"),
        (&["-e"][..], "plain"),
        (&["-N", "-e"][..], "n"),
    ] {
        for ty in ["hash", "btree"] {
            let m = format!("{name}-{ty}");
            let mut args = flags.to_vec();
            args.extend([ty, &m]);
            makemap(dir, &args, &src);
            let want = db_dump(dir, &format!("{m}.db"));
            assert!(want.len() > 300);
            let (_, err, code) =
                cfmap(dir, &["convert", &format!("{ty}:{m}"), &format!("cdb:{m}")]);
            assert_eq!(code, 0, "{err}");
            let got = cdb_dump(dir, &format!("{m}.cdb"));
            // cdb keeps the source's own order; the pairs are the same bytes.
            assert_eq!(sorted(got), sorted(want.clone()), "{m}");
            // The capitals are said, not changed (only -f maps keep them).
            assert_eq!(
                err.contains("upper-case letters copied as they are"),
                flags.contains(&"-f"),
                "{err}"
            );
            // And back to the other libdb type: libdb reads the same pairs.
            let other = if ty == "hash" { "btree" } else { "hash" };
            let back = format!("{m}-back");
            let (_, err, code) = cfmap(
                dir,
                &["convert", &format!("cdb:{m}"), &format!("{other}:{back}")],
            );
            assert_eq!(code, 0, "{err}");
            assert_eq!(sorted(db_dump(dir, &format!("{back}.db"))), sorted(want));
        }
    }
    // tinycdb finds what sendmail's lookup would ask for (no NUL map, folded key).
    let (out, _, code) = run(
        dir,
        "cdb",
        &["-q", "plain-hash.cdb", "mixed.case.example"],
        b"",
    );
    assert_eq!((out.as_slice(), code), (&b"OK"[..], 0));
    let (out, _, _) = run(dir, "cdb", &["-q", "plain-hash.cdb", "cr.example"], b"");
    assert_eq!(out, b"value with CR\r");
    let (out, _, code) = run(dir, "cdb", &["-q", "plain-hash.cdb", "empty.example"], b"");
    assert_eq!((out.as_slice(), code), (&b""[..], 0));
}

#[test]
fn duplicates_from_makemap_d_resolve_to_what_libdb_answers() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let src = b"k first\nother x\nk second\nk third\nz last\n";
    for ty in ["btree", "hash"] {
        makemap(dir, &["-d", ty, ty], src);
        let (_, err, code) = cfmap(
            dir,
            &["convert", &format!("{ty}:{ty}"), &format!("cdb:{ty}")],
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "{ty}:{ty}: key k: 3 records; kept \"first\" (what a lookup answered), dropped \"second\", \"third\""
            )),
            "{err}"
        );
        let (out, _, _) = run(dir, "cdb", &["-q", &format!("{ty}.cdb"), "k"], b"");
        assert_eq!(out, b"first");
        assert_eq!(cdb_dump(dir, &format!("{ty}.cdb")).len(), 3);
        // -d keeps them all, in libdb's order: cdb -q prints every value.
        let (_, err, code) = cfmap(
            dir,
            &[
                "convert",
                "-d",
                &format!("{ty}:{ty}"),
                &format!("cdb:{ty}-all"),
            ],
        );
        assert_eq!(code, 0, "{err}");
        let (out, _, _) = run(dir, "cdb", &["-q", &format!("{ty}-all.cdb"), "k"], b"");
        assert_eq!(out, b"firstsecondthird");
        // ... and back into a DB_DUP file that libdb reads with the same duplicates.
        let (_, err, code) = cfmap(
            dir,
            &[
                "convert",
                "-d",
                &format!("cdb:{ty}-all"),
                &format!("{ty}:{ty}-again"),
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            db_dump(dir, &format!("{ty}-again.db"))
                .into_iter()
                .filter(|p| p.0 == b"k")
                .map(|p| p.1)
                .collect::<Vec<_>>(),
            [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
        );
        // dbm cannot hold them: refused, nothing written.
        let (_, err, code) = cfmap(dir, &["convert", "-d", &format!("{ty}:{ty}"), "dbm:nodups"]);
        assert_eq!(code, 65, "{err}");
        assert!(err.contains("cannot hold duplicates"), "{err}");
        assert!(!dir.join("nodups.pag").exists());
    }
}

#[test]
fn overflow_pages_and_big_maps_to_cdb_and_dbm() {
    if !tools() || !need_tool("perl") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // btree: values past 1007 bytes go to overflow pages; hash: 40,000 pairs fill
    // buckets and chain overflow pages.
    let mut src = Vec::new();
    for i in 0..200 {
        src.extend_from_slice(format!("long{i}\t{}\n", "v".repeat(1000 + i % 14)).as_bytes());
    }
    makemap(dir, &["btree", "long"], &src);
    let mut big = Vec::new();
    for i in 0..40_000 {
        big.extend_from_slice(format!("user{i}@host{}.example\tOK {i}\n", i % 97).as_bytes());
    }
    makemap(dir, &["hash", "big"], &big);
    // libdb's own statistics: the inputs do have overflow pages.
    if need_tool("db5.3_stat") {
        let stat = |f: &str, what: &str| -> u64 {
            let (out, _, _) = run(dir, "db5.3_stat", &["-d", f], b"");
            String::from_utf8_lossy(&out)
                .lines()
                .find(|l| l.ends_with(what))
                .and_then(|l| l.split('\t').next()?.parse().ok())
                .unwrap_or_else(|| panic!("{f}: no {what:?}"))
        };
        assert!(stat("long.db", "Number of tree overflow pages") > 50);
        assert!(stat("big.db", "Number of bucket overflow pages") > 50);
    }
    for (ty, m) in [("btree", "long"), ("hash", "big")] {
        let want = sorted(db_dump(dir, &format!("{m}.db")));
        let (_, err, code) = cfmap(dir, &["convert", &format!("{ty}:{m}"), &format!("cdb:{m}")]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(sorted(cdb_dump(dir, &format!("{m}.cdb"))), want);
    }
    // dbm (sdbm) holds at most 1008 bytes a pair: the long map is refused, untouched.
    let (_, err, code) = cfmap(dir, &["convert", "btree:long", "dbm:long"]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("at most 1008"), "{err}");
    assert!(!dir.join("long.dir").exists() && !dir.join("long.pag").exists());
    let (_, err, code) = cfmap(dir, &["convert", "hash:big", "dbm:big"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        sorted(sdbm_dump(dir, "big")),
        sorted(db_dump(dir, "big.db"))
    );
}

#[test]
fn text_destination_rebuilds_the_same_map_with_real_makemap() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    makemap(dir, &["-N", "-f", "-e", "hash", "orig"], &awkward_source());
    let (_, err, code) = cfmap(dir, &["convert", "hash:orig", "text:orig.txt"]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read(dir.join("orig.txt")).unwrap();
    let first = text.split(|&b| b == b'\n').next().unwrap();
    assert_eq!(first, b"# rebuild with: makemap -N -f -e hash orig < FILE");
    assert!(err.contains("rebuild with makemap -N -f -e"), "{err}");
    // Real makemap with the flags of the first line rebuilds the same pairs.
    makemap(dir, &["-N", "-f", "-e", "hash", "rebuilt"], &text);
    assert_eq!(
        sorted(db_dump(dir, "rebuilt.db")),
        sorted(db_dump(dir, "orig.db"))
    );
    // cfmap reads the flags back from the first line.
    let (_, err, code) = cfmap(dir, &["convert", "text:orig.txt", "btree:again"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        sorted(db_dump(dir, "again.db")),
        sorted(db_dump(dir, "orig.db"))
    );
}

#[test]
fn a_million_pairs_from_real_makemap() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut src = Vec::with_capacity(40 << 20);
    for i in 0..1_000_000u32 {
        src.extend_from_slice(format!("key{i:07}.example.com\tvalue {i}\n").as_bytes());
    }
    makemap(dir, &["hash", "million"], &src);
    let (_, err, code) = cfmap(dir, &["convert", "hash:million", "cdb:million"]);
    assert_eq!(code, 0, "{err}");
    let got = cdb_dump(dir, "million.cdb");
    assert_eq!(got.len(), 1_000_000);
    let got: BTreeMap<_, _> = got.into_iter().collect();
    assert_eq!(got.len(), 1_000_000);
    for i in (0..1_000_000u32).step_by(9973) {
        let k = format!("key{i:07}.example.com").into_bytes();
        assert_eq!(got[&k], format!("value {i}").into_bytes());
    }
    assert_eq!(
        sorted(db_dump(dir, "million.db")),
        got.into_iter().collect::<Pairs>()
    );
}

/// Postfix and postfix-cdb unpacked from their Debian packages (.ci/run does it).
fn postfix_root() -> PathBuf {
    std::env::var_os("CFMAP_POSTFIX_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/cfmap-postfix"))
}

#[test]
fn postfix_reads_the_cdb_files() {
    let pf = postfix_root();
    let postmap = pf.join("usr/sbin/postmap");
    if !tools() || !need_tool(postmap.to_str().unwrap()) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let conf = dir.join("pfconf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nshlib_directory = {pf}/usr/lib/postfix\nmeta_directory = {conf}\n\
             mail_owner = smmta\nsetgid_group = smmsp\n",
            pf = pf.display(),
            conf = conf.display()
        ),
    )
    .unwrap();
    // What postfix-cdb's maintainer script adds to /etc/postfix/dynamicmaps.cf.
    std::fs::write(
        conf.join("dynamicmaps.cf"),
        "cdb\tpostfix-cdb.so\tdict_cdb_open\tmkmap_cdb_open\n",
    )
    .unwrap();
    makemap(
        dir,
        &["hash", "access"],
        b"example.com\tOK\nFrom:spammer@example.org\tREJECT\nconnect:192.0.2\tRELAY\n",
    );
    makemap(
        dir,
        &["-N", "hash", "access-n"],
        b"example.com\tOK with nul\n",
    );
    makemap(dir, &["-f", "hash", "access-f"], b"Upper.example\tOK\n");
    for m in ["access", "access-n", "access-f"] {
        let (_, err, code) = cfmap(dir, &["convert", &format!("hash:{m}"), &format!("cdb:{m}")]);
        assert_eq!(code, 0, "{err}");
    }
    let q = |map: &str, key: &str| {
        let out = Command::new(&postmap)
            .env("LD_LIBRARY_PATH", pf.join("usr/lib/postfix"))
            .current_dir(dir)
            .args([
                "-c",
                conf.to_str().unwrap(),
                "-q",
                key,
                &format!("cdb:{map}"),
            ])
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        )
    };
    let (out, err, code) = q("access", "example.com");
    assert_eq!((out.as_str(), code), ("OK\n", Some(0)), "{err}");
    // Postfix folds the query, as sendmail does.
    assert_eq!(q("access", "From:Spammer@Example.org").0, "REJECT\n");
    assert_eq!(q("access", "connect:192.0.2").0, "RELAY\n");
    assert_eq!(q("access", "nosuch.example").2, Some(1));
    // A -N map: Postfix tries the key with its NUL, and prints the value without it.
    assert_eq!(q("access-n", "example.com").0, "OK with nul\n");
    // A capitalised key stays unreachable through a folding lookup, as in sendmail.
    assert_eq!(q("access-f", "Upper.example").2, Some(1));
}

#[test]
fn binary_pairs_from_tinycdb_survive_every_format() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Keys and values no makemap source can hold: NUL and newline inside, all 256
    // bytes, empty key, empty value.
    let all: Vec<u8> = (0..=255u8).collect();
    let pairs: Pairs = vec![
        (b"nul\0inside".to_vec(), b"v\0v".to_vec()),
        (b"new\nline".to_vec(), b"x\ny".to_vec()),
        (all.clone(), all.iter().rev().copied().collect()),
        (Vec::new(), b"empty key".to_vec()),
        (b"empty value".to_vec(), Vec::new()),
    ];
    let mut native = Vec::new();
    for (k, v) in &pairs {
        native.extend_from_slice(format!("+{},{}:", k.len(), v.len()).as_bytes());
        native.extend_from_slice(k);
        native.extend_from_slice(b"->");
        native.extend_from_slice(v);
        native.push(b'\n');
    }
    native.push(b'\n');
    let (_, err, code) = run(dir, "cdb", &["-c", "bin.cdb"], &native);
    assert_eq!(code, 0, "{err}");
    let mut prev = "cdb:bin".to_string();
    for (i, ty) in ["hash", "btree", "dbm", "cdb"].iter().enumerate() {
        let next = format!("{ty}:m{i}");
        let (_, err, code) = cfmap(dir, &["convert", &prev, &next]);
        assert_eq!(code, 0, "{prev} -> {next}: {err}");
        if *ty == "hash" || *ty == "btree" {
            assert_eq!(
                sorted(db_dump(dir, &format!("m{i}.db"))),
                sorted(pairs.clone())
            );
        }
        prev = next;
    }
    assert_eq!(sorted(cdb_dump(dir, "m3.cdb")), sorted(pairs));
    // No makemap source can carry them: refused, nothing written.
    let (_, err, code) = cfmap(dir, &["convert", "cdb:bin", "text:bin.txt"]);
    assert_eq!(code, 65);
    assert!(
        err.contains("some keys or values end in NUL") || err.contains("NUL byte inside"),
        "{err}"
    );
    assert!(!dir.join("bin.txt").exists());
}
