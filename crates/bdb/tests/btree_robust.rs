//! Write→read roundtrips (proptest) and hostile input: truncated, bit-flipped and
//! hand-corrupted files (loops in the leaf chain, overflow chains and the tree) must give
//! errors, never panics or hangs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cfmap_bdb::Error;
use cfmap_bdb::btree::{Builder, Reader};
use proptest::prelude::*;

fn build(pairs: &[(Vec<u8>, Vec<u8>)], page_size: u32) -> Vec<u8> {
    let mut b = Builder::new().page_size(page_size);
    for (k, v) in pairs {
        b.insert(k, v);
    }
    let mut out = Vec::new();
    b.write_to(&mut out).unwrap();
    out
}

fn item() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..24),
        // Long items (overflow pages at every page size), cheap to generate.
        1 => (0usize..3000, any::<[u8; 3]>())
            .prop_map(|(n, pat)| pat.iter().cycle().take(n).copied().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn roundtrip(
        pairs in proptest::collection::vec((item(), item()), 0..300),
        ps in prop_oneof![Just(512u32), Just(1024), Just(4096), Just(32768)],
    ) {
        // A later insert of the same key wins.
        let expect: BTreeMap<Vec<u8>, Vec<u8>> = pairs.iter().cloned().collect();
        let bytes = build(&pairs, ps);
        prop_assert_eq!(bytes.len() % ps as usize, 0);
        let r = Reader::from_bytes(Path::new("p.db"), bytes).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = r.iter().collect::<Result<_, _>>().unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = expect.clone().into_iter().collect();
        prop_assert_eq!(got, want);
        for (k, v) in &expect {
            prop_assert_eq!(r.get(k).unwrap(), Some(v.clone()));
            let mut absent = k.clone();
            absent.push(0x7f);
            if !expect.contains_key(&absent) {
                prop_assert_eq!(r.get(&absent).unwrap(), None);
            }
        }
    }
}

/// Read everything a reader offers; errors are fine, panics and hangs are not.
fn exercise(bytes: Vec<u8>, keys: &[Vec<u8>]) {
    let Ok(r) = Reader::from_bytes(Path::new("bad.db"), bytes) else {
        return;
    };
    let mut n = 0;
    for p in r.iter() {
        n += 1;
        assert!(n < 1_000_000, "iteration does not end");
        if p.is_err() {
            break;
        }
    }
    for k in keys {
        let _ = r.get(k);
    }
}

fn sample() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut pairs = Vec::new();
    for i in 0..400u32 {
        let v = if i % 50 == 0 {
            vec![b'x'; 1500 + i as usize]
        } else {
            format!("v{i}").into_bytes()
        };
        pairs.push((format!("key{i:04}").into_bytes(), v));
    }
    pairs.push((vec![b'K'; 600], b"long key".to_vec()));
    let keys = pairs.iter().step_by(37).map(|p| p.0.clone()).collect();
    (build(&pairs, 512), keys)
}

fn golden(name: &str) -> Option<Vec<u8>> {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testvectors/btree")
        .join(name);
    std::fs::read(p).ok()
}

#[test]
fn truncated_files_are_errors() {
    let (bytes, keys) = sample();
    for len in (0..bytes.len())
        .step_by(61)
        .chain([0, 1, 71, 72, 511, 512, 513])
    {
        exercise(bytes[..len.min(bytes.len())].to_vec(), &keys);
    }
    // Cut at a page boundary: the tree refers to pages that are gone.
    let r = Reader::from_bytes(Path::new("t.db"), bytes[..512 * 3].to_vec()).unwrap();
    assert!(r.iter().any(|p| p.is_err()));
    assert!(Reader::from_bytes(Path::new("t.db"), Vec::new()).is_err());
}

