//! cdb reader on arbitrary bytes: no panic, no hang, and whatever records it can read
//! come back the same after a rebuild.
#![no_main]

use cfmap_cdb::{Builder, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = Reader::from_bytes(data.to_vec()) else {
        return;
    };
    let mut records = Vec::new();
    for item in r.iter() {
        match item {
            Ok((k, v)) => records.push((k.to_vec(), v.to_vec())),
            Err(_) => break,
        }
    }
    for (k, _) in records.iter().take(64) {
        let _ = r.get(k);
        let _ = r.get_all(k);
    }
    let _ = r.get(b"");
    // Rebuild what was readable: the rebuilt file reads back the same records.
    let mut b = Builder::new();
    for (k, v) in &records {
        b.insert(k, v).expect("smaller than the input");
    }
    let again = Reader::from_bytes(b.to_bytes()).expect("own output is valid");
    let back: Vec<(Vec<u8>, Vec<u8>)> = again
        .iter()
        .map(|x| {
            x.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .expect("own output is valid")
        })
        .collect();
    assert_eq!(back, records);
    for (k, _) in records.iter().take(64) {
        let first = records
            .iter()
            .find(|(k2, _)| k2 == k)
            .map(|(_, v)| v.clone());
        assert_eq!(again.get(k).expect("own output is valid"), first);
    }
});
