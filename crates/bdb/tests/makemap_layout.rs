//! The hash writer lays the pairs out as libdb does when makemap inserts them in input
//! order: for random inputs (small and large, short and long values, with and without
//! `-d` duplicates, big items on overflow pages, duplicate sets that go off-page), the
//! file written by `hash::Builder` dumps (`db5.3_dump -p`) and lists (`makemap -u`)
//! exactly as the real `makemap hash` file of the same input, and `db5.3_verify`
//! accepts it. The btree writer's duplicates (`-d`, on-page and off-page sets) are checked
//! the same way.

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
            // Keys that are prefixes of others (`k7.xx`, `k7.xxv`, `k7.xxvw`): hash pages
            // put the longer one first.
            let key = format!(
                "k{}.{}{}",
                k / 3,
                "x".repeat((k / 3 % 23) as usize),
                ["", "v", "vw"][(k % 3) as usize]
            )
            .into_bytes();
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

/// With `-d` (duplicates) or `-r` (replace), every line goes to the builder, which keeps
/// or replaces; else a repeated key is dropped (makemap's "duplicate key" error keeps the
/// first value).
fn expected_records(lines: &[(Vec<u8>, Vec<u8>)], mode: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen = std::collections::HashSet::new();
    lines
        .iter()
        .filter(|(k, _)| !mode.is_empty() || seen.insert(k.clone()))
        .cloned()
        .collect()
}

/// `mode`: "" (first value kept), "-d" or "-r".
fn compare(dir: &Path, name: &str, lines: &[(Vec<u8>, Vec<u8>)], mode: &str) {
    compare_type(dir, name, lines, mode, "hash")
}

fn compare_type(dir: &Path, name: &str, lines: &[(Vec<u8>, Vec<u8>)], mode: &str, ty: &str) {
    let dups = mode == "-d";
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|(k, v)| [&k[..], b" ", v, b"\n"].concat())
        .collect();
    let theirs = format!("{name}-real");
    let mut args = vec!["-s"];
    if !mode.is_empty() {
        args.push(mode);
    }
    args.extend([ty, &theirs]);
    // makemap exits 65 on duplicate keys without -d: run it through sh to accept that.
    let cmd = format!("makemap {} || test $? = 65", args.join(" "));
    run(dir, "sh", &["-c", &cmd], Some(&text));

    let ours = dir.join(format!("{name}-ours.db"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&ours).unwrap());
    if ty == "hash" {
        let mut b = Builder::new().duplicates(dups);
        for (k, v) in expected_records(lines, mode) {
            b.insert(&k, &v);
        }
        b.write_to(&mut f).unwrap();
    } else {
        let mut b = cfmap_bdb::btree::Builder::new().duplicates(dups);
        for (k, v) in expected_records(lines, mode) {
            b.insert(&k, &v);
        }
        b.write_to(&mut f).unwrap();
    }
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
    let want_u = run(dir, "makemap", &["-u", ty, &theirs], None);
    let got_u = run(dir, "makemap", &["-u", ty, ours_name], None);
    assert!(want_u == got_u, "{name}: makemap -u differs");
    // Our reader lists the same pairs in the same order.
    let mine: Vec<(Vec<u8>, Vec<u8>)> = if ty == "hash" {
        read_all(&Reader::open(Path::new(&ours)).unwrap())
    } else {
        let r = cfmap_bdb::btree::Reader::open(Path::new(&ours)).unwrap();
        r.iter().collect::<Result<_, _>>().unwrap()
    };
    let (_, w) = parse_dump(&want);
    assert!(
        mine == w,
        "{name}: our reader's order differs from db5.3_dump"
    );
}

fn cases() -> Vec<(&'static str, Shape, &'static str)> {
    let s = |lines, keys, max_value, long_every| Shape {
        lines,
        keys,
        max_value,
        long_every,
    };
    vec![
        ("tiny", s(5, 5, 10, 0), ""),
        ("small", s(300, 1000, 40, 0), ""),
        ("medium", s(3000, 100_000, 60, 0), ""),
        ("large", s(40_000, 1 << 40, 30, 0), ""),
        ("longvals", s(2000, 1 << 40, 200, 50), ""),
        ("repeats", s(3000, 1500, 50, 0), ""),
        ("replace", s(3000, 1500, 50, 0), "-r"),
        ("replace-long", s(4000, 1000, 300, 20), "-r"),
        ("dups-few", s(400, 150, 30, 0), "-d"),
        ("dups-many", s(5000, 40, 20, 0), "-d"),
        ("dups-long", s(2000, 300, 120, 40), "-d"),
        ("dups-spread", s(20_000, 8000, 40, 0), "-d"),
        // Duplicate trees of several leaves and two levels.
        ("dups-huge", s(6000, 3, 20, 0), "-d"),
        ("dups-huge-long", s(3000, 2, 900, 3), "-d"),
    ]
}

