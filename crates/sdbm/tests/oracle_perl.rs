//! Live interop with Perl's `SDBM_File`, the oracle. For each shape of data the same
//! sequence of stores and deletes is applied twice, by Perl into one pair of files and by
//! this crate into another. Then:
//!
//! - the two pairs of files are byte-identical (so the writer is Perl's);
//! - Perl lists the files this crate wrote with `each`, and gets exactly the expected
//!   pairs in exactly this crate's iteration order (Perl reads what cfmap writes);
//! - this crate lists and fetches from the files Perl wrote and gets the same pairs
//!   (cfmap reads what Perl writes);
//! - both refused the same stores.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use cfmap_sdbm::{PAIRMAX, Sdbm, hash};
use common::{Op, Rng, apply, contents, need_perl, perl_apply, perl_dump};

fn check_both_ways(label: &str, ops: &[Op]) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    let theirs = tmp.path().join("theirs");
    let with = |base: &Path, ext: &str| base.with_extension(ext);

    // This crate writes.
    let mut model = BTreeMap::new();
    let mut db = Sdbm::create(&with(&ours, "dir"), &with(&ours, "pag")).unwrap();
    let our_refused = apply(&mut db, ops, &mut model);
    db.sync().unwrap();
    let our_order = contents(&db);
    drop(db);
    let wrote = started.elapsed();

    // Perl writes.
    let perl_refused = perl_apply(&theirs, ops);
    assert_eq!(our_refused, perl_refused, "{label}: refused stores");

    // Byte equality (holes read as zeros).
    for ext in ["dir", "pag"] {
        let a = std::fs::read(with(&ours, ext)).unwrap();
        let b = std::fs::read(with(&theirs, ext)).unwrap();
        assert!(
            a == b,
            "{label}: .{ext} differs ({} vs {} bytes)",
            a.len(),
            b.len()
        );
    }

    // Perl reads ours: same pairs, same order.
    let perl_view = perl_dump(&ours);
    assert_eq!(
        perl_view.len(),
        model.len(),
        "{label}: pair count seen by Perl"
    );
    assert!(perl_view == our_order, "{label}: Perl's order differs");
    let as_map: BTreeMap<_, _> = perl_view.into_iter().collect();
    assert!(as_map == model, "{label}: Perl sees other contents");

    // We read Perl's.
    let db = Sdbm::open(&with(&theirs, "dir"), &with(&theirs, "pag"), false).unwrap();
    let theirs_order = contents(&db);
    assert!(theirs_order == our_order, "{label}: reading Perl's files");
    for (k, v) in &model {
        assert_eq!(db.fetch(k).unwrap().as_ref(), Some(v), "{label}: fetch");
    }
    eprintln!(
        "{label}: {} ops, {} pairs, {} refused, cfmap wrote in {wrote:?}, whole check {:?}",
        ops.len(),
        model.len(),
        our_refused.len(),
        started.elapsed()
    );
}

fn random_stores(rng: &mut Rng, n: usize, max_key: u64, max_value: u64) -> Vec<Op> {
    (0..n)
        .map(|_| {
            let klen = 1 + rng.below(max_key) as usize;
            let k = rng.bytes(klen);
            let vlen = rng.below(max_value + 1) as usize;
            let v = rng.bytes(vlen);
            Op::Store(k, v)
        })
        .collect()
}

/// Mixes in replaces and deletes of keys stored earlier.
fn churn(rng: &mut Rng, ops: &mut Vec<Op>, count: usize) {
    let keys: Vec<Vec<u8>> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Store(k, _) => Some(k.clone()),
            Op::Delete(_) => None,
        })
        .collect();
    for _ in 0..count {
        let pick = rng.below(keys.len() as u64) as usize;
        let k = keys[pick].clone();
        if rng.below(2) == 0 {
            ops.push(Op::Delete(k));
        } else {
            let vlen = rng.below(30) as usize;
            let v = rng.bytes(vlen);
            ops.push(Op::Store(k, v));
        }
    }
}

#[test]
fn oracle_random_100k_pairs() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(1);
    let ops = random_stores(&mut rng, 100_000, 24, 16);
    check_both_ways("random 100k", &ops);
}

#[test]
fn oracle_random_with_replaces_and_deletes() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(2);
    let mut ops = random_stores(&mut rng, 5_000, 40, 60);
    churn(&mut rng, &mut ops, 5_000);
    check_both_ways("random churn", &ops);
}

