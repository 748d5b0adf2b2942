//! Read arbitrary bytes as a Berkeley DB btree file: open, iterate and look up keys.
//! Errors are expected; panics, hangs and huge allocations are bugs.

#![no_main]

use std::path::Path;

use cfmap_bdb::btree::Reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = Reader::from_bytes(Path::new("fuzz.db"), data.to_vec()) else {
        return;
    };
    let mut keys = Vec::new();
    for pair in r.iter() {
        match pair {
            Ok((k, _)) => {
                if keys.len() < 16 {
                    keys.push(k);
                }
            }
            Err(_) => break,
        }
    }
    for k in &keys {
        let _ = r.get(k);
    }
    let _ = r.get(b"");
    let _ = r.get(b"host0061.example.net");
});
