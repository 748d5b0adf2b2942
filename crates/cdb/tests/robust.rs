//! Round trips of arbitrary records, and damaged files: every truncation and corruption
//! gives an error or some answer, never a panic or a hang.

mod common;

use cfmap_cdb::{Builder, Error, Reader, Writer};
use proptest::prelude::*;
use std::io::Cursor;

fn build(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut b = Builder::new();
    for (k, v) in records {
        b.insert(k, v).unwrap();
    }
    b.to_bytes()
}

/// Use every entry point; the results do not matter, only that they return.
fn exercise(bytes: Vec<u8>) {
    let Ok(r) = Reader::from_bytes(bytes) else {
        return;
    };
    let keys: Vec<Vec<u8>> = r
        .iter()
        .filter_map(|x| x.ok())
        .map(|(k, _)| k.to_vec())
        .collect();
    for k in keys.iter().take(50) {
        let _ = r.get(k);
        let _ = r.get_all(k);
    }
    let _ = r.get(b"");
    let _ = r.get(b"not there");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn roundtrip(records in proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 0..8), proptest::collection::vec(any::<u8>(), 0..40)),
        0..60,
    )) {
        let r = Reader::from_bytes(build(&records)).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = r
            .iter()
            .map(|x| x.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(&got, &records);
        for (k, _) in &records {
            let all: Vec<Vec<u8>> =
                records.iter().filter(|(k2, _)| k2 == k).map(|(_, v)| v.clone()).collect();
            prop_assert_eq!(r.get(k).unwrap(), Some(all[0].clone()));
            prop_assert_eq!(r.get_all(k).unwrap(), all);
        }
    }

    /// The streaming writer makes the Builder's bytes, also when the database does not
    /// start at offset 0 of its output and with a size hint of any accuracy.
    #[test]
    fn streaming_equals_builder(
        records in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..8), proptest::collection::vec(any::<u8>(), 0..40)),
            0..300,
        ),
        prefix in proptest::collection::vec(any::<u8>(), 0..5),
        hint in 0usize..1000,
    ) {
        let mut out = Cursor::new(prefix.clone());
        out.set_position(prefix.len() as u64);
        let mut w = Writer::new(out).unwrap();
        w.reserve(hint);
        for (k, v) in &records {
            w.insert(k, v).unwrap();
        }
        prop_assert_eq!(w.len(), records.len());
        let size = w.file_size();
        let got = w.finish().unwrap().into_inner();
        let want = build(&records);
        prop_assert_eq!(size, want.len() as u64);
        prop_assert_eq!(&got[..prefix.len()], &prefix[..]);
        prop_assert!(got[prefix.len()..] == want[..]);
    }

    /// Records handed over encoded, in chunks cut anywhere between records, make the
    /// same file; a chunk whose last record is cut short is refused whole and changes
    /// nothing.
    #[test]
    fn encoded_chunks_equal_builder(
        records in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..8), proptest::collection::vec(any::<u8>(), 0..40)),
            0..200,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
        bad_cut in any::<usize>(),
    ) {
        let mut w = Writer::new(Cursor::new(Vec::new())).unwrap();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (records.len() + 1)).collect();
        cuts.push(0);
        cuts.push(records.len());
        cuts.sort_unstable();
        for pair in cuts.windows(2) {
            let mut chunk = Vec::new();
            let mut bounds = Vec::new();
            for (k, v) in &records[pair[0]..pair[1]] {
                bounds.push(chunk.len());
                chunk.extend_from_slice(&cfmap_cdb::record_head(k, v));
                chunk.extend_from_slice(k);
                chunk.extend_from_slice(v);
            }
            bounds.push(chunk.len());
            if bounds.len() > 1 {
                // A cut strictly inside one of the records.
                let r = bad_cut % (bounds.len() - 1);
                let len = bounds[r + 1] - bounds[r];
                let cut = bounds[r] + 1 + (bad_cut / 7) % (len - 1);
                let refused = w.insert_encoded(&chunk[..cut]).unwrap_err();
                let bad_record = matches!(refused, Error::BadRecord { .. });
                prop_assert!(bad_record);
            }
            w.insert_encoded(&chunk).unwrap();
        }
        prop_assert_eq!(w.len(), records.len());
        prop_assert!(w.finish().unwrap().into_inner() == build(&records));
    }

    #[test]
    fn random_damage_never_panics(
        records in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..6), proptest::collection::vec(any::<u8>(), 0..20)),
            1..30,
        ),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = build(&records);
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        exercise(bytes);
    }
}

