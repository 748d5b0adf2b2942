//! Helpers shared by the `hash_*` tests (included with `#[path]`; as a test target of its
//! own it holds no tests).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

#[allow(unused_imports)]
pub use cfmap_testkit::{need_root, need_tool, sendmail_bt};
use std::process::{Command, Stdio};

/// The folder of the golden hash vectors: `$CFMAP_TESTVECTORS/hash`, by default
/// `shared/testvectors/hash` beside the repository (where CI puts `shared/`). Missing: same CI rule as [`need_tool`].
pub fn vectors() -> Option<PathBuf> {
    let base = std::env::var_os("CFMAP_TESTVECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testvectors")
        });
    let dir = base.join("hash");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "test vectors not found at {} (set CFMAP_TESTVECTORS)",
            dir.display()
        );
    }
    eprintln!("note: {} not found; skipping", dir.display());
    None
}

/// Runs a program, panicking with its output unless it exits 0; returns stdout.
pub fn run(dir: &Path, prog: &str, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Write from a thread so a full stdout pipe cannot deadlock us.
        std::thread::spawn(move || {
            let _ = s.write_all(&input);
        });
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A key/value pair.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Parses `db5.3_dump -p` output: header lines and the pairs in order.
pub fn parse_dump(text: &[u8]) -> (Vec<String>, Vec<Pair>) {
    let mut header = Vec::new();
    let mut items = Vec::new();
    let mut in_data = false;
    for line in text.split(|&b| b == b'\n') {
        if !in_data {
            if line == b"HEADER=END" {
                in_data = true;
            } else if !line.is_empty() {
                header.push(String::from_utf8_lossy(line).into_owned());
            }
            continue;
        }
        if line == b"DATA=END" {
            break;
        }
        assert_eq!(line.first(), Some(&b' '), "dump data line {line:?}");
        items.push(unescape(&line[1..]));
    }
    assert!(items.len() % 2 == 0, "odd number of dump items");
    let pairs = items
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    (header, pairs)
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            if s.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Renders pairs as `db5.3_dump -p` prints its data lines.
pub fn dump_lines(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        for item in [k, v] {
            out.push(b' ');
            for &b in item.iter() {
                if b == b'\\' {
                    out.extend_from_slice(b"\\\\");
                } else if (0x20..0x7f).contains(&b) {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("\\{b:02x}").as_bytes());
                }
            }
            out.push(b'\n');
        }
    }
    out
}

/// Renders pairs as `makemap -u` does: C strings (cut at a NUL), TAB, newline.
pub fn u_lines(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    let cut = |b: &[u8]| b.split(|&c| c == 0).next().unwrap_or(&[]).to_vec();
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = cut(k);
            l.push(b'\t');
            l.extend(cut(v));
            l
        })
        .collect()
}

/// Splits `makemap -u` output into lines.
pub fn split_u(out: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = out.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(
        v.pop(),
        Some(Vec::new()),
        "makemap -u output ends without newline"
    );
    v
}

/// Every pair of a reader, in order, panicking on an error; [`Reader::for_each_pair`]
/// must give the same pairs in the same order.
///
/// [`Reader::for_each_pair`]: cfmap_bdb::hash::Reader::for_each_pair
pub fn read_all(r: &cfmap_bdb::hash::Reader) -> Vec<(Vec<u8>, Vec<u8>)> {
    let pairs = r.iter().collect::<Result<Vec<_>, _>>().expect("iterate");
    let mut walked = Vec::with_capacity(pairs.len());
    r.for_each_pair(|k, v| {
        walked.push((k.to_vec(), v.to_vec()));
        true
    })
    .expect("walk");
    assert!(walked == pairs, "for_each_pair and iter differ");
    // Stopping early stops.
    let mut n = 0;
    r.for_each_pair(|_, _| {
        n += 1;
        false
    })
    .expect("walk");
    assert_eq!(n, pairs.len().min(1));
    pairs
}
