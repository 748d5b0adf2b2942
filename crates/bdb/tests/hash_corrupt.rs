//! Untrusted input: truncated, bit-flipped and hand-broken hash files give errors, never
//! panics, hangs (chain loops) or huge allocations.

#[path = "hash_support.rs"]
mod support;

use cfmap_bdb::Error;
use cfmap_bdb::hash::{Builder, Reader};
use std::path::Path;

/// Opens, iterates (bounded) and looks up `keys`; returns whether any step failed.
/// A panic fails the test; a hang would time it out.
fn exercise(bytes: Vec<u8>, keys: &[Vec<u8>]) -> bool {
    let Ok(r) = Reader::from_bytes(Path::new("x.db"), bytes) else {
        return true;
    };
    let mut failed = false;
    let mut pairs = Vec::new();
    let mut error = None;
    for item in r.iter().take(1_000_000) {
        match item {
            Ok(p) => pairs.push(p),
            Err(e) => {
                failed = true;
                error = Some(e.to_string());
            }
        }
    }
    // The walk sees the same pairs, then the same error.
    let mut walked = Vec::new();
    let walk = r.for_each_pair(|k, v| {
        walked.push((k.to_vec(), v.to_vec()));
        walked.len() < 1_000_000
    });
    if walked.len() < 1_000_000 {
        assert!(walked == pairs, "for_each_pair and iter differ");
        assert_eq!(walk.err().map(|e| e.to_string()), error);
    }
    for k in keys {
        if r.get(k).is_err() {
            failed = true;
        }
    }
    failed
}

fn build(pairs: &[(Vec<u8>, Vec<u8>)], page_size: u32) -> Vec<u8> {
    let mut b = Builder::new().page_size(page_size);
    for (k, v) in pairs {
        b.insert(k, v);
    }
    let mut out = Vec::new();
    b.write_to(&mut out).unwrap();
    out
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A file with bucket chains and overflow items on 512-byte pages.
fn sample() -> (Vec<u8>, Vec<support::Pair>) {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..400u32)
        .map(|i| {
            (
                format!("key-{i}").into_bytes(),
                format!("value-{i}").into_bytes(),
            )
        })
        .collect();
    // Keys that all share the low 10 hash bits fill one bucket: a chain of pages.
    let same: Vec<(Vec<u8>, Vec<u8>)> = (0..2_000_000u32)
        .map(|i| format!("chain-{i}").into_bytes())
        .filter(|k| cfmap_bdb::hash::hash(k) & 1023 == 0)
        .take(40)
        .map(|k| (k, vec![b'c'; 20]))
        .collect();
    assert_eq!(same.len(), 40);
    pairs.extend(same);
    pairs.push((b"big".to_vec(), vec![b'b'; 2000]));
    pairs.push((vec![b'K'; 700], b"bigkey".to_vec()));
    (build(&pairs, 512), pairs)
}

fn keys(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    pairs.iter().map(|p| p.0.clone()).collect()
}

