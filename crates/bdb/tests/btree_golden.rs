//! The reader against every btree vector real makemap / db5.3_load made
//! (`shared/testvectors/btree`): the pairs must equal the `.dump` (`db5.3_dump -p`) and
//! the `.u` (`makemap -u btree`), and `get` must find each key's first value.

use std::path::{Path, PathBuf};

use cfmap_bdb::btree::Reader;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testvectors/btree")
}

/// One item as `db5.3_dump -p` prints it (without the leading blank).
fn print_item(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if c == b'\\' {
            s.push_str("\\\\");
        } else if (0x20..0x7f).contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\{c:02x}"));
        }
    }
    s
}

/// The data lines of a `-p` dump (between `HEADER=END` and `DATA=END`).
fn dump_body(dump: &[u8]) -> Vec<String> {
    let text = String::from_utf8(dump.to_vec()).unwrap();
    let mut lines = text.lines().skip_while(|l| *l != "HEADER=END").skip(1);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if l == "DATA=END" {
            break;
        }
        out.push(l.strip_prefix(' ').unwrap().to_string());
    }
    out
}

/// `makemap -u` output: C strings, cut at the first NUL.
fn unmap(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        let cut = |b: &[u8]| b.iter().position(|&c| c == 0).map_or(b.len(), |n| n);
        out.extend_from_slice(&k[..cut(k)]);
        out.push(b'\t');
        out.extend_from_slice(&v[..cut(v)]);
        out.push(b'\n');
    }
    out
}

#[test]
fn every_vector_reads_like_the_real_tools() {
    let dir = vectors();
    if !dir.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "test vectors missing"
        );
        eprintln!("note: {} missing; skipping", dir.display());
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".db").map(str::to_string)
        })
        .collect();
    names.sort();
    for must in [
        "many-p512",
        "bigval",
        "long1009",
        "eightbit",
        "nul",
        "empty",
        "dups-d",
        "many",
    ] {
        assert!(names.iter().any(|n| n == must), "vector {must} missing");
    }
    for name in &names {
        let r =
            Reader::open(&dir.join(format!("{name}.db"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = r
            .iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = dump_body(&std::fs::read(dir.join(format!("{name}.dump"))).unwrap());
        let got: Vec<String> = pairs
            .iter()
            .flat_map(|(k, v)| [print_item(k), print_item(v)])
            .collect();
        assert_eq!(got, expect, "{name}: pairs differ from the dump");
        let u = std::fs::read(dir.join(format!("{name}.u"))).unwrap();
        assert_eq!(unmap(&pairs), u, "{name}: differs from makemap -u");
        // get: the first value of every key; a key that is not there is None.
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 && pairs[i - 1].0 == *k {
                continue;
            }
            assert_eq!(r.get(k).unwrap().as_ref(), Some(v), "{name}: get {k:?}");
            let mut missing = k.clone();
            missing.push(0xff);
            missing.push(0xff);
            if pairs.iter().all(|(k2, _)| *k2 != missing) {
                assert_eq!(r.get(&missing).unwrap(), None, "{name}: get {missing:?}");
            }
        }
        assert_eq!(r.get(b"\xff\xff\xff no such key").unwrap(), None);
        assert_eq!(
            r.has_duplicates(),
            name.starts_with("dups-d"),
            "{name}: DUP flag"
        );
    }
}

#[test]
fn vector_shapes() {
    let dir = vectors();
    if !dir.exists() {
        return;
    }
    // Three levels with 512-byte pages, all 2000 keys.
    let r = Reader::open(&dir.join("many-p512.db")).unwrap();
    assert_eq!(r.page_size(), 512);
    assert_eq!(r.iter().count(), 2000);
    // Overflow values of 5000 and 20000 bytes.
    let r = Reader::open(&dir.join("bigval.db")).unwrap();
    let lens: Vec<usize> = r.iter().map(|p| p.unwrap().1.len()).collect();
    assert!(lens.contains(&5000) && lens.contains(&20000), "{lens:?}");
    // A 1009-byte value, just over the 1007-byte limit.
    let r = Reader::open(&dir.join("long1009.db")).unwrap();
    assert!(r.iter().any(|p| p.unwrap().1.len() == 1009));
    // The empty map.
    let r = Reader::open(&dir.join("empty.db")).unwrap();
    assert_eq!(r.iter().count(), 0);
    assert_eq!(r.get(b"").unwrap(), None);
    // The hash vector is not a btree.
    let hash = dir.join("../hash/junk.db");
    if hash.exists() {
        assert!(matches!(
            Reader::open(&hash),
            Err(cfmap_bdb::Error::WrongType { .. })
        ));
    }
}