#[test]
fn same_dump_and_listing_as_makemap() {
    if !need_tool("makemap") || !need_tool("db5.3_dump") || !need_tool("db5.3_verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (name, shape, mode) in cases() {
        let lines = input(&mut rng, shape);
        compare(dir.path(), name, &lines, mode);
    }
}

#[test]
fn btree_duplicates_dump_as_makemap() {
    if !need_tool("makemap") || !need_tool("db5.3_dump") || !need_tool("db5.3_verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    for (name, shape, mode) in cases() {
        if mode == "-d" {
            let lines = input(&mut rng, shape);
            compare_type(dir.path(), &format!("bt-{name}"), &lines, mode, "btree");
        }
    }
}

/// Duplicate trees of three levels (512-byte pages; makemap cannot make those, so only
/// the verifier and the dump's pair order are checked).
#[test]
fn deep_duplicate_trees_verify() {
    if !need_tool("db5.3_dump") || !need_tool("db5.3_verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 0..6000u32 {
        lines.push((
            format!("k{}", i % 2).into_bytes(),
            format!("v{i}").into_bytes(),
        ));
        if i % 500 == 0 {
            lines.push((b"long".to_vec(), vec![b'L'; 200 + i as usize / 10]));
        }
    }
    for ty in ["hash", "btree"] {
        let path = dir.path().join(format!("deep-{ty}.db"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        if ty == "hash" {
            let mut b = Builder::new().page_size(512).duplicates(true);
            for (k, v) in &lines {
                b.insert(k, v);
            }
            b.write_to(&mut f).unwrap();
        } else {
            let mut b = cfmap_bdb::btree::Builder::new()
                .page_size(512)
                .duplicates(true);
            for (k, v) in &lines {
                b.insert(k, v);
            }
            b.write_to(&mut f).unwrap();
        }
        drop(f);
        let p = path.to_str().unwrap();
        run(dir.path(), "db5.3_verify", &[p], None);
        let (_, dumped) = parse_dump(&run(dir.path(), "db5.3_dump", &["-p", p], None));
        // Per key, the values in insertion order.
        for key in [&b"k0"[..], b"k1", b"long"] {
            let want: Vec<&Vec<u8>> = lines.iter().filter(|l| l.0 == key).map(|l| &l.1).collect();
            let got: Vec<&Vec<u8>> = dumped.iter().filter(|l| l.0 == key).map(|l| &l.1).collect();
            assert!(want == got, "{ty}: values of {key:?}");
        }
        assert_eq!(dumped.len(), lines.len());
    }
}

/// Real sendmail answers `/map` lookups on maps cfmap wrote with duplicates (on-page and
/// in a duplicate tree): the first value of a key, as from makemap's `-d` maps.
#[test]
fn sendmail_reads_duplicate_maps() {
    if !need_tool("sendmail") || !need_tool("unshare") || !cfmap_testkit::need_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // sendmail refuses maps below a world-writable directory (/tmp may be one).
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut lines: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 0..1000 {
        lines.push((b"many.example".to_vec(), format!("MANY{i}").into_bytes()));
        if i < 3 {
            lines.push((b"few.example".to_vec(), format!("FEW{i}").into_bytes()));
        }
    }
    lines.push((b"single.example".to_vec(), b"ONE".to_vec()));
    let mut cf = String::from("V10/Berkeley\nDjvm.example.com\n");
    for ty in ["btree", "hash"] {
        let path = d.join(format!("dups-{ty}.db"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        if ty == "hash" {
            let mut b = Builder::new().duplicates(true);
            for (k, v) in &lines {
                b.insert(k, v);
            }
            b.write_to(&mut f).unwrap();
        } else {
            let mut b = cfmap_bdb::btree::Builder::new().duplicates(true);
            for (k, v) in &lines {
                b.insert(k, v);
            }
            b.write_to(&mut f).unwrap();
        }
        drop(f);
        cf.push_str(&format!(
            "K{ty} {ty} {}\n",
            d.join(format!("dups-{ty}")).display()
        ));
    }
    cf.push_str("S0\nR$*\t$#local $: $1\nMlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n");
    std::fs::write(d.join("test.cf"), cf).unwrap();
    let mut input = String::new();
    for ty in ["btree", "hash"] {
        for k in [
            "many.example",
            "few.example",
            "single.example",
            "none.example",
        ] {
            input.push_str(&format!("/map {ty} {k}\n"));
        }
    }
    let out = cfmap_testkit::sendmail_bt(d, "test.cf", &input);
    for ty in ["btree", "hash"] {
        for (k, v) in [
            ("many.example", "MANY0"),
            ("few.example", "FEW0"),
            ("single.example", "ONE"),
        ] {
            let line = format!("map_lookup: {ty} ({k}) returns {v} (0)");
            assert!(out.contains(&line), "missing {line:?} in:\n{out}");
        }
        let line = format!("map_lookup: {ty} (none.example) no match (0)");
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
}
