//! [`Builder`] (pages laid out at once) against the store-by-store algorithm and against
//! Perl's `SDBM_File`: the same pairs in the same order give the same bytes, or the same
//! error.
//!
//! - the Perl-made vectors of `tests/data` that are plain stores are rebuilt byte for
//!   byte, `deep` (nine splits in one store) with the shortcut;
//! - a property test compares the builder with [`Sdbm::store`] on random inputs built to
//!   reach the awkward cases: repeated keys, pairs near [`PAIRMAX`], keys whose hashes
//!   share many low bits (chains of splits in one store, up to and past [`SPLTMAX`]);
//! - live Perl: 100,000 random pairs, pairs near the limit, and long split chains.

mod common;

use cfmap_sdbm::{Builder, Error, PAIRMAX, SPLTMAX, Sdbm, StoreMode, hash};
use common::{Op, Rng, data_dir, need_perl, parse_native, parse_text, perl_apply};
use proptest::prelude::*;

type Bytes = (Vec<u8>, Vec<u8>);

fn incremental(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Bytes, Error> {
    let mut db = Sdbm::from_bytes(Vec::new(), Vec::new())?;
    for (k, v) in pairs {
        db.store(k, v, StoreMode::Replace)?;
    }
    db.into_bytes()
}

fn builder(pairs: &[(Vec<u8>, Vec<u8>)]) -> Builder {
    let mut b = Builder::new();
    for (k, v) in pairs {
        b.push(k, v).unwrap();
    }
    b
}

fn bulk(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Bytes, Error> {
    builder(pairs).finish()?.into_bytes()
}

/// Keys `{prefix}{n}` whose hashes have `low` in their low `bits` bits.
fn colliding_keys(prefix: &str, bits: u32, low: u32, count: usize) -> Vec<Vec<u8>> {
    let mask = (1u32 << bits) - 1;
    (0u32..)
        .map(|n| format!("{prefix}{n}").into_bytes())
        .filter(|k| hash(k) & mask == low & mask)
        .take(count)
        .collect()
}

/// The vectors that are plain stores (no deletes), with the refused records left out.
#[test]
fn perl_vectors_are_rebuilt_byte_for_byte() {
    let read =
        |name: &str| std::fs::read(data_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    // (vector, input, native, the shortcut applies)
    let vectors = [
        ("junk", "junk.txt", false, true),
        ("empty", "empty.txt", false, true),
        ("many", "many.txt", false, true),
        ("limit", "sdbmlimit.txt", false, true),
        ("eightbit", "eightbit.txt", false, true),
        ("nul", "nul.native", true, true),
        ("deep", "sdbmdeep.txt", false, true),
        ("vrcache", "vrcache.txt", false, true),
    ];
    for (name, input, native, shortcut) in vectors {
        let bytes = read(&format!("inputs/{input}"));
        let records = if native {
            parse_native(&bytes)
        } else {
            parse_text(&bytes)
        };
        let mut b = Builder::new();
        let mut refused = 0;
        for (k, v) in &records {
            match b.push(k, v) {
                Ok(()) => {}
                Err(Error::PairTooLarge { .. }) => refused += 1,
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(b.len() + refused, records.len());
        assert_eq!(b.takes_shortcut(), shortcut, "{name}: shortcut");
        let (dir, pag) = b.finish().unwrap().into_bytes().unwrap();
        assert!(dir == read(&format!("{name}.dir")), "{name}.dir differs");
        assert!(pag == read(&format!("{name}.pag")), "{name}.pag differs");
    }
}

#[test]
fn written_files_equal_a_file_database() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    let mut rng = Rng::new(11);
    let mut disk = Sdbm::create(&p("f.dir"), &p("f.pag")).unwrap();
    let mut b = Builder::new();
    for i in 0..20_000u32 {
        let k = format!("host{i:06}.example.net").into_bytes();
        let vlen = rng.below(40) as usize;
        let v = rng.bytes(vlen);
        disk.store(&k, &v, StoreMode::Replace).unwrap();
        b.push(&k, &v).unwrap();
    }
    drop(disk);
    assert!(b.takes_shortcut());
    // Straight to the files, and through an in-memory database.
    b.clone().write_files(&p("b.dir"), &p("b.pag")).unwrap();
    b.finish()
        .unwrap()
        .write_files(&p("m.dir"), &p("m.pag"))
        .unwrap();
    for ext in ["dir", "pag"] {
        let f = std::fs::read(p(&format!("f.{ext}"))).unwrap();
        for built in ["b", "m"] {
            let a = std::fs::read(p(&format!("{built}.{ext}"))).unwrap();
            assert!(a == f, "{built}.{ext} differs");
        }
    }
    // Holes stay holes: the builder allocates no more disk than the file database.
    use std::os::unix::fs::MetadataExt;
    let blocks = |n: &str| std::fs::metadata(p(n)).unwrap().blocks();
    assert!(
        blocks("b.pag") <= blocks("f.pag"),
        "{} > {}",
        blocks("b.pag"),
        blocks("f.pag")
    );
}

#[test]
fn written_files_of_edge_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    // Nothing; one empty pair; a repeated key (the fallback); a split with an empty side.
    let same_bits = colliding_keys("e", 4, 3, 2);
    let cases: Vec<Vec<(Vec<u8>, Vec<u8>)>> = vec![
        vec![],
        vec![(Vec::new(), Vec::new())],
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"a".to_vec(), b"2".to_vec()),
        ],
        same_bits
            .iter()
            .map(|k| (k.clone(), vec![b'x'; 700]))
            .collect(),
    ];
    for (n, pairs) in cases.iter().enumerate() {
        builder(pairs)
            .write_files(&p("b.dir"), &p("b.pag"))
            .unwrap();
        let want = incremental(pairs).unwrap();
        let got = (
            std::fs::read(p("b.dir")).unwrap(),
            std::fs::read(p("b.pag")).unwrap(),
        );
        assert!(got == want, "case {n}");
    }
}

#[test]
fn long_split_chains_take_the_shortcut() {
    // 40 pairs of ~330 bytes whose hashes share their low 7 bits: the first overflow
    // splits seven times in one store (one side empty each time), then more.
    let keys = colliding_keys("chain", 7, 0x35, 40);
    let pairs: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), vec![b'a' + (i % 26) as u8; 330 - k.len()]))
        .collect();
    assert!(builder(&pairs).takes_shortcut());
    assert_eq!(bulk(&pairs).unwrap(), incremental(&pairs).unwrap());
}

