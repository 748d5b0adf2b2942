//! Reading hash files made by the real tools: the committed golden vectors (made by
//! `makemap hash` and `db5.3_load`), and files real makemap / db5.3_load build during
//! the test (both byte orders).

#[path = "hash_support.rs"]
mod support;

use cfmap_bdb::hash::{Reader, hash};
use std::path::Path;
use support::*;

/// Every `.db` in testvectors/hash: `iter()` gives exactly the pairs of the `.dump`, in
/// the same (bucket) order, and renders exactly as the `.u`; `get()` finds each key's
/// first value.
#[test]
fn golden_vectors() {
    let Some(dir) = vectors() else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".db").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 17, "only {} vectors", names.len());
    for name in &names {
        let r = Reader::open(&dir.join(format!("{name}.db"))).unwrap();
        let got = read_all(&r);
        let dump = std::fs::read(dir.join(format!("{name}.dump"))).unwrap();
        let (_, want) = parse_dump(&dump);
        assert_eq!(got, want, "{name}: pairs differ from the .dump");
        let u = std::fs::read(dir.join(format!("{name}.u"))).unwrap();
        assert_eq!(u_lines(&got), split_u(&u), "{name}: differs from the .u");
        for (k, _) in &want {
            let first = &want.iter().find(|(k2, _)| k2 == k).unwrap().1;
            assert_eq!(r.get(k).unwrap().as_ref(), Some(first), "{name}: get {k:?}");
        }
        assert_eq!(r.get(b"no such key, surely").unwrap(), None, "{name}");
    }
}

/// The junk map's keys land in the buckets the spec's worked example gives.
#[test]
fn junk_buckets() {
    let Some(dir) = vectors() else { return };
    let r = Reader::open(&dir.join("junk.db")).unwrap();
    let keys: Vec<Vec<u8>> = read_all(&r).into_iter().map(|p| p.0).collect();
    assert_eq!(keys[0], b"natureplus.com");
    assert_eq!(hash(b"natureplus.com") & 1, 0);
    assert_eq!(
        r.get(b"natureplus.com").unwrap(),
        Some(b"JUNKMAIL".to_vec())
    );
}

/// Asking a btree file for a hash reader is a WrongType error.
#[test]
fn btree_file_is_wrong_type() {
    let Some(dir) = vectors() else { return };
    let btree = dir.parent().unwrap().join("btree/junk.db");
    match Reader::open(&btree) {
        Err(cfmap_bdb::Error::WrongType { found, .. }) => assert_eq!(found, "btree"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a btree file opened as hash"),
    }
}

fn random_map(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    let mut text = Vec::new();
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let vlen = (x % 40) as usize;
        text.extend_from_slice(format!("key{i}.{:x}.example ", x % 100_000).as_bytes());
        text.extend(std::iter::repeat_n(b'v', vlen + 1));
        text.extend_from_slice(format!("{i}\n").as_bytes());
    }
    text
}

/// Real makemap builds during the test (several sizes, so several bucket counts, chains
/// and free pages): iter() equals `db5.3_dump -p` and `makemap -u` in order.
#[test]
fn real_makemap_files_read_identically() {
    if !need_tool("makemap") || !need_tool("db5.3_dump") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (n, seed) in [(1, 1), (50, 2), (700, 3), (5000, 4)] {
        let name = format!("m{n}");
        run(
            tmp.path(),
            "makemap",
            &["hash", &name],
            Some(&random_map(n, seed)),
        );
        check_against_tools(tmp.path(), &name, n);
    }
}

