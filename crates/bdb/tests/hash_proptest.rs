//! Property: whatever pairs go into `hash::Builder` (any bytes, repeated keys, big items,
//! any page size) come back out of `hash::Reader` — `get` for every key, `iter` as a set —
//! and mutating the written file never makes the reader panic.

use cfmap_bdb::hash::{Builder, Reader};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

fn item() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => proptest::collection::vec(any::<u8>(), 100..5000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn roundtrip(
        pairs in proptest::collection::vec((item(), item()), 0..300),
        ps_log in 9u32..=15,
    ) {
        let mut b = Builder::new().page_size(1 << ps_log);
        let mut model = BTreeMap::new();
        for (k, v) in &pairs {
            b.insert(k, v);
            model.insert(k.clone(), v.clone());
        }
        prop_assert_eq!(b.len(), model.len());
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        prop_assert_eq!(out.len() % (1 << ps_log), 0);
        let r = Reader::from_bytes(Path::new("p.db"), out).unwrap();
        for (k, v) in &model {
            prop_assert_eq!(r.get(k).unwrap(), Some(v.clone()));
        }
        prop_assert_eq!(r.get(b"\xffnot-a-key\xff").unwrap(), model.get(&b"\xffnot-a-key\xff"[..]).cloned());
        let got: Vec<_> = r.iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got.len(), model.len());
        let got: BTreeMap<_, _> = got.into_iter().collect();
        prop_assert_eq!(got, model);
    }

    #[test]
    fn mutated_never_panics(
        pairs in proptest::collection::vec((item(), item()), 1..60),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut b = Builder::new().page_size(512);
        for (k, v) in &pairs {
            b.insert(k, v);
        }
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        for (at, byte) in edits {
            let i = at.index(out.len());
            out[i] = byte;
        }
        if let Ok(r) = Reader::from_bytes(Path::new("m.db"), out) {
            for _ in r.iter().take(100_000) {}
            for (k, _) in &pairs {
                let _ = r.get(k);
            }
        }
    }
}
