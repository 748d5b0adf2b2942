//! `cfmap migrate`: a real m4 configuration with maps made by real makemap moved to cdb
//! (K lines, .mc, proof, backups), and the cases where nothing may change: a map that
//! cannot be migrated, a proof that fails, a .cf that does not parse.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::{cfmap, need_tool};

/// Every file below `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn sh(dir: &Path, cmd: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .current_dir(dir)
        .args(["-c", cmd])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn k_lines(cf: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(cf)
        .lines()
        .filter(|l| l.starts_with('K'))
        .map(str::to_string)
        .collect()
}

/// The m4 site of testdata/convert/site under `root`/etc/mail, maps made by makemap.
fn site(root: &Path) {
    let mail = root.join("etc/mail");
    std::fs::create_dir_all(&mail).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/convert/site");
    for f in ["site.mc", "access", "mailertable", "virtusertable"] {
        std::fs::copy(src.join(f), mail.join(f)).unwrap();
    }
    sh(
        &mail,
        "m4 /usr/share/sendmail/cf/m4/cf.m4 site.mc > sendmail.cf && \
         makemap hash access < access && makemap btree mailertable < mailertable && \
         makemap -N hash virtusertable < virtusertable",
    );
}

#[test]
fn an_m4_site_moves_to_cdb_with_its_mc() {
    if !need_tool("m4") || !need_tool("/usr/sbin/makemap") || !need_tool("cdb") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    site(root);
    let before = snapshot(root);
    let args = [
        "migrate",
        "-C",
        "etc/mail/sendmail.cf",
        "--mc",
        "etc/mail/site.mc",
        "--root",
        root.to_str().unwrap(),
        "--to",
        "cdb",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (out, err, code) = cfmap(root, &dry);
    assert_eq!(code, 0, "{err}");
    for want in [
        "-Kaccess hash -T<TMPF> /etc/mail/access\n+Kaccess cdb -T<TMPF> /etc/mail/access\n",
        "-Kmailertable btree -o /etc/mail/mailertable.db\n+Kmailertable cdb -o /etc/mail/mailertable\n",
        "-Kvirtuser hash -N -o /etc/mail/virtusertable\n+Kvirtuser cdb -N -o /etc/mail/virtusertable\n",
        " OSTYPE(`linux')dnl\n+define(`DATABASE_MAP_TYPE', `cdb')dnl\n",
        "-FEATURE(`mailertable', `btree -o /etc/mail/mailertable.db')dnl\n",
        "+FEATURE(`mailertable', `cdb -o /etc/mail/mailertable')dnl\n",
        "+FEATURE(`virtusertable', `cdb -N -o /etc/mail/virtusertable')dnl\n",
    ] {
        assert!(out.contains(want), "{want}\nnot in\n{out}");
    }
    assert!(out.starts_with("--- etc/mail/sendmail.cf\n+++ etc/mail/sendmail.cf\n@@ "));
    assert!(err.contains("map access: hash:"), "{err}");
    assert!(err.contains("map virtuser: hash:") && err.contains("virtusertable: 3 pairs"));
    assert!(
        err.contains("proof: 13 lookups (/map) and ")
            && err.contains("(check_mail, check_rcpt, check_relay, Local_check_mail, Local_check_rcpt, Local_check_relay, 3,0)")
            && err.contains(": all the same"),
        "{err}"
    );
    assert!(err.contains("dry run: nothing changed"));
    assert!(
        err.contains(
            "note: O AliasFile=/etc/mail/aliases is read through libdb and is not a K line"
        ),
        "{err}"
    );
    assert_eq!(snapshot(root), before, "the dry run changed a file");
    let diff_dir = tempfile::tempdir().unwrap();
    let diff_file = diff_dir.path().join("migrate.diff");
    std::fs::write(&diff_file, &out).unwrap();

    // The real run.
    let (out, err, code) = cfmap(root, &args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": all the same"), "{out}");
    assert!(out.contains("wrote etc/mail/sendmail.cf (the old one is etc/mail/sendmail.cf.bak)"));
    let mail = root.join("etc/mail");
    let old_cf = &before["etc/mail/sendmail.cf"];
    assert_eq!(
        &std::fs::read(mail.join("sendmail.cf.bak")).unwrap(),
        old_cf
    );
    assert_eq!(
        &std::fs::read(mail.join("site.mc.bak")).unwrap(),
        &before["etc/mail/site.mc"]
    );
    let new_cf = std::fs::read(mail.join("sendmail.cf")).unwrap();
    // Only the K lines changed, byte for byte elsewhere.
    let strip = |t: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(t)
            .lines()
            .filter(|l| !l.starts_with('K'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(strip(&new_cf), strip(old_cf));
    // The dry run's diff, applied to the old files, gives what the real run wrote.
    if need_tool("patch") {
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join("etc/mail")).unwrap();
        for f in ["etc/mail/sendmail.cf", "etc/mail/site.mc"] {
            std::fs::write(copy.path().join(f), &before[f]).unwrap();
        }
        sh(
            copy.path(),
            &format!("patch -s -p0 < {}", diff_file.display()),
        );
        assert_eq!(
            std::fs::read(copy.path().join("etc/mail/sendmail.cf")).unwrap(),
            new_cf
        );
        assert_eq!(
            std::fs::read(copy.path().join("etc/mail/site.mc")).unwrap(),
            std::fs::read(mail.join("site.mc")).unwrap()
        );
    }
    // m4 on the new .mc gives the same K lines as the patched .cf.
    let rebuilt = sh(&mail, "m4 /usr/share/sendmail/cf/m4/cf.m4 site.mc");
    assert_eq!(k_lines(&rebuilt), k_lines(&new_cf));
    // The old maps stay; tinycdb reads the new ones.
    assert!(mail.join("access.db").exists() && mail.join("mailertable.db").exists());
    let q = |m: &str, k: &str| sh(&mail, &format!("cdb -q {m}.cdb '{k}'"));
    assert_eq!(q("access", "connect:192.0.2.1"), b"REJECT");
    assert_eq!(
        q("mailertable", ".sub.remote.example"),
        b"smtp:relay.remote.example"
    );
    assert_eq!(
        sh(&mail, "cdb -d virtusertable.cdb | grep -a info@"),
        b"+21,6:info@virtual.example\0->alice\0\n"
    );
    // cfmap test on the new configuration answers from the cdb files.
    let (out, err, _) = cfmap(
        root,
        &[
            "test",
            "-C",
            "etc/mail/sendmail.cf",
            "--root",
            root.to_str().unwrap(),
            "-e",
            "/map mailertable remote.example",
            "-e",
            "/map virtuser info@virtual.example",
        ],
    );
    assert!(
        out.contains(
            "map_lookup: mailertable (remote.example) returns smtp:[mx.remote.example] (0)"
        ) && out.contains("map_lookup: virtuser (info@virtual.example) returns alice (0)"),
        "{out}{err}"
    );
    // Nothing left to do.
    let (_, err, code) = cfmap(root, &args);
    assert_eq!(code, 0);
    assert!(err.contains("nothing to migrate"), "{err}");
}

const HEAD: &str = "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nS3\nR$*<$*>$*\t$2\nR$+@$+\t$: $1<@$2>\n";
const TAIL: &str = "S0\nR$*\t$#local $: $1\nMlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n";

fn cf(dir: &Path, k_lines: &str, rules: &str) {
    std::fs::write(dir.join("t.cf"), format!("{HEAD}{k_lines}{rules}{TAIL}")).unwrap();
}

fn build(dir: &Path, args: &[&str], src: &str) {
    std::fs::write(dir.join("src.txt"), src).unwrap();
    let mut a = vec!["convert"];
    a.extend_from_slice(args);
    let (_, err, code) = cfmap(dir, &a);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(dir.join("src.txt")).unwrap();
}

#[test]
fn incomplete_migrations_change_nothing_unless_partial() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    build(dir, &["text:src.txt", "hash:good"], "a.example OK\n");
    build(dir, &["text:src.txt", "hash:hashfile"], "b.example OK\n");
    build(dir, &["text:src.txt", "hash:taken"], "c.example OK\n");
    std::fs::write(dir.join("taken.cdb"), "my notes, not a map\n").unwrap();
    cf(
        dir,
        "Ktaken hash taken\nKgood hash -o good\nKgone btree gone\nKwrong btree hashfile\nKdir ldap -k uid=%0 -v mail\nKsame hash good\n",
        "Scheck_rcpt\nR$*\t$: $(good $1 $: none $)\nScheck_vrfy\nR$*\t$: $(same $1 $)\n",
    );
    let before = snapshot(dir);
    let args = ["migrate", "-C", "t.cf", "--to", "cdb"];
    let (out, err, code) = cfmap(dir, &args);
    assert_eq!(code, 65, "{err}");
    assert_eq!(out, "");
    for want in [
        "map good: hash:good -> cdb:good: 1 pairs",
        "map gone (btree): NOT MIGRATED: gone.db: No such file or directory",
        "map wrong (btree): NOT MIGRATED: hashfile.db: not a btree database (hash database)",
        "map dir (ldap): NOT MIGRATED: class ldap reads a network service",
        "map taken (hash): NOT MIGRATED: taken.cdb: exists and is not a cdb map",
        "cfmap: migration incomplete (4 map(s) above); nothing changed",
    ] {
        assert!(err.contains(want), "{want}\nnot in\n{err}");
    }
    assert_eq!(snapshot(dir), before);
    // --partial: the good map moves, the others stay as they were.
    let mut partial = args.to_vec();
    partial.push("--partial");
    let (out, err, code) = cfmap(dir, &partial);
    assert_eq!(code, 0, "{err}");
    // Two K lines naming one file: one new file, both lines changed.
    assert!(out.contains("proof: 2 lookups (/map)"), "{out}");
    assert!(
        out.contains("ruleset cases (check_rcpt, check_vrfy, 3,0)"),
        "{out}"
    );
    assert_eq!(out.matches("wrote good.cdb").count(), 1, "{out}");
    let new = std::fs::read_to_string(dir.join("t.cf")).unwrap();
    assert!(new.contains("Kgood cdb -o good\nKgone btree gone\nKwrong btree hashfile\n"));
    assert!(new.contains("Ksame cdb good\n") && new.contains("Ktaken hash taken\n"));
    assert_eq!(
        std::fs::read(dir.join("taken.cdb")).unwrap(),
        b"my notes, not a map\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("cfmap-migrate"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(dir.join("good.cdb").exists());
}

#[test]
fn a_failing_proof_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // sendmail's dbm class looks a -f key up whole; its cdb class cuts every key to 256
    // bytes: a 300-byte key found in the dbm map is not found in the cdb one.
    let long = "k".repeat(300);
    build(
        dir,
        &["-f", "text:src.txt", "dbm:long"],
        &format!("{long} LONG\nshort S\n"),
    );
    cf(dir, "Klong dbm -f long\n", "");
    let before = snapshot(dir);
    let (_, err, code) = cfmap(dir, &["migrate", "-C", "t.cf", "--to", "cdb"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 DIFFERENT"), "{err}");
    assert!(
        err.contains(&format!(
            "/map long {long}\n    old: map_lookup: long ({long}) returns LONG (0)"
        )),
        "{err}"
    );
    assert!(err.contains("the new configuration answers differently; nothing changed"));
    assert_eq!(snapshot(dir), before);
}

#[test]
fn a_cf_that_does_not_parse_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    build(dir, &["text:src.txt", "hash:good"], "a.example OK\n");
    std::fs::write(
        dir.join("t.cf"),
        "V10/Berkeley\nKgood hash good\nR$* no tab here\n",
    )
    .unwrap();
    let before = snapshot(dir);
    let (_, err, code) = cfmap(dir, &["migrate", "-C", "t.cf", "--to", "cdb"]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("t.cf: line 3: "), "{err}");
    assert!(err.contains("does not parse; nothing changed"), "{err}");
    assert_eq!(snapshot(dir), before);
    let (_, err, code) = cfmap(dir, &["migrate", "-C", "missing.cf", "--to", "cdb"]);
    assert_eq!(code, 66, "{err}");
}
