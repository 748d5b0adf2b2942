//! `cfmap convert` on bad input: a clear error naming the file, a sysexits status, and no
//! file changed. Also the atomic replacement seen from a reader holding the old map.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use support::cfmap;

/// Every file in `dir` with its bytes and inode: what "nothing changed" is checked against.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let bytes = if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                (bytes, m.ino()),
            )
        })
        .collect()
}

fn build(dir: &Path, args: &[&str], src: &[u8]) {
    std::fs::write(dir.join("src.txt"), src).unwrap();
    let mut a = vec!["convert"];
    a.extend_from_slice(args);
    let (_, err, code) = cfmap(dir, &a);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(dir.join("src.txt")).unwrap();
}

#[test]
fn bad_sources_and_destinations_change_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    build(
        dir,
        &["text:src.txt", "hash:good"],
        b"a.example OK\nb.example REJECT\n",
    );
    build(dir, &["text:src.txt", "btree:tree"], b"a.example OK\n");
    let good = std::fs::read(dir.join("good.db")).unwrap();
    std::fs::write(dir.join("truncated.db"), &good[..good.len() - 100]).unwrap();
    let mut corrupt = good.clone();
    corrupt[12..16].copy_from_slice(b"junk");
    std::fs::write(dir.join("corrupt.db"), &corrupt).unwrap();
    std::fs::write(dir.join("old.cdb"), b"not a cdb at all").unwrap();
    std::fs::create_dir(dir.join("adir.cdb")).unwrap();
    std::fs::write(dir.join("notes.txt"), b"my own notes\n").unwrap();
    std::os::unix::fs::symlink("good.db", dir.join("link.db")).unwrap();
    let before = snapshot(dir);
    let cases: &[(&[&str], i32, &str)] = &[
        (&["hash:truncated", "cdb:new"], 65, "truncated.db: "),
        (&["hash:corrupt", "cdb:new"], 65, "corrupt.db: "),
        // A .db of the other class than the one asked for.
        (
            &["btree:good", "cdb:new"],
            65,
            "good.db: not a btree database (hash database)",
        ),
        (
            &["hash:tree", "cdb:new"],
            65,
            "tree.db: not a hash database",
        ),
        (
            &["hash:missing", "cdb:new"],
            66,
            "missing.db: No such file or directory",
        ),
        (
            &["text:missing.txt", "cdb:new"],
            66,
            "missing.txt: No such file or directory",
        ),
        (
            &["hash:good", "cdb:old"],
            73,
            "old.cdb: exists and is not a cdb map",
        ),
        (
            &["hash:good", "cdb:adir"],
            73,
            "adir.cdb: exists and is not a cdb map (not a regular file)",
        ),
        (
            &["hash:good", "text:notes.txt"],
            73,
            "notes.txt: exists and is not a text map",
        ),
        (
            &["hash:good", "btree:good"],
            73,
            "good.db: exists and is not a btree map",
        ),
        (
            &["hash:good", "hash:link"],
            73,
            "link.db: Symbolic links not allowed",
        ),
        (&["hash:good", "cdb:nodir/x"], 73, "nodir/"),
    ];
    for (args, code, msg) in cases {
        let mut a = vec!["convert"];
        a.extend_from_slice(args);
        let (out, err, c) = cfmap(dir, &a);
        assert_eq!(c, *code, "{args:?}: {err}");
        assert!(
            err.starts_with("cfmap: ") && err.contains(msg),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(out, "");
        assert_eq!(snapshot(dir), before, "{args:?} changed a file");
    }
    // -s follows the link, as makemap -s does, and replaces its target.
    let (_, err, c) = cfmap(dir, &["convert", "-s", "btree:tree", "hash:link"]);
    assert_eq!(c, 0, "{err}");
    assert!(
        std::fs::symlink_metadata(dir.join("link.db"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let (out, _, _) = cfmap(dir, &["dump", "hash", "good"]);
    assert_eq!(out, "a.example\tOK\n");
    std::fs::write(dir.join("good.db"), &good).unwrap();
    let before = snapshot(dir);
    // Usage errors: 64.
    for args in [
        &["convert", "good", "cdb:x"][..],
        &["convert", "ndbm:good", "cdb:x"],
    ] {
        let (_, _, c) = cfmap(dir, args);
        assert_eq!(c, 64);
    }
    assert_eq!(snapshot(dir), before);
}

#[test]
fn text_sources_follow_makemap_rules() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(
        dir.join("s.txt"),
        b"Key.One v1\n leading space\nnovalue\nkey.one again\nk2\tv 2 \n",
    )
    .unwrap();
    let (_, err, code) = cfmap(dir, &["convert", "text:s.txt", "cdb:m"]);
    // Bad lines are reported as makemap reports them; the rest is converted (exit 65).
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("s.txt: line 2: syntax error (leading space)"),
        "{err}"
    );
    assert!(
        err.contains("s.txt: line 3: no RHS for LHS novalue"),
        "{err}"
    );
    // The repeated key (after folding): the first line wins, as in makemap.
    assert!(err.contains("key key.one: 2 records; kept \"v1\""), "{err}");
    let (out, _, _) = cfmap(dir, &["dump", "cdb", "m"]);
    assert_eq!(out, "key.one\tv1\nk2\tv 2 \n");
    // -N and -f as makemap has them.
    let (_, _, code) = cfmap(dir, &["convert", "-f", "text:s.txt", "cdb:m2"]);
    assert_eq!(code, 65);
    let (out, _, _) = cfmap(dir, &["dump", "cdb", "m2"]);
    assert_eq!(out, "Key.One\tv1\nkey.one\tagain\nk2\tv 2 \n");
}

#[test]
fn nul_and_fold_options() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("s.txt"), b"# rebuild with: makemap -f hash x < FILE\nA.example OK\na.example lower\nB.example other\n").unwrap();
    let (_, err, code) = cfmap(dir, &["convert", "text:s.txt", "cdb:plain"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("2 key(s) with upper-case letters copied as they are (first: A.example)"),
        "{err}"
    );
    // --fold: the key a folding lookup found before wins over the capitalised one.
    let (_, err, code) = cfmap(dir, &["convert", "--fold", "-N", "cdb:plain", "cdb:folded"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("key a.example\\0: 2 records; kept \"lower\\0\""),
        "{err}"
    );
    let d2 = cfmap_bytes(dir, &["convert", "cdb:folded", "text:folded.txt"]);
    assert_eq!(
        d2,
        b"# rebuild with: makemap -N cdb folded < FILE\na.example\tlower\nb.example\tother\n"
    );
    let (_, err, code) = cfmap(dir, &["convert", "-O", "cdb:folded", "text:stripped.txt"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(dir.join("stripped.txt")).unwrap(),
        b"# rebuild with: makemap cdb folded < FILE\na.example\tlower\nb.example\tother\n"
    );
}

fn cfmap_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
    let (_, err, code) = cfmap(dir, args);
    assert_eq!(code, 0, "{err}");
    std::fs::read(dir.join(args.last().unwrap().split_once(':').unwrap().1)).unwrap()
}

#[test]
fn replacement_is_atomic_and_tells_readers_of_the_old_file() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("s1.txt"), b"k one\n").unwrap();
    std::fs::write(dir.join("s2.txt"), b"k two\n").unwrap();
    let (_, err, code) = cfmap(dir, &["convert", "text:s1.txt", "cdb:m"]);
    assert_eq!(code, 0, "{err}");
    let old = std::fs::File::open(dir.join("m.cdb")).unwrap();
    let was = old.metadata().unwrap().mtime();
    let (_, err, code) = cfmap(dir, &["convert", "text:s2.txt", "cdb:m"]);
    assert_eq!(code, 0, "{err}");
    // The old inode (what a running sendmail holds) moved forward by a second or more,
    // so sendmail reopens the map by name and sees the new file.
    assert!(old.metadata().unwrap().mtime() > was);
    assert_ne!(
        old.metadata().unwrap().ino(),
        std::fs::metadata(dir.join("m.cdb")).unwrap().ino()
    );
    let (out, _, _) = cfmap(dir, &["dump", "cdb", "m"]);
    assert_eq!(out, "k\ttwo\n");
    // No temporaries left behind.
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["m.cdb", "s1.txt", "s2.txt"]);
}
