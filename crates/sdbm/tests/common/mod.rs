//! Shared helpers for the sdbm integration tests: record formats, a small RNG, and
//! driving Perl's `SDBM_File` as the oracle.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cfmap_sdbm::{Error, Sdbm, StoreMode};

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Folder of the Perl-made vectors committed with this crate.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Parses the native cdb record format: `+KLEN,VLEN:KEY->VALUE\n`..., then `\n`.
pub fn parse_native(bytes: &[u8]) -> Pairs {
    let mut out = Vec::new();
    let mut pos = 0;
    while bytes.get(pos) == Some(&b'+') {
        let colon = pos + bytes[pos..].iter().position(|&b| b == b':').unwrap();
        let header = std::str::from_utf8(&bytes[pos + 1..colon]).unwrap();
        let (kl, vl) = header.split_once(',').unwrap();
        let (kl, vl): (usize, usize) = (kl.parse().unwrap(), vl.parse().unwrap());
        let k = colon + 1;
        let key = bytes[k..k + kl].to_vec();
        assert_eq!(&bytes[k + kl..k + kl + 2], b"->");
        let v = k + kl + 2;
        let value = bytes[v..v + vl].to_vec();
        assert_eq!(bytes[v + vl], b'\n');
        pos = v + vl + 1;
        out.push((key, value));
    }
    assert_eq!(
        &bytes[pos..],
        b"\n",
        "native records end with an empty line"
    );
    out
}

/// Parses make_sdbm.pl's text input: one record per line, empty and `#` lines skipped,
/// key up to the first blank or tab, value after the blanks and tabs that follow.
pub fn parse_text(bytes: &[u8]) -> Pairs {
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let key_end = line
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(line.len());
        let mut v = key_end;
        while v < line.len() && (line[v] == b' ' || line[v] == b'\t') {
            v += 1;
        }
        out.push((line[..key_end].to_vec(), line[v..].to_vec()));
    }
    // Perl's split drops trailing empty fields, i.e. nothing here: empty lines are
    // skipped anyway.
    out
}

/// Every pair of a database in iteration order; panics on an error.
pub fn contents(db: &Sdbm) -> Pairs {
    db.iter().collect::<Result<_, Error>>().expect("iterate")
}

/// A store or delete, replayed both by this crate and by Perl.
#[derive(Clone, Debug)]
pub enum Op {
    /// `$db{$k} = $v` (a replacing store).
    Store(Vec<u8>, Vec<u8>),
    /// `delete $db{$k}`.
    Delete(Vec<u8>),
}

/// Applies `ops` with this crate. Returns the indices of the stores that were refused
/// (pair too large, too many splits), which Perl must refuse too.
pub fn apply(db: &mut Sdbm, ops: &[Op], model: &mut BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<usize> {
    let mut refused = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Store(k, v) => match db.store(k, v, StoreMode::Replace) {
                Ok(true) => {
                    model.insert(k.clone(), v.clone());
                }
                Ok(false) => unreachable!("a replacing store always stores"),
                Err(Error::PairTooLarge { .. } | Error::TooManySplits { .. }) => {
                    // The old pair (if any) was deleted before the splits; as in Perl,
                    // a failed replacing store leaves the key out of the database
                    // whenever it got as far as splitting.
                    if matches!(db.fetch(k), Ok(None)) {
                        model.remove(k);
                    }
                    refused.push(i);
                }
                Err(e) => panic!("op {i}: {e}"),
            },
            Op::Delete(k) => {
                let was = db.delete(k).unwrap();
                assert_eq!(was, model.remove(k).is_some(), "op {i}: delete result");
            }
        }
    }
    refused
}

/// Whether Perl with `SDBM_File` is available. When it is not, a test that needs it
/// fails under `CI=true` (`.ci/run` provides Perl) and is skipped with a note elsewhere.
pub fn need_perl() -> bool {
    let ok = Command::new("perl")
        .args(["-MSDBM_File", "-e", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("perl with SDBM_File is required under CI=true (.ci/run provides it)");
        }
        eprintln!("note: perl with SDBM_File not found; skipping an oracle test");
    }
    ok
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &[u8]) -> Vec<u8> {
    s.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

fn run_perl(script: &str, args: &[&Path], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("perl")
        .arg("-e")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn perl");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait for perl");
    writer.join().unwrap().expect("feed perl");
    assert!(
        out.status.success(),
        "perl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Perl lists the database `base` (`base.dir` + `base.pag`) with `each`, as hex.
pub fn perl_dump(base: &Path) -> Pairs {
    const DUMP: &str = r#"
        use strict; use Fcntl; use SDBM_File;
        my %h;
        tie(%h, 'SDBM_File', $ARGV[0], O_RDONLY, 0) or die "tie: $!";
        while (my ($k, $v) = each %h) {
            print unpack('H*', $k), ' ', unpack('H*', $v), "\n";
        }
        untie %h;
    "#;
    let out = run_perl(DUMP, &[base], b"");
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let sp = line.iter().position(|&b| b == b' ').unwrap();
            (unhex(&line[..sp]), unhex(&line[sp + 1..]))
        })
        .collect()
}

/// Perl creates `base` and applies `ops` with hash assignments and `delete`. Returns the
/// indices of the stores Perl refused (it dies "sdbm store returned -1").
pub fn perl_apply(base: &Path, ops: &[Op]) -> Vec<usize> {
    const APPLY: &str = r#"
        use strict; use Fcntl; use SDBM_File;
        my %h;
        tie(%h, 'SDBM_File', $ARGV[0], O_RDWR | O_CREAT | O_TRUNC, 0666) or die "tie: $!";
        my $i = 0;
        while (my $line = <STDIN>) {
            chomp $line;
            my ($op, $k, $v) = split / /, $line;
            $k = pack('H*', substr($k, 1));
            if ($op eq 'S') {
                $v = pack('H*', substr($v, 1));
                eval { $h{$k} = $v; 1 } or print "$i\n";
            } else {
                delete $h{$k};
            }
            $i++;
        }
        untie %h;
    "#;
    let mut input = Vec::new();
    for op in ops {
        match op {
            Op::Store(k, v) => writeln!(input, "S x{} x{}", hex(k), hex(v)).unwrap(),
            Op::Delete(k) => writeln!(input, "D x{}", hex(k)).unwrap(),
        }
    }
    let out = run_perl(APPLY, &[base], &input);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// A small deterministic xorshift generator (no extra dependency).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