#[test]
fn every_truncation_of_a_vector_is_handled() {
    let full = std::fs::read(common::vectors().join("cdb/junk.cdb")).unwrap();
    for len in 0..full.len() {
        let r = Reader::from_bytes(full[..len].to_vec());
        if len < 2048 {
            assert!(matches!(r, Err(Error::TooShort { .. })), "len {len}");
        } else {
            // The tables sit at the end, so any cut loses one: the header check fails.
            assert!(r.is_err(), "len {len} accepted");
        }
    }
}

#[test]
fn corrupt_headers_and_records_are_errors() {
    let good = build(&[(b"key".to_vec(), b"value".to_vec())]);
    let t = (cfmap_cdb::hash(b"key") & 255) as usize;

    // pos[0] before the header.
    let mut b = good.clone();
    b[0..4].copy_from_slice(&100u32.to_le_bytes());
    assert!(matches!(
        Reader::from_bytes(b),
        Err(Error::BadDataEnd { .. })
    ));

    // A table running past the end of the file.
    let mut b = good.clone();
    b[t * 8 + 4..t * 8 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(Reader::from_bytes(b), Err(Error::BadTable { .. })));

    // A table inside the records.
    let mut b = good.clone();
    b[t * 8..t * 8 + 4].copy_from_slice(&2048u32.to_le_bytes());
    assert!(matches!(Reader::from_bytes(b), Err(Error::BadTable { .. })));

    // A record whose key length runs past the records.
    let mut b = good.clone();
    b[2048..2052].copy_from_slice(&1_000_000u32.to_le_bytes());
    let r = Reader::from_bytes(b).unwrap();
    assert!(matches!(
        r.get(b"key"),
        Err(Error::BadRecord { pos: 2048, .. })
    ));
    let items: Vec<_> = r.iter().collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());

    // A slot pointing into the header.
    let mut b = good.clone();
    let tpos = u32::from_le_bytes(b[t * 8..t * 8 + 4].try_into().unwrap()) as usize;
    for slot in 0..2 {
        let at = tpos + slot * 8 + 4;
        if b[at..at + 4] != [0; 4] {
            b[at..at + 4].copy_from_slice(&16u32.to_le_bytes());
        }
    }
    let r = Reader::from_bytes(b).unwrap();
    assert!(matches!(
        r.get(b"key"),
        Err(Error::BadRecord { pos: 16, .. })
    ));
}

#[test]
fn full_tables_do_not_loop() {
    // Every slot of the key's table taken by other hashes: the probe stops after `len`.
    let mut b = build(&[(b"key".to_vec(), b"value".to_vec())]);
    let t = (cfmap_cdb::hash(b"key") & 255) as usize;
    let tpos = u32::from_le_bytes(b[t * 8..t * 8 + 4].try_into().unwrap()) as usize;
    for slot in 0..2 {
        b[tpos + slot * 8..tpos + slot * 8 + 4].copy_from_slice(&1u32.to_le_bytes());
        b[tpos + slot * 8 + 4..tpos + slot * 8 + 8].copy_from_slice(&2048u32.to_le_bytes());
    }
    let r = Reader::from_bytes(b).unwrap();
    assert_eq!(r.get(b"key").unwrap(), None);
}

#[test]
fn open_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Reader::open(dir.path().join("nope.cdb")),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound
    ));
}

#[test]
fn streaming_records_larger_than_the_buffer() {
    // Values around and above the write buffer go straight to the output.
    let big = cfmap_cdb::WRITE_BUFFER;
    let records: Vec<(Vec<u8>, Vec<u8>)> = [10, big - 20, big, 3 * big + 7, 5, big - 8]
        .iter()
        .enumerate()
        .map(|(i, &n)| (format!("k{i}").into_bytes(), vec![i as u8; n]))
        .collect();
    let mut w = Writer::new(Cursor::new(Vec::new())).unwrap();
    for (k, v) in &records {
        w.insert(k, v).unwrap();
    }
    assert!(w.finish().unwrap().into_inner() == build(&records));
}
