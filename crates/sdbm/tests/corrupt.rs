//! Damaged and hostile files: random bytes, truncated `.pag`, a `.dir` that points past
//! the end of `.pag`, offsets out of range, a trie that never ends. Every case gives a
//! result or an [`Error`], never a panic, a hang or a huge allocation.

mod common;

use cfmap_sdbm::{Error, PBLKSIZ, Sdbm, StoreMode};
use common::{Rng, data_dir};

/// Reads, writes and lists as much as possible; errors are fine, panics are not.
fn exercise(mut db: Sdbm, rng: &mut Rng) {
    let mut keys = Vec::new();
    for item in db.iter().take(10_000) {
        match item {
            Ok((k, _)) => keys.push(k),
            Err(e) => {
                assert!(matches!(e, Error::Corrupt { .. }), "{e}");
                let _ = e.to_string();
            }
        }
    }
    for k in keys.iter().take(50) {
        let _ = db.fetch(k);
    }
    for _ in 0..50 {
        let len = rng.below(16) as usize;
        let k = rng.bytes(len);
        let _ = db.fetch(&k);
        let vlen = rng.below(300) as usize;
        let v = rng.bytes(vlen);
        let _ = db.store(&k, &v, StoreMode::Replace);
        let _ = db.store(&k, &v, StoreMode::Insert);
        let _ = db.delete(&k);
    }
    let _ = db.iter().take(10_000).count();
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(42);
    for round in 0..300 {
        let dir_len = match round % 3 {
            0 => 0,
            1 => rng.below(64) as usize,
            _ => rng.below(600) as usize,
        };
        let pag_len = rng.below(4 * PBLKSIZ as u64) as usize;
        let dir = rng.bytes(dir_len);
        let mut pag = rng.bytes(pag_len);
        // Plausible counts make the offset checks, not the count check, do the work.
        for page in pag.chunks_mut(PBLKSIZ) {
            if page.len() >= 2 && round % 2 == 0 {
                page[0] = (rng.below(20) * 2) as u8;
                page[1] = 0;
            }
        }
        exercise(Sdbm::from_bytes(dir, pag).unwrap(), &mut rng);
    }
}

#[test]
fn damaged_copies_of_a_real_file_never_panic() {
    let dir = std::fs::read(data_dir().join("vrcache.dir")).unwrap();
    let pag = std::fs::read(data_dir().join("vrcache.pag")).unwrap();
    let mut rng = Rng::new(7);
    for _ in 0..200 {
        let mut d = dir.clone();
        let mut p = pag.clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(p.len() as u64) as usize;
            p[at] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            let at = rng.below(d.len() as u64) as usize;
            d[at] ^= 1 << rng.below(8);
        }
        exercise(Sdbm::from_bytes(d, p).unwrap(), &mut rng);
    }
}

