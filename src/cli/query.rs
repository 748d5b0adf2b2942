//! `cfmap query TYPE NAME KEY...`: look keys up in a map, as `postmap -q` does.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::maps::{self, Map, MapError, MapType};

/// sysexits EX_CANTCREAT: makemap's status for a map type it cannot handle.
const CANTCREAT: i32 = 73;

/// Look keys up in a map and print their values, like `postmap -q`.
///
/// Keys are folded to lower case (ASCII A-Z only) unless -f is given, as `cfmap makemap`
/// folds them when it builds the map, so `cfmap query hash access Example.COM` finds what
/// the source line `example.com OK` stored. With -N the key is looked up with a trailing
/// NUL byte, as `makemap -N` stores keys. A value is printed without the trailing NUL
/// that `makemap -N` adds, followed by a newline.
#[derive(Debug, Args)]
#[command(after_long_help = QUERY_AFTER_HELP)]
pub struct QueryArgs {
    /// Do not fold keys to lower case (the map was built with `makemap -f`).
    #[arg(short = 'f')]
    pub no_fold: bool,
    /// Look keys up with a trailing NUL byte (the map was built with `makemap -N`).
    #[arg(short = 'N')]
    pub nul: bool,
    /// Map type: btree, hash (or implicit), dbm or cdb.
    #[arg(value_name = "TYPE")]
    pub map_type: MapType,
    /// Map name, as given to makemap (suffixes are added as for makemap).
    #[arg(value_name = "NAME")]
    pub name: PathBuf,
    /// Keys to look up; `-` reads keys from standard input, one a line.
    #[arg(value_name = "KEY", required = true, allow_hyphen_values = true)]
    pub keys: Vec<OsString>,
}

const QUERY_AFTER_HELP: &str = "\
OUTPUT AND EXIT STATUS:
  One KEY: its value is printed on standard output; exit status 0 when the key is found,
  1 when it is not (nothing is printed).

  Several KEYs: the value of each key that is found is printed on its own line, in the
  order the keys were given; keys that are not found print nothing. Exit status 0 when
  every key was found, 1 when at least one was not. Use `-` to tell which values belong
  to which keys.

  KEY `-` (batch mode, as `postmap -q -`): keys are read from standard input, one a line
  (the newline, and a CR before it, are not part of the key). For each key that is found
  `KEY<TAB>VALUE` is printed, with KEY as it was read (before folding); keys that are not
  found print nothing. Exit status 0 when at least one key was found, 1 when none was.
  Other KEYs given with `-` are looked up first, in the same way.

  Other exit statuses: 66 when the map does not exist, 65 when it is damaged, 73 when
  its type is not supported, 74 on an I/O error (reading standard input, writing the
  output, or reading the map).

EXAMPLES:
    cfmap query hash /etc/mail/access example.com
    cut -f1 keys.txt | cfmap query btree /etc/mail/virtusertable -";

fn status_of(e: &MapError) -> i32 {
    match e {
        e if e.is_not_found() => exit::NOINPUT,
        MapError::Unsupported { .. } => CANTCREAT,
        MapError::Cdb { .. } | MapError::Format { .. } => exit::DATAERR,
        _ => exit::IOERR,
    }
}

/// The bytes looked up for `key`: folded unless `fold` is false, with a NUL if `nul`.
pub fn lookup_key(key: &[u8], fold: bool, nul: bool) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    if fold {
        k.make_ascii_lowercase();
    }
    if nul {
        k.push(0);
    }
    k
}

/// A value as printed: without the trailing NUL `makemap -N` stores.
fn printable(v: &[u8]) -> &[u8] {
    v.strip_suffix(b"\0").unwrap_or(v)
}

enum Failure {
    /// Already reported; exit with this status.
    Status(i32),
    /// Standard output is gone (broken pipe): stop quietly.
    Closed,
}

struct Query<'a, W: Write> {
    map: &'a dyn Map,
    fold: bool,
    nul: bool,
    out: W,
}

impl<W: Write> Query<'_, W> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
        self.map
            .get(&lookup_key(key, self.fold, self.nul))
            .map_err(|e| {
                eprintln!("cfmap: {e}");
                Failure::Status(status_of(&e))
            })
    }

    fn write(&mut self, parts: &[&[u8]]) -> Result<(), Failure> {
        for p in parts {
            if let Err(e) = self.out.write_all(p) {
                return Err(write_failure(&e));
            }
        }
        Ok(())
    }
}

fn write_failure(e: &std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::Closed
    } else {
        eprintln!("cfmap: standard output: {}", super::io_reason(e));
        Failure::Status(exit::IOERR)
    }
}

/// Look the command-line keys up (value lines), then the keys on standard input if `-`
/// was given (`KEY<TAB>VALUE` lines). Returns the exit status.
fn answer<W: Write>(q: &mut Query<'_, W>, keys: &[OsString]) -> Result<i32, Failure> {
    let batch = keys.iter().any(|k| k == "-");
    let mut found = 0usize;
    let mut asked = 0usize;
    for key in keys.iter().filter(|k| *k != "-") {
        let key = key.as_encoded_bytes();
        asked += 1;
        if let Some(v) = q.get(key)? {
            found += 1;
            if batch {
                q.write(&[key, b"\t", printable(&v), b"\n"])?;
            } else {
                q.write(&[printable(&v), b"\n"])?;
            }
        }
    }
    if !batch {
        return Ok(if found == asked {
            exit::OK
        } else {
            exit::FINDINGS
        });
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("cfmap: standard input: {}", super::io_reason(&e));
                return Err(Failure::Status(exit::IOERR));
            }
        }
        let mut key = line.as_slice();
        if let Some(k) = key.strip_suffix(b"\n") {
            key = k.strip_suffix(b"\r").unwrap_or(k);
        }
        if let Some(v) = q.get(key)? {
            found += 1;
            q.write(&[key, b"\t", printable(&v), b"\n"])?;
        }
    }
    Ok(if found > 0 { exit::OK } else { exit::FINDINGS })
}

pub fn run(a: QueryArgs) -> i32 {
    let map = match maps::open(a.map_type, &a.name) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cfmap: {e}");
            return status_of(&e);
        }
    };
    let stdout = std::io::stdout();
    let mut q = Query {
        map: map.as_ref(),
        fold: !a.no_fold,
        nul: a.nul,
        out: std::io::BufWriter::new(stdout.lock()),
    };
    let status = answer(&mut q, &a.keys);
    let flushed = q.out.flush().map_err(|e| write_failure(&e));
    match (status, flushed) {
        (Err(Failure::Status(s)), _) | (Ok(_), Err(Failure::Status(s))) => s,
        (Err(Failure::Closed), _) | (Ok(_), Err(Failure::Closed)) => exit::OK,
        (Ok(s), Ok(())) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_like_makemap() {
        assert_eq!(lookup_key(b"Example.COM", true, false), b"example.com");
        assert_eq!(lookup_key(b"Example.COM", false, false), b"Example.COM");
        assert_eq!(lookup_key(b"K\xc3\x89y", true, true), b"k\xc3\x89y\0");
    }

    #[test]
    fn trailing_nul_is_not_printed() {
        assert_eq!(printable(b"OK\0"), b"OK");
        assert_eq!(printable(b"OK"), b"OK");
        assert_eq!(printable(b""), b"");
    }
}
