//! The committed test vectors (`shared/testvectors/cdb`, made by tinycdb 0.78's
//! `cdb -c`), both ways: building from the vector's input gives the same bytes, and
//! reading the vector gives the records `cdb -d` printed.

mod common;

use cfmap_cdb::{Builder, Reader, Writer};
use common::{keep_last, parse_map, parse_native, vectors};

/// (vector, input file, built with `-r`)
const VECTORS: &[(&str, &str, bool)] = &[
    ("junk", "junk.txt", false),
    ("empty", "empty.txt", false),
    ("many", "many.txt", false),
    ("eightbit", "eightbit.txt", false),
    ("syntax", "syntax.txt", false),
    ("dups", "dups.txt", false),
    ("dups-r", "dups.txt", true),
    ("vrcache", "vrcache.txt", false),
    ("bigval", "bigval.native", false),
    ("nul", "nul.native", false),
];

fn input_records(input: &str, last: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let bytes = std::fs::read(vectors().join("inputs").join(input)).unwrap();
    let recs = if input.ends_with(".native") {
        parse_native(&bytes)
    } else {
        parse_map(&bytes)
    };
    if last { keep_last(&recs) } else { recs }
}

#[test]
fn building_reproduces_every_vector_byte_for_byte() {
    for &(name, input, last) in VECTORS {
        let mut b = Builder::new();
        for (k, v) in input_records(input, last) {
            b.insert(&k, &v).unwrap();
        }
        let want = std::fs::read(vectors().join("cdb").join(format!("{name}.cdb"))).unwrap();
        let got = b.to_bytes();
        assert_eq!(b.file_size(), got.len() as u64, "{name}: file_size");
        assert!(got == want, "{name}: built file differs from tinycdb's");
        // write_to into a file gives the same bytes.
        let mut f = tempfile::tempfile().unwrap();
        b.write_to(&mut f).unwrap();
        use std::io::{Read, Seek};
        f.rewind().unwrap();
        let mut again = Vec::new();
        f.read_to_end(&mut again).unwrap();
        assert!(again == want, "{name}: write_to(File) differs");
    }
}

#[test]
fn streaming_into_a_file_reproduces_every_vector_byte_for_byte() {
    use std::io::{Read, Seek};
    for &(name, input, last) in VECTORS {
        let mut w = Writer::new(tempfile::tempfile().unwrap()).unwrap();
        for (k, v) in input_records(input, last) {
            w.insert(&k, &v).unwrap();
        }
        let size = w.file_size();
        let mut f = w.finish().unwrap();
        f.rewind().unwrap();
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        let want = std::fs::read(vectors().join("cdb").join(format!("{name}.cdb"))).unwrap();
        assert_eq!(size, got.len() as u64, "{name}: file_size");
        assert!(got == want, "{name}: streamed file differs from tinycdb's");
    }
}

#[test]
fn reading_every_vector_gives_what_cdb_d_printed() {
    for &(name, _, _) in VECTORS {
        let dir = vectors().join("cdb");
        let r = Reader::open(dir.join(format!("{name}.cdb"))).unwrap();
        let want = parse_native(&std::fs::read(dir.join(format!("{name}.d"))).unwrap());
        let got: Vec<(Vec<u8>, Vec<u8>)> = r
            .iter()
            .map(|x| x.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, want, "{name}: iter");
        for (i, (k, _)) in want.iter().enumerate() {
            let all: Vec<Vec<u8>> = want
                .iter()
                .filter(|(k2, _)| k2 == k)
                .map(|(_, v)| v.clone())
                .collect();
            assert_eq!(
                r.get(k).unwrap().as_ref(),
                Some(&all[0]),
                "{name}: get #{i}"
            );
            assert_eq!(r.get_all(k).unwrap(), all, "{name}: get_all #{i}");
        }
        assert_eq!(r.get(b"no such key, surely").unwrap(), None);
    }
}

#[test]
fn junk_lookups_from_the_spec() {
    let r = Reader::open(vectors().join("cdb/junk.cdb")).unwrap();
    assert!(r.get(b"honey@sweeties.com").unwrap().is_some());
    assert!(r.get(b"HONEY@sweeties.com").unwrap().is_none());
    // dups keeps both records of c.example; the first wins.
    let d = Reader::open(vectors().join("cdb/dups.cdb")).unwrap();
    let all = d.get_all(b"c.example").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(d.get(b"c.example").unwrap(), Some(all[0].clone()));
    let dr = Reader::open(vectors().join("cdb/dups-r.cdb")).unwrap();
    assert_eq!(dr.get_all(b"c.example").unwrap(), vec![all[1].clone()]);
}
