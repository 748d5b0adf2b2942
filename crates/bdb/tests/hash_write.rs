//! Files written by `hash::Builder`, checked by the real tools: `db5.3_verify` accepts
//! them, `db5.3_dump -p` gives the same header and the same pair set as a real
//! `makemap hash` (or `db5.3_load`) build of the same input, `makemap -u` lists the same
//! lines, libdb can append to them, and sendmail's `/map` finds every key.

#[path = "hash_support.rs"]
mod support;

use cfmap_bdb::hash::{Builder, Reader};
use std::collections::BTreeMap;
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

type Pairs = BTreeMap<Vec<u8>, Vec<u8>>;

/// Builds `pairs` with cfmap into `dir/name.db`.
fn build(dir: &Path, name: &str, pairs: &Pairs, page_size: u32) -> std::path::PathBuf {
    let mut b = Builder::new().page_size(page_size);
    for (k, v) in pairs {
        b.insert(k, v);
    }
    assert_eq!(b.len(), pairs.len());
    let path = dir.join(format!("{name}.db"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    b.write_to(&mut f).unwrap();
    drop(f);
    path
}

/// db5.3_verify passes; db5.3_dump's pair set equals `pairs`; our reader agrees.
/// Returns the dump header lines.
fn verify_and_dump(dir: &Path, file: &Path, pairs: &Pairs) -> Vec<String> {
    let f = file.to_str().unwrap();
    run(dir, "db5.3_verify", &[f], None);
    let (header, got) = parse_dump(&run(dir, "db5.3_dump", &["-p", f], None));
    assert_eq!(got.len(), pairs.len(), "{f}: pair count");
    let got: Pairs = got.into_iter().collect();
    assert!(got == *pairs, "{f}: dump differs from the source");
    let r = Reader::open(file).unwrap();
    let mine: Pairs = read_all(&r).into_iter().collect();
    assert!(mine == *pairs, "{f}: reader differs from the source");
    for (k, v) in pairs.iter().step_by(7) {
        assert_eq!(r.get(k).unwrap().as_ref(), Some(v));
    }
    header
}

/// Text map lines `key value` for makemap (keys lower case, no blanks, values non-empty).
fn text_pairs(rng: &mut Rng, n: usize) -> Pairs {
    let mut p = Pairs::new();
    while p.len() < n {
        let k = format!(
            "u{}.{}@d{}.example",
            rng.below(1 << 40),
            p.len(),
            rng.below(1000)
        );
        let vlen = 1 + rng.below(60) as usize;
        let v: Vec<u8> = (0..vlen)
            .map(|i| {
                if i % 9 == 4 {
                    b' '
                } else {
                    b'A' + rng.below(26) as u8
                }
            })
            .collect();
        let mut v = v;
        *v.last_mut().unwrap() = b'Z';
        p.insert(k.into_bytes(), v);
    }
    p
}

fn map_text(pairs: &Pairs) -> Vec<u8> {
    let mut t = Vec::new();
    for (k, v) in pairs {
        t.extend_from_slice(k);
        t.push(b' ');
        t.extend_from_slice(v);
        t.push(b'\n');
    }
    t
}

/// Compares cfmap's file with a real makemap build of the same input: identical dump
/// header (`type=hash`, `h_nelem=4096+n`, `db_pagesize=4096`), same pairs, and the same
/// `makemap -u` lines once sorted.
fn compare_with_makemap(dir: &Path, name: &str, pairs: &Pairs) {
    let ours = build(dir, name, pairs, 4096);
    let header = verify_and_dump(dir, &ours, pairs);
    let real = format!("{name}-real");
    run(dir, "makemap", &["hash", &real], Some(&map_text(pairs)));
    let real_file = dir.join(format!("{real}.db"));
    let (real_header, real_pairs) = parse_dump(&run(
        dir,
        "db5.3_dump",
        &["-p", real_file.to_str().unwrap()],
        None,
    ));
    assert_eq!(
        header, real_header,
        "{name}: dump header differs from makemap's"
    );
    let real_pairs: Pairs = real_pairs.into_iter().collect();
    assert!(
        real_pairs == *pairs,
        "{name}: makemap stored something else"
    );
    let mut u_ours = split_u(&run(dir, "makemap", &["-u", "hash", name], None));
    let mut u_real = split_u(&run(dir, "makemap", &["-u", "hash", &real], None));
    u_ours.sort();
    u_real.sort();
    assert_eq!(u_ours.len(), pairs.len());
    assert!(u_ours == u_real, "{name}: makemap -u differs");
}

fn tools() -> bool {
    need_tool("db5.3_verify") && need_tool("db5.3_dump") && need_tool("makemap")
}

#[test]
fn text_maps_match_makemap() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x1234_5678);
    for n in [0, 1, 2, 5, 37, 300, 2000, 12_345] {
        let pairs = text_pairs(&mut rng, n);
        compare_with_makemap(tmp.path(), &format!("t{n}"), &pairs);
    }
}