#[test]
fn truncated_pag_reads_missing_pages_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let full = std::fs::read(data_dir().join("many.pag")).unwrap();
    let want = common::parse_native(&std::fs::read(data_dir().join("many.list")).unwrap());
    for cut in [0, 1, 1000, 1024, 5000, 100_000, 102_400, 300_001, 300_032] {
        let dir = tmp.path().join(format!("t{cut}.dir"));
        let pag = tmp.path().join(format!("t{cut}.pag"));
        std::fs::copy(data_dir().join("many.dir"), &dir).unwrap();
        std::fs::write(&pag, &full[..cut]).unwrap();
        let db = Sdbm::open(&dir, &pag, false).unwrap();
        let mut found = 0;
        for item in db.iter() {
            // A page cut in the middle may fail its check; everything else reads.
            match item {
                Ok((k, v)) => {
                    // A page cut in the middle reads with zeros at its end, which may
                    // pass the check and give damaged pairs; whole pages give real ones.
                    if cut % PBLKSIZ == 0 {
                        assert!(want.contains(&(k, v)), "cut {cut}");
                    }
                    found += 1;
                }
                Err(e) => assert!(matches!(e, Error::Corrupt { .. })),
            }
        }
        assert!(found <= want.len());
        for (k, v) in &want {
            match db.fetch(k) {
                Ok(Some(got)) => {
                    if cut % PBLKSIZ == 0 {
                        assert_eq!(&got, v);
                    }
                }
                Ok(None) | Err(Error::Corrupt { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn dir_pointing_past_the_end_of_pag() {
    // Every node split: keys go to pages far beyond a one-page `.pag`, which read as
    // empty (as holes do); a store there writes the far page.
    let mut db = Sdbm::from_bytes(vec![0xff; 4096], vec![0; PBLKSIZ]).unwrap();
    assert_eq!(db.fetch(b"anything").unwrap(), None);
    db.store(b"anything", b"v", StoreMode::Replace).unwrap();
    assert_eq!(db.fetch(b"anything").unwrap().unwrap(), b"v");
    assert_eq!(db.iter().count(), 1);
    let (_, pag) = db.into_bytes().unwrap();
    assert!(pag.len() > PBLKSIZ);
}

fn page(n: i16, offsets: &[i16]) -> Vec<u8> {
    let mut p = vec![0u8; PBLKSIZ];
    p[0..2].copy_from_slice(&n.to_le_bytes());
    for (i, off) in offsets.iter().enumerate() {
        p[2 + 2 * i..4 + 2 * i].copy_from_slice(&off.to_le_bytes());
    }
    p
}

#[test]
fn bad_offset_tables_are_corrupt() {
    let cases: &[(&str, Vec<u8>)] = &[
        ("negative count", page(-2, &[])),
        ("odd count", page(3, &[1020, 1010, 1000])),
        ("count over 510", page(600, &[])),
        ("key beyond the page", page(2, &[1100, 1000])),
        ("value above its key", page(2, &[1000, 1010])),
        ("negative offset", page(2, &[1000, -8])),
        ("offset inside the table", page(4, &[1000, 990, 980, 6])),
        ("offsets increasing", page(4, &[1000, 990, 995, 980])),
        ("i16 overflow", page(2, &[i16::MIN, i16::MIN])),
    ];
    for (what, bytes) in cases {
        let mut db = Sdbm::from_bytes(Vec::new(), bytes.clone()).unwrap();
        let items: Vec<_> = db.iter().collect();
        assert_eq!(items.len(), 1, "{what}: one error, then the end");
        let Err(Error::Corrupt { page, .. }) = &items[0] else {
            panic!("{what}: {:?}", items[0]);
        };
        assert_eq!(*page, 0);
        assert!(
            matches!(db.fetch(b"k"), Err(Error::Corrupt { .. })),
            "{what}"
        );
        assert!(
            matches!(
                db.store(b"k", b"v", StoreMode::Replace),
                Err(Error::Corrupt { .. })
            ),
            "{what}"
        );
        assert!(
            matches!(db.delete(b"k"), Err(Error::Corrupt { .. })),
            "{what}"
        );
        // Nothing was written.
        assert_eq!(db.into_bytes().unwrap().1, *bytes, "{what}");
    }
}

#[test]
fn corrupt_page_in_the_middle_ends_iteration_with_an_error() {
    let mut pag = std::fs::read(data_dir().join("vrcache.pag")).unwrap();
    let dir = std::fs::read(data_dir().join("vrcache.dir")).unwrap();
    // Page 2 gets an impossible count.
    pag[2 * PBLKSIZ] = 0xff;
    pag[2 * PBLKSIZ + 1] = 0x7f;
    let db = Sdbm::from_bytes(dir, pag).unwrap();
    let items: Vec<_> = db.iter().collect();
    let last = items.last().unwrap();
    assert!(
        matches!(last, Err(Error::Corrupt { page: 2, .. })),
        "{last:?}"
    );
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
    let msg = last.as_ref().unwrap_err().to_string();
    assert!(
        msg.contains("memory.pag") && msg.contains("page 2"),
        "{msg}"
    );
}

#[test]
fn endless_trie_is_bounded() {
    // A `.dir` of all ones: the walk stops at the end of the file (at most 31 levels),
    // and stores still work.
    let mut db = Sdbm::from_bytes(vec![0xff; 64 * 1024], Vec::new()).unwrap();
    for n in 0..20u32 {
        let k = n.to_be_bytes();
        db.store(&k, b"v", StoreMode::Replace).unwrap();
        assert_eq!(db.fetch(&k).unwrap().unwrap(), b"v");
    }
}

#[test]
fn oversized_dir_is_refused_without_reading_it() {
    // A sparse 513 MiB `.dir`: more than a 31-level trie can use.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big.dir");
    let pag = tmp.path().join("big.pag");
    std::fs::File::create(&dir)
        .unwrap()
        .set_len(513 << 20)
        .unwrap();
    std::fs::File::create(&pag).unwrap();
    let err = Sdbm::open(&dir, &pag, false).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("big.dir"), "{err}");
}

#[test]
fn missing_files_are_io_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("none.dir");
    let pag = tmp.path().join("none.pag");
    let err = Sdbm::open(&dir, &pag, false).unwrap_err();
    let Error::Io { path, .. } = &err else {
        panic!("{err}");
    };
    // Like Perl, `.pag` is opened first.
    assert_eq!(path, &pag);
    std::fs::File::create(&pag).unwrap();
    let err = Sdbm::open(&dir, &pag, true).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path == &dir),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}
