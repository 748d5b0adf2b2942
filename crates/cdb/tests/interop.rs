//! Live interop with tinycdb's `cdb` tool: files it builds from random records are read
//! back by `Reader`, files `Builder` writes are read by `cdb -d` and `cdb -q`, and both
//! builders give the same bytes. Records include NUL bytes, empty keys and values,
//! duplicate keys and values over 10 KB; the largest set has 100,000 records.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use cfmap_cdb::{Builder, Reader};
use common::{need_tool, to_native};

type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// xorshift64*: deterministic records without a dependency.
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
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn random_records(seed: u64, n: usize, big: bool) -> Records {
    let mut rng = Rng(seed | 1);
    let mut out: Records = Vec::with_capacity(n + 4);
    // The corner cases first: an empty key, an empty value, NULs.
    out.push((Vec::new(), b"empty key".to_vec()));
    out.push((b"empty value".to_vec(), Vec::new()));
    out.push((b"\0".to_vec(), b"\0\0".to_vec()));
    out.push((b"a\0b".to_vec(), b"x\0y\n->+1,2:".to_vec()));
    for i in 0..n {
        let key = if i > 0 && rng.below(20) == 0 {
            // A duplicate of an earlier key.
            out[rng.below(out.len() as u64) as usize].0.clone()
        } else {
            let mut k = format!("k{i}.").into_bytes();
            let extra = rng.below(12) as usize;
            k.extend(rng.bytes(extra));
            k
        };
        let vlen = if big && rng.below(50) == 0 {
            10_000 + rng.below(20_000) as usize
        } else {
            rng.below(40) as usize
        };
        out.push((key, rng.bytes(vlen)));
    }
    out
}

fn cdb(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("cdb")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cdb");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "cdb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check_both_ways(records: &Records) {
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("theirs.cdb");
    let ours = dir.path().join("ours.cdb");
    let native = to_native(records);

    // tinycdb builds; we read.
    cdb(&["-c", theirs.to_str().unwrap()], &native);
    let r = Reader::open(&theirs).unwrap();
    let got: Records = r
        .iter()
        .map(|x| x.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(got == *records, "Reader::iter on cdb -c output");
    for (k, _) in records.iter().step_by(97) {
        let first = records.iter().find(|(k2, _)| k2 == k).unwrap();
        assert_eq!(r.get(k).unwrap().as_ref(), Some(&first.1));
    }

    // We build; tinycdb reads; same bytes as tinycdb's.
    let mut b = Builder::new();
    for (k, v) in records {
        b.insert(k, v).unwrap();
    }
    let bytes = b.to_bytes();
    std::fs::write(&ours, &bytes).unwrap();
    assert!(
        bytes == std::fs::read(&theirs).unwrap(),
        "Builder output differs from cdb -c"
    );
    assert!(
        cdb(&["-d", ours.to_str().unwrap()], b"") == native,
        "cdb -d of our file"
    );
    for (k, _) in records.iter().step_by(211).take(30) {
        // `cdb -q` takes the key as an argument: no NUL possible there.
        let Ok(ks) = std::str::from_utf8(k) else {
            continue;
        };
        if ks.is_empty() || ks.contains('\0') || ks.starts_with('-') {
            continue;
        }
        let want: Vec<u8> = records
            .iter()
            .filter(|(k2, _)| k2 == k)
            .flat_map(|(_, v)| v.clone())
            .collect();
        assert_eq!(cdb(&["-q", ours.to_str().unwrap(), ks], b""), want);
    }
}

#[test]
fn small_sets_both_ways() {
    if !need_tool("cdb") {
        return;
    }
    check_both_ways(&Vec::new());
    for (seed, n) in [(1, 0), (2, 1), (3, 10), (4, 300)] {
        check_both_ways(&random_records(seed, n, false));
    }
}

#[test]
fn big_values_both_ways() {
    if !need_tool("cdb") {
        return;
    }
    check_both_ways(&random_records(5, 400, true));
}

#[test]
fn hundred_thousand_records_both_ways() {
    if !need_tool("cdb") {
        return;
    }
    check_both_ways(&random_records(6, 100_000, false));
}

#[test]
fn cdb_q_finds_plain_keys() {
    if !need_tool("cdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.cdb");
    let mut b = Builder::new();
    b.insert(b"honey@sweeties.com", b"REJECT").unwrap();
    b.insert(b"c.example", b"one").unwrap();
    b.insert(b"c.example", b"two").unwrap();
    b.write_to(&mut std::fs::File::create(&path).unwrap())
        .unwrap();
    let p = path.to_str().unwrap();
    assert_eq!(cdb(&["-q", p, "honey@sweeties.com"], b""), b"REJECT");
    assert_eq!(cdb(&["-q", p, "c.example"], b""), b"onetwo");
    assert_eq!(cdb(&["-q", "-n", "2", p, "c.example"], b""), b"two");
}