#[test]
fn too_many_splits_gives_the_same_error() {
    // Two 600-byte pairs whose hashes agree in their low 12 bits.
    let keys = colliding_keys("k", 12, 0, 2);
    let pairs: Vec<_> = keys.iter().map(|k| (k.clone(), vec![b'v'; 600])).collect();
    let b = builder(&pairs);
    assert!(!b.takes_shortcut());
    let e = b.finish().unwrap_err();
    assert!(
        matches!(e, Error::TooManySplits { splits, .. } if splits == SPLTMAX),
        "{e}"
    );
    let i = incremental(&pairs).unwrap_err();
    assert_eq!(e.to_string(), i.to_string());
}

#[test]
fn ten_splits_in_one_store_still_work() {
    // Two big pairs whose hashes share their low 9 bits and differ in bit 9: the second
    // store splits on bits 0 to 9, and the tenth split, the last one sdbm allows,
    // separates them.
    let first = colliding_keys("t", 9, 0x0aa, 1).remove(0);
    let want = (hash(&first) & 0x3ff) ^ 0x200;
    let second = colliding_keys("u", 10, want, 1).remove(0);
    let pairs = vec![(first, vec![b'1'; 600]), (second, vec![b'2'; 600])];
    assert!(builder(&pairs).takes_shortcut());
    assert_eq!(bulk(&pairs).unwrap(), incremental(&pairs).unwrap());
    // One more shared bit and it fails: an eleventh split (on bit 10, which would
    // separate them) is one too many.
    let third = colliding_keys("w", 11, hash(&pairs[0].0) ^ 0x400, 1).remove(0);
    let pairs = vec![pairs[0].clone(), (third, vec![b'3'; 600])];
    assert!(!builder(&pairs).takes_shortcut());
    assert!(matches!(bulk(&pairs), Err(Error::TooManySplits { .. })));
}

fn key_strategy(pool: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A small pool: keys repeat.
        (0u8..30).prop_map(|i| format!("key{i}").into_bytes()),
        // Anything, NUL and high bytes included.
        prop::collection::vec(any::<u8>(), 0..24),
        // Keys whose hashes share their low bits: long split chains. (Not too many
        // bits: two big pairs sharing 20 put pages 2^20 apart, and comparing the
        // sparse results byte for byte then reads a gigabyte of zeros.)
        prop::sample::select(pool),
        // Distinct-looking host names.
        (0u32..100_000).prop_map(|n| format!("host{n}.example").into_bytes()),
    ]
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        2 => prop::collection::vec(any::<u8>(), 0..400),
        1 => prop::collection::vec(any::<u8>(), 980..1000),
    ]
}