#[test]
fn random_corruption_never_panics() {
    let (bytes, keys) = sample();
    let mut inputs = vec![bytes];
    inputs.extend(
        ["many-p512.db", "bigval.db", "long1009.db"]
            .iter()
            .filter_map(|n| golden(n)),
    );
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in &inputs {
        for _ in 0..400 {
            let mut b = base.clone();
            for _ in 0..1 + rnd() % 4 {
                let at = (rnd() % b.len() as u64) as usize;
                // Mostly hit headers and item offsets, where it hurts.
                let at = if rnd() % 2 == 0 {
                    at - at % 512 + (rnd() % 40) as usize
                } else {
                    at
                };
                let at = at.min(b.len() - 1);
                b[at] = rnd() as u8;
            }
            exercise(b, &keys);
        }
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn corrupt_err(bytes: Vec<u8>) -> Error {
    let r = match Reader::from_bytes(Path::new("c.db"), bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut last = None;
    for p in r.iter() {
        if let Err(e) = p {
            last = Some(e);
        }
    }
    last.expect("corruption not noticed")
}

/// Pages of a cfmap-built file: (pgno, type, level), 512-byte pages.
fn pages(b: &[u8]) -> Vec<(usize, u8, u8)> {
    (1..b.len() / 512)
        .map(|p| (p, b[p * 512 + 25], b[p * 512 + 24]))
        .collect()
}

#[test]
fn loops_and_bad_links_are_errors() {
    let (bytes, keys) = sample();
    let leaves: Vec<usize> = pages(&bytes)
        .iter()
        .filter(|p| p.1 == 5)
        .map(|p| p.0)
        .collect();
    let overflow: Vec<usize> = pages(&bytes)
        .iter()
        .filter(|p| p.1 == 7)
        .map(|p| p.0)
        .collect();
    assert!(leaves.len() > 3 && overflow.len() > 3);

    // Leaf chain loops back to the first leaf.
    let mut b = bytes.clone();
    let last = *leaves.last().unwrap();
    put_u32(&mut b, last * 512 + 16, leaves[0] as u32);
    assert!(matches!(corrupt_err(b), Error::Corrupt { .. }));

    // Leaf chain points at itself.
    let mut b = bytes.clone();
    put_u32(&mut b, leaves[1] * 512 + 16, leaves[1] as u32);
    assert!(matches!(corrupt_err(b), Error::Corrupt { .. }));

    // Leaf chain points past the end and at the meta page.
    for target in [u32::MAX, 0x7fff_ffff, (bytes.len() / 512) as u32] {
        let mut b = bytes.clone();
        put_u32(&mut b, leaves[0] * 512 + 16, target);
        assert!(matches!(corrupt_err(b), Error::Corrupt { .. }));
    }

    // An overflow chain that loops onto itself, with a huge total length: no endless
    // loop, no huge allocation.
    let mut b = bytes.clone();
    let o = overflow[0];
    put_u32(&mut b, o * 512 + 16, o as u32);
    put_u32(&mut b, o * 512 + 12, o as u32);
    assert!(matches!(corrupt_err(b.clone()), Error::Corrupt { .. }));
    exercise(b, &keys);

    // Every overflow reference claims 4 GiB.
    let mut b = bytes.clone();
    for p in &leaves {
        let page = &mut b[p * 512..(p + 1) * 512];
        let n = u16::from_le_bytes([page[20], page[21]]) as usize;
        for s in 0..n {
            let off = u16::from_le_bytes([page[26 + 2 * s], page[27 + 2 * s]]) as usize;
            if page[off + 2] == 3 {
                put_u32(page, off + 8, u32::MAX);
            }
        }
    }
    assert!(matches!(corrupt_err(b.clone()), Error::Corrupt { .. }));
    exercise(b, &keys);

    // Every overflow value points at the first one's chain: refused, so a small file
    // cannot produce output far larger than itself.
    let mut b = bytes.clone();
    let mut first: Option<[u8; 8]> = None;
    for p in &leaves {
        let page = &mut b[p * 512..(p + 1) * 512];
        let n = u16::from_le_bytes([page[20], page[21]]) as usize;
        for s in (1..n).step_by(2) {
            let off = u16::from_le_bytes([page[26 + 2 * s], page[27 + 2 * s]]) as usize;
            if page[off + 2] == 3 {
                match first {
                    None => first = Some(page[off + 4..off + 12].try_into().unwrap()),
                    Some(f) => page[off + 4..off + 12].copy_from_slice(&f),
                }
            }
        }
    }
    assert!(matches!(corrupt_err(b), Error::Corrupt { .. }));

    // The root's children point back at the root (a cycle in the tree) or at the meta page.
    for target in [1u32, 0] {
        let mut b = bytes.clone();
        let root = &mut b[512..1024];
        assert_eq!(root[25], 3);
        let n = u16::from_le_bytes([root[20], root[21]]) as usize;
        for s in 0..n {
            let off = u16::from_le_bytes([root[26 + 2 * s], root[27 + 2 * s]]) as usize;
            put_u32(root, off + 4, target);
        }
        assert!(matches!(corrupt_err(b.clone()), Error::Corrupt { .. }));
        let r = Reader::from_bytes(Path::new("c.db"), b).unwrap();
        assert!(r.get(b"key0100").is_err());
    }

    // Slot offsets outside the page, odd number of slots on a leaf.
    let mut b = bytes.clone();
    b[leaves[0] * 512 + 26..leaves[0] * 512 + 28].copy_from_slice(&0xfff0u16.to_le_bytes());
    assert!(matches!(corrupt_err(b), Error::Corrupt { .. }));
    let mut b = bytes.clone();
    b[leaves[0] * 512 + 20] ^= 1;
    assert!(matches!(corrupt_err(b), Error::Corrupt { .. }));
}

#[test]
fn foreign_and_unsupported_files() {
    let (bytes, _) = sample();
    // Bad magic, hash magic, wrong version, odd page size, checksums, recno.
    let mut b = bytes.clone();
    b[12] = 0;
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::WrongType { .. })
    ));
    let mut b = bytes.clone();
    put_u32(&mut b, 12, 0x0006_1561);
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::WrongType { .. })
    ));
    let mut b = bytes.clone();
    put_u32(&mut b, 16, 7);
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::Unsupported { .. })
    ));
    let mut b = bytes.clone();
    put_u32(&mut b, 20, 1000);
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::Corrupt { .. })
    ));
    let mut b = bytes.clone();
    b[26] = 1;
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::Unsupported { .. })
    ));
    let mut b = bytes.clone();
    b[48] = 0x02;
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::WrongType { .. })
    ));
    let mut b = bytes.clone();
    put_u32(&mut b, 88, 9999);
    assert!(matches!(
        Reader::from_bytes(Path::new("x"), b),
        Err(Error::Corrupt { .. })
    ));
    // A missing file is an I/O error naming it.
    match Reader::open(Path::new("/nonexistent/x.db")) {
        Err(Error::Io { path, .. }) => assert_eq!(path, Path::new("/nonexistent/x.db")),
        other => panic!("{other:?}"),
    }
}
