//! Read arbitrary bytes as a Berkeley DB hash file: open, iterate every pair and look up
//! each key found plus a few fixed ones. None of it may panic, loop forever or allocate
//! more than the file's size; a key the iterator returned must be found by `get` unless
//! the file is corrupt (then `get` may fail, but not panic).
//! Seed the corpus with the golden `.db` files of `testvectors/hash`.

#![no_main]

use cfmap_bdb::hash::Reader;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = Reader::from_bytes(Path::new("fuzz.db"), data.to_vec()) else {
        return;
    };
    let mut keys = Vec::new();
    for item in r.iter().take(100_000) {
        match item {
            Ok((k, _)) => keys.push(k),
            Err(_) => break,
        }
    }
    for k in keys.iter().take(1000) {
        let _ = r.get(k);
    }
    for k in [&b""[..], b"a", b"natureplus.com", &[0u8; 3]] {
        let _ = r.get(k);
    }
});