proptest! {
    // 128 cases: repeated keys send most of them to the fallback, whose big sparse
    // results take a while to compare; the distinct-key test covers the shortcut.
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xb01c),
        ..ProptestConfig::default()
    })]

    #[test]
    fn bulk_equals_store_by_store(
        pairs in prop::collection::vec(
            (key_strategy(colliding_keys("c", 7, 0x43, 64)), value_strategy()),
            0..300,
        )
    ) {
        // Pairs over the limit are refused by both before anything changes.
        let pairs: Vec<_> = pairs
            .into_iter()
            .filter(|(k, v)| k.len() + v.len() <= PAIRMAX)
            .collect();
        match (bulk(&pairs), incremental(&pairs)) {
            (Ok(a), Ok(b)) => prop_assert!(a == b, "bytes differ"),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "bulk {:?} vs one by one {:?}", a.err(), b.err()),
        }
    }

    #[test]
    fn distinct_keys_take_the_shortcut(
        keys in prop::collection::btree_set(
            key_strategy(colliding_keys("d", 6, 0x15, 64)), 0..400),
        sizes in prop::collection::vec(0usize..500, 400),
    ) {
        let pairs: Vec<_> = keys
            .into_iter()
            .zip(sizes)
            .map(|(k, n)| {
                let v = vec![b'x'; n.min(PAIRMAX - k.len().min(PAIRMAX))];
                (k, v)
            })
            .collect();
        let want = incremental(&pairs);
        let b = builder(&pairs);
        // Without repeats the only way off the shortcut is an error of sdbm's own.
        prop_assert_eq!(b.takes_shortcut(), want.is_ok());
        match (b.finish().and_then(Sdbm::into_bytes), want) {
            (Ok(a), Ok(b)) => prop_assert!(a == b, "bytes differ"),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "bulk {:?} vs one by one {:?}", a.err(), b.err()),
        }
    }
}

/// Perl stores `pairs` into one pair of files, the builder writes another: same bytes.
fn same_as_perl(label: &str, pairs: &[(Vec<u8>, Vec<u8>)]) {
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    let theirs = tmp.path().join("theirs");
    let ops: Vec<Op> = pairs
        .iter()
        .map(|(k, v)| Op::Store(k.clone(), v.clone()))
        .collect();
    assert!(
        perl_apply(&theirs, &ops).is_empty(),
        "{label}: Perl refused"
    );
    let b = builder(pairs);
    assert!(b.takes_shortcut(), "{label}: shortcut");
    b.write_files(&ours.with_extension("dir"), &ours.with_extension("pag"))
        .unwrap();
    for ext in ["dir", "pag"] {
        let a = std::fs::read(ours.with_extension(ext)).unwrap();
        let b = std::fs::read(theirs.with_extension(ext)).unwrap();
        assert!(
            a == b,
            "{label}: .{ext} differs ({} vs {} bytes)",
            a.len(),
            b.len()
        );
    }
}

#[test]
fn oracle_bulk_random_100k() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(21);
    let pairs: Vec<_> = (0..100_000u32)
        .map(|i| {
            let klen = 1 + rng.below(20) as usize;
            let mut k = rng.bytes(klen);
            k.extend_from_slice(&i.to_le_bytes()); // distinct
            let vlen = rng.below(24) as usize;
            let v = rng.bytes(vlen);
            (k, v)
        })
        .collect();
    same_as_perl("random 100k", &pairs);
}

#[test]
fn oracle_bulk_near_pairmax_and_chains() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(22);
    let mut pairs = Vec::new();
    for n in 0..300u32 {
        let k = format!("big{n}").into_bytes();
        let size = match n % 3 {
            0 => PAIRMAX,
            1 => PAIRMAX - 1 - rng.below(400) as usize,
            _ => k.len() + rng.below(60) as usize,
        };
        pairs.push((k.clone(), rng.bytes(size - k.len())));
    }
    // Keys sharing 8 low hash bits, ~250 bytes each: chains of splits.
    for k in colliding_keys("deep", 8, 0x9e, 60) {
        let v = rng.bytes(250 - k.len());
        pairs.push((k, v));
    }
    same_as_perl("near PAIRMAX + chains", &pairs);
}
