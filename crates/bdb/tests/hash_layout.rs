//! The hash writer lays the pairs out as libdb does when makemap inserts them in input
//! order: for random inputs (small and large, short and long values, with and without
//! `-d` duplicates, big items on overflow pages, duplicate sets that go off-page), the
//! file written by `hash::Builder` dumps (`db5.3_dump -p`) and lists (`makemap -u`)
//! exactly as the real `makemap hash` file of the same input, and `db5.3_verify`
//! accepts it.

#[path = "hash_support.rs"]
mod support;

use cfmap_bdb::hash::{Builder, Reader};
use std::path::Path;
use support::*;

/// A small deterministic generator (xorshift64*).
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

/// How a generated input looks.
#[derive(Clone, Copy, Debug)]
struct Shape {
    lines: usize,
    /// Distinct keys to draw from (fewer than `lines`: repeated keys).
    keys: u64,
    /// Longest value.
    max_value: usize,
    /// One value in this many is long (0: none).
    long_every: u64,
}

/// Input lines `key value` (lower-case keys, values without leading blanks).
fn input(rng: &mut Rng, s: Shape) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..s.lines)
        .map(|_| {
            let k = rng.below(s.keys);
            let key = format!("k{}.{}", k, "x".repeat((k % 23) as usize)).into_bytes();
            let len = if s.long_every > 0 && rng.below(s.long_every) == 0 {
                300 + rng.below(650) as usize
            } else {
                1 + rng.below(s.max_value as u64) as usize
            };
            let value = (0..len)
                .map(|i| {
                    if i % 11 == 5 {
                        b'-'
                    } else {
                        b'A' + rng.below(26) as u8
                    }
                })
                .collect();
            (key, value)
        })
        .collect()
}

/// With `dups`, every line is kept; else a repeated key is dropped (makemap's "duplicate
/// key" error keeps the first value).
fn expected_records(lines: &[(Vec<u8>, Vec<u8>)], dups: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen = std::collections::HashSet::new();
    lines
        .iter()
        .filter(|(k, _)| dups || seen.insert(k.clone()))
        .cloned()
        .collect()
}

fn compare(dir: &Path, name: &str, lines: &[(Vec<u8>, Vec<u8>)], dups: bool) {
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|(k, v)| [&k[..], b" ", v, b"\n"].concat())
        .collect();
    let theirs = format!("{name}-real");
    let mut args = vec!["-s"];
    if dups {
        args.push("-d");
    }
    args.extend(["hash", &theirs]);
    // makemap exits 65 on duplicate keys without -d: run it through sh to accept that.
    let cmd = format!("makemap {} || test $? = 65", args.join(" "));
    run(dir, "sh", &["-c", &cmd], Some(&text));

    let mut b = Builder::new().duplicates(dups);
    for (k, v) in expected_records(lines, dups) {
        b.insert(&k, &v);
    }
    let ours = dir.join(format!("{name}-ours.db"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&ours).unwrap());
    b.write_to(&mut f).unwrap();
    drop(f);
    let ours = ours.to_str().unwrap().to_string();
    let theirs_db = format!("{theirs}.db");
    run(dir, "db5.3_verify", &[&ours], None);
    let want = run(dir, "db5.3_dump", &["-p", &theirs_db], None);
    let got = run(dir, "db5.3_dump", &["-p", &ours], None);
    if want != got {
        let (_, w) = parse_dump(&want);
        let (_, g) = parse_dump(&got);
        let first = w.iter().zip(&g).position(|(a, b)| a != b);
        panic!(
            "{name}: db5.3_dump differs ({} vs {} pairs; first difference at pair {first:?}: real {:?}, ours {:?})",
            w.len(),
            g.len(),
            first.map(|i| String::from_utf8_lossy(&w[i].0).into_owned()),
            first.map(|i| String::from_utf8_lossy(&g[i].0).into_owned()),
        );
    }
    let ours_name = ours.strip_suffix(".db").unwrap();
    let want_u = run(dir, "makemap", &["-u", "hash", &theirs], None);
    let got_u = run(dir, "makemap", &["-u", "hash", ours_name], None);
    assert!(want_u == got_u, "{name}: makemap -u differs");
    // Our reader lists the same pairs in the same order.
    let r = Reader::open(Path::new(&ours)).unwrap();
    let mine: Vec<(Vec<u8>, Vec<u8>)> = read_all(&r);
    let (_, w) = parse_dump(&want);
    assert!(
        mine == w,
        "{name}: our reader's order differs from db5.3_dump"
    );
}

fn cases() -> Vec<(&'static str, Shape, bool)> {
    let s = |lines, keys, max_value, long_every| Shape {
        lines,
        keys,
        max_value,
        long_every,
    };
    vec![
        ("tiny", s(5, 5, 10, 0), false),
        ("small", s(300, 1000, 40, 0), false),
        ("medium", s(3000, 100_000, 60, 0), false),
        ("large", s(40_000, 1 << 40, 30, 0), false),
        ("longvals", s(2000, 1 << 40, 200, 50), false),
        ("repeats", s(3000, 1500, 50, 0), false),
        ("dups-few", s(400, 150, 30, 0), true),
        ("dups-many", s(5000, 40, 20, 0), true),
        ("dups-long", s(2000, 300, 120, 40), true),
        ("dups-spread", s(20_000, 8000, 40, 0), true),
        // Duplicate trees of several leaves and two levels.
        ("dups-huge", s(6000, 3, 20, 0), true),
        ("dups-huge-long", s(3000, 2, 900, 3), true),
    ]
}

#[test]
fn same_dump_and_listing_as_makemap() {
    if !need_tool("makemap") || !need_tool("db5.3_dump") || !need_tool("db5.3_verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (name, shape, dups) in cases() {
        let lines = input(&mut rng, shape);
        compare(dir.path(), name, &lines, dups);
    }
}
