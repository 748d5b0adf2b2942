//! `cfmap dump TYPE NAME`: print a map's records, as `makemap -u` does.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::maps::{self, MapError, MapType};

/// Print every record of a map as `KEY<TAB>VALUE` lines, like `makemap -u`.
///
/// Records come in the format's order (cdb: insertion order; btree: key order; hash and
/// dbm: bucket order). As with makemap, keys and values are printed as C strings: each
/// stops at its first NUL byte, so a map built with `makemap -N` prints the same as one
/// built without it. For btree and hash maps the output is byte for byte that of
/// `makemap -u TYPE NAME`, duplicates (`makemap -d`) included.
#[derive(Debug, Args)]
#[command(after_long_help = DUMP_AFTER_HELP)]
pub struct DumpArgs {
    /// Accepted for makemap compatibility; no effect (the trailing NUL is never printed).
    #[arg(short = 'N')]
    pub nul: bool,
    /// Print this byte between key and value instead of a TAB (as `makemap -u -t C`).
    #[arg(short = 't', value_name = "C")]
    pub delimiter: Option<String>,
    /// Map type: btree, hash, dbm or cdb.
    #[arg(value_name = "TYPE")]
    pub map_type: MapType,
    /// Map name, as given to makemap (suffixes are added as for makemap).
    #[arg(value_name = "NAME")]
    pub name: PathBuf,
}

const DUMP_AFTER_HELP: &str = "\
EXIT STATUS:
  0    The map was printed.
  64   Usage error (a -t delimiter of more than one byte).
  65   The map is damaged.
  66   The map does not exist. (makemap -u says \"error opening type TYPE map NAME\"
       and exits 73 for both a missing and a damaged map.)
  73   The map type is not supported.
  74   Output cannot be written, or the map cannot be read.

EXAMPLES:
  cfmap dump hash /etc/mail/access
  cfmap dump btree /etc/mail/virtusertable | grep example.com";

fn c_string(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn status_of(e: &MapError) -> i32 {
    match e {
        e if e.is_not_found() => exit::NOINPUT,
        MapError::Unsupported { .. } => 73,
        MapError::Cdb { .. } | MapError::Format { .. } => exit::DATAERR,
        _ => exit::IOERR,
    }
}

pub fn run(a: DumpArgs) -> i32 {
    let sep = match a.delimiter.as_deref().map(str::as_bytes) {
        None | Some([]) => b'\t',
        Some([c]) => *c,
        Some(_) => {
            eprintln!("cfmap: -t: Invalid separator (one byte expected)");
            return exit::USAGE;
        }
    };
    let map = match maps::open(a.map_type, &a.name) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cfmap: {e}");
            return status_of(&e);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for record in map.iter() {
        let (k, v) = match record {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("cfmap: {e}");
                return status_of(&e);
            }
        };
        let line = [c_string(&k), &[sep], c_string(&v), b"\n"].concat();
        if let Err(e) = out.write_all(&line) {
            return closed_or_ioerr(&e);
        }
    }
    match out.flush() {
        Ok(()) => exit::OK,
        Err(e) => closed_or_ioerr(&e),
    }
}

/// A reader that stopped reading (`cfmap dump … | head`) is not an error.
fn closed_or_ioerr(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        exit::OK
    } else {
        exit::IOERR
    }
}