#[test]
fn oracle_binary_keys_with_nul_and_empty_values() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(3);
    let mut ops = vec![
        Op::Store(Vec::new(), b"empty key".to_vec()),
        Op::Store(b"\0".to_vec(), Vec::new()),
        Op::Store(b"\0\0".to_vec(), b"\0".to_vec()),
        Op::Store(b"a\0b".to_vec(), b"x\0y\0".to_vec()),
        Op::Store(vec![0xff; 8], vec![0x80; 8]),
    ];
    for n in 0..3_000u32 {
        let klen = 1 + rng.below(12) as usize;
        let mut k = rng.bytes(klen);
        let at = rng.below(k.len() as u64) as usize;
        k.insert(at, 0);
        k.extend_from_slice(&n.to_le_bytes());
        let vlen = if n % 3 == 0 { 0 } else { rng.below(8) as usize };
        let v = rng.bytes(vlen);
        ops.push(Op::Store(k, v));
    }
    churn(&mut rng, &mut ops, 1_000);
    ops.push(Op::Store(Vec::new(), Vec::new()));
    check_both_ways("binary", &ops);
}

#[test]
fn oracle_pairs_near_pairmax() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(4);
    let mut ops = Vec::new();
    for n in 0..400u32 {
        let k = format!("big{n}").into_bytes();
        let size = match n % 4 {
            0 => PAIRMAX,
            1 => PAIRMAX + 1, // refused by both
            2 => PAIRMAX - 1 - rng.below(20) as usize,
            _ => k.len() + rng.below(60) as usize,
        };
        let v = rng.bytes(size - k.len());
        ops.push(Op::Store(k, v));
    }
    churn(&mut rng, &mut ops, 200);
    check_both_ways("near PAIRMAX", &ops);
}

#[test]
fn oracle_too_many_splits() {
    if !need_perl() {
        return;
    }
    // Large pairs whose key hashes share their low 12 bits: ten splits cannot separate
    // them, so Perl's store fails after SPLTMAX splits and leaves the split pages behind.
    // Both must refuse the same stores and leave the same bytes.
    let mut ops = Vec::new();
    let mut n = 0u32;
    let mut found = 0;
    while found < 6 {
        let k = format!("split{n}").into_bytes();
        if hash(&k) & 0xfff == 0x5a5 {
            let v = vec![b'a' + found as u8; 450 + 50 * found];
            ops.push(Op::Store(k, v));
            found += 1;
        }
        n += 1;
    }
    // Small pairs around them, and a replace of the first big key.
    for m in 0..200u32 {
        ops.push(Op::Store(format!("small{m}").into_bytes(), b"x".to_vec()));
    }
    if let Op::Store(k, _) = ops[0].clone() {
        ops.push(Op::Store(k, vec![b'z'; 700]));
    }
    check_both_ways("too many splits", &ops);
}

#[test]
fn oracle_valid_recipient_cache() {
    if !need_perl() {
        return;
    }
    let mut rng = Rng::new(5);
    let address = |n: u64| format!("user{n}@mail{}.example.com", n % 97).into_bytes();
    let mut ops = Vec::new();
    let mut now = 1_700_000_000u64;
    for _ in 0..20_000 {
        now += rng.below(5);
        let n = rng.below(8_000);
        match rng.below(10) {
            // Expire an entry.
            0 => ops.push(Op::Delete(address(n))),
            // Record (or refresh) a lookup.
            _ => ops.push(Op::Store(address(n), now.to_string().into_bytes())),
        }
    }
    check_both_ways("vrcache", &ops);
}

#[test]
fn oracle_continuing_a_perl_made_file() {
    if !need_perl() {
        return;
    }
    // Perl writes the first half; this crate opens Perl's files read-write and applies
    // the second half; Perl applying both halves in one go gives the same bytes.
    let mut rng = Rng::new(6);
    let mut first = random_stores(&mut rng, 3_000, 20, 40);
    churn(&mut rng, &mut first, 500);
    let mut second = random_stores(&mut rng, 3_000, 20, 40);
    churn(&mut rng, &mut second, 1_500);

    let tmp = tempfile::tempdir().unwrap();
    let mixed = tmp.path().join("mixed");
    let perl_only = tmp.path().join("perl");
    assert!(perl_apply(&mixed, &first).is_empty());
    let mut db = Sdbm::open(
        &mixed.with_extension("dir"),
        &mixed.with_extension("pag"),
        true,
    )
    .unwrap();
    let mut model: BTreeMap<_, _> = contents(&db).into_iter().collect();
    assert!(apply(&mut db, &second, &mut model).is_empty());
    drop(db);
    let all: Vec<Op> = first.iter().chain(&second).cloned().collect();
    assert!(perl_apply(&perl_only, &all).is_empty());
    for ext in ["dir", "pag"] {
        let a = std::fs::read(mixed.with_extension(ext)).unwrap();
        let b = std::fs::read(perl_only.with_extension(ext)).unwrap();
        assert!(a == b, ".{ext} differs");
    }
    let seen: BTreeMap<_, _> = perl_dump(&mixed).into_iter().collect();
    assert!(seen == model);
}
