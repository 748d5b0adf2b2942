//! The Perl-made vectors in `tests/data` (see its README), both ways: this crate reads
//! each one and finds exactly the pairs, in exactly the order, of its `.list`; and
//! replaying the records make_sdbm.pl stored gives byte-identical `.dir` and `.pag`.

mod common;

use std::collections::BTreeMap;

use cfmap_sdbm::{Error, PAIRMAX, Sdbm, StoreMode};
use common::{Pairs, contents, data_dir, parse_native, parse_text};

/// (vector, input, native format, keys deleted after the stores)
const VECTORS: &[(&str, &str, bool, &[&str])] = &[
    ("junk", "junk.txt", false, &[]),
    ("empty", "empty.txt", false, &[]),
    ("many", "many.txt", false, &[]),
    ("limit", "sdbmlimit.txt", false, &[]),
    ("eightbit", "eightbit.txt", false, &[]),
    ("nul", "nul.native", true, &[]),
    ("deep", "sdbmdeep.txt", false, &[]),
    ("vrcache", "vrcache.txt", false, &[]),
    ("dups-delete", "dups.txt", false, &["a@b.example"]),
];

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn records(input: &str, native: bool) -> Pairs {
    let bytes = read(&format!("inputs/{input}"));
    if native {
        parse_native(&bytes)
    } else {
        parse_text(&bytes)
    }
}

/// Record numbers (1-based) that make_sdbm.pl reported as refused in `NAME.err`.
fn refused_in_err(name: &str) -> Vec<usize> {
    String::from_utf8(read(&format!("{name}.err")))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("record "))
        .map(|l| l.split(':').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn every_vector_reads_as_its_list() {
    for (name, ..) in VECTORS {
        let dir = data_dir().join(format!("{name}.dir"));
        let pag = data_dir().join(format!("{name}.pag"));
        let db = Sdbm::open(&dir, &pag, false).unwrap();
        let want = parse_native(&read(&format!("{name}.list")));
        assert_eq!(contents(&db), want, "{name}: iteration");
        for (k, v) in &want {
            assert_eq!(
                db.fetch(k).unwrap().as_ref(),
                Some(v),
                "{name}: fetch {k:?}"
            );
        }
        // The in-memory reader agrees.
        let mem =
            Sdbm::from_bytes(read(&format!("{name}.dir")), read(&format!("{name}.pag"))).unwrap();
        assert_eq!(contents(&mem), want, "{name}: iteration from bytes");
    }
}

#[test]
fn absent_keys_are_not_found() {
    let db = Sdbm::open(
        &data_dir().join("many.dir"),
        &data_dir().join("many.pag"),
        false,
    )
    .unwrap();
    for n in 0..3000 {
        let key = format!("host{n:04}.example.org");
        assert_eq!(db.fetch(key.as_bytes()).unwrap(), None);
    }
    // The keys differ from stored ones only by a byte >= 0x80.
    let deep = Sdbm::open(
        &data_dir().join("deep.dir"),
        &data_dir().join("deep.pag"),
        false,
    )
    .unwrap();
    for (k, _) in parse_native(&read("deep.list")) {
        let mut other = k.clone();
        other.push(0x80);
        assert_eq!(deep.fetch(&other).unwrap(), None);
    }
}

#[test]
fn read_only_database_refuses_writes() {
    let mut db = Sdbm::open(
        &data_dir().join("junk.dir"),
        &data_dir().join("junk.pag"),
        false,
    )
    .unwrap();
    assert!(matches!(
        db.store(b"a", b"b", StoreMode::Replace),
        Err(Error::ReadOnly { .. })
    ));
    assert!(matches!(
        db.delete(b"cyberpromo.com"),
        Err(Error::ReadOnly { .. })
    ));
}

/// Replays a vector's records into `db` as make_sdbm.pl did; returns the refused ones.
fn replay(db: &mut Sdbm, input: &str, native: bool, deletes: &[&str]) -> Vec<usize> {
    let mut refused = Vec::new();
    for (n, (k, v)) in records(input, native).iter().enumerate() {
        match db.store(k, v, StoreMode::Replace) {
            Ok(stored) => assert!(stored),
            Err(Error::PairTooLarge { size, maximum }) => {
                assert_eq!(maximum, PAIRMAX);
                assert_eq!(size, k.len() + v.len());
                assert!(size > PAIRMAX);
                refused.push(n + 1);
            }
            Err(e) => panic!("record {}: {e}", n + 1),
        }
    }
    for k in deletes {
        assert!(db.delete(k.as_bytes()).unwrap(), "delete {k}");
    }
    refused
}

#[test]
fn every_vector_is_rebuilt_byte_for_byte_in_memory() {
    for (name, input, native, deletes) in VECTORS {
        let mut db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        let refused = replay(&mut db, input, *native, deletes);
        assert_eq!(refused, refused_in_err(name), "{name}: refused records");
        let (dir, pag) = db.into_bytes().unwrap();
        assert!(dir == read(&format!("{name}.dir")), "{name}.dir differs");
        assert!(pag == read(&format!("{name}.pag")), "{name}.pag differs");
    }
}

#[test]
fn every_vector_is_rebuilt_byte_for_byte_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, input, native, deletes) in VECTORS {
        let dir = tmp.path().join(format!("{name}.dir"));
        let pag = tmp.path().join(format!("{name}.pag"));
        let mut db = Sdbm::create(&dir, &pag).unwrap();
        replay(&mut db, input, *native, deletes);
        db.sync().unwrap();
        drop(db);
        // Holes read as zeros, as `cmp` sees them.
        assert!(
            std::fs::read(&dir).unwrap() == read(&format!("{name}.dir")),
            "{name}.dir differs"
        );
        assert!(
            std::fs::read(&pag).unwrap() == read(&format!("{name}.pag")),
            "{name}.pag differs"
        );
        // And reopening it reads the list.
        let db = Sdbm::open(&dir, &pag, false).unwrap();
        let want = parse_native(&read(&format!("{name}.list")));
        assert_eq!(contents(&db), want, "{name}");
    }
}

#[test]
fn vectors_can_be_updated_in_place() {
    // Open a copy of a Perl-made file read-write, add and remove pairs, and check the
    // result against a model.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v.dir");
    let pag = tmp.path().join("v.pag");
    std::fs::write(&dir, read("vrcache.dir")).unwrap();
    std::fs::write(&pag, read("vrcache.pag")).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> =
        parse_native(&read("vrcache.list")).into_iter().collect();
    let mut db = Sdbm::open(&dir, &pag, true).unwrap();
    for n in 0..500u32 {
        let key = format!("new{n}@example.net").into_bytes();
        let value = format!("{}", 1_700_000_000 + n).into_bytes();
        db.store(&key, &value, StoreMode::Replace).unwrap();
        model.insert(key, value);
    }
    let old: Vec<Vec<u8>> = model.keys().take(100).cloned().collect();
    for k in old {
        assert!(db.delete(&k).unwrap());
        model.remove(&k);
    }
    drop(db);
    let db = Sdbm::open(&dir, &pag, false).unwrap();
    let got: BTreeMap<_, _> = contents(&db).into_iter().collect();
    assert_eq!(got, model);
}