#[test]
fn hundred_thousand_pairs() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pairs = text_pairs(&mut Rng(99), 100_000);
    compare_with_makemap(tmp.path(), "big", &pairs);
}

/// The golden inputs makemap can read (junk, many, vrcache, eightbit, long1009): cfmap's
/// file gives exactly the pairs and header of the committed `.dump` and, sorted, the `.u`.
#[test]
fn golden_inputs_rebuilt() {
    if !tools() {
        return;
    }
    let Some(dir) = vectors() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "junk",
        "many",
        "vrcache",
        "eightbit",
        "long1009",
        "mixedcase",
        "empty",
        "nul",
        "bigval",
    ] {
        let (want_header, want) =
            parse_dump(&std::fs::read(dir.join(format!("{name}.dump"))).unwrap());
        let pairs: Pairs = want.into_iter().collect();
        let mut b = Builder::new();
        if name == "nul" || name == "bigval" {
            b = b.nelem_hint(0);
        }
        for (k, v) in &pairs {
            b.insert(k, v);
        }
        let file = tmp.path().join(format!("{name}.db"));
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        std::fs::write(&file, out).unwrap();
        let header = verify_and_dump(tmp.path(), &file, &pairs);
        assert_eq!(header, want_header, "{name}: dump header");
        let mut u = split_u(&run(tmp.path(), "makemap", &["-u", "hash", name], None));
        let mut want_u = split_u(&std::fs::read(dir.join(format!("{name}.u"))).unwrap());
        u.sort();
        want_u.sort();
        assert!(u == want_u, "{name}: makemap -u");
    }
}

/// Binary keys with NUL bytes, empty keys and values, keys and values past the off-page
/// limit (10 KB+), on every page size: verified, dumped and compared with a db5.3_load
/// build of the same pairs.
#[test]
fn binary_and_big_items() {
    if !tools() || !need_tool("db5.3_load") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    for (round, ps) in [512u32, 1024, 4096, 8192, 16384, 32768]
        .into_iter()
        .enumerate()
    {
        let mut pairs = Pairs::new();
        pairs.insert(Vec::new(), Vec::new());
        pairs.insert(vec![0], b"only-nul".to_vec());
        pairs.insert(b"trailing\0".to_vec(), b"v\0".to_vec());
        let n = 300 + 200 * round;
        while pairs.len() < n {
            let klen = match rng.below(20) {
                0 => 200 + rng.below(3000) as usize,
                _ => rng.below(30) as usize,
            };
            let vlen = match rng.below(25) {
                0 => 10_000 + rng.below(20_000) as usize,
                1 => 0,
                2 => ps as usize / 4 + rng.below(3) as usize - 1,
                _ => rng.below(100) as usize,
            };
            let k: Vec<u8> = (0..klen).map(|_| rng.below(256) as u8).collect();
            let v: Vec<u8> = (0..vlen).map(|_| rng.below(256) as u8).collect();
            pairs.insert(k, v);
        }
        let name = format!("bin{ps}");
        let file = build(tmp.path(), &name, &pairs, ps);
        let header = verify_and_dump(tmp.path(), &file, &pairs);
        assert!(header.contains(&format!("db_pagesize={ps}")), "{header:?}");
        // db5.3_load of the same pairs dumps the same set.
        let mut input = b"VERSION=3\nformat=print\ntype=hash\nHEADER=END\n".to_vec();
        let list: Vec<_> = pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        input.extend(dump_lines(&list));
        input.extend_from_slice(b"DATA=END\n");
        let page = format!("db_pagesize={ps}");
        run(
            tmp.path(),
            "db5.3_load",
            &["-t", "hash", "-c", &page, "real.db"],
            Some(&input),
        );
        let real: Pairs = parse_dump(&run(tmp.path(), "db5.3_dump", &["-p", "real.db"], None))
            .1
            .into_iter()
            .collect();
        assert!(real == pairs, "{name}: db5.3_load stored something else");
        std::fs::remove_file(tmp.path().join("real.db")).unwrap();
        // makemap -u sees the same lines (as C strings).
        let list_sorted = {
            let mut v = u_lines(&list);
            v.sort();
            v
        };
        let mut u = split_u(&run(tmp.path(), "makemap", &["-u", "hash", &name], None));
        u.sort();
        // Binary data may contain newlines and tabs: compare the joined bytes.
        assert_eq!(
            u.concat().len() + u.len(),
            list_sorted.concat().len() + list_sorted.len()
        );
        let mut all_ours = list_sorted.join(&b'\n');
        let mut all_u = u.join(&b'\n');
        all_ours.sort_unstable();
        all_u.sort_unstable();
        assert!(all_ours == all_u, "{name}: makemap -u bytes differ");
    }
}

