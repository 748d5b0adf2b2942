//! Random sequences of stores (insert and replace) and deletes against a `BTreeMap`
//! model: after every sequence, and again after reopening the files, the database holds
//! exactly the model's pairs, each key once; the on-disk and in-memory databases hold the
//! same bytes.

mod common;

use std::collections::BTreeMap;

use cfmap_sdbm::{Error, PAIRMAX, Sdbm, StoreMode};
use common::contents;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Store(Vec<u8>, Vec<u8>, StoreMode),
    Delete(Vec<u8>),
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A small pool, so keys repeat.
        (0u8..40).prop_map(|i| format!("key{i}").into_bytes()),
        // Anything, NUL and high bytes included.
        prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(any::<u8>(), 990..1010),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), value(), prop_oneof![Just(StoreMode::Replace), Just(StoreMode::Insert)])
            .prop_map(|(k, v, m)| Op::Store(k, v, m)),
        2 => key().prop_map(Op::Delete),
        1 => Just(Op::Reopen),
    ]
}

fn check(db: &Sdbm, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), TestCaseError> {
    let pairs = contents(db);
    prop_assert_eq!(pairs.len(), model.len(), "each key once");
    let as_map: BTreeMap<_, _> = pairs.into_iter().collect();
    prop_assert_eq!(&as_map, model);
    for (k, v) in model {
        let got = db.fetch(k).unwrap();
        prop_assert_eq!(got.as_ref(), Some(v));
    }
    Ok(())
}

proptest! {
    // A fixed seed keeps CI's cases the same from run to run, and a bounded shrink keeps
    // a failure from running for minutes.
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5d6d),
        ..ProptestConfig::default()
    })]

    #[test]
    fn matches_a_btreemap(ops in prop::collection::vec(op(), 0..150)) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p.dir");
        let pag = tmp.path().join("p.pag");
        let mut db = Sdbm::create(&dir, &pag).unwrap();
        let mut mem = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        let mut model = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Store(k, v, mode) => {
                    let got = db.store(k, v, *mode);
                    let got_mem = mem.store(k, v, *mode);
                    match got {
                        Ok(stored) => {
                            prop_assert_eq!(got_mem.unwrap(), stored);
                            let existed = model.contains_key(k);
                            match mode {
                                StoreMode::Insert => {
                                    prop_assert_eq!(stored, !existed);
                                    model.entry(k.clone()).or_insert_with(|| v.clone());
                                }
                                StoreMode::Replace => {
                                    prop_assert!(stored);
                                    model.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        Err(Error::PairTooLarge { size, maximum }) => {
                            prop_assert!(size > PAIRMAX && maximum == PAIRMAX);
                            let mem_refused = matches!(got_mem, Err(Error::PairTooLarge { .. }));
                            prop_assert!(mem_refused);
                        }
                        Err(Error::TooManySplits { .. }) => {
                            // Two big pairs whose hashes share 10+ low bits: sdbm gives up
                            // after ten splits. A replaced old pair is gone by then.
                            let mem_refused = matches!(got_mem, Err(Error::TooManySplits { .. }));
                            prop_assert!(mem_refused);
                            prop_assert_eq!(db.fetch(k).unwrap(), None);
                            model.remove(k);
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("store: {e}"))),
                    }
                }
                Op::Delete(k) => {
                    let was = db.delete(k).unwrap();
                    prop_assert_eq!(mem.delete(k).unwrap(), was);
                    prop_assert_eq!(was, model.remove(k).is_some());
                }
                Op::Reopen => {
                    drop(db);
                    db = Sdbm::open(&dir, &pag, true).unwrap();
                }
            }
        }
        check(&db, &model)?;
        check(&mem, &model)?;
        drop(db);
        let db = Sdbm::open(&dir, &pag, false).unwrap();
        check(&db, &model)?;
        let on_disk = db.into_bytes().unwrap();
        let in_memory = mem.into_bytes().unwrap();
        prop_assert!(on_disk == in_memory, "file and memory databases differ");
    }
}