#[test]
fn short_files() {
    for len in [0, 1, 12, 16, 100, 511] {
        assert!(matches!(
            Reader::from_bytes(Path::new("x"), vec![0; len]),
            Err(Error::WrongType { .. })
        ));
    }
    let (file, _) = sample();
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), file[..file.len() - 1].to_vec()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn truncated_everywhere() {
    let (file, pairs) = sample();
    let k = keys(&pairs);
    for cut in (0..file.len()).step_by(97) {
        assert!(
            exercise(file[..cut].to_vec(), &k),
            "cut at {cut} read without error"
        );
    }
    let Some(dir) = support::vectors() else {
        return;
    };
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "db") {
            let bytes = std::fs::read(&p).unwrap();
            for cut in (0..bytes.len()).step_by(501) {
                assert!(
                    exercise(bytes[..cut].to_vec(), &[]),
                    "{}: cut {cut}",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let (file, pairs) = sample();
    let k = keys(&pairs);
    let mut files = vec![file];
    if let Some(dir) = support::vectors() {
        for name in ["junk", "many", "bigval", "dups-d", "nul", "many-p512"] {
            files.push(std::fs::read(dir.join(format!("{name}.db"))).unwrap());
        }
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for f in &files {
        for _ in 0..300 {
            let mut m = f.clone();
            for _ in 0..1 + (x % 4) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = (x >> 8) as usize % m.len();
                // Aim at the headers and the first items of pages most of the time.
                let at = if x.is_multiple_of(3) {
                    at
                } else {
                    at / 512 * 512 + at % 64
                };
                m[at] ^= 1 << (x % 8);
                if x.is_multiple_of(5) {
                    m[at] = (x >> 32) as u8;
                }
            }
            exercise(m, &k);
        }
    }
}

/// Finds the first page of `file` of type `ty` (page size 512).
fn find_page(file: &[u8], ty: u8, from: usize) -> usize {
    (from..file.len() / 512)
        .find(|&p| file[p * 512 + 25] == ty)
        .expect("page type")
}

#[test]
fn overflow_chain_cycle() {
    let (mut file, _) = sample();
    let p = find_page(&file, 7, 1);
    put32(&mut file, p * 512 + 16, p as u32); // next = itself
    let r = Reader::from_bytes(Path::new("x"), file).unwrap();
    let big = r.get(b"big");
    let bigkey = r.get(&[b'K'; 700]);
    assert!(
        big.is_err() || bigkey.is_err(),
        "self-linked overflow page not noticed"
    );
    assert!(r.iter().any(|i| i.is_err()));
}

#[test]
fn overflow_length_lies() {
    let (mut file, _) = sample();
    // Make every H_OFFPAGE claim 4 GB.
    let ps = 512;
    for p in 1..file.len() / ps {
        let pg = file[p * ps..(p + 1) * ps].to_vec();
        if pg[25] != 13 {
            continue;
        }
        let n = u16::from_le_bytes([pg[20], pg[21]]) as usize;
        for i in 0..n {
            let off = u16::from_le_bytes([pg[26 + 2 * i], pg[27 + 2 * i]]) as usize;
            if file[p * ps + off] == 3 {
                put32(&mut file, p * ps + off + 8, u32::MAX);
            }
        }
    }
    let r = Reader::from_bytes(Path::new("x"), file).unwrap();
    assert!(r.get(b"big").is_err());
    assert!(r.iter().any(|i| i.is_err()));
}

#[test]
fn bucket_chain_cycle() {
    let (mut file, pairs) = sample();
    let (max_bucket, high, low) = (get32(&file, 72), get32(&file, 76), get32(&file, 80));
    // The writer puts bucket b on page 1 + b, for every bucket up to high_mask.
    let reserved = high as usize + 1;
    let bucket = |h: u32| {
        let b = h & high;
        if b > max_bucket { b & low } else { b }
    };
    // A chain page: a hash page after the bucket pages.
    let p = find_page(&file, 13, reserved + 1);
    // Walk back to the bucket's first page, then link p to it.
    let mut head = p;
    while head > reserved {
        head = get32(&file, head * 512 + 12) as usize;
    }
    put32(&mut file, p * 512 + 16, head as u32);
    let r = Reader::from_bytes(Path::new("x"), file).unwrap();
    assert!(
        r.iter().any(|i| i.is_err()),
        "chain loop not noticed by iter"
    );
    // A missing key of that bucket walks the whole loop: the lookup must fail.
    let absent: Vec<_> = (0..100_000u32)
        .map(|i| format!("absent-{i}").into_bytes())
        .filter(|k| bucket(cfmap_bdb::hash::hash(k)) as usize + 1 == head)
        .take(3)
        .collect();
    assert_eq!(absent.len(), 3);
    for k in &absent {
        assert!(r.get(k).is_err(), "get on a looping chain did not fail");
    }
    // Present keys are still found or fail, never hang.
    for (k, _) in &pairs {
        let _ = r.get(k);
    }
}

#[test]
fn bad_meta_fields() {
    let (file, pairs) = sample();
    let k = keys(&pairs);
    let cases: Vec<(usize, u32)> = vec![
        (16, 8),           // version
        (20, 1000),        // page size
        (20, 1 << 20),     // page size
        (32, u32::MAX),    // last_pgno
        (72, u32::MAX),    // max_bucket
        (72, 5),           // max_bucket without matching masks
        (76, 0),           // high_mask
        (92, 1),           // h_charkey
        (96, 0xffff_0000), // spares[0]
        (100, 0),          // spares[1] → bucket 1 on page 1... then bucket 0 shares it
    ];
    for (at, v) in cases {
        let mut m = file.clone();
        put32(&mut m, at, v);
        assert!(exercise(m, &k), "meta field at {at} = {v:#x} not noticed");
    }
}
