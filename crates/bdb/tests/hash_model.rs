//! The hash writer's model of libdb under stress: random insert sequences with repeated
//! keys (kept as duplicates, or replaced), values around the big-item and off-page
//! duplicate thresholds, small pages (so chains, moved pairs, splits of chained buckets
//! and duplicate trees all happen). Every file must read back right with our reader and
//! pass `db5.3_verify`, and `db5.3_dump` must give each key's values in insertion order.

#[path = "hash_support.rs"]
mod support;

use cfmap_bdb::hash::{Builder, Reader};
use std::collections::HashMap;
use std::path::Path;
use support::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn sequence(rng: &mut Rng, n: usize, keys: u64, page_size: u32) -> Pairs {
    let big = u64::from(page_size / 4);
    (0..n)
        .map(|i| {
            let k = rng.below(keys);
            let key = format!("key{k}{}", "k".repeat((k % 7) as usize)).into_bytes();
            let len = match rng.below(10) {
                0 => big - 8 + rng.below(16),
                1 => rng.below(3 * big),
                _ => rng.below(24),
            } as usize;
            let value = (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect();
            (key, value)
        })
        .collect()
}

/// Each key's values as the file must hold them, in first-insert order of the keys.
fn expected(pairs: &Pairs, dups: bool) -> HashMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut m: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    for (k, v) in pairs {
        let e = m.entry(k.clone()).or_default();
        if !dups {
            e.clear();
        }
        e.push(v.clone());
    }
    m
}

fn grouped(list: &[(Vec<u8>, Vec<u8>)]) -> HashMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut m: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    for (k, v) in list {
        m.entry(k.clone()).or_default().push(v.clone());
    }
    m
}

fn check(dir: &Path, name: &str, pairs: &Pairs, dups: bool, page_size: u32, tools: bool) {
    let mut b = Builder::new().page_size(page_size).duplicates(dups);
    for (k, v) in pairs {
        b.insert(k, v);
    }
    let mut bytes = Vec::new();
    b.write_to(&mut bytes).unwrap();
    let want = expected(pairs, dups);
    let r = Reader::from_bytes(Path::new(name), bytes.clone()).unwrap();
    assert_eq!(r.has_duplicates(), dups);
    let mine = read_all(&r);
    assert!(grouped(&mine) == want, "{name}: our reader");
    for (k, vs) in want.iter().take(50) {
        assert_eq!(r.get(k).unwrap().as_ref(), vs.first(), "{name}: get");
    }
    if tools {
        let path = dir.join(format!("{name}.db"));
        std::fs::write(&path, &bytes).unwrap();
        let p = path.to_str().unwrap();
        run(dir, "db5.3_verify", &[p], None);
        let (_, dumped) = parse_dump(&run(dir, "db5.3_dump", &["-p", p], None));
        assert!(
            dumped == mine,
            "{name}: db5.3_dump order differs from our reader"
        );
    }
}

#[test]
fn random_sequences_make_valid_files() {
    let tools = need_tool("db5.3_verify") && need_tool("db5.3_dump");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x0bad_5eed_0042_0001);
    let mut round = 0;
    for page_size in [512u32, 1024, 4096] {
        for (n, keys) in [(200usize, 20u64), (1500, 300), (3000, 40), (4000, 4000)] {
            for dups in [true, false] {
                round += 1;
                let pairs = sequence(&mut rng, n, keys, page_size);
                let name = format!("r{round}-p{page_size}-n{n}-k{keys}-d{}", dups as u8);
                check(dir.path(), &name, &pairs, dups, page_size, tools);
            }
        }
    }
}

/// The btree writer under the same sequences: duplicate sets on the leaves and in
/// duplicate trees, big values on overflow pages.
#[test]
fn btree_random_sequences_make_valid_files() {
    let tools = need_tool("db5.3_verify") && need_tool("db5.3_dump");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x0bad_5eed_0042_0002);
    let mut round = 0;
    for page_size in [512u32, 4096] {
        for (n, keys) in [(300usize, 20u64), (3000, 40), (4000, 4000)] {
            for dups in [true, false] {
                round += 1;
                let pairs = sequence(&mut rng, n, keys, page_size);
                let name = format!("b{round}-p{page_size}-n{n}-k{keys}-d{}", dups as u8);
                let mut b = cfmap_bdb::btree::Builder::new()
                    .page_size(page_size)
                    .duplicates(dups);
                for (k, v) in &pairs {
                    b.insert(k, v);
                }
                let mut bytes = Vec::new();
                b.write_to(&mut bytes).unwrap();
                let r =
                    cfmap_bdb::btree::Reader::from_bytes(Path::new(&name), bytes.clone()).unwrap();
                assert_eq!(r.has_duplicates(), dups);
                let mine: Pairs = r.iter().collect::<Result<_, _>>().unwrap();
                assert!(
                    grouped(&mine) == expected(&pairs, dups),
                    "{name}: our reader"
                );
                assert!(
                    mine.windows(2).all(|w| w[0].0 <= w[1].0),
                    "{name}: key order"
                );
                if tools {
                    let path = dir.path().join(format!("{name}.db"));
                    std::fs::write(&path, &bytes).unwrap();
                    let p = path.to_str().unwrap();
                    run(dir.path(), "db5.3_verify", &[p], None);
                    let (_, dumped) = parse_dump(&run(dir.path(), "db5.3_dump", &["-p", p], None));
                    assert!(dumped == mine, "{name}: db5.3_dump differs from our reader");
                }
            }
        }
    }
}
