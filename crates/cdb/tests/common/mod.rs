//! Helpers shared by the cdb integration tests: the test vectors, tinycdb's input
//! formats, and the `cdb` tool.

#![allow(dead_code)]

#[allow(unused_imports)]
pub use cfmap_testkit::need_tool;

use std::path::{Path, PathBuf};

/// `/work/shared/testvectors` seen from the crate (override with `CFMAP_TESTVECTORS`).
pub fn vectors() -> PathBuf {
    if let Some(p) = std::env::var_os("CFMAP_TESTVECTORS") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testvectors")
}

/// Records in tinycdb's native format: `+KLEN,DLEN:KEY->DATA\n` …, then `\n`.
pub fn parse_native(mut s: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        assert!(!s.is_empty(), "native input without the final empty line");
        if s[0] == b'\n' {
            assert_eq!(s.len(), 1, "bytes after the final empty line");
            return out;
        }
        assert_eq!(s[0], b'+');
        let comma = s.iter().position(|&b| b == b',').unwrap();
        let colon = s.iter().position(|&b| b == b':').unwrap();
        let klen: usize = std::str::from_utf8(&s[1..comma]).unwrap().parse().unwrap();
        let dlen: usize = std::str::from_utf8(&s[comma + 1..colon])
            .unwrap()
            .parse()
            .unwrap();
        let k = &s[colon + 1..colon + 1 + klen];
        let rest = &s[colon + 1 + klen..];
        assert_eq!(&rest[..2], b"->");
        let d = &rest[2..2 + dlen];
        assert_eq!(rest[2 + dlen], b'\n');
        out.push((k.to_vec(), d.to_vec()));
        s = &rest[3 + dlen..];
    }
}

/// Records in the native format, as `cdb -d` prints them and `cdb -c` reads them.
pub fn to_native(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, d) in records {
        out.extend_from_slice(format!("+{},{}:", k.len(), d.len()).as_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(b"->");
        out.extend_from_slice(d);
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// Records of a `cdb -c -m` input (formats.md §4.6): leading blanks skipped, blank and
/// `#` lines skipped, key to the first space/tab, blanks skipped, value = rest of line.
pub fn parse_map(s: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let mut out = Vec::new();
    for line in s.split(|&b| b == b'\n') {
        let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
        let line = &line[start..];
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let kend = line.iter().position(blank).unwrap_or(line.len());
        let rest = &line[kend..];
        let vstart = rest.iter().position(|b| !blank(b)).unwrap_or(rest.len());
        out.push((line[..kend].to_vec(), rest[vstart..].to_vec()));
    }
    out
}

/// Drop every earlier occurrence of a repeated key (what `cdb -c -r` keeps).
pub fn keep_last(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    records
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| !records[i + 1..].iter().any(|(k2, _)| k2 == k))
        .map(|(_, r)| r.clone())
        .collect()
}