fn check_against_tools(dir: &Path, name: &str, n: usize) {
    let file = dir.join(format!("{name}.db"));
    let r = Reader::open(&file).unwrap();
    let got = read_all(&r);
    assert_eq!(got.len(), n, "{name}");
    let dump = run(dir, "db5.3_dump", &["-p", file.to_str().unwrap()], None);
    assert_eq!(
        got,
        parse_dump(&dump).1,
        "{name}: order or pairs differ from db5.3_dump"
    );
    if need_tool("makemap") {
        let u = run(dir, "makemap", &["-u", "hash", name], None);
        assert_eq!(
            u_lines(&got),
            split_u(&u),
            "{name}: differs from makemap -u"
        );
    }
    for (k, v) in &got {
        assert_eq!(r.get(k).unwrap().as_ref(), Some(v), "{name}: get {k:?}");
    }
}

/// Big-endian files (db5.3_load -c db_lorder=4321), with overflow items, chains and
/// duplicates, read like the little-endian ones.
#[test]
fn big_endian_files() {
    if !need_tool("db5.3_load") || !need_tool("db5.3_dump") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut input = b"VERSION=3\nformat=print\ntype=hash\nduplicates=1\nHEADER=END\n".to_vec();
    let mut pairs = Vec::new();
    for i in 0..1500u32 {
        let k = format!("be-key-{i}").into_bytes();
        let v = if i % 300 == 7 {
            vec![b'B'; 3000 + i as usize]
        } else {
            format!("value {i}").into_bytes()
        };
        pairs.push((k, v));
    }
    pairs.push((b"dup".to_vec(), b"one".to_vec()));
    pairs.push((b"dup".to_vec(), b"two".to_vec()));
    pairs.push((vec![b'K'; 2000], b"big key".to_vec()));
    input.extend(dump_lines(&pairs));
    input.extend_from_slice(b"DATA=END\n");
    for (order, name) in [("4321", "be.db"), ("1234", "le.db")] {
        let lorder = format!("db_lorder={order}");
        run(
            tmp.path(),
            "db5.3_load",
            &["-t", "hash", "-c", &lorder, "-c", "db_pagesize=1024", name],
            Some(&input),
        );
        let file = tmp.path().join(name);
        let bytes = std::fs::read(&file).unwrap();
        if order == "4321" {
            assert_eq!(&bytes[12..16], &[0, 6, 0x15, 0x61], "not big-endian");
        }
        let r = Reader::open(&file).unwrap();
        let got = read_all(&r);
        let dump = run(tmp.path(), "db5.3_dump", &["-p", name], None);
        assert_eq!(got, parse_dump(&dump).1, "{name}");
        assert_eq!(got.len(), pairs.len());
        assert_eq!(r.get(b"dup").unwrap(), Some(b"one".to_vec()), "{name}");
        assert_eq!(
            r.get(&[b'K'; 2000]).unwrap(),
            Some(b"big key".to_vec()),
            "{name}"
        );
        assert_eq!(
            r.get(b"be-key-7").unwrap(),
            Some(vec![b'B'; 3007]),
            "{name}"
        );
    }
}

/// 64 KiB pages (the largest libdb allows), with an off-page value: read like the rest.
#[test]
fn page_size_65536() {
    if !need_tool("db5.3_load") || !need_tool("db5.3_dump") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut pairs: Vec<Pair> = (0..3000u32)
        .map(|i| (format!("k{i}").into_bytes(), format!("v{i}").into_bytes()))
        .collect();
    pairs.push((b"huge".to_vec(), vec![b'h'; 100_000]));
    let mut input = b"VERSION=3\nformat=print\ntype=hash\nHEADER=END\n".to_vec();
    input.extend(dump_lines(&pairs));
    input.extend_from_slice(b"DATA=END\n");
    run(
        tmp.path(),
        "db5.3_load",
        &["-t", "hash", "-c", "db_pagesize=65536", "p.db"],
        Some(&input),
    );
    let r = Reader::open(&tmp.path().join("p.db")).unwrap();
    let got = read_all(&r);
    let dump = run(tmp.path(), "db5.3_dump", &["-p", "p.db"], None);
    assert_eq!(got, parse_dump(&dump).1);
    assert_eq!(got.len(), pairs.len());
    assert_eq!(r.get(b"huge").unwrap(), Some(vec![b'h'; 100_000]));
}