/// libdb can open a cfmap file for writing and add to it (`makemap -o`), and the result
/// still verifies: the meta page is a valid starting point for libdb's own growth.
#[test]
fn libdb_appends_to_our_file() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(5);
    let mut pairs = text_pairs(&mut rng, 3000);
    build(tmp.path(), "app", &pairs, 4096);
    let more = text_pairs(&mut Rng(6), 3000);
    run(
        tmp.path(),
        "makemap",
        &["-o", "hash", "app"],
        Some(&map_text(&more)),
    );
    pairs.extend(more);
    let file = tmp.path().join("app.db");
    verify_and_dump(tmp.path(), &file, &pairs);
}

/// Real sendmail (`sendmail -bt`, hermetic) finds keys in a cfmap-built hash map and
/// misses absent ones.
#[test]
fn sendmail_finds_keys() {
    if !need_tool("sendmail") || !need_tool("unshare") || !need_root() {
        return;
    }
    // Not below /tmp: sendmail refuses maps under a world-writable directory.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut pairs = text_pairs(&mut Rng(11), 5000);
    pairs.insert(b"natureplus.com".to_vec(), b"JUNKMAIL".to_vec());
    pairs.insert(b"big.example".to_vec(), vec![b'x'; 3000]);
    let file = build(tmp.path(), "junkmail", &pairs, 4096);
    let cf = format!(
        "V10/Berkeley\nDjvm.example.com\nO OperatorChars=.:%@!^/[]+\nKjunk hash {}\nS3\nR$*\t$@ $1\nS0\nR$*\t$#local $: $1\nMlocal, P=/bin/true, F=lsm, S=0, R=0, A=true\n",
        file.with_extension("").display()
    );
    std::fs::write(tmp.path().join("t.cf"), cf).unwrap();
    let probe: Vec<(&Vec<u8>, &Vec<u8>)> = pairs.iter().step_by(97).collect();
    let mut input = String::new();
    for (k, _) in &probe {
        input.push_str(&format!("/map junk {}\n", String::from_utf8_lossy(k)));
    }
    input
        .push_str("/map junk natureplus.com\n/map junk NaturePlus.COM\n/map junk nosuch.example\n");
    let out = sendmail_bt(tmp.path(), "t.cf", &input);
    for (k, v) in &probe {
        let line = format!(
            "map_lookup: junk ({}) returns {} (0)",
            String::from_utf8_lossy(k),
            String::from_utf8_lossy(v)
        );
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.contains("map_lookup: junk (natureplus.com) returns JUNKMAIL (0)"),
        "{out}"
    );
    // sendmail folds the key to lower case before the lookup (the K line has no -f).
    assert!(
        out.contains("map_lookup: junk (NaturePlus.COM) returns JUNKMAIL (0)"),
        "{out}"
    );
    assert!(
        out.contains("map_lookup: junk (nosuch.example) no match (0)"),
        "{out}"
    );
}
